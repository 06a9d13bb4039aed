/*
 * nn.h - the face of src/nn: a small inference engine for convolutional
 * detectors (issue 5). It knows nothing of football.
 *
 * Pipeline: a loader (ONNX today, Darknet later) builds a graph IR (tensors,
 * nodes with an op enum and typed attributes); the graph is simplified once
 * at load (constant folding, Conv+BatchNormalization folding, Conv+activation
 * fusion) and its convolutions are prepared by a compute backend (kernels.h:
 * native or oneDNN). A model is read-only after load and may be shared by
 * threads; each thread runs it through its own session, which owns the shapes
 * for its batch size and one working arena planned by tensor lifetime.
 *
 * Layout is NCHW float32 at this face; the batch N of a session may differ
 * from the one the file declares (the loader's graph is inferred at N = 1).
 */
#ifndef FA_NN_H
#define FA_NN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/pool.h"

#define FA_NN_MAX_RANK 6 /* dimensions a tensor may have */
#define FA_NN_MAX_IO 16  /* inputs or outputs a node may have */

typedef enum fa_nn_dtype {
    FA_NN_FLOAT = 1, /* float32 */
    FA_NN_INT64 = 7  /* int64 (int32 data is widened at load) */
} fa_nn_dtype;

typedef enum fa_nn_op {
    FA_NN_OP_CONV = 0,
    FA_NN_OP_BATCHNORM,
    FA_NN_OP_RELU,
    FA_NN_OP_LEAKY_RELU,
    FA_NN_OP_SIGMOID,
    FA_NN_OP_MAXPOOL,
    FA_NN_OP_AVGPOOL,
    FA_NN_OP_RESIZE,
    FA_NN_OP_CONCAT,
    FA_NN_OP_SOFTMAX,
    FA_NN_OP_TRANSPOSE,
    FA_NN_OP_RESHAPE,
    FA_NN_OP_PAD,
    FA_NN_OP_GATHER,
    FA_NN_OP_ADD,
    FA_NN_OP_SPLIT,
    FA_NN_OP_COUNT
} fa_nn_op;

/* The ONNX op_type of an op ("Conv"). */
const char *fa_nn_op_name(fa_nn_op op);

typedef enum fa_nn_resize_mode { FA_NN_RESIZE_NEAREST = 0, FA_NN_RESIZE_LINEAR } fa_nn_resize_mode;
typedef enum fa_nn_coord_mode {
    FA_NN_COORD_HALF_PIXEL = 0,
    FA_NN_COORD_ASYMMETRIC,
    FA_NN_COORD_ALIGN_CORNERS,
    FA_NN_COORD_PYTORCH_HALF_PIXEL
} fa_nn_coord_mode;
typedef enum fa_nn_nearest_mode {
    FA_NN_NEAREST_ROUND_PREFER_FLOOR = 0,
    FA_NN_NEAREST_ROUND_PREFER_CEIL,
    FA_NN_NEAREST_FLOOR,
    FA_NN_NEAREST_CEIL
} fa_nn_nearest_mode;

/* Typed attributes (a node uses those of its op; defaults are ONNX's).
 * Spatial ones are 2-D: [h, w]; pads are [top, left, bottom, right]. */
typedef struct fa_nn_attrs {
    int kernel[2], strides[2], dilations[2], pads[4];
    int group;             /* Conv */
    int ceil_mode;         /* pools */
    int count_include_pad; /* AveragePool */
    int axis;              /* Concat, Softmax, Gather, Split (negative already resolved at inference) */
    float alpha;           /* LeakyRelu */
    float epsilon;         /* BatchNormalization */
    int perm[FA_NN_MAX_RANK], n_perm; /* Transpose (n_perm 0: reverse) */
    fa_nn_resize_mode resize_mode;
    fa_nn_coord_mode coord_mode;
    fa_nn_nearest_mode nearest_mode;
    int pad_constant;            /* Pad: 1 for mode "constant" (the only one supported) */
    int64_t split[FA_NN_MAX_IO]; /* Split sizes (n_split 0: equal parts) */
    int n_split;
} fa_nn_attrs;

typedef struct fa_nn_tensor {
    char *name;
    fa_nn_dtype dtype;
    int rank;
    int64_t shape[FA_NN_MAX_RANK]; /* inferred at batch 1 for non-constants */
    void *data;                    /* constant values (owned), NULL for computed tensors */
} fa_nn_tensor;

