/*
 * fuzz_skillcorner.c - libFuzzer target for the SkillCorner importer.
 *
 * The importer takes two files, so each input is split at the first
 * "\n----\n" (fuzz_split): the part before is the match data JSON, the part
 * after the v3 tracking JSON Lines. An input without the separator is match
 * data alone (tracking NULL), the importer's other mode. Both parts go to
 * memfd files; the sink touches every field it is handed.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *second;
    size_t second_len;
    size_t first_len = fuzz_split(data, size, &second, &second_len);
    const char *match = fuzz_memfile(0, data, first_len);
    if (!match) return 0;
    const char *tracking = NULL;
    if (first_len < size) {
        tracking = fuzz_memfile(1, second, second_len);
        if (!tracking) return 0;
    }
    fa_skillcorner_import(match, tracking, &fuzz_sink);
    fa_err_clear();
    return 0;
}
