/*
 * test_metrica.c - the Metrica parsers on the real sample data (events CSV
 * games 1 and 2, events JSON game 3, the tracking CSV excerpt) and on small
 * broken files made in a temporary directory.
 *
 * The figures asserted (rows, goals, shots and passes per team) are the
 * ones in shared/data/reference/event_reference_values.txt, read straight
 * from the provider files; JSON game 3 figures were counted from its file.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "core/core.h"
#include "ingest/ingest.h"

/* ------------------------------------------------------------ a recording sink */

typedef struct rec_frame {
    int64_t frame;
    int period;
    double t;
    size_t n;
    float bx, by, bz;
    struct {
        char id[FA_ID_MAX];
        fa_side side;
        float x, y;
    } p[FA_FRAME_MAX_PLAYERS];
} rec_frame;

typedef struct rec {
    fa_match begin, end;
    int nbegin, nend, order_ok;
    fa_player players[128];
    int nplayers;
    fa_event *events;
    size_t nevents, capevents;
    rec_frame *frames;
    size_t nframes, capframes;
    int stop_at_event; /* > 0: return 7 at that event */
} rec;

static int on_begin(void *ud, const fa_match *m) {
    rec *r = ud;
    r->begin = *m;
    r->nbegin++;
    return 0;
}

static int on_player(void *ud, const fa_player *p) {
    rec *r = ud;
    if (r->nbegin != 1 || r->nend) r->order_ok = 0;
    if (r->nplayers < 128) r->players[r->nplayers] = *p;
    r->nplayers++;
    return 0;
}

static int on_event(void *ud, const fa_event *e) {
    rec *r = ud;
    if (r->nbegin != 1 || r->nend) r->order_ok = 0;
    if (r->nevents == r->capevents) {
        r->capevents = r->capevents ? r->capevents * 2 : 1024;
        r->events = realloc(r->events, r->capevents * sizeof *r->events);
    }
    r->events[r->nevents++] = *e;
    return r->stop_at_event && (int)r->nevents == r->stop_at_event ? 7 : 0;
}

static int on_frame(void *ud, const fa_frame *f) {
    rec *r = ud;
    if (r->nbegin != 1 || r->nend) r->order_ok = 0;
    if (r->nframes == r->capframes) {
        r->capframes = r->capframes ? r->capframes * 2 : 64;
        r->frames = realloc(r->frames, r->capframes * sizeof *r->frames);
    }
    rec_frame *c = &r->frames[r->nframes++];
    c->frame = f->frame;
    c->period = f->period;
    c->t = f->t;
    c->n = f->n;
    c->bx = f->ball_x;
    c->by = f->ball_y;
    c->bz = f->ball_z;
    for (size_t i = 0; i < f->n && i < FA_FRAME_MAX_PLAYERS; i++) {
        snprintf(c->p[i].id, sizeof c->p[i].id, "%s", f->players[i].player_id);
        c->p[i].side = f->players[i].side;
        c->p[i].x = f->players[i].x;
        c->p[i].y = f->players[i].y;
    }
    return 0;
}

static int on_end(void *ud, const fa_match *m) {
    rec *r = ud;
    r->end = *m;
    r->nend++;
    return 0;
}

static fa_sink rec_sink(rec *r) {
    memset(r, 0, sizeof *r);
    r->order_ok = 1;
    return (fa_sink){r, on_begin, on_player, on_event, on_frame, on_end};
}

static void rec_free(rec *r) {
    free(r->events);
    free(r->frames);
}

static const fa_player *find_player(const rec *r, const char *id) {
    for (int i = 0; i < r->nplayers && i < 128; i++)
        if (strcmp(r->players[i].id, id) == 0) return &r->players[i];
    return NULL;
}

/* ------------------------------------------------------------ events: counts */

typedef struct counts {
    int shots[2], passes[2], goals[2];
    int shot_dir_bad; /* home shots at x <= 0 in odd periods or x >= 0 in even ones, away the reverse */
} counts;

static counts count_events(const rec *r) {
    counts c;
    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < r->nevents; i++) {
        const fa_event *e = &r->events[i];
        if (e->side != FA_SIDE_HOME && e->side != FA_SIDE_AWAY) continue;
        if (e->kind == FA_EV_PASS) c.passes[e->side]++;
        if (e->goal) c.goals[e->side]++;
        if (e->kind != FA_EV_SHOT) continue;
        c.shots[e->side]++;
        int home_plus = e->period % 2 == 1;
        int attacks_plus = e->side == FA_SIDE_HOME ? home_plus : !home_plus;
        if (isnan(e->x) || (attacks_plus ? e->x <= 0 : e->x >= 0)) c.shot_dir_bad++;
    }
    return c;
}

