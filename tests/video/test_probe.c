/*
 * test_probe.c - fa_video_probe on the real SoccerTrack clips (exact
 * figures from ffprobe) and on small generated clips, and the refusal of
 * every kind of bad input with FA_EINVAL / FA_ELIMIT and a precise message.
 *
 * Clips are generated with the ffmpeg binary (testsrc2 / sine, 160x90, 2 s)
 * into a temporary directory; bad inputs are made from them by truncating,
 * zeroing or patching bytes.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "core/core.h"
#include "package_check.h"
#include "video/probe.h"

static unsigned char *slurp(const char *name, size_t *len) {
    return (unsigned char *)fa_test_read_file(pc_in_tmp(name), len);
}

static void spit(const char *name, const unsigned char *d, size_t len) {
    free(fa_test_write_file(pc_tmp, name, d, len));
}

static long find(const unsigned char *d, size_t len, const char *s, size_t n) {
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(d + i, s, n) == 0) return (long)i;
    return -1;
}

static int setup(void **state) {
    (void)state;
    av_log_set_level(AV_LOG_QUIET);
    pc_tmp = fa_test_tmpdir();
    pc_ffmpeg("-f lavfi -i testsrc2=s=160x90:r=25:d=2 -f lavfi -i sine=f=440:r=44100:d=2 -c:v libx264 "
           "-preset ultrafast -c:a aac -shortest",
           "av.mp4");
    pc_ffmpeg("-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 -preset ultrafast -movflags +faststart",
           "fs.mp4");
    pc_ffmpeg("-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 -preset ultrafast", "v.mp4");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fa_test_rmtree(pc_tmp);
    free(pc_tmp);
    return 0;
}

static void expect_refused(const char *name, int code, const char *needle) {
    fa_video_info info;
    fa_err_clear();
    assert_int_equal(fa_video_probe(pc_in_tmp(name), NULL, &info), code);
    if (!strstr(fa_err_msg(), needle) || !strstr(fa_err_msg(), name)) fail_msg("message: %s", fa_err_msg());
    assert_null(strchr(fa_err_msg(), '\n'));
}

static void test_real_hevc_4k(void **state) {
    (void)state;
    const char *p = fa_test_data("video/soccertrack_left_camera.mp4");
    FA_TEST_REQUIRE_DATA(p);
    fa_video_info in;
    assert_int_equal(fa_video_probe(p, NULL, &in), 0);
    assert_string_equal(in.container, "mov,mp4,m4a,3gp,3g2,mj2");
    assert_string_equal(in.video_codec, "hevc");
    assert_string_equal(in.pix_fmt, "yuv420p");
    assert_int_equal(in.width, 3072);
    assert_int_equal(in.height, 1728);
    assert_int_equal(in.sar_num, 1);
    assert_int_equal(in.sar_den, 1);
    assert_int_equal(in.fps_num, 25);
    assert_int_equal(in.fps_den, 1);
    assert_int_equal(in.vfr, 0);
    assert_float_equal(in.duration, 10.0, 1e-9);
    assert_int_equal(in.nb_frames, 250);
    assert_int_equal(in.rotation, 0);
    assert_int_equal(in.has_audio, 0);
    assert_int_equal(in.audio_stream, -1);
}

static void test_real_panorama(void **state) {
    (void)state;
    const char *p = fa_test_data("video/soccertrack_v2_demo-tracking_annotated.mp4");
    FA_TEST_REQUIRE_DATA(p);
    fa_video_info in;
    assert_int_equal(fa_video_probe(p, NULL, &in), 0);
    assert_string_equal(in.video_codec, "h264");
    assert_int_equal(in.width, 1280);
    assert_int_equal(in.height, 338);
    assert_int_equal(in.sar_num, 676);
    assert_int_equal(in.sar_den, 675);
    assert_int_equal(in.display_width, 1282);
    assert_int_equal(in.display_height, 338);
    assert_int_equal(in.fps_num, 25);
    assert_int_equal(in.vfr, 0);
    assert_float_equal(in.duration, 30.0, 1e-9);
    assert_int_equal(in.nb_frames, 750);
    assert_int_equal(in.has_audio, 0);
    char d[256];
    assert_string_equal(fa_video_describe(&in, d, sizeof d), "h264 1280x338 25/1 fps cfr 30.000 s, no audio");
}

static void test_generated_with_audio(void **state) {
    (void)state;
    fa_video_info in;
    assert_int_equal(fa_video_probe(pc_in_tmp("av.mp4"), NULL, &in), 0);
    assert_int_equal(in.width, 160);
    assert_int_equal(in.height, 90);
    assert_int_equal(in.fps_num, 25);
    assert_int_equal(in.vfr, 0);
    assert_int_equal(in.nb_frames, 50);
    assert_int_equal(in.has_audio, 1);
    assert_int_equal(in.audio_stream, 1);
    assert_string_equal(in.audio_codec, "aac");
    assert_int_equal(in.audio_channels, 1);
    assert_int_equal(in.audio_rate, 44100);
}

static void test_variable_frame_rate(void **state) {
    (void)state;
    /* every third interval doubled: 40, 40, 80 ms ... */
    pc_ffmpeg("-f lavfi -i testsrc2=s=160x90:r=25:d=2 -vf setpts='(N+floor(N/3))/25/TB' -fps_mode vfr "
           "-c:v libx264 -preset ultrafast",
           "vfr.mkv");
    fa_video_info in;
    assert_int_equal(fa_video_probe(pc_in_tmp("vfr.mkv"), NULL, &in), 0);
    assert_string_equal(in.container, "matroska,webm");
    assert_int_equal(in.vfr, 1);
    fa_video_info cfr;
    assert_int_equal(fa_video_probe(pc_in_tmp("v.mp4"), NULL, &cfr), 0);
    assert_int_equal(cfr.vfr, 0);
}

