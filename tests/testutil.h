/*
 * testutil.h - helpers shared by the cmocka test programs.
 */
#ifndef FA_TESTUTIL_H
#define FA_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Absolute path of a file under the shared data directory ($FA_DATA_DIR,
 * set by ctest to ../shared/data). Returns a static buffer per call slot. */
const char *fa_test_data(const char *rel);
/* Skips the current test with a visible message when the data file is absent. */
#define FA_TEST_REQUIRE_DATA(path)                                        \
    do {                                                                  \
        if (!fa_test_file_exists(path)) {                                 \
            print_message("SKIP: data file %s not found\n", (path));      \
            skip();                                                       \
        }                                                                 \
    } while (0)
int fa_test_file_exists(const char *path);

/* A fresh temporary directory (removed by fa_test_rmtree). */
char *fa_test_tmpdir(void);
void fa_test_rmtree(const char *dir);
/* Writes data to dir/name; returns the malloc'd path. */
char *fa_test_write_file(const char *dir, const char *name, const void *data, size_t len);
/* Reads a whole file (malloc'd, NUL-terminated); NULL when missing. */
char *fa_test_read_file(const char *path, size_t *len);

/* Runs the footanalytics binary ($FA_BIN) with args (a shell-quoted string),
 * capturing stdout and stderr into malloc'd strings (may pass NULL).
 * Returns the exit status, or -1 when it died from a signal. */
int fa_test_run_cli(const char *args, char **out, char **err);

#endif
