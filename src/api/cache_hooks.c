/*
 * cache_hooks.c - the application's cache hooks (api.h) on the response
 * caches: the in-process L1 (src/cache/l1.c) and, when configured, the L2
 * shared by every node in Redis (src/cache/l2.h).
 *
 * Why this shape:
 *   - Compress once. Compression costs 15-75 us per 2 KB body and variant,
 *     an L1 hit well under 1 us, so bodies are compressed when a response
 *     is kept, and every later request for the same key is answered from
 *     the entry without copying: the chosen variant's bytes are sent by
 *     reference and the entry released once written.
 *   - Compute once. cache_fill runs the handler inside fa_l1_fill,
 *     so when a hot key is missing, concurrent requests for it on other
 *     loops wait for the one computing it (a stampede would otherwise run
 *     the same store queries on every core). Errors are coalesced too:
 *     the waiters get the leader's problem response (kept as an entry with
 *     a negative TTL: handed over, never stored). A waiter blocks its loop
 *     for at most the computation (the cold path, milliseconds), which it
 *     would have spent computing the same thing.
 *   - Keep what a hit must replay. An entry holds the response's kept
 *     headers as "Name: value\\n" text - ETag, Cache-Control, Vary,
 *     Surrogate-Key, and "Status: NNN" for a coalesced error - so a hit
 *     neither hashes the body again nor recomputes a policy.
 *
 * L2 (when configured). Each loop owns one Redis connection (its `tc`), so
 * a lookup never crosses threads: cache_remote issues a GET and the
 * application defers the request; a hit is decoded straight into L1 with
 * its precompressed variants (no compression on a hit) and answered from
 * there. A fill's result goes to L2 fire-and-forget, with the versions of
 * its tags as this node knows them, and Redis keeps it only if they still
 * hold there: a fill that raced a purge on another node is not shared.
 * Versions are read before checking that the L1 entry is still valid,
 * so a purge heard during the fill is never paired with the versions
 * after it. The local tag "store" never goes to L2: it stands for this
 * node's view of its database file, which other nodes do not share.
 *
 * Tags. Surrogate keys ("match-42 team-statsbomb-217 ...") become the
 * entry's tags, so bumping "match-42" drops every representation of that
 * match. Every entry also carries the tag "store", bumped when a loop
 * notices the database changed under it (store_changed): an import in
 * another process then empties this process's L1 within a quarter of a
 * second. Coarse - every entry goes, not only the re-imported match's -
 * but imports are rare next to reads, and it is never wrong.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "cache/cache.h"
#include "cache/l2.h"

#define STORE_TAG "store" /* every entry: bumped when the database changes */
#define PURGE_TIMEOUT_S 2.0

#define REFILL_MAX 64 /* keys refilled per invalidation, the hottest */

struct fa_api_caches {
    fa_l1 *l1;
    fa_l2 *l2;
    _Atomic(fa_api_warmer *) warmer;
};

/* One loop's cache state: its L2 connection. */
typedef struct loop_cache {
    fa_api_caches *c;
    fa_l2_conn *conn;
} loop_cache;

static const char *const kept_headers[] = {"ETag", "Cache-Control", "Vary", "Surrogate-Key", NULL};

static int kept(const char *name) {
    for (size_t i = 0; kept_headers[i]; i++)
        if (strcasecmp(name, kept_headers[i]) == 0) return 1;
    return 0;
}

/* ------------------------------------------------------------ entries from responses */

/* Appends "Name: value\n" to f->headers; 0, or -1 when it does not fit (left out whole). */
static int add_header_line(fa_cache_fill *f, size_t *used, const char *name, const char *value) {
    int n = snprintf(f->headers + *used, sizeof f->headers - *used, "%s: %s\n", name, value);
    if (n < 0 || (size_t)n >= sizeof f->headers - *used) {
        f->headers[*used] = '\0';
        return -1;
    }
    *used += (size_t)n;
    return 0;
}

static void fill_headers(fa_cache_fill *f, const fa_http_response *resp) {
    size_t used = 0;
    if (resp->status != 200) {
        char status[8];
        snprintf(status, sizeof status, "%d", resp->status);
        add_header_line(f, &used, "Status", status);
    }
    for (size_t i = 0; i < resp->nheaders; i++)
        if (kept(resp->headers[i][0]) && add_header_line(f, &used, resp->headers[i][0], resp->headers[i][1]))
            break;
}

/* Surrogate keys as tags; keys beyond the entry's tag room are dropped
 * (the TTL still bounds them). */
