/*
 * transcode.c - decode once, encode every rung, package once.
 *
 * The shape follows what was measured (MEASUREMENTS.md, "Video"): a C
 * program with one decode, one split/scale filter graph and one x264
 * encoder per rung runs exactly as fast as the ffmpeg command line, and
 * x264's own threads use the cores better than chunking does on one
 * machine. So the loop is glue: read a packet, decode, push the frame
 * through the graph, pull one frame per rung and move it into that rung's
 * queue; each rung's encoder is fed by a thread of its own, which hands the
 * packets to the dash muxer under a lock (see "rung threads" for why); the
 * heavy work runs in the decoder's and the encoders' own threads.
 *
 * Setup is lazy: the filter graph and the video encoders are built from the
 * first decoded frame (its real pixel format, after a hardware download),
 * and only then is the muxer header written. Audio packets encoded before
 * that are queued.
 *
 * Timing: each stream is rebased so that its first frame has timestamp 0
 * (hls.js reports a gap when video starts at 0.08 and audio at 0.058).
 * Keyframes are forced on a gop_s time grid: a frame is made an IDR when it
 * reaches the next grid point (within 1 ms of timestamp rounding: the
 * first frame at or after it, also for variable frame rates). Every rung sees the
 * same frames with the same timestamps, so every rung makes the same
 * decisions and the GOPs - hence the segments - are aligned; scene-cut
 * keyframes are off and GOPs closed, so a segment always starts with an
 * IDR.
 *
 * Chunk jobs (chunk.h) reuse the same loop: a video chunk seeks to the
 * keyframe at or before its start, drops the decoded frames before the
 * start (the same "reaches the grid point" test that makes the IDR in a
 * single run, so the chunk starts on the very frame the whole run makes an
 * IDR), rebases the timestamps to its start and stops before its end; the
 * audio job skips the video and starts the muxer with the audio alone.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "core/core.h"
#include "transcode.h"
#include "video_internal.h"

#define MAX_PENDING 4096 /* audio packets held while waiting for the first video frame (~90 s) */
#define RUNG_QUEUE 8     /* frames waiting for a rung's encoder thread */

struct job;

/* A rung's encoder and, once started, the thread that feeds it: frames are
 * moved (not copied) into ring under mu; the thread encodes them and writes
 * the packets under the job's muxer lock. */
typedef struct rung_enc {
    AVCodecContext *enc;
    AVFilterContext *sink;
    int64_t next_kf; /* index of the next grid point */
    struct job *job;
    int idx;
    pthread_t thread;
    int running; /* the thread exists and is not joined */
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    AVFrame *ring[RUNG_QUEUE];
    int head, len;
    int closed; /* no more frames: flush the encoder and stop */
    int abort;  /* stop without flushing (a failed run) */
    int err;    /* the thread's error, 0 while fine */
    char msg[512];
} rung_enc;

typedef struct job {
    const fa_transcode_opts *o;
    fa_transcode_result *res;
    const char *name;
    char tmp[4200];
    AVFormatContext *in, *out;
    int vidx, aidx;
    AVCodecContext *vdec, *adec, *aenc;
    AVFilterGraph *vgraph, *agraph;
    AVFilterContext *vsrc, *asrc, *asink;
    rung_enc rung[FA_LADDER_MAX];
    int nrungs;
    fa_video_hw hw;
    AVFilterContext *feed_sink; /* detector branch, NULL without a feed */
    fa_video_feedq *feedq;
    AVFrame *frame, *filt, *scratch;
    AVPacket *pkt, *epkt;
    AVPacket *held[FA_LADDER_MAX + 1]; /* per output stream: the last packet, waiting for its duration */
    AVPacket **pending;
    int npending, cap_pending;
    pthread_mutex_t mux_mu; /* the muxer, held[] and pending[]: rung threads and the main thread write */
    int started;
    int64_t v0, a0, v_last;
    double limit_s, duration_s, frame_s;
    int v_done, a_done;
    int64_t frames;
    double t_start, t_report;
    fa_chunk chunk;     /* FA_PART_CHUNK: the chunk; start_s 0, end_s huge otherwise */
    int64_t chunk_off;  /* the chunk's first frame - v0, input time base (INT64_MIN: not yet seen) */
    double chunk_off_s; /* the same in seconds: the keyframe grid stays that of the whole stream */
    AVRational in_tb;   /* the input video stream's time base, kept past job_close */
} job;

#define KF_SLACK 0.001 /* seconds: a frame within 1 ms before a grid point reaches it */

void fa_transcode_opts_default(fa_transcode_opts *o) {
    memset(o, 0, sizeof *o);
    o->preset = "superfast";
    o->segment_s = 4;
    o->gop_s = 2;
    o->crf = 23;
    o->hwaccel = FA_HWACCEL_AUTO; /* the probe costs < 1 ms without hardware (hwaccel.c) */
    o->progress_interval_s = 0.5;
}

static int averr(int code, const char *what, int err) {
    char eb[128];
    return fa_err_set(code, "%s (%s)", what, fa_video_averr(err, eb, sizeof eb));
}

/* ------------------------------------------------------------ output */

static int write_now(job *j, AVPacket *p) {
    int err = av_interleaved_write_frame(j->out, p);
    return err < 0 ? averr(FA_EIO, "dash muxer: writing a packet failed", err) : 0;
}

/* Writes the stream's previous packet with its true duration (up to this
 * packet's dts) and keeps this one. The fMP4 muxer starts each fragment
 * where the previous one's last sample ends, so a nominal duration on a
 * variable-rate stream would shift every fragment's first timestamp. */
static int write_packet(job *j, AVPacket *p) {
    AVPacket **h = &j->held[p->stream_index];
    int rc = 0;
    if (*h && (*h)->data) {
        if (p->dts != AV_NOPTS_VALUE && (*h)->dts != AV_NOPTS_VALUE && p->dts > (*h)->dts)
            (*h)->duration = p->dts - (*h)->dts;
        rc = write_now(j, *h); /* leaves *h blank */
    } else if (!*h && !(*h = av_packet_alloc())) {
        return fa_err_set(FA_ENOMEM, "out of memory");
    }
    av_packet_move_ref(*h, p);
    return rc;
}

