/*
 * test_detector.c - the detector front end (src/vision/detector.c) on the
 * real models and images:
 *   - family recognition and input sizes of every model in shared/data;
 *   - head decoding of ONNX Runtime's own outputs (shared/data/golden) for
 *     FastestDet and NanoDet, so the decoders are checked independently of
 *     our engine and our JPEG decoder;
 *   - whole-image detections against OpenCV DNN 4.6's with each model's demo
 *     post-processing (shared/data/reference, untiled, confidence 0.3,
 *     class-agnostic NMS 0.45 as those demos do);
 *   - tiling on a 2160x1080 soccertrack_v2 frame: more players found, the
 *     same boxes whatever the batch size;
 *   - class filtering and the INT8-needs-a-quantised-model message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "nn/onnx_writer.h"
#include "testutil.h"
#include "vision/detector.h"

#define FASTESTDET "models/fastestdet/FastestDet.onnx"
#define NANODET "models/nanodet-m/nanodet_m_416.onnx"
#define YOLO "models/yolo-fastest-1.1/yolo-fastest-1.1.cfg"
#define YOLO_XL "models/yolo-fastest-1.1/yolo-fastest-1.1-xl.cfg"
#define YOLO_BODY "models/yolo-fastest-1.1/yolo-fastest-1.1_body.cfg"
#define FRAME                                                                                                \
    "images/soccertrack_v2/train/images/"                                                                    \
    "G_20231125_TOP_B_1st_4_001_png.rf.d1c9031713851d11f1482b7c698fd30e.jpg"

static fa_detector *open_detector(const char *rel, const fa_detector_options *o) {
    const char *path = fa_test_data(rel);
    fa_detector *d = fa_detector_new(path, o);
    if (!d) fprintf(stderr, "%s: %s\n", rel, fa_err_msg());
    assert_non_null(d);
    return d;
}

static void test_families(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(FASTESTDET));
    static const struct {
        const char *path;
        fa_det_family family;
        int size;
    } cases[] = {{FASTESTDET, FA_DET_FASTESTDET, 352},
                 {NANODET, FA_DET_NANODET, 416},
                 {YOLO, FA_DET_YOLO, 320},
                 {YOLO_XL, FA_DET_YOLO, 320},
                 {YOLO_BODY, FA_DET_YOLO, 320}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fa_detector *d = open_detector(cases[i].path, NULL);
        int w, h;
        fa_detector_input_size(d, &w, &h);
        assert_int_equal(fa_detector_family(d), cases[i].family);
        assert_int_equal(w, cases[i].size);
        assert_int_equal(h, cases[i].size);
        fa_detector_free(d);
    }
    assert_string_equal(fa_detector_family_name(FA_DET_NANODET), "nanodet");
    assert_string_equal(fa_coco_class_name(32), "sports ball");
    assert_int_equal(fa_coco_class_id("sports_ball"), 32);
    assert_int_equal(fa_coco_class_id("Person"), 0);
    assert_int_equal(fa_coco_class_id("goalpost"), -1);
    assert_null(fa_coco_class_name(80));
}

static void test_errors(void **state) {
    (void)state;
    fa_detector_options o = {.precision = FA_NN_INT8};
    assert_null(fa_detector_new(fa_test_data(FASTESTDET), &o));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_string_equal(fa_err_msg(),
                        "FastestDet.onnx: --precision int8 needs a quantised model file (.fanq); "
                        "create one with 'footanalytics model quantize FastestDet.onnx'");
    assert_null(fa_detector_new("/nonexistent/model.onnx", NULL));
    assert_true(fa_err_code() < 0);
    fa_detector_options bad = {.conf = 1.5f};
    assert_null(fa_detector_new(fa_test_data(FASTESTDET), &bad));
    assert_string_equal(fa_err_msg(), "--conf: expected 0..1, got 1.5");
}

/* A valid ONNX model that is no detector: one Relu on a 1x3x32x32 image. */
static void test_not_a_detector(void **state) {
    (void)state;
    const int64_t dims[4] = {1, 3, 32, 32};
    pbw g = {0}, n = pbw_node("r", "Relu", (const char *[]){"x", NULL}, (const char *[]){"y", NULL}, NULL, 0);
    pbw_msg(&g, 1, &n);
    pbw_str(&g, 2, "g");
    pbw t = pbw_value("x", dims, 4);
    pbw_msg(&g, 11, &t);
    t = pbw_value("y", NULL, 0);
    pbw_msg(&g, 12, &t);
    pbw m = pbw_model(&g, 11);
    char *dir = fa_test_tmpdir();
    char *path = fa_test_write_file(dir, "relu.onnx", m.b, m.n);
    assert_null(fa_detector_new(path, NULL));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "relu.onnx: not a detector this front end knows"));
    free(path);
    fa_test_rmtree(dir);
    free(dir);
}

