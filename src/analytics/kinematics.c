/*
 * kinematics.c - from a track's raw positions to smoothed positions, speed
 * and acceleration on a uniform clock, with outliers and gaps accounted for.
 *
 * The pipeline, per track (one object, one period):
 *   1. snap: each sample goes to the slot k = round((t - t0) * frame_rate)
 *      of a uniform clock starting at the track's first sample, so jittered
 *      timestamps become a regular series; a second sample in a slot is
 *      ignored (a repeated frame).
 *   2. gate (before any smoothing, so a glitch cannot smear into its
 *      neighbours): a sample whose distance from the last accepted sample,
 *      over the time between them, implies more than player_max_speed
 *      (ball_max_speed for the ball) is dropped and counted as an outlier,
 *      and its slot is then missing like any other. The first sample of a
 *      stretch has no predecessor, so it is checked against the two samples
 *      after it: if it is far from the next one while those two agree, it is
 *      the outlier. A sample with a non-finite coordinate (tracks.c never
 *      stores one, but a hand-made track may) is dropped and counted too.
 *   3. gaps: missing samples between two accepted ones are a gap of
 *      (missing samples) / frame_rate seconds. A gap shorter than max_gap_s
 *      is filled by linear interpolation (FA_KIN_INTERPOLATED); a longer one
 *      (or an equal one: "shorter are interpolated") splits the track into
 *      segments, the first sample after it is flagged FA_KIN_AFTER_GAP, and
 *      the gap's time goes into gap_s. Samples inside unbridged gaps are not
 *      in the output at all: t jumps there.
 *   4. per segment, never across a gap:
 *        savgol (default): velocity is the first derivative of the local
 *          least-squares polynomial (Savitzky-Golay derivative filter) applied
 *          to the raw positions, the position output is the same fit's value;
 *          speed = |velocity|, acceleration = the same derivative filter on
 *          speed. Near a segment's ends the polynomial fitted to the first
 *          (last) whole window is evaluated at the sample's own offset, so no
 *          sample is dropped or padded with invented data.
 *        butterworth: zero-phase low-pass (forward then backward through the
 *          cascade of biquads; the result's gain at the cutoff is -6 dB) of
 *          the positions, padded at each end by odd reflection (which
 *          continues a constant-velocity run exactly) and started from the
 *          steady state of the line the padded signal starts on, so a
 *          constant-velocity segment comes out exact however short; then
 *          central differences for velocity, and of speed for acceleration.
 *        none: central differences of the raw positions, and of speed.
 *      A segment shorter than the Savitzky-Golay window (or than 3 samples
 *      for Butterworth) falls back to plain central differences (one-sided at
 *      the ends; a lone sample has speed 0).
 *
 * Why Savitzky-Golay first: an order-1 fit over 7 samples (0.28 s at 25 Hz)
 * is the least-squares slope, which is exact for constant velocity and, in a
 * symmetric window, for constant acceleration too, so known answers survive
 * the filter, while the jitter of optical tracking (a few cm per frame,
 * i.e. ~1 m/s of false speed by plain differences) is averaged out.
 *
 * Cost: the filter coefficients are computed once per call (a window x
 * window table, one row per offset in the window, in float); the centred
 * samples, nearly all of them, go through a loop the compiler unrolls for
 * the default 7-tap window and vectorises across samples; every buffer is
 * sized up front, so there is no allocation per sample. Memory per call:
 * the output (25 bytes a sample) plus 9 bytes a sample of scratch.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

#define MAX_WINDOW 101
#define MAX_ORDER 10
#define MAX_BUTTER_ORDER 8
#define MAX_SECTIONS ((MAX_BUTTER_ORDER + 1) / 2)

typedef struct biquad {
    double b0, b1, b2, a1, a2; /* a first-order section has b2 = a2 = 0 */
} biquad;

