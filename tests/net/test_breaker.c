/*
 * test_breaker.c - the circuit breaker's state machine, on an injected clock.
 *
 * Every transition: CLOSED -> OPEN after exactly failure_threshold
 * consecutive failures (a success in between starts the count again),
 * OPEN refuses until open_s has passed and turns HALF_OPEN at the first
 * allow after that, HALF_OPEN lets half_open_probes calls through at once,
 * closes after success_threshold probe successes and reopens (cool-down
 * restarted) on one probe failure. on_change sees each change once, in
 * order, with the breaker's name. Late reports while open are ignored.
 *
 * The concurrency test runs 8 threads of allow / success / failure against
 * one breaker on a shared ticking clock: the notifications must form one
 * chain from "closed" to the final state, and once the threads are done
 * the probe slots must all be free again (no slot leaked or double-freed).
 * Run under ThreadSanitizer it also checks the locking.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "net/net.h"
#include "testutil.h"

typedef struct fake_clock {
    double now;
} fake_clock;

static double fake_now(void *ud) { return ((fake_clock *)ud)->now; }

#define MAX_CHANGES 64

typedef struct change_log {
    int n;
    fa_breaker_state from[MAX_CHANGES], to[MAX_CHANGES];
    char name[64];
} change_log;

static void record_change(void *ud, const char *name, fa_breaker_state from, fa_breaker_state to) {
    change_log *log = ud;
    snprintf(log->name, sizeof log->name, "%s", name);
    if (log->n < MAX_CHANGES) {
        log->from[log->n] = from;
        log->to[log->n] = to;
    }
    log->n++;
}

static fa_breaker *make(fake_clock *clk, change_log *log, int failures, int probes, int successes) {
    fa_breaker_config c;
    fa_breaker_config_default(&c);
    c.name = "redis";
    c.failure_threshold = failures;
    c.open_s = 10;
    c.half_open_probes = probes;
    c.success_threshold = successes;
    c.clock = fake_now;
    c.clock_ud = clk;
    c.on_change = record_change;
    c.on_change_ud = log;
    fa_breaker *b = fa_breaker_new(&c);
    assert_non_null(b);
    return b;
}

static void assert_change(const change_log *log, int i, fa_breaker_state from, fa_breaker_state to) {
    assert_true(i < log->n);
    assert_int_equal(log->from[i], from);
    assert_int_equal(log->to[i], to);
}

static void test_defaults_and_names(void **state) {
    (void)state;
    fa_breaker_config c;
    fa_breaker_config_default(&c);
    assert_int_equal(c.failure_threshold, 5);
    assert_true(c.open_s == 1.0);
    assert_int_equal(c.half_open_probes, 1);
    assert_int_equal(c.success_threshold, 1);
    assert_null(c.clock);
    assert_null(c.on_change);
    assert_string_equal(fa_breaker_state_name(FA_BREAKER_CLOSED), "closed");
    assert_string_equal(fa_breaker_state_name(FA_BREAKER_OPEN), "open");
    assert_string_equal(fa_breaker_state_name(FA_BREAKER_HALF_OPEN), "half_open");
    fa_breaker *b = fa_breaker_new(NULL);
    assert_non_null(b);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_CLOSED);
    assert_int_equal(fa_breaker_allow(b), 1);
    fa_breaker_success(b);
    fa_breaker_free(b);
}

static void test_bad_config(void **state) {
    (void)state;
    fa_breaker_config c;
    fa_breaker_config_default(&c);
    c.name = "pg";
    c.failure_threshold = 0;
    assert_null(fa_breaker_new(&c));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "breaker 'pg': failure_threshold must be >= 1, got 0");
    fa_breaker_config_default(&c);
    c.open_s = -1;
    assert_null(fa_breaker_new(&c));
    assert_non_null(strstr(fa_err_msg(), "open_s must be"));
    fa_breaker_config_default(&c);
    c.half_open_probes = 0;
    assert_null(fa_breaker_new(&c));
    assert_non_null(strstr(fa_err_msg(), "half_open_probes must be >= 1"));
    fa_breaker_config_default(&c);
    c.success_threshold = -3;
    assert_null(fa_breaker_new(&c));
    assert_non_null(strstr(fa_err_msg(), "success_threshold must be >= 1, got -3"));
}

static void test_opens_after_consecutive_failures(void **state) {
    (void)state;
    fake_clock clk = {100};
    change_log log = {0};
    fa_breaker *b = make(&clk, &log, 3, 1, 1);
    for (int round = 0; round < 3; round++) { /* two failures then a success: stays closed */
        for (int i = 0; i < 2; i++) {
            assert_int_equal(fa_breaker_allow(b), 1);
            fa_breaker_failure(b);
        }
        assert_int_equal(fa_breaker_allow(b), 1);
        fa_breaker_success(b);
    }
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_CLOSED);
    assert_int_equal(log.n, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_CLOSED);
        assert_int_equal(fa_breaker_allow(b), 1);
        fa_breaker_failure(b);
    }
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_OPEN);
    assert_int_equal(log.n, 1);
    assert_change(&log, 0, FA_BREAKER_CLOSED, FA_BREAKER_OPEN);
    assert_string_equal(log.name, "redis");
    assert_int_equal(fa_breaker_allow(b), 0);
    fa_breaker_free(b);
}

