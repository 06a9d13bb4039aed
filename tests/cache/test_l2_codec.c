/*
 * test_l2_codec.c - the L2 entry codec (l2.h).
 *
 * Round trips: every combination of compressed variants from a fill, an
 * L1 entry with real gzip/br/zstd variants that comes back through a
 * precoded fill with byte-identical variants and the same ETags, fields at
 * their largest, and the canonical property (decode then encode gives the
 * same bytes). Corruptions: each class the decoder refuses, with the
 * offset and wording of its message, on blobs whose checksum was
 * recomputed so that the structural check (not the checksum) is what
 * fires. Encoding refuses what decoding would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/l2.h"
#include "testutil.h"

#define NAME "fa:/v1/matches/3869685"

static void fill_init(fa_cache_fill *f) {
    memset(f, 0, sizeof *f);
    strcpy(f->content_type, "application/json");
}

static void fill_free(fa_cache_fill *f) {
    fa_buf_free(&f->body);
    for (int c = 0; c < FA_CODING_COUNT; c++) fa_buf_free(&f->coded[c]);
}

static void put_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Recomputes the trailer after a test edited the blob. */
static void reseal(fa_buf *b) {
    put_le((unsigned char *)b->data + b->len - 8, fa_l2_checksum(b->data, b->len - 8), 8);
}

static void assert_fills_equal(const fa_cache_fill *a, const fa_cache_fill *b) {
    assert_string_equal(a->content_type, b->content_type);
    assert_string_equal(a->headers, b->headers);
    assert_int_equal(a->ntags, b->ntags);
    for (size_t i = 0; i < a->ntags; i++) assert_string_equal(a->tags[i], b->tags[i]);
    assert_int_equal(a->body.len, b->body.len);
    if (a->body.len) assert_memory_equal(a->body.data, b->body.data, a->body.len);
    for (int c = FA_CODING_GZIP; c < FA_CODING_COUNT; c++) {
        assert_int_equal(a->coded[c].len, b->coded[c].len);
        if (a->coded[c].len) assert_memory_equal(a->coded[c].data, b->coded[c].data, a->coded[c].len);
    }
}

/* Decodes blob, checks it against want, and checks the re-encoding is the same bytes. */
static void check_round_trip(const fa_buf *blob, const fa_cache_fill *want, uint64_t want_expires) {
    fa_cache_fill got;
    fill_init(&got);
    uint64_t expires = 1;
    assert_int_equal(fa_l2_decode(blob->data, blob->len, NAME, &got, &expires), 0);
    assert_int_equal(got.precoded, 1);
    assert_int_equal(expires, want_expires);
    assert_fills_equal(want, &got);
    fa_buf again = {0};
    assert_int_equal(fa_l2_encode_fill(&got, expires, &again), 0);
    assert_int_equal(again.len, blob->len);
    assert_memory_equal(again.data, blob->data, blob->len);
    fa_buf_free(&again);
    fill_free(&got);
}

static void test_every_variant_combination(void **state) {
    (void)state;
    for (unsigned mask = 0; mask < 8; mask++) {
        fa_cache_fill f;
        fill_init(&f);
        fa_buf_puts(&f.body, "{\"events\":[1,2,3]}");
        strcpy(f.headers, "Cache-Control: public, max-age=60\nVary: Accept-Encoding\n");
        assert_int_equal(fa_cache_fill_tag(&f, "match:%d", 3869685), 0);
        assert_int_equal(fa_cache_fill_tag(&f, "team:%d", 217), 0);
        for (int c = FA_CODING_GZIP; c < FA_CODING_COUNT; c++)
            if (mask & (1u << (c - 1)))
                fa_buf_printf(&f.coded[c], "%s-bytes-%u", fa_cache_coding_name(c), mask);
        fa_buf blob = {0};
        assert_int_equal(fa_l2_encode_fill(&f, 1700000000123ull, &blob), 0);
        size_t want =
            FA_L2_HEADER_BYTES + 2 + 16 + 2 + strlen(f.headers) + 1 + 13 + 1 + 8 + 4 + f.body.len + 8;
        for (int c = FA_CODING_GZIP; c < FA_CODING_COUNT; c++)
            want += f.coded[c].len ? 4 + f.coded[c].len : 0;
        assert_int_equal(blob.len, want);
        assert_int_equal((unsigned char)blob.data[5], 1u | (mask << 1));
        check_round_trip(&blob, &f, 1700000000123ull);
        fa_buf_free(&blob);
        fill_free(&f);
    }
}

