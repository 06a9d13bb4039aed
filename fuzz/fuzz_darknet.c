/*
 * fuzz_darknet.c - libFuzzer target for the Darknet loader and the graph
 * passes on its graphs.
 *
 * Input format (one buffer holds both files): a little-endian u32 cfg
 * length, the cfg text, then the weights bytes. When the network loads and
 * its tensors are small, it is simplified, prepared on the native backend
 * and run once on zeros, as fuzz_onnx.c does for ONNX graphs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/core.h"
#include "nn/nn_internal.h"

/* Elements of all the graph's tensors as inferred at load (stops counting past the cap). */
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
    if (size < 4) return 0;
    size_t cfg_len = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    if (cfg_len > size - 4) return 0;
    fa_nn_graph *g = fa_nn_darknet_load_mem("fuzz.cfg", (const char *)data + 4, cfg_len, "fuzz.weights",
                                            data + 4 + cfg_len, size - 4 - cfg_len);
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
