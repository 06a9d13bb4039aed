/*
 * bench_nn.c - whole detectors, ms per image, our engine (src/nn) side by
 * side with ONNX Runtime in the same process and the same run (issue 5,
 * "Benchmark bench/nn"): FastestDet 352, NanoDet-m 416 and
 * yolo-fastest-1.1 320 at 1 and 2 threads; ours on the native and oneDNN
 * backends in FP32, INT8 and FP16 where the runtime has them (a precision
 * it refuses at load is printed "n/a" with its reason). INT8 models are
 * calibrated here first (fa_nn_calibrate with the runtime's defaults,
 * saved to a temporary .fanq). ORT runs FP32 only: INT8 in ORT needs a
 * quantised ONNX file, which we do not have.
 *
 * ONNX Runtime is loaded with dlopen at run time (bench/ort.sh installs it
 * from npm into build-bench-deps/), so nothing in the build depends on it;
 * without it the ORT column says how to get it. Its C header is not in the
 * npm package, so the few parts of the C API we call are declared below:
 * OrtGetApiBase()->GetApi(v) returns a table of function pointers that
 * only ever grows at its end, and every entry we call is in version 1's
 * part of it, so a table index is all we need per function.
 * ORT settings: graph optimisation ORT_ENABLE_ALL, sequential execution,
 * intra-op threads = the column's threads, inter-op 1; everything else is
 * its default (its thread pool spins briefly after each run, as it does
 * in every application that does not change that).
 *
 * Method: inputs are the real golden inputs (golden/<model>_soccertrack_left
 * .input.f32) where they exist, else a fixed pseudo-random tensor; every
 * engine of a (model, threads) cell is warmed up, then the engines run in
 * turn, one image each per round, for N rounds (-n, default: enough
 * rounds for about -s seconds per cell), so they share the machine's noise;
 * median and p90 of the N wall times, and the median CPU time (the
 * calling thread's at 1 thread, which other processes taking the cores
 * do not inflate; the process's at 2 threads). Our output is compared
 * with ORT's (max abs difference over every output) on the same input.
 * yolo-fastest exists only as Darknet files: ORT runs our Darknet
 * loader's graph written out as ONNX (below).
 *
 * OMP_WAIT_POLICY=passive: oneDNN runs on libgomp, whose idle threads
 * spin by default; on this shared 2-core machine a spinning OpenMP thread
 * takes the core ORT's (or the other 2-thread engine's) next run needs,
 * so without it a 2-thread figure measures the spin, not the engine.
 * libgomp reads the variable in its constructor, before main, so when it
 * is not set the program sets it and re-executes itself.
 *
 * --prune: channel pruning (src/nn/prune.h) of FastestDet and NanoDet-m at
 * 0.25 and 0.5: MACs, ms and output drift against the unpruned model on
 * both golden inputs (max abs, cosine).
 *
 * Usage: bench_nn [-n ROUNDS] [-s SECONDS_PER_CELL] [-m MODEL_SUBSTRING] [-t THREADS]
 *                 [--prune [-r RATIOS]]   (RATIOS: comma-separated, default 0.25,0.5)
 * Environment: FA_DATA_DIR (default /work/shared/data), FA_ORT_LIB (the
 * libonnxruntime.so.1 to load; default build-bench-deps/ under the source).
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "nn/prune.h"

/* ------------------------------------------------------------ small helpers */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of the calling thread (1-thread runs) or of the whole
 * process (threads > 1): unlike wall time, not inflated by the other
 * processes of a shared machine taking the cores. */
