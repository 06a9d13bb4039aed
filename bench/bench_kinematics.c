/*
 * bench_kinematics.c - how long kinematics + physical take for a whole match.
 *
 * Input: a generated 90-minute match at 25 Hz (2 periods of 45 min), 22
 * players and the ball, about 3.1 M samples, the size of a real match from
 * an optical tracking provider. Players pursue targets that change every
 * 2-8 s within their zone (jogging, runs, a sprint now and then, bounded
 * acceleration), with 2 cm of tracking jitter; each player loses 3 stretches
 * of 0.2-2.5 s per period (some bridged, some not) and has 5 single-frame
 * glitches of 8-15 m per period; the ball flies between players at 8-25 m/s
 * and is unseen about 10 % of the time. The generator is seeded, so every
 * run sees the same match.
 *
 * Timed (one thread, median of --runs): for every player and the ball, the
 * kinematics of each period (resample, gate, interpolate, Savitzky-Golay
 * speed and acceleration); for every player, the physical figures over both
 * periods. Target (issue 3): all metrics of a match on 3.1 M samples in
 * < 1 s on one core, of which this part should take well under half.
 *
 * Anchors, same run, same tracks:
 *   naive SG    - the same Savitzky-Golay velocity and acceleration, the
 *                 way a first implementation does it: fit the polynomial by
 *                 least squares at every sample (normal equations built from
 *                 the window and solved), plus distance and speed bands;
 *   floor       - the least work any pipeline must do: one pass of plain
 *                 central differences and a distance sum, no smoothing,
 *                 no gates, no gaps.
 * Ratios: naive / ours (how much precomputing the filter buys) and
 * ours / floor (what smoothing, gates, gaps and all figures cost over the
 * bare minimum).
 *
 * usage: bench_kinematics [--runs N] [--no-anchors]   (--no-anchors: for profiling ours alone)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "analytics/analytics.h"
#include "core/core.h"

#define RATE 25.0
#define PERIOD_S (45 * 60)
#define NPLAYERS 22
#define MAX_RUNS 50

/* ------------------------------------------------------------ a seeded generator */

typedef struct rng {
    uint64_t s;
} rng;

