/*
 * test_assign.c - the gated linear assignment (src/vision/assign.c): small
 * problems solved by hand, the two uses of the gate (partial matching at a
 * tight gate, largest-then-cheapest with forbidden pairs under a loose one),
 * argument errors, and a cross-check against exhaustive search on 3000
 * random matrices up to 6 x 6 (integer costs, so ties are frequent, and
 * forbidden NaN / inf cells).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"
#include "vision/assign.h"

/* The objective of assign.h for a given assignment. */
static double objective(const double *c, int rows, int cols, double gate, const int *r2c) {
    double sum = 0;
    int pairs = 0;
    for (int r = 0; r < rows; r++) {
        if (r2c[r] < 0) continue;
        sum += c[r * cols + r2c[r]];
        pairs++;
    }
    return sum + gate / 2 * (rows - pairs + cols - pairs);
}

static void test_hand_square(void **state) {
    (void)state;
    /* row 0 -> col 1 (1), row 1 -> col 0 (2), row 2 -> col 2 (2): 5; every other permutation costs more
     * (e.g. the diagonal 4 + 0 + 2 = 6) */
    const double c[9] = {4, 1, 3, 2, 0, 5, 3, 2, 2};
    int r2c[3], c2r[3];
    assert_int_equal(fa_assign(NULL, c, 3, 3, 100, r2c, c2r), 3);
    assert_int_equal(r2c[0], 1);
    assert_int_equal(r2c[1], 0);
    assert_int_equal(r2c[2], 2);
    assert_int_equal(c2r[0], 1);
    assert_int_equal(c2r[1], 0);
    assert_int_equal(c2r[2], 2);
}

static void test_gate_partial(void **state) {
    (void)state;
    /* gate 0.8 (ByteTrack's 1 - IoU limit): only row 0 -> col 0 is under it; row 1's 0.95 is forbidden and
     * its 0.9 to col 0 is over the gate too */
    const double c[4] = {0.1, 0.9, 0.9, 0.95};
    int r2c[2], c2r[2];
    assert_int_equal(fa_assign(NULL, c, 2, 2, 0.8, r2c, c2r), 1);
    assert_int_equal(r2c[0], 0);
    assert_int_equal(r2c[1], -1);
    assert_int_equal(c2r[1], -1);
    /* at gate 0.75 a pair costing 0.7 is worth taking (0.7 < 0.375 + 0.375) */
    const double d[4] = {0.7, 0.76, 0.76, 0.76};
    assert_int_equal(fa_assign(NULL, d, 2, 2, 0.75, r2c, NULL), 1);
    assert_int_equal(r2c[0], 0);
    /* the tight gate prefers one cheap pair (0 + 2 x 0.4 left over = 0.8) to two dearer ones (0.75 + 0.75) */
    const double e[4] = {0.0, 0.75, 0.75, 0.85};
    assert_int_equal(fa_assign(NULL, e, 2, 2, 0.8, r2c, NULL), 1);
    assert_int_equal(r2c[0], 0);
}

static void test_loose_gate_forbidden(void **state) {
    (void)state;
    /* forbidden (1,1): with a loose gate the most pairs win, (0,1) + (1,0) = 2 beats (0,0) alone */
    const double c[4] = {0, 1, 1, INFINITY};
    int r2c[2], c2r[2];
    assert_int_equal(fa_assign(NULL, c, 2, 2, 1e6, r2c, c2r), 2);
    assert_int_equal(r2c[0], 1);
    assert_int_equal(r2c[1], 0);
    /* NaN forbids the same way; a wide matrix: both rows matched, one column left */
    const double w[6] = {NAN, 3, 1, 2, NAN, 7};
    int wr[2], wc[3];
    assert_int_equal(fa_assign(NULL, w, 2, 3, 1e6, wr, wc), 2);
    assert_int_equal(wr[0], 2);
    assert_int_equal(wr[1], 0);
    assert_int_equal(wc[1], -1);
    /* all forbidden: nothing */
    const double x[2] = {NAN, -INFINITY};
    assert_int_equal(fa_assign(NULL, x, 1, 2, 10, wr, wc), 0);
    assert_int_equal(wr[0], -1);
}

