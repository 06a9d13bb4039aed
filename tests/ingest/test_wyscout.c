/*
 * test_wyscout.c - the Wyscout v2 events importer on the real public-dataset
 * match 2499773 (figures from shared/data/reference/event_reference_values.txt
 * and read straight from the file) and on small constructed files: the string
 * form of event names, own goals, and bad input that must fail with a
 * message naming file:line:col and the field.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ingest/ingest.h"
#include "testutil.h"

#define WY_FILE "events/wyscout/events_v2_2499773.json"

typedef struct collected {
    int begins, ends;
    fa_match begin_match, end_match;
    fa_event *events;
    size_t nevents, cap;
    fa_player players[64];
    size_t nplayers;
    int stop_after; /* > 0: the n-th event callback returns 7 */
} collected;

static int on_begin(void *ud, const fa_match *m) {
    collected *c = ud;
    c->begins++;
    c->begin_match = *m;
    return 0;
}

static int on_end(void *ud, const fa_match *m) {
    collected *c = ud;
    c->ends++;
    c->end_match = *m;
    return 0;
}

static int on_player(void *ud, const fa_player *p) {
    collected *c = ud;
    assert_true(c->nplayers < 64);
    c->players[c->nplayers++] = *p;
    return 0;
}

static int on_event(void *ud, const fa_event *e) {
    collected *c = ud;
    if (c->nevents == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->events = realloc(c->events, c->cap * sizeof *c->events);
        assert_non_null(c->events);
    }
    c->events[c->nevents++] = *e;
    return c->stop_after > 0 && (int)c->nevents == c->stop_after ? 7 : 0;
}

static fa_sink sink_for(collected *c) {
    fa_sink s = {c, on_begin, on_player, on_event, NULL, on_end};
    return s;
}

static int import_real(collected *c) {
    const char *path = fa_test_data(WY_FILE);
    if (!fa_test_file_exists(path)) return -100;
    memset(c, 0, sizeof *c);
    fa_sink s = sink_for(c);
    return fa_wyscout_import(path, &s);
}

#define IMPORT_REAL_OR_SKIP(c)                                                                               \
    do {                                                                                                     \
        FA_TEST_REQUIRE_DATA(fa_test_data(WY_FILE));                                                         \
        int rc_ = import_real(c);                                                                            \
        if (rc_) fail_msg("import failed (%d): %s", rc_, fa_err_msg());                                      \
    } while (0)

static size_t count_type(const collected *c, const char *type) {
    size_t n = 0;
    for (size_t i = 0; i < c->nevents; i++) n += strcmp(c->events[i].type, type) == 0;
    return n;
}

static const fa_player *find_player(const collected *c, const char *id) {
    for (size_t i = 0; i < c->nplayers; i++)
        if (strcmp(c->players[i].id, id) == 0) return &c->players[i];
    return NULL;
}

/* ------------------------------------------------------------ real file */

static void test_real_match_facts(void **state) {
    (void)state;
    collected c;
    IMPORT_REAL_OR_SKIP(&c);
    assert_int_equal(c.begins, 1);
    assert_int_equal(c.ends, 1);
    const fa_match *m = &c.begin_match;
    assert_int_equal(m->provider, FA_PROVIDER_WYSCOUT);
    assert_string_equal(m->id, "2499773");
    /* Home = the kick-off team (1612 Liverpool plays the first event). */
    assert_string_equal(m->teams[FA_SIDE_HOME].id, "1612");
    assert_string_equal(m->teams[FA_SIDE_HOME].name, "Liverpool");
    assert_string_equal(m->teams[FA_SIDE_AWAY].id, "1631");
    assert_string_equal(m->teams[FA_SIDE_AWAY].name, "Leicester City");
    assert_int_equal(m->score[FA_SIDE_HOME], 3);
    assert_int_equal(m->score[FA_SIDE_AWAY], 2);
    assert_int_equal(c.end_match.score[FA_SIDE_HOME], 3);
    assert_int_equal(c.end_match.score[FA_SIDE_AWAY], 2);
    assert_string_equal(m->provider_unit, "percent");
    assert_float_equal(m->provider_length, 100, 0);
    assert_float_equal(m->pitch.length, 105, 0);
    assert_string_equal(m->source, "events_v2_2499773.json");
    free(c.events);
}

