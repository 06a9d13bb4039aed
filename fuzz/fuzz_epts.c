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

static void ep_fuzz_check(int ok) {
    if (!ok) __builtin_trap();
}

static void ep_fuzz_check_str(const char *s, size_t cap) {
    size_t n = strnlen(s, cap);
    ep_fuzz_check(n < cap && fa_utf8_valid(s, n, NULL));
}

static void ep_fuzz_check_xy(double x, double y) {
    ep_fuzz_check(isnan(x) == isnan(y));
    ep_fuzz_check(isnan(x) || (fabs(x) <= EP_FUZZ_MAX && fabs(y) <= EP_FUZZ_MAX));
}

static int ep_fuzz_player(void *ud, const fa_player *p) {
    (void)ud;
    ep_fuzz_check(p->side == FA_SIDE_HOME || p->side == FA_SIDE_AWAY);
    ep_fuzz_check(p->shirt >= -1 && p->shirt <= 999 && isnan(p->minutes));
    ep_fuzz_check(p->id[0] != '\0');
    ep_fuzz_check_str(p->id, sizeof p->id);
    ep_fuzz_check_str(p->name, sizeof p->name);
    ep_fuzz_check_str(p->position, sizeof p->position);
    return 0;
}

static int ep_fuzz_frame(void *ud, const fa_frame *f) {
    (void)ud;
    ep_fuzz_check(f->period >= 1 && f->period <= 4 && isfinite(f->t) && f->t >= 0 && f->frame >= 0);
    ep_fuzz_check(f->n <= FA_FRAME_MAX_PLAYERS && (f->n == 0 || f->players));
    ep_fuzz_check_xy(f->ball_x, f->ball_y);
    for (size_t i = 0; i < f->n; i++) {
        const fa_frame_player *p = &f->players[i];
        ep_fuzz_check(p->player_id && p->player_id[0]);
        ep_fuzz_check_str(p->player_id, FA_ID_MAX);
        ep_fuzz_check(p->side == FA_SIDE_HOME || p->side == FA_SIDE_AWAY);
        ep_fuzz_check(!isnan(p->x) && !isnan(p->y));
        ep_fuzz_check_xy(p->x, p->y);
    }
    return 0;
}

static int ep_fuzz_match(void *ud, const fa_match *m) {
    (void)ud;
    ep_fuzz_check(m->provider == FA_PROVIDER_METRICA);
    ep_fuzz_check(m->frame_rate > 0 && m->frame_rate <= 1000);
    ep_fuzz_check(m->pitch.length > 0 && m->pitch.width > 0);
    ep_fuzz_check_str(m->id, sizeof m->id);
    ep_fuzz_check_str(m->competition, sizeof m->competition);
    ep_fuzz_check_str(m->source, sizeof m->source);
    for (int k = 0; k < 2; k++) {
        ep_fuzz_check_str(m->teams[k].id, sizeof m->teams[k].id);
        ep_fuzz_check_str(m->teams[k].name, sizeof m->teams[k].name);
        ep_fuzz_check(m->score[k] >= -1);
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
