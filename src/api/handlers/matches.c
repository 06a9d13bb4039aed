/*
 * matches.c - GET /v1/matches: the stored matches, filtered by competition,
 * season, team (either side's name or provider id) and date range, a page
 * at a time.
 *
 * Keyset pagination on the store id (ascending, the store's own order): the
 * store is asked for limit + 1 rows after the cursor's id, the extra row
 * only says whether another page exists, and next_cursor encodes the last
 * id shown. The cursor's scope is a hash of the filters, so it is refused
 * (400) with other filters instead of silently paging another list.
 * Lists change with every import: short cache class, surrogate key
 * "matches" (every import purges it) plus the filter's competition.
 */
#include <stdio.h>
#include <string.h>

#include "../app_internal.h"

typedef struct page {
    fa_jw *w;
    int limit, shown;
    int64_t last_id;
    int more;
} page;

static int add_row(void *ud, const fa_match_row *row) {
    page *pg = ud;
    if (pg->shown == pg->limit) {
        pg->more = 1;
        return 1; /* stop: this row only said that another page exists */
    }
    fa_api_jw_match(pg->w, row);
    pg->shown++;
    pg->last_id = row->id;
    return 0;
}

typedef struct filters {
    char competition[132], season[132], team[132], from[11], to[11];
    int has_competition, has_season, has_team, has_from, has_to;
} filters;

static int read_filters(fa_api_req *r, filters *f) {
    int rc;
    if ((rc = fa_api_q_str(r, "competition", 128, f->competition, sizeof f->competition)) < 0) return rc;
    f->has_competition = rc;
    if ((rc = fa_api_q_str(r, "season", 128, f->season, sizeof f->season)) < 0) return rc;
    f->has_season = rc;
    if ((rc = fa_api_q_str(r, "team", 128, f->team, sizeof f->team)) < 0) return rc;
    f->has_team = rc;
    if ((rc = fa_api_q_date(r, "from", f->from)) < 0) return rc;
    f->has_from = rc;
    if ((rc = fa_api_q_date(r, "to", f->to)) < 0) return rc;
    f->has_to = rc;
    if (f->has_from && f->has_to && strcmp(f->from, f->to) > 0)
        return fa_api_problem(r, 400, "invalid-parameter",
                              "parameter 'from' (%s) is after parameter 'to' (%s)", f->from, f->to);
    return 0;
}

/* The filters as one string, hashed into the cursor's scope. */
static uint32_t scope_of(const filters *f) {
    char text[700];
    snprintf(text, sizeof text, "%d%s\x1f%d%s\x1f%d%s\x1f%d%s\x1f%d%s", f->has_competition, f->competition,
             f->has_season, f->season, f->has_team, f->team, f->has_from, f->from, f->has_to, f->to);
    return (uint32_t)fa_api_hash(text, strlen(text), FA_API_HASH_SEED);
}

int fa_api_h_matches(fa_api_req *r) {
    filters f;
    memset(&f, 0, sizeof f);
    int limit, rc;
    int64_t after = 0;
    if ((rc = read_filters(r, &f)) < 0 || (rc = fa_api_q_limit(r, &limit)) < 0) return rc;
    if ((rc = fa_api_q_cursor(r, 'm', scope_of(&f), &after)) < 0) return rc;
    fa_store *s = fa_api_store(r);
    if (!s) return FA_EIO;
    fa_match_filter mf = {.competition = f.has_competition ? f.competition : NULL,
                          .season = f.has_season ? f.season : NULL,
                          .team = f.has_team ? f.team : NULL,
                          .date_from = f.has_from ? f.from : NULL,
                          .date_to = f.has_to ? f.to : NULL,
                          .after_id = after,
                          .limit = limit + 1};
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_jw_key(&w, "data");
    fa_jw_arr(&w);
    page pg = {&w, limit, 0, 0, 0};
    rc = fa_store_matches(s, &mf, add_row, &pg);
    if (rc < 0) return fa_api_fail(r, rc, "listing matches");
    fa_jw_end_arr(&w);
    fa_jw_key(&w, "limit");
    fa_jw_int(&w, limit);
    fa_jw_key(&w, "next_cursor");
    char cursor[96];
    fa_api_cursor_make('m', scope_of(&f), pg.last_id, cursor, sizeof cursor);
    fa_jw_str(&w, pg.more ? cursor : NULL);
    fa_jw_end_obj(&w);
    r->cache = FA_API_CACHE_LIST;
    fa_api_tag(r, "matches", NULL, NULL);
    if (f.has_competition) fa_api_tag(r, "competition", f.competition, NULL);
    return fa_api_jw_done(r, &w);
}
