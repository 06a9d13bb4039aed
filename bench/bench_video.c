/*
 * bench_video.c - the video pipeline against the ffmpeg command line doing
 * the same job, in the same run (issue 6).
 *
 *   bench_video [--runs N] [--seconds S] [--preset P] [--keep DIR] [--real]
 *
 * The clip: S seconds (60) of 1280x720 at 25 fps with realistic content -
 * the real SoccerTrack match clip (../shared/data/video, 4K HEVC, 10 s)
 * scaled to 720p, played forwards then backwards so motion never jumps,
 * looped to S seconds, with temporal film grain (noise=alls=6:allf=t)
 * so the encoder cannot coast on static areas, and a 440 Hz tone as
 * audio. It is generated once by ffmpeg (not timed).
 *
 * The job, both sides: decode once, the 3-rung superfast ladder
 * 720/480/360 (x264, 2 s closed GOPs, capped bitrates), AAC once, 4 s fMP4
 * segments packaged for DASH and HLS by the dash muxer:
 *   ours:   footanalytics transcode CLIP --out DIR --preset P --progress none
 *   anchor: ffmpeg -i CLIP -filter_complex split/scale ... -f dash -hls_playlist 1
 * with the anchor's encoder settings matched to ours (x264 CRF 23 capped
 * at the rung's maxrate with a buffer of twice that: 3000/1500/800 kbit/s,
 * 2 s GOPs with scene cuts off, the same preset, mono AAC at 64 kbit/s) so
 * the ratio measures the pipeline, not the settings.
 * Runs alternate anchor / ours / ours with the 5 fps detector feed (when
 * the command has --detect-fps), so the machine's noise is shared; the
 * figures are the medians of wall time and CPU time (user + system of the
 * child) and the ratio ours / anchor. --real also times the 4K HEVC clip
 * through our ladder once (1080/720/480).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_RUNS 15
#define PATH_BYTES 4096

typedef struct opts {
    int runs, seconds;
    const char *preset, *keep;
    int real;
} opts;

typedef struct timing {
    double wall, cpu;
    long max_rss_kb;
} timing;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv (stdout and stderr to /dev/null unless verbose); fills t. 0 when it exited 0. */
static int run(char *const *argv, timing *t) {
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) dup2(fileno(devnull), 1), dup2(fileno(devnull), 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) return -1;
    t->wall = now_s() - t0;
    t->cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
             (double)ru.ru_stime.tv_usec / 1e6;
    t->max_rss_kb = ru.ru_maxrss;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int rm_rf(const char *dir) {
    char *argv[] = {"rm", "-rf", (char *)dir, NULL};
    timing t;
    return run(argv, &t);
}

/* The benchmark clip (see the header), made once into path. */
static int make_clip(const char *src, const char *path, int seconds) {
    char dur[32], filter[512];
    snprintf(dur, sizeof dur, "%d", seconds);
    snprintf(filter, sizeof filter,
             "[0:v]scale=1280:720,split[f][r];[r]reverse[b];[f][b]concat=n=2:v=1:a=0,loop=loop=-1:size=500,"
             "trim=duration=%d,setpts=N/25/TB,noise=alls=6:allf=t,format=yuv420p[v]",
             seconds);
    char *argv[] = {"ffmpeg", "-v",  "error", "-y",   "-i",      (char *)src, "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=48000",      "-filter_complex", filter, "-map", "[v]",
                    "-map", "1:a",  "-t",   dur,      "-c:v",   "libx264", "-preset", "veryfast", "-crf", "16",
                    "-g",  "50",    "-c:a", "aac",    "-b:a",    "128k",   (char *)path, NULL};
    timing t;
    printf("making the %d s 720p25 clip from %s ...\n", seconds, src);
    fflush(stdout);
    return run(argv, &t);
}

/* The anchor: ffmpeg doing our job (the same ladder, rates, GOPs, segments). */
static int run_anchor(const char *clip, const char *out, const char *preset, timing *t) {
    char mpd[PATH_BYTES];
    snprintf(mpd, sizeof mpd, "%.4000s/manifest.mpd", out);
    mkdir(out, 0755);
    char *argv[] = {
        "ffmpeg", "-v", "error", "-y", "-i", (char *)clip, "-filter_complex",
        "[0:v]split=3[a][b][c];[a]scale=1280:720[v0];[b]scale=854:480[v1];[c]scale=640:360[v2]", "-map",
        "[v0]", "-map", "[v1]", "-map", "[v2]", "-map", "0:a", "-c:v", "libx264", "-preset", (char *)preset,
        "-crf", "23", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-maxrate:v:0", "3000k",
        "-bufsize:v:0", "6000k", "-maxrate:v:1", "1500k", "-bufsize:v:1", "3000k", "-maxrate:v:2", "800k",
        "-bufsize:v:2", "1600k", "-c:a", "aac", "-b:a", "64k", "-f", "dash", "-seg_duration", "4",
        "-use_template", "1", "-hls_playlist", "1", "-adaptation_sets", "id=0,streams=v id=1,streams=a", mpd,
        NULL};
    return run(argv, t);
}

