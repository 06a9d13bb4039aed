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

static void sb_fuzz_check(int ok) {
    if (!ok) __builtin_trap();
}

static void sb_fuzz_check_str(const char *s, size_t cap) {
    size_t n = strnlen(s, cap);
    sb_fuzz_check(n < cap && fa_utf8_valid(s, n, NULL));
}

static void sb_fuzz_check_xy(double x, double y) {
    sb_fuzz_check(isnan(x) == isnan(y));
    sb_fuzz_check(isnan(x) || (fabs(x) <= SB_FUZZ_MAX_X && fabs(y) <= SB_FUZZ_MAX_Y));
}

static int sb_fuzz_event(void *ud, const fa_event *e) {
    (void)ud;
    sb_fuzz_check(e->period >= 1 && e->period <= 5 && e->t >= 0 && isfinite(e->t));
    sb_fuzz_check(e->side == FA_SIDE_HOME || e->side == FA_SIDE_AWAY);
    sb_fuzz_check(e->kind >= 0 && e->kind < FA_EV_COUNT);
    sb_fuzz_check(e->success >= -1 && e->success <= 1 && (e->goal == 0 || e->goal == 1));
    sb_fuzz_check(isnan(e->duration) || e->duration >= 0);
    sb_fuzz_check_xy(e->x, e->y);
    sb_fuzz_check_xy(e->end_x, e->end_y);
    sb_fuzz_check_str(e->type, sizeof e->type);
    sb_fuzz_check_str(e->subtype, sizeof e->subtype);
    sb_fuzz_check_str(e->outcome, sizeof e->outcome);
    sb_fuzz_check_str(e->body_part, sizeof e->body_part);
    sb_fuzz_check_str(e->pass_type, sizeof e->pass_type);
    sb_fuzz_check_str(e->player_id, sizeof e->player_id);
    sb_fuzz_check_str(e->recipient_id, sizeof e->recipient_id);
    sb_fuzz_check_str(e->provider_id, sizeof e->provider_id);
    sb_fuzz_check_str(e->related, sizeof e->related);
    return 0;
}

static int sb_fuzz_player(void *ud, const fa_player *p) {
    (void)ud;
    sb_fuzz_check(p->side == FA_SIDE_HOME || p->side == FA_SIDE_AWAY);
    sb_fuzz_check(isfinite(p->minutes) && p->minutes >= 0);
    sb_fuzz_check(p->starter == 0 || p->starter == 1);
    sb_fuzz_check_str(p->id, sizeof p->id);
    sb_fuzz_check_str(p->name, sizeof p->name);
    sb_fuzz_check_str(p->position, sizeof p->position);
    return 0;
}

static int sb_fuzz_match(void *ud, const fa_match *m) {
    (void)ud;
    sb_fuzz_check_str(m->id, sizeof m->id);
    sb_fuzz_check_str(m->teams[0].name, sizeof m->teams[0].name);
    sb_fuzz_check_str(m->teams[1].name, sizeof m->teams[1].name);
    sb_fuzz_check(m->score[0] >= -1 && m->score[1] >= -1);
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
