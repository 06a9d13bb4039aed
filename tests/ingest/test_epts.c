/*
 * test_epts.c - the FIFA EPTS parser on Metrica's excerpt (metadata + 100
 * frame lines), on the full game 3 metadata with a few hand-made lines (eleven
 * DataFormatSpecifications, real period boundaries, right_to_left), and on
 * small broken files made in a temporary directory.
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
    fa_player players[64];
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
    if (r->nplayers < 64) r->players[r->nplayers] = *p;
    r->nplayers++;
    return 0;
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
    return (fa_sink){r, on_begin, on_player, NULL, on_frame, on_end};
}

static void rec_free(rec *r) { free(r->frames); }

static const fa_player *find_player(const rec *r, const char *id) {
    for (int i = 0; i < r->nplayers && i < 64; i++)
        if (strcmp(r->players[i].id, id) == 0) return &r->players[i];
    return NULL;
}

/* ------------------------------------------------------------ the excerpt */

static void test_excerpt(void **state) {
    (void)state;
    const char *meta = fa_test_data("tracking/metrica/epts_excerpt_metadata.xml");
    const char *track = fa_test_data("tracking/metrica/epts_excerpt_tracking.txt");
    FA_TEST_REQUIRE_DATA(meta);
    rec r;
    fa_sink sink = rec_sink(&r);
    int rc = fa_epts_import(meta, track, &sink);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_true(r.order_ok);
    assert_int_equal(r.nbegin, 1);
    assert_int_equal(r.nend, 1);
    assert_string_equal(r.begin.id, "epts_excerpt");
    assert_string_equal(r.begin.source, "epts_excerpt_metadata.xml,epts_excerpt_tracking.txt");
    assert_int_equal(r.begin.provider, FA_PROVIDER_METRICA);
    assert_float_equal(r.begin.frame_rate, 25.0, 1e-9);
    assert_float_equal(r.begin.pitch.length, 105.0, 1e-9);
    assert_float_equal(r.begin.pitch.width, 68.0, 1e-9);
    assert_string_equal(r.begin.teams[FA_SIDE_HOME].id, "TEAM_A");
    assert_string_equal(r.begin.teams[FA_SIDE_HOME].name, "Team A");
    assert_string_equal(r.begin.teams[FA_SIDE_AWAY].id, "TEAM_B");
    assert_int_equal(r.begin.score[FA_SIDE_HOME], -1);
    assert_int_equal(r.nplayers, 22);
    const fa_player *p1 = find_player(&r, "Track_1"), *p12 = find_player(&r, "Track_12");
    assert_non_null(p1);
    assert_non_null(p12);
    assert_int_equal(p1->side, FA_SIDE_HOME);
    assert_int_equal(p1->shirt, 1);
    assert_string_equal(p1->name, "Track_1");
    assert_int_equal(p12->side, FA_SIDE_AWAY);
    /* 100 lines (the last has no newline): frames 450..499 and 650..699 */
    assert_int_equal(r.nframes, 100);
    for (size_t i = 0; i < r.nframes; i++) {
        const rec_frame *f = &r.frames[i];
        assert_int_equal(f->frame, i < 50 ? 450 + (int64_t)i : 600 + (int64_t)i);
        assert_int_equal(f->period, i < 50 ? 1 : 2);
        assert_float_equal(f->t, (double)(i % 50) / 25.0, 1e-9);
        assert_true(f->n >= 18 && f->n <= 22);
        assert_true(isnan(f->bz));
        for (size_t k = 0; k < f->n; k++)
            assert_true(fabsf(f->p[k].x) <= 52.5f + 1 && fabsf(f->p[k].y) <= 34.0f + 1);
    }
    /* frame 450: 19 of 22 players tracked; Track_1 first at raw (0.30602, 0.97029);
     * TEAM_A attacks left_to_right in the first half: no rotation */
    const rec_frame *f = &r.frames[0];
    assert_int_equal(f->n, 19);
    assert_string_equal(f->p[0].id, "Track_1");
    assert_int_equal(f->p[0].side, FA_SIDE_HOME);
    assert_float_equal(f->p[0].x, (0.30602 - 0.5) * 105, 1e-4);
    assert_float_equal(f->p[0].y, -(0.97029 - 0.5) * 68, 1e-4);
    assert_float_equal(f->bx, (0.52867 - 0.5) * 105, 1e-4);
    assert_float_equal(f->by, -(0.70690 - 0.5) * 68, 1e-4);
    rec_free(&r);
}

