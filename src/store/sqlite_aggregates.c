/*
 * sqlite_aggregates.c - a match's derived aggregates in SQLite: named
 * metrics (match_metrics), per-cell grids such as heatmaps (match_grids) and
 * JSON documents (match_docs); schema in schema/0002_aggregates.sql.
 *
 * Why rows per metric: the questions asked are "every figure of this match
 * (or player)" and "this metric summed over a player's season"; one row per
 * (match, side, player, name) answers both through an index
 * (match_metrics_match_player, match_metrics_player_name) without parsing
 * anything, and a new metric needs no migration.
 *
 * Why grids as blobs: a heatmap is read whole, never queried by cell. Cells
 * are float64 little-endian (exact, byte-order independent) and compressed
 * with zstd when that is smaller (a heatmap is mostly zeros), the codec
 * stored beside the blob so either can be read back.
 *
 * Players are named by the provider's id, as in events: writing maps them to
 * players rows through a resolver (the import's id map, or the match's
 * provider when aggregates are recomputed later), reading maps them back.
 * Writes always run inside a transaction the caller holds: the import's, or
 * the one fa_sq_aggregates_replace opens.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "sqlite_internal.h"

#define GRID_CODEC_RAW "f64le"
#define GRID_CODEC_ZSTD "f64le+zstd"
#define GRID_ZSTD_LEVEL 3
#define GRID_MAX_CELLS (1 << 24)

/* ------------------------------------------------------------ grid codec */

static void put_f64le(unsigned char *p, double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(u >> (8 * i));
}

