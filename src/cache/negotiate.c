/*
 * negotiate.c - choosing the content coding of a response from the
 * request's Accept-Encoding (RFC 9110 section 12.5.3).
 *
 * The header is parsed in one pass into a weight per coding we can send
 * (identity, gzip, br, zstd) and one for "*"; nothing is allocated, so a
 * hit costs no more than the scan. The choice is the highest weight among
 * the variants the entry has, ties going to the smaller encoding on JSON
 * (br, then zstd, then gzip, then identity). Identity not named by the
 * client is still acceptable, but only as the last resort: browsers list
 * the codings they want and expect one of them.
 *
 * Malformed input never fails the request: an element with a bad weight
 * is ignored, unknown codings (deflate, compress) are ignored, and a
 * header that names nothing we have falls back to identity.
 */
#include <stddef.h>

#include "cache/cache_internal.h"

#define Q_UNSET (-1)

typedef struct accept_weights {
    int q[FA_CODING_COUNT]; /* thousandths; Q_UNSET when not listed */
    int star;               /* "*": thousandths or Q_UNSET */
} accept_weights;

const char *fa_cache_coding_name(fa_cache_coding c) {
    static const char *const names[FA_CODING_COUNT] = {"identity", "gzip", "br", "zstd"};
    return c >= 0 && c < FA_CODING_COUNT ? names[c] : NULL;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static int token_is(const char *p, size_t n, const char *word) {
    size_t i = 0;
    for (; i < n && word[i]; i++)
        if (lower(p[i]) != word[i]) return 0;
    return i == n && !word[i];
}

/* The coding a token names: a fa_cache_coding, FA_CODING_COUNT for "*",
 * FA_CODING_NONE for anything we cannot send. The length picks the one
 * candidate worth comparing. */
static int coding_of_token(const char *p, size_t n) {
    switch (n) {
    case 1: return *p == '*' ? FA_CODING_COUNT : FA_CODING_NONE;
    case 2: return token_is(p, n, "br") ? FA_CODING_BR : FA_CODING_NONE;
    case 4:
        if (token_is(p, n, "gzip")) return FA_CODING_GZIP;
        return token_is(p, n, "zstd") ? FA_CODING_ZSTD : FA_CODING_NONE;
    case 6: return token_is(p, n, "x-gzip") ? FA_CODING_GZIP : FA_CODING_NONE;
    case 8: return token_is(p, n, "identity") ? FA_CODING_IDENTITY : FA_CODING_NONE;
    default: return FA_CODING_NONE;
    }
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when malformed. */
static int parse_qvalue(const char *p, size_t n) {
    if (n == 0 || (p[0] != '0' && p[0] != '1')) return -1;
    int q = (p[0] - '0') * 1000;
    if (n == 1) return q;
    if (p[1] != '.' || n > 5) return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9') return -1;
        q += (p[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

static size_t skip_ows(const char *h, size_t i, size_t len) {
    while (i < len && is_ows(h[i])) i++;
    return i;
}

/* Reads the parameters after a coding up to the next ',' (or the end);
 * *q gets the weight (1000 when absent, -1 when malformed). Returns the
 * index just past the element. */
static size_t parse_params(const char *h, size_t i, size_t len, int *q) {
    *q = 1000;
    while (i < len && h[i] != ',') {
        if (h[i] != ';') { /* junk after the coding: the element is malformed */
            *q = -1;
            while (i < len && h[i] != ',') i++;
            break;
        }
        i = skip_ows(h, i + 1, len);
        size_t name = i;
        while (i < len && h[i] != '=' && h[i] != ';' && h[i] != ',' && !is_ows(h[i])) i++;
        int is_q = i - name == 1 && lower(h[name]) == 'q';
        i = skip_ows(h, i, len);
        if (i >= len || h[i] != '=') {
            if (is_q) *q = -1;
            continue;
        }
        i = skip_ows(h, i + 1, len);
        size_t val = i;
        while (i < len && h[i] != ';' && h[i] != ',' && !is_ows(h[i])) i++;
        if (is_q && *q >= 0) *q = parse_qvalue(h + val, i - val);
        i = skip_ows(h, i, len);
    }
    return i;
}

/* The first mention of a coding counts; later repeats are ignored. */
static void record_weight(accept_weights *w, int coding, int q) {
    if (coding == FA_CODING_NONE || q < 0) return;
    int *slot = coding == FA_CODING_COUNT ? &w->star : &w->q[coding];
    if (*slot == Q_UNSET) *slot = q;
}

static void parse_accept(const char *h, size_t len, accept_weights *w) {
    for (int c = 0; c < FA_CODING_COUNT; c++) w->q[c] = Q_UNSET;
    w->star = Q_UNSET;
    size_t i = 0;
    while (i < len) {
        i = skip_ows(h, i, len);
        size_t tok = i;
        while (i < len && h[i] != ',' && h[i] != ';' && !is_ows(h[i])) i++;
        int coding = coding_of_token(h + tok, i - tok);
        int q;
        i = parse_params(h, skip_ows(h, i, len), len, &q);
        if (i > tok) record_weight(w, coding, q);
        if (i < len) i++; /* the ',' */
    }
}

/* Weight of coding c after "*" and the identity rule; identity not named
 * at all is 0 but acceptable (the fallback), anything else at 0 is not. */
static int effective_q(const accept_weights *w, int c, int *acceptable) {
    int q = w->q[c] != Q_UNSET ? w->q[c] : w->star;
    if (q == Q_UNSET) {
        *acceptable = c == FA_CODING_IDENTITY;
        return 0;
    }
    *acceptable = q > 0;
    return q;
}

fa_cache_coding fa_cache_negotiate(const char *header, size_t len, unsigned available) {
    static const int by_preference[FA_CODING_COUNT] = {FA_CODING_BR, FA_CODING_ZSTD, FA_CODING_GZIP,
                                                       FA_CODING_IDENTITY};
    if (!header) {
        if (available & FA_CODING_BIT(FA_CODING_IDENTITY)) return FA_CODING_IDENTITY;
        for (int i = 0; i < FA_CODING_COUNT; i++)
            if (available & FA_CODING_BIT(by_preference[i])) return (fa_cache_coding)by_preference[i];
        return FA_CODING_NONE;
    }
    accept_weights w;
    parse_accept(header, len, &w);
    int best = FA_CODING_NONE, best_q = -1;
    for (int i = 0; i < FA_CODING_COUNT; i++) {
        int c = by_preference[i], acceptable;
        int q = effective_q(&w, c, &acceptable);
        if (!acceptable || !(available & FA_CODING_BIT(c))) continue;
        if (q > best_q) best = c, best_q = q; /* strictly greater: ties keep the preferred */
    }
    return (fa_cache_coding)best;
}
