/*
 * test_pitch_control.c - Spearman pitch control: symmetry, limiting cases and
 * agreement with a naive double-precision implementation of the reference
 * model written out below (every player, every cell, every step, exp each
 * time, no pruning).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "testutil.h"

static const fa_pitch pitch = {105, 68};

/* Spearman 2018 / Friends of Tracking defaults, written out so the test does not depend on config.c. */
static fa_pc_params spearman(int nx, int ny) {
    fa_pc_params q = {.max_speed = 5,
                      .reaction_s = 0.7,
                      .tti_sigma = 0.45,
                      .lambda = 4.3,
                      .lambda_gk_factor = 3,
                      .ball_speed = 15,
                      .dt = 0.04,
                      .horizon_s = 10,
                      .convergence = 0.99,
                      .nx = nx,
                      .ny = ny};
    return q;
}

/* A 4-4-2 (home, attacking +x) against a 4-3-3 in a mid-block, ball with the home right-back. */
static const fa_pc_player frame22[22] = {
    {-47.0f, 1.0f, 0.5f, 0.0f, FA_SIDE_HOME, 1},   {-20.0f, -22.0f, 2.0f, 1.0f, FA_SIDE_HOME, 0},
    {-28.0f, -8.0f, 1.0f, 0.0f, FA_SIDE_HOME, 0},  {-28.0f, 8.0f, 1.0f, 0.5f, FA_SIDE_HOME, 0},
    {-22.0f, 24.0f, 3.0f, -1.0f, FA_SIDE_HOME, 0}, {-5.0f, -28.0f, 4.0f, 0.0f, FA_SIDE_HOME, 0},
    {-10.0f, -6.0f, 2.0f, 1.0f, FA_SIDE_HOME, 0},  {-9.0f, 9.0f, 1.5f, 0.0f, FA_SIDE_HOME, 0},
    {2.0f, 25.0f, 5.0f, -2.0f, FA_SIDE_HOME, 0},   {12.0f, -4.0f, 3.0f, 2.0f, FA_SIDE_HOME, 0},
    {14.0f, 6.0f, 6.0f, -1.0f, FA_SIDE_HOME, 0},   {45.0f, -1.0f, -0.5f, 0.0f, FA_SIDE_AWAY, 1},
    {25.0f, 20.0f, -1.0f, -1.0f, FA_SIDE_AWAY, 0}, {27.0f, 6.0f, -1.5f, 0.0f, FA_SIDE_AWAY, 0},
    {26.0f, -7.0f, -2.0f, 0.5f, FA_SIDE_AWAY, 0},  {22.0f, -21.0f, -3.0f, 1.0f, FA_SIDE_AWAY, 0},
    {10.0f, 12.0f, -2.0f, -2.0f, FA_SIDE_AWAY, 0}, {8.0f, 0.0f, -1.0f, -1.0f, FA_SIDE_AWAY, 0},
    {6.0f, -15.0f, -2.5f, 1.0f, FA_SIDE_AWAY, 0},  {-8.0f, 22.0f, -4.0f, 0.0f, FA_SIDE_AWAY, 0},
    {-3.0f, 1.0f, -5.0f, -1.0f, FA_SIDE_AWAY, 0},  {-12.0f, -18.0f, -3.0f, -2.0f, FA_SIDE_AWAY, 0},
};
static const double ball22_x = -20.0, ball22_y = -21.0;

/* ------------------------------------------------------------ naive reference */

/* Literal transcription of Shaw's calculate_pitch_control_at_target without
 * the time-to-control veto: returns (attacking, defending) for one target. */
