/*
 * darknet.c - the Darknet loader: a .cfg network description and its
 * .weights file into the graph IR of nn_internal.h (issue 5, part 2).
 *
 * The cfg is an INI-like list of sections ([net], then one per layer); a
 * layer refers to earlier ones by index (route, shortcut), so the loader
 * walks the sections once, keeping per layer the tensor it produced and its
 * C x H x W, and emits ONNX-style nodes the rest of the engine already knows:
 *   convolutional -> Conv (+ BatchNormalization) (+ LeakyRelu 0.1 / Relu /
 *                    Sigmoid); the graph passes fold the BatchNormalization
 *                    and fuse the activation, as for ONNX models;
 *   maxpool       -> MaxPool with Darknet's padding: `padding` (default
 *                    size-1) is split as padding/2 before and the rest after,
 *                    exactly Darknet's window offset of -padding/2 and output
 *                    size (h + padding - size) / stride + 1;
 *   route         -> Concat over channels (an alias for one layer), with
 *                    groups/group_id as a Split taking part group_id;
 *   shortcut      -> Add (+ activation);
 *   upsample      -> Resize nearest, asymmetric, floor: out[y][x] = in[y/s][x/s];
 *   dropout       -> nothing (identity at inference);
 *   yolo          -> its input becomes a graph output (raw, undecoded) and
 *                    its anchors/mask/classes are kept for the detector
 *                    (fa_nn_graph_yolo_heads).
 * BatchNormalization epsilon: AlexeyAB's darknet (which yolo-fastest was
 * trained with: nms_kind, iou_loss keys) normalizes with
 * (x - mean) / sqrt(variance + .00001f) in normalize_cpu and in its
 * fuse_batchnorm, so the node gets epsilon 1e-5 (pjreddie's older
 * sqrt(var) + .000001f differs by < 1e-6 relative for these variances).
 *
 * Strictness: layer sections that change what is computed reject unknown
 * keys (a key we ignored could silently change the result); [net] and
 * [yolo] carry training hyper-parameters, so their other keys are accepted
 * and only the ones read are validated. Every error is FA_EINVAL naming
 * cfg:line or weights:byte-offset and the problem.
 *
 * Rejected as unsupported (with a message): other sections and activations,
 * conv dilation != 1, maxpool padding > size-1, upsample scale != 1,
 * shortcut of differently shaped layers, transposed (major >= 1000) weights.
 *
 * Weights: int32 major, minor, revision, then `seen` (int64 when
 * major*10+minor >= 2, else int32); then per convolutional layer in cfg
 * order: biases[n], with batch_normalize scales[n], rolling_mean[n],
 * rolling_variance[n], then weights[n][c/groups][k][k]; float32 little
 * endian. The file must end exactly after the last layer.
 */
#include "nn/nn_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 4096
#define MAX_DIM 8192

typedef struct kv {
    const char *key, *val;
    int line;
} kv;

typedef struct section {
    const char *type;
    int line;
    size_t first, n; /* its keys: kvs[first .. first+n) */
} section;

typedef struct layer {
    int tensor; /* the tensor it outputs */
    int64_t c, h, w;
} layer;

typedef struct loader {
    const char *cfg_name, *w_name; /* base names */
    fa_nn_graph *g;
    kv *kvs;
    size_t n_kvs;
    section *secs;
    size_t n_secs;
    layer *layers;
    const uint8_t *wbuf;
    size_t wlen, wpos;
} loader;

static const char *base_name(const char *p) {
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p ? p : "model";
}

static int cfg_err(const loader *L, int line, const char *fmt, ...) FA_PRINTF(3, 4);
static int cfg_err(const loader *L, int line, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fa_err_set(FA_EINVAL, "%s:%d: %s", L->cfg_name, line, msg);
}

/* ------------------------------------------------------------- cfg text */

static char *trim(char *s, char *end) {
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *end = '\0';
    return s;
}

static int push_kv(loader *L, size_t *cap, const char *key, const char *val, int line) {
    if (L->n_kvs == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        kv *k = fa_realloc(L->kvs, nc * sizeof *k);
        if (!k) return FA_ENOMEM;
        L->kvs = k;
        *cap = nc;
    }
    L->kvs[L->n_kvs++] = (kv){key, val, line};
    return 0;
}

