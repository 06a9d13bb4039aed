/*
 * test_import_errors.c - bad input through the real binary: every case gets a
 * one-line error naming the file, the position and the problem, exit status 2,
 * and leaves an existing database byte-for-byte unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

typedef struct fixture {
    char *dir;
    char db[4200];
    char *before;
    size_t before_len;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = fa_test_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/fa.db", f->dir);
    const char *csv = fa_test_data("events/metrica/Sample_Game_2_RawEventsData.csv");
    char args[8600];
    snprintf(args, sizeof args, "import --quiet --db '%s' '%s'", f->db, csv);
    if (fa_test_run_cli(args, NULL, NULL) != 0) return -1;
    f->before = fa_test_read_file(f->db, &f->before_len);
    *state = f;
    return f->before ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    fa_test_rmtree(f->dir);
    free(f->dir);
    free(f->before);
    free(f);
    return 0;
}

/* Imports path into the fixture database and checks the failure contract. */
static void expect_rejected(fixture *f, const char *path, const char *want1, const char *want2) {
    char args[8600], *err;
    snprintf(args, sizeof args, "import --db '%s' '%s'", f->db, path);
    int st = fa_test_run_cli(args, NULL, &err);
    if (st != 2) fail_msg("%s: exit %d, want 2; stderr: %s", path, st, err);
    size_t lines = 0;
    for (const char *p = err; *p; p++) lines += *p == '\n';
    if (lines != 1) fail_msg("%s: want a one-line error, got %zu lines:\n%s", path, lines, err);
    if (!strstr(err, want1)) fail_msg("%s: error lacks '%s': %s", path, want1, err);
    if (want2 && !strstr(err, want2)) fail_msg("%s: error lacks '%s': %s", path, want2, err);
    size_t len;
    char *after = fa_test_read_file(f->db, &len);
    assert_non_null(after);
    if (len != f->before_len || memcmp(after, f->before, len) != 0) fail_msg("%s: database changed", path);
    free(after);
    free(err);
}

static char *write_tmp(fixture *f, const char *name, const char *data, size_t len) {
    return fa_test_write_file(f->dir, name, data, len);
}

static const char sb_head[] =
    "[ {\"id\":\"a1\",\"index\":1,\"period\":1,\"timestamp\":\"00:00:00.000\",\"minute\":0,\"second\":0,"
    "\"type\":{\"id\":35,\"name\":\"Starting XI\"},\"possession\":1,"
    "\"possession_team\":{\"id\":1,\"name\":\"Home FC\"},\"team\":{\"id\":1,\"name\":\"Home FC\"},"
    "\"tactics\":{\"formation\":442,\"lineup\":[]}},\n";

static void test_truncated(void **state) {
    fixture *f = *state;
    size_t len;
    char *real = fa_test_read_file(fa_test_data("events/statsbomb/15986_event.json"), &len);
    assert_non_null(real);
    char *p = write_tmp(f, "15986_event.json", real, len / 2);
    expect_rejected(f, p, "15986_event.json:", "end of input");
    free(real);
    free(p);
}

static void test_wrong_types(void **state) {
    fixture *f = *state;
    char buf[2048];
    snprintf(buf, sizeof buf,
             "%s{\"id\":\"a2\",\"index\":2,\"period\":\"first\",\"timestamp\":\"00:00:01.000\",\"minute\":0,"
             "\"second\":1,\"type\":{\"id\":30,\"name\":\"Pass\"},\"possession\":1,"
             "\"possession_team\":{\"id\":1,\"name\":\"Home FC\"},\"team\":{\"id\":1,\"name\":\"Home FC\"}}]",
             sb_head);
    char *p = write_tmp(f, "1_event.json", buf, strlen(buf));
    expect_rejected(f, p, "1_event.json:2:", "period");
    free(p);
}

