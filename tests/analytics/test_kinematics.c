/*
 * test_kinematics.c - resampling, gates, gaps and filters on constructed
 * trajectories whose answers are known in closed form: constant velocity,
 * constant acceleration, a single displaced sample (the filter's own
 * coefficients), gaps either side of max_gap_s, an outlier spike, jittered
 * and repeated timestamps, segments shorter than the filter, and bad input.
 *
 * Tolerances: positions are float (about 4e-6 m of rounding at 50 m), so a
 * speed from a 7-tap derivative is exact to about 1e-4 m/s and a position
 * to about 1e-5 m; that is what "exact" means below.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "testutil.h"

/* cmocka 1.1's assert_float_equal works in float: compare doubles here. */
#define assert_near(a, b, tol) near_((double)(a), (double)(b), (double)(tol), __FILE__, __LINE__)
static void near_(double a, double b, double tol, const char *file, int line) {
    if (fabs(a - b) <= tol) return;
    print_error("%.10g != %.10g (tolerance %g)\n", a, b, tol);
    _fail(file, line);
}

#define EXACT_V 2e-4 /* m/s */
#define EXACT_X 2e-5 /* m */

/* ------------------------------------------------------------ building tracks */

static fa_track *track_alloc(size_t n) {
    fa_track *tr = calloc(1, sizeof *tr);
    assert_non_null(tr);
    strcpy(tr->id, "p1");
    tr->side = FA_SIDE_HOME;
    tr->period = 1;
    tr->n = tr->cap = n;
    tr->t = calloc(n ? n : 1, sizeof *tr->t);
    tr->x = calloc(n ? n : 1, sizeof *tr->x);
    tr->y = calloc(n ? n : 1, sizeof *tr->y);
    assert_true(tr->t && tr->x && tr->y);
    return tr;
}

static void track_free(fa_track *tr) {
    free(tr->t);
    free(tr->x);
    free(tr->y);
    free(tr);
}

/* n samples at fr Hz moving at (vx, vy) from (x0, y0). */
static fa_track *track_line(size_t n, double fr, double x0, double y0, double vx, double vy) {
    fa_track *tr = track_alloc(n);
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / fr;
        tr->t[i] = t;
        tr->x[i] = (float)(x0 + vx * t);
        tr->y[i] = (float)(y0 + vy * t);
    }
    return tr;
}

/* Removes samples [from, from + count). */
static void track_drop(fa_track *tr, size_t from, size_t count) {
    size_t rest = tr->n - from - count;
    memmove(tr->t + from, tr->t + from + count, rest * sizeof *tr->t);
    memmove(tr->x + from, tr->x + from + count, rest * sizeof *tr->x);
    memmove(tr->y + from, tr->y + from + count, rest * sizeof *tr->y);
    tr->n -= count;
}

static fa_analytics_config config(fa_smoothing s) {
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    c.smoothing = s;
    return c;
}

static void compute(const fa_track *tr, double fr, int is_ball, const fa_analytics_config *c,
                    fa_kinematics *k) {
    int rc = fa_kinematics_compute(tr, fr, is_ball, c, k);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
}

static double max_abs_dev(const float *v, size_t from, size_t to, double target) {
    double m = 0;
    for (size_t i = from; i < to; i++) m = fmax(m, fabs(v[i] - target));
    return m;
}

/* ------------------------------------------------------------ constant velocity */

/* (3, 4) m/s for 60 s at 25 Hz: speed 5 everywhere, including the first and
 * last three samples (the end rows of the Savitzky-Golay table fit a line
 * to the first / last window, exact for a line), acceleration 0, positions
 * unchanged, flags all measured, the clock uniform. */