static void fill_tags(fa_cache_fill *f, const char *tags) {
    fa_cache_fill_tag(f, STORE_TAG);
    const char *p = tags;
    while (p && *p) {
        size_t n = strcspn(p, " ");
        if (n && n < FA_CACHE_TAG_MAX && f->ntags < FA_CACHE_MAX_TAGS)
            fa_cache_fill_tag(f, "%.*s", (int)n, p);
        p += n;
        while (*p == ' ') p++;
    }
}

/* What a fill needs: the caller's response (which the computation fills
 * when this caller leads) and the computation. */
typedef struct fill_ctx {
    fa_http_response *resp;
    const fa_api_compute *compute;
    int ran; /* this caller computed (resp holds the response) */
    int ttl_s;
} fill_ctx;

static int fill_by_computing(void *ud, const char *key, fa_cache_fill *f) {
    (void)key;
    fill_ctx *c = ud;
    fa_http_response *resp = c->resp;
    const char *tags = NULL;
    c->ttl_s = 0;
    c->compute->run(c->compute->ctx, resp, &c->ttl_s, &tags);
    c->ran = 1;
    const void *body = resp->body_ref ? resp->body_ref : resp->body.data;
    size_t len = resp->body_ref ? resp->body_ref_len : resp->body.len;
    if (len && fa_buf_append(&f->body, body, len)) return FA_ENOMEM;
    snprintf(f->content_type, sizeof f->content_type, "%s", resp->content_type ? resp->content_type : "");
    fill_headers(f, resp);
    fill_tags(f, tags);
    f->ttl_s = resp->status == 200 && c->ttl_s > 0 ? c->ttl_s : -1;
    return 0;
}

/* ------------------------------------------------------------ responses from entries */


/* Points resp's body at the entry's identity bytes; takes over the caller's reference. */
static void body_from_entry(fa_http_response *resp, const fa_cache_entry *e) {
    fa_http_response_drop_body(resp);
    resp->body_ref = e->variant[FA_CODING_IDENTITY].data;
    resp->body_ref_len = e->variant[FA_CODING_IDENTITY].len;
    resp->release = fa_cache_entry_release_cb;
    resp->release_ud = (void *)e;
}

/* The kept "Name: value\n" lines back into resp (no printf: this runs on
 * every hit). */
static void replay_headers(fa_http_response *resp, const char *text) {
    while (*text) {
        const char *nl = strchr(text, '\n');
        const char *colon = nl ? memchr(text, ':', (size_t)(nl - text)) : NULL;
        if (!colon || colon[1] != ' ') break;
        size_t nn = (size_t)(colon - text), vn = (size_t)(nl - colon - 2);
        if (nn == 6 && memcmp(text, "Status", 6) == 0)
            resp->status = atoi(colon + 2);
        else
            fa_http_response_header_n(resp, text, nn, colon + 2, vn);
        text = nl + 1;
    }
}

/* Replaces resp by the entry's response; takes over the caller's reference. */
static void response_from_entry(fa_http_response *resp, const fa_cache_entry *e) {
    resp->status = 200;
    resp->nheaders = 0;
    resp->content_type = e->content_type[0] ? e->content_type : NULL;
    body_from_entry(resp, e);
    replay_headers(resp, e->headers);
}

/* ------------------------------------------------------------ hooks: L1 */

static int cache_lookup(void *ud, const char *key, fa_http_response *resp) {
    fa_api_caches *c = ud;
    const fa_cache_entry *e;
    if (fa_l1_get(c->l1, key, &e) != 1) return 0;
    response_from_entry(resp, e);
    return 1;
}

/* ------------------------------------------------------------ L2 */

static uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Shares the leader's fresh entry e through L2, if it is still valid in L1. */
static void share(loop_cache *lc, const char *key, const fa_cache_entry *e, int ttl_s) {
    if (!lc || !lc->conn || ttl_s < 1 || !fa_l2_conn_ready(lc->conn)) return;
    const char *tags[FA_CACHE_MAX_TAGS];
    uint64_t versions[FA_CACHE_MAX_TAGS];
    size_t n = 0;
    fa_tag_versions *tv = fa_l1_tags(lc->c->l1);
    for (size_t i = 0; i < e->ntags; i++) {
        if (strcmp(e->tags[i], STORE_TAG) == 0) continue;
        tags[n] = e->tags[i];
        versions[n++] = fa_tag_versions_get(tv, e->tags[i]);
    }
    const fa_cache_entry *now;
    if (fa_l1_get(lc->c->l1, key, &now) != 1) return; /* not kept, or a tag moved meanwhile */
    int same = now == e;
    fa_cache_entry_release(now);
    if (!same) return;
    fa_buf blob = {0};
    if (fa_l2_encode_entry(e, wall_ms() + (uint64_t)ttl_s * 1000u, &blob) == 0)
        fa_l2_put(lc->conn, key, blob.data, blob.len, ttl_s, tags, versions, n);
    fa_err_clear(); /* sharing is best effort: stats and the breaker tell */
    fa_buf_free(&blob);
}

