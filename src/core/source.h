/*
 * source.h - internal to src/core: the byte source shared by json.c and csv.c.
 *
 * Not part of the face (core.h only names fa_source as an opaque type). The
 * readers need the window pointers themselves so that their hot loops can
 * scan bytes with plain pointer arithmetic instead of a function call per
 * byte: a reader copies s->p / s->end into locals, scans, writes s->p back,
 * and calls fa_src_fill() only when it runs off the end of the window.
 *
 * Positions are absolute byte offsets from the start of the input, so that
 * a line that began in an earlier window still gives the right column:
 * column = offset of the byte - offset of the first byte of its line + 1.
 */
#ifndef FA_CORE_SOURCE_H
#define FA_CORE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* The window of a file source. A build may shrink it (-DFA_SOURCE_BUF=16,
 * at least 16) so that fuzzing crosses window boundaries on small inputs. */
#ifndef FA_SOURCE_BUF
#define FA_SOURCE_BUF (64u * 1024u)
#endif

struct fa_source {
    const char *p, *end; /* unread bytes of the current window */
    const char *win;     /* first byte of the current window */
    uint64_t win_off;    /* absolute offset of win[0] */
    uint64_t line_off;   /* absolute offset of the first byte of the current line */
    unsigned long line;  /* 1-based */
    int fd;              /* -1 for a memory source */
    int eof;             /* nothing more will come from fd */
    int err;             /* sticky FA_EIO after a failed read */
    char *buf;           /* FA_SOURCE_BUF bytes for a file source, NULL for memory */
    char *name;          /* base name, owned */
};

/* Makes more bytes available. Bytes already consumed (before s->p) are
 * dropped and unread ones (s->p..s->end) move to the start of the buffer, so
 * any pointer into the window is invalid afterwards. Returns 1 when new bytes
 * arrived, 0 at end of input, FA_EIO (message set, also kept in s->err) when
 * read(2) failed. A memory source always returns 0. */
int fa_src_fill(fa_source *s);

/* Makes at least n (<= 16) unread bytes available unless the input ends
 * first. Returns the number of unread bytes (may be < n only at end of input)
 * or FA_EIO. Invalidates pointers like fa_src_fill. */
long fa_src_ensure(fa_source *s, size_t n);

/* Notes that a line ends just before `after` (a pointer into the window). */
static inline void fa_src_newline(fa_source *s, const char *after) {
    s->line++;
    s->line_off = s->win_off + (uint64_t)(after - s->win);
}

/* 1-based byte column of `at` (a pointer into the window, or s->end). */
static inline unsigned long fa_src_col(const fa_source *s, const char *at) {
    return (unsigned long)(s->win_off + (uint64_t)(at - s->win) - s->line_off + 1);
}

/* Skips a UTF-8 byte order mark at the very start of the input, so that the
 * first real byte is at line 1 column 1. Returns 0 or FA_EIO. */
int fa_src_skip_bom(fa_source *s);

/* Length (2..4) of the valid UTF-8 sequence starting at u[0] (a byte >= 0x80)
 * with n bytes available, or 0 when it is invalid: a stray continuation byte,
 * an overlong form, a surrogate, a code point above U+10FFFF, or a sequence
 * cut short. */
static inline size_t fa_src_utf8_len(const unsigned char *u, size_t n) {
    unsigned c = u[0];
    if (c < 0xC2) return 0;
    if (c < 0xE0) return (n >= 2 && (u[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && u[1] < 0xA0) return 0;
        if (c == 0xED && u[1] >= 0xA0) return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80 || (u[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && u[1] < 0x90) return 0;
        if (c == 0xF4 && u[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

#endif
