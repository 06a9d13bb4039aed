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
 * buffer, constants from the graph.
 */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64

struct fa_nn_model {
    fa_nn_graph *g;
    const fa_nn_backend *be;
    fa_nn_conv **convs;          /* per node; NULL for other nodes */
    fa_nn_conv_params *conv_par; /* per node: what each was prepared for */
    fa_nn_info info;
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
};

static const fa_nn_parallel serial = {NULL, NULL, 1};

/* ------------------------------------------------------------------ model */

static int pick_backend(const fa_nn_options *o, const fa_nn_backend **be) {
    const char *name = o && o->backend ? o->backend : "auto";
    if (o && o->precision != FA_NN_FP32)
        return fa_err_set(FA_EINVAL, "nn: precision %d not supported yet (fp32 only)", o->precision);
    if (strcmp(name, "auto") == 0) {
        *be = fa_nn_backend_onednn() ? fa_nn_backend_onednn() : fa_nn_backend_native();
    } else if (strcmp(name, "native") == 0) {
        *be = fa_nn_backend_native();
    } else if (strcmp(name, "onednn") == 0) {
        *be = fa_nn_backend_onednn();
        if (!*be) return fa_err_set(FA_EUNAVAIL, "nn: backend 'onednn' is not built in (FA_WITH_ONEDNN)");
    } else {
        return fa_err_set(FA_EINVAL, "nn: backend '%s' unknown (auto, native, onednn)", name);
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
    in->backend = m->be->name;
    in->folded_constants = g->folded;
    in->fused_batchnorm = g->fused_bn;
    in->fused_act = g->fused_act;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead) continue;
        in->nodes++;
        in->op_counts[nd->op]++;
        for (int i = 0; seen && i < nd->n_in; i++) {
            int id = nd->in[i];
            if (id < 0 || seen[id] || !g->tensors[id].data || g->tensors[id].dtype != FA_NN_FLOAT) continue;
            seen[id] = 1;
            in->params += (size_t)fa_nn_shape_count(&shapes[id]);
        }
        if (nd->op == FA_NN_OP_CONV) {
            fa_nn_conv_params p;
            conv_params(g, nd, shapes, &p);
            in->macs += (uint64_t)p.c_out * p.h_out * p.w_out * (uint64_t)(p.c_in / p.groups) * p.kh * p.kw;
            in->weight_bytes += m->be->conv_bytes(m->convs[n]);
        }
    }
    free(seen);
}

static int prepare_convs(fa_nn_model *m, const fa_nn_shape *shapes) {
    fa_nn_graph *g = m->g;
    m->convs = fa_calloc(g->n_nodes ? g->n_nodes : 1, sizeof *m->convs);
    m->conv_par = fa_calloc(g->n_nodes ? g->n_nodes : 1, sizeof *m->conv_par);
    if (!m->convs || !m->conv_par) return FA_ENOMEM;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead || nd->op != FA_NN_OP_CONV) continue;
        fa_nn_conv_params p;
        conv_params(g, nd, shapes, &p);
        m->conv_par[n] = p;
        const float *bias = nd->n_in > 2 && nd->in[2] >= 0 ? g->tensors[nd->in[2]].data : NULL;
        m->convs[n] = m->be->conv_prepare(&p, FA_NN_FP32, g->tensors[nd->in[1]].data, bias, NULL);
        if (!m->convs[n])
            return fa_err_prefix("%s: node '%s' (Conv, backend %s)", g->file, nd->name, m->be->name);
    }
    return 0;
}

fa_nn_model *fa_nn_model_from_graph(fa_nn_graph *g, const fa_nn_options *o) {
    fa_nn_model *m = g ? fa_calloc(1, sizeof *m) : NULL;
    if (!m) {
        fa_nn_graph_free(g);
        return NULL;
    }
    m->g = g;
    fa_nn_shape *shapes = NULL;
    int rc = pick_backend(o, &m->be);
    if (!rc && g->n_inputs != 1)
        rc = fa_err_set(FA_EINVAL, "%s: %d graph inputs, only models with one input are supported", g->file,
                        g->n_inputs);
    if (!rc) rc = fa_nn_graph_prepare(g);
    if (!rc && !(shapes = fa_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *shapes))) rc = FA_ENOMEM;
    if (!rc) rc = fa_nn_graph_infer(g, shapes, 0);
    if (!rc) rc = prepare_convs(m, shapes);
    if (!rc) model_info(m, shapes);
    free(shapes);
    if (rc) {
        fa_nn_model_free(m);
        return NULL;
    }
    return m;
}

