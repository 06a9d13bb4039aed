/*
 * cmd_detect.c - `footanalytics detect IMAGE|DIR|VIDEO... --model PATH`: runs
 * a detector (src/vision) over images, the images of a directory, or the
 * frames of a video, and writes the boxes as JSON, optionally drawn on the
 * picture, optionally scored against YOLO labels (--eval).
 *
 * Inputs are expanded first (a directory becomes its image files in name
 * order) so the output's shape is known before any frame is decoded: one
 * JSON object for a single image, an array otherwise; the array is written
 * as frames are processed, so a long video is never held in memory.
 *
 * --eval switches the defaults to what average precision needs: a low score
 * threshold (0.05: AP integrates over the whole ranking, a 0.3 cut would
 * truncate the recall axis) and the two classes the labels know.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "nn/kernels.h"
#include "video/image.h"
#include "vision/detector.h"
#include "vision/eval.h"

static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics detect IMAGE|DIR|VIDEO... --model PATH [--precision fp32|int8|fp16]\n"
            "              [--backend auto|native|onednn|cuda] [--tiles auto|RxC|none] [--roi auto|none]\n"
            "              [--classes LIST] [--conf X] [--nms X] [--nms-agnostic] [--fps N]\n"
            "              [--out FILE.json] [--draw FILE.png] [--eval] [--threads N] [--max-batch N]\n"
            "              [--max-frames N]\n"
            "\n"
            "Detects objects (80 COCO classes) in images (JPEG, PNG), every image of a directory,\n"
            "or the frames of a video, with FastestDet (.onnx), NanoDet (.onnx) or a Darknet YOLO\n"
            "(.cfg with its .weights beside it). Boxes are in source pixels.\n"
            "\n"
            "options:\n"
            "  --model PATH      the detector; a relative path not found is looked up in\n"
            "                    $FA_MODEL_DIR, then ../shared/data/models\n"
            "  --precision P     fp32 (default), fp16 (half-size weights), int8 (needs a quantised\n"
            "                    .fanq model: see 'footanalytics model quantize')\n"
            "  --backend B       auto (default: native), native, onednn, cuda (an NVIDIA GPU\n"
            "                    through libfa_nn_cuda.so, built where nvcc is; with --precision fp16\n"
            "                    half activations too)\n"
            "  --tiles T         auto (default): frames over 2.5x the network input in a side are cut\n"
            "                    into overlapping tiles of about the network's size, run as one\n"
            "                    batch; RxC: a fixed grid (e.g. 3x6); none: the whole frame\n"
            "  --roi R           auto (default): when tiling, tile only the pitch (the largest\n"
            "                    green area, grown by a margin; the whole frame when none is\n"
            "                    found); none: tile the whole frame\n"
            "  --classes LIST    comma-separated COCO names to report, '_' for space\n"
            "                    (e.g. person,sports_ball; default all, or person,sports_ball\n"
            "                    with --eval)\n"
            "  --conf X          score threshold, 0..1 (default 0.3; 0.05 with --eval)\n"
            "  --nms X           IoU threshold of the class-aware NMS (default 0.45)\n"
            "  --nms-agnostic    suppress overlapping boxes across classes too (the models'\n"
            "                    reference demos do; one box per object)\n"
            "  --fps N           for a video, about N frames per second of video (default: all)\n"
            "  --max-frames N    at most N frames of each video\n"
            "  --out FILE.json   write the detections there (default: standard output, unless\n"
            "                    --eval). One object per image {\"image\", \"frame\", \"t\", \"width\",\n"
            "                    \"height\", \"detections\": [{\"class\", \"class_id\", \"score\",\n"
            "                    \"box\": [x1, y1, x2, y2]}]}; an array of them for several images or\n"
            "                    a video\n"
            "  --draw FILE.png   write the picture with its boxes drawn (several pictures:\n"
            "                    FILE-0000.png, FILE-0001.png, ... in processing order)\n"
            "  --eval            score against YOLO label files (images/X.jpg -> labels/X.txt,\n"
            "                    class 0 person, 1 sports ball, normalised cx cy w h) and print\n"
            "                    AP@0.5 per class (COCO-style 101-point interpolated), the ground\n"
            "                    truth, detection and true-positive counts, and ms per frame\n"
            "  --threads N       inference threads (default 1)\n"
            "  --max-batch N     tiles per network run (default: all tiles of a frame)\n"
            "  -h, --help        show this help\n"
            "\n"
            "Progress goes to standard error when there are several pictures.\n"
            "exit status: 0 ok, 1 usage error, 2 bad input, 3 runtime failure\n");
}

typedef struct detect_opts {
    const char *model, *out_path, *draw_path, *classes;
    fa_detector_options det;
    uint8_t class_flags[FA_COCO_CLASSES];
    double fps;
    int eval, conf_set, max_frames;
    char model_base[256]; /* the model's file name, for messages (model points here once open) */
} detect_opts;

