/*
 * players.c - GET /v1/matches/{id}/players (the roster, each player with
 * every metric stored for them) and GET /v1/matches/{id}/players/{player}
 * (one of them).
 *
 * The roster and the metrics are read in two store calls and joined here
 * (a player's metrics are the rows with their provider id), so a roster of
 * n players costs two queries, not n + 1. Metrics are an object keyed by
 * the stable metric names analytics uses ("distance_m", "passes", ...;
 * units are part of the name). A player without metrics (events-only data
 * for a substitute who never played) has an empty object.
 */
#include <string.h>

#include "../app_internal.h"

typedef struct metric_list {
    fa_arena *arena;
    fa_metric *m;
    size_t n, cap;
} metric_list;

static int add_metric(void *ud, const fa_metric *m) {
    metric_list *ml = ud;
    if (!m->player_id[0]) return 0; /* team and ball metrics: /stats */
    if (ml->n == ml->cap) {
        size_t cap = ml->cap ? ml->cap * 2 : 256;
        fa_metric *grown = fa_arena_alloc(ml->arena, cap * sizeof *grown);
        if (!grown) return FA_ENOMEM;
        if (ml->n) memcpy(grown, ml->m, ml->n * sizeof *grown);
        ml->m = grown;
        ml->cap = cap;
    }
    ml->m[ml->n++] = *m;
    return 0;
}

static void jw_player(fa_jw *w, const fa_player *p, const metric_list *ml) {
    fa_jw_obj(w);
    fa_jw_key(w, "id");
    fa_jw_str(w, p->id);
    fa_jw_key(w, "name");
    fa_jw_str_or_null(w, p->name);
    fa_jw_key(w, "side");
    fa_jw_str_or_null(w, fa_side_name(p->side));
    fa_jw_key(w, "shirt");
    if (p->shirt >= 0)
        fa_jw_int(w, p->shirt);
    else
        fa_jw_null(w);
    fa_jw_key(w, "position");
    fa_jw_str_or_null(w, p->position);
    fa_jw_key(w, "minutes");
    fa_jw_round(w, p->minutes, 2);
    fa_jw_key(w, "starter");
    fa_jw_bool(w, p->starter);
    fa_jw_key(w, "metrics");
    fa_jw_obj(w);
    for (size_t i = 0; i < ml->n; i++) {
        if (strcmp(ml->m[i].player_id, p->id) != 0) continue;
        fa_jw_key(w, ml->m[i].name);
        fa_jw_num(w, ml->m[i].value);
    }
    fa_jw_end_obj(w);
    fa_jw_end_obj(w);
}

/* Roster and metrics (of one player, or of all when player is NULL). */
static int load(fa_api_req *r, const fa_match_row *row, const char *player, fa_api_roster *ro,
                metric_list *ml) {
    int rc = fa_api_load_roster(r, row->id, ro);
    if (rc) return rc;
    memset(ml, 0, sizeof *ml);
    ml->arena = r->t->arena;
    rc = fa_store_metrics(fa_api_store(r), row->id, player, add_metric, ml);
    return rc ? fa_api_fail(r, rc, "reading player metrics") : 0;
}

int fa_api_h_players(fa_api_req *r) {
    fa_match_row row;
    fa_api_roster ro;
    metric_list ml;
    int rc = fa_api_load_match(r, &row);
    if (rc || (rc = load(r, &row, NULL, &ro, &ml))) return rc;
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_api_jw_match_ref(&w, &row);
    fa_jw_key(&w, "data");
    fa_jw_arr(&w);
    for (size_t i = 0; i < ro.n; i++) jw_player(&w, &ro.players[i], &ml);
    fa_jw_end_arr(&w);
    fa_jw_end_obj(&w);
    return fa_api_jw_done(r, &w);
}

int fa_api_h_player(fa_api_req *r) {
    fa_match_row row;
    fa_api_roster ro;
    metric_list ml;
    const char *player = fa_api_param(r, "player");
    if (!player) return fa_api_fail(r, FA_ENOMEM, "reading the path");
    int rc = fa_api_check_player_id(r, "path parameter", "player", player);
    if (rc || (rc = fa_api_load_match(r, &row)) || (rc = load(r, &row, player, &ro, &ml))) return rc;
    const fa_player *p = fa_api_roster_find(&ro, player);
    char ref[FA_ID_MAX + 40];
    if (!p)
        return fa_api_problem(r, 404, "not-found", "player '%s' is not in the roster of match '%s'", player,
                              fa_api_match_ref(&row, ref, sizeof ref));
    fa_api_tag(r, "player", player, NULL);
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_api_jw_match_ref(&w, &row);
    fa_jw_key(&w, "player");
    jw_player(&w, p, &ml);
    fa_jw_end_obj(&w);
    return fa_api_jw_done(r, &w);
}
