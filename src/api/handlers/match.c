/*
 * match.c - GET /v1/matches/{id}: one stored match (teams, score, pitch,
 * counts of events, frames and players, where it came from), by store id
 * or provider:id. Its cache class follows the match's volatility
 * (http_cache.c) and its surrogate keys name the match, teams and
 * competition, so a re-import can purge exactly what it changed.
 */
#include "../app_internal.h"

int fa_api_h_match(fa_api_req *r) {
    fa_match_row row;
    int rc = fa_api_load_match(r, &row);
    if (rc) return rc;
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_api_jw_match(&w, &row);
    return fa_api_jw_done(r, &w);
}