static void test_constant_velocity(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_smoothing methods[] = {FA_SMOOTH_SAVGOL, FA_SMOOTH_NONE};
    for (int m = 0; m < 2; m++) {
        c.smoothing = methods[m];
        fa_track *tr = track_line(1501, 25, -40, -20, 3, 4);
        fa_kinematics k;
        compute(tr, 25, 0, &c, &k);
        assert_int_equal(k.n, 1501);
        assert_near(k.dt, 0.04, 1e-15);
        assert_near(k.t[1500], 60.0, 1e-9);
        assert_true(max_abs_dev(k.v, 0, k.n, 5.0) < EXACT_V);
        assert_true(max_abs_dev(k.a, 0, k.n, 0.0) < 0.01);
        for (size_t i = 0; i < k.n; i++) {
            assert_int_equal(k.flags[i], FA_KIN_MEASURED);
            assert_near(k.x[i], tr->x[i], 1e-4);
            assert_near(k.y[i], tr->y[i], 1e-4);
        }
        assert_int_equal(k.outliers + k.interpolated + k.gaps, 0);
        fa_kinematics_free(&k);
        assert_null(k.v);
        track_free(tr);
    }
}

/* ------------------------------------------------------------ the filter's coefficients */

/* Window 5, order 2: the smoothing weights are (-3, 12, 17, 12, -3) / 35 and
 * the derivative weights (-2, -1, 0, 1, 2) / (10 dt) (Savitzky and Golay
 * 1964, table I). A player standing at 0 who is seen once 0.35 m away (an
 * implied 8.75 m/s, under the gate) reveals them: the smoothed x around the
 * bump is 0.35 x (-3, 12, 17, 12, -3) / 35, and the speed two samples before
 * is 0.35 x 2 / (10 x 0.04) = 1.75 m/s, one before 0.875 m/s, at the bump 0. */
static void test_savgol_coefficients(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    assert_int_equal(fa_analytics_config_set(&c, "savgol_window", "5"), 0);
    assert_int_equal(fa_analytics_config_set(&c, "savgol_order", "2"), 0);
    fa_track *tr = track_line(21, 25, 0, 0, 0, 0);
    tr->x[10] = 0.35f;
    fa_kinematics k;
    compute(tr, 25, 0, &c, &k);
    const double w[5] = {-3, 12, 17, 12, -3};
    for (int j = 0; j < 5; j++) assert_near(k.x[8 + j], 0.35 * w[j] / 35, 1e-6);
    assert_near(k.x[5], 0, 1e-7);
    assert_near(k.v[8], 1.75, 1e-5);
    assert_near(k.v[9], 0.875, 1e-5);
    assert_near(k.v[10], 0, 1e-5);
    assert_near(k.v[11], 0.875, 1e-5);
    assert_near(k.v[12], 1.75, 1e-5);
    assert_near(k.v[13], 0, 1e-5);
    fa_kinematics_free(&k);
    track_free(tr);
}

/* A quadratic path (constant acceleration 3 m/s^2 from rest) is reproduced
 * exactly by an order-2 fit at every sample, the ends included: speed 3 t. */
static void test_savgol_order2_exact_at_edges(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    assert_int_equal(fa_analytics_config_set(&c, "savgol_order", "2"), 0);
    fa_track *tr = track_alloc(101);
    for (size_t i = 0; i < tr->n; i++) {
        double t = (double)i / 25;
        tr->t[i] = t;
        tr->x[i] = (float)(1.5 * t * t);
    }
    fa_kinematics k;
    compute(tr, 25, 0, &c, &k);
    for (size_t i = 0; i < k.n; i++) assert_near(k.v[i], 3.0 * (double)i / 25, 5e-4);
    for (size_t i = 0; i < k.n; i++) assert_near(k.a[i], 3.0, 0.02);
    fa_kinematics_free(&k);
    track_free(tr);
}

/* ------------------------------------------------------------ constant acceleration */

/* A run built from a speed profile, each 1/25 s interval advancing by the
 * speed at its midpoint (exact for a piecewise-linear speed whose kinks fall
 * on samples): stand 2 s, +4 m/s^2 for 1.6 s (0 -> 6.4 m/s; samples 50-90),
 * 6.4 m/s for 2.8 s, -4 m/s^2 for 1.6 s (samples 160-200), stand 2 s. */
