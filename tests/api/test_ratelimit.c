/* test_ratelimit.c - the token-bucket rate limiter: burst, refill, Retry-After, independence of ids,
 * the memory bound and its lossless eviction, exact counts under concurrency (run under TSan too). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/security.h"
#include "testutil.h"

static fa_ratelimit *limiter(double rate, double burst, size_t max_buckets, unsigned shards) {
    fa_ratelimit_config c;
    fa_ratelimit_config_default(&c);
    c.rate = rate;
    c.burst = burst;
    c.max_buckets = max_buckets;
    c.shards = shards;
    fa_ratelimit *rl = fa_ratelimit_new(&c);
    if (!rl) fail_msg("fa_ratelimit_new: %s", fa_err_msg());
    return rl;
}

static int take(fa_ratelimit *rl, const char *id, double now, double *retry) {
    return fa_ratelimit_take(rl, id, strlen(id), now, retry);
}

static void test_burst_then_refused(void **state) {
    (void)state;
    fa_ratelimit *rl = limiter(2, 3, 1000, 16);
    double retry = -1;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(take(rl, "10.0.0.1", 100.0, &retry), 1);
        assert_true(retry == 0);
    }
    assert_int_equal(take(rl, "10.0.0.1", 100.0, &retry), 0);
    assert_true(retry == 0.5); /* one token at 2/s */
    assert_int_equal(take(rl, "10.0.0.1", 100.0, NULL), 0);
    fa_ratelimit_stats st;
    fa_ratelimit_stats_get(rl, &st);
    assert_int_equal(st.allowed, 3);
    assert_int_equal(st.refused, 2);
    assert_int_equal(st.buckets, 1);
    fa_ratelimit_free(rl);
}

static void test_refill_after_exact_time(void **state) {
    (void)state;
    fa_ratelimit *rl = limiter(4, 2, 1000, 16);
    double retry;
    assert_int_equal(take(rl, "k", 0.0, &retry), 1);
    assert_int_equal(take(rl, "k", 0.0, &retry), 1);
    assert_int_equal(take(rl, "k", 0.0, &retry), 0);
    assert_true(retry == 0.25);
    assert_int_equal(take(rl, "k", 0.125, &retry), 0); /* half a token */
    assert_true(retry == 0.125);
    assert_int_equal(take(rl, "k", 0.25, &retry), 1); /* exactly one token after 0.25 s */
    assert_int_equal(take(rl, "k", 0.25, &retry), 0);
    /* A long idle refills to the burst, not beyond. */
    assert_int_equal(take(rl, "k", 1000.0, &retry), 1);
    assert_int_equal(take(rl, "k", 1000.0, &retry), 1);
    assert_int_equal(take(rl, "k", 1000.0, &retry), 0);
    /* A clock reading from the past counts as no time passed. */
    assert_int_equal(take(rl, "k", 999.0, &retry), 0);
    assert_true(retry == 0.25);
    /* Rates that are not binary fractions still refill a whole token at the exact time. */
    fa_ratelimit *r3 = limiter(3, 1, 1000, 16);
    assert_int_equal(take(r3, "x", 0.0, NULL), 1);
    for (int i = 1; i <= 30; i++) {
        assert_int_equal(take(r3, "x", i / 3.0 - 0.01, NULL), 0);
        assert_int_equal(take(r3, "x", i / 3.0, NULL), 1);
    }
    fa_ratelimit_free(r3);
    fa_ratelimit_free(rl);
}

static void test_retry_after_header(void **state) {
    (void)state;
    assert_int_equal(fa_ratelimit_retry_after(0.0), 1);
    assert_int_equal(fa_ratelimit_retry_after(0.001), 1);
    assert_int_equal(fa_ratelimit_retry_after(1.0), 1);
    assert_int_equal(fa_ratelimit_retry_after(1.0000000000001), 1); /* float noise is not a second */
    assert_int_equal(fa_ratelimit_retry_after(1.01), 2);
    assert_int_equal(fa_ratelimit_retry_after(59.5), 60);
    assert_int_equal(fa_ratelimit_retry_after(NAN), 1);
    assert_int_equal(fa_ratelimit_retry_after(INFINITY), 86400);
    assert_int_equal(fa_ratelimit_retry_after(1e12), 86400);
    /* From a refusal: 1 token per 10 s, burst 1; 2.5 s later 7.5 s remain -> "8". */
    fa_ratelimit *rl = limiter(0.1, 1, 100, 1);
    double retry;
    assert_int_equal(take(rl, "ip", 0.0, &retry), 1);
    assert_int_equal(take(rl, "ip", 2.5, &retry), 0);
    assert_true(fabs(retry - 7.5) < 1e-9);
    assert_int_equal(fa_ratelimit_retry_after(retry), 8);
    fa_ratelimit_free(rl);
}

