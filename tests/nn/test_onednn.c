/*
 * test_onednn.c - the oneDNN convolution backend (src/nn/onednn.c) against
 * a naive reference convolution written here (double accumulation):
 * pointwise, depthwise 3x3 s1/s2, dilated, grouped, asymmetric padding, odd
 * sizes, batch 2, every activation, FP32 within 1e-4 relative and INT8
 * within the quantisation bound derived below; the workspace is allocated
 * to exactly the reported size (ASan catches any overrun); one prepared op
 * runs on two threads at once with their own workspaces; bad parameters
 * give FA_EINVAL naming the field; prepare/run/free cycles leak nothing.
 * Skips with a message when the build has no oneDNN.
 *
 * INT8 bound (per output element): the input is quantised with step s_in
 * (error <= s_in/2, no clipping since s_in = max|x| / 127), the weights per
 * output channel with step s_w = max|w| / 127 (error <= s_w/2). For one
 * product |x w - x^ w^| <= |x| s_w/2 + |w| s_in/2 + s_in s_w/4, so the
 * accumulator is off by at most E = sum over the taps of that. The
 * activation is 1-Lipschitz (relu, leaky with |alpha| <= 1; sigmoid 1/4),
 * and the output is requantised with step s_out (error <= s_out/2, no
 * clipping since s_out leaves 25% headroom): |got - ref| <= E + s_out/2,
 * plus 1e-5 of the accumulated magnitude for float rounding.
 *
 * With FA_NN_TIME=1 it also times four NanoDet-m-like layers (FP32 and
 * INT8, 1 and 2 threads) against the reference and prints the figures.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "nn/kernels.h"
#include "testutil.h"

typedef struct shape {
    const char *name;
    int n, c_in, h, w, c_out, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups, bias;
} shape;

static const shape SHAPES[] = {
    {"pointwise", 1, 16, 7, 9, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    {"pointwise odd channels b2", 2, 13, 5, 6, 29, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0},
    {"pointwise stride 2", 1, 8, 9, 10, 8, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, 1},
    {"depthwise 3x3 s1", 1, 32, 11, 13, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32, 1},
    {"depthwise 3x3 s2", 1, 24, 14, 15, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 24, 1},
    {"depthwise dilated 2x3", 1, 16, 12, 12, 16, 3, 3, 1, 1, 2, 3, 2, 3, 2, 3, 16, 1},
    {"dilated 3x3 d2", 1, 8, 15, 12, 16, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1},
    {"grouped g3", 1, 12, 9, 9, 18, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1},
    {"asymmetric pads", 1, 5, 10, 11, 7, 3, 3, 2, 2, 1, 1, 0, 1, 1, 0, 1, 1},
    {"odd 5x3 kernel", 1, 3, 17, 23, 5, 5, 3, 3, 2, 1, 1, 2, 1, 2, 1, 1, 1},
    {"batch 2 3x3", 2, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    {"stem 3x3 s2", 1, 3, 32, 32, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
};

static const fa_nn_act ACTS[] = {FA_NN_ACT_NONE, FA_NN_ACT_RELU, FA_NN_ACT_LEAKY, FA_NN_ACT_SIGMOID};

/* A parallel-for that runs serially but claims two threads, so the
 * backend asks oneDNN for two. */
static void serial_for_each(void *ud, size_t n, void (*fn)(void *arg, size_t i), void *arg) {
    (void)ud;
    for (size_t i = 0; i < n; i++)
        fn(arg, i);
}

static fa_nn_conv_params params_of(const shape *s, fa_nn_act act) {
    fa_nn_conv_params p = {
        .n = s->n, .c_in = s->c_in, .h_in = s->h, .w_in = s->w, .c_out = s->c_out,
        .kh = s->kh, .kw = s->kw, .stride_h = s->sh, .stride_w = s->sw, .dil_h = s->dh, .dil_w = s->dw,
        .pad_t = s->pt, .pad_l = s->pl, .pad_b = s->pb, .pad_r = s->pr, .groups = s->groups,
        .act = act, .alpha = 0.1f};
    p.h_out = (s->h + s->pt + s->pb - s->dh * (s->kh - 1) - 1) / s->sh + 1;
    p.w_out = (s->w + s->pl + s->pr - s->dw * (s->kw - 1) - 1) / s->sw + 1;
    return p;
}

