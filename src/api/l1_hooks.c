/*
 * l1_hooks.c - the application's cache and coding hooks on the in-process
 * L1 cache (src/cache).
 *
 * Why this shape: compression costs 15-75 us per 2 KB body and variant,
 * a cache hit well under 1 us, so bodies are compressed once, when a fresh
 * 200 is offered (cache_put), and every later request for the same key is
 * answered from the entry without copying: the chosen variant's bytes are
 * sent by reference and the entry is released once written. The response's
 * caching headers (Cache-Control, Vary, Surrogate-Key) are kept with the
 * entry as "Name: value\n" text and replayed on a hit; the ETag is not kept:
 * the application recomputes it from the identity body (its own hash), so a
 * validator never depends on whether the cache answered.
 *
 * Surrogate keys ("match-42 team-statsbomb-217 ...") become the entry's
 * tags, so bumping "match-42" drops every representation of that match.
 * Every entry also carries the tag "store", bumped when a loop notices the
 * database changed under it (store_changed): an import in another process
 * then empties this process's L1 within a quarter of a second. Coarse -
 * every entry goes, not only the re-imported match's - but imports are
 * rare next to reads, and it is never wrong.
 */
#include <string.h>
#include <strings.h>

#include "api.h"
#include "cache/cache.h"

static const char *const kept_headers[] = {"Cache-Control", "Vary", "Surrogate-Key", NULL};

static int kept(const char *name) {
    for (size_t i = 0; kept_headers[i]; i++)
        if (strcasecmp(name, kept_headers[i]) == 0) return 1;
    return 0;
}

/* ------------------------------------------------------------ put */

typedef struct put_ctx {
    const fa_http_response *resp;
    int ttl_s;
    const char *tags;
} put_ctx;

static void fill_headers(fa_cache_fill *f, const fa_http_response *resp) {
    size_t used = 0;
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (!kept(resp->headers[i][0])) continue;
        int n = snprintf(f->headers + used, sizeof f->headers - used, "%s: %s\n", resp->headers[i][0],
                         resp->headers[i][1]);
        if (n < 0 || (size_t)n >= sizeof f->headers - used) {
            f->headers[used] = '\0'; /* a header that does not fit is left out whole */
            break;
        }
        used += (size_t)n;
    }
}

/* Surrogate keys as tags; keys beyond the entry's tag room are dropped
 * (the TTL still bounds them). */
#define STORE_TAG "store" /* every entry: bumped when the database changes */

static void fill_tags(fa_cache_fill *f, const char *tags) {
    fa_cache_fill_tag(f, STORE_TAG);
    const char *p = tags;
    while (p && *p) {
        size_t n = strcspn(p, " ");
        if (n && n < FA_CACHE_TAG_MAX && f->ntags < FA_CACHE_MAX_TAGS) fa_cache_fill_tag(f, "%.*s", (int)n, p);
        p += n;
        while (*p == ' ') p++;
    }
}

static int fill_from_response(void *ud, const char *key, fa_cache_fill *f) {
    (void)key;
    const put_ctx *c = ud;
    const fa_http_response *resp = c->resp;
    const void *body = resp->body_ref ? resp->body_ref : resp->body.data;
    size_t len = resp->body_ref ? resp->body_ref_len : resp->body.len;
    if (len && fa_buf_append(&f->body, body, len)) return FA_ENOMEM;
    snprintf(f->content_type, sizeof f->content_type, "%s", resp->content_type ? resp->content_type : "");
    fill_headers(f, resp);
    fill_tags(f, c->tags);
    f->ttl_s = c->ttl_s > 0 ? c->ttl_s : -1;
    return 0;
}