static double cpu_now(int threads) {
    struct timespec ts;
    clock_gettime(threads > 1 ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v[n] (sorts v). */
static double quantile(double *v, int n, double q) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)ceil(q * n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static const char *data_dir(void) {
    const char *d = getenv("FA_DATA_DIR");
    return d && *d ? d : "/work/shared/data";
}

/* The repository root, from this file's path (bench/bench_nn.c). */
static void source_root(char *buf, size_t size) {
    snprintf(buf, size, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    if (slash) *slash = '\0';
    slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(buf, size, ".");
}

/* Reads exactly n floats from path; NULL when absent or of another size. */
static float *read_floats(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    float *v = f ? malloc(n * sizeof *v) : NULL;
    int ok = v && fread(v, sizeof *v, n, f) == n && fgetc(f) == EOF;
    if (f) fclose(f);
    if (!ok) free(v);
    return ok ? v : NULL;
}

/* A fixed pseudo-random tensor in [0, 1) (xorshift, same every run). */
static float *pseudo_random(size_t n) {
    float *v = malloc(n * sizeof *v);
    uint32_t x = 2463534242u;
    for (size_t i = 0; v && i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        v[i] = (float)(x >> 8) / 16777216.0f;
    }
    return v;
}

/* ------------------------------------------------------- ONNX Runtime, C API */

typedef struct OrtOpaque OrtOpaque; /* every Ort* object is opaque to us */
typedef void (*ort_fn)(void);
typedef struct ort_api_base {
    const ort_fn *(*get_api)(uint32_t version);
    const char *(*get_version_string)(void);
} ort_api_base;

#define BENCH_ORT_API_VERSION 1 /* every entry below is in version 1's table */
enum ort_index {                /* positions in OrtApi (onnxruntime_c_api.h, version 1 part) */
                 ORT_GET_ERROR_MESSAGE = 2,
                 ORT_CREATE_ENV = 3,
                 ORT_CREATE_SESSION = 7,
                 ORT_CREATE_SESSION_FROM_ARRAY = 8,
                 ORT_RUN = 9,
                 ORT_CREATE_SESSION_OPTIONS = 10,
                 ORT_SET_EXECUTION_MODE = 13,
                 ORT_SET_GRAPH_OPT_LEVEL = 23,
                 ORT_SET_INTRA_OP_THREADS = 24,
                 ORT_SET_INTER_OP_THREADS = 25,
                 ORT_SESSION_GET_INPUT_COUNT = 30,
                 ORT_SESSION_GET_OUTPUT_COUNT = 31,
                 ORT_SESSION_GET_INPUT_NAME = 36,
                 ORT_SESSION_GET_OUTPUT_NAME = 37,
                 ORT_CREATE_TENSOR_WITH_DATA = 49,
                 ORT_GET_TENSOR_MUTABLE_DATA = 51,
                 ORT_GET_TENSOR_SHAPE_ELEMENT_COUNT = 64,
                 ORT_GET_TENSOR_TYPE_AND_SHAPE = 65,
                 ORT_CREATE_CPU_MEMORY_INFO = 69,
                 ORT_ALLOCATOR_FREE = 76,
                 ORT_GET_DEFAULT_ALLOCATOR = 78,
                 ORT_RELEASE_ENV = 92,
                 ORT_RELEASE_STATUS = 93,
                 ORT_RELEASE_MEMORY_INFO = 94,
                 ORT_RELEASE_SESSION = 95,
                 ORT_RELEASE_VALUE = 96,
                 ORT_RELEASE_TENSOR_TYPE_AND_SHAPE_INFO = 99,
                 ORT_RELEASE_SESSION_OPTIONS = 100
};
enum {
    ORT_LOGGING_LEVEL_ERROR = 3,
    ORT_SEQUENTIAL = 0,
    ORT_ENABLE_ALL = 99,
    ORT_DEVICE_ALLOCATOR = 0,
    ORT_MEM_TYPE_DEFAULT = 0,
    ORT_TENSOR_FLOAT = 1
};

typedef OrtOpaque *ort_status; /* NULL: success */
typedef ort_status (*ort_fn_p)(OrtOpaque *);
typedef ort_status (*ort_fn_pi)(OrtOpaque *, int);
typedef ort_status (*ort_fn_pp)(OrtOpaque *, void *);
typedef void (*ort_release)(OrtOpaque *);

typedef struct ort {
    void *lib;
    const ort_fn *api;
    const char *version;
    OrtOpaque *env, *mem, *alloc;
} ort;

#define ORT_CALL(o, idx, type, ...) (((type)(o)->api[idx])(__VA_ARGS__))

/* Frees a failed status, its message into why (when not NULL); 0 for
 * success, -1 for failure. */
static int ort_check(const ort *o, ort_status st, const char *what, char *why, size_t why_size) {
    if (!st) return 0;
    const char *msg = ORT_CALL(o, ORT_GET_ERROR_MESSAGE, const char *(*)(OrtOpaque *), st);
    if (why) snprintf(why, why_size, "ORT %s: %s", what, msg);
    ORT_CALL(o, ORT_RELEASE_STATUS, ort_release, st);
    return -1;
}

/* Opens libonnxruntime and its API; 0, or -1 with why set. */
static int ort_open(ort *o, char *why, size_t why_size) {
    char path[1024], root[900];
    const char *env = getenv("FA_ORT_LIB");
    source_root(root, sizeof root);
    if (env && *env)
        snprintf(path, sizeof path, "%s", env);
    else
        snprintf(path, sizeof path,
                 "%s/build-bench-deps/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/"
                 "libonnxruntime.so.1",
                 root);
    memset(o, 0, sizeof *o);
    if (!(o->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        snprintf(why, why_size, "ORT: not found (%s), run bench/ort.sh", path);
        return -1;
    }
    void *sym = dlsym(o->lib, "OrtGetApiBase");
    const ort_api_base *(*get_base)(void) = NULL;
    if (sym) memcpy(&get_base, &sym, sizeof get_base); /* POSIX: object to function pointer */
    const ort_api_base *base = get_base ? get_base() : NULL;
    if (!base || !(o->api = base->get_api(BENCH_ORT_API_VERSION))) {
        snprintf(why, why_size, "ORT: %s has no usable OrtGetApiBase", path);
        return -1;
    }
    o->version = base->get_version_string();
    typedef ort_status (*create_env)(int, const char *, OrtOpaque **);
    typedef ort_status (*cpu_mem)(int, int, OrtOpaque **);
    typedef ort_status (*get_alloc)(OrtOpaque **);
    if (ort_check(o, ORT_CALL(o, ORT_CREATE_ENV, create_env, ORT_LOGGING_LEVEL_ERROR, "bench_nn", &o->env),
                  "CreateEnv", why, why_size) ||
        ort_check(o,
                  ORT_CALL(o, ORT_CREATE_CPU_MEMORY_INFO, cpu_mem, ORT_DEVICE_ALLOCATOR, ORT_MEM_TYPE_DEFAULT,
                           &o->mem),
                  "CreateCpuMemoryInfo", why, why_size) ||
        ort_check(o, ORT_CALL(o, ORT_GET_DEFAULT_ALLOCATOR, get_alloc, &o->alloc), "GetAllocator", why,
                  why_size))
        return -1;
    return 0;
}

static void ort_close(ort *o) {
    if (o->mem) ORT_CALL(o, ORT_RELEASE_MEMORY_INFO, ort_release, o->mem);
    if (o->env) ORT_CALL(o, ORT_RELEASE_ENV, ort_release, o->env);
    /* the library stays loaded: ORT's thread pools may still be winding down */
}

typedef struct ort_model {
    OrtOpaque *sess;
    char *in_name, *out_names[FA_NN_MAX_IO];
    size_t n_out;
    float *out[FA_NN_MAX_IO]; /* copies of the last run's outputs */
    size_t out_n[FA_NN_MAX_IO];
} ort_model;

static int ort_names(const ort *o, ort_model *om, char *why, size_t why_size) {
    typedef ort_status (*count_fn)(OrtOpaque *, size_t *);
    typedef ort_status (*name_fn)(OrtOpaque *, size_t, OrtOpaque *, char **);
    size_t n_in = 0;
    if (ort_check(o, ORT_CALL(o, ORT_SESSION_GET_INPUT_COUNT, count_fn, om->sess, &n_in), "inputs", why,
                  why_size) ||
        ort_check(o, ORT_CALL(o, ORT_SESSION_GET_OUTPUT_COUNT, count_fn, om->sess, &om->n_out), "outputs",
                  why, why_size))
        return -1;
    if (om->n_out > FA_NN_MAX_IO) om->n_out = FA_NN_MAX_IO;
    if (ort_check(o, ORT_CALL(o, ORT_SESSION_GET_INPUT_NAME, name_fn, om->sess, 0, o->alloc, &om->in_name),
                  "input name", why, why_size))
        return -1;
    for (size_t i = 0; i < om->n_out; i++)
        if (ort_check(
                o,
                ORT_CALL(o, ORT_SESSION_GET_OUTPUT_NAME, name_fn, om->sess, i, o->alloc, &om->out_names[i]),
                "output name", why, why_size))
            return -1;
    return 0;
}

/* An ORT session of the model file path, or of the ONNX bytes mem[len]
 * when mem is not NULL, at threads intra-op threads; 0 or -1 with why. */
static int ort_load(const ort *o, const char *path, const void *mem, size_t len, int threads, ort_model *om,
                    char *why, size_t why_size) {
    typedef ort_status (*new_opts)(OrtOpaque **);
    typedef ort_status (*new_sess)(OrtOpaque *, const char *, OrtOpaque *, OrtOpaque **);
    typedef ort_status (*new_sess_mem)(OrtOpaque *, const void *, size_t, OrtOpaque *, OrtOpaque **);
    OrtOpaque *opts = NULL;
    memset(om, 0, sizeof *om);
    if (ort_check(o, ORT_CALL(o, ORT_CREATE_SESSION_OPTIONS, new_opts, &opts), "options", why, why_size))
        return -1;
    int rc =
        ort_check(o, ORT_CALL(o, ORT_SET_INTRA_OP_THREADS, ort_fn_pi, opts, threads), "intra", why, why_size);
    if (!rc)
        rc = ort_check(o, ORT_CALL(o, ORT_SET_INTER_OP_THREADS, ort_fn_pi, opts, 1), "inter", why, why_size);
    if (!rc)
        rc = ort_check(o, ORT_CALL(o, ORT_SET_EXECUTION_MODE, ort_fn_pi, opts, ORT_SEQUENTIAL), "mode", why,
                       why_size);
    if (!rc)
        rc = ort_check(o, ORT_CALL(o, ORT_SET_GRAPH_OPT_LEVEL, ort_fn_pi, opts, ORT_ENABLE_ALL), "opt level",
                       why, why_size);
    if (!rc && mem)
        rc = ort_check(
            o, ORT_CALL(o, ORT_CREATE_SESSION_FROM_ARRAY, new_sess_mem, o->env, mem, len, opts, &om->sess),
            "session", why, why_size);
    else if (!rc)
        rc = ort_check(o, ORT_CALL(o, ORT_CREATE_SESSION, new_sess, o->env, path, opts, &om->sess), "session",
                       why, why_size);
    ORT_CALL(o, ORT_RELEASE_SESSION_OPTIONS, ort_release, opts);
    return rc ? rc : ort_names(o, om, why, why_size);
}

static void ort_unload(const ort *o, ort_model *om) {
    typedef ort_status (*free_fn)(OrtOpaque *, void *);
    for (size_t i = 0; i < om->n_out; i++) {
        if (om->out_names[i])
            ort_check(o, ORT_CALL(o, ORT_ALLOCATOR_FREE, free_fn, o->alloc, om->out_names[i]), "free", NULL,
                      0);
        free(om->out[i]);
    }
    if (om->in_name)
        ort_check(o, ORT_CALL(o, ORT_ALLOCATOR_FREE, free_fn, o->alloc, om->in_name), "free", NULL, 0);
    if (om->sess) ORT_CALL(o, ORT_RELEASE_SESSION, ort_release, om->sess);
    memset(om, 0, sizeof *om);
}

/* Copies the float tensor v into om->out[i]. */
static int ort_keep_output(const ort *o, ort_model *om, size_t i, OrtOpaque *v) {
    typedef ort_status (*info_fn)(OrtOpaque *, OrtOpaque **);
    typedef ort_status (*count_fn)(OrtOpaque *, size_t *);
    OrtOpaque *info = NULL;
    void *data = NULL;
    size_t n = 0;
    if (ort_check(o, ORT_CALL(o, ORT_GET_TENSOR_TYPE_AND_SHAPE, info_fn, v, &info), "shape", NULL, 0))
        return -1;
    int rc =
        ort_check(o, ORT_CALL(o, ORT_GET_TENSOR_SHAPE_ELEMENT_COUNT, count_fn, info, &n), "count", NULL, 0);
    ORT_CALL(o, ORT_RELEASE_TENSOR_TYPE_AND_SHAPE_INFO, ort_release, info);
    if (!rc)
        rc = ort_check(o, ORT_CALL(o, ORT_GET_TENSOR_MUTABLE_DATA, ort_fn_pp, v, &data), "data", NULL, 0);
    if (rc) return rc;
    if (om->out_n[i] != n) {
        free(om->out[i]);
        om->out[i] = malloc(n * sizeof(float));
        om->out_n[i] = om->out[i] ? n : 0;
    }
    if (om->out[i]) memcpy(om->out[i], data, n * sizeof(float));
    return 0;
}

/* One run on input (shape [rank]); keep: copy the outputs. 0 or -1. */
static int ort_run(const ort *o, ort_model *om, float *input, const int64_t *shape, int rank, int keep) {
    typedef ort_status (*tensor_fn)(OrtOpaque *, void *, size_t, const int64_t *, size_t, int, OrtOpaque **);
    typedef ort_status (*run_fn)(OrtOpaque *, OrtOpaque *, const char *const *, OrtOpaque *const *, size_t,
                                 const char *const *, size_t, OrtOpaque **);
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)shape[i];
    OrtOpaque *in = NULL, *outs[FA_NN_MAX_IO] = {0};
    char why[256];
    if (ort_check(o,
                  ORT_CALL(o, ORT_CREATE_TENSOR_WITH_DATA, tensor_fn, o->mem, input, n * sizeof(float), shape,
                           (size_t)rank, ORT_TENSOR_FLOAT, &in),
                  "tensor", why, sizeof why)) {
        fprintf(stderr, "%s\n", why);
        return -1;
    }
    const char *in_names[1] = {om->in_name};
    int rc = ort_check(o,
                       ORT_CALL(o, ORT_RUN, run_fn, om->sess, NULL, in_names, &in, 1,
                                (const char *const *)om->out_names, om->n_out, outs),
                       "Run", why, sizeof why);
    if (rc) fprintf(stderr, "%s\n", why);
    for (size_t i = 0; i < om->n_out; i++) {
        if (!rc && keep) rc = ort_keep_output(o, om, i, outs[i]);
        if (outs[i]) ORT_CALL(o, ORT_RELEASE_VALUE, ort_release, outs[i]);
    }
    ORT_CALL(o, ORT_RELEASE_VALUE, ort_release, in);
    return rc;
}

/* ------------------------------------------- Darknet graph to ONNX, for ORT */

/* ORT reads only ONNX, and yolo-fastest-1.1 exists only as Darknet (and
 * ncnn) files, so its ORT column runs our Darknet loader's graph written
 * out as ONNX (opset 11): the same weights, BatchNormalization and
 * activations as their own nodes (as the loader gives them, before our
 * folding), so ORT sees the graph a Darknet-to-ONNX converter would give
 * it and folds and fuses what it likes.
 * A minimal protobuf writer: field numbers of onnx.proto. */

typedef struct pb {
    uint8_t *b;
    size_t n, cap;
    int oom;
} pb;

static void pb_raw(pb *w, const void *p, size_t len) {
    if (w->n + len > w->cap) {
        size_t cap = (w->n + len) * 2 + 64;
        uint8_t *grown = w->oom ? NULL : realloc(w->b, cap);
        if (!grown) {
            w->oom = 1;
            return;
        }
        w->b = grown, w->cap = cap;
    }
    memcpy(w->b + w->n, p, len);
    w->n += len;
}
static void pb_varint(pb *w, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    for (; v >= 0x80; v >>= 7)
        tmp[n++] = (uint8_t)(v | 0x80);
    tmp[n++] = (uint8_t)v;
    pb_raw(w, tmp, n);
}
static void pb_int(pb *w, unsigned field, int64_t v) {
    pb_varint(w, (uint64_t)field << 3);
    pb_varint(w, (uint64_t)v);
}
static void pb_bytes(pb *w, unsigned field, const void *p, size_t len) {
    pb_varint(w, (uint64_t)field << 3 | 2);
    pb_varint(w, len);
    pb_raw(w, p, len);
}
static void pb_str(pb *w, unsigned field, const char *s) { pb_bytes(w, field, s, strlen(s)); }
/* Appends sub as message field `field` and frees it. */
static void pb_msg(pb *w, unsigned field, pb *sub) {
    w->oom |= sub->oom;
    pb_bytes(w, field, sub->b ? (const void *)sub->b : "", sub->n);
    free(sub->b);
    *sub = (pb){0};
}

static void attr_int(pb *node, const char *name, int64_t v) {
    pb a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, 2); /* INT */
    pb_int(&a, 3, v);
    pb_msg(node, 5, &a);
}
static void attr_ints(pb *node, const char *name, const int *v, int n) {
    pb a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, 7); /* INTS */
    for (int i = 0; i < n; i++)
        pb_int(&a, 8, v[i]);
    pb_msg(node, 5, &a);
}
static void attr_float(pb *node, const char *name, float v) {
    pb a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, 1); /* FLOAT */
    uint32_t u;
    memcpy(&u, &v, 4);
    pb_varint(&a, 2 << 3 | 5);
    uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    pb_raw(&a, le, 4);
    pb_msg(node, 5, &a);
}
static void attr_str(pb *node, const char *name, const char *v) {
    pb a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, 3); /* STRING */
    pb_str(&a, 4, v);
    pb_msg(node, 5, &a);
}

