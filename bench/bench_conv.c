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
 * Usage: bench_conv [min_seconds_per_case]   (default 0.3)
 * FA_NN_NATIVE_ISA=generic times the portable kernels instead of AVX2.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"
#include "nn/kernels.h"

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

int main(int argc, char **argv) {
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
