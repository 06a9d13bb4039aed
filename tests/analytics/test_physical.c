/*
 * test_physical.c - distance, speed bands, efforts, peaks and per-90 rates,
 * first on constructed trajectories and hand-built speed series whose
 * answers follow from the definitions in physical.c, then on the real
 * tracking excerpts (Metrica EPTS, SkillCorner v3) for plausibility.
 *
 * Tolerances: positions are float, so speeds from the filters are exact to
 * ~1e-4 m/s and a 60 s distance to ~1e-3 m; the issue's +-0.5 m for 300 m is
 * looser than what is asserted where the construction allows.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "ingest/ingest.h"
#include "testutil.h"

/* cmocka 1.1's assert_float_equal works in float: compare doubles here. */
#define assert_near(a, b, tol) near_((double)(a), (double)(b), (double)(tol), __FILE__, __LINE__)
static void near_(double a, double b, double tol, const char *file, int line) {
    if (fabs(a - b) <= tol) return;
    print_error("%.10g != %.10g (tolerance %g)\n", a, b, tol);
    _fail(file, line);
}

/* ------------------------------------------------------------ building inputs */

static fa_track *track_alloc(size_t n) {
    fa_track *tr = calloc(1, sizeof *tr);
    assert_non_null(tr);
    strcpy(tr->id, "p9");
    tr->side = FA_SIDE_AWAY;
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

/* n samples at fr Hz along +x from x0; interval i (between samples i and
 * i + 1) is covered at speed u[i]. */
static fa_track *track_profile(size_t n, double fr, double x0, const double *u) {
    fa_track *tr = track_alloc(n);
    double x = x0;
    for (size_t i = 0; i < n; i++) {
        tr->t[i] = (double)i / fr;
        tr->x[i] = (float)x;
        if (i + 1 < n) x += u[i] / fr;
    }
    return tr;
}

static fa_track *track_const(size_t n, double fr, double x0, double speed) {
    double *u = malloc(n * sizeof *u);
    for (size_t i = 0; i < n; i++) u[i] = speed;
    fa_track *tr = track_profile(n, fr, x0, u);
    free(u);
    return tr;
}

static fa_analytics_config config(fa_smoothing s) {
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    c.smoothing = s;
    return c;
}

/* Kinematics of one track, then the physical figures of that single period. */
static fa_physical physical_of(const fa_track *tr, double fr, const fa_analytics_config *c) {
    fa_kinematics k;
    int rc = fa_kinematics_compute(tr, fr, 0, c, &k);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    const fa_kinematics *kin[1] = {&k};
    fa_physical ph;
    rc = fa_physical_compute(kin, 1, c, &ph);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    fa_kinematics_free(&k);
    return ph;
}

/* A hand-made kinematics result: one segment of n samples at 25 Hz with the given speeds. */
static fa_kinematics kin_of(const float *v, size_t n) {
    fa_kinematics k;
    memset(&k, 0, sizeof k);
    k.n = n;
    k.dt = 0.04;
    k.t = calloc(n, sizeof *k.t);
    k.x = calloc(n, sizeof *k.x);
    k.y = calloc(n, sizeof *k.y);
    k.v = calloc(n, sizeof *k.v);
    k.a = calloc(n, sizeof *k.a);
    k.flags = calloc(n, 1);
    assert_true(k.t && k.x && k.y && k.v && k.a && k.flags);
    for (size_t i = 0; i < n; i++) k.t[i] = 0.04 * (double)i, k.v[i] = v[i];
    return k;
}

static fa_physical physical_kin(const fa_kinematics *k, const fa_analytics_config *c) {
    const fa_kinematics *kin[1] = {k};
    fa_physical ph;
    assert_int_equal(fa_physical_compute(kin, 1, c, &ph), 0);
    return ph;
}

/* ------------------------------------------------------------ distance */

/* 5 m/s for 60 s at 25 Hz (1501 samples, 1500 intervals of 0.2 m) is 300 m
 * with every smoothing method; 18 km/h is all "running" and, being the
 * player's peak, all in the top relative band; no effort of any kind. */
static void test_constant_300m(void **state) {
    (void)state;
    fa_smoothing methods[] = {FA_SMOOTH_SAVGOL, FA_SMOOTH_BUTTERWORTH, FA_SMOOTH_NONE};
    for (int m = 0; m < 3; m++) {
        fa_analytics_config c = config(methods[m]);
        fa_track *tr = track_const(1501, 25, -40, 5);
        fa_physical ph = physical_of(tr, 25, &c);
        assert_near(ph.distance, 300.0, 2e-3);
        assert_near(ph.seconds, 60.04, 1e-9);
        assert_near(ph.band_distance[3], 300.0, 2e-3);
        double others = ph.band_distance[0] + ph.band_distance[1] + ph.band_distance[2] +
                        ph.band_distance[4] + ph.band_distance[5];
        assert_near(others, 0, 0);
        assert_near(ph.rel_band_distance[5], 300.0, 2e-3);
        assert_int_equal(ph.sprints + ph.hsr_runs + ph.accelerations + ph.decelerations, 0);
        assert_near(ph.peak_speed, 5.0, 2e-4);
        assert_near(ph.p99_speed, 5.0, 2e-4);
        assert_int_equal(ph.outliers + ph.interpolated + ph.gaps, 0);
        track_free(tr);
    }
}

/* 10 Hz, 5 m/s for 60 s (601 samples) with 9 or 11 samples missing after
 * sample 99: the 0.9 s gap is interpolated and the distance stays 300 m;
 * the 1.1 s gap is not bridged and nothing is counted across it: 99 + 489
 * intervals of 0.5 m = 294 m, over 590 samples = 59.0 s. */
static void test_gap_distance(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    size_t missing[2] = {9, 11};
    for (int j = 0; j < 2; j++) {
        fa_track *tr = track_const(601, 10, -40, 5);
        size_t from = 100, cnt = missing[j], rest = tr->n - from - cnt;
        memmove(tr->t + from, tr->t + from + cnt, rest * sizeof *tr->t);
        memmove(tr->x + from, tr->x + from + cnt, rest * sizeof *tr->x);
        tr->n -= cnt;
        fa_physical ph = physical_of(tr, 10, &c);
        assert_near(ph.distance, j ? 294.0 : 300.0, 2e-3);
        assert_near(ph.seconds, j ? 59.0 : 60.1, 1e-9);
        assert_int_equal(ph.gaps, (size_t)j);
        assert_near(ph.gap_s, j ? 1.1 : 0.0, 1e-9);
        assert_int_equal(ph.interpolated, j ? 0 : 9);
        track_free(tr);
    }
}

/* A 10 m spike at one sample is gated out: the distance is the clean 300 m
 * and outliers == 1. With the gate opened (1000 m/s) the filter spreads the
 * spike over 7 samples of up to 27 m/s of sideways speed: +3.3 m of false
 * running (plain differences would add ~9.6 m). */
static void test_outlier_distance(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_track *tr = track_const(1501, 25, -40, 5);
    tr->y[700] = 10;
    fa_physical ph = physical_of(tr, 25, &c);
    assert_near(ph.distance, 300.0, 2e-3);
    assert_int_equal(ph.outliers, 1);
    assert_int_equal(ph.interpolated, 1);
    assert_near(ph.peak_speed, 5.0, 2e-4);
    assert_int_equal(fa_analytics_config_set(&c, "player_max_speed", "1000"), 0);
    ph = physical_of(tr, 25, &c);
    assert_true(ph.distance > 303);
    assert_int_equal(ph.outliers, 0);
    track_free(tr);
}

/* Two periods through the whole chain (frames -> tracks -> kinematics ->
 * physical). The player walks +x at 1.25 m/s for 60 s in each half (75 m),
 * ending the first at x = 35 and starting the second at x = -45, 80 m back:
 * 150 m in all, never the 80 m between the halves, over 2 x 60.04 s. */
static void test_half_time_not_counted(void **state) {
    (void)state;
    fa_tracking tr;
    fa_pitch pitch = {105, 68};
    assert_int_equal(fa_tracking_init(&tr, &pitch, 25), 0);
    for (int period = 1; period <= 2; period++)
        for (int i = 0; i <= 1500; i++) {
            fa_frame_player p = {"p9", FA_SIDE_AWAY, (float)((period == 1 ? -40 : -45) + 1.25 * i * 0.04), 3};
            fa_frame f;
            fa_frame_init(&f);
            f.frame = i;
            f.period = period;
            f.t = i * 0.04;
            f.n = 1;
            f.players = &p;
            assert_int_equal(fa_tracking_add(&tr, &f), 0);
        }
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_kinematics k[2];
    const fa_kinematics *kin[2] = {&k[0], &k[1]};
    for (int p = 0; p < 2; p++) {
        const fa_track *t = fa_tracking_find(&tr, "p9", p + 1);
        assert_non_null(t);
        assert_int_equal(t->n, 1501);
        assert_int_equal(fa_kinematics_compute(t, tr.frame_rate, 0, &c, &k[p]), 0);
    }
    fa_physical ph;
    assert_int_equal(fa_physical_compute(kin, 2, &c, &ph), 0);
    assert_near(ph.distance, 150.0, 2e-3);
    assert_near(ph.seconds, 120.08, 1e-9);
    assert_near(ph.peak_speed, 1.25, 2e-4);
    assert_near(ph.p99_speed, 1.25, 2e-4);
    fa_kinematics_free(&k[0]);
    fa_kinematics_free(&k[1]);
    fa_tracking_free(&tr);
}

/* ------------------------------------------------------------ sprints at the band edge */

/* A sprint is >= 25.2 km/h (7 m/s) held >= 1 s, i.e. >= 25 samples at 25 Hz
 * (a sample stands for 0.04 s). Efforts are measured on the filtered speed,
 * so the trajectory is built for the filter: 3 m/s, then L intervals at
 * exactly 7 m/s, then 3 m/s again.
 *   savgol (7-sample least-squares slope): a sample reads exactly 7 only when
 *     all 6 intervals of its window are at 7, so L intervals give L - 5
 *     samples at the edge; the next sample out sees one 3 m/s interval with
 *     weight 3/28 and reads 7 - 4 x 3/28 = 6.57 m/s, far below the edge.
 *     L = 30 -> 25 samples = 1.00 s: one sprint; L = 29 -> 0.96 s: none.
 *   none (central differences): a sample averages its two intervals, so
 *     L intervals give L - 1 samples at 7 and the neighbours read 5 m/s.
 *     L = 26 -> 25 samples: one sprint; L = 25 -> 24: none.
 * The speed at the edge comes out 7 +- ~4e-5 m/s (float positions); the
 * 1e-4 m/s tolerance of physical.c makes "exactly 25.2 km/h" count. The
 * sprint's distance is 25 samples x 0.04 s x 7 m/s = 7 m. The high-speed run
 * (>= 5.5 m/s): with savgol the ramp samples at 5.86 and 6.57 m/s lengthen
 * it by 4 samples, so it counts in both cases; with plain differences the
 * neighbours read 5 m/s, so it is exactly as long as the sprint run. */
static void sprint_case(fa_smoothing s, size_t L, int want, int want_hsr) {
    double u[400];
    for (size_t i = 0; i < 400; i++) u[i] = i >= 100 && i < 100 + L ? 7.0 : 3.0;
    fa_track *tr = track_profile(400, 25, -50, u);
    fa_analytics_config c = config(s);
    fa_physical ph = physical_of(tr, 25, &c);
    assert_int_equal(ph.sprints, want);
    assert_near(ph.sprint_distance, want ? 7.0 : 0.0, 1e-3);
    assert_int_equal(ph.hsr_runs, want_hsr);
    assert_near(ph.peak_speed, 7.0, 1e-4);
    track_free(tr);
}

static void test_sprint_exactly_one_second(void **state) {
    (void)state;
    sprint_case(FA_SMOOTH_SAVGOL, 30, 1, 1);
    sprint_case(FA_SMOOTH_SAVGOL, 29, 0, 1);
    sprint_case(FA_SMOOTH_NONE, 26, 1, 1);
    sprint_case(FA_SMOOTH_NONE, 25, 0, 0);
}

/* The counting rule alone, on hand-made speeds: 25 samples at 7.0f between
 * samples at 6 m/s are one sprint of 7 m; 24 samples are none. */
static void test_sprint_counting_rule(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    for (size_t run = 24; run <= 25; run++) {
        float v[100];
        for (size_t i = 0; i < 100; i++) v[i] = i >= 40 && i < 40 + run ? 7.0f : 6.0f;
        fa_kinematics k = kin_of(v, 100);
        fa_physical ph = physical_kin(&k, &c);
        assert_int_equal(ph.sprints, run == 25);
        assert_near(ph.sprint_distance, run == 25 ? 7.0 : 0.0, 1e-5);
        assert_int_equal(ph.hsr_runs, 1);
        assert_near(ph.hsr_distance, 99 * 0.04 * 6 + run * 0.04, 1e-4);
        fa_kinematics_free(&k);
    }
}

/* ------------------------------------------------------------ accelerations */

/* The 1.6 s ramps of +-4 m/s^2 (test_kinematics' run): one acceleration,
 * one deceleration; 6.4 m/s cruising is a high-speed run, not a sprint; the
 * distance is 2 x (4 x 1.6^2 / 2) + 6.4 x 2.8 = 28.16 m. */
static void test_accelerations_ramp(void **state) {
    (void)state;
    double u[250];
    for (size_t i = 0; i < 250; i++) {
        double ta = (double)i / 25 + 0.02;
        u[i] = ta < 2 ? 0 : ta < 3.6 ? 4 * (ta - 2) : ta < 6.4 ? 6.4 : ta < 8 ? 6.4 - 4 * (ta - 6.4) : 0;
    }
    fa_track *tr = track_profile(251, 25, -30, u);
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_physical ph = physical_of(tr, 25, &c);
    assert_int_equal(ph.accelerations, 1);
    assert_int_equal(ph.decelerations, 1);
    assert_int_equal(ph.sprints, 0);
    assert_int_equal(ph.hsr_runs, 1);
    assert_near(ph.distance, 28.16, 2e-3);
    assert_near(ph.peak_speed, 6.4, 2e-4);
    track_free(tr);
}

/* Held >= 0.5 s means >= 13 samples at 25 Hz. With plain differences a ramp
 * of L intervals at 4 m/s^2 from rest reads: speed exact inside, so the
 * acceleration is 4 on samples S+2..S+L-2, 3.5 on S+1 and S+L-1 (half an
 * interval of ramp missing from the speed next to the kink) and 2 on S and
 * S+L: L - 1 samples above 3 m/s^2. L = 14 (0.56 s) -> 13 samples: one
 * acceleration; L = 13 -> 12 samples: none. */
static void test_acceleration_min_duration(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_NONE);
    for (size_t L = 13; L <= 14; L++) {
        double u[200];
        for (size_t i = 0; i < 200; i++)
            u[i] = i < 50 ? 0 : i < 50 + L ? 4 * ((double)(i - 50) + 0.5) / 25 : 4.0 * L / 25;
        fa_track *tr = track_profile(200, 25, -30, u);
        fa_physical ph = physical_of(tr, 25, &c);
        assert_int_equal(ph.accelerations, L == 14);
        assert_int_equal(ph.decelerations, 0);
        track_free(tr);
    }
}

