/*
 * test_match.c - fa_analyze_match on real data read by the real parsers:
 * StatsBomb 15986 (team figures equal data/reference/event_reference_values.txt,
 * minutes from the lineups, documents parse), the EPTS excerpt (physical
 * metrics for exactly the tracked players, heatmaps summing to the time on
 * the pitch, team sums), Wyscout (no provider xG: no "xg"), and the
 * configuration reaching the outputs and the definitions document.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "core/core.h"
#include "ingest/ingest.h"
#include "testutil.h"

#define assert_near(a, b, tol)                                                                               \
    do {                                                                                                     \
        double a_ = (a), b_ = (b);                                                                           \
        if (!(fabs(a_ - b_) <= (tol)))                                                                       \
            fail_msg("%s = %.12g, want %.12g (+- %g)", #a, a_, b_, (double)(tol));                           \
    } while (0)

/* ------------------------------------------------------------ helpers */

static const fa_metric *metric(const fa_aggregates *a, fa_side side, const char *player, const char *name) {
    for (size_t i = 0; i < a->nmetrics; i++) {
        const fa_metric *m = &a->metrics[i];
        if (m->side == side && strcmp(m->player_id, player) == 0 && strcmp(m->name, name) == 0) return m;
    }
    return NULL;
}

static double value(const fa_aggregates *a, fa_side side, const char *player, const char *name) {
    const fa_metric *m = metric(a, side, player, name);
    if (!m) fail_msg("metric %s of '%s' (side %d) is missing", name, player, (int)side);
    return m->value;
}

static size_t count_named(const fa_aggregates *a, const char *name) {
    size_t n = 0;
    for (size_t i = 0; i < a->nmetrics; i++) n += strcmp(a->metrics[i].name, name) == 0;
    return n;
}

static const char *doc(const fa_aggregates *a, const char *name) {
    for (size_t i = 0; i < a->ndocs; i++)
        if (strcmp(a->docs[i].name, name) == 0) return a->docs[i].json;
    return NULL;
}

static double grid_sum(const fa_grid *g) {
    double s = 0;
    for (int i = 0; i < g->nx * g->ny; i++) s += g->cells[i];
    return s;
}

static const fa_grid *grid(const fa_aggregates *a, fa_side side, const char *player) {
    for (size_t i = 0; i < a->ngrids; i++)
        if (a->grids[i].side == side && strcmp(a->grids[i].player_id, player) == 0) return &a->grids[i];
    return NULL;
}

/* Parses a document; fails the test when it is not JSON. */
static const fa_json_value *parse_doc(const fa_aggregates *a, const char *name, fa_arena *arena) {
    const char *json = doc(a, name);
    if (!json) fail_msg("document %s is missing", name);
    fa_json_value *v;
    if (fa_json_parse(name, json, strlen(json), arena, &v)) fail_msg("%s: %s", name, fa_err_msg());
    return v;
}

static double json_num(const fa_json_value *obj, const char *key) {
    const fa_json_value *v = fa_json_get(obj, key);
    if (!v || v->type != FA_JSON_NUMBER) fail_msg("no number '%s'", key);
    return v->u.num;
}

typedef struct run {
    fa_collector col;
    fa_aggregates a;
} run;

static void analyze(run *r, const fa_analytics_config *cfg) {
    memset(&r->a, 0, sizeof r->a);
    if (fa_analyze_match(&r->col, cfg, &r->a)) fail_msg("analyze: %s", fa_err_msg());
}

static void run_free(run *r) {
    fa_aggregates_free(&r->a);
    fa_collector_free(&r->col);
}

static void load_statsbomb(run *r) {
    const char *ev = fa_test_data("events/statsbomb/15986_event.json");
    FA_TEST_REQUIRE_DATA(ev);
    fa_collector_init(&r->col, NULL);
    if (fa_statsbomb_import(ev, fa_test_data("events/statsbomb/15986_lineup.json"), &r->col.sink))
        fail_msg("%s", fa_err_msg());
}

static void load_epts(run *r) {
    const char *tr = fa_test_data("tracking/metrica/epts_excerpt_tracking.txt");
    FA_TEST_REQUIRE_DATA(tr);
    fa_collector_init(&r->col, NULL);
    if (fa_epts_import(fa_test_data("tracking/metrica/epts_excerpt_metadata.xml"), tr, &r->col.sink))
        fail_msg("%s", fa_err_msg());
}

/* ------------------------------------------------------------ StatsBomb */

static const double len_15986 = (2881.108 + 2888.184) / 60; /* both Half End times */

