/*
 * test_xt.c - the expected-threat grids: Karun Singh's published 12 x 8 values
 * and orientation, the 16 x 12 option recomputed from them, and lookups in
 * metres (zone edges, clamping, missing coordinates, other pitch sizes).
 */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "analytics/analytics.h"
#include "core/core.h"

#define assert_near(a, b, eps)                                                                               \
    do {                                                                                                     \
        double a_ = (a), b_ = (b);                                                                           \
        if (!(fabs(a_ - b_) <= (eps)))                                                                       \
            fail_msg("%s = %.12g, want %.12g (+- %g)", #a, a_, b_, (double)(eps));                           \
    } while (0)

static const fa_pitch pitch = {105.0, 68.0};

static void test_singh_values_and_orientation(void **state) {
    (void)state;
    fa_xt_grid g;
    assert_int_equal(fa_xt_grid_get(12, 8, &g), 0);
    assert_int_equal(g.nx, 12);
    assert_int_equal(g.ny, 8);
    assert_non_null(strstr(g.source, "Karun Singh"));
    assert_null(strstr(g.source, "resampled"));
    /* Corners of the published table, and the maximum in front of the opponent goal. */
    assert_near(g.v[0], 0.00638303, 0);
    assert_near(g.v[11], 0.0379259, 0);
    assert_near(g.v[3 * 12 + 11], 0.25745362, 0);
    assert_near(g.v[4 * 12 + 11], 0.25745362, 0);
    assert_near(g.v[3 * 12 + 10], 0.10805102, 0);
    double max = 0;
    int at = -1;
    for (int k = 0; k < 96; k++)
        if (g.v[k] > max) max = g.v[k], at = k;
    assert_near(max, 0.25745362, 0);
    assert_true(at == 3 * 12 + 11);
    /* Symmetric across the pitch; the column nearest the opponent goal beats the own goal's. */
    for (int j = 0; j < 8; j++) {
        for (int i = 0; i < 12; i++)
            assert_near(g.v[j * 12 + i], g.v[(7 - j) * 12 + i], 0);
        assert_true(g.v[j * 12 + 11] > 5 * g.v[j * 12 + 0]);
    }
    /* Monotone along x on the touchline rows and the last five columns of every row. */
    for (int j = 0; j < 8; j++)
        for (int i = 7; i < 12; i++)
            assert_true(g.v[j * 12 + i] > g.v[j * 12 + i - 1]);
    for (int i = 1; i < 12; i++)
        assert_true(g.v[i] > g.v[i - 1]);
    /* Central rows beat the touchline rows at the opponent goal. */
    assert_true(g.v[3 * 12 + 11] > g.v[2 * 12 + 11] && g.v[2 * 12 + 11] > g.v[1 * 12 + 11]);
}

static void test_lookup_in_metres(void **state) {
    (void)state;
    fa_xt_grid g;
    assert_int_equal(fa_xt_grid_get(12, 8, &g), 0);
    /* The opponent goal's centre (x = +52.5) is the maximum zone; the own goal's centre the lowest of its
     * row. */
    assert_near(fa_xt_at(&g, &pitch, 52.5, 0.0), 0.25745362, 0);
    assert_near(fa_xt_at(&g, &pitch, 50.0, 1.0), 0.25745362, 0);
    assert_near(fa_xt_at(&g, &pitch, 50.0, -1.0), 0.25745362, 0);
    assert_near(fa_xt_at(&g, &pitch, -52.5, 0.0), 0.00941056, 0);
    /* Zone edges: columns are 8.75 m long and rows 8.5 m wide on 105 x 68. */
    assert_near(fa_xt_at(&g, &pitch, 52.5 - 8.75 + 1e-9, 0.0), 0.25745362, 0);
    assert_near(fa_xt_at(&g, &pitch, 52.5 - 8.75 - 1e-9, 0.0), 0.10805102, 0);
    assert_near(fa_xt_at(&g, &pitch, 50.0, 8.5 + 1e-9), 0.06442595, 0);
    assert_near(fa_xt_at(&g, &pitch, 0.0 - 1e-9, 0.0), 0.01484598, 0);
    assert_near(fa_xt_at(&g, &pitch, 0.0, 0.0), 0.01689528, 0);
    /* Off the pitch: clamped to the nearest zone; a corner flag is a corner zone. */
    assert_near(fa_xt_at(&g, &pitch, 70.0, 0.0), 0.25745362, 0);
    assert_near(fa_xt_at(&g, &pitch, -80.0, 50.0), 0.00638303, 0);
    assert_near(fa_xt_at(&g, &pitch, 52.5, 34.0), 0.0379259, 0);
    assert_near(fa_xt_at(&g, &pitch, 52.5, -34.0), 0.0379259, 0);
    /* Missing coordinates have no value; NULL or broken pitch means 105 x 68. */
    assert_true(isnan(fa_xt_at(&g, &pitch, NAN, 0.0)));
    assert_true(isnan(fa_xt_at(&g, &pitch, 0.0, INFINITY)));
    assert_true(isnan(fa_xt_at(NULL, &pitch, 0.0, 0.0)));
    assert_near(fa_xt_at(&g, NULL, 50.0, 0.0), 0.25745362, 0);
    fa_pitch broken = {NAN, -3};
    assert_near(fa_xt_at(&g, &broken, 50.0, 0.0), 0.25745362, 0);
    /* Another pitch size scales the zones: 100 x 64 has 8.333 m columns. */
    fa_pitch small = {100.0, 64.0};
    assert_near(fa_xt_at(&g, &small, 50.0 - 8.4, 0.0), 0.10805102, 0);
    assert_near(fa_xt_at(&g, &small, 50.0 - 8.3, 0.0), 0.25745362, 0);
}

/* Bilinear value of the 12 x 8 grid at fractional cell-centre coordinates. */
static double bilinear(const fa_xt_grid *g, double s, double t) {
    s = s < 0 ? 0 : s > g->nx - 1 ? g->nx - 1 : s;
    t = t < 0 ? 0 : t > g->ny - 1 ? g->ny - 1 : t;
    int i = (int)floor(s), j = (int)floor(t);
    if (i > g->nx - 2) i = g->nx - 2;
    if (j > g->ny - 2) j = g->ny - 2;
    double fx = s - i, fy = t - j;
    double lo = g->v[j * g->nx + i] * (1 - fx) + g->v[j * g->nx + i + 1] * fx;
    double hi = g->v[(j + 1) * g->nx + i] * (1 - fx) + g->v[(j + 1) * g->nx + i + 1] * fx;
    return lo * (1 - fy) + hi * fy;
}

static void test_resampled_16x12(void **state) {
    (void)state;
    fa_xt_grid coarse, fine;
    assert_int_equal(fa_xt_grid_get(12, 8, &coarse), 0);
    assert_int_equal(fa_xt_grid_get(16, 12, &fine), 0);
    assert_int_equal(fine.nx, 16);
    assert_int_equal(fine.ny, 12);
    assert_non_null(strstr(fine.source, "resampled"));
    assert_non_null(strstr(fine.source, "Karun Singh"));
    /* Every cell is the bilinear mix of the published cells around its centre. */
    for (int j = 0; j < 12; j++)
        for (int i = 0; i < 16; i++) {
            double s = (i + 0.5) / 16 * 12 - 0.5, t = (j + 0.5) / 12 * 8 - 0.5;
            assert_near(fine.v[j * 16 + i], bilinear(&coarse, s, t), 1e-12);
        }
    /* Same maximum, at the opponent goal's centre, and the same symmetry. */
    assert_near(fa_xt_at(&fine, &pitch, 52.0, 0.5), 0.25745362, 1e-12);
    for (int j = 0; j < 12; j++)
        for (int i = 0; i < 16; i++) {
            assert_near(fine.v[j * 16 + i], fine.v[(11 - j) * 16 + i], 1e-12);
            assert_true(fine.v[j * 16 + i] <= 0.25745362 + 1e-12);
            assert_true(fine.v[j * 16 + i] >= 0.00638303 - 1e-12);
        }
    /* Both grids agree closely away from the goal mouth (smooth region). */
    for (double x = -45; x <= 30; x += 5)
        for (double y = -30; y <= 30; y += 5)
            assert_near(fa_xt_at(&fine, &pitch, x, y), fa_xt_at(&coarse, &pitch, x, y), 0.004);
}

static void test_bad_sizes(void **state) {
    (void)state;
    fa_xt_grid g;
    assert_int_equal(fa_xt_grid_get(10, 7, &g), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "10x7"));
    assert_int_equal(fa_xt_grid_get(8, 12, &g), FA_EINVAL);
    assert_int_equal(fa_xt_grid_get(0, 0, &g), FA_EINVAL);
    assert_int_equal(fa_xt_grid_get(12, 8, NULL), FA_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_singh_values_and_orientation),
        cmocka_unit_test(test_lookup_in_metres),
        cmocka_unit_test(test_resampled_16x12),
        cmocka_unit_test(test_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
