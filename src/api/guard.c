/*
 * guard.c - who may call what, and how often, before any handler runs.
 *
 * Order, and why:
 *   1. The client address's token bucket (when configured), on every route
 *      but the live probes (health, readiness, metrics, alerts): a flood is
 *      refused before it costs a key hash or a store query, and an
 *      orchestrator's or Prometheus' probes are never throttled.
 *   2. A presented key (Authorization: Bearer, or X-API-Key) is checked
 *      even on public routes: a wrong key is a 401 rather than silently
 *      anonymous, so a misconfigured client finds out at once.
 *   3. Admin routes need a key with the admin scope: none configured means
 *      the routes are disabled (403), no key 401 with WWW-Authenticate,
 *      a key without the scope 403.
 *   4. The key name's own bucket (when configured), so one tenant's batch
 *      job cannot starve the others even from many addresses.
 * Keys are compared in constant time (apikeys.c); failures are logged with
 * the address and the key's name, never the key.
 */
#include <stdio.h>
#include <string.h>

#include "app_internal.h"
#include "security.h"

static int too_many(fa_api_req *r, const char *whose, double retry_s) {
    char after[24];
    snprintf(after, sizeof after, "%ld", fa_ratelimit_retry_after(retry_s));
    fa_api_problem(r, 429, "rate-limited", "too many requests from this %s: retry after %s s", whose, after);
    fa_http_response_header(r->resp, "Retry-After", after);
    return FA_ELIMIT;
}

static int take(fa_api_req *r, fa_ratelimit *rl, const char *id, size_t n, const char *whose) {
    if (!rl || n == 0) return 0;
    double retry = 0;
    int ok = fa_ratelimit_take(rl, id, n, fa_ratelimit_now(rl), &retry);
    if (ok < 0) { /* an id too long to track: not limited, but never silently */
        fa_err_clear();
        return 0;
    }
    return ok ? 0 : too_many(r, whose, retry);
}

static int unauthorized(fa_api_req *r, const char *detail) {
    fa_api_problem(r, 401, "unauthorized", "%s", detail);
    fa_http_response_header(r->resp, "WWW-Authenticate", "Bearer realm=\"footanalytics\"");
    return FA_EINVAL;
}

int fa_api_guard(fa_api_req *r) {
    const fa_api_app_config *c = &r->t->app->cfg;
    unsigned flags = r->route->flags;
    int probe = (flags & FA_ROUTE_LIVE) && !(flags & FA_ROUTE_ADMIN);
    if (!probe && take(r, c->limit_ip, r->http->peer, strlen(r->http->peer), "address")) return FA_ELIMIT;
    fa_strv key;
    int has = fa_api_key_from_request(r->http, &key);
    if (has < 0)
        return unauthorized(r, "malformed credentials: send one key, as 'Authorization: Bearer <key>'");
    const char *name = NULL;
    if (has) {
        int ok = c->keys ? fa_api_keys_check(c->keys, key.p, key.n,
                                             flags & FA_ROUTE_ADMIN ? FA_API_SCOPE_ADMIN : 0, &name)
                         : 0;
        if (ok == 0) {
            fa_log(FA_LOG_WARN, "api: unknown API key", "peer=%s request_id=%llu", r->http->peer,
                   (unsigned long long)r->http->id);
            return unauthorized(r, "unknown API key");
        }
        if (ok < 0) {
            fa_log(FA_LOG_WARN, "api: API key lacks the admin scope", "peer=%s key=%s", r->http->peer, name);
            return fa_api_problem(r, 403, "forbidden", "API key '%s' lacks the admin scope", name);
        }
    }
    if (flags & FA_ROUTE_ADMIN) {
        if (!c->keys || fa_api_keys_count(c->keys) == 0)
            return fa_api_problem(
                r, 403, "forbidden",
                "admin endpoints are disabled: no API keys configured (serve --api-keys FILE)");
        if (!name) return unauthorized(r, "this endpoint needs an API key with the admin scope");
    }
    if (name && take(r, c->limit_key, name, strlen(name), "API key")) return FA_ELIMIT;
    return 0;
}
