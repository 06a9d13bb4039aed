/*
 * autoquant.c - the INT8 detector an analysis runs by default, quantised
 * once per model on the video it first analyses and cached.
 *
 * INT8 NanoDet-m runs at 0.46x the FP32 time with every AP figure within a
 * point (bench/RESULTS.md "INT8"), and it is what keeps a whole analysis
 * near the cost of the transcode alone (bench_analyze). But an INT8 model
 * needs calibration frames, and asking every user to run `model quantize`
 * on frames of their own first would leave most analyses at FP32. The
 * frames are at hand: the video being analysed is football seen by the
 * camera the detector will run on. So the first analysis with a model
 * reads 8 frames 0.5 s apart from its start, cuts them into the tiles the
 * analysis will run (at the feed's width, over the pitch), calibrates
 * (~3 s for NanoDet-m on 2 cores) and stores the .fanq in the cache; every
 * later analysis with that model loads it. The ranges of one match carry
 * over to others (percentile calibration of the same network on the same
 * kind of picture); `--requantize` or `model quantize` on chosen frames
 * are there when they do not.
 *
 * The cache key is the model's base name, the first 64 bits of its SHA-256
 * (a changed model is a new entry: the .fanq itself also refuses a source
 * whose hash moved) and the quantisation options. Files are written under
 * a temporary name and renamed, so two analyses starting together never
 * read half a file; at worst both quantise. A cache that cannot be written
 * (read-only home, no $HOME) does not stop the analysis: the model goes to
 * a temporary file that the caller deletes, and a log line says why.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "vision/quantize.h"

#define DEFAULT_FRAMES 8
#define DEFAULT_EVERY_S 0.5
#define MIN_PEOPLE_PER_FRAME 2 /* below this the calibration is used but not cached: see look() */
#define DEFAULT_PROBE_TILES 8  /* the sensitivity pass: half of `model quantize`'s 16, half the time */

void fa_autoquant_opts_default(fa_autoquant_opts *o) {
    memset(o, 0, sizeof *o);
    o->tiles.mode = FA_TILES_AUTO;
    o->roi = 1;
    o->frames = DEFAULT_FRAMES;
    o->every_s = DEFAULT_EVERY_S;
    fa_quantize_opts_default(&o->q);
    o->q.probe_tiles = DEFAULT_PROBE_TILES;
}

/* mkdir -p dir. 0 or FA_EIO naming it. */
static int make_dirs(const char *dir) {
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return fa_err_set(FA_EIO, "%s: path too long", dir);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return fa_err_set(FA_EIO, "cache directory %s: cannot create %s: %s", dir, p, strerror(errno));
        if (!(*s = c)) break;
    }
    return 0;
}