static double get_f64le(const unsigned char *p) {
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u |= (uint64_t)p[i] << (8 * i);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Encodes g's cells into *blob (raw: scratch) and names the codec. */
static int grid_encode(const fa_grid *g, fa_buf *raw, fa_buf *blob, const char **codec) {
    size_t n = (size_t)g->nx * (size_t)g->ny, bytes = n * 8;
    fa_buf_reset(raw);
    fa_buf_reset(blob);
    if (fa_buf_reserve(raw, bytes)) return FA_ENOMEM;
    for (size_t i = 0; i < n; i++) put_f64le((unsigned char *)raw->data + i * 8, g->cells[i]);
    raw->len = bytes;
    size_t bound = ZSTD_compressBound(bytes);
    if (fa_buf_reserve(blob, bound)) return FA_ENOMEM;
    size_t got = ZSTD_compress(blob->data, bound, raw->data, bytes, GRID_ZSTD_LEVEL);
    if (!ZSTD_isError(got) && got < bytes) {
        blob->len = got;
        *codec = GRID_CODEC_ZSTD;
        return 0;
    }
    fa_buf_reset(blob);
    *codec = GRID_CODEC_RAW;
    return fa_buf_append(blob, raw->data, bytes);
}

/* Decodes a stored blob into cells[nx * ny] (raw: scratch). */
static int grid_decode(const char *codec, const void *blob, size_t len, int nx, int ny, double *cells,
                       fa_buf *raw) {
    size_t bytes = (size_t)nx * (size_t)ny * 8;
    const unsigned char *p = blob;
    if (strcmp(codec, GRID_CODEC_ZSTD) == 0) {
        unsigned long long want = len ? ZSTD_getFrameContentSize(blob, len) : ZSTD_CONTENTSIZE_ERROR;
        if (want == ZSTD_CONTENTSIZE_ERROR || want == ZSTD_CONTENTSIZE_UNKNOWN)
            return fa_err_set(FA_EIO, "corrupt grid: not a zstd frame with a known size (%zu bytes)", len);
        if (want != bytes)
            return fa_err_set(FA_EIO, "corrupt grid: zstd frame of %llu bytes, expected %zu", want, bytes);
        fa_buf_reset(raw);
        if (fa_buf_reserve(raw, bytes)) return FA_ENOMEM;
        size_t got = ZSTD_decompress(raw->data, bytes, blob, len);
        if (ZSTD_isError(got) || got != bytes)
            return fa_err_set(FA_EIO, "corrupt grid: zstd: %s",
                              ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short");
        p = (const unsigned char *)raw->data;
    } else if (strcmp(codec, GRID_CODEC_RAW) != 0) {
        return fa_err_set(FA_EIO, "unknown grid codec '%s'", codec);
    } else if (len != bytes) {
        return fa_err_set(FA_EIO, "corrupt grid: %zu bytes, expected %zu", len, bytes);
    }
    for (size_t i = 0; i < bytes / 8; i++) cells[i] = get_f64le(p + i * 8);
    return 0;
}

/* ------------------------------------------------------------ writing */

static int delete_one(fa_sq *s, fa_sq_id q, int64_t match_id) {
    sqlite3_stmt *st = fa_sq_stmt(s, q);
    if (!st) return fa_err_code();
    sqlite3_bind_int64(st, 1, match_id);
    return fa_sq_step_done(s, st, "deleting the match's aggregates");
}

int fa_sq_aggregates_delete(fa_sq *s, int64_t match_id) {
    int rc = delete_one(s, FA_SQ_DELETE_METRICS, match_id);
    if (!rc) rc = delete_one(s, FA_SQ_DELETE_GRIDS, match_id);
    if (!rc) rc = delete_one(s, FA_SQ_DELETE_DOCS, match_id);
    return rc;
}

/* Maps provider ids to players rows, remembering the last one (aggregates
 * come grouped by player). "" is a team: row 0, bound as NULL. */
typedef struct player_cache {
    fa_sq_player_resolver resolve;
    void *ud;
    char last[FA_ID_MAX];
    int64_t last_row;
} player_cache;

static int player_row(player_cache *c, const char *provider_id, int64_t *row) {
    *row = 0;
    if (!*provider_id) return 0;
    if (c->last_row && strcmp(c->last, provider_id) == 0) {
        *row = c->last_row;
        return 0;
    }
    int rc = c->resolve(c->ud, provider_id, row);
    if (rc) return rc;
    fa_strlcpy_utf8(c->last, provider_id, sizeof c->last);
    c->last_row = *row;
    return 0;
}

static int insert_metric(fa_sq *s, int64_t match_id, const fa_metric *m, int64_t player) {
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_METRIC_INSERT);
    if (!st) return fa_err_code();
    int b = sqlite3_bind_int64(st, 1, match_id);
    b |= fa_sq_bind_int(st, 2, m->side, FA_SIDE_NONE);
    b |= fa_sq_bind_id(st, 3, player);
    b |= sqlite3_bind_text(st, 4, m->name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_double(st, 5, m->value);
    if (b) return fa_sq_fail(s, "binding a metric");
    return fa_sq_step_done(s, st, "inserting a metric");
}

static int insert_grid(fa_sq *s, int64_t match_id, const fa_grid *g, int64_t player, fa_buf *raw,
                       fa_buf *blob) {
    const char *codec;
    int rc = grid_encode(g, raw, blob, &codec);
    if (rc) return rc;
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_GRID_INSERT);
    if (!st) return fa_err_code();
    int b = sqlite3_bind_int64(st, 1, match_id);
    b |= fa_sq_bind_int(st, 2, g->side, FA_SIDE_NONE);
    b |= fa_sq_bind_id(st, 3, player);
    b |= sqlite3_bind_text(st, 4, g->name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int(st, 5, g->nx);
    b |= sqlite3_bind_int(st, 6, g->ny);
    b |= sqlite3_bind_text(st, 7, codec, -1, SQLITE_STATIC);
    b |= sqlite3_bind_blob(st, 8, blob->data, (int)blob->len, SQLITE_STATIC);
    if (b) return fa_sq_fail(s, "binding a grid");
    return fa_sq_step_done(s, st, "inserting a grid");
}

static int insert_doc(fa_sq *s, int64_t match_id, const fa_doc *d) {
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_DOC_INSERT);
    if (!st) return fa_err_code();
    int b = sqlite3_bind_int64(st, 1, match_id);
    b |= sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(st, 3, d->json, -1, SQLITE_STATIC);
    if (b) return fa_sq_fail(s, "binding a document");
    if (sqlite3_step(st) == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    int rc = (sqlite3_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT
                 ? fa_err_set(FA_EINVAL, "%s: aggregates: document '%s' given twice", s->path, d->name)
                 : fa_sq_fail(s, "inserting a document");
    sqlite3_reset(st);
    return rc;
}

static int write_grids(fa_sq *s, int64_t match_id, const fa_aggregates *a, player_cache *pc) {
    fa_buf raw = {0}, blob = {0};
    int rc = 0;
    for (size_t i = 0; i < a->ngrids && !rc; i++) {
        int64_t player;
        rc = player_row(pc, a->grids[i].player_id, &player);
        if (!rc) rc = insert_grid(s, match_id, &a->grids[i], player, &raw, &blob);
    }
    fa_buf_free(&raw);
    fa_buf_free(&blob);
    return rc;
}

int fa_sq_aggregates_write(fa_sq *s, int64_t match_id, const fa_aggregates *a, fa_sq_player_resolver resolve,
                           void *ud) {
    player_cache pc = {resolve, ud, "", 0};
    int rc = fa_sq_aggregates_delete(s, match_id);
    for (size_t i = 0; i < a->nmetrics && !rc; i++) {
        int64_t player;
        rc = player_row(&pc, a->metrics[i].player_id, &player);
        if (!rc) rc = insert_metric(s, match_id, &a->metrics[i], player);
    }
    if (!rc) rc = write_grids(s, match_id, a, &pc);
    for (size_t i = 0; i < a->ndocs && !rc; i++) rc = insert_doc(s, match_id, &a->docs[i]);
    return rc;
}

/* ------------------------------------------------------------ replace */

typedef struct replace_ctx {
    fa_sq *s;
    char provider[32];
} replace_ctx;

/* The players row of a provider id in the match's provider, created
 * (without a name) when the provider has never named that player. */
static int touch_player(void *ud, const char *provider_id, int64_t *id) {
    replace_ctx *c = ud;
    sqlite3_stmt *st = fa_sq_stmt(c->s, FA_SQ_PLAYER_TOUCH);
    if (!st) return fa_err_code();
    sqlite3_bind_text(st, 1, c->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, provider_id, -1, SQLITE_STATIC);
    return fa_sq_step_id(c->s, st, "player", id);
}

static int match_provider(fa_sq *s, int64_t match_id, char *provider, size_t size) {
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_MATCH_PROVIDER);
    if (!st) return fa_err_code();
    sqlite3_bind_int64(st, 1, match_id);
    int step = sqlite3_step(st), rc = 0;
    if (step == SQLITE_ROW)
        fa_sq_col_text(st, 0, provider, size);
    else
        rc = step == SQLITE_DONE ? FA_ENOTFOUND : fa_sq_fail(s, "finding the match");
    sqlite3_reset(st);
    return rc;
}

int fa_sq_aggregates_replace(void *be, int64_t match_id, const fa_aggregates *a) {
    fa_sq *s = be;
    replace_ctx ctx = {s, ""};
    if (s->importing)
        return fa_err_set(FA_EUSAGE, "%s: cannot replace aggregates during an import (use the import's)",
                          s->path);
    int rc = fa_sq_run(s, FA_SQ_BEGIN);
    if (rc) return rc;
    rc = match_provider(s, match_id, ctx.provider, sizeof ctx.provider);
    if (!rc) rc = fa_sq_aggregates_write(s, match_id, a, touch_player, &ctx);
    if (!rc) rc = fa_sq_run(s, FA_SQ_COMMIT);
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); /* keeps the first error's message */
    return rc;
}

/* ------------------------------------------------------------ reading */

/* The statement for a player filter (NULL all, "" teams, else one player);
 * *none = 1 when the player is not in the match (no rows, no query). */
static sqlite3_stmt *filtered_stmt(fa_sq *s, int64_t match_id, const char *player_id, const fa_sq_id q[3],
                                   int *none) {
    int64_t player = 0;
    *none = 0;
    if (player_id && *player_id) {
        int rc = fa_sq_player_in_match(s, match_id, player_id, &player);
        if (rc) {
            *none = rc == FA_ENOTFOUND;
            return NULL;
        }
    }
    sqlite3_stmt *st = fa_sq_stmt(s, q[!player_id ? 0 : !*player_id ? 1 : 2]);
    if (!st) return NULL;
    sqlite3_bind_int64(st, 1, match_id);
    if (player) sqlite3_bind_int64(st, 2, player);
    return st;
}

static void read_metric(sqlite3_stmt *st, fa_metric *m) {
    memset(m, 0, sizeof *m);
    m->side = (fa_side)fa_sq_col_int(st, 0, FA_SIDE_NONE);
    fa_sq_col_text(st, 1, m->player_id, sizeof m->player_id);
    fa_sq_col_text(st, 2, m->name, sizeof m->name);
    m->value = fa_sq_col_real(st, 3);
}

int fa_sq_metrics(void *be, int64_t match_id, const char *player_id, fa_metric_cb cb, void *ud) {
    static const fa_sq_id q[3] = {FA_SQ_METRICS_BY_MATCH, FA_SQ_METRICS_BY_MATCH_TEAM,
                                  FA_SQ_METRICS_BY_MATCH_PLAYER};
    fa_sq *s = be;
    int none, step = SQLITE_DONE, rc = 0;
    sqlite3_stmt *st = filtered_stmt(s, match_id, player_id, q, &none);
    if (!st) return none ? 0 : fa_err_code();
    fa_metric m;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        read_metric(st, &m);
        rc = cb(ud, &m);
    }
    if (!rc && step != SQLITE_DONE) rc = fa_sq_fail(s, "listing metrics");
    sqlite3_reset(st);
    return rc;
}

