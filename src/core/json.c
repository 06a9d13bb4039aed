/*
 * json.c - the streaming JSON reader (tokenizer, DOM of one value at a time,
 * typed field getters) and two writer helpers.
 *
 * Why streaming: provider files hold thousands of records in one top-level
 * array. A parser walks the outer structure token by token and materialises
 * one record at a time into an arena it resets between records, so memory is
 * the 64 KiB source window + the longest string + the largest record, never
 * the file.
 *
 * How it is built:
 *  - The tokenizer is a small state machine (what may come next: a value, a
 *    key, ',' or a closing bracket) over the byte window of source.h. Hot
 *    loops (whitespace, string bodies, number spans) scan the window with
 *    pointer loops and a byte-class table; they leave the loop only for a
 *    refill, an escape or a non-ASCII byte.
 *  - Strings are decoded into one reusable buffer (r->str), validated as
 *    UTF-8 on the way (raw bytes and \u escapes; surrogate pairs combine,
 *    lone surrogates are errors).
 *  - Numbers are validated against the RFC 8259 grammar, then converted by
 *    the exact fast path (<= 15 significant digits times an exact power of
 *    ten) or by strtod; a result that overflows is "number out of range".
 *  - The DOM lives in the caller's arena only. Children of an array or
 *    object are gathered on a reader-owned stack and copied into exactly
 *    sized arena arrays when the container closes.
 *  - Errors are sticky: once the tokenizer fails, every later call returns
 *    the same code and message. Every message names name:line:col.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"

enum { C_EOF = -1, C_ERR = -2 };

/* What the tokenizer accepts next. */
enum state {
    S_START,     /* first top-level value; end of input here is "empty input" */
    S_TOP,       /* multi mode, between top-level values: a value or the end */
    S_END,       /* single mode, after the top-level value: only the end */
    S_ARR_FIRST, /* after '[': a value or ']' */
    S_ARR_AFTER, /* after an element: ',' or ']' */
    S_OBJ_FIRST, /* after '{': a key or '}' */
    S_OBJ_AFTER, /* after a member: ',' or '}' */
    S_MEMBER     /* after "key": the member's value */
};

typedef struct member {
    const char *key;
    fa_json_value *val;
} member;

struct fa_json_reader {
    fa_source *src;
    int multi;
    enum state state;
    int depth;
    unsigned char open[FA_JSON_MAX_DEPTH]; /* '[' or '{' per open container */
    fa_buf str;                            /* decoded string / straddling number */
    fa_json_token peeked;
    int has_peek;
    int failed; /* sticky error code, 0 when fine */
    uint32_t str_line, str_col; /* where the string being read starts */
    member *stack; /* DOM children being gathered */
    size_t top, cap;
    char failmsg[512];
};

/* ---------------------------------------------------------------- errors */

static void pos_here(const fa_json_reader *r, uint32_t *line, uint32_t *col) {
    const fa_source *s = r->src;
    unsigned long l = s->line, c = fa_src_col(s, s->p);
    *line = l > UINT32_MAX ? UINT32_MAX : (uint32_t)l;
    *col = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

/* Fails the reader with "name:line:col: message" and makes it sticky. */
FA_PRINTF(5, 6)
static int fail_at(fa_json_reader *r, int code, uint32_t line, uint32_t col, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->failmsg, sizeof r->failmsg, "%s:%" PRIu32 ":%" PRIu32 ": %s", r->src->name, line, col, msg);
    r->failed = code;
    return fa_err_set(code, "%s", r->failmsg);
}

#define FAIL_HERE(r, code, ...)                                                                              \
    do {                                                                                                     \
        uint32_t l_, c_;                                                                                     \
        pos_here((r), &l_, &c_);                                                                             \
        return fail_at((r), (code), l_, c_, __VA_ARGS__);                                                    \
    } while (0)

static int fail_io(fa_json_reader *r) {
    r->failed = r->src->err ? r->src->err : FA_EIO;
    snprintf(r->failmsg, sizeof r->failmsg, "%s", fa_err_msg());
    return r->failed;
}

static int resurface(const fa_json_reader *r) { return fa_err_set(r->failed, "%s", r->failmsg); }

/* "'x'", "end of input" or "byte 0xNN" for a message. */
static const char *describe_char(int c, char *buf, size_t n) {
    if (c == C_EOF) return "end of input";
    if (c > 0x20 && c < 0x7F && c != '\'')
        snprintf(buf, n, "'%c'", c);
    else
        snprintf(buf, n, "byte 0x%02X", (unsigned)c);
    return buf;
}

/* ---------------------------------------------------------------- open */

static fa_json_reader *reader_new(fa_source *src, int multi) {
    if (!src) return NULL;
    fa_json_reader *r = fa_calloc(1, sizeof *r);
    if (!r || fa_buf_reserve(&r->str, 256)) {
        free(r);
        fa_source_free(src);
        return NULL;
    }
    r->src = src;
    r->multi = multi;
    r->state = S_START;
    return r;
}

fa_json_reader *fa_json_open_file(const char *path, int multi) {
    return reader_new(fa_source_open_file(path), multi);
}

fa_json_reader *fa_json_open_mem(const char *name, const char *data, size_t len, int multi) {
    return reader_new(fa_source_open_mem(name, data, len), multi);
}

void fa_json_close(fa_json_reader *r) {
    if (!r) return;
    fa_source_free(r->src);
    fa_buf_free(&r->str);
    free(r->stack);
    free(r);
}

