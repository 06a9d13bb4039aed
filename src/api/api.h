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
    char peer[48];  /* the client's address ("127.0.0.1", "::1"), "" when unknown */
    int version;    /* 1 (HTTP/1.x) or 2 (HTTP/2) */
} fa_http_request;

/* A deep copy of r in one allocation (release it with free()), whose views
 * point into the copy: what a handler that defers keeps of its request.
 * NULL with FA_ENOMEM. */
fa_http_request *fa_http_request_clone(const fa_http_request *r);

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
    struct fa_http_slot *slot;      /* the server's: which request this answers (fa_http_defer) */
} fa_http_response;

/* Adds a response header; FA_ELIMIT when full or too long. */
int fa_http_response_header(fa_http_response *resp, const char *name, const char *value);
/* Empties the body: the owned bytes, and a borrowed body_ref (released). */
void fa_http_response_drop_body(fa_http_response *resp);
/* The same from name[0..nn) and value[0..vn), not NUL-terminated. */
int fa_http_response_header_n(fa_http_response *resp, const char *name, size_t nn, const char *value, size_t vn);

/* Deferred responses, for a handler that must wait for something (an L2
 * lookup on the loop's Redis connection) without blocking its loop.
 * Inside handle() (and only there: resp must be the one handle() got),
 * fa_http_defer(resp) returns a token and the handler returns at once;
 * the request's views (fa_strv) die then, so it copies what it needs
 * first. The server keeps the connection's place in its response order
 * (HTTP/1.1 answers pipelined requests in order, so later ones wait;
 * HTTP/2 streams go on). Later, on the same loop thread, the
 * owner fills fa_http_deferred_response(d) - status, headers, body, as in
 * handle() - and calls fa_http_deferred_done(d) exactly once, which sends
 * it and frees d. If the connection died meanwhile, done only frees.
 * NULL with FA_ENOMEM (then answer synchronously). */
typedef struct fa_http_deferred fa_http_deferred;
fa_http_deferred *fa_http_defer(fa_http_response *resp);
fa_http_response *fa_http_deferred_response(fa_http_deferred *d);
/* Sends and frees. Not from inside a handle() call (answer that request
 * synchronously instead): from the loop's I/O callbacks or its tick. */
void fa_http_deferred_done(fa_http_deferred *d);

/* The application the server runs. */
typedef struct fa_api_app fa_api_app;
typedef struct fa_api_thread fa_api_thread;

struct fa_io_loop; /* net/net.h */

typedef struct fa_api_callbacks {
    void *ud;
    /* Per loop thread: create its state (e.g. open a store handle). io is
     * the loop's fd watching and clock, for I/O the application does on
     * the loop (valid until thread_free, on this thread only). */
    fa_api_thread *(*thread_init)(void *ud, int loop_index, const struct fa_io_loop *io);
    void (*thread_free)(fa_api_thread *t);
    /* Handle one request: fill resp (status, content type, body, headers),
     * or defer it (fa_http_defer). */
    void (*handle)(fa_api_thread *t, const fa_http_request *req, fa_http_response *resp);
    /* Called on every loop iteration (may be NULL): the application's
     * timers. Returns the seconds until it next needs calling, < 0 when it
     * has nothing pending (the loop then sleeps until I/O). */
    double (*tick)(fa_api_thread *t, double now);
    /* The loop stops (drain): close remote connections, answer what is
     * deferred. May be NULL. */
    void (*draining)(fa_api_thread *t);
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
    int http2;                 /* 1: HTTP/2 too - cleartext h2c (prior knowledge and Upgrade), and
                                * over TLS when ALPN picks "h2"; 0: HTTP/1.1 only */
    const char *tls_cert;      /* both set: every connection is TLS (1.2+), certificate chain (PEM) */
    const char *tls_key;       /*   and its private key (PEM); NULL: cleartext */
} fa_server_config;

void fa_server_config_default(fa_server_config *c);

