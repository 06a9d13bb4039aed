/*
 * ops.c - the non-convolution operators, fp32 NCHW.
 *
 * Each follows the ONNX operator specification literally, and where the
 * specification leaves a choice (pooling windows in ceil_mode, Resize's
 * clamping of coordinates) ONNX Runtime's CPU behaviour is the reference,
 * since its outputs are the golden ones. Data-movement ops (Concat,
 * Transpose, Reshape, Gather, Split) work on any element size, so constant
 * folding can run them on int64 shape tensors as well. Shapes were
 * validated by inference (graph.c) before any of these runs.
 *
 * Written for clarity first, but once the convolutions got fast these ops
 * were a third of a small detector's time (FastestDet: 1.4 of 4.2 ms), so
 * the ones that detector spends it in have fast paths, each giving the
 * same results as the plain code it replaced (bitwise, except softmax's
 * exp, within 2 ulp of expf):
 *   - pooling is separable (a column reduction over the window's rows into
 *     a padded row, then one over each output's columns), with AVX-512
 *     copies of both passes for the 3x3 stride-2 and stride-1 windows;
 *   - softmax runs 16 independent lanes (columns of a strided softmax, or
 *     partial sums of a contiguous one) through a polynomial exp, portable
 *     and AVX-512, bitwise equal;
 *   - a fused channel shuffle (fuse_shuffle.c, carried by a Gather node)
 *     copies each output channel once, from the Concat's input holding it;
 *   - a 2-D transpose (the [C][HW] <-> [HW][C] pair around a head's
 *     softmax) goes in 16 x 16 tiles (AVX-512: in registers), a nearest Resize copies rows and
 *     doubles columns instead of interpolating, a constant Pad of the last
 *     two dims writes each output float once;
 *   - for NanoDet-m's neck and heads: a bilinear Resize is separable (each
 *     source row interpolated along W once, then each output row from two
 *     of those; AVX-512 with permutes), the residual Add is AVX-512, a
 *     batch of 2-D transposes uses the tiles too, and runtime.c may fuse
 *     a Resize into its Add (fa_nn_op_resize_add) and run a Sigmoid or
 *     Transpose on a Split's part in place (fa_nn_op_run_blocks).
 *     FA_NN_OPS_FAST=0 turns all of that off (the code before, for timing).
 * The AVX-512 code is compiled with target attributes (the library stays
 * generic x86-64) and picked per call from the CPU (ops_avx512).
 */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct op_ctx {
    const fa_nn_graph *g;
    const fa_nn_node *nd;
    const fa_nn_shape *s;
    void *const *bufs;
} op_ctx;

static const fa_nn_shape *ish(const op_ctx *c, int i) { return &c->s[c->nd->in[i]]; }
static const fa_nn_shape *osh(const op_ctx *c, int i) { return &c->s[c->nd->out[i]]; }
static const void *in(const op_ctx *c, int i) { return c->bufs[c->nd->in[i]]; }
static void *out(const op_ctx *c, int i) { return c->bufs[c->nd->out[i]]; }
static size_t esize(const op_ctx *c) { return fa_nn_dtype_size(c->g->tensors[c->nd->in[0]].dtype); }

static int64_t prod(const fa_nn_shape *s, int from, int to) {
    int64_t n = 1;
    for (int i = from; i < to; i++)
        n *= s->d[i];
    return n;
}

/* ------------------------------------------------------------- CPU check */

/* The hot loops of pooling and softmax have AVX-512 copies, compiled with
 * target attributes (the library stays generic x86-64) and picked per call
 * when the CPU has AVX-512 F/VL/BW/DQ, unless FA_NN_NATIVE_ISA (the native
 * backend's cap, native.c) says generic or avx2. Both copies give bitwise
 * equal results (test_ops.c checks it). */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define OPS_X86 1
#include <immintrin.h>
#else
#define OPS_X86 0
#endif

static int ops_avx512(void) {
#if OPS_X86
    const char *want = getenv("FA_NN_NATIVE_ISA");
    if (want && (strcmp(want, "generic") == 0 || strcmp(want, "avx2") == 0)) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#else
    return 0;
#endif
}

/* FA_NN_OPS_FAST=0 runs the plain code this file had before the vector
 * Resize / Add and the batched transpose, and runtime.c's fusions
 * (Resize + Add, the int8 channel shuffle) off (same results, bitwise): a
 * switch for timing both in one build (model bench), like
 * FA_NN_DW_DIRECT=0 for the depthwise kernels. */
int fa_nn_ops_fast(void) {
    const char *want = getenv("FA_NN_OPS_FAST");
    return !(want && strcmp(want, "0") == 0);
}

static int ops_fast(void) { return fa_nn_ops_fast(); }

/* ------------------------------------------------------------ elementwise */

static void run_sigmoid(const float *x, float *y, int64_t n);

static void run_unary(const op_ctx *c) {
    const float *x = in(c, 0);
    float *y = out(c, 0);
    int64_t n = fa_nn_shape_count(ish(c, 0));
    float alpha = c->nd->a.alpha;
    switch (c->nd->op) {
    case FA_NN_OP_RELU:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] > 0 ? x[i] : 0;
        break;
    case FA_NN_OP_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++)
            y[i] = x[i] < 0 ? alpha * x[i] : x[i];
        break;
    default: run_sigmoid(x, y, n);
    }
}

static void run_batchnorm(const op_ctx *c) {
    const fa_nn_shape *s = ish(c, 0);
    const float *x = in(c, 0), *gm = in(c, 1), *bt = in(c, 2), *mu = in(c, 3), *var = in(c, 4);
    float *y = out(c, 0);
    int64_t ch = s->d[1], inner = prod(s, 2, s->rank), outer = s->d[0];
    for (int64_t n = 0; n < outer; n++)
        for (int64_t k = 0; k < ch; k++) {
            float sc = gm[k] / sqrtf(var[k] + c->nd->a.epsilon), sh = bt[k] - mu[k] * sc;
            const float *xp = x + (n * ch + k) * inner;
            float *yp = y + (n * ch + k) * inner;
            for (int64_t i = 0; i < inner; i++)
                yp[i] = xp[i] * sc + sh;
        }
}

#if OPS_X86
#define OPS_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq")))

static __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* y = a + b over n floats, 64 at a time then masked 16s (the library is
 * built for generic x86-64, where the plain loop gets 4-float SSE). */
OPS_AVX512 static void add_avx512(const float *a, const float *b, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int64_t k = i; k < i + 64; k += 16)
            _mm512_storeu_ps(y + k, _mm512_add_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k)));
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 va = _mm512_maskz_loadu_ps(m, a + i), vb = _mm512_maskz_loadu_ps(m, b + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(va, vb));
    }
}
#endif

/* Add with numpy broadcasting: strides of 0 on broadcast dims. */
static void run_add(const op_ctx *c) {
    const fa_nn_shape *o = osh(c, 0);
    const float *a = in(c, 0), *b = in(c, 1);
    float *y = out(c, 0);
    int64_t n = fa_nn_shape_count(o);
    if (fa_nn_shape_count(ish(c, 0)) == n && fa_nn_shape_count(ish(c, 1)) == n) {
#if OPS_X86
        if (ops_fast() && ops_avx512()) {
            add_avx512(a, b, y, n);
            return;
        }
#endif
        for (int64_t i = 0; i < n; i++) /* the residual case: same shapes, one vector loop */
            y[i] = a[i] + b[i];
        return;
    }
    int64_t sa[FA_NN_MAX_RANK] = {0}, sb[FA_NN_MAX_RANK] = {0}, idx[FA_NN_MAX_RANK] = {0};
    for (int k = 0; k < 2; k++) {
        const fa_nn_shape *x = ish(c, k);
        int64_t *st = k ? sb : sa, step = 1;
        for (int i = x->rank - 1; i >= 0; i--) {
            st[i + o->rank - x->rank] = x->d[i] == 1 ? 0 : step;
            step *= x->d[i];
        }
    }
    int64_t ia = 0, ib = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = a[ia] + b[ib];
        for (int d = o->rank - 1; d >= 0; d--) {
            ia += sa[d], ib += sb[d];
            if (++idx[d] < o->d[d]) break;
            ia -= sa[d] * o->d[d], ib -= sb[d] * o->d[d];
            idx[d] = 0;
        }
    }
}

/* ---------------------------------------------------------------- softmax */

