/*
 * nn_internal.h - internal to src/nn: the graph's representation and the
 * functions the loader, the graph passes, the operators and the runtime
 * share. Not a public face: only src/nn and its tests include it.
 */
#ifndef FA_NN_INTERNAL_H
#define FA_NN_INTERNAL_H

#include "nn/kernels.h"
#include "nn/nn.h"

typedef struct fa_nn_shape {
    int rank;
    int64_t d[FA_NN_MAX_RANK];
} fa_nn_shape;

/* A fused channel shuffle (fuse_shuffle.c): Concat -> Reshape/Transpose
 * chain -> (Split or Gathers) replaced by one node that copies each output
 * channel straight from the Concat's inputs. Output o, channel k of image
 * n is channel src[first(o) + k] of image n of the concatenation of the
 * node's inputs along axis 1 (first(o): the channels of outputs < o);
 * the dims after the channel are the inputs'. */
typedef struct fa_nn_shuffle {
    size_t node;                    /* the node it describes */
    int64_t n_channels;             /* channels of the concatenation */
    int n_out;                      /* outputs of the node */
    int64_t channels[FA_NN_MAX_IO]; /* channels of each output */
    int64_t *src;                   /* per output, per channel: its channel in the concatenation (owned) */
} fa_nn_shuffle;

struct fa_nn_graph {
    char *file; /* base name, for messages */
    int opset;
    fa_nn_tensor *tensors;
    size_t n_tensors, cap_tensors;
    fa_nn_node *nodes;
    size_t n_nodes, cap_nodes;
    int inputs[FA_NN_MAX_IO], n_inputs;
    int outputs[FA_NN_MAX_IO], n_outputs;
    int *hash; /* open addressing over tensor names: ids, -1 empty */
    size_t hash_cap;
    size_t folded, fused_bn, fused_act; /* what the passes did */
    fa_nn_shuffle *shuffles;            /* fused channel shuffles (fuse_shuffle.c), owned */
    size_t n_shuffles, cap_shuffles;
    fa_nn_yolo_head *yolo; /* Darknet [yolo] heads (darknet.c), owned */
    int n_yolo;
};

/* A new empty graph named after file (its base name is kept). NULL: ENOMEM. */
fa_nn_graph *fa_nn_graph_new(const char *file);
/* Id of the tensor called name[0..len), created (float, rank 0, no data)
 * when create is set. >= 0, FA_ENOTFOUND when absent, FA_ENOMEM. */
int fa_nn_graph_tensor_id(fa_nn_graph *g, const char *name, size_t len, int create);
/* Appends a node with ONNX's default attributes; NULL on ENOMEM. The
 * pointer is valid until the next append. */
fa_nn_node *fa_nn_graph_add_node(fa_nn_graph *g, fa_nn_op op);
/* Elements of a shape (1 for rank 0). */
int64_t fa_nn_shape_count(const fa_nn_shape *s);
/* Bytes of one element of a dtype. */
size_t fa_nn_dtype_size(fa_nn_dtype dt);

/* Infers the output shapes (and the graph tensors' dtypes) of every live
 * node in order, from the graph inputs' and the constants' shapes, into
 * shapes[] (one per tensor). batch 0 is the load-time pass: the declared
 * batch, and every node whose inputs are all constants is evaluated and
 * becomes constants (folding, so later shape inputs are known). batch > 0
 * sets the inputs' first dim (Reshape targets that hard-code the file's
 * batch follow it). 0 or FA_EINVAL naming the node and the reason. */
int fa_nn_graph_infer(fa_nn_graph *g, fa_nn_shape *shapes, int batch);
/* The same, read-only (dtypes already set): for sessions. */
int fa_nn_graph_infer_shapes(const fa_nn_graph *g, fa_nn_shape *shapes, int batch);
/* Load-time passes: validates and infers at the declared batch (folding
 * constants), folds BatchNormalization into the preceding Conv and fuses a
 * following Relu / LeakyRelu / Sigmoid into it, then fuses channel
 * shuffles (fa_nn_graph_fuse_shuffles). 0 or < 0. */
int fa_nn_graph_prepare(fa_nn_graph *g);

