/*
 * test_import_analytics.c - analytics at import, through the real binary:
 * aggregates are stored with the match, --set / --config / $FA_CONFIG reach
 * the definitions document (flags over environment over defaults), a bad
 * configuration is refused before the database is touched, --no-analytics
 * stores none, re-importing replaces them, and tracking whose time goes
 * backwards fails the import with a one-line error and no change.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "store/store.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    char db[4200];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = fa_test_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/fa.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    unsetenv("FA_CONFIG");
    fa_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static const char *sb_events(void) { return fa_test_data("events/statsbomb/15986_event.json"); }

/* Runs `import --db DB OPTIONS FILE`; returns the exit status. */
static int import(fixture *f, const char *options, const char *file, char **out, char **err) {
    char args[12000];
    snprintf(args, sizeof args, "import --db '%s' %s '%s'", f->db, options, file);
    return fa_test_run_cli(args, out, err);
}

static void import_ok(fixture *f, const char *options, const char *file) {
    char *err;
    int st = import(f, options, file, NULL, &err);
    if (st != 0) fail_msg("import %s %s: exit %d: %s", options, file, st, err);
    free(err);
}

/* ------------------------------------------------------------ reading back */

typedef struct tally {
    size_t n;
    double passes_home;
    double grid_sum;
    size_t grids;
} tally;

static int on_metric(void *ud, const fa_metric *m) {
    tally *t = ud;
    t->n++;
    if (!m->player_id[0] && m->side == FA_SIDE_HOME && strcmp(m->name, "passes") == 0)
        t->passes_home = m->value;
    return 0;
}

static int on_grid(void *ud, const fa_grid *g) {
    tally *t = ud;
    t->grids++;
    t->grid_sum = 0;
    for (int i = 0; i < g->nx * g->ny; i++) t->grid_sum += g->cells[i];
    return 0;
}

static fa_store *open_store(fixture *f, const char *ref, int64_t *id) {
    fa_store *s = fa_store_open(f->db, 0, 0);
    if (!s) fail_msg("open: %s", fa_err_msg());
    fa_match_row row;
    if (fa_store_match_find(s, ref, &row)) fail_msg("%s", fa_err_msg());
    *id = row.id;
    return s;
}

static tally metrics_of(fa_store *s, int64_t id, const char *player) {
    tally t = {0};
    assert_int_equal(fa_store_metrics(s, id, player, on_metric, &t), 0);
    assert_int_equal(fa_store_grids(s, id, player, on_grid, &t), 0);
    return t;
}

/* config.KEY of the stored definitions document; NAN when there is none. */
static double definition(fixture *f, const char *ref, const char *key) {
    int64_t id;
    fa_store *s = open_store(f, ref, &id);
    fa_buf b = {0};
    double v = NAN;
    if (fa_store_doc(s, id, "definitions", &b) == 0) {
        fa_arena *a = fa_arena_new(1 << 14);
        fa_json_value *doc;
        if (fa_json_parse("definitions", b.data, b.len, a, &doc)) fail_msg("%s", fa_err_msg());
        const fa_json_value *x = fa_json_get(fa_json_get(doc, "config"), key);
        if (!x || x->type != FA_JSON_NUMBER) fail_msg("definitions: no config.%s", key);
        v = x->u.num;
        fa_arena_free(a);
    }
    fa_buf_free(&b);
    fa_store_close(s);
    return v;
}

/* ------------------------------------------------------------ tests */

static void test_import_stores_aggregates(void **state) {
    fixture *f = *state;
    FA_TEST_REQUIRE_DATA(sb_events());
    char *out, *err;
    int st = import(f, "", sb_events(), &out, &err);
    if (st != 0) fail_msg("exit %d: %s", st, err);
    if (!strstr(out, ", analytics ") || !strstr(out, " metrics, 0 grids, 4 docs)"))
        fail_msg("summary: %s", out);
    free(out);
    free(err);
    int64_t id;
    fa_store *s = open_store(f, "statsbomb:15986", &id);
    tally team = metrics_of(s, id, "");
    assert_true(team.passes_home == 768);
    assert_int_equal(team.grids, 0);
    fa_buf b = {0};
    assert_int_equal(fa_store_doc(s, id, "pass_network_home", &b), 0);
    assert_non_null(strstr(b.data, "\"nodes\":["));
    fa_buf_free(&b);
    fa_store_close(s);
    assert_true(definition(f, "statsbomb:15986", "sprint_kmh") == 25.2);

    /* tracking: heatmaps stored, a player's sums to his 4 s on the pitch */
    const char *epts = fa_test_data("tracking/metrica/epts_excerpt_metadata.xml");
    st = import(f, "--json", epts, &out, &err);
    if (st != 0) fail_msg("exit %d: %s", st, err);
    if (!strstr(out, "\"analytics\":{\"metrics\":")) fail_msg("json summary: %s", out);
    free(out);
    free(err);
    s = open_store(f, "metrica:epts_excerpt", &id);
    tally all = metrics_of(s, id, NULL);
    assert_int_equal(all.grids, 19 + 2);
    tally one = metrics_of(s, id, "Track_1");
    assert_int_equal(one.grids, 1);
    assert_true(fabs(one.grid_sum - 4.0) < 1e-9);
    double sum;
    int64_t matches;
    assert_int_equal(fa_store_metric_sum(s, "metrica:Track_1", "minutes", &sum, &matches), 0);
    assert_int_equal(matches, 1);
    assert_true(fabs(sum - 4.0 / 60) < 1e-12);
    fa_store_close(s);
}

