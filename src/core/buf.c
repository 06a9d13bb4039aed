/*
 * buf.c - a growable byte buffer (the sds idea without the header trick):
 * amortised doubling, always NUL-terminated so it can be used as a C string.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

int fa_buf_reserve(fa_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need < b->len) return fa_err_set(FA_ENOMEM, "buffer size overflow");
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = fa_realloc(b->data, cap);
    if (!p) return FA_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int fa_buf_append(fa_buf *b, const void *p, size_t n) {
    if (fa_buf_reserve(b, n)) return FA_ENOMEM;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int fa_buf_puts(fa_buf *b, const char *s) { return fa_buf_append(b, s, strlen(s)); }

int fa_buf_putc(fa_buf *b, char c) { return fa_buf_append(b, &c, 1); }

int fa_buf_printf(fa_buf *b, const char *fmt, ...) {
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return fa_err_set(FA_EINVAL, "bad format string");
    if ((size_t)n < sizeof small) return fa_buf_append(b, small, (size_t)n);
    if (fa_buf_reserve(b, (size_t)n)) return FA_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void fa_buf_reset(fa_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void fa_buf_free(fa_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
