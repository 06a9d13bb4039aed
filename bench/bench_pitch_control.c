/*
 * bench_pitch_control.c - how long one pitch-control surface takes.
 *
 * Target (issue 3): < 5 ms per frame on one core for Spearman's model on the
 * 50 x 32 grid with 22 players. The frames are generated, deterministic and
 * realistic: a 4-4-2 and a 4-3-3 compressed and shifted towards a ball that
 * is anywhere on the pitch, every player jittered and running at up to
 * 7 m/s in any direction, one attacker on the ball, a random side attacking.
 *
 * Figures: the median (and 90th percentile) wall time per frame of
 * fa_pitch_control over all frames; the anchor - a naive double-precision
 * transcription of the Friends-of-Tracking reference (every player, every
 * cell, one exp per player per step, no pruning; the same one the tests
 * use) - on every k-th frame, with fa_pitch_control's median on those same
 * frames and the ratio; and how far apart the two surfaces are (max |diff|
 * over all cells, and over the cells the veto did not settle).
 *
 * usage: bench_pitch_control [--frames N] [--naive-every K] [--seed S]
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

#define NPLAYERS 22

static const fa_pitch pitch = {105, 68};

/* ------------------------------------------------------------ frames */

static uint64_t next_u64(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi) {
    return lo + (hi - lo) * (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

/* Formations for a side attacking +x: keeper first. */
static const float f442[11][2] = {{-48, 0},  {-30, -22}, {-33, -8}, {-33, 8}, {-30, 22}, {-12, -24},
                                  {-15, -7}, {-15, 7},   {-12, 24}, {5, -6},  {3, 6}};
static const float f433[11][2] = {{-48, 0},  {-32, -21}, {-34, -7}, {-34, 7}, {-32, 21}, {-18, 0},
                                  {-10, -12}, {-10, 12}, {8, -22},  {12, 0},  {8, 22}};

typedef struct frame {
    fa_pc_player pl[NPLAYERS];
    double bx, by;
    fa_side attacking;
} frame;

static float clampf(double v, double lim) { return (float)(v < -lim ? -lim : v > lim ? lim : v); }

static void make_frame(uint64_t *s, frame *f) {
    f->bx = uniform(s, -50, 50);
    f->by = uniform(s, -32, 32);
    f->attacking = next_u64(s) & 1 ? FA_SIDE_HOME : FA_SIDE_AWAY;
    double nearest = INFINITY;
    int carrier = 0;
    for (int k = 0; k < NPLAYERS; k++) {
        int home = k < 11, slot = k % 11;
        const float *base = home ? f442[slot] : f433[slot];
        double dir = home ? 1 : -1; /* away attacks -x: rotate its formation */
        double x = dir * base[0] * 0.75 + 0.5 * f->bx + uniform(s, -4, 4);
        double y = dir * base[1] * 0.85 + 0.3 * f->by + uniform(s, -4, 4);
        if (slot == 0) x = dir * -48 + 0.1 * f->bx; /* keepers stay home */
        double speed = slot == 0 ? uniform(s, 0, 2) : uniform(s, 0, 7), heading = uniform(s, 0, 2 * M_PI);
        f->pl[k] = (fa_pc_player){clampf(x, 54),
                                  clampf(y, 35),
                                  (float)(speed * cos(heading)),
                                  (float)(speed * sin(heading)),
                                  home ? FA_SIDE_HOME : FA_SIDE_AWAY,
                                  slot == 0};
        double d = hypot(x - f->bx, y - f->by);
        if (slot && (f->pl[k].side == f->attacking) && d < nearest) nearest = d, carrier = k;
    }
    f->pl[carrier].x = (float)(f->bx - 0.8);
    f->pl[carrier].y = (float)f->by;
}

/* ------------------------------------------------------------ the anchor */

static void naive_cell(const frame *f, const fa_pc_params *q, double cx, double cy, double *att,
                       double *def) {
    double tb = hypot(cx - f->bx, cy - f->by) / q->ball_speed, tti[NPLAYERS], ppcf[NPLAYERS] = {0};
    for (int k = 0; k < NPLAYERS; k++) {
        double rx = f->pl[k].x + f->pl[k].vx * q->reaction_s, ry = f->pl[k].y + f->pl[k].vy * q->reaction_s;
        tti[k] = q->reaction_s + hypot(cx - rx, cy - ry) / q->max_speed;
    }
    double pa = 0, pd = 0;
    int steps = (int)(q->horizon_s / q->dt + 0.5);
    for (int i = 0; i < steps && pa + pd < q->convergence; i++) {
        double T = tb + i * q->dt, na = 0, nd = 0, rate = 0, dp[NPLAYERS];
        for (int k = 0; k < NPLAYERS; k++) {
            int attacks = f->pl[k].side == f->attacking;
            double lam = q->lambda * (f->pl[k].is_gk && !attacks ? q->lambda_gk_factor : 1);
            rate += dp[k] = lam * q->dt / (1 + exp(-M_PI / sqrt(3.0) / q->tti_sigma * (T - tti[k])));
        }
        for (int k = 0; k < NPLAYERS; k++) {
            ppcf[k] += (1 - pa - pd) * dp[k] / (rate > 1 ? rate : 1);
            if (f->pl[k].side == f->attacking) na += ppcf[k];
            else nd += ppcf[k];
        }
        pa = na;
        pd = nd;
    }
    *att = pa;
    *def = pd;
}

/* The naive surface (home, away) into h and a, nx * ny doubles each. */
static void naive_grid(const frame *f, const fa_pc_params *q, double *h, double *a) {
    for (int j = 0; j < q->ny; j++)
        for (int i = 0; i < q->nx; i++) {
            double att, def;
            naive_cell(f, q, -52.5 + (i + 0.5) * 105.0 / q->nx, -34 + (j + 0.5) * 68.0 / q->ny, &att, &def);
            int home_attacks = f->attacking == FA_SIDE_HOME;
            h[j * q->nx + i] = home_attacks ? att : def;
            a[j * q->nx + i] = home_attacks ? def : att;
        }
}

/* ------------------------------------------------------------ figures */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(double *v, int n, double q) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[(int)(q * (n - 1) + 0.5)];
}

int main(int argc, char **argv) {
    int nframes = 1000, every = 20;
    uint64_t seed = 2018;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--frames") && i + 1 < argc) nframes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--naive-every") && i + 1 < argc) every = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_pitch_control [--frames N] [--naive-every K] [--seed S]\n");
            return 1;
        }
    }
    if (nframes < 1 || nframes > 1000000 || every < 1) {
        fprintf(stderr, "bench_pitch_control: --frames must be 1..1000000 and --naive-every >= 1\n");
        return 1;
    }
    fa_pc_params q = {5, 0.7, 0.45, 4.3, 3, 15, 0.04, 10, 0.99, 50, 32};
    int cells = q.nx * q.ny, nnaive = (nframes + every - 1) / every;
    double *t_fast = malloc((size_t)nframes * sizeof *t_fast);
    double *t_same = malloc((size_t)nnaive * sizeof *t_same);
    double *t_naive = malloc((size_t)nnaive * sizeof *t_naive);
    double *nh = malloc((size_t)cells * sizeof *nh), *na = malloc((size_t)cells * sizeof *na);
    if (!t_fast || !t_same || !t_naive || !nh || !na) return fprintf(stderr, "out of memory\n"), 3;
    double worst = 0, worst_integrated = 0, checksum = 0, cpu0 = fa_clock_cpu();
    int k = 0;
    for (int n = 0; n < nframes; n++) {
        frame f;
        make_frame(&seed, &f);
        fa_pc_grid g;
        double t0 = fa_clock_now();
        if (fa_pitch_control(f.pl, NPLAYERS, f.bx, f.by, f.attacking, &pitch, &q, &g))
            return fprintf(stderr, "fa_pitch_control: %s\n", fa_err_msg()), 3;
        t_fast[n] = fa_clock_now() - t0;
        checksum += g.home[n % cells];
        if (n % every == 0) {
            t0 = fa_clock_now();
            naive_grid(&f, &q, nh, na);
            t_naive[k] = fa_clock_now() - t0;
            t_same[k++] = t_fast[n];
            for (int c = 0; c < cells; c++) {
                double d = fmax(fabs(nh[c] - g.home[c]), fabs(na[c] - g.away[c]));
                worst = fmax(worst, d);
                if (g.home[c] != 1 && g.away[c] != 1) worst_integrated = fmax(worst_integrated, d);
            }
        }
        fa_pc_grid_free(&g);
    }
    double cpu = fa_clock_cpu() - cpu0;
    bench_print_machine(argc, argv);
    printf("bench_pitch_control: %d frames, %d players, %d x %d grid, Spearman 2018 defaults "
           "(checksum %.3f)\n", nframes, NPLAYERS, q.nx, q.ny, checksum);
    double med = quantile(t_fast, nframes, 0.5), p90 = quantile(t_fast, nframes, 0.9);
    printf("  fa_pitch_control            median %.3f ms/frame, p90 %.3f ms   target < 5 ms: %s\n", med * 1e3,
           p90 * 1e3, med < 0.005 ? "met" : "MISSED");
    double ms = quantile(t_same, k, 0.5), mn = quantile(t_naive, k, 0.5);
    printf("  anchor naive reference      median %.3f ms/frame over %d frames (fa_pitch_control on the same: "
           "%.3f ms)   ratio naive/fa = %.1fx\n", mn * 1e3, k, ms * 1e3, mn / ms);
    printf("  agreement                   max |diff| %.5f (all cells), %.5f (integrated cells)\n", worst,
           worst_integrated);
    printf("  process CPU time            %.2f s\n", cpu);
    free(t_fast), free(t_same), free(t_naive), free(nh), free(na);
    return 0;
}
