/*
 * cmd_serve.c - `footanalytics serve`: the HTTP JSON API over the database.
 *
 * Wiring only: the server (api/server.c) runs one event loop per core, the
 * application (api/app.c) answers from the store. SIGTERM and SIGINT ask the
 * server to stop accepting and drain in-flight requests (fa_server_stop is
 * async-signal-safe); the process exits once the loops are done.
 */
#include <getopt.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "cache/cache.h"
#include "cli.h"
#include "obs/obs.h"

static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics serve [--db PATH] [--host ADDR] [--port N] [--loops N]\n"
            "                           [--max-connections N] [--idle-timeout S] [--header-timeout S]\n"
            "                           [--max-header-bytes N] [--max-body-bytes N]\n"
            "                           [--l1-bytes N] [--l1-max-ttl S] [--no-l1]\n"
            "\n"
            "Serves the stored matches as a JSON API (versioned under /v1, described by\n"
            "/v1/openapi.json) with /healthz, /readyz, /metrics (Prometheus) and /v1/alerts\n"
            "(built-in alert rules). One event loop per CPU core; SIGTERM\n"
            "or SIGINT drains in-flight requests, then exits.\n"
            "\n"
            "options:\n"
            "  --db PATH              database file (default $FA_DB or ./footanalytics.db)\n"
            "  --host ADDR            address to listen on (default 127.0.0.1; env FA_HOST)\n"
            "  --port N               TCP port (default 8080; 0 picks a free one; env FA_PORT)\n"
            "  --loops N              event loops (default: one per CPU)\n"
            "  --max-connections N    open connections at most (default 10000)\n"
            "  --idle-timeout S       close idle keep-alive connections after S seconds (default 30)\n"
            "  --header-timeout S     a request's headers must arrive within S seconds (default 10)\n"
            "  --max-header-bytes N   larger request heads get 431 (default 16384)\n"
            "  --max-body-bytes N     larger request bodies get 413 (default 1048576)\n"
            "  --l1-bytes N           in-process response cache budget in bytes (default 67108864)\n"
            "  --l1-max-ttl S         keep a cached response at most S seconds (default: as long as\n"
            "                         its Cache-Control s-maxage; a change to the database by any\n"
            "                         process empties the cache within 0.25 s)\n"
            "  --no-l1                no in-process response cache\n"
            "  -h, --help             show this help\n"
            "\n"
            "Prints 'listening on http://HOST:PORT' on stdout once it accepts connections.\n"
            "exit status: 0 stopped cleanly, 1 usage error, 3 could not start (port in use, ...)\n");
}

/* The one piece of global state here, because a signal handler has no
 * other way to reach the server; set before the handlers are installed. */
static fa_server *running;

static void on_signal(int sig) {
    (void)sig;
    if (running) fa_server_stop(running);
}

/* GET /metrics: the Prometheus text exposition of the process registry. */
static void serve_metrics(void *ud, const fa_http_request *req, fa_http_response *resp) {
    (void)ud;
    (void)req;
    resp->status = fa_obs_expose(&resp->body) ? 500 : 200;
    resp->content_type = FA_OBS_CONTENT_TYPE;
}

/* GET /v1/alerts: the built-in rules' current states. */
static void serve_alerts(void *ud, const fa_http_request *req, fa_http_response *resp) {
    (void)ud;
    (void)req;
    resp->status = fa_obs_alerts_json(&resp->body) ? 500 : 200;
    resp->content_type = "application/json";
}

/* L1 figures sampled at scrape time (layer="l1"). */
static double l1_stat(void *ud, size_t offset) {
    fa_l1_stats st;
    fa_l1_stats_get(ud, &st);
    return (double)*(const uint64_t *)(const void *)((const char *)&st + offset);
}
static double l1_hits(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, hits)); }
static double l1_misses(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, misses)); }
static double l1_evictions(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, evictions)); }
static double l1_bytes(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, bytes)); }
static double l1_entries(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, entries)); }

static void l1_metrics(fa_l1 *l1) {
    const char *const *layer = FA_OBS_LABELS("l1");
    const char *const *names = FA_OBS_LABELS(FA_L_LAYER);
    fa_obs_counter_set_fn(fa_obs_counter_with(fa_obs_counter_family(NULL, FA_M_CACHE_HITS, "cache hits", names), layer),
                          l1_hits, l1);
    fa_obs_counter_set_fn(
        fa_obs_counter_with(fa_obs_counter_family(NULL, FA_M_CACHE_MISSES, "cache misses", names), layer), l1_misses,
        l1);
    fa_obs_counter_set_fn(
        fa_obs_counter_with(fa_obs_counter_family(NULL, FA_M_CACHE_EVICTIONS, "cache evictions", names), layer),
        l1_evictions, l1);
    fa_obs_gauge_set_fn(fa_obs_gauge_with(fa_obs_gauge_family(NULL, FA_M_CACHE_BYTES, "bytes held", names), layer),
                        l1_bytes, l1);
    fa_obs_gauge_set_fn(
        fa_obs_gauge_with(fa_obs_gauge_family(NULL, FA_M_CACHE_ENTRIES, "entries held", names), layer), l1_entries,
        l1);
    fa_err_clear();
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out) {
    if (fa_parse_double(s, out) || *out < lo || *out > hi)
        return fa_cli_usage("serve", "%s: expected a number in %g..%g, got '%s'", opt, lo, hi, s);
    return 0;
}