static size_t in_count(const fa_nn_conv_params *p) {
    return (size_t)p->n * p->c_in * p->h_in * p->w_in;
}
static size_t out_count(const fa_nn_conv_params *p) {
    return (size_t)p->n * p->c_out * p->h_out * p->w_out;
}
static size_t w_count(const fa_nn_conv_params *p) {
    return (size_t)p->c_out * (p->c_in / p->groups) * p->kh * p->kw;
}

static void fill(float *v, size_t n, unsigned *seed, float lo, float hi) {
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        v[i] = lo + (hi - lo) * (float)((*seed >> 8) & 0xFFFF) / 65535.0f;
    }
}

static double act_of(const fa_nn_conv_params *p, double v) {
    switch (p->act) {
    case FA_NN_ACT_RELU: return v > 0 ? v : 0;
    case FA_NN_ACT_LEAKY: return v > 0 ? v : p->alpha * v;
    case FA_NN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    default: return v;
    }
}

/* Per-output extras the checks need: the accumulated magnitude
 * sum |x w| + |b| and the int8 error bound E (when wscale is given). */
typedef struct ref_out {
    double *val, *mag, *bound;
} ref_out;

/* One output element of the reference: act(sum x w + b). */
static void ref_point(const fa_nn_conv_params *p, const float *in, const float *w, const float *b, int n,
                      int oc, int oy, int ox, const float *wscale, float in_scale, double r[3]) {
    int icg = p->c_in / p->groups, g = oc / (p->c_out / p->groups);
    double acc = b ? b[oc] : 0, mag = b ? fabs(b[oc]) : 0, e = 0;
    for (int ic = 0; ic < icg; ic++)
        for (int ky = 0; ky < p->kh; ky++)
            for (int kx = 0; kx < p->kw; kx++) {
                int y = oy * p->stride_h - p->pad_t + ky * p->dil_h;
                int x = ox * p->stride_w - p->pad_l + kx * p->dil_w;
                if (y < 0 || y >= p->h_in || x < 0 || x >= p->w_in)
                    continue;
                double xv = in[(((size_t)n * p->c_in + g * icg + ic) * p->h_in + y) * p->w_in + x];
                double wv = w[(((size_t)oc * icg + ic) * p->kh + ky) * p->kw + kx];
                acc += xv * wv;
                mag += fabs(xv * wv);
                if (wscale)
                    e += fabs(xv) * wscale[oc] / 2 + fabs(wv) * in_scale / 2 + in_scale * wscale[oc] / 4;
            }
    r[0] = act_of(p, acc);
    r[1] = mag;
    r[2] = e;
}

static void ref_conv(const fa_nn_conv_params *p, const float *in, const float *w, const float *b,
                     const float *wscale, float in_scale, ref_out *o) {
    size_t i = 0;
    for (int n = 0; n < p->n; n++)
        for (int oc = 0; oc < p->c_out; oc++)
            for (int oy = 0; oy < p->h_out; oy++)
                for (int ox = 0; ox < p->w_out; ox++, i++) {
                    double r[3];
                    ref_point(p, in, w, b, n, oc, oy, ox, wscale, in_scale, r);
                    o->val[i] = r[0];
                    o->mag[i] = r[1];
                    if (o->bound)
                        o->bound[i] = r[2];
                }
}

/* The test data of one case. */
typedef struct conv_case {
    fa_nn_conv_params p;
    float *in, *w, *b, *out;
    ref_out ref;
} conv_case;

static void case_init(conv_case *k, const shape *s, fa_nn_act act, unsigned seed) {
    memset(k, 0, sizeof *k);
    k->p = params_of(s, act);
    k->in = malloc(sizeof(float) * in_count(&k->p));
    k->w = malloc(sizeof(float) * w_count(&k->p));
    k->b = s->bias ? malloc(sizeof(float) * (size_t)k->p.c_out) : NULL;
    k->out = malloc(sizeof(float) * out_count(&k->p));
    size_t no = out_count(&k->p);
    k->ref.val = malloc(sizeof(double) * no);
    k->ref.mag = malloc(sizeof(double) * no);
    k->ref.bound = malloc(sizeof(double) * no);
    assert_true(k->in && k->w && k->out && k->ref.val && k->ref.mag && k->ref.bound);
    fill(k->in, in_count(&k->p), &seed, -1.0f, 1.0f);
    fill(k->w, w_count(&k->p), &seed, -0.5f, 0.5f);
    if (k->b)
        fill(k->b, (size_t)k->p.c_out, &seed, -0.2f, 0.2f);
}

