/*
 * writer.c - RGB pictures to an H.264 MP4 (see writer.h).
 *
 * Deliberately small: one libx264 encoder, one swscale conversion from
 * packed RGB to yuv420p, the mp4 muxer with faststart so a browser can
 * start the overlay video before it has the whole file. Written beside the
 * target and renamed when complete, like every output of src/video, so an
 * interrupted run leaves no half file.
 */
#include "video/writer.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "video/video_internal.h"

struct fa_video_writer {
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    struct SwsContext *sws;
    AVFrame *frame;
    AVPacket *pkt;
    int w, h;
    int64_t next_pts;
    char path[1024], tmp[1040];
};

static int fail_av(const fa_video_writer *vw, const char *what, int err) {
    char buf[128];
    return fa_err_set(FA_EIO, "%s: %s: %s", vw->path, what, fa_video_averr(err, buf, sizeof buf));
}

static int open_encoder(fa_video_writer *vw, double fps) {
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) return fa_err_set(FA_EUNAVAIL, "%s: no libx264 encoder in this FFmpeg", vw->path);
    if (!(vw->enc = avcodec_alloc_context3(codec))) return FA_ENOMEM;
    AVRational rate = av_d2q(fps, 1000);
    vw->enc->width = vw->w, vw->enc->height = vw->h;
    vw->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    vw->enc->time_base = av_inv_q(rate);
    vw->enc->framerate = rate;
    vw->enc->gop_size = (int)(fps * 2 + 0.5);
    vw->enc->max_b_frames = 0; /* every frame decodable in order: a review video is stepped through */
    if (vw->oc->oformat->flags & AVFMT_GLOBALHEADER) vw->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(vw->enc->priv_data, "preset", "veryfast", 0);
    av_opt_set(vw->enc->priv_data, "crf", "23", 0);
    int err = avcodec_open2(vw->enc, codec, NULL);
    if (err < 0) return fail_av(vw, "cannot open libx264", err);
    if (!(vw->st = avformat_new_stream(vw->oc, NULL))) return FA_ENOMEM;
    vw->st->time_base = vw->enc->time_base;
    err = avcodec_parameters_from_context(vw->st->codecpar, vw->enc);
    return err < 0 ? fail_av(vw, "stream parameters", err) : 0;
}

static int open_output(fa_video_writer *vw) {
    int err = avformat_alloc_output_context2(&vw->oc, NULL, "mp4", vw->tmp);
    if (err < 0) return fail_av(vw, "mp4 muxer", err);
    return 0;
}

static int start(fa_video_writer *vw, double fps) {
    int rc = open_output(vw);
    if (!rc) rc = open_encoder(vw, fps);
    if (rc) return rc;
    int err = avio_open(&vw->oc->pb, vw->tmp, AVIO_FLAG_WRITE);
    if (err < 0) return fail_av(vw, "cannot create", err);
    AVDictionary *opts = NULL;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    err = avformat_write_header(vw->oc, &opts);
    av_dict_free(&opts);
    if (err < 0) return fail_av(vw, "header", err);
    vw->sws = sws_getContext(vw->w, vw->h, AV_PIX_FMT_RGB24, vw->w, vw->h, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL,
                             NULL, NULL);
    vw->frame = av_frame_alloc();
    vw->pkt = av_packet_alloc();
    if (!vw->sws || !vw->frame || !vw->pkt) return FA_ENOMEM;
    vw->frame->format = AV_PIX_FMT_YUV420P, vw->frame->width = vw->w, vw->frame->height = vw->h;
    err = av_frame_get_buffer(vw->frame, 0);
    return err < 0 ? fail_av(vw, "frame", err) : 0;
}

static void release(fa_video_writer *vw) {
    if (vw->oc && vw->oc->pb) avio_closep(&vw->oc->pb);
    avformat_free_context(vw->oc);
    avcodec_free_context(&vw->enc);
    sws_freeContext(vw->sws);
    av_frame_free(&vw->frame);
    av_packet_free(&vw->pkt);
    free(vw);
}

fa_video_writer *fa_video_writer_open(const char *path, int w, int h, double fps) {
    if (w < 16 || h < 16 || w % 2 || h % 2 || w > 8192 || h > 8192 || !(fps > 0 && fps <= 240)) {
        fa_err_set(FA_EINVAL, "%s: cannot write %dx%d at %g fps (even sizes 16..8192, 0 < fps <= 240)", path, w,
                   h, fps);
        return NULL;
    }
    fa_video_writer *vw = fa_calloc(1, sizeof *vw);
    if (!vw) return NULL;
    vw->w = w, vw->h = h;
    snprintf(vw->path, sizeof vw->path, "%s", path);
    snprintf(vw->tmp, sizeof vw->tmp, "%s.tmp", path);
    int rc = start(vw, fps);
    if (rc) {
        if (rc == FA_ENOMEM) fa_err_set(FA_ENOMEM, "%s: out of memory", path);
        int had_file = vw->oc && vw->oc->pb;
        char tmp[sizeof vw->tmp];
        snprintf(tmp, sizeof tmp, "%s", vw->tmp);
        release(vw);
        if (had_file) remove(tmp);
        return NULL;
    }
    return vw;
}

/* Sends frame (NULL: flush) and writes every packet the encoder returns. */
static int encode(fa_video_writer *vw, AVFrame *frame) {
    int err = avcodec_send_frame(vw->enc, frame);
    if (err < 0) return fail_av(vw, "encode", err);
    while ((err = avcodec_receive_packet(vw->enc, vw->pkt)) >= 0) {
        av_packet_rescale_ts(vw->pkt, vw->enc->time_base, vw->st->time_base);
        vw->pkt->stream_index = vw->st->index;
        err = av_interleaved_write_frame(vw->oc, vw->pkt);
        if (err < 0) return fail_av(vw, "write", err);
    }
    return err == AVERROR(EAGAIN) || err == AVERROR_EOF ? 0 : fail_av(vw, "encode", err);
}

int fa_video_writer_push(fa_video_writer *vw, const fa_image *img) {
    if (img->w != vw->w || img->h != vw->h)
        return fa_err_set(FA_EINVAL, "%s: picture %dx%d, the video is %dx%d", vw->path, img->w, img->h, vw->w,
                          vw->h);
    int err = av_frame_make_writable(vw->frame);
    if (err < 0) return fail_av(vw, "frame", err);
    const uint8_t *src[1] = {img->rgb};
    int stride[1] = {(int)img->stride};
    sws_scale(vw->sws, src, stride, 0, img->h, vw->frame->data, vw->frame->linesize);
    vw->frame->pts = vw->next_pts++;
    return encode(vw, vw->frame);
}

int fa_video_writer_close(fa_video_writer *vw, int commit) {
    if (!vw) return 0;
    int rc = commit ? encode(vw, NULL) : 0;
    if (commit && !rc) {
        int err = av_write_trailer(vw->oc);
        if (err < 0) rc = fail_av(vw, "trailer", err);
    }
    char tmp[sizeof vw->tmp], path[sizeof vw->path];
    snprintf(tmp, sizeof tmp, "%s", vw->tmp);
    snprintf(path, sizeof path, "%s", vw->path);
    release(vw);
    if (commit && !rc && rename(tmp, path) != 0) rc = fa_err_set(FA_EIO, "%s: cannot rename into place", path);
    if (!commit || rc) remove(tmp);
    return rc;
}