/* The excerpt with the directions swapped: every frame is rotated. */
static void test_excerpt_swapped_direction(void **state) {
    const char *meta = fa_test_data("tracking/metrica/epts_excerpt_metadata.xml");
    const char *track = fa_test_data("tracking/metrica/epts_excerpt_tracking.txt");
    FA_TEST_REQUIRE_DATA(meta);
    char *dir = *state;
    size_t len;
    char *xml = fa_test_read_file(meta, &len);
    assert_non_null(xml);
    char *a = strstr(xml, "left_to_right"), *b = strstr(xml, "right_to_left");
    assert_non_null(a);
    assert_non_null(b);
    memcpy(a, "right_to_left", 13);
    memcpy(b, "left_to_right", 13);
    char *path = fa_test_write_file(dir, "swapped_metadata.xml", xml, len);
    rec r;
    fa_sink sink = rec_sink(&r);
    assert_int_equal(fa_epts_import(path, track, &sink), 0);
    assert_int_equal(r.nframes, 100);
    assert_string_equal(r.begin.id, "swapped");
    assert_float_equal(r.frames[0].p[0].x, -(0.30602 - 0.5) * 105, 1e-4);
    assert_float_equal(r.frames[0].p[0].y, (0.97029 - 0.5) * 68, 1e-4);
    assert_float_equal(r.frames[50].bx, -(0.52867 - 0.5) * 105, 1e-4);
    rec_free(&r);
    free(path);
    free(xml);
}

/* ------------------------------------------------------------ game 3 metadata */

/* A line for the full game 3 layout: 22 players x,y then the ball x,y. */
static void game3_line(char *out, size_t size, long frame, double x) {
    size_t n = (size_t)snprintf(out, size, "%ld:", frame);
    for (int k = 0; k < 22; k++) n += (size_t)snprintf(out + n, size - n, "%s%.2f,0.5", k ? ";" : "", x);
    snprintf(out + n, size - n, ":0.5,0.25\n");
}

static void test_game3_metadata(void **state) {
    const char *meta = fa_test_data("tracking/metrica/Sample_Game_3_metadata.xml");
    FA_TEST_REQUIRE_DATA(meta);
    char *dir = *state;
    /* 1 and 69661 end the first half; 69662 starts the second and the second
     * specification (player set) starts at 69662 too; 143762 is past the end */
    static const long frames[] = {1, 69661, 69662, 89698, 143761};
    char text[8192] = "", line[1024];
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        game3_line(line, sizeof line, frames[i], 0.25);
        strcat(text, line);
    }
    char *track = fa_test_write_file(dir, "g3_tracking.txt", text, strlen(text));
    rec r;
    fa_sink sink = rec_sink(&r);
    int rc = fa_epts_import(meta, track, &sink);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_string_equal(r.begin.id, "Sample_Game_3");
    assert_string_equal(r.begin.teams[FA_SIDE_HOME].id, "FIFATMA");
    assert_string_equal(r.begin.competition, "Demo");
    assert_int_equal(r.begin.score[FA_SIDE_HOME], 0);
    assert_int_equal(r.begin.score[FA_SIDE_AWAY], 2);
    assert_int_equal(r.nplayers, 35);
    assert_int_equal(find_player(&r, "P3578")->shirt, 11);
    assert_int_equal(r.nframes, 5);
    assert_int_equal(r.frames[0].period, 1);
    assert_float_equal(r.frames[0].t, 0.0, 1e-9);
    assert_int_equal(r.frames[1].period, 1);
    assert_float_equal(r.frames[1].t, 69660 / 25.0, 1e-9);
    assert_int_equal(r.frames[2].period, 2);
    assert_float_equal(r.frames[2].t, 0.0, 1e-9);
    assert_int_equal(r.frames[4].period, 2);
    /* FIFATMA attacks right_to_left in the first half: rotated in both halves */
    for (size_t i = 0; i < r.nframes; i++) {
        assert_int_equal(r.frames[i].n, 22);
        assert_float_equal(r.frames[i].p[0].x, (0.25 - 0.5) * -105, 1e-4);
        assert_float_equal(r.frames[i].by, (0.25 - 0.5) * 68, 1e-4);
    }
    /* the first specification starts with P3578 (FIFATMA); the one from 89698 on
     * lists its players in another order: check both resolve to known players */
    assert_string_equal(r.frames[0].p[0].id, "P3578");
    for (size_t k = 0; k < r.frames[3].n; k++) assert_non_null(find_player(&r, r.frames[3].p[k].id));
    rec_free(&r);
    free(track);
}

