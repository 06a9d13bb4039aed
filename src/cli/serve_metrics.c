/*
 * serve_metrics.c - the figures `serve` exposes on /metrics beyond the
 * HTTP ones the application records itself: each cache layer's hits,
 * misses, evictions and size (layer="l1", "l2"), the Redis circuit
 * breaker's state and trips, the rate limiters' refusals.
 *
 * Why sampled callbacks: the caches and limiters already keep these
 * counters (sharded, atomic) for their own use; the registry reads them at
 * scrape time (fa_obs_*_set_fn), so the request path pays nothing extra
 * and the two can never disagree.
 */
#include <stddef.h>

#include "api/api.h"
#include "api/security.h"
#include "cache/cache.h"
#include "cache/l2.h"
#include "obs/obs.h"
#include "serve.h"

#define FIELD(type, st, off) ((double)*(const type *)(const void *)((const char *)&(st) + (off)))

static void counter_fn(const char *family, const char *help, const char *label, const char *value,
                       double (*fn)(void *), void *ud) {
    fa_obs_counter_set_fn(fa_obs_counter_with(fa_obs_counter_family(NULL, family, help, FA_OBS_LABELS(label)),
                                              FA_OBS_LABELS(value)),
                          fn, ud);
}

static void gauge_fn(const char *family, const char *help, const char *label, const char *value,
                     double (*fn)(void *), void *ud) {
    fa_obs_gauge_set_fn(fa_obs_gauge_with(fa_obs_gauge_family(NULL, family, help, FA_OBS_LABELS(label)),
                                          FA_OBS_LABELS(value)),
                        fn, ud);
}

/* ------------------------------------------------------------ L1 */

static double l1_stat(void *ud, size_t off) {
    fa_l1_stats st;
    fa_l1_stats_get(ud, &st);
    return FIELD(uint64_t, st, off);
}
static double l1_hits(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, hits)); }
static double l1_misses(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, misses)); }
static double l1_evictions(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, evictions)); }
static double l1_bytes(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, bytes)); }
static double l1_entries(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, entries)); }
static double l1_coalesced(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, coalesced)); }
static double l1_fills(void *ud) { return l1_stat(ud, offsetof(fa_l1_stats, fills)); }

void fa_serve_l1_metrics(fa_l1 *l1) {
    counter_fn(FA_M_CACHE_HITS, "cache hits", FA_L_LAYER, "l1", l1_hits, l1);
    counter_fn(FA_M_CACHE_MISSES, "cache misses", FA_L_LAYER, "l1", l1_misses, l1);
    counter_fn(FA_M_CACHE_EVICTIONS, "cache evictions", FA_L_LAYER, "l1", l1_evictions, l1);
    gauge_fn(FA_M_CACHE_BYTES, "bytes held", FA_L_LAYER, "l1", l1_bytes, l1);
    gauge_fn(FA_M_CACHE_ENTRIES, "entries held", FA_L_LAYER, "l1", l1_entries, l1);
    counter_fn("fa_cache_fills_total", "responses computed (or taken from L2) into the cache", FA_L_LAYER,
               "l1", l1_fills, l1);
    counter_fn("fa_cache_coalesced_total",
               "requests that waited for another request's computation of the same key", FA_L_LAYER, "l1",
               l1_coalesced, l1);
    fa_err_clear();
}

/* ------------------------------------------------------------ L2 and its breaker */

static double l2_stat(void *ud, size_t off) {
    fa_l2_stats st;
    fa_l2_stats_get(ud, &st);
    return FIELD(uint64_t, st, off);
}
static double l2_hits(void *ud) { return l2_stat(ud, offsetof(fa_l2_stats, hits)); }
static double l2_misses(void *ud) { return l2_stat(ud, offsetof(fa_l2_stats, misses)); }
static double l2_errors(void *ud) { return l2_stat(ud, offsetof(fa_l2_stats, errors)); }
static double l2_timeouts(void *ud) { return l2_stat(ud, offsetof(fa_l2_stats, timeouts)); }
static double l2_unavailable(void *ud) { return l2_stat(ud, offsetof(fa_l2_stats, unavailable)); }
static double l2_sets(void *ud) { return l2_stat(ud, offsetof(fa_l2_stats, sets)); }
static double l2_stale(void *ud) { return l2_stat(ud, offsetof(fa_l2_stats, stale_sets)); }
static double l2_invalidations(void *ud) { return l2_stat(ud, offsetof(fa_l2_stats, invalidations)); }
static double l2_connects(void *ud) { return l2_stat(ud, offsetof(fa_l2_stats, connects)); }
static double l2_resyncs(void *ud) { return l2_stat(ud, offsetof(fa_l2_stats, resyncs)); }
static double breaker_state(void *ud) { return (double)fa_breaker_state_get(fa_l2_breaker(ud)); }

