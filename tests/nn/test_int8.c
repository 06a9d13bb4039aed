/*
 * test_int8.c - the INT8 convolution kernels (src/nn/native_int8.c via the
 * native backend, and oneDNN's with int8 tensors in and out) on random
 * data. Integer arithmetic is exact, so the native kernels are compared
 * with a reference written here EXACTLY (same weight quantisation, int32
 * sums, the same fp32 output stage) for every instruction set the CPU has
 * (FA_NN_NATIVE_ISA=generic, avx2, and AVX-512 VNNI when present, with
 * and without AMX: FA_NN_Q8_AMX=0), fp32 or
 * int8 in and out, 1 and 3 threads of a pool. oneDNN's s8-in/s8-out op is
 * held to within one quantisation step of the native one (its rounding
 * and bias order differ). Every run gets exactly the workspace it asked
 * for (ASan catches an overrun).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "nn/kernels.h"
#include "testutil.h"

typedef struct tcase {
    fa_nn_conv_params p;
    float *x, *w, *b, *ws;
    int8_t *xq;
    float in_scale, out_scale;
} tcase;

static uint32_t rng(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static float frand(uint32_t *s) { return (float)rng(s) / (float)(1u << 24) * 2.0f - 1.0f; }

static int8_t quant(float y, float inv) {
    float v = y * inv;
    v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
    v = v >= 0.0f ? v + 0.5f : v - 0.5f;
    return (int8_t)(int)v;
}

static size_t in_count(const fa_nn_conv_params *p) { return (size_t)p->n * p->c_in * p->h_in * p->w_in; }
static size_t out_count(const fa_nn_conv_params *p) { return (size_t)p->n * p->c_out * p->h_out * p->w_out; }
static size_t k_of(const fa_nn_conv_params *p) { return (size_t)(p->c_in / p->groups) * p->kh * p->kw; }

static fa_nn_conv_params shape(int n, int c_in, int h, int w, int c_out, int k, int s, int pad, int dil,
                               int groups, fa_nn_act act) {
    fa_nn_conv_params p = {.n = n,
                           .c_in = c_in,
                           .h_in = h,
                           .w_in = w,
                           .c_out = c_out,
                           .kh = k,
                           .kw = k,
                           .stride_h = s,
                           .stride_w = s,
                           .dil_h = dil,
                           .dil_w = dil,
                           .pad_t = pad,
                           .pad_l = pad,
                           .pad_b = pad,
                           .pad_r = pad,
                           .groups = groups,
                           .act = act,
                           .alpha = 0.1f};
    p.h_out = (h + 2 * pad - dil * (k - 1) - 1) / s + 1;
    p.w_out = (w + 2 * pad - dil * (k - 1) - 1) / s + 1;
    return p;
}

static void case_init(tcase *t, const fa_nn_conv_params *p, uint32_t seed) {
    t->p = *p;
    size_t nw = (size_t)p->c_out * k_of(p);
    t->x = malloc(in_count(p) * sizeof(float));
    t->xq = malloc(in_count(p));
    t->w = malloc(nw * sizeof(float));
    t->b = malloc((size_t)p->c_out * sizeof(float));
    t->ws = malloc((size_t)p->c_out * sizeof(float));
    assert_true(t->x && t->xq && t->w && t->b && t->ws);
    for (size_t i = 0; i < in_count(p); i++)
        t->x[i] = 3.0f * frand(&seed);
    for (size_t i = 0; i < nw; i++)
        t->w[i] = frand(&seed);
    for (int i = 0; i < p->c_out; i++)
        t->b[i] = frand(&seed);
    t->in_scale = 3.0f / 127.0f;
    t->out_scale = 0.05f * sqrtf((float)k_of(p)) + 0.01f;
    for (size_t i = 0; i < in_count(p); i++)
        t->xq[i] = quant(t->x[i], 1.0f / t->in_scale);
    size_t k = k_of(p);
    for (int oc = 0; oc < p->c_out; oc++) { /* per channel scales as the kernels compute them */
        float m = 0;
        for (size_t i = 0; i < k; i++)
            m = fmaxf(m, fabsf(t->w[(size_t)oc * k + i]));
        t->ws[oc] = m > 0 ? m / 127.0f : 1.0f;
    }
}

