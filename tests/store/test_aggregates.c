/*
 * test_aggregates.c - a match's derived aggregates in the store: exact round
 * trip of metrics, grids (both codecs) and documents, filters by player,
 * replacement (in the import and afterwards), re-import clearing them,
 * abort, season sums across matches, bad input, and no table scans.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/core.h"
#include "store/store.h"

/* ------------------------------------------------------------ fixtures */

typedef struct world {
    char *dir;
    char path[4200];
    fa_store *s;
} world;

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    w->dir = fa_test_tmpdir();
    snprintf(w->path, sizeof w->path, "%s/agg.db", w->dir);
    w->s = fa_store_open(w->path, 1, 1);
    if (!w->s) {
        fprintf(stderr, "open: %s\n", fa_err_msg());
        return -1;
    }
    *state = w;
    return 0;
}

static int teardown(void **state) {
    world *w = *state;
    fa_store_close(w->s);
    fa_test_rmtree(w->dir);
    free(w->dir);
    free(w);
    return 0;
}

static void make_match(fa_match *m, const char *id) {
    fa_match_init(m, FA_PROVIDER_STATSBOMB);
    snprintf(m->id, sizeof m->id, "%s", id);
    strcpy(m->teams[0].id, "217");
    strcpy(m->teams[0].name, "Barcelona");
    strcpy(m->teams[1].id, "220");
    strcpy(m->teams[1].name, "Girona");
}

static void make_player(fa_player *p, const char *id, fa_side side, const char *name) {
    fa_player_init(p);
    strcpy(p->id, id);
    strcpy(p->name, name);
    p->side = side;
}

/* A heatmap-like grid: mostly zeros (zstd shrinks it) when sparse, else
 * values with no repetition (stored raw). */
static void fill_cells(double *cells, int n, int sparse, double scale) {
    for (int i = 0; i < n; i++)
        cells[i] = sparse ? (i % 17 == 3 ? scale * i / 7.0 : 0.0) : scale * sin(i * 1.2345) / 3.0 + i * 1e-9;
}

/* Aggregates v1 or v2 (v2 changes values, drops a player, adds a doc). */
static void make_aggregates(fa_aggregates *a, int version) {
    double big[21 * 14], small[3 * 2];
    fill_cells(big, 21 * 14, 1, version);
    fill_cells(small, 6, 0, version);
    assert_int_equal(fa_aggregates_metric(a, FA_SIDE_HOME, "", "passes", 768 * version), 0);
    assert_int_equal(fa_aggregates_metric(a, FA_SIDE_AWAY, NULL, "passes", 380), 0);
    assert_int_equal(fa_aggregates_metric(a, FA_SIDE_HOME, "", "xg", 1.3065 + 1.0 / 3.0), 0);
    assert_int_equal(fa_aggregates_metric(a, FA_SIDE_HOME, "5503", "distance_m", 10234.5 * version), 0);
    assert_int_equal(fa_aggregates_metric(a, FA_SIDE_HOME, "5503", "sprints", 31), 0);
    if (version == 1)
        assert_int_equal(fa_aggregates_metric(a, FA_SIDE_AWAY, "6581", "distance_m", 9876.25), 0);
    assert_int_equal(fa_aggregates_grid(a, FA_SIDE_HOME, "", "heatmap", 21, 14, big), 0);
    assert_int_equal(fa_aggregates_grid(a, FA_SIDE_HOME, "5503", "heatmap", 3, 2, small), 0);
    assert_int_equal(fa_aggregates_doc(a, "definitions", "{\"sprint_kmh\":25.2}"), 0);
    if (version == 2) assert_int_equal(fa_aggregates_doc(a, "possession_timeline", "[]"), 0);
}

