/*
 * teams.c - team assignment from kit colours (see teams.h for the stages).
 *
 * Why it is built this way:
 *   - Colour space. Kits are compared in CIE Lab with L down-weighted
 *     (l_weight): Lab distances track perceived differences, and most of
 *     what lighting does to a shirt (sun, shadow, the far side of a
 *     panorama) is a change of L, not of a and b.
 *   - Descriptor. A torso of a 7-35 px player holds a few dozen pixels,
 *     mixed with grass, skin, hair and the shorts; after dropping the
 *     grass (a colour estimated from the frame itself, since turf and
 *     light differ per stadium and hour), a 2-means inside the torso
 *     separates the kit from the rest and its larger cluster is the kit's
 *     colour. One 3-vector per observation keeps the team model small.
 *   - Fit. A plain 2-means is pulled by goalkeepers and referees; a
 *     trimmed one (points beyond outlier_factor x the cluster's median
 *     distance do not move the centres) keeps the two teams where they
 *     are and leaves the odd kits out, to be grouped afterwards. Each
 *     track weighs 1 in total so a player seen 100 times does not outvote
 *     ten players seen 10 times. Restarts from k-means++ seeds with a fixed
 *     xorshift seed make it robust and reproducible.
 *   - Two-faced kits. Under a blue sky a white shirt's shaded side is a
 *     purplish blue and its lit side white; the torso's 2-means splits them
 *     and the kit colour flips between the two from frame to frame. The
 *     team's observations then spread wide (the real SoccerTrack clip:
 *     observation cut-off about 25 where a black referee stood 25-29
 *     away). So outlier tracks are also judged per track: a player's
 *     median distance is small (most frames show the face the fit saw
 *     most), a referee's is large in every frame; and an observation whose
 *     kit colour is unexplained votes with its torso's other colour.
 *   - Similar kits. When the centres are close relative to the spreads,
 *     any split is a guess; the fit says so (similar = 1) and every team
 *     vote is turned into unknown instead of a coin toss.
 *   - Voting. Single observations are noisy (occlusion, blur, a team-mate
 *     in front); the role of a track is the majority of its observations
 *     with a margin, and locked once clear so that it stays stable.
 * Observations are kept in one array, chained per track (index links), so
 * adding one is O(1) amortised and a track's vote visits only its own.
 */
#include "vision/teams.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define MAX_TRACK_ID (1 << 24)
#define MAX_TORSO 1024 /* torso pixels sampled at most (larger torsos are subsampled) */
#define KM_ITERS 30    /* Lloyd iterations of the team 2-means */
#define TORSO_ITERS 8  /* Lloyd iterations of the torso 2-means */
#define TORSO_MERGE 12 /* torso clusters closer than this (Lab) are one colour */
#define N_ROLES 7
#define FIT_MAX_POINTS 20000  /* observations a fit uses at most, about (k-means cost) */
#define GROUP_PREFER 0.5f     /* a team's observation this much nearer to a group is the group's */
#define OTHER_MIN_SHARE 0.25f /* a torso's other colour votes (see vote_of) when it covers this much */

/* ---------------------------------------------------------------- colour */

static float srgb_to_linear(uint8_t v) {
    float c = (float)v / 255.0f;
    return c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
}

static float lab_f(float t) {
    const float e = 216.0f / 24389.0f, k = 24389.0f / 27.0f;
    return t > e ? cbrtf(t) : (k * t + 16.0f) / 116.0f;
}

static void linear_to_lab(float r, float g, float b, float lab[3]) {
    float x = (0.4124564f * r + 0.3575761f * g + 0.1804375f * b) / 0.95047f;
    float y = 0.2126729f * r + 0.7151522f * g + 0.0721750f * b;
    float z = (0.0193339f * r + 0.1191920f * g + 0.9503041f * b) / 1.08883f;
    float fx = lab_f(x), fy = lab_f(y), fz = lab_f(z);
    lab[0] = 116.0f * fy - 16.0f;
    lab[1] = 500.0f * (fx - fy);
    lab[2] = 200.0f * (fy - fz);
}

void fa_teams_rgb_to_lab(uint8_t r, uint8_t g, uint8_t b, float lab[3]) {
    linear_to_lab(srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b), lab);
}

/* The 256 sRGB levels linearised (a per-call table: no global state). */
static void linear_table(float t[256]) {
    for (int i = 0; i < 256; i++)
        t[i] = srgb_to_linear((uint8_t)i);
}

static void pixel_lab(const float lin[256], const uint8_t *p, float lab[3]) {
    linear_to_lab(lin[p[0]], lin[p[1]], lin[p[2]], lab);
}

static float ab_dist(const float *a, const float *b) { return hypotf(a[1] - b[1], a[2] - b[2]); }

static int check_image(const char *fn, const uint8_t *rgb, int w, int h, size_t stride) {
    if (!rgb || w <= 0 || h <= 0 || stride < (size_t)w * 3)
        return fa_err_set(FA_EINVAL,
                          "%s: bad image: %s, %d x %d, stride %zu (need pixels, w, h > 0, "
                          "stride >= 3 w)",
                          fn, rgb ? "pixels" : "NULL", w, h, stride);
    return 0;
}

/* ----------------------------------------------------------------- grass */

