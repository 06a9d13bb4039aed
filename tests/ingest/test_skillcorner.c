/*
 * test_skillcorner.c - the SkillCorner importer on the real open data (both
 * match-data layouts: 2068 and 4039 in the older one, the v3 meta data with
 * its 44-line tracking excerpt) and on small constructed files: direction
 * inference without "home_team_side", period starts from "match_periods",
 * and bad input that must fail with file:line:col and the field.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ingest/ingest.h"
#include "testutil.h"

#define SC_DIR "tracking/skillcorner/"
#define SC_2068 SC_DIR "skillcorner_2068_match_data.json"
#define SC_4039 SC_DIR "skillcorner_4039_match_data.json"
#define SC_META SC_DIR "kloppy_skillcorner_meta_data.json"
#define SC_TRACK SC_DIR "kloppy_skillcorner_v3_raw_data.jsonl"

typedef struct kept_player {
    char id[FA_ID_MAX];
    fa_side side;
    float x, y;
} kept_player;

typedef struct kept_frame {
    int64_t frame;
    int period;
    double t;
    float bx, by, bz;
    fa_side owner_side;
    int has_owner_id;
    size_t n;
    kept_player players[FA_FRAME_MAX_PLAYERS];
} kept_frame;

typedef struct collected {
    int begins, ends, order_ok;
    fa_match begin_match;
    fa_player players[64];
    size_t nplayers;
    kept_frame frames[64];
    size_t nframes;
    int players_after_frames; /* every player callback came after the last frame */
    int stop_at_frame;        /* > 0: that frame callback returns 9 */
} collected;

static int on_begin(void *ud, const fa_match *m) {
    collected *c = ud;
    c->order_ok = c->begins == 0 && c->nplayers == 0 && c->nframes == 0;
    c->begins++;
    c->begin_match = *m;
    return 0;
}

static int on_end(void *ud, const fa_match *m) {
    collected *c = ud;
    (void)m;
    c->ends++;
    return 0;
}

static int on_player(void *ud, const fa_player *p) {
    collected *c = ud;
    assert_true(c->nplayers < 64);
    c->players[c->nplayers++] = *p;
    return 0;
}

static int on_frame(void *ud, const fa_frame *f) {
    collected *c = ud;
    assert_true(c->nframes < 64);
    if (c->nplayers) c->players_after_frames = 0;
    kept_frame *k = &c->frames[c->nframes++];
    k->frame = f->frame;
    k->period = f->period;
    k->t = f->t;
    k->bx = f->ball_x;
    k->by = f->ball_y;
    k->bz = f->ball_z;
    k->owner_side = f->ball_owner_side;
    k->has_owner_id = f->ball_owner_id != NULL;
    k->n = f->n;
    for (size_t i = 0; i < f->n; i++) {
        snprintf(k->players[i].id, FA_ID_MAX, "%s", f->players[i].player_id);
        k->players[i].side = f->players[i].side;
        k->players[i].x = f->players[i].x;
        k->players[i].y = f->players[i].y;
    }
    return c->stop_at_frame > 0 && (int)c->nframes == c->stop_at_frame ? 9 : 0;
}

static fa_sink sink_for(collected *c) {
    fa_sink s = {c, on_begin, on_player, NULL, on_frame, on_end};
    return s;
}

static int run(const char *match, const char *tracking, collected *c) {
    memset(c, 0, sizeof *c);
    c->players_after_frames = 1;
    fa_sink s = sink_for(c);
    fa_err_clear();
    return fa_skillcorner_import(match, tracking, &s);
}

static void import_ok(const char *match_rel, const char *track_rel, collected *c) {
    const char *match = fa_test_data(match_rel);
    const char *track = track_rel ? fa_test_data(track_rel) : NULL;
    int rc = run(match, track, c);
    if (rc) fail_msg("import failed (%d): %s", rc, fa_err_msg());
    assert_int_equal(c->begins, 1);
    assert_int_equal(c->ends, 1);
    assert_true(c->order_ok);
}

static const fa_player *find_player(const collected *c, const char *id) {
    for (size_t i = 0; i < c->nplayers; i++)
        if (strcmp(c->players[i].id, id) == 0) return &c->players[i];
    return NULL;
}

