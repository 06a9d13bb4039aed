/*
 * store_backend.h - internal to src/store: the table of operations a store
 * backend provides.
 *
 * store.c owns the public face (store.h): it parses the target, picks a
 * backend and forwards every call through this table, and does the
 * backend-neutral parts itself (target and match-reference parsing,
 * argument checks). A backend (sqlite.c today, postgres.c later) only
 * fills the table, so adding one touches no caller.
 */
#ifndef FA_STORE_BACKEND_H
#define FA_STORE_BACKEND_H

#include "store.h"

typedef struct fa_store_backend {
    const char *name; /* "sqlite" */
    /* Returns the backend's handle, or NULL with the error set. target is
     * what follows the scheme (a file path for SQLite). */
    void *(*open)(const char *target, int create, int migrate);
    void (*close)(void *be);
    int (*migrate)(void *be, int *applied);
    int (*schema_version)(void *be, int *version);
    int (*data_version)(void *be, int64_t *version);
    int (*explain)(void *be, FILE *out, int *scans);

    int (*import_begin)(void *be, void **imp);
    const fa_sink *(*import_sink)(void *imp);
    int (*import_aggregates)(void *imp, const fa_aggregates *a);
    int (*import_commit)(void *imp, fa_import_stats *stats); /* frees imp */
    void (*import_abort)(void *imp);                         /* frees imp */

    int (*matches)(void *be, const fa_match_filter *f, fa_match_cb cb, void *ud);
    /* FA_ENOTFOUND when absent (store.c words the message). */
    int (*match_by_id)(void *be, int64_t id, fa_match_row *out);
    int (*match_by_provider)(void *be, fa_provider provider, const char *provider_id, fa_match_row *out);
    int (*events)(void *be, const fa_event_filter *f, fa_event_cb cb, void *ud);
    int (*players)(void *be, int64_t match_id, fa_player_cb cb, void *ud);
    int (*frames)(void *be, int64_t match_id, int period, double t_from, double t_to, fa_frame_cb cb,
                  void *ud);

    /* Aggregates; a is already checked (store.c). FA_ENOTFOUND when the
     * match (replace) or the document (doc) is absent. */
    int (*aggregates_replace)(void *be, int64_t match_id, const fa_aggregates *a);
    int (*metrics)(void *be, int64_t match_id, const char *player_id, fa_metric_cb cb, void *ud);
    int (*grids)(void *be, int64_t match_id, const char *player_id, fa_grid_cb cb, void *ud);
    int (*doc)(void *be, int64_t match_id, const char *name, fa_buf *out);
    /* provider NULL = a player of that provider id in any provider. */
    int (*metric_sum)(void *be, const char *provider, const char *player_id, const char *name, double *sum,
                      int64_t *matches);
} fa_store_backend;

/* The embedded SQLite backend (sqlite.c). */
extern const fa_store_backend fa_store_sqlite_backend;

#endif
