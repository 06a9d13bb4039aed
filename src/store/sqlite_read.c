/*
 * sqlite_read.c - reading matches, players, events and tracking back from
 * SQLite into the model structs.
 *
 * Each read picks the statement whose index drives it (see the statement
 * table in sqlite.c) and binds every filter, absent ones as NULL; rows are
 * handed to the caller's callback one at a time, so a whole match never has
 * to sit in memory. Absent values come back as the model's own "unknown"
 * (NAN, -1, ""), the inverse of what the import stored, so every field
 * round-trips exactly.
 */
#include <math.h>
#include <string.h>

#include "sqlite_internal.h"
#include "tracking_chunk.h"

/* Binds a row limit: 0 (or less) means none, which SQLite spells -1. */
static int bind_limit(sqlite3_stmt *st, int i, int limit) {
    return sqlite3_bind_int(st, i, limit > 0 ? limit : -1);
}

/* ------------------------------------------------------------ matches */

static void read_match_row(sqlite3_stmt *st, fa_match_row *r) {
    char provider[32];
    memset(r, 0, sizeof *r);
    fa_sq_col_text(st, 1, provider, sizeof provider);
    fa_match_init(&r->m, fa_provider_parse(provider));
    fa_match *m = &r->m;
    r->id = sqlite3_column_int64(st, 0);
    fa_sq_col_text(st, 2, m->id, sizeof m->id);
    fa_sq_col_text(st, 3, m->competition, sizeof m->competition);
    fa_sq_col_text(st, 4, m->season, sizeof m->season);
    fa_sq_col_text(st, 5, m->date, sizeof m->date);
    for (int side = 0; side < 2; side++) {
        fa_sq_col_text(st, 6 + 2 * side, m->teams[side].id, sizeof m->teams[side].id);
        fa_sq_col_text(st, 7 + 2 * side, m->teams[side].name, sizeof m->teams[side].name);
        m->score[side] = (int)fa_sq_col_int(st, 10 + side, -1);
    }
    m->pitch.length = fa_sq_col_real(st, 12);
    m->pitch.width = fa_sq_col_real(st, 13);
    m->provider_length = fa_sq_col_real(st, 14);
    m->provider_width = fa_sq_col_real(st, 15);
    fa_sq_col_text(st, 16, m->provider_unit, sizeof m->provider_unit);
    m->frame_rate = fa_sq_col_real(st, 17);
    fa_sq_col_text(st, 18, m->source, sizeof m->source);
    fa_sq_col_text(st, 19, r->imported_at, sizeof r->imported_at);
    r->n_events = sqlite3_column_int64(st, 20);
    r->n_frames = sqlite3_column_int64(st, 21);
    r->n_players = sqlite3_column_int64(st, 22);
}

/* The statement whose index drives this filter; the rest are residual. */
static fa_sq_id matches_query(const fa_match_filter *f) {
    if (f->team && *f->team) return FA_SQ_MATCHES_BY_TEAM;
    if (f->competition && *f->competition) return FA_SQ_MATCHES_BY_COMPETITION;
    if (f->season && *f->season) return FA_SQ_MATCHES_BY_SEASON;
    if ((f->date_from && *f->date_from) || (f->date_to && *f->date_to)) return FA_SQ_MATCHES_BY_DATE;
    return FA_SQ_MATCHES_ALL;
}

static int bind_match_filter(sqlite3_stmt *st, const fa_match_filter *f) {
    int b = fa_sq_bind_text(st, 1, f->competition);
    b |= fa_sq_bind_text(st, 2, f->season);
    b |= fa_sq_bind_text(st, 3, f->team);
    b |= fa_sq_bind_text(st, 4, f->date_from);
    b |= fa_sq_bind_text(st, 5, f->date_to);
    b |= sqlite3_bind_int64(st, 6, f->after_id);
    b |= bind_limit(st, 7, f->limit);
    return b;
}

int fa_sq_matches(void *be, const fa_match_filter *f, fa_match_cb cb, void *ud) {
    fa_sq *s = be;
    sqlite3_stmt *st = fa_sq_stmt(s, matches_query(f));
    if (!st) return fa_err_code();
    if (bind_match_filter(st, f)) return fa_sq_fail(s, "binding the match filter");
    int step = SQLITE_DONE, rc = 0;
    fa_match_row row;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        read_match_row(st, &row);
        rc = cb(ud, &row);
    }
    if (!rc && step != SQLITE_DONE) rc = fa_sq_fail(s, "listing matches");
    sqlite3_reset(st);
    return rc;
}

/* Steps a single-match query; FA_ENOTFOUND when it has no row. */
static int one_match(fa_sq *s, sqlite3_stmt *st, fa_match_row *out) {
    int step = sqlite3_step(st), rc = 0;
    if (step == SQLITE_ROW)
        read_match_row(st, out);
    else if (step == SQLITE_DONE)
        rc = FA_ENOTFOUND;
    else
        rc = fa_sq_fail(s, "finding a match");
    sqlite3_reset(st);
    return rc;
}

