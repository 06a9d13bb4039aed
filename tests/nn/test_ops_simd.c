/*
 * test_ops_simd.c - the vector paths of ops.c added for NanoDet's PAN and
 * head (the separable bilinear Resize, the AVX-512 residual Add, the
 * batched 2-D Transpose) against the plain code they replaced, bitwise:
 * each case runs with FA_NN_OPS_FAST=0 (the old loops), with the ISA
 * capped to generic (the new portable code) and uncapped (AVX-512 where
 * the CPU has it), on odd sizes and tails, and on the shapes NanoDet-m
 * runs; the old Resize loop is also recomputed here from the operator's
 * own index tables. Last, NanoDet-m itself (FP32 and INT8, batch 2) must
 * give bitwise the same outputs with and without the new paths and the
 * session fusions of runtime.c (Resize + Add, the channel shuffle chain).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "graph_build.h"
#include "nn/nn_internal.h"
#include "testutil.h"

/* A graph: inputs x (dims) and, when dims_b, b; one node op writing y. */
static one make(fa_nn_op op, const int64_t *dims, int rank, const int64_t *dims_b) {
    one o = {fa_nn_graph_new("ops.onnx"), 0};
    int x = tensor(o.g, "x", dims, rank, FA_NN_FLOAT, NULL);
    o.g->inputs[o.g->n_inputs++] = x;
    fa_nn_node *nd = fa_nn_graph_add_node(o.g, op);
    nd->name = fa_strdup("n");
    nd->in[nd->n_in++] = x;
    if (dims_b) {
        nd->in[nd->n_in++] = tensor(o.g, "b", dims_b, rank, FA_NN_FLOAT, NULL);
        o.g->inputs[o.g->n_inputs++] = nd->in[1];
    }
    nd->out[nd->n_out++] = fa_nn_graph_tensor_id(o.g, "y", 1, 1);
    o.g->outputs[o.g->n_outputs++] = nd->out[0];
    return o;
}

static fa_nn_node *node(one *o) { return &o->g->nodes[o->node]; }

/* Infers and runs o (x, and b as input 1 when given); frees o's graph and
 * returns y (malloc'd), its shape in *s. */
static float *run(one *o, const float *x, const float *b, fa_nn_shape *s) {
    fa_nn_graph *g = o->g;
    fa_nn_shape *shapes = calloc(g->n_tensors, sizeof *shapes);
    if (fa_nn_graph_infer(g, shapes, 0) != 0) fail_msg("%s", fa_err_msg());
    void **bufs = calloc(g->n_tensors, sizeof *bufs);
    for (size_t i = 0; i < g->n_tensors; i++)
        bufs[i] = g->tensors[i].data;
    const fa_nn_node *nd = node(o);
    bufs[nd->in[0]] = (void *)(uintptr_t)x;
    if (b) bufs[nd->in[1]] = (void *)(uintptr_t)b;
    bufs[nd->out[0]] = calloc((size_t)fa_nn_shape_count(&shapes[nd->out[0]]) + 1, sizeof(float));
    if (fa_nn_op_run(g, nd, shapes, bufs) != 0) fail_msg("%s", fa_err_msg());
    float *y = bufs[nd->out[0]];
    *s = shapes[nd->out[0]];
    free(bufs);
    free(shapes);
    fa_nn_graph_free(g);
    return y;
}

/* Runs build(arg) three ways (old loops, new portable, new uncapped); fails
 * unless all three are bitwise equal. Returns the last output. */
static float *run_three(one (*build)(const void *), const void *arg, const float *x, const float *b,
                        fa_nn_shape *s) {
    one o = build(arg);
    setenv("FA_NN_OPS_FAST", "0", 1);
    float *old = run(&o, x, b, s);
    unsetenv("FA_NN_OPS_FAST");
    setenv("FA_NN_NATIVE_ISA", "generic", 1);
    o = build(arg);
    float *portable = run(&o, x, b, s);
    unsetenv("FA_NN_NATIVE_ISA");
    o = build(arg);
    float *wide = run(&o, x, b, s);
    size_t bytes = (size_t)fa_nn_shape_count(s) * sizeof *old;
    if (memcmp(old, portable, bytes) != 0) fail_msg("the portable path differs from the old loop");
    if (memcmp(old, wide, bytes) != 0) fail_msg("the vector path differs from the old loop");
    free(old);
    free(portable);
    return wide;
}

