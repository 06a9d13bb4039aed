/*
 * heatmaps.c - GET /v1/matches/{id}/heatmaps[?player=ID]: the occupancy
 * grids analytics stored (team grids and one per tracked player), each as
 * rows of cells.
 *
 * Orientation, as analytics computes them: cells[j][i] is the time in
 * seconds spent in column i (along x, the side's attacking direction left
 * to right in every period) and row j (across y, from y = -width/2 upwards);
 * nx x ny cells cover the whole pitch. Events-only matches have no grids
 * (an empty list, not an error). A player filter must name a player of the
 * roster (404 otherwise), so a typo is not answered with "no heatmap".
 */
#include "../app_internal.h"

static int add_grid(void *ud, const fa_grid *g) {
    fa_jw *w = ud;
    fa_jw_obj(w);
    fa_jw_key(w, "side");
    fa_jw_str_or_null(w, fa_side_name(g->side));
    fa_jw_key(w, "player");
    fa_jw_str_or_null(w, g->player_id);
    fa_jw_key(w, "name");
    fa_jw_str(w, g->name);
    fa_jw_key(w, "unit");
    fa_jw_str(w, "s");
    fa_jw_key(w, "nx");
    fa_jw_int(w, g->nx);
    fa_jw_key(w, "ny");
    fa_jw_int(w, g->ny);
    fa_jw_key(w, "cells");
    fa_jw_arr(w);
    for (int j = 0; j < g->ny; j++) {
        fa_jw_arr(w);
        for (int i = 0; i < g->nx; i++) fa_jw_round(w, g->cells[(size_t)j * (size_t)g->nx + (size_t)i], 3);
        fa_jw_end_arr(w);
    }
    fa_jw_end_arr(w);
    fa_jw_end_obj(w);
    return w->err;
}

int fa_api_h_heatmaps(fa_api_req *r) {
    fa_match_row row;
    fa_api_roster ro;
    char player[FA_ID_MAX + 8], ref[FA_ID_MAX + 40];
    int rc = fa_api_q_str(r, "player", FA_ID_MAX - 1, player, sizeof player);
    int has_player = rc > 0;
    if (rc < 0 || (has_player && (rc = fa_api_check_player_id(r, "parameter", "player", player)))) return rc;
    if ((rc = fa_api_load_match(r, &row))) return rc;
    if (has_player) {
        if ((rc = fa_api_load_roster(r, row.id, &ro))) return rc;
        if (!fa_api_roster_find(&ro, player))
            return fa_api_problem(r, 404, "not-found", "player '%s' is not in the roster of match '%s'",
                                  player, fa_api_match_ref(&row, ref, sizeof ref));
        fa_api_tag(r, "player", player, NULL);
    }
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_api_jw_match_ref(&w, &row);
    fa_jw_key(&w, "data");
    fa_jw_arr(&w);
    rc = fa_store_grids(fa_api_store(r), row.id, has_player ? player : NULL, add_grid, &w);
    if (rc) return w.err ? fa_api_jw_done(r, &w) : fa_api_fail(r, rc, "reading heatmaps");
    fa_jw_end_arr(&w);
    fa_jw_end_obj(&w);
    return fa_api_jw_done(r, &w);
}