static fa_track *ramp_track(void) {
    size_t n = 10 * 25 + 1;
    fa_track *tr = track_alloc(n);
    double x = -30;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / 25;
        tr->t[i] = t;
        tr->x[i] = (float)x;
        double ta = t + 0.02;
        double v = ta < 2 ? 0 : ta < 3.6 ? 4 * (ta - 2) : ta < 6.4 ? 6.4 : ta < 8 ? 6.4 - 4 * (ta - 6.4) : 0;
        x += v / 25;
    }
    return tr;
}

/* Order 1 over 7 samples is the least-squares slope: in a symmetric window
 * it is exact for a parabola, so speed is 4 (t - 2) inside the ramp, and the
 * same filter on a linear speed gives exactly 4 m/s^2 wherever its reach
 * (samples i-6..i+6) lies inside the ramp: samples 56-84. */
static void test_constant_acceleration(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_track *tr = ramp_track();
    fa_kinematics k;
    compute(tr, 25, 0, &c, &k);
    assert_near(k.v[70], 3.2, EXACT_V);
    assert_true(max_abs_dev(k.a, 56, 85, 4.0) < 2e-3);
    assert_near(k.v[125], 6.4, EXACT_V);
    assert_near(k.a[125], 0.0, 2e-3);
    assert_near(k.v[180], 3.2, EXACT_V);
    assert_true(max_abs_dev(k.a, 166, 195, -4.0) < 2e-3);
    assert_near(k.v[240], 0.0, EXACT_V);
    assert_near(k.a[240], 0.0, 2e-3);
    fa_kinematics_free(&k);
    track_free(tr);
}

/* ------------------------------------------------------------ gaps */

/* 10 Hz (SkillCorner's rate), 5 m/s: 9 missing samples are a 0.9 s gap,
 * bridged by interpolation (flags, count, speed 5 throughout); 11 missing
 * samples are 1.1 s, not bridged: the track splits, the first sample after
 * is flagged, gap_s is 1.1 and the clock jumps by 1.2 s. */
static void test_gap_0_9_vs_1_1_s(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_track *tr = track_line(601, 10, -30, 0, 5, 0);
    track_drop(tr, 100, 9);
    fa_kinematics k;
    compute(tr, 10, 0, &c, &k);
    assert_int_equal(k.n, 601);
    assert_int_equal(k.interpolated, 9);
    assert_int_equal(k.gaps, 0);
    assert_near(k.gap_s, 0, 0);
    for (size_t i = 100; i < 109; i++) assert_int_equal(k.flags[i], FA_KIN_INTERPOLATED);
    assert_int_equal(k.flags[99], FA_KIN_MEASURED);
    assert_int_equal(k.flags[109], FA_KIN_MEASURED);
    assert_near(k.x[104], -30 + 5 * 10.4, EXACT_X * 10);
    assert_true(max_abs_dev(k.v, 0, k.n, 5.0) < EXACT_V);
    fa_kinematics_free(&k);
    track_free(tr);

    tr = track_line(601, 10, -30, 0, 5, 0);
    track_drop(tr, 100, 11);
    compute(tr, 10, 0, &c, &k);
    assert_int_equal(k.n, 590);
    assert_int_equal(k.interpolated, 0);
    assert_int_equal(k.gaps, 1);
    assert_near(k.gap_s, 1.1, 1e-9);
    assert_int_equal(k.flags[100], FA_KIN_AFTER_GAP);
    assert_near(k.t[100] - k.t[99], 1.2, 1e-9);
    assert_true(max_abs_dev(k.v, 0, k.n, 5.0) < EXACT_V); /* both segments exact up to their ends */
    fa_kinematics_free(&k);
    track_free(tr);
}

