/*
 * test_transcode.c (e2e) - the real `footanalytics transcode` binary: the
 * first 8 s of the real 1280x338 panorama to a three-rung DASH + HLS
 * package validated with ffprobe, and the first 4 s of the real 4K HEVC
 * clip to 1080/720; bad inputs refused with exit 2, one
 * clear line and nothing left behind; an existing --out refused; SIGTERM in
 * the middle of a run leaving nothing; --help documenting every option;
 * the default --hwaccel auto logging exactly one line about the hardware.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "../video/package_check.h"

static int setup(void **state) {
    (void)state;
    pc_tmp = fa_test_tmpdir();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fa_test_rmtree(pc_tmp);
    free(pc_tmp);
    return 0;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

static void assert_nothing_left(const char *out) {
    char cmd[1200];
    assert_false(fa_test_file_exists(out));
    snprintf(cmd, sizeof cmd, "ls -d '%s'.tmp-* 2>/dev/null | wc -l", out);
    char *r = pc_run(cmd);
    assert_int_equal(atoi(r), 0);
    free(r);
}

static void test_panorama_8s(void **state) {
    (void)state;
    const char *clip = fa_test_data("video/soccertrack_v2_demo-tracking_annotated.mp4");
    FA_TEST_REQUIRE_DATA(clip);
    char out[1024], args[2048];
    snprintf(out, sizeof out, "%s", pc_in_tmp("pano"));
    snprintf(args, sizeof args,
             "transcode '%s' --out '%s' --duration 8 --preset ultrafast --progress json --detect-fps 5 "
             "--detect-size 320x84",
             clip, out);
    char *so = NULL, *se = NULL;
    int rc = fa_test_run_cli(args, &so, &se);
    if (rc != 0) fail_msg("exit %d: %s", rc, se);
    assert_non_null(strstr(so, "{\"event\":\"progress\",\"percent\":"));
    assert_non_null(strstr(so, "\"percent\":100.0,"));
    assert_non_null(strstr(so, "{\"event\":\"done\""));
    assert_non_null(strstr(so, "\"feed_frames\":40,")); /* 8 s at 5 fps from the same decode */
    /* --hwaccel auto by default: one line either way (device used, or the software fallback) */
    const char *hw = strstr(se, "hardware");
    assert_non_null(hw);
    assert_null(strstr(hw + 1, "hardware"));
    assert_non_null(strstr(so, "\"rungs\":[{\"width\":1280,\"height\":338,\"maxrate_kbps\":3000},"
                               "{\"width\":854,\"height\":226,\"maxrate_kbps\":1500},"
                               "{\"width\":640,\"height\":168,\"maxrate_kbps\":800}]"));
    static const int w[3] = {1280, 854, 640}, h[3] = {338, 226, 168};
    pc_stream first;
    for (int i = 0; i < 3; i++) {
        pc_stream s;
        assert_int_equal(pc_probe_stream(out, i, pc_in_tmp("joined.mp4"), &s), 0);
        assert_int_equal(s.width, w[i]);
        assert_int_equal(s.height, h[i]);
        assert_int_equal(s.packets, 200);
        assert_float_equal(s.first, 0.0, 1e-9);
        assert_float_equal(s.end, 8.0, 0.04);
        assert_int_equal(s.nkeys, 4);
        for (int k = 0; k < 4; k++)
            assert_float_equal(s.keys[k], 2.0 * k, 1e-6);
        if (i == 0)
            first = s;
        else
            assert_memory_equal(s.keys, first.keys, sizeof(double) * 4); /* aligned across rungs */
        assert_int_equal(pc_count_chunks(out, i), 2);
    }
    assert_int_equal(pc_mpd_segments(out), 3 * 2);
    char *mpd = fa_test_read_file(pc_in_tmp("pano/manifest.mpd"), NULL);
    assert_non_null(strstr(mpd, "par=\"512:135\"")); /* one adaptation set, one display aspect */
    assert_null(strstr(mpd, "<AdaptationSet id=\"1\""));
    free(mpd);
    assert_int_equal(pc_check_playlist(out, "master.m3u8"), 3);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "media_%d.m3u8", i);
        assert_int_equal(pc_check_playlist(out, name), 3);
    }
    free(so);
    free(se);
}

