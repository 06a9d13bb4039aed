/*
 * test_compress.c - compressed variants and content negotiation.
 *
 * Every variant must decode, with the reference decoders (zlib inflate,
 * BrotliDecoderDecompress, ZSTD_decompress), to the identity body, also
 * when one compressor is reused for many bodies (the deflateReset and
 * CCtx reuse paths). Variants that would not be smaller, and bodies under
 * the size threshold, get none. ETags are per variant and stable. The
 * Accept-Encoding table covers q-values, q=0, "*", identity rules, case,
 * x-gzip, whitespace and malformed elements.
 */
#include <brotli/decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "cache/cache_internal.h"
#include "testutil.h"

/* A JSON body like the API's: an array of event-ish objects, ~n bytes. */
static void json_body(fa_buf *b, size_t n, unsigned seed) {
    fa_buf_reset(b);
    fa_buf_puts(b, "{\"events\":[");
    for (unsigned i = 0; b->len + 120 < n; i++) {
        unsigned v = (seed + i) * 2654435761u;
        fa_buf_printf(b, "%s{\"id\":%u,\"type\":\"%s\",\"minute\":%u,\"x\":%.1f,\"y\":%.1f}", i ? "," : "",
                      v % 100000, (v >> 8) % 3 ? "Pass" : "Shot", (v >> 12) % 90,
                      (double)((v >> 4) % 1200) / 10, (double)((v >> 16) % 800) / 10);
    }
    fa_buf_puts(b, "]}");
}

static void random_bytes(fa_buf *b, size_t n, uint64_t seed) {
    fa_buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        fa_buf_putc(b, (char)(seed >> 56));
    }
}

static void check_gunzip(const fa_buf *z, const fa_buf *plain) {
    z_stream s;
    memset(&s, 0, sizeof s);
    assert_int_equal(inflateInit2(&s, 15 + 16), Z_OK);
    char *out = malloc(plain->len + 16);
    s.next_in = (Bytef *)z->data;
    s.avail_in = (uInt)z->len;
    s.next_out = (Bytef *)out;
    s.avail_out = (uInt)plain->len + 16;
    assert_int_equal(inflate(&s, Z_FINISH), Z_STREAM_END);
    assert_int_equal(s.total_out, plain->len);
    assert_int_equal(s.avail_in, 0);
    assert_memory_equal(out, plain->data, plain->len);
    inflateEnd(&s);
    free(out);
}

static void check_unbrotli(const fa_buf *z, const fa_buf *plain) {
    size_t got = plain->len + 16;
    uint8_t *out = malloc(got);
    assert_int_equal(BrotliDecoderDecompress(z->len, (const uint8_t *)z->data, &got, out),
                     BROTLI_DECODER_RESULT_SUCCESS);
    assert_int_equal(got, plain->len);
    assert_memory_equal(out, plain->data, plain->len);
    free(out);
}

static void check_unzstd(const fa_buf *z, const fa_buf *plain) {
    assert_int_equal(ZSTD_getFrameContentSize(z->data, z->len), plain->len);
    char *out = malloc(plain->len + 16);
    size_t got = ZSTD_decompress(out, plain->len + 16, z->data, z->len);
    assert_false(ZSTD_isError(got));
    assert_int_equal(got, plain->len);
    assert_memory_equal(out, plain->data, plain->len);
    free(out);
}

static void check_decodes(fa_cache_coding c, const fa_buf *z, const fa_buf *plain) {
    if (c == FA_CODING_GZIP) check_gunzip(z, plain);
    else if (c == FA_CODING_BR) check_unbrotli(z, plain);
    else check_unzstd(z, plain);
}

static void test_round_trip_reused(void **state) {
    (void)state;
    fa_cache_compressor *c = fa_cache_compressor_new(6, 5, 3);
    assert_non_null(c);
    fa_buf plain = {0}, z = {0};
    static const size_t sizes[] = {0, 1, 300, 2048, 2048, 70000, 2048, 5};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        json_body(&plain, sizes[i], (unsigned)i);
        if (sizes[i] < 20) { /* tiny bodies, not JSON */
            fa_buf_reset(&plain);
            fa_buf_append(&plain, "abcde", sizes[i]);
        }
        for (int k = FA_CODING_GZIP; k < FA_CODING_COUNT; k++) {
            fa_buf_reset(&z);
            assert_int_equal(fa_cache_compress(c, (fa_cache_coding)k, plain.data, plain.len, &z), 0);
            check_decodes((fa_cache_coding)k, &z, &plain);
        }
    }
    fa_buf_reset(&z);
    assert_int_equal(fa_cache_compress(c, FA_CODING_IDENTITY, "x", 1, &z), FA_EINVAL);
    fa_buf_free(&plain);
    fa_buf_free(&z);
    fa_cache_compressor_free(c);
}

