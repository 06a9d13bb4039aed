/*
 * test_passes.c - tactical figures and pass networks.
 *
 * Constructed events check each definition on cases worked out by hand
 * (progressive thresholds per half, the final-third line, xT added, shots,
 * pass strings, the pass-network window). Real matches are loaded through the
 * parsers: passes, completions, shots, goals and xG must equal the providers'
 * own counts in data/reference/event_reference_values.txt; the figures that
 * have no provider reference (progressive, final third, xT, strings) were
 * computed once, checked for plausibility and are asserted exactly.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "core/core.h"
#include "ingest/ingest.h"

#define assert_near(a, b, eps)                                                                               \
    do {                                                                                                     \
        double a_ = (a), b_ = (b);                                                                           \
        if (!(fabs(a_ - b_) <= (eps))) fail_msg("%s = %.9g, want %.9g (+- %g)", #a, a_, b_, (double)(eps));  \
    } while (0)

#define H FA_SIDE_HOME
#define A FA_SIDE_AWAY
#define N FA_SIDE_NONE

static const fa_pitch pitch = {105, 68};

/* ------------------------------------------------------------------ constructed events */

static fa_event ev_at(int period, fa_side side, fa_event_kind kind, int success, const char *player, double x,
                      double y, double ex, double ey) {
    fa_event e;
    fa_event_init(&e);
    e.period = period;
    e.side = side;
    e.kind = kind;
    e.success = success;
    snprintf(e.player_id, sizeof e.player_id, "%s", player);
    e.x = x;
    e.y = y;
    e.end_x = ex;
    e.end_y = ey;
    return e;
}

static fa_event pass(int period, fa_side side, int success, const char *from, const char *to, double x,
                     double ex) {
    fa_event e = ev_at(period, side, FA_EV_PASS, success, from, x, 0, ex, 0);
    snprintf(e.recipient_id, sizeof e.recipient_id, "%s", to);
    return e;
}

static fa_tactical compute(const fa_event *ev, size_t n) {
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    fa_tactical t;
    if (fa_tactical_compute(ev, n, &pitch, &c, &t) != 0) fail_msg("tactical: %s", fa_err_msg());
    return t;
}

static void test_progressive_and_final_third(void **state) {
    (void)state;
    fa_event ev[16];
    size_t n = 0;
    /* Home attacks +x in period 1; the goal centre is (52.5, 0). */
    ev[n++] = pass(1, H, 1, "h1", "h2", -40, -5);  /* own half, 35 m nearer: progressive */
    ev[n++] = pass(1, H, 1, "h1", "h2", -40, -15); /* own half, 25 m: no */
    ev[n++] = pass(1, H, 1, "h2", "h3", -10, 10);  /* across halves, 20 m: progressive */
    ev[n++] = pass(1, H, 1, "h2", "h3", -5, 5);    /* across halves, 10 m: no */
    ev[n++] = pass(1, H, 1, "h3", "h4", 10, 21);  /* opponent half, 11 m: progressive; into the final third */
    ev[n++] = pass(1, H, 1, "h3", "h4", 10, 19);  /* 9 m: no; 19 m is beyond 17.5: final third */
    ev[n++] = pass(1, H, 1, "h4", "h3", 20, 40);  /* starts in the final third: progressive only */
    ev[n++] = pass(1, H, 0, "h1", "", -40, 40);   /* incomplete: neither */
    ev[n++] = pass(1, H, 1, "h1", "h2", NAN, 40); /* no start: counted, not judged */
    /* Away attacks -x in period 1: 40 -> 5 is 35 m nearer its goal at x = -52.5. */
    ev[n++] = pass(1, A, 1, "a1", "a2", 40, 5);
    /* Home attacks -x in period 2: 10 -> -10 is across halves, 20 m. */
    ev[n++] = pass(2, H, 1, "h1", "h2", 10, -10);
    ev[n++] = pass(5, H, 1, "h1", "h2", -40, 40); /* shoot-out: ignored */
    fa_tactical t = compute(ev, n);
    assert_int_equal(t.team[H].passes, 10);
    assert_int_equal(t.team[H].passes_completed, 9);
    assert_int_equal(t.team[H].progressive_passes, 5);
    assert_int_equal(t.team[H].final_third_passes, 2);
    assert_int_equal(t.team[A].passes, 1);
    assert_int_equal(t.team[A].progressive_passes, 1);
    assert_int_equal(t.team[A].final_third_passes, 0);
    /* Per player: h1 made 5 (3 judged), h3 made 2. */
    assert_int_equal(t.nplayers, 5);
    assert_string_equal(t.players[0].id, "h1");
    assert_int_equal(t.players[0].passes, 5);
    assert_int_equal(t.players[0].passes_completed, 4);
    assert_int_equal(t.players[0].progressive_passes, 2);
    assert_string_equal(t.players[2].id, "h3");
    assert_int_equal(t.players[2].progressive_passes, 1);
    assert_int_equal(t.players[2].final_third_passes, 2);
    assert_non_null(strstr(t.definitions, "progressive"));
    assert_non_null(strstr(t.definitions, "30 m"));
    assert_non_null(strstr(t.definitions, "12x8"));
    assert_true(strlen(t.definitions) < sizeof t.definitions - 1);
    fa_tactical_free(&t);
}