/* ------------------------------------------------------------ peak, percentile, bands */

/* Peak = highest speed held >= 0.5 s (13 samples). 5 m/s with a burst of L
 * intervals at 8 m/s, plain differences: L - 1 samples at 8, neighbours 6.5.
 * L = 14: 13 samples at 8, peak 8; L = 13: every 13-sample window holds a
 * 6.5, peak 6.5. The instantaneous maximum is 8 both times. */
static void test_peak_held(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_NONE);
    for (size_t L = 13; L <= 14; L++) {
        double u[300];
        for (size_t i = 0; i < 300; i++) u[i] = i >= 100 && i < 100 + L ? 8 : 5;
        fa_track *tr = track_profile(300, 25, -40, u);
        fa_physical ph = physical_of(tr, 25, &c);
        assert_near(ph.peak_speed, L == 14 ? 8.0 : 6.5, 2e-4);
        track_free(tr);
    }
}

/* p99 is the exact percentile, linear between closest ranks: speeds 0..100
 * in a scrambled order give 99; 0..99 give 98.01; all equal give that value.
 * Peak held over increasing speeds 0..100 is 88 (the window 88..100). */
static void test_p99_and_peak_on_known_series(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    float v[101];
    for (size_t i = 0; i < 101; i++) v[i] = (float)((i * 37) % 101); /* a permutation of 0..100 */
    fa_kinematics k = kin_of(v, 101);
    assert_near(physical_kin(&k, &c).p99_speed, 99.0, 1e-9);
    fa_kinematics_free(&k);
    for (size_t i = 0; i < 100; i++) v[i] = (float)((i * 37) % 100 == 0 ? 0 : (i * 37) % 100);
    k = kin_of(v, 100);
    assert_near(physical_kin(&k, &c).p99_speed, 98.01, 1e-9);
    fa_kinematics_free(&k);
    float zeros[1000] = {0};
    k = kin_of(zeros, 1000);
    fa_physical ph = physical_kin(&k, &c);
    assert_near(ph.p99_speed, 0, 0);
    assert_near(ph.peak_speed, 0, 0);
    assert_near(ph.distance, 0, 0);
    fa_kinematics_free(&k);
    for (size_t i = 0; i < 101; i++) v[i] = (float)i;
    k = kin_of(v, 101);
    assert_near(physical_kin(&k, &c).peak_speed, 88.0, 0);
    fa_kinematics_free(&k);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* The percentile against a sorted copy, on 200,000 speeds with many ties
 * (0.01 m/s steps, a fifth of them 0) spread over two periods. */
static void test_p99_against_sort(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    size_t n = 200000, half = 120000;
    float *v = malloc(n * sizeof *v), *sorted = malloc(n * sizeof *v);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v[i] = x % 5 == 0 ? 0.0f : (float)(x % 1100) / 100.0f;
    }
    memcpy(sorted, v, n * sizeof *v);
    qsort(sorted, n, sizeof *sorted, cmp_float);
    double h = 0.99 * (double)(n - 1);
    size_t lo = (size_t)h;
    double want = sorted[lo] + (h - (double)lo) * ((double)sorted[lo + 1] - sorted[lo]);
    fa_kinematics a = kin_of(v, half), b = kin_of(v + half, n - half);
    const fa_kinematics *kin[2] = {&a, &b};
    fa_physical ph;
    assert_int_equal(fa_physical_compute(kin, 2, &c, &ph), 0);
    assert_near(ph.p99_speed, want, 1e-12);
    print_message("p99 of 200000 tied speeds: %.6f (sorted reference %.6f)\n", ph.p99_speed, want);
    fa_kinematics_free(&a);
    fa_kinematics_free(&b);
    free(v);
    free(sorted);
}