static int push_section(loader *L, size_t *cap, const char *type, int line) {
    if (L->n_secs >= MAX_LAYERS) return cfg_err(L, line, "more than %d sections", MAX_LAYERS);
    if (L->n_secs == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        section *s = fa_realloc(L->secs, nc * sizeof *s);
        if (!s) return FA_ENOMEM;
        L->secs = s;
        *cap = nc;
    }
    L->secs[L->n_secs++] = (section){type, line, L->n_kvs, 0};
    return 0;
}

/* One line (NUL-terminated, comments not yet removed). */
static int parse_line(loader *L, char *s, int line, size_t *cap_kv, size_t *cap_sec) {
    char *end = s + strlen(s);
    for (char *p = s; *p; p++)
        if (*p == '#' || *p == ';') {
            end = p;
            break;
        }
    s = trim(s, end);
    if (!*s) return 0;
    if (*s == '[') {
        size_t n = strlen(s);
        if (n < 3 || s[n - 1] != ']') return cfg_err(L, line, "malformed section header '%s'", s);
        s[n - 1] = '\0';
        return push_section(L, cap_sec, s + 1, line);
    }
    char *eq = strchr(s, '=');
    if (!eq) return cfg_err(L, line, "expected key=value, got '%.40s'", s);
    if (!L->n_secs) return cfg_err(L, line, "key '%.40s' before any section", s);
    char *key = trim(s, eq), *val = trim(eq + 1, eq + 1 + strlen(eq + 1));
    if (!*key || !*val) return cfg_err(L, line, "empty key or value");
    for (size_t i = L->secs[L->n_secs - 1].first; i < L->n_kvs; i++)
        if (strcmp(L->kvs[i].key, key) == 0) return cfg_err(L, line, "duplicate key '%s'", key);
    int rc = push_kv(L, cap_kv, key, val, line);
    if (!rc) L->secs[L->n_secs - 1].n++;
    return rc;
}

/* Splits text (NUL-terminated, modified in place) into sections and keys. */
static int parse_cfg(loader *L, char *text) {
    size_t cap_kv = 0, cap_sec = 0;
    int line = 1;
    for (char *s = text; s; line++) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        int rc = parse_line(L, s, line, &cap_kv, &cap_sec);
        if (rc) return rc;
        s = nl ? nl + 1 : NULL;
    }
    if (!L->n_secs || (strcmp(L->secs[0].type, "net") != 0 && strcmp(L->secs[0].type, "network") != 0))
        return cfg_err(L, L->n_secs ? L->secs[0].line : 1, "the first section must be [net]");
    return 0;
}

/* ------------------------------------------------------------ key values */

static const kv *find_key(const loader *L, const section *s, const char *key) {
    for (size_t i = s->first; i < s->first + s->n; i++)
        if (strcmp(L->kvs[i].key, key) == 0) return &L->kvs[i];
    return NULL;
}

/* Rejects any key of s not in the NULL-terminated list allowed. */
static int check_keys(const loader *L, const section *s, const char *const *allowed) {
    for (size_t i = s->first; i < s->first + s->n; i++) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, L->kvs[i].key) == 0;
        if (!ok) return cfg_err(L, L->kvs[i].line, "unknown key '%s' in [%s]", L->kvs[i].key, s->type);
    }
    return 0;
}

static int parse_int(const char *s, long *v) {
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    return end != s && !*end && !errno && *v >= INT_MIN && *v <= INT_MAX;
}

/* Integer key in [lo, hi], def when absent. */
static int get_int(const loader *L, const section *s, const char *key, long def, long lo, long hi, long *v) {
    const kv *k = find_key(L, s, key);
    *v = def;
    if (!k) return 0;
    if (!parse_int(k->val, v) || *v < lo || *v > hi)
        return cfg_err(L, k->line, "'%s': expected an integer in [%ld, %ld], got '%.40s'", key, lo, hi,
                       k->val);
    return 0;
}

static int get_float(const loader *L, const section *s, const char *key, double def, double *v) {
    const kv *k = find_key(L, s, key);
    *v = def;
    if (!k) return 0;
    char *end;
    *v = strtod(k->val, &end);
    if (end == k->val || *end || !isfinite(*v))
        return cfg_err(L, k->line, "'%s': expected a number, got '%.40s'", key, k->val);
    return 0;
}