static void test_shots_and_xt(void **state) {
    (void)state;
    fa_event ev[8];
    size_t n = 0;
    ev[n++] = pass(1, H, 1, "h1", "h2", 0, 50);                  /* xT 0.01689528 -> 0.25745362 */
    ev[n++] = ev_at(1, H, FA_EV_CARRY, -1, "h2", 50, 0, 0, 0);   /* back again: -0.24055834 */
    ev[n++] = ev_at(1, H, FA_EV_CARRY, -1, "h2", 0, 0, 50, NAN); /* no end: no xT */
    fa_event shot = ev_at(1, H, FA_EV_SHOT, 1, "h2", 45, 0, 52.5, 0);
    shot.goal = 1;
    shot.xg = 0.4;
    snprintf(shot.outcome, sizeof shot.outcome, "Goal");
    ev[n++] = shot;
    shot = ev_at(1, H, FA_EV_SHOT, 0, "h1", 30, 0, 52.5, 0);
    shot.xg = 0.05;
    snprintf(shot.outcome, sizeof shot.outcome, "Saved");
    ev[n++] = shot;
    shot = ev_at(1, A, FA_EV_SHOT, 0, "a1", -30, 0, -52.5, 0);
    snprintf(shot.subtype, sizeof shot.subtype, "HEAD-OFF TARGET-OUT");
    ev[n++] = shot; /* no xG given: counts as a shot, adds nothing to xG */
    fa_event og = ev_at(1, A, FA_EV_OWN_GOAL, -1, "a2", -50, 0, NAN, NAN);
    og.goal = 1;
    ev[n++] = og;
    fa_tactical t = compute(ev, n);
    assert_near(t.team[H].xt, 0, 1e-12); /* there and back again */
    assert_near(t.players[0].xt, 0.25745362 - 0.01689528, 1e-12);
    assert_near(t.players[1].xt, -(0.25745362 - 0.01689528), 1e-12);
    assert_int_equal(t.team[H].shots, 2);
    assert_int_equal(t.team[H].shots_on_target, 2);
    assert_int_equal(t.team[H].goals, 1);
    assert_near(t.team[H].xg, 0.45, 1e-12);
    assert_int_equal(t.team[A].shots, 1);
    assert_int_equal(t.team[A].shots_on_target, 0);
    assert_int_equal(t.team[A].goals, 0); /* the own goal is nobody's shot */
    assert_near(t.team[A].xg, 0, 0);
    assert_int_equal(t.players[1].goals, 1);
    assert_near(t.players[1].xg, 0.4, 1e-12);
    fa_tactical_free(&t);

    /* The 16 x 12 grid changes the figure and the definitions say so. */
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    c.xt_nx = 16;
    c.xt_ny = 12;
    assert_int_equal(fa_tactical_compute(ev, 1, &pitch, &c, &t), 0);
    assert_non_null(strstr(t.definitions, "16x12"));
    fa_xt_grid g;
    assert_int_equal(fa_xt_grid_get(16, 12, &g), 0);
    assert_near(t.team[H].xt, fa_xt_at(&g, &pitch, 50, 0) - fa_xt_at(&g, &pitch, 0, 0), 1e-12);
    fa_tactical_free(&t);
}

