/*
 * test_stats.c - `footanalytics stats` on real data imported into a
 * temporary database: StatsBomb 15986 (Barcelona 2-2 Girona, events only),
 * Metrica's EPTS excerpt (tracking only) and the Last-Row clip (tracking
 * only). Checks the reference figures (shared/data/reference: Barcelona 768
 * passes, 20 shots, xG 1.3065), the JSON shape, one player's list, and the
 * usage and not-found exits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "core/core.h"

typedef struct fixture {
    char *dir;
    char db[4200];
} fixture;

static char *run_ok(const char *args) {
    char *out, *err;
    int st = fa_test_run_cli(args, &out, &err);
    if (st != 0) fail_msg("footanalytics %s: exit %d\nstdout: %s\nstderr: %s", args, st, out, err);
    free(err);
    return out;
}

static void expect_exit(const char *args, int status, const char *in_err) {
    char *out, *err;
    int st = fa_test_run_cli(args, &out, &err);
    if (st != status) fail_msg("footanalytics %s: exit %d, want %d\nstderr: %s", args, st, status, err);
    if (in_err && !strstr(err, in_err))
        fail_msg("footanalytics %s: stderr lacks '%s': %s", args, in_err, err);
    free(out);
    free(err);
}

static int setup(void **state) {
    const char *sb = fa_test_data("events/statsbomb/15986_event.json");
    const char *epts = fa_test_data("tracking/metrica/epts_excerpt_metadata.xml");
    const char *lr = fa_test_data("tracking/lastrow/LIV_2-1_CHE.csv");
    if (!fa_test_file_exists(sb) || !fa_test_file_exists(epts) || !fa_test_file_exists(lr)) {
        *state = NULL;
        return 0;
    }
    fixture *f = calloc(1, sizeof *f);
    f->dir = fa_test_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/fa.db", f->dir);
    char args[16384];
    snprintf(args, sizeof args, "import --quiet --db '%s' '%s' '%s' '%s'", f->db, sb, epts, lr);
    free(run_ok(args));
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!f) return 0;
    fa_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static fixture *need(void **state) {
    if (!*state) {
        print_message("SKIP: shared data not found\n");
        skip();
    }
    return *state;
}

/* The line of out that starts with label, NUL-terminated into buf. */
static const char *line_of(const char *out, const char *label, char *buf, size_t size) {
    size_t n = strlen(label);
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, label, n) == 0 && p[n] == ' ') {
            size_t len = strcspn(p, "\n");
            snprintf(buf, size, "%.*s", (int)len, p);
            return buf;
        }
    }
    fail_msg("no line starting with '%s' in:\n%s", label, out);
    return NULL;
}

/* The whitespace-separated fields of a table line after its label. */
static void expect_row(const char *out, const char *label, const char *home, const char *away) {
    char buf[512], h[64], a[64];
    const char *line = line_of(out, label, buf, sizeof buf);
    if (sscanf(line + strlen(label), "%63s %63s", h, a) != 2) fail_msg("row '%s': %s", label, line);
    if (strcmp(h, home) || strcmp(a, away))
        fail_msg("row '%s': got %s / %s, want %s / %s", label, h, a, home, away);
}

static void test_text_tables(void **state) {
    fixture *f = need(state);
    char args[8192];
    snprintf(args, sizeof args, "stats statsbomb:15986 --db '%s'", f->db);
    char *out = run_ok(args);
    assert_non_null(strstr(out, "Barcelona 2-2 Girona\n"));
    assert_non_null(strstr(out, "statsbomb:15986 (id 1)"));
    expect_row(out, "Score", "2", "2");
    expect_row(out, "Passes", "768", "380");
    expect_row(out, "Passes completed", "701", "299");
    expect_row(out, "Pass completion", "91.3%", "78.7%");
    expect_row(out, "Shots", "20", "7");
    expect_row(out, "Goals", "2", "2");
    expect_row(out, "xG", "1.31", "0.90");
    /* one line per player: Messi with 77 passes and 6 shots */
    char buf[512];
    const char *messi =
        line_of(out, "Lionel Andrés Messi Cuccitt", buf, sizeof buf); /* cut at 27 characters */
    assert_non_null(strstr(messi, " home "));
    assert_non_null(strstr(messi, " 77 "));
    /* no tracking here: no distance column */
    assert_null(strstr(out, "DIST_M"));
    free(out);
}

