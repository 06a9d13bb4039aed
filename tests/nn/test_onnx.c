/*
 * test_onnx.c - the ONNX loader: the two real models (op counts, constants,
 * input shapes, what the passes fold and fuse) and every class of malformed
 * protobuf on small synthetic models, each with its exact message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/nn_internal.h"
#include "onnx_writer.h"
#include "testutil.h"

static size_t count_op(const fa_nn_graph *g, fa_nn_op op) {
    size_t n = 0;
    for (size_t i = 0; i < fa_nn_graph_node_count(g); i++)
        n += fa_nn_graph_node(g, i)->op == op;
    return n;
}

static size_t count_constants(const fa_nn_graph *g) {
    size_t n = 0;
    for (size_t i = 0; i < fa_nn_graph_tensor_count(g); i++)
        n += fa_nn_graph_tensor(g, (int)i)->data != NULL;
    return n;
}

static void test_fastestdet(void **state) {
    (void)state;
    const char *path = fa_test_data("models/fastestdet/FastestDet.onnx");
    FA_TEST_REQUIRE_DATA(path);
    fa_nn_graph *g = fa_nn_onnx_load(path);
    if (!g) fail_msg("%s", fa_err_msg());
    assert_int_equal(fa_nn_graph_node_count(g), 211);
    static const struct {
        fa_nn_op op;
        size_t n;
    } want[] = {{FA_NN_OP_ADD, 1},       {FA_NN_OP_AVGPOOL, 1}, {FA_NN_OP_CONCAT, 19}, {FA_NN_OP_CONV, 70},
                {FA_NN_OP_GATHER, 26},   {FA_NN_OP_MAXPOOL, 1}, {FA_NN_OP_PAD, 1},     {FA_NN_OP_RELU, 48},
                {FA_NN_OP_RESHAPE, 26},  {FA_NN_OP_RESIZE, 1},  {FA_NN_OP_SIGMOID, 1}, {FA_NN_OP_SOFTMAX, 1},
                {FA_NN_OP_TRANSPOSE, 15}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(count_op(g, want[i].op), want[i].n);
    assert_int_equal(count_constants(g), 195);
    assert_int_equal(fa_nn_graph_input_count(g), 1);
    const fa_nn_tensor *in = fa_nn_graph_tensor(g, fa_nn_graph_input(g, 0));
    assert_string_equal(in->name, "input.1");
    assert_int_equal(in->rank, 4);
    assert_int_equal(in->shape[0], 1);
    assert_int_equal(in->shape[1], 3);
    assert_int_equal(in->shape[2], 352);
    assert_int_equal(in->shape[3], 352);
    const fa_nn_tensor *out = fa_nn_graph_tensor(g, fa_nn_graph_output(g, 0));
    assert_string_equal(out->name, "758");
    assert_int_equal(out->shape[1], 85);
    assert_int_equal(out->shape[2], 22);
    fa_nn_graph_free(g);

    fa_nn_model *m = fa_nn_model_load(path, &(fa_nn_options){.backend = "native"});
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_info info;
    fa_nn_model_info(m, &info);
    assert_string_equal(info.backend, "native");
    assert_int_equal(info.params, 240305);
    assert_int_equal(info.fused_act, 48); /* 47 Relu + 1 Sigmoid after their Conv */
    assert_int_equal(info.fused_batchnorm, 0);
    assert_int_equal(info.fused_shuffles, 13); /* Concat -> Reshape -> Transpose -> Reshape -> 2 Gathers */
    assert_int_equal(info.nodes, 211 - 48 - 13 * 5);
    assert_int_equal(info.op_counts[FA_NN_OP_RELU], 1);
    assert_int_equal(info.macs, 121491744);
    int64_t shape[FA_NN_MAX_RANK];
    assert_int_equal(fa_nn_model_input_shape(m, shape), 4);
    assert_int_equal(shape[2], 352);
    fa_nn_model_free(m);
}

