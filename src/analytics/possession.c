/*
 * possession.c - ball possession as each team's share of the time one of them
 * controlled the ball: for the whole match, per period and per window of
 * possession_window_s seconds, measured two ways, each stated in `method`.
 *
 * From events (fa_possession_from_events). The team that performs a
 * CONTROLLING on-ball action holds the ball from that event until the next
 * controlling action of either team. Controlling: a pass, carry, ball
 * receipt (not one marked incomplete), dribble, shot, set-piece restart,
 * clearance, a ball recovery that did not fail, an interception or a duel
 * that succeeded, a goalkeeper action that succeeded (a claim, a save held),
 * and the provider types that name the player in possession at the moment he
 * loses it ("BALL LOST" in Metrica, "Miscontrol" and "Dispossessed" in
 * StatsBomb). Not controlling: pressure, fouls, blocks, failed duels and
 * interceptions, "Shot Faced", cards, substitutions. Why "until the next
 * control" and not "until the next event": an opponent's pressure or block
 * does not take the ball away, and StatsBomb records many of them.
 *
 * Dead time is nobody's possession, and is found three ways:
 *   - a dead-ball event (ball out, foul, card, substitution, own goal, a goal
 *     scored, period end) ends the holder's time at its own time; nobody
 *     holds the ball until the next controlling action;
 *   - the interval just before a set-piece restart (a throw-in, corner, free
 *     kick, goal kick, kick-off or penalty) is dead: StatsBomb marks no
 *     "ball out" event, so the ball went dead at the last recorded action
 *     before the restart;
 *   - an interval longer than POSS_MAX_GAP_S (30 s) between two consecutive
 *     events of any kind is a stoppage (injury, VAR, celebrations): with
 *     every touch recorded, live play never goes that long without an event.
 * The penalty shoot-out (period 5) is not possession and is left out.
 *
 * From tracking (fa_possession_from_tracking). For each ball sample, the
 * nearest player within owner_radius_m is the candidate owner (players'
 * samples are matched to the ball's by time, within half a frame). The team
 * in possession changes when a player of the other team is the candidate and
 * no player of the holding team is a candidate during the next
 * owner_hysteresis_s; the change then counts from that first touch. While
 * nobody is near the ball (a pass in flight) the holding team keeps it. Each
 * ball sample weighs one frame (1 / frame_rate). Dead time: samples with the
 * ball off the pitch are nobody's; time where the ball was not seen has no
 * sample and so counts for nobody. Tracks carry no "ball alive" flag, so a
 * stoppage with the ball on the pitch still counts: the method says so.
 *
 * Windows are [k W, (k+1) W) in period time, clipped to the period's first
 * and last time; a window's shares are NAN when nobody had the ball in it.
 *
 * Bad input (events out of match order across periods, unknown periods or
 * sides, non-finite times, a broken configuration, tracking without a ball)
 * is FA_EINVAL with a message; times that go backwards within a period (a
 * provider quirk: StatsBomb 15986 has one receipt stamped 00:00:01 after a
 * pass at 47:58) are held at the latest time seen, so they add no time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analytics/analytics.h"

#define POSS_PERIODS 5            /* periods 1..5; 5 (shoot-out) is never counted */
#define POSS_LAST_TIMED 4         /* the last period that counts */
#define POSS_MAX_GAP_S 30.0       /* a longer interval between events is a stoppage */
#define POSS_MAX_WINDOWS 100000.0 /* per period: more means a broken time or window */

/* ------------------------------------------------------------ windows and totals */

/* Where each period's windows start and how many there are. */
typedef struct poss_span {
    int used;           /* the period has a time */
    double first, last; /* its first and last time */
    long first_w, nwin; /* window numbers first_w .. first_w + nwin - 1 */
    size_t base;        /* index of its first window in out->windows */
    double seconds[2];  /* controlled time per side */
} poss_span;