static void test_set_changes_definitions(void **state) {
    fixture *f = *state;
    FA_TEST_REQUIRE_DATA(sb_events());
    import_ok(f, "--quiet --set sprint_kmh=24 --set hsr_kmh=18.5", sb_events());
    assert_true(definition(f, "statsbomb:15986", "sprint_kmh") == 24);
    assert_true(definition(f, "statsbomb:15986", "hsr_kmh") == 18.5);
}

static void test_config_file_and_environment(void **state) {
    fixture *f = *state;
    FA_TEST_REQUIRE_DATA(sb_events());
    static const char text[] = "# club thresholds\nsprint_kmh=23\n\nhsr_kmh=18\n";
    char *cfg = fa_test_write_file(f->dir, "club.conf", text, sizeof text - 1);
    char opts[4400];
    snprintf(opts, sizeof opts, "--quiet --config '%s'", cfg);
    import_ok(f, opts, sb_events());
    assert_true(definition(f, "statsbomb:15986", "sprint_kmh") == 23);
    assert_true(definition(f, "statsbomb:15986", "hsr_kmh") == 18);
    /* a flag overrides the file */
    snprintf(opts, sizeof opts, "--quiet --config '%s' --set sprint_kmh=22", cfg);
    import_ok(f, opts, sb_events());
    assert_true(definition(f, "statsbomb:15986", "sprint_kmh") == 22);
    assert_true(definition(f, "statsbomb:15986", "hsr_kmh") == 18);
    /* the environment names the file when --config does not */
    setenv("FA_CONFIG", cfg, 1);
    import_ok(f, "--quiet", sb_events());
    assert_true(definition(f, "statsbomb:15986", "sprint_kmh") == 23);
    unsetenv("FA_CONFIG");
    import_ok(f, "--quiet", sb_events());
    assert_true(definition(f, "statsbomb:15986", "sprint_kmh") == 25.2);
    free(cfg);
}

/* A refused option: exit status, a one-line message, the database untouched. */
static void expect_refused(fixture *f, const char *options, int status, const char *want1,
                           const char *want2) {
    size_t before_len, after_len;
    char *before = fa_test_read_file(f->db, &before_len), *err;
    assert_non_null(before);
    int st = import(f, options, sb_events(), NULL, &err);
    if (st != status) fail_msg("%s: exit %d, want %d: %s", options, st, status, err);
    size_t lines = 0;
    for (const char *p = err; *p; p++) lines += *p == '\n';
    if (lines != 1) fail_msg("%s: want one line, got:\n%s", options, err);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        fail_msg("%s: error lacks '%s' / '%s': %s", options, want1, want2 ? want2 : "", err);
    char *after = fa_test_read_file(f->db, &after_len);
    if (!after || after_len != before_len || memcmp(before, after, after_len) != 0)
        fail_msg("%s: the database changed", options);
    free(before);
    free(after);
    free(err);
}

static void test_bad_configuration(void **state) {
    fixture *f = *state;
    FA_TEST_REQUIRE_DATA(sb_events());
    import_ok(f, "--quiet --set sprint_kmh=24", sb_events());
    static const char text[] = "sprint_kmh=23\nsprnt_kmh=24\n";
    char *cfg = fa_test_write_file(f->dir, "bad.conf", text, sizeof text - 1);
    char opts[4400];
    snprintf(opts, sizeof opts, "--config '%s'", cfg);
    expect_refused(f, opts, 2, "footanalytics import: bad.conf:2: ", "sprnt_kmh");
    snprintf(opts, sizeof opts, "--config '%s/none.conf'", f->dir);
    expect_refused(f, opts, 2, "none.conf", NULL);
    expect_refused(f, "--set sprnt_kmh=24", 1, "--set", "sprnt_kmh");
    expect_refused(f, "--set sprint_kmh", 1, "expected KEY=VALUE", NULL);
    expect_refused(f, "--set sprint_kmh=fast", 1, "sprint_kmh", NULL);
    setenv("FA_CONFIG", cfg, 1);
    expect_refused(f, "", 2, "bad.conf", "sprnt_kmh");
    unsetenv("FA_CONFIG");
    /* the earlier import is intact */
    assert_true(definition(f, "statsbomb:15986", "sprint_kmh") == 24);
    free(cfg);
}