static const kept_player *find_in_frame(const kept_frame *f, const char *id) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->players[i].id, id) == 0) return &f->players[i];
    return NULL;
}

static size_t count_side(const collected *c, fa_side side) {
    size_t n = 0;
    for (size_t i = 0; i < c->nplayers; i++) n += c->players[i].side == side;
    return n;
}

static size_t count_starters(const collected *c) {
    size_t n = 0;
    for (size_t i = 0; i < c->nplayers; i++) n += c->players[i].starter == 1;
    return n;
}

/* ------------------------------------------------------------ older layout */

static void test_match_2068(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(SC_2068));
    collected c;
    import_ok(SC_2068, NULL, &c);
    const fa_match *m = &c.begin_match;
    assert_int_equal(m->provider, FA_PROVIDER_SKILLCORNER);
    assert_string_equal(m->id, "2068");
    assert_string_equal(m->date, "2019-10-06");
    assert_string_equal(m->competition, "Serie A");
    assert_string_equal(m->season, "2019/2020");
    assert_string_equal(m->teams[FA_SIDE_HOME].id, "145");
    assert_string_equal(m->teams[FA_SIDE_HOME].name, "Inter Milan");
    assert_string_equal(m->teams[FA_SIDE_AWAY].id, "139");
    assert_string_equal(m->teams[FA_SIDE_AWAY].name, "Juventus");
    assert_int_equal(m->score[FA_SIDE_HOME], 1);
    assert_int_equal(m->score[FA_SIDE_AWAY], 2);
    assert_float_equal(m->pitch.length, 105, 0);
    assert_float_equal(m->pitch.width, 68, 0);
    assert_float_equal(m->provider_length, 105, 0);
    assert_string_equal(m->provider_unit, "m");
    assert_float_equal(m->frame_rate, 10, 0);
    assert_string_equal(m->source, "skillcorner_2068_match_data.json");
    assert_int_equal(c.nframes, 0);
    assert_int_equal(c.nplayers, 43);
    assert_int_equal(count_side(&c, FA_SIDE_HOME), 23);
    assert_int_equal(count_side(&c, FA_SIDE_AWAY), 20);
    assert_int_equal(count_starters(&c), 22);
    const fa_player *p = find_player(&c, "9972");
    assert_non_null(p);
    assert_string_equal(p->name, "Stefan de Vrij");
    assert_int_equal(p->shirt, 6);
    assert_string_equal(p->position, "Center Back");
    assert_int_equal(p->side, FA_SIDE_HOME);
    assert_int_equal(p->starter, 1);
    assert_true(isnan(p->minutes)); /* played to the end: unknown without tracking */
    p = find_player(&c, "3333");    /* Bernardeschi, 00:00:00 -> 01:01:18 */
    assert_non_null(p);
    assert_float_equal(p->minutes, 61.3, 1e-9);
    assert_int_equal(p->side, FA_SIDE_AWAY);
    p = find_player(&c, "277"); /* Rabiot, unused substitute */
    assert_non_null(p);
    assert_int_equal(p->starter, 0);
    assert_float_equal(p->minutes, 0, 0);
    assert_string_equal(p->position, "Substitute");
}

static void test_match_4039(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(SC_4039));
    collected c;
    import_ok(SC_4039, NULL, &c);
    const fa_match *m = &c.begin_match;
    assert_string_equal(m->id, "4039");
    assert_string_equal(m->date, "2020-07-02");
    assert_string_equal(m->competition, "Premier League");
    assert_string_equal(m->teams[FA_SIDE_HOME].name, "Manchester City");
    assert_string_equal(m->teams[FA_SIDE_AWAY].name, "Liverpool Football Club");
    assert_int_equal(m->score[FA_SIDE_HOME], 5);
    assert_int_equal(m->score[FA_SIDE_AWAY], 0);
    assert_int_equal(c.nplayers, 40);
    assert_int_equal(count_side(&c, FA_SIDE_HOME), 20);
    assert_int_equal(count_starters(&c), 22);
    const fa_player *p = find_player(&c, "9133"); /* Firmino, off at 01:01:35 */
    assert_non_null(p);
    assert_string_equal(p->name, "Roberto Firmino");
    assert_int_equal(p->shirt, 9);
    assert_float_equal(p->minutes, 61.0 + 35.0 / 60.0, 1e-9);
}