static void open_it(fa_breaker *b, int failures) {
    for (int i = 0; i < failures; i++) {
        assert_int_equal(fa_breaker_allow(b), 1);
        fa_breaker_failure(b);
    }
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_OPEN);
}

static void test_cool_down(void **state) {
    (void)state;
    fake_clock clk = {100};
    change_log log = {0};
    fa_breaker *b = make(&clk, &log, 2, 1, 1);
    open_it(b, 2);
    clk.now = 109.999;
    assert_int_equal(fa_breaker_allow(b), 0);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_OPEN); /* only allow moves it */
    /* Late reports from calls allowed before it opened change nothing. */
    fa_breaker_success(b);
    fa_breaker_failure(b);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_OPEN);
    clk.now = 110.0;
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_OPEN);
    assert_int_equal(fa_breaker_allow(b), 1); /* the probe */
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_HALF_OPEN);
    assert_int_equal(log.n, 2);
    assert_change(&log, 1, FA_BREAKER_OPEN, FA_BREAKER_HALF_OPEN);
    assert_int_equal(fa_breaker_allow(b), 0); /* one probe at a time */
    fa_breaker_success(b);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_CLOSED);
    assert_int_equal(log.n, 3);
    assert_change(&log, 2, FA_BREAKER_HALF_OPEN, FA_BREAKER_CLOSED);
    /* Closed again with a fresh failure count. */
    assert_int_equal(fa_breaker_allow(b), 1);
    fa_breaker_failure(b);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_CLOSED);
    fa_breaker_free(b);
}

static void test_probe_failure_reopens(void **state) {
    (void)state;
    fake_clock clk = {0};
    change_log log = {0};
    fa_breaker *b = make(&clk, &log, 1, 1, 1);
    open_it(b, 1);
    clk.now = 10;
    assert_int_equal(fa_breaker_allow(b), 1);
    clk.now = 12;
    fa_breaker_failure(b);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_OPEN);
    assert_int_equal(log.n, 3);
    assert_change(&log, 2, FA_BREAKER_HALF_OPEN, FA_BREAKER_OPEN);
    /* The cool-down restarts at the probe's failure (12), not the first opening (0). */
    clk.now = 21.9;
    assert_int_equal(fa_breaker_allow(b), 0);
    clk.now = 22;
    assert_int_equal(fa_breaker_allow(b), 1);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_HALF_OPEN);
    fa_breaker_success(b);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_CLOSED);
    assert_int_equal(log.n, 5);
    fa_breaker_free(b);
}

/* half_open_probes 2, success_threshold 3: two probes at once, a finished
 * probe frees its slot, the third success closes. */
static void test_probe_limit_and_success_threshold(void **state) {
    (void)state;
    fake_clock clk = {0};
    change_log log = {0};
    fa_breaker *b = make(&clk, &log, 1, 2, 3);
    open_it(b, 1);
    clk.now = 10;
    assert_int_equal(fa_breaker_allow(b), 1);
    assert_int_equal(fa_breaker_allow(b), 1);
    assert_int_equal(fa_breaker_allow(b), 0);
    assert_int_equal(fa_breaker_allow(b), 0);
    fa_breaker_success(b); /* 1 success, 1 probe in flight */
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_HALF_OPEN);
    assert_int_equal(fa_breaker_allow(b), 1);
    assert_int_equal(fa_breaker_allow(b), 0);
    fa_breaker_success(b); /* 2 */
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_HALF_OPEN);
    fa_breaker_success(b); /* 3: closes */
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_CLOSED);
    assert_int_equal(log.n, 3);
    assert_change(&log, 0, FA_BREAKER_CLOSED, FA_BREAKER_OPEN);
    assert_change(&log, 1, FA_BREAKER_OPEN, FA_BREAKER_HALF_OPEN);
    assert_change(&log, 2, FA_BREAKER_HALF_OPEN, FA_BREAKER_CLOSED);
    /* Successes do not carry over: reopen, probe, one success is not enough. */
    open_it(b, 1);
    clk.now = 30;
    assert_int_equal(fa_breaker_allow(b), 1);
    fa_breaker_success(b);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_HALF_OPEN);
    assert_int_equal(fa_breaker_allow(b), 1);
    fa_breaker_failure(b); /* one probe failure: open again */
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_OPEN);
    fa_breaker_free(b);
}

