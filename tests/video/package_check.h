/*
 * package_check.h - test-side validation of a transcode's output with the
 * ffprobe binary: per stream picture size, keyframe timestamps, first and
 * last timestamps; per package the files the MPD and the HLS playlists name
 * and the segment counts; and the inputs' side: the test's scratch
 * directory and test clips generated there by the ffmpeg command line.
 * Header-only (static functions) because it is shared by the video tests
 * (test_probe, test_transcode, test_chunks) and tests/e2e/test_transcode.c,
 * each a single-file test program.
 */
#ifndef FA_TEST_PACKAGE_CHECK_H
#define FA_TEST_PACKAGE_CHECK_H

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PC_MAX_KEYS 256

/* The test program's scratch directory (made by its group setup). */
static char *pc_tmp;

/* pc_tmp/name (eight calls' results stay valid at once). */
static inline const char *pc_in_tmp(const char *name) {
    static char buf[8][1024];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", pc_tmp, name);
    return b;
}

/* Generates a test input: `ffmpeg ARGS pc_tmp/out`, which must succeed. */
static inline void pc_ffmpeg(const char *args, const char *out) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "SVT_LOG=1 ffmpeg -nostdin -v error -y %s '%s'", args, pc_in_tmp(out));
    if (system(cmd) != 0) {
        fprintf(stderr, "test input failed: %s\n", cmd);
        abort();
    }
}

typedef struct pc_stream {
    int width, height;
    int nkeys;
    double keys[PC_MAX_KEYS]; /* keyframe pts, sorted */
    double first, end;        /* first pts, last pts + its duration */
    int packets;
} pc_stream;

/* Runs cmd; its stdout as a malloc'd string (never NULL). */
static inline char *pc_run(const char *cmd) {
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!p) return buf[0] = '\0', buf;
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0)
        if ((n += r) + 1 == cap) buf = realloc(buf, cap *= 2);
    buf[n] = '\0';
    pclose(p);
    return buf;
}

static inline int pc_exists(const char *dir, const char *name) {
    char p[2048];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static inline int pc_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Joins dir's init-stream<i>.m4s and its chunks into out (a playable fMP4)
 * and probes it. Returns 0 or -1. */
static inline int pc_probe_stream(const char *dir, int i, const char *out, pc_stream *s) {
    char cmd[4096];
    memset(s, 0, sizeof *s);
    snprintf(cmd, sizeof cmd, "cat '%s/init-stream%d.m4s' '%s'/chunk-stream%d-*.m4s > '%s' && echo ok", dir,
             i, dir, i, out);
    char *r = pc_run(cmd);
    int ok = strncmp(r, "ok", 2) == 0;
    free(r);
    if (!ok) return -1;
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams 0 -show_entries stream=width,height -of csv=p=0 '%s'", out);
    r = pc_run(cmd);
    sscanf(r, "%d,%d", &s->width, &s->height);
    free(r);
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -show_entries packet=pts_time,duration_time,flags -of csv=p=0 '%s'", out);
    r = pc_run(cmd);
    s->first = 1e9;
    double last = -1e9, step = 1e9, prev = -1e9;
    for (char *line = strtok(r, "\n"); line; line = strtok(NULL, "\n")) {
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (!c2) continue;
        double pts = strtod(line, NULL), dur = strncmp(c1 + 1, "N/A", 3) ? strtod(c1 + 1, NULL) : 0;
        s->packets++;
        if (pts < s->first) s->first = pts;
        if (pts + dur > s->end) s->end = pts + dur;
        if (pts > last) last = pts;
        if (pts > prev && pts - prev < step)
            step = pts - prev; /* frame interval (packets without durations) */
        prev = pts;
        if (c2[1] == 'K' && s->nkeys < PC_MAX_KEYS) s->keys[s->nkeys++] = pts;
    }
    if (s->end < last + (step < 1e9 ? step : 0)) s->end = last + (step < 1e9 ? step : 0);
    free(r);
    qsort(s->keys, (size_t)s->nkeys, sizeof *s->keys, pc_cmp_double);
    return s->packets > 0 ? 0 : -1;
}

/* Number of files in dir named chunk-stream<i>-*.m4s. */
static inline int pc_count_chunks(const char *dir, int i) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "chunk-stream%d-", i);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    if (d) closedir(d);
    return n;
}

/* Every URI of an HLS playlist (lines and URI="..." attributes) names an
 * existing file of dir; returns the number of URIs, -1 if one is missing. */
static inline int pc_check_playlist(const char *dir, const char *name) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *text = fa_test_read_file(p, NULL);
    if (!text) return -1;
    int n = 0, bad = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char uri[512];
        const char *u = strstr(line, "URI=\"");
        if (line[0] != '#' && line[0])
            snprintf(uri, sizeof uri, "%s", line);
        else if (u && sscanf(u + 5, "%511[^\"]", uri) == 1)
            (void)0;
        else
            continue;
        n++;
        if (!pc_exists(dir, uri)) bad = 1, fprintf(stderr, "%s names missing %s\n", name, uri);
    }
    free(text);
    return bad ? -1 : n;
}

/* Segments the MPD lists for all representations: the sum of 1 + r over
 * its <S> elements. */
static inline int pc_mpd_segments(const char *dir) {
    char p[2048];
    snprintf(p, sizeof p, "%s/manifest.mpd", dir);
    char *text = fa_test_read_file(p, NULL);
    if (!text) return -1;
    int n = 0;
    for (const char *s = strstr(text, "<S "); s; s = strstr(s + 1, "<S ")) {
        const char *end = strchr(s, '>'), *r = strstr(s, " r=\"");
        n += 1 + (r && r < end ? atoi(r + 4) : 0);
    }
    free(text);
    return n;
}

#endif
