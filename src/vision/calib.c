/*
 * calib.c - pitch calibration from point correspondences: the landmark
 * table, the --points parser, the solver (normalised DLT, then
 * Levenberg-Marquardt with radial distortion), the two mappings, checks,
 * and the JSON file (fa_calib_write_json: the file and the API answer share it).
 *
 * Why built this way:
 *   - DLT on Hartley-normalised coordinates is the textbook-stable linear
 *     estimate; its 9x9 normal matrix is small, so a Jacobi eigen solver
 *     gives both the solution (smallest eigenvector) and a condition number
 *     (largest / second-smallest eigenvalue) that detects degenerate sets.
 *   - The refinement minimises what a person can check by eye, the error in
 *     pixels, with a numeric Jacobian: at most 10 parameters and 128
 *     residuals, so a dense LM with Gaussian elimination costs microseconds.
 *     H is optimised in the normalised frame so all parameters are O(1).
 *   - Every result is validated geometrically (horizon side, orientation,
 *     distortion monotone over the picture) so a mislabelled point gives a
 *     sentence, not a silently wrong map.
 * The line refinement lives in calib_lines.c, the motion in calib_motion.c.
 */
#include "vision/calib.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* ------------------------------------------------------------ landmarks */

/* x = xa * L/2 + xb, y = ya * W/2 + yb */
typedef struct landmark {
    const char *name;
    double xa, xb, ya, yb;
} landmark;

/* The seven landmarks of one quarter: side S ("left" x < 0, s = -1), half T ("top" y > 0, t = +1). */
/* clang-format off */
#define SIDE_TB(S, s, T, t)                                                        \
    {"penalty_box_" S "_" T, s, -(s) * 16.5, 0, (t) * 20.16},                    \
    {"penalty_box_" S "_" T "_goal", s, 0, 0, (t) * 20.16},                      \
    {"goal_area_" S "_" T, s, -(s) * 5.5, 0, (t) * 9.16},                        \
    {"goal_area_" S "_" T "_goal", s, 0, 0, (t) * 9.16},                         \
    {"goal_post_" S "_" T, s, 0, 0, (t) * 3.66},                                 \
    {"penalty_arc_" S "_" T, s, -(s) * 16.5, 0, (t) * 7.3125},                   \
    {"corner_" T "_" S, s, 0, t, 0}
/* clang-format on */

static const landmark LANDMARKS[] = {
    {"centre_spot", 0, 0, 0, 0},
    {"centre_circle_top", 0, 0, 0, 9.15},
    {"centre_circle_bottom", 0, 0, 0, -9.15},
    {"centre_circle_left", 0, -9.15, 0, 0},
    {"centre_circle_right", 0, 9.15, 0, 0},
    {"halfway_top", 0, 0, 1, 0},
    {"halfway_bottom", 0, 0, -1, 0},
    {"penalty_spot_left", -1, 11, 0, 0},
    {"penalty_spot_right", 1, -11, 0, 0},
    {"penalty_arc_left", -1, 20.15, 0, 0},
    {"penalty_arc_right", 1, -20.15, 0, 0},
    SIDE_TB("left", -1, "top", 1),
    SIDE_TB("left", -1, "bottom", -1),
    SIDE_TB("right", 1, "top", 1),
    SIDE_TB("right", 1, "bottom", -1),
};
#define NLANDMARKS (sizeof LANDMARKS / sizeof LANDMARKS[0])

size_t fa_calib_landmark_count(void) { return NLANDMARKS; }

const char *fa_calib_landmark_name(size_t i) { return i < NLANDMARKS ? LANDMARKS[i].name : NULL; }

static fa_pitch pitch_or_default(const fa_pitch *p) {
    fa_pitch d = {FA_PITCH_DEFAULT_LENGTH, FA_PITCH_DEFAULT_WIDTH};
    if (p && p->length > 0 && p->width > 0) d = *p;
    return d;
}

int fa_calib_landmark(const fa_pitch *p, const char *name, double *x, double *y) {
    fa_pitch pp = pitch_or_default(p);
    for (size_t i = 0; i < NLANDMARKS; i++) {
        if (strcmp(LANDMARKS[i].name, name) != 0) continue;
        *x = LANDMARKS[i].xa * pp.length / 2 + LANDMARKS[i].xb;
        *y = LANDMARKS[i].ya * pp.width / 2 + LANDMARKS[i].yb;
        return 0;
    }
    return fa_err_set(FA_ENOTFOUND, "unknown pitch landmark '%s' (e.g. centre_spot, corner_top_left)", name);
}

/* ------------------------------------------------------------ --points */

/* Copies s[0..n) without surrounding spaces into out[cap]; 0 or -1 (too long). */
static int trim_copy(const char *s, size_t n, char *out, size_t cap) {
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= cap) return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* Parses "a,b" into two finite numbers; 0 or -1. */
static int parse_pair(const char *s, double *a, double *b) {
    const char *comma = strchr(s, ',');
    char t1[64], t2[64];
    if (!comma || strchr(comma + 1, ',')) return -1;
    if (trim_copy(s, (size_t)(comma - s), t1, sizeof t1) ||
        trim_copy(comma + 1, strlen(comma + 1), t2, sizeof t2))
        return -1;
    return fa_parse_double(t1, a) || fa_parse_double(t2, b) ? -1 : 0;
}