static void test_real_event_counts(void **state) {
    (void)state;
    collected c;
    IMPORT_REAL_OR_SKIP(&c);
    assert_int_equal(c.nevents, 1770);
    /* eventName counts {8: 772, 1: 562, 7: 146, 3: 119, 5: 89}, then the rest. */
    assert_int_equal(count_type(&c, "Pass"), 772);
    assert_int_equal(count_type(&c, "Duel"), 562);
    assert_int_equal(count_type(&c, "Others on the ball"), 146);
    assert_int_equal(count_type(&c, "Free Kick"), 119);
    assert_int_equal(count_type(&c, "Interruption"), 89);
    assert_int_equal(count_type(&c, "Shot"), 31);
    assert_int_equal(count_type(&c, "Foul"), 27);
    assert_int_equal(count_type(&c, "Save attempt"), 13);
    assert_int_equal(count_type(&c, "Goalkeeper leaving line"), 6);
    assert_int_equal(count_type(&c, "Offside"), 5);
    size_t per_period[3] = {0}, throw_ins = 0, body[3] = {0};
    for (size_t i = 0; i < c.nevents; i++) {
        const fa_event *e = &c.events[i];
        assert_int_equal(e->seq, (int64_t)i);
        assert_true(e->period == 1 || e->period == 2);
        per_period[e->period]++;
        throw_ins += strcmp(e->pass_type, "Throw in") == 0;
        body[0] += strcmp(e->body_part, "Left Foot") == 0;
        body[1] += strcmp(e->body_part, "Right Foot") == 0;
        body[2] += strcmp(e->body_part, "Head/Body") == 0;
    }
    assert_int_equal(per_period[1], 859);
    assert_int_equal(per_period[2], 911);
    assert_int_equal(throw_ins, 67);
    assert_int_equal(body[0], 21);
    assert_int_equal(body[1], 39);
    assert_int_equal(body[2], 7);
    free(c.events);
}

static void test_real_pass_success(void **state) {
    (void)state;
    collected c;
    IMPORT_REAL_OR_SKIP(&c);
    size_t passes[2] = {0}, ok[2] = {0}, bad[2] = {0};
    for (size_t i = 0; i < c.nevents; i++) {
        const fa_event *e = &c.events[i];
        if (strcmp(e->type, "Pass") != 0) continue;
        assert_int_equal(e->kind, FA_EV_PASS);
        passes[e->side]++;
        ok[e->side] += e->success == 1;
        bad[e->side] += e->success == 0;
    }
    assert_int_equal(passes[FA_SIDE_HOME], 440);
    assert_int_equal(ok[FA_SIDE_HOME], 353);
    assert_int_equal(bad[FA_SIDE_HOME], 87);
    assert_int_equal(passes[FA_SIDE_AWAY], 332);
    assert_int_equal(ok[FA_SIDE_AWAY], 249);
    assert_int_equal(bad[FA_SIDE_AWAY], 83);
    free(c.events);
}

static void test_real_shots_and_goals(void **state) {
    (void)state;
    collected c;
    IMPORT_REAL_OR_SKIP(&c);
    size_t shots[2] = {0}, goals[2] = {0};
    for (size_t i = 0; i < c.nevents; i++) {
        const fa_event *e = &c.events[i];
        if (e->kind != FA_EV_SHOT) {
            assert_int_equal(e->goal, 0); /* save attempts carry tag 101 too */
            continue;
        }
        shots[e->side]++;
        goals[e->side] += e->goal;
        assert_true(isnan(e->end_x)); /* the (0,0)/(100,100) placeholder is dropped */
    }
    /* 22 + 9 "Shot" events plus one free-kick shot and one penalty. */
    assert_int_equal(shots[FA_SIDE_HOME], 23);
    assert_int_equal(shots[FA_SIDE_AWAY], 10);
    assert_int_equal(goals[FA_SIDE_HOME], 3);
    assert_int_equal(goals[FA_SIDE_AWAY], 2);
    free(c.events);
}

/* Each team's shots lie near the goal it attacks: home +x in period 1, -x in 2. */
static void test_real_shot_coordinates(void **state) {
    (void)state;
    collected c;
    IMPORT_REAL_OR_SKIP(&c);
    size_t checked = 0;
    for (size_t i = 0; i < c.nevents; i++) {
        const fa_event *e = &c.events[i];
        if (e->kind != FA_EV_SHOT) continue;
        int plus_x = (e->side == FA_SIDE_HOME) == (e->period == 1);
        if (plus_x)
            assert_true(e->x > 20 && e->x <= 52.5);
        else
            assert_true(e->x < -20 && e->x >= -52.5);
        assert_true(fabs(e->y) <= 34);
        checked++;
    }
    assert_int_equal(checked, 33);
    free(c.events);
}