typedef struct fa_nn_node {
    fa_nn_op op;
    char *name;
    int n_in, n_out;
    int in[FA_NN_MAX_IO];  /* tensor ids; -1 for an absent optional input */
    int out[FA_NN_MAX_IO]; /* tensor ids */
    fa_nn_attrs a;
    int act;         /* fa_nn_act (kernels.h) fused into a Conv; 0 none */
    float act_alpha; /* its LeakyRelu slope */
    int dead;        /* removed by folding or fusion */
} fa_nn_node;

typedef struct fa_nn_graph fa_nn_graph;

/* Read access to a graph: tensors and nodes by index, inputs and outputs
 * as tensor ids. Pointers stay valid until the graph changes or is freed. */
size_t fa_nn_graph_tensor_count(const fa_nn_graph *g);
const fa_nn_tensor *fa_nn_graph_tensor(const fa_nn_graph *g, int id);
size_t fa_nn_graph_node_count(const fa_nn_graph *g);
const fa_nn_node *fa_nn_graph_node(const fa_nn_graph *g, size_t i);
int fa_nn_graph_input_count(const fa_nn_graph *g);
int fa_nn_graph_input(const fa_nn_graph *g, int i);
int fa_nn_graph_output_count(const fa_nn_graph *g);
int fa_nn_graph_output(const fa_nn_graph *g, int i);
void fa_nn_graph_free(fa_nn_graph *g);

/* Parses an ONNX model (opset >= 11) from a file or from memory (name is
 * used in messages only). The graph is returned with the file's nodes in
 * order (Constant nodes turned into constant tensors), shapes inferred at
 * the declared batch, nodes on constants folded (marked dead), nothing fused. NULL with FA_EINVAL naming the
 * file, the byte offset and the problem, or the node and its unsupported op;
 * FA_EIO when the file cannot be read; FA_ENOMEM. */
fa_nn_graph *fa_nn_onnx_load(const char *path);
fa_nn_graph *fa_nn_onnx_load_mem(const char *name, const void *data, size_t len);

/* Parses a Darknet network: a .cfg and its .weights (issue 5, part 2). The
 * graph has one input "input" 1xCxHxW from [net] and, as outputs, the raw
 * tensors each [yolo] layer reads, in cfg order (the last layer's output when
 * there is no [yolo]); shapes inferred, nothing folded or fused. NULL with
 * FA_EINVAL naming cfg:line or weights:byte and the problem, FA_ENOTFOUND
 * or FA_EIO when a file cannot be read, FA_ENOMEM. The _mem variant parses buffers (the names
 * are used in messages only; cfg need not be NUL-terminated). */
fa_nn_graph *fa_nn_darknet_load(const char *cfg_path, const char *weights_path);
fa_nn_graph *fa_nn_darknet_load_mem(const char *cfg_name, const char *cfg, size_t cfg_len,
                                    const char *weights_name, const void *weights, size_t weights_len);

#define FA_NN_MAX_ANCHORS 16

/* A Darknet [yolo] head, for the detector that decodes its output. */
typedef struct fa_nn_yolo_head {
    int output;                           /* graph output index: raw tensor [N, n_mask*(classes+5), H, W] */
    int classes;                          /* classes per anchor */
    int n_anchors;                        /* anchors of the cfg ("num") */
    float anchors[2 * FA_NN_MAX_ANCHORS]; /* w, h pairs in pixels of the network input */
    int n_mask, mask[FA_NN_MAX_ANCHORS];  /* the anchors this head predicts, in channel-group order */
    float scale_x_y;                      /* Darknet's x/y scaling (1: plain sigmoid) */
} fa_nn_yolo_head;

/* The [yolo] heads of a graph loaded from Darknet (0 and *heads NULL for
 * other graphs); *heads stays valid while the graph lives. */
int fa_nn_graph_yolo_heads(const fa_nn_graph *g, const fa_nn_yolo_head **heads);

/* ----------------------------------------------------------------- models */

