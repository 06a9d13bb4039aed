/*
 * test_quantize.c - quantising a detector on its own tiles
 * (src/vision/quantize.c) and the analysis's INT8 cache
 * (src/vision/autoquant.c), on the real models, labelled frames and clips:
 *   - tile gathering: the cap spreads over every frame, errors of the frame
 *     source come back, no frames is an error;
 *   - fa_quantize_detector writes a .fanq that loads and runs INT8, keeping
 *     the convs asked for fp32;
 *   - the cache: quantised once, found the second time, quantised again on
 *     request or when the cached file is damaged, a temporary file when the
 *     cache cannot be written or the frames show nobody (an empty pitch),
 *     clear errors for a missing model and a file that is not a video.
 * FastestDet with few frames and tiles keeps this quick under the sanitizers.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "testutil.h"
#include "vision/quantize.h"

#define FASTESTDET "models/fastestdet/FastestDet.onnx"
#define IMAGES "images/soccertrack_v2/train/images"
#define CLIP "video/soccertrack_v2_demo-tracking_annotated.mp4"
#define N_FRAMES 3

static char *tmp;

static int setup(void **state) {
    (void)state;
    tmp = fa_test_tmpdir();
    return tmp ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    fa_test_rmtree(tmp);
    free(tmp);
    return 0;
}

/* Three labelled frames, loaded on demand; records the frames read. */
typedef struct frame_files {
    char path[N_FRAMES][1024];
    int reads[N_FRAMES];
    int fail_at; /* -1: never */
} frame_files;

static int load(void *user, size_t i, fa_image *img) {
    frame_files *f = user;
    f->reads[i]++;
    if ((int)i == f->fail_at) return fa_err_set(FA_EIO, "frame %zu: made to fail", i);
    return fa_image_load(f->path[i], img);
}

static void frames_init(frame_files *f) {
    memset(f, 0, sizeof *f);
    f->fail_at = -1;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls '%s' | sort | head -%d", fa_test_data(IMAGES), N_FRAMES);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512];
    for (int i = 0; i < N_FRAMES; i++) {
        assert_non_null(fgets(line, sizeof line, p));
        line[strcspn(line, "\n")] = 0;
        snprintf(f->path[i], sizeof f->path[i], "%s/%s", fa_test_data(IMAGES), line);
    }
    pclose(p);
}

static void test_gather(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(IMAGES));
    frame_files f;
    frames_init(&f);
    fa_tile_spec spec = {.mode = FA_TILES_AUTO};
    fa_det_tiles all, five;
    assert_int_equal(
        fa_det_tiles_gather(FA_DET_FASTESTDET, 352, 352, &spec, 1, load, &f, N_FRAMES, 1000, &all), 0);
    assert_true(all.n > 5 * 2); /* 2160x1080 frames at 352: many pitch tiles each */
    memset(f.reads, 0, sizeof f.reads);
    assert_int_equal(fa_det_tiles_gather(FA_DET_FASTESTDET, 352, 352, &spec, 1, load, &f, N_FRAMES, 5, &five),
                     0);
    assert_int_equal(five.n, 5);
    /* the 5 are spread over all three frames: the last is read in the keeping pass too */
    for (int i = 0; i < N_FRAMES; i++)
        assert_int_equal(f.reads[i], 2);
    /* a kept tile is one of all's: the last tile of the plan is kept, bit for bit */
    assert_memory_equal(five.v[4], all.v[all.n - 1], (size_t)3 * 352 * 352 * sizeof(float));
    fa_det_tiles_free(&all);
    fa_det_tiles_free(&five);

    fa_det_tiles t;
    f.fail_at = 1;
    assert_int_equal(fa_det_tiles_gather(FA_DET_FASTESTDET, 352, 352, &spec, 1, load, &f, N_FRAMES, 5, &t),
                     FA_EIO);
    assert_non_null(strstr(fa_err_msg(), "frame 1: made to fail"));
    assert_null(t.v);
    assert_int_equal(fa_det_tiles_gather(FA_DET_FASTESTDET, 352, 352, &spec, 1, load, &f, 0, 5, &t),
                     FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "no tiles"));
}

