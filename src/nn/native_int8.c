/*
 * native_int8.c - the native backend's INT8 convolution (issue 5): int8
 * weights per output channel, int8 activations per tensor, int32
 * accumulation, requantised in fp32. native.c hands an FA_NN_INT8 request
 * here and forwards run / workspace / bytes / free.
 *
 * Arithmetic: activations are symmetric s8 (real = s_in * q, zero point 0)
 * and weights s8 (w = s_w[oc] * q, -127..127). The GEMM kernels multiply
 * u8 by s8 (the form of AVX-512 VNNI's vpdpbusd), so B is packed as
 * u = q + 128 and each output row carries a compensation -128 * sum(w_q)
 * computed at prepare: sum(u * w) - 128 * sum(w) = sum(q * w), exactly, in
 * int32 (K is limited to 65536, so |acc| <= 65536 * 255 * 127 < 2^31).
 * The output stage is the same C for every ISA: y = (float)acc * (s_in *
 * s_w[oc]), then y + bias, the activation, and either fp32 out or
 * q = round-half-away(clamp(y / s_out, -127, 127)); mul and add are
 * separate statements (no contraction under -std=c17), so every ISA gives
 * the same bits and the kernel tests can compare exactly.
 *
 * Layouts (Goto/BLIS panels as in native_gemm.c, K grouped by 4 for the
 * 4-byte dot products): weights in panels of Q8_MR rows, a[(k4*MR + r)*4
 * + kk]; the im2col of the input in panels of Q8_NR = 32 columns,
 * b[(k4*NR + j)*4 + kk], built per run in the workspace, a chunk of
 * columns at a time. Kernels: generic C (the reference; FA_NN_NATIVE_ISA=
 * generic), AVX2 (bytes widened to 16 bits and vpmaddwd, no saturation;
 * FA_NN_NATIVE_ISA=avx2) and AVX-512 VNNI (vpdpbusd, 6 x 32 tile in 12
 * zmm accumulators started at the rows' comp, one call per row panel
 * over a chunk, the output stage unrolled on the registers per
 * activation), chosen at prepare by CPUID. The pointwise (1x1, stride 1)
 * packing is a byte transpose done with unpacks (AVX-512 masked loads for
 * the column and K tails on VNNI CPUs).
 * AMX (Sapphire Rapids' AMX-INT8, when the CPU and the kernel allow it;
 * FA_NN_Q8_AMX=0 turns it off): pointwise convolutions as 32 x 32 blocks
 * of tdpbsud on the same B panels (16 K per instruction instead of 4 per
 * vpdpbusd: profiling NanoDet-m put 2/3 of the INT8 GEMM time in the
 * multiply-adds on VNNI, now the output stage dominates); see its section.
 * Depthwise: a direct kernel over a zero-padded s8 plane with an int32
 * row accumulator: plain C loops (generic, and compiled again for AVX2 so
 * the compiler vectorises them), and AVX-512 code for strides 1 and 2
 * (32 outputs per step, two taps' s8 products summed exactly in 16 bits,
 * then widened to s32). With AVX-512 VBMI (Ice Lake on) it reads the s8
 * input directly instead (masked loads make the padding, no plane) and
 * uses vpdpbusd: vpermb puts an output's (up to) 4 taps of a kernel row
 * in one dword, so a 3x3 row is 3 vpdpbusd per 16 outputs, and two output
 * rows share their common input rows: 2.3x the old AVX-512 depthwise. The
 * output stage (fused into the tiles, on their registers) and the input
 * quantisation have AVX-512 versions doing the very same float operations
 * as the C ones (the clamp one vrangeps, the +-0.5 a sign-bit ternlog).
 *
 * Input / output: s8 NCHW when prepared with in_s8 / out_s8 (int8 kept
 * between consecutive convolutions by the runtime), else fp32 NCHW: an fp32
 * input is quantised once per run into the head of the workspace. Threads:
 * like native.c, work items ((image, group, column chunk) or (image,
 * channel)) cut into par->threads contiguous ranges, range t using
 * workspace slot t; integer sums do not depend on the split, so outputs
 * are bitwise the same for any thread count.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/native_kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#define Q8_HAVE_X86 1
#else
#define Q8_HAVE_X86 0
#endif
#if defined(__x86_64__) && defined(__linux__)
#define Q8_HAVE_AMX 1 /* 64-bit mode only; the tile permission is a Linux call */
#else
#define Q8_HAVE_AMX 0
#endif

#define Q8_MR 6
#define Q8_NR 32
#define Q8_K_MAX 65536u          /* int32 accumulators cannot overflow below this K */
#define Q8_B_CHUNK_BYTES 131072u /* im2col chunk target */
#define Q8_NC_MAX 1024u

struct fa_nn_q8 {
    fa_nn_conv_params p;
    int isa; /* FA_NN_Q8_GENERIC, _AVX2, _VNNI */
    int in_s8, out_s8;
    float in_scale, inv_out;
    bool depthwise, plain;
    size_t m, k, k4, n_cols, m_panels;
    int8_t *w;     /* gemm: packed panels; depthwise: [c_out][k] */
    int32_t *comp; /* gemm: per packed row, -128 * sum of its weights */
    float *mscale; /* per packed row (gemm) or channel (depthwise): s_in * s_w */
    float *bias;   /* the same rows: the fp32 bias */
    size_t rows;   /* packed rows (gemm) or c_out */
    size_t nc_max;
    size_t plane_rows, plane_pitch;
    int dw_vbmi;       /* depthwise on the VBMI + VNNI kernel (u8 plane, dword taps) */
    int dw_groups;     /* its dwords per kernel row: ceil(kw / 4) */
    int32_t *dw_taps;  /* its weights: [c][ky * dw_groups + g], 4 s8 taps per dword */
    int amx;           /* plain GEMM on AMX tiles (native_int8 AMX section) */
    size_t k4p;        /* k4 groups per B panel: k4, or k4 rounded up to 16 for AMX */
    size_t amx_mp;     /* AMX: rows per group rounded up to 32 */
    int8_t *wa;        /* AMX: weights [group][amx_mp][k4p * 4], row-major, zero-padded */
    size_t in_bytes;   /* quantised input copy (0 when in_s8) */
    size_t slot_bytes; /* per thread */
};

static size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

/* ---------------------------------------------------------------- kernels */

/* Where one tile's rows go, for the fused tile + output stage. */
typedef struct q8_dst {
    const int32_t *comp;
    const float *mscale, *bias; /* at the tile's first row */
    float *outf;                /* at (first row, first column), or NULL */
    int8_t *outq;               /* the same for s8 output, or NULL */
    size_t ldc;
    int mr, nr;
    fa_nn_act act;
    float alpha, inv;
} q8_dst;

/* One depthwise output plane from its zero-padded input plane. */
typedef struct q8_dw {
    const int8_t *plane, *w;
    size_t pitch;
    int kh, kw, d_h, d_w, s_h, s_w, h_out, w_out;
    float mscale, bias, alpha, inv;
    fa_nn_act act;
    float *outf;  /* the plane's output, or NULL */
    int8_t *outq; /* the same for s8 output */
} q8_dw;

/* acc[r * NR + j] = sum over k of a * b for one MR x NR tile. */
static void tile_generic(const int8_t *a, const uint8_t *b, size_t k4, int32_t *acc) {
    for (int r = 0; r < Q8_MR; r++)
        for (int j = 0; j < Q8_NR; j++) {
            int32_t s = 0;
            for (size_t k = 0; k < k4; k++)
                for (int kk = 0; kk < 4; kk++)
                    s += (int32_t)a[(k * Q8_MR + (size_t)r) * 4 + (size_t)kk] *
                         (int32_t)b[(k * Q8_NR + (size_t)j) * 4 + (size_t)kk];
            acc[r * Q8_NR + j] = s;
        }
}

/* One output element through the shared output stage. */
static inline float q8_real(int32_t acc, int32_t comp, float mscale, float bias) {
    float y = (float)(acc + comp) * mscale;
    y = y + bias;
    return y;
}

static inline float q8_act(float y, fa_nn_act act, float alpha) {
    if (act == FA_NN_ACT_RELU) return y > 0.0f ? y : 0.0f;
    if (act == FA_NN_ACT_LEAKY) return y < 0.0f ? alpha * y : y;
    return y;
}

static inline int8_t q8_quant(float y, float inv) {
    float v = y * inv;
    v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
    v = v >= 0.0f ? v + 0.5f : v - 0.5f;
    return (int8_t)(int)v; /* NaN never reaches here from finite inputs */
}

/* The output stage of n values: acc (+ comp) to fp32 out or s8 outq. */
#define OUT_STAGE_BODY                                                                                       \
    for (size_t i = 0; i < n; i++) {                                                                         \
        float y = q8_act(q8_real(acc[i], comp, mscale, bias), act, alpha);                                   \
        if (outf)                                                                                            \
            outf[i] = y;                                                                                     \
        else                                                                                                 \
            outq[i] = q8_quant(y, inv);                                                                      \
    }

static void out_stage_generic(const int32_t *acc, size_t n, int32_t comp, float mscale, float bias,
                              fa_nn_act act, float alpha, float inv, float *outf, int8_t *outq) {
    if (act == FA_NN_ACT_SIGMOID) {
        for (size_t i = 0; i < n; i++) {
            float y = q8_real(acc[i], comp, mscale, bias);
            y = 1.0f / (1.0f + expf(-y));
            if (outf)
                outf[i] = y;
            else
                outq[i] = q8_quant(y, inv);
        }
        return;
    }
    OUT_STAGE_BODY
}

/* Quantises n floats with 1 / scale into s8. */
static void quantise_generic(const float *x, size_t n, float inv, int8_t *q) {
    for (size_t i = 0; i < n; i++)
        q[i] = q8_quant(x[i], inv);
}