static float *random_floats(int64_t n, uint32_t seed) {
    float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((int32_t)(seed >> 8) % 20001 - 10000) / 997.0f;
    }
    return x;
}

/* ----------------------------------------------------------------- Resize */

typedef struct resize_case {
    int64_t planes, h, w, oh, ow;
    fa_nn_coord_mode coord;
} resize_case;

static one build_resize(const void *arg) {
    const resize_case *rc = arg;
    one o = make(FA_NN_OP_RESIZE, (int64_t[]){1, rc->planes, rc->h, rc->w}, 4, NULL);
    tensor(o.g, "sizes", (int64_t[]){4}, 1, FA_NN_INT64, (int64_t[]){1, rc->planes, rc->oh, rc->ow});
    fa_nn_node *nd = node(&o);
    nd->in[nd->n_in++] = -1;
    nd->in[nd->n_in++] = -1;
    nd->in[nd->n_in++] = fa_nn_graph_tensor_id(o.g, "sizes", 5, 0);
    nd->a.resize_mode = FA_NN_RESIZE_LINEAR;
    nd->a.coord_mode = rc->coord;
    return o;
}

/* The bilinear loop ops.c had before, from the operator's index tables. */
static void resize_reference(const resize_case *rc, const float *x, float *y) {
    one o = build_resize(rc);
    fa_nn_shape *shapes = calloc(o.g->n_tensors, sizeof *shapes);
    if (fa_nn_graph_infer(o.g, shapes, 0) != 0) fail_msg("%s", fa_err_msg());
    void **bufs = calloc(o.g->n_tensors, sizeof *bufs);
    size_t n = (size_t)(rc->oh + rc->ow);
    int64_t *i0 = malloc(2 * n * sizeof *i0), *i1 = i0 + n;
    float *wt = malloc(n * sizeof *wt);
    fa_nn_resize_tables(node(&o), shapes, bufs, i0, i1, wt);
    for (int64_t p = 0; p < rc->planes; p++)
        for (int64_t h = 0; h < rc->oh; h++) {
            const float *r0 = x + (p * rc->h + i0[h]) * rc->w, *r1 = x + (p * rc->h + i1[h]) * rc->w;
            for (int64_t w = 0; w < rc->ow; w++) {
                int64_t a0 = i0[rc->oh + w], a1 = i1[rc->oh + w];
                float fx = wt[rc->oh + w];
                float top = r0[a0] + (r0[a1] - r0[a0]) * fx, bot = r1[a0] + (r1[a1] - r1[a0]) * fx;
                y[(p * rc->oh + h) * rc->ow + w] = top + (bot - top) * wt[h];
            }
        }
    free(i0);
    free(wt);
    free(bufs);
    free(shapes);
    fa_nn_graph_free(o.g);
}