static void test_nanodet(void **state) {
    (void)state;
    const char *path = fa_test_data("models/nanodet-m/nanodet_m_416.onnx");
    FA_TEST_REQUIRE_DATA(path);
    fa_nn_graph *g = fa_nn_onnx_load(path);
    if (!g) fail_msg("%s", fa_err_msg());
    assert_int_equal(fa_nn_graph_node_count(g), 225);
    static const struct {
        fa_nn_op op;
        size_t n;
    } want[] = {{FA_NN_OP_ADD, 4},         {FA_NN_OP_CONCAT, 16}, {FA_NN_OP_CONV, 73},
                {FA_NN_OP_LEAKY_RELU, 48}, {FA_NN_OP_MAXPOOL, 1}, {FA_NN_OP_RESHAPE, 38},
                {FA_NN_OP_RESIZE, 4},      {FA_NN_OP_SIGMOID, 3}, {FA_NN_OP_SPLIT, 16},
                {FA_NN_OP_TRANSPOSE, 22}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(count_op(g, want[i].op), want[i].n);
    assert_int_equal(count_constants(g), 158);
    const fa_nn_tensor *in = fa_nn_graph_tensor(g, fa_nn_graph_input(g, 0));
    assert_int_equal(in->shape[1], 3);
    assert_int_equal(in->shape[2], 416);
    assert_int_equal(in->shape[3], 416);
    assert_int_equal(fa_nn_graph_output_count(g), 6);
    fa_nn_graph_free(g);

    fa_nn_model *m = fa_nn_model_load(path, &(fa_nn_options){.backend = "native"});
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_info info;
    fa_nn_model_info(m, &info);
    assert_int_equal(info.params, 941818);
    assert_int_equal(info.fused_act, 48);
    assert_int_equal(info.op_counts[FA_NN_OP_LEAKY_RELU], 0);
    assert_int_equal(info.op_counts[FA_NN_OP_SIGMOID], 3);
    assert_int_equal(info.macs, 578357208);
    fa_nn_model_free(m);
}

/* ------------------------------------------------------- synthetic models */

static const int64_t x_dims[] = {1, 1, 4, 4}, b_dims[] = {1};

/* x [1,1,4,4] -> Conv(W 3x3 ones, B 0.5, pads 1) -> Relu -> y; knobs make it malformed. */
typedef struct knobs {
    const char *op;  /* the second node's op */
    size_t w_values; /* floats in W's raw_data */
    int64_t w_dim0;  /* W's first dim */
    int64_t opset;
    int bn; /* put a BatchNormalization between Conv and Relu */
} knobs;

static pbw make_model(knobs k) {
    static const float ones[18] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, half = 0.5f;
    static const float gamma = 2.0f, beta = 1.0f, mean = 0.5f, var = 3.0f;
    int64_t wd[4] = {k.w_dim0, 1, 3, 3};
    pbw g = {0}, t;
    t = pbw_tensor("W", wd, 4, ones, k.w_values);
    pbw_msg(&g, 5, &t);
    t = pbw_tensor("B", b_dims, 1, &half, 1);
    pbw_msg(&g, 5, &t);
    int64_t pads[] = {1, 1, 1, 1}, ks[] = {3, 3};
    pbw attrs[2] = {pbw_attr_ints("pads", pads, 4), pbw_attr_ints("kernel_shape", ks, 2)};
    pbw n = pbw_node("conv0", "Conv", (const char *[]){"x", "W", "B", NULL}, (const char *[]){"c", NULL},
                     attrs, 2);
    pbw_msg(&g, 1, &n);
    if (k.bn) {
        const char *names[] = {"g", "b", "m", "v"};
        const float *vals[] = {&gamma, &beta, &mean, &var};
        for (int i = 0; i < 4; i++) {
            t = pbw_tensor(names[i], b_dims, 1, vals[i], 1);
            pbw_msg(&g, 5, &t);
        }
        pbw eps = pbw_attr_float("epsilon", 1.0f);
        n = pbw_node("bn0", "BatchNormalization", (const char *[]){"c", "g", "b", "m", "v", NULL},
                     (const char *[]){"cb", NULL}, &eps, 1);
        pbw_msg(&g, 1, &n);
    }
    n = pbw_node("act0", k.op, (const char *[]){k.bn ? "cb" : "c", NULL}, (const char *[]){"y", NULL}, NULL,
                 0);
    pbw_msg(&g, 1, &n);
    pbw_str(&g, 2, "tiny");
    t = pbw_value("x", x_dims, 4);
    pbw_msg(&g, 11, &t);
    t = pbw_value("y", NULL, 0);
    pbw_msg(&g, 12, &t);
    return pbw_model(&g, k.opset);
}

static const knobs good = {"Relu", 9, 1, 11, 0};

static void test_synthetic_runs(void **state) {
    (void)state;
    pbw m = make_model(good);
    fa_nn_graph *g = fa_nn_onnx_load_mem("tiny.onnx", m.b, m.n);
    if (!g) fail_msg("%s", fa_err_msg());
    assert_int_equal(fa_nn_graph_node_count(g), 2);
    fa_nn_model *model = fa_nn_model_from_graph(g, NULL);
    if (!model) fail_msg("%s", fa_err_msg());
    fa_nn_info info;
    fa_nn_model_info(model, &info);
    assert_int_equal(info.fused_act, 1);
    assert_int_equal(info.nodes, 1);
    assert_int_equal(info.macs, 16 * 9);
    fa_nn_session *s = fa_nn_session_new(model, 2);
    assert_non_null(s);
    float x[32], *y[1];
    for (int i = 0; i < 32; i++)
        x[i] = 1.0f;
    assert_int_equal(fa_nn_run(s, x, y), 0);
    /* 3x3 ones over a padded 4x4 of ones: corners 4, edges 6, inside 9, + 0.5 */
    static const float want[16] = {4.5f, 6.5f, 6.5f, 4.5f, 6.5f, 9.5f, 9.5f, 6.5f,
                                   6.5f, 9.5f, 9.5f, 6.5f, 4.5f, 6.5f, 6.5f, 4.5f};
    for (int i = 0; i < 32; i++)
        assert_float_equal(y[0][i], want[i % 16], 1e-6);
    fa_nn_session_free(s);
    fa_nn_model_free(model);
}

static void test_batchnorm_folding(void **state) {
    (void)state;
    knobs k = good;
    k.bn = 1;
    pbw m = make_model(k);
    fa_nn_model *model = fa_nn_model_from_graph(fa_nn_onnx_load_mem("bn.onnx", m.b, m.n), NULL);
    if (!model) fail_msg("%s", fa_err_msg());
    fa_nn_info info;
    fa_nn_model_info(model, &info);
    assert_int_equal(info.fused_batchnorm, 1);
    assert_int_equal(info.fused_act, 1);
    assert_int_equal(info.nodes, 1);
    fa_nn_session *s = fa_nn_session_new(model, 1);
    float x[16], *y[1];
    for (int i = 0; i < 16; i++)
        x[i] = 1.0f;
    assert_int_equal(fa_nn_run(s, x, y), 0);
    /* (v - 0.5) * 2 / sqrt(3 + 1) + 1 = v + 0.5: corner 4.5 -> 5, centre 9.5 -> 10 */
    assert_float_equal(y[0][0], 5.0f, 1e-5);
    assert_float_equal(y[0][5], 10.0f, 1e-5);
    fa_nn_session_free(s);
    fa_nn_model_free(model);
}

/* Concat of two int64 constants feeding a Reshape: folded at load, the Reshape reads the result. */
static void test_constant_folding(void **state) {
    (void)state;
    pbw g = {0}, t, n;
    t = pbw_tensor_i64("a", (const int64_t[]){1}, 1);
    pbw_msg(&g, 5, &t);
    t = pbw_tensor_i64("b", (const int64_t[]){-1}, 1);
    pbw_msg(&g, 5, &t);
    pbw axis = pbw_attr_int("axis", 0);
    n = pbw_node("cat", "Concat", (const char *[]){"a", "b", NULL}, (const char *[]){"shape", NULL}, &axis,
                 1);
    pbw_msg(&g, 1, &n);
    n = pbw_node("rs", "Reshape", (const char *[]){"x", "shape", NULL}, (const char *[]){"y", NULL}, NULL, 0);
    pbw_msg(&g, 1, &n);
    t = pbw_value("x", x_dims, 4);
    pbw_msg(&g, 11, &t);
    t = pbw_value("y", NULL, 0);
    pbw_msg(&g, 12, &t);
    pbw m = pbw_model(&g, 11);
    fa_nn_model *model = fa_nn_model_from_graph(fa_nn_onnx_load_mem("fold.onnx", m.b, m.n), NULL);
    if (!model) fail_msg("%s", fa_err_msg());
    fa_nn_info info;
    fa_nn_model_info(model, &info);
    assert_int_equal(info.folded_constants, 1);
    assert_int_equal(info.nodes, 1);
    assert_int_equal(info.op_counts[FA_NN_OP_RESHAPE], 1);
    fa_nn_session *s = fa_nn_session_new(model, 3);
    float x[48];
    for (int i = 0; i < 48; i++)
        x[i] = (float)i;
    assert_int_equal(fa_nn_run(s, x, NULL), 0);
    int64_t shape[FA_NN_MAX_RANK];
    int rank = 0;
    const float *y = fa_nn_session_output(s, 0, shape, &rank);
    assert_int_equal(rank, 2);
    assert_int_equal(shape[0], 3); /* the hard-coded batch 1 follows the session's batch */
    assert_int_equal(shape[1], 16);
    assert_float_equal(y[47], 47.0f, 0);
    fa_nn_session_free(s);
    fa_nn_model_free(model);
}

/* A Reshape of an arena tensor is that tensor's buffer under a new shape
 * (runtime.c's memory plan: no copy), while a Reshape of the graph input,
 * which the caller owns, still copies; values right either way. */
static void test_reshape_alias(void **state) {
    (void)state;
    pbw g = {0}, t, n;
    t = pbw_tensor_i64("shape", (const int64_t[]){1, -1}, 2);
    pbw_msg(&g, 5, &t);
    n = pbw_node("relu", "Relu", (const char *[]){"x", NULL}, (const char *[]){"r", NULL}, NULL, 0);
    pbw_msg(&g, 1, &n);
    n = pbw_node("rs", "Reshape", (const char *[]){"r", "shape", NULL}, (const char *[]){"y", NULL}, NULL, 0);
    pbw_msg(&g, 1, &n);
    n = pbw_node("rx", "Reshape", (const char *[]){"x", "shape", NULL}, (const char *[]){"z", NULL}, NULL, 0);
    pbw_msg(&g, 1, &n);
    t = pbw_value("x", x_dims, 4);
    pbw_msg(&g, 11, &t);
    const char *outs[] = {"r", "y", "z"};
    for (int i = 0; i < 3; i++) {
        t = pbw_value(outs[i], NULL, 0);
        pbw_msg(&g, 12, &t);
    }
    pbw m = pbw_model(&g, 11);
    fa_nn_model *model = fa_nn_model_from_graph(fa_nn_onnx_load_mem("alias.onnx", m.b, m.n), NULL);
    if (!model) fail_msg("%s", fa_err_msg());
    fa_nn_session *s = fa_nn_session_new(model, 1);
    assert_non_null(s);
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i - 8);
    float *y[3];
    assert_int_equal(fa_nn_run(s, x, y), 0);
    int64_t shape[FA_NN_MAX_RANK];
    int rank = 0;
    assert_ptr_equal(fa_nn_session_output(s, 1, shape, &rank), y[0]); /* y is r's buffer */
    assert_int_equal(rank, 2);
    assert_int_equal(shape[1], 16);
    assert_true(y[2] != x);
    for (int i = 0; i < 16; i++) {
        assert_float_equal(y[1][i], i < 8 ? 0.0f : (float)(i - 8), 0);
        assert_float_equal(y[2][i], (float)(i - 8), 0);
    }
    fa_nn_session_free(s);
    fa_nn_model_free(model);
}

