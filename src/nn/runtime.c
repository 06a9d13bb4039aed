/*
 * runtime.c - models and sessions: backend choice, prepared convolutions,
 * the execution plan and the memory plan.
 *
 * A model owns the simplified graph and one prepared convolution per Conv
 * node, prepared for a single image: a session of batch N runs each
 * convolution N times on consecutive images, so the packed weights are
 * shared by every batch size and every thread, and nothing is re-prepared
 * when a caller changes N.
 *
 * A session infers its shapes for its batch and plans one arena: tensors
 * are placed in file (topological) order, each at the best-fitting gap
 * left by tensors whose last reader has already run, so buffers are reused
 * by lifetime; graph outputs live to the end. The arena's size is the peak
 * working memory reported. Graph inputs are read in place from the caller's
 * buffer, constants from the graph. A Reshape's output is its input's
 * buffer under a new shape (the input's lifetime extended to the output's
 * last reader), so the 26 Reshapes of FastestDet's channel shuffles copy
 * nothing.
 *
 * Precisions: FP32; FP16 (conv weights stored as half by the native
 * backend only: oneDNN 2.6 has no f16 CPU conv);
 * INT8 from a quantised model file (.fanq, quant.c): each Conv the file
 * has int8 weights for is prepared int8 with them and the activation
 * scales (the others, the first conv and the heads, stay fp32). A tensor
 * is kept int8 (one byte per element in the arena) when int8 Convs and
 * element-moving ops (Concat, Split, Transpose, Reshape, whose tensors
 * calibration gave one scale; run here on bytes) are all that write and
 * read it: quantised once where fp32 enters such a chain, dequantised only
 * where another op or a graph output reads it. For a ShuffleNet backbone
 * the chains span whole stages, channel shuffles included.
 *
 * Threads: options.threads > 1 runs on a pool (options.pool, else the
 * process pool). At batch > 1 each Conv's images are dealt out to the
 * threads (one image per thread at a time, each with its own workspace
 * slice: for these small nets that beats splitting one image, see
 * MEASUREMENTS.md "Inference"); at batch 1 the parallel-for is handed to
 * the kernel (native: split over column chunks / channels; oneDNN: its own
 * OpenMP threads). Non-conv ops run on the calling thread.
 *
 * Fusions (CPU sessions): a few chains of non-conv nodes that only move
 * whole tensors from one pass to the next run as one pass (a Resize into
 * its Add, the int8 channel shuffle's Concat -> Transpose -> Split, a
 * head's Split read in place with its Sigmoid done in the Transpose),
 * bitwise the same results; see "fusions of non-conv nodes" below.
 */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "nn/cuda.h"

#define ALIGN 64

struct fa_nn_model {
    fa_nn_graph *g;
    const fa_nn_backend *be;
    fa_nn_conv **convs;          /* per node; NULL for other nodes */
    fa_nn_conv_params *conv_par; /* per node: what each was prepared for */
    fa_nn_info info;
    char *path;           /* the file loaded (NULL from a graph) */
    int precision;        /* fa_nn_precision */
    unsigned char *s8;    /* per tensor: kept int8 between convolutions (INT8 models) */
    unsigned char *quantised; /* per node: the conv runs int8 (INT8 models) */
    fa_pool *pool;        /* NULL: single-threaded */
    int threads;          /* >= 1 */
    int cuda;             /* backend "cuda": sessions run on the GPU plugin (cuda.h), no CPU convs */
};

struct fa_nn_session {
    const fa_nn_model *m;
    int batch;
    fa_nn_shape *shapes; /* per tensor */
    void **bufs;         /* per tensor: constant data, arena slot or caller's input */
    size_t *offset;      /* per tensor: arena offset, SIZE_MAX when not in the arena */
    char *arena;
    size_t arena_bytes;
    void *workspace;
    size_t workspace_bytes;
    size_t slot_bytes;   /* batch > 1 with threads: workspace per thread */
    fa_nn_parallel par;  /* the model's threads */
    fa_nn_observe_fn observe; /* calibration hook (fa_nn_run_observe), or NULL */
    void *observe_ud;
    fa_nn_cuda_ctx *gpu; /* backend "cuda": the program on the GPU */
    struct fusion *fused; /* per node: how it runs fused (plan_fusions), NULL when nothing is */
};

static const fa_nn_parallel serial = {NULL, NULL, 1};

static void pool_for_each(void *ud, size_t n, void (*fn)(void *arg, size_t i), void *arg) {
    const fa_nn_model *m = ud;
    fa_pool_for_each(m->pool, n, m->threads, fn, arg);
}

/* ------------------------------------------------------------------ model */

static int pick_backend(const fa_nn_options *o, int precision, const fa_nn_backend **be, int *cuda) {
    const char *name = o && o->backend ? o->backend : "auto";
    if (strcmp(name, "cuda") == 0) {
        /* the GPU runs the whole graph; the CPU backend only answers info */
        if (precision != FA_NN_FP32 && precision != FA_NN_FP16)
            return fa_err_set(FA_EINVAL, "nn: backend 'cuda' runs fp32 or fp16, not int8 (.fanq models run on "
                              "the CPU backends)");
        *be = fa_nn_backend_native(), *cuda = 1;
        return fa_nn_cuda_available();
    }
    if (precision != FA_NN_FP32 && precision != FA_NN_FP16 && precision != FA_NN_INT8)
        return fa_err_set(FA_EINVAL, "nn: precision %d unknown (0 fp32, 1 int8, 2 fp16)", precision);
    if (precision == FA_NN_FP16 && strcmp(name, "onednn") == 0)
        return fa_err_set(FA_EINVAL, "nn: backend 'onednn' cannot store fp16 weights (oneDNN 2.6 has no f16 "
                          "CPU convolution): use backend 'native' or 'auto'");
    if (strcmp(name, "auto") == 0) {
        /* native: measured faster than oneDNN 2.6 on every detector here, FP32
         * and INT8 (bench/RESULTS.md, bench_nn and bench_conv --model) */
        *be = fa_nn_backend_native();
    } else if (strcmp(name, "native") == 0) {
        *be = fa_nn_backend_native();
    } else if (strcmp(name, "onednn") == 0) {
        *be = fa_nn_backend_onednn();
        if (!*be) return fa_err_set(FA_EUNAVAIL, "nn: backend 'onednn' is not built in (FA_WITH_ONEDNN)");
    } else {
        return fa_err_set(FA_EINVAL, "nn: backend '%s' unknown (auto, native, onednn, cuda)", name);
    }
    return 0;
}

/* The conv parameters of node nd for one image, from shapes. */
static void conv_params(const fa_nn_graph *g, const fa_nn_node *nd, const fa_nn_shape *s,
                        fa_nn_conv_params *p) {
    const fa_nn_shape *x = &s[nd->in[0]], *y = &s[nd->out[0]];
    const fa_nn_tensor *w = &g->tensors[nd->in[1]];
    memset(p, 0, sizeof *p);
    p->n = 1;
    p->c_in = (int)x->d[1], p->h_in = (int)x->d[2], p->w_in = (int)x->d[3];
    p->c_out = (int)y->d[1], p->h_out = (int)y->d[2], p->w_out = (int)y->d[3];
    p->kh = (int)w->shape[2], p->kw = (int)w->shape[3];
    p->stride_h = nd->a.strides[0], p->stride_w = nd->a.strides[1];
    p->dil_h = nd->a.dilations[0], p->dil_w = nd->a.dilations[1];
    p->pad_t = nd->a.pads[0], p->pad_l = nd->a.pads[1], p->pad_b = nd->a.pads[2], p->pad_r = nd->a.pads[3];
    p->groups = nd->a.group;
    p->act = (fa_nn_act)nd->act;
    p->alpha = nd->act_alpha;
}