static float *read_f32(const char *rel, size_t n) {
    size_t len;
    char *buf = fa_test_read_file(fa_test_data(rel), &len);
    assert_non_null(buf);
    assert_int_equal(len, n * sizeof(float));
    return (float *)buf;
}

/* ORT's FastestDet output on the dog image, decoded as the demo does. */
static void test_decode_fastestdet_golden(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data("golden/fastestdet_dog.758.f32"));
    float *map = read_f32("golden/fastestdet_dog.758.f32", 85 * 22 * 22);
    fa_decode_ctx c = {{0, 0, 768, 576}, 352, 352, 0.3f, NULL, -1};
    fa_detections out = {0};
    assert_int_equal(fa_decode_fastestdet(map, 85, 22, 22, &c, &out), 0);
    assert_int_equal(out.n, 55); /* cells above 0.3 */
    out.n = fa_nms_agnostic(out.v, out.n, 0.45f);
    assert_int_equal(out.n, 8);
    /* the best cell: dog 0.7563 at (122.3, 198.9)-(335.0, 538.7) */
    assert_int_equal(out.v[0].class_id, 16);
    assert_float_equal(out.v[0].score, 0.7563, 1e-4);
    const float want[4] = {122.3f, 198.9f, 335.0f, 538.7f};
    for (int k = 0; k < 4; k++)
        assert_float_equal(out.v[0].box[k], want[k], 0.06);
    assert_int_equal(out.v[1].class_id, 2); /* car 0.7519 */
    assert_float_equal(out.v[1].score, 0.7519, 1e-4);
    /* restricted to persons, the arg-max runs over persons only */
    uint8_t only[FA_COCO_CLASSES] = {0};
    only[FA_COCO_PERSON] = 1;
    c.classes = only;
    out.n = 0;
    assert_int_equal(fa_decode_fastestdet(map, 85, 22, 22, &c, &out), 0);
    for (size_t i = 0; i < out.n; i++)
        assert_int_equal(out.v[i].class_id, FA_COCO_PERSON);
    fa_detections_free(&out);
    free(map);
}

/* ORT's NanoDet outputs on the dog image: levels 52x52, 26x26, 13x13. */
static void test_decode_nanodet_golden(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data("golden/nanodet_dog.792.f32"));
    static const char *const cls_files[3] = {"golden/nanodet_dog.792.f32", "golden/nanodet_dog.814.f32",
                                             "golden/nanodet_dog.836.f32"};
    static const char *const reg_files[3] = {"golden/nanodet_dog.795.f32", "golden/nanodet_dog.817.f32",
                                             "golden/nanodet_dog.839.f32"};
    fa_decode_ctx c = {{0, 0, 768, 576}, 416, 416, 0.3f, NULL, -1};
    fa_detections out = {0};
    for (int l = 0; l < 3; l++) {
        int g = 52 >> l, stride = 8 << l;
        float *cls = read_f32(cls_files[l], (size_t)g * g * 80),
              *reg = read_f32(reg_files[l], (size_t)g * g * 32);
        assert_int_equal(fa_decode_nanodet_level(cls, 80, reg, g, g, stride, &c, &out), 0);
        free(cls);
        free(reg);
    }
    out.n = fa_nms_agnostic(out.v, out.n, 0.45f);
    /* OpenCV's boxes on this image: bicycle 0.66, car 0.45, person 0.42, cat 0.42 */
    assert_int_equal(out.n, 4);
    assert_int_equal(out.v[0].class_id, 1);
    assert_float_equal(out.v[0].score, 0.6680, 1e-3);
    const float bicycle[4] = {130.3f, 146.0f, 572.1f, 419.3f};
    assert_true(fa_box_iou(out.v[0].box, bicycle) > 0.95f);
    assert_int_equal(out.v[1].class_id, 2);
    fa_detections_free(&out);
}

