/*
 * probe.c - describe a video file and refuse what the pipeline cannot take.
 *
 * Why it decodes a frame: a container header can look fine while the data
 * behind it is garbage (a text file renamed .mp4 is refused by the demuxer,
 * but a truncated or damaged file often opens). Decoding the first video
 * frame is the cheapest proof that a transcode can start; together with the
 * index check (the last indexed sample must lie inside the file) it catches
 * truncated MP4s before any output is created.
 *
 * Why the dimensions are checked twice: some containers (Matroska, Y4M)
 * carry the picture size in their header, and a header claiming
 * 100000x100000 must be refused as such, before FFmpeg's own decoders trip
 * over it with a less telling message. After the codecs are probed the size
 * is checked again against the configured limits.
 *
 * Frame-rate constancy: r_frame_rate (the base rate) and avg_frame_rate
 * disagreeing is the container's own admission of a variable rate; when they
 * agree, the presentation timestamps of the first packets are compared (the
 * intervals between sorted timestamps must all equal their median within one
 * tick + 1 %).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

#include "core/core.h"
#include "probe.h"
#include "video_internal.h"

#define ABSURD_SIDE 32768     /* no codec we take encodes a wider picture */
#define PROBE_MAX_PACKETS 600 /* packets read looking for the first frame */
#define PTS_SAMPLES 24        /* video timestamps looked at for constancy */

void fa_video_limits_default(fa_video_limits *lim) {
    lim->max_width = 7680;
    lim->max_height = 4320;
    lim->max_pixels = (int64_t)7680 * 4320;
    lim->max_duration = 4 * 3600.0;
}

const AVCodec *fa_video_find_decoder(enum AVCodecID id) {
    if (id == AV_CODEC_ID_AV1) {
        const AVCodec *dav1d = avcodec_find_decoder_by_name("libdav1d");
        if (dav1d) return dav1d;
    }
    return avcodec_find_decoder(id);
}

const char *fa_video_averr(int err, char *buf, size_t size) {
    if (av_strerror(err, buf, size) < 0) snprintf(buf, size, "error %d", err);
    return buf;
}

int fa_video_stream_rotation(const AVStream *st) {
    const uint8_t *m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (!m) return 0;
    double theta = -av_display_rotation_get((const int32_t *)m);
    if (isnan(theta)) return 0;
    long r = lround(theta / 90.0) * 90 % 360;
    return (int)(r < 0 ? r + 360 : r);
}

static int check_file(const char *path, const char *name) {
    struct stat st;
    if (stat(path, &st) != 0) return fa_err_set(FA_EINVAL, "%s: no such file", name);
    if (S_ISDIR(st.st_mode)) return fa_err_set(FA_EINVAL, "%s: is a directory, not a video file", name);
    if (!S_ISREG(st.st_mode)) return fa_err_set(FA_EINVAL, "%s: not a regular file", name);
    if (st.st_size == 0) return fa_err_set(FA_EINVAL, "%s: empty file (0 bytes), not a video", name);
    return 0;
}

/* Refuses a header whose claimed picture size no decoder could produce. */
static int check_header_sizes(const AVFormatContext *fc, const char *name) {
    for (unsigned i = 0; i < fc->nb_streams; i++) {
        const AVCodecParameters *p = fc->streams[i]->codecpar;
        if (p->codec_type != AVMEDIA_TYPE_VIDEO) continue;
        if (p->width > ABSURD_SIDE || p->height > ABSURD_SIDE || p->width < 0 || p->height < 0)
            return fa_err_set(FA_EINVAL,
                              "%s: stream %u: header claims an absurd picture size %dx%d "
                              "(at most %dx%d)",
                              name, i, p->width, p->height, ABSURD_SIDE, ABSURD_SIDE);
    }
    return 0;
}

