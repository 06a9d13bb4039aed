/*
 * sqlite_internal.h - internal to src/store: what the SQLite backend's
 * files (sqlite.c, sqlite_import.c, sqlite_read.c) share.
 *
 * Every SQL statement the backend runs is named in one table (sqlite.c),
 * prepared the first time it is needed and then reset and reused for the
 * life of the store, so hot paths (8000 event inserts) never parse SQL and
 * `db explain` can show the plan of every query by its name.
 */
#ifndef FA_STORE_SQLITE_INTERNAL_H
#define FA_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>

#include "core/core.h"
#include "store_backend.h"

typedef enum fa_sq_id {
    /* transactions */
    FA_SQ_BEGIN,
    FA_SQ_COMMIT,
    FA_SQ_ROLLBACK,
    /* schema */
    FA_SQ_SCHEMA_PROBE,
    FA_SQ_SCHEMA_VERSION,
    FA_SQ_DATA_VERSION,
    FA_SQ_MIGRATION_APPLIED,
    FA_SQ_MIGRATION_RECORD,
    /* import */
    FA_SQ_COMPETITION_UPSERT,
    FA_SQ_SEASON_UPSERT,
    FA_SQ_TEAM_UPSERT,
    FA_SQ_MATCH_ID_BY_PROVIDER,
    FA_SQ_MATCH_INSERT,
    FA_SQ_MATCH_UPDATE,
    FA_SQ_MATCH_COUNTS,
    FA_SQ_DELETE_MATCH_PLAYERS,
    FA_SQ_DELETE_EVENTS,
    FA_SQ_DELETE_CHUNKS,
    FA_SQ_PLAYER_UPSERT,
    FA_SQ_PLAYER_TOUCH,
    FA_SQ_MATCH_PLAYER_UPSERT,
    FA_SQ_EVENT_INSERT,
    FA_SQ_CHUNK_INSERT,
    /* read back */
    FA_SQ_MATCHES_ALL,
    FA_SQ_MATCHES_BY_TEAM,
    FA_SQ_MATCHES_BY_COMPETITION,
    FA_SQ_MATCHES_BY_SEASON,
    FA_SQ_MATCHES_BY_DATE,
    FA_SQ_MATCH_BY_ID,
    FA_SQ_MATCH_BY_PROVIDER,
    FA_SQ_PLAYER_IN_MATCH,
    FA_SQ_EVENTS_BY_SEQ,
    FA_SQ_EVENTS_BY_KIND,
    FA_SQ_EVENTS_BY_TYPE,
    FA_SQ_EVENTS_BY_PLAYER,
    FA_SQ_EVENTS_BY_PERIOD,
    FA_SQ_PLAYERS_BY_MATCH,
    FA_SQ_CHUNKS_BY_MATCH,
    /* aggregates (sqlite_aggregates.c) */
    FA_SQ_MATCH_PROVIDER,
    FA_SQ_DELETE_METRICS,
    FA_SQ_DELETE_GRIDS,
    FA_SQ_DELETE_DOCS,
    FA_SQ_METRIC_INSERT,
    FA_SQ_GRID_INSERT,
    FA_SQ_DOC_INSERT,
    FA_SQ_METRICS_BY_MATCH,
    FA_SQ_METRICS_BY_MATCH_TEAM,
    FA_SQ_METRICS_BY_MATCH_PLAYER,
    FA_SQ_GRIDS_BY_MATCH,
    FA_SQ_GRIDS_BY_MATCH_TEAM,
    FA_SQ_GRIDS_BY_MATCH_PLAYER,
    FA_SQ_DOC_BY_NAME,
    FA_SQ_METRIC_SUM,
    FA_SQ_METRIC_SUM_BY_PROVIDER,
    FA_SQ_COUNT
} fa_sq_id;

typedef struct fa_sq {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[FA_SQ_COUNT];
    int importing; /* an import transaction is open */
} fa_sq;

/* The statement id, reset and ready to bind; NULL with the error set when
 * it cannot be prepared or is still running (a callback calling back into
 * the same query). */
sqlite3_stmt *fa_sq_stmt(fa_sq *s, fa_sq_id id);

