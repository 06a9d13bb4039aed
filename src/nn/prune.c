/*
 * prune.c - structured channel pruning (prune.h): whole output channels
 * of convolutions are removed, so the pruned graph is a smaller dense
 * graph that every backend runs as it is (unstructured, weight-by-weight
 * sparsity would need sparse kernels to save any time).
 *
 * For each live Conv in node order (the "source"), the set of tensors that
 * carry its channels is walked forward from its output: a channel-wise op
 * (activation, BatchNormalization, pooling) or a depthwise convolution
 * passes the channels on; a regular convolution reading them is a "sink"
 * (its weights' input-channel dimension goes with them); anything else
 * (Concat, Reshape, Add, a graph output...) makes the source unprunable,
 * because removing a channel there would change a shape or a pairing the
 * rest of the graph depends on. Every constant touched (weights, biases,
 * BatchNorm parameters) must be read by that one node only, so slicing it
 * changes nothing else.
 *
 * The channels are ranked once per source: the L1 norm of each channel's
 * filter, or |gamma| of the BatchNormalization that reads the source's
 * output (FA_NN_PRUNE_BN_GAMMA; L1 where there is none: after
 * fa_nn_graph_prepare, or in models exported with BatchNorm already
 * folded, the folded filters' L1 norm carries gamma's scale anyway). The
 * lowest floor(ratio * C) go; ties remove the higher index first.
 *
 * No bias compensation: a removed channel whose filter is all zero still
 * outputs act(bias) (and a depthwise conv after it adds its own bias);
 * those constants are dropped too. The tests build their zero channels
 * with zero biases, where the pruned graph's outputs equal the original's
 * exactly.
 *
 * Shapes are re-inferred at the end (fa_nn_graph_infer at the declared
 * batch records the new computed shapes in the graph); params and MACs
 * before and after are counted from the inferred shapes like
 * fa_nn_model_info counts them.
 */
#include "nn/prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

/* What one source's channels reach. Node indices into g->nodes. */
typedef struct reach {
    size_t *pass; /* channel-wise nodes and depthwise convs */
    size_t n_pass;
    size_t *sinks; /* regular convs reading the channels */
    size_t n_sinks;
    int *queue; /* tensors to visit */
    size_t n_queue;
    int bn; /* BatchNormalization reading the source's output, -1 none */
} reach;

typedef struct pruner {
    fa_nn_graph *g;
    int *uses;        /* live readers per tensor */
    size_t **readers; /* per tensor: live node indices reading it (any input slot) */
    size_t *n_readers;
    reach r;
} pruner;

/* ------------------------------------------------------------ bookkeeping */

static int graph_output(const fa_nn_graph *g, int id) {
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == id) return 1;
    return 0;
}

static void pruner_free(pruner *p) {
    for (size_t t = 0; p->readers && t < p->g->n_tensors; t++)
        free(p->readers[t]);
    free(p->readers);
    free(p->n_readers);
    free(p->uses);
    free(p->r.pass);
    free(p->r.sinks);
    free(p->r.queue);
}

/* Indexes who reads what (live nodes only). 0 or FA_ENOMEM. */
static int pruner_init(pruner *p, fa_nn_graph *g) {
    size_t nt = g->n_tensors ? g->n_tensors : 1, nn = g->n_nodes ? g->n_nodes : 1;
    memset(p, 0, sizeof *p);
    p->g = g;
    p->uses = fa_calloc(nt, sizeof *p->uses);
    p->readers = fa_calloc(nt, sizeof *p->readers);
    p->n_readers = fa_calloc(nt, sizeof *p->n_readers);
    p->r.pass = fa_calloc(nn, sizeof *p->r.pass);
    p->r.sinks = fa_calloc(nn, sizeof *p->r.sinks);
    p->r.queue = fa_calloc(nn + 1, sizeof *p->r.queue);
    if (!p->uses || !p->readers || !p->n_readers || !p->r.pass || !p->r.sinks || !p->r.queue)
        return FA_ENOMEM;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        for (int i = 0; !nd->dead && i < nd->n_in; i++) {
            int id = nd->in[i];
            if (id < 0) continue;
            size_t *grown = realloc(p->readers[id], (p->n_readers[id] + 1) * sizeof *grown);
            if (!grown) return fa_err_set(FA_ENOMEM, "nn prune: out of memory");
            p->readers[id] = grown;
            grown[p->n_readers[id]++] = n;
            p->uses[id]++;
        }
    }
    return 0;
}

