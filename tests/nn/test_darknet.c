/*
 * test_darknet.c - the Darknet loader (src/nn/darknet.c) on the three
 * yolo-fastest-1.1 networks: graph structure (nodes per op, output shapes,
 * every weight accounted for, [yolo] heads), runs on the native backend and
 * oneDNN (agreement, determinism), BatchNormalization folding checked
 * against the unfolded graph and against one layer computed by hand with
 * Darknet's formulas, and exact messages for corrupt cfg and weights.
 * There is no JPEG decoder in the project, so no real-image check here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/kernels.h"
#include "nn/nn_internal.h"
#include "testutil.h"

#define MODEL_DIR "models/yolo-fastest-1.1/"

static char *model_path(const char *name, const char *ext) {
    static char buf[2][512];
    static int which;
    which ^= 1;
    snprintf(buf[which], sizeof buf[which], "%s", fa_test_data(MODEL_DIR));
    snprintf(buf[which] + strlen(buf[which]), sizeof buf[which] - strlen(buf[which]), "%s%s", name, ext);
    return buf[which];
}

static fa_nn_graph *load(const char *name) {
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s", model_path(name, ".cfg"));
    fa_nn_graph *g = fa_nn_darknet_load(cfg, model_path(name, ".weights"));
    if (!g) fprintf(stderr, "%s\n", fa_err_msg());
    assert_non_null(g);
    return g;
}

static void check_structure(const char *name, int classes, size_t weight_floats, const float *anchors) {
    fa_nn_graph *g = load(name);
    size_t ops[FA_NN_OP_COUNT] = {0}, params = 0;
    for (size_t i = 0; i < fa_nn_graph_node_count(g); i++)
        ops[fa_nn_graph_node(g, i)->op]++;
    assert_int_equal(fa_nn_graph_node_count(g), 244);
    assert_int_equal(ops[FA_NN_OP_CONV], 84);
    assert_int_equal(ops[FA_NN_OP_BATCHNORM], 82);
    assert_int_equal(ops[FA_NN_OP_LEAKY_RELU], 54);
    assert_int_equal(ops[FA_NN_OP_ADD], 18);
    assert_int_equal(ops[FA_NN_OP_MAXPOOL], 3);
    assert_int_equal(ops[FA_NN_OP_CONCAT], 2);
    assert_int_equal(ops[FA_NN_OP_RESIZE], 1);
    for (size_t i = 0; i < fa_nn_graph_tensor_count(g); i++) {
        const fa_nn_tensor *t = fa_nn_graph_tensor(g, (int)i);
        size_t n = 1;
        for (int d = 0; d < t->rank; d++)
            n *= (size_t)t->shape[d];
        if (t->data && strstr(t->name, ".scales") == NULL) params += n;
    }
    assert_int_equal(params, weight_floats);
    const fa_nn_tensor *in = fa_nn_graph_tensor(g, fa_nn_graph_input(g, 0));
    assert_int_equal(in->rank, 4);
    assert_true(in->shape[0] == 1 && in->shape[1] == 3 && in->shape[2] == 320 && in->shape[3] == 320);
    assert_int_equal(fa_nn_graph_output_count(g), 2);
    for (int o = 0; o < 2; o++) {
        const fa_nn_tensor *t = fa_nn_graph_tensor(g, fa_nn_graph_output(g, o));
        assert_int_equal(t->rank, 4);
        assert_int_equal(t->shape[1], 3 * (classes + 5));
        assert_int_equal(t->shape[2], o ? 20 : 10);
        assert_int_equal(t->shape[3], o ? 20 : 10);
    }
    const fa_nn_yolo_head *h;
    assert_int_equal(fa_nn_graph_yolo_heads(g, &h), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(h[i].output, i);
        assert_int_equal(h[i].classes, classes);
        assert_int_equal(h[i].n_anchors, 6);
        assert_memory_equal(h[i].anchors, anchors, 12 * sizeof *anchors);
        assert_int_equal(h[i].n_mask, 3);
        for (int m = 0; m < 3; m++)
            assert_int_equal(h[i].mask[m], (i ? 0 : 3) + m);
        assert_true(h[i].scale_x_y == 1.0f);
    }
    fa_nn_graph_free(g);
}

static void test_structure(void **state) {
    (void)state;
    static const float coco[12] = {12, 18, 37, 49, 52, 132, 115, 73, 119, 199, 242, 238};
    static const float body[12] = {7, 17, 20, 50, 45, 99, 64, 187, 123, 211, 227, 264};
    check_structure("yolo-fastest-1.1", 80, (1384268 - 20) / 4, coco);
    check_structure("yolo-fastest-1.1-xl", 80, (3693964 - 20) / 4, coco);
    check_structure("yolo-fastest-1.1_body", 1, (1177604 - 20) / 4, body);
}

/* A deterministic 1x3x320x320 input in [0, 1]. */
static float *make_input(void) {
    float *x = malloc(3 * 320 * 320 * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < 3 * 320 * 320; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 999.0f;
    return x;
}

/* Runs m on x; returns a copy of both outputs concatenated (10x10 then 20x20). */
static float *run_model(fa_nn_model *m, const float *x, size_t *n) {
    fa_nn_session *s = fa_nn_session_new(m, 1);
    assert_non_null(s);
    assert_int_equal(fa_nn_run(s, x, NULL), 0);
    size_t total = 0;
    float *all = NULL;
    for (int o = 0; o < fa_nn_model_output_count(m); o++) {
        int64_t shape[FA_NN_MAX_RANK];
        int rank;
        const float *y = fa_nn_session_output(s, o, shape, &rank);
        assert_non_null(y);
        size_t k = 1;
        for (int d = 0; d < rank; d++)
            k *= (size_t)shape[d];
        all = realloc(all, (total + k) * sizeof *all);
        assert_non_null(all);
        memcpy(all + total, y, k * sizeof *y);
        total += k;
    }
    fa_nn_session_free(s);
    *n = total;
    return all;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(isfinite(a[i]) && isfinite(b[i]));
        double d = fabs((double)a[i] - b[i]);
        if (d > worst) worst = d;
    }
    return worst;
}