static int write_held(job *j) {
    for (int i = 0; i <= FA_LADDER_MAX; i++)
        if (j->held[i] && j->held[i]->data) {
            int rc = write_now(j, j->held[i]);
            if (rc) return rc;
        }
    return 0;
}

static int queue_packet(job *j, AVPacket *p) {
    if (j->npending == MAX_PENDING)
        return fa_err_set(FA_EINVAL, "%s: no video frame decodes within the first %d audio packets", j->name,
                          MAX_PENDING);
    if (j->npending == j->cap_pending) {
        int cap = j->cap_pending ? 2 * j->cap_pending : 64;
        AVPacket **q = fa_realloc(j->pending, (size_t)cap * sizeof *q);
        if (!q) return FA_ENOMEM;
        j->pending = q;
        j->cap_pending = cap;
    }
    AVPacket *c = av_packet_alloc();
    if (!c) return fa_err_set(FA_ENOMEM, "out of memory");
    av_packet_move_ref(c, p);
    j->pending[j->npending++] = c;
    return 0;
}

static AVCodecContext *encoder_of(const job *j, int idx) {
    return idx < j->nrungs ? j->rung[idx].enc : j->aenc;
}

/* Queued packets carry their encoder's time base: the streams did not exist. */
static int flush_pending(job *j) {
    int rc = 0;
    for (int i = 0; i < j->npending; i++) {
        AVPacket *p = j->pending[i];
        av_packet_rescale_ts(p, encoder_of(j, p->stream_index)->time_base,
                             j->out->streams[p->stream_index]->time_base);
        if (rc == 0) rc = write_packet(j, p);
        av_packet_free(&j->pending[i]);
    }
    j->npending = 0;
    return rc;
}

/* Drains enc's packets (through the scratch packet pkt) into output stream
 * idx, holding the muxer lock while writing. */
static int drain_encoder(job *j, AVCodecContext *enc, int idx, AVPacket *pkt) {
    for (;;) {
        int err = avcodec_receive_packet(enc, pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
        if (err < 0) return averr(FA_EIO, "encoder failed", err);
        pkt->stream_index = idx;
        int rc;
        pthread_mutex_lock(&j->mux_mu);
        if (j->started) {
            av_packet_rescale_ts(pkt, enc->time_base, j->out->streams[idx]->time_base);
            rc = write_packet(j, pkt);
        } else {
            rc = queue_packet(j, pkt);
        }
        pthread_mutex_unlock(&j->mux_mu);
        av_packet_unref(pkt);
        if (rc) return rc;
    }
}

static int encode_with(job *j, AVCodecContext *enc, int idx, const AVFrame *f, AVPacket *pkt) {
    int err = avcodec_send_frame(enc, f);
    if (err < 0 && err != AVERROR_EOF) return averr(FA_EIO, "encoder refused a frame", err);
    return drain_encoder(j, enc, idx, pkt);
}

/* The main thread's encoding (audio; video before the rung threads start). */
static int encode(job *j, AVCodecContext *enc, int idx, const AVFrame *f) {
    return encode_with(j, enc, idx, f, j->epkt);
}

/* ------------------------------------------------------------ rung threads
 *
 * Why a thread per rung: an x264 call blocks until one of the encoder's own
 * frame threads is free, so with every rung encoded on the main thread the
 * decoder (and the other rungs) waited on each encoder in turn at every
 * frame, as in the ffmpeg 5.1 command line; the cores can idle in those
 * waits. Here the main thread moves each filtered frame (a reference, no
 * pixel copy) into the rung's bounded queue and goes back to decoding; each
 * rung's thread encodes and writes its packets under the muxer lock, and
 * the encoders are flushed in parallel at the end. The work is the same
 * (bench/RESULTS.md: on 2 shared cores the gain is within the noise). The
 * queue is bounded so a slow rung slows the decode instead of piling frames
 * up. A thread's error stops it; the main thread sees it at its next push
 * or at the join. x264's output under a VBV cap depends on its threads'
 * timing (as in the command line), so runs agree frame for frame, not byte
 * for byte. */

static AVFrame *rung_take(rung_enc *r) {
    pthread_mutex_lock(&r->mu);
    while (r->len == 0 && !r->closed && !r->abort)
        pthread_cond_wait(&r->not_empty, &r->mu);
    AVFrame *f = NULL;
    if (r->len > 0 && !r->abort) {
        f = r->ring[r->head];
        r->ring[r->head] = NULL;
        r->head = (r->head + 1) % RUNG_QUEUE;
        r->len--;
        pthread_cond_signal(&r->not_full);
    }
    pthread_mutex_unlock(&r->mu);
    return f;
}

static void rung_fail(rung_enc *r, int rc) {
    pthread_mutex_lock(&r->mu);
    r->err = rc;
    snprintf(r->msg, sizeof r->msg, "%s", fa_err_msg()[0] ? fa_err_msg() : "encoder failed");
    pthread_cond_broadcast(&r->not_full);
    pthread_mutex_unlock(&r->mu);
}

/* Encodes the queued frames; at the close flushes the encoder (not after an abort). */
static void *rung_main(void *arg) {
    rung_enc *r = arg;
    AVPacket *pkt = av_packet_alloc();
    int rc = pkt ? 0 : fa_err_set(FA_ENOMEM, "out of memory");
    AVFrame *f;
    while (rc == 0 && (f = rung_take(r)) != NULL) {
        rc = encode_with(r->job, r->enc, r->idx, f, pkt);
        av_frame_free(&f);
    }
    pthread_mutex_lock(&r->mu);
    int aborted = r->abort;
    pthread_mutex_unlock(&r->mu);
    if (rc == 0 && !aborted) rc = encode_with(r->job, r->enc, r->idx, NULL, pkt);
    if (rc) rung_fail(r, rc);
    av_packet_free(&pkt);
    return NULL;
}

static int rung_start(job *j, int i) {
    rung_enc *r = &j->rung[i];
    r->job = j;
    r->idx = i;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->not_empty, NULL);
    pthread_cond_init(&r->not_full, NULL);
    if (pthread_create(&r->thread, NULL, rung_main, r) != 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->not_empty);
        pthread_cond_destroy(&r->not_full);
        return fa_err_set(FA_EIO, "cannot start an encoder thread");
    }
    r->running = 1;
    return 0;
}

