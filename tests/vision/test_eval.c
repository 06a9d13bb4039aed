/*
 * test_eval.c - AP@0.5 (src/vision/eval.c): the 101-point interpolation on
 * rankings worked out by hand, greedy matching (one ground truth matched
 * once, classes kept apart, accumulation over images), and the YOLO label
 * reader on a real soccertrack_v2 label file and on broken ones.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"
#include "vision/eval.h"

static void test_ap101(void **state) {
    (void)state;
    const unsigned char a[4] = {1, 1, 0, 1};
    /* envelope 1, 1, .75, .75 at recall .25 .5 .5 .75: 51 points at 1, 25 at .75 */
    assert_float_equal(fa_eval_ap101(a, 4, 4), 69.75 / 101, 1e-12);
    const unsigned char perfect[2] = {1, 1};
    assert_float_equal(fa_eval_ap101(perfect, 2, 2), 1.0, 1e-12);
    assert_float_equal(fa_eval_ap101(perfect, 0, 3), 0.0, 0);
    assert_true(isnan(fa_eval_ap101(perfect, 2, 0)));
    const unsigned char none[3] = {0, 0, 0};
    assert_float_equal(fa_eval_ap101(none, 3, 5), 0.0, 0);
}

static fa_detection det(float x1, float y1, float x2, float y2, float score, int cls) {
    fa_detection d = {{x1, y1, x2, y2}, score, cls, -1, 0};
    return d;
}

static void test_matching(void **state) {
    (void)state;
    fa_eval *e = fa_eval_new();
    assert_non_null(e);
    fa_gt_box gt[2] = {{{0, 0, 10, 20}, 0}, {{100, 0, 110, 20}, 0}};
    fa_detection d[4] = {
        det(0, 0, 10, 16, 0.8f, 0),    /* IoU 0.8 with A, but A goes to the 0.9 box: FP */
        det(0, 0, 10, 20, 0.9f, 0),    /* A: TP */
        det(102, 0, 112, 20, 0.7f, 0), /* B at IoU 0.667: TP */
        det(0, 0, 10, 20, 0.6f, 32),   /* a ball on A: wrong class, FP for balls */
    };
    assert_int_equal(fa_eval_add_image(e, d, 4, gt, 2), 0);
    fa_eval_class p, b;
    fa_eval_class_result(e, 0, &p);
    assert_int_equal(p.gt, 2);
    assert_int_equal(p.dets, 3);
    assert_int_equal(p.tp, 2);
    /* ranking 1 0 1: recall .5 at precision 1 (51 points), 1 at 2/3 (50 points) */
    assert_float_equal(p.ap, (51 + 50 * 2.0 / 3) / 101, 1e-9);
    fa_eval_class_result(e, 32, &b);
    assert_int_equal(b.gt, 0);
    assert_int_equal(b.dets, 1);
    assert_int_equal(b.tp, 0);
    assert_true(isnan(b.ap));
    /* a second image: one person missed, one confident false positive */
    fa_gt_box gt2[1] = {{{0, 0, 10, 20}, 0}};
    fa_detection d2[1] = {det(500, 500, 510, 520, 0.95f, 0)};
    assert_int_equal(fa_eval_add_image(e, d2, 1, gt2, 1), 0);
    fa_eval_class_result(e, 0, &p);
    assert_int_equal(p.gt, 3);
    assert_int_equal(p.dets, 4);
    assert_int_equal(p.tp, 2);
    /* ranking 0 1 0 1 over 3: envelope .5 up to recall 2/3 (67 points) */
    assert_float_equal(p.ap, 67 * 0.5 / 101, 1e-9);
    /* an image with nothing at all */
    assert_int_equal(fa_eval_add_image(e, NULL, 0, NULL, 0), 0);
    fa_eval_free(e);
}

static const int yolo_map[2] = {0, 32};

