/*
 * test_coalesce.c - request coalescing and the L1 under threads.
 *
 * 16 threads ask for the same missing key at once: the fill runs exactly
 * once and all 16 share its entry; when it fails, all 16 get its error and
 * nothing is cached. A slow fill blocks neither other keys in the same
 * shard nor plain lookups of its own key; a waiter gives up after the
 * fill timeout; an invalidation during a fill keeps its result out. A
 * mixed stress run (fills, gets, bumps, invalidations, short TTLs on the
 * real clock) ends with consistent lists and counters; run under
 * ThreadSanitizer it also checks the locking.
 *
 * The fills wait until the expected number of callers are waiting (the
 * `coalesced` counter), so the tests do not depend on sleeps being long
 * enough.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache.h"
#include "testutil.h"

#define NTHREADS 16

typedef struct crowd {
    fa_l1 *l1;
    atomic_int calls;
    int fail;
    uint64_t expect_coalesced; /* the fill waits for this many waits in all */
    pthread_barrier_t start;
    const fa_cache_entry *got[NTHREADS];
    int rc[NTHREADS];
    char msg[NTHREADS][256];
} crowd;

/* Spins (1 ms naps) until the cache has counted `n` coalesced waits, at
 * most 30 s; returns 1 when reached. */
static int wait_for_waiters(fa_l1 *l1, uint64_t n) {
    double t0 = fa_clock_now();
    for (;;) {
        fa_l1_stats s;
        fa_l1_stats_get(l1, &s);
        if (s.coalesced >= n) return 1;
        if (fa_clock_now() - t0 > 30) return 0;
        usleep(1000);
    }
}

static int crowd_fill(void *ud, const char *key, fa_cache_fill *fill) {
    crowd *c = ud;
    atomic_fetch_add(&c->calls, 1);
    if (!wait_for_waiters(c->l1, c->expect_coalesced))
        return fa_err_set(FA_EIO, "test: waiters never arrived");
    if (c->fail) return fa_err_set(FA_EIO, "store: %s: database is locked", key);
    fa_buf_printf(&fill->body, "{\"key\":\"%s\",\"rows\":[", key);
    for (int i = 0; i < 200; i++) fa_buf_printf(&fill->body, "%s{\"i\":%d}", i ? "," : "", i);
    fa_buf_puts(&fill->body, "]}");
    fa_cache_fill_tag(fill, "match:1");
    return 0;
}

typedef struct member {
    crowd *c;
    int index;
} member;

static void *crowd_member(void *arg) {
    member *m = arg;
    crowd *c = m->c;
    pthread_barrier_wait(&c->start);
    c->rc[m->index] = fa_l1_get_or_fill(c->l1, "GET /v1/matches/1/events", crowd_fill, c, &c->got[m->index]);
    snprintf(c->msg[m->index], sizeof c->msg[m->index], "%s", fa_err_msg());
    return NULL;
}

static fa_l1 *new_l1(unsigned shards, double timeout) {
    fa_l1_config cfg;
    fa_l1_config_default(&cfg);
    cfg.max_bytes = 4 << 20;
    cfg.shards = shards;
    cfg.fill_timeout_s = timeout;
    fa_l1 *l1 = fa_l1_new(&cfg);
    assert_non_null(l1);
    return l1;
}