/* AV1 decodes through libdav1d (the native decoder needs hardware). */
static void test_av1(void **state) {
    (void)state;
    pc_ffmpeg("-f lavfi -i testsrc2=s=320x180:r=25:d=1 -c:v libsvtav1 -preset 12", "av1.mp4");
    fa_video_info in;
    assert_int_equal(fa_video_probe(pc_in_tmp("av1.mp4"), NULL, &in), 0);
    assert_string_equal(in.video_codec, "av1");
    assert_string_equal(in.pix_fmt, "yuv420p");
    assert_int_equal(in.width, 320);
    assert_int_equal(in.height, 180);
    assert_int_equal(in.nb_frames, 25);
}

/* Writes a 90-degree display matrix into the track header (tkhd v0: the
 * matrix starts 44 bytes after the box type name). */
static void test_rotation(void **state) {
    (void)state;
    size_t n;
    unsigned char *d = slurp("fs.mp4", &n);
    long t = find(d, n, "tkhd", 4);
    assert_true(t > 0);
    static const unsigned char m[36] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    0x40, 0, 0, 0};
    memcpy(d + t + 44, m, sizeof m);
    spit("rot.mp4", d, n);
    free(d);
    fa_video_info in;
    assert_int_equal(fa_video_probe(pc_in_tmp("rot.mp4"), NULL, &in), 0);
    assert_int_equal(in.rotation, 90);
    assert_int_equal(in.display_width, 90);
    assert_int_equal(in.display_height, 160);
}

static void test_empty_and_not_media(void **state) {
    (void)state;
    spit("empty.mp4", (const unsigned char *)"", 0);
    expect_refused("empty.mp4", FA_EINVAL, "empty file (0 bytes)");
    const char *text = "This is a match report, not a video.\nLine two.\n";
    spit("text.mp4", (const unsigned char *)text, strlen(text));
    expect_refused("text.mp4", FA_EINVAL, "not a media file");
    expect_refused("missing.mp4", FA_EINVAL, "no such file");
}