static void test_ids_independent(void **state) {
    (void)state;
    fa_ratelimit *rl = limiter(1, 2, 1000, 16);
    assert_int_equal(take(rl, "a", 0, NULL), 1);
    assert_int_equal(take(rl, "a", 0, NULL), 1);
    assert_int_equal(take(rl, "a", 0, NULL), 0);
    assert_int_equal(take(rl, "b", 0, NULL), 1);
    assert_int_equal(take(rl, "b", 0, NULL), 1);
    assert_int_equal(take(rl, "b", 0, NULL), 0);
    /* Ids are bytes: a prefix, or the same text with a NUL, is another id. */
    assert_int_equal(fa_ratelimit_take(rl, "ab", 1, 0, NULL), 0); /* "a" */
    assert_int_equal(fa_ratelimit_take(rl, "a\0", 2, 0, NULL), 1);
    assert_int_equal(take(rl, "::1", 0, NULL), 1);
    fa_ratelimit_stats st;
    fa_ratelimit_stats_get(rl, &st);
    assert_int_equal(st.buckets, 4);
    fa_ratelimit_free(rl);
}

static void test_bad_ids_and_config(void **state) {
    (void)state;
    fa_ratelimit *rl = limiter(1, 1, 16, 1);
    char id[FA_RATELIMIT_ID_MAX + 1];
    memset(id, 'x', sizeof id);
    assert_int_equal(fa_ratelimit_take(rl, id, 0, 0, NULL), FA_EINVAL);
    assert_int_equal(fa_ratelimit_take(rl, id, sizeof id, 0, NULL), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "65 bytes"));
    assert_int_equal(fa_ratelimit_take(rl, id, FA_RATELIMIT_ID_MAX, 0, NULL), 1);
    fa_ratelimit_free(rl);

    fa_ratelimit_config c;
    fa_ratelimit_config_default(&c);
    assert_true(c.rate == 10 && c.burst == 20 && c.max_buckets == 100000 && c.shards == 16);
    const struct {
        double rate, burst;
        size_t max;
        unsigned shards;
        const char *msg;
    } bad[] = {{0, 1, 16, 1, "rate 0"},        {NAN, 1, 16, 1, "rate nan"}, {1, 0.5, 16, 1, "burst 0.5"},
               {1, INFINITY, 16, 1, "burst inf"}, {1, 1, 16, 3, "shards 3"}, {1, 1, 16, 0, "shards 0"},
               {1, 1, 8, 16, "max_buckets 8"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c.rate = bad[i].rate, c.burst = bad[i].burst, c.max_buckets = bad[i].max, c.shards = bad[i].shards;
        fa_err_clear();
        assert_null(fa_ratelimit_new(&c));
        assert_int_equal(fa_err_code(), FA_EINVAL);
        if (!strstr(fa_err_msg(), bad[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, fa_err_msg(), bad[i].msg);
    }
}

/* The bound: 20000 distinct ids through a limiter of 64 buckets. */
static void test_eviction_bound(void **state) {
    (void)state;
    fa_ratelimit *rl = limiter(1, 5, 64, 4);
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "198.51.%d.%d", i / 256, i % 256);
        assert_int_equal(take(rl, id, i * 0.001, NULL), 1); /* a new id always starts full */
        if (i % 1000 == 0) {
            fa_ratelimit_stats st;
            fa_ratelimit_stats_get(rl, &st);
            assert_true(st.buckets <= 64);
        }
    }
    fa_ratelimit_stats st;
    fa_ratelimit_stats_get(rl, &st);
    assert_int_equal(st.buckets, 64); /* 4 shards x 16, every one filled */
    assert_int_equal(st.evictions, 20000 - 64);
    assert_int_equal(st.allowed, 20000);
    fa_ratelimit_free(rl);
}

/* A full shard gives up a bucket that is full anyway (lossless) before a drained one. */
static void test_eviction_prefers_full_buckets(void **state) {
    (void)state;
    fa_ratelimit *rl = limiter(1, 2, 3, 1);
    double retry;
    assert_int_equal(take(rl, "a", 0, NULL), 1);
    assert_int_equal(take(rl, "a", 0, NULL), 1); /* a: 0 tokens, least recently used */
    assert_int_equal(take(rl, "b", 0, NULL), 1); /* b, c: 1 token each */
    assert_int_equal(take(rl, "c", 0, NULL), 1);
    /* At 1.5: a holds 1.5 (not full), b and c are full again. d evicts b, not a. */
    assert_int_equal(take(rl, "d", 1.5, NULL), 1);
    assert_int_equal(take(rl, "a", 1.5, &retry), 1);
    assert_int_equal(take(rl, "a", 1.5, &retry), 0); /* a kept its state: 0.5 token left, not 2 */
    assert_true(retry == 0.5);
    fa_ratelimit_stats st;
    fa_ratelimit_stats_get(rl, &st);
    assert_int_equal(st.buckets, 3);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.lossy_evictions, 0);
    /* Nobody full (a, c, d all drawn from just now): the least recently used goes, counted as lossy. */
    assert_int_equal(take(rl, "c", 1.5, NULL), 1);
    assert_int_equal(take(rl, "d", 1.5, NULL), 1);
    assert_int_equal(take(rl, "e", 1.5, NULL), 1); /* evicts a */
    fa_ratelimit_stats_get(rl, &st);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(st.lossy_evictions, 1);
    assert_int_equal(take(rl, "a", 1.5, NULL), 1); /* a starts over (and evicts c, the oldest) */
    assert_int_equal(take(rl, "a", 1.5, NULL), 1);
    assert_int_equal(take(rl, "a", 1.5, NULL), 0);
    fa_ratelimit_free(rl);
}

