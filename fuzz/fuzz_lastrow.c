/*
 * fuzz_lastrow.c - libFuzzer target for the Last-Row tracking importer
 * (lastrow.c).
 *
 * The whole input is the CSV file, handed over as a memfd file. The sink
 * checks what the parser promises (begin, players, frames, end in that
 * order; frames strictly increasing, period 1, t = frame / 20; at most
 * FA_FRAME_MAX_PLAYERS players; coordinates finite and within the accepted
 * provider range, 1.5 pitch lengths and widths; valid, terminated UTF-8
 * strings) and traps when a promise is broken, so the fuzzer reports it
 * like a crash. Seeds in fuzz/corpus/lastrow/: excerpts of the real clip
 * grouped by object and by frame, a duplicate, the minimal columns.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "ingest/ingest.h"

#define LR_FUZZ_MAX_X (0.75 * 105.0)
#define LR_FUZZ_MAX_Y (0.75 * 68.0)

typedef struct lr_fuzz_state {
    int begun, ended;
    int64_t last_frame;
} lr_fuzz_state;

static int lr_fuzz_match(void *ud, const fa_match *m) {
    lr_fuzz_state *st = ud;
    fuzz_check(!st->ended);
    if (st->begun) st->ended = 1;
    st->begun = 1;
    fuzz_check(m->provider == FA_PROVIDER_LASTROW && m->frame_rate == 20.0);
    fuzz_check_str(m->id, sizeof m->id);
    fuzz_check_str(m->source, sizeof m->source);
    for (int k = 0; k < 2; k++) {
        fuzz_check_str(m->teams[k].id, sizeof m->teams[k].id);
        fuzz_check_str(m->teams[k].name, sizeof m->teams[k].name);
        fuzz_check(m->score[k] >= -1 && m->score[k] <= 99);
    }
    return 0;
}

static int lr_fuzz_player(void *ud, const fa_player *p) {
    lr_fuzz_state *st = ud;
    fuzz_check(st->begun && !st->ended && st->last_frame < 0);
    fuzz_check(p->side == FA_SIDE_HOME || p->side == FA_SIDE_AWAY);
    fuzz_check(p->id[0] != '\0' && p->shirt >= -1 && p->shirt <= 999);
    fuzz_check_str(p->id, sizeof p->id);
    fuzz_check_str(p->name, sizeof p->name);
    return 0;
}

static int lr_fuzz_frame(void *ud, const fa_frame *f) {
    lr_fuzz_state *st = ud;
    fuzz_check(st->begun && !st->ended && f->frame > st->last_frame);
    st->last_frame = f->frame;
    fuzz_check(f->period == 1 && f->t == (double)f->frame / 20.0);
    fuzz_check(f->n <= FA_FRAME_MAX_PLAYERS && (f->n == 0 || f->players));
    fuzz_check_xy(f->ball_x, f->ball_y, (LR_FUZZ_MAX_X + 1e-3), (LR_FUZZ_MAX_Y + 1e-3));
    for (size_t i = 0; i < f->n; i++) {
        fuzz_check(f->players[i].player_id && f->players[i].player_id[0]);
        fuzz_check(f->players[i].side == FA_SIDE_HOME || f->players[i].side == FA_SIDE_AWAY);
        fuzz_check(!isnan(f->players[i].x));
        fuzz_check_xy(f->players[i].x, f->players[i].y, (LR_FUZZ_MAX_X + 1e-3), (LR_FUZZ_MAX_Y + 1e-3));
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lr_fuzz_state st = {0, 0, -1};
    const fa_sink sink = {&st, lr_fuzz_match, lr_fuzz_player, NULL, lr_fuzz_frame, lr_fuzz_match};
    const char *path = fuzz_memfile(0, data, size);
    if (!path) return 0;
    int rc = fa_lastrow_import(path, &sink);
    fuzz_check(rc != 0 || st.ended);
    fuzz_check(rc == 0 || fa_err_msg()[0] != '\0');
    fa_err_clear();
    return 0;
}
