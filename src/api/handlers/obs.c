/*
 * obs.c - GET /metrics (Prometheus text) and GET /v1/alerts: served by the
 * obs module through the application's hooks (api.h, fa_api_hooks.metrics
 * and .alerts). Until that module is plugged in, both answer a 503 problem
 * "not available yet": this file is the one place to change when it is.
 * Responses here are never cached (no-store): they describe this moment.
 */
#include "../app_internal.h"

static int not_yet(fa_api_req *r, const char *what) {
    return fa_api_problem(r, 503, "not-available-yet",
                          "%s is not available yet: the observability module is not "
                          "connected to the API",
                          what);
}

int fa_api_h_metrics(fa_api_req *r) {
    const fa_api_hooks *h = &r->t->app->cfg.hooks;
    r->cache = FA_API_CACHE_NONE;
    if (!h->metrics) return not_yet(r, "/metrics");
    h->metrics(h->ud, r->http, r->resp);
    return 0;
}

int fa_api_h_alerts(fa_api_req *r) {
    const fa_api_hooks *h = &r->t->app->cfg.hooks;
    r->cache = FA_API_CACHE_NONE;
    if (!h->alerts) return not_yet(r, "/v1/alerts");
    h->alerts(h->ud, r->http, r->resp);
    return 0;
}