/* Everything one call needs, computed once. */
typedef struct kin_ctx {
    const fa_analytics_config *c;
    const fa_track *tr;
    double fr, dt;
    double cap;                /* speed gate, m/s */
    double max_missing;        /* gaps of fewer missing samples than this are bridged */
    int window;                /* Savitzky-Golay window (odd) */
    float *sg_val, *sg_der;    /* [r * window + j]: value / derivative (per second) at offset r */
    biquad sec[MAX_SECTIONS];
    int nsec;
    size_t pad;                /* Butterworth reflection length */
    double *ext;               /* Butterworth work buffer */
    float *rx, *ry;            /* raw resampled positions */
} kin_ctx;

/* ------------------------------------------------------------ Savitzky-Golay coefficients */

/* Inverts the (n x n) matrix g in place by Gauss-Jordan with partial pivoting. */
static int invert(double *g, int n) {
    double inv[(MAX_ORDER + 1) * (MAX_ORDER + 1)];
    for (int i = 0; i < n * n; i++) inv[i] = (i / n == i % n);
    for (int col = 0; col < n; col++) {
        int piv = col;
        for (int r = col + 1; r < n; r++)
            if (fabs(g[r * n + col]) > fabs(g[piv * n + col])) piv = r;
        if (fabs(g[piv * n + col]) < 1e-300) return -1;
        for (int k = 0; k < n; k++) {
            double t = g[col * n + k];
            g[col * n + k] = g[piv * n + k], g[piv * n + k] = t;
            t = inv[col * n + k];
            inv[col * n + k] = inv[piv * n + k], inv[piv * n + k] = t;
        }
        double d = g[col * n + col];
        for (int k = 0; k < n; k++) g[col * n + k] /= d, inv[col * n + k] /= d;
        for (int r = 0; r < n; r++) {
            if (r == col) continue;
            double f = g[r * n + col];
            for (int k = 0; k < n; k++)
                g[r * n + k] -= f * g[col * n + k], inv[r * n + k] -= f * inv[col * n + k];
        }
    }
    memcpy(g, inv, (size_t)(n * n) * sizeof *g);
    return 0;
}

/* Fills val[r][j] and der[r][j] for a window of w = 2m + 1 samples and a
 * polynomial of order p: the fitted polynomial's value and time derivative
 * at offset r as weights on the window's samples j. Abscissae are scaled to
 * [-1, 1] so the normal equations stay well conditioned up to order 10. */
static int savgol_coefficients(int w, int p, double fr, float *val, float *der) {
    int m = w / 2, np = p + 1;
    double g[(MAX_ORDER + 1) * (MAX_ORDER + 1)] = {0};
    for (int j = 0; j < w; j++) {
        double u = (double)(j - m) / m, pw = 1;
        double pows[2 * MAX_ORDER + 1];
        for (int k = 0; k <= 2 * p; k++) pows[k] = pw, pw *= u;
        for (int a = 0; a < np; a++)
            for (int b = 0; b < np; b++) g[a * np + b] += pows[a + b];
    }
    if (invert(g, np)) return -1;
    for (int r = 0; r < w; r++) {
        double ur = (double)(r - m) / m;
        for (int j = 0; j < w; j++) {
            double uj = (double)(j - m) / m, v = 0, d = 0, urk = 1, urk1 = 0;
            for (int a = 0; a < np; a++) {
                double coef = 0, ujb = 1; /* coef = sum_b ginv[a][b] uj^b: polynomial term a's weight */
                for (int b = 0; b < np; b++) coef += g[a * np + b] * ujb, ujb *= uj;
                v += urk * coef;
                d += a * urk1 * coef;
                urk1 = urk;
                urk *= ur;
            }
            val[r * w + j] = (float)v;
            der[r * w + j] = (float)(d * fr / m);
        }
    }
    return 0;
}

/* Where sample i's window starts in a segment of n >= w samples (w = 2m + 1):
 * centred inside, the first / last whole window near the ends. */
static size_t window_start(size_t i, size_t n, size_t m) {
    if (i < m) return 0;
    if (i + m >= n) return n - (2 * m + 1);
    return i - m;
}

/* One sample's smoothed position and squared speed from the window starting
 * at rx + start, with the coefficient rows cv / cd. Each window is taken
 * relative to the sample's own raw value (the value weights add up to 1,
 * the derivative weights to 0), so float sums keep full precision however
 * far from the centre spot the player is. */
