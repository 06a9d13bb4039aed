/*
 * kalman.c - constant-velocity Kalman filter on (cx, cy, aspect, height).
 *
 * ByteTrack writes this filter with 8x8 matrices. Its motion matrix only
 * couples each coordinate with its own velocity, the measurement picks the
 * four positions, and every noise matrix (initial, process, measurement) is
 * diagonal; so the covariance never gains a term between two different
 * coordinates and is exactly four independent 2x2 blocks. Running the four
 * 1D filters below is the same arithmetic without the zeros, and needs no
 * matrix inverse (the innovation covariance is diagonal).
 *
 * Noise, as ByteTrack: standard deviations are fractions of the box
 * height h (position 1/20, velocity 1/160), so a large near box may move
 * more pixels than a small far one; the aspect ratio's are fixed (1e-2
 * position, 1e-5 velocity, 1e-1 measured). The process noise uses the
 * height before the step, the measurement noise the predicted height.
 */
#include <math.h>

#include "vision/kalman.h"

#define WEIGHT_POSITION (1.0 / 20)
#define WEIGHT_VELOCITY (1.0 / 160)

/* Position / velocity standard deviation of coordinate k for height h. */
static double std_position(int k, double h, double aspect_std) {
    return k == 2 ? aspect_std : WEIGHT_POSITION * h;
}

static double std_velocity(int k, double h) { return k == 2 ? 1e-5 : WEIGHT_VELOCITY * h; }

void fa_kalman_measure(const float box[4], double z[4]) {
    double w = (double)box[2] - box[0], h = (double)box[3] - box[1];
    z[0] = ((double)box[0] + box[2]) / 2;
    z[1] = ((double)box[1] + box[3]) / 2;
    z[2] = h > 0 ? w / h : 0;
    z[3] = h;
}

void fa_kalman_init(fa_kalman *k, const double z[4]) {
    double h = z[3];
    for (int i = 0; i < 4; i++) {
        double sp = 2 * std_position(i, h, 1e-2), sv = 10 * std_velocity(i, h);
        k->x[i] = z[i];
        k->v[i] = 0;
        k->p[i][0] = sp * sp;
        k->p[i][1] = 0;
        k->p[i][2] = sv * sv;
    }
}

void fa_kalman_predict(fa_kalman *k) {
    double h = k->x[3];
    for (int i = 0; i < 4; i++) {
        double qp = std_position(i, h, 1e-2), qv = std_velocity(i, h);
        double *p = k->p[i];
        k->x[i] += k->v[i];
        p[0] += 2 * p[1] + p[2] + qp * qp;
        p[1] += p[2];
        p[2] += qv * qv;
    }
}

/* Innovation variance of coordinate i (predicted position variance + measurement noise). */
static double innovation_var(const fa_kalman *k, int i) {
    double r = std_position(i, k->x[3], 1e-1);
    return k->p[i][0] + r * r;
}

void fa_kalman_update(fa_kalman *k, const double z[4]) {
    double s[4];
    for (int i = 0; i < 4; i++)
        s[i] = innovation_var(k, i);
    for (int i = 0; i < 4; i++) {
        double *p = k->p[i], y = z[i] - k->x[i];
        double gain_p = p[0] / s[i], gain_v = p[1] / s[i];
        k->x[i] += gain_p * y;
        k->v[i] += gain_v * y;
        double pp = p[0], pv = p[1];
        p[0] = pp - pp * pp / s[i];
        p[1] = pv - pp * pv / s[i];
        p[2] -= pv * pv / s[i];
    }
}

double fa_kalman_distance(const fa_kalman *k, const double z[4]) {
    double d = 0;
    for (int i = 0; i < 4; i++) {
        double y = z[i] - k->x[i];
        d += y * y / innovation_var(k, i);
    }
    return d;
}

void fa_kalman_box(const fa_kalman *k, float box[4]) {
    double h = k->x[3], w = k->x[2] * h;
    box[0] = (float)(k->x[0] - w / 2);
    box[1] = (float)(k->x[1] - h / 2);
    box[2] = (float)(k->x[0] + w / 2);
    box[3] = (float)(k->x[1] + h / 2);
}
