/*
 * csv.c - the streaming RFC 4180 CSV reader.
 *
 * Why it is built this way: tracking and event CSVs run to hundreds of
 * thousands of rows, so rows are read one at a time over the byte window of
 * source.h and memory is bounded by the longest row (FA_CSV_MAX_ROW). The
 * fields of a row are decoded into one reusable buffer, each followed by a
 * NUL, and handed out as an array of pointers into it: no allocation per
 * field or per row once the buffers have grown to the widest row.
 *
 * Rules: a field is quoted when it starts with '"'; inside quotes "" is a
 * quote and delimiters and line breaks are data. A quote inside an unquoted
 * field, or anything but a delimiter / line end after a closing quote, is an
 * error. Rows end with LF, CRLF or a lone CR. A UTF-8 byte order mark at the
 * start is skipped. Lines that are completely empty are skipped (a trailing
 * blank line is not a row). Each field must be valid UTF-8 with no NUL byte.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"

struct fa_csv_reader {
    fa_source *src;
    char delim;
    fa_buf row;             /* decoded fields, each NUL-terminated */
    size_t *starts;         /* offset of each field in row */
    const char **fields;    /* pointers handed out */
    size_t nfields, cap;    /* fields in the current row, capacity of the arrays */
    unsigned long row_line; /* line where the current row started */
    int started;            /* the byte order mark has been looked for */
    int failed;             /* sticky error code */
    char failmsg[512];
};

static fa_csv_reader *reader_new(fa_source *src, char delimiter) {
    if (!src) return NULL;
    fa_csv_reader *r = fa_calloc(1, sizeof *r);
    if (!r || fa_buf_reserve(&r->row, 1024)) {
        free(r);
        fa_source_free(src);
        return NULL;
    }
    r->src = src;
    r->delim = delimiter;
    return r;
}

fa_csv_reader *fa_csv_open_file(const char *path, char delimiter) {
    return reader_new(fa_source_open_file(path), delimiter);
}

fa_csv_reader *fa_csv_open_mem(const char *name, const char *data, size_t len, char delimiter) {
    return reader_new(fa_source_open_mem(name, data, len), delimiter);
}

void fa_csv_close(fa_csv_reader *r) {
    if (!r) return;
    fa_source_free(r->src);
    fa_buf_free(&r->row);
    free(r->starts);
    free((void *)r->fields);
    free(r);
}

const char *fa_csv_name(const fa_csv_reader *r) { return r->src->name; }

unsigned long fa_csv_line(const fa_csv_reader *r) { return r->row_line; }

/* "name:line: column N: message" (no column part when column is 0). */
static int vformat_error(const fa_csv_reader *r, int code, size_t column, const char *fmt, va_list ap) {
    char msg[400], col[40] = "";
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (column) snprintf(col, sizeof col, " column %zu:", column);
    return fa_err_set(code, "%s:%lu:%s %s", r->src->name, r->row_line, col, msg);
}

int fa_csv_error(const fa_csv_reader *r, size_t column, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vformat_error(r, FA_EINVAL, column, fmt, ap);
    va_end(ap);
    return rc;
}

/* Fails the reader (sticky) with a message about the current row. */
FA_PRINTF(4, 5)
static int fail(fa_csv_reader *r, int code, size_t column, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vformat_error(r, code, column, fmt, ap);
    va_end(ap);
    snprintf(r->failmsg, sizeof r->failmsg, "%s", fa_err_msg());
    r->failed = code;
    return code;
}

static int fail_io(fa_csv_reader *r) {
    snprintf(r->failmsg, sizeof r->failmsg, "%s", fa_err_msg());
    r->failed = r->src->err ? r->src->err : FA_EIO;
    return r->failed;
}

/* ---------------------------------------------------------------- bytes */

enum { C_EOF = -1, C_ERR = -2 };

static int peek_byte(fa_source *s) {
    if (s->p < s->end) return (unsigned char)*s->p;
    int rc = fa_src_fill(s);
    if (rc < 0) return C_ERR;
    return rc == 0 ? C_EOF : (unsigned char)*s->p;
}

/* Consumes the line end at s->p ('\n', '\r' or "\r\n"). */
static int eat_line_end(fa_source *s) {
    int c = (unsigned char)*s->p++;
    if (c == '\r') {
        int next = peek_byte(s);
        if (next == C_ERR) return C_ERR;
        if (next == '\n') s->p++;
    }
    fa_src_newline(s, s->p);
    return 0;
}

static int row_append(fa_csv_reader *r, const char *p, size_t n) {
    if (r->row.len + n > FA_CSV_MAX_ROW)
        return fail(r, FA_ELIMIT, 0, "row longer than %u bytes", FA_CSV_MAX_ROW);
    if (fa_buf_append(&r->row, p, n)) return fail(r, FA_ENOMEM, 0, "out of memory");
    return 0;
}

/* ---------------------------------------------------------------- fields */

/* Appends bytes up to the delimiter, line end, quote or end of input. */
static int read_unquoted(fa_csv_reader *r) {
    fa_source *s = r->src;
    const char d = r->delim;
    for (;;) {
        const char *p = s->p, *end = s->end, *q = p;
        while (q < end && *q != d && *q != '\n' && *q != '\r' && *q != '"') q++;
        if (q > p && row_append(r, p, (size_t)(q - p))) return r->failed;
        s->p = q;
        if (q < end) break;
        int rc = fa_src_fill(s);
        if (rc < 0) return fail_io(r);
        if (rc == 0) break;
    }
    if (s->p < s->end && *s->p == '"')
        return fail(r, FA_EINVAL, r->nfields, "'\"' inside an unquoted field (quote the whole field)");
    return 0;
}

