/*
 * test_shuffle.c - the channel-shuffle fusion (src/nn/fuse_shuffle.c):
 * the exact node count it removes from FastestDet, the exact inputs,
 * outputs and channel tables of its shuffles once composed, NanoDet-m left as it is (its Split-ended shuffles
 * run int8 in INT8 models), FastestDet's outputs bitwise equal to the
 * unfused graph's (FA_NN_NO_SHUFFLE_FUSION=1) at batch 1 and 2, the fused
 * graph's CUDA lowering run by the host interpreter, and a small
 * hand-built graph: a shuffle ending in Gathers that are graph outputs is
 * fused and gives the hand-computed result at batch 2; the same chain
 * with a permutation that mixes channel and spatial elements is not.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/cuda.h"
#include "nn/nn.h"
#include "nn/nn_internal.h"
#include "testutil.h"

#define FASTESTDET "models/fastestdet/FastestDet.onnx"
#define NANODET "models/nanodet-m/nanodet_m_416.onnx"

static void fusion(int on) {
    if (on)
        unsetenv("FA_NN_NO_SHUFFLE_FUSION");
    else
        setenv("FA_NN_NO_SHUFFLE_FUSION", "1", 1);
}

static fa_nn_graph *prepared(const char *rel, int fused) {
    FA_TEST_REQUIRE_DATA(fa_test_data(rel));
    fa_nn_graph *g = fa_nn_onnx_load(fa_test_data(rel));
    if (!g) fail_msg("%s", fa_err_msg());
    fusion(fused);
    int rc = fa_nn_graph_prepare(g);
    fusion(1);
    if (rc) fail_msg("%s", fa_err_msg());
    return g;
}

static size_t live_nodes(const fa_nn_graph *g) {
    size_t n = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        n += !g->nodes[i].dead;
    return n;
}

/* Checks the counts and returns the first fused shuffle's node. */
static const fa_nn_node *check_counts(const fa_nn_graph *g, const fa_nn_graph *plain, size_t shuffles,
                                      size_t removed) {
    assert_int_equal(g->n_shuffles, shuffles);
    assert_int_equal(plain->n_shuffles, 0);
    assert_int_equal(live_nodes(plain) - live_nodes(g), removed);
    assert_int_equal(g->n_nodes, plain->n_nodes);
    assert_int_equal(g->n_tensors, plain->n_tensors);
    for (size_t i = 0; i < g->n_shuffles; i++) {
        const fa_nn_node *nd = &g->nodes[g->shuffles[i].node];
        assert_ptr_equal(fa_nn_node_shuffle(g, nd), &g->shuffles[i]);
        assert_int_equal(nd->op, FA_NN_OP_GATHER);
        assert_int_equal(plain->nodes[g->shuffles[i].node].op, FA_NN_OP_CONCAT);
    }
    return &g->nodes[g->shuffles[0].node];
}

/* FastestDet: x.reshape(C/2, 2, HW).permute(1, 0, 2), then x[0], x[1]:
 * output t channel k is concatenation channel 2k + t. 13 units, each
 * Concat + Reshape + Transpose + Reshape + 2 Gathers -> 1 node; then each
 * unit's pass-through half x[0] is read by the next unit's shuffle from
 * where it came from, so a stage's n-th shuffle reads n + 1 tensors and
 * only a stage's last one still writes its x[0] (for the stage's Concat). */