static void test_empty_body_no_tags(void **state) {
    (void)state;
    fa_cache_fill f;
    fill_init(&f);
    f.content_type[0] = '\0';
    fa_buf blob = {0};
    assert_int_equal(fa_l2_encode_fill(&f, 0, &blob), 0);
    assert_int_equal(blob.len, FA_L2_MIN_BLOB);
    check_round_trip(&blob, &f, 0);
    /* Appends: a second blob goes after the first. */
    assert_int_equal(fa_l2_encode_fill(&f, 0, &blob), 0);
    assert_int_equal(blob.len, 2 * FA_L2_MIN_BLOB);
    assert_memory_equal(blob.data, blob.data + FA_L2_MIN_BLOB, FA_L2_MIN_BLOB);
    fa_buf_free(&blob);
}

static void test_limits_round_trip(void **state) {
    (void)state;
    fa_cache_fill f;
    fill_init(&f);
    memset(f.content_type, 'c', FA_CACHE_CONTENT_TYPE_MAX - 1);
    f.content_type[FA_CACHE_CONTENT_TYPE_MAX - 1] = '\0';
    for (int i = 0; i < FA_CACHE_HEADERS_MAX - 1; i++)
        f.headers[i] = i % 40 == 39 ? '\n' : i % 7 ? 'h' : '\t';
    f.headers[FA_CACHE_HEADERS_MAX - 1] = '\0';
    for (int t = 0; t < FA_CACHE_MAX_TAGS; t++) {
        memset(f.tags[t], '0' + t, FA_CACHE_TAG_MAX - 1);
        f.tags[t][FA_CACHE_TAG_MAX - 1] = '\0';
    }
    f.ntags = FA_CACHE_MAX_TAGS;
    for (int i = 0; i < 70000; i++) fa_buf_putc(&f.body, (char)(i * 31)); /* binary, > 64 KiB */
    fa_buf_puts(&f.coded[FA_CODING_ZSTD], "z");
    fa_buf blob = {0};
    assert_int_equal(fa_l2_encode_fill(&f, UINT64_MAX, &blob), 0);
    check_round_trip(&blob, &f, UINT64_MAX);
    fa_buf_free(&blob);
    fill_free(&f);
}

/* An L1 entry with real variants, through L2 and back into an L1 entry. */
typedef struct copy_fill {
    const fa_cache_fill *from;
} copy_fill;

static int json_fill(void *ud, const char *key, fa_cache_fill *fill) {
    (void)ud;
    fa_buf_printf(&fill->body, "{\"key\":\"%s\",\"events\":[", key);
    for (int i = 0; i < 200; i++)
        fa_buf_printf(&fill->body, "%s{\"id\":%d,\"type\":\"%s\",\"x\":%d.5}", i ? "," : "", i,
                      i % 3 ? "Pass" : "Shot", i % 120);
    fa_buf_puts(&fill->body, "]}");
    snprintf(fill->headers, sizeof fill->headers, "Cache-Control: max-age=30\n");
    fill->ttl_s = 30;
    fa_cache_fill_tag(fill, "match:3869685");
    fa_cache_fill_tag(fill, "competition:43");
    return 0;
}

static int replay_fill(void *ud, const char *key, fa_cache_fill *fill) {
    (void)key;
    const fa_cache_fill *from = ((copy_fill *)ud)->from;
    fa_buf_append(&fill->body, from->body.data, from->body.len);
    memcpy(fill->content_type, from->content_type, sizeof fill->content_type);
    memcpy(fill->headers, from->headers, sizeof fill->headers);
    memcpy(fill->tags, from->tags, sizeof fill->tags);
    fill->ntags = from->ntags;
    fill->precoded = from->precoded;
    for (int c = FA_CODING_GZIP; c < FA_CODING_COUNT; c++)
        fa_buf_append(&fill->coded[c], from->coded[c].data, from->coded[c].len);
    return 0;
}

