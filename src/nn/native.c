/*
 * native.c - the native backend of src/nn/kernels.h: the choice of
 * instruction set and of kernel per convolution, weight packing at
 * prepare, and the run-time dispatch and work splitting over the kernels
 * of native_gemm.c, native_dw.c and native_stem.c (parameter checks:
 * conv_check.c).
 *
 * Three paths cover every convolution:
 *   - depthwise (c_in / groups == 1): a direct kernel per channel over a
 *     zero-padded copy of the input plane, split by column phase for
 *     strided filters so every tap is a contiguous load (native_dw.c);
 *     with AVX-512, stride-1 3x3 and 5x5 and stride-2 3x3 filters read
 *     the input channel in place instead (masked loads, no copy;
 *     FA_NN_DW_DIRECT=0 at prepare turns that off, for measuring the
 *     copy's cost: FastestDet 1 thread, cpu/ORT about 0.81 -> 0.77);
 *   - stems, AVX-512 only (native_stem.c): filters over <= 4 input
 *     channels (the 3x3 stride-2 convolution on the RGB input) read the
 *     NCHW input in place, each input vector feeding 24 output channels
 *     held in registers, with no im2col at all;
 *   - everything else: per (image, group) a GEMM C[M x N] = A[M x K] *
 *     B[K x N] with M = c_out / groups, K = c_in / groups * kh * kw,
 *     N = h_out * w_out. A is the weights, packed once at prepare into
 *     mr-row panels (6 rows for AVX2 and portable C, 12 for AVX-512); B is
 *     the im2col of the input, built directly in packed 16-column panels
 *     into the workspace, a chunk of columns at a time sized to stay in L2
 *     (for a 1x1 stride-1 convolution, the pointwise hot case, the
 *     "im2col" is a plain copy). C is the NCHW output itself. With
 *     AVX-512, two adjacent B panels are multiplied at once (12 x 32
 *     tiles), and a 1x1 stride-1 convolution with few input channels (K
 *     <= 32, or K <= 96 over <= 512 pixels) reads B in place from the
 *     NCHW input instead of packing it: few short row streams, where
 *     packing cost more than it saved (a wider K or a larger plane got
 *     slower in place: many long streams).
 * Measured on NanoDet-m / FastestDet / yolo-fastest layers (bench_conv
 * --model): the AVX-512 tiles run the pointwise GEMMs at 100-150 GFLOP/s
 * against 50-60 for the AVX2 tile. A direct kernel for 1x1 convolutions
 * with <= 16 input channels (24 output channels in registers, no GEMM)
 * was tried and dropped: the in-place GEMM beat it on every such layer
 * of the three models (yolo-fastest 4->24 @160x160: 0.20 vs 0.28 ms).
 *
 * Instruction set: chosen at prepare (AVX-512 F/VL/DQ/BW, else AVX2 + FMA
 * + F16C, else portable C; FA_NN_NATIVE_ISA=avx2 or =generic caps it) and
 * kept in the prepared op, so nothing global changes at run time. The
 * AVX2 and AVX-512 paths sum every output's products in the same order
 * with FMAs (bias first, then k in (ci, ky, kx) order), so they give
 * bitwise equal results (test_native.c checks it).
 *
 * FP16: the packed weights are stored as IEEE half (rounded to nearest
 * even at prepare) and converted back to float per panel at run into the
 * workspace, so the arithmetic stays fp32 (GEMM and depthwise paths only).
 *
 * INT8: handed to native_int8.c (int8 weights per output channel, int32
 * accumulation with AVX-512 VNNI / AVX2 / portable kernels); this file
 * keeps the checks and forwards run, workspace, bytes and free.
 *
 * Threads: the work items ((image, group, column chunk) for the GEMM,
 * (image, channel) for depthwise, (image, block of output rows) for the
 * stem kernel) are cut into at most par->threads contiguous ranges,
 * one per for_each index, and range t uses workspace slot t: no locks, no
 * atomics, and conv_workspace is exactly threads slots. The par given to
 * conv_run must therefore have no more threads than the one given to
 * conv_workspace (kernels.h says so). Results are bitwise the same for
 * any thread count: each output sums its K terms in the same order
 * whatever the split.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/kernels.h"
#include "nn/native_kern.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#define NATIVE_B_CHUNK_FLOATS 49152u  /* im2col chunk target: 192 KiB, about half a typical L2 */
#define NATIVE_NC_MAX 512u            /* most columns per chunk */

typedef enum native_isa { NATIVE_GENERIC = 0, NATIVE_AVX2, NATIVE_AVX512 } native_isa;

#define STEM_MAX_CIN 4 /* the stem kernel takes convs with at most this many input channels */
#define STEM_ROWS 16   /* output rows per work item of the stem kernel */
/* 1x1 GEMMs read B in place (AVX-512) with at most INPLACE_ANY_N_K input
 * channels, or at most INPLACE_MAX_K with at most INPLACE_MAX_N pixels:
 * there the K row streams stay few and short enough that reading them
 * beats packing (measured, 1 thread: 24->24 @44x44 0.033 -> 0.024 ms,
 * 48->48 @22x22 0.024 -> 0.022; 116->116 @26x26 got slower in place). */
