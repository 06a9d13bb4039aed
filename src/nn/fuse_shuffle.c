/*
 * fuse_shuffle.c - the channel-shuffle fusion: ShuffleNet's
 * Concat -> Reshape -> Transpose -> Reshape -> (Split | Gather x2) becomes
 * one node that writes each output channel straight from the Concat's
 * inputs (nn_internal.h states the pass's contract).
 *
 * Why: in a ShuffleNet unit every one of those nodes copies the whole
 * tensor (the Reshapes alias only where the memory plan allows it), and in
 * FastestDet at one thread those copies were ~9.5% of the time. The
 * shuffle is, per image, only a permutation of whole channels, so one
 * memcpy per output channel does all of it.
 *
 * How the chain is recognised: structurally (a Concat along axis 1 whose
 * tensor flows through single-consumer Reshape / Transpose nodes, then
 * into Split / Gather nodes or anything else), then semantically by
 * running the chain itself on element indices instead of data: the
 * operators are the ones sessions run (ops.c), so whatever the Reshape
 * targets and the permutation are - FastestDet's [C/2, 2, HW] transpose
 * with x[0] / x[1] Gathers, NanoDet-m's [2, C/2] -> [C/2, 2] with a Split
 * - the resulting table is what the chain does. It is run at batch 1 and
 * batch 2 (Reshape targets hard-code the file's batch and are rescaled
 * for sessions, graph.c) and fused only when both give the same per-image
 * channel table, so the fused node is exact at any batch the unfused
 * graph runs. Indices travel as 4-byte values through float tensors: the
 * move operators copy bytes, never interpret them.
 *
 * Composition: in a ShuffleNet stage each unit's x[0] (the pass-through
 * half) only goes into the next unit's shuffle, so after fusing, a shuffle
 * reading another shuffle's output that nothing else reads takes those
 * channels from where the first one took them (tables composed, inputs
 * merged, at most FA_NN_MAX_IO) and the first one stops writing it: a
 * pass-through channel is copied once, to where a convolution reads it,
 * instead of once per unit. Measured ~1% of FastestDet on top of the fusion
 * (its inputs stay live longer: the memory plan follows from the node's
 * inputs).
 *
 * Representation: fa_nn_op (nn.h, a public face) has no slot for a new
 * operator, so the fused node is carried by op Gather and recognised by
 * fa_nn_node_shuffle, which matches it by position against g->shuffles,
 * so no attribute of a file's node can fake one.
 *
 * INT8: an INT8 model (runtime.c) keeps tensors int8 only through Concat,
 * Split, Transpose and Reshape, with scales that calibration (quant.c)
 * unifies over exactly those ops; the fused node is neither (a Concat or
 * Split carrier would be run as that op on bytes: wrong), so its tensors
 * stay fp32 there. A chain made only of those ops (NanoDet-m's Concat ->
 * Reshape -> Transpose -> Reshape -> Split) runs int8 today, and fusing it
 * measured NanoDet-m INT8 0.38x -> 0.58x of ORT's time (156 -> 47 int8
 * tensors), so only chains that already hold a Gather (FastestDet's x[0],
 * x[1]: not int8 before either) are fused: no INT8 model loses anything,
 * and NanoDet-m's graph is left as it is. Fusing those too needs the
 * INT8 runtime to run the fused node on bytes and calibration to give its
 * tensors one scale.
 */
#include "nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

/* A candidate: the Concat, the nodes after it (in graph order), the
 * tensors the fused node writes. */
typedef struct chain {
    size_t concat;
    size_t nodes[3 + FA_NN_MAX_IO + 8];
    int n_nodes;
    int outs[FA_NN_MAX_IO];
    int n_outs;
    int has_transpose;
} chain;

const fa_nn_shuffle *fa_nn_node_shuffle(const fa_nn_graph *g, const fa_nn_node *nd) {
    if (nd->op != FA_NN_OP_GATHER || !g->n_shuffles || nd < g->nodes || nd >= g->nodes + g->n_nodes)
        return NULL;
    size_t at = (size_t)(nd - g->nodes);
    for (size_t i = 0; i < g->n_shuffles; i++)
        if (g->shuffles[i].node == at) return &g->shuffles[i];
    return NULL;
}

