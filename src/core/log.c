/*
 * log.c - one line per event on stderr, "key=value" or JSON.
 *
 * The level and format are process configuration set once at start-up by
 * the CLI (the only global mutable state allowed besides metrics).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core.h"

static int log_level = FA_LOG_INFO;
static int log_json;

void fa_log_set_level(int level) { log_level = level; }

void fa_log_set_json(int json) { log_json = json; }

static const char *level_name(int level) {
    switch (level) {
    case FA_LOG_DEBUG: return "debug";
    case FA_LOG_INFO: return "info";
    case FA_LOG_WARN: return "warn";
    default: return "error";
    }
}

void fa_log(int level, const char *msg, const char *kvfmt, ...) {
    if (level < log_level) return;
    char kv[1024] = "";
    if (kvfmt) {
        va_list ap;
        va_start(ap, kvfmt);
        vsnprintf(kv, sizeof kv, kvfmt, ap);
        va_end(ap);
    }
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!log_json) {
        fprintf(stderr, "ts=%s level=%s msg=\"%s\"%s%s\n", ts, level_name(level), msg, kv[0] ? " " : "", kv);
        return;
    }
    /* JSON: turn "k=v k2=v2" into members; values stay strings. */
    fa_buf b = {0};
    fa_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_name(level));
    fa_json_write_str(&b, msg);
    char *save = NULL;
    for (char *tok = strtok_r(kv, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = '\0';
        fa_buf_putc(&b, ',');
        fa_json_write_str(&b, tok);
        fa_buf_putc(&b, ':');
        fa_json_write_str(&b, eq + 1);
    }
    fa_buf_puts(&b, "}\n");
    if (b.data) fputs(b.data, stderr);
    fa_buf_free(&b);
}