/* The real 4K HEVC SoccerTrack clip (3072x1728, 25 fps, no audio): its first
 * 4 s to the 1080/720 rungs (a source over 720p), validated like the panorama. */
static void test_hevc_4k_4s(void **state) {
    (void)state;
    const char *clip = fa_test_data("video/soccertrack_left_camera.mp4");
    FA_TEST_REQUIRE_DATA(clip);
    char out[1024], args[2048];
    snprintf(out, sizeof out, "%s", pc_in_tmp("hevc"));
    snprintf(args, sizeof args, "transcode '%s' --out '%s' --duration 4 --ladder 1080,720 --preset ultrafast "
             "--progress none", clip, out);
    char *se = NULL;
    int rc = fa_test_run_cli(args, NULL, &se);
    if (rc != 0) fail_msg("exit %d: %s", rc, se);
    static const int w[2] = {1920, 1280}, h[2] = {1080, 720};
    for (int i = 0; i < 2; i++) {
        pc_stream s;
        assert_int_equal(pc_probe_stream(out, i, pc_in_tmp("hevc-joined.mp4"), &s), 0);
        assert_int_equal(s.width, w[i]);
        assert_int_equal(s.height, h[i]);
        assert_int_equal(s.packets, 100);
        assert_float_equal(s.first, 0.0, 1e-9);
        assert_float_equal(s.end, 4.0, 0.04);
        assert_int_equal(s.nkeys, 2);
        assert_float_equal(s.keys[1], 2.0, 1e-6);
        assert_int_equal(pc_count_chunks(out, i), 1);
    }
    assert_int_equal(pc_check_playlist(out, "master.m3u8"), 2);
    free(se);
}

static void expect_exit2(const char *name, const char *needle) {
    char out[1024], args[2048];
    snprintf(out, sizeof out, "%s.out", pc_in_tmp(name));
    snprintf(args, sizeof args, "transcode '%s' --out '%s' --progress none", pc_in_tmp(name), out);
    char *se = NULL;
    int rc = fa_test_run_cli(args, NULL, &se);
    assert_int_equal(rc, 2);
    if (!strstr(se, needle)) fail_msg("stderr: %s", se);
    assert_int_equal(count_lines(se), 1);
    assert_non_null(strstr(se, "footanalytics transcode: "));
    assert_nothing_left(out);
    free(se);
}

static void test_bad_inputs(void **state) {
    (void)state;
    free(fa_test_write_file(pc_tmp, "zero.mp4", "", 0));
    expect_exit2("zero.mp4", "zero.mp4: empty file (0 bytes)");
    const char *text = "kick-off 15:00\n";
    free(fa_test_write_file(pc_tmp, "notes.mp4", text, strlen(text)));
    expect_exit2("notes.mp4", "notes.mp4: not a media file");
    pc_ffmpeg("-f lavfi -i sine=d=1 -c:a aac", "audio.mp4");
    expect_exit2("audio.mp4", "audio.mp4: audio only: no video stream");
    pc_ffmpeg("-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 -preset ultrafast", "whole.mp4");
    size_t n;
    char *d = fa_test_read_file(pc_in_tmp("whole.mp4"), &n);
    free(fa_test_write_file(pc_tmp, "cut.mp4", d, n / 2));
    free(d);
    expect_exit2("cut.mp4", "cut.mp4: not a media file, or a truncated or corrupt one");
    pc_ffmpeg("-f lavfi -i testsrc2=s=320x180:r=25:d=1 -c:v libx264 -preset ultrafast", "small.mkv");
    unsigned char *m = (unsigned char *)fa_test_read_file(pc_in_tmp("small.mkv"), &n);
    static const unsigned char old[10] = {0xb0, 0x82, 0x01, 0x40, 0xba, 0x81, 0xb4, 0x9a, 0x81, 0x02};
    static const unsigned char big[10] = {0xb0, 0x83, 0x01, 0x86, 0xa0, 0xba, 0x83, 0x01, 0x86, 0xa0};
    size_t at = 0;
    while (at + 10 <= n && memcmp(m + at, old, 10))
        at++;
    assert_true(at + 10 <= n);
    memcpy(m + at, big, 10);
    free(fa_test_write_file(pc_tmp, "huge.mkv", m, n));
    free(m);
    expect_exit2("huge.mkv", "huge.mkv: stream 0: header claims an absurd picture size 100000x100000");
}