/* ------------------------------------------------- against OpenCV DNN 4.6 */

typedef struct ref_stats {
    size_t ref_boxes, at50, at90;
    int worst_count_diff;
} ref_stats;

static const fa_json_value *get(const fa_json_value *o, const char *k) {
    const fa_json_value *v = fa_json_get(o, k);
    assert_non_null(v);
    return v;
}

/* Compares one image's boxes with the reference list (boxes clipped like ours). */
static void compare_image(const fa_detections *ours, const fa_json_value *dets, int w, int h, ref_stats *st) {
    for (size_t i = 0; i < dets->u.arr.n; i++) {
        const fa_json_value *d = dets->u.arr.items[i], *b = get(d, "box_xyxy");
        int cls = fa_coco_class_id(get(d, "cls")->u.str.ptr);
        float box[4];
        for (int k = 0; k < 4; k++) {
            float v = (float)b->u.arr.items[k]->u.num, lim = (float)(k % 2 ? h : w);
            box[k] = v < 0 ? 0 : v > lim ? lim : v;
        }
        float best = 0;
        for (size_t j = 0; j < ours->n; j++)
            if (ours->v[j].class_id == cls && fa_box_iou(ours->v[j].box, box) > best)
                best = fa_box_iou(ours->v[j].box, box);
        st->ref_boxes++;
        st->at50 += best >= 0.5f;
        st->at90 += best >= 0.9f;
    }
    int diff = abs((int)ours->n - (int)dets->u.arr.n);
    if (diff > st->worst_count_diff) st->worst_count_diff = diff;
}

static void compare_model(const fa_json_value *ref, const char *key, const char *model, ref_stats *st) {
    fa_detector_options o = {.conf = 0.3f, .nms = 0.45f, .nms_agnostic = 1};
    fa_detector *d = open_detector(model, &o);
    memset(st, 0, sizeof *st);
    for (size_t i = 0; i < ref->u.obj.n; i++) {
        fa_image img;
        assert_int_equal(fa_image_load(fa_test_data(ref->u.obj.keys[i]), &img), 0);
        fa_detections out = {0};
        int tiles;
        assert_int_equal(fa_detector_run(d, &img, &out, &tiles), 0);
        assert_int_equal(tiles, 1);
        compare_image(&out, get(get(ref->u.obj.vals[i], key), "dets"), img.w, img.h, st);
        fa_detections_free(&out);
        fa_image_free(&img);
    }
    print_message(
        "%s: %zu reference boxes, %zu matched at IoU >= 0.5, %zu at >= 0.9, counts differ by <= %d\n", key,
        st->ref_boxes, st->at50, st->at90, st->worst_count_diff);
    fa_detector_free(d);
}

static void test_reference_opencv(void **state) {
    (void)state;
    const char *path = fa_test_data("reference/detections_opencv-dnn-4.6_untiled.json");
    FA_TEST_REQUIRE_DATA(path);
    size_t len;
    char *text = fa_test_read_file(path, &len);
    fa_arena *a = fa_arena_new(1 << 16);
    fa_json_value *ref;
    assert_int_equal(fa_json_parse("reference.json", text, len, a, &ref), 0);
    assert_int_equal(ref->u.obj.n, 4); /* dog, person, soccertrack left frame, panorama */
    ref_stats st;
    /* YOLO: the same boxes, bar three large ones on the xl (IoU 0.76-0.87) */
    compare_model(ref, "yolo-fastest-1.1_320", YOLO, &st);
    assert_int_equal(st.ref_boxes, 12);
    assert_int_equal(st.at90, 12);
    assert_int_equal(st.worst_count_diff, 0);
    compare_model(ref, "yolo-fastest-1.1-xl_320", YOLO_XL, &st);
    assert_int_equal(st.ref_boxes, 24);
    assert_int_equal(st.at50, 24);
    assert_true(st.at90 >= 21);
    assert_int_equal(st.worst_count_diff, 0);
    /* NanoDet: all photo boxes; on the 3072x1728 frame (8.7x downscale) the
     * weakest persons (scores 0.30-0.34) differ */
    compare_model(ref, "nanodet-m_416", NANODET, &st);
    assert_int_equal(st.ref_boxes, 24);
    assert_true(st.at50 >= 20);
    assert_true(st.at90 >= 10);
    assert_true(st.worst_count_diff <= 2);
    /* FastestDet: one box per 16 px cell, its scores sit close to 0.3 and
     * move with the JPEG decoder and resampler (ORT's own output above
     * decodes exactly) */
    compare_model(ref, "fastestdet_352", FASTESTDET, &st);
    assert_int_equal(st.ref_boxes, 32);
    assert_true(st.at50 >= 25);
    assert_true(st.at90 >= 13);
    assert_true(st.worst_count_diff <= 3);
    fa_arena_free(a);
    free(text);
}