typedef struct poss_acc {
    double window_s;
    poss_span span[POSS_PERIODS + 1];
    fa_possession *out;
} poss_acc;

static void acc_init(poss_acc *a, double window_s, fa_possession *out) {
    memset(a, 0, sizeof *a);
    a->window_s = window_s;
    a->out = out;
}

/* Notes that period p has a time t (the first pass over the data). */
static void acc_see(poss_acc *a, int p, double t) {
    poss_span *s = &a->span[p];
    if (!s->used) s->first = s->last = t;
    if (t < s->first) s->first = t;
    if (t > s->last) s->last = t;
    s->used = 1;
}

/* Allocates the windows of every period seen (1..4) and sets their bounds. */
static int acc_alloc(poss_acc *a) {
    size_t total = 0;
    for (int p = 1; p <= POSS_LAST_TIMED; p++) {
        poss_span *s = &a->span[p];
        if (!s->used) continue;
        double first_w = floor(s->first / a->window_s), end_w = ceil(s->last / a->window_s);
        if (!(end_w - first_w <= POSS_MAX_WINDOWS) || !(fabs(first_w) <= 1e15))
            return fa_err_set(FA_EINVAL,
                              "possession: period %d runs from %g s to %g s: more than %g windows of %g s", p,
                              s->first, s->last, POSS_MAX_WINDOWS, a->window_s);
        s->first_w = (long)first_w;
        long last_w = (long)end_w - 1;
        s->nwin = last_w >= s->first_w ? last_w - s->first_w + 1 : 1;
        s->base = total;
        total += (size_t)s->nwin;
    }
    if (!total) return 0;
    a->out->windows = fa_calloc(total, sizeof *a->out->windows);
    if (!a->out->windows) return FA_ENOMEM;
    a->out->nwindows = total;
    for (int p = 1; p <= POSS_LAST_TIMED; p++) {
        const poss_span *s = &a->span[p];
        for (long k = 0; s->used && k < s->nwin; k++) {
            fa_possession_window *w = &a->out->windows[s->base + (size_t)k];
            w->period = p;
            w->t0 = fmax((double)(s->first_w + k) * a->window_s, s->first);
            w->t1 = fmin((double)(s->first_w + k + 1) * a->window_s, s->last);
        }
    }
    return 0;
}

/* Window slot (0 .. nwin-1) of time t in a period. */
static long acc_slot(const poss_acc *a, const poss_span *s, double t) {
    long k = (long)floor(t / a->window_s) - s->first_w;
    return k < 0 ? 0 : k >= s->nwin ? s->nwin - 1 : k;
}

/* Credits side with the interval [t0, t1] of period p, split over windows.
 * Window shares hold seconds until acc_finish turns them into fractions. */
static void acc_credit(poss_acc *a, int p, fa_side side, double t0, double t1) {
    poss_span *s = &a->span[p];
    if (t1 <= t0 || !s->used) return;
    s->seconds[side] += t1 - t0;
    long last = acc_slot(a, s, t1);
    for (long k = acc_slot(a, s, t0); k <= last; k++) {
        /* The outermost slots also take times beyond them (acc_slot clamps). */
        double lo = k == 0 ? -INFINITY : (double)(s->first_w + k) * a->window_s;
        double hi = k == s->nwin - 1 ? INFINITY : (double)(s->first_w + k + 1) * a->window_s;
        double part = fmin(t1, hi) - fmax(t0, lo);
        if (part > 0) a->out->windows[s->base + (size_t)k].share[side] += part;
    }
}

static void share_of(const double seconds[2], double share[2]) {
    double total = seconds[0] + seconds[1];
    share[0] = total > 0 ? seconds[0] / total : NAN;
    share[1] = total > 0 ? seconds[1] / total : NAN;
}

