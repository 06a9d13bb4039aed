/*
 * test_prune.c - channel pruning (src/nn/prune.c): on small synthetic ONNX
 * models whose prunable channels and their ranks are known (which convs
 * qualify, which channels go, the sliced weights, params and MACs, and
 * outputs identical to the unpruned model's when the removed channels are
 * all-zero), and on the real detectors (pruned at 0.25 they load, run and
 * keep their output shapes with fewer MACs).
 *
 * The synthetic weights and inputs are small multiples of 1/4, so every
 * sum a kernel forms is exact in float32 whatever its order: "equal"
 * below means bit-equal, on both backends.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/nn_internal.h"
#include "nn/prune.h"
#include "onnx_writer.h"
#include "testutil.h"

/* ------------------------------------------------------------ synthetic */

#define C_IN 4
#define HW 6
#define C_MID 6 /* convA's output channels: the prunable ones */
#define C_OUT 4 /* convB's */
#define C_E 2   /* convE's (feeds the Concat) */

static const int zero_channels[] = {1, 3, 4}; /* convA's all-zero filters */

static int is_zero_channel(int c) {
    for (size_t i = 0; i < sizeof zero_channels / sizeof zero_channels[0]; i++)
        if (zero_channels[i] == c) return 1;
    return 0;
}

/* A value in {-1, -0.75, ..., 1} from i (deterministic). */
static float quarter(int i) { return (float)((i * 7 + 3) % 9 - 4) * 0.25f; }

typedef struct weights {
    float a[C_MID * C_IN * 9], a_b[C_MID];
    float d[C_MID * 9], d_b[C_MID];
    float b[C_OUT * C_MID], b_b[C_OUT];
    float e[C_E * C_IN], e_b[C_E];
} weights;

/* convA's channel c has weights (c + 1) * 0.25 * pattern, so a larger c
 * has a larger L1 norm; zero channels are all zero, biases included. */
static void make_weights(weights *w) {
    for (int c = 0; c < C_MID; c++) {
        for (int k = 0; k < C_IN * 9; k++)
            w->a[c * C_IN * 9 + k] = is_zero_channel(c) ? 0.0f : (k % 2 ? 0.25f : -0.25f) * (float)(c + 1);
        w->a_b[c] = is_zero_channel(c) ? 0.0f : 0.5f;
        for (int k = 0; k < 9; k++)
            w->d[c * 9 + k] = quarter(c * 9 + k);
        w->d_b[c] = is_zero_channel(c) ? 0.0f : -0.25f;
    }
    for (int i = 0; i < C_OUT * C_MID; i++)
        w->b[i] = quarter(i + 5);
    for (int i = 0; i < C_OUT; i++)
        w->b_b[i] = 0.25f * (float)i;
    for (int i = 0; i < C_E * C_IN; i++)
        w->e[i] = quarter(i + 2);
    for (int i = 0; i < C_E; i++)
        w->e_b[i] = 0.5f;
}

static void add_tensor(pbw *g, const char *name, const int64_t *dims, int rank, const float *v) {
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    pbw t = pbw_tensor(name, dims, rank, v, n);
    pbw_msg(g, 5, &t);
}

/* A Conv node in -> out with weights W (dims wd), bias B, group, k x k, pad k / 2. */
static void add_conv(pbw *g, const char *name, const char *in, const char *out, const char *wname,
                     const int64_t *wd, const float *w, const char *bname, const float *b, int group) {
    char wn[32], bn[32];
    snprintf(wn, sizeof wn, "%s", wname);
    snprintf(bn, sizeof bn, "%s", bname);
    add_tensor(g, wn, wd, 4, w);
    add_tensor(g, bn, wd, 1, b);
    int64_t p = wd[2] / 2, pads[] = {p, p, p, p}, ks[] = {wd[2], wd[3]};
    pbw attrs[3] = {pbw_attr_ints("pads", pads, 4), pbw_attr_ints("kernel_shape", ks, 2),
                    pbw_attr_int("group", group)};
    pbw n = pbw_node(name, "Conv", (const char *[]){in, wn, bn, NULL}, (const char *[]){out, NULL}, attrs, 3);
    pbw_msg(g, 1, &n);
}

