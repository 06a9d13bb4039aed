/*
 * native_dw.c - the depthwise convolution kernels of the native backend:
 * one output plane from one zero-padded, phase-split input plane (layout
 * in native_kern.h), in portable C, AVX2 (8 outputs per register) and
 * AVX-512 (16 per register).
 *
 * Why direct and not GEMM: a depthwise filter has K = kh * kw (9 or 25)
 * per output, far too small for a GEMM to pay off; the work is a few
 * multiply-adds per input element, so what matters is that every load is
 * a plain contiguous vector load and that enough independent sums are in
 * flight to hide the FMA latency:
 *   - native.c splits each padded input row by column phase (x mod
 *     stride_w) when it copies the channel in, so every tap of a strided
 *     filter reads consecutive floats of one phase: stride 2 costs the
 *     same per output as stride 1, with no shuffles;
 *   - the vector kernels compute 4 output vectors at once (the plane's
 *     output rows and column chunks in order, 4 at a time), each tap
 *     feeding 4 independent accumulators, where one row at a time would
 *     be a chain of kh * kw dependent FMAs. A row's last, partial vector
 *     is computed whole (the plane has slack for it) and stored masked;
 *   - 3x3 and 5x5 filters keep their taps in registers (9 or 25 of the
 *     32 AVX-512 registers), other sizes broadcast them from memory.
 * Every output sums bias then its taps in (ky, kx) order with fused
 * multiply-adds in both vector kernels, so AVX2 and AVX-512 agree
 * bitwise, and the result does not depend on how channels are split
 * over threads.
 */
#include "nn/native_kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NATIVE_HAVE_X86 1
#else
#define NATIVE_HAVE_X86 0
#endif

/* Offset from a row's start of tap (ky, kx) for output column 0. */
static size_t tap_offset(const fa_nn_dw *d, int ky, int kx) {
    size_t col = (size_t)kx * (size_t)d->d_w, s = (size_t)d->s_w;
    return (size_t)ky * (size_t)d->d_h * d->pitch + col % s * d->seg + col / s;
}

void fa_nn_native_dw_offsets(const fa_nn_dw *d, size_t *off) {
    for (int ky = 0; ky < d->kh; ky++)
        for (int kx = 0; kx < d->kw; kx++) off[ky * d->kw + kx] = tap_offset(d, ky, kx);
}

/* o[x] += w * r[x] for x < n; restrict lets compilers vectorise it. */
static void axpy_row(float *restrict o, const float *restrict r, float w, size_t n) {
    for (size_t x = 0; x < n; x++) o[x] += w * r[x];
}

void fa_nn_native_dw_generic(const fa_nn_dw *d) {
    size_t n = (size_t)d->w_out;
    for (int oy = 0; oy < d->h_out; oy++) {
        float *o = d->out + (size_t)oy * n;
        const float *row = d->p + (size_t)oy * (size_t)d->s_h * d->pitch;
        for (size_t x = 0; x < n; x++) o[x] = d->bias;
        for (int ky = 0; ky < d->kh; ky++)
            for (int kx = 0; kx < d->kw; kx++)
                axpy_row(o, row + d->off[ky * d->kw + kx], d->w[ky * d->kw + kx], n);
        fa_nn_native_act(o, n, d->act, d->alpha);
    }
}

void fa_nn_native_split2_generic(const float *in, size_t n, float *even, float *odd) {
    for (size_t x = 0; x + 1 < n; x += 2) *even++ = in[x], *odd++ = in[x + 1];
    if (n % 2) *even = in[n - 1];
}

#if NATIVE_HAVE_X86

#define DW_TAPS_MAX 25 /* filters with more taps take the portable kernel */
#define DW_GROUP 8     /* output vectors computed together: 8 FMA chains hide the latency */

/* The DW_GROUP output vectors of one step: where each reads and writes,
 * and how many of its lanes are real. */
typedef struct dw_group {
    const float *in[DW_GROUP];
    float *out[DW_GROUP];
    int lanes[DW_GROUP];
} dw_group;

/* A walk over the plane's output vectors (rows times chunks of `width`
 * columns, in order), without divisions. */
typedef struct dw_walk {
    int oy, x, width;
} dw_walk;

