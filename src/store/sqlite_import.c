/*
 * sqlite_import.c - the SQLite import sink: one match streamed from a
 * parser into one write transaction.
 *
 * Why one transaction per match: a parser can fail half way (a truncated
 * file); BEGIN IMMEDIATE at the start and ROLLBACK on abort leave the
 * database exactly as it was, and COMMIT makes the whole match visible at
 * once. Inside the transaction every row goes through a prepared statement
 * that is reset and rebound, never re-parsed: ~8000 events cost ~50 ms of
 * CPU, most of it SQLite maintaining the five event indexes.
 *
 * Why a map of player ids: events name players by the provider's id, and
 * StatsBomb sends the lineups (with names) after the events. The first
 * sight of an id (lineup or event) creates or finds its global players row;
 * the map (provider id -> row id) answers every later event without SQL.
 *
 * Re-importing a match (same provider and provider id) keeps its store id:
 * begin() deletes the old children (aggregates included) and updates the
 * match row in place. The match's aggregates join the same transaction
 * (fa_sq_import_aggregates), so a match is never visible without them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"
#include "tracking_chunk.h"

/* ------------------------------------------------------------ id map */

typedef struct id_entry {
    const char *key; /* NULL = empty */
    int64_t id;
} id_entry;

typedef struct id_map {
    id_entry *slots;
    size_t cap, n; /* cap is a power of two */
    fa_arena *keys;
} id_map;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static id_entry *idmap_slot(const id_map *m, const char *key) {
    size_t i = (size_t)hash_str(key) & (m->cap - 1);
    while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0) i = (i + 1) & (m->cap - 1);
    return &m->slots[i];
}

static int idmap_get(const id_map *m, const char *key, int64_t *id) {
    if (!m->cap) return 0;
    id_entry *e = idmap_slot(m, key);
    if (!e->key) return 0;
    *id = e->id;
    return 1;
}

static int idmap_grow(id_map *m) {
    size_t cap = m->cap ? m->cap * 2 : 256;
    id_entry *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = fa_calloc(cap, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return FA_ENOMEM;
    }
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key) *idmap_slot(m, old[i].key) = old[i];
    free(old);
    return 0;
}

static int idmap_put(id_map *m, const char *key, int64_t id) {
    if ((m->n + 1) * 4 > m->cap * 3 && idmap_grow(m)) return FA_ENOMEM;
    id_entry *e = idmap_slot(m, key);
    if (!e->key) {
        e->key = fa_arena_strndup(m->keys, key, strlen(key));
        if (!e->key) return FA_ENOMEM;
        m->n++;
    }
    e->id = id;
    return 0;
}

/* ------------------------------------------------------------ import state */

typedef struct sq_import {
    fa_sq *s;
    fa_sink sink;
    int begun, ended, failed; /* failed: the first error, returned by every later call */
    const char *provider;     /* fa_provider_name() of the match */
    char match_ref[FA_ID_MAX]; /* the provider's match id, as begin() gave it */
    int64_t team_id[2];
    id_map players;
    fa_tchunk_writer *chunks;
    fa_buf blob;
    fa_import_stats stats;
} sq_import;

static int track(sq_import *imp, int rc) {
    if (rc && !imp->failed) imp->failed = rc;
    return rc;
}

static int require_match(sq_import *imp, const char *what) {
    if (imp->failed) return imp->failed;
    if (!imp->begun)
        return track(imp, fa_err_set(FA_EINVAL, "%s: store import: %s before begin", imp->s->path, what));
    if (imp->ended)
        return track(imp, fa_err_set(FA_EINVAL, "%s: store import: %s after end", imp->s->path, what));
    return 0;
}

static int bad_side(sq_import *imp, const char *what, int side) {
    if (side >= FA_SIDE_NONE && side <= FA_SIDE_AWAY) return 0;
    return fa_err_set(FA_EINVAL, "%s: store import: %s: side %d is not -1, 0 or 1", imp->s->path, what, side);
}

static int64_t team_of(const sq_import *imp, int side) { return side >= 0 ? imp->team_id[side] : 0; }

/* ------------------------------------------------------------ match row */

/* Upserts a competition or season name; *id = 0 for "". */
static int upsert_name(sq_import *imp, fa_sq_id q, const char *name, int64_t *id) {
    *id = 0;
    if (!*name) return 0;
    sqlite3_stmt *st = fa_sq_stmt(imp->s, q);
    if (!st) return fa_err_code();
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return fa_sq_step_id(imp->s, st, q == FA_SQ_SEASON_UPSERT ? "season" : "competition", id);
}

