/*
 * test_model.c - `footanalytics model info|bench|quantize|prune` end to end
 * on the real models and labelled frames: what info reports of a float and
 * of a quantised model, bench's JSON, a quantised model calibrated on a
 * real frame and then run by `detect`, the default INT8 NanoDet-m's AP within
 * 1 point of FP32 on the labelled frames, prune's report on FastestDet (exact
 * figures of the pass, a verdict), and the exit status and message of each
 * kind of wrong use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"

#define FASTESTDET "models/fastestdet/FastestDet.onnx"
#define FRAME "images/soccertrack_v2/train/images/G_20231125_TOP_B_1st_3_020_png.rf.b4aa5b98853d08b2d23b558f6a3916e1.jpg"

typedef struct fixture {
    char *dir;
    char fanq[4200];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = fa_test_tmpdir();
    snprintf(f->fanq, sizeof f->fanq, "%s/fastestdet.fanq", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fa_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int run(const char *args, char **out, char **err) {
    static char cmd[16384];
    snprintf(cmd, sizeof cmd, "%s", args);
    return fa_test_run_cli(cmd, out, err);
}

static void need_data(void) {
    FA_TEST_REQUIRE_DATA(fa_test_data(FASTESTDET));
    FA_TEST_REQUIRE_DATA(fa_test_data(FRAME));
}

static void test_info_and_bench(void **state) {
    (void)state;
    need_data();
    char args[8192], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "model info '%s'", fa_test_data(FASTESTDET));
    assert_int_equal(run(args, &out, &err), 0);
    assert_non_null(strstr(out, "input:    input.1 1x3x352x352\n"));
    assert_non_null(strstr(out, "output:   758 1x85x22x22\n"));
    assert_non_null(strstr(out, "MACs:     121.5 M per image\n"));
    assert_non_null(strstr(out, "precision: fp32\n"));
    assert_non_null(strstr(out, ", 48 activations fused, 13 channel shuffles fused\n"));
    free(out), free(err);
    snprintf(args, sizeof args, "model bench '%s' --runs 3 --json --backend native", fa_test_data(FASTESTDET));
    assert_int_equal(run(args, &out, &err), 0);
    fa_arena *a = fa_arena_new(0);
    fa_json_value *v = NULL;
    assert_int_equal(fa_json_parse("bench", out, strlen(out), a, &v), 0);
    assert_string_equal(fa_json_get(v, "backend")->u.str.ptr, "native");
    assert_float_equal(fa_json_get(v, "runs")->u.num, 3, 0);
    assert_true(fa_json_get(v, "median_ms")->u.num > 0);
    assert_true(fa_json_get(v, "p90_ms")->u.num >= fa_json_get(v, "median_ms")->u.num);
    fa_arena_free(a);
    free(out), free(err);
}

/* Calibrated on one real frame's tiles, with the 2 most sensitive convs
 * kept fp32 (native: oneDNN's int8 rounds differently and may rank them the
 * other way round), the .fanq runs in info and detect. */