static void check_game(const char *file, const char *id, size_t rows, int gh, int ga, int sh, int sa, int ph,
                       int pa, int nplayers) {
    const char *path = fa_test_data(file);
    FA_TEST_REQUIRE_DATA(path);
    rec r;
    fa_sink sink = rec_sink(&r);
    int rc = fa_metrica_events_csv_import(path, &sink);
    assert_int_equal(rc, 0);
    assert_int_equal(r.nbegin, 1);
    assert_int_equal(r.nend, 1);
    assert_true(r.order_ok);
    assert_int_equal(r.nevents, rows);
    assert_string_equal(r.begin.id, id);
    assert_int_equal(r.begin.provider, FA_PROVIDER_METRICA);
    assert_string_equal(r.begin.teams[FA_SIDE_HOME].id, "Home");
    assert_string_equal(r.begin.teams[FA_SIDE_AWAY].name, "Away");
    assert_string_equal(r.begin.provider_unit, "unit");
    assert_int_equal(r.begin.score[FA_SIDE_HOME], gh);
    assert_int_equal(r.begin.score[FA_SIDE_AWAY], ga);
    assert_int_equal(r.end.score[FA_SIDE_HOME], gh);
    assert_int_equal(r.end.score[FA_SIDE_AWAY], ga);
    counts c = count_events(&r);
    assert_int_equal(c.goals[FA_SIDE_HOME], gh);
    assert_int_equal(c.goals[FA_SIDE_AWAY], ga);
    assert_int_equal(c.shots[FA_SIDE_HOME], sh);
    assert_int_equal(c.shots[FA_SIDE_AWAY], sa);
    assert_int_equal(c.passes[FA_SIDE_HOME], ph);
    assert_int_equal(c.passes[FA_SIDE_AWAY], pa);
    assert_int_equal(c.shot_dir_bad, 0);
    assert_int_equal(r.nplayers, nplayers);
    for (size_t i = 0; i < r.nevents; i++) {
        assert_int_equal(r.events[i].seq, (int64_t)i);
        assert_true(r.events[i].t >= 0);
    }
    rec_free(&r);
}

static void test_csv_game1_counts(void **state) {
    (void)state;
    check_game("events/metrica/Sample_Game_1_RawEventsData.csv", "Sample_Game_1", 1745, 3, 0, 18, 6, 437, 362,
               28);
}

static void test_csv_game2_counts(void **state) {
    (void)state;
    check_game("events/metrica/Sample_Game_2_RawEventsData.csv", "Sample_Game_2", 1935, 3, 2, 13, 11, 543,
               421, 26);
}

/* Game 1: home attacks raw +x in period 1, so nothing flips. */
static void test_csv_game1_fields(void **state) {
    (void)state;
    const char *path = fa_test_data("events/metrica/Sample_Game_1_RawEventsData.csv");
    FA_TEST_REQUIRE_DATA(path);
    rec r;
    fa_sink sink = rec_sink(&r);
    assert_int_equal(fa_metrica_events_csv_import(path, &sink), 0);
    const fa_event *ko = &r.events[0], *pass = &r.events[1];
    assert_int_equal(ko->kind, FA_EV_SET_PIECE);
    assert_string_equal(ko->type, "SET PIECE");
    assert_string_equal(ko->subtype, "KICK OFF");
    assert_string_equal(ko->pass_type, "Kick Off");
    assert_int_equal(ko->side, FA_SIDE_AWAY);
    assert_string_equal(ko->player_id, "Player19");
    assert_true(isnan(ko->x) && isnan(ko->duration));
    assert_int_equal(ko->period, 1);
    assert_float_equal(ko->t, 0.0, 1e-9);
    assert_int_equal(pass->kind, FA_EV_PASS);
    assert_int_equal(pass->success, 1);
    assert_string_equal(pass->recipient_id, "Player21");
    assert_string_equal(pass->pass_type, "Kick Off");
    assert_float_equal(pass->x, (0.45 - 0.5) * 105, 1e-9);
    assert_float_equal(pass->y, -(0.39 - 0.5) * 68, 1e-9);
    assert_float_equal(pass->end_x, (0.55 - 0.5) * 105, 1e-9);
    assert_float_equal(pass->end_y, -(0.43 - 0.5) * 68, 1e-9);
    assert_float_equal(pass->duration, 0.08, 1e-9);
    assert_string_equal(pass->provider_id, "2");
    /* period 2 starts at its kick-off (2885.4 s into the match) */
    size_t i = 0;
    while (r.events[i].period == 1) i++;
    assert_string_equal(r.events[i].subtype, "KICK OFF");
    assert_float_equal(r.events[i].t, 0.0, 1e-9);
    const fa_player *p9 = find_player(&r, "Player9");
    assert_non_null(p9);
    assert_int_equal(p9->side, FA_SIDE_HOME);
    assert_int_equal(p9->shirt, 9);
    assert_true(isnan(p9->minutes));
    rec_free(&r);
}