static int upsert_team(sq_import *imp, const fa_team *t, int64_t *id) {
    sqlite3_stmt *st = fa_sq_stmt(imp->s, FA_SQ_TEAM_UPSERT);
    if (!st) return fa_err_code();
    sqlite3_bind_text(st, 1, imp->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, t->name, -1, SQLITE_STATIC);
    return fa_sq_step_id(imp->s, st, "team", id);
}

static int bind_match(sqlite3_stmt *st, const sq_import *imp, const fa_match *m, int64_t comp,
                      int64_t season) {
    int b = sqlite3_bind_text(st, 1, imp->provider, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 2, imp->match_ref, -1, SQLITE_STATIC);
    b |= fa_sq_bind_id(st, 3, comp);
    b |= fa_sq_bind_id(st, 4, season);
    b |= fa_sq_bind_text(st, 5, m->date);
    b |= fa_sq_bind_id(st, 6, imp->team_id[0]);
    b |= fa_sq_bind_id(st, 7, imp->team_id[1]);
    b |= fa_sq_bind_int(st, 8, m->score[0], -1);
    b |= fa_sq_bind_int(st, 9, m->score[1], -1);
    b |= fa_sq_bind_real(st, 10, m->pitch.length);
    b |= fa_sq_bind_real(st, 11, m->pitch.width);
    b |= fa_sq_bind_real(st, 12, m->provider_length);
    b |= fa_sq_bind_real(st, 13, m->provider_width);
    b |= fa_sq_bind_text(st, 14, m->provider_unit);
    b |= fa_sq_bind_real(st, 15, m->frame_rate);
    b |= fa_sq_bind_text(st, 16, m->source);
    return b;
}

/* Clears everything an earlier import of the match stored under it,
 * aggregates included: an import without analytics leaves none behind. */
static int delete_children(sq_import *imp) {
    static const fa_sq_id deletes[] = {FA_SQ_DELETE_MATCH_PLAYERS, FA_SQ_DELETE_EVENTS, FA_SQ_DELETE_CHUNKS};
    for (size_t i = 0; i < sizeof deletes / sizeof *deletes; i++) {
        sqlite3_stmt *st = fa_sq_stmt(imp->s, deletes[i]);
        if (!st) return fa_err_code();
        sqlite3_bind_int64(st, 1, imp->stats.match_id);
        int rc = fa_sq_step_done(imp->s, st, "replacing the earlier import");
        if (rc) return rc;
    }
    return fa_sq_aggregates_delete(imp->s, imp->stats.match_id);
}

/* On begin: finds an earlier import of the same match and clears it. */
static int claim_existing(sq_import *imp) {
    sqlite3_stmt *st = fa_sq_stmt(imp->s, FA_SQ_MATCH_ID_BY_PROVIDER);
    if (!st) return fa_err_code();
    sqlite3_bind_text(st, 1, imp->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, imp->match_ref, -1, SQLITE_STATIC);
    int rc = fa_sq_step_id(imp->s, st, "finding the match", &imp->stats.match_id);
    if (rc == FA_ENOTFOUND) return 0;
    if (rc) return rc;
    imp->stats.replaced = 1;
    return delete_children(imp);
}

static int store_match_row(sq_import *imp, const fa_match *m, int64_t comp, int64_t season) {
    int update = imp->stats.match_id != 0;
    sqlite3_stmt *st = fa_sq_stmt(imp->s, update ? FA_SQ_MATCH_UPDATE : FA_SQ_MATCH_INSERT);
    if (!st) return fa_err_code();
    if (bind_match(st, imp, m, comp, season) || (update && sqlite3_bind_int64(st, 17, imp->stats.match_id)))
        return fa_sq_fail(imp->s, "binding the match");
    if (update) return fa_sq_step_done(imp->s, st, "updating the match");
    return fa_sq_step_id(imp->s, st, "inserting the match", &imp->stats.match_id);
}

/* Writes the match row with its teams, competition and season; on begin
 * (first) also replaces an earlier import of the same match. The match keeps
 * the identity begin() gave it. */