/* ------------------------------------------------------------ small files */

#define META_HEAD                                                                                            \
    "<?xml version=\"1.0\" "                                                                                 \
    "encoding=\"utf-8\"?>\n<main>\n<Metadata>\n<GlobalConfig>\n<FrameRate>25</FrameRate>\n"                  \
    "<ProviderGlobalParameters>\n"                                                                           \
    "<ProviderParameter><Name>first_half_start</Name><Value>1</Value></ProviderParameter>\n"                 \
    "<ProviderParameter><Name>first_half_end</Name><Value>10</Value></ProviderParameter>\n"                  \
    "<ProviderParameter><Name>second_half_start</Name><Value>20</Value></ProviderParameter>\n"               \
    "<ProviderParameter><Name>second_half_end</Name><Value/></ProviderParameter>\n"                          \
    "</ProviderGlobalParameters>\n</GlobalConfig>\n"                                                         \
    "<Sessions><Session id=\"s\"><MatchParameters><Score idLocalTeam=\"A\" idVisitingTeam=\"B\">"            \
    "<LocalTeamScore>1</LocalTeamScore><VisitingTeamScore>0</VisitingTeamScore></Score></MatchParameters>\n" \
    "<FieldSize><Width>100</Width><Height>60</Height></FieldSize></Session></Sessions>\n"                    \
    "<Teams>\n<Team id=\"B\"><Name>Beta</Name></Team>\n"                                                     \
    "<Team id=\"A\"><Name>Alpha</Name><ProviderTeamsParameters><ProviderParameter>"                          \
    "<Name>attack_direction_first_half</Name><Value>right_to_left</Value></ProviderParameter>"               \
    "</ProviderTeamsParameters></Team>\n</Teams>\n"
#define META_PLAYERS                                                                                    \
    "<Players>\n<Player id=\"a1\" teamId=\"A\"><Name>Ann</Name><ShirtNumber>7</ShirtNumber></Player>\n" \
    "<Player id=\"b1\" teamId=\"B\"><Name>Bob</Name><ShirtNumber>9</ShirtNumber></Player>\n</Players>\n"
