/*
 * cmd_model_tune.c - `footanalytics model quantize` and `model prune`: the
 * two ways to make a detector cheaper, each judged on real frames.
 *
 * Both feed the network what it sees in production: the frames given are
 * cut into the same tiles the detector would run (tiles.c) and
 * preprocessed by the detector's own front end, so calibration ranges and
 * accuracy checks are those of football frames, not of ImageNet or noise.
 *
 * quantize calibrates per-tensor activation scales on those tiles
 * (percentile by default, entropy or min-max; src/nn/quant.c), then keeps
 * the few convolutions whose int8 version moves the outputs most in fp32
 * (a sensitivity pass on 16 of the tiles: on NanoDet-m the stage-2 entry
 * convs reading the stem's pooled output, whose per-tensor scale fits
 * channels of very different ranges, cost ~4 points of person AP alone),
 * and writes the INT8 model file (.fanq) that `detect --model X.fanq` runs.
 * The defaults (percentile 99.999, 2 convs kept fp32, up to 128 tiles: all
 * the pitch tiles of 10 frames) keep every AP figure of the labelled frames
 * within 1 point of FP32 at 0.46x its time (bench/RESULTS.md "INT8"; 4
 * convs kept gain ~0.5 point of person AP for 0.54x, because the next two
 * break int8 chains); entropy clips too much on these nets.
 *
 * prune removes the lowest-ranked output channels of the prunable
 * convolutions (src/nn/prune.c) and reports what it costs and gains: MACs
 * and parameters, the median time of whole runs before and after
 * (alternating, so the machine's noise is shared), the drift of the raw
 * outputs on the tiles (cosine, max abs) and, when the frames carry YOLO
 * labels, the AP@0.5 of person and ball before and after. It writes no
 * model: a pruned network is worth keeping only when the speed gain is real
 * and the accuracy holds, and the verdict line says whether that is so.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "nn/prune.h"
#include "video/image.h"
#include "vision/detector.h"
#include "vision/eval.h"
#include "vision/quantize.h"

#define MAX_IMAGE_ARGS 256

typedef struct tune_args {
    const char *model, *out, *backend, *tiles, *roi;
    char *images[MAX_IMAGE_ARGS];
    int n_images;
    int method, fp32_heads, fp32_convs, max_inputs, runs;
    double percentile, ratio;
} tune_args;

/* Frame i of the expanded --images paths, loaded. */
static int load_frame(void *user, size_t i, fa_image *img) {
    const fa_cli_paths *paths = user;
    return fa_image_load(paths->v[i], img);
}

/* The detector's tiles of every frame (fa_det_tiles_gather), at most max. */
static int gather_tiles(const fa_cli_paths *paths, const tune_args *a, fa_det_family fam, int net_w, int net_h,
                        size_t max, fa_det_tiles *out) {
    fa_tile_spec spec;
    int roi = 1;
    if (fa_tiles_parse(a->tiles, &spec) || fa_roi_parse(a->roi, &roi)) return fa_err_code();
    return fa_det_tiles_gather(fam, net_w, net_h, &spec, roi, load_frame, (void *)paths, paths->n, max, out);
}

/* The family and input size of the model at path, through the detector. */
static int probe_detector(const char *path, const char *backend, fa_det_family *fam, int *w, int *h) {
    fa_detector_options o = {.backend = backend};
    fa_detector *d = fa_detector_new(path, &o);
    if (!d) return fa_err_code();
    *fam = fa_detector_family(d);
    fa_detector_input_size(d, w, h);
    fa_detector_free(d);
    return 0;
}

/* ----------------------------------------------------------------- quantize */