static inline void sg_point(const float *restrict rx, const float *restrict ry, size_t start, size_t i,
                            size_t w, const float *restrict cv, const float *restrict cd, float *restrict x,
                            float *restrict y, float *restrict v2) {
    float xc = rx[i], yc = ry[i], sx = 0, sy = 0, dx = 0, dy = 0;
    for (size_t j = 0; j < w; j++) {
        float ex = rx[start + j] - xc, ey = ry[start + j] - yc;
        sx += cv[j] * ex;
        sy += cv[j] * ey;
        dx += cd[j] * ex;
        dy += cd[j] * ey;
    }
    x[i] = xc + sx;
    y[i] = yc + sy;
    v2[i] = dx * dx + dy * dy;
}

/* The samples whose window is centred (i in [m, n - m)), four at a time:
 * the lanes are independent, so the compiler turns each group into vector
 * operations (SLP, already at -O2); with a constant w the tap loop unrolls.
 * restrict: outputs never alias inputs. */
static inline void sg_centred(const float *restrict rx, const float *restrict ry, size_t n, size_t w,
                              const float *restrict cv, const float *restrict cd, float *restrict x,
                              float *restrict y, float *restrict v2) {
    size_t m = w / 2, i = m;
    for (; i + 4 + m <= n; i += 4) {
        float xc[4], yc[4], sx[4] = {0}, sy[4] = {0}, dx[4] = {0}, dy[4] = {0};
        for (int l = 0; l < 4; l++) xc[l] = rx[i + l], yc[l] = ry[i + l];
        for (size_t j = 0; j < w; j++)
            for (int l = 0; l < 4; l++) {
                float ex = rx[i + l - m + j] - xc[l], ey = ry[i + l - m + j] - yc[l];
                sx[l] += cv[j] * ex;
                sy[l] += cv[j] * ey;
                dx[l] += cd[j] * ex;
                dy[l] += cd[j] * ey;
            }
        for (int l = 0; l < 4; l++) {
            x[i + l] = xc[l] + sx[l];
            y[i + l] = yc[l] + sy[l];
            v2[i + l] = dx[l] * dx[l] + dy[l] * dy[l];
        }
    }
    for (; i + m < n; i++) sg_point(rx, ry, i - m, i, w, cv, cd, x, y, v2);
}

/* Smoothed position and speed of a segment (n >= window): four dot products
 * per sample over the window of raw positions, then one square root. */
static void savgol_xyv(const kin_ctx *k, const float *rx, const float *ry, size_t n, float *x, float *y,
                       float *v) {
    size_t w = (size_t)k->window, m = w / 2;
    for (size_t i = 0; i < n; i++) {
        if (i == m && n > 2 * m) i = n - m; /* centred samples below */
        if (i >= n) break;
        size_t start = window_start(i, n, m), r = i - start;
        sg_point(rx, ry, start, i, w, k->sg_val + r * w, k->sg_der + r * w, x, y, v);
    }
    const float *cv = k->sg_val + m * w, *cd = k->sg_der + m * w;
    if (w == 7) sg_centred(rx, ry, n, 7, cv, cd, x, y, v); /* the default window, specialised */
    else sg_centred(rx, ry, n, w, cv, cd, x, y, v);
    for (size_t i = 0; i < n; i++) v[i] = sqrtf(v[i]);
}

/* One derivative-filter output at sample i from the window at u + start. */
static inline float sg_der_point(const float *restrict u, size_t start, size_t i, size_t w,
                                 const float *restrict cd) {
    float uc = u[i], acc = 0;
    for (size_t j = 0; j < w; j++) acc += cd[j] * (u[start + j] - uc);
    return acc;
}

/* As sg_centred, for the derivative filter alone. */
static inline void sg_der_centred(const float *restrict u, size_t n, size_t w, const float *restrict cd,
                                  float *restrict d) {
    size_t m = w / 2, i = m;
    for (; i + 4 + m <= n; i += 4) {
        float uc[4], acc[4] = {0};
        for (int l = 0; l < 4; l++) uc[l] = u[i + l];
        for (size_t j = 0; j < w; j++)
            for (int l = 0; l < 4; l++) acc[l] += cd[j] * (u[i + l - m + j] - uc[l]);
        for (int l = 0; l < 4; l++) d[i + l] = acc[l];
    }
    for (; i + m < n; i++) d[i] = sg_der_point(u, i - m, i, w, cd);
}

