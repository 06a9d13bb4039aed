/*
 * fuzz_nn.h - what the model-loader fuzz targets (fuzz_onnx.c,
 * fuzz_darknet.c) do with a graph that loaded: when its tensors are small
 * (so that a run stays fast and within the fuzzer's memory limit), build a
 * model on the native backend and run a session once on zeros, so that
 * shape inference, constant folding, fusion, memory planning and every
 * operator see hostile graphs.
 */
#ifndef FA_FUZZ_NN_H
#define FA_FUZZ_NN_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/core.h"
#include "nn/nn_internal.h"

#define FUZZ_NN_MAX_ELEMENTS (1 << 22)

/* Elements of all the graph's tensors as inferred at load (stops counting past the cap). */
static inline int64_t fuzz_nn_graph_elements(const fa_nn_graph *g) {
    int64_t total = 0;
    for (size_t i = 0; i < fa_nn_graph_tensor_count(g); i++) {
        const fa_nn_tensor *t = fa_nn_graph_tensor(g, (int)i);
        int64_t n = 1;
        for (int d = 0; d < t->rank; d++)
            n *= t->shape[d];
        total += n;
        if (total > FUZZ_NN_MAX_ELEMENTS) return total;
    }
    return total;
}

/* Takes g (NULL: nothing loaded) and frees everything. */
static inline void fuzz_nn_run(fa_nn_graph *g) {
    if (!g) return;
    if (fuzz_nn_graph_elements(g) > FUZZ_NN_MAX_ELEMENTS) {
        fa_nn_graph_free(g);
        return;
    }
    fa_nn_model *m = fa_nn_model_from_graph(g, &(fa_nn_options){.backend = "native"});
    if (!m) return;
    fa_nn_session *s = fa_nn_session_new(m, 1);
    int64_t shape[FA_NN_MAX_RANK];
    int rank = fa_nn_model_input_shape(m, shape);
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    float *in = s ? calloc((size_t)n + 1, sizeof *in) : NULL;
    if (in) fa_nn_run(s, in, NULL);
    free(in);
    fa_nn_session_free(s);
    fa_nn_model_free(m);
}

#endif