void fa_nn_graph_free_shuffles(fa_nn_graph *g) {
    for (size_t i = 0; i < g->n_shuffles; i++)
        free(g->shuffles[i].src);
    free(g->shuffles);
    g->shuffles = NULL;
    g->n_shuffles = g->cap_shuffles = 0;
}

/* ------------------------------------------------------------ structure */

static int is_graph_output(const fa_nn_graph *g, int id) {
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == id) return 1;
    return 0;
}

/* The live nodes reading tensor id (each once), up to max; their count
 * (which may exceed max). *as_data: every read is as input 0 only. */
static int readers(const fa_nn_graph *g, int id, size_t *out, int max, int *as_data) {
    int n = 0;
    *as_data = 1;
    for (size_t k = 0; k < g->n_nodes; k++) {
        const fa_nn_node *nd = &g->nodes[k];
        int reads = 0;
        for (int i = 0; !nd->dead && i < nd->n_in; i++)
            if (nd->in[i] == id) {
                reads++;
                if (i != 0) *as_data = 0;
            }
        if (!reads) continue;
        if (reads > 1) *as_data = 0;
        if (n < max) out[n] = k;
        n++;
    }
    return n;
}

static int is_constant(const fa_nn_graph *g, int id) { return id >= 0 && g->tensors[id].data != NULL; }

/* Whether node k is a pure reshuffle of its input 0: Reshape or Transpose
 * (constant target), or a terminal Split / constant-index Gather. */
static int is_link(const fa_nn_graph *g, size_t k) {
    const fa_nn_node *nd = &g->nodes[k];
    if (nd->op == FA_NN_OP_TRANSPOSE) return nd->n_in == 1;
    if (nd->op == FA_NN_OP_RESHAPE) return nd->n_in == 2 && is_constant(g, nd->in[1]);
    return 0;
}

static int is_terminal(const fa_nn_graph *g, size_t k) {
    const fa_nn_node *nd = &g->nodes[k];
    if (nd->op == FA_NN_OP_SPLIT) return nd->n_in == 1 || (nd->n_in == 2 && is_constant(g, nd->in[1]));
    if (nd->op == FA_NN_OP_GATHER)
        return nd->n_in == 2 && is_constant(g, nd->in[1]) && !fa_nn_node_shuffle(g, nd);
    return 0;
}

/* Adds the Split / Gather readers of t as the chain's end when they are
 * all its readers; else t itself is the fused node's one output. */
static void chain_end(const fa_nn_graph *g, int t, chain *ch) {
    size_t rd[FA_NN_MAX_IO];
    int as_data, n = readers(g, t, rd, FA_NN_MAX_IO, &as_data), outs = 0, ok = n > 0 && n <= FA_NN_MAX_IO;
    ok = ok && as_data && !is_graph_output(g, t);
    for (int i = 0; ok && i < n; i++) {
        ok = is_terminal(g, rd[i]);
        outs += g->nodes[rd[i]].n_out;
    }
    if (ok && outs <= FA_NN_MAX_IO) {
        for (int i = 0; i < n; i++) {
            ch->nodes[ch->n_nodes++] = rd[i];
            for (int o = 0; o < g->nodes[rd[i]].n_out; o++)
                ch->outs[ch->n_outs++] = g->nodes[rd[i]].out[o];
        }
        return;
    }
    ch->outs[ch->n_outs++] = t;
}

/* Fills ch for the Concat at node k; 1 when it is a fusion candidate: a
 * Transpose in the chain, a Gather at its end. */
