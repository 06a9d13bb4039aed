/*
 * cuda_program.h - internal to src/nn: the CUDA backend's program, a
 * graph lowered to a flat list of steps over one device arena.
 *
 * Why a program and a plugin. The CUDA backend runs a whole graph on the
 * GPU (a convolution-only backend would copy every activation over PCIe
 * twice per layer and lose to the CPU), so every operator needs a GPU form.
 * Rather than teach the GPU code the graph (ONNX attributes, broadcasting,
 * Resize's coordinate modes, Gather/Pad/Split semantics), the host lowers
 * each node to a few simple step kinds here: convolution, pooling window,
 * resize by index tables, an n-d strided copy (Concat, Split, Transpose,
 * Reshape, Gather with constant indices, Pad's interior), fill,
 * broadcasting add, softmax, elementwise activation and per-channel affine
 * (an unfused BatchNorm). The lowering (cuda_lower.c) is plain C, always
 * built, and runs in CI through a host interpreter of the same program
 * compared with the CPU runtime, so what the GPU executes was checked on
 * every machine; the GPU side (src/nn/cuda/fa_nn_cuda.cu) only adds
 * threads to the inline index arithmetic below, which both sides share.
 *
 * The GPU side is a plugin (libfa_nn_cuda.so, built where nvcc is present:
 * FA_WITH_CUDA) loaded with dlopen (cuda.c), so the program, its tests and
 * CI never need CUDA, and one binary uses a GPU where the plugin and a
 * driver are found. This header is the whole contract between the two: C
 * and CUDA C++ both compile it; FA_CUDA_ABI changes with any layout change.
 *
 * Elements: the arena holds fp32 or fp16 (program.fp16) elements; every
 * offset and stride below counts elements. Host pointers in the program
 * (weights, tables, constants) are read by the plugin at create only.
 */
#ifndef FA_NN_CUDA_PROGRAM_H
#define FA_NN_CUDA_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define FA_CUDA_FN __host__ __device__ static inline
#else
#define FA_CUDA_FN static inline
#endif

#define FA_CUDA_ABI 1
#define FA_CUDA_MAX_RANK 6
#define FA_CUDA_MAX_OUT 16

typedef enum fa_cuda_kind {
    FA_CUDA_CONV = 1,
    FA_CUDA_POOL,
    FA_CUDA_RESIZE,
    FA_CUDA_COPY,
    FA_CUDA_FILL,
    FA_CUDA_ADD,
    FA_CUDA_SOFTMAX,
    FA_CUDA_UNARY,
    FA_CUDA_AFFINE
} fa_cuda_kind;

/* Activations, the values of fa_nn_act (kernels.h). */
enum { FA_CUDA_ACT_NONE = 0, FA_CUDA_ACT_RELU, FA_CUDA_ACT_LEAKY, FA_CUDA_ACT_SIGMOID };

/* y = act(conv(x, w) + b) over n images, NCHW, grouped, strided, dilated,
 * padded (the bottom/right padding follows from h_out/w_out). */
typedef struct fa_cuda_conv {
    int n, c_in, h_in, w_in, c_out, h_out, w_out;
    int kh, kw, stride_h, stride_w, dil_h, dil_w, pad_t, pad_l, groups;
    int act;
    float alpha;
    const float *w; /* host [c_out][c_in / groups][kh][kw] */
    const float *b; /* host [c_out] or NULL */
} fa_cuda_conv;

/* An n-d box walked in row-major order of dim[]: element i at multi-index
 * (i_0 .. i_r-1) goes y[Σ i_d dst_d] = x[Σ i_d src_d] (+ x2[Σ i_d src2_d]
 * for ADD). Strides 0 broadcast. */
typedef struct fa_cuda_box {
    int rank;
    int64_t dim[FA_CUDA_MAX_RANK], src[FA_CUDA_MAX_RANK], src2[FA_CUDA_MAX_RANK], dst[FA_CUDA_MAX_RANK];
} fa_cuda_box;

/* Max or average over windows of planes [planes][h][w] -> [planes][oh][ow]:
 * ONNX MaxPool / AveragePool (ceil_mode already in oh/ow). */
typedef struct fa_cuda_pool {
    int is_max, kh, kw, sh, sw, dh, dw, pad_t, pad_l, pad_b, pad_r, count_include_pad;
    int64_t planes, h, w, oh, ow;
} fa_cuda_pool;

/* Bilinear (or nearest: i0 == i1, wt 0) resize of planes by index tables
 * computed on the host exactly as the CPU operator computes them. */
typedef struct fa_cuda_resize {
    int64_t planes, h, w, oh, ow;
    const int64_t *i0, *i1; /* host [oh + ow]: source rows, then source columns */
    const float *wt;        /* host [oh + ow]: weight of i1 */
} fa_cuda_resize;