/* ------------------------------------------------------------ v3 layout + tracking */

static void test_v3_match_only(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(SC_META));
    collected c;
    import_ok(SC_META, NULL, &c);
    const fa_match *m = &c.begin_match;
    assert_string_equal(m->id, "1");
    assert_string_equal(m->date, "2023-08-11");
    assert_string_equal(m->competition, "Competition Name");
    assert_string_equal(m->season, "Season Name");
    assert_string_equal(m->teams[FA_SIDE_HOME].id, "3");
    assert_string_equal(m->teams[FA_SIDE_AWAY].id, "4");
    assert_int_equal(m->score[FA_SIDE_HOME], 1);
    assert_int_equal(m->score[FA_SIDE_AWAY], 0);
    assert_int_equal(c.nplayers, 42);
    assert_int_equal(count_side(&c, FA_SIDE_HOME), 22);
    assert_int_equal(count_starters(&c), 22);
    const fa_player *p = find_player(&c, "13");
    assert_non_null(p);
    assert_string_equal(p->name, "Player 1 first name Player 1 last name");
    assert_string_equal(p->position, "Left Wing Back");
    assert_int_equal(p->shirt, 26);
    assert_int_equal(p->starter, 0);
    assert_true(isnan(p->minutes));
    assert_int_equal(c.nframes, 0);
}

static void test_v3_tracking_frames(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(SC_TRACK));
    collected c;
    import_ok(SC_META, SC_TRACK, &c);
    assert_string_equal(c.begin_match.source,
                        "kloppy_skillcorner_meta_data.json,kloppy_skillcorner_v3_raw_data.jsonl");
    /* 44 lines: 10 before kick-off and 7 after the final whistle have no period. */
    size_t len;
    char *text = fa_test_read_file(fa_test_data(SC_TRACK), &len);
    assert_non_null(text);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    lines += len && text[len - 1] != '\n';
    free(text);
    assert_int_equal(lines, 44);
    assert_int_equal(c.nframes, 27);
    size_t per_period[3] = {0}, full = 0;
    float max_x = 0, max_y = 0;
    for (size_t i = 0; i < c.nframes; i++) {
        const kept_frame *f = &c.frames[i];
        assert_true(f->period == 1 || f->period == 2);
        per_period[f->period]++;
        assert_true(f->n == 0 || f->n == 22);
        full += f->n == 22;
        if (i > 0 && c.frames[i - 1].period == f->period) assert_true(f->t > c.frames[i - 1].t);
        for (size_t k = 0; k < f->n; k++) {
            max_x = fmaxf(max_x, fabsf(f->players[k].x));
            max_y = fmaxf(max_y, fabsf(f->players[k].y));
        }
    }
    /* Metres on the 105 x 68 pitch: the widest is a player 0.34 m over the touchline. */
    assert_float_equal(max_x, 43.62, 1e-4);
    assert_float_equal(max_y, 34.34, 1e-4);
    assert_int_equal(per_period[1], 13);
    assert_int_equal(per_period[2], 14);
    assert_int_equal(full, 6);
    /* t from the first frame of each period: frame 10 and frame 60977 are t = 0. */
    assert_int_equal(c.frames[0].frame, 10);
    assert_float_equal(c.frames[0].t, 0, 1e-9);
    assert_int_equal(c.frames[12].frame, 22);
    assert_float_equal(c.frames[12].t, 1.2, 1e-9);
    assert_int_equal(c.frames[13].frame, 60977);
    assert_float_equal(c.frames[13].t, 0, 1e-9);
    assert_float_equal(c.frames[26].t, 1.3, 1e-9);
    assert_true(isnan(c.frames[0].bx));
    assert_int_equal(c.frames[0].owner_side, FA_SIDE_NONE);
    /* The last period-2 line has possession group "home team" and no player. */
    assert_int_equal(c.frames[26].owner_side, FA_SIDE_HOME);
    assert_false(c.frames[26].has_owner_id);
}

/* home_team_side is ["right_to_left", "left_to_right"]: the provider frame has
 * the home team attacking -x in period 1 and +x in period 2, the opposite of
 * the model in both, so every coordinate is turned by 180 degrees. */