/* Softmax keeps SM_LANES independent lanes: 16 adjacent columns of a
 * strided softmax, or 16 partial maxima and sums of a contiguous one
 * (element k in lane k % 16, combined in lane order at the end). The
 * portable code below and the AVX-512 code (one lane per vector element)
 * do the same scalar operations in the same order (C17 keeps contraction
 * off), so they give bitwise equal results. */
#define SM_LANES 16
#define EXP_LO -87.0f
#define EXP_HI 88.0f
#define EXP_MAGIC 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */
#define EXP_LOG2E 1.44269504f
#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO -2.12194440e-4f
static const float exp_poly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                  4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

/* exp(x): 2^n * p(r), n = round(x / ln 2), r = x - n ln 2 (in two parts),
 * p Cephes expf's polynomial; relative error ~2 ulp. x is clamped to
 * [-87, 88] first: softmax feeds it x - max <= 0, and below -87 it returns
 * exp(-87) ~ 1.6e-38 where expf gives less, invisible after the sum (a
 * NaN, which only a NaN input gives, is taken as -87 too). */
static float exp_approx(float x) {
    float v = x > EXP_LO ? x : EXP_LO; /* (a NaN becomes EXP_LO: no undefined int conversion) */
    v = v < EXP_HI ? v : EXP_HI;
    float n = (v * EXP_LOG2E + EXP_MAGIC) - EXP_MAGIC;
    float r = v - n * EXP_LN2_HI;
    r = r - n * EXP_LN2_LO;
    float p = exp_poly[0];
    for (int i = 1; i < 6; i++)
        p = p * r + exp_poly[i];
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Softmax of len contiguous floats x -> y, in lanes. */
static void softmax_row_generic(const float *x, float *y, int64_t len) {
    float m[SM_LANES], s[SM_LANES];
    for (int l = 0; l < SM_LANES; l++)
        m[l] = -INFINITY, s[l] = 0.0f;
    for (int64_t k = 0; k < len; k++)
        m[k % SM_LANES] = x[k] > m[k % SM_LANES] ? x[k] : m[k % SM_LANES];
    float mx = m[0];
    for (int l = 1; l < SM_LANES; l++)
        mx = m[l] > mx ? m[l] : mx;
    for (int64_t k = 0; k < len; k++)
        s[k % SM_LANES] += y[k] = exp_approx(x[k] - mx);
    float sum = s[0];
    for (int l = 1; l < SM_LANES; l++)
        sum += s[l];
    for (int64_t k = 0; k < len; k++)
        y[k] /= sum;
}

/* Softmax over len values at stride inner, one column (x[k * inner]). */
static void softmax_col_generic(const float *x, float *y, int64_t len, int64_t inner) {
    float m = x[0], sum = 0.0f;
    for (int64_t k = 1; k < len; k++)
        m = x[k * inner] > m ? x[k * inner] : m;
    for (int64_t k = 0; k < len; k++)
        sum += y[k * inner] = exp_approx(x[k * inner] - m);
    for (int64_t k = 0; k < len; k++)
        y[k * inner] /= sum;
}

/* One softmax block [len][inner]: a contiguous row, or column by column. */
static void softmax_block_generic(const float *x, float *y, int64_t len, int64_t inner) {
    if (inner == 1) {
        softmax_row_generic(x, y, len);
        return;
    }
    for (int64_t i = 0; i < inner; i++)
        softmax_col_generic(x + i, y + i, len, inner);
}

#if OPS_X86
/* exp_approx on 16 floats, the same operations. */
OPS_AVX512 static __m512 exp_avx512(__m512 x) {
    __m512 v = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_LO)), _mm512_set1_ps(EXP_HI));
    __m512 magic = _mm512_set1_ps(EXP_MAGIC);
    __m512 n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(v, _mm512_set1_ps(EXP_LOG2E)), magic), magic);
    __m512 r = _mm512_sub_ps(v, _mm512_mul_ps(n, _mm512_set1_ps(EXP_LN2_HI)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(EXP_LN2_LO)));
    __m512 p = _mm512_set1_ps(exp_poly[0]);
    for (int i = 1; i < 6; i++)
        p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(exp_poly[i]));
    p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r), _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

/* softmax_row_generic, a vector of lanes. */
OPS_AVX512 static void softmax_row_avx512(const float *x, float *y, int64_t len) {
    __m512 m = _mm512_set1_ps(-INFINITY), s = _mm512_setzero_ps();
    for (int64_t k = 0; k < len; k += 16) {
        __mmask16 t = tail_mask(len - k);
        m = _mm512_mask_max_ps(m, t, _mm512_maskz_loadu_ps(t, x + k), m);
    }
    float lane[SM_LANES];
    _mm512_storeu_ps(lane, m);
    float mx = lane[0];
    for (int l = 1; l < SM_LANES; l++)
        mx = lane[l] > mx ? lane[l] : mx;
    __m512 vmx = _mm512_set1_ps(mx);
    for (int64_t k = 0; k < len; k += 16) {
        __mmask16 t = tail_mask(len - k);
        __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, x + k), vmx));
        _mm512_mask_storeu_ps(y + k, t, e);
        s = _mm512_mask_add_ps(s, t, s, e);
    }
    _mm512_storeu_ps(lane, s);
    float sum = lane[0];
    for (int l = 1; l < SM_LANES; l++)
        sum += lane[l];
    __m512 vs = _mm512_set1_ps(sum);
    for (int64_t k = 0; k < len; k += 16) {
        __mmask16 t = tail_mask(len - k);
        _mm512_mask_storeu_ps(y + k, t, _mm512_div_ps(_mm512_maskz_loadu_ps(t, y + k), vs));
    }
}

/* softmax_col_generic on 16 adjacent columns (lanes masked by t). */
OPS_AVX512 static void softmax_cols_avx512(const float *x, float *y, int64_t len, int64_t inner,
                                           __mmask16 t) {
    __m512 m = _mm512_maskz_loadu_ps(t, x), s = _mm512_setzero_ps();
    for (int64_t k = 1; k < len; k++)
        m = _mm512_max_ps(_mm512_maskz_loadu_ps(t, x + k * inner), m);
    for (int64_t k = 0; k < len; k++) {
        __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, x + k * inner), m));
        _mm512_mask_storeu_ps(y + k * inner, t, e);
        s = _mm512_add_ps(s, e);
    }
    for (int64_t k = 0; k < len; k++)
        _mm512_mask_storeu_ps(y + k * inner, t, _mm512_div_ps(_mm512_maskz_loadu_ps(t, y + k * inner), s));
}

OPS_AVX512 static void softmax_block_avx512(const float *x, float *y, int64_t len, int64_t inner) {
    if (inner == 1) {
        softmax_row_avx512(x, y, len);
        return;
    }
    for (int64_t i = 0; i < inner; i += 16)
        softmax_cols_avx512(x + i, y + i, len, inner, tail_mask(inner - i));
}
#endif

/* ---------------------------------------------------------------- sigmoid */

/* 1 / (1 + exp(-x)) with softmax's exp (a detector's class scores: NanoDet
 * runs it on 80 classes of every anchor of every tile, where a libm expf
 * call per value was the largest non-convolution cost); the AVX-512 loop
 * does the same operations as the portable one, bitwise equal. */
#if OPS_X86
OPS_AVX512 static __m512 sigmoid16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

OPS_AVX512 static void sigmoid_avx512(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 t = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, t, sigmoid16(_mm512_maskz_loadu_ps(t, x + i)));
    }
}
#endif

static float sigmoid1(float x) { return 1.0f / (1.0f + exp_approx(0.0f - x)); }