static void naive_cell(const fa_pc_player *pl, size_t n, double bx, double by, fa_side attacking,
                       const fa_pc_params *q, double cx, double cy, double *att, double *def) {
    double tb = isnan(bx) ? 0 : sqrt((cx - bx) * (cx - bx) + (cy - by) * (cy - by)) / q->ball_speed;
    double tti[64], ppcf[64] = {0};
    for (size_t k = 0; k < n; k++) {
        double rx = pl[k].x + pl[k].vx * q->reaction_s, ry = pl[k].y + pl[k].vy * q->reaction_s;
        tti[k] = q->reaction_s + sqrt((cx - rx) * (cx - rx) + (cy - ry) * (cy - ry)) / q->max_speed;
    }
    double pa = 0, pd = 0;
    int steps = (int)(q->horizon_s / q->dt + 0.5);
    for (int i = 0; i < steps && 1 - (pa + pd) > 1 - q->convergence; i++) {
        double T = tb + i * q->dt, na = 0, nd = 0, rate = 0, dp[64];
        for (size_t k = 0; k < n; k++) {
            int attacks = pl[k].side == attacking;
            double lam = q->lambda * (pl[k].is_gk && !attacks ? q->lambda_gk_factor : 1);
            double p = 1 / (1 + exp(-M_PI / sqrt(3.0) / q->tti_sigma * (T - tti[k])));
            rate += dp[k] = p * lam * q->dt;
        }
        for (size_t k = 0; k < n; k++) { /* the one deviation from the reference: never overshoot 1 */
            ppcf[k] += (1 - pa - pd) * dp[k] / (rate > 1 ? rate : 1);
            if (pl[k].side == attacking) na += ppcf[k];
            else nd += ppcf[k];
        }
        pa = na;
        pd = nd;
    }
    *att = pa;
    *def = pd;
}

/* ------------------------------------------------------------ helpers */

static float at(const float *g, const fa_pc_grid *grid, int i, int j) { return g[j * grid->nx + i]; }

/* The frame rotated by 180 degrees (the teams swap ends) with sides swapped. */
static void rotate_swap(const fa_pc_player *in, size_t n, fa_pc_player *out) {
    for (size_t k = 0; k < n; k++) {
        out[k] = in[k];
        out[k].x = -in[k].x, out[k].y = -in[k].y, out[k].vx = -in[k].vx, out[k].vy = -in[k].vy;
        out[k].side = in[k].side == FA_SIDE_HOME ? FA_SIDE_AWAY : FA_SIDE_HOME;
    }
}

/* ------------------------------------------------------------ tests */

/* Integrated cells agree to rounding; cells the veto settles read 1 where integration stops at 0.99. */
static void test_matches_naive_reference(void **state) {
    (void)state;
    fa_pc_params q = spearman(50, 32);
    fa_pc_grid g;
    assert_int_equal(fa_pitch_control(frame22, 22, ball22_x, ball22_y, FA_SIDE_HOME, &pitch, &q, &g), 0);
    assert_int_equal(g.nx, 50);
    assert_int_equal(g.ny, 32);
    double worst = 0, worst_integrated = 0, dx = 105.0 / 50, dy = 68.0 / 32;
    int contested = 0, vetoed = 0;
    for (int j = 0; j < 32; j++)
        for (int i = 0; i < 50; i++) {
            double a, d, h = at(g.home, &g, i, j), w = at(g.away, &g, i, j);
            naive_cell(frame22, 22, ball22_x, ball22_y, FA_SIDE_HOME, &q, -52.5 + (i + 0.5) * dx,
                       -34 + (j + 0.5) * dy, &a, &d);
            double diff = fmax(fabs(a - h), fabs(d - w));
            worst = fmax(worst, diff);
            if (h == 1 || w == 1) vetoed++;
            else worst_integrated = fmax(worst_integrated, diff);
            contested += a > 0.2 && a < 0.8;
        }
    print_message("pitch control vs naive reference: max |difference| %.5f over 1600 cells, %.5f over the %d "
                  "integrated (%d contested)\n", worst, worst_integrated, 1600 - vetoed, contested);
    assert_true(worst < 0.02);
    assert_true(worst <= 0.0101);          /* 1 - convergence, the veto */
    assert_true(worst_integrated < 5e-3);  /* float rounding may stop one step apart at the threshold */
    assert_true(contested > 50);           /* the frame is not one-sided: the comparison means something */
    assert_true(vetoed > 100 && vetoed < 1500);
    fa_pc_grid_free(&g);
    assert_null(g.home);
}

