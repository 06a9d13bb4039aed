/*
 * app.c - the application the HTTP server runs: per-thread state and the
 * life of one request (route -> validate -> L1 or handler -> caching).
 *
 * Threads. The server runs one event loop per core and calls the
 * application on the loop's own thread; the store is "used by one thread at
 * a time" (store.h), so each loop owns a store handle (SQLite in WAL mode:
 * readers never wait for an import) and a request arena, and the app itself
 * is read-only after fa_api_app_new: no locks anywhere on the request path.
 * The handle is opened in thread_init, and again on first use when that
 * failed or a store error closed it, so the server can start before the
 * database exists and recovers when it appears (/readyz reports it).
 *
 * One request. The router picks the route (404/405/OPTIONS end there), the
 * query is checked against the keys the route takes, the L1 hook may answer
 * from memory, else the handler writes JSON or a problem; http_cache.c adds
 * validators and caching headers and answers If-None-Match. HEAD runs as
 * GET and keeps the body: the server announces its length and does not
 * send it (server.c), so a HEAD's headers, Content-Length and ETag
 * included, are exactly GET's (RFC 9110 9.3.2).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "app_internal.h"
#include "obs/obs.h"

#define ARENA_BLOCK (64u << 10)

void fa_api_app_config_default(fa_api_app_config *c) {
    memset(c, 0, sizeof *c);
    c->settle_s = 3600;
}

fa_api_app *fa_api_app_new(const char *db_path, const fa_api_app_config *c) {
    if (!db_path || !*db_path) {
        fa_err_set(FA_EUSAGE, "api: no database given (a file path or sqlite:PATH)");
        return NULL;
    }
    fa_api_app *app = fa_calloc(1, sizeof *app);
    if (!app) return NULL;
    pthread_mutex_init(&app->watch_mu, NULL);
    app->db_path = fa_strdup(db_path);
    if (!app->db_path) {
        free(app);
        return NULL;
    }
    if (c)
        app->cfg = *c;
    else
        fa_api_app_config_default(&app->cfg);
    if (!(app->cfg.settle_s >= 0)) app->cfg.settle_s = 3600;
    fa_analytics_config_default(&app->analytics);
    /* Request metrics in the process-wide registry (NULL children are no-ops,
     * so a registry that could not be created only loses the metrics). */
    app->latency = fa_obs_histogram_family(NULL, FA_M_HTTP_REQUEST_SECONDS,
                                           "HTTP request latency by route template and status",
                                           FA_OBS_LABELS(FA_L_ROUTE, FA_L_STATUS), fa_obs_latency_buckets,
                                           FA_OBS_LATENCY_NBUCKETS);
    app->inflight = fa_obs_gauge_get(NULL, FA_M_HTTP_INFLIGHT, "HTTP requests being handled");
    const char *const *pool = FA_OBS_LABELS("sqlite");
    app->pool_in_use =
        fa_obs_gauge_with(fa_obs_gauge_family(NULL, FA_M_DB_POOL_IN_USE, "database connections in use",
                                              FA_OBS_LABELS(FA_L_POOL)),
                          pool);
    app->pool_wait = fa_obs_histogram_with(
        fa_obs_histogram_family(NULL, FA_M_DB_POOL_WAIT, "seconds a request waited for a database connection",
                                FA_OBS_LABELS(FA_L_POOL), fa_obs_latency_buckets, FA_OBS_LATENCY_NBUCKETS),
        pool);
    app->pool_max =
        fa_obs_gauge_with(fa_obs_gauge_family(NULL, FA_M_DB_POOL_MAX, "database connections in the pool",
                                              FA_OBS_LABELS(FA_L_POOL)),
                          pool);
    fa_err_clear();
    return app;
}

void fa_api_app_free(fa_api_app *app) {
    if (!app) return;
    fa_store_close(app->watch);
    pthread_mutex_destroy(&app->watch_mu);
    free(app->db_path);
    free(app);
}

