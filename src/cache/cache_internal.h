/*
 * cache_internal.h - what the files of src/cache share and nothing else
 * sees: the key hash, the entry's private layout (node), tag nodes, the
 * TinyLFU frequency sketch and the compressor pool. Tests include it to
 * check the parts one at a time.
 */
#ifndef FA_CACHE_INTERNAL_H
#define FA_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"

/* ---------------------------------------------------------------- hash */

/* A 64-bit finaliser (the splitmix64 constants): every input bit flips
 * about half the output bits. */
static inline uint64_t fa_cache_mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* Hash of p[0..n) under seed: 8 bytes per step, each word mixed before it
 * is folded in, so keys that differ anywhere spread over all 64 bits (the
 * table takes low bits, the shard high bits, the sketch all of them). */
uint64_t fa_cache_hash(const void *p, size_t n, uint64_t seed);

/* ---------------------------------------------------------------- tags */

typedef struct fa_tag_node {
    struct fa_tag_node *next; /* hash chain */
    _Atomic uint64_t version;
    _Atomic uint64_t changed_seq; /* the map's sequence at the last change, 0 = never */
    uint64_t hash;
    size_t len;
    char name[];
} fa_tag_node;

/* The map's change counter: read before a fill starts. */
uint64_t fa_tag_versions_seq(fa_tag_versions *tv);
/* The node of tag, created at version 0 when new; NULL with FA_ELIMIT
 * (empty or too long) or FA_ENOMEM. The node lives as long as the map. */
fa_tag_node *fa_tag_versions_node(fa_tag_versions *tv, const char *tag);

/* ---------------------------------------------------------------- entries */

enum { FA_SEG_NONE, FA_SEG_WINDOW, FA_SEG_PROBATION, FA_SEG_PROTECTED };

/* An entry and, in the same allocation, the L1's bookkeeping for it. pub
 * comes first, so a const fa_cache_entry * handed out converts back. */
typedef struct fa_cache_node {
    fa_cache_entry pub;
    atomic_size_t refs;
    uint64_t hash;
    size_t key_len;
    uint64_t fill_seq;           /* tag sequence when the fill began */
    fa_tag_node **tag_nodes;     /* pub.ntags of them */
    struct fa_cache_node *chain; /* hash bucket */
    struct fa_cache_node *prev, *next; /* LRU list: prev towards the head (most recent) */
    int segment;
} fa_cache_node;

static inline fa_cache_node *fa_cache_node_of(const fa_cache_entry *e) {
    return (fa_cache_node *)(uintptr_t)e; /* pub is the first member */
}

/* Builds a node holding one reference: copies key, the fill's content type,
 * tags and body, and the variants in coded[] (len 0 = absent), computes
 * the ETags and resolves the tags in tv. Returns NULL with the error set. */
fa_cache_node *fa_cache_node_new(const char *key, size_t key_len, uint64_t hash, const fa_cache_fill *fill,
                                 const fa_buf coded[FA_CODING_COUNT], fa_tag_versions *tv);
/* 1 when no tag of n changed after its fill began. */
int fa_cache_node_tags_current(const fa_cache_node *n);

/* ---------------------------------------------------------------- TinyLFU */

/* Count-min sketch of 4-bit counters (16 to a word), 4 rows, with
 * conservative update, aged by halving every counter after `sample`
 * records, fronted by a doorkeeper Bloom filter that takes a key's first
 * occurrence in each sample period, so one-hit keys never reach the
 * counters. Estimates are 0..16 (15 + the doorkeeper bit). Not
 * thread-safe: each L1 shard owns one under its lock. */
typedef struct fa_tinylfu {
    uint64_t *counters;    /* FA_TINYLFU_ROWS rows of width/16 words */
    uint64_t *door;        /* door_bits bits */
    size_t width, door_bits; /* powers of two */
    uint64_t additions, sample;
    uint64_t resets;       /* times aged */
} fa_tinylfu;

#define FA_TINYLFU_ROWS 4

/* Sized for about expected_entries distinct live keys. Returns 0 or FA_ENOMEM. */
int fa_tinylfu_init(fa_tinylfu *s, size_t expected_entries);
void fa_tinylfu_destroy(fa_tinylfu *s);
/* Records one access of the key with this hash. */
void fa_tinylfu_record(fa_tinylfu *s, uint64_t hash);
/* Estimated accesses of the key in the current period (an over-estimate
 * only through collisions). */
unsigned fa_tinylfu_estimate(const fa_tinylfu *s, uint64_t hash);

/* ---------------------------------------------------------------- compression */

/* Compresses body into coded[gzip/br/zstd] for each coding in the mask,
 * keeping a variant only when it is smaller than the body (coded[c].len =
 * 0 otherwise); bodies under min_bytes get none. Returns 0 or < 0. */
int fa_cache_encode_variants(fa_cache_compressor *c, const void *body, size_t n, unsigned codings,
                             size_t min_bytes, fa_buf coded[FA_CODING_COUNT]);

/* A stack of idle compressors: a fill borrows one and gives it back, so
 * there are never more than the fills running at once, and no global or
 * thread-local state. */
typedef struct fa_cache_compressor_pool {
    pthread_mutex_t mu;
    fa_cache_compressor **idle;
    size_t nidle, cap;
    int gzip_level, brotli_quality, zstd_level;
} fa_cache_compressor_pool;

int fa_cache_compressor_pool_init(fa_cache_compressor_pool *p, int gzip_level, int brotli_quality,
                                  int zstd_level);
void fa_cache_compressor_pool_destroy(fa_cache_compressor_pool *p);
/* An idle compressor, or a new one; NULL with the error set. */
fa_cache_compressor *fa_cache_compressor_pool_get(fa_cache_compressor_pool *p);
/* Returns c to the pool (frees it when the pool cannot grow). */
void fa_cache_compressor_pool_put(fa_cache_compressor_pool *p, fa_cache_compressor *c);

#endif
