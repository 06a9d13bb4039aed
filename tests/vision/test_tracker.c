/*
 * test_tracker.c - the Kalman filter (src/vision/kalman.c), the torso
 * appearance helper and the ByteTrack-style tracker (src/vision/tracker.c)
 * on synthetic sequences whose ground truth is known, scored with
 * src/vision/mot.c:
 *   - two players crossing (different kits; same kit, where only motion
 *     can tell them apart), the one behind occluded or low-score;
 *   - re-identification of a player who turns back while unseen;
 *   - a crowd of 14 players on random smooth paths (crossings happen by
 *     themselves) with box noise, misses, low-score boxes and false
 *     positives: MOTA / IDF1 floors;
 *   - the ball: gaps under 1 s interpolated, longer ones flagged unseen,
 *     a low-score false ball ignored;
 *   - stitching across a gap longer than the lost-track buffer and across
 *     a chunk border; determinism; option and input errors;
 *   - real layout: the 24 labelled players of a SoccerTrack panorama frame
 *     (7-35 px tall, clustered), moved along synthetic paths, with the
 *     appearance taken from the real pixels under each labelled box (see
 *     test_real_layout for exactly what that measures).
 * All randomness is a fixed-seed xorshift: every figure is reproducible.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"
#include "video/image.h"
#include "vision/assign.h"
#include "vision/detector.h"
#include "vision/eval.h"
#include "vision/kalman.h"
#include "vision/mot.h"
#include "vision/tracker.h"

#define DIM FA_TRACK_APP_DIM

/* ------------------------------------------------------------- utilities */

typedef struct rng {
    uint64_t s;
} rng;

static double uniform(rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (double)(r->s >> 11) / 9007199254740992.0;
}

static double gauss(rng *r) {
    double u = uniform(r), v = uniform(r);
    return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static fa_detection det_at(double cx, double cy, double w, double h, float score, int cls) {
    fa_detection d = {{(float)(cx - w / 2), (float)(cy - h / 2), (float)(cx + w / 2), (float)(cy + h / 2)},
                      score,
                      cls,
                      -1,
                      0};
    return d;
}

/* A kit's appearance: most mass in one colour bin, the rest in a grey bin. */
static void kit_app(int bin, float *app) {
    memset(app, 0, DIM * sizeof *app);
    app[bin] = 0.8f;
    app[26] = 0.2f;
}

/* The id of the player observation of result r at frame f nearest (cx, cy), 0 when none within 10 px. */
static int id_near(const fa_track_result *r, int64_t f, double cx, double cy) {
    int id = 0;
    double best = 10;
    for (size_t i = 0; i < r->n_obs; i++) {
        const fa_track_obs *o = &r->obs[i];
        if (o->frame != f || o->id == FA_TRACK_BALL_ID) continue;
        double d = hypot((o->box[0] + o->box[2]) / 2 - cx, (o->box[1] + o->box[3]) / 2 - cy);
        if (d < best) best = d, id = o->id;
    }
    return id;
}

/* --------------------------------------------------------------- kalman */

static void test_kalman_figures(void **state) {
    (void)state;
    fa_kalman k;
    const float box[4] = {90, 50, 110, 150}; /* centre (100, 100), w 20, h 100, aspect 0.2 */
    double z[4];
    fa_kalman_measure(box, z);
    assert_float_equal(z[2], 0.2, 1e-12);
    fa_kalman_init(&k, z);
    /* position std 2 x h/20 = 10 -> 100; velocity std 10 x h/160 = 6.25 -> 39.0625 */
    assert_float_equal(k.p[0][0], 100, 1e-9);
    assert_float_equal(k.p[0][2], 39.0625, 1e-9);
    fa_kalman_predict(&k);
    /* pp = 100 + 2 x 0 + 39.0625 + (h/20)^2 25; pv = 39.0625; vv = 39.0625 + (h/160)^2 0.390625 */
    assert_float_equal(k.p[0][0], 164.0625, 1e-9);
    assert_float_equal(k.p[0][1], 39.0625, 1e-9);
    assert_float_equal(k.p[0][2], 39.453125, 1e-9);
    /* innovation variance 164.0625 + 25 = 189.0625; a 10 px offset moves x by 10 x 164.0625 / 189.0625 and
     * v by 10 x 39.0625 / 189.0625 */
    double z2[4] = {110, 100, 0.2, 100};
    assert_float_equal(fa_kalman_distance(&k, z2), 100 / 189.0625, 1e-9);
    fa_kalman_update(&k, z2);
    assert_float_equal(k.x[0], 100 + 1640.625 / 189.0625, 1e-9);
    assert_float_equal(k.v[0], 390.625 / 189.0625, 1e-9);
    assert_float_equal(k.p[0][0], 164.0625 - 164.0625 * 164.0625 / 189.0625, 1e-9);
    float out[4];
    fa_kalman_box(&k, out);
    assert_float_equal(out[1], 50, 1e-4);
    assert_float_equal(out[3], 150, 1e-4);
}

static void test_kalman_converges(void **state) {
    (void)state;
    fa_kalman k;
    double z[4] = {0, 0, 0.4, 50};
    fa_kalman_init(&k, z);
    for (int s = 1; s <= 60; s++) {
        fa_kalman_predict(&k);
        z[0] = 3.0 * s;
        z[1] = -1.5 * s;
        fa_kalman_update(&k, z);
    }
    assert_float_equal(k.v[0], 3.0, 0.02);
    assert_float_equal(k.v[1], -1.5, 0.02);
    assert_float_equal(k.x[0], 180, 0.5);
    fa_kalman_predict(&k);
    assert_float_equal(k.x[0], 183, 0.5);
}

/* ----------------------------------------------------------- appearance */

static void test_appearance(void **state) {
    (void)state;
    fa_image img = {0};
    assert_int_equal(fa_image_alloc(&img, 40, 40), 0);
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 40; x++) {
            uint8_t *p = img.rgb + y * img.stride + 3 * x;
            int torso = x >= 10 && x < 20 && y >= 10 && y < 25; /* red shirt left, blue right */
            int torso2 = x >= 25 && x < 35 && y >= 10 && y < 25;
            p[0] = torso ? 220 : 40;
            p[1] = torso || torso2 ? 20 : 140;
            p[2] = torso2 ? 220 : 40;
        }
    float red[DIM], blue[DIM], grass[DIM], none[DIM];
    /* box x 5..25, y 5..45: torso x 10..20, y 11..25 -> pixels x 10..19, y 11..24: all red */
    const float rb[4] = {5, 5, 25, 45}, bb[4] = {20, 5, 40, 45}, gb[4] = {0, 25, 8, 40},
                out[4] = {50, 50, 60, 60};
    assert_int_equal(fa_track_appearance(img.rgb, 40, 40, img.stride, rb, red), 10 * 14);
    assert_float_equal(red[0 * 3 + 2], 1.0, 1e-6); /* hue bin 0 (red), saturation bin 2 */
    /* x 25..35, y 11..25: blue, hue 240 deg -> bin 5 */
    assert_int_equal(fa_track_appearance(img.rgb, 40, 40, img.stride, bb, blue), 10 * 14);
    assert_float_equal(blue[5 * 3 + 2], 1.0, 1e-6);
    assert_true(fa_track_appearance(img.rgb, 40, 40, img.stride, gb, grass) > 0);
    assert_float_equal(fa_track_app_distance(red, red), 0.0, 1e-3);
    assert_float_equal(fa_track_app_distance(red, blue), 1.0, 1e-6);
    assert_true(fa_track_app_distance(red, grass) > 0.99);
    assert_int_equal(fa_track_appearance(img.rgb, 40, 40, img.stride, out, none), 0);
    assert_float_equal(fa_track_app_distance(red, none), -1.0, 0);
    const float bad[4] = {0, NAN, 4, 4};
    assert_int_equal(fa_track_appearance(img.rgb, 40, 40, img.stride, bad, none), FA_EINVAL);
    assert_int_equal(fa_track_appearance(img.rgb, 40, 40, 10, rb, none), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "stride >= 3 x width"));
    fa_image_free(&img);
}

