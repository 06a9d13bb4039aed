/*
 * detector.c - the detector front end: model family recognition,
 * per-family preprocessing, head decoding, and the tiled batch run.
 *
 * Families are told apart by the graph's outputs, not by file names, so a
 * renamed file still works and an unrelated network is refused by name:
 *   FastestDet: one output [N, 5 + classes, gh, gw] (objectness after
 *     sigmoid, raw dx dy w h, class softmax), decoded as the FastestDet
 *     demo does: centre (g + tanh d) / grid, size sigmoid(w|h) of the input,
 *     score obj^0.6 * cls^0.4.
 *   NanoDet: per level a class-score output [N, cells, classes] (after
 *     sigmoid) and a distribution output [N, cells, 4 * bins]; levels are
 *     paired and given their stride by cell count (cells = (net/stride)^2),
 *     so output order does not matter. GFL: each side's distance is the
 *     softmax expectation over bins times the stride, from the cell centre
 *     ((x + 0.5) * stride), as NanoDet's own demo decodes it.
 *   YOLO (Darknet): the [yolo] heads the loader kept (anchors, masks,
 *     scale_x_y); raw outputs decoded with Darknet's formulas; score =
 *     objectness x class probability, as OpenCV's region layer reports it.
 * All three are fed a plain (non-letterbox) resize of the frame or tile:
 * the FastestDet and NanoDet demos resize without keeping the ratio, and
 * AlexeyAB's Darknet (the yolo-fastest code base) and OpenCV's Darknet
 * sample also use a plain resize; the reference boxes in
 * shared/data/reference were produced that way and our tests compare with
 * them.
 *
 * One box per cell (per anchor for YOLO) with its best class among those
 * wanted: restricting the arg-max to the wanted classes (person, ball)
 * keeps a ball whose cell slightly prefers "apple"; with all classes wanted
 * it is exactly the demos' rule.
 *
 * Tiles of a frame are one batch (or chunks of max_batch); the session for
 * a batch size is kept across frames, since a video's frames all plan the
 * same tiles. With threads > 1 a tiled frame's tiles are dealt to that many
 * lanes, each a pool thread with its own sessions, input and scratch, that
 * preprocesses, runs and decodes its share; one fork-join per frame. The
 * runtime's own batch threading forks and joins at every convolution (70
 * per FastestDet run), runs the non-conv ops on one thread, and on this
 * loaded 2-core machine the caller often finished both halves of a conv
 * before the worker woke: 2 threads used 0.96 CPUs. The lanes' boxes are
 * joined in tile order, so the result equals the one-thread run.
 * When tiling, the tiles cover only the pitch region (fa_pitch_roi,
 * tiles.c) unless the roi option is off; a tile edge on the region's
 * border does not mark boxes as cut.
 */
#include "vision/detector.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/pool.h"
#include "nn/kernels.h"
#include "nn/nn.h"

static const char *const coco_names[FA_COCO_CLASSES] = {"person",        "bicycle",      "car",
                                                        "motorcycle",    "airplane",     "bus",
                                                        "train",         "truck",        "boat",
                                                        "traffic light", "fire hydrant", "stop sign",
                                                        "parking meter", "bench",        "bird",
                                                        "cat",           "dog",          "horse",
                                                        "sheep",         "cow",          "elephant",
                                                        "bear",          "zebra",        "giraffe",
                                                        "backpack",      "umbrella",     "handbag",
                                                        "tie",           "suitcase",     "frisbee",
                                                        "skis",          "snowboard",    "sports ball",
                                                        "kite",          "baseball bat", "baseball glove",
                                                        "skateboard",    "surfboard",    "tennis racket",
                                                        "bottle",        "wine glass",   "cup",
                                                        "fork",          "knife",        "spoon",
                                                        "bowl",          "banana",       "apple",
                                                        "sandwich",      "orange",       "broccoli",
                                                        "carrot",        "hot dog",      "pizza",
                                                        "donut",         "cake",         "chair",
                                                        "couch",         "potted plant", "bed",
                                                        "dining table",  "toilet",       "tv",
                                                        "laptop",        "mouse",        "remote",
                                                        "keyboard",      "cell phone",   "microwave",
                                                        "oven",          "toaster",      "sink",
                                                        "refrigerator",  "book",         "clock",
                                                        "vase",          "scissors",     "teddy bear",
                                                        "hair drier",    "toothbrush"};

