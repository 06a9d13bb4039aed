/*
 * test_native.c - the native convolution backend (src/nn/native.c) against
 * a naive reference convolution written here, on many random shapes
 * (GEMM, depthwise and direct paths), for the portable, the AVX2 and the
 * best path (FA_NN_NATIVE_ISA=generic / avx2 cap it; the best is AVX-512
 * where the CPU has it), FP32 and FP16 weights, without and with a small pthread
 * parallel-for; every run gets exactly the workspace it asked for (a
 * malloc of that size, so ASan catches any overrun). Also: bad parameters
 * name their field (int8 scales too; int8 itself: test_int8.c), FP16
 * halves the weight bytes, the half conversion rounds to nearest even,
 * the AVX2 and best paths agree bitwise, and so do the stride-2 row splits;
 * the AVX-512 in-place depthwise kernel agrees bitwise with the plane one
 * (FA_NN_DW_DIRECT=0) and with AVX2, and with conv_ref.c's reference.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels.h"
#include "nn/native_kern.h"
#include "nn/nn_internal.h"
#include "testutil.h"

/* ---- the reference: direct loops, double accumulation ---- */

static float ref_act(double x, const fa_nn_conv_params *p) {
    switch (p->act) {
    case FA_NN_ACT_RELU: return (float)(x > 0 ? x : 0);
    case FA_NN_ACT_LEAKY: return (float)(x < 0 ? p->alpha * x : x);
    case FA_NN_ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-x)));
    default: return (float)x;
    }
}

static double ref_one(const fa_nn_conv_params *p, const float *in, const float *w, int b, int oc, int oy,
                      int ox) {
    int cin_g = p->c_in / p->groups, g = oc / (p->c_out / p->groups);
    double acc = 0;
    for (int ci = 0; ci < cin_g; ci++)
        for (int ky = 0; ky < p->kh; ky++)
            for (int kx = 0; kx < p->kw; kx++) {
                int iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
                int ix = ox * p->stride_w - p->pad_l + kx * p->dil_w;
                if (iy < 0 || iy >= p->h_in || ix < 0 || ix >= p->w_in) continue;
                size_t ii = (((size_t)b * p->c_in + (size_t)(g * cin_g + ci)) * p->h_in + iy) * p->w_in + ix;
                size_t wi = (((size_t)oc * cin_g + ci) * p->kh + ky) * p->kw + kx;
                acc += (double)in[ii] * w[wi];
            }
    return acc;
}

static void ref_conv(const fa_nn_conv_params *p, const float *in, const float *w, const float *bias,
                     float *out) {
    for (int b = 0; b < p->n; b++)
        for (int oc = 0; oc < p->c_out; oc++)
            for (int oy = 0; oy < p->h_out; oy++)
                for (int ox = 0; ox < p->w_out; ox++) {
                    double acc = ref_one(p, in, w, b, oc, oy, ox) + (bias ? bias[oc] : 0.0);
                    *out++ = ref_act(acc, p);
                }
}

/* ---- a tiny pthread parallel-for: T threads pull indices from a counter ---- */

typedef struct pool_job {
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t n;
    atomic_size_t next;
} pool_job;

static void *pool_worker(void *v) {
    pool_job *job = v;
    for (size_t i; (i = atomic_fetch_add(&job->next, 1)) < job->n;) job->fn(job->arg, i);
    return NULL;
}

static void pool_for_each(void *ud, size_t n, void (*fn)(void *arg, size_t i), void *arg) {
    int threads = *(int *)ud;
    pool_job job = {.fn = fn, .arg = arg, .n = n};
    atomic_init(&job.next, 0);
    pthread_t tid[8];
    int started = 0;
    for (; started < threads && started < 8; started++)
        if (pthread_create(&tid[started], NULL, pool_worker, &job) != 0) break;
    pool_worker(&job); /* the caller helps, so a failed create cannot hang */
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
}

/* ---- helpers ---- */

static uint32_t rng_next(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static float *random_floats(size_t n, uint32_t *seed) {
    float *v = malloc(n * sizeof(float));
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) v[i] = (float)rng_next(seed) / (float)(1u << 24) * 2.0f - 1.0f;
    return v;
}