static int find_chain(const fa_nn_graph *g, size_t k, const fa_nn_shape *shapes, chain *ch) {
    const fa_nn_node *cat = &g->nodes[k];
    memset(ch, 0, sizeof *ch);
    ch->concat = k;
    if (cat->dead || cat->op != FA_NN_OP_CONCAT || cat->a.axis != 1 || cat->n_out != 1) return 0;
    /* the simulation holds a few copies of the tensor at batch 2: kept to 64 MiB each */
    if (shapes[cat->out[0]].rank < 2 || fa_nn_shape_count(&shapes[cat->out[0]]) > ((int64_t)1 << 23))
        return 0;
    for (int i = 0; i < cat->n_in; i++) {
        if (cat->in[i] < 0 || g->tensors[cat->in[i]].dtype != FA_NN_FLOAT) return 0;
        for (int j = 0; j < i; j++)
            if (cat->in[j] == cat->in[i]) return 0; /* one tensor twice: left alone */
    }
    int t = cat->out[0];
    while (ch->n_nodes < 8 && !is_graph_output(g, t)) {
        size_t rd[2];
        int as_data;
        if (readers(g, t, rd, 2, &as_data) != 1 || !as_data || !is_link(g, rd[0])) break;
        ch->nodes[ch->n_nodes++] = rd[0];
        ch->has_transpose |= g->nodes[rd[0]].op == FA_NN_OP_TRANSPOSE;
        t = g->nodes[rd[0]].out[0];
    }
    if (!ch->has_transpose) return 0;
    chain_end(g, t, ch);
    for (int n = 0; n < ch->n_nodes; n++) /* INT8: see the top of the file */
        if (g->nodes[ch->nodes[n]].op == FA_NN_OP_GATHER) return 1;
    return 0;
}

/* ----------------------------------------------------------- simulation */

/* The chain's tensors at one batch, holding element indices. */
typedef struct sim {
    const fa_nn_graph *g;
    const fa_nn_shape *s;
    void **bufs;
    int64_t images, channels, inner; /* of the Concat's output */
} sim;

static void sim_free(sim *sm, const chain *ch) {
    if (!sm->bufs) return;
    const fa_nn_node *cat = &sm->g->nodes[ch->concat];
    for (int i = 0; i < cat->n_in; i++)
        free(sm->bufs[cat->in[i]]), sm->bufs[cat->in[i]] = NULL;
    free(sm->bufs[cat->out[0]]);
    for (int n = 0; n < ch->n_nodes; n++)
        for (int o = 0; o < sm->g->nodes[ch->nodes[n]].n_out; o++)
            free(sm->bufs[sm->g->nodes[ch->nodes[n]].out[o]]);
    free(sm->bufs);
    sm->bufs = NULL;
}

static int sim_alloc(sim *sm, int id) {
    int64_t n = fa_nn_shape_count(&sm->s[id]);
    if (n > ((int64_t)1 << 31)) return FA_EINVAL;
    sm->bufs[id] = fa_malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
    return sm->bufs[id] ? 0 : FA_ENOMEM;
}

/* Fills the Concat's inputs with the indices their elements will have in
 * its output, allocates every tensor the chain writes, binds constants. */
static int sim_setup(sim *sm, const chain *ch) {
    const fa_nn_graph *g = sm->g;
    const fa_nn_node *cat = &g->nodes[ch->concat];
    const fa_nn_shape *cs = &sm->s[cat->out[0]];
    if (fa_nn_shape_count(cs) <= 0) return FA_EINVAL;
    sm->images = cs->d[0], sm->channels = cs->d[1], sm->inner = fa_nn_shape_count(cs) / (cs->d[0] * cs->d[1]);
    if (!(sm->bufs = fa_calloc(g->n_tensors, sizeof *sm->bufs))) return FA_ENOMEM;
    int rc = 0;
    for (int i = 0, off = 0; !rc && i < cat->n_in; off += (int)sm->s[cat->in[i]].d[1], i++) {
        int id = cat->in[i];
        if ((rc = sim_alloc(sm, id))) break;
        uint32_t *x = sm->bufs[id];
        int64_t c_in = sm->s[id].d[1];
        for (int64_t n = 0; n < sm->images; n++)
            for (int64_t c = 0; c < c_in; c++)
                for (int64_t e = 0; e < sm->inner; e++)
                    *x++ = (uint32_t)(((n * sm->channels) + off + c) * sm->inner + e);
    }
    if (!rc) rc = sim_alloc(sm, cat->out[0]);
    for (int n = 0; !rc && n < ch->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[ch->nodes[n]];
        for (int i = 1; i < nd->n_in; i++)
            if (nd->in[i] >= 0) sm->bufs[nd->in[i]] = g->tensors[nd->in[i]].data;
        for (int o = 0; !rc && o < nd->n_out; o++)
            rc = sim_alloc(sm, nd->out[o]);
    }
    return rc;
}