static void test_entry_round_trip(void **state) {
    (void)state;
    fa_l1_config cfg;
    fa_l1_config_default(&cfg);
    cfg.hash_seed = 3;
    fa_l1 *a = fa_l1_new(&cfg), *b = fa_l1_new(&cfg);
    const fa_cache_entry *e, *back;
    assert_int_equal(fa_l1_get_or_fill(a, "/v1/matches/3869685/events", json_fill, NULL, &e), 0);
    for (int c = 0; c < FA_CODING_COUNT; c++) assert_non_null(e->variant[c].data);
    fa_buf blob = {0};
    assert_int_equal(fa_l2_encode_entry(e, 42, &blob), 0);
    fa_cache_fill decoded;
    fill_init(&decoded);
    assert_int_equal(fa_l2_decode(blob.data, blob.len, NULL, &decoded, NULL), 0);
    copy_fill cf = {&decoded};
    assert_int_equal(fa_l1_get_or_fill(b, "/v1/matches/3869685/events", replay_fill, &cf, &back), 0);
    assert_string_equal(back->content_type, e->content_type);
    assert_string_equal(back->headers, "Cache-Control: max-age=30\n");
    assert_int_equal(back->ntags, 2);
    assert_string_equal(back->tags[1], "competition:43");
    for (int c = 0; c < FA_CODING_COUNT; c++) {
        assert_int_equal(back->variant[c].len, e->variant[c].len);
        assert_memory_equal(back->variant[c].data, e->variant[c].data, e->variant[c].len);
        assert_string_equal(back->variant[c].etag, e->variant[c].etag);
    }
    /* The entry and the fill encoders agree. */
    fa_buf from_fill = {0};
    assert_int_equal(fa_l2_encode_fill(&decoded, 42, &from_fill), 0);
    assert_int_equal(from_fill.len, blob.len);
    assert_memory_equal(from_fill.data, blob.data, blob.len);
    fa_cache_entry_release(e);
    fa_cache_entry_release(back);
    fa_buf_free(&blob);
    fa_buf_free(&from_fill);
    fill_free(&decoded);
    fa_l1_free(a);
    fa_l1_free(b);
}

/* The reference blob: content type "application/json" (16 bytes at 22),
 * headers "" (length at 38), tag "match:1" (length at 40, bytes at 41),
 * identity "hello" (length at 48, bytes at 52), checksum at 57; 65 bytes. */
static void reference_blob(fa_buf *b, unsigned extra_gzip) {
    fa_cache_fill f;
    fill_init(&f);
    fa_buf_puts(&f.body, "hello");
    fa_cache_fill_tag(&f, "match:1");
    if (extra_gzip) fa_buf_puts(&f.coded[FA_CODING_GZIP], "gz");
    fa_buf_reset(b);
    assert_int_equal(fa_l2_encode_fill(&f, 0, b), 0);
    fill_free(&f);
}

/* Decoding must fail with code and a message equal to NAME ": " want. */
static void expect_error(const fa_buf *b, int code, const char *want) {
    fa_cache_fill f;
    fill_init(&f);
    assert_int_equal(fa_l2_decode(b->data, b->len, NAME, &f, NULL), code);
    char full[256];
    snprintf(full, sizeof full, "%s: %s", NAME, want);
    assert_string_equal(fa_err_msg(), full);
    fill_free(&f);
}

static void set_byte(fa_buf *b, size_t at, unsigned v, int reseal_it) {
    b->data[at] = (char)v;
    if (reseal_it) reseal(b);
}

