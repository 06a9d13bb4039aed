/*
 * str.c - string helpers: UTF-8 validation and truncation, strict number
 * parsing (the whole string must be a number, finite, in range).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

/* Length of the UTF-8 sequence starting at s[0..n), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xE0) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

int fa_utf8_valid(const char *s, size_t n, size_t *bad_at) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(u + i, n - i);
        if (!k) {
            if (bad_at) *bad_at = i;
            return 0;
        }
        i += k;
    }
    return 1;
}

size_t fa_strlcpy_utf8(char *dst, const char *src, size_t size) {
    size_t len = strlen(src);
    if (size == 0) return len;
    size_t n = len < size - 1 ? len : size - 1;
    /* Back off so we never cut a multi-byte character in half. */
    while (n > 0 && n < len && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return len;
}

int fa_parse_double(const char *s, double *out) {
    if (!s || !*s) return FA_EINVAL;
    /* strtod also takes leading spaces, hex floats and "inf"; data files mean decimal. */
    if (!(isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.')) return FA_EINVAL;
    if (strpbrk(s, "xXpP")) return FA_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) return FA_EINVAL;
    *out = v;
    return 0;
}

int fa_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (!s || !(isdigit((unsigned char)*s) || *s == '-' || *s == '+')) return FA_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi) return FA_EINVAL;
    *out = v;
    return 0;
}

int fa_strcaseeq(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

const char *fa_path_base(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
