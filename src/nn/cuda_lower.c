/*
 * cuda_lower.c - lowers a session's graph to a CUDA program, and runs such
 * a program on the host.
 *
 * The lowering keeps the session's memory plan: a computed tensor lives at
 * its arena byte offset / 4 (the plan sized fp32 elements, so an fp16
 * arena simply uses half of each slot), the graph input and the constants
 * an operator reads (Add's bias, a Concat'ed constant) get slots after the
 * plan's end. Every ONNX subtlety is resolved here, on the host, into the
 * step kinds of cuda_program.h: Resize's coordinate modes become the CPU
 * operator's own index tables (fa_nn_resize_tables), broadcasting becomes
 * zero strides, Gather with constant indices, Pad and a fused channel
 * shuffle (fuse_shuffle.c) become strided copies.
 *
 * The host interpreter executes a program in fp32 with the plain loops of
 * ops.c and the reference convolution; the tests compare it with the CPU
 * runtime, which proves the lowering on every machine, and the GPU plugin
 * is held to the interpreter (it shares the index arithmetic in
 * cuda_program.h).
 */
#include "nn/cuda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct lowering {
    fa_cuda_program p; /* first: the program handed out is the lowering */
    fa_cuda_step *steps;
    size_t cap_steps;
    fa_cuda_const *consts;
    size_t cap_consts;
    void **owned; /* tables and arrays the steps point to */
    size_t n_owned, cap_owned;
    int64_t *const_at; /* per tensor: its uploaded constant's offset, or -1 */
    const fa_nn_graph *g;
    const fa_nn_shape *s;
    const size_t *off;
    void *const *bufs;
    const fa_nn_node *nd; /* the node being lowered */
    int node;
} lowering;

static void *own(lowering *lw, size_t bytes) {
    if (fa_grow(&lw->owned, &lw->cap_owned, lw->n_owned + 1, sizeof *lw->owned)) return NULL;
    void *p = fa_calloc(1, bytes ? bytes : 1);
    if (p) lw->owned[lw->n_owned++] = p;
    return p;
}

static fa_cuda_step *add_step(lowering *lw, int kind, int64_t x, int64_t y) {
    if (fa_grow(&lw->steps, &lw->cap_steps, lw->p.n_steps + 1, sizeof *lw->steps)) return NULL;
    fa_cuda_step *st = &lw->steps[lw->p.n_steps++];
    memset(st, 0, sizeof *st);
    st->kind = kind, st->node = lw->node, st->x = x, st->x2 = -1, st->y = y;
    return st;
}

static int unsupported(const lowering *lw, const char *why) {
    return fa_err_set(FA_EINVAL, "%s: node '%s' (%s): not supported by the cuda backend: %s", lw->g->file,
                      lw->nd->name, fa_nn_op_name(lw->nd->op), why);
}

/* Arena offset of tensor id as an input: computed (the plan's slot), the
 * graph input, or a float constant uploaded once. -1 with the error set. */
static int64_t at(lowering *lw, int id) {
    const fa_nn_tensor *t = &lw->g->tensors[id];
    if (id == lw->g->inputs[0]) return lw->p.in_at;
    if (!t->data) {
        if (t->dtype != FA_NN_FLOAT) return unsupported(lw, "an int64 tensor computed at run time"), -1;
        if (lw->off[id] == SIZE_MAX) return unsupported(lw, "a tensor with no place in the arena"), -1;
        return (int64_t)(lw->off[id] / sizeof(float));
    }
    if (t->dtype != FA_NN_FLOAT) return unsupported(lw, "an int64 constant read as data"), -1;
    if (lw->const_at[id] >= 0) return lw->const_at[id];
    if (fa_grow(&lw->consts, &lw->cap_consts, lw->p.n_consts + 1, sizeof *lw->consts))
        return fa_err_set(FA_ENOMEM, "nn: out of memory"), -1;
    int64_t n = fa_nn_shape_count(&lw->s[id]);
    lw->consts[lw->p.n_consts++] = (fa_cuda_const){lw->p.arena, n, t->data};
    lw->const_at[id] = lw->p.arena;
    lw->p.arena += (n + 15) / 16 * 16;
    return lw->const_at[id];
}

