/*
 * test_threads.c - multi-threaded runs (options.threads / options.pool):
 * on the golden inputs, 1 and 2 threads must give bitwise identical
 * outputs on the native backend, at batch 1 (the kernels split one image
 * by output columns / channels: every output still sums its K terms in the
 * same order) and at batch 2 (images dealt out to threads), FP32 and INT8;
 * on oneDNN (its own OpenMP threads at batch 1) within 1e-4 of FP32 at 1
 * thread. Meant to run under ThreadSanitizer too (a build with
 * -fsanitize=thread, OMP_NUM_THREADS=1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "testutil.h"

typedef struct golden {
    const char *model, *input;
    size_t in_n;
} golden;

static const golden CASES[] = {
    {"models/fastestdet/FastestDet.onnx", "golden/fastestdet_soccertrack_left.input.f32", 3 * 352 * 352},
    {"models/nanodet-m/nanodet_m_416.onnx", "golden/nanodet_soccertrack_left.input.f32", 3 * 416 * 416},
};

static float *read_input(const golden *c, int batch) {
    FA_TEST_REQUIRE_DATA(fa_test_data(c->input));
    size_t len = 0;
    char *raw = fa_test_read_file(fa_test_data(c->input), &len);
    assert_non_null(raw);
    assert_int_equal(len, c->in_n * sizeof(float));
    float *f = malloc(len * (size_t)batch);
    assert_non_null(f);
    for (int b = 0; b < batch; b++)
        memcpy(f + (size_t)b * c->in_n, raw, len);
    free(raw);
    return f;
}

/* Every output of one run, concatenated (n set). */
static float *run_all(const fa_nn_model *m, const float *in, int batch, size_t *n) {
    fa_nn_session *s = fa_nn_session_new(m, batch);
    if (!s) fail_msg("%s", fa_err_msg());
    if (fa_nn_run(s, in, NULL) != 0) fail_msg("%s", fa_err_msg());
    size_t total = 0;
    float *all = NULL;
    for (int i = 0; i < fa_nn_model_output_count(m); i++) {
        int64_t shape[FA_NN_MAX_RANK];
        int rank = 0;
        const float *o = fa_nn_session_output(s, i, shape, &rank);
        size_t k = 1;
        for (int d = 0; d < rank; d++)
            k *= (size_t)shape[d];
        all = realloc(all, (total + k) * sizeof(float));
        assert_non_null(all);
        memcpy(all + total, o, k * sizeof(float));
        total += k;
    }
    fa_nn_session_free(s);
    *n = total;
    return all;
}

static fa_nn_model *load(const char *path, const char *backend, int threads, fa_pool *pool) {
    fa_nn_options o = {.backend = backend, .threads = threads, .pool = pool};
    fa_nn_model *m = fa_nn_model_load(path, &o);
    if (!m) fail_msg("%s: %s", path, fa_err_msg());
    return m;
}

/* 1 vs 2 threads on path (an .onnx or .fanq) at a batch: bitwise equal. */
static void same_bits(const char *path, const golden *c, int batch, fa_pool *pool) {
    float *in = read_input(c, batch);
    fa_nn_model *m1 = load(path, "native", 1, NULL), *m2 = load(path, "native", 2, pool);
    size_t n1 = 0, n2 = 0;
    float *o1 = run_all(m1, in, batch, &n1), *o2 = run_all(m2, in, batch, &n2);
    assert_int_equal(n1, n2);
    for (size_t i = 0; i < n1; i++)
        if (memcmp(&o1[i], &o2[i], sizeof(float)) != 0)
            fail_msg("%s batch %d: out[%zu] = %.9g with 1 thread, %.9g with 2", path, batch, i, (double)o1[i],
                     (double)o2[i]);
    free(o1), free(o2), free(in);
    fa_nn_model_free(m1);
    fa_nn_model_free(m2);
}

static void test_native_fp32_threads(void **state) {
    (void)state;
    fa_pool *pool = fa_pool_new(1); /* the caller + 1 worker: 2 threads */
    assert_non_null(pool);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        same_bits(fa_test_data(CASES[i].model), &CASES[i], 1, pool);
        same_bits(fa_test_data(CASES[i].model), &CASES[i], 2, pool);
    }
    fa_pool_free(pool);
}

static void test_native_int8_threads(void **state) {
    (void)state;
    const golden *c = &CASES[1];
    float *in = read_input(c, 1);
    fa_nn_model *m = load(fa_test_data(c->model), "native", 1, NULL);
    const float *inputs[1] = {in};
    fa_nn_quant *q = fa_nn_calibrate(m, inputs, 1, NULL);
    if (!q) fail_msg("%s", fa_err_msg());
    char *dir = fa_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/nanodet.fanq", dir);
    assert_int_equal(fa_nn_quant_save(q, path), 0);
    fa_nn_quant_free(q);
    fa_nn_model_free(m);
    free(in);
    fa_pool *pool = fa_pool_new(1);
    assert_non_null(pool);
    same_bits(path, c, 1, pool);
    same_bits(path, c, 3, pool);
    fa_pool_free(pool);
    fa_test_rmtree(dir);
    free(dir);
}

/* The default pool (options.pool NULL) and oneDNN's threads: same figures within 1e-4. */
static void test_default_pool_and_onednn(void **state) {
    (void)state;
    const golden *c = &CASES[0];
    const char *backends[2] = {"native", fa_nn_backend_onednn() ? "onednn" : NULL};
    for (int b = 0; b < 2 && backends[b]; b++)
        for (int batch = 1; batch <= 2; batch++) {
            float *in = read_input(c, batch);
            fa_nn_model *m1 = load(fa_test_data(c->model), backends[b], 1, NULL);
            fa_nn_model *m2 = load(fa_test_data(c->model), backends[b], 2, NULL);
            size_t n1 = 0, n2 = 0;
            float *o1 = run_all(m1, in, batch, &n1), *o2 = run_all(m2, in, batch, &n2);
            assert_int_equal(n1, n2);
            double worst = 0;
            for (size_t i = 0; i < n1; i++)
                worst = fmax(worst, fabs((double)o1[i] - o2[i]));
            if (!(worst <= 1e-4))
                fail_msg("%s batch %d: 1 vs 2 threads differ by %g", backends[b], batch, worst);
            free(o1), free(o2), free(in);
            fa_nn_model_free(m1);
            fa_nn_model_free(m2);
        }
}

static void test_bad_threads(void **state) {
    (void)state;
    fa_nn_options o = {.backend = "native", .threads = 5000};
    assert_null(fa_nn_model_load(fa_test_data(CASES[0].model), &o));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "threads"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_fp32_threads),
        cmocka_unit_test(test_native_int8_threads),
        cmocka_unit_test(test_default_pool_and_onednn),
        cmocka_unit_test(test_bad_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
