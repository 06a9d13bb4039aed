/*
 * calib.h - pitch calibration: image pixels <-> pitch metres (issue 7).
 *
 * The camera is modelled as a plane homography H (pitch metres -> ideal,
 * undistorted pixels) followed by radial lens distortion about a centre:
 *
 *     p = H * (x, y, 1)                    ideal pixel
 *     r = |p - c| / norm                   c = distortion centre, norm = half image diagonal
 *     d = c + (p - c) * (1 + k1 r^2 + k2 r^4)   observed (distorted) pixel
 *
 * Why this model: the pitch is a plane, so a homography is exact for a
 * pinhole camera; wide-angle lenses bend straight lines, which the two
 * radial terms absorb (barrel: k1 < 0). Pitch coordinates follow model.h:
 * metres, origin at the centre spot, x along the length, y across.
 *
 * Landmark orientation (the names used by --points): "left" is the -x half
 * (x = -length/2 is the left goal line), "right" the +x half; "top" is +y
 * (the far touchline as seen from the main stand, the top of a pitch
 * diagram), "bottom" is -y. The landmark list (L = length, W = width,
 * FIFA markings; mirrored for "right" with x -> -x, for "bottom" y -> -y):
 *   centre_spot (0,0); centre_circle_top (0, 9.15), centre_circle_bottom,
 *   centre_circle_left (-9.15, 0), centre_circle_right;
 *   halfway_top (0, W/2), halfway_bottom (0, -W/2);
 *   corner_top_left (-L/2, W/2), corner_bottom_left, corner_top_right, corner_bottom_right;
 *   penalty_spot_left (-L/2 + 11, 0), penalty_spot_right;
 *   penalty_box_left_top (-L/2 + 16.5, 20.16)      front corner of the penalty area,
 *   penalty_box_left_top_goal (-L/2, 20.16)        where its side meets the goal line;
 *   goal_area_left_top (-L/2 + 5.5, 9.16), goal_area_left_top_goal (-L/2, 9.16);
 *   goal_post_left_top (-L/2, 3.66);
 *   penalty_arc_left_top (-L/2 + 16.5, 7.31)       where the penalty arc meets the box,
 *   penalty_arc_left (-L/2 + 20.15, 0)             the arc's tip;
 *   and every _left/_right, _top/_bottom variant of these.
 */
#ifndef FA_VISION_CALIB_H
#define FA_VISION_CALIB_H

#include <stddef.h>

#include "core/core.h"
#include "model/model.h"
#include "video/image.h"

/* ------------------------------------------------------------ landmarks */

/* Number of named landmarks and the i-th name (NULL when i is out of range). */
size_t fa_calib_landmark_count(void);
const char *fa_calib_landmark_name(size_t i);
/* Pitch metres of a named landmark on pitch p (NULL or zero size: 105 x 68).
 * 0, or FA_ENOTFOUND (message names the landmark) for an unknown name. */
int fa_calib_landmark(const fa_pitch *p, const char *name, double *x, double *y);

/* ------------------------------------------------------------ points */

#define FA_CALIB_MAX_POINTS 64
#define FA_CALIB_NAME_MAX 48

/* One correspondence: an image pixel (u right, v down, distorted as seen)
 * and the pitch point it shows. name is the landmark or "" for explicit x,y. */
typedef struct fa_calib_point {
    double u, v;
    double x, y;
    char name[FA_CALIB_NAME_MAX];
} fa_calib_point;

/* Parses the --points syntax: items separated by ';', each "u,v=LANDMARK"
 * or "u,v=x,y" (pitch metres); spaces around numbers and names are allowed,
 * an empty trailing item is ignored. Fills pts[0..*n). 0, or FA_EINVAL with
 * a message "--points: item K (`text`): problem" (K from 1), FA_ELIMIT when
 * more than max items. */
int fa_calib_parse_points(const char *spec, const fa_pitch *pitch, fa_calib_point *pts, size_t max,
                          size_t *n);

/* ------------------------------------------------------------ calibration */

