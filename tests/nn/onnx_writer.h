/*
 * onnx_writer.h - a tiny protobuf writer for the nn tests and the fuzz
 * seeds: builds small synthetic ONNX models byte by byte (field numbers of
 * onnx.proto), so malformed variants can be made by changing one field.
 * Header-only, static functions: each test program includes it once.
 */
#ifndef FA_TEST_ONNX_WRITER_H
#define FA_TEST_ONNX_WRITER_H

#include <stdint.h>
#include <string.h>

typedef struct pbw {
    uint8_t b[4096];
    size_t n;
} pbw;

static inline void pbw_varint(pbw *w, uint64_t v) {
    while (v >= 0x80 && w->n < sizeof w->b)
        w->b[w->n++] = (uint8_t)(v | 0x80), v >>= 7;
    if (w->n < sizeof w->b) w->b[w->n++] = (uint8_t)v;
}
static inline void pbw_key(pbw *w, unsigned field, unsigned wt) { pbw_varint(w, (uint64_t)field << 3 | wt); }
static inline void pbw_int(pbw *w, unsigned field, int64_t v) {
    pbw_key(w, field, 0);
    pbw_varint(w, (uint64_t)v);
}
static inline void pbw_bytes(pbw *w, unsigned field, const void *p, size_t len) {
    pbw_key(w, field, 2);
    pbw_varint(w, len);
    if (w->n + len <= sizeof w->b) memcpy(w->b + w->n, p, len), w->n += len;
}
static inline void pbw_str(pbw *w, unsigned field, const char *s) { pbw_bytes(w, field, s, strlen(s)); }
static inline void pbw_msg(pbw *w, unsigned field, const pbw *m) { pbw_bytes(w, field, m->b, m->n); }
static inline void pbw_float(pbw *w, unsigned field, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    pbw_key(w, field, 5);
    for (int i = 0; i < 4; i++)
        w->b[w->n++] = (uint8_t)(u >> (8 * i));
}

/* A float TensorProto with raw_data (n_data floats, which may differ from dims on purpose). */
static inline pbw pbw_tensor(const char *name, const int64_t *dims, int rank, const float *data,
                             size_t n_data) {
    pbw t = {0};
    for (int i = 0; i < rank; i++)
        pbw_int(&t, 1, dims[i]);
    pbw_int(&t, 2, 1);
    pbw_str(&t, 8, name);
    pbw_bytes(&t, 9, data, n_data * sizeof(float));
    return t;
}
/* An int64 TensorProto with int64_data (packed). */
static inline pbw pbw_tensor_i64(const char *name, const int64_t *vals, int n) {
    pbw t = {0}, packed = {0};
    pbw_int(&t, 1, n);
    pbw_int(&t, 2, 7);
    for (int i = 0; i < n; i++)
        pbw_varint(&packed, (uint64_t)vals[i]);
    pbw_msg(&t, 7, &packed);
    pbw_str(&t, 8, name);
    return t;
}
static inline pbw pbw_attr_ints(const char *name, const int64_t *v, int n) {
    pbw a = {0};
    pbw_str(&a, 1, name);
    pbw_int(&a, 20, 7);
    for (int i = 0; i < n; i++)
        pbw_int(&a, 8, v[i]);
    return a;
}
static inline pbw pbw_attr_int(const char *name, int64_t v) {
    pbw a = {0};
    pbw_str(&a, 1, name);
    pbw_int(&a, 20, 2);
    pbw_int(&a, 3, v);
    return a;
}
static inline pbw pbw_attr_float(const char *name, float v) {
    pbw a = {0};
    pbw_str(&a, 1, name);
    pbw_int(&a, 20, 1);
    pbw_float(&a, 2, v);
    return a;
}
static inline pbw pbw_attr_str(const char *name, const char *v) {
    pbw a = {0};
    pbw_str(&a, 1, name);
    pbw_int(&a, 20, 3);
    pbw_str(&a, 4, v);
    return a;
}
/* A NodeProto: inputs/outputs NULL-terminated, attrs (n_attrs of them). */
static inline pbw pbw_node(const char *name, const char *op, const char *const *ins, const char *const *outs,
                           const pbw *attrs, int n_attrs) {
    pbw nd = {0};
    for (int i = 0; ins[i]; i++)
        pbw_str(&nd, 1, ins[i]);
    for (int i = 0; outs[i]; i++)
        pbw_str(&nd, 2, outs[i]);
    pbw_str(&nd, 3, name);
    pbw_str(&nd, 4, op);
    for (int i = 0; i < n_attrs; i++)
        pbw_msg(&nd, 5, &attrs[i]);
    return nd;
}
/* A ValueInfoProto of a float tensor of the given shape (rank 0: no shape). */
static inline pbw pbw_value(const char *name, const int64_t *dims, int rank) {
    pbw shape = {0}, tt = {0}, type = {0}, v = {0};
    for (int i = 0; i < rank; i++) {
        pbw dim = {0};
        pbw_int(&dim, 1, dims[i]);
        pbw_msg(&shape, 1, &dim);
    }
    pbw_int(&tt, 1, 1);
    if (rank) pbw_msg(&tt, 2, &shape);
    pbw_msg(&type, 1, &tt);
    pbw_str(&v, 1, name);
    pbw_msg(&v, 2, &type);
    return v;
}
/* A ModelProto around a graph body, with an opset import. */
static inline pbw pbw_model(const pbw *graph, int64_t opset) {
    pbw m = {0}, op = {0};
    pbw_int(&m, 1, 7);
    pbw_str(&op, 1, "");
    pbw_int(&op, 2, opset);
    pbw_msg(&m, 8, &op);
    pbw_msg(&m, 7, graph);
    return m;
}

#endif