static void run_sigmoid(const float *x, float *y, int64_t n) {
#if OPS_X86
    if (ops_avx512()) {
        sigmoid_avx512(x, y, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++)
        y[i] = sigmoid1(x[i]);
}

/* Softmax over axis; before opset 13 the input is coerced to 2-D at axis
 * (softmax over all trailing dims together). */
static void run_softmax(const op_ctx *c) {
    const fa_nn_shape *s = ish(c, 0);
    int axis = c->nd->a.axis;
    int64_t outer = prod(s, 0, axis), len, inner;
    if (c->g->opset < 13)
        len = prod(s, axis, s->rank), inner = 1;
    else
        len = s->d[axis], inner = prod(s, axis + 1, s->rank);
    const float *x = in(c, 0);
    float *y = out(c, 0);
    if (len <= 0) return;
    int wide = ops_avx512();
    for (int64_t o = 0; o < outer; o++) {
#if OPS_X86
        if (wide) {
            softmax_block_avx512(x + o * len * inner, y + o * len * inner, len, inner);
            continue;
        }
#endif
        softmax_block_generic(x + o * len * inner, y + o * len * inner, len, inner);
    }
    (void)wide;
}

/* ---------------------------------------------------------------- pooling */

/* First in-range position of a window starting at lo with step dil (lo may be negative). */
static int64_t clip_lo(int64_t lo, int dil) { return lo >= 0 ? lo : lo + (-lo + dil - 1) / dil * dil; }

/* One output row of a pool: acc[ow] over input rows [h0, h1) (clipped,
 * step dil[0]) and each output's columns [cw0[ow], cw1[ow]) (clipped, step
 * dil[1]). The column windows are computed once per node, so the inner
 * loops carry no bounds tests; max and sum are separate loops so each is
 * a plain reduction the compiler can keep in registers. */
static void pool_row(const float *xp, int64_t W, int64_t h0, int64_t h1, const int64_t *cw0,
                     const int64_t *cw1, int64_t OW, const int *dil, int kw3, int is_max, float *acc) {
    for (int64_t ow = 0; ow < OW; ow++)
        acc[ow] = is_max ? -INFINITY : 0.0f;
    for (int64_t h = h0; h < h1; h += dil[0]) {
        const float *row = xp + h * W;
        if (is_max && dil[1] == 1 && kw3) {
            /* the common 3-wide window: whole windows unrolled, clipped ones generic */
            for (int64_t ow = 0; ow < OW; ow++) {
                const float *r = row + cw0[ow];
                float m = acc[ow];
                if (cw1[ow] - cw0[ow] == 3) {
                    m = r[0] > m ? r[0] : m;
                    m = r[1] > m ? r[1] : m;
                    m = r[2] > m ? r[2] : m;
                } else {
                    for (int64_t w = cw0[ow]; w < cw1[ow]; w++)
                        m = row[w] > m ? row[w] : m;
                }
                acc[ow] = m;
            }
        } else if (is_max) {
            for (int64_t ow = 0; ow < OW; ow++)
                for (int64_t w = cw0[ow]; w < cw1[ow]; w += dil[1])
                    acc[ow] = row[w] > acc[ow] ? row[w] : acc[ow];
        } else {
            for (int64_t ow = 0; ow < OW; ow++)
                for (int64_t w = cw0[ow]; w < cw1[ow]; w += dil[1])
                    acc[ow] += row[w];
        }
    }
}

/* Separable pooling without dilation. Per output row the window's input
 * rows are first reduced column by column into a padded row cm (cm[pl + w]
 * for input column w; the padding holds the reduction's identity, -inf
 * for max and 0 for sum, and stays so), then each output reduces kw
 * consecutive entries of cm, kh + kw operations per output instead of
 * kh x kw. Windows that hang over an edge simply read padding, so the
 * loops carry no bounds tests. FastestDet's 3x3/2 stem pool took 1.2 ms
 * of 14 the direct way (profiled). */
typedef struct pool_geom {
    int64_t H, W, OH, OW, pl, sh, sw, kh, kw, ph; /* ph: top pad */
    size_t cm_len;                                /* floats of cm, slack for vector reads included */
} pool_geom;

static pool_geom pool_geometry(const op_ctx *c) {
    const fa_nn_shape *is = ish(c, 0), *os = osh(c, 0);
    const fa_nn_attrs *a = &c->nd->a;
    pool_geom g = {.H = is->d[2],
                   .W = is->d[3],
                   .OH = os->d[2],
                   .OW = os->d[3],
                   .pl = a->pads[1],
                   .sh = a->strides[0],
                   .sw = a->strides[1],
                   .kh = a->kernel[0],
                   .kw = a->kernel[1],
                   .ph = a->pads[0]};
    g.cm_len = (size_t)(g.pl + g.W + (g.OW + 16) * g.sw + g.kw + 34);
    return g;
}

/* Input rows [h0, h1) of output row oh's window (clipped). */
static void pool_rows(const pool_geom *g, int64_t oh, int64_t *h0, int64_t *h1) {
    int64_t lo = oh * g->sh - g->ph, hi = lo + g->kh;
    *h0 = lo < 0 ? 0 : lo, *h1 = hi < g->H ? hi : g->H;
}

/* cm[w] = max over rows [h0, h1) of xp[h][w], w < W (-inf without rows). */
static void max_cols_generic(const float *xp, int64_t W, int64_t h0, int64_t h1, float *cm) {
    for (int64_t w = 0; w < W; w++)
        cm[w] = h0 < h1 ? xp[h0 * W + w] : -INFINITY;
    for (int64_t h = h0 + 1; h < h1; h++) {
        const float *row = xp + h * W;
        for (int64_t w = 0; w < W; w++)
            cm[w] = row[w] > cm[w] ? row[w] : cm[w];
    }
}

/* y[ow] = max_k cm[ow * sw + k], k < kw (the same rule as the rows). */
static void max_reduce_generic(const float *cm, int64_t OW, int64_t sw, int64_t kw, float *y) {
    for (int64_t ow = 0; ow < OW; ow++) {
        const float *p = cm + ow * sw;
        float m = p[0];
        for (int64_t k = 1; k < kw; k++)
            m = p[k] > m ? p[k] : m;
        y[ow] = m;
    }
}

#if OPS_X86
/* The same as max_cols_generic, 16 columns a vector (a masked tail). */
OPS_AVX512 static void max_cols_avx512(const float *xp, int64_t W, int64_t h0, int64_t h1, float *cm) {
    for (int64_t w = 0; w < W; w += 16) {
        __mmask16 k = W - w >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (W - w)) - 1);
        __m512 m = h0 < h1 ? _mm512_maskz_loadu_ps(k, xp + h0 * W + w) : _mm512_set1_ps(-INFINITY);
        for (int64_t h = h0 + 1; h < h1; h++)
            m = _mm512_max_ps(_mm512_maskz_loadu_ps(k, xp + h * W + w), m);
        _mm512_mask_storeu_ps(cm + w, k, m);
    }
}

/* The same as max_reduce_generic, 16 outputs a vector: stride 2 over 3
 * columns (even, odd and next even entries gathered from two vectors
 * each) and stride 1 (kw shifted loads); others generic. Reads up to
 * cm[2 * OW + 32] (pool_geom's slack). */
OPS_AVX512 static void max_reduce_avx512(const float *cm, int64_t OW, int64_t sw, int64_t kw, float *y) {
    if (!(sw == 2 && kw == 3) && sw != 1) {
        max_reduce_generic(cm, OW, sw, kw, y);
        return;
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t ow = 0; ow < OW; ow += 16) {
        __mmask16 k = OW - ow >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (OW - ow)) - 1);
        __m512 m;
        if (sw == 2) {
            const float *p = cm + 2 * ow;
            __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
            __m512 a2 = _mm512_loadu_ps(p + 2), b2 = _mm512_loadu_ps(p + 18);
            m = _mm512_permutex2var_ps(a, even, b);
            m = _mm512_max_ps(_mm512_permutex2var_ps(a, odd, b), m);
            m = _mm512_max_ps(_mm512_permutex2var_ps(a2, even, b2), m);
        } else {
            m = _mm512_loadu_ps(cm + ow);
            for (int64_t j = 1; j < kw; j++)
                m = _mm512_max_ps(_mm512_loadu_ps(cm + ow + j), m);
        }
        _mm512_mask_storeu_ps(y + ow, k, m);
    }
}
#endif

/* MaxPool, output rows from the last to the first, every channel's row
 * oh before row oh - 1: the input is usually a convolution's output just
 * written in row order, larger than L2 (FastestDet's stem: 3 MB), and
 * reading it in that same order would find each line evicted by the
 * ones written after it; newest first, most of it is still in cache
 * (perf: its column pass 5.9 % -> 3.3 % of a FastestDet run). The maxima
 * do not depend on the order. */
static void max_pool_separable(const op_ctx *c, const pool_geom *g, float *cm) {
    const float *x = in(c, 0);
    float *y = out(c, 0);
    int wide = ops_avx512();
    for (size_t i = 0; i < g->cm_len; i++)
        cm[i] = -INFINITY;
    int64_t planes = ish(c, 0)->d[0] * ish(c, 0)->d[1];
    for (int64_t oh = g->OH - 1; oh >= 0; oh--) /* bottom up: see above */
        for (int64_t p = 0; p < planes; p++) {
            const float *xp = x + p * g->H * g->W;
            int64_t h0, h1;
            pool_rows(g, oh, &h0, &h1);
            float *yr = y + (p * g->OH + oh) * g->OW;
#if OPS_X86
            if (wide) {
                max_cols_avx512(xp, g->W, h0, h1, cm + g->pl);
                max_reduce_avx512(cm, g->OW, g->sw, g->kw, yr);
                continue;
            }
#endif
            max_cols_generic(xp, g->W, h0, h1, cm + g->pl);
            max_reduce_generic(cm, g->OW, g->sw, g->kw, yr);
        }
    (void)wide;
}

