/*
 * common.c - what every resource handler needs: a JSON writer that places
 * commas itself, the thread's store handle, the match named in the path,
 * its roster, and stored documents checked before they are sent.
 *
 * Why a writer here and not printf: bodies are built from many optional
 * parts (null for unknowns, nested arrays of grids), and a missed comma is
 * an invalid document served to every client. fa_jw tracks, per nesting
 * level, whether a container already has an item; it writes through
 * fa_json_write_str / fa_json_write_num (core.h), so strings are escaped
 * and non-finite numbers become null in one place. Errors (out of memory)
 * stick in the writer and are checked once, when the body is complete.
 *
 * Matches are named in paths by store id ("42") or provider:id
 * ("statsbomb:15986"); both are validated here before the store sees them,
 * and loading a match also sets the response's cache class and surrogate
 * keys from the stored row (http_cache.c), so no handler can forget them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../app_internal.h"
#include "obs/obs.h"

#define MAX_DEPTH 62

/* ------------------------------------------------------------ JSON writer */

void fa_jw_init(fa_jw *w, fa_buf *b) {
    memset(w, 0, sizeof *w);
    w->b = b;
}

static void put(fa_jw *w, const char *s) {
    if (fa_buf_puts(w->b, s)) w->err = FA_ENOMEM;
}

/* Before a value or a key: the comma, unless it follows a key or opens a container. */
static void item(fa_jw *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth == 0) return;
    if (w->has_item & (1ull << w->depth)) put(w, ",");
    w->has_item |= 1ull << w->depth;
}

static void open_container(fa_jw *w, const char *c) {
    item(w);
    put(w, c);
    if (w->depth >= MAX_DEPTH) {
        w->err = FA_ELIMIT;
        return;
    }
    w->depth++;
    w->has_item &= ~(1ull << w->depth);
}

static void close_container(fa_jw *w, const char *c) {
    put(w, c);
    if (w->depth > 0) w->depth--;
}

void fa_jw_obj(fa_jw *w) { open_container(w, "{"); }
void fa_jw_end_obj(fa_jw *w) { close_container(w, "}"); }
void fa_jw_arr(fa_jw *w) { open_container(w, "["); }
void fa_jw_end_arr(fa_jw *w) { close_container(w, "]"); }

void fa_jw_key(fa_jw *w, const char *key) {
    item(w);
    if (fa_json_write_str(w->b, key) || fa_buf_putc(w->b, ':')) w->err = FA_ENOMEM;
    w->after_key = 1;
}

void fa_jw_str(fa_jw *w, const char *s) {
    item(w);
    if (!s)
        put(w, "null");
    else if (fa_json_write_str(w->b, s))
        w->err = FA_ENOMEM;
}

void fa_jw_str_or_null(fa_jw *w, const char *s) { fa_jw_str(w, s && *s ? s : NULL); }

void fa_jw_num(fa_jw *w, double v) {
    item(w);
    if (fa_json_write_num(w->b, v)) w->err = FA_ENOMEM;
}

void fa_jw_round(fa_jw *w, double v, int decimals) {
    double scale = pow(10.0, decimals);
    double r = isfinite(v) ? round(v * scale) / scale : NAN;
    fa_jw_num(w, r == 0 ? 0 : r); /* no "-0" */
}

void fa_jw_int(fa_jw *w, int64_t v) {
    item(w);
    if (fa_buf_printf(w->b, "%lld", (long long)v)) w->err = FA_ENOMEM;
}

void fa_jw_bool(fa_jw *w, int v) {
    item(w);
    put(w, v < 0 ? "null" : v ? "true" : "false");
}

void fa_jw_null(fa_jw *w) {
    item(w);
    put(w, "null");
}

void fa_jw_raw(fa_jw *w, const char *json, size_t n) {
    item(w);
    if (fa_buf_append(w->b, json, n)) w->err = FA_ENOMEM;
}

int fa_api_jw_done(fa_api_req *r, fa_jw *w) {
    if (!w->err && w->depth == 0) return 0;
    return fa_api_problem(r, 503, "unavailable", "out of memory while writing the response (request %llu)",
                          (unsigned long long)r->http->id);
}

/* ------------------------------------------------------------ store and match */