#define INPLACE_ANY_N_K 32
#define INPLACE_MAX_K 96
#define INPLACE_MAX_N 512

struct fa_nn_conv {
    fa_nn_conv_params p;
    fa_nn_precision prec;
    native_isa isa;
    bool depthwise;
    bool stem;            /* the stem kernel (native_stem.c) instead of the GEMM */
    bool b_inplace;       /* gemm: B read in place from the NCHW input (small 1x1), not packed */
    size_t m, k, n_cols;  /* per group: c_out / groups, K, h_out * w_out */
    size_t mr;            /* rows of a weight panel: FA_NN_MR, or FA_NN_MR512 with AVX-512 */
    size_t m_panels;      /* per group, ceil(m / mr) */
    size_t w_count;       /* floats of packed weights */
    float *w32;           /* packed weights (fp32), or NULL */
    uint16_t *w16;        /* packed weights (fp16), or NULL */
    float *bias;          /* gemm: per panel, MR each, zero padded; depthwise: c_out */
    size_t nc_max;        /* gemm: most columns per chunk */
    size_t plane_rows, plane_pitch, plane_seg; /* depthwise: padded plane (native_kern.h) */
    size_t *dw_off;       /* depthwise: tap offsets [k] */
    bool dw_direct;       /* depthwise: input read in place (fa_nn_native_dw_direct_avx512), no plane */
    size_t slot_floats;   /* workspace floats per thread slot */
    fa_nn_q8 *q8;         /* the int8 op (native_int8.c), or NULL */
};

/* ---- CPU features ---- */

#if defined(__x86_64__) || defined(__i386__)

/* (clang's __builtin_cpu_supports knows neither "f16c" nor "avx512vnni") */
static bool cpu_has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

static bool cpu_has_avx512vnni(void) {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 11));
}

/* What the AVX2 kernels need: AVX2, FMA and F16C. */
static bool cpu_has_avx2_set(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
}

/* What the AVX-512 fp32 kernels need besides the AVX2 set. */
static bool cpu_has_avx512_set(void) {
    return cpu_has_avx2_set() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
}

#else

static bool cpu_has_avx512vnni(void) { return false; }
static bool cpu_has_avx2_set(void) { return false; }
static bool cpu_has_avx512_set(void) { return false; }

#endif

/* Contract in kernels.h. The string names what the native kernels use. */
const char *fa_nn_cpu_features(void) {
    if (!cpu_has_avx2_set()) return "";
    return cpu_has_avx512vnni() ? "avx2 fma f16c avx512vnni" : "avx2 fma f16c";
}

/* The best the CPU has, capped by FA_NN_NATIVE_ISA (generic, avx2). */
static native_isa pick_isa(void) {
    const char *want = getenv("FA_NN_NATIVE_ISA");
    if (want && strcmp(want, "generic") == 0) return NATIVE_GENERIC;
    if (!cpu_has_avx2_set()) return NATIVE_GENERIC;
    if (want && strcmp(want, "avx2") == 0) return NATIVE_AVX2;
    return cpu_has_avx512_set() ? NATIVE_AVX512 : NATIVE_AVX2;
}

/* The int8 kernels: VNNI when the CPU has it (and AVX-512 BW), else AVX2,
 * capped by FA_NN_NATIVE_ISA (generic, avx2). */
