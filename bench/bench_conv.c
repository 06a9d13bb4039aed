/*
 * bench_conv.c - times the native convolution backend (src/nn/native.c)
 * against a naive direct convolution on representative layer shapes of
 * NanoDet-m at 416x416 (ShuffleNetV2 1.0x backbone), on 1 and 2 threads,
 * FP32 and FP16 weights, and prints GFLOP/s (2 flops per multiply-add)
 * and the speed-up over the naive loops.
 *
 * Threads come from a small persistent pthread pool (see below); it
 * also reports the critical path of the 2-thread split.
 *
 * --model FILE: every Conv of a real model (ONNX, or Darknet .cfg with its
 * .weights beside it), prepared as the runtime prepares it (folded,
 * fused, batch 1), timed alone on the native and the oneDNN backend at
 * 1 thread (best of the runs), then the whole model on each backend
 * (median of the runs): where a model's time goes, per layer, and which
 * backend wins each layer; then the native run's CPU time per op kind and
 * its 24 slowest nodes with their input and output shapes (the shapes
 * say which fast path of ops.c a node needs). -n RUNS sets the runs
 * (default 30).
 *
 * Usage: bench_conv [min_seconds_per_case]   (default 0.3)
 *        bench_conv --model FILE [-n RUNS]
 * FA_NN_NATIVE_ISA=generic times the portable kernels instead of AVX2.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "nn/nn_internal.h"

/* ---- a persistent pool ----
 * Workers sleep on a condition variable between for_each calls. On a
 * shared, oversubscribed VM waking a worker can take as long as a small
 * layer, so besides the wall time the pool records each thread's busy
 * time per for_each: the larger of the two ("crit") is the 2-thread time
 * the kernels' work split allows, free of scheduling delays. */

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pthread_t tid;
    int has_worker;
    unsigned long gen;
    int active, quit;
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t n;
    double busy[2]; /* seconds of fn per thread in the last for_each */
} pool;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Thread who runs indices who, who + 2, ...: a fixed assignment, so the
 * busy times show the kernels' split even when one thread wakes late. */
static void pool_drain(pool *p, int who) {
    double busy = 0;
    for (size_t i = (size_t)who; i < p->n; i += 2) {
        double t0 = now();
        p->fn(p->arg, i);
        busy += now() - t0;
    }
    p->busy[who] = busy;
}

