/*
 * test_collect.c - the collector: every callback reaches the next sink first
 * and in order, the match, players, events and tracking are kept, a refusal
 * by the next sink stops collection, and a tracking stream whose time goes
 * backwards is refused (bad input) while still reaching the next sink.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "core/core.h"
#include "ingest/ingest.h"
#include "testutil.h"

/* ------------------------------------------------------------ a recording sink */

typedef struct recorder {
    char log[4096]; /* one letter per callback: b p e f n (end) */
    size_t n;
    int fail_at; /* 1-based callback number that returns 99; 0 = never */
    int64_t last_frame;
} recorder;

static int note(recorder *r, char what) {
    if (r->n + 1 < sizeof r->log) r->log[r->n] = what;
    r->n++;
    return r->fail_at && (int)r->n == r->fail_at ? 99 : 0;
}

static int rec_begin(void *ud, const fa_match *m) {
    (void)m;
    return note(ud, 'b');
}
static int rec_player(void *ud, const fa_player *p) {
    (void)p;
    return note(ud, 'p');
}
static int rec_event(void *ud, const fa_event *e) {
    (void)e;
    return note(ud, 'e');
}
static int rec_end(void *ud, const fa_match *m) {
    (void)m;
    return note(ud, 'n');
}
static int rec_frame(void *ud, const fa_frame *f) {
    recorder *r = ud;
    r->last_frame = f->frame;
    return note(ud, 'f');
}

static fa_sink recorder_sink(recorder *r) {
    return (fa_sink){r, rec_begin, rec_player, rec_event, rec_frame, rec_end};
}

/* ------------------------------------------------------------ a small stream */

static void small_match(fa_match *m) {
    fa_match_init(m, FA_PROVIDER_METRICA);
    strcpy(m->id, "m1");
    m->frame_rate = 10;
}

static void player(fa_player *p, const char *id, fa_side side, double minutes) {
    fa_player_init(p);
    strcpy(p->id, id);
    p->side = side;
    p->minutes = minutes;
}

static void frame(fa_frame *f, fa_frame_player *pl, int64_t n, int period, double t, float x) {
    fa_frame_init(f);
    f->frame = n;
    f->period = period;
    f->t = t;
    f->ball_x = x;
    f->ball_y = 0;
    pl[0] = (fa_frame_player){"7", FA_SIDE_HOME, x, 1.0f};
    pl[1] = (fa_frame_player){"9", FA_SIDE_AWAY, -x, -1.0f};
    f->n = 2;
    f->players = pl;
}

/* Streams: begin, 2 players, 3 events, 4 frames (period 1), the same
 * player again with minutes, end with the final score. */
static int stream(const fa_sink *k, int backwards) {
    fa_match m;
    fa_player p;
    fa_event e;
    fa_frame f;
    fa_frame_player pl[2];
    small_match(&m);
    int rc = k->begin(k->ud, &m);
    player(&p, "7", FA_SIDE_HOME, NAN);
    if (!rc) rc = k->player(k->ud, &p);
    player(&p, "9", FA_SIDE_AWAY, 90);
    if (!rc) rc = k->player(k->ud, &p);
    for (int i = 0; i < 3 && !rc; i++) {
        fa_event_init(&e);
        e.seq = i;
        e.period = 1;
        e.t = i;
        e.kind = FA_EV_PASS;
        rc = k->event(k->ud, &e);
    }
    for (int i = 0; i < 4 && !rc; i++) {
        double t = backwards && i == 2 ? 0.05 : 0.1 * i;
        frame(&f, pl, 100 + i, 1, t, (float)i);
        rc = k->frame(k->ud, &f);
    }
    player(&p, "7", FA_SIDE_HOME, 45.5);
    if (!rc) rc = k->player(k->ud, &p);
    m.score[0] = 2;
    m.score[1] = 1;
    if (!rc) rc = k->end(k->ud, &m);
    return rc;
}

/* ------------------------------------------------------------ tests */

static void test_forwards_and_collects(void **state) {
    (void)state;
    recorder r = {0};
    fa_sink next = recorder_sink(&r);
    fa_collector c;
    fa_collector_init(&c, &next);
    assert_int_equal(stream(&c.sink, 0), 0);
    assert_string_equal(r.log, "bppeeeffffpn");
    assert_string_equal(c.match.id, "m1");
    assert_int_equal(c.match.score[0], 2); /* the end's final facts */
    assert_int_equal(c.match.score[1], 1);
    assert_int_equal(c.nplayers, 2); /* the repeated player replaced its first copy */
    assert_string_equal(c.players[0].id, "7");
    assert_true(c.players[0].minutes == 45.5);
    assert_true(c.players[1].minutes == 90);
    assert_int_equal(c.nevents, 3);
    assert_int_equal(c.events[2].seq, 2);
    assert_int_equal(c.has_tracking, 1);
    assert_int_equal(c.tracking_error, 0);
    assert_true(c.tracking.frame_rate == 10);
    assert_int_equal(c.tracking.nframes, 4);
    const fa_track *t7 = fa_tracking_find(&c.tracking, "7", 1);
    const fa_track *ball = fa_tracking_find(&c.tracking, FA_BALL_ID, 1);
    assert_non_null(t7);
    assert_non_null(ball);
    assert_int_equal(t7->n, 4);
    assert_true(t7->x[3] == 3.0f);
    assert_int_equal(t7->side, FA_SIDE_HOME);
    assert_null(fa_tracking_find(&c.tracking, "7", 2));
    fa_collector_free(&c);
    assert_int_equal(c.nplayers + c.nevents, 0);
    assert_int_equal(c.has_tracking, 0);
    fa_collector_free(&c); /* twice is harmless */
}

