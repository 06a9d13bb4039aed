/*
 * overlay.c - the overlay video (tracked boxes, ids, team colours on the
 * match video) and the radar video (the tracked players as dots on a pitch
 * diagram), see overlay.h.
 *
 * Both are for a person's eyes, so the drawing is plain: filled rectangles
 * only (lines, discs and digits are built from them), a 3 x 5 digit font
 * defined below, no anti-aliasing. The overlay decodes the video again
 * rather than keeping frames from the analysis: the analysis holds only
 * boxes, so its memory does not grow with the match, and the boxes drawn
 * are the final ones (stitched, gaps filled, teams voted).
 */
#include "vision/overlay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "video/writer.h"

#define RADAR_PX_PER_M 8
#define RADAR_MARGIN_M 5

void fa_overlay_colour(fa_side side, const char *position, uint8_t rgb[3]) {
    static const uint8_t home[3] = {230, 40, 40}, away[3] = {40, 90, 240}, keeper[3] = {250, 220, 30},
                         referee[3] = {10, 10, 10}, unknown[3] = {160, 160, 160};
    const uint8_t *c = position && !strcmp(position, "goalkeeper") ? keeper
                       : position && !strcmp(position, "referee")  ? referee
                       : side == FA_SIDE_HOME                      ? home
                       : side == FA_SIDE_AWAY                      ? away
                                                                   : unknown;
    memcpy(rgb, c, 3);
}

/* The digits 0-9, five rows of three cells each, a row's cells in bits 2..0. */
static const uint8_t digit_rows[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
};

void fa_overlay_number(fa_image *img, int x, int y, int n, int scale, const uint8_t rgb[3]) {
    char text[16];
    int len = snprintf(text, sizeof text, "%d", n < 0 ? 0 : n);
    if (scale < 1) scale = 1;
    /* the backing contrasts with the digits: dark under team colours, light under the referees' black */
    uint8_t back = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 70 ? 225 : 20;
    fa_image_fill_rect(img, x - scale, y - scale, x + len * 4 * scale - 1, y + 6 * scale - 1, back, back,
                       back);
    for (int i = 0; i < len; i++)
        for (int row = 0; row < 5; row++)
            for (int col = 0; col < 3; col++) {
                if (!(digit_rows[text[i] - '0'][row] >> (2 - col) & 1)) continue;
                int cx = x + (i * 4 + col) * scale, cy = y + row * scale;
                fa_image_fill_rect(img, cx, cy, cx + scale - 1, cy + scale - 1, rgb[0], rgb[1], rgb[2]);
            }
}

void fa_overlay_draw(const fa_analyze_result *r, int64_t k, fa_image *img) {
    /* digits 3 x 5 cells of 3 px at 1280 wide (what the overlay video is scaled to), in proportion above */
    int thick = img->w >= 2000 ? 4 : 2, scale = (int)lround(3.0 * img->w / 1280);
    if (scale < 2) scale = 2;
    for (size_t i = 0; i < r->tracks.n_obs; i++) {
        const fa_track_obs *ob = &r->tracks.obs[i];
        if (ob->frame != k || (ob->flags & FA_TRACK_UNSEEN)) continue;
        double s = r->scale;
        int x1 = (int)(ob->box[0] * s), y1 = (int)(ob->box[1] * s), x2 = (int)(ob->box[2] * s),
            y2 = (int)(ob->box[3] * s);
        uint8_t c[3] = {255, 255, 255};
        if (ob->id == FA_TRACK_BALL_ID) {
            fa_image_draw_rect(img, x1 - 6, y1 - 6, x2 + 6, y2 + 6, thick, c[0], c[1], c[2]);
            continue;
        }
        fa_side side;
        const char *position;
        fa_analyze_team((void *)(uintptr_t)r, ob->id, &side, &position);
        fa_overlay_colour(side, position, c);
        fa_image_draw_rect(img, x1, y1, x2, y2, thick, c[0], c[1], c[2]);
        fa_overlay_number(img, x1, y1 - 7 * scale, ob->id, scale, c);
    }
}