static void test_resize_bilinear(void **state) {
    (void)state;
    const resize_case cases[] = {
        {3, 13, 13, 26, 26, FA_NN_COORD_HALF_PIXEL}, /* NanoDet's PAN upsampling */
        {2, 26, 26, 52, 52, FA_NN_COORD_HALF_PIXEL},       {2, 52, 52, 26, 26, FA_NN_COORD_HALF_PIXEL},
        {2, 26, 26, 13, 13, FA_NN_COORD_HALF_PIXEL}, /* and its downsampling */
        {2, 7, 5, 17, 11, FA_NN_COORD_ALIGN_CORNERS},      {2, 5, 33, 9, 67, FA_NN_COORD_ASYMMETRIC},
        {1, 3, 40, 3, 9, FA_NN_COORD_HALF_PIXEL}, /* > 2x down: the gather */
        {1, 9, 100, 4, 7, FA_NN_COORD_PYTORCH_HALF_PIXEL}, {1, 1, 1, 3, 17, FA_NN_COORD_HALF_PIXEL},
        {2, 4, 17, 1, 1, FA_NN_COORD_PYTORCH_HALF_PIXEL},  {1, 6, 16, 12, 32, FA_NN_COORD_ALIGN_CORNERS},
        {1, 2, 31, 5, 47, FA_NN_COORD_HALF_PIXEL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const resize_case *rc = &cases[k];
        float *x = random_floats(rc->planes * rc->h * rc->w, (uint32_t)k + 1);
        int64_t n = rc->planes * rc->oh * rc->ow;
        float *want = malloc((size_t)n * sizeof *want);
        resize_reference(rc, x, want);
        fa_nn_shape s;
        float *y = run_three(build_resize, rc, x, NULL, &s);
        assert_int_equal(s.d[2], rc->oh);
        assert_int_equal(s.d[3], rc->ow);
        if (memcmp(y, want, (size_t)n * sizeof *y) != 0) fail_msg("case %zu differs from the reference", k);
        free(x);
        free(want);
        free(y);
    }
}

/* Exact values of one small case (2 -> 4, half_pixel), so the reference above is checked too. */
static void test_resize_values(void **state) {
    (void)state;
    resize_case rc = {1, 2, 2, 4, 4, FA_NN_COORD_HALF_PIXEL};
    fa_nn_shape s;
    float *y = run_three(build_resize, &rc, (float[]){1, 2, 3, 4}, NULL, &s);
    const float want[16] = {1,    1.25f, 1.75f, 2,    1.5f, 1.75f, 2.25f, 2.5f,
                            2.5f, 2.75f, 3.25f, 3.5f, 3,    3.25f, 3.75f, 4};
    for (int i = 0; i < 16; i++)
        assert_true(y[i] == want[i]);
    free(y);
}

/* -------------------------------------------------------------------- Add */

static one build_add(const void *arg) {
    int64_t n = *(const int64_t *)arg;
    return make(FA_NN_OP_ADD, (int64_t[]){1, n}, 2, (int64_t[]){1, n});
}

static void test_add(void **state) {
    (void)state;
    const int64_t sizes[] = {1, 15, 16, 17, 63, 64, 65, 127, 200, 96 * 13 * 13};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        float *a = random_floats(sizes[k], 7u + (uint32_t)k), *b = random_floats(sizes[k], 99u + (uint32_t)k);
        fa_nn_shape s;
        float *y = run_three(build_add, &sizes[k], a, b, &s);
        for (int64_t i = 0; i < sizes[k]; i++)
            if (y[i] != a[i] + b[i])
                fail_msg("n %lld: y[%lld] = %g", (long long)sizes[k], (long long)i, (double)y[i]);
        free(a);
        free(b);
        free(y);
    }
}

/* -------------------------------------------------------------- Transpose */

static one build_batched_transpose(const void *arg) {
    const int64_t *d = arg; /* [n][c][hw] -> [n][hw][c] */
    one o = make(FA_NN_OP_TRANSPOSE, (int64_t[]){d[0], d[1], d[2]}, 3, NULL);
    node(&o)->a.n_perm = 3;
    memcpy(node(&o)->a.perm, (int[]){0, 2, 1}, 3 * sizeof(int));
    return o;
}

static void test_transpose_batched(void **state) {
    (void)state;
    const int64_t shapes[][3] = {{4, 80, 169}, {2, 32, 16}, {3, 17, 33}, {2, 1, 5}, {2, 5, 1}, {5, 16, 16}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int64_t *d = shapes[k];
        int64_t n = d[0] * d[1] * d[2];
        float *x = malloc((size_t)n * sizeof *x);
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)i;
        fa_nn_shape s;
        float *y = run_three(build_batched_transpose, d, x, NULL, &s);
        assert_int_equal(s.d[1], d[2]);
        assert_int_equal(s.d[2], d[1]);
        for (int64_t b = 0; b < d[0]; b++)
            for (int64_t j = 0; j < d[2]; j++)
                for (int64_t c = 0; c < d[1]; c++)
                    if (y[(b * d[2] + j) * d[1] + c] != x[(b * d[1] + c) * d[2] + j])
                        fail_msg("shape %zu: y[%lld][%lld][%lld] wrong", k, (long long)b, (long long)j,
                                 (long long)c);
        free(x);
        free(y);
    }
}

/* ------------------------------------------------------- session fusions */

static int gtensor(fa_nn_graph *g, const char *name, int rank, const int64_t *shape) {
    int id = fa_nn_graph_tensor_id(g, name, strlen(name), 1);
    assert_true(id >= 0);
    g->tensors[id].rank = rank;
    if (rank) memcpy(g->tensors[id].shape, shape, (size_t)rank * sizeof *shape);
    return id;
}

