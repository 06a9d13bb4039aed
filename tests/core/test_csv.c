/*
 * test_csv.c - the streaming CSV reader: quoting, line ends, BOM, empty
 * lines, delimiters, every error with its line and column, the row and field
 * limits, fa_csv_num, rows straddling the 64 KiB window of a file, and the
 * real Metrica event file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"

/* Reads doc and checks it gives exactly the rows in want ("|" between
 * fields, rows NULL-terminated) starting on the given lines. */
static void check_rows(const char *doc, size_t len, char delim, const char *const *want,
                       const unsigned long *lines) {
    fa_csv_reader *r = fa_csv_open_mem("t.csv", doc, len, delim);
    assert_non_null(r);
    const char *const *f;
    size_t n, row = 0;
    int rc;
    while ((rc = fa_csv_next(r, &f, &n)) == 1) {
        assert_non_null(want[row]);
        char joined[256] = "";
        for (size_t i = 0; i < n; i++) {
            if (i) strcat(joined, "|");
            strcat(joined, f[i]);
        }
        assert_string_equal(joined, want[row]);
        if (lines) assert_int_equal(fa_csv_line(r), lines[row]);
        row++;
    }
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_null(want[row]);
    assert_int_equal(fa_csv_next(r, &f, &n), 0); /* the end stays the end */
    assert_int_equal(n, 0);
    fa_csv_close(r);
}

static void test_basic(void **state) {
    (void)state;
    const char *doc = "a,b,c\n1,,3\n\"x,y\",\"say \"\"hi\"\"\",\"\"\n";
    const char *want[] = {"a|b|c", "1||3", "x,y|say \"hi\"|", NULL};
    const unsigned long lines[] = {1, 2, 3};
    check_rows(doc, strlen(doc), ',', want, lines);

    /* CRLF, a lone CR, no final newline, trailing delimiter */
    doc = "h1,h2\r\nv1,v2\rw1,\r\nlast,row";
    const char *want2[] = {"h1|h2", "v1|v2", "w1|", "last|row", NULL};
    const unsigned long lines2[] = {1, 2, 3, 4};
    check_rows(doc, strlen(doc), ',', want2, lines2);

    /* a quoted field spanning lines keeps the later line numbers right */
    doc = "id,text\n1,\"line one\nline two\r\nline three\"\n2,after\n";
    const char *want3[] = {"id|text", "1|line one\nline two\r\nline three", "2|after", NULL};
    const unsigned long lines3[] = {1, 2, 5};
    check_rows(doc, strlen(doc), ',', want3, lines3);

    /* BOM skipped, empty lines skipped, a line of one empty quoted field kept */
    doc = "\xEF\xBB\xBFTeam;Type\n\n\r\nHome;PASS\n\"\"\n\n";
    const char *want4[] = {"Team|Type", "Home|PASS", "", NULL};
    const unsigned long lines4[] = {1, 4, 5};
    check_rows(doc, strlen(doc), ';', want4, lines4);

    /* tab delimiter, commas are data; UTF-8 passes through */
    doc = "Andr\xC3\xA9s\t1,5\n";
    const char *want5[] = {"Andr\xC3\xA9s|1,5", NULL};
    check_rows(doc, strlen(doc), '\t', want5, NULL);

    const char *none[] = {NULL};
    check_rows("", 0, ',', none, NULL);
    check_rows("\n\n\r\n", 4, ',', none, NULL);
    check_rows("\xEF\xBB\xBF", 3, ',', none, NULL);
}

/* The first error reading doc (rows before it are fine). */
static void check_error(const char *doc, size_t len, int code, const char *msg) {
    fa_csv_reader *r = fa_csv_open_mem("t.csv", doc, len, ',');
    const char *const *f;
    size_t n;
    int rc;
    while ((rc = fa_csv_next(r, &f, &n)) == 1) {
    }
    if (rc != code || strcmp(fa_err_msg(), msg) != 0) print_message("got %d %s\n", rc, fa_err_msg());
    assert_int_equal(rc, code);
    assert_string_equal(fa_err_msg(), msg);
    /* errors are sticky */
    fa_err_clear();
    assert_int_equal(fa_csv_next(r, &f, &n), code);
    assert_string_equal(fa_err_msg(), msg);
    assert_null(f);
    fa_csv_close(r);
}