/* x -> convA (3x3, 4->6) -> Relu -> dw (3x3, group 6) -> convB (1x1, 6->4) -+-> Concat -> y
 * x -> convE (1x1, 4->2) ---------------------------------------------------+
 * Only convA is prunable: convB and convE feed a Concat, dw is depthwise. */
static fa_nn_graph *synthetic_graph(const weights *w) {
    pbw g = {0};
    add_conv(&g, "convA", "x", "a", "WA", (const int64_t[]){C_MID, C_IN, 3, 3}, w->a, "BA", w->a_b, 1);
    pbw n = pbw_node("relu", "Relu", (const char *[]){"a", NULL}, (const char *[]){"r", NULL}, NULL, 0);
    pbw_msg(&g, 1, &n);
    add_conv(&g, "dw", "r", "d", "WD", (const int64_t[]){C_MID, 1, 3, 3}, w->d, "BD", w->d_b, C_MID);
    add_conv(&g, "convB", "d", "b", "WB", (const int64_t[]){C_OUT, C_MID, 1, 1}, w->b, "BB", w->b_b, 1);
    add_conv(&g, "convE", "x", "e", "WE", (const int64_t[]){C_E, C_IN, 1, 1}, w->e, "BE", w->e_b, 1);
    pbw axis = pbw_attr_int("axis", 1);
    n = pbw_node("cat", "Concat", (const char *[]){"b", "e", NULL}, (const char *[]){"y", NULL}, &axis, 1);
    pbw_msg(&g, 1, &n);
    pbw_str(&g, 2, "prune");
    pbw t = pbw_value("x", (const int64_t[]){1, C_IN, HW, HW}, 4);
    pbw_msg(&g, 11, &t);
    t = pbw_value("y", NULL, 0);
    pbw_msg(&g, 12, &t);
    pbw m = pbw_model(&g, 13);
    assert_true(m.n < sizeof m.b); /* the writer's buffer held it all */
    fa_nn_graph *gr = fa_nn_onnx_load_mem("prune.onnx", m.b, m.n);
    if (!gr) fail_msg("%s", fa_err_msg());
    return gr;
}

static const fa_nn_tensor *tensor_named(const fa_nn_graph *g, const char *name) {
    for (size_t i = 0; i < fa_nn_graph_tensor_count(g); i++)
        if (strcmp(fa_nn_graph_tensor(g, (int)i)->name, name) == 0) return fa_nn_graph_tensor(g, (int)i);
    fail_msg("no tensor %s", name);
    return NULL;
}

/* Runs g (consumed) on backend with a fixed input; returns y (malloc'd, *n values). */
static float *run_graph(fa_nn_graph *g, const char *backend, size_t *n) {
    fa_nn_model *m = fa_nn_model_from_graph(g, &(fa_nn_options){.backend = backend});
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_session *s = fa_nn_session_new(m, 1);
    assert_non_null(s);
    float x[C_IN * HW * HW], *y[1];
    for (int i = 0; i < C_IN * HW * HW; i++)
        x[i] = quarter(i * 3 + 1) * 2.0f;
    assert_int_equal(fa_nn_run(s, x, y), 0);
    int64_t shape[FA_NN_MAX_RANK];
    int rank;
    fa_nn_session_output(s, 0, shape, &rank);
    assert_int_equal(rank, 4);
    assert_int_equal(shape[1], C_OUT + C_E);
    *n = (size_t)(shape[1] * shape[2] * shape[3]);
    float *copy = malloc(*n * sizeof *copy);
    memcpy(copy, y[0], *n * sizeof *copy);
    fa_nn_session_free(s);
    fa_nn_model_free(m);
    return copy;
}

