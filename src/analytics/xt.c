/*
 * xt.c - expected threat (xT): the probability that possession of the ball
 * in a zone of the pitch ends in a goal within the next few actions, on a grid
 * of zones; the xT a pass or carry adds is xT(end zone) - xT(start zone).
 *
 * Why it is built this way:
 *
 *   - Published values, not a fit. xT depends on the data it was fitted on,
 *     and a figure from our own fit would match nobody's. The 12 x 8 grid is
 *     the one Karun Singh published with the method (Karun Singh, 2018,
 *     "Introducing Expected Threat (xT)", karun.in/blog/expected-threat.html;
 *     the open grid file open_xt_12x8_v1), copied as a table of facts. Its
 *     columns run along the attacking direction (column 0 at the team's own
 *     goal line, column 11 at the opponent's), its rows across the pitch; the
 *     table is symmetric across the pitch, so which touchline row 0 sits at
 *     does not matter.
 *
 *   - 16 x 12 is resampled, and says so. No 16 x 12 grid is published beside
 *     it, and fitting one would need a season of events we do not have. The
 *     option is the 12 x 8 grid resampled by bilinear interpolation between
 *     cell centres (the nearest edge centre beyond the outermost ones), which
 *     keeps the published maximum in front of goal. The values are a fixed
 *     table (no mutable global state; the grid points into it); the test
 *     recomputes them from the 12 x 8 table and checks every cell. Its
 *     `source` says it is resampled, so no output passes it off as Singh's.
 *
 *   - Lookups clamp. A point beyond the touchline or goal line (a ball that
 *     went out, tracking noise) takes the value of the nearest zone; a point
 *     with a missing coordinate has no value (NAN), never zero.
 */
#include <math.h>
#include <string.h>

#include "analytics/analytics.h"

#define XT_SINGH_NX 12
#define XT_SINGH_NY 8
#define XT_FINE_NX 16
#define XT_FINE_NY 12

/* Karun Singh (2018), open_xt_12x8_v1: v[j * 12 + i], i from the own goal
 * line to the opponent's, j across the pitch (rows 4..7 mirror rows 3..0). */
static const double xt_singh_12x8[XT_SINGH_NX * XT_SINGH_NY] = {
    /* clang-format off */
    /* row 0 */
    0.00638303, 0.00779616, 0.00844854, 0.00977659, 0.01126267, 0.01248344,
    0.01473596, 0.0174506, 0.02122129, 0.02756312, 0.03485072, 0.0379259,
    /* row 1 */
    0.00750072, 0.00878589, 0.00942382, 0.0105949, 0.01214719, 0.0138454,
    0.01611813, 0.01870347, 0.02401521, 0.02953272, 0.04066992, 0.04647721,
    /* row 2 */
    0.0088799, 0.00977745, 0.01001304, 0.01110462, 0.01269174, 0.01429128,
    0.01685596, 0.01935132, 0.0241224, 0.02855202, 0.05491138, 0.06442595,
    /* row 3 */
    0.00941056, 0.01082722, 0.01016549, 0.01132376, 0.01262646, 0.01484598,
    0.01689528, 0.0199707, 0.02385149, 0.03511326, 0.10805102, 0.25745362,
    /* row 4 (= row 3) */
    0.00941056, 0.01082722, 0.01016549, 0.01132376, 0.01262646, 0.01484598,
    0.01689528, 0.0199707, 0.02385149, 0.03511326, 0.10805102, 0.25745362,
    /* row 5 (= row 2) */
    0.0088799, 0.00977745, 0.01001304, 0.01110462, 0.01269174, 0.01429128,
    0.01685596, 0.01935132, 0.0241224, 0.02855202, 0.05491138, 0.06442595,
    /* row 6 (= row 1) */
    0.00750072, 0.00878589, 0.00942382, 0.0105949, 0.01214719, 0.0138454,
    0.01611813, 0.01870347, 0.02401521, 0.02953272, 0.04066992, 0.04647721,
    /* row 7 (= row 0) */
    0.00638303, 0.00779616, 0.00844854, 0.00977659, 0.01126267, 0.01248344,
    0.01473596, 0.0174506, 0.02122129, 0.02756312, 0.03485072, 0.0379259,
    /* clang-format on */
};

/* The 12 x 8 grid resampled onto 16 x 12: each cell centre (u, v) in 0..1
 * maps to s = u * 12 - 0.5, t = v * 8 - 0.5 (clamped to the outermost
 * centres) and takes the bilinear mix of the four surrounding 12 x 8 cells.
 * Printed to 12 significant digits. */
