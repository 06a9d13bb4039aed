/*
 * app_internal.h - what the application's files (app.c, router.c,
 * problem.c, params.c, http_cache.c, openapi.c, handlers/) share, and
 * nothing outside src/api sees.
 *
 * A request travels as one fa_api_req: the router fills in the route and
 * the path parameters, the handler writes a JSON body (or a problem) and
 * says how volatile its data is (a cache class) and which surrogate keys
 * name it; http_cache.c turns that into ETag and Cache-Control headers.
 * Handlers return 0 when the body is complete, anything else after they
 * wrote a problem (fa_api_problem and friends do both in one call).
 */
#ifndef FA_API_APP_INTERNAL_H
#define FA_API_APP_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/analytics.h"
#include "api/api.h"
#include "core/core.h"
#include "model/model.h"
#include "store/store.h"

#define FA_API_MAX_PARAMS 4     /* path parameters per route */
#define FA_API_HIST_CACHE 64    /* per thread: latency histogram children kept */
#define FA_API_TAGS_MAX 128     /* a response header value's room, NUL included */
#define FA_API_LIMIT_DEFAULT 50 /* page size of lists */
#define FA_API_LIMIT_MAX 200
#define FA_API_TRACKING_MAX_S 600.0 /* longest tracking window per request */

/* How long a representation may be reused; http_cache.c states the policy. */
typedef enum fa_api_cache_class {
    FA_API_CACHE_NONE = 0, /* no-store: health, problems, obs */
    FA_API_CACHE_LIST,     /* lists and cross-match aggregates: change with any import */
    FA_API_CACHE_RECENT,   /* one match's data, imported less than settle_s ago */
    FA_API_CACHE_SETTLED,  /* one match's data, unchanged for at least settle_s */
    FA_API_CACHE_STATIC    /* documents of this build (openapi.json) */
} fa_api_cache_class;

struct fa_api_app {
    char *db_path;
    fa_api_app_config cfg;
    fa_analytics_config analytics; /* pitch-control parameters */
    struct fa_obs_family *latency;  /* FA_M_HTTP_REQUEST_SECONDS by route and status */
    struct fa_obs_gauge *inflight;  /* FA_M_HTTP_INFLIGHT */
    /* The store handles as a pool (pool="sqlite"): one per loop thread (and
     * the warmer), so there is never a wait for one; in use while a handler
     * runs on it. FA_M_DB_POOL_IN_USE, FA_M_DB_POOL_MAX. */
    struct fa_obs_gauge *pool_in_use, *pool_max;
    struct fa_obs_histogram *pool_wait; /* FA_M_DB_POOL_WAIT{pool="sqlite"} */
    /* The process's one watch on the database (see check_store_changed in
     * app.c): a connection of its own, asked by one loop at a time. */
    pthread_mutex_t watch_mu;
    fa_store *watch;          /* NULL until the database can be opened */
    int64_t watch_version;
    int watch_known;
    _Atomic double watch_checked_at;
};

struct fa_api_thread {
    fa_api_app *app;
    int loop_index;
    const struct fa_io_loop *io; /* the loop's fd watching and clock (NULL in tests without a server) */
    void *tc;                    /* the cache hooks' state for this loop */
    struct {                     /* latency histogram children by (route, status): see observe() */
        const char *route;
        int status;
        struct fa_obs_histogram *h;
    } hist[FA_API_HIST_CACHE];
    fa_store *store; /* NULL until the first request that needs it opens it */
    fa_arena *arena; /* request-scoped, reset at the start of each request */

};

typedef struct fa_api_req fa_api_req;
typedef int (*fa_api_handler_fn)(fa_api_req *r);

enum {
    FA_ROUTE_LIVE = 1,  /* answers from the current state: never cached or coalesced */
    FA_ROUTE_ADMIN = 2  /* needs an API key with the admin scope */
};

typedef struct fa_api_route {
    const char *pattern;      /* "/v1/matches/{id}/events": {name} matches one non-empty segment */
    const char *operation;    /* its operationId in openapi.json */
    const char *const *query; /* the query parameters it takes, NULL-terminated (NULL = none) */
    fa_api_handler_fn get;    /* GET (and HEAD); NULL: not readable */
    fa_api_handler_fn post;   /* POST; NULL: not an action */
    unsigned flags;           /* FA_ROUTE_* */
} fa_api_route;

struct fa_api_req {
    fa_api_thread *t;
    const fa_http_request *http;
    fa_http_response *resp;
    const fa_api_route *route;
    fa_strv params[FA_API_MAX_PARAMS];
    size_t nparams;
    fa_api_cache_class cache; /* set by the handler (NONE by default) */
    char tags[FA_API_TAGS_MAX];
    int problem; /* status of the problem written, 0 when none */
};

/* ------------------------------------------------------------ router.c */

/* The route table, in the order the router tries it. */
const fa_api_route *fa_api_routes(size_t *n);
/* Finds req's route and fills r->route and r->params. Returns 0 when a
 * handler should run; 1 when the response is already complete (404, 405,
 * OPTIONS' 204). */