/* Comma-separated integers (at most max) of key into out; count in *n. */
static int get_ints(const loader *L, const kv *k, long *out, int max, int *n) {
    *n = 0;
    const char *p = k->val;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < INT_MIN || v > INT_MAX || *n >= max)
            return cfg_err(L, k->line, "'%s': expected at most %d integers, got '%.40s'", k->key, max,
                           k->val);
        out[(*n)++] = v;
        while (*end == ' ' || *end == '\t')
            end++;
        if (!*end) return 0;
        if (*end != ',') return cfg_err(L, k->line, "'%s': expected ',' in '%.40s'", k->key, k->val);
        p = end + 1;
    }
}

/* ------------------------------------------------------------ graph bits */

/* A new tensor named "<prefix><index>.<what>" (computed, no shape). */
static int new_tensor(loader *L, int index, const char *what) {
    char name[64];
    int n = snprintf(name, sizeof name, "l%d.%s", index, what);
    return fa_nn_graph_tensor_id(L->g, name, (size_t)n, 1);
}

/* A node of op named after layer index, reading in[0..n_in), writing one new tensor. */
static fa_nn_node *new_node(loader *L, fa_nn_op op, int index, const char *what, const int *in, int n_in) {
    int out = new_tensor(L, index, what);
    if (out < 0) return NULL;
    char name[64];
    snprintf(name, sizeof name, "l%d.%s", index, what);
    char *nm = fa_strdup(name);
    fa_nn_node *nd = nm ? fa_nn_graph_add_node(L->g, op) : NULL;
    if (!nd) {
        free(nm);
        return NULL;
    }
    nd->name = nm;
    nd->n_in = n_in;
    memcpy(nd->in, in, (size_t)n_in * sizeof *in);
    nd->n_out = 1;
    nd->out[0] = out;
    return nd;
}

/* Reads n floats of the weights into a new constant tensor of the given shape. */
static int weights_tensor(loader *L, int index, const char *what, const int64_t *shape, int rank) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    size_t bytes = (size_t)n * 4;
    if (L->wlen - L->wpos < bytes)
        return fa_err_set(FA_EINVAL, "%s: byte %zu: file ends in layer %d's %s (%zu bytes needed, %zu left)",
                          L->w_name, L->wpos, index, what, bytes, L->wlen - L->wpos);
    int id = new_tensor(L, index, what);
    if (id < 0) return id;
    fa_nn_tensor *t = &L->g->tensors[id];
    float *d = fa_malloc(bytes ? bytes : 1);
    if (!d) return FA_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *b = L->wbuf + L->wpos + (size_t)i * 4;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&d[i], &u, 4);
    }
    L->wpos += bytes;
    t->data = d;
    t->rank = rank;
    memcpy(t->shape, shape, (size_t)rank * sizeof *shape);
    return id;
}

/* Appends the activation named act (line for messages) after tensor *x. */
static int add_activation(loader *L, const section *s, int index, int *x) {
    const kv *k = find_key(L, s, "activation");
    const char *act = k ? k->val : (strcmp(s->type, "shortcut") == 0 ? "linear" : "logistic");
    if (strcmp(act, "linear") == 0) return 0;
    fa_nn_op op = strcmp(act, "leaky") == 0      ? FA_NN_OP_LEAKY_RELU
                  : strcmp(act, "relu") == 0     ? FA_NN_OP_RELU
                  : strcmp(act, "logistic") == 0 ? FA_NN_OP_SIGMOID
                                                 : FA_NN_OP_COUNT;
    if (op == FA_NN_OP_COUNT)
        return cfg_err(L, k->line, "activation '%.40s' not supported (linear, leaky, relu, logistic)", act);
    fa_nn_node *nd = new_node(L, op, index, act, x, 1);
    if (!nd) return FA_ENOMEM;
    nd->a.alpha = 0.1f;
    *x = nd->out[0];
    return 0;
}

/* ---------------------------------------------------------------- layers */

static const char *const conv_keys[] = {"filters",  "size",   "stride",          "pad",
                                        "padding",  "groups", "batch_normalize", "activation",
                                        "dilation", NULL};

/* Conv's bias or BatchNormalization constants, in the weights file's order. */
static int conv_constants(loader *L, int index, int64_t n, int bn, int *ids) {
    static const char *const what[] = {"bias", "bn_scale", "bn_mean", "bn_var"};
    int64_t shape[1] = {n};
    for (int i = 0; i < (bn ? 4 : 1); i++) {
        ids[i] = weights_tensor(L, index, what[i], shape, 1);
        if (ids[i] < 0) return ids[i];
    }
    return 0;
}