static int parse_item(const char *item, size_t k, const fa_pitch *pitch, fa_calib_point *pt) {
    const char *eq = strchr(item, '=');
    char lhs[128], rhs[128];
    if (!eq)
        return fa_err_set(FA_EINVAL, "--points: item %zu (`%s`): expected u,v=LANDMARK or u,v=x,y", k, item);
    if (trim_copy(item, (size_t)(eq - item), lhs, sizeof lhs) ||
        trim_copy(eq + 1, strlen(eq + 1), rhs, sizeof rhs))
        return fa_err_set(FA_EINVAL, "--points: item %zu (`%s`): too long", k, item);
    if (parse_pair(lhs, &pt->u, &pt->v))
        return fa_err_set(FA_EINVAL, "--points: item %zu (`%s`): pixel '%s' is not two numbers u,v", k, item,
                          lhs);
    pt->name[0] = '\0';
    if (rhs[0] && (isalpha((unsigned char)rhs[0]) || rhs[0] == '_')) {
        if (fa_calib_landmark(pitch, rhs, &pt->x, &pt->y))
            return fa_err_set(FA_EINVAL, "--points: item %zu (`%s`): unknown landmark '%s'", k, item, rhs);
        fa_strlcpy_utf8(pt->name, rhs, sizeof pt->name);
    } else if (parse_pair(rhs, &pt->x, &pt->y)) {
        return fa_err_set(FA_EINVAL,
                          "--points: item %zu (`%s`): pitch point '%s' is neither a landmark nor x,y", k,
                          item, rhs);
    }
    return 0;
}

int fa_calib_parse_points(const char *spec, const fa_pitch *pitch, fa_calib_point *pts, size_t max,
                          size_t *n) {
    *n = 0;
    if (!spec) return fa_err_set(FA_EINVAL, "--points: empty");
    size_t k = 0;
    for (const char *s = spec; *s;) {
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char item[256];
        k++;
        if (trim_copy(s, len, item, sizeof item))
            return fa_err_set(FA_EINVAL, "--points: item %zu: longer than %zu characters", k,
                              sizeof item - 1);
        s += len + (end ? 1 : 0);
        if (!item[0]) {
            if (!*s) break; /* empty trailing item */
            return fa_err_set(FA_EINVAL, "--points: item %zu: empty", k);
        }
        if (*n >= max) return fa_err_set(FA_ELIMIT, "--points: item %zu: more than %zu points", k, max);
        int rc = parse_item(item, k, pitch, &pts[*n]);
        if (rc) return rc;
        (*n)++;
    }
    if (*n == 0) return fa_err_set(FA_EINVAL, "--points: no points given");
    return 0;
}

/* ------------------------------------------------------------ small linear algebra */

static void mat3_mul(const double a[9], const double b[9], double out[9]) {
    double t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            t[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
    memcpy(out, t, sizeof t);
}

static double mat3_det(const double m[9]) {
    return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
           m[2] * (m[3] * m[7] - m[4] * m[6]);
}

/* 0, or -1 when singular. */
static int mat3_inv(const double m[9], double out[9]) {
    double d = mat3_det(m);
    double n = 0;
    for (int i = 0; i < 9; i++)
        n += m[i] * m[i];
    if (!(fabs(d) > 1e-14 * n * sqrt(n))) return -1;
    double t[9] = {m[4] * m[8] - m[5] * m[7], m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
                   m[5] * m[6] - m[3] * m[8], m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
                   m[3] * m[7] - m[4] * m[6], m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3]};
    for (int i = 0; i < 9; i++)
        out[i] = t[i] / d;
    return 0;
}

/* Applies m to (x, y, 1): returns w, fills (X/w, Y/w) when w != 0. */
static double mat3_apply(const double m[9], double x, double y, double *ox, double *oy) {
    double X = m[0] * x + m[1] * y + m[2], Y = m[3] * x + m[4] * y + m[5], W = m[6] * x + m[7] * y + m[8];
    *ox = W != 0 ? X / W : NAN;
    *oy = W != 0 ? Y / W : NAN;
    return W;
}

/* Jacobi eigen decomposition of the symmetric n x n matrix a (destroyed):
 * eigenvalues in ev[n], eigenvectors in the columns of v. */
static void jacobi_eigen(double *a, int n, double *ev, double *v) {
    for (int i = 0; i < n * n; i++)
        v[i] = (i % (n + 1)) == 0;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                if (i == j)
                    diag += a[i * n + j] * a[i * n + j];
                else
                    off += a[i * n + j] * a[i * n + j];
            }
        if (off <= 1e-30 * diag) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* rows p, q */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) {
                    double vkp = v[k * n + p], vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < n; i++)
        ev[i] = a[i * n + i];
}

/* Solves the n x n system a x = b (a, b destroyed) by Gaussian elimination
 * with partial pivoting; 0 or -1 when singular. */
static int solve_dense(double *a, double *b, int n, double *x) {
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[piv * n + c])) piv = r;
        if (!(fabs(a[piv * n + c]) > 1e-300)) return -1;
        if (piv != c) {
            for (int k = 0; k < n; k++) {
                double t = a[c * n + k];
                a[c * n + k] = a[piv * n + k];
                a[piv * n + k] = t;
            }
            double t = b[c];
            b[c] = b[piv];
            b[piv] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double f = a[r * n + c] / a[c * n + c];
            for (int k = c; k < n; k++)
                a[r * n + k] -= f * a[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = b[r];
        for (int k = r + 1; k < n; k++)
            s -= a[r * n + k] * x[k];
        x[r] = s / a[r * n + r];
    }
    return 0;
}

/* ------------------------------------------------------------ distortion */

static double dist_factor(double k1, double k2, double r) {
    double r2 = r * r;
    return 1 + k1 * r2 + k2 * r2 * r2;
}

