/*
 * http1.c - the HTTP/1.1 wire format: the incremental request parser, the
 * request accessors of api.h (header and query lookup), and the response
 * head writer. See http1.h for the strictness rules and the statuses.
 *
 * Speed: the server calls fa_h1_parse once per request on bytes that are
 * already in memory, so the parser is a few tight loops over byte classes
 * (table lookups, inlined), with memchr for the end-of-head search and no
 * allocation. Every inner loop stops at '\n', and a head handed to
 * parse_head always ends in '\n' (the blank line), so the loops need no
 * bounds checks: the blank line is their sentinel.
 *
 * The response head is written with memcpy into one reservation of the
 * output buffer (no printf in the hot path); Date is formatted once a
 * second by whoever owns the fa_h1_date (one per event loop).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/http1.h"

/* RFC 9110 tchar: "!#$%&'*+-.^_`|~", digits, letters. */
static const unsigned char tchar_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static inline int is_tchar(unsigned char c) { return tchar_class[c]; }
/* field-vchar, SP, HTAB and obs-text: anything but CTLs (CR, LF, NUL...) and DEL. */
static inline int is_value_char(unsigned char c) { return (c >= 0x20 && c != 0x7F) || c == '\t'; }
/* Request-target bytes: anything visible, obs-text included; handlers validate further. */
static inline int is_target_char(unsigned char c) { return c > 0x20 && c != 0x7F; }
static inline int is_ows(unsigned char c) { return c == ' ' || c == '\t'; }
static inline unsigned char ascii_lower(unsigned char c) {
    return (unsigned char)((unsigned)(c - 'A') < 26u ? c | 0x20 : c);
}

static inline int hex_value(unsigned char c) {
    if ((unsigned)(c - '0') < 10u) return c - '0';
    c = (unsigned char)(c | 0x20);
    if ((unsigned)(c - 'a') < 6u) return c - 'a' + 10;
    return -1;
}

/* a[0..n) equals the lower-case literal lit (of length n), ignoring ASCII case. */
static int caseeq_lit(const char *a, const char *lit, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)a[i]) != (unsigned char)lit[i]) return 0;
    return 1;
}

static int caseeq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i])) return 0;
    return 1;
}

static int fail(fa_h1_error *err, int status, const char *what, size_t at) {
    err->status = status;
    err->what = what;
    err->at = at;
    return -1;
}

/* ---------------------------------------------------------------- head parsing */

/* What parse_head learned from the headers that frame the message. */
typedef struct head_info {
    int n_length, n_host, has_te, te_chunked, conn_close, conn_keep_alive, expect_continue;
    size_t content_length; /* saturates at SIZE_MAX */
} head_info;

/* Calls on_token for each element of a comma-separated list (OWS trimmed). */
static void list_tokens(const char *p, size_t n, head_info *hi,
                        void (*on_token)(head_info *hi, const char *t, size_t tn)) {
    size_t i = 0;
    while (i < n) {
        const char *comma = memchr(p + i, ',', n - i);
        size_t j = comma ? (size_t)(comma - p) : n, a = i, b = j;
        while (a < b && is_ows((unsigned char)p[a])) a++;
        while (b > a && is_ows((unsigned char)p[b - 1])) b--;
        if (b > a) on_token(hi, p + a, b - a);
        i = j + 1;
    }
}

static void on_connection_token(head_info *hi, const char *t, size_t n) {
    if (n == 5 && caseeq_lit(t, "close", 5)) hi->conn_close = 1;
    if (n == 10 && caseeq_lit(t, "keep-alive", 10)) hi->conn_keep_alive = 1;
}

static void on_te_token(head_info *hi, const char *t, size_t n) {
    const char *semi = memchr(t, ';', n); /* transfer-parameters */
    size_t len = semi ? (size_t)(semi - t) : n;
    while (len && is_ows((unsigned char)t[len - 1])) len--;
    if (len == 7 && caseeq_lit(t, "chunked", 7)) hi->te_chunked = 1;
}

static int parse_length(const char *v, size_t n, size_t *out) {
    if (n == 0) return -1;
    size_t x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)((unsigned char)v[i] - '0');
        if (d > 9) return -1;
        x = x > (SIZE_MAX - d) / 10 ? SIZE_MAX : x * 10 + d;
    }
    *out = x;
    return 0;
}

