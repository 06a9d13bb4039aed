/*
 * cache.h - the face of src/cache: the in-process L1 response cache.
 *
 * What it holds: finished HTTP response bodies, keyed by a string the
 * caller builds (method, path and normalised query). An entry is immutable
 * and reference-counted; it carries the identity body and, made once at
 * fill time, its gzip, brotli and zstd variants (each only when smaller),
 * every variant with its own strong ETag, plus a content type, an expiry
 * and the tags (match, team, player, competition) its data came from.
 *
 * Why this shape (issue 4):
 *   - Compress once, at fill. Per response, gzip-1 costs 10.6 us even with
 *     a reused stream, brotli q5 27 us, zstd-1 6 us on 2 KB bodies; paid on
 *     every hit that is most of a hit's cost, paid at fill it is nothing.
 *   - Sharded (one mutex per shard) so two cores rarely meet on a lock.
 *   - Bounded in bytes, not entries: bodies range from 200 B to 2 MB.
 *   - W-TinyLFU admission: a crawler walking every match once must not
 *     push the hot set (today's matches) out, which a plain LRU lets it do.
 *   - Request coalescing: when a hot key expires, the first miss computes
 *     it and the others wait for that result instead of all hitting the
 *     store at once (a stampede).
 *   - Tag versions: an entry is valid only while none of its tags changed
 *     after its fill began, so one bump of "match:3869685" makes every
 *     dependent entry stale at once, in O(1), without finding them.
 *
 * Layering. A later tiered cache (L1 in front of Redis) wraps this API: its
 * fill_fn for fa_l1_get_or_fill asks L2 first and hands back L2's already
 * compressed variants (fa_cache_fill.precoded), and it keeps the tag
 * versions in step with L2's, which are the source of truth across
 * processes, through fa_tag_versions_observe (a tag version map can be
 * shared by several caches: fa_l1_config.tags).
 *
 * Threads: every function may be called from any thread, except _free
 * (no other call may be in progress) and fa_cache_fill_* (the filling thread).
 */
#ifndef FA_CACHE_H
#define FA_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---------------------------------------------------------------- codings */

/* Content codings, in index order. FA_CODING_NONE: nothing acceptable. */
typedef enum fa_cache_coding {
    FA_CODING_NONE = -1,
    FA_CODING_IDENTITY = 0,
    FA_CODING_GZIP,
    FA_CODING_BR,
    FA_CODING_ZSTD,
    FA_CODING_COUNT
} fa_cache_coding;

#define FA_CODING_BIT(c) (1u << (unsigned)(c))
#define FA_CODINGS_COMPRESSED \
    (FA_CODING_BIT(FA_CODING_GZIP) | FA_CODING_BIT(FA_CODING_BR) | FA_CODING_BIT(FA_CODING_ZSTD))

/* The Content-Encoding token: "identity", "gzip", "br", "zstd"; NULL for
 * FA_CODING_NONE or an out-of-range value. Identity is sent without the
 * header. */
const char *fa_cache_coding_name(fa_cache_coding c);

/* Picks the coding to send from a set of available ones (a mask of
 * FA_CODING_BIT) given an Accept-Encoding field value (header[0..len), not
 * necessarily NUL-terminated; NULL means the header is absent), following
 * RFC 9110 section 12.5.3:
 *   - codings are case-insensitive; "x-gzip" counts as "gzip"; "*" stands
 *     for every coding not listed; q is 0..1 with up to 3 decimals, and a
 *     coding with q=0 is not acceptable; an element whose q is malformed
 *     is ignored;
 *   - the highest q wins; equal q prefer br > zstd > gzip > identity;
 *   - identity is acceptable unless "identity;q=0", or "*;q=0" without an
 *     identity element, excludes it; when it is not listed, it is only the
 *     fallback, below every listed coding with q > 0;
 *   - an absent header gives identity, an empty one identity only.
 * Returns the coding, or FA_CODING_NONE when no available coding is
 * acceptable (the handler answers 406 or sends identity anyway). */
fa_cache_coding fa_cache_negotiate(const char *header, size_t len, unsigned available);

/* ---------------------------------------------------------------- compressor */