static int gints(fa_nn_graph *g, const char *name, int n, const int64_t *v) {
    int id = gtensor(g, name, 1, (int64_t[]){n});
    g->tensors[id].dtype = FA_NN_INT64;
    assert_non_null(g->tensors[id].data = malloc((size_t)n * sizeof *v));
    memcpy(g->tensors[id].data, v, (size_t)n * sizeof *v);
    return id;
}

/* Adds node op reading in[0 .. n_in) (-1: absent) writing the n_out tensors out. */
static fa_nn_node *gnode(fa_nn_graph *g, fa_nn_op op, int n_in, const int *in, int n_out, const int *out) {
    fa_nn_node *nd = fa_nn_graph_add_node(g, op);
    assert_non_null(nd);
    char name[32];
    snprintf(name, sizeof name, "%s_%zu", fa_nn_op_name(op), g->n_nodes);
    assert_non_null(nd->name = fa_strdup(name));
    nd->n_in = n_in, nd->n_out = n_out;
    memcpy(nd->in, in, (size_t)n_in * sizeof *in);
    memcpy(nd->out, out, (size_t)n_out * sizeof *out);
    return nd;
}

static int gt(fa_nn_graph *g, const char *name) { return gtensor(g, name, 0, NULL); }

/* NanoDet-m's non-conv patterns on odd sizes, file batch 1 (sessions
 * scale it): x [1,20,5,8] -> Relu, Sigmoid -> Concat -> Reshape
 * [1,2,20,40] -> Transpose (0,2,1,3) -> Reshape [1,40,5,8] -> Split 7, 33
 * (the shuffle chain); part 0 -> bilinear Resize to 11 x 17 + a nearest
 * one (Resize + Add); part 1 -> Relu -> Split 17, 16, then Sigmoid ->
 * Reshape [1,17,40] -> Transpose (0,2,1) and Reshape [1,16,40] ->
 * Transpose (0,2,1) (a head: Split read in place, Sigmoid in the
 * Transpose). Outputs: the sum [1,7,11,17], [1,40,17], [1,40,16]. */
static fa_nn_graph *fusion_graph(void) {
    fa_nn_graph *g = fa_nn_graph_new("fusions.onnx");
    assert_non_null(g);
    int x = gtensor(g, "x", 4, (int64_t[]){1, 20, 5, 8}), a = gt(g, "a"), b = gt(g, "b"), c = gt(g, "c");
    int r1 = gt(g, "r1"), t1 = gt(g, "t1"), r2 = gt(g, "r2"), s0 = gt(g, "s0"), s1 = gt(g, "s1");
    int up = gt(g, "up"), near = gt(g, "near"), sum = gt(g, "sum"), h = gt(g, "h"), h0 = gt(g, "h0");
    int h1 = gt(g, "h1"), sg = gt(g, "sg"), q0 = gt(g, "q0"), q1 = gt(g, "q1"), cls = gt(g, "cls");
    int box = gt(g, "box");
    g->inputs[g->n_inputs++] = x;
    g->outputs[g->n_outputs++] = sum;
    g->outputs[g->n_outputs++] = cls;
    g->outputs[g->n_outputs++] = box;
    gnode(g, FA_NN_OP_RELU, 1, &x, 1, &a);
    gnode(g, FA_NN_OP_SIGMOID, 1, &x, 1, &b);
    gnode(g, FA_NN_OP_CONCAT, 2, (int[]){a, b}, 1, &c)->a.axis = 1;
    gnode(g, FA_NN_OP_RESHAPE, 2, (int[]){c, gints(g, "k1", 4, (int64_t[]){1, 2, 20, 40})}, 1, &r1);
    fa_nn_node *nd = gnode(g, FA_NN_OP_TRANSPOSE, 1, &r1, 1, &t1);
    nd->a.n_perm = 4;
    memcpy(nd->a.perm, (int[]){0, 2, 1, 3}, 4 * sizeof(int));
    gnode(g, FA_NN_OP_RESHAPE, 2, (int[]){t1, gints(g, "k2", 4, (int64_t[]){1, 40, 5, 8})}, 1, &r2);
    nd = gnode(g, FA_NN_OP_SPLIT, 1, &r2, 2, (int[]){s0, s1});
    nd->a.axis = 1, nd->a.n_split = 2, nd->a.split[0] = 7, nd->a.split[1] = 33;
    int sizes = gints(g, "sizes", 4, (int64_t[]){1, 7, 11, 17});
    nd = gnode(g, FA_NN_OP_RESIZE, 4, (int[]){s0, -1, -1, sizes}, 1, &up);
    nd->a.resize_mode = FA_NN_RESIZE_LINEAR, nd->a.coord_mode = FA_NN_COORD_HALF_PIXEL;
    nd = gnode(g, FA_NN_OP_RESIZE, 4, (int[]){s0, -1, -1, sizes}, 1, &near);
    nd->a.resize_mode = FA_NN_RESIZE_NEAREST, nd->a.coord_mode = FA_NN_COORD_ASYMMETRIC;
    nd->a.nearest_mode = FA_NN_NEAREST_FLOOR;
    gnode(g, FA_NN_OP_ADD, 2, (int[]){near, up}, 1, &sum);
    gnode(g, FA_NN_OP_RELU, 1, &s1, 1, &h);
    nd = gnode(g, FA_NN_OP_SPLIT, 1, &h, 2, (int[]){h0, h1});
    nd->a.axis = 1, nd->a.n_split = 2, nd->a.split[0] = 17, nd->a.split[1] = 16;
    gnode(g, FA_NN_OP_SIGMOID, 1, &h0, 1, &sg);
    gnode(g, FA_NN_OP_RESHAPE, 2, (int[]){sg, gints(g, "k3", 3, (int64_t[]){1, 17, 40})}, 1, &q0);
    nd = gnode(g, FA_NN_OP_TRANSPOSE, 1, &q0, 1, &cls);
    nd->a.n_perm = 3;
    memcpy(nd->a.perm, (int[]){0, 2, 1}, 3 * sizeof(int));
    gnode(g, FA_NN_OP_RESHAPE, 2, (int[]){h1, gints(g, "k4", 3, (int64_t[]){1, 16, 40})}, 1, &q1);
    nd = gnode(g, FA_NN_OP_TRANSPOSE, 1, &q1, 1, &box);
    nd->a.n_perm = 3;
    memcpy(nd->a.perm, (int[]){0, 2, 1}, 3 * sizeof(int));
    return g;
}