static double rnd(rng *r) { /* xorshift64*, uniform in [0, 1) */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (double)((r->s * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static double uniform(rng *r, double lo, double hi) { return lo + (hi - lo) * rnd(r); }

typedef struct mover {
    double x, y, vx, vy, tx, ty, vmax, amax, next_target;
    double home_x, home_y;
    int gap_left;   /* frames still unseen */
} mover;

static void retarget(mover *m, rng *r, double t) {
    m->tx = fmin(50, fmax(-50, m->home_x + uniform(r, -25, 25)));
    m->ty = fmin(32, fmax(-32, m->home_y + uniform(r, -20, 20)));
    double u = rnd(r);
    m->vmax = u < 0.08 ? uniform(r, 7.5, 9.5) : u < 0.3 ? uniform(r, 4.5, 7) : uniform(r, 0.5, 4);
    m->next_target = t + uniform(r, 2, 8);
}

/* One 1/25 s step: steer towards the target with bounded acceleration. */
static void step(mover *m, rng *r, double t) {
    if (t >= m->next_target) retarget(m, r, t);
    double dx = m->tx - m->x, dy = m->ty - m->y, d = hypot(dx, dy);
    double want = fmin(m->vmax, d), wx = d > 1e-9 ? dx / d * want : 0, wy = d > 1e-9 ? dy / d * want : 0;
    double ax = (wx - m->vx) / 0.5, ay = (wy - m->vy) / 0.5, a = hypot(ax, ay);
    if (a > m->amax) ax *= m->amax / a, ay *= m->amax / a;
    m->vx += ax / RATE;
    m->vy += ay / RATE;
    m->x += m->vx / RATE;
    m->y += m->vy / RATE;
}

typedef struct match_gen {
    rng r;
    mover p[NPLAYERS], ball;
    int ball_to;
    double ball_speed;
    int gap_at[NPLAYERS][3], gap_len[NPLAYERS][3], glitch_at[NPLAYERS][5];
} match_gen;

static void period_plan(match_gen *g) {
    int frames = (int)(PERIOD_S * RATE);
    for (int i = 0; i < NPLAYERS; i++) {
        for (int k = 0; k < 3; k++) {
            g->gap_at[i][k] = (int)uniform(&g->r, 100, frames - 200);
            g->gap_len[i][k] = (int)uniform(&g->r, 0.2 * RATE, 2.5 * RATE);
        }
        for (int k = 0; k < 5; k++) g->glitch_at[i][k] = (int)uniform(&g->r, 10, frames - 10);
    }
}

static int player_seen(match_gen *g, int i, int f) {
    for (int k = 0; k < 3; k++)
        if (f >= g->gap_at[i][k] && f < g->gap_at[i][k] + g->gap_len[i][k]) return 0;
    return 1;
}

static int glitch(const match_gen *g, int i, int f) {
    for (int k = 0; k < 5; k++)
        if (g->glitch_at[i][k] == f) return 1;
    return 0;
}

static void ball_step(match_gen *g, double t) { /* t: match time */
    mover *b = &g->ball;
    const mover *to = &g->p[g->ball_to];
    double dx = to->x - b->x, dy = to->y - b->y, d = hypot(dx, dy);
    if (d < 1.0 || t >= b->next_target) {
        g->ball_to = (int)uniform(&g->r, 0, NPLAYERS);
        g->ball_speed = uniform(&g->r, 8, 25);
        b->next_target = t + uniform(&g->r, 1, 4);
        return;
    }
    double s = fmin(g->ball_speed, d * RATE) / RATE;
    b->x += dx / d * s;
    b->y += dy / d * s;
}

static int generate(fa_tracking *tr) {
    static const char *ids[NPLAYERS] = {"h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10", "h11",
                                        "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "a11"};
    match_gen *g = calloc(1, sizeof *g);
    if (!g) return FA_ENOMEM;
    g->r.s = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < NPLAYERS; i++) {
        mover *m = &g->p[i];
        m->home_x = (i < 11 ? -1 : 1) * uniform(&g->r, 5, 40);
        m->home_y = uniform(&g->r, -25, 25);
        m->x = m->home_x, m->y = m->home_y;
        m->amax = uniform(&g->r, 3, 4.5);
    }
    int frames = (int)(PERIOD_S * RATE), rc = 0;
    fa_frame_player fp[NPLAYERS];
    for (int period = 1; period <= 2 && !rc; period++) {
        period_plan(g);
        int ball_gap = 0;
        for (int f = 0; f < frames && !rc; f++) {
            double t = f / RATE;
            size_t n = 0;
            for (int i = 0; i < NPLAYERS; i++) {
                step(&g->p[i], &g->r, t + (period - 1) * PERIOD_S);
                if (!player_seen(g, i, f)) continue;
                double jx = uniform(&g->r, -0.02, 0.02), jy = uniform(&g->r, -0.02, 0.02);
                double off = glitch(g, i, f) ? uniform(&g->r, 8, 15) : 0;
                fp[n++] = (fa_frame_player){ids[i], i < 11 ? FA_SIDE_HOME : FA_SIDE_AWAY,
                                            (float)(g->p[i].x + jx + off), (float)(g->p[i].y + jy)};
            }
            ball_step(g, t + (period - 1) * PERIOD_S);
            if (ball_gap == 0 && rnd(&g->r) < 0.1 / (2 * RATE))
                ball_gap = (int)uniform(&g->r, RATE, 3 * RATE);
            fa_frame fr;
            fa_frame_init(&fr);
            fr.frame = f;
            fr.period = period;
            fr.t = t;
            fr.players = fp;
            fr.n = n;
            if (ball_gap > 0) ball_gap--;
            else fr.ball_x = (float)g->ball.x, fr.ball_y = (float)g->ball.y;
            rc = fa_tracking_add(tr, &fr);
        }
    }
    free(g);
    return rc;
}

/* ------------------------------------------------------------ ours */

typedef struct totals {
    double distance, sprints, outliers, gaps, interpolated;
    double kin_s, phys_s; /* time inside fa_kinematics_compute / fa_physical_compute */
} totals;

static int run_ours(const fa_tracking *tr, const fa_analytics_config *c, totals *tot) {
    memset(tot, 0, sizeof *tot);
    for (size_t i = 0; i < tr->ntracks; i++) {
        const fa_track *first = &tr->tracks[i];
        if (first->period != 1) continue; /* each object once, from its period-1 track */
        int is_ball = strcmp(first->id, FA_BALL_ID) == 0;
        fa_kinematics k[2];
        const fa_kinematics *kin[2];
        size_t n = 0;
        int rc = 0;
        for (int p = 1; p <= 2 && !rc; p++) {
            const fa_track *t = fa_tracking_find(tr, first->id, p);
            if (!t) continue;
            double t0 = fa_clock_now();
            rc = fa_kinematics_compute(t, tr->frame_rate, is_ball, c, &k[n]);
            tot->kin_s += fa_clock_now() - t0;
            if (!rc) kin[n] = &k[n], n++;
        }
        fa_physical ph;
        double t0 = fa_clock_now();
        if (!rc && !is_ball) rc = fa_physical_compute(kin, n, c, &ph);
        tot->phys_s += fa_clock_now() - t0;
        if (!rc && !is_ball) {
            tot->distance += ph.distance;
            tot->sprints += ph.sprints;
            tot->outliers += (double)ph.outliers;
            tot->gaps += (double)ph.gaps;
            tot->interpolated += (double)ph.interpolated;
        }
        for (size_t p = 0; p < n; p++) fa_kinematics_free(&k[p]);
        if (rc) return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ anchors */

/* Least-squares polynomial (order p) through the window x[lo..hi) centred at
 * index c, solved from scratch: its derivative at c, per second. */
static double naive_fit_slope(const float *x, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t c, int p) {
    double g[4][5] = {{0}};
    int np = p + 1;
    for (ptrdiff_t j = lo; j < hi; j++) {
        double u = (double)(j - c), pw[7] = {1};
        for (int k = 1; k <= 2 * p; k++) pw[k] = pw[k - 1] * u;
        for (int a = 0; a < np; a++) {
            for (int b = 0; b < np; b++) g[a][b] += pw[a + b];
            g[a][np] += pw[a] * x[j];
        }
    }
    for (int col = 0; col < np; col++) { /* Gauss-Jordan */
        double d = g[col][col];
        for (int k = 0; k <= np; k++) g[col][k] /= d;
        for (int r = 0; r < np; r++)
            if (r != col) {
                double f = g[r][col];
                for (int k = 0; k <= np; k++) g[r][k] -= f * g[col][k];
            }
    }
    return np > 1 ? g[1][np] * RATE : 0;
}

static double naive_track(const fa_track *t, const fa_analytics_config *c, float *v, float *a) {
    ptrdiff_t n = (ptrdiff_t)t->n, m = c->savgol_window / 2;
    int p = c->savgol_order;
    if (n < 2 * m + 1 || p > 3) return 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        ptrdiff_t lo = i - m < 0 ? 0 : i + m >= n ? n - 2 * m - 1 : i - m;
        double vx = naive_fit_slope(t->x, lo, lo + 2 * m + 1, i, p);
        double vy = naive_fit_slope(t->y, lo, lo + 2 * m + 1, i, p);
        v[i] = (float)sqrt(vx * vx + vy * vy);
    }
    double band[FA_MAX_BANDS] = {0}, dist = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        ptrdiff_t lo = i - m < 0 ? 0 : i + m >= n ? n - 2 * m - 1 : i - m;
        a[i] = (float)naive_fit_slope(v, lo, lo + 2 * m + 1, i, p);
        for (int b = 0; b < c->nbands; b++)
            if (v[i] * 3.6 >= c->bands[b].lo && v[i] * 3.6 < c->bands[b].hi) band[b] += v[i] / RATE;
    }
    for (int b = 0; b < c->nbands; b++) dist += band[b]; /* the bands cover [0, inf): the distance */
    return dist;
}

static double run_naive(const fa_tracking *tr, const fa_analytics_config *c, float *v, float *a) {
    double dist = 0;
    for (size_t i = 0; i < tr->ntracks; i++) dist += naive_track(&tr->tracks[i], c, v, a);
    return dist;
}

static double run_floor(const fa_tracking *tr) {
    double dist = 0;
    for (size_t i = 0; i < tr->ntracks; i++) {
        const fa_track *t = &tr->tracks[i];
        for (size_t j = 1; j + 1 < t->n; j++) {
            double vx = ((double)t->x[j + 1] - t->x[j - 1]) * RATE * 0.5;
            double vy = ((double)t->y[j + 1] - t->y[j - 1]) * RATE * 0.5;
            dist += sqrt(vx * vx + vy * vy) / RATE;
        }
    }
    return dist;
}

/* ------------------------------------------------------------ main */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    int runs = 5, anchors = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-anchors")) anchors = 0;
        else return fprintf(stderr, "usage: bench_kinematics [--runs N] [--no-anchors]\n"), 1;
    }
    if (runs < 1 || runs > MAX_RUNS) runs = 5;
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    fa_tracking tr;
    fa_pitch pitch = {105, 68};
    double t0 = fa_clock_now();
    if (fa_tracking_init(&tr, &pitch, RATE) || generate(&tr))
        return fprintf(stderr, "generate: %s\n", fa_err_msg()), 3;
    double gen_s = fa_clock_now() - t0;
    size_t samples = 0, longest = 0;
    for (size_t i = 0; i < tr.ntracks; i++) {
        samples += tr.tracks[i].n;
        if (tr.tracks[i].n > longest) longest = tr.tracks[i].n;
    }
    size_t rss_input = fa_proc_peak_rss();
    float *v = malloc(longest * sizeof *v), *a = malloc(longest * sizeof *a);
    if (!v || !a) return fprintf(stderr, "out of memory\n"), 3;

    double tours[MAX_RUNS], cours[MAX_RUNS], tnaive[MAX_RUNS], tfloor[MAX_RUNS], tkin[MAX_RUNS],
        tphys[MAX_RUNS];
    totals tot;
    double dnaive = 0, dfloor = 0;
    for (int r = 0; r < runs; r++) {
        double c0 = fa_clock_cpu(), w0 = fa_clock_now();
        if (run_ours(&tr, &c, &tot)) return fprintf(stderr, "kinematics: %s\n", fa_err_msg()), 3;
        tours[r] = fa_clock_now() - w0;
        cours[r] = fa_clock_cpu() - c0;
        tkin[r] = tot.kin_s;
        tphys[r] = tot.phys_s;
        w0 = fa_clock_now();
        dnaive = anchors ? run_naive(&tr, &c, v, a) : 0;
        tnaive[r] = fa_clock_now() - w0;
        w0 = fa_clock_now();
        dfloor = anchors ? run_floor(&tr) : 0;
        tfloor[r] = fa_clock_now() - w0;
    }
    double mo = median(tours, runs), mc = median(cours, runs), mn = median(tnaive, runs),
           mf = median(tfloor, runs);
    char host[256] = "?", cpu[256];
    gethostname(host, sizeof host);
    bench_cpu_model(cpu, sizeof cpu);
    printf("bench_kinematics: generated 90-min match, 25 Hz, 22 players + ball, %d runs, one thread\n", runs);
    printf("  host %s, %ld cpus, %s\n", host, sysconf(_SC_NPROCESSORS_ONLN), cpu);
    printf("  input: %zu samples in %zu tracks (%zu frames, %zu rejected), generated in %.2f s\n", samples,
           tr.ntracks, tr.nframes, tr.rejected, gen_s);
    printf("  ours   kinematics + physical   median %.4f s wall, %.4f s cpu, %.1f M samples/s", mo, mc,
           (double)samples / mo / 1e6);
    printf("   target < 0.5 s: %s\n", mo < 0.5 ? "met" : "MISSED");
    printf("         of which kinematics %.4f s, physical %.4f s (medians)\n", median(tkin, runs),
           median(tphys, runs));
    printf("         players: %.0f m in all (%.0f m/player), %.0f sprints,", tot.distance,
           tot.distance / NPLAYERS, tot.sprints);
    printf(" %.0f outliers dropped, %.0f samples interpolated, %.0f gaps\n", tot.outliers, tot.interpolated,
           tot.gaps);
    if (anchors) {
        printf("  anchor naive SG (fit per sample)   median %.4f s   ratio naive/ours = %.1fx", mn, mn / mo);
        printf("   (all objects: %.0f m)\n", dnaive);
        printf("  anchor floor (plain differences)   median %.4f s   ratio ours/floor = %.1fx", mf, mo / mf);
        printf("   (all objects: %.0f m, glitches included)\n", dfloor);
    }
    printf("  peak RSS %.1f MiB (input tracks alone: %.1f MiB)\n", (double)fa_proc_peak_rss() / (1 << 20),
           (double)rss_input / (1 << 20));
    free(v);
    free(a);
    fa_tracking_free(&tr);
    return 0;
}
