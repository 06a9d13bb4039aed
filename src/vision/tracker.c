/*
 * tracker.c - ByteTrack-style multi-object tracking of players, a separate
 * ball track, and the offline passes (stitching, gap filling) over the
 * history. The order of the online steps is in tracker.h.
 *
 * Why ByteTrack: a football detector at 5-35 pixel players gives many
 * low-score boxes on occluded or blurred players; matching them, second,
 * only with tracks that were tracked a frame ago keeps those tracks alive
 * without letting clutter start tracks. Two additions for football:
 *   - buffered IoU (boxes grown by iou_buffer on each side before the
 *     overlap): at 5 detections per second a running player moves more
 *     than his own width between frames and plain IoU drops to 0;
 *   - an appearance term (torso colour histogram, Hellinger distance): it
 *     forbids swapping two players of different kits in a crossing and,
 *     with a motion gate widening with the time lost, re-identifies a lost
 *     track when the player reappears away from where the filter drifted.
 *     Team-mates look alike, so inside a team identities rest on motion.
 *
 * Ball: IoU of two 5-pixel boxes is 0 after any motion, so the one ball
 * track takes the candidate nearest its predicted centre within a radius
 * growing with the time unseen; a confident ball elsewhere replaces it
 * while it is unseen (a false ball on a sock must not hold the track).
 *
 * Memory: every per-frame buffer (cost matrix, index lists, track pool,
 * output) is kept and grown geometrically, so a tracker in steady state
 * allocates only when its history arrays double. All room a frame needs
 * is reserved before any state changes, so a failed update leaves the
 * tracker as it was. Every loop runs in index order and the assignment
 * breaks ties by index: the same input gives the same ids.
 *
 * History: each matched box is recorded under the track's internal key;
 * ids are given at confirmation, so a confirmed track's tentative boxes
 * come out under its id in fa_tracker_finish, and tracks never confirmed
 * do not come out at all.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vision/assign.h"
#include "vision/kalman.h"
#include "vision/tracker.h"

enum { T_TENTATIVE = 0, T_TRACKED, T_LOST };
#define DIM FA_TRACK_APP_DIM

typedef struct track {
    int key;   /* internal serial: index of the key tables */
    int id;    /* public id; 0 while tentative */
    int state; /* T_* */
    int hits;
    int64_t last_step; /* step of its last match */
    int det;           /* detection matched this step, -1: none */
    fa_kalman kf;
    float pred[4];     /* predicted box this step */
    float last_box[4]; /* filtered box at its last match */
    float score;       /* score of its last match */
    float app[DIM];
    int has_app;
} track;

typedef struct hist_obs {
    int64_t frame;
    int key, det;
    float box[4];
    float score;
} hist_obs;

typedef struct ball_obs {
    float box[4];
    float score;
    int det; /* -1: unseen */
} ball_obs;

typedef struct ball_state {
    int has;
    float box[4];
    double vx, vy; /* pixels per frame number */
    int64_t last_frame;
} ball_state;

struct fa_tracker {
    fa_tracker_options o;
    int next_id;
    /* live tracks */
    track *tracks;
    size_t n_tracks, cap_tracks;
    /* history */
    int64_t *frames;
    ball_obs *balls; /* one per frame */
    size_t n_frames, cap_frames, cap_balls;
    hist_obs *hist;
    size_t n_hist, cap_hist;
    int *key_id, *key_app_n;
    float *key_app;
    size_t n_keys, cap_key_id, cap_key_n, cap_key_app;
    ball_state ball;
    /* per-frame scratch */
    int *high, *low, *cand, *used;
    size_t n_high, n_low, n_cand, cap_high, cap_low, cap_cand, cap_used;
    int *rows, *r2c, *c2r;
    size_t cap_rows, cap_r2c, cap_c2r;
    double *cost;
    size_t cap_cost;
    fa_assign_ws ws;
    fa_track_obs *out;
    size_t n_out, cap_out;
};

/* ----------------------------------------------------------------- options */

void fa_tracker_options_default(fa_tracker_options *o) {
    fa_tracker_options d = {
        .person_class = FA_COCO_PERSON,
        .ball_class = FA_COCO_SPORTS_BALL,
        .high_thresh = 0.5f,
        .low_thresh = 0.1f,
        .new_track_thresh = 0.6f,
        .match_gate = 0.8f,
        .low_match_gate = 0.5f,
        .tentative_gate = 0.7f,
        .iou_buffer = 0.3f,
        .app_weight = 0.3f,
        .app_gate = 0.5f,
        .app_momentum = 0.9f,
        .confirm_hits = 2,
        .track_buffer = 30,
        .reid_app_gate = 0.25f,
        .reid_radius = 1.5f,
        .reid_radius_per_step = 0.5f,
        .fps = 25,
        .ball_thresh = 0.2f,
        .ball_gate_px = 40,
        .ball_speed_px = 40,
        .ball_start_score = 0.5f,
        .ball_max_gap_s = 1.0,
        .interp_max_gap_s = 0.5,
        .stitch_max_gap_s = 2.0,
        .stitch_radius = 1.5f,
        .stitch_speed = 4.0f,
        .stitch_app_gate = 0.3f,
    };
    *o = d;
}

static int bad_option(const char *name, double got, const char *want) {
    return fa_err_set(FA_EINVAL, "tracker.c: option '%s': expected %s, got %g", name, want, got);
}

/* 1 when lo <= x <= hi (false for NaN). */
static int within(double x, double lo, double hi) { return x >= lo && x <= hi; }

static int check_scores(const fa_tracker_options *o) {
    if (!within(o->low_thresh, 0, 1)) return bad_option("low_thresh", o->low_thresh, "a score in [0, 1]");
    if (!within(o->high_thresh, o->low_thresh, 1))
        return bad_option("high_thresh", o->high_thresh, "a score in [low_thresh, 1]");
    if (!within(o->new_track_thresh, o->high_thresh, 1))
        return bad_option("new_track_thresh", o->new_track_thresh, "a score in [high_thresh, 1]");
    if (!within(o->ball_thresh, 0, 1)) return bad_option("ball_thresh", o->ball_thresh, "a score in [0, 1]");
    if (!within(o->ball_start_score, 0, 1))
        return bad_option("ball_start_score", o->ball_start_score, "a score in [0, 1]");
    return 0;
}

static int check_gates(const fa_tracker_options *o) {
    if (!within(o->match_gate, 1e-6, 4)) return bad_option("match_gate", o->match_gate, "a cost in (0, 4]");
    if (!within(o->low_match_gate, 1e-6, 1))
        return bad_option("low_match_gate", o->low_match_gate, "a cost in (0, 1]");
    if (!within(o->tentative_gate, 1e-6, 4))
        return bad_option("tentative_gate", o->tentative_gate, "a cost in (0, 4]");
    if (!within(o->iou_buffer, 0, 4)) return bad_option("iou_buffer", o->iou_buffer, "a fraction in [0, 4]");
    if (!within(o->app_weight, 0, 1)) return bad_option("app_weight", o->app_weight, "a weight in [0, 1]");
    if (!within(o->app_gate, 0, 1)) return bad_option("app_gate", o->app_gate, "a distance in [0, 1]");
    if (!within(o->app_momentum, 0, 1))
        return bad_option("app_momentum", o->app_momentum, "a factor in [0, 1]");
    if (!within(o->reid_app_gate, 0, 1))
        return bad_option("reid_app_gate", o->reid_app_gate, "a distance in [0, 1]");
    if (!within(o->reid_radius, 0, 1e3))
        return bad_option("reid_radius", o->reid_radius, "heights in [0, 1000]");
    if (!within(o->reid_radius_per_step, 0, 1e3))
        return bad_option("reid_radius_per_step", o->reid_radius_per_step, "heights in [0, 1000]");
    return 0;
}