/* Largest undistorted radius up to which r * factor(r) is increasing (20 when
 * it increases throughout). */
static double fold_radius(double k1, double k2) {
    for (double r = 0; r < 20; r += 0.001)
        if (1 + 3 * k1 * r * r + 5 * k2 * r * r * r * r <= 0) return r;
    return 20;
}

static void distort(const fa_calib *c, double px, double py, double *u, double *v) {
    double dx = px - c->cx, dy = py - c->cy;
    double f = dist_factor(c->k1, c->k2, sqrt(dx * dx + dy * dy) / c->norm);
    *u = c->cx + dx * f;
    *v = c->cy + dy * f;
}

/* Inverse of distort by Newton on the radius; 0, or -1 outside the valid range. */
static int undistort(const fa_calib *c, double u, double v, double *px, double *py) {
    double dx = u - c->cx, dy = v - c->cy;
    double rd = sqrt(dx * dx + dy * dy) / c->norm;
    if (rd == 0 || (c->k1 == 0 && c->k2 == 0)) {
        *px = u, *py = v;
        return 0;
    }
    double r = rd;
    for (int it = 0; it < 50; it++) {
        double f = r * dist_factor(c->k1, c->k2, r) - rd;
        double df = 1 + 3 * c->k1 * r * r + 5 * c->k2 * r * r * r * r;
        if (df <= 0) return -1;
        double step = f / df;
        r -= step;
        if (r < 0) r = 0;
        if (fabs(step) < 1e-13) break;
    }
    if (r > c->r_valid) return -1;
    *px = c->cx + dx * r / rd;
    *py = c->cy + dy * r / rd;
    return 0;
}

/* ------------------------------------------------------------ mappings */

int fa_calib_pitch_to_image(const fa_calib *c, double x, double y, double *u, double *v) {
    double px, py;
    double w = mat3_apply(c->H, x, y, &px, &py);
    if (!(w > 0)) {
        *u = *v = NAN;
        return FA_CALIB_ABOVE_HORIZON;
    }
    double rx = (px - c->cx) / c->norm, ry = (py - c->cy) / c->norm;
    if (sqrt(rx * rx + ry * ry) > c->r_valid) {
        *u = *v = NAN;
        return FA_CALIB_OFF_IMAGE;
    }
    distort(c, px, py, u, v);
    return (*u < 0 || *v < 0 || *u > c->img_w || *v > c->img_h) ? FA_CALIB_OFF_IMAGE : 0;
}

int fa_calib_image_to_pitch(const fa_calib *c, double u, double v, double *x, double *y) {
    double px, py;
    *x = *y = NAN;
    if (undistort(c, u, v, &px, &py)) return FA_CALIB_ABOVE_HORIZON | FA_CALIB_OFF_PITCH;
    double w = mat3_apply(c->Hinv, px, py, x, y);
    if (!(w > 1e-12)) {
        *x = *y = NAN;
        return FA_CALIB_ABOVE_HORIZON | FA_CALIB_OFF_PITCH;
    }
    if (fabs(*x) > c->pitch.length / 2 + 1 || fabs(*y) > c->pitch.width / 2 + 1) return FA_CALIB_OFF_PITCH;
    return 0;
}

int fa_calib_map(void *user, double u, double v, double *x, double *y) {
    return fa_calib_image_to_pitch((const fa_calib *)user, u, v, x, y);
}

/* ------------------------------------------------------------ checks */

static int point_label(const fa_calib_point *p, size_t i, char *out, size_t cap) {
    return snprintf(out, cap, "point %zu (%s)", i + 1, p->name[0] ? p->name : "x,y");
}

static int check_inputs(const fa_calib_point *pts, size_t n, int img_w, int img_h) {
    if (img_w <= 0 || img_h <= 0)
        return fa_err_set(FA_EINVAL, "calibration: image size %dx%d is not positive", img_w, img_h);
    if (n < 4) return fa_err_set(FA_EINVAL, "calibration: %zu points given, at least 4 are needed", n);
    if (n > FA_CALIB_MAX_POINTS)
        return fa_err_set(FA_ELIMIT, "calibration: %zu points given, at most %d", n, FA_CALIB_MAX_POINTS);
    char lab[96], lab2[96];
    for (size_t i = 0; i < n; i++) {
        const fa_calib_point *p = &pts[i];
        point_label(p, i, lab, sizeof lab);
        if (!isfinite(p->u) || !isfinite(p->v) || !isfinite(p->x) || !isfinite(p->y))
            return fa_err_set(FA_EINVAL, "calibration: %s: coordinates are not finite", lab);
        if (p->u < 0 || p->v < 0 || p->u > img_w || p->v > img_h)
            return fa_err_set(FA_EINVAL, "calibration: %s: pixel (%.1f, %.1f) is off the %dx%d image", lab,
                              p->u, p->v, img_w, img_h);
        for (size_t j = 0; j < i; j++) {
            point_label(&pts[j], j, lab2, sizeof lab2);
            if (hypot(p->u - pts[j].u, p->v - pts[j].v) < 1.0)
                return fa_err_set(FA_EINVAL, "calibration: %s and %s are on the same pixel", lab2, lab);
            if (hypot(p->x - pts[j].x, p->y - pts[j].y) < 0.01)
                return fa_err_set(FA_EINVAL, "calibration: %s and %s are the same pitch point", lab2, lab);
        }
    }
    return 0;
}