static int64_t count(const lowering *lw, int id) { return fa_nn_shape_count(&lw->s[id]); }

static int64_t prod(const fa_nn_shape *s, int from, int to) {
    int64_t n = 1;
    for (int i = from; i < to; i++) n *= s->d[i];
    return n;
}

/* A 2-D copy: rows x len elements, source rows src_row apart, destination
 * rows dst_row apart. */
static int copy_rows(lowering *lw, int64_t x, int64_t y, int64_t rows, int64_t len, int64_t src_row,
                     int64_t dst_row) {
    fa_cuda_step *st = add_step(lw, FA_CUDA_COPY, x, y);
    if (!st) return FA_ENOMEM;
    st->u.box = (fa_cuda_box){.rank = 2, .dim = {rows, len}, .src = {src_row, 1}, .dst = {dst_row, 1}};
    return 0;
}

/* ------------------------------------------------------------ operators */

static int lower_conv(lowering *lw, int64_t x, int64_t y) {
    const fa_nn_node *nd = lw->nd;
    const fa_nn_shape *is = &lw->s[nd->in[0]], *os = &lw->s[nd->out[0]];
    const fa_nn_tensor *w = &lw->g->tensors[nd->in[1]];
    if (!w->data) return unsupported(lw, "weights computed at run time");
    fa_cuda_step *st = add_step(lw, FA_CUDA_CONV, x, y);
    if (!st) return FA_ENOMEM;
    fa_cuda_conv *c = &st->u.conv;
    c->n = (int)is->d[0], c->c_in = (int)is->d[1], c->h_in = (int)is->d[2], c->w_in = (int)is->d[3];
    c->c_out = (int)os->d[1], c->h_out = (int)os->d[2], c->w_out = (int)os->d[3];
    c->kh = (int)w->shape[2], c->kw = (int)w->shape[3];
    c->stride_h = nd->a.strides[0], c->stride_w = nd->a.strides[1];
    c->dil_h = nd->a.dilations[0], c->dil_w = nd->a.dilations[1];
    c->pad_t = nd->a.pads[0], c->pad_l = nd->a.pads[1], c->groups = nd->a.group;
    c->act = nd->act, c->alpha = nd->act_alpha;
    c->w = w->data;
    c->b = nd->n_in > 2 && nd->in[2] >= 0 ? lw->g->tensors[nd->in[2]].data : NULL;
    return 0;
}

static int lower_unary(lowering *lw, int64_t x, int64_t y) {
    fa_cuda_step *st = add_step(lw, FA_CUDA_UNARY, x, y);
    if (!st) return FA_ENOMEM;
    int op = lw->nd->op;
    st->u.unary.act = op == FA_NN_OP_RELU ? FA_CUDA_ACT_RELU
                      : op == FA_NN_OP_LEAKY_RELU ? FA_CUDA_ACT_LEAKY
                                                  : FA_CUDA_ACT_SIGMOID;
    st->u.unary.alpha = lw->nd->a.alpha;
    st->u.unary.count = count(lw, lw->nd->in[0]);
    return 0;
}

static int lower_batchnorm(lowering *lw, int64_t x, int64_t y) {
    const fa_nn_node *nd = lw->nd;
    const fa_nn_shape *s = &lw->s[nd->in[0]];
    for (int i = 1; i < 5; i++)
        if (!lw->g->tensors[nd->in[i]].data) return unsupported(lw, "statistics computed at run time");
    const float *gm = lw->bufs[nd->in[1]], *bt = lw->bufs[nd->in[2]], *mu = lw->bufs[nd->in[3]],
                *var = lw->bufs[nd->in[4]];
    int64_t ch = s->d[1];
    float *sc = own(lw, (size_t)ch * 2 * sizeof *sc);
    fa_cuda_step *st = sc ? add_step(lw, FA_CUDA_AFFINE, x, y) : NULL;
    if (!st) return FA_ENOMEM;
    for (int64_t k = 0; k < ch; k++) {
        sc[k] = gm[k] / sqrtf(var[k] + nd->a.epsilon);
        sc[ch + k] = bt[k] - mu[k] * sc[k];
    }
    st->u.affine = (fa_cuda_affine){s->d[0], ch, prod(s, 2, s->rank), sc, sc + ch};
    return 0;
}