static void swap_float(float *a, float *b) {
    float t = *a;
    *a = *b, *b = t;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Moves the k-th smallest of v[0..n) to v[k], smaller ones before it and
 * larger ones after (Wirth's selection): O(n) on
 * average where sorting the ~100 000 grass samples of every frame five
 * times was a tenth of the whole analysis' CPU. Values must not be NaN. */
static void select_kth(float *v, size_t n, size_t k) {
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) { /* Wirth's selection: v[lo..hi] holds the k-th smallest */
        float pivot = v[kk];
        ptrdiff_t i = lo, j = hi;
        do {
            while (v[i] < pivot)
                i++;
            while (pivot < v[j])
                j--;
            if (i <= j) swap_float(v + i++, v + j--);
        } while (i <= j);
        if (j < kk) lo = i;
        if (kk < i) hi = j;
    }
}

/* Median of v[0..n) (reorders v); the mean of the two middle values when n is even. */
static float median(float *v, size_t n) {
    if (!n) return 0;
    select_kth(v, n, n / 2);
    float upper = v[n / 2];
    if (n % 2) return upper;
    float lower = v[0]; /* the largest of the lower half, which select_kth left before n / 2 */
    for (size_t i = 1; i < n / 2; i++)
        if (v[i] > lower) lower = v[i];
    return 0.5f * (lower + upper);
}

/* Collects the Lab of the green-led samples into l, a, b; returns the count. */
static size_t green_samples(const uint8_t *rgb, int w, int h, size_t stride, int step, float *l, float *a,
                            float *b) {
    float lin[256], lab[3];
    linear_table(lin);
    size_t n = 0;
    for (int y = step / 2; y < h; y += step) {
        const uint8_t *row = rgb + (size_t)y * stride;
        for (int x = step / 2; x < w; x += step) {
            const uint8_t *p = row + (size_t)x * 3;
            if (p[1] <= p[0] || p[1] <= p[2]) continue;
            pixel_lab(lin, p, lab);
            if (lab[1] > -5) continue; /* grey, white or sky with a green tint */
            l[n] = lab[0], a[n] = lab[1], b[n] = lab[2];
            n++;
        }
    }
    return n;
}

/* The densest 2-unit cell of the a-b histogram of the n samples (3 x 3 smoothed). */
static void ab_mode(const float *a, const float *b, size_t n, float *ma, float *mb) {
    enum { BINS = 128 };
    int *hist = fa_calloc(BINS * BINS, sizeof *hist);
    if (!hist) { /* fall back on the medians */
        *ma = a[n / 2], *mb = b[n / 2];
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int x = (int)((a[i] + 128) / 2), y = (int)((b[i] + 128) / 2);
        if (x >= 0 && x < BINS && y >= 0 && y < BINS) hist[y * BINS + x]++;
    }
    int best = -1, bx = 0, by = 0;
    for (int y = 1; y < BINS - 1; y++)
        for (int x = 1; x < BINS - 1; x++) {
            int s = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                    s += hist[(y + dy) * BINS + x + dx];
            if (s > best) best = s, bx = x, by = y;
        }
    *ma = (float)(bx * 2 - 127), *mb = (float)(by * 2 - 127);
    free(hist);
}

/* Grass colour and radii from the green-led samples (l, a, b; d is n scratch floats). */
static void grass_from_samples(const float *l, const float *a, const float *b, size_t n, float *d,
                               fa_teams_grass *g) {
    float ma, mb;
    ab_mode(a, b, n, &ma, &mb);
    /* the core: samples within 20 of the mode; refine the centre as their medians */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (hypotf(a[i] - ma, b[i] - mb) <= 20) d[m++] = a[i];
    float ca = median(d, m);
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (hypotf(a[i] - ma, b[i] - mb) <= 20) d[m++] = b[i];
    float cb = median(d, m);
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (hypotf(a[i] - ma, b[i] - mb) <= 20) d[m++] = l[i];
    g->lab[0] = median(d, m), g->lab[1] = ca, g->lab[2] = cb;
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (hypotf(a[i] - ca, b[i] - cb) <= 20) d[m++] = hypotf(a[i] - ca, b[i] - cb);
    g->ab_radius = fmaxf(10.0f, 3.0f * median(d, m));
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (hypotf(a[i] - ca, b[i] - cb) <= g->ab_radius) d[m++] = fabsf(l[i] - g->lab[0]);
    g->l_radius = fmaxf(15.0f, 3.0f * median(d, m));
    g->found = 1;
}

int fa_teams_grass_estimate(const uint8_t *rgb, int w, int h, size_t stride, fa_teams_grass *g) {
    int rc = check_image("fa_teams_grass_estimate", rgb, w, h, stride);
    if (rc) return rc;
    memset(g, 0, sizeof *g);
    int step = (int)sqrt((double)w * h / 100000.0);
    if (step < 1) step = 1;
    size_t total = (size_t)((w + step - 1) / step) * (size_t)((h + step - 1) / step);
    float *buf = fa_malloc(total * 4 * sizeof *buf);
    if (!buf) return FA_ENOMEM;
    size_t n = green_samples(rgb, w, h, stride, step, buf, buf + total, buf + 2 * total);
    if (n >= 4 && n * 100 >= total)
        grass_from_samples(buf, buf + total, buf + 2 * total, n, buf + 3 * total, g);
    free(buf);
    return 0;
}

static int is_grass(const fa_teams_grass *g, const float lab[3]) {
    return g && g->found && ab_dist(lab, g->lab) <= g->ab_radius && fabsf(lab[0] - g->lab[0]) <= g->l_radius;
}

/* ----------------------------------------------------------- descriptor */

/* Pixel range [*lo, *hi] whose centres lie in [a, b); the pixel under the
 * middle when none does. */
static void centre_range(float a, float b, int *lo, int *hi) {
    *lo = (int)ceilf(a - 0.5f);
    *hi = (int)ceilf(b - 0.5f) - 1;
    if (*hi < *lo) *lo = *hi = (int)floorf((a + b) / 2);
}

/* Kit pixels of the torso of box into px (n x 3 Lab); returns the count. */
static int torso_pixels(const uint8_t *rgb, int w, int h, size_t stride, const float box[4],
                        const fa_teams_grass *g, float *px) {
    float bw = box[2] - box[0], bh = box[3] - box[1];
    int x0, x1, y0, y1;
    centre_range(box[0] + 0.25f * bw, box[0] + 0.75f * bw, &x0, &x1);
    centre_range(box[1] + 0.15f * bh, box[1] + 0.50f * bh, &y0, &y1);
    double area = ((double)x1 - x0 + 1) * ((double)y1 - y0 + 1);
    int step = (int)ceil(sqrt(area / MAX_TORSO));
    if (step < 1) step = 1;
    float lin[256];
    linear_table(lin);
    int n = 0;
    for (int y = y0; y <= y1; y += step) {
        if (y < 0 || y >= h) continue;
        for (int x = x0; x <= x1 && n < MAX_TORSO; x += step) {
            if (x < 0 || x >= w) continue;
            float *lab = px + 3 * n;
            pixel_lab(lin, rgb + (size_t)y * stride + (size_t)x * 3, lab);
            if (!is_grass(g, lab)) n++;
        }
    }
    return n;
}

static float dist2(const float *a, const float *b) {
    float d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
    return d0 * d0 + d1 * d1 + d2 * d2;
}

/* Index of the pixel of px farthest from c. */
static int farthest(const float *px, int n, const float *c) {
    int best = 0;
    float bd = -1;
    for (int i = 0; i < n; i++) {
        float d = dist2(px + 3 * i, c);
        if (d > bd) bd = d, best = i;
    }
    return best;
}

/* 2-means of n Lab pixels; writes the two centres and their counts. */
static void torso_2means(const float *px, int n, float c[2][3], int cnt[2]) {
    float mean[3] = {0, 0, 0};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            mean[k] += px[3 * i + k] / (float)n;
    int i0 = farthest(px, n, mean), i1 = farthest(px, n, px + 3 * i0);
    memcpy(c[0], px + 3 * i0, sizeof c[0]);
    memcpy(c[1], px + 3 * i1, sizeof c[1]);
    for (int it = 0; it < TORSO_ITERS; it++) {
        float s[2][3] = {{0, 0, 0}, {0, 0, 0}};
        cnt[0] = cnt[1] = 0;
        for (int i = 0; i < n; i++) {
            const float *p = px + 3 * i;
            int j = dist2(p, c[1]) < dist2(p, c[0]);
            cnt[j]++;
            for (int k = 0; k < 3; k++)
                s[j][k] += p[k];
        }
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3 && cnt[j]; k++)
                c[j][k] = s[j][k] / (float)cnt[j];
    }
}