/* d = the derivative filter over u (n >= window), per second. */
static void savgol_der(const kin_ctx *k, const float *u, size_t n, float *d) {
    size_t w = (size_t)k->window, m = w / 2;
    for (size_t i = 0; i < n; i++) {
        if (i == m && n > 2 * m) i = n - m;
        if (i >= n) break;
        size_t start = window_start(i, n, m);
        d[i] = sg_der_point(u, start, i, w, k->sg_der + (i - start) * w);
    }
    const float *cd = k->sg_der + m * w;
    if (w == 7) sg_der_centred(u, n, 7, cd, d);
    else sg_der_centred(u, n, w, cd, d);
}

/* ------------------------------------------------------------ Butterworth */

/* Low-pass Butterworth of the given order at fc (Hz) for sample rate fs as a
 * cascade of biquads (bilinear transform with prewarping; a first-order
 * section for odd orders). Pole pairs at angles theta from the negative real
 * axis give sections of quality Q = 1 / (2 cos theta). */
static int butter_design(int order, double fc, double fs, biquad *sec) {
    double k = tan(M_PI * fc / fs), k2 = k * k;
    int n = 0;
    if (order % 2) {
        double norm = 1 / (1 + k);
        sec[n++] = (biquad){k * norm, k * norm, 0, (k - 1) * norm, 0};
    }
    for (int i = 0; i < order / 2; i++) {
        double theta = order % 2 ? (i + 1) * M_PI / order : (2 * i + 1) * M_PI / (2 * order);
        double q = 1 / (2 * cos(theta)), norm = 1 / (1 + k / q + k2);
        sec[n++] =
            (biquad){k2 * norm, 2 * k2 * norm, k2 * norm, 2 * (k2 - 1) * norm, (1 - k / q + k2) * norm};
    }
    return n;
}

/* Runs one section over x[0..n) in place, forwards or backwards, starting
 * from the steady state for the line the input starts on (its first value,
 * and its mean slope over the first q samples): the section's response to a
 * ramp is the ramp delayed by its DC group delay tau, so a constant-velocity
 * run is filtered exactly from its first sample, however short. */
static void biquad_run(const biquad *s, double *x, size_t n, size_t q, int backwards) {
    double u = backwards ? x[n - 1] : x[0];
    double slope = q ? ((backwards ? x[n - 1 - q] : x[q]) - u) / (double)q : 0;
    double tau = (s->b1 + 2 * s->b2) / (s->b0 + s->b1 + s->b2) - (s->a1 + 2 * s->a2) / (1 + s->a1 + s->a2);
    double x1 = u - slope, x2 = u - 2 * slope, y1 = x1 - slope * tau, y2 = x2 - slope * tau;
    double z2 = s->b2 * x1 - s->a2 * y1, z1 = s->b1 * x1 - s->a1 * y1 + s->b2 * x2 - s->a2 * y2;
    for (size_t k = 0; k < n; k++) {
        size_t i = backwards ? n - 1 - k : k;
        double in = x[i], y = s->b0 * in + z1;
        z1 = s->b1 * in - s->a1 * y + z2;
        z2 = s->b2 * in - s->a2 * y;
        x[i] = y;
    }
}

/* Zero-phase filtering of x[0..n) (n >= 2) into out, odd-reflection padded. */
static void butter_filtfilt(const kin_ctx *k, const float *x, size_t n, float *out) {
    size_t p = k->pad < n - 1 ? k->pad : n - 1, len = n + 2 * p;
    double *e = k->ext;
    for (size_t i = 0; i < n; i++) e[p + i] = x[i];
    for (size_t j = 1; j <= p; j++) {
        e[p - j] = 2.0 * x[0] - x[j];
        e[p + n - 1 + j] = 2.0 * x[n - 1] - x[n - 1 - j];
    }
    size_t q = p ? p : 1; /* the slope is measured over the padding (n - 1 samples when n is short) */
    for (int s = 0; s < k->nsec; s++) biquad_run(&k->sec[s], e, len, q, 0);
    for (int s = 0; s < k->nsec; s++) biquad_run(&k->sec[s], e, len, q, 1);
    for (size_t i = 0; i < n; i++) out[i] = (float)e[p + i];
}

