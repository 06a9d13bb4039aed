/*
 * router.c - maps a request's method and path to a route of the API and
 * its path parameters.
 *
 * The API is small (a few dozen routes at most) and every route is a fixed
 * string with {name} placeholders, so the table below is matched in order,
 * segment by segment, with no allocation: a placeholder takes one non-empty
 * segment ({name+}, last in a pattern, takes all the rest: a file path),
 * the views into the request path become r->params. A linear scan
 * of ~20 short patterns costs well under a microsecond, less than building
 * and walking a trie would save. The same table feeds the query check
 * (params.c: which keys a route takes) and the OpenAPI test, so the router,
 * the validation and the document cannot drift apart silently.
 *
 * Methods: a route is read-only (GET runs the handler, HEAD runs it too:
 * the server sends its headers, not its body) or an action (POST only:
 * the admin endpoints, the calibration solver). OPTIONS answers 204 with
 * Allow, anything else is 405 with Allow. A path no route takes is 404 (a
 * problem naming the path).
 *
 * Flags: LIVE routes answer from the current state (health, metrics,
 * alerts, actions) and never go through the caches; ADMIN routes need an
 * API key with the admin scope. /v1/calibration has neither: a POST never
 * goes through the caches (app.c caches GET and HEAD only), and as a
 * computation anyone may ask for it stays under the per-address and
 * per-key rate limits, which guard.c waives for LIVE non-admin routes (the
 * probes); a key is optional, as on the data routes, and checked when sent.
 */
#include <string.h>

#include "app_internal.h"

static const char *const q_matches[] = {"competition", "season", "team",  "from",
                                        "to",          "cursor", "limit", NULL};
static const char *const q_events[] = {"type", "player", "period", "from", "to", "cursor", "limit", NULL};
static const char *const q_heatmaps[] = {"player", NULL};
static const char *const q_pass_network[] = {"side", NULL};
static const char *const q_tracking[] = {"period", "from", "to", "rate", NULL};
static const char *const q_pitch_control[] = {"period", "t", NULL};
static const char *const q_season[] = {"metric", NULL};
static const char *const q_purge[] = {"tags", NULL};

static const fa_api_route routes[] = {
    {"/healthz", "getHealth", NULL, fa_api_h_healthz, NULL, FA_ROUTE_LIVE},
    {"/readyz", "getReadiness", NULL, fa_api_h_readyz, NULL, FA_ROUTE_LIVE},
    {"/metrics", "getMetrics", NULL, fa_api_h_metrics, NULL, FA_ROUTE_LIVE},
    {"/v1/alerts", "listAlerts", NULL, fa_api_h_alerts, NULL, FA_ROUTE_LIVE},
    {"/v1/openapi.json", "getOpenApi", NULL, fa_api_h_openapi, NULL, 0},
    {"/v1/matches", "listMatches", q_matches, fa_api_h_matches, NULL, 0},
    {"/v1/matches/{id}", "getMatch", NULL, fa_api_h_match, NULL, 0},
    {"/v1/matches/{id}/events", "listMatchEvents", q_events, fa_api_h_events, NULL, 0},
    {"/v1/matches/{id}/players", "listMatchPlayers", NULL, fa_api_h_players, NULL, 0},
    {"/v1/matches/{id}/players/{player}", "getMatchPlayer", NULL, fa_api_h_player, NULL, 0},
    {"/v1/matches/{id}/stats", "getMatchStats", NULL, fa_api_h_stats, NULL, 0},
    {"/v1/matches/{id}/heatmaps", "listMatchHeatmaps", q_heatmaps, fa_api_h_heatmaps, NULL, 0},
    {"/v1/matches/{id}/pass-network", "getMatchPassNetwork", q_pass_network, fa_api_h_pass_network, NULL, 0},
    {"/v1/matches/{id}/possession", "getMatchPossession", NULL, fa_api_h_possession, NULL, 0},
    {"/v1/matches/{id}/tracking", "getMatchTracking", q_tracking, fa_api_h_tracking, NULL, 0},
    {"/v1/matches/{id}/pitch-control", "getMatchPitchControl", q_pitch_control, fa_api_h_pitch_control, NULL,
     0},
    {"/v1/players/{player}/season", "getPlayerSeason", q_season, fa_api_h_season, NULL, 0},
    {"/v1/calibration", "solveCalibration", NULL, NULL, fa_api_h_calibration, 0},
    {"/v1/admin/purge", "purgeCache", q_purge, NULL, fa_api_h_purge, FA_ROUTE_LIVE | FA_ROUTE_ADMIN},
    {"/media/{path+}", "getMedia", NULL, fa_api_h_media, NULL, FA_ROUTE_LIVE},
};