/* Moves frame's reference into rung r's queue, waiting while it is full. */
static int rung_push(rung_enc *r, AVFrame *frame) {
    AVFrame *slot = av_frame_alloc();
    if (!slot) return fa_err_set(FA_ENOMEM, "out of memory");
    av_frame_move_ref(slot, frame);
    pthread_mutex_lock(&r->mu);
    while (r->len == RUNG_QUEUE && !r->err)
        pthread_cond_wait(&r->not_full, &r->mu);
    int rc = r->err;
    if (rc == 0) {
        r->ring[(r->head + r->len) % RUNG_QUEUE] = slot;
        r->len++;
        slot = NULL;
        pthread_cond_signal(&r->not_empty);
    }
    char msg[sizeof r->msg];
    memcpy(msg, r->msg, sizeof msg);
    pthread_mutex_unlock(&r->mu);
    av_frame_free(&slot);
    return rc ? fa_err_set(rc, "%s", msg) : 0;
}

/* Tells r's thread that no frame follows: it flushes the encoder (drain)
 * or stops at once (!drain). */
static void rung_close(rung_enc *r, int drain) {
    if (!r->running) return;
    pthread_mutex_lock(&r->mu);
    r->closed = 1;
    if (!drain) r->abort = 1;
    pthread_cond_broadcast(&r->not_empty);
    pthread_mutex_unlock(&r->mu);
}

/* Joins r's thread (after rung_close); returns its error or 0. */
static int rung_join(rung_enc *r) {
    if (!r->running) return 0;
    pthread_join(r->thread, NULL);
    r->running = 0;
    for (; r->len > 0; r->len--, r->head = (r->head + 1) % RUNG_QUEUE)
        av_frame_free(&r->ring[r->head]);
    int rc = r->err;
    if (rc) fa_err_set(rc, "%s", r->msg);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->not_empty);
    pthread_cond_destroy(&r->not_full);
    return rc;
}

/* Flushes every rung's encoder in parallel and joins the threads. */
static int rungs_finish(job *j, int drain) {
    int rc = 0;
    for (int i = 0; i < j->nrungs; i++)
        rung_close(&j->rung[i], drain);
    for (int i = 0; i < j->nrungs; i++) {
        int e = rung_join(&j->rung[i]);
        if (rc == 0) rc = e;
    }
    return rc;
}

/* ------------------------------------------------------------ video setup */

static const char *rotation_filter(int rotation) {
    return rotation == 90    ? "transpose=clock,"
           : rotation == 180 ? "hflip,vflip,"
           : rotation == 270 ? "transpose=cclock,"
                             : "";
}

static int graph_string(const job *j, char *buf, size_t size) {
    const fa_ladder *l = &j->res->ladder;
    const fa_video_feed *fd = j->o->feed;
    int n =
        snprintf(buf, size, "[in]%ssplit=%d", rotation_filter(j->res->source.rotation), l->n + (fd != NULL));
    for (int i = 0; i < l->n + (fd != NULL); i++)
        n += snprintf(buf + n, size - (size_t)n, "[s%d]", i);
    for (int i = 0; i < l->n; i++)
        n += snprintf(buf + n, size - (size_t)n,
                      ";[s%d]scale=%d:%d:flags=bicubic,format=pix_fmts=yuv420p[out%d]", i, l->rung[i].width,
                      l->rung[i].height, i);
    if (fd)
        n += snprintf(buf + n, size - (size_t)n,
                      ";[s%d]fps=fps=%.6g,scale=%d:%d:flags=bilinear,format=pix_fmts=rgb24[feed]", l->n,
                      fd->fps, fd->width, fd->height);
    return (size_t)n < size ? 0 : fa_err_set(FA_EINVAL, "filter graph too long");
}

static AVFilterInOut *inout(const char *name, AVFilterContext *ctx, AVFilterInOut *next) {
    AVFilterInOut *io = avfilter_inout_alloc();
    if (!io) return NULL;
    io->name = av_strdup(name);
    io->filter_ctx = ctx;
    io->pad_idx = 0;
    io->next = next;
    return io;
}

static int make_sources(job *j, const AVFrame *f) {
    AVStream *st = j->in->streams[j->vidx];
    AVRational sar = f->sample_aspect_ratio.num > 0
                         ? f->sample_aspect_ratio
                         : (AVRational){j->res->source.sar_num, j->res->source.sar_den};
    char args[512];
    snprintf(args, sizeof args,
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d:frame_rate=%d/%d", f->width,
             f->height, f->format, st->time_base.num, st->time_base.den, sar.num, sar.den,
             j->res->source.fps_num, j->res->source.fps_den);
    int err =
        avfilter_graph_create_filter(&j->vsrc, avfilter_get_by_name("buffer"), "in", args, NULL, j->vgraph);
    if (err < 0) return averr(FA_EIO, "filter graph: cannot create the source", err);
    for (int i = 0; i < j->res->ladder.n; i++) {
        char name[16];
        snprintf(name, sizeof name, "out%d", i);
        err = avfilter_graph_create_filter(&j->rung[i].sink, avfilter_get_by_name("buffersink"), name, NULL,
                                           NULL, j->vgraph);
        if (err < 0) return averr(FA_EIO, "filter graph: cannot create a sink", err);
    }
    if (j->o->feed) {
        err = avfilter_graph_create_filter(&j->feed_sink, avfilter_get_by_name("buffersink"), "feed", NULL,
                                           NULL, j->vgraph);
        if (err < 0) return averr(FA_EIO, "filter graph: cannot create the feed sink", err);
    }
    return 0;
}

