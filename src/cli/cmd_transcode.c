/*
 * cmd_transcode.c - `footanalytics transcode INPUT --out DIR`: a video to an
 * adaptive ladder served by DASH and HLS from one set of fMP4 segments.
 *
 * The work is src/video (fa_transcode); this file parses options, draws the
 * progress (a one-line bar on a terminal, JSON lines for jobs) and turns
 * SIGINT/SIGTERM into a cancellation: the transcoder stops, removes its
 * temporary directory, and the signal is raised again so the parent sees
 * how we died. The signal flag is the one piece of file-scope mutable
 * state: a signal handler can reach nothing else.
 *
 * Chunk jobs (src/video/chunk.h): --plan prints the chunk plan as JSON for a
 * job queue; --chunk I and --chunk audio run one job each into their own
 * directories; --assemble joins the job directories into the package.
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "cli.h"
#include "video/chunk.h"
#include "video/transcode.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }


static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics transcode INPUT --out DIR [--ladder 720,480,360] [--preset superfast]\n"
            "                               [--segment 4] [--hwaccel auto|none|cuda|vaapi] [--force]\n"
            "                               [--progress bar|json|none] [--duration SECONDS]\n"
            "                               [--max-size WxH] [--max-duration SECONDS]\n"
            "                               [--detect-fps FPS [--detect-size WxH]]\n"
            "       footanalytics transcode INPUT --plan [--chunk-seconds S] [--segment 4]\n"
            "       footanalytics transcode INPUT --out JOBDIR --chunk I|audio [--chunk-seconds S] ...\n"
            "       footanalytics transcode --assemble --out DIR JOBDIR...\n"
            "\n"
            "Transcodes a video into an adaptive-bitrate ladder of H.264 renditions (AAC audio when\n"
            "the source has audio), packaged once as fMP4 segments listed by both a DASH manifest\n"
            "(DIR/manifest.mpd) and HLS playlists (DIR/master.m3u8). Keyframes every 2 s, aligned\n"
            "in every rendition; timestamps start at 0. The input is probed first: a file that is\n"
            "not a video, empty, truncated, corrupt, audio only or over the limits is refused\n"
            "before any work (exit 2). Output is written to DIR.tmp-PID and renamed to DIR when\n"
            "complete; a failed or interrupted run leaves nothing behind.\n"
            "\n");
    fprintf(out, "options:\n"
                 "  --out DIR          output directory (required; must not exist unless --force)\n"
                 "  --ladder LIST      rendition classes, heights of a 16:9 box, largest first, e.g.\n"
                 "                     720,480,360 (default 720,480,360 for sources up to 1280x720,\n"
                 "                     1080,720,480 above). The source is fitted into each box keeping\n"
                 "                     its aspect (1280x338 -> 1280x338, 854x226, 640x168); never\n"
                 "                     upscaled: a class above the source is dropped and the source\n"
                 "                     size becomes the top rendition. Caps (kbit/s): 1080 5000,\n"
                 "                     720 3000, 480 1500, 360 800, buffer 2x\n"
                 "  --preset NAME      x264 preset: ultrafast ... veryslow (default superfast)\n"
                 "  --segment SECONDS  segment duration, a multiple of the 2 s GOP (default 4)\n"
                 "  --hwaccel MODE     auto: try CUDA (NVDEC + NVENC) then VAAPI decoding; cuda, vaapi:\n"
                 "                     only that; none: software (default auto). Unavailable hardware\n"
                 "                     falls back to software with one log line saying why\n"
                 "  --force            replace an existing output directory\n"
                 "  --progress MODE    bar: one-line bar on stderr; json: one JSON object per line on\n"
                 "                     stdout (percent, fps, eta_s ...); none (default: bar on a\n"
                 "                     terminal, else none)\n"
                 "  --duration SECONDS transcode only the first SECONDS of the input\n"
                 "  --max-size WxH     refuse inputs larger than this (default 7680x4320)\n"
                 "  --max-duration S   refuse inputs longer than S seconds (default 14400)\n"
                 "  --detect-fps FPS   also feed the detector FPS RGB frames per second of video from the\n"
                 "                     same decode (a bounded queue to a consumer thread, no copies);\n"
                 "                     until the vision stage is plugged in, the frames are counted\n"
                 "  --detect-size WxH  size of the detector frames (default 640x360)\n"
                 "  --plan             print the chunk plan of INPUT as JSON (no encoding): chunks of about\n"
                 "                     --chunk-seconds (default 20) on the segment grid, each an\n"
                 "                     independent job, plus one audio job when INPUT has audio\n"
                 "  --chunk I|audio    encode only chunk I of the plan (video rungs, segments numbered and\n"
                 "                     timed as in the whole stream) or only the audio (whole timeline)\n"
                 "                     into --out; give every job the same options\n"
                 "  --chunk-seconds S  chunk length for --plan and --chunk (rounded to whole segments)\n"
                 "  --assemble         join the job directories given as arguments into the package --out\n"
                 "                     (manifest.mpd, HLS playlists); refuses mismatched or missing parts\n"
                 "  -h, --help         show this help\n"
                 "\n"
                 "environment:\n"
                 "  FA_FFMPEG_LOG      FFmpeg's own log level (quiet, error, warning, info, debug;\n"
                 "                     default quiet: our one-line errors say what went wrong)\n"
                 "\n"
                 "exit status: 0 ok, 1 usage error (or DIR exists), 2 bad input, 3 runtime failure;\n"
                 "killed by SIGINT/SIGTERM after cleaning up when interrupted\n");
}

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_result(const fa_transcode_result *r, const char *out, enum fa_cli_progress_mode mode) {
    if (mode == FA_PROGRESS_JSON) {
        printf("{\"event\":\"done\",\"out\":");
        print_json_string(out);
        printf(",\"media_s\":%.3f,\"wall_s\":%.2f,\"frames\":%lld,"
               "\"segments\":%d,\"encoder\":\"%s\",\"feed_frames\":%lld,\"rungs\":[",
               r->media_s, r->wall_s, (long long)r->frames, r->segments, r->video_encoder,
               (long long)r->feed_frames);
        for (int i = 0; i < r->ladder.n; i++)
            printf("%s{\"width\":%d,\"height\":%d,\"maxrate_kbps\":%d}", i ? "," : "",
                   r->ladder.rung[i].width, r->ladder.rung[i].height, r->ladder.rung[i].maxrate_kbps);
        printf("]}\n");
        return;
    }
    char desc[256];
    printf("%s: %s\n", out, fa_video_describe(&r->source, desc, sizeof desc));
    for (int i = 0; i < r->ladder.n; i++)
        printf("  rung %d: %dx%d (SAR %d:%d) max %d kbit/s\n", i, r->ladder.rung[i].width,
               r->ladder.rung[i].height, r->ladder.rung[i].sar_num, r->ladder.rung[i].sar_den,
               r->ladder.rung[i].maxrate_kbps);
    printf("  %.3f s of media, %lld frames, %d segments of each stream, %s, %.2f s wall\n", r->media_s,
           (long long)r->frames, r->segments, r->video_encoder, r->wall_s);
    if (r->feed_frames) printf("  detector feed: %lld frames\n", (long long)r->feed_frames);
}

static int parse_wxh(const char *opt, const char *s, int *w, int *h) {
    char tail;
    if (sscanf(s, "%dx%d%c", w, h, &tail) != 2 || *w <= 0 || *h <= 0)
        return fa_cli_usage("transcode", "%s: '%s': expected WIDTHxHEIGHT, e.g. 640x360", opt, s);
    return 0;
}

static int parse_size(const char *s, fa_video_limits *lim) {
    int w, h;
    if (parse_wxh("--max-size", s, &w, &h)) return FA_EXIT_USAGE;
    lim->max_width = w;
    lim->max_height = h;
    lim->max_pixels = (int64_t)w * h;
    return 0;
}

static int parse_seconds(const char *opt, const char *s, double *out) {
    if (fa_parse_double(s, out) != 0 || *out <= 0)
        return fa_cli_usage("transcode", "%s: '%s': expected a positive number of seconds", opt, s);
    return 0;
}


static int parse_chunk(const char *arg, fa_transcode_opts *t) {
    int64_t v;
    if (!strcmp(arg, "audio")) {
        t->part = FA_PART_AUDIO;
        return 0;
    }
    if (fa_parse_int(arg, 0, 100000, &v))
        return fa_cli_usage("transcode", "--chunk: '%s': expected a chunk index (0, 1 ...) or 'audio'", arg);
    t->part = FA_PART_CHUNK;
    t->chunk_index = (int)v;
    return 0;
}

/* The detector consumer until the vision stage plugs in: counts frames. */
static int count_frame(const fa_video_frame *f, void *user) {
    (void)f;
    ++*(int64_t *)user;
    return 0;
}

