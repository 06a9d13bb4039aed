/*
 * image.c - pictures and frames from files, through FFmpeg.
 *
 * One reader serves both still images and videos: libavformat opens any file
 * (its image2 demuxer treats a JPEG or PNG as a one-frame stream), libavcodec
 * decodes packets into frames, and libswscale converts each frame's native
 * pixel format (YUV 4:2:0 for JPEG and H.264/HEVC, RGB for PNG) to packed
 * RGB24. A single code path means a corrupt JPEG and a corrupt video fail the
 * same way, with the file named.
 *
 * FFmpeg's "yuvj" pixel formats (full-range YUV, what JPEG decodes to) are
 * deprecated inputs for swscale, so they are mapped to the plain YUV format
 * with the range passed explicitly; that keeps colours right and FFmpeg
 * quiet.
 *
 * Decoding uses one codec thread: threads belong to the process pool
 * (ARCHITECTURE.md section 3), and a frame is decoded far faster than the
 * detector consumes it.
 *
 * The resampler for network inputs is our own bilinear on pixel centres
 * rather than swscale, because reference detections (OpenCV's demos) are
 * produced with that exact convention and swscale's bilinear widens its
 * filter when shrinking; it also works on any sub-rectangle (a tile)
 * without alignment concerns.
 */
#include "video/image.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "core/core.h"

struct fa_frames {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frm;
    struct SwsContext *sws;
    int stream;
    int flushed;         /* the decoder has been sent its end-of-stream */
    double tb;           /* seconds per timestamp unit */
    double rate;         /* declared frames per second, 0 if unknown */
    double step, next_t; /* sampling: keep the first frame at or after next_t */
    int64_t count;       /* frames decoded so far */
    int64_t start_pts;
    const char *name; /* base name of the path, for messages */
    char *path;
};

void fa_video_quiet(void) { av_log_set_level(AV_LOG_FATAL); }

int fa_image_alloc(fa_image *img, int w, int h) {
    memset(img, 0, sizeof *img);
    if (w <= 0 || h <= 0 || w > FA_IMAGE_MAX_SIDE || h > FA_IMAGE_MAX_SIDE ||
        (uint64_t)w * (uint64_t)h > FA_IMAGE_MAX_PIXELS)
        return fa_err_set(FA_ELIMIT, "image %dx%d: outside the limits (sides 1..%d, at most %u pixels)", w, h,
                          FA_IMAGE_MAX_SIDE, FA_IMAGE_MAX_PIXELS);
    img->rgb = fa_calloc((size_t)w * (size_t)h, 3);
    if (!img->rgb) return FA_ENOMEM;
    img->w = w;
    img->h = h;
    img->stride = (size_t)w * 3;
    return 0;
}