static void test_statsbomb_reference_figures(void **state) {
    (void)state;
    run r;
    fa_analytics_config cfg;
    fa_analytics_config_default(&cfg);
    load_statsbomb(&r);
    analyze(&r, &cfg);
    const fa_aggregates *a = &r.a;
    /* reference/event_reference_values.txt: Barcelona (home), Girona (away) */
    assert_true(value(a, FA_SIDE_HOME, "", "passes") == 768);
    assert_true(value(a, FA_SIDE_AWAY, "", "passes") == 380);
    assert_true(value(a, FA_SIDE_HOME, "", "passes_completed") == 701);
    assert_true(value(a, FA_SIDE_AWAY, "", "passes_completed") == 299);
    assert_true(value(a, FA_SIDE_HOME, "", "shots") == 20);
    assert_true(value(a, FA_SIDE_AWAY, "", "shots") == 7);
    assert_true(value(a, FA_SIDE_HOME, "", "goals") == 2);
    assert_true(value(a, FA_SIDE_AWAY, "", "goals") == 2);
    assert_near(value(a, FA_SIDE_HOME, "", "xg"), 1.3065, 5e-5);
    assert_near(value(a, FA_SIDE_AWAY, "", "xg"), 0.8998, 5e-5);
    assert_non_null(metric(a, FA_SIDE_HOME, "", "xt"));
    assert_non_null(metric(a, FA_SIDE_AWAY, "", "progressive_passes"));

    /* players' figures add up to their team's */
    double passes[2] = {0, 0}, xg[2] = {0, 0};
    for (size_t i = 0; i < a->nmetrics; i++) {
        const fa_metric *m = &a->metrics[i];
        if (!m->player_id[0] || m->side < 0) continue;
        if (strcmp(m->name, "passes") == 0) passes[m->side] += m->value;
        if (strcmp(m->name, "xg") == 0) xg[m->side] += m->value;
    }
    assert_true(passes[0] == 768 && passes[1] == 380);
    assert_near(xg[0], value(a, FA_SIDE_HOME, "", "xg"), 1e-9);

    /* minutes are the provider's (lineups): every one of the 36 players */
    assert_int_equal(count_named(a, "minutes"), 36);
    assert_near(value(a, FA_SIDE_HOME, "20055", "minutes"), len_15986, 1e-9);    /* ter Stegen */
    assert_near(value(a, FA_SIDE_HOME, "6826", "minutes"), 1956.585 / 60, 1e-9); /* Lenglet, sent off */

    /* possession from events: two shares of the controlled time */
    double home = value(a, FA_SIDE_HOME, "", "possession_share"),
           away = value(a, FA_SIDE_AWAY, "", "possession_share");
    assert_near(home + away, 1.0, 1e-9);
    assert_true(home > 0.5 && home < 0.8);
    assert_null(metric(a, FA_SIDE_HOME, "", "possession_share_tracking"));

    /* no tracking: no physical metric, no heatmap, no speed profile */
    assert_int_equal(count_named(a, "distance_m"), 0);
    assert_int_equal(count_named(a, "peak_speed_ms"), 0);
    assert_int_equal(a->ngrids, 0);
    assert_null(doc(a, "speed_profile"));
    run_free(&r);
}

