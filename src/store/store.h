/*
 * store.h - the backend-neutral face of persistence.
 *
 * SQLite (sqlite.c) is the embedded default; PostgreSQL comes behind the same
 * face later. Callers never see SQL. A store is used by one thread at a time.
 *
 * Writes: one import = one transaction = one match. fa_store_import_sink()
 * gives a fa_sink that a parser streams into; commit makes the match visible
 * (replacing an earlier import of the same provider match), abort leaves the
 * database exactly as it was.
 *
 * Tracking is stored as compressed column chunks per match, period and time
 * window (zstd), not one row per sample.
 */
#ifndef FA_STORE_H
#define FA_STORE_H

#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "model/model.h"

typedef struct fa_store fa_store;

/* Opens (and creates when create != 0) the database at target: a file path,
 * "sqlite:PATH", or later "postgres://...". Applies pending migrations when
 * migrate != 0. */
fa_store *fa_store_open(const char *target, int create, int migrate);
void fa_store_close(fa_store *s);

/* Applies pending numbered migrations (src/store/schema/NNNN_*.sql);
 * *applied = how many ran. */
int fa_store_migrate(fa_store *s, int *applied);
int fa_store_schema_version(fa_store *s, int *version);
/* A number that changes whenever another connection (another process's
 * import, say) has committed to the database since this handle last
 * looked: cheap enough to ask on every request (SQLite: PRAGMA
 * data_version). Compare successive values; the value itself means nothing. */
int fa_store_data_version(fa_store *s, int64_t *version);
/* Prints EXPLAIN QUERY PLAN for every named query to out; *scans = number of
 * queries that scan a table without an index. */
int fa_store_explain(fa_store *s, FILE *out, int *scans);

/* ------------------------------------------------------------ import */

typedef struct fa_store_import fa_store_import;

typedef struct fa_import_stats {
    int64_t match_id;
    int replaced; /* 1 when an earlier import of the same match was replaced */
    int64_t players, events, frames, chunks;
    int64_t tracking_raw_bytes, tracking_stored_bytes;
} fa_import_stats;

int fa_store_import_begin(fa_store *s, fa_store_import **out);
const fa_sink *fa_store_import_sink(fa_store_import *imp);
/* Stores the match's derived aggregates in the same transaction (replacing
 * any earlier ones). Call after the parser finished, before commit. */
int fa_store_import_aggregates(fa_store_import *imp, const fa_aggregates *a);
int fa_store_import_commit(fa_store_import *imp, fa_import_stats *stats); /* frees imp */
void fa_store_import_abort(fa_store_import *imp);                          /* frees imp */

/* ------------------------------------------------------------ read back */

typedef struct fa_match_row {
    int64_t id; /* store id */
    fa_match m;
    int64_t n_events, n_frames, n_players;
    char imported_at[32];
} fa_match_row;

typedef struct fa_match_filter {
    const char *competition, *season, *team; /* NULL = any; team matches either side's name or id */
    const char *date_from, *date_to;          /* ISO dates, inclusive; NULL = open */
    int64_t after_id;                         /* cursor: rows with id > after_id */
    int limit;                                /* 0 = no limit */
} fa_match_filter;

typedef struct fa_event_filter {
    int64_t match_id;
    int kind;              /* fa_event_kind, or -1 = any */
    const char *type;      /* provider type name (case-insensitive), NULL = any */
    const char *player_id; /* provider player id, NULL = any */
    int period;            /* 0 = any */
    double t_from, t_to;   /* NAN = open */
    int64_t after_seq;     /* cursor: events with seq > after_seq; -1 = from the start */
    int limit;             /* 0 = no limit */
} fa_event_filter;

void fa_event_filter_init(fa_event_filter *f, int64_t match_id);

typedef int (*fa_match_cb)(void *ud, const fa_match_row *r);
typedef int (*fa_event_cb)(void *ud, const fa_event *e);
typedef int (*fa_player_cb)(void *ud, const fa_player *p);
typedef int (*fa_frame_cb)(void *ud, const fa_frame *f);

int fa_store_matches(fa_store *s, const fa_match_filter *f, fa_match_cb cb, void *ud);
/* "42" (store id) or "provider:id" ("statsbomb:15986"); FA_ENOTFOUND when absent. */
int fa_store_match_find(fa_store *s, const char *ref, fa_match_row *out);
int fa_store_events(fa_store *s, const fa_event_filter *f, fa_event_cb cb, void *ud);
int fa_store_players(fa_store *s, int64_t match_id, fa_player_cb cb, void *ud);
/* Frames of one period (0 = all) with t in [t_from, t_to] (NAN = open), in order. */
int fa_store_frames(fa_store *s, int64_t match_id, int period, double t_from, double t_to,
                    fa_frame_cb cb, void *ud);

/* ------------------------------------------------------------ aggregates */

/* Replaces a stored match's aggregates in one transaction (recomputation). */
int fa_store_aggregates_replace(fa_store *s, int64_t match_id, const fa_aggregates *a);
typedef int (*fa_metric_cb)(void *ud, const fa_metric *m);
typedef int (*fa_grid_cb)(void *ud, const fa_grid *g); /* g->cells valid during the call */
/* player_id NULL = all (teams and players), "" = team metrics only, else that player's. */
int fa_store_metrics(fa_store *s, int64_t match_id, const char *player_id, fa_metric_cb cb, void *ud);
int fa_store_grids(fa_store *s, int64_t match_id, const char *player_id, fa_grid_cb cb, void *ud);
/* The JSON document of that name into out (appended); FA_ENOTFOUND when absent. */
int fa_store_doc(fa_store *s, int64_t match_id, const char *name, fa_buf *out);
/* Player season aggregates: the sum of a metric over every stored match of
 * the player (with the number of matches). */
int fa_store_metric_sum(fa_store *s, const char *player_id, const char *name, double *sum, int64_t *matches);

#endif
