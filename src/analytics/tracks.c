/*
 * tracks.c - turns a stream of tracking frames (one instant, every object)
 * into tracks (one object, one period, every instant): what kinematics,
 * heat maps and possession read.
 *
 * Layout: a track is three growable arrays (t as double, x and y as float),
 * i.e. structure of arrays, so the kinematics filters stream over contiguous
 * floats. A 90-minute match at 25 Hz is about 3.1 M samples, 16 bytes each
 * (50 MB); float positions keep millimetre precision anywhere on a pitch.
 * Arrays grow by doubling, so adding a frame costs amortised O(objects).
 *
 * Finding the track of an object in a frame: providers list objects in the
 * same order frame after frame, and tracks are created in that order, so
 * the search starts just after the track the previous object of the frame
 * matched and usually hits at once (one strcmp per object instead of a
 * hash table or a scan of all tracks). A new period always creates new
 * tracks: the same player in periods 1 and 2 is two tracks, and nothing
 * downstream can mistake half-time for movement.
 *
 * What is kept out, and counted in `rejected`: a player sample with a
 * non-finite coordinate, a missing id (or the id "ball", which names the
 * ball's track), or a position further from the centre spot than 1.5 times
 * the pitch's half-length or half-width (no tracking system places a player
 * 26 m behind a goal line; such values are unit or parsing errors). A ball
 * at (NAN, NAN) is the model's "ball not seen" and is simply absent, not
 * rejected; a half-NAN, infinite or far-off ball is rejected. Times must not
 * go back (equal times are accepted: a repeated frame, whose duplicate
 * samples kinematics ignores); a refused frame changes nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

#define MAX_PERIOD 5
#define OFF_PITCH_FACTOR 1.5
#define FIRST_CAP 256

/* Empties tr for a match on `pitch` (NULL: 105 x 68) at frame_rate frames per
 * second. FA_EINVAL for a rate outside (0, 10000] or a pitch outside
 * (0, 1000] m; tr is then empty and safe to free. */
int fa_tracking_init(fa_tracking *tr, const fa_pitch *pitch, double frame_rate) {
    if (!tr) return fa_err_set(FA_EINVAL, "tracking: NULL tracking");
    memset(tr, 0, sizeof *tr);
    tr->last_t = -INFINITY;
    if (!isfinite(frame_rate) || frame_rate <= 0 || frame_rate > 10000)
        return fa_err_set(FA_EINVAL, "tracking: frame rate must be in (0, 10000] frames per second, got %g",
                          frame_rate);
    tr->pitch = (fa_pitch){FA_PITCH_DEFAULT_LENGTH, FA_PITCH_DEFAULT_WIDTH};
    if (pitch) {
        if (!(pitch->length > 0 && pitch->length <= 1000 && pitch->width > 0 && pitch->width <= 1000))
            return fa_err_set(FA_EINVAL, "tracking: pitch must be (0, 1000] m each way, got %g x %g",
                              pitch->length, pitch->width);
        tr->pitch = *pitch;
    }
    tr->frame_rate = frame_rate;
    return 0;
}

/* 1 when (x, y) is finite and within 1.5x the pitch's half extents. */
static int position_ok(const fa_tracking *tr, double x, double y) {
    return isfinite(x) && isfinite(y) && fabs(x) <= OFF_PITCH_FACTOR * 0.5 * tr->pitch.length &&
           fabs(y) <= OFF_PITCH_FACTOR * 0.5 * tr->pitch.width;
}

static fa_track *track_new(fa_tracking *tr, const char *id, fa_side side, int period) {
    if (tr->ntracks == tr->cap) {
        size_t cap = tr->cap ? tr->cap * 2 : 32;
        fa_track *t = fa_realloc(tr->tracks, cap * sizeof *t);
        if (!t) return NULL;
        tr->tracks = t;
        tr->cap = cap;
    }
    fa_track *t = &tr->tracks[tr->ntracks++];
    memset(t, 0, sizeof *t);
    fa_strlcpy_utf8(t->id, id, sizeof t->id);
    t->side = side;
    t->period = period;
    return t;
}

/* The track of (id, period), created when absent. The search starts at
 * *hint and wraps around; *hint is left just after the match. */
static fa_track *track_get(fa_tracking *tr, const char *id, fa_side side, int period, size_t *hint) {
    size_t n = tr->ntracks, start = *hint < n ? *hint : 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = start + k < n ? start + k : start + k - n;
        fa_track *t = &tr->tracks[i];
        if (t->period == period && strcmp(t->id, id) == 0) {
            *hint = i + 1;
            return t;
        }
    }
    fa_track *t = track_new(tr, id, side, period);
    *hint = tr->ntracks;
    return t;
}

