/*
 * assign.c - gated linear assignment by the Hungarian method in its
 * shortest-augmenting-path form (Kuhn-Munkres with dual potentials, the
 * O(n^3) formulation that Jonker-Volgenant also build on).
 *
 * Gate by padding: the rows x cols problem becomes a square one of side
 * N = rows + cols. Row r may take a "leave me unassigned" column at cost
 * gate/2, column c a "leave me unassigned" row at gate/2, and two padding
 * cells pair at 0. A real pair costing c then competes with leaving both
 * ends alone (gate/2 + gate/2 + 0 = gate), which is exactly the objective
 * in assign.h. Forbidden pairs get a finite cost strictly above the gate:
 * any square solution using one can swap it for the two padding cells
 * and a padding pair that then must exist, and be cheaper, so the
 * optimum never uses it; keeping every cell finite keeps the potentials'
 * arithmetic free of infinities. The padded cells are computed on the fly,
 * not stored: the scratch is O(N), the time O(N^3) (N = 60 for a frame of
 * 30 tracks and 30 boxes: about 0.2 M steps).
 *
 * The solver adds the rows one at a time. For each, a Dijkstra-like search
 * over columns on reduced costs (cost - u[row] - v[col] >= 0) finds the
 * cheapest path from the new row to a free column, alternating through
 * assigned columns; the potentials are shifted by each step's smallest
 * slack so reduced costs stay non-negative and the path's columns become
 * tight, then the path is flipped. Scanning columns in index order and
 * taking the first smallest slack makes the result deterministic.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vision/assign.h"

typedef struct problem {
    const double *cost;
    int rows, cols;
    double gate, half, forbidden;
} problem;

static int allowed(const problem *p, int r, int c) {
    double x = p->cost[(size_t)r * (size_t)p->cols + (size_t)c];
    return isfinite(x) && x <= p->gate;
}

/* The padded square matrix's cell (0-based). */
static double cell(const problem *p, int r, int c) {
    if (r < p->rows) {
        if (c >= p->cols) return p->half;
        return allowed(p, r, c) ? p->cost[(size_t)r * (size_t)p->cols + (size_t)c] : p->forbidden;
    }
    return c < p->cols ? p->half : 0.0;
}

void fa_assign_ws_free(fa_assign_ws *ws) {
    if (!ws) return;
    free(ws->d);
    free(ws->k);
    memset(ws, 0, sizeof *ws);
}

static int ws_reserve(fa_assign_ws *ws, size_t need) {
    if (ws->cap >= need) return 0;
    double *d = fa_malloc(3 * need * sizeof *d);
    int *k = fa_malloc(3 * need * sizeof *k);
    if (!d || !k) {
        free(d);
        free(k);
        return FA_ENOMEM;
    }
    free(ws->d);
    free(ws->k);
    ws->d = d;
    ws->k = k;
    ws->cap = need;
    return 0;
}

/* Square-problem state; index 0 of the column arrays is the virtual column
 * the search starts from, rows are numbered 1..n. */
typedef struct solver {
    const problem *p;
    int n;
    double *u, *v, *slack;
    int *owner, *back, *used;
} solver;

/* One step of the search from the frontier column j0: relaxes the slack of
 * every unused column, shifts the potentials by the smallest slack and
 * returns the column reached. */
static int search_step(solver *s, int j0) {
    int n = s->n, i0 = s->owner[j0], j1 = 0;
    double delta = HUGE_VAL;
    s->used[j0] = 1;
    for (int j = 1; j <= n; j++) {
        if (s->used[j]) continue;
        double reduced = cell(s->p, i0 - 1, j - 1) - s->u[i0] - s->v[j];
        if (reduced < s->slack[j]) {
            s->slack[j] = reduced;
            s->back[j] = j0;
        }
        if (s->slack[j] < delta) {
            delta = s->slack[j];
            j1 = j;
        }
    }
    for (int j = 0; j <= n; j++) {
        if (s->used[j]) {
            s->u[s->owner[j]] += delta;
            s->v[j] -= delta;
        } else {
            s->slack[j] -= delta;
        }
    }
    return j1;
}

/* Adds row r: finds the cheapest augmenting path to a free column and flips it. */
static void add_row(solver *s, int r) {
    int j0 = 0;
    s->owner[0] = r;
    for (int j = 0; j <= s->n; j++) {
        s->slack[j] = HUGE_VAL;
        s->used[j] = 0;
    }
    do {
        j0 = search_step(s, j0);
    } while (s->owner[j0] != 0);
    while (j0) {
        int prev = s->back[j0];
        s->owner[j0] = s->owner[prev];
        j0 = prev;
    }
}

static int check_args(const double *cost, int rows, int cols, double gate) {
    if (rows < 0 || cols < 0)
        return fa_err_set(FA_EINVAL, "assign.c: matrix size %d x %d: expected non-negative sides", rows,
                          cols);
    if (!isfinite(gate))
        return fa_err_set(FA_EINVAL, "assign.c: gate: expected a finite number, got %g", gate);
    if (rows + cols > FA_ASSIGN_MAX)
        return fa_err_set(FA_ELIMIT, "assign.c: matrix %d x %d: rows + cols above the limit %d", rows, cols,
                          FA_ASSIGN_MAX);
    if (rows && cols && !cost)
        return fa_err_set(FA_EINVAL, "assign.c: cost matrix: NULL for %d x %d", rows, cols);
    return 0;
}

static int read_pairs(const solver *s, int *row_to_col, int *col_to_row) {
    const problem *p = s->p;
    int pairs = 0;
    for (int j = 1; j <= s->n; j++) {
        int r = s->owner[j] - 1, c = j - 1;
        if (r >= p->rows || c >= p->cols || !allowed(p, r, c)) continue;
        if (row_to_col) row_to_col[r] = c;
        if (col_to_row) col_to_row[c] = r;
        pairs++;
    }
    return pairs;
}

int fa_assign(fa_assign_ws *ws, const double *cost, int rows, int cols, double gate, int *row_to_col,
              int *col_to_row) {
    int rc = check_args(cost, rows, cols, gate);
    if (rc) return rc;
    for (int r = 0; r < rows && row_to_col; r++)
        row_to_col[r] = -1;
    for (int c = 0; c < cols && col_to_row; c++)
        col_to_row[c] = -1;
    if (!rows || !cols) return 0;
    fa_assign_ws local = {0};
    fa_assign_ws *w = ws ? ws : &local;
    size_t need = (size_t)(rows + cols) + 1;
    if (ws_reserve(w, need)) return fa_err_set(FA_ENOMEM, "assign.c: out of memory for %d x %d", rows, cols);
    problem p = {cost, rows, cols, gate, gate / 2, gate + fmax(1.0, fabs(gate))};
    solver s = {&p, rows + cols, w->d, w->d + need, w->d + 2 * need, w->k, w->k + need, w->k + 2 * need};
    memset(s.u, 0, need * sizeof *s.u);
    memset(s.v, 0, need * sizeof *s.v);
    memset(s.owner, 0, need * sizeof *s.owner);
    for (int r = 1; r <= s.n; r++)
        add_row(&s, r);
    int pairs = read_pairs(&s, row_to_col, col_to_row);
    if (!ws) fa_assign_ws_free(&local);
    return pairs;
}
