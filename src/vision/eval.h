/*
 * eval.h - detection quality: average precision at IoU 0.5 per class over a
 * set of images, and the reader for YOLO-format label files.
 *
 * AP is reported COCO-style: the precision envelope (precision made
 * non-increasing in recall) sampled at the 101 recall points 0, 0.01, ...,
 * 1 and averaged. Matching is greedy by score: within an image, each
 * detection, best score first, takes the unmatched ground-truth box of its
 * class with the highest IoU if that IoU is >= 0.5 (true positive),
 * otherwise it is a false positive; a ground-truth box is matched at most
 * once.
 */
#ifndef FA_VISION_EVAL_H
#define FA_VISION_EVAL_H

#include <stddef.h>

#include "vision/detector.h"

/* A ground-truth box (frame pixels) and its COCO class. */
typedef struct fa_gt_box {
    float box[4];
    int class_id;
} fa_gt_box;

typedef struct fa_eval fa_eval;

/* Per-class totals and AP; ap is NAN when the class has no ground truth. */
typedef struct fa_eval_class {
    size_t gt, dets, tp;
    double ap;
} fa_eval_class;

fa_eval *fa_eval_new(void);
void fa_eval_free(fa_eval *e);

/* Adds one image: its detections (any order) and ground truth. 0 or FA_ENOMEM. */
int fa_eval_add_image(fa_eval *e, const fa_detection *dets, size_t n_dets, const fa_gt_box *gt, size_t n_gt);

/* The totals and AP@0.5 (101-point interpolated) of class_id over the
 * images added. */
void fa_eval_class_result(const fa_eval *e, int class_id, fa_eval_class *out);

/* AP from a ranked list: tp[i] (1/0) for detections sorted by score
 * descending, n_gt ground-truth boxes; 101-point interpolated. NAN when
 * n_gt is 0. */
double fa_eval_ap101(const unsigned char *tp, size_t n, size_t n_gt);

/* Reads a YOLO label file ("class cx cy w h" per line, normalised to the
 * image) for an img_w x img_h image; YOLO class k becomes class_map[k]
 * (n_map entries; a class beyond them is an error). *out is malloc'd.
 * 0, FA_ENOTFOUND (no file), or FA_EINVAL naming file:line. */
int fa_eval_read_yolo_labels(const char *path, int img_w, int img_h, const int *class_map, int n_map,
                             fa_gt_box **out, size_t *n);

/* The label path of an image in a YOLO dataset: .../images/X.jpg ->
 * .../labels/X.txt. Writes into buf; 0 or FA_EINVAL (no images/ folder). */
int fa_eval_label_path(const char *image_path, char *buf, size_t size);

#endif
