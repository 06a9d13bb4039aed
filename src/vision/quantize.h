/*
 * quantize.h - a detector to INT8 on the frames it will see, and the cache
 * of the INT8 models a video analysis makes for itself.
 *
 * Calibration ranges are only as good as the inputs they are measured on:
 * a detector that runs on tiles of a pitch must be calibrated on tiles of
 * a pitch, preprocessed by its own front end. fa_det_tiles_gather cuts
 * frames into the detector's tile plan (the pitch region when roi is set)
 * and keeps an even spread of the tiles; fa_quantize_detector calibrates,
 * sends the few most sensitive convolutions back to fp32 and writes the
 * .fanq. `model quantize` and `model prune` gather their tiles from image
 * files; `analyze` (fa_autoquant) from the first seconds of the video
 * being analysed, once per model: the file is cached under its source's
 * SHA-256, so the next analysis with that model starts at INT8 speed.
 */
#ifndef FA_VISION_QUANTIZE_H
#define FA_VISION_QUANTIZE_H

#include <stddef.h>

#include "nn/nn.h"
#include "video/image.h"
#include "vision/detector.h"

/* Preprocessed network inputs, one tile each (NCHW float32, malloc'd). */
typedef struct fa_det_tiles {
    float **v;
    size_t n;
} fa_det_tiles;

void fa_det_tiles_free(fa_det_tiles *t);

/* Frame i (0-based, < n) of the caller's set into *img, which starts
 * zeroed and is freed by the gatherer. 0 or an error code (set). */
typedef int (*fa_frame_fn)(void *user, size_t i, fa_image *img);

/* The tiles of n frames as the detector of family fam and input
 * net_w x net_h would cut them (spec; over the pitch region when roi),
 * keeping at most max spread evenly over all of them: each frame is read
 * twice, once to count, once to keep. 0, FA_EINVAL (no tiles), FA_ENOMEM,
 * or the frame function's error; out is empty on error. */
int fa_det_tiles_gather(fa_det_family fam, int net_w, int net_h, const fa_tile_spec *spec, int roi,
                        fa_frame_fn frame, void *user, size_t n, size_t max, fa_det_tiles *out);

#define FA_QUANTIZE_FP32_CONVS 2 /* default: see cmd_model_tune.c and bench/RESULTS.md "INT8" */
#define FA_QUANTIZE_PERCENTILE 99.999
#define FA_QUANTIZE_MAX_TILES 128
#define FA_QUANTIZE_PROBE_MAX 16 /* tiles of the sensitivity pass, at most (the default) */

typedef struct fa_quantize_opts {
    const char *backend; /* NULL: auto */
    int method;          /* fa_nn_calib_method (default percentile) */
    double percentile;   /* 0: FA_QUANTIZE_PERCENTILE */
    int fp32_heads;      /* 1: the head convs stay fp32 */
    int fp32_convs;      /* most sensitive convs kept fp32 (0..FA_NN_KEEP_MAX) */
    size_t probe_tiles;  /* tiles the sensitivity pass runs on, spread over all (0: 16); its time is
                          * convolutions x (a model build + this many runs) */
} fa_quantize_opts;

/* Percentile, FA_QUANTIZE_FP32_CONVS kept, auto backend. */
void fa_quantize_opts_default(fa_quantize_opts *o);

typedef struct fa_quantize_report {
    double calib_s, keep_s;             /* seconds calibrating, and choosing the fp32 convs */
    size_t probe_tiles;                 /* tiles the sensitivity pass ran on */
    fa_nn_keep_report keep;             /* drift and the convs kept (keep.kept: 0 when fp32_convs is 0) */
    char kept_name[FA_NN_KEEP_MAX][64]; /* their node names */
    size_t int8_convs, int8_tensors, weight_bytes; /* of the written model, loaded back */
} fa_quantize_report;

/* Calibrates the FP32 model file at model on the tiles, keeps the
 * o->fp32_convs most sensitive convolutions fp32, writes the .fanq at out
 * and loads it back (the check that it runs; its figures go to rep).
 * 0 or the failing step's error (out may then be partly written). */
int fa_quantize_detector(const char *model, const fa_det_tiles *tiles, const fa_quantize_opts *o,
                         const char *out, fa_quantize_report *rep);

/* ----------------------------------------------------------- the cache */

typedef struct fa_autoquant_opts {
    /* Where the .fanq files live. NULL: $FA_CACHE_DIR, else
     * $XDG_CACHE_HOME/footanalytics, else $HOME/.cache/footanalytics. */
    const char *cache_dir;
    fa_tile_spec tiles; /* the analysis's tile plan */
    int roi;
    int width;          /* frames are resized to this width for the tiles, as the analysis's
                         * feed is (0: kept) */
    int frames;         /* calibration frames taken from the video (0: 8) */
    double every_s;     /* seconds between them (0: 0.5) */
    int refresh;        /* 1: quantise again even when cached */
    fa_quantize_opts q; /* fa_quantize_opts_default unless changed (part of the cache key) */
    /* Called once before quantising (not when the cache has the model), e.g. to tell a job
     * runner about the wait; may be NULL. */
    void (*on_build)(void *user);
    void *on_build_user;
} fa_autoquant_opts;

/* The analysis defaults: auto tiles over the pitch, 8 frames 0.5 s apart. */
void fa_autoquant_opts_default(fa_autoquant_opts *o);

typedef struct fa_autoquant_result {
    char path[4096]; /* the .fanq to run */
    int built;       /* 1: quantised now; 0: found in the cache */
    int temporary;   /* 1: the cache could not be written: path is a temporary file the caller
                      * removes after use (the reason was logged) */
    double build_s;  /* seconds quantising (built) */
    size_t frames;   /* calibration frames read (built) */
    size_t tiles;    /* tiles calibrated on (built) */
    size_t people;   /* person boxes the FP32 detector found in those frames (built); under 2 per
                      * frame on average the model is not cached (temporary) */
    fa_quantize_report report;
} fa_autoquant_result;

/* The INT8 version of the FP32 detector at model: the cached .fanq named
 * after model's base name, its SHA-256 and the quantisation options, when
 * it is there and loads (its source unchanged); otherwise quantised on the
 * first frames of video and stored in the cache (written to a temporary
 * name and renamed, so concurrent analyses never see half a file). When
 * the cache cannot be written, or the frames show fewer than 2 people
 * each on average, a temporary file is used instead (r->temporary).
 * 0, or FA_EINVAL (video has no frames, no tiles), FA_ENOTFOUND (model),
 * FA_EIO, FA_ENOMEM. */
int fa_autoquant(const char *model, const char *video, const fa_autoquant_opts *o, fa_autoquant_result *r);

#endif
