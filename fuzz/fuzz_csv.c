/*
 * fuzz_csv.c - libFuzzer target for the streaming CSV reader.
 *
 * The first byte is the delimiter (so ',', ';', '\t' and odd ones such as
 * '"' or '\n' are all tried). The rest is read row by row twice, from memory
 * and from an in-memory file (configure with -DFA_SOURCE_BUF=16 in CFLAGS so
 * that rows cross the file window), every field touched and converted with
 * fa_csv_num.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "fuzz_util.h"

static void read_rows(fa_csv_reader *r) {
    if (!r) return;
    const char *const *f;
    size_t n;
    volatile size_t sink = 0;
    double d;
    while (fa_csv_next(r, &f, &n) == 1) {
        sink += fa_csv_line(r);
        for (size_t i = 0; i < n; i++) {
            sink += strlen(f[i]);
            fa_csv_num(r, f, n, i, &d);
        }
        fa_csv_num(r, f, n, n, &d); /* one past the end: an error, not a crash */
    }
    (void)sink;
    fa_csv_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    char delim = (char)data[0];
    read_rows(fa_csv_open_mem("fuzz.csv", (const char *)data + 1, size - 1, delim));
    const char *path = fuzz_memfile(0, data + 1, size - 1);
    if (path) read_rows(fa_csv_open_file(path, delim));
    return 0;
}