static void test_errors(void **state) {
    (void)state;
#define ERR(doc, code, msg) check_error(doc, sizeof(doc) - 1, code, msg)
    ERR("a,b\n1,\"open\n2,3\n", FA_EINVAL, "t.csv:2: column 2: unterminated quoted field");
    ERR("a,b\n1,x\"y\n", FA_EINVAL,
        "t.csv:2: column 2: '\"' inside an unquoted field (quote the whole field)");
    ERR("a,b\n\"q\"x,2\n", FA_EINVAL, "t.csv:2: column 1: unexpected 'x' after the closing quote");
    ERR("a,b\n\"q\" ,2\n", FA_EINVAL, "t.csv:2: column 1: unexpected byte 0x20 after the closing quote");
    ERR("a,b,c\n1,2,\xC3\x28\n", FA_EINVAL, "t.csv:2: column 3: invalid UTF-8 at byte 1 of the field");
    ERR("a,b\nok,ab\xED\xA0\x80\n", FA_EINVAL, "t.csv:2: column 2: invalid UTF-8 at byte 3 of the field");
    ERR("a,b\n\"x\ny\",b\xC0\xAF\n", FA_EINVAL, "t.csv:2: column 2: invalid UTF-8 at byte 2 of the field");
    ERR("a,b\nx\0y,2\n", FA_EINVAL, "t.csv:2: column 1: NUL byte in field");
#undef ERR
}

static void test_limits(void **state) {
    (void)state;
    /* a row of exactly FA_CSV_MAX_ROW bytes of fields is fine, one more is not */
    size_t len = FA_CSV_MAX_ROW;
    char *doc = malloc(len + 16);
    memset(doc, 'x', len + 16);
    doc[len - 1] = '\n'; /* FA_CSV_MAX_ROW - 1 bytes of field + its NUL */
    fa_csv_reader *r = fa_csv_open_mem("big.csv", doc, len, ',');
    const char *const *f;
    size_t n;
    assert_int_equal(fa_csv_next(r, &f, &n), 1);
    assert_int_equal(strlen(f[0]), len - 1);
    fa_csv_close(r);
    doc[len - 1] = 'x';
    doc[len] = '\n';
    r = fa_csv_open_mem("big.csv", doc, len + 1, ',');
    assert_int_equal(fa_csv_next(r, &f, &n), FA_ELIMIT);
    assert_string_equal(fa_err_msg(), "big.csv:1: row longer than 1048576 bytes");
    fa_csv_close(r);
    free(doc);

    /* FA_CSV_MAX_FIELDS fields are fine, one more is not */
    doc = malloc(2 * FA_CSV_MAX_FIELDS + 2);
    for (int i = 0; i < FA_CSV_MAX_FIELDS; i++) memcpy(doc + 2 * i, "1,", 2);
    doc[2 * FA_CSV_MAX_FIELDS - 1] = '\n';
    r = fa_csv_open_mem("wide.csv", doc, 2 * FA_CSV_MAX_FIELDS, ',');
    assert_int_equal(fa_csv_next(r, &f, &n), 1);
    assert_int_equal(n, FA_CSV_MAX_FIELDS);
    fa_csv_close(r);
    memcpy(doc + 2 * FA_CSV_MAX_FIELDS - 1, ",1\n", 3);
    r = fa_csv_open_mem("wide.csv", doc, 2 * FA_CSV_MAX_FIELDS + 2, ',');
    assert_int_equal(fa_csv_next(r, &f, &n), FA_ELIMIT);
    assert_string_equal(fa_err_msg(), "wide.csv:1: more than 4096 fields in a row");
    fa_csv_close(r);
    free(doc);
}

static void test_num(void **state) {
    (void)state;
    const char *doc = "h\n,NaN,nan,0.45,-1e3,abc,1.5x, 1,inf,0x10,1e999,\"2\"\n";
    fa_csv_reader *r = fa_csv_open_mem("Sample.csv", doc, strlen(doc), ',');
    const char *const *f;
    size_t n;
    double d;
    assert_int_equal(fa_csv_next(r, &f, &n), 1);
    assert_int_equal(fa_csv_next(r, &f, &n), 1);
    assert_int_equal(n, 12);
    for (size_t i = 0; i < 3; i++) {
        d = 0;
        assert_int_equal(fa_csv_num(r, f, n, i, &d), 0);
        assert_true(isnan(d));
    }
    assert_int_equal(fa_csv_num(r, f, n, 3, &d), 0);
    assert_true(d == 0.45);
    assert_int_equal(fa_csv_num(r, f, n, 4, &d), 0);
    assert_true(d == -1000);
    assert_int_equal(fa_csv_num(r, f, n, 11, &d), 0); /* quotes are syntax, not data */
    assert_true(d == 2);
    static const char *const bad[] = {"abc", "1.5x", " 1", "inf", "0x10", "1e999"};
    for (size_t i = 0; i < 6; i++) {
        char want[128];
        snprintf(want, sizeof want, "Sample.csv:2: column %zu: expected a number, got \"%s\"", i + 6, bad[i]);
        assert_int_equal(fa_csv_num(r, f, n, i + 5, &d), FA_EINVAL);
        assert_true(isnan(d));
        assert_string_equal(fa_err_msg(), want);
    }
    assert_int_equal(fa_csv_num(r, f, n, 12, &d), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "Sample.csv:2: column 13: missing (the row has 12 fields)");
    assert_int_equal(fa_csv_error(r, 5, "bad %s", "value"), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "Sample.csv:2: column 5: bad value");
    assert_int_equal(fa_csv_error(r, 0, "whole row"), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "Sample.csv:2: whole row");
    assert_string_equal(fa_csv_name(r), "Sample.csv");
    fa_csv_close(r);
}