typedef struct fa_server fa_server;
/* Binds and starts the loops (threads). Returns NULL with a message on error. */
fa_server *fa_server_start(const fa_server_config *c, const fa_api_callbacks *cb);
int fa_server_port(const fa_server *s); /* the bound port */
int fa_server_connections(fa_server *s); /* connections open now, every loop together */
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

/* How the application asks a cache to compute a response once: run()
 * executes the request's handler into resp with its caching headers and
 * says how long the result may be kept (*ttl_s, its s-maxage; <= 0: not
 * kept) and what it depends on (*tags, space-separated surrogate keys). */
typedef struct fa_api_compute {
    void (*run)(void *ctx, fa_http_response *resp, int *ttl_s, const char **tags);
    void *ctx;
} fa_api_compute;

/* What other modules plug into the application; every member may be NULL.
 * Hooks are called from every loop thread at once: they must be
 * thread-safe; `tc` is the calling loop's own cache state. A GET on a
 * cacheable route goes: cache_lookup (L1 hit) -> else cache_remote (L2,
 * asynchronous: the request is deferred) -> else cache_fill (the handler,
 * coalesced) -> coding_pick -> If-None-Match (304) -> encode. key = path,
 * plus '?' and the raw query when there is one. */
typedef struct fa_api_hooks {
    void *ud;
    /* Per loop: the cache's state for that loop (e.g. its Redis
     * connection, on io). May return NULL (no per-loop state). */
    void *(*cache_thread_init)(void *ud, int loop_index, const struct fa_io_loop *io);
    void (*cache_thread_free)(void *ud, void *tc);
    /* The loop's timers: as fa_api_callbacks.tick. */
    double (*cache_tick)(void *ud, void *tc, double now);
    /* L1: fills resp from memory (status, content type, body by reference,
     * the kept headers: ETag, Cache-Control, Vary, Surrogate-Key) and
     * returns 1, or returns 0 on a miss. Never waits. */
    int (*cache_lookup)(void *ud, const char *key, fa_http_response *resp);
    /* L2: starts an asynchronous lookup on the calling loop. Returns 1 when
     * started: found(arg, hit) is then called exactly once, later, on this
     * loop's thread, with hit non-NULL when the shared cache had the key
     * (the caller passes it to cache_apply). Returns 0 when no lookup was
     * started (no L2, breaker open, not connected): go on without it. */
    int (*cache_remote)(void *ud, void *tc, const char *key, void (*found)(void *arg, void *hit), void *arg);
    /* Fills resp from a remote hit, as cache_lookup does, and releases the
     * hit (resp NULL: only releases). */
    void (*cache_apply)(void *ud, void *hit, fa_http_response *resp);
    /* Computes key's response with compute, once for all concurrent
     * callers in the process (the others wait and get the same response,
     * errors included), keeps a 200 with ttl_s > 0 (in L1, and in L2
     * through tc), and leaves the response in resp (its body by reference
     * to the kept bytes, so encode can send a precompressed variant). */
    void (*cache_fill)(void *ud, void *tc, const char *key, fa_http_response *resp,
                       const fa_api_compute *compute);
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
    /* Invalidates every cached response depending on any of the tags, in
     * this process and (through L2) on every node. 0, or < 0 with the
     * error set (L2 unreachable: the local part is done all the same). */
    int (*purge)(void *ud, const char *const *tags, size_t n);
    /* GET /metrics and GET /v1/alerts (src/obs); NULL answers 503. */
    void (*metrics)(void *ud, const fa_http_request *req, fa_http_response *resp);
    void (*alerts)(void *ud, const fa_http_request *req, fa_http_response *resp);
} fa_api_hooks;

struct fa_api_keys;  /* api/security.h */
struct fa_ratelimit; /* api/security.h */