/* Which of the two torso clusters is the kit: the larger, or with grass
 * known the larger in count x distance from the grass (what is left of the
 * grass, mixed with the kit at the body's edges, lies between the two). */
static int kit_cluster(float c[2][3], const int cnt[2], const fa_teams_grass *g) {
    if (!g || !g->found || !cnt[1]) return cnt[1] > cnt[0];
    float s0 = (float)cnt[0] * sqrtf(dist2(c[0], g->lab)), s1 = (float)cnt[1] * sqrtf(dist2(c[1], g->lab));
    return s1 > s0;
}

int fa_teams_describe(const uint8_t *rgb, int w, int h, size_t stride, const float box[4],
                      const fa_teams_grass *g, fa_kit_desc *d) {
    int rc = check_image("fa_teams_describe", rgb, w, h, stride);
    if (rc) return rc;
    memset(d, 0, sizeof *d);
    if (!box || !isfinite(box[0]) || !isfinite(box[1]) || !isfinite(box[2]) || !isfinite(box[3]) ||
        !(box[0] < box[2]) || !(box[1] < box[3]) || fabsf(box[0]) > 1e7f || fabsf(box[1]) > 1e7f ||
        fabsf(box[2]) > 1e7f || fabsf(box[3]) > 1e7f)
        return fa_err_set(FA_EINVAL,
                          "fa_teams_describe: box (%g, %g, %g, %g): expected finite x1 < x2, y1 < y2",
                          box ? (double)box[0] : 0.0, box ? (double)box[1] : 0.0, box ? (double)box[2] : 0.0,
                          box ? (double)box[3] : 0.0);
    float *px = fa_malloc(MAX_TORSO * 3 * sizeof *px);
    if (!px) return FA_ENOMEM;
    int n = torso_pixels(rgb, w, h, stride, box, g, px);
    if (n >= FA_TEAMS_MIN_PIXELS) {
        float c[2][3];
        int cnt[2];
        torso_2means(px, n, c, cnt);
        if (sqrtf(dist2(c[0], c[1])) < TORSO_MERGE) { /* one colour split by noise */
            for (int k = 0; k < 3; k++)
                c[0][k] = (c[0][k] * (float)cnt[0] + c[1][k] * (float)cnt[1]) / (float)n;
            memset(c[1], 0, sizeof c[1]);
            cnt[0] = n, cnt[1] = 0;
        }
        int big = kit_cluster(c, cnt, g);
        memcpy(d->lab[0], c[big], sizeof d->lab[0]);
        memcpy(d->lab[1], c[!big], sizeof d->lab[1]);
        d->share[0] = (float)cnt[big] / (float)n;
        d->share[1] = (float)cnt[!big] / (float)n;
        d->n_pixels = n;
    }
    free(px);
    return n >= FA_TEAMS_MIN_PIXELS ? n : 0;
}

/* ------------------------------------------------------------- options */

const char *fa_team_role_name(fa_team_role r) {
    static const char *const names[N_ROLES] = {"unknown",      "team_a",     "team_b", "goalkeeper_a",
                                               "goalkeeper_b", "goalkeeper", "referee"};
    return (unsigned)r < N_ROLES ? names[r] : "unknown";
}

void fa_teams_options_default(fa_teams_options *o) {
    o->fps = 25;
    o->fit_seconds = 5;
    o->l_weight = 0.5f;
    o->outlier_factor = 2.5f;
    o->outlier_min = 15;
    o->group_dist = 20;
    o->max_referees = 3;
    o->similar_separation = 1.0f;
    o->similar_min_dist = 25;
    o->vote_margin = 0.3f;
    o->lock_votes = 5;
    o->restarts = 8;
    o->seed = 1;
}

static int bad_option(const char *field, double v, const char *want) {
    return fa_err_set(FA_EINVAL, "fa_teams_options: field '%s': expected %s, got %g", field, want, v);
}

int fa_teams_options_check(const fa_teams_options *o) {
    if (!(o->fps > 0 && o->fps < 1e6)) return bad_option("fps", o->fps, "0 < fps < 1e6");
    if (!(o->fit_seconds > 0 && o->fit_seconds < 1e7))
        return bad_option("fit_seconds", o->fit_seconds, "0 < fit_seconds < 1e7");
    if (!(o->l_weight >= 0 && o->l_weight <= 4)) return bad_option("l_weight", o->l_weight, "0..4");
    if (!(o->outlier_factor >= 1 && o->outlier_factor <= 100))
        return bad_option("outlier_factor", o->outlier_factor, "1..100");
    if (!(o->outlier_min > 0 && o->outlier_min <= 300))
        return bad_option("outlier_min", o->outlier_min, "0 < x <= 300");
    if (!(o->group_dist > 0 && o->group_dist <= 300))
        return bad_option("group_dist", o->group_dist, "0 < x <= 300");
    if (o->max_referees < 2 || o->max_referees > 10)
        return bad_option("max_referees", o->max_referees, "2..10");
    if (!(o->similar_separation >= 0 && o->similar_separation <= 100))
        return bad_option("similar_separation", o->similar_separation, "0..100");
    if (!(o->similar_min_dist >= 0 && o->similar_min_dist <= 300))
        return bad_option("similar_min_dist", o->similar_min_dist, "0..300");
    if (!(o->vote_margin >= 0 && o->vote_margin <= 1))
        return bad_option("vote_margin", o->vote_margin, "0..1");
    if (o->lock_votes < 1) return bad_option("lock_votes", o->lock_votes, ">= 1");
    if (o->restarts < 1 || o->restarts > 1000) return bad_option("restarts", o->restarts, "1..1000");
    return 0;
}

/* --------------------------------------------------------------- model */

typedef struct obs {
    int id;
    int next; /* next observation of the same track, -1 at the end */
    int64_t frame;
    float lab[3];   /* the kit's colour */
    float other[3]; /* the torso's other colour and its share (0: none) */
    float other_share;
    float x;
    int has_x;
} obs;

typedef struct track {
    int head, tail, n;
    int locked;
    fa_team_role lock_role;
} track;

struct fa_teams {
    fa_teams_options o;
    obs *obs;
    size_t n_obs, cap_obs;
    track *tracks; /* indexed by id */
    int cap_tracks;
    int64_t first_frame;
    fa_teams_summary s;
    float cutoff[2];                         /* team outlier cut-offs of the last fit */
    float group_radius[FA_TEAMS_MAX_GROUPS]; /* an observation this close to a group votes for it */
};

fa_teams *fa_teams_new(const fa_teams_options *o) {
    fa_teams_options def;
    if (!o) {
        fa_teams_options_default(&def);
        o = &def;
    }
    if (fa_teams_options_check(o)) return NULL;
    fa_teams *t = fa_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->o = *o;
    return t;
}

void fa_teams_free(fa_teams *t) {
    if (!t) return;
    free(t->obs);
    free(t->tracks);
    free(t);
}

static int check_id(const char *fn, int id) {
    if (id < 1 || id >= MAX_TRACK_ID)
        return fa_err_set(FA_EINVAL, "%s: track id %d: expected 1..%d", fn, id, MAX_TRACK_ID - 1);
    return 0;
}