/* Rotating the pitch and swapping the teams swaps the grids, cell for rotated cell. */
static void test_symmetry(void **state) {
    (void)state;
    fa_pc_params q = spearman(50, 32);
    fa_pc_player rot[22];
    rotate_swap(frame22, 22, rot);
    fa_pc_grid a, b;
    assert_int_equal(fa_pitch_control(frame22, 22, ball22_x, ball22_y, FA_SIDE_HOME, &pitch, &q, &a), 0);
    assert_int_equal(fa_pitch_control(rot, 22, -ball22_x, -ball22_y, FA_SIDE_AWAY, &pitch, &q, &b), 0);
    for (int j = 0; j < 32; j++)
        for (int i = 0; i < 50; i++) {
            assert_float_equal(at(a.home, &a, i, j), at(b.away, &b, 49 - i, 31 - j), 1e-4);
            assert_float_equal(at(a.away, &a, i, j), at(b.home, &b, 49 - i, 31 - j), 1e-4);
        }
    fa_pc_grid_free(&a);
    fa_pc_grid_free(&b);

    /* A frame symmetric about y = 0 gives a grid symmetric about y = 0. */
    fa_pc_player sym[4] = {{-5, 8, 1, -2, FA_SIDE_HOME, 0},
                           {-5, -8, 1, 2, FA_SIDE_HOME, 0},
                           {6, 12, -1, 0, FA_SIDE_AWAY, 0},
                           {6, -12, -1, 0, FA_SIDE_AWAY, 0}};
    assert_int_equal(fa_pitch_control(sym, 4, -10, 0, FA_SIDE_HOME, &pitch, &q, &a), 0);
    for (int j = 0; j < 16; j++)
        for (int i = 0; i < 50; i++)
            assert_float_equal(at(a.home, &a, i, j), at(a.home, &a, i, 31 - j), 1e-5);
    fa_pc_grid_free(&a);
}

static void test_lone_attacker_near_ball(void **state) {
    (void)state;
    fa_pc_params q = spearman(51, 33); /* odd: a cell centred on the centre spot */
    fa_pc_player pl[2] = {{0, 0, 0, 0, FA_SIDE_AWAY, 0}, {-30, 10, 0, 0, FA_SIDE_HOME, 0}};
    fa_pc_grid g;
    assert_int_equal(fa_pitch_control(pl, 2, 0, 0, FA_SIDE_AWAY, &pitch, &q, &g), 0);
    for (int j = 16 - 2; j <= 16 + 2; j++) /* within ~4 m */
        for (int i = 25 - 2; i <= 25 + 2; i++) {
            assert_true(at(g.away, &g, i, j) > 0.98);
            assert_true(at(g.home, &g, i, j) < 0.01);
        }
    /* Far beyond the defender, the attacker is hopelessly late. */
    assert_true(at(g.home, &g, 0, 25) > 0.98);
    fa_pc_grid_free(&g);
    /* Without any opponent the attacker owns everything (the other side's arrival is +inf). */
    assert_int_equal(fa_pitch_control(pl, 1, 0, 0, FA_SIDE_AWAY, &pitch, &q, &g), 0);
    for (int c = 0; c < 51 * 33; c++) assert_true(g.away[c] > 0.98 && g.home[c] == 0);
    fa_pc_grid_free(&g);
}