/* A float constant read by one node only, of rank rank, whose dimension
 * dim is c (any rank when rank is 0). */
static int own_constant(const pruner *p, int id, int rank, int dim, int64_t c) {
    if (id < 0) return 1; /* an absent optional input: nothing to slice */
    const fa_nn_tensor *t = &p->g->tensors[id];
    if (!t->data || t->dtype != FA_NN_FLOAT || p->uses[id] != 1) return 0;
    if (rank && t->rank != rank) return 0;
    return dim < t->rank && t->shape[dim] == c;
}

/* Optional bias of a conv, or -1. */
static int conv_bias(const fa_nn_node *nd) { return nd->n_in > 2 ? nd->in[2] : -1; }

static int is_depthwise(const pruner *p, const fa_nn_node *nd, int64_t c) {
    const fa_nn_tensor *w = nd->in[1] >= 0 ? &p->g->tensors[nd->in[1]] : NULL;
    return w && nd->a.group == c && w->rank == 4 && w->shape[0] == c && w->shape[1] == 1;
}

/* ------------------------------------------------------------ reach */

/* Visits reader n of a tensor with c channels; 0: the channels cannot go. */
static int visit_reader(pruner *p, size_t n, int tensor, int64_t c, int from_source) {
    const fa_nn_node *nd = &p->g->nodes[n];
    reach *r = &p->r;
    if (nd->in[0] != tensor) return 0;
    for (int i = 1; i < nd->n_in; i++)
        if (nd->in[i] == tensor) return 0;
    switch (nd->op) {
    case FA_NN_OP_CONV:
        if (is_depthwise(p, nd, c)) {
            if (!own_constant(p, nd->in[1], 4, 0, c) || !own_constant(p, conv_bias(nd), 1, 0, c)) return 0;
            r->pass[r->n_pass++] = n;
            r->queue[r->n_queue++] = nd->out[0];
            return 1;
        }
        if (nd->a.group != 1 || !own_constant(p, nd->in[1], 4, 1, c)) return 0;
        r->sinks[r->n_sinks++] = n;
        return 1;
    case FA_NN_OP_BATCHNORM:
        for (int i = 1; i < 5; i++)
            if (i >= nd->n_in || nd->in[i] < 0 || !own_constant(p, nd->in[i], 1, 0, c)) return 0;
        if (from_source) r->bn = (int)n;
        break;
    case FA_NN_OP_RELU:
    case FA_NN_OP_LEAKY_RELU:
    case FA_NN_OP_SIGMOID:
    case FA_NN_OP_MAXPOOL:
    case FA_NN_OP_AVGPOOL: break;
    default: return 0;
    }
    if (nd->n_out != 1) return 0;
    r->pass[r->n_pass++] = n;
    r->queue[r->n_queue++] = nd->out[0];
    return 1;
}

/* Fills p->r with what the c channels of source's output reach; 1 when
 * they may be pruned. The graph is a DAG in node order and every reader
 * has one data input, so each node is visited at most once. */
static int find_reach(pruner *p, size_t source, int64_t c) {
    reach *r = &p->r;
    r->n_pass = r->n_sinks = r->n_queue = 0;
    r->bn = -1;
    r->queue[r->n_queue++] = p->g->nodes[source].out[0];
    for (size_t q = 0; q < r->n_queue; q++) {
        int t = r->queue[q];
        if (graph_output(p->g, t) || p->n_readers[t] == 0) return 0;
        for (size_t k = 0; k < p->n_readers[t]; k++)
            if (!visit_reader(p, p->readers[t][k], t, c, q == 0)) return 0;
    }
    return r->n_sinks > 0;
}

/* A conv whose output channels could go: regular, constants its own. */
static int source_ok(const pruner *p, const fa_nn_node *nd, int64_t *c) {
    if (nd->dead || nd->op != FA_NN_OP_CONV || nd->n_out != 1 || nd->a.group != 1) return 0;
    if (nd->n_in < 2 || nd->in[1] < 0) return 0;
    const fa_nn_tensor *w = &p->g->tensors[nd->in[1]];
    if (w->rank != 4 || w->shape[0] < 2) return 0;
    *c = w->shape[0];
    return own_constant(p, nd->in[1], 4, 0, *c) && own_constant(p, conv_bias(nd), 1, 0, *c);
}