/* Band edges (km/h, [lo, hi)): 7.0f m/s is 25.2 km/h, sprinting; so is a
 * speed 5e-5 m/s under it (float noise); 2e-4 m/s under is high-speed
 * running; 5.5 m/s = 19.8 km/h is high-speed running; 2 m/s = 7.2 km/h is
 * jogging; 0.7 km/h walking; 0.1 m/s standing. 11 samples = 10 intervals. */
static void test_band_edges(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    const struct {
        float v;
        int band;
    } cases[] = {{7.0f, 5}, {6.99995f, 5}, {6.9998f, 4}, {5.5f, 4}, {2.0f, 2}, {0.7f / 3.6f, 1}, {0.1f, 0},
                 {20.0f, 5}};
    for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
        float v[11];
        for (int i = 0; i < 11; i++) v[i] = cases[j].v;
        fa_kinematics k = kin_of(v, 11);
        fa_physical ph = physical_kin(&k, &c);
        for (int b = 0; b < c.nbands; b++)
            assert_near(ph.band_distance[b], b == cases[j].band ? ph.distance : 0, 0);
        assert_near(ph.distance, 10 * 0.04 * cases[j].v, 1e-9);
        fa_kinematics_free(&k);
    }
}

/* Relative bands: 751 samples at 5 m/s then 750 at 2 m/s (one segment). The
 * peak is 5, so 5 m/s is 100 % (top band) and 2 m/s is 40 % (40-60 band).
 * Trapezoid weights: 750.5 x 0.04 s at 5 = 150.1 m, 749.5 x 0.04 s at 2 =
 * 59.96 m; the absolute bands split the same way (18 km/h running, 7.2 km/h
 * exactly the jogging edge). */