/* y[ow] = (sum_k cm[ow * sw + k], k < kw, in k order) / nf[ow]. */
static void avg_reduce_generic(const float *cm, int64_t OW, int64_t sw, int64_t kw, const float *nf,
                               float *y) {
    for (int64_t ow = 0; ow < OW; ow++) {
        const float *q = cm + ow * sw;
        float sum = q[0];
        for (int64_t k = 1; k < kw; k++)
            sum += q[k];
        y[ow] = sum / nf[ow];
    }
}

/* s[w] = sum over rows [h0, h1) of xp[h][w] in row order (0 without rows). */
static void sum_cols_generic(const float *xp, int64_t W, int64_t h0, int64_t h1, float *s) {
    for (int64_t w = 0; w < W; w++)
        s[w] = h0 < h1 ? xp[h0 * W + w] : 0.0f;
    for (int64_t h = h0 + 1; h < h1; h++)
        for (int64_t w = 0; w < W; w++)
            s[w] += xp[h * W + w];
}

#if OPS_X86
OPS_AVX512 static void sum_cols_avx512(const float *xp, int64_t W, int64_t h0, int64_t h1, float *s) {
    for (int64_t w = 0; w < W; w += 16) {
        __mmask16 k = tail_mask(W - w);
        __m512 m = h0 < h1 ? _mm512_maskz_loadu_ps(k, xp + h0 * W + w) : _mm512_setzero_ps();
        for (int64_t h = h0 + 1; h < h1; h++)
            m = _mm512_add_ps(m, _mm512_maskz_loadu_ps(k, xp + h * W + w));
        _mm512_mask_storeu_ps(s + w, k, m);
    }
}

/* avg_reduce_generic, 16 outputs a vector for stride 2 over 3 columns and
 * stride 1; others generic. Reads up to cm[2 * OW + 32]. */
OPS_AVX512 static void avg_reduce_avx512(const float *cm, int64_t OW, int64_t sw, int64_t kw, const float *nf,
                                         float *y) {
    if (!(sw == 2 && kw == 3) && sw != 1) {
        avg_reduce_generic(cm, OW, sw, kw, nf, y);
        return;
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t ow = 0; ow < OW; ow += 16) {
        __mmask16 k = tail_mask(OW - ow);
        __m512 m;
        if (sw == 2) {
            const float *p = cm + 2 * ow;
            __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
            __m512 a2 = _mm512_loadu_ps(p + 2), b2 = _mm512_loadu_ps(p + 18);
            m = _mm512_add_ps(_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b));
            m = _mm512_add_ps(m, _mm512_permutex2var_ps(a2, even, b2));
        } else {
            m = _mm512_loadu_ps(cm + ow);
            for (int64_t j = 1; j < kw; j++)
                m = _mm512_add_ps(m, _mm512_loadu_ps(cm + ow + j));
        }
        __m512 n = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), k, nf + ow);
        _mm512_mask_storeu_ps(y + ow, k, _mm512_div_ps(m, n));
    }
}
#endif

/* AveragePool without dilation: cm holds column sums (0 padding), each
 * output the sum of its kw entries divided by its count: the window's
 * padded area with count_include_pad (clipped by ceil_mode's overhang,
 * ONNX Runtime's rule), else its cells inside the input. cw: per output
 * column its clipped [start, end) and padded width (run_pool); nf: OW
 * floats of room for one row's counts. */
static void avg_pool_separable(const op_ctx *c, const pool_geom *g, const int64_t *cw, float *cm, float *nf) {
    const fa_nn_attrs *a = &c->nd->a;
    const float *x = in(c, 0);
    float *y = out(c, 0);
    int wide = ops_avx512();
    for (size_t i = 0; i < g->cm_len; i++)
        cm[i] = 0.0f;
    for (int64_t p = 0; p < ish(c, 0)->d[0] * ish(c, 0)->d[1]; p++) {
        const float *xp = x + p * g->H * g->W;
        for (int64_t oh = 0; oh < g->OH; oh++) {
            int64_t h0, h1, top = oh * g->sh - g->ph, bot = top + g->kh;
            pool_rows(g, oh, &h0, &h1);
            int64_t area_h = (bot < g->H + a->pads[2] ? bot : g->H + a->pads[2]) - top;
            int64_t rows = h1 > h0 ? h1 - h0 : 0;
            for (int64_t ow = 0; ow < g->OW; ow++) {
                int64_t span = cw[g->OW + ow] - cw[ow];
                int64_t n = a->count_include_pad ? area_h * cw[2 * g->OW + ow] : rows * (span > 0 ? span : 0);
                nf[ow] = (float)(n ? n : 1);
            }
            float *yr = y + (p * g->OH + oh) * g->OW;
#if OPS_X86
            if (wide) {
                sum_cols_avx512(xp, g->W, h0, h1, cm + g->pl);
                avg_reduce_avx512(cm, g->OW, g->sw, g->kw, nf, yr);
                continue;
            }
#endif
            sum_cols_generic(xp, g->W, h0, h1, cm + g->pl);
            avg_reduce_generic(cm, g->OW, g->sw, g->kw, nf, yr);
        }
    }
    (void)wide;
}

static int run_pool(const op_ctx *c) {
    const fa_nn_shape *is = ish(c, 0), *os = osh(c, 0);
    const fa_nn_attrs *a = &c->nd->a;
    const float *x = in(c, 0);
    float *y = out(c, 0);
    int64_t H = is->d[2], W = is->d[3], OH = os->d[2], OW = os->d[3];
    int is_max = c->nd->op == FA_NN_OP_MAXPOOL;
    int64_t *cw = fa_malloc((size_t)OW * 3 * sizeof *cw); /* cw0, cw1, padded width per column */
    int separable = a->dilations[0] == 1 && a->dilations[1] == 1;
    pool_geom g = pool_geometry(c);
    float *cm = separable ? fa_malloc((g.cm_len + (size_t)OW) * sizeof *cm) : NULL; /* + avg counts */
    if (!cw || (separable && !cm)) {
        free(cw);
        free(cm);
        return FA_ENOMEM;
    }
    for (int64_t ow = 0; ow < OW; ow++) {
        int64_t w0 = ow * a->strides[1] - a->pads[1];
        int64_t w1 = w0 + (int64_t)(a->kernel[1] - 1) * a->dilations[1] + 1;
        cw[ow] = clip_lo(w0, a->dilations[1]);
        cw[OW + ow] = w1 < W ? w1 : W;
        cw[2 * OW + ow] = (w1 < W + a->pads[3] ? w1 : W + a->pads[3]) - w0;
    }
    if (cm) {
        if (is_max)
            max_pool_separable(c, &g, cm);
        else
            avg_pool_separable(c, &g, cw, cm, cm + g.cm_len);
        free(cw);
        free(cm);
        return 0;
    }
    for (int64_t p = 0; p < is->d[0] * is->d[1]; p++) {
        const float *xp = x + p * H * W;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0 = oh * a->strides[0] - a->pads[0];
            int64_t h1 = h0 + (int64_t)(a->kernel[0] - 1) * a->dilations[0] + 1;
            int64_t area_h = (h1 < H + a->pads[2] ? h1 : H + a->pads[2]) - h0;
            int64_t ch0 = clip_lo(h0, a->dilations[0]), ch1 = h1 < H ? h1 : H;
            float *yr = y + (p * OH + oh) * OW;
            pool_row(xp, W, ch0, ch1, cw, cw + OW, OW, a->dilations, a->kernel[1] == 3, is_max, yr);
            if (is_max) continue;
            int64_t rows = ch1 > ch0 ? (ch1 - ch0 + a->dilations[0] - 1) / a->dilations[0] : 0;
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t span = cw[OW + ow] - cw[ow];
                int64_t valid = rows * (span > 0 ? (span + a->dilations[1] - 1) / a->dilations[1] : 0);
                int64_t n = a->count_include_pad ? area_h * cw[2 * OW + ow] : valid;
                yr[ow] /= (float)(n ? n : 1);
            }
        }
    }
    free(cw);
    return 0;
}

