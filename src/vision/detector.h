/*
 * detector.h - the face of src/vision's detector front end: turns a frame
 * (fa_image, packed RGB24) into boxes of COCO classes in frame pixels with
 * one of the supported detector networks run by src/nn.
 *
 * Three model families are recognised from the graph itself, not the file
 * name: FastestDet (one [N,85,H,W] output), NanoDet (GFL head: three
 * [N,cells,80] class-score outputs and three [N,cells,32] distance
 * outputs) and Darknet YOLO (the graph's [yolo] heads). Each has its own
 * preprocessing (channel order, normalisation; plain resize for all three,
 * as their reference demos do) and its own head decoding.
 *
 * Wide frames are cut into overlapping tiles (tiles.c) run as one batch;
 * the boxes of all tiles are mapped back to the frame and merged (nms.c).
 */
#ifndef FA_VISION_DETECTOR_H
#define FA_VISION_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "video/image.h"

#define FA_COCO_CLASSES 80
#define FA_COCO_PERSON 0
#define FA_COCO_SPORTS_BALL 32

/* The COCO class name of id ("sports ball"), or NULL when out of range. */
const char *fa_coco_class_name(int id);
/* The id of a COCO class name; '_' matches ' ' ("sports_ball"). -1 if unknown. */
int fa_coco_class_id(const char *name);

/* One box: corners in frame pixels (x1 < x2, y1 < y2). */
typedef struct fa_detection {
    float box[4]; /* x1, y1, x2, y2 */
    float score;  /* 0..1 */
    int class_id; /* COCO id */
    int tile;     /* index of the tile that produced it (-1: whole frame) */
    int cut;      /* 1 when the box touches an inner tile edge (object may be cut) */
} fa_detection;

/* A growable list of detections. */
typedef struct fa_detections {
    fa_detection *v;
    size_t n, cap;
} fa_detections;

/* Appends d. 0 or FA_ENOMEM. */
int fa_detections_push(fa_detections *list, const fa_detection *d);
void fa_detections_free(fa_detections *list);

/* ------------------------------------------------------------- boxes, NMS */

/* Intersection over union, and intersection over the smaller area, of two
 * x1,y1,x2,y2 boxes (0 when either is empty). */
float fa_box_iou(const float *a, const float *b);
float fa_box_iomin(const float *a, const float *b);

/* Class-aware greedy non-maximum suppression: sorts v[0..n) by score
 * (descending, ties by position for determinism), then drops every box whose
 * IoU with a kept box of the same class exceeds iou. Returns the count
 * kept, moved to the front of v. */
size_t fa_nms(fa_detection *v, size_t n, float iou);
/* The same, suppressing across classes (what the models' reference demos do). */
size_t fa_nms_agnostic(fa_detection *v, size_t n, float iou);

/* Merges the boxes of overlapping tiles: a box marked cut is dropped when
 * a box of the same class not marked cut, from another tile, covers it
 * (IoMin >= iomin), then NMS at iou (class-agnostic when agnostic is set)
 * runs over the union. Returns the count kept. */
size_t fa_tiles_merge(fa_detection *v, size_t n, float iou, float iomin, int agnostic);

/* ------------------------------------------------------------------ tiles */

typedef enum fa_tile_mode { FA_TILES_NONE = 0, FA_TILES_AUTO, FA_TILES_GRID } fa_tile_mode;

typedef struct fa_tile_spec {
    fa_tile_mode mode;
    int rows, cols; /* FA_TILES_GRID */
} fa_tile_spec;

/* A source rectangle that one batch item sees. */
typedef struct fa_tile {
    int x, y, w, h;
} fa_tile;

#define FA_TILES_MAX 128            /* tiles per frame */
#define FA_TILES_OVERLAP 0.20       /* fraction of a tile shared with its neighbour */
#define FA_TILES_AUTO_SCALE 1.0     /* auto: source pixels per network pixel */
#define FA_TILES_AUTO_MIN_RATIO 2.5 /* auto tiles a frame larger than this x the input */

/* Parses "none", "auto" or "RxC" (rows x cols, 1..16 each). 0 or FA_EUSAGE
 * with a message quoting s. */
int fa_tiles_parse(const char *s, fa_tile_spec *spec);

/* Plans the tiles of a img_w x img_h frame for a net_w x net_h network.
 * none: the whole frame. RxC: a grid with FA_TILES_OVERLAP overlap, tiles
 * of equal size covering the frame exactly. auto: a grid whose tiles are
 * about FA_TILES_AUTO_SCALE x the network size in source pixels (a frame
 * not larger than FA_TILES_AUTO_MIN_RATIO x the network in both sides is
 * not tiled). Writes at
 * most max tiles; returns the count (>= 1). */
int fa_tiles_plan(const fa_tile_spec *spec, int img_w, int img_h, int net_w, int net_h, fa_tile *tiles,
                  int max);

/* The pitch region of img (see tiles.c): the bounding box of the largest
 * green-dominated area on a 1/8-scale grid, trimmed of thin spurs and
 * grown by margins for heads above the far touchline and a lofted ball.
 * Writes *roi (the whole frame when no pitch is found) and returns 1 when
 * a pitch was found, 0 for the whole-frame fallback. Never fails: an
 * allocation failure is the fallback too. */
int fa_pitch_roi(const fa_image *img, fa_tile *roi);