static void case_free(conv_case *k) {
    free(k->in);
    free(k->w);
    free(k->b);
    free(k->out);
    free(k->ref.val);
    free(k->ref.mag);
    free(k->ref.bound);
}

/* Prepares, runs with a workspace of exactly the reported size, frees. */
static void run_backend(const fa_nn_backend *be, conv_case *k, fa_nn_precision prec,
                        const fa_nn_int8_scales *sc, int threads) {
    fa_nn_parallel par = {serial_for_each, NULL, threads};
    fa_nn_conv *c = be->conv_prepare(&k->p, prec, k->w, k->b, sc);
    if (!c)
        fail_msg("prepare: %s", fa_err_msg());
    assert_true(be->conv_bytes(c) >= w_count(&k->p));
    size_t ws = be->conv_workspace(c, &par);
    void *work = ws ? malloc(ws) : NULL;
    assert_true(!ws || work);
    int rc = be->conv_run(c, k->in, k->out, work, &par);
    if (rc != 0)
        fail_msg("run: %s", fa_err_msg());
    free(work);
    be->conv_free(c);
}

static const fa_nn_backend *backend_or_skip(void) {
    const fa_nn_backend *be = fa_nn_backend_onednn();
    if (!be) {
        print_message("SKIP: built without oneDNN (FA_WITH_ONEDNN off)\n");
        skip();
    }
    assert_string_equal(be->name, "onednn");
    return be;
}

static void check_fp32(const conv_case *k, const char *name) {
    for (size_t i = 0; i < out_count(&k->p); i++) {
        double d = fabs(k->out[i] - k->ref.val[i]);
        if (d > 1e-4 * (k->ref.mag[i] + 1e-3))
            fail_msg("%s act %d: out[%zu] = %.7g, reference %.7g", name, (int)k->p.act, i, (double)k->out[i],
                     k->ref.val[i]);
    }
}

static void test_fp32_matches_reference(void **state) {
    (void)state;
    const fa_nn_backend *be = backend_or_skip();
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++)
        for (size_t a = 0; a < 4; a++) {
            conv_case k;
            case_init(&k, &SHAPES[s], ACTS[a], 17u + (unsigned)s);
            ref_conv(&k.p, k.in, k.w, k.b, NULL, 0, &k.ref);
            run_backend(be, &k, FA_NN_FP32, NULL, 1 + (int)(a % 2));
            check_fp32(&k, SHAPES[s].name);
            case_free(&k);
        }
}

static void int8_scales_of(const conv_case *k, float *wscale, fa_nn_int8_scales *sc) {
    size_t per_oc = w_count(&k->p) / (size_t)k->p.c_out;
    for (int oc = 0; oc < k->p.c_out; oc++) {
        float m = 0;
        for (size_t i = 0; i < per_oc; i++)
            m = fmaxf(m, fabsf(k->w[(size_t)oc * per_oc + i]));
        wscale[oc] = m / 127.0f;
    }
    float mx = 0;
    for (size_t i = 0; i < in_count(&k->p); i++)
        mx = fmaxf(mx, fabsf(k->in[i]));
    sc->in_scale = mx / 127.0f;
}

static void check_int8(const conv_case *k, float out_scale, const char *name) {
    for (size_t i = 0; i < out_count(&k->p); i++) {
        double bound = k->ref.bound[i] + out_scale / 2 + 1e-5 * (k->ref.mag[i] + 1);
        double d = fabs(k->out[i] - k->ref.val[i]);
        if (d > bound)
            fail_msg("%s act %d: int8 out[%zu] = %.7g, reference %.7g, bound %.3g", name, (int)k->p.act, i,
                     (double)k->out[i], k->ref.val[i], bound);
    }
}

static void test_int8_within_quantisation_bound(void **state) {
    (void)state;
    const fa_nn_backend *be = backend_or_skip();
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++)
        for (size_t a = 0; a < 4; a++) {
            conv_case k;
            case_init(&k, &SHAPES[s], ACTS[a], 101u + (unsigned)s);
            float *wscale = malloc(sizeof(float) * (size_t)k.p.c_out);
            assert_non_null(wscale);
            fa_nn_int8_scales sc = {.in_scale = 0};
            int8_scales_of(&k, wscale, &sc);
            ref_conv(&k.p, k.in, k.w, k.b, wscale, sc.in_scale, &k.ref);
            double mx = 0;
            for (size_t i = 0; i < out_count(&k.p); i++)
                mx = fmax(mx, fabs(k.ref.val[i]));
            sc.out_scale = (float)(1.25 * mx / 127.0);
            run_backend(be, &k, FA_NN_INT8, &sc, 1 + (int)(a % 2));
            check_int8(&k, sc.out_scale, SHAPES[s].name);
            free(wscale);
            case_free(&k);
        }
}