static int layer_conv(loader *L, const section *s, int index, layer *prev, layer *out) {
    long filters, size, stride, pad, padding, groups, bn, dilation;
    int rc = check_keys(L, s, conv_keys);
    if (!rc) rc = get_int(L, s, "filters", 1, 1, MAX_DIM, &filters);
    if (!rc) rc = get_int(L, s, "size", 1, 1, 64, &size);
    if (!rc) rc = get_int(L, s, "stride", 1, 1, 64, &stride);
    if (!rc) rc = get_int(L, s, "pad", 0, 0, 1, &pad);
    if (!rc) rc = get_int(L, s, "padding", 0, 0, 64, &padding);
    if (!rc) rc = get_int(L, s, "groups", 1, 1, MAX_DIM, &groups);
    if (!rc) rc = get_int(L, s, "batch_normalize", 0, 0, 1, &bn);
    if (!rc) rc = get_int(L, s, "dilation", 1, 1, 1, &dilation);
    if (rc) return rc;
    if (!find_key(L, s, "filters")) return cfg_err(L, s->line, "[convolutional] without 'filters'");
    if (pad) padding = size / 2;
    if (prev->c % groups || filters % groups)
        return cfg_err(L, s->line, "groups %ld does not divide %lld input channels and %ld filters", groups,
                       (long long)prev->c, filters);
    int64_t oh = (prev->h + 2 * padding - size) / stride + 1,
            ow = (prev->w + 2 * padding - size) / stride + 1;
    if (prev->h + 2 * padding < size || prev->w + 2 * padding < size)
        return cfg_err(L, s->line, "kernel %ld larger than the padded %lldx%lld input", size,
                       (long long)prev->h, (long long)prev->w);
    int consts[4];
    if ((rc = conv_constants(L, index, filters, (int)bn, consts))) return rc;
    int64_t wshape[4] = {filters, prev->c / groups, size, size};
    int w = weights_tensor(L, index, "weight", wshape, 4);
    if (w < 0) return w;
    int in[3] = {prev->tensor, w, consts[0]};
    fa_nn_node *nd = new_node(L, FA_NN_OP_CONV, index, "conv", in, bn ? 2 : 3);
    if (!nd) return FA_ENOMEM;
    nd->a.kernel[0] = nd->a.kernel[1] = (int)size;
    nd->a.strides[0] = nd->a.strides[1] = (int)stride;
    for (int i = 0; i < 4; i++)
        nd->a.pads[i] = (int)padding;
    nd->a.group = (int)groups;
    int x = nd->out[0];
    if (bn) {
        int bin[5] = {x, consts[1], consts[0], consts[2], consts[3]};
        fa_nn_node *b = new_node(L, FA_NN_OP_BATCHNORM, index, "bn", bin, 5);
        if (!b) return FA_ENOMEM;
        b->a.epsilon = 1e-5f;
        x = b->out[0];
    }
    if ((rc = add_activation(L, s, index, &x))) return rc;
    *out = (layer){x, filters, oh, ow};
    return 0;
}

static int layer_maxpool(loader *L, const section *s, int index, layer *prev, layer *out) {
    static const char *const keys[] = {"size", "stride", "padding", NULL};
    long size, stride, padding;
    int rc = check_keys(L, s, keys);
    if (!rc) rc = get_int(L, s, "stride", 1, 1, 64, &stride);
    if (!rc) rc = get_int(L, s, "size", stride, 1, 64, &size);
    if (!rc) rc = get_int(L, s, "padding", size - 1, 0, size - 1, &padding);
    if (rc) return rc;
    if (prev->h + padding < size || prev->w + padding < size)
        return cfg_err(L, s->line, "window %ld larger than the padded %lldx%lld input", size,
                       (long long)prev->h, (long long)prev->w);
    fa_nn_node *nd = new_node(L, FA_NN_OP_MAXPOOL, index, "maxpool", &prev->tensor, 1);
    if (!nd) return FA_ENOMEM;
    nd->a.kernel[0] = nd->a.kernel[1] = (int)size;
    nd->a.strides[0] = nd->a.strides[1] = (int)stride;
    nd->a.pads[0] = nd->a.pads[1] = (int)(padding / 2);
    nd->a.pads[2] = nd->a.pads[3] = (int)(padding - padding / 2);
    *out = (layer){nd->out[0], prev->c, (prev->h + padding - size) / stride + 1,
                   (prev->w + padding - size) / stride + 1};
    return 0;
}

