/*
 * onnx.c - the ONNX loader: reads the protobuf wire format directly (no
 * protobuf library) into the graph IR of nn_internal.h.
 *
 * Why by hand: the subset we need (ModelProto -> GraphProto -> NodeProto,
 * AttributeProto, TensorProto, ValueInfoProto) is a few dozen field numbers,
 * and a hand-written reader lets every malformed byte sequence become one
 * precise error ("FastestDet.onnx: byte 1234: length 99999 past the end")
 * instead of a crash. The reader is a cursor over [pos, end) of one buffer:
 * every length is checked against the bytes left before it is used, so
 * nothing reads out of bounds, and every message is visited once, so the
 * loader is linear in the file size (tensor names go through the graph's
 * hash table, never a scan).
 *
 * Field numbers are those of onnx/onnx.proto (public specification).
 */
#include "nn/nn_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };
#define MAX_ELEMS ((int64_t)1 << 31) /* elements a tensor may have */

typedef struct pb {
    const uint8_t *buf; /* the whole file: offsets are from its start */
    size_t pos, end;
    const char *file;
} pb;

static int pb_err(const pb *c, size_t at, const char *fmt, ...) FA_PRINTF(3, 4);
static int pb_err(const pb *c, size_t at, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fa_err_set(FA_EINVAL, "%s: byte %zu: %s", c->file, at, msg);
}

static int pb_varint(pb *c, uint64_t *v) {
    size_t at = c->pos;
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->pos >= c->end) return pb_err(c, at, "truncated varint");
        uint8_t b = c->buf[c->pos++];
        x |= (uint64_t)(b & 0x7f) << (shift < 64 ? shift : 63);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return pb_err(c, at, "varint longer than 10 bytes");
}

static int pb_key(pb *c, uint32_t *field, int *wt) {
    size_t at = c->pos;
    uint64_t k = 0;
    int rc = pb_varint(c, &k);
    if (rc) return rc;
    *wt = (int)(k & 7);
    if (k >> 3 == 0 || k >> 3 > 0x1fffffff)
        return pb_err(c, at, "invalid field number %llu", (unsigned long long)(k >> 3));
    *field = (uint32_t)(k >> 3);
    if (*wt != WT_VARINT && *wt != WT_I64 && *wt != WT_LEN && *wt != WT_I32)
        return pb_err(c, at, "field %u: unsupported wire type %d", *field, *wt);
    return 0;
}

/* A length-delimited field's payload as a sub-cursor. */
static int pb_sub(pb *c, pb *sub) {
    size_t at = c->pos;
    uint64_t len = 0;
    int rc = pb_varint(c, &len);
    if (rc) return rc;
    if (len > c->end - c->pos)
        return pb_err(c, at, "length %llu past the end (%zu bytes left)", (unsigned long long)len,
                      c->end - c->pos);
    *sub = *c;
    sub->end = c->pos + (size_t)len;
    c->pos += (size_t)len;
    return 0;
}

static int pb_fixed(pb *c, size_t n, uint64_t *v) {
    if (c->end - c->pos < n) return pb_err(c, c->pos, "truncated %zu-byte value", n);
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x |= (uint64_t)c->buf[c->pos + i] << (8 * i);
    c->pos += n;
    *v = x;
    return 0;
}

static int pb_skip(pb *c, int wt) {
    uint64_t v = 0;
    pb sub;
    switch (wt) {
    case WT_VARINT: return pb_varint(c, &v);
    case WT_I64: return pb_fixed(c, 8, &v);
    case WT_I32: return pb_fixed(c, 4, &v);
    default: return pb_sub(c, &sub);
    }
}

/* The bytes of a length-delimited payload ("" for an unset one). */
static const char *pb_ptr(const pb *s) { return s->buf ? (const char *)s->buf + s->pos : ""; }

/* Checks a field's wire type. */
static int pb_want(const pb *c, size_t at, uint32_t field, int wt, int want, const char *msg) {
    if (wt == want) return 0;
    return pb_err(c, at, "%s field %u: wire type %d, expected %d", msg, field, wt, want);
}

static int pb_int(pb *c, size_t at, uint32_t f, int wt, const char *msg, int64_t *out) {
    uint64_t v = 0;
    int rc = pb_want(c, at, f, wt, WT_VARINT, msg);
    if (!rc) rc = pb_varint(c, &v);
    if (!rc) *out = (int64_t)v;
    return rc;
}

