/*
 * bench_stream_memory.c - do the parsers really stream?
 *
 * Builds inputs 1x, 4x and 16x the size of a real provider file (the
 * StatsBomb events array and the Metrica events CSV, their records repeated)
 * in a temporary directory, parses each in a fresh child process into a sink
 * that drops the records, and reports the child's peak RSS. Constant memory
 * means the peak stays flat while the input grows 16x; the anchor printed
 * beside it is the input size itself (what a parser that loads the whole file
 * would need at the very least).
 *
 * usage: bench_stream_memory [--data DIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "ingest/ingest.h"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* StatsBomb events array "[ x1, x2, e3, ... ]" -> the two Starting XI
 * events once, then e3... repeated k times (a second Starting XI is rightly
 * rejected by the parser). The sample files are pretty-printed with one
 * top-level element per "}, {" line, which is all this relies on. */
static int write_json_repeated(const char *src, size_t len, int k, const char *out) {
    const char *open = memchr(src, '[', len), *close = src + len;
    while (close > src && close[-1] != ']') close--;
    const char *third = open ? strstr(open, "\n}, {") : NULL;
    if (third) third = strstr(third + 1, "\n}, {");
    if (!open || !third || close <= third) return -1;
    third += 4; /* at the '{' of the third element */
    FILE *f = fopen(out, "wb");
    if (!f) return -1;
    fwrite(open, 1, (size_t)(third - open), f);
    for (int i = 0; i < k; i++) {
        if (i) fputs(", ", f);
        fwrite(third, 1, (size_t)(close - 1 - third), f);
    }
    fputs("]\n", f);
    fclose(f);
    return 0;
}

/* Metrica events CSV: header once, body k times with frames and times
 * shifted by a whole match per copy (the parser rightly rejects frames that
 * go back) and every copy after the first labelled period 2. The Metrica
 * sample has no quoted fields, so commas split cells. */
static void write_shifted_row(FILE *f, const char *row, size_t n, int copy, long frame_shift, double time_shift) {
    char cell[256];
    size_t col = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && row[i] != ',') continue;
        size_t len = i - start < sizeof cell - 1 ? i - start : sizeof cell - 1;
        memcpy(cell, row + start, len);
        cell[len] = '\0';
        if (col) fputc(',', f);
        if (copy && col == 3) fputs("2", f);
        else if (copy && (col == 4 || col == 6) && len) fprintf(f, "%ld", atol(cell) + copy * frame_shift);
        else if (copy && (col == 5 || col == 7) && len) fprintf(f, "%.2f", atof(cell) + copy * time_shift);
        else fputs(cell, f);
        col++;
        start = i + 1;
    }
    fputc('\n', f);
}

static int write_csv_repeated(const char *src, size_t len, int k, const char *out) {
    const char *nl = memchr(src, '\n', len);
    if (!nl) return -1;
    FILE *f = fopen(out, "wb");
    if (!f) return -1;
    fwrite(src, 1, (size_t)(nl + 1 - src), f);
    for (int i = 0; i < k; i++) {
        for (const char *row = nl + 1; row < src + len;) {
            const char *end = memchr(row, '\n', (size_t)(src + len - row));
            size_t n = end ? (size_t)(end - row) : (size_t)(src + len - row);
            if (n && row[n - 1] == '\r') n--;
            if (n) write_shifted_row(f, row, n, i, 200000, 8000.0);
            row += n + 1 + (end && row[n] == '\r');
        }
    }
    fclose(f);
    return 0;
}

/* Parses path in a child; returns the child's peak RSS in KiB, -1 on failure. */
static long child_peak_kib(const char *path, int csv) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        fa_sink drop = {0};
        int rc = csv ? fa_metrica_events_csv_import(path, &drop) : fa_statsbomb_import(path, NULL, &drop);
        if (rc) fprintf(stderr, "parse failed: %s\n", fa_err_msg());
        _exit(rc ? 1 : 0);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    return ru.ru_maxrss;
}

static int run(const char *label, const char *src_path, int csv, const char *dir) {
    size_t len;
    char *src = read_all(src_path, &len);
    if (!src) return fprintf(stderr, "cannot read %s\n", src_path), -1;
    printf("%s (%s)\n", label, fa_path_base(src_path));
    const int factors[] = {1, 4, 16};
    long base = 0;
    for (int i = 0; i < 3; i++) {
        char out[4200];
        snprintf(out, sizeof out, "%s/input_%d.%s", dir, factors[i], csv ? "csv" : "json");
        int rc = csv ? write_csv_repeated(src, len, factors[i], out) : write_json_repeated(src, len, factors[i], out);
        if (rc) return free(src), -1;
        FILE *f = fopen(out, "rb");
        fseek(f, 0, SEEK_END);
        double mb = (double)ftell(f) / (1024.0 * 1024.0);
        fclose(f);
        long kib = child_peak_kib(out, csv);
        if (kib < 0) return free(src), -1;
        if (!base) base = kib;
        printf("  %2dx input %7.1f MiB   peak RSS %6.1f MiB   (x%.2f of the 1x peak; input/peak = %.1f)\n", factors[i],
               mb, (double)kib / 1024.0, (double)kib / (double)base, mb / ((double)kib / 1024.0));
        unlink(out);
    }
    free(src);
    return 0;
}

int main(int argc, char **argv) {
    const char *data = getenv("FA_DATA_DIR");
    if (!data) data = "../shared/data";
    if (argc == 3 && !strcmp(argv[1], "--data")) data = argv[2];
    else if (argc != 1) return fprintf(stderr, "usage: bench_stream_memory [--data DIR]\n"), 1;
    char dir[] = "/tmp/fa-bench-mem-XXXXXX";
    if (!mkdtemp(dir)) return perror("mkdtemp"), 3;
    char sb[4096], mc[4096];
    snprintf(sb, sizeof sb, "%s/events/statsbomb/15986_event.json", data);
    snprintf(mc, sizeof mc, "%s/events/metrica/Sample_Game_2_RawEventsData.csv", data);
    printf("bench_stream_memory: peak RSS of a parse-only child process as the input grows\n");
    int rc = run("StatsBomb events JSON", sb, 0, dir) || run("Metrica events CSV", mc, 1, dir);
    rmdir(dir);
    return rc ? 3 : 0;
}