static const fa_json_value *get_path(const fa_json_value *v, const char *a, const char *b, const char *c) {
    v = fa_json_get(v, a);
    if (v && b) v = fa_json_get(v, b);
    if (v && c) v = fa_json_get(v, c);
    return v;
}

static double num_at(const fa_json_value *v, const char *a, const char *b, const char *c) {
    const fa_json_value *x = get_path(v, a, b, c);
    if (!x || x->type != FA_JSON_NUMBER) fail_msg("%s.%s.%s: not a number", a, b ? b : "", c ? c : "");
    return x->u.num;
}

static const fa_json_value *parse_json(const char *out, fa_arena *a) {
    fa_json_value *v = NULL;
    int rc = fa_json_parse("stats", out, strlen(out), a, &v);
    if (rc) fail_msg("stats --json does not parse: %s\n%.400s", fa_err_msg(), out);
    return v;
}

static const fa_json_value *find_player(const fa_json_value *root, const char *id) {
    const fa_json_value *ps = fa_json_get(root, "players");
    assert_non_null(ps);
    for (size_t i = 0; i < ps->u.arr.n; i++) {
        const fa_json_value *pid = fa_json_get(ps->u.arr.items[i], "id");
        if (pid && pid->type == FA_JSON_STRING && strcmp(pid->u.str.ptr, id) == 0) return ps->u.arr.items[i];
    }
    return NULL;
}

static void test_json(void **state) {
    fixture *f = need(state);
    char args[8192];
    snprintf(args, sizeof args, "stats 1 --json --db '%s'", f->db);
    char *out = run_ok(args);
    fa_arena *a = fa_arena_new(1 << 16);
    const fa_json_value *v = parse_json(out, a);
    assert_string_equal(get_path(v, "match", "ref", NULL)->u.str.ptr, "statsbomb:15986");
    assert_int_equal(get_path(v, "match", "analysed", NULL)->type, FA_JSON_TRUE);
    assert_string_equal(get_path(v, "teams", "home", "name")->u.str.ptr, "Barcelona");
    assert_float_equal(num_at(v, "teams", "home", "score"), 2, 0);
    const fa_json_value *hm = get_path(v, "teams", "home", "metrics"),
                        *am = get_path(v, "teams", "away", "metrics");
    assert_float_equal(num_at(hm, "passes", NULL, NULL), 768, 0);
    assert_float_equal(num_at(am, "passes", NULL, NULL), 380, 0);
    assert_float_equal(num_at(hm, "passes_completed", NULL, NULL), 701, 0);
    assert_float_equal(num_at(hm, "shots", NULL, NULL), 20, 0);
    assert_float_equal(num_at(am, "shots", NULL, NULL), 7, 0);
    assert_float_equal(num_at(hm, "xg", NULL, NULL), 1.3065, 1e-4);
    assert_float_equal(num_at(am, "xg", NULL, NULL), 0.8998, 1e-4);
    double ph = num_at(hm, "possession_share", NULL, NULL), pa = num_at(am, "possession_share", NULL, NULL);
    assert_float_equal(ph + pa, 1.0, 1e-9);
    assert_true(ph > 0.5 && ph < 0.85);         /* Barcelona had most of the ball */
    assert_null(fa_json_get(hm, "distance_m")); /* events only: no physical metric */
    /* 18 + 18 players of the lineups; Messi's own figures */
    assert_int_equal(fa_json_get(v, "players")->u.arr.n, 36);
    const fa_json_value *messi = find_player(v, "5503");
    assert_non_null(messi);
    assert_string_equal(fa_json_get(messi, "name")->u.str.ptr, "Lionel Andrés Messi Cuccittini");
    assert_string_equal(fa_json_get(messi, "side")->u.str.ptr, "home");
    assert_float_equal(num_at(messi, "metrics", "passes", NULL), 77, 0);
    assert_float_equal(num_at(messi, "metrics", "shots", NULL), 6, 0);
    assert_float_equal(num_at(messi, "metrics", "xg", NULL), 0.5413, 1e-4);
    /* the definitions document is embedded as an object */
    const fa_json_value *defs = fa_json_get(v, "definitions");
    assert_non_null(defs);
    assert_int_equal(defs->type, FA_JSON_OBJECT);
    assert_non_null(fa_json_get(defs, "config"));
    fa_arena_free(a);
    free(out);
}