/* Prepare must fail with FA_EINVAL and a message containing want. */
static void expect_einval(const fa_nn_backend *be, const fa_nn_conv_params *p, fa_nn_precision prec,
                          const float *w, const fa_nn_int8_scales *sc, const char *want) {
    fa_err_clear();
    fa_nn_conv *c = be->conv_prepare(p, prec, w, NULL, sc);
    assert_null(c);
    assert_int_equal(fa_err_code(), FA_EINVAL);
    if (!strstr(fa_err_msg(), want))
        fail_msg("message '%s' lacks '%s'", fa_err_msg(), want);
}

static void test_bad_params_name_the_field(void **state) {
    (void)state;
    const fa_nn_backend *be = backend_or_skip();
    conv_case k;
    case_init(&k, &SHAPES[7], FA_NN_ACT_RELU, 5u); /* grouped g3: 12 -> 18 */
    fa_nn_conv_params p = k.p;
    fa_nn_int8_scales good = {.in_scale = 0.01f, .out_scale = 0.02f}, bad = {.in_scale = 0.01f};
    p.c_in = 0;
    expect_einval(be, &p, FA_NN_FP32, k.w, NULL, "field 'c_in'");
    p = k.p;
    p.groups = 5;
    expect_einval(be, &p, FA_NN_FP32, k.w, NULL, "field 'groups'");
    p = k.p;
    p.h_out += 1;
    expect_einval(be, &p, FA_NN_FP32, k.w, NULL, "field 'h_out': expected 9");
    p = k.p;
    p.pad_r = -1;
    expect_einval(be, &p, FA_NN_FP32, k.w, NULL, "field 'pad_r'");
    p = k.p;
    p.dil_w = 0;
    expect_einval(be, &p, FA_NN_FP32, k.w, NULL, "field 'dil_w'");
    p = k.p;
    p.act = (fa_nn_act)9;
    expect_einval(be, &p, FA_NN_FP32, k.w, NULL, "field 'act'");
    expect_einval(be, &k.p, FA_NN_FP32, NULL, NULL, "weights");
    expect_einval(be, &k.p, FA_NN_FP16, k.w, NULL, "fp16 not supported by this backend");
    expect_einval(be, &k.p, FA_NN_INT8, k.w, NULL, "scales");
    expect_einval(be, &k.p, FA_NN_INT8, k.w, &bad, "field 'out_scale'");
    fa_nn_conv *c = be->conv_prepare(&k.p, FA_NN_INT8, k.w, NULL, &good);
    assert_non_null(c);
    assert_int_equal(be->conv_run(c, NULL, k.out, NULL, NULL), FA_EINVAL);
    be->conv_free(c);
    case_free(&k);
}

/* One thread's share of the concurrency test: its own workspace and
 * output, 20 runs, each checked against the reference. */
typedef struct worker {
    const fa_nn_backend *be;
    const fa_nn_conv *c;
    const conv_case *k;
    int threads, failures;
} worker;

static void *worker_main(void *arg) {
    worker *w = arg;
    fa_nn_parallel par = {serial_for_each, NULL, w->threads};
    size_t n = out_count(&w->k->p), ws = w->be->conv_workspace(w->c, &par);
    float *out = malloc(sizeof(float) * n);
    void *work = malloc(ws ? ws : 1);
    for (int r = 0; r < 20 && out && work; r++) {
        memset(out, 0, sizeof(float) * n);
        if (w->be->conv_run(w->c, w->k->in, out, work, &par) != 0)
            w->failures++;
        for (size_t i = 0; i < n; i++)
            if (fabs(out[i] - w->k->ref.val[i]) > 1e-4 * (w->k->ref.mag[i] + 1e-3))
                w->failures++;
    }
    w->failures += !out || !work;
    free(out);
    free(work);
    return NULL;
}

