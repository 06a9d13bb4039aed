/*
 * test_lastrow.c - the Last-Row tracking parser on the real clip
 * (LIV_2-1_CHE.csv: 21 objects x 195 frames, rows grouped by object) and on
 * small broken files made in a temporary directory.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "core/core.h"
#include "ingest/ingest.h"

/* ------------------------------------------------------------ a recording sink */

#define REC_MAX_PLAYERS 64

typedef struct rec_frame {
    int64_t frame;
    int period;
    double t;
    size_t n, nhome, naway;
    float bx, by, bz;
    float p12x, p12y; /* player "12" (LIV #10), NAN when absent */
    float minx, maxx, miny, maxy;
} rec_frame;

typedef struct rec {
    fa_match begin, end;
    int nbegin, nend, order_ok;
    fa_player players[REC_MAX_PLAYERS];
    int nplayers;
    rec_frame *frames;
    size_t nframes, capframes;
} rec;

static int on_begin(void *ud, const fa_match *m) {
    rec *r = ud;
    r->begin = *m;
    r->nbegin++;
    return 0;
}

static int on_player(void *ud, const fa_player *p) {
    rec *r = ud;
    if (r->nbegin != 1 || r->nframes || r->nend) r->order_ok = 0;
    if (r->nplayers < REC_MAX_PLAYERS) r->players[r->nplayers] = *p;
    r->nplayers++;
    return 0;
}

static void rec_players(rec_frame *c, const fa_frame *f) {
    c->p12x = c->p12y = NAN;
    c->minx = c->miny = INFINITY;
    c->maxx = c->maxy = -INFINITY;
    for (size_t i = 0; i < f->n; i++) {
        const fa_frame_player *p = &f->players[i];
        if (p->side == FA_SIDE_HOME) c->nhome++;
        if (p->side == FA_SIDE_AWAY) c->naway++;
        if (strcmp(p->player_id, "12") == 0) c->p12x = p->x, c->p12y = p->y;
        c->minx = fminf(c->minx, p->x);
        c->maxx = fmaxf(c->maxx, p->x);
        c->miny = fminf(c->miny, p->y);
        c->maxy = fmaxf(c->maxy, p->y);
    }
}

static int on_frame(void *ud, const fa_frame *f) {
    rec *r = ud;
    if (r->nbegin != 1 || r->nend) r->order_ok = 0;
    if (r->nframes == r->capframes) {
        r->capframes = r->capframes ? r->capframes * 2 : 64;
        r->frames = realloc(r->frames, r->capframes * sizeof *r->frames);
    }
    rec_frame *c = &r->frames[r->nframes++];
    memset(c, 0, sizeof *c);
    c->frame = f->frame;
    c->period = f->period;
    c->t = f->t;
    c->n = f->n;
    c->bx = f->ball_x;
    c->by = f->ball_y;
    c->bz = f->ball_z;
    rec_players(c, f);
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
    return (fa_sink){r, on_begin, on_player, NULL, on_frame, on_end};
}

static const fa_player *find_player(const rec *r, const char *id) {
    for (int i = 0; i < r->nplayers && i < REC_MAX_PLAYERS; i++)
        if (strcmp(r->players[i].id, id) == 0) return &r->players[i];
    return NULL;
}

/* ------------------------------------------------------------ the real clip */