/* Parses --roi: "auto" (*auto_roi = 1) or "none" (0). 0 or FA_EUSAGE. */
int fa_roi_parse(const char *s, int *auto_roi);

/* fa_tiles_plan over the rectangle roi of the frame (tiles in frame
 * coordinates, inside roi). */
int fa_tiles_plan_roi(const fa_tile_spec *spec, const fa_tile *roi, int net_w, int net_h, fa_tile *tiles,
                      int max);

/* Marks d->cut when d's box touches an edge of tile t that is inside the
 * frame (within margin pixels). */
void fa_tiles_mark_cut(fa_detection *d, const fa_tile *t, int img_w, int img_h, float margin);

/* --------------------------------------------------------------- detector */

typedef enum fa_det_family { FA_DET_FASTESTDET = 1, FA_DET_NANODET, FA_DET_YOLO } fa_det_family;

typedef struct fa_detector_options {
    const char *backend;    /* "auto" (NULL), "native", "onednn" */
    int precision;          /* fa_nn_precision (nn/kernels.h); INT8 needs a .fanq file */
    int threads;            /* 0/1: one thread; > 1: a tiled frame's tiles are split over this
                               many pool threads (and the model's batch-1 convs use them) */
    float conf;             /* score threshold (default 0.3 when 0) */
    float nms;              /* IoU threshold (default 0.45 when 0) */
    int nms_agnostic;       /* 1: suppress across classes (the demos' rule); 0: class-aware */
    fa_tile_spec tiles;     /* default: none */
    int roi;                /* 1: tile only the pitch region (fa_pitch_roi) when tiling; 0: whole frame */
    int max_batch;          /* tiles per network run (0: all tiles of a frame in one run) */
    const uint8_t *classes; /* FA_COCO_CLASSES flags of classes to report; NULL: all */
} fa_detector_options;

typedef struct fa_detector fa_detector;

/* Loads the model at path (.onnx, Darknet .cfg, or a quantised .fanq),
 * recognises its family and prepares it. NULL with the error set:
 * FA_EINVAL for a model that is not one of the families, a bad option, or
 * INT8 asked of a float model (the message says to run
 * `footanalytics model quantize`); the loader's errors otherwise. */
fa_detector *fa_detector_new(const char *path, const fa_detector_options *o);
/* The same around a model the caller loaded or transformed (a pruned
 * graph, a model from the cache): the detector owns m from now on (freed
 * on error too); name is used in messages. The precision and backend
 * options are the model's, not read here. */
struct fa_nn_model;
fa_detector *fa_detector_from_model(struct fa_nn_model *m, const char *name, const fa_detector_options *o);
void fa_detector_free(fa_detector *d);

fa_det_family fa_detector_family(const fa_detector *d);
const char *fa_detector_family_name(fa_det_family f);
/* The network's input width and height. */
void fa_detector_input_size(const fa_detector *d, int *w, int *h);

/* Detects in img: plans the tiles, runs them in batches, decodes, merges.
 * out is reset and receives the boxes (in frame pixels, clipped to the
 * frame), sorted by score descending. *n_tiles (may be NULL) gets the
 * tiles used. 0 or < 0 with the error set. */
int fa_detector_run(fa_detector *d, const fa_image *img, fa_detections *out, int *n_tiles);

/* Preprocesses the tile t of img into a 3 x net_h x net_w planar float
 * tensor for the family: plain bilinear resize; FastestDet BGR / 255,
 * NanoDet BGR (x - mean) / std, YOLO RGB / 255. scratch holds
 * 3 * net_w * net_h bytes. */
void fa_detector_preprocess(fa_det_family f, const fa_image *img, const fa_tile *t, int net_w, int net_h,
                            uint8_t *scratch, float *out);

/* What decoding needs to place a box: the tile, the network size, the
 * threshold and the classes wanted. */
typedef struct fa_decode_ctx {
    fa_tile tile;
    int net_w, net_h;
    float conf;
    const uint8_t *classes; /* NULL: all */
    int tile_index;
} fa_decode_ctx;

/* Decodes one item's FastestDet output ([85, gh, gw], channel-major) into out
 * (appending): per cell score = obj^0.6 * cls^0.4 with the best wanted
 * class, centre ((gx + tanh dx) / gw, (gy + tanh dy) / gh), size
 * (sigmoid w, sigmoid h), all relative to the tile. */
int fa_decode_fastestdet(const float *map, int channels, int gh, int gw, const fa_decode_ctx *c,
                         fa_detections *out);

/* Decodes one NanoDet level: cls [cells, classes] (after sigmoid), reg
 * [cells, 32] (4 sides x 8 bins, raw), grid gw x gh at stride. Box sides =
 * softmax-expected bin x stride from the cell centre ((x + 0.5) * stride). */
int fa_decode_nanodet_level(const float *cls, int classes, const float *reg, int gh, int gw, int stride,
                            const fa_decode_ctx *c, fa_detections *out);

struct fa_nn_yolo_head;
/* Decodes one Darknet [yolo] head's raw output ([n_mask * (classes + 5), gh,
 * gw]): logistic x, y, objectness and classes, exp(w) x anchor;
 * score = obj * sigmoid(best class). */
int fa_decode_yolo(const float *map, int gh, int gw, const struct fa_nn_yolo_head *h, const fa_decode_ctx *c,
                   fa_detections *out);

#endif