static int build_video_graph(job *j, const AVFrame *f) {
    char desc[2048];
    int rc = graph_string(j, desc, sizeof desc);
    if (rc) return rc;
    j->vgraph = avfilter_graph_alloc();
    if (!j->vgraph) return fa_err_set(FA_ENOMEM, "out of memory");
    j->vgraph->nb_threads = 0; /* auto, as the ffmpeg CLI: scaling a 4K source is not cheap */
    if ((rc = make_sources(j, f)) != 0) return rc;
    AVFilterInOut *outs = inout("in", j->vsrc, NULL);
    AVFilterInOut *ins = j->feed_sink ? inout("feed", j->feed_sink, NULL) : NULL;
    for (int i = j->res->ladder.n - 1; i >= 0; i--) {
        char name[16];
        snprintf(name, sizeof name, "out%d", i);
        ins = inout(name, j->rung[i].sink, ins);
    }
    int err = outs && ins ? avfilter_graph_parse_ptr(j->vgraph, desc, &ins, &outs, NULL) : AVERROR(ENOMEM);
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    if (err >= 0) err = avfilter_graph_config(j->vgraph, NULL);
    return err < 0 ? averr(FA_EIO, "filter graph: configuration failed", err) : 0;
}

static int gop_frames(const job *j) {
    int g = (int)lround(j->res->source.fps * j->o->gop_s);
    if (g < 1) g = 1;
    return j->res->source.vfr ? 4 * g : g; /* VFR: only the time grid makes keyframes */
}

static void set_x264_options(const job *j, AVCodecContext *enc) {
    char crf[16];
    snprintf(crf, sizeof crf, "%d", j->o->crf);
    av_opt_set(enc->priv_data, "preset", j->o->preset, 0);
    av_opt_set(enc->priv_data, "crf", crf, 0);
    av_opt_set(enc->priv_data, "forced-idr", "1", 0);
    av_opt_set(enc->priv_data, "x264-params", "scenecut=0:open-gop=0", 0);
}

static void set_nvenc_options(AVCodecContext *enc) {
    av_opt_set(enc->priv_data, "preset", "p4", 0);
    av_opt_set(enc->priv_data, "rc", "vbr", 0);
    av_opt_set(enc->priv_data, "cq", "23", 0);
    av_opt_set(enc->priv_data, "forced-idr", "1", 0);
    av_opt_set(enc->priv_data, "no-scenecut", "1", 0);
    enc->bit_rate = enc->rc_max_rate / 2;
}

static AVCodecContext *video_encoder(const job *j, int i, const AVCodec *codec) {
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    if (!enc) return NULL;
    const fa_rung *r = &j->res->ladder.rung[i];
    AVFilterContext *sink = j->rung[i].sink;
    enc->width = av_buffersink_get_w(sink);
    enc->height = av_buffersink_get_h(sink);
    enc->pix_fmt = (enum AVPixelFormat)av_buffersink_get_format(sink);
    enc->sample_aspect_ratio = av_buffersink_get_sample_aspect_ratio(sink);
    enc->time_base = av_buffersink_get_time_base(sink);
    enc->framerate = (AVRational){j->res->source.fps_num, j->res->source.fps_den};
    enc->field_order = AV_FIELD_PROGRESSIVE;
    enc->gop_size = gop_frames(j);
    enc->keyint_min = enc->gop_size;
    enc->rc_max_rate = (int64_t)r->maxrate_kbps * 1000;
    enc->rc_buffer_size = r->bufsize_kbits * 1000;
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (strcmp(codec->name, "libx264") == 0)
        set_x264_options(j, enc);
    else
        set_nvenc_options(enc);
    return enc;
}

static int open_video_encoder(job *j, int i) {
    const AVCodec *x264 = avcodec_find_encoder_by_name("libx264");
    if (j->hw.try_nvenc) {
        const AVCodec *nv = avcodec_find_encoder_by_name("h264_nvenc");
        AVCodecContext *enc = nv ? video_encoder(j, i, nv) : NULL;
        int err = enc ? avcodec_open2(enc, nv, NULL) : AVERROR_ENCODER_NOT_FOUND;
        if (err >= 0) {
            j->rung[i].enc = enc;
            return 0;
        }
        char eb[128];
        avcodec_free_context(&enc);
        j->hw.try_nvenc = 0;
        fa_log(FA_LOG_WARN, "h264_nvenc unavailable, using libx264", "reason=\"%s\"",
               fa_video_averr(err, eb, sizeof eb));
    }
    if (!x264) return fa_err_set(FA_EIO, "no libx264 encoder in this FFmpeg build");
    j->rung[i].enc = video_encoder(j, i, x264);
    if (!j->rung[i].enc) return fa_err_set(FA_ENOMEM, "out of memory");
    int err = avcodec_open2(j->rung[i].enc, x264, NULL);
    return err < 0 ? averr(FA_EIO, "libx264: cannot open the encoder", err) : 0;
}

static int add_stream(job *j, AVCodecContext *enc, int64_t declared_bps) {
    AVStream *st = avformat_new_stream(j->out, NULL);
    if (!st) return fa_err_set(FA_ENOMEM, "out of memory");
    int err = avcodec_parameters_from_context(st->codecpar, enc);
    if (err < 0) return averr(FA_EIO, "dash muxer: stream parameters", err);
    st->time_base = enc->time_base;
    st->sample_aspect_ratio = enc->sample_aspect_ratio;
    if (enc->codec_type == AVMEDIA_TYPE_VIDEO) st->avg_frame_rate = enc->framerate;
    if (declared_bps > 0) st->codecpar->bit_rate = declared_bps;
    return 0;
}

/* Graph, encoders, muxer header; then the queued audio. */
static int start_video(job *j, const AVFrame *f) {
    int rc = build_video_graph(j, f);
    for (int i = 0; rc == 0 && i < j->res->ladder.n; i++) {
        rc = open_video_encoder(j, i);
        if (rc == 0) rc = add_stream(j, j->rung[i].enc, (int64_t)j->res->ladder.rung[i].maxrate_kbps * 1000);
    }
    j->nrungs = j->res->ladder.n;
    if (rc == 0 && j->aenc) rc = add_stream(j, j->aenc, j->aenc->bit_rate);
    if (rc == 0) rc = fa_video_package_start(j->out, j->o->segment_s, j->nrungs, j->aenc != NULL);
    if (rc == 0) {
        j->started = 1;
        snprintf(j->res->video_encoder, sizeof j->res->video_encoder, "%s", j->rung[0].enc->codec->name);
        rc = flush_pending(j);
    }
    for (int i = 0; rc == 0 && i < j->nrungs; i++)
        rc = rung_start(j, i);
    return rc;
}

