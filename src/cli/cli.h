/*
 * cli.h - shared pieces of the command-line front end: each command lives in
 * its own file (cmd_<name>.c) and exposes one entry point with the same
 * shape as main. Exit codes (documented in --help and README):
 *   0 ok, 1 usage, 2 bad input, 3 runtime failure.
 */
#ifndef FA_CLI_H
#define FA_CLI_H

#include <stdio.h>

#include "core/core.h"

enum { FA_EXIT_OK = 0, FA_EXIT_USAGE = 1, FA_EXIT_INPUT = 2, FA_EXIT_RUNTIME = 3 };

typedef struct fa_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} fa_command;

int fa_cmd_import(int argc, char **argv);
int fa_cmd_matches(int argc, char **argv);
int fa_cmd_events(int argc, char **argv);
int fa_cmd_db(int argc, char **argv);
int fa_cmd_stats(int argc, char **argv);
int fa_cmd_report(int argc, char **argv);
int fa_cmd_serve(int argc, char **argv);
int fa_cmd_apikey(int argc, char **argv);
int fa_cmd_transcode(int argc, char **argv);
int fa_cmd_analyze(int argc, char **argv);
int fa_cmd_detect(int argc, char **argv);
int fa_cmd_model(int argc, char **argv);
/* `model quantize` and `model prune` (cmd_model_tune.c): argv[0] is the subcommand. */
int fa_cmd_model_tune(const char *sub, int argc, char **argv);

/* The database to use: --db wins, then $FA_DB, then ./footanalytics.db. */
const char *fa_cli_db_path(const char *flag);
/* Prints "footanalytics CMD: MESSAGE" for the current error and returns the
 * exit status that goes with its code. */
int fa_cli_fail(const char *cmd);
/* Prints a usage error and the hint to run --help; returns FA_EXIT_USAGE. */
int fa_cli_usage(const char *cmd, const char *fmt, ...) FA_PRINTF(2, 3);
/* The analytics configuration: defaults, then file (NULL: $FA_CONFIG, if
 * set), then each "KEY=VALUE" of sets. Errors carry their message and code. */
struct fa_analytics_config;
int fa_cli_config_build(struct fa_analytics_config *c, const char *file, char *const *sets, int nsets);
/* Image files named by command-line arguments (cli_inputs.c). */
typedef struct fa_cli_paths {
    char **v;
    size_t n, cap;
} fa_cli_paths;
/* Whether path ends in an image extension (.jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff). */
int fa_cli_is_image(const char *path);
/* Appends args[0..n): files as given, directories as their image files
 * (sorted, hidden ones skipped). 0, FA_ENOTFOUND (no such file), FA_EINVAL
 * (a directory without images), FA_EIO, FA_ENOMEM; the message names it. */
int fa_cli_paths_expand(char **args, int n, fa_cli_paths *l);
void fa_cli_paths_free(fa_cli_paths *l);
/* A model path as given when it exists (or is absolute), else found under
 * $FA_MODEL_DIR, $FA_DATA_DIR/models or ../shared/data/models (written into
 * buf), else as given. */
const char *fa_cli_model_path(const char *path, char *buf, size_t size);
/* Progress of long work (cli_progress.c): a one-line bar on stderr, one
 * JSON object per line on stdout for jobs, or nothing. */
enum fa_cli_progress_mode { FA_PROGRESS_AUTO = 0, FA_PROGRESS_BAR, FA_PROGRESS_JSON, FA_PROGRESS_NONE };
typedef struct fa_cli_progress {
    enum fa_cli_progress_mode mode;
    int bar_drawn; /* a bar line is open (end it with a newline before other output) */
} fa_cli_progress;
/* --progress bar|json|none into p->mode; 0 or a usage error for cmd. */
int fa_cli_progress_parse(const char *cmd, const char *s, fa_cli_progress *p);
/* AUTO becomes BAR on a terminal (stderr), else NONE. */
void fa_cli_progress_resolve(fa_cli_progress *p);
/* A stage of the work other than the transcode (e.g. "quantise"), started
 * (seconds < 0) or done after seconds: one JSON object per line in json
 * mode ({"event":"stage","stage":...,"done":...,"seconds":...}); nothing
 * otherwise (the log line says it). */
void fa_cli_progress_stage(fa_cli_progress *p, const char *stage, double seconds);
/* A fa_transcode_progress_fn drawing p (user: the fa_cli_progress). */
struct fa_transcode_progress;
void fa_cli_on_progress(const struct fa_transcode_progress *p, void *user);
/* --precision fp32|int8|fp16 into *out (fa_nn_precision); 0, or -1 for
 * anything else (the caller reports it). */
int fa_cli_precision_parse(const char *s, int *out);
/* The --precision name of p (fa_nn_precision): "fp32", "int8", "fp16", or "?". */
const char *fa_cli_precision_name(int p);
/* Formats seconds as "MM:SS.s" into buf[16]. */
const char *fa_cli_clock(double t, char *buf);

#endif