static int grow_tracks(fa_teams *t, int id) {
    if (id < t->cap_tracks) return 0;
    int cap = t->cap_tracks ? t->cap_tracks : 64;
    while (cap <= id)
        cap *= 2;
    track *nt = fa_realloc(t->tracks, (size_t)cap * sizeof *nt);
    if (!nt) return FA_ENOMEM;
    for (int i = t->cap_tracks; i < cap; i++)
        nt[i] = (track){-1, -1, 0, 0, FA_ROLE_UNKNOWN};
    t->tracks = nt;
    t->cap_tracks = cap;
    return 0;
}

static int grow_obs(fa_teams *t) {
    if (t->n_obs < t->cap_obs) return 0;
    size_t cap = t->cap_obs ? 2 * t->cap_obs : 256;
    if (cap > (size_t)INT32_MAX) return fa_err_set(FA_ELIMIT, "fa_teams_observe: too many observations");
    obs *no = fa_realloc(t->obs, cap * sizeof *no);
    if (!no) return FA_ENOMEM;
    t->obs = no;
    t->cap_obs = cap;
    return 0;
}

static int check_desc(int id, int64_t frame, const fa_kit_desc *d, const float *x) {
    if (!d)
        return fa_err_set(FA_EINVAL, "fa_teams_observe: track %d frame %lld: NULL descriptor", id,
                          (long long)frame);
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 3; k++)
            if (!isfinite(d->lab[c][k]) || fabsf(d->lab[c][k]) > 1000)
                return fa_err_set(FA_EINVAL,
                                  "fa_teams_observe: track %d frame %lld: colour %d component %d is %g, "
                                  "expected a finite Lab value",
                                  id, (long long)frame, c, k, (double)d->lab[c][k]);
    for (int c = 0; c < 2; c++)
        if (!isfinite(d->share[c]) || d->share[c] < 0 || d->share[c] > 1)
            return fa_err_set(FA_EINVAL,
                              "fa_teams_observe: track %d frame %lld: share %d is %g, expected 0..1", id,
                              (long long)frame, c, (double)d->share[c]);
    if (x && (!isfinite(*x) || fabsf(*x) > 1e7f))
        return fa_err_set(FA_EINVAL, "fa_teams_observe: track %d frame %lld: position %g, expected finite",
                          id, (long long)frame, (double)*x);
    return 0;
}

int fa_teams_observe(fa_teams *t, int track_id, int64_t frame, const fa_kit_desc *d, const float *x) {
    int rc = check_id("fa_teams_observe", track_id);
    if (rc) return rc;
    if ((rc = check_desc(track_id, frame, d, x))) return rc;
    if (d->n_pixels < FA_TEAMS_MIN_PIXELS) return 0;
    if ((rc = grow_tracks(t, track_id)) || (rc = grow_obs(t))) return rc;
    int i = (int)t->n_obs++;
    obs *o = &t->obs[i];
    *o = (obs){.id = track_id, .next = -1, .frame = frame, .x = x ? *x : 0, .has_x = x != NULL};
    memcpy(o->lab, d->lab[0], sizeof o->lab);
    memcpy(o->other, d->lab[1], sizeof o->other);
    o->other_share = d->share[1];
    track *tr = &t->tracks[track_id];
    if (tr->tail >= 0)
        t->obs[tr->tail].next = i;
    else
        tr->head = i;
    tr->tail = i;
    tr->n++;
    if (i == 0 || frame < t->first_frame) t->first_frame = frame;
    return 0;
}

/* ---------------------------------------------------------------- fit */

/* Colour distance with L weighted. */
static float cdist(const fa_teams_options *o, const float *a, const float *b) {
    float dl = o->l_weight * (a[0] - b[0]), da = a[1] - b[1], db = a[2] - b[2];
    return sqrtf(dl * dl + da * da + db * db);
}

/* The points of one fit: colours, weights (1 / observations of the track), ids, positions. */
typedef struct points {
    size_t n;
    float (*lab)[3];
    const obs **src; /* the observation (its other colour) */
    float *w;
    int *id;
    float *x;
    int *has_x;
    int *label; /* 0 / 1 team, -1 outlier */
    float *d;   /* distance to the nearest centre */
} points;

static void points_free(points *p) {
    free(p->lab);
    free(p->src);
    free(p->w);
    free(p->id);
    free(p->x);
    free(p->has_x);
    free(p->label);
    free(p->d);
}

static int points_alloc(points *p, size_t n) {
    memset(p, 0, sizeof *p);
    p->lab = fa_malloc(n * sizeof *p->lab);
    p->src = fa_malloc(n * sizeof *p->src);
    p->w = fa_malloc(n * sizeof *p->w);
    p->id = fa_malloc(n * sizeof *p->id);
    p->x = fa_malloc(n * sizeof *p->x);
    p->has_x = fa_malloc(n * sizeof *p->has_x);
    p->label = fa_malloc(n * sizeof *p->label);
    p->d = fa_malloc(n * sizeof *p->d);
    if (!p->lab || !p->src || !p->w || !p->id || !p->x || !p->has_x || !p->label || !p->d) {
        points_free(p);
        return FA_ENOMEM;
    }
    return 0;
}

/* Whether observation i is in this fit: the first window on the first
 * fit, every observation when refining; every stride-th of those. */
static int selected(const fa_teams *t, size_t i, int64_t last, size_t stride) {
    return t->obs[i].frame <= last && i % stride == 0;
}

/* Selects the observations of this fit (at most about FIT_MAX_POINTS,
 * evenly strided over the arrival order when there are more). */
static int collect_points(const fa_teams *t, points *p, int *n_tracks) {
    int64_t last = INT64_MAX;
    if (t->s.n_fits == 0) {
        double span = t->o.fit_seconds * t->o.fps;
        if ((double)t->first_frame + span < 9.0e18) last = t->first_frame + (int64_t)span;
    }
    size_t in_window = 0;
    for (size_t i = 0; i < t->n_obs; i++)
        in_window += t->obs[i].frame <= last;
    size_t stride = in_window > FIT_MAX_POINTS ? (in_window + FIT_MAX_POINTS - 1) / FIT_MAX_POINTS : 1;
    int *cnt = fa_calloc((size_t)t->cap_tracks, sizeof *cnt);
    if (!cnt) return FA_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < t->n_obs; i++)
        if (selected(t, i, last, stride)) cnt[t->obs[i].id]++, n++;
    *n_tracks = 0;
    for (int i = 0; i < t->cap_tracks; i++)
        *n_tracks += cnt[i] > 0;
    int rc = points_alloc(p, n ? n : 1);
    if (rc) {
        free(cnt);
        return rc;
    }
    for (size_t i = 0; i < t->n_obs; i++) {
        if (!selected(t, i, last, stride)) continue;
        const obs *o = &t->obs[i];
        size_t j = p->n++;
        memcpy(p->lab[j], o->lab, sizeof p->lab[j]);
        p->w[j] = 1.0f / (float)cnt[o->id];
        p->id[j] = o->id;
        p->x[j] = o->x;
        p->has_x[j] = o->has_x;
        p->src[j] = o;
    }
    free(cnt);
    return 0;
}