/* One depthwise output row: acc[ox] = sum of taps (the loops a compiler vectorises). */
#define DW_ROW_BODY                                                                                          \
    for (int ox = 0; ox < w_out; ox++)                                                                       \
        acc[ox] = 0;                                                                                         \
    for (int ky = 0; ky < kh; ky++) {                                                                        \
        const int8_t *row = base + (size_t)ky * (size_t)d_h * pitch;                                         \
        for (int kx = 0; kx < kw; kx++) {                                                                    \
            int32_t wv = w[ky * kw + kx];                                                                    \
            const int8_t *src = row + (size_t)kx * (size_t)d_w;                                              \
            if (s_w == 1)                                                                                    \
                for (int ox = 0; ox < w_out; ox++)                                                           \
                    acc[ox] += wv * (int32_t)src[ox];                                                        \
            else                                                                                             \
                for (int ox = 0; ox < w_out; ox++)                                                           \
                    acc[ox] += wv * (int32_t)src[(size_t)ox * (size_t)s_w];                                  \
        }                                                                                                    \
    }

static void dw_row_generic(const int8_t *base, size_t pitch, const int8_t *w, int kh, int kw, int d_h,
                           int d_w, int s_w, int w_out, int32_t *restrict acc) {
    DW_ROW_BODY
}

#if Q8_HAVE_X86

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))
#define VNNI_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

/* AVX2: 8 columns (2 x 4) per pass; a 16-bit lane pair per column and
 * k-pair, summed at the end. */
AVX2_TARGET static void tile_avx2_pass(const int8_t *a, const uint8_t *b, size_t k4, int j0, int32_t *acc) {
    __m256i c[Q8_MR][2];
    for (int r = 0; r < Q8_MR; r++)
        c[r][0] = c[r][1] = _mm256_setzero_si256();
    for (size_t k = 0; k < k4; k++, a += Q8_MR * 4, b += Q8_NR * 4) {
        __m256i b0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const void *)(b + j0 * 4)));
        __m256i b1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const void *)(b + j0 * 4 + 16)));
        for (int r = 0; r < Q8_MR; r++) {
            int32_t w4;
            memcpy(&w4, a + r * 4, 4);
            __m256i wr = _mm256_cvtepi8_epi16(_mm_set1_epi32(w4));
            c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(b0, wr));
            c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(b1, wr));
        }
    }
    for (int r = 0; r < Q8_MR; r++) {
        int32_t t[16];
        _mm256_storeu_si256((void *)t, c[r][0]);
        _mm256_storeu_si256((void *)(t + 8), c[r][1]);
        for (int j = 0; j < 8; j++)
            acc[r * Q8_NR + j0 + j] = t[2 * j] + t[2 * j + 1];
    }
}

AVX2_TARGET static void tile_avx2(const int8_t *a, const uint8_t *b, size_t k4, int32_t *acc) {
    for (int j0 = 0; j0 < Q8_NR; j0 += 8)
        tile_avx2_pass(a, b, k4, j0, acc);
}

#define VNNI_ROW(r)                                                                                          \
    do {                                                                                                     \
        int32_t w4;                                                                                          \
        memcpy(&w4, a + (r)*4, 4);                                                                           \
        __m512i ar = _mm512_set1_epi32(w4);                                                                  \
        c##r##0 = _mm512_dpbusd_epi32(c##r##0, b0, ar);                                                      \
        c##r##1 = _mm512_dpbusd_epi32(c##r##1, b1, ar);                                                      \
    } while (0)

#define VNNI_STORE(r)                                                                                        \
    do {                                                                                                     \
        _mm512_storeu_si512((void *)(acc + (r)*Q8_NR), c##r##0);                                             \
        _mm512_storeu_si512((void *)(acc + (r)*Q8_NR + 16), c##r##1);                                        \
    } while (0)

/* The 6 x 32 int32 accumulators c<r><h> over k4 groups of 4 products: one
 * body for the tile that stores its sums and the one that requantises them
 * in registers. */
#define VNNI_ACCUMULATE(i0, i1, i2, i3, i4, i5)                                                              \
    __m512i c00 = (i0), c01 = c00, c10 = (i1), c11 = c10, c20 = (i2), c21 = c20;                             \
    __m512i c30 = (i3), c31 = c30, c40 = (i4), c41 = c40, c50 = (i5), c51 = c50;                             \
    for (size_t k = 0; k < k4; k++, a += Q8_MR * 4, b += Q8_NR * 4) {                                        \
        __m512i b0 = _mm512_loadu_si512((const void *)b), b1 = _mm512_loadu_si512((const void *)(b + 64));   \
        VNNI_ROW(0);                                                                                         \
        VNNI_ROW(1);                                                                                         \
        VNNI_ROW(2);                                                                                         \
        VNNI_ROW(3);                                                                                         \
        VNNI_ROW(4);                                                                                         \
        VNNI_ROW(5);                                                                                         \
    }

VNNI_TARGET static void tile_vnni(const int8_t *a, const uint8_t *b, size_t k4, int32_t *acc) {
    const __m512i z = _mm512_setzero_si512();
    VNNI_ACCUMULATE(z, z, z, z, z, z);
    VNNI_STORE(0);
    VNNI_STORE(1);
    VNNI_STORE(2);
    VNNI_STORE(3);
    VNNI_STORE(4);
    VNNI_STORE(5);
}

VNNI_TARGET static void out_rows_vnni(const __m512i *c, const q8_dst *d);

/* The VNNI tile with the output stage on its registers (no int32 tile in
 * memory, no call per row); the accumulators start at the rows' comp (the
 * same integer sums); sigmoid goes through the C stage. */
VNNI_TARGET static void tile_out_vnni(const int8_t *a, const uint8_t *b, size_t k4, int32_t *acc,
                                      const q8_dst *d) {
    const int32_t *cp = d->comp;
    VNNI_ACCUMULATE(_mm512_set1_epi32(cp[0]), _mm512_set1_epi32(cp[1]), _mm512_set1_epi32(cp[2]),
                    _mm512_set1_epi32(cp[3]), _mm512_set1_epi32(cp[4]), _mm512_set1_epi32(cp[5]));
    if (d->act == FA_NN_ACT_SIGMOID) {
        VNNI_STORE(0);
        VNNI_STORE(1);
        VNNI_STORE(2);
        VNNI_STORE(3);
        VNNI_STORE(4);
        VNNI_STORE(5);
        for (int r = 0; r < d->mr; r++)
            out_stage_generic(acc + r * Q8_NR, (size_t)d->nr, 0, d->mscale[r], d->bias[r], d->act, d->alpha,
                              d->inv, d->outf ? d->outf + (size_t)r * d->ldc : NULL,
                              d->outq ? d->outq + (size_t)r * d->ldc : NULL);
        return;
    }
    const __m512i c[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    out_rows_vnni(c, d);
}

/* 16 floats to s8 exactly as q8_quant: clamp, add +-0.5, truncate. The
 * clamp is one vrangeps (the one of v, 127 smaller in magnitude, with v's
 * sign: the same value as the two compares), the +-0.5 takes v's sign bit
 * (a -0.0 gets -0.5 where q8_quant adds +0.5: both truncate to 0). */
#define Q8_INLINE inline __attribute__((always_inline))

VNNI_TARGET static Q8_INLINE __m128i quant16(__m512 y, __m512 inv) {
    __m512 v = _mm512_range_ps(_mm512_mul_ps(y, inv), _mm512_set1_ps(127.0f), 2);
    __m512i half = _mm512_ternarylogic_epi32(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN),
                                             _mm512_set1_epi32(0x3f000000), 0xEA); /* (a & b) | c */
    return _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(_mm512_add_ps(v, _mm512_castsi512_ps(half))));
}

/* The output stage with AVX-512: the same operations as the C one, 16
 * lanes at a time, the tail masked. */
VNNI_TARGET static void out_stage_wide(const int32_t *acc, size_t n, int32_t comp, float mscale, float bias,
                                       fa_nn_act act, float alpha, float inv, float *outf, int8_t *outq) {
    if (act == FA_NN_ACT_SIGMOID) {
        out_stage_generic(acc, n, comp, mscale, bias, act, alpha, inv, outf, outq);
        return;
    }
    const __m512i vc = _mm512_set1_epi32(comp);
    const __m512 vm = _mm512_set1_ps(mscale), vb = _mm512_set1_ps(bias), va = _mm512_set1_ps(alpha);
    const __m512 vi = _mm512_set1_ps(inv), zero = _mm512_setzero_ps();
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m512i a = _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, acc + i), vc);
        __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(a), vm);
        y = _mm512_add_ps(y, vb);
        if (act == FA_NN_ACT_RELU) y = _mm512_max_ps(y, zero);
        if (act == FA_NN_ACT_LEAKY) y = _mm512_mask_mul_ps(y, _mm512_cmp_ps_mask(y, zero, _CMP_LT_OQ), y, va);
        if (outf)
            _mm512_mask_storeu_ps(outf + i, k, y);
        else
            _mm_mask_storeu_epi8(outq + i, k, quant16(y, vi));
    }
}

/* The output stage of a tile's rows from registers (c[2r], c[2r + 1]). */
/* The output stage of 16 int32 sums (comp already added), lanes k stored. */
VNNI_TARGET static Q8_INLINE void stage16(__m512i a, __mmask16 k, __m512 vm, __m512 vb, __m512 va, __m512 vi,
                                          fa_nn_act act, float *outf, int8_t *outq) {
    const __m512 zero = _mm512_setzero_ps();
    __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(a), vm);
    y = _mm512_add_ps(y, vb);
    if (act == FA_NN_ACT_RELU) y = _mm512_max_ps(y, zero);
    if (act == FA_NN_ACT_LEAKY) y = _mm512_mask_mul_ps(y, _mm512_cmp_ps_mask(y, zero, _CMP_LT_OQ), y, va);
    if (outf)
        _mm512_mask_storeu_ps(outf, k, y);
    else
        _mm_mask_storeu_epi8(outq, k, quant16(y, vi));
}

