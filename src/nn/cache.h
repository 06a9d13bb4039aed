/*
 * cache.h - the model cache (issue 5): a registry of loaded models shared
 * read-only by every thread of the process, so that N request threads
 * running the same detector hold its weights once.
 *
 * A model is keyed by what a load makes of it: the SHA-256 of the file's
 * content (for Darknet, of the .cfg then the .weights), the precision (a
 * .fanq file is INT8), the backend actually used ("auto" resolves to the
 * backend the runtime picks), the threads it runs on with their pool (a
 * model keeps options.threads and options.pool; threads <= 1 are one key,
 * and a NULL pool with threads > 1 is the default pool), and the input shape
 * the caller asks for. The path is not the key: two copies of one file
 * share an entry, and a file overwritten on disk is a new entry. Getters of
 * a key being loaded wait for that one load.
 *
 * Memory: an entry costs fa_nn_cache_model_bytes() of its model. When the
 * sum over the cache exceeds the budget, unreferenced entries are evicted,
 * least recently used first. A model in use is never evicted, so the sum
 * may exceed the budget while callers hold more than it allows.
 *
 * Every function is thread-safe. The cache object is created by its owner
 * (usually once per process) and passed around; it is not a global.
 */
#ifndef FA_NN_CACHE_H
#define FA_NN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

typedef struct fa_nn_cache fa_nn_cache;

/* Counters for /metrics (cumulative since fa_nn_cache_new, except the
 * gauges entries, in_use and bytes). */
typedef struct fa_nn_cache_stats {
    uint64_t hits;        /* gets answered by a loaded entry, or by waiting for another getter's load
                             (a getter whose wait ends in a failed load is neither hit nor miss) */
    uint64_t misses;      /* gets that started a load */
    uint64_t load_errors; /* loads that failed (never cached) */
    uint64_t evictions;   /* entries freed to stay under the budget */
    size_t entries;       /* models held now */
    size_t in_use;        /* of those, referenced by at least one caller */
    size_t bytes;         /* sum of their fa_nn_cache_model_bytes */
    size_t budget;        /* the budget given to fa_nn_cache_new */
} fa_nn_cache_stats;

/* A cache holding at most budget_bytes of unreferenced models (0: keep
 * nothing once released). NULL with FA_ENOMEM. */
fa_nn_cache *fa_nn_cache_new(size_t budget_bytes);
/* Frees the cache and every model in it. Every model got from it must have
 * been released (a programmer error otherwise: those are freed too). */
void fa_nn_cache_free(fa_nn_cache *c);

/* The model for path loaded with options o (NULL: defaults, as for
 * fa_nn_model_load) for input_shape (rank dims, batch first; rank 0 or
 * input_shape NULL: the file's own shape). A shape whose dimensions after
 * the batch differ from the ones the file declares is refused (FA_EINVAL):
 * the runtime cannot reshape a model's input. The model is shared and
 * read-only: run it through sessions of your own, and hand it back with
 * fa_nn_cache_release, once per successful get.
 * NULL with the error set: what fa_nn_model_load says (every getter that
 * waited for a failed load gets the same code and message, and the next get
 * tries again), FA_ENOTFOUND / FA_EIO when a file cannot be read to hash. */
const fa_nn_model *fa_nn_cache_get(fa_nn_cache *c, const char *path, const fa_nn_options *o,
                                   const int64_t *input_shape, int rank);
/* Drops one reference to m (a model from fa_nn_cache_get of this cache).
 * The entry stays cached until evicted. FA_EINVAL when m is not one of the
 * cache's referenced models (nothing changes then). */
int fa_nn_cache_release(fa_nn_cache *c, const fa_nn_model *m);

void fa_nn_cache_stats_get(fa_nn_cache *c, fa_nn_cache_stats *st);

/* What a cached model is counted as: the backend's prepared weights
 * (info.weight_bytes) plus the float constants the graph keeps
 * (info.params * 4: the graph still holds the original weights, biases
 * and folded constants next to the backend's packed copy). */
size_t fa_nn_cache_model_bytes(const fa_nn_model *m);

#endif
