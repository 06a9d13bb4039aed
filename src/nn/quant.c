/*
 * quant.c - INT8 post-training static quantisation (issue 5): calibration
 * on real inputs and the quantised model file (.fanq).
 *
 * Calibration runs the FP32 model on the caller's preprocessed frames and
 * records, for every tensor a Conv reads or writes, the distribution of
 * |x| (symmetric int8, zero point 0: scale = threshold / 127). Pass 1
 * finds max |x|; for percentile and entropy a pass 2 fills a 2048-bin
 * histogram of |x| over [0, max]. Thresholds: minmax = max; percentile =
 * the upper edge of the bin where the cumulative count reaches p% (default
 * 99.99); entropy = TensorRT's / ncnn's KL method: for every i in
 * 128..2048 the first i bins (with the outliers folded into bin i - 1) are
 * merged into 128 levels and expanded back over their non-empty bins, and
 * the i with the least KL(P || Q) wins, threshold (i + 0.5) * bin width.
 * Weights are quantised per output channel, scale max |w| / 127 (after
 * BatchNorm folding: the graph the runtime runs). The head convolutions
 * (those a graph output is reached from through non-conv ops only: the
 * score and box layers) can be kept fp32 (fp32_heads); measured on the
 * golden frames it buys almost nothing (NanoDet-m percentile cosine 0.9955
 * int8 heads vs 0.9957) and costs ~10% of the int8 run, so the default
 * quantises them. Convolutions reading the graph input (the first conv on the
 * 3-channel image, K 27) stay fp32 too: the int8 im2col costs more than
 * the arithmetic saves (measured: the first NanoDet-m conv took ~3 ms
 * int8) and the image is not quantised. A conv without int8 weights in the file runs fp32.
 * Tensors joined by Concat / Split / Transpose / Reshape share one scale
 * (the largest of the group) so those ops run on int8 bytes: in a
 * ShuffleNet backbone the int8 chains then span whole stages.
 *
 * Mixed precision (fa_nn_quant_keep_fp32): a sensitivity pass builds the
 * model with one conv alone int8 (every other conv fp32) for each
 * quantised conv, runs it on a few probe inputs and measures the drift of
 * the outputs from fp32 (squared error over the fp32 energy, averaged over
 * outputs); the most sensitive convs lose their records and run fp32 (one
 * conv's own error is what keeping it fp32 removes; a greedy leave-one-out
 * search would cost a whole pass per conv kept). What it finds on
 * NanoDet-m: Conv_3 and Conv_6, the two convs reading the stem's
 * max-pooled output (24 channels under one per-tensor scale), hold half of
 * the whole drift; keeping them and two more fp32 takes person AP on the
 * labelled frames from 0.54 to 0.57-0.59 (fp32 0.58) for a few percent of
 * the int8 run time (bench/RESULTS.md "INT8"). The file format needs
 * nothing new for it: a conv without a record already runs fp32.
 *
 * Why a file of our own: the calibration takes seconds and needs frames,
 * so its result is saved beside the model and reused; the weights are
 * stored int8 (a quarter of fp32) and the source model is referenced, not
 * copied (its graph, non-conv constants and biases are read from it),
 * pinned by SHA-256 so a changed model cannot silently meet stale scales.
 *
 * Format, version 1, all integers little-endian u32, floats IEEE f32 LE:
 *   off 0   magic "FANQ"
 *       4   version (1)
 *       8   method (0 minmax, 1 percentile, 2 entropy)
 *      12   percentile (f32; informative)
 *      16   L: length of the source path, 1..4096
 *      20   the source path as given at calibration (L bytes, no NUL)
 *    20+L   SHA-256 of the source file (32 bytes; for a Darknet .cfg, of
 *           the .cfg bytes followed by its .weights bytes)
 *    52+L   n_tensors, n_nodes of the prepared graph (1..2^20; must match at load)
 *    60+L   n_act, then n_act records {tensor id, scale}: ids strictly
 *           increasing and < n_tensors, scales finite and > 0
 *           n_conv, then n_conv records {node, c_out, k, scale[c_out],
 *           int8 weights[c_out * k]}: nodes strictly increasing and
 *           < n_nodes, c_out and k in 1..2^24, scales finite > 0, weights
 *           in -127..127
 *           end marker "END1", then end of file.
 * A live Conv without a record (the first conv, the heads with fp32_heads,
 * those the sensitivity pass kept) runs fp32.
 * Loading checks every field and names the byte offset of the first bad
 * one; fa_nn_quant_check then matches the records with the graph.
 */
#include "nn/nn_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include <openssl/evp.h>

#define QF_MAGIC "FANQ"
#define QF_END "END1"
#define QF_VERSION 1u
#define QF_PATH_MAX 4096u
#define QF_DIM_MAX (1u << 24)
#define QF_GRAPH_MAX (1u << 20) /* tensors or nodes of a graph: NanoDet-m has ~600 */
#define HIST_BINS 2048
#define KL_LEVELS 128

/* ------------------------------------------------------------- helpers */

void fa_nn_quant_free(fa_nn_quant *q) {
    if (!q) return;
    for (size_t n = 0; n < q->n_nodes && q->w_q; n++) {
        free(q->w_q[n]);
        free(q->w_scale[n]);
    }
    free(q->w_q);
    free(q->w_scale);
    free(q->act_scale);
    free(q->c_out);
    free(q->k);
    free(q->source);
    free(q);
}

static fa_nn_quant *quant_new(size_t n_tensors, size_t n_nodes) {
    fa_nn_quant *q = fa_calloc(1, sizeof *q);
    if (!q) return NULL;
    q->n_tensors = n_tensors, q->n_nodes = n_nodes;
    q->act_scale = fa_calloc(n_tensors ? n_tensors : 1, sizeof *q->act_scale);
    q->w_scale = fa_calloc(n_nodes ? n_nodes : 1, sizeof *q->w_scale);
    q->w_q = fa_calloc(n_nodes ? n_nodes : 1, sizeof *q->w_q);
    q->c_out = fa_calloc(n_nodes ? n_nodes : 1, sizeof *q->c_out);
    q->k = fa_calloc(n_nodes ? n_nodes : 1, sizeof *q->k);
    if (!q->act_scale || !q->w_scale || !q->w_q || !q->c_out || !q->k) {
        fa_nn_quant_free(q);
        return NULL;
    }
    return q;
}

