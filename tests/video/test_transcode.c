/*
 * test_transcode.c - fa_transcode on small generated clips, validated with
 * ffprobe: every rung's size as planned, keyframes every 2 s at the same
 * timestamps in every rung, durations within one frame, video starting at 0,
 * segment counts = ceil(duration / 4), the MPD and the HLS playlists naming
 * existing files; the same frames in every rung in two runs; and the
 * failure paths: bad input, an existing output, cancellation, each leaving
 * no output and no temporary directory.
 */
#include "testutil.h"

#include <libavutil/log.h>
#include <unistd.h>

#include "core/core.h"
#include "package_check.h"
#include "video/transcode.h"

static int setup(void **state) {
    (void)state;
    av_log_set_level(AV_LOG_QUIET);
    pc_tmp = fa_test_tmpdir();
    pc_ffmpeg("-f lavfi -i testsrc2=s=640x360:r=25:d=6 -f lavfi -i sine=f=440:r=48000:d=6 -c:v libx264 "
           "-preset ultrafast -c:a aac -ac 2",
           "av.mp4");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fa_test_rmtree(pc_tmp);
    free(pc_tmp);
    return 0;
}

/* No output directory and no "<out>.tmp-*" sibling. */
static void assert_nothing_left(const char *out) {
    char cmd[1200];
    assert_false(fa_test_file_exists(out));
    snprintf(cmd, sizeof cmd, "ls -d '%s'.tmp-* 2>/dev/null | wc -l", out);
    char *r = pc_run(cmd);
    assert_int_equal(atoi(r), 0);
    free(r);
}

static void opts_for(fa_transcode_opts *o, const char *input, const char *out) {
    fa_transcode_opts_default(o);
    o->input = input;
    o->out_dir = out;
    o->preset = "ultrafast";
}

/* Keyframes at exactly 0, 2, 4 ... below duration. */
static void assert_keys_every_2s(const pc_stream *s, double duration) {
    int expect = (int)ceil(duration / 2 - 1e-6);
    assert_int_equal(s->nkeys, expect);
    for (int k = 0; k < s->nkeys; k++)
        assert_float_equal(s->keys[k], 2.0 * k, 1e-6);
}

static void test_ladder_package(void **state) {
    (void)state;
    char out[1024];
    snprintf(out, sizeof out, "%s", pc_in_tmp("pkg"));
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("av.mp4"), out);
    const int ladder[3] = {360, 240, 144};
    o.ladder = ladder;
    o.nladder = 3;
    fa_transcode_result r;
    int rc = fa_transcode(&o, &r);
    if (rc) fail_msg("%s", fa_err_msg());
    assert_int_equal(r.ladder.n, 3);
    assert_int_equal(r.frames, 150);
    assert_float_equal(r.media_s, 6.0, 1e-6);
    assert_int_equal(r.segments, 2);
    assert_string_equal(r.video_encoder, "libx264");
    static const int w[3] = {640, 426, 256}, h[3] = {360, 240, 144};
    for (int i = 0; i < 3; i++) {
        pc_stream s;
        assert_int_equal(pc_probe_stream(out, i, pc_in_tmp("joined.mp4"), &s), 0);
        assert_int_equal(s.width, w[i]);
        assert_int_equal(s.height, h[i]);
        assert_int_equal(s.packets, 150);
        assert_float_equal(s.first, 0.0, 1e-9);
        assert_float_equal(s.end, 6.0, 0.04);
        assert_keys_every_2s(&s, 6.0);
        assert_int_equal(pc_count_chunks(out, i), 2);
    }
    pc_stream a; /* audio: stream 3, starting at 0 (less the AAC priming the muxer signals) */
    assert_int_equal(pc_probe_stream(out, 3, pc_in_tmp("joined.mp4"), &a), 0);
    assert_true(a.first <= 0.0 && a.first > -0.03);
    assert_float_equal(a.end, 6.0, 0.03);
    assert_int_equal(pc_count_chunks(out, 3), 2);
    assert_int_equal(pc_mpd_segments(out), 4 * 2);
    assert_int_equal(pc_check_playlist(out, "master.m3u8"), 4); /* 3 variants + the audio rendition */
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "media_%d.m3u8", i);
        assert_int_equal(pc_check_playlist(out, name), 3); /* map + 2 segments */
    }
    assert_nothing_left(pc_in_tmp("pkg.tmp-x")); /* no temporary left next to it */
    fa_test_rmtree(out);
}

