/*
 * test_tracks.c - frames into per-object, per-period tracks: layout and
 * lookup, the ball's track, what is rejected and counted (non-finite and
 * far off-pitch coordinates, missing ids), time order, periods, growth to
 * a long match, and objects listed in a different order frame to frame.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "testutil.h"

static const fa_pitch pitch = {105, 68};

/* A frame of period p at time t with the given players and ball. */
static fa_frame frame(int p, double t, const fa_frame_player *players, size_t n, float bx, float by) {
    fa_frame f;
    fa_frame_init(&f);
    f.frame = (int64_t)llround(t * 25) + 100000 * p;
    f.period = p;
    f.t = t;
    f.players = players;
    f.n = n;
    f.ball_x = bx;
    f.ball_y = by;
    return f;
}

static void test_init(void **state) {
    (void)state;
    fa_tracking tr;
    assert_int_equal(fa_tracking_init(&tr, &pitch, 25), 0);
    assert_int_equal(tr.ntracks, 0);
    assert_int_equal(tr.nframes, 0);
    assert_true(tr.pitch.length == 105 && tr.pitch.width == 68);
    fa_tracking_free(&tr);
    assert_int_equal(fa_tracking_init(&tr, NULL, 10), 0); /* no pitch: the default 105 x 68 */
    assert_true(tr.pitch.length == FA_PITCH_DEFAULT_LENGTH && tr.pitch.width == FA_PITCH_DEFAULT_WIDTH);
    fa_tracking_free(&tr);
    assert_int_equal(fa_tracking_init(&tr, &pitch, 0), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "frame rate"));
    assert_int_equal(fa_tracking_init(&tr, &pitch, NAN), FA_EINVAL);
    assert_int_equal(fa_tracking_init(&tr, &pitch, -25), FA_EINVAL);
    fa_pitch bad = {0, 68};
    assert_int_equal(fa_tracking_init(&tr, &bad, 25), FA_EINVAL);
    bad = (fa_pitch){105, NAN};
    assert_int_equal(fa_tracking_init(&tr, &bad, 25), FA_EINVAL);
    fa_tracking_free(&tr);
    assert_int_equal(fa_tracking_add(&tr, NULL), FA_EINVAL);
}

/* Ten frames, two players and the ball: three tracks of ten samples each,
 * in time order, with sides; the ball is "ball" with no side. */
static void test_tracks_and_lookup(void **state) {
    (void)state;
    fa_tracking tr;
    assert_int_equal(fa_tracking_init(&tr, &pitch, 25), 0);
    for (int i = 0; i < 10; i++) {
        fa_frame_player p[2] = {{"7", FA_SIDE_HOME, (float)i, 1}, {"23", FA_SIDE_AWAY, -2, (float)-i}};
        fa_frame f = frame(1, i * 0.04, p, 2, 0.5f * (float)i, 0);
        assert_int_equal(fa_tracking_add(&tr, &f), 0);
    }
    assert_int_equal(tr.nframes, 10);
    assert_int_equal(tr.ntracks, 3);
    assert_int_equal(tr.rejected, 0);
    const fa_track *a = fa_tracking_find(&tr, "7", 1), *b = fa_tracking_find(&tr, "23", 1);
    const fa_track *ball = fa_tracking_find(&tr, FA_BALL_ID, 1);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(ball);
    assert_int_equal(a->n, 10);
    assert_int_equal(a->side, FA_SIDE_HOME);
    assert_int_equal(b->side, FA_SIDE_AWAY);
    assert_int_equal(ball->side, FA_SIDE_NONE);
    assert_string_equal(ball->id, "ball");
    assert_int_equal(a->period, 1);
    for (int i = 0; i < 10; i++) {
        assert_true(a->t[i] == i * 0.04);
        assert_true(a->x[i] == (float)i && a->y[i] == 1);
        assert_true(b->y[i] == (float)-i);
        assert_true(ball->x[i] == 0.5f * (float)i);
    }
    assert_null(fa_tracking_find(&tr, "7", 2));
    assert_null(fa_tracking_find(&tr, "99", 1));
    assert_null(fa_tracking_find(&tr, NULL, 1));
    fa_tracking_free(&tr);
    assert_int_equal(tr.ntracks, 0);
    assert_null(tr.tracks);
}

/* Every kind of unusable sample is dropped and counted once; a ball not seen
 * (NAN, NAN) is just absent. Limits on 105 x 68: |x| <= 78.75, |y| <= 51. */
static void test_rejected(void **state) {
    (void)state;
    fa_tracking tr;
    assert_int_equal(fa_tracking_init(&tr, &pitch, 25), 0);
    fa_frame_player p[] = {
        {"ok1", FA_SIDE_HOME, 78.75f, -51}, /* on the limit: kept */
        {"nan", FA_SIDE_HOME, NAN, 0},       {"inf", FA_SIDE_HOME, 0, INFINITY},
        {"far", FA_SIDE_AWAY, 79.0f, 0},     {"wide", FA_SIDE_AWAY, 0, -51.5f},
        {NULL, FA_SIDE_AWAY, 1, 1},          {"", FA_SIDE_AWAY, 1, 1},
        {"ball", FA_SIDE_AWAY, 1, 1}, /* a player may not take the ball's track */
        {"ok2", FA_SIDE_AWAY, -3, 4},
    };
    fa_frame f = frame(1, 0, p, sizeof p / sizeof p[0], NAN, NAN);
    assert_int_equal(fa_tracking_add(&tr, &f), 0);
    assert_int_equal(tr.rejected, 7);
    assert_int_equal(tr.ntracks, 2);
    assert_non_null(fa_tracking_find(&tr, "ok1", 1));
    assert_non_null(fa_tracking_find(&tr, "ok2", 1));
    assert_null(fa_tracking_find(&tr, FA_BALL_ID, 1));
    float balls[][2] = {{1, NAN}, {INFINITY, 0}, {0, 60}, {3, 4}};
    for (int i = 0; i < 4; i++) {
        f = frame(1, 0.04 * (i + 1), NULL, 0, balls[i][0], balls[i][1]);
        assert_int_equal(fa_tracking_add(&tr, &f), 0);
    }
    assert_int_equal(tr.rejected, 10);
    const fa_track *ball = fa_tracking_find(&tr, FA_BALL_ID, 1);
    assert_non_null(ball);
    assert_int_equal(ball->n, 1);
    assert_true(ball->x[0] == 3 && ball->y[0] == 4);
    assert_int_equal(tr.nframes, 5);
    fa_tracking_free(&tr);
}