static void onnx_initializer(pb *graph, const fa_nn_tensor *t) {
    pb x = {0};
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        pb_int(&x, 1, t->shape[i]), n *= t->shape[i];
    pb_int(&x, 2, t->dtype == FA_NN_INT64 ? 7 : 1);
    pb_str(&x, 8, t->name);
    pb_bytes(&x, 9, t->data, (size_t)n * (t->dtype == FA_NN_INT64 ? 8 : 4)); /* little-endian host */
    pb_msg(graph, 5, &x);
}

static void onnx_value(pb *graph, unsigned field, const fa_nn_tensor *t) {
    pb shape = {0}, tt = {0}, type = {0}, v = {0};
    for (int i = 0; i < t->rank; i++) {
        pb dim = {0};
        pb_int(&dim, 1, t->shape[i]);
        pb_msg(&shape, 1, &dim);
    }
    pb_int(&tt, 1, 1);
    pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt);
    pb_str(&v, 1, t->name);
    pb_msg(&v, 2, &type);
    pb_msg(graph, field, &v);
}

static void onnx_op_attrs(pb *n, const fa_nn_node *nd) {
    const fa_nn_attrs *a = &nd->a;
    int pads[4] = {a->pads[0], a->pads[1], a->pads[2], a->pads[3]}; /* ONNX: t, l, b, r = ours */
    switch (nd->op) {
    case FA_NN_OP_CONV:
        attr_ints(n, "strides", a->strides, 2), attr_ints(n, "dilations", a->dilations, 2);
        attr_ints(n, "pads", pads, 4), attr_int(n, "group", a->group);
        break;
    case FA_NN_OP_MAXPOOL:
        attr_ints(n, "kernel_shape", a->kernel, 2), attr_ints(n, "strides", a->strides, 2);
        attr_ints(n, "pads", pads, 4);
        break;
    case FA_NN_OP_CONCAT:
    case FA_NN_OP_SPLIT: attr_int(n, "axis", a->axis); break;
    case FA_NN_OP_LEAKY_RELU: attr_float(n, "alpha", a->alpha); break;
    case FA_NN_OP_BATCHNORM: attr_float(n, "epsilon", a->epsilon); break;
    case FA_NN_OP_RESIZE:
        attr_str(n, "mode", a->resize_mode == FA_NN_RESIZE_NEAREST ? "nearest" : "linear");
        attr_str(n, "coordinate_transformation_mode", "asymmetric");
        attr_str(n, "nearest_mode", "floor");
        break;
    default: break;
    }
}

