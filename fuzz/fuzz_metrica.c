/*
 * fuzz_metrica.c - libFuzzer target for the Metrica importers (metrica.c).
 *
 * The first byte picks the parser (modulo 3): 0 the events CSV, 1 the events
 * JSON, 2 the tracking CSV pair, whose home and away files are split at the
 * first "\n----\n" (fuzz_split). The rest of the input is handed over as
 * memfd files. The sink checks what the parsers promise of every record
 * (valid, terminated UTF-8 strings; known sides and periods; times >= 0;
 * coordinates finite and near the pitch) and traps when a promise is broken,
 * so the fuzzer reports it like a crash.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "ingest/ingest.h"

/* A raw coordinate may be -1..2 (metrica_internal.h): 1.5 pitch lengths off centre. */
#define MX_FUZZ_MAX_X (1.5 * 105.0)
#define MX_FUZZ_MAX_Y (1.5 * 68.0)

static void mx_fuzz_check_side(fa_side s) { fuzz_check(s == FA_SIDE_HOME || s == FA_SIDE_AWAY); }

static int mx_fuzz_event(void *ud, const fa_event *e) {
    (void)ud;
    fuzz_check_event(e, MX_FUZZ_MAX_X, MX_FUZZ_MAX_Y);
    return 0;
}

static int mx_fuzz_player(void *ud, const fa_player *p) {
    (void)ud;
    mx_fuzz_check_side(p->side);
    fuzz_check(isnan(p->minutes) && p->shirt >= -1 && p->shirt <= 999);
    fuzz_check(p->id[0] != '\0');
    fuzz_check_str(p->id, sizeof p->id);
    fuzz_check_str(p->name, sizeof p->name);
    return 0;
}

static int mx_fuzz_frame(void *ud, const fa_frame *f) {
    (void)ud;
    fuzz_check(f->period >= 1 && f->period <= 5 && isfinite(f->t) && f->t >= 0 && f->frame >= 0);
    fuzz_check(f->n <= FA_FRAME_MAX_PLAYERS && (f->n == 0 || f->players));
    fuzz_check_xy(f->ball_x, f->ball_y, MX_FUZZ_MAX_X, MX_FUZZ_MAX_Y);
    for (size_t i = 0; i < f->n; i++) {
        fuzz_check(f->players[i].player_id && f->players[i].player_id[0]);
        mx_fuzz_check_side(f->players[i].side);
        fuzz_check(!isnan(f->players[i].x) && !isnan(f->players[i].y));
        fuzz_check_xy(f->players[i].x, f->players[i].y, MX_FUZZ_MAX_X, MX_FUZZ_MAX_Y);
    }
    return 0;
}

static int mx_fuzz_match(void *ud, const fa_match *m) {
    (void)ud;
    fuzz_check(m->provider == FA_PROVIDER_METRICA);
    fuzz_check_str(m->id, sizeof m->id);
    fuzz_check_str(m->source, sizeof m->source);
    for (int k = 0; k < 2; k++) {
        fuzz_check_str(m->teams[k].id, sizeof m->teams[k].id);
        fuzz_check_str(m->teams[k].name, sizeof m->teams[k].name);
        fuzz_check(m->score[k] >= -1);
    }
    fuzz_check(m->frame_rate >= 0 && isfinite(m->frame_rate));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const fa_sink sink = {NULL,          mx_fuzz_match, mx_fuzz_player,
                                 mx_fuzz_event, mx_fuzz_frame, mx_fuzz_match};
    if (size == 0) return 0;
    int mode = data[0] % 3;
    data++;
    size--;
    if (mode == 2) {
        const uint8_t *second;
        size_t second_len, first_len = fuzz_split(data, size, &second, &second_len);
        const char *home = fuzz_memfile(0, data, first_len), *away = fuzz_memfile(1, second, second_len);
        if (home && away) fa_metrica_tracking_import(home, away, &sink);
    } else {
        const char *path = fuzz_memfile(0, data, size);
        if (path && mode == 0) fa_metrica_events_csv_import(path, &sink);
        if (path && mode == 1) fa_metrica_events_json_import(path, &sink);
    }
    fa_err_clear();
    return 0;
}
