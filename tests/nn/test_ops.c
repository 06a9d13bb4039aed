/*
 * test_ops.c - each non-convolution operator on small cases computed by
 * hand (Resize modes, Pad, Softmax axis in opset 11 and 13, Transpose,
 * Split, Gather, pooling with ceil_mode and pads, broadcasting Add), the
 * vector paths of pooling and softmax (bitwise equal to the portable ones,
 * and right by the definition) and the copy kernels on larger shapes, plus
 * the native convolution against the reference one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "graph_build.h"
#include "nn/nn_internal.h"
#include "testutil.h"

/* A graph with input x of dims and a node op reading ins (names; "" absent) writing n_out outputs. */
static one make(fa_nn_op op, const int64_t *dims, int rank, const char *const *ins, int n_out) {
    one o = {fa_nn_graph_new("ops.onnx"), 0};
    int x = tensor(o.g, "x", dims, rank, FA_NN_FLOAT, NULL);
    o.g->inputs[o.g->n_inputs++] = x;
    fa_nn_node *nd = fa_nn_graph_add_node(o.g, op);
    nd->name = fa_strdup("n");
    nd->in[nd->n_in++] = x;
    for (int i = 0; ins && ins[i]; i++)
        nd->in[nd->n_in++] = ins[i][0] ? fa_nn_graph_tensor_id(o.g, ins[i], strlen(ins[i]), 0) : -1;
    for (int i = 0; i < n_out; i++) {
        char name[8] = {'y', (char)('0' + i), 0};
        nd->out[nd->n_out++] = fa_nn_graph_tensor_id(o.g, name, 2, 1);
        o.g->outputs[o.g->n_outputs++] = nd->out[i];
    }
    return o;
}

static fa_nn_node *node(one *o) { return &o->g->nodes[o->node]; }

/* Infers and runs; returns output i's data (malloc'd) and shape. */
static float *run(one *o, const float *x, int want_out, fa_nn_shape *shape) {
    fa_nn_graph *g = o->g;
    fa_nn_shape *shapes = calloc(g->n_tensors, sizeof *shapes);
    if (fa_nn_graph_infer(g, shapes, 0) != 0) fail_msg("%s", fa_err_msg());
    void **bufs = calloc(g->n_tensors, sizeof *bufs);
    for (size_t i = 0; i < g->n_tensors; i++)
        bufs[i] = g->tensors[i].data;
    bufs[g->inputs[0]] = (void *)(uintptr_t)x;
    const fa_nn_node *nd = node(o);
    for (int i = 0; i < nd->n_out; i++)
        bufs[nd->out[i]] = calloc((size_t)fa_nn_shape_count(&shapes[nd->out[i]]) + 1, sizeof(float));
    if (fa_nn_op_run(g, nd, shapes, bufs) != 0) fail_msg("%s", fa_err_msg());
    float *y = bufs[nd->out[want_out]];
    *shape = shapes[nd->out[want_out]];
    for (int i = 0; i < nd->n_out; i++)
        if (i != want_out) free(bufs[nd->out[i]]);
    free(bufs);
    free(shapes);
    fa_nn_graph_free(g);
    return y;
}

static void expect(float *y, const fa_nn_shape *s, const int64_t *dims, int rank, const float *want,
                   double tol) {
    assert_int_equal(s->rank, rank);
    for (int i = 0; i < rank; i++)
        assert_int_equal(s->d[i], dims[i]);
    for (int64_t i = 0; i < fa_nn_shape_count(s); i++)
        if (!(fabs((double)y[i] - want[i]) <= tol))
            fail_msg("element %lld: %g, want %g", (long long)i, (double)y[i], (double)want[i]);
    free(y);
}

