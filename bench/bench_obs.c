/*
 * bench_obs.c - what the metrics registry costs on the request path and
 * per scrape.
 *
 * Hot path (ns per operation per thread, median of --runs): one counter
 * increment and one latency-histogram observation (14 bounds, values
 * log-uniform from 0.1 ms to 2 s, so the bucket search does real work), on
 * 1 and on 2 threads hitting the SAME child - the worst case for sharing,
 * and what every loop thread does with the in-flight and route counters.
 * Two clocks: the thread's CPU time (time-slicing with other processes on
 * a shared machine does not count; cache-line contention between our
 * threads does, a stalled thread is running) and wall time (which also
 * counts a thread asleep on a contended mutex, and any noise).
 *
 * Scrape (µs of CPU time, median): a full exposition of 50 routes x 5 statuses of the
 * latency histogram (250 children, 4,000 lines), plus the process metrics
 * a real /metrics carries.
 *
 * Anchor, same run, same work: the naive implementation a first version
 * writes - one pthread mutex per child around a plain counter / bucket
 * array, and an exposition that fa_buf_printf's every line and escapes the
 * label values at each scrape. Ratios: naive / ours.
 *
 * usage: bench_obs [--runs N] [--ops N]   (ops per thread per run, default 5e6)
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "core/core.h"
#include "obs/obs.h"

#define MAX_RUNS 51
#define NVALUES 1024
#define ROUTES 50
#define STATUSES 5

static double values[NVALUES];

/* ------------------------------------------------------------ the naive anchor */

typedef struct naive_counter {
    pthread_mutex_t lock;
    uint64_t v;
} naive_counter;

typedef struct naive_hist {
    pthread_mutex_t lock;
    uint64_t counts[FA_OBS_LATENCY_NBUCKETS + 1];
    double sum;
    char route[64], status[8];
} naive_hist;

static void naive_inc(naive_counter *c) {
    pthread_mutex_lock(&c->lock);
    c->v++;
    pthread_mutex_unlock(&c->lock);
}

static void naive_observe(naive_hist *h, double v) {
    size_t i = 0;
    while (i < FA_OBS_LATENCY_NBUCKETS && v > fa_obs_latency_buckets[i]) i++;
    pthread_mutex_lock(&h->lock);
    h->counts[i]++;
    h->sum += v;
    pthread_mutex_unlock(&h->lock);
}

static void naive_escaped(fa_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fa_buf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            fa_buf_puts(b, "\\n");
        else
            fa_buf_putc(b, *s);
    }
}

static void naive_labels(fa_buf *b, const naive_hist *h) {
    fa_buf_puts(b, "route=\"");
    naive_escaped(b, h->route);
    fa_buf_puts(b, "\",status=\"");
    naive_escaped(b, h->status);
    fa_buf_putc(b, '"');
}