/* One reusable set of compression states: a zlib deflate stream reset
 * between bodies (a fresh deflateInit2 costs 6x the compression itself),
 * a ZSTD_CCtx, and scratch buffers. Brotli has no reset, so each body uses
 * BrotliEncoderCompress with a window sized to the body. Not thread-safe:
 * one per thread, or borrowed from a pool (the L1 keeps one).
 * Levels: gzip 1..9, brotli quality 0..11, zstd 1..ZSTD_maxCLevel() (22). */
typedef struct fa_cache_compressor fa_cache_compressor;

/* Returns NULL with FA_EINVAL (a level out of range) or FA_ENOMEM. */
fa_cache_compressor *fa_cache_compressor_new(int gzip_level, int brotli_quality, int zstd_level);
void fa_cache_compressor_free(fa_cache_compressor *c);
/* Appends in[0..n) compressed with coding (gzip, br or zstd: a complete
 * gzip member / brotli stream / zstd frame) to out. Returns 0, FA_EINVAL
 * for identity or an unknown coding, FA_ENOMEM or FA_EIO (library failure). */
int fa_cache_compress(fa_cache_compressor *c, fa_cache_coding coding, const void *in, size_t n, fa_buf *out);

/* ---------------------------------------------------------------- tag versions */

/* Tags name what a cached body was computed from, "kind:id" by convention
 * ("match:3869685", "team:217", "player:5503", "competition:43"), at most
 * FA_CACHE_TAG_MAX - 1 bytes. Every tag has a version, 0 until first
 * bumped. A change (bump or observe) also stamps the tag with a sequence
 * number from a counter shared by the map; an entry records that counter
 * when its fill starts and is stale once any of its tags carries a later
 * stamp. So a bump that lands while a fill is computing makes that fill's
 * result stale too (it is handed to its callers but not kept).
 *
 * A tag, once seen, stays in the map until the map is freed (entries point
 * at it, so a validity check is one atomic load per tag, no lookup): memory
 * grows with the number of distinct tags ever used, a few tens of bytes
 * each. Sharded, thread-safe. */
typedef struct fa_tag_versions fa_tag_versions;

fa_tag_versions *fa_tag_versions_new(void);
/* Only once no cache using it is left and no entry from such a cache is
 * still held. */
void fa_tag_versions_free(fa_tag_versions *tv);
/* The tag's version, 0 when never bumped or unknown. */
uint64_t fa_tag_versions_get(fa_tag_versions *tv, const char *tag);
/* Increments the tag's version and returns the new one; every entry that
 * depends on the tag is stale from now on. 0 with FA_ELIMIT (tag too long
 * or empty) or FA_ENOMEM. */
uint64_t fa_tag_versions_bump(fa_tag_versions *tv, const char *tag);
/* Raises the tag's version to `version` when it is lower (a version learnt
 * from the source of truth, e.g. L2's), which invalidates like a bump;
 * never lowers it. Returns 1 when raised, 0 when already at or above it,
 * < 0 on error (as bump). */
int fa_tag_versions_observe(fa_tag_versions *tv, const char *tag, uint64_t version);

/* ---------------------------------------------------------------- entries */

#define FA_CACHE_ETAG_MAX 32
#define FA_CACHE_MAX_TAGS 8
#define FA_CACHE_TAG_MAX 64
#define FA_CACHE_CONTENT_TYPE_MAX 96
#define FA_CACHE_HEADERS_MAX 512

typedef struct fa_cache_variant {
    const unsigned char *data; /* NULL when absent (not smaller than identity, or not made) */
    size_t len;
    /* Strong ETag, quotes included: a 64-bit hash of this variant's bytes
     * in hex, and for a compressed one the coding, "\"9c0f...e1-br\"" */
    char etag[FA_CACHE_ETAG_MAX];
} fa_cache_variant;

/* A cached response. Immutable and read-only for callers; valid until the
 * caller's reference is released, even after the cache evicted it. */
typedef struct fa_cache_entry {
    const char *key;
    const char *content_type;
    const char *headers;                 /* the fill's opaque header text ("" when none) */
    double filled_at, expires_at;       /* on the cache's clock, seconds */
    size_t ntags;
    const char *const *tags;
    fa_cache_variant variant[FA_CODING_COUNT]; /* [FA_CODING_IDENTITY] is always present */
    size_t charge;                       /* bytes counted against the budget: the whole allocation */
} fa_cache_entry;