static void test_relative_bands(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    float *v = malloc(1501 * sizeof *v);
    for (size_t i = 0; i < 1501; i++) v[i] = i <= 750 ? 5.0f : 2.0f;
    fa_kinematics k = kin_of(v, 1501);
    fa_physical ph = physical_kin(&k, &c);
    assert_near(ph.peak_speed, 5.0, 0);
    assert_near(ph.distance, 210.06, 1e-6);
    assert_near(ph.rel_band_distance[5], 150.1, 1e-6);
    assert_near(ph.rel_band_distance[1], 59.96, 1e-6);
    assert_near(ph.band_distance[3], 150.1, 1e-6);
    assert_near(ph.band_distance[2], 59.96, 1e-6);
    fa_kinematics_free(&k);
    free(v);
}

static void test_per90(void **state) {
    (void)state;
    assert_near(fa_per90(10, 45), 20.0, 1e-12);
    assert_near(fa_per90(7, 90), 7.0, 1e-12);
    assert_true(isnan(fa_per90(5, 0)));
    assert_true(isnan(fa_per90(5, -3)));
    assert_true(isnan(fa_per90(5, NAN)));
}

/* A player with no frames, NULL periods, and inconsistent input. */
static void test_no_data_and_bad_input(void **state) {
    (void)state;
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    fa_physical ph;
    assert_int_equal(fa_physical_compute(NULL, 0, &c, &ph), 0);
    assert_near(ph.distance, 0, 0);
    assert_near(ph.seconds, 0, 0);
    assert_true(isnan(ph.peak_speed));
    assert_true(isnan(ph.p99_speed));
    const fa_kinematics *none[2] = {NULL, NULL};
    assert_int_equal(fa_physical_compute(none, 2, &c, &ph), 0);
    assert_true(isnan(ph.peak_speed));

    /* 5 samples: too short to hold a speed for 13 samples, so the peak and the
     * relative bands are unknown (NAN), while distance and p99 are known */
    float v[5] = {1, 1, 1, 1, 1};
    fa_kinematics k = kin_of(v, 5);
    ph = physical_kin(&k, &c);
    assert_near(ph.distance, 0.16, 1e-9);
    assert_true(isnan(ph.peak_speed));
    assert_true(isnan(ph.rel_band_distance[0]));
    assert_near(ph.p99_speed, 1, 0);

    const fa_kinematics *kin[1] = {&k};
    k.dt = 0;
    assert_int_equal(fa_physical_compute(kin, 1, &c, &ph), FA_EINVAL);
    k.dt = 0.04;
    c.nbands = 9;
    assert_int_equal(fa_physical_compute(kin, 1, &c, &ph), FA_EINVAL);
    c = config(FA_SMOOTH_SAVGOL);
    c.bands[2].lo = 30; /* out of order, set behind config_set's back */
    assert_int_equal(fa_physical_compute(kin, 1, &c, &ph), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "speed band"));
    c = config(FA_SMOOTH_SAVGOL);
    assert_int_equal(fa_physical_compute(kin, 1, NULL, &ph), FA_EINVAL);
    assert_int_equal(fa_physical_compute(NULL, 1, &c, &ph), FA_EINVAL);
    fa_kinematics_free(&k);
}

