/*
 * cmd_analyze.c - `footanalytics analyze VIDEO`: a match video to stored
 * tracking data and every metric of the analytics engine.
 *
 * One pass (src/vision/analyze.c) transcodes the HLS + DASH ladder into
 * --out and, from the same decode, detects and tracks the players and the
 * ball at --detect-fps; kit colours give each track a team. The pitch
 * calibration (--calib FILE or --points, refined on the first frame's
 * pitch lines unless --no-refine) maps every player's foot point to metres,
 * and the tracks are stored like provider tracking (provider "video") in
 * the database, analysed as an import is. --overlay writes the video with
 * the tracked boxes drawn in team colours and --radar the players on a
 * pitch diagram, for a person to check by eye.
 *
 * Without a calibration the run still transcodes, detects and tracks, and
 * says clearly that nothing was stored (a flagged partial result).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics/analytics.h"
#include "cli.h"
#include "nn/kernels.h"
#include "store/store.h"
#include "video/image.h"
#include "vision/analyze.h"
#include "vision/calib.h"
#include "vision/overlay.h"
#include "vision/quantize.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

#define DEFAULT_MODEL "nanodet-m/nanodet_m_416.onnx"

static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics analyze VIDEO [--out DIR] [--force] [--db PATH]\n"
            "                             [--calib FILE | --points SPEC] [--pitch LxW] [--no-refine]\n"
            "                             [--moving-camera]\n"
            "                             [--model PATH] [--precision int8|fp32|fp16] [--requantize]\n"
            "                             [--backend B] [--threads N] [--detect-fps N] [--detect-width W]\n"
            "                             [--tiles auto|RxC|none] [--roi auto|none] [--duration S]\n"
            "                             [--ladder LIST] [--preset P] [--hwaccel auto|none|cuda|vaapi]\n"
            "                             [--overlay FILE.mp4] [--radar FILE.mp4]\n"
            "                             [--progress bar|json|none] [--json]\n"
            "\n"
            "Analyses a match video: transcodes it (HLS + DASH, as `transcode`), detects and tracks the\n"
            "players and the ball, splits the players into teams by kit colour, maps them to pitch\n"
            "metres with the calibration, stores the result as a match (provider \"video\") with\n"
            "tracking frames like provider data, computes every metric, and prints a summary.\n"
            "\n");
    fprintf(out,
            "options:\n"
            "  --out DIR          the streaming package (default VIDEO's name + .analysis)\n"
            "  --force            replace DIR when it exists\n"
            "  --db PATH          database (default $FA_DB or ./footanalytics.db)\n"
            "  --calib FILE       calibration file (JSON: see docs; `points` alone is enough); one\n"
            "                     made at another size with the same aspect ratio is scaled\n"
            "  --points SPEC      image-to-pitch correspondences in source pixels, at least 4:\n"
            "                     \"u,v=LANDMARK;u,v=x,y;...\" (landmarks: corner_top_left,\n"
            "                     penalty_box_left_top, centre_spot ...; x, y in metres, origin at\n"
            "                     the centre spot); 6 or more also fit lens distortion\n"
            "  --pitch LxW        pitch size in metres for --points (default 105x68)\n"
            "  --no-refine        keep the calibration as given (default: refined on the first\n"
            "                     frame's pitch lines when that lowers the line error)\n"
            "  --moving-camera    the camera pans or tilts: the picture's motion between detected\n"
            "                     frames is estimated and the calibration (made on the first frame)\n"
            "                     follows it; without it the camera is taken as fixed\n"
            "  --model PATH       detector (default %s, found under $FA_MODEL_DIR,\n"
            "                     $FA_DATA_DIR/models or ../shared/data/models)\n"
            "  --precision P      int8 (default on the CPU backends), fp32 (default with --backend\n"
            "                     onednn or cuda), fp16. INT8 runs a .fanq model as given; an FP32\n"
            "                     model is quantised once on the video's first frames (8, 0.5 s apart;\n"
            "                     ~10-20 s) and cached under $FA_CACHE_DIR (default\n"
            "                     ~/.cache/footanalytics) by its SHA-256, so later runs start at once;\n"
            "                     frames showing almost nobody calibrate their run only (not cached)\n"
            "  --requantize       quantise the model again even when cached (e.g. after a first video\n"
            "                     unlike the others)\n"
            "  --backend B        auto, native, onednn, cuda\n"
            "  --threads N        detector threads (default 1; the transcoder has its own)\n"
            "  --detect-fps N     frames per second detected and tracked (default 5)\n"
            "  --detect-width W   width of the frames the detector sees (default the source's, at\n"
            "                     most 1536)\n"
            "  --tiles T          auto (default), RxC or none; --roi auto (default) tiles only the pitch\n"
            "  --duration S       analyse only the first S seconds\n"
            "  --ladder, --preset, --hwaccel   as for `transcode`\n"
            "  --overlay FILE     write the video (at the detection rate, at most 1280 wide) with every\n"
            "                     tracked box and its track id in team colours (home red, away blue,\n"
            "                     goalkeepers yellow, referees black, no team grey, the ball white)\n"
            "  --radar FILE       write the tracked players as dots on a pitch diagram (needs the\n"
            "                     calibration)\n"
            "  --progress MODE    bar (default on a terminal), json (one object per line), none\n"
            "  --json             print the summary as JSON\n"
            "\n"
            "exit status: 0 ok, 1 usage error, 2 bad input, 3 runtime failure\n",
            DEFAULT_MODEL);
}

typedef struct analyze_cli {
    fa_analyze_opts a;
    const char *db, *calib_file, *points, *overlay, *radar;
    fa_pitch pitch;
    int refine, json, precision_set, requantize;
    int ladder[FA_LADDER_MAX];
    fa_autoquant_result *int8; /* the model quantised or found in the cache (auto INT8) */
    char model_buf[1024], out_buf[1024];
    const char *model_source; /* the model asked for (c->a.model may become its INT8 file) */
    uint8_t classes[FA_COCO_CLASSES];
    fa_cli_progress progress;
} analyze_cli;