/* Appends the body of a quoted field; s->p is just past the opening quote.
 * Counts the line breaks inside so later lines keep their numbers. */
static int read_quoted(fa_csv_reader *r) {
    fa_source *s = r->src;
    for (;;) {
        const char *p = s->p, *end = s->end, *q = p;
        while (q < end && *q != '"') {
            if (*q == '\n') fa_src_newline(s, q + 1);
            q++;
        }
        if (q > p && row_append(r, p, (size_t)(q - p))) return r->failed;
        s->p = q;
        int c = peek_byte(s);
        if (c == C_ERR) return fail_io(r);
        if (c == C_EOF) return fail(r, FA_EINVAL, r->nfields, "unterminated quoted field");
        if (c != '"') continue; /* the window was refilled */
        s->p++;
        c = peek_byte(s);
        if (c == C_ERR) return fail_io(r);
        if (c != '"') break; /* the closing quote */
        if (row_append(r, "\"", 1)) return r->failed;
        s->p++;
    }
    int c = peek_byte(s);
    if (c == C_ERR) return fail_io(r);
    if (c != C_EOF && c != r->delim && c != '\n' && c != '\r') {
        char what[16];
        snprintf(what, sizeof what, c > 0x20 && c < 0x7F ? "'%c'" : "byte 0x%02X", c);
        return fail(r, FA_EINVAL, r->nfields, "unexpected %s after the closing quote", what);
    }
    return 0;
}

/* Records the start of a new field in the row buffer. */
static int begin_field(fa_csv_reader *r) {
    if (r->nfields == FA_CSV_MAX_FIELDS)
        return fail(r, FA_ELIMIT, 0, "more than %d fields in a row", FA_CSV_MAX_FIELDS);
    if (r->nfields == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        size_t *starts = fa_realloc(r->starts, cap * sizeof *starts);
        if (!starts) return fail(r, FA_ENOMEM, 0, "out of memory");
        r->starts = starts;
        const char **fields = fa_realloc((void *)r->fields, cap * sizeof *fields);
        if (!fields) return fail(r, FA_ENOMEM, 0, "out of memory");
        r->fields = fields;
        r->cap = cap;
    }
    r->starts[r->nfields++] = r->row.len;
    return 0;
}

/* Checks each field for UTF-8 and NUL bytes and points r->fields at them. */
static int finish_row(fa_csv_reader *r) {
    for (size_t i = 0; i < r->nfields; i++) {
        const char *f = r->row.data + r->starts[i];
        size_t end = i + 1 < r->nfields ? r->starts[i + 1] - 1 : r->row.len - 1;
        size_t len = end - r->starts[i], bad;
        if (memchr(f, '\0', len)) return fail(r, FA_EINVAL, i + 1, "NUL byte in field");
        if (!fa_utf8_valid(f, len, &bad))
            return fail(r, FA_EINVAL, i + 1, "invalid UTF-8 at byte %zu of the field", bad + 1);
        r->fields[i] = f;
    }
    return 0;
}

/* Skips empty lines; returns the first byte of the row, C_EOF or C_ERR. */
static int skip_empty_lines(fa_csv_reader *r) {
    for (;;) {
        int c = peek_byte(r->src);
        if (c != '\n' && c != '\r') return c;
        if (eat_line_end(r->src)) return C_ERR;
    }
}

/* Reads the fields of one row; the first byte is c. */
static int read_row(fa_csv_reader *r, int c) {
    fa_source *s = r->src;
    for (;;) {
        if (begin_field(r)) return r->failed;
        int rc;
        if (c == '"') {
            s->p++;
            rc = read_quoted(r);
        } else {
            rc = read_unquoted(r);
        }
        if (rc || row_append(r, "", 1)) return r->failed; /* the field's NUL */
        c = peek_byte(s);
        if (c == C_ERR) return fail_io(r);
        if (c != r->delim) break;
        s->p++;
        c = peek_byte(s);
        if (c == C_ERR) return fail_io(r);
    }
    if (c != C_EOF && eat_line_end(s)) return fail_io(r);
    return 0;
}

int fa_csv_next(fa_csv_reader *r, const char *const **fields, size_t *n) {
    *fields = NULL;
    *n = 0;
    if (r->failed) return fa_err_set(r->failed, "%s", r->failmsg);
    if (!r->started) {
        r->started = 1;
        if (fa_src_skip_bom(r->src)) return fail_io(r);
    }
    int c = skip_empty_lines(r);
    if (c == C_ERR) return fail_io(r);
    if (c == C_EOF) return 0;
    r->row_line = r->src->line;
    r->row.len = 0;
    r->nfields = 0;
    if (read_row(r, c) || finish_row(r)) return r->failed;
    *fields = r->fields;
    *n = r->nfields;
    return 1;
}

/* ---------------------------------------------------------------- numbers */

/* Only digits, sign, point and exponent: no spaces, hex, inf or nan. */
static int plain_number_text(const char *s) {
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.' || *s == 'e' || *s == 'E'))
            return 0;
    return 1;
}

int fa_csv_num(const fa_csv_reader *r, const char *const *fields, size_t n, size_t i, double *out) {
    *out = NAN;
    if (i >= n) return fa_csv_error(r, i + 1, "missing (the row has %zu fields)", n);
    const char *f = fields[i];
    if (f[0] == '\0' || strcmp(f, "NaN") == 0 || strcmp(f, "nan") == 0) return 0;
    if (!plain_number_text(f) || fa_parse_double(f, out)) {
        char excerpt[48];
        fa_strlcpy_utf8(excerpt, f, sizeof excerpt);
        *out = NAN;
        return fa_csv_error(r, i + 1, "expected a number, got \"%s%s\"", excerpt,
                            strlen(f) >= sizeof excerpt ? "..." : "");
    }
    return 0;
}