/* Add with numpy broadcasting: zero strides on broadcast dims. */
static int lower_add(lowering *lw, int64_t x, int64_t y) {
    const fa_nn_node *nd = lw->nd;
    const fa_nn_shape *o = &lw->s[nd->out[0]];
    int64_t x2 = at(lw, nd->in[1]);
    fa_cuda_step *st = x2 >= 0 ? add_step(lw, FA_CUDA_ADD, x, y) : NULL;
    if (x2 < 0) return fa_err_code();
    if (!st) return FA_ENOMEM;
    st->x2 = x2;
    fa_cuda_box *b = &st->u.box;
    b->rank = o->rank ? o->rank : 1;
    for (int i = 0; i < FA_CUDA_MAX_RANK; i++) b->dim[i] = 1;
    for (int i = 0; i < o->rank; i++) b->dim[i] = o->d[i];
    for (int k = 0; k < 2; k++) {
        const fa_nn_shape *in = &lw->s[nd->in[k]];
        int64_t *stride = k ? b->src2 : b->src, step = 1;
        for (int i = in->rank - 1; i >= 0; i--) {
            stride[i + o->rank - in->rank] = in->d[i] == 1 ? 0 : step;
            step *= in->d[i];
        }
    }
    for (int i = o->rank - 1, step = 1; i >= 0; step *= (int)o->d[i], i--) b->dst[i] = step;
    if (!o->rank) b->src[0] = b->src2[0] = b->dst[0] = 0;
    return 0;
}

/* Softmax over axis; before opset 13 over all trailing dims together. */
static int lower_softmax(lowering *lw, int64_t x, int64_t y) {
    const fa_nn_shape *s = &lw->s[lw->nd->in[0]];
    int axis = lw->nd->a.axis;
    fa_cuda_step *st = add_step(lw, FA_CUDA_SOFTMAX, x, y);
    if (!st) return FA_ENOMEM;
    st->u.softmax.outer = prod(s, 0, axis);
    if (lw->g->opset < 13)
        st->u.softmax.len = prod(s, axis, s->rank), st->u.softmax.inner = 1;
    else
        st->u.softmax.len = s->d[axis], st->u.softmax.inner = prod(s, axis + 1, s->rank);
    return 0;
}

static int lower_pool(lowering *lw, int64_t x, int64_t y) {
    const fa_nn_node *nd = lw->nd;
    const fa_nn_shape *is = &lw->s[nd->in[0]], *os = &lw->s[nd->out[0]];
    const fa_nn_attrs *a = &nd->a;
    fa_cuda_step *st = add_step(lw, FA_CUDA_POOL, x, y);
    if (!st) return FA_ENOMEM;
    st->u.pool = (fa_cuda_pool){.is_max = nd->op == FA_NN_OP_MAXPOOL, .kh = a->kernel[0], .kw = a->kernel[1],
                                .sh = a->strides[0], .sw = a->strides[1], .dh = a->dilations[0],
                                .dw = a->dilations[1], .pad_t = a->pads[0], .pad_l = a->pads[1],
                                .pad_b = a->pads[2], .pad_r = a->pads[3],
                                .count_include_pad = a->count_include_pad, .planes = is->d[0] * is->d[1],
                                .h = is->d[2], .w = is->d[3], .oh = os->d[2], .ow = os->d[3]};
    return 0;
}