const char *fa_coco_class_name(int id) { return id >= 0 && id < FA_COCO_CLASSES ? coco_names[id] : NULL; }

static int name_eq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char ca = *a == '_' ? ' ' : (char)tolower((unsigned char)*a);
        char cb = *b == '_' ? ' ' : (char)tolower((unsigned char)*b);
        if (ca != cb) return 0;
    }
    return *a == *b;
}

int fa_coco_class_id(const char *name) {
    for (int i = 0; i < FA_COCO_CLASSES; i++)
        if (name_eq(name, coco_names[i])) return i;
    return -1;
}

#define MAX_LEVELS 4
#define MAX_LANES 16

/* What one thread needs to run a share of a frame's tiles: its sessions
 * (kept by batch size: a full chunk and a remainder), input tensor,
 * resize scratch, and the boxes it found. Lane 0 is the caller's. */
typedef struct det_lane {
    fa_nn_session *sess[2];
    int sess_batch[2];
    float *input;
    size_t input_items;
    uint8_t *scratch;
    fa_detections dets;
    int first, count, rc;
    char err[512]; /* a worker's error message (errors are thread-local) */
} det_lane;

struct fa_detector {
    fa_nn_model *model;
    fa_det_family family;
    int net_w, net_h;
    float conf, nms;
    int nms_agnostic;
    fa_tile_spec tiles;
    int roi; /* tile only the pitch region */
    int max_batch;
    uint8_t classes[FA_COCO_CLASSES];
    int all_classes;
    /* NanoDet levels: output indices and strides */
    int n_levels, cls_out[MAX_LEVELS], reg_out[MAX_LEVELS], stride[MAX_LEVELS];
    int n_classes;
    const fa_nn_yolo_head *heads;
    int n_heads;
    det_lane lanes[MAX_LANES];
    int n_lanes; /* threads a tiled frame is split over */
    char *name; /* model base name, for messages */
};

const char *fa_detector_family_name(fa_det_family f) {
    switch (f) {
    case FA_DET_FASTESTDET: return "fastestdet";
    case FA_DET_NANODET: return "nanodet";
    case FA_DET_YOLO: return "yolo";
    }
    return "unknown";
}

fa_det_family fa_detector_family(const fa_detector *d) { return d->family; }

void fa_detector_input_size(const fa_detector *d, int *w, int *h) {
    *w = d->net_w;
    *h = d->net_h;
}

static const fa_nn_tensor *output_tensor(const fa_nn_graph *g, int i) {
    return fa_nn_graph_tensor(g, fa_nn_graph_output(g, i));
}

/* The stride whose grid over the input has `cells` cells, or 0. */
static int stride_for_cells(int64_t cells, int net_w, int net_h) {
    for (int s = 4; s <= 128; s *= 2)
        if ((int64_t)((net_w + s - 1) / s) * ((net_h + s - 1) / s) == cells) return s;
    return 0;
}

/* Pairs NanoDet's class-score and distribution outputs by cell count. */
static int find_nanodet_levels(fa_detector *d, const fa_nn_graph *g) {
    int n = fa_nn_graph_output_count(g);
    if (n % 2 || n / 2 > MAX_LEVELS) return 0;
    d->n_levels = 0;
    for (int i = 0; i < n; i++) {
        const fa_nn_tensor *t = output_tensor(g, i);
        if (t->rank != 3 || t->shape[2] != FA_COCO_CLASSES) continue;
        for (int j = 0; j < n; j++) {
            const fa_nn_tensor *r = output_tensor(g, j);
            if (j == i || r->rank != 3 || r->shape[1] != t->shape[1] || r->shape[2] != 32) continue;
            int s = stride_for_cells(t->shape[1], d->net_w, d->net_h);
            if (!s || d->n_levels == MAX_LEVELS) return 0;
            d->cls_out[d->n_levels] = i;
            d->reg_out[d->n_levels] = j;
            d->stride[d->n_levels++] = s;
            break;
        }
    }
    d->n_classes = FA_COCO_CLASSES;
    return d->n_levels == n / 2 && d->n_levels > 0;
}