/* Fills g with the walk's next DW_GROUP vectors; past the plane's last
 * one, the last is repeated (computed and stored twice: same values,
 * harmless). Returns 0 when the walk had none left. */
static int dw_group_next(const fa_nn_dw *d, dw_walk *w, dw_group *g) {
    if (w->oy >= d->h_out) return 0;
    for (int v = 0; v < DW_GROUP; v++) {
        if (w->oy >= d->h_out) { /* v > 0 here */
            g->in[v] = g->in[v - 1], g->out[v] = g->out[v - 1], g->lanes[v] = g->lanes[v - 1];
            continue;
        }
        g->in[v] = d->p + (size_t)w->oy * (size_t)d->s_h * d->pitch + (size_t)w->x;
        g->out[v] = d->out + (size_t)w->oy * (size_t)d->w_out + (size_t)w->x;
        int left = d->w_out - w->x;
        g->lanes[v] = left < w->width ? left : w->width;
        w->x += w->width;
        if (w->x >= d->w_out) w->x = 0, w->oy++;
    }
    return 1;
}

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))
#define AVX2_INLINE AVX2_TARGET __attribute__((always_inline)) static inline
#define AVX512_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512dq")))
#define AVX512_INLINE AVX512_TARGET __attribute__((always_inline)) static inline

/* ---- AVX2: 8 outputs per register ---- */

AVX2_INLINE __m256 act8(__m256 v, fa_nn_act act, __m256 alpha) {
    if (act == FA_NN_ACT_RELU) return _mm256_max_ps(v, _mm256_setzero_ps());
    if (act == FA_NN_ACT_LEAKY) {
        __m256 pos = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ);
        return _mm256_blendv_ps(_mm256_mul_ps(v, alpha), v, pos);
    }
    return v;
}

AVX2_INLINE void store8(float *o, __m256 v, int lanes) {
    if (lanes >= 8) {
        _mm256_storeu_ps(o, v);
        return;
    }
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(o, _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), lane), v);
}

/* The plane with ntaps taps (offsets off[], weights w[]); ntaps is a
 * constant after inlining for the 3x3 and 5x5 cases. */
AVX2_INLINE void dw8(const fa_nn_dw *d, const size_t *off, const float *wt, const int ntaps) {
    __m256 w[DW_TAPS_MAX];
    for (int t = 0; t < ntaps; t++) w[t] = _mm256_set1_ps(wt[t]);
    const __m256 bias = _mm256_set1_ps(d->bias), alpha = _mm256_set1_ps(d->alpha);
    dw_walk walk = {.width = 8};
    dw_group g;
    while (dw_group_next(d, &walk, &g)) {
        __m256 a[DW_GROUP];
#pragma GCC unroll 8
        for (int v = 0; v < DW_GROUP; v++) a[v] = bias;
        for (int t = 0; t < ntaps; t++)
#pragma GCC unroll 8
            for (int v = 0; v < DW_GROUP; v++)
                a[v] = _mm256_fmadd_ps(w[t], _mm256_loadu_ps(g.in[v] + off[t]), a[v]);
#pragma GCC unroll 8
        for (int v = 0; v < DW_GROUP; v++) store8(g.out[v], act8(a[v], d->act, alpha), g.lanes[v]);
    }
}

AVX2_TARGET static void dw8_3x3(const fa_nn_dw *d, const size_t *off) { dw8(d, off, d->w, 9); }
AVX2_TARGET static void dw8_5x5(const fa_nn_dw *d, const size_t *off) { dw8(d, off, d->w, 25); }
AVX2_TARGET static void dw8_any(const fa_nn_dw *d, const size_t *off) { dw8(d, off, d->w, d->kh * d->kw); }

AVX2_TARGET void fa_nn_native_split2_avx2(const float *in, size_t n, float *even, float *odd) {
    size_t x = 0;
    for (; x + 16 <= n; x += 16, even += 8, odd += 8) {
        __m256 lo = _mm256_loadu_ps(in + x), hi = _mm256_loadu_ps(in + x + 8);
        __m256 ev = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
        __m256 od = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(even, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), 0xd8)));
        _mm256_storeu_ps(odd, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), 0xd8)));
    }
    fa_nn_native_split2_generic(in + x, n - x, even, odd);
}

