/*
 * native_kern.h - internal to the native backend (native*.c): the inner
 * kernels native.c dispatches to, each in a portable C version (always
 * compiled, always tested) and AVX2/FMA/F16C and AVX-512 versions compiled
 * with target attributes so the library itself stays generic x86-64.
 *
 * The GEMM works on packed panels (the classic Goto/BLIS layout): A (the
 * weights, packed once at prepare) in panels of MR rows stored k-major
 * (a[k * MR + r], MR = FA_NN_MR, or FA_NN_MR512 for the AVX-512 tiles),
 * B (im2col of the input, packed per run into the workspace) in panels of
 * FA_NN_NR columns stored k-major (b[k * NR + j]).
 * One micro-kernel call computes an MR x NR tile of C over the whole K in
 * registers, adds the bias, applies ReLU/leaky in registers and stores the
 * valid rows/columns; sigmoid is applied by the caller on the stored tile.
 */
#ifndef FA_NN_NATIVE_KERN_H
#define FA_NN_NATIVE_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/kernels.h"

#define FA_NN_MR 6      /* rows of a panel for the portable and AVX2 tiles */
#define FA_NN_MR512 12  /* rows of a panel for the AVX-512 tile */
#define FA_NN_NR 16

/* One MR x NR tile: C[r * ldc + j] = act(bias[r] + sum_k a[k*MR+r] * b[k*NR+j])
 * for r < mr, j < nr (mr <= MR, nr <= NR); sigmoid is NOT applied here. */
typedef struct fa_nn_tile {
    const float *a, *b, *bias;
    float *c;
    size_t k, ldc;
    int mr, nr;
    fa_nn_act act; /* NONE, RELU, LEAKY applied; SIGMOID treated as NONE */
    float alpha;
} fa_nn_tile;

void fa_nn_native_tile_generic(const fa_nn_tile *t);
void fa_nn_native_tile_avx2(const fa_nn_tile *t);
/* The same over FA_NN_MR512-row panels (a[k * FA_NN_MR512 + r]), mr <= 12:
 * one 16-float register per row, 12 accumulators. Each output sums the
 * same products in the same order with the same fused multiply-adds as
 * the AVX2 tile, so the two give bitwise equal results. */
void fa_nn_native_tile_avx512(const fa_nn_tile *t);
/* The same 12 rows over two consecutive B panels (t->b and t->b + k * NR),
 * 16 < nr <= 32 columns: a 12 x 32 tile, 24 accumulators. */
void fa_nn_native_tile2_avx512(const fa_nn_tile *t);
/* The same with B not packed: row k of B is t->b + k * ldb (a 1x1
 * convolution's NCHW input read in place), columns [0, nr), nr <= 32. */
void fa_nn_native_tile2_inplace_avx512(const fa_nn_tile *t, size_t ldb);

/* A depthwise plane: out[oy * w_out + ox] = act(bias + sum_{ky,kx}
 * w[ky*kw+kx] * P[oy*s_h + ky*d_h][ox*s_w + kx*d_w]) where P is the
 * zero-padded input plane, stored split by column phase: padded row y,
 * column c is at p[y * pitch + (c % s_w) * seg + c / s_w] (pitch = s_w *
 * seg), so every tap reads consecutive floats. Vector code computes whole
 * 16-column groups, so seg must be >= round_up(w_out, 16) + (kw - 1) *
 * d_w / s_w and the plane must hold all its rows at that pitch (the slack
 * is read, its results discarded). */
typedef struct fa_nn_dw {
    const float *p, *w;
    float *out;
    const size_t *off; /* [kh * kw]: tap (ky, kx)'s offset from its row's start (fa_nn_native_dw_offsets) */
    size_t pitch, seg;
    float bias, alpha;
    int h_out, w_out, kh, kw, s_h, s_w, d_h, d_w;
    int h_in, w_in, pad_t, pad_l; /* the unpadded input: the direct kernel's only */
    fa_nn_act act;
} fa_nn_dw;

/* Fills off[kh * kw] for d's layout (the same for every channel of a
 * conv: computed once, at prepare). */
void fa_nn_native_dw_offsets(const fa_nn_dw *d, size_t *off);

void fa_nn_native_dw_generic(const fa_nn_dw *d);
void fa_nn_native_dw_avx2(const fa_nn_dw *d);
void fa_nn_native_dw_avx512(const fa_nn_dw *d);