static void test_synthetic_report_and_slices(void **state) {
    (void)state;
    weights w;
    make_weights(&w);
    fa_nn_graph *g = synthetic_graph(&w);
    fa_nn_prune_report r;
    assert_int_equal(fa_nn_prune(g, 0.5f, FA_NN_PRUNE_L1, &r), 0);
    assert_int_equal(r.convs_total, 4);
    assert_int_equal(r.convs_prunable, 1);
    assert_int_equal(r.convs_pruned, 1);
    assert_int_equal(r.ranked_by_gamma, 0);
    assert_int_equal(r.channels_before, 6);
    assert_int_equal(r.channels_after, 3);
    /* MACs: convA 6*36*36 + dw 6*36*9 + convB 4*36*6 + convE 2*36*4 -> 3 channels */
    assert_int_equal(r.macs_before, 7776 + 1944 + 864 + 288);
    assert_int_equal(r.macs_after, 3888 + 972 + 432 + 288);
    assert_int_equal(r.params_before, 216 + 6 + 54 + 6 + 24 + 4 + 8 + 2);
    assert_int_equal(r.params_after, 108 + 3 + 27 + 3 + 12 + 4 + 8 + 2);
    /* the kept channels are 0, 2, 5 (the non-zero filters), in order */
    static const int kept[] = {0, 2, 5};
    const fa_nn_tensor *wa = tensor_named(g, "WA"), *wd = tensor_named(g, "WD"), *wb = tensor_named(g, "WB");
    assert_int_equal(wa->shape[0], 3);
    assert_int_equal(wa->shape[1], C_IN);
    assert_int_equal(wd->shape[0], 3);
    assert_int_equal(wb->shape[0], C_OUT);
    assert_int_equal(wb->shape[1], 3);
    assert_int_equal(tensor_named(g, "BD")->shape[0], 3);
    assert_int_equal(tensor_named(g, "WE")->shape[0], C_E); /* feeds the Concat: untouched */
    assert_int_equal(tensor_named(g, "WB")->shape[0], C_OUT);
    for (int k = 0; k < 3; k++) {
        const float *a = wa->data, *d = wd->data, *b = wb->data;
        assert_memory_equal(a + k * C_IN * 9, w.a + kept[k] * C_IN * 9, C_IN * 9 * sizeof(float));
        assert_memory_equal(d + k * 9, w.d + kept[k] * 9, 9 * sizeof(float));
        for (int o = 0; o < C_OUT; o++)
            assert_true(b[o * 3 + k] == w.b[o * C_MID + kept[k]]);
    }
    for (size_t i = 0; i < fa_nn_graph_node_count(g); i++)
        if (strcmp(fa_nn_graph_node(g, i)->name, "dw") == 0)
            assert_int_equal(fa_nn_graph_node(g, i)->a.group, 3);
    assert_int_equal(tensor_named(g, "d")->shape[1], 3); /* computed shapes re-inferred */
    fa_nn_graph_free(g);
}

/* Zero channels removed: the outputs are bit-equal to the unpruned model's. */
/* Also on a graph already simplified (Relu fused into convA): the same
 * channels go. */
static void test_synthetic_outputs_equal(void **state) {
    (void)state;
    weights w;
    make_weights(&w);
    static const char *backends[] = {"native", "onednn", "native"};
    for (int b = 0; b < 3; b++) {
        size_t n0, n1;
        float *y0 = run_graph(synthetic_graph(&w), backends[b], &n0);
        fa_nn_graph *g = synthetic_graph(&w);
        if (b == 2) assert_int_equal(fa_nn_graph_prepare(g), 0);
        fa_nn_prune_report r;
        assert_int_equal(fa_nn_prune(g, 0.5f, FA_NN_PRUNE_L1, &r), 0);
        assert_int_equal(r.convs_pruned, 1);
        assert_int_equal(r.macs_after, 3888 + 972 + 432 + 288);
        float *y1 = run_graph(g, backends[b], &n1);
        assert_int_equal(n0, n1);
        assert_memory_equal(y0, y1, n0 * sizeof *y0);
        int nonzero = 0;
        for (size_t i = 0; i < n0; i++)
            nonzero += y0[i] != 0.0f;
        assert_true(nonzero > (int)n0 / 2); /* the comparison is not of zeros */
        free(y0);
        free(y1);
    }
}