static void test_run_backends(void **state) {
    (void)state;
    fa_nn_model *m =
        fa_nn_model_load(model_path("yolo-fastest-1.1", ".cfg"), &(fa_nn_options){.backend = "native"});
    assert_non_null(m);
    fa_nn_info info;
    fa_nn_model_info(m, &info);
    assert_int_equal(info.fused_batchnorm, 82);
    assert_int_equal(info.fused_act, 54);
    assert_int_equal(info.nodes, 108); /* 84 conv + 18 add + 3 maxpool + 2 concat + 1 resize */
    float *x = make_input();
    size_t n1, n2;
    float *a = run_model(m, x, &n1), *b = run_model(m, x, &n2);
    assert_int_equal(n1, 255 * (100 + 400));
    assert_int_equal(n2, n1);
    assert_memory_equal(a, b, n1 * sizeof *a);
    size_t differ = 0;
    for (size_t i = 1; i < n1; i++)
        differ += a[i] != a[0];
    assert_true(differ > n1 / 2); /* not a constant map */
    if (fa_nn_backend_onednn()) {
        fa_nn_model *d =
            fa_nn_model_load(model_path("yolo-fastest-1.1", ".cfg"), &(fa_nn_options){.backend = "onednn"});
        assert_non_null(d);
        float *c = run_model(d, x, &n2);
        assert_int_equal(n2, n1);
        assert_true(max_diff(a, c, n1) <= 1e-4);
        free(c);
        fa_nn_model_free(d);
    }
    free(a);
    free(b);
    free(x);
    fa_nn_model_free(m);
}

/* Folding exactness on the whole network: the first 14 Conv outputs made
 * graph outputs too keep their BatchNormalization unfolded (ops.c runs it). */
static void test_fold_vs_unfolded(void **state) {
    (void)state;
    float *x = make_input();
    fa_nn_model *m =
        fa_nn_model_load(model_path("yolo-fastest-1.1", ".cfg"), &(fa_nn_options){.backend = "native"});
    assert_non_null(m);
    size_t n1, n2;
    float *a = run_model(m, x, &n1);
    fa_nn_graph *g = load("yolo-fastest-1.1");
    for (size_t i = 0; i < g->n_nodes && g->n_outputs < FA_NN_MAX_IO; i++)
        if (g->nodes[i].op == FA_NN_OP_CONV && i + 1 < g->n_nodes && g->nodes[i + 1].op == FA_NN_OP_BATCHNORM)
            g->outputs[g->n_outputs++] = g->nodes[i].out[0];
    fa_nn_model *u = fa_nn_model_from_graph(g, &(fa_nn_options){.backend = "native"});
    assert_non_null(u);
    fa_nn_info info;
    fa_nn_model_info(u, &info);
    assert_int_equal(info.fused_batchnorm, 82 - 14);
    fa_nn_session *s = fa_nn_session_new(u, 1);
    assert_non_null(s);
    assert_int_equal(fa_nn_run(s, x, NULL), 0);
    float *b = malloc(n1 * sizeof *b);
    assert_non_null(b);
    memcpy(b, fa_nn_session_output(s, 0, NULL, NULL), 25500 * sizeof *b);
    memcpy(b + 25500, fa_nn_session_output(s, 1, NULL, NULL), 102000 * sizeof *b);
    n2 = 25500 + 102000;
    assert_int_equal(n2, n1);
    assert_true(max_diff(a, b, n1) <= 1e-4);
    fa_nn_session_free(s);
    fa_nn_model_free(u);
    fa_nn_model_free(m);
    free(a);
    free(b);
    free(x);
}