/* Fuses the channel shuffles of ShuffleNet-style graphs (fuse_shuffle.c):
 * a Concat along the channels whose output only goes through Reshape and
 * Transpose nodes (at least one Transpose) and then into Split or
 * constant-index Gather nodes (at least one Gather: a chain of only
 * Concat / Reshape / Transpose / Split runs int8 in INT8 models and is
 * left alone, see fuse_shuffle.c), becomes one node writing the chain's
 * final tensors straight from the Concat's inputs: one copy of the data
 * instead of three or four. Then a fused shuffle that alone reads another
 * one's output reads that output's sources instead (ShuffleNet's
 * pass-through half), and the other stops writing it. The chain's effect is found by
 * running it at load on tensors of element indices, at batch 1 and 2, and
 * it is fused only when every output channel is a whole input channel of
 * the same image. The fused node keeps the Concat's place and name, and
 * has op Gather as its carrier (fa_nn_op has no slot for it: nn.h is a
 * public face) with g->shuffles describing it; the chain's other nodes
 * (and a shuffle left with no output) are marked dead; no tensor or node
 * is added. Not run when the
 * environment sets FA_NN_NO_SHUFFLE_FUSION=1 (for measuring the pass).
 * Called by fa_nn_graph_prepare after the other passes. 0, FA_ENOMEM. */
int fa_nn_graph_fuse_shuffles(fa_nn_graph *g);
/* The fused shuffle node nd is, or NULL for every other node. */
const fa_nn_shuffle *fa_nn_node_shuffle(const fa_nn_graph *g, const fa_nn_node *nd);
/* Frees g's shuffle descriptions (by fa_nn_graph_free). */
void fa_nn_graph_free_shuffles(fa_nn_graph *g);

/* Runs one non-Conv node: bufs[id] is the data of tensor id (inputs filled,
 * outputs allocated to their shapes). 0 or FA_EINVAL naming the node. */
int fa_nn_op_run(const fa_nn_graph *g, const fa_nn_node *nd, const fa_nn_shape *shapes, void *const *bufs);

/* 0 when the environment sets FA_NN_OPS_FAST=0: the plain Resize / Add /
 * Transpose loops of ops.c and no fusion of non-conv nodes in sessions
 * (runtime.c), for timing them against the fast paths; 1 otherwise. */
int fa_nn_ops_fast(void);
/* Whether Resize node rs and Add node ad, which reads rs's output as one
 * of its two inputs, may run as one pass (fa_nn_op_resize_add): a
 * bilinear fp32 4-D Resize, an Add of two same-sized tensors, and the
 * switch FA_NN_OPS_FAST not 0. Does not check who else reads the
 * Resize's output: the caller's part (runtime.c). */
int fa_nn_resize_add_fusable(const fa_nn_graph *g, const fa_nn_node *rs, const fa_nn_node *ad,
                             const fa_nn_shape *shapes);
/* Runs them as one pass: ad's output = its other input + rs's input
 * resized, element by element, bitwise what running rs then ad gives,
 * without reading or writing rs's output (rs's input must still be
 * valid). 0 or FA_ENOMEM naming both nodes. */
int fa_nn_op_resize_add(const fa_nn_graph *g, const fa_nn_node *rs, const fa_nn_node *ad,
                        const fa_nn_shape *shapes, void *const *bufs);

/* Whether node nd can run with its input 0 read as `blocks` equal blocks
 * found anywhere (fa_nn_op_run_blocks): a Sigmoid, or a Transpose that is
 * a batch of `blocks` 2-D float transposes (a detector head's [N][C][HW]
 * -> [N][HW][C]); and FA_NN_OPS_FAST not 0. */
int fa_nn_op_blocks_ok(const fa_nn_graph *g, const fa_nn_node *nd, const fa_nn_shape *shapes, int64_t blocks);
/* Runs such a node (fa_nn_op_blocks_ok said 1) on input 0's elements
 * taken as blocks: block b (of count / blocks floats) at x + b * stride,
 * instead of from bufs (runtime.c: a Split's part, read where the Split's
 * input holds it). sigmoid_first (a Transpose only): the elements go
 * through a Sigmoid first (one fused into it). Output as fa_nn_op_run
 * gives it (after fa_nn_op_run of that Sigmoid), bitwise. */
void fa_nn_op_run_blocks(const fa_nn_graph *g, const fa_nn_node *nd, const fa_nn_shape *shapes,
                         void *const *bufs, const float *x, int64_t blocks, int64_t stride,
                         int sigmoid_first);

