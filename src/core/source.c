/*
 * source.c - the byte source under the JSON and CSV readers: a window of
 * bytes over a file (read(2) into one 64 KiB buffer) or over a memory block
 * (the window is the whole block and never refills).
 *
 * Why a window and not stdio: the readers scan tokens with pointer loops over
 * the window (see source.h) and only come here when they run off its end, so
 * the per-byte cost is a compare, never a call. One fixed buffer per file
 * keeps the memory of an import independent of the file size; a token that
 * straddles two windows is assembled by the reader in its own buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source.h"

static fa_source *source_new(const char *name) {
    fa_source *s = fa_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->name = fa_strdup(name);
    if (!s->name) {
        free(s);
        return NULL;
    }
    s->line = 1;
    s->fd = -1;
    return s;
}

fa_source *fa_source_open_file(const char *path) {
    if (fa_file_check(path)) return NULL;
    fa_source *s = source_new(fa_path_base(path));
    if (!s) return NULL;
    s->buf = fa_malloc(FA_SOURCE_BUF);
    if (!s->buf) {
        fa_source_free(s);
        return NULL;
    }
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        fa_err_set(FA_EIO, "%s: %s", s->name, strerror(errno));
        fa_source_free(s);
        return NULL;
    }
    s->win = s->p = s->end = s->buf;
    return s;
}

fa_source *fa_source_open_mem(const char *name, const char *data, size_t len) {
    fa_source *s = source_new(name ? name : "<memory>");
    if (!s) return NULL;
    static const char empty[1] = "";
    s->win = s->p = data ? data : empty;
    s->end = s->p + (data ? len : 0);
    s->eof = 1;
    return s;
}

void fa_source_free(fa_source *s) {
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    free(s->buf);
    free(s->name);
    free(s);
}

const char *fa_source_name(const fa_source *s) { return s->name; }

/* Moves the unread bytes to the start of the buffer. */
static void compact(fa_source *s) {
    size_t unread = (size_t)(s->end - s->p);
    s->win_off += (uint64_t)(s->p - s->win);
    if (unread && s->p != s->buf) memmove(s->buf, s->p, unread);
    s->win = s->p = s->buf;
    s->end = s->buf + unread;
}

/* One read(2) into the free tail of the buffer: 1 got bytes, 0 end, FA_EIO. */
static int read_more(fa_source *s) {
    size_t room = FA_SOURCE_BUF - (size_t)(s->end - s->buf);
    if (room == 0) return 1; /* full: the caller has what fits */
    for (;;) {
        ssize_t n = read(s->fd, s->buf + (s->end - s->buf), room);
        if (n > 0) {
            s->end += n;
            return 1;
        }
        if (n == 0) {
            s->eof = 1;
            return 0;
        }
        if (errno == EINTR) continue;
        s->err = fa_err_set(FA_EIO, "%s: read failed: %s", s->name, strerror(errno));
        return s->err;
    }
}

int fa_src_fill(fa_source *s) {
    if (s->err) return s->err;
    if (s->fd < 0 || s->eof) {
        s->eof = 1;
        return 0;
    }
    compact(s);
    return read_more(s);
}

long fa_src_ensure(fa_source *s, size_t n) {
    while ((size_t)(s->end - s->p) < n) {
        int rc = fa_src_fill(s);
        if (rc < 0) return rc;
        if (rc == 0) break;
    }
    return (long)(s->end - s->p);
}

int fa_src_skip_bom(fa_source *s) {
    if (s->win_off != 0 || s->p != s->win) return 0;
    long got = fa_src_ensure(s, 3);
    if (got < 0) return (int)got;
    if (got >= 3 && memcmp(s->p, "\xEF\xBB\xBF", 3) == 0) {
        s->p += 3;
        s->line_off = 3;
    }
    return 0;
}