/* --------------------------------------------------------------- inputs */

/* --------------------------------------------------------------- options */

static int parse_classes(detect_opts *o) {
    memset(o->class_flags, 0, sizeof o->class_flags);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", o->classes);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int id = fa_coco_class_id(tok);
        if (id < 0) return fa_cli_usage("detect", "--classes: unknown COCO class '%s'", tok);
        o->class_flags[id] = 1;
    }
    o->det.classes = o->class_flags;
    return 0;
}


static int parse_unit(const char *flag, const char *s, float *out) {
    double v;
    if (fa_parse_double(s, &v) || v < 0 || v > 1)
        return fa_cli_usage("detect", "%s: expected a number in 0..1, got '%s'", flag, s);
    *out = (float)v;
    return 0;
}

static int parse_count(const char *flag, const char *s, int lo, int hi, int *out) {
    int64_t v;
    if (fa_parse_int(s, lo, hi, &v))
        return fa_cli_usage("detect", "%s: expected %d..%d, got '%s'", flag, lo, hi, s);
    *out = (int)v;
    return 0;
}

static int parse_option(detect_opts *o, int c, const char *arg) {
    switch (c) {
    case 'm': o->model = arg; return 0;
    case 'p':
        if (fa_cli_precision_parse(arg, &o->det.precision))
            return fa_cli_usage("detect", "--precision: expected fp32, int8 or fp16, got '%s'", arg);
        return 0;
    case 'b':
        if (strcmp(arg, "auto") && strcmp(arg, "native") && strcmp(arg, "onednn") && strcmp(arg, "cuda"))
            return fa_cli_usage("detect", "--backend: expected auto, native, onednn or cuda, got '%s'", arg);
        o->det.backend = arg;
        return 0;
    case 't':
        if (fa_tiles_parse(arg, &o->det.tiles)) return fa_cli_usage("detect", "%s", fa_err_msg());
        return 0;
    case 'r':
        if (fa_roi_parse(arg, &o->det.roi)) return fa_cli_usage("detect", "%s", fa_err_msg());
        return 0;
    case 'c': o->classes = arg; return 0;
    case 'C': o->conf_set = 1; return parse_unit("--conf", arg, &o->det.conf);
    case 'n': return parse_unit("--nms", arg, &o->det.nms);
    case 'f':
        if (fa_parse_double(arg, &o->fps) || !(o->fps > 0 && o->fps <= 1000))
            return fa_cli_usage("detect", "--fps: expected a number in (0, 1000], got '%s'", arg);
        return 0;
    case 'o': o->out_path = arg; return 0;
    case 'd': o->draw_path = arg; return 0;
    case 'e': o->eval = 1; return 0;
    case 'A': o->det.nms_agnostic = 1; return 0;
    case 'T': return parse_count("--threads", arg, 1, 256, &o->det.threads);
    case 'B': return parse_count("--max-batch", arg, 1, FA_TILES_MAX, &o->det.max_batch);
    case 'F': return parse_count("--max-frames", arg, 1, 1 << 30, &o->max_frames);
    default: return fa_cli_usage("detect", "unknown option");
    }
}