/* Notes the headers that frame the message or steer the connection. */
static int note_header(const fa_http_header *h, head_info *hi, fa_h1_error *err, size_t at) {
    const char *n = h->name.p;
    switch (h->name.n) {
    case 4:
        if (caseeq_lit(n, "host", 4)) hi->n_host++;
        break;
    case 6:
        if (caseeq_lit(n, "expect", 6) && h->value.n == 12 && caseeq_lit(h->value.p, "100-continue", 12))
            hi->expect_continue = 1;
        break;
    case 10:
        if (caseeq_lit(n, "connection", 10)) list_tokens(h->value.p, h->value.n, hi, on_connection_token);
        break;
    case 14:
        if (!caseeq_lit(n, "content-length", 14)) break;
        if (++hi->n_length > 1) return fail(err, 400, "duplicate Content-Length", at);
        if (parse_length(h->value.p, h->value.n, &hi->content_length))
            return fail(err, 400, "Content-Length is not a decimal number", at);
        break;
    case 17:
        if (!caseeq_lit(n, "transfer-encoding", 17)) break;
        hi->has_te = 1;
        list_tokens(h->value.p, h->value.n, hi, on_te_token);
        break;
    default: break;
    }
    return 0;
}

static fa_http_method method_of(const char *m, size_t n) {
    switch (n) {
    case 3:
        if (!memcmp(m, "GET", 3)) return FA_HTTP_GET;
        if (!memcmp(m, "PUT", 3)) return FA_HTTP_PUT;
        break;
    case 4:
        if (!memcmp(m, "HEAD", 4)) return FA_HTTP_HEAD;
        if (!memcmp(m, "POST", 4)) return FA_HTTP_POST;
        break;
    case 6:
        if (!memcmp(m, "DELETE", 6)) return FA_HTTP_DELETE;
        break;
    case 7:
        if (!memcmp(m, "OPTIONS", 7)) return FA_HTTP_OPTIONS;
        break;
    default: break;
    }
    return FA_HTTP_OTHER;
}

/* Consumes a line end (CRLF or LF) at buf[*i]; -1 when something else is there. */
static inline int line_end(const char *buf, size_t *i) {
    if (buf[*i] == '\n') {
        *i += 1;
        return 0;
    }
    if (buf[*i] == '\r' && buf[*i + 1] == '\n') {
        *i += 2;
        return 0;
    }
    return -1;
}

/* The request line from buf[*i]: method SP request-target SP HTTP-version. */
static int parse_request_line(const char *buf, size_t *i, fa_http_request *req, fa_h1_error *err) {
    size_t k = *i, m0 = k;
    while (is_tchar((unsigned char)buf[k])) k++;
    if (k == m0 || buf[k] != ' ') return fail(err, 400, "invalid method", k);
    req->method_text = (fa_strv){buf + m0, k - m0};
    req->method = method_of(buf + m0, k - m0);
    size_t t0 = ++k;
    while (is_target_char((unsigned char)buf[k])) k++;
    if (k == t0 || buf[k] != ' ') return fail(err, 400, "invalid request target", k);
    req->target = (fa_strv){buf + t0, k - t0};
    const char *v = buf + ++k;
    /* The line ends in '\n', so stopping at the first mismatch never reads past it. */
    if (v[0] != 'H' || v[1] != 'T' || v[2] != 'T' || v[3] != 'P' || v[4] != '/' ||
        (unsigned)(v[5] - '0') > 9u || v[6] != '.' || (unsigned)(v[7] - '0') > 9u)
        return fail(err, 400, "invalid HTTP version", k);
    k += 8;
    if (line_end(buf, &k)) return fail(err, 400, "invalid HTTP version", k);
    if (v[5] != '1') return fail(err, 505, "only HTTP/1.x is supported", k);
    req->minor = v[7] - '0';
    *i = k;
    return 0;
}