static int hash_file(EVP_MD_CTX *ctx, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return fa_err_set(errno == ENOENT ? FA_ENOTFOUND : FA_EIO, "%s: cannot open: %s", fa_path_base(path),
                          strerror(errno));
    unsigned char buf[65536];
    size_t got;
    int rc = 0;
    while (!rc && (got = fread(buf, 1, sizeof buf, f)) > 0)
        if (EVP_DigestUpdate(ctx, buf, got) != 1) rc = fa_err_set(FA_EIO, "%s: SHA-256 failed", path);
    if (!rc && ferror(f)) rc = fa_err_set(FA_EIO, "%s: read error", fa_path_base(path));
    fclose(f);
    return rc;
}

int fa_nn_model_file_sha256(const char *path, unsigned char out[32]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return fa_err_set(FA_ENOMEM, "nn: SHA-256 unavailable");
    }
    int rc = hash_file(ctx, path);
    size_t len = strlen(path);
    if (!rc && len > 4 && strcmp(path + len - 4, ".cfg") == 0) {
        char *w = fa_malloc(len + 5);
        if (!w) rc = FA_ENOMEM;
        if (!rc) {
            memcpy(w, path, len - 4);
            strcpy(w + len - 4, ".weights");
            rc = hash_file(ctx, w);
            free(w);
        }
    }
    unsigned int n = 0;
    if (!rc && EVP_DigestFinal_ex(ctx, out, &n) != 1) rc = fa_err_set(FA_EIO, "%s: SHA-256 failed", path);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* --------------------------------------------------------- calibration */

typedef struct calib {
    const fa_nn_graph *g;
    unsigned char *want;         /* per tensor: a Conv reads or writes it */
    float *max;                  /* per tensor: max |x| */
    uint32_t (*hist)[HIST_BINS]; /* per tensor (pass 2) */
    int pass;
} calib;

static void observe(void *ud, int id, const float *x, size_t n) {
    calib *c = ud;
    if (!c->want[id]) return;
    if (c->pass == 1) {
        float m = c->max[id];
        for (size_t i = 0; i < n; i++)
            m = fmaxf(m, fabsf(x[i]));
        c->max[id] = m;
        return;
    }
    if (!(c->max[id] > 0.0f)) return;
    uint32_t *h = c->hist[id];
    float per_bin = (float)HIST_BINS / c->max[id];
    for (size_t i = 0; i < n; i++) {
        float b = fabsf(x[i]) * per_bin;
        int bin = b >= (float)(HIST_BINS - 1) ? HIST_BINS - 1 : (int)b;
        h[bin] += bin >= 0; /* NaN lands nowhere */
    }
}

static double percentile_threshold(const uint32_t *h, float max, double pct) {
    double total = 0, cum = 0;
    for (int i = 0; i < HIST_BINS; i++)
        total += h[i];
    for (int i = 0; i < HIST_BINS; i++) {
        cum += h[i];
        if (cum >= total * pct / 100.0) return (double)(i + 1) * max / HIST_BINS;
    }
    return max;
}

/* KL(P || Q) of the first i bins against their KL_LEVELS-level version. */
static double kl_divergence(const uint32_t *h, int i, double *p, double *q) {
    double outliers = 0;
    for (int j = 0; j < i; j++)
        p[j] = h[j];
    for (int j = i; j < HIST_BINS; j++)
        outliers += h[j];
    p[i - 1] += outliers;
    for (int lv = 0; lv < KL_LEVELS; lv++) {
        int lo = lv * i / KL_LEVELS, hi = (lv + 1) * i / KL_LEVELS;
        double sum = 0;
        int nonzero = 0;
        for (int j = lo; j < hi; j++) {
            sum += h[j];
            nonzero += h[j] != 0;
        }
        for (int j = lo; j < hi; j++)
            q[j] = h[j] && nonzero ? sum / nonzero : 0;
    }
    double ps = 0, qs = 0, kl = 0;
    for (int j = 0; j < i; j++)
        ps += p[j], qs += q[j];
    if (ps <= 0 || qs <= 0) return INFINITY;
    for (int j = 0; j < i; j++) {
        if (p[j] <= 0) continue;
        double pj = p[j] / ps, qj = q[j] / qs;
        kl += qj > 0 ? pj * log(pj / qj) : pj * log(pj / 1e-12); /* an empty Q bin: heavily penalised */
    }
    return kl;
}

static double entropy_threshold(const uint32_t *h, float max) {
    double p[HIST_BINS], q[HIST_BINS], best = INFINITY;
    int best_i = HIST_BINS;
    for (int i = KL_LEVELS; i <= HIST_BINS; i++) {
        double kl = kl_divergence(h, i, p, q);
        if (kl < best) best = kl, best_i = i;
    }
    double t = ((double)best_i + 0.5) * max / HIST_BINS;
    return t < max ? t : max;
}

static int mark_conv_tensors(calib *c) {
    const fa_nn_graph *g = c->g;
    c->want = fa_calloc(g->n_tensors ? g->n_tensors : 1, 1);
    c->max = fa_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *c->max);
    if (!c->want || !c->max) return FA_ENOMEM;
    for (size_t n = 0; n < g->n_nodes; n++)
        if (!g->nodes[n].dead && g->nodes[n].op == FA_NN_OP_CONV)
            c->want[g->nodes[n].in[0]] = c->want[g->nodes[n].out[0]] = 1;
    return 0;
}

static int run_pass(calib *c, const fa_nn_model *m, const float *const *inputs, size_t n, int pass) {
    fa_nn_session *s = fa_nn_session_new(m, 1);
    if (!s) return fa_err_code();
    c->pass = pass;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!inputs[i])
            rc = fa_err_set(FA_EINVAL, "nn: calibrate: inputs[%zu]: expected a pointer, got NULL", i);
        if (!rc) rc = fa_nn_run_observe(s, inputs[i], observe, c);
    }
    fa_nn_session_free(s);
    return rc;
}