/* Pruning one more channel than the zero ones changes the output (the test can fail). */
static void test_synthetic_too_far_differs(void **state) {
    (void)state;
    weights w;
    make_weights(&w);
    size_t n0, n1;
    float *y0 = run_graph(synthetic_graph(&w), "native", &n0);
    fa_nn_graph *g = synthetic_graph(&w);
    fa_nn_prune_report r;
    assert_int_equal(fa_nn_prune(g, 0.67f, FA_NN_PRUNE_L1, &r), 0); /* floor(0.67 * 6) = 4 */
    assert_int_equal(r.channels_after, 2);
    assert_int_equal(tensor_named(g, "WA")->shape[0], 2);
    /* channel 2 (the smallest non-zero norm) went: the first kept row is channel 5's */
    assert_memory_equal((const float *)tensor_named(g, "WA")->data + C_IN * 9, w.a + 5 * C_IN * 9,
                        C_IN * 9 * sizeof(float));
    float *y1 = run_graph(g, "native", &n1);
    assert_int_equal(n0, n1);
    assert_true(memcmp(y0, y1, n0 * sizeof *y0) != 0);
    free(y0);
    free(y1);
}

/* ratio 0 changes nothing; bad ratios and methods are refused with a message. */
static void test_ratio_bounds(void **state) {
    (void)state;
    weights w;
    make_weights(&w);
    fa_nn_graph *g = synthetic_graph(&w);
    fa_nn_prune_report r;
    assert_int_equal(fa_nn_prune(g, 0.0f, FA_NN_PRUNE_L1, &r), 0);
    assert_int_equal(r.convs_prunable, 1);
    assert_int_equal(r.convs_pruned, 0);
    assert_int_equal(r.macs_after, r.macs_before);
    assert_int_equal(fa_nn_prune(g, 1.0f, FA_NN_PRUNE_L1, &r), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "prune.onnx: prune ratio 1 outside [0, 1)");
    assert_int_equal(fa_nn_prune(g, -0.5f, FA_NN_PRUNE_L1, &r), FA_EINVAL);
    assert_int_equal(fa_nn_prune(g, NAN, FA_NN_PRUNE_L1, &r), FA_EINVAL);
    assert_int_equal(fa_nn_prune(g, 0.5f, (fa_nn_prune_method)7, &r), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "prune.onnx: prune method 7 unknown");
    assert_int_equal(fa_nn_prune(NULL, 0.5f, FA_NN_PRUNE_L1, &r), FA_EINVAL);
    fa_nn_graph_free(g);
}

/* x -> conv (1x1, 2->4) -> BatchNorm -> Relu -> conv (1x1, 4->1) -> y.
 * The conv's L1 norms grow with the channel; gamma says the opposite. */
static fa_nn_graph *bn_graph(void) {
    pbw g = {0};
    float w1[4 * 2], b1[4] = {0}, w2[4] = {1, 1, 1, 1}, b2[1] = {0};
    for (int c = 0; c < 4; c++)
        w1[c * 2] = w1[c * 2 + 1] = 0.25f * (float)(c + 1);
    add_conv(&g, "c1", "x", "a", "W1", (const int64_t[]){4, 2, 1, 1}, w1, "B1", b1, 1);
    static const float gamma[4] = {4, 3, 2, 1}, beta[4] = {0}, mean[4] = {0}, var[4] = {1, 1, 1, 1};
    add_tensor(&g, "gamma", (const int64_t[]){4}, 1, gamma);
    add_tensor(&g, "beta", (const int64_t[]){4}, 1, beta);
    add_tensor(&g, "mean", (const int64_t[]){4}, 1, mean);
    add_tensor(&g, "var", (const int64_t[]){4}, 1, var);
    pbw n = pbw_node("bn", "BatchNormalization", (const char *[]){"a", "gamma", "beta", "mean", "var", NULL},
                     (const char *[]){"n", NULL}, NULL, 0);
    pbw_msg(&g, 1, &n);
    n = pbw_node("relu", "Relu", (const char *[]){"n", NULL}, (const char *[]){"r", NULL}, NULL, 0);
    pbw_msg(&g, 1, &n);
    add_conv(&g, "c2", "r", "y", "W2", (const int64_t[]){1, 4, 1, 1}, w2, "B2", b2, 1);
    pbw_str(&g, 2, "bn");
    pbw t = pbw_value("x", (const int64_t[]){1, 2, 3, 3}, 4);
    pbw_msg(&g, 11, &t);
    t = pbw_value("y", NULL, 0);
    pbw_msg(&g, 12, &t);
    pbw m = pbw_model(&g, 13);
    fa_nn_graph *gr = fa_nn_onnx_load_mem("bn.onnx", m.b, m.n);
    if (!gr) fail_msg("%s", fa_err_msg());
    return gr;
}