static int pb_str(pb *c, size_t at, uint32_t f, int wt, const char *msg, pb *s) {
    int rc = pb_want(c, at, f, wt, WT_LEN, msg);
    return rc ? rc : pb_sub(c, s);
}

/* ------------------------------------------------------- growable arrays */

typedef struct vec {
    void *p;
    size_t n, cap, elem;
} vec;

static void *vec_push(vec *v) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        void *p = fa_realloc(v->p, cap * v->elem);
        if (!p) return NULL;
        v->p = p;
        v->cap = cap;
    }
    return (char *)v->p + v->elem * v->n++;
}

/* A repeated int64 (packed or not) or float (packed or not) field. */
static int read_ints(pb *c, size_t at, uint32_t f, int wt, const char *msg, vec *v) {
    int64_t x;
    if (wt == WT_VARINT) {
        int rc = pb_int(c, at, f, wt, msg, &x);
        int64_t *slot = rc ? NULL : vec_push(v);
        if (rc || !slot) return rc ? rc : FA_ENOMEM;
        *slot = x;
        return 0;
    }
    pb s;
    int rc = pb_str(c, at, f, wt, msg, &s);
    while (!rc && s.pos < s.end) {
        uint64_t u = 0;
        rc = pb_varint(&s, &u);
        int64_t *slot = rc ? NULL : vec_push(v);
        if (!rc && !slot) return FA_ENOMEM;
        if (!rc) *slot = (int64_t)u;
    }
    return rc;
}

static int read_floats(pb *c, size_t at, uint32_t f, int wt, const char *msg, vec *v) {
    uint64_t u = 0;
    pb s;
    if (wt == WT_I32) {
        s = *c;
        s.end = c->pos + 4 <= c->end ? c->pos + 4 : c->end;
    } else {
        int rc = pb_str(c, at, f, wt, msg, &s);
        if (rc) return rc;
        if ((s.end - s.pos) % 4)
            return pb_err(c, at, "%s field %u: %zu bytes, not a multiple of 4", msg, f, s.end - s.pos);
    }
    while (s.pos < s.end) {
        int rc = pb_fixed(&s, 4, &u);
        float *slot = rc ? NULL : vec_push(v);
        if (rc || !slot) return rc ? rc : FA_ENOMEM;
        uint32_t w = (uint32_t)u;
        memcpy(slot, &w, 4);
    }
    if (wt == WT_I32) c->pos = s.pos;
    return 0;
}

/* ----------------------------------------------------------------- tensors */

typedef struct raw_tensor {
    pb name;
    int64_t dtype;
    vec dims, floats, ints;
    pb raw;
    int has_raw;
    size_t at;
} raw_tensor;

static void raw_tensor_free(raw_tensor *t) {
    free(t->dims.p);
    free(t->floats.p);
    free(t->ints.p);
}

static int parse_tensor(pb c, raw_tensor *t) {
    memset(t, 0, sizeof *t);
    t->at = c.pos;
    t->dims.elem = t->ints.elem = 8;
    t->floats.elem = 4;
    int rc = 0;
    while (!rc && c.pos < c.end) {
        size_t at = c.pos;
        uint32_t f;
        int wt;
        if ((rc = pb_key(&c, &f, &wt))) break;
        switch (f) {
        case 1: rc = read_ints(&c, at, f, wt, "TensorProto", &t->dims); break;
        case 2: rc = pb_int(&c, at, f, wt, "TensorProto", &t->dtype); break;
        case 4: rc = read_floats(&c, at, f, wt, "TensorProto", &t->floats); break;
        case 5:
        case 7: rc = read_ints(&c, at, f, wt, "TensorProto", &t->ints); break;
        case 8: rc = pb_str(&c, at, f, wt, "TensorProto", &t->name); break;
        case 9:
            rc = pb_str(&c, at, f, wt, "TensorProto", &t->raw);
            t->has_raw = 1;
            break;
        case 13: rc = pb_err(&c, at, "TensorProto: external data is not supported"); break;
        default: rc = pb_skip(&c, wt);
        }
    }
    return rc;
}