/* Compressing appends: whatever out held stays in front. */
static void test_compress_appends(void **state) {
    (void)state;
    fa_cache_compressor *c = fa_cache_compressor_new(1, 1, 1);
    fa_buf plain = {0}, z = {0}, alone = {0};
    json_body(&plain, 2048, 7);
    fa_buf_puts(&z, "HEAD");
    assert_int_equal(fa_cache_compress(c, FA_CODING_ZSTD, plain.data, plain.len, &z), 0);
    assert_int_equal(fa_cache_compress(c, FA_CODING_ZSTD, plain.data, plain.len, &alone), 0);
    assert_int_equal(z.len, 4 + alone.len);
    assert_memory_equal(z.data, "HEAD", 4);
    assert_memory_equal(z.data + 4, alone.data, alone.len);
    fa_buf_free(&plain);
    fa_buf_free(&z);
    fa_buf_free(&alone);
    fa_cache_compressor_free(c);
}

static void test_levels_checked(void **state) {
    (void)state;
    assert_null(fa_cache_compressor_new(0, 5, 3));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "gzip level 0"));
    assert_null(fa_cache_compressor_new(6, 12, 3));
    assert_non_null(strstr(fa_err_msg(), "brotli quality 12"));
    assert_null(fa_cache_compressor_new(6, 5, 99));
    assert_non_null(strstr(fa_err_msg(), "zstd level 99"));
    fa_l1_config cfg;
    fa_l1_config_default(&cfg);
    cfg.brotli_quality = -1;
    assert_null(fa_l1_new(&cfg));
    assert_non_null(strstr(fa_err_msg(), "brotli quality -1"));
}

/* Small bodies get no variants; incompressible ones keep only identity;
 * the codings mask is honoured. */
static void test_variants_only_when_smaller(void **state) {
    (void)state;
    fa_cache_compressor *c = fa_cache_compressor_new(6, 5, 3);
    fa_buf plain = {0}, coded[FA_CODING_COUNT] = {{0}};
    json_body(&plain, 2048, 1);
    assert_int_equal(fa_cache_encode_variants(c, plain.data, plain.len, FA_CODINGS_COMPRESSED, 256, coded),
                     0);
    for (int k = FA_CODING_GZIP; k < FA_CODING_COUNT; k++) {
        assert_true(coded[k].len > 0 && coded[k].len < plain.len / 2);
        check_decodes((fa_cache_coding)k, &coded[k], &plain);
    }
    assert_int_equal(fa_cache_encode_variants(c, plain.data, 255, FA_CODINGS_COMPRESSED, 256, coded), 0);
    for (int k = FA_CODING_GZIP; k < FA_CODING_COUNT; k++) assert_int_equal(coded[k].len, 0);
    random_bytes(&plain, 4096, 99);
    assert_int_equal(fa_cache_encode_variants(c, plain.data, plain.len, FA_CODINGS_COMPRESSED, 256, coded),
                     0);
    for (int k = FA_CODING_GZIP; k < FA_CODING_COUNT; k++) assert_int_equal(coded[k].len, 0);
    json_body(&plain, 2048, 1);
    assert_int_equal(
        fa_cache_encode_variants(c, plain.data, plain.len, FA_CODING_BIT(FA_CODING_BR), 256, coded), 0);
    assert_int_equal(coded[FA_CODING_GZIP].len, 0);
    assert_true(coded[FA_CODING_BR].len > 0);
    assert_int_equal(coded[FA_CODING_ZSTD].len, 0);
    for (int k = 0; k < FA_CODING_COUNT; k++) fa_buf_free(&coded[k]);
    fa_buf_free(&plain);
    fa_cache_compressor_free(c);
}

typedef struct body_spec {
    size_t size;
    unsigned seed;
    int random;
} body_spec;

static int fill_body(void *ud, const char *key, fa_cache_fill *fill) {
    (void)key;
    const body_spec *b = ud;
    if (b->random) random_bytes(&fill->body, b->size, b->seed);
    else json_body(&fill->body, b->size, b->seed);
    return 0;
}

static fa_l1 *new_l1(void) {
    fa_l1_config cfg;
    fa_l1_config_default(&cfg);
    cfg.max_bytes = 1 << 20;
    cfg.hash_seed = 42;
    return fa_l1_new(&cfg);
}

