/*
 * tiles.c - the tiling plan for wide frames.
 *
 * These detectors see 320-416 px. A 2160x1080 panorama squeezed into that
 * shrinks its players (12-40 px tall in soccertrack_v2) to 2-8 px, below
 * what any of them detects: untiled, they find a handful of the 22 players.
 * Cut into tiles about the network's own size (FA_TILES_AUTO_SCALE = 1
 * source pixel per network pixel), a player keeps its 12-40 px, the size
 * band where COCO-trained small models still fire; smaller tiles (upscaling)
 * would multiply the work (4x the tiles at scale 0.5) for little gain,
 * larger ones shrink the players again. Measured with FastestDet on the
 * 10 labelled frames (person AP@0.5): 2x4 tiles 0.10, 3x6 0.12, auto (4x8,
 * scale 1) 0.22, 5x10 0.16, 6x12 0.23 at 2.3x the work of auto.
 *
 * Neighbouring tiles share FA_TILES_OVERLAP = 20 % of a tile (64-83 px for
 * these networks), more than the tallest player (40 px), so every player
 * lies whole inside at least one tile; that is what lets the merge step
 * (nms.c) drop the cut copies at inner tile edges rather than guess how to
 * stitch them.
 *
 * auto leaves a frame whole unless it is more than FA_TILES_AUTO_MIN_RATIO
 * (2.5) times the network input in a side: a 768x576 photo (2.2x a 352
 * input) has objects large enough to survive the resize and would only be
 * cut by tiles, while a 2160x1080 panorama (6x) or a 3072x1728 camera
 * frame (9x) shrinks its players out of sight.
 *
 * Tiles of one frame all have the same size and cover the frame exactly
 * (the last row and column are aligned to the far edge), so they are one
 * batch of one resize ratio.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vision/detector.h"

int fa_tiles_parse(const char *s, fa_tile_spec *spec) {
    memset(spec, 0, sizeof *spec);
    if (!s || !strcmp(s, "none")) return 0;
    if (!strcmp(s, "auto")) {
        spec->mode = FA_TILES_AUTO;
        return 0;
    }
    int r = 0, c = 0, used = 0;
    if (sscanf(s, "%dx%d%n", &r, &c, &used) == 2 && s[used] == '\0' && r >= 1 && r <= 16 && c >= 1 &&
        c <= 16) {
        spec->mode = FA_TILES_GRID;
        spec->rows = r;
        spec->cols = c;
        return 0;
    }
    return fa_err_set(FA_EUSAGE,
                      "--tiles: expected auto, none or RxC (rows and columns 1..16, e.g. 3x6), got '%s'", s);
}

/* Tiles along one side of length len: n tiles of size *size with overlap. */
static void split_side(int len, int n, int *size, int *pos) {
    double t = len / (n - (n - 1) * FA_TILES_OVERLAP);
    int sz = (int)ceil(t);
    if (sz > len) sz = len;
    *size = sz;
    for (int i = 0; i < n; i++)
        pos[i] = n == 1 ? 0 : (int)lround((double)i * (len - sz) / (n - 1));
}

/* Tiles needed along a side of length len for tiles of about target px. */
static int count_for(int len, double target) {
    if (len <= target) return 1;
    double n = (len - FA_TILES_OVERLAP * target) / ((1 - FA_TILES_OVERLAP) * target);
    return (int)ceil(n - 1e-9);
}

static void auto_grid(int img_w, int img_h, int net_w, int net_h, int max, int *rows, int *cols) {
    *rows = *cols = 1;
    if (img_w <= FA_TILES_AUTO_MIN_RATIO * net_w && img_h <= FA_TILES_AUTO_MIN_RATIO * net_h) return;
    double scale = FA_TILES_AUTO_SCALE;
    for (;;) {
        *cols = count_for(img_w, net_w * scale);
        *rows = count_for(img_h, net_h * scale);
        if (*rows * *cols <= max && *rows <= 16 && *cols <= 16) return;
        scale *= 1.1;
    }
}

int fa_tiles_plan(const fa_tile_spec *spec, int img_w, int img_h, int net_w, int net_h, fa_tile *tiles,
                  int max) {
    int rows = 1, cols = 1;
    if (spec && spec->mode == FA_TILES_GRID) rows = spec->rows, cols = spec->cols;
    if (spec && spec->mode == FA_TILES_AUTO) auto_grid(img_w, img_h, net_w, net_h, max, &rows, &cols);
    while (rows * cols > max)
        rows > cols ? rows-- : cols--;
    int tw, th, xs[16], ys[16];
    split_side(img_w, cols, &tw, xs);
    split_side(img_h, rows, &th, ys);
    int n = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            tiles[n++] = (fa_tile){xs[c], ys[r], tw, th};
    return n;
}

void fa_tiles_mark_cut(fa_detection *d, const fa_tile *t, int img_w, int img_h, float margin) {
    const float *b = d->box;
    int cut = 0;
    if (t->x > 0 && b[0] <= t->x + margin) cut = 1;
    if (t->y > 0 && b[1] <= t->y + margin) cut = 1;
    if (t->x + t->w < img_w && b[2] >= t->x + t->w - margin) cut = 1;
    if (t->y + t->h < img_h && b[3] >= t->y + t->h - margin) cut = 1;
    d->cut = cut;
}