static int lower_resize(lowering *lw, int64_t x, int64_t y) {
    const fa_nn_node *nd = lw->nd;
    const fa_nn_shape *is = &lw->s[nd->in[0]], *os = &lw->s[nd->out[0]];
    if (is->rank != 4) return unsupported(lw, "a resize of other than 4-D NCHW");
    size_t n = (size_t)(os->d[2] + os->d[3]);
    int64_t *i0 = own(lw, n * 2 * sizeof *i0);
    float *wt = own(lw, n * sizeof *wt);
    fa_cuda_step *st = i0 && wt ? add_step(lw, FA_CUDA_RESIZE, x, y) : NULL;
    if (!st) return FA_ENOMEM;
    fa_nn_resize_tables(nd, lw->s, lw->bufs, i0, i0 + n, wt);
    st->u.resize = (fa_cuda_resize){is->d[0] * is->d[1], is->d[2], is->d[3], os->d[2], os->d[3], i0, i0 + n, wt};
    return 0;
}

static int lower_concat(lowering *lw, int64_t y) {
    const fa_nn_node *nd = lw->nd;
    const fa_nn_shape *os = &lw->s[nd->out[0]];
    int axis = nd->a.axis;
    int64_t outer = prod(os, 0, axis), inner = prod(os, axis + 1, os->rank), off = 0;
    for (int i = 0; i < nd->n_in; i++) {
        int64_t chunk = lw->s[nd->in[i]].d[axis] * inner, x = at(lw, nd->in[i]);
        if (x < 0) return fa_err_code();
        int rc = copy_rows(lw, x, y + off, outer, chunk, chunk, os->d[axis] * inner);
        if (rc) return rc;
        off += chunk;
    }
    return 0;
}

static int lower_split(lowering *lw, int64_t x) {
    const fa_nn_node *nd = lw->nd;
    const fa_nn_shape *is = &lw->s[nd->in[0]];
    int axis = nd->a.axis;
    int64_t outer = prod(is, 0, axis), inner = prod(is, axis + 1, is->rank), off = 0;
    for (int i = 0; i < nd->n_out; i++) {
        int64_t chunk = lw->s[nd->out[i]].d[axis] * inner, y = at(lw, nd->out[i]);
        if (y < 0) return fa_err_code();
        int rc = copy_rows(lw, x + off, y, outer, chunk, is->d[axis] * inner, chunk);
        if (rc) return rc;
        off += chunk;
    }
    return 0;
}

static int lower_transpose(lowering *lw, int64_t x, int64_t y) {
    const fa_nn_shape *is = &lw->s[lw->nd->in[0]];
    int64_t istride[FA_NN_MAX_RANK], step = 1;
    for (int i = is->rank - 1; i >= 0; i--) istride[i] = step, step *= is->d[i];
    fa_cuda_step *st = add_step(lw, FA_CUDA_COPY, x, y);
    if (!st) return FA_ENOMEM;
    fa_cuda_box *b = &st->u.box;
    b->rank = is->rank;
    for (int j = 0; j < is->rank; j++) {
        int p = lw->nd->a.n_perm ? lw->nd->a.perm[j] : is->rank - 1 - j;
        b->dim[j] = is->d[p], b->src[j] = istride[p];
    }
    step = 1;
    for (int j = is->rank - 1; j >= 0; j--) b->dst[j] = step, step *= b->dim[j];
    return 0;
}

/* Gather with constant indices: one strided copy per index. */
static int lower_gather(lowering *lw, int64_t x, int64_t y) {
    const fa_nn_node *nd = lw->nd;
    const fa_nn_shape *is = &lw->s[nd->in[0]];
    const fa_nn_tensor *idx = &lw->g->tensors[nd->in[1]];
    if (!idx->data || idx->dtype != FA_NN_INT64) return unsupported(lw, "indices computed at run time");
    int axis = nd->a.axis;
    int64_t outer = prod(is, 0, axis), inner = prod(is, axis + 1, is->rank), len = is->d[axis];
    int64_t n = count(lw, nd->in[1]);
    const int64_t *ix = idx->data;
    for (int64_t k = 0; k < n; k++) {
        int64_t j = ix[k] < 0 ? ix[k] + len : ix[k];
        int rc = copy_rows(lw, x + j * inner, y + k * inner, outer, inner, len * inner, n * inner);
        if (rc) return rc;
    }
    return 0;
}

