/*
 * season.c - GET /v1/players/{player}/season?metric=a,b,...: a player's
 * season aggregates: for each metric, the sum over every stored match of
 * the player and the number of matches it was summed over (so a client can
 * form per-match averages, and knows a sum over 3 matches from one over 30).
 *
 * {player} is the provider's player id ("5503"), or provider:id
 * ("statsbomb:5503") to count only that provider's player. Metric names
 * are the stable names analytics stores; without `metric` a standard set
 * comes. A name the player has no value of is reported with sum null and
 * matches 0; when that holds for every name asked, the answer is a 404
 * (most likely a wrong player id). Sums change with any import of the player's matches: list cache
 * class, surrogate keys "player-<id>" and "aggregates".
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "../app_internal.h"

#define MAX_METRICS 16
#define METRIC_NAME_MAX 47

static const char default_metrics[] =
    "minutes,distance_m,sprints,hsr_distance_m,passes,passes_completed,shots,goals,xg,xt";

typedef struct metric_names {
    char text[MAX_METRICS * (METRIC_NAME_MAX + 1) + 1];
    const char *names[MAX_METRICS];
    size_t n;
} metric_names;

static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > METRIC_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_')) return 0;
    return 1;
}

static int split_names(fa_api_req *r, metric_names *mn) {
    static const char expected[] =
        "a comma-separated list of up to 16 metric names ([a-z0-9_], e.g. distance_m,passes)";
    mn->n = 0;
    for (char *save = NULL, *tok = strtok_r(mn->text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!valid_name(tok) || mn->n == MAX_METRICS)
            return fa_api_bad_param(r, "parameter", "metric", expected, tok);
        for (size_t i = 0; i < mn->n; i++)
            if (strcmp(mn->names[i], tok) == 0)
                return fa_api_problem(r, 400, "invalid-parameter", "parameter 'metric': '%s' is listed twice",
                                      tok);
        mn->names[mn->n++] = tok;
    }
    if (mn->n == 0) return fa_api_bad_param(r, "parameter", "metric", expected, "");
    return 0;
}

static int read_metrics(fa_api_req *r, metric_names *mn) {
    int rc = fa_api_q_str(r, "metric", sizeof mn->text - 1, mn->text, sizeof mn->text);
    if (rc < 0) return rc;
    if (rc == 0) memcpy(mn->text, default_metrics, sizeof default_metrics);
    size_t n = strlen(mn->text);
    if (mn->text[0] == ',' || (n && mn->text[n - 1] == ',') || strstr(mn->text, ",,"))
        return fa_api_problem(r, 400, "invalid-parameter", "parameter 'metric': an empty name in '%s'",
                              mn->text);
    return split_names(r, mn);
}

int fa_api_h_season(fa_api_req *r) {
    metric_names mn;
    const char *player = fa_api_param(r, "player");
    if (!player) return fa_api_fail(r, FA_ENOMEM, "reading the path");
    int rc = fa_api_check_player_id(r, "path parameter", "player", player);
    if (rc || (rc = read_metrics(r, &mn))) return rc;
    fa_store *s = fa_api_store(r);
    if (!s) return FA_EIO;
    double sums[MAX_METRICS];
    int64_t matches[MAX_METRICS], any = 0;
    for (size_t i = 0; i < mn.n; i++) {
        if ((rc = fa_store_metric_sum(s, player, mn.names[i], &sums[i], &matches[i])))
            return fa_api_fail(r, rc, "summing a metric");
        any |= matches[i];
    }
    if (!any)
        return fa_api_problem(
            r, 404, "not-found",
            "player '%s': none of the metrics asked for is stored for any match (the id is the "
            "provider's player id, e.g. 5503 or statsbomb:5503)",
            player);
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_jw_key(&w, "player");
    fa_jw_str(&w, player);
    fa_jw_key(&w, "metrics");
    fa_jw_obj(&w);
    for (size_t i = 0; i < mn.n; i++) {
        fa_jw_key(&w, mn.names[i]);
        fa_jw_obj(&w);
        fa_jw_key(&w, "sum");
        fa_jw_num(&w, matches[i] ? sums[i] : NAN);
        fa_jw_key(&w, "matches");
        fa_jw_int(&w, matches[i]);
        fa_jw_end_obj(&w);
    }
    fa_jw_end_obj(&w);
    fa_jw_end_obj(&w);
    r->cache = FA_API_CACHE_LIST;
    const char *colon = strchr(player, ':');
    fa_api_tag(r, "player", colon ? colon + 1 : player, NULL);
    fa_api_tag(r, "aggregates", NULL, NULL);
    return fa_api_jw_done(r, &w);
}