static void test_real_first_events(void **state) {
    (void)state;
    collected c;
    IMPORT_REAL_OR_SKIP(&c);
    const fa_event *e = &c.events[0];
    assert_string_equal(e->provider_id, "190078343");
    assert_string_equal(e->type, "Pass");
    assert_string_equal(e->subtype, "Simple pass");
    assert_string_equal(e->player_id, "116");
    assert_int_equal(e->side, FA_SIDE_HOME);
    assert_int_equal(e->success, 1);
    assert_float_equal(e->t, 2.643377, 1e-9);
    assert_float_equal(e->x, 0, 1e-9); /* kick-off from (50, 50) */
    assert_float_equal(e->end_x, -22.05, 1e-9);
    assert_float_equal(e->end_y, 6.12, 1e-9); /* y 41 of 100, y down -> 6.12 m up */
    /* Salah's header, home team, period 1: (96, 63) -> (48.3, -8.84). */
    const fa_event *goal = NULL;
    for (size_t i = 0; i < c.nevents && !goal; i++)
        if (strcmp(c.events[i].provider_id, "190078560") == 0) goal = &c.events[i];
    assert_non_null(goal);
    assert_int_equal(goal->goal, 1);
    assert_string_equal(goal->outcome, "Goal");
    assert_string_equal(goal->body_part, "Head/Body");
    assert_float_equal(goal->x, 48.3, 1e-9);
    assert_float_equal(goal->y, -8.84, 1e-9);
    /* Away coordinates are written as strings ("82"): last event, away, period 2. */
    const fa_event *last = &c.events[1769];
    assert_int_equal(last->side, FA_SIDE_AWAY);
    assert_float_equal(last->x, 33.6, 1e-9); /* away attacks +x in period 2: (82-50)% of 105 */
    assert_float_equal(last->y, 30.6, 1e-9);
    free(c.events);
}

static void test_real_players(void **state) {
    (void)state;
    collected c;
    IMPORT_REAL_OR_SKIP(&c);
    assert_int_equal(c.nplayers, 28);
    size_t home = 0;
    for (size_t i = 0; i < c.nplayers; i++) home += c.players[i].side == FA_SIDE_HOME;
    assert_int_equal(home, 14);
    const fa_player *p = find_player(&c, "116");
    assert_non_null(p);
    assert_string_equal(p->name, "G. Wijnaldum");
    assert_string_equal(p->position, "Midfielder");
    assert_int_equal(p->side, FA_SIDE_HOME);
    p = find_player(&c, "350976");
    assert_non_null(p);
    assert_string_equal(p->name, "B. Chilwell");
    assert_int_equal(p->side, FA_SIDE_AWAY);
    assert_null(find_player(&c, "0"));
    free(c.events);
}

static void test_sink_stop_is_returned(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(WY_FILE));
    collected c;
    memset(&c, 0, sizeof c);
    c.stop_after = 5;
    fa_sink s = sink_for(&c);
    assert_int_equal(fa_wyscout_import(fa_test_data(WY_FILE), &s), 7);
    assert_int_equal(c.nevents, 5);
    assert_int_equal(c.ends, 0);
    free(c.events);
}

/* ------------------------------------------------------------ constructed files */

static int import_text(const char *text, collected *c, char **dir_out) {
    char *dir = fa_test_tmpdir();
    assert_non_null(dir);
    char *path = fa_test_write_file(dir, "ev.json", text, strlen(text));
    assert_non_null(path);
    memset(c, 0, sizeof *c);
    fa_sink s = sink_for(c);
    fa_err_clear();
    int rc = fa_wyscout_import(path, &s);
    free(path);
    *dir_out = dir;
    return rc;
}

#define EV(team, period, sec, extra)                                                                         \
    "{\"id\": 1, \"playerId\": 10, \"teamId\": " #team ", \"matchId\": 99, \"matchPeriod\": \"" period       \
    "\", \"eventSec\": " #sec ", \"eventName\": 8, \"subEventName\": 85" extra "}"