static fa_api_thread *thread_init(void *ud, int loop_index, const struct fa_io_loop *io) {
    fa_api_app *app = ud;
    fa_api_thread *t = fa_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->app = app;
    t->loop_index = loop_index;
    t->io = io;
    t->arena = fa_arena_new(ARENA_BLOCK);
    if (!t->arena) {
        free(t);
        return NULL;
    }
    t->store = fa_store_open(app->db_path, 0, 0);
    if (!t->store)
        fa_log(FA_LOG_WARN, "api: store not available yet", "loop=%d error=\"%s\"", loop_index, fa_err_msg());
    const fa_api_hooks *h = &app->cfg.hooks;
    if (h->cache_thread_init && io) t->tc = h->cache_thread_init(h->ud, loop_index, io);
    fa_obs_gauge_inc(app->pool_max);
    fa_err_clear();
    return t;
}

static void thread_free(fa_api_thread *t) {
    if (!t) return;
    const fa_api_hooks *h = &t->app->cfg.hooks;
    /* First the cache's loop state: lookups still pending are answered
     * (from the store) before the store handle goes. */
    if (h->cache_thread_free && t->tc) h->cache_thread_free(h->ud, t->tc);
    fa_obs_gauge_dec(t->app->pool_max);
    fa_store_close(t->store);
    fa_arena_free(t->arena);
    free(t);
}

static void run_handler(fa_api_req *r) {
    fa_api_handler_fn fn = r->http->method == FA_HTTP_POST ? r->route->post : r->route->get;
    fa_obs_gauge *in_use = r->route->flags & FA_ROUTE_LIVE ? NULL : r->t->app->pool_in_use; /* (no store) */
    fa_obs_gauge_inc(in_use);
    int rc = fn(r);
    fa_obs_gauge_dec(in_use);
    if (rc == 0 || r->problem) return;
    /* A handler that failed without saying why: report what the error state holds. */
    fa_api_fail(r, fa_err_code() ? fa_err_code() : FA_EIO, "answering the request");
}

/* Records one request's latency under its route template (not the raw path,
 * which would make a label set per match) and status. */
static fa_obs_histogram *latency_of(fa_api_thread *t, const char *route, int status) {
    size_t slot = (((uintptr_t)route >> 4) * 31u + (unsigned)status) % FA_API_HIST_CACHE;
    if (t->hist[slot].route == route && t->hist[slot].status == status) return t->hist[slot].h;
    char text[8];
    int v = status < 0 ? 0 : status > 999 ? 999 : status;
    text[0] = (char)('0' + v / 100), text[1] = (char)('0' + v / 10 % 10), text[2] = (char)('0' + v % 10);
    text[3] = '\0';
    fa_obs_histogram *h = fa_obs_histogram_with(t->app->latency, FA_OBS_LABELS(route, text));
    t->hist[slot].route = route;
    t->hist[slot].status = status;
    t->hist[slot].h = h;
    return h;
}

/* The histogram child is looked up by label values once per (route, status)
 * and thread, then kept in a small direct-mapped table: the registry's
 * lookup (hash, lock) is off the hit path. */
static void observe(const fa_api_req *r, double seconds) {
    const char *route = r->route ? r->route->pattern : "other";
    fa_obs_histogram_observe(latency_of(r->t, route, r->resp->status), seconds);
}

/* Asks the store, at most every DATA_CHECK_S, whether another process
 * committed since; if so the cache is told before this request looks in
 * it, so a re-import in another process is seen within that time (PRAGMA
 * data_version costs well under a microsecond).
 *
 * One watch for the whole process, not one per loop: data_version counts
 * per connection, so each loop's own handle would notice the same import
 * at its own moment and empty the cache again - after another loop had
 * already refilled it (warming). The watch is a connection of its own,
 * asked by whichever loop comes first after the interval (the others do
 * not wait for the lock: someone is already asking). */
#define DATA_CHECK_S 0.25

