/*
 * transcode.h - a video file to an adaptive-bitrate ladder served by both
 * DASH and HLS from one set of fMP4 segments.
 *
 * The pipeline: one decode feeds one filter graph (split, scale per rung,
 * yuv420p), one H.264 encoder per rung, the audio decoded and encoded once
 * to AAC; the dash muxer packages every rung and the audio into 4 s fMP4
 * segments and, with hls_playlist=1, writes the HLS master and media
 * playlists for the same segments. Keyframes are forced on a 2 s time grid
 * (closed GOPs, no scene-cut keyframes), identically in every rung, so the
 * segments of all rungs start at the same timestamps and a player can
 * switch between them at any segment boundary.
 *
 * Output is written into a temporary directory next to the target
 * (OUT.tmp-PID) and renamed into place only when complete; any failure or a
 * cancellation removes it, so a failed or interrupted run leaves nothing.
 *
 * Layout of OUT: manifest.mpd, master.m3u8, media_<i>.m3u8 (one per rung,
 * then the audio), init-stream<i>.m4s and chunk-stream<i>-<n>.m4s (n from
 * 00001). Stream i < ladder.n is rung i (largest first); the audio, when
 * present, is stream ladder.n.
 */
#ifndef FA_VIDEO_TRANSCODE_H
#define FA_VIDEO_TRANSCODE_H

#include <signal.h>
#include <stdint.h>

#include "probe.h"

/* ------------------------------------------------------------ ladder plan */

#define FA_LADDER_MAX 6
#define FA_LADDER_MIN_HEIGHT 144
#define FA_LADDER_MAX_HEIGHT 4320

/* One rung. A rung is named by its class, the height of its 16:9 bounding
 * box (720 means 1280x720); the picture is the source scaled to fit that box
 * with its display aspect kept, both sides even. The sample aspect ratio is
 * what makes the display aspect exact (854x480 of a 16:9 source has SAR
 * 1280:1281, as FFmpeg's scale filter computes it), so every rung has the
 * same display aspect and the dash muxer accepts them in ONE adaptation set. */
typedef struct fa_rung {
    int box_height;       /* class: 1080, 720, 480 ... */
    int width, height;    /* encoded picture, even */
    int sar_num, sar_den; /* sample aspect ratio of the encoded picture */
    int maxrate_kbps;     /* VBV cap (capped CRF) */
    int bufsize_kbits;    /* VBV buffer: 2 x maxrate */
} fa_rung;

typedef struct fa_ladder {
    int n; /* rungs, largest first */
    fa_rung rung[FA_LADDER_MAX];
} fa_ladder;

/* Parses "720,480,360" into heights[] (at most max), sorted largest first.
 * Each height an integer in [FA_LADDER_MIN_HEIGHT, FA_LADDER_MAX_HEIGHT],
 * even, no duplicates, at most FA_LADDER_MAX. Returns 0 or FA_EUSAGE with a
 * message "--ladder: ...". */
int fa_ladder_parse(const char *spec, int *heights, int max, int *n);

/* The default classes for a source: 720,480,360 when its display picture
 * fits in 1280x720, else 1080,720,480. Returns the count (3). */
int fa_ladder_default(const fa_video_info *src, int heights[3]);

/* Plans the rungs for src from the classes heights[0..n) (largest first):
 * each class's box is (round(16/9 * h) to even) x h; the source's display
 * aspect is fitted into it. Never upscales: a rung larger than the source
 * picture (in either dimension) is dropped; if the largest class was
 * dropped, the source size itself (rounded down to even, fitted to keep the
 * aspect) becomes the top rung. Rungs that end up the same size are merged.
 * Returns 0, or FA_EINVAL when nothing is left (source smaller than
 * 16x16). */
int fa_ladder_plan(const fa_video_info *src, const int *heights, int n, fa_ladder *out);

/* The VBV cap for a class, kbit/s: 2160 16000, 1440 9000, 1080 5000,
 * 720 3000, 540 2000, 480 1500, 360 800, 240 400, 144 200; linear in the
 * height between those. */
int fa_ladder_maxrate_kbps(int box_height);

/* ------------------------------------------------------------ transcode */

typedef enum fa_hwaccel { FA_HWACCEL_NONE, FA_HWACCEL_AUTO, FA_HWACCEL_CUDA, FA_HWACCEL_VAAPI } fa_hwaccel;

/* "none", "auto", "cuda", "vaapi" -> *out; 0 or FA_EUSAGE. */
int fa_hwaccel_parse(const char *s, fa_hwaccel *out);

typedef struct fa_transcode_progress {
    double percent;    /* 0..100 of the (limited) duration */
    double fps;        /* frames decoded per wall-clock second so far */
    double eta_s;      /* estimated seconds left; -1 when unknown */
    double elapsed_s;  /* wall-clock seconds since the start */
    double position_s; /* media time reached */
    double duration_s; /* media time to reach */
    int64_t frames;    /* video frames decoded */
    int done;          /* 1 on the final call (100 %) */
} fa_transcode_progress;

