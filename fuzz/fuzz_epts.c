/*
 * fuzz_epts.c - libFuzzer target for the FIFA EPTS importer (epts.c).
 *
 * The input is the XML metadata, then "\n----\n", then the frame lines
 * (fuzz_split); each part is handed over as a memfd file. The sink checks
 * what the parser promises of every record (valid, terminated UTF-8
 * strings; known sides; periods 1..4 with t >= 0; at most
 * FA_FRAME_MAX_PLAYERS players, each with a finite position near the pitch)
 * and traps when a promise is broken, so the fuzzer reports it like a crash.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "ingest/ingest.h"

/* Raw coordinates may be -1..2 of a field of at most 1000 m. */
#define EP_FUZZ_MAX (1.5 * 1000.0)

static int ep_fuzz_player(void *ud, const fa_player *p) {
    (void)ud;
    fuzz_check(p->side == FA_SIDE_HOME || p->side == FA_SIDE_AWAY);
    fuzz_check(p->shirt >= -1 && p->shirt <= 999 && isnan(p->minutes));
    fuzz_check(p->id[0] != '\0');
    fuzz_check_str(p->id, sizeof p->id);
    fuzz_check_str(p->name, sizeof p->name);
    fuzz_check_str(p->position, sizeof p->position);
    return 0;
}

static int ep_fuzz_frame(void *ud, const fa_frame *f) {
    (void)ud;
    fuzz_check(f->period >= 1 && f->period <= 4 && isfinite(f->t) && f->t >= 0 && f->frame >= 0);
    fuzz_check(f->n <= FA_FRAME_MAX_PLAYERS && (f->n == 0 || f->players));
    fuzz_check_xy(f->ball_x, f->ball_y, EP_FUZZ_MAX, EP_FUZZ_MAX);
    for (size_t i = 0; i < f->n; i++) {
        const fa_frame_player *p = &f->players[i];
        fuzz_check(p->player_id && p->player_id[0]);
        fuzz_check_str(p->player_id, FA_ID_MAX);
        fuzz_check(p->side == FA_SIDE_HOME || p->side == FA_SIDE_AWAY);
        fuzz_check(!isnan(p->x) && !isnan(p->y));
        fuzz_check_xy(p->x, p->y, EP_FUZZ_MAX, EP_FUZZ_MAX);
    }
    return 0;
}

static int ep_fuzz_match(void *ud, const fa_match *m) {
    (void)ud;
    fuzz_check(m->provider == FA_PROVIDER_METRICA);
    fuzz_check(m->frame_rate > 0 && m->frame_rate <= 1000);
    fuzz_check(m->pitch.length > 0 && m->pitch.width > 0);
    fuzz_check_str(m->id, sizeof m->id);
    fuzz_check_str(m->competition, sizeof m->competition);
    fuzz_check_str(m->source, sizeof m->source);
    for (int k = 0; k < 2; k++) {
        fuzz_check_str(m->teams[k].id, sizeof m->teams[k].id);
        fuzz_check_str(m->teams[k].name, sizeof m->teams[k].name);
        fuzz_check(m->score[k] >= -1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const fa_sink sink = {NULL, ep_fuzz_match, ep_fuzz_player, NULL, ep_fuzz_frame, ep_fuzz_match};
    const uint8_t *second;
    size_t second_len, first_len = fuzz_split(data, size, &second, &second_len);
    const char *meta = fuzz_memfile(0, data, first_len), *frames = fuzz_memfile(1, second, second_len);
    if (meta && frames) fa_epts_import(meta, frames, &sink);
    fa_err_clear();
    return 0;
}