static void activation_scales(const calib *c, const fa_nn_calib_options *o, fa_nn_quant *q) {
    for (size_t t = 0; t < q->n_tensors; t++) {
        if (!c->want[t]) continue;
        double th = c->max[t];
        if (o->method == FA_NN_CALIB_PERCENTILE && th > 0)
            th = percentile_threshold(c->hist[t], c->max[t], o->percentile);
        else if (o->method == FA_NN_CALIB_ENTROPY && th > 0)
            th = entropy_threshold(c->hist[t], c->max[t]);
        q->act_scale[t] = th > 0 && isfinite(th) ? (float)(th / 127.0) : 1.0f / 127.0f;
    }
}

/* Union-find root of tensor t. */
static size_t group_root(size_t *parent, size_t t) {
    while (parent[t] != t)
        t = parent[t] = parent[parent[t]];
    return t;
}

/* Tensors joined by ops that only move elements (Concat, Split,
 * Transpose, Reshape) get one scale, the largest in their group, so the
 * runtime can run those ops on int8 bytes with nothing requantised (the
 * shuffle units of ShuffleNet backbones). */
static int unify_move_groups(const fa_nn_graph *g, fa_nn_quant *q) {
    size_t *parent = fa_malloc((g->n_tensors ? g->n_tensors : 1) * sizeof *parent);
    float *best = fa_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *best);
    if (!parent || !best) {
        free(parent);
        free(best);
        return FA_ENOMEM;
    }
    for (size_t t = 0; t < g->n_tensors; t++)
        parent[t] = t;
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        int move = nd->op == FA_NN_OP_CONCAT || nd->op == FA_NN_OP_SPLIT || nd->op == FA_NN_OP_TRANSPOSE ||
                   nd->op == FA_NN_OP_RESHAPE;
        if (nd->dead || !move || nd->in[0] < 0 || g->tensors[nd->in[0]].dtype != FA_NN_FLOAT) continue;
        size_t root = group_root(parent, (size_t)nd->in[0]);
        int n_data = nd->op == FA_NN_OP_CONCAT ? nd->n_in : 1;
        for (int i = 1; i < n_data; i++)
            if (nd->in[i] >= 0) parent[group_root(parent, (size_t)nd->in[i])] = root;
        for (int o = 0; o < nd->n_out; o++)
            parent[group_root(parent, (size_t)nd->out[o])] = root;
    }
    for (size_t t = 0; t < g->n_tensors; t++) {
        size_t r = group_root(parent, t);
        best[r] = fmaxf(best[r], q->act_scale[t]);
    }
    for (size_t t = 0; t < g->n_tensors; t++)
        if (parent[t] != t || q->act_scale[t] > 0) q->act_scale[t] = best[group_root(parent, t)];
    free(parent);
    free(best);
    return 0;
}

/* Node n's weights quantised per output channel (max |w| / 127). */
static int quantise_conv(const fa_nn_graph *g, const fa_nn_node *nd, size_t n, fa_nn_quant *q) {
    const fa_nn_tensor *w = &g->tensors[nd->in[1]];
    size_t c_out = (size_t)w->shape[0], k = (size_t)(w->shape[1] * w->shape[2] * w->shape[3]);
    const float *wf = w->data;
    q->c_out[n] = (int32_t)c_out, q->k[n] = (int32_t)k;
    q->w_scale[n] = fa_malloc(c_out * sizeof(float));
    q->w_q[n] = fa_malloc(c_out * k);
    if (!q->w_scale[n] || !q->w_q[n]) return FA_ENOMEM;
    for (size_t oc = 0; oc < c_out; oc++) {
        float m = 0.0f;
        for (size_t i = 0; i < k; i++)
            m = fmaxf(m, fabsf(wf[oc * k + i]));
        float s = m > 0.0f ? m / 127.0f : 1.0f;
        q->w_scale[n][oc] = s;
        for (size_t i = 0; i < k; i++) {
            float v = wf[oc * k + i] / s;
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            q->w_q[n][oc * k + i] = (int8_t)lrintf(v);
        }
    }
    return 0;
}

static int reads_graph_input(const fa_nn_graph *g, const fa_nn_node *nd) {
    for (int i = 0; i < g->n_inputs; i++)
        if (nd->in[0] == g->inputs[i]) return 1;
    return 0;
}

/* The head convolutions: those from which a graph output is reached
 * through non-conv ops only (their outputs are the scores and boxes). */
static unsigned char *head_convs(const fa_nn_graph *g) {
    unsigned char *feeds_out = fa_calloc(g->n_tensors ? g->n_tensors : 1, 1);
    unsigned char *head = fa_calloc(g->n_nodes ? g->n_nodes : 1, 1);
    if (!feeds_out || !head) {
        free(feeds_out);
        free(head);
        return NULL;
    }
    for (int i = 0; i < g->n_outputs; i++)
        feeds_out[g->outputs[i]] = 1;
    for (size_t n = g->n_nodes; n-- > 0;) { /* reverse topological order */
        const fa_nn_node *nd = &g->nodes[n];
        int reaches = 0;
        for (int o = 0; !nd->dead && o < nd->n_out; o++)
            reaches |= feeds_out[nd->out[o]];
        if (!reaches) continue;
        if (nd->op == FA_NN_OP_CONV) {
            head[n] = 1;
            continue;
        }
        for (int i = 0; i < nd->n_in; i++)
            if (nd->in[i] >= 0 && !g->tensors[nd->in[i]].data) feeds_out[nd->in[i]] = 1;
    }
    free(feeds_out);
    return head;
}

/* Per output channel int8 weights of every live Conv (but the first, and
 * the heads with fp32_heads). */