int fa_api_route_find(fa_api_req *r);
/* The path parameter of that name as a NUL-terminated copy in the request
 * arena; NULL when the route has no such parameter or memory ran out. */
const char *fa_api_param(fa_api_req *r, const char *name);

/* ------------------------------------------------------------ guard.c */

/* Rate limits and API keys before any handler runs: 0 when the request may
 * go on, else < 0 with the problem written (401, 403, 429). */
int fa_api_guard(fa_api_req *r);

/* ------------------------------------------------------------ problem.c */

/* Replaces resp with an RFC 9457 problem (application/problem+json):
 * type "urn:footanalytics:problem:<slug>", title from the slug, status,
 * detail, instance = the request target. Never fails (falls back to a
 * static body when out of memory). */
void fa_api_problem_write(fa_http_response *resp, int status, const char *slug, const char *detail,
                          fa_strv instance);
/* Writes a problem for r and returns FA_EINVAL, so handlers can
 * `return fa_api_problem(r, 404, "not-found", "match '%s' ...", ...)`. */
int fa_api_problem(fa_api_req *r, int status, const char *slug, const char *fmt, ...) FA_PRINTF(4, 5);
/* 400: "<where> '<name>': expected <expected>, got '<got>'" (got is cut to
 * 64 bytes); where = "parameter" or "path parameter". */
int fa_api_bad_param(fa_api_req *r, const char *where, const char *name, const char *expected,
                     const char *got);
/* A problem from the thread's fa_err state after a store or library call
 * failed with rc: FA_ENOTFOUND 404, FA_EINVAL/FA_ELIMIT 400 (with the
 * message), FA_ENOMEM 503, FA_EIO 503 (the store handle is closed, the next
 * request reopens it), else 500; 5xx messages are logged, not sent. */
int fa_api_fail(fa_api_req *r, int rc, const char *what);

/* ------------------------------------------------------------ params.c */

/* 400 unless every query key is one r->route takes, each at most once, and
 * the query is well-formed. */
int fa_api_query_check(fa_api_req *r);
/* Query parameter as text (percent-decoded, non-empty, at most max bytes and
 * fitting buf[size], valid UTF-8, no control characters): 1 present, 0
 * absent, < 0 after a 400 problem. */
int fa_api_q_str(fa_api_req *r, const char *key, size_t max, char *buf, size_t size);
/* Integer in [lo, hi]: 1 present, 0 absent (*out untouched), < 0 problem. */
int fa_api_q_int(fa_api_req *r, const char *key, int64_t lo, int64_t hi, int64_t *out);
/* Finite decimal number in [lo, hi]: as fa_api_q_int. expected words the
 * 400 ("a rate in Hz, > 0"); NULL says "a number in [lo, hi]". */
int fa_api_q_num(fa_api_req *r, const char *key, double lo, double hi, const char *expected, double *out);
/* ISO date YYYY-MM-DD (a real calendar day) into out[11]: as fa_api_q_int. */
int fa_api_q_date(fa_api_req *r, const char *key, char *out);
/* limit: 1..FA_API_LIMIT_MAX, default FA_API_LIMIT_DEFAULT; 0 or < 0 problem. */
int fa_api_q_limit(fa_api_req *r, int *limit);
/* cursor: a value fa_api_cursor_make made for the same kind and scope (a
 * hash of the query's filters): 1 with *pos, 0 absent, < 0 problem. */
int fa_api_q_cursor(fa_api_req *r, char kind, uint32_t scope, int64_t *pos);
/* An opaque cursor (base64url) into out[size >= 48]. */
void fa_api_cursor_make(char kind, uint32_t scope, int64_t pos, char *out, size_t size);

/* ------------------------------------------------------------ http_cache.c */

/* 64-bit FNV-1a: ETags and cursor scopes. */
uint64_t fa_api_hash(const void *p, size_t n, uint64_t seed);
#define FA_API_HASH_SEED 0xcbf29ce484222325ull
/* 1 when an If-None-Match value matches etag under weak comparison
 * (RFC 9110 13.1.2: "*", or any listed tag with the same opaque part). */
int fa_api_etag_match(const char *inm, size_t n, const char *etag);
/* Volatility and surrogate keys of one stored match's data. */
void fa_api_cache_match(fa_api_req *r, const fa_match_row *row);
/* Appends one surrogate key "<kind>-<a>[-<b>]" (lower case, [a-z0-9-]) to
 * r->tags when it fits. */
void fa_api_tag(fa_api_req *r, const char *kind, const char *a, const char *b);
/* After the handler, for the caches: on a 200 of a cacheable route sets
 * ETag, Cache-Control, Vary and Surrogate-Key and returns the seconds a
 * shared cache may keep it (s-maxage); on anything else sets
 * Cache-Control: no-store and returns -1. */
int fa_api_cache_headers(fa_api_req *r);
/* Last step of every response: on a 200 of a cacheable route sets the
 * caching headers (unless from_cache: resp came from a cache hook with
 * them), picks the coding, answers If-None-Match with 304 and encodes; on
 * anything else sets Cache-Control: no-store (when not set). */
