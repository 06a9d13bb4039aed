/*
 * admin.c - POST /v1/admin/purge?tags=match-42,team-statsbomb-217: drops
 * every cached response that depends on any of the tags, in this process,
 * in the shared L2 and, through it, on every node (the cache hooks' purge).
 * For the operator after a correction, and for an importer that cannot
 * reach Redis itself. Needs an API key with the admin scope (app.c checks
 * route flags before any handler runs).
 *
 * Tags are surrogate keys exactly as responses carry them in
 * Surrogate-Key: lower-case letters, digits and '-', at most 63 bytes,
 * at most 16 per call.
 */
#include <string.h>

#include "../app_internal.h"

#define MAX_PURGE_TAGS 16
#define TAG_MAX 63

static int tag_ok(const char *t, size_t n) {
    if (n == 0 || n > TAG_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '-')) return 0;
    return 1;
}

/* Splits list at commas into tags[] (copies in the request arena); the count, or < 0 after a 400. */
static int split_tags(fa_api_req *r, const char *list, const char **tags) {
    int n = 0;
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        if (!tag_ok(p, len))
            return fa_api_bad_param(r, "parameter", "tags",
                                    "comma-separated surrogate keys ([a-z0-9-], 1..63 bytes each)", list);
        if (n == MAX_PURGE_TAGS)
            return fa_api_bad_param(r, "parameter", "tags", "at most 16 tags", list);
        tags[n] = fa_arena_strndup(r->t->arena, p, len);
        if (!tags[n]) return fa_api_fail(r, FA_ENOMEM, "purging");
        n++;
        if (!p[len]) return n;
        p += len + 1;
    }
}

int fa_api_h_purge(fa_api_req *r) {
    const fa_api_hooks *h = &r->t->app->cfg.hooks;
    r->cache = FA_API_CACHE_NONE;
    char list[1100];
    int rc = fa_api_q_str(r, "tags", sizeof list - 1, list, sizeof list);
    if (rc < 0) return rc;
    if (rc == 0) return fa_api_bad_param(r, "parameter", "tags", "comma-separated surrogate keys", "");
    const char *tags[MAX_PURGE_TAGS];
    int n = split_tags(r, list, tags);
    if (n < 0) return n;
    if (!h->purge)
        return fa_api_problem(r, 503, "no-cache",
                              "this server runs without a response cache: nothing to purge");
    if (h->purge(h->ud, tags, (size_t)n) != 0)
        return fa_api_problem(r, 503, "purge-incomplete",
                              "purged in this process, but the shared cache did not confirm: %s (retry)",
                              fa_err_msg());
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_jw_key(&w, "purged");
    fa_jw_arr(&w);
    for (int i = 0; i < n; i++) fa_jw_str(&w, tags[i]);
    fa_jw_end_arr(&w);
    fa_jw_end_obj(&w);
    return w.err ? fa_api_fail(r, w.err, "purging") : 0;
}
