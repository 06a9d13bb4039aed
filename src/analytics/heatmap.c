/*
 * heatmap.c - occupancy grids: how many seconds a player (or a team, or the
 * ball) spent in each cell of the pitch.
 *
 * Orientation. A heatmap answers "where did this side play", so it must not
 * depend on which end the side happened to attack in each half. Every sample
 * is put in the frame of a side attacking +x (left to right): in the periods
 * where fa_attack_dir(side, period) is -1 the sample is rotated by 180
 * degrees (x -> -x AND y -> -y), the same rotation that swapping ends is, so
 * a left winger stays on the left (y > 0 seen attacking +x) in both halves.
 * The ball (FA_SIDE_NONE) has no attacking direction and is left as it is.
 *
 * Off-pitch samples. Tracking places players a little outside the lines
 * (throw-ins, corners, running off to be substituted); those samples are
 * real time on the pitch's edge, so within HEAT_MARGIN_M of the lines they
 * count in the nearest edge cell. Farther out they are not play (or not
 * data) and are skipped, never stretched onto the pitch. Non-finite samples
 * are skipped. total_s counts exactly the seconds that went into cells.
 *
 * Smoothing. A separable Gaussian (rows, then columns) with a sampled kernel
 * of radius ceil(4 sigma) normalised to sum 1. The grid is extended by
 * half-sample symmetric reflection (index -1 mirrors 0, n mirrors n-1,
 * repeatedly for kernels wider than the grid). With a symmetric kernel that
 * makes the blur matrix symmetric as well as row-stochastic, hence also
 * column-stochastic: every cell's seconds are redistributed, none leak off
 * the edges, and the total is preserved (to rounding) - which zero padding
 * would not do, and plain renormalisation of a gather would only do for the
 * interior.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"

#define HEAT_MAX_CELLS 1000     /* per axis */
#define HEAT_MARGIN_M 5.0       /* off-pitch samples within this distance clamp to the edge */
#define HEAT_MAX_SIGMA 100.0    /* cells; wider blurs are a uniform grid anyway */

/* Contract: an empty nx x ny grid (1..1000 each) with total 0; on error *h
 * is zeroed (fa_heatmap_free on it is harmless). */
int fa_heatmap_init(fa_heatmap *h, int nx, int ny) {
    if (!h) return fa_err_set(FA_EINVAL, "heatmap: no heatmap given");
    memset(h, 0, sizeof *h);
    if (nx < 1 || nx > HEAT_MAX_CELLS || ny < 1 || ny > HEAT_MAX_CELLS)
        return fa_err_set(FA_EINVAL, "heatmap: grid %d x %d: expected 1..%d cells per axis", nx, ny,
                          HEAT_MAX_CELLS);
    h->cells = fa_calloc((size_t)nx * (size_t)ny, sizeof *h->cells);
    if (!h->cells) return FA_ENOMEM;
    h->nx = nx;
    h->ny = ny;
    return 0;
}

/* Frees the cells and zeroes *h; NULL is fine. */
void fa_heatmap_free(fa_heatmap *h) {
    if (!h) return;
    free(h->cells);
    memset(h, 0, sizeof *h);
}

/* One axis of the grid: extent len (centred on 0) cut into n cells, with
 * the accepted range (HEAT_MARGIN_M either side) precomputed in cell units
 * so a sample costs a multiply and two compares (no division, no floor()
 * call: this loop sees every sample of a match). */
typedef struct heat_axis {
    double half, scale, lo, hi;
    int n;
} heat_axis;

static heat_axis axis_make(double len, int n) {
    double scale = n / len;
    return (heat_axis){0.5 * len, scale, -HEAT_MARGIN_M * scale, (len + HEAT_MARGIN_M) * scale, n};
}

/* Cell index of coordinate v, or -1 when it is farther than HEAT_MARGIN_M outside (or not finite). */
static int axis_cell(const heat_axis *a, double v) {
    double c = (v + a->half) * a->scale;
    if (!(c >= a->lo && c <= a->hi)) return -1;
    if (c < 0) return 0;
    int i = (int)c; /* truncation is floor for c >= 0 */
    return i < a->n ? i : a->n - 1;
}

static int check_pitch(const fa_pitch *p) {
    if (!p || !isfinite(p->length) || !isfinite(p->width) || p->length <= 0 || p->width <= 0)
        return fa_err_set(FA_EINVAL, "heatmap: pitch %g x %g m: expected positive finite dimensions",
                          p ? p->length : NAN, p ? p->width : NAN);
    return 0;
}

