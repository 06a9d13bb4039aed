/*
 * api.h - the face of src/api: FootAnalytics' only network face.
 *
 * Two halves meet here:
 *   - the server (server.c, http1.c): one event loop per core on an
 *     SO_REUSEPORT listener, HTTP/1.1 keep-alive and pipelining, limits on
 *     header and body size, connections and idle time, graceful shutdown.
 *     It parses requests into fa_http_request and writes fa_http_response.
 *   - the application (router.c, handlers/): maps a request to a handler
 *     that fills the response (JSON bodies, problem+json errors, caching
 *     headers). Handlers never see sockets.
 *
 * A handler runs on the loop thread that received the request; per-thread
 * state (a store handle, scratch buffers) lives in fa_api_thread, which the
 * server creates for each loop with the application's callbacks.
 */
#ifndef FA_API_H
#define FA_API_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef enum fa_http_method {
    FA_HTTP_OTHER = 0,
    FA_HTTP_GET,
    FA_HTTP_HEAD,
    FA_HTTP_POST,
    FA_HTTP_PUT,
    FA_HTTP_DELETE,
    FA_HTTP_OPTIONS
} fa_http_method;

/* A string view into the connection's buffer, valid during the handler call. */
typedef struct fa_strv {
    const char *p;
    size_t n;
} fa_strv;

typedef struct fa_http_header {
    fa_strv name, value;
} fa_http_header;

#define FA_HTTP_MAX_HEADERS 64

typedef struct fa_http_request {
    fa_http_method method;
    fa_strv method_text;
    fa_strv target; /* as sent: path and query */
    fa_strv path;   /* percent-decoded path (no query); decoding failures are 400 before handlers */
    fa_strv query;  /* raw query string without '?' ("" when none) */
    int minor;      /* HTTP/1.x */
    int keep_alive;
    size_t nheaders;
    fa_http_header headers[FA_HTTP_MAX_HEADERS];
    fa_strv body;
    uint64_t id;    /* request id, unique per process, for logs */
} fa_http_request;

/* Case-insensitive header lookup; NULL when absent. */
const fa_strv *fa_http_header_get(const fa_http_request *r, const char *name);
/* Query parameter value (percent-decoded into buf[size]); 1 found, 0 absent,
 * < 0 malformed (bad escape, too long). */
int fa_http_query_get(const fa_http_request *r, const char *key, char *buf, size_t size);

#define FA_HTTP_MAX_RESP_HEADERS 24

typedef struct fa_http_response {
    int status;
    const char *content_type;       /* static string, e.g. "application/json" */
    char headers[FA_HTTP_MAX_RESP_HEADERS][2][128]; /* extra headers: name, value */
    size_t nheaders;
    fa_buf body;                    /* owned by the server; handlers append */
    const void *body_ref;           /* or: a body the handler does not own (e.g. a cached entry) */
    size_t body_ref_len;            /*     that stays valid until release() is called */
    void (*release)(void *ud);      /* called when body_ref is no longer needed (may be NULL) */
    void *release_ud;
} fa_http_response;

/* Adds a response header; FA_ELIMIT when full or too long. */
int fa_http_response_header(fa_http_response *resp, const char *name, const char *value);

/* The application the server runs. */
typedef struct fa_api_app fa_api_app;
typedef struct fa_api_thread fa_api_thread;

typedef struct fa_api_callbacks {
    void *ud;
    /* Per loop thread: create its state (e.g. open a store handle). */
    fa_api_thread *(*thread_init)(void *ud, int loop_index);
    void (*thread_free)(fa_api_thread *t);
    /* Handle one request: fill resp (status, content type, body, headers). */
    void (*handle)(fa_api_thread *t, const fa_http_request *req, fa_http_response *resp);
} fa_api_callbacks;

typedef struct fa_server_config {
    const char *host;          /* "127.0.0.1" */
    int port;                  /* 8080; 0 = any free port (see fa_server_port) */
    int loops;                 /* event loops (threads); 0 = one per CPU */
    size_t max_header_bytes;   /* 16 KiB: 431 beyond */
    size_t max_body_bytes;     /* 1 MiB: 413 beyond */
    int max_connections;       /* per process, 10000: beyond, new connections are closed */
    double idle_timeout_s;     /* 30: idle keep-alive connections are closed */
    double header_timeout_s;   /* 10: a request's headers must arrive within (slowloris) */
    double drain_timeout_s;    /* 10: on shutdown, in-flight requests get this long */
} fa_server_config;

void fa_server_config_default(fa_server_config *c);

