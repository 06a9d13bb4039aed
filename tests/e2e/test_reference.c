/*
 * test_reference.c - the figures of ../shared/data/reference/event_reference_values.txt,
 * reproduced from the STORED data: the real binary imports every sample file
 * into a fresh database, then the counts are read back through the store.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "store/store.h"
#include "testutil.h"

typedef struct tally {
    int events;
    int shots[2], goals_from_shots[2], passes[2], completed[2];
    double xg[2];
    char types[64][48];
    int type_counts[64];
    int ntypes;
} tally;

static int on_event(void *ud, const fa_event *e) {
    tally *t = ud;
    t->events++;
    int s = e->side;
    if (s == FA_SIDE_HOME || s == FA_SIDE_AWAY) {
        if (e->kind == FA_EV_SHOT) {
            t->shots[s]++;
            if (e->goal) t->goals_from_shots[s]++;
            if (!isnan(e->xg)) t->xg[s] += e->xg;
        }
        if (e->kind == FA_EV_PASS) {
            t->passes[s]++;
            if (e->success == 1) t->completed[s]++;
        }
    }
    int i = 0;
    while (i < t->ntypes && strcmp(t->types[i], e->type) != 0) i++;
    if (i == t->ntypes && i < 64) strcpy(t->types[t->ntypes++], e->type);
    if (i < 64) t->type_counts[i]++;
    return 0;
}

static int type_count(const tally *t, const char *type) {
    for (int i = 0; i < t->ntypes; i++)
        if (strcmp(t->types[i], type) == 0) return t->type_counts[i];
    return 0;
}

typedef struct world {
    char *dir;
    fa_store *store;
} world;

static int setup(void **state) {
    world *w = calloc(1, sizeof *w);
    w->dir = fa_test_tmpdir();
    char db[4200], args[32768];
    snprintf(db, sizeof db, "%s/fa.db", w->dir);
    int n = snprintf(args, sizeof args, "import --quiet --db '%s'", db);
    const char *files[] = {"events/statsbomb/15986_event.json",
                           "events/statsbomb/3788741_event.json",
                           "events/metrica/Sample_Game_1_RawEventsData.csv",
                           "events/metrica/Sample_Game_2_RawEventsData.csv",
                           "events/metrica/Sample_Game_3_events.json",
                           "events/wyscout/events_v2_2499773.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        n += snprintf(args + n, sizeof args - (size_t)n, " '%s'", fa_test_data(files[i]));
    char *err;
    int st = fa_test_run_cli(args, NULL, &err);
    if (st != 0) {
        fprintf(stderr, "import failed (%d): %s\n", st, err);
        free(err);
        return -1;
    }
    free(err);
    w->store = fa_store_open(db, 0, 0);
    *state = w;
    return w->store ? 0 : -1;
}

static int teardown(void **state) {
    world *w = *state;
    fa_store_close(w->store);
    fa_test_rmtree(w->dir);
    free(w->dir);
    free(w);
    return 0;
}

static void load(world *w, const char *ref, tally *t, fa_match_row *row) {
    memset(t, 0, sizeof *t);
    if (fa_store_match_find(w->store, ref, row)) fail_msg("%s: %s", ref, fa_err_msg());
    fa_event_filter f;
    fa_event_filter_init(&f, row->id);
    assert_int_equal(fa_store_events(w->store, &f, on_event, t), 0);
}

typedef struct team_ref {
    int shots, goals;
    double xg;
    int passes, completed;
} team_ref;

static void check_team(const tally *t, int side, const team_ref *r) {
    assert_int_equal(t->shots[side], r->shots);
    assert_int_equal(t->goals_from_shots[side], r->goals);
    assert_float_equal(t->xg[side], r->xg, 5e-5);
    assert_int_equal(t->passes[side], r->passes);
    assert_int_equal(t->completed[side], r->completed);
}

static void check_types(const tally *t, const char *const *names, const int *counts, int n) {
    int sum = 0;
    for (int i = 0; i < n; i++) {
        if (type_count(t, names[i]) != counts[i])
            fail_msg("type '%s': %d stored, reference %d", names[i], type_count(t, names[i]), counts[i]);
        sum += counts[i];
    }
    assert_int_equal(t->ntypes, n); /* no type the reference lacks */
    assert_int_equal(sum, t->events);
}