static void model_info(fa_nn_model *m, const fa_nn_shape *shapes) {
    fa_nn_graph *g = m->g;
    fa_nn_info *in = &m->info;
    unsigned char *seen = calloc(g->n_tensors ? g->n_tensors : 1, 1);
    in->backend = m->cuda ? "cuda" : m->be->name;
    in->folded_constants = g->folded;
    in->fused_batchnorm = g->fused_bn;
    in->fused_act = g->fused_act;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead) continue;
        in->nodes++;
        if (fa_nn_node_shuffle(g, nd)) in->fused_shuffles++; /* a Gather carrying a fused shuffle */
        else in->op_counts[nd->op]++;
        for (int i = 0; seen && i < nd->n_in; i++) {
            int id = nd->in[i];
            if (id < 0 || seen[id] || !g->tensors[id].data || g->tensors[id].dtype != FA_NN_FLOAT) continue;
            seen[id] = 1;
            in->params += (size_t)fa_nn_shape_count(&shapes[id]);
        }
        if (nd->op == FA_NN_OP_CONV && m->s8 && m->quantised[n]) in->int8_convs++;
        if (nd->op == FA_NN_OP_CONV) {
            fa_nn_conv_params p;
            conv_params(g, nd, shapes, &p);
            in->macs += (uint64_t)p.c_out * p.h_out * p.w_out * (uint64_t)(p.c_in / p.groups) * p.kh * p.kw;
            if (m->cuda) /* what the GPU holds: fp16 or fp32 weights, fp32 bias */
                in->weight_bytes += (size_t)fa_nn_shape_count(&shapes[nd->in[1]]) *
                                        (m->precision == FA_NN_FP16 ? 2 : 4) + (size_t)p.c_out * 4;
            else
                in->weight_bytes += m->be->conv_bytes(m->convs[n]);
        }
    }
    free(seen);
    in->precision = m->precision;
    for (size_t t = 0; m->s8 && t < g->n_tensors; t++) in->int8_tensors += m->s8[t];
}

/* Ops that only move elements: run on int8 tensors as bytes (below). */
static int is_move(fa_nn_op op) {
    return op == FA_NN_OP_CONCAT || op == FA_NN_OP_SPLIT || op == FA_NN_OP_TRANSPOSE ||
           op == FA_NN_OP_RESHAPE;
}

/* The data (non-constant) inputs of nd: input 0, and for Concat every one. */
static int data_inputs(const fa_nn_node *nd) { return nd->op == FA_NN_OP_CONCAT ? nd->n_in : 1; }

/* Whether node nd can run int8 given the candidate tensors: an int8 Conv,
 * or a move op whose data inputs and outputs are all candidates with one
 * scale (calibration gives such groups one scale). */
static int int8_node(const fa_nn_graph *g, const fa_nn_quant *q, size_t n, const unsigned char *cand) {
    const fa_nn_node *nd = &g->nodes[n];
    if (nd->dead) return 0;
    if (nd->op == FA_NN_OP_CONV) return q->w_q[n] != NULL;
    if (!is_move(nd->op) || nd->in[0] < 0) return 0;
    float scale = q->act_scale[nd->in[0]];
    for (int i = 0; i < data_inputs(nd); i++)
        if (nd->in[i] < 0 || !cand[nd->in[i]] || q->act_scale[nd->in[i]] != scale) return 0;
    for (int o = 0; o < nd->n_out; o++)
        if (!cand[nd->out[o]] || q->act_scale[nd->out[o]] != scale) return 0;
    return 1;
}

/* One pass dropping candidates a non-int8 node writes or reads; 1 when
 * something changed. */
static int drop_candidates(const fa_nn_graph *g, const fa_nn_quant *q, unsigned char *cand) {
    int changed = 0;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead || int8_node(g, q, n, cand)) continue;
        for (int o = 0; o < nd->n_out; o++)
            if (cand[nd->out[o]]) cand[nd->out[o]] = 0, changed = 1;
        for (int i = 0; i < nd->n_in; i++)
            if (nd->in[i] >= 0 && cand[nd->in[i]]) cand[nd->in[i]] = 0, changed = 1;
    }
    for (size_t n = 0; n < g->n_nodes; n++) { /* a Conv reads int8 only as its input 0 */
        const fa_nn_node *nd = &g->nodes[n];
        for (int i = 1; !nd->dead && nd->op == FA_NN_OP_CONV && i < nd->n_in; i++)
            if (nd->in[i] >= 0 && cand[nd->in[i]]) cand[nd->in[i]] = 0, changed = 1;
    }
    return changed;
}

/* The tensors an INT8 model keeps int8: computed tensors with a scale,
 * neither graph input nor output, written and read only by int8 Convs and
 * by move ops whose tensors share one scale (to a fixed point). NULL on
 * ENOMEM. */
static unsigned char *int8_tensors(const fa_nn_graph *g, const fa_nn_quant *q) {
    unsigned char *s8 = fa_calloc(g->n_tensors ? g->n_tensors : 1, 1);
    if (!s8) return NULL;
    for (size_t t = 0; t < g->n_tensors; t++)
        s8[t] = q->act_scale[t] > 0 && !g->tensors[t].data && g->tensors[t].dtype == FA_NN_FLOAT;
    for (int i = 0; i < g->n_inputs; i++) s8[g->inputs[i]] = 0;
    for (int i = 0; i < g->n_outputs; i++) s8[g->outputs[i]] = 0;
    while (drop_candidates(g, q, s8)) {
    }
    return s8;
}

/* Prepares node n's conv as int8: the file's weights (dequantised: the
 * backend re-quantises them exactly with the same scales). */
static fa_nn_conv *prepare_int8(fa_nn_model *m, const fa_nn_quant *q, size_t n, const fa_nn_conv_params *p,
                                const float *bias) {
    const fa_nn_node *nd = &m->g->nodes[n];
    size_t count = (size_t)q->c_out[n] * (size_t)q->k[n];
    float *w = fa_malloc(count * sizeof *w);
    if (!w) return NULL;
    for (size_t i = 0; i < count; i++)
        w[i] = (float)q->w_q[n][i] * q->w_scale[n][i / (size_t)q->k[n]];
    fa_nn_int8_scales sc = {.in_scale = q->act_scale[nd->in[0]], .out_scale = q->act_scale[nd->out[0]],
                            .in_s8 = m->s8[nd->in[0]], .out_s8 = m->s8[nd->out[0]],
                            .w_scales = q->w_scale[n]};
    fa_nn_conv *c = m->be->conv_prepare(p, FA_NN_INT8, w, bias, &sc);
    free(w);
    return c;
}

static int prepare_convs(fa_nn_model *m, const fa_nn_shape *shapes, const fa_nn_quant *q) {
    fa_nn_graph *g = m->g;
    m->convs = fa_calloc(g->n_nodes ? g->n_nodes : 1, sizeof *m->convs);
    m->conv_par = fa_calloc(g->n_nodes ? g->n_nodes : 1, sizeof *m->conv_par);
    if (!m->convs || !m->conv_par) return FA_ENOMEM;
    if (q && !(m->s8 = int8_tensors(g, q))) return FA_ENOMEM;
    if (q && !(m->quantised = fa_calloc(g->n_nodes ? g->n_nodes : 1, 1))) return FA_ENOMEM;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead || nd->op != FA_NN_OP_CONV) continue;
        fa_nn_conv_params p;
        conv_params(g, nd, shapes, &p);
        m->conv_par[n] = p;
        const float *bias = nd->n_in > 2 && nd->in[2] >= 0 ? g->tensors[nd->in[2]].data : NULL;
        if (q && q->w_q[n])
            m->convs[n] = prepare_int8(m, q, n, &p, bias), m->quantised[n] = 1;
        else
            m->convs[n] = m->be->conv_prepare(&p, q ? FA_NN_FP32 : (fa_nn_precision)m->precision,
                                              g->tensors[nd->in[1]].data, bias, NULL);
        if (!m->convs[n])
            return fa_err_prefix("%s: node '%s' (Conv, backend %s)", g->file, nd->name, m->be->name);
    }
    return 0;
}

