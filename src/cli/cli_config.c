/*
 * cli_config.c - the analytics configuration as the commands that compute
 * (import, stats --recompute) build it, so both read options the same way.
 *
 * Precedence (ARCHITECTURE.md section 3): defaults, then the file (--config,
 * else $FA_CONFIG), then each --set KEY=VALUE in order. A bad --set is a
 * usage error (exit 1); a bad file is bad input (exit 2) naming FILE:LINE.
 */
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "cli.h"

#define CONFIG_MAX_BYTES (256u << 10)

/* Puts the file's name on a configuration error: "config:LINE: ..." (the
 * parser's words for text it was given) becomes "FILE:LINE: ...". */
static void name_config_error(int rc, const char *path) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", fa_err_msg());
    int numbered = strncmp(msg, "config:", 7) == 0;
    fa_err_set(rc, "%s%s%s", fa_path_base(path), numbered ? ":" : ": ", numbered ? msg + 7 : msg);
}

/* Applies a configuration file (KEY=VALUE lines); errors name the file. */
static int apply_config_file(fa_analytics_config *c, const char *path) {
    size_t got;
    char *text = fa_malloc(CONFIG_MAX_BYTES + 1);
    if (!text) return FA_ENOMEM;
    int rc = fa_file_sniff(path, text, CONFIG_MAX_BYTES + 1, &got);
    if (!rc && got > CONFIG_MAX_BYTES)
        rc = fa_err_set(FA_ELIMIT, "%s: configuration file larger than %u bytes", path, CONFIG_MAX_BYTES);
    if (!rc) {
        text[got] = '\0';
        if (strlen(text) != got)
            rc = fa_err_set(FA_EINVAL, "%s: configuration file contains a NUL byte", path);
    }
    if (!rc && (rc = fa_analytics_config_parse(c, text))) name_config_error(rc, path);
    free(text);
    return rc;
}

/* Applies one --set KEY=VALUE; a malformed or refused one is a usage error. */
static int apply_set(fa_analytics_config *c, const char *arg) {
    const char *eq = strchr(arg, '=');
    char key[64];
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof key)
        return fa_err_set(FA_EUSAGE, "--set '%s': expected KEY=VALUE, e.g. --set sprint_kmh=24", arg);
    memcpy(key, arg, (size_t)(eq - arg));
    key[eq - arg] = '\0';
    if (!fa_analytics_config_set(c, key, eq + 1)) return 0;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", fa_err_msg()); /* fa_err_set must not read its own buffer */
    return fa_err_set(FA_EUSAGE, "--set: %s", msg);
}

int fa_cli_config_build(fa_analytics_config *c, const char *file, char *const *sets, int nsets) {
    fa_analytics_config_default(c);
    if (!file || !*file) file = getenv("FA_CONFIG");
    if (file && *file) {
        int rc = apply_config_file(c, file);
        if (rc) return rc;
    }
    for (int i = 0; i < nsets; i++) {
        int rc = apply_set(c, sets[i]);
        if (rc) return rc;
    }
    return 0;
}
