/*
 * test_cuda.c - the CUDA backend's host side, on every machine: the
 * lowering of real detector graphs (FastestDet, NanoDet-m, yolo-fastest)
 * to a GPU program, run by the host interpreter, must give the CPU
 * runtime's outputs (that is what the GPU plugin executes, with the same
 * index arithmetic); a missing plugin is a clear FA_EUNAVAIL. Where the
 * plugin and a GPU are present (a lent GPU machine), the GPU's outputs are
 * compared with the CPU's in fp32 and fp16, at batch 1 and 3; elsewhere
 * those tests skip (test_golden.c holds the GPU to ONNX Runtime's outputs).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/cuda.h"
#include "nn/nn.h"
#include "testutil.h"

typedef struct model_case {
    const char *rel; /* under the data dir */
    const char *name;
} model_case;

static const model_case models[] = {
    {"models/fastestdet/FastestDet.onnx", "FastestDet"},
    {"models/nanodet-m/nanodet_m_416.onnx", "NanoDet-m"},
    {"models/yolo-fastest-1.1/yolo-fastest-1.1.cfg", "yolo-fastest-1.1"},
};

/* A deterministic input in [0, 1) with some structure (not all equal). */
static float *make_input(size_t n) {
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    uint32_t r = 12345;
    for (size_t i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = (float)(r >> 8) / 16777216.0f;
    }
    return x;
}

static size_t input_count(const fa_nn_model *m, int batch) {
    int64_t shape[FA_NN_MAX_RANK];
    int rank = fa_nn_model_input_shape(m, shape);
    size_t n = (size_t)batch;
    for (int i = 1; i < rank; i++) n *= (size_t)shape[i];
    return n;
}

static size_t output_count(const fa_nn_session *s, int i) {
    int64_t shape[FA_NN_MAX_RANK];
    int rank = 0;
    fa_nn_session_output(s, i, shape, &rank);
    size_t n = 1;
    for (int k = 0; k < rank; k++) n *= (size_t)shape[k];
    return n;
}

/* Worst |a - b| over the outputs of two sessions of one graph. */
static double worst_diff(const fa_nn_session *a, float *const *b, int n_out) {
    double worst = 0;
    for (int i = 0; i < n_out; i++) {
        const float *x = fa_nn_session_output(a, i, NULL, NULL);
        for (size_t k = 0; k < output_count(a, i); k++) {
            double d = fabs((double)x[k] - b[i][k]);
            if (!(d <= worst)) worst = d;
        }
    }
    return worst;
}

/* Lowers model mc at batch, interprets the program on the host, compares
 * with the CPU runtime. */
static void check_lowering(const model_case *mc, int batch) {
    FA_TEST_REQUIRE_DATA(fa_test_data(mc->rel));
    fa_nn_model *m = fa_nn_model_load(fa_test_data(mc->rel), &(fa_nn_options){.backend = "native"});
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_session *s = fa_nn_session_new(m, batch);
    assert_non_null(s);
    size_t n_in = input_count(m, batch);
    float *in = make_input(n_in);
    assert_int_equal(fa_nn_run(s, in, NULL), 0);
    fa_cuda_program *p = fa_nn_session_lower(s, 0);
    if (!p) fail_msg("%s", fa_err_msg());
    assert_int_equal(p->in_count, (int64_t)n_in);
    int n_out = fa_nn_model_output_count(m);
    assert_int_equal(p->n_out, n_out);
    float *outs[FA_CUDA_MAX_OUT];
    for (int i = 0; i < n_out; i++) {
        assert_int_equal(p->out_count[i], (int64_t)output_count(s, i));
        outs[i] = malloc((size_t)p->out_count[i] * sizeof(float));
        assert_non_null(outs[i]);
    }
    assert_int_equal(fa_nn_cuda_program_run_host(p, in, outs), 0);
    double worst = worst_diff(s, outs, n_out);
    size_t convs = 0;
    for (size_t i = 0; i < p->n_steps; i++) convs += p->steps[i].kind == FA_CUDA_CONV;
    print_message("%-18s batch %d: %zu steps (%zu conv), arena %lld elements, host program vs CPU max abs %.3g\n",
                  mc->name, batch, p->n_steps, convs, (long long)p->arena, worst);
    if (!(worst <= 1e-3)) fail_msg("%s: the lowered program differs from the CPU by %g", mc->name, worst);
    for (int i = 0; i < n_out; i++) free(outs[i]);
    fa_nn_cuda_program_free(p);
    free(in);
    fa_nn_session_free(s);
    fa_nn_model_free(m);
}

static void test_lowering_fastestdet(void **state) {
    (void)state;
    check_lowering(&models[0], 1);
}

static void test_lowering_nanodet(void **state) {
    (void)state;
    check_lowering(&models[1], 1);
}

static void test_lowering_yolo_batch2(void **state) {
    (void)state;
    check_lowering(&models[2], 2);
}

/* Without the plugin (not built: no nvcc) or without a device (built,
 * no GPU or driver), backend "cuda" is refused with the reason. */
