/*
 * graph.c - the graph IR: tensors and nodes, shape inference, and the
 * load-time passes (constant folding, Conv+BatchNormalization folding,
 * Conv+activation fusion; the channel-shuffle fusion is fuse_shuffle.c).
 *
 * Tensors live in one array addressed by id; a small open-addressing hash
 * over their names keeps the loader linear. Nodes stay in file order (ONNX
 * requires topological order; inference checks that every input is known
 * before use, which also rejects cycles). Passes never delete: they mark
 * nodes dead and rewire ids, so ids handed out stay valid.
 *
 * Shape inference is one function per op family over a caller-owned array
 * of shapes, so a session can infer its own batch without touching the
 * shared graph. Constant folding runs the ordinary operators (ops.c) on
 * constant inputs: one implementation for both uses.
 */
#include "nn/nn_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ containers */

fa_nn_graph *fa_nn_graph_new(const char *file) {
    fa_nn_graph *g = fa_calloc(1, sizeof *g);
    if (!g) return NULL;
    const char *base = file ? strrchr(file, '/') : NULL;
    g->file = fa_strdup(base ? base + 1 : file ? file : "model");
    if (!g->file) {
        free(g);
        return NULL;
    }
    return g;
}

void fa_nn_graph_free(fa_nn_graph *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_tensors; i++) {
        free(g->tensors[i].name);
        free(g->tensors[i].data);
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        free(g->nodes[i].name);
    free(g->tensors);
    free(g->nodes);
    free(g->hash);
    free(g->yolo);
    fa_nn_graph_free_shuffles(g);
    free(g->file);
    free(g);
}

static uint64_t name_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static int hash_grow(fa_nn_graph *g) {
    size_t cap = g->hash_cap ? g->hash_cap * 2 : 256;
    int *h = fa_malloc(cap * sizeof *h);
    if (!h) return FA_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        h[i] = -1;
    for (size_t id = 0; id < g->n_tensors; id++) {
        const char *nm = g->tensors[id].name;
        size_t i = name_hash(nm, strlen(nm)) & (cap - 1);
        while (h[i] >= 0)
            i = (i + 1) & (cap - 1);
        h[i] = (int)id;
    }
    free(g->hash);
    g->hash = h;
    g->hash_cap = cap;
    return 0;
}

int fa_nn_graph_tensor_id(fa_nn_graph *g, const char *name, size_t len, int create) {
    if (g->hash_cap && g->n_tensors * 2 < g->hash_cap) {
        for (size_t i = name_hash(name, len) & (g->hash_cap - 1);; i = (i + 1) & (g->hash_cap - 1)) {
            int id = g->hash[i];
            if (id < 0) break;
            const char *nm = g->tensors[id].name;
            if (strncmp(nm, name, len) == 0 && nm[len] == '\0') return id;
        }
    }
    if (!create) return FA_ENOTFOUND;
    if (g->n_tensors >= (1u << 24)) return fa_err_set(FA_EINVAL, "%s: too many tensors", g->file);
    if (g->n_tensors == g->cap_tensors) {
        size_t cap = g->cap_tensors ? g->cap_tensors * 2 : 64;
        fa_nn_tensor *t = fa_realloc(g->tensors, cap * sizeof *t);
        if (!t) return FA_ENOMEM;
        g->tensors = t;
        g->cap_tensors = cap;
    }
    fa_nn_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->dtype = FA_NN_FLOAT;
    if (!(t->name = fa_malloc(len + 1))) return FA_ENOMEM;
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    g->n_tensors++;
    if ((g->n_tensors + 1) * 2 >= g->hash_cap) {
        int rc = hash_grow(g);
        if (rc) return rc;
    } else {
        size_t i = name_hash(name, len) & (g->hash_cap - 1);
        while (g->hash[i] >= 0)
            i = (i + 1) & (g->hash_cap - 1);
        g->hash[i] = (int)g->n_tensors - 1;
    }
    return (int)g->n_tensors - 1;
}

fa_nn_node *fa_nn_graph_add_node(fa_nn_graph *g, fa_nn_op op) {
    if (g->n_nodes == g->cap_nodes) {
        size_t cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        fa_nn_node *n = fa_realloc(g->nodes, cap * sizeof *n);
        if (!n) return NULL;
        g->nodes = n;
        g->cap_nodes = cap;
    }
    fa_nn_node *n = &g->nodes[g->n_nodes++];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->a.strides[0] = n->a.strides[1] = 1;
    n->a.dilations[0] = n->a.dilations[1] = 1;
    n->a.group = 1;
    n->a.axis = op == FA_NN_OP_SOFTMAX || op == FA_NN_OP_CONCAT ? 1 : 0;
    if (op == FA_NN_OP_SOFTMAX) n->a.axis = 1;
    n->a.alpha = 0.01f;
    n->a.epsilon = 1e-5f;
    n->a.pad_constant = 1;
    n->a.nearest_mode = FA_NN_NEAREST_ROUND_PREFER_FLOOR;
    n->a.coord_mode = FA_NN_COORD_HALF_PIXEL;
    return n;
}

