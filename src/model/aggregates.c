/*
 * aggregates.c - the growable container of a match's derived aggregates
 * (model.h: fa_metric, fa_grid, fa_doc, fa_aggregates).
 *
 * Why copies: analytics builds the aggregates from short-lived buffers
 * (heatmaps, JSON written into a reused fa_buf) and the store writes them
 * later, so every appender copies what it is given and the container owns
 * it; one fa_aggregates_free releases everything.
 *
 * Why checks here: names become stored identifiers, so a name that does not
 * fit its field is refused (FA_EINVAL) rather than silently truncated into
 * another name; so is a value that is not finite (a metric that does not
 * apply is absent, never NAN) and a grid whose size is not positive or
 * would overflow.
 *
 * Arrays double when full, so n appends cost O(n) amortised.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model.h"

#define AGG_MAX_GRID_CELLS (1 << 24)

/* Grows *items (of size elem) so that one more fits; 0 or FA_ENOMEM. */
static int reserve_one(void **items, size_t n, size_t *cap, size_t elem) {
    if (n < *cap) return 0;
    size_t cap2 = *cap ? *cap * 2 : 16;
    void *p = fa_realloc(*items, cap2 * elem);
    if (!p) return FA_ENOMEM;
    *items = p;
    *cap = cap2;
    return 0;
}

/* Copies src into dst[size] when it fits; FA_EINVAL naming what otherwise. */
static int copy_name(char *dst, size_t size, const char *src, const char *what) {
    size_t n = strlen(src);
    if (n >= size)
        return fa_err_set(FA_EINVAL, "aggregates: %s '%.40s...' is %zu bytes, longer than %zu", what, src, n,
                          size - 1);
    memcpy(dst, src, n + 1);
    return 0;
}

static int check_side(fa_side side, const char *name) {
    if (side >= FA_SIDE_NONE && side <= FA_SIDE_AWAY) return 0;
    return fa_err_set(FA_EINVAL, "aggregates: '%s': side %d is not -1, 0 or 1", name, (int)side);
}

static int check_name(const char *name, const char *what) {
    if (name && *name) return 0;
    return fa_err_set(FA_EINVAL, "aggregates: %s without a name", what);
}

/* Appends a scalar metric; player_id NULL or "" makes it a team metric.
 * Returns 0, FA_EINVAL (no name, name or id too long, bad side, value not
 * finite) or FA_ENOMEM; a failed append leaves a unchanged. */
int fa_aggregates_metric(fa_aggregates *a, fa_side side, const char *player_id, const char *name,
                         double value) {
    fa_metric m;
    int rc = check_name(name, "metric");
    if (!rc) rc = check_side(side, name);
    if (!rc) rc = copy_name(m.name, sizeof m.name, name, "metric name");
    if (!rc) rc = copy_name(m.player_id, sizeof m.player_id, player_id ? player_id : "", "player id");
    if (!rc && !isfinite(value))
        rc = fa_err_set(FA_EINVAL, "aggregates: metric '%s': value is not finite", name);
    if (!rc) rc = reserve_one((void **)&a->metrics, a->nmetrics, &a->cap_metrics, sizeof *a->metrics);
    if (rc) return rc;
    m.side = side;
    m.value = value;
    a->metrics[a->nmetrics++] = m;
    return 0;
}

/* Appends a copy of an nx x ny grid (cells[j * nx + i]). Returns 0,
 * FA_EINVAL (no name or cells, size not positive or too large, names too
 * long, bad side) or FA_ENOMEM; a failed append leaves a unchanged. */
int fa_aggregates_grid(fa_aggregates *a, fa_side side, const char *player_id, const char *name, int nx,
                       int ny, const double *cells) {
    fa_grid g;
    int rc = check_name(name, "grid");
    if (!rc) rc = check_side(side, name);
    if (!rc) rc = copy_name(g.name, sizeof g.name, name, "grid name");
    if (!rc) rc = copy_name(g.player_id, sizeof g.player_id, player_id ? player_id : "", "player id");
    if (!rc && (nx <= 0 || ny <= 0 || (int64_t)nx * ny > AGG_MAX_GRID_CELLS))
        rc = fa_err_set(FA_EINVAL, "aggregates: grid '%s': size %d x %d is not between 1 and %d cells", name,
                        nx, ny, AGG_MAX_GRID_CELLS);
    if (!rc && !cells) rc = fa_err_set(FA_EINVAL, "aggregates: grid '%s': no cells", name);
    if (!rc) rc = reserve_one((void **)&a->grids, a->ngrids, &a->cap_grids, sizeof *a->grids);
    if (rc) return rc;
    size_t bytes = (size_t)nx * (size_t)ny * sizeof *cells;
    g.cells = fa_malloc(bytes);
    if (!g.cells) return FA_ENOMEM;
    memcpy(g.cells, cells, bytes);
    g.side = side;
    g.nx = nx;
    g.ny = ny;
    a->grids[a->ngrids++] = g;
    return 0;
}

/* Appends a copy of a JSON document (not validated here: analytics writes
 * it with the JSON writer). Returns 0, FA_EINVAL (no name or text, name too
 * long) or FA_ENOMEM; a failed append leaves a unchanged. */
int fa_aggregates_doc(fa_aggregates *a, const char *name, const char *json) {
    fa_doc d;
    int rc = check_name(name, "doc");
    if (!rc) rc = copy_name(d.name, sizeof d.name, name, "doc name");
    if (!rc && !json) rc = fa_err_set(FA_EINVAL, "aggregates: doc '%s': no JSON text", name);
    if (!rc) rc = reserve_one((void **)&a->docs, a->ndocs, &a->cap_docs, sizeof *a->docs);
    if (rc) return rc;
    d.json = fa_strdup(json);
    if (!d.json) return FA_ENOMEM;
    a->docs[a->ndocs++] = d;
    return 0;
}

/* Frees everything a holds and zeroes it, so it can be filled again. */
void fa_aggregates_free(fa_aggregates *a) {
    if (!a) return;
    for (size_t i = 0; i < a->ngrids; i++) free(a->grids[i].cells);
    for (size_t i = 0; i < a->ndocs; i++) free(a->docs[i].json);
    free(a->metrics);
    free(a->grids);
    free(a->docs);
    memset(a, 0, sizeof *a);
}
