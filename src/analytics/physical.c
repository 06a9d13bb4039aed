/*
 * physical.c - a player's physical output from the kinematics of each
 * period he played: time, distance (total, per speed band, per band of his
 * own peak speed), efforts (sprints, high-speed runs, accelerations,
 * decelerations), peak and 99th-percentile speed, and per-90 rates.
 *
 * Definitions (stated once more in fa_analytics_config_json's notes):
 *   - a sample stands for 1/frame_rate seconds: seconds = samples x dt, an
 *     effort of k consecutive samples lasts k x dt, so at 25 Hz "held >= 1 s"
 *     means at least 25 samples and "held >= 0.5 s" at least 13 (0.52 s);
 *   - distance is the trapezoidal integral of speed over consecutive samples
 *     of a segment: sample i weighs dt/2 towards each neighbour it has in its
 *     segment, so 1501 samples at 5 m/s (60 s of movement) give exactly 300 m
 *     and nothing is ever counted across a gap or half-time. Band and effort
 *     distances use the same weights, so the bands add up to the total;
 *   - a speed is "at or above" an edge when v >= edge - 1e-4 m/s. Positions
 *     are float (a few micrometres of rounding) and the speed is a filter's
 *     output, so a run built at exactly 25.2 km/h comes out a few 1e-5 m/s
 *     either side of 7 m/s; 1e-4 m/s (0.00036 km/h) is far below what any
 *     tracking system resolves, and makes "exactly at the edge" count;
 *   - efforts are maximal runs of consecutive samples meeting the condition
 *     (speed at or above sprint_kmh / hsr_kmh; acceleration above accel_ms2
 *     or below -accel_ms2) that last at least the minimum time; a run ends at
 *     a gap. A high-speed run counts whether or not it contains a sprint;
 *   - peak speed is the highest speed held for peak_hold_s: the maximum, over
 *     every window of that many consecutive samples, of the window's minimum
 *     (van Herk / Gil-Werman: linear time). NAN when no segment is that long;
 *   - p99 speed: the 99th percentile of all samples, linear between closest
 *     ranks (rank 0.99 (n - 1), as numpy's default); NAN without samples;
 *   - relative bands: percent of that peak speed (NAN distances when the peak
 *     is unknown);
 *   - per 90: fa_per90(value, minutes) with the minutes the caller trusts
 *     (the lineup's, or seconds / 60 from here).
 * The kinematics' outlier, interpolation and gap counts are carried through.
 *
 * Cost: everything but the peak and the percentile is one pass over the
 * samples (bands found by counting lower edges, without branches); the peak
 * is three short passes (van Herk / Gil-Werman), and the exact percentile is
 * a histogram of the speeds' float bits followed by a selection among the
 * one or two buckets holding the wanted ranks, instead of sorting or a
 * quickselect over every sample.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

#define SPEED_EPS 1e-4 /* m/s, see the header */
#define KMH 3.6

/* Samples needed to last at least s seconds at dt per sample (>= 1). */
static size_t min_samples(double s, double dt) {
    double k = ceil(s / dt - 1e-6);
    return k < 1 ? 1 : (size_t)k;
}

/* End of the segment starting at s: the next sample after a gap, or n. */
static size_t segment_end(const fa_kinematics *k, size_t s) {
    size_t e = s + 1;
    while (e < k->n && !(k->flags[e] & FA_KIN_AFTER_GAP)) e++;
    return e;
}

/* Trapezoid weight (seconds) of sample i of segment [s, e): dt/2 per
 * neighbour it has in the segment. */
static inline double weight(double dt, size_t i, size_t s, size_t e) {
    if (i != s && i != e - 1) return dt;
    return e - s == 1 ? 0 : 0.5 * dt;
}

/* Band edges as speeds compared directly with the samples: [lo[i], hi[i]). */
typedef struct edges {
    int n;
    float lo[FA_MAX_BANDS], hi[FA_MAX_BANDS];
} edges;

/* scale converts the band unit to the sample unit; eps lowers both edges. */
static edges edges_of(const fa_band *b, int n, double scale, double eps) {
    edges e = {.n = n};
    for (int i = 0; i < n; i++) {
        e.lo[i] = (float)(b[i].lo * scale - eps);
        e.hi[i] = isinf(b[i].hi) ? INFINITY : (float)(b[i].hi * scale - eps);
    }
    return e;
}