/* ------------------------------------------------------------- crossings */

/*
 * Two players 20 x 50 px cross on the same line: A from x 100 rightwards,
 * B from x 300 leftwards, 4 px per frame each, 50 frames. While they
 * overlap (centres closer than 16 px) B, behind, is either not detected
 * (occluded) or detected at a low score. Identity survives when the
 * track at A's final position has A's first id.
 */
static void run_crossing(const float *app_a, const float *app_b, int occluded_missing, int *id_a0, int *id_a1,
                         int *id_b0, int *id_b1, size_t *n_tracks) {
    fa_tracker *t = fa_tracker_new(NULL);
    assert_non_null(t);
    rng r = {12345};
    for (int f = 0; f < 50; f++) {
        double xa = 100 + 4 * f, xb = 300 - 4 * f;
        fa_detection d[2];
        float app[2 * DIM];
        size_t n = 0;
        double ex = gauss(&r), ey = gauss(&r); /* drawn in a fixed order (argument order is unspecified) */
        d[n] = det_at(xa + ex, 200 + ey, 20, 50, 0.9f, FA_COCO_PERSON);
        memcpy(app + n++ * DIM, app_a, DIM * sizeof *app);
        int overlap = fabs(xa - xb) < 16;
        if (!overlap || !occluded_missing) {
            ex = gauss(&r);
            ey = gauss(&r);
            d[n] = det_at(xb + ex, 200 + ey, 20, 50, overlap ? 0.3f : 0.85f, FA_COCO_PERSON);
            memcpy(app + n++ * DIM, app_b, DIM * sizeof *app);
        }
        assert_int_equal(fa_tracker_update(t, f * 1, d, n, app, NULL, NULL), 0);
    }
    fa_track_result res;
    assert_int_equal(fa_tracker_finish(t, &res), 0);
    *id_a0 = id_near(&res, 2, 108, 200);
    *id_b0 = id_near(&res, 2, 292, 200);
    *id_a1 = id_near(&res, 49, 296, 200);
    *id_b1 = id_near(&res, 49, 104, 200);
    *n_tracks = res.n_tracks;
    fa_track_result_free(&res);
    fa_tracker_free(t);
}