static void test_pass_strings(void **state) {
    (void)state;
    fa_event ev[24];
    size_t n = 0;
    ev[n++] = pass(1, H, 1, "h1", "h2", 0, 5);
    ev[n++] = ev_at(1, H, FA_EV_CARRY, -1, "h2", 5, 0, 8, 0);
    ev[n++] = ev_at(1, A, FA_EV_PRESSURE, -1, "a1", 8, 0, NAN, NAN); /* no touch */
    ev[n++] = pass(1, H, 1, "h2", "h3", 8, 12);
    ev[n++] = pass(1, H, 1, "h3", "h1", 12, 20);
    ev[n++] = pass(1, H, 1, "h1", "h2", 20, 25); /* 4 completed */
    ev[n++] = ev_at(1, A, FA_EV_INTERCEPTION, 1, "a1", 25, 0, NAN, NAN);
    ev[n++] = pass(1, A, 1, "a1", "a2", -25, -20);
    ev[n++] = pass(1, A, 1, "a2", "a3", -20, -10);
    ev[n++] = pass(1, A, 1, "a3", "a2", -10, -5); /* 3 */
    ev[n++] = pass(1, A, 0, "a2", "", -5, -40);   /* incomplete ends it */
    ev[n++] = pass(1, H, 1, "h1", "h2", 0, 5);
    ev[n++] = pass(1, H, 1, "h2", "h3", 5, 10);                    /* 2 ... */
    ev[n++] = ev_at(1, A, FA_EV_BLOCK, -1, "a4", 10, 0, NAN, NAN); /* ... a touch ends it */
    ev[n++] = pass(1, H, 1, "h3", "h1", 10, 15);
    ev[n++] = pass(1, H, 1, "h1", "h2", 15, 20);
    ev[n++] = ev_at(1, N, FA_EV_PERIOD_END, -1, "", NAN, NAN, NAN, NAN); /* 2, ended by the period */
    ev[n++] = pass(2, H, 1, "h1", "h2", 0, -5);
    ev[n++] = pass(2, H, 1, "h2", "h3", -5, -10);
    ev[n++] = pass(2, H, 1, "h3", "h1", -10, -15); /* 3, ended by the foul */
    ev[n++] = ev_at(2, A, FA_EV_FOUL, -1, "a1", -15, 0, NAN, NAN);
    ev[n++] = pass(2, A, 1, "a1", "a2", 0, 5);
    ev[n++] = pass(2, A, 1, "a2", "a1", 5, 10); /* 2 at the end */
    fa_tactical t = compute(ev, n);
    assert_int_equal(t.team[H].pass_strings, 2);
    assert_int_equal(t.team[H].longest_string, 4);
    assert_int_equal(t.team[A].pass_strings, 1);
    assert_int_equal(t.team[A].longest_string, 3);
    fa_tactical_free(&t);
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    c.pass_string_min = 2;
    assert_int_equal(fa_tactical_compute(ev, n, &pitch, &c, &t), 0);
    assert_int_equal(t.team[H].pass_strings, 4);
    assert_int_equal(t.team[A].pass_strings, 2);
    assert_non_null(strstr(t.definitions, ">= 2 completed passes"));
    fa_tactical_free(&t);
}

static void test_bad_input(void **state) {
    (void)state;
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    fa_event ev[2] = {pass(2, H, 1, "h1", "h2", 0, 5), pass(1, H, 1, "h1", "h2", 0, 5)};
    fa_tactical t;
    assert_int_equal(fa_tactical_compute(ev, 2, &pitch, &c, &t), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "period 1 after period 2"));
    assert_null(t.players);
    assert_int_equal(fa_tactical_compute(ev, 1, NULL, &c, &t), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "no pitch"));
    fa_pitch bad = {NAN, 68};
    assert_int_equal(fa_tactical_compute(ev, 1, &bad, &c, &t), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "not a pitch"));
    c.xt_nx = 10;
    assert_int_equal(fa_tactical_compute(ev, 1, &pitch, &c, &t), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "10x8"));
    fa_analytics_config_default(&c);
    c.pass_string_min = 0;
    assert_int_equal(fa_tactical_compute(ev, 1, &pitch, &c, &t), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "pass_string_min"));
    fa_analytics_config_default(&c);
    ev[1].side = (fa_side)3;
    ev[1].period = 2;
    assert_int_equal(fa_tactical_compute(ev, 2, &pitch, &c, &t), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "side 3"));
    assert_int_equal(fa_tactical_compute(NULL, 4, &pitch, &c, &t), FA_EINVAL);
    assert_int_equal(fa_tactical_compute(ev, 1, &pitch, &c, NULL), FA_EINVAL);
    assert_int_equal(fa_tactical_compute(NULL, 0, &pitch, &c, &t), 0);
    assert_int_equal(t.team[H].passes, 0);
    fa_tactical_free(&t);
    fa_pass_network net;
    assert_int_equal(fa_pass_network_compute(ev, 1, N, &net), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "side -1"));
    assert_int_equal(fa_pass_network_compute(ev, 2, H, &net), FA_EINVAL);
    assert_null(net.nodes);
    fa_pass_network_free(&net);
}