/* Opset 11's Resize requires its roi input: an empty float tensor. */
#define EMPTY_ROI "bench_nn.empty_roi"

static void onnx_empty_roi(pb *graph) {
    pb x = {0};
    pb_int(&x, 1, 0);
    pb_int(&x, 2, 1);
    pb_str(&x, 8, EMPTY_ROI);
    pb_bytes(&x, 9, "", 0);
    pb_msg(graph, 5, &x);
}

/* One live node (its fused activation as a second node). 0 or -1 (an op we do not export). */
static int onnx_node(pb *graph, const fa_nn_graph *g, const fa_nn_node *nd) {
    static const fa_nn_op ok[] = {FA_NN_OP_CONV,    FA_NN_OP_MAXPOOL,  FA_NN_OP_CONCAT, FA_NN_OP_SPLIT,
                                  FA_NN_OP_ADD,     FA_NN_OP_RESIZE,   FA_NN_OP_RELU,   FA_NN_OP_LEAKY_RELU,
                                  FA_NN_OP_SIGMOID, FA_NN_OP_BATCHNORM};
    int known = 0;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        known |= nd->op == ok[i];
    if (!known || (nd->op == FA_NN_OP_RESIZE && nd->a.coord_mode != FA_NN_COORD_ASYMMETRIC))
        return fa_err_set(FA_EINVAL, "node '%s': op %s not exported", nd->name, fa_nn_op_name(nd->op));
    char pre[300];
    snprintf(pre, sizeof pre, "%.280s_preact", fa_nn_graph_tensor(g, nd->out[0])->name);
    pb n = {0};
    for (int i = 0; i < nd->n_in; i++)
        pb_str(&n, 1, nd->in[i] >= 0 ? fa_nn_graph_tensor(g, nd->in[i])->name : i == 1 ? EMPTY_ROI : "");
    for (int i = 0; i < nd->n_out; i++)
        pb_str(&n, 2, i == 0 && nd->act ? pre : fa_nn_graph_tensor(g, nd->out[i])->name);
    pb_str(&n, 3, nd->name);
    pb_str(&n, 4, fa_nn_op_name(nd->op));
    onnx_op_attrs(&n, nd);
    pb_msg(graph, 1, &n);
    if (!nd->act) return 0;
    static const char *act_op[] = {"", "Relu", "LeakyRelu", "Sigmoid"};
    pb_str(&n, 1, pre);
    pb_str(&n, 2, fa_nn_graph_tensor(g, nd->out[0])->name);
    pb_str(&n, 3, pre);
    pb_str(&n, 4, act_op[nd->act & 3]);
    if (nd->act == FA_NN_ACT_LEAKY) attr_float(&n, "alpha", nd->act_alpha);
    pb_msg(graph, 1, &n);
    return 0;
}