static int check_life_and_time(const fa_tracker_options *o) {
    if (o->person_class < 0 || o->person_class >= FA_COCO_CLASSES)
        return bad_option("person_class", o->person_class, "a COCO class id in [0, 79]");
    if (o->ball_class < -1 || o->ball_class >= FA_COCO_CLASSES || o->ball_class == o->person_class)
        return bad_option("ball_class", o->ball_class, "-1 or a COCO class id other than person_class");
    if (o->confirm_hits < 1 || o->confirm_hits > 1000)
        return bad_option("confirm_hits", o->confirm_hits, "hits in [1, 1000]");
    if (o->track_buffer < 0 || o->track_buffer > 1000000)
        return bad_option("track_buffer", o->track_buffer, "frames in [0, 1000000]");
    if (!within(o->fps, 1e-3, 1e6)) return bad_option("fps", o->fps, "frames per second in (0, 1e6]");
    if (!within(o->ball_gate_px, 0, 1e6)) return bad_option("ball_gate_px", o->ball_gate_px, "pixels >= 0");
    if (!within(o->ball_speed_px, 0, 1e6))
        return bad_option("ball_speed_px", o->ball_speed_px, "pixels >= 0");
    if (!within(o->ball_max_gap_s, 0, 3600))
        return bad_option("ball_max_gap_s", o->ball_max_gap_s, "seconds >= 0");
    if (!within(o->interp_max_gap_s, 0, 3600))
        return bad_option("interp_max_gap_s", o->interp_max_gap_s, "seconds >= 0");
    if (!within(o->stitch_max_gap_s, 0, 3600))
        return bad_option("stitch_max_gap_s", o->stitch_max_gap_s, "seconds >= 0");
    if (!within(o->stitch_radius, 0, 1e3))
        return bad_option("stitch_radius", o->stitch_radius, "heights >= 0");
    if (!within(o->stitch_speed, 0, 1e3))
        return bad_option("stitch_speed", o->stitch_speed, "heights/s >= 0");
    if (!within(o->stitch_app_gate, 0, 1))
        return bad_option("stitch_app_gate", o->stitch_app_gate, "a distance in [0, 1]");
    return 0;
}

int fa_tracker_options_check(const fa_tracker_options *o) {
    if (!o) return fa_err_set(FA_EINVAL, "tracker.c: options: NULL");
    int rc = check_scores(o);
    if (!rc) rc = check_gates(o);
    if (!rc) rc = check_life_and_time(o);
    return rc;
}

/* -------------------------------------------------------------- appearance */

/* Histogram bin of one pixel: 8 hues (45 degrees each, centred on red, yellow-orange, ...) x 3
 * saturations, or 8 grey levels for pixels too grey or too dark for their hue to mean anything. */
static int colour_bin(int r, int g, int b) {
    int mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
    int mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
    double v = mx / 255.0, s = mx ? (double)(mx - mn) / mx : 0;
    if (s < 0.25 || v < 0.2) return 24 + (int)fmin(7, v * 8);
    double c = mx - mn, hue;
    if (mx == r)
        hue = fmod((g - b) / c + 6, 6);
    else if (mx == g)
        hue = (b - r) / c + 2;
    else
        hue = (r - g) / c + 4;
    int hb = (int)floor(hue * 8 / 6 + 0.5) % 8, sb = s < 0.5    ? 0
                                                     : s < 0.75 ? 1
                                                                : 2; /* bin 0 centred on red */
    return hb * 3 + sb;
}

/* The pixel span [*a, *b) of the real interval [lo, hi) clipped to [0, n). */
static void pixel_span(double lo, double hi, int n, int *a, int *b) {
    double fa = floor(lo), fb = ceil(hi);
    *a = fa < 0 ? 0 : fa > n ? n : (int)fa;
    *b = fb < 0 ? 0 : fb > n ? n : (int)fb;
}

int fa_track_appearance(const uint8_t *rgb, int w, int h, size_t stride, const float box[4],
                        float out[FA_TRACK_APP_DIM]) {
    memset(out, 0, DIM * sizeof *out);
    if (!rgb || w <= 0 || h <= 0 || stride < 3 * (size_t)w)
        return fa_err_set(FA_EINVAL,
                          "tracker.c: appearance: image %dx%d stride %zu: expected pixels, sides > 0, "
                          "stride >= 3 x width",
                          w, h, stride);
    for (int k = 0; k < 4; k++)
        if (!isfinite(box[k]))
            return fa_err_set(FA_EINVAL,
                              "tracker.c: appearance: box (%g, %g, %g, %g): expected finite corners", box[0],
                              box[1], box[2], box[3]);
    double bw = (double)box[2] - box[0], bh = (double)box[3] - box[1];
    if (bw <= 0 || bh <= 0) return 0;
    int x0, x1, y0, y1;
    pixel_span(box[0] + 0.25 * bw, box[2] - 0.25 * bw, w, &x0, &x1);
    pixel_span(box[1] + 0.15 * bh, box[1] + 0.50 * bh, h, &y0, &y1);
    int count = 0;
    for (int y = y0; y < y1; y++) {
        const uint8_t *p = rgb + (size_t)y * stride + 3 * (size_t)x0;
        for (int x = x0; x < x1; x++, p += 3) {
            out[colour_bin(p[0], p[1], p[2])] += 1;
            count++;
        }
    }
    for (int k = 0; k < DIM && count; k++)
        out[k] /= (float)count;
    return count;
}

float fa_track_app_distance(const float *a, const float *b) {
    double sa = 0, sb = 0, bc = 0;
    for (int k = 0; k < DIM; k++) {
        sa += a[k];
        sb += b[k];
        bc += sqrt((double)a[k] * b[k]);
    }
    if (sa <= 0 || sb <= 0) return -1;
    double d = 1 - bc / sqrt(sa * sb);
    return (float)sqrt(d > 0 ? d : 0);
}

static int app_known(const float *a) {
    for (int k = 0; k < DIM; k++)
        if (a[k] > 0) return 1;
    return 0;
}

/* ------------------------------------------------------------------ memory */

fa_tracker *fa_tracker_new(const fa_tracker_options *o) {
    fa_tracker_options d;
    if (!o) {
        fa_tracker_options_default(&d);
        o = &d;
    }
    if (fa_tracker_options_check(o)) return NULL;
    fa_tracker *t = fa_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->o = *o;
    t->next_id = 1;
    return t;
}

