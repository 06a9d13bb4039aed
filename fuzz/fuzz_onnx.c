/*
 * fuzz_onnx.c - libFuzzer target for the ONNX loader and the graph passes.
 *
 * Each input is parsed as a model from memory. When it loads, the graph is
 * simplified and its convolutions prepared on the native backend, and when
 * its tensors are small (so that a run stays fast and within the fuzzer's
 * memory limit) a session runs it once on zeros: shape inference, constant
 * folding, fusion, memory planning and every operator see hostile graphs.
 */
#include "fuzz_nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fa_nn_graph *g = fa_nn_onnx_load_mem("fuzz.onnx", data, size);
    fuzz_nn_run(g);
    return 0;
}