static int parse_args(int argc, char **argv, detect_opts *o, int *first_input) {
    static const struct option longs[] = {{"model", required_argument, 0, 'm'},
                                          {"precision", required_argument, 0, 'p'},
                                          {"backend", required_argument, 0, 'b'},
                                          {"tiles", required_argument, 0, 't'},
                                          {"roi", required_argument, 0, 'r'},
                                          {"classes", required_argument, 0, 'c'},
                                          {"conf", required_argument, 0, 'C'},
                                          {"nms", required_argument, 0, 'n'},
                                          {"fps", required_argument, 0, 'f'},
                                          {"out", required_argument, 0, 'o'},
                                          {"draw", required_argument, 0, 'd'},
                                          {"eval", no_argument, 0, 'e'},
                                          {"threads", required_argument, 0, 'T'},
                                          {"nms-agnostic", no_argument, 0, 'A'},
                                          {"max-batch", required_argument, 0, 'B'},
                                          {"max-frames", required_argument, 0, 'F'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    o->det.tiles.mode = FA_TILES_AUTO;
    o->det.roi = 1;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (c == 'h') return help(stdout), -1;
        if (c == '?')
            return fa_cli_usage("detect", "unknown option or missing value: '%s'", argv[optind - 1]);
        if (parse_option(o, c, optarg)) return FA_EXIT_USAGE;
    }
    if (!o->model) return fa_cli_usage("detect", "--model PATH is required");
    if (optind >= argc) return fa_cli_usage("detect", "no IMAGE, DIR or VIDEO given");
    if (o->eval && !o->classes) o->classes = "person,sports_ball";
    if (o->eval && !o->conf_set) o->det.conf = 0.05f;
    if (o->classes && parse_classes(o)) return FA_EXIT_USAGE;
    *first_input = optind;
    return 0;
}

/* ---------------------------------------------------------------- output */

/* Appends v with at most `decimals` decimals, trailing zeros dropped
 * (0.87, 123.4): scores and pixel boxes need no more, and a float printed
 * in full would read 0.87000000476837158. */
static void put_fixed(fa_buf *b, double v, int decimals) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    char *dot = strchr(tmp, '.');
    if (dot) {
        char *end = tmp + strlen(tmp);
        while (end > dot + 1 && end[-1] == '0')
            *--end = '\0';
        if (end == dot + 1) *dot = '\0';
    }
    if (!strcmp(tmp, "-0")) strcpy(tmp, "0");
    fa_buf_puts(b, tmp);
}

static void json_frame(fa_buf *b, const char *name, int64_t frame, double t, const fa_image *img,
                       const fa_detections *dets) {
    fa_buf_puts(b, "{\"image\": ");
    fa_json_write_str(b, name);
    fa_buf_printf(b, ", \"frame\": %lld, \"t\": ", (long long)frame);
    put_fixed(b, t, 3);
    fa_buf_printf(b, ", \"width\": %d, \"height\": %d, \"detections\": [", img->w, img->h);
    for (size_t i = 0; i < dets->n; i++) {
        const fa_detection *d = &dets->v[i];
        fa_buf_puts(b, i ? ",\n  {\"class\": " : "\n  {\"class\": ");
        fa_json_write_str(b, fa_coco_class_name(d->class_id));
        fa_buf_printf(b, ", \"class_id\": %d, \"score\": ", d->class_id);
        put_fixed(b, d->score, 4);
        fa_buf_puts(b, ", \"box\": [");
        for (int k = 0; k < 4; k++) {
            if (k) fa_buf_puts(b, ", ");
            put_fixed(b, d->box[k], 1);
        }
        fa_buf_puts(b, "]}");
    }
    fa_buf_puts(b, dets->n ? "\n]}" : "]}");
}