/* Game 2: home attacks raw -x in period 1, so every coordinate is rotated. */
static void test_csv_game2_flip(void **state) {
    (void)state;
    const char *path = fa_test_data("events/metrica/Sample_Game_2_RawEventsData.csv");
    FA_TEST_REQUIRE_DATA(path);
    rec r;
    fa_sink sink = rec_sink(&r);
    assert_int_equal(fa_metrica_events_csv_import(path, &sink), 0);
    const fa_event *pass = &r.events[1]; /* Away PASS 0.5,0.5 -> 0.4,0.51 */
    assert_float_equal(pass->x, 0.0, 1e-9);
    assert_float_equal(pass->end_x, (0.4 - 0.5) * -105, 1e-9);
    assert_float_equal(pass->end_y, (0.51 - 0.5) * 68, 1e-9);
    int shots = 0, won = 0, lost = 0;
    for (size_t i = 0; i < r.nevents; i++) {
        const fa_event *e = &r.events[i];
        if (e->kind == FA_EV_SHOT && e->goal) assert_int_equal(e->success, 1);
        if (e->kind == FA_EV_SHOT && !e->goal) assert_int_equal(e->success, 0);
        if (e->kind == FA_EV_SHOT && strstr(e->subtype, "HEAD")) assert_string_equal(e->body_part, "Head");
        if (e->kind == FA_EV_SHOT) shots++;
        if (e->kind == FA_EV_DUEL && e->success == 1) won++;
        if (e->kind == FA_EV_DUEL && e->success == 0) lost++;
    }
    assert_int_equal(shots, 24);
    assert_true(won > 0 && lost > 0);
    rec_free(&r);
}

/* ------------------------------------------------------------ events JSON */

static void test_json_game3(void **state) {
    (void)state;
    const char *path = fa_test_data("events/metrica/Sample_Game_3_events.json");
    FA_TEST_REQUIRE_DATA(path);
    rec r;
    fa_sink sink = rec_sink(&r);
    int rc = fa_metrica_events_json_import(path, &sink);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_true(r.order_ok);
    assert_int_equal(r.nevents, 3620);
    assert_string_equal(r.begin.id, "Sample_Game_3");
    assert_string_equal(r.begin.teams[FA_SIDE_HOME].id, "FIFATMA");
    assert_string_equal(r.begin.teams[FA_SIDE_HOME].name, "Team A");
    assert_string_equal(r.begin.teams[FA_SIDE_AWAY].id, "FIFATMB");
    assert_int_equal(r.begin.score[FA_SIDE_HOME], 0);
    assert_int_equal(r.begin.score[FA_SIDE_AWAY], 2);
    counts c = count_events(&r);
    assert_int_equal(c.shots[FA_SIDE_HOME], 9);
    assert_int_equal(c.shots[FA_SIDE_AWAY], 11);
    assert_int_equal(c.passes[FA_SIDE_HOME], 585);
    assert_int_equal(c.passes[FA_SIDE_AWAY], 536);
    assert_int_equal(c.shot_dir_bad, 0);
    assert_int_equal(r.nplayers, 35);
    const fa_player *p = find_player(&r, "P3577");
    assert_non_null(p);
    assert_string_equal(p->name, "Player 10");
    assert_int_equal(p->shirt, 10);
    assert_int_equal(p->side, FA_SIDE_HOME);
    assert_string_equal(r.events[0].provider_id, "1");
    assert_string_equal(r.events[0].subtype, "KICK OFF");
    assert_float_equal(r.events[0].t, 0.0, 1e-9);
    /* index 708: Team B goal, subtypes [ON TARGET, GOAL], start 0.86504,0.56461; rotated */
    const fa_event *g = &r.events[707];
    assert_string_equal(g->provider_id, "708");
    assert_string_equal(g->subtype, "ON TARGET-GOAL");
    assert_int_equal(g->goal, 1);
    assert_string_equal(g->outcome, "GOAL");
    assert_string_equal(g->player_id, "P3594");
    assert_float_equal(g->x, -(0.86504 - 0.5) * 105, 1e-9);
    assert_float_equal(g->y, (0.56461 - 0.5) * 68, 1e-9);
    assert_float_equal(g->t, 1101 - 14.44, 1e-9);
    rec_free(&r);
}