static int parse_number(const char *opt, const char *arg, double lo, double hi, double *out) {
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !(v >= lo && v <= hi))
        return fa_cli_usage("analyze", "%s: '%s': expected a number in %g..%g", opt, arg, lo, hi);
    *out = v;
    return 0;
}

static int parse_pitch(const char *arg, fa_pitch *p) {
    if (sscanf(arg, "%lfx%lf", &p->length, &p->width) != 2 || !(p->length >= 50 && p->length <= 130) ||
        !(p->width >= 30 && p->width <= 100))
        return fa_cli_usage("analyze", "--pitch: '%s': expected LENGTHxWIDTH in metres, e.g. 105x68", arg);
    return 0;
}

static int parse_option(analyze_cli *c, int opt, const char *arg) {
    double v = 0;
    int rc;
    fa_analyze_opts *a = &c->a;
    switch (opt) {
    case 'o': a->out_dir = arg; return 0;
    case 'f': a->force = 1; return 0;
    case 'd': c->db = arg; return 0;
    case 'c': c->calib_file = arg; return 0;
    case 'P': c->points = arg; return 0;
    case 'L': return parse_pitch(arg, &c->pitch);
    case 'n': c->refine = 0; return 0;
    case 'M': c->a.moving_camera = 1; return 0;
    case 'm': a->model = arg; return 0;
    case 'p':
        if (fa_cli_precision_parse(arg, &a->det.precision))
            return fa_cli_usage("analyze", "--precision: expected fp32, int8 or fp16, got '%s'", arg);
        c->precision_set = 1;
        return 0;
    case 'q': c->requantize = 1; return 0;
    case 'b': a->det.backend = arg; return 0;
    case 'T':
        if ((rc = parse_number("--threads", arg, 1, 256, &v)) == 0) a->det.threads = (int)v;
        return rc;
    case 'F': return parse_number("--detect-fps", arg, 0.1, 120, &a->detect_fps);
    case 'W':
        if ((rc = parse_number("--detect-width", arg, 64, 8192, &v)) == 0) a->detect_width = (int)v;
        return rc;
    case 't':
        if (fa_tiles_parse(arg, &a->det.tiles)) return fa_cli_usage("analyze", "%s", fa_err_msg());
        return 0;
    case 'r':
        if (fa_roi_parse(arg, &a->det.roi)) return fa_cli_usage("analyze", "%s", fa_err_msg());
        return 0;
    case 'D': return parse_number("--duration", arg, 0.04, 1e6, &a->max_input_s);
    case 'l':
        if (fa_ladder_parse(arg, c->ladder, FA_LADDER_MAX, &a->nladder))
            return fa_cli_usage("analyze", "%s", fa_err_msg());
        a->ladder = c->ladder;
        return 0;
    case 's': a->preset = arg; return 0;
    case 'w':
        if (fa_hwaccel_parse(arg, &a->hwaccel)) return fa_cli_usage("analyze", "%s", fa_err_msg());
        return 0;
    case 'O': c->overlay = arg; return 0;
    case 'R': c->radar = arg; return 0;
    case 'g': return fa_cli_progress_parse("analyze", arg, &c->progress);
    case 'j': c->json = 1; return 0;
    default: return fa_cli_usage("analyze", "unknown option");
    }
}