static void check_store_changed(fa_api_thread *t, double now) {
    fa_api_app *app = t->app;
    const fa_api_hooks *h = &app->cfg.hooks;
    if (!h->store_changed || now - atomic_load(&app->watch_checked_at) < DATA_CHECK_S) return;
    if (pthread_mutex_trylock(&app->watch_mu) != 0) return;
    atomic_store(&app->watch_checked_at, now);
    if (!app->watch) app->watch = fa_store_open(app->db_path, 0, 0);
    int64_t v;
    if (!app->watch || fa_store_data_version(app->watch, &v)) {
        fa_err_clear();
    } else {
        if (app->watch_known && v != app->watch_version) h->store_changed(h->ud);
        app->watch_version = v;
        app->watch_known = 1;
    }
    pthread_mutex_unlock(&app->watch_mu);
}

static void req_init(fa_api_req *r, fa_api_thread *t, const fa_http_request *req, fa_http_response *resp) {
    memset(r, 0, sizeof *r);
    r->t = t;
    r->http = req;
    r->resp = resp;
    fa_arena_reset(t->arena);
    fa_err_clear();
}

/* ------------------------------------------------------------ the cached path
 *
 * A GET on a cacheable route: L1 -> L2 (asynchronous: the request is
 * deferred while the loop's Redis connection asks, and the copy of the
 * request kept in a `pending` answers it) -> the handler inside the cache's
 * fill, so concurrent misses compute once. */

/* The cache key: path, plus '?' and the raw query (in the request arena). */
static char *cache_key(fa_api_req *r) {
    const fa_http_request *q = r->http;
    char *key = fa_arena_alloc(r->t->arena, q->path.n + q->query.n + 2);
    if (!key) return NULL;
    memcpy(key, q->path.p, q->path.n);
    size_t k = q->path.n;
    if (q->query.n) {
        key[k++] = '?';
        memcpy(key + k, q->query.p, q->query.n);
        k += q->query.n;
    }
    key[k] = '\0';
    return key;
}

/* fa_api_compute.run: the handler and its caching headers. */
static void compute_run(void *ctx, fa_http_response *resp, int *ttl_s, const char **tags) {
    fa_api_req *r = ctx;
    r->resp = resp;
    run_handler(r);
    *ttl_s = fa_api_cache_headers(r);
    *tags = r->tags;
}

static void compute_through_cache(fa_api_req *r, const char *key) {
    const fa_api_hooks *h = &r->t->app->cfg.hooks;
    fa_api_compute c = {compute_run, r};
    h->cache_fill(h->ud, r->t->tc, key, r->resp, &c);
}

/* A request waiting for L2. */
typedef struct pending {
    fa_api_thread *t;
    fa_http_request *req; /* the copy */
    fa_http_deferred *d;  /* NULL: answered synchronously after all (found only frees) */
    double t0;
    char key[];
} pending;

static void finish_and_observe(fa_api_req *r, double t0) {
    fa_api_http_finish(r, 1);
    observe(r, fa_clock_now() - t0);
    fa_obs_gauge_dec(r->t->app->inflight);
}

/* L2 answered (hit or not) on the loop's thread: finish the deferred request. */
static void remote_found(void *arg, void *hit) {
    pending *p = arg;
    fa_api_thread *t = p->t;
    const fa_api_hooks *h = &t->app->cfg.hooks;
    if (!p->d) {
        if (hit) h->cache_apply(h->ud, hit, NULL);
        free(p->req);
        free(p);
        return;
    }
    fa_http_response *resp = fa_http_deferred_response(p->d);
    fa_api_req r;
    req_init(&r, t, p->req, resp);
    resp->status = 200;
    resp->content_type = "application/json";
    fa_api_route_find(&r); /* found before: fills route and params again */
    if (hit)
        h->cache_apply(h->ud, hit, resp);
    else
        compute_through_cache(&r, p->key);
    finish_and_observe(&r, p->t0);
    fa_http_deferred_done(p->d);
    free(p->req);
    free(p);
}

/* Starts an L2 lookup and defers the request: 1 when deferred. */
static int ask_remote(fa_api_req *r, const char *key, double t0) {
    const fa_api_hooks *h = &r->t->app->cfg.hooks;
    if (!h->cache_remote || !r->t->tc) return 0;
    size_t klen = strlen(key);
    pending *p = fa_malloc(sizeof *p + klen + 1);
    fa_http_request *copy = p ? fa_http_request_clone(r->http) : NULL;
    if (!copy) {
        free(p);
        fa_err_clear();
        return 0;
    }
    p->t = r->t;
    p->req = copy;
    p->d = NULL;
    p->t0 = t0;
    memcpy(p->key, key, klen + 1);
    if (h->cache_remote(h->ud, r->t->tc, key, remote_found, p) != 1) {
        free(copy);
        free(p);
        return 0;
    }
    p->d = fa_http_defer(r->resp);
    if (!p->d) fa_err_clear(); /* no memory: answered now, remote_found only frees */
    return p->d != NULL;
}