static int pick_q8_isa(void) {
    if (pick_isa() == NATIVE_GENERIC) return FA_NN_Q8_GENERIC;
    const char *want = getenv("FA_NN_NATIVE_ISA");
    if (want && strcmp(want, "avx2") == 0) return FA_NN_Q8_AVX2;
#if defined(__x86_64__) || defined(__i386__)
    if (cpu_has_avx512vnni() && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return FA_NN_Q8_VNNI;
#endif
    return FA_NN_Q8_AVX2;
}

/* ---- parameter checks (the shape's: conv_check.c) ---- */

static int bad_field(const char *field, const char *expected, long got) {
    return fa_err_set(FA_EINVAL, "native conv: field '%s': expected %s, got %ld", field, expected, got);
}

static int check_params(const fa_nn_conv_params *p, fa_nn_precision prec, const float *weights) {
    if (fa_nn_conv_check("native", p) < 0) return FA_EINVAL;
    if (!weights) return fa_err_set(FA_EINVAL, "native conv: field 'weights': expected a pointer, got NULL");
    if (prec != FA_NN_FP32 && prec != FA_NN_FP16 && prec != FA_NN_INT8)
        return bad_field("prec", "FP32, INT8 or FP16", (long)prec);
    return 0;
}

/* ---- prepare ---- */

static size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

/* Packs the fp32 weights of every group into mr-row panels: panel (g, mp)
 * holds a[k * mr + r] = w[g * m + mp * mr + r][k], zero for rows past m. */
static void pack_weights(const fa_nn_conv *c, const float *w, float *dst) {
    size_t groups = (size_t)c->p.groups, mr = c->mr;
    for (size_t g = 0; g < groups; g++)
        for (size_t mp = 0; mp < c->m_panels; mp++, dst += c->k * mr)
            for (size_t r = 0; r < mr; r++) {
                size_t row = mp * mr + r;
                const float *src = w + (g * c->m + row) * c->k;
                for (size_t k = 0; k < c->k; k++) dst[k * mr + r] = row < c->m ? src[k] : 0.0f;
            }
}

static void pack_bias(const fa_nn_conv *c, const float *bias, float *dst) {
    for (size_t g = 0; g < (size_t)c->p.groups; g++)
        for (size_t row = 0; row < c->m_panels * c->mr; row++)
            *dst++ = bias && row < c->m ? bias[g * c->m + row] : 0.0f;
}

/* The stem kernel (native_stem.c) takes filters of >= 2x2 over <= 4
 * input channels, stride_w <= 2, undilated columns, with AVX-512 and fp32
 * weights. */
static bool pick_stem(const fa_nn_conv *c) {
    const fa_nn_conv_params *p = &c->p;
    return c->isa == NATIVE_AVX512 && c->prec == FA_NN_FP32 && p->groups == 1 && p->c_in <= STEM_MAX_CIN &&
           p->kh * p->kw >= 4 && p->stride_w <= 2 && p->dil_w == 1 && p->kw <= FA_NN_STEM_KW_MAX;
}

/* The padded, phase-split plane of one input channel (native_kern.h). */
static void plan_plane(fa_nn_conv *c) {
    const fa_nn_conv_params *p = &c->p;
    c->plane_rows = (size_t)p->h_in + (size_t)p->pad_t + (size_t)p->pad_b;
    size_t s = (size_t)p->stride_w, width = (size_t)p->w_in + (size_t)p->pad_l + (size_t)p->pad_r;
    size_t need = round_up((size_t)p->w_out, 16) + (size_t)(p->kw - 1) * (size_t)p->dil_w / s;
    size_t phase = (width + s - 1) / s;
    c->plane_seg = round_up(phase > need ? phase : need, 16);
    c->plane_pitch = s * c->plane_seg;
}

static void plan_sizes(fa_nn_conv *c) {
    const fa_nn_conv_params *p = &c->p;
    c->depthwise = p->c_in / p->groups == 1;
    c->m = (size_t)(p->c_out / p->groups);
    c->k = (size_t)(p->c_in / p->groups) * (size_t)p->kh * (size_t)p->kw;
    c->n_cols = (size_t)p->h_out * (size_t)p->w_out;
    c->mr = c->isa == NATIVE_AVX512 ? FA_NN_MR512 : FA_NN_MR;
    c->m_panels = (c->m + c->mr - 1) / c->mr;
    c->stem = !c->depthwise && pick_stem(c);
    size_t half = c->prec == FA_NN_FP16;
    if (c->depthwise) {
        c->w_count = (size_t)p->c_out * c->k;
        plan_plane(c);
        c->slot_floats = c->plane_rows * c->plane_pitch + (half ? c->k : 0);
    } else if (c->stem) {
        c->w_count = ((size_t)p->c_out + FA_NN_DIRECT_OC - 1) / FA_NN_DIRECT_OC * FA_NN_DIRECT_OC * c->k;
        c->slot_floats = 16;
    } else {
        bool one = p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_t == 0 &&
                   p->pad_l == 0 && p->pad_b == 0 && p->pad_r == 0;
        bool few = c->k <= INPLACE_ANY_N_K || (c->n_cols <= INPLACE_MAX_N && c->k <= INPLACE_MAX_K);
        c->b_inplace = one && c->isa == NATIVE_AVX512 && c->prec == FA_NN_FP32 && few;
        c->w_count = (size_t)p->groups * c->m_panels * c->mr * c->k;
        size_t nc = NATIVE_B_CHUNK_FLOATS / c->k / FA_NN_NR * FA_NN_NR;
        nc = nc < FA_NN_NR ? FA_NN_NR : nc > NATIVE_NC_MAX ? NATIVE_NC_MAX : nc;
        c->nc_max = nc < round_up(c->n_cols, FA_NN_NR) ? nc : round_up(c->n_cols, FA_NN_NR);
        c->slot_floats = (c->b_inplace ? 16 : c->k * c->nc_max) + (half ? c->k * c->mr : 0);
    }
    c->slot_floats = round_up(c->slot_floats, 16); /* slots 64-byte apart */
}

/* The stem kernel's weights (blocks of FA_NN_DIRECT_OC channels,
 * tap-major, zero past c_out) and bias. 0 or FA_ENOMEM. */
static int prepare_stem(fa_nn_conv *c, const float *w, const float *bias) {
    const fa_nn_conv_params *p = &c->p;
    c->w32 = calloc(c->w_count, sizeof(float));
    c->bias = calloc(c->w_count / c->k, sizeof(float));
    if (!c->w32 || !c->bias) return fa_err_set(FA_ENOMEM, "native conv: out of memory for weights");
    for (size_t oc = 0; oc < (size_t)p->c_out; oc++) {
        size_t b = oc / FA_NN_DIRECT_OC, a = oc % FA_NN_DIRECT_OC;
        c->bias[oc] = bias ? bias[oc] : 0.0f;
        for (size_t t = 0; t < c->k; t++) c->w32[(b * c->k + t) * FA_NN_DIRECT_OC + a] = w[oc * c->k + t];
    }
    return 0;
}

/* Stores the weights (already packed for the GEMM, as given for depthwise)
 * in the op's precision. Returns 0 or FA_ENOMEM. */
static int store_weights(fa_nn_conv *c, const float *packed) {
    if (c->prec == FA_NN_FP32) {
        c->w32 = malloc(c->w_count * sizeof(float));
        if (!c->w32) return fa_err_set(FA_ENOMEM, "native conv: out of memory for weights");
        memcpy(c->w32, packed, c->w_count * sizeof(float));
        return 0;
    }
    c->w16 = malloc(c->w_count * sizeof(uint16_t));
    if (!c->w16) return fa_err_set(FA_ENOMEM, "native conv: out of memory for weights");
    for (size_t i = 0; i < c->w_count; i++) c->w16[i] = fa_nn_native_f32_to_f16(packed[i]);
    return 0;
}

static void conv_free(fa_nn_conv *c) {
    if (!c) return;
    free(c->w32);
    free(c->w16);
    free(c->bias);
    free(c->dw_off);
    fa_nn_q8_free(c->q8);
    free(c);
}

/* The depthwise kernel's parameters that do not change per channel. */
static fa_nn_dw dw_layout(const fa_nn_conv *c) {
    const fa_nn_conv_params *p = &c->p;
    return (fa_nn_dw){.off = c->dw_off, .pitch = c->plane_pitch, .seg = c->plane_seg, .alpha = p->alpha,
                      .h_out = p->h_out, .w_out = p->w_out, .kh = p->kh, .kw = p->kw, .s_h = p->stride_h,
                      .s_w = p->stride_w, .d_h = p->dil_h, .d_w = p->dil_w, .h_in = p->h_in,
                      .w_in = p->w_in, .pad_t = p->pad_t, .pad_l = p->pad_l, .act = p->act};
}

/* Whether the depthwise op c reads its input in place: AVX-512, a shape
 * the direct kernel takes, and FA_NN_DW_DIRECT not "0". */
static bool pick_dw_direct(const fa_nn_conv *c) {
    const char *want = getenv("FA_NN_DW_DIRECT");
    if (c->isa != NATIVE_AVX512 || (want && strcmp(want, "0") == 0)) return false;
    fa_nn_dw d = dw_layout(c);
    return fa_nn_native_dw_direct_fits(&d) != 0;
}

static int prepare_weights(fa_nn_conv *c, const float *weights, const float *bias) {
    if (c->stem) return prepare_stem(c, weights, bias);
    size_t nbias = c->depthwise ? (size_t)c->p.c_out : (size_t)c->p.groups * c->m_panels * c->mr;
    c->bias = malloc(nbias * sizeof(float));
    if (!c->bias) return fa_err_set(FA_ENOMEM, "native conv: out of memory for bias");
    if (c->depthwise) {
        for (size_t i = 0; i < nbias; i++) c->bias[i] = bias ? bias[i] : 0.0f;
        if (!(c->dw_off = malloc(c->k * sizeof(size_t))))
            return fa_err_set(FA_ENOMEM, "native conv: out of memory for weights");
        fa_nn_dw d = dw_layout(c);
        fa_nn_native_dw_offsets(&d, c->dw_off);
        c->dw_direct = pick_dw_direct(c);
        return store_weights(c, weights);
    }
    pack_bias(c, bias, c->bias);
    float *packed = malloc(c->w_count * sizeof(float));
    if (!packed) return fa_err_set(FA_ENOMEM, "native conv: out of memory for packing");
    pack_weights(c, weights, packed);
    if (c->prec == FA_NN_FP32) {
        c->w32 = packed; /* kept as is */
        return 0;
    }
    int rc = store_weights(c, packed);
    free(packed);
    return rc;
}

static fa_nn_conv *conv_prepare(const fa_nn_conv_params *p, fa_nn_precision prec, const float *weights,
                                const float *bias, const fa_nn_int8_scales *scales) {
    if (check_params(p, prec, weights) < 0) return NULL;
    fa_nn_conv *c = calloc(1, sizeof *c);
    if (!c) {
        fa_err_set(FA_ENOMEM, "native conv: out of memory");
        return NULL;
    }
    c->p = *p;
    c->prec = prec;
    if (prec == FA_NN_INT8) {
        c->q8 = fa_nn_q8_prepare(p, weights, bias, scales, pick_q8_isa());
        if (!c->q8) {
            conv_free(c);
            return NULL;
        }
        return c;
    }
    c->isa = pick_isa();
    plan_sizes(c);
    if (prepare_weights(c, weights, bias) < 0) {
        conv_free(c);
        return NULL;
    }
    return c;
}

/* ---- run ---- */

static size_t thread_count(const fa_nn_parallel *par) {
    return par && par->for_each && par->threads > 1 ? (size_t)par->threads : 1;
}

static size_t conv_workspace(const fa_nn_conv *c, const fa_nn_parallel *par) {
    if (c && c->q8) return fa_nn_q8_workspace(c->q8, thread_count(par));
    return c ? c->slot_floats * thread_count(par) * sizeof(float) : 0;
}

static size_t conv_bytes(const fa_nn_conv *c) {
    if (!c) return 0;
    if (c->q8) return fa_nn_q8_bytes(c->q8);
    size_t wsize = c->prec == FA_NN_FP16 ? sizeof(uint16_t) : sizeof(float);
    if (c->stem) return c->w_count * wsize + c->w_count / c->k * sizeof(float);
    size_t nbias = c->depthwise ? (size_t)c->p.c_out : (size_t)c->p.groups * c->m_panels * c->mr;
    return c->w_count * wsize + nbias * sizeof(float);
}

typedef struct run_ctx {
    const fa_nn_conv *c;
    const float *in;
    float *out;
    float *ws;
    size_t items, tasks;
    size_t nc, chunks; /* gemm: columns per chunk, chunks per (image, group) */
} run_ctx;

static void f16_to_f32(const fa_nn_conv *c, const uint16_t *src, float *dst, size_t n) {
    if (c->isa != NATIVE_GENERIC)
        fa_nn_native_f16_to_f32_avx2(src, dst, n);
    else
        fa_nn_native_f16_to_f32_generic(src, dst, n);
}

/* The input rows and columns (before adding the filter taps) of the output
 * columns [col0, col0 + nj) of one packed panel. */
typedef struct panel_pos {
    long iy0[FA_NN_NR], ix0[FA_NN_NR];
    size_t nj;
} panel_pos;

/* A 1x1 stride-1 unpadded panel: plain copies of nj columns per k. */
static void pack_panel_plain(const fa_nn_conv *c, const float *in, size_t hw, size_t col0, size_t nj,
                             float *bp) {
    if (nj == FA_NN_NR) { /* fixed-size copies the compiler inlines */
        for (size_t k = 0; k < c->k; k++)
            memcpy(bp + k * FA_NN_NR, in + k * hw + col0, FA_NN_NR * sizeof(float));
        return;
    }
    for (size_t k = 0; k < c->k; k++) {
        memcpy(bp + k * FA_NN_NR, in + k * hw + col0, nj * sizeof(float));
        memset(bp + k * FA_NN_NR + nj, 0, (FA_NN_NR - nj) * sizeof(float));
    }
}

/* True when all NR columns lie on one output row and every tap of every
 * column falls inside the input, so no bounds check is needed. */
static bool panel_interior(const fa_nn_conv_params *p, const panel_pos *pos) {
    long last_y = pos->iy0[0] + (long)(p->kh - 1) * p->dil_h;
    long last_x = pos->ix0[FA_NN_NR - 1] + (long)(p->kw - 1) * p->dil_w;
    return pos->nj == FA_NN_NR && pos->iy0[0] == pos->iy0[FA_NN_NR - 1] && pos->iy0[0] >= 0 &&
           last_y < p->h_in && pos->ix0[0] >= 0 && last_x < p->w_in;
}

static void pack_panel_interior(const fa_nn_conv *c, const float *in, const panel_pos *pos, float *bp) {
    const fa_nn_conv_params *p = &c->p;
    size_t hw = (size_t)p->h_in * (size_t)p->w_in, s = (size_t)p->stride_w;
    size_t cin_g = (size_t)(p->c_in / p->groups);
    const float *base = in + (size_t)pos->iy0[0] * (size_t)p->w_in + (size_t)pos->ix0[0];
    for (size_t ci = 0; ci < cin_g; ci++)
        for (int ky = 0; ky < p->kh; ky++) {
            const float *row = base + ci * hw + (size_t)ky * (size_t)p->dil_h * (size_t)p->w_in;
            for (int kx = 0; kx < p->kw; kx++, bp += FA_NN_NR) {
                const float *src = row + (size_t)kx * (size_t)p->dil_w;
                for (size_t q = 0; q < FA_NN_NR; q++) bp[q] = src[q * s];
            }
        }
}

static void pack_panel_checked(const fa_nn_conv *c, const float *in, const panel_pos *pos, float *bp) {
    const fa_nn_conv_params *p = &c->p;
    size_t hw = (size_t)p->h_in * (size_t)p->w_in, cin_g = (size_t)(p->c_in / p->groups);
    for (size_t ci = 0; ci < cin_g; ci++)
        for (int ky = 0; ky < p->kh; ky++)
            for (int kx = 0; kx < p->kw; kx++, bp += FA_NN_NR) {
                const float *plane = in + ci * hw;
                for (size_t q = 0; q < FA_NN_NR; q++) {
                    long iy = q < pos->nj ? pos->iy0[q] + (long)ky * p->dil_h : -1;
                    long ix = q < pos->nj ? pos->ix0[q] + (long)kx * p->dil_w : -1;
                    bool inside = iy >= 0 && iy < p->h_in && ix >= 0 && ix < p->w_in;
                    bp[q] = inside ? plane[(size_t)iy * (size_t)p->w_in + (size_t)ix] : 0.0f;
                }
            }
}

/* Packs im2col columns [j0, j0 + ncols) of one (image, group) input into
 * 16-column panels: bp[panel][k][j], zero outside the input and past ncols.
 * The k order (ci, ky, kx) is the weights' own, so A needs no reordering. */
static void pack_b(const fa_nn_conv *c, const float *in, size_t j0, size_t ncols, float *bp) {
    const fa_nn_conv_params *p = &c->p;
    size_t hw = (size_t)p->h_in * (size_t)p->w_in;
    bool plain = p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_t == 0 &&
                 p->pad_l == 0 && p->pad_b == 0 && p->pad_r == 0;
    for (size_t j = 0; j < ncols; j += FA_NN_NR, bp += c->k * FA_NN_NR) {
        panel_pos pos = {.nj = ncols - j < FA_NN_NR ? ncols - j : FA_NN_NR};
        if (plain) {
            pack_panel_plain(c, in, hw, j0 + j, pos.nj, bp);
            continue;
        }
        for (size_t q = 0; q < FA_NN_NR; q++) {
            size_t col = j0 + j + (q < pos.nj ? q : pos.nj - 1);
            pos.iy0[q] = (long)(col / (size_t)p->w_out) * p->stride_h - p->pad_t;
            pos.ix0[q] = (long)(col % (size_t)p->w_out) * p->stride_w - p->pad_l;
        }
        if (panel_interior(p, &pos))
            pack_panel_interior(c, in, &pos, bp);
        else
            pack_panel_checked(c, in, &pos, bp);
    }
}

/* Sigmoid on a stored tile (the tiles apply ReLU / leaky themselves). */
static void tile_sigmoid(const fa_nn_conv *c, const fa_nn_tile *t) {
    if (c->p.act == FA_NN_ACT_SIGMOID)
        for (int row = 0; row < t->mr; row++)
            fa_nn_native_act(t->c + (size_t)row * c->n_cols, (size_t)t->nr, t->act, t->alpha);
}

/* The panels of group g over columns [j0, j0 + ncols) with B read in place
 * at bp (row k at bp + k * n_cols): 32 columns at a time, every panel
 * over them, so the 32-column slice of B stays in L1 while the panels
 * pass (fp32 weights only). */
static void gemm_chunk_inplace(const run_ctx *r, size_t g, float *out_g, size_t j0, size_t ncols,
                               const float *bp) {
    const fa_nn_conv *c = r->c;
    fa_nn_tile t = {.k = c->k, .ldc = c->n_cols, .act = c->p.act, .alpha = c->p.alpha};
    size_t mr = c->mr;
    for (size_t j = 0; j < ncols; j += 2 * FA_NN_NR) {
        t.b = bp + j;
        t.nr = (int)(ncols - j < 2 * FA_NN_NR ? ncols - j : 2 * FA_NN_NR);
        for (size_t mp = 0; mp < c->m_panels; mp++) {
            size_t panel = g * c->m_panels + mp;
            t.a = c->w32 + panel * c->k * mr;
            t.bias = c->bias + panel * mr;
            t.mr = (int)(c->m - mp * mr < mr ? c->m - mp * mr : mr);
            t.c = out_g + mp * mr * c->n_cols + j0 + j;
            fa_nn_native_tile2_inplace_avx512(&t, c->n_cols);
            tile_sigmoid(c, &t);
        }
    }
}

/* Runs every mr-row panel of group g over the packed columns. */
static void gemm_chunk(const run_ctx *r, size_t g, float *out_g, size_t j0, size_t ncols, const float *bp,
                       float *a_buf) {
    const fa_nn_conv *c = r->c;
    fa_nn_tile t = {.k = c->k, .ldc = c->n_cols, .act = c->p.act, .alpha = c->p.alpha};
    size_t mr = c->mr;
    void (*tile)(const fa_nn_tile *) = c->isa == NATIVE_AVX512 ? fa_nn_native_tile_avx512
                                       : c->isa == NATIVE_AVX2 ? fa_nn_native_tile_avx2
                                                               : fa_nn_native_tile_generic;
    for (size_t mp = 0; mp < c->m_panels; mp++) {
        size_t panel = g * c->m_panels + mp;
        t.a = c->w32 ? c->w32 + panel * c->k * mr : a_buf;
        if (!c->w32) f16_to_f32(c, c->w16 + panel * c->k * mr, a_buf, c->k * mr);
        t.bias = c->bias + panel * mr;
        t.mr = (int)(c->m - mp * mr < mr ? c->m - mp * mr : mr);
        for (size_t j = 0; j < ncols; j += (size_t)t.nr) {
            bool two = c->isa == NATIVE_AVX512 && ncols - j > FA_NN_NR;
            size_t width = two ? 2 * FA_NN_NR : FA_NN_NR;
            t.b = bp + (j / FA_NN_NR) * c->k * FA_NN_NR;
            t.c = out_g + mp * mr * c->n_cols + j0 + j;
            t.nr = (int)(ncols - j < width ? ncols - j : width);
            if (two)
                fa_nn_native_tile2_avx512(&t);
            else
                tile(&t);
            tile_sigmoid(c, &t);
        }
    }
}

static void gemm_item(const run_ctx *r, size_t item, float *slot) {
    const fa_nn_conv *c = r->c;
    const fa_nn_conv_params *p = &c->p;
    size_t chunk = item % r->chunks, ig = item / r->chunks;
    size_t g = ig % (size_t)p->groups, b = ig / (size_t)p->groups;
    size_t cin_g = (size_t)(p->c_in / p->groups), hw_in = (size_t)p->h_in * (size_t)p->w_in;
    const float *in_g = r->in + (b * (size_t)p->c_in + g * cin_g) * hw_in;
    float *out_g = r->out + (b * (size_t)p->c_out + g * c->m) * c->n_cols;
    size_t j0 = chunk * r->nc, ncols = c->n_cols - j0 < r->nc ? c->n_cols - j0 : r->nc;
    if (c->b_inplace) { /* B is the input itself: row k at in_g + k * n_cols */
        gemm_chunk_inplace(r, g, out_g, j0, ncols, in_g + j0);
        return;
    }
    pack_b(c, in_g, j0, ncols, slot);
    gemm_chunk(r, g, out_g, j0, ncols, slot, slot + c->k * c->nc_max);
}

/* Copies input row `in` (w_in floats) into padded plane row `row`, split
 * by column phase: input column x goes to phase (x + pad_l) % s, index
 * (x + pad_l) / s. */
static void copy_row(const fa_nn_conv *c, const float *in, float *row) {
    const fa_nn_conv_params *p = &c->p;
    size_t s = (size_t)p->stride_w, w = (size_t)p->w_in, pl = (size_t)p->pad_l;
    if (s == 1) {
        memcpy(row + pl, in, w * sizeof(float));
    } else if (s == 2) {
        float *ev = row + pl % 2 * c->plane_seg + pl / 2;
        float *od = row + (pl + 1) % 2 * c->plane_seg + (pl + 1) / 2;
        if (c->isa == NATIVE_GENERIC)
            fa_nn_native_split2_generic(in, w, ev, od);
        else if (c->isa == NATIVE_AVX512)
            fa_nn_native_split2_avx512(in, w, ev, od);
        else
            fa_nn_native_split2_avx2(in, w, ev, od);
    } else {
        for (size_t ph = 0; ph < s; ph++) {
            size_t x0 = (ph + s - pl % s) % s; /* first input column of this phase */
            float *dst = row + ph * c->plane_seg + (x0 + pl) / s;
            for (size_t x = x0; x < w; x += s) *dst++ = in[x];
        }
    }
}

/* Copies one input channel (h_in x w_in) into the padded, phase-split
 * plane (native_kern.h). Only the input's own positions are written: the
 * padding and slack were zeroed once per run (zero_plane) and no channel
 * writes them. */
static void fill_plane(const fa_nn_conv *c, const float *in, float *plane) {
    const fa_nn_conv_params *p = &c->p;
    float *row = plane + (size_t)p->pad_t * c->plane_pitch;
    for (int y = 0; y < p->h_in; y++, row += c->plane_pitch, in += p->w_in) copy_row(c, in, row);
}

/* Work item of the stem kernel: (image, block of STEM_ROWS output rows). */
static void stem_item(const run_ctx *r, size_t item) {
    const fa_nn_conv *c = r->c;
    const fa_nn_conv_params *p = &c->p;
    size_t b = item / r->chunks, part = item % r->chunks;
    int oy0 = (int)(part * STEM_ROWS), oy1 = oy0 + STEM_ROWS < p->h_out ? oy0 + STEM_ROWS : p->h_out;
    fa_nn_stem st = {.p = *p, .in = r->in + b * (size_t)p->c_in * (size_t)p->h_in * (size_t)p->w_in,
                     .w = c->w32, .bias = c->bias, .out = r->out + b * (size_t)p->c_out * c->n_cols};
    fa_nn_native_stem_avx512(&st, oy0, oy1);
}

static void zero_plane(const fa_nn_conv *c, float *plane) {
    memset(plane, 0, c->plane_rows * c->plane_pitch * sizeof(float));
}

static void dw_item(const run_ctx *r, size_t item, float *slot) {
    const fa_nn_conv *c = r->c;
    const fa_nn_conv_params *p = &c->p;
    size_t g = item % (size_t)p->groups, b = item / (size_t)p->groups, mult = c->m;
    size_t hw_in = (size_t)p->h_in * (size_t)p->w_in, taps = c->k;
    const float *chan = r->in + (b * (size_t)p->c_in + g) * hw_in;
    if (!c->dw_direct) fill_plane(c, chan, slot);
    float *wbuf = slot + c->plane_rows * c->plane_pitch;
    fa_nn_dw d = dw_layout(c);
    d.p = c->dw_direct ? chan : slot;
    for (size_t mi = 0; mi < mult; mi++) {
        size_t oc = g * mult + mi;
        if (c->w32) {
            d.w = c->w32 + oc * taps;
        } else {
            f16_to_f32(c, c->w16 + oc * taps, wbuf, taps);
            d.w = wbuf;
        }
        d.bias = c->bias[oc];
        d.out = r->out + (b * (size_t)p->c_out + oc) * c->n_cols;
        if (c->dw_direct)
            fa_nn_native_dw_direct_avx512(&d);
        else if (c->isa == NATIVE_AVX512)
            fa_nn_native_dw_avx512(&d);
        else if (c->isa == NATIVE_AVX2)
            fa_nn_native_dw_avx2(&d);
        else
            fa_nn_native_dw_generic(&d);
    }
}

static void run_task(void *arg, size_t t) {
    const run_ctx *r = arg;
    float *slot = r->ws + t * r->c->slot_floats;
    size_t lo = t * r->items / r->tasks, hi = (t + 1) * r->items / r->tasks;
    if (r->c->depthwise && !r->c->dw_direct && lo < hi) zero_plane(r->c, slot);
    for (size_t item = lo; item < hi; item++) {
        if (r->c->depthwise)
            dw_item(r, item, slot);
        else if (r->c->stem)
            stem_item(r, item);
        else
            gemm_item(r, item, slot);
    }
}

/* Columns per chunk: nc_max, halved while there are fewer items than threads. */
static void plan_chunks(run_ctx *r, size_t threads) {
    const fa_nn_conv *c = r->c;
    size_t images = (size_t)c->p.n * (size_t)c->p.groups;
    r->nc = c->nc_max;
    while (r->nc > FA_NN_NR && images * ((c->n_cols + r->nc - 1) / r->nc) < threads)
        r->nc = round_up(r->nc / 2, FA_NN_NR);
    r->chunks = (c->n_cols + r->nc - 1) / r->nc;
    r->items = images * r->chunks;
}

static int conv_run(const fa_nn_conv *c, const void *in, void *out, void *workspace,
                    const fa_nn_parallel *par) {
    if (!c || !in || !out)
        return fa_err_set(FA_EINVAL, "native conv: run: expected op, in and out, got a NULL");
    if (!workspace)
        return fa_err_set(FA_EINVAL, "native conv: run: expected a workspace of %zu bytes, got NULL",
                          conv_workspace(c, par));
    if (c->q8) return fa_nn_q8_run(c->q8, in, out, workspace, par);
    size_t threads = thread_count(par);
    run_ctx r = {.c = c, .in = in, .out = out, .ws = workspace};
    if (c->depthwise) {
        r.items = (size_t)c->p.n * (size_t)c->p.groups;
    } else if (c->stem) {
        r.chunks = ((size_t)c->p.h_out + STEM_ROWS - 1) / STEM_ROWS;
        r.items = (size_t)c->p.n * r.chunks;
    } else {
        plan_chunks(&r, threads);
    }
    r.tasks = r.items < threads ? r.items : threads;
    if (r.tasks <= 1) {
        r.tasks = 1;
        run_task(&r, 0);
    } else {
        par->for_each(par->ud, r.tasks, run_task, &r);
    }
    return 0;
}

static const fa_nn_backend native_backend = {
    .name = "native",
    .conv_prepare = conv_prepare,
    .conv_workspace = conv_workspace,
    .conv_run = conv_run,
    .conv_bytes = conv_bytes,
    .conv_free = conv_free,
};

/* Contract in kernels.h: the backend is a constant table, always present. */
const fa_nn_backend *fa_nn_backend_native(void) { return &native_backend; }