static const float iota[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                               16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static void test_resize_nearest(void **state) {
    (void)state;
    one o = make(FA_NN_OP_RESIZE, (int64_t[]){1, 1, 2, 2}, 4, (const char *[]){"", "scales", NULL}, 1);
    tensor(o.g, "scales", (int64_t[]){4}, 1, FA_NN_FLOAT, (float[]){1, 1, 2, 2});
    node(&o)->in[2] = fa_nn_graph_tensor_id(o.g, "scales", 6, 0);
    node(&o)->a.coord_mode = FA_NN_COORD_ASYMMETRIC;
    node(&o)->a.nearest_mode = FA_NN_NEAREST_FLOOR;
    fa_nn_shape s;
    float *y = run(&o, (float[]){1, 2, 3, 4}, 0, &s);
    expect(y, &s, (int64_t[]){1, 1, 4, 4}, 4, (float[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0);
}

static void test_resize_linear(void **state) {
    (void)state;
    /* pytorch_half_pixel, sizes 2x2 -> 4x4: source coords -0.25 (clamped to 0), 0.25, 0.75, 1.25 (to 1) */
    one o = make(FA_NN_OP_RESIZE, (int64_t[]){1, 1, 2, 2}, 4, (const char *[]){"", "", "sizes", NULL}, 1);
    tensor(o.g, "sizes", (int64_t[]){4}, 1, FA_NN_INT64, (int64_t[]){1, 1, 4, 4});
    node(&o)->in[3] = fa_nn_graph_tensor_id(o.g, "sizes", 5, 0);
    node(&o)->a.resize_mode = FA_NN_RESIZE_LINEAR;
    node(&o)->a.coord_mode = FA_NN_COORD_PYTORCH_HALF_PIXEL;
    fa_nn_shape s;
    float *y = run(&o, (float[]){1, 2, 3, 4}, 0, &s);
    expect(
        y, &s, (int64_t[]){1, 1, 4, 4}, 4,
        (float[]){1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4},
        1e-6);
    /* half_pixel 2 -> 3 along w (scale 1.5): coords -1/6 (clamped), 0.5, 7/6 (clamped) */
    o = make(FA_NN_OP_RESIZE, (int64_t[]){1, 1, 1, 2}, 4, (const char *[]){"", "", "sizes", NULL}, 1);
    tensor(o.g, "sizes", (int64_t[]){4}, 1, FA_NN_INT64, (int64_t[]){1, 1, 1, 3});
    node(&o)->in[3] = fa_nn_graph_tensor_id(o.g, "sizes", 5, 0);
    node(&o)->a.resize_mode = FA_NN_RESIZE_LINEAR;
    y = run(&o, (float[]){0, 6}, 0, &s);
    expect(y, &s, (int64_t[]){1, 1, 1, 3}, 4, (float[]){0, 3, 6}, 1e-6);
}

static void test_pad(void **state) {
    (void)state;
    one o = make(FA_NN_OP_PAD, (int64_t[]){1, 1, 2, 2}, 4, NULL, 1);
    int pads = tensor(o.g, "pads", (int64_t[]){8}, 1, FA_NN_INT64, (int64_t[]){0, 0, 1, 0, 0, 0, 0, 2});
    int v = tensor(o.g, "v", NULL, 0, FA_NN_FLOAT, (float[]){0.5f});
    node(&o)->in[node(&o)->n_in++] = pads;
    node(&o)->in[node(&o)->n_in++] = v;
    fa_nn_shape s;
    float *y = run(&o, (float[]){1, 2, 3, 4}, 0, &s);
    expect(y, &s, (int64_t[]){1, 1, 3, 4}, 4, (float[]){.5f, .5f, .5f, .5f, 1, 2, .5f, .5f, 3, 4, .5f, .5f},
           0);
}

static void test_softmax(void **state) {
    (void)state;
    double e = exp(1.0), sum = 1 + e + e * e + e * e * e;
    one o = make(FA_NN_OP_SOFTMAX, (int64_t[]){1, 2, 2}, 3, NULL, 1);
    o.g->opset = 11; /* axis 1 of [1,2,2]: the trailing 4 values together */
    fa_nn_shape s;
    float *y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){1, 2, 2}, 3,
           (float[]){(float)(1 / sum), (float)(e / sum), (float)(e * e / sum), (float)(e * e * e / sum)},
           1e-6);
    o = make(FA_NN_OP_SOFTMAX, (int64_t[]){1, 2, 2}, 3, NULL, 1);
    o.g->opset = 13; /* axis 1 only: pairs (0, 2) and (1, 3) */
    double lo = 1 / (1 + e * e), hi = e * e / (1 + e * e);
    y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){1, 2, 2}, 3, (float[]){(float)lo, (float)lo, (float)hi, (float)hi}, 1e-6);
    o = make(FA_NN_OP_SOFTMAX, (int64_t[]){2, 2}, 2, NULL, 1);
    o.g->opset = 11;
    node(&o)->a.axis = -1;
    y = run(&o, (float[]){0, 0, 1000, 1000}, 0, &s);
    expect(y, &s, (int64_t[]){2, 2}, 2, (float[]){.5f, .5f, .5f, .5f}, 1e-6);
}