/* Converts a parsed TensorProto into graph tensor id (dtype, shape, data). */
static int tensor_commit(fa_nn_graph *g, const pb *c, raw_tensor *t, int id) {
    fa_nn_tensor *dst = &g->tensors[id];
    size_t nd = t->dims.n;
    const int64_t *dims = t->dims.p;
    if (nd > FA_NN_MAX_RANK)
        return pb_err(c, t->at, "tensor '%s': rank %zu, at most %d supported", dst->name, nd, FA_NN_MAX_RANK);
    int64_t count = 1;
    for (size_t i = 0; i < nd; i++) {
        if (dims[i] < 0 || dims[i] > MAX_ELEMS || (count *= dims[i]) > MAX_ELEMS)
            return pb_err(c, t->at, "tensor '%s': absurd dims (dim %zu = %lld)", dst->name, i,
                          (long long)dims[i]);
    }
    if (t->dtype != 1 && t->dtype != 6 && t->dtype != 7)
        return pb_err(c, t->at, "tensor '%s': data_type %lld not supported (FLOAT, INT32, INT64)", dst->name,
                      (long long)t->dtype);
    size_t esize = t->dtype == 6 ? 4 : t->dtype == 1 ? 4 : 8;
    size_t have = t->has_raw ? (t->raw.end - t->raw.pos) / esize : (t->dtype == 1 ? t->floats.n : t->ints.n);
    if ((t->has_raw && (t->raw.end - t->raw.pos) % esize) || have != (size_t)count)
        return pb_err(c, t->at, "tensor '%s': %zu values of data, dims say %lld", dst->name,
                      t->has_raw ? (t->raw.end - t->raw.pos) / esize : have, (long long)count);
    dst->dtype = t->dtype == 1 ? FA_NN_FLOAT : FA_NN_INT64;
    dst->rank = (int)nd;
    for (size_t i = 0; i < nd; i++)
        dst->shape[i] = dims[i];
    void *data = fa_malloc(count ? (size_t)count * fa_nn_dtype_size(dst->dtype) : 1);
    if (!data) return FA_ENOMEM;
    for (int64_t i = 0; i < count; i++) {
        if (dst->dtype == FA_NN_FLOAT) {
            if (t->has_raw)
                memcpy((float *)data + i, t->raw.buf + t->raw.pos + 4 * i, 4);
            else
                ((float *)data)[i] = ((const float *)t->floats.p)[i];
        } else if (t->has_raw && esize == 4) {
            int32_t x;
            memcpy(&x, t->raw.buf + t->raw.pos + 4 * i, 4);
            ((int64_t *)data)[i] = x;
        } else if (t->has_raw) {
            memcpy((int64_t *)data + i, t->raw.buf + t->raw.pos + 8 * i, 8);
        } else {
            int64_t x = ((const int64_t *)t->ints.p)[i];
            ((int64_t *)data)[i] = esize == 4 ? (int32_t)x : x;
        }
    }
    free(dst->data);
    dst->data = data;
    return 0;
}

static int tensor_from_proto(fa_nn_graph *g, const pb *c, pb body, const pb *name_override) {
    raw_tensor t;
    int rc = parse_tensor(body, &t);
    const pb *nm = name_override ? name_override : &t.name;
    if (!rc && nm->end == nm->pos) rc = pb_err(c, t.at, "tensor without a name");
    int id = rc ? rc : fa_nn_graph_tensor_id(g, (const char *)nm->buf + nm->pos, nm->end - nm->pos, 1);
    if (!rc && id < 0) rc = id;
    if (!rc && g->tensors[id].data) rc = pb_err(c, t.at, "tensor '%s' defined twice", g->tensors[id].name);
    if (!rc) rc = tensor_commit(g, c, &t, id);
    raw_tensor_free(&t);
    return rc;
}

/* -------------------------------------------------------------- attributes */

typedef struct raw_attr {
    char name[48];
    int64_t type, i;
    float f;
    pb s, t;
    int has_t;
    vec ints, floats;
    size_t at;
} raw_attr;