static void test_clip_match(void **state) {
    (void)state;
    const char *path = fa_test_data("tracking/lastrow/LIV_2-1_CHE.csv");
    FA_TEST_REQUIRE_DATA(path);
    assert_int_equal(fa_ingest_sniff(path), FA_FILE_LASTROW_TRACKING);
    assert_string_equal(fa_file_kind_name(FA_FILE_LASTROW_TRACKING), "lastrow-tracking");
    assert_int_equal(fa_file_kind_provider(FA_FILE_LASTROW_TRACKING), FA_PROVIDER_LASTROW);
    assert_string_equal(fa_provider_name(FA_PROVIDER_LASTROW), "lastrow");
    rec r;
    fa_sink sink = rec_sink(&r);
    int rc = fa_lastrow_import(path, &sink);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_true(r.order_ok);
    assert_int_equal(r.nbegin, 1);
    assert_int_equal(r.nend, 1);
    assert_int_equal(r.begin.provider, FA_PROVIDER_LASTROW);
    assert_string_equal(r.begin.id, "LIV_2-1_CHE");
    assert_string_equal(r.begin.source, "LIV_2-1_CHE.csv");
    assert_string_equal(r.begin.teams[FA_SIDE_HOME].name, "LIV");
    assert_string_equal(r.begin.teams[FA_SIDE_AWAY].name, "CHE");
    assert_int_equal(r.begin.score[FA_SIDE_HOME], 2);
    assert_int_equal(r.begin.score[FA_SIDE_AWAY], 1);
    assert_float_equal(r.begin.frame_rate, 20.0, 1e-12);
    assert_float_equal(r.begin.pitch.length, 105.0, 1e-12);
    assert_float_equal(r.begin.pitch.width, 68.0, 1e-12);
    assert_string_equal(r.begin.provider_unit, "percent");
    /* 20 players (the ball "0" is not one): 10 attackers first seen as "12" (#10), then defenders */
    assert_int_equal(r.nplayers, 20);
    assert_string_equal(r.players[0].id, "12");
    assert_int_equal(r.players[0].shirt, 10);
    assert_int_equal(r.players[0].side, FA_SIDE_HOME);
    assert_string_equal(r.players[0].name, "12");
    assert_true(isnan(r.players[0].minutes));
    const fa_player *p1214 = find_player(&r, "1214"), *gk = find_player(&r, "3343");
    assert_non_null(p1214);
    assert_int_equal(p1214->shirt, 9);
    assert_non_null(gk);
    assert_int_equal(gk->side, FA_SIDE_AWAY);
    assert_int_equal(gk->shirt, -1);
    assert_null(find_player(&r, "0"));
    free(r.frames);
}

static void test_clip_frames(void **state) {
    (void)state;
    const char *path = fa_test_data("tracking/lastrow/LIV_2-1_CHE.csv");
    FA_TEST_REQUIRE_DATA(path);
    rec r;
    fa_sink sink = rec_sink(&r);
    assert_int_equal(fa_lastrow_import(path, &sink), 0);
    assert_int_equal(r.nframes, 195);
    for (size_t i = 0; i < r.nframes; i++) {
        const rec_frame *f = &r.frames[i];
        assert_int_equal(f->frame, (int64_t)i);
        assert_int_equal(f->period, 1);
        assert_float_equal(f->t, (double)i / 20.0, 1e-12);
        assert_int_equal(f->n, 20);
        assert_int_equal(f->nhome, 10);
        assert_int_equal(f->naway, 10);
        /* everyone on the pitch (the keeper stands on his line: within 1 m of it) */
        assert_true(f->minx >= -52.5f - 1 && f->maxx <= 52.5f + 1);
        assert_true(f->miny >= -34.0f - 1 && f->maxy <= 34.0f + 1);
        assert_false(isnan(f->bx));
        assert_true(isnan(f->bz));
    }
    /* frame 0: ball at raw (42.986, 97.734), rotated 180 degrees: home attacks +x */
    assert_float_equal(r.frames[0].bx, 7.3645, 1e-3);
    assert_float_equal(r.frames[0].by, -32.4590, 1e-3);
    assert_float_equal(r.frames[0].p12x, 13.9677, 1e-3);
    assert_float_equal(r.frames[0].p12y, -26.3905, 1e-3);
    /* frame 194: the ball is in the goal, 0.71 m behind the +x goal line, 0.71 m off centre */
    assert_float_equal(r.frames[194].bx, 53.2143, 1e-3);
    assert_float_equal(r.frames[194].by, 0.7143, 1e-3);
    assert_float_equal(r.frames[194].p12x, 44.7670, 1e-3);
    free(r.frames);
}

