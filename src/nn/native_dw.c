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
 *
 * The AVX-512 direct kernels (undilated stride-1 3x3 and 5x5, stride-2
 * 3x3: every depthwise layer of the detectors) skip the plane copy: they
 * read the NCHW input channel in place with masked loads (masks per
 * 16-column strip, computed once per strip), rows above or below the
 * input feed zero vectors, and stride 2 splits each loaded row into its
 * tap vectors with permutes instead of a copy. The zeros are the same
 * +0.0f the padded plane holds and the FMAs the same, so they agree
 * bitwise with the plane kernels. Copying every channel cost FastestDet
 * about 9 % of its run time; without it (1 thread, this VM, alternating
 * FA_NN_DW_DIRECT=0/1 in one process) 24ch 88x88 stride 2 runs 0.097 ->
 * 0.028 ms, 96ch 22x22 stride 2 0.031 -> 0.013, 24ch 44x44 3x3 0.033 ->
 * 0.029, 96ch 22x22 5x5 0.080 -> 0.077.
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
        for (int kx = 0; kx < d->kw; kx++)
            off[ky * d->kw + kx] = tap_offset(d, ky, kx);
}

/* o[x] += w * r[x] for x < n; restrict lets compilers vectorise it. */
static void axpy_row(float *restrict o, const float *restrict r, float w, size_t n) {
    for (size_t x = 0; x < n; x++)
        o[x] += w * r[x];
}

void fa_nn_native_dw_generic(const fa_nn_dw *d) {
    size_t n = (size_t)d->w_out;
    for (int oy = 0; oy < d->h_out; oy++) {
        float *o = d->out + (size_t)oy * n;
        const float *row = d->p + (size_t)oy * (size_t)d->s_h * d->pitch;
        for (size_t x = 0; x < n; x++)
            o[x] = d->bias;
        for (int ky = 0; ky < d->kh; ky++)
            for (int kx = 0; kx < d->kw; kx++)
                axpy_row(o, row + d->off[ky * d->kw + kx], d->w[ky * d->kw + kx], n);
        fa_nn_native_act(o, n, d->act, d->alpha);
    }
}

void fa_nn_native_split2_generic(const float *in, size_t n, float *even, float *odd) {
    for (size_t x = 0; x + 1 < n; x += 2)
        *even++ = in[x], *odd++ = in[x + 1];
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
    for (int t = 0; t < ntaps; t++)
        w[t] = _mm256_set1_ps(wt[t]);
    const __m256 bias = _mm256_set1_ps(d->bias), alpha = _mm256_set1_ps(d->alpha);
    dw_walk walk = {.width = 8};
    dw_group g;
    while (dw_group_next(d, &walk, &g)) {
        __m256 a[DW_GROUP];
#pragma GCC unroll 8
        for (int v = 0; v < DW_GROUP; v++)
            a[v] = bias;
        for (int t = 0; t < ntaps; t++)
#pragma GCC unroll 8
            for (int v = 0; v < DW_GROUP; v++)
                a[v] = _mm256_fmadd_ps(w[t], _mm256_loadu_ps(g.in[v] + off[t]), a[v]);
#pragma GCC unroll 8
        for (int v = 0; v < DW_GROUP; v++)
            store8(g.out[v], act8(a[v], d->act, alpha), g.lanes[v]);
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
    for (int t = 0; t < ntaps; t++)
        w[t] = _mm512_set1_ps(wt[t]);
    const __m512 bias = _mm512_set1_ps(d->bias), alpha = _mm512_set1_ps(d->alpha);
    dw_walk walk = {.width = 16};
    dw_group g;
    while (dw_group_next(d, &walk, &g)) {
        __m512 a[DW_GROUP];
#pragma GCC unroll 8
        for (int v = 0; v < DW_GROUP; v++)
            a[v] = bias;
        for (int t = 0; t < ntaps; t++)
#pragma GCC unroll 8
            for (int v = 0; v < DW_GROUP; v++)
                a[v] = _mm512_fmadd_ps(w[t], _mm512_loadu_ps(g.in[v] + off[t]), a[v]);
#pragma GCC unroll 8
        for (int v = 0; v < DW_GROUP; v++)
            store16(g.out[v], act16(a[v], d->act, alpha), g.lanes[v]);
    }
}

#define DW_ROWS_MAX 8 /* most output rows of one step of dw16_rows */

/* Output rows oy0 .. oy0 + R - 1, columns x .. x + 15 (fewer at the row's
 * end): the activation, then a masked store. */
AVX512_INLINE void store_rows(const fa_nn_dw *d, const __m512 *acc, int oy0, int x, int R) {
    const __m512 alpha = _mm512_set1_ps(d->alpha);
    int left = d->w_out - x;
    for (int r = 0; r < R; r++)
        store16(d->out + (size_t)(oy0 + r) * (size_t)d->w_out + (size_t)x, act16(acc[r], d->act, alpha),
                left < 16 ? left : 16);
}

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
    for (int r = 0; r < R; r++)
        acc[r] = bias;
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
    store_rows(d, acc, oy0, x, R);
}

