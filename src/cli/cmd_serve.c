/*
 * cmd_serve.c - `footanalytics serve`: the HTTP JSON API over the database.
 *
 * Wiring only: the server (api/server.c) runs one event loop per core, the
 * application (api/app.c) answers from the store behind the caches (L1 in
 * process, L2 in Redis when --redis is given), guarded by API keys and
 * rate limits; alerts are evaluated in the background and, with
 * --alert-webhook, POSTed. SIGTERM and SIGINT ask the server to stop
 * accepting and drain in-flight requests (fa_server_stop is
 * async-signal-safe); the process exits once the loops are done.
 *
 * Everything is built in one `stack` and torn down in the reverse order,
 * so a start-up failure at any step releases exactly what was made.
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/security.h"
#include "cache/cache.h"
#include "cache/l2.h"
#include "cli.h"
#include "net/net.h"
#include "obs/obs.h"
#include "serve.h"

static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics serve [--db PATH] [--host ADDR] [--port N] [--loops N] [options]\n"
            "\n"
            "Serves the stored matches as a JSON API (versioned under /v1, described by\n"
            "/v1/openapi.json) with /healthz, /readyz, /metrics (Prometheus) and /v1/alerts\n"
            "(built-in alert rules). One event loop per CPU core; SIGTERM or SIGINT drains\n"
            "in-flight requests, then exits.\n"
            "\n"
            "server:\n"
            "  --db PATH              database file (default $FA_DB or ./footanalytics.db)\n"
            "  --host ADDR            address to listen on (default 127.0.0.1; env FA_HOST)\n"
            "  --port N               TCP port (default 8080; 0 picks a free one; env FA_PORT)\n"
            "  --loops N              event loops (default: one per CPU)\n"
            "  --max-connections N    open connections at most (default 10000)\n"
            "  --idle-timeout S       close idle keep-alive connections after S seconds (default 30)\n"
            "  --header-timeout S     a request's headers must arrive within S seconds (default 10)\n"
            "  --max-header-bytes N   larger request heads get 431 (default 16384)\n"
            "  --max-body-bytes N     larger request bodies get 413 (default 1048576)\n"
            "  --tls-cert FILE        serve HTTPS: certificate chain (PEM, leaf first); with --tls-key\n"
            "  --tls-key FILE         its private key (PEM). ALPN offers h2 and http/1.1\n"
            "  --no-http2             HTTP/1.1 only (default: HTTP/2 too - h2c by prior knowledge or\n"
            "                         Upgrade on cleartext, h2 by ALPN over TLS)\n"
            "caches:\n"
            "  --l1-bytes N           in-process response cache budget in bytes (default 67108864)\n"
            "  --l1-max-ttl S         keep a cached response at most S seconds (default: as long as\n"
            "                         its Cache-Control s-maxage; a change to the database by any\n"
            "                         process empties the cache within 0.25 s)\n"
            "  --no-l1                no response cache at all (implies no L2)\n"
            "  --redis URL            shared L2 cache and cross-node purges in Redis,\n"
            "                         redis://HOST[:PORT][/DB] (env FA_REDIS_URL; default: none)\n"
            "  --redis-timeout S      deadline of one L2 operation (default 0.02); past it, or\n"
            "                         while Redis is down, requests are answered without L2\n"
            "  --warm-file PATH       at exit, the most requested keys are written there; at start,\n"
            "                         they are computed into the cache first (default: the database\n"
            "                         path + \".warm\"). After an invalidation (an import, a purge)\n"
            "                         the hottest keys it dropped are recomputed in the background\n"
            "  --no-warm              no warm file, no refilling\n"
            "security:\n"
            "  --api-keys FILE        keys allowed on admin endpoints (env FA_API_KEYS; made with\n"
            "                         `footanalytics apikey new`); without it they answer 403\n"
            "  --ip-rate R            requests per second per client address, token bucket\n"
            "                         (default 0: off - behind a CDN or load balancer every request\n"
            "                         comes from its few addresses, so this is opt-in)\n"
            "  --ip-burst N           bucket size per address (default 2 x rate)\n"
            "  --key-rate R           requests per second per API key (default 100; 0: off)\n"
            "  --key-burst N          bucket size per key (default 2 x rate)\n"
            "media:\n"
            "  --media DIR            serve the files below DIR at /media/PATH (the outputs of\n"
            "                         `footanalytics transcode`: HLS playlists, DASH manifest, fMP4\n"
            "                         segments) with byte ranges and caching headers (env FA_MEDIA_DIR)\n"
            "alerts:\n"
            "  --alert-webhook URL    POST each alert that starts or stops firing, as JSON, to\n"
            "                         http://HOST[:PORT]/PATH (env FA_ALERT_WEBHOOK)\n"
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

/* ------------------------------------------------------------ options */

