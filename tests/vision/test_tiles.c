/*
 * test_tiles.c - the tiling plan (src/vision/tiles.c): option parsing, exact
 * tile rectangles for the 2160x1080 soccertrack_v2 frames, coverage and
 * overlap, and the marking of boxes cut by inner tile edges.
 */
#include <string.h>

#include "core/core.h"
#include "testutil.h"
#include "vision/detector.h"

static void test_parse(void **state) {
    (void)state;
    fa_tile_spec s;
    assert_int_equal(fa_tiles_parse("auto", &s), 0);
    assert_int_equal(s.mode, FA_TILES_AUTO);
    assert_int_equal(fa_tiles_parse("none", &s), 0);
    assert_int_equal(s.mode, FA_TILES_NONE);
    assert_int_equal(fa_tiles_parse("3x6", &s), 0);
    assert_int_equal(s.mode, FA_TILES_GRID);
    assert_int_equal(s.rows, 3);
    assert_int_equal(s.cols, 6);
    const char *bad[] = {"0x2", "17x1", "3x", "x3", "3x6x", "3*6", "", "auto ", "-1x2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(fa_tiles_parse(bad[i], &s), FA_EUSAGE);
        assert_non_null(strstr(fa_err_msg(), "--tiles: expected auto, none or RxC"));
    }
    fa_tiles_parse("3*6", &s);
    assert_string_equal(fa_err_msg(),
                        "--tiles: expected auto, none or RxC (rows and columns 1..16, e.g. 3x6), got '3*6'");
}

static void test_plan_none_and_grid(void **state) {
    (void)state;
    fa_tile t[FA_TILES_MAX];
    fa_tile_spec none = {FA_TILES_NONE, 0, 0}, grid = {FA_TILES_GRID, 2, 3};
    assert_int_equal(fa_tiles_plan(&none, 2160, 1080, 352, 352, t, FA_TILES_MAX), 1);
    assert_true(t[0].x == 0 && t[0].y == 0 && t[0].w == 2160 && t[0].h == 1080);
    assert_int_equal(fa_tiles_plan(&grid, 2160, 1080, 352, 352, t, FA_TILES_MAX), 6);
    /* 3 columns sharing 20 %: w = ceil(2160 / 2.6) = 831; 2 rows: h = 1080 / 1.8 = 600 */
    const int xs[3] = {0, 665, 1329}, ys[2] = {0, 480};
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++) {
            const fa_tile *x = &t[r * 3 + c];
            assert_int_equal(x->x, xs[c]);
            assert_int_equal(x->y, ys[r]);
            assert_int_equal(x->w, 831);
            assert_int_equal(x->h, 600);
        }
    /* a grid asked for more tiles than allowed is cut down */
    fa_tile_spec big = {FA_TILES_GRID, 16, 16};
    assert_int_equal(fa_tiles_plan(&big, 2160, 1080, 352, 352, t, 16), 16);
}

static void test_plan_auto(void **state) {
    (void)state;
    fa_tile t[FA_TILES_MAX];
    fa_tile_spec au = {FA_TILES_AUTO, 0, 0};
    /* 2160x1080 at 352: 8 x 4 tiles of 328 x 318 source px (about the input size) */
    assert_int_equal(fa_tiles_plan(&au, 2160, 1080, 352, 352, t, FA_TILES_MAX), 32);
    const int xs[8] = {0, 262, 523, 785, 1047, 1309, 1570, 1832}, ys[4] = {0, 254, 508, 762};
    for (int i = 0; i < 32; i++) {
        assert_int_equal(t[i].x, xs[i % 8]);
        assert_int_equal(t[i].y, ys[i / 8]);
        assert_int_equal(t[i].w, 328);
        assert_int_equal(t[i].h, 318);
    }
    /* neighbours overlap by more than the tallest player (40 px) */
    assert_true(t[0].x + t[0].w - t[1].x >= 64);
    assert_true(t[0].y + t[0].h - t[8].y >= 64);
    /* the last tiles end on the frame edges */
    assert_int_equal(t[31].x + t[31].w, 2160);
    assert_int_equal(t[31].y + t[31].h, 1080);
    /* NanoDet's 416 input: 7 x 3 */
    assert_int_equal(fa_tiles_plan(&au, 2160, 1080, 416, 416, t, FA_TILES_MAX), 21);
    /* a photo not larger than 2.5x the input stays whole */
    assert_int_equal(fa_tiles_plan(&au, 768, 576, 352, 352, t, FA_TILES_MAX), 1);
    assert_int_equal(t[0].w, 768);
    /* the 900x376 panorama is 2.56x a 352 input: 3 x 2 */
    assert_int_equal(fa_tiles_plan(&au, 900, 376, 352, 352, t, FA_TILES_MAX), 6);
    /* a limit on tiles grows them instead */
    int n = fa_tiles_plan(&au, 2160, 1080, 352, 352, t, 8);
    assert_true(n <= 8 && n >= 4);
    assert_int_equal(t[n - 1].x + t[n - 1].w, 2160);
}

static void test_mark_cut(void **state) {
    (void)state;
    fa_tile tile = {262, 254, 328, 318};
    fa_detection d = {{263, 300, 280, 330}, 0.5f, 0, 1, 0};
    fa_tiles_mark_cut(&d, &tile, 2160, 1080, 2.f);
    assert_int_equal(d.cut, 1); /* touches the inner left edge */
    d.box[0] = 270;
    fa_tiles_mark_cut(&d, &tile, 2160, 1080, 2.f);
    assert_int_equal(d.cut, 0);
    d.box[3] = 571; /* bottom edge at 572 is inside the frame */
    fa_tiles_mark_cut(&d, &tile, 2160, 1080, 2.f);
    assert_int_equal(d.cut, 1);
    /* frame borders do not cut */
    fa_tile corner = {0, 0, 328, 318};
    fa_detection e = {{0, 0, 10, 20}, 0.5f, 0, 0, 0};
    fa_tiles_mark_cut(&e, &corner, 2160, 1080, 2.f);
    assert_int_equal(e.cut, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_plan_none_and_grid),
        cmocka_unit_test(test_plan_auto),
        cmocka_unit_test(test_mark_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
