/*
 * ratelimit.c - token-bucket rate limiting per id (a peer address, an API
 * key's name): a sharded, bounded, seeded hash table of buckets.
 *
 * The bucket. Each id has a bucket of at most `burst` tokens that fills at
 * `rate` tokens per second; a request takes one token or is refused, and a
 * refusal says when the next token arrives ((1 - tokens) / rate), which
 * becomes the 429's Retry-After. A bucket is stored as (tokens, last) and
 * refilled lazily when touched: tokens = min(burst, tokens + (now - last)
 * * rate). A client that keeps within the rate is never refused; one that
 * idles may then send `burst` requests at once.
 *
 * Threads. Every loop thread takes tokens at once, so the table is split
 * into shards (a power of two, picked by the hash's high bits), each with
 * its own mutex held only for one lookup and a few arithmetic operations;
 * each shard starts its own cache line so two never share one.
 *
 * Hash flooding. Ids come from clients (any IPv6 address of a /64 is
 * theirs to pick), so the hash is SipHash-2-4 under a 128-bit key drawn
 * from getrandom(2) per instance: without the key, nobody can aim ids at
 * one chain or one shard.
 *
 * Memory bound. A shard holds at most max_buckets / shards buckets, all
 * allocated at creation (calloc: pages that are never touched cost
 * nothing), so the total never exceeds max_buckets and a take never
 * allocates. A new id in a full shard takes the place of an old one. A
 * bucket that would be full now carries no state - a full bucket and a
 * bucket never seen behave identically - so evicting it is lossless: the
 * victim is the first full bucket among the EVICT_SCAN least recently used
 * (LRU list). Only when none of them is full (more than max_buckets ids
 * all active within burst / rate seconds) is the least recently used one
 * dropped anyway; that id then starts over with a full bucket, gaining at
 * most `burst` tokens, and the drop is counted (lossy_evictions). The
 * alternative, refusing new ids, would let a flood of addresses lock every
 * newcomer out.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/security.h"

#define EVICT_SCAN 8
#define TOKEN_EPS 1e-9 /* (1/3) * 3 may come back as 0.99999...: still a whole token */
#define RETRY_AFTER_MAX 86400

typedef struct bucket {
    struct bucket *chain;         /* next in this table slot's chain */
    struct bucket *newer, *older; /* the shard's LRU list */
    uint64_t hash;
    double tokens, last;
    size_t id_len;
    char id[FA_RATELIMIT_ID_MAX];
} bucket;

typedef struct shard {
    _Alignas(64) pthread_mutex_t mu;
    bucket **slots; /* chains; mask + 1 of them, at least cap */
    size_t mask;
    bucket *pool; /* cap buckets; the first used of them are in the table */
    size_t used, cap;
    bucket *newest, *oldest;
    uint64_t allowed, refused, evictions, lossy;
} shard;

struct fa_ratelimit {
    fa_ratelimit_config cfg;
    uint64_t key[2];   /* SipHash key */
    unsigned shift;    /* hash >> shift picks the shard (64 with one shard: see shard_of) */
    shard *shards;
    unsigned ready;    /* shards whose mutex was initialised, for a failed new */
};

/* ---------------------------------------------------------------- SipHash-2-4 */

static uint64_t rotl(uint64_t x, int b) { return x << b | x >> (64 - b); }

static void sip_round(uint64_t v[4]) {
    v[0] += v[1], v[1] = rotl(v[1], 13), v[1] ^= v[0], v[0] = rotl(v[0], 32);
    v[2] += v[3], v[3] = rotl(v[3], 16), v[3] ^= v[2];
    v[0] += v[3], v[3] = rotl(v[3], 21), v[3] ^= v[0];
    v[2] += v[1], v[1] = rotl(v[1], 17), v[1] ^= v[2], v[2] = rotl(v[2], 32);
}

static uint64_t load_le(const unsigned char *p, size_t n) {
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++) m |= (uint64_t)p[i] << (8 * i);
    return m;
}

/* SipHash-2-4 (Aumasson and Bernstein, 2012) of p[0..n) under key k. */
static uint64_t siphash(const uint64_t k[2], const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t v[4] = {k[0] ^ 0x736f6d6570736575ull, k[1] ^ 0x646f72616e646f6dull,
                     k[0] ^ 0x6c7967656e657261ull, k[1] ^ 0x7465646279746573ull};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t m = load_le(p + i, 8);
        v[3] ^= m, sip_round(v), sip_round(v), v[0] ^= m;
    }
    uint64_t last = (uint64_t)n << 56 | load_le(p + i, n - i);
    v[3] ^= last, sip_round(v), sip_round(v), v[0] ^= last;
    v[2] ^= 0xff;
    for (int r = 0; r < 4; r++) sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---------------------------------------------------------------- configuration */