static void test_transpose(void **state) {
    (void)state;
    one o = make(FA_NN_OP_TRANSPOSE, (int64_t[]){2, 3}, 2, NULL, 1); /* no perm: reversed */
    fa_nn_shape s;
    float *y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){3, 2}, 2, (float[]){0, 3, 1, 4, 2, 5}, 0);
    o = make(FA_NN_OP_TRANSPOSE, (int64_t[]){2, 2, 2}, 3, NULL, 1);
    node(&o)->a.n_perm = 3;
    memcpy(node(&o)->a.perm, (int[]){1, 0, 2}, 3 * sizeof(int));
    y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){2, 2, 2}, 3, (float[]){0, 1, 4, 5, 2, 3, 6, 7}, 0);
    o = make(FA_NN_OP_TRANSPOSE, (int64_t[]){1, 2, 1, 3}, 4, NULL, 1);
    node(&o)->a.n_perm = 4;
    memcpy(node(&o)->a.perm, (int[]){0, 2, 3, 1}, 4 * sizeof(int)); /* NCHW -> NHWC */
    y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){1, 1, 3, 2}, 4, (float[]){0, 3, 1, 4, 2, 5}, 0);
}

/* Random shapes (with size-1 dims) and permutations of ranks 1-5 against the
 * definition y[i_0..i_r] = x[i_perm^-1...], element by element. */
static void test_transpose_random(void **state) {
    (void)state;
    uint32_t r = 12345;
#define RND(n) (r = r * 1103515245u + 12345u, (int)((r >> 16) % (uint32_t)(n)))
    for (int trial = 0; trial < 300; trial++) {
        int rank = 1 + RND(5), perm[FA_NN_MAX_RANK];
        int64_t dims[FA_NN_MAX_RANK], n = 1;
        for (int i = 0; i < rank; i++)
            dims[i] = 1 + RND(4), n *= dims[i], perm[i] = i;
        for (int i = rank - 1; i > 0; i--) {
            int j = RND(i + 1), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        float *x = malloc((size_t)n * sizeof *x);
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)i;
        one o = make(FA_NN_OP_TRANSPOSE, dims, rank, NULL, 1);
        node(&o)->a.n_perm = rank;
        memcpy(node(&o)->a.perm, perm, (size_t)rank * sizeof(int));
        fa_nn_shape s;
        float *y = run(&o, x, 0, &s);
        int64_t idx[FA_NN_MAX_RANK] = {0};
        for (int64_t i = 0; i < n; i++) { /* idx: output coordinates of element i */
            int64_t src = 0;
            for (int a = 0; a < rank; a++) { /* input coordinate on axis a is idx[j] where perm[j] == a */
                int j = 0;
                while (perm[j] != a)
                    j++;
                src = src * dims[a] + idx[j];
            }
            if (y[i] != x[src])
                fail_msg("trial %d rank %d: y[%lld] = %g, expected %g", trial, rank, (long long)i,
                         (double)y[i], (double)x[src]);
            for (int d = rank - 1; d >= 0 && ++idx[d] == s.d[d]; d--)
                idx[d] = 0;
        }
        free(x);
        free(y);
    }
#undef RND
}

static void test_split(void **state) {
    (void)state;
    one o = make(FA_NN_OP_SPLIT, (int64_t[]){2, 4}, 2, NULL, 2);
    node(&o)->a.axis = 1;
    node(&o)->a.n_split = 2;
    node(&o)->a.split[0] = 1, node(&o)->a.split[1] = 3;
    fa_nn_shape s;
    float *y = run(&o, iota, 1, &s);
    expect(y, &s, (int64_t[]){2, 3}, 2, (float[]){1, 2, 3, 5, 6, 7}, 0);
    o = make(FA_NN_OP_SPLIT, (int64_t[]){1, 4, 1}, 3, NULL, 2); /* equal parts */
    node(&o)->a.axis = -2;
    y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){1, 2, 1}, 3, (float[]){0, 1}, 0);
}

static void test_gather(void **state) {
    (void)state;
    one o = make(FA_NN_OP_GATHER, (int64_t[]){3, 2}, 2, NULL, 1);
    node(&o)->in[node(&o)->n_in++] = tensor(o.g, "i", (int64_t[]){2}, 1, FA_NN_INT64, (int64_t[]){2, 0});
    fa_nn_shape s;
    float *y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){2, 2}, 2, (float[]){4, 5, 0, 1}, 0);
    o = make(FA_NN_OP_GATHER, (int64_t[]){2, 3}, 2, NULL, 1); /* scalar index -1 on axis 1 drops the axis */
    node(&o)->in[node(&o)->n_in++] = tensor(o.g, "i", NULL, 0, FA_NN_INT64, (int64_t[]){-1});
    node(&o)->a.axis = 1;
    y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){2}, 1, (float[]){2, 5}, 0);
}