/* Resize node nd's index tables (what the CPU operator uses): for each
 * output row, then each output column, the two source indices and the
 * weight of the second (nearest: equal indices, weight 0). The arrays
 * hold OH + OW entries; bufs gives the constant scales input. */
void fa_nn_resize_tables(const fa_nn_node *nd, const fa_nn_shape *shapes, void *const *bufs, int64_t *i0,
                         int64_t *i1, float *wt);

/* Naive reference convolution (conv_ref.c): obviously correct, slow; for
 * tests and as a numerical reference. */
void fa_nn_conv_reference(const fa_nn_conv_params *p, const float *in, const float *w, const float *b,
                          float *out);

/* ---- INT8 and calibration (quant.c, runtime.c) ---- */

/* A calibrated quantisation of a graph (what a .fanq file holds): the
 * activation scale of every tensor a Conv reads or writes (0: none), and
 * per live Conv node its int8 weights [c_out][k] and per output channel
 * scales (NULL: the conv runs fp32). Indexed by the graph's tensor ids and node positions after
 * fa_nn_graph_prepare (deterministic for a given source file). */
struct fa_nn_quant {
    char *source;                /* the source model path as given at calibration */
    unsigned char sha256[32];    /* of the source file */
    int method;                  /* fa_nn_calib_method */
    float percentile;
    size_t n_tensors, n_nodes;
    float *act_scale;            /* [n_tensors] */
    float **w_scale;             /* [n_nodes]: [c_out] or NULL */
    int8_t **w_q;                /* [n_nodes]: [c_out * k] or NULL */
    int32_t *c_out, *k;          /* [n_nodes] */
};

/* Called after each node of an observed run with every fp32 tensor it
 * wrote (all images of the batch). */
typedef void (*fa_nn_observe_fn)(void *ud, int tensor, const float *data, size_t n);
/* fa_nn_run with fn called after each node (fp32 models only). 0 or < 0. */
int fa_nn_run_observe(fa_nn_session *s, const float *input, fa_nn_observe_fn fn, void *ud);
/* The path the model was loaded from (NULL when built from a graph). */
const char *fa_nn_model_path(const fa_nn_model *m);
/* The model's precision (fa_nn_precision). */
int fa_nn_model_precision(const fa_nn_model *m);
/* fa_nn_model_from_graph with an INT8 quantisation (q, checked against the
 * graph; NULL for fp32/fp16) and the path to remember. */
fa_nn_model *fa_nn_model_build(fa_nn_graph *g, const fa_nn_options *o, const fa_nn_quant *q,
                               const char *path);
/* Reads a .fanq file and checks its source model (found beside it, else at
 * the stored path) has the stored SHA-256; *source receives the source's
 * path (malloc'd). NULL with FA_EINVAL naming the file, byte offset and
 * field, FA_EIO / FA_ENOTFOUND, FA_ENOMEM. */
fa_nn_quant *fa_nn_quant_load(const char *path, char **source);
/* Parses a whole .fanq image from memory (name for messages), validating
 * every field, without looking for the source model. NULL with FA_EINVAL
 * naming the byte offset and the field, or FA_ENOMEM. */
fa_nn_quant *fa_nn_quant_parse(const char *name, const unsigned char *data, size_t len);
/* 0 when q fits graph g (prepared): tensor and node counts, every live
 * Conv quantised with its shape, scales finite > 0; else FA_EINVAL. */
int fa_nn_quant_check(const fa_nn_quant *q, const fa_nn_graph *g, const char *file);

/* Mixed precision. The drift of a quantisation: per graph output, its
 * squared error over the fp32 output's energy (both summed over the probe
 * inputs), averaged over the outputs (0: identical; NanoDet-m all int8 ~0.02).
 * fa_nn_quant_sensitivity: *all_drift with q as it is, and per node k
 * drift[k] (n_nodes entries) with conv k alone int8 and every other conv
 * fp32 (0 for nodes q does not quantise). m: the fp32 model q was
 * calibrated from (loaded from a file: the graph is re-read for each
 * variant). 0, FA_EINVAL, FA_ENOMEM or a run's error. */
int fa_nn_quant_sensitivity(const fa_nn_model *m, const fa_nn_quant *q, const float *const *inputs, size_t n,
                            double *drift, double *all_drift);

#endif
