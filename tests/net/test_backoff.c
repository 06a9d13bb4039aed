/*
 * test_backoff.c - exponential backoff with full jitter.
 *
 * Over many seeds every draw lies in [0, min(cap, base * 2^(n-1))], the
 * draws cover that whole window (full jitter: some near 0, some near the
 * ceiling, mean near the middle), the sequence gives up after exactly
 * max_attempts tries, equal seeds repeat and different seeds (including two
 * clock-seeded instances) differ. Bad settings are clamped, not trusted.
 */
#include <math.h>
#include <string.h>

#include "net/net.h"
#include "testutil.h"

#define SEEDS 2000

static void test_defaults(void **state) {
    (void)state;
    fa_backoff_config c;
    fa_backoff_config_default(&c);
    assert_true(c.base_s == 0.05);
    assert_true(c.cap_s == 2.0);
    assert_int_equal(c.max_attempts, 4);
    fa_backoff b;
    fa_backoff_init(&b, NULL, 7);
    assert_int_equal(b.attempt, 0);
    assert_true(b.cfg.base_s == 0.05 && b.cfg.cap_s == 2.0 && b.cfg.max_attempts == 4);
}

/* base 0.05, cap 0.3, 6 tries: ceilings 0.05, 0.1, 0.2, 0.3, 0.3, then give up. */
static void test_bounds_and_spread(void **state) {
    (void)state;
    const fa_backoff_config c = {0.05, 0.3, 6};
    const double ceiling[5] = {0.05, 0.1, 0.2, 0.3, 0.3};
    double lo[5], hi[5], sum[5];
    for (int i = 0; i < 5; i++) lo[i] = INFINITY, hi[i] = -INFINITY, sum[i] = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        fa_backoff b;
        fa_backoff_init(&b, &c, seed);
        for (int i = 0; i < 5; i++) {
            double s = fa_backoff_next(&b);
            assert_int_equal(b.attempt, i + 1);
            assert_true(s >= 0 && s <= ceiling[i]);
            lo[i] = fmin(lo[i], s);
            hi[i] = fmax(hi[i], s);
            sum[i] += s;
        }
        assert_true(fa_backoff_next(&b) < 0); /* the 6th try failed: give up */
        assert_true(fa_backoff_next(&b) < 0); /* and stay given up */
        assert_int_equal(b.attempt, 6);
    }
    for (int i = 0; i < 5; i++) {
        assert_true(lo[i] < 0.01 * ceiling[i]);
        assert_true(hi[i] > 0.99 * ceiling[i]);
        double mean = sum[i] / SEEDS;
        assert_true(fabs(mean - ceiling[i] / 2) < 0.05 * ceiling[i]);
    }
}

static void test_gives_up(void **state) {
    (void)state;
    fa_backoff_config c = {0.01, 1, 1};
    fa_backoff b;
    fa_backoff_init(&b, &c, 3);
    assert_true(fa_backoff_next(&b) < 0); /* one try in all: no retry */
    c.max_attempts = 4;
    fa_backoff_init(&b, &c, 3);
    int sleeps = 0;
    while (fa_backoff_next(&b) >= 0) sleeps++;
    assert_int_equal(sleeps, 3);
    fa_backoff_init(&b, NULL, 3); /* init restarts the sequence */
    assert_int_equal(b.attempt, 0);
    assert_true(fa_backoff_next(&b) >= 0);
}

static void draw(uint64_t seed, double out[8]) {
    fa_backoff_config c = {1, 1, 9};
    fa_backoff b;
    fa_backoff_init(&b, &c, seed);
    for (int i = 0; i < 8; i++) out[i] = fa_backoff_next(&b);
}

static void test_seeds(void **state) {
    (void)state;
    double a[8], b[8], c[8];
    draw(1, a);
    draw(1, b);
    draw(2, c);
    assert_memory_equal(a, b, sizeof a);
    int same = 0;
    for (int i = 0; i < 8; i++) same += a[i] == c[i];
    assert_int_equal(same, 0);
    /* Seed 0: two instances made at the same moment still differ. */
    fa_backoff_config cfg = {1, 1, 9};
    fa_backoff x, y;
    fa_backoff_init(&x, &cfg, 0);
    fa_backoff_init(&y, &cfg, 0);
    assert_true(x.rng != 0 && y.rng != 0);
    assert_true(x.rng != y.rng);
    same = 0;
    for (int i = 0; i < 8; i++) same += fa_backoff_next(&x) == fa_backoff_next(&y);
    assert_int_equal(same, 0);
}

static void test_bad_settings_clamped(void **state) {
    (void)state;
    fa_backoff_config c = {-1, NAN, 0};
    fa_backoff b;
    fa_backoff_init(&b, &c, 5);
    assert_true(b.cfg.base_s == 0 && b.cfg.cap_s == 0);
    assert_int_equal(b.cfg.max_attempts, 1);
    assert_true(fa_backoff_next(&b) < 0);
    c = (fa_backoff_config){0.5, 0.1, 3}; /* cap below base: the base is the ceiling */
    fa_backoff_init(&b, &c, 5);
    for (int i = 0; i < 2; i++) {
        double s = fa_backoff_next(&b);
        assert_true(s >= 0 && s <= 0.5);
    }
    /* A very long sequence does not overflow the ceiling. */
    c = (fa_backoff_config){0.05, 2, 5000};
    fa_backoff_init(&b, &c, 5);
    for (int i = 0; i < 4999; i++) {
        double s = fa_backoff_next(&b);
        assert_true(s >= 0 && s <= 2.0);
    }
    assert_true(fa_backoff_next(&b) < 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bounds_and_spread),
        cmocka_unit_test(test_gives_up),
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_bad_settings_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
