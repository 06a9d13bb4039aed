/*
 * test_analyze.c - `footanalytics analyze` end to end on the real
 * SoccerTrack clip with the calibration read from its first frame
 * (tests/fixtures/soccertrack_left_calib.json): transcode + detection +
 * tracking + teams + calibration + storage + analytics, then the stored
 * match read back with `stats --json` (players with team sides, plausible
 * speeds), the overlay frames, and the clear errors of each stage's bad
 * input (calibration points off the image or collinear, a video without
 * players, options).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "testutil.h"

#define CLIP "video/soccertrack_left_camera.mp4"

static char *tmp;

static int setup(void **state) {
    (void)state;
    if (!(tmp = fa_test_tmpdir())) return -1;
    char cache[1100];
    snprintf(cache, sizeof cache, "%s/cache", tmp); /* the INT8 models the runs quantise, not ~/.cache */
    return setenv("FA_CACHE_DIR", cache, 1);
}

static int teardown(void **state) {
    (void)state;
    fa_test_rmtree(tmp);
    free(tmp);
    return 0;
}

static const char *fixture(void) {
    static char path[1024];
    const char *src = getenv("FA_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/soccertrack_left_calib.json", src ? src : ".");
    return path;
}

static fa_json_value *parse(fa_arena *a, const char *text) {
    fa_json_value *v = NULL;
    if (fa_json_parse("stdout", text, strlen(text), a, &v)) fail_msg("%s in: %s", fa_err_msg(), text);
    return v;
}

static double num(const fa_json_value *o, const char *k) {
    const fa_json_value *v = fa_json_get(o, k);
    if (!v) fail_msg("missing key %s", k);
    return v->u.num;
}

static const char *str(const fa_json_value *o, const char *k) {
    const fa_json_value *v = fa_json_get(o, k);
    if (!v || v->type != FA_JSON_STRING) fail_msg("missing string %s", k);
    return v->u.str.ptr;
}

static int truth(const fa_json_value *o, const char *k) {
    const fa_json_value *v = fa_json_get(o, k);
    if (!v) fail_msg("missing key %s", k);
    return v->type == FA_JSON_TRUE;
}

/* The stored players' sides and the fastest speed any of them reached. */
static void check_stats(const char *db) {
    char args[2048], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "stats video:soccertrack_left_camera --db '%s' --json", db);
    int rc = fa_test_run_cli(args, &out, &err);
    if (rc != 0) fail_msg("stats: %s", err);
    fa_arena *a = fa_arena_new(1 << 16);
    fa_json_value *root = parse(a, out);
    const fa_json_value *players = fa_json_get(root, "players");
    assert_non_null(players);
    int sides[2] = {0, 0}, referees = 0;
    double fastest = 0;
    for (size_t i = 0; i < players->u.arr.n; i++) {
        const fa_json_value *p = players->u.arr.items[i], *side = fa_json_get(p, "side");
        if (side && side->type == FA_JSON_STRING && !strcmp(side->u.str.ptr, "home")) sides[0]++;
        if (side && side->type == FA_JSON_STRING && !strcmp(side->u.str.ptr, "away")) sides[1]++;
        const fa_json_value *pos = fa_json_get(p, "position");
        if (pos && pos->type == FA_JSON_STRING && !strcmp(pos->u.str.ptr, "referee")) {
            referees++; /* the man in black by the centre circle, with no team */
            assert_true(side && side->type == FA_JSON_STRING && !strcmp(side->u.str.ptr, ""));
        }
        const fa_json_value *m = fa_json_get(p, "metrics"), *v = m ? fa_json_get(m, "peak_speed_ms") : NULL;
        if (v && v->type == FA_JSON_NUMBER && v->u.num > fastest) fastest = v->u.num;
    }
    print_message("stored: %zu players (%d home, %d away), fastest %.2f m/s\n", players->u.arr.n, sides[0],
                  sides[1], fastest);
    assert_true(sides[0] >= 4 && sides[1] >= 4);
    assert_int_equal(referees, 1);
    assert_true(fastest > 1.0 && fastest <= 12.0);
    fa_arena_free(a);
    free(out);
    free(err);
}