/* Loads the Darknet model at cfg_path and writes its graph as an ONNX
 * model into out (caller frees out->b). 0 or < 0 with the error set. */
static int darknet_to_onnx(const char *cfg_path, pb *out) {
    char weights[1024];
    size_t len = strlen(cfg_path);
    snprintf(weights, sizeof weights, "%.*s.weights", (int)(len > 4 ? len - 4 : len), cfg_path);
    fa_nn_graph *g = fa_nn_darknet_load(cfg_path, weights);
    if (!g) return -1;
    pb graph = {0};
    int rc = 0;
    size_t nt = fa_nn_graph_tensor_count(g);
    unsigned char *used = calloc(nt ? nt : 1, 1);
    for (size_t i = 0; !rc && i < fa_nn_graph_node_count(g); i++) {
        const fa_nn_node *nd = fa_nn_graph_node(g, i);
        if (nd->dead) continue;
        rc = onnx_node(&graph, g, nd);
        for (int k = 0; used && k < nd->n_in; k++)
            if (nd->in[k] >= 0) used[nd->in[k]] = 1;
    }
    for (size_t t = 0; !rc && used && t < nt; t++)
        if (used[t] && fa_nn_graph_tensor(g, (int)t)->data)
            onnx_initializer(&graph, fa_nn_graph_tensor(g, (int)t));
    onnx_empty_roi(&graph);
    pb_str(&graph, 2, "darknet");
    for (int i = 0; i < fa_nn_graph_input_count(g); i++)
        onnx_value(&graph, 11, fa_nn_graph_tensor(g, fa_nn_graph_input(g, i)));
    for (int i = 0; i < fa_nn_graph_output_count(g); i++)
        onnx_value(&graph, 12, fa_nn_graph_tensor(g, fa_nn_graph_output(g, i)));
    pb opset = {0};
    pb_str(&opset, 1, "");
    pb_int(&opset, 2, 11);
    *out = (pb){0};
    pb_int(out, 1, 7); /* ir_version */
    pb_msg(out, 8, &opset);
    pb_msg(out, 7, &graph);
    if (!rc && (out->oom || !used)) rc = fa_err_set(FA_ENOMEM, "out of memory");
    free(used);
    fa_nn_graph_free(g);
    return rc;
}

/* ------------------------------------------------------------ the engines */

typedef struct bench_model {
    const char *name;
    const char *file;   /* under models/ */
    const char *golden; /* golden inputs: golden/<golden>_{soccertrack_left,dog}.input.f32, or NULL */
} bench_model;

static const bench_model models[] = {
    {"FastestDet 352", "fastestdet/FastestDet.onnx", "fastestdet"},
    {"NanoDet-m 416", "nanodet-m/nanodet_m_416.onnx", "nanodet"},
    {"yolo-fastest-1.1 320", "yolo-fastest-1.1/yolo-fastest-1.1.cfg", NULL},
};

typedef struct engine {
    char label[32];
    int is_ort;
    fa_nn_model *m;
    fa_nn_session *s;
    ort_model om;
    char why[1400];      /* why it is n/a ("" when it runs) */
    double *times, *cpu; /* wall and CPU seconds per run */
    int n_times;
    double max_diff; /* vs ORT, NAN when not compared */
    int batch;       /* images per run (times are printed per image) */
    float *batch_in; /* the input repeated batch times (batch > 1) */
} engine;

/* The cuda rows need the GPU plugin and a GPU (n/a elsewhere); "x8" runs
 * batches of 8 (a frame's tiles) and reports the time per image. */
static const struct {
    const char *backend;
    int precision;
    const char *label;
    int batch;
} our_configs[] = {
    {"native", FA_NN_FP32, "native fp32", 1}, {"onednn", FA_NN_FP32, "onednn fp32", 1},
    {"native", FA_NN_INT8, "native int8", 1}, {"onednn", FA_NN_INT8, "onednn int8", 1},
    {"native", FA_NN_FP16, "native fp16", 1}, {"onednn", FA_NN_FP16, "onednn fp16", 1},
    {"cuda", FA_NN_FP32, "cuda fp32", 1},     {"cuda", FA_NN_FP16, "cuda fp16", 1},
    {"cuda", FA_NN_FP16, "cuda fp16 x8", 8},
};
#define N_OURS (sizeof our_configs / sizeof our_configs[0])

/* Loads our config cfg of the model at path; INT8 loads fanq (the
 * calibrated .fanq, "" when calibration failed: fanq_why says why). */
static void load_ours(engine *e, const char *path, const char *fanq, const char *fanq_why, size_t cfg,
                      int threads) {
    snprintf(e->label, sizeof e->label, "%s", our_configs[cfg].label);
    int int8 = our_configs[cfg].precision == FA_NN_INT8;
    if (int8 && !fanq[0]) {
        snprintf(e->why, sizeof e->why, "n/a (%.1300s)", fanq_why);
        return;
    }
    fa_nn_options o = {
        .backend = our_configs[cfg].backend, .precision = our_configs[cfg].precision, .threads = threads};
    e->batch = our_configs[cfg].batch;
    e->m = fa_nn_model_load(int8 ? fanq : path, &o);
    if (e->m) e->s = fa_nn_session_new(e->m, e->batch);
    if (!e->s) snprintf(e->why, sizeof e->why, "n/a (%s)", fa_err_msg());
}

static int run_engine(const ort *o, engine *e, float *input, const int64_t *shape, int rank, int keep) {
    if (e->is_ort) return ort_run(o, &e->om, input, shape, rank, keep);
    if (e->batch > 1 && !e->batch_in) {
        size_t n = 1;
        for (int i = 0; i < rank; i++) n *= (size_t)shape[i];
        if (!(e->batch_in = malloc(n * sizeof *input * (size_t)e->batch))) return -1;
        for (int b = 0; b < e->batch; b++) memcpy(e->batch_in + n * (size_t)b, input, n * sizeof *input);
    }
    return fa_nn_run(e->s, e->batch > 1 ? e->batch_in : input, NULL);
}

static void free_engine(const ort *o, engine *e) {
    if (e->is_ort && e->om.sess) ort_unload(o, &e->om);
    fa_nn_session_free(e->s);
    fa_nn_model_free(e->m);
    free(e->times);
    free(e->cpu);
    free(e->batch_in);
}