static void test_network_constructed(void **state) {
    (void)state;
    fa_event ev[12];
    size_t n = 0;
    ev[n++] = pass(1, H, 1, "h1", "h2", -20, 0);
    ev[n++] = ev_at(1, H, FA_EV_RECEIPT, 1, "h2", 0, 0, NAN, NAN);
    ev[n++] = pass(1, H, 1, "h2", "h1", 0, -10);
    ev[n++] = pass(1, H, 1, "h1", "h2", -10, 10);
    ev[n++] = pass(1, H, 0, "h2", "", 10, 30);    /* incomplete: not an edge */
    ev[n++] = pass(1, A, 1, "a1", "a2", 0, 10);   /* the other side */
    ev[n++] = pass(2, H, 1, "h2", "h3", 10, -20); /* period 2: attacks -x, so (-10, 20) */
    fa_event sub = ev_at(2, A, FA_EV_SUBSTITUTION, -1, "a2", NAN, NAN, NAN, NAN);
    ev[n++] = sub; /* the away side's sub does not end the home window */
    sub.side = H;
    sub.t = 99;
    ev[n++] = sub;
    ev[n++] = pass(2, H, 1, "h3", "h1", 0, 0); /* after the sub: outside */
    fa_pass_network net;
    assert_int_equal(fa_pass_network_compute(ev, n, H, &net), 0);
    assert_int_equal(net.side, H);
    assert_int_equal(net.until_period, 2);
    assert_near(net.until_t, 99, 0);
    assert_int_equal(net.nnodes, 3);
    assert_string_equal(net.nodes[0].id, "h1");
    assert_int_equal(net.nodes[0].passes, 2);
    assert_near(net.nodes[0].x, -15, 1e-12); /* passes at -20 and -10 */
    assert_string_equal(net.nodes[1].id, "h2");
    assert_int_equal(net.nodes[1].passes, 2);
    assert_near(net.nodes[1].x, 0,
                1e-12); /* receipt 0, passes at 0 and 10, and 10 turned round in period 2 */
    assert_string_equal(net.nodes[2].id, "h3"); /* no event of its own: where it received */
    assert_near(net.nodes[2].x, 20, 1e-12);
    assert_int_equal(net.nedges, 3);
    assert_int_equal(net.edges[0].from, 0);
    assert_int_equal(net.edges[0].to, 1);
    assert_int_equal(net.edges[0].count, 2);
    assert_int_equal(net.edges[1].count, 1);
    assert_int_equal(net.edges[2].from, 1);
    assert_int_equal(net.edges[2].to, 2);
    fa_pass_network_free(&net);
    /* The away window ends at the away substitution. */
    assert_int_equal(fa_pass_network_compute(ev, n, A, &net), 0);
    assert_int_equal(net.until_period, 2);
    assert_int_equal(net.nnodes, 2);
    fa_pass_network_free(&net);
    assert_int_equal(fa_pass_network_compute(NULL, 0, A, &net), 0);
    assert_int_equal(net.nnodes, 0);
    assert_int_equal(net.until_period, 0);
    fa_pass_network_free(&net);
}

/* ------------------------------------------------------------------ real data */

typedef struct team_ref {
    int passes, completed, shots, goals;
    double xg;
} team_ref;

static void load(fa_collector *col, const char *provider, const char *a, const char *b) {
    const char *pa = fa_test_data(a);
    FA_TEST_REQUIRE_DATA(pa);
    fa_collector_init(col, NULL);
    int rc = strcmp(provider, "statsbomb") == 0
                 ? fa_statsbomb_import(pa, b ? fa_test_data(b) : NULL, &col->sink)
                 : fa_metrica_events_csv_import(pa, &col->sink);
    if (rc != 0) fail_msg("import %s: %s", pa, fa_err_msg());
}