/* Boxes a fused shuffle's output needs when its channels are taken in
 * `period` interleaved classes (k = r, r + period, ...), each cut into runs
 * from one input at a constant channel step; fills runs (start k, length,
 * step) when not NULL. */
static int64_t shuffle_runs(const int64_t *src, int64_t k_out, const int64_t *first, int64_t period,
                            int64_t (*runs)[3]) {
    int64_t n = 0;
    for (int64_t r = 0; r < period && r < k_out; r++)
        for (int64_t k = r; k < k_out;) {
            int i = 0;
            while (src[k] >= first[i + 1]) i++;
            int64_t len = 1, step = k + period < k_out ? src[k + period] - src[k] : 1;
            while (step > 0 && k + len * period < k_out &&
                   src[k + len * period] - src[k + (len - 1) * period] == step &&
                   src[k + len * period] >= first[i] && src[k + len * period] < first[i + 1])
                len++;
            if (runs) runs[n][0] = k, runs[n][1] = len, runs[n][2] = step;
            n++;
            k += len * period;
        }
    return n;
}

/* A fused channel shuffle (fuse_shuffle.c): per output, strided copies of
 * runs of channels, the channels taken in the interleaving (period 1..4)
 * that needs the fewest copies (FastestDet's: 2 per output). */
static int lower_shuffle(lowering *lw, const fa_nn_shuffle *sh) {
    const fa_nn_node *nd = lw->nd;
    const fa_nn_shape *x = &lw->s[nd->in[0]];
    int64_t inner = prod(x, 2, x->rank), first[FA_NN_MAX_IO + 1] = {0}, at_in[FA_NN_MAX_IO];
    for (int i = 0; i < nd->n_in; i++) {
        first[i + 1] = first[i] + lw->s[nd->in[i]].d[1];
        if ((at_in[i] = at(lw, nd->in[i])) < 0) return fa_err_code();
    }
    const int64_t *src = sh->src;
    for (int o = 0; o < nd->n_out; src += sh->channels[o], o++) {
        int64_t k_out = sh->channels[o], y = at(lw, nd->out[o]), best = 1, fewest = INT64_MAX;
        if (y < 0) return fa_err_code();
        for (int64_t p = 1; p <= 4 && p <= k_out; p++) {
            int64_t n = shuffle_runs(src, k_out, first, p, NULL);
            if (n < fewest) fewest = n, best = p;
        }
        int64_t(*runs)[3] = own(lw, (size_t)fewest * sizeof *runs);
        if (!runs) return FA_ENOMEM;
        shuffle_runs(src, k_out, first, best, runs);
        for (int64_t r = 0; r < fewest; r++) {
            int64_t k = runs[r][0], c = src[k];
            int i = 0;
            while (c >= first[i + 1]) i++;
            int64_t c_in = first[i + 1] - first[i];
            fa_cuda_step *st = add_step(lw, FA_CUDA_COPY, at_in[i] + (c - first[i]) * inner, y + k * inner);
            if (!st) return FA_ENOMEM;
            st->u.box = (fa_cuda_box){.rank = 3,
                                      .dim = {x->d[0], runs[r][1], inner},
                                      .src = {c_in * inner, runs[r][2] * inner, 1},
                                      .dst = {k_out * inner, best * inner, 1}};
        }
    }
    return 0;
}