/* The header lines from buf[*i] up to and including the blank line. */
static int parse_headers(const char *buf, size_t *i, fa_http_request *req, head_info *hi, fa_h1_error *err) {
    size_t k = *i;
    req->nheaders = 0;
    for (;;) {
        unsigned char c = (unsigned char)buf[k];
        if (c == '\r' || c == '\n') break;
        if (is_ows(c)) return fail(err, 400, "obsolete line folding (header line starts with whitespace)", k);
        size_t n0 = k;
        while (is_tchar((unsigned char)buf[k])) k++;
        if (k == n0 || buf[k] != ':') return fail(err, 400, "invalid character in header name", k);
        size_t n1 = k++;
        while (is_ows((unsigned char)buf[k])) k++;
        size_t v0 = k;
        while (is_value_char((unsigned char)buf[k])) k++;
        size_t v1 = k;
        while (v1 > v0 && is_ows((unsigned char)buf[v1 - 1])) v1--;
        size_t at = k;
        if (line_end(buf, &k))
            return fail(err, 400, buf[k] == '\r' ? "bare CR in header" : "invalid character in header value",
                        k);
        if (req->nheaders == FA_HTTP_MAX_HEADERS) return fail(err, 431, "too many header fields", n0);
        fa_http_header *h = &req->headers[req->nheaders++];
        h->name = (fa_strv){buf + n0, n1 - n0};
        h->value = (fa_strv){buf + v0, v1 - v0};
        if (note_header(h, hi, err, at)) return -1;
    }
    if (line_end(buf, &k)) return fail(err, 400, "bare CR in header", k);
    *i = k;
    return 0;
}

int fa_h1_is_tchar(unsigned char c) { return is_tchar(c); }

int fa_h1_percent_decode(const char *s, size_t n, char *out, size_t *out_n) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (n - i < 3) return -1;
        int hi = hex_value((unsigned char)s[i + 1]), lo = hex_value((unsigned char)s[i + 2]);
        if (hi < 0 || lo < 0) return -1;
        if (hi == 0 && lo == 0) return -2;
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    *out_n = o;
    return 0;
}

/* Splits the target into path and query and decodes the path. */
static int split_target(fa_http_request *req, char *scratch, fa_h1_error *err, size_t at) {
    const char *t = req->target.p, *end = t + req->target.n;
    static const char star[] = "*", slash[] = "/", empty[] = "";
    req->query = (fa_strv){empty, 0};
    if (req->target.n == 1 && t[0] == '*') {
        if (req->method != FA_HTTP_OPTIONS) return fail(err, 400, "'*' target is only for OPTIONS", at);
        req->path = (fa_strv){star, 1};
        return 0;
    }
    if (t[0] != '/') { /* absolute-form: scheme "://" authority [path] */
        size_t skip = req->target.n > 7 && caseeq_lit(t, "http://", 7)    ? 7
                      : req->target.n > 8 && caseeq_lit(t, "https://", 8) ? 8
                                                                          : 0;
        if (!skip) return fail(err, 400, "request target is not a path or an absolute URI", at);
        const char *p = t + skip;
        while (p < end && *p != '/' && *p != '?') p++;
        if (p == t + skip) return fail(err, 400, "absolute URI without a host", at);
        t = p;
    }
    const char *q = memchr(t, '?', (size_t)(end - t));
    const char *pend = q ? q : end;
    if (q) req->query = (fa_strv){q + 1, (size_t)(end - q - 1)};
    if (pend == t) {
        req->path = (fa_strv){slash, 1};
        return 0;
    }
    size_t n = (size_t)(pend - t);
    if (!memchr(t, '%', n)) {
        req->path = (fa_strv){t, n};
        return 0;
    }
    size_t dn = 0;
    int r = fa_h1_percent_decode(t, n, scratch, &dn);
    if (r == -2) return fail(err, 400, "percent-encoded NUL in path", at);
    if (r) return fail(err, 400, "bad percent-escape in path", at);
    req->path = (fa_strv){scratch, dn};
    return 0;
}

/* Parses the head buf[start..end) (end just past the blank line) into req. */
static int parse_head(const char *buf, size_t start, const fa_h1_limits *lim, fa_http_request *req,
                      char *scratch, head_info *hi, fa_h1_error *err) {
    size_t i = start;
    memset(hi, 0, sizeof *hi);
    if (parse_request_line(buf, &i, req, err)) return -1;
    size_t target_at = (size_t)(req->target.p - buf);
    if (parse_headers(buf, &i, req, hi, err)) return -1;
    if (hi->has_te && hi->n_length) return fail(err, 400, "both Content-Length and Transfer-Encoding", start);
    if (hi->has_te && hi->te_chunked)
        return fail(err, 411, "chunked request bodies are not accepted: send Content-Length", start);
    if (hi->has_te) return fail(err, 501, "unsupported Transfer-Encoding", start);
    if (req->minor >= 1 && hi->n_host == 0) return fail(err, 400, "missing Host header", start);
    if (hi->n_host > 1) return fail(err, 400, "duplicate Host header", start);
    if (split_target(req, scratch, err, target_at)) return -1;
    if (hi->content_length > lim->max_body_bytes) return fail(err, 413, "request body too large", start);
    req->keep_alive = req->minor >= 1 ? !hi->conn_close : hi->conn_keep_alive && !hi->conn_close;
    req->body = (fa_strv){buf + i, 0};
    req->id = 0;
    return 0;
}

