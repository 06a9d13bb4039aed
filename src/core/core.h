/*
 * core.h - the face of src/core: errors, memory, byte buffers, clock, logging,
 * and the streaming JSON and CSV readers every parser is built on.
 *
 * core knows nothing of football. Everything here is plain C17 over libc.
 *
 * Error convention (ARCHITECTURE.md section 3): functions return 0 or a
 * negative FA_E* code, or a pointer that is NULL on error, and leave a
 * thread-local message saying what was wrong and where.
 */
#ifndef FA_CORE_H
#define FA_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__) || defined(__clang__)
#define FA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FA_PRINTF(f, a)
#endif

#define FA_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

enum {
    FA_OK = 0,
    FA_EINVAL = -1,    /* bad input: malformed file, wrong type, out of range (exit 2) */
    FA_ENOMEM = -2,    /* allocation failed (exit 3) */
    FA_EIO = -3,       /* I/O or runtime failure: disk, database, server (exit 3) */
    FA_ENOTFOUND = -4, /* the thing asked for does not exist (exit 2) */
    FA_EUSAGE = -5,    /* wrong command-line use (exit 1) */
    FA_ELIMIT = -6,    /* input exceeds a configured limit (exit 2) */
    FA_ETIMEDOUT = -7, /* a deadline passed before a remote call answered (exit 3) */
    FA_EUNAVAIL = -8   /* a dependency is unavailable: breaker open, nothing to try (exit 3) */
};

/* Sets the calling thread's error and returns code, so callers can write
 * `return fa_err_set(FA_EINVAL, "%s:%d: ...", ...)`. */
int fa_err_set(int code, const char *fmt, ...) FA_PRINTF(2, 3);
int fa_err_vset(int code, const char *fmt, va_list ap);
/* Prepends "context: " to the current message; returns the current code. */
int fa_err_prefix(const char *fmt, ...) FA_PRINTF(1, 2);
const char *fa_err_msg(void); /* "" when none */
int fa_err_code(void);        /* 0 when none */
void fa_err_clear(void);
/* Process exit status for an error code: 1 usage, 2 bad input, 3 runtime. */
int fa_err_exit_status(int code);

/* ---------------------------------------------------------------- memory */

/* Allocation wrappers that set FA_ENOMEM on failure. */
void *fa_malloc(size_t n);
void *fa_calloc(size_t n, size_t size);
void *fa_realloc(void *p, size_t n);
char *fa_strdup(const char *s);
/* Makes the array *arrp (a pointer to any array pointer) hold at least need
 * elements of elem bytes, doubling its capacity *cap from 16; the contents
 * are kept. 0, or FA_ENOMEM (set; *arrp and *cap unchanged), also when the
 * size would overflow. */
int fa_grow(void *arrp, size_t *cap, size_t need, size_t elem);

/* Arena: bump allocator for request- or record-scoped memory. Allocations
 * are 16-byte aligned; reset keeps the first block for reuse, so a loop that
 * resets per record runs in constant memory. */
typedef struct fa_arena fa_arena;
fa_arena *fa_arena_new(size_t block_size);
void *fa_arena_alloc(fa_arena *a, size_t n);
char *fa_arena_strndup(fa_arena *a, const char *s, size_t n);
void fa_arena_reset(fa_arena *a);
size_t fa_arena_bytes(const fa_arena *a); /* bytes handed out since the last reset */
void fa_arena_free(fa_arena *a);

/* Growable byte buffer, always NUL-terminated when len > 0 or after init. */
typedef struct fa_buf {
    char *data;
    size_t len, cap;
} fa_buf;
int fa_buf_reserve(fa_buf *b, size_t extra);
int fa_buf_append(fa_buf *b, const void *p, size_t n);
int fa_buf_puts(fa_buf *b, const char *s);
int fa_buf_putc(fa_buf *b, char c);
int fa_buf_printf(fa_buf *b, const char *fmt, ...) FA_PRINTF(2, 3);
void fa_buf_reset(fa_buf *b); /* len = 0, keeps capacity */
void fa_buf_free(fa_buf *b);

/* ---------------------------------------------------------------- strings */

/* Copies src into dst[size], truncating on a UTF-8 character boundary;
 * always NUL-terminates. Returns strlen(src). */
size_t fa_strlcpy_utf8(char *dst, const char *src, size_t size);
/* Returns 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates);
 * else 0 and *bad_at = offset of the first bad byte. */
int fa_utf8_valid(const char *s, size_t n, size_t *bad_at);
/* Parses a whole string as a finite double / an integer in [lo, hi].
 * Returns 0 or FA_EINVAL (no message set: callers add the context). */
int fa_parse_double(const char *s, double *out);
int fa_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
int fa_strcaseeq(const char *a, const char *b);
/* Base name of a path without directories ("a/b/c.json" -> "c.json"). */
const char *fa_path_base(const char *path);

