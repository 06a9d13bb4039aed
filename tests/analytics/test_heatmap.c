/* test_heatmap.c - occupancy grids: seconds per cell, orientation per side and period, edges, smoothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "testutil.h"

static const fa_pitch pitch = {105, 68};

/* A track of n samples at (x, y) in the given period (25 Hz clock). */
static fa_track *still_track(int period, size_t n, float x, float y) {
    fa_track *tr = calloc(1, sizeof *tr);
    assert_non_null(tr);
    strcpy(tr->id, "p7");
    tr->side = FA_SIDE_HOME;
    tr->period = period;
    tr->n = tr->cap = n;
    tr->t = calloc(n ? n : 1, sizeof *tr->t);
    tr->x = calloc(n ? n : 1, sizeof *tr->x);
    tr->y = calloc(n ? n : 1, sizeof *tr->y);
    assert_true(tr->t && tr->x && tr->y);
    for (size_t k = 0; k < n; k++) {
        tr->t[k] = (double)k / 25.0;
        tr->x[k] = x;
        tr->y[k] = y;
    }
    return tr;
}

static void free_track(fa_track *tr) {
    free(tr->t);
    free(tr->x);
    free(tr->y);
    free(tr);
}

static double cell(const fa_heatmap *h, int i, int j) { return h->cells[j * h->nx + i]; }

static double sum_cells(const fa_heatmap *h) {
    double s = 0;
    for (int k = 0; k < h->nx * h->ny; k++) s += h->cells[k];
    return s;
}

static void test_still_player_ten_seconds(void **state) {
    (void)state;
    fa_heatmap h;
    assert_int_equal(fa_heatmap_init(&h, 21, 14), 0);
    /* Cells are 5 m x 4.857 m: x = 12 is in i = (12 + 52.5) / 5 = 12.9 -> 12, y = -20 in j = 2.88 -> 2. */
    fa_track *tr = still_track(1, 250, 12.0f, -20.0f);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, tr, FA_SIDE_HOME, 1.0 / 25), 0);
    assert_float_equal(cell(&h, 12, 2), 10.0, 1e-9);
    assert_float_equal(h.total_s, 10.0, 1e-9);
    assert_float_equal(sum_cells(&h), 10.0, 1e-9);
    free_track(tr);
    fa_heatmap_free(&h);
    assert_null(h.cells);
}

/* The same pitch position counts in the rotated cell whenever the side attacks -x. */
static void test_direction_normalised(void **state) {
    (void)state;
    fa_heatmap h;
    assert_int_equal(fa_heatmap_init(&h, 21, 14), 0);
    fa_track *p1 = still_track(1, 25, 12.0f, -20.0f), *p2 = still_track(2, 50, 12.0f, -20.0f);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, p1, FA_SIDE_HOME, 0.04), 0);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, p2, FA_SIDE_HOME, 0.04), 0);
    assert_float_equal(cell(&h, 12, 2), 1.0, 1e-9);
    assert_float_equal(cell(&h, 20 - 12, 13 - 2), 2.0, 1e-9); /* (-12, 20): i = 8, j = 11 */
    fa_heatmap_free(&h);

    /* Away attacks -x in period 1 and +x in period 2; extra time repeats the halves. */
    assert_int_equal(fa_heatmap_init(&h, 21, 14), 0);
    fa_track *p3 = still_track(3, 25, 12.0f, -20.0f), *p4 = still_track(4, 25, 12.0f, -20.0f);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, p1, FA_SIDE_AWAY, 0.04), 0);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, p2, FA_SIDE_AWAY, 0.04), 0);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, p3, FA_SIDE_AWAY, 0.04), 0);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, p4, FA_SIDE_AWAY, 0.04), 0);
    assert_float_equal(cell(&h, 8, 11), 2.0, 1e-9);
    assert_float_equal(cell(&h, 12, 2), 3.0, 1e-9);
    assert_float_equal(h.total_s, 5.0, 1e-9);
    fa_heatmap_free(&h);

    /* The ball has no direction: never rotated. */
    assert_int_equal(fa_heatmap_init(&h, 21, 14), 0);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, p2, FA_SIDE_NONE, 0.04), 0);
    assert_float_equal(cell(&h, 12, 2), 2.0, 1e-9);
    fa_heatmap_free(&h);
    free_track(p1);
    free_track(p2);
    free_track(p3);
    free_track(p4);
}

/* Lines belong to the pitch, a few metres beyond clamp to the edge, far off and NAN are skipped. */
static void test_edges_and_off_pitch(void **state) {
    (void)state;
    fa_heatmap h;
    assert_int_equal(fa_heatmap_init(&h, 21, 14), 0);
    const float xs[] = {-52.5f, 52.5f, 55.0f, -56.0f, 0.0f, 80.0f, 0.0f, NAN, 1.0f};
    const float ys[] = {-34.0f, 34.0f, 0.0f, 0.0f, 37.5f, 0.0f, -60.0f, 0.0f, INFINITY};
    fa_track *tr = still_track(1, 9, 0, 0);
    memcpy(tr->x, xs, sizeof xs);
    memcpy(tr->y, ys, sizeof ys);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, tr, FA_SIDE_HOME, 0.5), 0);
    assert_float_equal(cell(&h, 0, 0), 0.5, 1e-12);   /* the corner (-52.5, -34) */
    assert_float_equal(cell(&h, 20, 13), 0.5, 1e-12); /* the opposite corner, on the lines */
    assert_float_equal(cell(&h, 20, 7), 0.5, 1e-12);  /* 2.5 m behind the goal line */
    assert_float_equal(cell(&h, 0, 7), 0.5, 1e-12);   /* 3.5 m behind the other */
    assert_float_equal(cell(&h, 10, 13), 0.5, 1e-12); /* 3.5 m over the touchline */
    assert_float_equal(h.total_s, 2.5, 1e-12);        /* 80 m, -60 m, NAN and INFINITY skipped */
    assert_float_equal(sum_cells(&h), 2.5, 1e-12);
    free_track(tr);
    fa_heatmap_free(&h);
}

