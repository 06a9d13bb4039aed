/*
 * cmd_model.c - `footanalytics model info|bench ...`: what a detector model
 * is and how fast it runs here, through the same engine the detector uses
 * (src/nn). `info` loads and simplifies the graph and prints what the
 * passes did and what the model costs; `bench` times whole runs on this
 * machine (warm-up first, then the median and the 90th percentile, because
 * a shared machine's mean is dominated by its worst moments).
 *
 * The side-by-side comparison with ONNX Runtime lives in bench/bench_nn.c;
 * this command answers the user's question "how fast on my box?".
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn/kernels.h"
#include "nn/nn.h"

typedef struct model_args {
    const char *sub, *path, *backend;
    int precision, threads, batch, runs, json;
} model_args;

static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics model info  MODEL [--backend B] [--precision P] [--json]\n"
            "       footanalytics model bench MODEL [--backend B] [--precision P] [--threads N]\n"
            "                                       [--batch N] [--runs N] [--json]\n"
            "       footanalytics model quantize MODEL --images DIR|IMAGE ... (see model quantize --help)\n"
            "       footanalytics model prune MODEL --ratio R ...             (see model prune --help)\n"
            "\n"
            "  info    load MODEL (.onnx, a Darknet .cfg with its .weights beside it) and print its\n"
            "          inputs, outputs, operators, parameters, multiply-accumulates and what the\n"
            "          load-time passes did (constant folding, BatchNorm folding, activation fusion)\n"
            "  bench   time whole inference runs on a fixed pseudo-random input: warm-up, then the\n"
            "          median and 90th percentile milliseconds per run and per image\n"
            "\n"
            "options:\n"
            "  --backend B     auto (default: native), native, onednn, cuda\n"
            "  --precision P   fp32 (default), int8, fp16\n"
            "  --threads N     threads per run (default 1)\n"
            "  --batch N       images per run (default 1)\n"
            "  --runs N        timed runs after 3 warm-up runs (default 50)\n"
            "  --json          one JSON object on stdout instead of text\n"
            "  -h, --help      show this help\n"
            "\n"
            "exit status: 0 ok, 1 usage, 2 bad model file or option, 3 runtime failure\n");
}

static int parse_count(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, model_args *a) {
    static const struct option opts[] = {{"backend", required_argument, 0, 'b'},
                                         {"precision", required_argument, 0, 'p'},
                                         {"threads", required_argument, 0, 't'},
                                         {"batch", required_argument, 0, 'n'},
                                         {"runs", required_argument, 0, 'r'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    *a = (model_args){.backend = "auto", .threads = 1, .batch = 1, .runs = 50};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': a->backend = optarg; break;
        case 'p':
            if (fa_cli_precision_parse(optarg, &a->precision))
                return fa_cli_usage("model", "--precision: '%s' is not fp32, int8 or fp16", optarg);
            break;
        case 't':
            if (parse_count(optarg, 1, 256, &a->threads))
                return fa_cli_usage("model", "--threads: '%s' is not a count from 1 to 256", optarg);
            break;
        case 'n':
            if (parse_count(optarg, 1, 1024, &a->batch))
                return fa_cli_usage("model", "--batch: '%s' is not a count from 1 to 1024", optarg);
            break;
        case 'r':
            if (parse_count(optarg, 1, 100000, &a->runs))
                return fa_cli_usage("model", "--runs: '%s' is not a count from 1 to 100000", optarg);
            break;
        case 'j': a->json = 1; break;
        case 'h': help(stdout); return -2;
        default: return fa_cli_usage("model", "bad option");
        }
    }
    if (optind >= argc) return fa_cli_usage("model", "missing subcommand (info or bench)");
    a->sub = argv[optind++];
    if (strcmp(a->sub, "info") && strcmp(a->sub, "bench"))
        return fa_cli_usage("model", "unknown subcommand '%s' (info or bench)", a->sub);
    if (optind >= argc) return fa_cli_usage("model", "missing MODEL file");
    a->path = argv[optind++];
    if (optind < argc) return fa_cli_usage("model", "unexpected argument '%s'", argv[optind]);
    return 0;
}

static void print_shape(FILE *out, const int64_t *d, int rank) {
    for (int i = 0; i < rank; i++)
        fprintf(out, "%s%lld", i ? "x" : "", (long long)d[i]);
}

static void info_text(const fa_nn_model *m, const char *path) {
    const fa_nn_graph *g = fa_nn_model_graph(m);
    fa_nn_info in;
    fa_nn_model_info(m, &in);
    printf("model:    %s\nbackend:  %s\n", path, in.backend);
    for (int i = 0; i < fa_nn_graph_input_count(g); i++) {
        const fa_nn_tensor *t = fa_nn_graph_tensor(g, fa_nn_graph_input(g, i));
        printf("input:    %s ", t->name);
        print_shape(stdout, t->shape, t->rank);
        printf("\n");
    }
    for (int i = 0; i < fa_nn_graph_output_count(g); i++) {
        const fa_nn_tensor *t = fa_nn_graph_tensor(g, fa_nn_graph_output(g, i));
        printf("output:   %s ", t->name);
        print_shape(stdout, t->shape, t->rank);
        printf("\n");
    }
    printf("nodes:    %zu after the passes (", in.nodes);
    for (int op = 0, first = 1; op < FA_NN_OP_COUNT; op++) {
        if (!in.op_counts[op]) continue;
        printf("%s%s %zu", first ? "" : ", ", fa_nn_op_name((fa_nn_op)op), in.op_counts[op]);
        first = 0;
    }
    if (in.fused_shuffles) printf(", channel shuffle %zu", in.fused_shuffles);
    printf(")\nparams:   %zu\nMACs:     %.1f M per image\n", in.params, (double)in.macs / 1e6);
    printf("passes:   %zu constant nodes folded, %zu BatchNorm folded, %zu activations fused, %zu channel "
           "shuffles fused\n",
           in.folded_constants, in.fused_batchnorm, in.fused_act, in.fused_shuffles);
    printf("weights:  %.1f KiB as the backend holds them\n", (double)in.weight_bytes / 1024.0);
    printf("precision: %s", fa_cli_precision_name(in.precision));
    if (in.precision == FA_NN_INT8)
        printf(" (%zu convolutions int8, %zu tensors kept int8 between operators)", in.int8_convs,
               in.int8_tensors);
    printf("\n");
}

static void info_json(const fa_nn_model *m, const char *path) {
    fa_nn_info in;
    fa_nn_model_info(m, &in);
    fa_buf b = {0};
    fa_buf_puts(&b, "{\"model\":");
    fa_json_write_str(&b, path);
    fa_buf_puts(&b, ",\"backend\":");
    fa_json_write_str(&b, in.backend);
    fa_buf_printf(&b, ",\"nodes\":%zu,\"ops\":{", in.nodes);
    for (int op = 0, first = 1; op < FA_NN_OP_COUNT; op++) {
        if (!in.op_counts[op]) continue;
        fa_buf_printf(&b, "%s\"%s\":%zu", first ? "" : ",", fa_nn_op_name((fa_nn_op)op), in.op_counts[op]);
        first = 0;
    }
    fa_buf_printf(&b,
                  "},\"params\":%zu,\"macs\":%llu,\"folded_constants\":%zu,\"fused_batchnorm\":%zu,"
                  "\"fused_act\":%zu,\"fused_shuffles\":%zu,\"weight_bytes\":%zu,\"precision\":\"%s\",\"int8_convs\":%zu,"
                  "\"int8_tensors\":%zu}\n",
                  in.params, (unsigned long long)in.macs, in.folded_constants, in.fused_batchnorm,
                  in.fused_act, in.fused_shuffles, in.weight_bytes,
                  fa_cli_precision_name(in.precision),
                  in.int8_convs, in.int8_tensors);
    fwrite(b.data, 1, b.len, stdout);
    fa_buf_free(&b);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times a.runs runs after 3 warm-up runs; fills ms[] sorted. */
