/*
 * fuzz_onnx.c - libFuzzer target for the ONNX loader and the graph passes.
 *
 * Each input is parsed as a model from memory. When it loads, the graph is
 * simplified and its convolutions prepared on the native backend, and when
 * its tensors are small (so that a run stays fast and within the fuzzer's
 * memory limit) a session runs it once on zeros: shape inference, constant
 * folding, fusion, memory planning and every operator see hostile graphs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/core.h"
#include "nn/nn_internal.h"

/* Elements of all the graph's tensors as inferred at load. */
static int64_t graph_elements(const fa_nn_graph *g) {
    int64_t total = 0;
    for (size_t i = 0; i < fa_nn_graph_tensor_count(g); i++) {
        const fa_nn_tensor *t = fa_nn_graph_tensor(g, (int)i);
        int64_t n = 1;
        for (int d = 0; d < t->rank; d++)
            n *= t->shape[d];
        total += n;
        if (total > (1 << 22)) return total;
    }
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fa_nn_graph *g = fa_nn_onnx_load_mem("fuzz.onnx", data, size);
    if (!g) return 0;
    if (graph_elements(g) > (1 << 22)) {
        fa_nn_graph_free(g);
        return 0;
    }
    fa_nn_model *m = fa_nn_model_from_graph(g, &(fa_nn_options){.backend = "native"});
    if (!m) return 0;
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
    return 0;
}