static int layer_upsample(loader *L, const section *s, int index, layer *prev, layer *out) {
    static const char *const keys[] = {"stride", "scale", NULL};
    long stride;
    double scale;
    int rc = check_keys(L, s, keys);
    if (!rc) rc = get_int(L, s, "stride", 2, 1, 32, &stride);
    if (!rc) rc = get_float(L, s, "scale", 1, &scale);
    if (rc) return rc;
    if (scale != 1) return cfg_err(L, find_key(L, s, "scale")->line, "'scale' other than 1 not supported");
    if (prev->h * stride > MAX_DIM || prev->w * stride > MAX_DIM)
        return cfg_err(L, s->line, "upsampled size over %d", MAX_DIM);
    int sc = new_tensor(L, index, "scales");
    if (sc < 0) return sc;
    float *d = fa_malloc(4 * sizeof *d);
    if (!d) return FA_ENOMEM;
    d[0] = d[1] = 1;
    d[2] = d[3] = (float)stride;
    fa_nn_tensor *t = &L->g->tensors[sc];
    t->data = d;
    t->rank = 1;
    t->shape[0] = 4;
    int in[3] = {prev->tensor, -1, sc};
    fa_nn_node *nd = new_node(L, FA_NN_OP_RESIZE, index, "upsample", in, 3);
    if (!nd) return FA_ENOMEM;
    nd->a.resize_mode = FA_NN_RESIZE_NEAREST;
    nd->a.coord_mode = FA_NN_COORD_ASYMMETRIC;
    nd->a.nearest_mode = FA_NN_NEAREST_FLOOR;
    *out = (layer){nd->out[0], prev->c, prev->h * stride, prev->w * stride};
    return 0;
}

/* Layer index named by a relative (< 0) or absolute reference from layer index. */
static int resolve_ref(const loader *L, const kv *k, int index, long ref, int *to) {
    long abs_ref = ref < 0 ? index + ref : ref;
    if (abs_ref < 0 || abs_ref >= index)
        return cfg_err(L, k->line, "'%s': layer %ld out of range (layer %d may use 0..%d)", k->key, ref,
                       index, index - 1);
    *to = (int)abs_ref;
    return 0;
}

/* Part group_id of groups equal channel parts of layer src (Split). */
static int route_part(loader *L, const section *s, int index, int part, const layer *src, long groups,
                      long gid, int *tensor) {
    if (src->c % groups)
        return cfg_err(L, s->line, "groups %ld does not divide %lld channels", groups, (long long)src->c);
    char what[32];
    snprintf(what, sizeof what, "split%d_0", part);
    fa_nn_node *nd = new_node(L, FA_NN_OP_SPLIT, index, what, &src->tensor, 1);
    if (!nd) return FA_ENOMEM;
    nd->a.axis = 1;
    for (int i = 1; i < groups; i++) {
        snprintf(what, sizeof what, "split%d_%d", part, i);
        int id = new_tensor(L, index, what);
        if (id < 0) return id;
        nd = &L->g->nodes[L->g->n_nodes - 1];
        nd->out[i] = id;
    }
    nd->n_out = (int)groups;
    *tensor = nd->out[gid];
    return 0;
}