static void test_empty_and_errors(void **state) {
    (void)state;
    int r2c[3] = {7, 7, 7};
    assert_int_equal(fa_assign(NULL, NULL, 3, 0, 1, r2c, NULL), 0);
    assert_int_equal(r2c[2], -1);
    assert_int_equal(fa_assign(NULL, NULL, -1, 2, 1, NULL, NULL), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "assign.c: matrix size -1 x 2"));
    const double c[1] = {0};
    assert_int_equal(fa_assign(NULL, c, 1, 1, NAN, NULL, NULL), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "gate: expected a finite number"));
    assert_int_equal(fa_assign(NULL, c, FA_ASSIGN_MAX, 1, 1, NULL, NULL), FA_ELIMIT);
    assert_int_equal(fa_assign(NULL, NULL, 1, 1, 1, NULL, NULL), FA_EINVAL);
}

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Exhaustive minimum of the objective: each row takes a free allowed column or none. */
static double brute(const double *c, int rows, int cols, double gate, int r, unsigned used, double sum) {
    if (r == rows) {
        int free_cols = 0;
        for (int j = 0; j < cols; j++)
            free_cols += !(used >> j & 1);
        return sum + gate / 2 * free_cols;
    }
    double best = brute(c, rows, cols, gate, r + 1, used, sum + gate / 2);
    for (int j = 0; j < cols; j++) {
        double x = c[r * cols + j];
        if ((used >> j & 1) || !isfinite(x) || x > gate) continue;
        double v = brute(c, rows, cols, gate, r + 1, used | 1u << j, sum + x);
        if (v < best) best = v;
    }
    return best;
}

static void random_matrix(uint64_t *s, double *c, int n) {
    for (int k = 0; k < n; k++) {
        uint64_t x = next_rand(s) % 100;
        if (x < 8)
            c[k] = NAN;
        else if (x < 12)
            c[k] = INFINITY;
        else
            c[k] = (double)(next_rand(s) % 10) - 2;
    }
}

static void check_consistent(const double *c, int rows, int cols, double gate, const int *r2c, const int *c2r,
                             int pairs) {
    int seen = 0;
    for (int r = 0; r < rows; r++) {
        if (r2c[r] < 0) continue;
        seen++;
        assert_int_equal(c2r[r2c[r]], r);
        double x = c[r * cols + r2c[r]];
        assert_true(isfinite(x) && x <= gate);
    }
    for (int j = 0; j < cols; j++)
        if (c2r[j] >= 0) assert_int_equal(r2c[c2r[j]], j);
    assert_int_equal(seen, pairs);
}

static void test_brute_force(void **state) {
    (void)state;
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    const double gates[4] = {0.5, 3, 5.5, 1000};
    fa_assign_ws ws = {0};
    double c[36];
    int r2c[6], c2r[6], checked = 0;
    for (int t = 0; t < 3000; t++) {
        int rows = (int)(next_rand(&seed) % 7), cols = (int)(next_rand(&seed) % 7);
        double gate = gates[next_rand(&seed) % 4];
        random_matrix(&seed, c, rows * cols);
        int pairs = fa_assign(t % 2 ? &ws : NULL, c, rows, cols, gate, r2c, c2r);
        assert_true(pairs >= 0);
        check_consistent(c, rows, cols, gate, r2c, c2r, pairs);
        double want = brute(c, rows, cols, gate, 0, 0, 0);
        assert_float_equal(objective(c, rows, cols, gate, r2c), want, 1e-9);
        checked += rows && cols;
    }
    assert_true(checked > 2000); /* about (6/7)^2 of the draws are non-empty */
    fa_assign_ws_free(&ws);
}

static void test_deterministic_ties(void **state) {
    (void)state;
    double c[16];
    for (int k = 0; k < 16; k++)
        c[k] = 1;
    int a[4], b[4];
    assert_int_equal(fa_assign(NULL, c, 4, 4, 10, a, NULL), 4);
    assert_int_equal(fa_assign(NULL, c, 4, 4, 10, b, NULL), 4);
    assert_memory_equal(a, b, sizeof a);
}

static void test_larger_random(void **state) {
    (void)state;
    /* 40 x 50 with a loose gate: every row matched; the total is no worse than 200 random swaps of it */
    enum { R = 40, C = 50 };
    double *c = malloc(sizeof(double) * R * C);
    assert_non_null(c);
    uint64_t seed = 42;
    for (int k = 0; k < R * C; k++)
        c[k] = (double)(next_rand(&seed) % 1000) / 10;
    int r2c[R], c2r[C];
    fa_assign_ws ws = {0};
    assert_int_equal(fa_assign(&ws, c, R, C, 1e6, r2c, c2r), R);
    double base = objective(c, R, C, 1e6, r2c);
    for (int t = 0; t < 200; t++) {
        int a = (int)(next_rand(&seed) % R), b = (int)(next_rand(&seed) % R);
        int ca = r2c[a], cb = r2c[b];
        double swapped = base - c[a * C + ca] - c[b * C + cb] + c[a * C + cb] + c[b * C + ca];
        assert_true(swapped >= base - 1e-9);
        int free_col = -1;
        for (int j = 0; j < C && free_col < 0; j++)
            if (c2r[j] < 0) free_col = j;
        assert_true(base - c[a * C + ca] + c[a * C + free_col] >= base - 1e-9);
    }
    fa_assign_ws_free(&ws);
    free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_square),          cmocka_unit_test(test_gate_partial),
        cmocka_unit_test(test_loose_gate_forbidden), cmocka_unit_test(test_empty_and_errors),
        cmocka_unit_test(test_brute_force),          cmocka_unit_test(test_deterministic_ties),
        cmocka_unit_test(test_larger_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
