/*
 * image_resize.c - bilinear resampling of a region of a packed RGB picture
 * (fa_image_resize_region): the detector's tiles, the overlay's frames.
 *
 * Sampling is OpenCV's INTER_LINEAR on pixel centres (source coordinate
 * (d + 0.5) * scale - 0.5, clamped at the edges), so boxes agree with the
 * detectors' reference demos. Each output byte is
 *   top = a0 + fx * (a1 - a0), bot = b0 + fx * (b1 - b0),
 *   out = (uint8_t)(top + fy * (bot - top) + 0.5f)
 * in float, in that order (C17 keeps contraction off).
 *
 * Why a vector path: a detector cuts every frame into tiles a little
 * smaller than its input and scales each up; done one byte at a time this
 * was 9 % of a tiled INT8 frame's profile. The AVX-512 path computes the
 * same expression for 16 output bytes at once, the four source bytes of
 * each fetched by dword gathers at per-byte offsets tabulated once per call
 * (a dword read at a byte offset runs up to 3 bytes past it, so a row pair
 * touching the picture's last row goes the scalar way), and the very same
 * float operations: the two paths are bitwise equal (tests/video/
 * test_image.c). FA_IMAGE_ISA=generic forces the scalar path.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "video/image.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RESIZE_X86 1
#else
#define RESIZE_X86 0
#endif

/* Source coordinate and weight of destination index d (INTER_LINEAR). */
static void lin_coord(int d, double scale, int n, int *i0, int *i1, float *frac) {
    double s = (d + 0.5) * scale - 0.5;
    int i = (int)floor(s);
    float fx = (float)(s - i);
    if (i < 0) i = 0, fx = 0;
    if (i >= n - 1) i = n - 1, fx = 0;
    *i0 = i;
    *i1 = i + 1 < n ? i + 1 : i;
    *frac = fx;
}

/* Horizontal sampling of one destination column. */
typedef struct lin_tap {
    int x0, x1;
    float fx;
} lin_tap;

static void resize_row(const uint8_t *r0, const uint8_t *r1, float fy, const lin_tap *taps, int dst_w,
                       uint8_t *out) {
    for (int dx = 0; dx < dst_w; dx++) {
        const lin_tap *t = &taps[dx];
        const uint8_t *a0 = r0 + t->x0 * 3, *a1 = r0 + t->x1 * 3, *b0 = r1 + t->x0 * 3, *b1 = r1 + t->x1 * 3;
        for (int c = 0; c < 3; c++) {
            float top = a0[c] + t->fx * (a1[c] - a0[c]);
            float bot = b0[c] + t->fx * (b1[c] - b0[c]);
            out[dx * 3 + c] = (uint8_t)(top + fy * (bot - top) + 0.5f);
        }
    }
}

#if RESIZE_X86
#define RESIZE_AVX512 __attribute__((target("avx512f")))

static int use_avx512(void) {
    const char *want = getenv("FA_IMAGE_ISA");
    if (want && strcmp(want, "generic") == 0) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

/* Per output byte k (pixel k / 3, channel k % 3): the byte offsets of its
 * two source bytes in a row and its weight. */
typedef struct byte_taps {
    int32_t *off0, *off1;
    float *fx;
} byte_taps;

/* The 16 source bytes at the offsets in v (masked by t) of row r, as floats. */
RESIZE_AVX512 static __m512 gather_bytes(const uint8_t *r, __m512i v, __mmask16 t) {
    __m512i d = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), t, v, (const void *)r, 1);
    return _mm512_cvtepi32_ps(_mm512_and_si512(d, _mm512_set1_epi32(0xff)));
}

