/*
 * test_explain.c - every named query of the store runs on an index:
 * fa_store_explain() finds no table scans on a migrated database, names
 * each query with its plan, and does count a scan when an index is missing.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/core.h"
#include "store/store.h"

static char *explain(const char *path, int *scans, int *rc) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    fa_store *s = fa_store_open(path, 1, 1);
    assert_non_null(s);
    *rc = fa_store_explain(s, out, scans);
    fa_store_close(s);
    fclose(out);
    return text;
}

/* The plan line of query name, or fails. */
static const char *plan_of(const char *text, const char *name, char *line, size_t size) {
    char key[128];
    snprintf(key, sizeof key, "%s:", name);
    const char *at = strstr(text, key);
    size_t off = at ? (size_t)(at - text) : 0;
    if (!at || (off > 0 && text[off - 1] != '\n')) fail_msg("no plan for %s in:\n%s", name, text);
    size_t n = strcspn(text + off, "\n");
    snprintf(line, size, "%.*s", (int)n, text + off);
    return line;
}

static void expect_plan(const char *text, const char *name, const char *fragment) {
    char line[4096];
    plan_of(text, name, line, sizeof line);
    if (!strstr(line, fragment)) fail_msg("%s: plan lacks '%s':\n%s", name, fragment, line);
}

static void test_no_scans(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/x.db", dir);
    int scans = -1, rc;
    char *text = explain(path, &scans, &rc);
    assert_int_equal(rc, 0);
    fputs(text, stdout);
    assert_int_equal(scans, 0);
    assert_null(strstr(text, "full scan"));
    expect_plan(text, "events_by_match_seq", "USING INDEX events_match_seq (match_id=? AND seq>?)");
    expect_plan(text, "events_by_match_kind", "USING INDEX events_match_kind_t (match_id=? AND kind=?)");
    expect_plan(text, "events_by_match_type", "USING INDEX events_match_type (match_id=? AND type=?)");
    expect_plan(text, "events_by_match_player",
                "USING INDEX events_match_player_t (match_id=? AND player_id=?)");
    expect_plan(text, "events_by_match_period",
                "USING INDEX events_match_period_t (match_id=? AND period=?)");
    expect_plan(text, "matches_by_team", "matches_home_team");
    expect_plan(text, "matches_by_team", "matches_away_team");
    expect_plan(text, "matches_by_competition", "USING INDEX matches_competition");
    expect_plan(text, "matches_by_season", "USING INDEX matches_season");
    expect_plan(text, "matches_by_date", "USING INDEX matches_date (date>? AND date<?)");
    expect_plan(text, "matches_all", "USING INTEGER PRIMARY KEY (rowid>?)");
    expect_plan(text, "players_by_match", "(match_id=?)");
    expect_plan(text, "chunks_by_match", "USING PRIMARY KEY (match_id=?)");
    expect_plan(text, "events_delete", "(match_id=?)");
    expect_plan(text, "event_insert", "(no table read)");
    free(text);
    fa_test_rmtree(dir);
    free(dir);
}

/* The detector itself: without the index on team names, every match query
 * (they all accept a team filter) scans the teams table. */
static void test_scan_detected(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/y.db", dir);
    fa_store *s = fa_store_open(path, 1, 1);
    assert_non_null(s);
    fa_store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP INDEX teams_name", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    int scans = -1, rc;
    char *text = explain(path, &scans, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(scans, 5);
    char line[4096];
    plan_of(text, "matches_by_team", line, sizeof line);
    assert_non_null(strstr(line, "SCAN teams"));
    assert_non_null(strstr(line, "<-- full scan"));
    plan_of(text, "events_by_match_kind", line, sizeof line);
    assert_null(strstr(line, "<-- full scan"));
    free(text);
    fa_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_scans),
        cmocka_unit_test(test_scan_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