/* ------------------------------------------------------------ real data */

typedef struct collect {
    fa_tracking tr;
    int init_rc, add_rc;
} collect;

static int on_begin(void *ud, const fa_match *m) {
    collect *c = ud;
    c->init_rc = fa_tracking_init(&c->tr, &m->pitch, m->frame_rate > 0 ? m->frame_rate : 25);
    return c->init_rc;
}

static int on_frame(void *ud, const fa_frame *f) {
    collect *c = ud;
    int rc = fa_tracking_add(&c->tr, f);
    if (rc && !c->add_rc) c->add_rc = rc;
    return rc;
}

/* Raw path length of a track (sum of displacements between consecutive samples). */
static double raw_path(const fa_track *t) {
    double d = 0;
    for (size_t i = 1; i < t->n; i++)
        d += hypot((double)t->x[i] - t->x[i - 1], (double)t->y[i] - t->y[i - 1]);
    return d;
}

/* Every player of an imported match: kinematics per period, physical over
 * the match; prints the figures; checks they are plausible: no speed above
 * the 12 m/s gate, average speed under 8 m/s, the smoothed distance within
 * 5 % (+5 cm) of the raw path length (smoothing removes jitter; it must not
 * invent or lose real movement), ball speeds under 50 m/s. Returns the
 * number of players. */