static void check_reference(const fa_tactical *t, const team_ref ref[2]) {
    for (int s = 0; s < 2; s++) {
        const fa_team_tactical *tm = &t->team[s];
        assert_int_equal(tm->passes, ref[s].passes);
        assert_int_equal(tm->passes_completed, ref[s].completed);
        assert_int_equal(tm->shots, ref[s].shots);
        assert_int_equal(tm->goals, ref[s].goals);
        if (!isnan(ref[s].xg)) assert_near(tm->xg, ref[s].xg, 5e-5);
        assert_true(tm->progressive_passes <= tm->passes_completed);
        assert_true(tm->final_third_passes <= tm->passes_completed);
        assert_true(tm->shots_on_target >= tm->goals && tm->shots_on_target <= tm->shots);
        assert_true(tm->longest_string >= 3);
        /* Players add up to the team. */
        int passes = 0, completed = 0, prog = 0, shots = 0;
        double xt = 0;
        for (size_t i = 0; i < t->nplayers; i++)
            if (t->players[i].side == s) {
                passes += t->players[i].passes;
                completed += t->players[i].passes_completed;
                prog += t->players[i].progressive_passes;
                shots += t->players[i].shots;
                xt += t->players[i].xt;
            }
        assert_int_equal(passes, tm->passes);
        assert_int_equal(completed, tm->passes_completed);
        assert_int_equal(prog, tm->progressive_passes);
        assert_int_equal(shots, tm->shots);
        assert_near(xt, tm->xt, 1e-9);
    }
}

/* Figures without a provider reference, frozen after a plausibility check. */
typedef struct team_more {
    int on_target, progressive, final_third, strings, longest;
    double xt;
} team_more;

static void check_more(const char *what, const fa_tactical *t, const team_more more[2]) {
    for (int s = 0; s < 2; s++) {
        const fa_team_tactical *tm = &t->team[s];
        print_message("%s %s: passes %d/%d progressive %d final third %d shots %d (on target %d) goals %d "
                      "xG %.4f xT %.4f strings %d longest %d\n",
                      what, s ? "away" : "home", tm->passes_completed, tm->passes, tm->progressive_passes,
                      tm->final_third_passes, tm->shots, tm->shots_on_target, tm->goals, tm->xg, tm->xt,
                      tm->pass_strings, tm->longest_string);
    }
    for (int s = 0; s < 2; s++) {
        const fa_team_tactical *tm = &t->team[s];
        assert_int_equal(tm->shots_on_target, more[s].on_target);
        assert_int_equal(tm->progressive_passes, more[s].progressive);
        assert_int_equal(tm->final_third_passes, more[s].final_third);
        assert_int_equal(tm->pass_strings, more[s].strings);
        assert_int_equal(tm->longest_string, more[s].longest);
        assert_near(tm->xt, more[s].xt, 5e-5);
    }
}

/* The side's network against the events: the window ends at its first
 * substitution, edges add up to the completed passes with a recipient in it,
 * at most 11 players, positions on the pitch. */
static void check_network(const fa_collector *col, fa_side side, int max_nodes) {
    fa_pass_network net;
    assert_int_equal(fa_pass_network_compute(col->events, col->nevents, side, &net), 0);
    int completed = 0;
    size_t i = 0;
    for (; i < col->nevents && col->events[i].period <= 4; i++) {
        const fa_event *e = &col->events[i];
        if (e->kind == FA_EV_SUBSTITUTION && e->side == side) break;
        completed += e->kind == FA_EV_PASS && e->side == side && e->success == 1 && e->recipient_id[0];
    }
    if (i < col->nevents && col->events[i].kind == FA_EV_SUBSTITUTION) {
        assert_int_equal(net.until_period, col->events[i].period);
        assert_near(net.until_t, col->events[i].t, 0);
    }
    int edges = 0;
    for (size_t k = 0; k < net.nedges; k++) {
        edges += net.edges[k].count;
        assert_true(net.edges[k].from < net.nnodes && net.edges[k].to < net.nnodes);
        assert_true(net.edges[k].from != net.edges[k].to);
    }
    assert_int_equal(edges, completed);
    assert_true((int)net.nnodes <= max_nodes);
    assert_true(net.nnodes >= 10);
    size_t deepest = 0;
    for (size_t k = 0; k < net.nnodes; k++) {
        assert_true(fabs(net.nodes[k].x) <= 52.5 && fabs(net.nodes[k].y) <= 34);
        if (net.nodes[k].x < net.nodes[deepest].x) deepest = k;
    }
    print_message(
        "network %s: %zu nodes, %zu edges, %d passes, until period %d t %.1f; deepest %s at x %.1f\n",
        fa_side_name(side), net.nnodes, net.nedges, edges, net.until_period, net.until_t,
        net.nodes[deepest].id, net.nodes[deepest].x);
    /* The deepest node is the goalkeeper when the lineup says who that is. */
    for (size_t k = 0; k < col->nplayers; k++)
        if (strcmp(col->players[k].id, net.nodes[deepest].id) == 0 && col->players[k].position[0])
            assert_string_equal(col->players[k].position, "Goalkeeper");
    fa_pass_network_free(&net);
}