static void test_header_corruptions(void **state) {
    (void)state;
    fa_buf b = {0};
    reference_blob(&b, 0);
    assert_int_equal(b.len, 65);
    fa_buf short_blob = {0};
    fa_buf_append(&short_blob, b.data, 35);
    expect_error(&short_blob, FA_EINVAL, "offset 0: 35 bytes, a blob has at least 36");
    fa_buf_free(&short_blob);
    set_byte(&b, 1, 'X', 1);
    expect_error(&b, FA_EINVAL, "offset 0: bad magic, expected \"FAL2\"");
    reference_blob(&b, 0);
    set_byte(&b, 4, 2, 1);
    expect_error(&b, FA_EINVAL, "offset 4: format version 2, expected 1");
    reference_blob(&b, 0);
    set_byte(&b, 5, 0x02, 1);
    expect_error(&b, FA_EINVAL, "offset 5: variant mask 0x02: identity must be present, bits 4..7 clear");
    set_byte(&b, 5, 0x11, 1);
    expect_error(&b, FA_EINVAL, "offset 5: variant mask 0x11: identity must be present, bits 4..7 clear");
    reference_blob(&b, 0);
    set_byte(&b, 6, 9, 1);
    expect_error(&b, FA_EINVAL, "offset 6: 9 tags, at most 8");
    reference_blob(&b, 0);
    set_byte(&b, 7, 1, 1);
    expect_error(&b, FA_EINVAL, "offset 7: reserved byte 0x01, expected 0");
    /* Truncated, or with bytes appended: the total length says so first. */
    reference_blob(&b, 0);
    b.len = 60;
    expect_error(&b, FA_EINVAL, "offset 8: total length 65, blob has 60 bytes");
    reference_blob(&b, 0);
    fa_buf_puts(&b, "xx");
    expect_error(&b, FA_EINVAL, "offset 8: total length 65, blob has 67 bytes");
    /* A flipped body byte: only the checksum can tell. */
    reference_blob(&b, 0);
    uint64_t good = fa_l2_checksum(b.data, 57);
    set_byte(&b, 53, 'E', 0);
    char want[128];
    snprintf(want, sizeof want, "offset 57: checksum %016llx, computed %016llx", (unsigned long long)good,
             (unsigned long long)fa_l2_checksum(b.data, 57));
    expect_error(&b, FA_EINVAL, want);
    fa_buf_free(&b);
}

static void test_field_corruptions(void **state) {
    (void)state;
    fa_buf b = {0};
    reference_blob(&b, 0);
    set_byte(&b, 20, 200, 1);
    expect_error(&b, FA_EINVAL, "offset 20: content type of 200 bytes, expected 0..95");
    reference_blob(&b, 0);
    set_byte(&b, 20, 90, 1);
    expect_error(&b, FA_EINVAL, "offset 20: content type of 90 bytes, only 35 left");
    reference_blob(&b, 0);
    set_byte(&b, 25, 0x0d, 1);
    expect_error(&b, FA_EINVAL, "offset 25: content type: byte 0x0d not allowed");
    reference_blob(&b, 0);
    set_byte(&b, 39, 2, 1); /* headers of 512 bytes */
    expect_error(&b, FA_EINVAL, "offset 38: headers of 512 bytes, expected 0..511");
    reference_blob(&b, 0);
    set_byte(&b, 40, 0, 1);
    expect_error(&b, FA_EINVAL, "offset 40: tag 0 of 0 bytes, expected 1..63");
    reference_blob(&b, 0);
    set_byte(&b, 40, 64, 1);
    expect_error(&b, FA_EINVAL, "offset 40: tag 0 of 64 bytes, expected 1..63");
    reference_blob(&b, 0);
    set_byte(&b, 46, ' ', 1);
    expect_error(&b, FA_EINVAL, "offset 46: tag 0: byte 0x20 not allowed");
    reference_blob(&b, 0);
    set_byte(&b, 48, 100, 1);
    expect_error(&b, FA_EINVAL, "offset 48: identity variant of 100 bytes, only 5 left");
    reference_blob(&b, 0);
    set_byte(&b, 48, 3, 1);
    expect_error(&b, FA_EINVAL, "offset 55: 2 bytes after the last variant");
    /* A variant announced in the mask but missing: its length runs out. */
    reference_blob(&b, 0);
    set_byte(&b, 5, 0x03, 1);
    expect_error(&b, FA_EINVAL, "offset 57: gzip variant length needs 4 bytes, 0 left");
    /* Two tags announced: the second tag is read from the identity's length. */
    reference_blob(&b, 0);
    set_byte(&b, 6, 2, 1);
    expect_error(&b, FA_EINVAL, "offset 49: tag 1: byte 0x00 not allowed");
    /* An empty compressed variant is never written. */
    reference_blob(&b, 1);
    assert_int_equal(b.len, 71);
    set_byte(&b, 57, 0, 1);
    expect_error(&b, FA_EINVAL, "offset 57: gzip variant is empty");
    /* Far too large to be a blob: refused before any byte is read. */
    assert_int_equal(fa_l2_decode(b.data, (size_t)FA_L2_MAX_BLOB + 1, NULL, &(fa_cache_fill){0}, NULL),
                     FA_ELIMIT);
    assert_non_null(strstr(fa_err_msg(), "l2 entry: blob of 67108865 bytes"));
    fa_buf_free(&b);
}

