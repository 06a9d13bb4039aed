/*
 * tracker.h - multi-object tracking of players and the ball from per-frame
 * detections (src/vision's boxes, detector.h), ByteTrack-style.
 *
 * Online part (fa_tracker_update, once per processed frame):
 *   1. every track's Kalman filter (kalman.h) predicts its box;
 *   2. high-score person boxes (score >= high_thresh) are matched with the
 *      confirmed tracks, tracked or lost, on 1 - IoU x score plus an
 *      appearance term (colour histogram of the torso, fa_track_appearance);
 *   3. low-score boxes (low_thresh <= score < high_thresh) are matched with
 *      the tracked tracks still free, on IoU alone (the occluded, blurred
 *      boxes ByteTrack recovers); tracked tracks still free become lost;
 *   4. tentative tracks are matched with the high boxes left; a tentative
 *      track is confirmed after confirm_hits hits, dropped at its first miss;
 *   5. lost tracks are re-identified with the high boxes left by appearance,
 *      inside a motion gate that widens with the time lost;
 *   6. high boxes left with score >= new_track_thresh start tentative tracks;
 *      lost tracks older than track_buffer frames are removed.
 * Track ids are given at confirmation: 1, 2, 3, ... in confirmation order,
 * never reused. The ball (ball_class) has its own path: at most one ball
 * track, candidates gated by distance from its predicted centre (IoU is
 * useless on a 5-pixel box moving its own width per frame).
 *
 * Offline part (fa_tracker_finish): the whole history as a result,
 * including the frames of tentative tracks before their confirmation,
 * then two post passes also usable on their own: stitching (tracklets
 * joined across short gaps and chunk borders when positions, times and
 * appearance agree) and gap filling (players' short gaps and the ball's
 * gaps under ball_max_gap_s interpolated linearly; frames where the ball
 * stays unseen are flagged).
 *
 * Frames are the caller's frame numbers (e.g. the video frame index),
 * strictly increasing, not necessarily consecutive (detection at 5 fps on
 * 25 fps video passes 0, 5, 10, ...); o.fps converts them to seconds. The
 * Kalman filter steps once per processed frame.
 */
#ifndef FA_VISION_TRACKER_H
#define FA_VISION_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "vision/detector.h"

/* Length of an appearance vector (see fa_track_appearance). */
#define FA_TRACK_APP_DIM 32
/* The ball's id in the observations (players are 1, 2, ...). */
#define FA_TRACK_BALL_ID 0

/* Observation flags. */
#define FA_TRACK_INTERPOLATED 1u /* box filled in by the gap pass, not detected */
#define FA_TRACK_UNSEEN 2u       /* ball only: not seen at this frame and not interpolated (box zero) */

typedef struct fa_tracker_options {
    /* classes */
    int person_class; /* tracked as players (FA_COCO_PERSON) */
    int ball_class;   /* tracked as the ball (FA_COCO_SPORTS_BALL); -1: no ball track */
    /* scores */
    float high_thresh;      /* 0.5: first association, appearance updates */
    float low_thresh;       /* 0.1: boxes below are ignored */
    float new_track_thresh; /* 0.6: a free high box at least this good starts a track */
    /* association gates (costs, assign.h semantics) */
    float match_gate;     /* 0.8: first association, 1 - IoU x score + app_weight x d_app */
    float low_match_gate; /* 0.5: second association, 1 - IoU */
    float tentative_gate; /* 0.7: tentative tracks, same cost as the first association */
    float iou_buffer;     /* 0.3: both boxes grown by this fraction of their width / height on each side
                             before IoU (buffered IoU: small fast players at low detection rates) */
    /* appearance */
    float app_weight;   /* 0.3: weight of the appearance distance (0..1) in the first association */
    float app_gate;     /* 0.5: appearance distance above which a first-association pair is forbidden */
    float app_momentum; /* 0.9: track appearance = m x old + (1 - m) x new */
    /* life cycle */
    int confirm_hits; /* 2: hits that confirm a tentative track (1: at once) */
    int track_buffer; /* 30: processed frames a lost track is kept */
    /* re-identification of lost tracks */
    float reid_app_gate;        /* 0.25: largest appearance distance */
    float reid_radius;          /* 1.5: motion gate, box heights from the last seen centre ... */
    float reid_radius_per_step; /* 0.5: ... plus this many heights per processed frame lost */
    /* time */
    double fps; /* 25: frame numbers per second */
    /* ball */
    float ball_thresh;      /* 0.2: candidate balls below are ignored */
    float ball_gate_px;     /* 40: gate radius around the predicted centre, pixels ... */
    float ball_speed_px;    /* 40: ... plus this many pixels per frame number since last seen */
    float ball_start_score; /* 0.5: a ball this good starts the track, or replaces it while it is unseen */
    double ball_max_gap_s;  /* 1.0: ball gaps shorter than this are interpolated */
    /* post passes */
    double interp_max_gap_s; /* 0.5: player gaps up to this are interpolated (0: none) */
    double stitch_max_gap_s; /* 2.0: tracklets joined across gaps up to this (0: no stitching) */
    float stitch_radius;     /* 1.5: end-to-start distance allowed, box heights ... */
    float stitch_speed;      /* 4.0: ... plus this many heights per second of gap */
    float stitch_app_gate;   /* 0.3: largest appearance distance between the two tracklets */
} fa_tracker_options;

/* Writes the defaults above. */
void fa_tracker_options_default(fa_tracker_options *o);
/* 0, or FA_EINVAL naming the first bad field and its value. */
int fa_tracker_options_check(const fa_tracker_options *o);