static void quantize_help(FILE *out) {
    fprintf(out,
            "usage: footanalytics model quantize MODEL --images DIR|IMAGE [--images ...] [--method M]\n"
            "                     [--percentile P] [--fp32-heads] [--fp32-convs N] [--max-inputs N]\n"
            "                     [--tiles T] [--roi R] [--out FILE]\n"
            "\n"
            "Calibrates an INT8 version of MODEL (FastestDet, NanoDet or Darknet YOLO) on real frames: the\n"
            "frames are cut into the tiles the detector runs and preprocessed as it does; the range of\n"
            "every tensor a convolution reads or writes is recorded and turned into a per-tensor scale;\n"
            "weights get per-output-channel scales. Then a sensitivity pass (each convolution alone int8,\n"
            "the drift of the outputs from fp32 measured on up to 16 of the tiles) keeps the few\n"
            "convolutions whose quantisation hurts most in fp32. Writes the quantised model file that\n"
            "'footanalytics detect --model FILE.fanq' runs (it names its source model and checks its\n"
            "SHA-256, so keep the source where it was).\n"
            "\n"
            "options:\n"
            "  --images PATH     calibration frames: an image file or a directory of images (required;\n"
            "                    repeat for more)\n"
            "  --method M        percentile (default), entropy (KL divergence, 2048-bin histograms), minmax\n"
            "  --percentile P    with --method percentile: the percentile of |x| kept (default 99.999)\n"
            "  --fp32-heads      keep the detection-head convolutions in fp32\n"
            "  --fp32-convs N    keep the N most sensitive convolutions in fp32 (default 2; 0: none)\n"
            "  --max-inputs N    calibrate on at most N tiles, spread over all frames (default 128)\n"
            "  --tiles T         auto (default), RxC or none, as 'detect --tiles'\n"
            "  --roi R           auto (default) or none, as 'detect --roi': tiles of the pitch only\n"
            "  --out FILE        the .fanq file (default: MODEL's base name + .fanq, here)\n"
            "  --backend B       auto (default), native, onednn: the engine running the calibration\n"
            "  -h, --help        show this help\n");
}

static void print_report(const tune_args *a, const fa_cli_paths *paths, const fa_det_tiles *in,
                         const fa_quantize_report *r) {
    static const char *const names[] = {"minmax", "percentile", "entropy"};
    printf("calibrated %s on %zu tiles of %zu frames (%s, %.1f s)\n", fa_path_base(a->model), in->n, paths->n,
           names[a->method], r->calib_s);
    if (a->fp32_convs > 0) {
        printf("sensitivity on %zu tiles (%.1f s): output drift all int8 %.5f, with %d kept fp32 %.5f\n",
               r->probe_tiles, r->keep_s, r->keep.drift_int8, r->keep.kept, r->keep.drift_mixed);
        for (int i = 0; i < r->keep.kept; i++)
            printf("  kept fp32: %s (drift alone int8 %.5f)\n", r->kept_name[i], r->keep.drift[i]);
    }
    printf("wrote %s\n", a->out);
    printf("int8 convolutions: %zu, int8 tensors between operators: %zu, weights %.1f KiB\n", r->int8_convs,
           r->int8_tensors, (double)r->weight_bytes / 1024.0);
}

static int quantize(const tune_args *a) {
    fa_det_family fam = FA_DET_FASTESTDET;
    int w = 0, h = 0;
    if (probe_detector(a->model, a->backend, &fam, &w, &h)) return -1;
    fa_cli_paths paths = {0};
    fa_det_tiles in = {0};
    fa_quantize_report rep;
    fa_quantize_opts qo = {.backend = a->backend,
                           .method = a->method,
                           .percentile = a->percentile,
                           .fp32_heads = a->fp32_heads,
                           .fp32_convs = a->fp32_convs};
    int rc = fa_cli_paths_expand((char **)a->images, a->n_images, &paths);
    if (!rc) rc = gather_tiles(&paths, a, fam, w, h, (size_t)a->max_inputs, &in);
    if (!rc) rc = fa_quantize_detector(a->model, &in, &qo, a->out, &rep);
    if (!rc) print_report(a, &paths, &in, &rep);
    fa_det_tiles_free(&in);
    fa_cli_paths_free(&paths);
    return rc;
}

/* -------------------------------------------------------------------- prune */