static int set_threads(fa_nn_model *m, const fa_nn_options *o) {
    m->threads = o && o->threads > 1 ? o->threads : 1;
    if (m->threads > 1024) return fa_err_set(FA_EINVAL, "nn: threads %d out of range 0..1024", m->threads);
    if (m->threads == 1) return 0;
    m->pool = o->pool ? o->pool : fa_pool_default();
    if (!m->pool) return fa_err_prefix("nn: no thread pool for %d threads", m->threads);
    return 0;
}

fa_nn_model *fa_nn_model_build(fa_nn_graph *g, const fa_nn_options *o, const fa_nn_quant *q,
                               const char *path) {
    fa_nn_model *m = g ? fa_calloc(1, sizeof *m) : NULL;
    if (!m) {
        fa_nn_graph_free(g);
        return NULL;
    }
    m->g = g;
    m->precision = q ? FA_NN_INT8 : o ? o->precision : FA_NN_FP32;
    fa_nn_shape *shapes = NULL;
    int rc = path && !(m->path = fa_strdup(path)) ? FA_ENOMEM : 0;
    if (!rc && !q && m->precision == FA_NN_INT8)
        rc = fa_err_set(FA_EINVAL, "%s: precision int8 needs a quantised model (.fanq: fa_nn_calibrate, "
                        "fa_nn_quant_save)", g->file);
    if (!rc) rc = pick_backend(o, m->precision, &m->be, &m->cuda);
    if (!rc) rc = set_threads(m, o);
    if (!rc && g->n_inputs != 1)
        rc = fa_err_set(FA_EINVAL, "%s: %d graph inputs, only models with one input are supported", g->file,
                        g->n_inputs);
    if (!rc) rc = fa_nn_graph_prepare(g);
    if (!rc && !(shapes = fa_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *shapes))) rc = FA_ENOMEM;
    if (!rc) rc = fa_nn_graph_infer(g, shapes, 0);
    if (!rc && q) rc = fa_nn_quant_check(q, g, path);
    if (!rc && m->cuda) /* no CPU convolutions: each session uploads the weights to the GPU */
        rc = (m->convs = fa_calloc(g->n_nodes ? g->n_nodes : 1, sizeof *m->convs)) &&
                     (m->conv_par = fa_calloc(g->n_nodes ? g->n_nodes : 1, sizeof *m->conv_par))
                 ? 0
                 : FA_ENOMEM;
    else if (!rc)
        rc = prepare_convs(m, shapes, q);
    if (!rc) model_info(m, shapes);
    free(shapes);
    if (rc) {
        fa_nn_model_free(m);
        return NULL;
    }
    return m;
}

fa_nn_model *fa_nn_model_from_graph(fa_nn_graph *g, const fa_nn_options *o) {
    return fa_nn_model_build(g, o, NULL, NULL);
}

static int ends_with(const char *s, size_t len, const char *suffix) {
    size_t n = strlen(suffix);
    return len > n && strcmp(s + len - n, suffix) == 0;
}

/* The graph of a .onnx or .cfg file (NULL with the error set). */
static fa_nn_graph *load_graph(const char *path) {
    size_t len = path ? strlen(path) : 0;
    if (ends_with(path, len, ".cfg")) {
        char *weights = fa_malloc(len + 5);
        if (!weights) return NULL;
        memcpy(weights, path, len - 4);
        strcpy(weights + len - 4, ".weights");
        fa_nn_graph *g = fa_nn_darknet_load(path, weights);
        free(weights);
        return g;
    }
    if (!ends_with(path, len, ".onnx")) {
        fa_err_set(FA_EINVAL, "%s: unknown model format (expected a .onnx or .cfg file)",
                   path ? path : "(null)");
        return NULL;
    }
    return fa_nn_onnx_load(path);
}

/* A .fanq file: its source model's graph prepared int8 with its scales. */
static fa_nn_model *load_quantised(const char *path, const fa_nn_options *o) {
    char *source = NULL;
    fa_nn_quant *q = fa_nn_quant_load(path, &source);
    if (!q) return NULL;
    fa_nn_graph *g = load_graph(source);
    fa_nn_model *m = g ? fa_nn_model_build(g, o, q, path) : NULL;
    free(source);
    fa_nn_quant_free(q);
    return m;
}

fa_nn_model *fa_nn_model_load(const char *path, const fa_nn_options *o) {
    size_t len = path ? strlen(path) : 0;
    if (ends_with(path, len, ".fanq")) return load_quantised(path, o);
    fa_nn_graph *g = load_graph(path);
    return g ? fa_nn_model_build(g, o, NULL, path) : NULL;
}

const char *fa_nn_model_path(const fa_nn_model *m) { return m->path; }
int fa_nn_model_precision(const fa_nn_model *m) { return m->precision; }

void fa_nn_model_free(fa_nn_model *m) {
    if (!m) return;
    for (size_t n = 0; m->convs && n < m->g->n_nodes; n++)
        if (m->convs[n]) m->be->conv_free(m->convs[n]);
    free(m->convs);
    free(m->conv_par);
    free(m->s8);
    free(m->quantised);
    free(m->path);
    fa_nn_graph_free(m->g);
    free(m);
}

const fa_nn_graph *fa_nn_model_graph(const fa_nn_model *m) { return m->g; }

int fa_nn_model_input_shape(const fa_nn_model *m, int64_t shape[FA_NN_MAX_RANK]) {
    const fa_nn_tensor *t = &m->g->tensors[m->g->inputs[0]];
    memcpy(shape, t->shape, sizeof t->shape);
    return t->rank;
}

int fa_nn_model_output_count(const fa_nn_model *m) { return m->g->n_outputs; }

const char *fa_nn_model_output_name(const fa_nn_model *m, int i) {
    return i >= 0 && i < m->g->n_outputs ? m->g->tensors[m->g->outputs[i]].name : NULL;
}

int fa_nn_model_output_index(const fa_nn_model *m, const char *name) {
    for (int i = 0; i < m->g->n_outputs; i++)
        if (strcmp(m->g->tensors[m->g->outputs[i]].name, name) == 0) return i;
    return -1;
}

void fa_nn_model_info(const fa_nn_model *m, fa_nn_info *info) { *info = m->info; }

/* ---------------------------------------------------------------- session */

/* Bytes of one element of tensor id as the session stores it. */
static size_t elem_size(const fa_nn_model *m, int id) {
    return m->s8 && m->s8[id] ? 1 : fa_nn_dtype_size(m->g->tensors[id].dtype);
}

typedef struct slot {
    size_t off, size, last;
} slot;

/* Position of the last node reading each tensor (SIZE_MAX for outputs). */
static size_t *last_uses(const fa_nn_graph *g) {
    size_t *last = fa_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *last);
    for (size_t n = 0; last && n < g->n_nodes; n++)
        for (int i = 0; !g->nodes[n].dead && i < g->nodes[n].n_in; i++)
            if (g->nodes[n].in[i] >= 0) last[g->nodes[n].in[i]] = n;
    for (int i = 0; last && i < g->n_outputs; i++)
        last[g->outputs[i]] = SIZE_MAX;
    return last;
}