static void test_duration_limit_and_force(void **state) {
    (void)state;
    char out[1024];
    snprintf(out, sizeof out, "%s", pc_in_tmp("short"));
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("av.mp4"), out);
    o.max_input_s = 3;
    assert_int_equal(mkdir(out, 0755), 0);
    assert_int_equal(fa_transcode(&o, NULL), FA_EUSAGE);
    assert_non_null(strstr(fa_err_msg(), "already exists (use --force to replace it)"));
    o.force = 1;
    fa_transcode_result r;
    int rc = fa_transcode(&o, &r);
    if (rc) fail_msg("%s", fa_err_msg());
    assert_int_equal(r.ladder.n, 1); /* default 720,480,360: only 360 fits, 640x360 */
    assert_int_equal(r.frames, 75);
    assert_int_equal(r.segments, 1);
    pc_stream s;
    assert_int_equal(pc_probe_stream(out, 0, pc_in_tmp("joined.mp4"), &s), 0);
    assert_int_equal(s.height, 360);
    assert_float_equal(s.end, 3.0, 0.04);
    assert_keys_every_2s(&s, 3.0);
    fa_test_rmtree(out);
}

static void cancel_at_first_report(const fa_transcode_progress *p, void *user) {
    (void)p;
    *(volatile sig_atomic_t *)user = 1;
}

static void test_cancel_leaves_nothing(void **state) {
    (void)state;
    char out[1024];
    snprintf(out, sizeof out, "%s", pc_in_tmp("cancelled"));
    volatile sig_atomic_t flag = 0;
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("av.mp4"), out);
    o.progress = cancel_at_first_report;
    o.progress_user = (void *)&flag;
    o.progress_interval_s = 0;
    o.cancel = &flag;
    assert_int_equal(fa_transcode(&o, NULL), FA_EIO);
    assert_string_equal(fa_err_msg(), "interrupted");
    assert_nothing_left(out);
}

static void test_progress_reports(void **state);

typedef struct seen {
    int calls, done;
    double last_percent;
} seen;

static void record(const fa_transcode_progress *p, void *user) {
    seen *s = user;
    s->calls++;
    assert_true(p->percent >= s->last_percent);
    s->last_percent = p->percent;
    s->done += p->done;
    assert_true(p->fps >= 0);
}

static void test_progress_reports(void **state) {
    (void)state;
    char out[1024];
    snprintf(out, sizeof out, "%s", pc_in_tmp("progress"));
    seen s = {0};
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("av.mp4"), out);
    o.max_input_s = 2;
    o.progress = record;
    o.progress_user = &s;
    o.progress_interval_s = 0;
    assert_int_equal(fa_transcode(&o, NULL), 0);
    assert_int_equal(s.calls, 50 + 1); /* every frame, then the final call */
    assert_int_equal(s.done, 1);
    assert_float_equal(s.last_percent, 100.0, 1e-9);
    fa_test_rmtree(out);
}

static void test_bad_input_leaves_nothing(void **state) {
    (void)state;
    free(fa_test_write_file(pc_tmp, "zero.mp4", "", 0));
    char out[1024];
    snprintf(out, sizeof out, "%s", pc_in_tmp("bad"));
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("zero.mp4"), out);
    assert_int_equal(fa_transcode(&o, NULL), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "zero.mp4: empty file (0 bytes), not a video");
    assert_nothing_left(out);
}

static void test_bad_options(void **state) {
    (void)state;
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("av.mp4"), pc_in_tmp("never"));
    o.segment_s = 3;
    assert_int_equal(fa_transcode(&o, NULL), FA_EUSAGE);
    assert_string_equal(fa_err_msg(), "--segment: 3 s is not a positive multiple of the 2 s GOP");
    assert_nothing_left(pc_in_tmp("never"));
}

static void test_hwaccel_fallback(void **state) {
    (void)state;
    char out[1024];
    snprintf(out, sizeof out, "%s", pc_in_tmp("hw"));
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("av.mp4"), out);
    assert_int_equal(o.hwaccel, FA_HWACCEL_AUTO); /* the default: the probe is cheap (hwaccel.c) */
    o.max_input_s = 2;
    fa_transcode_result r;
    int rc = fa_transcode(&o, &r);
    if (rc) fail_msg("%s", fa_err_msg());
    if (r.hw_decoder[0])
        print_message("note: hardware decoding on %s\n", r.hw_decoder);
    else
        assert_string_equal(r.video_encoder, "libx264"); /* no device here: the software fallback */
    fa_test_rmtree(out);
}