/* ------------------------------------------------------------ tracking CSV */

static void test_tracking_excerpt(void **state) {
    (void)state;
    const char *home = fa_test_data("tracking/metrica/csv_excerpt_home.csv");
    const char *away = fa_test_data("tracking/metrica/csv_excerpt_away.csv");
    FA_TEST_REQUIRE_DATA(home);
    rec r;
    fa_sink sink = rec_sink(&r);
    int rc = fa_metrica_tracking_import(home, away, &sink);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_true(r.order_ok);
    assert_string_equal(r.begin.id, "csv_excerpt");
    assert_float_equal(r.begin.frame_rate, 25.0, 1e-9);
    assert_int_equal(r.nplayers, 28);
    assert_int_equal(find_player(&r, "Player11")->shirt, 11);
    assert_int_equal(find_player(&r, "Player25")->side, FA_SIDE_AWAY);
    assert_int_equal(r.nframes, 6);
    static const int64_t frames[6] = {1, 2, 3, 145004, 145005, 145006};
    for (size_t i = 0; i < 6; i++) {
        const rec_frame *f = &r.frames[i];
        assert_int_equal(f->frame, frames[i]);
        assert_int_equal(f->period, i < 3 ? 1 : 2);
        assert_float_equal(f->t, (double)(i % 3) * 0.04, 1e-9);
        assert_int_equal(f->n, 22);
        assert_true(isnan(f->bz));
        for (size_t k = 0; k < f->n; k++) {
            assert_true(fabsf(f->p[k].x) <= 52.5f && fabsf(f->p[k].y) <= 34.0f);
        }
    }
    /* frame 1: ball at raw (0.45472, 0.38709), no flip; home keeper at raw x 0.00082 */
    assert_float_equal(r.frames[0].bx, (0.45472 - 0.5) * 105, 1e-4);
    assert_float_equal(r.frames[0].by, -(0.38709 - 0.5) * 68, 1e-4);
    assert_true(isnan(r.frames[3].bx));
    assert_string_equal(r.frames[0].p[0].id, "Player11");
    assert_float_equal(r.frames[0].p[0].x, (0.00082 - 0.5) * 105, 1e-4);
    /* period 2: the home keeper stands at raw x 0.90492: home defends +x, as the model wants */
    assert_string_equal(r.frames[3].p[0].id, "Player11");
    assert_float_equal(r.frames[3].p[0].x, (0.90492 - 0.5) * 105, 1e-4);
    double home_x = 0;
    int nh = 0;
    for (size_t k = 0; k < r.frames[0].n; k++)
        if (r.frames[0].p[k].side == FA_SIDE_HOME) home_x += r.frames[0].p[k].x, nh++;
    assert_int_equal(nh, 11);
    assert_true(home_x / nh < 0); /* home in its own half at kick-off */
    rec_free(&r);
}

/* ------------------------------------------------------------ bad input */

typedef struct tmp {
    char *dir;
} tmp;

static int setup_tmp(void **state) {
    tmp *t = calloc(1, sizeof *t);
    t->dir = fa_test_tmpdir();
    *state = t;
    return t->dir ? 0 : -1;
}

static int teardown_tmp(void **state) {
    tmp *t = *state;
    fa_test_rmtree(t->dir);
    free(t->dir);
    free(t);
    return 0;
}

#define EV_HEADER                                                                                       \
    "Team,Type,Subtype,Period,Start Frame,Start Time [s],End Frame,End Time [s],From,To,Start X,Start " \
    "Y,End "                                                                                            \
    "X,End Y\n"