/* A written video: its size and 15 frames (3 s at 5 fps: packets, by
 * ffprobe; its decoder count stops at 14 on the mp4 edit list's 2.8 s). */
static void check_video(const char *name, int w, int h) {
    char cmd[2048], want[64];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_packets -select_streams v:0 -show_entries "
             "stream=width,height,nb_read_packets "
             "-of csv=p=0 '%s/%s'",
             tmp, name);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[256] = "";
    if (!fgets(line, sizeof line, p)) line[0] = 0;
    pclose(p);
    snprintf(want, sizeof want, "%d,%d,15\n", w, h);
    if (strcmp(line, want) != 0) fail_msg("%s: ffprobe says '%s', want '%s'", name, line, want);
}

static void test_clip(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(CLIP));
    char args[4096], db[1024], *out = NULL, *err = NULL;
    snprintf(db, sizeof db, "%s/fa.db", tmp);
    snprintf(args, sizeof args,
             "analyze '%s' --calib '%s' --db '%s' --out '%s/pkg' --overlay '%s/overlay.mp4' --radar "
             "'%s/radar.mp4' "
             "--duration 3 "
             "--ladder 360 --preset ultrafast --hwaccel none --detect-width 1280 --progress none --json",
             fa_test_data(CLIP), fixture(), db, tmp, tmp, tmp);
    int rc = fa_test_run_cli(args, &out, &err);
    if (rc != 0) fail_msg("exit %d: %s", rc, err);
    print_message("%s", out);
    fa_arena *a = fa_arena_new(1 << 14);
    fa_json_value *r = parse(a, out);
    assert_float_equal(num(r, "frames"), 15, 0); /* 3 s at 5 fps */
    assert_true(num(r, "tracks") >= 10);
    assert_true(truth(r, "teams"));
    assert_false(truth(r, "similar_kits")); /* white vs blue */
    assert_true(truth(r, "calibrated"));
    assert_true(num(r, "rms_px") < 8);
    assert_true(num(r, "players") >= 10);
    /* the man standing on the steps left of the pitch is tracked but not stored as a player (every
       other track has enough boxes in the 3 s) */
    assert_float_equal(num(r, "players"), num(r, "tracks") - 1, 0);
    assert_true(num(r, "samples") >= 15 * 8);
    assert_true(num(r, "off_pitch") <= num(r, "samples") / 10);
    assert_true(num(r, "metrics") > 100);
    /* the default detector: INT8, quantised on the clip's first frames into the cache */
    assert_string_equal(str(r, "precision"), "int8");
    assert_true(truth(r, "quantised_now"));
    assert_true(num(r, "quantise_s") > 0);
    fa_arena_free(a);
    char path[1200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/pkg/master.m3u8", tmp);
    assert_int_equal(stat(path, &sb), 0);
    check_video("overlay.mp4", 1280, 720);
    check_video("radar.mp4", 920, 624);
    check_stats(db);
    free(out);
    free(err);
}

/* The second analysis with the model finds its INT8 file in the cache;
 * --precision fp32 runs the model as it is (here with --moving-camera, which
 * finds no motion on this fixed camera and changes nothing). */