void fa_ratelimit_config_default(fa_ratelimit_config *c) {
    memset(c, 0, sizeof *c);
    c->rate = 10;
    c->burst = 20;
    c->max_buckets = 100000;
    c->shards = 16;
}

static int config_check(const fa_ratelimit_config *c) {
    if (!(c->rate > 0) || !isfinite(c->rate))
        return fa_err_set(FA_EINVAL, "rate limit: rate %g: expected a finite number > 0 (tokens/s)",
                          c->rate);
    if (!(c->burst >= 1) || !isfinite(c->burst))
        return fa_err_set(FA_EINVAL, "rate limit: burst %g: expected a finite number >= 1", c->burst);
    if (c->shards == 0 || c->shards > 256 || (c->shards & (c->shards - 1)))
        return fa_err_set(FA_EINVAL, "rate limit: shards %u: expected a power of two in 1..256", c->shards);
    if (c->max_buckets < c->shards)
        return fa_err_set(FA_EINVAL, "rate limit: max_buckets %zu: expected at least shards (%u)",
                          c->max_buckets, c->shards);
    return 0;
}

/* ---------------------------------------------------------------- shards */

static int shard_init(shard *s, size_t cap) {
    size_t slots = 1;
    while (slots < cap) slots <<= 1;
    s->cap = cap;
    s->mask = slots - 1;
    s->slots = fa_calloc(slots, sizeof *s->slots);
    s->pool = s->slots ? fa_calloc(cap, sizeof *s->pool) : NULL;
    if (!s->pool) return FA_ENOMEM;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return fa_err_set(FA_ENOMEM, "rate limit: pthread_mutex_init failed");
    return 0;
}

static void shard_free(shard *s, int locked_ready) {
    if (locked_ready) pthread_mutex_destroy(&s->mu);
    free(s->slots);
    free(s->pool);
}

fa_ratelimit *fa_ratelimit_new(const fa_ratelimit_config *c) {
    if (config_check(c)) return NULL;
    fa_ratelimit *rl = fa_calloc(1, sizeof *rl);
    if (!rl) return NULL;
    rl->cfg = *c;
    unsigned bits = 0;
    while ((1u << bits) < c->shards) bits++;
    rl->shift = 64 - bits;
    size_t bytes = c->shards * sizeof(shard); /* a multiple of 64: shard is 64-aligned */
    rl->shards = aligned_alloc(64, bytes);
    if (!rl->shards) return fa_err_set(FA_ENOMEM, "rate limit: out of memory"), fa_ratelimit_free(rl), NULL;
    memset(rl->shards, 0, bytes);
    for (unsigned i = 0; i < c->shards; i++) {
        int rc = shard_init(&rl->shards[i], c->max_buckets / c->shards);
        if (rc == 0) rl->ready++;
        else return shard_free(&rl->shards[i], 0), fa_ratelimit_free(rl), NULL;
    }
    if (getrandom(rl->key, sizeof rl->key, 0) != (ssize_t)sizeof rl->key) {
        fa_err_set(FA_EIO, "rate limit: getrandom failed: %s", strerror(errno));
        return fa_ratelimit_free(rl), NULL;
    }
    return rl;
}

void fa_ratelimit_free(fa_ratelimit *rl) {
    if (!rl) return;
    for (unsigned i = 0; rl->shards && i < rl->ready; i++) shard_free(&rl->shards[i], 1);
    free(rl->shards);
    free(rl);
}

double fa_ratelimit_now(const fa_ratelimit *rl) {
    return rl->cfg.clock ? rl->cfg.clock(rl->cfg.clock_ud) : fa_clock_now();
}

static shard *shard_of(fa_ratelimit *rl, uint64_t hash) {
    return &rl->shards[rl->shift >= 64 ? 0 : hash >> rl->shift];
}

/* ---------------------------------------------------------------- the LRU list and the table */

static void lru_unlink(shard *s, bucket *b) {
    if (b->newer) b->newer->older = b->older;
    else s->newest = b->older;
    if (b->older) b->older->newer = b->newer;
    else s->oldest = b->newer;
    b->newer = b->older = NULL;
}

static void lru_push_newest(shard *s, bucket *b) {
    b->older = s->newest;
    b->newer = NULL;
    if (s->newest) s->newest->newer = b;
    else s->oldest = b;
    s->newest = b;
}

