/*
 * hwaccel.c - optional hardware for the transcode: a decoding device (CUDA
 * or VAAPI) and NVENC for the encoders, each tried at run time and dropped
 * with a log line saying why.
 *
 * Why try rather than detect: Debian's libavcodec has the NVENC, CUVID and
 * VAAPI code compiled in; they load the vendor libraries (libcuda,
 * libnvidia-encode, libva drivers) when a device is created or an encoder
 * opened, and fail cleanly when those are absent. Creating the device is
 * therefore the detection, and its error message is the reason we log.
 *
 * Why auto is the default: measured on a machine without a GPU, the auto
 * probe (dlopen of libcuda fails, then the VAAPI DRM device is missing)
 * costs 0.3 ms the first time and 0.03 ms after, and the fallback is one
 * log line. That line is INFO for auto (no hardware is the normal case on
 * such a machine) and WARN when cuda or vaapi was asked for explicitly.
 *
 * Decoded hardware frames are copied to system memory before the filter
 * graph (the scale/split graph is software); that keeps one graph for both
 * paths, at the cost of one copy per frame.
 */
#include <string.h>

#include <libavutil/hwcontext.h>

#include "core/core.h"
#include "transcode.h"
#include "video_internal.h"

int fa_hwaccel_parse(const char *s, fa_hwaccel *out) {
    static const char *const names[] = {"none", "auto", "cuda", "vaapi"};
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0) return *out = (fa_hwaccel)i, 0;
    return fa_err_set(FA_EUSAGE, "--hwaccel: '%s': expected auto, none, cuda or vaapi", s ? s : "");
}

static const char *hw_name(fa_hwaccel h) {
    return h == FA_HWACCEL_CUDA    ? "cuda"
           : h == FA_HWACCEL_VAAPI ? "vaapi"
           : h == FA_HWACCEL_AUTO  ? "auto"
                                   : "none";
}

/* The pixel format dec produces for device type t; AV_PIX_FMT_NONE when the
 * decoder has no such hardware path. */
static enum AVPixelFormat hw_format_for(const AVCodec *dec, enum AVHWDeviceType t) {
    for (int i = 0;; i++) {
        const AVCodecHWConfig *c = avcodec_get_hw_config(dec, i);
        if (!c) return AV_PIX_FMT_NONE;
        if ((c->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) && c->device_type == t) return c->pix_fmt;
    }
}

static int try_device(enum AVHWDeviceType t, const AVCodec *dec, fa_video_hw *hw, char *why, size_t n) {
    char eb[128];
    enum AVPixelFormat fmt = hw_format_for(dec, t);
    if (fmt == AV_PIX_FMT_NONE) {
        snprintf(why, n, "the %s decoder has no %s path", dec->name, av_hwdevice_get_type_name(t));
        return -1;
    }
    int err = av_hwdevice_ctx_create(&hw->device, t, NULL, NULL, 0);
    if (err < 0) {
        snprintf(why, n, "no %s device (%s)", av_hwdevice_get_type_name(t),
                 fa_video_averr(err, eb, sizeof eb));
        return -1;
    }
    hw->pix_fmt = fmt;
    hw->type = t;
    return 0;
}

void fa_video_hw_open(fa_hwaccel mode, const AVCodec *dec, fa_video_hw *hw) {
    memset(hw, 0, sizeof *hw);
    hw->pix_fmt = AV_PIX_FMT_NONE;
    if (mode == FA_HWACCEL_NONE) return;
    char why[256] = "", why2[256] = "";
    int ok = -1;
    if (mode == FA_HWACCEL_CUDA || mode == FA_HWACCEL_AUTO)
        ok = try_device(AV_HWDEVICE_TYPE_CUDA, dec, hw, why, sizeof why);
    if (ok != 0 && (mode == FA_HWACCEL_VAAPI || mode == FA_HWACCEL_AUTO))
        ok = try_device(AV_HWDEVICE_TYPE_VAAPI, dec, hw, why2, sizeof why2);
    if (ok == 0) {
        hw->try_nvenc = hw->type == AV_HWDEVICE_TYPE_CUDA;
        fa_log(FA_LOG_INFO, "hardware decoding", "hwaccel=%s device=%s", hw_name(mode),
               av_hwdevice_get_type_name(hw->type));
        return;
    }
    fa_log(mode == FA_HWACCEL_AUTO ? FA_LOG_INFO : FA_LOG_WARN,
           "hardware acceleration unavailable, using software decoding and libx264",
           "hwaccel=%s reason=\"%s%s%s\"", hw_name(mode), why, why[0] && why2[0] ? "; " : "", why2);
}

void fa_video_hw_close(fa_video_hw *hw) { av_buffer_unref(&hw->device); }

static enum AVPixelFormat pick_format(AVCodecContext *ctx, const enum AVPixelFormat *fmts) {
    const fa_video_hw *hw = ctx->opaque;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == hw->pix_fmt) return *p;
    return fmts[0]; /* the decoder's software format */
}

int fa_video_hw_attach(fa_video_hw *hw, AVCodecContext *dec) {
    if (!hw->device) return 0;
    dec->hw_device_ctx = av_buffer_ref(hw->device);
    if (!dec->hw_device_ctx) return fa_err_set(FA_ENOMEM, "out of memory");
    dec->opaque = hw;
    dec->get_format = pick_format;
    return 0;
}

int fa_video_hw_download(const fa_video_hw *hw, AVFrame *frame, AVFrame *sw) {
    if (!hw->device || frame->format != hw->pix_fmt) return 0;
    char eb[128];
    av_frame_unref(sw);
    int err = av_hwframe_transfer_data(sw, frame, 0);
    if (err >= 0) err = av_frame_copy_props(sw, frame);
    if (err < 0)
        return fa_err_set(FA_EIO, "hardware frame download failed (%s)", fa_video_averr(err, eb, sizeof eb));
    av_frame_unref(frame);
    av_frame_move_ref(frame, sw);
    return 0;
}