size_t fa_nn_graph_tensor_count(const fa_nn_graph *g) { return g->n_tensors; }
const fa_nn_tensor *fa_nn_graph_tensor(const fa_nn_graph *g, int id) {
    return id >= 0 && (size_t)id < g->n_tensors ? &g->tensors[id] : NULL;
}
size_t fa_nn_graph_node_count(const fa_nn_graph *g) { return g->n_nodes; }
const fa_nn_node *fa_nn_graph_node(const fa_nn_graph *g, size_t i) {
    return i < g->n_nodes ? &g->nodes[i] : NULL;
}
int fa_nn_graph_input_count(const fa_nn_graph *g) { return g->n_inputs; }
int fa_nn_graph_input(const fa_nn_graph *g, int i) { return i >= 0 && i < g->n_inputs ? g->inputs[i] : -1; }
int fa_nn_graph_output_count(const fa_nn_graph *g) { return g->n_outputs; }
int fa_nn_graph_output(const fa_nn_graph *g, int i) {
    return i >= 0 && i < g->n_outputs ? g->outputs[i] : -1;
}

int64_t fa_nn_shape_count(const fa_nn_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->d[i];
    return n;
}

size_t fa_nn_dtype_size(fa_nn_dtype dt) { return dt == FA_NN_INT64 ? 8 : 4; }

/* ------------------------------------------------------- shape inference */

/* The load-time pass may record what it resolves in the node (a default
 * kernel_shape, perm or split, a negative axis made positive) through mut;
 * sessions infer on the shared, read-only graph (mut NULL) and find those
 * values already resolved: several threads may create sessions at once. */
typedef struct infer_ctx {
    const fa_nn_graph *g;
    const fa_nn_node *nd;
    fa_nn_node *mut; /* nd, writable: the load pass only */
    fa_nn_shape *s;
    int batch, file_batch;
} infer_ctx;

static int bad(const infer_ctx *c, const char *fmt, ...) FA_PRINTF(2, 3);
static int bad(const infer_ctx *c, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fa_err_set(FA_EINVAL, "%s: node '%s' (%s): %s", c->g->file, c->nd->name, fa_nn_op_name(c->nd->op),
                      msg);
}

static const fa_nn_shape *in_shape(const infer_ctx *c, int i) { return &c->s[c->nd->in[i]]; }
static const fa_nn_tensor *in_tensor(const infer_ctx *c, int i) { return &c->g->tensors[c->nd->in[i]]; }

/* A constant int64 input's values (n set), or NULL when absent/empty. */
static const int64_t *const_ints(const infer_ctx *c, int i, int64_t *n) {
    *n = 0;
    if (i >= c->nd->n_in || c->nd->in[i] < 0) return NULL;
    const fa_nn_tensor *t = in_tensor(c, i);
    if (!t->data || t->dtype != FA_NN_INT64) return NULL;
    *n = fa_nn_shape_count(&c->s[c->nd->in[i]]);
    return t->data;
}

static int norm_axis(const infer_ctx *c, int axis, int rank, int *out) {
    if (axis < -rank || axis >= rank) return bad(c, "axis %d out of range for rank %d", axis, rank);
    *out = axis < 0 ? axis + rank : axis;
    return 0;
}

static int infer_window(const infer_ctx *c, fa_nn_shape *o, int c_out) {
    const fa_nn_shape *x = in_shape(c, 0);
    const fa_nn_attrs *a = &c->nd->a;
    if (x->rank != 4) return bad(c, "input of rank %d, expected 4 (NCHW)", x->rank);
    for (int i = 0; i < 2; i++) {
        if (a->kernel[i] <= 0 || a->strides[i] <= 0 || a->dilations[i] <= 0)
            return bad(c, "kernel %dx%d, strides %dx%d, dilations %dx%d: must be positive", a->kernel[0],
                       a->kernel[1], a->strides[0], a->strides[1], a->dilations[0], a->dilations[1]);
        if (a->pads[i] < 0 || a->pads[i + 2] < 0) return bad(c, "negative pads");
    }
    *o = *x;
    o->d[1] = c_out;
    for (int i = 0; i < 2; i++) {
        int pad = a->pads[i] + a->pads[i + 2];
        int ceil_mode = c->nd->op != FA_NN_OP_CONV && a->ceil_mode;
        int64_t span = x->d[2 + i] + pad - (int64_t)a->dilations[i] * (a->kernel[i] - 1) - 1, v = 0;
        if (span >= 0)
            v = (ceil_mode ? (span + a->strides[i] - 1) / a->strides[i] : span / a->strides[i]) + 1;
        /* with ceil_mode the last window must start inside the input or its leading pad (ONNX Runtime) */
        if (ceil_mode && v > 0 && (v - 1) * a->strides[i] >= x->d[2 + i] + a->pads[i]) v--;
        if (v <= 0) return bad(c, "window larger than the padded input (%lld)", (long long)x->d[2 + i]);
        o->d[2 + i] = v;
    }
    return 0;
}