typedef struct cli_opts {
    fa_transcode_opts t;
    fa_video_feed feed;
    int64_t fed;
    fa_video_limits lim;
    int heights[FA_LADDER_MAX];
    fa_cli_progress st;
    int plan, assemble;
} cli_opts;

static int parse_option(int c, const char *arg, cli_opts *c_o) {
    fa_transcode_opts *t = &c_o->t;
    int64_t v;
    switch (c) {
    case 'o': t->out_dir = arg; return 0;
    case 'l':
        if (fa_ladder_parse(arg, c_o->heights, FA_LADDER_MAX, &t->nladder))
            return fa_cli_usage("transcode", "%s", fa_err_msg());
        t->ladder = c_o->heights;
        return 0;
    case 'p': t->preset = arg; return 0;
    case 's':
        if (fa_parse_int(arg, 1, 3600, &v))
            return fa_cli_usage("transcode", "--segment: '%s': expected whole seconds, e.g. 4", arg);
        t->segment_s = (int)v;
        return 0;
    case 'w':
        if (fa_hwaccel_parse(arg, &t->hwaccel)) return fa_cli_usage("transcode", "%s", fa_err_msg());
        return 0;
    case 'f': t->force = 1; return 0;
    case 'g': return fa_cli_progress_parse("transcode", arg, &c_o->st);
    case 'd': return parse_seconds("--duration", arg, &t->max_input_s);
    case 'm': return parse_size(arg, &c_o->lim);
    case 'D': return parse_seconds("--max-duration", arg, &c_o->lim.max_duration);
    case 'F': c_o->t.feed = &c_o->feed; return parse_seconds("--detect-fps", arg, &c_o->feed.fps);
    case 'S': return parse_wxh("--detect-size", arg, &c_o->feed.width, &c_o->feed.height);
    case 'P': c_o->plan = 1; return 0;
    case 'A': c_o->assemble = 1; return 0;
    case 'c': return parse_chunk(arg, t);
    case 'C': return parse_seconds("--chunk-seconds", arg, &t->chunk_s);
    default: return fa_cli_usage("transcode", "unknown option");
    }
}