typedef struct fa_calib {
    int img_w, img_h;      /* the picture the pixels refer to */
    fa_pitch pitch;        /* metres */
    double H[9];           /* pitch -> ideal pixels, row-major; unit norm, w > 0 in front of the camera */
    double Hinv[9];        /* ideal pixels -> pitch */
    double k1, k2;         /* radial distortion */
    double cx, cy, norm;   /* distortion centre (image centre) and radius unit (half diagonal) */
    double r_valid;        /* ideal radius (in norm units) up to which the distortion is monotone */
    int distortion_fitted; /* 1 when k1, k2 were estimated */
    size_t npoints;
    fa_calib_point points[FA_CALIB_MAX_POINTS];
    /* Reprojection errors over the points: pitch -> image (pixels) and image
     * -> pitch (metres). 0 when there are no points. */
    double rms_px, max_px, rms_m, max_m;
} fa_calib;

typedef struct fa_calib_opts {
    int fit_distortion;           /* -1 auto (when npoints >= min_points_distortion), 0 never, 1 always */
    size_t min_points_distortion; /* 6 */
    double k1, k2;                /* fixed values (or the start) when not fitted: 0, 0 */
    double max_condition;         /* DLT condition number limit: 1e7 */
} fa_calib_opts;

void fa_calib_opts_default(fa_calib_opts *o);

/* Solves a calibration from n correspondences seen in an img_w x img_h
 * picture: normalised DLT, then Levenberg-Marquardt on H (and k1, k2 when
 * fitted) minimising the reprojection error in pixels. opts NULL: defaults.
 * 0, or FA_EINVAL naming the problem: fewer than 4 points, a point off the
 * image or not finite, two points on the same pixel or pitch spot, collinear
 * or degenerate points (condition number), the image area mapped behind the
 * horizon, a mirrored (orientation-flipping) mapping, a distortion that
 * folds the image; FA_ELIMIT over FA_CALIB_MAX_POINTS. out is zeroed on error. */
int fa_calib_solve(const fa_calib_point *pts, size_t n, int img_w, int img_h, const fa_pitch *pitch,
                   const fa_calib_opts *opts, fa_calib *out);

/* Installs H (pitch -> ideal pixels) and k1, k2 on c (whose image size,
 * pitch, distortion centre cx, cy, norm and points must be set and are
 * kept), normalises H (unit norm, w > 0 at the points), recomputes
 * Hinv and the errors, and validates as fa_calib_solve does. 0 or FA_EINVAL. */
int fa_calib_set(fa_calib *c, const double H[9], double k1, double k2);

/* Result flags of the mappings (0: on the pitch). */
enum {
    FA_CALIB_OFF_PITCH = 1,     /* maps outside the pitch lines (by more than 1 m) */
    FA_CALIB_ABOVE_HORIZON = 2, /* the pixel is at or above the horizon: no ground point */
    FA_CALIB_OFF_IMAGE = 4      /* pitch_to_image: the pixel is outside the picture */
};

/* Image (distorted pixels) -> pitch metres: undistorts (Newton on the
 * radius), then applies Hinv. Returns 0 or FA_CALIB_* flags; above the
 * horizon x, y are NAN. */
int fa_calib_image_to_pitch(const fa_calib *c, double u, double v, double *x, double *y);
/* Pitch metres -> image (distorted pixels). Returns 0 or flags
 * (FA_CALIB_ABOVE_HORIZON when the point is behind the camera: u, v NAN;
 * FA_CALIB_OFF_IMAGE). */
int fa_calib_pitch_to_image(const fa_calib *c, double x, double y, double *u, double *v);
/* A fa_pitch_map_fn (vision/analyze.h) over user = const fa_calib *:
 * 0 when the pixel maps onto the pitch, else the flags. */
int fa_calib_map(void *user, double u, double v, double *x, double *y);

/* Rescales c, calibrated on its img_w x img_h picture, to the same camera's
 * picture scaled to w x h (a proxy, a rendition or a resized copy of the
 * video): the points scale with the picture, H becomes diag(sx, sy, 1) H,
 * the distortion centre and radius unit follow the new size, and k1, k2
 * (defined on the normalised radius) stay; exact when the picture keeps its
 * aspect ratio. The errors are recomputed (in the new pixels). 0, or
 * FA_EINVAL (w or h not positive, aspect ratios more than 1 % apart, or the
 * result failing fa_calib_set's checks; c is then unchanged). */
