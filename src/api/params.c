/*
 * params.c - validation of query parameters and the opaque page cursors.
 *
 * Every parameter is checked before a handler touches the store, and every
 * rejection is a 400 problem that names the parameter, what it takes and
 * what came. Unknown keys are rejected too ("perod=1" would otherwise be
 * silently ignored and answer a different question than the one asked), as
 * are repeated keys (which of two periods did the client mean?).
 *
 * Values come from the server's fa_http_query_get (percent-decoding, and
 * refusing bad escapes, an encoded NUL and overlong values, is its job);
 * this file additionally scans the raw query for the keys present.
 *
 * Cursors are base64url of "<kind>1.<scope>.<position>": kind tells lists
 * apart ('m' matches, 'e' events), scope is a hash of the list's filters so
 * a cursor cannot be replayed against another query, position is the last
 * id or sequence number returned (keyset pagination: a page costs the same
 * wherever it is, and rows inserted meanwhile never shift a page).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_internal.h"

#define KEY_MAX 48

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into out[size]; -1 on a bad escape or overflow. */
static int decode_key(const char *s, size_t n, char *out, size_t size) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= size) return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (int)o;
}

/* Index of key in the route's list, -1 when absent. */
static int key_index(const char *const *keys, const char *key) {
    for (int i = 0; keys && keys[i]; i++)
        if (strcmp(keys[i], key) == 0) return i;
    return -1;
}

static int unknown_key(fa_api_req *r, const char *key) {
    const char *const *keys = r->route->query;
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; keys && keys[i]; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", keys[i]);
        if (n < 0 || (size_t)n >= sizeof list - used) break;
        used += (size_t)n;
    }
    char cut[68];
    fa_strlcpy_utf8(cut, key, 65);
    if (!keys || !keys[0])
        return fa_api_problem(r, 400, "invalid-parameter",
                              "unknown parameter '%s': %s takes no query parameters", cut, r->route->pattern);
    return fa_api_problem(r, 400, "invalid-parameter", "unknown parameter '%s' (%s takes: %s)", cut,
                          r->route->pattern, list);
}

static int check_key(fa_api_req *r, const char *key, uint64_t *seen) {
    int i = key_index(r->route->query, key);
    if (i < 0) return unknown_key(r, key);
    if (*seen & (1ull << i))
        return fa_api_problem(r, 400, "invalid-parameter", "parameter '%s' is given more than once", key);
    *seen |= 1ull << i;
    return 0;
}

static int malformed_key(fa_api_req *r, const char *p, size_t len) {
    char raw[68];
    size_t n = len < 64 ? len : 64;
    memcpy(raw, p, n);
    raw[n] = '\0';
    return fa_api_problem(r, 400, "invalid-parameter",
                          "query: parameter name '%s' is malformed (bad %%-escape or over %d bytes)", raw,
                          KEY_MAX - 1);
}