static int parse_args(int argc, char **argv, cli_opts *c) {
    static const struct option longs[] = {{"out", required_argument, NULL, 'o'},
                                          {"ladder", required_argument, NULL, 'l'},
                                          {"preset", required_argument, NULL, 'p'},
                                          {"segment", required_argument, NULL, 's'},
                                          {"hwaccel", required_argument, NULL, 'w'},
                                          {"force", no_argument, NULL, 'f'},
                                          {"progress", required_argument, NULL, 'g'},
                                          {"duration", required_argument, NULL, 'd'},
                                          {"max-size", required_argument, NULL, 'm'},
                                          {"max-duration", required_argument, NULL, 'D'},
                                          {"detect-fps", required_argument, NULL, 'F'},
                                          {"detect-size", required_argument, NULL, 'S'},
                                          {"plan", no_argument, NULL, 'P'},
                                          {"assemble", no_argument, NULL, 'A'},
                                          {"chunk", required_argument, NULL, 'c'},
                                          {"chunk-seconds", required_argument, NULL, 'C'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "ho:", longs, NULL)) != -1) {
        if (opt == 'h') return help(stdout), -1;
        if (opt == '?') return fa_cli_usage("transcode", "bad option");
        int rc = parse_option(opt, optarg, c);
        if (rc) return rc;
    }
    if (c->assemble && optind >= argc)
        return fa_cli_usage("transcode", "--assemble: expected job directories");
    if (!c->assemble && optind != argc - 1) return fa_cli_usage("transcode", "expected one INPUT file");
    if (!c->t.out_dir && !c->plan) return fa_cli_usage("transcode", "--out DIR is required");
    c->t.input = argv[optind];
    return 0;
}