const char *fa_json_name(const fa_json_reader *r) { return r->src->name; }

/* ---------------------------------------------------------------- bytes */

/* Skips whitespace; returns the next byte (not consumed), C_EOF or C_ERR. */
static int skip_ws(fa_source *s) {
    for (;;) {
        const char *p = s->p, *end = s->end;
        while (p < end) {
            unsigned char c = (unsigned char)*p;
            if (c == ' ' || c == '\t' || c == '\r') {
                p++;
            } else if (c == '\n') {
                p++;
                fa_src_newline(s, p);
            } else {
                s->p = p;
                return c;
            }
        }
        s->p = p;
        int rc = fa_src_fill(s);
        if (rc < 0) return C_ERR;
        if (rc == 0) return C_EOF;
    }
}

/* Next byte, not consumed: C_EOF / C_ERR at the end / on failure. */
static int peek_byte(fa_source *s) {
    if (s->p < s->end) return (unsigned char)*s->p;
    int rc = fa_src_fill(s);
    if (rc < 0) return C_ERR;
    return rc == 0 ? C_EOF : (unsigned char)*s->p;
}

/* ---------------------------------------------------------------- strings */

/* 1 for the bytes that stop the fast scan of a string body. */
static const unsigned char str_stop[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1,
    [0x08] = 1, [0x09] = 1, [0x0A] = 1, [0x0B] = 1, [0x0C] = 1, [0x0D] = 1, [0x0E] = 1, [0x0F] = 1,
    [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1A] = 1, [0x1B] = 1, [0x1C] = 1, [0x1D] = 1, [0x1E] = 1, [0x1F] = 1,
    ['"'] = 1,  ['\\'] = 1,
#define HI4(x) [x] = 1, [x + 1] = 1, [x + 2] = 1, [x + 3] = 1
#define HI16(x) HI4(x), HI4(x + 4), HI4(x + 8), HI4(x + 12)
    HI16(0x80), HI16(0x90), HI16(0xA0), HI16(0xB0), HI16(0xC0), HI16(0xD0), HI16(0xE0), HI16(0xF0)
#undef HI16
#undef HI4
};