/* Output o of the chain as a table of source channels (appended at src,
 * room entries left): 0, or FA_EINVAL when an output channel is not one whole input channel
 * of the same image. */
static int sim_read(const sim *sm, int id, int64_t *src, int64_t room, int64_t *channels) {
    const fa_nn_shape *os = &sm->s[id];
    if (os->rank < 2 || os->d[0] != sm->images || os->d[1] < 1 || os->d[1] > room) return FA_EINVAL;
    if (os->d[1] * sm->inner * sm->images != fa_nn_shape_count(os)) return FA_EINVAL;
    const uint32_t *y = sm->bufs[id];
    *channels = os->d[1];
    for (int64_t n = 0; n < sm->images; n++)
        for (int64_t k = 0; k < os->d[1]; k++, y += sm->inner) {
            int64_t first = y[0];
            if (first % sm->inner || first / sm->inner / sm->channels != n) return FA_EINVAL;
            int64_t c = first / sm->inner % sm->channels;
            if (n == 0)
                src[k] = c;
            else if (src[k] != c)
                return FA_EINVAL;
            for (int64_t e = 1; e < sm->inner; e++)
                if (y[e] != (uint32_t)(first + e)) return FA_EINVAL;
        }
    return 0;
}

/* Runs the chain at the batch shapes s describe and fills (or, check set,
 * compares with) the shuffle table. 0, FA_EINVAL (not a channel
 * permutation: no fusion), FA_ENOMEM. */
static int simulate(const fa_nn_graph *g, const chain *ch, const fa_nn_shape *s, fa_nn_shuffle *sh,
                    int check) {
    sim sm = {.g = g, .s = s};
    int rc = sim_setup(&sm, ch);
    if (!rc) rc = fa_nn_op_run(g, &g->nodes[ch->concat], s, sm.bufs);
    for (int n = 0; !rc && n < ch->n_nodes; n++)
        rc = fa_nn_op_run(g, &g->nodes[ch->nodes[n]], s, sm.bufs);
    if (rc && rc != FA_ENOMEM) rc = FA_EINVAL;
    int64_t *table = check ? fa_malloc((size_t)sm.channels * ch->n_outs * sizeof *table) : sh->src;
    if (!rc && !table) rc = FA_ENOMEM;
    int64_t room = sm.channels * ch->n_outs;
    for (int o = 0, at = 0; !rc && o < ch->n_outs; at += (int)sh->channels[o], o++) {
        int64_t c = 0;
        rc = sim_read(&sm, ch->outs[o], table + at, room - at, &c);
        if (!rc && check &&
            (c != sh->channels[o] || memcmp(table + at, sh->src + at, (size_t)c * sizeof *table)))
            rc = FA_EINVAL;
        if (!rc && !check) sh->channels[o] = c;
    }
    if (check) free(table);
    sh->n_channels = sm.channels;
    sim_free(&sm, ch);
    if (rc && rc != FA_ENOMEM) fa_err_clear();
    return rc;
}

/* ---------------------------------------------------------------- rewrite */

static void rewrite(fa_nn_graph *g, const chain *ch) {
    fa_nn_node *cat = &g->nodes[ch->concat];
    cat->op = FA_NN_OP_GATHER;
    cat->a.axis = 1;
    cat->n_out = ch->n_outs;
    memcpy(cat->out, ch->outs, (size_t)ch->n_outs * sizeof *cat->out);
    for (int n = 0; n < ch->n_nodes; n++)
        g->nodes[ch->nodes[n]].dead = 1;
}