static int write_match(sq_import *imp, const fa_match *m, int first) {
    int64_t comp, season;
    int rc = upsert_name(imp, FA_SQ_COMPETITION_UPSERT, m->competition, &comp);
    if (!rc) rc = upsert_name(imp, FA_SQ_SEASON_UPSERT, m->season, &season);
    if (!rc) rc = upsert_team(imp, &m->teams[FA_SIDE_HOME], &imp->team_id[0]);
    if (!rc) rc = upsert_team(imp, &m->teams[FA_SIDE_AWAY], &imp->team_id[1]);
    if (!rc && first) rc = claim_existing(imp);
    if (!rc) rc = store_match_row(imp, m, comp, season);
    return rc;
}

static int write_counts(sq_import *imp) {
    sqlite3_stmt *st = fa_sq_stmt(imp->s, FA_SQ_MATCH_COUNTS);
    if (!st) return fa_err_code();
    sqlite3_bind_int64(st, 1, imp->stats.match_id);
    sqlite3_bind_int64(st, 2, imp->stats.events);
    sqlite3_bind_int64(st, 3, imp->stats.frames);
    return fa_sq_step_done(imp->s, st, "updating the match counts");
}

/* ------------------------------------------------------------ players */

/* The players row of a provider id: from the map, else found or created
 * (with an empty name) and remembered. */
static int player_ref(sq_import *imp, const char *provider_id, int64_t *id) {
    if (idmap_get(&imp->players, provider_id, id)) return 0;
    sqlite3_stmt *st = fa_sq_stmt(imp->s, FA_SQ_PLAYER_TOUCH);
    if (!st) return fa_err_code();
    sqlite3_bind_text(st, 1, imp->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, provider_id, -1, SQLITE_STATIC);
    int rc = fa_sq_step_id(imp->s, st, "player", id);
    return rc ? rc : idmap_put(&imp->players, provider_id, *id);
}