/* Best-fit placement of size bytes among the live slots (sorted by offset). */
static size_t place(slot *live, size_t n_live, size_t size) {
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, end = 0;
    for (size_t i = 0; i < n_live; i++) {
        if (live[i].off >= end && live[i].off - end >= size && live[i].off - end < best_gap)
            best = end, best_gap = live[i].off - end;
        if (live[i].off + live[i].size > end) end = live[i].off + live[i].size;
    }
    return best != SIZE_MAX ? best : end;
}

/* A Reshape's output shares its input's bytes (same data, a new shape), so
 * running it copies nothing (ops.c and run_move_s8 skip a copy onto
 * itself): the input's live slot is kept until the output's last use
 * instead. Only for an input in the arena (not the graph input or a
 * constant) of the output's element size. 1 when aliased. */
static int alias_reshape(fa_nn_session *s, const fa_nn_node *nd, size_t n, const size_t *last, slot *live,
                         size_t n_live) {
    if (nd->op != FA_NN_OP_RESHAPE || nd->n_in < 1 || nd->in[0] < 0) return 0;
    int in = nd->in[0], out = nd->out[0];
    if (s->offset[in] == SIZE_MAX || elem_size(s->m, in) != elem_size(s->m, out)) return 0;
    for (size_t i = 0; i < n_live; i++)
        if (live[i].off == s->offset[in] && live[i].size > 0) {
            size_t until = last[out] ? last[out] : n;
            if (until > live[i].last) live[i].last = until;
            s->offset[out] = s->offset[in];
            return 1;
        }
    return 0;
}

/* ---- fusions of non-conv nodes ----
 *
 * Three patterns of NanoDet-m move whole tensors that the next node reads
 * right back, every pass bound by memory:
 *   - its PAN adds each resized level to the lateral one: the Resize
 *     writes a tensor (4 MiB at 52 x 52 x 96, batch 4) the Add reads.
 *     Where the Resize's output has no other reader and
 *     fa_nn_resize_add_fusable agrees, the Add runs both
 *     (fa_nn_op_resize_add) and the Resize is skipped;
 *   - its ShuffleNet units' Concat -> Reshape -> Transpose -> Reshape ->
 *     Split (the channel shuffle, left unfused by fuse_shuffle.c because
 *     it runs int8: see there) copies the data three times. Where every
 *     tensor inside the chain has the next node as its one reader, the
 *     Split writes its outputs straight from the Concat's inputs (one copy,
 *     run_chain) and the other nodes are skipped (a stage's last shuffle,
 *     with no Split: the Transpose reads the Concat's inputs);
 *   - its heads Split a Conv's output into class scores (-> Sigmoid ->
 *     Reshape -> Transpose) and boxes (-> Reshape -> Transpose): where
 *     each part has that one reader, it reads the part where the Split's
 *     input holds it (fa_nn_op_run_blocks) and the Split is skipped, and a
 *     Sigmoid that only the Transpose reads is done by the Transpose on
 *     each 16 x 16 tile it moves (NanoDet-m INT8, batch 4: the head's
 *     Split + Sigmoid + Transposes 1.5 -> 0.75 ms).
 * All move or compute exactly the same values (bitwise). The skipped
 * nodes' inputs are kept live in the memory plan until the node doing
 * their work. Found per session (it needs the shapes and the element
 * sizes), never for the GPU, not with FA_NN_OPS_FAST=0, and everything
 * runs unfused while calibration observes each tensor (fa_nn_run_observe). */
typedef struct fusion {
    size_t with; /* Add: its Resize; Split: its chain's Concat; a Split's reader: the Split; SIZE_MAX none */
    size_t via;  /* Split, Transpose: the chain's Transpose (itself); a Split's reader: which part */
    int skip;    /* done by a later node */
    int sigmoid; /* a Split's reader, a Transpose: applies the Sigmoid skipped before it */
} fusion;

static int64_t dims_product(const fa_nn_shape *sh, int from, int to) {
    int64_t n = 1;
    for (int i = from; i < to; i++) n *= sh->d[i];
    return n;
}

/* The live node writing tensor id, or SIZE_MAX. */
static size_t writer_of(const fa_nn_graph *g, int id) {
    for (size_t n = 0; id >= 0 && n < g->n_nodes; n++)
        for (int o = 0; !g->nodes[n].dead && o < g->nodes[n].n_out; o++)
            if (g->nodes[n].out[o] == id) return n;
    return SIZE_MAX;
}

/* How many times live nodes read tensor id (a graph output counts once more). */
static int reads_of(const fa_nn_graph *g, int id) {
    int n = 0;
    for (size_t k = 0; k < g->n_nodes; k++)
        for (int i = 0; !g->nodes[k].dead && i < g->nodes[k].n_in; i++)
            n += g->nodes[k].in[i] == id;
    for (int i = 0; i < g->n_outputs; i++)
        n += g->outputs[i] == id;
    return n;
}

/* The node writing tensor id when id's only reader is the node after it
 * in a chain (so the writer may be skipped), else SIZE_MAX. */
static size_t sole_writer(const fa_nn_graph *g, int id) {
    return id >= 0 && reads_of(g, id) == 1 ? writer_of(g, id) : SIZE_MAX;
}

static int ensure_fusions(fa_nn_session *s) {
    size_t n = s->m->g->n_nodes;
    if (s->fused) return 0;
    if (!(s->fused = fa_malloc((n ? n : 1) * sizeof *s->fused))) return FA_ENOMEM;
    for (size_t k = 0; k < n; k++)
        s->fused[k] = (fusion){SIZE_MAX, SIZE_MAX, 0, 0};
    return 0;
}

static int is_fused(const fa_nn_session *s, size_t n) {
    return s->fused && (s->fused[n].skip || s->fused[n].with != SIZE_MAX);
}

/* Add node k with one input from a Resize it may run. */
static int fuse_resize_add(fa_nn_session *s, size_t k) {
    const fa_nn_model *m = s->m;
    const fa_nn_graph *g = m->g;
    const fa_nn_node *ad = &g->nodes[k];
    if (ad->n_in != 2 || (m->s8 && m->s8[ad->out[0]])) return 0;
    for (int i = 0; i < 2; i++) {
        size_t j = sole_writer(g, ad->in[i]);
        if (j == SIZE_MAX || j >= k || is_fused(s, j)) continue;
        const fa_nn_node *rs = &g->nodes[j];
        if (rs->op != FA_NN_OP_RESIZE || rs->n_out != 1) continue;
        int int8 = m->s8 && (m->s8[rs->in[0]] || m->s8[rs->out[0]]);
        if (int8 || !fa_nn_resize_add_fusable(g, rs, ad, s->shapes)) continue;
        int rc = ensure_fusions(s);
        if (rc) return rc;
        s->fused[j].skip = 1, s->fused[k].with = j;
        return 0;
    }
    return 0;
}

/* Transpose node nd of input shape is: the elements of the longest run
 * of its inner dims that stays in place (contiguous in both), and in
 * *kept (when not NULL) the number of dims before that run. */
static int64_t inner_run(const fa_nn_shape *is, const fa_nn_node *nd, int *kept) {
    int k = is->rank;
    while (k > 0 && (nd->a.n_perm ? nd->a.perm[k - 1] : is->rank - k) == k - 1)
        k--;
    if (kept) *kept = k;
    return dims_product(is, k, is->rank);
}