static void test_audio_only(void **state) {
    (void)state;
    pc_ffmpeg("-f lavfi -i sine=d=1 -c:a aac", "audio.mp4");
    expect_refused("audio.mp4", FA_EINVAL, "audio only: no video stream");
}

static void test_truncated(void **state) {
    (void)state;
    size_t n;
    unsigned char *d = slurp("v.mp4", &n); /* moov at the end: cut it off */
    spit("cut.mp4", d, n / 2);
    expect_refused("cut.mp4", FA_EINVAL, "truncated");
    free(d);
    d = slurp("fs.mp4", &n); /* moov first: the index outlives the data */
    long mdat = find(d, n, "mdat", 4);
    assert_true(mdat > 0);
    spit("cut_fs.mp4", d, (size_t)mdat + 3000);
    expect_refused("cut_fs.mp4", FA_EINVAL, "truncated: the index places video data up to byte");
    free(d);
}

static void test_corrupt_data(void **state) {
    (void)state;
    size_t n;
    unsigned char *d = slurp("fs.mp4", &n);
    long mdat = find(d, n, "mdat", 4);
    memset(d + mdat + 4, 0, n - (size_t)mdat - 4); /* headers intact, every sample zeroed */
    spit("zeros.mp4", d, n);
    free(d);
    expect_refused("zeros.mp4", FA_EINVAL, "corrupt");
}

/* A Matroska header claiming 100000x100000: PixelWidth/PixelHeight widened
 * to 3 bytes in the space of the FlagInterlaced element that follows them. */
static void test_absurd_header(void **state) {
    (void)state;
    pc_ffmpeg("-f lavfi -i testsrc2=s=320x180:r=25:d=1 -c:v libx264 -preset ultrafast", "small.mkv");
    size_t n;
    unsigned char *d = slurp("small.mkv", &n);
    static const unsigned char old[10] = {0xb0, 0x82, 0x01, 0x40, 0xba, 0x81, 0xb4, 0x9a, 0x81, 0x02};
    static const unsigned char big[10] = {0xb0, 0x83, 0x01, 0x86, 0xa0, 0xba, 0x83, 0x01, 0x86, 0xa0};
    long at = find(d, n, (const char *)old, sizeof old);
    assert_true(at > 0);
    memcpy(d + at, big, sizeof big);
    spit("huge.mkv", d, n);
    free(d);
    expect_refused("huge.mkv", FA_EINVAL, "header claims an absurd picture size 100000x100000");
}

static void test_limits(void **state) {
    (void)state;
    fa_video_limits lim;
    fa_video_limits_default(&lim);
    assert_int_equal(lim.max_width, 7680);
    assert_int_equal(lim.max_height, 4320);
    lim.max_width = 128;
    fa_video_info in;
    assert_int_equal(fa_video_probe(pc_in_tmp("v.mp4"), &lim, &in), FA_ELIMIT);
    assert_string_equal(fa_err_msg(), "v.mp4: picture size 160x90 over the limit 128x4320");
    fa_video_limits_default(&lim);
    lim.max_pixels = 10000;
    assert_int_equal(fa_video_probe(pc_in_tmp("v.mp4"), &lim, &in), FA_ELIMIT);
    assert_string_equal(fa_err_msg(), "v.mp4: 14400 pixels per frame over the limit 10000");
    fa_video_limits_default(&lim);
    lim.max_duration = 1.5;
    assert_int_equal(fa_video_probe(pc_in_tmp("v.mp4"), &lim, &in), FA_ELIMIT);
    assert_string_equal(fa_err_msg(), "v.mp4: duration 2.000 s over the limit 1.5 s");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_hevc_4k),
        cmocka_unit_test(test_real_panorama),
        cmocka_unit_test(test_generated_with_audio),
        cmocka_unit_test(test_variable_frame_rate),
        cmocka_unit_test(test_av1),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_empty_and_not_media),
        cmocka_unit_test(test_audio_only),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupt_data),
        cmocka_unit_test(test_absurd_header),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