#define EV_ROW1 "Home,PASS,,1,1,0.04,3,0.12,Player1,Player2,0.45,0.39,0.55,0.43\n"

/* Imports text as an events CSV; expects FA_EINVAL (or code) and a message holding each needle. */
static void expect_csv_error(tmp *t, const char *text, int code, const char *needle1, const char *needle2) {
    char *path = fa_test_write_file(t->dir, "bad.csv", text, strlen(text));
    rec r;
    fa_sink sink = rec_sink(&r);
    fa_err_clear();
    int rc = fa_metrica_events_csv_import(path, &sink);
    if (rc != code || !strstr(fa_err_msg(), needle1) || (needle2 && !strstr(fa_err_msg(), needle2)))
        print_message("rc=%d msg=%s\n", rc, fa_err_msg());
    assert_int_equal(rc, code);
    assert_non_null(strstr(fa_err_msg(), needle1));
    if (needle2) assert_non_null(strstr(fa_err_msg(), needle2));
    assert_int_equal(r.nbegin, 0); /* the first pass rejects the file before anything is emitted */
    rec_free(&r);
    free(path);
}

static void test_csv_bad(void **state) {
    tmp *t = *state;
    expect_csv_error(t, "", FA_EINVAL, "bad.csv", "empty");
    expect_csv_error(t, "Team,Type\nHome,PASS\n", FA_EINVAL, "bad.csv:1:", "missing column 'Subtype'");
    expect_csv_error(t, EV_HEADER EV_ROW1 "Home,PASS,,1,5,0.2,6\n", FA_EINVAL, "bad.csv:3:", "columns");
    expect_csv_error(t, EV_HEADER "Home,PASS,,1,1,0.04,3,0.12,P1,P2,abc,0.39,0.55,0.43\n", FA_EINVAL,
                     "bad.csv:2: column 11:", "expected a number");
    expect_csv_error(t, EV_HEADER "Home,PASS,,7,1,0.04,3,0.12,P1,P2,0.4,0.39,0.55,0.43\n", FA_EINVAL,
                     "bad.csv:2: column 4:", "Period");
    expect_csv_error(t, EV_HEADER "Home,PASS,,1,1,0.04,3,0.12,P1,P2,0.4,5.5,0.55,0.43\n", FA_EINVAL,
                     "bad.csv:2: column 12:", "outside");
    expect_csv_error(t, EV_HEADER "Home,PASS,,1,1,0.04,3,0.12,P1,P2,0.4,1e308,0.55,0.43\n", FA_EINVAL,
                     "bad.csv:2: column 12:", NULL);
    expect_csv_error(t, EV_HEADER "Home,PASS,,1,-1,0.04,3,0.12,P1,P2,0.4,0.3,0.55,0.43\n", FA_EINVAL,
                     "bad.csv:2: column 5:", "Start Frame");
    expect_csv_error(t, EV_HEADER "Home,PASS,,1,9,0.36,10,0.4,P1,P2,0.4,0.3,0.55,0.43\n" EV_ROW1, FA_EINVAL,
                     "bad.csv:3: column 5:", "before the previous");
    expect_csv_error(t, EV_HEADER "Neutral,PASS,,1,1,0.04,3,0.12,P1,P2,0.4,0.3,0.55,0.43\n", FA_EINVAL,
                     "bad.csv:2: column 1:", "Home");
    expect_csv_error(t, EV_HEADER "Home,PASS,,1,1,nan,3,0.12,P1,P2,0.4,0.3,0.55,0.43\n", FA_EINVAL,
                     "bad.csv:2: column 6:", "seconds");
    expect_csv_error(t, EV_HEADER "Home,PA\xff\xfeSS,,1,1,0.04,3,0.12,P1,P2,0.4,0.3,0.55,0.43\n", FA_EINVAL,
                     "bad.csv:2", "UTF-8");
    expect_csv_error(t, EV_HEADER "Home,PASS,,1,1,0.04,3,0.12,P1,P2,0.4,0.3,0.55,\"0.43\n", FA_EINVAL,
                     "bad.csv", NULL);
}

static void test_csv_missing_file(void **state) {
    tmp *t = *state;
    char path[4200];
    snprintf(path, sizeof path, "%s/nope.csv", t->dir);
    rec r;
    fa_sink sink = rec_sink(&r);
    assert_int_equal(fa_metrica_events_csv_import(path, &sink), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "nope.csv"));
    assert_int_equal(fa_metrica_events_csv_import(t->dir, &sink), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "directory"));
}