static void prune_help(FILE *out) {
    fprintf(out,
            "usage: footanalytics model prune MODEL --ratio R [--method l1|bn] [--images DIR|IMAGE]...\n"
            "                                 [--runs N] [--tiles T] [--backend B]\n"
            "\n"
            "Removes the lowest-ranked fraction R of the output channels of every convolution whose\n"
            "channels can go (those read only by other convolutions) and reports what that costs and\n"
            "gains: MACs and parameters, the median time of whole runs before and after, the drift of\n"
            "the raw outputs (cosine, max abs) on the frames' tiles and, when the frames have YOLO labels\n"
            "(images/X.jpg -> labels/X.txt), person and ball AP@0.5 before and after. No model is\n"
            "written: the verdict says whether the speed gain is real and the accuracy holds.\n"
            "\n"
            "options:\n"
            "  --ratio R         fraction of each prunable convolution's channels removed, 0 < R < 1\n"
            "  --method M        l1 (default: L1 norm of each channel's weights) or bn (BatchNorm\n"
            "                    |gamma| where the graph still has one, L1 elsewhere)\n"
            "  --images PATH     frames for the accuracy check, a file or a directory (repeatable;\n"
            "                    default: none, a fixed random input)\n"
            "  --runs N          timed runs of each model (default 30)\n"
            "  --tiles T         auto (default), RxC or none, as 'detect --tiles'\n"
            "  --roi R           auto (default) or none, as 'detect --roi'\n"
            "  --backend B       auto (default), native, onednn\n"
            "  -h, --help        show this help\n");
}

static fa_nn_graph *load_graph(const char *path) {
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".cfg") == 0) {
        char weights[4096];
        snprintf(weights, sizeof weights, "%.*s.weights", (int)(n - 4), path);
        return fa_nn_darknet_load(path, weights);
    }
    return fa_nn_onnx_load(path);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ms of runs of a and b on input, alternating. */
static int time_pair(fa_nn_session *a, fa_nn_session *b, const float *input, int runs, double *ma, double *mb) {
    double *ta = fa_malloc((size_t)runs * sizeof *ta), *tb = fa_malloc((size_t)runs * sizeof *tb);
    int rc = ta && tb ? 0 : FA_ENOMEM;
    for (int i = -3; !rc && i < runs; i++) {
        double t0 = fa_clock_now();
        rc = fa_nn_run(a, input, NULL);
        double t1 = fa_clock_now();
        if (!rc) rc = fa_nn_run(b, input, NULL);
        if (i >= 0) ta[i] = (t1 - t0) * 1e3, tb[i] = (fa_clock_now() - t1) * 1e3;
    }
    if (!rc) {
        qsort(ta, (size_t)runs, sizeof *ta, cmp_double);
        qsort(tb, (size_t)runs, sizeof *tb, cmp_double);
        *ma = ta[runs / 2], *mb = tb[runs / 2];
    }
    free(ta);
    free(tb);
    return rc;
}

/* Cosine similarity and max abs difference of every output, over the inputs. */
static int drift(fa_nn_session *a, fa_nn_session *b, int n_out, const fa_det_tiles *in, double *cosine,
                 double *max_abs) {
    double dot = 0, na = 0, nb = 0;
    *max_abs = 0;
    for (size_t k = 0; k < in->n; k++) {
        if (fa_nn_run(a, in->v[k], NULL) || fa_nn_run(b, in->v[k], NULL)) return -1;
        for (int o = 0; o < n_out; o++) {
            int64_t sa[FA_NN_MAX_RANK], sb[FA_NN_MAX_RANK];
            int ra, rb;
            const float *ya = fa_nn_session_output(a, o, sa, &ra), *yb = fa_nn_session_output(b, o, sb, &rb);
            size_t n = 1;
            for (int i = 0; i < ra; i++)
                n *= (size_t)sa[i];
            for (size_t i = 0; i < n; i++) {
                dot += (double)ya[i] * yb[i], na += (double)ya[i] * ya[i], nb += (double)yb[i] * yb[i];
                double d = fabs((double)ya[i] - yb[i]);
                if (d > *max_abs) *max_abs = d;
            }
        }
    }
    *cosine = na > 0 && nb > 0 ? dot / sqrt(na * nb) : 1.0;
    return 0;
}