/* Imports a match with two players and, when a is given, its aggregates. */
static int64_t import_with(fa_store *s, const char *id, const fa_aggregates *a) {
    fa_store_import *imp;
    fa_match m;
    fa_player p;
    fa_import_stats st;
    make_match(&m, id);
    assert_int_equal(fa_store_import_begin(s, &imp), 0);
    const fa_sink *k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, &m), 0);
    make_player(&p, "5503", FA_SIDE_HOME, "Lionel Messi");
    assert_int_equal(k->player(k->ud, &p), 0);
    make_player(&p, "6581", FA_SIDE_AWAY, "Cristhian Stuani");
    assert_int_equal(k->player(k->ud, &p), 0);
    assert_int_equal(k->end(k->ud, &m), 0);
    if (a && fa_store_import_aggregates(imp, a)) fail_msg("aggregates: %s", fa_err_msg());
    if (fa_store_import_commit(imp, &st)) fail_msg("commit: %s", fa_err_msg());
    return st.match_id;
}

/* ------------------------------------------------------------ collectors */

typedef struct seen {
    fa_aggregates a; /* what came back, copied */
} seen;

static int on_metric(void *ud, const fa_metric *m) {
    seen *c = ud;
    return fa_aggregates_metric(&c->a, m->side, m->player_id, m->name, m->value);
}

static int on_grid(void *ud, const fa_grid *g) {
    seen *c = ud;
    return fa_aggregates_grid(&c->a, g->side, g->player_id, g->name, g->nx, g->ny, g->cells);
}

static size_t count_metrics(fa_store *s, int64_t match, const char *player) {
    seen c = {0};
    assert_int_equal(fa_store_metrics(s, match, player, on_metric, &c), 0);
    size_t n = c.a.nmetrics;
    fa_aggregates_free(&c.a);
    return n;
}

static size_t count_grids(fa_store *s, int64_t match, const char *player) {
    seen c = {0};
    assert_int_equal(fa_store_grids(s, match, player, on_grid, &c), 0);
    size_t n = c.a.ngrids;
    fa_aggregates_free(&c.a);
    return n;
}

static void assert_same_metrics(const fa_aggregates *want, const fa_aggregates *got) {
    assert_int_equal(got->nmetrics, want->nmetrics);
    for (size_t i = 0; i < want->nmetrics; i++) {
        assert_int_equal(got->metrics[i].side, want->metrics[i].side);
        assert_string_equal(got->metrics[i].player_id, want->metrics[i].player_id);
        assert_string_equal(got->metrics[i].name, want->metrics[i].name);
        if (got->metrics[i].value != want->metrics[i].value)
            fail_msg("metric %zu: %.17g != %.17g", i, got->metrics[i].value, want->metrics[i].value);
    }
}

static void assert_same_grids(const fa_aggregates *want, const fa_aggregates *got) {
    assert_int_equal(got->ngrids, want->ngrids);
    for (size_t i = 0; i < want->ngrids; i++) {
        const fa_grid *a = &want->grids[i], *b = &got->grids[i];
        assert_int_equal(b->side, a->side);
        assert_string_equal(b->player_id, a->player_id);
        assert_string_equal(b->name, a->name);
        assert_int_equal(b->nx, a->nx);
        assert_int_equal(b->ny, a->ny);
        assert_memory_equal(b->cells, a->cells, (size_t)a->nx * (size_t)a->ny * sizeof *a->cells);
    }
}

static char *doc_of(fa_store *s, int64_t match, const char *name, int *rc) {
    fa_buf b = {0};
    *rc = fa_store_doc(s, match, name, &b);
    if (!b.data) fa_buf_puts(&b, "");
    return b.data;
}