static void test_bn_gamma_ranking(void **state) {
    (void)state;
    fa_nn_prune_report r;
    fa_nn_graph *g = bn_graph();
    assert_int_equal(fa_nn_prune(g, 0.5f, FA_NN_PRUNE_BN_GAMMA, &r), 0);
    assert_int_equal(r.ranked_by_gamma, 1);
    const float *gamma = tensor_named(g, "gamma")->data, *w1 = tensor_named(g, "W1")->data;
    assert_int_equal(tensor_named(g, "gamma")->shape[0], 2);
    assert_true(gamma[0] == 4.0f && gamma[1] == 3.0f); /* channels 0 and 1 kept */
    assert_true(w1[0] == 0.25f && w1[2] == 0.5f);
    assert_int_equal(tensor_named(g, "var")->shape[0], 2);
    assert_int_equal(tensor_named(g, "W2")->shape[1], 2);
    fa_nn_graph_free(g);

    g = bn_graph(); /* by L1 the other two stay */
    assert_int_equal(fa_nn_prune(g, 0.5f, FA_NN_PRUNE_L1, &r), 0);
    assert_int_equal(r.ranked_by_gamma, 0);
    gamma = tensor_named(g, "gamma")->data;
    assert_true(gamma[0] == 2.0f && gamma[1] == 1.0f);
    /* and the pruned graph still loads and runs (BN folded after pruning) */
    fa_nn_model *m = fa_nn_model_from_graph(g, &(fa_nn_options){.backend = "native"});
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_session *s = fa_nn_session_new(m, 1);
    float x[18], *y[1];
    for (int i = 0; i < 18; i++)
        x[i] = 1.0f;
    assert_int_equal(fa_nn_run(s, x, y), 0);
    /* channels 2, 3: relu(1.5 * 2) + relu(2 * 1) = 3 + 2 (BN epsilon 1e-5 aside) */
    assert_float_equal(y[0][0], 5.0f, 1e-4);
    fa_nn_session_free(s);
    fa_nn_model_free(m);
}

/* ------------------------------------------------------------ real models */

typedef struct real_case {
    const char *file; /* under FA_DATA_DIR */
    int convs_total, convs_prunable;
    int64_t channels_before, channels_after;
    uint64_t macs_before, macs_after;
} real_case;

static fa_nn_graph *load_any(const char *path) {
    size_t len = strlen(path);
    if (len > 4 && strcmp(path + len - 4, ".cfg") == 0) {
        char wpath[1024];
        snprintf(wpath, sizeof wpath, "%.*s.weights", (int)(len - 4), path);
        return fa_nn_darknet_load(path, wpath);
    }
    return fa_nn_onnx_load(path);
}