/* A constant Split whose two outputs carry one name: refused (fuzz found the second buffer leaked). */
static void test_output_named_twice(void **state) {
    (void)state;
    pbw g = {0}, t, n;
    t = pbw_tensor_i64("a", (const int64_t[]){1, 2}, 2);
    pbw_msg(&g, 5, &t);
    pbw axis = pbw_attr_int("axis", 0);
    n = pbw_node("sp", "Split", (const char *[]){"a", NULL}, (const char *[]){"s", "s", NULL}, &axis, 1);
    pbw_msg(&g, 1, &n);
    n = pbw_node("rs", "Reshape", (const char *[]){"x", "s", NULL}, (const char *[]){"y", NULL}, NULL, 0);
    pbw_msg(&g, 1, &n);
    t = pbw_value("x", x_dims, 4);
    pbw_msg(&g, 11, &t);
    t = pbw_value("y", NULL, 0);
    pbw_msg(&g, 12, &t);
    pbw m = pbw_model(&g, 11);
    fa_err_clear();
    assert_null(fa_nn_onnx_load_mem("t.onnx", m.b, m.n));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "output 's' is named twice"));
}

static void expect_error(const void *data, size_t len, int code, const char *msg) {
    fa_err_clear();
    fa_nn_graph *g = fa_nn_onnx_load_mem("t.onnx", data, len);
    assert_null(g);
    assert_int_equal(fa_err_code(), code);
    assert_string_equal(fa_err_msg(), msg);
}