/* ------------------------------------------------------------ video frames */

static void report(job *j, int done) {
    double now = fa_clock_now();
    if (!j->o->progress || (!done && now - j->t_report < j->o->progress_interval_s)) return;
    j->t_report = now;
    fa_transcode_progress p = {0};
    p.elapsed_s = now - j->t_start;
    p.duration_s = j->duration_s;
    p.position_s = j->v_last >= 0 ? j->v_last * av_q2d(j->in->streams[j->vidx]->time_base) + j->frame_s : 0;
    if (p.position_s > p.duration_s) p.position_s = p.duration_s;
    p.frames = j->frames;
    p.fps = p.elapsed_s > 0 ? j->frames / p.elapsed_s : 0;
    p.percent = done ? 100.0 : p.duration_s > 0 ? fmin(99.9, 100.0 * p.position_s / p.duration_s) : 0;
    p.eta_s = done ? 0 : p.position_s > 0 ? p.elapsed_s * (p.duration_s - p.position_s) / p.position_s : -1;
    p.done = done;
    j->o->progress(&p, j->o->progress_user);
}

static int encode_rung(job *j, int i, AVFrame *f) {
    rung_enc *r = &j->rung[i];
    if (f) {
        double t = f->pts * av_q2d(av_buffersink_get_time_base(r->sink)) + j->chunk_off_s, slack = KF_SLACK;
        f->pict_type = AV_PICTURE_TYPE_NONE;
        if (t + slack >= (double)r->next_kf * j->o->gop_s) {
            f->pict_type = AV_PICTURE_TYPE_I;
            r->next_kf = (int64_t)floor((t + slack) / j->o->gop_s) + 1;
        }
        if (r->running) return rung_push(r, f);
    }
    return encode(j, r->enc, i, f);
}

/* Hands the feed branch's ready frames to the consumer, pts in microseconds. */
static int pull_feed(job *j) {
    for (;;) {
        int err = av_buffersink_get_frame(j->feed_sink, j->filt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
        if (err < 0) return averr(FA_EIO, "filter graph (detector feed) failed", err);
        j->filt->pts = av_rescale_q(j->filt->pts, av_buffersink_get_time_base(j->feed_sink), AV_TIME_BASE_Q);
        int rc = fa_video_feedq_push(j->feedq, j->filt);
        av_frame_unref(j->filt);
        if (rc) return rc;
    }
}

/* Pulls every frame the graph has ready for every rung and the feed. */
static int pull_video(job *j) {
    if (j->feed_sink) {
        int rc = pull_feed(j);
        if (rc) return rc;
    }
    for (int i = 0; i < j->nrungs; i++)
        for (;;) {
            int err = av_buffersink_get_frame(j->rung[i].sink, j->filt);
            if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) break;
            if (err < 0) return averr(FA_EIO, "filter graph failed", err);
            int rc = encode_rung(j, i, j->filt);
            av_frame_unref(j->filt);
            if (rc) return rc;
        }
    return 0;
}

static int video_frame(job *j, AVFrame *f) {
    int rc = fa_video_hw_download(&j->hw, f, j->scratch);
    if (rc) return rc;
    int64_t pts = f->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) pts = j->v_last == INT64_MIN ? 0 : j->v_last + 1;
    if (j->v0 == INT64_MIN) j->v0 = pts;
    if (pts - j->v0 < 0 || (j->v_last != INT64_MIN && pts - j->v0 <= j->v_last)) return 0; /* not monotonic */
    double t = (pts - j->v0) * av_q2d(j->in->streams[j->vidx]->time_base);
    if (t + KF_SLACK < j->chunk.start_s) return 0; /* decoded from the keyframe before the chunk */
    if ((j->limit_s > 0 && t >= j->limit_s - 1e-6) || t + KF_SLACK >= j->chunk.end_s) {
        j->v_done = 1;
        return 0;
    }
    if (j->chunk_off == INT64_MIN) { /* a chunk's timeline starts at its first frame, as a whole run's */
        j->chunk_off = pts - j->v0;
        j->chunk_off_s = t;
    }
    pts -= j->chunk_off;
    if (j->v_last != INT64_MIN && pts - j->v0 <= j->v_last) return 0;
    if (!j->started && (rc = start_video(j, f)) != 0) return rc;
    f->pts = j->v_last = pts - j->v0;
    f->pict_type = AV_PICTURE_TYPE_NONE;
    int err = av_buffersrc_add_frame_flags(j->vsrc, f, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (err < 0) return averr(FA_EIO, "filter graph refused a frame", err);
    j->frames++;
    report(j, 0);
    return pull_video(j);
}

/* ------------------------------------------------------------ audio */

static int audio_rate(int src) {
    static const int ok[] = {96000, 88200, 64000, 48000, 44100, 32000,
                             24000, 22050, 16000, 12000, 11025, 8000};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (src == ok[i]) return src;
    return 48000;
}

static int open_audio_encoder(job *j) {
    const AVCodec *aac = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!aac) return fa_err_set(FA_EIO, "no AAC encoder in this FFmpeg build");
    AVCodecContext *e = j->aenc = avcodec_alloc_context3(aac);
    if (!e) return fa_err_set(FA_ENOMEM, "out of memory");
    int channels = j->adec->ch_layout.nb_channels == 1 ? 1 : 2;
    av_channel_layout_default(&e->ch_layout, channels);
    e->sample_rate = audio_rate(j->adec->sample_rate);
    e->sample_fmt = AV_SAMPLE_FMT_FLTP;
    e->time_base = (AVRational){1, e->sample_rate};
    e->bit_rate = channels == 1 ? 64000 : 128000;
    e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int err = avcodec_open2(e, aac, NULL);
    return err < 0 ? averr(FA_EIO, "aac: cannot open the encoder", err) : 0;
}