/* Max |ours - ORT| over every output ORT has, matched by name. */
static double diff_vs_ort(const engine *ours, const ort_model *om) {
    double worst = 0;
    for (size_t i = 0; i < om->n_out; i++) {
        int k = fa_nn_model_output_index(ours->m, om->out_names[i]);
        int64_t shape[FA_NN_MAX_RANK];
        int rank = 0;
        const float *v = k >= 0 ? fa_nn_session_output(ours->s, k, shape, &rank) : NULL;
        size_t n = 1;
        for (int d = 0; d < rank; d++)
            n *= (size_t)shape[d];
        if (!v || n != om->out_n[i]) return NAN;
        for (size_t j = 0; j < n; j++) {
            double d = fabs((double)v[j] - (double)om->out[i][j]);
            if (d > worst || d != d) worst = d;
        }
    }
    return worst;
}

typedef struct bench_opts {
    int rounds;       /* 0: from seconds */
    double seconds;   /* per cell */
    const char *only; /* model name substring */
    int threads_only; /* 0: 1 and 2 */
    int prune;
    float ratios[8]; /* --prune ratios (-r 0.25,0.5) */
    int n_ratios;
} bench_opts;

/* Warm-up, then rounds of one run per engine; fills times. */
static void time_cell(const ort *o, engine *e, int n_e, float *input, const int64_t *shape, int rank,
                      int threads, const bench_opts *bo) {
    double t_round = 0;
    for (int i = 0; i < n_e; i++) {
        if (e[i].why[0]) continue;
        for (int w = 0; w < 3; w++) {
            double t0 = now();
            if (run_engine(o, &e[i], input, shape, rank, w == 0) != 0) {
                snprintf(e[i].why, sizeof e[i].why, "n/a (run failed: %s)",
                         e[i].is_ort ? "see stderr" : fa_err_msg());
                break;
            }
            if (w == 2) t_round += now() - t0;
        }
    }
    int rounds = bo->rounds > 0 ? bo->rounds : (int)(bo->seconds / (t_round > 1e-6 ? t_round : 1e-6));
    if (rounds < 5) rounds = 5;
    if (rounds > 2000) rounds = 2000;
    for (int i = 0; i < n_e; i++) {
        e[i].times = calloc((size_t)rounds, sizeof(double));
        e[i].cpu = calloc((size_t)rounds, sizeof(double));
    }
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n_e; i++) {
            if (e[i].why[0]) continue;
            double t0 = now(), c0 = cpu_now(threads);
            run_engine(o, &e[i], input, shape, rank, 0);
            e[i].cpu[e[i].n_times] = cpu_now(threads) - c0;
            e[i].times[e[i].n_times++] = now() - t0;
        }
}

/* The golden input `which` ("soccertrack_left", "dog") of bm, else the
 * pseudo-random tensor; *source names it. */
static float *model_input(const bench_model *bm, const char *which, const int64_t *shape, int rank,
                          const char **source) {
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)shape[i];
    char path[1024];
    float *v = NULL;
    if (bm->golden) {
        snprintf(path, sizeof path, "%s/golden/%s_%s.input.f32", data_dir(), bm->golden, which);
        v = read_floats(path, n);
    }
    *source = v ? which : "pseudo-random [0,1)";
    return v ? v : pseudo_random(n);
}

/* Calibrates bm for INT8 (min-max, heads fp32: the runtime's defaults) on
 * its two golden inputs (the pseudo-random tensor when it has none) and
 * saves the quantised model to a temporary .fanq named into fanq[size]
 * (removed by the caller). 0, or -1 with why set and fanq "". */
static int make_fanq(const bench_model *bm, char *fanq, size_t size, char *why, size_t why_size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s", data_dir(), bm->file);
    fanq[0] = '\0';
    fa_nn_model *m = fa_nn_model_load(path, &(fa_nn_options){.backend = "native"});
    int64_t shape[FA_NN_MAX_RANK];
    int rank = m ? fa_nn_model_input_shape(m, shape) : 0;
    const char *source;
    float *in[2] = {NULL, NULL};
    size_t n_in = 0;
    if (rank) in[n_in++] = model_input(bm, "soccertrack_left", shape, rank, &source);
    if (rank && bm->golden) in[n_in++] = model_input(bm, "dog", shape, rank, &source);
    fa_nn_quant *q = m ? fa_nn_calibrate(m, (const float *const *)in, n_in, NULL) : NULL;
    char tmpl[] = "/tmp/bench_nn_XXXXXX.fanq";
    int fd = q ? mkstemps(tmpl, 5) : -1;
    int rc = fd >= 0 ? fa_nn_quant_save(q, tmpl) : -1;
    if (fd >= 0) close(fd);
    if (rc) snprintf(why, why_size, "int8 calibration failed: %s", fa_err_msg());
    if (rc && fd >= 0) unlink(tmpl);
    if (!rc) snprintf(fanq, size, "%s", tmpl);
    fa_nn_quant_free(q);
    fa_nn_model_free(m);
    free(in[0]), free(in[1]);
    return rc ? -1 : 0;
}

static void print_cell(const bench_model *bm, int threads, engine *e, int n_e) {
    double ort_med = NAN, ort_cpu = NAN;
    for (int i = 0; i < n_e; i++)
        if (e[i].is_ort && !e[i].why[0]) {
            ort_med = quantile(e[i].times, e[i].n_times, 0.5);
            ort_cpu = quantile(e[i].cpu, e[i].n_times, 0.5);
        }
    for (int i = 0; i < n_e; i++) {
        if (e[i].why[0]) {
            printf("%-21s %3d  %-12s  %s\n", bm->name, threads, e[i].label, e[i].why);
            continue;
        }
        double per = e[i].batch > 1 ? e[i].batch : 1;
        double med = quantile(e[i].times, e[i].n_times, 0.5) / per;
        double p90 = quantile(e[i].times, e[i].n_times, 0.9) / per, cpu = quantile(e[i].cpu, e[i].n_times, 0.5) / per;
        printf("%-21s %3d  %-12s %8.2f %8.2f %8.2f %5d", bm->name, threads, e[i].label, med * 1e3, p90 * 1e3,
               cpu * 1e3, e[i].n_times);
        if (!e[i].is_ort && ort_med == ort_med)
            printf(" %8.2fx %8.2fx", med / ort_med, cpu / ort_cpu);
        else
            printf(" %9s %9s", "-", "-");
        if (e[i].max_diff == e[i].max_diff) printf(" %10.2e", e[i].max_diff);
        printf("\n");
    }
    fflush(stdout);
}

