/*
 * bench_analytics.c - the headline figure: every metric of a full
 * 90-minute match of 25 Hz tracking (22 players and the ball, 3.1 M
 * samples) in < 1 s on one core, and the memory it needs.
 *
 * The match is generated in memory, deterministically (--seed), and fed
 * through the same path an import takes: a fa_collector's sink (begin,
 * players, events, frames, end), whose frames go into fa_tracking. The
 * simulation is meant to exercise the code as real tracking does:
 *   - players move with bounded acceleration (4.5 m/s^2) and individual top
 *     speeds (7.5-9.3 m/s, keepers 6) towards targets that follow the ball:
 *     formation slots (4-4-2 home, 4-3-3 away) compressed and shifted with
 *     the ball and with possession, a slow random wander on each, the
 *     nearest opponent pressing the ball carrier, a pass's receiver running
 *     to meet it; ends are swapped at half-time;
 *   - the ball is carried at the owner's feet, passed (85 % to a teammate,
 *     otherwise intercepted) at ~14 m/s with height on long balls, and shot
 *     from within 25 m; events (passes, shots, period start and end) are
 *     emitted as it goes, so the event metrics run too;
 *   - a few gaps and outliers: a player missing from frames or NAN for up to
 *     3 s every ~5 minutes, a 15 m one-frame jump every ~3 minutes, the
 *     ball unseen for 1-2 s every ~2 minutes.
 *
 * Figures (median of --runs): fa_analyze_match wall and CPU time, samples
 * per second, the peak RSS before and after analysis (the collected match,
 * then what analysis adds), and the anchor: one pass that only reads every
 * tracked sample (t, x, y) once - the memory-bound floor any analysis of
 * this data pays - with the ratio. Ingest (generation + fa_tracking_add) is
 * timed apart: it is the import's cost, not the analysis'.
 *
 * usage: bench_analytics [--runs N] [--seed S] [--minutes M]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_util.h"
#include "analytics/analytics.h"
#include "core/core.h"

#define RATE 25.0
#define DT (1.0 / RATE)
#define NPL 22
#define MAX_RUNS 50

/* ------------------------------------------------------------ random numbers */

