/*
 * mot.h - tracking quality: CLEAR-MOT (MOTA, MOTP, ID switches, false
 * positives, misses) and the identity measures IDP / IDR / IDF1 of a
 * predicted box sequence against ground truth, at an IoU threshold
 * (0.5 is the usual one).
 *
 * CLEAR-MOT, frame by frame (the rules of py-motmetrics / MOTChallenge):
 *   1. a ground-truth object keeps the prediction it was last matched to
 *      when both are present and their IoU is >= the threshold;
 *   2. the objects and predictions left are matched by a minimum-cost
 *      assignment on 1 - IoU over pairs with IoU >= the threshold, as
 *      many pairs as possible first;
 *   3. a match of an object to a prediction other than the one it was
 *      last matched to (in any earlier frame) is an ID switch;
 *   4. objects left are misses (FN), predictions left false positives.
 *   MOTA = 1 - (FN + FP + IDSW) / GT boxes; MOTP here is the mean IoU of
 *   the matches (MOTChallenge's convention, 1 is perfect; py-motmetrics
 *   reports 1 - this).
 * Identity measures (Ristani et al. 2016): each ground-truth id is matched
 * with at most one predicted id for the whole sequence, the pairing that
 * maximises the frames where the two boxes overlap at IoU >= threshold
 * (IDTP), by one global assignment (assign.h). IDFN = GT boxes - IDTP,
 * IDFP = predicted boxes - IDTP, IDF1 = 2 IDTP / (GT boxes + predicted
 * boxes).
 */
#ifndef FA_VISION_MOT_H
#define FA_VISION_MOT_H

#include <stddef.h>

/* One box of one frame with its identity. */
typedef struct fa_mot_box {
    int id;
    float box[4]; /* x1, y1, x2, y2 */
} fa_mot_box;

typedef struct fa_mot_summary {
    size_t frames, gt, pred;      /* frames added, ground-truth and predicted boxes */
    size_t matches, fp, fn, idsw; /* CLEAR-MOT counts */
    double mota, motp;            /* NAN when there is no ground truth / no match */
    size_t gt_ids, pred_ids;      /* distinct identities */
    size_t idtp, idfp, idfn;
    double idp, idr, idf1; /* NAN when undefined (no boxes) */
} fa_mot_summary;

typedef struct fa_mot fa_mot;

/* An accumulator at IoU threshold iou (in (0, 1]). NULL with the error set
 * (FA_EINVAL naming the value, FA_ENOMEM). */
fa_mot *fa_mot_new(double iou);
void fa_mot_free(fa_mot *m);

/* Adds one frame: ground truth gt[0..n_gt) and predictions pred[0..n_pred)
 * (either may be empty). 0, or FA_EINVAL (an id twice in the frame's ground
 * truth or predictions, a corner not finite: the message names the frame
 * number, counted from 0, the box and the id), FA_ENOMEM, FA_ELIMIT (more
 * than FA_ASSIGN_MAX boxes in a frame). The accumulator is unchanged on
 * error. */
int fa_mot_add_frame(fa_mot *m, const fa_mot_box *gt, size_t n_gt, const fa_mot_box *pred, size_t n_pred);

/* The figures over the frames added so far. 0, FA_ENOMEM, or FA_ELIMIT
 * when the ids that overlap at all exceed FA_ASSIGN_MAX. */
int fa_mot_summarize(fa_mot *m, fa_mot_summary *s);

#endif