static void test_crossing(void **state) {
    (void)state;
    float red[DIM], blue[DIM];
    kit_app(2, red);
    kit_app(17, blue);
    int a0, a1, b0, b1;
    size_t nt;
    /* different kits, B occluded (no box) during the crossing */
    run_crossing(red, blue, 1, &a0, &a1, &b0, &b1, &nt);
    assert_true(a0 > 0 && b0 > 0 && a0 != b0);
    assert_int_equal(a1, a0);
    assert_int_equal(b1, b0);
    assert_int_equal(nt, 2);
    /* same kit: only the filter's motion keeps them apart; B is a low-score box while behind */
    run_crossing(red, red, 0, &a0, &a1, &b0, &b1, &nt);
    assert_int_equal(a1, a0);
    assert_int_equal(b1, b0);
    assert_int_equal(nt, 2);
    /* same kit and B unseen for 4 frames */
    run_crossing(red, red, 1, &a0, &a1, &b0, &b1, &nt);
    assert_int_equal(a1, a0);
    assert_int_equal(b1, b0);
    assert_int_equal(nt, 2);
    /* no appearance at all */
    float none[DIM] = {0};
    run_crossing(none, none, 1, &a0, &a1, &b0, &b1, &nt);
    assert_int_equal(a1, a0);
    assert_int_equal(b1, b0);
}

/*
 * Re-identification: a player runs right at 4 px per frame for 20 frames,
 * is unseen for 8 frames while he turns back, and reappears 32 px left of
 * where he vanished, 64 px from where the filter predicts him: no overlap,
 * even buffered, so only appearance inside the motion gate (1.5 + 0.5 x 9
 * heights of 40 px) can give him his id back, online. A player of another
 * kit appearing there instead gets a new id.
 */
static void test_reidentify(void **state) {
    (void)state;
    float red[DIM], blue[DIM];
    kit_app(2, red);
    kit_app(17, blue);
    for (int other = 0; other < 2; other++) {
        fa_tracker *t = fa_tracker_new(NULL);
        const fa_track_obs *out;
        size_t n_out;
        int first_id = 0;
        for (int f = 0; f < 40; f++) {
            double x = f < 20 ? 100 + 4 * f : 144 - 4 * (f - 28);
            fa_detection d = det_at(x, 300, 16, 40, 0.9f, FA_COCO_PERSON);
            int seen = f < 20 || f >= 28;
            assert_int_equal(fa_tracker_update(t, f, &d, seen, other && f >= 28 ? blue : red, &out, &n_out),
                             0);
            if (f == 5) first_id = out[0].id;
            if (f == 28) {
                assert_int_equal(n_out, other ? 0 : 1); /* the other kit starts a tentative track */
                if (!other) assert_int_equal(out[0].id, first_id);
            }
        }
        assert_int_equal(n_out, 1);
        assert_int_equal(out[0].id, other ? first_id + 1 : first_id);
        fa_tracker_free(t);
    }
}

/* ----------------------------------------------------------------- crowd */

typedef struct player {
    double x, y, vx, vy, w, h;
    float app[DIM];
} player;

typedef struct noise {
    double box_sigma; /* fraction of the box size */
    double miss, low; /* probabilities: no box, a low-score box */
    int false_pos;    /* per frame */
    int stride;       /* frame numbers per processed frame */
} noise;

/* Moves p one frame: a smooth random walk in the rectangle. */
static void move_player(player *p, rng *r, double max_speed, double x0, double y0, double x1, double y1) {
    p->vx += 0.15 * gauss(r);
    p->vy += 0.15 * gauss(r);
    double s = hypot(p->vx, p->vy);
    if (s > max_speed) p->vx *= max_speed / s, p->vy *= max_speed / s;
    p->x += p->vx;
    p->y += p->vy;
    if (p->x < x0 || p->x > x1) p->vx = -p->vx;
    if (p->y < y0 || p->y > y1) p->vy = -p->vy;
}

/* Detections of the players (and false positives) for one frame. */
static size_t detect(const player *pl, size_t np, const noise *nz, rng *r, const float *fp_app,
                     fa_detection *d, float *app) {
    size_t n = 0;
    for (size_t i = 0; i < np; i++) {
        const player *p = &pl[i];
        double u = uniform(r);
        if (u < nz->miss) continue;
        float score =
            u < nz->miss + nz->low ? (float)(0.15 + 0.3 * uniform(r)) : (float)(0.6 + 0.35 * uniform(r));
        double w = p->w * (1 + nz->box_sigma * gauss(r)), h = p->h * (1 + nz->box_sigma * gauss(r));
        double ex = nz->box_sigma * p->w * gauss(r), ey = nz->box_sigma * p->h * gauss(r);
        d[n] = det_at(p->x + ex, p->y + ey, w, h, score, FA_COCO_PERSON);
        memcpy(app + n++ * DIM, p->app, DIM * sizeof *app);
    }
    for (int k = 0; k < nz->false_pos; k++) {
        const player *p = &pl[(size_t)(uniform(r) * (double)np)];
        double ex = (uniform(r) - 0.5) * 400, ey = (uniform(r) - 0.5) * 200, score = 0.3 + 0.4 * uniform(r);
        d[n] = det_at(p->x + ex, p->y + ey, p->w, p->h, (float)score, FA_COCO_PERSON);
        memcpy(app + n++ * DIM, fp_app, DIM * sizeof *app);
    }
    return n;
}

