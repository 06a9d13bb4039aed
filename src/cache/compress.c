/*
 * compress.c - the compressed variants of a cached body: gzip (zlib), br
 * (brotli) and zstd, made once when the entry is filled.
 *
 * Why each is driven the way it is (issue 4 measured 2 KB JSON bodies):
 *   - gzip: deflateInit2 allocates about 256 KB of window and hash
 *     tables; the issue measured a fresh stream per body at 62 us against
 *     10.6 us after deflateReset (where malloc hands back fresh pages each
 *     time; bench_cache, whose allocator reuses the freed block, sees less
 *     of a gap). So a compressor keeps one stream (gzip wrapper:
 *     windowBits 15 + 16, memLevel 8) and resets it: a fill then neither
 *     allocates nor faults pages in. The wrapper's header has mtime 0, so
 *     equal bodies give equal bytes and equal ETags.
 *   - brotli: the library has no reset for an encoder instance, so each
 *     body goes through BrotliEncoderCompress; its window is sized to the
 *     body (at least 2^10, at most the default 2^22), which keeps the
 *     encoder's tables small for small bodies. Quality 5 is the default:
 *     smaller than gzip-9 for about 1.5x gzip-6's time (27 us for 2 KB in
 *     the issue, 73 us CPU in bench_cache on this project's VM); q11 costs
 *     50x more for 10 % less.
 *   - zstd: one ZSTD_CCtx per compressor, reused through ZSTD_compress2
 *     (which resets the session and keeps the level), so its tables are
 *     allocated once.
 * A compressor is not thread-safe. The L1 keeps a pool of idle ones that
 * fills borrow, so there are as many as fills run at once, no more, and no
 * thread-local or global state.
 */
#define ZLIB_CONST
#include <brotli/encode.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "cache/cache_internal.h"

struct fa_cache_compressor {
    z_stream gz;
    int gz_ready;
    ZSTD_CCtx *zstd;
    int brotli_quality;
};

fa_cache_compressor *fa_cache_compressor_new(int gzip_level, int brotli_quality, int zstd_level) {
    if (gzip_level < 1 || gzip_level > 9)
        return fa_err_set(FA_EINVAL, "cache: gzip level %d: expected 1..9", gzip_level), NULL;
    if (brotli_quality < BROTLI_MIN_QUALITY || brotli_quality > BROTLI_MAX_QUALITY)
        return fa_err_set(FA_EINVAL, "cache: brotli quality %d: expected 0..11", brotli_quality), NULL;
    if (zstd_level < 1 || zstd_level > ZSTD_maxCLevel())
        return fa_err_set(FA_EINVAL, "cache: zstd level %d: expected 1..%d", zstd_level, ZSTD_maxCLevel()),
               NULL;
    fa_cache_compressor *c = fa_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->brotli_quality = brotli_quality;
    if (deflateInit2(&c->gz, gzip_level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fa_cache_compressor_free(c);
        return fa_err_set(FA_ENOMEM, "cache: deflateInit2 failed"), NULL;
    }
    c->gz_ready = 1;
    c->zstd = ZSTD_createCCtx();
    if (!c->zstd || ZSTD_isError(ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel, zstd_level))) {
        fa_cache_compressor_free(c);
        return fa_err_set(FA_ENOMEM, "cache: ZSTD_createCCtx failed"), NULL;
    }
    return c;
}

void fa_cache_compressor_free(fa_cache_compressor *c) {
    if (!c) return;
    if (c->gz_ready) deflateEnd(&c->gz);
    ZSTD_freeCCtx(c->zstd);
    free(c);
}

static int gzip_into(fa_cache_compressor *c, const void *in, size_t n, fa_buf *out) {
    if (n > UINT_MAX) return fa_err_set(FA_ELIMIT, "cache: gzip: body of %zu bytes too large", n);
    if (deflateReset(&c->gz) != Z_OK) return fa_err_set(FA_EIO, "cache: gzip: deflateReset failed");
    uLong bound = deflateBound(&c->gz, (uLong)n);
    if (fa_buf_reserve(out, bound)) return FA_ENOMEM;
    c->gz.next_in = in;
    c->gz.avail_in = (uInt)n;
    c->gz.next_out = (Bytef *)out->data + out->len;
    c->gz.avail_out = (uInt)bound;
    int rc = deflate(&c->gz, Z_FINISH);
    if (rc != Z_STREAM_END) return fa_err_set(FA_EIO, "cache: gzip: deflate returned %d", rc);
    out->len += bound - c->gz.avail_out;
    out->data[out->len] = '\0';
    return 0;
}