/* Offset just past the blank line that ends the head, searching LFs from
 * `from`; 0 when it is not in buf yet (*resume: where to search next time);
 * BARE_CR_LINE when a line starts with a CR that no LF follows (the head can
 * never become valid, so waiting for more would only help a slowloris). */
#define BARE_CR_LINE SIZE_MAX
static size_t find_head_end(const char *buf, size_t len, size_t from, size_t *resume) {
    size_t i = from;
    while (i < len) {
        const char *lf = memchr(buf + i, '\n', len - i);
        if (!lf) break;
        size_t k = (size_t)(lf - buf);
        if (k + 1 >= len || (buf[k + 1] == '\r' && k + 2 >= len)) {
            *resume = k;
            return 0;
        }
        if (buf[k + 1] == '\n') return k + 2;
        if (buf[k + 1] == '\r') return buf[k + 2] == '\n' ? k + 3 : BARE_CR_LINE;
        i = k + 1;
    }
    *resume = len;
    return 0;
}

/* Skips empty lines before the request line (RFC 9112 section 2.2). */
static size_t skip_empty_lines(const char *buf, size_t len, size_t s) {
    for (;;) {
        if (s < len && buf[s] == '\n')
            s++;
        else if (s + 1 < len && buf[s] == '\r' && buf[s + 1] == '\n')
            s += 2;
        else
            return s;
    }
}

/* Whether the bytes so far cannot start a request line: a non-token byte
 * within the first 32 before the space after the method. Rejects TLS
 * handshakes and binary noise at once instead of at the header timeout. */
static int bad_method_prefix(const char *buf, size_t len, size_t start) {
    size_t k = start, end = len < start + 32 ? len : start + 32;
    while (k < end && is_tchar((unsigned char)buf[k])) k++;
    if (k == end) return 0;
    if (k == start) return !(buf[k] == '\r' && k + 1 == len); /* maybe an empty line's CR */
    return buf[k] != ' ';
}

void fa_h1_parser_reset(fa_h1_parser *p) { memset(p, 0, sizeof *p); }

size_t fa_h1_parser_need(const fa_h1_parser *p) { return p->head_len ? p->head_len + p->body_len : 0; }

static int complete(fa_h1_parser *p, const char *buf, fa_http_request *req, size_t *consumed) {
    req->body = (fa_strv){buf + p->head_len, p->body_len};
    *consumed = p->head_len + p->body_len;
    fa_h1_parser_reset(p);
    return 1;
}

int fa_h1_parse(fa_h1_parser *p, const char *buf, size_t len, const fa_h1_limits *lim, fa_http_request *req,
                char *scratch, fa_h1_error *err, size_t *consumed) {
    head_info hi;
    if (p->head_len) { /* head seen in an earlier call: wait for the body, then parse again */
        if (len - p->head_len < p->body_len) return 0;
        if (parse_head(buf, p->start, lim, req, scratch, &hi, err)) return -1; /* cannot happen */
        return complete(p, buf, req, consumed);
    }
    p->start = skip_empty_lines(buf, len, p->start);
    if (p->scan < p->start) p->scan = p->start;
    size_t resume = len;
    size_t end = find_head_end(buf, len, p->scan, &resume);
    if (!end) {
        p->scan = resume;
        if (bad_method_prefix(buf, len, p->start)) return fail(err, 400, "invalid method", p->start);
        if (len > lim->max_header_bytes)
            return fail(err, 431, "request head too large", lim->max_header_bytes);
        return 0;
    }
    if (end == BARE_CR_LINE) return fail(err, 400, "bare CR in header", p->scan);
    if (end > lim->max_header_bytes) return fail(err, 431, "request head too large", lim->max_header_bytes);
    if (parse_head(buf, p->start, lim, req, scratch, &hi, err)) return -1;
    p->head_len = end;
    p->body_len = hi.content_length;
    p->expect_continue = hi.expect_continue && req->minor >= 1 && hi.content_length > 0;
    if (len - end >= p->body_len) return complete(p, buf, req, consumed);
    return 0;
}

/* ---------------------------------------------------------------- request accessors */

const fa_strv *fa_http_header_get(const fa_http_request *r, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++) {
        const fa_http_header *h = &r->headers[i];
        if (h->name.n == n && caseeq(h->name.p, name, n)) return &h->value;
    }
    return NULL;
}