/* Ratio of the smaller to the larger spread of a 2-D point set (0: collinear). */
static double spread_ratio(const double *xy, size_t n) {
    double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < n; i++)
        mx += xy[2 * i], my += xy[2 * i + 1];
    mx /= (double)n, my /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double dx = xy[2 * i] - mx, dy = xy[2 * i + 1] - my;
        sxx += dx * dx, syy += dy * dy, sxy += dx * dy;
    }
    double tr = sxx + syy, det = sxx * syy - sxy * sxy;
    double disc = sqrt(fmax(tr * tr / 4 - det, 0));
    double hi = tr / 2 + disc, lo = tr / 2 - disc;
    return hi > 0 ? sqrt(fmax(lo, 0) / hi) : 0;
}

/* 1 when points a, b, c are within rel of a line (relative to their extent). */
static int collinear3(const double *a, const double *b, const double *c, double rel) {
    double area2 = fabs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]));
    double e = fmax(hypot(b[0] - a[0], b[1] - a[1]),
                    fmax(hypot(c[0] - a[0], c[1] - a[1]), hypot(c[0] - b[0], c[1] - b[1])));
    return area2 <= rel * e * e;
}

static int check_collinear(const fa_calib_point *pts, size_t n) {
    double pitch[2 * FA_CALIB_MAX_POINTS], img[2 * FA_CALIB_MAX_POINTS];
    for (size_t i = 0; i < n; i++) {
        pitch[2 * i] = pts[i].x, pitch[2 * i + 1] = pts[i].y;
        img[2 * i] = pts[i].u, img[2 * i + 1] = pts[i].v;
    }
    if (spread_ratio(pitch, n) < 1e-3)
        return fa_err_set(FA_EINVAL, "calibration: the %zu pitch points are collinear", n);
    if (spread_ratio(img, n) < 1e-3)
        return fa_err_set(FA_EINVAL, "calibration: the %zu image points are collinear", n);
    if (n != 4) return 0;
    for (size_t i = 0; i < 4; i++) { /* leave out point i */
        size_t k[3], m = 0;
        for (size_t j = 0; j < 4; j++)
            if (j != i) k[m++] = j;
        const double *set[2] = {pitch, img};
        for (int s = 0; s < 2; s++)
            if (collinear3(set[s] + 2 * k[0], set[s] + 2 * k[1], set[s] + 2 * k[2], 1e-3))
                return fa_err_set(FA_EINVAL,
                                  "calibration: %s points %zu, %zu and %zu are collinear (4 points need "
                                  "3 of them never on one line)",
                                  s ? "image" : "pitch", k[0] + 1, k[1] + 1, k[2] + 1);
    }
    return 0;
}

/* Sign of the third homogeneous coordinate of H at (x, y). */
static double w_at(const double H[9], double x, double y) { return H[6] * x + H[7] * y + H[8]; }

static int check_geometry(const fa_calib *c) {
    char lab[96];
    for (size_t i = 0; i < c->npoints; i++)
        if (!(w_at(c->H, c->points[i].x, c->points[i].y) > 0)) {
            point_label(&c->points[i], i, lab, sizeof lab);
            return fa_err_set(FA_EINVAL,
                              "calibration: %s lies behind the horizon of the fitted homography "
                              "(points mislabelled or on both sides of the horizon)",
                              lab);
        }
    double bx, by, px, py;
    if (undistort(c, c->img_w / 2.0, c->img_h - 1.0, &px, &py) ||
        !(mat3_apply(c->Hinv, px, py, &bx, &by) > 0))
        return fa_err_set(FA_EINVAL,
                          "calibration: the homography maps the bottom of the image behind the horizon "
                          "(camera upside down or points mislabelled)");
    if (mat3_det(c->H) > 0)
        return fa_err_set(FA_EINVAL,
                          "calibration: the homography flips orientation (the pitch is seen mirrored: "
                          "top/bottom or left/right of the landmarks swapped?)");
    double rx = fmax(c->cx, c->img_w - c->cx) / c->norm, ry = fmax(c->cy, c->img_h - c->cy) / c->norm;
    double rcorner = sqrt(rx * rx + ry * ry);
    if (c->r_valid * dist_factor(c->k1, c->k2, c->r_valid) < rcorner)
        return fa_err_set(FA_EINVAL,
                          "calibration: lens distortion k1=%g k2=%g folds inside the image (radius %.3f)",
                          c->k1, c->k2, c->r_valid);
    return 0;
}

static void compute_errors(fa_calib *c) {
    double s_px = 0, s_m = 0;
    c->max_px = c->max_m = 0;
    for (size_t i = 0; i < c->npoints; i++) {
        const fa_calib_point *p = &c->points[i];
        double u, v, x, y;
        fa_calib_pitch_to_image(c, p->x, p->y, &u, &v);
        fa_calib_image_to_pitch(c, p->u, p->v, &x, &y);
        double e_px = hypot(u - p->u, v - p->v), e_m = hypot(x - p->x, y - p->y);
        if (!isfinite(e_px)) e_px = INFINITY;
        if (!isfinite(e_m)) e_m = INFINITY;
        s_px += e_px * e_px, s_m += e_m * e_m;
        c->max_px = fmax(c->max_px, e_px), c->max_m = fmax(c->max_m, e_m);
    }
    double n = c->npoints ? (double)c->npoints : 1;
    c->rms_px = sqrt(s_px / n), c->rms_m = sqrt(s_m / n);
}