/* Contract: adds dt seconds to the cell of each of tr's samples, rotated
 * by 180 degrees when `side` attacks -x in tr->period (the ball, side
 * FA_SIDE_NONE, is never rotated); samples beyond HEAT_MARGIN_M off the
 * pitch and non-finite ones are skipped. total_s grows by what was added.
 * FA_EINVAL (nothing added) for a bad pitch, dt <= 0 or an unknown side. */
int fa_heatmap_add_track(fa_heatmap *h, const fa_pitch *p, const fa_track *tr, fa_side side, double dt) {
    if (!h || !h->cells || !tr) return fa_err_set(FA_EINVAL, "heatmap: no heatmap or track given");
    int rc = check_pitch(p);
    if (rc) return rc;
    if (!isfinite(dt) || dt <= 0)
        return fa_err_set(FA_EINVAL, "heatmap: track '%s': sample weight dt = %g s: expected > 0", tr->id,
                          dt);
    if (side != FA_SIDE_NONE && side != FA_SIDE_HOME && side != FA_SIDE_AWAY)
        return fa_err_set(FA_EINVAL, "heatmap: track '%s': side %d: expected home, away or none", tr->id,
                          (int)side);
    if (tr->n && (!tr->x || !tr->y))
        return fa_err_set(FA_EINVAL, "heatmap: track '%s': no coordinates", tr->id);
    double sign = fa_attack_dir(side, tr->period) < 0 ? -1.0 : 1.0;
    heat_axis ax = axis_make(p->length, h->nx), ay = axis_make(p->width, h->ny);
    size_t counted = 0;
    for (size_t k = 0; k < tr->n; k++) {
        int i = axis_cell(&ax, sign * tr->x[k]);
        int j = axis_cell(&ay, sign * tr->y[k]);
        if (i < 0 || j < 0) continue;
        h->cells[(size_t)j * (size_t)h->nx + (size_t)i] += dt;
        counted++;
    }
    h->total_s += (double)counted * dt;
    return 0;
}

/* Half-sample symmetric reflection of index k into [0, n). */
static int reflect(long k, int n) {
    long period = 2L * n;
    long m = k % period;
    if (m < 0) m += period;
    return (int)(m < n ? m : period - 1 - m);
}

/* Normalised Gaussian taps w[0..2r] for offsets -r..r. */
static void gaussian_kernel(double sigma, int r, double *w) {
    double sum = 0;
    for (int k = -r; k <= r; k++) sum += w[k + r] = exp(-0.5 * (double)k * k / (sigma * sigma));
    for (int k = 0; k <= 2 * r; k++) w[k] /= sum;
}

/* Blurs n values spaced stride apart in v, using pad (n + 2r doubles). */
static void blur_line(double *v, int n, size_t stride, const double *w, int r, double *pad) {
    for (long k = -r; k < n + r; k++) pad[k + r] = v[(size_t)reflect(k, n) * stride];
    for (int i = 0; i < n; i++) {
        double s = 0;
        const double *src = pad + i;
        for (int k = 0; k <= 2 * r; k++) s += w[k] * src[k];
        v[(size_t)i * stride] = s;
    }
}

/* Contract: blurs the cells in place with a Gaussian of sigma_cells (0..100;
 * 0 leaves them as they are); the sum of the cells and total_s are
 * unchanged. FA_EINVAL for a bad sigma, FA_ENOMEM (cells untouched). */
int fa_heatmap_smooth(fa_heatmap *h, double sigma_cells) {
    if (!h || !h->cells) return fa_err_set(FA_EINVAL, "heatmap: no heatmap given");
    if (!isfinite(sigma_cells) || sigma_cells < 0 || sigma_cells > HEAT_MAX_SIGMA)
        return fa_err_set(FA_EINVAL, "heatmap: smoothing sigma %g cells: expected 0..%g", sigma_cells,
                          HEAT_MAX_SIGMA);
    if (sigma_cells == 0) return 0;
    int r = (int)ceil(4.0 * sigma_cells);
    int longest = h->nx > h->ny ? h->nx : h->ny;
    double *w = fa_malloc((size_t)(2 * r + 1) * sizeof *w);
    double *pad = fa_malloc((size_t)(longest + 2 * r) * sizeof *pad);
    if (!w || !pad) {
        free(w);
        free(pad);
        return FA_ENOMEM;
    }
    gaussian_kernel(sigma_cells, r, w);
    size_t nx = (size_t)h->nx;
    for (int j = 0; j < h->ny; j++) blur_line(h->cells + (size_t)j * nx, h->nx, 1, w, r, pad);
    for (int i = 0; i < h->nx; i++) blur_line(h->cells + i, h->ny, nx, w, r, pad);
    free(w);
    free(pad);
    return 0;
}
