/*
 * video_internal.h - helpers shared by the files of src/video, not part of
 * its face (probe.h, transcode.h).
 */
#ifndef FA_VIDEO_INTERNAL_H
#define FA_VIDEO_INTERNAL_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/hwcontext.h>

#include "chunk.h"
#include "transcode.h"

/* The decoder for id, preferring software decoders that need no hardware:
 * libdav1d for AV1 (the native AV1 decoder needs a hardware device). */
const AVCodec *fa_video_find_decoder(enum AVCodecID id);

/* Formats an FFmpeg error code as text into buf[size]; returns buf. */
const char *fa_video_averr(int err, char *buf, size_t size);

/* Opens path for reading with libavformat, after checking it is a non-empty
 * regular file, and reads the stream information. Header dimensions are
 * checked against absurd values before the codecs are probed. On error sets
 * the message "BASENAME: ..." and returns FA_EINVAL/FA_EIO. */
int fa_video_open_input(const char *path, AVFormatContext **out);

/* Clockwise rotation (0/90/180/270) from a stream's display matrix. */
int fa_video_stream_rotation(const AVStream *st);

/* ---- package.c: the output directory and the DASH + HLS muxer */

/* Refuses an existing out unless force, then creates the temporary
 * directory "OUT.tmp-PID" into tmp[size]. 0 or FA_EUSAGE/FA_EIO. */
int fa_video_outdir_begin(const char *out, int force, char *tmp, size_t size);
/* Moves tmp to out (replacing out when force). 0 or FA_EIO. */
int fa_video_outdir_commit(const char *tmp, const char *out, int force);
/* Removes dir and everything under it (no symlinks followed); quiet. */
void fa_video_rmtree(const char *dir);

/* Allocates the dash muxer writing dir/manifest.mpd. 0 or FA_ENOMEM. */
int fa_video_package_alloc(AVFormatContext **oc, const char *dir);
/* Writes the header: segment_s-second fMP4 segments, video streams
 * 0..nvideo) in one adaptation set, the audio (stream nvideo, if any) in a
 * second, HLS playlists for the same segments. 0 or FA_EIO. */
int fa_video_package_start(AVFormatContext *oc, int segment_s, int nvideo, int has_audio);

/* ---- chunk.c: a chunk or audio job's directory made part of the whole stream */

/* In dir, written by a chunk job (c != NULL: nvideo rungs, segments renamed
 * to c->first_segment.. and their timestamps moved by off ticks of tb, the
 * time of the chunk's first frame in the whole stream) or by the audio job
 * (c == NULL: its stream 0 renamed to stream nvideo); removes the job's own
 * manifests and writes chunk.json. 0 or FA_EIO/FA_EINVAL. */
int fa_video_chunk_finish(const char *dir, int nvideo, const fa_chunk *c, int64_t off, AVRational tb);

/* ---- hwaccel.c: optional decoding device and NVENC */

typedef struct fa_video_hw {
    AVBufferRef *device; /* NULL: software */
    enum AVHWDeviceType type;
    enum AVPixelFormat pix_fmt; /* the decoder's hardware frame format */
    int try_nvenc;              /* CUDA device: try h264_nvenc for the rungs */
} fa_video_hw;

/* Tries the hardware mode asks for with decoder dec; on failure leaves hw
 * empty (software) and logs why. Never fails. */
void fa_video_hw_open(fa_hwaccel mode, const AVCodec *dec, fa_video_hw *hw);
void fa_video_hw_close(fa_video_hw *hw);
/* Makes dec decode on hw's device (no-op for software). 0 or FA_ENOMEM. */
int fa_video_hw_attach(fa_video_hw *hw, AVCodecContext *dec);
/* Replaces a hardware frame by its copy in system memory (sw is scratch).
 * 0 or FA_EIO. */
int fa_video_hw_download(const fa_video_hw *hw, AVFrame *frame, AVFrame *sw);

/* ---- feed.c: the detector feed's bounded queue and consumer thread */

typedef struct fa_video_feedq fa_video_feedq;
/* Starts the consumer thread for feed. NULL with the error set. */
fa_video_feedq *fa_video_feedq_start(const fa_video_feed *feed);
/* Moves frame's reference into the queue (no pixel copy; frame is left
 * empty), waiting while the queue is full. Returns 0, or the consumer's
 * error code once it has failed (its message is copied to this thread). */
int fa_video_feedq_push(fa_video_feedq *q, AVFrame *frame);
/* Lets the consumer finish the queued frames (drain = 1) or drops them
 * (drain = 0), joins it and frees q; returns the consumer's error or 0.
 * *count gets the frames the consumer received. */
int fa_video_feedq_finish(fa_video_feedq *q, int drain, int64_t *count);

#endif