static void test_quantize_detector(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(FASTESTDET));
    frame_files f;
    frames_init(&f);
    fa_tile_spec spec = {.mode = FA_TILES_AUTO};
    fa_det_tiles t;
    assert_int_equal(fa_det_tiles_gather(FA_DET_FASTESTDET, 352, 352, &spec, 1, load, &f, N_FRAMES, 6, &t),
                     0);
    fa_quantize_opts o;
    fa_quantize_opts_default(&o);
    assert_int_equal(o.fp32_convs, FA_QUANTIZE_FP32_CONVS);
    o.fp32_convs = 1, o.probe_tiles = 2;
    char out[1200];
    snprintf(out, sizeof out, "%s/fd.fanq", tmp);
    fa_quantize_report rep;
    int rc = fa_quantize_detector(fa_test_data(FASTESTDET), &t, &o, out, &rep);
    if (rc) fail_msg("%s", fa_err_msg());
    assert_int_equal(rep.probe_tiles, 2);
    assert_int_equal(rep.keep.kept, 1);
    assert_true(rep.kept_name[0][0] != '\0');
    assert_true(rep.keep.drift_int8 > 0 && rep.keep.drift_mixed > 0 && rep.keep.drift[0] > 0);
    assert_true(rep.int8_convs > 10);
    fa_nn_options no = {.precision = FA_NN_INT8};
    fa_nn_model *m = fa_nn_model_load(out, &no);
    assert_non_null(m);
    fa_nn_info info;
    fa_nn_model_info(m, &info);
    assert_int_equal(info.int8_convs, rep.int8_convs);
    fa_nn_model_free(m);
    fa_det_tiles_free(&t);
}

/* ---------------------------------------------------------------- the cache */

static void quick(fa_autoquant_opts *o, const char *dir) {
    fa_autoquant_opts_default(o);
    o->cache_dir = dir;
    o->frames = 2;
    o->width = 640;
    o->q.fp32_convs = 0; /* the sensitivity pass is tested above */
}

static int run_autoquant(const fa_autoquant_opts *o, fa_autoquant_result *r) {
    int rc = fa_autoquant(fa_test_data(FASTESTDET), fa_test_data(CLIP), o, r);
    if (rc) print_message("autoquant: %s\n", fa_err_msg());
    return rc;
}

static void count_build(void *user) { ++*(int *)user; }

static void test_cache(void **state) {
    (void)state;
    int builds = 0;
    FA_TEST_REQUIRE_DATA(fa_test_data(CLIP));
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/cache/deep", tmp); /* created on first use */
    fa_autoquant_opts o;
    quick(&o, dir);
    o.on_build = count_build, o.on_build_user = &builds;
    fa_autoquant_result *r = fa_calloc(1, sizeof *r);
    assert_int_equal(run_autoquant(&o, r), 0);
    assert_int_equal(r->built, 1);
    assert_int_equal(builds, 1);
    assert_int_equal(r->temporary, 0);
    assert_int_equal(r->frames, 2);
    assert_true(r->tiles >= 2);
    assert_true(r->people >= 2 * 2); /* the panorama's players: cached */
    assert_int_equal(strncmp(r->path, dir, strlen(dir)), 0);
    assert_non_null(strstr(r->path, "/FastestDet."));
    assert_non_null(strstr(r->path, ".p99.999-k0.fanq"));
    char first[4096];
    snprintf(first, sizeof first, "%s", r->path);
    struct stat st;
    assert_int_equal(stat(first, &st), 0);

    /* the second time: found, not built */
    assert_int_equal(run_autoquant(&o, r), 0);
    assert_int_equal(r->built, 0);
    assert_int_equal(builds, 1);
    assert_string_equal(r->path, first);

    /* other options: another entry */
    o.q.percentile = 99.99;
    assert_int_equal(run_autoquant(&o, r), 0);
    assert_int_equal(r->built, 1);
    assert_string_not_equal(r->path, first);
    o.q.percentile = FA_QUANTIZE_PERCENTILE;

    /* asked to: built again, same place */
    o.refresh = 1;
    assert_int_equal(run_autoquant(&o, r), 0);
    assert_int_equal(r->built, 1);
    assert_string_equal(r->path, first);
    o.refresh = 0;

    /* a damaged cached file: built again */
    assert_int_equal(truncate(first, 100), 0);
    assert_int_equal(run_autoquant(&o, r), 0);
    assert_int_equal(r->built, 1);
    assert_int_equal(stat(first, &st), 0);
    assert_true(st.st_size > 100);
    assert_int_equal(run_autoquant(&o, r), 0);
    assert_int_equal(r->built, 0);
    free(r);
}