static int parse_args(int argc, char **argv, analyze_cli *c) {
    static const struct option longs[] = {{"out", required_argument, NULL, 'o'},
                                          {"force", no_argument, NULL, 'f'},
                                          {"db", required_argument, NULL, 'd'},
                                          {"calib", required_argument, NULL, 'c'},
                                          {"points", required_argument, NULL, 'P'},
                                          {"pitch", required_argument, NULL, 'L'},
                                          {"no-refine", no_argument, NULL, 'n'},
                                          {"moving-camera", no_argument, NULL, 'M'},
                                          {"model", required_argument, NULL, 'm'},
                                          {"precision", required_argument, NULL, 'p'},
                                          {"requantize", no_argument, NULL, 'q'},
                                          {"backend", required_argument, NULL, 'b'},
                                          {"threads", required_argument, NULL, 'T'},
                                          {"detect-fps", required_argument, NULL, 'F'},
                                          {"detect-width", required_argument, NULL, 'W'},
                                          {"tiles", required_argument, NULL, 't'},
                                          {"roi", required_argument, NULL, 'r'},
                                          {"duration", required_argument, NULL, 'D'},
                                          {"ladder", required_argument, NULL, 'l'},
                                          {"preset", required_argument, NULL, 's'},
                                          {"hwaccel", required_argument, NULL, 'w'},
                                          {"overlay", required_argument, NULL, 'O'},
                                          {"radar", required_argument, NULL, 'R'},
                                          {"progress", required_argument, NULL, 'g'},
                                          {"json", no_argument, NULL, 'j'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "ho:", longs, NULL)) != -1) {
        if (opt == 'h') return help(stdout), -1;
        if (opt == '?') return fa_cli_usage("analyze", "bad option");
        int rc = parse_option(c, opt, optarg);
        if (rc) return rc;
    }
    if (optind != argc - 1) return fa_cli_usage("analyze", "expected one VIDEO file");
    if (c->calib_file && c->points) return fa_cli_usage("analyze", "--calib and --points: give one of them");
    if (c->radar && !c->calib_file && !c->points)
        return fa_cli_usage("analyze", "--radar needs the calibration (--calib or --points)");
    c->a.input = argv[optind];
    return 0;
}

/* ------------------------------------------------------------ calibration */