/* Pad (constant mode): fill the output, copy the input into its interior. */
static int lower_pad(lowering *lw, int64_t x, int64_t y) {
    const fa_nn_node *nd = lw->nd;
    const fa_nn_shape *is = &lw->s[nd->in[0]], *os = &lw->s[nd->out[0]];
    const fa_nn_tensor *pads = &lw->g->tensors[nd->in[1]];
    if (!pads->data) return unsupported(lw, "pads computed at run time");
    const int64_t *pd = pads->data;
    for (int d = 0; d < 2 * is->rank; d++)
        if (pd[d] < 0) return unsupported(lw, "negative pads (cropping)");
    float value = 0;
    if (nd->n_in > 2 && nd->in[2] >= 0) {
        if (!lw->g->tensors[nd->in[2]].data) return unsupported(lw, "a pad value computed at run time");
        value = *(const float *)lw->g->tensors[nd->in[2]].data;
    }
    fa_cuda_step *fill = add_step(lw, FA_CUDA_FILL, -1, y);
    if (!fill) return FA_ENOMEM;
    fill->u.fill = (fa_cuda_fill){count(lw, nd->out[0]), value};
    int64_t ostride[FA_NN_MAX_RANK], step = 1, base = 0;
    for (int i = os->rank - 1; i >= 0; i--) ostride[i] = step, step *= os->d[i];
    for (int d = 0; d < is->rank; d++) base += pd[d] * ostride[d];
    fa_cuda_step *st = add_step(lw, FA_CUDA_COPY, x, y + base);
    if (!st) return FA_ENOMEM;
    fa_cuda_box *b = &st->u.box;
    b->rank = is->rank ? is->rank : 1;
    b->dim[0] = 1;
    step = 1;
    for (int i = is->rank - 1; i >= 0; i--) b->dim[i] = is->d[i], b->src[i] = step, b->dst[i] = ostride[i],
                                            step *= is->d[i];
    return 0;
}

static int lower_node(lowering *lw) {
    const fa_nn_node *nd = lw->nd;
    if (nd->in[0] < 0) return unsupported(lw, "no data input");
    int64_t x = at(lw, nd->in[0]), y = x < 0 || nd->op == FA_NN_OP_SPLIT ? 0 : at(lw, nd->out[0]);
    if (x < 0 || y < 0) return fa_err_code();
    switch (nd->op) {
    case FA_NN_OP_CONV: return lower_conv(lw, x, y);
    case FA_NN_OP_RELU:
    case FA_NN_OP_LEAKY_RELU:
    case FA_NN_OP_SIGMOID: return lower_unary(lw, x, y);
    case FA_NN_OP_BATCHNORM: return lower_batchnorm(lw, x, y);
    case FA_NN_OP_ADD: return lower_add(lw, x, y);
    case FA_NN_OP_SOFTMAX: return lower_softmax(lw, x, y);
    case FA_NN_OP_MAXPOOL:
    case FA_NN_OP_AVGPOOL: return lower_pool(lw, x, y);
    case FA_NN_OP_RESIZE: return lower_resize(lw, x, y);
    case FA_NN_OP_CONCAT: return lower_concat(lw, y);
    case FA_NN_OP_SPLIT: return lower_split(lw, x);
    case FA_NN_OP_TRANSPOSE: return lower_transpose(lw, x, y);
    case FA_NN_OP_GATHER: {
        const fa_nn_shuffle *sh = fa_nn_node_shuffle(lw->g, nd);
        return sh ? lower_shuffle(lw, sh) : lower_gather(lw, x, y);
    }
    case FA_NN_OP_PAD: return lower_pad(lw, x, y);
    case FA_NN_OP_RESHAPE: {
        if (x == y) return 0; /* aliased by the memory plan */
        fa_cuda_step *st = add_step(lw, FA_CUDA_COPY, x, y);
        if (!st) return FA_ENOMEM;
        st->u.box = (fa_cuda_box){.rank = 1, .dim = {count(lw, nd->in[0])}, .src = {1}, .dst = {1}};
        return 0;
    }
    default: return unsupported(lw, "no GPU form");
    }
}

void fa_nn_cuda_program_free(fa_cuda_program *p) {
    lowering *lw = (lowering *)p;
    if (!lw) return;
    for (size_t i = 0; i < lw->n_owned; i++) free(lw->owned[i]);
    free(lw->owned);
    free(lw->steps);
    free(lw->consts);
    free(lw->const_at);
    free(lw);
}