int fa_calib_set(fa_calib *c, const double H[9], double k1, double k2) {
    double h[9], norm = 0, wsum = 0;
    for (int i = 0; i < 9; i++)
        norm += H[i] * H[i];
    norm = sqrt(norm);
    if (!(norm > 0) || !isfinite(norm) || !isfinite(k1) || !isfinite(k2))
        return fa_err_set(FA_EINVAL, "calibration: homography or distortion is not finite or zero");
    for (size_t i = 0; i < c->npoints; i++)
        wsum += w_at(H, c->points[i].x, c->points[i].y);
    if (c->npoints == 0) wsum = w_at(H, 0, 0);
    for (int i = 0; i < 9; i++)
        h[i] = H[i] / norm * (wsum < 0 ? -1 : 1);
    if (mat3_inv(h, c->Hinv))
        return fa_err_set(FA_EINVAL, "calibration: the homography is singular (degenerate points)");
    memcpy(c->H, h, sizeof h);
    c->k1 = k1, c->k2 = k2;
    c->r_valid = fold_radius(k1, k2);
    int rc = check_geometry(c);
    if (rc) return rc;
    compute_errors(c);
    return 0;
}

int fa_calib_rescale(fa_calib *c, int w, int h) {
    if (w <= 0 || h <= 0) return fa_err_set(FA_EINVAL, "calibration: picture size %dx%d is not positive", w, h);
    double sx = (double)w / c->img_w, sy = (double)h / c->img_h;
    if (fabs(sx / sy - 1) > 0.01)
        return fa_err_set(FA_EINVAL, "calibration: made for %dx%d pictures, cannot be scaled to %dx%d (aspect ratio)",
                          c->img_w, c->img_h, w, h);
    fa_calib out = *c;
    const double S[9] = {sx, 0, 0, 0, sy, 0, 0, 0, 1};
    double H[9];
    mat3_mul(S, c->H, H);
    out.img_w = w, out.img_h = h;
    out.cx = w / 2.0, out.cy = h / 2.0;
    out.norm = hypot(w, h) / 2;
    for (size_t i = 0; i < out.npoints; i++)
        out.points[i].u *= sx, out.points[i].v *= sy;
    int rc = fa_calib_set(&out, H, c->k1, c->k2);
    if (rc) return rc;
    *c = out;
    return 0;
}

/* ------------------------------------------------------------ solver */

/* Hartley normalisation of n 2-D points: T maps them to centroid 0, mean
 * distance sqrt(2). */
static void hartley(const double *xy, size_t n, double T[9]) {
    double mx = 0, my = 0, d = 0;
    for (size_t i = 0; i < n; i++)
        mx += xy[2 * i], my += xy[2 * i + 1];
    mx /= (double)n, my /= (double)n;
    for (size_t i = 0; i < n; i++)
        d += hypot(xy[2 * i] - mx, xy[2 * i + 1] - my);
    double s = d > 0 ? sqrt(2.0) * (double)n / d : 1;
    double t[9] = {s, 0, -s * mx, 0, s, -s * my, 0, 0, 1};
    memcpy(T, t, sizeof t);
}

typedef struct problem {
    const fa_calib_point *pts;
    size_t n;
    double Ti_inv[9], Tp[9]; /* ideal pixels = Ti_inv * Hn * Tp * pitch */
    fa_calib c;              /* distortion centre / norm, and the working k1, k2 */
    int fit_k;
} problem;

static void params_to_H(const problem *pb, const double *prm, double H[9]) {
    double hn[9] = {prm[0], prm[1], prm[2], prm[3], prm[4], prm[5], prm[6], prm[7], 1};
    mat3_mul(pb->Ti_inv, hn, H);
    mat3_mul(H, pb->Tp, H);
}

/* Residuals in pixels (2n); 0, or -1 when a point falls behind the camera. */
static int residuals(const problem *pb, const double *prm, double *res) {
    fa_calib c = pb->c;
    params_to_H(pb, prm, c.H);
    if (pb->fit_k) c.k1 = prm[8], c.k2 = prm[9];
    for (size_t i = 0; i < pb->n; i++) {
        double px, py, u, v;
        if (!(mat3_apply(c.H, pb->pts[i].x, pb->pts[i].y, &px, &py) > 0)) return -1;
        distort(&c, px, py, &u, &v);
        res[2 * i] = u - pb->pts[i].u;
        res[2 * i + 1] = v - pb->pts[i].v;
    }
    return 0;
}

static double sumsq(const double *r, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += r[i] * r[i];
    return s;
}

/* Levenberg-Marquardt on prm[np] (numeric central-difference Jacobian). */
static void lm_solve(const problem *pb, double *prm, int np) {
    size_t m = 2 * pb->n;
    double res[2 * FA_CALIB_MAX_POINTS], rp[2 * FA_CALIB_MAX_POINTS], rm[2 * FA_CALIB_MAX_POINTS];
    double J[2 * FA_CALIB_MAX_POINTS * 10];
    double lambda = 1e-3;
    if (residuals(pb, prm, res)) return;
    double cost = sumsq(res, m);
    for (int it = 0; it < 300 && lambda < 1e12; it++) {
        for (int j = 0; j < np; j++) {
            double save = prm[j], h = 1e-6 * fmax(1.0, fabs(save));
            prm[j] = save + h;
            int bad = residuals(pb, prm, rp);
            prm[j] = save - h;
            bad |= residuals(pb, prm, rm);
            prm[j] = save;
            if (bad) return;
            for (size_t i = 0; i < m; i++)
                J[i * (size_t)np + (size_t)j] = (rp[i] - rm[i]) / (2 * h);
        }
        double A[100], g[10], A2[100], g2[10], step[10], trial[10];
        for (int a = 0; a < np; a++) {
            g[a] = 0;
            for (size_t i = 0; i < m; i++)
                g[a] -= J[i * (size_t)np + (size_t)a] * res[i];
            for (int b = 0; b < np; b++) {
                double s = 0;
                for (size_t i = 0; i < m; i++)
                    s += J[i * (size_t)np + (size_t)a] * J[i * (size_t)np + (size_t)b];
                A[a * np + b] = s;
            }
        }
        int improved = 0;
        while (!improved && lambda < 1e12) {
            memcpy(A2, A, sizeof(double) * (size_t)(np * np));
            memcpy(g2, g, sizeof(double) * (size_t)np);
            for (int a = 0; a < np; a++)
                A2[a * np + a] += lambda * (A[a * np + a] + 1e-12);
            if (solve_dense(A2, g2, np, step)) {
                lambda *= 10;
                continue;
            }
            for (int a = 0; a < np; a++)
                trial[a] = prm[a] + step[a];
            double tc = residuals(pb, trial, rp) ? INFINITY : sumsq(rp, m);
            if (tc < cost) {
                double gain = cost - tc;
                memcpy(prm, trial, sizeof(double) * (size_t)np);
                memcpy(res, rp, sizeof(double) * m);
                cost = tc;
                lambda = fmax(lambda / 10, 1e-12);
                improved = 1;
                if (gain < 1e-14 * (cost + 1e-30)) return;
            } else {
                lambda *= 10;
            }
        }
    }
}

