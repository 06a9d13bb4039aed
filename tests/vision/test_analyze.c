/*
 * test_analyze.c - the analyze stage (vision/analyze.h) on the real
 * SoccerTrack clip: one transcode pass whose detector feed detects and
 * tracks, then the tracks streamed as provider tracking through a
 * collector. The pitch mapping here is a fixed scale (pixels / 20 as
 * metres, the image's top half refused) so the stage is checked apart
 * from calibration (calib.h has its own tests; e2e.analyze runs both).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analytics/analytics.h"
#include "core/core.h"
#include "testutil.h"
#include "video/image.h"
#include "vision/analyze.h"

static char *tmp;

static int setup(void **state) {
    (void)state;
    fa_video_quiet();
    tmp = fa_test_tmpdir();
    return tmp ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    int rc = system(cmd);
    free(tmp);
    return rc == 0 ? 0 : -1;
}

static const char *clip(void) { return fa_test_data("video/soccertrack_left_camera.mp4"); }
static const char *model(void) { return fa_test_data("models/fastestdet/FastestDet.onnx"); }

static void opts(fa_analyze_opts *o, const char *out) {
    fa_analyze_opts_default(o);
    o->input = clip();
    o->out_dir = out;
    o->model = model();
    o->max_input_s = 2.0;
    o->detect_width = 1536;
    o->preset = "ultrafast";
    o->hwaccel = FA_HWACCEL_NONE;
    static const int ladder[1] = {360};
    o->ladder = ladder, o->nladder = 1;
    static uint8_t classes[FA_COCO_CLASSES];
    classes[FA_COCO_PERSON] = classes[FA_COCO_SPORTS_BALL] = 1;
    o->det.classes = classes;
}

static int scale_map(void *user, double u, double v, double *x, double *y) {
    (void)user;
    if (v < 400) return 1; /* "above the horizon" for this test */
    *x = u / 20 - 52.5, *y = v / 20 - 34;
    return 0;
}

static void team_by_parity(void *user, int id, fa_side *side, const char **position) {
    (void)user;
    *side = id % 2 ? FA_SIDE_HOME : FA_SIDE_AWAY;
    *position = "";
}

/* Detection and tracking ride on the transcode; the output is a collector's
 * tracking with one frame per detected frame. */
static void test_clip_to_tracking(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(clip());
    FA_TEST_REQUIRE_DATA(model());
    char out[600];
    snprintf(out, sizeof out, "%s/pkg", tmp);
    fa_analyze_opts o;
    opts(&o, out);
    fa_analyze_result r;
    if (fa_analyze_video(&o, &r)) fail_msg("%s", fa_err_msg());
    print_message("feed %dx%d (x%.2f), %lld frames, %zu boxes, %zu tracks, detect %.2f s, track %.3f s\n",
                  r.feed_w, r.feed_h, r.scale, (long long)r.frames, r.detections, r.tracks.n_tracks,
                  r.detect_s, r.track_s);
    assert_int_equal(r.feed_w, 1536);
    assert_int_equal(r.feed_h, 864);
    assert_int_equal(r.frames, 10); /* 2 s at 5 fps */
    assert_int_equal(r.transcode.feed_frames, 10);
    assert_true(r.detections >= 10 * 8); /* a match: many players in every frame */
    assert_true(r.tracks.n_tracks >= 8);
    assert_int_equal(r.tracks.n_frames, 10);
    assert_true(fabs(r.t[5] - 1.0) < 0.05);
    assert_null(r.cam_dx); /* a fixed camera: no motion estimated */
    char manifest[700];
    snprintf(manifest, sizeof manifest, "%s/manifest.mpd", out);
    struct stat sb;
    assert_int_equal(stat(manifest, &sb), 0);

    fa_collector col;
    fa_collector_init(&col, NULL);
    fa_analyze_emit_opts eo = {.map = scale_map, .team = team_by_parity};
    fa_analyze_emit_stats st;
    assert_int_equal(fa_analyze_emit(&o, &r, &eo, &col.sink, &st), 0);
    print_message("emitted %zu players, %zu frames, %zu samples (%zu off the pitch), %zu ball samples\n",
                  st.players, st.frames, st.samples, st.off_pitch, st.ball_samples);
    assert_int_equal(col.match.provider, FA_PROVIDER_VIDEO);
    assert_string_equal(col.match.id, "soccertrack_left_camera");
    assert_true(fabs(col.match.frame_rate - 5.0) < 1e-9);
    assert_int_equal(st.frames, 10);
    assert_int_equal(col.nplayers, st.players);
    assert_true(st.players >= 8 && st.players <= r.tracks.n_tracks);
    assert_true(col.has_tracking);
    assert_true(st.samples >= 10 * 6);
    for (size_t i = 0; i < col.nplayers; i++) {
        int id = atoi(col.players[i].id + strlen("track-"));
        assert_int_equal(col.players[i].side, id % 2 ? FA_SIDE_HOME : FA_SIDE_AWAY);
    }
    fa_collector_free(&col);

    /* no mapping: a clear error */
    fa_collector_init(&col, NULL);
    fa_analyze_emit_opts none = {0};
    assert_int_equal(fa_analyze_emit(&o, &r, &none, &col.sink, &st), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "calibration"));
    fa_collector_free(&col);
    fa_analyze_result_free(&r);
}

