/*
 * writer.h - RGB pictures to an H.264 MP4 file: what the analyze command's
 * overlay and radar videos are written with. Frames come at a fixed rate
 * (the detection rate), so timestamps are frame numbers.
 */
#ifndef FA_VIDEO_WRITER_H
#define FA_VIDEO_WRITER_H

#include "video/image.h"

typedef struct fa_video_writer fa_video_writer;

/* Opens path (.mp4) for w x h pictures (both even) at fps frames per
 * second: libx264 (preset veryfast, CRF 23), yuv420p, +faststart. The file
 * is written to path.tmp and renamed by fa_video_writer_close. NULL with
 * the error set (FA_EINVAL bad size or rate, FA_EIO, FA_EUNAVAIL no
 * H.264 encoder). */
fa_video_writer *fa_video_writer_open(const char *path, int w, int h, double fps);
/* Appends one picture of the opened size. 0, FA_EINVAL (another size),
 * FA_EIO (encoder or write failure). */
int fa_video_writer_push(fa_video_writer *vw, const fa_image *img);
/* Flushes, finishes the file and renames it into place (commit != 0), or
 * removes it (commit 0, e.g. after an error). Frees vw. 0 or FA_EIO. */
int fa_video_writer_close(fa_video_writer *vw, int commit);

#endif