static void test_fastestdet_counts(void **state) {
    (void)state;
    fa_nn_graph *g = prepared(FASTESTDET, 1), *plain = prepared(FASTESTDET, 0);
    check_counts(g, plain, 13, 13 * 5);
    static const int want_in[13] = {2, 3, 4, 2, 3, 4, 5, 6, 7, 8, 2, 3, 4};
    static const int want_out[13] = {1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 2};
    for (int i = 0; i < 13; i++) {
        assert_int_equal(g->nodes[g->shuffles[i].node].n_in, want_in[i]);
        assert_int_equal(g->shuffles[i].n_out, want_out[i]);
        assert_int_equal(g->nodes[g->shuffles[i].node].n_out, want_out[i]);
    }
    /* unit 1 reads [A1, B1] and writes x[1] only: channel k = 2k + 1 */
    const fa_nn_shuffle *sh = &g->shuffles[0];
    assert_int_equal(sh->n_channels, 48);
    assert_int_equal(sh->channels[0], 24);
    for (int k = 0; k < 24; k++)
        assert_int_equal(sh->src[k], 2 * k + 1);
    /* unit 2 reads [B2, A1, B1]: its x[1] channel k < 12 is unit 1's x[0]
     * channel 2k + 1 = [A1 B1] channel 4k + 2, k >= 12 is B2 channel 2k + 1 - 24 */
    sh = &g->shuffles[1];
    assert_int_equal(sh->n_channels, 72);
    assert_int_equal(g->nodes[sh->node].in[1], plain->nodes[g->shuffles[0].node].in[0]);
    assert_int_equal(g->nodes[sh->node].in[2], plain->nodes[g->shuffles[0].node].in[1]);
    for (int k = 0; k < 24; k++)
        assert_int_equal(sh->src[k], k < 12 ? 24 + 4 * k + 2 : 2 * k + 1 - 24);
    assert_null(fa_nn_node_shuffle(plain, &plain->nodes[sh->node]));
    fa_nn_graph_free(g);
    fa_nn_graph_free(plain);
}

/* NanoDet-m: the classic shuffle y[j] = x[(j % 2) * C/2 + j / 2], then a
 * Split in halves or nothing: only moves that INT8 models run on bytes, so
 * left alone (the same live nodes, 16 Concats, no shuffle). */
static void test_nanodet_untouched(void **state) {
    (void)state;
    fa_nn_graph *g = prepared(NANODET, 1), *plain = prepared(NANODET, 0);
    assert_int_equal(g->n_shuffles, 0);
    assert_int_equal(live_nodes(g), live_nodes(plain));
    assert_int_equal(live_nodes(g), 177);
    size_t concats = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        assert_int_equal(g->nodes[i].op, plain->nodes[i].op);
        assert_int_equal(g->nodes[i].dead, plain->nodes[i].dead);
        concats += !g->nodes[i].dead && g->nodes[i].op == FA_NN_OP_CONCAT;
    }
    assert_int_equal(concats, 16);
    fa_nn_graph_free(g);
    fa_nn_graph_free(plain);
}

static float *pseudo_random(size_t n) {
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 24);
    }
    return x;
}

static fa_nn_model *load(const char *rel, int fused) {
    fa_nn_options o = {.backend = "native"};
    fusion(fused);
    fa_nn_model *m = fa_nn_model_load(fa_test_data(rel), &o);
    fusion(1);
    if (!m) fail_msg("%s", fa_err_msg());
    return m;
}

/* Fused and unfused runs of a model give bitwise equal outputs, and (lower
 * set) the fused session's CUDA program, run by the host interpreter with
 * the slow reference convolution, agrees within 1e-4. */