/* Form decoding ('+' is a space) of s[*i]; -1 on a bad escape. */
static int form_char(const char *s, size_t n, size_t *i) {
    unsigned char c = (unsigned char)s[*i];
    if (c == '+') {
        *i += 1;
        return ' ';
    }
    if (c != '%') {
        *i += 1;
        return c;
    }
    if (n - *i < 3) return -1;
    int hi = hex_value((unsigned char)s[*i + 1]), lo = hex_value((unsigned char)s[*i + 2]);
    if (hi < 0 || lo < 0) return -1;
    *i += 3;
    return hi << 4 | lo;
}

/* Whether the encoded key s[0..n) decodes to key (a bad escape never matches). */
static int query_key_is(const char *s, size_t n, const char *key) {
    size_t i = 0, k = 0;
    while (i < n) {
        int c = form_char(s, n, &i);
        if (c < 0 || key[k] == '\0' || (unsigned char)key[k] != c) return 0;
        k++;
    }
    return key[k] == '\0';
}

static int query_value(const char *s, size_t n, const char *key, char *buf, size_t size) {
    size_t i = 0, o = 0;
    while (i < n) {
        int c = form_char(s, n, &i);
        if (c < 0) return fa_err_set(FA_EINVAL, "query parameter '%s': bad percent-escape", key);
        if (c == 0) return fa_err_set(FA_EINVAL, "query parameter '%s': percent-encoded NUL", key);
        if (o + 1 >= size)
            return fa_err_set(FA_ELIMIT, "query parameter '%s': longer than %zu bytes", key,
                              size ? size - 1 : 0);
        buf[o++] = (char)c;
    }
    if (size == 0) return fa_err_set(FA_ELIMIT, "query parameter '%s': no room for the value", key);
    buf[o] = '\0';
    return 1;
}

int fa_http_query_get(const fa_http_request *r, const char *key, char *buf, size_t size) {
    const char *q = r->query.p, *end = q + r->query.n;
    while (q && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        if (!amp) amp = end;
        const char *eq = memchr(q, '=', (size_t)(amp - q));
        const char *key_end = eq ? eq : amp;
        if (query_key_is(q, (size_t)(key_end - q), key)) {
            const char *v = eq ? eq + 1 : amp;
            return query_value(v, (size_t)(amp - v), key, buf, size);
        }
        q = amp + 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- responses */

int fa_http_response_header(fa_http_response *resp, const char *name, const char *value) {
    return fa_http_response_header_n(resp, name, strlen(name), value, strlen(value));
}

int fa_http_response_header_n(fa_http_response *resp, const char *name, size_t nn, const char *value, size_t vn) {
    if (resp->nheaders >= FA_HTTP_MAX_RESP_HEADERS)
        return fa_err_set(FA_ELIMIT, "response header '%.*s': already %d headers", (int)nn, name,
                          FA_HTTP_MAX_RESP_HEADERS);
    if (nn >= sizeof resp->headers[0][0] || vn >= sizeof resp->headers[0][1])
        return fa_err_set(FA_ELIMIT, "response header '%.*s': name or value longer than %zu bytes",
                          (int)(nn < 40 ? nn : 40), name, sizeof resp->headers[0][0] - 1);
    if (nn == 0) return fa_err_set(FA_EINVAL, "response header: empty name");
    for (size_t i = 0; i < nn; i++)
        if (!is_tchar((unsigned char)name[i]))
            return fa_err_set(FA_EINVAL, "response header '%.*s': invalid character in name", (int)nn, name);
    if (memchr(value, '\r', vn) || memchr(value, '\n', vn) || memchr(value, '\0', vn))
        return fa_err_set(FA_EINVAL, "response header '%.*s': CR, LF or NUL in value", (int)nn, name);
    memcpy(resp->headers[resp->nheaders][0], name, nn);
    resp->headers[resp->nheaders][0][nn] = '\0';
    memcpy(resp->headers[resp->nheaders][1], value, vn);
    resp->headers[resp->nheaders][1][vn] = '\0';
    resp->nheaders++;
    return 0;
}

void fa_h1_date_set(fa_h1_date *d, time_t now) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (now == d->sec && d->text[0]) return;
    struct tm tm;
    if (!gmtime_r(&now, &tm)) return;
    d->sec = now;
    snprintf(d->text, sizeof d->text, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const char *fa_h1_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static inline char *put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}
#define PUT_LIT(p, s) put((p), (s), sizeof(s) - 1)

static char *put_size(char *p, size_t v) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

/* Length of an extra header's name when it may be sent, else 0. */
static size_t sendable_name(const char *name, const char *value) {
    size_t n = strnlen(name, 128);
    if (n == 0 || n == 128 || strnlen(value, 128) == 128 || strcspn(value, "\r\n") != strlen(value)) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)name[i])) return 0;
    if ((n == 10 && caseeq_lit(name, "connection", 10)) ||
        (n == 14 && caseeq_lit(name, "content-length", 14)) ||
        (n == 17 && caseeq_lit(name, "transfer-encoding", 17)))
        return 0;
    return n;
}