static void run_crowd(crowd *c) {
    pthread_t t[NTHREADS];
    member m[NTHREADS];
    c->expect_coalesced += NTHREADS - 1;
    pthread_barrier_init(&c->start, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        m[i] = (member){c, i};
        assert_int_equal(pthread_create(&t[i], NULL, crowd_member, &m[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&c->start);
}

static void test_one_fill_for_16_callers(void **state) {
    (void)state;
    crowd c;
    memset(&c, 0, sizeof c);
    c.l1 = new_l1(16, 60);
    run_crowd(&c);
    assert_int_equal(atomic_load(&c.calls), 1);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(c.rc[i], 0);
        assert_ptr_equal(c.got[i], c.got[0]);
    }
    assert_memory_equal(c.got[0]->variant[FA_CODING_IDENTITY].data, "{\"key\":\"GET /v1/matches/1/events\"",
                        33);
    assert_non_null(c.got[0]->variant[FA_CODING_BR].data);
    fa_l1_stats s;
    fa_l1_stats_get(c.l1, &s);
    assert_int_equal(s.fills, 1);
    assert_int_equal(s.coalesced, NTHREADS - 1);
    assert_int_equal(s.misses, NTHREADS);
    assert_int_equal(s.hits, 0);
    assert_int_equal(s.entries, 1);
    for (int i = 0; i < NTHREADS; i++) fa_cache_entry_release(c.got[i]);
    const fa_cache_entry *e;
    assert_int_equal(fa_l1_get(c.l1, "GET /v1/matches/1/events", &e), 1);
    fa_cache_entry_release(e);
    assert_int_equal(fa_l1_verify(c.l1), 0);
    fa_l1_free(c.l1);
}

static void test_error_reaches_every_waiter(void **state) {
    (void)state;
    crowd c;
    memset(&c, 0, sizeof c);
    c.l1 = new_l1(16, 60);
    c.fail = 1;
    run_crowd(&c);
    assert_int_equal(atomic_load(&c.calls), 1);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(c.rc[i], FA_EIO);
        assert_null(c.got[i]);
        assert_string_equal(c.msg[i], "store: GET /v1/matches/1/events: database is locked");
    }
    fa_l1_stats s;
    fa_l1_stats_get(c.l1, &s);
    assert_int_equal(s.fill_errors, 1);
    assert_int_equal(s.entries, 0);
    /* Not cached: the next caller fills again (and succeeds). */
    c.fail = 0;
    memset(c.got, 0, sizeof c.got);
    run_crowd(&c);
    assert_int_equal(atomic_load(&c.calls), 2);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(c.rc[i], 0);
        fa_cache_entry_release(c.got[i]);
    }
    fa_l1_free(c.l1);
}

/* A fill that blocks until told to finish. */
typedef struct gate {
    fa_l1 *l1;
    const char *key;
    atomic_int started, release, done;
    int rc;
    const fa_cache_entry *got;
} gate;

static int gated_fill(void *ud, const char *key, fa_cache_fill *fill) {
    gate *g = ud;
    atomic_store(&g->started, 1);
    double t0 = fa_clock_now();
    while (!atomic_load(&g->release) && fa_clock_now() - t0 < 30) usleep(1000);
    fa_buf_printf(&fill->body, "slow:%s", key);
    return 0;
}

static int quick_fill(void *ud, const char *key, fa_cache_fill *fill) {
    (void)ud;
    fa_buf_printf(&fill->body, "quick:%s", key);
    return 0;
}

static void *gated_caller(void *arg) {
    gate *g = arg;
    g->rc = fa_l1_get_or_fill(g->l1, g->key, gated_fill, g, &g->got);
    atomic_store(&g->done, 1);
    return NULL;
}

static void start_gated(gate *g, pthread_t *t) {
    assert_int_equal(pthread_create(t, NULL, gated_caller, g), 0);
    double t0 = fa_clock_now();
    while (!atomic_load(&g->started) && fa_clock_now() - t0 < 30) usleep(1000);
    assert_true(atomic_load(&g->started));
}

static void finish_gated(gate *g, pthread_t t) {
    atomic_store(&g->release, 1);
    pthread_join(t, NULL);
    assert_int_equal(g->rc, 0);
    assert_int_equal(g->got->variant[FA_CODING_IDENTITY].len, 5 + strlen(g->key));
    fa_cache_entry_release(g->got);
}

/* One shard, so both keys share a lock: only the slow key's callers wait. */
static void test_other_keys_not_blocked(void **state) {
    (void)state;
    fa_l1 *l1 = new_l1(1, 60);
    gate g = {.l1 = l1, .key = "slow"};
    pthread_t t;
    start_gated(&g, &t);
    const fa_cache_entry *e;
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "fast%d", i);
        assert_int_equal(fa_l1_get_or_fill(l1, key, quick_fill, NULL, &e), 0);
        assert_int_equal(e->variant[FA_CODING_IDENTITY].len, 6 + strlen(key));
        fa_cache_entry_release(e);
    }
    assert_int_equal(fa_l1_get(l1, "slow", &e), 0); /* a plain get never waits */
    assert_false(atomic_load(&g.done));
    finish_gated(&g, t);
    assert_int_equal(fa_l1_get(l1, "slow", &e), 1);
    fa_cache_entry_release(e);
    fa_l1_free(l1);
}

