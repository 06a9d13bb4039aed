/*
 * bench_video.c - the video pipeline against the ffmpeg command line doing
 * the same job, in the same run (issue 6).
 *
 *   bench_video [--runs N] [--seconds S] [--preset P] [--keep DIR] [--real]
 *
 * The clip: bench_job.h (the real SoccerTrack clip as 60 s of grainy 720p25).
 *
 * The job, both sides: decode once, the 3-rung superfast ladder
 * 720/480/360 (x264, 2 s closed GOPs, capped bitrates), AAC once, 4 s fMP4
 * segments packaged for DASH and HLS by the dash muxer:
 *   ours:   footanalytics transcode CLIP --out DIR --preset P --progress none
 *   anchor: ffmpeg -i CLIP -filter_complex split/scale ... -f dash -hls_playlist 1
 * with the anchor's encoder settings matched to ours (bench_job.h).
 * Runs alternate anchor / ours / ours with the 5 fps detector feed (when
 * the command has --detect-fps), so the machine's noise is shared; the
 * figures are the medians of wall time and CPU time (user + system of the
 * child) and the ratio ours / anchor. --real also times the 4K HEVC clip
 * through our ladder once (1080/720/480).
 */
#include "bench_job.h"

#define MAX_RUNS 15

typedef struct opts {
    int runs, seconds;
    const char *preset, *keep;
    int real;
} opts;

static int run_ours(const char *bin, const char *clip, const char *out, const char *preset, int detect,
                    timing *t) {
    char *argv[16] = {(char *)bin, "transcode",    (char *)clip, "--out", (char *)out,
                      "--preset",  (char *)preset, "--progress", "none",  "--force"};
    int n = 10;
    if (detect) argv[n++] = "--detect-fps", argv[n++] = "5";
    argv[n] = NULL;
    return run(argv, t);
}

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){.runs = 3, .seconds = 60, .preset = "superfast"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--runs") && v)
            o->runs = atoi(v), i++;
        else if (!strcmp(a, "--seconds") && v)
            o->seconds = atoi(v), i++;
        else if (!strcmp(a, "--preset") && v)
            o->preset = v, i++;
        else if (!strcmp(a, "--keep") && v)
            o->keep = v, i++;
        else if (!strcmp(a, "--real"))
            o->real = 1;
        else {
            fprintf(stderr,
                    "usage: bench_video [--runs N] [--seconds S] [--preset P] [--keep DIR] [--real]\n");
            return -1;
        }
    }
    if (o->runs < 1 || o->runs > MAX_RUNS || o->seconds < 4) return -1;
    return 0;
}

/* Whether `footanalytics transcode --help` mentions --detect-fps. */
static int has_detect_feed(const char *bin) {
    char cmd[PATH_BYTES + 64], line[512];
    snprintf(cmd, sizeof cmd, "'%s' transcode --help 2>&1", bin);
    FILE *p = popen(cmd, "r");
    int found = 0;
    while (p && fgets(line, sizeof line, p))
        if (strstr(line, "--detect-fps")) found = 1;
    if (p) pclose(p);
    return found;
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o)) return 1;
    bench_print_machine(argc, argv);
    bench_paths p;
    if (bench_paths_init(&p, o.keep, o.seconds)) return 1;
    const char *bin = p.bin, *src = p.src, *work = p.work, *clip = p.clip;
    char out[PATH_BYTES];
    int detect = has_detect_feed(bin);
    double aw[MAX_RUNS], ac[MAX_RUNS], ow[MAX_RUNS], oc[MAX_RUNS], dw[MAX_RUNS], dc[MAX_RUNS];
    long rss = 0;
    printf("clip: %s (%d s, 1280x720, 25 fps, AAC)\njob: 3-rung %s ladder 720/480/360 to DASH + HLS, 4 s "
           "segments\n",
           clip, o.seconds, o.preset);
    for (int r = 0; r < o.runs; r++) {
        timing ta, to, td = {0};
        snprintf(out, sizeof out, "%.4000s/anchor", work);
        rm_rf(out);
        if (run_anchor(clip, out, o.preset, &ta)) return fprintf(stderr, "bench_video: ffmpeg failed\n"), 1;
        snprintf(out, sizeof out, "%.4000s/ours", work);
        rm_rf(out);
        if (run_ours(bin, clip, out, o.preset, 0, &to))
            return fprintf(stderr, "bench_video: %s transcode failed\n", bin), 1;
        if (detect && run_ours(bin, clip, out, o.preset, 1, &td))
            return fprintf(stderr, "bench_video: %s transcode --detect-fps 5 failed\n", bin), 1;
        aw[r] = ta.wall, ac[r] = ta.cpu, ow[r] = to.wall, oc[r] = to.cpu, dw[r] = td.wall, dc[r] = td.cpu;
        rss = to.max_rss_kb > rss ? to.max_rss_kb : rss;
        printf("run %d: ffmpeg %.2f s (cpu %.2f)  ours %.2f s (cpu %.2f)", r + 1, ta.wall, ta.cpu, to.wall,
               to.cpu);
        if (detect) printf("  ours+detect-feed %.2f s (cpu %.2f)", td.wall, td.cpu);
        printf("\n");
        fflush(stdout);
    }
    double a = median(aw, o.runs), ours = median(ow, o.runs);
    printf("\nmedian wall: ffmpeg %.2f s, ours %.2f s -> ours/ffmpeg %.3f (bar <= 1.0)\n", a, ours, ours / a);
    printf("median cpu:  ffmpeg %.2f s, ours %.2f s -> %.3f\n", median(ac, o.runs), median(oc, o.runs),
           median(oc, o.runs) / median(ac, o.runs));
    if (detect) {
        double d = median(dw, o.runs);
        printf("with the 5 fps detector feed: %.2f s -> ours/ffmpeg %.3f (bar <= 1.05), cpu %.2f s\n", d,
               d / a, median(dc, o.runs));
    } else {
        printf("detector feed: not measured (transcode has no --detect-fps)\n");
    }
    printf("our peak RSS: %.1f MiB\n", (double)rss / 1024.0);
    if (o.real) {
        timing t;
        snprintf(out, sizeof out, "%.4000s/real", work);
        rm_rf(out);
        if (run_ours(bin, src, out, o.preset, 0, &t))
            return fprintf(stderr, "bench_video: real clip failed\n"), 1;
        printf("real 4K HEVC clip (%s, 10 s): %.2f s wall, cpu %.2f s, peak RSS %.1f MiB\n", src, t.wall,
               t.cpu, (double)t.max_rss_kb / 1024.0);
    }
    return 0;
}