void fa_tracker_free(fa_tracker *t) {
    if (!t) return;
    free(t->tracks);
    free(t->frames);
    free(t->balls);
    free(t->hist);
    free(t->key_id);
    free(t->key_app_n);
    free(t->key_app);
    free(t->high);
    free(t->low);
    free(t->cand);
    free(t->used);
    free(t->rows);
    free(t->r2c);
    free(t->c2r);
    free(t->cost);
    fa_assign_ws_free(&t->ws);
    free(t->out);
    free(t);
}

/* Room for everything one frame of n detections can add. */
static int reserve_frame(fa_tracker *t, size_t n) {
    size_t nt = t->n_tracks + n; /* tracks after this frame at most; rows + columns of any matching */
    if (nt >= FA_ASSIGN_MAX)
        return fa_err_set(FA_ELIMIT, "tracker.c: %zu tracks and %zu boxes: more than %d in all", t->n_tracks,
                          n, FA_ASSIGN_MAX - 1);
    int rc = fa_grow(&t->tracks, &t->cap_tracks, nt, sizeof *t->tracks);
    rc = rc ? rc : fa_grow(&t->frames, &t->cap_frames, t->n_frames + 1, sizeof *t->frames);
    rc = rc ? rc : fa_grow(&t->balls, &t->cap_balls, t->n_frames + 1, sizeof *t->balls);
    rc = rc ? rc : fa_grow(&t->hist, &t->cap_hist, t->n_hist + nt, sizeof *t->hist);
    rc = rc ? rc : fa_grow(&t->key_id, &t->cap_key_id, t->n_keys + n, sizeof *t->key_id);
    rc = rc ? rc : fa_grow(&t->key_app_n, &t->cap_key_n, t->n_keys + n, sizeof *t->key_app_n);
    rc = rc ? rc : fa_grow(&t->key_app, &t->cap_key_app, (t->n_keys + n) * DIM, sizeof *t->key_app);
    rc = rc ? rc : fa_grow(&t->high, &t->cap_high, n + 1, sizeof *t->high);
    rc = rc ? rc : fa_grow(&t->low, &t->cap_low, n + 1, sizeof *t->low);
    rc = rc ? rc : fa_grow(&t->cand, &t->cap_cand, n + 1, sizeof *t->cand);
    rc = rc ? rc : fa_grow(&t->used, &t->cap_used, n + 1, sizeof *t->used);
    rc = rc ? rc : fa_grow(&t->rows, &t->cap_rows, nt + 1, sizeof *t->rows);
    rc = rc ? rc : fa_grow(&t->r2c, &t->cap_r2c, nt + 1, sizeof *t->r2c);
    rc = rc ? rc : fa_grow(&t->c2r, &t->cap_c2r, n + 1, sizeof *t->c2r);
    rc = rc ? rc : fa_grow(&t->cost, &t->cap_cost, t->n_tracks * n + nt + 1, sizeof *t->cost);
    rc = rc ? rc : fa_grow(&t->out, &t->cap_out, nt + 2, sizeof *t->out);
    if (rc) return fa_err_set(FA_ENOMEM, "tracker.c: out of memory for %zu tracks", nt);
    /* the assignment's scratch, grown now (a nt x 1 problem needs more than any matching of this frame:
     * tracks x boxes, rows + cols <= nt) so that solving cannot fail later */
    if (t->ws.cap < nt + 2) {
        memset(t->cost, 0, nt * sizeof *t->cost);
        if (fa_assign(&t->ws, t->cost, (int)nt, 1, 1, NULL, NULL) < 0) return FA_ENOMEM;
    }
    return 0;
}

/* ------------------------------------------------------------------ input */

static int check_detection(int64_t frame, size_t i, const fa_detection *d) {
    const float *b = d->box;
    int ok =
        isfinite(b[0]) && isfinite(b[1]) && isfinite(b[2]) && isfinite(b[3]) && b[0] < b[2] && b[1] < b[3];
    if (!ok)
        return fa_err_set(
            FA_EINVAL,
            "tracker.c: frame %lld: detection %zu: box (%g, %g, %g, %g): expected finite corners "
            "with x1 < x2, y1 < y2",
            (long long)frame, i, b[0], b[1], b[2], b[3]);
    if (!within(d->score, 0, 1))
        return fa_err_set(FA_EINVAL,
                          "tracker.c: frame %lld: detection %zu: score %g: expected a score in [0, 1]",
                          (long long)frame, i, d->score);
    return 0;
}

static int check_app_row(int64_t frame, size_t i, const float *a) {
    for (int k = 0; k < DIM; k++)
        if (!(a[k] >= 0) || !isfinite(a[k]))
            return fa_err_set(FA_EINVAL,
                              "tracker.c: frame %lld: detection %zu: appearance[%d] = %g: expected a finite "
                              "value >= 0",
                              (long long)frame, i, k, a[k]);
    return 0;
}

static int tracked_class(const fa_tracker *t, int cls) {
    return cls == t->o.person_class || (t->o.ball_class >= 0 && cls == t->o.ball_class);
}

static int check_input(const fa_tracker *t, int64_t frame, const fa_detection *dets, size_t n,
                       const float *app) {
    if (t->n_frames && frame <= t->frames[t->n_frames - 1])
        return fa_err_set(FA_EINVAL, "tracker.c: frame %lld: expected a frame after %lld", (long long)frame,
                          (long long)t->frames[t->n_frames - 1]);
    if (n && !dets)
        return fa_err_set(FA_EINVAL, "tracker.c: frame %lld: %zu detections: NULL", (long long)frame, n);
    for (size_t i = 0; i < n; i++) {
        if (!tracked_class(t, dets[i].class_id)) continue;
        int rc = check_detection(frame, i, &dets[i]);
        if (!rc && app) rc = check_app_row(frame, i, app + i * DIM);
        if (rc) return rc;
    }
    return 0;
}

/* Sorts this frame's boxes into high and low persons and ball candidates. */
static void split_detections(fa_tracker *t, const fa_detection *dets, size_t n) {
    t->n_high = t->n_low = t->n_cand = 0;
    for (size_t i = 0; i < n; i++) {
        const fa_detection *d = &dets[i];
        t->used[i] = 0;
        if (d->class_id == t->o.person_class) {
            if (d->score >= t->o.high_thresh)
                t->high[t->n_high++] = (int)i;
            else if (d->score >= t->o.low_thresh)
                t->low[t->n_low++] = (int)i;
        } else if (t->o.ball_class >= 0 && d->class_id == t->o.ball_class && d->score >= t->o.ball_thresh) {
            t->cand[t->n_cand++] = (int)i;
        }
    }
}

/* ------------------------------------------------------------ association */

/* IoU of a and b, each grown by buffer x its size on every side. */
static float buffered_iou(const float *a, const float *b, float buffer) {
    float ga[4], gb[4];
    float aw = (a[2] - a[0]) * buffer, ah = (a[3] - a[1]) * buffer;
    float bw = (b[2] - b[0]) * buffer, bh = (b[3] - b[1]) * buffer;
    ga[0] = a[0] - aw, ga[1] = a[1] - ah, ga[2] = a[2] + aw, ga[3] = a[3] + ah;
    gb[0] = b[0] - bw, gb[1] = b[1] - bh, gb[2] = b[2] + bw, gb[3] = b[3] + bh;
    return fa_box_iou(ga, gb);
}