/* 25 Hz: 24 missing samples (0.96 s) are bridged, 25 (exactly max_gap_s) are not. */
static void test_gap_edge_25hz(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    size_t missing[2] = {24, 25};
    for (int j = 0; j < 2; j++) {
        fa_track *tr = track_line(500, 25, 0, 0, 0, 2);
        track_drop(tr, 200, missing[j]);
        fa_kinematics k;
        compute(tr, 25, 0, &c, &k);
        assert_int_equal(k.gaps, (size_t)j);
        assert_int_equal(k.interpolated, j ? 0 : 24);
        assert_int_equal(k.n, j ? 475 : 500);
        assert_near(k.gap_s, j ? 1.0 : 0.0, 1e-9);
        fa_kinematics_free(&k);
        track_free(tr);
    }
}

/* ------------------------------------------------------------ outliers */

/* One sample 10 m off a 5 m/s line (250 m/s implied) is dropped before
 * smoothing and its slot interpolated: the speed stays 5 everywhere. */
static void test_outlier_spike(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_track *tr = track_line(1501, 25, -30, 0, 5, 0);
    tr->y[500] += 10;
    fa_kinematics k;
    compute(tr, 25, 0, &c, &k);
    assert_int_equal(k.n, 1501);
    assert_int_equal(k.outliers, 1);
    assert_int_equal(k.interpolated, 1);
    assert_int_equal(k.flags[500], FA_KIN_INTERPOLATED);
    assert_near(k.y[500], 0, EXACT_X);
    assert_true(max_abs_dev(k.v, 0, k.n, 5.0) < EXACT_V);
    fa_kinematics_free(&k);

    /* the same spike on the FIRST sample: nothing before it to compare with;
     * it disagrees with the next sample while the next two agree */
    tr->y[500] -= 10;
    tr->y[0] += 10;
    compute(tr, 25, 0, &c, &k);
    assert_int_equal(k.outliers, 1);
    assert_int_equal(k.n, 1500);
    assert_near(k.t[0], 0.04, 1e-12);
    assert_true(max_abs_dev(k.v, 0, k.n, 5.0) < EXACT_V);
    fa_kinematics_free(&k);
    track_free(tr);
}

/* A ball at 30 m/s passes the ball gate (50 m/s); the same path as a player
 * breaks the 12 m/s gate at every sample, and no speed above 12 survives. */
static void test_ball_gate(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_track *tr = track_line(76, 25, -40, 0, 30, 0);
    fa_kinematics k;
    compute(tr, 25, 1, &c, &k);
    assert_int_equal(k.outliers, 0);
    assert_true(max_abs_dev(k.v, 0, k.n, 30.0) < 1e-3);
    fa_kinematics_free(&k);
    compute(tr, 25, 0, &c, &k);
    /* kept: samples 0, 26, 52 (each restarts after a 1 s run of rejects), the rest dropped */
    assert_int_equal(k.n, 3);
    assert_int_equal(k.outliers, 73);
    assert_int_equal(k.gaps, 2);
    for (size_t i = 0; i < k.n; i++) assert_true(k.v[i] <= 12);
    fa_kinematics_free(&k);
    track_free(tr);
}

/* ------------------------------------------------------------ Butterworth */

/* Constant velocity passes the zero-phase low-pass unchanged, ends included
 * (odd reflection continues a line exactly); a 5 Hz wobble of 5 cm across
 * the path, which plain differences turn into +-1.2 m/s of false sideways
 * velocity (+0.14 m/s of speed), is removed: the zero-phase 1 Hz order-2
 * filter passes 5 Hz at |H|^2 = 1.6e-3, leaving ~1e-4 m/s. */
