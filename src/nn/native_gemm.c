/*
 * native_gemm.c - the GEMM micro-kernels of the native backend (one MR x NR
 * = 6 x 16 (AVX2, portable) or 12 x 16 (AVX-512) tile of C over the whole
 * K), the activations, and the IEEE half conversions used by FP16 weight
 * storage.
 *
 * Why 6 x 16: with AVX2 a tile row is two 8-float registers, so 6 rows use
 * 12 accumulators, leaving 4 of the 16 ymm registers for the two B vectors
 * and the A broadcast; each k step is then 2 loads, 6 broadcasts and 12
 * FMAs, enough independent FMAs to hide their latency. Both A and B are
 * packed (see native_kern.h) so the inner loop reads memory strictly
 * sequentially. The portable version keeps the same layout so packing is
 * shared; written with plain arrays, compilers vectorise it for SSE2.
 * With AVX-512 a tile row is one 16-float register and there are 32
 * registers, so the tile grows to 12 rows: 12 accumulators, one B load and
 * 12 broadcast-FMAs (the broadcast folded into the FMA's memory operand)
 * per k step, twice the work per instruction of the AVX2 tile; the B
 * panel layout is the same, only the A panels are 12 rows high.
 *
 * The AVX2 functions carry __attribute__((target)) so the file builds for
 * generic x86-64; native.c calls them only when the CPU reports AVX2, FMA
 * and F16C. On other architectures they fall back to the portable code.
 */
#include <math.h>
#include <string.h>

#include "nn/native_kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NATIVE_HAVE_X86 1
#else
#define NATIVE_HAVE_X86 0
#endif

static float act_one(float x, fa_nn_act act, float alpha) {
    switch (act) {
    case FA_NN_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case FA_NN_ACT_LEAKY: return x < 0.0f ? alpha * x : x;
    case FA_NN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    default: return x;
    }
}

void fa_nn_native_act(float *x, size_t n, fa_nn_act act, float alpha) {
    if (act == FA_NN_ACT_NONE) return;
    for (size_t i = 0; i < n; i++) x[i] = act_one(x[i], act, alpha);
}

/* Stores tile[MR][NR] into C's valid rows and columns. */
static void store_tile(const fa_nn_tile *t, const float tile[FA_NN_MR][FA_NN_NR]) {
    for (int r = 0; r < t->mr; r++) memcpy(t->c + (size_t)r * t->ldc, tile[r], (size_t)t->nr * sizeof(float));
}

/* Rows r and r + 1 of the tile: 2 x 16 accumulators fit the 16 registers
 * of baseline SSE2 (a whole 6 x 16 tile would spill), and the B panel,
 * read three times, stays in L1. */
static void tile_rows_generic(const fa_nn_tile *t, int r, float acc[2][FA_NN_NR]) {
    float lo[FA_NN_NR], hi[FA_NN_NR];
    for (int j = 0; j < FA_NN_NR; j++) lo[j] = t->bias[r], hi[j] = t->bias[r + 1];
    const float *a = t->a + r, *b = t->b;
    for (size_t k = 0; k < t->k; k++, a += FA_NN_MR, b += FA_NN_NR) {
        float a0 = a[0], a1 = a[1];
        for (int j = 0; j < FA_NN_NR; j++) {
            lo[j] += a0 * b[j];
            hi[j] += a1 * b[j];
        }
    }
    memcpy(acc[0], lo, sizeof lo);
    memcpy(acc[1], hi, sizeof hi);
}

void fa_nn_native_tile_generic(const fa_nn_tile *t) {
    float acc[FA_NN_MR][FA_NN_NR];
    for (int r = 0; r < FA_NN_MR; r += 2) tile_rows_generic(t, r, &acc[r]);
    if (t->act == FA_NN_ACT_RELU || t->act == FA_NN_ACT_LEAKY)
        for (int r = 0; r < FA_NN_MR; r++)
            for (int j = 0; j < FA_NN_NR; j++) acc[r][j] = act_one(acc[r][j], t->act, t->alpha);
    store_tile(t, (const float(*)[FA_NN_NR])acc);
}

