/*
 * bench_job.h - what the benchmarks of whole jobs share (bench_video,
 * bench_analyze): running a command as a child and taking its wall time,
 * CPU time and peak memory; the 720p benchmark clip; the anchor (the ffmpeg
 * command line doing the 3-rung ladder to DASH + HLS); medians.
 *
 * The clip: S seconds (60) of 1280x720 at 25 fps with realistic content -
 * the real SoccerTrack match clip (../shared/data/video, 4K HEVC, 10 s)
 * scaled to 720p, played forwards then backwards so motion never jumps,
 * looped to S seconds, with temporal film grain (noise=alls=6:allf=t)
 * so the encoder cannot coast on static areas, and a 440 Hz tone as
 * audio. It is generated once by ffmpeg (not timed).
 *
 * The anchor's encoder settings match ours (x264 CRF 23 capped at the
 * rung's maxrate with a buffer of twice that: 3000/1500/800 kbit/s, 2 s
 * GOPs with scene cuts off, the same preset, mono AAC at 64 kbit/s), so a
 * ratio measures the pipeline, not the settings.
 */
#ifndef FA_BENCH_JOB_H
#define FA_BENCH_JOB_H

#include <fcntl.h>
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

#define PATH_BYTES 4096

typedef struct timing {
    double wall, cpu;
    long max_rss_kb;
} timing;

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv with stdout to out_path (NULL: /dev/null) and stderr to
 * /dev/null; fills t. 0 when it exited 0. */
static inline int run_to(char *const *argv, const char *out_path, timing *t) {
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        int out = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : devnull;
        if (out >= 0) dup2(out, 1);
        if (devnull >= 0) dup2(devnull, 2);
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

/* run_to with stdout to /dev/null. */
static inline int run(char *const *argv, timing *t) { return run_to(argv, NULL, t); }

static inline int rm_rf(const char *dir) {
    char *argv[] = {"rm", "-rf", (char *)dir, NULL};
    timing t;
    return run(argv, &t);
}

/* The benchmark clip (see the header), made into path. */
static inline int make_clip(const char *src, const char *path, int seconds) {
    char dur[32], filter[512];
    snprintf(dur, sizeof dur, "%d", seconds);
    snprintf(filter, sizeof filter,
             "[0:v]scale=1280:720,split[f][r];[r]reverse[b];[f][b]concat=n=2:v=1:a=0,loop=loop=-1:size=500,"
             "trim=duration=%d,setpts=N/25/TB,noise=alls=6:allf=t,format=yuv420p[v]",
             seconds);
    char *argv[] = {"ffmpeg",
                    "-v",
                    "error",
                    "-y",
                    "-i",
                    (char *)src,
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=440:sample_rate=48000",
                    "-filter_complex",
                    filter,
                    "-map",
                    "[v]",
                    "-map",
                    "1:a",
                    "-t",
                    dur,
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-crf",
                    "16",
                    "-g",
                    "50",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "128k",
                    (char *)path,
                    NULL};
    timing t;
    printf("making the %d s 720p25 clip from %s ...\n", seconds, src);
    fflush(stdout);
    return run(argv, &t);
}

/* The clip of `seconds` s in directory work (created), made from src when
 * it is not there yet; its path into clip[cap]. 0, or -1 with a message. */
static inline int bench_clip(const char *src, const char *work, int seconds, char *clip, size_t cap) {
    mkdir(work, 0755);
    snprintf(clip, cap, "%s/clip-%ds.mp4", work, seconds);
    struct stat st;
    if (stat(clip, &st) == 0 || make_clip(src, clip, seconds) == 0) return 0;
    fprintf(stderr, "could not make the clip %s from %s (is ffmpeg installed?)\n", clip, src);
    return -1;
}

/* Where a job benchmark's inputs are: the data directory ($FA_DATA_DIR or
 * ../shared/data), our binary ($FA_BIN or ./build/footanalytics), the 4K
 * source clip, the work directory (keep, or /tmp/fa-bench-video) and the
 * benchmark clip made there (bench_clip). */
typedef struct bench_paths {
    const char *data, *bin;
    char src[PATH_BYTES], work[PATH_BYTES / 2], clip[PATH_BYTES];
} bench_paths;

/* Fills p and makes the clip of `seconds` s when missing. 0, or -1 with a message. */
static inline int bench_paths_init(bench_paths *p, const char *keep, int seconds) {
    p->data = getenv("FA_DATA_DIR") ? getenv("FA_DATA_DIR") : "../shared/data";
    p->bin = getenv("FA_BIN") ? getenv("FA_BIN") : "./build/footanalytics";
    snprintf(p->src, sizeof p->src, "%.4000s/video/soccertrack_left_camera.mp4", p->data);
    snprintf(p->work, sizeof p->work, "%s", keep ? keep : "/tmp/fa-bench-video");
    return bench_clip(p->src, p->work, seconds, p->clip, sizeof p->clip);
}

/* The anchor: ffmpeg doing our job (the same ladder, rates, GOPs, segments). */
static inline int run_anchor(const char *clip, const char *out, const char *preset, timing *t) {
    char mpd[PATH_BYTES];
    snprintf(mpd, sizeof mpd, "%.4000s/manifest.mpd", out);
    mkdir(out, 0755);
    char *argv[] = {"ffmpeg",
                    "-v",
                    "error",
                    "-y",
                    "-i",
                    (char *)clip,
                    "-filter_complex",
                    "[0:v]split=3[a][b][c];[a]scale=1280:720[v0];[b]scale=854:480[v1];[c]scale=640:360[v2]",
                    "-map",
                    "[v0]",
                    "-map",
                    "[v1]",
                    "-map",
                    "[v2]",
                    "-map",
                    "0:a",
                    "-c:v",
                    "libx264",
                    "-preset",
                    (char *)preset,
                    "-crf",
                    "23",
                    "-g",
                    "50",
                    "-keyint_min",
                    "50",
                    "-sc_threshold",
                    "0",
                    "-maxrate:v:0",
                    "3000k",
                    "-bufsize:v:0",
                    "6000k",
                    "-maxrate:v:1",
                    "1500k",
                    "-bufsize:v:1",
                    "3000k",
                    "-maxrate:v:2",
                    "800k",
                    "-bufsize:v:2",
                    "1600k",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "64k",
                    "-f",
                    "dash",
                    "-seg_duration",
                    "4",
                    "-use_template",
                    "1",
                    "-hls_playlist",
                    "1",
                    "-adaptation_sets",
                    "id=0,streams=v id=1,streams=a",
                    mpd,
                    NULL};
    return run(argv, t);
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