static void test_butterworth(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_BUTTERWORTH);
    fa_track *tr = track_line(1501, 25, -30, 0, 5, 0);
    fa_kinematics k;
    compute(tr, 25, 0, &c, &k);
    assert_true(max_abs_dev(k.v, 0, k.n, 5.0) < 1e-3);
    assert_true(max_abs_dev(k.x, 0, 1, -30.0) < 1e-3);
    fa_kinematics_free(&k);

    for (size_t i = 0; i < tr->n; i++) tr->y[i] = (float)(0.05 * sin(2 * M_PI * 5 * tr->t[i]));
    fa_analytics_config raw = config(FA_SMOOTH_NONE);
    compute(tr, 25, 0, &raw, &k);
    double raw_dev = max_abs_dev(k.v, 100, 1400, 5.0);
    fa_kinematics_free(&k);
    compute(tr, 25, 0, &c, &k);
    double bw_dev = max_abs_dev(k.v, 100, 1400, 5.0);
    print_message("5 Hz wobble: max |speed - 5| raw %.4f m/s, butterworth %.6f m/s\n", raw_dev, bw_dev);
    assert_true(raw_dev > 0.13);
    assert_true(bw_dev < 5e-4);
    fa_kinematics_free(&k);

    /* a cutoff at or above Nyquist is refused, not silently aliased */
    assert_int_equal(fa_analytics_config_set(&c, "butter_cutoff_hz", "12.5"), 0);
    assert_int_equal(fa_kinematics_compute(tr, 25, 0, &c, &k), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "Nyquist"));
    assert_int_equal(k.n, 0);
    /* odd orders (a first-order section in the cascade) */
    assert_int_equal(fa_analytics_config_set(&c, "butter_cutoff_hz", "2"), 0);
    assert_int_equal(fa_analytics_config_set(&c, "butter_order", "3"), 0);
    for (size_t i = 0; i < tr->n; i++) tr->y[i] = 0;
    compute(tr, 25, 0, &c, &k);
    assert_true(max_abs_dev(k.v, 0, k.n, 5.0) < 1e-3);
    fa_kinematics_free(&k);
    track_free(tr);
}

/* ------------------------------------------------------------ short segments, odd input */

/* Segments of 1, 1, 2 and 5 samples of a 2 m/s run (separated by 2 s gaps)
 * are all shorter than the 7-sample window: plain differences (a lone
 * sample has speed 0), exact for a line, never a read outside the arrays.
 * Butterworth filters the 5-sample piece, exactly too (ramp start-up state). */
static void test_short_segments(void **state) {
    (void)state;
    fa_smoothing methods[] = {FA_SMOOTH_SAVGOL, FA_SMOOTH_BUTTERWORTH, FA_SMOOTH_NONE};
    const size_t keep[] = {0, 50, 100, 101, 150, 151, 152, 153, 154};
    const float want[] = {0, 0, 2, 2, 2, 2, 2, 2, 2};
    for (int m = 0; m < 3; m++) {
        fa_analytics_config c = config(methods[m]);
        fa_track *tr = track_line(200, 25, 0, 0, 2, 0);
        for (size_t i = 0; i < 9; i++) {
            tr->t[i] = tr->t[keep[i]];
            tr->x[i] = tr->x[keep[i]];
            tr->y[i] = tr->y[keep[i]];
        }
        tr->n = 9;
        fa_kinematics k;
        compute(tr, 25, 0, &c, &k);
        assert_int_equal(k.n, 9);
        assert_int_equal(k.gaps, 3);
        assert_int_equal(k.flags[1], FA_KIN_AFTER_GAP);
        assert_int_equal(k.flags[2], FA_KIN_AFTER_GAP);
        assert_int_equal(k.flags[4], FA_KIN_AFTER_GAP);
        assert_near(k.gap_s, (49 + 49 + 48) * 0.04, 1e-9);
        for (size_t i = 0; i < 9; i++) assert_near(k.v[i], want[i], EXACT_V);
        for (size_t i = 0; i < 9; i++) assert_near(k.x[i], tr->x[i], EXACT_X);
        fa_kinematics_free(&k);
        track_free(tr);
    }
}

