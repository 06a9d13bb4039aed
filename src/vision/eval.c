/*
 * eval.c - AP@0.5 per class and YOLO label files.
 *
 * Every detection of every image is kept as (class, score, true positive?)
 * once matched within its image, so AP is computed at the end over the
 * whole set by one sort per class. Matching follows COCO's evaluator at a
 * single IoU threshold (greedy by score, best-IoU unmatched ground truth);
 * the interpolation is COCO's 101-point one rather than VOC's 11-point or
 * all-points, so numbers are comparable with mAP@0.5 figures published for
 * these models.
 */
#include "vision/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

typedef struct ranked {
    float score;
    int class_id;
    unsigned char tp;
} ranked;

struct fa_eval {
    ranked *v;
    size_t n, cap;
    size_t gt[FA_COCO_CLASSES];
};

fa_eval *fa_eval_new(void) { return fa_calloc(1, sizeof(fa_eval)); }

void fa_eval_free(fa_eval *e) {
    if (!e) return;
    free(e->v);
    free(e);
}

static int push_ranked(fa_eval *e, float score, int class_id, int tp) {
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 256;
        ranked *v = fa_realloc(e->v, cap * sizeof *v);
        if (!v) return FA_ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = (ranked){score, class_id, (unsigned char)tp};
    return 0;
}

static int by_score(const void *pa, const void *pb) {
    float a = (*(const fa_detection *const *)pa)->score, b = (*(const fa_detection *const *)pb)->score;
    return a > b ? -1 : a < b ? 1 : 0;
}

/* The unmatched ground-truth box of d's class with the best IoU >= 0.5, or -1. */
static long best_gt(const fa_detection *d, const fa_gt_box *gt, size_t n_gt, const unsigned char *used) {
    long best = -1;
    float best_iou = 0.5f;
    for (size_t g = 0; g < n_gt; g++) {
        if (used[g] || gt[g].class_id != d->class_id) continue;
        float iou = fa_box_iou(d->box, gt[g].box);
        if (iou >= best_iou) best_iou = iou, best = (long)g;
    }
    return best;
}

int fa_eval_add_image(fa_eval *e, const fa_detection *dets, size_t n_dets, const fa_gt_box *gt, size_t n_gt) {
    const fa_detection **order = fa_malloc((n_dets ? n_dets : 1) * sizeof *order);
    unsigned char *used = fa_calloc(n_gt ? n_gt : 1, 1);
    int ret = order && used ? 0 : FA_ENOMEM;
    for (size_t i = 0; i < n_dets && !ret; i++)
        order[i] = &dets[i];
    if (!ret) qsort(order, n_dets, sizeof *order, by_score);
    for (size_t i = 0; i < n_dets && !ret; i++) {
        long g = best_gt(order[i], gt, n_gt, used);
        if (g >= 0) used[g] = 1;
        if (order[i]->class_id >= 0 && order[i]->class_id < FA_COCO_CLASSES)
            ret = push_ranked(e, order[i]->score, order[i]->class_id, g >= 0);
    }
    for (size_t g = 0; g < n_gt && !ret; g++)
        if (gt[g].class_id >= 0 && gt[g].class_id < FA_COCO_CLASSES) e->gt[gt[g].class_id]++;
    free(order);
    free(used);
    return ret;
}

double fa_eval_ap101(const unsigned char *tp, size_t n, size_t n_gt) {
    if (n_gt == 0) return NAN;
    double *prec = fa_malloc((n ? n : 1) * sizeof *prec), *rec = fa_malloc((n ? n : 1) * sizeof *rec);
    if (!prec || !rec) {
        free(prec);
        free(rec);
        return NAN;
    }
    size_t ctp = 0;
    for (size_t i = 0; i < n; i++) {
        ctp += tp[i];
        prec[i] = (double)ctp / (double)(i + 1);
        rec[i] = (double)ctp / (double)n_gt;
    }
    for (size_t i = n; i-- > 1;) /* envelope: non-increasing from the right */
        if (prec[i] > prec[i - 1]) prec[i - 1] = prec[i];
    double sum = 0;
    size_t k = 0;
    for (int r = 0; r <= 100; r++) {
        double at = r / 100.0;
        while (k < n && rec[k] < at - 1e-12)
            k++;
        if (k < n) sum += prec[k];
    }
    free(prec);
    free(rec);
    return sum / 101.0;
}