/* ----------------------------------------------------------------- resize */

/* The source coordinate of output coordinate x along one axis. */
static float resize_coord(const fa_nn_attrs *a, int64_t x, float scale, int64_t in_len, int64_t out_len) {
    switch (a->coord_mode) {
    case FA_NN_COORD_ASYMMETRIC: return (float)x / scale;
    case FA_NN_COORD_ALIGN_CORNERS:
        return out_len == 1 ? 0.0f : (float)x * (float)(in_len - 1) / (float)(out_len - 1);
    case FA_NN_COORD_PYTORCH_HALF_PIXEL: return out_len > 1 ? ((float)x + 0.5f) / scale - 0.5f : 0.0f;
    default: return ((float)x + 0.5f) / scale - 0.5f;
    }
}

static int64_t resize_nearest(const fa_nn_attrs *a, float xf, int64_t in_len) {
    int64_t v;
    switch (a->nearest_mode) {
    case FA_NN_NEAREST_FLOOR: v = (int64_t)floorf(xf); break;
    case FA_NN_NEAREST_CEIL: v = (int64_t)ceilf(xf); break;
    case FA_NN_NEAREST_ROUND_PREFER_CEIL: v = (int64_t)floorf(xf + 0.5f); break;
    default: v = xf == floorf(xf) + 0.5f ? (int64_t)floorf(xf) : (int64_t)roundf(xf);
    }
    return v < 0 ? 0 : v >= in_len ? in_len - 1 : v;
}

/* Per output index along an axis: the two source indices and the weight of the second. */
static void resize_axis(const fa_nn_attrs *a, int64_t in_len, int64_t out_len, float scale, int64_t *i0,
                        int64_t *i1, float *wt) {
    for (int64_t x = 0; x < out_len; x++) {
        float xf = resize_coord(a, x, scale, in_len, out_len);
        if (a->resize_mode == FA_NN_RESIZE_NEAREST) {
            i0[x] = i1[x] = resize_nearest(a, xf, in_len);
            wt[x] = 0;
            continue;
        }
        if (xf < 0) xf = 0;
        if (xf > (float)(in_len - 1)) xf = (float)(in_len - 1);
        i0[x] = (int64_t)xf;
        i1[x] = i0[x] + 1 < in_len ? i0[x] + 1 : in_len - 1;
        wt[x] = xf - (float)i0[x];
    }
}

void fa_nn_resize_tables(const fa_nn_node *nd, const fa_nn_shape *shapes, void *const *bufs, int64_t *i0,
                         int64_t *i1, float *wt) {
    const fa_nn_shape *is = &shapes[nd->in[0]], *os = &shapes[nd->out[0]];
    int64_t H = is->d[2], W = is->d[3], OH = os->d[2], OW = os->d[3];
    float sh = (float)OH / (float)H, sw = (float)OW / (float)W;
    int64_t sizes_n = nd->n_in > 3 && nd->in[3] >= 0 ? fa_nn_shape_count(&shapes[nd->in[3]]) : 0;
    if (!sizes_n && nd->n_in > 2 && nd->in[2] >= 0) {
        const float *sc = bufs[nd->in[2]];
        sh = sc[2], sw = sc[3];
    }
    resize_axis(&nd->a, H, OH, sh, i0, i1, wt);
    resize_axis(&nd->a, W, OW, sw, i0 + OH, i1 + OH, wt + OH);
}

/* Nearest Resize of planes [H][W] -> [OH][OW] from the index tables
 * (rows ih[OH], columns iw[OW]): what the bilinear formula gives with zero
 * weights, copied instead of computed. An output row whose source row is
 * the previous one's is a copy of that row, and the common 2x upsample
 * (iw[w] = w / 2) writes each input float twice. */
static void resize_nearest_planes(const float *x, float *y, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                  int64_t OW, const int64_t *ih, const int64_t *iw) {
    int twice = OW == 2 * W;
    for (int64_t w = 0; twice && w < OW; w++)
        twice = iw[w] == w / 2;
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * H * W;
        float *yp = y + p * OH * OW;
        for (int64_t h = 0; h < OH; h++) {
            float *yr = yp + h * OW;
            const float *r = xp + ih[h] * W;
            if (h > 0 && ih[h] == ih[h - 1]) {
                memcpy(yr, yr - OW, (size_t)OW * sizeof *yr);
            } else if (twice) {
                for (int64_t w = 0; w < W; w++)
                    yr[2 * w] = yr[2 * w + 1] = r[w];
            } else {
                for (int64_t w = 0; w < OW; w++)
                    yr[w] = r[iw[w]];
            }
        }
    }
}

/* The plain bilinear loop (FA_NN_OPS_FAST=0): per output element, two
 * horizontal interpolations and one vertical, from the index tables. */
static void bilinear_direct(const float *x, float *y, int64_t planes, int64_t H, int64_t W, int64_t OH,
                            int64_t OW, const int64_t *i0, const int64_t *i1, const float *wt) {
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * H * W;
        float *yp = y + p * OH * OW;
        for (int64_t h = 0; h < OH; h++) {
            const float *r0 = xp + i0[h] * W, *r1 = xp + i1[h] * W;
            float fy = wt[h];
            for (int64_t w = 0; w < OW; w++) {
                int64_t a0 = i0[OH + w], a1 = i1[OH + w];
                float fx = wt[OH + w];
                float top = r0[a0] + (r0[a1] - r0[a0]) * fx, bot = r1[a0] + (r1[a1] - r1[a0]) * fx;
                yp[h * OW + w] = top + (bot - top) * fy;
            }
        }
    }
}

/* Bilinear Resize, separable. The horizontal interpolation of a source
 * row, r[a0] + (r[a1] - r[a0]) * fx, does not depend on the output row,
 * yet the plain loop computes it twice per output element (top and
 * bottom) and each source row is the top or bottom of ~2 output rows in a
 * 2x upsample: here each source row a plane uses is interpolated once into
 * hx, then every output row is top + (bot - top) * fy over two hx rows.
 * The same operations on the same values per element: bitwise the plain
 * loop's results. AVX-512 does 16 output columns at a time, their sources
 * taken from a 32-float window of the row with one two-register permute
 * (any scale >= 1/2, the usual up- and downsampling), else a gather. */
typedef struct bilin {
    int64_t H, W, OH, OW;
    const int64_t *ih0, *ih1, *iw0, *iw1; /* source rows / columns per output row / column */
    const float *fy, *fx;                 /* the second source's weight */
    int64_t *base;                        /* per 16 output columns: window start, -1 gather */
    float *hx;                            /* [H][OW]: source rows interpolated along W */
    int32_t *c0, *c1;                     /* iw0 / iw1 as vector indices */
    unsigned char *used;                  /* [H]: a source row some output row reads */
} bilin;

static void lerp_row_generic(const float *r, const bilin *b, float *out) {
    for (int64_t w = 0; w < b->OW; w++)
        out[w] = r[b->iw0[w]] + (r[b->iw1[w]] - r[b->iw0[w]]) * b->fx[w];
}

/* One output row from two interpolated rows; plus[w] added last when
 * plus is not NULL (a fused Add: fa_nn_op_resize_add). */
static void lerp_rows_generic(const float *t, const float *bt, float fy, int64_t n, const float *plus,
                              float *y) {
    if (!plus) {
        for (int64_t w = 0; w < n; w++)
            y[w] = t[w] + (bt[w] - t[w]) * fy;
        return;
    }
    for (int64_t w = 0; w < n; w++)
        y[w] = (t[w] + (bt[w] - t[w]) * fy) + plus[w];
}

#if OPS_X86
/* Lanes i < 16 with col + i < w (col >= 0). */
static __mmask16 cols_below(int64_t col, int64_t w) { return w - col <= 0 ? 0 : tail_mask(w - col); }