static void test_precision(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(CLIP));
    static const struct {
        const char *opt, *precision;
    } runs[] = {{"", "int8"}, {"--precision fp32 --moving-camera", "fp32"}}; /* a fixed camera: no motion */
    for (size_t i = 0; i < 2; i++) {
        char args[4096], *out = NULL, *err = NULL;
        snprintf(
            args, sizeof args,
            "analyze '%s' %s --out '%s/p%zu' --duration 1 --ladder 360 --preset ultrafast --hwaccel none "
            "--detect-width 1280 --progress none --json",
            fa_test_data(CLIP), runs[i].opt, tmp, i);
        int rc = fa_test_run_cli(args, &out, &err);
        if (rc != 0) fail_msg("exit %d: %s", rc, err);
        fa_arena *a = fa_arena_new(1 << 12);
        fa_json_value *r = parse(a, out);
        assert_string_equal(str(r, "precision"), runs[i].precision);
        assert_false(truth(r, "quantised_now"));
        assert_null(strstr(err, "quantising")); /* no log line: nothing was quantised */
        assert_true(num(r, "tracks") >= 5);
        fa_arena_free(a);
        free(out);
        free(err);
    }
}

/* Each stage's bad input: a clear message, exit 2 (bad input) or 1 (usage). */
static void expect_fail(const char *args, int status, const char *needle) {
    char *out = NULL, *err = NULL;
    int rc = fa_test_run_cli(args, &out, &err);
    if (rc != status || !strstr(err, needle))
        fail_msg("%s: exit %d (want %d), stderr: %s (want '%s')", args, rc, status, err, needle);
    free(out);
    free(err);
}

static void test_errors(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(CLIP));
    char args[4096], gen[2048];
    const char *clip = fa_test_data(CLIP);
    snprintf(
        args, sizeof args,
        "analyze '%s' --out '%s/e1' --progress none --points "
        "'100,100=corner_top_left;5000,100=corner_top_right;100,900=corner_bottom_left;900,900=centre_spot'",
        clip, tmp);
    expect_fail(args, 2, "is off the 3072x1728 image");
    snprintf(
        args, sizeof args,
        "analyze '%s' --out '%s/e2' --progress none --points "
        "'100,100=corner_top_left;200,200=centre_spot;300,300=corner_bottom_right;400,400=penalty_spot_left'",
        clip, tmp);
    expect_fail(args, 2, "--points");
    snprintf(args, sizeof args, "analyze '%s' --calib '%s' --points '1,1=centre_spot'", clip, fixture());
    expect_fail(args, 1, "give one of them");
    snprintf(args, sizeof args, "analyze '%s' --detect-fps 0", clip);
    expect_fail(args, 1, "--detect-fps");
    expect_fail("analyze", 1, "expected one VIDEO");
    /* a calibration of another picture shape cannot be scaled to the video */
    snprintf(args, sizeof args, "analyze '%s' --out '%s/e4' --progress none --calib '%s'",
             fa_test_data("video/soccertrack_v2_demo-tracking_annotated.mp4"), tmp, fixture());
    expect_fail(args, 2, "cannot be scaled to 1280x338 (aspect ratio)");
    /* a video without pictures */
    snprintf(gen, sizeof gen, "ffmpeg -loglevel error -y -f lavfi -i sine=d=1 -c:a aac '%s/audio.mp4'", tmp);
    assert_int_equal(system(gen), 0);
    snprintf(args, sizeof args, "analyze '%s/audio.mp4' --out '%s/e5' --progress none --calib '%s'", tmp, tmp,
             fixture());
    expect_fail(args, 2, "no picture or video stream");
    /* a video without players: flagged, nothing stored */
    char *o = NULL, *e = NULL;
    snprintf(gen, sizeof gen,
             "ffmpeg -loglevel error -y -f lavfi -i color=c=0x2a8a3a:s=640x360:d=2:r=25 -pix_fmt yuv420p "
             "'%s/grass.mp4'",
             tmp);
    assert_int_equal(system(gen), 0);
    snprintf(args, sizeof args,
             "analyze '%s/grass.mp4' --out '%s/e3' --db '%s/e3.db' --progress none --points "
             "'10,350=corner_bottom_left;630,350=corner_bottom_right;600,20=corner_top_right;40,20=corner_"
             "top_left'",
             tmp, tmp, tmp);
    int rc = fa_test_run_cli(args, &o, &e);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(e, "no players found"));
    free(o);
    free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_precision),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