/* ------------------------------------------------------------------ tiles */

static size_t count_class(const fa_detections *d, int cls) {
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += d->v[i].class_id == cls;
    return n;
}

static void test_tiled_frame(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(FRAME));
    fa_image img;
    assert_int_equal(fa_image_load(fa_test_data(FRAME), &img), 0);
    uint8_t wanted[FA_COCO_CLASSES] = {0};
    wanted[FA_COCO_PERSON] = wanted[FA_COCO_SPORTS_BALL] = 1;
    fa_detector_options o = {.classes = wanted, .tiles = {FA_TILES_NONE, 0, 0}};
    fa_detector *whole = open_detector(FASTESTDET, &o);
    o.tiles.mode = FA_TILES_AUTO;
    fa_detector *tiled = open_detector(FASTESTDET, &o);
    o.max_batch = 5;
    fa_detector *chunked = open_detector(FASTESTDET, &o);
    fa_detections a = {0}, b = {0}, c = {0};
    int na, nb, nc;
    assert_int_equal(fa_detector_run(whole, &img, &a, &na), 0);
    assert_int_equal(fa_detector_run(tiled, &img, &b, &nb), 0);
    assert_int_equal(fa_detector_run(chunked, &img, &c, &nc), 0);
    assert_int_equal(na, 1);
    assert_int_equal(nb, 32);
    assert_int_equal(nc, 32);
    size_t pa = count_class(&a, FA_COCO_PERSON), pb = count_class(&b, FA_COCO_PERSON);
    print_message("persons: untiled %zu, tiled %zu (22 players + staff labelled: 23)\n", pa, pb);
    assert_true(pa <= 4);
    assert_true(pb >= 15);
    for (size_t i = 0; i < a.n; i++) {
        const float *x = a.v[i].box;
        assert_true(x[0] >= 0 && x[1] >= 0 && x[2] <= 2160 && x[3] <= 1080 && x[0] < x[2] && x[1] < x[3]);
        assert_true(a.v[i].class_id == 0 || a.v[i].class_id == 32);
    }
    for (size_t i = 1; i < b.n; i++)
        assert_true(b.v[i - 1].score >= b.v[i].score);
    /* batches of 5 give the same boxes as one batch of 32 */
    assert_int_equal(b.n, c.n);
    for (size_t i = 0; i < b.n; i++) {
        assert_int_equal(b.v[i].class_id, c.v[i].class_id);
        assert_float_equal(b.v[i].score, c.v[i].score, 1e-5);
        for (int k = 0; k < 4; k++)
            assert_float_equal(b.v[i].box[k], c.v[i].box[k], 1e-2);
    }
    /* a second frame through the same detector reuses its session */
    assert_int_equal(fa_detector_run(tiled, &img, &c, &nc), 0);
    assert_int_equal(c.n, b.n);
    fa_detections_free(&a);
    fa_detections_free(&b);
    fa_detections_free(&c);
    fa_detector_free(whole);
    fa_detector_free(tiled);
    fa_detector_free(chunked);
    fa_image_free(&img);
}

/* Tiles over the pitch region only (8 tiles instead of 32), on 1 and on 2
 * threads: the two-lane run must give exactly the one-thread boxes. */