static int build_audio_graph(job *j, const AVFrame *f) {
    char layout[128], args[512], fmt[256];
    AVChannelLayout cl = {0};
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&cl, f->ch_layout.nb_channels);
    else
        av_channel_layout_copy(&cl, &f->ch_layout);
    av_channel_layout_describe(&cl, layout, sizeof layout);
    av_channel_layout_uninit(&cl);
    AVRational tb = j->in->streams[j->aidx]->time_base;
    snprintf(args, sizeof args, "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s", tb.num,
             tb.den, f->sample_rate, av_get_sample_fmt_name((enum AVSampleFormat)f->format), layout);
    av_channel_layout_describe(&j->aenc->ch_layout, layout, sizeof layout);
    snprintf(fmt, sizeof fmt, "sample_fmts=fltp:sample_rates=%d:channel_layouts=%s", j->aenc->sample_rate,
             layout);
    AVFilterContext *conv = NULL;
    j->agraph = avfilter_graph_alloc();
    if (!j->agraph) return fa_err_set(FA_ENOMEM, "out of memory");
    int err =
        avfilter_graph_create_filter(&j->asrc, avfilter_get_by_name("abuffer"), "ain", args, NULL, j->agraph);
    if (err >= 0)
        err = avfilter_graph_create_filter(&conv, avfilter_get_by_name("aformat"), "aconv", fmt, NULL,
                                           j->agraph);
    if (err >= 0)
        err = avfilter_graph_create_filter(&j->asink, avfilter_get_by_name("abuffersink"), "aout", NULL, NULL,
                                           j->agraph);
    if (err >= 0) err = avfilter_link(j->asrc, 0, conv, 0);
    if (err >= 0) err = avfilter_link(conv, 0, j->asink, 0);
    if (err >= 0) err = avfilter_graph_config(j->agraph, NULL);
    if (err < 0) return averr(FA_EIO, "audio filter graph failed", err);
    av_buffersink_set_frame_size(j->asink, (unsigned)j->aenc->frame_size);
    return 0;
}