static int quantise_weights(const fa_nn_graph *g, fa_nn_quant *q, int fp32_heads) {
    unsigned char *head = head_convs(g);
    if (!head) return FA_ENOMEM;
    int rc = 0;
    for (size_t n = 0; n < g->n_nodes && !rc; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        if (nd->dead || nd->op != FA_NN_OP_CONV || (head[n] && fp32_heads)) continue;
        if (reads_graph_input(g, nd)) continue; /* see above */
        rc = quantise_conv(g, nd, n, q);
    }
    free(head);
    return rc;
}
static int check_calib_request(const fa_nn_model *m, const float *const *inputs, size_t n,
                               const fa_nn_calib_options *o) {
    if (!m || !inputs || n == 0)
        return fa_err_set(FA_EINVAL, "nn: calibrate: expected a model and at least one input");
    if (!fa_nn_model_path(m))
        return fa_err_set(FA_EINVAL,
                          "nn: calibrate: the model must be loaded from a file (its hash is stored)");
    if (fa_nn_model_precision(m) != FA_NN_FP32)
        return fa_err_set(FA_EINVAL, "%s: calibrate: expected an fp32 model, got precision %d",
                          fa_path_base(fa_nn_model_path(m)), fa_nn_model_precision(m));
    if (o->method < FA_NN_CALIB_MINMAX || o->method > FA_NN_CALIB_ENTROPY)
        return fa_err_set(FA_EINVAL, "nn: calibrate: field 'method': expected 0..2, got %d", (int)o->method);
    if (!(o->percentile > 50.0 && o->percentile <= 100.0))
        return fa_err_set(FA_EINVAL, "nn: calibrate: field 'percentile': expected (50, 100], got %g",
                          o->percentile);
    return 0;
}

static int calibrate_into(calib *c, const fa_nn_model *m, const float *const *inputs, size_t n,
                          const fa_nn_calib_options *o, fa_nn_quant *q) {
    int rc = mark_conv_tensors(c);
    if (!rc) rc = run_pass(c, m, inputs, n, 1);
    if (!rc && o->method != FA_NN_CALIB_MINMAX) {
        c->hist = fa_calloc(c->g->n_tensors ? c->g->n_tensors : 1, sizeof *c->hist);
        rc = c->hist ? run_pass(c, m, inputs, n, 2) : FA_ENOMEM;
    }
    if (!rc) activation_scales(c, o, q);
    if (!rc) rc = unify_move_groups(c->g, q);
    if (!rc) rc = quantise_weights(c->g, q, o->fp32_heads);
    if (!rc && !(q->source = fa_strdup(fa_nn_model_path(m)))) rc = FA_ENOMEM;
    if (!rc) rc = fa_nn_model_file_sha256(q->source, q->sha256);
    return rc;
}

fa_nn_quant *fa_nn_calibrate(const fa_nn_model *m, const float *const *inputs, size_t n,
                             const fa_nn_calib_options *o) {
    fa_nn_calib_options opt = o ? *o : (fa_nn_calib_options){.method = FA_NN_CALIB_PERCENTILE};
    if (opt.percentile == 0) opt.percentile = 99.99;
    if (check_calib_request(m, inputs, n, &opt) < 0) return NULL;
    const fa_nn_graph *g = fa_nn_model_graph(m);
    fa_nn_quant *q = quant_new(g->n_tensors, g->n_nodes);
    calib c = {.g = g};
    int rc = q ? calibrate_into(&c, m, inputs, n, &opt, q) : FA_ENOMEM;
    free(c.want);
    free(c.max);
    free(c.hist);
    if (rc) {
        if (rc == FA_ENOMEM) fa_err_set(FA_ENOMEM, "nn: calibrate: out of memory");
        fa_nn_quant_free(q);
        return NULL;
    }
    q->method = (int)opt.method;
    q->percentile = (float)opt.percentile;
    return q;
}

/* --------------------------------------------------------- sensitivity */

/* The source graph again (a model build consumes its graph). */
static fa_nn_graph *source_graph(const char *path) {
    size_t len = strlen(path);
    if (len > 4 && strcmp(path + len - 4, ".cfg") == 0) {
        char *w = fa_malloc(len + 5);
        if (!w) return NULL;
        memcpy(w, path, len - 4);
        strcpy(w + len - 4, ".weights");
        fa_nn_graph *g = fa_nn_darknet_load(path, w);
        free(w);
        return g;
    }
    return fa_nn_onnx_load(path);
}

/* The fp32 outputs of m on the probe inputs, which drift is measured against. */
typedef struct drift_ref {
    const char *source;
    const char *backend;
    const float *const *inputs;
    size_t n;       /* probe inputs */
    int n_out;
    float **out;    /* [n * n_out] */
    size_t *len;    /* [n_out] elements of one output */
} drift_ref;

static void drift_ref_free(drift_ref *r) {
    for (size_t i = 0; r->out && i < r->n * (size_t)r->n_out; i++)
        free(r->out[i]);
    free(r->out);
    free(r->len);
}

static int output_len(const fa_nn_session *s, int o, size_t *len) {
    int64_t shape[FA_NN_MAX_RANK];
    int rank = 0;
    if (!fa_nn_session_output(s, o, shape, &rank)) return fa_err_code();
    *len = 1;
    for (int i = 0; i < rank; i++)
        *len *= (size_t)shape[i];
    return 0;
}

static int drift_ref_init(drift_ref *r, const fa_nn_model *m) {
    fa_nn_info info;
    fa_nn_model_info(m, &info);
    r->backend = info.backend, r->source = fa_nn_model_path(m), r->n_out = fa_nn_model_output_count(m);
    r->out = fa_calloc(r->n * (size_t)r->n_out, sizeof *r->out);
    r->len = fa_calloc((size_t)r->n_out, sizeof *r->len);
    fa_nn_session *s = r->out && r->len ? fa_nn_session_new(m, 1) : NULL;
    int rc = s ? 0 : r->out && r->len ? fa_err_code() : FA_ENOMEM;
    for (size_t i = 0; !rc && i < r->n; i++) {
        rc = fa_nn_run(s, r->inputs[i], NULL);
        for (int o = 0; !rc && o < r->n_out; o++) {
            rc = output_len(s, o, &r->len[o]);
            float **dst = &r->out[i * (size_t)r->n_out + (size_t)o];
            if (!rc && !(*dst = fa_malloc(r->len[o] * sizeof **dst))) rc = FA_ENOMEM;
            if (!rc) memcpy(*dst, fa_nn_session_output(s, o, NULL, NULL), r->len[o] * sizeof **dst);
        }
    }
    fa_nn_session_free(s);
    return rc;
}