uint16_t fa_nn_native_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);      /* NaN */
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);     /* rounds to >= 65520: inf */
    if (absx >= 0x38800000u) {                                        /* normal half */
        uint32_t h = ((((absx >> 23) - 112u) << 10) | ((absx & 0x7fffffu) >> 13));
        uint32_t rem = absx & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    if (absx <= 0x33000000u) return sign;                             /* <= 2^-25: to zero */
    uint32_t mant = (absx & 0x7fffffu) | 0x800000u;                   /* subnormal half */
    uint32_t shift = 126u - (absx >> 23);
    uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        float v = (float)m * 5.9604644775390625e-8f; /* m * 2^-24, exact */
        return sign ? -v : v;
    }
    x = e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e + 112u) << 23) | (m << 13));
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

void fa_nn_native_f16_to_f32_generic(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = f16_to_f32(src[i]);
}

#if NATIVE_HAVE_X86

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

/* ReLU / leaky on one register (others pass through). */
AVX2_TARGET static inline __m256 avx2_act(__m256 v, fa_nn_act act, __m256 alpha) {
    if (act == FA_NN_ACT_RELU) return _mm256_max_ps(v, _mm256_setzero_ps());
    if (act == FA_NN_ACT_LEAKY) {
        __m256 pos = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ);
        return _mm256_blendv_ps(_mm256_mul_ps(v, alpha), v, pos);
    }
    return v;
}

#define ROW_FMA(r)                                                                                          \
    do {                                                                                                    \
        __m256 ar = _mm256_broadcast_ss(a + (r));                                                           \
        c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);                                                         \
        c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);                                                         \
    } while (0)