/* The smallest good file, and a sink that stops the parse. */
static void test_csv_small_and_stop(void **state) {
    tmp *t = *state;
    const char *text =
        EV_HEADER EV_ROW1 "Away,SHOT,HEAD-ON TARGET-GOAL,1,9,0.36,10,0.4,Player20,,0.1,0.5,0,0.5\n"
                          "\n";
    char *path = fa_test_write_file(t->dir, "tiny_RawEventsData.csv", text, strlen(text));
    rec r;
    fa_sink sink = rec_sink(&r);
    assert_int_equal(fa_metrica_events_csv_import(path, &sink), 0);
    assert_string_equal(r.begin.id, "tiny");
    assert_int_equal(r.nevents, 2);
    assert_int_equal(r.begin.score[FA_SIDE_AWAY], 1);
    /* the away shot at raw x 0.1 says away attacks raw -x: home attacks +x, no flip */
    assert_float_equal(r.events[1].x, -0.4 * 105, 1e-9);
    assert_string_equal(r.events[1].body_part, "Head");
    assert_int_equal(r.nplayers, 3);
    rec_free(&r);
    sink = rec_sink(&r);
    r.stop_at_event = 1;
    assert_int_equal(fa_metrica_events_csv_import(path, &sink), 7);
    assert_int_equal(r.nevents, 1);
    assert_int_equal(r.nend, 0);
    rec_free(&r);
    free(path);
}

static void expect_json_error(tmp *t, const char *text, const char *needle1, const char *needle2) {
    char *path = fa_test_write_file(t->dir, "bad.json", text, strlen(text));
    rec r;
    fa_sink sink = rec_sink(&r);
    fa_err_clear();
    int rc = fa_metrica_events_json_import(path, &sink);
    if (rc != FA_EINVAL || !strstr(fa_err_msg(), needle1) || (needle2 && !strstr(fa_err_msg(), needle2)))
        print_message("rc=%d msg=%s\n", rc, fa_err_msg());
    assert_int_equal(rc, FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), needle1));
    if (needle2) assert_non_null(strstr(fa_err_msg(), needle2));
    assert_int_equal(r.nbegin, 0);
    rec_free(&r);
    free(path);
}

#define JEV(team, period, frame, x, subtypes)                                                        \
    "{\"index\":1,\"team\":{\"name\":\"T\",\"id\":\"" team "\"},\"type\":{\"name\":\"PASS\"},"       \
    "\"subtypes\":" subtypes ",\"start\":{\"frame\":" #frame ",\"time\":1.0,\"x\":" x ",\"y\":0.5}," \
    "\"end\":null,\"period\":" #period ",\"from\":{\"name\":\"Player 4\",\"id\":\"P4\"},\"to\":null}"

static void test_json_bad(void **state) {
    tmp *t = *state;
    expect_json_error(t, "{\"data\": [" JEV("A", 1, 5, "0.5", "null"), "bad.json", NULL);
    expect_json_error(t, "{\"meta\": 1}", "bad.json", "no 'data'");
    expect_json_error(t, "[1]", "bad.json:1:2:", "expected an object");
    expect_json_error(t, "{\"data\": [" JEV("A", 0, 5, "0.5", "null") "]}", "bad.json:1:", "period");
    expect_json_error(t, "{\"data\": [" JEV("A", 1, 5, "7.5", "null") "]}", "bad.json:1:", "outside");
    expect_json_error(t, "{\"data\": [" JEV("A", 1, 5, "\"x\"", "null") "]}", "bad.json:1:", "field 'x'");
    expect_json_error(t, "{\"data\": [" JEV("A", 1, 5, "0.5", "3") "]}", "bad.json:1:", "subtypes");
    expect_json_error(t, "{\"data\": [" JEV("A", 1, 5, "0.5", "[{\"id\":3}]") "]}", "bad.json:1:", "'name'");
    expect_json_error(t, "{\"data\": [" JEV("A", 1, 9, "0.5", "null") "," JEV("A", 1, 5, "0.5", "null") "]}",
                      "bad.json:1:", "before the previous");
    expect_json_error(t,
                      "{\"data\": [" JEV("A", 1, 5, "0.5", "null") "," JEV("B", 1, 6, "0.5", "null") "," JEV(
                          "C", 1, 7, "0.5", "null") "]}",
                      "bad.json:1:", "third team");
    expect_json_error(t, "{\"data\": [" JEV("A\xff", 1, 5, "0.5", "null") "]}", "bad.json:1:", NULL);
    expect_json_error(t, "{\"data\": []} x", "bad.json:1:", NULL);
}