/* Sets the error from the connection ("PATH: what: sqlite message"), maps
 * the SQLite code to FA_E* and returns it. */
int fa_sq_fail(fa_sq *s, const char *what);

/* Steps a bound statement that returns no row, then resets it. */
int fa_sq_step_done(fa_sq *s, sqlite3_stmt *st, const char *what);
/* Steps a bound statement that returns one row with an integer in column 0
 * (an upsert's RETURNING id); *id = 0 and FA_ENOTFOUND when it returns none. */
int fa_sq_step_id(fa_sq *s, sqlite3_stmt *st, const char *what, int64_t *id);
/* Runs a parameterless statement (BEGIN, COMMIT, ROLLBACK). */
int fa_sq_run(fa_sq *s, fa_sq_id id);

/* Binders: the empty string, NAN, the "unknown" int and the id 0 are all
 * stored as NULL, so SQL sees absent values as absent. Text is bound
 * SQLITE_STATIC: it must live until the statement is stepped. Return a
 * SQLite result code. */
int fa_sq_bind_text(sqlite3_stmt *st, int i, const char *v);
int fa_sq_bind_real(sqlite3_stmt *st, int i, double v);
int fa_sq_bind_int(sqlite3_stmt *st, int i, int64_t v, int64_t unknown);
int fa_sq_bind_id(sqlite3_stmt *st, int i, int64_t id);

/* Column readers, the inverse of the binders: NULL reads back as "", NAN,
 * unknown. */
void fa_sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t size);
double fa_sq_col_real(sqlite3_stmt *st, int i);
int64_t fa_sq_col_int(sqlite3_stmt *st, int i, int64_t unknown);

/* sqlite_import.c */
int fa_sq_import_begin(void *be, void **imp);
const fa_sink *fa_sq_import_sink(void *imp);
int fa_sq_import_aggregates(void *imp, const fa_aggregates *a);
int fa_sq_import_commit(void *imp, fa_import_stats *stats);
void fa_sq_import_abort(void *imp);

/* sqlite_read.c */
int fa_sq_matches(void *be, const fa_match_filter *f, fa_match_cb cb, void *ud);
int fa_sq_match_by_id(void *be, int64_t id, fa_match_row *out);
int fa_sq_match_by_provider(void *be, fa_provider provider, const char *provider_id, fa_match_row *out);
int fa_sq_events(void *be, const fa_event_filter *f, fa_event_cb cb, void *ud);
int fa_sq_players(void *be, int64_t match_id, fa_player_cb cb, void *ud);
int fa_sq_frames(void *be, int64_t match_id, int period, double t_from, double t_to, fa_frame_cb cb,
                 void *ud);
/* The players row of a provider player id in the match's provider;
 * FA_ENOTFOUND when the match has no such player. */
int fa_sq_player_in_match(fa_sq *s, int64_t match_id, const char *player_id, int64_t *id);

/* sqlite_aggregates.c */
/* Maps a provider player id to its players row (creating it when new). */
typedef int (*fa_sq_player_resolver)(void *ud, const char *provider_id, int64_t *id);
/* Deletes the match's stored aggregates (inside the caller's transaction). */
int fa_sq_aggregates_delete(fa_sq *s, int64_t match_id);
/* Deletes the match's aggregates and inserts a's, inside the caller's
 * transaction; player ids go through resolve. */
int fa_sq_aggregates_write(fa_sq *s, int64_t match_id, const fa_aggregates *a, fa_sq_player_resolver resolve,
                           void *ud);
int fa_sq_aggregates_replace(void *be, int64_t match_id, const fa_aggregates *a);
int fa_sq_metrics(void *be, int64_t match_id, const char *player_id, fa_metric_cb cb, void *ud);
int fa_sq_grids(void *be, int64_t match_id, const char *player_id, fa_grid_cb cb, void *ud);
int fa_sq_doc(void *be, int64_t match_id, const char *name, fa_buf *out);
int fa_sq_metric_sum(void *be, const char *provider, const char *player_id, const char *name, double *sum,
                     int64_t *matches);

#endif