/* What the options asked for beyond the server's own configuration. */
typedef struct serve_opts {
    const char *db;
    int l1;
    fa_l1_config l1c;
} serve_opts;

/* Applies one option; returns an exit status or -1 to go on. */
static int apply(int c, const char *arg, fa_server_config *sc, serve_opts *o) {
    double v;
    switch (c) {
    case 'B':
        if (parse_num("--l1-bytes", arg, 1 << 16, 1e12, &v)) return FA_EXIT_USAGE;
        o->l1c.max_bytes = (size_t)v;
        return -1;
    case 'T': return parse_num("--l1-max-ttl", arg, 0.001, 86400, &o->l1c.max_ttl_s) ? FA_EXIT_USAGE : -1;
    case 'N': o->l1 = 0; return -1;
    case 'd': o->db = arg; return -1;
    case 'H': sc->host = arg; return -1;
    case 'p':
        if (parse_num("--port", arg, 0, 65535, &v)) return FA_EXIT_USAGE;
        sc->port = (int)v;
        return -1;
    case 'l':
        if (parse_num("--loops", arg, 1, 256, &v)) return FA_EXIT_USAGE;
        sc->loops = (int)v;
        return -1;
    case 'm':
        if (parse_num("--max-connections", arg, 1, 1000000, &v)) return FA_EXIT_USAGE;
        sc->max_connections = (int)v;
        return -1;
    case 'i': return parse_num("--idle-timeout", arg, 0.1, 86400, &sc->idle_timeout_s) ? FA_EXIT_USAGE : -1;
    case 't': return parse_num("--header-timeout", arg, 0.1, 3600, &sc->header_timeout_s) ? FA_EXIT_USAGE : -1;
    case 'x':
        if (parse_num("--max-header-bytes", arg, 1024, 1 << 20, &v)) return FA_EXIT_USAGE;
        sc->max_header_bytes = (size_t)v;
        return -1;
    case 'b':
        if (parse_num("--max-body-bytes", arg, 0, 1 << 30, &v)) return FA_EXIT_USAGE;
        sc->max_body_bytes = (size_t)v;
        return -1;
    case 'h': help(stdout); return 0;
    default: return fa_cli_usage("serve", "bad option");
    }
}

int fa_cmd_serve(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"host", required_argument, 0, 'H'},
                                         {"port", required_argument, 0, 'p'},
                                         {"loops", required_argument, 0, 'l'},
                                         {"max-connections", required_argument, 0, 'm'},
                                         {"idle-timeout", required_argument, 0, 'i'},
                                         {"header-timeout", required_argument, 0, 't'},
                                         {"max-header-bytes", required_argument, 0, 'x'},
                                         {"max-body-bytes", required_argument, 0, 'b'},
                                         {"l1-bytes", required_argument, 0, 'B'},
                                         {"l1-max-ttl", required_argument, 0, 'T'},
                                         {"no-l1", no_argument, 0, 'N'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    fa_server_config sc;
    fa_server_config_default(&sc);
    serve_opts o = {NULL, 1, {0}};
    fa_l1_config_default(&o.l1c);
    o.l1c.max_ttl_s = 0; /* no cap: entries go when the database changes (store_changed) */
    const char *env;
    double v;
    if ((env = getenv("FA_HOST")) && *env) sc.host = env;
    if ((env = getenv("FA_PORT")) && *env) {
        if (parse_num("FA_PORT", env, 0, 65535, &v)) return FA_EXIT_USAGE;
        sc.port = (int)v;
    }
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int status = apply(c, optarg, &sc, &o);
        if (status >= 0) return status;
    }
    if (optind < argc) return fa_cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    const char *db = o.db;
    fa_api_app_config ac;
    fa_api_app_config_default(&ac);
    fa_l1 *l1 = NULL;
    if (o.l1) {
        if (!(l1 = fa_l1_new(&o.l1c))) return fa_cli_fail("serve");
        fa_api_l1_hooks(l1, &ac.hooks);
        l1_metrics(l1);
    }
    ac.hooks.metrics = serve_metrics;
    ac.hooks.alerts = serve_alerts;
    if (fa_obs_alerts_start(NULL))
        fa_log(FA_LOG_WARN, "alert evaluation not running", "error=\"%s\"", fa_err_msg());
    fa_api_app *app = fa_api_app_new(fa_cli_db_path(db), &ac);
    if (!app) {
        int status = fa_cli_fail("serve");
        fa_obs_shutdown();
        fa_l1_free(l1);
        return status;
    }
    fa_api_callbacks cb = fa_api_app_callbacks(app);
    fa_server *server = fa_server_start(&sc, &cb);
    if (!server) {
        int status = fa_cli_fail("serve");
        fa_api_app_free(app);
        fa_obs_shutdown();
        fa_l1_free(l1);
        return status;
    }
    running = server;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("listening on http://%s:%d (database %s)\n", sc.host, fa_server_port(server), fa_cli_db_path(db));
    fflush(stdout);
    fa_server_wait_free(server);
    running = NULL;
    fa_api_app_free(app);
    fa_obs_shutdown(); /* before the cache its scrape callbacks read */
    fa_l1_free(l1);
    fa_log(FA_LOG_INFO, "server stopped", NULL);
    return 0;
}