/* The wait for a connection, measured as what it is in this design: each
 * loop owns its handle, so a request waits only when the handle has to be
 * (re)opened first - the pool=sqlite series of FA_M_DB_POOL_WAIT. */
fa_store *fa_api_store(fa_api_req *r) {
    fa_api_thread *t = r->t;
    if (t->store) {
        fa_obs_histogram_observe(t->app->pool_wait, 0);
        return t->store;
    }
    double t0 = fa_clock_now();
    t->store = fa_store_open(t->app->db_path, 0, 0);
    fa_obs_histogram_observe(t->app->pool_wait, fa_clock_now() - t0);
    if (t->store) return t->store;
    fa_log(FA_LOG_ERROR, "api: store not available", "request_id=%llu error=\"%s\"",
           (unsigned long long)r->http->id, fa_err_msg());
    fa_api_problem(r, 503, "unavailable", "the store is not available (request %llu); retry later",
                   (unsigned long long)r->http->id);
    return NULL;
}

static int printable_id(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

/* 1 when ref is digits only (a store id) or "known-provider:printable-id". */
static int valid_match_ref(const char *ref) {
    const char *colon = strchr(ref, ':');
    if (!printable_id(ref, 100)) return 0;
    if (!colon) {
        int64_t id;
        return fa_parse_int(ref, 1, INT64_MAX, &id) == 0 && ref[0] >= '0' && ref[0] <= '9';
    }
    char provider[32];
    size_t n = (size_t)(colon - ref);
    if (n == 0 || n >= sizeof provider || !colon[1] || strchr(colon + 1, '/')) return 0;
    memcpy(provider, ref, n);
    provider[n] = '\0';
    return fa_provider_parse(provider) != FA_PROVIDER_UNKNOWN;
}

int fa_api_load_match(fa_api_req *r, fa_match_row *row) {
    const char *ref = fa_api_param(r, "id");
    if (!ref) return fa_api_fail(r, FA_ENOMEM, "reading the path");
    if (!valid_match_ref(ref))
        return fa_api_bad_param(r, "path parameter", "id",
                                "a store id (a positive integer, e.g. 42) or provider:id with a known "
                                "provider (e.g. statsbomb:15986)",
                                ref);
    fa_store *s = fa_api_store(r);
    if (!s) return FA_EIO;
    int rc = fa_store_match_find(s, ref, row);
    if (rc == FA_ENOTFOUND)
        return fa_api_problem(r, 404, "not-found",
                              "match '%s' is not in the database (GET /v1/matches lists them)", ref);
    if (rc) return fa_api_fail(r, rc, "finding the match");
    fa_api_cache_match(r, row);
    return 0;
}

const char *fa_api_match_ref(const fa_match_row *row, char *out, size_t size) {
    snprintf(out, size, "%s:%s", fa_provider_name(row->m.provider), row->m.id);
    return out;
}

void fa_api_jw_match_ref(fa_jw *w, const fa_match_row *row) {
    char ref[FA_ID_MAX + 40];
    fa_jw_key(w, "match");
    fa_jw_obj(w);
    fa_jw_key(w, "id");
    fa_jw_int(w, row->id);
    fa_jw_key(w, "ref");
    fa_jw_str(w, fa_api_match_ref(row, ref, sizeof ref));
    fa_jw_end_obj(w);
}

static void jw_team(fa_jw *w, const char *key, const fa_match *m, int side) {
    fa_jw_key(w, key);
    fa_jw_obj(w);
    fa_jw_key(w, "id");
    fa_jw_str_or_null(w, m->teams[side].id);
    fa_jw_key(w, "name");
    fa_jw_str_or_null(w, m->teams[side].name);
    fa_jw_key(w, "score");
    if (m->score[side] >= 0)
        fa_jw_int(w, m->score[side]);
    else
        fa_jw_null(w);
    fa_jw_end_obj(w);
}

void fa_api_jw_match(fa_jw *w, const fa_match_row *row) {
    const fa_match *m = &row->m;
    char ref[FA_ID_MAX + 40];
    fa_jw_obj(w);
    fa_jw_key(w, "id");
    fa_jw_int(w, row->id);
    fa_jw_key(w, "ref");
    fa_jw_str(w, fa_api_match_ref(row, ref, sizeof ref));
    fa_jw_key(w, "provider");
    fa_jw_str(w, fa_provider_name(m->provider));
    fa_jw_key(w, "provider_id");
    fa_jw_str(w, m->id);
    fa_jw_key(w, "competition");
    fa_jw_str_or_null(w, m->competition);
    fa_jw_key(w, "season");
    fa_jw_str_or_null(w, m->season);
    fa_jw_key(w, "date");
    fa_jw_str_or_null(w, m->date);
    jw_team(w, "home", m, FA_SIDE_HOME);
    jw_team(w, "away", m, FA_SIDE_AWAY);
    fa_jw_key(w, "pitch");
    fa_jw_obj(w);
    fa_jw_key(w, "length_m");
    fa_jw_num(w, m->pitch.length);
    fa_jw_key(w, "width_m");
    fa_jw_num(w, m->pitch.width);
    fa_jw_end_obj(w);
    fa_jw_key(w, "frame_rate");
    fa_jw_num(w, m->frame_rate > 0 ? m->frame_rate : NAN);
    fa_jw_key(w, "events");
    fa_jw_int(w, row->n_events);
    fa_jw_key(w, "frames");
    fa_jw_int(w, row->n_frames);
    fa_jw_key(w, "players");
    fa_jw_int(w, row->n_players);
    fa_jw_key(w, "source");
    fa_jw_str_or_null(w, m->source);
    fa_jw_key(w, "imported_at");
    fa_jw_str_or_null(w, row->imported_at);
    fa_jw_end_obj(w);
}

/* ------------------------------------------------------------ roster, documents, ids */

typedef struct roster_acc {
    fa_arena *arena;
    fa_api_roster *ro;
    size_t cap;
} roster_acc;

static int roster_add(void *ud, const fa_player *p) {
    roster_acc *acc = ud;
    if (acc->ro->n == acc->cap) {
        size_t cap = acc->cap ? acc->cap * 2 : 32;
        fa_player *grown = fa_arena_alloc(acc->arena, cap * sizeof *grown);
        if (!grown) return FA_ENOMEM;
        if (acc->ro->n) memcpy(grown, acc->ro->players, acc->ro->n * sizeof *grown);
        acc->ro->players = grown;
        acc->cap = cap;
    }
    acc->ro->players[acc->ro->n++] = *p;
    return 0;
}

int fa_api_load_roster(fa_api_req *r, int64_t match_id, fa_api_roster *out) {
    roster_acc acc = {r->t->arena, out, 0};
    memset(out, 0, sizeof *out);
    fa_store *s = fa_api_store(r);
    if (!s) return FA_EIO;
    int rc = fa_store_players(s, match_id, roster_add, &acc);
    return rc ? fa_api_fail(r, rc, "reading the roster") : 0;
}

const fa_player *fa_api_roster_find(const fa_api_roster *ro, const char *id) {
    for (size_t i = 0; i < ro->n; i++)
        if (strcmp(ro->players[i].id, id) == 0) return &ro->players[i];
    return NULL;
}

int fa_api_load_doc(fa_api_req *r, const fa_match_row *row, const char *name, const char *absent,
                    fa_buf *out) {
    char ref[FA_ID_MAX + 40];
    fa_store *s = fa_api_store(r);
    if (!s) return FA_EIO;
    int rc = fa_store_doc(s, row->id, name, out);
    if (rc == FA_ENOTFOUND)
        return fa_api_problem(r, 404, "not-found", "match '%s' has no %s",
                              fa_api_match_ref(row, ref, sizeof ref), absent);
    if (rc) return fa_api_fail(r, rc, "reading a stored document");
    fa_json_value *v;
    if (fa_json_parse(name, out->data, out->len, r->t->arena, &v)) {
        fa_log(FA_LOG_ERROR, "api: stored document is not JSON", "match=%lld doc=%s error=\"%s\"",
               (long long)row->id, name, fa_err_msg());
        return fa_api_problem(r, 500, "internal", "the stored document '%s' of match %lld is not valid JSON",
                              name, (long long)row->id);
    }
    return 0;
}

int fa_api_check_player_id(fa_api_req *r, const char *where, const char *name, const char *id) {
    if (printable_id(id, FA_ID_MAX - 1)) return 0;
    return fa_api_bad_param(r, where, name, "a player id of 1 to 63 printable ASCII characters (e.g. 5503)",
                            id);
}
