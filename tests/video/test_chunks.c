/*
 * test_chunks.c - the chunk plan and chunk jobs (src/video/chunk.h).
 *
 * A generated 20 s 640x360 25 fps clip with a 48 kHz stereo tone is
 * transcoded (ladder 360,180, superfast: B-frames, so the encoder delay and
 * the edit lists are exercised) once by a single process and once as three
 * video chunk jobs (8 s chunks: 0-8, 8-16, 16-20) and one audio job, each a
 * separate `footanalytics transcode` process, then assembled. The assembled
 * package must be the single-process one in everything that matters: init
 * segments byte-identical, the same segments with the same numbers, the same
 * packet timestamps in every stream (so no gap or overlap at a chunk
 * boundary), keyframes exactly on the 2 s marks, the same DASH timeline for
 * the video, and ffmpeg must read the MPD and the HLS master end to end
 * without an error. The same holds for a 29.97 fps source with B-frames,
 * where no frame falls on a chunk boundary (the chunk starts on the first
 * frame past it, 8.008 s, as the single run's IDR does). The assembly
 * refuses a missing chunk, a chunk given twice and a chunk encoded with
 * other settings, leaving nothing behind.
 */
#include "testutil.h"

#include <libavutil/log.h>
#include <unistd.h>

#include "core/core.h"
#include "package_check.h"
#include "video/chunk.h"

static void cli_ok(const char *args) {
    char *err = NULL;
    int rc = fa_test_run_cli(args, NULL, &err);
    if (rc != 0) fail_msg("footanalytics %s: exit %d: %s", args, rc, err ? err : "");
    free(err);
}

static int setup(void **state) {
    (void)state;
    av_log_set_level(AV_LOG_QUIET);
    pc_tmp = fa_test_tmpdir();
    char cmd[4096], args[4096];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=640x360:r=25:d=20 -f lavfi -i "
             "sine=f=440:r=48000:d=20 -c:v libx264 -preset ultrafast -c:a aac -ac 2 '%s'",
             pc_in_tmp("av.mp4"));
    if (system(cmd) != 0) return -1;
    const char *common = "--ladder 360,180 --progress none --chunk-seconds 8";
    snprintf(args, sizeof args, "transcode '%s' --out '%s' %s", pc_in_tmp("av.mp4"), pc_in_tmp("single"), common);
    if (fa_test_run_cli(args, NULL, NULL) != 0) return -1;
    for (int i = 0; i < 3; i++) {
        char job[16];
        snprintf(job, sizeof job, "job%d", i);
        snprintf(args, sizeof args, "transcode '%s' --out '%s' --chunk %d %s", pc_in_tmp("av.mp4"), pc_in_tmp(job),
                 i, common);
        if (fa_test_run_cli(args, NULL, NULL) != 0) return -1;
    }
    snprintf(args, sizeof args, "transcode '%s' --out '%s' --chunk audio %s", pc_in_tmp("av.mp4"),
             pc_in_tmp("jobA"), common);
    if (fa_test_run_cli(args, NULL, NULL) != 0) return -1;
    snprintf(args, sizeof args, "transcode --assemble --out '%s' '%s' '%s' '%s' '%s'", pc_in_tmp("asm"),
             pc_in_tmp("job2"), pc_in_tmp("jobA"), pc_in_tmp("job0"), pc_in_tmp("job1")); /* any order */
    return fa_test_run_cli(args, NULL, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    fa_test_rmtree(pc_tmp);
    free(pc_tmp);
    return 0;
}

/* ------------------------------------------------------------ plan */