#define META_CHANNELS                                                         \
    "<Devices><Device id=\"d\"><Sensors><Sensor id=\"position\"><Channels>\n" \
    "<Channel id=\"x\"><Name>position_x</Name></Channel><Channel "            \
    "id=\"y\"><Name>position_y</Name></Channel>\n"                            \
    "<Channel id=\"s\"><Name>speed</Name></Channel>\n"                        \
    "</Channels></Sensor></Sensors></Device></Devices>\n<PlayerChannels>\n"   \
    "<PlayerChannel channelId=\"x\" id=\"a1_x\" playerId=\"a1\"/>\n"          \
    "<PlayerChannel channelId=\"y\" id=\"a1_y\" playerId=\"a1\"/>\n"          \
    "<PlayerChannel channelId=\"s\" id=\"a1_s\" playerId=\"a1\"/>\n"          \
    "<PlayerChannel channelId=\"y\" id=\"b1_y\" playerId=\"b1\"/>\n"          \
    "<PlayerChannel channelId=\"x\" id=\"b1_x\" playerId=\"b1\"/>\n</PlayerChannels>\n</Metadata>\n"
#define META_SPEC                                                                                       \
    "<DataFormatSpecifications>\n<DataFormatSpecification separator=\":\" startFrame=\"1\" "            \
    "endFrame=\"30\">\n"                                                                                \
    "<StringRegister name=\"frameCount\"/>\n<SplitRegister separator=\";\">\n"                          \
    "<SplitRegister separator=\",\"><PlayerChannelRef playerChannelId=\"a1_x\"/>"                       \
    "<PlayerChannelRef playerChannelId=\"a1_y\"/><PlayerChannelRef "                                    \
    "playerChannelId=\"a1_s\"/></SplitRegister>\n"                                                      \
    "<SplitRegister separator=\",\"><PlayerChannelRef playerChannelId=\"b1_y\"/>"                       \
    "<PlayerChannelRef playerChannelId=\"b1_x\"/></SplitRegister>\n</SplitRegister>\n"                  \
    "<SplitRegister separator=\",\"><BallChannelRef channelId=\"x\"/><BallChannelRef channelId=\"y\"/>" \
    "</SplitRegister>\n</DataFormatSpecification>\n</DataFormatSpecifications>\n</main>\n"
#define META_OK META_HEAD META_PLAYERS META_CHANNELS META_SPEC
#define TRACK_OK                                                                                          \
    "1:0.75,0.5,3.2;0.5,0.25:0.5,0.25\n\n5:0.7,0.5,NaN;NaN,NaN:NaN,NaN\r\n15:0.5,0.5,1;0.5,0.5:0.5,0.5\n" \
    "20:0.25,0.5,1;0.75,0.5:0.5,0.5"

static int run_small(const char *dir, const char *meta, const char *track, rec *r) {
    char *mp = fa_test_write_file(dir, "s_metadata.xml", meta, strlen(meta));
    char *tp = fa_test_write_file(dir, "s_tracking.txt", track, strlen(track));
    fa_sink sink = rec_sink(r);
    fa_err_clear();
    int rc = fa_epts_import(mp, tp, &sink);
    free(mp);
    free(tp);
    return rc;
}

static void test_small_good(void **state) {
    rec r;
    int rc = run_small(*state, META_OK, TRACK_OK, &r);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_string_equal(r.begin.teams[FA_SIDE_HOME].id, "A"); /* the local team, though listed second */
    assert_string_equal(r.begin.teams[FA_SIDE_AWAY].name, "Beta");
    assert_int_equal(r.begin.score[FA_SIDE_HOME], 1);
    assert_int_equal(r.begin.score[FA_SIDE_AWAY], 0);
    assert_float_equal(r.begin.pitch.length, 100.0, 1e-9);
    assert_float_equal(r.begin.pitch.width, 60.0, 1e-9);
    assert_int_equal(r.nplayers, 2);
    assert_string_equal(find_player(&r, "a1")->name, "Ann");
    assert_int_equal(find_player(&r, "b1")->shirt, 9);
    /* frame 15 is half-time: skipped; period 2 has no end: runs on */
    assert_int_equal(r.nframes, 3);
    assert_int_equal(r.frames[0].n, 2);
    /* A attacks right_to_left: rotated; a1 at raw 0.75 -> -25 m (own half) */
    assert_float_equal(r.frames[0].p[0].x, -25.0, 1e-4);
    assert_int_equal(r.frames[0].p[0].side, FA_SIDE_HOME);
    /* b1's channels come y first: "0.5,0.25" is raw (0.25, 0.5) -> rotated (25, 0) */
    assert_float_equal(r.frames[0].p[1].x, 25.0, 1e-4);
    assert_float_equal(r.frames[0].p[1].y, 0.0, 1e-4);
    assert_float_equal(r.frames[0].by, -15.0, 1e-4);
    assert_int_equal(r.frames[1].n, 1);
    assert_float_equal(r.frames[1].t, 4 / 25.0, 1e-9);
    assert_true(isnan(r.frames[1].bx));
    assert_int_equal(r.frames[2].frame, 20);
    assert_int_equal(r.frames[2].period, 2);
    assert_float_equal(r.frames[2].t, 0.0, 1e-9);
    assert_float_equal(r.frames[2].p[0].x, 25.0, 1e-4);
    rec_free(&r);
}