static void naive_expose(naive_hist *hs, size_t n, fa_buf *b) {
    const char *name = FA_M_HTTP_REQUEST_SECONDS;
    fa_buf_printf(b, "# HELP %s Request latency.\n# TYPE %s histogram\n", name, name);
    for (size_t k = 0; k < n; k++) {
        naive_hist *h = &hs[k];
        pthread_mutex_lock(&h->lock);
        uint64_t cum = 0;
        for (size_t i = 0; i <= FA_OBS_LATENCY_NBUCKETS; i++) {
            cum += h->counts[i];
            fa_buf_printf(b, "%s_bucket{", name);
            naive_labels(b, h);
            if (i < FA_OBS_LATENCY_NBUCKETS)
                fa_buf_printf(b, ",le=\"%g\"} %llu\n", fa_obs_latency_buckets[i], (unsigned long long)cum);
            else
                fa_buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        fa_buf_printf(b, "%s_sum{", name);
        naive_labels(b, h);
        fa_buf_printf(b, "} %.17g\n%s_count{", h->sum, name);
        naive_labels(b, h);
        fa_buf_printf(b, "} %llu\n", (unsigned long long)cum);
        pthread_mutex_unlock(&h->lock);
    }
}

/* ------------------------------------------------------------ timed loops */

/* The calling thread's CPU time: on a shared machine, time-slicing with
 * other processes does not count, while cache-line contention between our
 * two threads does (a stalled thread is running). */
static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef enum { OURS_COUNTER, OURS_HIST, NAIVE_COUNTER, NAIVE_HIST } op_kind;

typedef struct job {
    op_kind kind;
    long ops;
    fa_obs_counter *counter;
    fa_obs_histogram *hist;
    naive_counter *ncounter;
    naive_hist *nhist;
    pthread_barrier_t *start;
    double cpu_s, wall_s;
} job;

static void *job_main(void *arg) {
    job *j = arg;
    pthread_barrier_wait(j->start);
    double c0 = thread_cpu(), w0 = fa_clock_now();
    switch (j->kind) {
    case OURS_COUNTER:
        for (long i = 0; i < j->ops; i++) fa_obs_counter_inc(j->counter);
        break;
    case OURS_HIST:
        for (long i = 0; i < j->ops; i++) fa_obs_histogram_observe(j->hist, values[i & (NVALUES - 1)]);
        break;
    case NAIVE_COUNTER:
        for (long i = 0; i < j->ops; i++) naive_inc(j->ncounter);
        break;
    case NAIVE_HIST:
        for (long i = 0; i < j->ops; i++) naive_observe(j->nhist, values[i & (NVALUES - 1)]);
        break;
    }
    j->cpu_s = thread_cpu() - c0;
    j->wall_s = fa_clock_now() - w0;
    return NULL;
}

typedef struct timing {
    double cpu_ns, wall_ns; /* per operation, of the slowest thread */
} timing;

static timing run_threads(job proto, int nthreads) {
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)nthreads);
    job jobs[2];
    pthread_t t[2];
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = proto;
        jobs[i].start = &start;
        pthread_create(&t[i], NULL, job_main, &jobs[i]);
    }
    timing worst = {0, 0};
    for (int i = 0; i < nthreads; i++) {
        pthread_join(t[i], NULL);
        worst.cpu_ns = fmax(worst.cpu_ns, jobs[i].cpu_s * 1e9 / (double)proto.ops);
        worst.wall_ns = fmax(worst.wall_ns, jobs[i].wall_s * 1e9 / (double)proto.ops);
    }
    pthread_barrier_destroy(&start);
    return worst;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static timing median_timing(job proto, int nthreads, int runs) {
    double cpu[MAX_RUNS], wall[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        timing t = run_threads(proto, nthreads);
        cpu[r] = t.cpu_ns;
        wall[r] = t.wall_ns;
    }
    return (timing){median(cpu, runs), median(wall, runs)};
}

/* ------------------------------------------------------------ setup and report */

static void fill_values(void) {
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < NVALUES; i++) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        double u = (double)((s * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
        values[i] = 1e-4 * pow(2e4, u); /* 0.1 ms .. 2 s, log-uniform */
    }
}

static const char *statuses[STATUSES] = {"200", "304", "400", "404", "500"};

static void route_name(char *buf, size_t size, int r) { snprintf(buf, size, "/v1/resource%d/{id}", r); }

static fa_obs_registry *scrape_registry(naive_hist *naive) {
    fa_obs_registry *reg = fa_obs_registry_new();
    if (!reg || fa_obs_process_register(reg)) return NULL;
    fa_obs_family *f = fa_obs_histogram_family(reg, FA_M_HTTP_REQUEST_SECONDS, "Request latency.",
                                               FA_OBS_LABELS(FA_L_ROUTE, FA_L_STATUS), fa_obs_latency_buckets,
                                               FA_OBS_LATENCY_NBUCKETS);
    char route[64];
    for (int r = 0; r < ROUTES; r++) {
        route_name(route, sizeof route, r);
        for (int s = 0; s < STATUSES; s++) {
            fa_obs_histogram *h = fa_obs_histogram_with(f, FA_OBS_LABELS(route, statuses[s]));
            naive_hist *n = &naive[r * STATUSES + s];
            pthread_mutex_init(&n->lock, NULL);
            snprintf(n->route, sizeof n->route, "%s", route);
            snprintf(n->status, sizeof n->status, "%s", statuses[s]);
            for (int i = 0; i < 100; i++) {
                fa_obs_histogram_observe(h, values[(r * 7 + s * 13 + i) & (NVALUES - 1)]);
                naive_observe(n, values[(r * 7 + s * 13 + i) & (NVALUES - 1)]);
            }
        }
    }
    return reg;
}