static void test_v3_direction(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(SC_TRACK));
    collected c;
    import_ok(SC_META, SC_TRACK, &c);
    const kept_frame *f = &c.frames[10]; /* frame 20, period 1 */
    assert_int_equal(f->frame, 20);
    const kept_player *away_gk = find_in_frame(f, "76"), *home_gk = find_in_frame(f, "133");
    assert_non_null(away_gk);
    assert_non_null(home_gk);
    assert_int_equal(home_gk->side, FA_SIDE_HOME);
    assert_float_equal(away_gk->x, 41.97, 1e-4); /* provider (-41.97, -0.61) */
    assert_float_equal(away_gk->y, 0.61, 1e-4);
    assert_float_equal(home_gk->x, -40.46, 1e-4); /* home keeper guards -x: home attacks +x */
    assert_float_equal(f->bx, 0, 1e-6);           /* provider ball (0.0, -0.31, 0.2) */
    assert_float_equal(f->by, 0.31, 1e-4);
    assert_float_equal(f->bz, 0.2, 1e-4);
    f = &c.frames[13]; /* frame 60977, period 2: home keeper now guards +x */
    home_gk = find_in_frame(f, "133");
    assert_non_null(home_gk);
    assert_float_equal(home_gk->x, 43.24, 1e-4);
    assert_float_equal(home_gk->y, 8.35, 1e-4);
    for (int k = 10; k <= 13; k += 3) {
        double mean[2] = {0, 0};
        for (size_t i = 0; i < c.frames[k].n; i++)
            mean[c.frames[k].players[i].side] += c.frames[k].players[i].x / 11;
        if (c.frames[k].period == 1)
            assert_true(mean[FA_SIDE_HOME] < mean[FA_SIDE_AWAY]);
        else
            assert_true(mean[FA_SIDE_HOME] > mean[FA_SIDE_AWAY]);
    }
}

/* Minutes run to the last tracked timestamp (01:39:16.00) when end_time is null. */
static void test_v3_minutes_and_order(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(SC_TRACK));
    collected c;
    import_ok(SC_META, SC_TRACK, &c);
    assert_int_equal(c.nplayers, 42);
    assert_true(c.players_after_frames);
    const fa_player *p = find_player(&c, "13"); /* on at 01:25:56 */
    assert_non_null(p);
    assert_float_equal(p->minutes, (5956.0 - 5156.0) / 60.0, 1e-9);
    p = find_player(&c, "25"); /* 00:00:00 -> 01:18:51 */
    assert_float_equal(p->minutes, 78.85, 1e-9);
    assert_int_equal(p->starter, 1);
    p = find_player(&c, "70"); /* the whole match */
    assert_float_equal(p->minutes, 5956.0 / 60.0, 1e-9);
    p = find_player(&c, "55"); /* unused */
    assert_float_equal(p->minutes, 0, 0);
}

/* The tracking belongs to the v3 meta data (match 1): with the match data of
 * 2068 or of 2417 (kloppy_skillcorner_match_data.json) its ids are strangers. */
static void test_wrong_match_data(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(SC_TRACK));
    static const char *const others[][2] = {{SC_2068, "2068"},
                                            {SC_DIR "kloppy_skillcorner_match_data.json", "2417"}};
    for (size_t i = 0; i < 2; i++) {
        collected c;
        int rc = run(fa_test_data(others[i][0]), fa_test_data(SC_TRACK), &c);
        assert_int_equal(rc, FA_EINVAL);
        char want[96];
        snprintf(want, sizeof want, "player_id 76 is not a player of match %s", others[i][1]);
        const char *msg = fa_err_msg();
        assert_non_null(strstr(msg, "kloppy_skillcorner_v3_raw_data.jsonl:21:442: "));
        assert_non_null(strstr(msg, want));
        assert_int_equal(c.nframes, 0);
    }
}

static void test_sink_stop_is_returned(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(SC_TRACK));
    collected c;
    memset(&c, 0, sizeof c);
    c.stop_at_frame = 3;
    fa_sink s = sink_for(&c);
    assert_int_equal(fa_skillcorner_import(fa_test_data(SC_META), fa_test_data(SC_TRACK), &s), 9);
    assert_int_equal(c.nframes, 3);
    assert_int_equal(c.ends, 0);
}

/* ------------------------------------------------------------ constructed files */