/* Turns the seconds into shares: match, periods, windows. */
static void acc_finish(poss_acc *a) {
    fa_possession *out = a->out;
    for (int p = 1; p <= POSS_PERIODS; p++) {
        const poss_span *s = &a->span[p];
        if (p <= POSS_LAST_TIMED) {
            out->seconds[0] += s->seconds[0];
            out->seconds[1] += s->seconds[1];
        }
        share_of(s->seconds, out->period_share[p - 1]);
    }
    share_of(out->seconds, out->share);
    for (size_t k = 0; k < out->nwindows; k++) {
        double secs[2] = {out->windows[k].share[0], out->windows[k].share[1]};
        share_of(secs, out->windows[k].share);
    }
}

static int check_config(const fa_analytics_config *c, const char *what) {
    if (!c) return fa_err_set(FA_EINVAL, "%s: no configuration given", what);
    if (!isfinite(c->possession_window_s) || c->possession_window_s <= 0)
        return fa_err_set(FA_EINVAL, "%s: possession_window_s = %g: expected a positive number of seconds",
                          what, c->possession_window_s);
    return 0;
}

static void possession_reset(fa_possession *out) {
    memset(out, 0, sizeof *out);
    out->share[0] = out->share[1] = NAN;
    for (int p = 0; p < POSS_PERIODS; p++)
        out->period_share[p][0] = out->period_share[p][1] = NAN;
}

/* ------------------------------------------------------------ events: what an event means */

static int poss_type_is(const fa_event *e, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(e->type, names[i]) == 0) return 1;
    return 0;
}

/* A provider type (kind OTHER) naming the player who had the ball as he lost it. */
static int poss_lost_on_ball(const fa_event *e) {
    static const char *const lost[] = {"BALL LOST", "Miscontrol", "Dispossessed"};
    return e->kind == FA_EV_OTHER && poss_type_is(e, lost, sizeof lost / sizeof lost[0]);
}

static int poss_keeper_controls(const fa_event *e) {
    static const char *const passive[] = {"Shot Faced", "Goal Conceded", "Penalty Conceded"};
    for (size_t i = 0; i < sizeof passive / sizeof passive[0]; i++)
        if (strcasecmp(e->subtype, passive[i]) == 0) return 0;
    return e->success == 1;
}

/* 1 when e gives its team control of the ball (see the header comment). */
static int poss_controls(const fa_event *e) {
    if (e->side != FA_SIDE_HOME && e->side != FA_SIDE_AWAY) return 0;
    switch (e->kind) {
    case FA_EV_PASS:
    case FA_EV_CARRY:
    case FA_EV_DRIBBLE:
    case FA_EV_SHOT:
    case FA_EV_SET_PIECE:
    case FA_EV_CLEARANCE: return 1;
    case FA_EV_RECEIPT:
    case FA_EV_RECOVERY: return e->success != 0;
    case FA_EV_INTERCEPTION:
    case FA_EV_DUEL: return e->success == 1;
    case FA_EV_GOALKEEPER: return poss_keeper_controls(e);
    case FA_EV_OTHER: return poss_lost_on_ball(e);
    default: return 0;
    }
}

/* 1 when e restarts play after a stoppage (a set piece). */
static int poss_restarts(const fa_event *e) {
    static const char *const restarts[] = {"throw",    "corner",   "free kick", "goal kick",
                                           "kick off", "kick-off", "penalty"};
    if (e->kind == FA_EV_SET_PIECE) return 1;
    if (e->kind != FA_EV_PASS && e->kind != FA_EV_SHOT) return 0;
    for (size_t i = 0; i < sizeof restarts / sizeof restarts[0]; i++)
        if (strcasestr(e->pass_type, restarts[i]) || strcasestr(e->subtype, restarts[i])) return 1;
    return 0;
}

/* ------------------------------------------------------------ events */