static uint64_t next_u64(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi) {
    return lo + (hi - lo) * (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

static double gauss(uint64_t *s) { /* Box-Muller, one of the pair */
    double u = uniform(s, 1e-12, 1), v = uniform(s, 0, 1);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* ------------------------------------------------------------ the simulation */

/* Formation slots of a side attacking +x: keeper first. */
static const double slots[2][11][2] = {
    {{-50, 0}, {-32, -24}, {-36, -9}, {-36, 9}, {-32, 24}, /* 4-4-2 */
     {-12, -25}, {-16, -8}, {-16, 8}, {-12, 25}, {6, -7}, {4, 7}},
    {{-50, 0}, {-33, -23}, {-37, -8}, {-37, 8}, {-33, 23}, /* 4-3-3 */
     {-20, 0}, {-11, -13}, {-11, 13}, {9, -24}, {13, 0}, {9, 24}},
};

typedef struct player {
    double x, y, vx, vy;
    double wx, wy;  /* slow random wander around the slot, m */
    double vmax;
    char id[8];
} sim_player;

typedef struct sim {
    uint64_t rng;
    sim_player pl[NPL];
    int period;
    double t;
    double bx, by, bz;
    int owner;                    /* index with the ball at his feet, -1 while it flies */
    int receiver;                 /* intended receiver while it flies */
    double fx0, fy0, fx1, fy1, ft, fdur, fh;
    double hold;                  /* seconds until the owner releases the ball */
    int shot;                     /* the flight is a shot */
    int gap_player, gap_hide;     /* a tracking gap: who, and whether omitted (1) or NAN (0) */
    double gap_until, ball_gap_until;
    double next_gap, next_outlier, next_ball_gap;
    int64_t seq, frame_no;
} sim;

static int side_of(int k) { return k < 11 ? FA_SIDE_HOME : FA_SIDE_AWAY; }
static double dir_of(const sim *s, int k) { return fa_attack_dir(side_of(k), s->period); }
static double clampd(double v, double lim) { return v < -lim ? -lim : v > lim ? lim : v; }

static void sim_kickoff(sim *s, int kicker) {
    s->bx = s->by = s->bz = 0;
    s->owner = kicker;
    s->pl[kicker].x = -dir_of(s, kicker) * 0.5;
    s->pl[kicker].y = 0;
    s->hold = 1.0;
}

static void sim_start_period(sim *s, int period) {
    s->period = period;
    s->t = 0;
    for (int k = 0; k < NPL; k++) {
        sim_player *p = &s->pl[k];
        double d = dir_of(s, k);
        p->x = d * slots[k / 11][k % 11][0] * 0.9;
        p->y = d * slots[k / 11][k % 11][1] * 0.9;
        p->vx = p->vy = p->wx = p->wy = 0;
    }
    sim_kickoff(s, period == 1 ? 9 : 20);
}

static void sim_init(sim *s, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->rng = seed;
    for (int k = 0; k < NPL; k++) {
        snprintf(s->pl[k].id, sizeof s->pl[k].id, "%c%d", k < 11 ? 'h' : 'a', k % 11 + 1);
        s->pl[k].vmax = k % 11 == 0 ? 6.0 : uniform(&s->rng, 7.5, 9.3);
    }
    s->gap_player = -1;
    s->next_gap = 300, s->next_outlier = 180, s->next_ball_gap = 120;
}

/* Where player k wants to be now. */
static void target_of(const sim *s, int k, double *tx, double *ty) {
    const sim_player *p = &s->pl[k];
    double d = dir_of(s, k);
    int has_ball = s->owner >= 0 ? side_of(s->owner) == side_of(k) : side_of(s->receiver) == side_of(k);
    if (k == s->owner) {
        *tx = p->x + d * 6, *ty = p->y * 0.9; /* carry towards goal, drift inside */
    } else if (s->owner < 0 && k == s->receiver) {
        *tx = s->fx1, *ty = s->fy1; /* meet the pass */
    } else if (k % 11 == 0) {
        *tx = d * -50 + 0.08 * s->bx, *ty = clampd(0.15 * s->by, 5);
    } else {
        *tx = d * (slots[k / 11][k % 11][0] * 0.7 + (has_ball ? 8 : -4)) + 0.45 * s->bx + p->wx;
        *ty = d * slots[k / 11][k % 11][1] * 0.8 + 0.3 * s->by + p->wy;
    }
    *tx = clampd(*tx, 52);
    *ty = clampd(*ty, 33.5);
}

static int nearest(const sim *s, double x, double y, int side, int except) {
    int best = -1;
    double bd = INFINITY;
    for (int k = 0; k < NPL; k++) {
        if (k == except || (side != FA_SIDE_NONE && side_of(k) != side)) continue;
        double d = hypot(s->pl[k].x - x, s->pl[k].y - y);
        if (d < bd) bd = d, best = k;
    }
    return best;
}

static void move_player(sim *s, int k, int presser) {
    sim_player *p = &s->pl[k];
    double tx, ty;
    if (k == presser) tx = s->bx, ty = s->by;
    else target_of(s, k, &tx, &ty);
    double gain = k == presser || (s->owner < 0 && k == s->receiver) ? 1.5 : 0.6;
    double dvx = (tx - p->x) * gain, dvy = (ty - p->y) * gain, sp = hypot(dvx, dvy);
    if (sp > p->vmax) dvx *= p->vmax / sp, dvy *= p->vmax / sp;
    double ax = (dvx - p->vx) / 0.5, ay = (dvy - p->vy) / 0.5, a = hypot(ax, ay);
    if (a > 4.5) ax *= 4.5 / a, ay *= 4.5 / a;
    p->vx += ax * DT, p->vy += ay * DT;
    p->x += p->vx * DT, p->y += p->vy * DT;
    if (s->frame_no % (int)RATE == k) { /* Ornstein-Uhlenbeck wander, tau 8 s, sd 3 m, stepped each second */
        p->wx += -p->wx / 8 + 3 * sqrt(2.0 / 8) * gauss(&s->rng);
        p->wy += -p->wy / 8 + 3 * sqrt(2.0 / 8) * gauss(&s->rng);
    }
}

/* Forwards to the collector, timing what its frame callback (fa_tracking_add) costs. */
typedef struct timed_sink {
    const fa_sink *next;
    double frame_s;
    fa_sink sink;
} timed_sink;

static int timed_begin(void *ud, const fa_match *m) {
    const timed_sink *t = ud;
    return t->next->begin(t->next->ud, m);
}
static int timed_player(void *ud, const fa_player *p) {
    const timed_sink *t = ud;
    return t->next->player(t->next->ud, p);
}
static int timed_event(void *ud, const fa_event *e) {
    const timed_sink *t = ud;
    return t->next->event(t->next->ud, e);
}
static int timed_end(void *ud, const fa_match *m) {
    const timed_sink *t = ud;
    return t->next->end(t->next->ud, m);
}
static int timed_frame(void *ud, const fa_frame *f) {
    timed_sink *t = ud;
    double t0 = fa_clock_now();
    int rc = t->next->frame(t->next->ud, f);
    t->frame_s += fa_clock_now() - t0;
    return rc;
}

static void timed_sink_init(timed_sink *t, const fa_sink *next) {
    t->next = next;
    t->frame_s = 0;
    t->sink = (fa_sink){t, timed_begin, timed_player, timed_event, timed_frame, timed_end};
}

typedef struct feed {
    const fa_sink *sink;
    int rc;
} feed;

/* Player k's event (k < 0: none) to player `to` (< 0: none), ending at (ex, ey). */
static void emit_event(sim *s, feed *fd, fa_event_kind kind, int k, int to, double ex, double ey,
                       int success) {
    fa_event e;
    fa_event_init(&e);
    e.seq = s->seq++;
    e.period = s->period;
    e.t = s->t;
    e.kind = kind;
    snprintf(e.type, sizeof e.type, "%s", fa_event_kind_name(kind));
    if (k >= 0) {
        e.side = side_of(k);
        snprintf(e.player_id, sizeof e.player_id, "%s", s->pl[k].id);
        e.x = s->bx, e.y = s->by;
    }
    if (to >= 0) snprintf(e.recipient_id, sizeof e.recipient_id, "%s", s->pl[to].id);
    e.end_x = ex, e.end_y = ey;
    e.success = success;
    if (kind == FA_EV_SHOT) {
        e.xg = 0.04 + 0.4 * exp(-hypot(dir_of(s, k) * 52.5 - s->bx, s->by) / 8);
        e.goal = uniform(&s->rng, 0, 1) < e.xg;
        snprintf(e.outcome, sizeof e.outcome, "%s", e.goal ? "Goal" : "Saved");
        s->shot = 1 + e.goal;
    }
    if (!fd->rc) fd->rc = fd->sink->event(fd->sink->ud, &e);
}

/* The owner releases the ball: a shot near goal, else a pass (15 % intercepted). */
static void release(sim *s, feed *fd) {
    int k = s->owner, side = side_of(k);
    double d = dir_of(s, k), gx = d * 52.5;
    s->shot = 0;
    if (hypot(gx - s->bx, s->by) < 25 && uniform(&s->rng, 0, 1) < 0.35) {
        s->fx1 = gx, s->fy1 = uniform(&s->rng, -4, 4);
        emit_event(s, fd, FA_EV_SHOT, k, -1, s->fx1, s->fy1, -1);
        s->receiver = 11 * (1 - side); /* the other keeper */
    } else {
        int mate;
        do mate = side * 11 + 1 + (int)(next_u64(&s->rng) % 10);
        while (mate == k);
        const sim_player *r = &s->pl[mate];
        s->fx1 = clampd(r->x + r->vx, 52), s->fy1 = clampd(r->y + r->vy, 33.5);
        int intercepted = uniform(&s->rng, 0, 1) < 0.15;
        double mx = (s->bx + s->fx1) / 2, my = (s->by + s->fy1) / 2;
        s->receiver = intercepted ? nearest(s, mx, my, 1 - side, -1) : mate;
        emit_event(s, fd, FA_EV_PASS, k, intercepted ? -1 : mate, s->fx1, s->fy1, !intercepted);
    }
    s->fx0 = s->bx, s->fy0 = s->by, s->ft = 0;
    double dist = hypot(s->fx1 - s->fx0, s->fy1 - s->fy0);
    s->fdur = fmax(0.3, dist / (s->shot ? 22 : 14));
    s->fh = dist > 25 ? dist / 6 : 0;
    s->owner = -1;
}

static void move_ball(sim *s, feed *fd) {
    if (s->owner >= 0) {
        const sim_player *p = &s->pl[s->owner];
        double sp = hypot(p->vx, p->vy), fx = p->x, fy = p->y;
        if (sp > 0.5) fx += 0.7 * p->vx / sp, fy += 0.7 * p->vy / sp;
        double dx = fx - s->bx, dy = fy - s->by, d = hypot(dx, dy), step = 12 * DT;
        if (d > step) dx *= step / d, dy *= step / d;
        s->bx += dx, s->by += dy, s->bz = 0;
        if ((s->hold -= DT) <= 0) release(s, fd);
        return;
    }
    s->ft += DT;
    double u = fmin(1, s->ft / s->fdur);
    s->bx = s->fx0 + (s->fx1 - s->fx0) * u, s->by = s->fy0 + (s->fy1 - s->fy0) * u;
    s->bz = 4 * s->fh * u * (1 - u);
    if (u < 1) return;
    if (s->shot == 2) { /* a goal: the other side kicks off */
        int scorer_side = side_of(nearest(s, s->fx0, s->fy0, FA_SIDE_NONE, -1));
        sim_kickoff(s, scorer_side == FA_SIDE_HOME ? 20 : 9);
        return;
    }
    s->owner = nearest(s, s->bx, s->by, FA_SIDE_NONE, -1);
    s->hold = uniform(&s->rng, 0.6, 3.5);
}

/* Gaps, outliers and unseen ball, on their schedules. */
static void schedule_faults(sim *s, double clock) {
    if (clock >= s->next_gap) {
        s->gap_player = (int)(next_u64(&s->rng) % NPL);
        s->gap_hide = (int)(next_u64(&s->rng) & 1);
        s->gap_until = clock + uniform(&s->rng, 0.4, 3);
        s->next_gap = clock + uniform(&s->rng, 200, 400);
    }
    if (clock >= s->next_ball_gap) {
        s->ball_gap_until = clock + uniform(&s->rng, 1, 2);
        s->next_ball_gap = clock + uniform(&s->rng, 90, 150);
    }
}

/* Builds and sends the frame of the current instant. */
static void send_frame(sim *s, feed *fd, double clock) {
    fa_frame_player fp[NPL];
    size_t n = 0;
    int outlier = -1;
    if (clock >= s->next_outlier) {
        outlier = (int)(next_u64(&s->rng) % NPL);
        s->next_outlier = clock + uniform(&s->rng, 120, 240);
    }
    for (int k = 0; k < NPL; k++) {
        int gap = k == s->gap_player && clock < s->gap_until;
        if (gap && s->gap_hide) continue;
        fp[n] = (fa_frame_player){s->pl[k].id, side_of(k), (float)s->pl[k].x, (float)s->pl[k].y};
        if (gap) fp[n].x = fp[n].y = NAN;
        if (k == outlier) fp[n].x += 15.0f;
        n++;
    }
    fa_frame f;
    fa_frame_init(&f);
    f.frame = s->frame_no++;
    f.period = s->period;
    f.t = s->t;
    if (clock >= s->ball_gap_until) f.ball_x = (float)s->bx, f.ball_y = (float)s->by, f.ball_z = (float)s->bz;
    f.ball_alive = 1;
    f.n = n;
    f.players = fp;
    if (!fd->rc) fd->rc = fd->sink->frame(fd->sink->ud, &f);
}

static void sim_period(sim *s, feed *fd, int period, double seconds) {
    sim_start_period(s, period);
    emit_event(s, fd, FA_EV_PERIOD_START, -1, -1, NAN, NAN, -1);
    long frames = lround(seconds * RATE);
    for (long i = 0; i < frames && !fd->rc; i++) {
        double clock = (period - 1) * seconds + s->t;
        schedule_faults(s, clock);
        send_frame(s, fd, clock);
        int presser = s->owner >= 0 ? nearest(s, s->bx, s->by, 1 - side_of(s->owner), -1) : -1;
        for (int k = 0; k < NPL; k++) move_player(s, k, presser);
        move_ball(s, fd);
        s->t = (double)(i + 1) / RATE;
    }
    emit_event(s, fd, FA_EV_PERIOD_END, -1, -1, NAN, NAN, -1);
}

/* Plays the whole match into sink. Returns the sink's error or 0. */
static int play_match(uint64_t seed, double minutes, const fa_sink *sink) {
    sim *s = malloc(sizeof *s);
    if (!s) return FA_ENOMEM;
    sim_init(s, seed);
    feed fd = {sink, 0};
    fa_match m;
    fa_match_init(&m, FA_PROVIDER_UNKNOWN);
    snprintf(m.id, sizeof m.id, "synthetic-%llu", (unsigned long long)seed);
    snprintf(m.teams[0].name, sizeof m.teams[0].name, "Home");
    snprintf(m.teams[1].name, sizeof m.teams[1].name, "Away");
    m.frame_rate = RATE;
    fd.rc = sink->begin(sink->ud, &m);
    for (int k = 0; k < NPL && !fd.rc; k++) {
        fa_player p;
        fa_player_init(&p);
        snprintf(p.id, sizeof p.id, "%s", s->pl[k].id);
        snprintf(p.name, sizeof p.name, "Player %s", s->pl[k].id);
        p.side = side_of(k);
        p.shirt = k % 11 + 1;
        p.starter = 1;
        fd.rc = sink->player(sink->ud, &p);
    }
    for (int period = 1; period <= 2 && !fd.rc; period++) sim_period(s, &fd, period, minutes * 30);
    if (!fd.rc) fd.rc = sink->end(sink->ud, &m);
    free(s);
    return fd.rc;
}

/* ------------------------------------------------------------ figures */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* The anchor: read every sample (t, x, y) once. */
static double read_every_sample(const fa_tracking *tr, size_t *samples) {
    double acc = 0;
    size_t n = 0;
    for (size_t i = 0; i < tr->ntracks; i++) {
        const fa_track *t = &tr->tracks[i];
        for (size_t k = 0; k < t->n; k++) acc += t->t[k] + t->x[k] + t->y[k];
        n += t->n;
    }
    *samples = n;
    return acc;
}

/* Bytes of samples the tracking holds (used) and has allocated (cap; arrays grow by doubling, so the
 * untouched tail of the last growth costs address space, not resident memory). */
static size_t tracking_bytes(const fa_tracking *tr, int allocated) {
    size_t b = (allocated ? tr->cap : tr->ntracks) * sizeof *tr->tracks;
    for (size_t i = 0; i < tr->ntracks; i++)
        b += (allocated ? tr->tracks[i].cap : tr->tracks[i].n) * (sizeof(double) + 2 * sizeof(float));
    return b;
}

static double metric(const fa_aggregates *a, fa_side side, const char *id, const char *name) {
    for (size_t i = 0; i < a->nmetrics; i++) {
        const fa_metric *m = &a->metrics[i];
        if (m->side == side && !strcmp(m->player_id, id) && !strcmp(m->name, name)) return m->value;
    }
    return NAN;
}

int main(int argc, char **argv) {
    int runs = 5;
    uint64_t seed = 90;
    double minutes = 90;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--minutes") && i + 1 < argc) minutes = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_analytics [--runs N] [--seed S] [--minutes M]\n");
            return 1;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || !(minutes >= 1 && minutes <= 150)) {
        fprintf(stderr, "bench_analytics: --runs must be 1..%d and --minutes 1..150\n", MAX_RUNS);
        return 1;
    }
    bench_print_machine(argc, argv);
    fa_collector col;
    fa_collector_init(&col, NULL);
    timed_sink timed;
    timed_sink_init(&timed, &col.sink);
    double t0 = fa_clock_now();
    if (play_match(seed, minutes, &timed.sink))
        return fprintf(stderr, "bench_analytics: collecting: %s\n", fa_err_msg()), 3;
    double t_play = fa_clock_now() - t0, t_ingest = timed.frame_s, rss_match = peak_rss_mib();
    size_t samples;
    double check = read_every_sample(&col.tracking, &samples);
    printf("bench_analytics: synthetic %.0f-minute match, seed %llu: %zu frames, %zu samples (22 players + "
           "ball), %zu rejected, %zu events\n", minutes, (unsigned long long)seed, col.tracking.nframes,
           samples, col.tracking.rejected, col.nevents);
    printf("  ingest: collector frames -> tracks      %.3f s (%.1f M samples/s) of %.3f s simulating + "
           "collecting\n", t_ingest, samples / t_ingest / 1e6, t_play);

    fa_analytics_config cfg;
    fa_analytics_config_default(&cfg);
    double wall[MAX_RUNS], cpu[MAX_RUNS], anchor[MAX_RUNS];
    fa_aggregates agg;
    for (int r = 0; r < runs; r++) {
        memset(&agg, 0, sizeof agg);
        double c0 = fa_clock_cpu();
        t0 = fa_clock_now();
        int rc = fa_analyze_match(&col, &cfg, &agg);
        wall[r] = fa_clock_now() - t0;
        cpu[r] = fa_clock_cpu() - c0;
        if (rc) return fprintf(stderr, "bench_analytics: fa_analyze_match: %s\n", fa_err_msg()), 3;
        if (r < runs - 1) fa_aggregates_free(&agg);
        t0 = fa_clock_now();
        double again = read_every_sample(&col.tracking, &samples);
        anchor[r] = fa_clock_now() - t0;
        if (again != check) return fprintf(stderr, "bench_analytics: analysis changed the tracking\n"), 3;
    }
    double mw = median(wall, runs), mc = median(cpu, runs), ma = median(anchor, runs);
    double rss_peak = peak_rss_mib();
    printf("  fa_analyze_match                        median %.3f s wall, %.3f s CPU over %d runs   "
           "target < 1 s: %s\n", mw, mc, runs, mw < 1 ? "met" : "MISSED");
    printf("  throughput                              %.1f M samples/s\n", samples / mw / 1e6);
    printf("  anchor: read every sample once          median %.4f s   ratio analyze/anchor = %.0fx\n", ma,
           mw / ma);
    printf("  memory: tracking %.1f MiB of samples (%.1f MiB allocated); peak RSS %.1f MiB after collecting, "
           "%.1f MiB after analysis (analysis adds %.1f MiB)\n", tracking_bytes(&col.tracking, 0) / 1048576.0,
           tracking_bytes(&col.tracking, 1) / 1048576.0, rss_match, rss_peak, rss_peak - rss_match);
    printf("  output: %zu metrics, %zu grids, %zu docs (checksum %.0f)\n", agg.nmetrics, agg.ngrids,
           agg.ndocs, check);
    printf("  sanity: h7 (a midfielder) %.0f m, peak %.1f m/s, %.0f sprints; h1 (keeper) %.0f m; home "
           "possession %.3f\n", metric(&agg, FA_SIDE_HOME, "h7", "distance_m"),
           metric(&agg, FA_SIDE_HOME, "h7", "peak_speed_ms"), metric(&agg, FA_SIDE_HOME, "h7", "sprints"),
           metric(&agg, FA_SIDE_HOME, "h1", "distance_m"),
           metric(&agg, FA_SIDE_HOME, "", "possession_share"));
    fa_aggregates_free(&agg);
    fa_collector_free(&col);
    return 0;
}