/* Person and ball AP@0.5 of a detector over labelled frames; *labelled 0 when none has labels. */
static int eval_ap(fa_detector *d, const fa_cli_paths *paths, double ap[2], int *labelled) {
    static const int yolo_to_coco[2] = {FA_COCO_PERSON, FA_COCO_SPORTS_BALL};
    fa_eval *e = fa_eval_new();
    int rc = e ? 0 : FA_ENOMEM;
    *labelled = 0;
    for (size_t i = 0; !rc && i < paths->n; i++) {
        char label[4096];
        if (fa_eval_label_path(paths->v[i], label, sizeof label) || !fa_cli_is_image(paths->v[i])) continue;
        fa_image img = {0};
        fa_detections dets = {0};
        fa_gt_box *gt = NULL;
        size_t n_gt = 0;
        if (fa_eval_read_yolo_labels(label, 1, 1, yolo_to_coco, 2, &gt, &n_gt)) {
            fa_err_clear(); /* no labels for this frame: not scored */
            continue;
        }
        free(gt);
        rc = fa_image_load(paths->v[i], &img);
        if (!rc) rc = fa_eval_read_yolo_labels(label, img.w, img.h, yolo_to_coco, 2, &gt, &n_gt);
        if (!rc) rc = fa_detector_run(d, &img, &dets, NULL);
        if (!rc) rc = fa_eval_add_image(e, dets.v, dets.n, gt, n_gt);
        *labelled += !rc;
        free(gt);
        fa_detections_free(&dets);
        fa_image_free(&img);
    }
    for (int c = 0; !rc && c < 2; c++) {
        fa_eval_class r;
        fa_eval_class_result(e, yolo_to_coco[c], &r);
        ap[c] = r.ap;
    }
    fa_eval_free(e);
    return rc;
}

typedef struct prune_run {
    fa_nn_model *base, *pruned;
    fa_nn_session *sb, *sp;
    fa_nn_prune_report rep;
    fa_det_tiles in;
    fa_cli_paths paths;
} prune_run;

static int prune_build(const tune_args *a, prune_run *p) {
    fa_nn_options no = {.backend = a->backend};
    fa_nn_graph *g = load_graph(a->model);
    if (!g || fa_nn_prune(g, (float)a->ratio, (fa_nn_prune_method)a->method, &p->rep)) {
        fa_nn_graph_free(g);
        return -1;
    }
    if (!(p->pruned = fa_nn_model_from_graph(g, &no)) || !(p->base = fa_nn_model_load(a->model, &no))) return -1;
    if (!(p->sb = fa_nn_session_new(p->base, 1)) || !(p->sp = fa_nn_session_new(p->pruned, 1))) return -1;
    if (a->n_images) {
        fa_det_family fam = FA_DET_FASTESTDET;
        int w = 0, h = 0;
        if (probe_detector(a->model, a->backend, &fam, &w, &h)) return -1;
        if (fa_cli_paths_expand((char **)a->images, a->n_images, &p->paths)) return -1;
        return gather_tiles(&p->paths, a, fam, w, h, 16, &p->in);
    }
    int64_t shape[FA_NN_MAX_RANK];
    int rank = fa_nn_model_input_shape(p->base, shape);
    size_t n = 1;
    for (int i = 1; i < rank; i++)
        n *= (size_t)shape[i];
    p->in.v = fa_calloc(1, sizeof *p->in.v);
    if (!p->in.v || !(p->in.v[0] = fa_malloc(n * sizeof(float)))) return FA_ENOMEM;
    p->in.n = 1;
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p->in.v[0][i] = (float)(x >> 8) / 16777216.0f;
    }
    return 0;
}

/* AP before and after on the labelled frames; prints them. *ap_loss gets the
 * worse of the two classes' losses in points (NAN when not measured). */
static int prune_ap(const tune_args *a, prune_run *p, double *ap_loss) {
    fa_tile_spec spec;
    int roi = 1;
    if (fa_tiles_parse(a->tiles, &spec) || fa_roi_parse(a->roi, &roi)) return -1;
    uint8_t classes[FA_COCO_CLASSES] = {0};
    classes[FA_COCO_PERSON] = classes[FA_COCO_SPORTS_BALL] = 1;
    fa_detector_options o = {.conf = 0.05f, .tiles = spec, .classes = classes, .roi = roi};
    double before[2], after[2];
    int labelled = 0;
    fa_detector *db = fa_detector_from_model(p->base, fa_path_base(a->model), &o);
    p->base = NULL; /* owned by db now */
    int rc = db ? eval_ap(db, &p->paths, before, &labelled) : -1;
    fa_detector_free(db);
    fa_detector *dp = rc ? NULL : fa_detector_from_model(p->pruned, "pruned", &o);
    p->pruned = NULL;
    if (!rc && labelled) rc = dp ? eval_ap(dp, &p->paths, after, &labelled) : -1;
    fa_detector_free(dp);
    *ap_loss = NAN;
    if (rc || !labelled) return rc;
    printf("AP@0.5 on %d labelled frames: person %.4f -> %.4f, ball %.4f -> %.4f\n", labelled, before[0],
           after[0], before[1], after[1]);
    for (int c = 0; c < 2; c++)
        if (!isnan(before[c])) *ap_loss = fmax(isnan(*ap_loss) ? 0 : *ap_loss, (before[c] - after[c]) * 100);
    return 0;
}