static int write_head(fa_buf *out, int status, const char *content_type, const char (*headers)[2][128],
                      size_t nheaders, size_t content_length, unsigned flags, const fa_h1_date *date) {
    const char *reason = fa_h1_reason(status);
    size_t ct =
        content_type && strcspn(content_type, "\r\n") == strlen(content_type) ? strlen(content_type) : 0;
    size_t dn = strlen(date->text), rn = strlen(reason);
    size_t names[FA_HTTP_MAX_RESP_HEADERS];
    size_t need = 200 + rn + ct + dn;
    if (nheaders > FA_HTTP_MAX_RESP_HEADERS) nheaders = FA_HTTP_MAX_RESP_HEADERS;
    for (size_t i = 0; i < nheaders; i++) {
        names[i] = sendable_name(headers[i][0], headers[i][1]);
        need += names[i] ? names[i] + strlen(headers[i][1]) + 4 : 0;
    }
    if (fa_buf_reserve(out, need)) return FA_ENOMEM;
    char *p = out->data + out->len;
    unsigned s = status >= 100 && status <= 999 ? (unsigned)status : 500;
    p = PUT_LIT(p, "HTTP/1.1 ");
    *p++ = (char)('0' + s / 100);
    *p++ = (char)('0' + s / 10 % 10);
    *p++ = (char)('0' + s % 10);
    *p++ = ' ';
    p = put(p, reason, rn);
    p = PUT_LIT(p, "\r\nServer: footanalytics/" FA_VERSION "\r\nDate: ");
    p = put(p, date->text, dn);
    if (ct) {
        p = PUT_LIT(p, "\r\nContent-Type: ");
        p = put(p, content_type, ct);
    }
    if (flags & FA_H1_LENGTH) {
        p = PUT_LIT(p, "\r\nContent-Length: ");
        p = put_size(p, content_length);
    }
    for (size_t i = 0; i < nheaders; i++) {
        if (!names[i]) continue;
        p = PUT_LIT(p, "\r\n");
        p = put(p, headers[i][0], names[i]);
        p = PUT_LIT(p, ": ");
        p = put(p, headers[i][1], strlen(headers[i][1]));
    }
    if (flags & FA_H1_CLOSE)
        p = PUT_LIT(p, "\r\nConnection: close");
    else if (flags & FA_H1_KEEP_ALIVE)
        p = PUT_LIT(p, "\r\nConnection: keep-alive");
    p = PUT_LIT(p, "\r\n\r\n");
    out->len = (size_t)(p - out->data);
    out->data[out->len] = '\0';
    return 0;
}

int fa_h1_write_head(fa_buf *out, int status, const fa_http_response *resp, size_t content_length,
                     unsigned flags, const fa_h1_date *date) {
    if (!resp) return write_head(out, status, NULL, NULL, 0, content_length, flags, date);
    return write_head(out, status, resp->content_type, (const char(*)[2][128])resp->headers, resp->nheaders,
                      content_length, flags, date);
}

int fa_h1_write_error(fa_buf *out, int status, const char *detail, int head_only, const fa_h1_date *date) {
    fa_buf body = {0};
    int rc = fa_buf_printf(&body, "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,\"detail\":",
                           fa_h1_reason(status), status);
    if (!rc) rc = fa_json_write_str(&body, detail ? detail : "");
    if (!rc) rc = fa_buf_puts(&body, "}\n");
    if (!rc)
        rc = write_head(out, status, "application/problem+json", NULL, 0, body.len,
                        FA_H1_LENGTH | FA_H1_CLOSE, date);
    if (!rc && !head_only) rc = fa_buf_append(out, body.data, body.len);
    fa_buf_free(&body);
    return rc ? FA_ENOMEM : 0;
}