static int str_append(fa_json_reader *r, const void *p, size_t n) {
    fa_buf *b = &r->str;
    if (b->len + n < b->cap) { /* fast path: room for the bytes and the NUL */
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    if (b->len + n > FA_JSON_MAX_STRING)
        return fail_at(r, FA_ELIMIT, r->str_line, r->str_col, "string longer than %u bytes",
                       FA_JSON_MAX_STRING);
    if (fa_buf_append(&r->str, p, n)) {
        r->failed = FA_ENOMEM;
        snprintf(r->failmsg, sizeof r->failmsg, "%s", fa_err_msg());
        return FA_ENOMEM;
    }
    return 0;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = (unsigned char)p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static size_t utf8_encode(unsigned cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes \uXXXX (and a following low surrogate) at s->p (the backslash). */
static int read_unicode_escape(fa_json_reader *r, long avail) {
    fa_source *s = r->src;
    unsigned cp, lo;
    if (avail < 6) {
        for (long i = 2; i < avail; i++)
            if (!isxdigit((unsigned char)s->p[i])) FAIL_HERE(r, FA_EINVAL, "invalid \\u escape");
        FAIL_HERE(r, FA_EINVAL, "unexpected end of input in string");
    }
    if (hex4(s->p + 2, &cp)) FAIL_HERE(r, FA_EINVAL, "invalid \\u escape");
    if (cp >= 0xDC00 && cp <= 0xDFFF) FAIL_HERE(r, FA_EINVAL, "lone surrogate \\u%04X in string", cp);
    size_t used = 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (avail < 12 || s->p[6] != '\\' || s->p[7] != 'u' || hex4(s->p + 8, &lo) || lo < 0xDC00 ||
            lo > 0xDFFF)
            FAIL_HERE(r, FA_EINVAL, "lone surrogate \\u%04X in string", cp);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        used = 12;
    }
    char utf8[4];
    int rc = str_append(r, utf8, utf8_encode(cp, utf8));
    s->p += used;
    return rc;
}

/* Decodes the escape at s->p (the backslash). */
static int read_escape(fa_json_reader *r) {
    fa_source *s = r->src;
    long avail = fa_src_ensure(s, 12);
    if (avail < 0) return fail_io(r);
    if (avail < 2) FAIL_HERE(r, FA_EINVAL, "unexpected end of input in string");
    char c = s->p[1], out;
    switch (c) {
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case '/': out = '/'; break;
    case 'b': out = '\b'; break;
    case 'f': out = '\f'; break;
    case 'n': out = '\n'; break;
    case 'r': out = '\r'; break;
    case 't': out = '\t'; break;
    case 'u': return read_unicode_escape(r, avail);
    default: {
        char d[16];
        FAIL_HERE(r, FA_EINVAL, "invalid escape '\\' followed by %s",
                  describe_char((unsigned char)c, d, sizeof d));
    }
    }
    s->p += 2;
    return str_append(r, &out, 1);
}

/* Validates and copies the multi-byte UTF-8 sequence at s->p. */
static int read_utf8_seq(fa_json_reader *r) {
    fa_source *s = r->src;
    long avail = fa_src_ensure(s, 4);
    if (avail < 0) return fail_io(r);
    size_t k = fa_src_utf8_len((const unsigned char *)s->p, (size_t)avail);
    if (!k) FAIL_HERE(r, FA_EINVAL, "invalid UTF-8 in string");
    int rc = str_append(r, s->p, k);
    s->p += k;
    return rc;
}

/* Reads a string body (s->p is just past the opening quote) into r->str. */
static int read_string(fa_json_reader *r) {
    fa_source *s = r->src;
    fa_buf_reset(&r->str);
    pos_here(r, &r->str_line, &r->str_col);
    r->str_col--; /* the opening quote */
    for (;;) {
        const unsigned char *p = (const unsigned char *)s->p, *end = (const unsigned char *)s->end;
        const unsigned char *q = p;
        while (q < end && !str_stop[*q]) q++;
        if (q > p && str_append(r, p, (size_t)(q - p))) return r->failed;
        s->p = (const char *)q;
        if (q == end) {
            int rc = fa_src_fill(s);
            if (rc < 0) return fail_io(r);
            if (rc == 0) FAIL_HERE(r, FA_EINVAL, "unexpected end of input in string");
            continue;
        }
        int rc;
        if (*q == '"') {
            s->p++;
            return 0;
        } else if (*q == '\\') {
            rc = read_escape(r);
        } else if (*q < 0x20) {
            FAIL_HERE(r, FA_EINVAL, "control character 0x%02X in string (must be escaped)", *q);
        } else {
            rc = read_utf8_seq(r);
        }
        if (rc) return rc;
    }
}

/* ---------------------------------------------------------------- numbers */

static const unsigned char num_char[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['-'] = 1, ['+'] = 1, ['.'] = 1, ['e'] = 1, ['E'] = 1,
};

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* The RFC 8259 number grammar over t[0..n), gathering the decimal mantissa
 * of at most 19 digits (*digits counts the significant ones) and the power of
 * ten it must be scaled by. Returns NULL or what is wrong. */
static const char *scan_number(const char *t, size_t n, uint64_t *mant, int *digits, long *exp10) {
    size_t i = t[0] == '-';
    uint64_t m = 0;
    int nd = 0;
    long scale = 0;
    if (i == n || !is_digit(t[i])) return "invalid number";
    if (t[i] == '0' && i + 1 < n && is_digit(t[i + 1])) return "invalid number (leading zero)";
    for (; i < n && is_digit(t[i]); i++) {
        if (nd < 19) {
            m = m * 10 + (uint64_t)(t[i] - '0');
            nd += m != 0;
        } else {
            scale++;
            nd++;
        }
    }
    if (i < n && t[i] == '.') {
        if (++i == n || !is_digit(t[i])) return "invalid number (digit expected after '.')";
        for (; i < n && is_digit(t[i]); i++) {
            if (nd < 19) {
                m = m * 10 + (uint64_t)(t[i] - '0');
                nd += m != 0;
                scale--;
            } else {
                nd++;
            }
        }
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        int neg = i < n && t[i] == '-';
        if (i < n && (t[i] == '-' || t[i] == '+')) i++;
        if (i == n || !is_digit(t[i])) return "invalid number (digit expected in exponent)";
        long e = 0;
        for (; i < n && is_digit(t[i]); i++)
            if (e < 100000) e = e * 10 + (t[i] - '0');
        scale += neg ? -e : e;
    }
    if (i != n) return "invalid number";
    *mant = m;
    *digits = nd;
    *exp10 = scale;
    return NULL;
}

/* Converts a validated number: the exact fast path (a mantissa below 10^15
 * and an exact power of ten, so one correctly rounded operation), else
 * strtod. Returns 0, -1 when it overflows, FA_ELIMIT/FA_ENOMEM. */
static int convert_number(fa_json_reader *r, const char *t, size_t n, uint64_t m, int nd, long e,
                          double *out) {
    if (nd <= 15 && e >= -22 && e <= 22) {
        double v = (double)m;
        v = e < 0 ? v / pow10_exact[-e] : v * pow10_exact[e];
        *out = t[0] == '-' ? -v : v;
        return 0;
    }
    char small[64];
    const char *z = t;
    if (n < sizeof small) {
        memcpy(small, t, n);
        small[n] = '\0';
        z = small;
    } else if (t != r->str.data) {
        fa_buf_reset(&r->str);
        if (str_append(r, t, n)) return r->failed;
        z = r->str.data;
    }
    *out = strtod(z, NULL);
    return isfinite(*out) ? 0 : -1;
}

/* Validates and converts the number text t[0..n) of the current token. */
static int parse_number(fa_json_reader *r, const char *t, size_t n, fa_json_token *tok) {
    uint64_t m;
    int nd;
    long e;
    const char *bad = scan_number(t, n, &m, &nd, &e);
    if (bad) return fail_at(r, FA_EINVAL, tok->line, tok->col, "%s", bad);
    r->str_line = tok->line;
    r->str_col = tok->col;
    int rc = convert_number(r, t, n, m, nd, e, &tok->num);
    if (rc == -1) return fail_at(r, FA_EINVAL, tok->line, tok->col, "number out of range");
    if (rc) return rc;
    tok->type = FA_JSON_TOK_NUMBER;
    return 0;
}

/* Reads a number token starting at s->p. */
static int read_number(fa_json_reader *r, fa_json_token *tok) {
    fa_source *s = r->src;
    const char *p = s->p, *end = s->end, *q = p;
    while (q < end && num_char[(unsigned char)*q]) q++;
    if (q < end) { /* common case: the whole span is in the window */
        s->p = q;
        return parse_number(r, p, (size_t)(q - p), tok);
    }
    fa_buf_reset(&r->str);
    pos_here(r, &r->str_line, &r->str_col);
    for (;;) {
        if (str_append(r, p, (size_t)(q - p))) return r->failed;
        s->p = q;
        if (q < end) break;
        int rc = fa_src_fill(s);
        if (rc < 0) return fail_io(r);
        if (rc == 0) break;
        p = q = s->p;
        end = s->end;
        while (q < end && num_char[(unsigned char)*q]) q++;
    }
    return parse_number(r, r->str.data, r->str.len, tok);
}

/* ---------------------------------------------------------------- words */

static int is_word_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Reads true / false / null, or fails naming the bad word. */
static int read_word(fa_json_reader *r, fa_json_token *tok) {
    char w[24];
    size_t n = 0;
    int c;
    while ((c = peek_byte(r->src)) >= 0 && is_word_char(c)) {
        if (n < sizeof w - 4) w[n++] = (char)c;
        r->src->p++;
    }
    if (c == C_ERR) return fail_io(r);
    w[n] = '\0';
    if (strcmp(w, "true") == 0)
        tok->type = FA_JSON_TOK_TRUE;
    else if (strcmp(w, "false") == 0)
        tok->type = FA_JSON_TOK_FALSE;
    else if (strcmp(w, "null") == 0)
        tok->type = FA_JSON_TOK_NULL;
    else
        return fail_at(r, FA_EINVAL, tok->line, tok->col, "invalid literal '%s%s'", w,
                       n == sizeof w - 4 ? "..." : "");
    return 0;
}

/* ---------------------------------------------------------------- tokens */

static void after_value(fa_json_reader *r) {
    if (r->depth == 0)
        r->state = r->multi ? S_TOP : S_END;
    else
        r->state = r->open[r->depth - 1] == '[' ? S_ARR_AFTER : S_OBJ_AFTER;
}

static int open_container(fa_json_reader *r, fa_json_token *tok, char kind) {
    if (r->depth == FA_JSON_MAX_DEPTH)
        return fail_at(r, FA_ELIMIT, tok->line, tok->col, "nesting deeper than %d levels", FA_JSON_MAX_DEPTH);
    r->open[r->depth++] = (unsigned char)kind;
    r->src->p++;
    tok->type = kind == '[' ? FA_JSON_TOK_BEGIN_ARRAY : FA_JSON_TOK_BEGIN_OBJECT;
    r->state = kind == '[' ? S_ARR_FIRST : S_OBJ_FIRST;
    return 0;
}

static int close_container(fa_json_reader *r, fa_json_token *tok) {
    tok->type = r->open[r->depth - 1] == '[' ? FA_JSON_TOK_END_ARRAY : FA_JSON_TOK_END_OBJECT;
    r->depth--;
    r->src->p++;
    after_value(r);
    return 0;
}

/* A value starting with byte c (already skipped to). */
static int value_token(fa_json_reader *r, int c, fa_json_token *tok) {
    char d[16];
    int rc;
    switch (c) {
    case C_EOF: return fail_at(r, FA_EINVAL, tok->line, tok->col, "unexpected end of input");
    case '{': return open_container(r, tok, '{');
    case '[': return open_container(r, tok, '[');
    case '"':
        r->src->p++;
        if ((rc = read_string(r))) return rc;
        tok->type = FA_JSON_TOK_STRING;
        tok->str = r->str.data;
        tok->len = r->str.len;
        break;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8':
    case '9':
        if ((rc = read_number(r, tok))) return rc;
        break;
    default:
        if (!is_word_char(c))
            return fail_at(r, FA_EINVAL, tok->line, tok->col, "unexpected %s, expected a value",
                           describe_char(c, d, sizeof d));
        if ((rc = read_word(r, tok))) return rc;
    }
    after_value(r);
    return 0;
}

/* An object key and its ':' (c is the byte skipped to). */
static int key_token(fa_json_reader *r, int c, fa_json_token *tok) {
    char d[16];
    if (c == C_EOF) return fail_at(r, FA_EINVAL, tok->line, tok->col, "unexpected end of input");
    if (c != '"')
        return fail_at(r, FA_EINVAL, tok->line, tok->col, "expected a string key, got %s",
                       describe_char(c, d, sizeof d));
    r->src->p++;
    int rc = read_string(r);
    if (rc) return rc;
    c = skip_ws(r->src);
    if (c == C_ERR) return fail_io(r);
    if (c == C_EOF) FAIL_HERE(r, FA_EINVAL, "unexpected end of input");
    if (c != ':')
        FAIL_HERE(r, FA_EINVAL, "expected ':' after object key, got %s", describe_char(c, d, sizeof d));
    r->src->p++;
    tok->type = FA_JSON_TOK_KEY;
    tok->str = r->str.data;
    tok->len = r->str.len;
    r->state = S_MEMBER;
    return 0;
}

/* ',' or the closing bracket after an element / member; a ',' must be
 * followed by another element, not by the closing bracket. */
static int after_element(fa_json_reader *r, int c, fa_json_token *tok, int close) {
    char d[16];
    if (c == close) return close_container(r, tok);
    if (c == C_EOF) return fail_at(r, FA_EINVAL, tok->line, tok->col, "unexpected end of input");
    if (c != ',')
        return fail_at(r, FA_EINVAL, tok->line, tok->col, "expected ',' or '%c', got %s", close,
                       describe_char(c, d, sizeof d));
    r->src->p++;
    c = skip_ws(r->src);
    if (c == C_ERR) return fail_io(r);
    pos_here(r, &tok->line, &tok->col);
    if (c == close) return fail_at(r, FA_EINVAL, tok->line, tok->col, "trailing comma before '%c'", close);
    return close == ']' ? value_token(r, c, tok) : key_token(r, c, tok);
}

static int next_token(fa_json_reader *r, fa_json_token *tok) {
    if (r->failed) return resurface(r);
    if (r->state == S_START && fa_src_skip_bom(r->src)) return fail_io(r);
    int c = skip_ws(r->src);
    if (c == C_ERR) return fail_io(r);
    tok->str = NULL;
    tok->len = 0;
    tok->num = 0;
    pos_here(r, &tok->line, &tok->col);
    switch (r->state) {
    case S_START:
        if (c == C_EOF) return fail_at(r, FA_EINVAL, tok->line, tok->col, "empty input");
        return value_token(r, c, tok);
    case S_TOP:
    case S_END:
        if (c == C_EOF) {
            tok->type = FA_JSON_TOK_EOF;
            return 0;
        }
        if (r->state == S_TOP) return value_token(r, c, tok);
        return fail_at(r, FA_EINVAL, tok->line, tok->col, "unexpected data after the top-level value");
    case S_ARR_FIRST: return c == ']' ? close_container(r, tok) : value_token(r, c, tok);
    case S_OBJ_FIRST: return c == '}' ? close_container(r, tok) : key_token(r, c, tok);
    case S_ARR_AFTER: return after_element(r, c, tok, ']');
    case S_OBJ_AFTER: return after_element(r, c, tok, '}');
    case S_MEMBER: return value_token(r, c, tok);
    }
    return fail_at(r, FA_EINVAL, tok->line, tok->col, "internal error: bad reader state");
}

int fa_json_next(fa_json_reader *r, fa_json_token *tok) {
    if (r->has_peek) {
        *tok = r->peeked;
        r->has_peek = 0;
        return 0;
    }
    return next_token(r, tok);
}

int fa_json_peek(fa_json_reader *r, fa_json_tok_type *type) {
    if (!r->has_peek) {
        int rc = next_token(r, &r->peeked);
        if (rc) return rc;
        r->has_peek = 1;
    }
    *type = r->peeked.type;
    return 0;
}

static const char *tok_name(fa_json_tok_type t) {
    switch (t) {
    case FA_JSON_TOK_EOF: return "end of input";
    case FA_JSON_TOK_BEGIN_OBJECT: return "'{'";
    case FA_JSON_TOK_END_OBJECT: return "'}'";
    case FA_JSON_TOK_BEGIN_ARRAY: return "'['";
    case FA_JSON_TOK_END_ARRAY: return "']'";
    case FA_JSON_TOK_KEY: return "key";
    case FA_JSON_TOK_STRING: return "string";
    case FA_JSON_TOK_NUMBER: return "number";
    case FA_JSON_TOK_TRUE: return "true";
    case FA_JSON_TOK_FALSE: return "false";
    case FA_JSON_TOK_NULL: return "null";
    }
    return "token";
}

/* Quotes at most 40 bytes of s (cut on a character boundary) for a one-line
 * message, with '?' for control bytes. */
static void quote_excerpt(const char *s, size_t len, char *out, size_t n) {
    char tmp[48];
    size_t k = len < 40 ? len : 40;
    if (k < len)
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    for (size_t i = 0; i < k; i++) tmp[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) ? '?' : s[i];
    tmp[k] = '\0';
    snprintf(out, n, "\"%s%s\"", tmp, k < len ? "..." : "");
}

static void format_num(double v, char *out, size_t n);

static void describe_token(const fa_json_token *t, char *out, size_t n) {
    char q[64], num[40];
    if (t->type == FA_JSON_TOK_KEY || t->type == FA_JSON_TOK_STRING) {
        quote_excerpt(t->str, t->len, q, sizeof q);
        snprintf(out, n, "%s %s", tok_name(t->type), q);
    } else if (t->type == FA_JSON_TOK_NUMBER) {
        format_num(t->num, num, sizeof num);
        snprintf(out, n, "number %s", num);
    } else {
        snprintf(out, n, "%s", tok_name(t->type));
    }
}

int fa_json_expect(fa_json_reader *r, fa_json_tok_type type, fa_json_token *tok) {
    fa_json_token local;
    if (!tok) tok = &local;
    int rc = fa_json_next(r, tok);
    if (rc) return rc;
    if (tok->type == type) return 0;
    char got[96];
    describe_token(tok, got, sizeof got);
    return fa_err_set(FA_EINVAL, "%s:%" PRIu32 ":%" PRIu32 ": expected %s, got %s", r->src->name, tok->line,
                      tok->col, tok_name(type), got);
}

/* ---------------------------------------------------------------- DOM */

static int push_member(fa_json_reader *r, const char *key, fa_json_value *val) {
    if (r->top == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        member *m = fa_realloc(r->stack, cap * sizeof *m);
        if (!m) return FA_ENOMEM;
        r->stack = m;
        r->cap = cap;
    }
    r->stack[r->top].key = key;
    r->stack[r->top].val = val;
    r->top++;
    return 0;
}

static int build_value(fa_json_reader *r, fa_arena *a, const fa_json_token *tok, fa_json_value **out);

/* Gathers the elements of an array whose '[' was consumed. */
static int build_array(fa_json_reader *r, fa_arena *a, fa_json_value *v) {
    size_t base = r->top;
    fa_json_token t;
    fa_json_value *child;
    int rc;
    while ((rc = next_token(r, &t)) == 0 && t.type != FA_JSON_TOK_END_ARRAY) {
        if ((rc = build_value(r, a, &t, &child)) || (rc = push_member(r, NULL, child))) return rc;
    }
    if (rc) return rc;
    size_t n = r->top - base;
    v->type = FA_JSON_ARRAY;
    v->u.arr.n = n;
    v->u.arr.items = NULL;
    if (n) {
        v->u.arr.items = fa_arena_alloc(a, n * sizeof *v->u.arr.items);
        if (!v->u.arr.items) return FA_ENOMEM;
        for (size_t i = 0; i < n; i++) v->u.arr.items[i] = r->stack[base + i].val;
    }
    r->top = base;
    return 0;
}

/* Gathers the members of an object whose '{' was consumed. */
static int build_object(fa_json_reader *r, fa_arena *a, fa_json_value *v) {
    size_t base = r->top;
    fa_json_token t;
    fa_json_value *child;
    int rc;
    while ((rc = next_token(r, &t)) == 0 && t.type == FA_JSON_TOK_KEY) {
        const char *key = fa_arena_strndup(a, t.str, t.len);
        if (!key) return FA_ENOMEM;
        if ((rc = next_token(r, &t)) || (rc = build_value(r, a, &t, &child)) ||
            (rc = push_member(r, key, child)))
            return rc;
    }
    if (rc) return rc;
    size_t n = r->top - base;
    v->type = FA_JSON_OBJECT;
    v->u.obj.n = n;
    v->u.obj.keys = NULL;
    v->u.obj.vals = NULL;
    if (n) {
        v->u.obj.keys = fa_arena_alloc(a, n * sizeof *v->u.obj.keys);
        v->u.obj.vals = fa_arena_alloc(a, n * sizeof *v->u.obj.vals);
        if (!v->u.obj.keys || !v->u.obj.vals) return FA_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            v->u.obj.keys[i] = r->stack[base + i].key;
            v->u.obj.vals[i] = r->stack[base + i].val;
        }
    }
    r->top = base;
    return 0;
}

/* Materialises the value whose first token is tok. */
static int build_value(fa_json_reader *r, fa_arena *a, const fa_json_token *tok, fa_json_value **out) {
    fa_json_value *v = fa_arena_alloc(a, sizeof *v);
    if (!v) return FA_ENOMEM;
    v->line = tok->line;
    v->col = tok->col;
    *out = v;
    switch (tok->type) {
    case FA_JSON_TOK_NUMBER: v->type = FA_JSON_NUMBER; v->u.num = tok->num; return 0;
    case FA_JSON_TOK_TRUE: v->type = FA_JSON_TRUE; return 0;
    case FA_JSON_TOK_FALSE: v->type = FA_JSON_FALSE; return 0;
    case FA_JSON_TOK_NULL: v->type = FA_JSON_NULL; return 0;
    case FA_JSON_TOK_STRING:
        v->type = FA_JSON_STRING;
        v->u.str.len = tok->len;
        v->u.str.ptr = fa_arena_strndup(a, tok->str, tok->len);
        return v->u.str.ptr ? 0 : FA_ENOMEM;
    case FA_JSON_TOK_BEGIN_ARRAY: return build_array(r, a, v);
    case FA_JSON_TOK_BEGIN_OBJECT: return build_object(r, a, v);
    default: {
        char got[96];
        describe_token(tok, got, sizeof got);
        return fa_err_set(FA_EINVAL, "%s:%" PRIu32 ":%" PRIu32 ": expected a value, got %s", r->src->name,
                          tok->line, tok->col, got);
    }
    }
}

/* A value could not be materialised: the reader stopped inside it, so it
 * cannot go on; the failure becomes sticky like a syntax error. */
static int build_failed(fa_json_reader *r, int rc) {
    if (!r->failed) {
        r->failed = rc;
        snprintf(r->failmsg, sizeof r->failmsg, "%s", fa_err_msg());
    }
    return rc;
}

int fa_json_read_value(fa_json_reader *r, fa_arena *a, fa_json_value **out) {
    fa_json_token t;
    *out = NULL;
    int rc = fa_json_next(r, &t);
    if (rc) return rc;
    if (t.type == FA_JSON_TOK_EOF) return 0;
    r->top = 0;
    rc = build_value(r, a, &t, out);
    if (rc) {
        *out = NULL;
        return build_failed(r, rc);
    }
    return 0;
}

int fa_json_array_next(fa_json_reader *r, fa_arena *a, fa_json_value **out) {
    fa_json_token t;
    *out = NULL;
    int rc = fa_json_next(r, &t);
    if (rc) return rc;
    if (t.type == FA_JSON_TOK_END_ARRAY) return 0;
    r->top = 0;
    rc = build_value(r, a, &t, out);
    if (rc) {
        *out = NULL;
        return build_failed(r, rc);
    }
    return 1;
}

int fa_json_skip_value(fa_json_reader *r) {
    fa_json_token t;
    int rc = fa_json_next(r, &t);
    if (rc) return rc;
    switch (t.type) {
    case FA_JSON_TOK_STRING:
    case FA_JSON_TOK_NUMBER:
    case FA_JSON_TOK_TRUE:
    case FA_JSON_TOK_FALSE:
    case FA_JSON_TOK_NULL: return 0;
    case FA_JSON_TOK_BEGIN_ARRAY:
    case FA_JSON_TOK_BEGIN_OBJECT: break;
    default: {
        char got[96];
        describe_token(&t, got, sizeof got);
        return fa_err_set(FA_EINVAL, "%s:%" PRIu32 ":%" PRIu32 ": expected a value, got %s", r->src->name,
                          t.line, t.col, got);
    }
    }
    /* The tokenizer checks the nesting; count it down to the matching close. */
    for (int depth = 1; depth > 0;) {
        if ((rc = next_token(r, &t))) return rc;
        if (t.type == FA_JSON_TOK_BEGIN_ARRAY || t.type == FA_JSON_TOK_BEGIN_OBJECT) depth++;
        if (t.type == FA_JSON_TOK_END_ARRAY || t.type == FA_JSON_TOK_END_OBJECT) depth--;
    }
    return 0;
}

int fa_json_parse(const char *name, const char *data, size_t len, fa_arena *a, fa_json_value **out) {
    *out = NULL;
    fa_json_reader *r = fa_json_open_mem(name, data, len, 0);
    if (!r) return fa_err_code() ? fa_err_code() : FA_ENOMEM;
    fa_json_value *v = NULL;
    fa_json_token t;
    int rc = fa_json_read_value(r, a, &v);
    if (!rc) rc = fa_json_next(r, &t); /* reports trailing data */
    fa_json_close(r);
    if (!rc) *out = v;
    return rc;
}

/* ---------------------------------------------------------------- lookup */

const char *fa_json_type_name(fa_json_type t) {
    switch (t) {
    case FA_JSON_NULL: return "null";
    case FA_JSON_FALSE:
    case FA_JSON_TRUE: return "boolean";
    case FA_JSON_NUMBER: return "number";
    case FA_JSON_STRING: return "string";
    case FA_JSON_ARRAY: return "array";
    case FA_JSON_OBJECT: return "object";
    }
    return "value";
}

const fa_json_value *fa_json_get(const fa_json_value *obj, const char *key) {
    if (!obj || obj->type != FA_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->u.obj.n; i++)
        if (strcmp(obj->u.obj.keys[i], key) == 0) return obj->u.obj.vals[i];
    return NULL;
}

/* ---------------------------------------------------------------- getters */

static void describe_value(const fa_json_value *v, char *out, size_t n) {
    char q[64];
    switch (v->type) {
    case FA_JSON_STRING:
        quote_excerpt(v->u.str.ptr, v->u.str.len, q, sizeof q);
        snprintf(out, n, "string %s", q);
        break;
    case FA_JSON_NUMBER:
        format_num(v->u.num, q, sizeof q);
        snprintf(out, n, "number %s", q);
        break;
    case FA_JSON_TRUE: snprintf(out, n, "true"); break;
    case FA_JSON_FALSE: snprintf(out, n, "false"); break;
    default: snprintf(out, n, "%s", fa_json_type_name(v->type));
    }
}

int fa_json_error(const fa_json_reader *r, const fa_json_value *at, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *name = r ? r->src->name : NULL;
    if (at && name)
        return fa_err_set(FA_EINVAL, "%s:%" PRIu32 ":%" PRIu32 ": %s", name, at->line, at->col, msg);
    if (at) return fa_err_set(FA_EINVAL, "%" PRIu32 ":%" PRIu32 ": %s", at->line, at->col, msg);
    return fa_err_set(FA_EINVAL, "%s: %s", name ? name : "json", msg);
}

static int wrong_type(const fa_json_reader *r, const fa_json_value *v, const char *key, const char *want) {
    char got[96];
    describe_value(v, got, sizeof got);
    return fa_json_error(r, v, "field '%s': expected %s, got %s", key, want, got);
}

/* The field's value, or NULL when absent or null; < 0 in *rc when obj is
 * not an object. */
static const fa_json_value *field(const fa_json_reader *r, const fa_json_value *obj, const char *key,
                                  int *rc) {
    *rc = 0;
    if (!obj) return NULL;
    if (obj->type != FA_JSON_OBJECT) {
        char got[96];
        describe_value(obj, got, sizeof got);
        *rc = fa_json_error(r, obj, "expected an object with field '%s', got %s", key, got);
        return NULL;
    }
    const fa_json_value *v = fa_json_get(obj, key);
    return v && v->type != FA_JSON_NULL ? v : NULL;
}

static int missing(const fa_json_reader *r, const fa_json_value *obj, const char *key, const char *want) {
    const fa_json_value *v = fa_json_get(obj, key);
    if (v) return wrong_type(r, v, key, want); /* present but null */
    return fa_json_error(r, obj, "missing required field '%s'", key);
}

int fa_json_opt_num(const fa_json_reader *r, const fa_json_value *obj, const char *key, double *out) {
    int rc;
    const fa_json_value *v = field(r, obj, key, &rc);
    *out = NAN;
    if (!v) return rc;
    if (v->type != FA_JSON_NUMBER) return wrong_type(r, v, key, "number");
    *out = v->u.num;
    return 1;
}

int fa_json_req_num(const fa_json_reader *r, const fa_json_value *obj, const char *key, double *out) {
    int rc = fa_json_opt_num(r, obj, key, out);
    if (rc == 0) return missing(r, obj, key, "number");
    return rc < 0 ? rc : 0;
}

int fa_json_opt_int(const fa_json_reader *r, const fa_json_value *obj, const char *key, int64_t lo,
                    int64_t hi, int64_t *out) {
    int rc;
    const fa_json_value *v = field(r, obj, key, &rc);
    if (!v) return rc;
    if (v->type != FA_JSON_NUMBER || v->u.num != floor(v->u.num)) return wrong_type(r, v, key, "integer");
    double d = v->u.num;
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0 || (int64_t)d < lo || (int64_t)d > hi) {
        char num[40];
        format_num(d, num, sizeof num);
        return fa_json_error(r, v, "field '%s': %s out of range [%" PRId64 ", %" PRId64 "]", key, num, lo,
                             hi);
    }
    *out = (int64_t)d;
    return 1;
}