/* The codec column of every grid of the match, in order, comma-separated. */
static void grid_codecs(const char *path, char *out, size_t size) {
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT codec FROM match_grids ORDER BY rowid", -1, &st, NULL),
                     SQLITE_OK);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = strlen(out);
        snprintf(out + n, size - n, "%s%s", n ? "," : "", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ------------------------------------------------------------ tests */

static void test_roundtrip(void **state) {
    world *w = *state;
    fa_aggregates a = {0};
    make_aggregates(&a, 1);
    int64_t id = import_with(w->s, "15986", &a);

    seen all = {0}, team = {0}, player = {0};
    assert_int_equal(fa_store_metrics(w->s, id, NULL, on_metric, &all), 0);
    assert_same_metrics(&a, &all.a);
    assert_int_equal(fa_store_metrics(w->s, id, "", on_metric, &team), 0);
    assert_int_equal(team.a.nmetrics, 3);
    assert_string_equal(team.a.metrics[2].name, "xg");
    assert_true(team.a.metrics[2].value == 1.3065 + 1.0 / 3.0);
    assert_int_equal(team.a.metrics[1].side, FA_SIDE_AWAY);
    assert_int_equal(fa_store_metrics(w->s, id, "5503", on_metric, &player), 0);
    assert_int_equal(player.a.nmetrics, 2);
    assert_string_equal(player.a.metrics[0].player_id, "5503");
    assert_true(player.a.metrics[0].value == 10234.5);
    assert_int_equal(count_metrics(w->s, id, "no-such-player"), 0);
    assert_int_equal(count_metrics(w->s, id + 100, NULL), 0);

    seen grids = {0};
    assert_int_equal(fa_store_grids(w->s, id, NULL, on_grid, &grids), 0);
    assert_same_grids(&a, &grids.a);
    assert_int_equal(count_grids(w->s, id, ""), 1);
    assert_int_equal(count_grids(w->s, id, "5503"), 1);
    assert_int_equal(count_grids(w->s, id, "6581"), 0);
    char codecs[256];
    grid_codecs(w->path, codecs, sizeof codecs);
    assert_string_equal(codecs, "f64le+zstd,f64le"); /* sparse compresses; 6 distinct cells do not */

    int rc;
    char *doc = doc_of(w->s, id, "definitions", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(doc, "{\"sprint_kmh\":25.2}");
    free(doc);
    doc = doc_of(w->s, id, "possession_timeline", &rc);
    assert_int_equal(rc, FA_ENOTFOUND);
    assert_non_null(strstr(fa_err_msg(), "possession_timeline"));
    free(doc);

    fa_aggregates_free(&all.a);
    fa_aggregates_free(&team.a);
    fa_aggregates_free(&player.a);
    fa_aggregates_free(&grids.a);
    fa_aggregates_free(&a);
}

static void test_replace_after_import(void **state) {
    world *w = *state;
    fa_aggregates a1 = {0}, a2 = {0};
    make_aggregates(&a1, 1);
    make_aggregates(&a2, 2);
    int64_t id = import_with(w->s, "15986", &a1);
    assert_int_equal(fa_aggregates_metric(&a2, FA_SIDE_HOME, "424242", "minutes", 12),
                     0); /* unknown player */
    if (fa_store_aggregates_replace(w->s, id, &a2)) fail_msg("replace: %s", fa_err_msg());

    seen all = {0}, grids = {0};
    assert_int_equal(fa_store_metrics(w->s, id, NULL, on_metric, &all), 0);
    assert_same_metrics(&a2, &all.a);
    assert_int_equal(fa_store_grids(w->s, id, NULL, on_grid, &grids), 0);
    assert_same_grids(&a2, &grids.a);
    assert_int_equal(count_metrics(w->s, id, "6581"), 0);
    assert_int_equal(count_metrics(w->s, id, "424242"), 1);
    int rc;
    char *doc = doc_of(w->s, id, "possession_timeline", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(doc, "[]");
    free(doc);

    assert_int_equal(fa_store_aggregates_replace(w->s, id + 7, &a2), FA_ENOTFOUND);
    assert_non_null(strstr(fa_err_msg(), "not in the database"));

    fa_aggregates_free(&all.a);
    fa_aggregates_free(&grids.a);
    fa_aggregates_free(&a1);
    fa_aggregates_free(&a2);
}

static void test_reimport_clears_and_replaces(void **state) {
    world *w = *state;
    fa_aggregates a1 = {0}, a2 = {0};
    make_aggregates(&a1, 1);
    make_aggregates(&a2, 2);
    int64_t id = import_with(w->s, "15986", &a1);
    assert_int_equal(count_metrics(w->s, id, NULL), 6);

    /* Re-imported without analytics: the old aggregates are gone. */
    assert_int_equal(import_with(w->s, "15986", NULL), id);
    assert_int_equal(count_metrics(w->s, id, NULL), 0);
    assert_int_equal(count_grids(w->s, id, NULL), 0);
    int rc;
    free(doc_of(w->s, id, "definitions", &rc));
    assert_int_equal(rc, FA_ENOTFOUND);

    /* Re-imported with analytics: exactly the new ones. */
    import_with(w->s, "15986", &a1);
    assert_int_equal(import_with(w->s, "15986", &a2), id);
    seen all = {0};
    assert_int_equal(fa_store_metrics(w->s, id, NULL, on_metric, &all), 0);
    assert_same_metrics(&a2, &all.a);
    assert_int_equal(count_grids(w->s, id, NULL), 2);

    fa_aggregates_free(&all.a);
    fa_aggregates_free(&a1);
    fa_aggregates_free(&a2);
}

static void test_aggregates_twice_in_one_import(void **state) {
    world *w = *state;
    fa_aggregates a1 = {0}, a2 = {0};
    make_aggregates(&a1, 1);
    make_aggregates(&a2, 2);
    fa_store_import *imp;
    fa_match m;
    fa_import_stats st;
    make_match(&m, "77");
    assert_int_equal(fa_store_import_begin(w->s, &imp), 0);
    assert_int_equal(fa_store_import_aggregates(imp, &a1), FA_EINVAL); /* before begin */
    fa_store_import_abort(imp);

    assert_int_equal(fa_store_import_begin(w->s, &imp), 0);
    const fa_sink *k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, &m), 0);
    assert_int_equal(k->end(k->ud, &m), 0);
    assert_int_equal(fa_store_import_aggregates(imp, &a1), 0);
    assert_int_equal(fa_store_import_aggregates(imp, &a2), 0); /* the second replaces the first */
    assert_int_equal(fa_store_import_commit(imp, &st), 0);
    seen all = {0};
    assert_int_equal(fa_store_metrics(w->s, st.match_id, NULL, on_metric, &all), 0);
    assert_same_metrics(&a2, &all.a);
    fa_aggregates_free(&all.a);
    fa_aggregates_free(&a1);
    fa_aggregates_free(&a2);
}

static void test_abort_stores_nothing(void **state) {
    world *w = *state;
    fa_aggregates a = {0};
    make_aggregates(&a, 1);
    int64_t id = import_with(w->s, "15986", &a);
    fa_store_import *imp;
    fa_match m;
    make_match(&m, "15986");
    fa_aggregates b = {0};
    assert_int_equal(fa_aggregates_metric(&b, FA_SIDE_HOME, "", "passes", 1), 0);
    assert_int_equal(fa_store_import_begin(w->s, &imp), 0);
    const fa_sink *k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, &m), 0);
    assert_int_equal(fa_store_import_aggregates(imp, &b), 0);
    fa_store_import_abort(imp);
    seen all = {0};
    assert_int_equal(fa_store_metrics(w->s, id, NULL, on_metric, &all), 0);
    assert_same_metrics(&a, &all.a);
    fa_aggregates_free(&all.a);
    fa_aggregates_free(&a);
    fa_aggregates_free(&b);
}