static int run_ours(const char *bin, const char *clip, const char *out, const char *preset, int detect,
                    timing *t) {
    char *argv[16] = {(char *)bin, "transcode", (char *)clip, "--out", (char *)out, "--preset", (char *)preset,
                      "--progress", "none", "--force"};
    int n = 10;
    if (detect) argv[n++] = "--detect-fps", argv[n++] = "5";
    argv[n] = NULL;
    return run(argv, t);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){.runs = 3, .seconds = 60, .preset = "superfast"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--runs") && v) o->runs = atoi(v), i++;
        else if (!strcmp(a, "--seconds") && v) o->seconds = atoi(v), i++;
        else if (!strcmp(a, "--preset") && v) o->preset = v, i++;
        else if (!strcmp(a, "--keep") && v) o->keep = v, i++;
        else if (!strcmp(a, "--real")) o->real = 1;
        else {
            fprintf(stderr, "usage: bench_video [--runs N] [--seconds S] [--preset P] [--keep DIR] [--real]\n");
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
    const char *data = getenv("FA_DATA_DIR") ? getenv("FA_DATA_DIR") : "../shared/data";
    const char *bin = getenv("FA_BIN") ? getenv("FA_BIN") : "./build/footanalytics";
    char src[PATH_BYTES], work[PATH_BYTES / 2], clip[PATH_BYTES], out[PATH_BYTES];
    snprintf(src, sizeof src, "%s/video/soccertrack_left_camera.mp4", data);
    snprintf(work, sizeof work, "%s", o.keep ? o.keep : "/tmp/fa-bench-video");
    mkdir(work, 0755);
    snprintf(clip, sizeof clip, "%s/clip-%ds.mp4", work, o.seconds);
    struct stat st;
    if (stat(clip, &st) != 0 && make_clip(src, clip, o.seconds)) {
        fprintf(stderr, "bench_video: could not make the clip from %s (is ffmpeg installed?)\n", src);
        return 1;
    }
    int detect = has_detect_feed(bin);
    double aw[MAX_RUNS], ac[MAX_RUNS], ow[MAX_RUNS], oc[MAX_RUNS], dw[MAX_RUNS], dc[MAX_RUNS];
    long rss = 0;
    printf("clip: %s (%d s, 1280x720, 25 fps, AAC)\njob: 3-rung %s ladder 720/480/360 to DASH + HLS, 4 s "
           "segments\n",
           clip, o.seconds, o.preset);
    for (int r = 0; r < o.runs; r++) {
        timing ta, to, td = {0};
        snprintf(out, sizeof out, "%s/anchor", work);
        rm_rf(out);
        if (run_anchor(clip, out, o.preset, &ta)) return fprintf(stderr, "bench_video: ffmpeg failed\n"), 1;
        snprintf(out, sizeof out, "%s/ours", work);
        rm_rf(out);
        if (run_ours(bin, clip, out, o.preset, 0, &to))
            return fprintf(stderr, "bench_video: %s transcode failed\n", bin), 1;
        if (detect && run_ours(bin, clip, out, o.preset, 1, &td))
            return fprintf(stderr, "bench_video: %s transcode --detect-fps 5 failed\n", bin), 1;
        aw[r] = ta.wall, ac[r] = ta.cpu, ow[r] = to.wall, oc[r] = to.cpu, dw[r] = td.wall, dc[r] = td.cpu;
        rss = to.max_rss_kb > rss ? to.max_rss_kb : rss;
        printf("run %d: ffmpeg %.2f s (cpu %.2f)  ours %.2f s (cpu %.2f)", r + 1, ta.wall, ta.cpu, to.wall, to.cpu);
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
        printf("with the 5 fps detector feed: %.2f s -> ours/ffmpeg %.3f (bar <= 1.05), cpu %.2f s\n", d, d / a,
               median(dc, o.runs));
    } else {
        printf("detector feed: not measured (transcode has no --detect-fps)\n");
    }
    printf("our peak RSS: %.1f MiB\n", (double)rss / 1024.0);
    if (o.real) {
        timing t;
        snprintf(out, sizeof out, "%s/real", work);
        rm_rf(out);
        if (run_ours(bin, src, out, o.preset, 0, &t)) return fprintf(stderr, "bench_video: real clip failed\n"), 1;
        printf("real 4K HEVC clip (%s, 10 s): %.2f s wall, cpu %.2f s, peak RSS %.1f MiB\n", src, t.wall, t.cpu,
               (double)t.max_rss_kb / 1024.0);
    }
    return 0;
}