/* The first frame of the video at full size (for the calibration). */
static int first_frame(const char *input, fa_image *img) {
    fa_frames *f = fa_frames_open(input, 0);
    if (!f) return fa_err_code();
    int64_t index;
    double t;
    int rc = fa_frames_next(f, img, &index, &t);
    fa_frames_close(f);
    if (rc == 0) return fa_err_set(FA_EINVAL, "%s: no frames", input);
    return rc < 0 ? rc : 0;
}

/* A calibration file made on the same camera's picture at another size (the
 * original of a proxy, or the other way round) scaled to the video's. */
static int rescale(const char *file, fa_calib *cal, int w, int h) {
    int from_w = cal->img_w, from_h = cal->img_h;
    if (fa_calib_rescale(cal, w, h)) return fa_err_prefix("%s (the video is %dx%d)", file, w, h);
    fa_log(FA_LOG_INFO, "calibration scaled to the video", "file=%s from=%dx%d to=%dx%d rms_px=%.2f",
           fa_path_base(file), from_w, from_h, w, h, cal->rms_px);
    return 0;
}

/* --calib or --points into *cal, checked against the video's size and
 * refined on its first frame. 0 with *have = 0 when neither was given. */
static int calibrate(analyze_cli *c, fa_calib *cal, int *have, fa_calib_refine_stats *rs) {
    *have = 0;
    memset(rs, 0, sizeof *rs);
    if (!c->calib_file && !c->points) return 0;
    fa_image img = {0};
    int rc = first_frame(c->a.input, &img);
    if (!rc && c->calib_file) {
        rc = fa_calib_load(c->calib_file, cal);
        if (!rc && (cal->img_w != img.w || cal->img_h != img.h))
            rc = rescale(c->calib_file, cal, img.w, img.h);
    } else if (!rc) {
        fa_calib_point pts[FA_CALIB_MAX_POINTS];
        size_t n = 0;
        rc = fa_calib_parse_points(c->points, &c->pitch, pts, FA_CALIB_MAX_POINTS, &n);
        if (!rc) rc = fa_calib_solve(pts, n, img.w, img.h, &c->pitch, NULL, cal);
        if (rc) fa_err_prefix("--points");
    }
    if (!rc && c->refine && fa_calib_refine_lines(cal, &img, rs) != 0) {
        fa_log(FA_LOG_WARN, "calibration not refined", "reason=\"%s\"", fa_err_msg());
        fa_err_clear();
    }
    fa_image_free(&img);
    *have = !rc;
    return rc;
}

/* ------------------------------------------------------------ detector */

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The precision when none was given: INT8 on the CPU backends, where it
 * runs at 0.46x the FP32 time, FP32 on the others. Returns 1 when the
 * model is an FP32 file to be quantised (through the cache). */
static int wants_auto_int8(analyze_cli *c) {
    const char *b = c->a.det.backend;
    int cpu = !b || !strcmp(b, "auto") || !strcmp(b, "native");
    if (!c->precision_set) c->a.det.precision = cpu ? FA_NN_INT8 : FA_NN_FP32;
    return c->a.det.precision == FA_NN_INT8 && !ends_with(c->a.model, ".fanq");
}

static void on_quantise(void *user) { fa_cli_progress_stage(user, "quantise", -1); }

/* The INT8 model for c->a.model: from the cache, or quantised now on the
 * video's first frames at the size the detector will see them. */
static int prepare_int8(analyze_cli *c) {
    fa_video_info v;
    if (fa_video_probe(c->a.input, NULL, &v)) return fa_err_code();
    fa_autoquant_opts o;
    fa_autoquant_opts_default(&o);
    o.tiles = c->a.det.tiles, o.roi = c->a.det.roi, o.refresh = c->requantize;
    o.q.backend = c->a.det.backend;
    o.on_build = on_quantise, o.on_build_user = &c->progress;
    int feed_h;
    fa_analyze_feed_size(&c->a, v.display_width, v.display_height, &o.width, &feed_h);
    if (!(c->int8 = fa_calloc(1, sizeof *c->int8))) return FA_ENOMEM;
    if (fa_autoquant(c->a.model, c->a.input, &o, c->int8))
        return fa_err_prefix("%s: quantising to INT8 (--precision fp32 runs it unquantised)",
                             fa_path_base(c->a.model));
    const fa_autoquant_result *r = c->int8;
    if (r->built) fa_cli_progress_stage(&c->progress, "quantise", r->build_s);
    if (r->built)
        fa_log(FA_LOG_INFO, "INT8 detector ready", "file=%s frames=%zu tiles=%zu seconds=%.1f%s", r->path,
               r->frames, r->tiles, r->build_s, r->temporary ? " temporary=1" : "");
    c->a.model = r->path;
    return 0;
}