static int check_players(const char *name, const fa_tracking *tr, double *total_distance) {
    fa_analytics_config c = config(FA_SMOOTH_SAVGOL);
    int players = 0;
    *total_distance = 0;
    print_message("%s: %zu frames at %g Hz, %zu tracks, %zu samples rejected\n", name, tr->nframes,
                  tr->frame_rate, tr->ntracks, tr->rejected);
    print_message("  %-10s %-4s %7s %9s %8s %9s %8s %4s\n", "player", "side", "seconds", "distance", "m/min",
                  "peak m/s", "p99 m/s", "gaps");
    for (size_t i = 0; i < tr->ntracks; i++) {
        const fa_track *first = &tr->tracks[i];
        int seen = 0;
        for (size_t j = 0; j < i; j++) seen |= strcmp(tr->tracks[j].id, first->id) == 0;
        if (seen) continue;
        fa_kinematics k[5];
        const fa_kinematics *kin[5];
        size_t n = 0;
        double raw = 0;
        for (int p = 1; p <= 5; p++) {
            const fa_track *t = fa_tracking_find(tr, first->id, p);
            if (!t) continue;
            int is_ball = strcmp(t->id, FA_BALL_ID) == 0;
            assert_int_equal(fa_kinematics_compute(t, tr->frame_rate, is_ball, &c, &k[n]), 0);
            for (size_t s = 0; s < k[n].n; s++) assert_true(k[n].v[s] <= (is_ball ? 50 : 12));
            raw += raw_path(t);
            kin[n] = &k[n];
            n++;
        }
        fa_physical ph;
        assert_int_equal(fa_physical_compute(kin, n, &c, &ph), 0);
        if (strcmp(first->id, FA_BALL_ID) != 0) {
            players++;
            *total_distance += ph.distance;
            print_message("  %-10s %-4s %7.2f %9.2f %8.1f %9.2f %8.2f %4zu\n", first->id,
                          fa_side_name(first->side), ph.seconds, ph.distance, ph.distance / ph.seconds * 60,
                          ph.peak_speed, ph.p99_speed, ph.gaps);
            assert_true(ph.seconds > 0);
            assert_true(ph.distance <= 8 * ph.seconds);
            assert_true(fabs(ph.distance - raw) <= 0.05 * raw + 0.05);
        } else {
            print_message("  ball: %.2f s, %.2f m, peak %.2f m/s, %zu outliers, %zu gaps\n", ph.seconds,
                          ph.distance, ph.peak_speed, ph.outliers, ph.gaps);
        }
        for (size_t p = 0; p < n; p++) fa_kinematics_free(&k[p]);
    }
    return players;
}