static int infer_conv(infer_ctx *c, fa_nn_shape *o) {
    const fa_nn_node *nd = c->nd;
    if (nd->n_in < 2 || nd->in[1] < 0 || !in_tensor(c, 1)->data) return bad(c, "weights must be a constant");
    const fa_nn_shape *x = in_shape(c, 0), *w = in_shape(c, 1);
    if (w->rank != 4 || x->rank != 4) return bad(c, "only 2-D convolutions are supported");
    for (int i = 0; i < 4; i++)
        if (w->d[i] <= 0 || (i > 0 && x->d[i] <= 0) || w->d[i] > (1 << 16) || x->d[i] > (1 << 20))
            return bad(c, "empty or oversized input or weights (dim %d)", i);
    if (nd->a.group <= 0 || x->d[1] % nd->a.group || w->d[0] % nd->a.group ||
        w->d[1] * nd->a.group != x->d[1])
        return bad(c, "weights [%lld,%lld,...] and group %d do not fit %lld input channels",
                   (long long)w->d[0], (long long)w->d[1], nd->a.group, (long long)x->d[1]);
    if (nd->n_in > 2 && nd->in[2] >= 0 &&
        (!in_tensor(c, 2)->data || fa_nn_shape_count(in_shape(c, 2)) != w->d[0]))
        return bad(c, "bias must be a constant of %lld values", (long long)w->d[0]);
    if (!nd->a.kernel[0] && !nd->a.kernel[1] && c->mut)
        c->mut->a.kernel[0] = (int)w->d[2], c->mut->a.kernel[1] = (int)w->d[3];
    if (nd->a.kernel[0] != w->d[2] || nd->a.kernel[1] != w->d[3])
        return bad(c, "kernel_shape differs from the weights");
    return infer_window(c, o, (int)w->d[0]);
}

static int infer_broadcast(const infer_ctx *c, fa_nn_shape *o) {
    const fa_nn_shape *a = in_shape(c, 0), *b = in_shape(c, 1);
    o->rank = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < o->rank; i++) {
        int ia = i - (o->rank - a->rank), ib = i - (o->rank - b->rank);
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return bad(c, "shapes do not broadcast (dim %d: %lld vs %lld)", i, (long long)da, (long long)db);
        o->d[i] = da == 1 ? db : da;
    }
    return 0;
}

static int infer_concat(infer_ctx *c, fa_nn_shape *o) {
    int axis = 0;
    *o = *in_shape(c, 0);
    int rc = norm_axis(c, c->nd->a.axis, o->rank, &axis);
    if (rc) return rc;
    o->d[axis] = 0;
    for (int i = 0; i < c->nd->n_in; i++) {
        const fa_nn_shape *x = in_shape(c, i);
        if (x->rank != o->rank) return bad(c, "input %d has rank %d, input 0 rank %d", i, x->rank, o->rank);
        for (int d = 0; d < o->rank; d++)
            if (d != axis && x->d[d] != o->d[d]) return bad(c, "input %d differs in dim %d", i, d);
        o->d[axis] += x->d[axis];
    }
    if (c->mut) c->mut->a.axis = axis;
    return 0;
}

static int infer_transpose(infer_ctx *c, fa_nn_shape *o) {
    const fa_nn_node *nd = c->nd;
    const fa_nn_shape *x = in_shape(c, 0);
    if (!nd->a.n_perm && c->mut) {
        c->mut->a.n_perm = x->rank;
        for (int i = 0; i < x->rank; i++)
            c->mut->a.perm[i] = x->rank - 1 - i;
    }
    if (nd->a.n_perm != x->rank) return bad(c, "perm of %d entries for rank %d", nd->a.n_perm, x->rank);
    int seen = 0;
    o->rank = x->rank;
    for (int i = 0; i < x->rank; i++) {
        int p = nd->a.perm[i];
        if (p < 0 || p >= x->rank || (seen & (1 << p))) return bad(c, "perm is not a permutation");
        seen |= 1 << p;
        o->d[i] = x->d[p];
    }
    return 0;
}