static void bench_cell(const ort *o, const char *ort_why, const bench_model *bm, const char *fanq,
                       const char *fanq_why, int threads, const bench_opts *bo) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s", data_dir(), bm->file);
    engine e[N_OURS + 1];
    memset(e, 0, sizeof e);
    int n_e = 0;
    for (size_t c = 0; c < N_OURS; c++)
        load_ours(&e[n_e++], path, fanq, fanq_why, c, threads);
    engine *oe = &e[n_e++];
    oe->is_ort = 1;
    snprintf(oe->label, sizeof oe->label, "ORT fp32");
    size_t len = strlen(path);
    if (ort_why)
        snprintf(oe->why, sizeof oe->why, "%s", ort_why);
    else if (len > 5 && strcmp(path + len - 5, ".onnx") == 0) {
        if (ort_load(o, path, NULL, 0, threads, &oe->om, oe->why, sizeof oe->why) != 0)
            ort_unload(o, &oe->om);
    } else {
        pb onnx = {0};
        if (darknet_to_onnx(path, &onnx) != 0)
            snprintf(oe->why, sizeof oe->why, "n/a (cannot export the Darknet graph to ONNX: %s)",
                     fa_err_msg());
        else if (ort_load(o, NULL, onnx.b, onnx.n, threads, &oe->om, oe->why, sizeof oe->why) != 0)
            ort_unload(o, &oe->om);
        else
            snprintf(oe->label, sizeof oe->label, "ORT fp32 (*)");
        free(onnx.b);
    }
    int64_t shape[FA_NN_MAX_RANK];
    int rank = e[0].m ? fa_nn_model_input_shape(e[0].m, shape) : 0;
    if (!rank) {
        printf("%-21s: cannot load (%s)\n", bm->name, e[0].why);
        for (int i = 0; i < n_e; i++)
            free_engine(o, &e[i]);
        return;
    }
    const char *source;
    float *input = model_input(bm, "soccertrack_left", shape, rank, &source);
    time_cell(o, e, n_e, input, shape, rank, threads, bo);
    for (int i = 0; i < n_e; i++) {
        e[i].max_diff = NAN;
        if (e[i].is_ort || e[i].why[0] || oe->why[0]) continue;
        run_engine(o, &e[i], input, shape, rank, 0);
        e[i].max_diff = diff_vs_ort(&e[i], &oe->om);
    }
    printf("# %s, input %s\n", bm->name, source);
    print_cell(bm, threads, e, n_e);
    free(input);
    for (int i = 0; i < n_e; i++)
        free_engine(o, &e[i]);
}

#define N_MODELS (sizeof models / sizeof models[0])

/* Every (model, threads) cell; INT8 models are calibrated first, once. */
static void bench_all(const ort *o, const char *ort_why, const bench_opts *bo) {
    char fanq[N_MODELS][64], fanq_why[N_MODELS][1200];
    for (size_t i = 0; i < N_MODELS; i++) {
        fanq[i][0] = '\0';
        if (!bo->only || strstr(models[i].name, bo->only))
            make_fanq(&models[i], fanq[i], sizeof fanq[i], fanq_why[i], sizeof fanq_why[i]);
    }
    printf(
        "INT8: calibrated here (min-max, head convs fp32) on the golden inputs soccertrack_left + dog "
        "(yolo-fastest: the pseudo-random input)\n"
        "(*) ORT has no Darknet loader: it runs our Darknet loader's graph written out as ONNX opset 11\n");
    printf("wall: median and p90 ms; cpu: median CPU ms (1 thread: the calling thread's; 2: the whole "
           "process's, spinning included)\n");
    printf("%-21s %3s  %-12s %8s %8s %8s %5s %9s %9s %10s\n", "model", "thr", "engine", "median", "p90",
           "cpu", "runs", "wall/ORT", "cpu/ORT", "|d| vs ORT");
    for (int t = 1; t <= 2; t++) {
        if (bo->threads_only && t != bo->threads_only) continue;
        for (size_t i = 0; i < N_MODELS; i++)
            if (!bo->only || strstr(models[i].name, bo->only))
                bench_cell(o, ort_why, &models[i], fanq[i], fanq_why[i], t, bo);
    }
    for (size_t i = 0; i < N_MODELS; i++)
        if (fanq[i][0]) unlink(fanq[i]);
}

/* ------------------------------------------------------------ pruning */

typedef struct pruned {
    float ratio;
    fa_nn_model *m;
    fa_nn_session *s;
    fa_nn_info info;
    fa_nn_prune_report rep;
    float *out; /* every output of both golden inputs, concatenated */
    size_t n_out;
    double *times, *cpu;
} pruned;

static const char *golden_cases[] = {"dog", "soccertrack_left"};

/* Appends output k of the last run of p->s to p->out. */
static int keep_output(pruned *p, int k) {
    int64_t shape[FA_NN_MAX_RANK];
    int rank;
    const float *v = fa_nn_session_output(p->s, k, shape, &rank);
    size_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= (size_t)shape[d];
    float *grown = v ? realloc(p->out, (p->n_out + n) * sizeof(float)) : NULL;
    if (!grown) return -1;
    p->out = grown;
    memcpy(p->out + p->n_out, v, n * sizeof(float));
    p->n_out += n;
    return 0;
}

/* Runs p on both golden inputs of prefix, keeping the outputs. */
static int golden_outputs(pruned *p, const char *prefix, size_t in_n) {
    for (size_t c = 0; c < 2; c++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/golden/%s_%s.input.f32", data_dir(), prefix, golden_cases[c]);
        float *in = read_floats(path, in_n);
        int rc = in ? fa_nn_run(p->s, in, NULL) : -1;
        free(in);
        for (int k = 0; !rc && k < fa_nn_model_output_count(p->m); k++)
            rc = keep_output(p, k);
        if (rc) return -1;
    }
    return 0;
}

/* Loads file pruned at p->ratio (0: nothing removed) on backend. 0 or -1. */
static int load_pruned(pruned *p, const char *file, const char *backend) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s", data_dir(), file);
    fa_nn_graph *g = fa_nn_onnx_load(path);
    if (g && fa_nn_prune(g, p->ratio, FA_NN_PRUNE_L1, &p->rep) != 0) {
        fa_nn_graph_free(g);
        g = NULL;
    }
    p->m = g ? fa_nn_model_from_graph(g, &(fa_nn_options){.backend = backend}) : NULL;
    p->s = p->m ? fa_nn_session_new(p->m, 1) : NULL;
    if (!p->s) {
        fprintf(stderr, "bench_nn: %s pruned %.2f: %s\n", file, (double)p->ratio, fa_err_msg());
        return -1;
    }
    fa_nn_model_info(p->m, &p->info);
    return 0;
}

static void free_pruned(pruned *p) {
    fa_nn_session_free(p->s);
    fa_nn_model_free(p->m);
    free(p->out);
    free(p->times);
    free(p->cpu);
}

static void drift(const pruned *a, const pruned *b, double *max_abs, double *cosine) {
    double dot = 0, na = 0, nb = 0;
    *max_abs = NAN, *cosine = NAN;
    if (a->n_out != b->n_out || !a->n_out) return;
    *max_abs = 0;
    for (size_t i = 0; i < a->n_out; i++) {
        double x = a->out[i], y = b->out[i], d = fabs(x - y);
        if (d > *max_abs) *max_abs = d;
        dot += x * y, na += x * x, nb += y * y;
    }
    *cosine = dot / (sqrt(na) * sqrt(nb));
}

