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

/* ------------------------------------------------------------- pitch ROI */

/*
 * The pitch region. In a wide panorama (soccertrack_v2: 2160x1080) the
 * pitch is a band of about a third of the frame's height; the rest is sky,
 * stands and the black corners of the lens' projection, where no player
 * stands. Tiling only that band cuts the tiles per frame by 2-4x.
 *
 * Found cheaply on a 1/FA_ROI_CELL-scale grid (8x8-pixel cells, their
 * mean colour from 16 samples): a cell is "pitch" when green dominates it
 * (G exceeds both R and B by FA_ROI_GREEN_MARGIN, and is not near black),
 * a chroma test that holds for natural and artificial turf in sun and
 * shadow but not for sky, stands, tracks or autumn trees. The largest
 * 4-connected group of pitch cells is the pitch; its rows and columns with
 * too few pitch cells (green trees touching the far touchline, a green
 * banner) are trimmed by a profile threshold, then the box is grown by
 * margins: above by FA_ROI_MARGIN_TOP of its height (players' heads stand
 * above the far touchline and a lofted ball flies above the pitch), below
 * and at the sides by FA_ROI_MARGIN_SIDE. When the group is smaller than
 * FA_ROI_MIN_AREA of the frame (no pitch: a close-up, a night frame, an
 * indoor photo) the ROI is the whole frame, so a wrong guess costs speed,
 * never detections.
 */
#define FA_ROI_CELL 8
#define FA_ROI_GREEN_MARGIN 12
#define FA_ROI_MIN_AREA 0.05
#define FA_ROI_PROFILE 0.25
#define FA_ROI_MARGIN_TOP 0.15
#define FA_ROI_MARGIN_SIDE 0.05

int fa_roi_parse(const char *s, int *auto_roi) {
    if (s && !strcmp(s, "auto")) return *auto_roi = 1, 0;
    if (s && !strcmp(s, "none")) return *auto_roi = 0, 0;
    return fa_err_set(FA_EUSAGE, "--roi: expected auto or none, got '%s'", s ? s : "");
}

/* 1 when the cell at (cx, cy) of img is green-dominated. */
static int cell_is_green(const fa_image *img, int cx, int cy) {
    int r = 0, g = 0, b = 0;
    for (int y = 1; y < FA_ROI_CELL; y += 2) {
        const uint8_t *p =
            img->rgb + (size_t)(cy * FA_ROI_CELL + y) * img->stride + (size_t)cx * FA_ROI_CELL * 3;
        for (int x = 1; x < FA_ROI_CELL; x += 2)
            r += p[3 * x], g += p[3 * x + 1], b += p[3 * x + 2];
    }
    int n = (FA_ROI_CELL / 2) * (FA_ROI_CELL / 2);
    r /= n, g /= n, b /= n;
    return g >= 40 && g - r >= FA_ROI_GREEN_MARGIN && g - b >= FA_ROI_GREEN_MARGIN;
}

/* Labels the 4-connected group holding cell `seed` with `label` (an explicit
 * stack, so a frame-wide group does not recurse). Returns its size. */
static size_t flood(uint16_t *lab, int gw, int gh, size_t seed, uint16_t label, size_t *stack) {
    size_t top = 0, size = 0;
    stack[top++] = seed;
    lab[seed] = label;
    while (top) {
        size_t i = stack[--top];
        int x = (int)(i % (size_t)gw), y = (int)(i / (size_t)gw);
        size++;
        size_t nb[4] = {i - 1, i + 1, i - (size_t)gw, i + (size_t)gw};
        int ok[4] = {x > 0, x + 1 < gw, y > 0, y + 1 < gh};
        for (int k = 0; k < 4; k++)
            if (ok[k] && lab[nb[k]] == 1) lab[nb[k]] = label, stack[top++] = nb[k];
    }
    return size;
}