static int infer_reshape(const infer_ctx *c, fa_nn_shape *o) {
    int64_t n;
    const int64_t *t = const_ints(c, 1, &n);
    const fa_nn_shape *x = in_shape(c, 0);
    if (!t) return bad(c, "shape must be a constant int64 tensor");
    if (n > FA_NN_MAX_RANK) return bad(c, "target rank %lld above %d", (long long)n, FA_NN_MAX_RANK);
    int64_t known = 1, total = fa_nn_shape_count(x);
    int minus = -1, has_minus = 0;
    for (int i = 0; i < (int)n; i++)
        has_minus |= t[i] == -1;
    o->rank = (int)n;
    for (int i = 0; i < (int)n; i++) {
        int64_t v = t[i];
        if (v == 0) {
            if (i >= x->rank) return bad(c, "0 at dim %d beyond the input's rank", i);
            v = x->d[i];
        } else if (v == -1) {
            if (minus >= 0) return bad(c, "more than one -1 in the target shape");
            minus = i;
            v = 1;
        } else if (v < 0 || v > ((int64_t)1 << 31)) {
            return bad(c, "target dim %lld invalid", (long long)v);
        }
        /* a target with -1 that hard-codes the file's batch follows the session's batch */
        if (i == 0 && c->batch > 1 && t[0] == c->file_batch && x->rank > 0 && x->d[0] == c->batch &&
            has_minus)
            v = c->batch;
        o->d[i] = v;
        if (v > 0 && known > ((int64_t)1 << 40) / v) return bad(c, "target shape too large");
        known *= v;
    }
    /* a target without -1 written for the file's batch 1 scales its first dim by the session's batch */
    if (minus < 0 && c->batch > 1 && c->file_batch == 1 && x->rank > 0 && x->d[0] == c->batch && n > 0 &&
        known * c->batch == total) {
        o->d[0] *= c->batch;
        known *= c->batch;
    }
    if (minus >= 0) {
        if (known == 0 || total % known)
            return bad(c, "cannot infer -1 from %lld elements", (long long)total);
        o->d[minus] = total / known;
        known *= o->d[minus];
    }
    if (known != total)
        return bad(c, "target has %lld elements, input %lld", (long long)known, (long long)total);
    return 0;
}

static int infer_pad(const infer_ctx *c, fa_nn_shape *o) {
    int64_t n;
    const int64_t *p = const_ints(c, 1, &n);
    const fa_nn_shape *x = in_shape(c, 0);
    if (!p || n != 2 * x->rank) return bad(c, "pads must be a constant of %d int64 values", 2 * x->rank);
    if (c->nd->n_in > 2 && c->nd->in[2] >= 0 &&
        (!c->g->tensors[c->nd->in[2]].data || fa_nn_shape_count(in_shape(c, 2)) != 1))
        return bad(c, "constant_value must be a constant of one value");
    *o = *x;
    for (int i = 0; i < x->rank; i++) {
        if (p[i] < 0 || p[i + x->rank] < 0 || p[i] > 4096 || p[i + x->rank] > 4096)
            return bad(c, "pads %lld/%lld on dim %d: only 0..4096 supported", (long long)p[i],
                       (long long)p[i + x->rank], i);
        o->d[i] += p[i] + p[i + x->rank];
    }
    return 0;
}

static int infer_gather(infer_ctx *c, fa_nn_shape *o) {
    const fa_nn_shape *x = in_shape(c, 0), *ix = in_shape(c, 1);
    int64_t n;
    const int64_t *idx = const_ints(c, 1, &n);
    int axis = 0, rc = norm_axis(c, c->nd->a.axis, x->rank, &axis);
    if (rc) return rc;
    if (!idx) return bad(c, "indices must be a constant int64 tensor");
    if (x->rank + ix->rank - 1 > FA_NN_MAX_RANK) return bad(c, "result rank too large");
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < -x->d[axis] || idx[i] >= x->d[axis])
            return bad(c, "index %lld out of range [0, %lld)", (long long)idx[i], (long long)x->d[axis]);
    o->rank = 0;
    for (int i = 0; i < axis; i++)
        o->d[o->rank++] = x->d[i];
    for (int i = 0; i < ix->rank; i++)
        o->d[o->rank++] = ix->d[i];
    for (int i = axis + 1; i < x->rank; i++)
        o->d[o->rank++] = x->d[i];
    if (c->mut) c->mut->a.axis = axis;
    return 0;
}

static int infer_resize(const infer_ctx *c, fa_nn_shape *o) {
    const fa_nn_shape *x = in_shape(c, 0);
    int64_t n;
    const int64_t *sizes = const_ints(c, 3, &n);
    *o = *x;
    if (sizes && n == x->rank) {
        for (int i = 0; i < x->rank; i++)
            o->d[i] = i == 0 && c->batch > 1 ? x->d[0] : sizes[i];
    } else {
        const fa_nn_tensor *st = c->nd->n_in > 2 && c->nd->in[2] >= 0 ? in_tensor(c, 2) : NULL;
        if (!st || !st->data || st->dtype != FA_NN_FLOAT || fa_nn_shape_count(&c->s[c->nd->in[2]]) != x->rank)
            return bad(c, "needs constant scales or sizes of %d values", x->rank);
        const float *sc = st->data;
        for (int i = 0; i < x->rank; i++) {
            if (!(sc[i] > 0 && sc[i] <= 1024)) return bad(c, "scale %g out of range", (double)sc[i]);
            o->d[i] = (int64_t)floor((double)x->d[i] * sc[i]);
        }
    }
    if (x->rank != 4 || o->d[0] != x->d[0] || o->d[1] != x->d[1])
        return bad(c, "only NCHW spatial resizing is supported");
    for (int i = 2; i < 4; i++)
        if (o->d[i] <= 0 || o->d[i] > (1 << 16))
            return bad(c, "output size %lld out of range", (long long)o->d[i]);
    return 0;
}