/* Node k (a Split, or a Transpose: the chain's end) at the end of
 * Concat -> Reshape* -> Transpose -> Reshape* (every tensor inside of one
 * element size with one reader). */
static int fuse_chain(fa_nn_session *s, size_t k) {
    const fa_nn_graph *g = s->m->g;
    const fa_nn_node *sp = &g->nodes[k];
    if (sp->n_in < 1 || sp->n_in > 2 || is_fused(s, k)) return 0;
    if (sp->n_in == 2 && !(sp->in[1] >= 0 && g->tensors[sp->in[1]].data)) return 0; /* sizes: constant */
    if (sp->op == FA_NN_OP_TRANSPOSE && sp->n_in != 1) return 0;
    size_t es = elem_size(s->m, sp->in[0]), nodes[16], n = 0, j = k;
    size_t t = sp->op == FA_NN_OP_TRANSPOSE ? k : SIZE_MAX;
    int id = sp->in[0];
    if (id < 0) return 0;
    for (;;) {
        j = sole_writer(g, id);
        if (j == SIZE_MAX || j >= k || n == 16 || is_fused(s, j)) return 0;
        const fa_nn_node *nd = &g->nodes[j];
        nodes[n++] = j;
        if (nd->op == FA_NN_OP_CONCAT) break;
        if (nd->op == FA_NN_OP_TRANSPOSE && t == SIZE_MAX && nd->n_in == 1)
            t = j;
        else if (nd->op != FA_NN_OP_RESHAPE)
            return 0;
        id = nd->in[0];
        if (id < 0 || elem_size(s->m, id) != es) return 0;
    }
    const fa_nn_node *cc = &g->nodes[j];
    for (int i = 0; i < cc->n_in; i++)
        if (cc->in[i] < 0 || elem_size(s->m, cc->in[i]) != es) return 0;
    for (int o = 0; o < sp->n_out; o++)
        if (elem_size(s->m, sp->out[o]) != es) return 0;
    if (t == SIZE_MAX || inner_run(&s->shapes[g->nodes[t].in[0]], &g->nodes[t], NULL) * (int64_t)es < 64)
        return 0; /* short runs: ops.c's transposes do better */
    int rc = ensure_fusions(s);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        s->fused[nodes[i]].skip = 1;
    s->fused[k].with = j, s->fused[k].via = t;
    return 0;
}

/* The first live node reading tensor id, or SIZE_MAX. */
static size_t reader_of(const fa_nn_graph *g, int id) {
    for (size_t k = 0; k < g->n_nodes; k++)
        for (int i = 0; !g->nodes[k].dead && i < g->nodes[k].n_in; i++)
            if (g->nodes[k].in[i] == id) return k;
    return SIZE_MAX;
}

/* The one reader of tensor id, past Reshapes (their nodes added to
 * skip[*n_skip]); SIZE_MAX when some tensor on the way has another
 * reader, a node is fused already, or the reader does not read it as its
 * one input. */
static size_t sole_reader(const fa_nn_session *s, int id, size_t *skip, int *n_skip) {
    const fa_nn_graph *g = s->m->g;
    for (;;) {
        size_t r = reads_of(g, id) == 1 ? reader_of(g, id) : SIZE_MAX;
        if (r == SIZE_MAX || is_fused(s, r) || g->nodes[r].n_in < 1) return SIZE_MAX;
        if (g->nodes[r].in[0] != id) return SIZE_MAX;
        if (g->nodes[r].op != FA_NN_OP_RESHAPE) return g->nodes[r].n_in == 1 ? r : SIZE_MAX;
        if (*n_skip == 4) return SIZE_MAX;
        skip[(*n_skip)++] = r;
        id = g->nodes[r].out[0];
    }
}

/* How part id of a Split (blocks blocks) is read in place: the node
 * doing it (fa_nn_op_blocks_ok), or SIZE_MAX; the nodes it replaces in
 * skip[*n_skip] (Reshapes; and a Sigmoid that only a Transpose reads,
 * *sigmoid set: the Transpose applies it). */
static size_t part_reader(const fa_nn_session *s, int id, int64_t blocks, size_t *skip, int *n_skip,
                          int *sigmoid) {
    const fa_nn_graph *g = s->m->g;
    *n_skip = 0, *sigmoid = 0;
    size_t r = sole_reader(s, id, skip, n_skip);
    if (r == SIZE_MAX || (s->m->s8 && s->m->s8[g->nodes[r].out[0]])) return SIZE_MAX;
    if (!fa_nn_op_blocks_ok(g, &g->nodes[r], s->shapes, blocks)) return SIZE_MAX;
    if (g->nodes[r].op != FA_NN_OP_SIGMOID) return r;
    size_t more[4];
    int n_more = 0;
    size_t t = sole_reader(s, g->nodes[r].out[0], more, &n_more);
    if (t == SIZE_MAX || g->nodes[t].op != FA_NN_OP_TRANSPOSE || *n_skip + n_more + 1 > 4 ||
        !fa_nn_op_blocks_ok(g, &g->nodes[t], s->shapes, blocks))
        return r;
    skip[(*n_skip)++] = r;
    for (int i = 0; i < n_more; i++)
        skip[(*n_skip)++] = more[i];
    *sigmoid = 1;
    return t;
}

/* Split node k of fp32 whose every part is read by one node able to read
 * it where the Split's input holds it (a head's class scores by their
 * Sigmoid, its boxes by their Transpose): the Split is skipped. */
static int fuse_split_readers(fa_nn_session *s, size_t k) {
    const fa_nn_graph *g = s->m->g;
    const fa_nn_node *sp = &g->nodes[k];
    if (sp->n_in < 1 || sp->in[0] < 0 || is_fused(s, k) || (s->m->s8 && s->m->s8[sp->in[0]])) return 0;
    if (g->tensors[sp->in[0]].dtype != FA_NN_FLOAT || sp->n_out > FA_NN_MAX_IO) return 0;
    const fa_nn_shape *whole = &s->shapes[sp->in[0]];
    int axis = sp->a.axis < 0 ? sp->a.axis + whole->rank : sp->a.axis;
    int64_t blocks = dims_product(whole, 0, axis);
    size_t rd[FA_NN_MAX_IO], skip[FA_NN_MAX_IO][4];
    int n_skip[FA_NN_MAX_IO], sigmoid[FA_NN_MAX_IO];
    for (int i = 0; i < sp->n_out; i++) {
        rd[i] = part_reader(s, sp->out[i], blocks, skip[i], &n_skip[i], &sigmoid[i]);
        if (rd[i] == SIZE_MAX || rd[i] <= k) return 0;
    }
    int rc = ensure_fusions(s);
    if (rc) return rc;
    s->fused[k].skip = 1;
    for (int i = 0; i < sp->n_out; i++) {
        for (int j = 0; j < n_skip[i]; j++)
            s->fused[skip[i][j]].skip = 1;
        s->fused[rd[i]].with = k, s->fused[rd[i]].via = (size_t)i, s->fused[rd[i]].sigmoid = sigmoid[i];
    }
    return 0;
}

static int plan_fusions(fa_nn_session *s) {
    const fa_nn_graph *g = s->m->g;
    if (s->m->cuda || !fa_nn_ops_fast()) return 0;
    int rc = 0;
    for (size_t k = 0; k < g->n_nodes && !rc; k++) {
        if (g->nodes[k].dead) continue;
        if (g->nodes[k].op == FA_NN_OP_ADD) rc = fuse_resize_add(s, k);
        if (g->nodes[k].op == FA_NN_OP_SPLIT) rc = fuse_chain(s, k);
    }
    for (size_t k = 0; k < g->n_nodes && !rc; k++)
        if (!g->nodes[k].dead && g->nodes[k].op == FA_NN_OP_SPLIT) rc = fuse_split_readers(s, k);
    for (size_t k = 0; k < g->n_nodes && !rc; k++) /* chains ending at their Transpose */
        if (!g->nodes[k].dead && g->nodes[k].op == FA_NN_OP_TRANSPOSE) rc = fuse_chain(s, k);
    return rc;
}