typedef struct serve_opts {
    fa_server_config server;
    const char *db;
    int l1;
    fa_l1_config l1c;
    const char *redis_url;
    double redis_timeout_s;
    const char *keys_file;
    double ip_rate, ip_burst, key_rate, key_burst;
    const char *webhook;
    const char *media_dir; /* --media */
    const char *warm_file;
    int warm;
} serve_opts;

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out) {
    if (fa_parse_double(s, out) || *out < lo || *out > hi)
        return fa_cli_usage("serve", "%s: expected a number in %g..%g, got '%s'", opt, lo, hi, s);
    return 0;
}

/* Stores a number option into *out (converted by the caller when integral). */
#define NUM(name, lo, hi, dst) (parse_num(name, arg, lo, hi, dst) ? FA_EXIT_USAGE : -1)

static int set_size(const char *name, const char *arg, double lo, double hi, size_t *out) {
    double v;
    if (parse_num(name, arg, lo, hi, &v)) return FA_EXIT_USAGE;
    *out = (size_t)v;
    return -1;
}

static int set_int(const char *name, const char *arg, double lo, double hi, int *out) {
    double v;
    if (parse_num(name, arg, lo, hi, &v)) return FA_EXIT_USAGE;
    *out = (int)v;
    return -1;
}

/* Applies one option; returns an exit status or -1 to go on. */
static int apply(int c, const char *arg, serve_opts *o) {
    fa_server_config *sc = &o->server;
    switch (c) {
    case 'd': o->db = arg; return -1;
    case 'H': sc->host = arg; return -1;
    case 'p': return set_int("--port", arg, 0, 65535, &sc->port);
    case 'l': return set_int("--loops", arg, 1, 256, &sc->loops);
    case 'm': return set_int("--max-connections", arg, 1, 1000000, &sc->max_connections);
    case 'i': return NUM("--idle-timeout", 0.1, 86400, &sc->idle_timeout_s);
    case 't': return NUM("--header-timeout", 0.1, 3600, &sc->header_timeout_s);
    case 'x': return set_size("--max-header-bytes", arg, 1024, 1 << 20, &sc->max_header_bytes);
    case 'b': return set_size("--max-body-bytes", arg, 0, 1 << 30, &sc->max_body_bytes);
    case 'B': return set_size("--l1-bytes", arg, 1 << 16, 1e12, &o->l1c.max_bytes);
    case 'T': return NUM("--l1-max-ttl", 0.001, 86400, &o->l1c.max_ttl_s);
    case 'N': o->l1 = 0; return -1;
    case 'R': o->redis_url = arg; return -1;
    case 'r': return NUM("--redis-timeout", 0.001, 10, &o->redis_timeout_s);
    case 'K': o->keys_file = arg; return -1;
    case '1': return NUM("--ip-rate", 0, 1e6, &o->ip_rate);
    case '2': return NUM("--ip-burst", 1, 1e7, &o->ip_burst);
    case '3': return NUM("--key-rate", 0, 1e6, &o->key_rate);
    case '4': return NUM("--key-burst", 1, 1e7, &o->key_burst);
    case 'W': o->webhook = arg; return -1;
    case 'M': o->media_dir = arg; return -1;
    case 'w': o->warm_file = arg; return -1;
    case 'w' + 100: o->warm = 0; return -1;
    case 'C': sc->tls_cert = arg; return -1;
    case 'Y': sc->tls_key = arg; return -1;
    case '2' + 100: sc->http2 = 0; return -1;
    case 'h': help(stdout); return 0;
    default: return fa_cli_usage("serve", "bad option");
    }
}

static void opts_default(serve_opts *o) {
    memset(o, 0, sizeof *o);
    fa_server_config_default(&o->server);
    o->l1 = 1;
    fa_l1_config_default(&o->l1c);
    o->l1c.max_ttl_s = 0; /* no cap: entries go when the database changes (store_changed) */
    o->redis_timeout_s = 0.02;
    o->warm = 1;
    o->key_rate = 100;
    const char *env;
    if ((env = getenv("FA_HOST")) && *env) o->server.host = env;
    if ((env = getenv("FA_REDIS_URL")) && *env) o->redis_url = env;
    if ((env = getenv("FA_API_KEYS")) && *env) o->keys_file = env;
    if ((env = getenv("FA_ALERT_WEBHOOK")) && *env) o->webhook = env;
    if ((env = getenv("FA_MEDIA_DIR")) && *env) o->media_dir = env;
}