static int is_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i])) return 0;
    return 1;
}

/* An entry's variants decode to its body; ETags are per variant, strong,
 * well formed and the same for the same bytes in another entry. */
static void test_entry_variants_and_etags(void **state) {
    (void)state;
    fa_l1 *l1 = new_l1();
    body_spec spec = {2048, 3, 0};
    const fa_cache_entry *a, *b;
    assert_int_equal(fa_l1_get_or_fill(l1, "GET /v1/a", fill_body, &spec, &a), 0);
    assert_int_equal(fa_l1_get_or_fill(l1, "GET /v1/b", fill_body, &spec, &b), 0);
    fa_buf plain = {0};
    json_body(&plain, 2048, 3);
    const fa_cache_variant *id = &a->variant[FA_CODING_IDENTITY];
    assert_int_equal(id->len, plain.len);
    assert_memory_equal(id->data, plain.data, plain.len);
    assert_int_equal(strlen(id->etag), 18);
    assert_true(id->etag[0] == '"' && id->etag[17] == '"' && is_hex(id->etag + 1, 16));
    for (int k = FA_CODING_GZIP; k < FA_CODING_COUNT; k++) {
        const fa_cache_variant *v = &a->variant[k];
        assert_non_null(v->data);
        fa_buf z = {0};
        fa_buf_append(&z, v->data, v->len);
        check_decodes((fa_cache_coding)k, &z, &plain);
        fa_buf_free(&z);
        char want[FA_CACHE_ETAG_MAX];
        snprintf(want, sizeof want, "-%s\"", fa_cache_coding_name((fa_cache_coding)k));
        assert_string_equal(v->etag + 17, want);
        assert_true(is_hex(v->etag + 1, 16));
        assert_memory_not_equal(v->etag, id->etag, 17);
        assert_string_equal(v->etag, b->variant[k].etag);
    }
    assert_string_equal(a->variant[0].etag, b->variant[0].etag);
    assert_string_equal(a->content_type, "application/json");
    fa_cache_entry_release(a);
    fa_cache_entry_release(b);
    fa_buf_free(&plain);
    fa_l1_free(l1);
}

/* pick_variant only offers what the entry has. */
static void test_pick_variant(void **state) {
    (void)state;
    fa_l1 *l1 = new_l1();
    body_spec json = {2048, 5, 0}, noise = {2048, 5, 1};
    const fa_cache_entry *j, *r;
    assert_int_equal(fa_l1_get_or_fill(l1, "json", fill_body, &json, &j), 0);
    assert_int_equal(fa_l1_get_or_fill(l1, "noise", fill_body, &noise, &r), 0);
    const char *ae = "gzip, deflate, br, zstd";
    assert_int_equal(fa_cache_pick_variant(j, ae, strlen(ae)), FA_CODING_BR);
    assert_int_equal(fa_cache_pick_variant(r, ae, strlen(ae)), FA_CODING_IDENTITY);
    assert_null(r->variant[FA_CODING_GZIP].data);
    assert_int_equal(fa_cache_pick_variant(r, "identity;q=0, gzip", 18), FA_CODING_NONE);
    assert_int_equal(fa_cache_pick_variant(j, NULL, 0), FA_CODING_IDENTITY);
    fa_cache_entry_release(j);
    fa_cache_entry_release(r);
    fa_l1_free(l1);
}

#define ALL (FA_CODING_BIT(FA_CODING_IDENTITY) | FA_CODINGS_COMPRESSED)
#define ID_GZ (FA_CODING_BIT(FA_CODING_IDENTITY) | FA_CODING_BIT(FA_CODING_GZIP))
#define I FA_CODING_IDENTITY
#define GZ FA_CODING_GZIP
#define BR FA_CODING_BR
#define ZS FA_CODING_ZSTD
#define NONE FA_CODING_NONE