static void check_real(const real_case *rc) {
    const char *path = fa_test_data(rc->file);
    FA_TEST_REQUIRE_DATA(path);
    fa_nn_graph *g = load_any(path);
    if (!g) fail_msg("%s", fa_err_msg());
    int n_out = fa_nn_graph_output_count(g);
    int64_t out_shapes[FA_NN_MAX_IO][FA_NN_MAX_RANK];
    for (int i = 0; i < n_out; i++)
        memcpy(out_shapes[i], fa_nn_graph_tensor(g, fa_nn_graph_output(g, i))->shape, sizeof out_shapes[i]);
    fa_nn_prune_report r;
    if (fa_nn_prune(g, 0.25f, FA_NN_PRUNE_L1, &r) != 0) fail_msg("%s", fa_err_msg());
    print_message("%s: %d convs, %d prunable, %d pruned, channels %lld -> %lld, MACs %llu -> %llu, "
                  "params %llu -> %llu\n",
                  rc->file, r.convs_total, r.convs_prunable, r.convs_pruned, (long long)r.channels_before,
                  (long long)r.channels_after, (unsigned long long)r.macs_before,
                  (unsigned long long)r.macs_after, (unsigned long long)r.params_before,
                  (unsigned long long)r.params_after);
    assert_int_equal(r.convs_total, rc->convs_total);
    assert_int_equal(r.convs_prunable, rc->convs_prunable);
    assert_int_equal(r.channels_before, rc->channels_before);
    assert_int_equal(r.channels_after, rc->channels_after);
    assert_int_equal(r.macs_before, rc->macs_before);
    assert_int_equal(r.macs_after, rc->macs_after);
    assert_true(r.params_after < r.params_before);
    fa_nn_model *m = fa_nn_model_from_graph(g, &(fa_nn_options){.backend = "native"});
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_info info;
    fa_nn_model_info(m, &info);
    assert_int_equal(info.macs, rc->macs_after); /* the runtime counts the same */
    fa_nn_session *s = fa_nn_session_new(m, 1);
    assert_non_null(s);
    int64_t in_shape[FA_NN_MAX_RANK];
    int rank = fa_nn_model_input_shape(m, in_shape);
    size_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= (size_t)in_shape[d];
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 251) / 251.0f;
    assert_int_equal(fa_nn_run(s, x, NULL), 0);
    for (int i = 0; i < n_out; i++) {
        int64_t shape[FA_NN_MAX_RANK];
        int orank;
        const float *v = fa_nn_session_output(s, i, shape, &orank);
        assert_non_null(v);
        int64_t count = 1;
        for (int d = 0; d < orank; d++)
            assert_int_equal(shape[d], out_shapes[i][d]), count *= shape[d];
        for (int64_t k = 0; k < count; k++)
            assert_true(isfinite(v[k]));
    }
    free(x);
    fa_nn_session_free(s);
    fa_nn_model_free(m);
}

static void test_fastestdet(void **state) {
    (void)state;
    check_real(&(real_case){"models/fastestdet/FastestDet.onnx", 70, 18, 984, 738, 121491744, 99909216});
}

static void test_nanodet(void **state) {
    (void)state;
    check_real(&(real_case){"models/nanodet-m/nanodet_m_416.onnx", 73, 23, 2688, 2018, 578357208, 444260440});
}

static void test_yolo_fastest(void **state) {
    (void)state;
    check_real(&(real_case){"models/yolo-fastest-1.1/yolo-fastest-1.1.cfg", 84, 29, 3000, 2250, 125437600,
                            93339000});
}

/* ------------------------------------------------------------ pruned == masked */

/* Zeroes, in the unpruned graph g0, the filters and biases of the channels
 * that pruning removed, for every conv whose output channels shrank in g1.
 * The kept channels are found by matching g1's biases, in order, against
 * g0's (the filters cannot be compared when the conv's input channels
 * shrank too). Returns how many channels it zeroed. */
static int64_t mask_removed(fa_nn_graph *g0, const fa_nn_graph *g1) {
    int64_t zeroed = 0;
    for (size_t n = 0; n < fa_nn_graph_node_count(g0); n++) {
        const fa_nn_node *nd = fa_nn_graph_node(g0, n), *nd1 = fa_nn_graph_node(g1, n);
        if (nd->dead || nd->op != FA_NN_OP_CONV) continue;
        fa_nn_tensor *w0 = (fa_nn_tensor *)fa_nn_graph_tensor(g0, nd->in[1]);
        const fa_nn_tensor *w1 = fa_nn_graph_tensor(g1, nd1->in[1]);
        if (w1->shape[0] == w0->shape[0]) continue;
        assert_true(nd->n_in > 2 && nd->in[2] >= 0); /* the real models' convs all have biases */
        float *b0 = fa_nn_graph_tensor(g0, nd->in[2])->data;
        const float *b1 = fa_nn_graph_tensor(g1, nd1->in[2])->data;
        int64_t per = w0->shape[1] * w0->shape[2] * w0->shape[3], j = 0;
        for (int64_t c = 0; c < w0->shape[0]; c++) {
            if (j < w1->shape[0] && b0[c] == b1[j]) {
                j++;
                continue;
            }
            memset((float *)w0->data + c * per, 0, (size_t)per * sizeof(float));
            b0[c] = 0.0f;
            zeroed++;
        }
        assert_int_equal(j, w1->shape[0]); /* every kept channel was found, in order */
    }
    return zeroed;
}