typedef struct fa_nn_options {
    /* "auto" (NULL too): native (measured the faster of the two CPU
     * backends on every model here); "native"; "onednn";
     * "cuda": the whole graph on an NVIDIA GPU through the plugin
     * libfa_nn_cuda.so (built where nvcc is: FA_WITH_CUDA; found beside the
     * program or at $FA_NN_CUDA_LIB), fp32 or fp16 (weights and activations
     * half, accumulation fp32); FA_EUNAVAIL with the reason when the plugin
     * or a device is missing. */
    const char *backend;
    /* fa_nn_precision (kernels.h): FA_NN_FP32; FA_NN_FP16 (conv weights
     * stored as half, computed in fp32: native only, "auto" picks native,
     * "onednn" is FA_EINVAL); FA_NN_INT8 only with a .fanq model (a .fanq
     * file is INT8 whatever this says). */
    int precision;
    int threads;   /* 0 or 1: single-threaded; N > 1: at most N threads of the pool per run */
    fa_pool *pool; /* the pool threads come from; NULL: fa_pool_default() when threads > 1 */
} fa_nn_options;

typedef struct fa_nn_model fa_nn_model;
typedef struct fa_nn_session fa_nn_session;

/* What a model is, for `model info`. */
typedef struct fa_nn_info {
    const char *backend;              /* the backend chosen */
    size_t nodes;                     /* nodes left to run after folding and fusion */
    size_t op_counts[FA_NN_OP_COUNT]; /* of those, per op */
    size_t params;                    /* float weights held by constants and convolutions */
    uint64_t macs;                    /* multiply-accumulates of the convolutions at batch 1 */
    size_t folded_constants;          /* nodes evaluated at load */
    size_t fused_batchnorm;           /* BatchNormalization nodes folded into a Conv */
    size_t fused_act;                 /* activations fused into a Conv */
    size_t fused_shuffles;            /* channel shuffles fused into one copy (counted apart from op_counts) */
    size_t weight_bytes;              /* bytes the backend holds for prepared convolutions */
    int precision;                    /* fa_nn_precision of the model */
    size_t int8_convs;                /* INT8 models: convolutions run int8 (the others fp32) */
    size_t int8_tensors;              /* INT8 models: tensors kept int8 between operators */
} fa_nn_info;

/* Loads a model: parses it (ONNX by extension .onnx; Darknet by .cfg, with
 * the weights beside it: x.cfg -> x.weights; an INT8 quantised model by
 * .fanq: see fa_nn_quant_save), simplifies the graph
 * and prepares every convolution on the backend. o may be NULL (defaults).
 * NULL with the error set (FA_EINVAL for a bad file or option, naming it). */
fa_nn_model *fa_nn_model_load(const char *path, const fa_nn_options *o);
/* The same from a graph the caller built (ownership passes to the model,
 * freed on error too). */
fa_nn_model *fa_nn_model_from_graph(fa_nn_graph *g, const fa_nn_options *o);
void fa_nn_model_free(fa_nn_model *m);

const fa_nn_graph *fa_nn_model_graph(const fa_nn_model *m);
/* The first input's shape as the file declares it; returns its rank. */
int fa_nn_model_input_shape(const fa_nn_model *m, int64_t shape[FA_NN_MAX_RANK]);
int fa_nn_model_output_count(const fa_nn_model *m);
const char *fa_nn_model_output_name(const fa_nn_model *m, int i);
/* Index of the output called name, or -1. */
int fa_nn_model_output_index(const fa_nn_model *m, const char *name);
void fa_nn_model_info(const fa_nn_model *m, fa_nn_info *info);

/* A session runs a model at a batch size (>= 1); one per thread. NULL with
 * the error set (FA_EINVAL when the batch does not fit the graph). */
fa_nn_session *fa_nn_session_new(const fa_nn_model *m, int batch);
void fa_nn_session_free(fa_nn_session *s);
/* Runs the model on input (the first graph input, NCHW float32 with the
 * session's batch), on the model's threads (options.threads; the caller's
 * thread works too). outputs[i] receives a pointer to output i inside the
 * session, valid until the next run or free (outputs may be NULL: use
 * fa_nn_session_output). 0 or < 0 with the error set. */
int fa_nn_run(fa_nn_session *s, const float *input, float **outputs);
/* Output i of the last run and its shape (rank returned), or NULL. */
const float *fa_nn_session_output(const fa_nn_session *s, int i, int64_t shape[FA_NN_MAX_RANK], int *rank);
/* Bytes of the session's working arena (activations + conv workspace). */
size_t fa_nn_session_peak_bytes(const fa_nn_session *s);