/* The band holding v, or -1. Bands ascend without overlap (config.c and
 * check_config see to it), so the band is the number of lower edges at or
 * below v, less one: counted without a branch, then its upper edge checked. */
static inline int band_of(const edges *e, float v) {
    int b = -1;
    for (int i = 0; i < e->n; i++) b += v >= e->lo[i];
    return b >= 0 && v < e->hi[b] ? b : -1;
}

/* ------------------------------------------------------------ efforts */

typedef struct run {
    size_t len, min_len;
    double dist;
    int *count;
    double *total;
} run;

static void run_close(run *r) {
    if (r->len && r->len >= r->min_len) {
        (*r->count)++;
        if (r->total) *r->total += r->dist;
    }
    r->len = 0;
    r->dist = 0;
}

static inline void run_step(run *r, int on, double dist) {
    if (on) {
        r->len++;
        r->dist += dist;
    } else if (r->len) {
        run_close(r);
    }
}

enum { R_SPRINT, R_HSR, R_ACC, R_DEC, R_COUNT };

/* Time, distance, absolute and relative bands and efforts of one period, in one pass. */
static void period_figures(const fa_kinematics *k, const fa_analytics_config *c, const edges *bands,
                           const edges *rel, float to_pct, fa_physical *out) {
    run r[R_COUNT] = {
        {0, min_samples(c->sprint_min_s, k->dt), 0, &out->sprints, &out->sprint_distance},
        {0, min_samples(c->hsr_min_s, k->dt), 0, &out->hsr_runs, &out->hsr_distance},
        {0, min_samples(c->accel_min_s, k->dt), 0, &out->accelerations, NULL},
        {0, min_samples(c->accel_min_s, k->dt), 0, &out->decelerations, NULL},
    };
    float sprint = (float)(c->sprint_kmh / KMH - SPEED_EPS), hsr = (float)(c->hsr_kmh / KMH - SPEED_EPS);
    float acc = (float)c->accel_ms2;
    double distance = 0;
    for (size_t s = 0, e; s < k->n; s = e) {
        e = segment_end(k, s);
        for (int j = 0; j < R_COUNT; j++) run_close(&r[j]);
        for (size_t i = s; i < e; i++) {
            float v = k->v[i], a = k->a[i];
            double d = v * weight(k->dt, i, s, e);
            distance += d;
            int b = band_of(bands, v);
            if (b >= 0) out->band_distance[b] += d;
            b = band_of(rel, v * to_pct);
            if (b >= 0) out->rel_band_distance[b] += d;
            run_step(&r[R_SPRINT], v >= sprint, d);
            run_step(&r[R_HSR], v >= hsr, d);
            run_step(&r[R_ACC], a > acc, d);
            run_step(&r[R_DEC], a < -acc, d);
        }
    }
    for (int j = 0; j < R_COUNT; j++) run_close(&r[j]);
    out->distance += distance;
    out->seconds += (double)k->n * k->dt;
    out->outliers += k->outliers;
    out->interpolated += k->interpolated;
    out->gaps += k->gaps;
    out->gap_s += k->gap_s;
}

/* ------------------------------------------------------------ peak held */

/* Max over windows of `hold` consecutive samples of v[0..n) of the window
 * minimum (n >= hold), by van Herk / Gil-Werman: with blocks of `hold`
 * samples, the minimum of window [j, j + hold) is min(suffix minimum of j
 * in its block, prefix minimum of j + hold - 1 in its block), so three
 * branch-light passes replace a deque. g and h hold n floats each. */
static inline float min2(float a, float b) { return a < b ? a : b; }

static float max_of_window_min(const float *v, size_t n, size_t hold, float *g, float *h) {
    for (size_t i = 0, c = 0; i < n; i++, c++) {
        if (c == hold) c = 0;
        g[i] = c ? min2(g[i - 1], v[i]) : v[i];
    }
    size_t c = (n - 1) % hold; /* position of the last sample in its block */
    for (size_t i = n; i-- > 0; c = c ? c - 1 : hold - 1)
        h[i] = c == hold - 1 || i == n - 1 ? v[i] : min2(h[i + 1], v[i]);
    float best = -1;
    for (size_t j = 0; j + hold <= n; j++) {
        float w = min2(h[j], g[j + hold - 1]);
        best = w > best ? w : best;
    }
    return best;
}

/* The highest speed held for `hold` samples within any segment; -1 when no
 * segment is that long. */