/* img scaled to at most max_width wide (even sizes) into out. */
static int scaled(const fa_image *img, int max_width, fa_image *out) {
    int w = img->w <= max_width ? img->w : max_width;
    w -= w % 2;
    int h = (int)lround((double)img->h * w / img->w);
    h -= h % 2;
    if (out->w != w || out->h != h) {
        fa_image_free(out);
        int rc = fa_image_alloc(out, w, h);
        if (rc) return rc;
    }
    fa_image_resize_region(img, 0, 0, img->w, img->h, out->rgb, w, h);
    return 0;
}

int fa_overlay_write_video(const char *input, double fps, const fa_analyze_result *r, int max_width,
                           const char *path) {
    fa_frames *f = fa_frames_open(input, fps);
    if (!f) return fa_err_code();
    fa_image img = {0}, small = {0};
    fa_video_writer *vw = NULL;
    int64_t k = 0, index;
    double t;
    int rc = 0;
    while (k < r->frames && (rc = fa_frames_next(f, &img, &index, &t)) == 1) {
        fa_overlay_draw(r, k++, &img);
        rc = scaled(&img, max_width > 0 ? max_width : 1280, &small);
        if (!rc && !vw && !(vw = fa_video_writer_open(path, small.w, small.h, fps))) rc = fa_err_code();
        if (!rc) rc = fa_video_writer_push(vw, &small);
        if (rc) break;
    }
    if (rc > 0) rc = 0;
    if (!rc && !vw) rc = fa_err_set(FA_EINVAL, "%s: no frames to draw", input);
    int close_rc = fa_video_writer_close(vw, rc == 0);
    fa_image_free(&img);
    fa_image_free(&small);
    fa_frames_close(f);
    return rc ? rc : close_rc;
}

/* ------------------------------------------------------------ radar */

struct fa_radar {
    char path[1024];
    fa_sink sink;
    fa_video_writer *vw;
    fa_image canvas, pitch; /* the frame being drawn, the empty pitch */
    fa_pitch size;
    /* sides and positions by track id, from the players of the stream */
    int n_roles, cap_roles;
    struct radar_role {
        int id;
        fa_side side;
        char position[48];
    } * roles;
};

/* Pitch metres to canvas pixels (y up on the pitch is up on the canvas). */
static void to_px(const fa_radar *rd, double x, double y, int *px, int *py) {
    *px = (int)lround((x + rd->size.length / 2 + RADAR_MARGIN_M) * RADAR_PX_PER_M);
    *py = (int)lround((rd->size.width / 2 + RADAR_MARGIN_M - y) * RADAR_PX_PER_M);
}

static void line(fa_radar *rd, double x1, double y1, double x2, double y2) {
    int n = (int)(hypot(x2 - x1, y2 - y1) * RADAR_PX_PER_M) + 1;
    for (int i = 0; i <= n; i++) {
        int px, py;
        to_px(rd, x1 + (x2 - x1) * i / n, y1 + (y2 - y1) * i / n, &px, &py);
        fa_image_fill_rect(&rd->pitch, px - 1, py - 1, px, py, 235, 245, 235);
    }
}

static void circle(fa_radar *rd, double cx, double cy, double radius) {
    for (int i = 0; i < 180; i++) {
        double a0 = i * 2 * M_PI / 180, a1 = (i + 1) * 2 * M_PI / 180;
        line(rd, cx + radius * cos(a0), cy + radius * sin(a0), cx + radius * cos(a1), cy + radius * sin(a1));
    }
}

static void rect(fa_radar *rd, double x1, double y1, double x2, double y2) {
    line(rd, x1, y1, x2, y1), line(rd, x2, y1, x2, y2), line(rd, x2, y2, x1, y2), line(rd, x1, y2, x1, y1);
}

/* The empty pitch: grass, touchlines, halfway line, centre circle, boxes. */
static void draw_pitch(fa_radar *rd) {
    double L = rd->size.length / 2, W = rd->size.width / 2;
    fa_image_fill_rect(&rd->pitch, 0, 0, rd->pitch.w - 1, rd->pitch.h - 1, 40, 120, 50);
    rect(rd, -L, -W, L, W);
    line(rd, 0, -W, 0, W);
    circle(rd, 0, 0, 9.15);
    for (int side = -1; side <= 1; side += 2) {
        rect(rd, side * L, -20.16, side * (L - 16.5), 20.16);
        rect(rd, side * L, -9.16, side * (L - 5.5), 9.16);
        circle(rd, side * (L - 11), 0, 0.2);
    }
    circle(rd, 0, 0, 0.2);
}