static void test_labels_real(void **state) {
    (void)state;
    const char *img = fa_test_data("images/soccertrack_v2/train/images/"
                                   "G_20231125_TOP_B_1st_3_020_png.rf.b4aa5b98853d08b2d23b558f6a3916e1.jpg");
    FA_TEST_REQUIRE_DATA(img);
    char label[4096];
    assert_int_equal(fa_eval_label_path(img, label, sizeof label), 0);
    assert_non_null(strstr(
        label, "/train/labels/G_20231125_TOP_B_1st_3_020_png.rf.b4aa5b98853d08b2d23b558f6a3916e1.txt"));
    fa_gt_box *gt;
    size_t n;
    assert_int_equal(fa_eval_read_yolo_labels(label, 2160, 1080, yolo_map, 2, &gt, &n), 0);
    assert_int_equal(n, 26); /* the last line has no newline */
    size_t persons = 0, balls = 0;
    for (size_t i = 0; i < n; i++)
        gt[i].class_id == 0 ? persons++ : balls++;
    assert_int_equal(persons, 24);
    assert_int_equal(balls, 2);
    /* first line: 0 0.354462962962963 0.49129629629629634 0.005847222222222273 0.01980555555555565 */
    assert_int_equal(gt[0].class_id, 0);
    assert_float_equal(gt[0].box[0], (0.354462962962963 - 0.005847222222222273 / 2) * 2160, 1e-3);
    assert_float_equal(gt[0].box[3], (0.49129629629629634 + 0.01980555555555565 / 2) * 1080, 1e-3);
    assert_int_equal(gt[1].class_id, 32);
    free(gt);
}

static void test_labels_bad(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    fa_gt_box *gt;
    size_t n;
    char *p = fa_test_write_file(dir, "a.txt", "0 0.5 0.5 0.1 0.1\n\nabc\n", 23);
    assert_int_equal(fa_eval_read_yolo_labels(p, 100, 100, yolo_map, 2, &gt, &n), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "a.txt:3: expected 'class cx cy w h', got 'abc'");
    assert_null(gt);
    free(p);
    p = fa_test_write_file(dir, "b.txt", "2 0.5 0.5 0.1 0.1\n", 18);
    assert_int_equal(fa_eval_read_yolo_labels(p, 100, 100, yolo_map, 2, &gt, &n), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "b.txt:1: class 2: expected 0..1");
    free(p);
    p = fa_test_write_file(dir, "c.txt", "1 0.5 1.5 0.1 0.1\n", 18);
    assert_int_equal(fa_eval_read_yolo_labels(p, 100, 100, yolo_map, 2, &gt, &n), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "c.txt:1: coordinates must be normalised to 0..1");
    free(p);
    p = fa_test_write_file(dir, "d.txt", "1 0.5 0.5 0.1 0.2\n", 18);
    assert_int_equal(fa_eval_read_yolo_labels(p, 100, 200, yolo_map, 2, &gt, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(gt[0].class_id, 32);
    assert_float_equal(gt[0].box[1], 80, 1e-4);
    assert_float_equal(gt[0].box[2], 55, 1e-4);
    free(gt);
    free(p);
    assert_int_equal(fa_eval_read_yolo_labels("/nonexistent/x.txt", 1, 1, yolo_map, 2, &gt, &n),
                     FA_ENOTFOUND);
    assert_string_equal(fa_err_msg(), "x.txt: no label file");
    char buf[64];
    assert_int_equal(fa_eval_label_path("shots/x.jpg", buf, sizeof buf), FA_EINVAL);
    assert_int_equal(fa_eval_label_path("images/x.jpg", buf, sizeof buf), 0);
    assert_string_equal(buf, "labels/x.txt");
    assert_int_equal(fa_eval_label_path("a/myimages/x.jpg", buf, sizeof buf), FA_EINVAL);
    fa_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ap101),
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_labels_real),
        cmocka_unit_test(test_labels_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