/* The extent [*lo, *hi] of the profile entries >= FA_ROI_PROFILE x its max. */
static void profile_extent(const int *prof, int n, int *lo, int *hi) {
    int max = 0;
    for (int i = 0; i < n; i++)
        if (prof[i] > max) max = prof[i];
    *lo = n, *hi = -1;
    for (int i = 0; i < n; i++)
        if (prof[i] > 0 && prof[i] >= FA_ROI_PROFILE * max) {
            if (i < *lo) *lo = i;
            *hi = i;
        }
}

/* The grid's largest green group as a box in cells; 0 when too small. */
static int largest_green(uint16_t *lab, int gw, int gh, size_t *stack, int *box) {
    size_t cells = (size_t)gw * gh, best = 0;
    uint16_t best_label = 0, next = 2;
    for (size_t i = 0; i < cells && next < UINT16_MAX; i++)
        if (lab[i] == 1) {
            size_t size = flood(lab, gw, gh, i, next, stack);
            if (size > best) best = size, best_label = next;
            next++;
        }
    if (best < FA_ROI_MIN_AREA * (double)cells) return 0;
    int *rows = fa_calloc((size_t)gw + gh, sizeof *rows), *cols;
    if (!rows) return 0;
    cols = rows + gh;
    for (size_t i = 0; i < cells; i++)
        if (lab[i] == best_label) rows[i / (size_t)gw]++, cols[i % (size_t)gw]++;
    profile_extent(rows, gh, &box[1], &box[3]);
    profile_extent(cols, gw, &box[0], &box[2]);
    free(rows);
    return 1;
}

/* Grows the cell box to pixels with the margins, clipped to the frame. */
static void grow_roi(const int *box, int img_w, int img_h, fa_tile *roi) {
    int x1 = box[0] * FA_ROI_CELL, y1 = box[1] * FA_ROI_CELL;
    int x2 = (box[2] + 1) * FA_ROI_CELL, y2 = (box[3] + 1) * FA_ROI_CELL;
    int h = y2 - y1, w = x2 - x1;
    y1 -= (int)lround(FA_ROI_MARGIN_TOP * h);
    y2 += (int)lround(FA_ROI_MARGIN_SIDE * h);
    x1 -= (int)lround(FA_ROI_MARGIN_SIDE * w);
    x2 += (int)lround(FA_ROI_MARGIN_SIDE * w);
    if (x2 >= img_w - FA_ROI_CELL) x2 = img_w; /* the grid drops the last partial cell */
    if (y2 >= img_h - FA_ROI_CELL) y2 = img_h;
    x1 = x1 < 0 ? 0 : x1, y1 = y1 < 0 ? 0 : y1;
    x2 = x2 > img_w ? img_w : x2, y2 = y2 > img_h ? img_h : y2;
    *roi = (fa_tile){x1, y1, x2 - x1, y2 - y1};
}

int fa_pitch_roi(const fa_image *img, fa_tile *roi) {
    *roi = (fa_tile){0, 0, img->w, img->h};
    int gw = img->w / FA_ROI_CELL, gh = img->h / FA_ROI_CELL;
    if (gw < 4 || gh < 4) return 0;
    size_t cells = (size_t)gw * gh;
    uint16_t *lab = fa_malloc(cells * sizeof *lab);
    size_t *stack = fa_malloc(cells * sizeof *stack);
    int box[4], found = 0;
    if (lab && stack) {
        for (int cy = 0; cy < gh; cy++)
            for (int cx = 0; cx < gw; cx++)
                lab[(size_t)cy * gw + cx] = (uint16_t)cell_is_green(img, cx, cy);
        found = largest_green(lab, gw, gh, stack, box) && box[2] >= box[0] && box[3] >= box[1];
    }
    free(lab);
    free(stack);
    if (found) grow_roi(box, img->w, img->h, roi);
    return found;
}

int fa_tiles_plan_roi(const fa_tile_spec *spec, const fa_tile *roi, int net_w, int net_h, fa_tile *tiles,
                      int max) {
    int n = fa_tiles_plan(spec, roi->w, roi->h, net_w, net_h, tiles, max);
    for (int i = 0; i < n; i++)
        tiles[i].x += roi->x, tiles[i].y += roi->y;
    return n;
}
