/*
 * test_overlay.c - the drawing under the overlay video (src/vision/overlay.c):
 * the role colours, the digit font and its backing, clipping at the
 * picture's edges, and a processed frame's boxes and track numbers drawn at
 * the size the overlay video is read at.
 */
#include <string.h>

#include "testutil.h"
#include "vision/overlay.h"

static const uint8_t *px(const fa_image *img, int x, int y) {
    return img->rgb + (size_t)y * img->stride + (size_t)x * 3;
}

static int is(const fa_image *img, int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    const uint8_t *p = px(img, x, y);
    return p[0] == r && p[1] == g && p[2] == b;
}

static void fill_white(fa_image *img) {
    for (int y = 0; y < img->h; y++)
        memset(img->rgb + (size_t)y * img->stride, 255, (size_t)img->w * 3);
}

static void test_colours(void **state) {
    (void)state;
    uint8_t c[3];
    fa_overlay_colour(FA_SIDE_HOME, "", c);
    assert_true(c[0] > 200 && c[2] < 100); /* red */
    fa_overlay_colour(FA_SIDE_AWAY, NULL, c);
    assert_true(c[2] > 200 && c[0] < 100); /* blue */
    fa_overlay_colour(FA_SIDE_AWAY, "goalkeeper", c);
    assert_true(c[0] > 200 && c[1] > 200 && c[2] < 100); /* yellow */
    fa_overlay_colour(FA_SIDE_HOME, "referee", c);
    assert_true(c[0] < 30 && c[1] < 30 && c[2] < 30); /* black */
}

/* "17" at scale 3: the 1's top row is its middle cell, the 7's second row its right cell. */
static void test_number_font(void **state) {
    (void)state;
    fa_image img = {0};
    assert_int_equal(fa_image_alloc(&img, 64, 32), 0);
    fill_white(&img);
    const uint8_t red[3] = {230, 40, 40};
    fa_overlay_number(&img, 10, 8, 17, 3, red);
    assert_true(is(&img, 10 + 3, 8, 230, 40, 40));              /* '1' row 0, column 1 */
    assert_true(is(&img, 10, 8, 20, 20, 20));                   /* '1' row 0, column 0: backing */
    assert_true(is(&img, 10 + 12 + 6 + 2, 8 + 3, 230, 40, 40)); /* '7' row 1, column 2 */
    assert_true(is(&img, 10 + 12, 8 + 3, 20, 20, 20));          /* '7' row 1, column 0: backing */
    assert_true(is(&img, 10 - 3, 8 - 3, 20, 20, 20));           /* the backing's margin */
    assert_true(is(&img, 10 - 4, 8, 255, 255, 255));            /* outside it */
    assert_true(is(&img, 10 + 2 * 12, 8 + 18, 255, 255, 255));
    /* clipped at every edge, never written outside */
    fa_overlay_number(&img, -20, -10, 123456, 4, red);
    fa_overlay_number(&img, 60, 30, 99, 5, red);
    fa_overlay_number(&img, 0, 0, -5, 0, red); /* drawn as 0 at scale 1 */
    /* a referee's black digits go on a light backing, to be read */
    static const uint8_t black[3] = {10, 10, 10};
    fa_image_free(&img);
    assert_int_equal(fa_image_alloc(&img, 32, 32), 0);
    fa_overlay_number(&img, 8, 8, 1, 3, black);
    assert_true(is(&img, 8 + 3, 8, 10, 10, 10)); /* '1' row 0, column 1: a digit cell */
    assert_true(is(&img, 8, 8, 225, 225, 225));  /* column 0: the backing */
    fa_image_free(&img);
}

/* One home player's box at frame 3, feed coordinates scaled by 2 onto a
 * 2560-wide picture: box and number drawn there, nothing for frame 4, and
 * the digits big enough to read once the video is scaled to 1280 wide
 * (scale 6 here: 3 px cells after the halving). */
static void test_draw_frame(void **state) {
    (void)state;
    fa_analyze_result r;
    memset(&r, 0, sizeof r);
    fa_track_obs ob = {.frame = 3, .id = 8, .det = 0, .box = {100, 200, 140, 300}, .score = 0.9f};
    r.tracks.obs = &ob;
    r.tracks.n_obs = 1;
    r.scale = 2;
    fa_image img = {0};
    assert_int_equal(fa_image_alloc(&img, 2560, 1440), 0);
    fill_white(&img);
    fa_overlay_draw(&r, 4, &img);
    assert_true(is(&img, 200, 400, 255, 255, 255));
    fa_overlay_draw(&r, 3, &img);
    /* no team model: grey box from (200, 400) to (280, 600) */
    assert_true(is(&img, 200, 500, 160, 160, 160));
    assert_true(is(&img, 240, 400, 160, 160, 160));
    assert_true(is(&img, 240, 500, 255, 255, 255));
    /* the 8 above the box at scale 6: top row full, cells of 6 px */
    int scale = 6, y = 400 - 7 * scale;
    assert_true(is(&img, 200, y, 160, 160, 160));
    assert_true(is(&img, 200 + 3 * scale - 1, y + scale - 1, 160, 160, 160));
    assert_true(is(&img, 200 + scale, y + scale, 20, 20, 20)); /* the 8's hole */
    fa_image_free(&img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_colours),
        cmocka_unit_test(test_number_font),
        cmocka_unit_test(test_draw_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