/* ------------------------------------------------------------ slicing */

/* Keeps the entries of t whose index along axis is kept (keep[c]). */
static int slice_tensor(fa_nn_tensor *t, int axis, const unsigned char *keep, int64_t n_keep) {
    int64_t outer = 1, inner = 1, c = t->shape[axis];
    for (int i = 0; i < axis; i++)
        outer *= t->shape[i];
    for (int i = axis + 1; i < t->rank; i++)
        inner *= t->shape[i];
    float *from = t->data, *to = fa_malloc((size_t)(outer * n_keep * inner) * sizeof(float) + 1);
    if (!to) return FA_ENOMEM;
    float *w = to;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < c; k++)
            if (keep[k]) {
                memcpy(w, from + (o * c + k) * inner, (size_t)inner * sizeof(float));
                w += inner;
            }
    free(t->data);
    t->data = to;
    t->shape[axis] = n_keep;
    return 0;
}

static int slice_id(fa_nn_graph *g, int id, int axis, const unsigned char *keep, int64_t n_keep) {
    return id < 0 ? 0 : slice_tensor(&g->tensors[id], axis, keep, n_keep);
}

/* Slices the source, the pass-through nodes and the sinks. */
static int apply(pruner *p, size_t source, const unsigned char *keep, int64_t n_keep) {
    fa_nn_graph *g = p->g;
    const fa_nn_node *src = &g->nodes[source];
    int rc = slice_id(g, src->in[1], 0, keep, n_keep);
    if (!rc) rc = slice_id(g, conv_bias(src), 0, keep, n_keep);
    for (size_t i = 0; !rc && i < p->r.n_pass; i++) {
        fa_nn_node *nd = &g->nodes[p->r.pass[i]];
        if (nd->op == FA_NN_OP_CONV) {
            rc = slice_id(g, nd->in[1], 0, keep, n_keep);
            if (!rc) rc = slice_id(g, conv_bias(nd), 0, keep, n_keep);
            nd->a.group = (int)n_keep;
        } else if (nd->op == FA_NN_OP_BATCHNORM) {
            for (int k = 1; !rc && k < 5; k++)
                rc = slice_id(g, nd->in[k], 0, keep, n_keep);
        }
    }
    for (size_t i = 0; !rc && i < p->r.n_sinks; i++)
        rc = slice_id(g, g->nodes[p->r.sinks[i]].in[1], 1, keep, n_keep);
    return rc ? fa_err_set(FA_ENOMEM, "nn prune: out of memory") : 0;
}

/* ------------------------------------------------------------ ranking */

typedef struct ranked {
    double score;
    int64_t index;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return x->index > y->index ? -1 : x->index < y->index; /* ties: the higher index goes first */
}

/* Scores each of the c channels of source; *by_gamma set when BN ranked them. */
static void score_channels(const pruner *p, size_t source, fa_nn_prune_method method, ranked *rk, int64_t c,
                           int *by_gamma) {
    const fa_nn_graph *g = p->g;
    const fa_nn_tensor *w = &g->tensors[g->nodes[source].in[1]];
    const float *gamma = NULL;
    if (method == FA_NN_PRUNE_BN_GAMMA && p->r.bn >= 0) gamma = g->tensors[g->nodes[p->r.bn].in[1]].data;
    *by_gamma = gamma != NULL;
    int64_t per = w->shape[1] * w->shape[2] * w->shape[3];
    const float *wd = w->data;
    for (int64_t o = 0; o < c; o++) {
        double s = 0;
        if (gamma)
            s = fabs((double)gamma[o]);
        else
            for (int64_t k = 0; k < per; k++)
                s += fabs((double)wd[o * per + k]);
        rk[o] = (ranked){s, o};
    }
}