/* ------------------------------------------------------------ derivatives */

/* d = du/dt by central differences (one-sided at the ends; 0 for n == 1). */
static void central_diff(const float *u, size_t n, double fr, float *d) {
    if (n == 1) {
        d[0] = 0;
        return;
    }
    float f = (float)fr, h = 0.5f * f;
    d[0] = (u[1] - u[0]) * f;
    d[n - 1] = (u[n - 1] - u[n - 2]) * f;
    for (size_t i = 1; i + 1 < n; i++) d[i] = (u[i + 1] - u[i - 1]) * h;
}

/* v = |(dx/dt, dy/dt)| by central differences (as central_diff). */
static void central_speed(const float *x, const float *y, size_t n, double fr, float *v) {
    if (n == 1) {
        v[0] = 0;
        return;
    }
    float f = (float)fr, h = 0.5f * f;
    v[0] = hypotf(x[1] - x[0], y[1] - y[0]) * f;
    v[n - 1] = hypotf(x[n - 1] - x[n - 2], y[n - 1] - y[n - 2]) * f;
    for (size_t i = 1; i + 1 < n; i++) {
        float dx = x[i + 1] - x[i - 1], dy = y[i + 1] - y[i - 1];
        v[i] = sqrtf(dx * dx + dy * dy) * h;
    }
}

/* Smooths and differentiates the segment [s, e) of the resampled track. */
static void segment_derive(const kin_ctx *k, size_t s, size_t e, fa_kinematics *out) {
    size_t n = e - s;
    const float *rx = k->rx + s, *ry = k->ry + s;
    float *x = out->x + s, *y = out->y + s, *v = out->v + s, *a = out->a + s;
    fa_smoothing how = k->c->smoothing;
    if (how == FA_SMOOTH_SAVGOL && n >= (size_t)k->window) {
        savgol_xyv(k, rx, ry, n, x, y, v);
        savgol_der(k, v, n, a);
        return;
    }
    if (how == FA_SMOOTH_BUTTERWORTH && n >= 3) {
        butter_filtfilt(k, rx, n, x);
        butter_filtfilt(k, ry, n, y);
    } else {
        memcpy(x, rx, n * sizeof *x);
        memcpy(y, ry, n * sizeof *y);
    }
    central_speed(x, y, n, k->fr, v);
    central_diff(v, n, k->fr, a);
}

/* ------------------------------------------------------------ snap, gate, gaps */

static int bridged(const kin_ctx *k, int64_t missing) {
    return missing <= 0 || (double)missing < k->max_missing;
}

/* Nearest slot of sample i (times never precede t[0], so truncating x + 0.5 rounds). */
static int64_t slot_of(const kin_ctx *k, size_t i) {
    return (int64_t)((k->tr->t[i] - k->tr->t[0]) * k->fr + 0.5);
}

static int finite_at(const fa_track *tr, size_t i) { return isfinite(tr->x[i]) && isfinite(tr->y[i]); }

/* 1 when going from sample i to sample j (slots si < sj) implies no more than the cap. */
static int speed_ok(const kin_ctx *k, size_t i, int64_t si, size_t j, int64_t sj) {
    const fa_track *tr = k->tr;
    double dx = (double)tr->x[j] - tr->x[i], dy = (double)tr->y[j] - tr->y[i],
           reach = k->cap * (double)(sj - si) * k->dt;
    return dx * dx + dy * dy <= reach * reach;
}

/* The next sample after i with a finite position in a later slot, within a
 * bridgeable gap; returns its index or tr->n (also at a bad time, which
 * gate() reports when it gets there). */
