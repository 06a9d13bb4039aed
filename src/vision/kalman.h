/*
 * kalman.h - the constant-velocity Kalman filter of the tracker, on a box
 * state (centre x, centre y, aspect w/h, height) and its four velocities,
 * with ByteTrack's (and DeepSORT's) noise model: position noise 1/20 and
 * velocity noise 1/160 of the box height, aspect noise fixed.
 *
 * One step is one call to fa_kalman_predict (one processed frame).
 */
#ifndef FA_VISION_KALMAN_H
#define FA_VISION_KALMAN_H

/* The state: mean x[4] (cx, cy, a, h) and velocities v[4] per step, and per
 * coordinate the 2x2 covariance of (position, velocity) as p[k] = {pp, pv,
 * vv}. The full 8x8 covariance of ByteTrack stays block-diagonal in these
 * four blocks (see kalman.c), so this is the same filter. */
typedef struct fa_kalman {
    double x[4], v[4];
    double p[4][3];
} fa_kalman;

/* Chi-square 0.95 quantile with 4 degrees of freedom: the usual gate on
 * fa_kalman_distance. */
#define FA_KALMAN_CHI2_95 9.4877

/* Box x1,y1,x2,y2 -> measurement (cx, cy, w/h, h). h must be > 0. */
void fa_kalman_measure(const float box[4], double z[4]);
/* Starts the state at measurement z (h > 0) with zero velocity and
 * ByteTrack's initial uncertainty (2 x position std, 10 x velocity std). */
void fa_kalman_init(fa_kalman *k, const double z[4]);
/* Advances one step: x += v, covariance grown by the process noise. */
void fa_kalman_predict(fa_kalman *k);
/* Corrects with measurement z. */
void fa_kalman_update(fa_kalman *k, const double z[4]);
/* Squared Mahalanobis distance of z from the predicted measurement
 * (4 degrees of freedom; compare with FA_KALMAN_CHI2_95). */
double fa_kalman_distance(const fa_kalman *k, const double z[4]);
/* The state's box, x1,y1,x2,y2. */
void fa_kalman_box(const fa_kalman *k, float box[4]);

#endif