typedef enum { COST_FIRST, COST_LOW, COST_REID } cost_kind;

typedef struct frame_in {
    const fa_detection *dets;
    const float *app; /* NULL: none */
    int64_t step;
} frame_in;

static const float *det_app(const frame_in *in, int d) {
    if (!in->app) return NULL;
    const float *a = in->app + (size_t)d * DIM;
    return app_known(a) ? a : NULL;
}

/* Appearance distance of a track and a detection; -1 when either is unknown. */
static float pair_app_distance(const track *tr, const frame_in *in, int d) {
    const float *a = det_app(in, d);
    return a && tr->has_app ? fa_track_app_distance(tr->app, a) : -1;
}

static double cost_first(const fa_tracker *t, const track *tr, const frame_in *in, int d) {
    const fa_detection *det = &in->dets[d];
    float iou = buffered_iou(tr->pred, det->box, t->o.iou_buffer);
    if (iou <= 0) return NAN;
    double c = 1 - (double)iou * det->score;
    float da = pair_app_distance(tr, in, d);
    if (da >= 0) {
        if (da > t->o.app_gate) return NAN;
        c += t->o.app_weight * da;
    }
    return c;
}

static double cost_low(const fa_tracker *t, const track *tr, const frame_in *in, int d) {
    float iou = buffered_iou(tr->pred, in->dets[d].box, t->o.iou_buffer);
    return iou > 0 ? 1 - (double)iou : NAN;
}

static double cost_reid(const fa_tracker *t, const track *tr, const frame_in *in, int d) {
    float da = pair_app_distance(tr, in, d);
    if (da < 0 || da > t->o.reid_app_gate) return NAN;
    const float *a = tr->last_box, *b = in->dets[d].box;
    double dx = (a[0] + a[2] - b[0] - b[2]) / 2.0, dy = (a[1] + a[3] - b[1] - b[3]) / 2.0;
    double lost = (double)(in->step - tr->last_step);
    double radius = (a[3] - a[1]) * (t->o.reid_radius + t->o.reid_radius_per_step * lost);
    return sqrt(dx * dx + dy * dy) <= radius ? da : NAN;
}

static double pair_cost(const fa_tracker *t, cost_kind kind, const track *tr, const frame_in *in, int d) {
    switch (kind) {
    case COST_FIRST: return cost_first(t, tr, in, d);
    case COST_LOW: return cost_low(t, tr, in, d);
    default: return cost_reid(t, tr, in, d);
    }
}

/* Matches the tracks t->rows[0..nr) with the unused detections in cols[0..nc)
 * at gate; afterwards t->r2c[i] is the matched column index or -1. */
static void match(fa_tracker *t, int nr, const int *cols, int nc, cost_kind kind, double gate,
                  const frame_in *in) {
    for (int i = 0; i < nr; i++) {
        const track *tr = &t->tracks[t->rows[i]];
        for (int j = 0; j < nc; j++) {
            int d = cols[j];
            t->cost[(size_t)i * nc + j] = t->used[d] ? NAN : pair_cost(t, kind, tr, in, d);
        }
    }
    /* sizes were reserved, scratch grown: cannot fail */
    if (fa_assign(&t->ws, t->cost, nr, nc, gate, t->r2c, t->c2r) < 0)
        for (int i = 0; i < nr; i++)
            t->r2c[i] = -1;
}

/* Track index list of the tracks in the given states (bit mask of 1 << state). */
static int select_tracks(fa_tracker *t, unsigned states, int unmatched_only) {
    int n = 0;
    for (size_t i = 0; i < t->n_tracks; i++) {
        const track *tr = &t->tracks[i];
        if (!(states >> tr->state & 1u)) continue;
        if (unmatched_only && tr->det >= 0) continue;
        t->rows[n++] = (int)i;
    }
    return n;
}

static void blend_appearance(fa_tracker *t, track *tr, const float *a) {
    float m = tr->has_app ? t->o.app_momentum : 0;
    for (int k = 0; k < DIM; k++)
        tr->app[k] = m * tr->app[k] + (1 - m) * a[k];
    tr->has_app = 1;
    float *sum = t->key_app + (size_t)tr->key * DIM;
    for (int k = 0; k < DIM; k++)
        sum[k] += a[k];
    t->key_app_n[tr->key]++;
}

static void confirm(fa_tracker *t, track *tr) {
    tr->state = T_TRACKED;
    tr->id = t->next_id++;
    t->key_id[tr->key] = tr->id;
}

/* Applies a match of track tr with detection d (reinit: restart the filter there). */
static void apply_match(fa_tracker *t, track *tr, const frame_in *in, int d, int reinit) {
    const fa_detection *det = &in->dets[d];
    double z[4];
    fa_kalman_measure(det->box, z);
    if (reinit)
        fa_kalman_init(&tr->kf, z);
    else
        fa_kalman_update(&tr->kf, z);
    fa_kalman_box(&tr->kf, tr->last_box);
    tr->det = d;
    tr->score = det->score;
    tr->hits++;
    tr->last_step = in->step;
    t->used[d] = 1;
    const float *a = det_app(in, d);
    if (a && det->score >= t->o.high_thresh) blend_appearance(t, tr, a);
    if (tr->state == T_LOST)
        tr->state = T_TRACKED;
    else if (tr->state == T_TENTATIVE && tr->hits >= t->o.confirm_hits)
        confirm(t, tr);
}

static void associate(fa_tracker *t, int nr, const int *cols, int nc, cost_kind kind, double gate,
                      const frame_in *in) {
    if (!nr || !nc) return;
    match(t, nr, cols, nc, kind, gate, in);
    for (int i = 0; i < nr; i++)
        if (t->r2c[i] >= 0) apply_match(t, &t->tracks[t->rows[i]], in, cols[t->r2c[i]], kind == COST_REID);
}

static void predict_all(fa_tracker *t) {
    for (size_t i = 0; i < t->n_tracks; i++) {
        track *tr = &t->tracks[i];
        if (tr->state == T_LOST) tr->kf.v[3] = 0; /* ByteTrack: a lost box keeps its size */
        fa_kalman_predict(&tr->kf);
        fa_kalman_box(&tr->kf, tr->pred);
        tr->det = -1;
    }
}

static void mark_lost(fa_tracker *t) {
    for (size_t i = 0; i < t->n_tracks; i++)
        if (t->tracks[i].state == T_TRACKED && t->tracks[i].det < 0) t->tracks[i].state = T_LOST;
}

/* Drops unmatched tentative tracks and lost tracks older than the buffer, keeping the order. */
static void prune_tracks(fa_tracker *t, int64_t step) {
    size_t k = 0;
    for (size_t i = 0; i < t->n_tracks; i++) {
        const track *tr = &t->tracks[i];
        if (tr->state == T_TENTATIVE && tr->det < 0) continue;
        if (tr->state == T_LOST && step - tr->last_step > t->o.track_buffer) continue;
        t->tracks[k++] = *tr;
    }
    t->n_tracks = k;
}