int fa_video_open_input(const char *path, AVFormatContext **out) {
    const char *name = fa_path_base(path);
    char eb[128];
    *out = NULL;
    int rc = check_file(path, name);
    if (rc) return rc;
    AVFormatContext *fc = NULL;
    int err = avformat_open_input(&fc, path, NULL, NULL);
    if (err == AVERROR(ENOMEM)) return fa_err_set(FA_ENOMEM, "%s: out of memory opening the file", name);
    if (err < 0)
        return fa_err_set(FA_EINVAL, "%s: not a media file, or a truncated or corrupt one (%s)", name,
                          fa_video_averr(err, eb, sizeof eb));
    if ((rc = check_header_sizes(fc, name)) != 0) {
        avformat_close_input(&fc);
        return rc;
    }
    err = avformat_find_stream_info(fc, NULL);
    if (err < 0) {
        avformat_close_input(&fc);
        return fa_err_set(FA_EINVAL, "%s: corrupt: cannot read the stream information (%s)", name,
                          fa_video_averr(err, eb, sizeof eb));
    }
    *out = fc;
    return 0;
}

/* The largest video stream that is not cover art; -1 when none. */
static int pick_video(const AVFormatContext *fc) {
    int best = -1;
    int64_t best_px = -1;
    for (unsigned i = 0; i < fc->nb_streams; i++) {
        const AVStream *st = fc->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;
        if (st->disposition & AV_DISPOSITION_ATTACHED_PIC) continue;
        int64_t px = (int64_t)st->codecpar->width * st->codecpar->height;
        if (px > best_px) best = (int)i, best_px = px;
    }
    return best;
}

static void copy_name(char *dst, const char *src) {
    fa_strlcpy_utf8(dst, src ? src : "?", FA_VIDEO_NAME_MAX);
}

