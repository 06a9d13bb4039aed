/*
 * pitch_control.c - GET /v1/matches/{id}/pitch-control?period&t: Spearman's
 * (2018) pitch control of the tracking frame nearest to t: for each cell
 * of a 50 x 32 grid, the probability that each side would control a ball
 * played there.
 *
 * The model needs velocities, which frames do not store: they come from
 * the neighbouring frames (central difference over the frame before and
 * the frame after, one-sided at an edge or a gap), capped at the
 * analytics' player speed gate (12 m/s) so a tracking glitch cannot launch
 * a player across the pitch. Only frames within 1 s of t are read; the
 * chosen frame is the nearest one that has a ball position (the model
 * starts from the ball). Goalkeepers (roster position "Goalkeeper"/"GK")
 * get the model's goalkeeper factor; the attacking side is the frame's ball
 * owner, else the side of the player nearest the ball.
 *
 * Computed on request, not stored: one frame costs a few milliseconds, and
 * the response is cached like any other data of the match.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "../app_internal.h"

#define SEARCH_S 1.0

typedef struct pc_obj {
    char id[FA_ID_MAX];
    fa_side side;
    float x, y;
} pc_obj;

typedef struct pc_frame {
    int64_t frame;
    double t;
    float bx, by;
    fa_side owner;
    size_t n;
    pc_obj p[FA_FRAME_MAX_PLAYERS];
} pc_frame;

typedef struct pc_frames {
    fa_arena *arena;
    pc_frame **f;
    size_t n, cap;
} pc_frames;

static int collect(void *ud, const fa_frame *f) {
    pc_frames *fs = ud;
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 64;
        pc_frame **grown = fa_arena_alloc(fs->arena, cap * sizeof *grown);
        if (!grown) return FA_ENOMEM;
        if (fs->n) memcpy(grown, fs->f, fs->n * sizeof *grown);
        fs->f = grown;
        fs->cap = cap;
    }
    pc_frame *c = fa_arena_alloc(fs->arena, sizeof *c);
    if (!c) return FA_ENOMEM;
    c->frame = f->frame;
    c->t = f->t;
    c->bx = f->ball_x;
    c->by = f->ball_y;
    c->owner = f->ball_owner_side;
    c->n = 0;
    for (size_t i = 0; i < f->n && c->n < FA_FRAME_MAX_PLAYERS; i++) {
        const fa_frame_player *p = &f->players[i];
        if (!p->player_id || !isfinite(p->x) || !isfinite(p->y)) continue;
        pc_obj *o = &c->p[c->n++];
        fa_strlcpy_utf8(o->id, p->player_id, sizeof o->id);
        o->side = p->side;
        o->x = p->x;
        o->y = p->y;
    }
    fs->f[fs->n++] = c;
    return 0;
}

/* Index of the frame nearest t with a ball position; -1 when none. */
static long nearest(const pc_frames *fs, double t) {
    long best = -1;
    for (size_t i = 0; i < fs->n; i++) {
        const pc_frame *f = fs->f[i];
        if (!isfinite(f->bx) || !isfinite(f->by)) continue;
        if (best < 0 || fabs(f->t - t) < fabs(fs->f[best]->t - t)) best = (long)i;
    }
    return best;
}

static const pc_obj *find_obj(const pc_frame *f, const char *id) {
    for (size_t i = 0; f && i < f->n; i++)
        if (strcmp(f->p[i].id, id) == 0) return &f->p[i];
    return NULL;
}

/* Velocity of o (in cur) from the neighbouring frames; 0 when they do not tell. */
static void velocity(const pc_frame *prev, const pc_frame *cur, const pc_frame *next, const pc_obj *o,
                     double max_speed, float *vx, float *vy) {
    const pc_obj *a = find_obj(prev, o->id), *b = find_obj(next, o->id);
    double ta = a ? prev->t : cur->t, tb = b ? next->t : cur->t;
    if (!a) a = o;
    if (!b) b = o;
    double dt = tb - ta;
    *vx = *vy = 0;
    if (!(dt > 0 && dt <= SEARCH_S)) return;
    double ux = (b->x - a->x) / dt, uy = (b->y - a->y) / dt, speed = hypot(ux, uy);
    if (speed > max_speed) {
        ux *= max_speed / speed;
        uy *= max_speed / speed;
    }
    *vx = (float)ux;
    *vy = (float)uy;
}

static int is_goalkeeper(const fa_api_roster *ro, const char *id) {
    const fa_player *p = fa_api_roster_find(ro, id);
    return p && (strcasestr(p->position, "goalkeeper") || strcasecmp(p->position, "GK") == 0);
}

static fa_side attacking_side(const pc_frame *f) {
    if (f->owner == FA_SIDE_HOME || f->owner == FA_SIDE_AWAY) return f->owner;
    fa_side side = FA_SIDE_HOME;
    double best = INFINITY;
    for (size_t i = 0; i < f->n; i++) {
        double d = hypot(f->p[i].x - f->bx, f->p[i].y - f->by);
        if (f->p[i].side != FA_SIDE_NONE && d < best) {
            best = d;
            side = f->p[i].side;
        }
    }
    return side;
}

static void jw_grid(fa_jw *w, const char *key, const float *cells, int nx, int ny) {
    fa_jw_key(w, key);
    fa_jw_arr(w);
    for (int j = 0; j < ny; j++) {
        fa_jw_arr(w);
        for (int i = 0; i < nx; i++) fa_jw_round(w, cells[(size_t)j * (size_t)nx + (size_t)i], 4);
        fa_jw_end_arr(w);
    }
    fa_jw_end_arr(w);
}