/* Normalised DLT on the undistorted pixels; fills Hn (normalised frame). */
static int dlt(const problem *pb, const double *ideal, double max_cond, double Hn[9]) {
    double M[81] = {0}, ev[9], V[81];
    for (size_t i = 0; i < pb->n; i++) {
        double x, y, u, v;
        double Ti[9];
        mat3_apply(pb->Tp, pb->pts[i].x, pb->pts[i].y, &x, &y);
        mat3_inv(pb->Ti_inv, Ti);
        mat3_apply(Ti, ideal[2 * i], ideal[2 * i + 1], &u, &v);
        double r1[9] = {-x, -y, -1, 0, 0, 0, u * x, u * y, u};
        double r2[9] = {0, 0, 0, -x, -y, -1, v * x, v * y, v};
        for (int a = 0; a < 9; a++)
            for (int b = 0; b < 9; b++)
                M[a * 9 + b] += r1[a] * r1[b] + r2[a] * r2[b];
    }
    jacobi_eigen(M, 9, ev, V);
    int lo = 0, lo2 = -1, hi = 0;
    for (int i = 1; i < 9; i++) {
        if (ev[i] < ev[lo]) lo = i;
        if (ev[i] > ev[hi]) hi = i;
    }
    for (int i = 0; i < 9; i++)
        if (i != lo && (lo2 < 0 || ev[i] < ev[lo2])) lo2 = i;
    double cond = ev[lo2] > 0 ? sqrt(ev[hi] / ev[lo2]) : INFINITY;
    if (!(cond <= max_cond))
        return fa_err_set(FA_EINVAL,
                          "calibration: the points are degenerate (DLT condition number %.3g > %.3g): "
                          "spread them over the pitch, not along one line",
                          cond, max_cond);
    for (int i = 0; i < 9; i++)
        Hn[i] = V[i * 9 + lo];
    return 0;
}

void fa_calib_opts_default(fa_calib_opts *o) {
    memset(o, 0, sizeof *o);
    o->fit_distortion = -1;
    o->min_points_distortion = 6;
    o->max_condition = 1e7;
}

static void init_calib(fa_calib *c, const fa_calib_point *pts, size_t n, int img_w, int img_h,
                       const fa_pitch *pitch) {
    memset(c, 0, sizeof *c);
    c->img_w = img_w, c->img_h = img_h;
    c->pitch = pitch_or_default(pitch);
    c->cx = img_w / 2.0, c->cy = img_h / 2.0;
    c->norm = hypot(img_w, img_h) / 2;
    c->r_valid = 20;
    c->npoints = n;
    memcpy(c->points, pts, n * sizeof *pts);
}

static int solve_checked(const fa_calib_point *pts, size_t n, const fa_calib_opts *o, fa_calib *out) {
    problem pb = {.pts = pts, .n = n, .c = *out};
    double ideal[2 * FA_CALIB_MAX_POINTS] = {0}, pitchxy[2 * FA_CALIB_MAX_POINTS] = {0}, Ti[9], Hn[9];
    pb.c.k1 = o->k1, pb.c.k2 = o->k2, pb.c.r_valid = fold_radius(o->k1, o->k2);
    for (size_t i = 0; i < n; i++) {
        if (undistort(&pb.c, pts[i].u, pts[i].v, &ideal[2 * i], &ideal[2 * i + 1]))
            return fa_err_set(FA_EINVAL,
                              "calibration: point %zu is outside the range of distortion k1=%g k2=%g", i + 1,
                              o->k1, o->k2);
        pitchxy[2 * i] = pts[i].x, pitchxy[2 * i + 1] = pts[i].y;
    }
    hartley(ideal, n, Ti);
    hartley(pitchxy, n, pb.Tp);
    mat3_inv(Ti, pb.Ti_inv);
    int rc = dlt(&pb, ideal, o->max_condition, Hn);
    if (rc) return rc;
    if (!(fabs(Hn[8]) > 1e-9))
        return fa_err_set(FA_EINVAL, "calibration: degenerate homography (points mislabelled?)");
    double prm[10];
    for (int i = 0; i < 8; i++)
        prm[i] = Hn[i] / Hn[8];
    prm[8] = o->k1, prm[9] = o->k2;
    int fit = o->fit_distortion > 0 || (o->fit_distortion < 0 && n >= o->min_points_distortion);
    pb.fit_k = 0;
    lm_solve(&pb, prm, 8); /* H first with the distortion fixed, then all together */
    if (fit) {
        pb.fit_k = 1;
        lm_solve(&pb, prm, 10);
    }
    double H[9];
    params_to_H(&pb, prm, H);
    out->distortion_fitted = fit;
    return fa_calib_set(out, H, prm[8], prm[9]);
}