/* Reads the current grid row into g, its cells decoded into *cells. */
static int read_grid(fa_sq *s, sqlite3_stmt *st, int64_t match_id, fa_grid *g, double **cells, fa_buf *raw) {
    char codec[32];
    memset(g, 0, sizeof *g);
    g->side = (fa_side)fa_sq_col_int(st, 0, FA_SIDE_NONE);
    fa_sq_col_text(st, 1, g->player_id, sizeof g->player_id);
    fa_sq_col_text(st, 2, g->name, sizeof g->name);
    int64_t nx = sqlite3_column_int64(st, 3), ny = sqlite3_column_int64(st, 4);
    fa_sq_col_text(st, 5, codec, sizeof codec);
    if (nx <= 0 || ny <= 0 || nx * ny > GRID_MAX_CELLS)
        return fa_err_set(FA_EIO, "%s: match %lld, grid '%s': corrupt size %lld x %lld", s->path,
                          (long long)match_id, g->name, (long long)nx, (long long)ny);
    g->nx = (int)nx;
    g->ny = (int)ny;
    double *p = fa_realloc(*cells, (size_t)(nx * ny) * sizeof *p);
    if (!p) return FA_ENOMEM;
    *cells = g->cells = p;
    int rc = grid_decode(codec, sqlite3_column_blob(st, 6), (size_t)sqlite3_column_bytes(st, 6), g->nx, g->ny,
                         p, raw);
    if (rc) fa_err_prefix("%s: match %lld, grid '%s'", s->path, (long long)match_id, g->name);
    return rc;
}