/* last[] with the inputs of the node each fused one starts from (the
 * Resize, the Concat) read until the fused node. */
static void extend_fused(const fa_nn_session *s, size_t *last) {
    const fa_nn_graph *g = s->m->g;
    for (size_t k = 0; s->fused && k < g->n_nodes; k++) {
        size_t j = s->fused[k].with;
        for (int i = 0; j != SIZE_MAX && i < g->nodes[j].n_in; i++) {
            int id = g->nodes[j].in[i];
            if (id >= 0 && last[id] != SIZE_MAX && last[id] < k) last[id] = k;
        }
    }
}

static int plan_memory(fa_nn_session *s) {
    const fa_nn_graph *g = s->m->g;
    size_t *last = last_uses(g);
    slot *live = fa_malloc((g->n_tensors + 1) * sizeof *live);
    if (!last || !live) {
        free(last);
        free(live);
        return FA_ENOMEM;
    }
    extend_fused(s, last);
    size_t n_live = 0, peak = 0;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead) continue;
        size_t k = 0;
        for (size_t i = 0; i < n_live; i++)
            if (live[i].last >= n) live[k++] = live[i];
        n_live = k;
        if (alias_reshape(s, nd, n, last, live, n_live)) continue;
        for (int o = 0; o < nd->n_out; o++) {
            int id = nd->out[o];
            size_t bytes = (size_t)fa_nn_shape_count(&s->shapes[id]) * elem_size(s->m, id);
            bytes = (bytes + ALIGN - 1) / ALIGN * ALIGN;
            size_t off = place(live, n_live, bytes), at = 0;
            while (at < n_live && live[at].off < off)
                at++;
            memmove(live + at + 1, live + at, (n_live - at) * sizeof *live);
            live[at] = (slot){off, bytes, last[id] ? last[id] : n};
            n_live++;
            s->offset[id] = off;
            if (off + bytes > peak) peak = off + bytes;
        }
    }
    free(last);
    free(live);
    s->arena_bytes = peak;
    return 0;
}

static int session_buffers(fa_nn_session *s) {
    const fa_nn_model *m = s->m;
    const fa_nn_graph *g = m->g;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead || nd->op != FA_NN_OP_CONV || m->cuda) continue;
        fa_nn_conv_params p;
        conv_params(g, nd, s->shapes, &p);
        if (memcmp(&p, &m->conv_par[n], sizeof p) != 0)
            return fa_err_set(
                FA_EINVAL, "%s: node '%s' (Conv): at batch %d its input is %dx%dx%d, prepared for %dx%dx%d",
                g->file, nd->name, s->batch, p.c_in, p.h_in, p.w_in, m->conv_par[n].c_in, m->conv_par[n].h_in,
                m->conv_par[n].w_in);
        size_t ws = m->be->conv_workspace(m->convs[n], &serial);
        if (ws > s->slot_bytes) s->slot_bytes = ws;
        ws = m->be->conv_workspace(m->convs[n], &s->par);
        if (ws > s->workspace_bytes) s->workspace_bytes = ws;
    }
    s->slot_bytes = (s->slot_bytes + ALIGN - 1) / ALIGN * ALIGN;
    if (s->batch > 1 && s->par.threads > 1) {
        size_t per_image = s->slot_bytes * (size_t)(s->batch < s->par.threads ? s->batch : s->par.threads);
        if (per_image > s->workspace_bytes) s->workspace_bytes = per_image;
    }
    if (!(s->arena = aligned_alloc(ALIGN, s->arena_bytes ? s->arena_bytes : ALIGN)))
        return fa_err_set(FA_ENOMEM, "nn: cannot allocate a %zu-byte arena", s->arena_bytes);
    if (s->workspace_bytes &&
        !(s->workspace = aligned_alloc(ALIGN, (s->workspace_bytes + ALIGN - 1) / ALIGN * ALIGN)))
        return fa_err_set(FA_ENOMEM, "nn: cannot allocate a %zu-byte workspace", s->workspace_bytes);
    for (size_t i = 0; i < g->n_tensors; i++) {
        if (g->tensors[i].data)
            s->bufs[i] = g->tensors[i].data;
        else if (s->offset[i] != SIZE_MAX)
            s->bufs[i] = s->arena + s->offset[i];
    }
    return 0;
}

/* Backend "cuda": the graph lowered as this session placed it, uploaded.
 * The host arena stays: the outputs are copied into their slots, so
 * fa_nn_session_output reads them as on the CPU. */
static int session_gpu(fa_nn_session *s) {
    const fa_nn_model *m = s->m;
    fa_cuda_program *p = fa_nn_session_lower(s, m->precision == FA_NN_FP16);
    if (!p) return fa_err_code() ? fa_err_code() : FA_ENOMEM;
    s->gpu = fa_nn_cuda_create(p);
    fa_nn_cuda_program_free(p);
    return s->gpu ? 0 : fa_err_prefix("%s (batch %d)", m->g->file, s->batch);
}

fa_cuda_program *fa_nn_session_lower(const fa_nn_session *s, int fp16) {
    return fa_nn_cuda_lower(s->m->g, s->shapes, s->offset, s->arena_bytes, s->bufs, fp16);
}

static int run_gpu(fa_nn_session *s, const float *input, float **outputs) {
    const fa_nn_graph *g = s->m->g;
    float *dst[FA_CUDA_MAX_OUT];
    for (int i = 0; i < g->n_outputs; i++)
        dst[i] = s->bufs[g->outputs[i]];
    if (fa_nn_cuda_run(s->gpu, input, dst)) return fa_err_prefix("%s", g->file);
    for (int i = 0; outputs && i < g->n_outputs; i++)
        outputs[i] = dst[i];
    return 0;
}

fa_nn_session *fa_nn_session_new(const fa_nn_model *m, int batch) {
    const fa_nn_graph *g = m->g;
    if (batch < 1 || batch > 4096) {
        fa_err_set(FA_EINVAL, "%s: batch %d out of range 1..4096", g->file, batch);
        return NULL;
    }
    fa_nn_session *s = fa_calloc(1, sizeof *s);
    size_t nt = g->n_tensors ? g->n_tensors : 1;
    if (!s) return NULL;
    s->m = m;
    s->batch = batch;
    s->par = m->threads > 1 ? (fa_nn_parallel){pool_for_each, (void *)(uintptr_t)m, m->threads} : serial;
    s->shapes = fa_calloc(nt, sizeof *s->shapes);
    s->bufs = fa_calloc(nt, sizeof *s->bufs);
    s->offset = fa_malloc(nt * sizeof *s->offset);
    int rc = s->shapes && s->bufs && s->offset ? 0 : FA_ENOMEM;
    for (size_t i = 0; !rc && i < nt; i++)
        s->offset[i] = SIZE_MAX;
    if (!rc) rc = fa_nn_graph_infer_shapes(g, s->shapes, batch);
    if (!rc) rc = plan_fusions(s);
    if (!rc) rc = plan_memory(s);
    if (!rc) rc = session_buffers(s);
    if (!rc && m->cuda) rc = session_gpu(s);
    if (rc) {
        fa_nn_session_free(s);
        return NULL;
    }
    return s;
}