static int pull_audio(job *j) {
    for (;;) {
        int err = av_buffersink_get_frame(j->asink, j->filt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
        if (err < 0) return averr(FA_EIO, "audio filter graph failed", err);
        j->filt->pts = av_rescale_q(j->filt->pts, av_buffersink_get_time_base(j->asink), j->aenc->time_base);
        int idx = j->o->part == FA_PART_AUDIO ? 0 : j->res->ladder.n; /* the audio follows the rungs */
        int rc = encode(j, j->aenc, idx, j->filt);
        av_frame_unref(j->filt);
        if (rc) return rc;
    }
}

static int audio_frame(job *j, AVFrame *f) {
    int64_t pts = f->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) return 0;
    if (j->a0 == INT64_MIN) j->a0 = pts;
    if (pts < j->a0) return 0;
    double t = (pts - j->a0) * av_q2d(j->in->streams[j->aidx]->time_base);
    if (j->limit_s > 0 && t >= j->limit_s - 1e-6) {
        j->a_done = 1;
        return 0;
    }
    int rc = j->agraph ? 0 : build_audio_graph(j, f);
    if (rc) return rc;
    f->pts = pts - j->a0;
    int err = av_buffersrc_add_frame_flags(j->asrc, f, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (err < 0) return averr(FA_EIO, "audio filter graph refused a frame", err);
    return pull_audio(j);
}

/* ------------------------------------------------------------ decode loop */

static int decode(job *j, AVCodecContext *dec, const AVPacket *pkt) {
    int err = avcodec_send_packet(dec, pkt);
    if (err < 0 && err != AVERROR(EAGAIN) && err != AVERROR_EOF) {
        if (pkt) return 0; /* a damaged packet: skip it, as players do */
        return averr(FA_EINVAL, "decoder failed", err);
    }
    for (;;) {
        err = avcodec_receive_frame(dec, j->frame);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
        if (err == AVERROR_INVALIDDATA) continue;
        if (err < 0) return averr(FA_EIO, "decoder failed", err);
        int rc = dec == j->vdec ? video_frame(j, j->frame) : audio_frame(j, j->frame);
        av_frame_unref(j->frame);
        if (rc) return rc;
    }
}

static int cancelled(const job *j) { return j->o->cancel && *j->o->cancel; }

static int read_loop(job *j) {
    for (;;) {
        if (cancelled(j)) return fa_err_set(FA_EIO, "interrupted");
        if (j->v_done && (j->aidx < 0 || j->a_done)) return 0;
        int err = av_read_frame(j->in, j->pkt);
        if (err == AVERROR_EOF) return 0;
        if (err < 0) return averr(FA_EINVAL, "reading the input failed", err);
        int rc = 0;
        if (j->pkt->stream_index == j->vidx && !j->v_done)
            rc = decode(j, j->vdec, j->pkt);
        else if (j->pkt->stream_index == j->aidx && !j->a_done)
            rc = decode(j, j->adec, j->pkt);
        av_packet_unref(j->pkt);
        if (rc) return rc;
    }
}

static int flush_audio_job(job *j) {
    int rc = decode(j, j->adec, NULL);
    if (rc == 0 && !j->asrc) return fa_err_set(FA_EINVAL, "%s: no audio frame decoded", j->name);
    if (rc == 0 && av_buffersrc_add_frame(j->asrc, NULL) < 0)
        rc = fa_err_set(FA_EIO, "audio filter graph flush");
    if (rc == 0) rc = pull_audio(j);
    if (rc == 0) rc = encode(j, j->aenc, 0, NULL);
    return rc;
}

static int flush_all(job *j) {
    if (j->o->part == FA_PART_AUDIO) return flush_audio_job(j);
    int rc = decode(j, j->vdec, NULL);
    if (rc == 0 && j->adec) rc = decode(j, j->adec, NULL);
    if (rc == 0 && !j->started) return fa_err_set(FA_EINVAL, "%s: no video frame decoded", j->name);
    if (rc == 0 && av_buffersrc_add_frame(j->vsrc, NULL) < 0) rc = fa_err_set(FA_EIO, "filter graph flush");
    if (rc == 0) rc = pull_video(j);
    int done = rungs_finish(j, rc == 0); /* flushes the encoders, each in its thread */
    if (rc == 0) rc = done;
    if (rc == 0 && j->asrc) {
        if (av_buffersrc_add_frame(j->asrc, NULL) < 0) rc = fa_err_set(FA_EIO, "audio filter graph flush");
        if (rc == 0) rc = pull_audio(j);
    }
    if (rc == 0 && j->aenc) rc = encode(j, j->aenc, j->nrungs, NULL);
    return rc;
}

/* ------------------------------------------------------------ setup, teardown */

static int open_decoder(job *j, int idx, AVCodecContext **out, int video) {
    AVStream *st = j->in->streams[idx];
    const AVCodec *codec = fa_video_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return fa_err_set(FA_EINVAL, "%s: no decoder for %s", j->name,
                          avcodec_get_name(st->codecpar->codec_id));
    AVCodecContext *d = *out = avcodec_alloc_context3(codec);
    if (!d) return fa_err_set(FA_ENOMEM, "out of memory");
    int err = avcodec_parameters_to_context(d, st->codecpar);
    if (err < 0) return averr(FA_EINVAL, "decoder parameters", err);
    d->pkt_timebase = st->time_base;
    d->thread_count = 0;
    if (video) {
        fa_video_hw_open(j->o->hwaccel, codec, &j->hw);
        if (fa_video_hw_attach(&j->hw, d)) return FA_ENOMEM;
        if (j->hw.device)
            snprintf(j->res->hw_decoder, sizeof j->res->hw_decoder, "%s",
                     av_hwdevice_get_type_name(j->hw.type));
    }
    err = avcodec_open2(d, codec, NULL);
    return err < 0 ? averr(FA_EINVAL, "cannot open the decoder", err) : 0;
}

/* The audio job: no video decoder, the muxer started with the audio alone. */
static int open_audio_job(job *j) {
    if (j->aidx < 0) return fa_err_set(FA_EINVAL, "%s: no audio stream for the audio job", j->name);
    int rc = open_decoder(j, j->aidx, &j->adec, 0);
    if (rc == 0) rc = open_audio_encoder(j);
    if (rc == 0) rc = fa_video_package_alloc(&j->out, j->tmp);
    if (rc == 0) rc = add_stream(j, j->aenc, j->aenc->bit_rate);
    if (rc == 0) rc = fa_video_package_start(j->out, j->o->segment_s, 0, 1);
    j->started = rc == 0;
    j->v_done = 1;
    return rc;
}

/* A video chunk: the first frame's timestamp as in a whole run (the stream's
 * start time), then a seek to the keyframe at or before the chunk start. */
static int seek_chunk(job *j) {
    AVStream *st = j->in->streams[j->vidx];
    j->v0 = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    j->chunk_off = INT64_MIN;
    if (j->chunk.index == 0) return 0;
    int64_t target = av_rescale_q((int64_t)llround(j->chunk.start_s * 1e6), AV_TIME_BASE_Q, st->time_base);
    int err = av_seek_frame(j->in, j->vidx, j->v0 + target, AVSEEK_FLAG_BACKWARD);
    if (err < 0) return averr(FA_EINVAL, "seeking to the chunk start failed", err);
    avcodec_flush_buffers(j->vdec);
    return 0;
}

static int job_open(job *j) {
    int rc = fa_video_open_input(j->o->input, &j->in);
    if (rc) return rc;
    j->vidx = j->res->source.video_stream;
    j->aidx = j->o->part == FA_PART_CHUNK ? -1 : j->res->source.audio_stream;
    j->frame = av_frame_alloc();
    j->filt = av_frame_alloc();
    j->scratch = av_frame_alloc();
    j->pkt = av_packet_alloc();
    j->epkt = av_packet_alloc();
    if (!j->frame || !j->filt || !j->scratch || !j->pkt || !j->epkt)
        return fa_err_set(FA_ENOMEM, "out of memory");
    if (j->o->part == FA_PART_AUDIO) return open_audio_job(j);
    if ((rc = open_decoder(j, j->vidx, &j->vdec, 1)) != 0) return rc;
    if (j->o->part == FA_PART_CHUNK && (rc = seek_chunk(j)) != 0) return rc;
    if (j->aidx >= 0 && open_decoder(j, j->aidx, &j->adec, 0) != 0) { /* video matters; audio is a bonus */
        fa_log(FA_LOG_WARN, "audio dropped", "input=%s reason=\"%s\"", j->name, fa_err_msg());
        avcodec_free_context(&j->adec);
        j->aidx = -1;
    }
    if (j->adec && (rc = open_audio_encoder(j)) != 0) return rc;
    if (j->o->feed && (j->feedq = fa_video_feedq_start(j->o->feed)) == NULL) return fa_err_code();
    return fa_video_package_alloc(&j->out, j->tmp);
}

static void job_close(job *j) {
    if (j->in && j->vidx >= 0) j->in_tb = j->in->streams[j->vidx]->time_base;
    if (j->feedq) fa_video_feedq_finish(j->feedq, 0, NULL); /* only after a failure */
    rungs_finish(j, 0);                                      /* likewise */
    for (int i = 0; i < FA_LADDER_MAX; i++)
        avcodec_free_context(&j->rung[i].enc);
    avcodec_free_context(&j->vdec);
    avcodec_free_context(&j->adec);
    avcodec_free_context(&j->aenc);
    avfilter_graph_free(&j->vgraph);
    avfilter_graph_free(&j->agraph);
    if (j->out) {
        if (j->started)
            av_write_trailer(j->out); /* closes the muxer's files; the caller removes them on error */
        avformat_free_context(j->out);
        j->out = NULL;
    }
    avformat_close_input(&j->in);
    for (int i = 0; i < j->npending; i++)
        av_packet_free(&j->pending[i]);
    free(j->pending);
    for (int i = 0; i <= FA_LADDER_MAX; i++)
        av_packet_free(&j->held[i]);
    av_frame_free(&j->frame);
    av_frame_free(&j->filt);
    av_frame_free(&j->scratch);
    av_packet_free(&j->pkt);
    av_packet_free(&j->epkt);
    fa_video_hw_close(&j->hw);
}

static int job_run(job *j) {
    int rc = job_open(j);
    if (rc == 0) rc = read_loop(j);
    if (rc == 0) rc = flush_all(j);
    if (rc == 0 && cancelled(j)) rc = fa_err_set(FA_EIO, "interrupted");
    if (rc == 0 && j->feedq) {
        rc = fa_video_feedq_finish(j->feedq, 1, &j->res->feed_frames);
        j->feedq = NULL;
    }
    if (rc == 0) rc = write_held(j);
    if (rc == 0) {
        int err = av_write_trailer(j->out);
        j->started = 0;
        if (err < 0) rc = averr(FA_EIO, "dash muxer: cannot finish the package", err);
    }
    return rc;
}

static int check_opts(const fa_transcode_opts *o) {
    if (!o->input || !o->out_dir) return fa_err_set(FA_EUSAGE, "transcode: input and output are required");
    if (o->gop_s <= 0 || o->segment_s <= 0 || o->segment_s % o->gop_s)
        return fa_err_set(FA_EUSAGE, "--segment: %d s is not a positive multiple of the %d s GOP",
                          o->segment_s, o->gop_s);
    if (!o->preset || !*o->preset) return fa_err_set(FA_EUSAGE, "--preset: empty");
    if (o->crf < 0 || o->crf > 51) return fa_err_set(FA_EUSAGE, "crf %d: expected 0..51", o->crf);
    if (o->max_input_s < 0) return fa_err_set(FA_EUSAGE, "--duration: must be positive");
    const fa_video_feed *f = o->feed;
    if (f && o->part != FA_PART_ALL)
        return fa_err_set(FA_EUSAGE,
                          "--detect-fps: not with --chunk (the feed runs in single-process transcodes)");
    if (o->part == FA_PART_CHUNK && o->chunk_index < 0)
        return fa_err_set(FA_EUSAGE, "--chunk: %d: expected a chunk index from 0", o->chunk_index);
    if (f && (!f->fn || !(f->fps > 0 && f->fps <= 240)))
        return fa_err_set(FA_EUSAGE, "--detect-fps: %g: expected a rate in (0, 240] and a consumer", f->fps);
    if (f && (f->width < 16 || f->height < 16 || f->width > 7680 || f->height > 4320 || f->width % 2 ||
              f->height % 2))
        return fa_err_set(FA_EUSAGE, "--detect-size: %dx%d: expected even sides in 16x16..7680x4320",
                          f->width, f->height);
    return 0;
}

static int plan(const fa_transcode_opts *o, fa_transcode_result *res) {
    int def[3];
    const int *heights = o->ladder;
    int n = o->nladder;
    if (!heights || n <= 0) n = fa_ladder_default(&res->source, def), heights = def;
    return fa_ladder_plan(&res->source, heights, n, &res->ladder);
}

/* The chunk o->chunk_index of the plan for res->source. */
static int pick_chunk(const fa_transcode_opts *o, const fa_transcode_result *res, fa_chunk *c) {
    fa_chunk_plan p;
    int rc = fa_chunk_plan_make(&res->source, o->max_input_s, o->chunk_s, o->segment_s, &p);
    if (rc) return rc;
    if (o->chunk_index < 0 || o->chunk_index >= p.n)
        rc = fa_err_set(FA_EUSAGE, "--chunk: %d: the plan has chunks 0..%d", o->chunk_index, p.n - 1);
    else
        *c = p.chunk[o->chunk_index];
    if (rc == 0 && o->chunk_index == p.n - 1) c->end_s = HUGE_VAL; /* the last one runs to the end */
    fa_chunk_plan_free(&p);
    return rc;
}

static void finish_result(job *j) {
    fa_transcode_result *r = j->res;
    r->frames = j->frames;
    r->media_s = j->v_last >= 0 && j->v_last != INT64_MIN
                     ? j->v_last * av_q2d(j->in->streams[j->vidx]->time_base) + j->frame_s
                     : 0;
    if (j->o->part == FA_PART_AUDIO) r->media_s = j->duration_s;
    r->segments = (int)ceil(r->media_s / j->o->segment_s - 1e-6);
    r->first_segment = j->o->part == FA_PART_CHUNK ? j->chunk.first_segment : 1;
    r->wall_s = fa_clock_now() - j->t_start;
}

int fa_transcode(const fa_transcode_opts *o, fa_transcode_result *res) {
    fa_transcode_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    int rc = check_opts(o);
    if (!rc) rc = fa_video_probe(o->input, o->limits, &res->source);
    if (!rc) rc = plan(o, res);
    job j = {.o = o, .res = res, .name = fa_path_base(o->input), .vidx = -1, .aidx = -1};
    if (!rc) rc = fa_video_outdir_begin(o->out_dir, o->force, j.tmp, sizeof j.tmp);
    if (rc) return rc;
    pthread_mutex_init(&j.mux_mu, NULL);
    j.v0 = j.a0 = j.v_last = INT64_MIN;
    j.chunk = (fa_chunk){.start_s = 0, .end_s = HUGE_VAL, .first_segment = 1};
    if (o->part == FA_PART_CHUNK) rc = pick_chunk(o, res, &j.chunk);
    if (rc) {
        pthread_mutex_destroy(&j.mux_mu);
        fa_video_rmtree(j.tmp);
        return rc;
    }
    j.t_start = fa_clock_now();
    j.frame_s = 1.0 / res->source.fps;
    j.limit_s = o->max_input_s;
    j.duration_s = j.limit_s > 0 && (res->source.duration <= 0 || j.limit_s < res->source.duration)
                       ? j.limit_s
                       : res->source.duration;
    fa_log(FA_LOG_INFO, "transcode start", "input=%s rungs=%d top=%dx%d", j.name, res->ladder.n,
           res->ladder.rung[0].width, res->ladder.rung[0].height);
    rc = job_run(&j);
    if (rc == 0) {
        finish_result(&j);
        report(&j, 1);
    }
    job_close(&j);
    pthread_mutex_destroy(&j.mux_mu);
    if (rc == 0 && o->part != FA_PART_ALL)
        rc = fa_video_chunk_finish(j.tmp, res->ladder.n, o->part == FA_PART_CHUNK ? &j.chunk : NULL,
                                   j.chunk_off == INT64_MIN ? 0 : j.chunk_off, j.in_tb);
    if (rc == 0) rc = fa_video_outdir_commit(j.tmp, o->out_dir, o->force);
    if (rc) fa_video_rmtree(j.tmp);
    return rc;
}