static void check_same_outputs(const char *rel, int batch, int lower) {
    FA_TEST_REQUIRE_DATA(fa_test_data(rel));
    fa_nn_model *m = load(rel, 1), *plain = load(rel, 0);
    fa_nn_session *s = fa_nn_session_new(m, batch), *sp = fa_nn_session_new(plain, batch);
    assert_non_null(s);
    assert_non_null(sp);
    const fa_nn_graph *g = fa_nn_model_graph(m);
    size_t n_in = 1;
    for (int i = 1; i < g->tensors[g->inputs[0]].rank; i++)
        n_in *= (size_t)g->tensors[g->inputs[0]].shape[i];
    float *x = pseudo_random(n_in * (size_t)batch), *outs[16], *outs_plain[16], *host[16] = {0};
    assert_int_equal(fa_nn_run(s, x, outs), 0);
    assert_int_equal(fa_nn_run(sp, x, outs_plain), 0);
    fa_cuda_program *p = lower ? fa_nn_session_lower(s, 0) : NULL;
    if (lower && !p) fail_msg("%s", fa_err_msg());
    for (int i = 0; p && i < g->n_outputs; i++)
        assert_non_null(host[i] = malloc((size_t)p->out_count[i] * sizeof(float)));
    if (p) assert_int_equal(fa_nn_cuda_program_run_host(p, x, host), 0);
    for (int i = 0; i < g->n_outputs; i++) {
        int64_t shape[FA_NN_MAX_RANK];
        int rank = 0;
        assert_non_null(fa_nn_session_output(s, i, shape, &rank));
        int64_t n = 1;
        for (int d = 0; d < rank; d++)
            n *= shape[d];
        assert_int_equal(shape[0], batch);
        assert_memory_equal(outs[i], outs_plain[i], (size_t)n * sizeof(float));
        if (!p) continue;
        assert_int_equal(p->out_count[i], n);
        double worst = 0;
        for (int64_t k = 0; k < n; k++)
            worst = fmax(worst, fabs((double)host[i][k] - outs[i][k]));
        assert_true(worst < 1e-4);
        free(host[i]);
    }
    fa_nn_cuda_program_free(p);
    free(x);
    fa_nn_session_free(s);
    fa_nn_session_free(sp);
    fa_nn_model_free(m);
    fa_nn_model_free(plain);
}

static void test_fastestdet_outputs(void **state) {
    (void)state;
    check_same_outputs(FASTESTDET, 1, 0);
    check_same_outputs(FASTESTDET, 2, 1);
}

/* ------------------------------------------------ a hand-built graph */

static int tensor(fa_nn_graph *g, const char *name, int rank, const int64_t *shape) {
    int id = fa_nn_graph_tensor_id(g, name, strlen(name), 1);
    assert_true(id >= 0);
    g->tensors[id].rank = rank;
    if (rank) memcpy(g->tensors[id].shape, shape, (size_t)rank * sizeof *shape);
    return id;
}

static int ints(fa_nn_graph *g, const char *name, int n, const int64_t *v) {
    int id = tensor(g, name, 1, (int64_t[]){n});
    g->tensors[id].dtype = FA_NN_INT64;
    g->tensors[id].data = malloc((size_t)n * sizeof *v);
    assert_non_null(g->tensors[id].data);
    memcpy(g->tensors[id].data, v, (size_t)n * sizeof *v);
    return id;
}

static void node(fa_nn_graph *g, fa_nn_op op, int n_in, const int *in, int out) {
    fa_nn_node *nd = fa_nn_graph_add_node(g, op);
    assert_non_null(nd);
    assert_non_null(nd->name = fa_strdup(fa_nn_op_name(op)));
    nd->n_in = n_in, nd->n_out = 1, nd->out[0] = out;
    memcpy(nd->in, in, (size_t)n_in * sizeof *in);
}

static int scalar(fa_nn_graph *g, const char *name, int64_t v) {
    int id = tensor(g, name, 0, NULL);
    g->tensors[id].dtype = FA_NN_INT64;
    assert_non_null(g->tensors[id].data = malloc(sizeof v));
    memcpy(g->tensors[id].data, &v, sizeof v);
    return id;
}

/* x [1,2,2,2] -> Relu, Sigmoid -> Concat [1,4,2,2] -> FastestDet's
 * shuffle: Reshape [2,2,4], Transpose with perm (1,0,2 or, mixing channel
 * and spatial elements, 0,2,1), Reshape [2,-1,2,2,2], Gathers 0 and 1 on
 * axis 0 as the two graph outputs. */
