/*
 * native_stem.c - the stem kernel of the native backend (AVX-512): the
 * first convolution of a detector, 3x3 stride 2 over the 3 colour
 * channels (any filter >= 2x2 over <= 4 input channels, stride_w <= 2,
 * undilated columns: native.c decides), where a GEMM spends more time
 * packing its B panels than multiplying them: K = 27, so im2col writes
 * and re-reads 27 floats per output pixel for 27 multiply-adds per output
 * channel, over the largest tensors of the network.
 *
 * Here the NCHW input is read in place: each tap of 16 output pixels is
 * one 16-float load (stride 1) or two and a permute keeping the even
 * elements (stride 2), with the padding handled by masking off the lanes
 * outside the row (masked-off lanes are never read) and padding rows
 * skipped as zeros. Each such vector feeds up to 24 output channels at
 * once (24 accumulators of the 32 registers, the weight broadcast folded
 * into the FMA), so a tap costs one or two loads for 24 FMAs. An earlier
 * version first copied the input into padded, phase-split planes: the
 * copy cost about a quarter of the stem (bench: FastestDet's 3->24 @352,
 * 0.48 -> 0.44 ms without it). Each output sums bias then its taps in
 * (ci, ky, kx) order with FMAs, the GEMM tiles' order, so the result is
 * bitwise the GEMM path's.
 */
#include "nn/native_kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX512_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512dq")))
#define AVX512_INLINE AVX512_TARGET __attribute__((always_inline)) static inline

AVX512_INLINE __m512 act16(__m512 v, fa_nn_act act, __m512 alpha) {
    if (act == FA_NN_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());
    if (act == FA_NN_ACT_LEAKY) {
        __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
        return _mm512_mask_blend_ps(pos, _mm512_mul_ps(v, alpha), v);
    }
    return v;
}