int fa_api_query_check(fa_api_req *r) {
    uint64_t seen = 0;
    const char *p = r->http->query.p, *end = p + r->http->query.n;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        if (seg_end > p) {
            const char *eq = memchr(p, '=', (size_t)(seg_end - p));
            size_t klen = (size_t)((eq ? eq : seg_end) - p);
            char key[KEY_MAX];
            if (decode_key(p, klen, key, sizeof key) < 0) return malformed_key(r, p, klen);
            int rc = check_key(r, key, &seen);
            if (rc) return rc;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

/* 1 present (decoded into buf), 0 absent, < 0 after a problem. */
static int get_value(fa_api_req *r, const char *key, char *buf, size_t size) {
    int rc = fa_http_query_get(r->http, key, buf, size);
    if (rc < 0) return fa_api_problem(r, 400, "invalid-parameter", "%s", fa_err_msg());
    return rc;
}

int fa_api_q_str(fa_api_req *r, const char *key, size_t max, char *buf, size_t size) {
    char value[1024];
    int rc = get_value(r, key, value, sizeof value);
    if (rc <= 0) return rc;
    size_t n = strlen(value), bad;
    if (n > max || n >= size) {
        char expected[64];
        snprintf(expected, sizeof expected, "at most %zu bytes", max < size ? max : size - 1);
        return fa_api_bad_param(r, "parameter", key, expected, value);
    }
    if (n == 0) return fa_api_bad_param(r, "parameter", key, "a non-empty value", value);
    if (!fa_utf8_valid(value, n, &bad))
        return fa_api_problem(r, 400, "invalid-parameter", "parameter '%s': not valid UTF-8 (byte %zu)", key,
                              bad);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            return fa_api_problem(r, 400, "invalid-parameter",
                                  "parameter '%s': control character at byte %zu", key, i);
    memcpy(buf, value, n + 1);
    return 1;
}

int fa_api_q_int(fa_api_req *r, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    char buf[256], expected[80];
    int rc = get_value(r, key, buf, sizeof buf);
    if (rc <= 0) return rc;
    if (fa_parse_int(buf, lo, hi, out) == 0 && buf[0] != '+') return 1;
    snprintf(expected, sizeof expected, "an integer %" PRId64 "..%" PRId64, lo, hi);
    return fa_api_bad_param(r, "parameter", key, expected, buf);
}

int fa_api_q_num(fa_api_req *r, const char *key, double lo, double hi, const char *expected, double *out) {
    char buf[256], range[96];
    double v;
    int rc = get_value(r, key, buf, sizeof buf);
    if (rc <= 0) return rc;
    if (fa_parse_double(buf, &v) == 0 && v >= lo && v <= hi && buf[0] != '+') {
        *out = v;
        return 1;
    }
    snprintf(range, sizeof range, "a number in [%g, %g]", lo, hi);
    return fa_api_bad_param(r, "parameter", key, expected ? expected : range, buf);
}

static int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int is_date(const char *s) {
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    return y >= 1800 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

int fa_api_q_date(fa_api_req *r, const char *key, char *out) {
    char buf[256];
    int rc = get_value(r, key, buf, sizeof buf);
    if (rc <= 0) return rc;
    if (!is_date(buf)) return fa_api_bad_param(r, "parameter", key, "a calendar date YYYY-MM-DD", buf);
    memcpy(out, buf, 11);
    return 1;
}

int fa_api_q_limit(fa_api_req *r, int *limit) {
    int64_t v = FA_API_LIMIT_DEFAULT;
    int rc = fa_api_q_int(r, "limit", 1, FA_API_LIMIT_MAX, &v);
    if (rc < 0) return rc;
    *limit = (int)v;
    return 1;
}

/* ------------------------------------------------------------ cursors */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(const unsigned char *in, size_t n, char *out, size_t size) {
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6 && o + 1 < size) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits > 0 && o + 1 < size) out[o++] = b64url[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

/* Decodes unpadded base64url; -1 on a character outside the alphabet or overflow. */
static int b64url_decode(const char *in, char *out, size_t size) {
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (const char *p = in; *p; p++) {
        const char *at = strchr(b64url, *p);
        if (!at) return -1;
        acc = (acc << 6) | (uint32_t)(at - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= size) return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return (int)o;
}

void fa_api_cursor_make(char kind, uint32_t scope, int64_t pos, char *out, size_t size) {
    char plain[64];
    int n = snprintf(plain, sizeof plain, "%c1.%08" PRIx32 ".%" PRId64, kind, scope, pos);
    b64url_encode((const unsigned char *)plain, (size_t)n, out, size);
}

int fa_api_q_cursor(fa_api_req *r, char kind, uint32_t scope, int64_t *pos) {
    static const char expected[] = "a next_cursor value from a previous page of this list";
    char buf[256], plain[64], k = 0, one = 0, end = 0;
    unsigned scope_in = 0;
    long long p = -1;
    int rc = get_value(r, "cursor", buf, sizeof buf);
    if (rc <= 0) return rc;
    if (strlen(buf) > 60 || b64url_decode(buf, plain, sizeof plain) < 0 ||
        sscanf(plain, "%c%c.%8x.%lld%c", &k, &one, &scope_in, &p, &end) != 4 || k != kind || one != '1' ||
        p < 0)
        return fa_api_bad_param(r, "parameter", "cursor", expected, buf);
    if (scope_in != scope)
        return fa_api_problem(r, 400, "invalid-parameter",
                              "parameter 'cursor': it belongs to the same list with other filters; keep the "
                              "filters of the first page, or start again without a cursor");
    *pos = p;
    return 1;
}