static void test_json_small(void **state) {
    tmp *t = *state;
    const char *text =
        "{\"data\": [" JEV("A", 1, 5, "0.25", "[{\"name\":\"CROSS\"},{\"name\":\"HEAD\"}]") "," JEV(
            "B", 2, 6, "0.75", "{\"name\":\"DEEP BALL\"}") "], \"metadata\": [1, 2]}";
    char *path = fa_test_write_file(t->dir, "g_events.json", text, strlen(text));
    rec r;
    fa_sink sink = rec_sink(&r);
    int rc = fa_metrica_events_json_import(path, &sink);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_string_equal(r.begin.id, "g");
    assert_int_equal(r.nevents, 2);
    assert_string_equal(r.events[0].subtype, "CROSS-HEAD");
    assert_string_equal(r.events[1].subtype, "DEEP BALL");
    assert_int_equal(r.events[1].side, FA_SIDE_AWAY);
    assert_true(isnan(r.events[0].end_x) && isnan(r.events[0].duration));
    assert_int_equal(r.nplayers, 1); /* P4 plays for A (first seen) */
    rec_free(&r);
    free(path);
}

/* ------------------------------------------------------------ tracking: bad input */

#define TK_HOME_HEAD ",,,Home,,Home,,,\n,,,1,,2,,,\nPeriod,Frame,Time [s],Player1,,Player2,,Ball,\n"
#define TK_AWAY_HEAD ",,,Away,,Away,,,\n,,,3,,4,,,\nPeriod,Frame,Time [s],Player3,,Player4,,Ball,\n"
#define TK_ROW(p, f, t, x) #p "," #f "," #t "," x ",0.5,0.4,0.5,0.5,0.5\n"

static void expect_tracking(tmp *t, const char *home, const char *away, int code, const char *n1,
                            const char *n2, size_t frames) {
    char *hp = fa_test_write_file(t->dir, "m_home.csv", home, strlen(home));
    char *ap = fa_test_write_file(t->dir, "m_away.csv", away, strlen(away));
    rec r;
    fa_sink sink = rec_sink(&r);
    fa_err_clear();
    int rc = fa_metrica_tracking_import(hp, ap, &sink);
    if (rc != code || (n1 && !strstr(fa_err_msg(), n1)) || (n2 && !strstr(fa_err_msg(), n2)))
        print_message("rc=%d msg=%s\n", rc, fa_err_msg());
    assert_int_equal(rc, code);
    if (n1) assert_non_null(strstr(fa_err_msg(), n1));
    if (n2) assert_non_null(strstr(fa_err_msg(), n2));
    assert_int_equal(r.nframes, frames);
    rec_free(&r);
    free(hp);
    free(ap);
}