static void test_metric_sum_across_matches(void **state) {
    world *w = *state;
    fa_aggregates a1 = {0}, a2 = {0};
    make_aggregates(&a1, 1);
    make_aggregates(&a2, 2);
    import_with(w->s, "15986", &a1);
    import_with(w->s, "3788741", &a2);
    double sum;
    int64_t n;
    assert_int_equal(fa_store_metric_sum(w->s, "5503", "distance_m", &sum, &n), 0);
    assert_true(sum == 10234.5 * 3);
    assert_int_equal(n, 2);
    assert_int_equal(fa_store_metric_sum(w->s, "statsbomb:5503", "sprints", &sum, &n), 0);
    assert_true(sum == 62);
    assert_int_equal(n, 2);
    assert_int_equal(fa_store_metric_sum(w->s, "metrica:5503", "sprints", &sum, &n), 0);
    assert_true(sum == 0);
    assert_int_equal(n, 0);
    assert_int_equal(fa_store_metric_sum(w->s, "6581", "distance_m", &sum, &n), 0);
    assert_true(sum == 9876.25);
    assert_int_equal(n, 1);
    assert_int_equal(fa_store_metric_sum(w->s, "5503", "no_such_metric", &sum, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(fa_store_metric_sum(w->s, "", "sprints", &sum, &n), FA_EINVAL);
    fa_aggregates_free(&a1);
    fa_aggregates_free(&a2);
}

static void test_bad_aggregates(void **state) {
    world *w = *state;
    int64_t id = import_with(w->s, "15986", NULL);
    fa_aggregates a = {0};
    assert_int_equal(fa_aggregates_metric(&a, FA_SIDE_HOME, "", "passes", 1), 0);
    a.metrics[0].side = (fa_side)5;
    assert_int_equal(fa_store_aggregates_replace(w->s, id, &a), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "side 5"));
    a.metrics[0].side = FA_SIDE_HOME;
    a.metrics[0].value = NAN;
    assert_int_equal(fa_store_aggregates_replace(w->s, id, &a), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "'passes': value is not finite"));
    fa_aggregates_free(&a);
    assert_int_equal(fa_aggregates_doc(&a, "definitions", "{}"), 0);
    assert_int_equal(fa_aggregates_doc(&a, "definitions", "{}"), 0);
    assert_int_equal(fa_store_aggregates_replace(w->s, id, &a), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "document 'definitions' given twice"));
    assert_int_equal(fa_store_aggregates_replace(w->s, id, NULL), FA_EINVAL);
    /* Nothing of the failed replacements stayed. */
    int rc;
    free(doc_of(w->s, id, "definitions", &rc));
    assert_int_equal(rc, FA_ENOTFOUND);
    fa_aggregates_free(&a);
}