fa_nn_model *fa_nn_model_load(const char *path, const fa_nn_options *o) {
    size_t len = path ? strlen(path) : 0;
    fa_nn_graph *g = NULL;
    if (len > 4 && strcmp(path + len - 4, ".cfg") == 0) {
        char *weights = fa_malloc(len + 5);
        if (!weights) return NULL;
        memcpy(weights, path, len - 4);
        strcpy(weights + len - 4, ".weights");
        g = fa_nn_darknet_load(path, weights);
        free(weights);
        return g ? fa_nn_model_from_graph(g, o) : NULL;
    }
    if (len < 5 || strcmp(path + len - 5, ".onnx") != 0) {
        fa_err_set(FA_EINVAL, "%s: unknown model format (expected a .onnx or .cfg file)",
                   path ? path : "(null)");
        return NULL;
    }
    g = fa_nn_onnx_load(path);
    return g ? fa_nn_model_from_graph(g, o) : NULL;
}

void fa_nn_model_free(fa_nn_model *m) {
    if (!m) return;
    for (size_t n = 0; m->convs && n < m->g->n_nodes; n++)
        if (m->convs[n]) m->be->conv_free(m->convs[n]);
    free(m->convs);
    free(m->conv_par);
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

static int plan_memory(fa_nn_session *s) {
    const fa_nn_graph *g = s->m->g;
    size_t *last = last_uses(g);
    slot *live = fa_malloc((g->n_tensors + 1) * sizeof *live);
    if (!last || !live) {
        free(last);
        free(live);
        return FA_ENOMEM;
    }
    size_t n_live = 0, peak = 0;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead) continue;
        size_t k = 0;
        for (size_t i = 0; i < n_live; i++)
            if (live[i].last >= n) live[k++] = live[i];
        n_live = k;
        for (int o = 0; o < nd->n_out; o++) {
            int id = nd->out[o];
            size_t bytes = (size_t)fa_nn_shape_count(&s->shapes[id]) * fa_nn_dtype_size(g->tensors[id].dtype);
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
        if (nd->dead || nd->op != FA_NN_OP_CONV) continue;
        fa_nn_conv_params p;
        conv_params(g, nd, s->shapes, &p);
        if (memcmp(&p, &m->conv_par[n], sizeof p) != 0)
            return fa_err_set(
                FA_EINVAL, "%s: node '%s' (Conv): at batch %d its input is %dx%dx%d, prepared for %dx%dx%d",
                g->file, nd->name, s->batch, p.c_in, p.h_in, p.w_in, m->conv_par[n].c_in, m->conv_par[n].h_in,
                m->conv_par[n].w_in);
        size_t ws = m->be->conv_workspace(m->convs[n], &serial);
        if (ws > s->workspace_bytes) s->workspace_bytes = ws;
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
    s->shapes = fa_calloc(nt, sizeof *s->shapes);
    s->bufs = fa_calloc(nt, sizeof *s->bufs);
    s->offset = fa_malloc(nt * sizeof *s->offset);
    int rc = s->shapes && s->bufs && s->offset ? 0 : FA_ENOMEM;
    for (size_t i = 0; !rc && i < nt; i++)
        s->offset[i] = SIZE_MAX;
    if (!rc) rc = fa_nn_graph_infer_shapes(g, s->shapes, batch);
    if (!rc) rc = plan_memory(s);
    if (!rc) rc = session_buffers(s);
    if (rc) {
        fa_nn_session_free(s);
        return NULL;
    }
    return s;
}

void fa_nn_session_free(fa_nn_session *s) {
    if (!s) return;
    free(s->shapes);
    free(s->bufs);
    free(s->offset);
    free(s->arena);
    free(s->workspace);
    free(s);
}

static int run_conv(fa_nn_session *s, size_t n, const fa_nn_node *nd) {
    const fa_nn_model *m = s->m;
    const fa_nn_shape *x = &s->shapes[nd->in[0]], *y = &s->shapes[nd->out[0]];
    size_t in_step = (size_t)(x->d[1] * x->d[2] * x->d[3]), out_step = (size_t)(y->d[1] * y->d[2] * y->d[3]);
    const float *in = s->bufs[nd->in[0]];
    float *out = s->bufs[nd->out[0]];
    for (int64_t b = 0; b < x->d[0]; b++) {
        int rc = m->be->conv_run(m->convs[n], in + b * in_step, out + b * out_step, s->workspace, &serial);
        if (rc) return fa_err_prefix("%s: node '%s' (Conv)", m->g->file, nd->name);
    }
    return 0;
}

int fa_nn_run(fa_nn_session *s, const float *input, float **outputs) {
    const fa_nn_graph *g = s->m->g;
    if (!input) return fa_err_set(FA_EINVAL, "%s: no input", g->file);
    s->bufs[g->inputs[0]] = (void *)(uintptr_t)input;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead) continue;
        int rc = nd->op == FA_NN_OP_CONV ? run_conv(s, n, nd) : fa_nn_op_run(g, nd, s->shapes, s->bufs);
        if (rc) return rc;
    }
    for (int i = 0; outputs && i < g->n_outputs; i++)
        outputs[i] = s->bufs[g->outputs[i]];
    return 0;
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