static int draw_boxes(const char *path, size_t seq, int several, fa_image *img, const fa_detections *dets) {
    char name[4096];
    const char *dot = strrchr(path, '.');
    if (several)
        snprintf(name, sizeof name, "%.*s-%04zu%s", (int)(dot ? dot - path : (long)strlen(path)), path, seq,
                 dot ? dot : ".png");
    else
        snprintf(name, sizeof name, "%s", path);
    for (size_t i = 0; i < dets->n; i++) {
        const fa_detection *d = &dets->v[i];
        int person = d->class_id == FA_COCO_PERSON, ball = d->class_id == FA_COCO_SPORTS_BALL;
        fa_image_draw_rect(img, (int)d->box[0], (int)d->box[1], (int)d->box[2], (int)d->box[3], 2,
                           person ? 0 : 255, person || ball ? 255 : 0, 0);
    }
    return fa_image_save_png(img, name);
}

/* ------------------------------------------------------------------ run */

typedef struct detect_run {
    detect_opts *o;
    fa_detector *det;
    fa_eval *eval;
    FILE *out;
    fa_buf json;
    size_t frames, total_inputs;
    int array, several, tiles;
    double ms_total, cpu_ms_total;
} detect_run;

static int eval_frame(detect_run *r, const char *path, const fa_image *img, const fa_detections *dets) {
    static const int yolo_to_coco[2] = {FA_COCO_PERSON, FA_COCO_SPORTS_BALL};
    char label[4096];
    fa_gt_box *gt = NULL;
    size_t n_gt = 0;
    int ret = fa_eval_label_path(path, label, sizeof label);
    if (!ret) ret = fa_eval_read_yolo_labels(label, img->w, img->h, yolo_to_coco, 2, &gt, &n_gt);
    if (!ret) ret = fa_eval_add_image(r->eval, dets->v, dets->n, gt, n_gt);
    free(gt);
    return ret;
}

static int emit_frame(detect_run *r, const char *path, int64_t frame, double t, fa_image *img,
                      const fa_detections *dets) {
    if (r->out) {
        fa_buf_reset(&r->json);
        if (r->array) fa_buf_puts(&r->json, r->frames ? ",\n" : "[\n");
        json_frame(&r->json, fa_path_base(path), frame, t, img, dets);
        if (fwrite(r->json.data, 1, r->json.len, r->out) != r->json.len)
            return fa_err_set(FA_EIO, "%s: write failed",
                              r->o->out_path ? fa_path_base(r->o->out_path) : "stdout");
    }
    if (r->eval && eval_frame(r, path, img, dets)) return fa_err_code();
    if (r->o->draw_path && draw_boxes(r->o->draw_path, r->frames, r->several, img, dets))
        return fa_err_code();
    r->frames++;
    return 0;
}

static int detect_frame(detect_run *r, const char *path, int64_t frame, double t, fa_image *img) {
    fa_detections dets = {0};
    double t0 = fa_clock_now(), c0 = fa_clock_cpu();
    int ret = fa_detector_run(r->det, img, &dets, &r->tiles);
    double ms = (fa_clock_now() - t0) * 1000;
    if (!ret) {
        r->ms_total += ms;
        r->cpu_ms_total += (fa_clock_cpu() - c0) * 1000;
        if (r->several)
            fprintf(stderr, "detect: [%zu] %s frame %lld: %zu boxes, %d tiles, %.1f ms\n", r->frames + 1,
                    fa_path_base(path), (long long)frame, dets.n, r->tiles, ms);
        ret = emit_frame(r, path, frame, t, img, &dets);
    }
    fa_detections_free(&dets);
    return ret;
}

static int detect_input(detect_run *r, const char *path) {
    fa_frames *f = fa_frames_open(path, r->o->fps);
    if (!f) return fa_err_code();
    fa_image img = {0};
    int64_t index;
    double t;
    int ret = 0, got = 0;
    while ((!r->o->max_frames || got < r->o->max_frames) &&
           (ret = fa_frames_next(f, &img, &index, &t)) == 1) {
        got++;
        if ((ret = detect_frame(r, path, index, t, &img))) break;
    }
    if (ret == 0 && !got) ret = fa_err_set(FA_EINVAL, "%s: no picture could be decoded", fa_path_base(path));
    fa_image_free(&img);
    fa_frames_close(f);
    return ret;
}