int fa_sq_match_by_id(void *be, int64_t id, fa_match_row *out) {
    fa_sq *s = be;
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_MATCH_BY_ID);
    if (!st) return fa_err_code();
    sqlite3_bind_int64(st, 1, id);
    return one_match(s, st, out);
}

int fa_sq_match_by_provider(void *be, fa_provider provider, const char *provider_id, fa_match_row *out) {
    fa_sq *s = be;
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_MATCH_BY_PROVIDER);
    if (!st) return fa_err_code();
    sqlite3_bind_text(st, 1, fa_provider_name(provider), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, provider_id, -1, SQLITE_STATIC);
    return one_match(s, st, out);
}

/* ------------------------------------------------------------ players */

static void read_player(sqlite3_stmt *st, fa_player *p) {
    fa_player_init(p);
    fa_sq_col_text(st, 0, p->id, sizeof p->id);
    p->side = (fa_side)fa_sq_col_int(st, 1, FA_SIDE_NONE);
    fa_sq_col_text(st, 2, p->name, sizeof p->name);
    p->shirt = (int)fa_sq_col_int(st, 3, -1);
    fa_sq_col_text(st, 4, p->position, sizeof p->position);
    p->minutes = fa_sq_col_real(st, 5);
    p->starter = (int)fa_sq_col_int(st, 6, -1);
}

int fa_sq_players(void *be, int64_t match_id, fa_player_cb cb, void *ud) {
    fa_sq *s = be;
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_PLAYERS_BY_MATCH);
    if (!st) return fa_err_code();
    sqlite3_bind_int64(st, 1, match_id);
    int step = SQLITE_DONE, rc = 0;
    fa_player p;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        read_player(st, &p);
        rc = cb(ud, &p);
    }
    if (!rc && step != SQLITE_DONE) rc = fa_sq_fail(s, "listing players");
    sqlite3_reset(st);
    return rc;
}

/* ------------------------------------------------------------ events */

static void read_event(sqlite3_stmt *st, fa_event *e) {
    fa_event_init(e);
    e->seq = sqlite3_column_int64(st, 0);
    e->period = sqlite3_column_int(st, 1);
    e->t = fa_sq_col_real(st, 2);
    e->duration = fa_sq_col_real(st, 3);
    int kind = sqlite3_column_int(st, 4);
    e->kind = kind >= 0 && kind < FA_EV_COUNT ? (fa_event_kind)kind : FA_EV_OTHER;
    fa_sq_col_text(st, 5, e->type, sizeof e->type);
    fa_sq_col_text(st, 6, e->subtype, sizeof e->subtype);
    e->side = (fa_side)fa_sq_col_int(st, 7, FA_SIDE_NONE);
    fa_sq_col_text(st, 8, e->player_id, sizeof e->player_id);
    fa_sq_col_text(st, 9, e->recipient_id, sizeof e->recipient_id);
    e->x = fa_sq_col_real(st, 10);
    e->y = fa_sq_col_real(st, 11);
    e->end_x = fa_sq_col_real(st, 12);
    e->end_y = fa_sq_col_real(st, 13);
    e->end_z = fa_sq_col_real(st, 14);
    e->success = (int)fa_sq_col_int(st, 15, -1);
    fa_sq_col_text(st, 16, e->outcome, sizeof e->outcome);
    e->xg = fa_sq_col_real(st, 17);
    fa_sq_col_text(st, 18, e->body_part, sizeof e->body_part);
    fa_sq_col_text(st, 19, e->pass_type, sizeof e->pass_type);
    e->under_pressure = sqlite3_column_int(st, 20);
    e->goal = sqlite3_column_int(st, 21);
    fa_sq_col_text(st, 22, e->provider_id, sizeof e->provider_id);
    fa_sq_col_text(st, 23, e->related, sizeof e->related);
}

int fa_sq_player_in_match(fa_sq *s, int64_t match_id, const char *player_id, int64_t *id) {
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_PLAYER_IN_MATCH);
    if (!st) return fa_err_code();
    sqlite3_bind_int64(st, 1, match_id);
    sqlite3_bind_text(st, 2, player_id, -1, SQLITE_STATIC);
    return fa_sq_step_id(s, st, "finding the player", id);
}

static fa_sq_id events_query(const fa_event_filter *f, int64_t player) {
    if (player) return FA_SQ_EVENTS_BY_PLAYER;
    if (f->kind >= 0) return FA_SQ_EVENTS_BY_KIND;
    if (f->type && *f->type) return FA_SQ_EVENTS_BY_TYPE;
    if (f->period) return FA_SQ_EVENTS_BY_PERIOD;
    return FA_SQ_EVENTS_BY_SEQ;
}