/* Verifies the chain at batch 1 (s1) and batch 2 (s2, NULL when the graph
 * does not infer at batch 2) and fuses it. 0 (fused or not), FA_ENOMEM. */
static int try_fuse(fa_nn_graph *g, const chain *ch, const fa_nn_shape *s1, const fa_nn_shape *s2) {
    int64_t channels = s1[g->nodes[ch->concat].out[0]].d[1];
    if (fa_grow((void **)&g->shuffles, &g->cap_shuffles, g->n_shuffles + 1, sizeof *g->shuffles))
        return FA_ENOMEM;
    fa_nn_shuffle *sh = &g->shuffles[g->n_shuffles];
    memset(sh, 0, sizeof *sh);
    sh->node = ch->concat;
    sh->n_out = ch->n_outs;
    if (!(sh->src = fa_malloc((size_t)(channels * ch->n_outs) * sizeof *sh->src))) return FA_ENOMEM;
    int rc = simulate(g, ch, s1, sh, 0);
    if (!rc && s2) rc = simulate(g, ch, s2, sh, 1);
    if (!rc) {
        rewrite(g, ch);
        g->n_shuffles++;
        return 0;
    }
    free(sh->src);
    sh->src = NULL;
    return rc == FA_ENOMEM ? rc : 0;
}

/* Shapes of every tensor at a batch; NULL when the graph does not infer
 * there (or on ENOMEM, *rc set). */
