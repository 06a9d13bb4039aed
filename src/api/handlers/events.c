/*
 * events.c - GET /v1/matches/{id}/events: a match's events in match order,
 * filtered by type, player, period and time range, a page at a time.
 *
 * `type` takes either a normalised kind ("shot", "pass": model.h's
 * fa_event_kind names, the same for every provider) or, when it is not
 * one, the provider's own type name ("Ball Receipt*"), case-insensitively.
 * Times are seconds from the start of the period, as everywhere in the
 * model. Pagination is keyset on the event sequence number: the store
 * reads limit + 1 events after the cursor's seq through the index the
 * filter selects, so deep pages cost what the first one does. The cursor's
 * scope hashes the match and the filters.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../app_internal.h"

#define SECONDS "seconds from the start of the period, 0..86400"

typedef struct ev_filters {
    char type[64], player[FA_ID_MAX + 8];
    int has_type, has_player, kind;
    int64_t period;
    double from, to;
} ev_filters;

static int read_filters(fa_api_req *r, ev_filters *f) {
    int rc;
    f->kind = -1;
    f->period = 0;
    f->from = f->to = NAN;
    if ((rc = fa_api_q_str(r, "type", 47, f->type, sizeof f->type)) < 0) return rc;
    f->has_type = rc;
    if (f->has_type) f->kind = fa_event_kind_parse(f->type);
    if ((rc = fa_api_q_str(r, "player", FA_ID_MAX - 1, f->player, sizeof f->player)) < 0) return rc;
    f->has_player = rc;
    if (rc && (rc = fa_api_check_player_id(r, "parameter", "player", f->player)) < 0) return rc;
    if ((rc = fa_api_q_int(r, "period", 1, 5, &f->period)) < 0) return rc;
    if ((rc = fa_api_q_num(r, "from", 0, 86400, SECONDS, &f->from)) < 0) return rc;
    if ((rc = fa_api_q_num(r, "to", 0, 86400, SECONDS, &f->to)) < 0) return rc;
    if (!isnan(f->from) && !isnan(f->to) && f->from > f->to)
        return fa_api_problem(r, 400, "invalid-parameter",
                              "parameter 'from' (%g s) is after parameter 'to' (%g s)", f->from, f->to);
    return 0;
}

static uint32_t scope_of(int64_t match_id, const ev_filters *f) {
    char text[300];
    snprintf(text, sizeof text, "%lld\x1f%d%s\x1f%d%s\x1f%lld\x1f%.17g\x1f%.17g", (long long)match_id,
             f->has_type, f->type, f->has_player, f->player, (long long)f->period, f->from, f->to);
    return (uint32_t)fa_api_hash(text, strlen(text), FA_API_HASH_SEED);
}

static void jw_related(fa_jw *w, const char *related) {
    fa_jw_arr(w);
    for (const char *p = related; *p;) {
        size_t n = strcspn(p, ",");
        char id[FA_ID_MAX];
        if (n > 0 && n < sizeof id) {
            memcpy(id, p, n);
            id[n] = '\0';
            fa_jw_str(w, id);
        }
        p += n;
        if (*p == ',') p++;
    }
    fa_jw_end_arr(w);
}

static void jw_str_field(fa_jw *w, const char *key, const char *v) {
    fa_jw_key(w, key);
    fa_jw_str_or_null(w, v);
}

static void jw_num_field(fa_jw *w, const char *key, double v, int decimals) {
    fa_jw_key(w, key);
    fa_jw_round(w, v, decimals);
}

static void jw_event(fa_jw *w, const fa_event *e) {
    fa_jw_obj(w);
    fa_jw_key(w, "seq");
    fa_jw_int(w, e->seq);
    fa_jw_key(w, "period");
    fa_jw_int(w, e->period);
    jw_num_field(w, "t", e->t, 3);
    jw_num_field(w, "duration", e->duration, 3);
    jw_str_field(w, "kind", fa_event_kind_name(e->kind));
    jw_str_field(w, "type", e->type);
    jw_str_field(w, "subtype", e->subtype);
    jw_str_field(w, "side", fa_side_name(e->side));
    jw_str_field(w, "player", e->player_id);
    jw_str_field(w, "recipient", e->recipient_id);
    jw_num_field(w, "x", e->x, 2);
    jw_num_field(w, "y", e->y, 2);
    jw_num_field(w, "end_x", e->end_x, 2);
    jw_num_field(w, "end_y", e->end_y, 2);
    jw_num_field(w, "end_z", e->end_z, 2);
    fa_jw_key(w, "success");
    fa_jw_bool(w, e->success);
    jw_str_field(w, "outcome", e->outcome);
    fa_jw_key(w, "xg");
    fa_jw_num(w, e->xg);
    jw_str_field(w, "body_part", e->body_part);
    jw_str_field(w, "pass_type", e->pass_type);
    fa_jw_key(w, "under_pressure");
    fa_jw_bool(w, e->under_pressure != 0);
    fa_jw_key(w, "goal");
    fa_jw_bool(w, e->goal != 0);
    jw_str_field(w, "provider_id", e->provider_id);
    fa_jw_key(w, "related");
    jw_related(w, e->related);
    fa_jw_end_obj(w);
}

typedef struct page {
    fa_jw *w;
    int limit, shown, more;
    int64_t last_seq;
} page;

static int add_event(void *ud, const fa_event *e) {
    page *pg = ud;
    if (pg->shown == pg->limit) {
        pg->more = 1;
        return 1;
    }
    jw_event(pg->w, e);
    pg->shown++;
    pg->last_seq = e->seq;
    return 0;
}

int fa_api_h_events(fa_api_req *r) {
    ev_filters f;
    memset(&f, 0, sizeof f);
    fa_match_row row;
    int limit, rc;
    int64_t after = -1;
    if ((rc = read_filters(r, &f)) < 0 || (rc = fa_api_q_limit(r, &limit)) < 0) return rc;
    if ((rc = fa_api_load_match(r, &row)) < 0) return rc;
    uint32_t scope = scope_of(row.id, &f);
    if ((rc = fa_api_q_cursor(r, 'e', scope, &after)) < 0) return rc;
    fa_event_filter ef;
    fa_event_filter_init(&ef, row.id);
    ef.kind = f.kind;
    ef.type = f.has_type && f.kind < 0 ? f.type : NULL;
    ef.player_id = f.has_player ? f.player : NULL;
    ef.period = (int)f.period;
    ef.t_from = f.from;
    ef.t_to = f.to;
    ef.after_seq = after;
    ef.limit = limit + 1;
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_api_jw_match_ref(&w, &row);
    fa_jw_key(&w, "data");
    fa_jw_arr(&w);
    page pg = {&w, limit, 0, 0, -1};
    rc = fa_store_events(fa_api_store(r), &ef, add_event, &pg);
    if (rc < 0) return fa_api_fail(r, rc, "listing events");
    fa_jw_end_arr(&w);
    fa_jw_key(&w, "limit");
    fa_jw_int(&w, limit);
    char cursor[96];
    fa_api_cursor_make('e', scope, pg.last_seq, cursor, sizeof cursor);
    fa_jw_key(&w, "next_cursor");
    fa_jw_str(&w, pg.more ? cursor : NULL);
    fa_jw_end_obj(&w);
    return fa_api_jw_done(r, &w);
}