static void test_roi_threads(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(FRAME));
    fa_image img;
    assert_int_equal(fa_image_load(fa_test_data(FRAME), &img), 0);
    uint8_t wanted[FA_COCO_CLASSES] = {0};
    wanted[FA_COCO_PERSON] = wanted[FA_COCO_SPORTS_BALL] = 1;
    fa_detector_options o = {.classes = wanted, .tiles = {FA_TILES_AUTO, 0, 0}, .roi = 1};
    fa_detector *one = open_detector(FASTESTDET, &o);
    o.threads = 2;
    fa_detector *two = open_detector(FASTESTDET, &o);
    o.max_batch = 3; /* lanes of 4 tiles in chunks of 3 and 1 */
    fa_detector *chunked = open_detector(FASTESTDET, &o);
    fa_detections a = {0}, b = {0}, c = {0};
    int na, nb, nc;
    fa_tile roi;
    assert_int_equal(fa_pitch_roi(&img, &roi), 1);
    assert_int_equal(fa_detector_run(one, &img, &a, &na), 0);
    assert_int_equal(fa_detector_run(two, &img, &b, &nb), 0);
    assert_int_equal(fa_detector_run(chunked, &img, &c, &nc), 0);
    assert_int_equal(na, 8);
    assert_int_equal(nb, 8);
    assert_int_equal(nc, 8);
    print_message("persons in the pitch region: %zu\n", count_class(&a, FA_COCO_PERSON));
    assert_true(count_class(&a, FA_COCO_PERSON) >= 15);
    for (size_t i = 0; i < a.n; i++) {
        const float *x = a.v[i].box;
        float cx = (x[0] + x[2]) / 2, cy = (x[1] + x[3]) / 2; /* a box may reach out of its tile */
        assert_true(cx >= roi.x && cy >= roi.y && cx <= roi.x + roi.w && cy <= roi.y + roi.h);
    }
    assert_int_equal(a.n, b.n);
    assert_int_equal(a.n, c.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.v[i].class_id, b.v[i].class_id);
        assert_memory_equal(a.v[i].box, b.v[i].box, sizeof a.v[i].box);
        assert_true(a.v[i].score == b.v[i].score);
        assert_int_equal(a.v[i].class_id, c.v[i].class_id);
        assert_float_equal(a.v[i].score, c.v[i].score, 1e-5);
    }
    /* again through the same lanes (sessions reused) */
    assert_int_equal(fa_detector_run(two, &img, &b, &nb), 0);
    assert_int_equal(a.n, b.n);
    fa_detections_free(&a);
    fa_detections_free(&b);
    fa_detections_free(&c);
    fa_detector_free(one);
    fa_detector_free(two);
    fa_detector_free(chunked);
    fa_image_free(&img);
}

static void test_preprocess(void **state) {
    (void)state;
    fa_image img;
    assert_int_equal(fa_image_alloc(&img, 2, 1), 0);
    const uint8_t px[6] = {255, 128, 0, 10, 20, 30};
    memcpy(img.rgb, px, 6);
    fa_tile t = {0, 0, 2, 1};
    uint8_t scratch[6];
    float out[6];
    fa_detector_preprocess(FA_DET_FASTESTDET, &img, &t, 2, 1, scratch, out);
    /* planar B, G, R over 255 */
    assert_float_equal(out[0], 0.0, 1e-6);
    assert_float_equal(out[1], 30 / 255.0, 1e-6);
    assert_float_equal(out[2], 128 / 255.0, 1e-6);
    assert_float_equal(out[4], 1.0, 1e-6);
    fa_detector_preprocess(FA_DET_YOLO, &img, &t, 2, 1, scratch, out);
    assert_float_equal(out[0], 1.0, 1e-6); /* planar R, G, B */
    assert_float_equal(out[5], 30 / 255.0, 1e-6);
    fa_detector_preprocess(FA_DET_NANODET, &img, &t, 2, 1, scratch, out);
    assert_float_equal(out[0], (0 - 103.53) / 57.375, 1e-5);
    assert_float_equal(out[4], (255 - 123.675) / 58.395, 1e-5);
    fa_image_free(&img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_not_a_detector),
        cmocka_unit_test(test_preprocess),
        cmocka_unit_test(test_decode_fastestdet_golden),
        cmocka_unit_test(test_decode_nanodet_golden),
        cmocka_unit_test(test_reference_opencv),
        cmocka_unit_test(test_tiled_frame),
        cmocka_unit_test(test_roi_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