static int prune(const tune_args *a) {
    prune_run p = {0};
    double tb = 0, tp = 0, cosine = 1, max_abs = 0, ap_loss = NAN;
    int rc = prune_build(a, &p);
    if (!rc) rc = time_pair(p.sb, p.sp, p.in.v[0], a->runs, &tb, &tp);
    if (!rc) rc = drift(p.sb, p.sp, fa_nn_model_output_count(p.base), &p.in, &cosine, &max_abs);
    if (!rc) {
        const fa_nn_prune_report *r = &p.rep;
        printf("pruned %d of %d convolutions (%d prunable), channels %lld -> %lld\n", r->convs_pruned,
               r->convs_total, r->convs_prunable, (long long)r->channels_before, (long long)r->channels_after);
        printf("params %llu -> %llu, MACs %.1f M -> %.1f M (%.2fx)\n", (unsigned long long)r->params_before,
               (unsigned long long)r->params_after, (double)r->macs_before / 1e6, (double)r->macs_after / 1e6,
               r->macs_before ? (double)r->macs_after / (double)r->macs_before : 1.0);
        printf("time per run (median of %d, batch 1, 1 thread): %.2f ms -> %.2f ms (%.2fx)\n", a->runs, tb, tp,
               tb > 0 ? tp / tb : 1.0);
        printf("output drift on %zu input%s: cosine %.4f, max abs %.4g\n", p.in.n, p.in.n == 1 ? "" : "s", cosine,
               max_abs);
    }
    fa_nn_session_free(p.sb);
    fa_nn_session_free(p.sp);
    p.sb = p.sp = NULL;
    if (!rc && a->n_images) rc = prune_ap(a, &p, &ap_loss);
    if (!rc) {
        int faster = tp < 0.9 * tb, holds = isnan(ap_loss) ? cosine >= 0.99 : ap_loss <= 1.0;
        printf("verdict: %s (speed gain %s, accuracy %s)\n", faster && holds ? "worth keeping" : "not worth keeping",
               faster ? "real" : "under 10 %",
               holds ? "holds" : isnan(ap_loss) ? "drifts (cosine < 0.99)" : "drops by more than 1 AP point");
    }
    fa_nn_model_free(p.base);
    fa_nn_model_free(p.pruned);
    fa_det_tiles_free(&p.in);
    fa_cli_paths_free(&p.paths);
    return rc;
}

/* ------------------------------------------------------------------ options */

static int parse_method(const char *sub, const char *s, int *out) {
    static const char *const calib[] = {"minmax", "percentile", "entropy"};
    if (strcmp(sub, "prune") == 0) {
        if (strcmp(s, "l1") && strcmp(s, "bn")) return fa_cli_usage("model", "--method: '%s' is not l1 or bn", s);
        *out = strcmp(s, "bn") == 0 ? FA_NN_PRUNE_BN_GAMMA : FA_NN_PRUNE_L1;
        return 0;
    }
    for (int i = 0; i < 3; i++)
        if (strcmp(s, calib[i]) == 0) return *out = i, 0;
    return fa_cli_usage("model", "--method: '%s' is not entropy, percentile or minmax", s);
}