VNNI_TARGET static void out_rows_vnni(const __m512i *c, const q8_dst *d) {
    const __m512 va = _mm512_set1_ps(d->alpha), vi = _mm512_set1_ps(d->inv);
    __mmask16 k0 = d->nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << d->nr) - 1u);
    __mmask16 k1 = d->nr >= 32 ? (__mmask16)0xffff : d->nr > 16 ? (__mmask16)((1u << (d->nr - 16)) - 1u) : 0;
    for (int r = 0; r < d->mr; r++) {
        const __m512 vm = _mm512_set1_ps(d->mscale[r]), vb = _mm512_set1_ps(d->bias[r]);
        for (int h = 0; h < 2; h++) {
            __mmask16 k = h ? k1 : k0;
            if (!k) continue;
            size_t at = (size_t)r * d->ldc + (size_t)h * 16;
            stage16(c[2 * r + h], k, vm, vb, va, vi, d->act, d->outf ? d->outf + at : NULL,
                    d->outq ? d->outq + at : NULL);
        }
    }
}

/* One row of a tile through stage16 (act a constant where inlined). */
#define PANEL_ROW(r)                                                                                         \
    if ((r) < d->mr) {                                                                                       \
        const __m512 vm = _mm512_set1_ps(d->mscale[r]), vb = _mm512_set1_ps(d->bias[r]);                     \
        size_t at = (size_t)(r)*d->ldc + j;                                                                  \
        stage16(c##r##0, k0, vm, vb, va, vi, act, d->outf ? d->outf + at : NULL,                             \
                d->outq ? d->outq + at : NULL);                                                              \
        if (k1)                                                                                              \
            stage16(c##r##1, k1, vm, vb, va, vi, act, d->outf ? d->outf + at + 16 : NULL,                    \
                    d->outq ? d->outq + at + 16 : NULL);                                                     \
    }

/* A row panel (d->mr <= 6 rows) times every B panel of a chunk, ncols
 * columns: per 32 columns the tile of tile_out_vnni with its output stage
 * unrolled on the registers, act fixed per instantiation (no branch per
 * vector), one call per row panel instead of per tile. */
VNNI_TARGET static Q8_INLINE void panel_body(const int8_t *a0, const uint8_t *bp, size_t k4, size_t ncols,
                                             const q8_dst *d, fa_nn_act act) {
    const __m512 va = _mm512_set1_ps(d->alpha), vi = _mm512_set1_ps(d->inv);
    const int32_t *cp = d->comp;
    for (size_t j = 0; j < ncols; j += Q8_NR) {
        const int8_t *a = a0;
        const uint8_t *b = bp + (j / Q8_NR) * k4 * 4 * Q8_NR;
        VNNI_ACCUMULATE(_mm512_set1_epi32(cp[0]), _mm512_set1_epi32(cp[1]), _mm512_set1_epi32(cp[2]),
                        _mm512_set1_epi32(cp[3]), _mm512_set1_epi32(cp[4]), _mm512_set1_epi32(cp[5]));
        size_t nr = ncols - j < Q8_NR ? ncols - j : Q8_NR;
        __mmask16 k0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1u);
        __mmask16 k1 = nr >= 32 ? (__mmask16)0xffff : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1u) : 0;
        PANEL_ROW(0)
        PANEL_ROW(1)
        PANEL_ROW(2)
        PANEL_ROW(3)
        PANEL_ROW(4)
        PANEL_ROW(5)
    }
}

/* panel_body for act none / relu / leaky; 0 for sigmoid (the caller goes
 * tile by tile). */
VNNI_TARGET static int panel_vnni(const int8_t *a0, const uint8_t *bp, size_t k4, size_t ncols,
                                  const q8_dst *d) {
    switch (d->act) {
    case FA_NN_ACT_NONE: panel_body(a0, bp, k4, ncols, d, FA_NN_ACT_NONE); return 1;
    case FA_NN_ACT_RELU: panel_body(a0, bp, k4, ncols, d, FA_NN_ACT_RELU); return 1;
    case FA_NN_ACT_LEAKY: panel_body(a0, bp, k4, ncols, d, FA_NN_ACT_LEAKY); return 1;
    default: return 0;
    }
}

VNNI_TARGET static void quantise_wide(const float *x, size_t n, float inv, int8_t *q) {
    const __m512 vi = _mm512_set1_ps(inv);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        _mm_mask_storeu_epi8(q + i, k, quant16(_mm512_maskz_loadu_ps(k, x + i), vi));
    }
}

/* 32 consecutive (s = 1) or every other (s = 2) s8 values widened to s16. */
VNNI_TARGET static inline __m512i load32_s8(const int8_t *src, int s) {
    __m512i lo = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const void *)src));
    if (s == 1) return lo;
    __m512i hi = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const void *)(src + 32)));
    const __m512i even = _mm512_set_epi16(62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32, 30,
                                          28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_epi16(lo, even, hi);
}

/* A depthwise row, 32 outputs per step: the taps go two at a time, their
 * s8 x s8 products summed in 16 bits (|2 * 127 * 127| < 2^15: exact), then
 * widened into two s32 accumulators (|2 * 128 * 127| fits too). Whole vectors are computed (the
 * plane's pitch has the slack, acc is rounded up to 32). */
VNNI_TARGET static void dw_row_wide(const int8_t *base, size_t pitch, const int8_t *w, int kh, int kw,
                                    int d_h, int d_w, int s_w, int w_out, int32_t *restrict acc) {
    int taps = kh * kw;
    if (s_w > 2 || taps > 64) {
        dw_row_generic(base, pitch, w, kh, kw, d_h, d_w, s_w, w_out, acc);
        return;
    }
    size_t off[64];
    for (int t = 0; t < taps; t++)
        off[t] = (size_t)(t / kw) * (size_t)d_h * pitch + (size_t)(t % kw) * (size_t)d_w;
    for (int ox = 0; ox < w_out; ox += 32) {
        const int8_t *row = base + (size_t)ox * (size_t)s_w;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0;
        for (int t = 0; t < taps; t += 2) {
            __m512i p = _mm512_mullo_epi16(load32_s8(row + off[t], s_w), _mm512_set1_epi16(w[t]));
            if (t + 1 < taps)
                p = _mm512_add_epi16(
                    p, _mm512_mullo_epi16(load32_s8(row + off[t + 1], s_w), _mm512_set1_epi16(w[t + 1])));
            a0 = _mm512_add_epi32(a0, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(p)));
            a1 = _mm512_add_epi32(a1, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(p, 1)));
        }
        _mm512_storeu_si512((void *)(acc + ox), a0);
        _mm512_storeu_si512((void *)(acc + ox + 16), a1);
    }
}

/* A whole depthwise plane with the output stage on the registers (strides
 * 1 and 2, up to 64 taps, no sigmoid); 0 when it cannot (the caller then
 * goes row by row). Same sums and float operations as dw_row + out_stage. */
VNNI_TARGET static int dw_plane_vnni(const q8_dw *j) {
    int taps = j->kh * j->kw;
    if (j->s_w > 2 || taps > 64 || j->act == FA_NN_ACT_SIGMOID) return 0;
    size_t off[64];
    for (int t = 0; t < taps; t++)
        off[t] = (size_t)(t / j->kw) * (size_t)j->d_h * j->pitch + (size_t)(t % j->kw) * (size_t)j->d_w;
    const __m512 vm = _mm512_set1_ps(j->mscale), vb = _mm512_set1_ps(j->bias);
    const __m512 va = _mm512_set1_ps(j->alpha), vi = _mm512_set1_ps(j->inv);
    for (int oy = 0; oy < j->h_out; oy++) {
        const int8_t *base = j->plane + (size_t)oy * (size_t)j->s_h * j->pitch;
        size_t at = (size_t)oy * (size_t)j->w_out;
        for (int ox = 0; ox < j->w_out; ox += 32) {
            const int8_t *row = base + (size_t)ox * (size_t)j->s_w;
            __m512i a0 = _mm512_setzero_si512(), a1 = a0;
            for (int t = 0; t < taps; t += 2) {
                __m512i p = _mm512_mullo_epi16(load32_s8(row + off[t], j->s_w), _mm512_set1_epi16(j->w[t]));
                if (t + 1 < taps)
                    p = _mm512_add_epi16(p, _mm512_mullo_epi16(load32_s8(row + off[t + 1], j->s_w),
                                                               _mm512_set1_epi16(j->w[t + 1])));
                a0 = _mm512_add_epi32(a0, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(p)));
                a1 = _mm512_add_epi32(a1, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(p, 1)));
            }
            int left = j->w_out - ox;
            __mmask16 k0 = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
            __mmask16 k1 = left >= 32  ? (__mmask16)0xffff
                           : left > 16 ? (__mmask16)((1u << (left - 16)) - 1u)
                                       : 0;
            size_t o = at + (size_t)ox;
            stage16(a0, k0, vm, vb, va, vi, j->act, j->outf ? j->outf + o : NULL,
                    j->outq ? j->outq + o : NULL);
            if (k1)
                stage16(a1, k1, vm, vb, va, vi, j->act, j->outf ? j->outf + o + 16 : NULL,
                        j->outq ? j->outq + o + 16 : NULL);
        }
    }
    return 1;
}

#define VBMI_TARGET                                                                                          \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512vbmi")))

/* The byte gather of dword group g of a depthwise kernel row: lane i * 4 +
 * b takes byte i * s_w + (g * 4 + b) * d_w of a 64-byte load, so output i
 * of 16 finds its (up to) 4 taps in its dword; taps past kw take byte 0
 * (their weight byte is 0). */
static void dw_gather_index(int s_w, int d_w, int kw, int g, uint8_t idx[64]) {
    for (int i = 0; i < 16; i++)
        for (int b = 0; b < 4; b++) {
            int kx = g * 4 + b;
            idx[i * 4 + b] = (uint8_t)(kx < kw ? i * s_w + kx * d_w : 0);
        }
}

