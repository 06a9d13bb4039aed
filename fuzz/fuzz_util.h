/*
 * fuzz_util.h - shared by the libFuzzer targets: the parsers take file paths,
 * so each input is handed over as an in-memory file (memfd) reachable through
 * /proc/self/fd, without touching the disk.
 */
#ifndef FA_FUZZ_UTIL_H
#define FA_FUZZ_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/core.h"
#include "model/model.h"

/* Writes data into memfd slot (0..3) and returns its path, valid until the
 * slot is reused. The fd is kept open for the process lifetime. */
static inline const char *fuzz_memfile(int slot, const uint8_t *data, size_t size) {
    static int fds[4] = {-1, -1, -1, -1};
    static char paths[4][64];
    if (fds[slot] < 0) {
        fds[slot] = memfd_create("fa-fuzz", 0);
        if (fds[slot] < 0) return NULL;
        snprintf(paths[slot], sizeof paths[slot], "/proc/self/fd/%d", fds[slot]);
    }
    if (ftruncate(fds[slot], 0) != 0) return NULL;
    if (size && pwrite(fds[slot], data, size, 0) != (ssize_t)size) return NULL;
    return paths[slot];
}

/* Splits an input in two at the first "\n----\n" (for parsers that take two
 * files: metadata + frames, home + away). Returns the length of part one;
 * part two starts at *second. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **second, size_t *second_len) {
    static const char sep[] = "\n----\n";
    for (size_t i = 0; i + sizeof sep - 1 <= size; i++) {
        if (memcmp(data + i, sep, sizeof sep - 1) == 0) {
            *second = data + i + sizeof sep - 1;
            *second_len = size - i - (sizeof sep - 1);
            return i;
        }
    }
    *second = data + size;
    *second_len = 0;
    return size;
}

/* Invariant checks for what a parser emits: a broken promise traps, so the
 * fuzzer reports it like a crash. */
static inline void fuzz_check(int ok) {
    if (!ok) __builtin_trap();
}

/* A fixed-size field: NUL-terminated within cap, valid UTF-8. */
static inline void fuzz_check_str(const char *s, size_t cap) {
    size_t n = strnlen(s, cap);
    fuzz_check(n < cap && fa_utf8_valid(s, n, NULL));
}

/* A point: both coordinates known or both NAN, within +-max of the centre. */
static inline void fuzz_check_xy(double x, double y, double max_x, double max_y) {
    fuzz_check(isnan(x) == isnan(y));
    fuzz_check(isnan(x) || (fabs(x) <= max_x && fabs(y) <= max_y));
}

/* What every event parser promises of an event (model.h): a period of 1..5,
 * a finite non-negative time, a team, a known kind, 0/1 flags, points near
 * the pitch, and well-formed strings. */
static inline void fuzz_check_event(const fa_event *e, double max_x, double max_y) {
    fuzz_check(e->period >= 1 && e->period <= 5 && isfinite(e->t) && e->t >= 0);
    fuzz_check(e->side == FA_SIDE_HOME || e->side == FA_SIDE_AWAY);
    fuzz_check(e->kind >= 0 && e->kind < FA_EV_COUNT);
    fuzz_check(e->success >= -1 && e->success <= 1 && (e->goal == 0 || e->goal == 1));
    fuzz_check(isnan(e->duration) || e->duration >= 0);
    fuzz_check_xy(e->x, e->y, max_x, max_y);
    fuzz_check_xy(e->end_x, e->end_y, max_x, max_y);
    fuzz_check_str(e->type, sizeof e->type);
    fuzz_check_str(e->subtype, sizeof e->subtype);
    fuzz_check_str(e->outcome, sizeof e->outcome);
    fuzz_check_str(e->body_part, sizeof e->body_part);
    fuzz_check_str(e->pass_type, sizeof e->pass_type);
    fuzz_check_str(e->player_id, sizeof e->player_id);
    fuzz_check_str(e->recipient_id, sizeof e->recipient_id);
    fuzz_check_str(e->provider_id, sizeof e->provider_id);
    fuzz_check_str(e->related, sizeof e->related);
}

/* A sink that touches every field, so the sanitizers see every byte. */
static int fuzz_on_event(void *ud, const fa_event *e) {
    (void)ud;
    volatile size_t n = strlen(e->type) + strlen(e->player_id) + (size_t)(e->x == e->x);
    (void)n;
    return 0;
}
static int fuzz_on_frame(void *ud, const fa_frame *f) {
    (void)ud;
    volatile size_t n = 0;
    for (size_t i = 0; i < f->n; i++) n += strlen(f->players[i].player_id);
    (void)n;
    return 0;
}
static int fuzz_on_player(void *ud, const fa_player *p) {
    (void)ud;
    volatile size_t n = strlen(p->name);
    (void)n;
    return 0;
}
static const fa_sink fuzz_sink = {NULL, NULL, fuzz_on_player, fuzz_on_event, fuzz_on_frame, NULL};

#endif