static void print_detector(const analyze_cli *c) {
    char name[8];
    snprintf(name, sizeof name, "%s", fa_cli_precision_name(c->a.det.precision));
    for (char *ch = name; *ch; ch++)
        *ch = (char)toupper((unsigned char)*ch); /* "INT8" in the text summary */
    printf("  detector:    %s %s", fa_path_base(c->model_source), name);
    if (c->int8 && c->int8->built)
        printf(" (quantised on %zu frames of this video in %.1f s%s)", c->int8->frames, c->int8->build_s,
               c->int8->temporary ? "; not cached, see the log" : ", cached");
    else if (c->int8)
        printf(" (cached quantisation %s)", fa_path_base(c->int8->path));
    printf("\n");
}

/* ------------------------------------------------------------ store */

typedef struct stored {
    int64_t match_id;
    int replaced;
    fa_analyze_emit_stats emit;
    size_t metrics;
} stored;

static int store(const analyze_cli *c, const fa_analyze_result *r, fa_calib *cal, stored *out) {
    fa_analytics_config config;
    int rc = fa_cli_config_build(&config, NULL, NULL, 0);
    fa_store *db = rc ? NULL : fa_store_open(fa_cli_db_path(c->db), 1, 1);
    if (!db) return rc ? rc : fa_err_code();
    fa_store_import *imp = NULL;
    rc = fa_store_import_begin(db, &imp);
    fa_collector col;
    fa_collector_init(&col, rc ? NULL : fa_store_import_sink(imp));
    fa_analyze_emit_opts eo = {.pitch = cal->pitch,
                               .map = fa_calib_map,
                               .map_user = cal,
                               .team = fa_analyze_team,
                               .team_user = (void *)(uintptr_t)r};
    if (!rc) rc = fa_analyze_emit(&c->a, r, &eo, &col.sink, &out->emit);
    fa_aggregates agg = {0};
    if (!rc) rc = fa_analyze_match(&col, &config, &agg);
    if (!rc) rc = fa_store_import_aggregates(imp, &agg);
    out->metrics = agg.nmetrics;
    fa_aggregates_free(&agg);
    fa_collector_free(&col);
    fa_import_stats st;
    if (!rc) {
        rc = fa_store_import_commit(imp, &st);
        out->match_id = st.match_id, out->replaced = st.replaced;
    } else if (imp) {
        int code = fa_err_code() ? fa_err_code() : rc;
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", fa_err_msg());
        fa_store_import_abort(imp);
        rc = fa_err_set(code, "%s", saved);
    }
    fa_store_close(db);
    return rc;
}

/* The radar video: the same stream as the store's, drawn. */
static int write_radar(const analyze_cli *c, const fa_analyze_result *r, fa_calib *cal) {
    fa_radar *rd = fa_radar_open(c->radar);
    if (!rd) return fa_err_code();
    fa_analyze_emit_opts eo = {.pitch = cal->pitch,
                               .map = fa_calib_map,
                               .map_user = cal,
                               .team = fa_analyze_team,
                               .team_user = (void *)(uintptr_t)r};
    fa_analyze_emit_stats st;
    int rc = fa_analyze_emit(&c->a, r, &eo, fa_radar_sink(rd), &st);
    int close_rc = fa_radar_close(rd, rc == 0);
    return rc ? rc : close_rc;
}

/* ------------------------------------------------------------ summary */