static void start_track(fa_tracker *t, const frame_in *in, int d) {
    track *tr = &t->tracks[t->n_tracks++];
    memset(tr, 0, sizeof *tr);
    tr->key = (int)t->n_keys++;
    t->key_id[tr->key] = 0;
    t->key_app_n[tr->key] = 0;
    memset(t->key_app + (size_t)tr->key * DIM, 0, DIM * sizeof(float));
    tr->state = T_TENTATIVE;
    apply_match(t, tr, in, d, 1);
}

static void start_tracks(fa_tracker *t, const frame_in *in) {
    for (size_t j = 0; j < t->n_high; j++) {
        int d = t->high[j];
        if (!t->used[d] && in->dets[d].score >= t->o.new_track_thresh) start_track(t, in, d);
    }
}

static void associate_players(fa_tracker *t, const frame_in *in) {
    const fa_tracker_options *o = &t->o;
    int nr = select_tracks(t, 1u << T_TRACKED | 1u << T_LOST, 0);
    associate(t, nr, t->high, (int)t->n_high, COST_FIRST, o->match_gate, in);
    nr = select_tracks(t, 1u << T_TRACKED, 1);
    associate(t, nr, t->low, (int)t->n_low, COST_LOW, o->low_match_gate, in);
    mark_lost(t);
    nr = select_tracks(t, 1u << T_TENTATIVE, 1);
    associate(t, nr, t->high, (int)t->n_high, COST_FIRST, o->tentative_gate, in);
    /* a lost track has no det this frame, except those matched above: the unmatched ones only */
    nr = select_tracks(t, 1u << T_LOST, 1);
    associate(t, nr, t->high, (int)t->n_high, COST_REID, o->reid_app_gate, in);
    prune_tracks(t, in->step);
    start_tracks(t, in);
}

/* ------------------------------------------------------------------- ball */

static void box_centre(const float *b, double *x, double *y) {
    *x = ((double)b[0] + b[2]) / 2;
    *y = ((double)b[1] + b[3]) / 2;
}

/* The candidate nearest the ball's predicted centre inside the gate, or -1. */
static int ball_in_gate(const fa_tracker *t, const fa_detection *dets, int64_t frame) {
    const ball_state *b = &t->ball;
    double dt = (double)(frame - b->last_frame), px, py, best_d = HUGE_VAL;
    box_centre(b->box, &px, &py);
    px += b->vx * dt;
    py += b->vy * dt;
    double radius = t->o.ball_gate_px + t->o.ball_speed_px * dt;
    int best = -1;
    for (size_t j = 0; j < t->n_cand; j++) {
        double x, y;
        box_centre(dets[t->cand[j]].box, &x, &y);
        double d = hypot(x - px, y - py);
        if (d <= radius && d < best_d) best_d = d, best = t->cand[j];
    }
    return best;
}

/* The best-scoring candidate at least min_score, or -1. */
static int ball_best_score(const fa_tracker *t, const fa_detection *dets, float min_score) {
    int best = -1;
    for (size_t j = 0; j < t->n_cand; j++) {
        int d = t->cand[j];
        if (dets[d].score >= min_score && (best < 0 || dets[d].score > dets[best].score)) best = d;
    }
    return best;
}

static void ball_take(ball_state *b, const fa_detection *det, int64_t frame, int continued) {
    if (continued) {
        double x0, y0, x1, y1, dt = (double)(frame - b->last_frame);
        box_centre(b->box, &x0, &y0);
        box_centre(det->box, &x1, &y1);
        b->vx = 0.5 * b->vx + 0.5 * (x1 - x0) / dt;
        b->vy = 0.5 * b->vy + 0.5 * (y1 - y0) / dt;
    } else {
        b->vx = b->vy = 0;
    }
    memcpy(b->box, det->box, sizeof b->box);
    b->last_frame = frame;
    b->has = 1;
}

static void track_ball(fa_tracker *t, const fa_detection *dets, int64_t frame, ball_obs *rec) {
    ball_state *b = &t->ball;
    int pick = -1, continued = 0;
    memset(rec, 0, sizeof *rec);
    rec->det = -1;
    if (t->o.ball_class < 0) return;
    if (b->has) {
        pick = ball_in_gate(t, dets, frame);
        continued = pick >= 0;
        if (pick < 0) pick = ball_best_score(t, dets, t->o.ball_start_score);
        if (pick < 0 && (double)(frame - b->last_frame) >= t->o.ball_max_gap_s * t->o.fps) b->has = 0;
    }
    if (!b->has) pick = ball_best_score(t, dets, t->o.ball_start_score);
    if (pick < 0) return;
    ball_take(b, &dets[pick], frame, continued);
    memcpy(rec->box, dets[pick].box, sizeof rec->box);
    rec->score = dets[pick].score;
    rec->det = pick;
}

/* ----------------------------------------------------------------- update */