static void scrape_times(int runs, double *ours_us, double *naive_us, size_t *ours_bytes,
                         size_t *naive_bytes) {
    naive_hist *naive = calloc(ROUTES * STATUSES, sizeof *naive);
    fa_obs_registry *reg = scrape_registry(naive);
    if (!reg || !naive) {
        fprintf(stderr, "setup: %s\n", fa_err_msg());
        exit(3);
    }
    fa_buf b = {0};
    double t_ours[MAX_RUNS], t_naive[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        fa_buf_reset(&b);
        double t0 = thread_cpu();
        fa_obs_registry_expose(reg, &b);
        t_ours[r] = (thread_cpu() - t0) * 1e6;
        *ours_bytes = b.len;
        fa_buf_reset(&b);
        t0 = thread_cpu();
        naive_expose(naive, ROUTES * STATUSES, &b);
        t_naive[r] = (thread_cpu() - t0) * 1e6;
        *naive_bytes = b.len;
    }
    *ours_us = median(t_ours, runs);
    *naive_us = median(t_naive, runs);
    fa_buf_free(&b);
    fa_obs_registry_free(reg);
    for (int i = 0; i < ROUTES * STATUSES; i++) pthread_mutex_destroy(&naive[i].lock);
    free(naive);
}

int main(int argc, char **argv) {
    int runs = 7;
    long ops = 5000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            ops = atol(argv[++i]);
        else
            return fprintf(stderr, "usage: bench_obs [--runs N] [--ops N]\n"), 1;
    }
    if (runs < 1 || runs > MAX_RUNS || ops < 1)
        return fprintf(stderr, "bench_obs: runs 1..%d, ops >= 1\n", MAX_RUNS), 1;
    fill_values();
    fa_obs_registry *reg = fa_obs_registry_new();
    job proto = {.ops = ops};
    proto.counter = fa_obs_counter_get(reg, "bench_total", "");
    proto.hist =
        fa_obs_histogram_get(reg, "bench_seconds", "", fa_obs_latency_buckets, FA_OBS_LATENCY_NBUCKETS);
    naive_counter nc = {.lock = PTHREAD_MUTEX_INITIALIZER};
    naive_hist nh = {.lock = PTHREAD_MUTEX_INITIALIZER};
    proto.ncounter = &nc;
    proto.nhist = &nh;
    if (!proto.counter || !proto.hist) return fprintf(stderr, "setup: %s\n", fa_err_msg()), 3;

    char host[256] = "?", cpu[256];
    gethostname(host, sizeof host);
    bench_cpu_model(cpu, sizeof cpu);
    printf("bench_obs: %ld ops per thread per run, %d runs (medians)\n", ops, runs);
    printf("  host %s, %ld cpus, %s\n", host, sysconf(_SC_NPROCESSORS_ONLN), cpu);
    printf("  command:");
    for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
    printf("\n\n  %-34s %22s %8s %22s %8s\n", "ns per op per thread", "CPU: ours    naive", "ratio",
           "wall: ours    naive", "ratio");
    const struct {
        const char *what;
        op_kind ours, naive;
    } rows[] = {{"counter increment", OURS_COUNTER, NAIVE_COUNTER},
                {"histogram observation", OURS_HIST, NAIVE_HIST}};
    for (size_t r = 0; r < 2; r++) {
        for (int threads = 1; threads <= 2; threads++) {
            proto.kind = rows[r].ours;
            timing ours = median_timing(proto, threads, runs);
            proto.kind = rows[r].naive;
            timing naive = median_timing(proto, threads, runs);
            char what[64];
            snprintf(what, sizeof what, "%s, %d thread%s", rows[r].what, threads, threads > 1 ? "s" : "");
            printf("  %-34s %11.2f %10.2f %7.1fx %11.2f %10.2f %7.1fx\n", what, ours.cpu_ns, naive.cpu_ns,
                   naive.cpu_ns / ours.cpu_ns, ours.wall_ns, naive.wall_ns, naive.wall_ns / ours.wall_ns);
        }
    }
    double ours_us, naive_us;
    size_t ours_bytes = 0, naive_bytes = 0;
    scrape_times(runs, &ours_us, &naive_us, &ours_bytes, &naive_bytes);
    printf("\n  full exposition, %d routes x %d statuses (%d histograms)\n", ROUTES, STATUSES,
           ROUTES * STATUSES);
    printf("  %-34s %10.1f %10.1f %7.1fx   (%zu / %zu bytes; ours includes process metrics)\n",
           "us of CPU per scrape", ours_us, naive_us, naive_us / ours_us, ours_bytes, naive_bytes);
    /* the counts are exact: every run's increments are there */
    uint64_t want = (uint64_t)ops * (uint64_t)runs * 3, got = fa_obs_counter_value(proto.counter);
    printf("\n  check: counter %llu of %llu increments\n", (unsigned long long)got, (unsigned long long)want);
    fa_obs_registry_free(reg);
    return got == want ? 0 : 3;
}