/* Scores result res against the ground truth gt[f * np + i] (frame f = step x stride, id i + 1). */
static void score(const fa_track_result *res, const fa_mot_box *gt, size_t np, size_t steps,
                  fa_mot_summary *s) {
    fa_mot *m = fa_mot_new(0.5);
    fa_mot_box *pred = malloc((res->n_obs + 1) * sizeof *pred);
    size_t o = 0;
    for (size_t k = 0; k < steps; k++) {
        size_t n = 0;
        for (; o < res->n_obs && res->obs[o].frame == res->frames[k]; o++) {
            if (res->obs[o].id == FA_TRACK_BALL_ID) continue;
            pred[n].id = res->obs[o].id;
            memcpy(pred[n++].box, res->obs[o].box, sizeof pred->box);
        }
        assert_int_equal(fa_mot_add_frame(m, gt + k * np, np, pred, n), 0);
    }
    assert_int_equal(fa_mot_summarize(m, s), 0);
    free(pred);
    fa_mot_free(m);
}

/* Runs a crowd: np players in the rectangle for steps processed frames. */
static void run_crowd(player *pl, size_t np, const noise *nz, size_t steps, double max_speed,
                      const double *rect, const fa_tracker_options *o, uint64_t seed, fa_mot_summary *s) {
    rng r = {seed};
    fa_tracker *t = fa_tracker_new(o);
    assert_non_null(t);
    size_t cap = np + (size_t)nz->false_pos;
    fa_detection *d = malloc(cap * sizeof *d);
    float *app = malloc(cap * DIM * sizeof *app), grass[DIM];
    fa_mot_box *gt = malloc(steps * np * sizeof *gt);
    kit_app(9, grass);
    for (size_t k = 0; k < steps; k++) {
        for (int sub = 0; sub < nz->stride && k; sub++)
            for (size_t i = 0; i < np; i++)
                move_player(&pl[i], &r, max_speed, rect[0], rect[1], rect[2], rect[3]);
        for (size_t i = 0; i < np; i++) {
            fa_detection g = det_at(pl[i].x, pl[i].y, pl[i].w, pl[i].h, 1, 0);
            gt[k * np + i].id = (int)i + 1;
            memcpy(gt[k * np + i].box, g.box, sizeof g.box);
        }
        size_t n = detect(pl, np, nz, &r, grass, d, app);
        assert_int_equal(fa_tracker_update(t, (int64_t)(k * (size_t)nz->stride), d, n, app, NULL, NULL), 0);
    }
    fa_track_result res;
    assert_int_equal(fa_tracker_finish(t, &res), 0);
    score(&res, gt, np, steps, s);
    fa_track_result_free(&res);
    fa_tracker_free(t);
    free(d);
    free(app);
    free(gt);
}

static void make_crowd(player *pl, size_t np, rng *r) {
    for (size_t i = 0; i < np; i++) {
        player *p = &pl[i];
        p->x = 100 + 600 * uniform(r);
        p->y = 100 + 300 * uniform(r);
        p->vx = gauss(r);
        p->vy = gauss(r);
        p->h = 50 + 20 * uniform(r);
        p->w = p->h * 0.4;
        kit_app(i % 2 ? 2 : 17, p->app); /* two teams: team-mates look the same */
        p->app[(i * 5) % 24] += 0.05f;
    }
}

static void print_summary(const char *what, const fa_mot_summary *s) {
    print_message("%s: MOTA %.4f IDF1 %.4f MOTP %.4f matches %zu FP %zu FN %zu IDSW %zu ids %zu/%zu\n", what,
                  s->mota, s->idf1, s->motp, s->matches, s->fp, s->fn, s->idsw, s->pred_ids, s->gt_ids);
}

/*
 * 14 players (two kits) in a 600 x 300 px area, 50-70 px tall, speed up to
 * 3 px per frame, 200 frames. Detections: 4 % box noise, 8 % missed, 10 %
 * low score (0.15-0.45), 2 false positives per frame (score 0.3-0.7).
 * Over 6 other seeds (not asserted here) the default options averaged MOTA
 * 0.989 / IDF1 0.994 at 25 fps and 0.959 / 0.970 at 5 fps; without the
 * appearance term 0.945 / 0.833 at 5 fps (17 switches per run instead of
 * 2); without the IoU buffer 0.955 / 0.946 at 5 fps.
 */
static void test_crowd(void **state) {
    (void)state;
    rng r = {777};
    player pl[14];
    make_crowd(pl, 14, &r);
    const double rect[4] = {50, 80, 750, 420};
    noise nz = {0.04, 0.08, 0.10, 2, 1};
    fa_mot_summary s;
    run_crowd(pl, 14, &nz, 200, 3, rect, NULL, 99, &s);
    print_summary("crowd 25 fps", &s); /* measured: MOTA 0.9964 IDF1 0.9982, 0 switches */
    assert_int_equal(s.gt, 14 * 200);
    assert_true(s.mota > 0.99);
    assert_true(s.idf1 > 0.99);
    assert_true(s.idsw <= 1);
    /* the same at 5 detections per second (each processed frame 5 frame numbers later: 15 px steps) */
    make_crowd(pl, 14, &r);
    nz.stride = 5;
    run_crowd(pl, 14, &nz, 200, 3, rect, NULL, 99, &s);
    print_summary("crowd 5 fps", &s); /* measured: MOTA 0.9550 IDF1 0.8769, 16 switches */
    assert_true(s.mota > 0.95);
    assert_true(s.idf1 > 0.87);
    assert_true(s.idsw <= 16);
}