static int infer_split(infer_ctx *c) {
    const fa_nn_node *nd = c->nd;
    const fa_nn_shape *x = in_shape(c, 0);
    int axis = 0, rc = norm_axis(c, nd->a.axis, x->rank, &axis);
    if (rc) return rc;
    if (c->mut) c->mut->a.axis = axis;
    if (!nd->a.n_split && c->mut) {
        if (x->d[axis] % nd->n_out)
            return bad(c, "dim %lld does not split in %d", (long long)x->d[axis], nd->n_out);
        c->mut->a.n_split = nd->n_out;
        for (int i = 0; i < nd->n_out; i++)
            c->mut->a.split[i] = x->d[axis] / nd->n_out;
    }
    if (nd->a.n_split != nd->n_out)
        return bad(c, "split has %d sizes for %d outputs", nd->a.n_split, nd->n_out);
    int64_t sum = 0;
    for (int i = 0; i < nd->n_out; i++) {
        if (nd->a.split[i] < 0 || nd->a.split[i] > x->d[axis]) return bad(c, "split size out of range");
        sum += nd->a.split[i];
        c->s[nd->out[i]] = *x;
        c->s[nd->out[i]].d[axis] = nd->a.split[i];
    }
    if (sum != x->d[axis])
        return bad(c, "split sizes sum to %lld, dim is %lld", (long long)sum, (long long)x->d[axis]);
    return 0;
}

/* A fused channel shuffle (fuse_shuffle.c): inputs that concatenate along
 * axis 1 to its channels, outputs of its channels with the inputs' other dims. */
static int infer_shuffle(const infer_ctx *c, const fa_nn_shuffle *sh) {
    const fa_nn_node *nd = c->nd;
    const fa_nn_shape *x = in_shape(c, 0);
    int64_t channels = 0;
    if (nd->n_out != sh->n_out)
        return bad(c, "fused shuffle with %d outputs, described %d", nd->n_out, sh->n_out);
    for (int i = 0; i < nd->n_in; i++) {
        const fa_nn_shape *s = in_shape(c, i);
        if (s->rank < 2 || s->rank != x->rank || s->d[0] != x->d[0] ||
            memcmp(s->d + 2, x->d + 2, (size_t)(s->rank - 2) * sizeof *s->d) != 0)
            return bad(c, "fused shuffle input %d does not concatenate along axis 1", i);
        channels += s->d[1];
    }
    if (channels != sh->n_channels)
        return bad(c, "fused shuffle inputs have %lld channels, expected %lld", (long long)channels,
                   (long long)sh->n_channels);
    for (int o = 0; o < nd->n_out; o++) {
        c->s[nd->out[o]] = *x;
        c->s[nd->out[o]].d[1] = sh->channels[o];
    }
    return 0;
}

static int infer_node(infer_ctx *c) {
    const fa_nn_node *nd = c->nd;
    fa_nn_shape *o = &c->s[nd->out[0]];
    const fa_nn_shuffle *sh = fa_nn_node_shuffle(c->g, nd);
    if (sh)
        return nd->n_in >= 1 && nd->n_out >= 1 ? infer_shuffle(c, sh)
                                               : bad(c, "fused shuffle without tensors");
    static const int min_in[FA_NN_OP_COUNT] = {
        [FA_NN_OP_CONV] = 2, [FA_NN_OP_BATCHNORM] = 5, [FA_NN_OP_ADD] = 2,    [FA_NN_OP_RESHAPE] = 2,
        [FA_NN_OP_PAD] = 2,  [FA_NN_OP_GATHER] = 2,    [FA_NN_OP_RESIZE] = 1, [FA_NN_OP_CONCAT] = 1};
    int need = min_in[nd->op] ? min_in[nd->op] : 1;
    if (nd->n_in < need || nd->n_out < 1)
        return bad(c, "%d inputs, %d outputs: too few", nd->n_in, nd->n_out);
    if (nd->op == FA_NN_OP_MAXPOOL && nd->n_out > 1) return bad(c, "MaxPool Indices output not supported");
    if (nd->op != FA_NN_OP_SPLIT && nd->n_out != 1) return bad(c, "%d outputs, expected 1", nd->n_out);
    switch (nd->op) {
    case FA_NN_OP_CONV: return infer_conv(c, o);
    case FA_NN_OP_MAXPOOL:
    case FA_NN_OP_AVGPOOL: return infer_window(c, o, (int)in_shape(c, 0)->d[1]);
    case FA_NN_OP_BATCHNORM:
        for (int i = 1; i < 5; i++)
            if (nd->in[i] < 0 || !in_tensor(c, i)->data || in_tensor(c, i)->dtype != FA_NN_FLOAT ||
                in_shape(c, 0)->rank < 2 || fa_nn_shape_count(in_shape(c, i)) != in_shape(c, 0)->d[1])
                return bad(c, "scale, B, mean and var must be float constants of C values");
        *o = *in_shape(c, 0);
        return 0;
    case FA_NN_OP_ADD: return infer_broadcast(c, o);
    case FA_NN_OP_CONCAT: return infer_concat(c, o);
    case FA_NN_OP_TRANSPOSE: return infer_transpose(c, o);
    case FA_NN_OP_RESHAPE: return infer_reshape(c, o);
    case FA_NN_OP_PAD: return infer_pad(c, o);
    case FA_NN_OP_GATHER: return infer_gather(c, o);
    case FA_NN_OP_RESIZE: return infer_resize(c, o);
    case FA_NN_OP_SPLIT: return infer_split(c);
    case FA_NN_OP_SOFTMAX: {
        int axis = 0;
        int rc = norm_axis(c, nd->a.axis, in_shape(c, 0)->rank, &axis);
        if (!rc && c->mut) c->mut->a.axis = axis;
        if (!rc) *o = *in_shape(c, 0);
        return rc;
    }
    default: *o = *in_shape(c, 0); return 0;
    }
}

