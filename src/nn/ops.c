/*
 * ops.c - the non-convolution operators, fp32 NCHW, portable C.
 *
 * These are a small fraction of a detector's time (the convolutions are in
 * the backends), so they are written for clarity: each follows the ONNX
 * operator specification literally, and where the specification leaves a
 * choice (pooling windows in ceil_mode, Resize's clamping of coordinates)
 * ONNX Runtime's CPU behaviour is the reference, since its outputs are the
 * golden ones. Data-movement ops (Concat, Transpose, Reshape, Gather, Split)
 * work on any element size, so constant folding can run them on int64
 * shape tensors as well. Shapes were validated by inference (graph.c)
 * before any of these runs.
 */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* ------------------------------------------------------------ elementwise */

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
    default:
        for (int64_t i = 0; i < n; i++)
            y[i] = 1.0f / (1.0f + expf(-x[i]));
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

/* Add with numpy broadcasting: strides of 0 on broadcast dims. */
static void run_add(const op_ctx *c) {
    const fa_nn_shape *o = osh(c, 0);
    const float *a = in(c, 0), *b = in(c, 1);
    float *y = out(c, 0);
    int64_t n = fa_nn_shape_count(o);
    if (fa_nn_shape_count(ish(c, 0)) == n && fa_nn_shape_count(ish(c, 1)) == n) {
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
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xp = x + o * len * inner + i;
            float *yp = y + o * len * inner + i, mx = xp[0], sum = 0;
            for (int64_t k = 1; k < len; k++)
                mx = xp[k * inner] > mx ? xp[k * inner] : mx;
            for (int64_t k = 0; k < len; k++)
                sum += yp[k * inner] = expf(xp[k * inner] - mx);
            for (int64_t k = 0; k < len; k++)
                yp[k * inner] /= sum;
        }
}

/* ---------------------------------------------------------------- pooling */

/* First in-range position of a window starting at lo with step dil (lo may be negative). */
static int64_t clip_lo(int64_t lo, int dil) { return lo >= 0 ? lo : lo + (-lo + dil - 1) / dil * dil; }

/* One output row of a pool: acc[ow] over input rows [h0, h1) (clipped,
 * step dil[0]) and each output's columns [cw0[ow], cw1[ow]) (clipped, step
 * dil[1]). The column windows are computed once per node, so the inner
 * loops carry no bounds tests; max and sum are separate loops so each is
 * a plain reduction the compiler can keep in registers. */
