/*
 * test_golden.c - runs FastestDet and NanoDet-m on the golden inputs
 * (../shared/data/golden, produced by ONNX Runtime) and compares every
 * output within 1e-3 max abs, on the native backend and on oneDNN when it
 * is built in; batch 2 (the same image twice) must give the same figures.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/cuda.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "testutil.h"

static float *read_f32(const char *rel, size_t want) {
    char path[512];
    snprintf(path, sizeof path, "golden/%s", rel);
    size_t len = 0;
    char *raw = fa_test_read_file(fa_test_data(path), &len);
    assert_non_null(raw);
    assert_int_equal(len, want * sizeof(float));
    float *f = malloc(len);
    assert_non_null(f);
    memcpy(f, raw, len); /* the files are little-endian, like every target we build for */
    free(raw);
    return f;
}

static size_t shape_count(const fa_json_value *shape) {
    size_t n = 1;
    for (size_t i = 0; i < shape->u.arr.n; i++)
        n *= (size_t)shape->u.arr.items[i]->u.num;
    return n;
}

/* Runs one golden case at a batch on a backend; returns the worst error. */
static double run_case(const char *name, const char *backend, int precision, int batch) {
    char rel[256];
    snprintf(rel, sizeof rel, "golden/%s.json", name);
    size_t len = 0;
    char *json = fa_test_read_file(fa_test_data(rel), &len);
    assert_non_null(json);
    fa_arena *a = fa_arena_new(1 << 14);
    fa_json_value *root = NULL;
    assert_int_equal(fa_json_parse(rel, json, len, a, &root), 0);
    char model_rel[256];
    snprintf(model_rel, sizeof model_rel, "models/%s", fa_json_get(root, "model")->u.str.ptr);
    fa_nn_options o = {.backend = backend, .precision = precision};
    fa_nn_model *m = fa_nn_model_load(fa_test_data(model_rel), &o);
    if (!m) fail_msg("%s", fa_err_msg());
    size_t in_n = shape_count(fa_json_get(root, "input_shape"));
    float *one = read_f32(fa_json_get(root, "input_file")->u.str.ptr, in_n);
    float *input = malloc(in_n * sizeof *input * (size_t)batch);
    assert_non_null(input);
    for (int b = 0; b < batch; b++)
        memcpy(input + (size_t)b * in_n, one, in_n * sizeof *one);
    fa_nn_session *s = fa_nn_session_new(m, batch);
    if (!s) fail_msg("%s", fa_err_msg());
    float *outs[16];
    if (fa_nn_run(s, input, outs) != 0) fail_msg("%s", fa_err_msg());
    const fa_json_value *outputs = fa_json_get(root, "outputs");
    double worst = 0;
    for (size_t i = 0; i < outputs->u.arr.n; i++) {
        const fa_json_value *out = outputs->u.arr.items[i];
        int idx = fa_nn_model_output_index(m, fa_json_get(out, "name")->u.str.ptr);
        assert_true(idx >= 0);
        size_t n = shape_count(fa_json_get(out, "shape"));
        int64_t shape[FA_NN_MAX_RANK];
        int rank = 0;
        assert_non_null(fa_nn_session_output(s, idx, shape, &rank));
        assert_int_equal(shape[0], batch);
        float *want = read_f32(fa_json_get(out, "file")->u.str.ptr, n);
        double err = 0;
        for (int b = 0; b < batch; b++)
            for (size_t k = 0; k < n; k++) {
                double d = fabs((double)outs[idx][(size_t)b * n + k] - want[k]);
                if (!(d <= err)) err = d; /* NaN counts as worst */
            }
        print_message("%-28s %-7s %s batch %d output %-4s max abs err %.3g\n", name, backend,
                      precision == FA_NN_FP16 ? "fp16" : "fp32", batch, fa_json_get(out, "name")->u.str.ptr, err);
        if (!(err <= worst)) worst = err;
        free(want);
    }
    print_message("%-28s %-7s batch %d peak working memory %zu bytes\n", name, backend, batch,
                  fa_nn_session_peak_bytes(s));
    fa_nn_session_free(s);
    fa_nn_model_free(m);
    free(input);
    free(one);
    fa_arena_free(a);
    free(json);
    return worst;
}

static const char *const cases[] = {"fastestdet_dog", "fastestdet_soccertrack_left", "nanodet_dog",
                                    "nanodet_soccertrack_left"};

static void check_backend(const char *backend) {
    FA_TEST_REQUIRE_DATA(fa_test_data("golden/fastestdet_dog.json"));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double err = run_case(cases[i], backend, FA_NN_FP32, 1);
        if (!(err <= 1e-3)) fail_msg("%s on %s: max abs error %g above 1e-3", cases[i], backend, err);
    }
}

static void test_golden_native(void **state) {
    (void)state;
    check_backend("native");
}

static void test_golden_onednn(void **state) {
    (void)state;
    if (!fa_nn_backend_onednn()) {
        print_message("SKIP: built without oneDNN (FA_WITH_ONEDNN)\n");
        skip();
    }
    check_backend("onednn");
}

/* A batch of two equal images must reproduce the golden outputs twice. */
static void test_golden_batch2(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data("golden/fastestdet_dog.json"));
    double err = run_case("fastestdet_dog", "native", FA_NN_FP32, 2);
    if (!(err <= 1e-3)) fail_msg("FastestDet batch 2: max abs error %g", err);
    err = run_case("nanodet_dog", "native", FA_NN_FP32, 2);
    if (!(err <= 1e-3)) fail_msg("NanoDet batch 2: max abs error %g", err);
}

/* The CUDA backend where a GPU and the plugin are (a lent GPU machine):
 * fp32 held to ONNX Runtime's 1e-3 like the CPU backends, batch 2 too;
 * fp16 (half activations and weights) held to 0.25: the order of the
 * native fp16 path's error (0.146 on FastestDet, weights alone half); the
 * H100 gave 0.063 and 0.18 on FastestDet's two images. */
static void test_golden_cuda(void **state) {
    (void)state;
    if (fa_nn_cuda_available()) {
        print_message("SKIP: %s\n", fa_err_msg());
        skip();
    }
    check_backend("cuda");
    double err = run_case("nanodet_soccertrack_left", "cuda", FA_NN_FP32, 2);
    if (!(err <= 1e-3)) fail_msg("NanoDet on cuda batch 2: max abs error %g", err);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err = run_case(cases[i], "cuda", FA_NN_FP16, 1);
        if (!(err <= 0.25)) fail_msg("%s on cuda fp16: max abs error %g above 0.25", cases[i], err);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_native),
        cmocka_unit_test(test_golden_onednn),
        cmocka_unit_test(test_golden_batch2),
        cmocka_unit_test(test_golden_cuda),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