static void expect_error(const char *dir, const char *meta, const char *track, const char *n1,
                         const char *n2) {
    rec r;
    int rc = run_small(dir, meta, track, &r);
    if (rc != FA_EINVAL || !strstr(fa_err_msg(), n1) || (n2 && !strstr(fa_err_msg(), n2)))
        print_message("rc=%d msg=%s\n", rc, fa_err_msg());
    assert_int_equal(rc, FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), n1));
    if (n2) assert_non_null(strstr(fa_err_msg(), n2));
    rec_free(&r);
}

static void test_bad_metadata(void **state) {
    const char *dir = *state;
    char buf[16384];
    /* truncated */
    snprintf(buf, sizeof buf, "%.*s", (int)(strlen(META_OK) - 40), META_OK);
    expect_error(dir, buf, TRACK_OK, "s_metadata.xml:", "XML error");
    expect_error(dir, "", TRACK_OK, "s_metadata.xml:1:", "XML error");
    expect_error(dir, "<main><Metadata>\xff</Metadata></main>", TRACK_OK, "s_metadata.xml:1:", "XML error");
    expect_error(dir, "<!DOCTYPE main [<!ENTITY a \"b\">]><main/>", TRACK_OK, "s_metadata.xml:1:", "DOCTYPE");
    expect_error(dir, "<main/>", TRACK_OK, "s_metadata.xml", "FrameRate");
    /* a player of an unknown team, a channel of an unknown player, an unknown channel ref */
    snprintf(buf, sizeof buf, "%s%s%s%s", META_HEAD,
             "<Players><Player id=\"a1\" teamId=\"Z\"/><Player id=\"b1\" teamId=\"B\"/></Players>\n",
             META_CHANNELS, META_SPEC);
    expect_error(dir, buf, TRACK_OK, "s_metadata.xml:19:", "unknown teamId 'Z'");
    snprintf(buf, sizeof buf, "%s%s", META_HEAD META_PLAYERS META_CHANNELS,
             "<DataFormatSpecifications><DataFormatSpecification separator=\":\"><StringRegister "
             "name=\"frameCount\"/>"
             "<PlayerChannelRef "
             "playerChannelId=\"zz\"/></DataFormatSpecification></DataFormatSpecifications></main>");
    expect_error(dir, buf, TRACK_OK, "s_metadata.xml:", "unknown playerChannelId 'zz'");
    snprintf(buf, sizeof buf, "%s%s", META_HEAD META_PLAYERS META_CHANNELS,
             "<DataFormatSpecifications><DataFormatSpecification separator=\":\">"
             "<PlayerChannelRef "
             "playerChannelId=\"a1_x\"/></DataFormatSpecification></DataFormatSpecifications></main>");
    expect_error(dir, buf, TRACK_OK, "s_metadata.xml:", "frameCount");
    snprintf(buf, sizeof buf, "%s%s", META_HEAD META_PLAYERS META_CHANNELS,
             "<DataFormatSpecifications><DataFormatSpecification "
             "separator=\"1\"/></DataFormatSpecifications></main>");
    expect_error(dir, buf, TRACK_OK, "s_metadata.xml:", "separator");
    char *alt = strdup(META_OK);
    memcpy(strstr(alt, "playerId=\"b1\""), "playerId=\"c1\"", 13);
    expect_error(dir, alt, TRACK_OK, "s_metadata.xml:", "unknown playerId 'c1'");
    free(alt);
    alt = strdup(META_OK);
    memcpy(strstr(alt, "<FrameRate>25<"), "<FrameRate>-5<", 14);
    expect_error(dir, alt, TRACK_OK, "s_metadata.xml:5:", "FrameRate");
    free(alt);
}