/* Whether input i of op may be absent, and the dtype it must have (0: any). */
static int input_optional(fa_nn_op op, int i) {
    return (op == FA_NN_OP_CONV && i == 2) || (op == FA_NN_OP_RESIZE && i >= 1) ||
           (op == FA_NN_OP_PAD && i == 2);
}

static fa_nn_dtype input_dtype(fa_nn_op op, int i) {
    switch (op) {
    case FA_NN_OP_CONCAT:
    case FA_NN_OP_TRANSPOSE:
    case FA_NN_OP_SPLIT: return 0;
    case FA_NN_OP_RESHAPE:
    case FA_NN_OP_GATHER: return i == 0 ? 0 : FA_NN_INT64;
    case FA_NN_OP_PAD: return i == 1 ? FA_NN_INT64 : FA_NN_FLOAT;
    case FA_NN_OP_RESIZE: return i == 3 ? FA_NN_INT64 : FA_NN_FLOAT;
    default: return FA_NN_FLOAT;
    }
}

/* Every required input present, every input of the dtype the op reads. */
static int check_inputs(const infer_ctx *c) {
    const fa_nn_node *nd = c->nd;
    int shuffle = fa_nn_node_shuffle(c->g, nd) != NULL;
    for (int i = 0; i < nd->n_in; i++) {
        if (nd->in[i] < 0) {
            if (!input_optional(nd->op, i)) return bad(c, "input %d is absent", i);
            continue;
        }
        fa_nn_dtype want = input_dtype(nd->op, i), got = c->g->tensors[nd->in[i]].dtype;
        if (shuffle) want = FA_NN_FLOAT;
        if (nd->op == FA_NN_OP_CONCAT && got != c->g->tensors[nd->in[0]].dtype)
            return bad(c, "inputs of different types");
        if (want && got != want)
            return bad(c, "input %d is %s, expected %s", i, got == FA_NN_FLOAT ? "float" : "int64",
                       want == FA_NN_FLOAT ? "float" : "int64");
    }
    return 0;
}

/* Output dtype: data-movement ops keep their input's, the rest are float. */
static fa_nn_dtype out_dtype(const fa_nn_graph *g, const fa_nn_node *nd) {
    switch (nd->op) {
    case FA_NN_OP_CONCAT:
    case FA_NN_OP_TRANSPOSE:
    case FA_NN_OP_RESHAPE:
    case FA_NN_OP_GATHER:
    case FA_NN_OP_SPLIT: return g->tensors[nd->in[0]].dtype;
    default: return FA_NN_FLOAT;
    }
}

static int is_output(const fa_nn_graph *g, int id) {
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == id) return 1;
    return 0;
}

static int fold_node(fa_nn_graph *g, fa_nn_node *nd, const fa_nn_shape *shapes) {
    void **bufs = fa_calloc(g->n_tensors, sizeof *bufs);
    int rc = bufs ? 0 : FA_ENOMEM;
    for (int i = 0; !rc && i < nd->n_in; i++)
        if (nd->in[i] >= 0) bufs[nd->in[i]] = g->tensors[nd->in[i]].data;
    for (int i = 0; !rc && i < nd->n_out; i++) {
        fa_nn_tensor *t = &g->tensors[nd->out[i]];
        int64_t n = fa_nn_shape_count(&shapes[nd->out[i]]);
        bufs[nd->out[i]] = fa_malloc(n ? (size_t)n * fa_nn_dtype_size(t->dtype) : 1);
        if (!bufs[nd->out[i]]) rc = FA_ENOMEM;
    }
    if (!rc) rc = fa_nn_op_run(g, nd, shapes, bufs);
    for (int i = 0; bufs && i < nd->n_out; i++) {
        if (!rc)
            g->tensors[nd->out[i]].data = bufs[nd->out[i]];
        else
            free(bufs[nd->out[i]]);
    }
    free(bufs);
    if (!rc) nd->dead = 1, g->folded++;
    return rc;
}

/* A node whose inputs are all constants (and whose outputs are not graph
 * outputs nor larger than 16 M elements) is evaluated once, at load:
 * constant folding. */
