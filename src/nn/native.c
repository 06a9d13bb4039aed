/*
 * native.c - the native backend of src/nn/kernels.h: parameter checks, the
 * choice of instruction set, weight packing at prepare, and the run-time
 * dispatch and work splitting over the kernels of native_gemm.c and
 * native_dw.c.
 *
 * Two paths cover every convolution:
 *   - depthwise (c_in / groups == 1): a direct kernel per channel over a
 *     zero-padded copy of the input plane (native_dw.c);
 *   - everything else: per (image, group) a GEMM C[M x N] = A[M x K] *
 *     B[K x N] with M = c_out / groups, K = c_in / groups * kh * kw,
 *     N = h_out * w_out. A is the weights, packed once at prepare into
 *     6-row panels; B is the im2col of the input, built directly in packed
 *     16-column panels into the workspace, a chunk of columns at a time
 *     sized to stay in L2 (for a 1x1 stride-1 convolution, the pointwise
 *     hot case, the "im2col" is a plain copy). C is the NCHW output itself.
 *
 * Instruction set: chosen at prepare (AVX2+FMA+F16C when the CPU has them,
 * else portable C; FA_NN_NATIVE_ISA=generic forces portable C) and kept in
 * the prepared op, so nothing global changes at run time.
 *
 * FP16: the packed weights are stored as IEEE half (rounded to nearest
 * even at prepare) and converted back to float per 6-row panel at run
 * into the workspace, so the arithmetic stays fp32.
 *
 * INT8: handed to native_int8.c (int8 weights per output channel, int32
 * accumulation with AVX-512 VNNI / AVX2 / portable kernels); this file
 * keeps the checks and forwards run, workspace, bytes and free.
 * FA_NN_NATIVE_ISA=generic|avx2 caps the instruction set (tests use it to
 * compare the paths).
 *
 * Threads: the work items ((image, group, column chunk) for the GEMM,
 * (image, channel) for depthwise) are cut into at most par->threads
 * contiguous ranges, one per for_each index, and range t uses workspace
 * slot t: no locks, no atomics, and conv_workspace is exactly threads
 * slots. The par given to conv_run must therefore have no more threads
 * than the one given to conv_workspace (kernels.h says so). Results are
 * bitwise the same for any thread count: each output sums its K terms
 * in the same order whatever the split.
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

#define NATIVE_DIM_MAX (1 << 16)      /* largest dimension accepted (sizes stay far from overflow) */
#define NATIVE_B_CHUNK_FLOATS 49152u  /* im2col chunk target: 192 KiB, about half a typical L2 */
#define NATIVE_NC_MAX 512u            /* most columns per chunk */

typedef enum native_isa { NATIVE_GENERIC = 0, NATIVE_AVX2 } native_isa;