static void case_free(tcase *t) { free(t->x), free(t->xq), free(t->w), free(t->b), free(t->ws); }

/* The reference: the kernels' arithmetic written out plainly. */
static int32_t ref_acc(const tcase *t, int b, int oc, int oy, int ox) {
    const fa_nn_conv_params *p = &t->p;
    int cin_g = p->c_in / p->groups, g = oc / (p->c_out / p->groups);
    size_t k = k_of(p);
    int32_t acc = 0;
    for (int ci = 0; ci < cin_g; ci++)
        for (int ky = 0; ky < p->kh; ky++)
            for (int kx = 0; kx < p->kw; kx++) {
                int iy = oy * p->stride_h - p->pad_t + ky * p->dil_h;
                int ix = ox * p->stride_w - p->pad_l + kx * p->dil_w;
                if (iy < 0 || iy >= p->h_in || ix < 0 || ix >= p->w_in) continue;
                size_t ii = (((size_t)b * p->c_in + (size_t)(g * cin_g + ci)) * p->h_in + iy) * p->w_in + ix;
                size_t wi = (size_t)oc * k + ((size_t)ci * p->kh + ky) * p->kw + kx;
                float v = t->w[wi] / t->ws[oc];
                v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
                acc += (int32_t)t->xq[ii] * (int32_t)lrintf(v);
            }
    return acc;
}

static float ref_real(const tcase *t, int32_t acc, int oc) {
    float ms = t->in_scale * t->ws[oc];
    float y = (float)acc * ms;
    y = y + t->b[oc];
    if (t->p.act == FA_NN_ACT_RELU) y = y > 0.0f ? y : 0.0f;
    if (t->p.act == FA_NN_ACT_LEAKY) y = y < 0.0f ? t->p.alpha * y : y;
    if (t->p.act == FA_NN_ACT_SIGMOID) y = 1.0f / (1.0f + expf(-y));
    return y;
}

static void ref_conv(const tcase *t, float *outf, int8_t *outq) {
    const fa_nn_conv_params *p = &t->p;
    size_t i = 0;
    for (int b = 0; b < p->n; b++)
        for (int oc = 0; oc < p->c_out; oc++)
            for (int oy = 0; oy < p->h_out; oy++)
                for (int ox = 0; ox < p->w_out; ox++, i++) {
                    float y = ref_real(t, ref_acc(t, b, oc, oy, ox), oc);
                    outf[i] = y;
                    outq[i] = quant(y, 1.0f / t->out_scale);
                }
}

/* ---- a pool-backed parallel-for ---- */

static void pool_each(void *ud, size_t n, void (*fn)(void *arg, size_t i), void *arg) {
    fa_pool_for_each(ud, n, 0, fn, arg);
}

/* Runs be on t with in/out as s8 or f32; out receives the result. */
static void run(const fa_nn_backend *be, const tcase *t, int in_s8, int out_s8, const fa_nn_parallel *par,
                void *out) {
    fa_nn_int8_scales sc = {.in_scale = t->in_scale,
                            .out_scale = t->out_scale,
                            .in_s8 = in_s8,
                            .out_s8 = out_s8,
                            .w_scales = t->ws};
    fa_nn_conv *c = be->conv_prepare(&t->p, FA_NN_INT8, t->w, t->b, &sc);
    if (!c) fail_msg("prepare: %s", fa_err_msg());
    size_t wsb = be->conv_workspace(c, par);
    void *ws = malloc(wsb ? wsb : 1);
    assert_non_null(ws);
    assert_int_equal(be->conv_run(c, in_s8 ? (const void *)t->xq : t->x, out, ws, par), 0);
    free(ws);
    be->conv_free(c);
}

/* NULL: the best the CPU has, with AMX (where present) and without (FA_NN_Q8_AMX=0: the VNNI GEMM) */
static const char *const ISAS[] = {"generic", "avx2", NULL, NULL};
static const int NO_AMX[] = {0, 0, 0, 1};