static void test_cache_unwritable(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(CLIP));
    char file[1200];
    snprintf(file, sizeof file, "%s/not-a-dir", tmp);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    char dir[1300];
    snprintf(dir, sizeof dir, "%s/below", file); /* cannot be created: its parent is a file */
    fa_autoquant_opts o;
    quick(&o, dir);
    setenv("TMPDIR", tmp, 1);
    fa_autoquant_result *r = fa_calloc(1, sizeof *r);
    assert_int_equal(run_autoquant(&o, r), 0);
    assert_int_equal(r->built, 1);
    assert_int_equal(r->temporary, 1);
    assert_int_equal(strncmp(r->path, tmp, strlen(tmp)), 0);
    struct stat st;
    assert_int_equal(stat(r->path, &st), 0);
    unlink(r->path);
    unsetenv("TMPDIR");
    free(r);
}

/* 1 when dir has no entries (or does not exist). */
static int dir_is_empty(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n == 0;
}

/* An empty pitch calibrates its own run but is not cached. */
static void test_no_people(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(FASTESTDET));
    char cmd[1400], video[1200], dir[1200];
    snprintf(video, sizeof video, "%s/grass.mp4", tmp);
    snprintf(
        cmd, sizeof cmd,
        "ffmpeg -loglevel error -y -f lavfi -i color=c=0x2a8a3a:s=1280x720:d=2:r=25 -pix_fmt yuv420p '%s'",
        video);
    assert_int_equal(system(cmd), 0);
    snprintf(dir, sizeof dir, "%s/cache-grass", tmp);
    fa_autoquant_opts o;
    quick(&o, dir);
    fa_autoquant_result *r = fa_calloc(1, sizeof *r);
    int rc = fa_autoquant(fa_test_data(FASTESTDET), video, &o, r);
    if (rc) fail_msg("%s", fa_err_msg());
    assert_int_equal(r->built, 1);
    assert_int_equal(r->temporary, 1);
    assert_int_equal(r->people, 0);
    assert_int_equal(r->frames, 2);
    struct stat st;
    assert_int_equal(stat(r->path, &st), 0);
    unlink(r->path);
    assert_true(dir_is_empty(dir)); /* nothing cached */
    free(r);
}

static void test_errors(void **state) {
    (void)state;
    FA_TEST_REQUIRE_DATA(fa_test_data(FASTESTDET));
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/cache-err", tmp);
    fa_autoquant_opts o;
    quick(&o, dir);
    fa_autoquant_result *r = fa_calloc(1, sizeof *r);
    char missing[1200];
    snprintf(missing, sizeof missing, "%s/none.onnx", tmp);
    assert_int_equal(fa_autoquant(missing, fa_test_data(CLIP), &o, r), FA_ENOTFOUND);
    assert_non_null(strstr(fa_err_msg(), "none.onnx"));
    /* text named .mp4: the video's error, and nothing left in the cache */
    char *text = fa_test_write_file(tmp, "notes.mp4", "not a video\n", 12);
    assert_non_null(text);
    int rc = fa_autoquant(fa_test_data(FASTESTDET), text, &o, r);
    assert_true(rc == FA_EINVAL || rc == FA_EIO);
    assert_non_null(strstr(fa_err_msg(), "notes.mp4"));
    assert_true(dir_is_empty(dir));
    free(text);
    free(r);
}

int main(void) {
    fa_video_quiet();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather),    cmocka_unit_test(test_quantize_detector),
        cmocka_unit_test(test_cache),     cmocka_unit_test(test_cache_unwritable),
        cmocka_unit_test(test_no_people), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
