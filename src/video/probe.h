/*
 * probe.h - what a video file is, and whether the pipeline can take it.
 *
 * fa_video_probe() opens a file with libavformat, describes its container,
 * video and audio streams (codec, size, frame rate and whether it is
 * constant, duration, rotation) and proves it decodes by decoding its first
 * video frame. Everything that would make a transcode fail later is refused
 * here, before any work, with a one-line message naming the file and the
 * problem: an empty file, not a media file, no video stream (audio only),
 * no decoder, a truncated or corrupt file, absurd dimensions (FA_EINVAL), or
 * a size or duration over the configured limits (FA_ELIMIT). Both codes make
 * the CLI exit with status 2.
 */
#ifndef FA_VIDEO_PROBE_H
#define FA_VIDEO_PROBE_H

#include <stdint.h>

/* Configured limits. Zero in a field means "no limit" for that field. */
typedef struct fa_video_limits {
    int max_width, max_height; /* coded size, pixels */
    int64_t max_pixels;        /* width * height */
    double max_duration;       /* seconds */
} fa_video_limits;

/* Defaults: 7680x4320 (8K UHD), 7680*4320 pixels, 4 hours. */
void fa_video_limits_default(fa_video_limits *lim);

#define FA_VIDEO_NAME_MAX 32

typedef struct fa_video_info {
    char container[FA_VIDEO_NAME_MAX];   /* demuxer short name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    int video_stream;                    /* stream index in the container */
    char video_codec[FA_VIDEO_NAME_MAX]; /* "h264", "hevc", "av1" ... */
    char pix_fmt[FA_VIDEO_NAME_MAX];     /* of the first decoded frame, e.g. "yuv420p" */
    int width, height;                   /* coded size */
    int sar_num, sar_den;                /* sample aspect ratio (1:1 when unknown) */
    int display_width, display_height;   /* after rotation and SAR: the picture a player shows */
    int fps_num, fps_den;                /* average frame rate (falls back to r_frame_rate) */
    double fps;                          /* fps_num / fps_den */
    int vfr;                             /* 1: variable frame rate (rates disagree or uneven timestamps) */
    double duration;                     /* seconds; 0 when the container does not say */
    int64_t nb_frames;                   /* frame count from the container; 0 when unknown */
    int rotation;                        /* clockwise degrees to display upright: 0, 90, 180, 270 */
    int has_audio;
    int audio_stream; /* -1 without audio */
    char audio_codec[FA_VIDEO_NAME_MAX];
    int audio_channels, audio_rate; /* channels, samples per second */
    int64_t bit_rate;               /* container's overall bit rate, bits/s; 0 when unknown */
} fa_video_info;

/* Probes and validates path against lim (NULL: defaults), filling *info.
 * Returns 0, or FA_EINVAL (not a usable video: empty, not media, audio only,
 * no decoder, truncated, corrupt, absurd size), FA_ELIMIT (over a limit) or
 * FA_EIO (unreadable), with a message "BASENAME: problem". Never decodes more
 * than the first frame. */
int fa_video_probe(const char *path, const fa_video_limits *lim, fa_video_info *info);

/* One line describing info ("h264 1280x338 25/1 fps cfr 30.000 s, no audio")
 * into buf[size]; returns buf. */
const char *fa_video_describe(const fa_video_info *info, char *buf, int size);

#endif