typedef struct fa_cuda_softmax {
    int64_t outer, len, inner; /* softmax over len, elements inner apart */
} fa_cuda_softmax;

typedef struct fa_cuda_unary {
    int act; /* FA_CUDA_ACT_* */
    float alpha;
    int64_t count;
} fa_cuda_unary;

/* y = x * scale[c] + shift[c] over [outer][channels][inner]. */
typedef struct fa_cuda_affine {
    int64_t outer, channels, inner;
    const float *scale, *shift; /* host [channels] */
} fa_cuda_affine;

typedef struct fa_cuda_fill {
    int64_t count;
    float value;
} fa_cuda_fill;

typedef struct fa_cuda_step {
    int kind;               /* fa_cuda_kind */
    int node;               /* the graph node it came from (for messages) */
    int64_t x, x2, y;       /* arena offsets: input, second input (ADD), output */
    union {
        fa_cuda_conv conv;
        fa_cuda_box box; /* COPY, ADD */
        fa_cuda_pool pool;
        fa_cuda_resize resize;
        fa_cuda_softmax softmax;
        fa_cuda_unary unary;
        fa_cuda_affine affine;
        fa_cuda_fill fill;
    } u;
} fa_cuda_step;

/* A constant the steps read, uploaded once into the arena at at. */
typedef struct fa_cuda_const {
    int64_t at, count;
    const float *data; /* host */
} fa_cuda_const;

typedef struct fa_cuda_program {
    int abi;                 /* FA_CUDA_ABI */
    int fp16;                /* 1: arena and weights fp16 (accumulation fp32); 0: fp32 */
    int64_t arena;           /* elements */
    int64_t in_at, in_count; /* the graph input (fp32 on the host) */
    int n_out;
    int64_t out_at[FA_CUDA_MAX_OUT], out_count[FA_CUDA_MAX_OUT];
    size_t n_steps;
    const fa_cuda_step *steps;
    size_t n_consts;
    const fa_cuda_const *consts;
} fa_cuda_program;

/* ---- index arithmetic shared by the host interpreter and the kernels ---- */

/* Offsets of box element i: *s in x, *s2 in x2, *d in y (relative). */
FA_CUDA_FN void fa_cuda_box_at(const fa_cuda_box *b, int64_t i, int64_t *s, int64_t *s2, int64_t *d) {
    int64_t so = 0, so2 = 0, dof = 0;
    for (int k = b->rank - 1; k >= 0; k--) {
        int64_t q = i / b->dim[k], r = i - q * b->dim[k];
        so += r * b->src[k], so2 += r * b->src2[k], dof += r * b->dst[k];
        i = q;
    }
    *s = so, *s2 = so2, *d = dof;
}

FA_CUDA_FN int64_t fa_cuda_box_count(const fa_cuda_box *b) {
    int64_t n = 1;
    for (int k = 0; k < b->rank; k++) n *= b->dim[k];
    return n;
}

/* First position >= 0 of a window starting at lo with step dil. */
FA_CUDA_FN int64_t fa_cuda_clip_lo(int64_t lo, int dil) { return lo >= 0 ? lo : lo + (-lo + dil - 1) / dil * dil; }

/* The window of output (oy, ox): input rows [*h0, *h1) step dh, columns
 * [*w0, *w1) step dw, all in range; the average's divisor in *count. */
FA_CUDA_FN void fa_cuda_pool_window(const fa_cuda_pool *p, int64_t oy, int64_t ox, int64_t *h0, int64_t *h1,
                                    int64_t *w0, int64_t *w1, int64_t *count) {
    int64_t y0 = oy * p->sh - p->pad_t, y1 = y0 + (int64_t)(p->kh - 1) * p->dh + 1;
    int64_t x0 = ox * p->sw - p->pad_l, x1 = x0 + (int64_t)(p->kw - 1) * p->dw + 1;
    *h0 = fa_cuda_clip_lo(y0, p->dh), *h1 = y1 < p->h ? y1 : p->h;
    *w0 = fa_cuda_clip_lo(x0, p->dw), *w1 = x1 < p->w ? x1 : p->w;
    int64_t rows = *h1 > *h0 ? (*h1 - *h0 + p->dh - 1) / p->dh : 0;
    int64_t cols = *w1 > *w0 ? (*w1 - *w0 + p->dw - 1) / p->dw : 0;
    int64_t area_h = (y1 < p->h + p->pad_b ? y1 : p->h + p->pad_b) - y0;
    int64_t area_w = (x1 < p->w + p->pad_r ? x1 : p->w + p->pad_r) - x0;
    *count = p->count_include_pad ? area_h * area_w : rows * cols;
    if (*count <= 0) *count = 1;
}

#endif
