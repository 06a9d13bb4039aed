/*
 * passes.c - GET /v1/matches/{id}/pass-network[?side=home|away]: the pass
 * networks analytics stored (nodes: players at their average event
 * position, attacking +x, with completed passes made; edges: completed
 * passes between two players), each until the side's first substitution.
 *
 * Without `side` both networks come, in the order home, away; a side the
 * match has no network for (tracking-only data has no passes) is a 404 that
 * says so.
 */
#include <stdio.h>
#include <string.h>

#include "../app_internal.h"

int fa_api_h_pass_network(fa_api_req *r) {
    fa_match_row row;
    char side[16];
    int rc = fa_api_q_str(r, "side", 8, side, sizeof side);
    if (rc < 0) return rc;
    int has_side = rc > 0;
    if (has_side && strcmp(side, "home") != 0 && strcmp(side, "away") != 0)
        return fa_api_bad_param(r, "parameter", "side", "'home' or 'away'", side);
    if ((rc = fa_api_load_match(r, &row))) return rc;
    static const char *const sides[] = {"home", "away"};
    fa_buf doc = {0};
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_api_jw_match_ref(&w, &row);
    fa_jw_key(&w, "data");
    fa_jw_arr(&w);
    for (int i = 0; i < 2 && !rc; i++) {
        if (has_side && strcmp(side, sides[i]) != 0) continue;
        char name[32], absent[64];
        snprintf(name, sizeof name, "pass_network_%s", sides[i]);
        snprintf(absent, sizeof absent, "%s pass network (it has no events)", sides[i]);
        fa_buf_reset(&doc);
        rc = fa_api_load_doc(r, &row, name, absent, &doc);
        if (!rc) fa_jw_raw(&w, doc.data, doc.len);
    }
    fa_buf_free(&doc);
    if (rc) return rc;
    fa_jw_end_arr(&w);
    fa_jw_end_obj(&w);
    return fa_api_jw_done(r, &w);
}
