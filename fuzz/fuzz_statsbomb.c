/*
 * fuzz_statsbomb.c - libFuzzer target for the StatsBomb events + lineups
 * importer.
 *
 * The input is the events file, optionally followed by "\n----\n" and a
 * lineups file (fuzz_split); each part is handed over as a memfd file. The
 * sink checks what the parser promises of every record it emits (valid UTF-8
 * strings, known sides and periods, coordinates on or near the pitch, finite
 * minutes) and traps when a promise is broken, so the fuzzer reports it like
 * a crash.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "ingest/ingest.h"

/* 130 yards of a 120-yard frame, scaled to 105 m, halved: generous bounds. */
#define SB_FUZZ_MAX_X (130.0 / 120.0 * 105.0)
#define SB_FUZZ_MAX_Y (90.0 / 80.0 * 68.0)

static int sb_fuzz_event(void *ud, const fa_event *e) {
    (void)ud;
    fuzz_check_event(e, SB_FUZZ_MAX_X, SB_FUZZ_MAX_Y);
    return 0;
}

static int sb_fuzz_player(void *ud, const fa_player *p) {
    (void)ud;
    fuzz_check(p->side == FA_SIDE_HOME || p->side == FA_SIDE_AWAY);
    fuzz_check(isfinite(p->minutes) && p->minutes >= 0);
    fuzz_check(p->starter == 0 || p->starter == 1);
    fuzz_check_str(p->id, sizeof p->id);
    fuzz_check_str(p->name, sizeof p->name);
    fuzz_check_str(p->position, sizeof p->position);
    return 0;
}

static int sb_fuzz_match(void *ud, const fa_match *m) {
    (void)ud;
    fuzz_check_str(m->id, sizeof m->id);
    fuzz_check_str(m->teams[0].name, sizeof m->teams[0].name);
    fuzz_check_str(m->teams[1].name, sizeof m->teams[1].name);
    fuzz_check(m->score[0] >= -1 && m->score[1] >= -1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const fa_sink sink = {NULL, sb_fuzz_match, sb_fuzz_player, sb_fuzz_event, NULL, sb_fuzz_match};
    const uint8_t *second;
    size_t second_len;
    size_t first_len = fuzz_split(data, size, &second, &second_len);
    int has_lineups = first_len < size;
    const char *events = fuzz_memfile(0, data, first_len);
    const char *lineups = has_lineups ? fuzz_memfile(1, second, second_len) : NULL;
    if (!events || (has_lineups && !lineups)) return 0;
    fa_statsbomb_import(events, lineups, &sink);
    fa_err_clear();
    return 0;
}