/* Prunes one source (its reach already found). Returns channels kept or < 0. */
static int64_t prune_source(pruner *p, size_t source, int64_t c, float ratio, fa_nn_prune_method method,
                            int *by_gamma) {
    int64_t n_drop = (int64_t)floor((double)ratio * (double)c);
    if (n_drop > c - 1) n_drop = c - 1;
    if (n_drop <= 0) return c;
    ranked *rk = fa_malloc((size_t)c * sizeof *rk);
    unsigned char *keep = fa_malloc((size_t)c);
    if (!rk || !keep) {
        free(rk), free(keep);
        return FA_ENOMEM;
    }
    score_channels(p, source, method, rk, c, by_gamma);
    qsort(rk, (size_t)c, sizeof *rk, cmp_ranked);
    memset(keep, 1, (size_t)c);
    for (int64_t i = 0; i < n_drop; i++)
        keep[rk[i].index] = 0;
    int rc = apply(p, source, keep, c - n_drop);
    free(rk), free(keep);
    return rc ? rc : c - n_drop;
}

/* ------------------------------------------------------------ counting */

/* Params and MACs like fa_nn_model_info, from freshly inferred shapes;
 * record: write the shapes into the graph (after pruning). */
static int count(fa_nn_graph *g, int record, uint64_t *params, uint64_t *macs) {
    fa_nn_shape *s = fa_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *s);
    unsigned char *seen = fa_calloc(g->n_tensors ? g->n_tensors : 1, 1);
    int rc = s && seen ? 0 : FA_ENOMEM;
    if (!rc) rc = record ? fa_nn_graph_infer(g, s, 0) : fa_nn_graph_infer_shapes(g, s, 0);
    *params = *macs = 0;
    for (size_t n = 0; !rc && n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead) continue;
        for (int i = 0; i < nd->n_in; i++) {
            int id = nd->in[i];
            if (id < 0 || seen[id] || !g->tensors[id].data || g->tensors[id].dtype != FA_NN_FLOAT) continue;
            seen[id] = 1;
            *params += (uint64_t)fa_nn_shape_count(&s[id]);
        }
        if (nd->op != FA_NN_OP_CONV) continue;
        const fa_nn_shape *y = &s[nd->out[0]], *w = &s[nd->in[1]];
        *macs += (uint64_t)(y->d[1] * y->d[2] * y->d[3]) * (uint64_t)(w->d[1] * w->d[2] * w->d[3]);
    }
    free(s);
    free(seen);
    return rc;
}

/* ------------------------------------------------------------ the pass */

static int prune_all(pruner *p, float ratio, fa_nn_prune_method method, fa_nn_prune_report *rep) {
    for (size_t n = 0; n < p->g->n_nodes; n++) {
        int64_t c;
        if (p->g->nodes[n].dead || p->g->nodes[n].op != FA_NN_OP_CONV) continue;
        rep->convs_total++;
        if (!source_ok(p, &p->g->nodes[n], &c) || !find_reach(p, n, c)) continue;
        rep->convs_prunable++;
        rep->channels_before += c;
        int by_gamma = 0;
        int64_t kept = prune_source(p, n, c, ratio, method, &by_gamma);
        if (kept < 0) return (int)kept;
        rep->channels_after += kept;
        rep->convs_pruned += kept < c;
        rep->ranked_by_gamma += kept < c && by_gamma;
    }
    return 0;
}

int fa_nn_prune(fa_nn_graph *g, float ratio, fa_nn_prune_method method, fa_nn_prune_report *out) {
    fa_nn_prune_report rep = {0};
    if (out) *out = rep;
    if (!g) return fa_err_set(FA_EINVAL, "nn prune: no graph");
    if (!(ratio >= 0.0f && ratio < 1.0f))
        return fa_err_set(FA_EINVAL, "%s: prune ratio %g outside [0, 1)", g->file, (double)ratio);
    if (method != FA_NN_PRUNE_L1 && method != FA_NN_PRUNE_BN_GAMMA)
        return fa_err_set(FA_EINVAL, "%s: prune method %d unknown", g->file, (int)method);
    int rc = count(g, 0, &rep.params_before, &rep.macs_before);
    if (rc) return fa_err_prefix("%s: before pruning", g->file);
    pruner p;
    rc = pruner_init(&p, g);
    if (!rc) rc = prune_all(&p, ratio, method, &rep);
    pruner_free(&p);
    if (rc == FA_ENOMEM) return fa_err_set(FA_ENOMEM, "%s: prune: out of memory", g->file);
    if (rc) return rc;
    if (count(g, 1, &rep.params_after, &rep.macs_after) != 0)
        return fa_err_prefix("%s: after pruning", g->file);
    if (out) *out = rep;
    return 0;
}