/* The smallest window that holds the whole body, within brotli's range. */
static int brotli_window(size_t n) {
    int lgwin = BROTLI_MIN_WINDOW_BITS;
    while (lgwin < BROTLI_DEFAULT_WINDOW && ((size_t)1 << lgwin) - 16 < n) lgwin++;
    return lgwin;
}

static int brotli_into(fa_cache_compressor *c, const void *in, size_t n, fa_buf *out) {
    size_t cap = BrotliEncoderMaxCompressedSize(n);
    if (cap == 0) return fa_err_set(FA_ELIMIT, "cache: brotli: body of %zu bytes too large", n);
    if (fa_buf_reserve(out, cap)) return FA_ENOMEM;
    size_t got = cap;
    if (!BrotliEncoderCompress(c->brotli_quality, brotli_window(n), BROTLI_MODE_GENERIC, n, in, &got,
                               (uint8_t *)out->data + out->len))
        return fa_err_set(FA_EIO, "cache: brotli: BrotliEncoderCompress failed on %zu bytes", n);
    out->len += got;
    out->data[out->len] = '\0';
    return 0;
}

static int zstd_into(fa_cache_compressor *c, const void *in, size_t n, fa_buf *out) {
    size_t cap = ZSTD_compressBound(n);
    if (ZSTD_isError(cap)) return fa_err_set(FA_ELIMIT, "cache: zstd: body of %zu bytes too large", n);
    if (fa_buf_reserve(out, cap)) return FA_ENOMEM;
    size_t got = ZSTD_compress2(c->zstd, out->data + out->len, cap, in, n);
    if (ZSTD_isError(got)) return fa_err_set(FA_EIO, "cache: zstd: %s", ZSTD_getErrorName(got));
    out->len += got;
    out->data[out->len] = '\0';
    return 0;
}

int fa_cache_compress(fa_cache_compressor *c, fa_cache_coding coding, const void *in, size_t n, fa_buf *out) {
    switch (coding) {
    case FA_CODING_GZIP: return gzip_into(c, in, n, out);
    case FA_CODING_BR: return brotli_into(c, in, n, out);
    case FA_CODING_ZSTD: return zstd_into(c, in, n, out);
    default: return fa_err_set(FA_EINVAL, "cache: compress: coding %d is not gzip, br or zstd", (int)coding);
    }
}

int fa_cache_encode_variants(fa_cache_compressor *c, const void *body, size_t n, unsigned codings,
                             size_t min_bytes, fa_buf coded[FA_CODING_COUNT]) {
    for (int k = FA_CODING_GZIP; k < FA_CODING_COUNT; k++) {
        fa_buf_reset(&coded[k]);
        if (n < min_bytes || !(codings & FA_CODING_BIT(k))) continue;
        int rc = fa_cache_compress(c, (fa_cache_coding)k, body, n, &coded[k]);
        if (rc) return rc;
        if (coded[k].len >= n) fa_buf_reset(&coded[k]); /* not smaller: not worth a variant */
    }
    return 0;
}

/* ---------------------------------------------------------------- pool */

int fa_cache_compressor_pool_init(fa_cache_compressor_pool *p, int gzip_level, int brotli_quality,
                                  int zstd_level) {
    memset(p, 0, sizeof *p);
    p->gzip_level = gzip_level;
    p->brotli_quality = brotli_quality;
    p->zstd_level = zstd_level;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        return fa_err_set(FA_ENOMEM, "cache: pthread_mutex_init failed");
    return 0;
}

void fa_cache_compressor_pool_destroy(fa_cache_compressor_pool *p) {
    for (size_t i = 0; i < p->nidle; i++) fa_cache_compressor_free(p->idle[i]);
    free(p->idle);
    pthread_mutex_destroy(&p->mu);
}

fa_cache_compressor *fa_cache_compressor_pool_get(fa_cache_compressor_pool *p) {
    fa_cache_compressor *c = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->nidle) c = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);
    return c ? c : fa_cache_compressor_new(p->gzip_level, p->brotli_quality, p->zstd_level);
}

void fa_cache_compressor_pool_put(fa_cache_compressor_pool *p, fa_cache_compressor *c) {
    pthread_mutex_lock(&p->mu);
    if (p->nidle == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        fa_cache_compressor **idle = realloc(p->idle, cap * sizeof *idle);
        if (idle) {
            p->idle = idle;
            p->cap = cap;
        }
    }
    if (p->nidle < p->cap) {
        p->idle[p->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    fa_cache_compressor_free(c); /* only when the pool could not grow */
}