/* ------------------------------------------------- INT8 quantisation */

/* How activation ranges are chosen from calibration data (per tensor,
 * symmetric: scale = threshold / 127):
 *   MINMAX: the largest |x| seen;
 *   PERCENTILE: the given percentile of |x| (default 99.99) over a
 *     2048-bin histogram of |x| in [0, max];
 *   ENTROPY: the threshold (bin 128..2048 of that histogram) whose 128-level
 *     quantised distribution has the least KL divergence from the clipped
 *     original (TensorRT's / ncnn's method). */
typedef enum fa_nn_calib_method {
    FA_NN_CALIB_MINMAX = 0,
    FA_NN_CALIB_PERCENTILE = 1,
    FA_NN_CALIB_ENTROPY = 2
} fa_nn_calib_method;

typedef struct fa_nn_calib_options {
    fa_nn_calib_method method;
    double percentile; /* PERCENTILE: in (50, 100]; 0: 99.99 */
    int fp32_heads;    /* 1: the head convs (those whose outputs reach a graph output through
                        * non-conv ops only) stay fp32; 0: int8 like the rest */
} fa_nn_calib_options;

typedef struct fa_nn_quant fa_nn_quant;

/* Calibrates an INT8 quantisation of m (an FP32 model loaded from a file
 * with fa_nn_model_load) by running it on n real preprocessed inputs
 * (inputs[i]: one image, NCHW float32 of the model's input shape) and
 * recording the range of every tensor a Conv reads or writes; weights are
 * quantised per output channel (max |w| / 127); the first conv (on the
 * graph input) stays fp32, and the heads too with o->fp32_heads. o may be
 * NULL (percentile 99.99, heads int8).
 * NULL with the error set: FA_EINVAL (no inputs, fp32 model needed, bad
 * option), FA_ENOMEM, or a run's error. */
fa_nn_quant *fa_nn_calibrate(const fa_nn_model *m, const float *const *inputs, size_t n,
                             const fa_nn_calib_options *o);
/* Checks the quantised model file at path without building the model:
 * it parses, and its source model (beside it, else at its stored path)
 * still has the SHA-256 it records. 0, or the error naming the file and
 * the problem (a cache uses it to tell a usable entry from a stale one). */
int fa_nn_quant_file_check(const char *path);
/* SHA-256 of the model file at path (a Darknet .cfg: the cfg, then its
 * .weights), the hash a .fanq records of its source. 0, FA_ENOTFOUND,
 * FA_EIO or FA_ENOMEM, naming the file. */
int fa_nn_model_file_sha256(const char *path, unsigned char out[32]);
/* Writes q as a quantised model file (format in quant.c; by convention
 * named *.fanq and kept beside its source model, whose name and SHA-256 it
 * stores). 0, FA_EIO or FA_EINVAL (q NULL). */
int fa_nn_quant_save(const fa_nn_quant *q, const char *path);
/* The activation scale recorded for the tensor called name (real = scale
 * * q), 0 when it has none or does not exist. */
float fa_nn_quant_scale(const fa_nn_quant *q, const fa_nn_model *m, const char *name);
void fa_nn_quant_free(fa_nn_quant *q);

/* Mixed precision (quant.c): after calibration, the convolutions whose
 * int8 form moves the outputs most stay fp32. */
#define FA_NN_KEEP_MAX 64 /* convs fa_nn_quant_keep_fp32 may keep */
typedef struct fa_nn_keep_report {
    double drift_int8, drift_mixed; /* every conv of q int8 / after keeping */
    int kept;                       /* convs turned back to fp32 */
    int node[FA_NN_KEEP_MAX];       /* which, most sensitive first */
    double drift[FA_NN_KEEP_MAX];   /* each one's drift alone int8 */
} fa_nn_keep_report;
/* Turns the count most sensitive quantised convs of q (by
 * fa_nn_quant_sensitivity on the n inputs) back to fp32: their records
 * leave q, so a saved file runs them fp32. count 0..FA_NN_KEEP_MAX (fewer
 * when q quantises fewer). 0 or < 0 as fa_nn_quant_sensitivity. */
int fa_nn_quant_keep_fp32(fa_nn_quant *q, const fa_nn_model *m, const float *const *inputs, size_t n,
                          int count, fa_nn_keep_report *rep);

#endif
