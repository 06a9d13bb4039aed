/*
 * bench_analyze.c - the whole video-to-tracking pipeline against the ffmpeg
 * command line doing only the ladder, in the same run (issue 7).
 *
 *   bench_analyze [--runs N] [--seconds S] [--preset P] [--keep DIR]
 *                 [--calib FILE] [--variant LABEL=ARGS]... [--no-real]
 *
 * The clip and the anchor: bench_job.h (the real SoccerTrack clip as 60 s
 * of grainy 720p25; ffmpeg decoding it once into the 3-rung superfast
 * ladder packaged for DASH and HLS). Ours: `footanalytics analyze CLIP
 * --calib FILE --preset P --json` - the same ladder and packaging plus
 * detection at 5 fps, tracking, teams, calibration to metres, the match
 * stored in a fresh SQLite database and every metric computed. The
 * calibration is the fixture read from the 4K clip's first frame
 * (tests/fixtures/soccertrack_left_calib.json); analyze scales it to the
 * 720p picture (same camera, same aspect ratio).
 *
 * Why the anchor does less than we do: the product question is what the
 * analysis costs on top of the streaming package every upload needs
 * anyway (bar: ours <= 1.25x the ladder alone).
 *
 * Each --variant adds a configuration of ours (ARGS: extra analyze options,
 * split on spaces), so e.g. FP32 and INT8 detectors are timed in the same
 * run. Without --variant there are two: "default" (analyze's defaults:
 * NanoDet-m INT8, quantised on the clip's first frames by the first run
 * and cached) and "fp32" (--precision fp32). The cache is DIR/cache
 * (FA_CACHE_DIR), emptied at the start; a short untimed analysis fills it
 * first and its quantisation time is printed, so the timed runs measure
 * what every analysis after a model's first costs. Runs alternate anchor /
 * variant 1 / variant 2 ..., so the machine's noise is shared; the figures
 * are the medians of wall and CPU time (user + system of the child) and
 * the ratio to the anchor's median wall time. The summary analyze printed
 * (detector time, tracks, teams, positions) is shown for each variant's last
 * run. Unless --no-real, the real 10 s 4K HEVC clip is then analysed once
 * with the defaults: total time and peak memory (bar < 1 GB).
 */
#include "bench_job.h"

#define MAX_RUNS 15
#define MAX_VARIANTS 4
#define MAX_VARIANT_ARGS 16

typedef struct variant {
    char label[64];
    char spec[512]; /* the extra options as given */
    char args[512]; /* the same, split in place into argv */
    char *argv[MAX_VARIANT_ARGS];
    int argc;
    double wall[MAX_RUNS], cpu[MAX_RUNS];
    long max_rss_kb;
} variant;

typedef struct opts {
    int runs, seconds, real;
    const char *preset, *keep, *calib;
    variant v[MAX_VARIANTS];
    int nv;
} opts;

static int usage(void) {
    fprintf(stderr, "usage: bench_analyze [--runs N] [--seconds S] [--preset P] [--keep DIR] [--calib FILE]\n"
                    "                     [--variant LABEL=ARGS]... [--no-real]\n");
    return -1;
}

/* "LABEL=ARGS" into a variant, ARGS split on spaces. */
static int add_variant(opts *o, const char *spec) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || o->nv == MAX_VARIANTS) return -1;
    variant *v = &o->v[o->nv++];
    snprintf(v->label, sizeof v->label, "%.*s", (int)(eq - spec), spec);
    snprintf(v->spec, sizeof v->spec, "%s", eq + 1);
    snprintf(v->args, sizeof v->args, "%s", eq + 1);
    for (char *save = NULL, *tok = strtok_r(v->args, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (v->argc == MAX_VARIANT_ARGS) return -1;
        v->argv[v->argc++] = tok;
    }
    return 0;
}

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){.runs = 3,
                .seconds = 60,
                .real = 1,
                .preset = "superfast",
                .calib = "tests/fixtures/soccertrack_left_calib.json"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--runs") && val)
            o->runs = atoi(val), i++;
        else if (!strcmp(a, "--seconds") && val)
            o->seconds = atoi(val), i++;
        else if (!strcmp(a, "--preset") && val)
            o->preset = val, i++;
        else if (!strcmp(a, "--keep") && val)
            o->keep = val, i++;
        else if (!strcmp(a, "--calib") && val)
            o->calib = val, i++;
        else if (!strcmp(a, "--variant") && val) {
            if (add_variant(o, val)) return usage();
            i++;
        } else if (!strcmp(a, "--no-real"))
            o->real = 0;
        else
            return usage();
    }
    if (o->runs < 1 || o->runs > MAX_RUNS || o->seconds < 4) return usage();
    return 0;
}