static void test_statsbomb_documents(void **state) {
    (void)state;
    run r;
    fa_analytics_config cfg;
    fa_analytics_config_default(&cfg);
    load_statsbomb(&r);
    analyze(&r, &cfg);
    fa_arena *arena = fa_arena_new(1 << 16);
    assert_int_equal(r.a.ndocs, 4);

    const fa_json_value *def = parse_doc(&r.a, "definitions", arena);
    const fa_json_value *config = fa_json_get(def, "config");
    assert_true(json_num(config, "sprint_kmh") == 25.2);
    assert_true(json_num(config, "heat_nx") == 21);
    const fa_json_value *tactical = fa_json_get(def, "tactical");
    assert_true(tactical && tactical->type == FA_JSON_STRING && tactical->u.str.len > 20);
    const fa_json_value *poss = fa_json_get(def, "possession");
    const fa_json_value *ev = fa_json_get(poss, "events");
    assert_true(ev && ev->type == FA_JSON_STRING && strncmp(ev->u.str.ptr, "events:", 7) == 0);
    assert_null(fa_json_get(poss, "tracking"));
    assert_non_null(fa_json_get(fa_json_get(def, "aggregates"), "minutes"));

    const fa_json_value *tl = parse_doc(&r.a, "possession_timeline", arena);
    assert_true(json_num(tl, "window_s") == 300);
    const fa_json_value *windows = fa_json_get(fa_json_get(tl, "events"), "windows");
    assert_true(windows && windows->type == FA_JSON_ARRAY && windows->u.arr.n >= 18); /* 2 x 45+ min / 5 */
    assert_true(json_num(windows->u.arr.items[0], "period") == 1);

    for (int s = 0; s < 2; s++) {
        const fa_json_value *net = parse_doc(&r.a, s ? "pass_network_away" : "pass_network_home", arena);
        const fa_json_value *nodes = fa_json_get(net, "nodes"), *edges = fa_json_get(net, "edges");
        assert_true(nodes && nodes->type == FA_JSON_ARRAY && nodes->u.arr.n >= 11);
        assert_true(edges && edges->type == FA_JSON_ARRAY && edges->u.arr.n > 0);
        for (size_t i = 0; i < edges->u.arr.n; i++) {
            assert_true(json_num(edges->u.arr.items[i], "from") < (double)nodes->u.arr.n);
            assert_true(json_num(edges->u.arr.items[i], "to") < (double)nodes->u.arr.n);
        }
        const fa_json_value *name = fa_json_get(nodes->u.arr.items[0], "name");
        assert_true(name && name->type == FA_JSON_STRING && name->u.str.len > 0); /* names from the lineups */
    }
    fa_arena_free(arena);
    run_free(&r);
}

/* Wyscout gives no xG: the metric is absent, never 0. */
static void test_absent_not_zero(void **state) {
    (void)state;
    const char *path = fa_test_data("events/wyscout/events_v2_2499773.json");
    FA_TEST_REQUIRE_DATA(path);
    run r;
    fa_analytics_config cfg;
    fa_analytics_config_default(&cfg);
    fa_collector_init(&r.col, NULL);
    if (fa_wyscout_import(path, &r.col.sink)) fail_msg("%s", fa_err_msg());
    analyze(&r, &cfg);
    assert_int_equal(count_named(&r.a, "xg"), 0);
    assert_non_null(metric(&r.a, FA_SIDE_HOME, "", "passes"));
    assert_non_null(metric(&r.a, FA_SIDE_HOME, "", "xt"));
    assert_int_equal(count_named(&r.a, "distance_m"), 0);
    run_free(&r);
}

/* ------------------------------------------------------------ EPTS tracking */

static const char *const tracked[] = {"Track_1",  "Track_2",  "Track_3",  "Track_4",  "Track_5",
                                      "Track_6",  "Track_7",  "Track_8",  "Track_10", "Track_12",
                                      "Track_13", "Track_14", "Track_15", "Track_16", "Track_17",
                                      "Track_18", "Track_19", "Track_20", "Track_21"};
static const char *const untracked[] = {"Track_9", "Track_11", "Track_22"};

static const char *const physical[] = {
    "minutes",       "distance_m",    "distance_per90_m",  "band_sprinting_m", "relband_rel_95_max_m",
    "sprints",       "sprints_per90", "sprint_distance_m", "hsr_runs",         "hsr_distance_m",
    "accelerations", "decelerations", "peak_speed_ms",     "p99_speed_ms",     "outliers",
    "gap_s"};