/* fusion_graph's three outputs at batch 3, one after the other (malloc'd). */
static float *fusion_outputs(const float *x) {
    fa_nn_options o = {.backend = "native"};
    fa_nn_model *m = fa_nn_model_from_graph(fusion_graph(), &o);
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_session *s = fa_nn_session_new(m, 3);
    if (!s) fail_msg("%s", fa_err_msg());
    float *y[3];
    if (fa_nn_run(s, x, y) != 0) fail_msg("%s", fa_err_msg());
    const size_t n[3] = {3 * 7 * 11 * 17, 3 * 40 * 17, 3 * 40 * 16};
    float *all = malloc((n[0] + n[1] + n[2]) * sizeof *all);
    memcpy(all, y[0], n[0] * sizeof *all);
    memcpy(all + n[0], y[1], n[1] * sizeof *all);
    memcpy(all + n[0] + n[1], y[2], n[2] * sizeof *all);
    fa_nn_session_free(s);
    fa_nn_model_free(m);
    return all;
}

static void test_session_fusions(void **state) {
    (void)state;
    float *x = random_floats(3 * 20 * 5 * 8, 31u);
    size_t bytes = (3 * 7 * 11 * 17 + 3 * 40 * 17 + 3 * 40 * 16) * sizeof(float);
    setenv("FA_NN_OPS_FAST", "0", 1);
    float *old = fusion_outputs(x);
    unsetenv("FA_NN_OPS_FAST");
    setenv("FA_NN_NATIVE_ISA", "generic", 1);
    float *portable = fusion_outputs(x);
    unsetenv("FA_NN_NATIVE_ISA");
    float *wide = fusion_outputs(x);
    if (memcmp(old, portable, bytes) != 0) fail_msg("fused (portable) differs from unfused");
    if (memcmp(old, wide, bytes) != 0) fail_msg("fused (vector) differs from unfused");
    /* spot checks by the definition: box[n][j][k] = relu(part 1 channel 17 + k)[j] */
    const float *box = old + 3 * 7 * 11 * 17 + 3 * 40 * 17;
    for (int n = 0; n < 3; n++)
        for (int j = 0; j < 40; j += 13)
            for (int k = 0; k < 16; k += 5) {
                int ch = 7 + 17 + k; /* channel of r2: t1 [20][2][40] -> channel ch = (ch / 2, ch % 2) */
                float v = x[(n * 20 + ch / 2) * 40 + j];
                float want = ch % 2 ? 1.0f / (1.0f + expf(-v)) : (v > 0 ? v : 0);
                want = want > 0 ? want : 0;
                assert_float_equal(box[(n * 40 + j) * 16 + k], want, 1e-6);
            }
    free(old);
    free(portable);
    free(wide);
    free(x);
}