static int check_event(const fa_event *e, size_t i, int last_period) {
    if (e->period < 1 || e->period > POSS_PERIODS)
        return fa_err_set(FA_EINVAL, "possession: event %zu (seq %lld): period %d outside 1..5", i,
                          (long long)e->seq, e->period);
    if (e->period < last_period)
        return fa_err_set(FA_EINVAL,
                          "possession: event %zu (seq %lld): period %d after period %d "
                          "(events must be in match order)",
                          i, (long long)e->seq, e->period, last_period);
    if (!isfinite(e->t) || e->t < 0)
        return fa_err_set(FA_EINVAL, "possession: event %zu (seq %lld): time %g is not a time in the period",
                          i, (long long)e->seq, e->t);
    if (e->side != FA_SIDE_NONE && e->side != FA_SIDE_HOME && e->side != FA_SIDE_AWAY)
        return fa_err_set(FA_EINVAL, "possession: event %zu (seq %lld): side %d is not home, away or none", i,
                          (long long)e->seq, (int)e->side);
    return 0;
}

/* First pass: validates and finds each period's time span (times held at
 * the latest seen, as the second pass does). */
static int events_scan(const fa_event *ev, size_t n, poss_acc *a) {
    int period = 0;
    double clock = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = check_event(&ev[i], i, period);
        if (rc) return rc;
        if (ev[i].period != period) clock = ev[i].t;
        period = ev[i].period;
        clock = fmax(clock, ev[i].t);
        acc_see(a, period, clock);
    }
    return 0;
}

/* Second pass: each interval between consecutive events of a period goes to
 * the team in control at its start, unless it is dead (see the header). */
static void events_credit(const fa_event *ev, size_t n, poss_acc *a) {
    int period = 0;
    double clock = 0;
    fa_side owner = FA_SIDE_NONE;
    for (size_t i = 0; i < n; i++) {
        const fa_event *e = &ev[i];
        if (e->period > POSS_LAST_TIMED) break;
        if (e->period != period) {
            period = e->period;
            clock = e->t;
            owner = FA_SIDE_NONE;
        }
        double t = fmax(clock, e->t);
        if (owner != FA_SIDE_NONE && t - clock <= POSS_MAX_GAP_S && !poss_restarts(e))
            acc_credit(a, period, owner, clock, t);
        clock = t;
        if (fa_event_ends_play(e))
            owner = FA_SIDE_NONE;
        else if (poss_controls(e))
            owner = e->side;
    }
}

/* Contract: ev[0..n) in match order; c gives possession_window_s. Fills out
 * (free with fa_possession_free, also after an error). */
int fa_possession_from_events(const fa_event *ev, size_t n, const fa_analytics_config *c,
                              fa_possession *out) {
    if (!out) return fa_err_set(FA_EINVAL, "possession from events: no output given");
    possession_reset(out);
    if (!ev && n) return fa_err_set(FA_EINVAL, "possession from events: %zu events but no array", n);
    int rc = check_config(c, "possession from events");
    if (rc) return rc;
    fa_strlcpy_utf8(
        out->method,
        "events: team of the last controlling on-ball action; dead balls, restarts, gaps > 30 s excluded",
        sizeof out->method);
    poss_acc a;
    acc_init(&a, c->possession_window_s, out);
    if ((rc = events_scan(ev, n, &a)) || (rc = acc_alloc(&a))) {
        fa_possession_free(out);
        return rc;
    }
    events_credit(ev, n, &a);
    acc_finish(&a);
    return 0;
}

/* ------------------------------------------------------------ tracking */

/* The tracks of one period: the ball and the players. */
typedef struct poss_frame_view {
    const fa_track *ball;
    const fa_track **players;
    size_t nplayers;
    size_t *cursor; /* per player: first sample not before the current ball time - tol */
    double tol;     /* half a frame */
} poss_frame_view;