static double peak_held(const fa_kinematics *k, size_t hold, float *g, float *h) {
    double best = -1;
    for (size_t s = 0, e; s < k->n; s = e) {
        e = segment_end(k, s);
        if (e - s >= hold) best = fmax(best, max_of_window_min(k->v + s, e - s, hold, g, h));
    }
    return best;
}

/* ------------------------------------------------------------ percentile */

/* Rearranges a[0..n) so that a[k] is the k-th smallest (Hoare's FIND / Wirth). */
static float select_kth(float *a, size_t n, size_t k) {
    ptrdiff_t l = 0, r = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (l < r) {
        float x = a[kk];
        ptrdiff_t i = l, j = r;
        do {
            while (a[i] < x) i++;
            while (x < a[j]) j--;
            if (i <= j) {
                float t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        } while (i <= j);
        if (j < kk) l = i;
        if (kk < i) r = j;
    }
    return a[kk];
}

/* ------------------------------------------------------------ the whole */

static int check_kin(const fa_kinematics *k, size_t p) {
    if (k->n && (!(k->dt > 0) || !isfinite(k->dt) || !k->v || !k->a || !k->flags))
        return fa_err_set(FA_EINVAL, "physical: kinematics %zu: %zu samples with dt %g or no arrays", p, k->n,
                          k->dt);
    return 0;
}

static int check_config(const fa_analytics_config *c) {
    if (c->nbands < 0 || c->nbands > FA_MAX_BANDS || c->nrel_bands < 0 || c->nrel_bands > FA_MAX_BANDS)
        return fa_err_set(FA_EINVAL, "physical: %d bands and %d relative bands, at most %d each", c->nbands,
                          c->nrel_bands, FA_MAX_BANDS);
    if (!(c->sprint_kmh > 0) || !(c->hsr_kmh > 0) || !(c->accel_ms2 > 0) || !(c->sprint_min_s >= 0) ||
        !(c->hsr_min_s >= 0) || !(c->accel_min_s >= 0) || !(c->peak_hold_s >= 0) || !(c->peak_hold_s < 1e6))
        return fa_err_set(FA_EINVAL, "physical: thresholds must be > 0 and minimum times >= 0");
    for (int i = 0; i < c->nbands; i++)
        if (!(c->bands[i].hi > c->bands[i].lo) || (i && c->bands[i].lo < c->bands[i - 1].hi))
            return fa_err_set(FA_EINVAL, "physical: speed band %d '%s' is empty or out of order", i,
                              c->bands[i].name);
    for (int i = 0; i < c->nrel_bands; i++)
        if (!(c->rel_bands[i].hi > c->rel_bands[i].lo) || (i && c->rel_bands[i].lo < c->rel_bands[i - 1].hi))
            return fa_err_set(FA_EINVAL, "physical: relative band %d '%s' is empty or out of order", i,
                              c->rel_bands[i].name);
    return 0;
}

/* Peak held over all periods (NAN when none is long enough). */
static int peak_all(const fa_kinematics *const *kin, size_t n, const fa_analytics_config *c, size_t longest,
                    double *peak) {
    float *g = fa_malloc(longest ? 2 * longest * sizeof *g : 1);
    if (!g) return FA_ENOMEM;
    double best = -1;
    for (size_t p = 0; p < n; p++)
        if (kin[p] && kin[p]->n)
            best = fmax(best, peak_held(kin[p], min_samples(c->peak_hold_s, kin[p]->dt), g, g + longest));
    free(g);
    *peak = best < 0 ? NAN : best;
    return 0;
}

/* An unsigned key with the order of the floats (any sign; NAN sorts last). */
static inline uint32_t order_key(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b & 0x80000000u ? ~b : b | 0x80000000u;
}

#define KEY_BUCKETS 65536 /* the key's top 16 bits: sign, exponent, 7 mantissa bits (0.8 % wide) */

/* Ranks lo and lo + 1 of all speeds, exactly: a histogram of the keys' top
 * bits finds the bucket holding rank lo (and the next non-empty one, which
 * holds rank lo + 1 if that bucket does not); only those buckets' samples
 * are gathered and selected. Two linear passes instead of sorting. */
static int ranks_of(const fa_kinematics *const *kin, size_t n, size_t lo, float *x0, float *x1) {
    uint32_t *hist = fa_calloc(KEY_BUCKETS, sizeof *hist);
    if (!hist) return FA_ENOMEM;
    for (size_t p = 0; p < n; p++)
        for (size_t i = 0; kin[p] && i < kin[p]->n; i++) hist[order_key(kin[p]->v[i]) >> 16]++;
    size_t below = 0, b = 0;
    while (below + hist[b] <= lo) below += hist[b++];
    size_t b2 = b + 1;
    while (b2 < KEY_BUCKETS && !hist[b2]) b2++;
    size_t count = hist[b] + (b2 < KEY_BUCKETS ? hist[b2] : 0), m = 0;
    free(hist);
    float *cand = fa_malloc(count * sizeof *cand);
    if (!cand) return FA_ENOMEM;
    for (size_t p = 0; p < n; p++)
        for (size_t i = 0; kin[p] && i < kin[p]->n; i++) {
            uint32_t key = order_key(kin[p]->v[i]) >> 16;
            if (key == b || key == b2) cand[m++] = kin[p]->v[i];
        }
    size_t r = lo - below;
    *x0 = select_kth(cand, m, r);
    *x1 = *x0;
    if (r + 1 < m) {
        *x1 = cand[r + 1];
        for (size_t i = r + 2; i < m; i++) *x1 = cand[i] < *x1 ? cand[i] : *x1;
    }
    free(cand);
    return 0;
}

/* The q-quantile of all speeds, linear between closest ranks; NAN without samples. */
static int percentile_all(const fa_kinematics *const *kin, size_t n, size_t total, double q, double *out) {
    *out = NAN;
    if (total == 0) return 0;
    double h = q * (double)(total - 1);
    size_t lo = (size_t)h;
    float x0, x1;
    int rc = ranks_of(kin, n, lo, &x0, &x1);
    if (!rc) *out = x0 + (h - (double)lo) * ((double)x1 - x0);
    return rc;
}

/* Validates everything up front; *total and *longest count the samples. */
static int check_inputs(const fa_kinematics *const *kin, size_t n, const fa_analytics_config *c,
                        size_t *total, size_t *longest) {
    if (!c || (n && !kin)) return fa_err_set(FA_EINVAL, "physical: NULL kinematics or configuration");
    int rc = check_config(c);
    *total = *longest = 0;
    for (size_t p = 0; p < n && !rc; p++) {
        if (!kin[p]) continue;
        rc = check_kin(kin[p], p);
        *total += kin[p]->n;
        *longest = kin[p]->n > *longest ? kin[p]->n : *longest;
    }
    if (!rc && *total >= UINT32_MAX) /* the percentile's histogram counts in 32 bits */
        rc = fa_err_set(FA_ELIMIT, "physical: %zu samples for one player, more than 2^32 - 1", *total);
    return rc;
}

/* One player's figures over his periods kin[0..n) (NULL entries are periods
 * he did not play); *out is zeroed first. FA_EINVAL for inconsistent
 * kinematics or a bad configuration, FA_ENOMEM, FA_ELIMIT past 2^32 samples. */
int fa_physical_compute(const fa_kinematics *const *kin, size_t n, const fa_analytics_config *c,
                        fa_physical *out) {
    if (!out) return fa_err_set(FA_EINVAL, "physical: NULL output");
    memset(out, 0, sizeof *out);
    size_t total = 0, longest = 0;
    int rc = check_inputs(kin, n, c, &total, &longest);
    if (rc) return rc;
    rc = peak_all(kin, n, c, longest, &out->peak_speed);
    if (!rc) rc = percentile_all(kin, n, total, 0.99, &out->p99_speed);
    if (rc) return fa_err_set(rc, "physical: out of memory for %zu samples", total);
    edges bands = edges_of(c->bands, c->nbands, 1 / KMH, SPEED_EPS);
    edges rel = edges_of(c->rel_bands, c->nrel_bands, 1, 1e-6);
    /* percent of the peak; a zero peak puts any movement in the top band; no peak (NAN): no band */
    double peak = out->peak_speed;
    float to_pct = isnan(peak) ? NAN : peak > 0 ? (float)(100.0 / peak) : INFINITY;
    for (size_t p = 0; p < n; p++)
        if (kin[p]) period_figures(kin[p], c, &bands, &rel, to_pct, out);
    if (isnan(peak))
        for (int b = 0; b < c->nrel_bands; b++) out->rel_band_distance[b] = total ? NAN : 0;
    return 0;
}

/* value scaled to 90 minutes; NAN when minutes is not > 0. */
double fa_per90(double value, double minutes) {
    if (!(minutes > 0)) return NAN;
    return value * 90.0 / minutes;
}