fa_cuda_program *fa_nn_cuda_lower(const fa_nn_graph *g, const fa_nn_shape *shapes, const size_t *offset,
                                  size_t arena_bytes, void *const *bufs, int fp16) {
    lowering *lw = fa_calloc(1, sizeof *lw);
    if (!lw) return NULL;
    if (!(lw->const_at = fa_malloc((g->n_tensors ? g->n_tensors : 1) * sizeof *lw->const_at))) {
        free(lw);
        return NULL;
    }
    for (size_t i = 0; i < g->n_tensors; i++) lw->const_at[i] = -1;
    lw->g = g, lw->s = shapes, lw->off = offset, lw->bufs = bufs;
    lw->p.abi = FA_CUDA_ABI, lw->p.fp16 = fp16;
    lw->p.in_at = (int64_t)((arena_bytes / sizeof(float) + 15) / 16 * 16);
    lw->p.in_count = fa_nn_shape_count(&shapes[g->inputs[0]]);
    lw->p.arena = lw->p.in_at + (lw->p.in_count + 15) / 16 * 16;
    int rc = g->n_outputs > FA_CUDA_MAX_OUT
                 ? fa_err_set(FA_EINVAL, "%s: %d outputs, the cuda backend takes %d", g->file, g->n_outputs,
                              FA_CUDA_MAX_OUT)
                 : 0;
    for (size_t n = 0; !rc && n < g->n_nodes; n++) {
        lw->nd = &g->nodes[n], lw->node = (int)n;
        if (!lw->nd->dead) rc = lower_node(lw);
    }
    lw->p.n_out = g->n_outputs;
    for (int i = 0; !rc && i < g->n_outputs; i++) {
        lw->nd = NULL;
        int id = g->outputs[i];
        if (g->tensors[id].data || offset[id] == SIZE_MAX)
            rc = fa_err_set(FA_EINVAL, "%s: output '%s' is not computed: not supported by the cuda backend",
                            g->file, g->tensors[id].name);
        lw->p.out_at[i] = (int64_t)(offset[id] / sizeof(float));
        lw->p.out_count[i] = fa_nn_shape_count(&shapes[id]);
    }
    lw->p.steps = lw->steps, lw->p.consts = lw->consts;
    if (rc) {
        fa_nn_cuda_program_free(&lw->p);
        return NULL;
    }
    return &lw->p;
}

/* ------------------------------------------------------ host interpreter */

static float act_host(int act, float alpha, float v) {
    switch (act) {
    case FA_CUDA_ACT_RELU: return v > 0 ? v : 0;
    case FA_CUDA_ACT_LEAKY: return v < 0 ? alpha * v : v;
    case FA_CUDA_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    default: return v;
    }
}

static void host_conv(const fa_cuda_step *st, float *a) {
    const fa_cuda_conv *c = &st->u.conv;
    fa_nn_conv_params p = {.n = c->n, .c_in = c->c_in, .h_in = c->h_in, .w_in = c->w_in, .c_out = c->c_out,
                           .h_out = c->h_out, .w_out = c->w_out, .kh = c->kh, .kw = c->kw,
                           .stride_h = c->stride_h, .stride_w = c->stride_w, .dil_h = c->dil_h,
                           .dil_w = c->dil_w, .pad_t = c->pad_t, .pad_l = c->pad_l, .groups = c->groups,
                           .act = (fa_nn_act)c->act, .alpha = c->alpha};
    fa_nn_conv_reference(&p, a + st->x, c->w, c->b, a + st->y);
}

static void host_pool(const fa_cuda_step *st, float *a) {
    const fa_cuda_pool *p = &st->u.pool;
    for (int64_t q = 0; q < p->planes; q++)
        for (int64_t oy = 0; oy < p->oh; oy++)
            for (int64_t ox = 0; ox < p->ow; ox++) {
                int64_t h0, h1, w0, w1, n;
                fa_cuda_pool_window(p, oy, ox, &h0, &h1, &w0, &w1, &n);
                const float *x = a + st->x + q * p->h * p->w;
                float acc = p->is_max ? -INFINITY : 0.0f;
                for (int64_t h = h0; h < h1; h += p->dh)
                    for (int64_t w = w0; w < w1; w += p->dw)
                        acc = p->is_max ? (x[h * p->w + w] > acc ? x[h * p->w + w] : acc) : acc + x[h * p->w + w];
                a[st->y + (q * p->oh + oy) * p->ow + ox] = p->is_max ? acc : acc / (float)n;
            }
}