static int layer_route(loader *L, const section *s, int index, layer *out) {
    static const char *const keys[] = {"layers", "groups", "group_id", NULL};
    long refs[FA_NN_MAX_IO], groups, gid;
    int n = 0, in[FA_NN_MAX_IO];
    const kv *k = find_key(L, s, "layers");
    int rc = check_keys(L, s, keys);
    if (!rc && !k) rc = cfg_err(L, s->line, "[route] without 'layers'");
    if (!rc) rc = get_ints(L, k, refs, FA_NN_MAX_IO, &n);
    if (!rc) rc = get_int(L, s, "groups", 1, 1, FA_NN_MAX_IO, &groups);
    if (!rc) rc = get_int(L, s, "group_id", 0, 0, groups - 1, &gid);
    if (rc) return rc;
    *out = (layer){-1, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        int src = 0;
        if ((rc = resolve_ref(L, k, index, refs[i], &src))) return rc;
        const layer *l = &L->layers[src];
        if (i && (l->h != out->h || l->w != out->w))
            return cfg_err(L, k->line, "layer %d is %lldx%lld, layer %d's is %lldx%lld", src, (long long)l->h,
                           (long long)l->w, index, (long long)out->h, (long long)out->w);
        in[i] = l->tensor;
        if (groups > 1 && (rc = route_part(L, s, index, i, l, groups, gid, &in[i]))) return rc;
        out->c += l->c / groups;
        out->h = l->h;
        out->w = l->w;
    }
    out->tensor = in[0];
    if (n > 1) {
        fa_nn_node *nd = new_node(L, FA_NN_OP_CONCAT, index, "route", in, n);
        if (!nd) return FA_ENOMEM;
        nd->a.axis = 1;
        out->tensor = nd->out[0];
    }
    return 0;
}

static int layer_shortcut(loader *L, const section *s, int index, layer *prev, layer *out) {
    static const char *const keys[] = {"from", "activation", NULL};
    const kv *k = find_key(L, s, "from");
    long ref;
    int src = 0, n, rc = check_keys(L, s, keys);
    if (!rc && !k) rc = cfg_err(L, s->line, "[shortcut] without 'from'");
    if (!rc) rc = get_ints(L, k, &ref, 1, &n);
    if (!rc) rc = resolve_ref(L, k, index, ref, &src);
    if (rc) return rc;
    const layer *l = &L->layers[src];
    if (l->c != prev->c || l->h != prev->h || l->w != prev->w)
        return cfg_err(L, k->line, "layer %d is %lldx%lldx%lld, the previous layer is %lldx%lldx%lld", src,
                       (long long)l->c, (long long)l->h, (long long)l->w, (long long)prev->c,
                       (long long)prev->h, (long long)prev->w);
    int in[2] = {prev->tensor, l->tensor};
    fa_nn_node *nd = new_node(L, FA_NN_OP_ADD, index, "shortcut", in, 2);
    if (!nd) return FA_ENOMEM;
    int x = nd->out[0];
    if ((rc = add_activation(L, s, index, &x))) return rc;
    *out = (layer){x, prev->c, prev->h, prev->w};
    return 0;
}

static int layer_dropout(loader *L, const section *s, layer *prev, layer *out) {
    static const char *const keys[] = {"probability", NULL};
    double p;
    int rc = check_keys(L, s, keys);
    if (!rc) rc = get_float(L, s, "probability", 0.5, &p);
    if (!rc && !(p >= 0 && p < 1)) rc = cfg_err(L, s->line, "'probability' %g not in [0, 1)", p);
    *out = *prev;
    return rc;
}

/* Comma-separated non-negative numbers (at most max) of key into out; count in *n. */
static int get_floats(const loader *L, const kv *k, float *out, int max, int *n) {
    *n = 0;
    for (const char *p = k->val;; p++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || v < 0 || v > 1e6 || *n >= max)
            return cfg_err(L, k->line, "'%s': expected at most %d numbers in [0, 1e6], got '%.40s'", k->key,
                           max, k->val);
        out[(*n)++] = (float)v;
        while (*end == ' ' || *end == '\t')
            end++;
        if (!*end) return 0;
        if (*end != ',') return cfg_err(L, k->line, "'%s': expected ',' in '%.40s'", k->key, k->val);
        p = end;
    }
}

static int yolo_lists(loader *L, const section *s, fa_nn_yolo_head *h) {
    long vals[FA_NN_MAX_ANCHORS], num;
    int n = 0;
    const kv *k = find_key(L, s, "anchors");
    int rc = get_int(L, s, "num", 1, 1, FA_NN_MAX_ANCHORS, &num);
    if (!rc && k) rc = get_floats(L, k, h->anchors, 2 * FA_NN_MAX_ANCHORS, &n);
    if (rc) return rc;
    if (n != 2 * num) return cfg_err(L, k ? k->line : s->line, "%d anchor values for num=%ld", n, num);
    h->n_anchors = (int)num;
    if (!(k = find_key(L, s, "mask"))) {
        h->n_mask = (int)num;
        for (int i = 0; i < num; i++)
            h->mask[i] = i;
        return 0;
    }
    if ((rc = get_ints(L, k, vals, FA_NN_MAX_ANCHORS, &n))) return rc;
    h->n_mask = n;
    for (int i = 0; i < n; i++) {
        if (vals[i] < 0 || vals[i] >= num)
            return cfg_err(L, k->line, "mask %ld not below num=%ld", vals[i], num);
        h->mask[i] = (int)vals[i];
    }
    return 0;
}