static void set_ffmpeg_log(void) {
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"quiet", AV_LOG_QUIET},
                  {"error", AV_LOG_ERROR},
                  {"warning", AV_LOG_WARNING},
                  {"info", AV_LOG_INFO},
                  {"debug", AV_LOG_DEBUG}};
    const char *env = getenv("FA_FFMPEG_LOG");
    int level = AV_LOG_QUIET;
    for (size_t i = 0; env && i < sizeof levels / sizeof *levels; i++)
        if (!strcmp(env, levels[i].name)) level = levels[i].level;
    av_log_set_level(level);
}

static void catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int print_plan(const cli_opts *c) {
    fa_video_info info;
    fa_chunk_plan plan;
    fa_buf b = {0};
    int rc = fa_video_probe(c->t.input, &c->lim, &info);
    if (rc == 0) rc = fa_chunk_plan_make(&info, c->t.max_input_s, c->t.chunk_s, c->t.segment_s, &plan);
    if (rc) return fa_cli_fail("transcode");
    rc = fa_chunk_plan_json(&plan, info.has_audio, &b);
    if (rc == 0) printf("%s\n", b.data);
    fa_buf_free(&b);
    fa_chunk_plan_free(&plan);
    return rc ? fa_cli_fail("transcode") : FA_EXIT_OK;
}

static int assemble(int argc, char **argv, const cli_opts *c) {
    set_ffmpeg_log();
    if (fa_chunks_assemble(c->t.out_dir, c->t.force, (const char *const *)argv + optind, argc - optind))
        return fa_cli_fail("transcode");
    printf("%s: assembled from %d job directories\n", c->t.out_dir, argc - optind);
    return FA_EXIT_OK;
}

int fa_cmd_transcode(int argc, char **argv) {
    cli_opts c;
    memset(&c, 0, sizeof c);
    fa_transcode_opts_default(&c.t);
    fa_video_limits_default(&c.lim);
    c.feed = (fa_video_feed){.width = 640, .height = 360, .fn = count_frame, .user = &c.fed};
    c.t.chunk_s = 20;
    int rc = parse_args(argc, argv, &c);
    if (rc) return rc < 0 ? FA_EXIT_OK : rc;
    if (c.assemble) return assemble(argc, argv, &c);
    if (c.plan) return print_plan(&c);
    fa_cli_progress_resolve(&c.st);
    c.t.limits = &c.lim;
    c.t.progress = fa_cli_on_progress;
    c.t.progress_user = &c.st;
    c.t.cancel = &stop_signal;
    set_ffmpeg_log();
    catch_signals();
    fa_transcode_result res;
    rc = fa_transcode(&c.t, &res);
    if (c.st.bar_drawn) fputc('\n', stderr);
    if (rc && stop_signal) { /* a signal after the rename changes nothing: the output is complete */
        fprintf(stderr, "footanalytics transcode: interrupted, nothing written\n");
        signal((int)stop_signal, SIG_DFL);
        raise((int)stop_signal);
    }
    if (rc) return fa_cli_fail("transcode");
    print_result(&res, c.t.out_dir, c.st.mode);
    return FA_EXIT_OK;
}