static int parse_attr(pb c, raw_attr *a) {
    memset(a, 0, sizeof *a);
    a->at = c.pos;
    a->ints.elem = 8;
    a->floats.elem = 4;
    int rc = 0;
    while (!rc && c.pos < c.end) {
        size_t at = c.pos;
        uint32_t f;
        int wt;
        pb s;
        uint64_t u = 0;
        if ((rc = pb_key(&c, &f, &wt))) break;
        switch (f) {
        case 1:
            if ((rc = pb_str(&c, at, f, wt, "AttributeProto", &s))) break;
            if (s.end - s.pos >= sizeof a->name) return pb_err(&c, at, "attribute name too long");
            memcpy(a->name, s.buf + s.pos, s.end - s.pos);
            break;
        case 2:
            if (!(rc = pb_want(&c, at, f, wt, WT_I32, "AttributeProto")) && !(rc = pb_fixed(&c, 4, &u))) {
                uint32_t w = (uint32_t)u;
                memcpy(&a->f, &w, 4);
            }
            break;
        case 3: rc = pb_int(&c, at, f, wt, "AttributeProto", &a->i); break;
        case 4: rc = pb_str(&c, at, f, wt, "AttributeProto", &a->s); break;
        case 5:
            rc = pb_str(&c, at, f, wt, "AttributeProto", &a->t);
            a->has_t = 1;
            break;
        case 7: rc = read_floats(&c, at, f, wt, "AttributeProto", &a->floats); break;
        case 8: rc = read_ints(&c, at, f, wt, "AttributeProto", &a->ints); break;
        case 20: rc = pb_int(&c, at, f, wt, "AttributeProto", &a->type); break;
        default: rc = pb_skip(&c, wt);
        }
    }
    return rc;
}

static int attr_is(const raw_attr *a, const char *name) { return strcmp(a->name, name) == 0; }

static int attr_streq(const raw_attr *a, const char *s) {
    size_t n = strlen(s);
    return a->s.end - a->s.pos == n && memcmp(pb_ptr(&a->s), s, n) == 0;
}

/* Copies an INTS attribute of the expected length into out. */
static int attr_ints(const pb *c, const fa_nn_node *nd, const raw_attr *a, size_t want, int *out) {
    if (a->ints.n != want)
        return pb_err(c, a->at, "node '%s': attribute '%s' has %zu values, expected %zu", nd->name, a->name,
                      a->ints.n, want);
    for (size_t i = 0; i < want; i++) {
        int64_t v = ((const int64_t *)a->ints.p)[i];
        if (v < -(1 << 20) || v > (1 << 20))
            return pb_err(c, a->at, "node '%s': attribute '%s' value %lld out of range", nd->name, a->name,
                          (long long)v);
        out[i] = (int)v;
    }
    return 0;
}

static int attr_enum(const pb *c, const fa_nn_node *nd, const raw_attr *a, const char *const *names, int n,
                     int *out) {
    for (int i = 0; i < n; i++)
        if (attr_streq(a, names[i])) {
            *out = i;
            return 0;
        }
    return pb_err(c, a->at, "node '%s': %s '%.*s' not supported", nd->name, a->name,
                  (int)(a->s.end - a->s.pos), pb_ptr(&a->s));
}

/* Applies one attribute to a node's typed attributes; unknown ones that
 * change the result are errors, harmless ones are ignored. */
static int apply_attr(const pb *c, fa_nn_node *nd, const raw_attr *a) {
    static const char *const modes[] = {"nearest", "linear"};
    static const char *const coords[] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    fa_nn_attrs *t = &nd->a;
    int pads[4] = {0}, rc = 0;
    if (attr_is(a, "kernel_shape")) return attr_ints(c, nd, a, 2, t->kernel);
    if (attr_is(a, "strides")) return attr_ints(c, nd, a, 2, t->strides);
    if (attr_is(a, "dilations")) return attr_ints(c, nd, a, 2, t->dilations);
    if (attr_is(a, "pads") && nd->op != FA_NN_OP_PAD) {
        if ((rc = attr_ints(c, nd, a, 4, pads))) return rc;
        t->pads[0] = pads[0], t->pads[1] = pads[1], t->pads[2] = pads[2], t->pads[3] = pads[3];
        return 0;
    }
    if (attr_is(a, "group")) return t->group = (int)a->i, 0;
    if (attr_is(a, "ceil_mode")) return t->ceil_mode = (int)a->i, 0;
    if (attr_is(a, "count_include_pad")) return t->count_include_pad = (int)a->i, 0;
    if (attr_is(a, "axis")) return t->axis = (int)a->i, 0;
    if (attr_is(a, "alpha")) return t->alpha = a->f, 0;
    if (attr_is(a, "epsilon")) return t->epsilon = a->f, 0;
    if (attr_is(a, "perm")) {
        if (a->ints.n > FA_NN_MAX_RANK) return pb_err(c, a->at, "node '%s': perm too long", nd->name);
        t->n_perm = (int)a->ints.n;
        return attr_ints(c, nd, a, a->ints.n, t->perm);
    }
    if (attr_is(a, "split")) {
        if (a->ints.n > FA_NN_MAX_IO) return pb_err(c, a->at, "node '%s': split too long", nd->name);
        t->n_split = (int)a->ints.n;
        if (a->ints.n) memcpy(t->split, a->ints.p, a->ints.n * 8);
        return 0;
    }
    if (attr_is(a, "mode") && nd->op == FA_NN_OP_RESIZE)
        return attr_enum(c, nd, a, modes, 2, (int *)&t->resize_mode);
    if (attr_is(a, "mode") && nd->op == FA_NN_OP_PAD) {
        static const char *const pm[] = {"constant"};
        int v;
        return attr_enum(c, nd, a, pm, 1, &v);
    }
    if (attr_is(a, "coordinate_transformation_mode"))
        return attr_enum(c, nd, a, coords, 4, (int *)&t->coord_mode);
    if (attr_is(a, "nearest_mode")) return attr_enum(c, nd, a, nearest, 4, (int *)&t->nearest_mode);
    if (attr_is(a, "auto_pad") && !attr_streq(a, "NOTSET"))
        return pb_err(c, a->at, "node '%s': auto_pad other than NOTSET not supported", nd->name);
    if (attr_is(a, "storage_order") && a->i)
        return pb_err(c, a->at, "node '%s': storage_order 1 not supported", nd->name);
    if (attr_is(a, "exclude_outside") && a->i)
        return pb_err(c, a->at, "node '%s': exclude_outside not supported", nd->name);
    return 0;
}