/* ------------------------------------------------------------ whole model */

/* Model path (NanoDet-m, or its .fanq) at batch 2: every output; malloc'd, total count in *n. */
static float *nanodet_outputs(const char *path, const float *input, size_t *n) {
    fa_nn_options o = {.backend = "native", .precision = FA_NN_FP32};
    fa_nn_model *m = fa_nn_model_load(path, &o);
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_session *s = fa_nn_session_new(m, 2);
    if (!s) fail_msg("%s", fa_err_msg());
    float *outs[16];
    if (fa_nn_run(s, input, outs) != 0) fail_msg("%s", fa_err_msg());
    size_t total = 0, counts[16];
    for (int i = 0; i < fa_nn_model_output_count(m); i++) {
        int64_t shape[FA_NN_MAX_RANK];
        int rank = 0;
        assert_non_null(fa_nn_session_output(s, i, shape, &rank));
        counts[i] = 1;
        for (int d = 0; d < rank; d++)
            counts[i] *= (size_t)shape[d];
        total += counts[i];
    }
    float *all = malloc(total * sizeof *all), *at = all;
    for (int i = 0; i < fa_nn_model_output_count(m); i++, at += counts[i - 1])
        memcpy(at, outs[i], counts[i] * sizeof *at);
    fa_nn_session_free(s);
    fa_nn_model_free(m);
    *n = total;
    return all;
}

/* Fails unless the model at path gives bitwise the same outputs with the
 * fast paths and fusions (runtime.c) as without them. */
static void expect_same_outputs(const char *path, const float *input) {
    size_t n_old = 0, n_new = 0;
    setenv("FA_NN_OPS_FAST", "0", 1);
    float *old = nanodet_outputs(path, input, &n_old);
    unsetenv("FA_NN_OPS_FAST");
    float *now = nanodet_outputs(path, input, &n_new);
    assert_int_equal(n_old, n_new);
    assert_int_equal(n_new, 2 * 3549 * 112);
    if (memcmp(old, now, n_new * sizeof *now) != 0) fail_msg("%s: the outputs changed", path);
    free(old);
    free(now);
}

static float *nanodet_input(void) {
    float *input = random_floats(2 * 3 * 416 * 416, 2026u);
    for (int64_t i = 0; i < 2 * 3 * 416 * 416; i++)
        input[i] *= 0.2f;
    return input;
}

static void test_nanodet_bitwise(void **state) {
    (void)state;
    const char *path = fa_test_data("models/nanodet-m/nanodet_m_416.onnx");
    FA_TEST_REQUIRE_DATA(path);
    float *input = nanodet_input();
    expect_same_outputs(path, input);
    free(input);
}

/* The same for NanoDet-m INT8 (calibrated here on one input, which runs
 * unfused under the observer): its channel shuffles move int8 bytes. */
static void test_nanodet_int8_bitwise(void **state) {
    (void)state;
    const char *src = fa_test_data("models/nanodet-m/nanodet_m_416.onnx");
    FA_TEST_REQUIRE_DATA(src);
    fa_nn_options o = {.backend = "native", .precision = FA_NN_FP32};
    fa_nn_model *m = fa_nn_model_load(src, &o);
    if (!m) fail_msg("%s", fa_err_msg());
    float *input = nanodet_input();
    const float *calib[1] = {input};
    fa_nn_quant *q = fa_nn_calibrate(m, calib, 1, NULL);
    if (!q) fail_msg("%s", fa_err_msg());
    char *dir = fa_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/nd.fanq", dir);
    assert_int_equal(fa_nn_quant_save(q, path), 0);
    fa_nn_quant_free(q);
    fa_nn_model_free(m);
    expect_same_outputs(path, input);
    free(input);
    fa_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_bilinear),
        cmocka_unit_test(test_resize_values),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_transpose_batched),
        cmocka_unit_test(test_session_fusions),
        cmocka_unit_test(test_nanodet_bitwise),
        cmocka_unit_test(test_nanodet_int8_bitwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
