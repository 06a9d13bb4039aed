/*
 * test_ladder.c - the rung plan: --ladder parsing and its errors, the
 * default classes, exact sizes and SARs (every rung of a source has the
 * source's display aspect, so the dash muxer accepts them in one adaptation
 * set), never upscaling, and the bitrate caps.
 */
#include "testutil.h"

#include <string.h>

#include "core/core.h"
#include "video/transcode.h"

static fa_video_info source(int w, int h, int sar_num, int sar_den, int rotation) {
    fa_video_info s;
    memset(&s, 0, sizeof s);
    s.width = w;
    s.height = h;
    s.sar_num = sar_num;
    s.sar_den = sar_den;
    s.rotation = rotation;
    return s;
}

static void expect_rung(const fa_rung *r, int w, int h, int sn, int sd, int maxrate) {
    assert_int_equal(r->width, w);
    assert_int_equal(r->height, h);
    assert_int_equal(r->sar_num, sn);
    assert_int_equal(r->sar_den, sd);
    assert_int_equal(r->maxrate_kbps, maxrate);
    assert_int_equal(r->bufsize_kbits, 2 * maxrate);
}

static void test_parse(void **state) {
    (void)state;
    int h[FA_LADDER_MAX], n;
    assert_int_equal(fa_ladder_parse("720,480,360", h, FA_LADDER_MAX, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(h[0], 720);
    assert_int_equal(h[2], 360);
    assert_int_equal(fa_ladder_parse("360,1080", h, FA_LADDER_MAX, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(h[0], 1080);
    assert_int_equal(h[1], 360);
}

static void expect_parse_error(const char *spec, const char *msg) {
    int h[FA_LADDER_MAX], n = -1;
    assert_int_equal(fa_ladder_parse(spec, h, FA_LADDER_MAX, &n), FA_EUSAGE);
    assert_string_equal(fa_err_msg(), msg);
}

static void test_parse_errors(void **state) {
    (void)state;
    expect_parse_error("", "--ladder: empty, expected heights such as 720,480,360");
    expect_parse_error("720,,360", "--ladder: '': expected a height such as 720");
    expect_parse_error("72O", "--ladder: '72O': expected a height in 144..4320");
    expect_parse_error("100", "--ladder: '100': expected a height in 144..4320");
    expect_parse_error("721", "--ladder: '721': height must be even");
    expect_parse_error("720,480,720", "--ladder: height 720 given twice in '720,480,720'");
    expect_parse_error("1080,720,540,480,360,240,144",
                       "--ladder: more than 6 rungs in '1080,720,540,480,360,240,144'");
}

static void test_default_classes(void **state) {
    (void)state;
    int h[3];
    fa_video_info s = source(1280, 720, 1, 1, 0);
    assert_int_equal(fa_ladder_default(&s, h), 3);
    assert_int_equal(h[0], 720);
    assert_int_equal(h[1], 480);
    assert_int_equal(h[2], 360);
    s = source(1280, 338, 676, 675, 0); /* the panorama: a 720p-class source */
    fa_ladder_default(&s, h);
    assert_int_equal(h[0], 720);
    s = source(3072, 1728, 1, 1, 0);
    fa_ladder_default(&s, h);
    assert_int_equal(h[0], 1080);
    assert_int_equal(h[1], 720);
    assert_int_equal(h[2], 480);
}

static void test_plan_16_9(void **state) {
    (void)state;
    fa_video_info s = source(1280, 720, 1, 1, 0);
    fa_ladder l;
    const int h[3] = {720, 480, 360};
    assert_int_equal(fa_ladder_plan(&s, h, 3, &l), 0);
    assert_int_equal(l.n, 3);
    expect_rung(&l.rung[0], 1280, 720, 1, 1, 3000);
    expect_rung(&l.rung[1], 854, 480, 1280, 1281, 1500); /* exactly 16:9 on screen */
    expect_rung(&l.rung[2], 640, 360, 1, 1, 800);
    s = source(3072, 1728, 1, 1, 0);
    const int hi[3] = {1080, 720, 480};
    assert_int_equal(fa_ladder_plan(&s, hi, 3, &l), 0);
    assert_int_equal(l.n, 3);
    expect_rung(&l.rung[0], 1920, 1080, 1, 1, 5000);
    expect_rung(&l.rung[1], 1280, 720, 1, 1, 3000);
    expect_rung(&l.rung[2], 854, 480, 1280, 1281, 1500);
}

/* 1280x338 with SAR 676:675: display aspect 512:135 in every rung. */
static void test_plan_panorama(void **state) {
    (void)state;
    fa_video_info s = source(1280, 338, 676, 675, 0);
    fa_ladder l;
    const int h[3] = {720, 480, 360};
    assert_int_equal(fa_ladder_plan(&s, h, 3, &l), 0);
    assert_int_equal(l.n, 3);
    expect_rung(&l.rung[0], 1280, 338, 676, 675, 3000);
    expect_rung(&l.rung[1], 854, 226, 57856, 57645, 1500);
    expect_rung(&l.rung[2], 640, 168, 224, 225, 800);
    for (int i = 0; i < 3; i++) {
        const fa_rung *r = &l.rung[i]; /* w * sar / h == 512/135, cross-multiplied */
        assert_int_equal((int64_t)r->width * r->sar_num * 135, (int64_t)r->height * r->sar_den * 512);
    }
}

static void test_never_upscale(void **state) {
    (void)state;
    fa_ladder l;
    const int h[3] = {720, 480, 360};
    fa_video_info s = source(960, 540, 1, 1, 0); /* 720 dropped: the source size becomes the top rung */
    assert_int_equal(fa_ladder_plan(&s, h, 3, &l), 0);
    assert_int_equal(l.n, 3);
    expect_rung(&l.rung[0], 960, 540, 1, 1, 2000);
    expect_rung(&l.rung[1], 854, 480, 1280, 1281, 1500);
    expect_rung(&l.rung[2], 640, 360, 1, 1, 800);
    s = source(640, 360, 1, 1, 0); /* only the 360 class fits, and it is the source */
    assert_int_equal(fa_ladder_plan(&s, h, 3, &l), 0);
    assert_int_equal(l.n, 1);
    expect_rung(&l.rung[0], 640, 360, 1, 1, 800);
    s = source(321, 181, 1, 1, 0); /* odd sizes round down to even */
    assert_int_equal(fa_ladder_plan(&s, h, 3, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.rung[0].width, 320);
    assert_int_equal(l.rung[0].height, 180);
    s = source(8, 8, 1, 1, 0);
    assert_int_equal(fa_ladder_plan(&s, h, 3, &l), FA_EINVAL);
}

static void test_rotated_portrait(void **state) {
    (void)state;
    fa_video_info s = source(1920, 1080, 1, 1, 90); /* a phone clip stored landscape, shown portrait */
    fa_ladder l;
    const int h[2] = {1080, 720};
    assert_int_equal(fa_ladder_plan(&s, h, 2, &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.rung[0].width, 608);
    assert_int_equal(l.rung[0].height, 1080);
    assert_int_equal(l.rung[1].width, 406);
    assert_int_equal(l.rung[1].height, 720);
}

static void test_maxrate_table(void **state) {
    (void)state;
    assert_int_equal(fa_ladder_maxrate_kbps(1080), 5000);
    assert_int_equal(fa_ladder_maxrate_kbps(720), 3000);
    assert_int_equal(fa_ladder_maxrate_kbps(480), 1500);
    assert_int_equal(fa_ladder_maxrate_kbps(360), 800);
    assert_int_equal(fa_ladder_maxrate_kbps(600), 2333);
    assert_int_equal(fa_ladder_maxrate_kbps(100), 200);
    assert_int_equal(fa_ladder_maxrate_kbps(4320), 32000);
}

static void test_hwaccel_parse(void **state) {
    (void)state;
    fa_hwaccel h;
    assert_int_equal(fa_hwaccel_parse("auto", &h), 0);
    assert_int_equal(h, FA_HWACCEL_AUTO);
    assert_int_equal(fa_hwaccel_parse("vaapi", &h), 0);
    assert_int_equal(h, FA_HWACCEL_VAAPI);
    assert_int_equal(fa_hwaccel_parse("nvenc", &h), FA_EUSAGE);
    assert_string_equal(fa_err_msg(), "--hwaccel: 'nvenc': expected auto, none, cuda or vaapi");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_default_classes),
        cmocka_unit_test(test_plan_16_9),
        cmocka_unit_test(test_plan_panorama),
        cmocka_unit_test(test_never_upscale),
        cmocka_unit_test(test_rotated_portrait),
        cmocka_unit_test(test_maxrate_table),
        cmocka_unit_test(test_hwaccel_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