typedef struct fa_api_app_config {
    /* A match whose import is at least this old counts as settled and is
     * cached long (see http_cache.c for the whole policy); 3600 s. */
    double settle_s;
    fa_api_hooks hooks;
    /* Security (guard.c), all borrowed and NULL by default. keys: who may
     * call admin routes (NULL: they answer 403, disabled). limit_ip: a
     * token bucket per client address on every route but health, readiness
     * and metrics; limit_key: one per API key name, for requests that
     * present a key. A refusal is 429 with Retry-After. */
    const struct fa_api_keys *keys;
    struct fa_ratelimit *limit_ip, *limit_key;
    /* GET /media/<path> serves the files below this directory (transcode
     * outputs: HLS, DASH, segments) with byte ranges; NULL: 404. Borrowed. */
    const char *media_dir;
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

/* Computes key's response (path, plus '?' and the raw query) into the
 * caches if it is not there, as a GET would, on the calling thread with
 * t's store handle; nothing is sent or counted as a request. t comes from
 * fa_api_app_callbacks' thread_init (io NULL). Returns 1 when the response
 * is a 200, 0 otherwise (unknown route, not cacheable, an error). */
int fa_api_app_warm(fa_api_thread *t, const char *key);

/* ------------------------------------------------------------ cache warming (warm.c) */

/* A thread that fills the caches with keys it is given (fa_api_app_warm),
 * so the requests after a start or an invalidation find them ready. A
 * bounded queue (1024 keys; a key already queued is not queued twice;
 * beyond, new keys are dropped and counted). */
typedef struct fa_api_warmer fa_api_warmer;

/* Starts the thread (with its own thread state, store handle included).
 * NULL with FA_ENOMEM / FA_EIO. */
fa_api_warmer *fa_api_warmer_start(fa_api_app *app);
/* Queues a copy of key; thread-safe, never blocks on the work. */
void fa_api_warmer_add(fa_api_warmer *w, const char *key);
/* Finishes the key in progress, drops the rest, joins and frees. NULL: no-op. */
void fa_api_warmer_stop(fa_api_warmer *w);
typedef struct fa_api_warmer_stats {
    uint64_t queued, warmed, failed, dropped;
    size_t pending;
} fa_api_warmer_stats;
void fa_api_warmer_stats_get(fa_api_warmer *w, fa_api_warmer_stats *out);
/* Waits until the queue is empty and the thread idle, or timeout_s passed:
 * 1 idle, 0 timed out. For tests and orderly shutdowns. */
int fa_api_warmer_wait_idle(fa_api_warmer *w, double timeout_s);

/* The warm file: the keys most requested in L1 now (fa_l1_hot_keys), one
 * per line, written to path atomically (a temporary file renamed), so the
 * next start fills them first. 0 or FA_EIO naming the file. */
struct fa_l1;
int fa_api_warm_save(const char *path, struct fa_l1 *l1, size_t max_keys);
/* Queues the keys of a warm file (lines starting with '/', at most 2 KiB,
 * printable; '#' comments and blank lines skipped; at most 4096 lines
 * read). Returns the count queued: a missing file is 0 keys, not an error;
 * < 0 (FA_EIO) when it cannot be read. */
int fa_api_warm_load(const char *path, fa_api_warmer *w);

/* ------------------------------------------------------------ the caches behind the hooks (cache_hooks.c) */

/* The response caches the application runs on: an L1 (required) and,
 * optionally, the shared L2 in Redis. */
struct fa_l1; /* cache/cache.h */
struct fa_l2; /* cache/l2.h */
typedef struct fa_api_caches fa_api_caches;

/* Makes the caches' state (l1 and l2 borrowed: they must outlive it; l2
 * may be NULL) and fills every cache hook of hooks (and hooks->ud); the
 * other hooks are kept. NULL with FA_ENOMEM. */
fa_api_caches *fa_api_caches_new(struct fa_l1 *l1, struct fa_l2 *l2, fa_api_hooks *hooks);
void fa_api_caches_free(fa_api_caches *c);
/* From now on, what an invalidation drops (the database changed, a purge
 * here or heard from another node) is refilled by w, the hottest keys
 * first (up to 64 per invalidation). w NULL: no refilling. Thread-safe. */
void fa_api_caches_set_warmer(fa_api_caches *c, fa_api_warmer *w);
/* An invalidation heard from another node (the L2 subscriber's
 * on_invalidate): raises the tag's version in L1 and refills what it
 * dropped. */
void fa_api_caches_invalidated(fa_api_caches *c, const char *tag, uint64_t version);

#endif