void fa_image_free(fa_image *img) {
    if (!img) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

static const char *av_reason(int ret, char *buf, size_t n) {
    av_strerror(ret, buf, n);
    return buf;
}

static int check_exists(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return fa_err_set(errno == ENOENT ? FA_ENOTFOUND : FA_EIO, "%s: %s", fa_path_base(path),
                          errno == ENOENT ? "no such file" : strerror(errno));
    if (S_ISDIR(st.st_mode)) return fa_err_set(FA_EINVAL, "%s: is a directory", fa_path_base(path));
    return 0;
}

static int open_decoder(fa_frames *f) {
    char why[128];
    const AVCodec *codec = NULL;
    int s = av_find_best_stream(f->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (s < 0 || !codec)
        return fa_err_set(FA_EINVAL, "%s: no picture or video stream FFmpeg can decode", f->name);
    f->stream = s;
    AVStream *st = f->fmt->streams[s];
    int w = st->codecpar->width, h = st->codecpar->height;
    if (w > FA_IMAGE_MAX_SIDE || h > FA_IMAGE_MAX_SIDE || (uint64_t)w * (uint64_t)h > FA_IMAGE_MAX_PIXELS)
        return fa_err_set(FA_ELIMIT, "%s: %dx%d pixels exceeds the limits (sides <= %d, <= %u pixels)",
                          f->name, w, h, FA_IMAGE_MAX_SIDE, FA_IMAGE_MAX_PIXELS);
    f->dec = avcodec_alloc_context3(codec);
    if (!f->dec) return fa_err_set(FA_ENOMEM, "%s: out of memory for the decoder", f->name);
    int ret = avcodec_parameters_to_context(f->dec, st->codecpar);
    if (ret >= 0) {
        f->dec->thread_count = 1;
        ret = avcodec_open2(f->dec, codec, NULL);
    }
    if (ret < 0)
        return fa_err_set(FA_EINVAL, "%s: cannot open the %s decoder (FFmpeg: %s)", f->name, codec->name,
                          av_reason(ret, why, sizeof why));
    f->tb = av_q2d(st->time_base);
    AVRational r = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    f->rate = r.num && r.den ? av_q2d(r) : 0;
    f->start_pts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    return 0;
}

fa_frames *fa_frames_open(const char *path, double fps) {
    if (check_exists(path)) return NULL;
    fa_frames *f = fa_calloc(1, sizeof *f);
    if (!f) return NULL;
    f->path = fa_strdup(path);
    if (!f->path) return fa_frames_close(f), NULL;
    f->name = fa_path_base(f->path);
    char why[128];
    int ret = avformat_open_input(&f->fmt, path, NULL, NULL);
    if (ret < 0) {
        fa_err_set(FA_EINVAL, "%s: not an image or video FFmpeg can read (%s)", f->name,
                   av_reason(ret, why, sizeof why));
        return fa_frames_close(f), NULL;
    }
    ret = avformat_find_stream_info(f->fmt, NULL);
    if (ret < 0) {
        fa_err_set(FA_EINVAL, "%s: cannot read the stream layout (FFmpeg: %s)", f->name,
                   av_reason(ret, why, sizeof why));
        return fa_frames_close(f), NULL;
    }
    if (open_decoder(f)) return fa_frames_close(f), NULL;
    f->pkt = av_packet_alloc();
    f->frm = av_frame_alloc();
    if (!f->pkt || !f->frm) {
        fa_err_set(FA_ENOMEM, "%s: out of memory for frames", f->name);
        return fa_frames_close(f), NULL;
    }
    f->step = fps > 0 ? 1.0 / fps : 0;
    return f;
}

void fa_frames_close(fa_frames *f) {
    if (!f) return;
    sws_freeContext(f->sws);
    av_frame_free(&f->frm);
    av_packet_free(&f->pkt);
    avcodec_free_context(&f->dec);
    avformat_close_input(&f->fmt);
    free(f->path);
    free(f);
}

double fa_frames_rate(const fa_frames *f) { return f->rate; }

/* The non-deprecated twin of a full-range "yuvj" format; *full set to 1. */
static enum AVPixelFormat plain_format(enum AVPixelFormat p, int *full) {
    switch (p) {
    case AV_PIX_FMT_YUVJ420P: *full = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full = 1; return AV_PIX_FMT_YUV411P;
    default: return p;
    }
}

/* Converts the decoded frame to RGB24 into img (reallocated on a size change). */
static int convert_frame(fa_frames *f, fa_image *img) {
    AVFrame *fr = f->frm;
    if (img->w != fr->width || img->h != fr->height || !img->rgb) {
        fa_image_free(img);
        if (fa_image_alloc(img, fr->width, fr->height)) return fa_err_prefix("%s", f->name);
    }
    int full = fr->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat src = plain_format((enum AVPixelFormat)fr->format, &full);
    f->sws = sws_getCachedContext(f->sws, fr->width, fr->height, src, fr->width, fr->height, AV_PIX_FMT_RGB24,
                                  SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    if (!f->sws)
        return fa_err_set(FA_EINVAL, "%s: cannot convert pixel format %d to RGB", f->name, fr->format);
    const int *coef = sws_getCoefficients(SWS_CS_DEFAULT);
    sws_setColorspaceDetails(f->sws, coef, full, coef, 1, 0, 1 << 16, 1 << 16);
    uint8_t *dst[4] = {img->rgb, NULL, NULL, NULL};
    int dst_stride[4] = {(int)img->stride, 0, 0, 0};
    sws_scale(f->sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, dst, dst_stride);
    return 0;
}

/* Whether the frame at t is one the sampling keeps (advances the schedule). */
static int keep_frame(fa_frames *f, double t) {
    if (f->step <= 0) return 1;
    if (t + 1e-6 < f->next_t) return 0;
    while (f->next_t <= t + 1e-6)
        f->next_t += f->step;
    return 1;
}

/* Feeds the decoder one packet of our stream (or the end of stream). */
static int feed_packet(fa_frames *f) {
    char why[128];
    for (;;) {
        int ret = av_read_frame(f->fmt, f->pkt);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(f->fmt->pb))) {
            f->flushed = 1;
            avcodec_send_packet(f->dec, NULL);
            return 0;
        }
        if (ret < 0)
            return fa_err_set(FA_EINVAL, "%s: read error after frame %lld (FFmpeg: %s)", f->name,
                              (long long)f->count, av_reason(ret, why, sizeof why));
        if (f->pkt->stream_index != f->stream) {
            av_packet_unref(f->pkt);
            continue;
        }
        ret = avcodec_send_packet(f->dec, f->pkt);
        av_packet_unref(f->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN))
            return fa_err_set(FA_EINVAL, "%s: corrupt data at frame %lld (FFmpeg: %s)", f->name,
                              (long long)f->count, av_reason(ret, why, sizeof why));
        return 0;
    }
}