static int by_ranked_score(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    return a->score > b->score ? -1 : a->score < b->score ? 1 : 0;
}

void fa_eval_class_result(const fa_eval *e, int class_id, fa_eval_class *out) {
    memset(out, 0, sizeof *out);
    out->ap = NAN;
    if (class_id < 0 || class_id >= FA_COCO_CLASSES) return;
    out->gt = e->gt[class_id];
    ranked *v = fa_malloc((e->n ? e->n : 1) * sizeof *v);
    unsigned char *tp = fa_malloc(e->n ? e->n : 1);
    if (v && tp) {
        for (size_t i = 0; i < e->n; i++)
            if (e->v[i].class_id == class_id) v[out->dets++] = e->v[i];
        qsort(v, out->dets, sizeof *v, by_ranked_score);
        for (size_t i = 0; i < out->dets; i++)
            out->tp += tp[i] = v[i].tp;
        out->ap = fa_eval_ap101(tp, out->dets, out->gt);
    }
    free(v);
    free(tp);
}

/* Parses one label line into *b. 0, 1 (blank line) or FA_EINVAL. */
static int parse_label(const char *name, unsigned long line, char *s, int img_w, int img_h,
                       const int *class_map, int n_map, fa_gt_box *b) {
    int cls, used = 0;
    double cx, cy, w, h;
    s[strcspn(s, "\r\n")] = '\0';
    if (strspn(s, " \t") == strlen(s)) return 1;
    if (sscanf(s, "%d %lf %lf %lf %lf %n", &cls, &cx, &cy, &w, &h, &used) != 5 || s[used] != '\0')
        return fa_err_set(FA_EINVAL, "%s:%lu: expected 'class cx cy w h', got '%.40s'", name, line, s);
    if (cls < 0 || cls >= n_map)
        return fa_err_set(FA_EINVAL, "%s:%lu: class %d: expected 0..%d", name, line, cls, n_map - 1);
    if (!(cx >= 0 && cx <= 1 && cy >= 0 && cy <= 1 && w >= 0 && w <= 1 && h >= 0 && h <= 1))
        return fa_err_set(FA_EINVAL, "%s:%lu: coordinates must be normalised to 0..1", name, line);
    b->class_id = class_map[cls];
    b->box[0] = (float)((cx - w / 2) * img_w);
    b->box[1] = (float)((cy - h / 2) * img_h);
    b->box[2] = (float)((cx + w / 2) * img_w);
    b->box[3] = (float)((cy + h / 2) * img_h);
    return 0;
}

int fa_eval_read_yolo_labels(const char *path, int img_w, int img_h, const int *class_map, int n_map,
                             fa_gt_box **out, size_t *n) {
    *out = NULL;
    *n = 0;
    FILE *fp = fopen(path, "r");
    if (!fp) return fa_err_set(FA_ENOTFOUND, "%s: no label file", fa_path_base(path));
    char line[512];
    unsigned long lineno = 0;
    size_t cap = 0;
    int ret = 0;
    while (!ret && fgets(line, sizeof line, fp)) {
        lineno++;
        fa_gt_box b;
        int r = parse_label(fa_path_base(path), lineno, line, img_w, img_h, class_map, n_map, &b);
        if (r < 0) ret = r;
        if (r) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            fa_gt_box *v = fa_realloc(*out, cap * sizeof *v);
            if (!v) {
                ret = FA_ENOMEM;
                break;
            }
            *out = v;
        }
        (*out)[(*n)++] = b;
    }
    fclose(fp);
    if (ret) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return ret;
}

int fa_eval_label_path(const char *image_path, char *buf, size_t size) {
    const char *at = NULL;
    for (const char *p = strstr(image_path, "images/"); p; p = strstr(p + 1, "images/"))
        if (p == image_path || p[-1] == '/') at = p;
    const char *dot = strrchr(image_path, '.');
    if (!at || !dot || dot < at)
        return fa_err_set(FA_EINVAL,
                          "%s: not inside an images/ folder, so no labels/ file to evaluate against",
                          fa_path_base(image_path));
    int len = snprintf(buf, size, "%.*slabels/%.*s.txt", (int)(at - image_path), image_path,
                       (int)(dot - at - 7), at + 7);
    if (len < 0 || (size_t)len >= size)
        return fa_err_set(FA_EINVAL, "%s: path too long", fa_path_base(image_path));
    return 0;
}