/* A depthwise channel read straight from its s8 input (no padded plane). */
typedef struct q8_dwd {
    const int8_t *src; /* the channel's h_in x w_in plane */
    const int32_t *taps;
    int h_in, w_in, pad_t, pad_l, groups;
    int32_t comp;
    q8_dw o; /* geometry, scales, outputs (o.plane unused) */
} q8_dwd;

/* Bytes [lo, hi) of a 64-byte window, lo <= hi clamped to 0..64. */
static inline uint64_t window_mask(long lo, long hi) {
    lo = lo < 0 ? 0 : lo > 64 ? 64 : lo;
    hi = hi < lo ? lo : hi > 64 ? 64 : hi;
    uint64_t below_hi = hi >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << hi) - 1u);
    uint64_t below_lo = lo >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << lo) - 1u);
    return below_hi & ~below_lo;
}

/* Input row iy of a depthwise channel as u8 (q + 128) in the 64-byte
 * window from column x0: bytes outside the image (masked off by m: no
 * fault) and rows outside it read as padding, u8 128. */
VBMI_TARGET static Q8_INLINE __m512i dw_row_u8(const int8_t *src, int h_in, int w_in, int iy, long x0,
                                               __mmask64 m, __m512i flip) {
    if (iy < 0 || iy >= h_in) return flip;
    uintptr_t row = (uintptr_t)(src + (size_t)iy * (size_t)w_in);
    return _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, (const void *)(row + (uintptr_t)x0)), flip);
}

/* Adds kernel row ky's taps (dword groups 0 and 1) on window v to a. */
#define DW_TAPS(a, v, ky)                                                                                    \
    do {                                                                                                     \
        a = _mm512_dpbusd_epi32(a, _mm512_permutexvar_epi8(idx0, v), wv[(ky)*groups]);                       \
        if (groups == 2) a = _mm512_dpbusd_epi32(a, _mm512_permutexvar_epi8(idx1, v), wv[(ky)*groups + 1]);  \
    } while (0)

/* A depthwise channel on the VBMI + VNNI kernel, two output rows by 16
 * columns per step: per kernel row one 64-byte masked load of the input
 * row (dw_row_u8), vpermb to the dword layout (dw_gather_index), vpdpbusd
 * with 4 taps; with stride and dilation 1 vertically the two output rows
 * share their kh - 1 common input rows (kh + 1 loads, not 2 kh). The
 * accumulators start at comp = -128 * sum of the taps, so they end at the
 * exact sums of q * w the other kernels compute; the output stage is
 * stage16, the same float operations. kh, groups and shared are constants
 * where inlined. */
VBMI_TARGET static Q8_INLINE void dw_direct_body(const q8_dwd *d, int kh, int groups, int shared) {
    const q8_dw *j = &d->o;
    uint8_t ib[2][64];
    dw_gather_index(j->s_w, j->d_w, j->kw, 0, ib[0]);
    dw_gather_index(j->s_w, j->d_w, j->kw, 1, ib[1]);
    const __m512i idx0 = _mm512_loadu_si512((const void *)ib[0]),
                  idx1 = _mm512_loadu_si512((const void *)ib[1]);
    __m512i wv[16];
    for (int t = 0; t < kh * groups; t++)
        wv[t] = _mm512_set1_epi32(d->taps[t]);
    const __m512i vcomp = _mm512_set1_epi32(d->comp), flip = _mm512_set1_epi8((char)0x80);
    const __m512 vm = _mm512_set1_ps(j->mscale), vb = _mm512_set1_ps(j->bias);
    const __m512 va = _mm512_set1_ps(j->alpha), vi = _mm512_set1_ps(j->inv);
    /* locals: the s8 stores may alias anything, so no field is re-read */
    const int8_t *src = d->src;
    const int h_in = d->h_in, w_in = d->w_in, h_out = j->h_out, w_out = j->w_out, s_w = j->s_w, s_h = j->s_h;
    const int d_h = j->d_h, pad_t = d->pad_t, pad_l = d->pad_l;
    float *const outf = j->outf;
    int8_t *const outq = j->outq;
    const fa_nn_act act = j->act;
    for (int oy = 0; oy < h_out; oy += 2) {
        int iy0 = oy * s_h - pad_t, iy1 = iy0 + s_h;
        for (int ox = 0; ox < w_out; ox += 16) {
            long x0 = (long)ox * s_w - pad_l;
            __mmask64 m = window_mask(-x0, (long)w_in - x0);
            __m512i a0 = vcomp, a1 = vcomp;
            if (shared) {
                for (int r = 0; r <= kh; r++) {
                    __m512i v = dw_row_u8(src, h_in, w_in, iy0 + r, x0, m, flip);
                    if (r < kh) DW_TAPS(a0, v, r);
                    if (r > 0) DW_TAPS(a1, v, r - 1);
                }
            } else {
                for (int ky = 0; ky < kh; ky++) {
                    __m512i v0 = dw_row_u8(src, h_in, w_in, iy0 + ky * d_h, x0, m, flip);
                    __m512i v1 = dw_row_u8(src, h_in, w_in, iy1 + ky * d_h, x0, m, flip);
                    DW_TAPS(a0, v0, ky);
                    DW_TAPS(a1, v1, ky);
                }
            }
            int left = w_out - ox;
            __mmask16 k = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
            size_t o0 = (size_t)oy * (size_t)w_out + (size_t)ox, o1 = o0 + (size_t)w_out;
            stage16(a0, k, vm, vb, va, vi, act, outf ? outf + o0 : NULL, outq ? outq + o0 : NULL);
            if (oy + 1 < h_out)
                stage16(a1, k, vm, vb, va, vi, act, outf ? outf + o1 : NULL, outq ? outq + o1 : NULL);
        }
    }
}

VBMI_TARGET static void dw_direct_vbmi(const q8_dwd *d) {
    int shared = d->o.s_h == 1 && d->o.d_h == 1;
    if (d->o.kh == 3 && d->groups == 1 && shared)
        dw_direct_body(d, 3, 1, 1);
    else if (d->o.kh == 3 && d->groups == 1)
        dw_direct_body(d, 3, 1, 0);
    else if (d->o.kh == 5 && d->groups == 2 && shared)
        dw_direct_body(d, 5, 2, 1);
    else
        dw_direct_body(d, d->o.kh, d->groups, shared);
}

/* A whole plain (1x1 stride 1) B block with AVX-512 masks: every panel
 * of 32 columns, the last one partial (its missing columns read as 0),
 * and the last k4 group's rows past K as 0 (u8 128), so no byte-wise
 * tail loops; the bytes are those pack_b_plain writes for real columns. */
VNNI_TARGET static void pack_plain_vnni(const int8_t *in, size_t hw, size_t k, size_t k4, size_t ncols,
                                        uint8_t *bp) {
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (size_t j = 0; j < ncols; j += Q8_NR) {
        size_t left = ncols - j;
        __mmask32 cm = left >= 32 ? ~(__mmask32)0 : (__mmask32)((1u << left) - 1u);
        uint8_t *panel = bp + (j / Q8_NR) * k4 * 4 * Q8_NR;
        for (size_t g = 0; g < k4; g++) {
            __m256i r[4];
            for (size_t kk = 0; kk < 4; kk++) {
                size_t row = g * 4 + kk;
                r[kk] = row < k ? _mm256_maskz_loadu_epi8(cm, in + row * hw + j) : _mm256_setzero_si256();
                r[kk] = _mm256_xor_si256(r[kk], flip);
            }
            __m256i t0 = _mm256_unpacklo_epi8(r[0], r[1]), t1 = _mm256_unpackhi_epi8(r[0], r[1]);
            __m256i t2 = _mm256_unpacklo_epi8(r[2], r[3]), t3 = _mm256_unpackhi_epi8(r[2], r[3]);
            __m256i u0 = _mm256_unpacklo_epi16(t0, t2), u1 = _mm256_unpackhi_epi16(t0, t2);
            __m256i u2 = _mm256_unpacklo_epi16(t1, t3), u3 = _mm256_unpackhi_epi16(t1, t3);
            uint8_t *dst = panel + g * 4 * Q8_NR;
            _mm256_storeu_si256((void *)dst, _mm256_permute2x128_si256(u0, u1, 0x20));
            _mm256_storeu_si256((void *)(dst + 32), _mm256_permute2x128_si256(u2, u3, 0x20));
            _mm256_storeu_si256((void *)(dst + 64), _mm256_permute2x128_si256(u0, u1, 0x31));
            _mm256_storeu_si256((void *)(dst + 96), _mm256_permute2x128_si256(u2, u3, 0x31));
        }
    }
}

#if Q8_HAVE_AMX
/* ------------------------------------------------------------------ AMX
 * Sapphire Rapids' AMX-INT8: one tdpbsud multiplies a 16 x 64 s8 tile of
 * weights (A, rows = output channels) by a 16 x 64 u8 tile of the B panel
 * (16 k4 groups by 16 columns, the very layout of our panels, read with
 * a 128-byte stride) into 16 x 16 int32: 16 K multiply-adds per
 * instruction, exact integer sums like vpdpbusd. A block is 32 rows x 32
 * columns in tmm0..3 (A halves in tmm4/5, B halves in tmm6/7, every tile
 * 16 rows x 64 bytes: one configuration for every conv), K in steps of 64
 * (k4p = k4 rounded up to 16; the padding groups are u8 128 in B and 0 in
 * A). The sums go through 32 x 32 int32 buffers to the output stage
 * (stage16 with the row's comp added: the same integers, the same float
 * operations as every other ISA); two buffers, so a block's tiles run
 * while the previous block goes through the stage. Tile state is per thread: each task
 * loads the configuration and releases it. Linux only: the process must
 * ask the kernel for the tile data state (arch_prctl, idempotent). */

