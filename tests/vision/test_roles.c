/*
 * test_roles.c - the team roles the analyze stage gives on the real
 * SoccerTrack clip (the first 8 s, NanoDet-m as the CLI runs it, the
 * calibration of tests/fixtures/soccertrack_left_calib.json as the pitch
 * map): what was wrong by eye in the overlay (docs/analyze) and is checked
 * here so it stays right. The people are found by where they stand, not by
 * track number: a box containing a point read by eye from the frames.
 *   - the referee (black kit, by the centre circle at 0 s) is a referee,
 *     not a player of the white team (the white kit's lit and shaded sides
 *     spread its observations wide enough to take in a dark kit);
 *   - the man standing on the steps left of the pitch (fixture "off_pitch")
 *     is kept out of the team model (no role, no kit observed) and is not
 *     stored as a player;
 *   - the white player running at 7 s has team A (before, half of his
 *     observations saw the lit side of the shirt, an outlier, and his
 *     track had no team); white and blue players at 0 s have their teams;
 *     the yellow goalkeeper is a goalkeeper.
 * The same kits without the calibration (every person observed, image x as
 * the position, as analyze does without a map; recorded from the run's
 * frames rather than a second pass over the video) check the colour model
 * alone: the referee and the white player at 7 s are still right.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "core/core.h"
#include "testutil.h"
#include "vision/analyze.h"
#include "vision/calib.h"

static char *tmp;

static int setup(void **state) {
    (void)state;
    fa_video_quiet();
    tmp = fa_test_tmpdir();
    return tmp ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    fa_test_rmtree(tmp);
    free(tmp);
    return 0;
}

static const char *clip(void) { return fa_test_data("video/soccertrack_left_camera.mp4"); }
static const char *model(void) { return fa_test_data("models/nanodet-m/nanodet_m_416.onnx"); }

static const char *fixture(void) {
    static char path[1024];
    const char *src = getenv("FA_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/soccertrack_left_calib.json", src ? src : ".");
    return path;
}

static void opts(fa_analyze_opts *o, const char *out, fa_calib *cal) {
    fa_analyze_opts_default(o);
    o->input = clip();
    o->out_dir = out;
    o->model = model();
    o->max_input_s = 8.0;
    o->preset = "ultrafast";
    o->hwaccel = FA_HWACCEL_NONE;
    static const int ladder[1] = {360};
    o->ladder = ladder, o->nladder = 1;
    static uint8_t classes[FA_COCO_CLASSES];
    classes[FA_COCO_PERSON] = classes[FA_COCO_SPORTS_BALL] = 1;
    o->det.classes = classes;
    o->map = fa_calib_map, o->map_user = cal;
}

/* The track whose box (feed pixels) contains source pixel (u, v) at frame
 * (-1: any frame); 0 when none. */
static int track_at(const fa_analyze_result *r, int64_t frame, double u, double v) {
    double x = u / r->scale, y = v / r->scale;
    for (size_t i = 0; i < r->tracks.n_obs; i++) {
        const fa_track_obs *ob = &r->tracks.obs[i];
        if (ob->id == FA_TRACK_BALL_ID || (frame >= 0 && ob->frame != frame)) continue;
        if (x >= ob->box[0] && x <= ob->box[2] && y >= ob->box[1] && y <= ob->box[3]) return ob->id;
    }
    return 0;
}

static fa_team_assignment role_at(const fa_analyze_result *r, fa_teams *t, const char *who, int64_t frame,
                                  double u, double v) {
    int id = track_at(r, frame, u, v);
    fa_team_assignment a = {0};
    if (!id) fail_msg("%s: no track at (%.0f, %.0f) in frame %lld", who, u, v, (long long)frame);
    assert_int_equal(fa_teams_assign(t, id, &a), 0);
    print_message("%s: track %d, %s (confidence %.2f, %d votes)\n", who, id, fa_team_role_name(a.role),
                  (double)a.confidence, a.votes);
    return a;
}

/* Every tracked person's kit as analyze describes it, by frame and detection. */
typedef struct kit_rec {
    int64_t frame;
    int det;
    float x; /* image x of the box centre */
    fa_kit_desc kit;
} kit_rec;

typedef struct recorder {
    kit_rec *v;
    size_t n, cap;
} recorder;

static int record(void *user, const fa_video_frame *f, const fa_detections *dets, const fa_track_obs *tracked,
                  size_t n) {
    recorder *rec = user;
    fa_teams_grass g;
    int rc = fa_teams_grass_estimate(f->rgb, f->width, f->height, (size_t)f->stride, &g);
    for (size_t i = 0; !rc && i < n; i++) {
        if (tracked[i].id == FA_TRACK_BALL_ID || tracked[i].det < 0) continue;
        if (fa_grow(&rec->v, &rec->cap, rec->n + 1, sizeof *rec->v)) return FA_ENOMEM;
        kit_rec *k = &rec->v[rec->n++];
        const float *box = dets->v[tracked[i].det].box;
        k->frame = f->index, k->det = tracked[i].det, k->x = (box[0] + box[2]) / 2;
        if (fa_teams_describe(f->rgb, f->width, f->height, (size_t)f->stride, box, &g, &k->kit) < 0) rc = -1;
    }
    return rc;
}

/* A team model over the recorded kits under the final track ids, fitted
 * and refined as analyze does. */