static void test_pool(void **state) {
    (void)state;
    fa_nn_shape s;
    /* MaxPool 2x2 stride 2 ceil_mode on 3x3: the last windows hang over the edge */
    one o = make(FA_NN_OP_MAXPOOL, (int64_t[]){1, 1, 3, 3}, 4, NULL, 1);
    fa_nn_attrs *a = &node(&o)->a;
    a->kernel[0] = a->kernel[1] = 2, a->strides[0] = a->strides[1] = 2, a->ceil_mode = 1;
    float *y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){1, 1, 2, 2}, 4, (float[]){4, 5, 7, 8}, 0);
    /* AveragePool 3x3 stride 2 pads 1, padding excluded then included */
    for (int include = 0; include < 2; include++) {
        o = make(FA_NN_OP_AVGPOOL, (int64_t[]){1, 1, 3, 3}, 4, NULL, 1);
        a = &node(&o)->a;
        a->kernel[0] = a->kernel[1] = 3, a->strides[0] = a->strides[1] = 2;
        a->pads[0] = a->pads[1] = a->pads[2] = a->pads[3] = 1;
        a->count_include_pad = include;
        y = run(&o, iota, 0, &s);
        if (include)
            expect(y, &s, (int64_t[]){1, 1, 2, 2}, 4, (float[]){8 / 9.f, 12 / 9.f, 20 / 9.f, 24 / 9.f}, 1e-6);
        else
            expect(y, &s, (int64_t[]){1, 1, 2, 2}, 4, (float[]){2, 3, 5, 6}, 1e-6);
    }
    /* AveragePool 3x3 stride 2 ceil_mode on 4x4: 2x2 out, the last window clipped to 2x2 */
    o = make(FA_NN_OP_AVGPOOL, (int64_t[]){1, 1, 4, 4}, 4, NULL, 1);
    a = &node(&o)->a;
    a->kernel[0] = a->kernel[1] = 3, a->strides[0] = a->strides[1] = 2, a->ceil_mode = 1;
    y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){1, 1, 2, 2}, 4, (float[]){5, 6.5f, 11, 12.5f}, 1e-6);
}

/* ---- the vector paths (ops.c's AVX-512 copies) against the portable ones ----
 * Shapes FastestDet has and awkward ones (odd widths, masked tails, pads
 * on every side): each case runs twice, with FA_NN_NATIVE_ISA=generic and
 * with the CPU's best, the two outputs must be bitwise equal, and both
 * must match the operator's definition computed here. */

static float wave(int64_t i) { return (float)((i * 7919) % 101) / 10.0f - 5.0f; }

typedef struct pool_case {
    int64_t c, h, w;
    int k, s, pad, include, is_max;
} pool_case;

static one make_pool(const pool_case *pc) {
    fa_nn_op op = pc->is_max ? FA_NN_OP_MAXPOOL : FA_NN_OP_AVGPOOL;
    one o = make(op, (int64_t[]){1, pc->c, pc->h, pc->w}, 4, NULL, 1);
    fa_nn_attrs *a = &node(&o)->a;
    a->kernel[0] = a->kernel[1] = pc->k, a->strides[0] = a->strides[1] = pc->s;
    a->pads[0] = a->pads[1] = a->pads[2] = a->pads[3] = pc->pad;
    a->count_include_pad = pc->include;
    return o;
}

/* Runs a graph made by build(arg) on x with the ISA capped to generic, then
 * uncapped; fails unless bitwise equal. Returns the second output. */
static float *run_both(one (*build)(const void *), const void *arg, const float *x, fa_nn_shape *s) {
    one o = build(arg);
    setenv("FA_NN_NATIVE_ISA", "generic", 1);
    float *y0 = run(&o, x, 0, s);
    unsetenv("FA_NN_NATIVE_ISA");
    o = build(arg);
    float *y1 = run(&o, x, 0, s);
    if (memcmp(y0, y1, (size_t)fa_nn_shape_count(s) * sizeof *y0) != 0)
        fail_msg("the vector path differs from the portable one");
    free(y0);
    return y1;
}

static one build_pool(const void *arg) { return make_pool(arg); }