static const char tiny_cfg[] = "[net]\nwidth=8\nheight=8\nchannels=3\n\n"
                               "[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\nbatch_normalize=1\n"
                               "activation=leaky\n";
#define TINY_BYTES (20 + 4 * (4 * 8 + 8 * 3 * 9))

/* Header and first layer of yolo-fastest-1.1.weights (the tiny cfg's layer). */
static char *tiny_weights(void) {
    size_t len;
    char *w = fa_test_read_file(model_path("yolo-fastest-1.1", ".weights"), &len);
    assert_non_null(w);
    assert_true(len > TINY_BYTES + 4);
    return w;
}

static float f32_at(const char *w, size_t i) {
    float f;
    memcpy(&f, w + 20 + 4 * i, sizeof f);
    return f;
}

/* Conv + BN + leaky in double with Darknet's formulas, against the folded, fused model. */
static void test_layer_by_hand(void **state) {
    (void)state;
    char *w = tiny_weights();
    fa_nn_graph *g =
        fa_nn_darknet_load_mem("tiny.cfg", tiny_cfg, strlen(tiny_cfg), "tiny.weights", w, TINY_BYTES);
    assert_non_null(g);
    fa_nn_model *m = fa_nn_model_from_graph(g, &(fa_nn_options){.backend = "native"});
    assert_non_null(m);
    float x[3 * 8 * 8];
    for (int i = 0; i < 3 * 8 * 8; i++)
        x[i] = (float)((i * 37) % 64) / 63.0f;
    size_t n;
    float *y = run_model(m, x, &n);
    assert_int_equal(n, 8 * 4 * 4);
    double worst = 0;
    for (int o = 0; o < 8; o++)
        for (int oy = 0; oy < 4; oy++)
            for (int ox = 0; ox < 4; ox++) {
                double acc = 0;
                for (int c = 0; c < 3; c++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                            if (iy < 0 || iy >= 8 || ix < 0 || ix >= 8) continue;
                            acc += (double)f32_at(w, 32 + (size_t)((o * 3 + c) * 3 + ky) * 3 + (size_t)kx) *
                                   x[(c * 8 + iy) * 8 + ix];
                        }
                double bias = f32_at(w, (size_t)o), scale = f32_at(w, 8 + (size_t)o);
                double mean = f32_at(w, 16 + (size_t)o), var = f32_at(w, 24 + (size_t)o);
                double v = scale * (acc - mean) / sqrt(var + 1e-5) + bias;
                v = v < 0 ? 0.1 * v : v;
                double d = fabs(v - y[(o * 4 + oy) * 4 + ox]);
                if (d > worst) worst = d;
            }
    assert_true(worst <= 1e-5);
    free(y);
    fa_nn_model_free(m);
    free(w);
}

/* Darknet's maxpool padding (size 2, stride 1: the window runs past the
 * bottom/right edge), route groups (a channel slice) and upsample, by hand. */
static void test_pool_route_upsample(void **state) {
    (void)state;
    static const char cfg[] = "[net]\nwidth=4\nheight=4\nchannels=2\n[maxpool]\nsize=2\nstride=1\n"
                              "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n[upsample]\nstride=2\n";
    static const int32_t header[5] = {0, 2, 5, 0, 0};
    fa_nn_graph *g = fa_nn_darknet_load_mem("p.cfg", cfg, strlen(cfg), "p.weights", header, sizeof header);
    assert_non_null(g);
    fa_nn_model *m = fa_nn_model_from_graph(g, &(fa_nn_options){.backend = "native"});
    assert_non_null(m);
    float x[2 * 4 * 4];
    for (int i = 0; i < 32; i++)
        x[i] = (float)((i * 7) % 11) - 5;
    size_t n;
    float *y = run_model(m, x, &n);
    assert_int_equal(n, 8 * 8);
    for (int oy = 0; oy < 8; oy++)
        for (int ox = 0; ox < 8; ox++) {
            int py = oy / 2, px = ox / 2;
            float best = -1e30f;
            for (int ky = py; ky < py + 2 && ky < 4; ky++)
                for (int kx = px; kx < px + 2 && kx < 4; kx++)
                    best = fmaxf(best, x[16 + ky * 4 + kx]);
            assert_true(y[oy * 8 + ox] == best);
        }
    free(y);
    fa_nn_model_free(m);
}

static void expect_weights_error(const char *w, size_t len, const char *msg) {
    assert_null(fa_nn_darknet_load_mem("tiny.cfg", tiny_cfg, strlen(tiny_cfg), "tiny.weights", w, len));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_string_equal(fa_err_msg(), msg);
}