/* resize_row for n = 3 * dst_w output bytes, 16 at a time. */
RESIZE_AVX512 static void resize_row_avx512(const uint8_t *r0, const uint8_t *r1, float fy,
                                            const byte_taps *bt, int n, uint8_t *out) {
    const __m512 vfy = _mm512_set1_ps(fy), half = _mm512_set1_ps(0.5f);
    for (int k = 0; k < n; k += 16) {
        __mmask16 t = n - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - k)) - 1);
        __m512i o0 = _mm512_maskz_loadu_epi32(t, bt->off0 + k),
                o1 = _mm512_maskz_loadu_epi32(t, bt->off1 + k);
        __m512 fx = _mm512_maskz_loadu_ps(t, bt->fx + k);
        __m512 a0 = gather_bytes(r0, o0, t), a1 = gather_bytes(r0, o1, t);
        __m512 b0 = gather_bytes(r1, o0, t), b1 = gather_bytes(r1, o1, t);
        __m512 top = _mm512_add_ps(a0, _mm512_mul_ps(fx, _mm512_sub_ps(a1, a0)));
        __m512 bot = _mm512_add_ps(b0, _mm512_mul_ps(fx, _mm512_sub_ps(b1, b0)));
        __m512 v = _mm512_add_ps(_mm512_add_ps(top, _mm512_mul_ps(vfy, _mm512_sub_ps(bot, top))), half);
        _mm512_mask_cvtepi32_storeu_epi8(out + k, t, _mm512_cvttps_epi32(v));
    }
}

/* The byte taps of taps[0..dst_w) (NULL fields on ENOMEM). */
static byte_taps make_byte_taps(const lin_tap *taps, int dst_w) {
    size_t n = (size_t)dst_w * 3;
    byte_taps bt = {malloc(n * sizeof *bt.off0), malloc(n * sizeof *bt.off1), malloc(n * sizeof *bt.fx)};
    for (size_t k = 0; bt.off0 && bt.off1 && bt.fx && k < n; k++) {
        const lin_tap *t = &taps[k / 3];
        bt.off0[k] = t->x0 * 3 + (int32_t)(k % 3);
        bt.off1[k] = t->x1 * 3 + (int32_t)(k % 3);
        bt.fx[k] = t->fx;
    }
    return bt;
}
#endif

void fa_image_resize_region(const fa_image *src, int x, int y, int w, int h, uint8_t *dst, int dst_w,
                            int dst_h) {
    double sx = (double)w / dst_w, sy = (double)h / dst_h;
    lin_tap stack_taps[1024];
    lin_tap *taps = dst_w <= 1024 ? stack_taps : malloc((size_t)dst_w * sizeof *taps);
    if (!taps) { /* no memory for the column table (dst_w > 1024): a black picture, never a crash */
        memset(dst, 0, (size_t)dst_w * dst_h * 3);
        return;
    }
    for (int dx = 0; dx < dst_w; dx++)
        lin_coord(dx, sx, w, &taps[dx].x0, &taps[dx].x1, &taps[dx].fx);
#if RESIZE_X86
    byte_taps bt = {0};
    if (use_avx512()) bt = make_byte_taps(taps, dst_w);
    int wide = bt.off0 && bt.off1 && bt.fx;
#endif
    for (int dy = 0; dy < dst_h; dy++) {
        int y0, y1;
        float fy;
        lin_coord(dy, sy, h, &y0, &y1, &fy);
        const uint8_t *r0 = src->rgb + (size_t)(y + y0) * src->stride + (size_t)x * 3;
        const uint8_t *r1 = src->rgb + (size_t)(y + y1) * src->stride + (size_t)x * 3;
        uint8_t *out = dst + (size_t)dy * dst_w * 3;
#if RESIZE_X86
        if (wide && y + y0 < src->h - 1 && y + y1 < src->h - 1) { /* gathers may read 3 bytes on */
            resize_row_avx512(r0, r1, fy, &bt, dst_w * 3, out);
            continue;
        }
#endif
        resize_row(r0, r1, fy, taps, dst_w, out);
    }
#if RESIZE_X86
    free(bt.off0), free(bt.off1), free(bt.fx);
#endif
    if (taps != stack_taps) free(taps);
}
