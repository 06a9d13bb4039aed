/*
 * batcher.h - the dynamic batcher (issue 5): concurrent callers each submit
 * one input and block until their outputs are ready; the batcher groups
 * up to max_batch waiting inputs into one session run, waiting at most
 * max_wait_us after the oldest waiting input arrived for others to join.
 *
 * What it is for: a GPU (or any backend whose cost per image falls with the
 * batch) serving many request threads, and fairness between them (inputs
 * are served oldest first). On a 2-core CPU a batch of 4 costs as much per
 * image as a batch of 1, so there it only adds the wait: use max_wait_us 0.
 *
 * Outputs are copied into the caller's buffers (one per model output, of
 * fa_nn_batcher_output_size floats each): the call is synchronous, like a
 * plain fa_nn_run, so callers need no callback or completion object.
 */
#ifndef FA_NN_BATCHER_H
#define FA_NN_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

typedef struct fa_nn_batcher fa_nn_batcher;

typedef struct fa_nn_batcher_stats {
    uint64_t batches;  /* session runs */
    uint64_t requests; /* inputs served by them (ok or failed) */
    uint64_t failed;   /* of those, inputs whose batch failed */
    int largest;       /* the largest batch run */
    double mean_batch; /* requests / batches (0 before the first) */
    int pending;       /* inputs waiting now (not yet in a running batch) */
} fa_nn_batcher_stats;

/* A batcher for model m (not owned: it must outlive the batcher; a model
 * from fa_nn_cache_get is fine), batches of 1 to max_batch (>= 1), waiting
 * at most max_wait_us (>= 0) for a batch to fill. One session per batch
 * size used is created on first use and kept. NULL with FA_EINVAL (bad
 * arguments, named) or FA_ENOMEM. */
fa_nn_batcher *fa_nn_batcher_new(const fa_nn_model *m, int max_batch, int64_t max_wait_us);

/* Shuts the batcher down: inputs already submitted are run at once (no
 * more waiting for the batch to fill) and their callers answered; calls
 * that arrive after shutdown began fail with FA_EUNAVAIL. Returns when no
 * caller is inside the batcher any more, then frees it. No call may start
 * after fa_nn_batcher_free has returned. */
void fa_nn_batcher_free(fa_nn_batcher *b);

/* Floats of one input (the model input's size at batch 1) and of one
 * image's output i. */
size_t fa_nn_batcher_input_size(const fa_nn_batcher *b);
int fa_nn_batcher_output_count(const fa_nn_batcher *b);
size_t fa_nn_batcher_output_size(const fa_nn_batcher *b, int i);

/* Runs the model on one input (fa_nn_batcher_input_size floats, NCHW for
 * one image) as part of a batch, and copies this input's slice of every
 * output i into outputs[i] (fa_nn_batcher_output_size(b, i) floats).
 * Blocks until done. The calling thread may itself run the batch (the
 * oldest waiting caller does; there is no batcher thread). 0, or < 0 with
 * the error set: the run's error for every caller of a failed batch,
 * FA_EINVAL for bad arguments, FA_EUNAVAIL after shutdown began. */
int fa_nn_batcher_run(fa_nn_batcher *b, const float *input, float *const *outputs);

void fa_nn_batcher_stats_get(fa_nn_batcher *b, fa_nn_batcher_stats *st);

#endif