/* A file read through the 64 KiB window gives the same rows and lines as
 * the same bytes read from memory. */
static void test_window_boundaries(void **state) {
    (void)state;
    fa_buf doc = {0};
    fa_buf_puts(&doc, "\xEF\xBB\xBFid,text,value\r\n");
    for (unsigned i = 0; i < 20000; i++) {
        fa_buf_printf(&doc, "%u,", i);
        if (i % 3 == 0) fa_buf_printf(&doc, "\"q\"\"%u\n,\xC3\xA9%0*u\",", i, (int)(i % 40), i);
        else fa_buf_printf(&doc, "plain%0*u,", (int)(i % 23), i);
        fa_buf_printf(&doc, "%u.%u%s", i, i % 10, i % 5 ? "\n" : "\r\n");
        if (i % 11 == 0) fa_buf_puts(&doc, "\n");
    }
    assert_true(doc.len > 10 * 65536);
    char *dir = fa_test_tmpdir();
    char *path = fa_test_write_file(dir, "w.csv", doc.data, doc.len);
    fa_csv_reader *rf = fa_csv_open_file(path, ','), *rm = fa_csv_open_mem("w.csv", doc.data, doc.len, ',');
    assert_non_null(rf);
    const char *const *ff, *const *fm;
    size_t nf, nm, rows = 0;
    int rc;
    while ((rc = fa_csv_next(rm, &fm, &nm)) == 1) {
        assert_int_equal(fa_csv_next(rf, &ff, &nf), 1);
        assert_int_equal(nf, nm);
        assert_int_equal(nm, 3);
        for (size_t i = 0; i < nm; i++) assert_string_equal(ff[i], fm[i]);
        assert_int_equal(fa_csv_line(rf), fa_csv_line(rm));
        rows++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(fa_csv_next(rf, &ff, &nf), 0);
    assert_int_equal(rows, 20001);
    /* the last row (one line) starts on the line counted by hand */
    unsigned long lines = 1;
    for (size_t i = 0; i + 1 < doc.len; i++) lines += doc.data[i] == '\n';
    assert_int_equal(fa_csv_line(rf), lines);
    fa_csv_close(rf);
    fa_csv_close(rm);
    free(path);
    fa_test_rmtree(dir);
    free(dir);
    fa_buf_free(&doc);

    assert_null(fa_csv_open_file("/nonexistent/none.csv", ','));
    assert_non_null(strstr(fa_err_msg(), "none.csv"));
    fa_csv_close(NULL);
}

/* The real Metrica event file: a header and 1745 rows of 14 fields. */
static void test_metrica_events(void **state) {
    (void)state;
    const char *path = fa_test_data("events/metrica/Sample_Game_1_RawEventsData.csv");
    FA_TEST_REQUIRE_DATA(path);
    fa_csv_reader *r = fa_csv_open_file(path, ',');
    assert_non_null(r);
    assert_string_equal(fa_csv_name(r), "Sample_Game_1_RawEventsData.csv");
    const char *const *f;
    size_t n, rows = 0, passes = 0, shots = 0, nan_x = 0;
    double time_sum = 0, d;
    assert_int_equal(fa_csv_next(r, &f, &n), 1);
    assert_int_equal(n, 14);
    assert_string_equal(f[0], "Team");
    assert_string_equal(f[5], "Start Time [s]");
    assert_string_equal(f[13], "End Y");
    int rc;
    while ((rc = fa_csv_next(r, &f, &n)) == 1) {
        rows++;
        assert_int_equal(n, 14);
        assert_int_equal(fa_csv_line(r), rows + 1);
        assert_int_equal(fa_csv_num(r, f, n, 5, &d), 0);
        time_sum += d;
        assert_int_equal(fa_csv_num(r, f, n, 10, &d), 0);
        nan_x += isnan(d);
        passes += strcmp(f[1], "PASS") == 0;
        shots += strcmp(f[1], "SHOT") == 0;
        if (rows == 1) {
            assert_string_equal(f[2], "KICK OFF");
            assert_string_equal(f[8], "Player19");
            assert_string_equal(f[9], "");
        }
        if (rows == 16) { /* line 17: a field that is text, read as a number */
            assert_int_equal(fa_csv_num(r, f, n, 0, &d), FA_EINVAL);
            char want[160];
            snprintf(want, sizeof want,
                     "Sample_Game_1_RawEventsData.csv:17: column 1: expected a number, got \"%s\"", f[0]);
            assert_string_equal(fa_err_msg(), want);
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(rows, 1745);
    assert_int_equal(passes, 799);
    assert_int_equal(shots, 24);
    assert_true(fabs(time_sum - 4921136.08) < 1e-6);
    assert_int_equal(nan_x, 81);
    fa_csv_close(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),  cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits), cmocka_unit_test(test_num),
        cmocka_unit_test(test_window_boundaries), cmocka_unit_test(test_metrica_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