static void describe_audio(const AVFormatContext *fc, fa_video_info *info) {
    int a = av_find_best_stream((AVFormatContext *)fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    info->audio_stream = a >= 0 ? a : -1;
    info->has_audio = a >= 0;
    if (a < 0) return;
    const AVCodecParameters *p = fc->streams[a]->codecpar;
    copy_name(info->audio_codec, avcodec_get_name(p->codec_id));
    info->audio_channels = p->ch_layout.nb_channels;
    info->audio_rate = p->sample_rate;
}

static double stream_duration(const AVFormatContext *fc, const AVStream *st) {
    if (fc->duration > 0 && fc->duration != AV_NOPTS_VALUE) return fc->duration / (double)AV_TIME_BASE;
    if (st->duration > 0 && st->duration != AV_NOPTS_VALUE) return st->duration * av_q2d(st->time_base);
    return 0;
}

static void describe_video(const AVFormatContext *fc, int v, fa_video_info *info) {
    const AVStream *st = fc->streams[v];
    const AVCodecParameters *p = st->codecpar;
    info->video_stream = v;
    copy_name(info->video_codec, avcodec_get_name(p->codec_id));
    info->width = p->width;
    info->height = p->height;
    AVRational sar = av_guess_sample_aspect_ratio((AVFormatContext *)fc, (AVStream *)st, NULL);
    if (sar.num <= 0 || sar.den <= 0) sar = (AVRational){1, 1};
    info->sar_num = sar.num;
    info->sar_den = sar.den;
    AVRational fr =
        st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0 ? st->avg_frame_rate : st->r_frame_rate;
    info->fps_num = fr.num;
    info->fps_den = fr.den;
    info->fps = fr.den > 0 ? av_q2d(fr) : 0;
    info->duration = stream_duration(fc, st);
    info->nb_frames = st->nb_frames > 0 ? st->nb_frames : 0;
    info->rotation = fa_video_stream_rotation(st);
    int dw = (int)lround((double)p->width * sar.num / sar.den), dh = p->height;
    info->display_width = info->rotation % 180 ? dh : dw;
    info->display_height = info->rotation % 180 ? dw : dh;
    info->bit_rate = fc->bit_rate > 0 ? fc->bit_rate : 0;
}

static int check_limits(const fa_video_info *info, const fa_video_limits *lim, const char *name) {
    int w = info->width, h = info->height;
    if (w <= 0 || h <= 0)
        return fa_err_set(FA_EINVAL, "%s: the video stream has no picture size (%dx%d)", name, w, h);
    if (w > ABSURD_SIDE || h > ABSURD_SIDE)
        return fa_err_set(FA_EINVAL, "%s: absurd picture size %dx%d (at most %dx%d)", name, w, h, ABSURD_SIDE,
                          ABSURD_SIDE);
    if ((lim->max_width && w > lim->max_width) || (lim->max_height && h > lim->max_height))
        return fa_err_set(FA_ELIMIT, "%s: picture size %dx%d over the limit %dx%d", name, w, h,
                          lim->max_width, lim->max_height);
    if (lim->max_pixels && (int64_t)w * h > lim->max_pixels)
        return fa_err_set(FA_ELIMIT, "%s: %lld pixels per frame over the limit %lld", name, (long long)w * h,
                          (long long)lim->max_pixels);
    if (lim->max_duration > 0 && info->duration > lim->max_duration)
        return fa_err_set(FA_ELIMIT, "%s: duration %.3f s over the limit %g s", name, info->duration,
                          lim->max_duration);
    if (info->fps <= 0 || info->fps > 1000)
        return fa_err_set(FA_EINVAL, "%s: no usable frame rate (%d/%d)", name, info->fps_num, info->fps_den);
    return 0;
}

/* A truncated MP4 keeps its index: the last sample must end inside the file. */
static int check_index(AVFormatContext *fc, int v, const char *name) {
    AVStream *st = fc->streams[v];
    int n = avformat_index_get_entries_count(st);
    int64_t size = fc->pb ? avio_size(fc->pb) : -1;
    if (n <= 0 || size <= 0) return 0;
    const AVIndexEntry *e = avformat_index_get_entry(st, n - 1);
    if (e && e->pos >= 0 && e->pos + e->size > size)
        return fa_err_set(FA_EINVAL,
                          "%s: truncated: the index places video data up to byte %lld but the file "
                          "has %lld bytes",
                          name, (long long)(e->pos + e->size), (long long)size);
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* 1 when the sorted timestamps are not evenly spaced. */
static int uneven_timestamps(int64_t *pts, int n) {
    if (n < 4) return 0;
    qsort(pts, (size_t)n, sizeof *pts, cmp_i64);
    int64_t d[PTS_SAMPLES];
    for (int i = 1; i < n; i++)
        d[i - 1] = pts[i] - pts[i - 1];
    qsort(d, (size_t)(n - 1), sizeof *d, cmp_i64);
    int64_t med = d[(n - 1) / 2], tol = 1 + med / 100;
    return d[0] < med - tol || d[n - 2] > med + tol;
}

static int rates_disagree(const AVStream *st) {
    AVRational r = st->r_frame_rate, a = st->avg_frame_rate;
    if (r.num <= 0 || r.den <= 0 || a.num <= 0 || a.den <= 0) return 0;
    return fabs(av_q2d(r) - av_q2d(a)) > 0.01 * av_q2d(r);
}

typedef struct first_frame {
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    int64_t pts[PTS_SAMPLES];
    int npts, got;
} first_frame;

static int open_decoder(const AVStream *st, first_frame *ff, const char *name) {
    const AVCodec *codec = fa_video_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return fa_err_set(FA_EINVAL, "%s: no decoder for video codec '%s' in this FFmpeg build", name,
                          avcodec_get_name(st->codecpar->codec_id));
    ff->dec = avcodec_alloc_context3(codec);
    ff->pkt = av_packet_alloc();
    ff->frame = av_frame_alloc();
    if (!ff->dec || !ff->pkt || !ff->frame) return fa_err_set(FA_ENOMEM, "%s: out of memory", name);
    char eb[128];
    int err = avcodec_parameters_to_context(ff->dec, st->codecpar);
    ff->dec->thread_count = 1;
    if (err >= 0) err = avcodec_open2(ff->dec, codec, NULL);
    if (err < 0)
        return fa_err_set(FA_EINVAL, "%s: cannot open the %s decoder (%s)", name, codec->name,
                          fa_video_averr(err, eb, sizeof eb));
    return 0;
}

/* Feeds one packet (NULL: drain) and takes a frame if one is ready. */
static int decode_step(first_frame *ff, const AVPacket *pkt, const char *name) {
    char eb[128];
    int err = avcodec_send_packet(ff->dec, pkt);
    if (err < 0 && err != AVERROR(EAGAIN) && err != AVERROR_EOF)
        return fa_err_set(FA_EINVAL, "%s: corrupt: the first video frame does not decode (%s)", name,
                          fa_video_averr(err, eb, sizeof eb));
    err = avcodec_receive_frame(ff->dec, ff->frame);
    if (err >= 0)
        ff->got = 1;
    else if (err != AVERROR(EAGAIN) && err != AVERROR_EOF)
        return fa_err_set(FA_EINVAL, "%s: corrupt: the first video frame does not decode (%s)", name,
                          fa_video_averr(err, eb, sizeof eb));
    return 0;
}

static void first_frame_free(first_frame *ff) {
    avcodec_free_context(&ff->dec);
    av_packet_free(&ff->pkt);
    av_frame_free(&ff->frame);
}

/* Reads packets until the first video frame decodes and PTS_SAMPLES video
 * timestamps are seen (or the file ends). */
static int decode_first(AVFormatContext *fc, int v, first_frame *ff, const char *name) {
    int rc = open_decoder(fc->streams[v], ff, name);
    char eb[128];
    for (int n = 0; rc == 0 && n < PROBE_MAX_PACKETS && (!ff->got || ff->npts < PTS_SAMPLES); n++) {
        int err = av_read_frame(fc, ff->pkt);
        if (err == AVERROR_EOF) break;
        if (err < 0)
            return fa_err_set(FA_EINVAL, "%s: corrupt: reading packets failed (%s)", name,
                              fa_video_averr(err, eb, sizeof eb));
        if (ff->pkt->stream_index == v) {
            if (ff->pkt->pts != AV_NOPTS_VALUE && ff->npts < PTS_SAMPLES) ff->pts[ff->npts++] = ff->pkt->pts;
            if (!ff->got) rc = decode_step(ff, ff->pkt, name);
        }
        av_packet_unref(ff->pkt);
    }
    if (rc == 0 && !ff->got) rc = decode_step(ff, NULL, name);
    if (rc == 0 && !ff->got)
        rc = fa_err_set(FA_EINVAL, "%s: corrupt or truncated: no video frame decodes in the first %d packets",
                        name, PROBE_MAX_PACKETS);
    return rc;
}

static int no_video_error(const AVFormatContext *fc, const char *name) {
    if (av_find_best_stream((AVFormatContext *)fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0) >= 0)
        return fa_err_set(FA_EINVAL, "%s: audio only: no video stream to transcode", name);
    return fa_err_set(FA_EINVAL, "%s: no video stream (%u streams, none is video)", name, fc->nb_streams);
}

static int probe_open(AVFormatContext *fc, const fa_video_limits *lim, fa_video_info *info,
                      const char *name) {
    copy_name(info->container, fc->iformat->name);
    int v = pick_video(fc);
    if (v < 0) return no_video_error(fc, name);
    describe_video(fc, v, info);
    describe_audio(fc, info);
    int rc = check_limits(info, lim, name);
    if (!rc) rc = check_index(fc, v, name);
    if (rc) return rc;
    first_frame ff = {0};
    rc = decode_first(fc, v, &ff, name);
    if (rc == 0) {
        const char *pf = av_get_pix_fmt_name((enum AVPixelFormat)ff.frame->format);
        copy_name(info->pix_fmt, pf ? pf : "?");
        info->vfr = rates_disagree(fc->streams[v]) || uneven_timestamps(ff.pts, ff.npts);
    }
    first_frame_free(&ff);
    return rc;
}

int fa_video_probe(const char *path, const fa_video_limits *lim, fa_video_info *info) {
    fa_video_limits defaults;
    if (!lim) fa_video_limits_default(&defaults), lim = &defaults;
    memset(info, 0, sizeof *info);
    info->audio_stream = -1;
    AVFormatContext *fc = NULL;
    int rc = fa_video_open_input(path, &fc);
    if (rc) return rc;
    rc = probe_open(fc, lim, info, fa_path_base(path));
    avformat_close_input(&fc);
    return rc;
}

const char *fa_video_describe(const fa_video_info *in, char *buf, int size) {
    int n = snprintf(buf, (size_t)size, "%s %dx%d %d/%d fps %s %.3f s", in->video_codec, in->width,
                     in->height, in->fps_num, in->fps_den, in->vfr ? "vfr" : "cfr", in->duration);
    if (n < 0 || n >= size) return buf;
    if (in->rotation) n += snprintf(buf + n, (size_t)(size - n), " rotated %d", in->rotation);
    if (n >= size) return buf;
    if (in->has_audio)
        snprintf(buf + n, (size_t)(size - n), ", audio %s %d ch %d Hz", in->audio_codec, in->audio_channels,
                 in->audio_rate);
    else
        snprintf(buf + n, (size_t)(size - n), ", no audio");
    return buf;
}