/* The N of a "track-N" player id (fa_analyze_emit's). */
static int track_number(const char *player_id) {
    return atoi(strncmp(player_id, "track-", 6) ? player_id : player_id + 6);
}

static int radar_begin(void *ud, const fa_match *m) {
    fa_radar *rd = ud;
    rd->size = m->pitch;
    int w = (int)((rd->size.length + 2 * RADAR_MARGIN_M) * RADAR_PX_PER_M),
        h = (int)((rd->size.width + 2 * RADAR_MARGIN_M) * RADAR_PX_PER_M);
    w += w % 2, h += h % 2;
    int rc = fa_image_alloc(&rd->pitch, w, h);
    if (!rc) rc = fa_image_alloc(&rd->canvas, w, h);
    if (rc) return rc;
    draw_pitch(rd);
    if (!(rd->vw = fa_video_writer_open(rd->path, w, h, m->frame_rate > 0 ? m->frame_rate : 5)))
        return fa_err_code();
    return 0;
}

static int radar_player(void *ud, const fa_player *p) {
    fa_radar *rd = ud;
    if (rd->n_roles == rd->cap_roles) {
        int cap = rd->cap_roles ? rd->cap_roles * 2 : 64;
        struct radar_role *v = realloc(rd->roles, (size_t)cap * sizeof *v);
        if (!v) return fa_err_set(FA_ENOMEM, "radar: out of memory");
        rd->roles = v, rd->cap_roles = cap;
    }
    struct radar_role *r = &rd->roles[rd->n_roles++];
    r->id = track_number(p->id);
    r->side = p->side;
    snprintf(r->position, sizeof r->position, "%s", p->position);
    return 0;
}

static const char *position_of(const fa_radar *rd, int id) {
    for (int i = 0; i < rd->n_roles; i++)
        if (rd->roles[i].id == id) return rd->roles[i].position;
    return "";
}

static void disc(fa_image *img, int cx, int cy, int radius, const uint8_t c[3]) {
    for (int dy = -radius; dy <= radius; dy++) {
        int dx = (int)sqrt((double)(radius * radius - dy * dy));
        fa_image_fill_rect(img, cx - dx, cy + dy, cx + dx, cy + dy, c[0], c[1], c[2]);
    }
}

static int radar_frame(void *ud, const fa_frame *f) {
    fa_radar *rd = ud;
    memcpy(rd->canvas.rgb, rd->pitch.rgb, (size_t)rd->pitch.h * rd->pitch.stride);
    for (size_t i = 0; i < f->n; i++) {
        const fa_frame_player *p = &f->players[i];
        int id = track_number(p->player_id), px, py;
        uint8_t c[3];
        fa_overlay_colour(p->side, position_of(rd, id), c);
        to_px(rd, p->x, p->y, &px, &py);
        disc(&rd->canvas, px, py, 6, c);
        fa_overlay_number(&rd->canvas, px + 8, py - 12, id, 2, c);
    }
    if (isfinite(f->ball_x) && isfinite(f->ball_y)) {
        static const uint8_t white[3] = {255, 255, 255};
        int px, py;
        to_px(rd, f->ball_x, f->ball_y, &px, &py);
        disc(&rd->canvas, px, py, 3, white);
    }
    return fa_video_writer_push(rd->vw, &rd->canvas);
}

fa_radar *fa_radar_open(const char *path) {
    fa_radar *rd = fa_calloc(1, sizeof *rd);
    if (!rd) return NULL;
    snprintf(rd->path, sizeof rd->path, "%s", path);
    rd->sink = (fa_sink){.ud = rd, .begin = radar_begin, .player = radar_player, .frame = radar_frame};
    return rd;
}

const fa_sink *fa_radar_sink(fa_radar *rd) { return &rd->sink; }

int fa_radar_close(fa_radar *rd, int commit) {
    if (!rd) return 0;
    int rc = fa_video_writer_close(rd->vw, commit);
    fa_image_free(&rd->canvas);
    fa_image_free(&rd->pitch);
    free(rd->roles);
    free(rd);
    return rc;
}