int fa_calib_solve(const fa_calib_point *pts, size_t n, int img_w, int img_h, const fa_pitch *pitch,
                   const fa_calib_opts *opts, fa_calib *out) {
    fa_calib_opts o;
    if (opts)
        o = *opts;
    else
        fa_calib_opts_default(&o);
    memset(out, 0, sizeof *out);
    int rc = check_inputs(pts, n, img_w, img_h);
    if (!rc) rc = check_collinear(pts, n);
    if (rc) return rc;
    init_calib(out, pts, n, img_w, img_h, pitch);
    rc = solve_checked(pts, n, &o, out);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

/* ------------------------------------------------------------ files */

static int write_points(fa_buf *b, const fa_calib *c) {
    int rc = fa_buf_puts(b, "  \"points\": [");
    for (size_t i = 0; i < c->npoints && !rc; i++) {
        const fa_calib_point *p = &c->points[i];
        rc |= fa_buf_puts(b, i ? ",\n    {\"u\": " : "\n    {\"u\": ");
        rc |= fa_json_write_num(b, p->u);
        rc |= fa_buf_puts(b, ", \"v\": ");
        rc |= fa_json_write_num(b, p->v);
        if (p->name[0]) {
            rc |= fa_buf_puts(b, ", \"name\": ");
            rc |= fa_json_write_str(b, p->name);
        }
        rc |= fa_buf_puts(b, ", \"x\": ");
        rc |= fa_json_write_num(b, p->x);
        rc |= fa_buf_puts(b, ", \"y\": ");
        rc |= fa_json_write_num(b, p->y);
        rc |= fa_buf_putc(b, '}');
    }
    return rc | fa_buf_puts(b, "\n  ],\n");
}

static int write_kv(fa_buf *b, const char *key, double v, const char *sep) {
    return fa_buf_printf(b, "\"%s\": ", key) | fa_json_write_num(b, v) | fa_buf_puts(b, sep);
}

static int format_calib(fa_buf *b, const fa_calib *c, const char *note) {
    int rc = fa_buf_printf(b, "{\n  \"image\": {\"width\": %d, \"height\": %d},\n  \"pitch\": {", c->img_w,
                           c->img_h);
    rc |= write_kv(b, "length", c->pitch.length, ", ") | write_kv(b, "width", c->pitch.width, "},\n");
    rc |= write_points(b, c);
    rc |= fa_buf_puts(b, "  \"H\": [");
    for (int i = 0; i < 9; i++)
        rc |= fa_json_write_num(b, c->H[i]) | fa_buf_puts(b, i < 8 ? ", " : "],\n");
    rc |= fa_buf_puts(b, "  \"distortion\": {") | write_kv(b, "k1", c->k1, ", ") |
          write_kv(b, "k2", c->k2, ", ");
    rc |=
        write_kv(b, "cx", c->cx, ", ") | write_kv(b, "cy", c->cy, ", ") | write_kv(b, "norm", c->norm, ", ");
    rc |= fa_buf_printf(b, "\"fitted\": %s},\n", c->distortion_fitted ? "true" : "false");
    rc |= fa_buf_puts(b, "  \"errors\": {") | write_kv(b, "rms_px", c->rms_px, ", ") |
          write_kv(b, "max_px", c->max_px, ", ");
    rc |= write_kv(b, "rms_m", c->rms_m, ", ") | write_kv(b, "max_m", c->max_m, "}");
    if (note) rc |= fa_buf_puts(b, ",\n  \"note\": ") | fa_json_write_str(b, note);
    return rc | fa_buf_puts(b, "\n}\n");
}

int fa_calib_write_json(const fa_calib *c, const char *note, fa_buf *out) {
    size_t len0 = out->len;
    if (format_calib(out, c, note) == 0) return 0;
    out->len = len0;
    return fa_err_set(FA_ENOMEM, "out of memory formatting the calibration");
}

int fa_calib_save(const fa_calib *c, const char *note, const char *path) {
    fa_buf b = {0};
    if (fa_calib_write_json(c, note, &b)) {
        fa_buf_free(&b);
        return fa_err_set(FA_ENOMEM, "%s: out of memory formatting the calibration", fa_path_base(path));
    }
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(b.data, 1, b.len, f) == b.len;
    if (f && fclose(f) != 0) ok = 0;
    fa_buf_free(&b);
    return ok ? 0 : fa_err_set(FA_EIO, "%s: cannot write the calibration file", fa_path_base(path));
}

static int load_point(const fa_json_reader *r, const fa_json_value *v, const fa_pitch *pitch, size_t i,
                      fa_calib_point *p) {
    const char *name = NULL;
    int rc;
    if (v->type != FA_JSON_OBJECT) return fa_json_error(r, v, "points[%zu]: expected an object", i);
    if ((rc = fa_json_req_num(r, v, "u", &p->u)) || (rc = fa_json_req_num(r, v, "v", &p->v))) return rc;
    if ((rc = fa_json_opt_str(r, v, "name", &name)) < 0) return rc;
    p->name[0] = '\0';
    if (name) {
        if (fa_calib_landmark(pitch, name, &p->x, &p->y))
            return fa_json_error(r, v, "points[%zu]: unknown landmark '%s'", i, name);
        fa_strlcpy_utf8(p->name, name, sizeof p->name);
        return 0;
    }
    if ((rc = fa_json_req_num(r, v, "x", &p->x)) || (rc = fa_json_req_num(r, v, "y", &p->y))) return rc;
    return 0;
}

static int load_distortion(const fa_json_reader *r, const fa_json_value *root, fa_calib *c, double *k1,
                           double *k2) {
    const fa_json_value *d;
    int rc = fa_json_opt_obj(r, root, "distortion", &d);
    *k1 = *k2 = 0;
    if (rc <= 0) return rc;
    double v;
    if ((rc = fa_json_opt_num(r, d, "k1", &v)) < 0) return rc;
    if (rc > 0) *k1 = v;
    if ((rc = fa_json_opt_num(r, d, "k2", &v)) < 0) return rc;
    if (rc > 0) *k2 = v;
    if ((rc = fa_json_opt_num(r, d, "cx", &v)) < 0) return rc;
    if (rc > 0) c->cx = v;
    if ((rc = fa_json_opt_num(r, d, "cy", &v)) < 0) return rc;
    if (rc > 0) c->cy = v;
    if ((rc = fa_json_opt_num(r, d, "norm", &v)) < 0) return rc;
    if (rc > 0) {
        if (!(v > 0)) return fa_json_error(r, d, "field 'norm': expected a positive number");
        c->norm = v;
    }
    int fitted = 0;
    if ((rc = fa_json_opt_bool(r, d, "fitted", &fitted)) < 0) return rc;
    c->distortion_fitted = fitted;
    return 0;
}

static int load_root(const fa_json_reader *r, const fa_json_value *root, fa_calib *c) {
    const fa_json_value *img, *pv, *pts, *Hv;
    int64_t w, h;
    fa_pitch pitch = {0, 0};
    fa_calib_point points[FA_CALIB_MAX_POINTS];
    int rc;
    if (root->type != FA_JSON_OBJECT) return fa_json_error(r, root, "expected a calibration object");
    if ((rc = fa_json_req_obj(r, root, "image", &img)) ||
        (rc = fa_json_req_int(r, img, "width", 1, 65535, &w)) ||
        (rc = fa_json_req_int(r, img, "height", 1, 65535, &h)))
        return rc;
    if ((rc = fa_json_opt_obj(r, root, "pitch", &pv)) < 0) return rc;
    if (pv && ((rc = fa_json_req_num(r, pv, "length", &pitch.length)) ||
               (rc = fa_json_req_num(r, pv, "width", &pitch.width))))
        return rc;
    if (pv && !(pitch.length > 0 && pitch.width > 0 && pitch.length < 1000 && pitch.width < 1000))
        return fa_json_error(r, pv, "pitch size %g x %g is not plausible", pitch.length, pitch.width);
    if ((rc = fa_json_req_arr(r, root, "points", &pts))) return rc;
    if (pts->u.arr.n > FA_CALIB_MAX_POINTS)
        return fa_json_error(r, pts, "%zu points, at most %d", pts->u.arr.n, FA_CALIB_MAX_POINTS);
    for (size_t i = 0; i < pts->u.arr.n; i++)
        if ((rc = load_point(r, pts->u.arr.items[i], &pitch, i, &points[i]))) return rc;
    if ((rc = fa_json_opt_arr(r, root, "H", &Hv)) < 0) return rc;
    if (!Hv) return fa_calib_solve(points, pts->u.arr.n, (int)w, (int)h, &pitch, NULL, c);
    double H[9], k1, k2;
    if (Hv->u.arr.n != 9) return fa_json_error(r, Hv, "field 'H': expected 9 numbers, got %zu", Hv->u.arr.n);
    for (int i = 0; i < 9; i++) {
        if (Hv->u.arr.items[i]->type != FA_JSON_NUMBER)
            return fa_json_error(r, Hv->u.arr.items[i], "H[%d]: expected a number", i);
        H[i] = Hv->u.arr.items[i]->u.num;
    }
    init_calib(c, points, pts->u.arr.n, (int)w, (int)h, &pitch);
    if ((rc = load_distortion(r, root, c, &k1, &k2))) return rc;
    if ((rc = fa_calib_set(c, H, k1, k2))) return fa_json_error(r, Hv, "%s", fa_err_msg());
    return 0;
}

/* Reads a calibration from reader r (opened on path, for messages). */
static int load_reader(fa_json_reader *r, const char *path, fa_calib *c) {
    memset(c, 0, sizeof *c);
    fa_arena *a = fa_arena_new(16 * 1024);
    if (!a) {
        fa_json_close(r);
        return FA_ENOMEM;
    }
    fa_json_value *root = NULL;
    int rc = r ? fa_json_read_value(r, a, &root) : (fa_err_code() ? fa_err_code() : FA_EIO);
    if (!rc && !root) rc = fa_err_set(FA_EINVAL, "%s: empty file", fa_path_base(path));
    if (!rc) rc = load_root(r, root, c);
    if (rc && !strstr(fa_err_msg(), fa_path_base(path))) fa_err_prefix("%s", fa_path_base(path));
    if (rc) memset(c, 0, sizeof *c);
    fa_json_close(r);
    fa_arena_free(a);
    return rc;
}

int fa_calib_load(const char *path, fa_calib *c) { return load_reader(fa_json_open_file(path, 0), path, c); }

int fa_calib_load_mem(const char *name, const char *data, size_t len, fa_calib *c) {
    return load_reader(fa_json_open_mem(name, data, len, 0), name, c);
}