static void test_smoothing_preserves_total_and_is_symmetric(void **state) {
    (void)state;
    fa_heatmap h;
    assert_int_equal(fa_heatmap_init(&h, 21, 15), 0);
    h.cells[7 * 21 + 10] = 10.0; /* the centre cell */
    h.total_s = 10.0;
    assert_int_equal(fa_heatmap_smooth(&h, 1.0), 0);
    /* Sampled kernel, radius 4: the centre keeps 10 w0^2 with w0 = 1 / sum exp(-k^2 / 2). */
    double s = 0;
    for (int k = -4; k <= 4; k++) s += exp(-0.5 * k * k);
    assert_float_equal(cell(&h, 10, 7), 10.0 / (s * s), 1e-12);
    assert_float_equal(cell(&h, 11, 7), 10.0 * exp(-0.5) / (s * s), 1e-12);
    for (int d = 1; d <= 4; d++) {
        assert_float_equal(cell(&h, 10 - d, 7), cell(&h, 10 + d, 7), 1e-12);
        assert_float_equal(cell(&h, 10, 7 - d), cell(&h, 10, 7 + d), 1e-12);
        assert_float_equal(cell(&h, 10 - d, 7 - d), cell(&h, 10 + d, 7 + d), 1e-12);
        assert_true(cell(&h, 10 + d, 7) < cell(&h, 10 + d - 1, 7));
    }
    assert_float_equal(cell(&h, 15, 7), 0.0, 0);
    assert_float_equal(sum_cells(&h), 10.0, 1e-9);
    assert_float_equal(h.total_s, 10.0, 0);
    fa_heatmap_free(&h);
}

/* A corner cell under a blur wider than the grid: nothing leaks off the edges. */
static void test_smoothing_at_edges_keeps_time(void **state) {
    (void)state;
    fa_heatmap h;
    assert_int_equal(fa_heatmap_init(&h, 21, 14), 0);
    h.cells[0] = 4.0;
    h.cells[13 * 21 + 20] = 6.0;
    h.cells[5 * 21 + 3] = 1.5;
    assert_int_equal(fa_heatmap_smooth(&h, 2.0), 0);
    assert_float_equal(sum_cells(&h), 11.5, 1e-9);
    assert_true(cell(&h, 0, 0) > cell(&h, 1, 0) && cell(&h, 1, 0) > cell(&h, 2, 0));
    assert_int_equal(fa_heatmap_smooth(&h, 30.0), 0); /* kernel radius 120 on a 21 x 14 grid */
    assert_float_equal(sum_cells(&h), 11.5, 1e-9);
    for (int k = 0; k < 21 * 14; k++) assert_true(h.cells[k] > 0);
    assert_int_equal(fa_heatmap_smooth(&h, 0), 0); /* no-op */
    assert_float_equal(sum_cells(&h), 11.5, 1e-9);
    fa_heatmap_free(&h);
}

static void test_bad_arguments(void **state) {
    (void)state;
    fa_heatmap h;
    assert_int_equal(fa_heatmap_init(&h, 0, 14), FA_EINVAL);
    assert_null(h.cells);
    assert_int_equal(fa_heatmap_init(&h, 21, 1001), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "1001"));
    assert_int_equal(fa_heatmap_init(&h, 1, 1), 0);
    fa_track *tr = still_track(1, 3, 0, 0);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, tr, FA_SIDE_HOME, 0), FA_EINVAL);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, tr, FA_SIDE_HOME, NAN), FA_EINVAL);
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, tr, (fa_side)5, 0.04), FA_EINVAL);
    fa_pitch flat = {105, 0};
    assert_int_equal(fa_heatmap_add_track(&h, &flat, tr, FA_SIDE_HOME, 0.04), FA_EINVAL);
    assert_int_equal(fa_heatmap_smooth(&h, -1), FA_EINVAL);
    assert_int_equal(fa_heatmap_smooth(&h, NAN), FA_EINVAL);
    assert_int_equal(fa_heatmap_smooth(&h, 1e9), FA_EINVAL);
    assert_float_equal(h.total_s, 0, 0);
    /* A 1 x 1 grid holds everything on the pitch; smoothing it changes nothing. */
    assert_int_equal(fa_heatmap_add_track(&h, &pitch, tr, FA_SIDE_HOME, 0.04), 0);
    assert_int_equal(fa_heatmap_smooth(&h, 3), 0);
    assert_float_equal(h.cells[0], 0.12, 1e-12);
    free_track(tr);
    fa_heatmap_free(&h);
    fa_heatmap empty = {0};
    assert_int_equal(fa_heatmap_smooth(&empty, 1), FA_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_still_player_ten_seconds),
        cmocka_unit_test(test_direction_normalised),
        cmocka_unit_test(test_edges_and_off_pitch),
        cmocka_unit_test(test_smoothing_preserves_total_and_is_symmetric),
        cmocka_unit_test(test_smoothing_at_edges_keeps_time),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