OPS_AVX512 static void lerp_row_avx512(const float *r, const bilin *b, float *out) {
    for (int64_t w = 0, blk = 0; w < b->OW; w += 16, blk++) {
        __mmask16 m = tail_mask(b->OW - w);
        __m512i i0 = _mm512_maskz_loadu_epi32(m, b->c0 + w), i1 = _mm512_maskz_loadu_epi32(m, b->c1 + w);
        __m512 v0, v1, f = _mm512_maskz_loadu_ps(m, b->fx + w);
        int64_t at = b->base[blk];
        if (at >= 0) {
            __m512 lo = _mm512_maskz_loadu_ps(cols_below(at, b->W), r + at), hi = _mm512_setzero_ps();
            if (at + 16 < b->W) hi = _mm512_maskz_loadu_ps(cols_below(at + 16, b->W), r + at + 16);
            __m512i sb = _mm512_set1_epi32((int)at);
            v0 = _mm512_permutex2var_ps(lo, _mm512_sub_epi32(i0, sb), hi);
            v1 = _mm512_permutex2var_ps(lo, _mm512_sub_epi32(i1, sb), hi);
        } else {
            v0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i0, r, 4);
            v1 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, i1, r, 4);
        }
        _mm512_mask_storeu_ps(out + w, m, _mm512_add_ps(v0, _mm512_mul_ps(_mm512_sub_ps(v1, v0), f)));
    }
}

OPS_AVX512 static void lerp_rows_avx512(const float *t, const float *bt, float fy, int64_t n,
                                        const float *plus, float *y) {
    __m512 f = _mm512_set1_ps(fy);
    for (int64_t w = 0; w < n; w += 16) {
        __mmask16 m = tail_mask(n - w);
        __m512 vt = _mm512_maskz_loadu_ps(m, t + w), vb = _mm512_maskz_loadu_ps(m, bt + w);
        __m512 v = _mm512_add_ps(vt, _mm512_mul_ps(_mm512_sub_ps(vb, vt), f));
        if (plus) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, plus + w));
        _mm512_mask_storeu_ps(y + w, m, v);
    }
}
#endif

/* Fills the per-call tables of b past the index tables, in one block
 * fa_malloc'd into *mem (the caller frees it): 0, or FA_ENOMEM. */
static int bilin_tables(bilin *b, void **mem) {
    int64_t blocks = (b->OW + 15) / 16;
    size_t bytes = (size_t)blocks * sizeof(int64_t) + (size_t)(b->H * b->OW) * sizeof(float) +
                   (size_t)b->OW * 2 * sizeof(int32_t) + (size_t)b->H;
    char *p = *mem = fa_malloc(bytes);
    if (!p) return FA_ENOMEM;
    b->base = (int64_t *)(void *)p, p += (size_t)blocks * sizeof(int64_t);
    b->hx = (float *)(void *)p, p += (size_t)(b->H * b->OW) * sizeof(float);
    b->c0 = (int32_t *)(void *)p, b->c1 = b->c0 + b->OW, p += (size_t)b->OW * 2 * sizeof(int32_t);
    b->used = (unsigned char *)p;
    memset(b->used, 0, (size_t)b->H);
    for (int64_t h = 0; h < b->OH; h++)
        b->used[b->ih0[h]] = b->used[b->ih1[h]] = 1;
    for (int64_t w = 0; w < b->OW; w++)
        b->c0[w] = (int32_t)b->iw0[w], b->c1[w] = (int32_t)b->iw1[w];
    for (int64_t k = 0; k < blocks; k++) {
        int64_t lo = b->W, hi = 0;
        for (int64_t w = k * 16; w < b->OW && w < k * 16 + 16; w++) {
            lo = b->iw0[w] < lo ? b->iw0[w] : lo, lo = b->iw1[w] < lo ? b->iw1[w] : lo;
            hi = b->iw0[w] > hi ? b->iw0[w] : hi, hi = b->iw1[w] > hi ? b->iw1[w] : hi;
        }
        b->base[k] = hi - lo < 32 ? lo : -1;
    }
    return 0;
}

/* The Resize of b over planes of x into y, plus (when not NULL, y's
 * shape) added to each output element. */
static void bilinear_planes(const float *x, const float *plus, float *y, int64_t planes, const bilin *b,
                            int wide) {
    void (*row)(const float *, const bilin *, float *) = lerp_row_generic;
    void (*rows)(const float *, const float *, float, int64_t, const float *, float *) = lerp_rows_generic;
#if OPS_X86
    if (wide) row = lerp_row_avx512, rows = lerp_rows_avx512;
#endif
    (void)wide;
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * b->H * b->W;
        float *yp = y + p * b->OH * b->OW;
        for (int64_t r = 0; r < b->H; r++)
            if (b->used[r]) row(xp + r * b->W, b, b->hx + r * b->OW);
        for (int64_t h = 0; h < b->OH; h++) {
            const float *pl = plus ? plus + (p * b->OH + h) * b->OW : NULL;
            rows(b->hx + b->ih0[h] * b->OW, b->hx + b->ih1[h] * b->OW, b->fy[h], b->OW, pl, yp + h * b->OW);
        }
    }
}

/* Resize c's input 0 into y, plus added when not NULL (bilinear only:
 * fa_nn_resize_add_fusable). */
static int resize_into(const op_ctx *c, const float *plus, float *y) {
    const fa_nn_shape *is = ish(c, 0), *os = osh(c, 0);
    int64_t H = is->d[2], W = is->d[3], OH = os->d[2], OW = os->d[3], planes = is->d[0] * is->d[1];
    size_t nidx = (size_t)(OH + OW);
    int64_t *i0 = fa_malloc(nidx * 2 * sizeof *i0);
    float *wt = fa_malloc(nidx * sizeof *wt);
    void *mem = NULL;
    int rc = i0 && wt ? 0 : FA_ENOMEM;
    if (!rc) {
        int64_t *i1 = i0 + nidx;
        fa_nn_resize_tables(c->nd, c->s, c->bufs, i0, i1, wt);
        const float *x = in(c, 0);
        bilin b = {H, W, OH, OW, i0, i1, i0 + OH, i1 + OH, wt, wt + OH, NULL, NULL, NULL, NULL, NULL};
        if (c->nd->a.resize_mode == FA_NN_RESIZE_NEAREST)
            resize_nearest_planes(x, y, planes, H, W, OH, OW, i0, i0 + OH);
        else if (!ops_fast() || W > INT32_MAX)
            bilinear_direct(x, y, planes, H, W, OH, OW, i0, i1, wt);
        else if (!(rc = bilin_tables(&b, &mem)))
            bilinear_planes(x, plus, y, planes, &b, ops_avx512());
    }
    free(mem);
    free(i0);
    free(wt);
    return rc;
}

static int run_resize(const op_ctx *c) { return resize_into(c, NULL, out(c, 0)); }

int fa_nn_resize_add_fusable(const fa_nn_graph *g, const fa_nn_node *rs, const fa_nn_node *ad,
                             const fa_nn_shape *shapes) {
    if (!ops_fast() || rs->op != FA_NN_OP_RESIZE || ad->op != FA_NN_OP_ADD || ad->n_in != 2) return 0;
    if (rs->a.resize_mode != FA_NN_RESIZE_LINEAR || g->tensors[rs->in[0]].dtype != FA_NN_FLOAT) return 0;
    const fa_nn_shape *is = &shapes[rs->in[0]], *y = &shapes[ad->out[0]];
    int r = rs->out[0];
    if (is->rank != 4 || is->d[3] > INT32_MAX || (ad->in[0] == r) == (ad->in[1] == r)) return 0;
    int64_t n = fa_nn_shape_count(y);
    return fa_nn_shape_count(&shapes[ad->in[0]]) == n && fa_nn_shape_count(&shapes[ad->in[1]]) == n &&
           fa_nn_shape_count(&shapes[r]) == n;
}

int fa_nn_op_resize_add(const fa_nn_graph *g, const fa_nn_node *rs, const fa_nn_node *ad,
                        const fa_nn_shape *shapes, void *const *bufs) {
    op_ctx c = {g, rs, shapes, bufs};
    int other = ad->in[0] == rs->out[0] ? ad->in[1] : ad->in[0];
    int rc = resize_into(&c, bufs[other], bufs[ad->out[0]]);
    if (rc)
        return fa_err_set(rc, "%s: node '%s' (Resize fused into Add '%s'): out of memory", g->file, rs->name,
                          ad->name);
    return 0;
}

/* ---------------------------------------------------------- data movement */

static void run_concat(const op_ctx *c) {
    int axis = c->nd->a.axis;
    size_t es = esize(c);
    const fa_nn_shape *os = osh(c, 0);
    int64_t outer = prod(os, 0, axis), inner = prod(os, axis + 1, os->rank);
    char *y = out(c, 0);
    int64_t off = 0;
    for (int i = 0; i < c->nd->n_in; i++) {
        int64_t chunk = ish(c, i)->d[axis] * inner;
        const char *x = in(c, i);
        for (int64_t o = 0; o < outer; o++)
            memcpy(y + (size_t)((o * os->d[axis] * inner + off) * (int64_t)es), x + (size_t)(o * chunk) * es,
                   (size_t)chunk * es);
        off += chunk;
    }
}