/* ------------------------------------------------------------------- nodes */

static const struct {
    const char *name;
    fa_nn_op op;
} op_table[] = {
    {"Conv", FA_NN_OP_CONV},
    {"BatchNormalization", FA_NN_OP_BATCHNORM},
    {"Relu", FA_NN_OP_RELU},
    {"LeakyRelu", FA_NN_OP_LEAKY_RELU},
    {"Sigmoid", FA_NN_OP_SIGMOID},
    {"MaxPool", FA_NN_OP_MAXPOOL},
    {"AveragePool", FA_NN_OP_AVGPOOL},
    {"Resize", FA_NN_OP_RESIZE},
    {"Concat", FA_NN_OP_CONCAT},
    {"Softmax", FA_NN_OP_SOFTMAX},
    {"Transpose", FA_NN_OP_TRANSPOSE},
    {"Reshape", FA_NN_OP_RESHAPE},
    {"Pad", FA_NN_OP_PAD},
    {"Gather", FA_NN_OP_GATHER},
    {"Add", FA_NN_OP_ADD},
    {"Split", FA_NN_OP_SPLIT},
};

const char *fa_nn_op_name(fa_nn_op op) {
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        if (op_table[i].op == op) return op_table[i].name;
    return "?";
}

typedef struct raw_node {
    pb in[FA_NN_MAX_IO], out[FA_NN_MAX_IO];
    int n_in, n_out;
    pb name, op_type, domain;
    vec attrs; /* of pb: the attribute bodies, parsed once the op is known */
    size_t at;
} raw_node;

static int parse_node(pb c, raw_node *n) {
    memset(n, 0, sizeof *n);
    n->at = c.pos;
    n->attrs.elem = sizeof(pb);
    int rc = 0;
    while (!rc && c.pos < c.end) {
        size_t at = c.pos;
        uint32_t f;
        int wt;
        pb s, *slot;
        if ((rc = pb_key(&c, &f, &wt))) break;
        switch (f) {
        case 1:
        case 2:
            if ((rc = pb_str(&c, at, f, wt, "NodeProto", &s))) break;
            if ((f == 1 ? n->n_in : n->n_out) >= FA_NN_MAX_IO)
                return pb_err(&c, at, "node: more than %d %s", FA_NN_MAX_IO, f == 1 ? "inputs" : "outputs");
            if (f == 1)
                n->in[n->n_in++] = s;
            else
                n->out[n->n_out++] = s;
            break;
        case 3: rc = pb_str(&c, at, f, wt, "NodeProto", &n->name); break;
        case 4: rc = pb_str(&c, at, f, wt, "NodeProto", &n->op_type); break;
        case 7: rc = pb_str(&c, at, f, wt, "NodeProto", &n->domain); break;
        case 5:
            if ((rc = pb_str(&c, at, f, wt, "NodeProto", &s))) break;
            if (!(slot = vec_push(&n->attrs))) return FA_ENOMEM;
            *slot = s;
            break;
        default: rc = pb_skip(&c, wt);
        }
    }
    return rc;
}