static void test_waiter_times_out(void **state) {
    (void)state;
    fa_l1 *l1 = new_l1(16, 0.2);
    gate g = {.l1 = l1, .key = "GET /v1/slow"};
    pthread_t t;
    start_gated(&g, &t);
    const fa_cache_entry *e;
    double t0 = fa_clock_now();
    assert_int_equal(fa_l1_get_or_fill(l1, "GET /v1/slow", quick_fill, NULL, &e), FA_EIO);
    double waited = fa_clock_now() - t0;
    assert_null(e);
    assert_true(waited >= 0.19 && waited < 10);
    assert_non_null(strstr(fa_err_msg(), "'GET /v1/slow': another request's fill still running after 0.2 s"));
    finish_gated(&g, t); /* the filler still completes and caches */
    fa_l1_stats s;
    fa_l1_stats_get(l1, &s);
    assert_int_equal(s.fill_timeouts, 1);
    assert_int_equal(s.coalesced, 1);
    assert_int_equal(s.entries, 1);
    assert_int_equal(fa_l1_get_or_fill(l1, "GET /v1/slow", quick_fill, NULL, &e), 0);
    assert_memory_equal(e->variant[FA_CODING_IDENTITY].data, "slow:", 5);
    fa_cache_entry_release(e);
    fa_l1_free(l1);
}

/* fa_l1_invalidate while the key's fill runs: the filler still gets its
 * entry, but the cache does not keep what may predate the invalidation. */
static void test_invalidate_during_fill(void **state) {
    (void)state;
    fa_l1 *l1 = new_l1(16, 60);
    gate g = {.l1 = l1, .key = "GET /v1/teams/217"};
    pthread_t t;
    start_gated(&g, &t);
    assert_int_equal(fa_l1_invalidate(l1, "GET /v1/teams/217"), 0); /* nothing cached yet */
    finish_gated(&g, t);
    const fa_cache_entry *e;
    assert_int_equal(fa_l1_get(l1, "GET /v1/teams/217", &e), 0);
    fa_l1_stats s;
    fa_l1_stats_get(l1, &s);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.invalidations, 1);
    assert_int_equal(s.fills, 1);
    fa_l1_free(l1);
}

/* ---------------------------------------------------------------- stress */

#define STRESS_THREADS 8
#define STRESS_OPS 3000
#define STRESS_KEYS 64

/* Worker threads must not call cmocka's assertions (they longjmp into the
 * main thread's test); they count failures and keep the first message. */
typedef struct stress {
    fa_l1 *l1;
    atomic_ulong lookups, fill_calls;
    atomic_int failures;
    char first_failure[256];
} stress;

static void stress_fail(stress *st, const char *what, const char *key) {
    if (atomic_fetch_add(&st->failures, 1) == 0)
        snprintf(st->first_failure, sizeof st->first_failure, "%s '%s': %s", what, key, fa_err_msg());
}

typedef struct stress_arg {
    stress *st;
    uint64_t seed;
} stress_arg;

static uint64_t next_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static int stress_fill(void *ud, const char *key, fa_cache_fill *fill) {
    stress *st = ud;
    atomic_fetch_add(&st->fill_calls, 1);
    unsigned k = (unsigned)atoi(key + 4);
    fa_buf_printf(&fill->body, "%s|", key);
    for (unsigned i = 0; i < 50 + k * 20; i++) fa_buf_printf(&fill->body, "%u,", i * k);
    fill->ttl_s = k % 5 == 0 ? 0.002 : 30;
    fa_cache_fill_tag(fill, "team:%u", k % 8);
    fa_cache_fill_tag(fill, "match:%u", k % 3);
    return 0;
}