static double next_uniform(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Index drawn with probability proportional to q[i]. */
static size_t draw(const float *q, size_t n, uint64_t *s) {
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += q[i];
    double r = next_uniform(s) * total;
    for (size_t i = 0; i < n; i++) {
        r -= q[i];
        if (r < 0) return i;
    }
    return n - 1;
}

/* k-means++ seeds for 2 centres, weighted. q is scratch of n floats. */
static void seed_2(const fa_teams_options *o, const points *p, float c[2][3], float *q, uint64_t *s) {
    size_t i0 = draw(p->w, p->n, s);
    memcpy(c[0], p->lab[i0], sizeof c[0]);
    for (size_t i = 0; i < p->n; i++) {
        float d = cdist(o, p->lab[i], c[0]);
        q[i] = p->w[i] * d * d;
    }
    memcpy(c[1], p->lab[draw(q, p->n, s)], sizeof c[1]);
}

typedef struct wd {
    float d, w;
} wd;

static int cmp_wd(const void *a, const void *b) {
    float x = ((const wd *)a)->d, y = ((const wd *)b)->d;
    return (x > y) - (x < y);
}

/* Weighted median distance of the points labelled j (by nearest centre), 0 when none. */
static float median_dist(const points *p, const int *near, int j, wd *scratch) {
    size_t m = 0;
    double total = 0;
    for (size_t i = 0; i < p->n; i++)
        if (near[i] == j) scratch[m++] = (wd){p->d[i], p->w[i]}, total += p->w[i];
    if (!m) return 0;
    qsort(scratch, m, sizeof *scratch, cmp_wd);
    double acc = 0;
    for (size_t i = 0; i < m; i++) {
        acc += scratch[i].w;
        if (acc >= total / 2) return scratch[i].d;
    }
    return scratch[m - 1].d;
}

typedef struct km {
    float c[2][3];
    float cutoff[2];
    double cost;
} km;

/* Trimmed Lloyd iterations from km->c; labels p->label, p->d; returns the cost. */
static double trimmed_lloyd(const fa_teams_options *o, points *p, km *k, int *near, wd *scratch) {
    for (int it = 0; it < KM_ITERS; it++) {
        for (size_t i = 0; i < p->n; i++) {
            float d0 = cdist(o, p->lab[i], k->c[0]), d1 = cdist(o, p->lab[i], k->c[1]);
            near[i] = d1 < d0;
            p->d[i] = d1 < d0 ? d1 : d0;
        }
        for (int j = 0; j < 2; j++)
            k->cutoff[j] = fmaxf(o->outlier_factor * median_dist(p, near, j, scratch), o->outlier_min);
        double s[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
        int changed = 0;
        for (size_t i = 0; i < p->n; i++) {
            int lab = p->d[i] <= k->cutoff[near[i]] ? near[i] : -1;
            changed |= it == 0 || lab != p->label[i];
            p->label[i] = lab;
            if (lab < 0) continue;
            for (int c = 0; c < 3; c++)
                s[lab][c] += p->w[i] * p->lab[i][c];
            s[lab][3] += p->w[i];
        }
        for (int j = 0; j < 2; j++)
            for (int c = 0; c < 3 && s[j][3] > 0; c++)
                k->c[j][c] = (float)(s[j][c] / s[j][3]);
        if (!changed) break;
    }
    double cost = 0;
    for (size_t i = 0; i < p->n; i++) {
        float d = fminf(p->d[i], k->cutoff[near[i]]);
        cost += p->w[i] * d * d;
    }
    return cost;
}

/* Weight of the inliers of team j. */
static double team_weight(const points *p, int j) {
    double s = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->label[i] == j) s += p->w[i];
    return s;
}

/* Best trimmed 2-means over restarts (plus the previous fit's centres when refining). */
static int best_2means(const fa_teams *t, points *p, km *best) {
    float *q = fa_malloc(p->n * sizeof *q);
    int *near = fa_malloc(p->n * sizeof *near);
    wd *scratch = fa_malloc(p->n * sizeof *scratch);
    int rc = (!q || !near || !scratch) ? FA_ENOMEM : 0;
    uint64_t seed = t->o.seed ? t->o.seed : 0x9E3779B97F4A7C15ull;
    best->cost = DBL_MAX;
    int runs = t->o.restarts + (t->s.fitted ? 1 : 0);
    for (int r = 0; r < runs && !rc; r++) {
        km k;
        if (r == t->o.restarts)
            memcpy(k.c, t->s.team_lab, sizeof k.c);
        else
            seed_2(&t->o, p, k.c, q, &seed);
        k.cost = trimmed_lloyd(&t->o, p, &k, near, scratch);
        if (team_weight(p, 0) > 0 && team_weight(p, 1) > 0 && cdist(&t->o, k.c[0], k.c[1]) > 1e-3f &&
            k.cost < best->cost)
            *best = k;
    }
    if (!rc && best->cost == DBL_MAX)
        rc = fa_err_set(FA_EINVAL,
                        "fa_teams_fit: k-means could not split %zu observations into two kits "
                        "(all colours alike?)",
                        p->n);
    if (!rc) trimmed_lloyd(&t->o, p, best, near, scratch); /* labels of the best run */
    free(q);
    free(near);
    free(scratch);
    return rc;
}

/* Orders the teams: the first fit puts the lighter kit first; a refit keeps the previous labels. */
static void order_teams(const fa_teams *t, points *p, km *k) {
    int swap;
    if (t->s.fitted)
        swap = cdist(&t->o, k->c[0], t->s.team_lab[1]) + cdist(&t->o, k->c[1], t->s.team_lab[0]) <
               cdist(&t->o, k->c[0], t->s.team_lab[0]) + cdist(&t->o, k->c[1], t->s.team_lab[1]);
    else
        swap = k->c[1][0] > k->c[0][0];
    if (!swap) return;
    float c[3], cut = k->cutoff[0];
    memcpy(c, k->c[0], sizeof c);
    memcpy(k->c[0], k->c[1], sizeof c);
    memcpy(k->c[1], c, sizeof c);
    k->cutoff[0] = k->cutoff[1], k->cutoff[1] = cut;
    for (size_t i = 0; i < p->n; i++)
        if (p->label[i] >= 0) p->label[i] = 1 - p->label[i];
}

/* Spreads, separation and the similar verdict into s. */
static void team_stats(const fa_teams_options *o, const points *p, const km *k, fa_teams_summary *s) {
    double sq[2] = {0, 0}, w[2] = {0, 0};
    for (size_t i = 0; i < p->n; i++) {
        int j = p->label[i];
        if (j < 0) continue;
        float d = cdist(o, p->lab[i], k->c[j]);
        sq[j] += p->w[i] * d * d;
        w[j] += p->w[i];
    }
    for (int j = 0; j < 2; j++) {
        memcpy(s->team_lab[j], k->c[j], sizeof s->team_lab[j]);
        s->team_spread[j] = w[j] > 0 ? (float)sqrt(sq[j] / w[j]) : 0;
        s->team_tracks[j] = (float)w[j];
    }
    s->centre_dist = cdist(o, k->c[0], k->c[1]);
    float spread = s->team_spread[0] + s->team_spread[1];
    s->separation = spread > 1e-3f ? s->centre_dist / spread : 1000.0f;
    if (s->separation > 1000.0f) s->separation = 1000.0f;
    s->similar = s->separation < o->similar_separation || s->centre_dist < o->similar_min_dist;
}

/* ------------------------------------------------------ outlier groups */

typedef struct otrack {
    int id;
    float lab[3];
    float x;
    int has_x;
    int group;
} otrack;

/* Per-track sums over the fit's points: all of them, and the outliers'. */
typedef struct tsum {
    double w_all, w_out, lab_all[3], lab[3], x;
    int nx;
} tsum;

/* Whether outlier point i is explained by a team all the same: its
 * torso's other colour (OTHER_MIN_SHARE of it at least) within a team's
 * cut-off, as it votes (vote_of). */
static int other_explains(const fa_teams_options *o, const points *p, size_t i, const fa_teams_summary *s,
                          const float cutoff[2]) {
    const obs *ob = p->src[i];
    if (ob->other_share < OTHER_MIN_SHARE) return 0;
    return cdist(o, ob->other, s->team_lab[0]) <= cutoff[0] ||
           cdist(o, ob->other, s->team_lab[1]) <= cutoff[1];
}

/* Sums the points per track id (array of cap_tracks, NULL on ENOMEM);
 * the outliers are the points outside both teams that their other colour
 * does not explain either. */
static tsum *track_sums(const fa_teams *t, const points *p, const fa_teams_summary *s,
                        const float cutoff[2]) {
    tsum *ts = fa_calloc((size_t)t->cap_tracks, sizeof *ts);
    if (!ts) return NULL;
    for (size_t i = 0; i < p->n; i++) {
        tsum *e = &ts[p->id[i]];
        e->w_all += p->w[i];
        for (int c = 0; c < 3; c++)
            e->lab_all[c] += p->w[i] * p->lab[i][c];
        if (p->has_x[i]) e->x += p->x[i], e->nx++;
        if (p->label[i] >= 0 || other_explains(&t->o, p, i, s, cutoff)) continue;
        e->w_out += p->w[i];
        for (int c = 0; c < 3; c++)
            e->lab[c] += p->w[i] * p->lab[i][c];
    }
    return ts;
}

/* Distance (cdist) of colour c from the segment between the team centres:
 * a track of either team whose observations mix its kit with the other's
 * (blur, occlusion, a far player in a few pixels) lies near the segment. */
static float segment_dist(const fa_teams_options *o, const float *c, const fa_teams_summary *s) {
    const float *a = s->team_lab[0], *b = s->team_lab[1];
    float w[3] = {o->l_weight, 1, 1}, ab2 = 0, dot = 0;
    for (int k = 0; k < 3; k++) {
        float u = w[k] * (b[k] - a[k]), v = w[k] * (c[k] - a[k]);
        ab2 += u * u, dot += u * v;
    }
    float t = ab2 > 0 ? fminf(fmaxf(dot / ab2, 0), 1) : 0, q[3];
    for (int k = 0; k < 3; k++)
        q[k] = a[k] + t * (b[k] - a[k]);
    return cdist(o, c, q);
}

/* The tracks' mean colours (over every fit point) into mean[id]. */
static void track_means(const fa_teams *t, const tsum *ts, float (*mean)[3]) {
    for (int id = 1; id < t->cap_tracks; id++)
        for (int c = 0; c < 3 && ts[id].w_all > 0; c++)
            mean[id][c] = (float)(ts[id].lab_all[c] / ts[id].w_all);
}

typedef struct idd {
    int id;
    float d;
} idd;

static int cmp_idd(const void *a, const void *b) {
    const idd *x = a, *y = b;
    if (x->id != y->id) return (x->id > y->id) - (x->id < y->id);
    return (x->d > y->d) - (x->d < y->d);
}

/* Each track's median distance of its fit points from the segment between
 * the centres into med[id]: a point's is its kit colour's, or its other
 * colour's when nearer (OTHER_MIN_SHARE of the torso at least; see
 * vote_of). 0, or -1 on ENOMEM. */
static int track_medians(const fa_teams *t, const points *p, const fa_teams_summary *s, float *med) {
    idd *v = fa_malloc((p->n ? p->n : 1) * sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < p->n; i++) {
        float d = segment_dist(&t->o, p->lab[i], s);
        if (p->src[i]->other_share >= OTHER_MIN_SHARE) d = fminf(d, segment_dist(&t->o, p->src[i]->other, s));
        v[i] = (idd){p->id[i], d};
    }
    qsort(v, p->n, sizeof *v, cmp_idd);
    for (size_t i = 0, j = 0; i < p->n; i = j) {
        while (j < p->n && v[j].id == v[i].id)
            j++;
        size_t m = j - i;
        med[v[i].id] = m % 2 ? v[i + m / 2].d : 0.5f * (v[i + m / 2 - 1].d + v[i + m / 2].d);
    }
    free(v);
    return 0;
}

/* The team of a track's mean colour c: the nearer centre. */
static int nearer_team(const fa_teams_options *o, const float *c, const fa_teams_summary *s) {
    return cdist(o, c, s->team_lab[1]) < cdist(o, c, s->team_lab[0]);
}

/* The track-level cut-offs: per team (a track's is the nearer centre to its
 * mean colour), outlier_factor x the median over its tracks of their
 * median distance from the segment between the centres, at least
 * outlier_min. The observations' cut-offs are too wide for this when a
 * team's kit shows two faces (the lit and the shaded side of a white shirt
 * under a blue sky: a bimodal spread), wide enough to take in a black
 * referee, who is far in every frame; a player's median is near. 0, or -1
 * on ENOMEM. */
static int track_cutoffs(const fa_teams *t, const tsum *ts, const float (*mean)[3], const float *med,
                         const fa_teams_summary *s, float cut[2]) {
    float *d = fa_malloc((size_t)t->cap_tracks * sizeof *d);
    if (!d) return -1;
    for (int j = 0; j < 2; j++) {
        size_t m = 0;
        for (int id = 1; id < t->cap_tracks; id++)
            if (ts[id].w_all > 0 && nearer_team(&t->o, mean[id], s) == j) d[m++] = med[id];
        cut[j] = fmaxf(t->o.outlier_factor * median(d, m), t->o.outlier_min);
    }
    free(d);
    return 0;
}

/* Outlier tracks, with their colour and mean position: those whose fit
 * observations are mostly outliers (colour: the outliers' mean), and those
 * whose median distance from the segment between the centres is beyond
 * their team's track cut-off (colour: the mean). -1 on ENOMEM. */
static long outlier_tracks(const fa_teams *t, const points *p, const tsum *ts, const fa_teams_summary *s,
                           otrack *ot) {
    float(*mean)[3] = fa_calloc((size_t)t->cap_tracks, sizeof *mean);
    float *med = fa_calloc((size_t)t->cap_tracks, sizeof *med), cut[2];
    int rc = !mean || !med ? -1 : track_medians(t, p, s, med);
    if (!rc) track_means(t, ts, mean);
    if (!rc) rc = track_cutoffs(t, ts, (const float(*)[3])mean, med, s, cut);
    long n = 0;
    for (int id = 1; !rc && id < t->cap_tracks; id++) {
        const tsum *e = &ts[id];
        if (e->w_all <= 0) continue;
        int by_obs = e->w_out > 0.5 * e->w_all, by_track = med[id] > cut[nearer_team(&t->o, mean[id], s)];
        if (!by_obs && !by_track) continue;
        otrack *o = &ot[n++];
        o->id = id;
        for (int c = 0; c < 3; c++)
            o->lab[c] = by_obs ? (float)(e->lab[c] / e->w_out) : mean[id][c];
        o->has_x = e->nx > 0;
        o->x = e->nx ? (float)(e->x / e->nx) : 0;
        o->group = -1;
    }
    free(mean);
    free(med);
    return rc ? -1 : n;
}

/* Single-linkage grouping of the outlier tracks by colour; returns the group count. */
static int link_groups(const fa_teams_options *o, otrack *ot, size_t n) {
    int ng = 0;
    for (size_t i = 0; i < n; i++) {
        if (ot[i].group >= 0) continue;
        ot[i].group = ng;
        for (int grown = 1; grown;) { /* flood fill */
            grown = 0;
            for (size_t a = 0; a < n; a++) {
                if (ot[a].group != ng) continue;
                for (size_t b = 0; b < n; b++)
                    if (ot[b].group < 0 && cdist(o, ot[a].lab, ot[b].lab) <= o->group_dist)
                        ot[b].group = ng, grown = 1;
            }
        }
        ng++;
    }
    return ng;
}

/* Mean position of the team-j inliers with a position; 0 when none. */
static int team_mean_x(const points *p, int j, double *x) {
    double s = 0, w = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->label[i] == j && p->has_x[i]) s += p->w[i] * p->x[i], w += p->w[i];
    if (w <= 0) return 0;
    *x = s / w;
    return 1;
}