static void test_unavailable_is_clear(void **state) {
    (void)state;
    if (fa_nn_cuda_available() == 0) {
        print_message("SKIP: the plugin and a GPU are present here\n");
        skip();
    }
    assert_int_equal(fa_err_code(), FA_EUNAVAIL);
    print_message("unavailable: %s\n", fa_err_msg());
    assert_true(strstr(fa_err_msg(), "libfa_nn_cuda.so") || strstr(fa_err_msg(), "no CUDA device"));
    FA_TEST_REQUIRE_DATA(fa_test_data(models[0].rel));
    fa_nn_model *m = fa_nn_model_load(fa_test_data(models[0].rel), &(fa_nn_options){.backend = "cuda"});
    assert_null(m);
    assert_int_equal(fa_err_code(), FA_EUNAVAIL);
    assert_non_null(strstr(fa_err_msg(), "backend 'cuda'"));
}

/* The GPU against the CPU: fp32 within 1e-3, fp16 within 5 % of the
 * output range (half activations: FastestDet's outputs, up to 4.3, moved
 * by 0.11 on the H100, 2.6 %); a batch of 3 images equals three runs of
 * one. */
static void check_gpu(const model_case *mc, int precision, double tol_rel) {
    fa_nn_model *cpu = fa_nn_model_load(fa_test_data(mc->rel), &(fa_nn_options){.backend = "native"});
    fa_nn_model *gpu =
        fa_nn_model_load(fa_test_data(mc->rel), &(fa_nn_options){.backend = "cuda", .precision = precision});
    if (!cpu || !gpu) fail_msg("%s", fa_err_msg());
    size_t n1 = input_count(cpu, 1);
    float *in = make_input(n1 * 3);
    fa_nn_session *sc = fa_nn_session_new(cpu, 1), *sg = fa_nn_session_new(gpu, 1), *sg3 = fa_nn_session_new(gpu, 3);
    if (!sc || !sg || !sg3) fail_msg("%s", fa_err_msg());
    assert_int_equal(fa_nn_run(sg3, in, NULL), 0);
    int n_out = fa_nn_model_output_count(cpu);
    double worst = 0, range = 0, worst_batch = 0;
    for (int b = 0; b < 3; b++) {
        assert_int_equal(fa_nn_run(sc, in + (size_t)b * n1, NULL), 0);
        assert_int_equal(fa_nn_run(sg, in + (size_t)b * n1, NULL), 0);
        for (int i = 0; i < n_out; i++) {
            const float *c = fa_nn_session_output(sc, i, NULL, NULL), *g = fa_nn_session_output(sg, i, NULL, NULL);
            const float *g3 = fa_nn_session_output(sg3, i, NULL, NULL) + (size_t)b * output_count(sc, i);
            for (size_t k = 0; k < output_count(sc, i); k++) {
                double d = fabs((double)c[k] - g[k]), d3 = fabs((double)g[k] - g3[k]);
                if (!(d <= worst)) worst = d;
                if (!(d3 <= worst_batch)) worst_batch = d3;
                if (fabs(c[k]) > range) range = fabs(c[k]);
            }
        }
    }
    print_message("%-18s %s on %s: max abs vs CPU %.3g (outputs up to %.3g), batch 3 vs 1 %.3g\n", mc->name,
                  precision == FA_NN_FP16 ? "fp16" : "fp32", "cuda", worst, range, worst_batch);
    double tol = precision == FA_NN_FP16 ? tol_rel * (range > 1 ? range : 1) : 1e-3;
    if (!(worst <= tol)) fail_msg("%s: GPU differs from CPU by %g (tolerance %g)", mc->name, worst, tol);
    if (!(worst_batch <= tol)) fail_msg("%s: batch 3 differs from batch 1 by %g", mc->name, worst_batch);
    fa_nn_session_free(sc);
    fa_nn_session_free(sg);
    fa_nn_session_free(sg3);
    fa_nn_model_free(cpu);
    fa_nn_model_free(gpu);
    free(in);
}

static void require_gpu(void) {
    if (fa_nn_cuda_available()) {
        print_message("SKIP: %s\n", fa_err_msg());
        skip();
    }
}

static void test_gpu_fp32(void **state) {
    (void)state;
    require_gpu();
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        FA_TEST_REQUIRE_DATA(fa_test_data(models[i].rel));
        check_gpu(&models[i], FA_NN_FP32, 0);
    }
}

static void test_gpu_fp16(void **state) {
    (void)state;
    require_gpu();
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        FA_TEST_REQUIRE_DATA(fa_test_data(models[i].rel));
        check_gpu(&models[i], FA_NN_FP16, 0.05);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowering_fastestdet), cmocka_unit_test(test_lowering_nanodet),
        cmocka_unit_test(test_lowering_yolo_batch2), cmocka_unit_test(test_unavailable_is_clear),
        cmocka_unit_test(test_gpu_fp32),           cmocka_unit_test(test_gpu_fp16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