static void test_no_analytics(void **state) {
    fixture *f = *state;
    FA_TEST_REQUIRE_DATA(sb_events());
    char *out, *err;
    int st = import(f, "--no-analytics", sb_events(), &out, &err);
    if (st != 0) fail_msg("exit %d: %s", st, err);
    assert_null(strstr(out, "analytics"));
    assert_non_null(strstr(out, "imported statsbomb:15986"));
    free(out);
    free(err);
    int64_t id;
    fa_store *s = open_store(f, "statsbomb:15986", &id);
    tally t = metrics_of(s, id, NULL);
    assert_int_equal(t.n, 0);
    assert_int_equal(t.grids, 0);
    fa_store_close(s);
    assert_true(isnan(definition(f, "statsbomb:15986", "sprint_kmh")));
}

static void test_reimport_replaces(void **state) {
    fixture *f = *state;
    FA_TEST_REQUIRE_DATA(sb_events());
    import_ok(f, "--quiet", sb_events());
    int64_t id, id2;
    fa_store *s = open_store(f, "statsbomb:15986", &id);
    tally first = metrics_of(s, id, NULL);
    fa_store_close(s);
    assert_true(first.n > 100);

    import_ok(f, "--quiet --set sprint_kmh=24", sb_events());
    assert_true(definition(f, "statsbomb:15986", "sprint_kmh") == 24);
    import_ok(f, "--quiet", sb_events());
    assert_true(definition(f, "statsbomb:15986", "sprint_kmh") == 25.2);
    s = open_store(f, "statsbomb:15986", &id2);
    assert_int_equal(id2, id);
    tally again = metrics_of(s, id, NULL);
    assert_int_equal(again.n, first.n); /* replaced, not added */
    assert_true(again.passes_home == 768);
    fa_store_close(s);

    import_ok(f, "--quiet --no-analytics", sb_events());
    s = open_store(f, "statsbomb:15986", &id2);
    assert_int_equal(metrics_of(s, id, NULL).n, 0);
    fa_store_close(s);
}

/* SkillCorner v3 tracking with two frames swapped: the parser accepts the
 * lines, the analytics refuse the stream, nothing of the match is stored. */
static void test_backwards_tracking_fails_import(void **state) {
    fixture *f = *state;
    const char *meta = fa_test_data("tracking/skillcorner/kloppy_skillcorner_meta_data.json");
    const char *jsonl = fa_test_data("tracking/skillcorner/kloppy_skillcorner_v3_raw_data.jsonl");
    FA_TEST_REQUIRE_DATA(jsonl);
    FA_TEST_REQUIRE_DATA(sb_events());
    import_ok(f, "--quiet", sb_events());
    size_t len, mlen;
    char *text = fa_test_read_file(jsonl, &len), *mtext = fa_test_read_file(meta, &mlen);
    assert_non_null(text);
    /* lines 16 and 17 (frames 15 and 16, t = 0.5 s and 0.6 s of period 1) change places */
    char *line[64];
    size_t n = 0;
    for (char *p = text; *p && n < 64; n++) {
        line[n] = p;
        p = strchr(p, '\n');
        if (!p) break;
        *p++ = '\0';
    }
    assert_true(n > 17);
    char *tmp = line[15];
    line[15] = line[16];
    line[16] = tmp;
    fa_buf b = {0};
    for (size_t i = 0; i < n; i++) fa_buf_printf(&b, "%s\n", line[i]);
    char *bad = fa_test_write_file(f->dir, "kloppy_skillcorner_v3_raw_data.jsonl", b.data, b.len);
    char *bad_meta = fa_test_write_file(f->dir, "kloppy_skillcorner_meta_data.json", mtext, mlen);
    char opts[4400];
    snprintf(opts, sizeof opts, "'%s' --set sprint_kmh=24", bad);
    size_t before_len, after_len;
    char *before = fa_test_read_file(f->db, &before_len), *err;
    int st = import(f, opts, bad_meta, NULL, &err);
    if (st != 2) fail_msg("exit %d, want 2: %s", st, err);
    if (!strstr(err, "kloppy_skillcorner_v3_raw_data.jsonl: frame 15: ") ||
        !strstr(err, "non-monotonic time"))
        fail_msg("error: %s", err);
    assert_non_null(strchr(err, '\n'));
    assert_null(strchr(strchr(err, '\n') + 1, '\n'));
    char *after = fa_test_read_file(f->db, &after_len);
    assert_true(after_len == before_len && memcmp(before, after, after_len) == 0);
    /* the untouched files import, with their analytics */
    snprintf(opts, sizeof opts, "--quiet '%s'", jsonl);
    import_ok(f, opts, meta);
    int64_t id;
    fa_store *s = open_store(f, "skillcorner:1", &id);
    assert_true(metrics_of(s, id, NULL).grids > 2);
    fa_store_close(s);
    free(before);
    free(after);
    free(err);
    free(bad);
    free(bad_meta);
    fa_buf_free(&b);
    free(text);
    free(mtext);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_stores_aggregates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_changes_definitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file_and_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_configuration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_analytics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reimport_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backwards_tracking_fails_import, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