static int view_open(const fa_tracking *tr, int period, poss_frame_view *v) {
    memset(v, 0, sizeof *v);
    v->tol = 0.5 / tr->frame_rate;
    size_t np = 0;
    for (size_t k = 0; k < tr->ntracks; k++) {
        const fa_track *t = &tr->tracks[k];
        if (t->period != period) continue;
        if (strcmp(t->id, FA_BALL_ID) == 0)
            v->ball = t;
        else if (t->side == FA_SIDE_HOME || t->side == FA_SIDE_AWAY)
            np++;
    }
    if (!np) return 0;
    v->players = fa_calloc(np, sizeof *v->players);
    v->cursor = fa_calloc(np, sizeof *v->cursor);
    if (!v->players || !v->cursor) return FA_ENOMEM;
    for (size_t k = 0; k < tr->ntracks; k++) {
        const fa_track *t = &tr->tracks[k];
        if (t->period == period && strcmp(t->id, FA_BALL_ID) != 0 &&
            (t->side == FA_SIDE_HOME || t->side == FA_SIDE_AWAY))
            v->players[v->nplayers++] = t;
    }
    return 0;
}

static void view_close(poss_frame_view *v) {
    free(v->players);
    free(v->cursor);
    memset(v, 0, sizeof *v);
}

/* Side of the nearest player within radius of the ball at ball sample b,
 * FA_SIDE_NONE when nobody is near. Ball samples must be visited in order. */
static fa_side view_candidate(poss_frame_view *v, size_t b, double radius) {
    double bt = v->ball->t[b], bx = v->ball->x[b], by = v->ball->y[b];
    double best = radius * radius;
    fa_side side = FA_SIDE_NONE;
    for (size_t k = 0; k < v->nplayers; k++) {
        const fa_track *p = v->players[k];
        size_t *i = &v->cursor[k];
        while (*i < p->n && p->t[*i] < bt - v->tol)
            (*i)++;
        if (*i == p->n || p->t[*i] > bt + v->tol) continue;
        double dx = p->x[*i] - bx, dy = p->y[*i] - by, d2 = dx * dx + dy * dy;
        if (d2 <= best) {
            best = d2;
            side = p->side;
        }
    }
    return side;
}

static int ball_on_pitch(const fa_pitch *p, const fa_track *ball, size_t b) {
    return fabs(ball->x[b]) <= p->length / 2 && fabs(ball->y[b]) <= p->width / 2;
}

/* 1 when a touch by `challenger` at sample b takes the ball from `owner`:
 * no owner's player is the candidate during the next hysteresis_s. */
static int takes_over(const fa_side *cand, const fa_track *ball, size_t b, fa_side owner,
                      double hysteresis_s) {
    if (owner == FA_SIDE_NONE) return 1;
    for (size_t k = b + 1; k < ball->n && ball->t[k] - ball->t[b] < hysteresis_s; k++)
        if (cand[k] == owner) return 0;
    return 1;
}

/* One period: candidates per ball sample, then owner with hysteresis, then credit. */
static int tracking_period(const fa_tracking *tr, int period, const fa_analytics_config *c, poss_acc *a) {
    poss_frame_view v;
    int rc = view_open(tr, period, &v);
    if (rc || !v.ball) {
        view_close(&v);
        return rc;
    }
    fa_side *cand = fa_calloc(v.ball->n ? v.ball->n : 1, sizeof *cand);
    if (!cand) {
        view_close(&v);
        return FA_ENOMEM;
    }
    for (size_t b = 0; b < v.ball->n; b++)
        cand[b] =
            ball_on_pitch(&tr->pitch, v.ball, b) ? view_candidate(&v, b, c->owner_radius_m) : FA_SIDE_NONE;
    fa_side owner = FA_SIDE_NONE;
    double frame_s = 1.0 / tr->frame_rate;
    for (size_t b = 0; b < v.ball->n; b++) {
        if (cand[b] != FA_SIDE_NONE && cand[b] != owner &&
            takes_over(cand, v.ball, b, owner, c->owner_hysteresis_s))
            owner = cand[b];
        if (owner != FA_SIDE_NONE && ball_on_pitch(&tr->pitch, v.ball, b))
            acc_credit(a, period, owner, v.ball->t[b], v.ball->t[b] + frame_s);
    }
    free(cand);
    view_close(&v);
    return 0;
}

