/*
 * main.c - `footanalytics <command> [options]`: global options and dispatch.
 *
 * Every command parses its own options (getopt_long) and prints its own
 * --help; main only knows the list. Global options (--log-level,
 * --log-format) may precede the command.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const fa_command commands[] = {
    {"import",
     "import and analyse provider match data (StatsBomb, Metrica, EPTS, SkillCorner, Wyscout, Last-Row)",
     fa_cmd_import},
    {"matches", "list the stored matches", fa_cmd_matches},
    {"events", "list a stored match's events", fa_cmd_events},
    {"stats", "a stored match's team and player metrics", fa_cmd_stats},
    {"report", "write a stored match's self-contained HTML report", fa_cmd_report},
    {"serve", "serve the stored matches as an HTTP JSON API", fa_cmd_serve},
    {"apikey", "create, list and revoke the API keys of write and admin endpoints", fa_cmd_apikey},
    {"db", "database maintenance: migrate, explain", fa_cmd_db},
    {"transcode", "transcode a video into an adaptive ladder served by DASH and HLS", fa_cmd_transcode},
    {"analyze", "analyse a match video: transcode, detect, track, teams, calibrate, store", fa_cmd_analyze},
    {"detect", "detect players and the ball in images, directories or video frames", fa_cmd_detect},
    {"model", "inspect a detector model and time it on this machine", fa_cmd_model},
};

static void usage(FILE *out) {
    fprintf(out,
            "usage: footanalytics [--log-level LEVEL] [--log-format text|json] <command> [options]\n"
            "\n"
            "FootAnalytics: football match analysis from provider data and video.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "global options:\n"
            "  --log-level LEVEL    debug, info, warn or error (default info; env FA_LOG_LEVEL)\n"
            "  --log-format FORMAT  text (key=value) or json (default text; env FA_LOG_FORMAT)\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n"
            "\n"
            "environment:\n"
            "  FA_DB        database path used when --db is not given (default ./footanalytics.db)\n"
            "  FA_DATA_DIR  shared data directory for tests and benchmarks (default ../shared/data)\n"
            "\n"
            "exit status: 0 ok, 1 usage error, 2 bad input, 3 runtime failure\n"
            "Run 'footanalytics <command> --help' for a command's options.\n");
}

const char *fa_cli_db_path(const char *flag) {
    if (flag && *flag) return flag;
    const char *env = getenv("FA_DB");
    return env && *env ? env : "footanalytics.db";
}

int fa_cli_fail(const char *cmd) {
    int code = fa_err_code() ? fa_err_code() : FA_EIO;
    fprintf(stderr, "footanalytics %s: %s\n", cmd, fa_err_msg()[0] ? fa_err_msg() : "failed");
    return fa_err_exit_status(code);
}

int fa_cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "footanalytics %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'footanalytics %s --help' for usage.\n", cmd);
    return FA_EXIT_USAGE;
}

const char *fa_cli_clock(double t, char *buf) {
    if (t != t) {
        strcpy(buf, "--:--.-");
        return buf;
    }
    int m = (int)(t / 60);
    snprintf(buf, 16, "%02d:%04.1f", m, t - 60.0 * m);
    return buf;
}

static int set_log_level(const char *s) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) return fa_log_set_level(i), 0;
    return -1;
}

static int set_log_format(const char *s) {
    if (strcmp(s, "text") == 0) return fa_log_set_json(0), 0;
    if (strcmp(s, "json") == 0) return fa_log_set_json(1), 0;
    return -1;
}

int main(int argc, char **argv) {
    const char *env;
    if ((env = getenv("FA_LOG_LEVEL")) && set_log_level(env))
        return fa_cli_usage("", "FA_LOG_LEVEL: unknown level '%s'", env);
    if ((env = getenv("FA_LOG_FORMAT")) && set_log_format(env))
        return fa_cli_usage("", "FA_LOG_FORMAT: unknown format '%s'", env);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout), 0;
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) return printf("footanalytics %s\n", FA_VERSION), 0;
        if ((!strcmp(a, "--log-level") || !strcmp(a, "--log-format")) && i + 1 < argc) {
            int bad = a[6] == 'l' ? set_log_level(argv[i + 1]) : set_log_format(argv[i + 1]);
            if (bad) return fa_cli_usage("", "%s: unknown value '%s'", a, argv[i + 1]);
            i++;
            continue;
        }
        fprintf(stderr, "footanalytics: unknown option '%s'\n\n", a);
        usage(stderr);
        return FA_EXIT_USAGE;
    }
    if (i >= argc) {
        usage(stderr);
        return FA_EXIT_USAGE;
    }
    for (size_t c = 0; c < sizeof commands / sizeof *commands; c++)
        if (strcmp(argv[i], commands[c].name) == 0) {
            optind = 1; /* each command parses its own argv from the start */
            return commands[c].run(argc - i, argv + i);
        }
    fprintf(stderr, "footanalytics: unknown command '%s'\n\n", argv[i]);
    usage(stderr);
    return FA_EXIT_USAGE;
}