/* A lookup in flight. */
typedef struct remote_get {
    loop_cache *lc;
    void (*found)(void *arg, void *hit);
    void *arg;
    char key[];
} remote_get;

typedef struct blob_view {
    const void *p;
    size_t len;
} blob_view;

static int fill_from_blob(void *ud, const char *key, fa_cache_fill *f) {
    const blob_view *b = ud;
    uint64_t expires = 0;
    int rc = fa_l2_decode(b->p, b->len, key, f, &expires);
    if (rc) return rc;
    uint64_t now = wall_ms();
    if (expires && expires <= now + 1000) return fa_err_set(FA_ENOTFOUND, "l2: %s: expired", key);
    f->ttl_s = expires ? (double)(expires - now) / 1000.0 : 0;
    return 0;
}

static void on_remote(void *ud, fa_l2_result result, const void *blob, size_t len) {
    remote_get *g = ud;
    const fa_cache_entry *e = NULL;
    if (result == FA_L2_HIT) {
        blob_view b = {blob, len};
        if (fa_l1_fill(g->lc->c->l1, g->key, fill_from_blob, &b, &e) != 0) {
            if (fa_err_code() != FA_ENOTFOUND)
                fa_log(FA_LOG_WARN, "l2: unusable value, computing instead", "key=\"%s\" error=\"%s\"",
                       g->key, fa_err_msg());
            fa_err_clear();
            e = NULL;
        }
    }
    g->found(g->arg, (void *)e);
    free(g);
}

static int cache_remote(void *ud, void *tc, const char *key, void (*found)(void *arg, void *hit), void *arg) {
    (void)ud;
    loop_cache *lc = tc;
    if (!lc->conn || !fa_l2_conn_ready(lc->conn)) return 0;
    size_t n = strlen(key);
    remote_get *g = fa_malloc(sizeof *g + n + 1);
    if (!g) {
        fa_err_clear();
        return 0;
    }
    g->lc = lc;
    g->found = found;
    g->arg = arg;
    memcpy(g->key, key, n + 1);
    if (fa_l2_get(lc->conn, key, on_remote, g) != 0) {
        fa_err_clear(); /* breaker open, not connected: the store answers */
        free(g);
        return 0;
    }
    return 1;
}

static void cache_apply(void *ud, void *hit, fa_http_response *resp) {
    (void)ud;
    if (resp)
        response_from_entry(resp, hit);
    else
        fa_cache_entry_release(hit);
}

static void *cache_thread_init(void *ud, int loop_index, const struct fa_io_loop *io) {
    fa_api_caches *c = ud;
    if (!c->l2) return NULL;
    loop_cache *lc = fa_calloc(1, sizeof *lc);
    if (!lc) return NULL;
    lc->c = c;
    lc->conn = fa_l2_conn_new(c->l2, io, loop_index == 0); /* one subscriber per process */
    return lc;
}

static void cache_thread_free(void *ud, void *tc) {
    (void)ud;
    loop_cache *lc = tc;
    fa_l2_conn_free(lc->conn);
    free(lc);
}

static double cache_tick(void *ud, void *tc, double now) {
    (void)ud;
    loop_cache *lc = tc;
    return lc->conn ? fa_l2_conn_tick(lc->conn, now) : -1;
}

/* ------------------------------------------------------------ hooks: fill */

static void cache_fill(void *ud, void *tc, const char *key, fa_http_response *resp,
                       const fa_api_compute *compute) {
    fa_api_caches *c = ud;
    fill_ctx ctx = {resp, compute, 0, 0};
    const fa_cache_entry *e;
    if (fa_l1_fill(c->l1, key, fill_by_computing, &ctx, &e) != 0) {
        fa_err_clear();
        if (!ctx.ran) { /* the leader's wait timed out, or no memory: compute here */
            const char *tags;
            compute->run(compute->ctx, resp, &ctx.ttl_s, &tags);
        }
        return;
    }
    if (!ctx.ran) {
        response_from_entry(resp, e); /* a waiter: the leader's response */
        return;
    }
    /* The leader: share it, and send the kept bytes, so encode can pick a precompressed variant. */
    if (resp->status == 200) share(tc, key, e, ctx.ttl_s);
    const fa_cache_variant *id = &e->variant[FA_CODING_IDENTITY];
    size_t len = resp->body_ref ? resp->body_ref_len : resp->body.len;
    const void *body = resp->body_ref ? resp->body_ref : resp->body.data;
    if (id->len == len && (len == 0 || memcmp(id->data, body, len) == 0))
        body_from_entry(resp, e);
    else
        fa_cache_entry_release(e);
}