static int parse_tune(const char *sub, int argc, char **argv, tune_args *a, char *out_buf, size_t out_size) {
    static const struct option opts[] = {
        {"images", required_argument, 0, 'i'},  {"method", required_argument, 0, 'm'},
        {"percentile", required_argument, 0, 'p'}, {"fp32-heads", no_argument, 0, 'H'},
        {"max-inputs", required_argument, 0, 'n'}, {"tiles", required_argument, 0, 't'},
        {"out", required_argument, 0, 'o'},     {"backend", required_argument, 0, 'b'},
        {"roi", required_argument, 0, 'I'},     {"fp32-convs", required_argument, 0, 'K'},
        {"ratio", required_argument, 0, 'r'},   {"runs", required_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    *a = (tune_args){.backend = "auto", .tiles = "auto", .roi = "auto",
                     .method = strcmp(sub, "prune") ? FA_NN_CALIB_PERCENTILE : 0,
                     .percentile = FA_QUANTIZE_PERCENTILE, .fp32_convs = FA_QUANTIZE_FP32_CONVS,
                     .max_inputs = FA_QUANTIZE_MAX_TILES, .runs = 30};
    int c;
    char *end;
    optind = 0; /* glibc: a full re-initialisation (the command line was scanned before) */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            if (a->n_images == MAX_IMAGE_ARGS) return fa_cli_usage("model", "more than %d --images", MAX_IMAGE_ARGS);
            a->images[a->n_images++] = optarg;
            break;
        case 'm':
            if (parse_method(sub, optarg, &a->method)) return FA_EXIT_USAGE;
            break;
        case 'p':
            a->percentile = strtod(optarg, &end);
            if (*end || !(a->percentile > 50 && a->percentile <= 100))
                return fa_cli_usage("model", "--percentile: '%s' is not in (50, 100]", optarg);
            break;
        case 'H': a->fp32_heads = 1; break;
        case 'n':
            a->max_inputs = (int)strtol(optarg, &end, 10);
            if (*end || a->max_inputs < 1 || a->max_inputs > 10000)
                return fa_cli_usage("model", "--max-inputs: '%s' is not a count from 1 to 10000", optarg);
            break;
        case 'K':
            a->fp32_convs = (int)strtol(optarg, &end, 10);
            if (*end || a->fp32_convs < 0 || a->fp32_convs > FA_NN_KEEP_MAX)
                return fa_cli_usage("model", "--fp32-convs: '%s' is not a count from 0 to %d", optarg,
                                    FA_NN_KEEP_MAX);
            break;
        case 't': a->tiles = optarg; break;
        case 'I': a->roi = optarg; break;
        case 'o': a->out = optarg; break;
        case 'b': a->backend = optarg; break;
        case 'r':
            a->ratio = strtod(optarg, &end);
            if (*end || !(a->ratio > 0 && a->ratio < 1)) return fa_cli_usage("model", "--ratio: '%s' is not in (0, 1)", optarg);
            break;
        case 'R':
            a->runs = (int)strtol(optarg, &end, 10);
            if (*end || a->runs < 1 || a->runs > 100000)
                return fa_cli_usage("model", "--runs: '%s' is not a count from 1 to 100000", optarg);
            break;
        case 'h': strcmp(sub, "prune") ? quantize_help(stdout) : prune_help(stdout); return -2;
        default: return fa_cli_usage("model", "bad option");
        }
    }
    if (optind >= argc) return fa_cli_usage("model", "%s: missing MODEL", sub);
    a->model = argv[optind++];
    if (optind < argc) return fa_cli_usage("model", "unexpected argument '%s'", argv[optind]);
    if (strcmp(sub, "quantize") == 0 && !a->n_images)
        return fa_cli_usage("model", "quantize needs calibration frames (--images DIR|IMAGE...)");
    if (strcmp(sub, "prune") == 0 && a->ratio <= 0) return fa_cli_usage("model", "prune needs --ratio R");
    if (!a->out) {
        const char *base = fa_path_base(a->model), *dot = strrchr(base, '.');
        snprintf(out_buf, out_size, "%.*s.fanq", dot ? (int)(dot - base) : (int)strlen(base), base);
        a->out = out_buf;
    }
    return 0;
}

int fa_cmd_model_tune(const char *sub, int argc, char **argv) {
    tune_args a;
    char out[4096], model[4096];
    int rc = parse_tune(sub, argc, argv, &a, out, sizeof out);
    if (rc == -2) return FA_EXIT_OK;
    if (rc) return rc;
    a.model = fa_cli_model_path(a.model, model, sizeof model);
    rc = strcmp(sub, "prune") == 0 ? prune(&a) : quantize(&a);
    return rc ? fa_cli_fail("model") : FA_EXIT_OK;
}