#define TEAMS                                                                                                \
    "\"id\": 7, \"home_team\": {\"id\": 1, \"name\": \"H\"}, \"away_team\": {\"id\": 2, \"name\": \"A\"}"
#define PLAYERS                                                                                              \
    "\"players\": [{\"id\": 11, \"team_id\": 1, \"number\": 1, \"start_time\": \"00:00:00\"},"               \
    " {\"id\": 12, \"team_id\": 1}, {\"id\": 21, \"team_id\": 2}, {\"id\": 22, \"team_id\": 2}]"
#define OLD_MATCH "{" TEAMS ", \"pitch_length\": 100, \"pitch_width\": 60, " PLAYERS "}"

/* A v3 line of period p at "00:MM:SS.00" with the home pair at hx and the away pair at ax. */
static void add_line(char *buf, size_t n, int64_t frame, int period, int sec, double hx, double ax) {
    size_t used = strlen(buf);
    snprintf(
        buf + used, n - used,
        "{\"frame\": %lld, \"timestamp\": \"00:%02d:%02d.00\", \"period\": %d, \"ball_data\": {\"x\": 1, "
        "\"y\": 2, \"z\": 0}, \"possession\": {\"player_id\": 21, \"group\": \"away team\"}, "
        "\"player_data\": "
        "[{\"player_id\": 11, \"x\": %g, \"y\": 3}, {\"player_id\": 12, \"x\": %g, \"y\": null}, "
        "{\"player_id\": 21, \"x\": %g, \"y\": -3}, {\"player_id\": 22, \"x\": %g, \"y\": -4}]}\n",
        (long long)frame, sec / 60, sec % 60, period, hx, hx, ax, ax);
}

typedef struct files {
    char *dir, *match, *track;
} files;

static files write_files(const char *match, const char *track) {
    files f;
    f.dir = fa_test_tmpdir();
    assert_non_null(f.dir);
    f.match = fa_test_write_file(f.dir, "match.json", match, strlen(match));
    f.track = track ? fa_test_write_file(f.dir, "track.jsonl", track, strlen(track)) : NULL;
    return f;
}

static void drop_files(files *f) {
    fa_test_rmtree(f->dir);
    free(f->dir);
    free(f->match);
    free(f->track);
}

/* No home_team_side: the direction comes from where the teams stand. */
static void test_inferred_direction(void **state) {
    (void)state;
    char track[4096] = "";
    add_line(track, sizeof track, 5, 1, 0, 30, -30); /* period 1: home on the +x half, attacks -x */
    add_line(track, sizeof track, 6, 1, 1, 29, -29);
    add_line(track, sizeof track, 900, 2, 3000, 30, -30); /* period 2: home still on +x: attacks -x */
    files f = write_files(OLD_MATCH, track);
    collected c;
    int rc = run(f.match, f.track, &c);
    if (rc) fail_msg("import failed: %s", fa_err_msg());
    assert_int_equal(c.nframes, 3);
    assert_int_equal(c.frames[0].n, 3);                                  /* player 12 has y null: left out */
    assert_float_equal(find_in_frame(&c.frames[0], "11")->x, -30, 1e-6); /* flipped */
    assert_float_equal(find_in_frame(&c.frames[0], "11")->y, -3, 1e-6);
    assert_float_equal(c.frames[0].bx, -1, 1e-6);
    assert_float_equal(c.frames[1].t, 1, 1e-9);
    assert_float_equal(find_in_frame(&c.frames[2], "11")->x, 30, 1e-6); /* period 2: not flipped */
    assert_float_equal(c.frames[2].t, 0, 1e-9);
    assert_int_equal(c.frames[0].owner_side, FA_SIDE_AWAY);
    assert_true(c.frames[0].has_owner_id);
    assert_float_equal(c.begin_match.pitch.length, 100, 0);
    /* Player 11 started and the tracking ends at 00:50:00. */
    assert_float_equal(find_player(&c, "11")->minutes, 50, 1e-9);
    drop_files(&f);
}