/* The cache directory (see fa_autoquant_opts) into dir; FA_ENOTFOUND when none can be named. */
static int cache_dir(const fa_autoquant_opts *o, char *dir, size_t cap) {
    const char *env = getenv("FA_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (o->cache_dir && o->cache_dir[0])
        n = snprintf(dir, cap, "%s", o->cache_dir);
    else if (env && env[0])
        n = snprintf(dir, cap, "%s", env);
    else if (xdg && xdg[0] == '/')
        n = snprintf(dir, cap, "%s/footanalytics", xdg);
    else if (home && home[0] == '/')
        n = snprintf(dir, cap, "%s/.cache/footanalytics", home);
    else
        return fa_err_set(FA_ENOTFOUND, "no cache directory: set FA_CACHE_DIR (or HOME)");
    return n < (int)cap ? 0 : fa_err_set(FA_EIO, "cache directory path too long");
}

/* <base>.<sha256 first 64 bits>.p<percentile>-k<kept>[-minmax|-kl][-h].fanq */
static int cache_name(const char *model, const fa_quantize_opts *q, char *name, size_t cap) {
    unsigned char sha[32];
    if (fa_nn_model_file_sha256(model, sha)) return fa_err_code();
    const char *base = fa_path_base(model), *dot = strrchr(base, '.');
    int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    int n = snprintf(name, cap, "%.*s.%02x%02x%02x%02x%02x%02x%02x%02x.p%g-k%d%s%s.fanq", len, base, sha[0],
                     sha[1], sha[2], sha[3], sha[4], sha[5], sha[6], sha[7],
                     q->percentile > 0 ? q->percentile : FA_QUANTIZE_PERCENTILE, q->fp32_convs,
                     q->method == FA_NN_CALIB_PERCENTILE ? ""
                     : q->method == FA_NN_CALIB_MINMAX   ? "-minmax"
                                                         : "-kl",
                     q->fp32_heads ? "-h" : "");
    return n < (int)cap ? 0 : fa_err_set(FA_EIO, "%s: cache file name too long", base);
}

/* ------------------------------------------------------------ calibration frames */

typedef struct frame_set {
    fa_image *v;
    size_t n;
} frame_set;

static void frames_free(frame_set *f) {
    for (size_t i = 0; i < f->n; i++)
        fa_image_free(&f->v[i]);
    free(f->v);
}

/* img resized to width w (height by the aspect ratio), in place. */
static int shrink(fa_image *img, int w) {
    if (w <= 0 || w >= img->w) return 0;
    int h = (int)((double)img->h * w / img->w + 0.5);
    fa_image small = {0};
    if (fa_image_alloc(&small, w, h < 1 ? 1 : h)) return fa_err_code();
    fa_image_resize_region(img, 0, 0, img->w, img->h, small.rgb, small.w, small.h);
    fa_image_free(img);
    *img = small;
    return 0;
}

/* The first o->frames frames of video, o->every_s apart, at o->width. */
static int read_frames(const char *video, const fa_autoquant_opts *o, frame_set *fs) {
    size_t want = o->frames > 0 ? (size_t)o->frames : DEFAULT_FRAMES;
    double every = o->every_s > 0 ? o->every_s : DEFAULT_EVERY_S;
    fs->v = fa_calloc(want, sizeof *fs->v);
    fa_frames *f = fs->v ? fa_frames_open(video, 1.0 / every) : NULL;
    if (!f) return fs->v ? fa_err_code() : FA_ENOMEM;
    int rc = 0;
    while (fs->n < want) {
        int64_t index;
        double t;
        int got = fa_frames_next(f, &fs->v[fs->n], &index, &t);
        if (got <= 0) {
            rc = got;
            break;
        }
        if ((rc = shrink(&fs->v[fs->n++], o->width)) != 0) break;
    }
    fa_frames_close(f);
    if (!rc && fs->n == 0)
        rc = fa_err_set(FA_EINVAL, "%s: no frames to calibrate the INT8 detector on", video);
    return rc;
}

/* A copy of frame i (the gatherer frees what it is given). */
static int frame_copy(void *user, size_t i, fa_image *img) {
    const frame_set *fs = user;
    const fa_image *src = &fs->v[i];
    if (fa_image_alloc(img, src->w, src->h)) return fa_err_code();
    for (int y = 0; y < src->h; y++)
        memcpy(img->rgb + (size_t)y * img->stride, src->rgb + (size_t)y * src->stride, (size_t)src->w * 3);
    return 0;
}

/* The FP32 detector's person boxes over the calibration frames, at the
 * analysis's tiling: a calibration is kept in the cache only when its
 * frames show players (MIN_PEOPLE_PER_FRAME on average), so a first video
 * of an empty pitch or of something else altogether does not set the
 * ranges of every later analysis. Also gives the family and input size. */
static int look(const char *model, const fa_autoquant_opts *o, const frame_set *fs, fa_det_family *fam,
                int *w, int *h, size_t *people) {
    uint8_t classes[FA_COCO_CLASSES] = {0};
    classes[FA_COCO_PERSON] = 1;
    fa_detector_options d = {.backend = o->q.backend, .tiles = o->tiles, .roi = o->roi, .classes = classes};
    fa_detector *det = fa_detector_new(model, &d);
    if (!det) return fa_err_code();
    *fam = fa_detector_family(det);
    fa_detector_input_size(det, w, h);
    *people = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < fs->n; i++) {
        fa_detections dets = {0};
        rc = fa_detector_run(det, &fs->v[i], &dets, NULL);
        *people += dets.n;
        fa_detections_free(&dets);
    }
    fa_detector_free(det);
    return rc;
}