static fa_nn_conv_params case_shape(int i) {
    switch (i) {
    case 0: return shape(1, 24, 13, 11, 58, 1, 1, 0, 1, 1, FA_NN_ACT_RELU);    /* pointwise, K % 4 == 0 */
    case 1: return shape(2, 19, 9, 15, 13, 1, 1, 0, 1, 1, FA_NN_ACT_LEAKY);    /* K % 4 != 0, batch 2 */
    case 2: return shape(1, 3, 23, 17, 24, 3, 2, 1, 1, 1, FA_NN_ACT_RELU);     /* the first conv */
    case 3: return shape(1, 16, 12, 12, 20, 3, 1, 1, 1, 1, FA_NN_ACT_NONE);    /* 3x3 pad 1 */
    case 4: return shape(1, 32, 14, 13, 32, 3, 1, 1, 1, 32, FA_NN_ACT_NONE);   /* depthwise s1 */
    case 5: return shape(2, 24, 15, 16, 24, 3, 2, 1, 1, 24, FA_NN_ACT_RELU);   /* depthwise s2 */
    case 6: return shape(1, 8, 11, 9, 8, 5, 1, 2, 1, 8, FA_NN_ACT_LEAKY);      /* depthwise 5x5 */
    case 7: return shape(1, 12, 10, 10, 18, 3, 1, 2, 2, 2, FA_NN_ACT_SIGMOID); /* grouped, dilated */
    case 8: return shape(1, 64, 20, 20, 70, 1, 1, 0, 1, 1, FA_NN_ACT_LEAKY);   /* several column chunks */
    case 10: return shape(1, 5, 7, 70, 5, 3, 2, 1, 1, 5, FA_NN_ACT_LEAKY);     /* depthwise s2, 35 wide */
    case 11: return shape(1, 4, 5, 45, 4, 3, 1, 1, 1, 4, FA_NN_ACT_NONE);      /* depthwise s1, 45 wide */
    case 12: return shape(1, 6, 13, 52, 6, 3, 1, 0, 1, 6, FA_NN_ACT_RELU);   /* depthwise unpadded, 50 wide */
    case 13: return shape(1, 5, 12, 21, 5, 3, 1, 2, 2, 5, FA_NN_ACT_LEAKY);  /* depthwise dilated */
    case 14: return shape(2, 7, 17, 19, 7, 5, 2, 2, 1, 7, FA_NN_ACT_NONE);   /* depthwise 5x5 s2, odd rows */
    case 15: return shape(1, 3, 9, 8, 3, 7, 1, 3, 1, 3, FA_NN_ACT_RELU);     /* depthwise 7x7 */
    case 16: return shape(1, 200, 7, 9, 45, 1, 1, 0, 1, 1, FA_NN_ACT_LEAKY); /* K 200: several K blocks */
    case 17: return shape(2, 22, 10, 7, 70, 1, 1, 0, 1, 2, FA_NN_ACT_RELU);  /* grouped pointwise */
    case 18: return shape(1, 66, 3, 5, 33, 1, 1, 0, 1, 1, FA_NN_ACT_SIGMOID); /* sigmoid, 15 columns */
    default: return shape(1, 8, 6, 40, 16, 1, 1, 0, 1, 1, FA_NN_ACT_NONE);    /* wide row: 240 columns */
    }
}

#define N_CASES 19

static void check_equal_q(const int8_t *a, const int8_t *b, size_t n, const char *what, int i) {
    for (size_t k = 0; k < n; k++)
        if (a[k] != b[k]) fail_msg("case %d %s: s8 out[%zu] = %d, reference %d", i, what, k, a[k], b[k]);
}

static void check_equal_f(const float *a, const float *b, size_t n, const char *what, int i) {
    for (size_t k = 0; k < n; k++)
        if (memcmp(&a[k], &b[k], sizeof(float)) != 0)
            fail_msg("case %d %s: f32 out[%zu] = %.9g, reference %.9g", i, what, k, (double)a[k],
                     (double)b[k]);
}

