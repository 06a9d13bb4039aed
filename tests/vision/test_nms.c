/*
 * test_nms.c - box overlap measures, class-aware NMS and the cross-tile
 * merge (src/vision/nms.c) on hand-made boxes with known answers.
 */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "vision/detector.h"

static fa_detection det(float x1, float y1, float x2, float y2, float score, int cls) {
    fa_detection d = {{x1, y1, x2, y2}, score, cls, -1, 0};
    return d;
}

static void test_iou_iomin(void **state) {
    (void)state;
    float a[4] = {0, 0, 10, 10}, b[4] = {5, 0, 15, 10}, c[4] = {20, 20, 30, 30}, inner[4] = {2, 2, 4, 4};
    assert_float_equal(fa_box_iou(a, b), 50.0 / 150.0, 1e-6);
    assert_float_equal(fa_box_iou(a, a), 1.0, 1e-6);
    assert_float_equal(fa_box_iou(a, c), 0.0, 0);
    assert_float_equal(fa_box_iomin(a, inner), 1.0, 1e-6);
    assert_float_equal(fa_box_iou(a, inner), 4.0 / 100.0, 1e-6);
    float empty[4] = {5, 5, 5, 9};
    assert_float_equal(fa_box_iou(a, empty), 0.0, 0);
    assert_float_equal(fa_box_iomin(a, empty), 0.0, 0);
}

static void test_nms_class_aware(void **state) {
    (void)state;
    fa_detection v[5] = {
        det(0, 0, 10, 10, 0.5f, 0),   det(1, 0, 11, 10, 0.9f, 0), /* IoU 0.818 with the 0.9 one: dropped */
        det(1, 0, 11, 10, 0.4f, 32),                              /* other class: kept */
        det(5, 0, 15, 10, 0.6f, 0),                               /* IoU 0.43 with 0.9: kept at 0.45 */
        det(50, 50, 60, 60, 0.1f, 0),
    };
    size_t n = fa_nms(v, 5, 0.45f);
    assert_int_equal(n, 4);
    assert_float_equal(v[0].score, 0.9f, 0);
    assert_float_equal(v[1].score, 0.6f, 0);
    assert_float_equal(v[2].score, 0.4f, 0);
    assert_int_equal(v[2].class_id, 32);
    assert_float_equal(v[3].score, 0.1f, 0);
    /* a stricter threshold also drops the 0.6 box (IoU 0.4286 > 0.4) */
    fa_detection w[2] = {det(1, 0, 11, 10, 0.9f, 0), det(5, 0, 15, 10, 0.6f, 0)};
    assert_int_equal(fa_nms(w, 2, 0.4f), 1);
    assert_int_equal(fa_nms(w, 0, 0.4f), 0);
    /* class-agnostic: the ball box on the person is suppressed too */
    fa_detection x[3] = {det(0, 0, 10, 10, 0.9f, 0), det(1, 0, 11, 10, 0.8f, 32),
                         det(20, 0, 30, 10, 0.7f, 32)};
    assert_int_equal(fa_nms_agnostic(x, 3, 0.45f), 2);
    assert_float_equal(x[1].score, 0.7f, 0);
}

static void test_tiles_merge(void **state) {
    (void)state;
    /* a player seen whole by tile 1 and cut at tile 0's right edge */
    fa_detection v[4] = {det(100, 50, 112, 80, 0.7f, 0), det(100, 50, 106, 80, 0.8f, 0),
                         det(300, 50, 340, 200, 0.6f, 0), det(335, 50, 380, 200, 0.5f, 0)};
    v[0].tile = 1;
    v[1].tile = 0, v[1].cut = 1;
    /* a large object cut by both tiles, nothing whole covers it: both halves stay */
    v[2].tile = 0, v[2].cut = 1;
    v[3].tile = 1, v[3].cut = 1;
    size_t n = fa_tiles_merge(v, 4, 0.45f, 0.5f, 0);
    assert_int_equal(n, 3);
    assert_float_equal(v[0].score, 0.7f, 0);
    assert_float_equal(v[0].box[2], 112, 0);
    assert_float_equal(v[1].score, 0.6f, 0);
    assert_float_equal(v[2].score, 0.5f, 0);
    /* a cut box covered only by a box of another class stays */
    fa_detection w[2] = {det(0, 0, 10, 10, 0.9f, 32), det(0, 0, 5, 10, 0.8f, 0)};
    w[0].tile = 1;
    w[1].tile = 0, w[1].cut = 1;
    assert_int_equal(fa_tiles_merge(w, 2, 0.45f, 0.5f, 0), 2);
}

static void test_detections_list(void **state) {
    (void)state;
    fa_detections l = {0};
    for (int i = 0; i < 200; i++) {
        fa_detection d = det((float)i, 0, (float)i + 1, 1, 0.5f, i % 80);
        assert_int_equal(fa_detections_push(&l, &d), 0);
    }
    assert_int_equal(l.n, 200);
    assert_float_equal(l.v[199].box[0], 199, 0);
    fa_detections_free(&l);
    assert_null(l.v);
    assert_int_equal(l.n, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iou_iomin),
        cmocka_unit_test(test_nms_class_aware),
        cmocka_unit_test(test_tiles_merge),
        cmocka_unit_test(test_detections_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