static void run_split(const op_ctx *c) {
    int axis = c->nd->a.axis;
    size_t es = esize(c);
    const fa_nn_shape *is = ish(c, 0);
    int64_t outer = prod(is, 0, axis), inner = prod(is, axis + 1, is->rank), off = 0;
    const char *x = in(c, 0);
    for (int i = 0; i < c->nd->n_out; i++) {
        int64_t chunk = c->nd->a.split[i] * inner;
        char *y = out(c, i);
        for (int64_t o = 0; o < outer; o++)
            memcpy(y + (size_t)(o * chunk) * es, x + (size_t)(o * is->d[axis] * inner + off) * es,
                   (size_t)chunk * es);
        off += chunk;
    }
}

/* A transpose reduced to its fewest dimensions: size-1 dims dropped and
 * input dims that stay adjacent, in order, in the output merged. The
 * channel shuffles of ShuffleNet-style detectors ([g, c, hw] -> [c, g, hw])
 * become a 3-D transpose whose inner dim is a contiguous run. */
typedef struct perm_plan {
    int rank;
    int64_t od[FA_NN_MAX_RANK]; /* output dims */
    int64_t st[FA_NN_MAX_RANK]; /* input stride (elements) of each output dim */
} perm_plan;

static void plan_transpose(const fa_nn_shape *is, const int *perm, perm_plan *p) {
    int64_t istride[FA_NN_MAX_RANK], step = 1;
    for (int i = is->rank - 1; i >= 0; i--)
        istride[i] = step, step *= is->d[i];
    p->rank = 0;
    for (int j = 0; j < is->rank; j++) {
        int a = perm[j];
        if (is->d[a] == 1) continue;
        /* merges with the previous output dim when that one is input dim a - 1 (skipping 1s) */
        if (p->rank && p->st[p->rank - 1] == istride[a] * is->d[a]) {
            p->od[p->rank - 1] *= is->d[a];
            p->st[p->rank - 1] = istride[a];
            continue;
        }
        p->od[p->rank] = is->d[a];
        p->st[p->rank++] = istride[a];
    }
    if (p->rank == 0) p->od[0] = 1, p->st[0] = 1, p->rank = 1;
}

/* y[j][i] = x[i][j] for x [rows][cols] of 4-byte elements, in 16 x 16
 * tiles so both sides stay in cache lines being used (the softmax of a
 * detector's head runs between two of these: [80][484] <-> [484][80]). */
#if OPS_X86
/* One whole 16 x 16 tile: y[j * ldy + i] = x[i * ldx + j], in registers
 * (pairs, then quads interleaved within 128-bit lanes, then the lanes). */
OPS_AVX512 static void transpose16_avx512(const float *x, int64_t ldx, float *y, int64_t ldy, int sig) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++)
        r[i] = sig ? sigmoid16(_mm512_loadu_ps(x + i * ldx)) : _mm512_loadu_ps(x + i * ldx);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int h = 0; h < 16; h += 8)
        for (int i = 0; i < 4; i++) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        _mm512_storeu_ps(y + i * ldy, _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88));
        _mm512_storeu_ps(y + (i + 8) * ldy, _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd));
    }
}
#endif

/* sig: y[j][i] = sigmoid(x[i][j]) (a Sigmoid fused in: fa_nn_op_run_blocks). */
static void transpose_2d_f32(const void *xv, void *yv, int64_t rows, int64_t cols, int sig) {
    const uint32_t *x = xv;
    uint32_t *y = yv;
    enum { T = 16 };
    int wide = ops_avx512();
    for (int64_t i0 = 0; i0 < rows; i0 += T)
        for (int64_t j0 = 0; j0 < cols; j0 += T) {
            int64_t i1 = i0 + T < rows ? i0 + T : rows, j1 = j0 + T < cols ? j0 + T : cols;
#if OPS_X86
            if (wide && i1 - i0 == T && j1 - j0 == T) {
                const float *xt = (const float *)xv + i0 * cols + j0;
                transpose16_avx512(xt, cols, (float *)yv + j0 * rows + i0, rows, sig);
                continue;
            }
#endif
            for (int64_t j = j0; sig && j < j1; j++)
                for (int64_t i = i0; i < i1; i++)
                    ((float *)yv)[j * rows + i] = sigmoid1(((const float *)xv)[i * cols + j]);
            for (int64_t j = j0; !sig && j < j1; j++)
                for (int64_t i = i0; i < i1; i++)
                    y[j * rows + i] = x[i * cols + j];
        }
    (void)wide;
}

static void run_transpose(const op_ctx *c) {
    const fa_nn_shape *is = ish(c, 0);
    int perm[FA_NN_MAX_RANK];
    for (int i = 0; i < is->rank; i++)
        perm[i] = c->nd->a.n_perm ? c->nd->a.perm[i] : is->rank - 1 - i;
    perm_plan p;
    plan_transpose(is, perm, &p);
    size_t es = esize(c);
    const char *x = in(c, 0);
    char *y = out(c, 0);
    if (p.rank == 2 && p.st[0] == 1 && p.st[1] == p.od[0] && es == 4) {
        transpose_2d_f32(x, y, p.od[1], p.od[0], 0);
        return;
    }
    /* a batch of 2-D transposes ([N][C][HW] -> [N][HW][C]: a detector head's output at batch > 1) */
    if (p.rank == 3 && p.st[1] == 1 && p.st[2] == p.od[1] && p.st[0] == p.od[1] * p.od[2] && es == 4 &&
        ops_fast()) {
        for (int64_t i = 0; i < p.od[0]; i++) {
            size_t at = (size_t)(i * p.st[0]) * es;
            transpose_2d_f32(x + at, y + at, p.od[2], p.od[1], 0);
        }
        return;
    }
    /* the innermost output dim: a contiguous run when its input stride is 1 */
    int last = p.rank - 1;
    int64_t run = p.od[last], rst = p.st[last], idx[FA_NN_MAX_RANK] = {0}, src = 0;
    int64_t rows = fa_nn_shape_count(is) / run;
    for (int64_t r = 0; r < rows; r++) {
        if (rst == 1) {
            memcpy(y, x + (size_t)src * es, (size_t)run * es);
            y += (size_t)run * es;
        } else if (es == 4) {
            const uint32_t *xs = (const uint32_t *)(const void *)x + src;
            uint32_t *ys = (uint32_t *)(void *)y;
            for (int64_t k = 0; k < run; k++)
                ys[k] = xs[k * rst];
            y += (size_t)run * 4;
        } else {
            for (int64_t k = 0; k < run; k++, y += es)
                memcpy(y, x + (size_t)(src + k * rst) * es, es);
        }
        for (int d = last - 1; d >= 0; d--) {
            src += p.st[d];
            if (++idx[d] < p.od[d]) break;
            src -= p.st[d] * p.od[d];
            idx[d] = 0;
        }
    }
}

static void run_gather(const op_ctx *c) {
    int axis = c->nd->a.axis;
    const fa_nn_shape *is = ish(c, 0);
    size_t es = esize(c);
    int64_t outer = prod(is, 0, axis), inner = prod(is, axis + 1, is->rank), len = is->d[axis];
    int64_t n = fa_nn_shape_count(ish(c, 1));
    const int64_t *idx = in(c, 1);
    const char *x = in(c, 0);
    char *y = out(c, 0);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < n; k++) {
            int64_t j = idx[k] < 0 ? idx[k] + len : idx[k];
            memcpy(y + (size_t)((o * n + k) * inner) * es, x + (size_t)((o * len + j) * inner) * es,
                   (size_t)inner * es);
        }
}

/* A fused channel shuffle (fuse_shuffle.c): each output channel of each
 * image copied once, straight from the input holding that channel of the
 * concatenation. */
static void run_shuffle(const op_ctx *c, const fa_nn_shuffle *sh) {
    const fa_nn_shape *x = ish(c, 0);
    size_t es = esize(c);
    int64_t inner = prod(x, 2, x->rank), first[FA_NN_MAX_IO + 1] = {0};
    for (int i = 0; i < c->nd->n_in; i++)
        first[i + 1] = first[i] + ish(c, i)->d[1];
    const int64_t *src = sh->src;
    for (int o = 0; o < c->nd->n_out; src += sh->channels[o], o++) {
        char *y = out(c, o);
        int64_t k_out = sh->channels[o];
        for (int64_t n = 0; n < x->d[0]; n++)
            for (int64_t k = 0; k < k_out; k++) {
                int i = 0;
                while (src[k] >= first[i + 1])
                    i++;
                int64_t c_in = first[i + 1] - first[i];
                const char *xi =
                    (const char *)in(c, i) + (size_t)((n * c_in + src[k] - first[i]) * inner) * es;
                memcpy(y + (size_t)((n * k_out + k) * inner) * es, xi, (size_t)inner * es);
            }
    }
}