/* Damages the stored grid (codec and cells) and expects read-back to say so. */
static void expect_corrupt(world *w, int64_t id, const char *update, const char *message) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(w->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, update, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    seen c = {0};
    assert_int_equal(fa_store_grids(w->s, id, NULL, on_grid, &c), FA_EIO);
    if (!strstr(fa_err_msg(), message)) fail_msg("'%s' lacks '%s'", fa_err_msg(), message);
    assert_int_equal(c.a.ngrids, 0);
    fa_aggregates_free(&c.a);
}

static void test_corrupt_grid_is_an_error(void **state) {
    world *w = *state;
    fa_aggregates a = {0};
    double cells[4] = {1, 2, 3, 4};
    assert_int_equal(fa_aggregates_grid(&a, FA_SIDE_AWAY, "", "heatmap", 2, 2, cells), 0);
    int64_t id = import_with(w->s, "15986", &a);
    expect_corrupt(w, id, "UPDATE match_grids SET codec = 'f64le', cells = x'0102'",
                   "grid 'heatmap': corrupt grid: 2 bytes, expected 32");
    expect_corrupt(w, id, "UPDATE match_grids SET codec = 'f64le+zstd'",
                   "corrupt grid: not a zstd frame with a known size (2 bytes)");
    expect_corrupt(w, id, "UPDATE match_grids SET codec = 'lz4'", "unknown grid codec 'lz4'");
    expect_corrupt(w, id, "UPDATE match_grids SET nx = 0", "corrupt size 0 x 2");
    fa_aggregates_free(&a);
}

static void test_explain_clean(void **state) {
    world *w = *state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int scans = -1;
    assert_int_equal(fa_store_explain(w->s, out, &scans), 0);
    fclose(out);
    assert_int_equal(scans, 0);
    static const char *expect[][2] = {
        {"metrics_by_match_player:", "USING INDEX match_metrics_match_player (match_id=? AND player_id=?)"},
        {"metrics_by_match_team:", "USING INDEX match_metrics_match_player (match_id=? AND player_id=?)"},
        {"grids_by_match:", "USING INDEX match_grids_match_player (match_id=?)"},
        {"doc_by_name:", "USING PRIMARY KEY (match_id=? AND name=?)"},
        {"metric_sum:", "USING INDEX match_metrics_player_name (player_id=? AND name=?)"},
        {"metric_sum:", "players_provider_id (provider_id=?)"},
        {"metrics_delete:", "(match_id=?)"},
    };
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++) {
        const char *at = strstr(text, expect[i][0]);
        if (!at) fail_msg("no plan for %s", expect[i][0]);
        size_t n = strcspn(at, "\n");
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)n, at);
        if (!strstr(line, expect[i][1])) fail_msg("%s lacks '%s'", line, expect[i][1]);
    }
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_after_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reimport_clears_and_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregates_twice_in_one_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metric_sum_across_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_aggregates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_grid_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explain_clean, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