/* Pool output (ch, oh, ow) by the definition: windows clipped to the input. */
static double pool_ref(const pool_case *pc, const float *x, int64_t ch, int64_t oh, int64_t ow) {
    double m = -INFINITY, sum = 0;
    int64_t cells = 0;
    for (int64_t dy = 0; dy < pc->k; dy++)
        for (int64_t dx = 0; dx < pc->k; dx++) {
            int64_t iy = oh * pc->s - pc->pad + dy, ix = ow * pc->s - pc->pad + dx;
            if (iy < 0 || ix < 0 || iy >= pc->h || ix >= pc->w) continue;
            double v = x[(ch * pc->h + iy) * pc->w + ix];
            m = v > m ? v : m, sum += v, cells++;
        }
    return pc->is_max ? m : sum / (double)(pc->include ? pc->k * pc->k : cells);
}

static void test_pool_vector(void **state) {
    (void)state;
    const pool_case cases[] = {
        {3, 13, 37, 3, 2, 1, 0, 1}, {2, 176, 176, 3, 2, 1, 0, 1}, {2, 9, 21, 3, 1, 1, 0, 1},
        {2, 22, 22, 5, 1, 2, 0, 1}, {3, 46, 46, 3, 2, 0, 0, 0},   {2, 13, 35, 3, 2, 1, 0, 0},
        {2, 13, 35, 3, 2, 1, 1, 0}, {1, 7, 50, 3, 1, 1, 0, 0},    {1, 8, 9, 2, 2, 0, 0, 1},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const pool_case *pc = &cases[t];
        int64_t n = pc->c * pc->h * pc->w;
        float *x = malloc((size_t)n * sizeof *x);
        for (int64_t i = 0; i < n; i++)
            x[i] = wave(i);
        fa_nn_shape s;
        float *y = run_both(build_pool, pc, x, &s);
        int64_t oh_n = (pc->h + 2 * pc->pad - pc->k) / pc->s + 1;
        int64_t ow_n = (pc->w + 2 * pc->pad - pc->k) / pc->s + 1;
        assert_int_equal(s.d[2], oh_n);
        assert_int_equal(s.d[3], ow_n);
        for (int64_t ch = 0; ch < pc->c; ch++)
            for (int64_t oh = 0; oh < oh_n; oh++)
                for (int64_t ow = 0; ow < ow_n; ow++) {
                    double want = pool_ref(pc, x, ch, oh, ow), got = y[(ch * oh_n + oh) * ow_n + ow];
                    if (!(fabs(got - want) <= 1e-5))
                        fail_msg("case %zu (%lld, %lld, %lld): %g, want %g", t, (long long)ch, (long long)oh,
                                 (long long)ow, got, want);
                }
        free(x), free(y);
    }
}

typedef struct softmax_case {
    int64_t d[4];
    int axis, opset;
} softmax_case;

static one build_softmax(const void *arg) {
    const softmax_case *sc = arg;
    one o = make(FA_NN_OP_SOFTMAX, sc->d, 4, NULL, 1);
    o.g->opset = sc->opset;
    node(&o)->a.axis = sc->axis;
    return o;
}

/* Softmax along axis (opset 13: that dim alone) against expf in double sums. */
static void test_softmax_vector(void **state) {
    (void)state;
    const softmax_case cases[] = {
        {{1, 22, 22, 80}, 3, 13}, {{1, 80, 22, 22}, 1, 13}, {{2, 3, 5, 37}, 1, 13},
        {{1, 3, 1, 7}, 3, 13},    {{1, 2, 9, 19}, 1, 11},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const softmax_case *sc = &cases[t];
        int64_t n = sc->d[0] * sc->d[1] * sc->d[2] * sc->d[3], len = 1, inner = 1;
        for (int i = sc->axis; i < 4; i++) {
            int in_len = sc->opset < 13 || i == sc->axis;
            len *= in_len ? sc->d[i] : 1, inner *= in_len ? 1 : sc->d[i];
        }
        float *x = malloc((size_t)n * sizeof *x);
        for (int64_t i = 0; i < n; i++)
            x[i] = 3.0f * wave(i);
        fa_nn_shape s;
        float *y = run_both(build_softmax, sc, x, &s);
        for (int64_t o = 0; o < n / (len * inner); o++)
            for (int64_t i = 0; i < inner; i++) {
                const float *xp = x + o * len * inner + i;
                double mx = -INFINITY, sum = 0;
                for (int64_t k = 0; k < len; k++)
                    mx = xp[k * inner] > mx ? xp[k * inner] : mx;
                for (int64_t k = 0; k < len; k++)
                    sum += exp(xp[k * inner] - mx);
                for (int64_t k = 0; k < len; k++) {
                    double want = exp(xp[k * inner] - mx) / sum, got = y[o * len * inner + i + k * inner];
                    if (!(fabs(got - want) <= 2e-6 * want + 1e-12))
                        fail_msg("case %zu: %g, want %g", t, got, want);
                }
            }
        free(x), free(y);
    }
    /* a NaN input: no undefined conversion inside exp (UBSan), the NaN taken as the smallest */
    static const softmax_case nan_case = {{1, 1, 1, 20}, 3, 13};
    float x[20], sum = 0;
    for (int i = 0; i < 20; i++)
        x[i] = (float)i / 4.0f;
    x[3] = NAN;
    fa_nn_shape s;
    float *y = run_both(build_softmax, &nan_case, x, &s);
    for (int i = 0; i < 20; i++)
        sum += y[i];
    assert_true(y[3] < 1e-30f && fabsf(sum - 1.0f) < 1e-5f);
    free(y);
}

