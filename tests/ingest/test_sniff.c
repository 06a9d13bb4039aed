/* test_sniff.c - provider detection from content, and grouping companion files. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ingest/ingest.h"
#include "testutil.h"

static void expect_kind(const char *rel, fa_file_kind want) {
    const char *path = fa_test_data(rel);
    FA_TEST_REQUIRE_DATA(path);
    fa_file_kind got = fa_ingest_sniff(path);
    if (got != want) fail_msg("%s: sniffed %s, want %s (%s)", rel, fa_file_kind_name(got), fa_file_kind_name(want), fa_err_msg());
}

static void test_real_files(void **state) {
    (void)state;
    expect_kind("events/statsbomb/15986_event.json", FA_FILE_STATSBOMB_EVENTS);
    expect_kind("events/statsbomb/3788741_lineup.json", FA_FILE_STATSBOMB_LINEUPS);
    expect_kind("events/metrica/Sample_Game_1_RawEventsData.csv", FA_FILE_METRICA_EVENTS_CSV);
    expect_kind("events/metrica/Sample_Game_3_events.json", FA_FILE_METRICA_EVENTS_JSON);
    expect_kind("events/wyscout/events_v2_2499773.json", FA_FILE_WYSCOUT_EVENTS);
    expect_kind("tracking/metrica/csv_excerpt_home.csv", FA_FILE_METRICA_TRACKING_HOME);
    expect_kind("tracking/metrica/csv_excerpt_away.csv", FA_FILE_METRICA_TRACKING_AWAY);
    expect_kind("tracking/metrica/epts_excerpt_metadata.xml", FA_FILE_EPTS_METADATA);
    expect_kind("tracking/metrica/epts_excerpt_tracking.txt", FA_FILE_EPTS_TRACKING);
    expect_kind("tracking/skillcorner/skillcorner_2068_match_data.json", FA_FILE_SKILLCORNER_MATCH);
    expect_kind("tracking/skillcorner/kloppy_skillcorner_match_data.json", FA_FILE_SKILLCORNER_MATCH);
    expect_kind("tracking/skillcorner/kloppy_skillcorner_meta_data.json", FA_FILE_SKILLCORNER_MATCH);
    expect_kind("tracking/skillcorner/kloppy_skillcorner_v3_raw_data.jsonl", FA_FILE_SKILLCORNER_TRACKING);
}

static void test_unknown_and_bad(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    char *empty = fa_test_write_file(dir, "empty.json", "", 0);
    assert_int_equal(fa_ingest_sniff(empty), FA_FILE_UNKNOWN);
    assert_non_null(strstr(fa_err_msg(), "empty file"));
    char *text = fa_test_write_file(dir, "notes.json", "hello world\n", 12);
    assert_int_equal(fa_ingest_sniff(text), FA_FILE_UNKNOWN);
    assert_non_null(strstr(fa_err_msg(), "unknown provider"));
    assert_non_null(strstr(fa_err_msg(), "notes.json"));
    assert_int_equal(fa_ingest_sniff(dir), FA_FILE_UNKNOWN);
    assert_non_null(strstr(fa_err_msg(), "is a directory"));
    assert_int_equal(fa_ingest_sniff("/nonexistent/x.json"), FA_FILE_UNKNOWN);
    assert_int_equal(fa_err_code(), FA_EINVAL);
    free(empty);
    free(text);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_plan_pairs_companions(void **state) {
    (void)state;
    const char *ev = fa_test_data("events/statsbomb/15986_event.json");
    FA_TEST_REQUIRE_DATA(ev);
    char ev_copy[4096], home[4096], epts[4096];
    strcpy(ev_copy, ev);
    strcpy(home, fa_test_data("tracking/metrica/csv_excerpt_home.csv"));
    strcpy(epts, fa_test_data("tracking/metrica/epts_excerpt_metadata.xml"));
    const char *paths[] = {ev_copy, home, epts};
    fa_ingest_plan plan;
    assert_int_equal(fa_ingest_plan_make(paths, 3, FA_PROVIDER_UNKNOWN, &plan), 0);
    assert_int_equal(plan.njobs, 3);
    assert_int_equal(plan.jobs[0].nfiles, 2);
    assert_non_null(strstr(plan.jobs[0].files[1], "15986_lineup.json"));
    assert_non_null(strstr(plan.jobs[1].files[1], "csv_excerpt_away.csv"));
    assert_non_null(strstr(plan.jobs[2].files[1], "epts_excerpt_tracking.txt"));
    fa_ingest_plan_free(&plan);

    /* A lineups file alone, and a provider mismatch, are rejected before any import. */
    char lineup[4096];
    strcpy(lineup, fa_test_data("events/statsbomb/15986_lineup.json"));
    const char *lone[] = {lineup};
    assert_int_equal(fa_ingest_plan_make(lone, 1, FA_PROVIDER_UNKNOWN, &plan), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "need"));
    const char *mismatch[] = {ev_copy};
    assert_int_equal(fa_ingest_plan_make(mismatch, 1, FA_PROVIDER_WYSCOUT, &plan), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "--provider"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_files),
        cmocka_unit_test(test_unknown_and_bad),
        cmocka_unit_test(test_plan_pairs_companions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