/* MPEG-TS starts at 1.4 s by default, audio and video at different times:
 * both must start at 0 in the output. */
static void test_timestamps_rebased(void **state) {
    (void)state;
    pc_ffmpeg(
        "-f lavfi -i testsrc2=s=320x180:r=25:d=4 -f lavfi -i sine=r=48000:d=4 -c:v libx264 -preset ultrafast "
        "-c:a aac -f mpegts",
        "late.ts");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "ffprobe -v error -show_entries stream=start_time -of csv=p=0 '%s'",
             pc_in_tmp("late.ts"));
    char *starts = pc_run(cmd);
    assert_true(atof(starts) > 1.0); /* the source really starts late */
    free(starts);
    char out[1024];
    snprintf(out, sizeof out, "%s", pc_in_tmp("rebased"));
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("late.ts"), out);
    int rc = fa_transcode(&o, NULL);
    if (rc) fail_msg("%s", fa_err_msg());
    pc_stream v, a;
    assert_int_equal(pc_probe_stream(out, 0, pc_in_tmp("joined.mp4"), &v), 0);
    assert_float_equal(v.first, 0.0, 1e-9);
    assert_float_equal(v.end, 4.0, 0.04);
    assert_int_equal(v.nkeys, 2);
    assert_int_equal(pc_probe_stream(out, 1, pc_in_tmp("joined.mp4"), &a), 0);
    assert_true(a.first <= 0.0 && a.first > -0.03);
    fa_test_rmtree(out);
}

/* A variable-rate source (every third interval doubled): keyframes still
 * fall on the 2 s time grid, not every 50 frames. */
static void test_variable_frame_rate_keys(void **state) {
    (void)state;
    pc_ffmpeg("-f lavfi -i testsrc2=s=320x180:r=25:d=4 -vf setpts='(N+floor(N/3))/25/TB' -fps_mode vfr "
           "-c:v libx264 -preset ultrafast",
           "vfr.mkv");
    char out[1024];
    snprintf(out, sizeof out, "%s", pc_in_tmp("vfr"));
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("vfr.mkv"), out);
    fa_transcode_result r;
    int rc = fa_transcode(&o, &r);
    if (rc) fail_msg("%s", fa_err_msg());
    assert_int_equal(r.source.vfr, 1);
    pc_stream s;
    assert_int_equal(pc_probe_stream(out, 0, pc_in_tmp("joined.mp4"), &s), 0);
    assert_int_equal(s.packets, 100);
    assert_float_equal(s.first, 0.0, 1e-9);
    assert_int_equal(s.nkeys, 3); /* 100 frames span 5.28 s: keys at 0, 2, 4 */
    for (int k = 0; k < 3; k++)
        assert_float_equal(s.keys[k], 2.0 * k, 1e-6);
    fa_test_rmtree(out);
}

/* AV1 (libdav1d) and HEVC sources go through the same pipeline. */
static void test_av1_and_hevc_sources(void **state) {
    (void)state;
    pc_ffmpeg("-f lavfi -i testsrc2=s=320x180:r=25:d=2 -c:v libsvtav1 -preset 12", "av1.mp4");
    pc_ffmpeg(
        "-f lavfi -i testsrc2=s=320x180:r=25:d=2 -c:v libx265 -preset ultrafast -x265-params log-level=none",
        "hevc.mp4");
    static const char *const inputs[2] = {"av1.mp4", "hevc.mp4"};
    for (int i = 0; i < 2; i++) {
        char out[1024];
        snprintf(out, sizeof out, "%s", pc_in_tmp("coded"));
        fa_transcode_opts o;
        opts_for(&o, pc_in_tmp(inputs[i]), out);
        fa_transcode_result r;
        int rc = fa_transcode(&o, &r);
        if (rc) fail_msg("%s: %s", inputs[i], fa_err_msg());
        assert_int_equal(r.frames, 50);
        assert_int_equal(r.ladder.n, 1);
        pc_stream s;
        assert_int_equal(pc_probe_stream(out, 0, pc_in_tmp("joined.mp4"), &s), 0);
        assert_int_equal(s.width, 320);
        assert_int_equal(s.height, 180);
        assert_int_equal(s.packets, 50);
        fa_test_rmtree(out);
    }
}

typedef struct feed_seen {
    int n, bad, fail_at;
    int64_t sum;
} feed_seen;