/* ---------------------------------------------------------------- concurrency */

#define THREADS 8
#define TAKES 5000
#define BURST 12345

typedef struct worker {
    fa_ratelimit *rl;
    int index;
    long allowed_shared, allowed_own, errors;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    char own[16];
    snprintf(own, sizeof own, "thread-%d", w->index);
    for (int i = 0; i < TAKES; i++) {
        int a = fa_ratelimit_take(w->rl, "shared", 6, 0.0, NULL);
        int b = fa_ratelimit_take(w->rl, own, strlen(own), 0.0, NULL);
        char other[16];
        snprintf(other, sizeof other, "id-%d", i % 50);
        int c = fa_ratelimit_take(w->rl, other, strlen(other), 0.0, NULL);
        if (a < 0 || b < 0 || c < 0) w->errors++;
        w->allowed_shared += a == 1;
        w->allowed_own += b == 1;
    }
    return NULL;
}

/* N threads x M takes on one id with a fixed clock: exactly the burst is allowed. */
static void test_concurrent_counts_exact(void **state) {
    (void)state;
    fa_ratelimit *rl = limiter(1e-9, BURST, 1024, 16);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].rl = rl, w[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    long shared = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        shared += w[i].allowed_shared;
        assert_int_equal(w[i].errors, 0);
        assert_int_equal(w[i].allowed_own, TAKES); /* its own id never runs out (TAKES < BURST) */
    }
    assert_int_equal(shared, BURST);
    fa_ratelimit_stats st;
    fa_ratelimit_stats_get(rl, &st);
    assert_int_equal(st.allowed + st.refused, 3 * THREADS * TAKES);
    assert_int_equal(st.buckets, 1 + THREADS + 50);
    fa_ratelimit_free(rl);
}

/* Eviction under concurrency: many threads, few buckets; the bound holds and nothing breaks. */
static void *churn(void *arg) {
    worker *w = arg;
    char id[32];
    for (int i = 0; i < TAKES; i++) {
        snprintf(id, sizeof id, "%d/%d", w->index, i);
        if (fa_ratelimit_take(w->rl, id, strlen(id), i * 1e-3, NULL) != 1) w->errors++;
    }
    return NULL;
}

static void test_concurrent_eviction(void **state) {
    (void)state;
    fa_ratelimit *rl = limiter(100, 3, 128, 16);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].rl = rl, w[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, churn, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
    fa_ratelimit_stats st;
    fa_ratelimit_stats_get(rl, &st);
    assert_int_equal(st.buckets, 128);
    assert_int_equal(st.evictions, THREADS * TAKES - 128);
    assert_int_equal(st.allowed, THREADS * TAKES);
    fa_ratelimit_free(rl);
}

static double fake_clock(void *ud) { return *(double *)ud; }

static void test_injected_clock(void **state) {
    (void)state;
    double now = 42.0;
    fa_ratelimit_config c;
    fa_ratelimit_config_default(&c);
    c.rate = 1, c.burst = 1, c.clock = fake_clock, c.clock_ud = &now;
    fa_ratelimit *rl = fa_ratelimit_new(&c);
    assert_non_null(rl);
    assert_true(fa_ratelimit_now(rl) == 42.0);
    assert_int_equal(take(rl, "x", fa_ratelimit_now(rl), NULL), 1);
    assert_int_equal(take(rl, "x", fa_ratelimit_now(rl), NULL), 0);
    now = 43.0;
    assert_int_equal(take(rl, "x", fa_ratelimit_now(rl), NULL), 1);
    fa_ratelimit_free(rl);
    c.clock = NULL;
    rl = fa_ratelimit_new(&c);
    double t = fa_clock_now();
    assert_true(fabs(fa_ratelimit_now(rl) - t) < 1.0);
    fa_ratelimit_free(rl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refused),
        cmocka_unit_test(test_refill_after_exact_time),
        cmocka_unit_test(test_retry_after_header),
        cmocka_unit_test(test_ids_independent),
        cmocka_unit_test(test_bad_ids_and_config),
        cmocka_unit_test(test_eviction_bound),
        cmocka_unit_test(test_eviction_prefers_full_buckets),
        cmocka_unit_test(test_concurrent_counts_exact),
        cmocka_unit_test(test_concurrent_eviction),
        cmocka_unit_test(test_injected_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