/* Points resp's body at the entry's identity bytes, holding a reference. */
static void body_from_entry(fa_http_response *resp, const fa_cache_entry *e) {
    fa_buf_reset(&resp->body);
    if (resp->body_ref && resp->release) resp->release(resp->release_ud);
    resp->body_ref = e->variant[FA_CODING_IDENTITY].data;
    resp->body_ref_len = e->variant[FA_CODING_IDENTITY].len;
    resp->release = fa_cache_entry_release_cb;
    resp->release_ud = (void *)e;
}

static void cache_put(void *ud, const char *key, fa_http_response *resp, int ttl_s, const char *tags) {
    put_ctx c = {resp, ttl_s, tags ? tags : ""};
    const fa_cache_entry *e;
    if (fa_l1_get_or_fill(ud, key, fill_from_response, &c, &e) != 0) {
        fa_err_clear(); /* not kept: the response goes out as it is */
        return;
    }
    const fa_cache_variant *id = &e->variant[FA_CODING_IDENTITY];
    size_t len = resp->body_ref ? resp->body_ref_len : resp->body.len;
    const void *body = resp->body_ref ? resp->body_ref : resp->body.data;
    /* Another loop may have filled the key first: swap only identical bytes. */
    if (id->len == len && (len == 0 || memcmp(id->data, body, len) == 0)) body_from_entry(resp, e);
    else fa_cache_entry_release(e);
}

/* ------------------------------------------------------------ get */

static void replay_headers(fa_http_response *resp, const char *text) {
    while (*text) {
        const char *colon = strchr(text, ':'), *nl = strchr(text, '\n');
        if (!colon || !nl || colon > nl) break;
        char name[128], value[128];
        snprintf(name, sizeof name, "%.*s", (int)(colon - text), text);
        snprintf(value, sizeof value, "%.*s", (int)(nl - colon - 2), colon + 2);
        fa_http_response_header(resp, name, value);
        text = nl + 1;
    }
}

static int cache_get(void *ud, const char *key, fa_http_response *resp) {
    const fa_cache_entry *e;
    if (fa_l1_get(ud, key, &e) != 1) return 0;
    resp->status = 200;
    resp->content_type = e->content_type[0] ? e->content_type : NULL;
    body_from_entry(resp, e);
    replay_headers(resp, e->headers);
    return 1;
}

/* ------------------------------------------------------------ codings */

static const fa_cache_entry *entry_of(const fa_http_response *resp) {
    return resp->release == fa_cache_entry_release_cb ? resp->release_ud : NULL;
}

static const char *coding_pick(void *ud, const fa_http_request *req, const fa_http_response *resp) {
    (void)ud;
    const fa_cache_entry *e = entry_of(resp);
    if (!e) return NULL; /* not kept (admission, errors): identity */
    const fa_strv *ae = fa_http_header_get(req, "Accept-Encoding");
    fa_cache_coding c = fa_cache_pick_variant(e, ae ? ae->p : NULL, ae ? ae->n : 0);
    return c > FA_CODING_IDENTITY && c < FA_CODING_COUNT ? fa_cache_coding_name(c) : NULL;
}

static int encode(void *ud, const char *coding, fa_http_response *resp) {
    (void)ud;
    const fa_cache_entry *e = entry_of(resp);
    if (!e) return FA_EINVAL;
    for (int c = FA_CODING_IDENTITY + 1; c < FA_CODING_COUNT; c++) {
        if (strcmp(fa_cache_coding_name(c), coding) != 0 || !e->variant[c].data) continue;
        resp->body_ref = e->variant[c].data;
        resp->body_ref_len = e->variant[c].len;
        return fa_http_response_header(resp, "Content-Encoding", coding);
    }
    return FA_EINVAL;
}

static void store_changed(void *ud) { fa_l1_bump_tag(ud, STORE_TAG); }

void fa_api_l1_hooks(struct fa_l1 *l1, fa_api_hooks *hooks) {
    hooks->store_changed = store_changed;
    hooks->ud = l1;
    hooks->cache_get = cache_get;
    hooks->cache_put = cache_put;
    hooks->coding_pick = coding_pick;
    hooks->encode = encode;
}