static int cmp_float_asc(const void *a, const void *b) { return cmp_float(a, b); }

/* The median of the tracks' mean positions (over every fit track with one). */
static int half_line(const fa_teams *t, const tsum *ts, double *half) {
    float *xs = fa_malloc((size_t)t->cap_tracks * sizeof *xs);
    if (!xs) return -1;
    size_t m = 0;
    for (int id = 1; id < t->cap_tracks; id++)
        if (ts[id].nx) xs[m++] = (float)(ts[id].x / ts[id].nx);
    if (m) {
        qsort(xs, m, sizeof *xs, cmp_float_asc);
        *half = m % 2 ? xs[m / 2] : 0.5 * (xs[m / 2 - 1] + xs[m / 2]);
    }
    free(xs);
    return m > 0;
}

/* Track weight of the team players beyond position x on side (-1 left, +1 right). */
static double team_beyond(const points *p, double x, int side) {
    double w = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->label[i] >= 0 && p->has_x[i] && side * (p->x[i] - x) > 0) w += p->w[i];
    return w;
}

/* The singleton group most extreme on one side of half (side -1: left,
 * +1: right), -1 when none or when more than 1.5 players stand beyond it
 * (a goalkeeper is the last man; attackers beyond him are rare and brief). */
static int extreme_singleton(const fa_teams_summary *s, const points *p, const otrack *ot, size_t n,
                             double half, int side) {
    int best = -1;
    double bx = 0, x = 0;
    for (size_t i = 0; i < n; i++) {
        int g = ot[i].group;
        if (g >= s->n_groups || s->groups[g].n_tracks != 1 || !ot[i].has_x) continue;
        if (s->groups[g].role != FA_ROLE_UNKNOWN) continue;
        double v = side * (ot[i].x - half);
        if (v <= 0) continue;
        if (best < 0 || v > bx) best = g, bx = v, x = ot[i].x;
    }
    return best >= 0 && team_beyond(p, x, side) <= 1.5 ? best : -1;
}