static void test_statsbomb_15986(void **state) {
    tally t;
    fa_match_row row;
    load(*state, "statsbomb:15986", &t, &row);
    assert_int_equal(t.events, 4027);
    assert_string_equal(row.m.teams[0].name, "Barcelona");
    assert_string_equal(row.m.teams[1].name, "Girona");
    assert_int_equal(row.m.score[0], 2);
    assert_int_equal(row.m.score[1], 2);
    check_team(&t, 0, &(team_ref){20, 2, 1.3065, 768, 701});
    check_team(&t, 1, &(team_ref){7, 2, 0.8998, 380, 299});
    static const char *const names[] = {
        "Pass", "Ball Receipt*", "Carry", "Pressure", "Ball Recovery", "Dribble", "Duel", "Block", "Goal Keeper",
        "Foul Committed", "Foul Won", "Shot", "Dribbled Past", "Miscontrol", "Interception", "Clearance",
        "Dispossessed", "Substitution", "Half Start", "Half End", "Starting XI", "Bad Behaviour",
        "Injury Stoppage", "Tactical Shift", "Shield"};
    static const int counts[] = {1148, 1119, 985, 355, 73, 41, 36, 31, 30, 28, 28, 27, 25,
                                 24,   22,   20,  14,  6,  4,  4,  2,  2,  1,  1,  1};
    check_types(&t, names, counts, 25);
}

static void test_statsbomb_3788741(void **state) {
    tally t;
    fa_match_row row;
    load(*state, "statsbomb:3788741", &t, &row);
    assert_int_equal(t.events, 3803);
    assert_string_equal(row.m.teams[0].name, "Turkey");
    assert_string_equal(row.m.teams[1].name, "Italy");
    assert_int_equal(row.m.score[0], 0);
    assert_int_equal(row.m.score[1], 3);
    check_team(&t, 0, &(team_ref){3, 0, 0.2307, 390, 307});
    check_team(&t, 1, &(team_ref){24, 2, 1.7286, 669, 577});
    static const char *const names[] = {
        "Pass", "Ball Receipt*", "Carry", "Pressure", "Ball Recovery", "Duel", "Interception", "Clearance",
        "Goal Keeper", "Dribble", "Block", "Shot", "Foul Committed", "Foul Won", "Miscontrol", "Dribbled Past",
        "Dispossessed", "Substitution", "Half Start", "Half End", "Injury Stoppage", "Starting XI", "Offside",
        "Shield", "Tactical Shift", "Own Goal Against", "Own Goal For"};
    static const int counts[] = {1059, 1021, 862, 382, 92, 51, 47, 39, 34, 32, 31, 27, 23, 23,
                                 20,   20,   13,  9,   4,  4,  3,  2,  1,  1,  1,  1,  1};
    check_types(&t, names, counts, 27);
}

static void check_metrica(world *w, const char *ref, int rows, int hg, int ag, int hs, int as, int hp, int ap) {
    tally t;
    fa_match_row row;
    load(w, ref, &t, &row);
    assert_int_equal(t.events, rows);
    assert_int_equal(row.m.score[0], hg);
    assert_int_equal(row.m.score[1], ag);
    assert_int_equal(t.goals_from_shots[0], hg);
    assert_int_equal(t.goals_from_shots[1], ag);
    assert_int_equal(t.shots[0], hs);
    assert_int_equal(t.shots[1], as);
    assert_int_equal(t.passes[0], hp);
    assert_int_equal(t.passes[1], ap);
}

static void test_metrica_games(void **state) {
    check_metrica(*state, "metrica:Sample_Game_1", 1745, 3, 0, 18, 6, 437, 362);
    check_metrica(*state, "metrica:Sample_Game_2", 1935, 3, 2, 13, 11, 543, 421);
}

static void test_metrica_game3_json(void **state) {
    tally t;
    fa_match_row row;
    load(*state, "metrica:Sample_Game_3", &t, &row);
    assert_int_equal(t.events, 3620);
}

static void test_wyscout(void **state) {
    tally t;
    fa_match_row row;
    load(*state, "wyscout:2499773", &t, &row);
    assert_int_equal(t.events, 1770);
    assert_int_equal(type_count(&t, "Pass"), 772);
    assert_int_equal(type_count(&t, "Duel"), 562);
    assert_int_equal(type_count(&t, "Others on the ball"), 146);
    assert_int_equal(type_count(&t, "Free Kick"), 119);
    assert_int_equal(type_count(&t, "Interruption"), 89);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statsbomb_15986), cmocka_unit_test(test_statsbomb_3788741),
        cmocka_unit_test(test_metrica_games),   cmocka_unit_test(test_metrica_game3_json),
        cmocka_unit_test(test_wyscout),
    };
    if (!fa_test_file_exists(fa_test_data("reference/event_reference_values.txt"))) {
        printf("SKIP: shared data not found at %s\n", fa_test_data(""));
        return 0;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
