/*
 * err.c - the thread-local error slot.
 *
 * Why thread-local: a failing function can say precisely what went wrong
 * (file, line, field, value) without every signature carrying an error
 * object, and threads never see each other's messages.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

#define FA_ERR_MAX 1024

static _Thread_local char err_msg[FA_ERR_MAX];
static _Thread_local int err_code;

int fa_err_vset(int code, const char *fmt, va_list ap) {
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    err_code = code;
    return code;
}

int fa_err_set(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fa_err_vset(code, fmt, ap);
    va_end(ap);
    return code;
}

int fa_err_prefix(const char *fmt, ...) {
    char prefix[FA_ERR_MAX], old[FA_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_msg, sizeof old);
    /* Truncation of an over-long message is acceptable: keep the front. */
    size_t n = strlen(prefix);
    if (n > FA_ERR_MAX - 3) n = FA_ERR_MAX - 3;
    memcpy(err_msg, prefix, n);
    memcpy(err_msg + n, ": ", 2);
    size_t room = FA_ERR_MAX - n - 3, m = strlen(old);
    if (m > room) m = room;
    memcpy(err_msg + n + 2, old, m);
    err_msg[n + 2 + m] = '\0';
    return err_code;
}

const char *fa_err_msg(void) { return err_msg; }

int fa_err_code(void) { return err_code; }

void fa_err_clear(void) {
    err_msg[0] = '\0';
    err_code = 0;
}

int fa_err_exit_status(int code) {
    switch (code) {
    case FA_OK: return 0;
    case FA_EUSAGE: return 1;
    case FA_EINVAL:
    case FA_ENOTFOUND:
    case FA_ELIMIT: return 2;
    default: return 3;
    }
}