/* The drift of the source model run with quantisation q from the fp32
 * reference: per output, the squared error over the reference's energy
 * (both summed over the probe inputs), averaged over the outputs. */
static int drift_of(const drift_ref *r, const fa_nn_quant *q, double *drift) {
    fa_nn_options opt = {.backend = r->backend};
    fa_nn_graph *g = source_graph(r->source);
    fa_nn_model *m = g ? fa_nn_model_build(g, &opt, q, r->source) : NULL;
    fa_nn_session *s = m ? fa_nn_session_new(m, 1) : NULL;
    int rc = s ? 0 : fa_err_code();
    double *err = rc ? NULL : fa_calloc((size_t)r->n_out * 2 + 1, sizeof *err);
    if (!rc && !err) rc = FA_ENOMEM;
    for (size_t i = 0; !rc && i < r->n; i++) {
        rc = fa_nn_run(s, r->inputs[i], NULL);
        for (int o = 0; !rc && o < r->n_out; o++) {
            const float *y = fa_nn_session_output(s, o, NULL, NULL);
            const float *ref = r->out[i * (size_t)r->n_out + (size_t)o];
            for (size_t k = 0; k < r->len[o]; k++) {
                double d = (double)y[k] - ref[k];
                err[2 * o] += d * d, err[2 * o + 1] += (double)ref[k] * ref[k];
            }
        }
    }
    *drift = 0;
    for (int o = 0; !rc && o < r->n_out; o++)
        *drift += err[2 * o] / (err[2 * o + 1] > 0 ? err[2 * o + 1] : 1.0) / r->n_out;
    free(err);
    fa_nn_session_free(s);
    fa_nn_model_free(m);
    return rc;
}

/* Sensitivity workers: each conv's drift alone int8 is a model build and
 * the probe runs, independent of the others, so the convs are shared out
 * over one thread per core (at most SENS_MAX_THREADS): on 2 cores the pass
 * that picks the fp32 convs of NanoDet-m (70 builds) takes half the time,
 * which is what the first analysis with a model waits for (autoquant.c). */
#define SENS_MAX_THREADS 8

typedef struct sens_job {
    const drift_ref *r;
    const fa_nn_quant *q;
    double *drift;
    pthread_mutex_t lock;
    size_t next; /* the next conv to measure (under lock) */
    int rc;      /* the first error (under lock) */
    char msg[1024];
} sens_job;

/* The next conv index to measure, or SIZE_MAX when done or failed. */
static size_t sens_next(sens_job *j) {
    pthread_mutex_lock(&j->lock);
    while (!j->rc && j->next < j->q->n_nodes && !j->q->w_q[j->next])
        j->drift[j->next++] = 0;
    size_t k = !j->rc && j->next < j->q->n_nodes ? j->next++ : SIZE_MAX;
    pthread_mutex_unlock(&j->lock);
    return k;
}

static void *sens_worker(void *arg) {
    sens_job *j = arg;
    int8_t **one = fa_calloc(j->q->n_nodes ? j->q->n_nodes : 1, sizeof *one);
    fa_nn_quant v = *j->q; /* q with only conv k int8: a view sharing q's arrays */
    v.w_q = one;
    int rc = one ? 0 : fa_err_set(FA_ENOMEM, "nn: sensitivity: out of memory");
    for (size_t k; !rc && (k = sens_next(j)) != SIZE_MAX;) {
        one[k] = j->q->w_q[k];
        double d = 0;
        rc = drift_of(j->r, &v, &d);
        one[k] = NULL;
        j->drift[k] = d; /* each k is written by the one worker that took it */
    }
    free(one);
    if (rc) {
        pthread_mutex_lock(&j->lock);
        if (!j->rc) j->rc = rc, snprintf(j->msg, sizeof j->msg, "%s", fa_err_msg());
        pthread_mutex_unlock(&j->lock);
    }
    return NULL;
}

/* The drifts of q and of each of its convs alone int8 against r. */
static int sensitivity(const drift_ref *r, const fa_nn_quant *q, double *drift, double *all_drift) {
    int rc = drift_of(r, q, all_drift);
    if (rc) return rc;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n_threads = cores < 1 ? 1 : cores > SENS_MAX_THREADS ? SENS_MAX_THREADS : (int)cores;
    sens_job j = {.r = r, .q = q, .drift = drift};
    pthread_t th[SENS_MAX_THREADS];
    int started = 0;
    pthread_mutex_init(&j.lock, NULL);
    for (; started < n_threads - 1; started++)
        if (pthread_create(&th[started], NULL, sens_worker, &j) != 0) break;
    sens_worker(&j); /* this thread is one of the workers */
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j.lock);
    return j.rc ? fa_err_set(j.rc, "%s", j.msg) : 0;
}

static int check_probe(const fa_nn_model *m, const fa_nn_quant *q, const float *const *inputs, size_t n) {
    if (!m || !q || !inputs || n == 0 || !fa_nn_model_path(m))
        return fa_err_set(FA_EINVAL, "nn: sensitivity: expected a model loaded from a file, a quantisation "
                                     "and at least one input");
    if (fa_nn_model_precision(m) != FA_NN_FP32)
        return fa_err_set(FA_EINVAL, "%s: sensitivity: expected the fp32 model, got precision %d",
                          fa_path_base(fa_nn_model_path(m)), fa_nn_model_precision(m));
    for (size_t i = 0; i < n; i++)
        if (!inputs[i])
            return fa_err_set(FA_EINVAL, "nn: sensitivity: inputs[%zu]: expected a pointer, got NULL", i);
    return 0;
}

int fa_nn_quant_sensitivity(const fa_nn_model *m, const fa_nn_quant *q, const float *const *inputs, size_t n,
                            double *drift, double *all_drift) {
    if (check_probe(m, q, inputs, n)) return FA_EINVAL;
    drift_ref r = {.inputs = inputs, .n = n};
    int rc = drift_ref_init(&r, m);
    if (!rc) rc = sensitivity(&r, q, drift, all_drift);
    drift_ref_free(&r);
    if (rc == FA_ENOMEM) fa_err_set(FA_ENOMEM, "nn: sensitivity: out of memory");
    return rc;
}

