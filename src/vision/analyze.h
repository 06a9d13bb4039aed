/*
 * analyze.h - a match video to tracking data (issue 7): one pass of the
 * video pipeline transcodes the ladder and, through its detector feed,
 * hands frames to the detector and the tracker; afterwards the tracks are
 * mapped to pitch metres and streamed into a fa_sink exactly as a provider
 * parser streams tracking, so storage and every metric of the analytics
 * engine work on analysed video unchanged.
 *
 * Stages and where they live: transcode + feed (src/video/transcode.h),
 * detection with tiling (detector.h), tracking (tracker.h), kit colours of
 * every tracked player (teams.h: fitted on the first seconds, a role per
 * track by voting), pitch mapping (a callback: the calibration, calib.h).
 */
#ifndef FA_VISION_ANALYZE_H
#define FA_VISION_ANALYZE_H

#include <signal.h>
#include <stdint.h>

#include "model/model.h"
#include "video/transcode.h"
#include "vision/detector.h"
#include "vision/teams.h"
#include "vision/tracker.h"

/* Maps a point of the SOURCE picture (pixels) to pitch metres (model
 * convention). Returns 0, or non-zero when the point is not on the pitch
 * (above the horizon, far outside the lines): the sample is then left out. */
typedef int (*fa_pitch_map_fn)(void *user, double u, double v, double *x, double *y);

typedef struct fa_analyze_opts {
    const char *input;       /* the video */
    const char *out_dir;     /* the HLS + DASH package (fa_transcode's out_dir) */
    int force;               /* replace out_dir */
    const char *model;       /* detector model file */
    fa_detector_options det; /* backend, precision, threads, tiles, roi, conf ... */
    double detect_fps;       /* frames per second detected (0: 5) */
    int detect_width;   /* feed width in pixels (0: the source's, at most 1536); height keeps the aspect */
    double max_input_s; /* analyse only the first seconds (0: all) */
    const int *ladder;  /* transcode ladder (NULL: default) */
    int nladder;
    const char *preset; /* x264 preset (NULL: superfast) */
    fa_hwaccel hwaccel;
    fa_tracker_options tracker;        /* fa_tracker_options_default, fps set from detect_fps */
    fa_teams_options teams;            /* fa_teams_options_default, fps set from detect_fps */
    fa_transcode_progress_fn progress; /* may be NULL */
    void *progress_user;
    const volatile sig_atomic_t *cancel;
    /* Called once per processed frame with its pixels, after detection and
     * tracking (e.g. to draw an overlay); may be NULL. A non-zero return
     * stops the run with that error. */
    int (*on_frame)(void *user, const fa_video_frame *f, const fa_detections *dets,
                    const fa_track_obs *tracked, size_t n_tracked);
    void *on_frame_user;
    /* The pitch calibration, when known before the run (may be NULL): a
     * person whose foot point (bottom centre of the box) maps off the pitch
     * is a spectator, substitute or coach, not a player, so those kit
     * observations are kept out of the team model (a track seen only off
     * the pitch gets no role), and the team model's positions are metres
     * along the pitch instead of image x. */
    fa_pitch_map_fn map;
    void *map_user;
    /* 1: the camera pans or tilts. The picture's global motion between
     * processed frames is estimated (phase correlation, calib.h's
     * fa_calib_motion_estimate) and every point of frame k is moved back by
     * the motion since frame 0 before the map sees it, so a calibration made
     * on the first frame holds over the pan (the first-order model of
     * fa_calib_propagate: exact for an image-plane shift, good for a small
     * pan/tilt; no zoom). 0 (default): a fixed camera, no estimate (chained
     * estimates would add their noise). */
    int moving_camera;
} fa_analyze_opts;

/* Defaults: 5 fps, tiles auto with the pitch ROI, tracker defaults. */
void fa_analyze_opts_default(fa_analyze_opts *o);

/* The size of the frames the detector sees for a source picture of
 * src_w x src_h: o->detect_width wide (0: the source's, at most 1536; never
 * wider than the source), the height by the aspect ratio, both even. */
void fa_analyze_feed_size(const fa_analyze_opts *o, int src_w, int src_h, int *w, int *h);