static void test_existing_out_and_usage(void **state) {
    (void)state;
    pc_ffmpeg("-f lavfi -i testsrc2=s=160x90:r=25:d=2 -c:v libx264 -preset ultrafast", "ok.mp4");
    char out[1024], args[2048];
    snprintf(out, sizeof out, "%s", pc_in_tmp("exists"));
    assert_int_equal(mkdir(out, 0755), 0);
    snprintf(args, sizeof args, "transcode '%s' --out '%s'", pc_in_tmp("ok.mp4"), out);
    char *se = NULL;
    assert_int_equal(fa_test_run_cli(args, NULL, &se), 1);
    assert_non_null(strstr(se, "already exists (use --force to replace it)"));
    free(se);
    snprintf(args, sizeof args, "transcode '%s' --out '%s' --ladder 720,,360", pc_in_tmp("ok.mp4"), pc_in_tmp("x"));
    assert_int_equal(fa_test_run_cli(args, NULL, &se), 1);
    assert_non_null(strstr(se, "--ladder: '': expected a height such as 720"));
    free(se);
    snprintf(args, sizeof args, "transcode '%s' --out '%s' --force --preset ultrafast --progress none",
             pc_in_tmp("ok.mp4"), out);
    char *so = NULL;
    assert_int_equal(fa_test_run_cli(args, &so, &se), 0);
    assert_non_null(strstr(so, "rung 0: 160x90 (SAR 1:1) max 200 kbit/s"));
    assert_true(fa_test_file_exists(pc_in_tmp("exists/manifest.mpd")));
    free(so);
    free(se);
}

/* Starts the binary on the full 30 s panorama, waits for its temporary
 * directory to hold a segment, sends SIGTERM. */
static void test_sigterm_leaves_nothing(void **state) {
    (void)state;
    const char *clip = fa_test_data("video/soccertrack_v2_demo-tracking_annotated.mp4");
    FA_TEST_REQUIRE_DATA(clip);
    char out[1024];
    snprintf(out, sizeof out, "%s", pc_in_tmp("killed"));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(getenv("FA_BIN"), "footanalytics", "transcode", clip, "--out", out, "--preset", "ultrafast",
              "--progress", "none", (char *)NULL);
        _exit(127);
    }
    char seg[1200];
    snprintf(seg, sizeof seg, "%s.tmp-%ld/init-stream0.m4s", out, (long)pid);
    for (int i = 0; i < 600 && !fa_test_file_exists(seg); i++)
        usleep(10000);
    assert_true(fa_test_file_exists(seg));
    kill(pid, SIGTERM);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    assert_nothing_left(out);
}

static void test_help(void **state) {
    (void)state;
    char *so = NULL;
    assert_int_equal(fa_test_run_cli("transcode --help", &so, NULL), 0);
    static const char *const opts[] = {
        "--out DIR",      "--ladder LIST",    "--preset NAME",     "--segment SECONDS",
        "--hwaccel MODE", "--force",          "--progress MODE",   "--duration SECONDS",
        "--max-size WxH", "--max-duration S", "--detect-fps FPS",  "--detect-size WxH",
        "--plan",         "--chunk I|audio",  "--chunk-seconds S", "--assemble",
        "--help"};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
        if (!strstr(so, opts[i])) fail_msg("--help lacks %s", opts[i]);
    free(so);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_panorama_8s),
        cmocka_unit_test(test_hevc_4k_4s),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_existing_out_and_usage),
        cmocka_unit_test(test_sigterm_leaves_nothing),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