/* Quantises model on video's first frames into out. */
static int build(const char *model, const char *video, const fa_autoquant_opts *o, const char *out,
                 fa_autoquant_result *r) {
    fa_det_family fam = FA_DET_FASTESTDET;
    int w = 0, h = 0;
    frame_set fs = {0};
    fa_det_tiles tiles = {0};
    double t0 = fa_clock_now();
    int rc = read_frames(video, o, &fs);
    if (!rc) rc = look(model, o, &fs, &fam, &w, &h, &r->people);
    if (!rc)
        rc = fa_det_tiles_gather(fam, w, h, &o->tiles, o->roi, frame_copy, &fs, fs.n, FA_QUANTIZE_MAX_TILES,
                                 &tiles);
    r->frames = fs.n, r->tiles = tiles.n;
    frames_free(&fs);
    if (!rc) rc = fa_quantize_detector(model, &tiles, &o->q, out, &r->report);
    fa_det_tiles_free(&tiles);
    r->build_s = fa_clock_now() - t0;
    return rc;
}

/* ------------------------------------------------------------ the cache */

/* Builds into a temporary name beside final and renames it into place,
 * unless the frames showed too few people: then the temporary file is the
 * model of this run only. */
static int build_cached(const char *model, const char *video, const fa_autoquant_opts *o, const char *final,
                        fa_autoquant_result *r) {
    char tmp[PATH_MAX + 32]; /* ends in .fanq: the loader goes by the extension */
    snprintf(tmp, sizeof tmp, "%.*s.%ld.tmp.fanq", (int)(strlen(final) - 5), final, (long)getpid());
    int rc = build(model, video, o, tmp, r);
    if (!rc && r->people < MIN_PEOPLE_PER_FRAME * r->frames) {
        fa_log(FA_LOG_WARN, "INT8 model not cached: too few people in the calibration frames",
               "people=%zu frames=%zu", r->people, r->frames);
        snprintf(r->path, sizeof r->path, "%.4000s", tmp);
        r->temporary = 1;
        return 0;
    }
    if (!rc && rename(tmp, final) != 0)
        rc = fa_err_set(FA_EIO, "%s: cannot rename into the cache: %s", final, strerror(errno));
    if (rc) unlink(tmp);
    return rc;
}

/* The cache cannot be used (reason in the error): quantise into a temporary file. */
static int build_temporary(const char *model, const char *video, const fa_autoquant_opts *o,
                           fa_autoquant_result *r) {
    fa_log(FA_LOG_WARN, "INT8 model not cached: quantising into a temporary file", "reason=\"%s\"",
           fa_err_msg());
    fa_err_clear();
    const char *tmpdir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp";
    snprintf(r->path, sizeof r->path, "%s/fa-int8-%ld-%s.fanq", tmpdir, (long)getpid(), fa_path_base(model));
    r->temporary = r->built = 1;
    if (o->on_build) o->on_build(o->on_build_user);
    int rc = build(model, video, o, r->path, r);
    if (rc) unlink(r->path);
    return rc;
}

/* 1 when the cached file at path is usable (parses, its source unchanged). */
static int cached_ok(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    if (fa_nn_quant_file_check(path) != 0) {
        fa_log(FA_LOG_WARN, "cached INT8 model unusable: quantising again", "file=%s reason=\"%s\"", path,
               fa_err_msg());
        fa_err_clear();
        return 0;
    }
    return 1;
}

int fa_autoquant(const char *model, const char *video, const fa_autoquant_opts *o, fa_autoquant_result *r) {
    memset(r, 0, sizeof *r);
    char abs_model[PATH_MAX], dir[PATH_MAX], name[512];
    /* the .fanq stores its source's path: absolute, so it loads from any directory */
    if (!realpath(model, abs_model))
        return fa_err_set(errno == ENOENT ? FA_ENOTFOUND : FA_EIO, "%s: %s", model, strerror(errno));
    int rc = cache_name(abs_model, &o->q, name, sizeof name);
    if (rc) return rc;
    if (cache_dir(o, dir, sizeof dir) || make_dirs(dir)) return build_temporary(abs_model, video, o, r);
    if (access(dir, W_OK) != 0) {
        fa_err_set(FA_EIO, "cache directory %s: not writable: %s", dir, strerror(errno));
        return build_temporary(abs_model, video, o, r);
    }
    if (snprintf(r->path, sizeof r->path, "%s/%s", dir, name) >= (int)sizeof r->path)
        return fa_err_set(FA_EIO, "%s: cache path too long", dir);
    if (!o->refresh && cached_ok(r->path)) return 0;
    fa_log(FA_LOG_INFO, "quantising the detector to INT8 on the video's first frames (once per model)",
           "model=%s cache=%s", fa_path_base(abs_model), r->path);
    r->built = 1;
    if (o->on_build) o->on_build(o->on_build_user);
    return build_cached(abs_model, video, o, r->path, r);
}