/* match_periods start_frame: t counts from the period's start, not its first tracked frame. */
static void test_period_start_from_match_data(void **state) {
    (void)state;
    char track[4096] = "";
    add_line(track, sizeof track, 110, 1, 65, -30, 30);
    files f = write_files("{" TEAMS ", \"home_team_side\": [\"left_to_right\", \"right_to_left\"], "
                          "\"match_periods\": [{\"period\": 1, \"start_frame\": 100}], " PLAYERS "}",
                          track);
    collected c;
    int rc = run(f.match, f.track, &c);
    if (rc) fail_msg("import failed: %s", fa_err_msg());
    assert_int_equal(c.nframes, 1);
    assert_float_equal(c.frames[0].t, 1.0, 1e-9); /* 10 frames at 10 Hz after start_frame */
    assert_float_equal(find_in_frame(&c.frames[0], "11")->x, -30, 1e-6); /* left_to_right: no flip */
    drop_files(&f);
}

typedef struct bad_case {
    const char *match, *track; /* track NULL: match data only */
    const char *where;         /* message prefix */
    const char *what;          /* substring of the message */
} bad_case;

#define LINE_OK                                                                                              \
    "{\"frame\": 1, \"timestamp\": \"00:00:00.00\", \"period\": 1, \"player_data\": [{\"player_id\": 11, "   \
    "\"x\": 1, \"y\": 1}, {\"player_id\": 21, \"x\": 2, \"y\": 1}]}\n"
#define V3_MATCH "{" TEAMS ", \"home_team_side\": [\"left_to_right\", \"right_to_left\"], " PLAYERS "}"