static void test_epts_physical_and_heatmaps(void **state) {
    (void)state;
    run r;
    fa_analytics_config cfg;
    fa_analytics_config_default(&cfg);
    cfg.per90_min_minutes = 0; /* 4-second clips: per-90 rates asked for explicitly */
    load_epts(&r);
    analyze(&r, &cfg);
    const fa_aggregates *a = &r.a;
    double team_distance[2] = {0, 0}, team_heat[2] = {0, 0};
    /* 50 frames in each of two periods at 25 Hz: 4 s on the pitch each */
    for (size_t i = 0; i < sizeof tracked / sizeof *tracked; i++) {
        fa_side side = i < 9 ? FA_SIDE_HOME : FA_SIDE_AWAY;
        for (size_t k = 0; k < sizeof physical / sizeof *physical; k++)
            value(a, side, tracked[i], physical[k]);
        assert_near(value(a, side, tracked[i], "minutes"), 4.0 / 60, 1e-12);
        double d = value(a, side, tracked[i], "distance_m"), bands = 0;
        for (int b = 0; b < cfg.nbands; b++) {
            char name[64];
            snprintf(name, sizeof name, "band_%s_m", cfg.bands[b].name);
            bands += value(a, side, tracked[i], name);
        }
        assert_near(bands, d, 1e-6 * (1 + d)); /* contiguous bands from 0 to infinity */
        assert_near(value(a, side, tracked[i], "distance_per90_m"), d * 90 / (4.0 / 60), 1e-6 * (1 + d));
        team_distance[side] += d;
        const fa_grid *g = grid(a, side, tracked[i]);
        assert_non_null(g);
        assert_string_equal(g->name, "heatmap");
        assert_int_equal(g->nx, 21);
        assert_int_equal(g->ny, 14);
        assert_near(grid_sum(g), 4.0, 1e-9);
        team_heat[side] += grid_sum(g);
    }
    for (size_t i = 0; i < sizeof untracked / sizeof *untracked; i++) {
        for (size_t m = 0; m < a->nmetrics; m++)
            if (strcmp(a->metrics[m].player_id, untracked[i]) == 0)
                fail_msg("%s has no coordinates but has %s", untracked[i], a->metrics[m].name);
        assert_null(grid(a, FA_SIDE_HOME, untracked[i]));
        assert_null(grid(a, FA_SIDE_AWAY, untracked[i]));
    }
    assert_int_equal(count_named(a, "distance_m"), 19 + 2);
    assert_int_equal(a->ngrids, 19 + 2);
    assert_near(team_heat[0], 9 * 4.0, 1e-9);
    assert_near(team_heat[1], 10 * 4.0, 1e-9);
    for (int s = 0; s < 2; s++) {
        assert_near(value(a, (fa_side)s, "", "distance_m"), team_distance[s], 1e-9);
        assert_near(grid_sum(grid(a, (fa_side)s, "")), team_heat[s], 1e-9);
    }
    assert_near(value(a, FA_SIDE_NONE, "", "ball_tracked_s"), 4.0, 1e-9);
    assert_non_null(metric(a, FA_SIDE_NONE, "", "ball_distance_m"));
    /* no events: no tactical metric, no pass network, no events possession */
    assert_int_equal(count_named(a, "passes"), 0);
    assert_null(doc(a, "pass_network_home"));
    run_free(&r);
}

/* By default a per-90 rate needs 15 minutes played: none for 4-second clips,
 * and with the threshold off every count and distance has one. */
static void test_per90_threshold(void **state) {
    (void)state;
    run r;
    fa_analytics_config cfg;
    fa_analytics_config_default(&cfg);
    load_epts(&r);
    analyze(&r, &cfg);
    for (size_t i = 0; i < r.a.nmetrics; i++)
        if (strstr(r.a.metrics[i].name, "per90")) fail_msg("%s present for 4 s played", r.a.metrics[i].name);
    run_free(&r);
    cfg.per90_min_minutes = 0;
    load_epts(&r);
    analyze(&r, &cfg);
    const char *rates[] = {"distance_per90_m",       "band_walking_per90_m", "sprints_per90",
                           "sprint_distance_per90_m", "hsr_runs_per90",       "hsr_distance_per90_m",
                           "accelerations_per90",     "decelerations_per90"};
    for (size_t k = 0; k < sizeof rates / sizeof *rates; k++)
        if (!metric(&r.a, FA_SIDE_HOME, "Track_1", rates[k])) fail_msg("%s missing", rates[k]);
    run_free(&r);
}

/* Three of the excerpt's 22 players are NaN throughout: said, not hidden. */
static void test_epts_data_quality(void **state) {
    (void)state;
    run r;
    fa_analytics_config cfg;
    fa_analytics_config_default(&cfg);
    load_epts(&r);
    analyze(&r, &cfg);
    fa_arena *arena = fa_arena_new(1 << 14);
    const fa_json_value *q = parse_doc(&r.a, "data_quality", arena);
    assert_float_equal(json_num(q, "frames"), 100, 0);
    const fa_json_value *missing = fa_json_get(q, "players_without_frames");
    assert_non_null(missing);
    assert_int_equal(missing->u.arr.n, 3);
    for (size_t i = 0; i < 3; i++) assert_string_equal(missing->u.arr.items[i]->u.str.ptr, untracked[i]);
    fa_arena_free(arena);
    run_free(&r);
    load_statsbomb(&r); /* events only: no tracking, no data-quality document */
    analyze(&r, &cfg);
    assert_null(doc(&r.a, "data_quality"));
    run_free(&r);
}