static int pb_eq(const pb *s, const char *lit) {
    size_t n = strlen(lit);
    return s->end - s->pos == n && memcmp(pb_ptr(s), lit, n) == 0;
}

/* A Constant node: its value tensor becomes a constant named by its output. */
static int add_constant(fa_nn_graph *g, const pb *c, raw_node *rn) {
    if (rn->n_out != 1) return pb_err(c, rn->at, "Constant node with %d outputs", rn->n_out);
    for (size_t i = 0; i < rn->attrs.n; i++) {
        raw_attr a;
        int rc = parse_attr(((pb *)rn->attrs.p)[i], &a);
        if (!rc && a.has_t && attr_is(&a, "value"))
            rc = tensor_from_proto(g, c, a.t, &rn->out[0]);
        else if (!rc)
            rc = pb_err(c, a.at, "Constant node: attribute '%s' not supported (only 'value')", a.name);
        free(a.ints.p);
        free(a.floats.p);
        if (rc || (a.has_t && attr_is(&a, "value"))) return rc;
    }
    return pb_err(c, rn->at, "Constant node without a value");
}

static int node_ids(fa_nn_graph *g, const raw_node *rn, fa_nn_node *nd) {
    nd->n_in = rn->n_in;
    nd->n_out = rn->n_out;
    for (int i = 0; i < rn->n_in + rn->n_out; i++) {
        const pb *s = i < rn->n_in ? &rn->in[i] : &rn->out[i - rn->n_in];
        int id = s->end == s->pos
                     ? -1
                     : fa_nn_graph_tensor_id(g, (const char *)s->buf + s->pos, s->end - s->pos, 1);
        if (id < -1 || (id == -1 && i >= rn->n_in))
            return id < -1 ? id
                           : fa_err_set(FA_EINVAL, "%s: node '%s': empty output name", g->file, nd->name);
        if (i < rn->n_in)
            nd->in[i] = id;
        else
            nd->out[i - rn->n_in] = id;
    }
    return 0;
}

static int add_node(fa_nn_graph *g, const pb *c, pb body, size_t index) {
    raw_node rn;
    int rc = parse_node(body, &rn);
    if (rc) goto out;
    if (pb_eq(&rn.op_type, "Constant") && (rn.domain.end == rn.domain.pos || pb_eq(&rn.domain, "ai.onnx"))) {
        rc = add_constant(g, c, &rn);
        goto out;
    }
    char name[128], op[64];
    if (rn.name.end > rn.name.pos)
        snprintf(name, sizeof name, "%.*s", (int)(rn.name.end - rn.name.pos), pb_ptr(&rn.name));
    else
        snprintf(name, sizeof name, "#%zu", index);
    snprintf(op, sizeof op, "%.*s", (int)(rn.op_type.end - rn.op_type.pos), pb_ptr(&rn.op_type));
    int found = -1;
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        if (strcmp(op, op_table[i].name) == 0) found = (int)i;
    if (found < 0 || (rn.domain.end > rn.domain.pos && !pb_eq(&rn.domain, "ai.onnx"))) {
        rc = fa_err_set(FA_EINVAL, "%s: node '%s': unsupported op '%s'", g->file, name, op);
        goto out;
    }
    fa_nn_node *nd = fa_nn_graph_add_node(g, op_table[found].op);
    if (!nd || !(nd->name = fa_strdup(name))) {
        rc = FA_ENOMEM;
        goto out;
    }
    if ((rc = node_ids(g, &rn, nd))) goto out;
    for (size_t i = 0; !rc && i < rn.attrs.n; i++) {
        raw_attr a;
        rc = parse_attr(((pb *)rn.attrs.p)[i], &a);
        if (!rc) rc = apply_attr(c, nd, &a);
        free(a.ints.p);
        free(a.floats.p);
    }
out:
    free(rn.attrs.p);
    return rc;
}

/* -------------------------------------------------------- value infos */

/* The payload of the last length-delimited field number want of message m
 * (empty when absent). */