static int on_frame(const fa_video_frame *f, void *user) {
    feed_seen *s = user;
    if (f->width != 160 || f->height != 90 || f->stride < 480 || f->index != s->n) s->bad++;
    if (fabs(f->t - 0.2 * s->n) > 1e-6) s->bad++;
    for (int x = 0; x < 3 * 160; x++)
        s->sum += f->rgb[45 * f->stride + x];
    s->n++;
    if (s->fail_at && s->n == s->fail_at) return fa_err_set(FA_EINVAL, "detector rejected frame %d", s->n);
    return 0;
}

static void test_detector_feed(void **state) {
    (void)state;
    char out[1024];
    snprintf(out, sizeof out, "%s", pc_in_tmp("feed"));
    feed_seen fs = {0};
    fa_video_feed feed = {.fps = 5, .width = 160, .height = 90, .queue = 2, .fn = on_frame, .user = &fs};
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("av.mp4"), out);
    o.feed = &feed;
    fa_transcode_result r;
    int rc = fa_transcode(&o, &r);
    if (rc) fail_msg("%s", fa_err_msg());
    assert_int_equal(fs.n, 30); /* 6 s at 5 fps: t = 0, 0.2 ... 5.8 */
    assert_int_equal(r.feed_frames, 30);
    assert_int_equal(fs.bad, 0);
    assert_true(fs.sum > 0);         /* real pixels, not a black frame */
    assert_int_equal(r.frames, 150); /* the ladder still got every frame */
    fa_test_rmtree(out);
    fs = (feed_seen){.fail_at = 3}; /* a consumer error stops the transcode and cleans up */
    assert_int_equal(fa_transcode(&o, NULL), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "detector feed: detector rejected frame 3");
    assert_nothing_left(out);
}

/* Stream i's packets (pts, dts, key flag), one a line, as ffprobe reads the
 * concatenated init and media segments in dir. */
static char *packet_list(const char *dir, int i) {
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && cat init-stream%d.m4s chunk-stream%d-*.m4s | ffprobe -v error -show_entries "
             "packet=pts,dts,flags -of csv=p=0 -",
             dir, i, i);
    return pc_run(cmd);
}

/* Every rung is encoded in a thread of its own (transcode.c, "rung
 * threads"): two runs of the same job give every stream the same packets
 * with the same timestamps and keyframes, so no frame is lost, duplicated or
 * reordered on the way. (The bytes may differ: x264's frame threads under a
 * VBV cap are timing-dependent, also in the ffmpeg command line.) */
static void test_rung_threads_same_frames(void **state) {
    (void)state;
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s", pc_in_tmp("det-a"));
    snprintf(b, sizeof b, "%s", pc_in_tmp("det-b"));
    static const int ladder[] = {360, 240, 144};
    fa_transcode_opts o;
    opts_for(&o, pc_in_tmp("av.mp4"), a);
    o.ladder = ladder;
    o.nladder = 3;
    fa_transcode_result r;
    if (fa_transcode(&o, &r)) fail_msg("%s", fa_err_msg());
    assert_int_equal(r.ladder.n, 3);
    assert_int_equal(r.frames, 150);
    o.out_dir = b;
    if (fa_transcode(&o, NULL)) fail_msg("%s", fa_err_msg());
    for (int i = 0; i < 3; i++) {
        char *pa = packet_list(a, i), *pb = packet_list(b, i);
        int lines = 0, keys = 0;
        for (const char *c = pa; *c; c++)
            lines += *c == '\n';
        for (const char *c = strstr(pa, ",K"); c; c = strstr(c + 1, ",K"))
            keys++;
        assert_int_equal(lines, 150);
        assert_int_equal(keys, 3); /* 0, 2, 4 s */
        assert_string_equal(pa, pb);
        free(pa);
        free(pb);
    }
    fa_test_rmtree(a);
    fa_test_rmtree(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ladder_package),           cmocka_unit_test(test_duration_limit_and_force),
        cmocka_unit_test(test_cancel_leaves_nothing),    cmocka_unit_test(test_progress_reports),
        cmocka_unit_test(test_bad_input_leaves_nothing), cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_hwaccel_fallback),         cmocka_unit_test(test_detector_feed),
        cmocka_unit_test(test_timestamps_rebased),       cmocka_unit_test(test_av1_and_hevc_sources),
        cmocka_unit_test(test_variable_frame_rate_keys),
        cmocka_unit_test(test_rung_threads_same_frames),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
