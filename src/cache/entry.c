/*
 * entry.c - cache entries: one immutable, reference-counted allocation
 * holding the key, content type, tags, the identity body, its compressed
 * variants with their ETags, and the L1's bookkeeping.
 *
 * Why one allocation: an entry is built once and never changes, so its
 * parts can be laid end to end; a hit then touches one block, a release
 * frees one block, and the bytes counted against the cache's budget (the
 * entry's charge) are exactly what malloc was asked for.
 *
 * Why reference counts: a handler sends a variant's bytes straight from
 * the entry (fa_http_response.body_ref), possibly after the cache evicted
 * it or a tag made it stale; the entry lives until the last holder lets go.
 *
 * ETags are strong and per variant (RFC 9110 section 8.8.3: a gzip body is
 * a different representation than the identity one): a 64-bit hash of the
 * variant's own bytes, with a fixed seed so every process and the L2 agree,
 * plus the coding name for compressed variants.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"

#define ETAG_SEED 0x45546167ull

void fa_cache_entry_retain(const fa_cache_entry *e) { atomic_fetch_add(&fa_cache_node_of(e)->refs, 1); }

void fa_cache_entry_release(const fa_cache_entry *e) {
    if (!e) return;
    fa_cache_node *n = fa_cache_node_of(e);
    if (atomic_fetch_sub(&n->refs, 1) == 1) free(n);
}

void fa_cache_entry_release_cb(void *entry) { fa_cache_entry_release(entry); }

fa_cache_coding fa_cache_pick_variant(const fa_cache_entry *e, const char *accept_encoding, size_t len) {
    unsigned available = 0;
    for (int c = 0; c < FA_CODING_COUNT; c++)
        if (e->variant[c].data) available |= FA_CODING_BIT(c);
    return fa_cache_negotiate(accept_encoding, len, available);
}

int fa_cache_fill_tag(fa_cache_fill *f, const char *fmt, ...) {
    if (f->ntags >= FA_CACHE_MAX_TAGS)
        return fa_err_set(FA_ELIMIT, "cache: fill: more than %d tags", FA_CACHE_MAX_TAGS);
    char *dst = f->tags[f->ntags];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, FA_CACHE_TAG_MAX, fmt, ap);
    va_end(ap);
    if (n <= 0 || n >= FA_CACHE_TAG_MAX) {
        dst[0] = '\0';
        return fa_err_set(FA_ELIMIT, "cache: fill: tag of %d bytes, expected 1..%d", n, FA_CACHE_TAG_MAX - 1);
    }
    f->ntags++;
    return 0;
}

/* The body of variant c: the fill's identity body or coded[c]. */
static const fa_buf *variant_source(const fa_cache_fill *fill, const fa_buf coded[FA_CODING_COUNT], int c) {
    return c == FA_CODING_IDENTITY ? &fill->body : &coded[c];
}

static size_t node_size(size_t key_len, const fa_cache_fill *fill, const fa_buf coded[FA_CODING_COUNT]) {
    size_t size = sizeof(fa_cache_node) + fill->ntags * (sizeof(char *) + sizeof(fa_tag_node *));
    size += key_len + 1 + strlen(fill->content_type) + 1 + strlen(fill->headers) + 1;
    for (size_t i = 0; i < fill->ntags; i++) size += strlen(fill->tags[i]) + 1;
    for (int c = 0; c < FA_CODING_COUNT; c++) size += variant_source(fill, coded, c)->len;
    return size;
}

/* Copies n bytes to *cursor and advances it; returns where they went. */
static char *place(char **cursor, const void *src, size_t n) {
    char *at = *cursor;
    if (n) memcpy(at, src, n);
    *cursor += n;
    return at;
}

static void set_etag(fa_cache_variant *v, int c) {
    uint64_t h = fa_cache_hash(v->data, v->len, ETAG_SEED);
    if (c == FA_CODING_IDENTITY) snprintf(v->etag, sizeof v->etag, "\"%016llx\"", (unsigned long long)h);
    else snprintf(v->etag, sizeof v->etag, "\"%016llx-%s\"", (unsigned long long)h, fa_cache_coding_name(c));
}

/* Lays out the tags (pointer array, node array, strings) from *cursor. */
static int place_tags(fa_cache_node *n, const fa_cache_fill *fill, char **cursor, fa_tag_versions *tv) {
    const char **names = (const char **)(void *)(n + 1);
    n->tag_nodes = (fa_tag_node **)(void *)(names + fill->ntags);
    n->pub.tags = names;
    n->pub.ntags = fill->ntags;
    for (size_t i = 0; i < fill->ntags; i++) {
        names[i] = place(cursor, fill->tags[i], strlen(fill->tags[i]) + 1);
        n->tag_nodes[i] = fa_tag_versions_node(tv, names[i]);
        if (!n->tag_nodes[i]) return fa_err_code();
    }
    return 0;
}

fa_cache_node *fa_cache_node_new(const char *key, size_t key_len, uint64_t hash, const fa_cache_fill *fill,
                                 const fa_buf coded[FA_CODING_COUNT], fa_tag_versions *tv) {
    size_t size = node_size(key_len, fill, coded);
    fa_cache_node *n = fa_calloc(1, size);
    if (!n) return NULL;
    atomic_init(&n->refs, 1);
    n->hash = hash;
    n->key_len = key_len;
    n->pub.charge = size;
    char *cursor = (char *)(void *)(n + 1) + fill->ntags * (sizeof(char *) + sizeof(fa_tag_node *));
    n->pub.key = place(&cursor, key, key_len + 1);
    n->pub.content_type = place(&cursor, fill->content_type, strlen(fill->content_type) + 1);
    n->pub.headers = place(&cursor, fill->headers, strlen(fill->headers) + 1);
    if (place_tags(n, fill, &cursor, tv)) {
        free(n);
        return NULL;
    }
    for (int c = 0; c < FA_CODING_COUNT; c++) {
        const fa_buf *src = variant_source(fill, coded, c);
        if (c != FA_CODING_IDENTITY && src->len == 0) continue; /* absent */
        fa_cache_variant *v = &n->pub.variant[c];
        v->data = (const unsigned char *)place(&cursor, src->data ? src->data : "", src->len);
        v->len = src->len;
        set_etag(v, c);
    }
    return n;
}

int fa_cache_node_tags_current(const fa_cache_node *n) {
    for (size_t i = 0; i < n->pub.ntags; i++)
        if (atomic_load(&n->tag_nodes[i]->changed_seq) > n->fill_seq) return 0;
    return 1;
}