static int pb_find(pb m, uint32_t want, const char *what, pb *out) {
    int rc = 0;
    *out = (pb){m.buf, m.end, m.end, m.file};
    while (!rc && m.pos < m.end) {
        size_t at = m.pos;
        uint32_t f;
        int wt;
        if ((rc = pb_key(&m, &f, &wt))) break;
        rc = f == want ? pb_str(&m, at, f, wt, what, out) : pb_skip(&m, wt);
    }
    return rc;
}

/* TypeProto.Tensor's elem_type must be FLOAT (1) when given. */
static int check_elem_type(const pb *c, const fa_nn_tensor *t, pb tt) {
    int rc = 0;
    while (!rc && tt.pos < tt.end) {
        size_t at = tt.pos;
        uint32_t f;
        int wt;
        int64_t et = 1;
        if ((rc = pb_key(&tt, &f, &wt))) break;
        rc = f == 1 ? pb_int(&tt, at, f, wt, "TypeProto.Tensor", &et) : pb_skip(&tt, wt);
        if (!rc && et != 1)
            return pb_err(c, at, "input '%s': element type %lld, only FLOAT inputs supported", t->name,
                          (long long)et);
    }
    return rc;
}

/* TensorShapeProto's dims into t (a dim_param, symbolic, counts as 1). */
static int read_dims(const pb *c, fa_nn_tensor *t, pb shape) {
    int rc = 0;
    int64_t count = 1;
    t->rank = 0;
    while (!rc && shape.pos < shape.end) {
        size_t at = shape.pos;
        uint32_t f;
        int wt;
        pb dim, s;
        int64_t v = 1;
        if ((rc = pb_key(&shape, &f, &wt))) break;
        if (f != 1) {
            rc = pb_skip(&shape, wt);
            continue;
        }
        if ((rc = pb_str(&shape, at, f, wt, "TensorShapeProto", &dim))) break;
        if (t->rank >= FA_NN_MAX_RANK)
            return pb_err(c, at, "input '%s': rank above %d", t->name, FA_NN_MAX_RANK);
        for (s = dim; !rc && s.pos < s.end;) {
            size_t dat = s.pos;
            if ((rc = pb_key(&s, &f, &wt))) break;
            rc = f == 1 ? pb_int(&s, dat, f, wt, "Dimension", &v) : pb_skip(&s, wt);
        }
        if (!rc && (v <= 0 || v > (1 << 20)))
            return pb_err(c, at, "input '%s': absurd dim %lld", t->name, (long long)v);
        if (!rc && (count *= v) > ((int64_t)1 << 28))
            return pb_err(c, at, "input '%s': more than 2^28 elements", t->name);
        t->shape[t->rank++] = v;
    }
    return rc;
}

/* A graph input or output (ValueInfoProto{1: name, 2: type}); an input's
 * shape is read from type.tensor_type.shape. */
static int parse_value_info(fa_nn_graph *g, const pb *c, pb body, int is_input) {
    pb name, type, tt, shape;
    int rc = pb_find(body, 1, "ValueInfoProto", &name);
    if (!rc) rc = pb_find(body, 2, "ValueInfoProto", &type);
    if (rc) return rc;
    if (name.end == name.pos) return pb_err(c, body.end, "ValueInfoProto without a name");
    int id = fa_nn_graph_tensor_id(g, pb_ptr(&name), name.end - name.pos, 1);
    if (id < 0) return id;
    int *list = is_input ? g->inputs : g->outputs, *n = is_input ? &g->n_inputs : &g->n_outputs;
    if (is_input && g->tensors[id].data) return 0; /* an initializer listed as input (IR < 4) */
    if (*n >= FA_NN_MAX_IO)
        return pb_err(c, body.end, "more than %d graph %s", FA_NN_MAX_IO, is_input ? "inputs" : "outputs");
    list[(*n)++] = id;
    if (!is_input) return 0;
    /* TypeProto{1: tensor_type{1: elem_type, 2: shape{1: dim{1: dim_value, 2: dim_param}}}} */
    rc = pb_find(type, 1, "TypeProto", &tt);
    if (!rc) rc = check_elem_type(c, &g->tensors[id], tt);
    if (!rc) rc = pb_find(tt, 2, "TypeProto.Tensor", &shape);
    return rc ? rc : read_dims(c, &g->tensors[id], shape);
}

/* ------------------------------------------------------------ model, graph */