static const char *allow_of(const fa_api_route *rt) {
    return rt->get ? "GET, HEAD, OPTIONS" : "POST, OPTIONS";
}

const fa_api_route *fa_api_routes(size_t *n) {
    *n = sizeof routes / sizeof *routes;
    return routes;
}

/* Matches path against pat; fills params (at most FA_API_MAX_PARAMS). */
static int match_pattern(const char *pat, fa_strv path, fa_strv *params, size_t *nparams) {
    const char *p = path.p, *end = path.p + path.n;
    size_t n = 0;
    while (*pat) {
        if (*pat != '{') {
            if (p == end || *p != *pat) return 0;
            p++;
            pat++;
            continue;
        }
        const char *close = strchr(pat, '}');
        const char *seg_end = close && close[-1] == '+' ? NULL : memchr(p, '/', (size_t)(end - p));
        if (!seg_end) seg_end = end;
        if (!close || seg_end == p || n == FA_API_MAX_PARAMS) return 0;
        params[n++] = (fa_strv){p, (size_t)(seg_end - p)};
        p = seg_end;
        pat = close + 1;
    }
    if (p != end) return 0;
    *nparams = n;
    return 1;
}

static int not_found(fa_api_req *r) {
    fa_api_problem(r, 404, "not-found", "no resource at '%.*s' (GET /v1/openapi.json lists every route)",
                   (int)(r->http->path.n > 200 ? 200 : r->http->path.n), r->http->path.p);
    return 1;
}

static int method_not_allowed(fa_api_req *r) {
    fa_api_problem(r, 405, "method-not-allowed", "method '%.*s' is not allowed on '%s' (allowed: %s)",
                   (int)(r->http->method_text.n > 32 ? 32 : r->http->method_text.n), r->http->method_text.p,
                   r->route->pattern, allow_of(r->route));
    fa_http_response_header(r->resp, "Allow", allow_of(r->route));
    return 1;
}

static int options(fa_api_req *r) {
    r->resp->status = 204;
    r->resp->content_type = NULL;
    fa_http_response_header(r->resp, "Allow", allow_of(r->route));
    return 1;
}

int fa_api_route_find(fa_api_req *r) {
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (!match_pattern(routes[i].pattern, r->http->path, r->params, &r->nparams)) continue;
        r->route = &routes[i];
        fa_http_method m = r->http->method;
        if (routes[i].get && (m == FA_HTTP_GET || m == FA_HTTP_HEAD)) return 0;
        if (routes[i].post && m == FA_HTTP_POST) return 0;
        return r->http->method == FA_HTTP_OPTIONS ? options(r) : method_not_allowed(r);
    }
    r->nparams = 0;
    return not_found(r);
}

const char *fa_api_param(fa_api_req *r, const char *name) {
    size_t len = strlen(name), i = 0;
    if (!r->route) return NULL;
    for (const char *p = strchr(r->route->pattern, '{'); p && i < r->nparams; p = strchr(p + 1, '{'), i++) {
        if (strncmp(p + 1, name, len) != 0 || p[1 + len] != '}') continue;
        char *copy = fa_arena_strndup(r->t->arena, r->params[i].p, r->params[i].n);
        /* A decoded NUL would cut the value short and pass validation: make it visible instead. */
        for (size_t k = 0; copy && k < r->params[i].n; k++)
            if (!copy[k]) copy[k] = '\x01';
        return copy;
    }
    return NULL;
}