static one build_sigmoid(const void *arg) { return make(FA_NN_OP_SIGMOID, (const int64_t *)arg, 1, NULL, 1); }

/* Sigmoid on 1000 values (a masked tail) and the extremes: the vector and
 * portable paths bitwise equal, within 3e-7 of the definition, 0 and 1 at
 * the far ends without overflow, a NaN input (no undefined conversion
 * inside exp for UBSan) giving a value in [0, 1]. */
static void test_sigmoid_vector(void **state) {
    (void)state;
    static const int64_t n[1] = {1000};
    float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = 4.0f * wave(i);
    x[0] = 0, x[1] = -200, x[2] = 200, x[3] = -88.5f, x[4] = 87.5f, x[5] = NAN, x[6] = -INFINITY;
    fa_nn_shape s;
    float *y = run_both(build_sigmoid, n, x, &s);
    assert_true(y[0] == 0.5f);
    assert_true(y[1] >= 0 && y[1] < 1e-30f && y[2] == 1.0f && y[6] >= 0 && y[6] < 1e-30f);
    assert_true(y[5] >= 0 && y[5] <= 1);
    for (int i = 7; i < 1000; i++) {
        double want = 1 / (1 + exp(-(double)x[i]));
        if (!(fabs(y[i] - want) <= 3e-7)) fail_msg("sigmoid(%g) = %.9g, want %.9g", x[i], y[i], want);
    }
    free(y);
}

/* The 2-D tiled transpose (whole and partial 16 x 16 tiles), the 2x
 * nearest Resize and the plane-wise Pad against their definitions. */
static void test_copy_kernels(void **state) {
    (void)state;
    float *x = malloc(37 * 53 * sizeof *x);
    for (int i = 0; i < 37 * 53; i++)
        x[i] = wave(i);
    one o = make(FA_NN_OP_TRANSPOSE, (int64_t[]){1, 37, 53}, 3, NULL, 1);
    node(&o)->a.n_perm = 3;
    memcpy(node(&o)->a.perm, (int[]){0, 2, 1}, 3 * sizeof(int));
    fa_nn_shape s;
    float *y = run(&o, x, 0, &s);
    assert_int_equal(s.d[1], 53);
    for (int i = 0; i < 37; i++)
        for (int j = 0; j < 53; j++)
            assert_true(y[j * 37 + i] == x[i * 53 + j]);
    free(y);
    o = make(FA_NN_OP_RESIZE, (int64_t[]){1, 3, 5, 7}, 4, (const char *[]){"", "scales", NULL}, 1);
    tensor(o.g, "scales", (int64_t[]){4}, 1, FA_NN_FLOAT, (float[]){1, 1, 2, 2});
    node(&o)->in[2] = fa_nn_graph_tensor_id(o.g, "scales", 6, 0);
    node(&o)->a.coord_mode = FA_NN_COORD_ASYMMETRIC;
    node(&o)->a.nearest_mode = FA_NN_NEAREST_FLOOR;
    y = run(&o, x, 0, &s);
    assert_int_equal(s.d[2], 10);
    assert_int_equal(s.d[3], 14);
    for (int c = 0; c < 3; c++)
        for (int h = 0; h < 10; h++)
            for (int w = 0; w < 14; w++)
                assert_true(y[(c * 10 + h) * 14 + w] == x[(c * 5 + h / 2) * 7 + w / 2]);
    free(y);
    o = make(FA_NN_OP_PAD, (int64_t[]){1, 2, 3, 4}, 4, NULL, 1);
    int pads = tensor(o.g, "pads", (int64_t[]){8}, 1, FA_NN_INT64, (int64_t[]){0, 0, 2, 1, 0, 0, 1, 3});
    int v = tensor(o.g, "v", NULL, 0, FA_NN_FLOAT, (float[]){-0.5f});
    node(&o)->in[node(&o)->n_in++] = pads;
    node(&o)->in[node(&o)->n_in++] = v;
    y = run(&o, x, 0, &s);
    assert_int_equal(s.d[2], 6);
    assert_int_equal(s.d[3], 8);
    for (int c = 0; c < 2; c++)
        for (int h = 0; h < 6; h++)
            for (int w = 0; w < 8; w++) {
                int inside = h >= 2 && h < 5 && w >= 1 && w < 5;
                float want = inside ? x[(c * 3 + h - 2) * 4 + w - 1] : -0.5f;
                assert_true(y[(c * 6 + h) * 8 + w] == want);
            }
    free(y);
    free(x);
}