int fa_calib_rescale(fa_calib *c, int w, int h);

/* ------------------------------------------------------------ files */

/* Appends c to out as the JSON document of a calibration file:
 * {"image":{"width","height"}, "pitch":{"length","width"},
 * "points":[{"u","v","name","x","y"} or {"u","v","x","y"}], "H":[9],
 * "distortion":{"k1","k2","cx","cy","norm","fitted"},
 * "errors":{"rms_px","max_px","rms_m","max_m"}, "note"} (note omitted when
 * NULL), two-space indented, one point a line, ending in a newline; what
 * fa_calib_load_mem reads back to the same H, k1, k2. 0, or FA_ENOMEM with
 * out's length unchanged. */
int fa_calib_write_json(const fa_calib *c, const char *note, fa_buf *out);
/* Writes fa_calib_write_json's document to the file path (replaced).
 * note may be NULL. 0, FA_ENOMEM or FA_EIO. */
int fa_calib_save(const fa_calib *c, const char *note, const char *path);
/* Reads a file written by fa_calib_save, or a hand-written one with only
 * "image", "points" (names or x,y) and optionally "pitch" (105 x 68): with
 * "H" the stored H, k1, k2 are installed (fa_calib_set), without it the
 * calibration is solved from the points (default options). 0, or
 * FA_EINVAL / FA_ENOTFOUND / FA_EIO with a message naming file:line:col. */
int fa_calib_load(const char *path, fa_calib *c);
/* The same from memory (name in messages; data need not be NUL-terminated). */
int fa_calib_load_mem(const char *name, const char *data, size_t len, fa_calib *c);

/* ------------------------------------------------------------ automatic refinement */

typedef struct fa_calib_refine_stats {
    size_t samples;                       /* model line samples projected inside the picture */
    size_t matched_before, matched_after; /* samples with a line pixel found */
    double err_before, err_after;         /* RMS pixel distance, line pixels to model lines */
    int accepted;                         /* 1 when the refined calibration was kept */
} fa_calib_refine_stats;

/* Refines c on frame img (the same size as c's picture): detects white
 * pitch-line pixels (thin bright ridges on green) along the normals of the
 * projected model lines, within max(8, width / 150) px, and fits an
 * image-side homography correction plus k1, k2 to their distances (robustly
 * trimmed; the manual points stay in the fit); four rounds, the search
 * radius halving. The line error is the RMS distance of the best 80 % of the
 * line pixels found. c is replaced only when that error goes down with at
 * least 90 % as many line pixels found and the result passes fa_calib_set's
 * checks. 0 (st filled, st->accepted says which), FA_EINVAL (size mismatch,
 * fewer than 8 line pixels found), FA_ENOMEM. */
int fa_calib_refine_lines(fa_calib *c, const fa_image *img, fa_calib_refine_stats *st);

/* ------------------------------------------------------------ moving camera */

typedef struct fa_calib_motion {
    double dx, dy; /* image motion prev -> next, full-resolution pixels */
    double peak;   /* phase-correlation peak height (0..1; ~1 for pure translation) */
    double scale;  /* downscale factor used */
} fa_calib_motion;

/* Global image translation between two frames of the same size: phase
 * correlation on the whole picture, grey, box-downscaled by an integer
 * factor to at most 512 x 256, Hann-windowed, sub-pixel peak (players move
 * but cover little of the picture; the static pitch and stands dominate).
 * 0, or FA_EINVAL (size mismatch, image too small), FA_ENOMEM. */
int fa_calib_motion_estimate(const fa_image *prev, const fa_image *next, fa_calib_motion *m);
/* Carries calibration c of frame prev over to frame next: estimates the
 * motion and translates the homography and distortion centre by it (exact
 * for an image-plane shift, a first-order model of small pan/tilt). out may
 * equal c. 0 or the error of fa_calib_motion_estimate. */
int fa_calib_propagate(const fa_calib *c, const fa_image *prev, const fa_image *next, fa_calib *out,
                       fa_calib_motion *m);

#endif