/* The import plan takes the file on its own. */
static void test_plan(void **state) {
    (void)state;
    const char *path = fa_test_data("tracking/lastrow/LIV_2-1_CHE.csv");
    FA_TEST_REQUIRE_DATA(path);
    fa_ingest_plan plan;
    assert_int_equal(fa_ingest_plan_make(&path, 1, FA_PROVIDER_UNKNOWN, &plan), 0);
    assert_int_equal(plan.njobs, 1);
    assert_int_equal(plan.jobs[0].kind, FA_FILE_LASTROW_TRACKING);
    assert_int_equal(plan.jobs[0].nfiles, 1);
    fa_ingest_plan_free(&plan);
    assert_int_equal(fa_ingest_plan_make(&path, 1, FA_PROVIDER_STATSBOMB, &plan), FA_EINVAL);
}

/* ------------------------------------------------------------ small files */

#define HEADER "player,frame,x,y,z,dx,dy,coords,player_num,player_obj,team,num,name,edgecolor,bgcolor\n"

static int run_text(const char *name, const char *text, rec *r) {
    char *dir = fa_test_tmpdir();
    char *path = fa_test_write_file(dir, name, text, strlen(text));
    fa_sink sink = rec_sink(r);
    int rc = fa_lastrow_import(path, &sink);
    fa_test_rmtree(dir);
    free(dir);
    free(path);
    return rc;
}

/* Rows grouped by frame instead of by object, no stem score, a named player,
 * a missing position: frames still come out whole and in order. */
static void test_small_by_frame(void **state) {
    (void)state;
    rec r;
    int rc = run_text("clip.csv",
                      HEADER "0,1,50,50,0.0,0,0,,,,,,,,\n"
                             "7,1,75,50,,0,0,,7.0,7.0,attack,,Mo,white,red\n"
                             "8,1,25,50,,0,0,,,8.0,defense,,,white,blue\n"
                             "0,0,50,50,0.0,0,0,,,,,,,,\n"
                             "7,0,,,,0,0,,7.0,7.0,attack,,Mo,white,red\n"
                             "8,0,0,0,,0,0,,,8.0,defense,,,white,blue\n",
                      &r);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_string_equal(r.begin.id, "clip");
    assert_string_equal(r.begin.teams[FA_SIDE_HOME].name, "Attack");
    assert_string_equal(r.begin.teams[FA_SIDE_AWAY].id, "defense");
    assert_int_equal(r.begin.score[0], -1);
    assert_int_equal(r.nplayers, 2);
    assert_string_equal(r.players[0].name, "Mo");
    assert_int_equal(r.players[0].shirt, 7);
    assert_int_equal(r.nframes, 2);
    assert_int_equal(r.frames[0].frame, 0);
    assert_int_equal(r.frames[0].n, 1); /* "7" has no position in frame 0 */
    /* raw (0, 0), the attackers' target corner, rotated: the +x end, the y = +34 touchline */
    assert_float_equal(r.frames[0].maxx, 52.5, 1e-4);
    assert_float_equal(r.frames[0].maxy, 34.0, 1e-4);
    assert_int_equal(r.frames[1].n, 2);
    assert_float_equal(r.frames[1].t, 0.05, 1e-12);
    assert_true(isnan(r.frames[1].p12x)); /* no "12" here */
    free(r.frames);
}

static void expect_bad(const char *text, int code, const char *msg) {
    rec r;
    int rc = run_text("bad.csv", text, &r);
    if (rc != code || !strstr(fa_err_msg(), msg))
        fail_msg("want %d '%s', got %d '%s'", code, msg, rc, fa_err_msg());
    assert_int_equal(r.nbegin, 0); /* nothing is emitted from a bad file */
    free(r.frames);
}