/* Takes another reference / drops one (the last frees the entry). */
void fa_cache_entry_retain(const fa_cache_entry *e);
void fa_cache_entry_release(const fa_cache_entry *e);
/* fa_cache_entry_release with the signature of fa_http_response.release, so
 * a handler can send a variant's bytes as body_ref without copying. */
void fa_cache_entry_release_cb(void *entry);
/* The coding to send for this entry (fa_cache_negotiate over the variants
 * the entry has); never NONE for a NULL header. */
fa_cache_coding fa_cache_pick_variant(const fa_cache_entry *e, const char *accept_encoding, size_t len);

/* What a fill function produces. The cache initialises it (empty body,
 * content type "application/json", ttl 0, no tags) and frees it after. */
typedef struct fa_cache_fill {
    fa_buf body;                                  /* the identity body: append to it */
    char content_type[FA_CACHE_CONTENT_TYPE_MAX];
    /* Response headers to replay on a hit, as the caller wants them kept
     * (the HTTP layer stores "Name: value\n" lines); opaque to the cache. */
    char headers[FA_CACHE_HEADERS_MAX];
    /* Seconds to keep: > 0 as given (capped by max_ttl_s), 0 the default
     * TTL, < 0 do not cache (still handed to every waiting caller). Chosen
     * per response: a finished match keeps for hours, a live one seconds. */
    double ttl_s;
    size_t ntags;
    char tags[FA_CACHE_MAX_TAGS][FA_CACHE_TAG_MAX];
    /* A tiered fill that got the entry from L2 sets precoded = 1 and puts
     * the compressed variants in coded[] (empty = absent); the cache then
     * takes them as they are instead of compressing. */
    int precoded;
    fa_buf coded[FA_CODING_COUNT];                /* [FA_CODING_IDENTITY] unused */
} fa_cache_fill;

/* Adds a tag (printf format). Returns 0, or FA_ELIMIT when the entry has
 * FA_CACHE_MAX_TAGS tags already or the tag is empty or too long. */
int fa_cache_fill_tag(fa_cache_fill *f, const char *fmt, ...) FA_PRINTF(2, 3);

/* Computes the response for key into *fill. Returns 0, or < 0 with the
 * error set (fa_err_set): the error reaches every waiting caller and
 * nothing is cached. Runs without any cache lock held; it must not ask the
 * same cache for the same key (it would wait for itself until the fill
 * timeout). */
typedef int (*fa_cache_fill_fn)(void *ud, const char *key, fa_cache_fill *fill);

/* ---------------------------------------------------------------- L1 */

typedef enum fa_l1_admission {
    FA_L1_ADMIT_TINYLFU = 0, /* W-TinyLFU: window LRU, frequency-gated segmented LRU */
    FA_L1_ADMIT_ALL = 1      /* plain LRU: every fill is admitted (the benchmark's anchor) */
} fa_l1_admission;

typedef struct fa_l1_config {
    size_t max_bytes;         /* budget for all entries' charges: 64 MiB */
    unsigned shards;          /* power of two in 1..256: 16 */
    double default_ttl_s;     /* for fills with ttl_s == 0: 60 */
    double max_ttl_s;         /* cap on any TTL, 0 = none: 0 */
    fa_l1_admission admission;
    double window_fraction;   /* share of each shard for the admission window: 0.01 */
    size_t avg_entry_bytes;   /* sizes the frequency sketch (entries = budget / this): 4096 */
    unsigned codings;         /* compressed variants to make (FA_CODING_BIT mask): all three */
    /* Levels (bench_cache, 2 KB of compact StatsBomb JSON, this project's
     * 2-core VM, CPU time): gzip-6 57 us for 32.9 % of the size against
     * gzip-1's 43 us for 34.6 %: gzip is what Go's and Python's HTTP
     * clients ask for, and paid once per fill the smaller body wins.
     * brotli q5 73 us for 30.8 % (beats gzip-9; q11 takes 3.4 ms for
     * 27.9 %). zstd-3 15 us for 34.0 %. */
    int gzip_level;           /* 6 */
    int brotli_quality;       /* 5 */
    int zstd_level;           /* 3 */
    size_t min_compress_bytes; /* bodies smaller than this get no variants: 256 */
    double fill_timeout_s;    /* how long a coalesced caller waits for the filler: 10 */
    uint64_t hash_seed;       /* 0: random per cache (keys come from clients); tests fix it */
    /* Clock in seconds, monotonic (NULL: fa_clock_now). Tests inject one. */
    double (*clock)(void *ud);
    void *clock_ud;
    /* Tag versions to use, borrowed (must outlive the cache and its
     * entries); NULL: the cache makes its own. */
    fa_tag_versions *tags;
} fa_l1_config;