static void print_text(const analyze_cli *c, const fa_analyze_result *r, const fa_calib *cal, int have_cal,
                       const fa_calib_refine_stats *rs, const stored *st) {
    const fa_transcode_result *t = &r->transcode;
    printf("analysed %s: %.1f s of %dx%d video in %.1f s\n", c->a.input, t->media_s, t->source.display_width,
           t->source.display_height, t->wall_s);
    printf("  streaming:   %s (%d renditions, %d segments each, %s)\n", c->a.out_dir, t->ladder.n,
           t->segments, t->video_encoder);
    print_detector(c);
    printf("  detection:   %lld frames at %.3g fps, %dx%d, %zu boxes, %.1f s in the detector\n",
           (long long)r->frames, c->a.detect_fps, r->feed_w, r->feed_h, r->detections, r->detect_s);
    printf("  tracking:    %zu tracks\n", r->tracks.n_tracks);
    const fa_teams_summary *ts = &r->teams_summary;
    if (r->teams)
        printf("  teams:       %s; colour distance %.1f, separation %.2f (team A %.0f tracks, team B %.0f), "
               "%d other groups\n",
               ts->similar ? "kits too similar to split: tracks left without a team" : "two kits",
               ts->centre_dist, ts->separation, ts->team_tracks[0], ts->team_tracks[1], ts->n_groups);
    else
        printf("  teams:       none (%s)\n", r->teams_error);
    if (!have_cal) {
        printf("  calibration: none: tracking NOT stored (give --calib FILE or --points)\n");
        return;
    }
    printf("  calibration: %zu points, reprojection RMS %.2f px / %.2f m%s", cal->npoints, cal->rms_px,
           cal->rms_m, cal->distortion_fitted ? ", lens distortion fitted" : "");
    if (rs->samples)
        printf("; line refinement %s (%.2f -> %.2f px)", rs->accepted ? "kept" : "not kept", rs->err_before,
               rs->err_after);
    printf(
        "\n  stored:      match %lld%s: %zu players, %zu frames, %zu positions (%zu off the pitch left out), "
        "%zu ball positions, %zu metrics\n",
        (long long)st->match_id, st->replaced ? " (replaced the earlier analysis)" : "", st->emit.players,
        st->emit.frames, st->emit.samples, st->emit.off_pitch, st->emit.ball_samples, st->metrics);
    if (st->emit.off_pitch_people)
        printf("  left out:    %zu tracked people standing off the pitch (spectators, staff)\n",
               st->emit.off_pitch_people);
}

static void print_json(const analyze_cli *c, const fa_analyze_result *r, const fa_calib *cal, int have_cal,
                       const stored *st) {
    const fa_transcode_result *t = &r->transcode;
    printf("{\"event\":\"done\",\"media_s\":%.3f,\"wall_s\":%.3f,\"frames\":%lld,\"detections\":%zu,"
           "\"detect_s\":%.3f,\"track_s\":%.3f,\"tracks\":%zu,\"teams\":%s,\"similar_kits\":%s,"
           "\"separation\":%.3f,\"calibrated\":%s",
           t->media_s, t->wall_s, (long long)r->frames, r->detections, r->detect_s, r->track_s,
           r->tracks.n_tracks, r->teams ? "true" : "false", r->teams_summary.similar ? "true" : "false",
           (double)r->teams_summary.separation, have_cal ? "true" : "false");
    printf(",\"precision\":\"%s\",\"quantised_now\":%s,\"quantise_s\":%.3f",
           fa_cli_precision_name(c->a.det.precision), c->int8 && c->int8->built ? "true" : "false",
           c->int8 ? c->int8->build_s : 0.0);
    if (have_cal)
        printf(",\"rms_px\":%.3f,\"rms_m\":%.3f,\"match_id\":%lld,\"players\":%zu,\"samples\":%zu,"
               "\"off_pitch\":%zu,\"off_pitch_people\":%zu,\"metrics\":%zu",
               cal->rms_px, cal->rms_m, (long long)st->match_id, st->emit.players, st->emit.samples,
               st->emit.off_pitch, st->emit.off_pitch_people, st->metrics);
    printf("}\n");
}

