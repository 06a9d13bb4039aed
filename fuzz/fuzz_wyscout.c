/*
 * fuzz_wyscout.c - libFuzzer target for the Wyscout v2 events importer.
 *
 * The whole input is the events file (an object with "events", "teams" and
 * "players", or a bare array), handed over as a memfd file; the sink
 * touches every event and player it is given.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fa_log_set_level(FA_LOG_ERROR); /* the per-import info line would flood the run */
    const char *path = fuzz_memfile(0, data, size);
    if (!path) return 0;
    fa_wyscout_import(path, &fuzz_sink);
    fa_err_clear();
    return 0;
}