static void test_real_metrica_epts(void **state) {
    (void)state;
    const char *meta = fa_test_data("tracking/metrica/epts_excerpt_metadata.xml");
    const char *track = fa_test_data("tracking/metrica/epts_excerpt_tracking.txt");
    FA_TEST_REQUIRE_DATA(meta);
    collect col = {0};
    fa_sink sink = {&col, on_begin, NULL, NULL, on_frame, NULL};
    int rc = fa_epts_import(meta, track, &sink);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_int_equal(col.tr.nframes, 100);
    double total;
    int players = check_players("Metrica EPTS excerpt", &col.tr, &total);
    assert_int_equal(players, 19); /* 22 in the metadata, 3 never seen in the excerpt (NaN) */
    assert_int_equal(col.tr.ntracks, 2 * (19 + 1));
    assert_int_equal(col.tr.rejected, 0);
    print_message("  all players: %.1f m\n", total);
    fa_tracking_free(&col.tr);
}

static void test_real_skillcorner(void **state) {
    (void)state;
    const char *meta = fa_test_data("tracking/skillcorner/kloppy_skillcorner_meta_data.json");
    const char *track = fa_test_data("tracking/skillcorner/kloppy_skillcorner_v3_raw_data.jsonl");
    FA_TEST_REQUIRE_DATA(meta);
    collect col = {0};
    fa_sink sink = {&col, on_begin, NULL, NULL, on_frame, NULL};
    int rc = fa_skillcorner_import(meta, track, &sink);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_int_equal(col.tr.nframes, 27);
    double total;
    int players = check_players("SkillCorner v3 frames", &col.tr, &total);
    assert_int_equal(players, 31); /* 22 per period; 9 different ones in the period-2 frames */
    assert_int_equal(col.tr.ntracks, 2 * (22 + 1));
    assert_int_equal(col.tr.rejected, 0);
    print_message("  all players: %.1f m\n", total);
    fa_tracking_free(&col.tr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_300m),
        cmocka_unit_test(test_gap_distance),
        cmocka_unit_test(test_outlier_distance),
        cmocka_unit_test(test_half_time_not_counted),
        cmocka_unit_test(test_sprint_exactly_one_second),
        cmocka_unit_test(test_sprint_counting_rule),
        cmocka_unit_test(test_accelerations_ramp),
        cmocka_unit_test(test_acceleration_min_duration),
        cmocka_unit_test(test_peak_held),
        cmocka_unit_test(test_p99_and_peak_on_known_series),
        cmocka_unit_test(test_p99_against_sort),
        cmocka_unit_test(test_band_edges),
        cmocka_unit_test(test_relative_bands),
        cmocka_unit_test(test_per90),
        cmocka_unit_test(test_no_data_and_bad_input),
        cmocka_unit_test(test_real_metrica_epts),
        cmocka_unit_test(test_real_skillcorner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
