/*
 * native_dw.c - the depthwise convolution kernels of the native backend:
 * one output plane from one zero-padded input plane (see native_kern.h).
 *
 * Why direct and not GEMM: a depthwise filter has K = kh * kw (9) per
 * output, far too small for a GEMM to pay off; the work is memory-bound,
 * so the kernel streams each input row once per filter tap and keeps the
 * outputs in registers. native.c copies the input channel into a padded
 * plane first, so the inner loop has no bounds checks at all. The AVX2
 * version vectorises along the output width, 8 outputs per register:
 * stride 1 is a plain unaligned load, stride 2 loads 16 floats and keeps
 * the even ones with a shuffle + permute, and a row's last partial vector
 * is computed whole (the plane's rows have slack for it) and stored
 * masked; other strides use the portable kernel, which compilers
 * vectorise well enough for stride 1.
 */
#include "nn/native_kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NATIVE_HAVE_X86 1
#else
#define NATIVE_HAVE_X86 0
#endif

/* o[x] += w * r[x * s] for x < n; restrict and the separate stride-1
 * loop let compilers vectorise the common case. */
static void axpy_row(float *restrict o, const float *restrict r, float w, size_t n, size_t s) {
    if (s == 1)
        for (size_t x = 0; x < n; x++) o[x] += w * r[x];
    else
        for (size_t x = 0; x < n; x++) o[x] += w * r[x * s];
}

/* One output row with the portable loops. */
static void dw_row_generic(const fa_nn_dw *d, int oy) {
    size_t n = (size_t)d->w_out;
    float *o = d->out + (size_t)oy * n;
    for (size_t x = 0; x < n; x++) o[x] = d->bias;
    for (int ky = 0; ky < d->kh; ky++) {
        const float *row = d->p + (size_t)(oy * d->s_h + ky * d->d_h) * d->pitch;
        for (int kx = 0; kx < d->kw; kx++)
            axpy_row(o, row + kx * d->d_w, d->w[ky * d->kw + kx], n, (size_t)d->s_w);
    }
    fa_nn_native_act(o, n, d->act, d->alpha);
}

void fa_nn_native_dw_generic(const fa_nn_dw *d) {
    for (int oy = 0; oy < d->h_out; oy++) dw_row_generic(d, oy);
}

#if NATIVE_HAVE_X86

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

/* 8 inputs at r[0], r[s], ..., r[7s] for s = 1 or 2. */
AVX2_TARGET static inline __m256 load_strided(const float *r, int s) {
    if (s == 1) return _mm256_loadu_ps(r);
    __m256 lo = _mm256_loadu_ps(r), hi = _mm256_loadu_ps(r + 8);
    __m256 ev = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
}

AVX2_TARGET static inline __m256 dw_act(__m256 v, const fa_nn_dw *d) {
    if (d->act == FA_NN_ACT_RELU) return _mm256_max_ps(v, _mm256_setzero_ps());
    if (d->act == FA_NN_ACT_LEAKY) {
        __m256 pos = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ);
        return _mm256_blendv_ps(_mm256_mul_ps(v, _mm256_set1_ps(d->alpha)), v, pos);
    }
    return v;
}

/* Stores v at o[0..8), or only o[0..left) when left < 8. */
AVX2_TARGET static inline void store_upto(float *o, __m256 v, int left) {
    if (left >= 8) {
        _mm256_storeu_ps(o, v);
        return;
    }
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(o, _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane), v);
}

/* One output row, 8 columns at a time, the last ones masked. */
AVX2_TARGET static void dw_row_avx2(const fa_nn_dw *d, int oy) {
    float *o = d->out + (size_t)oy * (size_t)d->w_out;
    const float *base = d->p + (size_t)(oy * d->s_h) * d->pitch;
    int ox = 0;
    for (; ox < d->w_out; ox += 8) {
        __m256 acc = _mm256_set1_ps(d->bias);
        const float *row = base + (size_t)ox * (size_t)d->s_w;
        for (int ky = 0; ky < d->kh; ky++, row += (size_t)d->d_h * d->pitch) {
            const float *w = d->w + ky * d->kw;
            for (int kx = 0; kx < d->kw; kx++)
                acc = _mm256_fmadd_ps(_mm256_set1_ps(w[kx]), load_strided(row + kx * d->d_w, d->s_w), acc);
        }
        store_upto(o + ox, dw_act(acc, d), d->w_out - ox);
    }
    if (d->act == FA_NN_ACT_SIGMOID) fa_nn_native_act(o, (size_t)d->w_out, d->act, d->alpha);
}

#define AVX2_INLINE AVX2_TARGET __attribute__((always_inline)) static inline

/* The 9 taps of the 8 outputs at column x of rows r[0..2], tap kx at
 * offset off[kx] from x. */
AVX2_INLINE __m256 taps3x3(const float *const r[3], size_t x, const size_t off[3], int s, const __m256 w[9],
                           __m256 acc) {
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++)
            acc = _mm256_fmadd_ps(w[ky * 3 + kx], load_strided(r[ky] + x + off[kx], s), acc);
    return acc;
}

/* 3x3 with the taps in registers and the stride s a constant after
 * inlining: the models' hot case. Parameters are copied to locals (the
 * output stores could alias the struct as far as the compiler knows). */
AVX2_INLINE void dw_3x3(const fa_nn_dw *d, const int s) {
    const fa_nn_dw l = *d;
    const size_t off[3] = {0, (size_t)l.d_w, 2 * (size_t)l.d_w};
    __m256 w[9];
    for (int i = 0; i < 9; i++) w[i] = _mm256_set1_ps(l.w[i]);
    const __m256 bias = _mm256_set1_ps(l.bias);
    const size_t n = (size_t)l.w_out, full = n & ~(size_t)7;
    const size_t row_step = (size_t)l.s_h * l.pitch, tap_step = (size_t)l.d_h * l.pitch;
    const float *r0 = l.p;
    float *o = l.out;
    for (int oy = 0; oy < l.h_out; oy++, r0 += row_step, o += n) {
        const float *const r[3] = {r0, r0 + tap_step, r0 + 2 * tap_step};
        size_t ox = 0;
        for (; ox < full; ox += 8)
            _mm256_storeu_ps(o + ox, dw_act(taps3x3(r, ox * (size_t)s, off, s, w, bias), &l));
        if (ox < n)
            store_upto(o + ox, dw_act(taps3x3(r, ox * (size_t)s, off, s, w, bias), &l), (int)(n - ox));
        if (l.act == FA_NN_ACT_SIGMOID) fa_nn_native_act(o, n, l.act, l.alpha);
    }
}

AVX2_TARGET static void dw_3x3_s1(const fa_nn_dw *d) { dw_3x3(d, 1); }
AVX2_TARGET static void dw_3x3_s2(const fa_nn_dw *d) { dw_3x3(d, 2); }

AVX2_TARGET void fa_nn_native_dw_avx2(const fa_nn_dw *d) {
    if (d->s_w != 1 && d->s_w != 2) {
        fa_nn_native_dw_generic(d);
        return;
    }
    if (d->kh == 3 && d->kw == 3) {
        if (d->s_w == 1)
            dw_3x3_s1(d);
        else
            dw_3x3_s2(d);
        return;
    }
    for (int oy = 0; oy < d->h_out; oy++) dw_row_avx2(d, oy);
}

#else

void fa_nn_native_dw_avx2(const fa_nn_dw *d) { fa_nn_native_dw_generic(d); }

#endif