static const double xt_resampled_16x12[XT_FINE_NX * XT_FINE_NY] = {
    /* clang-format off */
    /* row 0 */
    0.00638303, 0.00726623625, 0.0080408025, 0.00861454625, 0.00961058375, 0.01070539,
    0.01172045875, 0.012765005, 0.014454395, 0.01643261, 0.01886460875, 0.02201401875,
    0.02677039125, 0.03211787, 0.0360039125, 0.0379259,
    /* row 1 */
    0.006941875, 0.00778509375, 0.008532958125, 0.009092375625, 0.010029549375, 0.011135235625,
    0.01225223875, 0.013447248125, 0.015144216875, 0.01708328875, 0.019779990625, 0.02335945875,
    0.02780671125, 0.03430567, 0.039425783125, 0.042201555,
    /* row 2 */
    0.00773058333333, 0.0084934375, 0.0091652275, 0.00966675208333, 0.0105351245833, 0.0116536627083,
    0.0128686102083, 0.014209886875, 0.015950928125, 0.01784756625, 0.02076955625, 0.024700099375,
    0.028702245625, 0.0379156616667, 0.0454529354167, 0.0494686666667,
    /* row 3 */
    0.00865003666667, 0.0092513825, 0.0097256825, 0.0100529404167, 0.0108815629167, 0.0120079885417,
    0.0132069760417, 0.014531469375, 0.016418485625, 0.01830196125, 0.02106629125, 0.024680901875,
    0.028139103125, 0.0436044283333, 0.0558740620833, 0.0614344933333,
    /* row 4 */
    0.00914523, 0.009868420625, 0.01022243375, 0.010229880625, 0.011073574375, 0.01211725875,
    0.01337517375, 0.01485700375, 0.01658724625, 0.01861648875, 0.021283235625, 0.024967656875,
    0.030851928125, 0.06286299, 0.111278169375, 0.160939785,
    /* row 5 */
    0.00941056, 0.0102959725, 0.01057907125, 0.01031027375, 0.01117897625, 0.0121379475,
    0.01345878, 0.0151021425, 0.0166391175, 0.0188174175, 0.02142599625, 0.02525921125,
    0.03370553875, 0.08069936, 0.164076995, 0.25745362,
    /* row 6 */
    0.00941056, 0.0102959725, 0.01057907125, 0.01031027375, 0.01117897625, 0.0121379475,
    0.01345878, 0.0151021425, 0.0166391175, 0.0188174175, 0.02142599625, 0.02525921125,
    0.03370553875, 0.08069936, 0.164076995, 0.25745362,
    /* row 7 */
    0.00914523, 0.009868420625, 0.01022243375, 0.010229880625, 0.011073574375, 0.01211725875,
    0.01337517375, 0.01485700375, 0.01658724625, 0.01861648875, 0.021283235625, 0.024967656875,
    0.030851928125, 0.06286299, 0.111278169375, 0.160939785,
    /* row 8 */
    0.00865003666667, 0.0092513825, 0.0097256825, 0.0100529404167, 0.0108815629167, 0.0120079885417,
    0.0132069760417, 0.014531469375, 0.016418485625, 0.01830196125, 0.02106629125, 0.024680901875,
    0.028139103125, 0.0436044283333, 0.0558740620833, 0.0614344933333,
    /* row 9 */
    0.00773058333333, 0.0084934375, 0.0091652275, 0.00966675208333, 0.0105351245833, 0.0116536627083,
    0.0128686102083, 0.014209886875, 0.015950928125, 0.01784756625, 0.02076955625, 0.024700099375,
    0.028702245625, 0.0379156616667, 0.0454529354167, 0.0494686666667,
    /* row 10 */
    0.006941875, 0.00778509375, 0.008532958125, 0.009092375625, 0.010029549375, 0.011135235625,
    0.01225223875, 0.013447248125, 0.015144216875, 0.01708328875, 0.019779990625, 0.02335945875,
    0.02780671125, 0.03430567, 0.039425783125, 0.042201555,
    /* row 11 */
    0.00638303, 0.00726623625, 0.0080408025, 0.00861454625, 0.00961058375, 0.01070539,
    0.01172045875, 0.012765005, 0.014454395, 0.01643261, 0.01886460875, 0.02201401875,
    0.02677039125, 0.03211787, 0.0360039125, 0.0379259,
    /* clang-format on */
};

/* Contract: fills g with the 12 x 8 (Karun Singh) or the 16 x 12 (resampled)
 * grid; g->v points at static data (nothing to free). Any other size is
 * FA_EINVAL naming it. */
int fa_xt_grid_get(int nx, int ny, fa_xt_grid *g) {
    if (!g) return fa_err_set(FA_EINVAL, "xT grid: no output given");
    memset(g, 0, sizeof *g);
    if (nx == XT_SINGH_NX && ny == XT_SINGH_NY) {
        g->v = xt_singh_12x8;
        strcpy(g->source, "Karun Singh 2018, Introducing Expected Threat (xT), open 12x8 grid");
    } else if (nx == XT_FINE_NX && ny == XT_FINE_NY) {
        g->v = xt_resampled_16x12;
        strcpy(g->source, "16x12 resampled (bilinear, cell centres) from Karun Singh 2018 open 12x8 grid");
    } else {
        return fa_err_set(FA_EINVAL, "xT grid %dx%d: only 12x8 (Karun Singh 2018) and 16x12 are available",
                          nx, ny);
    }
    g->nx = nx;
    g->ny = ny;
    return 0;
}

/* Zone index of coordinate c on an axis of the given extent split into n
 * zones, clamped to 0..n-1 (c is finite). */
static int xt_zone(double c, double extent, int n) {
    double k = floor((c + extent / 2) / extent * n);
    if (k < 0) return 0;
    if (k > n - 1) return n - 1;
    return (int)k;
}

/* Contract: g from fa_xt_grid_get; p the pitch (NULL, or a size that is not
 * a positive finite number, means the 105 x 68 default); (x, y) in metres in
 * the frame of the side attacking +x. Points off the pitch are clamped to the
 * nearest zone; a non-finite coordinate or an unusable grid gives NAN. */
double fa_xt_at(const fa_xt_grid *g, const fa_pitch *p, double x, double y) {
    if (!g || !g->v || g->nx <= 0 || g->ny <= 0 || !isfinite(x) || !isfinite(y)) return NAN;
    int usable = p && isfinite(p->length) && isfinite(p->width) && p->length > 0 && p->width > 0;
    double length = usable ? p->length : FA_PITCH_DEFAULT_LENGTH;
    double width = usable ? p->width : FA_PITCH_DEFAULT_WIDTH;
    int i = xt_zone(x, length, g->nx);
    int j = xt_zone(y, width, g->ny);
    return g->v[j * g->nx + i];
}