/* Constant Pad of only the last two dims (a detector's explicit pooling
 * pad): plane by plane, each output float written once. 0 when the pads
 * touch other dims (or are negative: cropping), for the generic path. */
static int pad_planes(const fa_nn_shape *is, const fa_nn_shape *os, const int64_t *pads, float value,
                      const float *x, float *y) {
    int r = is->rank;
    for (int d = 0; d < r; d++)
        if (pads[d] < 0 || pads[r + d] < 0 || (d < r - 2 && (pads[d] || pads[r + d]))) return 0;
    int64_t H = is->d[r - 2], W = is->d[r - 1], OH = os->d[r - 2], OW = os->d[r - 1];
    int64_t top = pads[r - 2], left = pads[r - 1], right = OW - W - left;
    for (int64_t p = 0; p < prod(is, 0, r - 2); p++) {
        const float *xp = x + p * H * W;
        float *yp = y + p * OH * OW;
        for (int64_t h = 0; h < OH; h++, yp += OW) {
            if (h < top || h >= top + H) {
                for (int64_t w = 0; w < OW; w++)
                    yp[w] = value;
                continue;
            }
            for (int64_t w = 0; w < left; w++)
                yp[w] = value;
            memcpy(yp + left, xp + (h - top) * W, (size_t)W * sizeof *yp);
            for (int64_t w = left + W; w < left + W + right; w++)
                yp[w] = value;
        }
    }
    return 1;
}

static void run_pad(const op_ctx *c) {
    const fa_nn_shape *is = ish(c, 0), *os = osh(c, 0);
    const int64_t *pads = in(c, 1);
    float value = c->nd->n_in > 2 && c->nd->in[2] >= 0 ? *(const float *)in(c, 2) : 0.0f;
    const float *x = in(c, 0);
    float *y = out(c, 0);
    int r = is->rank;
    if (r >= 2 && pad_planes(is, os, pads, value, x, y)) return;
    int64_t n = fa_nn_shape_count(os);
    for (int64_t i = 0; i < n; i++)
        y[i] = value;
    int64_t ostride[FA_NN_MAX_RANK], step = 1, idx[FA_NN_MAX_RANK] = {0};
    for (int i = r - 1; i >= 0; i--)
        ostride[i] = step, step *= os->d[i];
    int64_t row = r ? is->d[r - 1] : 1, rows = r ? prod(is, 0, r - 1) : 1;
    if (row == 0) return;
    for (int64_t k = 0; k < rows; k++) {
        int64_t dst = 0;
        for (int d = 0; d < r; d++)
            dst += (idx[d] + pads[d]) * ostride[d];
        memcpy(y + dst, x + k * row, (size_t)row * sizeof *y);
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < is->d[d]) break;
            idx[d] = 0;
        }
    }
}

/* ------------------------------------------------- input read in blocks */

/* The 2-D transposes node nd (a Transpose) is a batch of, when its plan
 * is [blocks][rows][cols] -> [blocks][cols][rows] of floats (or one of
 * them with blocks 1): 1 with *rows and *cols set, else 0. */
static int transpose_blocks(const fa_nn_graph *g, const fa_nn_node *nd, const fa_nn_shape *shapes,
                            int64_t blocks, int64_t *rows, int64_t *cols) {
    const fa_nn_shape *is = &shapes[nd->in[0]];
    if (g->tensors[nd->in[0]].dtype != FA_NN_FLOAT || nd->n_in != 1) return 0;
    int perm[FA_NN_MAX_RANK];
    for (int i = 0; i < is->rank; i++)
        perm[i] = nd->a.n_perm ? nd->a.perm[i] : is->rank - 1 - i;
    perm_plan p;
    plan_transpose(is, perm, &p);
    if (p.rank == 2 && blocks == 1 && p.st[0] == 1 && p.st[1] == p.od[0]) {
        *rows = p.od[1], *cols = p.od[0];
        return 1;
    }
    if (p.rank == 3 && p.od[0] == blocks && p.st[1] == 1 && p.st[2] == p.od[1] &&
        p.st[0] == p.od[1] * p.od[2]) {
        *rows = p.od[2], *cols = p.od[1];
        return 1;
    }
    return 0;
}

int fa_nn_op_blocks_ok(const fa_nn_graph *g, const fa_nn_node *nd, const fa_nn_shape *shapes,
                       int64_t blocks) {
    int64_t rows, cols, n = fa_nn_shape_count(&shapes[nd->in[0]]);
    if (!ops_fast() || blocks < 1 || n % blocks) return 0;
    if (nd->op == FA_NN_OP_SIGMOID) return g->tensors[nd->in[0]].dtype == FA_NN_FLOAT;
    return nd->op == FA_NN_OP_TRANSPOSE && transpose_blocks(g, nd, shapes, blocks, &rows, &cols);
}

void fa_nn_op_run_blocks(const fa_nn_graph *g, const fa_nn_node *nd, const fa_nn_shape *shapes,
                         void *const *bufs, const float *x, int64_t blocks, int64_t stride,
                         int sigmoid_first) {
    int64_t rows = 1, cols = 1, len = fa_nn_shape_count(&shapes[nd->in[0]]) / blocks;
    float *y = bufs[nd->out[0]];
    int sigmoid = nd->op == FA_NN_OP_SIGMOID;
    if (!sigmoid) transpose_blocks(g, nd, shapes, blocks, &rows, &cols);
    for (int64_t b = 0; b < blocks; b++) {
        if (sigmoid)
            run_sigmoid(x + b * stride, y + b * len, len);
        else
            transpose_2d_f32(x + b * stride, y + b * len, rows, cols, sigmoid_first);
    }
}

int fa_nn_op_run(const fa_nn_graph *g, const fa_nn_node *nd, const fa_nn_shape *shapes, void *const *bufs) {
    op_ctx c = {g, nd, shapes, bufs};
    if (nd->op != FA_NN_OP_CONCAT && nd->op != FA_NN_OP_TRANSPOSE && nd->op != FA_NN_OP_RESHAPE &&
        nd->op != FA_NN_OP_GATHER && nd->op != FA_NN_OP_SPLIT && g->tensors[nd->in[0]].dtype != FA_NN_FLOAT)
        return fa_err_set(FA_EINVAL, "%s: node '%s' (%s): int64 input not supported", g->file, nd->name,
                          fa_nn_op_name(nd->op));
    switch (nd->op) {
    case FA_NN_OP_RELU:
    case FA_NN_OP_LEAKY_RELU:
    case FA_NN_OP_SIGMOID: run_unary(&c); return 0;
    case FA_NN_OP_BATCHNORM: run_batchnorm(&c); return 0;
    case FA_NN_OP_ADD: run_add(&c); return 0;
    case FA_NN_OP_SOFTMAX: run_softmax(&c); return 0;
    case FA_NN_OP_MAXPOOL:
    case FA_NN_OP_AVGPOOL: return run_pool(&c);
    case FA_NN_OP_RESIZE: return run_resize(&c);
    case FA_NN_OP_CONCAT: run_concat(&c); return 0;
    case FA_NN_OP_SPLIT: run_split(&c); return 0;
    case FA_NN_OP_TRANSPOSE: run_transpose(&c); return 0;
    case FA_NN_OP_GATHER: {
        const fa_nn_shuffle *sh = fa_nn_node_shuffle(g, nd);
        if (sh)
            run_shuffle(&c, sh);
        else
            run_gather(&c);
        return 0;
    }
    case FA_NN_OP_PAD: run_pad(&c); return 0;
    case FA_NN_OP_RESHAPE:
        if (bufs[nd->out[0]] != bufs[nd->in[0]])
            memcpy(bufs[nd->out[0]], bufs[nd->in[0]],
                   (size_t)fa_nn_shape_count(&shapes[nd->in[0]]) * esize(&c));
        return 0;
    default:
        return fa_err_set(FA_EINVAL, "%s: node '%s': %s is not an elementary operator", g->file, nd->name,
                          fa_nn_op_name(nd->op));
    }
}