static int parse_opts(int argc, char **argv, serve_opts *o) {
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
                                         {"redis", required_argument, 0, 'R'},
                                         {"redis-timeout", required_argument, 0, 'r'},
                                         {"api-keys", required_argument, 0, 'K'},
                                         {"ip-rate", required_argument, 0, '1'},
                                         {"ip-burst", required_argument, 0, '2'},
                                         {"key-rate", required_argument, 0, '3'},
                                         {"key-burst", required_argument, 0, '4'},
                                         {"alert-webhook", required_argument, 0, 'W'},
                                         {"media", required_argument, 0, 'M'},
                                         {"warm-file", required_argument, 0, 'w'},
                                         {"no-warm", no_argument, 0, 'w' + 100},
                                         {"tls-cert", required_argument, 0, 'C'},
                                         {"tls-key", required_argument, 0, 'Y'},
                                         {"no-http2", no_argument, 0, '2' + 100},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *env = getenv("FA_PORT");
    if (env && *env && set_int("FA_PORT", env, 0, 65535, &o->server.port) >= 0) return FA_EXIT_USAGE;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int status = apply(c, optarg, o);
        if (status >= 0) return status;
    }
    if (optind < argc) return fa_cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    if (o->redis_url && !o->l1) return fa_cli_usage("serve", "--redis needs the L1 cache (drop --no-l1)");
    struct stat st;
    if (o->media_dir && (stat(o->media_dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        return fa_cli_usage("serve", "--media: '%s' is not a directory", o->media_dir);
    return -1;
}

/* ------------------------------------------------------------ the stack */

typedef struct stack {
    fa_l1 *l1;
    fa_l2 *l2;
    fa_api_caches *caches;
    fa_api_hooks hooks; /* as given to the app */
    fa_api_warmer *warmer;
    char warm_file[4200];
    fa_api_keys *keys;
    fa_ratelimit *limit_ip, *limit_key;
    fa_webhook *webhook;
    int alerts;
    fa_api_app *app;
} stack;

/* An L2 purge heard from any node: this node's L1 follows (and refills). */
static void on_invalidate(void *ud, const char *tag, uint64_t version) {
    stack *s = ud;
    if (s->caches) fa_api_caches_invalidated(s->caches, tag, version);
}

/* The subscription (re)started: purges may have been missed, so L1 starts
 * over, as when the database changed. */
static void on_resync(void *ud) {
    stack *s = ud;
    if (s->hooks.store_changed) s->hooks.store_changed(s->hooks.ud);
}

static int build_caches(stack *s, const serve_opts *o, fa_api_hooks *hooks) {
    if (!o->l1) return 0;
    if (!(s->l1 = fa_l1_new(&o->l1c))) return -1;
    fa_serve_l1_metrics(s->l1);
    if (o->redis_url) {
        fa_l2_config lc;
        fa_l2_config_default(&lc);
        lc.url = o->redis_url;
        lc.timeout_s = o->redis_timeout_s;
        lc.on_invalidate = on_invalidate;
        lc.on_resync = on_resync;
        lc.ud = s;
        if (!(s->l2 = fa_l2_new(&lc))) return fa_err_prefix("--redis");
        fa_serve_l2_metrics(s->l2);
    }
    return (s->caches = fa_api_caches_new(s->l1, s->l2, hooks)) ? 0 : -1;
}

static fa_ratelimit *limiter(double rate, double burst, const char *scope) {
    if (rate <= 0) return NULL;
    fa_ratelimit_config c;
    fa_ratelimit_config_default(&c);
    c.rate = rate;
    c.burst = burst > 0 ? burst : 2 * rate < 1 ? 1 : 2 * rate;
    fa_ratelimit *rl = fa_ratelimit_new(&c);
    if (rl) fa_serve_ratelimit_metrics(rl, scope);
    return rl;
}

static int build_security(stack *s, const serve_opts *o, fa_api_app_config *ac) {
    if (o->keys_file && !(s->keys = fa_api_keys_load(o->keys_file))) return fa_err_prefix("--api-keys");
    if (o->ip_rate > 0 && !(s->limit_ip = limiter(o->ip_rate, o->ip_burst, "address"))) return -1;
    if (o->key_rate > 0 && !(s->limit_key = limiter(o->key_rate, o->key_burst, "key"))) return -1;
    ac->keys = s->keys;
    ac->limit_ip = s->limit_ip;
    ac->limit_key = s->limit_key;
    return 0;
}

static int build_alerts(stack *s, const serve_opts *o) {
    fa_obs_alert_config c;
    fa_obs_alert_config_default(&c);
    if (o->webhook) {
        fa_webhook_config wc;
        fa_webhook_config_default(&wc);
        wc.url = o->webhook;
        if (!(s->webhook = fa_webhook_start(&wc))) return fa_err_prefix("--alert-webhook");
        c.notify = fa_webhook_send;
        c.notify_ud = s->webhook;
    }
    if (fa_obs_alerts_start(&c))
        fa_log(FA_LOG_WARN, "alert evaluation not running", "error=\"%s\"", fa_err_msg());
    else
        s->alerts = 1;
    return 0;
}

/* The server has stopped: nothing scrapes or requests any more. */
static void stack_free(stack *s) {
    fa_api_caches_set_warmer(s->caches, NULL);
    fa_obs_alerts_stop(); /* the only other reader of the components' figures */
    fa_api_warmer_stop(s->warmer); /* (its thread state's last figures go to the registry) */
    fa_obs_shutdown();
    fa_api_app_free(s->app);
    fa_webhook_stop(s->webhook, 2.0);
    fa_api_caches_free(s->caches);
    fa_l2_free(s->l2);
    fa_l1_free(s->l1);
    fa_ratelimit_free(s->limit_ip);
    fa_ratelimit_free(s->limit_key);
    fa_api_keys_free(s->keys);
}

static int stack_build(stack *s, const serve_opts *o) {
    fa_api_app_config ac;
    fa_api_app_config_default(&ac);
    if (build_caches(s, o, &ac.hooks) || build_security(s, o, &ac) || build_alerts(s, o)) return -1;
    ac.hooks.metrics = serve_metrics;
    ac.hooks.alerts = serve_alerts;
    ac.media_dir = o->media_dir;
    s->hooks = ac.hooks;
    s->app = fa_api_app_new(fa_cli_db_path(o->db), &ac);
    if (!s->app) return -1;
    if (s->caches && o->warm) {
        snprintf(s->warm_file, sizeof s->warm_file, "%s", o->warm_file ? o->warm_file : "");
        if (!o->warm_file) snprintf(s->warm_file, sizeof s->warm_file, "%s.warm", fa_cli_db_path(o->db));
        if (!(s->warmer = fa_api_warmer_start(s->app))) return -1;
        fa_api_caches_set_warmer(s->caches, s->warmer);
        fa_serve_warmer_metrics(s->warmer);
        int n = fa_api_warm_load(s->warm_file, s->warmer);
        if (n < 0) fa_log(FA_LOG_WARN, "warm file not read", "error=\"%s\"", fa_err_msg());
        else if (n > 0) fa_log(FA_LOG_INFO, "warming the cache", "keys=%d file=\"%s\"", n, s->warm_file);
        fa_err_clear();
    }
    return 0;
}

/* At exit: the hottest keys for the next start. */
static void save_warm_file(stack *s) {
    if (!s->warmer || !s->warm_file[0]) return;
    if (fa_api_warm_save(s->warm_file, s->l1, 256))
        fa_log(FA_LOG_WARN, "warm file not written", "error=\"%s\"", fa_err_msg());
    fa_err_clear();
}

/* ------------------------------------------------------------ main */

static double connections_now(void *ud) { return fa_server_connections(ud); }

static void on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int fa_cmd_serve(int argc, char **argv) {
    serve_opts o;
    opts_default(&o);
    int status = parse_opts(argc, argv, &o);
    if (status >= 0) return status;
    stack s;
    memset(&s, 0, sizeof s);
    fa_server *server = NULL;
    if (stack_build(&s, &o) == 0) {
        fa_api_callbacks cb = fa_api_app_callbacks(s.app);
        server = fa_server_start(&o.server, &cb);
    }
    if (!server) {
        status = fa_cli_fail("serve");
        stack_free(&s);
        return status;
    }
    running = server;
    fa_obs_gauge_set_fn(fa_obs_gauge_get(NULL, FA_M_HTTP_CONNECTIONS, "HTTP connections open"),
                        connections_now, server);
    on_signals();
    printf("listening on %s://%s:%d (database %s%s%s)\n", o.server.tls_cert ? "https" : "http", o.server.host,
           fa_server_port(server),
           fa_cli_db_path(o.db), o.redis_url ? ", L2 " : "", o.redis_url ? o.redis_url : "");
    fflush(stdout);
    fa_server_wait_free(server);
    fa_obs_gauge_set_fn(fa_obs_gauge_get(NULL, FA_M_HTTP_CONNECTIONS, "HTTP connections open"), NULL, NULL);
    running = NULL;
    save_warm_file(&s);
    stack_free(&s);
    fa_log(FA_LOG_INFO, "server stopped", NULL);
    return 0;
}