static int parse_graph(fa_nn_graph *g, pb c) {
    int rc = 0;
    size_t n_nodes = 0;
    pb body;
    /* Initializers first so graph inputs that repeat them are recognised;
     * nodes are read in a second pass in file order. */
    for (pb s = c; !rc && s.pos < s.end;) {
        size_t at = s.pos;
        uint32_t f;
        int wt;
        if ((rc = pb_key(&s, &f, &wt))) break;
        if (f == 5 && !(rc = pb_str(&s, at, f, wt, "GraphProto", &body)))
            rc = tensor_from_proto(g, &s, body, NULL);
        else if (f != 5)
            rc = pb_skip(&s, wt);
    }
    for (pb s = c; !rc && s.pos < s.end;) {
        size_t at = s.pos;
        uint32_t f;
        int wt;
        if ((rc = pb_key(&s, &f, &wt))) break;
        if (f == 1 || f == 11 || f == 12) {
            if ((rc = pb_str(&s, at, f, wt, "GraphProto", &body))) break;
            rc = f == 1 ? add_node(g, &s, body, n_nodes++) : parse_value_info(g, &s, body, f == 11);
        } else {
            rc = pb_skip(&s, wt);
        }
    }
    return rc;
}

static int parse_opset(pb c, int64_t *version, int *is_default) {
    int rc = 0;
    pb domain = {0};
    while (!rc && c.pos < c.end) {
        size_t at = c.pos;
        uint32_t f;
        int wt;
        if ((rc = pb_key(&c, &f, &wt))) break;
        if (f == 1)
            rc = pb_str(&c, at, f, wt, "OperatorSetIdProto", &domain);
        else if (f == 2)
            rc = pb_int(&c, at, f, wt, "OperatorSetIdProto", version);
        else
            rc = pb_skip(&c, wt);
    }
    *is_default = domain.end == domain.pos || pb_eq(&domain, "ai.onnx");
    return rc;
}

static int parse_model(fa_nn_graph *g, pb c) {
    int rc = 0, has_graph = 0;
    pb graph = {0};
    while (!rc && c.pos < c.end) {
        size_t at = c.pos;
        uint32_t f;
        int wt;
        pb body;
        if ((rc = pb_key(&c, &f, &wt))) break;
        if (f == 7) {
            rc = pb_str(&c, at, f, wt, "ModelProto", &graph);
            has_graph = 1;
        } else if (f == 8 && !(rc = pb_str(&c, at, f, wt, "ModelProto", &body))) {
            int64_t v = 0;
            int def;
            if (!(rc = parse_opset(body, &v, &def)) && def) g->opset = (int)(v > 1000 ? 1000 : v);
        } else if (f != 8) {
            rc = pb_skip(&c, wt);
        }
    }
    if (rc) return rc;
    if (!has_graph) return pb_err(&c, c.end, "no graph in the model");
    if (g->opset < 11) return pb_err(&c, 0, "opset %d, at least 11 supported", g->opset);
    if ((rc = parse_graph(g, graph))) return rc;
    if (g->n_inputs < 1 || g->n_outputs < 1)
        return fa_err_set(FA_EINVAL, "%s: graph has %d inputs and %d outputs, needs at least one of each",
                          g->file, g->n_inputs, g->n_outputs);
    return 0;
}

fa_nn_graph *fa_nn_onnx_load_mem(const char *name, const void *data, size_t len) {
    fa_nn_graph *g = fa_nn_graph_new(name);
    if (!g) return NULL;
    pb c = {.buf = data, .pos = 0, .end = len, .file = g->file};
    int rc = parse_model(g, c);
    if (!rc) {
        fa_nn_shape *shapes = fa_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *shapes);
        rc = shapes ? fa_nn_graph_infer(g, shapes, 0) : FA_ENOMEM;
        free(shapes);
    }
    if (rc) {
        fa_nn_graph_free(g);
        return NULL;
    }
    return g;
}

fa_nn_graph *fa_nn_onnx_load(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        fa_err_set(e == ENOENT ? FA_ENOTFOUND : FA_EIO, "%s: cannot open: %s", path, strerror(e));
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fd);
        fa_err_set(FA_EINVAL, "%s: byte 0: not a regular non-empty file", path);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        fa_err_set(FA_EIO, "%s: cannot map: %s", path, strerror(errno));
        return NULL;
    }
    fa_nn_graph *g = fa_nn_onnx_load_mem(path, map, (size_t)st.st_size);
    munmap(map, (size_t)st.st_size);
    return g;
}