static void test_collect_only_and_default_rate(void **state) {
    (void)state;
    fa_collector c;
    fa_collector_init(&c, NULL);
    fa_match m;
    fa_frame f;
    fa_frame_player pl[2];
    small_match(&m);
    m.frame_rate = 0; /* the provider gives none: 25 Hz */
    assert_int_equal(c.sink.begin(c.sink.ud, &m), 0);
    frame(&f, pl, 1, 1, 0, 0);
    assert_int_equal(c.sink.frame(c.sink.ud, &f), 0);
    assert_true(c.tracking.frame_rate == 25);
    assert_int_equal(c.sink.end(c.sink.ud, &m), 0);
    fa_collector_free(&c);

    fa_collector_init(&c, NULL); /* no frames: no tracking */
    assert_int_equal(stream(&c.sink, 0), 0);
    fa_collector_free(&c);
    fa_collector_init(&c, NULL);
    assert_int_equal(c.sink.begin(c.sink.ud, &m), 0);
    assert_int_equal(c.sink.end(c.sink.ud, &m), 0);
    assert_int_equal(c.has_tracking, 0);
    fa_collector_free(&c);
}

static void test_next_refusal_stops_collection(void **state) {
    (void)state;
    for (int at = 1; at <= 12; at++) {
        recorder r = {.fail_at = at};
        fa_sink next = recorder_sink(&r);
        fa_collector c;
        fa_collector_init(&c, &next);
        assert_int_equal(stream(&c.sink, 0), 99);
        assert_int_equal(r.n, (size_t)at); /* nothing after the refusal */
        if (at == 2) assert_int_equal(c.nplayers, 0);
        if (at == 5) assert_int_equal(c.nevents, 1);
        if (at == 7) assert_int_equal(c.has_tracking, 0); /* the refused first frame was not kept */
        if (at == 8) assert_int_equal(c.tracking.nframes, 1);
        fa_collector_free(&c);
    }
}

static void test_backwards_time_is_refused(void **state) {
    (void)state;
    recorder r = {0};
    fa_sink next = recorder_sink(&r);
    fa_collector c;
    fa_collector_init(&c, &next);
    int rc = stream(&c.sink, 1);
    assert_int_equal(rc, FA_EINVAL);
    assert_int_equal(c.tracking_error, FA_EINVAL);
    assert_string_equal(r.log, "bppeeefff"); /* the bad frame reached the store first */
    assert_int_equal(r.last_frame, 102);
    if (!strstr(c.tracking_error_msg, "frame 102: ") || !strstr(c.tracking_error_msg, "non-monotonic"))
        fail_msg("message: %s", c.tracking_error_msg);
    assert_string_equal(fa_err_msg(), c.tracking_error_msg);
    /* once refused, every later frame is refused too */
    fa_frame f;
    fa_frame_player pl[2];
    frame(&f, pl, 200, 2, 0, 0);
    assert_int_equal(c.sink.frame(c.sink.ud, &f), FA_EINVAL);
    assert_int_equal(c.tracking.nframes, 2);
    /* and the match cannot be analysed */
    fa_analytics_config cfg;
    fa_analytics_config_default(&cfg);
    fa_aggregates a = {0};
    assert_int_equal(fa_analyze_match(&c, &cfg, &a), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "non-monotonic"));
    fa_aggregates_free(&a);
    fa_collector_free(&c);
}

/* A real tracking file through the collector: 100 frames of Metrica game 3
 * in EPTS, 50 in each period the excerpt's metadata defines; 19 of the 22
 * players have coordinates (Track_9, Track_11 and Track_22 are NaN
 * throughout), so 19 player tracks and the ball's in each period. */
static void test_real_epts(void **state) {
    (void)state;
    const char *meta = fa_test_data("tracking/metrica/epts_excerpt_metadata.xml");
    const char *track = fa_test_data("tracking/metrica/epts_excerpt_tracking.txt");
    FA_TEST_REQUIRE_DATA(track);
    recorder r = {0};
    fa_sink next = recorder_sink(&r);
    fa_collector c;
    fa_collector_init(&c, &next);
    if (fa_epts_import(meta, track, &c.sink)) fail_msg("%s", fa_err_msg());
    assert_int_equal(c.nplayers, 22);
    assert_int_equal(c.nevents, 0);
    assert_int_equal(c.tracking.nframes, 100);
    assert_int_equal(c.tracking.ntracks, 2 * (19 + 1));
    assert_true(c.tracking.frame_rate == 25);
    for (int period = 1; period <= 2; period++) {
        const fa_track *ball = fa_tracking_find(&c.tracking, FA_BALL_ID, period);
        assert_non_null(ball);
        assert_int_equal(ball->n, 50);
        assert_non_null(fa_tracking_find(&c.tracking, "Track_1", period));
        assert_null(fa_tracking_find(&c.tracking, "Track_9", period));
        assert_null(fa_tracking_find(&c.tracking, "Track_22", period));
    }
    size_t frames = 0;
    for (size_t i = 0; i < r.n && i < sizeof r.log; i++) frames += r.log[i] == 'f';
    assert_int_equal(frames, 100);
    fa_collector_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forwards_and_collects),
        cmocka_unit_test(test_collect_only_and_default_rate),
        cmocka_unit_test(test_next_refusal_stops_collection),
        cmocka_unit_test(test_backwards_time_is_refused),
        cmocka_unit_test(test_real_epts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