static int time_runs(fa_nn_session *s, const float *input, int runs, double *ms) {
    for (int i = 0; i < 3 + runs; i++) {
        double t0 = fa_clock_now();
        if (fa_nn_run(s, input, NULL)) return -1;
        if (i >= 3) ms[i - 3] = (fa_clock_now() - t0) * 1e3;
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    return 0;
}

static int bench(const fa_nn_model *m, const model_args *a) {
    int64_t shape[FA_NN_MAX_RANK];
    int rank = fa_nn_model_input_shape(m, shape);
    size_t per_image = 1;
    for (int i = 1; i < rank; i++)
        per_image *= (size_t)shape[i];
    size_t n = per_image * (size_t)a->batch;
    float *input = malloc(n * sizeof *input);
    double *ms = malloc((size_t)a->runs * sizeof *ms);
    fa_nn_session *s = input && ms ? fa_nn_session_new(m, a->batch) : NULL;
    int rc = s ? 0 : -1;
    uint32_t x = 2463534242u; /* xorshift32: the same input every time */
    for (size_t i = 0; !rc && i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        input[i] = (float)(x >> 8) / 16777216.0f;
    }
    if (!rc) rc = time_runs(s, input, a->runs, ms);
    if (!rc) {
        double med = ms[a->runs / 2], p90 = ms[(a->runs * 9) / 10 < a->runs ? (a->runs * 9) / 10 : a->runs - 1];
        fa_nn_info in;
        fa_nn_model_info(m, &in);
        if (a->json) {
            fa_buf b = {0};
            fa_buf_puts(&b, "{\"model\":");
            fa_json_write_str(&b, a->path);
            fa_buf_printf(&b,
                          ",\"backend\":\"%s\",\"threads\":%d,\"batch\":%d,\"runs\":%d,\"median_ms\":%.3f,"
                          "\"p90_ms\":%.3f,\"median_ms_per_image\":%.3f,\"peak_bytes\":%zu}\n",
                          in.backend, a->threads, a->batch, a->runs, med, p90, med / a->batch,
                          fa_nn_session_peak_bytes(s));
            fwrite(b.data, 1, b.len, stdout);
            fa_buf_free(&b);
        }
        else
            printf("%s on %s, %d thread%s, batch %d, %d runs: median %.2f ms (%.2f ms per image), "
                   "p90 %.2f ms, working memory %.1f MiB\n",
                   a->path, in.backend, a->threads, a->threads == 1 ? "" : "s", a->batch, a->runs, med,
                   med / a->batch, p90, (double)fa_nn_session_peak_bytes(s) / 1048576.0);
    }
    fa_nn_session_free(s);
    free(input);
    free(ms);
    return rc;
}

int fa_cmd_model(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "quantize") == 0 || strcmp(argv[1], "prune") == 0))
        return fa_cmd_model_tune(argv[1], argc - 1, argv + 1);
    model_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == -2) return FA_EXIT_OK;
    if (rc) return rc;
    char model_buf[4096];
    a.path = fa_cli_model_path(a.path, model_buf, sizeof model_buf);
    fa_nn_options o = {.backend = a.backend, .precision = a.precision, .threads = a.threads};
    fa_nn_model *m = fa_nn_model_load(a.path, &o);
    if (!m) return fa_cli_fail("model");
    if (strcmp(a.sub, "info") == 0) {
        if (a.json) info_json(m, a.path);
        else info_text(m, a.path);
    } else if (bench(m, &a)) {
        rc = fa_cli_fail("model");
    }
    fa_nn_model_free(m);
    return rc;
}