/* Goalkeepers with sides: per half, the most extreme singleton; its team
 * is the one whose players stand on its side (lower mean x for the left). */
static void goalkeepers_by_position(const fa_teams *t, const points *p, const tsum *ts, const otrack *ot,
                                    size_t n, fa_teams_summary *s) {
    double half, xa, xb;
    if (half_line(t, ts, &half) <= 0) return;
    int have_teams = team_mean_x(p, 0, &xa) && team_mean_x(p, 1, &xb);
    int left_team_a = have_teams && xa <= xb;
    int gl = extreme_singleton(s, p, ot, n, half, -1);
    if (gl >= 0)
        s->groups[gl].role = !have_teams   ? FA_ROLE_GOALKEEPER
                             : left_team_a ? FA_ROLE_GOALKEEPER_A
                                           : FA_ROLE_GOALKEEPER_B;
    int gr = extreme_singleton(s, p, ot, n, half, +1);
    if (gr >= 0)
        s->groups[gr].role = !have_teams   ? FA_ROLE_GOALKEEPER
                             : left_team_a ? FA_ROLE_GOALKEEPER_B
                                           : FA_ROLE_GOALKEEPER_A;
}

/* Roles of the groups: the referees (the largest group of 2..max_referees
 * tracks), goalkeepers (see goalkeepers_by_position; without positions: up
 * to two singletons, side unknown), a last lone singleton the referee. */
static void group_roles(const fa_teams *t, const points *p, const tsum *ts, const otrack *ot, size_t n,
                        fa_teams_summary *s) {
    int ref = -1, singles = 0;
    for (int g = 0; g < s->n_groups; g++) {
        int k = s->groups[g].n_tracks;
        singles += k == 1;
        if (k >= 2 && k <= t->o.max_referees && (ref < 0 || k > s->groups[ref].n_tracks)) ref = g;
    }
    if (ref >= 0) s->groups[ref].role = FA_ROLE_REFEREE;
    if (s->positions) {
        goalkeepers_by_position(t, p, ts, ot, n, s);
    } else if (singles <= 2) {
        for (int g = 0; g < s->n_groups; g++)
            if (s->groups[g].n_tracks == 1) s->groups[g].role = FA_ROLE_GOALKEEPER;
    }
    if (ref >= 0) return;
    int last = -1, left = 0;
    for (int g = 0; g < s->n_groups; g++)
        if (s->groups[g].n_tracks == 1 && s->groups[g].role == FA_ROLE_UNKNOWN) last = g, left++;
    if (left == 1) s->groups[last].role = FA_ROLE_REFEREE;
}