static void test_bad_inputs(void **state) {
    (void)state;
    expect_bad("", FA_EINVAL, "empty");
    expect_bad(HEADER, FA_EINVAL, "bad.csv:2: no data rows");
    expect_bad("player,frame,x,y\n0,0,1,2\n", FA_EINVAL, "column 'team' missing");
    expect_bad(HEADER "0,zero,50,50,,,,,,,,,,,\n", FA_EINVAL, "bad.csv:2: column 2: 'frame'");
    expect_bad(HEADER "0,-1,50,50,,,,,,,,,,,\n", FA_EINVAL, "'frame'");
    expect_bad(HEADER "0,0,abc,50,,,,,,,,,,,\n", FA_EINVAL, "column 3: expected a number");
    expect_bad(HEADER "0,0,500,50,,,,,,,,,,,\n", FA_EINVAL, "'x': 500 outside");
    expect_bad(HEADER "0,0,50,,,,,,,,,,,,\n", FA_EINVAL, "one is empty");
    expect_bad(HEADER "0,0,50,50,,,,,,,,,,\n", FA_EINVAL, "expected 15 fields");
    expect_bad(HEADER "0,0,50,50,,,,,,,keeper,,,,\n", FA_EINVAL, "column 11: 'team': expected");
    expect_bad(HEADER "0,0,50,50,,,,,,,,,,,\n1,0,50,50,,,,,,,,,,,\n", FA_EINVAL, "already the ball");
    expect_bad(HEADER "5,0,50,50,,,,,,,attack,,,,\n5,1,50,50,,,,,,,defense,,,,\n", FA_EINVAL, "changes team");
    expect_bad(HEADER "5,0,50,50,,,,,,,attack,,,,\n5,0,51,50,,,,,,,attack,,,,\n", FA_EINVAL,
               "bad.csv:3: object \"5\" appears twice in frame 0 (first at line 2)");
    expect_bad(HEADER "5,0,50,50,,,,,9.5,,attack,,,,\n", FA_EINVAL, "'player_num'");
    expect_bad(HEADER ",0,50,50,,,,,,,attack,,,,\n", FA_EINVAL, "'player': expected an id");
    expect_bad(HEADER "0,0,\"50,50,,,,,,,,,,,\n", FA_EINVAL, "bad.csv");
}

/* More than 64 players, and more than the row bound: FA_EINVAL / FA_ELIMIT. */
static void test_limits(void **state) {
    (void)state;
    fa_buf b = {0};
    fa_buf_puts(&b, HEADER);
    for (int i = 0; i < 66; i++) fa_buf_printf(&b, "%d,0,50,50,,,,,,,attack,,,,\n", i + 1);
    expect_bad(b.data, FA_EINVAL, "bad.csv:66: column 1: more than 64 players");
    fa_buf_reset(&b); /* 64 players and the ball are fine */
    fa_buf_puts(&b, HEADER "0,0,50,50,,,,,,,,,,,\n");
    for (int i = 0; i < 64; i++)
        fa_buf_printf(&b, "%d,0,50,50,,,,,,,%s,,,,\n", i + 1, i % 2 ? "attack" : "defense");
    rec r;
    assert_int_equal(run_text("full.csv", b.data, &r), 0);
    assert_int_equal(r.nplayers, 64);
    assert_int_equal(r.frames[0].n, 64);
    free(r.frames);
    fa_buf_reset(&b);
    fa_buf_puts(&b, HEADER);
    for (int i = 0; i <= 100000; i++) fa_buf_printf(&b, "%d,%d,50,50,,,,,,,attack,,,,\n", 1 + i % 20, i / 20);
    expect_bad(b.data, FA_ELIMIT, "more than 100000 rows");
    fa_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip_match), cmocka_unit_test(test_clip_frames),
        cmocka_unit_test(test_plan),       cmocka_unit_test(test_small_by_frame),
        cmocka_unit_test(test_bad_inputs), cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