/* Decoding clears what a reused fill held before, also on failure. */
static void test_decode_resets_fill(void **state) {
    (void)state;
    fa_buf b = {0};
    reference_blob(&b, 0);
    fa_cache_fill f;
    fill_init(&f);
    fa_buf_puts(&f.body, "old body");
    fa_buf_puts(&f.coded[FA_CODING_BR], "old br");
    f.ntags = 3;
    assert_int_equal(fa_l2_decode(b.data, b.len, NULL, &f, NULL), 0);
    assert_int_equal(f.body.len, 5);
    assert_memory_equal(f.body.data, "hello", 5);
    assert_int_equal(f.coded[FA_CODING_BR].len, 0);
    assert_int_equal(f.ntags, 1);
    assert_string_equal(f.tags[0], "match:1");
    fill_free(&f);
    fa_buf_free(&b);
}

static void expect_encode_error(fa_cache_fill *f, const char *want) {
    fa_buf b = {0};
    fa_buf_puts(&b, "kept");
    assert_int_equal(fa_l2_encode_fill(f, 0, &b), FA_EINVAL);
    assert_string_equal(fa_err_msg(), want);
    assert_int_equal(b.len, 4);
    fa_buf_free(&b);
}

static void test_encode_refusals(void **state) {
    (void)state;
    fa_cache_fill f;
    fill_init(&f);
    strcpy(f.content_type, "text/plain\r\nX-Evil: 1");
    expect_encode_error(&f, "l2 encode: content type: byte 0x0d at 10 may not be stored");
    strcpy(f.content_type, "text/plain");
    strcpy(f.headers, "A: b\r\n");
    expect_encode_error(&f, "l2 encode: headers: byte 0x0d at 4 may not be stored");
    f.headers[0] = '\0';
    strcpy(f.tags[0], "match 1");
    f.ntags = 1;
    expect_encode_error(&f, "l2 encode: tag 0: byte 0x20 at 5 may not be stored");
    memset(f.tags[0], 'a', FA_CACHE_TAG_MAX); /* not terminated */
    expect_encode_error(&f, "l2 encode: fill's tag 0 not terminated");
    f.tags[0][0] = '\0';
    expect_encode_error(&f, "l2 encode: tag 0: 0 bytes, expected 1..63");
    strcpy(f.tags[0], "match:1");
    f.ntags = FA_CACHE_MAX_TAGS + 1;
    expect_encode_error(&f, "l2 encode: 9 tags, at most 8");
    fill_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_variant_combination), cmocka_unit_test(test_empty_body_no_tags),
        cmocka_unit_test(test_limits_round_trip),         cmocka_unit_test(test_entry_round_trip),
        cmocka_unit_test(test_header_corruptions),        cmocka_unit_test(test_field_corruptions),
        cmocka_unit_test(test_decode_resets_fill),        cmocka_unit_test(test_encode_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