/* Time must not go back within a period, periods must not go back; equal
 * times are accepted. A refused frame leaves the tracking as it was. */
static void test_time_order(void **state) {
    (void)state;
    fa_tracking tr;
    assert_int_equal(fa_tracking_init(&tr, &pitch, 25), 0);
    fa_frame_player p = {"7", FA_SIDE_HOME, 1, 1};
    fa_frame f = frame(1, 1.0, &p, 1, NAN, NAN);
    assert_int_equal(fa_tracking_add(&tr, &f), 0);
    f = frame(1, 1.0, &p, 1, NAN, NAN);
    assert_int_equal(fa_tracking_add(&tr, &f), 0);
    f = frame(1, 0.96, &p, 1, NAN, NAN);
    assert_int_equal(fa_tracking_add(&tr, &f), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "non-monotonic time at period 1 t=0.96"));
    assert_int_equal(tr.nframes, 2);
    assert_int_equal(fa_tracking_find(&tr, "7", 1)->n, 2);
    f = frame(2, 0.0, &p, 1, NAN, NAN);
    assert_int_equal(fa_tracking_add(&tr, &f), 0);
    f = frame(1, 5.0, &p, 1, NAN, NAN);
    assert_int_equal(fa_tracking_add(&tr, &f), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "non-monotonic time at period 1 t=5"));
    /* malformed frames */
    f = frame(0, 6.0, &p, 1, NAN, NAN);
    assert_int_equal(fa_tracking_add(&tr, &f), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "period 0"));
    f = frame(6, 6.0, &p, 1, NAN, NAN);
    assert_int_equal(fa_tracking_add(&tr, &f), FA_EINVAL);
    f = frame(2, NAN, &p, 1, NAN, NAN);
    assert_int_equal(fa_tracking_add(&tr, &f), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "not finite"));
    f = frame(2, 7.0, NULL, 3, NAN, NAN);
    assert_int_equal(fa_tracking_add(&tr, &f), FA_EINVAL);
    assert_int_equal(tr.nframes, 3);
    fa_tracking_free(&tr);
}

/* The same player in two periods is two tracks; half-time is no sample. */
static void test_periods(void **state) {
    (void)state;
    fa_tracking tr;
    assert_int_equal(fa_tracking_init(&tr, &pitch, 25), 0);
    for (int period = 1; period <= 2; period++)
        for (int i = 0; i < 5; i++) {
            fa_frame_player p = {"7", FA_SIDE_HOME, (float)(period * 10 + i), 0};
            fa_frame f = frame(period, i * 0.04, &p, 1, 0, 0);
            assert_int_equal(fa_tracking_add(&tr, &f), 0);
        }
    assert_int_equal(tr.ntracks, 4);
    const fa_track *a = fa_tracking_find(&tr, "7", 1), *b = fa_tracking_find(&tr, "7", 2);
    assert_true(a && b && a != b);
    assert_int_equal(a->n, 5);
    assert_int_equal(b->n, 5);
    assert_true(a->x[4] == 14 && b->x[0] == 20 && b->t[0] == 0);
    assert_int_equal(tr.last_period, 2);
    fa_tracking_free(&tr);
}

/* A 90-minute player (135,000 samples) grows by doubling; objects listed
 * in a rotating order each frame still land in their own tracks. */
static void test_growth_and_order(void **state) {
    (void)state;
    fa_tracking tr;
    assert_int_equal(fa_tracking_init(&tr, &pitch, 25), 0);
    const char *ids[4] = {"a", "b", "c", "d"};
    for (int i = 0; i < 135000; i++) {
        fa_frame_player p[4];
        for (int j = 0; j < 4; j++) {
            int o = (j + i) % 4; /* rotates every frame */
            p[j] = (fa_frame_player){ids[o], FA_SIDE_HOME, (float)o, (float)(i % 1000) * 0.01f};
        }
        fa_frame f = frame(1, i * 0.04, p, 4, NAN, NAN);
        assert_int_equal(fa_tracking_add(&tr, &f), 0);
    }
    assert_int_equal(tr.ntracks, 4);
    for (int o = 0; o < 4; o++) {
        const fa_track *t = fa_tracking_find(&tr, ids[o], 1);
        assert_non_null(t);
        assert_int_equal(t->n, 135000);
        assert_true(t->cap >= t->n);
        assert_true(t->x[0] == (float)o && t->x[134999] == (float)o);
        assert_true(t->y[134999] == (float)(134999 % 1000) * 0.01f);
        assert_true(t->t[134999] == 134999 * 0.04);
    }
    fa_tracking_free(&tr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_tracks_and_lookup),
        cmocka_unit_test(test_rejected),
        cmocka_unit_test(test_time_order),
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_growth_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