static size_t next_usable(const kin_ctx *k, size_t i, int64_t si, int64_t *sj) {
    const double *t = k->tr->t;
    for (size_t j = i + 1; j < k->tr->n; j++) {
        if (!isfinite(t[j]) || t[j] < t[j - 1]) return k->tr->n;
        if (!finite_at(k->tr, j)) continue;
        *sj = slot_of(k, j);
        if (*sj == si) continue;
        return bridged(k, *sj - si - 1) ? j : k->tr->n;
    }
    return k->tr->n;
}

/* A stretch's first sample i is an outlier when it is too far from the next
 * sample while the next two agree with each other. */
static int bad_anchor(const kin_ctx *k, size_t i, int64_t si) {
    int64_t sj, sl;
    size_t j = next_usable(k, i, si, &sj);
    if (j == k->tr->n || speed_ok(k, i, si, j, sj)) return 0;
    size_t l = next_usable(k, j, sj, &sl);
    return l < k->tr->n && speed_ok(k, j, sj, l, sl);
}

/* Steps 1-2: marks the accepted samples in keep[] and returns how many
 * samples the output will have (the accepted ones plus the slots of bridged
 * gaps); SIZE_MAX with the error set when time is not finite or goes back. */
static size_t gate(const kin_ctx *k, uint8_t *keep, size_t *outliers) {
    const fa_track *tr = k->tr;
    size_t nout = 0, last = 0;
    int64_t last_slot = -1;
    for (size_t i = 0; i < tr->n; i++) {
        keep[i] = 0;
        if (!isfinite(tr->t[i]) || (i && tr->t[i] < tr->t[i - 1])) {
            fa_err_set(FA_EINVAL, "kinematics: track '%s' period %d: non-monotonic time at sample %zu t=%g",
                       tr->id, tr->period, i, tr->t[i]);
            return SIZE_MAX;
        }
        if (!finite_at(tr, i)) {
            (*outliers)++;
            continue;
        }
        int64_t s = slot_of(k, i), missing = s - last_slot - 1;
        if (last_slot >= 0 && s <= last_slot) continue; /* repeated frame */
        int anchor = last_slot < 0 || !bridged(k, missing);
        if (anchor ? bad_anchor(k, i, s) : !speed_ok(k, last, last_slot, i, s)) {
            (*outliers)++;
            continue;
        }
        keep[i] = 1;
        nout += 1 + (last_slot >= 0 && !anchor ? (size_t)missing : 0);
        last = i;
        last_slot = s;
    }
    return nout;
}

/* Fills the bridged slots between output sample o - 1 (slot s0) and the
 * sample at (x, y) in slot s0 + missing + 1; returns the new o. */
static size_t interpolate(kin_ctx *k, fa_kinematics *out, size_t o, int64_t s0, int64_t missing, float x,
                          float y) {
    float px = k->rx[o - 1], py = k->ry[o - 1];
    for (int64_t j = 1; j <= missing; j++, o++) {
        double f = (double)j / (double)(missing + 1);
        out->t[o] = k->tr->t[0] + (double)(s0 + j) * k->dt;
        k->rx[o] = (float)(px + f * ((double)x - px));
        k->ry[o] = (float)(py + f * ((double)y - py));
        out->flags[o] = FA_KIN_INTERPOLATED;
    }
    out->interpolated += (size_t)missing;
    return o;
}

/* Step 3: writes t, flags and the raw positions (rx, ry) of every output sample. */
static void resample(kin_ctx *k, const uint8_t *keep, fa_kinematics *out) {
    const fa_track *tr = k->tr;
    size_t o = 0;
    int64_t last_slot = -1;
    for (size_t i = 0; i < tr->n; i++) {
        if (!keep[i]) continue;
        int64_t s = slot_of(k, i), missing = s - last_slot - 1;
        float x = tr->x[i], y = tr->y[i];
        uint8_t flag = FA_KIN_MEASURED;
        if (last_slot >= 0 && missing > 0) {
            if (bridged(k, missing)) {
                o = interpolate(k, out, o, last_slot, missing, x, y);
            } else {
                flag = FA_KIN_AFTER_GAP;
                out->gaps++;
                out->gap_s += (double)missing * k->dt;
            }
        }
        out->t[o] = tr->t[0] + (double)s * k->dt;
        k->rx[o] = x;
        k->ry[o] = y;
        out->flags[o++] = flag;
        last_slot = s;
    }
}

