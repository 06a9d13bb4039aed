/*
 * prune.h - structured channel pruning of a loaded graph (issue 5,
 * "Pruning"): removes the least important output channels of the
 * convolutions whose channels can go without changing any shape the rest
 * of the graph depends on, and the matching input channels of the
 * convolutions that read them. The pruned graph is then given to
 * fa_nn_model_from_graph like any other.
 *
 * Which convolutions: one whose output reaches only other convolutions'
 * data inputs, possibly through channel-wise ops (Relu, LeakyRelu,
 * Sigmoid, BatchNormalization, MaxPool, AveragePool) and depthwise
 * convolutions (whose channels go with their input's). Never one whose
 * channels reach a Concat, Reshape, Split, Add, Transpose, Gather, Resize,
 * Softmax, Pad or a graph output: those fix the channel count or mix it
 * with another tensor's.
 */
#ifndef FA_NN_PRUNE_H
#define FA_NN_PRUNE_H

#include <stdint.h>

#include "nn/nn.h"

typedef enum fa_nn_prune_method {
    FA_NN_PRUNE_L1 = 0,      /* L1 norm of the channel's filter (weights of one output channel) */
    FA_NN_PRUNE_BN_GAMMA = 1 /* |gamma| of the BatchNormalization right after the conv; L1 where none */
} fa_nn_prune_method;

typedef struct fa_nn_prune_report {
    int convs_total;         /* live Conv nodes */
    int convs_prunable;      /* of those, whose output channels may go */
    int convs_pruned;        /* of those, that lost at least one channel */
    int ranked_by_gamma;     /* pruned convs ranked by BatchNorm |gamma| */
    int64_t channels_before; /* output channels of the prunable convs */
    int64_t channels_after;
    uint64_t params_before, params_after; /* float constants read by live nodes */
    uint64_t macs_before, macs_after;     /* multiply-accumulates of the convs at batch 1 */
} fa_nn_prune_report;

/* Prunes g in place: each prunable conv (above) of C output channels loses
 * its floor(ratio * C) lowest-ranked channels (at least one is kept; ties
 * keep the lower index), ranked by method; the channel-wise ops and
 * depthwise convs after it lose the same channels, and the convolutions
 * that read them lose those input channels. g is a graph from a loader
 * (before or after fa_nn_graph_prepare); shapes are re-inferred. out may be
 * NULL. 0, or FA_EINVAL (ratio outside [0, 1), a graph whose shapes do not
 * infer) or FA_ENOMEM; on error g may be partly pruned: free it. */
int fa_nn_prune(fa_nn_graph *g, float ratio, fa_nn_prune_method method, fa_nn_prune_report *out);

#endif