#define AMX_TARGET                                                                                           \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,amx-tile,amx-int8")))

typedef struct amx_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg;

/* Whether AMX-INT8 can run here (CPUID and the kernel's permission);
 * FA_NN_Q8_AMX=0 turns it off (the tests run the VNNI GEMM that way). */
static bool amx_usable(void) {
    const char *env = getenv("FA_NN_Q8_AMX");
    if (env && strcmp(env, "0") == 0) return false;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25))) return false;
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
}

AMX_TARGET static void amx_begin(void) {
    amx_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++)
        cfg.colsb[t] = 64, cfg.rows[t] = 16;
    /* gcc 12's _tile_loadconfig tells the compiler it reads 8 bytes only:
     * make the whole configuration escape so no store is dropped */
    __asm__ volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
}

AMX_TARGET static void amx_end(void) { _tile_release(); }

/* One 32 x 32 block: a at the block's first weight row (row pitch kb
 * bytes), b at the panel, k4p groups; sums to c[32][32]. */
AMX_TARGET static void amx_block(const int8_t *a, size_t kb, const uint8_t *b, size_t k4p, int32_t *c) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (size_t g = 0; g < k4p; g += 16) {
        _tile_loadd(4, a + g * 4, kb);
        _tile_loadd(5, a + 16 * kb + g * 4, kb);
        _tile_loadd(6, b + g * 4 * Q8_NR, 4 * Q8_NR);
        _tile_loadd(7, b + g * 4 * Q8_NR + 64, 4 * Q8_NR);
        _tile_dpbsud(0, 4, 6);
        _tile_dpbsud(1, 4, 7);
        _tile_dpbsud(2, 5, 6);
        _tile_dpbsud(3, 5, 7);
    }
    _tile_stored(0, c, 4 * Q8_NR);
    _tile_stored(1, c + 16, 4 * Q8_NR);
    _tile_stored(2, c + 16 * Q8_NR, 4 * Q8_NR);
    _tile_stored(3, c + 16 * Q8_NR + 16, 4 * Q8_NR);
}

/* Where an AMX block's rows go: the parameters of rows 0..mr-1 (row r's
 * comp / mscale / bias at rowp[r] of the packed-row arrays). */
typedef struct amx_out {
    const int32_t *comp;
    const float *mscale, *bias;
    const size_t *rowp;
    float *outf;  /* at (first row, first column), or NULL */
    int8_t *outq; /* the same for s8 output */
    size_t ldc;
    int mr, nr;
    fa_nn_act act;
    float alpha, inv;
} amx_out;

AMX_TARGET static Q8_INLINE void amx_stage_body(const int32_t *c, const amx_out *o, fa_nn_act act) {
    const __m512 va = _mm512_set1_ps(o->alpha), vi = _mm512_set1_ps(o->inv);
    __mmask16 k0 = o->nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << o->nr) - 1u);
    __mmask16 k1 = o->nr >= 32 ? (__mmask16)0xffff : o->nr > 16 ? (__mmask16)((1u << (o->nr - 16)) - 1u) : 0;
    /* locals: the s8 stores may alias anything, so no field is re-read */
    const int32_t *const comp = o->comp;
    const float *const mscale = o->mscale, *const bias = o->bias;
    const size_t *const rowp = o->rowp;
    float *const outf = o->outf;
    int8_t *const outq = o->outq;
    const size_t ldc = o->ldc;
    const int mr = o->mr;
    for (int r = 0; r < mr; r++) {
        size_t pr = rowp[r];
        const __m512i vc = _mm512_set1_epi32(comp[pr]);
        const __m512 vm = _mm512_set1_ps(mscale[pr]), vb = _mm512_set1_ps(bias[pr]);
        const int32_t *cr = c + (size_t)r * Q8_NR;
        size_t at = (size_t)r * ldc;
        stage16(_mm512_add_epi32(_mm512_loadu_si512((const void *)cr), vc), k0, vm, vb, va, vi, act,
                outf ? outf + at : NULL, outq ? outq + at : NULL);
        if (k1)
            stage16(_mm512_add_epi32(_mm512_loadu_si512((const void *)(cr + 16)), vc), k1, vm, vb, va, vi,
                    act, outf ? outf + at + 16 : NULL, outq ? outq + at + 16 : NULL);
    }
}

/* The output stage of a block's sums; sigmoid through the C stage. */
AMX_TARGET static void amx_stage(const int32_t *c, const amx_out *o) {
    switch (o->act) {
    case FA_NN_ACT_NONE: amx_stage_body(c, o, FA_NN_ACT_NONE); return;
    case FA_NN_ACT_RELU: amx_stage_body(c, o, FA_NN_ACT_RELU); return;
    case FA_NN_ACT_LEAKY: amx_stage_body(c, o, FA_NN_ACT_LEAKY); return;
    default:
        for (int r = 0; r < o->mr; r++) {
            size_t pr = o->rowp[r], at = (size_t)r * o->ldc;
            out_stage_generic(c + (size_t)r * Q8_NR, (size_t)o->nr, o->comp[pr], o->mscale[pr], o->bias[pr],
                              o->act, o->alpha, o->inv, o->outf ? o->outf + at : NULL,
                              o->outq ? o->outq + at : NULL);
        }
    }
}

#endif /* Q8_HAVE_AMX */

static bool cpu_has_avx512vbmi(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 1));
}

AVX2_TARGET static void out_stage_avx2(const int32_t *acc, size_t n, int32_t comp, float mscale, float bias,
                                       fa_nn_act act, float alpha, float inv, float *outf, int8_t *outq) {
    if (act == FA_NN_ACT_SIGMOID) {
        out_stage_generic(acc, n, comp, mscale, bias, act, alpha, inv, outf, outq);
        return;
    }
    OUT_STAGE_BODY
}

AVX2_TARGET static void quantise_avx2(const float *x, size_t n, float inv, int8_t *q) {
    for (size_t i = 0; i < n; i++)
        q[i] = q8_quant(x[i], inv);
}

AVX2_TARGET static void dw_row_avx2(const int8_t *base, size_t pitch, const int8_t *w, int kh, int kw,
                                    int d_h, int d_w, int s_w, int w_out, int32_t *restrict acc){DW_ROW_BODY}

/* Four rows of 32 s8 (src + k * hw) interleaved into one k4 group of a
 * B panel as u8 (x + 128): dst[j * 4 + kk] = src[kk][j] ^ 0x80. */
