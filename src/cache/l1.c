/*
 * l1.c - the in-process L1 cache: shards of (hash table + W-TinyLFU
 * segmented LRU + byte accounting), request coalescing, lazy expiry.
 *
 * Shards. A key's hash picks a shard by its high bits; each shard has its
 * own mutex, table, lists, frequency sketch and budget (max_bytes /
 * shards), so operations on different shards never meet. With 16 shards
 * and 2-16 server threads, two requests rarely contend. A shard's lock is
 * held for the table lookup and list moves only: fills, compression and
 * ETag hashing run outside it.
 *
 * Budget. Every entry is one allocation and its charge is that
 * allocation's size; a shard never holds more than its budget, so the
 * cache never holds more than max_bytes of entries (entries that callers
 * still hold after eviction are theirs until released).
 *
 * Admission (W-TinyLFU, Einziger et al. 2017, as in Caffeine). A shard is
 * split into:
 *   - a window LRU (window_fraction of the budget, 1 %) that takes every
 *     new entry, so a burst of new keys is served at once;
 *   - a main segmented LRU: probation (20 % of main) and protected (80 %).
 *     A hit in probation promotes to protected; protected's overflow falls
 *     back to probation's head.
 * An entry leaving the window is a candidate for main. If main has no room,
 * the victims it would need (from probation's tail, then protected's) are
 * weighed first: the candidate enters only if the sketch says it was asked
 * for more often than every live victim, else the candidate goes and main
 * is untouched. Dead victims (expired, stale) always give way. So a scan
 * of one-hit keys passes through the window and is turned away at main,
 * while the hot set stays. FA_L1_ADMIT_ALL makes the whole shard one LRU
 * (the anchor the benchmark compares against).
 *
 * Expiry and staleness are lazy: a lookup that finds a dead entry drops it
 * and misses; eviction drops dead victims first; fa_l1_sweep drops all.
 *
 * Coalescing. A miss in fa_l1_get_or_fill registers a flight for the key
 * in its shard; later callers for that key wait on the flight's condition
 * variable (under the shard's mutex) until the filler publishes the entry
 * or its error, or until fill_timeout_s passes. The flight is reference
 * counted, so the filler and each waiter may leave in any order.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache_internal.h"

#define FLIGHT_MSG_MAX 512
#define MIN_BUCKETS 64

typedef struct lru_list {
    fa_cache_node *head, *tail; /* head: most recently used */
    size_t bytes, count;
} lru_list;

typedef struct flight {
    struct flight *next;
    const char *key; /* the filler's key: valid while the flight is in the shard's list */
    size_t key_len;
    uint64_t hash;
    pthread_cond_t done_cv;
    int done, refs;
    int invalidated; /* fa_l1_invalidate ran during the fill: hand out, do not keep */
    fa_cache_node *result; /* one reference, dropped with the flight */
    int err;
    char msg[FLIGHT_MSG_MAX];
} flight;

typedef struct shard_stats {
    uint64_t hits, misses, coalesced, fills, fill_errors, fill_timeouts;
    uint64_t evictions, rejections, expirations, invalidations;
} shard_stats;

typedef struct shard {
    _Alignas(64) pthread_mutex_t mu; /* each shard starts a cache line: two never share one */
    fa_cache_node **buckets;
    size_t nbuckets, count;
    lru_list window, probation, protected;
    size_t cap, window_cap, main_cap, protected_cap;
    fa_tinylfu sketch;
    flight *flights;
    shard_stats st;
} shard;

struct fa_l1 {
    fa_l1_config cfg;
    unsigned shard_shift; /* hash >> shard_shift picks the shard */
    uint64_t seed;
    fa_tag_versions *tags;
    int own_tags;
    pthread_condattr_t cv_attr; /* CLOCK_MONOTONIC for the fill timeout */
    fa_cache_compressor_pool pool;
    int attr_ready, pool_ready; /* what a failed fa_l1_new must undo */
    shard *shards;
};

void fa_l1_config_default(fa_l1_config *c) {
    memset(c, 0, sizeof *c);
    c->max_bytes = (size_t)64 << 20;
    c->shards = 16;
    c->default_ttl_s = 60;
    c->max_ttl_s = 0;
    c->admission = FA_L1_ADMIT_TINYLFU;
    c->window_fraction = 0.01;
    c->avg_entry_bytes = 4096;
    c->codings = FA_CODINGS_COMPRESSED;
    c->gzip_level = 6;
    c->brotli_quality = 5;
    c->zstd_level = 3;
    c->min_compress_bytes = 256;
    c->fill_timeout_s = 10;
}