static void test_bad_weights(void **state) {
    (void)state;
    char *w = tiny_weights();
    expect_weights_error(
        w, TINY_BYTES - 1,
        "tiny.weights: byte 148: file ends in layer 0's weight (864 bytes needed, 863 left)");
    expect_weights_error(w, TINY_BYTES + 4, "tiny.weights: byte 1012: 4 bytes left after the last layer");
    expect_weights_error(w, 30,
                         "tiny.weights: byte 20: file ends in layer 0's bias (32 bytes needed, 10 left)");
    expect_weights_error(w, 8, "tiny.weights: byte 0: 8 bytes, too short for a header");
    char bad[TINY_BYTES];
    memcpy(bad, w, sizeof bad);
    bad[0] = (char)0xe8, bad[1] = 0x03; /* major 1000: transposed weights */
    expect_weights_error(bad, sizeof bad, "tiny.weights: byte 0: version 1000.2 not supported");
    free(w);
}

static void expect_cfg_error(const char *cfg, const char *msg) {
    char *w = tiny_weights();
    assert_null(fa_nn_darknet_load_mem("t.cfg", cfg, strlen(cfg), "t.weights", w, TINY_BYTES));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_string_equal(fa_err_msg(), msg);
    free(w);
}

#define NET "[net]\nwidth=8\nheight=8\nchannels=3\n"
#define CONV "[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\nbatch_normalize=1\nactivation=leaky\n"

static void test_bad_cfg(void **state) {
    (void)state;
    expect_cfg_error("[convolutional]\nfilters=8\n", "t.cfg:1: the first section must be [net]");
    expect_cfg_error(NET CONV "[lstm]\n", "t.cfg:12: unknown section [lstm]");
    expect_cfg_error(NET CONV "stride_x=2\n", "t.cfg:12: unknown key 'stride_x' in [convolutional]");
    expect_cfg_error(NET "[convolutional]\nfilters=eight\n",
                     "t.cfg:6: 'filters': expected an integer in [1, 8192], got 'eight'");
    expect_cfg_error(NET CONV "[route]\nlayers=-2\n",
                     "t.cfg:13: 'layers': layer -2 out of range (layer 1 may use 0..0)");
    expect_cfg_error(NET CONV "[route]\nlayers=1\n",
                     "t.cfg:13: 'layers': layer 1 out of range (layer 1 may use 0..0)");
    expect_cfg_error(NET CONV "[maxpool]\nsize=2\nstride=2\n[shortcut]\nfrom=-2\n",
                     "t.cfg:16: layer 0 is 8x4x4, the previous layer is 8x2x2");
    expect_cfg_error(NET CONV "[yolo]\nmask=0,1\nanchors=1,2,3,4\nnum=2\nclasses=1\n",
                     "t.cfg:12: input has 8 channels, 2 masks x (1 classes + 5) need 12");
    expect_cfg_error(NET CONV "activation=mish\n", "t.cfg:12: duplicate key 'activation'");
    expect_cfg_error(NET "[convolutional]\nfilters=8\nsize=3\nactivation=mish\n",
                     "t.cfg:8: activation 'mish' not supported (linear, leaky, relu, logistic)");
    expect_cfg_error(NET "[convolutional]\nfilters=8\ngroups=3\n",
                     "t.cfg:5: groups 3 does not divide 3 input channels and 8 filters");
    expect_cfg_error(NET CONV "size\n", "t.cfg:12: expected key=value, got 'size'");
    expect_cfg_error(NET CONV "[upsample]\nstride=2\nscale=0.5\n",
                     "t.cfg:14: 'scale' other than 1 not supported");
    expect_cfg_error(NET CONV "[yolo]\nmask=0\nanchors=1,2,x\nnum=1\nclasses=1\n",
                     "t.cfg:14: 'anchors': expected at most 32 numbers in [0, 1e6], got '1,2,x'");
    expect_cfg_error(NET CONV "[yolo]\nmask=0,2\nanchors=1,2,3,4\nnum=2\nclasses=1\n",
                     "t.cfg:13: mask 2 not below num=2");
    assert_null(fa_nn_darknet_load("/nonexistent/x.cfg", "/nonexistent/x.weights"));
    assert_int_equal(fa_err_code(), FA_ENOTFOUND);
    assert_string_equal(fa_err_msg(), "x.cfg: cannot open: No such file or directory");
    assert_null(fa_nn_model_load("/nonexistent/x.cfg", NULL));
    assert_int_equal(fa_err_code(), FA_ENOTFOUND);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_run_backends),
        cmocka_unit_test(test_fold_vs_unfolded),
        cmocka_unit_test(test_layer_by_hand),
        cmocka_unit_test(test_pool_route_upsample),
        cmocka_unit_test(test_bad_weights),
        cmocka_unit_test(test_bad_cfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