/* ------------------------------------------------------------ setup */

static int check_config(const fa_analytics_config *c, double fr) {
    if (c->smoothing != FA_SMOOTH_NONE && c->smoothing != FA_SMOOTH_SAVGOL &&
        c->smoothing != FA_SMOOTH_BUTTERWORTH)
        return fa_err_set(FA_EINVAL, "kinematics: unknown smoothing method %d", (int)c->smoothing);
    if (c->smoothing == FA_SMOOTH_SAVGOL &&
        (c->savgol_window < 3 || c->savgol_window > MAX_WINDOW || c->savgol_window % 2 == 0 ||
         c->savgol_order < 1 || c->savgol_order > MAX_ORDER || c->savgol_order >= c->savgol_window))
        return fa_err_set(FA_EINVAL, "kinematics: savgol window %d order %d: need an odd window in 3-%d and "
                          "1 <= order < window, order <= %d", c->savgol_window, c->savgol_order, MAX_WINDOW,
                          MAX_ORDER);
    if (c->smoothing == FA_SMOOTH_BUTTERWORTH &&
        (c->butter_order < 1 || c->butter_order > MAX_BUTTER_ORDER || !(c->butter_cutoff_hz > 0) ||
         !(c->butter_cutoff_hz < 0.5 * fr)))
        return fa_err_set(FA_EINVAL, "kinematics: butterworth order %d cutoff %g Hz: need order 1-%d and a "
                          "cutoff below the Nyquist frequency %g Hz of %g Hz tracking", c->butter_order,
                          c->butter_cutoff_hz, MAX_BUTTER_ORDER, 0.5 * fr, fr);
    if (!(c->player_max_speed > 0) || !(c->ball_max_speed > 0) || !(c->max_gap_s >= 0) ||
        !isfinite(c->max_gap_s))
        return fa_err_set(FA_EINVAL, "kinematics: speed caps must be > 0 and max_gap_s >= 0 (got %g, %g, %g)",
                          c->player_max_speed, c->ball_max_speed, c->max_gap_s);
    return 0;
}

/* The arrays are there and the span is sane; time order is checked by gate(). */
static int check_track(const fa_track *tr) {
    if (tr->n && (!tr->t || !tr->x || !tr->y))
        return fa_err_set(FA_EINVAL, "kinematics: track '%s' period %d: %zu samples but no arrays", tr->id,
                          tr->period, tr->n);
    if (tr->n && fabs(tr->t[tr->n - 1] - tr->t[0]) > 1e7)
        return fa_err_set(FA_EINVAL, "kinematics: track '%s' period %d: spans %g s, more than 1e7 s", tr->id,
                          tr->period, tr->t[tr->n - 1] - tr->t[0]);
    return 0;
}

static int ctx_init(kin_ctx *k, const fa_track *tr, double fr, int is_ball, const fa_analytics_config *c) {
    memset(k, 0, sizeof *k);
    k->c = c;
    k->tr = tr;
    k->fr = fr;
    k->dt = 1.0 / fr;
    k->cap = is_ball ? c->ball_max_speed : c->player_max_speed;
    k->max_missing = c->max_gap_s * fr - 1e-6; /* a gap of exactly max_gap_s is not bridged */
    if (c->smoothing == FA_SMOOTH_SAVGOL) {
        int w = c->savgol_window;
        k->window = w;
        k->sg_val = fa_malloc(2 * (size_t)(w * w) * sizeof *k->sg_val);
        if (!k->sg_val) return FA_ENOMEM;
        k->sg_der = k->sg_val + w * w;
        if (savgol_coefficients(w, c->savgol_order, fr, k->sg_val, k->sg_der))
            return fa_err_set(FA_EINVAL, "kinematics: savgol window %d order %d is singular", w,
                              c->savgol_order);
    } else if (c->smoothing == FA_SMOOTH_BUTTERWORTH) {
        k->nsec = butter_design(c->butter_order, c->butter_cutoff_hz, fr, k->sec);
        /* three periods of the cutoff: the start-up transient has died out within the padding
         * (segments shorter than that are padded by their own length) */
        k->pad = (size_t)fmin(ceil(3.0 * fr / c->butter_cutoff_hz), 1e6);
    }
    return 0;
}