/* footanalytics analyze INPUT with the variant's options; its JSON summary to json_path. */
static int run_analyze(const char *bin, const opts *o, const variant *v, const char *input, const char *work,
                       const char *json_path, timing *t) {
    char out[PATH_BYTES], db[PATH_BYTES];
    snprintf(out, sizeof out, "%.4000s/ours", work);
    snprintf(db, sizeof db, "%.4000s/bench.db", work);
    unlink(db);
    char *argv[32 + MAX_VARIANT_ARGS] = {
        (char *)bin, "--log-level",     "warn",       "analyze", (char *)input, "--out",
        out,         "--force",         "--db",       db,        "--calib",     (char *)o->calib,
        "--preset",  (char *)o->preset, "--progress", "none",    "--json"};
    int n = 17;
    for (int i = 0; v && i < v->argc; i++)
        argv[n++] = v->argv[i];
    argv[n] = NULL;
    return run_to(argv, json_path, t);
}

/* Prints the JSON summary analyze wrote (one line). */
static void print_summary(const char *label, const char *json_path) {
    char line[8192] = "";
    FILE *f = fopen(json_path, "r");
    if (f && fgets(line, sizeof line, f)) line[strcspn(line, "\n")] = '\0';
    if (f) fclose(f);
    printf("  %s: %s\n", label, line[0] ? line : "(no summary)");
}

static double cpu_of(const double *v, int n) {
    double c[MAX_RUNS];
    memcpy(c, v, (size_t)n * sizeof *v);
    return median(c, n);
}

static int run_rounds(const char *bin, opts *o, const char *clip, const char *work, double *aw, double *ac) {
    char out[PATH_BYTES], json[PATH_BYTES];
    for (int r = 0; r < o->runs; r++) {
        timing ta;
        snprintf(out, sizeof out, "%.4000s/anchor", work);
        rm_rf(out);
        if (run_anchor(clip, out, o->preset, &ta))
            return fprintf(stderr, "bench_analyze: ffmpeg failed\n"), -1;
        aw[r] = ta.wall, ac[r] = ta.cpu;
        printf("run %d: ffmpeg ladder %.2f s (cpu %.2f)", r + 1, ta.wall, ta.cpu);
        for (int i = 0; i < o->nv; i++) {
            variant *v = &o->v[i];
            timing t;
            snprintf(json, sizeof json, "%.4000s/%d.json", work, i);
            if (run_analyze(bin, o, v, clip, work, json, &t))
                return fprintf(stderr, "\nbench_analyze: %s analyze (%s) failed; run it by hand to see why\n",
                               bin, v->label),
                       -1;
            v->wall[r] = t.wall, v->cpu[r] = t.cpu;
            if (t.max_rss_kb > v->max_rss_kb) v->max_rss_kb = t.max_rss_kb;
            printf("  %s %.2f s (cpu %.2f, %.2fx)", v->label, t.wall, t.cpu, t.wall / ta.wall);
        }
        printf("\n");
        fflush(stdout);
    }
    return 0;
}