int fa_json_req_int(const fa_json_reader *r, const fa_json_value *obj, const char *key, int64_t lo,
                    int64_t hi, int64_t *out) {
    int rc = fa_json_opt_int(r, obj, key, lo, hi, out);
    if (rc == 0) return missing(r, obj, key, "integer");
    return rc < 0 ? rc : 0;
}

int fa_json_opt_str(const fa_json_reader *r, const fa_json_value *obj, const char *key, const char **out) {
    int rc;
    const fa_json_value *v = field(r, obj, key, &rc);
    *out = NULL;
    if (!v) return rc;
    if (v->type != FA_JSON_STRING) return wrong_type(r, v, key, "string");
    *out = v->u.str.ptr;
    return 1;
}

int fa_json_req_str(const fa_json_reader *r, const fa_json_value *obj, const char *key, const char **out) {
    int rc = fa_json_opt_str(r, obj, key, out);
    if (rc == 0) return missing(r, obj, key, "string");
    return rc < 0 ? rc : 0;
}

int fa_json_opt_bool(const fa_json_reader *r, const fa_json_value *obj, const char *key, int *out) {
    int rc;
    const fa_json_value *v = field(r, obj, key, &rc);
    if (!v) return rc;
    if (v->type != FA_JSON_TRUE && v->type != FA_JSON_FALSE) return wrong_type(r, v, key, "boolean");
    *out = v->type == FA_JSON_TRUE;
    return 1;
}