/* ---------------------------------------------------------------- files */

/* Reads up to n bytes from the start of path into buf; *got = bytes read.
 * Fails with a clear message on a directory, missing file or unreadable file. */
int fa_file_sniff(const char *path, char *buf, size_t n, size_t *got);
/* Returns 0 when path names a regular, readable file; else FA_EINVAL/FA_EIO
 * with a message ("x: is a directory", "x: no such file"). */
int fa_file_check(const char *path);

/* ---------------------------------------------------------------- clock, log */

double fa_clock_now(void);      /* monotonic seconds */
double fa_clock_cpu(void);      /* process CPU seconds */
size_t fa_proc_peak_rss(void);  /* peak resident set in bytes (0 if unknown) */

enum { FA_LOG_DEBUG, FA_LOG_INFO, FA_LOG_WARN, FA_LOG_ERROR };
void fa_log_set_level(int level);
void fa_log_set_json(int json);
/* One line per event: "level=info msg=... key=value ..." or a JSON object.
 * kv is a pre-formatted "key=value key=value" string (may be NULL). */
void fa_log(int level, const char *msg, const char *kvfmt, ...) FA_PRINTF(3, 4);

/* ---------------------------------------------------------------- byte source */

/* A buffered reader over a file or a memory block, shared by the JSON and
 * CSV readers. Tracks line (1-based) and column (1-based, in bytes). */
typedef struct fa_source fa_source;
fa_source *fa_source_open_file(const char *path);
fa_source *fa_source_open_mem(const char *name, const char *data, size_t len);
void fa_source_free(fa_source *s);
const char *fa_source_name(const fa_source *s); /* file base name, or the given name */

/* ---------------------------------------------------------------- JSON */

/* Streaming JSON reader. Memory is bounded by the largest single value the
 * caller asks to materialise, never by the file: parsers walk the outer
 * structure token by token and read one record (one event, one frame) at a
 * time into an arena they reset between records.
 *
 * Strict RFC 8259: strings must be valid UTF-8, numbers must be finite
 * doubles, nesting depth <= FA_JSON_MAX_DEPTH, a string <= FA_JSON_MAX_STRING
 * bytes. Every error names source:line:col and the problem. */
#define FA_JSON_MAX_DEPTH 256
#define FA_JSON_MAX_STRING (16u << 20)

typedef enum fa_json_type {
    FA_JSON_NULL,
    FA_JSON_FALSE,
    FA_JSON_TRUE,
    FA_JSON_NUMBER,
    FA_JSON_STRING,
    FA_JSON_ARRAY,
    FA_JSON_OBJECT
} fa_json_type;

typedef struct fa_json_value fa_json_value;
struct fa_json_value {
    fa_json_type type;
    uint32_t line, col; /* where the value starts */
    union {
        double num;
        struct {
            const char *ptr; /* NUL-terminated, valid UTF-8 */
            size_t len;
        } str;
        struct {
            fa_json_value **items;
            size_t n;
        } arr;
        struct {
            const char **keys;
            fa_json_value **vals;
            size_t n;
        } obj;
    } u;
};

typedef enum fa_json_tok_type {
    FA_JSON_TOK_EOF,
    FA_JSON_TOK_BEGIN_OBJECT,
    FA_JSON_TOK_END_OBJECT,
    FA_JSON_TOK_BEGIN_ARRAY,
    FA_JSON_TOK_END_ARRAY,
    FA_JSON_TOK_KEY,
    FA_JSON_TOK_STRING,
    FA_JSON_TOK_NUMBER,
    FA_JSON_TOK_TRUE,
    FA_JSON_TOK_FALSE,
    FA_JSON_TOK_NULL
} fa_json_tok_type;

typedef struct fa_json_token {
    fa_json_tok_type type;
    const char *str; /* KEY / STRING: decoded, NUL-terminated; valid until the next call */
    size_t len;
    double num;      /* NUMBER */
    uint32_t line, col;
} fa_json_token;

typedef struct fa_json_reader fa_json_reader;
/* multi = 1 accepts a sequence of top-level values (JSON Lines / NDJSON). */
fa_json_reader *fa_json_open_file(const char *path, int multi);
fa_json_reader *fa_json_open_mem(const char *name, const char *data, size_t len, int multi);
void fa_json_close(fa_json_reader *r);
const char *fa_json_name(const fa_json_reader *r);

/* Next token. Returns 0 (tok filled; FA_JSON_TOK_EOF at a clean end) or
 * FA_EINVAL/FA_EIO with the message set. Structure is validated as it goes. */
int fa_json_next(fa_json_reader *r, fa_json_token *tok);
/* Type of the next token without consuming it. */
int fa_json_peek(fa_json_reader *r, fa_json_tok_type *type);
/* Reads the next complete value into arena a. At a clean end of a multi
 * stream returns 0 with *out = NULL. */