void fa_serve_l2_metrics(fa_l2 *l2) {
    counter_fn(FA_M_CACHE_HITS, "cache hits", FA_L_LAYER, "l2", l2_hits, l2);
    counter_fn(FA_M_CACHE_MISSES, "cache misses", FA_L_LAYER, "l2", l2_misses, l2);
    counter_fn("fa_cache_errors_total", "cache operations that failed (error reply, disconnect)", FA_L_LAYER,
               "l2", l2_errors, l2);
    counter_fn("fa_cache_timeouts_total", "cache operations past their deadline", FA_L_LAYER, "l2",
               l2_timeouts, l2);
    counter_fn("fa_cache_unavailable_total", "cache calls refused at once (breaker open, not connected)",
               FA_L_LAYER, "l2", l2_unavailable, l2);
    counter_fn("fa_cache_sets_total", "responses stored", FA_L_LAYER, "l2", l2_sets, l2);
    counter_fn("fa_cache_stale_sets_total", "responses not stored: a purge raced their computation",
               FA_L_LAYER, "l2", l2_stale, l2);
    counter_fn("fa_cache_invalidations_received_total", "purge messages heard from other nodes", FA_L_LAYER,
               "l2", l2_invalidations, l2);
    counter_fn("fa_cache_connects_total", "connections to the cache server made (reconnects included)",
               FA_L_LAYER, "l2", l2_connects, l2);
    counter_fn("fa_cache_resyncs_total",
               "invalidation subscriptions (re)made; each one empties L1 (purges may have been missed)",
               FA_L_LAYER, "l2", l2_resyncs, l2);
    gauge_fn(FA_M_BREAKER_STATE, "circuit breaker state: 0 closed, 1 open, 2 half-open", FA_L_DEPENDENCY,
             "redis", breaker_state, l2);
    fa_err_clear();
}

/* ------------------------------------------------------------ rate limits */

static double rl_refused(void *ud) {
    fa_ratelimit_stats st;
    fa_ratelimit_stats_get(ud, &st);
    return (double)st.refused;
}
static double rl_buckets(void *ud) {
    fa_ratelimit_stats st;
    fa_ratelimit_stats_get(ud, &st);
    return (double)st.buckets;
}

void fa_serve_ratelimit_metrics(fa_ratelimit *rl, const char *scope) {
    counter_fn("fa_rate_limited_total", "requests refused with 429", "scope", scope, rl_refused, rl);
    gauge_fn("fa_rate_limit_buckets", "clients tracked by the rate limiter", "scope", scope, rl_buckets, rl);
    fa_err_clear();
}

/* ------------------------------------------------------------ warming */

static double warm_stat(void *ud, size_t off) {
    fa_api_warmer_stats st;
    fa_api_warmer_stats_get(ud, &st);
    return FIELD(uint64_t, st, off);
}
static double warm_warmed(void *ud) { return warm_stat(ud, offsetof(fa_api_warmer_stats, warmed)); }
static double warm_failed(void *ud) { return warm_stat(ud, offsetof(fa_api_warmer_stats, failed)); }
static double warm_dropped(void *ud) { return warm_stat(ud, offsetof(fa_api_warmer_stats, dropped)); }
static double warm_pending(void *ud) {
    fa_api_warmer_stats st;
    fa_api_warmer_stats_get(ud, &st);
    return (double)st.pending;
}

void fa_serve_warmer_metrics(fa_api_warmer *w) {
    counter_fn("fa_cache_warmed_total", "keys computed into the cache ahead of requests", "result", "ok",
               warm_warmed, w);
    counter_fn("fa_cache_warmed_total", "keys computed into the cache ahead of requests", "result", "failed",
               warm_failed, w);
    counter_fn("fa_cache_warm_dropped_total", "keys not warmed because the queue was full", FA_L_LAYER, "l1",
               warm_dropped, w);
    gauge_fn("fa_cache_warm_pending", "keys waiting to be warmed", FA_L_LAYER, "l1", warm_pending, w);
    fa_err_clear();
}