typedef struct fa_server fa_server;
/* Binds and starts the loops (threads). Returns NULL with a message on error. */
fa_server *fa_server_start(const fa_server_config *c, const fa_api_callbacks *cb);
int fa_server_port(const fa_server *s); /* the bound port */
/* Asks the loops to stop accepting, drain in-flight requests and exit. Async-signal-safe. */
void fa_server_stop(fa_server *s);
/* Waits for the loops to finish, then frees the server. */
void fa_server_wait_free(fa_server *s);

/* ---------------------------------------------------- application (app.c, router.c, handlers/)
 *
 * The JSON API over the store: /v1/matches and its sub-resources, player
 * season aggregates, /v1/openapi.json, /healthz, /readyz (and /metrics,
 * /v1/alerts through hooks). The app is shared by every loop thread and
 * read-only after fa_api_app_new; each loop gets its own fa_api_thread (its
 * own store handle, opened in thread_init or, when that failed, on first
 * use, so the server can start before the database exists: /readyz says
 * when it answers). */

/* What other modules plug into the application; every member may be NULL.
 * Hooks are called from every loop thread at once: they must be
 * thread-safe. Order of a GET's response: route -> cache_get (hit) or handler -> ETag of
 * the identity body -> cache_put -> coding_pick -> If-None-Match (304) ->
 * encode. */
typedef struct fa_api_hooks {
    void *ud;
    /* L1 cache (src/cache). key = path, plus '?' and the raw query when there
     * is one. On a hit, fills resp with a representation cache_put was given
     * (status 200, content_type, body or body_ref, its headers: ETag,
     * Cache-Control, Vary, Surrogate-Key) and returns 1; else returns 0. */
    int (*cache_get)(void *ud, const char *key, fa_http_response *resp);
    /* Offers a fresh 200 identity response for keeping ttl_s seconds (its
     * s-maxage), tagged with space-separated surrogate keys for purging. It
     * may replace resp's body by a reference to the kept copy of the same
     * bytes (so coding_pick/encode can serve its precompressed variants). */
    void (*cache_put)(void *ud, const char *key, fa_http_response *resp, int ttl_s, const char *tags);
    /* Content coding for this request ("br", "gzip"), NULL for identity.
     * The app appends it to the ETag ("\"<hash>-br\""), so each
     * representation has its own strong tag, before answering If-None-Match. */
    const char *(*coding_pick)(void *ud, const fa_http_request *req, const fa_http_response *resp);
    /* Replaces resp's body with its coded form and adds Content-Encoding;
     * 0 or a negative FA_E* (the identity body is then sent, with its tag). */
    int (*encode)(void *ud, const char *coding, fa_http_response *resp);
    /* The database changed under this loop's store handle (another
     * process imported or re-imported): drop whatever was cached from it. */
    void (*store_changed)(void *ud);
    /* GET /metrics and GET /v1/alerts (src/obs); NULL answers 503. */
    void (*metrics)(void *ud, const fa_http_request *req, fa_http_response *resp);
    void (*alerts)(void *ud, const fa_http_request *req, fa_http_response *resp);
} fa_api_hooks;

typedef struct fa_api_app_config {
    /* A match whose import is at least this old counts as settled and is
     * cached long (see http_cache.c for the whole policy); 3600 s. */
    double settle_s;
    fa_api_hooks hooks;
} fa_api_app_config;

void fa_api_app_config_default(fa_api_app_config *c);
/* Creates the application over the database at db_path (a path or
 * "sqlite:PATH", opened by each loop thread with fa_store_open(db, 0, 0)).
 * c NULL = defaults. NULL with a message on error (no memory, no path). */
fa_api_app *fa_api_app_new(const char *db_path, const fa_api_app_config *c);
/* Frees the app; every thread state must have been freed before. */
void fa_api_app_free(fa_api_app *app);
/* The callbacks to give fa_server_start (ud = app). */
fa_api_callbacks fa_api_app_callbacks(fa_api_app *app);
/* The surrogate keys every representation of a stored match carries
 * ("match-42 team-statsbomb-217 team-statsbomb-206 competition-la-liga"),
 * for a purge after a re-import; truncated at a key boundary to fit out[size]. */
struct fa_match; /* model.h */
void fa_api_match_tags(int64_t store_id, const struct fa_match *m, char *out, size_t size);

/* ------------------------------------------------------------ the L1 cache behind the hooks (l1_hooks.c) */

/* Fills hooks' cache_get, cache_put, coding_pick and encode (and ud) so the
 * application keeps fresh 200s in l1 (with their caching headers and
 * surrogate keys as tags) and answers repeats from it, sending the
 * precompressed variant Accept-Encoding picks. The other hooks are kept. */
struct fa_l1; /* cache/cache.h */
void fa_api_l1_hooks(struct fa_l1 *l1, fa_api_hooks *hooks);

#endif