static void test_one_player(void **state) {
    fixture *f = need(state);
    char args[8192];
    snprintf(args, sizeof args, "stats statsbomb:15986 --player 5503 --db '%s'", f->db);
    char *out = run_ok(args);
    assert_non_null(strstr(out, "Lionel Andrés Messi Cuccittini (id 5503), home, Barcelona"));
    char buf[512];
    assert_non_null(strstr(line_of(out, "Passes", buf, sizeof buf), " 77  passes"));
    assert_non_null(strstr(line_of(out, "xG", buf, sizeof buf), " 0.54  xg"));
    assert_null(strstr(out, "Gerard Piqu")); /* only him */
    free(out);
    snprintf(args, sizeof args, "stats statsbomb:15986 --player 5503 --json --db '%s'", f->db);
    out = run_ok(args);
    fa_arena *a = fa_arena_new(1 << 16);
    const fa_json_value *v = parse_json(out, a);
    assert_int_equal(fa_json_get(v, "players")->u.arr.n, 1);
    fa_arena_free(a);
    free(out);
    snprintf(args, sizeof args, "stats statsbomb:15986 --player 999999 --db '%s'", f->db);
    expect_exit(args, 2, "player '999999': not in match 15986");
}

/* Tracking-only matches: physical metrics, plausible for 9.75 s of a goal. */
static void test_tracking_lastrow(void **state) {
    fixture *f = need(state);
    char args[8192];
    snprintf(args, sizeof args, "stats lastrow:LIV_2-1_CHE --json --db '%s'", f->db);
    char *out = run_ok(args);
    fa_arena *a = fa_arena_new(1 << 16);
    const fa_json_value *v = parse_json(out, a);
    assert_float_equal(num_at(v, "match", "frames", NULL), 195, 0);
    assert_string_equal(get_path(v, "teams", "home", "name")->u.str.ptr, "LIV");
    const fa_json_value *ps = fa_json_get(v, "players");
    assert_int_equal(ps->u.arr.n, 20);
    double sum[2] = {0, 0};
    for (size_t i = 0; i < ps->u.arr.n; i++) {
        const fa_json_value *p = ps->u.arr.items[i];
        double d = num_at(p, "metrics", "distance_m", NULL),
               peak = num_at(p, "metrics", "peak_speed_ms", NULL);
        double minutes = num_at(p, "metrics", "minutes", NULL);
        assert_true(d >= 0 && d <= 9.75 * 10.5); /* nobody outruns 10.5 m/s on average */
        assert_true(peak >= 0 && peak <= 12);
        assert_float_equal(minutes, 9.75 / 60, 0.002); /* 195 frames at 20 fps */
        sum[strcmp(fa_json_get(p, "side")->u.str.ptr, "away") == 0] += d;
    }
    assert_float_equal(num_at(get_path(v, "teams", "home", "metrics"), "distance_m", NULL, NULL), sum[0],
                       1e-6);
    assert_float_equal(num_at(get_path(v, "teams", "away", "metrics"), "distance_m", NULL, NULL), sum[1],
                       1e-6);
    fa_arena_free(a);
    free(out);
    snprintf(args, sizeof args, "stats lastrow:LIV_2-1_CHE --db '%s'", f->db);
    out = run_ok(args);
    assert_non_null(strstr(out, "LIV 2-1 CHE\n"));
    assert_non_null(strstr(out, "DIST_M"));
    assert_non_null(strstr(out, "Distance (m)"));
    free(out);
}