static void test_totals(void **state) {
    (void)state;
    fa_pc_params q = spearman(50, 32);
    fa_pc_grid g;
    assert_int_equal(fa_pitch_control(frame22, 22, ball22_x, ball22_y, FA_SIDE_HOME, &pitch, &q, &g), 0);
    for (int c = 0; c < 50 * 32; c++) {
        assert_true(g.home[c] >= 0 && g.away[c] >= 0);
        assert_true(g.home[c] + g.away[c] <= 1.0f + 1e-6f);
    }
    for (int k = 0; k < 22; k++) { /* the cell each player stands in is settled */
        int i = (int)((frame22[k].x + 52.5) / 2.1), j = (int)((frame22[k].y + 34) / 2.125);
        assert_true(at(g.home, &g, i, j) + at(g.away, &g, i, j) >= 0.99f - 1e-6f);
    }
    fa_pc_grid_free(&g);
}

static void test_equidistant_equal_players(void **state) {
    (void)state;
    fa_pc_params q = spearman(51, 33);
    fa_pc_player pl[2] = {{-10, 0, 0, 0, FA_SIDE_HOME, 0}, {10, 0, 0, 0, FA_SIDE_AWAY, 0}};
    fa_pc_grid g;
    assert_int_equal(fa_pitch_control(pl, 2, 0, 30, FA_SIDE_HOME, &pitch, &q, &g), 0);
    for (int j = 0; j < 33; j++) { /* the whole x = 0 column is equidistant */
        float h = at(g.home, &g, 25, j), a = at(g.away, &g, 25, j);
        assert_float_equal(h, a, 1e-6);
        assert_true(h > 0.49f && h <= 0.5f);
    }
    assert_true(at(g.home, &g, 20, 16) > 0.9f); /* 10 m nearer the home player */
    fa_pc_grid_free(&g);
}

/* Keepers' lambda is tripled when they defend, not when their side attacks. */
static void test_goalkeeper_factor(void **state) {
    (void)state;
    fa_pc_params q = spearman(51, 33);
    fa_pc_player pl[2] = {{-10, 0, 0, 0, FA_SIDE_HOME, 1}, {10, 0, 0, 0, FA_SIDE_AWAY, 0}};
    fa_pc_grid g;
    assert_int_equal(fa_pitch_control(pl, 2, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), 0);
    assert_float_equal(at(g.home, &g, 25, 16), at(g.away, &g, 25, 16), 1e-6);
    fa_pc_grid_free(&g);
    assert_int_equal(fa_pitch_control(pl, 2, 0, 0, FA_SIDE_AWAY, &pitch, &q, &g), 0);
    assert_true(at(g.home, &g, 25, 16) > at(g.away, &g, 25, 16) + 0.2f);
    double a, d;
    naive_cell(pl, 2, 0, 0, FA_SIDE_AWAY, &q, 0, 0, &a, &d);
    assert_float_equal(at(g.home, &g, 25, 16), d, 1e-3);
    assert_float_equal(at(g.away, &g, 25, 16), a, 1e-3);
    fa_pc_grid_free(&g);
}

/* NAN players and referees are ignored; an unknown ball position means t_b = 0. */
static void test_missing_data(void **state) {
    (void)state;
    fa_pc_params q = spearman(50, 32);
    fa_pc_player pl[24];
    memcpy(pl, frame22, sizeof frame22);
    pl[22] = (fa_pc_player){NAN, 3, 0, 0, FA_SIDE_AWAY, 0};
    pl[23] = (fa_pc_player){-20, -20, 0, 0, FA_SIDE_NONE, 0}; /* a referee beside the ball */
    fa_pc_grid a, b;
    assert_int_equal(fa_pitch_control(frame22, 22, ball22_x, ball22_y, FA_SIDE_HOME, &pitch, &q, &a), 0);
    assert_int_equal(fa_pitch_control(pl, 24, ball22_x, ball22_y, FA_SIDE_HOME, &pitch, &q, &b), 0);
    assert_memory_equal(a.home, b.home, 50 * 32 * sizeof(float));
    assert_memory_equal(a.away, b.away, 50 * 32 * sizeof(float));
    fa_pc_grid_free(&b);
    assert_int_equal(fa_pitch_control(frame22, 22, NAN, 0, FA_SIDE_HOME, &pitch, &q, &b), 0);
    double h, d;
    naive_cell(frame22, 22, NAN, 0, FA_SIDE_HOME, &q, 40 * 2.1 - 52.5 + 1.05, -34 + 1.0625, &h, &d);
    assert_float_equal(at(b.home, &b, 40, 0), h, 0.02);
    fa_pc_grid_free(&a);
    fa_pc_grid_free(&b);
    /* No players at all: nobody controls anything. */
    assert_int_equal(fa_pitch_control(NULL, 0, 0, 0, FA_SIDE_HOME, &pitch, &q, &a), 0);
    for (int c = 0; c < 50 * 32; c++) assert_true(a.home[c] == 0 && a.away[c] == 0);
    fa_pc_grid_free(&a);
}