static int out_dim(int in, int p0, int p1, int d, int k, int s) {
    return (in + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

/* A shape: n, c_in, h, w, c_out, k (square unless kw given), stride, dil, pads t l b r, groups, act. */
static fa_nn_conv_params shape(int n, int c_in, int h, int w, int c_out, int kh, int kw, int sh, int sw,
                               int dil, const int pads[4], int groups, fa_nn_act act) {
    fa_nn_conv_params p = {.n = n, .c_in = c_in, .h_in = h, .w_in = w, .c_out = c_out, .kh = kh, .kw = kw,
                           .stride_h = sh, .stride_w = sw, .dil_h = dil, .dil_w = dil, .pad_t = pads[0],
                           .pad_l = pads[1], .pad_b = pads[2], .pad_r = pads[3], .groups = groups, .act = act,
                           .alpha = 0.1f};
    p.h_out = out_dim(h, pads[0], pads[2], dil, kh, sh);
    p.w_out = out_dim(w, pads[1], pads[3], dil, kw, sw);
    return p;
}

/* Runs the native op once with exactly its workspace; returns max |got - ref| / max(1, max |ref|). */
static double run_and_compare(const fa_nn_conv_params *p, fa_nn_precision prec, const float *in,
                              const float *w, const float *bias, const float *ref,
                              const fa_nn_parallel *par) {
    const fa_nn_backend *be = fa_nn_backend_native();
    fa_nn_conv *c = be->conv_prepare(p, prec, w, bias, NULL);
    if (!c) fail_msg("prepare: %s", fa_err_msg());
    size_t out_n = (size_t)p->n * p->c_out * p->h_out * p->w_out;
    float *out = malloc(out_n * sizeof(float));
    void *ws = malloc(be->conv_workspace(c, par));
    assert_non_null(out);
    assert_non_null(ws);
    for (size_t i = 0; i < out_n; i++) out[i] = NAN;
    assert_int_equal(be->conv_run(c, in, out, ws, par), 0);
    double err = 0, mag = 1;
    for (size_t i = 0; i < out_n; i++) {
        double d = fabs((double)out[i] - ref[i]);
        if (!(d <= err)) err = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > mag) mag = fabs(ref[i]);
    }
    free(ws);
    free(out);
    be->conv_free(c);
    return err / mag;
}

static const int P0[4] = {0, 0, 0, 0}, P1[4] = {1, 1, 1, 1}, PA[4] = {0, 1, 2, 0}, PB[4] = {2, 0, 1, 3};
static const int PS[4] = {1, 1, 0, 0}; /* the "same" pads of an even input, stride 2 */

static fa_nn_conv_params test_shape(int i) {
    switch (i) {
    case 0: return shape(1, 58, 13, 13, 58, 1, 1, 1, 1, 1, P0, 1, FA_NN_ACT_RELU);     /* pointwise */
    case 1: return shape(2, 24, 20, 19, 40, 1, 1, 1, 1, 1, P0, 1, FA_NN_ACT_NONE);     /* batch 2, odd */
    case 2: return shape(1, 29, 17, 23, 29, 3, 3, 1, 1, 1, P1, 29, FA_NN_ACT_NONE);    /* dw s1 */
    case 3: return shape(1, 24, 26, 26, 24, 3, 3, 2, 2, 1, P1, 24, FA_NN_ACT_RELU);    /* dw s2 */
    case 4: return shape(2, 16, 31, 37, 16, 3, 3, 2, 2, 1, PS, 16, FA_NN_ACT_LEAKY);   /* dw s2, odd, asym */
    case 5: return shape(1, 3, 35, 33, 24, 3, 3, 2, 2, 1, P1, 1, FA_NN_ACT_RELU);      /* stem */
    case 6: return shape(1, 8, 19, 21, 12, 3, 3, 1, 1, 2, PB, 1, FA_NN_ACT_SIGMOID);   /* dilated, asym */
    case 7: return shape(1, 12, 15, 14, 18, 3, 3, 1, 1, 1, PA, 3, FA_NN_ACT_LEAKY);    /* grouped */
    case 8: return shape(1, 20, 17, 17, 11, 1, 1, 2, 2, 1, P0, 1, FA_NN_ACT_NONE);     /* 1x1 s2 */
    case 9: return shape(1, 10, 23, 9, 10, 5, 5, 1, 1, 1, PB, 10, FA_NN_ACT_SIGMOID);  /* dw 5x5 */
    case 10: return shape(1, 6, 12, 40, 12, 3, 3, 1, 1, 2, P1, 6, FA_NN_ACT_RELU);     /* dw x2, dilated */
    case 11: return shape(1, 7, 11, 30, 5, 2, 4, 3, 1, 1, PA, 1, FA_NN_ACT_LEAKY);     /* 2x4 s(3,1) */
    case 12: return shape(1, 4, 9, 50, 4, 3, 3, 3, 3, 1, P1, 4, FA_NN_ACT_NONE);       /* dw s3 */
    case 13: return shape(1, 3, 5, 5, 7, 1, 1, 1, 1, 1, PA, 1, FA_NN_ACT_RELU);        /* 1x1 padded */
    case 14: return shape(1, 5, 30, 70, 9, 3, 3, 2, 2, 1, P1, 1, FA_NN_ACT_RELU);     /* interior panels */
    case 15: return shape(2, 4, 12, 40, 6, 3, 3, 1, 1, 2, PA, 2, FA_NN_ACT_NONE);      /* wide, dilated, g2 */
    case 16: return shape(1, 3, 21, 45, 3, 3, 3, 2, 2, 3, PB, 3, FA_NN_ACT_RELU);      /* dw s2, dil 3 */
    case 17: return shape(1, 5, 8, 8, 5, 3, 3, 2, 2, 1, PS, 5, FA_NN_ACT_SIGMOID);     /* dw s2, 4x4 out */
    case 18: return shape(1, 96, 13, 13, 112, 3, 3, 1, 1, 1, P1, 1, FA_NN_ACT_NONE);   /* deep K */
    case 19: return shape(2, 4, 9, 23, 30, 1, 1, 1, 1, 1, P0, 1, FA_NN_ACT_LEAKY);     /* 1x1, B in place */
    case 20: return shape(2, 3, 37, 41, 8, 3, 3, 2, 2, 1, PB, 1, FA_NN_ACT_SIGMOID);   /* stem s2 */
    case 21: return shape(1, 2, 40, 19, 50, 3, 3, 1, 1, 2, PA, 1, FA_NN_ACT_RELU);     /* dil 2: GEMM */
    case 22: return shape(1, 16, 3, 700, 17, 1, 1, 1, 1, 1, P0, 1, FA_NN_ACT_NONE);    /* in place, chunks */
    case 23: return shape(1, 4, 30, 50, 40, 3, 3, 2, 2, 1, PS, 1, FA_NN_ACT_LEAKY);    /* stem, 2 blocks */
    default: return shape(1, 3, 70, 9, 24, 5, 3, 3, 1, 1, PA, 1, FA_NN_ACT_RELU);      /* stem s(3,1), rows */
    }
}
#define N_SHAPES 25

static void check_shape(int si, fa_nn_precision prec, double tol) {
    fa_nn_conv_params p = test_shape(si);
    uint32_t seed = 1234u + (uint32_t)si;
    size_t in_n = (size_t)p.n * p.c_in * p.h_in * p.w_in;
    size_t w_n = (size_t)p.c_out * (p.c_in / p.groups) * p.kh * p.kw;
    size_t out_n = (size_t)p.n * p.c_out * p.h_out * p.w_out;
    float *in = random_floats(in_n, &seed), *w = random_floats(w_n, &seed);
    float *bias = random_floats((size_t)p.c_out, &seed);
    float *ref = malloc(out_n * sizeof(float));
    assert_non_null(ref);
    ref_conv(&p, in, w, si % 5 == 4 ? NULL : bias, ref);
    int two = 2, three = 3;
    fa_nn_parallel par2 = {pool_for_each, &two, 2}, par3 = {pool_for_each, &three, 3};
    const fa_nn_parallel *pars[] = {NULL, &par2, &par3};
    static const char *const isas[] = {"generic", "avx2", NULL};
    for (int isa = 0; isa < 3; isa++) {
        if (isas[isa]) setenv("FA_NN_NATIVE_ISA", isas[isa], 1);
        else unsetenv("FA_NN_NATIVE_ISA");
        for (int pi = 0; pi < 3; pi++) {
            double err = run_and_compare(&p, prec, in, w, si % 5 == 4 ? NULL : bias, ref, pars[pi]);
            if (!(err <= tol))
                fail_msg("shape %d isa %s threads %d prec %d: error %g > %g", si,
                         isas[isa] ? isas[isa] : "best",
                         pars[pi] ? pars[pi]->threads : 1, (int)prec, err, tol);
        }
    }
    unsetenv("FA_NN_NATIVE_ISA");
    free(in);
    free(w);
    free(bias);
    free(ref);
}

static void test_fp32_shapes(void **state) {
    (void)state;
    for (int si = 0; si < N_SHAPES; si++) check_shape(si, FA_NN_FP32, 1e-4);
}

static void test_fp16_shapes(void **state) {
    (void)state;
    for (int si = 0; si < N_SHAPES; si++) check_shape(si, FA_NN_FP16, 1e-2);
}

/* The output of one run of the native op (malloc'd), exactly its workspace. */
static float *run_output(const fa_nn_conv_params *p, const float *in, const float *w, const float *bias,
                         const fa_nn_parallel *par) {
    const fa_nn_backend *be = fa_nn_backend_native();
    fa_nn_conv *c = be->conv_prepare(p, FA_NN_FP32, w, bias, NULL);
    if (!c) fail_msg("prepare: %s", fa_err_msg());
    size_t out_n = (size_t)p->n * p->c_out * p->h_out * p->w_out;
    float *out = malloc(out_n * sizeof(float));
    void *ws = malloc(be->conv_workspace(c, par));
    assert_non_null(out);
    assert_non_null(ws);
    assert_int_equal(be->conv_run(c, in, out, ws, par), 0);
    free(ws);
    be->conv_free(c);
    return out;
}

/* The AVX2 and the best (AVX-512 where the CPU has it: 12-row GEMM tiles,
 * direct and row-blocked depthwise kernels) paths sum the same products
 * in the same order with FMAs: bitwise equal outputs, any thread count. */
static void test_isas_bitwise_equal(void **state) {
    (void)state;
    if (!fa_nn_cpu_features()[0]) skip();
    int three = 3;
    fa_nn_parallel par3 = {pool_for_each, &three, 3};
    for (int si = 0; si < N_SHAPES; si++) {
        fa_nn_conv_params p = test_shape(si);
        uint32_t seed = 555u + (uint32_t)si;
        size_t in_n = (size_t)p.n * p.c_in * p.h_in * p.w_in;
        size_t out_n = (size_t)p.n * p.c_out * p.h_out * p.w_out;
        float *in = random_floats(in_n, &seed);
        float *w = random_floats((size_t)p.c_out * (p.c_in / p.groups) * p.kh * p.kw, &seed);
        float *bias = random_floats((size_t)p.c_out, &seed);
        setenv("FA_NN_NATIVE_ISA", "avx2", 1);
        float *a = run_output(&p, in, w, bias, NULL);
        unsetenv("FA_NN_NATIVE_ISA");
        float *b1 = run_output(&p, in, w, bias, NULL), *b3 = run_output(&p, in, w, bias, &par3);
        if (memcmp(a, b1, out_n * sizeof(float)) != 0 || memcmp(a, b3, out_n * sizeof(float)) != 0)
            fail_msg("shape %d: avx2 and best outputs differ", si);
        free(a), free(b1), free(b3), free(in), free(w), free(bias);
    }
}

/* One prepared op run from two threads at once, each with its own
 * workspace and output (a prepared op is read-only after prepare). */
typedef struct concurrent_run {
    const fa_nn_conv *c;
    const float *in;
    float *out;
    void *ws;
    int rc;
} concurrent_run;

static void *concurrent_main(void *v) {
    concurrent_run *r = v;
    for (int i = 0; i < 20 && r->rc == 0; i++)
        r->rc = fa_nn_backend_native()->conv_run(r->c, r->in, r->out, r->ws, NULL);
    return NULL;
}

static void test_concurrent_runs(void **state) {
    (void)state;
    for (int si = 0; si < 6; si += 3) { /* pointwise (GEMM path) and depthwise */
        fa_nn_conv_params p = test_shape(si);
        uint32_t seed = 99;
        size_t in_n = (size_t)p.n * p.c_in * p.h_in * p.w_in;
        size_t out_n = (size_t)p.n * p.c_out * p.h_out * p.w_out;
        size_t w_n = (size_t)p.c_out * (p.c_in / p.groups) * p.kh * p.kw;
        float *in = random_floats(in_n, &seed), *w = random_floats(w_n, &seed);
        const fa_nn_backend *be = fa_nn_backend_native();
        fa_nn_conv *c = be->conv_prepare(&p, FA_NN_FP32, w, NULL, NULL);
        assert_non_null(c);
        concurrent_run runs[2];
        pthread_t tid[2];
        for (int i = 0; i < 2; i++) {
            runs[i] = (concurrent_run){.c = c, .in = in, .out = malloc(out_n * sizeof(float)),
                                       .ws = malloc(be->conv_workspace(c, NULL))};
            assert_int_equal(pthread_create(&tid[i], NULL, concurrent_main, &runs[i]), 0);
        }
        for (int i = 0; i < 2; i++) pthread_join(tid[i], NULL);
        assert_int_equal(runs[0].rc, 0);
        assert_int_equal(runs[1].rc, 0);
        assert_memory_equal(runs[0].out, runs[1].out, out_n * sizeof(float));
        for (int i = 0; i < 2; i++) free(runs[i].out), free(runs[i].ws);
        be->conv_free(c);
        free(in);
        free(w);
    }
}

static void test_cpu_features(void **state) {
    (void)state;
    const char *f = fa_nn_cpu_features();
    assert_non_null(f);
    print_message("native cpu features: \"%s\"\n", f);
    assert_true(f[0] == '\0' || strncmp(f, "avx2 fma f16c", 13) == 0);
}

/* 58 -> 58 pointwise: 10 panels of 6 rows x 58 = 3480 weights, bias 60. */
static void test_fp16_halves_bytes(void **state) {
    (void)state;
    fa_nn_conv_params p = test_shape(0);
    uint32_t seed = 7;
    float *w = random_floats(58 * 58, &seed);
    const fa_nn_backend *be = fa_nn_backend_native();
    fa_nn_conv *c32 = be->conv_prepare(&p, FA_NN_FP32, w, NULL, NULL);
    fa_nn_conv *c16 = be->conv_prepare(&p, FA_NN_FP16, w, NULL, NULL);
    assert_non_null(c32);
    assert_non_null(c16);
    assert_int_equal(be->conv_bytes(c32), 3480 * 4 + 60 * 4);
    assert_int_equal(be->conv_bytes(c16), 3480 * 2 + 60 * 4);
    be->conv_free(c32);
    be->conv_free(c16);
    free(w);
}

static void test_half_rounding(void **state) {
    (void)state;
    assert_int_equal(fa_nn_native_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(fa_nn_native_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(fa_nn_native_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(fa_nn_native_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(fa_nn_native_f32_to_f16(65520.0f), 0x7c00);
    assert_int_equal(fa_nn_native_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);         /* tie to even */
    assert_int_equal(fa_nn_native_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);     /* tie to even, up */
    assert_int_equal(fa_nn_native_f32_to_f16(0x1p-24f), 0x0001);
    assert_int_equal(fa_nn_native_f32_to_f16(0x1p-25f), 0x0000);
    assert_int_equal(fa_nn_native_f32_to_f16(0x1.8p-25f), 0x0001);
    assert_int_equal(fa_nn_native_f32_to_f16(0x1.ff8p-15f), 0x03ff);              /* largest subnormal */
    assert_int_equal(fa_nn_native_f32_to_f16(0x1.ffap-15f), 0x03ff);              /* below the tie */
    assert_int_equal(fa_nn_native_f32_to_f16(0x1.ffcp-15f), 0x0400);              /* tie: up to normal */
    assert_int_equal(fa_nn_native_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(fa_nn_native_f32_to_f16(NAN) & 0x7e00, 0x7e00);
    uint16_t h[10] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555, 0x8000, 0x7c00, 0x3c01};
    float g[10], a[10];
    fa_nn_native_f16_to_f32_generic(h, g, 10);
    fa_nn_native_f16_to_f32_avx2(h, a, 10);
    assert_true(g[0] == 1.0f && g[1] == -2.0f && g[2] == 65504.0f && g[3] == 0x1p-24f);
    assert_true(g[4] == 0x1.ff8p-15f && g[5] == 0x1p-14f && g[6] == 0x1.554p-2f && g[9] == 1.0f + 0x1p-10f);
    assert_true(isinf(g[8]) && signbit(g[7]));
    if (fa_nn_cpu_features()[0])
        for (int i = 0; i < 10; i++) assert_memory_equal(&g[i], &a[i], sizeof(float));
}

/* Prepare must fail with FA_EINVAL and a message naming field. */
static void expect_bad(const fa_nn_conv_params *p, fa_nn_precision prec, const char *field) {
    float w[4096] = {0};
    fa_err_clear();
    assert_null(fa_nn_backend_native()->conv_prepare(p, prec, w, NULL, NULL));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    if (!strstr(fa_err_msg(), field)) fail_msg("message \"%s\" does not name \"%s\"", fa_err_msg(), field);
}

static void test_bad_params(void **state) {
    (void)state;
    fa_nn_conv_params good = test_shape(7), p;
    p = good, p.c_in = 0;
    expect_bad(&p, FA_NN_FP32, "'c_in'");
    p = good, p.n = 0;
    expect_bad(&p, FA_NN_FP32, "'n'");
    p = good, p.kw = -1;
    expect_bad(&p, FA_NN_FP32, "'kw'");
    p = good, p.stride_h = 0;
    expect_bad(&p, FA_NN_FP32, "'stride_h'");
    p = good, p.pad_r = -2;
    expect_bad(&p, FA_NN_FP32, "'pad_r'");
    p = good, p.groups = 5;
    expect_bad(&p, FA_NN_FP32, "'groups'");
    p = good, p.h_out += 1;
    expect_bad(&p, FA_NN_FP32, "'h_out'");
    p = good, p.w_out -= 1;
    expect_bad(&p, FA_NN_FP32, "'w_out'");
    p = good, p.act = (fa_nn_act)9;
    expect_bad(&p, FA_NN_FP32, "'act'");
    p = good, p.kh = 40, p.h_out = 1;
    expect_bad(&p, FA_NN_FP32, "'h_out'");
    expect_bad(&good, (fa_nn_precision)7, "'prec'");
    fa_nn_int8_scales s = {.in_scale = 0.1f, .out_scale = 0.0f};
    float w[4096] = {0};
    assert_null(fa_nn_backend_native()->conv_prepare(&good, FA_NN_INT8, w, NULL, NULL));
    if (!strstr(fa_err_msg(), "'scales'")) fail_msg("%s", fa_err_msg());
    assert_null(fa_nn_backend_native()->conv_prepare(&good, FA_NN_INT8, w, NULL, &s));
    assert_non_null(strstr(fa_err_msg(), "'out_scale'"));
    assert_null(fa_nn_backend_native()->conv_prepare(&good, FA_NN_FP32, NULL, NULL, NULL));
    assert_non_null(strstr(fa_err_msg(), "'weights'"));
}

static void test_run_without_workspace(void **state) {
    (void)state;
    fa_nn_conv_params p = test_shape(0);
    float w[58 * 58] = {0}, in[58 * 13 * 13] = {0}, out[58 * 13 * 13];
    const fa_nn_backend *be = fa_nn_backend_native();
    fa_nn_conv *c = be->conv_prepare(&p, FA_NN_FP32, w, NULL, NULL);
    assert_non_null(c);
    assert_int_equal(be->conv_run(c, in, out, NULL, NULL), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "workspace"));
    be->conv_free(c);
}

/* The stride-2 row split (the depthwise plane's phase split): the AVX2
 * and AVX-512 versions write exactly what the portable one writes, every
 * length 0-80 (masked tails), and nothing past it (sentinels). */
static void test_split2(void **state) {
    (void)state;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    int avx2 = fa_nn_cpu_features()[0] != 0;
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512dq");
    if (!avx2) skip();
    float in[80], want[2][48], got[2][48];
    for (int i = 0; i < 80; i++)
        in[i] = (float)i + 0.5f;
    for (size_t n = 0; n <= 80; n++)
        for (int isa = 0; isa < 2; isa++) {
            if (isa == 1 && !avx512) continue;
            for (int k = 0; k < 48; k++)
                want[0][k] = want[1][k] = got[0][k] = got[1][k] = -1.0f;
            fa_nn_native_split2_generic(in, n, want[0], want[1]);
            if (isa == 0)
                fa_nn_native_split2_avx2(in, n, got[0], got[1]);
            else
                fa_nn_native_split2_avx512(in, n, got[0], got[1]);
            if (memcmp(want, got, sizeof want) != 0) fail_msg("n %zu, %s: differs", n, isa ? "avx512" : "avx2");
            assert_true(n == 0 || (want[0][0] == 0.5f && want[0][(n + 1) / 2] == -1.0f));
        }
#else
    skip();
#endif
}

/* Depthwise shapes the in-place AVX-512 kernel takes (stride-1 3x3 and
 * 5x5, stride-2 3x3): odd widths (masked tails, strips of 16 with 1-15
 * columns left), pads on every side from 0 to 3 (more than the filter's
 * reach included), batch 2, channel multiplier 2, the least rows it
 * takes (4 and 8 out). */
static fa_nn_conv_params direct_shape(int i) {
    static const int T1[4] = {1, 0, 0, 1}, T2[4] = {2, 2, 2, 2}, T3[4] = {0, 3, 1, 0}, T4[4] = {3, 1, 2, 2};
    switch (i) {
    case 0: return shape(2, 5, 11, 11, 5, 3, 3, 1, 1, 1, P1, 5, FA_NN_ACT_RELU);      /* 11 wide */
    case 1: return shape(1, 4, 22, 44, 4, 3, 3, 1, 1, 1, P1, 4, FA_NN_ACT_NONE);      /* 3 strips */
    case 2: return shape(2, 3, 5, 33, 6, 3, 3, 1, 1, 1, T1, 3, FA_NN_ACT_LEAKY);      /* x2, 4 rows */
    case 3: return shape(1, 3, 9, 17, 3, 3, 3, 1, 1, 1, T4, 3, FA_NN_ACT_SIGMOID);    /* wide pads */
    case 4: return shape(2, 4, 22, 22, 4, 5, 5, 1, 1, 1, T2, 4, FA_NN_ACT_NONE);      /* 5x5 same */
    case 5: return shape(1, 3, 11, 7, 6, 5, 5, 1, 1, 1, T3, 3, FA_NN_ACT_RELU);        /* 5x5, 8 rows */
    case 6: return shape(2, 2, 13, 50, 2, 5, 5, 1, 1, 1, T4, 2, FA_NN_ACT_LEAKY);     /* 5x5 asym */
    case 7: return shape(1, 2, 12, 3, 2, 5, 5, 1, 1, 1, T2, 2, FA_NN_ACT_SIGMOID);    /* 3 wide */
    case 8: return shape(2, 3, 88, 88, 3, 3, 3, 2, 2, 1, P1, 3, FA_NN_ACT_NONE);      /* s2 44 out */
    case 9: return shape(1, 2, 9, 71, 4, 3, 3, 2, 2, 1, T1, 2, FA_NN_ACT_RELU);       /* s2 x2, 4 rows */
    case 10: return shape(2, 3, 23, 33, 3, 3, 3, 2, 2, 1, T4, 3, FA_NN_ACT_LEAKY);    /* s2 wide pads */
    default: return shape(1, 2, 14, 5, 2, 3, 3, 2, 2, 1, T3, 2, FA_NN_ACT_SIGMOID);   /* s2 narrow */
    }
}
#define N_DIRECT_SHAPES 12

/* The output of shape p's op under FA_NN_DW_DIRECT=flag (NULL: unset). */
static float *run_direct(const fa_nn_conv_params *p, const float *in, const float *w, const float *bias,
                         const char *flag, const fa_nn_parallel *par) {
    if (flag) setenv("FA_NN_DW_DIRECT", flag, 1);
    else unsetenv("FA_NN_DW_DIRECT");
    float *out = run_output(p, in, w, bias, par);
    unsetenv("FA_NN_DW_DIRECT");
    return out;
}

/* The in-place depthwise kernel against the plane kernel and AVX2
 * (bitwise), and against the reference (1e-5 of the largest output). */
static void test_dw_direct(void **state) {
    (void)state;
    if (!fa_nn_cpu_features()[0]) skip();
    int three = 3;
    fa_nn_parallel par3 = {pool_for_each, &three, 3};
    for (int si = 0; si < N_DIRECT_SHAPES; si++) {
        fa_nn_conv_params p = direct_shape(si);
#if defined(__x86_64__) || defined(__i386__)
        fa_nn_dw shape_dw = {.h_out = p.h_out, .w_out = p.w_out, .kh = p.kh, .kw = p.kw, .s_h = p.stride_h,
                             .s_w = p.stride_w, .d_h = 1, .d_w = 1};
        assert_true(fa_nn_native_dw_direct_fits(&shape_dw)); /* the shape takes the direct kernel */
#endif
        uint32_t seed = 777u + (uint32_t)si;
        size_t in_n = (size_t)p.n * p.c_in * p.h_in * p.w_in;
        size_t out_n = (size_t)p.n * p.c_out * p.h_out * p.w_out;
        float *in = random_floats(in_n, &seed);
        float *w = random_floats((size_t)p.c_out * p.kh * p.kw, &seed);
        float *bias = random_floats((size_t)p.c_out, &seed), *ref = malloc(out_n * sizeof(float));
        assert_non_null(ref);
        fa_nn_conv_reference(&p, in, w, bias, ref);
        float *direct = run_direct(&p, in, w, bias, NULL, NULL);
        float *plane = run_direct(&p, in, w, bias, "0", NULL);
        float *direct3 = run_direct(&p, in, w, bias, "1", &par3);
        setenv("FA_NN_NATIVE_ISA", "avx2", 1);
        float *avx2 = run_output(&p, in, w, bias, NULL);
        unsetenv("FA_NN_NATIVE_ISA");
        size_t bytes = out_n * sizeof(float);
        if (memcmp(direct, plane, bytes) != 0 || memcmp(direct, direct3, bytes) != 0 ||
            memcmp(direct, avx2, bytes) != 0)
            fail_msg("direct shape %d: outputs differ bitwise", si);
        double err = 0, mag = 1;
        for (size_t i = 0; i < out_n; i++) {
            double d = fabs((double)direct[i] - ref[i]);
            if (!(d <= err)) err = isnan(d) ? INFINITY : d;
            if (fabs(ref[i]) > mag) mag = fabs(ref[i]);
        }
        if (!(err / mag <= 1e-5)) fail_msg("direct shape %d: error %g", si, err / mag);
        free(direct), free(plane), free(direct3), free(avx2), free(in), free(w), free(bias), free(ref);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_features),      cmocka_unit_test(test_half_rounding),
        cmocka_unit_test(test_fp32_shapes),       cmocka_unit_test(test_fp16_shapes),
        cmocka_unit_test(test_fp16_halves_bytes), cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_run_without_workspace), cmocka_unit_test(test_concurrent_runs),
        cmocka_unit_test(test_isas_bitwise_equal), cmocka_unit_test(test_split2),
        cmocka_unit_test(test_dw_direct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