static int opt_of_type(const fa_json_reader *r, const fa_json_value *obj, const char *key, fa_json_type type,
                       const fa_json_value **out) {
    int rc;
    const fa_json_value *v = field(r, obj, key, &rc);
    *out = NULL;
    if (!v) return rc;
    if (v->type != type) return wrong_type(r, v, key, fa_json_type_name(type));
    *out = v;
    return 1;
}

int fa_json_opt_obj(const fa_json_reader *r, const fa_json_value *obj, const char *key,
                    const fa_json_value **out) {
    return opt_of_type(r, obj, key, FA_JSON_OBJECT, out);
}

int fa_json_req_obj(const fa_json_reader *r, const fa_json_value *obj, const char *key,
                    const fa_json_value **out) {
    int rc = opt_of_type(r, obj, key, FA_JSON_OBJECT, out);
    if (rc == 0) return missing(r, obj, key, "object");
    return rc < 0 ? rc : 0;
}

int fa_json_opt_arr(const fa_json_reader *r, const fa_json_value *obj, const char *key,
                    const fa_json_value **out) {
    return opt_of_type(r, obj, key, FA_JSON_ARRAY, out);
}

int fa_json_req_arr(const fa_json_reader *r, const fa_json_value *obj, const char *key,
                    const fa_json_value **out) {
    int rc = opt_of_type(r, obj, key, FA_JSON_ARRAY, out);
    if (rc == 0) return missing(r, obj, key, "array");
    return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------- writer */

int fa_json_write_str(fa_buf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    if (fa_buf_putc(b, '"')) return FA_ENOMEM;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *q = p;
        while (*q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\') q++;
        if (q > p && fa_buf_append(b, p, (size_t)(q - p))) return FA_ENOMEM;
        p = q;
        if (!*p) break;
        char esc[8] = {'\\', 0};
        size_t n = 2, k;
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            if (*p < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[*p >> 4];
                esc[5] = hex[*p & 15];
                n = 6;
            } else if ((k = fa_src_utf8_len(p, strnlen((const char *)p, 4))) != 0) {
                memcpy(esc, p, k); /* valid multi-byte character: as is */
                n = k;
                p += k - 1;
            } else {
                memcpy(esc, "\\ufffd", 6); /* invalid byte: the replacement character */
                n = 6;
            }
        }
        if (fa_buf_append(b, esc, n)) return FA_ENOMEM;
        p++;
    }
    return fa_buf_putc(b, '"') ? FA_ENOMEM : 0;
}

/* Shortest of %.15g / %.16g / %.17g that reads back as v; integers of up to
 * 17 digits without exponent; "null" for NAN and infinities. */
static void format_num(double v, char *out, size_t n) {
    if (!isfinite(v)) {
        snprintf(out, n, "null");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e17) {
        snprintf(out, n, "%.0f", v);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v) return;
    }
}

int fa_json_write_num(fa_buf *b, double v) {
    char num[40];
    format_num(v, num, sizeof num);
    return fa_buf_puts(b, num) ? FA_ENOMEM : 0;
}
