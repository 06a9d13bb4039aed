/*
 * test_image.c - pictures and frames from files (src/video/image.c): real
 * JPEGs decoded to RGB24, a PNG written and read back bit-exact, video
 * frames sampled by --fps with their indices and times, the bilinear
 * resampler on known inputs, and clear errors for missing, non-image,
 * corrupt and oversized inputs.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"
#include "video/image.h"

static double mean_value(const fa_image *img) {
    double sum = 0;
    for (int y = 0; y < img->h; y++)
        for (size_t x = 0; x < (size_t)img->w * 3; x++)
            sum += img->rgb[(size_t)y * img->stride + x];
    return sum / ((double)img->w * img->h * 3);
}

static void test_load_jpeg(void **state) {
    (void)state;
    const char *p = fa_test_data("images/darknet/dog.jpg");
    FA_TEST_REQUIRE_DATA(p);
    fa_image img;
    assert_int_equal(fa_image_load(p, &img), 0);
    assert_int_equal(img.w, 768);
    assert_int_equal(img.h, 576);
    assert_int_equal(img.stride, 768 * 3);
    /* `ffmpeg -i dog.jpg -pix_fmt rgb24` averages 128.31 (its chroma filter differs slightly) */
    assert_float_equal(mean_value(&img), 128.31, 0.5);
    fa_image_free(&img);
    assert_null(img.rgb);
    p = fa_test_data("images/soccertrack_v2/train/images/"
                     "G_20231125_TOP_B_1st_4_001_png.rf.d1c9031713851d11f1482b7c698fd30e.jpg");
    assert_int_equal(fa_image_load(p, &img), 0);
    assert_int_equal(img.w, 2160);
    assert_int_equal(img.h, 1080);
    fa_image_free(&img);
}

static void test_png_round_trip(void **state) {
    (void)state;
    fa_image img, back;
    assert_int_equal(fa_image_alloc(&img, 37, 21), 0);
    for (size_t i = 0; i < (size_t)37 * 21 * 3; i++)
        img.rgb[i] = (uint8_t)(i * 7 + i / 5);
    fa_image_draw_rect(&img, 2, 3, 30, 15, 2, 255, 0, 10);
    assert_int_equal(img.rgb[(3 * 37 + 2) * 3], 255);
    assert_int_equal(img.rgb[(3 * 37 + 2) * 3 + 2], 10);
    char *dir = fa_test_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/x.png", dir);
    assert_int_equal(fa_image_save_png(&img, path), 0);
    assert_int_equal(fa_image_load(path, &back), 0);
    assert_int_equal(back.w, 37);
    assert_int_equal(back.h, 21);
    for (int y = 0; y < 21; y++)
        assert_memory_equal(back.rgb + y * back.stride, img.rgb + y * img.stride, 37 * 3);
    fa_image_free(&back);
    snprintf(path, sizeof path, "%s/no/such/dir/x.png", dir);
    assert_int_equal(fa_image_save_png(&img, path), FA_EIO);
    assert_non_null(strstr(fa_err_msg(), "x.png: cannot write"));
    fa_image_free(&img);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_errors(void **state) {
    (void)state;
    fa_video_quiet();
    fa_image img;
    assert_int_equal(fa_image_load("/nonexistent/nope.jpg", &img), FA_ENOTFOUND);
    assert_string_equal(fa_err_msg(), "nope.jpg: no such file");
    assert_null(img.rgb);
    char *dir = fa_test_tmpdir();
    char *txt = fa_test_write_file(dir, "notes.jpg", "just some text, not a picture\n", 30);
    assert_true(fa_image_load(txt, &img) < 0);
    assert_non_null(strstr(fa_err_msg(), "notes.jpg: "));
    assert_null(img.rgb);
    /* a JPEG header followed by garbage */
    unsigned char bad[600];
    for (size_t i = 0; i < sizeof bad; i++)
        bad[i] = (unsigned char)(i * 131 + 17);
    memcpy(bad, "\xFF\xD8\xFF\xDB\x00\x43\x00", 7);
    char *corrupt = fa_test_write_file(dir, "corrupt.jpg", bad, sizeof bad);
    assert_true(fa_image_load(corrupt, &img) < 0);
    assert_non_null(strstr(fa_err_msg(), "corrupt.jpg: "));
    assert_null(img.rgb);
    /* a truncated real JPEG still names the file if it cannot be decoded at all */
    size_t len;
    char *dog = fa_test_read_file(fa_test_data("images/darknet/dog.jpg"), &len);
    assert_non_null(dog);
    char *cut = fa_test_write_file(dir, "cut.jpg", dog, 300);
    assert_true(fa_image_load(cut, &img) < 0);
    assert_non_null(strstr(fa_err_msg(), "cut.jpg: "));
    assert_int_equal(fa_image_load(dir, &img), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), ": is a directory"));
    assert_int_equal(fa_image_alloc(&img, 20000, 10), FA_ELIMIT);
    assert_int_equal(fa_image_alloc(&img, 16384, 16384), FA_ELIMIT);
    assert_int_equal(fa_image_alloc(&img, 0, 10), FA_ELIMIT);
    free(dog);
    free(cut);
    free(txt);
    free(corrupt);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_video_frames(void **state) {
    (void)state;
    const char *p = fa_test_data("video/soccertrack_v2_demo-tracking_annotated.mp4");
    FA_TEST_REQUIRE_DATA(p);
    fa_frames *f = fa_frames_open(p, 1.0);
    assert_non_null(f);
    assert_float_equal(fa_frames_rate(f), 25.0, 1e-9);
    fa_image img = {0};
    int64_t index;
    double t;
    for (int k = 0; k < 3; k++) {
        assert_int_equal(fa_frames_next(f, &img, &index, &t), 1);
        assert_int_equal(index, 25 * k); /* 25 fps sampled at 1 per second */
        assert_float_equal(t, k, 1e-6);
        assert_int_equal(img.w, 1280);
        assert_int_equal(img.h, 338);
    }
    fa_frames_close(f);
    /* every frame: consecutive indices 40 ms apart */
    f = fa_frames_open(p, 0);
    assert_non_null(f);
    for (int k = 0; k < 4; k++) {
        assert_int_equal(fa_frames_next(f, &img, &index, &t), 1);
        assert_int_equal(index, k);
        assert_float_equal(t, 0.04 * k, 1e-6);
    }
    fa_frames_close(f);
    /* an image is a one-frame stream */
    f = fa_frames_open(fa_test_data("images/darknet/person.jpg"), 2.0);
    assert_non_null(f);
    assert_int_equal(fa_frames_next(f, &img, &index, &t), 1);
    assert_int_equal(index, 0);
    assert_int_equal(img.w, 640);
    assert_int_equal(img.h, 424);
    assert_int_equal(fa_frames_next(f, &img, &index, &t), 0);
    fa_frames_close(f);
    fa_image_free(&img);
    assert_null(fa_frames_open("/nonexistent/clip.mp4", 1));
    assert_string_equal(fa_err_msg(), "clip.mp4: no such file");
}

