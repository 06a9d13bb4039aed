/*
 * test_balancer.c - power of two choices over endpoints behind breakers.
 *
 * With calls finishing at once the picks spread evenly; with calls held in
 * flight the less loaded of two candidates wins, so loads stay within a
 * couple of calls of each other (a random pick drifts much further) and
 * an endpoint with calls piled up is not picked at all. An endpoint whose
 * breaker is open is skipped; with all open the pick is -1 + FA_EUNAVAIL;
 * after the cool-down each half-open endpoint takes exactly its one probe
 * (asking a candidate's breaker without returning it would leak the slot).
 * Threads picking and finishing at once leave every count back at zero.
 */
#include <pthread.h>
#include <string.h>

#include "net/net.h"
#include "testutil.h"

typedef struct fake_clock {
    double now;
} fake_clock;

static double fake_now(void *ud) { return ((fake_clock *)ud)->now; }

static char last_name[64];

static void note_name(void *ud, const char *name, fa_breaker_state from, fa_breaker_state to) {
    (void)ud, (void)from, (void)to;
    snprintf(last_name, sizeof last_name, "%s", name);
}

static fa_balancer *make(size_t n, fake_clock *clk, uint64_t seed) {
    fa_breaker_config c;
    fa_breaker_config_default(&c);
    c.name = "node";
    c.failure_threshold = 1;
    c.open_s = 10;
    c.clock = fake_now;
    c.clock_ud = clk;
    c.on_change = note_name;
    fa_balancer *lb = fa_balancer_new(n, &c, seed);
    assert_non_null(lb);
    return lb;
}

/* Picks until `want` comes up (finishing the others), then fails it. */
static void open_endpoint(fa_balancer *lb, int want) {
    for (int i = 0; i < 10000; i++) {
        int e = fa_balancer_pick(lb);
        assert_true(e >= 0);
        if (e == want) {
            fa_balancer_done(lb, e, 0);
            assert_int_equal(fa_breaker_state_get(fa_balancer_breaker(lb, want)), FA_BREAKER_OPEN);
            return;
        }
        fa_balancer_done(lb, e, 1);
    }
    fail_msg("endpoint %d never picked", want);
}

static void test_bad_args(void **state) {
    (void)state;
    assert_null(fa_balancer_new(0, NULL, 1));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "balancer: endpoint count must be in [1, 1048576], got 0");
    fa_breaker_config c;
    fa_breaker_config_default(&c);
    c.name = "pg";
    c.failure_threshold = 0;
    assert_null(fa_balancer_new(3, &c, 1));
    assert_string_equal(fa_err_msg(), "breaker 'pg-0': failure_threshold must be >= 1, got 0");
    fa_balancer *lb = fa_balancer_new(2, NULL, 0);
    assert_non_null(lb);
    assert_null(fa_balancer_breaker(lb, 2));
    assert_null(fa_balancer_breaker(lb, -1));
    fa_balancer_done(lb, 7, 1); /* out of range: ignored */
    fa_balancer_free(lb);
}

static void test_even_spread(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_balancer *lb = make(4, &clk, 42);
    int count[4] = {0};
    for (int i = 0; i < 40000; i++) {
        int e = fa_balancer_pick(lb);
        assert_true(e >= 0 && e < 4);
        count[e]++;
        fa_balancer_done(lb, e, 1);
    }
    for (int e = 0; e < 4; e++) assert_in_range(count[e], 9500, 10500);
    fa_balancer_free(lb);
}

/* 800 calls held on 8 endpoints: two choices keep every load within 2 of
 * the mean of 100 (uniform random picks would be off by about 10). */
static void test_two_choices_balance_in_flight(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_balancer *lb = make(8, &clk, 7);
    int load[8] = {0};
    static int held[800];
    for (int i = 0; i < 800; i++) {
        held[i] = fa_balancer_pick(lb);
        assert_true(held[i] >= 0);
        load[held[i]]++;
    }
    for (int e = 0; e < 8; e++) assert_in_range(load[e], 98, 102);
    for (int i = 0; i < 800; i++) fa_balancer_done(lb, held[i], 1);
    fa_balancer_free(lb);
}

/* Endpoint 0 keeps its calls in flight (about 20), the others finish
 * theirs: 0 is never the less loaded of a pair. */
