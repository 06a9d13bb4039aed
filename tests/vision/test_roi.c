/*
 * test_roi.c - the pitch region of interest (src/vision/tiles.c,
 * fa_pitch_roi) and tiling over it: synthetic frames (a green band, no
 * green at all, green everywhere, green trees touching the pitch) and the
 * 10 labelled soccertrack_v2 panoramas, whose every labelled box (players,
 * referees, the ball) must lie inside the region found, which is what makes
 * tiling only the region safe for detection.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"
#include "vision/detector.h"

/* A w x h frame of grey (r, g, b) with rows [y1, y2) of turf green. */
static void band_frame(fa_image *img, int w, int h, int y1, int y2) {
    assert_int_equal(fa_image_alloc(img, w, h), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->rgb + (size_t)y * img->stride + 3 * (size_t)x;
            int green = y >= y1 && y < y2;
            p[0] = green ? 60 : 120, p[1] = green ? 140 : 120, p[2] = green ? 70 : 130;
        }
}

static void paint(fa_image *img, int x1, int y1, int x2, int y2, uint8_t r, uint8_t g, uint8_t b) {
    for (int y = y1; y < y2; y++)
        for (int x = x1; x < x2; x++) {
            uint8_t *p = img->rgb + (size_t)y * img->stride + 3 * (size_t)x;
            p[0] = r, p[1] = g, p[2] = b;
        }
}

static void test_synthetic(void **state) {
    (void)state;
    fa_image img;
    fa_tile roi;
    band_frame(&img, 2160, 1080, 480, 784);
    assert_int_equal(fa_pitch_roi(&img, &roi), 1);
    /* 304 px band: 46 px above, 15 px below, full width */
    assert_int_equal(roi.x, 0);
    assert_int_equal(roi.w, 2160);
    assert_int_equal(roi.y, 480 - 46);
    assert_int_equal(roi.y + roi.h, 784 + 15);
    /* a white player painted on the turf and a green tree touching the
     * far touchline change nothing: the player is a hole, the tree a thin spur */
    paint(&img, 1000, 600, 1008, 640, 250, 250, 250);
    paint(&img, 1800, 300, 1840, 480, 40, 120, 40);
    fa_tile roi2;
    assert_int_equal(fa_pitch_roi(&img, &roi2), 1);
    assert_memory_equal(&roi, &roi2, sizeof roi);
    fa_image_free(&img);

    /* no green: whole frame */
    band_frame(&img, 2160, 1080, 0, 0);
    assert_int_equal(fa_pitch_roi(&img, &roi), 0);
    assert_int_equal(roi.x, 0), assert_int_equal(roi.y, 0);
    assert_int_equal(roi.w, 2160), assert_int_equal(roi.h, 1080);
    /* a green patch under 5 % of the frame is not a pitch */
    paint(&img, 100, 100, 400, 250, 60, 140, 70);
    assert_int_equal(fa_pitch_roi(&img, &roi), 0);
    assert_int_equal(roi.w, 2160);
    fa_image_free(&img);

    /* green everywhere: whole frame; a frame too small for the grid: whole */
    band_frame(&img, 640, 360, 0, 360);
    assert_int_equal(fa_pitch_roi(&img, &roi), 1);
    assert_int_equal(roi.x, 0), assert_int_equal(roi.y, 0);
    assert_int_equal(roi.w, 640), assert_int_equal(roi.h, 360);
    fa_image_free(&img);
    band_frame(&img, 20, 20, 0, 20);
    assert_int_equal(fa_pitch_roi(&img, &roi), 0);
    assert_int_equal(roi.w, 20), assert_int_equal(roi.h, 20);
    fa_image_free(&img);
}

static void test_parse(void **state) {
    (void)state;
    int r = -1;
    assert_int_equal(fa_roi_parse("auto", &r), 0);
    assert_int_equal(r, 1);
    assert_int_equal(fa_roi_parse("none", &r), 0);
    assert_int_equal(r, 0);
    assert_int_equal(fa_roi_parse("pitch", &r), FA_EUSAGE);
    assert_string_equal(fa_err_msg(), "--roi: expected auto or none, got 'pitch'");
}

/* Asserts every box of the YOLO label file lab lies inside roi (w x h frame). */
static int labels_inside(const char *lab, const fa_tile *roi, int w, int h) {
    FILE *f = fopen(lab, "r");
    assert_non_null(f);
    int cls, n = 0;
    double cx, cy, bw, bh;
    while (fscanf(f, "%d %lf %lf %lf %lf", &cls, &cx, &cy, &bw, &bh) == 5) {
        double x1 = (cx - bw / 2) * w, x2 = (cx + bw / 2) * w, y1 = (cy - bh / 2) * h, y2 = (cy + bh / 2) * h;
        if (x1 < roi->x || y1 < roi->y || x2 > roi->x + roi->w || y2 > roi->y + roi->h)
            fprintf(stderr, "%s: box %.0f,%.0f,%.0f,%.0f outside\n", lab, x1, y1, x2, y2);
        assert_true(x1 >= roi->x && y1 >= roi->y && x2 <= roi->x + roi->w && y2 <= roi->y + roi->h);
        n++;
    }
    fclose(f);
    return n;
}

static void test_real_frames(void **state) {
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", fa_test_data("images/soccertrack_v2/train/images"));
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    struct dirent *e;
    int frames = 0, boxes = 0, max_h = 0, min_y = 1080, max_y2 = 0, tiles_352 = 0, tiles_416 = 0;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".jpg")) continue;
        char path[8192], lab[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(lab, sizeof lab, "%s/../labels/%.*s.txt", dir, (int)(len - 4), e->d_name);
        fa_image img;
        assert_int_equal(fa_image_load(path, &img), 0);
        fa_tile roi;
        assert_int_equal(fa_pitch_roi(&img, &roi), 1);
        /* the pitch band of these frames: rows 480..760 of green, grown to 455..782 */
        assert_int_equal(roi.y, 455);
        assert_int_equal(roi.h, 327);
        assert_true(roi.x <= 36 && roi.x + roi.w == 2160);
        boxes += labels_inside(lab, &roi, img.w, img.h);
        if (roi.h > max_h) max_h = roi.h;
        if (roi.y < min_y) min_y = roi.y;
        if (roi.y + roi.h > max_y2) max_y2 = roi.y + roi.h;
        fa_tile_spec au = {FA_TILES_AUTO, 0, 0};
        fa_tile t[FA_TILES_MAX];
        tiles_352 += fa_tiles_plan_roi(&au, &roi, 352, 352, t, FA_TILES_MAX);
        tiles_416 += fa_tiles_plan_roi(&au, &roi, 416, 416, t, FA_TILES_MAX);
        fa_image_free(&img);
        frames++;
    }
    closedir(dp);
    print_message("pitch region rows %d..%d (at most %d tall), tiles %d (352 px) and %d (416 px)\n", min_y,
                  max_y2, max_h, tiles_352, tiles_416);
    assert_int_equal(frames, 10);
    assert_int_equal(boxes, 256); /* 233 persons + 23 balls, every one inside */
    /* one row of tiles: 8 per frame for FastestDet (352), 7 for NanoDet (416); 32 and 21 unrestricted */
    assert_int_equal(tiles_352, 80);
    assert_int_equal(tiles_416, 70);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_synthetic),
        cmocka_unit_test(test_real_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