static int obs_by_frame_id(const void *pa, const void *pb) {
    const fa_track_obs *a = pa, *b = pb;
    if (a->frame != b->frame) return a->frame < b->frame ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Orders a frame's output by id: insertion sort, as the tracks are kept in birth order and ids follow
 * confirmation order, so the list is nearly sorted already (and qsort may allocate). */
static void sort_out(fa_track_obs *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        fa_track_obs x = v[i];
        size_t j = i;
        for (; j > 0 && obs_by_frame_id(&v[j - 1], &x) > 0; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

static void record_frame(fa_tracker *t, int64_t frame, const ball_obs *ball) {
    t->n_out = 0;
    for (size_t i = 0; i < t->n_tracks; i++) {
        const track *tr = &t->tracks[i];
        if (tr->det < 0) continue;
        hist_obs *h = &t->hist[t->n_hist++];
        h->frame = frame;
        h->key = tr->key;
        h->det = tr->det;
        memcpy(h->box, tr->last_box, sizeof h->box);
        h->score = tr->score;
        if (!tr->id) continue;
        fa_track_obs *o = &t->out[t->n_out++];
        *o = (fa_track_obs){frame, tr->id, tr->det, {0}, tr->score, 0};
        memcpy(o->box, tr->last_box, sizeof o->box);
    }
    if (ball->det >= 0) {
        fa_track_obs *o = &t->out[t->n_out++];
        *o = (fa_track_obs){frame, FA_TRACK_BALL_ID, ball->det, {0}, ball->score, 0};
        memcpy(o->box, ball->box, sizeof o->box);
    }
    sort_out(t->out, t->n_out);
}

int fa_tracker_update(fa_tracker *t, int64_t frame, const fa_detection *dets, size_t n, const float *app,
                      const fa_track_obs **out, size_t *n_out) {
    int rc = check_input(t, frame, dets, n, app);
    if (!rc) rc = reserve_frame(t, n);
    if (rc) return rc;
    frame_in in = {dets, app, (int64_t)t->n_frames};
    split_detections(t, dets, n);
    predict_all(t);
    associate_players(t, &in);
    ball_obs *ball = &t->balls[t->n_frames];
    track_ball(t, dets, frame, ball);
    t->frames[t->n_frames++] = frame;
    record_frame(t, frame, ball);
    if (out) *out = t->out;
    if (n_out) *n_out = t->n_out;
    return 0;
}

/* ----------------------------------------------------------------- results */

void fa_track_result_free(fa_track_result *r) {
    if (!r) return;
    free(r->frames);
    free(r->obs);
    free(r->tracks);
    memset(r, 0, sizeof *r);
}

static int alloc_result(fa_track_result *r, size_t n_frames, size_t n_obs, size_t n_tracks) {
    r->frames = fa_malloc((n_frames + 1) * sizeof *r->frames);
    r->obs = fa_malloc((n_obs + 1) * sizeof *r->obs);
    r->tracks = fa_calloc(n_tracks + 1, sizeof *r->tracks);
    if (r->frames && r->obs && r->tracks) return 0;
    fa_track_result_free(r);
    return fa_err_set(FA_ENOMEM, "tracker.c: out of memory for %zu observations", n_obs);
}

/* Tracklet summaries from the key tables: tracks[id - 1] for each confirmed key. */
static void export_tracklets(const fa_tracker *t, fa_track_result *r) {
    r->n_tracks = (size_t)(t->next_id - 1);
    for (size_t k = 0; k < t->n_keys; k++) {
        int id = t->key_id[k], n = t->key_app_n[k];
        if (!id) continue;
        fa_tracklet *tl = &r->tracks[id - 1];
        tl->id = id;
        tl->first = INT64_MAX;
        tl->last = INT64_MIN;
        for (int j = 0; j < DIM && n; j++)
            tl->app[j] = t->key_app[k * DIM + j] / (float)n;
    }
}

static void export_obs(const fa_tracker *t, fa_track_result *r) {
    for (size_t i = 0; i < t->n_hist; i++) {
        const hist_obs *h = &t->hist[i];
        int id = t->key_id[h->key];
        if (!id) continue;
        fa_track_obs *o = &r->obs[r->n_obs++];
        *o = (fa_track_obs){h->frame, id, h->det, {0}, h->score, 0};
        memcpy(o->box, h->box, sizeof o->box);
        fa_tracklet *tl = &r->tracks[id - 1];
        if (h->frame < tl->first) tl->first = h->frame;
        if (h->frame > tl->last) tl->last = h->frame;
        tl->hits++;
    }
    for (size_t s = 0; s < t->n_frames && t->o.ball_class >= 0; s++) {
        const ball_obs *b = &t->balls[s];
        fa_track_obs *o = &r->obs[r->n_obs++];
        *o = (fa_track_obs){t->frames[s], FA_TRACK_BALL_ID, b->det, {0}, b->score, 0};
        if (b->det >= 0)
            memcpy(o->box, b->box, sizeof o->box);
        else
            o->flags = FA_TRACK_UNSEEN;
    }
}

int fa_tracker_finish(fa_tracker *t, fa_track_result *r) {
    memset(r, 0, sizeof *r);
    size_t n_obs = t->n_frames;
    for (size_t i = 0; i < t->n_hist; i++)
        n_obs += t->key_id[t->hist[i].key] != 0;
    int rc = alloc_result(r, t->n_frames, n_obs, (size_t)(t->next_id - 1));
    if (rc) return rc;
    if (t->n_frames) memcpy(r->frames, t->frames, t->n_frames * sizeof *r->frames);
    r->n_frames = t->n_frames;
    export_tracklets(t, r);
    export_obs(t, r);
    qsort(r->obs, r->n_obs, sizeof *r->obs, obs_by_frame_id);
    rc = fa_tracks_stitch(r, &t->o);
    if (!rc) rc = fa_tracks_fill_gaps(r, &t->o);
    if (rc) fa_track_result_free(r);
    return rc;
}

/* Index of the tracklet with this id (tracks sorted by id), or -1. */
static long find_tracklet(const fa_track_result *r, int id) {
    size_t lo = 0, hi = r->n_tracks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->tracks[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n_tracks && r->tracks[lo].id == id ? (long)lo : -1;
}

/* Index of frame f in r->frames, or -1. */
static long find_frame(const fa_track_result *r, int64_t f) {
    size_t lo = 0, hi = r->n_frames;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->frames[mid] < f)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n_frames && r->frames[lo] == f ? (long)lo : -1;
}

/* ---------------------------------------------------------------- stitching */

typedef struct stitch_edge {
    int a, b; /* tracklet indices: a ends, b starts later */
    int root; /* component */
    double cost;
} stitch_edge;

typedef struct stitch_ctx {
    const fa_track_result *r;
    const fa_tracker_options *o;
    float (*first_box)[4], (*last_box)[4];
    int *order;  /* tracklet indices by first frame */
    int *parent; /* union-find over 2 x nt nodes: rows a, then columns nt + b */
    int *prev;   /* prev[b] = a joined before b, or -1 */
    stitch_edge *edges;
    size_t n_edges, cap_edges;
} stitch_ctx;

static void stitch_boxes(stitch_ctx *c) {
    const fa_track_result *r = c->r;
    for (size_t i = 0; i < r->n_obs; i++) {
        const fa_track_obs *ob = &r->obs[i];
        long k = ob->id == FA_TRACK_BALL_ID ? -1 : find_tracklet(r, ob->id);
        if (k < 0) continue;
        if (ob->frame == r->tracks[k].first) memcpy(c->first_box[k], ob->box, sizeof ob->box);
        if (ob->frame == r->tracks[k].last) memcpy(c->last_box[k], ob->box, sizeof ob->box);
    }
}

/* Cost of joining the end of a to the start of b: NaN when a gate fails. */
static double stitch_cost(const stitch_ctx *c, int a, int b) {
    const fa_tracklet *ta = &c->r->tracks[a], *tb = &c->r->tracks[b];
    const float *ea = c->last_box[a], *sb = c->first_box[b];
    double gap_s = (double)(tb->first - ta->last) / c->o->fps;
    if (tb->first <= ta->last || gap_s > c->o->stitch_max_gap_s) return NAN;
    double ha = (double)ea[3] - ea[1], hb = (double)sb[3] - sb[1];
    if (ha <= 0 || hb <= 0 || ha > 1.5 * hb || hb > 1.5 * ha) return NAN;
    double dx = ((double)ea[0] + ea[2] - sb[0] - sb[2]) / 2, dy = ((double)ea[1] + ea[3] - sb[1] - sb[3]) / 2;
    double radius = (ha + hb) / 2 * (c->o->stitch_radius + c->o->stitch_speed * gap_s);
    double d = sqrt(dx * dx + dy * dy);
    if (d > radius) return NAN;
    float da = fa_track_app_distance(ta->app, tb->app);
    if (da > c->o->stitch_app_gate) return NAN;
    return (radius > 0 ? d / radius : 0) + (da > 0 ? da : 0);
}

static int uf_root(int *parent, int x) {
    while (parent[x] != x)
        x = parent[x] = parent[parent[x]];
    return x;
}

static int cmp_first(const void *pa, const void *pb, const fa_track_result *r) {
    const fa_tracklet *a = &r->tracks[*(const int *)pa], *b = &r->tracks[*(const int *)pb];
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Insertion sort by first frame: ids are given a few frames after a track's first box, so the id order is
 * nearly this order already and the sort is close to linear. */
static void sort_by_first(int *order, size_t n, const fa_track_result *r) {
    for (size_t i = 1; i < n; i++) {
        int x = order[i];
        size_t j = i;
        while (j > 0 && cmp_first(&order[j - 1], &x, r) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
}

static int add_edge(stitch_ctx *c, int a, int b, double cost) {
    if (fa_grow(&c->edges, &c->cap_edges, c->n_edges + 1, sizeof *c->edges)) return FA_ENOMEM;
    c->edges[c->n_edges++] = (stitch_edge){a, b, 0, cost};
    int nt = (int)c->r->n_tracks, ra = uf_root(c->parent, a), rb = uf_root(c->parent, nt + b);
    if (ra != rb) c->parent[ra > rb ? ra : rb] = ra < rb ? ra : rb;
    return 0;
}

/* Candidate pairs: for each a, the tracklets starting within the gap after a's end. */
static int stitch_edges(stitch_ctx *c) {
    const fa_track_result *r = c->r;
    size_t nt = r->n_tracks;
    double max_gap = c->o->stitch_max_gap_s * c->o->fps;
    for (size_t a = 0; a < nt; a++) {
        size_t lo = 0, hi = nt;
        while (lo < hi) { /* first in order starting after a's end */
            size_t mid = (lo + hi) / 2;
            if (r->tracks[c->order[mid]].first <= r->tracks[a].last)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t j = lo; j < nt && (double)(r->tracks[c->order[j]].first - r->tracks[a].last) <= max_gap;
             j++) {
            int b = c->order[j];
            double cost = stitch_cost(c, (int)a, b);
            if (!isnan(cost) && add_edge(c, (int)a, b, cost)) return FA_ENOMEM;
        }
    }
    return 0;
}

static int cmp_edge(const void *pa, const void *pb) {
    const stitch_edge *a = pa, *b = pb;
    if (a->root != b->root) return a->root - b->root;
    if (a->a != b->a) return a->a - b->a;
    return a->b - b->b;
}

/* Solves one component's edges e[0..n) as a small dense assignment. */
static int stitch_component(stitch_ctx *c, const stitch_edge *e, size_t n, int *row_of, int *col_of,
                            fa_assign_ws *ws) {
    int nr = 0, nc = 0;
    int *rows = fa_malloc(2 * n * sizeof *rows);
    if (!rows) return FA_ENOMEM;
    int *cols = rows + n;
    for (size_t i = 0; i < n; i++) {
        if (row_of[e[i].a] < 0) rows[nr] = e[i].a, row_of[e[i].a] = nr++;
        if (col_of[e[i].b] < 0) cols[nc] = e[i].b, col_of[e[i].b] = nc++;
    }
    int rc = 0;
    if (nr + nc <= FA_ASSIGN_MAX / 4) { /* a larger tangle is left unstitched */
        double *m = fa_malloc((size_t)nr * nc * sizeof *m);
        int *r2c = fa_malloc((size_t)nr * sizeof *r2c);
        rc = m && r2c ? 0 : FA_ENOMEM;
        for (size_t k = 0; !rc && k < (size_t)nr * nc; k++)
            m[k] = NAN;
        for (size_t i = 0; !rc && i < n; i++)
            m[(size_t)row_of[e[i].a] * nc + col_of[e[i].b]] = e[i].cost;
        if (!rc && fa_assign(ws, m, nr, nc, 2.5, r2c, NULL) < 0) rc = FA_ENOMEM;
        for (int i = 0; !rc && i < nr; i++)
            if (r2c[i] >= 0) c->prev[cols[r2c[i]]] = rows[i];
        free(m);
        free(r2c);
    }
    for (int i = 0; i < nr; i++)
        row_of[rows[i]] = -1;
    for (int i = 0; i < nc; i++)
        col_of[cols[i]] = -1;
    free(rows);
    return rc;
}

static int stitch_solve(stitch_ctx *c) {
    size_t nt = c->r->n_tracks;
    if (!c->n_edges) return 0;
    for (size_t i = 0; i < c->n_edges; i++)
        c->edges[i].root = uf_root(c->parent, c->edges[i].a);
    qsort(c->edges, c->n_edges, sizeof *c->edges, cmp_edge);
    int *row_of = fa_malloc(2 * nt * sizeof *row_of);
    if (!row_of) return FA_ENOMEM;
    int *col_of = row_of + nt;
    for (size_t i = 0; i < 2 * nt; i++)
        row_of[i] = -1;
    fa_assign_ws ws = {0};
    int rc = 0;
    for (size_t i = 0, j; !rc && i < c->n_edges; i = j) {
        for (j = i; j < c->n_edges && c->edges[j].root == c->edges[i].root; j++) {
        }
        rc = stitch_component(c, c->edges + i, j - i, row_of, col_of, &ws);
    }
    fa_assign_ws_free(&ws);
    free(row_of);
    return rc;
}

static int cmp_obs_ptr(const void *pa, const void *pb) { return obs_by_frame_id(pa, pb); }

/* Relabels chains a -> b -> ... with the head's id and merges their summaries. */
static void stitch_apply(stitch_ctx *c, fa_track_result *r) {
    size_t nt = r->n_tracks;
    int *head = c->parent; /* reused: head tracklet of each */
    for (size_t k = 0; k < nt; k++) {
        int b = c->order[k], a = c->prev[b];
        head[b] = a >= 0 ? head[a] : b;
        if (a < 0) continue;
        fa_tracklet *h = &r->tracks[head[b]], *tb = &r->tracks[b];
        float wh = (float)h->hits, wb = (float)tb->hits;
        for (int j = 0; j < DIM && wh + wb > 0; j++)
            h->app[j] = (h->app[j] * wh + tb->app[j] * wb) / (wh + wb);
        h->last = tb->last;
        h->hits += tb->hits;
    }
    for (size_t i = 0; i < r->n_obs; i++) {
        fa_track_obs *ob = &r->obs[i];
        long k = ob->id == FA_TRACK_BALL_ID ? -1 : find_tracklet(r, ob->id);
        if (k >= 0) ob->id = r->tracks[head[k]].id;
    }
    size_t kept = 0;
    for (size_t k = 0; k < nt; k++)
        if (head[k] == (int)k) r->tracks[kept++] = r->tracks[k];
    r->n_tracks = kept;
    qsort(r->obs, r->n_obs, sizeof *r->obs, cmp_obs_ptr);
}

static void stitch_free(stitch_ctx *c) {
    free(c->first_box);
    free(c->last_box);
    free(c->order);
    free(c->parent);
    free(c->prev);
    free(c->edges);
}

int fa_tracks_stitch(fa_track_result *r, const fa_tracker_options *o) {
    int rc = fa_tracker_options_check(o);
    if (rc || o->stitch_max_gap_s <= 0 || r->n_tracks < 2) return rc;
    size_t nt = r->n_tracks;
    stitch_ctx c = {r,
                    o,
                    fa_calloc(nt, sizeof *c.first_box),
                    fa_calloc(nt, sizeof *c.last_box),
                    fa_malloc(nt * sizeof(int)),
                    fa_malloc(2 * nt * sizeof(int)),
                    fa_malloc(nt * sizeof(int)),
                    NULL,
                    0,
                    0};
    if (!c.first_box || !c.last_box || !c.order || !c.parent || !c.prev) rc = FA_ENOMEM;
    for (size_t i = 0; !rc && i < nt; i++) {
        c.order[i] = (int)i;
        c.prev[i] = -1;
        c.parent[i] = (int)i;
        c.parent[nt + i] = (int)(nt + i);
    }
    if (!rc) {
        sort_by_first(c.order, nt, r);
        stitch_boxes(&c);
        rc = stitch_edges(&c);
    }
    if (!rc) rc = stitch_solve(&c);
    if (!rc) stitch_apply(&c, r);
    stitch_free(&c);
    return rc ? fa_err_set(FA_ENOMEM, "tracker.c: stitching %zu tracklets: out of memory", nt) : 0;
}

/* --------------------------------------------------------------- gap filling */

typedef struct obs_ref {
    int id;
    int64_t frame;
    size_t i; /* index in r->obs */
} obs_ref;

static int cmp_ref(const void *pa, const void *pb) {
    const obs_ref *a = pa, *b = pb;
    if (a->id != b->id) return (a->id > b->id) - (a->id < b->id);
    return a->frame < b->frame ? -1 : a->frame > b->frame;
}

static void lerp_box(const float *a, const float *b, double w, float *out) {
    for (int k = 0; k < 4; k++)
        out[k] = (float)(a[k] + (b[k] - a[k]) * w);
}

/* Processed frames strictly between obs p and q (p before q), 0 when either frame is unknown. */
static long frames_between(const fa_track_result *r, const fa_track_obs *p, const fa_track_obs *q,
                           long *first) {
    long fp = find_frame(r, p->frame), fq = find_frame(r, q->frame);
    *first = fp + 1;
    return fp >= 0 && fq > fp ? fq - fp - 1 : 0;
}

/* Walks the players' consecutive observations; with out NULL counts the boxes to add, else writes them. */
static size_t player_gaps(const fa_track_result *r, const obs_ref *refs, size_t n, double max_frames,
                          fa_track_obs *out) {
    size_t added = 0;
    for (size_t k = 1; k < n; k++) {
        if (refs[k].id != refs[k - 1].id || refs[k].id == FA_TRACK_BALL_ID) continue;
        const fa_track_obs *p = &r->obs[refs[k - 1].i], *q = &r->obs[refs[k].i];
        long first, between = frames_between(r, p, q, &first);
        if (!between || (double)(q->frame - p->frame) > max_frames) continue;
        for (long f = first; out && f < first + between; f++) {
            fa_track_obs *o = &out[added + (size_t)(f - first)];
            *o = (fa_track_obs){r->frames[f], p->id, -1, {0}, 0, FA_TRACK_INTERPOLATED};
            lerp_box(p->box, q->box, (double)(r->frames[f] - p->frame) / (double)(q->frame - p->frame),
                     o->box);
        }
        added += (size_t)between;
    }
    return added;
}

static int fill_players(fa_track_result *r, const fa_tracker_options *o) {
    if (o->interp_max_gap_s <= 0 || !r->n_obs) return 0;
    obs_ref *refs = fa_malloc(r->n_obs * sizeof *refs);
    if (!refs) return FA_ENOMEM;
    for (size_t i = 0; i < r->n_obs; i++)
        refs[i] = (obs_ref){r->obs[i].id, r->obs[i].frame, i};
    qsort(refs, r->n_obs, sizeof *refs, cmp_ref);
    double max_frames = o->interp_max_gap_s * o->fps;
    size_t add = player_gaps(r, refs, r->n_obs, max_frames, NULL);
    int rc = 0;
    if (add) {
        fa_track_obs *obs = fa_realloc(r->obs, (r->n_obs + add) * sizeof *obs);
        if (obs) {
            r->obs = obs;
            player_gaps(r, refs, r->n_obs, max_frames, obs + r->n_obs);
            r->n_obs += add;
            qsort(r->obs, r->n_obs, sizeof *r->obs, cmp_obs_ptr);
        } else {
            rc = FA_ENOMEM;
        }
    }
    free(refs);
    return rc;
}

/* Fills the ball's unseen observations between two seen ones less than max_frames apart. */
static void fill_ball(fa_track_result *r, double max_frames) {
    long prev = -1; /* last ball observation with a box */
    for (size_t i = 0; i < r->n_obs; i++) {
        const fa_track_obs *q = &r->obs[i];
        if (q->id != FA_TRACK_BALL_ID || (q->flags & FA_TRACK_UNSEEN)) continue;
        const fa_track_obs *p = prev >= 0 ? &r->obs[prev] : NULL;
        if (p && (double)(q->frame - p->frame) < max_frames) {
            for (size_t k = (size_t)prev + 1; k < i; k++) {
                fa_track_obs *u = &r->obs[k];
                if (u->id != FA_TRACK_BALL_ID || !(u->flags & FA_TRACK_UNSEEN)) continue;
                lerp_box(p->box, q->box, (double)(u->frame - p->frame) / (double)(q->frame - p->frame),
                         u->box);
                u->flags = FA_TRACK_INTERPOLATED;
                u->det = -1;
                u->score = 0;
            }
        }
        prev = (long)i;
    }
}

int fa_tracks_fill_gaps(fa_track_result *r, const fa_tracker_options *o) {
    int rc = fa_tracker_options_check(o);
    if (rc) return rc;
    fill_ball(r, o->ball_max_gap_s * o->fps);
    if (fill_players(r, o)) return fa_err_set(FA_ENOMEM, "tracker.c: filling gaps: out of memory");
    return 0;
}

/* ------------------------------------------------------------------ append */

int fa_track_result_append(fa_track_result *dst, const fa_track_result *src) {
    if (dst->n_frames && src->n_frames && src->frames[0] <= dst->frames[dst->n_frames - 1])
        return fa_err_set(FA_EINVAL, "tracker.c: appending results: first frame %lld is not after %lld",
                          (long long)src->frames[0], (long long)dst->frames[dst->n_frames - 1]);
    int shift = dst->n_tracks ? dst->tracks[dst->n_tracks - 1].id : 0;
    int64_t *frames = fa_realloc(dst->frames, (dst->n_frames + src->n_frames + 1) * sizeof *frames);
    if (frames) dst->frames = frames;
    fa_track_obs *obs = frames ? fa_realloc(dst->obs, (dst->n_obs + src->n_obs + 1) * sizeof *obs) : NULL;
    if (obs) dst->obs = obs;
    fa_tracklet *tracks =
        obs ? fa_realloc(dst->tracks, (dst->n_tracks + src->n_tracks + 1) * sizeof *tracks) : NULL;
    if (!tracks) return fa_err_set(FA_ENOMEM, "tracker.c: appending results: out of memory");
    dst->tracks = tracks;
    if (src->n_frames) memcpy(dst->frames + dst->n_frames, src->frames, src->n_frames * sizeof *frames);
    dst->n_frames += src->n_frames;
    for (size_t i = 0; i < src->n_obs; i++) {
        fa_track_obs ob = src->obs[i];
        if (ob.id != FA_TRACK_BALL_ID) ob.id += shift;
        dst->obs[dst->n_obs++] = ob;
    }
    for (size_t i = 0; i < src->n_tracks; i++) {
        fa_tracklet tl = src->tracks[i];
        tl.id += shift;
        dst->tracks[dst->n_tracks++] = tl;
    }
    return 0;
}
