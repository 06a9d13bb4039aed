/*
 * assign.h - optimal linear assignment on a rectangular cost matrix with a
 * gate (the matching step of the tracker and of the IDF1 metric).
 *
 * The problem solved is the one ByteTrack hands to lapjv with a cost limit:
 * pick pairs (row, column), each row and each column in at most one pair,
 * only pairs whose cost is finite and <= gate, so as to minimise
 *
 *     sum of the chosen pairs' costs + (gate / 2) x (rows left + columns left)
 *
 * i.e. a pair is worth taking exactly when its cost is below the gate; it is
 * the same as maximising sum(gate - cost) over the chosen pairs. Two common
 * uses follow from the choice of gate:
 *   - a tight gate (tracker: 1 - IoU <= 0.8): cheap pairs only, partial;
 *   - a gate far above every cost with forbidden pairs written as +inf or
 *     NaN: as many pairs as possible, then the least total cost (the
 *     scipy linear_sum_assignment answer restricted to allowed pairs).
 */
#ifndef FA_VISION_ASSIGN_H
#define FA_VISION_ASSIGN_H

#include <stddef.h>

/* rows + cols above this is refused (FA_ELIMIT): the solver is O((rows + cols)^3). */
#define FA_ASSIGN_MAX 8192

/* Scratch memory reused from call to call (zero-initialise it; free with
 * fa_assign_ws_free). Once it has grown to a problem size, solving a
 * problem of that size or smaller allocates nothing. */
typedef struct fa_assign_ws {
    double *d;  /* potentials and slack: 3 x (N + 1) */
    int *k;     /* column owners, back links, used flags: 3 x (N + 1) */
    size_t cap; /* N + 1 the arrays hold */
} fa_assign_ws;

void fa_assign_ws_free(fa_assign_ws *ws);

/* Solves the gated assignment above for cost[r * cols + c] (rows x cols,
 * row-major). A cost that is NaN, infinite or > gate is forbidden. gate must
 * be finite. ws may be NULL (scratch is then allocated and freed here).
 * Writes row_to_col[rows] and col_to_row[cols] (-1: unassigned; either may
 * be NULL). Returns the number of pairs (>= 0), or FA_EINVAL (negative
 * size, non-finite gate), FA_ELIMIT (rows + cols > FA_ASSIGN_MAX),
 * FA_ENOMEM, with the error set. Ties are broken deterministically (the
 * same input always gives the same pairs). */
int fa_assign(fa_assign_ws *ws, const double *cost, int rows, int cols, double gate, int *row_to_col,
              int *col_to_row);

#endif