/* ------------------------------------------------------------------ ball */

/*
 * The ball moves 6 px per frame along x from (100, 500). It is detected
 * at frames 0-9, 20-29 (a 10-frame gap: 0.4 s at 25 fps: interpolated),
 * 70-79 (a 40-frame gap: 1.6 s: flagged unseen) and in no other frame. A
 * low-score (0.3) false ball far away at every frame is never taken, and
 * a confident one (0.9) 500 px off appears once at frame 5 while the ball
 * is seen (the gated ball wins).
 */
static void test_ball(void **state) {
    (void)state;
    fa_tracker *t = fa_tracker_new(NULL);
    for (int f = 0; f < 80; f++) {
        fa_detection d[3];
        size_t n = 0;
        int seen = f < 10 || (f >= 20 && f < 30) || f >= 70;
        if (seen) d[n++] = det_at(100 + 6 * f, 500, 6, 6, 0.6f, FA_COCO_SPORTS_BALL);
        d[n++] = det_at(1500, 100, 6, 6, 0.3f, FA_COCO_SPORTS_BALL);
        if (f == 5) d[n++] = det_at(100 + 6 * f + 500, 500, 6, 6, 0.9f, FA_COCO_SPORTS_BALL);
        const fa_track_obs *out;
        size_t n_out;
        assert_int_equal(fa_tracker_update(t, f, d, n, NULL, &out, &n_out), 0);
        assert_int_equal(n_out, seen ? 1 : 0);
    }
    fa_track_result res;
    assert_int_equal(fa_tracker_finish(t, &res), 0);
    assert_int_equal(res.n_obs, 80); /* the ball at every frame, no players */
    assert_int_equal(res.n_tracks, 0);
    int seen = 0, interpolated = 0, unseen = 0;
    for (size_t i = 0; i < res.n_obs; i++) {
        const fa_track_obs *o = &res.obs[i];
        assert_int_equal(o->frame, (int64_t)i);
        assert_int_equal(o->id, FA_TRACK_BALL_ID);
        if (o->flags & FA_TRACK_UNSEEN) {
            unseen++;
            assert_true(i >= 30 && i < 70);
            assert_int_equal(o->det, -1);
            continue;
        }
        assert_float_equal((o->box[0] + o->box[2]) / 2, 100 + 6.0 * (double)i, 1e-3);
        if (o->flags & FA_TRACK_INTERPOLATED) {
            interpolated++;
            assert_true(i >= 10 && i < 20);
        } else {
            seen++;
            assert_int_equal(o->det, 0);
        }
    }
    assert_int_equal(seen, 30);
    assert_int_equal(interpolated, 10);
    assert_int_equal(unseen, 40);
    fa_track_result_free(&res);
    fa_tracker_free(t);
}

/* -------------------------------------------------------------- stitching */

/*
 * A player walks right at 1 px per frame, unseen from frame 30 to 69 (40
 * frames, longer than the 30-frame lost buffer): the tracker drops his
 * track and gives the reappearing player a new id. Stitching (gap 1.6 s <
 * 2 s, 40 px moved < (1.5 + 4 x 1.6) x 40 px, same kit) gives him one id
 * again; with another kit after the gap, two stay. The 40-frame hole is
 * longer than the 0.5 s players are interpolated over: not filled.
 */
static void test_stitch(void **state) {
    (void)state;
    float red[DIM], blue[DIM];
    kit_app(2, red);
    kit_app(17, blue);
    for (int other = 0; other < 2; other++) {
        fa_tracker *t = fa_tracker_new(NULL);
        for (int f = 0; f < 100; f++) {
            fa_detection d = det_at(100 + f, 300, 16, 40, 0.9f, FA_COCO_PERSON);
            int seen = f < 30 || f >= 70;
            assert_int_equal(fa_tracker_update(t, f, &d, seen, other && f >= 70 ? blue : red, NULL, NULL), 0);
        }
        fa_track_result res;
        assert_int_equal(fa_tracker_finish(t, &res), 0);
        assert_int_equal(res.n_tracks, other ? 2 : 1);
        assert_int_equal(res.n_obs, 60 + 100); /* and the ball's 100 unseen frames */
        assert_int_equal(res.tracks[0].id, 1);
        assert_int_equal(res.tracks[0].first, 0);
        assert_int_equal(res.tracks[0].last, other ? 29 : 99);
        assert_int_equal(res.tracks[0].hits, other ? 30 : 60);
        assert_int_equal(id_near(&res, 99, 199, 300), other ? 2 : 1);
        fa_track_result_free(&res);
        fa_tracker_free(t);
    }
}