/* ------------------------------------------------------------ hooks: codings */

static const fa_cache_entry *entry_of(const fa_http_response *resp) {
    return resp->release == fa_cache_entry_release_cb ? resp->release_ud : NULL;
}

static const char *coding_pick(void *ud, const fa_http_request *req, const fa_http_response *resp) {
    (void)ud;
    const fa_cache_entry *e = entry_of(resp);
    if (!e) return NULL; /* not kept (no memory): identity */
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

/* ------------------------------------------------------------ hooks: invalidation */

/* Invalidation with refilling: the hottest keys that `drop` will make stale
 * (tag NULL: every key) are noted first and queued for the warmer after. */
typedef struct refill {
    char *keys[REFILL_MAX];
    size_t n;
} refill;

static void refill_note(fa_api_caches *c, const char *tag, refill *r) {
    r->n = atomic_load(&c->warmer) ? fa_l1_hot_keys(c->l1, tag, r->keys, REFILL_MAX) : 0;
}

static void refill_queue(fa_api_caches *c, refill *r) {
    fa_api_warmer *w = atomic_load(&c->warmer);
    for (size_t i = 0; i < r->n; i++) {
        fa_api_warmer_add(w, r->keys[i]);
        free(r->keys[i]);
    }
    r->n = 0;
}

static void store_changed(void *ud) {
    fa_api_caches *c = ud;
    refill r;
    refill_note(c, NULL, &r);
    fa_l1_bump_tag(c->l1, STORE_TAG);
    refill_queue(c, &r);
}

void fa_api_caches_invalidated(fa_api_caches *c, const char *tag, uint64_t version) {
    refill r;
    refill_note(c, tag, &r);
    if (fa_tag_versions_observe(fa_l1_tags(c->l1), tag, version) != 1) { /* known already: nothing dropped */
        for (size_t i = 0; i < r.n; i++) free(r.keys[i]);
        fa_err_clear();
        return;
    }
    refill_queue(c, &r);
}

void fa_api_caches_set_warmer(fa_api_caches *c, fa_api_warmer *w) { atomic_store(&c->warmer, w); }

/* With L2, Redis bumps the versions (its subscribers, this node's among
 * them, hear it) and this node raises its own at once; without L2, or when
 * Redis does not answer, the local versions are bumped so this node at
 * least is fresh, and the error says the others may not be. */
static int purge(void *ud, const char *const *tags, size_t n) {
    fa_api_caches *c = ud;
    uint64_t versions[256];
    if (c->l2 && n <= 256) {
        if (fa_l2_purge(c->l2, tags, n, PURGE_TIMEOUT_S, versions) == 0) {
            for (size_t i = 0; i < n; i++) fa_api_caches_invalidated(c, tags[i], versions[i]);
            return 0;
        }
        fa_err_prefix("shared cache (Redis)");
    }
    int rc = c->l2 ? fa_err_code() : 0;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", fa_err_msg());
    for (size_t i = 0; i < n; i++) {
        refill r;
        refill_note(c, tags[i], &r);
        int ok = fa_l1_bump_tag(c->l1, tags[i]) != 0;
        refill_queue(c, &r);
        if (!ok) return fa_err_code() ? fa_err_code() : FA_EINVAL;
    }
    return rc ? fa_err_set(rc, "%s", msg) : 0;
}

/* ------------------------------------------------------------ setup */

fa_api_caches *fa_api_caches_new(struct fa_l1 *l1, struct fa_l2 *l2, fa_api_hooks *hooks) {
    fa_api_caches *c = fa_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->l1 = l1;
    c->l2 = l2;
    hooks->ud = c;
    if (l2) {
        hooks->cache_thread_init = cache_thread_init;
        hooks->cache_thread_free = cache_thread_free;
        hooks->cache_tick = cache_tick;
        hooks->cache_remote = cache_remote;
        hooks->cache_apply = cache_apply;
    }
    hooks->cache_lookup = cache_lookup;
    hooks->cache_fill = cache_fill;
    hooks->coding_pick = coding_pick;
    hooks->encode = encode;
    hooks->store_changed = store_changed;
    hooks->purge = purge;
    return c;
}

void fa_api_caches_free(fa_api_caches *c) { free(c); }
