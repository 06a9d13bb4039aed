/*
 * native_kern.h - internal to the native backend (native*.c): the inner
 * kernels native.c dispatches to, each in a portable C version (always
 * compiled, always tested) and an AVX2/FMA/F16C version compiled with a
 * target attribute so the library itself stays generic x86-64.
 *
 * The GEMM works on packed panels (the classic Goto/BLIS layout): A (the
 * weights, packed once at prepare) in panels of FA_NN_MR rows stored k-major
 * (a[k * MR + r]), B (im2col of the input, packed per run into the
 * workspace) in panels of FA_NN_NR columns stored k-major (b[k * NR + j]).
 * One micro-kernel call computes an MR x NR tile of C over the whole K in
 * registers, adds the bias, applies ReLU/leaky in registers and stores the
 * valid rows/columns; sigmoid is applied by the caller on the stored tile.
 */
#ifndef FA_NN_NATIVE_KERN_H
#define FA_NN_NATIVE_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "nn/kernels.h"

#define FA_NN_MR 6
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

/* A depthwise plane: out[oy * w_out + ox] = act(bias + sum_{ky,kx}
 * w[ky*kw+kx] * p[(oy*s_h + ky*d_h) * pitch + ox*s_w + kx*d_w]) where p is
 * the zero-padded input plane. Vector code computes whole 8-column groups,
 * so pitch must be >= round_up(w_out, 8) * s_w + (kw - 1) * d_w + 16 and
 * the plane must hold all its rows at that pitch (the slack is read, its
 * results discarded). */
typedef struct fa_nn_dw {
    const float *p, *w;
    float *out;
    size_t pitch;
    float bias, alpha;
    int h_out, w_out, kh, kw, s_h, s_w, d_h, d_w;
    fa_nn_act act;
} fa_nn_dw;

void fa_nn_native_dw_generic(const fa_nn_dw *d);
void fa_nn_native_dw_avx2(const fa_nn_dw *d);

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