static int track_push(fa_track *t, double time, float x, float y) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : FIRST_CAP;
        double *nt = fa_realloc(t->t, cap * sizeof *nt);
        if (!nt) return FA_ENOMEM;
        t->t = nt;
        float *nx = fa_realloc(t->x, cap * sizeof *nx);
        if (!nx) return FA_ENOMEM;
        t->x = nx;
        float *ny = fa_realloc(t->y, cap * sizeof *ny);
        if (!ny) return FA_ENOMEM;
        t->y = ny;
        t->cap = cap;
    }
    t->t[t->n] = time;
    t->x[t->n] = x;
    t->y[t->n] = y;
    t->n++;
    return 0;
}

static int add_sample(fa_tracking *tr, const char *id, fa_side side, const fa_frame *f, float x, float y,
                      size_t *hint) {
    fa_track *t = track_get(tr, id, side, f->period, hint);
    if (!t) return FA_ENOMEM;
    return track_push(t, f->t, x, y);
}

static int check_frame(const fa_tracking *tr, const fa_frame *f) {
    if (f->period < 1 || f->period > MAX_PERIOD)
        return fa_err_set(FA_EINVAL, "tracking: frame %lld: period %d is outside 1-%d", (long long)f->frame,
                          f->period, MAX_PERIOD);
    if (!isfinite(f->t))
        return fa_err_set(FA_EINVAL, "tracking: frame %lld: time is not finite", (long long)f->frame);
    if (f->period < tr->last_period || (f->period == tr->last_period && f->t < tr->last_t))
        return fa_err_set(FA_EINVAL,
                          "tracking: non-monotonic time at period %d t=%g (frame %lld comes after "
                          "period %d t=%g)",
                          f->period, f->t, (long long)f->frame, tr->last_period, tr->last_t);
    if (f->n && !f->players)
        return fa_err_set(FA_EINVAL, "tracking: frame %lld: %zu players but no player array",
                          (long long)f->frame, f->n);
    return 0;
}

static int add_ball(fa_tracking *tr, const fa_frame *f, size_t *hint) {
    if (isnan(f->ball_x) && isnan(f->ball_y)) return 0; /* not seen */
    if (!position_ok(tr, f->ball_x, f->ball_y)) {
        tr->rejected++;
        return 0;
    }
    return add_sample(tr, FA_BALL_ID, FA_SIDE_NONE, f, f->ball_x, f->ball_y, hint);
}

/* Appends each object's sample of f to its (id, period) track, creating the
 * track on first sight; unusable samples are counted in tr->rejected.
 * FA_EINVAL (tr unchanged) for time going back, a period outside 1-5, a
 * non-finite time or a missing player array; FA_ENOMEM when growing fails. */
int fa_tracking_add(fa_tracking *tr, const fa_frame *f) {
    if (!tr || !f) return fa_err_set(FA_EINVAL, "tracking: NULL argument");
    if (!(tr->frame_rate > 0)) return fa_err_set(FA_EINVAL, "tracking: not initialised");
    int rc = check_frame(tr, f);
    if (rc) return rc;
    tr->last_period = f->period;
    tr->last_t = f->t;
    tr->nframes++;
    size_t hint = 0;
    rc = add_ball(tr, f, &hint);
    for (size_t i = 0; i < f->n && !rc; i++) {
        const fa_frame_player *p = &f->players[i];
        if (!p->player_id || !p->player_id[0] || strcmp(p->player_id, FA_BALL_ID) == 0 ||
            !position_ok(tr, p->x, p->y)) {
            tr->rejected++;
            continue;
        }
        rc = add_sample(tr, p->player_id, p->side, f, p->x, p->y, &hint);
    }
    return rc ? fa_err_set(rc, "tracking: out of memory at frame %lld", (long long)f->frame) : 0;
}

/* The track of (id, period) with at least one sample, or NULL. */
const fa_track *fa_tracking_find(const fa_tracking *tr, const char *id, int period) {
    if (!tr || !id) return NULL;
    for (size_t i = 0; i < tr->ntracks; i++) {
        const fa_track *t = &tr->tracks[i];
        if (t->period == period && t->n > 0 && strcmp(t->id, id) == 0) return t;
    }
    return NULL;
}

/* Frees every track and leaves tr zeroed (NULL is a no-op). */
void fa_tracking_free(fa_tracking *tr) {
    if (!tr) return;
    for (size_t i = 0; i < tr->ntracks; i++) {
        free(tr->tracks[i].t);
        free(tr->tracks[i].x);
        free(tr->tracks[i].y);
    }
    free(tr->tracks);
    memset(tr, 0, sizeof *tr);
}
