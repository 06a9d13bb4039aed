/* test_model.c - the coordinate convention and the names of the domain model. */
#include <math.h>
#include <string.h>

#include "model/model.h"
#include "testutil.h"

static void test_pitch_centre_and_corners(void **state) {
    (void)state;
    fa_pitch p = {105, 68};
    double x, y;
    fa_pitch_from_provider(&p, 120, 80, 1, 0, 60, 40, &x, &y);
    assert_float_equal(x, 0, 1e-9);
    assert_float_equal(y, 0, 1e-9);
    /* StatsBomb (0,0) is the top-left corner: -x, +y (y up). */
    fa_pitch_from_provider(&p, 120, 80, 1, 0, 0, 0, &x, &y);
    assert_float_equal(x, -52.5, 1e-9);
    assert_float_equal(y, 34, 1e-9);
    /* The penalty spot of the attacked goal: 108 yd -> 42 m from the centre. */
    fa_pitch_from_provider(&p, 120, 80, 1, 0, 108, 40, &x, &y);
    assert_float_equal(x, 42, 1e-9);
}

static void test_pitch_flip_is_a_rotation(void **state) {
    (void)state;
    fa_pitch p = {105, 68};
    double x, y, fx, fy;
    fa_pitch_from_provider(&p, 1, 1, 1, 0, 0.9, 0.2, &x, &y);
    fa_pitch_from_provider(&p, 1, 1, 1, 1, 0.9, 0.2, &fx, &fy);
    assert_float_equal(fx, -x, 1e-9);
    assert_float_equal(fy, -y, 1e-9);
    fa_pitch_from_provider(&p, 1, 1, 0, 0, 0.5, 0.75, &x, &y); /* y up already */
    assert_float_equal(y, 17, 1e-9);
    fa_pitch_from_provider(&p, 1, 1, 1, 0, NAN, 0.5, &x, &y);
    assert_true(isnan(x) && isnan(y));
}

static void test_home_direction(void **state) {
    (void)state;
    assert_int_equal(fa_home_attacks_plus_x(1), 1);
    assert_int_equal(fa_home_attacks_plus_x(2), 0);
    assert_int_equal(fa_home_attacks_plus_x(3), 1);
    assert_int_equal(fa_home_attacks_plus_x(4), 0);
    assert_int_equal(fa_attack_dir(FA_SIDE_HOME, 1), 1);
    assert_int_equal(fa_attack_dir(FA_SIDE_AWAY, 1), -1);
    assert_int_equal(fa_attack_dir(FA_SIDE_HOME, 2), -1);
    assert_int_equal(fa_attack_dir(FA_SIDE_AWAY, 4), 1);
    assert_int_equal(fa_attack_dir(FA_SIDE_NONE, 1), 0);
}

static void test_names_round_trip(void **state) {
    (void)state;
    for (int k = 0; k < FA_EV_COUNT; k++) assert_int_equal(fa_event_kind_parse(fa_event_kind_name(k)), k);
    assert_int_equal(fa_event_kind_parse("PASS"), FA_EV_PASS);
    assert_int_equal(fa_event_kind_parse("Ball Receipt*"), -1);
    for (int p = 1; p < FA_PROVIDER_COUNT; p++) assert_int_equal(fa_provider_parse(fa_provider_name(p)), p);
    assert_int_equal(fa_provider_parse("opta"), FA_PROVIDER_UNKNOWN);
    assert_string_equal(fa_side_name(FA_SIDE_AWAY), "away");
}

static void test_defaults(void **state) {
    (void)state;
    fa_match m;
    fa_match_init(&m, FA_PROVIDER_METRICA);
    assert_int_equal(m.score[0], -1);
    assert_float_equal(m.pitch.length, 105, 0);
    fa_event e;
    fa_event_init(&e);
    assert_true(isnan(e.x) && isnan(e.xg) && isnan(e.duration));
    assert_int_equal(e.success, -1);
    assert_int_equal(e.side, FA_SIDE_NONE);
    fa_player p;
    fa_player_init(&p);
    assert_int_equal(p.shirt, -1);
    assert_true(isnan(p.minutes));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pitch_centre_and_corners), cmocka_unit_test(test_pitch_flip_is_a_rotation),
        cmocka_unit_test(test_home_direction),           cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