static void test_negotiation_table(void **state) {
    (void)state;
    static const struct {
        const char *header;
        unsigned available;
        fa_cache_coding want;
    } cases[] = {
        {"", ALL, I},
        {"   ", ALL, I},
        {"gzip", ALL, GZ},
        {"gzip, deflate, br", ALL, BR},
        {"gzip, deflate, br, zstd", ALL, BR},
        {"zstd, gzip", ALL, ZS},
        {"deflate, gzip", ALL, GZ},
        {"GZIP", ALL, GZ},
        {"Br", ALL, BR},
        {"ZSTD", ALL, ZS},
        {"x-gzip", ALL, GZ},
        {"X-Gzip", ALL, GZ},
        {"br;q=0, gzip", ALL, GZ},
        {"br;q=0.5, gzip;q=0.8", ALL, GZ},
        {"br;q=0.8, gzip;q=0.8, zstd;q=0.8", ALL, BR},
        {"gzip;q=0.8, zstd;q=0.8", ALL, ZS},
        {"gzip;q=0.5, identity", ALL, I},
        {"identity", ALL, I},
        {"identity;q=0", ALL, NONE},
        {"identity;q=0, gzip", ALL, GZ},
        {"*", ALL, BR},
        {"*;q=0", ALL, NONE},
        {"*;q=0, identity", ALL, I},
        {"*;q=0, gzip;q=0.2", ALL, GZ},
        {"*;q=0.1, gzip;q=0.5", ALL, GZ},
        {"*, br;q=0", ALL, ZS},
        {"*;q=0.5, identity;q=0.6", ALL, I},
        {"deflate", ALL, I},
        {"deflate, identity;q=0", ALL, NONE},
        {"brotli, gzipx, compress", ALL, I},
        {"gzip;q=1.0", ALL, GZ},
        {"gzip;q=1.000", ALL, GZ},
        {"gzip;q=1.001", ALL, I},
        {"gzip;q=0.0001", ALL, I},
        {"gzip;q=abc", ALL, I},
        {"gzip;q=", ALL, I},
        {"gzip;q", ALL, I},
        {"gzip;q=-1", ALL, I},
        {"gzip;q=2", ALL, I},
        {"gzip;q=0.000", ALL, I},
        {"gzip;q=0.001", ALL, GZ},
        {"gzip;q=0.001, identity;q=0.002", ALL, I},
        {"gzip ; q=0.5 , br ; Q=0.4", ALL, GZ},
        {"gzip;q = 0.5, br;q=0.4", ALL, GZ},
        {"  br  ", ALL, BR},
        {",,, gzip ,,", ALL, GZ},
        {"gzip;level=1", ALL, GZ},
        {"gzip;q=0.5;x=y, br;q=0.4", ALL, GZ},
        {"gzip bogus, br;q=0.1", ALL, BR},
        {"gzip;q=0, gzip", ALL, I},
        {"gzip, gzip;q=0", ALL, GZ},
        {"br", ID_GZ, I},
        {"br, gzip", ID_GZ, GZ},
        {"identity;q=0, br", ID_GZ, NONE},
        {"*;q=0.5", FA_CODING_BIT(FA_CODING_IDENTITY), I},
        {"gzip", FA_CODING_BIT(FA_CODING_GZIP), GZ},
        {"br", FA_CODING_BIT(FA_CODING_GZIP), NONE},
        {";q=0.5", ALL, I},
        {"gzip;q=0.5\t,\tzstd;q=0.7", ALL, ZS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fa_cache_coding got =
            fa_cache_negotiate(cases[i].header, strlen(cases[i].header), cases[i].available);
        if (got != cases[i].want)
            fail_msg("Accept-Encoding '%s' (available 0x%x): got %d, want %d", cases[i].header,
                     cases[i].available, (int)got, (int)cases[i].want);
    }
    /* Absent header: identity when there, else the preferred coding. */
    assert_int_equal(fa_cache_negotiate(NULL, 0, ALL), I);
    assert_int_equal(fa_cache_negotiate(NULL, 0, FA_CODINGS_COMPRESSED), BR);
    /* Only header[0..len) is read: a field value inside a larger buffer. */
    assert_int_equal(fa_cache_negotiate("gzip, br", 4, ALL), GZ);
    assert_int_equal(fa_cache_negotiate("br;q=0.5", 2, ALL), BR);
}

static void test_coding_names(void **state) {
    (void)state;
    assert_string_equal(fa_cache_coding_name(FA_CODING_IDENTITY), "identity");
    assert_string_equal(fa_cache_coding_name(FA_CODING_GZIP), "gzip");
    assert_string_equal(fa_cache_coding_name(FA_CODING_BR), "br");
    assert_string_equal(fa_cache_coding_name(FA_CODING_ZSTD), "zstd");
    assert_null(fa_cache_coding_name(FA_CODING_NONE));
    assert_null(fa_cache_coding_name(FA_CODING_COUNT));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_reused),
        cmocka_unit_test(test_compress_appends),
        cmocka_unit_test(test_levels_checked),
        cmocka_unit_test(test_variants_only_when_smaller),
        cmocka_unit_test(test_entry_variants_and_etags),
        cmocka_unit_test(test_pick_variant),
        cmocka_unit_test(test_negotiation_table),
        cmocka_unit_test(test_coding_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