/* ---- AVX-512: 16 outputs per register ---- */

/* fa_nn_native_split2_generic, 32 inputs a step: two loads, two
 * permutes, masked at the row's end (no scalar tail). */
AVX512_TARGET void fa_nn_native_split2_avx512(const float *in, size_t n, float *even, float *odd) {
    const __m512i ev_idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od_idx = _mm512_add_epi32(ev_idx, _mm512_set1_epi32(1));
    for (size_t x = 0; x < n; x += 32, even += 16, odd += 16) {
        size_t left = n - x < 32 ? n - x : 32;
        __mmask16 lo_m = (__mmask16)(left >= 16 ? 0xffffu : (1u << left) - 1u);
        __mmask16 hi_m = (__mmask16)(left >= 32 ? 0xffffu : left > 16 ? (1u << (left - 16)) - 1u : 0u);
        __m512 lo = _mm512_maskz_loadu_ps(lo_m, in + x), hi = _mm512_maskz_loadu_ps(hi_m, in + x + 16);
        size_t n_ev = (left + 1) / 2, n_od = left / 2;
        _mm512_mask_storeu_ps(even, (__mmask16)(n_ev >= 16 ? 0xffffu : (1u << n_ev) - 1u),
                              _mm512_permutex2var_ps(lo, ev_idx, hi));
        _mm512_mask_storeu_ps(odd, (__mmask16)(n_od >= 16 ? 0xffffu : (1u << n_od) - 1u),
                              _mm512_permutex2var_ps(lo, od_idx, hi));
    }
}

AVX512_INLINE __m512 act16(__m512 v, fa_nn_act act, __m512 alpha) {
    if (act == FA_NN_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());
    if (act == FA_NN_ACT_LEAKY) {
        __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
        return _mm512_mask_blend_ps(pos, _mm512_mul_ps(v, alpha), v);
    }
    return v;
}

AVX512_INLINE void store16(float *o, __m512 v, int lanes) {
    _mm512_mask_storeu_ps(o, (__mmask16)((1u << lanes) - 1u), v);
}

AVX512_INLINE void dw16(const fa_nn_dw *d, const size_t *off, const float *wt, const int ntaps) {
    __m512 w[DW_TAPS_MAX];
    for (int t = 0; t < ntaps; t++) w[t] = _mm512_set1_ps(wt[t]);
    const __m512 bias = _mm512_set1_ps(d->bias), alpha = _mm512_set1_ps(d->alpha);
    dw_walk walk = {.width = 16};
    dw_group g;
    while (dw_group_next(d, &walk, &g)) {
        __m512 a[DW_GROUP];
#pragma GCC unroll 8
        for (int v = 0; v < DW_GROUP; v++) a[v] = bias;
        for (int t = 0; t < ntaps; t++)
#pragma GCC unroll 8
            for (int v = 0; v < DW_GROUP; v++)
                a[v] = _mm512_fmadd_ps(w[t], _mm512_loadu_ps(g.in[v] + off[t]), a[v]);
#pragma GCC unroll 8
        for (int v = 0; v < DW_GROUP; v++) store16(g.out[v], act16(a[v], d->act, alpha), g.lanes[v]);
    }
}

#define DW_ROWS_MAX 8 /* most output rows of one step of dw16_rows */

/* Output rows oy0 .. oy0 + R - 1, columns x .. x + 15 of a stride-1,
 * undilated KH x KW filter: each input vector is loaded once and feeds
 * every output row it reaches ((R + KH - 1) * KW loads for R * KH * KW
 * FMAs); each output still sums its taps in (ky, kx) order. R = 4 for
 * 3x3 and 8 for 5x5 measured best (bench: 96 channels 5x5 @22 0.052 ->
 * 0.044 ms from 4 to 8 rows; 3x3 @52 0.069 -> 0.076). */