static void test_plan(void **state) {
    (void)state;
    fa_video_info info = {.duration = 20.0, .fps = 25};
    fa_chunk_plan p;
    assert_int_equal(fa_chunk_plan_make(&info, 0, 8, 4, &p), 0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.segments, 5);
    static const double start[3] = {0, 8, 16}, end[3] = {8, 16, 20};
    static const int first[3] = {1, 3, 5}, count[3] = {2, 2, 1};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(p.chunk[i].index, i);
        assert_float_equal(p.chunk[i].start_s, start[i], 0);
        assert_float_equal(p.chunk[i].end_s, end[i], 0);
        assert_int_equal(p.chunk[i].first_segment, first[i]);
        assert_int_equal(p.chunk[i].segments, count[i]);
    }
    fa_buf b = {0};
    assert_int_equal(fa_chunk_plan_json(&p, 1, &b), 0);
    assert_string_equal(
        b.data, "{\"duration_s\":20.000,\"segment_s\":4,\"segments\":5,\"chunks\":["
                "{\"index\":0,\"start_s\":0.000,\"end_s\":8.000,\"first_segment\":1,\"segments\":2},"
                "{\"index\":1,\"start_s\":8.000,\"end_s\":16.000,\"first_segment\":3,\"segments\":2},"
                "{\"index\":2,\"start_s\":16.000,\"end_s\":20.000,\"first_segment\":5,\"segments\":1}],"
                "\"audio_job\":true}");
    fa_buf_free(&b);
    fa_chunk_plan_free(&p);
    /* 9 s rounds to 2 segments; a last frame past 20 s (20.04) adds no chunk; --duration caps */
    info.duration = 20.04;
    assert_int_equal(fa_chunk_plan_make(&info, 0, 9, 4, &p), 0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.segments, 5);
    fa_chunk_plan_free(&p);
    assert_int_equal(fa_chunk_plan_make(&info, 10, 20, 2, &p), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.segments, 5);
    assert_float_equal(p.chunk[0].end_s, 10, 0);
    fa_chunk_plan_free(&p);
    info.duration = 0;
    assert_int_equal(fa_chunk_plan_make(&info, 0, 8, 4, &p), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "input: duration unknown: cannot plan chunks");
    info.duration = 20;
    assert_int_equal(fa_chunk_plan_make(&info, 0, 0, 4, &p), FA_EUSAGE);
}

static void test_plan_cli(void **state) {
    (void)state;
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "transcode '%s' --plan --chunk-seconds 12", pc_in_tmp("av.mp4"));
    assert_int_equal(fa_test_run_cli(args, &out, NULL), 0);
    assert_string_equal(
        out, "{\"duration_s\":20.000,\"segment_s\":4,\"segments\":5,\"chunks\":["
             "{\"index\":0,\"start_s\":0.000,\"end_s\":12.000,\"first_segment\":1,\"segments\":3},"
             "{\"index\":1,\"start_s\":12.000,\"end_s\":20.000,\"first_segment\":4,\"segments\":2}],"
             "\"audio_job\":true}\n");
    free(out);
    snprintf(args, sizeof args, "transcode '%s' --out '%s' --chunk 5 --chunk-seconds 8", pc_in_tmp("av.mp4"),
             pc_in_tmp("nochunk"));
    char *err = NULL;
    assert_int_equal(fa_test_run_cli(args, NULL, &err), 1);
    assert_non_null(strstr(err, "--chunk: 5: the plan has chunks 0..2"));
    free(err);
    assert_false(fa_test_file_exists(pc_in_tmp("nochunk")));
}

/* ------------------------------------------------------------ chunk jobs */

/* The chunk jobs' own directories: global segment numbers, no manifests. */
static void test_job_dirs(void **state) {
    (void)state;
    assert_true(pc_exists(pc_in_tmp("job1"), "chunk-stream0-00003.m4s"));
    assert_true(pc_exists(pc_in_tmp("job1"), "chunk-stream1-00004.m4s"));
    assert_false(pc_exists(pc_in_tmp("job1"), "chunk-stream0-00001.m4s"));
    assert_false(pc_exists(pc_in_tmp("job1"), "manifest.mpd"));
    assert_int_equal(pc_count_chunks(pc_in_tmp("job0"), 0), 2);
    assert_int_equal(pc_count_chunks(pc_in_tmp("job1"), 0), 2);
    assert_int_equal(pc_count_chunks(pc_in_tmp("job2"), 0), 1);
    assert_int_equal(pc_count_chunks(pc_in_tmp("jobA"), 2), 5);
    char *j = fa_test_read_file(pc_in_tmp("job1/chunk.json"), NULL);
    assert_non_null(j);
    assert_string_equal(j,
                        "{\"job\":\"chunk\",\"index\":1,\"start_s\":8.000,\"first_segment\":3,\"segments\":2,"
                        "\"streams\":2}\n");
    free(j);
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = fa_test_read_file(a, &na), *y = fa_test_read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Packet pts of stream i of dir (track timescale), one a line, sorted. */
static char *packets(const char *dir, int i) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cat '%s/init-stream%d.m4s' '%s'/chunk-stream%d-*.m4s > '%s' && ffprobe -v error -show_entries "
             "packet=pts -of csv=p=0 '%s' | sort -n",
             dir, i, dir, i, pc_in_tmp("joined.mp4"), pc_in_tmp("joined.mp4"));
    return pc_run(cmd);
}

/* Packet k is at first + k * step exactly, for k < count: every frame once,
 * no gap and no overlap anywhere, chunk boundaries included. */
static void assert_continuous(const char *list, int64_t first, int64_t step, int count) {
    int n = 0;
    for (const char *l = list; *l;) {
        assert_int_equal(strtoll(l, NULL, 10), first + n * step);
        n++;
        const char *nl = strchr(l, '\n');
        if (!nl) break;
        l = nl + 1;
    }
    assert_int_equal(n, count);
}

