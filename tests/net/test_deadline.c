/*
 * test_deadline.c - absolute deadlines on the monotonic clock.
 *
 * A deadline made from a positive duration has about that much time left;
 * zero, negative and NaN durations are already passed; INFINITY is "none"
 * (poll's -1). Milliseconds round up, so a deadline with a sliver left
 * never turns into poll(0) spinning; huge deadlines cap at INT_MAX.
 */
#include <limits.h>
#include <math.h>

#include "net/net.h"
#include "testutil.h"

static void test_passed_durations(void **state) {
    (void)state;
    const double durations[] = {0.0, -1.0, -INFINITY, NAN};
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        fa_deadline d = fa_deadline_in(durations[i]);
        assert_true(fa_deadline_passed(d));
        assert_true(fa_deadline_left(d) == 0.0);
        assert_int_equal(fa_deadline_left_ms(d), 0);
    }
}

static void test_no_deadline(void **state) {
    (void)state;
    fa_deadline d = fa_deadline_in(INFINITY);
    assert_true(isinf(d.at));
    assert_false(fa_deadline_passed(d));
    assert_true(isinf(fa_deadline_left(d)));
    assert_int_equal(fa_deadline_left_ms(d), -1);
}

static void test_time_left(void **state) {
    (void)state;
    fa_deadline d = fa_deadline_in(2.5);
    assert_false(fa_deadline_passed(d));
    double left = fa_deadline_left(d);
    assert_true(left > 2.4 && left <= 2.5);
    int ms = fa_deadline_left_ms(d);
    assert_true(ms > 2400 && ms <= 2500);
    /* Past deadlines and NaN. */
    fa_deadline past = {fa_clock_now() - 1.0};
    assert_true(fa_deadline_passed(past));
    assert_int_equal(fa_deadline_left_ms(past), 0);
    fa_deadline nan_at = {NAN};
    assert_true(fa_deadline_passed(nan_at));
    assert_true(fa_deadline_left(nan_at) == 0.0);
}

static void test_ms_rounds_up_and_caps(void **state) {
    (void)state;
    /* 100 us left: 1 ms, unless it passed before the call (then 0 and passed). */
    fa_deadline d = {fa_clock_now() + 1e-4};
    int ms = fa_deadline_left_ms(d);
    assert_true(ms == 1 || (ms == 0 && fa_deadline_passed(d)));
    fa_deadline far = fa_deadline_in(1e12);
    assert_int_equal(fa_deadline_left_ms(far), INT_MAX);
    assert_false(fa_deadline_passed(far));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passed_durations),
        cmocka_unit_test(test_no_deadline),
        cmocka_unit_test(test_time_left),
        cmocka_unit_test(test_ms_rounds_up_and_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