static void test_wire_errors(void **state) {
    (void)state;
    expect_error((const uint8_t[]){0x08, 0x80}, 2, FA_EINVAL, "t.onnx: byte 1: truncated varint");
    expect_error((const uint8_t[]){0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
                 12, FA_EINVAL, "t.onnx: byte 1: varint longer than 10 bytes");
    expect_error((const uint8_t[]){0x3a, 0x05, 0x00}, 3, FA_EINVAL,
                 "t.onnx: byte 1: length 5 past the end (1 bytes left)");
    expect_error((const uint8_t[]){0x38, 0x01}, 2, FA_EINVAL,
                 "t.onnx: byte 0: ModelProto field 7: wire type 0, expected 2");
    expect_error((const uint8_t[]){0x0b}, 1, FA_EINVAL, "t.onnx: byte 0: field 1: unsupported wire type 3");
    expect_error((const uint8_t[]){0x00}, 1, FA_EINVAL, "t.onnx: byte 0: invalid field number 0");
    expect_error((const uint8_t[]){0x08, 0x07}, 2, FA_EINVAL, "t.onnx: byte 2: no graph in the model");
    /* a truncated real-looking model: every prefix is an error, never a crash */
    pbw m = make_model(good);
    for (size_t n = 0; n < m.n; n++) {
        fa_nn_graph *g = fa_nn_onnx_load_mem("t.onnx", m.b, n);
        if (g) fail_msg("prefix of %zu bytes loaded", n);
        assert_int_equal(fa_err_code(), FA_EINVAL);
    }
}

static void test_model_errors(void **state) {
    (void)state;
    knobs k = good;
    k.w_values = 2;
    pbw m = make_model(k);
    expect_error(m.b, m.n, FA_EINVAL, "t.onnx: byte 13: tensor 'W': 2 values of data, dims say 9");
    k = good;
    k.w_dim0 = (int64_t)1 << 40;
    m = make_model(k);
    expect_error(m.b, m.n, FA_EINVAL, "t.onnx: byte 13: tensor 'W': absurd dims (dim 0 = 1099511627776)");
    k = good;
    k.op = "Foo";
    m = make_model(k);
    expect_error(m.b, m.n, FA_EINVAL, "t.onnx: node 'act0': unsupported op 'Foo'");
    k = good;
    k.opset = 10;
    m = make_model(k);
    expect_error(m.b, m.n, FA_EINVAL, "t.onnx: byte 0: opset 10, at least 11 supported");
    k = good;
    k.w_dim0 = 2; /* 2x1x3x3 = 18 values wanted: mismatch again, reported before the graph is checked */
    k.w_values = 18;
    m = make_model(k);
    expect_error(m.b, m.n, FA_EINVAL, "t.onnx: node 'conv0' (Conv): bias must be a constant of 2 values");
}

static void test_missing_file(void **state) {
    (void)state;
    assert_null(fa_nn_onnx_load("/nonexistent/model.onnx"));
    assert_int_equal(fa_err_code(), FA_ENOTFOUND);
    assert_null(fa_nn_model_load("/tmp/model.txt", NULL));
    assert_string_equal(fa_err_msg(), "/tmp/model.txt: unknown model format (expected a .onnx or .cfg file)");
    pbw m = make_model(good);
    assert_null(
        fa_nn_model_from_graph(fa_nn_onnx_load_mem("t.onnx", m.b, m.n), &(fa_nn_options){.backend = "gpu"}));
    assert_string_equal(fa_err_msg(), "nn: backend 'gpu' unknown (auto, native, onednn, cuda)");
    fa_nn_model *model = fa_nn_model_from_graph(fa_nn_onnx_load_mem("t.onnx", m.b, m.n), NULL);
    assert_non_null(model);
    assert_null(fa_nn_session_new(model, 0));
    assert_string_equal(fa_err_msg(), "t.onnx: batch 0 out of range 1..4096");
    assert_int_equal(fa_nn_model_output_index(model, "y"), 0);
    assert_int_equal(fa_nn_model_output_index(model, "nope"), -1);
    fa_nn_model_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fastestdet),     cmocka_unit_test(test_nanodet),
        cmocka_unit_test(test_synthetic_runs), cmocka_unit_test(test_batchnorm_folding),
        cmocka_unit_test(test_wire_errors),    cmocka_unit_test(test_model_errors),
        cmocka_unit_test(test_missing_file),   cmocka_unit_test(test_constant_folding),
        cmocka_unit_test(test_output_named_twice), cmocka_unit_test(test_reshape_alias),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