static void run_match(const fa_collector *col, const char *what, const team_ref ref[2],
                      const team_more more[2]) {
    fa_tactical t;
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    assert_int_equal(fa_tactical_compute(col->events, col->nevents, &col->match.pitch, &c, &t), 0);
    check_reference(&t, ref);
    check_more(what, &t, more);
    fa_tactical_free(&t);
}

static void test_statsbomb_15986(void **state) {
    (void)state;
    fa_collector col;
    load(&col, "statsbomb", "events/statsbomb/15986_event.json", "events/statsbomb/15986_lineup.json");
    const team_ref ref[2] = {{768, 701, 20, 2, 1.3065}, {380, 299, 7, 2, 0.8998}};
    /* On target 11 + 5 = the file's 4 goals + 12 saved. Longest strings 29 and 25: the most completed
     * passes in one StatsBomb possession are 33 and 25 (a possession may include opponent touches). */
    const team_more more[2] = {{11, 49, 70, 81, 29, 2.1413}, {5, 27, 12, 38, 25, 1.1539}};
    run_match(&col, "15986", ref, more);
    check_network(&col, H, 11);
    check_network(&col, A, 11);
    fa_collector_free(&col);
}

static void test_statsbomb_3788741(void **state) {
    (void)state;
    fa_collector col;
    load(&col, "statsbomb", "events/statsbomb/3788741_event.json", "events/statsbomb/3788741_lineup.json");
    const team_ref ref[2] = {{390, 307, 3, 0, 0.2307}, {669, 577, 24, 2, 1.7286}};
    /* Turkey had no shot on target; Italy's 8 = 2 goals + 6 saved. Most passes in one StatsBomb
     * possession: 22 and 34. */
    const team_more more[2] = {{0, 30, 11, 37, 22, 0.7488}, {8, 51, 49, 74, 27, 2.0416}};
    run_match(&col, "3788741", ref, more);
    check_network(&col, H, 11);
    check_network(&col, A, 11);
    fa_collector_free(&col);
}

static void test_metrica(void **state) {
    (void)state;
    const team_ref ref[3][2] = {{{0}},
                                {{437, 437, 18, 3, NAN}, {362, 362, 6, 0, NAN}},
                                {{543, 543, 13, 3, NAN}, {421, 421, 11, 2, NAN}}};
    /* On target: the subtypes with the token ON TARGET (game 1: 7 + 3, game 2: 7 + 4). */
    const team_more more[3][2] = {{{0}},
                                  {{7, 43, 28, 57, 23, 1.9155}, {3, 28, 31, 51, 15, 0.2984}},
                                  {{7, 38, 41, 59, 23, 1.3698}, {4, 37, 30, 61, 30, 1.0097}}};
    for (int game = 1; game <= 2; game++) {
        char rel[96], what[32];
        snprintf(rel, sizeof rel, "events/metrica/Sample_Game_%d_RawEventsData.csv", game);
        snprintf(what, sizeof what, "Metrica game %d", game);
        fa_collector col;
        load(&col, "metrica", rel, NULL);
        run_match(&col, what, ref[game], more[game]);
        /* Metrica's event files record no substitutions: the window is the whole match. */
        check_network(&col, H, 14);
        check_network(&col, A, 14);
        fa_collector_free(&col);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progressive_and_final_third),
        cmocka_unit_test(test_shots_and_xt),
        cmocka_unit_test(test_pass_strings),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_network_constructed),
        cmocka_unit_test(test_statsbomb_15986),
        cmocka_unit_test(test_statsbomb_3788741),
        cmocka_unit_test(test_metrica),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