static int identify_family(fa_detector *d) {
    const fa_nn_graph *g = fa_nn_model_graph(d->model);
    d->n_heads = fa_nn_graph_yolo_heads(g, &d->heads);
    if (d->n_heads > 0) {
        d->family = FA_DET_YOLO;
        d->n_classes = d->heads[0].classes;
        return 0;
    }
    const fa_nn_tensor *t = output_tensor(g, 0);
    if (fa_nn_graph_output_count(g) == 1 && t->rank == 4 && t->shape[1] > 5 &&
        t->shape[1] - 5 <= FA_COCO_CLASSES) {
        d->family = FA_DET_FASTESTDET;
        d->n_classes = (int)t->shape[1] - 5;
        return 0;
    }
    if (find_nanodet_levels(d, g)) {
        d->family = FA_DET_NANODET;
        return 0;
    }
    return fa_err_set(
        FA_EINVAL,
        "%s: not a detector this front end knows (FastestDet: one [N,85,H,W] output; NanoDet: "
        "class [N,cells,80] and distribution [N,cells,32] outputs per level; Darknet [yolo] heads)",
        d->name);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int check_options(const fa_detector_options *o, const char *path) {
    if (o->precision == FA_NN_INT8 && !ends_with(path, ".fanq"))
        return fa_err_set(FA_EINVAL,
                          "%s: --precision int8 needs a quantised model file (.fanq); create one with "
                          "'footanalytics model quantize %s'",
                          fa_path_base(path), fa_path_base(path));
    if (o->conf < 0 || o->conf > 1) return fa_err_set(FA_EUSAGE, "--conf: expected 0..1, got %g", o->conf);
    if (o->nms < 0 || o->nms > 1) return fa_err_set(FA_EUSAGE, "--nms: expected 0..1, got %g", o->nms);
    return 0;
}

static int read_input_size(fa_detector *d) {
    int64_t shape[FA_NN_MAX_RANK];
    int rank = fa_nn_model_input_shape(d->model, shape);
    if (rank != 4 || shape[1] != 3 || shape[2] < 16 || shape[3] < 16 || shape[2] > 4096 || shape[3] > 4096)
        return fa_err_set(FA_EINVAL, "%s: input is not an image tensor [N,3,H,W]", d->name);
    d->net_h = (int)shape[2];
    d->net_w = (int)shape[3];
    return 0;
}

/* Recognises d->model's family and applies the options; d is freed on error. */
static fa_detector *finish_new(fa_detector *d, const fa_detector_options *o) {
    if (read_input_size(d) || identify_family(d)) {
        fa_detector_free(d);
        return NULL;
    }
    d->conf = o->conf > 0 ? o->conf : 0.3f;
    d->nms = o->nms > 0 ? o->nms : 0.45f;
    d->nms_agnostic = o->nms_agnostic;
    d->tiles = o->tiles;
    d->roi = o->roi;
    d->max_batch = o->max_batch > 0 ? o->max_batch : FA_TILES_MAX;
    d->all_classes = !o->classes;
    for (int i = 0; i < FA_COCO_CLASSES; i++)
        d->classes[i] = o->classes ? o->classes[i] : 1;
    d->n_lanes = o->threads > 1 ? (o->threads < MAX_LANES ? o->threads : MAX_LANES) : 1;
    for (int i = 0; i < d->n_lanes; i++)
        if (!(d->lanes[i].scratch = fa_malloc((size_t)d->net_w * d->net_h * 3))) {
            fa_detector_free(d);
            return NULL;
        }
    return d;
}

fa_detector *fa_detector_new(const char *path, const fa_detector_options *o) {
    fa_detector_options defaults = {0};
    if (!o) o = &defaults;
    if (check_options(o, path)) return NULL;
    fa_detector *d = fa_calloc(1, sizeof *d);
    if (!d) return NULL;
    d->name = fa_strdup(fa_path_base(path));
    fa_nn_options no = {.backend = o->backend, .precision = o->precision, .threads = o->threads};
    if (!d->name || !(d->model = fa_nn_model_load(path, &no))) {
        fa_detector_free(d);
        return NULL;
    }
    return finish_new(d, o);
}

fa_detector *fa_detector_from_model(fa_nn_model *m, const char *name, const fa_detector_options *o) {
    fa_detector_options defaults = {0};
    if (!o) o = &defaults;
    fa_detector *d = fa_calloc(1, sizeof *d);
    if (!d || !(d->name = fa_strdup(name))) {
        free(d);
        fa_nn_model_free(m);
        return NULL;
    }
    d->model = m;
    return finish_new(d, o);
}

void fa_detector_free(fa_detector *d) {
    if (!d) return;
    for (int l = 0; l < MAX_LANES; l++) {
        det_lane *ln = &d->lanes[l];
        for (int i = 0; i < 2; i++)
            fa_nn_session_free(ln->sess[i]);
        free(ln->input);
        free(ln->scratch);
        fa_detections_free(&ln->dets);
    }
    fa_nn_model_free(d->model);
    free(d->name);
    free(d);
}

/* ---------------------------------------------------------- preprocessing */

/* One row of n packed RGB pixels into the three planes' rows, each value
 * (v - mean[c]) * scale[c] for network channel c read from src_c[c]. */
static void normalise_row(const uint8_t *rgb, int n, const int src_c[3], const float mean[3],
                          const float scale[3], float *o0, float *o1, float *o2) {
    for (int i = 0; i < n; i++) {
        const uint8_t *p = rgb + (size_t)i * 3;
        o0[i] = ((float)p[src_c[0]] - mean[0]) * scale[0];
        o1[i] = ((float)p[src_c[1]] - mean[1]) * scale[1];
        o2[i] = ((float)p[src_c[2]] - mean[2]) * scale[2];
    }
}

void fa_detector_preprocess(fa_det_family f, const fa_image *img, const fa_tile *t, int net_w, int net_h,
                            uint8_t *scratch, float *out) {
    static const float nano_mean[3] = {103.53f, 116.28f, 123.675f}; /* B G R */
    static const float nano_std[3] = {57.375f, 57.12f, 58.395f};
    size_t plane = (size_t)net_w * net_h;
    int bgr = f != FA_DET_YOLO; /* the image is R G B */
    int src_c[3] = {bgr ? 2 : 0, 1, bgr ? 0 : 2};
    float mean[3], scale[3];
    for (int c = 0; c < 3; c++) {
        mean[c] = f == FA_DET_NANODET ? nano_mean[c] : 0.f;
        scale[c] = f == FA_DET_NANODET ? 1.f / nano_std[c] : 1.f / 255.f;
    }
    /* A tile of exactly the network's size is read straight from the
     * frame (the bilinear resize would return the same bytes); planned
     * tiles are usually a little smaller (they divide the pitch evenly)
     * and are resized first. */
    int direct = t->w == net_w && t->h == net_h;
    if (!direct) fa_image_resize_region(img, t->x, t->y, t->w, t->h, scratch, net_w, net_h);
    for (int y = 0; y < net_h; y++) {
        const uint8_t *row = direct ? img->rgb + (size_t)(t->y + y) * img->stride + (size_t)t->x * 3
                                    : scratch + (size_t)y * net_w * 3;
        float *o = out + (size_t)y * net_w;
        normalise_row(row, net_w, src_c, mean, scale, o, o + plane, o + 2 * plane);
    }
}

/* ------------------------------------------------------------- decoding */

static float sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

/* Best wanted class among n scores at stride step; -1 if none wanted. */
static int best_class(const float *s, size_t step, int n, const uint8_t *wanted, float *score) {
    int best = -1;
    float bs = -INFINITY;
    for (int k = 0; k < n; k++) {
        if (wanted && !wanted[k]) continue;
        float v = s[(size_t)k * step];
        if (v > bs) bs = v, best = k;
    }
    *score = bs;
    return best;
}

/* Appends a box given in network pixels, mapped into the frame through the tile. */
static int push_net_box(const fa_decode_ctx *c, float x1, float y1, float x2, float y2, float score, int cls,
                        fa_detections *out) {
    float sx = (float)c->tile.w / c->net_w, sy = (float)c->tile.h / c->net_h;
    fa_detection d = {.score = score, .class_id = cls, .tile = c->tile_index};
    d.box[0] = c->tile.x + x1 * sx;
    d.box[1] = c->tile.y + y1 * sy;
    d.box[2] = c->tile.x + x2 * sx;
    d.box[3] = c->tile.y + y2 * sy;
    return fa_detections_push(out, &d);
}

int fa_decode_fastestdet(const float *map, int channels, int gh, int gw, const fa_decode_ctx *c,
                         fa_detections *out) {
    size_t plane = (size_t)gh * gw;
    int classes = channels - 5;
    for (int gy = 0; gy < gh; gy++)
        for (int gx = 0; gx < gw; gx++) {
            const float *p = map + (size_t)gy * gw + gx;
            float cls_score, obj = p[0];
            int cls = best_class(p + 5 * plane, plane, classes, c->classes, &cls_score);
            if (cls < 0 || obj <= 0 || cls_score <= 0) continue;
            float score = powf(obj, 0.6f) * powf(cls_score, 0.4f);
            if (score <= c->conf) continue;
            float cx = (gx + tanhf(p[plane])) / gw, cy = (gy + tanhf(p[2 * plane])) / gh;
            float w = sigmoid(p[3 * plane]), h = sigmoid(p[4 * plane]);
            float nw = (float)c->net_w, nh = (float)c->net_h;
            if (push_net_box(c, (cx - w / 2) * nw, (cy - h / 2) * nh, (cx + w / 2) * nw, (cy + h / 2) * nh,
                             score, cls, out))
                return FA_ENOMEM;
        }
    return 0;
}

/* Expected bin of one side's distribution (softmax over bins). */
static float expected_bin(const float *logits, int bins) {
    float m = logits[0], sum = 0, acc = 0;
    for (int k = 1; k < bins; k++)
        if (logits[k] > m) m = logits[k];
    for (int k = 0; k < bins; k++) {
        float e = expf(logits[k] - m);
        sum += e;
        acc += e * k;
    }
    return acc / sum;
}

int fa_decode_nanodet_level(const float *cls, int classes, const float *reg, int gh, int gw, int stride,
                            const fa_decode_ctx *c, fa_detections *out) {
    int bins = 8;
    for (int i = 0; i < gh * gw; i++) {
        float score;
        int k = best_class(cls + (size_t)i * classes, 1, classes, c->classes, &score);
        if (k < 0 || score <= c->conf) continue;
        const float *r = reg + (size_t)i * 4 * bins;
        float cx = (i % gw + 0.5f) * stride, cy = (i / gw + 0.5f) * stride;
        float l = expected_bin(r, bins) * stride, t = expected_bin(r + bins, bins) * stride;
        float rr = expected_bin(r + 2 * bins, bins) * stride, b = expected_bin(r + 3 * bins, bins) * stride;
        if (push_net_box(c, cx - l, cy - t, cx + rr, cy + b, score, k, out)) return FA_ENOMEM;
    }
    return 0;
}

int fa_decode_yolo(const float *map, int gh, int gw, const fa_nn_yolo_head *h, const fa_decode_ctx *c,
                   fa_detections *out) {
    size_t plane = (size_t)gh * gw;
    int per = h->classes + 5;
    float sxy = h->scale_x_y > 0 ? h->scale_x_y : 1.f;
    /* a single-class network (yolo-fastest _body) predicts persons */
    const uint8_t *wanted = h->classes == FA_COCO_CLASSES ? c->classes : NULL;
    if (h->classes != FA_COCO_CLASSES && c->classes && !c->classes[FA_COCO_PERSON]) return 0;
    for (int a = 0; a < h->n_mask; a++) {
        const float *g = map + (size_t)a * per * plane;
        int an = h->mask[a];
        for (size_t i = 0; i < plane; i++) {
            float obj = sigmoid(g[4 * plane + i]), cs;
            if (obj <= c->conf) continue;
            int k = best_class(g + 5 * plane + i, plane, h->classes, wanted, &cs);
            float score = obj * sigmoid(cs);
            if (k < 0 || score <= c->conf) continue;
            float x = ((float)(i % gw) + sigmoid(g[i]) * sxy - 0.5f * (sxy - 1)) / gw * c->net_w;
            float y = ((float)(i / gw) + sigmoid(g[plane + i]) * sxy - 0.5f * (sxy - 1)) / gh * c->net_h;
            float w = expf(g[2 * plane + i]) * h->anchors[2 * an],
                  hh = expf(g[3 * plane + i]) * h->anchors[2 * an + 1];
            int cls = h->classes == FA_COCO_CLASSES ? k : FA_COCO_PERSON;
            if (push_net_box(c, x - w / 2, y - hh / 2, x + w / 2, y + hh / 2, score, cls, out))
                return FA_ENOMEM;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- running */

/* The lane's session for batch b (kept in one of two slots). */
static fa_nn_session *session_for(const fa_detector *d, det_lane *l, int b) {
    for (int i = 0; i < 2; i++)
        if (l->sess[i] && l->sess_batch[i] == b) return l->sess[i];
    int slot = l->sess[0] ? (l->sess[1] ? (l->sess_batch[0] > l->sess_batch[1] ? 1 : 0) : 1) : 0;
    fa_nn_session_free(l->sess[slot]);
    l->sess[slot] = fa_nn_session_new(d->model, b);
    l->sess_batch[slot] = l->sess[slot] ? b : 0;
    return l->sess[slot];
}

static int ensure_input(const fa_detector *d, det_lane *l, int b) {
    if ((size_t)b <= l->input_items) return 0;
    free(l->input);
    l->input = fa_malloc((size_t)b * 3 * d->net_w * d->net_h * sizeof *l->input);
    l->input_items = l->input ? (size_t)b : 0;
    return l->input ? 0 : FA_ENOMEM;
}

/* Output i of item `item` of the last run, with its per-item shape. */
static const float *item_output(const fa_nn_session *s, int i, int item, int64_t *shape, int *rank) {
    const float *p = fa_nn_session_output(s, i, shape, rank);
    size_t per = 1;
    for (int k = 1; k < *rank; k++)
        per *= (size_t)shape[k];
    return p ? p + (size_t)item * per : NULL;
}

static int decode_item(const fa_detector *d, const fa_nn_session *s, int item, const fa_decode_ctx *c,
                       fa_detections *out) {
    int64_t sh[FA_NN_MAX_RANK], sh2[FA_NN_MAX_RANK];
    int rank, rank2, ret = 0;
    if (d->family == FA_DET_FASTESTDET) {
        const float *m = item_output(s, 0, item, sh, &rank);
        return fa_decode_fastestdet(m, (int)sh[1], (int)sh[2], (int)sh[3], c, out);
    }
    if (d->family == FA_DET_NANODET) {
        for (int l = 0; l < d->n_levels && !ret; l++) {
            const float *cls = item_output(s, d->cls_out[l], item, sh, &rank);
            const float *reg = item_output(s, d->reg_out[l], item, sh2, &rank2);
            int gw = (d->net_w + d->stride[l] - 1) / d->stride[l],
                gh = (d->net_h + d->stride[l] - 1) / d->stride[l];
            ret = fa_decode_nanodet_level(cls, (int)sh[2], reg, gh, gw, d->stride[l], c, out);
        }
        return ret;
    }
    for (int k = 0; k < d->n_heads && !ret; k++) {
        const float *m = item_output(s, d->heads[k].output, item, sh, &rank);
        ret = fa_decode_yolo(m, (int)sh[2], (int)sh[3], &d->heads[k], c, out);
    }
    return ret;
}

/* Marks d cut by an edge of tile t inside the tiled region roi (the
 * region's own edges are not cuts: nothing is detected beyond them). */
static void mark_cut(fa_detection *d, const fa_tile *t, const fa_tile *roi) {
    fa_tile rt = {t->x - roi->x, t->y - roi->y, t->w, t->h};
    fa_detection rd = *d;
    rd.box[0] -= (float)roi->x, rd.box[2] -= (float)roi->x;
    rd.box[1] -= (float)roi->y, rd.box[3] -= (float)roi->y;
    fa_tiles_mark_cut(&rd, &rt, roi->w, roi->h, 2.f);
    d->cut = rd.cut;
}

/* Runs tiles [first, first + b) as one batch and decodes them into out. */
static int run_chunk(const fa_detector *d, det_lane *l, const fa_image *img, const fa_tile *roi,
                     const fa_tile *tiles, int first, int b, int n_tiles, fa_detections *out) {
    fa_nn_session *s = session_for(d, l, b);
    if (!s || ensure_input(d, l, b)) return fa_err_prefix("%s", d->name);
    size_t item = (size_t)3 * d->net_w * d->net_h;
    for (int i = 0; i < b; i++)
        fa_detector_preprocess(d->family, img, &tiles[first + i], d->net_w, d->net_h, l->scratch,
                               l->input + i * item);
    if (fa_nn_run(s, l->input, NULL) < 0) return fa_err_prefix("%s", d->name);
    for (int i = 0; i < b; i++) {
        fa_decode_ctx c = {tiles[first + i],
                           d->net_w,
                           d->net_h,
                           d->conf,
                           d->all_classes ? NULL : d->classes,
                           n_tiles > 1 ? first + i : -1};
        size_t before = out->n;
        if (decode_item(d, s, i, &c, out)) return FA_ENOMEM;
        if (n_tiles > 1)
            for (size_t k = before; k < out->n; k++)
                mark_cut(&out->v[k], &tiles[first + i], roi);
    }
    return 0;
}

static void clip_boxes(fa_detections *out, int w, int h) {
    for (size_t i = 0; i < out->n; i++) {
        float *b = out->v[i].box;
        b[0] = b[0] < 0 ? 0 : b[0] > w ? (float)w : b[0];
        b[2] = b[2] < 0 ? 0 : b[2] > w ? (float)w : b[2];
        b[1] = b[1] < 0 ? 0 : b[1] > h ? (float)h : b[1];
        b[3] = b[3] < 0 ? 0 : b[3] > h ? (float)h : b[3];
    }
}

/* A frame's tiles dealt to the lanes: lane t runs tiles
 * [lanes[t].first, + count) in chunks of max_batch into its own list. */
typedef struct lane_job {
    const fa_detector *d;
    det_lane *lanes;
    const fa_image *img;
    const fa_tile *roi, *tiles;
    int n_tiles;
} lane_job;

static int run_lane(const lane_job *j, det_lane *l, fa_detections *out) {
    const fa_detector *d = j->d;
    for (int first = l->first; first < l->first + l->count; first += d->max_batch) {
        int left = l->first + l->count - first, b = left < d->max_batch ? left : d->max_batch;
        int ret = run_chunk(d, l, j->img, j->roi, j->tiles, first, b, j->n_tiles, out);
        if (ret) return ret;
    }
    return 0;
}

static void lane_task(void *arg, size_t t) {
    const lane_job *j = arg;
    det_lane *l = &j->lanes[t];
    l->dets.n = 0;
    l->rc = run_lane(j, l, &l->dets);
    if (l->rc) snprintf(l->err, sizeof l->err, "%s", fa_err_msg());
}

/* Runs the tiles on the lanes at once (pool threads), then appends their
 * boxes to out in tile order, so the result equals the one-thread run. */
static int run_lanes(fa_detector *d, lane_job *j, int lanes, fa_pool *pool, fa_detections *out) {
    for (int t = 0, first = 0; t < lanes; t++) {
        int count = j->n_tiles / lanes + (t < j->n_tiles % lanes);
        d->lanes[t].first = first, d->lanes[t].count = count;
        first += count;
    }
    fa_pool_for_each(pool, (size_t)lanes, lanes, lane_task, j);
    for (int t = 0; t < lanes; t++)
        if (d->lanes[t].rc) return fa_err_set(d->lanes[t].rc, "%s", d->lanes[t].err);
    for (int t = 0; t < lanes; t++)
        for (size_t k = 0; k < d->lanes[t].dets.n; k++)
            if (fa_detections_push(out, &d->lanes[t].dets.v[k])) return FA_ENOMEM;
    return 0;
}

int fa_detector_run(fa_detector *d, const fa_image *img, fa_detections *out, int *n_tiles) {
    fa_tile tiles[FA_TILES_MAX], roi = {0, 0, img->w, img->h};
    if (d->roi && d->tiles.mode != FA_TILES_NONE) fa_pitch_roi(img, &roi);
    int n = fa_tiles_plan_roi(&d->tiles, &roi, d->net_w, d->net_h, tiles, FA_TILES_MAX);
    out->n = 0;
    lane_job j = {d, d->lanes, img, &roi, tiles, n};
    int lanes = n < d->n_lanes ? n : d->n_lanes;
    fa_pool *pool = lanes > 1 ? fa_pool_default() : NULL;
    d->lanes[0].first = 0, d->lanes[0].count = n;
    int ret = pool ? run_lanes(d, &j, lanes, pool, out) : run_lane(&j, &d->lanes[0], out);
    if (ret) return ret;
    out->n = fa_tiles_merge(out->v, out->n, d->nms, 0.5f, d->nms_agnostic); /* untiled: nothing is cut */
    clip_boxes(out, img->w, img->h);
    if (n_tiles) *n_tiles = n;
    return 0;
}