/* Called from the transcoding thread at most every progress_interval_s and
 * once at the end; must not call back into the transcoder. */
typedef void (*fa_transcode_progress_fn)(const fa_transcode_progress *p, void *user);

/* ------------------------------------------------------------ detector feed */

/* One frame for the detector: packed RGB24, width x height, rows stride
 * bytes apart. The pixels belong to the pipeline and are valid only until
 * the callback returns (they are the filter graph's own buffer, handed over
 * without a copy). */
typedef struct fa_video_frame {
    const uint8_t *rgb;
    int width, height, stride;
    double t;      /* seconds from the start of the output (timestamps rebased to 0) */
    int64_t index; /* 0, 1, 2 ... */
} fa_video_frame;

/* The consumer: called on the feed's own thread, in order, once per frame.
 * Returns 0 to go on, or a negative FA_E* code (with fa_err_set) to stop the
 * transcode with that error. */
typedef int (*fa_video_frame_fn)(const fa_video_frame *f, void *user);

/* A detector feed from the same decode: a branch of the filter graph
 * (fps=FPS, scale to width x height, rgb24) whose frames go through a
 * bounded queue to a consumer thread. A full queue makes the transcode wait
 * for the consumer (back-pressure), so memory stays bounded. */
typedef struct fa_video_feed {
    double fps;        /* frames per second of media time, e.g. 5 */
    int width, height; /* the size the detector asks for (even) */
    int queue;         /* frames in flight at most; 0: 4 */
    fa_video_frame_fn fn;
    void *user;
} fa_video_feed;

/* Which part of the work one fa_transcode call does (see chunk.h). */
typedef enum fa_transcode_part {
    FA_PART_ALL,   /* the whole file, one process: the package in out_dir */
    FA_PART_CHUNK, /* the video rungs of chunk chunk_index of the plan (no audio, no manifests) */
    FA_PART_AUDIO  /* the audio alone, whole timeline (no manifests) */
} fa_transcode_part;

typedef struct fa_transcode_opts {
    const char *input;   /* source file */
    const char *out_dir; /* target directory (must not exist unless force) */
    const int *ladder;   /* classes, largest first; NULL: fa_ladder_default */
    int nladder;
    const char *preset;                /* x264 preset; NULL: "superfast" */
    int segment_s;                     /* segment duration, a multiple of gop_s; 0: 4 */
    int gop_s;                         /* keyframe interval in seconds; 0: 2 */
    int crf;                           /* x264 CRF under the VBV cap; 0: 23 */
    fa_hwaccel hwaccel;                /* default AUTO; FA_HWACCEL_NONE: software only */
    int force;                         /* replace an existing out_dir */
    double max_input_s;                /* transcode only the first seconds; 0: all */
    const fa_video_limits *limits;     /* NULL: fa_video_limits_default */
    fa_transcode_progress_fn progress; /* may be NULL */
    void *progress_user;
    double progress_interval_s;          /* 0: 0.5 */
    const volatile sig_atomic_t *cancel; /* nonzero -> stop, clean up, FA_EIO "interrupted"; may be NULL */
    const fa_video_feed *feed;           /* detector feed; NULL: none */
    fa_transcode_part part;              /* FA_PART_ALL unless a chunk job (chunk.h) */
    double chunk_s;                      /* FA_PART_CHUNK: the plan's chunk length, seconds */
    int chunk_index;                     /* FA_PART_CHUNK: which chunk, 0-based */
} fa_transcode_opts;

/* Zeroed options with the defaults spelled out (preset "superfast",
 * segment 4, gop 2, crf 23, hwaccel auto, progress interval 0.5). */
void fa_transcode_opts_default(fa_transcode_opts *o);

typedef struct fa_transcode_result {
    fa_video_info source;   /* the probe */
    fa_ladder ladder;       /* the rungs encoded */
    int64_t frames;         /* video frames encoded per rung */
    double media_s;         /* media seconds transcoded */
    double wall_s;          /* wall-clock seconds */
    int segments;           /* media segments per stream */
    char video_encoder[32]; /* "libx264" or "h264_nvenc" */
    char hw_decoder[32];    /* hardware device used for decoding, or "" */
    int64_t feed_frames;    /* frames handed to the detector feed */
    int first_segment;      /* chunk jobs: number of the first segment written (1 otherwise) */
} fa_transcode_result;

/* Probes o->input (refusing bad input before any work, see probe.h), plans
 * the ladder and writes the package into o->out_dir. Returns 0 (res filled
 * when not NULL), FA_EINVAL/FA_ELIMIT for bad input (exit 2), FA_EUSAGE for
 * bad options or an existing out_dir without force, FA_EIO for a write
 * failure, an encoder failure or a cancellation ("interrupted"); a detector
 * feed consumer's own error code when it fails. On any error nothing is left at
 * out_dir or its temporary directory. */
int fa_transcode(const fa_transcode_opts *o, fa_transcode_result *res);

#endif