static void pool_row(const float *xp, int64_t W, int64_t h0, int64_t h1, const int64_t *cw0, const int64_t *cw1,
                     int64_t OW, const int *dil, int kw3, int is_max, float *acc) {
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

/* m[w] = max(m[w], row[w]) for w < n: the column maxima of a window's rows
 * (SSE where available; the same x > m ? x : m rule as pool_row). */
static void max_rows_into(float *m, const float *row, int64_t n) {
    int64_t w = 0;
#if defined(__SSE2__)
    for (; w + 4 <= n; w += 4)
        _mm_storeu_ps(m + w, _mm_max_ps(_mm_loadu_ps(row + w), _mm_loadu_ps(m + w)));
#endif
    for (; w < n; w++)
        m[w] = row[w] > m[w] ? row[w] : m[w];
}

/* MaxPool without dilation, separably: per output row, the column maxima
 * over the window's rows (one contiguous vector pass per row), then each
 * output the max of its columns' maxima. kh + kw compares per output
 * instead of kh x kw scalar ones: FastestDet's 3x3/2 stem pool took 1.2 ms
 * of 14 the other way (profiled). */
static void max_pool_separable(const op_ctx *c, const int64_t *cw, float *colmax) {
    const fa_nn_shape *is = ish(c, 0), *os = osh(c, 0);
    const fa_nn_attrs *a = &c->nd->a;
    const float *x = in(c, 0);
    float *y = out(c, 0);
    int64_t H = is->d[2], W = is->d[3], OH = os->d[2], OW = os->d[3];
    for (int64_t p = 0; p < is->d[0] * is->d[1]; p++) {
        const float *xp = x + p * H * W;
        for (int64_t oh = 0; oh < OH; oh++) {
            int64_t h0 = oh * a->strides[0] - a->pads[0], h1 = h0 + a->kernel[0];
            h0 = h0 < 0 ? 0 : h0, h1 = h1 < H ? h1 : H;
            if (h0 < h1)
                memcpy(colmax, xp + h0 * W, (size_t)W * sizeof *colmax);
            else
                for (int64_t w = 0; w < W; w++)
                    colmax[w] = -INFINITY;
            for (int64_t h = h0 + 1; h < h1; h++)
                max_rows_into(colmax, xp + h * W, W);
            float *yr = y + (p * OH + oh) * OW;
            for (int64_t ow = 0; ow < OW; ow++) {
                const float *cm = colmax + cw[ow];
                float m = -INFINITY;
                if (cw[OW + ow] - cw[ow] == 3) { /* the common 3-wide window, unrolled */
                    m = cm[0] > m ? cm[0] : m;
                    m = cm[1] > m ? cm[1] : m;
                    m = cm[2] > m ? cm[2] : m;
                } else {
                    for (int64_t w = cw[ow]; w < cw[OW + ow]; w++)
                        m = colmax[w] > m ? colmax[w] : m;
                }
                yr[ow] = m;
            }
        }
    }
}

static int run_pool(const op_ctx *c) {
    const fa_nn_shape *is = ish(c, 0), *os = osh(c, 0);
    const fa_nn_attrs *a = &c->nd->a;
    const float *x = in(c, 0);
    float *y = out(c, 0);
    int64_t H = is->d[2], W = is->d[3], OH = os->d[2], OW = os->d[3];
    int is_max = c->nd->op == FA_NN_OP_MAXPOOL;
    int64_t *cw = fa_malloc((size_t)OW * 3 * sizeof *cw); /* cw0, cw1, padded width per column */
    int separable = is_max && a->dilations[0] == 1 && a->dilations[1] == 1;
    float *colmax = separable ? fa_malloc((size_t)W * sizeof *colmax) : NULL;
    if (!cw || (separable && !colmax)) {
        free(cw);
        free(colmax);
        return FA_ENOMEM;
    }
    for (int64_t ow = 0; ow < OW; ow++) {
        int64_t w0 = ow * a->strides[1] - a->pads[1];
        int64_t w1 = w0 + (int64_t)(a->kernel[1] - 1) * a->dilations[1] + 1;
        cw[ow] = clip_lo(w0, a->dilations[1]);
        cw[OW + ow] = w1 < W ? w1 : W;
        cw[2 * OW + ow] = (w1 < W + a->pads[3] ? w1 : W + a->pads[3]) - w0;
    }
    if (colmax) {
        max_pool_separable(c, cw, colmax);
        free(cw);
        free(colmax);
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

static int run_resize(const op_ctx *c) {
    const fa_nn_shape *is = ish(c, 0), *os = osh(c, 0);
    int64_t H = is->d[2], W = is->d[3], OH = os->d[2], OW = os->d[3];
    size_t nidx = (size_t)(OH + OW);
    int64_t *i0 = fa_malloc(nidx * 2 * sizeof *i0);
    float *wt = fa_malloc(nidx * sizeof *wt);
    if (!i0 || !wt) {
        free(i0);
        free(wt);
        return FA_ENOMEM;
    }
    int64_t *i1 = i0 + nidx;
    fa_nn_resize_tables(c->nd, c->s, c->bufs, i0, i1, wt);
    const float *x = in(c, 0);
    float *y = out(c, 0);
    for (int64_t p = 0; p < is->d[0] * is->d[1]; p++) {
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
    free(i0);
    free(wt);
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

static void run_pad(const op_ctx *c) {
    const fa_nn_shape *is = ish(c, 0), *os = osh(c, 0);
    const int64_t *pads = in(c, 1);
    float value = c->nd->n_in > 2 && c->nd->in[2] >= 0 ? *(const float *)in(c, 2) : 0.0f;
    const float *x = in(c, 0);
    float *y = out(c, 0);
    int64_t n = fa_nn_shape_count(os);
    for (int64_t i = 0; i < n; i++)
        y[i] = value;
    int r = is->rank;
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
    case FA_NN_OP_GATHER: run_gather(&c); return 0;
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