typedef struct fa_analyze_result {
    fa_transcode_result transcode;
    int feed_w, feed_h;       /* detector feed size */
    double scale;             /* source pixels per feed pixel */
    int64_t frames;           /* frames detected */
    double *t;                /* [frames]: media seconds of each processed frame (malloc'd) */
    size_t detections;        /* person and ball boxes found, all frames */
    double detect_s, track_s; /* wall seconds in the detector and the tracker */
    fa_track_result tracks;   /* in feed pixels, frames numbered 0, 1, ... (processed frames) */
    /* With moving_camera: [frames] the picture's motion since frame 0 in
     * source pixels: frame k shows at (u, v) what frame 0 shows at
     * (u - cam_dx[k], v - cam_dy[k]) (malloc'd; NULL for a fixed camera). */
    double *cam_dx, *cam_dy;
    fa_teams *teams; /* the kit model, fitted (NULL when it could not be: see teams_error) */
    fa_teams_summary teams_summary;
    char teams_error[256]; /* why there are no teams ("" when fitted) */
} fa_analyze_result;

void fa_analyze_result_free(fa_analyze_result *r);

/* Runs the transcode with the detector feed, detecting and tracking every
 * feed frame. r is zeroed first; free it with fa_analyze_result_free (also
 * after an error). 0, or the error of the stage that failed (the
 * transcoder's: bad input FA_EINVAL/FA_ELIMIT, FA_EUSAGE, FA_EIO; the
 * detector's or tracker's, prefixed with the frame). */
int fa_analyze_video(const fa_analyze_opts *o, fa_analyze_result *r);

/* A track's team and role for the output (fa_side, and a position name
 * such as "goalkeeper", "referee" or "" for an outfield player). */
typedef void (*fa_track_team_fn)(void *user, int track_id, fa_side *side, const char **position);

/* A fa_track_team_fn over user = const fa_analyze_result * (its fitted kit
 * model): team A home, team B away, goalkeepers with their team's side when
 * known and position "goalkeeper", referees and unknown tracks no side
 * (position "referee" / ""). */
void fa_analyze_team(void *user, int track_id, fa_side *side, const char **position);

typedef struct fa_analyze_emit_opts {
    const char *match_id; /* NULL: the input's base name without extension */
    fa_pitch pitch;       /* the pitch the mapping uses (0: 105 x 68) */
    fa_pitch_map_fn map;  /* required */
    void *map_user;
    fa_track_team_fn team; /* NULL: every track FA_SIDE_NONE */
    void *team_user;
    int min_hits; /* tracks with fewer detected boxes are left out (0: 3) */
} fa_analyze_emit_opts;

typedef struct fa_analyze_emit_stats {
    size_t players;          /* tracks emitted as players */
    size_t frames;           /* frames emitted */
    size_t samples;          /* player positions emitted */
    size_t off_pitch;        /* positions the map refused, and those of the off-pitch people */
    size_t off_pitch_people; /* tracks left out: most foot points off the pitch (not players) */
    size_t ball_samples;     /* frames with a ball position */
} fa_analyze_emit_stats;

/* The point (u, v) of processed frame k (source pixels) where frame 0
 * shows the same ground: moved back by the camera's motion when r has it,
 * unchanged otherwise. The maps of fa_analyze_emit go through this. */
void fa_analyze_unpan(const fa_analyze_result *r, int64_t k, double *u, double *v);

/* Streams r into sink as provider tracking: begin (provider "video", the
 * frame rate of the detection), one player per kept track ("track-<id>":
 * at least min_hits detected boxes, at most half of them with the foot
 * point off the pitch: spectators, coaches and substitutes beside it are
 * not players),
 * one frame per processed frame (period 1; each player's foot point, the
 * bottom centre of its box, mapped to metres; the ball's centre when seen
 * or interpolated), end. 0, FA_EINVAL (no mapping), or the sink's return. */
int fa_analyze_emit(const fa_analyze_opts *o, const fa_analyze_result *r, const fa_analyze_emit_opts *eo,
                    const fa_sink *sink, fa_analyze_emit_stats *st);

#endif