/* Makes prev's tensor a graph output and records the head (other keys are training-only). */
static int layer_yolo(loader *L, const section *s, layer *prev, layer *out) {
    fa_nn_graph *g = L->g;
    fa_nn_yolo_head h = {0};
    long classes;
    double sxy;
    int rc = yolo_lists(L, s, &h);
    if (!rc) rc = get_int(L, s, "classes", 20, 1, 100000, &classes);
    if (!rc) rc = get_float(L, s, "scale_x_y", 1, &sxy);
    if (rc) return rc;
    if (prev->c != (int64_t)h.n_mask * (classes + 5))
        return cfg_err(L, s->line, "input has %lld channels, %d masks x (%ld classes + 5) need %lld",
                       (long long)prev->c, h.n_mask, classes, (long long)h.n_mask * (classes + 5));
    if (g->n_outputs >= FA_NN_MAX_IO) return cfg_err(L, s->line, "more than %d [yolo] layers", FA_NN_MAX_IO);
    if (prev->tensor == g->inputs[0]) return cfg_err(L, s->line, "[yolo] on the network input");
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == prev->tensor) return cfg_err(L, s->line, "two [yolo] layers on one tensor");
    fa_nn_yolo_head *heads = fa_realloc(g->yolo, (size_t)(g->n_yolo + 1) * sizeof *heads);
    if (!heads) return FA_ENOMEM;
    g->yolo = heads;
    h.output = g->n_outputs;
    h.classes = (int)classes;
    h.scale_x_y = (float)sxy;
    heads[g->n_yolo++] = h;
    g->outputs[g->n_outputs++] = prev->tensor;
    *out = *prev;
    return 0;
}

/* ---------------------------------------------------------------- driver */

static int layer_one(loader *L, const section *s, int index, layer *prev, layer *out) {
    const char *t = s->type;
    if (strcmp(t, "convolutional") == 0 || strcmp(t, "conv") == 0) return layer_conv(L, s, index, prev, out);
    if (strcmp(t, "maxpool") == 0 || strcmp(t, "max") == 0) return layer_maxpool(L, s, index, prev, out);
    if (strcmp(t, "upsample") == 0) return layer_upsample(L, s, index, prev, out);
    if (strcmp(t, "route") == 0) return layer_route(L, s, index, out);
    if (strcmp(t, "shortcut") == 0) return layer_shortcut(L, s, index, prev, out);
    if (strcmp(t, "dropout") == 0) return layer_dropout(L, s, prev, out);
    if (strcmp(t, "yolo") == 0) return layer_yolo(L, s, prev, out);
    return cfg_err(L, s->line, "unknown section [%s]", t);
}

static int net_input(loader *L, layer *in) {
    const section *s = &L->secs[0];
    long w, h, c;
    int rc = get_int(L, s, "width", 0, 1, MAX_DIM, &w);
    if (!rc) rc = get_int(L, s, "height", 0, 1, MAX_DIM, &h);
    if (!rc) rc = get_int(L, s, "channels", 3, 1, MAX_DIM, &c);
    if (rc) return rc;
    if (!find_key(L, s, "width") || !find_key(L, s, "height"))
        return cfg_err(L, s->line, "[net] needs 'width' and 'height'");
    int id = fa_nn_graph_tensor_id(L->g, "input", 5, 1);
    if (id < 0) return id;
    fa_nn_tensor *t = &L->g->tensors[id];
    t->rank = 4;
    t->shape[0] = 1;
    t->shape[1] = c;
    t->shape[2] = h;
    t->shape[3] = w;
    L->g->inputs[0] = id;
    L->g->n_inputs = 1;
    *in = (layer){id, c, h, w};
    return 0;
}

