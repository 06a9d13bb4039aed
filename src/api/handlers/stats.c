/*
 * stats.c - GET /v1/matches/{id}/stats: the team figures stored at import
 * (passes, shots, xG, possession, distance ... per side), the ball's
 * tracking figures when there is tracking, and the "definitions" document:
 * the analytics configuration every figure was computed with (speed bands,
 * thresholds, xT grid), because vendors disagree on definitions and a
 * number without its definition cannot be compared.
 *
 * Nothing is computed here; `footanalytics stats` shows the same rows.
 */
#include <string.h>

#include "../app_internal.h"

typedef struct team_metrics {
    fa_arena *arena;
    fa_metric *m;
    size_t n, cap;
} team_metrics;

static int add_metric(void *ud, const fa_metric *m) {
    team_metrics *tm = ud;
    if (tm->n == tm->cap) {
        size_t cap = tm->cap ? tm->cap * 2 : 64;
        fa_metric *grown = fa_arena_alloc(tm->arena, cap * sizeof *grown);
        if (!grown) return FA_ENOMEM;
        if (tm->n) memcpy(grown, tm->m, tm->n * sizeof *grown);
        tm->m = grown;
        tm->cap = cap;
    }
    tm->m[tm->n++] = *m;
    return 0;
}

static void jw_metrics_of(fa_jw *w, const team_metrics *tm, fa_side side) {
    fa_jw_key(w, "metrics");
    fa_jw_obj(w);
    for (size_t i = 0; i < tm->n; i++) {
        if (tm->m[i].side != side) continue;
        fa_jw_key(w, tm->m[i].name);
        fa_jw_num(w, tm->m[i].value);
    }
    fa_jw_end_obj(w);
}

static void jw_team(fa_jw *w, const fa_match_row *row, fa_side side, const team_metrics *tm) {
    const fa_team *t = &row->m.teams[side];
    fa_jw_key(w, fa_side_name(side));
    fa_jw_obj(w);
    fa_jw_key(w, "id");
    fa_jw_str_or_null(w, t->id);
    fa_jw_key(w, "name");
    fa_jw_str_or_null(w, t->name);
    fa_jw_key(w, "score");
    if (row->m.score[side] >= 0)
        fa_jw_int(w, row->m.score[side]);
    else
        fa_jw_null(w);
    jw_metrics_of(w, tm, side);
    fa_jw_end_obj(w);
}

int fa_api_h_stats(fa_api_req *r) {
    fa_match_row row;
    team_metrics tm = {r->t->arena, NULL, 0, 0};
    fa_buf defs = {0};
    int rc = fa_api_load_match(r, &row);
    if (rc) return rc;
    rc = fa_store_metrics(fa_api_store(r), row.id, "", add_metric, &tm);
    if (rc) return fa_api_fail(r, rc, "reading team metrics");
    rc = fa_api_load_doc(r, &row, "definitions", "definitions (it was imported without analytics)", &defs);
    if (rc) {
        fa_buf_free(&defs);
        return rc;
    }
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_api_jw_match_ref(&w, &row);
    fa_jw_key(&w, "teams");
    fa_jw_obj(&w);
    jw_team(&w, &row, FA_SIDE_HOME, &tm);
    jw_team(&w, &row, FA_SIDE_AWAY, &tm);
    fa_jw_end_obj(&w);
    fa_jw_key(&w, "ball");
    fa_jw_obj(&w);
    jw_metrics_of(&w, &tm, FA_SIDE_NONE);
    fa_jw_end_obj(&w);
    fa_jw_key(&w, "definitions");
    fa_jw_raw(&w, defs.data, defs.len);
    fa_jw_end_obj(&w);
    fa_buf_free(&defs);
    return fa_api_jw_done(r, &w);
}