/* Pruning a real model equals zeroing the removed channels (and the
 * biases along their path) in the unpruned one: the slicing is right on
 * the real graphs' topology. The unmasked model differs by far more. */
static void check_masked(const char *file, const char *golden, size_t in_n, int64_t want_zeroed) {
    const char *path = fa_test_data(file), *gpath = fa_test_data(golden);
    FA_TEST_REQUIRE_DATA(path);
    fa_nn_graph *g0 = fa_nn_onnx_load(path), *g1 = fa_nn_onnx_load(path), *g2 = fa_nn_onnx_load(path);
    assert_true(g0 && g1 && g2);
    assert_int_equal(fa_nn_prune(g1, 0.25f, FA_NN_PRUNE_L1, NULL), 0);
    assert_int_equal(mask_removed(g0, g1), want_zeroed);
    float *x = malloc(in_n * sizeof *x);
    FILE *f = fopen(gpath, "rb");
    assert_non_null(f);
    assert_int_equal(fread(x, sizeof *x, in_n, f), in_n);
    fclose(f);
    fa_nn_graph *gs[3] = {g0, g1, g2};
    float *outs[3];
    size_t n_out = 0;
    for (int k = 0; k < 3; k++) {
        fa_nn_model *m = fa_nn_model_from_graph(gs[k], &(fa_nn_options){.backend = "native"});
        if (!m) fail_msg("%s", fa_err_msg());
        fa_nn_session *s = fa_nn_session_new(m, 1);
        assert_int_equal(fa_nn_run(s, x, NULL), 0);
        int64_t shape[FA_NN_MAX_RANK];
        int rank;
        const float *v = fa_nn_session_output(s, 0, shape, &rank);
        n_out = 1;
        for (int d = 0; d < rank; d++)
            n_out *= (size_t)shape[d];
        outs[k] = malloc(n_out * sizeof(float));
        memcpy(outs[k], v, n_out * sizeof(float));
        fa_nn_session_free(s);
        fa_nn_model_free(m);
    }
    double masked = 0, unmasked = 0;
    for (size_t i = 0; i < n_out; i++) {
        masked = fmax(masked, fabs((double)outs[0][i] - outs[1][i]));
        unmasked = fmax(unmasked, fabs((double)outs[2][i] - outs[1][i]));
    }
    print_message("%s: pruned vs masked %.3g, vs unpruned %.3g\n", file, masked, unmasked);
    assert_true(masked < 1e-4);
    assert_true(unmasked > 0.1);
    for (int k = 0; k < 3; k++)
        free(outs[k]);
    free(x);
}

static void test_fastestdet_masked(void **state) {
    (void)state;
    check_masked("models/fastestdet/FastestDet.onnx", "golden/fastestdet_soccertrack_left.input.f32",
                 3 * 352 * 352, 540);
}

static void test_nanodet_masked(void **state) {
    (void)state;
    check_masked("models/nanodet-m/nanodet_m_416.onnx", "golden/nanodet_soccertrack_left.input.f32",
                 3 * 416 * 416, 1268);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_report_and_slices),
        cmocka_unit_test(test_synthetic_outputs_equal),
        cmocka_unit_test(test_synthetic_too_far_differs),
        cmocka_unit_test(test_ratio_bounds),
        cmocka_unit_test(test_bn_gamma_ranking),
        cmocka_unit_test(test_fastestdet),
        cmocka_unit_test(test_nanodet),
        cmocka_unit_test(test_yolo_fastest),
        cmocka_unit_test(test_fastestdet_masked),
        cmocka_unit_test(test_nanodet_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