static void test_missing_field(void **state) {
    fixture *f = *state;
    char buf[2048];
    snprintf(buf, sizeof buf,
             "%s{\"id\":\"a2\",\"index\":2,\"period\":1,\"minute\":0,\"second\":1,"
             "\"type\":{\"id\":30,\"name\":\"Pass\"},\"possession\":1,"
             "\"possession_team\":{\"id\":1,\"name\":\"Home FC\"},\"team\":{\"id\":1,\"name\":\"Home FC\"}}]",
             sb_head);
    char *p = write_tmp(f, "2_event.json", buf, strlen(buf));
    expect_rejected(f, p, "2_event.json:2:", "timestamp");
    free(p);
}

static void test_unknown_provider(void **state) {
    fixture *f = *state;
    const char body[] = "{\"hello\": \"world\", \"numbers\": [1, 2, 3]}\n";
    char *p = write_tmp(f, "mystery.json", body, sizeof body - 1);
    expect_rejected(f, p, "mystery.json", "unknown provider");
    free(p);
}

static void test_invalid_utf8(void **state) {
    fixture *f = *state;
    const char body[] =
        "Team,Type,Subtype,Period,Start Frame,Start Time [s],End Frame,End Time [s],From,To,Start X,Start Y,End X,End Y\n"
        "Away,SET PIECE,KICK OFF,1,1,0.04,0,0,Player19,,NaN,NaN,NaN,NaN\n"
        "Away,PASS,,1,1,0.04,3,0.12,Pl\xff\xfeyer19,Player21,0.45,0.39,0.55,0.43\n";
    char *p = write_tmp(f, "Bad_RawEventsData.csv", body, sizeof body - 1);
    expect_rejected(f, p, "Bad_RawEventsData.csv:3", "UTF-8");
    free(p);
}

static void test_absurd_numbers(void **state) {
    fixture *f = *state;
    const char body[] =
        "Team,Type,Subtype,Period,Start Frame,Start Time [s],End Frame,End Time [s],From,To,Start X,Start Y,End X,End Y\n"
        "Away,PASS,,1,1,0.04,3,0.12,Player19,Player21,0.45,0.39,0.55,0.43\n"
        "Home,PASS,,1,5,0.2,9,0.36,Player1,Player2,1e300,0.39,0.55,0.43\n";
    char *p = write_tmp(f, "Absurd_RawEventsData.csv", body, sizeof body - 1);
    expect_rejected(f, p, "Absurd_RawEventsData.csv:3", NULL);
    free(p);
    char buf[2048];
    snprintf(buf, sizeof buf,
             "%s{\"id\":\"a2\",\"index\":2,\"period\":77,\"timestamp\":\"00:00:01.000\",\"minute\":0,"
             "\"second\":1,\"type\":{\"id\":30,\"name\":\"Pass\"},\"possession\":1,"
             "\"possession_team\":{\"id\":1,\"name\":\"Home FC\"},\"team\":{\"id\":1,\"name\":\"Home FC\"}}]",
             sb_head);
    p = write_tmp(f, "3_event.json", buf, strlen(buf));
    expect_rejected(f, p, "3_event.json:2:", "period");
    free(p);
}

static void test_empty_file(void **state) {
    fixture *f = *state;
    char *p = write_tmp(f, "empty.csv", "", 0);
    expect_rejected(f, p, "empty.csv", "empty");
    free(p);
}

static void test_directory(void **state) {
    fixture *f = *state;
    expect_rejected(f, f->dir, f->dir, "directory");
}

static void test_no_database_created_on_bad_input(void **state) {
    fixture *f = *state;
    char *p = write_tmp(f, "empty2.json", "", 0);
    char args[8600], db[4300];
    snprintf(db, sizeof db, "%s/new.db", f->dir);
    snprintf(args, sizeof args, "import --db '%s' '%s'", db, p);
    assert_int_equal(fa_test_run_cli(args, NULL, NULL), 2);
    assert_false(fa_test_file_exists(db));
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_provider, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absurd_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_database_created_on_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