/* Timestamps jittered by up to +-8 ms snap to the 25 Hz clock; repeated
 * frames (same time) are ignored. */
static void test_jitter_and_repeats(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_track *tr = track_line(251, 25, 0, 0, 4, 0);
    for (size_t i = 1; i + 1 < tr->n; i++) tr->t[i] += (i % 3 == 0 ? 0.008 : i % 3 == 1 ? -0.008 : 0.0);
    fa_kinematics k;
    compute(tr, 25, 0, &c, &k);
    assert_int_equal(k.n, 251);
    for (size_t i = 0; i < k.n; i++) assert_near(k.t[i], i * 0.04, 1e-9);
    assert_true(max_abs_dev(k.v, 0, k.n, 4.0) < EXACT_V);
    fa_kinematics_free(&k);
    track_free(tr);

    tr = track_line(100, 25, 0, 0, 4, 0);
    tr->t[50] = tr->t[49]; /* frame 49 sent twice, the copy with frame 50's position */
    compute(tr, 25, 0, &c, &k);
    assert_int_equal(k.n, 99 + 1); /* slot 50 missing, then interpolated */
    assert_int_equal(k.interpolated, 1);
    assert_true(max_abs_dev(k.v, 0, k.n, 4.0) < EXACT_V);
    fa_kinematics_free(&k);
    track_free(tr);
}

static void test_bad_input(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_kinematics k;
    fa_track *tr = track_line(50, 25, 0, 0, 1, 0);
    tr->t[20] = tr->t[10];
    assert_int_equal(fa_kinematics_compute(tr, 25, 0, &c, &k), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "non-monotonic time at sample 20"));
    assert_int_equal(k.n, 0);
    tr->t[20] = NAN;
    assert_int_equal(fa_kinematics_compute(tr, 25, 0, &c, &k), FA_EINVAL);
    tr->t[20] = 20 / 25.0;

    /* non-finite positions are dropped, counted, and bridged like any missing sample */
    tr->x[30] = NAN;
    tr->y[31] = INFINITY;
    compute(tr, 25, 0, &c, &k);
    assert_int_equal(k.outliers, 2);
    assert_int_equal(k.interpolated, 2);
    assert_true(max_abs_dev(k.v, 0, k.n, 1.0) < EXACT_V);
    fa_kinematics_free(&k);

    assert_int_equal(fa_kinematics_compute(tr, 0, 0, &c, &k), FA_EINVAL);
    assert_int_equal(fa_kinematics_compute(tr, NAN, 0, &c, &k), FA_EINVAL);
    assert_int_equal(fa_kinematics_compute(NULL, 25, 0, &c, &k), FA_EINVAL);
    c.savgol_window = 8; /* set behind config_set's back */
    assert_int_equal(fa_kinematics_compute(tr, 25, 0, &c, &k), FA_EINVAL);
    c = config((fa_smoothing)7);
    assert_int_equal(fa_kinematics_compute(tr, 25, 0, &c, &k), FA_EINVAL);
    track_free(tr);

    /* no samples: an empty result, not an error */
    c = config(FA_SMOOTH_SAVGOL);
    tr = track_alloc(0);
    compute(tr, 25, 0, &c, &k);
    assert_int_equal(k.n, 0);
    fa_kinematics_free(&k);
    track_free(tr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_velocity),
        cmocka_unit_test(test_savgol_coefficients),
        cmocka_unit_test(test_savgol_order2_exact_at_edges),
        cmocka_unit_test(test_constant_acceleration),
        cmocka_unit_test(test_gap_0_9_vs_1_1_s),
        cmocka_unit_test(test_gap_edge_25hz),
        cmocka_unit_test(test_outlier_spike),
        cmocka_unit_test(test_ball_gate),
        cmocka_unit_test(test_butterworth),
        cmocka_unit_test(test_short_segments),
        cmocka_unit_test(test_jitter_and_repeats),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