static void test_assembled_equals_single(void **state) {
    (void)state;
    char single[1024], as[1024]; /* in_tmp's buffers are reused */
    snprintf(single, sizeof single, "%s", pc_in_tmp("single"));
    snprintf(as, sizeof as, "%s", pc_in_tmp("asm"));
    /* video: 500 frames of 512 ticks (12800/s) from 0; audio: 939 AAC frames of 1024 samples from -1024
     * (the encoder's priming, cut by the edit list) */
    static const int count[3] = {500, 500, 939}, step[3] = {512, 512, 1024}, first[3] = {0, 0, -1024};
    for (int i = 0; i < 3; i++) {
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/init-stream%d.m4s", single, i);
        snprintf(b, sizeof b, "%s/init-stream%d.m4s", as, i);
        assert_true(same_file(a, b));
        char *ps = packets(single, i), *pa = packets(as, i);
        assert_string_equal(pa, ps);
        assert_continuous(pa, first[i], step[i], count[i]);
        free(ps);
        free(pa);
    }
    for (int i = 0; i < 2; i++) {
        pc_stream s;
        assert_int_equal(pc_probe_stream(as, i, pc_in_tmp("joined.mp4"), &s), 0);
        assert_int_equal(s.nkeys, 10);
        for (int k = 0; k < s.nkeys; k++)
            assert_float_equal(s.keys[k], 2.0 * k, 1e-9);
        assert_int_equal(pc_count_chunks(as, i), pc_count_chunks(single, i));
    }
    assert_int_equal(pc_count_chunks(as, 0), 5);
    assert_int_equal(pc_count_chunks(as, 2), 5);
}

static char *between(const char *text, const char *from, const char *to) {
    const char *a = strstr(text, from), *b = a ? strstr(a, to) : NULL;
    if (!b) return NULL;
    char *r = malloc((size_t)(b - a) + 1);
    memcpy(r, a, (size_t)(b - a));
    r[b - a] = '\0';
    return r;
}

static void test_manifests(void **state) {
    (void)state;
    char p[1200];
    snprintf(p, sizeof p, "%s/manifest.mpd", pc_in_tmp("asm"));
    char *mpd = fa_test_read_file(p, NULL);
    snprintf(p, sizeof p, "%s/manifest.mpd", pc_in_tmp("single"));
    char *ref = fa_test_read_file(p, NULL);
    assert_non_null(mpd);
    assert_non_null(ref);
    char *tl = between(mpd, "<SegmentTimeline>", "</SegmentTimeline>");
    char *rtl = between(ref, "<SegmentTimeline>", "</SegmentTimeline>");
    assert_non_null(tl);
    assert_string_equal(tl, rtl); /* the video timeline of the single process */
    assert_non_null(strstr(tl, "<S t=\"0\" d=\"51200\" r=\"4\" />"));
    assert_non_null(strstr(mpd, "codecs=\"avc1.64001e\""));
    assert_non_null(strstr(mpd, "codecs=\"mp4a.40.2\""));
    free(tl), free(rtl), free(mpd), free(ref);
    char as[1024];
    snprintf(as, sizeof as, "%s", pc_in_tmp("asm"));
    assert_int_equal(pc_mpd_segments(as), 3 * 5);
    assert_int_equal(pc_check_playlist(as, "master.m3u8"), 3); /* 2 variants + the audio */
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "media_%d.m3u8", i);
        assert_int_equal(pc_check_playlist(as, name), 6); /* map + 5 segments */
    }
    snprintf(p, sizeof p, "%s/media_0.m3u8", as);
    char *m = fa_test_read_file(p, NULL);
    assert_non_null(strstr(m, "#EXTINF:4.000000,\nchunk-stream0-00003.m4s\n"));
    free(m);
    /* ffmpeg reads both protocols end to end without a single error line */
    static const char *const entry[2] = {"manifest.mpd", "master.m3u8"};
    for (int k = 0; k < 2; k++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s/%s' -map 0 -f null - 2>&1; echo rc=$?", as,
                 entry[k]);
        char *r = pc_run(cmd);
        assert_string_equal(r, "rc=0\n");
        free(r);
    }
}

