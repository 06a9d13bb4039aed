/*
 * fuzz_darknet.c - libFuzzer target for the Darknet loader and the graph
 * passes on its graphs.
 *
 * Input format (one buffer holds both files): a little-endian u32 cfg
 * length, the cfg text, then the weights bytes. When the network loads and
 * its tensors are small, it is simplified, prepared on the native backend
 * and run once on zeros, as fuzz_onnx.c does for ONNX graphs.
 */
#include "fuzz_nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t cfg_len = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    if (cfg_len > size - 4) return 0;
    fa_nn_graph *g = fa_nn_darknet_load_mem("fuzz.cfg", (const char *)data + 4, cfg_len, "fuzz.weights",
                                            data + 4 + cfg_len, size - 4 - cfg_len);
    fuzz_nn_run(g);
    return 0;
}