static void test_quantize_then_detect(void **state) {
    fixture *f = *state;
    need_data();
    char args[12288], *out = NULL, *err = NULL;
    snprintf(args, sizeof args,
             "model quantize '%s' --images '%s' --method minmax --max-inputs 4 --fp32-convs 2 --backend native "
             "--out '%s'",
             fa_test_data(FASTESTDET), fa_test_data(FRAME), f->fanq);
    int rc = run(args, &out, &err);
    if (rc) fail_msg("quantize failed (%d): %s", rc, err);
    assert_non_null(strstr(out, "calibrated FastestDet.onnx on 4 tiles of 1 frames (minmax"));
    assert_non_null(strstr(out, "sensitivity on 4 tiles ("));
    assert_non_null(strstr(out, ", with 2 kept fp32 "));
    assert_non_null(strstr(out, "  kept fp32: Conv_3 (drift alone int8 0.00")); /* the stage-2 entry */
    assert_non_null(strstr(out, "  kept fp32: Conv_6 (drift alone int8 0.00"));
    assert_non_null(strstr(out, "int8 convolutions: 67,"));
    assert_true(fa_test_file_exists(f->fanq));
    free(out), free(err);
    snprintf(args, sizeof args, "model info '%s' --json", f->fanq);
    assert_int_equal(run(args, &out, &err), 0);
    assert_non_null(strstr(out, "\"precision\":\"int8\",\"int8_convs\":67,"));
    free(out), free(err);
    snprintf(args, sizeof args, "detect '%s' --model '%s' --precision int8 --classes person", fa_test_data(FRAME),
             f->fanq);
    rc = run(args, &out, &err);
    if (rc) fail_msg("detect int8 failed (%d): %s", rc, err);
    assert_non_null(strstr(out, "\"class\": \"person\"") ? strstr(out, "\"class\": \"person\"")
                                                          : strstr(out, "\"class\":\"person\""));
    free(out), free(err);
}

#define NANODET "models/nanodet-m/nanodet_m_416.onnx"
#define FRAMES "images/soccertrack_v2/train/images"

/* The sanitizer builds run the CLI 10-20x slower: the INT8 accuracy check
 * (a default quantisation's sensitivity pass, four evaluations) is left to
 * the plain gcc and clang builds, which run the same code. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED_BUILD 1
#endif
#endif

#ifndef SANITIZED_BUILD
/* Person and ball AP@0.5 of `detect FRAMES --eval` with the given options. */
static void eval_ap(const char *model_opts, const char *roi, double *person, double *ball) {
    char args[12288], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "detect '%s' %s --eval --backend native --roi %s", fa_test_data(FRAMES),
             model_opts, roi);
    int rc = run(args, &out, &err);
    if (rc) fail_msg("'%s' failed (%d): %s", args, rc, err);
    size_t gt, dets, tp;
    const char *p = strstr(out, "\nperson"), *b = strstr(out, "\nsports ball");
    assert_non_null(p);
    assert_non_null(b);
    assert_int_equal(sscanf(p, "\nperson %zu %zu %zu %lf", &gt, &dets, &tp, person), 4);
    assert_int_equal(gt, 233);
    assert_int_equal(sscanf(b, "\nsports ball %zu %zu %zu %lf", &gt, &dets, &tp, ball), 4);
    assert_int_equal(gt, 23);
    free(out), free(err);
}
#endif

/* The issue's bar "INT8 within 1 point of FP32", with `model quantize`'s
 * defaults (percentile 99.999, every pitch tile of the 10 labelled frames,
 * the 2 most sensitive convolutions kept fp32) on NanoDet-m: person and
 * ball AP@0.5 on the pitch tiles and on the whole frames (measured 0.5724 /
 * 0.0741 / 0.4549 / 0.1016 against FP32's 0.5799 / 0.0775 / 0.4605 /
 * 0.1055). */