static fa_teams *colour_model(const fa_analyze_opts *o, const fa_analyze_result *r, const recorder *rec) {
    fa_teams_options to = o->teams;
    to.fps = 5;
    fa_teams *t = fa_teams_new(&to);
    assert_non_null(t);
    for (size_t i = 0; i < r->tracks.n_obs; i++) {
        const fa_track_obs *ob = &r->tracks.obs[i];
        if (ob->id == FA_TRACK_BALL_ID || ob->det < 0) continue;
        for (size_t k = 0; k < rec->n; k++)
            if (rec->v[k].frame == ob->frame && rec->v[k].det == ob->det)
                assert_int_equal(fa_teams_observe(t, ob->id, ob->frame, &rec->v[k].kit, &rec->v[k].x), 0);
    }
    assert_int_equal(fa_teams_fit(t), 0);
    assert_int_equal(fa_teams_fit(t), 0);
    return t;
}

/* The stored players: whether track-<id> is one, and its position. */
static const fa_player *stored(const fa_collector *col, int id) {
    char want[32];
    snprintf(want, sizeof want, "track-%d", id);
    for (size_t i = 0; i < col->nplayers; i++)
        if (!strcmp(col->players[i].id, want)) return &col->players[i];
    return NULL;
}

static void test_roles(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(clip());
    FA_TEST_REQUIRE_DATA(model());
    fa_calib *cal = fa_calloc(1, sizeof *cal);
    assert_non_null(cal);
    assert_int_equal(fa_calib_load(fixture(), cal), 0);
    char out[600];
    snprintf(out, sizeof out, "%s/pkg", tmp);
    fa_analyze_opts o;
    opts(&o, out, cal);
    recorder rec = {0};
    o.on_frame = record, o.on_frame_user = &rec;
    fa_analyze_result r;
    if (fa_analyze_video(&o, &r)) fail_msg("%s", fa_err_msg());
    assert_int_equal(r.frames, 40);
    assert_non_null(r.teams);
    const fa_teams_summary *s = &r.teams_summary;
    print_message("teams: A (%.1f %.1f %.1f) B (%.1f %.1f %.1f) dist %.1f separation %.2f, %d groups\n",
                  (double)s->team_lab[0][0], (double)s->team_lab[0][1], (double)s->team_lab[0][2],
                  (double)s->team_lab[1][0], (double)s->team_lab[1][1], (double)s->team_lab[1][2],
                  (double)s->centre_dist, (double)s->separation, s->n_groups);
    assert_int_equal(s->similar, 0);

    fa_team_assignment a = role_at(&r, r.teams, "referee", 0, 2749, 890); /* black kit by the centre circle */
    assert_int_equal(a.role, FA_ROLE_REFEREE);
    int spectator = track_at(&r, -1, 186, 1382); /* the fixture's off-pitch point: a man on the steps */
    assert_int_not_equal(spectator, 0);
    a = role_at(&r, r.teams, "spectator", -1, 186, 1382);
    assert_int_equal(a.role, FA_ROLE_UNKNOWN);
    assert_int_equal(a.votes, 0); /* no kit observed: off the pitch */
    a = role_at(&r, r.teams, "white, running at 7 s", 35, 2030, 1070);
    assert_int_equal(a.role, FA_ROLE_TEAM_A);
    a = role_at(&r, r.teams, "white, centre foreground", 0, 2190, 1280);
    assert_int_equal(a.role, FA_ROLE_TEAM_A);
    a = role_at(&r, r.teams, "blue #42", 0, 2500, 1480);
    assert_int_equal(a.role, FA_ROLE_TEAM_B);
    a = role_at(&r, r.teams, "goalkeeper", 35, 1305, 900);
    assert_true(a.role == FA_ROLE_GOALKEEPER_A || a.role == FA_ROLE_GOALKEEPER_B);

    fa_collector col;
    fa_collector_init(&col, NULL);
    fa_analyze_emit_opts eo = {
        .map = fa_calib_map, .map_user = cal, .team = fa_analyze_team, .team_user = &r};
    fa_analyze_emit_stats st;
    assert_int_equal(fa_analyze_emit(&o, &r, &eo, &col.sink, &st), 0);
    print_message("emitted %zu players (%zu off-pitch people left out), %zu samples (%zu off the pitch)\n",
                  st.players, st.off_pitch_people, st.samples, st.off_pitch);
    assert_null(stored(&col, spectator));
    assert_int_equal(st.off_pitch_people, 1);
    const fa_player *ref = stored(&col, track_at(&r, 0, 2749, 890));
    assert_non_null(ref);
    assert_string_equal(ref->position, "referee");
    assert_int_equal(ref->side, FA_SIDE_NONE);
    fa_collector_free(&col);

    /* the colour model alone (no calibration: the spectator observed, image x) */
    fa_teams *t = colour_model(&o, &r, &rec);
    a = role_at(&r, t, "colour only: referee", 0, 2749, 890);
    assert_int_equal(a.role, FA_ROLE_REFEREE);
    a = role_at(&r, t, "colour only: white, running at 7 s", 35, 2030, 1070);
    assert_int_equal(a.role, FA_ROLE_TEAM_A);
    a = role_at(&r, t, "colour only: blue #42", 0, 2500, 1480);
    assert_int_equal(a.role, FA_ROLE_TEAM_B);
    a = role_at(&r, t, "colour only: spectator", -1, 186, 1382);
    assert_true(a.votes > 0); /* observed this time; what his dark kit gives is not checked */
    fa_teams_free(t);
    free(rec.v);
    fa_analyze_result_free(&r);
    free(cal);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