/* One track (or ball) box at one frame. */
typedef struct fa_track_obs {
    int64_t frame;
    int id;         /* player track id >= 1, or FA_TRACK_BALL_ID */
    int det;        /* index of the detection in that frame's input; -1 when interpolated or unseen */
    float box[4];   /* x1, y1, x2, y2: the filtered box for players, the detection for the ball */
    float score;    /* the detection's score; 0 when interpolated or unseen */
    unsigned flags; /* FA_TRACK_INTERPOLATED, FA_TRACK_UNSEEN */
} fa_track_obs;

/* A player tracklet's summary. */
typedef struct fa_tracklet {
    int id;
    int64_t first, last;         /* frames of its first and last observation */
    int hits;                    /* detected (not interpolated) observations */
    float app[FA_TRACK_APP_DIM]; /* mean appearance of its high-score boxes; zeros when none */
} fa_tracklet;

/* Tracking output (malloc'd arrays; free with fa_track_result_free). */
typedef struct fa_track_result {
    int64_t *frames; /* every processed frame, increasing */
    size_t n_frames;
    fa_track_obs *obs; /* sorted by frame, then id; one ball observation per frame when the ball is tracked */
    size_t n_obs;
    fa_tracklet *tracks; /* players, sorted by id */
    size_t n_tracks;
} fa_track_result;

void fa_track_result_free(fa_track_result *r);

typedef struct fa_tracker fa_tracker;

/* A tracker with options o (NULL: defaults). NULL with the error set:
 * FA_EINVAL for bad options, FA_ENOMEM. */
fa_tracker *fa_tracker_new(const fa_tracker_options *o);
void fa_tracker_free(fa_tracker *t);

/* Processes the detections of one frame. dets: n boxes, any classes (those
 * neither person_class nor ball_class are ignored), any order. app: NULL,
 * or n x FA_TRACK_APP_DIM appearance vectors (row i for dets[i]; an
 * all-zero row means unknown). frame must be greater than the previous
 * call's. *out (may be NULL) gets this frame's confirmed, matched player
 * tracks and the ball if seen, valid until the next call; *n_out their
 * count. 0, or FA_EINVAL (frame not increasing, a box not finite with
 * x1 < x2 and y1 < y2, a score or appearance value not finite or negative:
 * the message names the frame and the detection), FA_ELIMIT (live tracks
 * plus boxes reach FA_ASSIGN_MAX), FA_ENOMEM. On error the tracker is
 * unchanged. In steady state (no more tracks or boxes than some earlier
 * frame) it allocates only when its history arrays double. */
int fa_tracker_update(fa_tracker *t, int64_t frame, const fa_detection *dets, size_t n, const float *app,
                      const fa_track_obs **out, size_t *n_out);

/* The whole history as r (zeroed first; free with fa_track_result_free):
 * confirmed tracks' observations from their first box, then
 * fa_tracks_stitch and fa_tracks_fill_gaps with the tracker's options. The
 * tracker may go on being updated afterwards. 0 or FA_ENOMEM. */
int fa_tracker_finish(fa_tracker *t, fa_track_result *r);

/* Post pass: joins tracklets A and B (B starting after A ends, within
 * o->stitch_max_gap_s) when B's first centre is within (stitch_radius +
 * stitch_speed x gap seconds) box heights of A's last centre, their heights
 * agree within a factor 1.5 and, when both have an appearance, its distance
 * is <= stitch_app_gate. Pairs are chosen by one global assignment on
 * distance / radius + appearance distance; B's observations take A's id.
 * 0 or FA_ENOMEM / FA_EINVAL (bad options). */
int fa_tracks_stitch(fa_track_result *r, const fa_tracker_options *o);

/* Post pass: fills a player's gaps of at most o->interp_max_gap_s (from the
 * last box before to the first after) at the processed frames in between,
 * linearly; fills the ball's gaps shorter than o->ball_max_gap_s likewise
 * (replacing its FA_TRACK_UNSEEN observations). Filled boxes are flagged
 * FA_TRACK_INTERPOLATED. 0 or FA_ENOMEM / FA_EINVAL. */
int fa_tracks_fill_gaps(fa_track_result *r, const fa_tracker_options *o);

/* Appends src, a later chunk's result, to dst: src's frames must all come
 * after dst's; src's track ids are shifted above dst's largest. Run
 * fa_tracks_stitch (and fa_tracks_fill_gaps) on dst afterwards to join the
 * tracks across the border. 0, FA_EINVAL (frames overlap, with both
 * frames named), FA_ENOMEM; dst is unchanged on error. */
int fa_track_result_append(fa_track_result *dst, const fa_track_result *src);

/* The appearance vector of the person in box: a colour histogram of the
 * torso (the middle half of the box's width, from 15 % to 50 % of its
 * height) of the packed RGB image rgb (w x h, stride bytes per row):
 * 8 hues x 3 saturations for coloured pixels, 8 grey levels for
 * unsaturated or dark ones, normalised to sum 1. Pixels outside the image
 * are skipped. Returns the pixels counted (0: out is all zeros, unknown),
 * or FA_EINVAL for a bad image (NULL, w or h <= 0, stride < 3 w) or a box
 * that is not finite. */
int fa_track_appearance(const uint8_t *rgb, int w, int h, size_t stride, const float box[4],
                        float out[FA_TRACK_APP_DIM]);

/* Hellinger distance of two appearance vectors (0 same, 1 disjoint), -1
 * when either is all zeros (unknown). */
float fa_track_app_distance(const float *a, const float *b);

#endif