/* Answers a cacheable GET: 1 when deferred (answered later), else 0 with
 * resp complete, its caching headers included. may_defer 0: no L2 lookup
 * (the warmer, which has no request to defer). */
static int answer_cached(fa_api_req *r, double t0, int may_defer) {
    const fa_api_hooks *h = &r->t->app->cfg.hooks;
    char *key = cache_key(r);
    if (!key) {
        fa_api_fail(r, FA_ENOMEM, "answering the request");
        return 0;
    }
    if (h->cache_lookup && h->cache_lookup(h->ud, key, r->resp)) return 0;
    if (may_defer && ask_remote(r, key, t0)) return 1;
    compute_through_cache(r, key);
    return 0;
}

static int cacheable(const fa_api_req *r) {
    const fa_api_hooks *h = &r->t->app->cfg.hooks;
    fa_http_method m = r->http->method;
    return h->cache_fill && !(r->route->flags & FA_ROUTE_LIVE) && (m == FA_HTTP_GET || m == FA_HTTP_HEAD);
}

static void handle(fa_api_thread *t, const fa_http_request *req, fa_http_response *resp) {
    double t0 = fa_clock_now();
    check_store_changed(t, t0);
    fa_obs_gauge_inc(t->app->inflight);
    fa_api_req r;
    req_init(&r, t, req, resp);
    resp->status = 200;
    resp->content_type = "application/json";
    int from_cache = 0;
    if (fa_api_route_find(&r) == 0 && fa_api_query_check(&r) == 0 && fa_api_guard(&r) == 0) {
        if (cacheable(&r)) {
            if (answer_cached(&r, t0, 1)) return; /* deferred: remote_found finishes it */
            from_cache = 1;
        } else {
            run_handler(&r);
        }
    }
    fa_api_http_finish(&r, from_cache);
    observe(&r, fa_clock_now() - t0);
    fa_obs_gauge_dec(t->app->inflight);
}

static double tick(fa_api_thread *t, double now) {
    const fa_api_hooks *h = &t->app->cfg.hooks;
    return h->cache_tick && t->tc ? h->cache_tick(h->ud, t->tc, now) : -1;
}

int fa_api_app_warm(fa_api_thread *t, const char *key) {
    fa_http_request req;
    memset(&req, 0, sizeof req);
    const char *q = strchr(key, '?');
    size_t plen = q ? (size_t)(q - key) : strlen(key);
    req.method = FA_HTTP_GET;
    req.method_text = (fa_strv){"GET", 3};
    req.target = (fa_strv){key, strlen(key)};
    req.path = (fa_strv){key, plen};
    req.query = q ? (fa_strv){q + 1, strlen(q + 1)} : (fa_strv){"", 0};
    req.minor = 1;
    req.version = 1;
    fa_http_response resp;
    memset(&resp, 0, sizeof resp);
    fa_api_req r;
    req_init(&r, t, &req, &resp);
    resp.status = 200;
    resp.content_type = "application/json";
    int ok = 0;
    if (fa_api_route_find(&r) == 0 && fa_api_query_check(&r) == 0 && cacheable(&r)) {
        answer_cached(&r, fa_clock_now(), 0);
        ok = resp.status == 200;
    }
    if (resp.body_ref && resp.release) resp.release(resp.release_ud);
    fa_buf_free(&resp.body);
    fa_err_clear();
    return ok;
}

fa_api_callbacks fa_api_app_callbacks(fa_api_app *app) {
    fa_api_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.ud = app;
    cb.thread_init = thread_init;
    cb.thread_free = thread_free;
    cb.handle = handle;
    cb.tick = tick;
    return cb;
}
