/*
 * tracking.c - GET /v1/matches/{id}/tracking?period&from&to&rate: the
 * tracking frames of a time window, resampled to `rate` frames per second.
 *
 * Resampling picks, for each target time t_k = from + k / rate (t_k <= to),
 * the stored frame nearest to it within half a target interval; frames are
 * never interpolated (positions stay measured ones, the frame number says
 * which). The windows [t_k - 1/(2 rate), t_k + 1/(2 rate)) are disjoint, so
 * no frame is sent twice, and the selection runs while the store streams
 * the frames of the window in time order: one frame is kept at a time. A
 * gap in the tracking leaves its targets out rather than filling them with
 * a far frame.
 *
 * Limits: a request covers at most 10 minutes (600 s): at 25 Hz that is
 * 15 000 frames, the most one response should carry; longer windows are a
 * 400 telling the client to page by time. `rate` may not exceed the match's
 * own frame rate (more targets than frames would only repeat frames).
 * Defaults: period 1, from 0, to = from + 600, rate = the frame rate.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../app_internal.h"

#define SECONDS "seconds from the start of the period, 0..86400"

typedef struct kept_frame {
    fa_frame f;
    fa_frame_player players[FA_FRAME_MAX_PLAYERS];
    char ids[FA_FRAME_MAX_PLAYERS][FA_ID_MAX];
    char owner[FA_ID_MAX];
} kept_frame;

typedef struct resampler {
    fa_jw *w;
    double from, rate, half;
    int64_t k, count; /* next target, number of targets */
    int has_best;
    double best_dt;
    kept_frame *best;
    int64_t emitted;
} resampler;

static void keep(kept_frame *dst, const fa_frame *f) {
    dst->f = *f;
    size_t n = f->n < FA_FRAME_MAX_PLAYERS ? f->n : FA_FRAME_MAX_PLAYERS;
    for (size_t i = 0; i < n; i++) {
        dst->players[i] = f->players[i];
        fa_strlcpy_utf8(dst->ids[i], f->players[i].player_id ? f->players[i].player_id : "", FA_ID_MAX);
        dst->players[i].player_id = dst->ids[i];
    }
    dst->f.n = n;
    dst->f.players = dst->players;
    dst->f.ball_owner_id = NULL;
    if (f->ball_owner_id) {
        fa_strlcpy_utf8(dst->owner, f->ball_owner_id, FA_ID_MAX);
        dst->f.ball_owner_id = dst->owner;
    }
}

static void jw_frame(fa_jw *w, const fa_frame *f) {
    fa_jw_obj(w);
    fa_jw_key(w, "frame");
    fa_jw_int(w, f->frame);
    fa_jw_key(w, "t");
    fa_jw_round(w, f->t, 3);
    fa_jw_key(w, "ball");
    fa_jw_obj(w);
    fa_jw_key(w, "x");
    fa_jw_round(w, f->ball_x, 2);
    fa_jw_key(w, "y");
    fa_jw_round(w, f->ball_y, 2);
    fa_jw_key(w, "z");
    fa_jw_round(w, f->ball_z, 2);
    fa_jw_key(w, "alive");
    fa_jw_bool(w, f->ball_alive);
    fa_jw_key(w, "owner_side");
    fa_jw_str_or_null(w, fa_side_name(f->ball_owner_side));
    fa_jw_key(w, "owner");
    fa_jw_str_or_null(w, f->ball_owner_id);
    fa_jw_end_obj(w);
    fa_jw_key(w, "players");
    fa_jw_arr(w);
    for (size_t i = 0; i < f->n; i++) {
        const fa_frame_player *p = &f->players[i];
        fa_jw_obj(w);
        fa_jw_key(w, "id");
        fa_jw_str_or_null(w, p->player_id);
        fa_jw_key(w, "side");
        fa_jw_str_or_null(w, fa_side_name(p->side));
        fa_jw_key(w, "x");
        fa_jw_round(w, p->x, 2);
        fa_jw_key(w, "y");
        fa_jw_round(w, p->y, 2);
        fa_jw_end_obj(w);
    }
    fa_jw_end_arr(w);
    fa_jw_end_obj(w);
}

static double target(const resampler *rs, int64_t k) { return rs->from + (double)k / rs->rate; }

/* Ends target k: sends the frame chosen for it, if any. */
static void flush(resampler *rs) {
    if (rs->has_best) {
        jw_frame(rs->w, &rs->best->f);
        rs->emitted++;
    }
    rs->has_best = 0;
    rs->k++;
}