static void host_resize(const fa_cuda_step *st, float *a) {
    const fa_cuda_resize *r = &st->u.resize;
    for (int64_t q = 0; q < r->planes; q++)
        for (int64_t h = 0; h < r->oh; h++)
            for (int64_t w = 0; w < r->ow; w++) {
                const float *r0 = a + st->x + (q * r->h + r->i0[h]) * r->w;
                const float *r1 = a + st->x + (q * r->h + r->i1[h]) * r->w;
                int64_t a0 = r->i0[r->oh + w], a1 = r->i1[r->oh + w];
                float fx = r->wt[r->oh + w], fy = r->wt[h];
                float top = r0[a0] + (r0[a1] - r0[a0]) * fx, bot = r1[a0] + (r1[a1] - r1[a0]) * fx;
                a[st->y + (q * r->oh + h) * r->ow + w] = top + (bot - top) * fy;
            }
}

static void host_softmax(const fa_cuda_step *st, float *a) {
    const fa_cuda_softmax *m = &st->u.softmax;
    for (int64_t o = 0; o < m->outer; o++)
        for (int64_t i = 0; i < m->inner; i++) {
            const float *x = a + st->x + o * m->len * m->inner + i;
            float *y = a + st->y + o * m->len * m->inner + i, mx = x[0], sum = 0;
            for (int64_t k = 1; k < m->len; k++) mx = x[k * m->inner] > mx ? x[k * m->inner] : mx;
            for (int64_t k = 0; k < m->len; k++) sum += y[k * m->inner] = expf(x[k * m->inner] - mx);
            for (int64_t k = 0; k < m->len; k++) y[k * m->inner] /= sum;
        }
}

static void host_step(const fa_cuda_step *st, float *a) {
    int64_t n, s, s2, d;
    switch (st->kind) {
    case FA_CUDA_CONV: host_conv(st, a); break;
    case FA_CUDA_POOL: host_pool(st, a); break;
    case FA_CUDA_RESIZE: host_resize(st, a); break;
    case FA_CUDA_SOFTMAX: host_softmax(st, a); break;
    case FA_CUDA_COPY:
    case FA_CUDA_ADD:
        n = fa_cuda_box_count(&st->u.box);
        for (int64_t i = 0; i < n; i++) {
            fa_cuda_box_at(&st->u.box, i, &s, &s2, &d);
            a[st->y + d] = st->kind == FA_CUDA_ADD ? a[st->x + s] + a[st->x2 + s2] : a[st->x + s];
        }
        break;
    case FA_CUDA_FILL:
        for (int64_t i = 0; i < st->u.fill.count; i++) a[st->y + i] = st->u.fill.value;
        break;
    case FA_CUDA_UNARY:
        for (int64_t i = 0; i < st->u.unary.count; i++)
            a[st->y + i] = act_host(st->u.unary.act, st->u.unary.alpha, a[st->x + i]);
        break;
    case FA_CUDA_AFFINE: {
        const fa_cuda_affine *f = &st->u.affine;
        for (int64_t i = 0; i < f->outer * f->channels * f->inner; i++) {
            int64_t c = i / f->inner % f->channels;
            a[st->y + i] = a[st->x + i] * f->scale[c] + f->shift[c];
        }
        break;
    }
    default: break;
    }
}

int fa_nn_cuda_program_run_host(const fa_cuda_program *p, const float *input, float *const *outputs) {
    float *a = fa_calloc((size_t)p->arena ? (size_t)p->arena : 1, sizeof *a);
    if (!a) return FA_ENOMEM;
    for (size_t i = 0; i < p->n_consts; i++)
        memcpy(a + p->consts[i].at, p->consts[i].data, (size_t)p->consts[i].count * sizeof *a);
    memcpy(a + p->in_at, input, (size_t)p->in_count * sizeof *a);
    for (size_t i = 0; i < p->n_steps; i++) host_step(&p->steps[i], a);
    for (int i = 0; i < p->n_out; i++)
        memcpy(outputs[i], a + p->out_at[i], (size_t)p->out_count[i] * sizeof *a);
    free(a);
    return 0;
}