static int foldable(const fa_nn_graph *g, const fa_nn_node *nd, const fa_nn_shape *shapes) {
    if (nd->dead || nd->op == FA_NN_OP_CONV) return 0;
    for (int i = 0; i < nd->n_in; i++)
        if (nd->in[i] >= 0 && !g->tensors[nd->in[i]].data) return 0;
    for (int i = 0; i < nd->n_out; i++)
        if (is_output(g, nd->out[i]) || fa_nn_shape_count(&shapes[nd->out[i]]) > (1 << 24)) return 0;
    return 1;
}

/* Marks the constants and the graph inputs known, with their shapes. */
static int seed_shapes(const fa_nn_graph *g, fa_nn_shape *shapes, unsigned char *known, int batch) {
    for (size_t i = 0; i < g->n_tensors; i++) {
        const fa_nn_tensor *t = &g->tensors[i];
        if (!t->data) continue;
        known[i] = 1;
        shapes[i].rank = t->rank;
        memcpy(shapes[i].d, t->shape, sizeof t->shape);
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const fa_nn_tensor *t = &g->tensors[g->inputs[i]];
        if (t->rank < 1) return fa_err_set(FA_EINVAL, "%s: input '%s' has no shape", g->file, t->name);
        known[g->inputs[i]] = 1;
        shapes[g->inputs[i]].rank = t->rank;
        memcpy(shapes[g->inputs[i]].d, t->shape, sizeof t->shape);
        if (batch > 0) shapes[g->inputs[i]].d[0] = batch;
    }
    return 0;
}

/* Checks that node c->nd reads known tensors and writes new ones, then infers it. */
static int infer_one(infer_ctx *c, unsigned char *known) {
    const fa_nn_node *nd = c->nd;
    const fa_nn_graph *g = c->g;
    for (int i = 0; i < nd->n_in; i++)
        if (nd->in[i] >= 0 && !known[nd->in[i]])
            return bad(c, "input '%s' is not produced before it is used", g->tensors[nd->in[i]].name);
    for (int i = 0; i < nd->n_out; i++) {
        if (known[nd->out[i]]) return bad(c, "output '%s' is produced twice", g->tensors[nd->out[i]].name);
        for (int j = 0; j < i; j++)
            if (nd->out[j] == nd->out[i])
                return bad(c, "output '%s' is named twice", g->tensors[nd->out[i]].name);
    }
    if (nd->n_in < 1 || nd->in[0] < 0) return bad(c, "first input is absent");
    int rc = check_inputs(c);
    if (!rc) rc = infer_node(c);
    for (int i = 0; !rc && i < nd->n_out; i++) {
        known[nd->out[i]] = 1;
        if (fa_nn_shape_count(&c->s[nd->out[i]]) > ((int64_t)1 << 28))
            rc = bad(c, "output '%s' too large", g->tensors[nd->out[i]].name);
    }
    return rc;
}

/* Records a node's inferred outputs in the (mutable) graph. */
static void record_outputs(fa_nn_graph *g, const fa_nn_node *nd, const fa_nn_shape *shapes) {
    for (int i = 0; i < nd->n_out; i++) {
        fa_nn_tensor *t = &g->tensors[nd->out[i]];
        t->dtype = out_dtype(g, nd);
        t->rank = shapes[nd->out[i]].rank;
        memcpy(t->shape, shapes[nd->out[i]].d, sizeof t->shape);
    }
}

/* g is cg made writable at load (outputs recorded, constants folded), NULL for sessions. */
static int infer_all(fa_nn_graph *g, const fa_nn_graph *cg, fa_nn_shape *shapes, int batch) {
    unsigned char *known = fa_calloc(cg->n_tensors ? cg->n_tensors : 1, 1);
    if (!known) return FA_ENOMEM;
    int rc = seed_shapes(cg, shapes, known, batch);
    infer_ctx c = {.g = cg,
                   .s = shapes,
                   .batch = batch,
                   .file_batch = cg->n_inputs ? (int)cg->tensors[cg->inputs[0]].shape[0] : 1};
    for (size_t n = 0; !rc && n < cg->n_nodes; n++) {
        if (cg->nodes[n].dead) continue;
        c.nd = &cg->nodes[n];
        c.mut = g ? &g->nodes[n] : NULL;
        rc = infer_one(&c, known);
        if (!rc && g) record_outputs(g, c.nd, shapes);
        if (!rc && g && batch == 0 && foldable(g, &g->nodes[n], shapes))
            rc = fold_node(g, &g->nodes[n], shapes);
    }
    for (int i = 0; !rc && i < cg->n_outputs; i++)
        if (!known[cg->outputs[i]])
            rc = fa_err_set(FA_EINVAL, "%s: output '%s' is never produced", cg->file,
                            cg->tensors[cg->outputs[i]].name);
    free(known);
    return rc;
}

int fa_nn_graph_infer(fa_nn_graph *g, fa_nn_shape *shapes, int batch) {
    return infer_all(g, g, shapes, batch);
}