static int on_frame(void *ud, const fa_frame *f) {
    resampler *rs = ud;
    while (rs->k < rs->count && f->t >= target(rs, rs->k) + rs->half) flush(rs);
    if (rs->k >= rs->count) return 1; /* past the last target: stop reading */
    double dt = fabs(f->t - target(rs, rs->k));
    if (f->t >= target(rs, rs->k) - rs->half && (!rs->has_best || dt < rs->best_dt)) {
        keep(rs->best, f);
        rs->best_dt = dt;
        rs->has_best = 1;
    }
    return rs->w->err;
}

typedef struct window {
    int64_t period;
    double from, to, rate;
} window;

static int read_window(fa_api_req *r, const fa_match_row *row, window *win) {
    double native = row->m.frame_rate > 0 ? row->m.frame_rate : 25;
    char expected[96];
    int rc, has_to;
    win->period = 1;
    win->from = 0;
    win->rate = native;
    if ((rc = fa_api_q_int(r, "period", 1, 5, &win->period)) < 0) return rc;
    if ((rc = fa_api_q_num(r, "from", 0, 86400, SECONDS, &win->from)) < 0) return rc;
    if ((rc = fa_api_q_num(r, "to", 0, 86400, SECONDS, &win->to)) < 0) return rc;
    has_to = rc;
    if (!has_to) win->to = win->from + FA_API_TRACKING_MAX_S;
    if (win->from > win->to)
        return fa_api_problem(r, 400, "invalid-parameter",
                              "parameter 'from' (%g s) is after parameter 'to' (%g s)", win->from, win->to);
    if (win->to - win->from > FA_API_TRACKING_MAX_S)
        return fa_api_problem(
            r, 400, "invalid-parameter",
            "the window from %g s to %g s spans %g s; a request covers at most %g s (10 minutes): "
            "ask for the rest in further requests",
            win->from, win->to, win->to - win->from, FA_API_TRACKING_MAX_S);
    snprintf(expected, sizeof expected, "a rate in frames per second, > 0 and at most the match's %g",
             native);
    rc = fa_api_q_num(r, "rate", 1e-6, native, expected, &win->rate);
    return rc < 0 ? rc : 0;
}

int fa_api_h_tracking(fa_api_req *r) {
    fa_match_row row;
    window win;
    char ref[FA_ID_MAX + 40];
    int rc = fa_api_load_match(r, &row);
    if (rc || (rc = read_window(r, &row, &win))) return rc;
    if (row.n_frames == 0)
        return fa_api_problem(r, 404, "not-found", "match '%s' has no tracking data",
                              fa_api_match_ref(&row, ref, sizeof ref));
    kept_frame *best = fa_arena_alloc(r->t->arena, sizeof *best);
    if (!best) return fa_api_fail(r, FA_ENOMEM, "reading tracking");
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    resampler rs = {.w = &w, .from = win.from, .rate = win.rate, .half = 0.5 / win.rate, .best = best};
    rs.count = (int64_t)floor((win.to - win.from) * win.rate + 1e-9) + 1;
    fa_jw_obj(&w);
    fa_api_jw_match_ref(&w, &row);
    fa_jw_key(&w, "period");
    fa_jw_int(&w, win.period);
    fa_jw_key(&w, "from");
    fa_jw_num(&w, win.from);
    fa_jw_key(&w, "to");
    fa_jw_num(&w, win.to);
    fa_jw_key(&w, "rate");
    fa_jw_num(&w, win.rate);
    fa_jw_key(&w, "frame_rate");
    fa_jw_num(&w, row.m.frame_rate > 0 ? row.m.frame_rate : NAN);
    fa_jw_key(&w, "frames");
    fa_jw_arr(&w);
    rc = fa_store_frames(fa_api_store(r), row.id, (int)win.period, win.from - rs.half, win.to + rs.half,
                         on_frame, &rs);
    if (rc < 0) return w.err ? fa_api_jw_done(r, &w) : fa_api_fail(r, rc, "reading tracking");
    while (rs.k < rs.count && rs.has_best) flush(&rs);
    fa_jw_end_arr(&w);
    fa_jw_key(&w, "count");
    fa_jw_int(&w, rs.emitted);
    fa_jw_end_obj(&w);
    return fa_api_jw_done(r, &w);
}