static int check_tracking(const fa_tracking *tr, const fa_analytics_config *c) {
    const char *what = "possession from tracking";
    int rc = check_config(c, what);
    if (rc) return rc;
    if (!isfinite(c->owner_radius_m) || c->owner_radius_m <= 0)
        return fa_err_set(FA_EINVAL, "%s: owner_radius_m = %g: expected a positive distance in metres", what,
                          c->owner_radius_m);
    if (!isfinite(c->owner_hysteresis_s) || c->owner_hysteresis_s < 0)
        return fa_err_set(FA_EINVAL, "%s: owner_hysteresis_s = %g: expected seconds >= 0", what,
                          c->owner_hysteresis_s);
    if (!isfinite(tr->frame_rate) || tr->frame_rate <= 0)
        return fa_err_set(FA_EINVAL, "%s: frame rate %g is not positive", what, tr->frame_rate);
    if (!isfinite(tr->pitch.length) || !isfinite(tr->pitch.width) || tr->pitch.length <= 0 ||
        tr->pitch.width <= 0)
        return fa_err_set(FA_EINVAL, "%s: pitch %g x %g m is not a pitch", what, tr->pitch.length,
                          tr->pitch.width);
    return 0;
}

/* First pass: each period's time span from its ball samples; 0 when a ball
 * track exists, else FA_EINVAL. */
static int tracking_scan(const fa_tracking *tr, poss_acc *a) {
    int seen = 0;
    for (size_t k = 0; k < tr->ntracks; k++) {
        const fa_track *t = &tr->tracks[k];
        if (strcmp(t->id, FA_BALL_ID) != 0 || t->period < 1 || t->period > POSS_LAST_TIMED || !t->n) continue;
        if (!isfinite(t->t[0]) || !isfinite(t->t[t->n - 1]))
            return fa_err_set(FA_EINVAL, "possession from tracking: period %d: ball time is not finite",
                              t->period);
        acc_see(a, t->period, t->t[0]);
        acc_see(a, t->period, t->t[t->n - 1] + 1.0 / tr->frame_rate);
        seen = 1;
    }
    if (!seen)
        return fa_err_set(FA_EINVAL, "possession from tracking: no ball samples in periods 1-4 "
                                     "(ownership by proximity needs the ball)");
    return 0;
}

/* Contract: tr holds the tracks of one match (tracks.c); c gives the window,
 * owner radius and hysteresis. Fills out (free with fa_possession_free, also
 * after an error). Tracking without any ball sample is FA_EINVAL. */
int fa_possession_from_tracking(const fa_tracking *tr, const fa_analytics_config *c, fa_possession *out) {
    if (!out) return fa_err_set(FA_EINVAL, "possession from tracking: no output given");
    possession_reset(out);
    if (!tr) return fa_err_set(FA_EINVAL, "possession from tracking: no tracking given");
    int rc = check_tracking(tr, c);
    if (rc) return rc;
    char method[256];
    snprintf(method, sizeof method, "tracking: owner = nearest player <= %.3g m; team change held %.3g s; %s",
             c->owner_radius_m, c->owner_hysteresis_s, "ball off pitch excluded");
    fa_strlcpy_utf8(out->method, method, sizeof out->method);
    poss_acc a;
    acc_init(&a, c->possession_window_s, out);
    rc = tracking_scan(tr, &a);
    if (!rc) rc = acc_alloc(&a);
    for (int p = 1; !rc && p <= POSS_LAST_TIMED; p++)
        rc = tracking_period(tr, p, c, &a);
    if (rc) {
        fa_possession_free(out);
        return rc;
    }
    acc_finish(&a);
    return 0;
}

/* Contract: frees the windows and leaves p empty; p may be NULL. */
void fa_possession_free(fa_possession *p) {
    if (!p) return;
    free(p->windows);
    p->windows = NULL;
    p->nwindows = 0;
}