int fa_json_read_value(fa_json_reader *r, fa_arena *a, fa_json_value **out);
/* Skips the next complete value. */
int fa_json_skip_value(fa_json_reader *r);
/* Inside an array (after BEGIN_ARRAY was consumed): reads the next element
 * into a and returns 1, or consumes END_ARRAY and returns 0, or < 0 on error. */
int fa_json_array_next(fa_json_reader *r, fa_arena *a, fa_json_value **out);
/* Expects the next token to be of the given type, else FA_EINVAL naming
 * what was found. */
int fa_json_expect(fa_json_reader *r, fa_json_tok_type type, fa_json_token *tok);
/* Parses a whole document held in memory (small metadata files). */
int fa_json_parse(const char *name, const char *data, size_t len, fa_arena *a, fa_json_value **out);

const char *fa_json_type_name(fa_json_type t);
/* Member lookup; NULL when obj is not an object or the key is absent. */
const fa_json_value *fa_json_get(const fa_json_value *obj, const char *key);

/* Typed field access with precise errors ("name:line:col: field 'period':
 * expected integer, got string"). opt_* return 1 when the field holds a
 * value, 0 when absent or null (out set to NAN / NULL / 0 / -1 as stated),
 * < 0 when it has the wrong type. req_* return 0 or < 0 (absent, null or
 * wrong type are all errors). */
int fa_json_error(const fa_json_reader *r, const fa_json_value *at, const char *fmt, ...)
    FA_PRINTF(3, 4);
int fa_json_opt_num(const fa_json_reader *r, const fa_json_value *obj, const char *key, double *out); /* NAN */
int fa_json_req_num(const fa_json_reader *r, const fa_json_value *obj, const char *key, double *out);
int fa_json_opt_int(const fa_json_reader *r, const fa_json_value *obj, const char *key, int64_t lo,
                    int64_t hi, int64_t *out); /* out untouched when absent */
int fa_json_req_int(const fa_json_reader *r, const fa_json_value *obj, const char *key, int64_t lo,
                    int64_t hi, int64_t *out);
int fa_json_opt_str(const fa_json_reader *r, const fa_json_value *obj, const char *key, const char **out); /* NULL */
int fa_json_req_str(const fa_json_reader *r, const fa_json_value *obj, const char *key, const char **out);
int fa_json_opt_bool(const fa_json_reader *r, const fa_json_value *obj, const char *key, int *out); /* out untouched */
int fa_json_opt_obj(const fa_json_reader *r, const fa_json_value *obj, const char *key,
                    const fa_json_value **out); /* NULL */
int fa_json_req_obj(const fa_json_reader *r, const fa_json_value *obj, const char *key,
                    const fa_json_value **out);
int fa_json_opt_arr(const fa_json_reader *r, const fa_json_value *obj, const char *key,
                    const fa_json_value **out); /* NULL */
int fa_json_req_arr(const fa_json_reader *r, const fa_json_value *obj, const char *key,
                    const fa_json_value **out);

/* JSON writer helpers: appends s as a quoted, escaped JSON string. */
int fa_json_write_str(fa_buf *b, const char *s);
/* Appends a number (shortest round-trip, "null" for NAN). */
int fa_json_write_num(fa_buf *b, double v);

/* ---------------------------------------------------------------- CSV */

/* Streaming RFC 4180 CSV reader: quoted fields, "" escapes, CRLF or LF,
 * a UTF-8 BOM skipped. Rows are returned one at a time; memory is bounded
 * by the longest row (<= FA_CSV_MAX_ROW bytes, else FA_ELIMIT). */
#define FA_CSV_MAX_ROW (1u << 20)
#define FA_CSV_MAX_FIELDS 4096

typedef struct fa_csv_reader fa_csv_reader;
fa_csv_reader *fa_csv_open_file(const char *path, char delimiter);
fa_csv_reader *fa_csv_open_mem(const char *name, const char *data, size_t len, char delimiter);
void fa_csv_close(fa_csv_reader *r);
const char *fa_csv_name(const fa_csv_reader *r);
/* Reads the next row. Returns 1 with *fields (NUL-terminated strings,
 * valid until the next call) and *n, 0 at end of input, < 0 on error
 * (unterminated quote, invalid UTF-8, row too long). */
int fa_csv_next(fa_csv_reader *r, const char *const **fields, size_t *n);
unsigned long fa_csv_line(const fa_csv_reader *r); /* line where the last row started */
/* Error naming name:line, the 1-based column and the problem. */
int fa_csv_error(const fa_csv_reader *r, size_t column, const char *fmt, ...) FA_PRINTF(3, 4);
/* Field as double: "" / "NaN" / "nan" -> NAN and returns 0; garbage -> FA_EINVAL with message. */
int fa_csv_num(const fa_csv_reader *r, const char *const *fields, size_t n, size_t i, double *out);

#endif