static void test_bad_arguments(void **state) {
    (void)state;
    fa_pc_params q = spearman(50, 32);
    fa_pc_player many[65];
    for (int k = 0; k < 65; k++) many[k] = frame22[k % 22];
    fa_pc_grid g;
    assert_int_equal(fa_pitch_control(many, 65, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "65 players"));
    assert_int_equal(fa_pitch_control(many, 64, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), 0);
    fa_pc_grid_free(&g);
    q.nx = 0;
    assert_int_equal(fa_pitch_control(frame22, 22, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), FA_EINVAL);
    q = spearman(50, 1001);
    assert_int_equal(fa_pitch_control(frame22, 22, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), FA_EINVAL);
    q = spearman(50, 32);
    q.dt = 0;
    assert_int_equal(fa_pitch_control(frame22, 22, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "'dt'"));
    q = spearman(50, 32);
    q.tti_sigma = NAN;
    assert_int_equal(fa_pitch_control(frame22, 22, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), FA_EINVAL);
    q = spearman(50, 32);
    q.horizon_s = 1e9;
    assert_int_equal(fa_pitch_control(frame22, 22, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "steps"));
    /* Edges of the ranges are accepted: no reaction time, a horizon shorter than a step, convergence 1. */
    q = spearman(50, 32);
    q.reaction_s = 0;
    q.horizon_s = 0.01;
    q.convergence = 1;
    assert_int_equal(fa_pitch_control(frame22, 22, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), 0);
    for (int c = 0; c < 50 * 32; c++) assert_true(g.home[c] + g.away[c] <= 1.0f + 1e-6f);
    fa_pc_grid_free(&g);
    q = spearman(50, 32);
    fa_pitch bad = {NAN, 68};
    assert_int_equal(fa_pitch_control(frame22, 22, 0, 0, FA_SIDE_HOME, &bad, &q, &g), FA_EINVAL);
    assert_int_equal(fa_pitch_control(frame22, 22, 0, 0, (fa_side)7, &pitch, &q, &g), FA_EINVAL);
    many[3].side = (fa_side)9;
    assert_int_equal(fa_pitch_control(many, 22, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), FA_EINVAL);
    assert_int_equal(fa_pitch_control(NULL, 3, 0, 0, FA_SIDE_HOME, &pitch, &q, &g), FA_EINVAL);
    /* Absurd but finite positions and velocities are not an error. */
    fa_pc_player far[2] = {{1e30f, -1e30f, 1e30f, 0, FA_SIDE_HOME, 1},
                           {0, 0, INFINITY, NAN, FA_SIDE_AWAY, 0}};
    assert_int_equal(fa_pitch_control(far, 2, 1e300, 0, FA_SIDE_NONE, &pitch, &q, &g), 0);
    for (int c = 0; c < 50 * 32; c++) assert_true(g.home[c] + g.away[c] <= 1.0f + 1e-6f);
    fa_pc_grid_free(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_naive_reference),
        cmocka_unit_test(test_symmetry),
        cmocka_unit_test(test_lone_attacker_near_ball),
        cmocka_unit_test(test_totals),
        cmocka_unit_test(test_equidistant_equal_players),
        cmocka_unit_test(test_goalkeeper_factor),
        cmocka_unit_test(test_missing_data),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
