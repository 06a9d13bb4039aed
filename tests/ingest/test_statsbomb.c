/*
 * test_statsbomb.c - the StatsBomb parser on the two real open-data matches
 * (15986 Barcelona 2-2 Girona, 3788741 Turkey 0-3 Italy) and on small
 * hand-made broken files.
 *
 * The real-data figures (event counts per type, shots, goals, xG, passes) are
 * those of data/reference/event_reference_values.txt; minutes and coordinates
 * were worked out by hand from the files (Half End times, substitution times,
 * the one red card) and are asserted exactly.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ingest/ingest.h"

/* cmocka's assert_float_equal works in float: too coarse for minutes and metres. */
#define assert_near(a, b, eps)                                                                              \
    do {                                                                                                    \
        double a_ = (a), b_ = (b);                                                                          \
        if (!(fabs(a_ - b_) <= (eps))) fail_msg("%s = %.9g, want %.9g (+- %g)", #a, a_, b_, (double)(eps)); \
    } while (0)

/* ------------------------------------------------------------------ collecting sink */

typedef struct collect {
    fa_match begin, end;
    int nbegin, nend;
    int order_ok; /* begin first, end last, players after events */
    fa_event *events;
    size_t nevents, cap_events;
    fa_player *players;
    size_t nplayers, cap_players;
    int stop_at_event; /* return 7 from this event's callback; -1 never */
} collect;

static int on_begin(void *ud, const fa_match *m) {
    collect *c = ud;
    if (c->nbegin || c->nevents || c->nplayers || c->nend) c->order_ok = 0;
    c->begin = *m;
    c->nbegin++;
    return 0;
}

static int on_event(void *ud, const fa_event *e) {
    collect *c = ud;
    if (!c->nbegin || c->nplayers || c->nend) c->order_ok = 0;
    if ((int64_t)c->nevents == c->stop_at_event) return 7;
    if (c->nevents == c->cap_events) {
        c->cap_events = c->cap_events ? 2 * c->cap_events : 1024;
        c->events = realloc(c->events, c->cap_events * sizeof *c->events);
    }
    c->events[c->nevents++] = *e;
    return 0;
}

static int on_player(void *ud, const fa_player *p) {
    collect *c = ud;
    if (!c->nbegin || c->nend) c->order_ok = 0;
    if (c->nplayers == c->cap_players) {
        c->cap_players = c->cap_players ? 2 * c->cap_players : 64;
        c->players = realloc(c->players, c->cap_players * sizeof *c->players);
    }
    c->players[c->nplayers++] = *p;
    return 0;
}

static int on_end(void *ud, const fa_match *m) {
    collect *c = ud;
    if (!c->nbegin || c->nend) c->order_ok = 0;
    c->end = *m;
    c->nend++;
    return 0;
}

static void collect_init(collect *c) {
    memset(c, 0, sizeof *c);
    c->order_ok = 1;
    c->stop_at_event = -1;
}

static void collect_free(collect *c) {
    free(c->events);
    free(c->players);
}

static int import(collect *c, const char *events, const char *lineups) {
    fa_sink sink = {c, on_begin, on_player, on_event, NULL, on_end};
    collect_init(c);
    return fa_statsbomb_import(events, lineups, &sink);
}

/* Imports a real match (with its lineups when with_lineups). */
static void import_real(collect *c, const char *id, int with_lineups) {
    char ev[64], lu[64];
    snprintf(ev, sizeof ev, "events/statsbomb/%s_event.json", id);
    snprintf(lu, sizeof lu, "events/statsbomb/%s_lineup.json", id);
    const char *ev_path = fa_test_data(ev), *lu_path = fa_test_data(lu);
    FA_TEST_REQUIRE_DATA(ev_path);
    FA_TEST_REQUIRE_DATA(lu_path);
    int rc = import(c, ev_path, with_lineups ? lu_path : NULL);
    if (rc != 0) print_message("import failed: %s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_true(c->order_ok);
    assert_int_equal(c->nbegin, 1);
    assert_int_equal(c->nend, 1);
}

static const fa_event *find_event(const collect *c, const char *provider_id) {
    for (size_t i = 0; i < c->nevents; i++)
        if (strcmp(c->events[i].provider_id, provider_id) == 0) return &c->events[i];
    fail_msg("event %s not found", provider_id);
    return NULL;
}

static const fa_player *find_player(const collect *c, const char *id) {
    for (size_t i = 0; i < c->nplayers; i++)
        if (strcmp(c->players[i].id, id) == 0) return &c->players[i];
    fail_msg("player %s not found", id);
    return NULL;
}

/* ------------------------------------------------------------------ reference figures */

typedef struct type_count {
    const char *type;
    size_t n;
} type_count;

static const type_count counts_15986[] = {
    {"Pass", 1148},          {"Ball Receipt*", 1119}, {"Carry", 985},         {"Pressure", 355},
    {"Ball Recovery", 73},   {"Dribble", 41},         {"Duel", 36},           {"Block", 31},
    {"Goal Keeper", 30},     {"Foul Committed", 28},  {"Foul Won", 28},       {"Shot", 27},
    {"Dribbled Past", 25},   {"Miscontrol", 24},      {"Interception", 22},   {"Clearance", 20},
    {"Dispossessed", 14},    {"Substitution", 6},     {"Half Start", 4},      {"Half End", 4},
    {"Starting XI", 2},      {"Bad Behaviour", 2},    {"Injury Stoppage", 1}, {"Tactical Shift", 1},
    {"Shield", 1}};

static const type_count counts_3788741[] = {
    {"Pass", 1059},         {"Ball Receipt*", 1021},  {"Carry", 862},         {"Pressure", 382},
    {"Ball Recovery", 92},  {"Duel", 51},             {"Interception", 47},   {"Clearance", 39},
    {"Goal Keeper", 34},    {"Dribble", 32},          {"Block", 31},          {"Shot", 27},
    {"Foul Committed", 23}, {"Foul Won", 23},         {"Miscontrol", 20},     {"Dribbled Past", 20},
    {"Dispossessed", 13},   {"Substitution", 9},      {"Half Start", 4},      {"Half End", 4},
    {"Injury Stoppage", 3}, {"Starting XI", 2},       {"Offside", 1},         {"Shield", 1},
    {"Tactical Shift", 1},  {"Own Goal Against", 1},  {"Own Goal For", 1}};

/* Every event counted under exactly one reference type, each type exactly. */
static void check_type_counts(const collect *c, const type_count *want, size_t nwant, size_t total) {
    assert_int_equal(c->nevents, total);
    size_t sum = 0;
    for (size_t k = 0; k < nwant; k++) {
        size_t n = 0;
        for (size_t i = 0; i < c->nevents; i++) n += strcmp(c->events[i].type, want[k].type) == 0;
        if (n != want[k].n) fail_msg("type '%s': %zu events, want %zu", want[k].type, n, want[k].n);
        sum += n;
    }
    assert_int_equal(sum, total);
    for (size_t i = 0; i < c->nevents; i++) assert_int_equal(c->events[i].seq, (int64_t)i);
}

typedef struct team_figures {
    int shots, goals_from_shots, passes, completed;
    double xg;
} team_figures;

static void check_team(const collect *c, fa_side side, team_figures want) {
    team_figures got = {0, 0, 0, 0, 0};
    for (size_t i = 0; i < c->nevents; i++) {
        const fa_event *e = &c->events[i];
        if (e->side != side) continue;
        if (e->kind == FA_EV_SHOT) {
            got.shots++;
            got.goals_from_shots += e->goal;
            assert_false(isnan(e->xg));
            got.xg += e->xg;
            assert_int_equal(e->success, e->goal);
        }
        if (e->kind == FA_EV_PASS) {
            got.passes++;
            got.completed += e->success == 1;
            assert_int_equal(e->success, e->outcome[0] ? 0 : 1);
        }
    }
    assert_int_equal(got.shots, want.shots);
    assert_int_equal(got.goals_from_shots, want.goals_from_shots);
    assert_int_equal(got.passes, want.passes);
    assert_int_equal(got.completed, want.completed);
    assert_near(got.xg, want.xg, 1e-4);
}

/* ------------------------------------------------------------------ real matches */

static void test_15986_events(void **state) {
    (void)state;
    collect c;
    import_real(&c, "15986", 1);
    check_type_counts(&c, counts_15986, sizeof counts_15986 / sizeof counts_15986[0], 4027);
    check_team(&c, FA_SIDE_HOME, (team_figures){20, 2, 768, 701, 1.3065});
    check_team(&c, FA_SIDE_AWAY, (team_figures){7, 2, 380, 299, 0.8998});
    assert_string_equal(c.events[0].provider_id, "6d5e94cc-b11f-4853-9ab1-99dde40ee5b9");
    assert_string_equal(c.events[4026].provider_id, "5078c456-9c87-409d-bcb6-de90a4e9091f");
    collect_free(&c);
}

static void test_3788741_events(void **state) {
    (void)state;
    collect c;
    import_real(&c, "3788741", 1);
    check_type_counts(&c, counts_3788741, sizeof counts_3788741 / sizeof counts_3788741[0], 3803);
    check_team(&c, FA_SIDE_HOME, (team_figures){3, 0, 390, 307, 0.2307});
    check_team(&c, FA_SIDE_AWAY, (team_figures){24, 2, 669, 577, 1.7286});
    collect_free(&c);
}

static void check_match(const fa_match *m, const char *id, const char *home, const char *away) {
    assert_int_equal(m->provider, FA_PROVIDER_STATSBOMB);
    assert_string_equal(m->id, id);
    assert_string_equal(m->teams[FA_SIDE_HOME].name, home);
    assert_string_equal(m->teams[FA_SIDE_AWAY].name, away);
    assert_near(m->pitch.length, 105.0, 1e-9);
    assert_near(m->pitch.width, 68.0, 1e-9);
    assert_near(m->provider_length, 120.0, 1e-9);
    assert_near(m->provider_width, 80.0, 1e-9);
    assert_string_equal(m->provider_unit, "yd");
    assert_string_equal(m->competition, "");
    assert_string_equal(m->date, "");
}

static void test_match_facts(void **state) {
    (void)state;
    collect c;
    import_real(&c, "15986", 1);
    check_match(&c.begin, "15986", "Barcelona", "Girona");
    check_match(&c.end, "15986", "Barcelona", "Girona");
    assert_string_equal(c.begin.teams[FA_SIDE_HOME].id, "217");
    assert_string_equal(c.begin.teams[FA_SIDE_AWAY].id, "211");
    assert_string_equal(c.end.source, "15986_event.json,15986_lineup.json");
    assert_int_equal(c.begin.score[0], -1); /* not known before the goals are counted */
    assert_int_equal(c.end.score[FA_SIDE_HOME], 2);
    assert_int_equal(c.end.score[FA_SIDE_AWAY], 2);
    collect_free(&c);

    /* Turkey's Starting XI comes first (the designated home side), though the
     * lineups file lists Italy first; one of Italy's goals is an own goal. */
    import_real(&c, "3788741", 1);
    check_match(&c.end, "3788741", "Turkey", "Italy");
    assert_int_equal(c.end.score[FA_SIDE_HOME], 0);
    assert_int_equal(c.end.score[FA_SIDE_AWAY], 3);
    int own_goals = 0, own_goal_events = 0;
    for (size_t i = 0; i < c.nevents; i++) {
        if (c.events[i].kind != FA_EV_OWN_GOAL) continue;
        own_goal_events++;
        own_goals += c.events[i].goal;
        if (c.events[i].goal) assert_int_equal(c.events[i].side, FA_SIDE_AWAY);
    }
    assert_int_equal(own_goal_events, 2);
    assert_int_equal(own_goals, 1);
    collect_free(&c);
}

/* Kinds, subtypes, outcomes and the other per-event fields. */
static void test_event_fields(void **state) {
    (void)state;
    collect c;
    import_real(&c, "15986", 1);
    size_t kinds[FA_EV_COUNT] = {0};
    int under_pressure = 0, recipients = 0, dribbles_ok = 0, shot_z = 0, with_location = 0;
    for (size_t i = 0; i < c.nevents; i++) {
        const fa_event *e = &c.events[i];
        kinds[e->kind]++;
        under_pressure += e->under_pressure;
        recipients += e->recipient_id[0] != '\0';
        dribbles_ok += e->kind == FA_EV_DRIBBLE && e->success == 1;
        shot_z += e->kind == FA_EV_SHOT && !isnan(e->end_z);
        with_location += !isnan(e->x);
        assert_true(e->side == FA_SIDE_HOME || e->side == FA_SIDE_AWAY);
        assert_true(e->period == 1 || e->period == 2);
    }
    assert_int_equal(kinds[FA_EV_FOUL], 56);
    assert_int_equal(kinds[FA_EV_RECEIPT], 1119);
    assert_int_equal(kinds[FA_EV_CARD], 2);
    assert_int_equal(kinds[FA_EV_PERIOD_START], 4);
    assert_int_equal(kinds[FA_EV_PERIOD_END], 4);
    assert_int_equal(kinds[FA_EV_GOALKEEPER], 30);
    /* Dribbled Past 25, Miscontrol 24, Dispossessed 14, Starting XI 2, Injury
     * Stoppage 1, Tactical Shift 1, Shield 1. */
    assert_int_equal(kinds[FA_EV_OTHER], 68);
    assert_int_equal(under_pressure, 663);
    assert_int_equal(recipients, 1119);
    assert_int_equal(dribbles_ok, 23);
    assert_int_equal(shot_z, 19);
    assert_int_equal(with_location, 4007);

    /* Lenglet's red card: a foul at [33, 41] by the home team in period 1. */
    const fa_event *e = find_event(&c, "4228971b-b34d-47c6-9920-acb70e4ec958");
    assert_int_equal(e->kind, FA_EV_FOUL);
    assert_string_equal(e->type, "Foul Committed");
    assert_string_equal(e->subtype, "Dangerous Play");
    assert_string_equal(e->outcome, "Red Card");
    assert_string_equal(e->player_id, "6826");
    assert_int_equal(e->period, 1);
    assert_near(e->t, 32 * 60 + 36.585, 1e-9);
    assert_near(e->duration, 0.0, 1e-12);
    assert_near(e->x, (33.0 / 120 - 0.5) * 105, 1e-9);
    assert_near(e->y, -(41.0 / 80 - 0.5) * 68, 1e-9);
    assert_true(isnan(e->end_x));

    /* A substitution: outcome names the reason. */
    e = find_event(&c, "d0c46a1e-dee7-4baa-a44c-57cde18e9305");
    assert_int_equal(e->kind, FA_EV_SUBSTITUTION);
    assert_string_equal(e->outcome, "Tactical");
    assert_true(isnan(e->x));

    /* Receipts without duration keep NAN; every pass has an end. */
    for (size_t i = 0; i < c.nevents; i++) {
        if (c.events[i].kind == FA_EV_RECEIPT) assert_true(isnan(c.events[i].duration));
        if (c.events[i].kind == FA_EV_PASS) assert_false(isnan(c.events[i].end_x));
        if (c.events[i].kind == FA_EV_PASS) assert_string_equal(c.events[i].pass_type, c.events[i].subtype);
    }
    collect_free(&c);
}

/* The first shot with a height: [119.2, 38.8, 0.7] yards. */
static void test_shot_end_height(void **state) {
    (void)state;
    collect c;
    import_real(&c, "15986", 0);
    const fa_event *first = NULL;
    for (size_t i = 0; i < c.nevents && !first; i++)
        if (c.events[i].kind == FA_EV_SHOT && !isnan(c.events[i].end_z)) first = &c.events[i];
    assert_non_null(first);
    assert_near(first->end_z, 0.7 * 0.9144, 1e-9);
    assert_true(fabs(first->end_x) > 50.0);
    assert_string_equal(first->body_part[0] ? "set" : "", "set");
    collect_free(&c);
}

/* ------------------------------------------------------------------ coordinates */

/* Shots point at the goal the shooting team attacks: home +x in period 1,
 * -x in period 2; away the other way. Goalkeepers act near their own goal. */
static void check_directions(const collect *c, const int want_shots[2][2]) {
    int shots[2][2] = {{0, 0}, {0, 0}};
    for (size_t i = 0; i < c->nevents; i++) {
        const fa_event *e = &c->events[i];
        if (e->period > 2 || isnan(e->x)) continue;
        int plus = (e->side == FA_SIDE_HOME) == (e->period == 1); /* this team attacks +x */
        double dir = plus ? 1.0 : -1.0;
        if (e->kind == FA_EV_SHOT) {
            shots[e->side][e->period - 1]++;
            assert_true(dir * e->x > 0);
            assert_true(dir * e->end_x > 25.0); /* blocked shots end short */
        }
        if (e->kind == FA_EV_GOALKEEPER) assert_true(dir * e->x < -35.0);
        assert_true(fabs(e->x) <= 52.5 + 1e-9 && fabs(e->y) <= 34.0 + 1e-9);
    }
    for (int s = 0; s < 2; s++)
        for (int p = 0; p < 2; p++) assert_int_equal(shots[s][p], want_shots[s][p]);
}

static void test_coordinates(void **state) {
    (void)state;
    collect c;
    import_real(&c, "15986", 1);
    check_directions(&c, (const int[2][2]){{6, 14}, {5, 2}});
    collect_free(&c);

    import_real(&c, "3788741", 1);
    check_directions(&c, (const int[2][2]){{0, 3}, {14, 10}});
    /* The own goal is one physical place seen from both teams' frames:
     * Turkey's "Against" at [4.1, 40.5], Italy's "For" at [116.0, 39.6]. */
    const fa_event *against = find_event(&c, "0bf3014d-e1aa-40ec-bb8f-3efd6b69d4e2");
    const fa_event *for_ = find_event(&c, "211a597d-1cd8-4b07-b2d4-62f54685c5ac");
    assert_near(against->x, (0.5 - 4.1 / 120) * 105, 1e-9);
    assert_near(against->y, (40.5 / 80 - 0.5) * 68, 1e-9);
    assert_near(for_->x, (116.0 / 120 - 0.5) * 105, 1e-9);
    assert_near(for_->y, -(39.6 / 80 - 0.5) * 68, 1e-9);
    assert_true(fabs(against->x - for_->x) < 0.2 && fabs(against->y - for_->y) < 0.2);
    assert_int_equal(for_->goal, 1);
    assert_int_equal(against->goal, 0);
    collect_free(&c);
}

/* ------------------------------------------------------------------ players */

static const double len_15986 = (2881.108 + 2888.184) / 60;   /* Half End times */
static const double len_3788741 = (2755.111 + 2883.327) / 60;

static void team_minutes(const collect *c, fa_side side, int *players, int *starters, double *sum) {
    *players = *starters = 0;
    *sum = 0;
    for (size_t i = 0; i < c->nplayers; i++) {
        const fa_player *p = &c->players[i];
        if (p->side != side) continue;
        (*players)++;
        *starters += p->starter == 1;
        assert_false(isnan(p->minutes));
        *sum += p->minutes;
    }
}

static void test_players_15986(void **state) {
    (void)state;
    collect c;
    import_real(&c, "15986", 1);
    assert_int_equal(c.nplayers, 36);
    int n, starters;
    double sum;
    team_minutes(&c, FA_SIDE_HOME, &n, &starters, &sum);
    assert_int_equal(n, 18);
    assert_int_equal(starters, 11);
    /* Lenglet was sent off at 32:36.585 and not replaced. */
    assert_near(sum, 10 * len_15986 + 1956.585 / 60, 1e-6);
    team_minutes(&c, FA_SIDE_AWAY, &n, &starters, &sum);
    assert_int_equal(n, 18);
    assert_int_equal(starters, 11);
    assert_near(sum, 11 * len_15986, 1e-6);

    const fa_player *p = find_player(&c, "20055"); /* ter Stegen: all match */
    assert_string_equal(p->name, "Marc-André ter Stegen");
    assert_int_equal(p->shirt, 1);
    assert_string_equal(p->position, "Goalkeeper");
    assert_int_equal(p->starter, 1);
    assert_int_equal(p->side, FA_SIDE_HOME);
    assert_near(p->minutes, len_15986, 1e-6);
    p = find_player(&c, "6826"); /* Lenglet: red card */
    assert_near(p->minutes, 1956.585 / 60, 1e-6);
    p = find_player(&c, "5477"); /* Dembélé: off at 0:01.898 of period 2 */
    assert_near(p->minutes, (2881.108 + 1.898) / 60, 1e-6);
    p = find_player(&c, "5492"); /* Umtiti: on for him, then moved by the Tactical Shift */
    assert_int_equal(p->starter, 0);
    assert_int_equal(p->shirt, 23);
    assert_near(p->minutes, (2888.184 - 1.898) / 60, 1e-6);
    p = find_player(&c, "3501"); /* Coutinho: on for Arthur at 12:48.246 of period 2 */
    assert_near(p->minutes, (2888.184 - 768.246) / 60, 1e-6);
    p = find_player(&c, "6567"); /* Borja García: on at half time */
    assert_int_equal(p->side, FA_SIDE_AWAY);
    assert_string_equal(p->position, "Left Center Midfield");
    assert_near(p->minutes, 2888.184 / 60, 1e-6);
    int unused = 0;
    for (size_t i = 0; i < c.nplayers; i++) {
        if (c.players[i].minutes != 0) continue;
        unused++;
        assert_int_equal(c.players[i].starter, 0);
    }
    assert_int_equal(unused, 8);
    collect_free(&c);
}

static void test_players_3788741(void **state) {
    (void)state;
    collect c;
    import_real(&c, "3788741", 1);
    assert_int_equal(c.nplayers, 46);
    assert_int_equal(c.players[0].side, FA_SIDE_HOME); /* home first, whatever the lineups order */
    int n, starters;
    double sum;
    for (int side = FA_SIDE_HOME; side <= FA_SIDE_AWAY; side++) {
        team_minutes(&c, (fa_side)side, &n, &starters, &sum);
        assert_int_equal(n, 23);
        assert_int_equal(starters, 11);
        assert_near(sum, 11 * len_3788741, 1e-6);
    }
    const fa_player *p = find_player(&c, "7131"); /* Berardi: off injured at 39:34.781 of period 2 */
    assert_near(p->minutes, (2755.111 + 2374.781) / 60, 1e-6);
    p = find_player(&c, "7777"); /* Bernardeschi on for him */
    assert_near(p->minutes, (2883.327 - 2374.781) / 60, 1e-6);
    collect_free(&c);
}

/* Without a lineups file the players come from the events: only those who played. */
static void test_players_without_lineups(void **state) {
    (void)state;
    collect c;
    import_real(&c, "15986", 0);
    assert_int_equal(c.nplayers, 28);
    assert_string_equal(c.end.source, "15986_event.json");
    assert_int_equal(c.end.score[0], 2);
    const fa_player *p = find_player(&c, "20055");
    assert_string_equal(p->name, "Marc-André ter Stegen");
    assert_int_equal(p->shirt, 1);
    assert_near(p->minutes, len_15986, 1e-6);
    p = find_player(&c, "5492");
    assert_int_equal(p->shirt, 23); /* from the Tactical Shift */
    collect_free(&c);

    import_real(&c, "3788741", 0);
    assert_int_equal(c.nplayers, 31);
    for (size_t i = 0; i < c.nplayers; i++) assert_true(c.players[i].minutes > 0);
    collect_free(&c);
}

/* A sink callback's non-zero return stops the parse and comes back unchanged. */
static void test_sink_stop(void **state) {
    (void)state;
    const char *ev = fa_test_data("events/statsbomb/15986_event.json");
    FA_TEST_REQUIRE_DATA(ev);
    collect c;
    collect_init(&c);
    c.stop_at_event = 100;
    fa_sink sink = {&c, on_begin, on_player, on_event, NULL, on_end};
    assert_int_equal(fa_statsbomb_import(ev, NULL, &sink), 7);
    assert_int_equal(c.nevents, 100);
    assert_int_equal(c.nend, 0);
    collect_free(&c);
    fa_sink empty = {NULL, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(fa_statsbomb_import(ev, NULL, &empty), 0);
}

/* ------------------------------------------------------------------ bad input */

/* A small valid match; cases below break one thing each. Line 4 is a pass. */
static const char good_events[] =
    "[\n"
    "{\"id\":\"e1\",\"period\":1,\"timestamp\":\"00:00:00.000\",\"type\":{\"name\":\"Starting XI\"},"
    "\"team\":{\"id\":1,\"name\":\"Home\"},\"tactics\":{\"lineup\":[{\"player\":{\"id\":10,\"name\":\"A\"},"
    "\"position\":{\"name\":\"Goalkeeper\"},\"jersey_number\":1}]}},\n"
    "{\"id\":\"e2\",\"period\":1,\"timestamp\":\"00:00:00.000\",\"type\":{\"name\":\"Starting XI\"},"
    "\"team\":{\"id\":2,\"name\":\"Away\"},\"tactics\":{\"lineup\":[{\"player\":{\"id\":20,\"name\":\"B\"},"
    "\"position\":{\"name\":\"Goalkeeper\"},\"jersey_number\":1}]}},\n"
    "{\"id\":\"e3\",\"period\":1,\"timestamp\":\"00:00:01.500\",\"type\":{\"name\":\"Pass\"},"
    "\"team\":{\"id\":1,\"name\":\"Home\"},\"player\":{\"id\":10,\"name\":\"A\"},\"location\":[60.0,40.0],"
    "\"under_pressure\":true,\"related_events\":[\"e4\"],\"pass\":{\"end_location\":[80.0,40.0]}},\n"
    "{\"id\":\"e4\",\"period\":1,\"timestamp\":\"00:00:03.000\",\"type\":{\"name\":\"Shot\"},"
    "\"team\":{\"id\":2,\"name\":\"Away\"},\"player\":{\"id\":20,\"name\":\"B\"},\"location\":[110.0,40.0],"
    "\"shot\":{\"statsbomb_xg\":0.5,\"end_location\":[120.0,40.0,1.0],\"outcome\":{\"name\":\"Goal\"}}},\n"
    "{\"id\":\"e5\",\"period\":1,\"timestamp\":\"00:45:00.000\",\"type\":{\"name\":\"Half End\"},"
    "\"team\":{\"id\":1,\"name\":\"Home\"}}\n"
    "]\n";

static const char good_lineups[] =
    "[ {\"team_id\":1,\"team_name\":\"Home\",\"lineup\":[{\"player_id\":10,\"player_name\":\"A\","
    "\"player_nickname\":null,\"jersey_number\":1}]},\n"
    "  {\"team_id\":2,\"team_name\":\"Away\",\"lineup\":[{\"player_id\":20,\"player_name\":\"B\","
    "\"player_nickname\":\"Bee\",\"jersey_number\":1},{\"player_id\":21,\"player_name\":\"C\","
    "\"jersey_number\":12}]} ]\n";

/* Replaces the first occurrence of from with to (malloc'd result). */
static char *replace(const char *s, const char *from, const char *to) {
    const char *at = strstr(s, from);
    if (!at) fail_msg("'%s' not in the template", from);
    size_t n = strlen(s) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    size_t head = (size_t)(at - s);
    memcpy(out, s, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

/* "name:line:col:" of the first occurrence of marker in text. */
static void position_of(const char *name, const char *text, const char *marker, char *out, size_t n) {
    const char *at = strstr(text, marker);
    if (!at) fail_msg("marker '%s' not found", marker);
    unsigned long line = 1, col = 1;
    for (const char *p = text; p < at; p++) {
        col = *p == '\n' ? 1 : col + 1;
        line += *p == '\n';
    }
    snprintf(out, n, "%s:%lu:%lu:", name, line, col);
}

typedef struct bad_case {
    const char *dir;
    const char *events, *lineups; /* lineups NULL: none */
    int code;
} bad_case;

/* Runs the parser on the files and returns the error message (static). */
static const char *run_bad(const bad_case *bc) {
    char *ev = fa_test_write_file(bc->dir, "9_event.json", bc->events, strlen(bc->events));
    char *lu = bc->lineups ? fa_test_write_file(bc->dir, "9_lineup.json", bc->lineups, strlen(bc->lineups))
                           : NULL;
    collect c;
    int rc = import(&c, ev, lu);
    collect_free(&c);
    free(ev);
    free(lu);
    if (rc != bc->code) fail_msg("rc %d, want %d (%s)", rc, bc->code, fa_err_msg());
    if (getenv("SB_DEBUG")) print_message("  %s\n", fa_err_msg());
    return fa_err_msg();
}

/* Breaks good_events by replacing from with to; the error must name
 * 9_event.json at marker (searched in the broken text) and mention word. */
static void expect_event_error(const char *dir, const char *from, const char *to, const char *marker,
                               const char *word) {
    char *text = replace(good_events, from, to);
    char want[64];
    position_of("9_event.json", text, marker, want, sizeof want);
    bad_case bc = {dir, text, NULL, FA_EINVAL};
    const char *msg = run_bad(&bc);
    if (strncmp(msg, want, strlen(want)) != 0 || !strstr(msg, word))
        fail_msg("message '%s': want prefix '%s' and '%s'", msg, want, word);
    free(text);
}

static void test_good_template(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    char *ev = fa_test_write_file(dir, "9_event.json", good_events, strlen(good_events));
    char *lu = fa_test_write_file(dir, "9_lineup.json", good_lineups, strlen(good_lineups));
    collect c;
    int rc = import(&c, ev, lu);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_string_equal(c.end.id, "9");
    assert_int_equal(c.nevents, 5);
    assert_int_equal(c.end.score[FA_SIDE_HOME], 0);
    assert_int_equal(c.end.score[FA_SIDE_AWAY], 1);
    assert_int_equal(c.nplayers, 3);
    assert_near(find_player(&c, "10")->minutes, 45.0, 1e-9);
    assert_near(find_player(&c, "21")->minutes, 0.0, 1e-9);
    assert_int_equal(find_player(&c, "21")->starter, 0);
    const fa_event *pass = &c.events[2];
    assert_int_equal(pass->kind, FA_EV_PASS);
    assert_near(pass->t, 1.5, 1e-12);
    assert_near(pass->x, 0.0, 1e-9);
    assert_near(pass->end_x, (80.0 / 120 - 0.5) * 105, 1e-9);
    assert_int_equal(pass->success, 1);
    assert_int_equal(pass->under_pressure, 1);
    assert_string_equal(pass->related, "e4");
    const fa_event *shot = &c.events[3];
    assert_near(shot->x, -(110.0 / 120 - 0.5) * 105, 1e-9); /* away attacks -x in period 1 */
    assert_near(shot->end_x, -52.5, 1e-9);
    assert_near(shot->end_z, 0.9144, 1e-12);
    assert_near(shot->xg, 0.5, 1e-12);
    collect_free(&c);
    free(ev);
    free(lu);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_bad_fields(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    /* wrong JSON types, never coerced */
    expect_event_error(dir, "\"period\":1,\"timestamp\":\"00:00:01.500\"", "\"period\":\"1\"",
                       "\"1\"", "period");
    expect_event_error(dir, "\"under_pressure\":true", "\"under_pressure\":1", "1,\"related",
                       "under_pressure");
    expect_event_error(dir, "\"related_events\":[\"e4\"]", "\"related_events\":[4]", "4]", "related_events");
    expect_event_error(dir, "\"player\":{\"id\":10,", "\"player\":{\"id\":\"10\",", "\"10\"", "id");
    expect_event_error(dir, "\"statsbomb_xg\":0.5", "\"statsbomb_xg\":\"0.5\"", "\"0.5\"", "statsbomb_xg");
    expect_event_error(dir, "\"type\":{\"name\":\"Pass\"}", "\"type\":\"Pass\"", "\"Pass\"", "type");
    expect_event_error(dir, "\"pass\":{\"end_location\":[80.0,40.0]}", "\"pass\":[80.0]", "[80.0]", "pass");
    /* absurd values */
    expect_event_error(dir, "\"period\":1,\"timestamp\":\"00:00:01.500\"",
                       "\"period\":6,\"timestamp\":\"00:00:01.500\"", "6,", "period");
    expect_event_error(dir, "\"period\":1,\"timestamp\":\"00:00:01.500\"",
                       "\"period\":0,\"timestamp\":\"00:00:01.500\"", "0,\"t", "period");
    expect_event_error(dir, "\"00:00:01.500\"", "\"0:00:01.500\"", "\"0:00", "timestamp");
    expect_event_error(dir, "\"00:00:01.500\"", "\"00:61:01.500\"", "\"00:61", "timestamp");
    expect_event_error(dir, "\"00:00:01.500\"", "\"00:00:01.\"", "\"00:00:01.\"", "timestamp");
    expect_event_error(dir, "[60.0,40.0]", "[160.0,40.0]", "160.0", "location");
    expect_event_error(dir, "[60.0,40.0]", "[60.0,-40.0]", "-40.0", "location");
    expect_event_error(dir, "[60.0,40.0]", "[60.0]", "[60.0]", "location");
    expect_event_error(dir, "[60.0,40.0]", "[60.0,40.0,1.0]", "[60.0,40.0,1.0]", "location");
    expect_event_error(dir, "[60.0,40.0]", "[60.0,\"40\"]", "\"40\"", "location");
    expect_event_error(dir, "[120.0,40.0,1.0]", "[120.0,40.0,1.0,2.0]", "[120.0,40.0,1.0,2.0]",
                       "end_location");
    expect_event_error(dir, "[80.0,40.0]", "[80.0,40.0,1.0]", "[80.0,40.0,1.0]", "end_location");
    expect_event_error(dir, "\"statsbomb_xg\":0.5", "\"statsbomb_xg\":1.5", "1.5,\"end", "statsbomb_xg");
    expect_event_error(dir, "\"timestamp\":\"00:00:01.500\",",
                       "\"timestamp\":\"00:00:01.500\",\"duration\":-1,",
                       "-1,", "duration");
    /* missing required fields: named, at the event object */
    expect_event_error(dir, "\"id\":\"e3\",", "", "{\"period\":1,\"timestamp\":\"00:00:01.500\"", "'id'");
    expect_event_error(dir, "\"period\":1,\"timestamp\":\"00:00:01.500\",", "", "{\"id\":\"e3\"", "'period'");
    expect_event_error(dir, "\"timestamp\":\"00:00:01.500\",", "", "{\"id\":\"e3\"", "'timestamp'");
    expect_event_error(dir, "\"type\":{\"name\":\"Pass\"},", "", "{\"id\":\"e3\"", "'type'");
    expect_event_error(dir, "\"team\":{\"id\":1,\"name\":\"Home\"},\"player\"", "\"player\"",
                       "{\"id\":\"e3\"",
                       "'team'");
    expect_event_error(dir, "\"type\":{\"name\":\"Pass\"}", "\"type\":{\"id\":30}", "{\"id\":30}", "'name'");
    fa_test_rmtree(dir);
    free(dir);
}

static void test_bad_structure(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    /* an event before both Starting XIs, a third team, a second Starting XI */
    expect_event_error(dir,
                       "\"e2\",\"period\":1,\"timestamp\":\"00:00:00.000\","
                       "\"type\":{\"name\":\"Starting XI\"}",
                       "\"e2\",\"period\":1,\"timestamp\":\"00:00:00.000\",\"type\":{\"name\":\"Pressure\"}",
                       "{\"id\":\"e2\"", "Starting XI");
    expect_event_error(dir, "\"team\":{\"id\":1,\"name\":\"Home\"},\"player\":{\"id\":10",
                       "\"team\":{\"id\":3,\"name\":\"Other\"},\"player\":{\"id\":10", "{\"id\":3",
                       "neither");
    expect_event_error(dir, "\"team\":{\"id\":2,\"name\":\"Away\"},\"tactics\"",
                       "\"team\":{\"id\":1,\"name\":\"Home\"},\"tactics\"",
                       "{\"id\":1,\"name\":\"Home\"},\"tactics\":{\"lineup\":[{\"player\":{\"id\":20",
                       "second");
    /* a player of the other team */
    expect_event_error(dir, "\"player\":{\"id\":10,\"name\":\"A\"},\"location\"",
                       "\"player\":{\"id\":20,\"name\":\"B\"},\"location\"",
                       "{\"id\":20,\"name\":\"B\"},\"location\"",
                       "plays for team 2");
    /* not an object, not an array, trailing data */
    expect_event_error(dir, "{\"id\":\"e5\"", "5,{\"id\":\"e5\"", "5,{", "expected object");
    expect_event_error(dir, "]\n", "]\n[]\n", "[]\n", "");
    fa_test_rmtree(dir);
    free(dir);
}

/* Files broken as a whole (bad JSON, too few Starting XIs): the message starts with want_prefix. */
static void expect_file_error(const char *dir, const char *events, const char *want_prefix) {
    bad_case bc = {dir, events, NULL, FA_EINVAL};
    const char *msg = run_bad(&bc);
    if (strncmp(msg, want_prefix, strlen(want_prefix)) != 0)
        fail_msg("message '%s': want prefix '%s'", msg, want_prefix);
}

static void test_bad_json(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    expect_file_error(dir, "", "9_event.json:1:1:");
    expect_file_error(dir, "{}", "9_event.json:1:1:");
    expect_file_error(dir, "[\n", "9_event.json:2:1:");
    /* truncated in the middle of the pass */
    char *cut = strdup(good_events);
    cut[strstr(cut, "\"location\":[60.0") - cut + 14] = '\0';
    expect_file_error(dir, cut, "9_event.json:4:");
    free(cut);
    /* invalid UTF-8 in the player's name: the error points into the string */
    char want[64];
    char *bad_utf8 = replace(good_events, "\"name\":\"A\"},\"location\"", "\"name\":\"A\xff\"},\"location\"");
    position_of("9_event.json", bad_utf8, "\xff", want, sizeof want);
    expect_file_error(dir, bad_utf8, want);
    free(bad_utf8);
    /* only one Starting XI */
    expect_file_error(dir,
                        "[\n{\"id\":\"e1\",\"period\":1,\"timestamp\":\"00:00:00.000\",\"type\":{\"name\":"
                        "\"Starting XI\"},\"team\":{\"id\":1,\"name\":\"H\"},"
                        "\"tactics\":{\"lineup\":[]}}\n]\n",
                        "9_event.json:1:1: events: found 1 of the 2 'Starting XI'");
    expect_file_error(dir, "[]", "9_event.json:1:1: events: found 0");
    /* missing file */
    collect c;
    assert_int_not_equal(import(&c, "/nonexistent/9_event.json", NULL), 0);
    collect_free(&c);
    fa_test_rmtree(dir);
    free(dir);
}

/* Breaks the lineups file; the error must start with want (file:line:col). */
static void expect_lineups_error(const char *dir, const char *lineups, const char *want, const char *word) {
    bad_case bc = {dir, good_events, lineups, FA_EINVAL};
    const char *msg = run_bad(&bc);
    if (strncmp(msg, want, strlen(want)) != 0 || !strstr(msg, word))
        fail_msg("message '%s': want prefix '%s' and '%s'", msg, want, word);
}

static void test_bad_lineups(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    char want[64];
    char *text = replace(good_lineups, "\"jersey_number\":12", "\"jersey_number\":\"12\"");
    position_of("9_lineup.json", text, "\"12\"", want, sizeof want);
    expect_lineups_error(dir, text, want, "jersey_number");
    free(text);
    text = replace(good_lineups, "\"player_nickname\":\"Bee\"", "\"player_nickname\":7");
    position_of("9_lineup.json", text, "7,", want, sizeof want);
    expect_lineups_error(dir, text, want, "player_nickname");
    free(text);
    text = replace(good_lineups, "\"player_id\":21", "\"player_id\":20");
    position_of("9_lineup.json", text, "{\"player_id\":20,\"player_name\":\"C\"", want, sizeof want);
    expect_lineups_error(dir, text, want, "twice");
    free(text);
    /* one team only */
    text = replace(good_lineups, "},\n  {\"team_id\":2", "},\n  1, {\"team_id\":2");
    position_of("9_lineup.json", text, "1, {", want, sizeof want);
    expect_lineups_error(dir, text, want, "team object");
    free(text);
    expect_lineups_error(dir, "[ {\"team_id\":1,\"team_name\":\"Home\",\"lineup\":[]} ]",
                         "9_lineup.json:1:1:",
                         "expected 2 teams");
    /* lineups of another match: the teams do not match the events' */
    text = replace(good_lineups, "\"team_id\":2", "\"team_id\":5");
    position_of("9_event.json", good_events, "{\"id\":2,\"name\":\"Away\"},\"tactics\"", want, sizeof want);
    expect_lineups_error(dir, text, want, "not in the lineups file 9_lineup.json");
    free(text);
    /* a player the lineups do not list */
    text = replace(good_lineups, "\"player_id\":20", "\"player_id\":22");
    position_of("9_event.json", good_events, "{\"id\":20", want, sizeof want);
    expect_lineups_error(dir, text, want, "player 20 (B) is not in the lineups");
    free(text);
    fa_test_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_15986_events),
        cmocka_unit_test(test_3788741_events),
        cmocka_unit_test(test_match_facts),
        cmocka_unit_test(test_event_fields),
        cmocka_unit_test(test_shot_end_height),
        cmocka_unit_test(test_coordinates),
        cmocka_unit_test(test_players_15986),
        cmocka_unit_test(test_players_3788741),
        cmocka_unit_test(test_players_without_lineups),
        cmocka_unit_test(test_sink_stop),
        cmocka_unit_test(test_good_template),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_bad_structure),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_lineups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