/* Sums of the players' x per emitted frame. */
typedef struct frame_sums {
    double x[16];
    size_t n[16];
} frame_sums;

static int sum_frame(void *ud, const fa_frame *f) {
    frame_sums *s = ud;
    for (size_t i = 0; f->frame >= 0 && f->frame < 16 && i < f->n; i++)
        s->x[f->frame] += f->players[i].x, s->n[f->frame]++;
    return 0;
}

static int plain_map(void *user, double u, double v, double *x, double *y) {
    (void)user;
    *x = u / 20, *y = v / 20;
    return 0;
}

static void emit_sums(const fa_analyze_opts *o, const fa_analyze_result *r, frame_sums *s) {
    memset(s, 0, sizeof *s);
    fa_sink sink = {.ud = s, .frame = sum_frame};
    fa_analyze_emit_opts eo = {.map = plain_map};
    fa_analyze_emit_stats st;
    assert_int_equal(fa_analyze_emit(o, r, &eo, &sink, &st), 0);
}

/* A pan made from the real clip (a 2560x1440 window moving right by 8 px a
 * frame, 40 px between detected frames): the motion estimated between
 * detected frames is the window's, and every emitted point is moved back
 * by it (the same ground maps to the same place through the pan). */
static void test_moving_camera(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(clip());
    FA_TEST_REQUIRE_DATA(model());
    char pan[600], cmd[1600], out[600];
    snprintf(pan, sizeof pan, "%s/pan.mp4", tmp);
    snprintf(cmd, sizeof cmd,
             "ffmpeg -loglevel error -y -i '%s' -t 2 -vf \"crop=2560:1440:'n*8':144\" -an -c:v libx264 "
             "-preset ultrafast -crf 18 '%s'",
             clip(), pan);
    assert_int_equal(system(cmd), 0);
    snprintf(out, sizeof out, "%s/pan-pkg", tmp);
    fa_analyze_opts o;
    opts(&o, out);
    o.input = pan;
    o.moving_camera = 1;
    fa_analyze_result r;
    if (fa_analyze_video(&o, &r)) fail_msg("%s", fa_err_msg());
    assert_int_equal(r.frames, 10);
    assert_non_null(r.cam_dx);
    assert_true(r.cam_dx[0] == 0 && r.cam_dy[0] == 0);
    for (int64_t k = 1; k < r.frames; k++) {
        double step = r.cam_dx[k] - r.cam_dx[k - 1];
        print_message("frame %lld: camera motion %.2f, %.2f px (step %.2f)\n", (long long)k, r.cam_dx[k],
                      r.cam_dy[k], step);
        assert_true(step > -44 && step < -36); /* the picture moves left as the window moves right */
        assert_true(fabs(r.cam_dy[k]) < 4);
    }
    assert_true(fabs(r.cam_dx[9] + 360) < 12);

    /* the emitted points: moved back by the motion of their frame */
    frame_sums moved, still;
    emit_sums(&o, &r, &moved);
    double *dx = r.cam_dx;
    r.cam_dx = NULL; /* as if the camera were fixed */
    emit_sums(&o, &r, &still);
    r.cam_dx = dx;
    size_t samples = 0;
    for (int k = 0; k < 10; k++) {
        assert_int_equal(moved.n[k], still.n[k]);
        samples += moved.n[k];
        double off = moved.x[k] - still.x[k] + (double)moved.n[k] * r.cam_dx[k] / 20;
        if (fabs(off) > 1e-3 * (1 + moved.n[k])) /* float positions */
            fail_msg("frame %d: %zu points moved by %.4f in all, want %.4f", k, moved.n[k],
                     moved.x[k] - still.x[k], -(double)moved.n[k] * r.cam_dx[k] / 20);
    }
    print_message("%zu samples emitted\n", samples); /* 37 with FastestDet on the window */
    assert_true(samples >= 10 * 2);
    double u = 1000, v = 800;
    fa_analyze_unpan(&r, 9, &u, &v);
    assert_true(u == 1000 - r.cam_dx[9] && v == 800 - r.cam_dy[9]);
    fa_analyze_result_free(&r);
}

/* Bad input stops before any work and leaves no package behind. */
static void test_bad_input(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(model());
    char *text = fa_test_write_file(tmp, "notes.mp4", "not a video\n", 12);
    char out[600];
    snprintf(out, sizeof out, "%s/bad", tmp);
    fa_analyze_opts o;
    opts(&o, out);
    o.input = text;
    fa_analyze_result r;
    assert_int_equal(fa_analyze_video(&o, &r), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "notes.mp4"));
    struct stat sb;
    assert_int_not_equal(stat(out, &sb), 0);
    fa_analyze_result_free(&r);

    opts(&o, out);
    o.model = text; /* not a model */
    assert_true(fa_analyze_video(&o, &r) < 0);
    assert_int_not_equal(stat(out, &sb), 0);
    fa_analyze_result_free(&r);

    FA_TEST_REQUIRE_DATA(clip());
    opts(&o, out);
    o.detect_fps = 60; /* above the clip's 25 fps */
    assert_int_equal(fa_analyze_video(&o, &r), FA_EUSAGE);
    assert_non_null(strstr(fa_err_msg(), "--detect-fps"));
    fa_analyze_result_free(&r);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip_to_tracking),
        cmocka_unit_test(test_moving_camera),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