void fa_api_http_finish(fa_api_req *r, int from_cache);

/* ------------------------------------------------------------ openapi.c */

/* Appends the OpenAPI 3.0 document (JSON) of every route: 0 or FA_ENOMEM. */
int fa_api_openapi_write(fa_buf *out);

/* ------------------------------------------------------------ handlers/common.c */

/* Minimal JSON writer over fa_buf that places commas itself. Errors (no
 * memory, nesting deeper than 62) stick in err; check it once at the end. */
typedef struct fa_jw {
    fa_buf *b;
    int depth;
    uint64_t has_item; /* bit d: the container at depth d has an item */
    int after_key;
    int err;
} fa_jw;

void fa_jw_init(fa_jw *w, fa_buf *b);
void fa_jw_obj(fa_jw *w);
void fa_jw_end_obj(fa_jw *w);
void fa_jw_arr(fa_jw *w);
void fa_jw_end_arr(fa_jw *w);
void fa_jw_key(fa_jw *w, const char *key);
void fa_jw_str(fa_jw *w, const char *s);            /* NULL -> null */
void fa_jw_str_or_null(fa_jw *w, const char *s);    /* "" -> null too */
void fa_jw_num(fa_jw *w, double v);                 /* NAN / infinite -> null */
void fa_jw_round(fa_jw *w, double v, int decimals); /* rounded to that many decimals */
void fa_jw_int(fa_jw *w, int64_t v);
void fa_jw_bool(fa_jw *w, int v); /* < 0 -> null */
void fa_jw_null(fa_jw *w);
void fa_jw_raw(fa_jw *w, const char *json, size_t n); /* a complete JSON value */

/* The store handle of r's thread, opened on first use; NULL after a 503. */
fa_store *fa_api_store(fa_api_req *r);
/* The match named by path parameter "id" (store id or provider:id): 0 with
 * *row and r's cache class and tags set, or < 0 after a 400/404/5xx. */
int fa_api_load_match(fa_api_req *r, fa_match_row *row);
/* "provider:id" of a stored match into out. */
const char *fa_api_match_ref(const fa_match_row *row, char *out, size_t size);
/* "match": {"id": 42, "ref": "statsbomb:15986"} as the next member. */
void fa_api_jw_match_ref(fa_jw *w, const fa_match_row *row);
/* The whole match object (lists and /v1/matches/{id}). */
void fa_api_jw_match(fa_jw *w, const fa_match_row *row);

typedef struct fa_api_roster {
    fa_player *players;
    size_t n;
} fa_api_roster;
/* The match's players into request memory: 0 or < 0 after a problem. */
int fa_api_load_roster(fa_api_req *r, int64_t match_id, fa_api_roster *out);
/* The roster entry of that provider player id, NULL when absent. */
const fa_player *fa_api_roster_find(const fa_api_roster *ro, const char *id);
/* A stored document, checked to parse as JSON, into out: 0, or < 0 after a
 * 404 (absent: detail names what the match lacks) or 500 (corrupt). */
int fa_api_load_doc(fa_api_req *r, const fa_match_row *row, const char *name, const char *absent,
                    fa_buf *out);
/* A validated player id (path or query): at most FA_ID_MAX - 1 bytes,
 * printable, no spaces; 0 or < 0 after a 400. */
int fa_api_check_player_id(fa_api_req *r, const char *where, const char *name, const char *id);
/* Completes a handler's body: 0, or a 503 problem when memory ran out. */
int fa_api_jw_done(fa_api_req *r, fa_jw *w);

/* ------------------------------------------------------------ handlers/ (one file per resource) */

int fa_api_h_matches(fa_api_req *r);
int fa_api_h_match(fa_api_req *r);
int fa_api_h_events(fa_api_req *r);
int fa_api_h_players(fa_api_req *r);
int fa_api_h_player(fa_api_req *r);
int fa_api_h_stats(fa_api_req *r);
int fa_api_h_heatmaps(fa_api_req *r);
int fa_api_h_pass_network(fa_api_req *r);
int fa_api_h_possession(fa_api_req *r);
int fa_api_h_tracking(fa_api_req *r);
int fa_api_h_pitch_control(fa_api_req *r);
int fa_api_h_season(fa_api_req *r);
int fa_api_h_healthz(fa_api_req *r);
int fa_api_h_readyz(fa_api_req *r);
int fa_api_h_openapi(fa_api_req *r);
/* /metrics and /v1/alerts: the obs hooks, or 503 "not available yet". */
int fa_api_h_metrics(fa_api_req *r);
int fa_api_h_alerts(fa_api_req *r);
/* GET /media/{path+}: a file below the media directory (cfg.media_dir). */
int fa_api_h_media(fa_api_req *r);
/* POST /v1/admin/purge: the purge hook over validated tags. */
int fa_api_h_purge(fa_api_req *r);
/* POST /v1/calibration: the calibration file solved from the body's points. */
int fa_api_h_calibration(fa_api_req *r);

#endif