#define ROW_OUT(r)                                                                                          \
    do {                                                                                                    \
        _mm256_storeu_ps(out[r], avx2_act(c##r##0, t->act, alpha));                                         \
        _mm256_storeu_ps(out[r] + 8, avx2_act(c##r##1, t->act, alpha));                                     \
    } while (0)

AVX2_TARGET void fa_nn_native_tile_avx2(const fa_nn_tile *t) {
    __m256 c00 = _mm256_set1_ps(t->bias[0]), c01 = c00, c10 = _mm256_set1_ps(t->bias[1]), c11 = c10;
    __m256 c20 = _mm256_set1_ps(t->bias[2]), c21 = c20, c30 = _mm256_set1_ps(t->bias[3]), c31 = c30;
    __m256 c40 = _mm256_set1_ps(t->bias[4]), c41 = c40, c50 = _mm256_set1_ps(t->bias[5]), c51 = c50;
    const float *a = t->a, *b = t->b;
    for (size_t k = 0; k < t->k; k++, a += FA_NN_MR, b += FA_NN_NR) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        ROW_FMA(0);
        ROW_FMA(1);
        ROW_FMA(2);
        ROW_FMA(3);
        ROW_FMA(4);
        ROW_FMA(5);
    }
    __m256 alpha = _mm256_set1_ps(t->alpha);
    float tmp[FA_NN_MR][FA_NN_NR];
    int direct = t->mr == FA_NN_MR && t->nr == FA_NN_NR;
    float *out[FA_NN_MR];
    for (int r = 0; r < FA_NN_MR; r++) out[r] = direct ? t->c + (size_t)r * t->ldc : tmp[r];
    ROW_OUT(0);
    ROW_OUT(1);
    ROW_OUT(2);
    ROW_OUT(3);
    ROW_OUT(4);
    ROW_OUT(5);
    if (!direct) store_tile(t, (const float(*)[FA_NN_NR])tmp);
}

#define AVX512_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512dq")))

/* ReLU / leaky on one 16-float register, as avx2_act does on 8. */
AVX512_TARGET static inline __m512 avx512_act(__m512 v, fa_nn_act act, __m512 alpha) {
    if (act == FA_NN_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());
    if (act == FA_NN_ACT_LEAKY) {
        __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
        return _mm512_mask_blend_ps(pos, _mm512_mul_ps(v, alpha), v);
    }
    return v;
}

#define ROW512_FMA(r) c##r = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), bv, c##r)
#define ROW512_OUT(r)                                                                                       \
    do {                                                                                                    \
        if ((r) < t->mr)                                                                                    \
            _mm512_mask_storeu_ps(t->c + (size_t)(r) * t->ldc, cols, avx512_act(c##r, act, alpha));         \
    } while (0)

AVX512_TARGET void fa_nn_native_tile_avx512(const fa_nn_tile *t) {
    const float *bias = t->bias;
    __m512 c0 = _mm512_set1_ps(bias[0]), c1 = _mm512_set1_ps(bias[1]), c2 = _mm512_set1_ps(bias[2]);
    __m512 c3 = _mm512_set1_ps(bias[3]), c4 = _mm512_set1_ps(bias[4]), c5 = _mm512_set1_ps(bias[5]);
    __m512 c6 = _mm512_set1_ps(bias[6]), c7 = _mm512_set1_ps(bias[7]), c8 = _mm512_set1_ps(bias[8]);
    __m512 c9 = _mm512_set1_ps(bias[9]), c10 = _mm512_set1_ps(bias[10]), c11 = _mm512_set1_ps(bias[11]);
    const float *a = t->a, *b = t->b;
    for (size_t k = 0; k < t->k; k++, a += FA_NN_MR512, b += FA_NN_NR) {
        __m512 bv = _mm512_loadu_ps(b);
        ROW512_FMA(0);
        ROW512_FMA(1);
        ROW512_FMA(2);
        ROW512_FMA(3);
        ROW512_FMA(4);
        ROW512_FMA(5);
        ROW512_FMA(6);
        ROW512_FMA(7);
        ROW512_FMA(8);
        ROW512_FMA(9);
        ROW512_FMA(10);
        ROW512_FMA(11);
    }
    const __m512 alpha = _mm512_set1_ps(t->alpha);
    const fa_nn_act act = t->act;
    const __mmask16 cols = (__mmask16)((1u << t->nr) - 1u);
    ROW512_OUT(0);
    ROW512_OUT(1);
    ROW512_OUT(2);
    ROW512_OUT(3);
    ROW512_OUT(4);
    ROW512_OUT(5);
    ROW512_OUT(6);
    ROW512_OUT(7);
    ROW512_OUT(8);
    ROW512_OUT(9);
    ROW512_OUT(10);
    ROW512_OUT(11);
}

/* 12 x 32: the panels at t->b and t->b + k * NR side by side, columns
 * [0, nr) with nr <= 32. Per k step: 12 broadcasts shared by 24 FMAs
 * (where the 12 x 16 tile needs a broadcast per FMA: load-port bound). */
#define ROW2_FMA(r)                                                                                         \
    do {                                                                                                    \
        __m512 ar = _mm512_set1_ps(a[r]);                                                                   \
        c##r##0 = _mm512_fmadd_ps(ar, b0, c##r##0);                                                         \
        c##r##1 = _mm512_fmadd_ps(ar, b1, c##r##1);                                                         \
    } while (0)
#define ROW2_OUT(r)                                                                                         \
    do {                                                                                                    \
        if ((r) < t->mr) {                                                                                  \
            float *o = t->c + (size_t)(r) * t->ldc;                                                         \
            _mm512_mask_storeu_ps(o, lo, avx512_act(c##r##0, act, alpha));                                  \
            _mm512_mask_storeu_ps(o + 16, hi, avx512_act(c##r##1, act, alpha));                             \
        }                                                                                                   \
    } while (0)
#define ROW2_INIT(r) __m512 c##r##0 = _mm512_set1_ps(t->bias[r]), c##r##1 = c##r##0

AVX512_TARGET void fa_nn_native_tile2_avx512(const fa_nn_tile *t) {
    ROW2_INIT(0);
    ROW2_INIT(1);
    ROW2_INIT(2);
    ROW2_INIT(3);
    ROW2_INIT(4);
    ROW2_INIT(5);
    ROW2_INIT(6);
    ROW2_INIT(7);
    ROW2_INIT(8);
    ROW2_INIT(9);
    ROW2_INIT(10);
    ROW2_INIT(11);
    const float *a = t->a, *b = t->b, *b2 = t->b + t->k * FA_NN_NR;
    for (size_t k = 0; k < t->k; k++, a += FA_NN_MR512, b += FA_NN_NR, b2 += FA_NN_NR) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b2);
        ROW2_FMA(0);
        ROW2_FMA(1);
        ROW2_FMA(2);
        ROW2_FMA(3);
        ROW2_FMA(4);
        ROW2_FMA(5);
        ROW2_FMA(6);
        ROW2_FMA(7);
        ROW2_FMA(8);
        ROW2_FMA(9);
        ROW2_FMA(10);
        ROW2_FMA(11);
    }
    const __m512 alpha = _mm512_set1_ps(t->alpha);
    const fa_nn_act act = t->act;
    const __mmask16 lo = 0xffff, hi = (__mmask16)((1u << (t->nr - 16)) - 1u);
    ROW2_OUT(0);
    ROW2_OUT(1);
    ROW2_OUT(2);
    ROW2_OUT(3);
    ROW2_OUT(4);
    ROW2_OUT(5);
    ROW2_OUT(6);
    ROW2_OUT(7);
    ROW2_OUT(8);
    ROW2_OUT(9);
    ROW2_OUT(10);
    ROW2_OUT(11);
}

/* 12 x 32 with B read in place: row k of B at t->b + k * ldb, columns
 * [0, nr) (nr <= 32), the others masked off (never read). */
AVX512_TARGET void fa_nn_native_tile2_inplace_avx512(const fa_nn_tile *t, size_t ldb) {
    ROW2_INIT(0);
    ROW2_INIT(1);
    ROW2_INIT(2);
    ROW2_INIT(3);
    ROW2_INIT(4);
    ROW2_INIT(5);
    ROW2_INIT(6);
    ROW2_INIT(7);
    ROW2_INIT(8);
    ROW2_INIT(9);
    ROW2_INIT(10);
    ROW2_INIT(11);
    const __mmask16 lo = (__mmask16)(t->nr >= 16 ? 0xffffu : (1u << t->nr) - 1u);
    const __mmask16 hi = (__mmask16)(t->nr <= 16 ? 0u : t->nr >= 32 ? 0xffffu : (1u << (t->nr - 16)) - 1u);
    const float *a = t->a, *b = t->b;
    for (size_t k = 0; k < t->k; k++, a += FA_NN_MR512, b += ldb) {
        __m512 b0 = _mm512_maskz_loadu_ps(lo, b), b1 = _mm512_maskz_loadu_ps(hi, b + 16);
        ROW2_FMA(0);
        ROW2_FMA(1);
        ROW2_FMA(2);
        ROW2_FMA(3);
        ROW2_FMA(4);
        ROW2_FMA(5);
        ROW2_FMA(6);
        ROW2_FMA(7);
        ROW2_FMA(8);
        ROW2_FMA(9);
        ROW2_FMA(10);
        ROW2_FMA(11);
    }
    const __m512 alpha = _mm512_set1_ps(t->alpha);
    const fa_nn_act act = t->act;
    ROW2_OUT(0);
    ROW2_OUT(1);
    ROW2_OUT(2);
    ROW2_OUT(3);
    ROW2_OUT(4);
    ROW2_OUT(5);
    ROW2_OUT(6);
    ROW2_OUT(7);
    ROW2_OUT(8);
    ROW2_OUT(9);
    ROW2_OUT(10);
    ROW2_OUT(11);
}

AVX2_TARGET void fa_nn_native_f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const void *)(src + i))));
    fa_nn_native_f16_to_f32_generic(src + i, dst + i, n - i);
}

#else

void fa_nn_native_tile_avx2(const fa_nn_tile *t) { fa_nn_native_tile_generic(t); }
void fa_nn_native_tile_avx512(const fa_nn_tile *t) { (void)t; } /* never chosen without x86 */
void fa_nn_native_tile2_avx512(const fa_nn_tile *t) { (void)t; }
void fa_nn_native_tile2_inplace_avx512(const fa_nn_tile *t, size_t ldb) { (void)t, (void)ldb; }

void fa_nn_native_f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    fa_nn_native_f16_to_f32_generic(src, dst, n);
}

#endif