/* One case on one ISA: every in/out combination, 1 and 3 threads. */
static void native_case(const tcase *t, int i, const char *isa, fa_pool *pool) {
    size_t n = out_count(&t->p);
    float *rf = malloc(n * sizeof(float)), *of = malloc(n * sizeof(float));
    int8_t *rq = malloc(n), *oq = malloc(n);
    assert_true(rf && of && rq && oq);
    ref_conv(t, rf, rq);
    fa_nn_parallel one = {NULL, NULL, 1}, three = {pool_each, pool, 3};
    const fa_nn_parallel *pars[2] = {&one, &three};
    for (int pi = 0; pi < 2; pi++)
        for (int in_s8 = 0; in_s8 < 2; in_s8++) {
            char what[64];
            snprintf(what, sizeof what, "isa %s in_s8 %d threads %d", isa ? isa : "best", in_s8,
                     pars[pi]->threads);
            memset(oq, 0x55, n);
            run(fa_nn_backend_native(), t, in_s8, 1, pars[pi], oq);
            check_equal_q(oq, rq, n, what, i);
            run(fa_nn_backend_native(), t, in_s8, 0, pars[pi], of);
            check_equal_f(of, rf, n, what, i);
        }
    free(rf), free(of), free(rq), free(oq);
}

static void test_native_int8_exact(void **state) {
    (void)state;
    fa_pool *pool = fa_pool_new(2);
    assert_non_null(pool);
    for (size_t s = 0; s < sizeof ISAS / sizeof ISAS[0]; s++) {
        if (ISAS[s])
            setenv("FA_NN_NATIVE_ISA", ISAS[s], 1);
        else
            unsetenv("FA_NN_NATIVE_ISA");
        if (NO_AMX[s])
            setenv("FA_NN_Q8_AMX", "0", 1);
        else
            unsetenv("FA_NN_Q8_AMX");
        for (int i = 0; i < N_CASES; i++) {
            tcase t;
            fa_nn_conv_params p = case_shape(i);
            case_init(&t, &p, 7u + (uint32_t)i);
            native_case(&t, i, ISAS[s], pool);
            case_free(&t);
        }
    }
    unsetenv("FA_NN_NATIVE_ISA");
    unsetenv("FA_NN_Q8_AMX");
    fa_pool_free(pool);
    print_message("cpu features: %s\n", fa_nn_cpu_features());
}

/* oneDNN with s8 tensors in and out: within one step of the native result
 * (its requantisation rounds half to even and adds the bias in another order). */
static void test_onednn_int8_tensors(void **state) {
    (void)state;
    const fa_nn_backend *be = fa_nn_backend_onednn();
    if (!be) skip();
    for (int i = 0; i < N_CASES; i++) {
        tcase t;
        fa_nn_conv_params p = case_shape(i);
        case_init(&t, &p, 31u + (uint32_t)i);
        size_t n = out_count(&p);
        int8_t *nq = malloc(n), *dq = malloc(n);
        assert_true(nq && dq);
        fa_nn_parallel one = {NULL, NULL, 1};
        run(fa_nn_backend_native(), &t, 1, 1, &one, nq);
        run(be, &t, 1, 1, &one, dq);
        int worst = 0;
        for (size_t k = 0; k < n; k++)
            worst = abs(nq[k] - dq[k]) > worst ? abs(nq[k] - dq[k]) : worst;
        if (worst > 1) fail_msg("case %d: oneDNN s8 output differs from native by %d steps", i, worst);
        free(nq), free(dq);
        case_free(&t);
    }
}

static void test_int8_bad_scales(void **state) {
    (void)state;
    fa_nn_conv_params p = case_shape(0);
    float w[24 * 58] = {0}, bad_ws[58];
    for (int i = 0; i < 58; i++)
        bad_ws[i] = i == 5 ? -1.0f : 0.1f;
    fa_nn_int8_scales sc = {.in_scale = 0.1f, .out_scale = 0.1f, .w_scales = bad_ws};
    assert_null(fa_nn_backend_native()->conv_prepare(&p, FA_NN_INT8, w, NULL, &sc));
    assert_non_null(strstr(fa_err_msg(), "'w_scales[5]'"));
    sc.w_scales = NULL, sc.in_scale = NAN;
    assert_null(fa_nn_backend_native()->conv_prepare(&p, FA_NN_INT8, w, NULL, &sc));
    assert_non_null(strstr(fa_err_msg(), "'in_scale'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_int8_exact),
        cmocka_unit_test(test_onednn_int8_tensors),
        cmocka_unit_test(test_int8_bad_scales),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
