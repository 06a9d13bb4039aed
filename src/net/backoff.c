/*
 * backoff.c - exponential backoff with full jitter between retries.
 *
 * After the n-th failed try the caller sleeps a time drawn uniformly from
 * [0, min(cap, base * 2^(n-1))] ("Full Jitter" in Marc Brooker, "Exponential
 * Backoff And Jitter", AWS Architecture Blog, 2015). Why full jitter rather
 * than a fixed or exponential delay: when a dependency blips, every client
 * fails at about the same moment; with deterministic delays they all retry
 * at the same moments too, and each retry wave is a fresh spike that keeps
 * the dependency down. Spreading each wave over the whole window removes
 * the spikes, and the AWS simulations show it also finishes the work with
 * the fewest calls of the variants compared.
 *
 * Randomness is per instance (xorshift64*, Vigna 2016): no shared generator
 * to lock, no rand() global state, and two instances seeded differently
 * draw independent sequences. Seed 0 means "seed from the clock, the
 * instance's address and the process id", so that threads and processes
 * started together do not draw in step (which would defeat the jitter).
 * Every seed goes through splitmix64 first: small consecutive seeds (1, 2,
 * 3) give unrelated streams, and the xorshift state is never 0.
 *
 * Settings are clamped rather than refused (there is no error to return
 * here): a negative or NaN base/cap counts as 0, a cap below the base as
 * the base, and fewer than 1 attempt as 1 (give up after the first try).
 */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "net/net.h"

void fa_backoff_config_default(fa_backoff_config *c) {
    c->base_s = 0.05;
    c->cap_s = 2.0;
    c->max_attempts = 4;
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t seed_from_environment(const void *instance) {
    uint64_t ns = (uint64_t)(fa_clock_now() * 1e9);
    return ns ^ (uint64_t)(uintptr_t)instance ^ ((uint64_t)getpid() << 32);
}

/* xorshift64* step; returns a uniform double in [0, 1). */
static double next_unit(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

static double clamp_seconds(double s) { return s > 0 && isfinite(s) ? s : 0; }

void fa_backoff_init(fa_backoff *b, const fa_backoff_config *c, uint64_t seed) {
    if (c) {
        b->cfg = *c;
    } else {
        fa_backoff_config_default(&b->cfg);
    }
    b->cfg.base_s = clamp_seconds(b->cfg.base_s);
    b->cfg.cap_s = clamp_seconds(b->cfg.cap_s);
    if (b->cfg.cap_s < b->cfg.base_s) b->cfg.cap_s = b->cfg.base_s;
    if (b->cfg.max_attempts < 1) b->cfg.max_attempts = 1;
    b->attempt = 0;
    b->rng = splitmix64(seed ? seed : seed_from_environment(b));
    if (b->rng == 0) b->rng = 0x9e3779b97f4a7c15ull; /* xorshift's one fixed point */
}

double fa_backoff_next(fa_backoff *b) {
    if (b->attempt < b->cfg.max_attempts) b->attempt++; /* the try that just failed */
    if (b->attempt >= b->cfg.max_attempts) return -1.0;
    double ceiling = fmin(b->cfg.cap_s, ldexp(b->cfg.base_s, b->attempt - 1));
    return next_unit(&b->rng) * ceiling;
}