static int weights_header(loader *L) {
    if (L->wlen < 12)
        return fa_err_set(FA_EINVAL, "%s: byte 0: %zu bytes, too short for a header", L->w_name, L->wlen);
    int32_t v[3];
    for (int i = 0; i < 3; i++) {
        const uint8_t *b = L->wbuf + 4 * i;
        v[i] = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    }
    if (v[0] < 0 || v[1] < 0 || v[0] >= 1000 || v[1] >= 1000)
        return fa_err_set(FA_EINVAL, "%s: byte 0: version %d.%d not supported", L->w_name, v[0], v[1]);
    L->wpos = v[0] * 10 + v[1] >= 2 ? 20 : 16;
    if (L->wlen < L->wpos)
        return fa_err_set(FA_EINVAL, "%s: byte 12: %zu bytes, too short for a header", L->w_name, L->wlen);
    return 0;
}

static int build(loader *L) {
    layer input;
    int rc = weights_header(L);
    if (!rc) rc = net_input(L, &input);
    if (rc) return rc;
    if (!(L->layers = fa_calloc(L->n_secs, sizeof *L->layers))) return FA_ENOMEM;
    for (size_t i = 1; i < L->n_secs; i++) {
        layer *prev = i == 1 ? &input : &L->layers[i - 2];
        if ((rc = layer_one(L, &L->secs[i], (int)i - 1, prev, &L->layers[i - 1]))) return rc;
    }
    if (L->n_secs < 2) return cfg_err(L, L->secs[0].line, "no layers after [net]");
    if (L->wpos != L->wlen)
        return fa_err_set(FA_EINVAL, "%s: byte %zu: %zu bytes left after the last layer", L->w_name, L->wpos,
                          L->wlen - L->wpos);
    if (!L->g->n_outputs) {
        const layer *last = &L->layers[L->n_secs - 2];
        if (last->tensor == input.tensor) return cfg_err(L, L->secs[0].line, "the network computes nothing");
        L->g->outputs[L->g->n_outputs++] = last->tensor;
    }
    fa_nn_shape *shapes = fa_calloc(L->g->n_tensors, sizeof *shapes);
    if (!shapes) return FA_ENOMEM;
    rc = fa_nn_graph_infer(L->g, shapes, 0);
    free(shapes);
    return rc;
}

fa_nn_graph *fa_nn_darknet_load_mem(const char *cfg_name, const char *cfg, size_t cfg_len,
                                    const char *weights_name, const void *weights, size_t weights_len) {
    loader L = {.cfg_name = base_name(cfg_name),
                .w_name = base_name(weights_name),
                .wbuf = weights,
                .wlen = weights ? weights_len : 0};
    char *text = fa_malloc(cfg_len + 1);
    L.g = text ? fa_nn_graph_new(cfg_name) : NULL;
    int rc = L.g ? 0 : FA_ENOMEM;
    if (!rc) {
        if (cfg_len) memcpy(text, cfg, cfg_len);
        text[cfg_len] = '\0';
        if (memchr(text, '\0', cfg_len)) rc = cfg_err(&L, 1, "NUL byte in the text");
    }
    if (!rc) rc = parse_cfg(&L, text);
    if (!rc) rc = build(&L);
    free(L.layers);
    free(L.kvs);
    free(L.secs);
    free(text);
    if (rc) {
        fa_nn_graph_free(L.g);
        return NULL;
    }
    return L.g;
}

/* The whole file at path (NUL-terminated) and its length; NULL with FA_ENOTFOUND / FA_EIO / FA_ENOMEM set. */
static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fa_err_set(errno == ENOENT ? FA_ENOTFOUND : FA_EIO, "%s: cannot open: %s", base_name(path),
                   strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = fa_malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        char *nb = fa_realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (buf && err) {
        free(buf);
        fa_err_set(FA_EIO, "%s: read error", base_name(path));
        return NULL;
    }
    if (!buf) return NULL;
    buf[n] = '\0';
    *len = n;
    return buf;
}

fa_nn_graph *fa_nn_darknet_load(const char *cfg_path, const char *weights_path) {
    size_t cfg_len = 0, w_len = 0;
    char *cfg = read_all(cfg_path, &cfg_len);
    char *w = cfg ? read_all(weights_path, &w_len) : NULL;
    fa_nn_graph *g = w ? fa_nn_darknet_load_mem(cfg_path, cfg, cfg_len, weights_path, w, w_len) : NULL;
    free(cfg);
    free(w);
    return g;
}

int fa_nn_graph_yolo_heads(const fa_nn_graph *g, const fa_nn_yolo_head **heads) {
    *heads = g->yolo;
    return g->n_yolo;
}