static void test_tracking_bad(void **state) {
    tmp *t = *state;
    const char *h1 = TK_HOME_HEAD TK_ROW(1, 1, 0.04, "0.3") TK_ROW(1, 2, 0.08, "0.3");
    const char *a1 = TK_AWAY_HEAD TK_ROW(1, 1, 0.04, "0.7") TK_ROW(1, 2, 0.08, "0.7");
    expect_tracking(t, h1, a1, 0, NULL, NULL, 2);
    expect_tracking(t, h1, TK_AWAY_HEAD TK_ROW(1, 1, 0.04, "0.7") TK_ROW(1, 3, 0.12, "0.7"), FA_EINVAL,
                    "m_home.csv:5 and m_away.csv:5", "frame mismatch", 1);
    expect_tracking(t, h1, TK_AWAY_HEAD TK_ROW(1, 1, 0.04, "0.7"), FA_EINVAL, "m_home.csv:5 and m_away.csv",
                    "m_away.csv ends", 1);
    expect_tracking(t, h1, TK_AWAY_HEAD TK_ROW(1, 1, 0.04, "abc") TK_ROW(1, 2, 0.08, "0.7"), FA_EINVAL,
                    "m_away.csv:4: column 4:", "number", 0);
    expect_tracking(t, h1, TK_AWAY_HEAD TK_ROW(1, 1, 0.04, "-3") TK_ROW(1, 2, 0.08, "0.7"), FA_EINVAL,
                    "m_away.csv:4: column 4:", "outside", 0);
    expect_tracking(t, h1, TK_HOME_HEAD TK_ROW(1, 1, 0.04, "0.7"), FA_EINVAL,
                    "m_away.csv:1: column 4:", "expected \"Away\"", 0);
    expect_tracking(t, h1, TK_AWAY_HEAD "1,1,0.04,0.7,0.5\n", FA_EINVAL, "m_away.csv:4:", "columns", 0);
    expect_tracking(t, TK_HOME_HEAD TK_ROW(9, 1, 0.04, "0.3"), a1, FA_EINVAL,
                    "m_home.csv:4: column 1:", "Period", 0);
    expect_tracking(t, TK_HOME_HEAD TK_ROW(1, 2, 0.08, "0.3") TK_ROW(1, 1, 0.04, "0.3"),
                    TK_AWAY_HEAD TK_ROW(1, 2, 0.08, "0.7") TK_ROW(1, 1, 0.04, "0.7"), FA_EINVAL,
                    "m_home.csv:5:", "does not follow", 1);
    expect_tracking(t, h1,
                    ",,,Away,,Away,,,\n,,,3,,4,,,\nPeriod,Frame,Time [s],Player1,,Player4,,Ball,\n" TK_ROW(
                        1, 1, 0.04, "0.7"),
                    FA_EINVAL, "m_away.csv:3:", "Player1", 0);
    expect_tracking(t, TK_HOME_HEAD TK_ROW(1, 1, 0.08, "0.3") TK_ROW(1, 2, 0.04, "0.3"),
                    TK_AWAY_HEAD TK_ROW(1, 1, 0.08, "0.7") TK_ROW(1, 2, 0.04, "0.7"), FA_EINVAL,
                    "m_home.csv:5: column 3:", "goes back", 1);
    expect_tracking(t, h1, ",,,Away,,Away,,,\n,,,x,,4,,,\n", FA_EINVAL, "m_away.csv:2: column 4:", "shirt",
                    0);
    expect_tracking(t, h1, ",,,Away,,Away,,,\n", FA_EINVAL, "m_away.csv", "jersey", 0);
}

/* Home stands right of away in period 1: every frame is rotated. */
static void test_tracking_flip(void **state) {
    tmp *t = *state;
    const char *home = TK_HOME_HEAD TK_ROW(1, 10, 0.4, "0.9") TK_ROW(2, 20, 0.8, "0.2");
    const char *away = TK_AWAY_HEAD TK_ROW(1, 10, 0.4, "0.2") TK_ROW(2, 20, 0.8, "0.9");
    char *hp = fa_test_write_file(t->dir, "f_home.csv", home, strlen(home));
    char *ap = fa_test_write_file(t->dir, "f_away.csv", away, strlen(away));
    rec r;
    fa_sink sink = rec_sink(&r);
    assert_int_equal(fa_metrica_tracking_import(hp, ap, &sink), 0);
    assert_int_equal(r.nframes, 2);
    /* period 1: home mean x 0.65, away 0.30: home attacks raw -x, so rotate */
    assert_float_equal(r.frames[0].p[0].x, -(0.9 - 0.5) * 105, 1e-4);
    assert_float_equal(r.frames[0].p[0].y, 0.0, 1e-4);
    assert_float_equal(r.frames[0].t, 0.0, 1e-9);
    /* period 2: home 0.30, away 0.65: home attacks raw +x where the model wants -x: rotate */
    assert_float_equal(r.frames[1].p[0].x, -(0.2 - 0.5) * 105, 1e-4);
    assert_float_equal(r.frames[1].t, 0.0, 1e-9);
    assert_float_equal(r.begin.frame_rate, 25.0, 1e-9);
    rec_free(&r);
    free(hp);
    free(ap);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_game1_counts),
        cmocka_unit_test(test_csv_game2_counts),
        cmocka_unit_test(test_csv_game1_fields),
        cmocka_unit_test(test_csv_game2_flip),
        cmocka_unit_test(test_json_game3),
        cmocka_unit_test(test_tracking_excerpt),
        cmocka_unit_test_setup_teardown(test_csv_bad, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_csv_missing_file, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_csv_small_and_stop, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_json_bad, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_json_small, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_tracking_bad, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_tracking_flip, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