static void ctx_free(kin_ctx *k) {
    free(k->sg_val);
    free(k->ext);
    free(k->rx);
}

static int out_alloc(fa_kinematics *out, size_t n) {
    out->n = n;
    out->t = fa_malloc(n * sizeof *out->t);
    out->x = fa_malloc(n * sizeof *out->x);
    out->y = fa_malloc(n * sizeof *out->y);
    out->v = fa_malloc(n * sizeof *out->v);
    out->a = fa_malloc(n * sizeof *out->a);
    out->flags = fa_malloc(n);
    return out->t && out->x && out->y && out->v && out->a && out->flags ? 0 : FA_ENOMEM;
}

static int work_alloc(kin_ctx *k, size_t n) {
    k->rx = fa_malloc(2 * n * sizeof *k->rx);
    if (!k->rx) return FA_ENOMEM;
    k->ry = k->rx + n;
    if (k->c->smoothing == FA_SMOOTH_BUTTERWORTH) {
        k->ext = fa_malloc((n + 2 * k->pad) * sizeof *k->ext);
        if (!k->ext) return FA_ENOMEM;
    }
    return 0;
}

/* Steps 1-4 once the context is ready. */
static int compute(kin_ctx *k, fa_kinematics *out) {
    uint8_t *keep = fa_malloc(k->tr->n);
    if (!keep) return FA_ENOMEM;
    size_t nout = gate(k, keep, &out->outliers);
    int rc = nout == SIZE_MAX ? FA_EINVAL : 0;
    if (!rc && nout) {
        rc = out_alloc(out, nout);
        if (!rc) rc = work_alloc(k, nout);
        if (!rc) resample(k, keep, out);
    }
    free(keep);
    for (size_t s = 0, e; !rc && s < out->n; s = e) {
        for (e = s + 1; e < out->n && !(out->flags[e] & FA_KIN_AFTER_GAP);) e++;
        segment_derive(k, s, e, out);
    }
    return rc;
}

/* Resamples, gates, bridges and smooths one track into *out (always
 * initialised: empty on error or for an empty track); is_ball picks the
 * ball's speed gate. FA_EINVAL for time that is not finite or goes back, a
 * bad frame rate or configuration (message says which); FA_ENOMEM. */
int fa_kinematics_compute(const fa_track *tr, double frame_rate, int is_ball, const fa_analytics_config *c,
                          fa_kinematics *out) {
    if (!out) return fa_err_set(FA_EINVAL, "kinematics: NULL output");
    memset(out, 0, sizeof *out);
    if (!tr || !c) return fa_err_set(FA_EINVAL, "kinematics: NULL track or configuration");
    if (!isfinite(frame_rate) || frame_rate <= 0 || frame_rate > 10000)
        return fa_err_set(FA_EINVAL, "kinematics: frame rate must be in (0, 10000], got %g", frame_rate);
    out->dt = 1.0 / frame_rate;
    int rc = check_config(c, frame_rate);
    if (!rc) rc = check_track(tr);
    if (rc || tr->n == 0) return rc;
    kin_ctx k;
    rc = ctx_init(&k, tr, frame_rate, is_ball, c);
    if (!rc) rc = compute(&k, out);
    ctx_free(&k);
    if (rc == FA_ENOMEM)
        fa_err_set(rc, "kinematics: out of memory for track '%s' (%zu samples)", tr->id, tr->n);
    if (rc) {
        fa_kinematics_free(out);
        out->dt = 1.0 / frame_rate;
    }
    return rc;
}

/* Frees the arrays and zeroes k (NULL is a no-op). */
void fa_kinematics_free(fa_kinematics *k) {
    if (!k) return;
    free(k->t);
    free(k->x);
    free(k->y);
    free(k->v);
    free(k->a);
    free(k->flags);
    memset(k, 0, sizeof *k);
}