static void test_resize(void **state) {
    (void)state;
    fa_image img;
    assert_int_equal(fa_image_alloc(&img, 4, 2), 0);
    for (int i = 0; i < 8; i++)
        for (int c = 0; c < 3; c++)
            img.rgb[i * 3 + c] = (uint8_t)(i * 10 + c);
    uint8_t out[8 * 3];
    /* same size: a copy */
    fa_image_resize_region(&img, 0, 0, 4, 2, out, 4, 2);
    assert_memory_equal(out, img.rgb, 24);
    /* halving: the mean of each 2x2 block (pixel centres fall between them) */
    fa_image_resize_region(&img, 0, 0, 4, 2, out, 2, 1);
    assert_int_equal(out[0], 25);     /* (0 + 10 + 40 + 50) / 4 */
    assert_int_equal(out[3 + 1], 46); /* (21 + 31 + 61 + 71) / 4 */
    /* a sub-rectangle: the right 2x2 block to one pixel */
    fa_image_resize_region(&img, 2, 0, 2, 2, out, 1, 1);
    assert_int_equal(out[0], 45);
    /* doubling a column: edges clamp, inner pixels interpolate 3:1 */
    fa_image_resize_region(&img, 0, 0, 2, 1, out, 4, 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[3], 3); /* 0.75 * 0 + 0.25 * 10, rounded */
    assert_int_equal(out[6], 8); /* 0.25 * 0 + 0.75 * 10, rounded */
    assert_int_equal(out[9], 10);
    fa_image_free(&img);
}

/* The vector path (AVX-512 where the CPU has it) against the scalar one
 * (FA_IMAGE_ISA=generic): bitwise equal on up- and down-scaling, odd sizes,
 * masked tails and regions touching every edge of the picture. */
static void test_resize_paths(void **state) {
    (void)state;
    fa_image img;
    assert_int_equal(fa_image_alloc(&img, 301, 203), 0);
    uint32_t seed = 12345;
    for (size_t i = 0; i < (size_t)img.h * img.stride; i++) {
        seed = seed * 1664525u + 1013904223u;
        img.rgb[i] = (uint8_t)(seed >> 24);
    }
    const int cases[][6] = {
        {0, 0, 301, 203, 416, 416}, {17, 5, 251, 180, 416, 416}, {0, 0, 301, 203, 97, 61},
        {300, 202, 1, 1, 5, 3},     {150, 100, 151, 103, 352, 352}, {3, 7, 11, 13, 11, 13},
        {0, 190, 301, 13, 33, 7},
    };
    size_t cap = 416 * 416 * 3;
    uint8_t *a = malloc(cap), *b = malloc(cap);
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int *c = cases[t];
        size_t n = (size_t)c[4] * c[5] * 3;
        setenv("FA_IMAGE_ISA", "generic", 1);
        fa_image_resize_region(&img, c[0], c[1], c[2], c[3], a, c[4], c[5]);
        unsetenv("FA_IMAGE_ISA");
        fa_image_resize_region(&img, c[0], c[1], c[2], c[3], b, c[4], c[5]);
        if (memcmp(a, b, n) != 0) fail_msg("case %zu: the vector path differs from the scalar one", t);
    }
    free(a), free(b);
    fa_image_free(&img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_jpeg), cmocka_unit_test(test_png_round_trip),
        cmocka_unit_test(test_errors),    cmocka_unit_test(test_video_frames),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_resize_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