static void print_eval(const detect_run *r) {
    printf("AP@0.5 per class (COCO-style 101-point interpolated precision, greedy matching by score at\n"
           "IoU >= 0.5), model %s, %zu frames, %d tiles per frame, conf %.2f, nms %.2f\n",
           fa_path_base(r->o->model), r->frames, r->tiles, r->o->det.conf,
           r->o->det.nms ? r->o->det.nms : 0.45);
    printf("%-12s %6s %6s %6s %8s\n", "class", "GT", "dets", "TP", "AP@0.5");
    for (int c = 0; c < FA_COCO_CLASSES; c++) {
        if (!r->o->class_flags[c]) continue;
        fa_eval_class ec;
        fa_eval_class_result(r->eval, c, &ec);
        printf("%-12s %6zu %6zu %6zu %8.4f\n", fa_coco_class_name(c), ec.gt, ec.dets, ec.tp, ec.ap);
    }
    double n = r->frames ? (double)r->frames : 1.0;
    printf("ms per frame: %.1f wall, %.1f CPU (preprocessing, inference, head decoding, merging; not the\n"
           "file's decoding)\n",
           r->ms_total / n, r->cpu_ms_total / n);
}

static int run_all(detect_run *r, const fa_cli_paths *inputs) {
    for (size_t i = 0; i < inputs->n; i++) {
        int ret = detect_input(r, inputs->v[i]);
        if (ret) return ret;
    }
    if (r->out && r->array)
        fputs(r->frames ? "\n]\n" : "[]\n", r->out);
    else if (r->out)
        fputs("\n", r->out);
    if (r->eval)
        print_eval(r);
    else if (r->several)
        fprintf(stderr, "detect: %zu frames, %.1f ms per frame (%.1f ms CPU)\n", r->frames,
                r->frames ? r->ms_total / (double)r->frames : 0.0,
                r->frames ? r->cpu_ms_total / (double)r->frames : 0.0);
    return 0;
}

static int open_run(detect_run *r, detect_opts *o, const fa_cli_paths *inputs) {
    char model_buf[4096];
    o->model = fa_cli_model_path(o->model, model_buf, sizeof model_buf);
    fa_video_quiet();
    r->det = fa_detector_new(o->model, &o->det);
    if (!r->det) return fa_err_code();
    snprintf(o->model_base, sizeof o->model_base, "%s", fa_path_base(o->model));
    o->model = o->model_base; /* model_buf dies with this call */
    int single = inputs->n == 1 && fa_cli_is_image(inputs->v[0]);
    r->array = !single;
    r->several = !single;
    if (o->eval && !(r->eval = fa_eval_new())) return FA_ENOMEM;
    if (o->out_path) {
        r->out = fopen(o->out_path, "w");
        if (!r->out)
            return fa_err_set(FA_EIO, "%s: cannot create the output file", fa_path_base(o->out_path));
    } else if (!o->eval) {
        r->out = stdout;
    }
    return 0;
}

int fa_cmd_detect(int argc, char **argv) {
    detect_opts o = {0};
    int first = 0;
    int ret = parse_args(argc, argv, &o, &first);
    if (ret) return ret < 0 ? FA_EXIT_OK : ret;
    fa_cli_paths inputs = {0};
    detect_run r = {.o = &o};
    ret = fa_cli_paths_expand(argv + first, argc - first, &inputs);
    if (!ret) ret = open_run(&r, &o, &inputs);
    if (!ret) ret = run_all(&r, &inputs);
    if (r.out && r.out != stdout && fclose(r.out) && !ret)
        ret = fa_err_set(FA_EIO, "%s: write failed", fa_path_base(o.out_path));
    int status = ret ? fa_cli_fail("detect") : FA_EXIT_OK;
    fa_buf_free(&r.json);
    fa_eval_free(r.eval);
    fa_detector_free(r.det);
    fa_cli_paths_free(&inputs);
    return status;
}