static void test_bad_tracking(void **state) {
    const char *dir = *state;
    expect_error(dir, META_OK, "1:0.75,0.5,1;0.5,0.25:0.5,0.25\n2:0.75,abc,1;0.5,0.25:0.5,0.25\n",
                 "s_tracking.txt:2: column 8:", "coordinate");
    expect_error(dir, META_OK, "1:0.75,0.5,1;0.5,0.25:0.5,4.0\n",
                 "s_tracking.txt:1: column 27:", "coordinate");
    expect_error(dir, META_OK, "1:0.75,0.5,1;0.5:0.5,0.25\n", "s_tracking.txt:1:", "expected more fields");
    expect_error(dir, META_OK, "1:0.75,0.5,1;0.5,0.2;0.1,0.1:0.5,0.25\n",
                 "s_tracking.txt:1: column 21:", "more than 2 fields");
    expect_error(dir, META_OK, "1:0.75,0.5,1;0.5,0.25:0.5,0.25:9\n", "s_tracking.txt:1:", "more than");
    expect_error(dir, META_OK, "2:0.75,0.5,1;0.5,0.25:0.5,0.25\n2:0.75,0.5,1;0.5,0.25:0.5,0.25\n",
                 "s_tracking.txt:2:", "does not follow");
    expect_error(dir, META_OK, "31:0.75,0.5,1;0.5,0.25:0.5,0.25\n", "s_tracking.txt:1:", "outside every");
    expect_error(dir, META_OK, "x1:0.75,0.5,1;0.5,0.25:0.5,0.25\n", "s_tracking.txt:1:", "frame number");
    expect_error(dir, META_OK, "-1:0.75,0.5,1;0.5,0.25:0.5,0.25\n", "s_tracking.txt:1:", "frame number");
    expect_error(dir, META_OK, "1:0.75,0.5,1;0.5,0.\xc3\x28:0.5,0.25\n",
                 "s_tracking.txt:1: column 20:", "UTF-8");
    char nul[] = "1:0.75,0.5,1;0.5,0.25:0.5,0.2X\n";
    *strchr(nul, 'X') = '\0';
    char *mp = fa_test_write_file(dir, "n_metadata.xml", META_OK, strlen(META_OK));
    char *tp = fa_test_write_file(dir, "n_tracking.txt", nul, sizeof nul - 1);
    rec r;
    fa_sink sink = rec_sink(&r);
    assert_int_equal(fa_epts_import(mp, tp, &sink), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "NUL"));
    rec_free(&r);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/none.txt", dir);
    sink = rec_sink(&r);
    assert_int_equal(fa_epts_import(mp, missing, &sink), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "none.txt"));
    assert_int_equal(r.nbegin, 0);
    rec_free(&r);
    free(mp);
    free(tp);
}

static int setup_tmp(void **state) {
    *state = fa_test_tmpdir();
    return *state ? 0 : -1;
}

static int teardown_tmp(void **state) {
    fa_test_rmtree(*state);
    free(*state);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_excerpt),
        cmocka_unit_test_setup_teardown(test_excerpt_swapped_direction, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_game3_metadata, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_small_good, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_bad_metadata, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_bad_tracking, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