static void test_string_names_and_own_goal(void **state) {
    (void)state;
    const char *text =
        "[{\"id\": 5, \"playerId\": 7, \"teamId\": 2, \"matchId\": 42, \"matchPeriod\": \"1H\", "
        "\"eventSec\": 1.5,\n"
        "  \"eventId\": 8, \"eventName\": \"Pass\", \"subEventId\": 85, \"subEventName\": \"Simple pass\",\n"
        "  \"positions\": [{\"x\": 50, \"y\": 50}, {\"x\": 60, \"y\": 25}], \"tags\": [{\"id\": 1801}]},\n"
        " {\"id\": 6, \"playerId\": 8, \"teamId\": 3, \"matchId\": 42, \"matchPeriod\": \"1H\", "
        "\"eventSec\": 9,\n"
        "  \"eventName\": \"Shot\", \"subEventName\": \"Shot\", \"positions\": [{\"x\": 90, \"y\": 50}],\n"
        "  \"tags\": [{\"id\": 101}, {\"id\": 401}]},\n"
        " {\"id\": 7, \"playerId\": 7, \"teamId\": 2, \"matchId\": 42, \"matchPeriod\": \"2H\", "
        "\"eventSec\": 3,\n"
        "  \"eventId\": 7, \"eventName\": \"Others on the ball\", \"subEventId\": 72, \"subEventName\": "
        "\"Touch\",\n"
        "  \"positions\": [{\"x\": 5, \"y\": 50}], \"tags\": [{\"id\": 102}]}]\n";
    collected c;
    char *dir;
    int rc = import_text(text, &c, &dir);
    if (rc) fail_msg("import failed: %s", fa_err_msg());
    assert_string_equal(c.begin_match.id, "42");
    assert_string_equal(c.begin_match.teams[FA_SIDE_HOME].name, "2"); /* no names: the id */
    assert_int_equal(c.nevents, 3);
    assert_string_equal(c.events[0].type, "Pass");
    assert_string_equal(c.events[0].subtype, "Simple pass");
    assert_int_equal(c.events[0].kind, FA_EV_PASS);
    assert_float_equal(c.events[0].end_x, 10.5, 1e-9);
    assert_float_equal(c.events[0].end_y, 17, 1e-9);
    assert_int_equal(c.events[1].kind, FA_EV_SHOT);
    assert_int_equal(c.events[1].goal, 1);
    assert_string_equal(c.events[1].body_part, "Left Foot");
    assert_float_equal(c.events[1].x, -42, 1e-9); /* away attacks -x in period 1 */
    /* Team 2's own goal counts for team 3 (away). */
    assert_int_equal(c.events[2].kind, FA_EV_OWN_GOAL);
    assert_int_equal(c.events[2].goal, 1);
    assert_float_equal(c.events[2].x, 47.25, 1e-9); /* home, period 2, at its own goal (+x) */
    assert_int_equal(c.end_match.score[FA_SIDE_HOME], 0);
    assert_int_equal(c.end_match.score[FA_SIDE_AWAY], 2);
    assert_int_equal(c.nplayers, 2);
    free(c.events);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_kickoff_team_is_home(void **state) {
    (void)state;
    /* Team 5 has the earliest first-half event even though team 4 comes first in the file. */
    const char *text = "{\"events\": [" EV(4, "2H", 1, ) "," EV(4, "1H", 20, ) "," EV(5, "1H", 0.5, ) "]}";
    collected c;
    char *dir;
    int rc = import_text(text, &c, &dir);
    if (rc) fail_msg("import failed: %s", fa_err_msg());
    assert_string_equal(c.begin_match.teams[FA_SIDE_HOME].id, "5");
    assert_string_equal(c.begin_match.teams[FA_SIDE_AWAY].id, "4");
    assert_int_equal(c.events[0].side, FA_SIDE_AWAY);
    assert_int_equal(c.begin_match.score[0], 0);
    free(c.events);
    fa_test_rmtree(dir);
    free(dir);
}

typedef struct bad_case {
    const char *text;
    const char *where; /* "ev.json:L:C" prefix, or NULL for a whole-file message */
    const char *what;  /* substring of the message */
} bad_case;

static void test_bad_inputs(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"[{\"teamId\": 1, \"matchPeriod\": \"1H\", \"eventName\": 8}]",
         "ev.json:1:2:", "missing required field 'eventSec'"},
        {"[{\"eventSec\": 1, \"matchPeriod\": \"1H\", \"eventName\": 8}]",
         "ev.json:1:2:", "missing required field 'teamId'"},
        {"[{\"eventSec\": 1, \"teamId\": 1, \"eventName\": 8}]",
         "ev.json:1:2:", "missing required field 'matchPeriod'"},
        {"[{\"eventSec\": 1, \"teamId\": 1, \"matchPeriod\": \"1H\"}]",
         "ev.json:1:2:", "missing required field 'eventName'"},
        {"[{\"eventSec\": \"1\", \"teamId\": 1, \"matchPeriod\": \"1H\", \"eventName\": 8}]",
         "ev.json:1:15:", "field 'eventSec': expected number"},
        {"[{\"eventSec\": -3, \"teamId\": 1, \"matchPeriod\": \"1H\", \"eventName\": 8}]",
         "ev.json:1:15:", "field 'eventSec': -3 s is outside"},
        {"[{\"eventSec\": 3, \"teamId\": 1, \"matchPeriod\": \"3H\", \"eventName\": 8}]",
         "ev.json:1:46:", "unknown period code \"3H\""},
        {"[{\"eventSec\": 3, \"teamId\": \"a\", \"matchPeriod\": \"1H\", \"eventName\": 8}]",
         "ev.json:1:28:", "field 'teamId': expected integer"},
        {"[{\"eventSec\": 3, \"teamId\": 1, \"matchPeriod\": \"1H\", \"eventName\": [8]}]",
         "ev.json:1:65:", "field 'eventName': expected a string or an integer"},
        {"[" EV(1, "1H", 1, ", \"positions\": [{\"x\": 150, \"y\": 2}]") "]", NULL,
         "field 'x': 150 is outside"},
        {"[" EV(1, "1H", 1, ", \"positions\": [{\"x\": \"abc\", \"y\": 2}]") "]", NULL,
         "field 'x': expected a number, got \"abc\""},
        {"[" EV(1, "1H", 1, ", \"positions\": [{\"x\": 5}]") "]", NULL, "missing required field 'y'"},
        {"[" EV(1, "1H", 1, ", \"tags\": [{\"id\": \"x\"}]") "]", NULL, "field 'id': expected integer"},
        {"[" EV(1, "1H", 1, ) ",\n" EV(2, "1H", 2, ) ",\n" EV(3, "1H", 3, ) "]",
         "ev.json:3:", "a third team 3"},
        {"[" EV(1, "1H",
                1, ) ",\n{\"teamId\": 1, \"matchId\": 100, \"matchPeriod\": \"1H\", \"eventSec\": 2, "
                     "\"eventName\": 8}]",
         "ev.json:2:", "one import takes one match"},
        {"[42]", "ev.json:1:2:", "expected an event object, got number"},
        {"42", "ev.json:1:1:", "expected {\"events\": [...]} or an array of events"},
        {"{\"teams\": {}}", NULL, "no \"events\" array"},
        {"{\"events\": []}", NULL, "no events"},
        {"[]", NULL, "no events"},
        {"{\"events\": [" EV(1, "1H", 1, ), NULL, "ev.json:1:"},
        {"[" EV(1, "1H", 1, ) "] x", NULL, "ev.json:1:"},
        {"{\"events\": [" EV(1, "1H", 1, ) "], \"teams\": [1]}", NULL, "field 'teams': expected an object"},
        {"{\"events\": [" EV(1, "1H", 1, ) "], \"players\": {\"1\": [{\"player\": {\"wyId\": \"10\"}}]}}",
         NULL, "field 'wyId': expected integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        collected c;
        char *dir;
        int rc = import_text(cases[i].text, &c, &dir);
        const char *msg = fa_err_msg();
        if (rc != FA_EINVAL) fail_msg("case %zu: rc %d, message \"%s\"", i, rc, msg);
        if (cases[i].where && strncmp(msg, cases[i].where, strlen(cases[i].where)) != 0)
            fail_msg("case %zu: message \"%s\" does not start with \"%s\"", i, msg, cases[i].where);
        if (!strstr(msg, cases[i].what))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, msg, cases[i].what);
        if (!strstr(msg, "ev.json")) fail_msg("case %zu: message \"%s\" does not name the file", i, msg);
        assert_int_equal(c.nevents, 0); /* pass 1 validates everything before any event */
        free(c.events);
        fa_test_rmtree(dir);
        free(dir);
    }
}

static void test_missing_file(void **state) {
    (void)state;
    collected c;
    memset(&c, 0, sizeof c);
    fa_sink s = sink_for(&c);
    int rc = fa_wyscout_import("/nonexistent/ev.json", &s);
    assert_true(rc < 0);
    assert_non_null(strstr(fa_err_msg(), "ev.json"));
    assert_int_equal(c.begins, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_match_facts),
        cmocka_unit_test(test_real_event_counts),
        cmocka_unit_test(test_real_pass_success),
        cmocka_unit_test(test_real_shots_and_goals),
        cmocka_unit_test(test_real_shot_coordinates),
        cmocka_unit_test(test_real_first_events),
        cmocka_unit_test(test_real_players),
        cmocka_unit_test(test_sink_stop_is_returned),
        cmocka_unit_test(test_string_names_and_own_goal),
        cmocka_unit_test(test_kickoff_team_is_home),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