/* The plane R rows at a time (the last step moved up to end at the last
 * row: its overlapping rows are computed twice, same values). */
AVX512_INLINE void dw16_rows(const fa_nn_dw *d, const int KH, const int KW, const int R) {
    __m512 w[DW_TAPS_MAX];
    for (int t = 0; t < KH * KW; t++)
        w[t] = _mm512_set1_ps(d->w[t]);
    for (int oy = 0; oy < d->h_out; oy += R) {
        int oy0 = oy + R <= d->h_out ? oy : d->h_out - R;
        for (int x = 0; x < d->w_out; x += 16)
            dw16_rows_step(d, w, oy0, x, KH, KW, R);
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

/* ---- AVX-512 direct: the input channel read in place ---- */

/* Lanes i < 16 whose input column first + i lies in [0, w_in). */
static __mmask16 lanes_inside(const fa_nn_dw *d, int first) {
    int lo = first < 0 ? -first : 0, hi = d->w_in - first < 16 ? d->w_in - first : 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* Lanes i < 16 whose input column x + kx - pad_l + i lies in [0, w_in). */
static __mmask16 direct_col_mask(const fa_nn_dw *d, int x, int kx) {
    return lanes_inside(d, x + kx - d->pad_l);
}

/* dw16_rows_step over the unpadded input: output rows oy0 .. oy0 + R - 1,
 * columns x .. x + 15, m[kx] the column mask of tap column kx. A row
 * outside the input (only when ROWS_OUT) feeds a zero vector to the same
 * FMAs, as the padded plane's zero row would: same sums, same order. */
AVX512_INLINE void dwd_step(const fa_nn_dw *d, const __m512 *w, const __mmask16 *m, int oy0, int x,
                            const int KH, const int KW, const int R, const int ROWS_OUT) {
    const __m512 bias = _mm512_set1_ps(d->bias);
    __m512 acc[DW_ROWS_MAX];
    for (int r = 0; r < R; r++)
        acc[r] = bias;
    ptrdiff_t y0 = (ptrdiff_t)oy0 - d->pad_t, x0 = (ptrdiff_t)x - d->pad_l;
#pragma GCC unroll 16
    for (int iy = 0; iy < R + KH - 1; iy++) {
        ptrdiff_t y = y0 + iy;
        int inside = !ROWS_OUT || (y >= 0 && y < d->h_in);
        const float *row = d->p + (inside ? y * d->w_in + x0 : 0);
#pragma GCC unroll 8
        for (int kx = 0; kx < KW; kx++) {
            __m512 v = inside ? _mm512_maskz_loadu_ps(m[kx], row + kx) : _mm512_setzero_ps();
#pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                if (iy - r >= 0 && iy - r < KH) acc[r] = _mm512_fmadd_ps(w[(iy - r) * KW + kx], v, acc[r]);
        }
    }
    store_rows(d, acc, oy0, x, R);
}

/* The plane a 16-column strip at a time, R rows a step (the last step
 * moved up, as in dw16_rows); steps reaching outside the input's rows
 * take the checked variant. */
AVX512_INLINE void dwd_plane(const fa_nn_dw *d, const int KH, const int KW, const int R) {
    __m512 w[DW_TAPS_MAX];
    for (int t = 0; t < KH * KW; t++)
        w[t] = _mm512_set1_ps(d->w[t]);
    for (int x = 0; x < d->w_out; x += 16) {
        __mmask16 m[8];
        for (int kx = 0; kx < KW; kx++)
            m[kx] = direct_col_mask(d, x, kx);
        for (int oy = 0; oy < d->h_out; oy += R) {
            int oy0 = oy + R <= d->h_out ? oy : d->h_out - R, y0 = oy0 - d->pad_t;
            if (y0 < 0 || y0 + R + KH - 1 > d->h_in)
                dwd_step(d, w, m, oy0, x, KH, KW, R, 1);
            else
                dwd_step(d, w, m, oy0, x, KH, KW, R, 0);
        }
    }
}

AVX512_TARGET static void dwd_3x3(const fa_nn_dw *d) { dwd_plane(d, 3, 3, 4); }

/* Stride 2, 3x3: output rows oy0 .. oy0 + 3, columns x .. x + 15. Input
 * row j of the step (2 * oy0 - pad_t + j) is loaded as 32 + 2 columns
 * from c0 = 2x - pad_l (masked to the input) and split by permutes into
 * the three tap vectors (columns c0 + kx + 2i), which feed the output
 * rows it reaches (ky = j - 2r): each output sums its taps in (ky, kx)
 * order as the plane kernel does, on the same values. */
AVX512_INLINE void dwd2_step(const fa_nn_dw *d, const __m512 *w, const __mmask16 *m, int oy0, int x,
                             const int ROWS_OUT) {
    enum { R = 4 };
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    const __m512 bias = _mm512_set1_ps(d->bias);
    __m512 acc[R];
    for (int r = 0; r < R; r++)
        acc[r] = bias;
    ptrdiff_t y0 = 2 * (ptrdiff_t)oy0 - d->pad_t, c0 = 2 * (ptrdiff_t)x - d->pad_l;
#pragma GCC unroll 16
    for (int j = 0; j < 2 * R + 1; j++) {
        ptrdiff_t y = y0 + j;
        int inside = !ROWS_OUT || (y >= 0 && y < d->h_in);
        __m512 t[3];
        if (inside) {
            const float *row = d->p + y * d->w_in + c0;
            __m512 a = _mm512_maskz_loadu_ps(m[0], row), b = _mm512_maskz_loadu_ps(m[1], row + 16);
            __m512 a2 = _mm512_maskz_loadu_ps(m[2], row + 2), b2 = _mm512_maskz_loadu_ps(m[3], row + 18);
            t[0] = _mm512_permutex2var_ps(a, ev, b);
            t[1] = _mm512_permutex2var_ps(a, od, b);
            t[2] = _mm512_permutex2var_ps(a2, ev, b2);
        } else {
            t[0] = t[1] = t[2] = _mm512_setzero_ps();
        }
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            if (j - 2 * r >= 0 && j - 2 * r < 3)
                for (int kx = 0; kx < 3; kx++)
                    acc[r] = _mm512_fmadd_ps(w[(j - 2 * r) * 3 + kx], t[kx], acc[r]);
    }
    store_rows(d, acc, oy0, x, R);
}

AVX512_TARGET static void dwd2_3x3(const fa_nn_dw *d) {
    __m512 w[9];
    for (int t = 0; t < 9; t++)
        w[t] = _mm512_set1_ps(d->w[t]);
    for (int x = 0; x < d->w_out; x += 16) {
        int c0 = 2 * x - d->pad_l;
        __mmask16 m[4] = {lanes_inside(d, c0), lanes_inside(d, c0 + 16), lanes_inside(d, c0 + 2),
                          lanes_inside(d, c0 + 18)};
        for (int oy = 0; oy < d->h_out; oy += 4) {
            int oy0 = oy + 4 <= d->h_out ? oy : d->h_out - 4, y0 = 2 * oy0 - d->pad_t;
            if (y0 < 0 || y0 + 9 > d->h_in)
                dwd2_step(d, w, m, oy0, x, 1);
            else
                dwd2_step(d, w, m, oy0, x, 0);
        }
    }
}
AVX512_TARGET static void dwd_5x5(const fa_nn_dw *d) { dwd_plane(d, 5, 5, 8); }

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

int fa_nn_native_dw_direct_fits(const fa_nn_dw *d) {
    if (d->kh == 3 && d->kw == 3 && d->s_h == 2 && d->s_w == 2)
        return d->d_h == 1 && d->d_w == 1 && d->h_out >= 4;
    if (d->kh == 3 && d->kw == 3) return dw_rows_fit(d, 4);
    return d->kh == 5 && d->kw == 5 && dw_rows_fit(d, 8);
}

void fa_nn_native_dw_direct_avx512(const fa_nn_dw *d) {
    if (d->s_w == 2)
        dwd2_3x3(d);
    else if (d->kh == 3)
        dwd_3x3(d);
    else
        dwd_5x5(d);
    dw_sigmoid(d);
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
int fa_nn_native_dw_direct_fits(const fa_nn_dw *d) {
    (void)d;
    return 0;
}
void fa_nn_native_dw_direct_avx512(const fa_nn_dw *d) { (void)d; } /* never called: fits says 0 */

#endif