static void test_int8_default_accuracy(void **state) {
    fixture *f = *state;
    FA_TEST_REQUIRE_DATA(fa_test_data(NANODET));
#ifdef SANITIZED_BUILD
    print_message("skipped under a sanitizer (too slow); the plain builds run it\n");
    (void)f;
#else
    char fanq[4300], args[12288], *out = NULL, *err = NULL;
    snprintf(fanq, sizeof fanq, "%s/nanodet.fanq", f->dir);
    snprintf(args, sizeof args, "model quantize '%s' --images '%s' --out '%s'", fa_test_data(NANODET),
             fa_test_data(FRAMES), fanq);
    int rc = run(args, &out, &err);
    if (rc) fail_msg("quantize failed (%d): %s", rc, err);
    assert_non_null(strstr(out, "on 70 tiles of 10 frames (percentile"));
    assert_non_null(strstr(out, ", with 2 kept fp32 "));
    assert_non_null(strstr(out, "  kept fp32: Conv_3 "));
    assert_non_null(strstr(out, "  kept fp32: Conv_6 "));
    free(out), free(err);
    const char *rois[] = {"auto", "none"};
    char fp32_opts[4400], int8_opts[4400];
    snprintf(fp32_opts, sizeof fp32_opts, "--model '%s'", fa_test_data(NANODET));
    snprintf(int8_opts, sizeof int8_opts, "--model '%s' --precision int8", fanq);
    for (int i = 0; i < 2; i++) {
        double fp_person, fp_ball, q_person, q_ball;
        eval_ap(fp32_opts, rois[i], &fp_person, &fp_ball);
        eval_ap(int8_opts, rois[i], &q_person, &q_ball);
        print_message("roi %s: person FP32 %.4f INT8 %.4f, ball FP32 %.4f INT8 %.4f\n", rois[i], fp_person,
                      q_person, fp_ball, q_ball);
        assert_true(q_person >= fp_person - 0.01);
        assert_true(q_ball >= fp_ball - 0.01);
        assert_true(q_person > 0.4); /* and a detector worth the name */
    }
#endif
}

static void test_prune_report(void **state) {
    (void)state;
    need_data();
    char args[8192], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "model prune '%s' --ratio 0.25 --runs 3 --backend native",
             fa_test_data(FASTESTDET));
    int rc = run(args, &out, &err);
    if (rc) fail_msg("prune failed (%d): %s", rc, err);
    assert_non_null(strstr(out, "pruned 18 of 70 convolutions"));
    assert_non_null(strstr(out, "MACs 121.5 M -> 99.9 M"));
    assert_non_null(strstr(out, "output drift on 1 input: cosine "));
    assert_non_null(strstr(out, "verdict: "));
    free(out), free(err);
}

static void expect_fail(const char *args, int status, const char *msg) {
    char *out = NULL, *err = NULL;
    int rc = run(args, &out, &err);
    if (rc != status || !strstr(err, msg)) fail_msg("'%s': exit %d, stderr: %s", args, rc, err);
    free(out), free(err);
}

static void test_errors(void **state) {
    fixture *f = *state;
    need_data();
    char args[12288];
    expect_fail("model", 1, "missing subcommand");
    expect_fail("model frobnicate x.onnx", 1, "unknown subcommand 'frobnicate'");
    snprintf(args, sizeof args, "model quantize '%s'", fa_test_data(FASTESTDET));
    expect_fail(args, 1, "quantize needs calibration frames");
    snprintf(args, sizeof args, "model prune '%s'", fa_test_data(FASTESTDET));
    expect_fail(args, 1, "prune needs --ratio R");
    snprintf(args, sizeof args, "model prune '%s' --ratio 1.5", fa_test_data(FASTESTDET));
    expect_fail(args, 1, "--ratio: '1.5' is not in (0, 1)");
    snprintf(args, sizeof args, "model quantize '%s' --images '%s' --method magic", fa_test_data(FASTESTDET),
             f->dir);
    expect_fail(args, 1, "--method: 'magic' is not entropy, percentile or minmax");
    snprintf(args, sizeof args, "model quantize '%s' --images '%s' --fp32-convs 65", fa_test_data(FASTESTDET),
             f->dir);
    expect_fail(args, 1, "--fp32-convs: '65' is not a count from 0 to 64");
    snprintf(args, sizeof args, "model quantize '%s' --images '%s'", fa_test_data(FASTESTDET), f->dir);
    expect_fail(args, 2, "no image files");
    expect_fail("model info /nonexistent/model.onnx", 2, "model.onnx");
    snprintf(args, sizeof args, "detect '%s' --model '%s' --precision int8", fa_test_data(FRAME),
             fa_test_data(FASTESTDET));
    expect_fail(args, 2, "needs a quantised model file (.fanq)");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_and_bench),
        cmocka_unit_test(test_int8_default_accuracy),
        cmocka_unit_test(test_quantize_then_detect),
        cmocka_unit_test(test_prune_report),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