void fa_nn_session_free(fa_nn_session *s) {
    if (!s) return;
    fa_nn_cuda_free(s->gpu);
    free(s->shapes);
    free(s->bufs);
    free(s->offset);
    free(s->fused);
    free(s->arena);
    free(s->workspace);
    free(s);
}

/* One Conv over the batch: images dealt out to the threads (task t runs
 * images t, t + T, ... with workspace slice t), or one image with the
 * parallel-for handed to the kernel. */
typedef struct conv_job {
    const fa_nn_session *s;
    const fa_nn_node *nd;
    size_t n, tasks;
    int rc[64];
} conv_job;

static int conv_image(const fa_nn_session *s, size_t n, const fa_nn_node *nd, int64_t b, void *ws,
                      const fa_nn_parallel *par) {
    const fa_nn_model *m = s->m;
    const fa_nn_shape *x = &s->shapes[nd->in[0]], *y = &s->shapes[nd->out[0]];
    size_t in_step = (size_t)(x->d[1] * x->d[2] * x->d[3]) * elem_size(m, nd->in[0]);
    size_t out_step = (size_t)(y->d[1] * y->d[2] * y->d[3]) * elem_size(m, nd->out[0]);
    const char *in = s->bufs[nd->in[0]];
    char *out = s->bufs[nd->out[0]];
    return m->be->conv_run(m->convs[n], in + (size_t)b * in_step, out + (size_t)b * out_step, ws, par);
}

static void conv_task(void *arg, size_t t) {
    conv_job *j = arg;
    char *ws = (char *)j->s->workspace + t * j->s->slot_bytes;
    for (int64_t b = (int64_t)t; b < j->s->batch && !j->rc[t]; b += (int64_t)j->tasks)
        j->rc[t] = conv_image(j->s, j->n, j->nd, b, ws, &serial);
}

static int run_conv(fa_nn_session *s, size_t n, const fa_nn_node *nd) {
    const fa_nn_model *m = s->m;
    int rc = 0;
    if (s->batch == 1) {
        rc = conv_image(s, n, nd, 0, s->workspace, &s->par);
    } else if (s->par.threads <= 1) {
        for (int64_t b = 0; b < s->batch && !rc; b++)
            rc = conv_image(s, n, nd, b, s->workspace, &serial);
    } else {
        conv_job j = {.s = s, .nd = nd, .n = n};
        j.tasks = (size_t)(s->batch < s->par.threads ? s->batch : s->par.threads);
        if (j.tasks > 64) j.tasks = 64;
        s->par.for_each(s->par.ud, j.tasks, conv_task, &j);
        for (size_t t = 0; t < j.tasks && !rc; t++)
            rc = j.rc[t];
    }
    if (rc) return fa_err_prefix("%s: node '%s' (Conv)", m->g->file, nd->name);
    return 0;
}

/* ---- int8 move ops: the elements are bytes ---- */

/* Concat (split = 0) or Split (split = 1) along axis, sizes from the shapes. */
static void concat_split_s8(const fa_nn_session *s, const fa_nn_node *nd, int split) {
    const fa_nn_shape *whole = &s->shapes[split ? nd->in[0] : nd->out[0]];
    int axis = nd->a.axis < 0 ? nd->a.axis + whole->rank : nd->a.axis;
    int64_t outer = dims_product(whole, 0, axis), inner = dims_product(whole, axis + 1, whole->rank);
    int64_t row = whole->d[axis] * inner, off = 0;
    char *w = s->bufs[split ? nd->in[0] : nd->out[0]];
    int parts = split ? nd->n_out : nd->n_in;
    for (int i = 0; i < parts; i++) {
        int id = split ? nd->out[i] : nd->in[i];
        int64_t chunk = s->shapes[id].d[axis] * inner;
        char *part = s->bufs[id];
        for (int64_t o = 0; o < outer; o++) {
            char *a = w + (size_t)(o * row + off), *b = part + (size_t)(o * chunk);
            memcpy(split ? b : a, split ? a : b, (size_t)chunk);
        }
        off += chunk;
    }
}

/* A transpose of bytes: output in order, the longest inner run that stays
 * contiguous in the input copied with memcpy. */
static void transpose_s8(const fa_nn_session *s, const fa_nn_node *nd) {
    const fa_nn_shape *is = &s->shapes[nd->in[0]];
    int rank = is->rank, perm[FA_NN_MAX_RANK], k = rank;
    int64_t stride[FA_NN_MAX_RANK], od[FA_NN_MAX_RANK], idx[FA_NN_MAX_RANK] = {0};
    for (int i = 0; i < rank; i++) perm[i] = nd->a.n_perm ? nd->a.perm[i] : rank - 1 - i;
    for (int i = rank - 1, st = 1; i >= 0; st *= (int)is->d[i], i--) stride[i] = st;
    for (int i = 0; i < rank; i++) od[i] = is->d[perm[i]];
    while (k > 0 && perm[k - 1] == k - 1) k--; /* dims [k, rank) stay in place: one run */
    int64_t run = dims_product(is, k, rank), rows = fa_nn_shape_count(is) / (run ? run : 1);
    const char *x = s->bufs[nd->in[0]];
    char *y = s->bufs[nd->out[0]];
    for (int64_t r = 0; r < rows; r++, y += run) {
        int64_t src = 0;
        for (int d = 0; d < k; d++) src += idx[d] * stride[perm[d]];
        memcpy(y, x + src, (size_t)run);
        for (int d = k - 1; d >= 0 && ++idx[d] == od[d]; d--) idx[d] = 0;
    }
}

static void run_move_s8(const fa_nn_session *s, const fa_nn_node *nd) {
    if (nd->op == FA_NN_OP_CONCAT)
        concat_split_s8(s, nd, 0);
    else if (nd->op == FA_NN_OP_SPLIT)
        concat_split_s8(s, nd, 1);
    else if (nd->op == FA_NN_OP_TRANSPOSE)
        transpose_s8(s, nd);
    else if (s->bufs[nd->out[0]] != s->bufs[nd->in[0]]) /* Reshape */
        memcpy(s->bufs[nd->out[0]], s->bufs[nd->in[0]], (size_t)fa_nn_shape_count(&s->shapes[nd->in[0]]));
}

/* ---- a fused Concat -> Reshape* -> Transpose -> Reshape* -> Split ---- */

/* The Concat's output read in place from its inputs (element size es). */
typedef struct concat_src {
    const fa_nn_session *s;
    const fa_nn_node *nd;
    size_t es;
    int64_t row, first[FA_NN_MAX_IO + 1], chunk[FA_NN_MAX_IO]; /* elements */
} concat_src;

static void concat_src_init(concat_src *c, const fa_nn_session *s, const fa_nn_node *nd, size_t es) {
    const fa_nn_shape *os = &s->shapes[nd->out[0]];
    int axis = nd->a.axis < 0 ? nd->a.axis + os->rank : nd->a.axis;
    int64_t inner = dims_product(os, axis + 1, os->rank);
    c->s = s, c->nd = nd, c->es = es, c->row = os->d[axis] * inner, c->first[0] = 0;
    for (int i = 0; i < nd->n_in; i++) {
        c->chunk[i] = s->shapes[nd->in[i]].d[axis] * inner;
        c->first[i + 1] = c->first[i] + c->chunk[i];
    }
}

/* Elements [off, off + len) of the Concat's output into dst. */
static void concat_read(const concat_src *c, int64_t off, int64_t len, char *dst) {
    while (len > 0) {
        int64_t o = off / c->row, r = off % c->row;
        int i = 0;
        while (r >= c->first[i + 1])
            i++;
        int64_t n = c->first[i + 1] - r < len ? c->first[i + 1] - r : len;
        const char *x = c->s->bufs[c->nd->in[i]];
        memcpy(dst, x + (size_t)(o * c->chunk[i] + r - c->first[i]) * c->es, (size_t)n * c->es);
        dst += (size_t)n * c->es, off += n, len -= n;
    }
}

