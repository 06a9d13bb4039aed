/*
 * tags.c - tag versions: a sharded hash map from tag ("match:3869685") to a
 * version and a change stamp.
 *
 * Why versions and not a tag -> entries index: a bump must reach every
 * entry built from the tag, in L1 and (later) in L2, at once. Walking an
 * index would cost O(dependents) under locks, and L2 entries cannot be
 * walked at all; a version that entries are checked against costs one
 * atomic increment per bump and one atomic load per tag per hit.
 *
 * Why a change stamp besides the version: an entry learns its tags only
 * when its fill returns, so a bump that lands while the fill computes
 * would go unnoticed if the entry recorded versions at the end. Instead
 * every change takes the next value of one map-wide counter and stamps the
 * tag with it (keeping the largest stamp); a fill reads the counter before
 * it starts, and its entry is current while every tag's stamp is at most
 * that value.
 *
 * Nodes are never removed (entries hold pointers to them), so lookups by
 * entries need no lock; the map's locks only guard finding and inserting.
 */
#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"

#define TAG_SHARDS 16
#define TAG_SEED 0x7461677665727321ull

typedef struct tag_shard {
    pthread_mutex_t mu;
    fa_tag_node **buckets;
    size_t nbuckets, count;
} tag_shard;

struct fa_tag_versions {
    _Atomic uint64_t seq;
    tag_shard shards[TAG_SHARDS];
};

fa_tag_versions *fa_tag_versions_new(void) {
    fa_tag_versions *tv = fa_calloc(1, sizeof *tv);
    if (!tv) return NULL;
    atomic_init(&tv->seq, 0);
    for (size_t i = 0; i < TAG_SHARDS; i++) {
        tag_shard *s = &tv->shards[i];
        s->nbuckets = 16;
        s->buckets = fa_calloc(s->nbuckets, sizeof *s->buckets);
        if (!s->buckets || pthread_mutex_init(&s->mu, NULL) != 0) {
            free(s->buckets);
            s->buckets = NULL;
            fa_tag_versions_free(tv);
            return NULL;
        }
    }
    return tv;
}

void fa_tag_versions_free(fa_tag_versions *tv) {
    if (!tv) return;
    for (size_t i = 0; i < TAG_SHARDS; i++) {
        tag_shard *s = &tv->shards[i];
        if (!s->buckets) break; /* shards after a failed init were never set up */
        for (size_t b = 0; b < s->nbuckets; b++) {
            fa_tag_node *n = s->buckets[b];
            while (n) {
                fa_tag_node *next = n->next;
                free(n);
                n = next;
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    free(tv);
}

uint64_t fa_tag_versions_seq(fa_tag_versions *tv) { return atomic_load(&tv->seq); }

static fa_tag_node *shard_find(const tag_shard *s, uint64_t h, const char *tag, size_t len) {
    for (fa_tag_node *n = s->buckets[h & (s->nbuckets - 1)]; n; n = n->next)
        if (n->hash == h && n->len == len && !memcmp(n->name, tag, len)) return n;
    return NULL;
}

/* Doubles the bucket array once the shard holds more tags than buckets;
 * on allocation failure the shard keeps working with longer chains. */
static void shard_grow(tag_shard *s) {
    size_t nb = s->nbuckets * 2;
    fa_tag_node **b = calloc(nb, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        fa_tag_node *n = s->buckets[i];
        while (n) {
            fa_tag_node *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

static int check_tag(const char *tag, size_t len) {
    if (len == 0) return fa_err_set(FA_ELIMIT, "cache: tag: empty");
    if (len >= FA_CACHE_TAG_MAX)
        return fa_err_set(FA_ELIMIT, "cache: tag '%.32s...': %zu bytes, at most %d", tag, len,
                          FA_CACHE_TAG_MAX - 1);
    return 0;
}

fa_tag_node *fa_tag_versions_node(fa_tag_versions *tv, const char *tag) {
    size_t len = strlen(tag);
    if (check_tag(tag, len)) return NULL;
    uint64_t h = fa_cache_hash(tag, len, TAG_SEED);
    tag_shard *s = &tv->shards[h >> 60];
    pthread_mutex_lock(&s->mu);
    fa_tag_node *n = shard_find(s, h, tag, len);
    if (!n && (n = fa_malloc(sizeof *n + len + 1))) {
        n->hash = h;
        n->len = len;
        memcpy(n->name, tag, len + 1);
        atomic_init(&n->version, 0);
        atomic_init(&n->changed_seq, 0);
        n->next = s->buckets[h & (s->nbuckets - 1)];
        s->buckets[h & (s->nbuckets - 1)] = n;
        if (++s->count > s->nbuckets) shard_grow(s);
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

uint64_t fa_tag_versions_get(fa_tag_versions *tv, const char *tag) {
    size_t len = strlen(tag);
    uint64_t h = fa_cache_hash(tag, len, TAG_SEED);
    tag_shard *s = &tv->shards[h >> 60];
    pthread_mutex_lock(&s->mu);
    fa_tag_node *n = shard_find(s, h, tag, len);
    uint64_t v = n ? atomic_load(&n->version) : 0;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* Stamps n with the next change sequence, keeping the largest stamp when
 * two changes race, so the stamp is never older than a finished change. */
static void stamp_change(fa_tag_versions *tv, fa_tag_node *n) {
    uint64_t seq = atomic_fetch_add(&tv->seq, 1) + 1;
    uint64_t old = atomic_load(&n->changed_seq);
    while (old < seq && !atomic_compare_exchange_weak(&n->changed_seq, &old, seq)) {
    }
}

uint64_t fa_tag_versions_bump(fa_tag_versions *tv, const char *tag) {
    fa_tag_node *n = fa_tag_versions_node(tv, tag);
    if (!n) return 0;
    uint64_t v = atomic_fetch_add(&n->version, 1) + 1;
    stamp_change(tv, n);
    return v;
}

int fa_tag_versions_observe(fa_tag_versions *tv, const char *tag, uint64_t version) {
    fa_tag_node *n = fa_tag_versions_node(tv, tag);
    if (!n) return fa_err_code(); /* set by fa_tag_versions_node */
    uint64_t old = atomic_load(&n->version);
    while (old < version) {
        if (atomic_compare_exchange_weak(&n->version, &old, version)) {
            stamp_change(tv, n);
            return 1;
        }
    }
    return 0;
}