static int bind_event_filter(sqlite3_stmt *st, const fa_event_filter *f, int64_t player) {
    int b = sqlite3_bind_int64(st, 1, f->match_id);
    b |= sqlite3_bind_int(st, 2, f->kind);
    b |= fa_sq_bind_text(st, 3, f->type);
    b |= fa_sq_bind_id(st, 4, player);
    b |= sqlite3_bind_int(st, 5, f->period);
    b |= fa_sq_bind_real(st, 6, f->t_from);
    b |= fa_sq_bind_real(st, 7, f->t_to);
    b |= sqlite3_bind_int64(st, 8, f->after_seq);
    b |= bind_limit(st, 9, f->limit);
    return b;
}

int fa_sq_events(void *be, const fa_event_filter *f, fa_event_cb cb, void *ud) {
    fa_sq *s = be;
    int64_t player = 0;
    if (f->player_id && *f->player_id) {
        int rc = fa_sq_player_in_match(s, f->match_id, f->player_id, &player);
        if (rc == FA_ENOTFOUND) return 0; /* nobody by that id: no events */
        if (rc) return rc;
    }
    sqlite3_stmt *st = fa_sq_stmt(s, events_query(f, player));
    if (!st) return fa_err_code();
    if (bind_event_filter(st, f, player)) return fa_sq_fail(s, "binding the event filter");
    int step = SQLITE_DONE, rc = 0;
    fa_event e;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        read_event(st, &e);
        rc = cb(ud, &e);
    }
    if (!rc && step != SQLITE_DONE) rc = fa_sq_fail(s, "listing events");
    sqlite3_reset(st);
    return rc;
}

/* ------------------------------------------------------------ tracking */

/* Decodes the chunk in the current row and checks it against the row. */
static int decode_chunk_row(fa_sq *s, sqlite3_stmt *st, int64_t match_id, fa_tchunk **out) {
    int period = sqlite3_column_int(st, 0);
    double t0 = sqlite3_column_double(st, 1);
    int64_t n = sqlite3_column_int64(st, 3), raw = sqlite3_column_int64(st, 5);
    const unsigned char *codec = sqlite3_column_text(st, 4);
    const void *blob = sqlite3_column_blob(st, 6);
    size_t len = (size_t)sqlite3_column_bytes(st, 6);
    int rc = 0;
    *out = NULL;
    if (!codec || strcmp((const char *)codec, FA_TCHUNK_CODEC) != 0)
        rc = fa_err_set(FA_EIO, "unknown codec '%s'", codec ? (const char *)codec : "");
    else if (raw < 0)
        rc = fa_err_set(FA_EIO, "corrupt tracking chunk: raw size %lld", (long long)raw);
    else if (!(rc = fa_tchunk_decode(blob, len, (size_t)raw, out)) &&
             (fa_tchunk_period(*out) != period || (int64_t)fa_tchunk_frames(*out) != n))
        rc = fa_err_set(FA_EIO, "corrupt tracking chunk: period %d and %zu frames, the row says %d and %lld",
                        fa_tchunk_period(*out), fa_tchunk_frames(*out), period, (long long)n);
    if (rc) {
        fa_tchunk_free(*out);
        *out = NULL;
        fa_err_prefix("%s: match %lld, tracking chunk (period %d, t0 %g)", s->path, (long long)match_id,
                      period, t0);
    }
    return rc;
}

static int emit_frames(const fa_tchunk *c, double t_from, double t_to, fa_frame_cb cb, void *ud) {
    fa_frame_player players[FA_FRAME_MAX_PLAYERS];
    fa_frame f;
    for (size_t i = 0; i < fa_tchunk_frames(c); i++) {
        fa_tchunk_frame(c, i, &f, players);
        if ((!isnan(t_from) && f.t < t_from) || (!isnan(t_to) && f.t > t_to)) continue;
        int rc = cb(ud, &f);
        if (rc) return rc;
    }
    return 0;
}

int fa_sq_frames(void *be, int64_t match_id, int period, double t_from, double t_to, fa_frame_cb cb,
                 void *ud) {
    fa_sq *s = be;
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_CHUNKS_BY_MATCH);
    if (!st) return fa_err_code();
    int b = sqlite3_bind_int64(st, 1, match_id);
    b |= sqlite3_bind_int(st, 2, period);
    b |= fa_sq_bind_real(st, 3, t_from);
    b |= fa_sq_bind_real(st, 4, t_to);
    if (b) return fa_sq_fail(s, "binding the frame query");
    int step = SQLITE_DONE, rc = 0;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        fa_tchunk *c;
        rc = decode_chunk_row(s, st, match_id, &c);
        if (!rc) rc = emit_frames(c, t_from, t_to, cb, ud);
        fa_tchunk_free(c);
    }
    if (!rc && step != SQLITE_DONE) rc = fa_sq_fail(s, "reading tracking chunks");
    sqlite3_reset(st);
    return rc;
}