static void test_bad_inputs(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"[1, 2]", NULL, "match.json:1:1:", "expected the SkillCorner match data object, got array"},
        {"{" TEAMS "}", NULL, "match.json:1:1:", "missing required field 'players'"},
        {"{\"id\": 7, " PLAYERS "}", NULL, "match.json:1:1:", "missing required field 'home_team'"},
        {"{" TEAMS ", \"pitch_length\": \"105\", " PLAYERS "}", NULL,
         "match.json:1:", "field 'pitch_length': expected number"},
        {"{" TEAMS ", \"pitch_length\": 1000, " PLAYERS "}", NULL,
         "match.json:1:", "not a plausible pitch size"},
        {"{" TEAMS ", \"home_team_side\": [\"up\"], " PLAYERS "}", NULL,
         "match.json:1:", "field 'home_team_side'"},
        {"{" TEAMS ", \"date_time\": \"yesterday\", " PLAYERS "}", NULL,
         "match.json:1:", "field 'date_time'"},
        {"{" TEAMS ", \"players\": [{\"id\": 11, \"team_id\": 3}]}", NULL,
         "match.json:1:", "field 'team_id': 3 is neither"},
        {"{" TEAMS ", \"players\": [{\"id\": 11, \"team_id\": 1, \"start_time\": \"1:2\"}]}", NULL,
         "match.json:1:", "field 'start_time': expected a time"},
        {"{" TEAMS ", \"players\": [{\"id\": [11], \"team_id\": 1}]}", NULL, "match.json:1:", "field 'id'"},
        {"{" TEAMS ", \"players\": [{\"id\": 11, \"team_id\": 1}, {\"id\": 11, \"team_id\": 2}]}", NULL,
         "match.json:1:", "appears twice"},
        {"{" TEAMS ", \"players\": []} x", NULL, "match.json:1:", "unexpected data"},
        {V3_MATCH, LINE_OK "{\"timestamp\": null, \"period\": null, \"player_data\": []}\n",
         "track.jsonl:2:1:", "missing required field 'frame'"},
        {V3_MATCH, LINE_OK "{\"frame\": 2, \"timestamp\": null, \"period\": null}\n",
         "track.jsonl:2:1:", "missing required field 'player_data'"},
        {V3_MATCH, LINE_OK "{\"frame\": 2, \"player_data\": {}}\n",
         "track.jsonl:2:", "field 'player_data': expected array"},
        {V3_MATCH, "{\"frame\": 1, \"timestamp\": \"00:00:00.00\", \"period\": 9, \"player_data\": []}\n",
         "track.jsonl:1:", "field 'period': 9 out of range"},
        {V3_MATCH, "{\"frame\": -1, \"player_data\": []}\n", "track.jsonl:1:", "field 'frame'"},
        {V3_MATCH, "{\"frame\": 1, \"timestamp\": \"noon\", \"period\": 1, \"player_data\": []}\n",
         "track.jsonl:1:", "field 'timestamp': expected a time"},
        {V3_MATCH,
         "{\"frame\": 1, \"timestamp\": \"00:00:00.00\", \"period\": 1, \"player_data\": [{\"player_id\": "
         "11, "
         "\"x\": 500, \"y\": 1}]}\n",
         "track.jsonl:1:", "field 'x': 500 m is beyond"},
        {V3_MATCH,
         "{\"frame\": 1, \"timestamp\": \"00:00:00.00\", \"period\": 1, \"player_data\": [{\"player_id\": "
         "11, "
         "\"x\": \"1\", \"y\": 1}]}\n",
         "track.jsonl:1:", "field 'x': expected number"},
        {V3_MATCH,
         "{\"frame\": 1, \"timestamp\": \"00:00:00.00\", \"period\": 1, \"ball_data\": {\"x\": -300, \"y\": "
         "0}, "
         "\"player_data\": []}\n",
         "track.jsonl:1:", "field 'x': -300 m is beyond"},
        {V3_MATCH,
         LINE_OK "{\"frame\": 2, \"timestamp\": \"00:00:00.10\", \"period\": 1, \"player_data\": "
                 "[{\"player_id\": 999, "
                 "\"x\": 1, \"y\": 1}]}\n",
         "track.jsonl:2:", "player_id 999 is not a player of match 7"},
        {V3_MATCH,
         "{\"frame\": 1, \"timestamp\": \"00:00:00.00\", \"period\": 1, \"player_data\": [{\"x\": 1, \"y\": "
         "1}]}\n",
         "track.jsonl:1:", "missing required field 'player_id'"},
        {V3_MATCH,
         "{\"frame\": 1, \"timestamp\": \"00:00:00.00\", \"period\": 1, \"possession\": {\"group\": "
         "\"referee\"}, "
         "\"player_data\": []}\n",
         "track.jsonl:1:", "field 'group'"},
        {V3_MATCH,
         "{\"frame\": 5, \"timestamp\": \"00:00:05.00\", \"period\": 1, \"player_data\": []}\n"
         "{\"frame\": 6, \"timestamp\": \"00:00:04.00\", \"period\": 1, \"player_data\": []}\n",
         "track.jsonl:2:", "before the start of period 1"},
        {V3_MATCH, "42\n", "track.jsonl:1:1:", "expected a tracking frame object, got number"},
        {V3_MATCH, LINE_OK "{\"frame\": 2, \n", "track.jsonl:", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        files f = write_files(cases[i].match, cases[i].track);
        collected c;
        int rc = run(f.match, f.track, &c);
        const char *msg = fa_err_msg();
        if (rc != FA_EINVAL) fail_msg("case %zu: rc %d, message \"%s\"", i, rc, msg);
        if (strncmp(msg, cases[i].where, strlen(cases[i].where)) != 0)
            fail_msg("case %zu: message \"%s\" does not start with \"%s\"", i, msg, cases[i].where);
        if (!strstr(msg, cases[i].what))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, msg, cases[i].what);
        assert_int_equal(c.ends, 0);
        drop_files(&f);
    }
}

static void test_missing_files(void **state) {
    (void)state;
    collected c;
    int rc = run("/nonexistent/match.json", NULL, &c);
    assert_true(rc < 0);
    assert_non_null(strstr(fa_err_msg(), "match.json"));
    assert_int_equal(c.begins, 0);
    files f = write_files(V3_MATCH, NULL);
    rc = run(f.match, "/nonexistent/track.jsonl", &c);
    assert_true(rc < 0);
    assert_non_null(strstr(fa_err_msg(), "track.jsonl"));
    drop_files(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_2068),         cmocka_unit_test(test_match_4039),
        cmocka_unit_test(test_v3_match_only),      cmocka_unit_test(test_v3_tracking_frames),
        cmocka_unit_test(test_v3_direction),       cmocka_unit_test(test_v3_minutes_and_order),
        cmocka_unit_test(test_wrong_match_data),   cmocka_unit_test(test_sink_stop_is_returned),
        cmocka_unit_test(test_inferred_direction), cmocka_unit_test(test_period_start_from_match_data),
        cmocka_unit_test(test_bad_inputs),         cmocka_unit_test(test_missing_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
