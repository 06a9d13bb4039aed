/*
 * image.h - the face of src/video: decoded pictures in memory and a frame
 * reader over image and video files (FFmpeg's libavformat/libavcodec/
 * libswscale underneath; nothing else in the project includes FFmpeg).
 *
 * Every picture is packed RGB24 (3 bytes per pixel, rows `stride` bytes
 * apart), the one layout the detector front end and the drawing code need.
 */
#ifndef FA_VIDEO_IMAGE_H
#define FA_VIDEO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Limits on what is decoded: a side longer than this, or more pixels than
 * FA_IMAGE_MAX_PIXELS, is refused with FA_ELIMIT before any pixel is held. */
#define FA_IMAGE_MAX_SIDE 16384
#define FA_IMAGE_MAX_PIXELS (64u << 20)

typedef struct fa_image {
    int w, h;
    size_t stride; /* bytes per row (>= 3 * w) */
    uint8_t *rgb;  /* owned; w * h pixels, R G B */
} fa_image;

/* Allocates a w x h picture (zeroed, stride 3 * w). 0, FA_ELIMIT, FA_ENOMEM. */
int fa_image_alloc(fa_image *img, int w, int h);
/* Frees the pixels and zeroes img (safe on a zeroed image). */
void fa_image_free(fa_image *img);

/* Decodes the picture in path (JPEG, PNG or anything FFmpeg reads; for a
 * video, its first frame). 0, or < 0 with a message naming the file:
 * FA_ENOTFOUND (no such file), FA_EINVAL (not an image, corrupt),
 * FA_ELIMIT (too large), FA_ENOMEM. img is zeroed on error. */
int fa_image_load(const char *path, fa_image *img);

/* Writes img as a PNG file (FFmpeg's png encoder). 0 or FA_EIO naming path. */
int fa_image_save_png(const fa_image *img, const char *path);

/* Resamples the region (x, y, w, h) of src to dst_w x dst_h into dst
 * (packed RGB24, 3 * dst_w bytes per row) with bilinear interpolation on
 * pixel centres (OpenCV's INTER_LINEAR convention, so boxes agree with
 * detectors' reference demos). The region must lie inside src. */
void fa_image_resize_region(const fa_image *src, int x, int y, int w, int h, uint8_t *dst, int dst_w,
                            int dst_h);

/* Fills the rectangle [x1, x2] x [y1, y2] (inclusive, clipped to the image). */
void fa_image_fill_rect(fa_image *img, int x1, int y1, int x2, int y2, uint8_t r, uint8_t g, uint8_t b);

/* Draws a w-pixel-thick rectangle outline (clipped to the image). */
void fa_image_draw_rect(fa_image *img, int x1, int y1, int x2, int y2, int thick, uint8_t r, uint8_t g,
                        uint8_t b);

/* Lowers FFmpeg's own logging to fatal errors only (it prints decoder
 * warnings on stderr otherwise; our errors carry the reason instead). */
void fa_video_quiet(void);

/* A frame reader over a video (or a single image: one frame). */
typedef struct fa_frames fa_frames;

/* Opens path. fps > 0 samples about fps frames per second of stream time
 * (the first frame at or after each 1/fps step); fps <= 0 returns every
 * frame. NULL with the error set as for fa_image_load. */
fa_frames *fa_frames_open(const char *path, double fps);
/* Decodes the next selected frame into img (reusing its pixels when the
 * size is unchanged; img must start zeroed). Returns 1 with *index (0-based
 * frame number in the stream) and *t (seconds from the stream start), 0 at
 * the end, < 0 with the error set (a corrupt stream names the file). */
int fa_frames_next(fa_frames *f, fa_image *img, int64_t *index, double *t);
/* Frames per second the stream declares (0 when unknown). */
double fa_frames_rate(const fa_frames *f);
void fa_frames_close(fa_frames *f);

#endif