static fa_nn_shape *shapes_at(const fa_nn_graph *g, int batch, int *rc) {
    fa_nn_shape *s = fa_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *s);
    if (!s) {
        *rc = FA_ENOMEM;
        return NULL;
    }
    if (fa_nn_graph_infer_shapes(g, s, batch)) {
        fa_err_clear();
        free(s);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------- composition */

/* Channels of tensor id (its recorded batch-1 shape). */
static int64_t channels_of(const fa_nn_graph *g, int id) { return g->tensors[id].shape[1]; }

/* Where channel c of the concatenation of in[0..n) lies: *which input, returns its channel there. */
static int64_t locate(const fa_nn_graph *g, const int *in, int n, int64_t c, int *which) {
    int i = 0;
    while (i < n - 1 && c >= channels_of(g, in[i]))
        c -= channels_of(g, in[i++]);
    *which = i;
    return c;
}

static int64_t offset_of(const fa_nn_graph *g, const int *in, int i) {
    int64_t off = 0;
    for (int k = 0; k < i; k++)
        off += channels_of(g, in[k]);
    return off;
}

static int find_id(const int *ids, int n, int id) {
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return i;
    return -1;
}

/* The fused shuffle writing tensor id (its output index in *out), or NULL. */
static fa_nn_shuffle *producer(fa_nn_graph *g, int id, int *out) {
    for (size_t i = 0; i < g->n_shuffles; i++) {
        const fa_nn_node *nd = &g->nodes[g->shuffles[i].node];
        if (!nd->dead && (*out = find_id(nd->out, nd->n_out, id)) >= 0) return &g->shuffles[i];
    }
    return NULL;
}

/* Drops output o of shuffle sh (a later shuffle now reads its sources). */
static void drop_output(fa_nn_graph *g, fa_nn_shuffle *sh, int o) {
    fa_nn_node *nd = &g->nodes[sh->node];
    int64_t at = 0;
    for (int k = 0; k < o; k++)
        at += sh->channels[k];
    int64_t total = at;
    for (int k = o; k < sh->n_out; k++)
        total += sh->channels[k];
    memmove(sh->src + at, sh->src + at + sh->channels[o],
            (size_t)(total - at - sh->channels[o]) * sizeof *sh->src);
    for (int k = o; k + 1 < sh->n_out; k++)
        sh->channels[k] = sh->channels[k + 1], nd->out[k] = nd->out[k + 1];
    nd->n_out = --sh->n_out;
    if (!nd->n_out) nd->dead = 1;
}

/* Makes shuffle s2 read the sources of its input i (written by shuffle s1
 * as its output o1) instead: one copy fewer for those channels. 1 when
 * done, 0 when the inputs would be too many, FA_ENOMEM. */
static int compose(fa_nn_graph *g, fa_nn_shuffle *s2, int i, fa_nn_shuffle *s1, int o1) {
    fa_nn_node *n2 = &g->nodes[s2->node], *n1 = &g->nodes[s1->node];
    int in[FA_NN_MAX_IO], n = 0;
    for (int k = 0; k < n2->n_in; k++)
        if (k != i) in[n++] = n2->in[k];
    for (int k = 0; k < n1->n_in; k++)
        if (find_id(in, n, n1->in[k]) < 0) {
            if (n == FA_NN_MAX_IO) return 0;
            in[n++] = n1->in[k];
        }
    int64_t total = 0, first1 = 0;
    for (int o = 0; o < s2->n_out; o++)
        total += s2->channels[o];
    for (int o = 0; o < o1; o++)
        first1 += s1->channels[o];
    int64_t *src = fa_malloc((size_t)total * sizeof *src);
    if (!src) return FA_ENOMEM;
    for (int64_t k = 0; k < total; k++) {
        int j, j1;
        int64_t c = locate(g, n2->in, n2->n_in, s2->src[k], &j);
        const int *from = n2->in;
        if (j == i) { /* through s1: its output o1's channel c */
            c = locate(g, n1->in, n1->n_in, s1->src[first1 + c], &j1);
            from = n1->in, j = j1;
        }
        int at = find_id(in, n, from[j]);
        src[k] = offset_of(g, in, at) + c;
    }
    free(s2->src);
    s2->src = src;
    memcpy(n2->in, in, (size_t)n * sizeof *in);
    n2->n_in = n;
    s2->n_channels = offset_of(g, in, n);
    drop_output(g, s1, o1);
    return 1;
}

/* Composes each fused shuffle with the fused shuffles it alone reads from
 * (ShuffleNet's pass-through half goes from one unit's shuffle straight
 * into the next one's): the pass-through channels are then copied once,
 * to where a convolution reads them, instead of once per unit. */
static int compose_all(fa_nn_graph *g) {
    for (size_t k = 0; k < g->n_shuffles; k++) {
        fa_nn_shuffle *s2 = &g->shuffles[k];
        for (int i = 0; !g->nodes[s2->node].dead && i < g->nodes[s2->node].n_in; i++) {
            int id = g->nodes[s2->node].in[i], o1 = -1, as_data;
            size_t rd[2];
            fa_nn_shuffle *s1 = producer(g, id, &o1);
            if (!s1 || s1 == s2 || is_graph_output(g, id) || readers(g, id, rd, 2, &as_data) != 1) continue;
            if (find_id(g->nodes[s2->node].in + i + 1, g->nodes[s2->node].n_in - i - 1, id) >= 0) continue;
            int rc = compose(g, s2, i, s1, o1);
            if (rc < 0) return rc;
            if (rc) i = -1; /* the inputs changed: look again */
        }
    }
    return 0;
}

int fa_nn_graph_fuse_shuffles(fa_nn_graph *g) {
    const char *off = getenv("FA_NN_NO_SHUFFLE_FUSION");
    if ((off && strcmp(off, "1") == 0) || g->n_inputs < 1) return 0;
    int rc = 0;
    fa_nn_shape *s1 = shapes_at(g, 1, &rc), *s2 = s1 ? shapes_at(g, 2, &rc) : NULL;
    for (size_t k = 0; s1 && !rc && k < g->n_nodes; k++) {
        chain ch;
        if (find_chain(g, k, s1, &ch)) rc = try_fuse(g, &ch, s1, s2);
    }
    free(s1);
    free(s2);
    return rc ? rc : compose_all(g);
}