static void test_epts_documents(void **state) {
    (void)state;
    run r;
    fa_analytics_config cfg;
    fa_analytics_config_default(&cfg);
    load_epts(&r);
    analyze(&r, &cfg);
    fa_arena *arena = fa_arena_new(1 << 16);
    const fa_json_value *prof = parse_doc(&r.a, "speed_profile", arena);
    assert_true(json_num(prof, "step_s") == 5);
    const fa_json_value *players = fa_json_get(prof, "players");
    assert_true(players && players->type == FA_JSON_ARRAY);
    assert_int_equal(players->u.arr.n, 19);
    const fa_json_value *periods = fa_json_get(players->u.arr.items[0], "periods");
    assert_int_equal(periods->u.arr.n, 2);
    const fa_json_value *v = fa_json_get(periods->u.arr.items[1], "v");
    assert_int_equal(v->u.arr.n, 1); /* 2 s of period 2: one 5 s bucket */
    assert_true(v->u.arr.items[0]->type == FA_JSON_NUMBER && v->u.arr.items[0]->u.num > 0);

    const fa_json_value *def = parse_doc(&r.a, "definitions", arena);
    const fa_json_value *poss = fa_json_get(def, "possession");
    assert_null(fa_json_get(poss, "events"));
    const fa_json_value *tr = fa_json_get(poss, "tracking");
    assert_true(tr && tr->type == FA_JSON_STRING && strncmp(tr->u.str.ptr, "tracking:", 9) == 0);
    assert_null(fa_json_get(def, "tactical"));
    parse_doc(&r.a, "possession_timeline", arena);
    fa_arena_free(arena);
    run_free(&r);
}

/* ------------------------------------------------------------ configuration */

static void test_configuration_reaches_outputs(void **state) {
    (void)state;
    run r;
    fa_analytics_config cfg;
    fa_analytics_config_default(&cfg);
    assert_int_equal(fa_analytics_config_set(&cfg, "sprint_kmh", "24"), 0);
    assert_int_equal(fa_analytics_config_set(&cfg, "heat_nx", "10"), 0);
    assert_int_equal(fa_analytics_config_set(&cfg, "heat_ny", "7"), 0);
    assert_int_equal(fa_analytics_config_set(&cfg, "heat_sigma_cells", "0"), 0);
    assert_int_equal(fa_analytics_config_set(&cfg, "bands", "slow:0-14.4,fast:14.4-inf"), 0);
    load_epts(&r);
    analyze(&r, &cfg);
    fa_arena *arena = fa_arena_new(1 << 16);
    const fa_json_value *config = fa_json_get(parse_doc(&r.a, "definitions", arena), "config");
    assert_true(json_num(config, "sprint_kmh") == 24);
    assert_true(json_num(config, "heat_nx") == 10);
    const fa_grid *g = grid(&r.a, FA_SIDE_HOME, "Track_1");
    assert_int_equal(g->nx, 10);
    assert_int_equal(g->ny, 7);
    assert_near(grid_sum(g), 4.0, 1e-9);
    double d = value(&r.a, FA_SIDE_HOME, "Track_2", "distance_m");
    double slow = value(&r.a, FA_SIDE_HOME, "Track_2", "band_slow_m");
    double fast = value(&r.a, FA_SIDE_HOME, "Track_2", "band_fast_m");
    assert_near(slow + fast, d, 1e-6 * (1 + d));
    assert_int_equal(count_named(&r.a, "band_sprinting_m"), 0);
    fa_arena_free(arena);
    run_free(&r);
}

static void test_bad_arguments(void **state) {
    (void)state;
    fa_collector col;
    fa_analytics_config cfg;
    fa_aggregates a = {0};
    fa_analytics_config_default(&cfg);
    fa_collector_init(&col, NULL);
    assert_int_equal(fa_analyze_match(NULL, &cfg, &a), FA_EINVAL);
    assert_int_equal(fa_analyze_match(&col, NULL, &a), FA_EINVAL);
    assert_int_equal(fa_analyze_match(&col, &cfg, NULL), FA_EINVAL);
    /* an empty match: nothing applies but the definitions */
    assert_int_equal(fa_analyze_match(&col, &cfg, &a), 0);
    assert_int_equal(a.nmetrics, 0);
    assert_int_equal(a.ngrids, 0);
    assert_int_equal(a.ndocs, 1);
    assert_string_equal(a.docs[0].name, "definitions");
    fa_aggregates_free(&a);
    fa_collector_free(&col);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statsbomb_reference_figures),
        cmocka_unit_test(test_statsbomb_documents),
        cmocka_unit_test(test_absent_not_zero),
        cmocka_unit_test(test_epts_physical_and_heatmaps),
        cmocka_unit_test(test_per90_threshold),
        cmocka_unit_test(test_epts_data_quality),
        cmocka_unit_test(test_epts_documents),
        cmocka_unit_test(test_configuration_reaches_outputs),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