/* ---------------------------------------------------------------- concurrency */

#define THREADS 8
#define ITERATIONS 20000

typedef struct shared {
    fa_breaker *b;
    atomic_ullong ticks; /* the clock: 1 us per reading */
    pthread_mutex_t log_lock;
    int changes, chain_broken;
    fa_breaker_state last;
    int opened, closed;
    atomic_llong allowed, refused, reported;
} shared;

static double tick_clock(void *ud) {
    shared *s = ud;
    return (double)atomic_fetch_add(&s->ticks, 1) * 1e-6;
}

static void chain_change(void *ud, const char *name, fa_breaker_state from, fa_breaker_state to) {
    shared *s = ud;
    (void)name;
    pthread_mutex_lock(&s->log_lock);
    if (from != s->last || from == to) s->chain_broken++;
    s->last = to;
    s->changes++;
    s->opened += to == FA_BREAKER_OPEN;
    s->closed += to == FA_BREAKER_CLOSED;
    pthread_mutex_unlock(&s->log_lock);
}

typedef struct worker {
    shared *s;
    uint64_t rng;
} worker;

static void *hammer(void *arg) {
    worker *w = arg;
    for (int i = 0; i < ITERATIONS; i++) {
        w->rng ^= w->rng << 13, w->rng ^= w->rng >> 7, w->rng ^= w->rng << 17;
        if (!fa_breaker_allow(w->s->b)) {
            atomic_fetch_add(&w->s->refused, 1);
            continue;
        }
        atomic_fetch_add(&w->s->allowed, 1);
        if (w->rng % 10 < 4) {
            fa_breaker_failure(w->s->b);
        } else {
            fa_breaker_success(w->s->b);
        }
        atomic_fetch_add(&w->s->reported, 1);
    }
    return NULL;
}

static void test_concurrent(void **state) {
    (void)state;
    static shared s; /* large enough to keep off the stack; zeroed */
    memset(&s, 0, sizeof s);
    atomic_init(&s.ticks, 0);
    pthread_mutex_init(&s.log_lock, NULL);
    s.last = FA_BREAKER_CLOSED;
    fa_breaker_config c;
    fa_breaker_config_default(&c);
    c.name = "stress";
    c.failure_threshold = 3;
    c.open_s = 200e-6;
    c.half_open_probes = 2;
    c.success_threshold = 2;
    c.clock = tick_clock;
    c.clock_ud = &s;
    c.on_change = chain_change;
    c.on_change_ud = &s;
    s.b = fa_breaker_new(&c);
    assert_non_null(s.b);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){&s, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&s.allowed) + atomic_load(&s.refused), (long long)THREADS * ITERATIONS);
    assert_int_equal(atomic_load(&s.reported), atomic_load(&s.allowed));
    /* Every change delivered, in order, ending at the current state. */
    assert_int_equal(s.chain_broken, 0);
    assert_true(s.opened > 10 && s.closed > 10);
    assert_int_equal(s.last, fa_breaker_state_get(s.b));
    /* All calls reported: every probe slot is free again. */
    if (fa_breaker_state_get(s.b) == FA_BREAKER_OPEN) atomic_fetch_add(&s.ticks, 1000000);
    if (fa_breaker_state_get(s.b) == FA_BREAKER_CLOSED) {
        assert_int_equal(fa_breaker_allow(s.b), 1);
        fa_breaker_success(s.b);
    } else {
        assert_int_equal(fa_breaker_allow(s.b), 1);
        assert_int_equal(fa_breaker_allow(s.b), 1);
        assert_int_equal(fa_breaker_allow(s.b), 0);
        assert_int_equal(fa_breaker_state_get(s.b), FA_BREAKER_HALF_OPEN);
    }
    print_message("stress: %lld allowed, %lld refused, %d changes (%d opened, %d closed)\n",
                  (long long)atomic_load(&s.allowed), (long long)atomic_load(&s.refused), s.changes, s.opened,
                  s.closed);
    fa_breaker_free(s.b);
    pthread_mutex_destroy(&s.log_lock);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_names),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_opens_after_consecutive_failures),
        cmocka_unit_test(test_cool_down),
        cmocka_unit_test(test_probe_failure_reopens),
        cmocka_unit_test(test_probe_limit_and_success_threshold),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