struct fa_nn_conv {
    fa_nn_conv_params p;
    fa_nn_precision prec;
    native_isa isa;
    bool depthwise;
    size_t m, k, n_cols;  /* per group: c_out / groups, K, h_out * w_out */
    size_t m_panels;      /* per group, ceil(m / MR) */
    size_t w_count;       /* floats of packed weights */
    float *w32;           /* packed weights (fp32), or NULL */
    uint16_t *w16;        /* packed weights (fp16), or NULL */
    float *bias;          /* gemm: per panel, MR each, zero padded; depthwise: c_out */
    size_t nc_max;        /* gemm: most columns per chunk */
    size_t plane_rows, plane_pitch; /* depthwise: padded plane */
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

#else

static bool cpu_has_avx512vnni(void) { return false; }
static bool cpu_has_avx2_set(void) { return false; }

#endif

/* Contract in kernels.h. The string names what the native kernels use. */
const char *fa_nn_cpu_features(void) {
    if (!cpu_has_avx2_set()) return "";
    return cpu_has_avx512vnni() ? "avx2 fma f16c avx512vnni" : "avx2 fma f16c";
}

static native_isa pick_isa(void) {
    const char *want = getenv("FA_NN_NATIVE_ISA");
    if (want && strcmp(want, "generic") == 0) return NATIVE_GENERIC;
    return cpu_has_avx2_set() ? NATIVE_AVX2 : NATIVE_GENERIC;
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

/* ---- parameter checks ---- */

static int bad_field(const char *field, const char *expected, long got) {
    return fa_err_set(FA_EINVAL, "native conv: field '%s': expected %s, got %ld", field, expected, got);
}

static int check_range(const char *field, int v, int lo) {
    if (v < lo || v > NATIVE_DIM_MAX)
        return fa_err_set(FA_EINVAL, "native conv: field '%s': expected %d..%d, got %d", field, lo,
                          NATIVE_DIM_MAX, v);
    return 0;
}

static int check_dims(const fa_nn_conv_params *p) {
    const char *names[] = {"n", "c_in", "h_in", "w_in", "c_out", "h_out", "w_out", "kh", "kw",
                           "stride_h", "stride_w", "dil_h", "dil_w", "groups"};
    const int vals[] = {p->n, p->c_in, p->h_in, p->w_in, p->c_out, p->h_out, p->w_out, p->kh, p->kw,
                        p->stride_h, p->stride_w, p->dil_h, p->dil_w, p->groups};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        if (check_range(names[i], vals[i], 1) < 0) return FA_EINVAL;
    const char *pads[] = {"pad_t", "pad_l", "pad_b", "pad_r"};
    const int pvals[] = {p->pad_t, p->pad_l, p->pad_b, p->pad_r};
    for (size_t i = 0; i < 4; i++)
        if (check_range(pads[i], pvals[i], 0) < 0) return FA_EINVAL;
    return 0;
}

/* The output size along one axis, or -1 when the filter does not fit. */
static long out_size(int in, int pad0, int pad1, int dil, int k, int stride) {
    long span = (long)in + pad0 + pad1 - (long)dil * (k - 1) - 1;
    return span < 0 ? -1 : span / stride + 1;
}

static int check_shape(const fa_nn_conv_params *p) {
    char want[96];
    if (p->c_in % p->groups != 0 || p->c_out % p->groups != 0) {
        snprintf(want, sizeof want, "a divisor of c_in (%d) and c_out (%d)", p->c_in, p->c_out);
        return bad_field("groups", want, p->groups);
    }
    long ho = out_size(p->h_in, p->pad_t, p->pad_b, p->dil_h, p->kh, p->stride_h);
    long wo = out_size(p->w_in, p->pad_l, p->pad_r, p->dil_w, p->kw, p->stride_w);
    if (ho != p->h_out) {
        snprintf(want, sizeof want, "%ld from h_in, pad_t, pad_b, dil_h, kh, stride_h", ho);
        return bad_field("h_out", want, p->h_out);
    }
    if (wo != p->w_out) {
        snprintf(want, sizeof want, "%ld from w_in, pad_l, pad_r, dil_w, kw, stride_w", wo);
        return bad_field("w_out", want, p->w_out);
    }
    if ((size_t)p->kh * (size_t)p->kw > (size_t)NATIVE_DIM_MAX)
        return bad_field("kh", "kh * kw <= 65536", p->kh);
    if (p->act < FA_NN_ACT_NONE || p->act > FA_NN_ACT_SIGMOID)
        return bad_field("act", "NONE, RELU, LEAKY or SIGMOID", (long)p->act);
    return 0;
}

static int check_params(const fa_nn_conv_params *p, fa_nn_precision prec, const float *weights) {
    if (!p) return fa_err_set(FA_EINVAL, "native conv: params: expected a pointer, got NULL");
    if (!weights) return fa_err_set(FA_EINVAL, "native conv: field 'weights': expected a pointer, got NULL");
    if (prec != FA_NN_FP32 && prec != FA_NN_FP16 && prec != FA_NN_INT8)
        return bad_field("prec", "FP32, INT8 or FP16", (long)prec);
    if (check_dims(p) < 0) return FA_EINVAL;
    return check_shape(p);
}

/* ---- prepare ---- */

static size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

/* Packs the fp32 weights of every group into MR-row panels: panel (g, mp)
 * holds a[k * MR + r] = w[g * m + mp * MR + r][k], zero for rows past m. */
static void pack_weights(const fa_nn_conv *c, const float *w, float *dst) {
    size_t groups = (size_t)c->p.groups;
    for (size_t g = 0; g < groups; g++)
        for (size_t mp = 0; mp < c->m_panels; mp++, dst += c->k * FA_NN_MR)
            for (size_t r = 0; r < FA_NN_MR; r++) {
                size_t row = mp * FA_NN_MR + r;
                const float *src = w + (g * c->m + row) * c->k;
                for (size_t k = 0; k < c->k; k++) dst[k * FA_NN_MR + r] = row < c->m ? src[k] : 0.0f;
            }
}

static void pack_bias(const fa_nn_conv *c, const float *bias, float *dst) {
    for (size_t g = 0; g < (size_t)c->p.groups; g++)
        for (size_t row = 0; row < c->m_panels * FA_NN_MR; row++)
            *dst++ = bias && row < c->m ? bias[g * c->m + row] : 0.0f;
}

static void plan_sizes(fa_nn_conv *c) {
    const fa_nn_conv_params *p = &c->p;
    c->depthwise = p->c_in / p->groups == 1;
    c->m = (size_t)(p->c_out / p->groups);
    c->k = (size_t)(p->c_in / p->groups) * (size_t)p->kh * (size_t)p->kw;
    c->n_cols = (size_t)p->h_out * (size_t)p->w_out;
    c->m_panels = (c->m + FA_NN_MR - 1) / FA_NN_MR;
    size_t half = c->prec == FA_NN_FP16;
    if (c->depthwise) {
        c->w_count = (size_t)p->c_out * c->k;
        c->plane_rows = (size_t)p->h_in + (size_t)p->pad_t + (size_t)p->pad_b;
        size_t need = round_up((size_t)p->w_out, 8) * (size_t)p->stride_w;
        need += (size_t)(p->kw - 1) * (size_t)p->dil_w;
        size_t width = (size_t)p->w_in + (size_t)p->pad_l + (size_t)p->pad_r;
        c->plane_pitch = (width > need ? width : need) + 16;
        c->slot_floats = c->plane_rows * c->plane_pitch + (half ? c->k : 0);
    } else {
        c->w_count = (size_t)p->groups * c->m_panels * FA_NN_MR * c->k;
        size_t nc = NATIVE_B_CHUNK_FLOATS / c->k / FA_NN_NR * FA_NN_NR;
        nc = nc < FA_NN_NR ? FA_NN_NR : nc > NATIVE_NC_MAX ? NATIVE_NC_MAX : nc;
        c->nc_max = nc < round_up(c->n_cols, FA_NN_NR) ? nc : round_up(c->n_cols, FA_NN_NR);
        c->slot_floats = c->k * c->nc_max + (half ? c->k * FA_NN_MR : 0);
    }
    c->slot_floats = round_up(c->slot_floats, 16); /* slots 64-byte apart */
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
    fa_nn_q8_free(c->q8);
    free(c);
}

static int prepare_weights(fa_nn_conv *c, const float *weights, const float *bias) {
    size_t nbias = c->depthwise ? (size_t)c->p.c_out : (size_t)c->p.groups * c->m_panels * FA_NN_MR;
    c->bias = malloc(nbias * sizeof(float));
    if (!c->bias) return fa_err_set(FA_ENOMEM, "native conv: out of memory for bias");
    if (c->depthwise) {
        for (size_t i = 0; i < nbias; i++) c->bias[i] = bias ? bias[i] : 0.0f;
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
    size_t nbias = c->depthwise ? (size_t)c->p.c_out : (size_t)c->p.groups * c->m_panels * FA_NN_MR;
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
    if (c->isa == NATIVE_AVX2)
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

/* Runs every MR-row panel of group g over the packed columns. */
static void gemm_chunk(const run_ctx *r, size_t g, float *out_g, size_t j0, size_t ncols, const float *bp,
                       float *a_buf) {
    const fa_nn_conv *c = r->c;
    fa_nn_tile t = {.k = c->k, .ldc = c->n_cols, .act = c->p.act, .alpha = c->p.alpha};
    for (size_t mp = 0; mp < c->m_panels; mp++) {
        size_t panel = g * c->m_panels + mp;
        t.a = c->w32 ? c->w32 + panel * c->k * FA_NN_MR : a_buf;
        if (!c->w32) f16_to_f32(c, c->w16 + panel * c->k * FA_NN_MR, a_buf, c->k * FA_NN_MR);
        t.bias = c->bias + panel * FA_NN_MR;
        t.mr = (int)(c->m - mp * FA_NN_MR < FA_NN_MR ? c->m - mp * FA_NN_MR : FA_NN_MR);
        for (size_t j = 0; j < ncols; j += FA_NN_NR) {
            t.b = bp + (j / FA_NN_NR) * c->k * FA_NN_NR;
            t.c = out_g + mp * FA_NN_MR * c->n_cols + j0 + j;
            t.nr = (int)(ncols - j < FA_NN_NR ? ncols - j : FA_NN_NR);
            if (c->isa == NATIVE_AVX2)
                fa_nn_native_tile_avx2(&t);
            else
                fa_nn_native_tile_generic(&t);
            if (c->p.act == FA_NN_ACT_SIGMOID)
                for (int row = 0; row < t.mr; row++)
                    fa_nn_native_act(t.c + (size_t)row * c->n_cols, (size_t)t.nr, t.act, t.alpha);
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
    pack_b(c, in_g, j0, ncols, slot);
    gemm_chunk(r, g, out_g, j0, ncols, slot, slot + c->k * c->nc_max);
}

/* Copies one input channel (h_in x w_in) into the zero-padded plane. */
static void fill_plane(const fa_nn_conv *c, const float *in, float *plane) {
    const fa_nn_conv_params *p = &c->p;
    size_t pitch = c->plane_pitch, pl = (size_t)p->pad_l, w = (size_t)p->w_in;
    memset(plane, 0, (size_t)p->pad_t * pitch * sizeof(float));
    float *row = plane + (size_t)p->pad_t * pitch;
    for (int y = 0; y < p->h_in; y++, row += pitch) {
        memset(row, 0, pl * sizeof(float));
        memcpy(row + pl, in + (size_t)y * w, w * sizeof(float));
        memset(row + pl + w, 0, (pitch - pl - w) * sizeof(float));
    }
    memset(row, 0, (c->plane_rows - (size_t)p->pad_t - (size_t)p->h_in) * pitch * sizeof(float));
}

static void dw_item(const run_ctx *r, size_t item, float *slot) {
    const fa_nn_conv *c = r->c;
    const fa_nn_conv_params *p = &c->p;
    size_t g = item % (size_t)p->groups, b = item / (size_t)p->groups, mult = c->m;
    size_t hw_in = (size_t)p->h_in * (size_t)p->w_in, taps = c->k;
    fill_plane(c, r->in + (b * (size_t)p->c_in + g) * hw_in, slot);
    float *wbuf = slot + c->plane_rows * c->plane_pitch;
    fa_nn_dw d = {.p = slot, .pitch = c->plane_pitch, .alpha = p->alpha, .h_out = p->h_out,
                  .w_out = p->w_out, .kh = p->kh, .kw = p->kw, .s_h = p->stride_h, .s_w = p->stride_w,
                  .d_h = p->dil_h, .d_w = p->dil_w, .act = p->act};
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
        if (c->isa == NATIVE_AVX2)
            fa_nn_native_dw_avx2(&d);
        else
            fa_nn_native_dw_generic(&d);
    }
}

static void run_task(void *arg, size_t t) {
    const run_ctx *r = arg;
    float *slot = r->ws + t * r->c->slot_floats;
    size_t lo = t * r->items / r->tasks, hi = (t + 1) * r->items / r->tasks;
    for (size_t item = lo; item < hi; item++) {
        if (r->c->depthwise)
            dw_item(r, item, slot);
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
    if (c->depthwise)
        r.items = (size_t)c->p.n * (size_t)c->p.groups;
    else
        plan_chunks(&r, threads);
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
