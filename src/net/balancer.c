/*
 * balancer.c - load balancing over n endpoints by the power of two random
 * choices (Michael Mitzenmacher, "The Power of Two Choices in Randomized
 * Load Balancing", IEEE TPDS 12(10), 2001), each endpoint behind its own
 * circuit breaker (Nygard, "Release It!").
 *
 * Why two choices: picking one endpoint at random leaves the busiest with
 * about log n / log log n times the average load; picking the less loaded
 * of two random ones brings that down to log log n / log 2, almost as good
 * as asking every endpoint, while touching only two counters. The load is
 * the number of calls in flight (picked, not yet done), which follows a
 * slow endpoint at once, unlike averaged latencies. Round-robin would need
 * a shared cursor and ignores slowness entirely.
 *
 * Breakers: an endpoint whose breaker refuses is skipped. fa_breaker_allow
 * has a side effect (a half-open breaker reserves a probe slot), so it is
 * asked only of the endpoint about to be returned: the less loaded
 * candidate first, the other if that one refuses. If both refuse, a few
 * more random pairs are tried, then every endpoint in turn from a random
 * start, so a single healthy endpoint among many open ones is still found
 * and "none" is only reported after each breaker has said no.
 *
 * Threads: the in-flight counts are atomics and the shared random state is
 * advanced with compare-and-swap, so picks from many threads never lock
 * (the breakers lock only when not closed).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/net.h"

#define EXTRA_PAIRS 2

typedef struct endpoint_slot {
    fa_breaker *breaker;
    atomic_long in_flight;
} endpoint_slot;

struct fa_balancer {
    size_t n;
    _Atomic uint64_t rng;
    endpoint_slot *eps;
};

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A random index in [0, bound): one xorshift64* step, shared by all threads. */
static size_t random_below(fa_balancer *lb, size_t bound) {
    uint64_t old = atomic_load_explicit(&lb->rng, memory_order_relaxed), x;
    do {
        x = old;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
    } while (!atomic_compare_exchange_weak_explicit(&lb->rng, &old, x, memory_order_relaxed,
                                                    memory_order_relaxed));
    return (size_t)(((x * 0x2545f4914f6cdd1dull) >> 32) % bound);
}

void fa_balancer_free(fa_balancer *lb) {
    if (!lb) return;
    for (size_t i = 0; i < lb->n; i++) fa_breaker_free(lb->eps[i].breaker);
    free(lb->eps);
    free(lb);
}

static int make_breakers(fa_balancer *lb, const fa_breaker_config *bc) {
    fa_breaker_config c;
    if (bc) {
        c = *bc;
    } else {
        fa_breaker_config_default(&c);
    }
    const char *base = c.name ? c.name : "endpoint";
    for (size_t i = 0; i < lb->n; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s-%zu", base, i);
        c.name = name;
        lb->eps[i].breaker = fa_breaker_new(&c);
        if (!lb->eps[i].breaker) return fa_err_code();
        atomic_init(&lb->eps[i].in_flight, 0);
    }
    return 0;
}

fa_balancer *fa_balancer_new(size_t n, const fa_breaker_config *bc, uint64_t seed) {
    if (n == 0 || n > (size_t)1 << 20) {
        fa_err_set(FA_EINVAL, "balancer: endpoint count must be in [1, 1048576], got %zu", n);
        return NULL;
    }
    fa_balancer *lb = fa_calloc(1, sizeof *lb);
    if (!lb) return NULL;
    lb->eps = fa_calloc(n, sizeof *lb->eps);
    if (!lb->eps) {
        free(lb);
        return NULL;
    }
    lb->n = n;
    if (make_breakers(lb, bc) < 0) {
        fa_balancer_free(lb); /* unmade breakers are NULL */
        return NULL;
    }
    uint64_t s = splitmix64(seed ? seed : (uint64_t)(fa_clock_now() * 1e9) ^ (uint64_t)(uintptr_t)lb);
    atomic_init(&lb->rng, s ? s : 0x9e3779b97f4a7c15ull);
    return lb;
}

static long load_of(fa_balancer *lb, size_t i) {
    return atomic_load_explicit(&lb->eps[i].in_flight, memory_order_relaxed);
}

/* Asks i's breaker; on yes counts the call in flight. */
static int take(fa_balancer *lb, size_t i) {
    if (!fa_breaker_allow(lb->eps[i].breaker)) return 0;
    atomic_fetch_add_explicit(&lb->eps[i].in_flight, 1, memory_order_relaxed);
    return 1;
}

/* Two distinct random endpoints, the less loaded asked first. */
static int pick_pair(fa_balancer *lb) {
    size_t a = random_below(lb, lb->n);
    size_t b = random_below(lb, lb->n - 1);
    if (b >= a) b++;
    if (load_of(lb, b) < load_of(lb, a)) {
        size_t t = a;
        a = b;
        b = t;
    }
    if (take(lb, a)) return (int)a;
    if (take(lb, b)) return (int)b;
    return -1;
}

int fa_balancer_pick(fa_balancer *lb) {
    if (lb->n >= 2) {
        for (int round = 0; round <= EXTRA_PAIRS; round++) {
            int got = pick_pair(lb);
            if (got >= 0) return got;
        }
    }
    size_t start = random_below(lb, lb->n);
    for (size_t k = 0; k < lb->n; k++) {
        size_t i = (start + k) % lb->n;
        if (take(lb, i)) return (int)i;
    }
    fa_err_set(FA_EUNAVAIL, "balancer: all %zu endpoints unavailable (breakers open)", lb->n);
    return -1;
}

void fa_balancer_done(fa_balancer *lb, int endpoint, int ok) {
    if (endpoint < 0 || (size_t)endpoint >= lb->n) return;
    atomic_fetch_sub_explicit(&lb->eps[endpoint].in_flight, 1, memory_order_relaxed);
    if (ok) {
        fa_breaker_success(lb->eps[endpoint].breaker);
    } else {
        fa_breaker_failure(lb->eps[endpoint].breaker);
    }
}

fa_breaker *fa_balancer_breaker(fa_balancer *lb, int endpoint) {
    if (endpoint < 0 || (size_t)endpoint >= lb->n) return NULL;
    return lb->eps[endpoint].breaker;
}