/* Outlier tracks grouped by colour into s->groups, with roles and voting radii. */
static int find_groups(fa_teams *t, const points *p, fa_teams_summary *s, const float cutoff[2]) {
    otrack *ot = fa_malloc((size_t)t->cap_tracks * sizeof *ot);
    tsum *ts = track_sums(t, p, s, cutoff);
    if (!ot || !ts) {
        free(ot);
        free(ts);
        return FA_ENOMEM;
    }
    long found = outlier_tracks(t, p, ts, s, ot);
    if (found < 0) {
        free(ot);
        free(ts);
        return FA_ENOMEM;
    }
    size_t n = (size_t)found;
    int ng = link_groups(&t->o, ot, n);
    s->n_groups = ng < FA_TEAMS_MAX_GROUPS ? ng : FA_TEAMS_MAX_GROUPS;
    for (int g = 0; g < s->n_groups; g++) {
        fa_teams_group *gr = &s->groups[g];
        memset(gr, 0, sizeof *gr);
        for (size_t i = 0; i < n; i++)
            if (ot[i].group == g) {
                gr->n_tracks++;
                for (int c = 0; c < 3; c++)
                    gr->lab[c] += ot[i].lab[c];
            }
        for (int c = 0; c < 3; c++)
            gr->lab[c] /= (float)gr->n_tracks;
        float far = 0;
        for (size_t i = 0; i < n; i++)
            if (ot[i].group == g) far = fmaxf(far, cdist(&t->o, ot[i].lab, gr->lab));
        t->group_radius[g] = far + t->o.group_dist;
    }
    group_roles(t, p, ts, ot, n, s);
    free(ot);
    free(ts);
    return 0;
}

static int any_position(const points *p) {
    for (size_t i = 0; i < p->n; i++)
        if (p->has_x[i]) return 1;
    return 0;
}

int fa_teams_fit(fa_teams *t) {
    if (t->n_obs == 0)
        return fa_err_set(FA_EINVAL,
                          "fa_teams_fit: no observations with kit pixels (call fa_teams_observe first)");
    points p;
    int n_tracks, rc = collect_points(t, &p, &n_tracks);
    if (rc) return rc;
    if (n_tracks < 2) {
        points_free(&p);
        return fa_err_set(FA_EINVAL,
                          "fa_teams_fit: %d track with kit pixels in the first %g s, need at least 2",
                          n_tracks, t->o.fit_seconds);
    }
    km k;
    fa_teams_summary s = t->s;
    if (!(rc = best_2means(t, &p, &k))) {
        order_teams(t, &p, &k);
        team_stats(&t->o, &p, &k, &s);
        s.positions = any_position(&p);
        rc = find_groups(t, &p, &s, k.cutoff);
    }
    if (!rc) {
        s.fitted = 1;
        s.n_fits++;
        s.n_tracks = n_tracks;
        s.n_obs = (int)p.n;
        t->cutoff[0] = k.cutoff[0], t->cutoff[1] = k.cutoff[1];
        t->s = s;
        if (s.similar)
            for (int i = 0; i < t->cap_tracks; i++)
                t->tracks[i].locked = 0;
    }
    points_free(&p);
    return rc;
}

void fa_teams_get_summary(const fa_teams *t, fa_teams_summary *s) { *s = t->s; }

/* ---------------------------------------------------------- assignment */

/* The class of colour lab: team 0 / 1 (the nearer within its cut-off), or
 * FA_TEAMS_MAX_GROUPS + g for group g (the nearest within its radius;
 * groups only when with_groups); -1 when none. An observation within a
 * team's cut-off goes to a group only when at most GROUP_PREFER times as far
 * from it: a black referee's kit next to a team whose lit and shaded shirts
 * spread its cut-off wide, not a team's blurred player between the two. */
static int nearest_class(const fa_teams *t, const float *lab, int with_groups) {
    const fa_teams_summary *s = &t->s;
    int team = -1, group = -1;
    float dt = FLT_MAX, dg = FLT_MAX;
    for (int j = 0; j < 2; j++) {
        float d = cdist(&t->o, lab, s->team_lab[j]);
        if (d <= t->cutoff[j] && d < dt) team = j, dt = d;
    }
    for (int g = 0; with_groups && g < s->n_groups; g++) {
        float d = cdist(&t->o, lab, s->groups[g].lab);
        if (d <= t->group_radius[g] && d < dg) group = FA_TEAMS_MAX_GROUPS + g, dg = d;
    }
    if (team >= 0 && group >= 0) return dg <= GROUP_PREFER * dt ? group : team;
    return team >= 0 ? team : group;
}

/* The role one observation votes for: its kit colour's nearest class; when
 * that is none, its other colour's team (the torso's 2-means may have
 * split one shirt into its lit and its shaded side and taken the side that
 * the fit did not see most) when that colour covers OTHER_MIN_SHARE. */
static fa_team_role vote_of(const fa_teams *t, const obs *ob) {
    const fa_teams_summary *s = &t->s;
    int c = nearest_class(t, ob->lab, 1);
    if (c < 0 && ob->other_share >= OTHER_MIN_SHARE) c = nearest_class(t, ob->other, 0);
    if (c < 0) return FA_ROLE_UNKNOWN;
    if (c >= FA_TEAMS_MAX_GROUPS) return s->groups[c - FA_TEAMS_MAX_GROUPS].role;
    return s->similar ? FA_ROLE_UNKNOWN : c ? FA_ROLE_TEAM_B : FA_ROLE_TEAM_A;
}

int fa_teams_assign(fa_teams *t, int track_id, fa_team_assignment *a) {
    int rc = check_id("fa_teams_assign", track_id);
    if (rc) return rc;
    if (!t->s.fitted)
        return fa_err_set(FA_EINVAL,
                          "fa_teams_assign: track %d: the model is not fitted yet "
                          "(call fa_teams_fit)",
                          track_id);
    memset(a, 0, sizeof *a);
    if (track_id >= t->cap_tracks || t->tracks[track_id].n == 0) return 0;
    track *tr = &t->tracks[track_id];
    int votes[N_ROLES] = {0};
    for (int i = tr->head; i >= 0; i = t->obs[i].next)
        votes[vote_of(t, &t->obs[i])]++;
    int v1 = 0, v2 = 0;
    fa_team_role win = FA_ROLE_UNKNOWN;
    for (int r = 0; r < N_ROLES; r++) {
        if (votes[r] > v1)
            v2 = v1, v1 = votes[r], win = (fa_team_role)r;
        else if (votes[r] > v2)
            v2 = votes[r];
    }
    a->votes = tr->n;
    float margin = (float)(v1 - v2) / (float)tr->n;
    if (margin < t->o.vote_margin) win = FA_ROLE_UNKNOWN;
    if (!tr->locked && win != FA_ROLE_UNKNOWN && tr->n >= t->o.lock_votes)
        tr->locked = 1, tr->lock_role = win;
    a->role = tr->locked ? tr->lock_role : win;
    a->locked = tr->locked;
    a->confidence = (float)votes[a->role] / (float)tr->n;
    return 0;
}
