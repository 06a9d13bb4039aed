/*
 * l2_codec.c - the L2 entry codec: one L1 entry (content type, header
 * text, tags, identity body and compressed variants) as one compact,
 * self-checking blob, and back into a fa_cache_fill. The layout and its
 * reasons are in l2.h.
 *
 * Why hand-rolled and strict: a value read from Redis is untrusted input
 * (another node's version of this code, an operator's SET, a bug), and its
 * bytes go straight out as an HTTP response. So the decoder checks, before
 * it touches a field, that the field fits in what is left; it refuses
 * anything the encoder would not have written (unknown bits, a trailing
 * byte, a control character in a header), and every refusal says at which
 * offset and why. Being canonical both ways is also what lets the fuzzer
 * check that decode followed by encode gives back the very same bytes.
 *
 * Both encoders go through one view of the parts (l2_parts) so the entry
 * and the fill paths cannot drift apart.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "cache/l2.h"

#define CHECKSUM_SEED 0x4c32656e74727931ull /* "L2entry1" */

enum { TEXT_CONTENT_TYPE, TEXT_HEADERS, TEXT_TAG };

/* The parts of an entry, borrowed from an entry or a fill. */
typedef struct l2_parts {
    const char *content_type, *headers;
    size_t ntags;
    const char *tags[FA_CACHE_MAX_TAGS];
    const unsigned char *data[FA_CODING_COUNT]; /* NULL: absent (identity: never) */
    size_t len[FA_CODING_COUNT];
} l2_parts;

uint64_t fa_l2_checksum(const void *p, size_t n) { return fa_cache_hash(p, n, CHECKSUM_SEED); }

/* ---------------------------------------------------------------- text rules */

static const char *text_what(int kind) {
    return kind == TEXT_CONTENT_TYPE ? "content type" : kind == TEXT_HEADERS ? "headers" : "tag";
}

static size_t text_max(int kind) {
    return kind == TEXT_CONTENT_TYPE ? FA_CACHE_CONTENT_TYPE_MAX - 1
           : kind == TEXT_HEADERS    ? FA_CACHE_HEADERS_MAX - 1
                                     : FA_CACHE_TAG_MAX - 1;
}

static int byte_allowed(int kind, unsigned char ch) {
    if (kind == TEXT_TAG) return ch >= 0x21 && ch <= 0x7e;
    if (ch >= 0x20 && ch <= 0x7e) return 1;
    return kind == TEXT_HEADERS && (ch == '\t' || ch == '\n');
}

/* The offset of the first byte of s[0..n) the rules refuse, or n. */
static size_t text_bad_at(int kind, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!byte_allowed(kind, (unsigned char)s[i])) return i;
    return n;
}

/* ---------------------------------------------------------------- encoding */