int fa_sq_grids(void *be, int64_t match_id, const char *player_id, fa_grid_cb cb, void *ud) {
    static const fa_sq_id q[3] = {FA_SQ_GRIDS_BY_MATCH, FA_SQ_GRIDS_BY_MATCH_TEAM,
                                  FA_SQ_GRIDS_BY_MATCH_PLAYER};
    fa_sq *s = be;
    int none, step = SQLITE_DONE, rc = 0;
    sqlite3_stmt *st = filtered_stmt(s, match_id, player_id, q, &none);
    if (!st) return none ? 0 : fa_err_code();
    double *cells = NULL;
    fa_buf raw = {0};
    fa_grid g;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = read_grid(s, st, match_id, &g, &cells, &raw);
        if (!rc) rc = cb(ud, &g);
    }
    if (!rc && step != SQLITE_DONE) rc = fa_sq_fail(s, "listing grids");
    sqlite3_reset(st);
    free(cells);
    fa_buf_free(&raw);
    return rc;
}

int fa_sq_doc(void *be, int64_t match_id, const char *name, fa_buf *out) {
    fa_sq *s = be;
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_DOC_BY_NAME);
    if (!st) return fa_err_code();
    sqlite3_bind_int64(st, 1, match_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = 0;
    if (step == SQLITE_ROW) {
        const unsigned char *json = sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        rc = fa_buf_append(out, json ? (const char *)json : "", json ? n : 0);
    } else {
        rc = step == SQLITE_DONE ? FA_ENOTFOUND : fa_sq_fail(s, "reading a document");
    }
    sqlite3_reset(st);
    return rc;
}

int fa_sq_metric_sum(void *be, const char *provider, const char *player_id, const char *name, double *sum,
                     int64_t *matches) {
    fa_sq *s = be;
    sqlite3_stmt *st = fa_sq_stmt(s, provider ? FA_SQ_METRIC_SUM_BY_PROVIDER : FA_SQ_METRIC_SUM);
    if (!st) return fa_err_code();
    sqlite3_bind_text(st, 1, player_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (provider) sqlite3_bind_text(st, 3, provider, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), rc = 0;
    if (step == SQLITE_ROW) {
        *sum = sqlite3_column_double(st, 0);
        *matches = sqlite3_column_int64(st, 1);
    } else {
        rc = fa_sq_fail(s, "summing a metric");
    }
    sqlite3_reset(st);
    return rc;
}