static double l1_now(const fa_l1 *l1) {
    return l1->cfg.clock ? l1->cfg.clock(l1->cfg.clock_ud) : fa_clock_now();
}

static shard *shard_of(const fa_l1 *l1, uint64_t h) {
    return &l1->shards[l1->shard_shift >= 64 ? 0 : h >> l1->shard_shift];
}

static unsigned nshards(const fa_l1 *l1) { return l1->cfg.shards; }

static int lru_mode(const fa_l1 *l1) { return l1->cfg.admission == FA_L1_ADMIT_ALL; }

/* ---------------------------------------------------------------- lists */

static lru_list *list_of(shard *s, int segment) {
    switch (segment) {
    case FA_SEG_WINDOW: return &s->window;
    case FA_SEG_PROBATION: return &s->probation;
    default: return &s->protected;
    }
}

static void list_push_head(shard *s, int segment, fa_cache_node *n) {
    lru_list *l = list_of(s, segment);
    n->segment = segment;
    n->prev = NULL;
    n->next = l->head;
    if (l->head) l->head->prev = n;
    else l->tail = n;
    l->head = n;
    l->bytes += n->pub.charge;
    l->count++;
}

static void list_unlink(shard *s, fa_cache_node *n) {
    lru_list *l = list_of(s, n->segment);
    if (n->prev) n->prev->next = n->next;
    else l->head = n->next;
    if (n->next) n->next->prev = n->prev;
    else l->tail = n->prev;
    l->bytes -= n->pub.charge;
    l->count--;
    n->prev = n->next = NULL;
    n->segment = FA_SEG_NONE;
}

static void list_move(shard *s, fa_cache_node *n, int segment) {
    if (n->segment == segment && !n->prev) return; /* already the head */
    list_unlink(s, n);
    list_push_head(s, segment, n);
}

static size_t shard_bytes(const shard *s) {
    return s->window.bytes + s->probation.bytes + s->protected.bytes;
}

static size_t main_bytes(const shard *s) { return s->probation.bytes + s->protected.bytes; }

/* ---------------------------------------------------------------- table */

static size_t bucket_of(const shard *s, uint64_t h) { return (size_t)h & (s->nbuckets - 1); }

static fa_cache_node *table_find(const shard *s, uint64_t h, const char *key, size_t len) {
    for (fa_cache_node *n = s->buckets[bucket_of(s, h)]; n; n = n->chain)
        if (n->hash == h && n->key_len == len && !memcmp(n->pub.key, key, len)) return n;
    return NULL;
}

/* Doubles the buckets when the table is fuller than one entry per bucket;
 * without memory it keeps the old array (longer chains, still correct). */