/* ------------------------------------------------------------ main */

static void defaults(analyze_cli *c) {
    memset(c, 0, sizeof *c);
    fa_analyze_opts_default(&c->a);
    c->refine = 1;
    c->pitch = (fa_pitch){FA_PITCH_DEFAULT_LENGTH, FA_PITCH_DEFAULT_WIDTH};
    c->classes[FA_COCO_PERSON] = c->classes[FA_COCO_SPORTS_BALL] = 1;
    c->a.det.classes = c->classes;
}

static int run(analyze_cli *c) {
    fa_calib *cal = fa_calloc(1, sizeof *cal);
    if (!cal) return fa_cli_fail("analyze");
    fa_calib_refine_stats rs;
    int have_cal = 0, status = 0;
    fa_analyze_result r = {0};
    stored st = {0};
    int rc = calibrate(c, cal, &have_cal, &rs); /* first: it checks the video and the points in no time */
    if (!rc && wants_auto_int8(c)) rc = prepare_int8(c);
    if (!rc && have_cal) c->a.map = fa_calib_map, c->a.map_user = cal; /* people off the pitch: not players */
    if (rc || fa_analyze_video(&c->a, &r)) status = fa_cli_fail("analyze");
    if (c->progress.bar_drawn) fputc('\n', stderr);
    if (!status && r.tracks.n_tracks == 0) {
        fa_err_set(FA_EINVAL,
                   "%s: no players found in the %lld frames detected: nothing to store (the package "
                   "is in %s)",
                   c->a.input, (long long)r.frames, c->a.out_dir);
        status = fa_cli_fail("analyze");
    }
    if (!status && c->overlay &&
        fa_overlay_write_video(c->a.input, c->a.detect_fps > 0 ? c->a.detect_fps : 5, &r, 1280, c->overlay))
        status = fa_cli_fail("analyze");
    if (!status && c->radar && write_radar(c, &r, cal)) status = fa_cli_fail("analyze");
    if (!status && have_cal && store(c, &r, cal, &st)) status = fa_cli_fail("analyze");
    if (!status) {
        if (c->json)
            print_json(c, &r, cal, have_cal, &st);
        else
            print_text(c, &r, cal, have_cal, &rs, &st);
    }
    fa_analyze_result_free(&r);
    free(cal);
    if (c->int8 && c->int8->temporary) unlink(c->int8->path);
    free(c->int8);
    return status;
}

int fa_cmd_analyze(int argc, char **argv) {
    analyze_cli *c = fa_calloc(1, sizeof *c);
    if (!c) return fa_cli_fail("analyze");
    defaults(c);
    int rc = parse_args(argc, argv, c);
    if (rc) {
        free(c);
        return rc < 0 ? 0 : rc;
    }
    c->a.model =
        fa_cli_model_path(c->a.model ? c->a.model : DEFAULT_MODEL, c->model_buf, sizeof c->model_buf);
    c->model_source = c->a.model;
    if (!c->a.out_dir) {
        snprintf(c->out_buf, sizeof c->out_buf, "%s", fa_path_base(c->a.input));
        char *dot = strrchr(c->out_buf, '.');
        if (dot && dot != c->out_buf) *dot = '\0';
        strncat(c->out_buf, ".analysis", sizeof c->out_buf - strlen(c->out_buf) - 1);
        c->a.out_dir = c->out_buf;
    }
    fa_cli_progress_resolve(&c->progress);
    c->a.progress = fa_cli_on_progress, c->a.progress_user = &c->progress;
    c->a.cancel = &stop_signal;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fa_video_quiet();
    int status = run(c);
    free(c);
    if (stop_signal) {
        signal(stop_signal, SIG_DFL);
        raise(stop_signal);
    }
    return status;
}