/* The direct depthwise kernel (AVX-512): the same plane, but p is the
 * input channel itself, unpadded (h_in x w_in, row pitch w_in), read in
 * place with masked loads: columns outside [0, w_in) and rows outside
 * [0, h_in) read as +0.0f, exactly the padded plane's zeros, so every
 * output sums the same products in the same order as
 * fa_nn_native_dw_avx512 (bitwise equal). pitch, seg and off are unused.
 * fa_nn_native_dw_direct_fits says whether it takes d's shape (undilated:
 * stride-1 3x3 with h_out >= 4, stride-1 5x5 with h_out >= 8, stride-2
 * 3x3 with h_out >= 4; never on a build without x86); the caller also
 * checks that the CPU has AVX-512. */
int fa_nn_native_dw_direct_fits(const fa_nn_dw *d);
void fa_nn_native_dw_direct_avx512(const fa_nn_dw *d);

/* Splits in[0..n) into its even-indexed elements (to even[0..ceil(n/2)))
 * and odd-indexed ones (odd[0..n/2)): the phase split of a stride-2 row. */
void fa_nn_native_split2_generic(const float *in, size_t n, float *even, float *odd);
void fa_nn_native_split2_avx2(const float *in, size_t n, float *even, float *odd);
void fa_nn_native_split2_avx512(const float *in, size_t n, float *even, float *odd);

/* ---- the stem kernel (native_stem.c, AVX-512 only) ----
 * out[oc][oy][x] = act(bias[oc] + sum over taps t = (ci, ky, kx) in that
 * order of w[oc][t] * in[ci][iy][ix]) over the NCHW input read in place
 * (one image: in [c_in][h_in][w_in], out [c_out][h_out][w_out]), zero
 * outside it, for stride_w 1 or 2, dil_w 1 and kw <= FA_NN_STEM_KW_MAX.
 * The weights are packed in blocks of FA_NN_DIRECT_OC output channels,
 * tap-major: w[(b * taps + t) * FA_NN_DIRECT_OC + a] for channel b * OC + a
 * (zero past c_out), bias likewise [b * OC + a]. */
#define FA_NN_DIRECT_OC 24
#define FA_NN_STEM_KW_MAX 8 /* widest filter it takes */
typedef struct fa_nn_stem {
    fa_nn_conv_params p;
    const float *in, *w, *bias;
    float *out;
} fa_nn_stem;

/* Output rows [oy0, oy1) of every output channel. */
void fa_nn_native_stem_avx512(const fa_nn_stem *s, int oy0, int oy1);

/* Applies act (all four kinds) to n floats in place. */
void fa_nn_native_act(float *x, size_t n, fa_nn_act act, float alpha);

/* IEEE binary16 conversions: float to half rounds to nearest even
 * (overflow to inf, NaN kept NaN); half to float is exact. */
uint16_t fa_nn_native_f32_to_f16(float f);
void fa_nn_native_f16_to_f32_generic(const uint16_t *src, float *dst, size_t n);
void fa_nn_native_f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n);

/* ---- INT8 (native_int8.c) ----
 * A prepared int8 convolution of the native backend; native.c owns the
 * dispatch and forwards to these. isa is one of FA_NN_Q8_*: the caller
 * checked the CPU has it. */
enum { FA_NN_Q8_GENERIC = 0, FA_NN_Q8_AVX2 = 1, FA_NN_Q8_VNNI = 2 };
typedef struct fa_nn_q8 fa_nn_q8;

/* Quantises and packs the weights (params already checked by native.c).
 * NULL with the error set: FA_EINVAL (scales, K too large), FA_ENOMEM. */
fa_nn_q8 *fa_nn_q8_prepare(const fa_nn_conv_params *p, const float *w, const float *bias,
                           const fa_nn_int8_scales *sc, int isa);
/* Workspace bytes for a run on at most `threads` threads. */
size_t fa_nn_q8_workspace(const fa_nn_q8 *q, size_t threads);
/* Runs it (in / out as prepared: s8 or fp32 NCHW); 0. */
int fa_nn_q8_run(const fa_nn_q8 *q, const void *in, void *out, void *workspace, const fa_nn_parallel *par);
/* Bytes of weights, scales and biases held. */
size_t fa_nn_q8_bytes(const fa_nn_q8 *q);
void fa_nn_q8_free(fa_nn_q8 *q);

#endif