/* The quantised conv with the largest drift (-1: none left). */
static long most_sensitive(const fa_nn_quant *q, const double *drift) {
    long best = -1;
    for (size_t k = 0; k < q->n_nodes; k++)
        if (q->w_q[k] && (best < 0 || drift[k] > drift[best])) best = (long)k;
    return best;
}

/* Conv k's record leaves q: it runs fp32. */
static void unquantise(fa_nn_quant *q, size_t k) {
    free(q->w_q[k]);
    free(q->w_scale[k]);
    q->w_q[k] = NULL, q->w_scale[k] = NULL, q->c_out[k] = q->k[k] = 0;
}

int fa_nn_quant_keep_fp32(fa_nn_quant *q, const fa_nn_model *m, const float *const *inputs, size_t n,
                          int count, fa_nn_keep_report *rep) {
    *rep = (fa_nn_keep_report){0};
    if (count < 0 || count > FA_NN_KEEP_MAX)
        return fa_err_set(FA_EINVAL, "nn: keep_fp32: field 'count': expected 0..%d, got %d", FA_NN_KEEP_MAX,
                          count);
    if (check_probe(m, q, inputs, n)) return FA_EINVAL;
    drift_ref r = {.inputs = inputs, .n = n};
    double *drift = fa_calloc(q->n_nodes ? q->n_nodes : 1, sizeof *drift);
    int rc = drift ? drift_ref_init(&r, m) : FA_ENOMEM;
    if (!rc) rc = sensitivity(&r, q, drift, &rep->drift_int8);
    for (long k; !rc && rep->kept < count && (k = most_sensitive(q, drift)) >= 0; rep->kept++) {
        rep->node[rep->kept] = (int)k, rep->drift[rep->kept] = drift[k];
        unquantise(q, (size_t)k);
    }
    rep->drift_mixed = rep->drift_int8;
    if (!rc && rep->kept) rc = drift_of(&r, q, &rep->drift_mixed);
    free(drift);
    drift_ref_free(&r);
    if (rc == FA_ENOMEM) fa_err_set(FA_ENOMEM, "nn: keep_fp32: out of memory");
    return rc;
}

float fa_nn_quant_scale(const fa_nn_quant *q, const fa_nn_model *m, const char *name) {
    const fa_nn_graph *g = fa_nn_model_graph(m);
    for (size_t t = 0; q && t < g->n_tensors && t < q->n_tensors; t++)
        if (strcmp(g->tensors[t].name, name) == 0) return q->act_scale[t];
    return 0.0f;
}

/* ---------------------------------------------------------------- save */

static void put_u32(fa_buf *b, uint32_t v, int *rc) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    if (!*rc) *rc = fa_buf_append(b, x, 4);
}

static void put_f32(fa_buf *b, float f, int *rc) {
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(b, v, rc);
}

static int encode(const fa_nn_quant *q, fa_buf *b) {
    int rc = fa_buf_append(b, QF_MAGIC, 4);
    put_u32(b, QF_VERSION, &rc);
    put_u32(b, (uint32_t)q->method, &rc);
    put_f32(b, q->percentile, &rc);
    put_u32(b, (uint32_t)strlen(q->source), &rc);
    if (!rc) rc = fa_buf_append(b, q->source, strlen(q->source));
    if (!rc) rc = fa_buf_append(b, q->sha256, 32);
    put_u32(b, (uint32_t)q->n_tensors, &rc);
    put_u32(b, (uint32_t)q->n_nodes, &rc);
    uint32_t n_act = 0, n_conv = 0;
    for (size_t t = 0; t < q->n_tensors; t++)
        n_act += q->act_scale[t] > 0;
    for (size_t n = 0; n < q->n_nodes; n++)
        n_conv += q->w_q[n] != NULL;
    put_u32(b, n_act, &rc);
    for (size_t t = 0; t < q->n_tensors; t++)
        if (q->act_scale[t] > 0) {
            put_u32(b, (uint32_t)t, &rc);
            put_f32(b, q->act_scale[t], &rc);
        }
    put_u32(b, n_conv, &rc);
    for (size_t n = 0; n < q->n_nodes; n++) {
        if (!q->w_q[n]) continue;
        put_u32(b, (uint32_t)n, &rc);
        put_u32(b, (uint32_t)q->c_out[n], &rc);
        put_u32(b, (uint32_t)q->k[n], &rc);
        for (int32_t oc = 0; oc < q->c_out[n]; oc++)
            put_f32(b, q->w_scale[n][oc], &rc);
        if (!rc) rc = fa_buf_append(b, q->w_q[n], (size_t)q->c_out[n] * (size_t)q->k[n]);
    }
    if (!rc) rc = fa_buf_append(b, QF_END, 4);
    return rc;
}

int fa_nn_quant_save(const fa_nn_quant *q, const char *path) {
    if (!q || !path) return fa_err_set(FA_EINVAL, "nn: quant_save: expected a quantisation and a path");
    fa_buf b = {0};
    int rc = encode(q, &b);
    FILE *f = rc ? NULL : fopen(path, "wb");
    if (!rc && !f) rc = fa_err_set(FA_EIO, "%s: cannot create: %s", fa_path_base(path), strerror(errno));
    if (f) {
        if (fwrite(b.data, 1, b.len, f) != b.len)
            rc = fa_err_set(FA_EIO, "%s: write failed", fa_path_base(path));
        if (fclose(f) != 0 && !rc) rc = fa_err_set(FA_EIO, "%s: write failed", fa_path_base(path));
    }
    free(b.data);
    return rc;
}

/* ---------------------------------------------------------------- load */

typedef struct reader {
    const unsigned char *p;
    size_t len, off;
    const char *file;
} reader;

static int truncated(const reader *r, const char *field, size_t need) {
    return fa_err_set(FA_EINVAL, "%s: byte %zu: field '%s': expected %zu more bytes, file ends after %zu",
                      r->file, r->off, field, need, r->len - r->off);
}