static void *pool_worker(void *v) {
    pool *p = v;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        pool_drain(p, 1);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pool_for_each(void *ud, size_t n, void (*fn)(void *arg, size_t i), void *arg) {
    pool *p = ud;
    pthread_mutex_lock(&p->mu);
    p->fn = fn, p->arg = arg, p->n = n, p->active = p->has_worker, p->gen++;
    p->busy[1] = 0;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    pool_drain(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* Starts one worker besides the caller. */
static void pool_start(pool *p) {
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (pthread_create(&p->tid, NULL, pool_worker, p) != 0) {
        fprintf(stderr, "bench_conv: cannot start a thread\n");
        exit(1);
    }
    p->has_worker = 1;
}

static void pool_stop(pool *p) {
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    if (p->has_worker) pthread_join(p->tid, NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
}

/* ---- the naive convolution ---- */

static void naive_conv(const fa_nn_conv_params *p, const float *in, const float *w, const float *bias,
                       float *out) {
    int cin_g = p->c_in / p->groups, cout_g = p->c_out / p->groups;
    for (int b = 0; b < p->n; b++)
        for (int oc = 0; oc < p->c_out; oc++)
            for (int oy = 0; oy < p->h_out; oy++)
                for (int ox = 0; ox < p->w_out; ox++) {
                    float acc = bias[oc];
                    for (int ci = 0; ci < cin_g; ci++)
                        for (int ky = 0; ky < p->kh; ky++)
                            for (int kx = 0; kx < p->kw; kx++) {
                                int iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
                                int ix = ox * p->stride_w - p->pad_l + kx * p->dil_w;
                                if (iy < 0 || iy >= p->h_in || ix < 0 || ix >= p->w_in) continue;
                                int ic = oc / cout_g * cin_g + ci;
                                acc += in[(((size_t)b * p->c_in + ic) * p->h_in + iy) * p->w_in + ix] *
                                       w[(((size_t)oc * cin_g + ci) * p->kh + ky) * p->kw + kx];
                            }
                    *out++ = acc > 0 ? acc : 0;
                }
}

/* ---- timing ---- */

typedef struct layer {
    const char *name;
    int c_in, hw, c_out, k, stride, groups;
} layer;

static fa_nn_conv_params layer_params(const layer *l) {
    int pad = l->k / 2, out = (l->hw + 2 * pad - l->k) / l->stride + 1;
    return (fa_nn_conv_params){.n = 1, .c_in = l->c_in, .h_in = l->hw, .w_in = l->hw, .c_out = l->c_out,
                               .h_out = out, .w_out = out, .kh = l->k, .kw = l->k, .stride_h = l->stride,
                               .stride_w = l->stride, .dil_h = 1, .dil_w = 1, .pad_t = pad, .pad_l = pad,
                               .pad_b = pad, .pad_r = pad, .groups = l->groups, .act = FA_NN_ACT_RELU};
}

/* Seconds per run of the native op (best of runs over min_s). With a pool
 * (pl not NULL), *crit gets the best critical path (see pool). */
static double time_native(const fa_nn_conv_params *p, fa_nn_precision prec, const float *in, const float *w,
                          const float *bias, float *out, pool *pl, double *crit, double min_s) {
    fa_nn_parallel par2 = {pool_for_each, pl, 2}, *par = pl ? &par2 : NULL;
    const fa_nn_backend *be = fa_nn_backend_native();
    fa_nn_conv *c = be->conv_prepare(p, prec, w, bias, NULL);
    if (!c) {
        fprintf(stderr, "bench_conv: %s\n", fa_err_msg());
        exit(1);
    }
    void *ws = malloc(be->conv_workspace(c, par));
    double best = 1e9, best_crit = 1e9, start = now();
    int reps = 0;
    while (now() - start < min_s || reps < 5) {
        double t0 = now();
        be->conv_run(c, in, out, ws, par);
        double dt = now() - t0, path = pl ? (pl->busy[0] > pl->busy[1] ? pl->busy[0] : pl->busy[1]) : dt;
        if (dt < best) best = dt;
        if (path < best_crit) best_crit = path;
        reps++;
    }
    if (crit) *crit = best_crit;
    free(ws);
    be->conv_free(c);
    return best;
}

static double time_naive(const fa_nn_conv_params *p, const float *in, const float *w, const float *bias,
                         float *out) {
    double best = 1e9;
    for (int r = 0; r < 2; r++) {
        double t0 = now();
        naive_conv(p, in, w, bias, out);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

static float *filled(size_t n) {
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return v;
}

static void bench_layer(const layer *l, double min_s) {
    fa_nn_conv_params p = layer_params(l);
    size_t in_n = (size_t)p.c_in * p.h_in * p.w_in, out_n = (size_t)p.c_out * p.h_out * p.w_out;
    size_t w_n = (size_t)p.c_out * (p.c_in / p.groups) * p.kh * p.kw;
    float *in = filled(in_n), *w = filled(w_n), *bias = filled((size_t)p.c_out), *out = malloc(out_n * 4);
    double gflop = 2.0 * (double)out_n * (double)(p.c_in / p.groups) * p.kh * p.kw * 1e-9;
    double t_naive = time_naive(&p, in, w, bias, out);
    double t1 = time_native(&p, FA_NN_FP32, in, w, bias, out, NULL, NULL, min_s), crit;
    pool pl;
    pool_start(&pl);
    double t2 = time_native(&p, FA_NN_FP32, in, w, bias, out, &pl, &crit, min_s);
    pool_stop(&pl);
    double h1 = time_native(&p, FA_NN_FP16, in, w, bias, out, NULL, NULL, min_s);
    printf("%-26s %6.4f %6.2f %7.2f %7.2f %7.2f %7.2f %6.0fx %6.3f %6.3f %6.3f\n", l->name, gflop,
           gflop / t_naive, gflop / t1, gflop / t2, gflop / crit, gflop / h1, t_naive / t1, t1 * 1e3,
           t2 * 1e3, crit * 1e3);
    free(in), free(w), free(bias), free(out);
}

/* ---- --model: the convolutions of a real model ----
 * Timed in CPU seconds of the calling thread (1 thread throughout), which
 * other processes on this shared machine do not inflate. */

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Node nd's conv parameters at batch 1, as runtime.c derives them. */
static fa_nn_conv_params node_params(const fa_nn_graph *g, const fa_nn_node *nd) {
    const fa_nn_tensor *x = fa_nn_graph_tensor(g, nd->in[0]), *y = fa_nn_graph_tensor(g, nd->out[0]);
    const fa_nn_tensor *w = fa_nn_graph_tensor(g, nd->in[1]);
    return (fa_nn_conv_params){
        .n = 1, .c_in = (int)x->shape[1], .h_in = (int)x->shape[2], .w_in = (int)x->shape[3],
        .c_out = (int)y->shape[1], .h_out = (int)y->shape[2], .w_out = (int)y->shape[3],
        .kh = (int)w->shape[2], .kw = (int)w->shape[3], .stride_h = nd->a.strides[0],
        .stride_w = nd->a.strides[1], .dil_h = nd->a.dilations[0], .dil_w = nd->a.dilations[1],
        .pad_t = nd->a.pads[0], .pad_l = nd->a.pads[1], .pad_b = nd->a.pads[2], .pad_r = nd->a.pads[3],
        .groups = nd->a.group, .act = (fa_nn_act)nd->act, .alpha = nd->act_alpha};
}

/* Best seconds of one run of backend be on p (runs runs); -1 when it
 * refuses the shape. */
static double time_backend(const fa_nn_backend *be, const fa_nn_conv_params *p, const float *w,
                           const float *bias, const float *in, float *out, int runs) {
    if (!be) return -1;
    fa_nn_conv *c = be->conv_prepare(p, FA_NN_FP32, w, bias, NULL);
    if (!c) return -1;
    void *ws = malloc(be->conv_workspace(c, NULL) + 64);
    double best = 1e9;
    for (int r = 0; r < runs + 2; r++) {
        double t0 = cpu_now();
        be->conv_run(c, in, out, ws, NULL);
        double dt = cpu_now() - t0;
        if (r >= 2 && dt < best) best = dt;
    }
    free(ws);
    be->conv_free(c);
    return best;
}

/* Median ms of a whole run of the model at path on backend name. */
static double time_model(const char *path, const char *backend, const float *input, int runs) {
    fa_nn_model *m = fa_nn_model_load(path, &(fa_nn_options){.backend = backend});
    fa_nn_session *s = m ? fa_nn_session_new(m, 1) : NULL;
    if (!s) {
        fprintf(stderr, "bench_conv: %s: %s\n", backend, fa_err_msg());
        fa_nn_model_free(m);
        return -1;
    }
    double *t = malloc(sizeof *t * (size_t)runs);
    fa_nn_run(s, input, NULL);
    for (int r = 0; r < runs; r++) {
        double t0 = cpu_now();
        fa_nn_run(s, input, NULL);
        t[r] = cpu_now() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    double med = t[runs / 2] * 1e3;
    free(t);
    fa_nn_session_free(s);
    fa_nn_model_free(m);
    return med;
}

/* Per op kind CPU time of whole runs: fa_nn_run_observe calls back after
 * every node, so the time between two calls is the node's. */
typedef struct op_clock {
    int *producer_op;   /* per tensor: the op of the node writing it, -1 */
    int *producer_node; /* per tensor: the node writing it */
    double *per_node;   /* per node */
    double last, per_op[FA_NN_OP_COUNT];
} op_clock;

static void op_tick(void *ud, int tensor, const float *data, size_t n) {
    (void)data, (void)n;
    op_clock *oc = ud;
    double t = cpu_now();
    if (oc->producer_op[tensor] >= 0) {
        oc->per_op[oc->producer_op[tensor]] += t - oc->last;
        oc->per_node[oc->producer_node[tensor]] += t - oc->last;
    }
    oc->last = cpu_now();
}

static void print_shape(const fa_nn_shape *s) {
    for (int i = 0; i < s->rank; i++) printf("%s%lld", i ? "x" : "", (long long)s->d[i]);
}

static void print_op_times(const char *path, const float *input, int runs) {
    fa_nn_model *m = fa_nn_model_load(path, &(fa_nn_options){.backend = "native"});
    fa_nn_session *s = m ? fa_nn_session_new(m, 1) : NULL;
    if (!s) {
        fa_nn_model_free(m);
        return;
    }
    const fa_nn_graph *g = fa_nn_model_graph(m);
    size_t nn = fa_nn_graph_node_count(g);
    op_clock oc = {.producer_op = malloc(sizeof(int) * fa_nn_graph_tensor_count(g)),
                   .producer_node = malloc(sizeof(int) * fa_nn_graph_tensor_count(g)),
                   .per_node = calloc(nn, sizeof(double))};
    for (size_t i = 0; i < fa_nn_graph_tensor_count(g); i++) oc.producer_op[i] = -1;
    for (size_t n = 0; n < nn; n++) {
        const fa_nn_node *nd = fa_nn_graph_node(g, n);
        for (int o = 0; !nd->dead && o < nd->n_out; o++)
            oc.producer_op[nd->out[o]] = (int)nd->op, oc.producer_node[nd->out[o]] = (int)n;
    }
    for (int r = 0; r < runs; r++) {
        oc.last = cpu_now();
        fa_nn_run_observe(s, input, op_tick, &oc);
    }
    printf("native, CPU ms per run by op (observed runs):");
    for (int op = 0; op < FA_NN_OP_COUNT; op++)
        if (oc.per_op[op] > 0) printf(" %s %.3f", fa_nn_op_name((fa_nn_op)op), oc.per_op[op] * 1e3 / runs);
    printf("\nnative, the slowest nodes in the model (CPU ms per run, first input -> first output):");
    fa_nn_shape *shapes = malloc(sizeof *shapes * fa_nn_graph_tensor_count(g));
    if (shapes && fa_nn_graph_infer_shapes(g, shapes, 1) != 0) {
        free(shapes);
        shapes = NULL;
    }
    for (int top = 0; top < 24; top++) {
        size_t best = 0;
        for (size_t n = 1; n < nn; n++)
            if (oc.per_node[n] > oc.per_node[best]) best = n;
        if (oc.per_node[best] <= 0) break;
        const fa_nn_node *nd = fa_nn_graph_node(g, best);
        printf("\n  %4zu %-12s %.3f ms  ", best, fa_nn_op_name(nd->op), oc.per_node[best] * 1e3 / runs);
        if (shapes) {
            print_shape(&shapes[nd->in[0]]);
            printf(" -> ");
            print_shape(&shapes[nd->out[0]]);
        }
        oc.per_node[best] = -1;
    }
    printf("\n");
    free(shapes);
    free(oc.producer_op);
    free(oc.producer_node);
    free(oc.per_node);
    fa_nn_session_free(s);
    fa_nn_model_free(m);
}

static const char *act_name(fa_nn_act a) {
    static const char *names[] = {"", "relu", "leaky", "sigm"};
    return a >= FA_NN_ACT_NONE && a <= FA_NN_ACT_SIGMOID ? names[a] : "?";
}

/* One line per Conv of the model, then the sums and the whole runs. */
static int bench_model(const char *path, int runs) {
    fa_nn_model *m = fa_nn_model_load(path, &(fa_nn_options){.backend = "native"});
    if (!m) {
        fprintf(stderr, "bench_conv: %s\n", fa_err_msg());
        return 1;
    }
    const fa_nn_graph *g = fa_nn_model_graph(m);
    float *buf = filled((size_t)1 << 24), *out = malloc((size_t)4 << 24);
    double sum_nat = 0, sum_dnn = 0, sum_best = 0, flops = 0;
    printf("%-5s %-40s %5s %9s %6s %6s %8s %8s %7s\n", "node", "conv (c_in->c_out k/s g @hw_out)", "act",
           "MFLOP", "nat_ms", "dnn_ms", "nat GF/s", "dnn GF/s", "dnn/nat");
    for (size_t n = 0; n < fa_nn_graph_node_count(g); n++) {
        const fa_nn_node *nd = fa_nn_graph_node(g, n);
        if (nd->dead || nd->op != FA_NN_OP_CONV) continue;
        fa_nn_conv_params p = node_params(g, nd);
        const float *w = fa_nn_graph_tensor(g, nd->in[1])->data;
        const float *b = nd->n_in > 2 && nd->in[2] >= 0 ? fa_nn_graph_tensor(g, nd->in[2])->data : NULL;
        double f = 2.0 * p.c_out * p.h_out * p.w_out * (double)(p.c_in / p.groups) * p.kh * p.kw;
        double tn = time_backend(fa_nn_backend_native(), &p, w, b, buf, out, runs);
        double td = time_backend(fa_nn_backend_onednn(), &p, w, b, buf, out, runs);
        char what[64];
        snprintf(what, sizeof what, "%d->%d %dx%d/%d g%d @%dx%d", p.c_in, p.c_out, p.kh, p.kw, p.stride_h,
                 p.groups, p.h_out, p.w_out);
        printf("%-5zu %-40s %5s %9.3f %6.3f %6.3f %8.1f %8.1f %7.2f\n", n, what, act_name(p.act), f * 1e-6,
               tn * 1e3, td * 1e3, f / tn * 1e-9, td > 0 ? f / td * 1e-9 : 0, td > 0 ? td / tn : 0);
        sum_nat += tn, sum_dnn += td, flops += f;
        sum_best += td > 0 && td < tn ? td : tn;
    }
    printf("convs: %.1f MFLOP, native %.3f ms, onednn %.3f ms, best of the two per layer %.3f ms\n",
           flops * 1e-6, sum_nat * 1e3, sum_dnn * 1e3, sum_best * 1e3);
    fa_nn_model_free(m);
    printf("whole model, median CPU ms of %d runs: native %.3f ms, onednn %.3f ms\n", runs,
           time_model(path, "native", buf, runs), time_model(path, "onednn", buf, runs));
    print_op_times(path, buf, runs);
    free(buf);
    free(out);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "--model") == 0) {
        bench_print_machine(argc, argv);
        int runs = argc > 4 && strcmp(argv[3], "-n") == 0 ? atoi(argv[4]) : 30;
        return bench_model(argv[2], runs > 0 ? runs : 30);
    }
    double min_s = argc > 1 ? atof(argv[1]) : 0.3;
    bench_print_machine(argc, argv);
    const char *isa = getenv("FA_NN_NATIVE_ISA");
    printf("cpu features: \"%s\", kernels: %s\n", fa_nn_cpu_features(),
           isa && !strcmp(isa, "generic") ? "generic" : "best");
    static const layer layers[] = {
        {"stem 3x3s2 3->24 @416", 3, 416, 24, 3, 2, 1},
        {"dw 3x3s2 24 @104", 24, 104, 24, 3, 2, 24},
        {"pw 1x1 58->58 @52", 58, 52, 58, 1, 1, 1},
        {"dw 3x3s1 58 @52", 58, 52, 58, 3, 1, 58},
        {"pw 1x1 116->116 @26", 116, 26, 116, 1, 1, 1},
        {"dw 3x3s2 116 @26", 116, 26, 116, 3, 2, 116},
        {"pw 1x1 232->232 @13", 232, 13, 232, 1, 1, 1},
        {"pw 1x1 464->96 @13 (pan)", 464, 13, 96, 1, 1, 1},
    };
    printf("%-26s %6s %6s %7s %7s %7s %7s %7s %6s %6s %6s\n", "layer (GFLOP/s)", "GFLOP", "naive", "nat1t",
           "nat2t", "crit2t", "fp16_1t", "x naive", "ms1t", "ms2t", "crit");
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) bench_layer(&layers[i], min_s);
    return 0;
}