/* 29.97 fps, B-frames and a long GOP in the source, mono 44.1 kHz: 2 chunks + audio = single. */
static void test_ntsc_source(void **state) {
    (void)state;
    char cmd[4096], args[8192], out[4][1024];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=640x360:r=30000/1001:d=12 -f lavfi -i "
             "sine=f=440:r=44100:d=12 -c:v libx264 -preset medium -g 250 -c:a aac -ac 1 '%s'",
             pc_in_tmp("ntsc.mp4"));
    assert_int_equal(system(cmd), 0);
    static const char *const name[4] = {"n-single", "n-0", "n-1", "n-audio"};
    static const char *const part[4] = {"", "--chunk 0", "--chunk 1", "--chunk audio"};
    for (int k = 0; k < 4; k++) {
        snprintf(out[k], sizeof out[k], "%s", pc_in_tmp(name[k]));
        snprintf(args, sizeof args,
                 "transcode '%s' --out '%s' %s --chunk-seconds 8 --ladder 360 --progress none",
                 pc_in_tmp("ntsc.mp4"), out[k], part[k]);
        cli_ok(args);
    }
    snprintf(args, sizeof args, "transcode --assemble --out '%s' '%s' '%s' '%s'", pc_in_tmp("n-asm"), out[1],
             out[2], out[3]);
    cli_ok(args);
    char as[1024];
    snprintf(as, sizeof as, "%s", pc_in_tmp("n-asm"));
    for (int i = 0; i < 2; i++) {
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/init-stream%d.m4s", out[0], i);
        snprintf(b, sizeof b, "%s/init-stream%d.m4s", as, i);
        assert_true(same_file(a, b));
        char *ps = packets(out[0], i), *pa = packets(as, i);
        assert_string_equal(pa, ps);
        free(ps);
        free(pa);
    }
    /* 360 frames of 1001 ticks (30000/s) from 0; 518 AAC frames from -1024 (12 s at 44.1 kHz: 517, + priming)
     */
    char *pv = packets(as, 0), *pa = packets(as, 1);
    assert_continuous(pv, 0, 1001, 360);
    assert_continuous(pa, -1024, 1024, 518);
    free(pv);
    free(pa);
    pc_stream s;
    assert_int_equal(pc_probe_stream(as, 0, pc_in_tmp("joined.mp4"), &s), 0);
    assert_int_equal(s.nkeys, 6);
    for (int k = 0; k < s.nkeys; k++) /* the first frame at or after each 2 s mark */
        assert_float_equal(s.keys[k], ceil(2.0 * k * 30000 / 1001 - 1e-9) * 1001 / 30000, 1e-9);
    assert_int_equal(pc_count_chunks(as, 0), 3);
}

/* ------------------------------------------------------------ refusals */

static void assemble_fails(const char *dirs, const char *expect) {
    char args[4096], *err = NULL;
    snprintf(args, sizeof args, "transcode --assemble --out '%s' %s", pc_in_tmp("bad"), dirs);
    assert_int_equal(fa_test_run_cli(args, NULL, &err), 2);
    if (!strstr(err, expect)) fail_msg("expected '%s' in: %s", expect, err);
    free(err);
    assert_false(fa_test_file_exists(pc_in_tmp("bad")));
    snprintf(args, sizeof args, "ls -d '%s'.tmp-* 2>/dev/null | wc -l", pc_in_tmp("bad"));
    char *r = pc_run(args);
    assert_int_equal(atoi(r), 0);
    free(r);
}

static void test_assemble_refusals(void **state) {
    (void)state;
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "'%s' '%s' '%s'", pc_in_tmp("job0"), pc_in_tmp("job2"), pc_in_tmp("jobA"));
    assemble_fails(dirs, "stream 0: segment 3 is missing");
    snprintf(dirs, sizeof dirs, "'%s' '%s' '%s' '%s'", pc_in_tmp("job0"), pc_in_tmp("job1"), pc_in_tmp("job1"),
             pc_in_tmp("job2"));
    assemble_fails(dirs, "the same segment comes from two jobs");
    char args[4096];
    snprintf(args, sizeof args, "transcode '%s' --out '%s' --chunk 1 --chunk-seconds 8 --ladder 360,240",
             pc_in_tmp("av.mp4"), pc_in_tmp("other"));
    cli_ok(args);
    snprintf(dirs, sizeof dirs, "'%s' '%s' '%s'", pc_in_tmp("job0"), pc_in_tmp("other"), pc_in_tmp("job2"));
    assemble_fails(dirs, "init segment differs from another job's");
    snprintf(dirs, sizeof dirs, "'%s'", pc_in_tmp("nowhere"));
    assemble_fails(dirs, "cannot open the job directory");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_plan_cli),
        cmocka_unit_test(test_job_dirs),
        cmocka_unit_test(test_assembled_equals_single),
        cmocka_unit_test(test_manifests),
        cmocka_unit_test(test_ntsc_source),
        cmocka_unit_test(test_assemble_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