static void test_elementwise(void **state) {
    (void)state;
    fa_nn_shape s;
    one o = make(FA_NN_OP_ADD, (int64_t[]){2, 1}, 2, NULL, 1);
    node(&o)->in[node(&o)->n_in++] =
        tensor(o.g, "b", (int64_t[]){1, 3}, 2, FA_NN_FLOAT, (float[]){10, 20, 30});
    float *y = run(&o, (float[]){1, 2}, 0, &s);
    expect(y, &s, (int64_t[]){2, 3}, 2, (float[]){11, 21, 31, 12, 22, 32}, 0);
    o = make(FA_NN_OP_ADD, (int64_t[]){1, 3}, 2, NULL, 1); /* same shapes: the residual path */
    node(&o)->in[node(&o)->n_in++] =
        tensor(o.g, "b", (int64_t[]){1, 3}, 2, FA_NN_FLOAT, (float[]){10, 20, 30});
    y = run(&o, (float[]){1, 2, 3}, 0, &s);
    expect(y, &s, (int64_t[]){1, 3}, 2, (float[]){11, 22, 33}, 0);
    o = make(FA_NN_OP_LEAKY_RELU, (int64_t[]){4}, 1, NULL, 1);
    node(&o)->a.alpha = 0.1f;
    y = run(&o, (float[]){-2, -1, 0, 3}, 0, &s);
    expect(y, &s, (int64_t[]){4}, 1, (float[]){-0.2f, -0.1f, 0, 3}, 1e-7);
    o = make(FA_NN_OP_RELU, (int64_t[]){2}, 1, NULL, 1);
    y = run(&o, (float[]){-2, 3}, 0, &s);
    expect(y, &s, (int64_t[]){2}, 1, (float[]){0, 3}, 0);
    o = make(FA_NN_OP_SIGMOID, (int64_t[]){2}, 1, NULL, 1);
    y = run(&o, (float[]){0, 2}, 0, &s);
    expect(y, &s, (int64_t[]){2}, 1, (float[]){0.5f, (float)(1 / (1 + exp(-2.0)))}, 1e-7);
}

static void test_concat_reshape(void **state) {
    (void)state;
    fa_nn_shape s;
    one o = make(FA_NN_OP_CONCAT, (int64_t[]){1, 1, 2}, 3, NULL, 1);
    node(&o)->in[node(&o)->n_in++] =
        tensor(o.g, "b", (int64_t[]){1, 2, 2}, 3, FA_NN_FLOAT, (float[]){7, 8, 9, 10});
    node(&o)->a.axis = -2;
    float *y = run(&o, (float[]){1, 2}, 0, &s);
    expect(y, &s, (int64_t[]){1, 3, 2}, 3, (float[]){1, 2, 7, 8, 9, 10}, 0);
    o = make(FA_NN_OP_RESHAPE, (int64_t[]){2, 3, 4}, 3, NULL, 1);
    node(&o)->in[node(&o)->n_in++] = tensor(o.g, "t", (int64_t[]){3}, 1, FA_NN_INT64, (int64_t[]){0, -1, 2});
    y = run(&o, iota, 0, &s);
    expect(y, &s, (int64_t[]){2, 6, 2}, 3, iota, 0);
}