int fa_frames_next(fa_frames *f, fa_image *img, int64_t *index, double *t) {
    char why[128];
    for (;;) {
        int ret = avcodec_receive_frame(f->dec, f->frm);
        if (ret == AVERROR(EAGAIN)) {
            if (f->flushed) return 0;
            if ((ret = feed_packet(f)) < 0) return ret;
            continue;
        }
        if (ret == AVERROR_EOF) return 0;
        if (ret < 0)
            return fa_err_set(FA_EINVAL, "%s: cannot decode frame %lld (FFmpeg: %s)", f->name,
                              (long long)f->count, av_reason(ret, why, sizeof why));
        int64_t n = f->count++;
        int64_t pts = f->frm->best_effort_timestamp;
        double ts =
            pts != AV_NOPTS_VALUE ? (double)(pts - f->start_pts) * f->tb : (f->rate > 0 ? n / f->rate : 0);
        if (!keep_frame(f, ts)) {
            av_frame_unref(f->frm);
            continue;
        }
        ret = convert_frame(f, img);
        av_frame_unref(f->frm);
        if (ret) return ret;
        *index = n;
        *t = ts;
        return 1;
    }
}

int fa_image_load(const char *path, fa_image *img) {
    memset(img, 0, sizeof *img);
    fa_frames *f = fa_frames_open(path, 0);
    if (!f) return fa_err_code() ? fa_err_code() : FA_EIO;
    int64_t index;
    double t;
    int ret = fa_frames_next(f, img, &index, &t);
    if (ret == 0) ret = fa_err_set(FA_EINVAL, "%s: no picture could be decoded (empty or corrupt)", f->name);
    fa_frames_close(f);
    if (ret < 0) {
        fa_image_free(img);
        return ret;
    }
    return 0;
}

/* Encodes img with FFmpeg's PNG encoder into *pkt. */
static int encode_png(const fa_image *img, AVCodecContext **ctx, AVFrame **fr, AVPacket **pkt) {
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (!codec) return -1;
    *ctx = avcodec_alloc_context3(codec);
    *fr = av_frame_alloc();
    *pkt = av_packet_alloc();
    if (!*ctx || !*fr || !*pkt) return -1;
    (*ctx)->width = img->w;
    (*ctx)->height = img->h;
    (*ctx)->pix_fmt = AV_PIX_FMT_RGB24;
    (*ctx)->time_base = (AVRational){1, 25};
    if (avcodec_open2(*ctx, codec, NULL) < 0) return -1;
    (*fr)->format = AV_PIX_FMT_RGB24;
    (*fr)->width = img->w;
    (*fr)->height = img->h;
    (*fr)->data[0] = img->rgb;
    (*fr)->linesize[0] = (int)img->stride;
    if (avcodec_send_frame(*ctx, *fr) < 0 || avcodec_send_frame(*ctx, NULL) < 0) return -1;
    return avcodec_receive_packet(*ctx, *pkt) < 0 ? -1 : 0;
}

int fa_image_save_png(const fa_image *img, const char *path) {
    AVCodecContext *ctx = NULL;
    AVFrame *fr = NULL;
    AVPacket *pkt = NULL;
    int ret = 0;
    if (encode_png(img, &ctx, &fr, &pkt)) {
        ret = fa_err_set(FA_EIO, "%s: PNG encoding failed", fa_path_base(path));
    } else {
        FILE *fp = fopen(path, "wb");
        if (!fp || fwrite(pkt->data, 1, (size_t)pkt->size, fp) != (size_t)pkt->size)
            ret = fa_err_set(FA_EIO, "%s: cannot write: %s", fa_path_base(path), strerror(errno));
        if (fp && fclose(fp) && !ret)
            ret = fa_err_set(FA_EIO, "%s: cannot write: %s", fa_path_base(path), strerror(errno));
    }
    if (fr) fr->data[0] = NULL;
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&ctx);
    return ret;
}

static void fill_span(fa_image *img, int x1, int y1, int x2, int y2, uint8_t r, uint8_t g, uint8_t b) {
    if (x1 < 0) x1 = 0;
    if (y1 < 0) y1 = 0;
    if (x2 > img->w - 1) x2 = img->w - 1;
    if (y2 > img->h - 1) y2 = img->h - 1;
    for (int y = y1; y <= y2; y++)
        for (int x = x1; x <= x2; x++) {
            uint8_t *p = img->rgb + (size_t)y * img->stride + (size_t)x * 3;
            p[0] = r, p[1] = g, p[2] = b;
        }
}

void fa_image_fill_rect(fa_image *img, int x1, int y1, int x2, int y2, uint8_t r, uint8_t g, uint8_t b) {
    fill_span(img, x1, y1, x2, y2, r, g, b);
}

void fa_image_draw_rect(fa_image *img, int x1, int y1, int x2, int y2, int thick, uint8_t r, uint8_t g,
                        uint8_t b) {
    if (thick < 1) thick = 1;
    fill_span(img, x1, y1, x2, y1 + thick - 1, r, g, b);
    fill_span(img, x1, y2 - thick + 1, x2, y2, r, g, b);
    fill_span(img, x1, y1, x1 + thick - 1, y2, r, g, b);
    fill_span(img, x2 - thick + 1, y1, x2, y2, r, g, b);
}
