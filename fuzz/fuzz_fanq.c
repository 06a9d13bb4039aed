/*
 * fuzz_fanq.c - libFuzzer target for the quantised model file (.fanq) reader.
 *
 * Each input is parsed as a whole .fanq image: header, source path and
 * hash, graph sizes, activation scales, per-channel weight scales and int8
 * weights, end marker. The reader must refuse anything malformed with an
 * error naming the byte offset, never read out of bounds, never allocate
 * without a bound, never leak. What loads is freed again.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "nn/nn_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fa_nn_quant *q = fa_nn_quant_parse("fuzz.fanq", data, size);
    if (!q && fa_err_msg()[0] == '\0') __builtin_trap(); /* a refusal must say why */
    fa_nn_quant_free(q);
    fa_err_clear();
    return 0;
}