/*
 * Chunks: frames 0-49 and 50-99 of two players (different kits, 200 px
 * apart, walking right) tracked by two trackers. Appended, the second
 * chunk's ids become 3 and 4; stitching joins them back to 1 and 2 across
 * the border. A chunk that does not come after is refused.
 */
static void test_chunks(void **state) {
    (void)state;
    float app[2 * DIM];
    kit_app(2, app);
    kit_app(17, app + DIM);
    fa_track_result part[2];
    for (int c = 0; c < 2; c++) {
        fa_tracker *t = fa_tracker_new(NULL);
        for (int f = 50 * c; f < 50 * c + 50; f++) {
            fa_detection d[2] = {det_at(100 + 2 * f, 300, 16, 40, 0.9f, 0),
                                 det_at(100 + 2 * f, 500, 16, 40, 0.9f, 0)};
            assert_int_equal(fa_tracker_update(t, f, d, 2, app, NULL, NULL), 0);
        }
        assert_int_equal(fa_tracker_finish(t, &part[c]), 0);
        fa_tracker_free(t);
    }
    assert_int_equal(fa_track_result_append(&part[1], &part[0]), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "first frame 0 is not after 99"));
    assert_int_equal(fa_track_result_append(&part[0], &part[1]), 0);
    assert_int_equal(part[0].n_tracks, 4);
    assert_int_equal(part[0].n_frames, 100);
    assert_int_equal(id_near(&part[0], 99, 298, 500), 4);
    fa_tracker_options o;
    fa_tracker_options_default(&o);
    assert_int_equal(fa_tracks_stitch(&part[0], &o), 0);
    assert_int_equal(part[0].n_tracks, 2);
    assert_int_equal(id_near(&part[0], 99, 298, 300), id_near(&part[0], 0, 100, 300));
    assert_int_equal(id_near(&part[0], 99, 298, 500), id_near(&part[0], 0, 100, 500));
    assert_int_equal(part[0].tracks[0].hits + part[0].tracks[1].hits, 200);
    assert_int_equal(part[0].n_obs, 300); /* 200 players + 100 ball frames (unseen) */
    fa_track_result_free(&part[0]);
    fa_track_result_free(&part[1]);
}

/*
 * Player gaps: seen at frames 0-9 and 15-29 walking right at 2 px per frame,
 * unseen 10-14 (0.2 s, under the 0.5 s default): the lost track takes him
 * back (same id) and finish fills frames 10-14 with boxes on the line from
 * the frame-9 box to the frame-15 box, flagged interpolated. With
 * interp_max_gap_s 0 the gap stays open.
 */
static void test_fill_players(void **state) {
    (void)state;
    for (int fill = 1; fill >= 0; fill--) {
        fa_tracker_options o;
        fa_tracker_options_default(&o);
        o.ball_class = -1;
        if (!fill) o.interp_max_gap_s = 0;
        fa_tracker *t = fa_tracker_new(&o);
        for (int f = 0; f < 30; f++) {
            fa_detection d = det_at(100 + 2 * f, 300, 16, 40, 0.9f, FA_COCO_PERSON);
            assert_int_equal(fa_tracker_update(t, f, &d, f < 10 || f >= 15, NULL, NULL, NULL), 0);
        }
        fa_track_result res;
        assert_int_equal(fa_tracker_finish(t, &res), 0);
        assert_int_equal(res.n_tracks, 1);
        assert_int_equal(res.tracks[0].hits, 25);
        assert_int_equal(res.n_obs, fill ? 30 : 25);
        const fa_track_obs *a = NULL, *b = NULL;
        for (size_t i = 0; i < res.n_obs; i++) {
            const fa_track_obs *ob = &res.obs[i];
            assert_int_equal(ob->id, 1);
            int gap = ob->frame >= 10 && ob->frame < 15;
            assert_int_equal(ob->flags, gap ? FA_TRACK_INTERPOLATED : 0u);
            assert_int_equal(ob->det, gap ? -1 : 0);
            if (ob->frame == 9) a = ob;
            if (ob->frame == 15) b = ob;
        }
        assert_non_null(a);
        assert_non_null(b);
        if (fill) {
            const fa_track_obs *m = &res.obs[12]; /* frame 12: 3/6 of the way */
            assert_int_equal(m->frame, 12);
            for (int k = 0; k < 4; k++)
                assert_float_equal(m->box[k], (a->box[k] + b->box[k]) / 2, 1e-3);
        }
        fa_track_result_free(&res);
        fa_tracker_free(t);
    }
}