static void test_concurrent_runs_of_one_op(void **state) {
    (void)state;
    const fa_nn_backend *be = backend_or_skip();
    conv_case k;
    case_init(&k, &SHAPES[10], FA_NN_ACT_LEAKY, 77u); /* batch 2 3x3 */
    ref_conv(&k.p, k.in, k.w, k.b, NULL, 0, &k.ref);
    fa_nn_conv *c = be->conv_prepare(&k.p, FA_NN_FP32, k.w, k.b, NULL);
    assert_non_null(c);
    worker w[3] = {{be, c, &k, 1, 0}, {be, c, &k, 2, 0}, {be, c, &k, 1, 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    be->conv_free(c);
    case_free(&k);
}

/* Many prepare/run/free cycles over both precisions: LeakSanitizer
 * (in the ASan build) fails the program if any of it is kept. */
static void test_cycles_do_not_leak(void **state) {
    (void)state;
    const fa_nn_backend *be = backend_or_skip();
    for (int round = 0; round < 30; round++) {
        conv_case k;
        const shape *s = &SHAPES[(size_t)round % (sizeof SHAPES / sizeof SHAPES[0])];
        case_init(&k, s, ACTS[round % 4], (unsigned)round);
        fa_nn_int8_scales sc = {.in_scale = 1.0f / 127, .out_scale = 4.0f / 127};
        run_backend(be, &k, round % 2 ? FA_NN_INT8 : FA_NN_FP32, &sc, 1);
        case_free(&k);
    }
}

/* ---------------------------------------------------- timing (FA_NN_TIME=1) */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median milliseconds per run (the machine is shared: the median resists
 * the runs another process preempted). */
static double time_backend(const fa_nn_backend *be, conv_case *k, fa_nn_precision prec,
                           const fa_nn_int8_scales *sc, int threads) {
    fa_nn_parallel par = {serial_for_each, NULL, threads};
    fa_nn_conv *c = be->conv_prepare(&k->p, prec, k->w, k->b, sc);
    assert_non_null(c);
    void *work = malloc(be->conv_workspace(c, &par) + 1);
    assert_non_null(work);
    assert_int_equal(be->conv_run(c, k->in, k->out, work, &par), 0); /* warm-up */
    double ms[200], start = now_s();
    int reps = 0;
    while (reps < 200 && (reps < 5 || now_s() - start < 1.0)) {
        double t0 = now_s();
        assert_int_equal(be->conv_run(c, k->in, k->out, work, &par), 0);
        ms[reps++] = (now_s() - t0) * 1e3;
    }
    free(work);
    be->conv_free(c);
    qsort(ms, (size_t)reps, sizeof ms[0], cmp_double);
    return ms[reps / 2];
}

static void time_layers(void) {
    static const shape LAYERS[] = {
        {"pw 116->116 26x26", 1, 116, 26, 26, 116, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
        {"dw 3x3 s2 116 52x52", 1, 116, 52, 52, 116, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 116, 1},
        {"stem 3x3 s2 3->24 416", 1, 3, 416, 416, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
        {"pw 232->232 13x13", 1, 232, 13, 13, 232, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},
    };
    const fa_nn_backend *be = fa_nn_backend_onednn();
    if (!be)
        return;
    printf("%-24s %9s %9s %9s %9s %9s  (ms per run)\n", "layer", "naive", "fp32 1t", "fp32 2t", "int8 1t",
           "int8 2t");
    for (size_t l = 0; l < 4; l++) {
        conv_case k;
        case_init(&k, &LAYERS[l], FA_NN_ACT_RELU, 7u);
        double t0 = now_s();
        ref_conv(&k.p, k.in, k.w, k.b, NULL, 0, &k.ref);
        double naive = (now_s() - t0) * 1e3;
        fa_nn_int8_scales sc = {.in_scale = 1.0f / 127, .out_scale = 8.0f / 127};
        printf("%-24s %9.3f %9.3f %9.3f %9.3f %9.3f\n", LAYERS[l].name, naive,
               time_backend(be, &k, FA_NN_FP32, NULL, 1), time_backend(be, &k, FA_NN_FP32, NULL, 2),
               time_backend(be, &k, FA_NN_INT8, &sc, 1), time_backend(be, &k, FA_NN_INT8, &sc, 2));
        case_free(&k);
    }
}

int main(void) {
    const char *t = getenv("FA_NN_TIME");
    if (t && strcmp(t, "1") == 0)
        time_layers();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp32_matches_reference),
        cmocka_unit_test(test_int8_within_quantisation_bound),
        cmocka_unit_test(test_concurrent_runs_of_one_op),
        cmocka_unit_test(test_bad_params_name_the_field),
        cmocka_unit_test(test_cycles_do_not_leak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