static void check_entry(stress *st, const fa_cache_entry *e, const char *key) {
    size_t n = strlen(key);
    if (strcmp(e->key, key) || e->variant[0].len <= n || memcmp(e->variant[0].data, key, n) ||
        e->variant[0].data[n] != '|')
        stress_fail(st, "wrong entry for", key);
}

static void stress_op(stress *st, uint64_t *rnd) {
    char key[16], tag[16];
    snprintf(key, sizeof key, "key-%u", (unsigned)(next_rand(rnd) % STRESS_KEYS));
    unsigned op = (unsigned)(next_rand(rnd) % 100);
    const fa_cache_entry *e;
    if (op < 70) {
        atomic_fetch_add(&st->lookups, 1);
        if (fa_l1_get_or_fill(st->l1, key, stress_fill, st, &e)) {
            stress_fail(st, "get_or_fill", key);
            return;
        }
        check_entry(st, e, key);
        fa_cache_entry_release(e);
    } else if (op < 90) {
        atomic_fetch_add(&st->lookups, 1);
        if (fa_l1_get(st->l1, key, &e)) {
            check_entry(st, e, key);
            fa_cache_entry_release(e);
        }
    } else if (op < 95) {
        snprintf(tag, sizeof tag, "team:%u", (unsigned)(next_rand(rnd) % 8));
        if (fa_l1_bump_tag(st->l1, tag) == 0) stress_fail(st, "bump", tag);
    } else if (op < 99) {
        fa_l1_invalidate(st->l1, key);
    } else {
        fa_l1_sweep(st->l1);
    }
}

static void *stress_thread(void *arg) {
    stress_arg *a = arg;
    uint64_t rnd = a->seed;
    for (int i = 0; i < STRESS_OPS; i++) stress_op(a->st, &rnd);
    return NULL;
}

static void test_stress(void **state) {
    (void)state;
    fa_l1_config cfg;
    fa_l1_config_default(&cfg);
    cfg.max_bytes = 96 << 10; /* small: eviction and admission run all the time */
    cfg.shards = 4;
    cfg.avg_entry_bytes = 1024;
    cfg.gzip_level = 1; /* fast levels: the run is about locking, not ratios */
    cfg.brotli_quality = 1;
    cfg.zstd_level = 1;
    fa_l1 *l1 = fa_l1_new(&cfg);
    stress st = {.l1 = l1};
    pthread_t t[STRESS_THREADS];
    stress_arg args[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) {
        args[i] = (stress_arg){&st, 1000 + (uint64_t)i};
        assert_int_equal(pthread_create(&t[i], NULL, stress_thread, &args[i]), 0);
    }
    for (int i = 0; i < STRESS_THREADS; i++) pthread_join(t[i], NULL);
    if (atomic_load(&st.failures))
        fail_msg("%d failures, first: %s", atomic_load(&st.failures), st.first_failure);
    if (fa_l1_verify(l1)) fail_msg("%s", fa_err_msg());
    fa_l1_stats s;
    fa_l1_stats_get(l1, &s);
    assert_int_equal(s.hits + s.misses, atomic_load(&st.lookups));
    assert_int_equal(s.fills, atomic_load(&st.fill_calls));
    assert_int_equal(s.fill_errors, 0);
    assert_true(s.hits > 0 && s.evictions + s.rejections > 0 && s.invalidations > 0);
    assert_true(s.bytes <= cfg.max_bytes);
    print_message("stress: %llu lookups, %llu hits, %llu fills, %llu coalesced, %llu evicted, %llu rejected, "
                  "%llu expired, %llu invalidated\n",
                  (unsigned long long)(s.hits + s.misses), (unsigned long long)s.hits,
                  (unsigned long long)s.fills, (unsigned long long)s.coalesced,
                  (unsigned long long)s.evictions, (unsigned long long)s.rejections,
                  (unsigned long long)s.expirations, (unsigned long long)s.invalidations);
    fa_l1_free(l1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_fill_for_16_callers),
        cmocka_unit_test(test_error_reaches_every_waiter),
        cmocka_unit_test(test_other_keys_not_blocked),
        cmocka_unit_test(test_waiter_times_out),
        cmocka_unit_test(test_invalidate_during_fill),
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