static void test_busy_endpoint_avoided(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_balancer *lb = make(4, &clk, 9);
    static int held[80];
    int busy = 0;
    for (int i = 0; i < 80; i++) held[i] = fa_balancer_pick(lb);
    for (int i = 0; i < 80; i++) {
        if (held[i] == 0) {
            busy++;
        } else {
            fa_balancer_done(lb, held[i], 1);
        }
    }
    assert_in_range(busy, 19, 21);
    int count[4] = {0};
    for (int i = 0; i < 3000; i++) {
        int e = fa_balancer_pick(lb);
        count[e]++;
        fa_balancer_done(lb, e, 1);
    }
    assert_int_equal(count[0], 0);
    for (int e = 1; e < 4; e++) assert_in_range(count[e], 900, 1100);
    for (int i = 0; i < busy; i++) fa_balancer_done(lb, 0, 1);
    fa_balancer_free(lb);
}

static void test_skips_open_endpoint(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_balancer *lb = make(4, &clk, 11);
    open_endpoint(lb, 1);
    assert_string_equal(last_name, "node-1");
    int count[4] = {0};
    for (int i = 0; i < 3000; i++) {
        int e = fa_balancer_pick(lb);
        assert_true(e >= 0);
        count[e]++;
        fa_balancer_done(lb, e, 1);
    }
    assert_int_equal(count[1], 0);
    for (int e = 0; e < 4; e++)
        if (e != 1) assert_in_range(count[e], 900, 1100);
    fa_balancer_free(lb);
}

static void test_all_open_then_probes(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_balancer *lb = make(3, &clk, 13);
    for (int e = 0; e < 3; e++) open_endpoint(lb, e);
    fa_err_clear();
    assert_int_equal(fa_balancer_pick(lb), -1);
    assert_int_equal(fa_err_code(), FA_EUNAVAIL);
    assert_string_equal(fa_err_msg(), "balancer: all 3 endpoints unavailable (breakers open)");
    /* Cool-down over: one probe each, then nothing until they report. */
    clk.now = 10;
    int seen[3] = {0};
    for (int i = 0; i < 3; i++) {
        int e = fa_balancer_pick(lb);
        assert_true(e >= 0);
        seen[e]++;
    }
    assert_int_equal(seen[0] + seen[1] + seen[2], 3);
    assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    assert_int_equal(fa_balancer_pick(lb), -1);
    fa_balancer_done(lb, 2, 1); /* probe ok: closed */
    assert_int_equal(fa_breaker_state_get(fa_balancer_breaker(lb, 2)), FA_BREAKER_CLOSED);
    fa_balancer_done(lb, 0, 0); /* probe failed: open again */
    assert_int_equal(fa_breaker_state_get(fa_balancer_breaker(lb, 0)), FA_BREAKER_OPEN);
    assert_int_equal(fa_balancer_pick(lb), 2);
    fa_balancer_done(lb, 2, 1);
    fa_balancer_done(lb, 1, 1);
    fa_balancer_free(lb);
}

static void test_single_endpoint(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_balancer *lb = make(1, &clk, 5);
    assert_int_equal(fa_balancer_pick(lb), 0);
    fa_balancer_done(lb, 0, 0);
    assert_int_equal(fa_balancer_pick(lb), -1);
    assert_int_equal(fa_err_code(), FA_EUNAVAIL);
    fa_balancer_free(lb);
}

typedef struct crowd {
    fa_balancer *lb;
    int picks;
} crowd;

static void *pick_and_finish(void *arg) {
    crowd *c = arg;
    for (int i = 0; i < 20000; i++) {
        int e = fa_balancer_pick(c->lb);
        if (e >= 0) {
            c->picks++;
            fa_balancer_done(c->lb, e, 1);
        }
    }
    return NULL;
}

static void test_concurrent_counts_return_to_zero(void **state) {
    (void)state;
    fa_balancer *lb = fa_balancer_new(2, NULL, 3);
    assert_non_null(lb);
    pthread_t th[4];
    crowd c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (crowd){lb, 0};
        assert_int_equal(pthread_create(&th[i], NULL, pick_and_finish, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].picks, 20000);
    }
    /* Both counts back at 0: held picks now alternate exactly. */
    int count[2] = {0};
    for (int i = 0; i < 100; i++) count[fa_balancer_pick(lb)]++;
    assert_int_equal(count[0], 50);
    assert_int_equal(count[1], 50);
    fa_balancer_free(lb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_even_spread),
        cmocka_unit_test(test_two_choices_balance_in_flight),
        cmocka_unit_test(test_busy_endpoint_avoided),
        cmocka_unit_test(test_skips_open_endpoint),
        cmocka_unit_test(test_all_open_then_probes),
        cmocka_unit_test(test_single_endpoint),
        cmocka_unit_test(test_concurrent_counts_return_to_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