static void table_grow(shard *s) {
    size_t nb = s->nbuckets * 2;
    fa_cache_node **b = calloc(nb, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        fa_cache_node *n = s->buckets[i];
        while (n) {
            fa_cache_node *next = n->chain;
            n->chain = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

static void table_insert(shard *s, fa_cache_node *n) {
    size_t b = bucket_of(s, n->hash);
    n->chain = s->buckets[b];
    s->buckets[b] = n;
    if (++s->count > s->nbuckets) table_grow(s);
}

static void table_remove(shard *s, fa_cache_node *n) {
    fa_cache_node **p = &s->buckets[bucket_of(s, n->hash)];
    while (*p != n) p = &(*p)->chain;
    *p = n->chain;
    n->chain = NULL;
    s->count--;
}

/* ---------------------------------------------------------------- residency */

static int node_fresh(const fa_cache_node *n, double now) {
    return now < n->pub.expires_at && fa_cache_node_tags_current(n);
}

/* Removes a resident node from table and list and drops the cache's reference. */
static void drop_node(shard *s, fa_cache_node *n) {
    if (n->segment != FA_SEG_NONE) list_unlink(s, n);
    table_remove(s, n);
    fa_cache_entry_release(&n->pub);
}

/* Drops n, counting why: expired, stale, or (alive) evicted for room. */
static void drop_counted(shard *s, fa_cache_node *n, double now) {
    if (now >= n->pub.expires_at) s->st.expirations++;
    else if (!fa_cache_node_tags_current(n)) s->st.invalidations++;
    else s->st.evictions++;
    drop_node(s, n);
}

/* A hit: window and protected entries move to their head; a probation
 * entry is promoted to protected, whose overflow is demoted to probation. */
static void on_hit(const fa_l1 *l1, shard *s, fa_cache_node *n) {
    if (lru_mode(l1) || n->segment != FA_SEG_PROBATION || n->pub.charge > s->protected_cap) {
        list_move(s, n, n->segment); /* (an entry bigger than protected stays in probation) */
        return;
    }
    list_move(s, n, FA_SEG_PROTECTED);
    while (s->protected.bytes > s->protected_cap && s->protected.tail != n)
        list_move(s, s->protected.tail, FA_SEG_PROBATION);
}

/* Main's eviction order: probation from its tail, then protected. */
static fa_cache_node *first_victim(const shard *s) {
    return s->probation.tail ? s->probation.tail : s->protected.tail;
}

static fa_cache_node *next_victim(const shard *s, const fa_cache_node *v) {
    if (v->prev) return v->prev;
    return v->segment == FA_SEG_PROBATION ? s->protected.tail : NULL;
}

/* 1 when making `need` bytes of room in main costs only victims that are
 * dead or were asked for less often than the candidate. */
static int candidate_wins(shard *s, const fa_cache_node *cand, size_t need, double now) {
    unsigned cand_freq = fa_tinylfu_estimate(&s->sketch, cand->hash);
    size_t freed = 0;
    for (const fa_cache_node *v = first_victim(s); freed < need; v = next_victim(s, v)) {
        if (!v) return 0;
        if (node_fresh(v, now) && fa_tinylfu_estimate(&s->sketch, v->hash) >= cand_freq) return 0;
        freed += v->pub.charge;
    }
    return 1;
}

/* A candidate leaving the window enters probation if it fits or wins
 * against the victims; else it is dropped (a rejection). */
static void admit(shard *s, fa_cache_node *cand, double now) {
    size_t after = main_bytes(s) + cand->pub.charge;
    size_t need = after > s->main_cap ? after - s->main_cap : 0;
    if (need && !candidate_wins(s, cand, need, now)) {
        s->st.rejections++;
        drop_node(s, cand);
        return;
    }
    while (main_bytes(s) + cand->pub.charge > s->main_cap) drop_counted(s, first_victim(s), now);
    list_push_head(s, FA_SEG_PROBATION, cand);
}

/* Takes a new entry into the shard (the cache's own reference), then
 * moves the window's overflow on: to admission, or out in LRU mode. */
static void shard_insert(const fa_l1 *l1, shard *s, fa_cache_node *n, double now) {
    fa_cache_node *old = table_find(s, n->hash, n->pub.key, n->key_len);
    if (old) drop_node(s, old);
    size_t limit = lru_mode(l1) ? s->cap : s->main_cap;
    if (n->pub.charge > limit) {
        s->st.rejections++; /* could never fit */
        return;
    }
    fa_cache_entry_retain(&n->pub);
    table_insert(s, n);
    list_push_head(s, FA_SEG_WINDOW, n);
    while (s->window.bytes > s->window_cap) {
        fa_cache_node *cand = s->window.tail;
        if (lru_mode(l1)) {
            drop_counted(s, cand, now);
            continue;
        }
        list_unlink(s, cand);
        admit(s, cand, now);
    }
}

/* The lookup shared by get and get_or_fill, under the shard's lock: counts
 * the access (unless the caller counted it already), drops a dead entry,
 * returns a live one with a reference. */
static fa_cache_node *shard_lookup(const fa_l1 *l1, shard *s, uint64_t h, const char *key, size_t len,
                                   double now, int count) {
    if (count && !lru_mode(l1)) fa_tinylfu_record(&s->sketch, h);
    fa_cache_node *n = table_find(s, h, key, len);
    if (n && !node_fresh(n, now)) {
        drop_counted(s, n, now);
        n = NULL;
    }
    if (!n) {
        if (count) s->st.misses++;
        return NULL;
    }
    if (count) s->st.hits++;
    on_hit(l1, s, n);
    fa_cache_entry_retain(&n->pub);
    return n;
}

/* ---------------------------------------------------------------- new, free */

static int check_config(const fa_l1_config *c) {
    if (c->shards == 0 || c->shards > 256 || (c->shards & (c->shards - 1)))
        return fa_err_set(FA_EINVAL, "cache: shards %u: expected a power of two in 1..256", c->shards);
    if (c->max_bytes / c->shards == 0)
        return fa_err_set(FA_EINVAL, "cache: max_bytes %zu: expected at least one byte per shard",
                          c->max_bytes);
    if (!(c->default_ttl_s > 0) || !isfinite(c->default_ttl_s))
        return fa_err_set(FA_EINVAL, "cache: default_ttl_s %g: expected > 0", c->default_ttl_s);
    if (!(c->max_ttl_s >= 0))
        return fa_err_set(FA_EINVAL, "cache: max_ttl_s %g: expected >= 0 (0: no cap)", c->max_ttl_s);
    if (c->admission != FA_L1_ADMIT_TINYLFU && c->admission != FA_L1_ADMIT_ALL)
        return fa_err_set(FA_EINVAL, "cache: admission %d: expected TINYLFU or ALL", (int)c->admission);
    if (!(c->window_fraction >= 0 && c->window_fraction < 1))
        return fa_err_set(FA_EINVAL, "cache: window_fraction %g: expected 0 <= f < 1", c->window_fraction);
    if (c->avg_entry_bytes == 0) return fa_err_set(FA_EINVAL, "cache: avg_entry_bytes: expected > 0");
    if (c->codings & ~(unsigned)FA_CODINGS_COMPRESSED)
        return fa_err_set(FA_EINVAL, "cache: codings 0x%x: expected gzip, br and zstd bits only", c->codings);
    if (!(c->fill_timeout_s > 0 && c->fill_timeout_s <= 3600))
        return fa_err_set(FA_EINVAL, "cache: fill_timeout_s %g: expected 0 < t <= 3600", c->fill_timeout_s);
    return 0;
}

static int shard_init(const fa_l1 *l1, shard *s) {
    const fa_l1_config *c = &l1->cfg;
    s->cap = c->max_bytes / c->shards;
    s->window_cap = lru_mode(l1) ? s->cap : (size_t)((double)s->cap * c->window_fraction);
    s->main_cap = s->cap - s->window_cap;
    s->protected_cap = s->main_cap / 10 * 8;
    s->nbuckets = MIN_BUCKETS;
    s->buckets = fa_calloc(s->nbuckets, sizeof *s->buckets);
    if (!s->buckets) return FA_ENOMEM;
    if (!lru_mode(l1) && fa_tinylfu_init(&s->sketch, s->cap / c->avg_entry_bytes)) return FA_ENOMEM;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return fa_err_set(FA_ENOMEM, "cache: pthread_mutex_init failed");
    return 0;
}

static void shard_destroy(shard *s) {
    if (!s->buckets) return;
    for (size_t b = 0; b < s->nbuckets; b++) {
        fa_cache_node *n = s->buckets[b];
        while (n) {
            fa_cache_node *next = n->chain;
            fa_cache_entry_release(&n->pub);
            n = next;
        }
    }
    free(s->buckets);
    fa_tinylfu_destroy(&s->sketch);
    pthread_mutex_destroy(&s->mu);
}

/* A random seed for the key hash, so clients cannot aim keys at one bucket. */
static uint64_t random_seed(const void *salt) {
    uint64_t seed = 0;
    if (getentropy(&seed, sizeof seed) != 0 || seed == 0)
        seed = fa_cache_mix64((uint64_t)(uintptr_t)salt ^ (uint64_t)(fa_clock_now() * 1e9));
    return seed | 1;
}

static int l1_init(fa_l1 *l1) {
    const fa_l1_config *c = &l1->cfg;
    unsigned bits = 0;
    while ((1u << bits) < c->shards) bits++;
    l1->shard_shift = bits ? 64 - bits : 64;
    l1->seed = c->hash_seed ? c->hash_seed : random_seed(l1);
    l1->own_tags = !c->tags;
    l1->tags = c->tags ? c->tags : fa_tag_versions_new();
    if (!l1->tags) return FA_ENOMEM;
    if (pthread_condattr_init(&l1->cv_attr))
        return fa_err_set(FA_ENOMEM, "cache: pthread_condattr_init failed");
    l1->attr_ready = 1;
    if (pthread_condattr_setclock(&l1->cv_attr, CLOCK_MONOTONIC))
        return fa_err_set(FA_EIO, "cache: pthread_condattr_setclock(CLOCK_MONOTONIC) failed");
    if (fa_cache_compressor_pool_init(&l1->pool, c->gzip_level, c->brotli_quality, c->zstd_level))
        return FA_ENOMEM;
    l1->pool_ready = 1;
    fa_cache_compressor *probe = fa_cache_compressor_pool_get(&l1->pool); /* checks the levels */
    if (!probe) return fa_err_code();
    fa_cache_compressor_pool_put(&l1->pool, probe);
    l1->shards = aligned_alloc(_Alignof(shard), c->shards * sizeof(shard));
    if (!l1->shards) return fa_err_set(FA_ENOMEM, "cache: out of memory for %u shards", c->shards);
    memset(l1->shards, 0, c->shards * sizeof(shard));
    for (unsigned i = 0; i < c->shards; i++)
        if (shard_init(l1, &l1->shards[i])) return FA_ENOMEM;
    return 0;
}

fa_l1 *fa_l1_new(const fa_l1_config *c) {
    if (check_config(c)) return NULL;
    fa_l1 *l1 = fa_calloc(1, sizeof *l1);
    if (!l1) return NULL;
    l1->cfg = *c;
    if (l1_init(l1)) {
        fa_l1_free(l1); /* keeps the error l1_init set */
        return NULL;
    }
    return l1;
}

void fa_l1_free(fa_l1 *l1) {
    if (!l1) return;
    if (l1->shards)
        for (unsigned i = 0; i < nshards(l1); i++) shard_destroy(&l1->shards[i]);
    free(l1->shards);
    if (l1->pool_ready) fa_cache_compressor_pool_destroy(&l1->pool);
    if (l1->attr_ready) pthread_condattr_destroy(&l1->cv_attr);
    if (l1->own_tags) fa_tag_versions_free(l1->tags);
    free(l1);
}

/* ---------------------------------------------------------------- lookups */

int fa_l1_get(fa_l1 *l1, const char *key, const fa_cache_entry **out) {
    size_t len = strlen(key);
    uint64_t h = fa_cache_hash(key, len, l1->seed);
    shard *s = shard_of(l1, h);
    double now = l1_now(l1);
    pthread_mutex_lock(&s->mu);
    fa_cache_node *n = shard_lookup(l1, s, h, key, len, now, 1);
    pthread_mutex_unlock(&s->mu);
    *out = n ? &n->pub : NULL;
    return n != NULL;
}

/* ---------------------------------------------------------------- coalescing */

static flight *flight_find(const shard *s, uint64_t h, const char *key, size_t len) {
    for (flight *f = s->flights; f; f = f->next)
        if (f->hash == h && f->key_len == len && !memcmp(f->key, key, len)) return f;
    return NULL;
}

static flight *flight_start(fa_l1 *l1, shard *s, uint64_t h, const char *key, size_t len) {
    flight *f = fa_calloc(1, sizeof *f);
    if (!f) return NULL;
    if (pthread_cond_init(&f->done_cv, &l1->cv_attr) != 0) {
        free(f);
        return fa_err_set(FA_ENOMEM, "cache: pthread_cond_init failed"), NULL;
    }
    f->key = key;
    f->key_len = len;
    f->hash = h;
    f->refs = 1; /* the filler's */
    f->next = s->flights;
    s->flights = f;
    return f;
}

static void flight_unlink(shard *s, flight *f) {
    flight **p = &s->flights;
    while (*p != f) p = &(*p)->next;
    *p = f->next;
}

/* Drops one party's hold on the flight; the last frees it (under the lock). */
static void flight_unref(flight *f) {
    if (--f->refs) return;
    fa_cache_entry_release(f->result ? &f->result->pub : NULL);
    pthread_cond_destroy(&f->done_cv);
    free(f);
}

static struct timespec deadline_after(double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double whole = floor(seconds);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((seconds - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Waits (the shard's lock held, released on return) for another caller's
 * fill of the same key, then shares its entry or its error. */
static int flight_wait(const fa_l1 *l1, shard *s, flight *f, const fa_cache_entry **out) {
    f->refs++;
    s->st.coalesced++;
    struct timespec deadline = deadline_after(l1->cfg.fill_timeout_s);
    while (!f->done)
        if (pthread_cond_timedwait(&f->done_cv, &s->mu, &deadline) == ETIMEDOUT) break;
    int rc = 0;
    if (f->done && f->result) {
        fa_cache_entry_retain(&f->result->pub);
        *out = &f->result->pub;
    } else if (f->done) {
        rc = fa_err_set(f->err, "%s", f->msg);
    } else {
        s->st.fill_timeouts++;
        rc = fa_err_set(FA_EIO, "cache: key '%.200s': another request's fill still running after %g s",
                        f->key, l1->cfg.fill_timeout_s);
    }
    flight_unref(f);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void fill_init(fa_cache_fill *f) {
    memset(f, 0, sizeof *f);
    strcpy(f->content_type, "application/json");
}

static void fill_free(fa_cache_fill *f) {
    fa_buf_free(&f->body);
    for (int c = 0; c < FA_CODING_COUNT; c++) fa_buf_free(&f->coded[c]);
}

/* Seconds to keep a fill's result: its own TTL, the default for 0, capped;
 * negative (do not cache) stays negative. */
static double fill_ttl(const fa_l1 *l1, double ttl) {
    if (ttl == 0 || isnan(ttl)) ttl = l1->cfg.default_ttl_s;
    if (ttl > 0 && l1->cfg.max_ttl_s > 0 && ttl > l1->cfg.max_ttl_s) ttl = l1->cfg.max_ttl_s;
    return ttl;
}

/* A fill function may have written the arrays directly: bound them. */
static void bound_fill(fa_cache_fill *fill) {
    fill->content_type[FA_CACHE_CONTENT_TYPE_MAX - 1] = '\0';
    fill->headers[FA_CACHE_HEADERS_MAX - 1] = '\0';
    if (fill->ntags > FA_CACHE_MAX_TAGS) fill->ntags = FA_CACHE_MAX_TAGS;
    for (size_t i = 0; i < fill->ntags; i++) fill->tags[i][FA_CACHE_TAG_MAX - 1] = '\0';
}

/* Turns a finished fill into a node: compresses (unless precoded), lays
 * it out, stamps the fill sequence and expiry. NULL with the error set. */
static fa_cache_node *build_node(fa_l1 *l1, const char *key, size_t len, uint64_t h, fa_cache_fill *fill,
                                 uint64_t seq0) {
    bound_fill(fill);
    if (!fill->precoded && l1->cfg.codings) {
        fa_cache_compressor *c = fa_cache_compressor_pool_get(&l1->pool);
        if (!c) return NULL;
        int rc = fa_cache_encode_variants(c, fill->body.data, fill->body.len, l1->cfg.codings,
                                          l1->cfg.min_compress_bytes, fill->coded);
        fa_cache_compressor_pool_put(&l1->pool, c);
        if (rc) return NULL;
    }
    fa_cache_node *n = fa_cache_node_new(key, len, h, fill, fill->coded, l1->tags);
    if (!n) return NULL;
    double ttl = fill_ttl(l1, fill->ttl_s);
    n->fill_seq = seq0;
    n->pub.filled_at = l1_now(l1);
    n->pub.expires_at = n->pub.filled_at + (ttl > 0 ? ttl : 0); /* ttl < 0: handed out, never a hit */
    return n;
}

/* Runs the user's fill and builds the node, without locks. */
static fa_cache_node *run_fill(fa_l1 *l1, const char *key, size_t len, uint64_t h, fa_cache_fill_fn fill_fn,
                               void *ud, int *rc) {
    uint64_t seq0 = fa_tag_versions_seq(l1->tags);
    fa_cache_fill fill;
    fill_init(&fill);
    fa_err_clear();
    *rc = fill_fn(ud, key, &fill);
    fa_cache_node *n = NULL;
    if (*rc == 0 && !(n = build_node(l1, key, len, h, &fill, seq0)))
        *rc = fa_err_code() ? fa_err_code() : FA_ENOMEM;
    if (*rc > 0) *rc = fa_err_set(FA_EIO, "cache: fill of '%.200s' returned %d", key, *rc);
    if (*rc < 0 && !fa_err_msg()[0]) fa_err_set(*rc, "cache: fill of '%.200s' failed (%d)", key, *rc);
    fill_free(&fill);
    return n;
}

/* Publishes the fill's outcome to the waiters and keeps the entry when it
 * is still current; the caller holds the shard's lock. */
static void flight_finish(shard *s, flight *f, fa_cache_node *n, int rc, const fa_l1 *l1) {
    flight_unlink(s, f);
    s->st.fills++;
    if (n) {
        double now = l1_now(l1);
        int current = fa_cache_node_tags_current(n) && !f->invalidated;
        if (current && now < n->pub.expires_at) shard_insert(l1, s, n, now);
        else if (!current) s->st.invalidations++; /* a tag moved, or the key was dropped, during the fill */
        fa_cache_entry_retain(&n->pub);
        f->result = n;
    } else {
        s->st.fill_errors++;
        f->err = rc;
        snprintf(f->msg, sizeof f->msg, "%s", fa_err_msg());
    }
    f->done = 1;
    pthread_cond_broadcast(&f->done_cv);
    flight_unref(f);
}

static int get_or_fill(fa_l1 *l1, const char *key, fa_cache_fill_fn fill_fn, void *ud,
                       const fa_cache_entry **out, int count) {
    *out = NULL;
    size_t len = strlen(key);
    uint64_t h = fa_cache_hash(key, len, l1->seed);
    shard *s = shard_of(l1, h);
    pthread_mutex_lock(&s->mu);
    fa_cache_node *n = shard_lookup(l1, s, h, key, len, l1_now(l1), count);
    flight *f = n ? NULL : flight_find(s, h, key, len);
    if (f) return flight_wait(l1, s, f, out);
    if (!n) f = flight_start(l1, s, h, key, len);
    pthread_mutex_unlock(&s->mu);
    if (n) {
        *out = &n->pub;
        return 0;
    }
    if (!f) return fa_err_code();
    int rc;
    n = run_fill(l1, key, len, h, fill_fn, ud, &rc);
    pthread_mutex_lock(&s->mu);
    flight_finish(s, f, n, rc, l1);
    pthread_mutex_unlock(&s->mu);
    *out = n ? &n->pub : NULL;
    return n ? 0 : rc;
}

int fa_l1_get_or_fill(fa_l1 *l1, const char *key, fa_cache_fill_fn fill_fn, void *ud,
                      const fa_cache_entry **out) {
    return get_or_fill(l1, key, fill_fn, ud, out, 1);
}

int fa_l1_fill(fa_l1 *l1, const char *key, fa_cache_fill_fn fill_fn, void *ud, const fa_cache_entry **out) {
    return get_or_fill(l1, key, fill_fn, ud, out, 0);
}

/* ---------------------------------------------------------------- hot keys */

typedef struct hot_key {
    unsigned freq;
    char *key;
} hot_key;

static int hot_cmp(const void *a, const void *b) {
    unsigned fa = ((const hot_key *)a)->freq, fb = ((const hot_key *)b)->freq;
    return fa < fb ? 1 : fa > fb ? -1 : strcmp(((const hot_key *)a)->key, ((const hot_key *)b)->key);
}

static int has_tag(const fa_cache_node *n, const char *tag) {
    for (size_t i = 0; i < n->pub.ntags; i++)
        if (strcmp(n->pub.tags[i], tag) == 0) return 1;
    return 0;
}

/* Appends shard s's resident keys (with tag, when given) to *v; < 0 on no memory. */
static int collect_hot(const fa_l1 *l1, shard *s, const char *tag, hot_key **v, size_t *n, size_t *cap) {
    for (size_t b = 0; b < s->nbuckets; b++)
        for (fa_cache_node *node = s->buckets[b]; node; node = node->chain) {
            if (tag && !has_tag(node, tag)) continue;
            if (*n == *cap) {
                size_t c = *cap ? *cap * 2 : 64;
                hot_key *nv = fa_realloc(*v, c * sizeof *nv);
                if (!nv) return FA_ENOMEM;
                *v = nv;
                *cap = c;
            }
            char *k = fa_strdup(node->pub.key);
            if (!k) return FA_ENOMEM;
            (*v)[(*n)++] = (hot_key){lru_mode(l1) ? 0 : fa_tinylfu_estimate(&s->sketch, node->hash), k};
        }
    return 0;
}

size_t fa_l1_hot_keys(fa_l1 *l1, const char *tag, char **keys, size_t max) {
    hot_key *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < (size_t)l1->cfg.shards && !rc; i++) {
        shard *s = &l1->shards[i];
        pthread_mutex_lock(&s->mu);
        rc = collect_hot(l1, s, tag, &v, &n, &cap);
        pthread_mutex_unlock(&s->mu);
    }
    if (n) qsort(v, n, sizeof *v, hot_cmp);
    size_t out = n < max ? n : max;
    for (size_t i = 0; i < n; i++) {
        if (i < out) keys[i] = v[i].key;
        else free(v[i].key);
    }
    free(v);
    if (rc) fa_err_clear(); /* what was collected is still the hottest of what was seen */
    return out;
}

/* ---------------------------------------------------------------- tags, invalidation, sweep */

uint64_t fa_l1_bump_tag(fa_l1 *l1, const char *tag) { return fa_tag_versions_bump(l1->tags, tag); }

fa_tag_versions *fa_l1_tags(fa_l1 *l1) { return l1->tags; }

int fa_l1_invalidate(fa_l1 *l1, const char *key) {
    size_t len = strlen(key);
    uint64_t h = fa_cache_hash(key, len, l1->seed);
    shard *s = shard_of(l1, h);
    pthread_mutex_lock(&s->mu);
    fa_cache_node *n = table_find(s, h, key, len);
    if (n) {
        s->st.invalidations++;
        drop_node(s, n);
    }
    flight *f = flight_find(s, h, key, len);
    if (f) f->invalidated = 1;
    pthread_mutex_unlock(&s->mu);
    return n != NULL;
}

static size_t sweep_list(shard *s, lru_list *l, double now) {
    size_t dropped = 0;
    for (fa_cache_node *n = l->head, *next; n; n = next) {
        next = n->next;
        if (node_fresh(n, now)) continue;
        drop_counted(s, n, now);
        dropped++;
    }
    return dropped;
}

size_t fa_l1_sweep(fa_l1 *l1) {
    size_t dropped = 0;
    double now = l1_now(l1);
    for (unsigned i = 0; i < nshards(l1); i++) {
        shard *s = &l1->shards[i];
        pthread_mutex_lock(&s->mu);
        dropped += sweep_list(s, &s->window, now) + sweep_list(s, &s->probation, now) +
                   sweep_list(s, &s->protected, now);
        pthread_mutex_unlock(&s->mu);
    }
    return dropped;
}

/* ---------------------------------------------------------------- stats, verify */

static void stats_add(fa_l1_stats *o, const shard *s) {
    o->hits += s->st.hits;
    o->misses += s->st.misses;
    o->coalesced += s->st.coalesced;
    o->fills += s->st.fills;
    o->fill_errors += s->st.fill_errors;
    o->fill_timeouts += s->st.fill_timeouts;
    o->evictions += s->st.evictions;
    o->rejections += s->st.rejections;
    o->expirations += s->st.expirations;
    o->invalidations += s->st.invalidations;
    o->bytes += shard_bytes(s);
    o->entries += s->count;
}

void fa_l1_stats_get(fa_l1 *l1, fa_l1_stats *out) {
    memset(out, 0, sizeof *out);
    out->max_bytes = l1->cfg.max_bytes;
    for (unsigned i = 0; i < nshards(l1); i++) {
        shard *s = &l1->shards[i];
        pthread_mutex_lock(&s->mu);
        stats_add(out, s);
        pthread_mutex_unlock(&s->mu);
    }
}

static int verify_list(const shard *s, const lru_list *l, int segment, unsigned idx, const char *name) {
    size_t bytes = 0, count = 0;
    const fa_cache_node *prev = NULL;
    for (const fa_cache_node *n = l->head; n; prev = n, n = n->next) {
        if (n->segment != segment || n->prev != prev)
            return fa_err_set(FA_EINVAL, "cache: shard %u: %s list: bad links or segment at entry %zu", idx,
                              name, count);
        if (table_find(s, n->hash, n->pub.key, n->key_len) != n)
            return fa_err_set(FA_EINVAL, "cache: shard %u: %s list: entry '%.100s' not in the table", idx,
                              name, n->pub.key);
        bytes += n->pub.charge;
        count++;
    }
    if (l->tail != prev || bytes != l->bytes || count != l->count)
        return fa_err_set(FA_EINVAL,
                          "cache: shard %u: %s list: counted %zu entries / %zu bytes, recorded %zu / %zu",
                          idx, name, count, bytes, l->count, l->bytes);
    return 0;
}

static int verify_shard(const shard *s, unsigned idx) {
    if (verify_list(s, &s->window, FA_SEG_WINDOW, idx, "window") ||
        verify_list(s, &s->probation, FA_SEG_PROBATION, idx, "probation") ||
        verify_list(s, &s->protected, FA_SEG_PROTECTED, idx, "protected"))
        return FA_EINVAL;
    if (s->window.count + s->probation.count + s->protected.count != s->count)
        return fa_err_set(FA_EINVAL, "cache: shard %u: table holds %zu entries, lists %zu", idx, s->count,
                          s->window.count + s->probation.count + s->protected.count);
    if (s->window.bytes > s->window_cap || main_bytes(s) > s->main_cap ||
        s->protected.bytes > s->protected_cap)
        return fa_err_set(FA_EINVAL, "cache: shard %u: window %zu/%zu, main %zu/%zu, protected %zu/%zu bytes",
                          idx, s->window.bytes, s->window_cap, main_bytes(s), s->main_cap, s->protected.bytes,
                          s->protected_cap);
    return 0;
}

int fa_l1_verify(fa_l1 *l1) {
    size_t total = 0;
    for (unsigned i = 0; i < nshards(l1); i++) {
        shard *s = &l1->shards[i];
        pthread_mutex_lock(&s->mu);
        int rc = verify_shard(s, i);
        total += shard_bytes(s);
        pthread_mutex_unlock(&s->mu);
        if (rc) return rc;
    }
    if (total > l1->cfg.max_bytes)
        return fa_err_set(FA_EINVAL, "cache: %zu bytes resident, budget %zu", total, l1->cfg.max_bytes);
    return 0;
}