/* The Transpose's output read from the Concat (through the Reshapes:
 * the same elements in the same order): runs of the dims that stay in
 * place, as transpose_s8 copies them. */
typedef struct transposed_src {
    concat_src cat;
    int k, perm[FA_NN_MAX_RANK];
    int64_t run, stride[FA_NN_MAX_RANK], od[FA_NN_MAX_RANK];
} transposed_src;

static void transposed_init(transposed_src *t, const fa_nn_session *s, const fa_nn_node *nd) {
    const fa_nn_shape *is = &s->shapes[nd->in[0]];
    int rank = is->rank;
    t->k = rank;
    for (int i = 0; i < rank; i++)
        t->perm[i] = nd->a.n_perm ? nd->a.perm[i] : rank - 1 - i;
    int64_t st = 1;
    for (int i = rank - 1; i >= 0; st *= is->d[i], i--)
        t->stride[i] = st;
    for (int i = 0; i < rank; i++)
        t->od[i] = is->d[t->perm[i]];
    t->run = inner_run(is, nd, &t->k);
}

/* Elements [off, off + len) of the Transpose's output into dst. */
static void transposed_read(const transposed_src *t, int64_t off, int64_t len, char *dst) {
    while (len > 0) {
        int64_t row = off / t->run, within = off % t->run, src = within;
        for (int d = t->k - 1; d >= 0; d--) {
            src += row % t->od[d] * t->stride[t->perm[d]];
            row /= t->od[d];
        }
        int64_t n = t->run - within < len ? t->run - within : len;
        concat_read(&t->cat, src, n, dst);
        dst += (size_t)n * t->cat.es, off += n, len -= n;
    }
}

/* Split (or Transpose) node nd run from the Concat and Transpose of fusion f. */
static void run_chain(const fa_nn_session *s, const fusion *f, const fa_nn_node *nd) {
    const fa_nn_graph *g = s->m->g;
    transposed_src t;
    size_t es = elem_size(s->m, nd->in[0]);
    concat_src_init(&t.cat, s, &g->nodes[f->with], es);
    transposed_init(&t, s, &g->nodes[f->via]);
    if (nd->op == FA_NN_OP_TRANSPOSE) {
        transposed_read(&t, 0, fa_nn_shape_count(&s->shapes[nd->in[0]]), s->bufs[nd->out[0]]);
        return;
    }
    const fa_nn_shape *whole = &s->shapes[nd->in[0]];
    int axis = nd->a.axis < 0 ? nd->a.axis + whole->rank : nd->a.axis;
    int64_t outer = dims_product(whole, 0, axis), inner = dims_product(whole, axis + 1, whole->rank);
    int64_t row = whole->d[axis] * inner, off = 0;
    for (int i = 0; i < nd->n_out; i++) {
        int64_t chunk = s->shapes[nd->out[i]].d[axis] * inner;
        char *part = s->bufs[nd->out[i]];
        for (int64_t o = 0; o < outer; o++)
            transposed_read(&t, o * row + off, chunk, part + (size_t)(o * chunk) * es);
        off += chunk;
    }
}

/* Node nd run on part f->via of the skipped Split f->with, read where
 * the Split's input holds it: one block per index of the dims before the
 * Split's axis. */
static void run_split_part(const fa_nn_session *s, const fusion *f, const fa_nn_node *nd) {
    const fa_nn_graph *g = s->m->g;
    const fa_nn_node *sp = &g->nodes[f->with];
    const fa_nn_shape *whole = &s->shapes[sp->in[0]];
    int axis = sp->a.axis < 0 ? sp->a.axis + whole->rank : sp->a.axis;
    int64_t blocks = dims_product(whole, 0, axis), inner = dims_product(whole, axis + 1, whole->rank);
    int64_t off = 0;
    for (size_t i = 0; i < f->via; i++)
        off += s->shapes[sp->out[i]].d[axis] * inner;
    const float *x = s->bufs[sp->in[0]];
    fa_nn_op_run_blocks(g, nd, s->shapes, s->bufs, x + off, blocks, whole->d[axis] * inner, f->sigmoid);
}

/* Reports node nd's fp32 outputs to the observer. */
static void observe_node(const fa_nn_session *s, const fa_nn_node *nd) {
    const fa_nn_graph *g = s->m->g;
    for (int o = 0; o < nd->n_out; o++) {
        int id = nd->out[o];
        if (g->tensors[id].dtype != FA_NN_FLOAT || (s->m->s8 && s->m->s8[id])) continue;
        s->observe(s->observe_ud, id, s->bufs[id], (size_t)fa_nn_shape_count(&s->shapes[id]));
    }
}

int fa_nn_run(fa_nn_session *s, const float *input, float **outputs) {
    const fa_nn_graph *g = s->m->g;
    if (!input) return fa_err_set(FA_EINVAL, "%s: no input", g->file);
    if (s->gpu) return run_gpu(s, input, outputs);
    s->bufs[g->inputs[0]] = (void *)(uintptr_t)input;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead) continue;
        int rc = 0;
        const fusion *f = s->fused && !s->observe ? &s->fused[n] : NULL;
        if (f && f->skip) continue; /* done by a later node */
        if (f && f->with != SIZE_MAX && nd->op == FA_NN_OP_ADD)
            rc = fa_nn_op_resize_add(g, &g->nodes[f->with], nd, s->shapes, s->bufs);
        else if (f && f->with != SIZE_MAX && g->nodes[f->with].op == FA_NN_OP_CONCAT)
            run_chain(s, f, nd);
        else if (f && f->with != SIZE_MAX)
            run_split_part(s, f, nd);
        else if (nd->op == FA_NN_OP_CONV)
            rc = run_conv(s, n, nd);
        else if (s->m->s8 && s->m->s8[nd->out[0]])
            run_move_s8(s, nd);
        else
            rc = fa_nn_op_run(g, nd, s->shapes, s->bufs);
        if (rc) return rc;
        if (s->observe) observe_node(s, nd);
    }
    for (int i = 0; outputs && i < g->n_outputs; i++)
        outputs[i] = s->bufs[g->outputs[i]];
    return 0;
}

int fa_nn_run_observe(fa_nn_session *s, const float *input, fa_nn_observe_fn fn, void *ud) {
    if (s->gpu) return fa_err_set(FA_EINVAL, "%s: calibration observes CPU runs: use a CPU backend", s->m->g->file);
    s->observe = fn;
    s->observe_ud = ud;
    if (fn) fn(ud, s->m->g->inputs[0], input, (size_t)fa_nn_shape_count(&s->shapes[s->m->g->inputs[0]]));
    int rc = fa_nn_run(s, input, NULL);
    s->observe = NULL;
    s->observe_ud = NULL;
    return rc;
}

const float *fa_nn_session_output(const fa_nn_session *s, int i, int64_t shape[FA_NN_MAX_RANK], int *rank) {
    const fa_nn_graph *g = s->m->g;
    if (i < 0 || i >= g->n_outputs) return NULL;
    const fa_nn_shape *sh = &s->shapes[g->outputs[i]];
    if (shape) memcpy(shape, sh->d, sizeof sh->d);
    if (rank) *rank = sh->rank;
    return s->bufs[g->outputs[i]];
}

size_t fa_nn_session_peak_bytes(const fa_nn_session *s) { return s->arena_bytes + s->workspace_bytes; }