static int get_u32(reader *r, const char *field, uint32_t *v) {
    if (r->len - r->off < 4) return truncated(r, field, 4);
    const unsigned char *x = r->p + r->off;
    *v = (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
    r->off += 4;
    return 0;
}

static int get_f32(reader *r, const char *field, float *f) {
    uint32_t v = 0;
    int rc = get_u32(r, field, &v);
    if (!rc) memcpy(f, &v, 4);
    return rc;
}

static int get_u32_in(reader *r, const char *field, uint32_t lo, uint32_t hi, uint32_t *v) {
    size_t at = r->off;
    int rc = get_u32(r, field, v);
    if (!rc && (*v < lo || *v > hi))
        return fa_err_set(FA_EINVAL, "%s: byte %zu: field '%s': expected %u..%u, got %u", r->file, at, field,
                          lo, hi, *v);
    return rc;
}

static int get_scale(reader *r, const char *field, float *f) {
    size_t at = r->off;
    int rc = get_f32(r, field, f);
    if (!rc && !(*f > 0.0f && isfinite(*f) && isfinite(1.0f / *f)))
        return fa_err_set(FA_EINVAL, "%s: byte %zu: field '%s': expected a finite scale > 0, got %g", r->file,
                          at, field, (double)*f);
    return rc;
}

static int read_header(reader *r, fa_nn_quant *q) {
    uint32_t v = 0, len = 0;
    if (r->len < 4 || memcmp(r->p, QF_MAGIC, 4) != 0)
        return fa_err_set(FA_EINVAL, "%s: byte 0: field 'magic': expected \"FANQ\" (a quantised model file)",
                          r->file);
    r->off = 4;
    int rc = get_u32_in(r, "version", QF_VERSION, QF_VERSION, &v);
    if (!rc) rc = get_u32_in(r, "method", 0, 2, &v);
    q->method = (int)v;
    if (!rc) rc = get_f32(r, "percentile", &q->percentile);
    if (!rc) rc = get_u32_in(r, "source_length", 1, QF_PATH_MAX, &len);
    if (!rc && r->len - r->off < len) rc = truncated(r, "source", len);
    if (!rc && memchr(r->p + r->off, 0, len))
        rc = fa_err_set(FA_EINVAL, "%s: byte %zu: field 'source': expected a path without NUL bytes", r->file,
                        r->off);
    if (!rc && !(q->source = fa_malloc(len + 1))) rc = FA_ENOMEM;
    if (!rc) {
        memcpy(q->source, r->p + r->off, len);
        q->source[len] = '\0';
        r->off += len;
    }
    if (!rc && r->len - r->off < 32) rc = truncated(r, "sha256", 32);
    if (!rc) {
        memcpy(q->sha256, r->p + r->off, 32);
        r->off += 32;
    }
    return rc;
}

/* The next record's id: below n, and above the previous one (*prev, -1 at first). */
static int get_next_id(reader *r, const char *field, size_t n, long *prev, uint32_t *id) {
    size_t at = r->off;
    int rc = get_u32_in(r, field, 0, (uint32_t)n - 1, id);
    if (!rc && (long)*id <= *prev)
        rc = fa_err_set(FA_EINVAL, "%s: byte %zu: field '%s': expected > %ld (increasing), got %u", r->file,
                        at, field, *prev, *id);
    *prev = (long)*id;
    return rc;
}

static int read_acts(reader *r, fa_nn_quant *q) {
    uint32_t n_act = 0, id = 0;
    int rc = get_u32_in(r, "n_act", 0, (uint32_t)q->n_tensors, &n_act);
    long prev = -1;
    for (uint32_t i = 0; !rc && i < n_act; i++) {
        rc = get_next_id(r, "act.tensor", q->n_tensors, &prev, &id);
        if (!rc) rc = get_scale(r, "act.scale", &q->act_scale[id]);
    }
    return rc;
}

static int read_weights(reader *r, fa_nn_quant *q, uint32_t node) {
    uint32_t c_out = 0, k = 0;
    int rc = get_u32_in(r, "conv.c_out", 1, QF_DIM_MAX, &c_out);
    if (!rc) rc = get_u32_in(r, "conv.k", 1, QF_DIM_MAX, &k);
    if (!rc && (r->len - r->off) / 4 < c_out) rc = truncated(r, "conv.scale", (size_t)c_out * 4);
    if (!rc && !(q->w_scale[node] = fa_malloc((size_t)c_out * sizeof(float)))) rc = FA_ENOMEM;
    for (uint32_t oc = 0; !rc && oc < c_out; oc++)
        rc = get_scale(r, "conv.scale", &q->w_scale[node][oc]);
    size_t bytes = (size_t)c_out * k;
    if (!rc && r->len - r->off < bytes) rc = truncated(r, "conv.weights", bytes);
    if (!rc && !(q->w_q[node] = fa_malloc(bytes))) rc = FA_ENOMEM;
    for (size_t i = 0; !rc && i < bytes; i++) {
        int8_t v = (int8_t)r->p[r->off + i];
        if (v == -128)
            rc = fa_err_set(FA_EINVAL, "%s: byte %zu: field 'conv.weights': expected -127..127, got -128",
                            r->file, r->off + i);
        q->w_q[node][i] = v;
    }
    if (!rc) r->off += bytes;
    q->c_out[node] = (int32_t)c_out, q->k[node] = (int32_t)k;
    return rc;
}

static int read_convs(reader *r, fa_nn_quant *q) {
    uint32_t n_conv = 0, node = 0;
    int rc = get_u32_in(r, "n_conv", 0, (uint32_t)q->n_nodes, &n_conv);
    long prev = -1;
    for (uint32_t i = 0; !rc && i < n_conv; i++) {
        rc = get_next_id(r, "conv.node", q->n_nodes, &prev, &node);
        if (!rc) rc = read_weights(r, q, node);
    }
    if (!rc && (r->len - r->off < 4 || memcmp(r->p + r->off, QF_END, 4) != 0))
        rc = fa_err_set(FA_EINVAL, "%s: byte %zu: field 'end': expected \"END1\"", r->file, r->off);
    if (!rc && r->len - r->off != 4)
        rc = fa_err_set(FA_EINVAL, "%s: byte %zu: expected the end of the file, got %zu more bytes", r->file,
                        r->off + 4, r->len - r->off - 4);
    return rc;
}

fa_nn_quant *fa_nn_quant_parse(const char *name, const unsigned char *data, size_t len) {
    reader r = {.p = data, .len = len, .file = name};
    fa_nn_quant tmp = {0};
    uint32_t nt = 0, nn = 0;
    int rc = read_header(&r, &tmp);
    if (!rc) rc = get_u32_in(&r, "n_tensors", 1, QF_GRAPH_MAX, &nt);
    if (!rc) rc = get_u32_in(&r, "n_nodes", 1, QF_GRAPH_MAX, &nn);
    fa_nn_quant *q = rc ? NULL : quant_new(nt, nn);
    if (!rc && !q) rc = fa_err_set(FA_ENOMEM, "%s: out of memory", name);
    if (!rc) {
        q->source = tmp.source, tmp.source = NULL;
        memcpy(q->sha256, tmp.sha256, 32);
        q->method = tmp.method, q->percentile = tmp.percentile;
        rc = read_acts(&r, q);
    }
    if (!rc) rc = read_convs(&r, q);
    free(tmp.source);
    if (rc) {
        if (rc == FA_ENOMEM) fa_err_set(FA_ENOMEM, "%s: out of memory", name);
        fa_nn_quant_free(q);
        return NULL;
    }
    return q;
}

static unsigned char *read_all(const char *path, size_t *len) {
    if (fa_file_check(path) < 0) return NULL;
    FILE *f = fopen(path, "rb");
    fa_buf b = {0};
    unsigned char chunk[65536];
    size_t got;
    int rc = f ? 0 : fa_err_set(FA_EIO, "%s: cannot open: %s", fa_path_base(path), strerror(errno));
    while (!rc && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = fa_buf_append(&b, chunk, got);
    if (!rc && ferror(f)) rc = fa_err_set(FA_EIO, "%s: read error", fa_path_base(path));
    if (f) fclose(f);
    if (rc) {
        free(b.data);
        return NULL;
    }
    *len = b.len;
    return b.data ? (unsigned char *)b.data : fa_calloc(1, 1);
}

/* The source beside the .fanq (same base name as stored), else the stored path. */
static char *find_source(const char *fanq, const char *stored) {
    const char *slash = strrchr(fanq, '/');
    size_t dir = slash ? (size_t)(slash - fanq) + 1 : 0;
    const char *base = fa_path_base(stored);
    char *beside = fa_malloc(dir + strlen(base) + 1);
    if (!beside) return NULL;
    memcpy(beside, fanq, dir);
    strcpy(beside + dir, base);
    FILE *f = fopen(beside, "rb");
    if (f) {
        fclose(f);
        return beside;
    }
    free(beside);
    return fa_strdup(stored);
}

static int check_source(const char *file, const fa_nn_quant *q, const char *source) {
    unsigned char sha[32];
    int rc = fa_nn_model_file_sha256(source, sha);
    if (rc) return fa_err_prefix("%s: source model '%s'", file, source);
    if (memcmp(sha, q->sha256, 32) != 0)
        return fa_err_set(FA_EINVAL,
                          "%s: source model '%s' has changed (SHA-256 differs from the one stored at "
                          "byte %zu): calibrate again",
                          file, source, 20 + strlen(q->source));
    return 0;
}

fa_nn_quant *fa_nn_quant_load(const char *path, char **source) {
    size_t len = 0;
    unsigned char *data = read_all(path, &len);
    if (!data) return NULL;
    const char *name = fa_path_base(path);
    fa_nn_quant *q = fa_nn_quant_parse(name, data, len);
    free(data);
    char *src = q ? find_source(path, q->source) : NULL;
    int rc = !q ? fa_err_code() : !src ? FA_ENOMEM : check_source(name, q, src);
    if (rc) {
        free(src);
        fa_nn_quant_free(q);
        return NULL;
    }
    *source = src;
    return q;
}

int fa_nn_quant_file_check(const char *path) {
    char *source = NULL;
    fa_nn_quant *q = fa_nn_quant_load(path, &source);
    if (!q) return fa_err_code() ? fa_err_code() : FA_EINVAL;
    free(source);
    fa_nn_quant_free(q);
    return 0;
}

/* ---------------------------------------------------------------- check */

static int check_conv(const fa_nn_quant *q, const fa_nn_graph *g, size_t n, const char *file) {
    const fa_nn_node *nd = &g->nodes[n];
    const fa_nn_tensor *w = &g->tensors[nd->in[1]];
    int64_t k = w->shape[1] * w->shape[2] * w->shape[3];
    if (!q->w_q[n]) return 0; /* stays fp32 (a head) */
    if (q->c_out[n] != w->shape[0] || q->k[n] != k)
        return fa_err_set(FA_EINVAL,
                          "%s: node '%s' (Conv): weights %dx%d in the file, the model has %lldx%lld", file,
                          nd->name, q->c_out[n], q->k[n], (long long)w->shape[0], (long long)k);
    if (!(q->act_scale[nd->in[0]] > 0) || !(q->act_scale[nd->out[0]] > 0))
        return fa_err_set(FA_EINVAL, "%s: node '%s' (Conv): no activation scale for its %s", file, nd->name,
                          q->act_scale[nd->in[0]] > 0 ? "output" : "input");
    return 0;
}

int fa_nn_quant_check(const fa_nn_quant *q, const fa_nn_graph *g, const char *file) {
    file = file ? fa_path_base(file) : g->file;
    if (q->n_tensors != g->n_tensors || q->n_nodes != g->n_nodes)
        return fa_err_set(FA_EINVAL,
                          "%s: made for a graph of %zu tensors and %zu nodes, the source has %zu and %zu",
                          file, q->n_tensors, q->n_nodes, g->n_tensors, g->n_nodes);
    for (size_t n = 0; n < g->n_nodes; n++) {
        const fa_nn_node *nd = &g->nodes[n];
        int conv = !nd->dead && nd->op == FA_NN_OP_CONV;
        if (conv && check_conv(q, g, n, file) < 0) return FA_EINVAL;
        if (!conv && q->w_q[n])
            return fa_err_set(FA_EINVAL,
                              "%s: node %zu ('%s') has int8 weights in the file but is not a live Conv", file,
                              n, nd->name);
    }
    return 0;
}