AVX2_TARGET static void pack4x32_avx2(const int8_t *src, size_t hw, uint8_t *dst) {
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    __m256i r0 = _mm256_xor_si256(_mm256_loadu_si256((const void *)src), flip);
    __m256i r1 = _mm256_xor_si256(_mm256_loadu_si256((const void *)(src + hw)), flip);
    __m256i r2 = _mm256_xor_si256(_mm256_loadu_si256((const void *)(src + 2 * hw)), flip);
    __m256i r3 = _mm256_xor_si256(_mm256_loadu_si256((const void *)(src + 3 * hw)), flip);
    __m256i t0 = _mm256_unpacklo_epi8(r0, r1), t1 = _mm256_unpackhi_epi8(r0, r1);
    __m256i t2 = _mm256_unpacklo_epi8(r2, r3), t3 = _mm256_unpackhi_epi8(r2, r3);
    __m256i u0 = _mm256_unpacklo_epi16(t0, t2), u1 = _mm256_unpackhi_epi16(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi16(t1, t3), u3 = _mm256_unpackhi_epi16(t1, t3);
    _mm256_storeu_si256((void *)dst, _mm256_permute2x128_si256(u0, u1, 0x20));
    _mm256_storeu_si256((void *)(dst + 32), _mm256_permute2x128_si256(u2, u3, 0x20));
    _mm256_storeu_si256((void *)(dst + 64), _mm256_permute2x128_si256(u0, u1, 0x31));
    _mm256_storeu_si256((void *)(dst + 96), _mm256_permute2x128_si256(u2, u3, 0x31));
}

#endif

/* The ISA's functions. */
typedef struct q8_fns {
    void (*tile)(const int8_t *, const uint8_t *, size_t, int32_t *);
    /* the tile and its output stage in one (NULL: tile, then out_stage per row) */
    void (*tile_out)(const int8_t *, const uint8_t *, size_t, int32_t *, const q8_dst *);
    /* a whole depthwise plane, stage fused; returns 0 to fall back (NULL: always row by row) */
    int (*dw_plane)(const q8_dw *);
    /* a row panel times a chunk's B panels, stage fused; 0 to go tile by tile (NULL: always) */
    int (*panel)(const int8_t *, const uint8_t *, size_t, size_t, const q8_dst *);
    void (*out_stage)(const int32_t *, size_t, int32_t, float, float, fa_nn_act, float, float, float *,
                      int8_t *);
    void (*quantise)(const float *, size_t, float, int8_t *);
    void (*dw_row)(const int8_t *, size_t, const int8_t *, int, int, int, int, int, int, int32_t *);
} q8_fns;

static q8_fns fns_for(int isa) {
#if Q8_HAVE_X86
    if (isa == FA_NN_Q8_VNNI)
        return (q8_fns){tile_vnni,      tile_out_vnni, dw_plane_vnni, panel_vnni,
                        out_stage_wide, quantise_wide, dw_row_wide};
    if (isa == FA_NN_Q8_AVX2)
        return (q8_fns){tile_avx2, NULL, NULL, NULL, out_stage_avx2, quantise_avx2, dw_row_avx2};
#else
    (void)isa;
#endif
    return (q8_fns){tile_generic, NULL, NULL, NULL, out_stage_generic, quantise_generic, dw_row_generic};
}

/* ---------------------------------------------------------------- prepare */

/* The VNNI kernels also use AVX-512 DQ (vrangeps), which native.c's pick
 * does not check: without it (no such VNNI CPU is known) AVX2 runs. */
static int q8_isa_usable(int isa) {
#if Q8_HAVE_X86
    if (isa == FA_NN_Q8_VNNI && !__builtin_cpu_supports("avx512dq")) return FA_NN_Q8_AVX2;
#endif
    return isa;
}

/* Per output channel weight scales (given, or max |w| / 127) and int8
 * weights q[oc][k] = round(w / s) clamped to -127..127. */
static int quantise_weights(const fa_nn_q8 *q, const float *w, const float *given, float *ws, int8_t *wq) {
    size_t per = q->k;
    for (size_t oc = 0; oc < (size_t)q->p.c_out; oc++) {
        float m = 0.0f;
        for (size_t i = 0; i < per; i++)
            m = fmaxf(m, fabsf(w[oc * per + i]));
        ws[oc] = given ? given[oc] : m > 0.0f ? m / 127.0f : 1.0f;
        if (!(ws[oc] > 0.0f) || !isfinite(ws[oc]))
            return fa_err_set(FA_EINVAL, "native conv: field 'w_scales[%zu]': expected finite > 0, got %g",
                              oc, (double)ws[oc]);
        for (size_t i = 0; i < per; i++) {
            float v = w[oc * per + i] / ws[oc];
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            wq[oc * per + i] = (int8_t)lrintf(v);
        }
    }
    return 0;
}

static void pack_rows(fa_nn_q8 *q, const int8_t *wq, const float *ws, const float *bias) {
    size_t groups = (size_t)q->p.groups;
    for (size_t g = 0; g < groups; g++)
        for (size_t mp = 0; mp < q->m_panels; mp++)
            for (size_t r = 0; r < Q8_MR; r++) {
                size_t row = mp * Q8_MR + r, prow = (g * q->m_panels + mp) * Q8_MR + r;
                int8_t *dst = q->w + (g * q->m_panels + mp) * q->k4 * 4 * Q8_MR;
                int32_t sum = 0;
                for (size_t k = 0; k < q->k4 * 4; k++) {
                    int8_t v = row < q->m && k < q->k ? wq[(g * q->m + row) * q->k + k] : 0;
                    dst[((k / 4) * Q8_MR + r) * 4 + k % 4] = v;
                    sum += v;
                }
                size_t oc = g * q->m + row;
                q->comp[prow] = -128 * sum;
                q->mscale[prow] = row < q->m ? q->in_scale * ws[oc] : 0.0f;
                q->bias[prow] = row < q->m && bias ? bias[oc] : 0.0f;
            }
}

/* Whether a depthwise conv goes to dw_plane_vbmi: VNNI with VBMI, no
 * sigmoid, and 16 outputs' taps of one kernel row within one 64-byte load
 * (at most 2 dwords, 8 taps, per row). */
static bool dw_vbmi_fits(const fa_nn_q8 *q) {
    const fa_nn_conv_params *p = &q->p;
#if Q8_HAVE_X86
    int groups = (p->kw + 3) / 4;
    return q->isa == FA_NN_Q8_VNNI && p->act != FA_NN_ACT_SIGMOID && p->kw <= 8 && p->kh * groups <= 16 &&
           15 * p->stride_w + (p->kw - 1) * p->dil_w <= 63 && cpu_has_avx512vbmi();
#else
    (void)p;
    return false;
#endif
}

/* The VBMI kernel's weights: per channel and kernel row, dwords of 4 s8
 * taps (0 past kw), and comp = -128 * sum of the channel's taps. */
static int pack_dw_taps(fa_nn_q8 *q, const int8_t *wq) {
    const fa_nn_conv_params *p = &q->p;
    size_t per = (size_t)p->kh * (size_t)q->dw_groups;
    q->dw_taps = malloc((size_t)p->c_out * per * sizeof *q->dw_taps);
    if (!q->dw_taps) return fa_err_set(FA_ENOMEM, "native conv: out of memory for int8 weights");
    for (size_t c = 0; c < (size_t)p->c_out; c++) {
        int32_t sum = 0;
        for (int ky = 0; ky < p->kh; ky++)
            for (int g = 0; g < q->dw_groups; g++) {
                uint8_t b4[4];
                for (int b = 0; b < 4; b++) {
                    int kx = g * 4 + b;
                    int8_t v = kx < p->kw ? wq[c * q->k + (size_t)(ky * p->kw + kx)] : 0;
                    b4[b] = (uint8_t)v;
                    sum += v;
                }
                memcpy(&q->dw_taps[c * per + (size_t)(ky * q->dw_groups + g)], b4, 4);
            }
        q->comp[c] = -128 * sum;
    }
    return 0;
}

/* AMX weights: per group amx_mp rows of k4p * 4 bytes, zero-padded. */
static int pack_amx_rows(fa_nn_q8 *q, const int8_t *wq) {
    size_t groups = (size_t)q->p.groups, kb = q->k4p * 4;
    q->wa = calloc(groups * q->amx_mp * kb, 1);
    if (!q->wa) return fa_err_set(FA_ENOMEM, "native conv: out of memory for int8 weights");
    for (size_t g = 0; g < groups; g++)
        for (size_t row = 0; row < q->m; row++)
            memcpy(q->wa + (g * q->amx_mp + row) * kb, wq + (g * q->m + row) * q->k, q->k);
    return 0;
}

static void plan(fa_nn_q8 *q) {
    const fa_nn_conv_params *p = &q->p;
    q->depthwise = p->c_in / p->groups == 1 && p->c_out == p->groups;
    q->m = (size_t)(p->c_out / p->groups);
    q->k = (size_t)(p->c_in / p->groups) * (size_t)p->kh * (size_t)p->kw;
    q->k4 = (q->k + 3) / 4;
    q->n_cols = (size_t)p->h_out * (size_t)p->w_out;
    q->m_panels = (q->m + Q8_MR - 1) / Q8_MR;
    q->plain = p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_t == 0 &&
               p->pad_l == 0 && p->pad_b == 0 && p->pad_r == 0;
    q->in_bytes =
        q->in_s8 ? 0 : round_up((size_t)p->n * (size_t)p->c_in * (size_t)p->h_in * (size_t)p->w_in, 64);
    if (q->depthwise) {
        q->dw_vbmi = dw_vbmi_fits(q);
        q->dw_groups = (p->kw + 3) / 4;
        q->rows = (size_t)p->c_out;
        q->plane_rows = (size_t)p->h_in + (size_t)p->pad_t + (size_t)p->pad_b;
        size_t need = round_up((size_t)p->w_out, 32) * (size_t)p->stride_w;
        need += (size_t)(p->kw - 1) * (size_t)p->dil_w + 64; /* whole 32-output vectors (dw_row_wide) */
        size_t width = (size_t)p->w_in + (size_t)p->pad_l + (size_t)p->pad_r;
        q->plane_pitch = round_up(width > need ? width : need, 16);
        q->slot_bytes = round_up(q->plane_rows * q->plane_pitch, 64) + round_up((size_t)p->w_out, 32) * 4;
    } else {
        q->rows = (size_t)p->groups * q->m_panels * Q8_MR;
#if Q8_HAVE_AMX
        q->amx = q->plain && q->isa == FA_NN_Q8_VNNI && amx_usable();
#endif
        q->k4p = q->amx ? round_up(q->k4, 16) : q->k4;
        q->amx_mp = round_up(q->m, 32);
        size_t nc = Q8_B_CHUNK_BYTES / (q->k4p * 4) / Q8_NR * Q8_NR;
        nc = nc < Q8_NR ? Q8_NR : nc > Q8_NC_MAX ? Q8_NC_MAX : nc;
        q->nc_max = nc < round_up(q->n_cols, Q8_NR) ? nc : round_up(q->n_cols, Q8_NR);
        size_t acc_bytes = q->amx ? 2 * 32 * Q8_NR * sizeof(int32_t) : Q8_MR * Q8_NR * sizeof(int32_t);
        q->slot_bytes = round_up(q->k4p * 4 * q->nc_max, 64) + acc_bytes;
    }
    q->slot_bytes = round_up(q->slot_bytes, 64);
}

static int alloc_arrays(fa_nn_q8 *q) {
    size_t wbytes = q->depthwise ? (size_t)q->p.c_out * q->k : q->rows * q->k4 * 4;
    q->w = malloc(wbytes ? wbytes : 1);
    q->comp = calloc(q->rows, sizeof *q->comp);
    q->mscale = malloc(q->rows * sizeof *q->mscale);
    q->bias = malloc(q->rows * sizeof *q->bias);
    if (!q->w || !q->comp || !q->mscale || !q->bias)
        return fa_err_set(FA_ENOMEM, "native conv: out of memory for int8 weights");
    return 0;
}

static int check_q8(const fa_nn_conv_params *p, const fa_nn_int8_scales *sc) {
    if (!sc)
        return fa_err_set(FA_EINVAL, "native conv: field 'scales': expected a pointer for int8, got NULL");
    if (!(sc->in_scale > 0.0f) || !isfinite(sc->in_scale) || !isfinite(1.0f / sc->in_scale))
        return fa_err_set(FA_EINVAL, "native conv: field 'in_scale': expected finite > 0, got %g",
                          (double)sc->in_scale);
    if (!(sc->out_scale > 0.0f) || !isfinite(sc->out_scale) || !isfinite(1.0f / sc->out_scale))
        return fa_err_set(FA_EINVAL, "native conv: field 'out_scale': expected finite > 0, got %g",
                          (double)sc->out_scale);
    size_t k = (size_t)(p->c_in / p->groups) * (size_t)p->kh * (size_t)p->kw;
    if (k > Q8_K_MAX)
        return fa_err_set(FA_EINVAL,
                          "native conv: field 'kh': expected c_in / groups * kh * kw <= %u for "
                          "int8, got %zu",
                          Q8_K_MAX, k);
    return 0;
}

void fa_nn_q8_free(fa_nn_q8 *q) {
    if (!q) return;
    free(q->w);
    free(q->comp);
    free(q->mscale);
    free(q->bias);
    free(q->dw_taps);
    free(q->wa);
    free(q);
}

fa_nn_q8 *fa_nn_q8_prepare(const fa_nn_conv_params *p, const float *w, const float *bias,
                           const fa_nn_int8_scales *sc, int isa) {
    if (check_q8(p, sc) < 0) return NULL;
    fa_nn_q8 *q = calloc(1, sizeof *q);
    float *ws = malloc((size_t)p->c_out * sizeof *ws);
    int8_t *wq = NULL;
    int rc = q && ws ? 0 : fa_err_set(FA_ENOMEM, "native conv: out of memory");
    if (!rc) {
        q->p = *p, q->isa = q8_isa_usable(isa), q->in_s8 = sc->in_s8 != 0, q->out_s8 = sc->out_s8 != 0;
        q->in_scale = sc->in_scale, q->inv_out = 1.0f / sc->out_scale;
        plan(q);
        rc = alloc_arrays(q);
    }
    if (!rc && !(wq = malloc((size_t)p->c_out * q->k)))
        rc = fa_err_set(FA_ENOMEM, "native conv: out of memory");
    if (!rc) rc = quantise_weights(q, w, sc->w_scales, ws, wq);
    if (!rc && q->depthwise) {
        memcpy(q->w, wq, (size_t)p->c_out * q->k);
        for (size_t oc = 0; oc < (size_t)p->c_out; oc++) {
            q->mscale[oc] = q->in_scale * ws[oc];
            q->bias[oc] = bias ? bias[oc] : 0.0f;
        }
        if (q->dw_vbmi) rc = pack_dw_taps(q, wq);
    } else if (!rc) {
        pack_rows(q, wq, ws, bias);
        if (q->amx) rc = pack_amx_rows(q, wq);
    }
    free(ws);
    free(wq);
    if (rc) {
        fa_nn_q8_free(q);
        return NULL;
    }
    return q;
}

size_t fa_nn_q8_workspace(const fa_nn_q8 *q, size_t threads) {
    return q ? q->in_bytes + q->slot_bytes * (threads ? threads : 1) : 0;
}

size_t fa_nn_q8_bytes(const fa_nn_q8 *q) {
    if (!q) return 0;
    size_t wbytes = q->depthwise ? (size_t)q->p.c_out * q->k : q->rows * q->k4 * 4;
    if (q->dw_vbmi) wbytes += (size_t)q->p.c_out * (size_t)q->p.kh * (size_t)q->dw_groups * sizeof(int32_t);
    if (q->amx) wbytes += (size_t)q->p.groups * q->amx_mp * q->k4p * 4;
    return wbytes + q->rows * (sizeof(int32_t) + 2 * sizeof(float));
}

/* -------------------------------------------------------------------- run */

typedef struct q8_run {
    const fa_nn_q8 *q;
    q8_fns f;
    const int8_t *in;
    float *outf;
    int8_t *outq;
    unsigned char *slots;
    size_t items, tasks, nc, chunks;
} q8_run;

/* Generic packing (any kernel, stride, padding, dilation) of columns
 * [j0, j0 + ncols) of one (image, group) input into B panels. */
static void pack_b_checked(const fa_nn_q8 *q, const int8_t *in, size_t j0, size_t ncols, uint8_t *bp) {
    const fa_nn_conv_params *p = &q->p;
    size_t hw = (size_t)p->h_in * (size_t)p->w_in, cin_g = (size_t)(p->c_in / p->groups);
    for (size_t j = 0; j < round_up(ncols, Q8_NR); j++) {
        uint8_t *dst = bp + (j / Q8_NR) * q->k4 * 4 * Q8_NR + (j % Q8_NR) * 4;
        size_t col = j0 + (j < ncols ? j : ncols - 1), k = 0;
        long iy0 = (long)(col / (size_t)p->w_out) * p->stride_h - p->pad_t;
        long ix0 = (long)(col % (size_t)p->w_out) * p->stride_w - p->pad_l;
        for (size_t ci = 0; ci < cin_g; ci++)
            for (int ky = 0; ky < p->kh; ky++) {
                long iy = iy0 + (long)ky * p->dil_h;
                bool row_in = iy >= 0 && iy < p->h_in;
                const int8_t *row = in + ci * hw + (row_in ? (size_t)iy * (size_t)p->w_in : 0);
                for (int kx = 0; kx < p->kw; kx++, k++) {
                    long ix = ix0 + (long)kx * p->dil_w;
                    bool inside = row_in && ix >= 0 && ix < p->w_in;
                    dst[(k / 4) * Q8_NR * 4 + k % 4] = inside ? (uint8_t)(row[ix] + 128) : 128;
                }
            }
        for (; k < q->k4 * 4; k++)
            dst[(k / 4) * Q8_NR * 4 + k % 4] = 128;
    }
}

/* Plain (1x1 stride 1 unpadded) packing without index arithmetic: k4
 * groups from k4_lo, columns [j0, j0 + ncols) into panels from panel 0. */
static void pack_b_plain(const fa_nn_q8 *q, const int8_t *in, size_t j0, size_t ncols, uint8_t *bp,
                         size_t k4_lo) {
    size_t hw = q->n_cols;
    for (size_t j = 0; j < round_up(ncols, Q8_NR); j++) {
        uint8_t *dst = bp + (j / Q8_NR) * q->k4 * 4 * Q8_NR + (j % Q8_NR) * 4;
        const int8_t *src = in + j0 + (j < ncols ? j : ncols - 1);
        for (size_t k = k4_lo * 4; k < q->k4 * 4; k++)
            dst[(k / 4) * Q8_NR * 4 + k % 4] = k < q->k ? (uint8_t)(src[k * hw] + 128) : 128;
    }
}

static void pack_b(const q8_run *r, const int8_t *in, size_t j0, size_t ncols, uint8_t *bp) {
    const fa_nn_q8 *q = r->q;
#if Q8_HAVE_X86
    if (q->plain && q->isa == FA_NN_Q8_VNNI) {
        pack_plain_vnni(in + j0, q->n_cols, q->k, q->k4, ncols, bp);
        return;
    }
    if (q->plain && q->isa != FA_NN_Q8_GENERIC && ncols >= Q8_NR) {
        size_t hw = q->n_cols, full = q->k / 4, panels = ncols / Q8_NR;
        for (size_t pnl = 0; pnl < panels; pnl++) {
            uint8_t *panel = bp + pnl * q->k4 * 4 * Q8_NR;
            for (size_t k4 = 0; k4 < full; k4++)
                pack4x32_avx2(in + k4 * 4 * hw + j0 + pnl * Q8_NR, hw, panel + k4 * 4 * Q8_NR);
        }
        if (full < q->k4) pack_b_plain(q, in, j0, panels * Q8_NR, bp, full);
        if (panels * Q8_NR < ncols)
            pack_b_plain(q, in, j0 + panels * Q8_NR, ncols - panels * Q8_NR, bp + panels * q->k4 * 4 * Q8_NR,
                         0);
        return;
    }
#endif
    if (q->plain)
        pack_b_plain(q, in, j0, ncols, bp, 0);
    else
        pack_b_checked(q, in, j0, ncols, bp);
}

#if Q8_HAVE_AMX
/* A GEMM work item on AMX: pack the chunk (panels of k4p groups), then
 * per 32 rows and 32 columns one amx_block and its output stage. */
static void amx_item(const q8_run *r, size_t item, unsigned char *slot) {
    const fa_nn_q8 *q = r->q;
    const fa_nn_conv_params *p = &q->p;
    size_t chunk = item % r->chunks, ig = item / r->chunks;
    size_t g = ig % (size_t)p->groups, b = ig / (size_t)p->groups;
    size_t cin_g = (size_t)(p->c_in / p->groups), hw_in = (size_t)p->h_in * (size_t)p->w_in;
    size_t j0 = chunk * r->nc, ncols = q->n_cols - j0 < r->nc ? q->n_cols - j0 : r->nc;
    size_t kb = q->k4p * 4, panel_bytes = kb * Q8_NR;
    uint8_t *bp = slot;
    int32_t *cbuf = (int32_t *)(slot + round_up(kb * q->nc_max, 64));
    pack_plain_vnni(r->in + (b * (size_t)p->c_in + g * cin_g) * hw_in + j0, q->n_cols, q->k, q->k4p, ncols,
                    bp);
    size_t out_base = (b * (size_t)p->c_out + g * q->m) * q->n_cols + j0;
    for (size_t mb = 0; mb < q->m; mb += 32) {
        size_t rowp[32];
        int mr = (int)(q->m - mb < 32 ? q->m - mb : 32);
        for (int k = 0; k < mr; k++) {
            size_t row = mb + (size_t)k;
            rowp[k] = (g * q->m_panels + row / Q8_MR) * Q8_MR + row % Q8_MR;
        }
        const int8_t *a = q->wa + (g * q->amx_mp + mb) * kb;
        amx_out o = {.comp = q->comp,
                     .mscale = q->mscale,
                     .bias = q->bias,
                     .rowp = rowp,
                     .ldc = q->n_cols,
                     .mr = mr,
                     .act = p->act,
                     .alpha = p->alpha,
                     .inv = q->inv_out};
        /* block j's tiles run while block j - 32 goes through the stage (two buffers) */
        for (size_t j = 0; j < ncols + Q8_NR; j += Q8_NR) {
            if (j < ncols)
                amx_block(a, kb, bp + (j / Q8_NR) * panel_bytes, q->k4p, cbuf + (j / Q8_NR % 2) * 1024);
            if (j == 0) continue;
            size_t jp = j - Q8_NR, at = out_base + mb * q->n_cols + jp;
            o.outf = r->outf ? r->outf + at : NULL;
            o.outq = r->outq ? r->outq + at : NULL;
            o.nr = (int)(ncols - jp < Q8_NR ? ncols - jp : Q8_NR);
            amx_stage(cbuf + (jp / Q8_NR % 2) * 1024, &o);
        }
    }
}
#endif /* Q8_HAVE_AMX */

static void gemm_item(const q8_run *r, size_t item, unsigned char *slot) {
    const fa_nn_q8 *q = r->q;
    const fa_nn_conv_params *p = &q->p;
    size_t chunk = item % r->chunks, ig = item / r->chunks;
    size_t g = ig % (size_t)p->groups, b = ig / (size_t)p->groups;
    size_t cin_g = (size_t)(p->c_in / p->groups), hw_in = (size_t)p->h_in * (size_t)p->w_in;
    size_t j0 = chunk * r->nc, ncols = q->n_cols - j0 < r->nc ? q->n_cols - j0 : r->nc;
    uint8_t *bp = slot;
    int32_t *acc = (int32_t *)(slot + round_up(q->k4 * 4 * q->nc_max, 64));
    pack_b(r, r->in + (b * (size_t)p->c_in + g * cin_g) * hw_in, j0, ncols, bp);
    size_t out_base = (b * (size_t)p->c_out + g * q->m) * q->n_cols;
    for (size_t mp = 0; mp < q->m_panels; mp++) {
        size_t prow0 = (g * q->m_panels + mp) * Q8_MR;
        const int8_t *a = q->w + prow0 * q->k4 * 4;
        int mr = (int)(q->m - mp * Q8_MR < Q8_MR ? q->m - mp * Q8_MR : Q8_MR);
        if (r->f.panel) {
            size_t at0 = out_base + mp * Q8_MR * q->n_cols + j0;
            q8_dst d = {.comp = q->comp + prow0,
                        .mscale = q->mscale + prow0,
                        .bias = q->bias + prow0,
                        .outf = r->outf ? r->outf + at0 : NULL,
                        .outq = r->outq ? r->outq + at0 : NULL,
                        .ldc = q->n_cols,
                        .mr = mr,
                        .act = p->act,
                        .alpha = p->alpha,
                        .inv = q->inv_out};
            if (r->f.panel(a, bp, q->k4, ncols, &d)) continue;
        }
        for (size_t j = 0; j < ncols; j += Q8_NR) {
            size_t nr = ncols - j < Q8_NR ? ncols - j : Q8_NR;
            const uint8_t *bj = bp + (j / Q8_NR) * q->k4 * 4 * Q8_NR;
            size_t at0 = out_base + mp * Q8_MR * q->n_cols + j0 + j;
            if (r->f.tile_out) {
                q8_dst d = {.comp = q->comp + prow0,
                            .mscale = q->mscale + prow0,
                            .bias = q->bias + prow0,
                            .outf = r->outf ? r->outf + at0 : NULL,
                            .outq = r->outq ? r->outq + at0 : NULL,
                            .ldc = q->n_cols,
                            .mr = mr,
                            .nr = (int)nr,
                            .act = p->act,
                            .alpha = p->alpha,
                            .inv = q->inv_out};
                r->f.tile_out(a, bj, q->k4, acc, &d);
                continue;
            }
            r->f.tile(a, bj, q->k4, acc);
            for (int row = 0; row < mr; row++) {
                size_t prow = prow0 + (size_t)row;
                size_t at = out_base + (mp * Q8_MR + (size_t)row) * q->n_cols + j0 + j;
                r->f.out_stage(acc + row * Q8_NR, nr, q->comp[prow], q->mscale[prow], q->bias[prow], p->act,
                               p->alpha, q->inv_out, r->outf ? r->outf + at : NULL,
                               r->outq ? r->outq + at : NULL);
            }
        }
    }
}

/* Depthwise channel c of image b: its filter, geometry and output stage
 * (the plane and its pitch are the caller's: none on the VBMI path). */
static q8_dw dw_job(const q8_run *r, size_t b, size_t c) {
    const fa_nn_q8 *q = r->q;
    const fa_nn_conv_params *p = &q->p;
    size_t out_base = (b * (size_t)p->c_out + c) * q->n_cols;
    return (q8_dw){.w = q->w + c * q->k,
                   .kh = p->kh,
                   .kw = p->kw,
                   .d_h = p->dil_h,
                   .d_w = p->dil_w,
                   .s_h = p->stride_h,
                   .s_w = p->stride_w,
                   .h_out = p->h_out,
                   .w_out = p->w_out,
                   .mscale = q->mscale[c],
                   .bias = q->bias[c],
                   .alpha = p->alpha,
                   .inv = q->inv_out,
                   .act = p->act,
                   .outf = r->outf ? r->outf + out_base : NULL,
                   .outq = r->outq ? r->outq + out_base : NULL};
}

/* A depthwise channel on the VBMI kernel, straight from the input. */
static void dw_item_vbmi(const q8_run *r, size_t b, size_t c) {
#if Q8_HAVE_X86
    const fa_nn_q8 *q = r->q;
    const fa_nn_conv_params *p = &q->p;
    size_t hw = (size_t)p->h_in * (size_t)p->w_in;
    size_t per = (size_t)p->kh * (size_t)q->dw_groups;
    q8_dwd d = {.src = r->in + (b * (size_t)p->c_in + c) * hw,
                .taps = q->dw_taps + c * per,
                .h_in = p->h_in,
                .w_in = p->w_in,
                .pad_t = p->pad_t,
                .pad_l = p->pad_l,
                .groups = q->dw_groups,
                .comp = q->comp[c],
                .o = dw_job(r, b, c)};
    dw_direct_vbmi(&d);
#else
    (void)r, (void)b, (void)c;
#endif
}

static void dw_item(const q8_run *r, size_t item, unsigned char *slot) {
    const fa_nn_q8 *q = r->q;
    const fa_nn_conv_params *p = &q->p;
    size_t c = item % (size_t)p->c_out, b = item / (size_t)p->c_out;
    size_t hw = (size_t)p->h_in * (size_t)p->w_in, pitch = q->plane_pitch;
    int8_t *plane = (int8_t *)slot;
    int32_t *acc = (int32_t *)(slot + round_up(q->plane_rows * pitch, 64));
    const int8_t *src = r->in + (b * (size_t)p->c_in + c) * hw;
    if (q->dw_vbmi) {
        dw_item_vbmi(r, b, c);
        return;
    }
    memset(plane, 0, q->plane_rows * pitch);
    for (int y = 0; y < p->h_in; y++)
        memcpy(plane + ((size_t)p->pad_t + (size_t)y) * pitch + (size_t)p->pad_l,
               src + (size_t)y * (size_t)p->w_in, (size_t)p->w_in);
    q8_dw j = dw_job(r, b, c);
    j.plane = plane, j.pitch = pitch;
    if (r->f.dw_plane && r->f.dw_plane(&j)) return;
    for (int oy = 0; oy < p->h_out; oy++) {
        const int8_t *base = plane + (size_t)oy * (size_t)p->stride_h * pitch;
        r->f.dw_row(base, pitch, q->w + c * q->k, p->kh, p->kw, p->dil_h, p->dil_w, p->stride_w, p->w_out,
                    acc);
        size_t at = (size_t)oy * (size_t)p->w_out;
        r->f.out_stage(acc, (size_t)p->w_out, 0, q->mscale[c], q->bias[c], p->act, p->alpha, q->inv_out,
                       j.outf ? j.outf + at : NULL, j.outq ? j.outq + at : NULL);
    }
}

static void q8_task(void *arg, size_t t) {
    const q8_run *r = arg;
    unsigned char *slot = r->slots + t * r->q->slot_bytes;
    size_t lo = t * r->items / r->tasks, hi = (t + 1) * r->items / r->tasks;
#if Q8_HAVE_AMX
    if (r->q->amx && lo < hi) {
        amx_begin();
        for (size_t item = lo; item < hi; item++)
            amx_item(r, item, slot);
        amx_end();
        return;
    }
#endif
    for (size_t item = lo; item < hi; item++) {
        if (r->q->depthwise)
            dw_item(r, item, slot);
        else
            gemm_item(r, item, slot);
    }
}

/* Columns per chunk: nc_max, halved while there are fewer items than threads. */
static void plan_items(q8_run *r, size_t threads) {
    const fa_nn_q8 *q = r->q;
    if (q->depthwise) {
        r->items = (size_t)q->p.n * (size_t)q->p.c_out;
        return;
    }
    size_t images = (size_t)q->p.n * (size_t)q->p.groups;
    r->nc = q->nc_max;
    while (r->nc > Q8_NR && images * ((q->n_cols + r->nc - 1) / r->nc) < threads)
        r->nc = round_up(r->nc / 2, Q8_NR);
    r->chunks = (q->n_cols + r->nc - 1) / r->nc;
    r->items = images * r->chunks;
}

int fa_nn_q8_run(const fa_nn_q8 *q, const void *in, void *out, void *workspace, const fa_nn_parallel *par) {
    size_t threads = par && par->for_each && par->threads > 1 ? (size_t)par->threads : 1;
    q8_run r = {.q = q, .f = fns_for(q->isa), .slots = (unsigned char *)workspace + q->in_bytes};
    if (q->in_s8) {
        r.in = in;
    } else {
        const fa_nn_conv_params *p = &q->p;
        size_t n = (size_t)p->n * (size_t)p->c_in * (size_t)p->h_in * (size_t)p->w_in;
        r.f.quantise(in, n, 1.0f / q->in_scale, workspace);
        r.in = workspace;
    }
    if (q->out_s8)
        r.outq = out;
    else
        r.outf = out;
    plan_items(&r, threads);
    r.tasks = r.items < threads ? r.items : threads;
    if (r.tasks <= 1) {
        r.tasks = 1;
        q8_task(&r, 0);
    } else {
        par->for_each(par->ud, r.tasks, q8_task, &r);
    }
    return 0;
}