static void jw_result(fa_jw *w, const fa_match_row *row, int64_t period, double t, const pc_frame *f,
                      fa_side attacking, const fa_pc_grid *g) {
    fa_jw_obj(w);
    fa_api_jw_match_ref(w, row);
    fa_jw_key(w, "period");
    fa_jw_int(w, period);
    fa_jw_key(w, "t");
    fa_jw_num(w, t);
    fa_jw_key(w, "frame");
    fa_jw_obj(w);
    fa_jw_key(w, "frame");
    fa_jw_int(w, f->frame);
    fa_jw_key(w, "t");
    fa_jw_round(w, f->t, 3);
    fa_jw_end_obj(w);
    fa_jw_key(w, "model");
    fa_jw_str(w, "Spearman 2018, velocities from neighbouring frames");
    fa_jw_key(w, "attacking");
    fa_jw_str(w, fa_side_name(attacking));
    fa_jw_key(w, "ball");
    fa_jw_obj(w);
    fa_jw_key(w, "x");
    fa_jw_round(w, f->bx, 2);
    fa_jw_key(w, "y");
    fa_jw_round(w, f->by, 2);
    fa_jw_end_obj(w);
    fa_jw_key(w, "nx");
    fa_jw_int(w, g->nx);
    fa_jw_key(w, "ny");
    fa_jw_int(w, g->ny);
    jw_grid(w, "home", g->home, g->nx, g->ny);
    jw_grid(w, "away", g->away, g->nx, g->ny);
    fa_jw_end_obj(w);
}

typedef struct pc_query {
    int64_t period;
    double t;
} pc_query;

static int read_query(fa_api_req *r, pc_query *q) {
    q->period = 1;
    int rc = fa_api_q_int(r, "period", 1, 5, &q->period);
    if (rc < 0) return rc;
    rc = fa_api_q_num(r, "t", 0, 86400, "seconds from the start of the period, 0..86400", &q->t);
    if (rc < 0) return rc;
    if (rc == 0)
        return fa_api_problem(r, 400, "invalid-parameter",
                              "parameter 't' is required: the time in seconds from the start of the period");
    return 0;
}

/* Players of frame b with velocities into out (arena); *n set. */
static fa_pc_player *players_of(fa_api_req *r, const pc_frames *fs, size_t b, const fa_api_roster *ro,
                                size_t *n) {
    const pc_frame *cur = fs->f[b];
    const pc_frame *prev = b > 0 ? fs->f[b - 1] : NULL, *next = b + 1 < fs->n ? fs->f[b + 1] : NULL;
    fa_pc_player *out = fa_arena_alloc(r->t->arena, (cur->n ? cur->n : 1) * sizeof *out);
    *n = 0;
    for (size_t i = 0; out && i < cur->n; i++) {
        const pc_obj *o = &cur->p[i];
        if (o->side != FA_SIDE_HOME && o->side != FA_SIDE_AWAY) continue;
        fa_pc_player *p = &out[(*n)++];
        p->x = o->x;
        p->y = o->y;
        p->side = o->side;
        p->is_gk = is_goalkeeper(ro, o->id);
        velocity(prev, cur, next, o, r->t->app->analytics.player_max_speed, &p->vx, &p->vy);
    }
    return out;
}

int fa_api_h_pitch_control(fa_api_req *r) {
    fa_match_row row;
    fa_api_roster ro;
    pc_query q;
    char ref[FA_ID_MAX + 40];
    int rc = read_query(r, &q);
    if (rc || (rc = fa_api_load_match(r, &row))) return rc;
    if (row.n_frames == 0)
        return fa_api_problem(r, 404, "not-found", "match '%s' has no tracking data",
                              fa_api_match_ref(&row, ref, sizeof ref));
    if ((rc = fa_api_load_roster(r, row.id, &ro))) return rc;
    pc_frames fs = {r->t->arena, NULL, 0, 0};
    rc =
        fa_store_frames(fa_api_store(r), row.id, (int)q.period, q.t - SEARCH_S, q.t + SEARCH_S, collect, &fs);
    if (rc) return fa_api_fail(r, rc, "reading tracking");
    long b = nearest(&fs, q.t);
    if (b < 0)
        return fa_api_problem(r, 404, "not-found",
                              "match '%s' has no frame with the ball within %g s of t=%g in period %lld",
                              fa_api_match_ref(&row, ref, sizeof ref), SEARCH_S, q.t, (long long)q.period);
    size_t n;
    fa_pc_player *players = players_of(r, &fs, (size_t)b, &ro, &n);
    if (!players) return fa_api_fail(r, FA_ENOMEM, "computing pitch control");
    const pc_frame *f = fs.f[b];
    fa_side attacking = attacking_side(f);
    fa_pitch pitch = row.m.pitch;
    if (!(pitch.length > 0 && pitch.width > 0))
        pitch = (fa_pitch){FA_PITCH_DEFAULT_LENGTH, FA_PITCH_DEFAULT_WIDTH};
    fa_pc_grid g = {0};
    rc = fa_pitch_control(players, n, f->bx, f->by, attacking, &pitch, &r->t->app->analytics.pc, &g);
    if (rc == FA_ENOMEM) return fa_api_fail(r, rc, "computing pitch control");
    if (rc) { /* the inputs are stored data: a refusal is ours, not the client's */
        fa_log(FA_LOG_ERROR, "api: pitch control failed", "request_id=%llu error=\"%s\"",
               (unsigned long long)r->http->id, fa_err_msg());
        return fa_api_problem(r, 500, "internal", "pitch control failed for frame %lld (request %llu)",
                              (long long)f->frame, (unsigned long long)r->http->id);
    }
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    jw_result(&w, &row, q.period, q.t, f, attacking, &g);
    fa_pc_grid_free(&g);
    return fa_api_jw_done(r, &w);
}