static void test_tracking_epts(void **state) {
    fixture *f = need(state);
    char args[8192];
    snprintf(args, sizeof args, "stats metrica:epts_excerpt --json --db '%s'", f->db);
    char *out = run_ok(args);
    fa_arena *a = fa_arena_new(1 << 16);
    const fa_json_value *v = parse_json(out, a);
    assert_int_equal(fa_json_get(v, "players")->u.arr.n, 22);
    const fa_json_value *hm = get_path(v, "teams", "home", "metrics");
    assert_true(num_at(hm, "distance_m", NULL, NULL) > 0);
    assert_null(fa_json_get(hm, "passes")); /* tracking only: no tactical metric */
    fa_arena_free(a);
    free(out);
}

/* Home sprints of the Last-Row clip, and the sprint threshold its definitions state. */
static void lastrow_sprints(fixture *f, const char *extra, double *sprints, double *threshold) {
    char args[8192];
    snprintf(args, sizeof args, "stats lastrow:LIV_2-1_CHE --json --db '%s' %s", f->db, extra);
    char *out = run_ok(args);
    fa_arena *a = fa_arena_new(1 << 16);
    const fa_json_value *v = parse_json(out, a);
    *sprints = num_at(get_path(v, "teams", "home", "metrics"), "sprints", NULL, NULL);
    const fa_json_value *defs = fa_json_get(v, "definitions");
    assert_non_null(defs);
    *threshold = num_at(defs, "config", "sprint_kmh", NULL);
    fa_arena_free(a);
    free(out);
}

static void test_recompute(void **state) {
    fixture *f = need(state);
    double before, slow, after, t;
    lastrow_sprints(f, "", &before, &t);
    assert_float_equal(t, 25.2, 1e-9);
    lastrow_sprints(f, "--recompute --set sprint_kmh=20", &slow, &t);
    assert_float_equal(t, 20, 1e-9);
    assert_true(slow > before); /* a lower threshold finds more sprints, from the stored tracking */
    lastrow_sprints(f, "", &after, &t); /* the recomputed figures were stored */
    assert_float_equal(after, slow, 0);
    lastrow_sprints(f, "--recompute", &after, &t); /* defaults again: the import's figures */
    assert_float_equal(after, before, 0);
    char args[8192];
    snprintf(args, sizeof args, "stats 1 --set sprint_kmh=20 --db '%s'", f->db);
    expect_exit(args, 1, "need --recompute");
    snprintf(args, sizeof args, "stats 1 --recompute --set sprnt_kmh=20 --db '%s'", f->db);
    expect_exit(args, 1, "sprnt_kmh");
}

static void test_usage(void **state) {
    fixture *f = need(state);
    char args[8192];
    char *out = run_ok("stats --help");
    assert_non_null(strstr(out, "usage: footanalytics stats MATCH"));
    assert_non_null(strstr(out, "--player ID"));
    assert_non_null(strstr(out, "--json"));
    assert_non_null(strstr(out, "--db PATH"));
    free(out);
    out = run_ok("--help");
    assert_non_null(strstr(out, "stats"));
    free(out);
    expect_exit("stats", 1, "missing MATCH");
    expect_exit("stats 1 2", 1, "unexpected argument");
    expect_exit("stats --bogus 1", 1, "bad option");
    snprintf(args, sizeof args, "stats 99 --db '%s'", f->db);
    expect_exit(args, 2, "match '99': not in the database");
    snprintf(args, sizeof args, "stats statsbomb:1 --db '%s'", f->db);
    expect_exit(args, 2, "not in the database");
    snprintf(args, sizeof args, "stats 1 --db '%s/none.db'", f->dir);
    expect_exit(args, 2, "no database");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_tables),   cmocka_unit_test(test_json),
        cmocka_unit_test(test_one_player),    cmocka_unit_test(test_tracking_lastrow),
        cmocka_unit_test(test_tracking_epts), cmocka_unit_test(test_usage),
        cmocka_unit_test(test_recompute),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