static bucket *table_find(const shard *s, uint64_t hash, const char *id, size_t n) {
    for (bucket *b = s->slots[hash & s->mask]; b; b = b->chain)
        if (b->hash == hash && b->id_len == n && memcmp(b->id, id, n) == 0) return b;
    return NULL;
}

static void table_remove(shard *s, bucket *victim) {
    bucket **at = &s->slots[victim->hash & s->mask];
    while (*at != victim) at = &(*at)->chain;
    *at = victim->chain;
    victim->chain = NULL;
}

/* Tokens b would hold at now (never goes back in time). */
static double tokens_at(const fa_ratelimit *rl, const bucket *b, double now) {
    if (!(now > b->last)) return b->tokens;
    double t = b->tokens + (now - b->last) * rl->cfg.rate;
    return t < rl->cfg.burst ? t : rl->cfg.burst;
}

/* The bucket to reuse in a full shard: the first full one among the
 * EVICT_SCAN least recently used, else the least recently used (lossy). */
static bucket *evict(const fa_ratelimit *rl, shard *s, double now) {
    bucket *b = s->oldest;
    for (int i = 0; b && i < EVICT_SCAN; i++, b = b->newer)
        if (tokens_at(rl, b, now) >= rl->cfg.burst) break;
    if (!b || !(tokens_at(rl, b, now) >= rl->cfg.burst)) {
        b = s->oldest;
        s->lossy++;
    }
    s->evictions++;
    table_remove(s, b);
    lru_unlink(s, b);
    return b;
}

/* A new, full bucket for id in s. */
static bucket *bucket_add(const fa_ratelimit *rl, shard *s, uint64_t hash, const char *id, size_t n,
                          double now) {
    bucket *b = s->used < s->cap ? &s->pool[s->used++] : evict(rl, s, now);
    b->hash = hash;
    b->id_len = n;
    memcpy(b->id, id, n);
    b->tokens = rl->cfg.burst;
    b->last = now;
    b->chain = s->slots[hash & s->mask];
    s->slots[hash & s->mask] = b;
    lru_push_newest(s, b);
    return b;
}

/* ---------------------------------------------------------------- taking */

/* Refills b to now and takes a token: 1, or 0 with the wait for one. */
static int bucket_take(const fa_ratelimit *rl, bucket *b, double now, double *wait) {
    b->tokens = tokens_at(rl, b, now);
    if (now > b->last) b->last = now;
    if (b->tokens >= 1 - TOKEN_EPS) {
        b->tokens = b->tokens > 1 ? b->tokens - 1 : 0;
        return 1;
    }
    *wait = (1 - b->tokens) / rl->cfg.rate;
    return 0;
}

int fa_ratelimit_take(fa_ratelimit *rl, const char *id, size_t id_len, double now, double *retry_after_s) {
    if (id_len == 0 || id_len > FA_RATELIMIT_ID_MAX)
        return fa_err_set(FA_EINVAL, "rate limit: id of %zu bytes: expected 1..%d", id_len,
                          FA_RATELIMIT_ID_MAX);
    uint64_t hash = siphash(rl->key, id, id_len);
    shard *s = shard_of(rl, hash);
    double wait = 0;
    pthread_mutex_lock(&s->mu);
    bucket *b = table_find(s, hash, id, id_len);
    if (b) {
        lru_unlink(s, b);
        lru_push_newest(s, b);
    } else {
        b = bucket_add(rl, s, hash, id, id_len, now);
    }
    int ok = bucket_take(rl, b, now, &wait);
    if (ok) s->allowed++;
    else s->refused++;
    pthread_mutex_unlock(&s->mu);
    if (retry_after_s) *retry_after_s = ok ? 0 : wait;
    return ok;
}

long fa_ratelimit_retry_after(double retry_after_s) {
    if (!(retry_after_s > 1)) return 1; /* NaN too */
    if (retry_after_s >= RETRY_AFTER_MAX) return RETRY_AFTER_MAX;
    return (long)ceil(retry_after_s - TOKEN_EPS);
}

void fa_ratelimit_stats_get(fa_ratelimit *rl, fa_ratelimit_stats *out) {
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < rl->cfg.shards; i++) {
        shard *s = &rl->shards[i];
        pthread_mutex_lock(&s->mu);
        out->buckets += s->used;
        out->allowed += s->allowed;
        out->refused += s->refused;
        out->evictions += s->evictions;
        out->lossy_evictions += s->lossy;
        pthread_mutex_unlock(&s->mu);
    }
}