AVX512_INLINE void dw16_rows_step(const fa_nn_dw *d, const __m512 *w, int oy0, int x, const int KH,
                                  const int KW, const int R) {
    const __m512 bias = _mm512_set1_ps(d->bias);
    __m512 acc[DW_ROWS_MAX];
    for (int r = 0; r < R; r++) acc[r] = bias;
    const float *in = d->p + (size_t)oy0 * d->pitch + (size_t)x;
#pragma GCC unroll 16
    for (int iy = 0; iy < R + KH - 1; iy++)
#pragma GCC unroll 8
        for (int kx = 0; kx < KW; kx++) {
            __m512 v = _mm512_loadu_ps(in + (size_t)iy * d->pitch + (size_t)kx);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                if (iy - r >= 0 && iy - r < KH) acc[r] = _mm512_fmadd_ps(w[(iy - r) * KW + kx], v, acc[r]);
        }
    const __m512 alpha = _mm512_set1_ps(d->alpha);
    int left = d->w_out - x;
    for (int r = 0; r < R; r++)
        store16(d->out + (size_t)(oy0 + r) * (size_t)d->w_out + (size_t)x, act16(acc[r], d->act, alpha),
                left < 16 ? left : 16);
}

/* The plane R rows at a time (the last step moved up to end at the last
 * row: its overlapping rows are computed twice, same values). */
AVX512_INLINE void dw16_rows(const fa_nn_dw *d, const int KH, const int KW, const int R) {
    __m512 w[DW_TAPS_MAX];
    for (int t = 0; t < KH * KW; t++) w[t] = _mm512_set1_ps(d->w[t]);
    for (int oy = 0; oy < d->h_out; oy += R) {
        int oy0 = oy + R <= d->h_out ? oy : d->h_out - R;
        for (int x = 0; x < d->w_out; x += 16) dw16_rows_step(d, w, oy0, x, KH, KW, R);
    }
}

/* Whether dw16_rows can take d with R rows a step. */
static int dw_rows_fit(const fa_nn_dw *d, int R) {
    return d->s_h == 1 && d->s_w == 1 && d->d_h == 1 && d->d_w == 1 && d->h_out >= R;
}

AVX512_TARGET static void dw16_3x3(const fa_nn_dw *d, const size_t *off) {
    if (dw_rows_fit(d, 4))
        dw16_rows(d, 3, 3, 4);
    else
        dw16(d, off, d->w, 9);
}

AVX512_TARGET static void dw16_5x5(const fa_nn_dw *d, const size_t *off) {
    if (dw_rows_fit(d, 8))
        dw16_rows(d, 5, 5, 8);
    else
        dw16(d, off, d->w, 25);
}
AVX512_TARGET static void dw16_any(const fa_nn_dw *d, const size_t *off) {
    dw16(d, off, d->w, d->kh * d->kw);
}

static void dw_sigmoid(const fa_nn_dw *d) {
    if (d->act == FA_NN_ACT_SIGMOID)
        fa_nn_native_act(d->out, (size_t)d->w_out * (size_t)d->h_out, d->act, d->alpha);
}

void fa_nn_native_dw_avx2(const fa_nn_dw *d) {
    const size_t *off = d->off;
    int taps = d->kh * d->kw <= DW_TAPS_MAX ? d->kh * d->kw : 0;
    if (taps == 9)
        dw8_3x3(d, off);
    else if (taps == 25)
        dw8_5x5(d, off);
    else if (taps)
        dw8_any(d, off);
    else
        fa_nn_native_dw_generic(d);
    if (taps) dw_sigmoid(d);
}

void fa_nn_native_dw_avx512(const fa_nn_dw *d) {
    const size_t *off = d->off;
    int taps = d->kh * d->kw <= DW_TAPS_MAX ? d->kh * d->kw : 0;
    if (taps == 9)
        dw16_3x3(d, off);
    else if (taps == 25)
        dw16_5x5(d, off);
    else if (taps)
        dw16_any(d, off);
    else
        fa_nn_native_dw_generic(d);
    if (taps) dw_sigmoid(d);
}

#else

void fa_nn_native_dw_avx2(const fa_nn_dw *d) { fa_nn_native_dw_generic(d); }
void fa_nn_native_split2_avx2(const float *in, size_t n, float *even, float *odd) {
    fa_nn_native_split2_generic(in, n, even, odd);
}
void fa_nn_native_split2_avx512(const float *in, size_t n, float *even, float *odd) {
    fa_nn_native_split2_generic(in, n, even, odd);
}
void fa_nn_native_dw_avx512(const fa_nn_dw *d) { fa_nn_native_dw_generic(d); }

#endif