static void put_u16(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* The name of a text field in messages: "content type", "headers", "tag 3". */
static void text_name(int kind, size_t index, char *out, size_t size) {
    if (kind == TEXT_TAG) snprintf(out, size, "tag %zu", index);
    else snprintf(out, size, "%s", text_what(kind));
}

/* Checks one text field for encoding; its length in *n. */
static int check_text_out(int kind, size_t index, const char *s, size_t *n) {
    char what[32];
    text_name(kind, index, what, sizeof what);
    *n = strlen(s);
    if (*n > text_max(kind) || (kind == TEXT_TAG && *n == 0))
        return fa_err_set(FA_EINVAL, "l2 encode: %s: %zu bytes, expected %d..%zu", what, *n, kind == TEXT_TAG,
                          text_max(kind));
    size_t bad = text_bad_at(kind, s, *n);
    if (bad < *n)
        return fa_err_set(FA_EINVAL, "l2 encode: %s: byte 0x%02x at %zu may not be stored", what,
                          (unsigned)(unsigned char)s[bad], bad);
    return 0;
}

/* Size of the blob for parts, after checking every text field; 0 on error. */
static size_t encoded_size(const l2_parts *p, size_t tag_len[FA_CACHE_MAX_TAGS], size_t *ct_len,
                           size_t *hd_len) {
    if (p->ntags > FA_CACHE_MAX_TAGS) {
        fa_err_set(FA_EINVAL, "l2 encode: %zu tags, at most %d", p->ntags, FA_CACHE_MAX_TAGS);
        return 0;
    }
    if (check_text_out(TEXT_CONTENT_TYPE, 0, p->content_type, ct_len) ||
        check_text_out(TEXT_HEADERS, 0, p->headers, hd_len))
        return 0;
    size_t size = FA_L2_HEADER_BYTES + 2 + *ct_len + 2 + *hd_len + FA_L2_TRAILER_BYTES;
    for (size_t i = 0; i < p->ntags; i++) {
        if (check_text_out(TEXT_TAG, i, p->tags[i], &tag_len[i])) return 0;
        size += 1 + tag_len[i];
    }
    for (int c = 0; c < FA_CODING_COUNT; c++) {
        if (!p->data[c]) continue;
        size += 4 + (p->len[c] > FA_L2_MAX_BLOB ? FA_L2_MAX_BLOB : p->len[c]); /* no overflow */
    }
    if (size > FA_L2_MAX_BLOB) {
        fa_err_set(FA_ELIMIT, "l2 encode: blob of %zu bytes or more, at most %u", size, FA_L2_MAX_BLOB);
        return 0;
    }
    return size;
}

static unsigned char *put_bytes(unsigned char *at, const void *src, size_t n) {
    if (n) memcpy(at, src, n);
    return at + n;
}

static void write_blob(unsigned char *b, size_t size, const l2_parts *p, const size_t *tag_len, size_t ct_len,
                       size_t hd_len, uint64_t expires_unix_ms) {
    unsigned mask = 0;
    for (int c = 0; c < FA_CODING_COUNT; c++)
        if (p->data[c]) mask |= FA_CODING_BIT(c);
    memcpy(b, FA_L2_MAGIC, 4);
    b[4] = FA_L2_FORMAT_VERSION;
    b[5] = (unsigned char)mask;
    b[6] = (unsigned char)p->ntags;
    b[7] = 0;
    put_u32(b + 8, (uint32_t)size);
    put_u64(b + 12, expires_unix_ms);
    unsigned char *at = b + FA_L2_HEADER_BYTES;
    put_u16(at, (uint32_t)ct_len);
    at = put_bytes(at + 2, p->content_type, ct_len);
    put_u16(at, (uint32_t)hd_len);
    at = put_bytes(at + 2, p->headers, hd_len);
    for (size_t i = 0; i < p->ntags; i++) {
        *at = (unsigned char)tag_len[i];
        at = put_bytes(at + 1, p->tags[i], tag_len[i]);
    }
    for (int c = 0; c < FA_CODING_COUNT; c++) {
        if (!p->data[c]) continue;
        put_u32(at, (uint32_t)p->len[c]);
        at = put_bytes(at + 4, p->data[c], p->len[c]);
    }
    put_u64(at, fa_l2_checksum(b, size - FA_L2_TRAILER_BYTES));
}

static int encode_parts(const l2_parts *p, uint64_t expires_unix_ms, fa_buf *out) {
    size_t tag_len[FA_CACHE_MAX_TAGS], ct_len, hd_len;
    size_t size = encoded_size(p, tag_len, &ct_len, &hd_len);
    if (!size) return fa_err_code();
    if (fa_buf_reserve(out, size + 1)) return FA_ENOMEM;
    write_blob((unsigned char *)out->data + out->len, size, p, tag_len, ct_len, hd_len, expires_unix_ms);
    out->len += size;
    out->data[out->len] = '\0';
    return 0;
}

/* Appends the blob of entry e; contract in l2.h. */
int fa_l2_encode_entry(const fa_cache_entry *e, uint64_t expires_unix_ms, fa_buf *out) {
    l2_parts p = {.content_type = e->content_type ? e->content_type : "",
                  .headers = e->headers ? e->headers : "",
                  .ntags = e->ntags};
    for (size_t i = 0; i < e->ntags && i < FA_CACHE_MAX_TAGS; i++) p.tags[i] = e->tags[i];
    for (int c = 0; c < FA_CODING_COUNT; c++) {
        const fa_cache_variant *v = &e->variant[c];
        if (c != FA_CODING_IDENTITY && (!v->data || !v->len)) continue;
        p.data[c] = v->data ? v->data : (const unsigned char *)"";
        p.len[c] = v->data ? v->len : 0;
    }
    return encode_parts(&p, expires_unix_ms, out);
}

/* The length of a fixed-size text field, or cap when it is not terminated. */
static size_t field_len(const char *s, size_t cap) { return strnlen(s, cap); }

/* Appends the blob of fill f; contract in l2.h. */
int fa_l2_encode_fill(const fa_cache_fill *f, uint64_t expires_unix_ms, fa_buf *out) {
    if (field_len(f->content_type, sizeof f->content_type) == sizeof f->content_type ||
        field_len(f->headers, sizeof f->headers) == sizeof f->headers)
        return fa_err_set(FA_EINVAL, "l2 encode: fill's content type or headers not terminated");
    l2_parts p = {.content_type = f->content_type, .headers = f->headers, .ntags = f->ntags};
    for (size_t i = 0; i < f->ntags && i < FA_CACHE_MAX_TAGS; i++) {
        if (field_len(f->tags[i], FA_CACHE_TAG_MAX) == FA_CACHE_TAG_MAX)
            return fa_err_set(FA_EINVAL, "l2 encode: fill's tag %zu not terminated", i);
        p.tags[i] = f->tags[i];
    }
    p.data[FA_CODING_IDENTITY] =
        f->body.data ? (const unsigned char *)f->body.data : (const unsigned char *)"";
    p.len[FA_CODING_IDENTITY] = f->body.len;
    for (int c = FA_CODING_IDENTITY + 1; c < FA_CODING_COUNT; c++) {
        if (!f->coded[c].len) continue;
        p.data[c] = (const unsigned char *)f->coded[c].data;
        p.len[c] = f->coded[c].len;
    }
    return encode_parts(&p, expires_unix_ms, out);
}

/* ---------------------------------------------------------------- decoding */

typedef struct l2_reader {
    const unsigned char *p;
    size_t len, off;
    const char *name;
} l2_reader;

static int bad(const l2_reader *r, size_t at, const char *fmt, ...) FA_PRINTF(3, 4);
static int bad(const l2_reader *r, size_t at, const char *fmt, ...) {
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fa_err_set(FA_EINVAL, "%.200s: offset %zu: %s", r->name, at, what);
}

static uint64_t get_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Reads an n-byte little-endian length field called what. */
static int read_len(l2_reader *r, int n, const char *what, size_t *out) {
    if (r->len - r->off < (size_t)n)
        return bad(r, r->off, "%s length needs %d bytes, %zu left", what, n, r->len - r->off);
    *out = (size_t)get_le(r->p + r->off, n);
    r->off += (size_t)n;
    return 0;
}

/* Checks that n bytes of field `what` fit before the trailer. */
static int need(const l2_reader *r, size_t at, size_t n, const char *what) {
    if (n > r->len - r->off) return bad(r, at, "%s of %zu bytes, only %zu left", what, n, r->len - r->off);
    return 0;
}

/* Reads a length-prefixed text field into dst (NUL-terminated). */
static int read_text(l2_reader *r, int kind, size_t index, int len_bytes, char *dst) {
    char what[32];
    text_name(kind, index, what, sizeof what);
    size_t at = r->off, n = 0;
    if (read_len(r, len_bytes, what, &n)) return FA_EINVAL;
    if (n > text_max(kind) || (kind == TEXT_TAG && n == 0))
        return bad(r, at, "%s of %zu bytes, expected %d..%zu", what, n, kind == TEXT_TAG, text_max(kind));
    if (need(r, at, n, what)) return FA_EINVAL;
    const char *s = (const char *)r->p + r->off;
    size_t bad_at = text_bad_at(kind, s, n);
    if (bad_at < n)
        return bad(r, r->off + bad_at, "%s: byte 0x%02x not allowed", what,
                   (unsigned)(unsigned char)s[bad_at]);
    memcpy(dst, s, n);
    dst[n] = '\0';
    r->off += n;
    return 0;
}

/* Magic, version, flags, total length and checksum. */
static int read_header(l2_reader *r, unsigned *mask, size_t *ntags, uint64_t *expires) {
    if (r->len < FA_L2_MIN_BLOB)
        return bad(r, 0, "%zu bytes, a blob has at least %d", r->len, FA_L2_MIN_BLOB);
    if (memcmp(r->p, FA_L2_MAGIC, 4) != 0) return bad(r, 0, "bad magic, expected \"%s\"", FA_L2_MAGIC);
    if (r->p[4] != FA_L2_FORMAT_VERSION)
        return bad(r, 4, "format version %u, expected %d", r->p[4], FA_L2_FORMAT_VERSION);
    *mask = r->p[5];
    if (!(*mask & FA_CODING_BIT(FA_CODING_IDENTITY)) || (*mask >> FA_CODING_COUNT))
        return bad(r, 5, "variant mask 0x%02x: identity must be present, bits 4..7 clear", *mask);
    *ntags = r->p[6];
    if (*ntags > FA_CACHE_MAX_TAGS) return bad(r, 6, "%zu tags, at most %d", *ntags, FA_CACHE_MAX_TAGS);
    if (r->p[7] != 0) return bad(r, 7, "reserved byte 0x%02x, expected 0", r->p[7]);
    uint64_t total = get_le(r->p + 8, 4);
    if (total != r->len)
        return bad(r, 8, "total length %llu, blob has %zu bytes", (unsigned long long)total, r->len);
    *expires = get_le(r->p + 12, 8);
    size_t body_end = r->len - FA_L2_TRAILER_BYTES;
    uint64_t stored = get_le(r->p + body_end, 8), computed = fa_l2_checksum(r->p, body_end);
    if (stored != computed)
        return bad(r, body_end, "checksum %016llx, computed %016llx", (unsigned long long)stored,
                   (unsigned long long)computed);
    r->len = body_end; /* fields may not reach into the trailer */
    r->off = FA_L2_HEADER_BYTES;
    return 0;
}

static int read_variants(l2_reader *r, unsigned mask, fa_cache_fill *fill) {
    for (int c = 0; c < FA_CODING_COUNT; c++) {
        if (!(mask & FA_CODING_BIT(c))) continue;
        char what[32];
        snprintf(what, sizeof what, "%s variant", fa_cache_coding_name(c));
        size_t at = r->off, n = 0;
        if (read_len(r, 4, what, &n) || need(r, at, n, what)) return FA_EINVAL;
        if (n == 0 && c != FA_CODING_IDENTITY) return bad(r, at, "%s is empty", what);
        fa_buf *dst = c == FA_CODING_IDENTITY ? &fill->body : &fill->coded[c];
        if (fa_buf_append(dst, r->p + r->off, n)) return FA_ENOMEM;
        r->off += n;
    }
    return 0;
}

static void reset_fill(fa_cache_fill *fill) {
    fa_buf_reset(&fill->body);
    for (int c = 0; c < FA_CODING_COUNT; c++) fa_buf_reset(&fill->coded[c]);
    fill->ntags = 0;
    fill->content_type[0] = '\0';
    fill->headers[0] = '\0';
}

/* Decodes a blob into fill; contract in l2.h. */
int fa_l2_decode(const void *blob, size_t len, const char *name, fa_cache_fill *fill,
                 uint64_t *expires_unix_ms) {
    l2_reader r = {.p = blob, .len = len, .off = 0, .name = name ? name : "l2 entry"};
    if (len > FA_L2_MAX_BLOB)
        return fa_err_set(FA_ELIMIT, "%.200s: blob of %zu bytes, at most %u", r.name, len, FA_L2_MAX_BLOB);
    reset_fill(fill);
    unsigned mask = 0;
    size_t ntags = 0;
    uint64_t expires = 0;
    if (read_header(&r, &mask, &ntags, &expires)) return FA_EINVAL;
    if (read_text(&r, TEXT_CONTENT_TYPE, 0, 2, fill->content_type) ||
        read_text(&r, TEXT_HEADERS, 0, 2, fill->headers))
        return FA_EINVAL;
    for (size_t i = 0; i < ntags; i++) {
        if (read_text(&r, TEXT_TAG, i, 1, fill->tags[i])) return FA_EINVAL;
        fill->ntags = i + 1;
    }
    int rc = read_variants(&r, mask, fill);
    if (rc) return rc;
    if (r.off != r.len) return bad(&r, r.off, "%zu bytes after the last variant", r.len - r.off);
    fill->precoded = 1;
    if (expires_unix_ms) *expires_unix_ms = expires;
    return 0;
}