/* Nothing tracked: empty results, and appending an empty result or to one. */
static void test_empty(void **state) {
    (void)state;
    fa_tracker *t = fa_tracker_new(NULL);
    fa_track_result res, acc = {0};
    assert_int_equal(fa_tracker_finish(t, &res), 0);
    assert_int_equal(res.n_frames + res.n_obs + res.n_tracks, 0);
    assert_int_equal(fa_track_result_append(&acc, &res), 0);
    fa_track_result_free(&res);
    assert_int_equal(fa_tracker_update(t, 0, NULL, 0, NULL, NULL, NULL), 0);
    assert_int_equal(fa_tracker_finish(t, &res), 0);
    assert_int_equal(res.n_frames, 1);
    assert_int_equal(res.n_obs, 1); /* the ball, unseen */
    assert_int_equal(res.obs[0].flags, FA_TRACK_UNSEEN);
    assert_int_equal(fa_track_result_append(&acc, &res), 0);
    assert_int_equal(acc.n_frames, 1);
    fa_track_result_free(&res);
    fa_track_result_free(&acc);
    /* too many boxes in one frame: refused before any work */
    size_t n = FA_ASSIGN_MAX;
    fa_detection *d = calloc(n, sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = det_at(10 + (double)i, 10, 4, 8, 0.9f, FA_COCO_PERSON);
    assert_int_equal(fa_tracker_update(t, 1, d, n, NULL, NULL, NULL), FA_ELIMIT);
    assert_non_null(strstr(fa_err_msg(), "0 tracks and 8192 boxes: more than 8191 in all"));
    free(d);
    fa_tracker_free(t);
}

/* ---------------------------------------------------- determinism, errors */

static void test_deterministic(void **state) {
    (void)state;
    fa_track_result res[2];
    for (int run = 0; run < 2; run++) {
        rng r = {4242};
        player pl[10];
        make_crowd(pl, 10, &r);
        fa_tracker *t = fa_tracker_new(NULL);
        noise nz = {0.05, 0.1, 0.1, 3, 1};
        fa_detection d[13];
        float app[13 * DIM], grass[DIM];
        kit_app(9, grass);
        for (int f = 0; f < 60; f++) {
            for (size_t i = 0; i < 10; i++)
                move_player(&pl[i], &r, 3, 50, 80, 750, 420);
            size_t n = detect(pl, 10, &nz, &r, grass, d, app);
            assert_int_equal(fa_tracker_update(t, f, d, n, app, NULL, NULL), 0);
        }
        assert_int_equal(fa_tracker_finish(t, &res[run]), 0);
        fa_tracker_free(t);
    }
    assert_int_equal(res[0].n_obs, res[1].n_obs);
    assert_memory_equal(res[0].obs, res[1].obs, res[0].n_obs * sizeof *res[0].obs);
    fa_track_result_free(&res[0]);
    fa_track_result_free(&res[1]);
}

static void test_bad_options(void **state) {
    (void)state;
    fa_tracker_options o;
    fa_tracker_options_default(&o);
    assert_int_equal(fa_tracker_options_check(&o), 0);
    o.high_thresh = 1.5f;
    assert_null(fa_tracker_new(&o));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_string_equal(fa_err_msg(),
                        "tracker.c: option 'high_thresh': expected a score in [low_thresh, 1], got 1.5");
    fa_tracker_options_default(&o);
    o.confirm_hits = 0;
    assert_int_equal(fa_tracker_options_check(&o), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "tracker.c: option 'confirm_hits': expected hits in [1, 1000], got 0");
    fa_tracker_options_default(&o);
    o.fps = NAN;
    assert_int_equal(fa_tracker_options_check(&o), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "option 'fps'"));
    fa_tracker_options_default(&o);
    o.ball_class = o.person_class;
    assert_int_equal(fa_tracker_options_check(&o), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "option 'ball_class'"));
    fa_tracker_options_default(&o);
    o.new_track_thresh = 0.4f; /* below high_thresh 0.5 */
    assert_int_equal(fa_tracker_options_check(&o), FA_EINVAL);
    fa_tracker_options_default(&o);
    o.app_gate = -0.1f;
    assert_int_equal(fa_tracker_options_check(&o), FA_EINVAL);
    assert_int_equal(fa_tracker_options_check(NULL), FA_EINVAL);
}

static void test_bad_input(void **state) {
    (void)state;
    fa_tracker *t = fa_tracker_new(NULL);
    fa_detection d[2] = {det_at(100, 100, 10, 20, 0.9f, 0), det_at(200, 100, 10, 20, 0.9f, 0)};
    assert_int_equal(fa_tracker_update(t, 10, d, 2, NULL, NULL, NULL), 0);
    assert_int_equal(fa_tracker_update(t, 10, d, 2, NULL, NULL, NULL), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "tracker.c: frame 10: expected a frame after 10");
    d[1].box[2] = NAN;
    assert_int_equal(fa_tracker_update(t, 11, d, 2, NULL, NULL, NULL), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "tracker.c: frame 11: detection 1: box (195, 90, nan, 110): expected "
                                      "finite corners with x1 < x2, y1 < y2");
    d[1] = det_at(200, 100, 10, 20, 1.5f, 0);
    assert_int_equal(fa_tracker_update(t, 11, d, 2, NULL, NULL, NULL), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "detection 1: score 1.5: expected a score in [0, 1]"));
    d[1].score = 0.9f;
    float app[2 * DIM] = {0};
    app[DIM + 3] = -1;
    assert_int_equal(fa_tracker_update(t, 11, d, 2, app, NULL, NULL), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "detection 1: appearance[3] = -1: expected a finite value >= 0"));
    /* a class not tracked is not checked: a broken car box is ignored */
    fa_detection car = {{5, 5, 1, 1}, 0.9f, 2, -1, 0};
    assert_int_equal(fa_tracker_update(t, 11, &car, 1, NULL, NULL, NULL), 0);
    /* the failed calls changed nothing: frame 12 confirms both tracks (second hit) */
    const fa_track_obs *out;
    size_t n_out;
    assert_int_equal(fa_tracker_update(t, 12, d, 2, NULL, &out, &n_out), 0);
    assert_int_equal(n_out, 0); /* frame 11 (the car) was a miss: tentative tracks died */
    assert_int_equal(fa_tracker_update(t, 13, d, 2, NULL, &out, &n_out), 0);
    assert_int_equal(n_out, 2);
    assert_int_equal(out[0].id, 1);
    assert_int_equal(out[1].id, 2);
    fa_track_result res;
    assert_int_equal(fa_tracker_finish(t, &res), 0);
    assert_int_equal(res.n_frames, 4);
    fa_track_result_free(&res);
    fa_tracker_free(t);
}