void fa_l1_config_default(fa_l1_config *c);

typedef struct fa_l1 fa_l1;

/* Returns NULL with FA_EINVAL (a bad setting, named) or FA_ENOMEM. */
fa_l1 *fa_l1_new(const fa_l1_config *c);
/* Frees the cache. No call on it may be in progress; entries that callers
 * still hold stay valid until released. */
void fa_l1_free(fa_l1 *l1);

/* Looks key up. A hit is an entry that has not expired and none of whose
 * tags changed after its fill began. Returns 1 with *out (a reference the
 * caller releases), or 0 with *out = NULL on a miss (a stale entry found is
 * dropped). Never waits for a fill in progress. */
int fa_l1_get(fa_l1 *l1, const char *key, const fa_cache_entry **out);

/* Like fa_l1_get, but on a miss the entry is made: the first caller runs
 * fill(ud, key, &fill) without locks, compresses the variants and offers
 * the entry to the cache (admission may turn it away; it is returned all
 * the same); callers for the same key meanwhile wait for that result.
 * Returns 0 with *out (a reference), or < 0 with the error set and *out =
 * NULL: the fill's own error (for every waiter alike), FA_EIO when the wait
 * passed fill_timeout_s, FA_ENOMEM. */
int fa_l1_get_or_fill(fa_l1 *l1, const char *key, fa_cache_fill_fn fill, void *ud,
                      const fa_cache_entry **out);

/* fa_l1_get_or_fill for a caller that has just missed with fa_l1_get
 * (and perhaps asked an L2 meanwhile): the lookup is not counted again -
 * not in hits or misses, not in the admission sketch - so one request
 * counts once. Same results. */
int fa_l1_fill(fa_l1 *l1, const char *key, fa_cache_fill_fn fill, void *ud, const fa_cache_entry **out);

/* The keys resident now (only those tagged `tag`, when not NULL), the most
 * frequently requested first by the admission sketch's estimate (ties by
 * key), at most max of them into keys[] as malloc'd copies the caller
 * frees. For cache warming: what to refill after an invalidation, what to
 * fill first at the next start. Takes each shard's lock in turn, O(entries). */
size_t fa_l1_hot_keys(fa_l1 *l1, const char *tag, char **keys, size_t max);

/* Bumps a tag in the cache's tag versions (fa_tag_versions_bump). */
uint64_t fa_l1_bump_tag(fa_l1 *l1, const char *tag);
/* The tag versions the cache uses (its own, or the configured ones). */
fa_tag_versions *fa_l1_tags(fa_l1 *l1);
/* Drops key's entry; returns 1 when there was one, else 0. A fill of the
 * key running meanwhile is handed to its callers but not kept, since it
 * may predate whatever made the caller invalidate. */
int fa_l1_invalidate(fa_l1 *l1, const char *key);
/* Drops every expired or stale entry now (otherwise they go lazily, when
 * looked up or reached by eviction); returns how many. Takes each shard's
 * lock in turn, for O(entries in the shard): for a maintenance timer. */
size_t fa_l1_sweep(fa_l1 *l1);

typedef struct fa_l1_stats {
    uint64_t hits, misses;     /* lookups (get and get_or_fill) */
    uint64_t coalesced;        /* callers that waited for another caller's fill */
    uint64_t fills, fill_errors, fill_timeouts;
    uint64_t evictions;        /* live entries pushed out for room */
    uint64_t rejections;       /* fills the admission policy (or their size) kept out */
    uint64_t expirations;      /* entries dropped because their TTL passed */
    uint64_t invalidations;    /* entries dropped because a tag changed, or by fa_l1_invalidate */
    uint64_t bytes, entries;   /* now resident */
    uint64_t max_bytes;
} fa_l1_stats;

/* Sums the shards' counters (each read under its shard's lock). */
void fa_l1_stats_get(fa_l1 *l1, fa_l1_stats *out);

/* Checks the cache's internal invariants (lists, hash table, byte counts,
 * segment capacities); returns 0 or FA_EINVAL naming the first broken one.
 * For tests. */
int fa_l1_verify(fa_l1 *l1);

#endif