/* Interleaved timing of the variants p[n] on one input: rounds of one run each. */
static void time_pruned(pruned *p, int n, const float *in, int rounds) {
    for (int i = 0; i < n; i++) {
        p[i].times = calloc((size_t)rounds, sizeof(double));
        p[i].cpu = calloc((size_t)rounds, sizeof(double));
        fa_nn_run(p[i].s, in, NULL); /* warm-up */
    }
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            double t0 = now(), c0 = cpu_now(1);
            fa_nn_run(p[i].s, in, NULL);
            p[i].cpu[r] = cpu_now(1) - c0;
            p[i].times[r] = now() - t0;
        }
}

static void print_pruned(const char *name, const char *backend, pruned *p, int n, int rounds) {
    double ref = quantile(p[0].times, rounds, 0.5), ref_cpu = quantile(p[0].cpu, rounds, 0.5);
    for (int i = 0; i < n; i++) {
        double max_abs = 0, cosine = 1, med = quantile(p[i].times, rounds, 0.5);
        double cpu = quantile(p[i].cpu, rounds, 0.5);
        if (i) drift(&p[0], &p[i], &max_abs, &cosine);
        printf("%-15s %-7s %5.2f %4d/%-3d %5lld->%-5lld %11llu %5.3f %8.2f %8.2f %6.3f %6.3f %8.3g %9.6f\n",
               name, backend, (double)p[i].ratio, p[i].rep.convs_pruned, p[i].rep.convs_total,
               (long long)p[i].rep.channels_before, (long long)p[i].rep.channels_after,
               (unsigned long long)p[i].info.macs, (double)p[i].info.macs / (double)p[0].info.macs, med * 1e3,
               cpu * 1e3, med / ref, cpu / ref_cpu, max_abs, cosine);
    }
    fflush(stdout);
}

static void bench_prune(const bench_opts *bo) {
    static const struct {
        const char *name, *file, *prefix;
    } pm[] = {{"FastestDet 352", "fastestdet/FastestDet.onnx", "fastestdet"},
              {"NanoDet-m 416", "nanodet-m/nanodet_m_416.onnx", "nanodet"}};
    static const char *backends[] = {"native", "onednn"};
    int rounds = bo->rounds > 0 ? bo->rounds : 30, n = bo->n_ratios + 1;
    printf(
        "\npruning: L1 norm of the output filter, no fine-tuning; 1 thread; variants interleaved, %d rounds "
        "(median wall and thread-CPU ms);\ndrift vs unpruned over every output of the golden inputs dog + "
        "soccertrack_left\n",
        rounds);
    printf("%-15s %-7s %5s %8s %12s %11s %5s %8s %8s %6s %6s %8s %9s\n", "model", "backend", "ratio", "convs",
           "channels", "MACs", "xMACs", "wall", "cpu", "xwall", "xcpu", "max abs", "cosine");
    for (size_t i = 0; i < sizeof pm / sizeof pm[0]; i++) {
        if (bo->only && !strstr(pm[i].name, bo->only)) continue;
        for (size_t b = 0; b < 2; b++) {
            pruned p[9];
            memset(p, 0, sizeof p);
            int ok = 1;
            for (int r = 0; r < n; r++) {
                p[r].ratio = r ? bo->ratios[r - 1] : 0.0f;
                ok = ok && load_pruned(&p[r], pm[i].file, backends[b]) == 0;
            }
            int64_t shape[FA_NN_MAX_RANK];
            int rank = ok ? fa_nn_model_input_shape(p[0].m, shape) : 0;
            size_t in_n = 1;
            for (int d = 0; d < rank; d++)
                in_n *= (size_t)shape[d];
            for (int r = 0; ok && r < n; r++)
                ok = golden_outputs(&p[r], pm[i].prefix, in_n) == 0;
            if (ok) {
                char path[1024];
                snprintf(path, sizeof path, "%s/golden/%s_soccertrack_left.input.f32", data_dir(),
                         pm[i].prefix);
                float *in = read_floats(path, in_n);
                time_pruned(p, n, in, rounds);
                print_pruned(pm[i].name, backends[b], p, n, rounds);
                free(in);
            }
            for (int r = 0; r < n; r++)
                free_pruned(&p[r]);
        }
    }
}

/* ------------------------------------------------------------ main */

/* "0.25,0.5" into r[max]; returns how many. */
static int parse_ratios(const char *list, float *r, int max) {
    int n = 0;
    for (const char *p = list; *p && n < max; p++) {
        r[n++] = strtof(p, (char **)&p);
        if (!*p) break;
    }
    return n;
}

static int parse_args(int argc, char **argv, bench_opts *bo) {
    *bo = (bench_opts){.seconds = 2.0, .ratios = {0.25f, 0.5f}, .n_ratios = 2};
    for (int i = 1; i < argc; i++) {
        int more = i + 1 < argc;
        if (!strcmp(argv[i], "-n") && more)
            bo->rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && more)
            bo->seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "-m") && more)
            bo->only = argv[++i];
        else if (!strcmp(argv[i], "-t") && more)
            bo->threads_only = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--prune"))
            bo->prune = 1;
        else if (!strcmp(argv[i], "-r") && more)
            bo->n_ratios = parse_ratios(argv[++i], bo->ratios, 8);
        else {
            fprintf(stderr, "usage: bench_nn [-n ROUNDS] [-s SECONDS_PER_CELL] [-m MODEL] [-t THREADS] "
                            "[--prune [-r RATIOS]]\n");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (!getenv("OMP_WAIT_POLICY")) { /* see the top of the file */
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
        perror("bench_nn: re-exec with OMP_WAIT_POLICY=passive");
    }
    bench_opts bo;
    if (parse_args(argc, argv, &bo) != 0) return 2;
    bench_print_machine(argc, argv);
    ort o;
    char ort_why[1200] = "";
    int have_ort = ort_open(&o, ort_why, sizeof ort_why) == 0;
    char load[128] = "?";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf && fgets(load, sizeof load, lf)) load[strcspn(load, "\n")] = '\0';
    if (lf) fclose(lf);
    printf("OMP_WAIT_POLICY=%s, cpu features: \"%s\", load average at start: %s\n", getenv("OMP_WAIT_POLICY"),
           fa_nn_cpu_features(), load);
    printf("ORT: %s\n", have_ort ? o.version : ort_why);
    if (have_ort)
        printf("ORT settings: ORT_ENABLE_ALL, sequential, intra-op threads = threads, inter-op 1\n");
    if (bo.prune) {
        bench_prune(&bo);
    } else {
        bench_all(&o, have_ort ? NULL : ort_why, &bo);
    }
    if (have_ort) ort_close(&o);
    return 0;
}