/* ------------------------------------------------------------- real data */

#define REAL_FRAME                                                                                           \
    "images/soccertrack_v2/train/images/"                                                                    \
    "G_20231125_TOP_B_1st_3_020_png.rf.b4aa5b98853d08b2d23b558f6a3916e1.jpg"
#define REAL_LABELS                                                                                          \
    "images/soccertrack_v2/train/labels/"                                                                    \
    "G_20231125_TOP_B_1st_3_020_png.rf.b4aa5b98853d08b2d23b558f6a3916e1.txt"

/*
 * What this measures: association and identity keeping of the tracker on
 * the real spatial layout and box sizes of a football panorama (24
 * labelled persons, 7-35 px tall, some in tight clusters) with the real
 * colour histograms of their torsos (computed by fa_track_appearance from
 * the frame's pixels under each labelled box; both kits, referees and
 * grass-contaminated tiny boxes as they are). The motion is synthetic:
 * from its labelled position each person follows a smooth random walk at
 * up to 0.15 mean box heights per frame (about 7 m/s at 25 fps for a 1.8 m
 * player); detections are the true boxes with 5 % noise, 8 % missed, 10 %
 * low-score, 3 false positives per frame; 150 processed frames at 25 fps
 * (every frame) and again at 5 fps (every 5th frame: 0.75 box heights
 * between processed frames, what `analyze --detect-fps 5` sees). It does NOT
 * measure detector quality or real motion (the labelled frames are
 * independent stills, not a sequence).
 */
static void test_real_layout(void **state) {
    (void)state;
    const char *img_path = fa_test_data(REAL_FRAME);
    FA_TEST_REQUIRE_DATA(img_path);
    fa_image img = {0};
    assert_int_equal(fa_image_load(img_path, &img), 0);
    static const int yolo_map[2] = {FA_COCO_PERSON, FA_COCO_SPORTS_BALL};
    fa_gt_box *gt;
    size_t n;
    assert_int_equal(fa_eval_read_yolo_labels(fa_test_data(REAL_LABELS), img.w, img.h, yolo_map, 2, &gt, &n),
                     0);
    player pl[32];
    size_t np = 0;
    for (size_t i = 0; i < n && np < 32; i++) {
        if (gt[i].class_id != FA_COCO_PERSON) continue;
        player *p = &pl[np++];
        const float *b = gt[i].box;
        p->x = (b[0] + b[2]) / 2;
        p->y = (b[1] + b[3]) / 2;
        p->w = b[2] - b[0];
        p->h = b[3] - b[1];
        p->vx = p->vy = 0;
        assert_true(fa_track_appearance(img.rgb, img.w, img.h, img.stride, b, p->app) > 0);
    }
    assert_int_equal(np, 24);
    fa_mot_summary s;
    double max_speed = 0;
    for (size_t i = 0; i < np; i++)
        max_speed += 0.15 * pl[i].h / (double)np;
    noise nz = {0.05, 0.08, 0.10, 3, 1};
    const double rect[4] = {0, 300, 2160, 800};
    player start[32];
    memcpy(start, pl, sizeof pl);
    run_crowd(pl, np, &nz, 150, max_speed, rect, NULL, 31, &s);
    print_summary("real layout 25 fps", &s); /* measured: MOTA 0.9917 IDF1 0.9958, 0 switches */
    assert_int_equal(s.gt_ids, 24);
    assert_true(s.mota > 0.98);
    assert_true(s.idf1 > 0.99);
    assert_true(s.idsw <= 1);
    memcpy(pl, start, sizeof pl);
    nz.stride = 5;
    run_crowd(pl, np, &nz, 150, max_speed, rect, NULL, 31, &s);
    print_summary("real layout 5 fps", &s); /* measured: MOTA 0.9306 IDF1 0.9508, 2 switches */
    assert_true(s.mota > 0.92);
    assert_true(s.idf1 > 0.94);
    assert_true(s.idsw <= 4);
    free(gt);
    fa_image_free(&img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kalman_figures), cmocka_unit_test(test_kalman_converges),
        cmocka_unit_test(test_appearance),     cmocka_unit_test(test_crossing),
        cmocka_unit_test(test_reidentify),     cmocka_unit_test(test_crowd),
        cmocka_unit_test(test_ball),           cmocka_unit_test(test_stitch),
        cmocka_unit_test(test_chunks),         cmocka_unit_test(test_fill_players),
        cmocka_unit_test(test_empty),          cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_options),    cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_real_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
