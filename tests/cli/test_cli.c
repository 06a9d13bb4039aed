/* test_cli.c - the command-line face: help, version, exit codes, read-back commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void expect_run(const char *args, int status, const char *in_out, const char *in_err) {
    char *out, *err;
    int st = fa_test_run_cli(args, &out, &err);
    if (st != status) fail_msg("footanalytics %s: exit %d, want %d\nstdout: %s\nstderr: %s", args, st, status, out, err);
    if (in_out && !strstr(out, in_out)) fail_msg("footanalytics %s: stdout lacks '%s':\n%s", args, in_out, out);
    if (in_err && !strstr(err, in_err)) fail_msg("footanalytics %s: stderr lacks '%s':\n%s", args, in_err, err);
    free(out);
    free(err);
}

static void test_help_and_version(void **state) {
    (void)state;
    expect_run("--help", 0, "usage: footanalytics", NULL);
    expect_run("--help", 0, "exit status", NULL);
    expect_run("--version", 0, "footanalytics 0.", NULL);
    const char *cmds[] = {"import", "matches", "events", "db", "stats", "report", "serve"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char args[64];
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        char want[64];
        snprintf(want, sizeof want, "usage: footanalytics %s", cmds[i]);
        expect_run(args, 0, want, NULL);
    }
}

static void test_usage_errors(void **state) {
    (void)state;
    expect_run("", 1, NULL, "usage");
    expect_run("frobnicate", 1, NULL, "unknown command 'frobnicate'");
    expect_run("--bogus", 1, NULL, "unknown option");
    expect_run("import", 1, NULL, "no input files");
    expect_run("import --provider opta x.json", 1, NULL, "unknown provider 'opta'");
    expect_run("events", 1, NULL, "missing MATCH");
    expect_run("matches --limit 0", 1, NULL, "--limit");
    expect_run("db", 1, NULL, "missing subcommand");
    expect_run("db frob", 1, NULL, "unknown subcommand");
}

static void test_read_back(void **state) {
    (void)state;
    const char *csv = fa_test_data("events/metrica/Sample_Game_1_RawEventsData.csv");
    FA_TEST_REQUIRE_DATA(csv);
    char *dir = fa_test_tmpdir();
    char args[8192];
    snprintf(args, sizeof args, "matches --db '%s/none.db'", dir);
    expect_run(args, 2, NULL, "no database");
    snprintf(args, sizeof args, "import --db '%s/fa.db' '%s'", dir, csv);
    expect_run(args, 0, "imported metrica:Sample_Game_1", NULL);
    snprintf(args, sizeof args, "import --db '%s/fa.db' '%s'", dir, csv);
    expect_run(args, 0, "replaced metrica:Sample_Game_1", NULL);
    snprintf(args, sizeof args, "matches --db '%s/fa.db'", dir);
    expect_run(args, 0, "metrica:Sample_Game_1", NULL);
    snprintf(args, sizeof args, "matches --db '%s/fa.db' --json", dir);
    expect_run(args, 0, "\"events\":1745", NULL);
    snprintf(args, sizeof args, "events metrica:Sample_Game_1 --db '%s/fa.db' --type shot --period 1", dir);
    expect_run(args, 0, "SHOT", NULL);
    snprintf(args, sizeof args, "events 1 --db '%s/fa.db' --type SHOT --json --limit 2", dir);
    expect_run(args, 0, "\"kind\":\"shot\"", NULL);
    snprintf(args, sizeof args, "events 99 --db '%s/fa.db'", dir);
    expect_run(args, 2, NULL, "99");
    snprintf(args, sizeof args, "db explain --db '%s/fa.db'", dir);
    expect_run(args, 0, "all queries use indexes", NULL);
    snprintf(args, sizeof args, "db migrate --db '%s/fa.db'", dir);
    expect_run(args, 0, "applied 0 migrations", NULL);
    fa_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