static fa_nn_graph *small_graph(const int *perm) {
    fa_nn_graph *g = fa_nn_graph_new("small.onnx");
    assert_non_null(g);
    int x = tensor(g, "x", 4, (int64_t[]){1, 2, 2, 2}), a = tensor(g, "a", 0, NULL),
        b = tensor(g, "b", 0, NULL);
    int c = tensor(g, "c", 0, NULL), r1 = tensor(g, "r1", 0, NULL), t1 = tensor(g, "t1", 0, NULL);
    int r2 = tensor(g, "r2", 0, NULL), y0 = tensor(g, "y0", 0, NULL), y1 = tensor(g, "y1", 0, NULL);
    g->inputs[g->n_inputs++] = x;
    g->outputs[g->n_outputs++] = y0;
    g->outputs[g->n_outputs++] = y1;
    node(g, FA_NN_OP_RELU, 1, &x, a);
    node(g, FA_NN_OP_SIGMOID, 1, &x, b);
    node(g, FA_NN_OP_CONCAT, 2, (int[]){a, b}, c);
    node(g, FA_NN_OP_RESHAPE, 2, (int[]){c, ints(g, "s1", 3, (int64_t[]){2, 2, 4})}, r1);
    node(g, FA_NN_OP_TRANSPOSE, 1, &r1, t1);
    fa_nn_node *t = &g->nodes[g->n_nodes - 1];
    t->a.n_perm = 3;
    memcpy(t->a.perm, perm, sizeof(int) * 3);
    node(g, FA_NN_OP_RESHAPE, 2, (int[]){t1, ints(g, "s2", 5, (int64_t[]){2, -1, 2, 2, 2})}, r2);
    node(g, FA_NN_OP_GATHER, 2, (int[]){r2, scalar(g, "i0", 0)}, y0);
    node(g, FA_NN_OP_GATHER, 2, (int[]){r2, scalar(g, "i1", 1)}, y1);
    return g;
}

static void test_small_shuffle(void **state) {
    (void)state;
    fa_nn_graph *g = small_graph((int[]){1, 0, 2});
    assert_int_equal(fa_nn_graph_prepare(g), 0);
    assert_int_equal(g->n_shuffles, 1);
    assert_int_equal(live_nodes(g), 3);
    const fa_nn_shuffle *sh = &g->shuffles[0];
    static const int64_t want_src[4] = {0, 2, 1, 3}; /* y_t channel k = concatenation channel 2k + t */
    assert_int_equal(sh->n_out, 2);
    assert_memory_equal(sh->src, want_src, sizeof want_src);
    fa_nn_options o = {.backend = "native"};
    fa_nn_model *m = fa_nn_model_from_graph(g, &o);
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_session *s = fa_nn_session_new(m, 2);
    assert_non_null(s);
    float x[16], *y[2];
    for (int i = 0; i < 16; i++)
        x[i] = (float)i - 7.5f;
    assert_int_equal(fa_nn_run(s, x, y), 0);
    for (int n = 0; n < 2; n++)
        for (int o_ = 0; o_ < 2; o_++)
            for (int k = 0; k < 2; k++)
                for (int e = 0; e < 4; e++) {
                    int ch = (int)want_src[o_ * 2 + k]; /* channels 0-1: relu(x), 2-3: sigmoid(x) */
                    float v = x[n * 8 + (ch % 2) * 4 + e];
                    float want = ch < 2 ? (v > 0 ? v : 0) : 1.0f / (1.0f + expf(-v));
                    assert_float_equal(y[o_][(n * 2 + k) * 4 + e], want, 1e-6);
                }
    fa_nn_session_free(s);
    fa_nn_model_free(m);
}

static void test_small_not_channels(void **state) {
    (void)state;
    fa_nn_graph *g = small_graph((int[]){0, 2, 1});
    assert_int_equal(fa_nn_graph_prepare(g), 0);
    assert_int_equal(g->n_shuffles, 0);
    assert_int_equal(live_nodes(g), 8);
    assert_int_equal(g->nodes[2].op, FA_NN_OP_CONCAT);
    fa_nn_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fastestdet_counts),  cmocka_unit_test(test_nanodet_untouched),
        cmocka_unit_test(test_fastestdet_outputs), cmocka_unit_test(test_small_shuffle),
        cmocka_unit_test(test_small_not_channels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