static void report(opts *o, const char *work, double *aw, double *ac) {
    char json[PATH_BYTES];
    double a = median(aw, o->runs), a_cpu = median(ac, o->runs);
    printf("\nmedian ffmpeg ladder: %.2f s (cpu %.2f)\n", a, a_cpu);
    for (int i = 0; i < o->nv; i++) {
        variant *v = &o->v[i];
        double w = cpu_of(v->wall, o->runs), c = cpu_of(v->cpu, o->runs);
        printf("median analyze %s: %.2f s (cpu %.2f): ours/ffmpeg %.3f (bar <= 1.25), cpu %.3f, peak RSS "
               "%.0f MiB"
               " [options: %s]\n",
               v->label, w, c, w / a, c / a_cpu, (double)v->max_rss_kb / 1024.0, v->argc ? v->spec : "none");
    }
    printf("summaries of the last run:\n");
    for (int i = 0; i < o->nv; i++) {
        snprintf(json, sizeof json, "%.4000s/%d.json", work, i);
        print_summary(o->v[i].label, json);
    }
}

/* The real 4K clip, once, with the defaults: time and peak memory. */
static int run_real(const char *bin, opts *o, const char *src, const char *work) {
    char json[PATH_BYTES];
    snprintf(json, sizeof json, "%.4000s/real.json", work);
    timing t;
    if (run_analyze(bin, o, NULL, src, work, json, &t))
        return fprintf(stderr, "bench_analyze: analysing %s failed\n", src), -1;
    printf(
        "\nreal 4K HEVC clip (%s, 10 s), defaults: %.2f s wall, cpu %.2f s, peak RSS %.0f MiB (bar < 1024)\n",
        src, t.wall, t.cpu, (double)t.max_rss_kb / 1024.0);
    print_summary("real", json);
    return 0;
}

/* Without --variant: analyze's defaults (INT8 through the cache) and FP32. */
static void default_variants(opts *o) {
    add_variant(o, "default=");
    add_variant(o, "fp32=--precision fp32");
}

/* An empty INT8 cache in work, filled by a short untimed analysis. */
static int warm_cache(const char *bin, opts *o, const char *clip, const char *work) {
    char cache[PATH_BYTES], json[PATH_BYTES];
    snprintf(cache, sizeof cache, "%.4000s/cache", work);
    rm_rf(cache);
    setenv("FA_CACHE_DIR", cache, 1);
    snprintf(json, sizeof json, "%.4000s/warm.json", work);
    variant warm = {.label = "warm-up"};
    warm.argv[warm.argc++] = "--duration";
    warm.argv[warm.argc++] = "2";
    timing t;
    printf("INT8 cache %s: filled by a 2 s analysis (not timed) ...\n", cache);
    fflush(stdout);
    if (run_analyze(bin, o, &warm, clip, work, json, &t))
        return fprintf(stderr, "bench_analyze: the warm-up analysis failed; run it by hand to see why\n"), -1;
    print_summary("warm-up (quantise_s: the one-time quantisation)", json);
    return 0;
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o)) return 1;
    bench_print_machine(argc, argv);
    if (access(o.calib, R_OK))
        return fprintf(stderr,
                       "bench_analyze: %s: not readable (run from the repository root or give --calib)\n",
                       o.calib),
               1;
    bench_paths p;
    if (bench_paths_init(&p, o.keep, o.seconds)) return 1;
    const char *bin = p.bin, *src = p.src, *work = p.work, *clip = p.clip;
    printf(
        "clip: %s (%d s, 1280x720, 25 fps, AAC)\nanchor: ffmpeg, 3-rung %s ladder 720/480/360 to DASH + HLS\n"
        "ours: footanalytics analyze (the same ladder + detection at 5 fps, tracking, teams, metres, store, "
        "metrics)\n",
        clip, o.seconds, o.preset);
    if (o.nv == 0) default_variants(&o);
    if (warm_cache(bin, &o, clip, work)) return 1;
    double aw[MAX_RUNS], ac[MAX_RUNS];
    if (run_rounds(bin, &o, clip, work, aw, ac)) return 1;
    report(&o, work, aw, ac);
    if (o.real && run_real(bin, &o, src, work)) return 1;
    return 0;
}