/* Lanes i < 16 with 0 <= col + i < w (the columns a load may touch). */
static __mmask16 cols_inside(long col, long w) {
    long lo = col < 0 ? -col : 0, hi = w - col < 16 ? w - col : 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* Where the taps of one output vector read within an input row, per
 * filter column kx: the first column and the masks of the one or two
 * 16-float loads (computed once per vector, used for every row). */
typedef struct stem_cols {
    long col[FA_NN_STEM_KW_MAX];
    __mmask16 lo[FA_NN_STEM_KW_MAX], hi[FA_NN_STEM_KW_MAX];
} stem_cols;

static void stem_cols_at(const fa_nn_conv_params *p, int x, stem_cols *sc) {
    for (int kx = 0; kx < p->kw; kx++) {
        long col = (long)x * p->stride_w - p->pad_l + kx;
        sc->col[kx] = col;
        sc->lo[kx] = cols_inside(col, p->w_in);
        sc->hi[kx] = cols_inside(col + 16, p->w_in);
    }
}

/* The 16 inputs of the vector's tap column kx in input row `row` (NULL:
 * a padding row, zeros): stride 1 one masked load, stride 2 two masked
 * loads and a permute keeping the even elements. */
AVX512_INLINE __m512 stem_taps(const fa_nn_stem *s, const float *row, const stem_cols *sc, int kx,
                               __m512i even) {
    if (!row) return _mm512_setzero_ps();
    __m512 lo = _mm512_maskz_loadu_ps(sc->lo[kx], row + sc->col[kx]);
    if (s->p.stride_w == 1) return lo;
    __m512 hi = _mm512_maskz_loadu_ps(sc->hi[kx], row + sc->col[kx] + 16);
    return _mm512_permutex2var_ps(lo, even, hi);
}

/* One output vector (row oy, columns x .. x + lanes - 1) of the NACC
 * output channels of block b. */
AVX512_INLINE void stem_vec(const fa_nn_stem *s, size_t b, int oy, int x, int lanes, const int NACC,
                            int nreal) {
    const fa_nn_conv_params *p = &s->p;
    const int taps = p->c_in * p->kh * p->kw;
    const float *w = s->w + b * (size_t)taps * FA_NN_DIRECT_OC;
    __m512 acc[FA_NN_DIRECT_OC];
#pragma GCC unroll 24
    for (int a = 0; a < NACC; a++) acc[a] = _mm512_set1_ps(s->bias[b * FA_NN_DIRECT_OC + (size_t)a]);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    size_t plane = (size_t)p->h_in * (size_t)p->w_in;
    stem_cols sc;
    stem_cols_at(p, x, &sc);
    for (int ci = 0; ci < p->c_in; ci++)
        for (int ky = 0; ky < p->kh; ky++) {
            long iy = (long)oy * p->stride_h - p->pad_t + (long)ky * p->dil_h;
            const float *row = NULL; /* a padding row: zeros */
            if (iy >= 0 && iy < p->h_in) row = s->in + (size_t)ci * plane + (size_t)iy * (size_t)p->w_in;
            for (int kx = 0; kx < p->kw; kx++, w += FA_NN_DIRECT_OC) {
                __m512 v = stem_taps(s, row, &sc, kx, even);
#pragma GCC unroll 24
                for (int a = 0; a < NACC; a++) acc[a] = _mm512_fmadd_ps(_mm512_set1_ps(w[a]), v, acc[a]);
            }
        }
    const __m512 alpha = _mm512_set1_ps(p->alpha);
    const __mmask16 m = (__mmask16)((1u << lanes) - 1u);
    size_t out_plane = (size_t)p->h_out * (size_t)p->w_out;
    float *out = s->out + b * FA_NN_DIRECT_OC * out_plane + (size_t)oy * (size_t)p->w_out + (size_t)x;
#pragma GCC unroll 24
    for (int a = 0; a < NACC; a++)
        if (a < nreal) _mm512_mask_storeu_ps(out + (size_t)a * out_plane, m, act16(acc[a], p->act, alpha));
}

AVX512_INLINE void stem_block(const fa_nn_stem *s, size_t b, int oy0, int oy1, const int NACC, int nreal) {
    for (int oy = oy0; oy < oy1; oy++)
        for (int x = 0; x < s->p.w_out; x += 16)
            stem_vec(s, b, oy, x, s->p.w_out - x < 16 ? s->p.w_out - x : 16, NACC, nreal);
}

AVX512_TARGET static void stem_8(const fa_nn_stem *s, size_t b, int oy0, int oy1, int n) {
    stem_block(s, b, oy0, oy1, 8, n);
}
AVX512_TARGET static void stem_16(const fa_nn_stem *s, size_t b, int oy0, int oy1, int n) {
    stem_block(s, b, oy0, oy1, 16, n);
}
AVX512_TARGET static void stem_24(const fa_nn_stem *s, size_t b, int oy0, int oy1, int n) {
    stem_block(s, b, oy0, oy1, 24, n);
}

void fa_nn_native_stem_avx512(const fa_nn_stem *s, int oy0, int oy1) {
    const fa_nn_conv_params *p = &s->p;
    size_t blocks = ((size_t)p->c_out + FA_NN_DIRECT_OC - 1) / FA_NN_DIRECT_OC;
    for (size_t b = 0; b < blocks; b++) {
        int nreal = p->c_out - (int)(b * FA_NN_DIRECT_OC);
        nreal = nreal < FA_NN_DIRECT_OC ? nreal : FA_NN_DIRECT_OC;
        if (nreal <= 8)
            stem_8(s, b, oy0, oy1, nreal);
        else if (nreal <= 16)
            stem_16(s, b, oy0, oy1, nreal);
        else
            stem_24(s, b, oy0, oy1, nreal);
    }
    if (p->act != FA_NN_ACT_SIGMOID) return;
    size_t out_plane = (size_t)p->h_out * (size_t)p->w_out;
    for (int oc = 0; oc < p->c_out; oc++) {
        float *rows = s->out + (size_t)oc * out_plane + (size_t)oy0 * (size_t)p->w_out;
        fa_nn_native_act(rows, (size_t)(oy1 - oy0) * (size_t)p->w_out, p->act, p->alpha);
    }
}

#else

void fa_nn_native_stem_avx512(const fa_nn_stem *s, int oy0, int oy1) {
    (void)s, (void)oy0, (void)oy1; /* native.c chooses it only on x86 with AVX-512 */
}

#endif