static int upsert_player(sq_import *imp, const fa_player *p, int64_t *id) {
    sqlite3_stmt *st = fa_sq_stmt(imp->s, FA_SQ_PLAYER_UPSERT);
    if (!st) return fa_err_code();
    sqlite3_bind_text(st, 1, imp->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
    int rc = fa_sq_step_id(imp->s, st, "player", id);
    return rc ? rc : idmap_put(&imp->players, p->id, *id);
}

static int insert_match_player(sq_import *imp, const fa_player *p, int64_t player) {
    sqlite3_stmt *st = fa_sq_stmt(imp->s, FA_SQ_MATCH_PLAYER_UPSERT);
    if (!st) return fa_err_code();
    int b = sqlite3_bind_int64(st, 1, imp->stats.match_id);
    b |= sqlite3_bind_int64(st, 2, player);
    b |= fa_sq_bind_id(st, 3, team_of(imp, p->side));
    b |= fa_sq_bind_int(st, 4, p->side, FA_SIDE_NONE);
    b |= fa_sq_bind_int(st, 5, p->shirt, -1);
    b |= fa_sq_bind_text(st, 6, p->position);
    b |= fa_sq_bind_real(st, 7, p->minutes);
    b |= fa_sq_bind_int(st, 8, p->starter, -1);
    if (b) return fa_sq_fail(imp->s, "binding a player");
    return fa_sq_step_done(imp->s, st, "inserting a match player");
}

/* ------------------------------------------------------------ events */

static int bind_event(sqlite3_stmt *st, const sq_import *imp, const fa_event *e, int64_t player,
                      int64_t recipient) {
    int b = sqlite3_bind_int64(st, 1, imp->stats.match_id);
    b |= sqlite3_bind_int64(st, 2, e->seq);
    b |= sqlite3_bind_int(st, 3, e->period);
    b |= fa_sq_bind_real(st, 4, e->t);
    b |= fa_sq_bind_real(st, 5, e->duration);
    b |= sqlite3_bind_int(st, 6, (int)e->kind);
    b |= sqlite3_bind_text(st, 7, e->type, -1, SQLITE_STATIC);
    b |= fa_sq_bind_text(st, 8, e->subtype);
    b |= fa_sq_bind_int(st, 9, e->side, FA_SIDE_NONE);
    b |= fa_sq_bind_id(st, 10, team_of(imp, e->side));
    b |= fa_sq_bind_id(st, 11, player);
    b |= fa_sq_bind_id(st, 12, recipient);
    b |= fa_sq_bind_real(st, 13, e->x);
    b |= fa_sq_bind_real(st, 14, e->y);
    b |= fa_sq_bind_real(st, 15, e->end_x);
    b |= fa_sq_bind_real(st, 16, e->end_y);
    b |= fa_sq_bind_real(st, 17, e->end_z);
    b |= fa_sq_bind_int(st, 18, e->success, -1);
    b |= fa_sq_bind_text(st, 19, e->outcome);
    b |= fa_sq_bind_real(st, 20, e->xg);
    b |= fa_sq_bind_text(st, 21, e->body_part);
    b |= fa_sq_bind_text(st, 22, e->pass_type);
    b |= sqlite3_bind_int(st, 23, e->under_pressure);
    b |= sqlite3_bind_int(st, 24, e->goal);
    b |= fa_sq_bind_text(st, 25, e->provider_id);
    b |= fa_sq_bind_text(st, 26, e->related);
    return b;
}

static int insert_event(sq_import *imp, const fa_event *e) {
    int64_t player = 0, recipient = 0;
    int rc = 0;
    if (e->player_id[0]) rc = player_ref(imp, e->player_id, &player);
    if (!rc && e->recipient_id[0]) rc = player_ref(imp, e->recipient_id, &recipient);
    if (rc) return rc;
    sqlite3_stmt *st = fa_sq_stmt(imp->s, FA_SQ_EVENT_INSERT);
    if (!st) return fa_err_code();
    char what[64];
    if (bind_event(st, imp, e, player, recipient)) return fa_sq_fail(imp->s, "binding an event");
    if (sqlite3_step(st) == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    snprintf(what, sizeof what, "event seq %lld", (long long)e->seq);
    rc = fa_sq_fail(imp->s, what);
    sqlite3_reset(st);
    return rc;
}

/* ------------------------------------------------------------ tracking */

static int flush_chunk(sq_import *imp) {
    size_t n = fa_tchunk_writer_frames(imp->chunks), raw;
    if (n == 0) return 0;
    int period;
    double t0, t1;
    fa_tchunk_writer_span(imp->chunks, &period, &t0, &t1);
    int rc = fa_tchunk_writer_flush(imp->chunks, &imp->blob, &raw);
    if (rc) return rc;
    sqlite3_stmt *st = fa_sq_stmt(imp->s, FA_SQ_CHUNK_INSERT);
    if (!st) return fa_err_code();
    int b = sqlite3_bind_int64(st, 1, imp->stats.match_id);
    b |= sqlite3_bind_int(st, 2, period);
    b |= sqlite3_bind_double(st, 3, t0);
    b |= sqlite3_bind_double(st, 4, t1);
    b |= sqlite3_bind_int64(st, 5, (int64_t)n);
    b |= sqlite3_bind_text(st, 6, FA_TCHUNK_CODEC, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(st, 7, (int64_t)raw);
    b |= sqlite3_bind_blob(st, 8, imp->blob.data, (int)imp->blob.len, SQLITE_STATIC);
    if (b) return fa_sq_fail(imp->s, "binding a tracking chunk");
    if (sqlite3_step(st) != SQLITE_DONE) {
        int constraint = (sqlite3_errcode(imp->s->db) & 0xff) == SQLITE_CONSTRAINT;
        rc = constraint ? fa_err_set(FA_EINVAL, "%s: store import: tracking chunk (period %d, t0 %g) "
                                                "already stored: frames out of time order",
                                     imp->s->path, period, t0)
                        : fa_sq_fail(imp->s, "inserting a tracking chunk");
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    imp->stats.chunks++;
    imp->stats.tracking_raw_bytes += (int64_t)raw;
    imp->stats.tracking_stored_bytes += (int64_t)imp->blob.len;
    return 0;
}

/* ------------------------------------------------------------ the sink */

static int on_begin(void *ud, const fa_match *m) {
    sq_import *imp = ud;
    if (imp->failed) return imp->failed;
    if (imp->begun) return track(imp, fa_err_set(FA_EINVAL, "%s: store import: begin twice", imp->s->path));
    imp->begun = 1;
    imp->provider = fa_provider_name(m->provider);
    fa_strlcpy_utf8(imp->match_ref, m->id, sizeof imp->match_ref);
    return track(imp, write_match(imp, m, 1));
}

static int on_player(void *ud, const fa_player *p) {
    sq_import *imp = ud;
    int64_t id;
    int rc = require_match(imp, "player");
    if (!rc) rc = bad_side(imp, "player", p->side);
    if (!rc) rc = upsert_player(imp, p, &id);
    if (!rc) rc = insert_match_player(imp, p, id);
    if (!rc) imp->stats.players++;
    return track(imp, rc);
}

static int on_event(void *ud, const fa_event *e) {
    sq_import *imp = ud;
    int rc = require_match(imp, "event");
    if (!rc) rc = bad_side(imp, "event", e->side);
    if (!rc && (e->kind < 0 || e->kind >= FA_EV_COUNT))
        rc = fa_err_set(FA_EINVAL, "%s: store import: event seq %lld: kind %d out of range", imp->s->path,
                        (long long)e->seq, (int)e->kind);
    if (!rc) rc = insert_event(imp, e);
    if (!rc) imp->stats.events++;
    return track(imp, rc);
}

static int on_frame(void *ud, const fa_frame *f) {
    sq_import *imp = ud;
    int rc = require_match(imp, "frame");
    if (!rc && !fa_tchunk_writer_fits(imp->chunks, f)) rc = flush_chunk(imp);
    if (!rc) rc = fa_tchunk_writer_add(imp->chunks, f);
    if (!rc) imp->stats.frames++;
    return track(imp, rc);
}

static int on_end(void *ud, const fa_match *m) {
    sq_import *imp = ud;
    int rc = require_match(imp, "end");
    if (!rc) rc = flush_chunk(imp);
    if (!rc) rc = write_match(imp, m, 0);
    if (!rc) rc = write_counts(imp);
    if (!rc) imp->ended = 1;
    return track(imp, rc);
}

/* ------------------------------------------------------------ aggregates */

static int resolve_player(void *ud, const char *provider_id, int64_t *id) {
    return player_ref(ud, provider_id, id);
}

/* Stores the match's aggregates in the import's transaction, replacing any
 * written earlier in it; player ids are the provider's, like the events'. */
int fa_sq_import_aggregates(void *p, const fa_aggregates *a) {
    sq_import *imp = p;
    if (imp->failed) return imp->failed;
    if (!imp->begun)
        return track(imp, fa_err_set(FA_EINVAL, "%s: store import: aggregates before begin", imp->s->path));
    return track(imp, fa_sq_aggregates_write(imp->s, imp->stats.match_id, a, resolve_player, imp));
}

/* ------------------------------------------------------------ lifecycle */

static void import_free(sq_import *imp) {
    imp->s->importing = 0;
    fa_tchunk_writer_free(imp->chunks);
    fa_buf_free(&imp->blob);
    fa_arena_free(imp->players.keys);
    free(imp->players.slots);
    free(imp);
}

int fa_sq_import_begin(void *be, void **out) {
    fa_sq *s = be;
    *out = NULL;
    if (s->importing) return fa_err_set(FA_EUSAGE, "%s: an import is already open on this store", s->path);
    sq_import *imp = fa_calloc(1, sizeof *imp);
    if (!imp) return FA_ENOMEM;
    imp->s = s;
    imp->chunks = fa_tchunk_writer_new();
    imp->players.keys = fa_arena_new(4096);
    int rc = imp->chunks && imp->players.keys ? fa_sq_run(s, FA_SQ_BEGIN) : FA_ENOMEM;
    if (rc) {
        import_free(imp);
        return rc;
    }
    s->importing = 1;
    imp->sink = (fa_sink){imp, on_begin, on_player, on_event, on_frame, on_end};
    *out = imp;
    return 0;
}

const fa_sink *fa_sq_import_sink(void *p) { return &((sq_import *)p)->sink; }

void fa_sq_import_abort(void *p) {
    sq_import *imp = p;
    if (!imp) return;
    fa_sq_run(imp->s, FA_SQ_ROLLBACK);
    import_free(imp);
}

int fa_sq_import_commit(void *p, fa_import_stats *stats) {
    sq_import *imp = p;
    int rc = imp->failed;
    memset(stats, 0, sizeof *stats);
    if (!rc && !imp->begun)
        rc = fa_err_set(FA_EINVAL, "%s: store import: nothing to commit (no match was received)",
                        imp->s->path);
    if (!rc && !imp->ended && !(rc = flush_chunk(imp))) rc = write_counts(imp);
    if (!rc) rc = fa_sq_run(imp->s, FA_SQ_COMMIT);
    if (rc) {
        fa_sq_run(imp->s, FA_SQ_ROLLBACK); /* keeps the first error's message: ROLLBACK succeeds */
        import_free(imp);
        return rc;
    }
    *stats = imp->stats;
    import_free(imp);
    return 0;
}