int fa_nn_graph_infer_shapes(const fa_nn_graph *g, fa_nn_shape *shapes, int batch) {
    return infer_all(NULL, g, shapes, batch);
}

/* ------------------------------------------------------------------ passes */

/* How many live nodes read each tensor. */
static int *count_uses(const fa_nn_graph *g) {
    int *uses = fa_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *uses);
    for (size_t n = 0; uses && n < g->n_nodes; n++)
        for (int i = 0; !g->nodes[n].dead && i < g->nodes[n].n_in; i++)
            if (g->nodes[n].in[i] >= 0) uses[g->nodes[n].in[i]]++;
    return uses;
}

/* The single live consumer of tensor id, or NULL. */
static fa_nn_node *only_consumer(fa_nn_graph *g, int id, const int *uses) {
    if (uses[id] != 1 || is_output(g, id)) return NULL;
    for (size_t n = 0; n < g->n_nodes; n++) {
        fa_nn_node *nd = &g->nodes[n];
        for (int i = 0; !nd->dead && i < nd->n_in; i++)
            if (nd->in[i] == id) return nd;
    }
    return NULL;
}

/* Folds bn into conv: w *= s, b = (b - mean) * s + beta, s = gamma / sqrt(var + eps). */
static int fold_batchnorm(fa_nn_graph *g, fa_nn_node *conv, fa_nn_node *bn, const int *uses) {
    fa_nn_tensor *w = &g->tensors[conv->in[1]];
    if (uses[conv->in[1]] != 1) return 0;
    int64_t c_out = w->shape[0], per = 1;
    for (int i = 1; i < w->rank; i++)
        per *= w->shape[i];
    int bias = conv->n_in > 2 ? conv->in[2] : -1;
    if (bias >= 0 && uses[bias] != 1) return 0;
    if (bias < 0) {
        char name[160];
        snprintf(name, sizeof name, "%s.folded_bias", bn->name);
        bias = fa_nn_graph_tensor_id(g, name, strlen(name), 1);
        if (bias < 0) return bias;
        w = &g->tensors[conv->in[1]];
        fa_nn_tensor *bt = &g->tensors[bias];
        if (!(bt->data = fa_calloc((size_t)c_out, sizeof(float)))) return FA_ENOMEM;
        bt->rank = 1;
        bt->shape[0] = c_out;
        conv->n_in = 3;
        conv->in[2] = bias;
    }
    const float *gamma = g->tensors[bn->in[1]].data, *beta = g->tensors[bn->in[2]].data;
    const float *mean = g->tensors[bn->in[3]].data, *var = g->tensors[bn->in[4]].data;
    float *wd = w->data, *bd = g->tensors[bias].data;
    for (int64_t o = 0; o < c_out; o++) {
        float s = gamma[o] / sqrtf(var[o] + bn->a.epsilon);
        for (int64_t k = 0; k < per; k++)
            wd[o * per + k] *= s;
        bd[o] = (bd[o] - mean[o]) * s + beta[o];
    }
    conv->out[0] = bn->out[0];
    bn->dead = 1;
    g->fused_bn++;
    return 0;
}

static int fuse_conv(fa_nn_graph *g) {
    for (int pass = 0; pass < 2; pass++) {
        int *uses = count_uses(g);
        if (!uses) return FA_ENOMEM;
        for (size_t n = 0; n < g->n_nodes; n++) {
            fa_nn_node *conv = &g->nodes[n];
            if (conv->dead || conv->op != FA_NN_OP_CONV || conv->act) continue;
            fa_nn_node *next = only_consumer(g, conv->out[0], uses);
            if (!next) continue;
            if (pass == 0 && next->op == FA_NN_OP_BATCHNORM) {
                int rc = fold_batchnorm(g, conv, next, uses);
                if (rc) {
                    free(uses);
                    return rc;
                }
                conv = &g->nodes[n];
            } else if (pass == 1 && (next->op == FA_NN_OP_RELU || next->op == FA_NN_OP_LEAKY_RELU ||
                                     next->op == FA_NN_OP_SIGMOID)) {
                conv->act = next->op == FA_NN_OP_RELU      ? FA_NN_ACT_RELU
                            : next->op == FA_NN_OP_SIGMOID ? FA_NN_ACT_SIGMOID
                                                           : FA_NN_ACT_LEAKY;
                conv->act_alpha = next->a.alpha;
                conv->out[0] = next->out[0];
                next->dead = 1;
                g->fused_act++;
            }
        }
        free(uses);
    }
    return 0;
}

int fa_nn_graph_prepare(fa_nn_graph *g) {
    fa_nn_shape *shapes = fa_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *shapes);
    if (!shapes) return FA_ENOMEM;
    int rc = fa_nn_graph_infer(g, shapes, 0); /* folds constants as it goes */
    free(shapes);
    if (!rc) rc = fuse_conv(g);
    if (!rc) rc = fa_nn_graph_fuse_shuffles(g);
    return rc;
}