static void test_shape_errors(void **state) {
    (void)state;
    one o = make(FA_NN_OP_RESHAPE, (int64_t[]){2, 3}, 2, NULL, 1);
    node(&o)->in[node(&o)->n_in++] = tensor(o.g, "t", (int64_t[]){2}, 1, FA_NN_INT64, (int64_t[]){4, -1});
    fa_nn_shape shapes[8];
    assert_int_equal(fa_nn_graph_infer(o.g, shapes, 0), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "ops.onnx: node 'n' (Reshape): cannot infer -1 from 6 elements");
    fa_nn_graph_free(o.g);
    o = make(FA_NN_OP_GATHER, (int64_t[]){3}, 1, NULL, 1);
    node(&o)->in[node(&o)->n_in++] = tensor(o.g, "i", (int64_t[]){1}, 1, FA_NN_INT64, (int64_t[]){3});
    assert_int_equal(fa_nn_graph_infer(o.g, shapes, 0), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "ops.onnx: node 'n' (Gather): index 3 out of range [0, 3)");
    fa_nn_graph_free(o.g);
}

/* The native backend's convolution against the reference on awkward shapes. */
static void test_conv_native_vs_reference(void **state) {
    (void)state;
    static const fa_nn_conv_params cases[] = {
        {.n = 1,
         .c_in = 3,
         .h_in = 9,
         .w_in = 7,
         .c_out = 5,
         .kh = 3,
         .kw = 3,
         .stride_h = 2,
         .stride_w = 1,
         .dil_h = 1,
         .dil_w = 1,
         .pad_t = 1,
         .pad_l = 0,
         .pad_b = 2,
         .pad_r = 1,
         .groups = 1,
         .act = FA_NN_ACT_RELU},
        {.n = 1,
         .c_in = 8,
         .h_in = 6,
         .w_in = 6,
         .c_out = 8,
         .kh = 3,
         .kw = 3,
         .stride_h = 1,
         .stride_w = 1,
         .dil_h = 2,
         .dil_w = 2,
         .pad_t = 2,
         .pad_l = 2,
         .pad_b = 2,
         .pad_r = 2,
         .groups = 8,
         .act = FA_NN_ACT_LEAKY,
         .alpha = 0.1f},
        {.n = 1,
         .c_in = 4,
         .h_in = 5,
         .w_in = 5,
         .c_out = 6,
         .kh = 1,
         .kw = 1,
         .stride_h = 1,
         .stride_w = 1,
         .dil_h = 1,
         .dil_w = 1,
         .groups = 2,
         .act = FA_NN_ACT_SIGMOID},
    };
    const fa_nn_backend *be = fa_nn_backend_native();
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fa_nn_conv_params p = cases[c];
        p.h_out = (p.h_in + p.pad_t + p.pad_b - p.dil_h * (p.kh - 1) - 1) / p.stride_h + 1;
        p.w_out = (p.w_in + p.pad_l + p.pad_r - p.dil_w * (p.kw - 1) - 1) / p.stride_w + 1;
        size_t ni = (size_t)p.c_in * p.h_in * p.w_in,
               nw = (size_t)p.c_out * (p.c_in / p.groups) * p.kh * p.kw;
        size_t no = (size_t)p.c_out * p.h_out * p.w_out;
        float *in = malloc(ni * 4), *w = malloc(nw * 4), *b = malloc((size_t)p.c_out * 4);
        float *want = malloc(no * 4), *got = malloc(no * 4);
        for (size_t i = 0; i < ni; i++)
            in[i] = (float)((i * 7919) % 23) / 11.0f - 1.0f;
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)((i * 104729) % 17) / 8.0f - 1.0f;
        for (int i = 0; i < p.c_out; i++)
            b[i] = 0.1f * (float)i;
        fa_nn_conv_reference(&p, in, w, b, want);
        fa_nn_conv *conv = be->conv_prepare(&p, FA_NN_FP32, w, b, NULL);
        if (!conv) fail_msg("%s", fa_err_msg());
        fa_nn_parallel par = {NULL, NULL, 1};
        void *ws = malloc(be->conv_workspace(conv, &par) + 64);
        assert_int_equal(be->conv_run(conv, in, got, ws, &par), 0);
        for (size_t i = 0; i < no; i++)
            assert_float_equal(got[i], want[i], 1e-4);
        be->conv_free(conv);
        free(ws), free(in), free(w), free(b), free(want), free(got);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_nearest),
        cmocka_unit_test(test_resize_linear),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_transpose_random),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_pool_vector),
        cmocka_unit_test(test_softmax_vector),
        cmocka_unit_test(test_sigmoid_vector),
        cmocka_unit_test(test_copy_kernels),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_concat_reshape),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_conv_native_vs_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
