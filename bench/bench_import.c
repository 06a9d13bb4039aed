/*
 * bench_import.c - how long importing both StatsBomb sample matches takes.
 *
 * Target (issue 2): < 0.5 s in total on one core for parse + convert + store.
 * Three figures per run, each the median of N repetitions:
 *   parse   - both matches through the parsers into a sink that drops them;
 *   import  - parse + store into a fresh SQLite database (WAL), as the CLI does;
 *   anchor  - Python's json.load of the same four files (C-accelerated parser,
 *             what Python tooling such as kloppy starts from), run in the same
 *             process tree right after, so both see the same machine state.
 * The ratio anchor / import says how many times faster than merely parsing
 * the JSON in Python our whole import is.
 *
 * usage: bench_import [--runs N] [--data DIR]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "ingest/ingest.h"
#include "store/store.h"

#define MAX_RUNS 200

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static const char *matches[2] = {"15986", "3788741"};

static int parse_only(const char *data) {
    char ev[4096], lu[4096];
    fa_sink drop = {0};
    for (int i = 0; i < 2; i++) {
        snprintf(ev, sizeof ev, "%s/events/statsbomb/%s_event.json", data, matches[i]);
        snprintf(lu, sizeof lu, "%s/events/statsbomb/%s_lineup.json", data, matches[i]);
        if (fa_statsbomb_import(ev, lu, &drop)) return -1;
    }
    return 0;
}

static int import_all(const char *data, const char *db) {
    char ev[4096], lu[4096];
    unlink(db);
    fa_store *s = fa_store_open(db, 1, 1);
    if (!s) return -1;
    for (int i = 0; i < 2; i++) {
        snprintf(ev, sizeof ev, "%s/events/statsbomb/%s_event.json", data, matches[i]);
        snprintf(lu, sizeof lu, "%s/events/statsbomb/%s_lineup.json", data, matches[i]);
        fa_store_import *imp;
        fa_import_stats st;
        if (fa_store_import_begin(s, &imp)) return fa_store_close(s), -1;
        if (fa_statsbomb_import(ev, lu, fa_store_import_sink(imp))) {
            fa_store_import_abort(imp);
            fa_store_close(s);
            return -1;
        }
        if (fa_store_import_commit(imp, &st)) return fa_store_close(s), -1;
    }
    fa_store_close(s);
    return 0;
}

/* Seconds Python takes to json.load the four files, timed inside Python. */
static double python_anchor(const char *data) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,time,sys\n"
             "d=sys.argv[1]\nfs=[d+\"/events/statsbomb/%%s_%%s.json\"%%(m,k) for m in (\"15986\",\"3788741\") "
             "for k in (\"event\",\"lineup\")]\n"
             "t=time.perf_counter()\nfor f in fs:\n  json.load(open(f))\nprint(time.perf_counter()-t)' '%s' "
             "2>/dev/null",
             data);
    FILE *p = popen(cmd, "r");
    if (!p) return NAN;
    double t = NAN;
    if (fscanf(p, "%lf", &t) != 1) t = NAN;
    pclose(p);
    return t;
}

int main(int argc, char **argv) {
    int runs = 10;
    const char *data = getenv("FA_DATA_DIR");
    if (!data) data = "../shared/data";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else {
            fprintf(stderr, "usage: bench_import [--runs N] [--data DIR]\n");
            return 1;
        }
    }
    if (runs < 1 || runs > MAX_RUNS) runs = 10;
    char db[] = "/tmp/fa-bench-XXXXXX";
    int fd = mkstemp(db);
    if (fd < 0) return perror("mkstemp"), 3;
    close(fd);

    double tp[MAX_RUNS], ti[MAX_RUNS], cpu[MAX_RUNS], ta[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        double t0 = fa_clock_now();
        if (parse_only(data)) return fprintf(stderr, "parse failed: %s\n", fa_err_msg()), 3;
        tp[r] = fa_clock_now() - t0;
        double c0 = fa_clock_cpu();
        t0 = fa_clock_now();
        if (import_all(data, db)) return fprintf(stderr, "import failed: %s\n", fa_err_msg()), 3;
        ti[r] = fa_clock_now() - t0;
        cpu[r] = fa_clock_cpu() - c0;
        ta[r] = python_anchor(data);
    }
    char host[256] = "?";
    gethostname(host, sizeof host);
    double mp = median(tp, runs), mi = median(ti, runs), mc = median(cpu, runs), ma = median(ta, runs);
    printf("bench_import: both StatsBomb matches (15986, 3788741; events + lineups), %d runs, host %s, %ld cpus\n",
           runs, host, sysconf(_SC_NPROCESSORS_ONLN));
    printf("  parse only (null sink)        median %.4f s\n", mp);
    printf("  import (parse + SQLite)       median %.4f s wall, %.4f s cpu   target < 0.5 s: %s\n", mi, mc,
           mi < 0.5 ? "met" : "MISSED");
    if (isnan(ma)) printf("  anchor python3 json.load      unavailable (python3 not found)\n");
    else
        printf("  anchor python3 json.load      median %.4f s   ratio anchor/import = %.2fx\n", ma, ma / mi);
    printf("  peak RSS %.1f MiB\n", (double)fa_proc_peak_rss() / (1024.0 * 1024.0));
    unlink(db);
    char side[4200];
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
    return 0;
}
