/*
 * test_calib.c - pitch calibration (src/vision/calib*.c): the landmark table,
 * the --points parser, the solver on synthetic cameras (exact and noisy
 * points, with and without lens distortion), every rejection, the mappings'
 * flags, the JSON file, line refinement and motion on synthetic pictures,
 * and the real SoccerTrack left-camera clip with the hand-read fixture
 * tests/fixtures/soccertrack_left_calib.json.
 *
 * The synthetic camera is a physical pinhole: f = 1500 px, 1920x1080,
 * standing at (-25, -55) m, 10 m high, looking at (-25, 0) on the ground,
 * so the horizon crosses the picture (v ~ 240) and the left half of the
 * pitch is seen in perspective like the real clip.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"
#include "vision/calib.h"

#define IMG_W 1920
#define IMG_H 1080

/* ------------------------------------------------------------ helpers */

/* H = K [r1 r2 t] of the synthetic camera (pitch -> ideal pixels). */
static void synthetic_H(double H[9]) {
    const double C[3] = {-25, -55, 10}, T[3] = {-25, 0, 0}, f = 1500;
    double z[3] = {T[0] - C[0], T[1] - C[1], T[2] - C[2]};
    double zn = sqrt(z[0] * z[0] + z[1] * z[1] + z[2] * z[2]);
    for (int i = 0; i < 3; i++)
        z[i] /= zn;
    double x[3] = {z[1], -z[0], 0}; /* z x up */
    double xn = hypot(x[0], x[1]);
    x[0] /= xn, x[1] /= xn;
    double y[3] = {z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]};
    const double *R[3] = {x, y, z};
    double t[3];
    for (int i = 0; i < 3; i++)
        t[i] = -(R[i][0] * C[0] + R[i][1] * C[1] + R[i][2] * C[2]);
    double K[9] = {f, 0, IMG_W / 2.0, 0, f, IMG_H / 2.0, 0, 0, 1};
    double M[9] = {R[0][0], R[0][1], t[0], R[1][0], R[1][1], t[1], R[2][0], R[2][1], t[2]};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            H[i * 3 + j] = K[i * 3] * M[j] + K[i * 3 + 1] * M[3 + j] + K[i * 3 + 2] * M[6 + j];
}

/* The true calibration (no points) with distortion k1, k2. */
static void synthetic_calib(fa_calib *c, double k1, double k2) {
    double H[9];
    memset(c, 0, sizeof *c);
    c->img_w = IMG_W, c->img_h = IMG_H;
    c->pitch.length = 105, c->pitch.width = 68;
    c->cx = IMG_W / 2.0, c->cy = IMG_H / 2.0, c->norm = hypot(IMG_W, IMG_H) / 2;
    synthetic_H(H);
    assert_int_equal(fa_calib_set(c, H, k1, k2), 0);
}

/* Deterministic N(0, 1) (LCG + Box-Muller). */
static double gauss(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    double a = ((*s >> 11) + 0.5) / 9007199254740992.0;
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    double b = ((*s >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(a)) * cos(2 * M_PI * b);
}

/* Every landmark the true camera sees 20 px inside the picture, with pixel
 * noise sigma; returns the count. */
static size_t visible_points(const fa_calib *truth, double sigma, fa_calib_point *pts, size_t max) {
    uint64_t seed = 12345;
    size_t n = 0;
    for (size_t i = 0; i < fa_calib_landmark_count() && n < max; i++) {
        fa_calib_point p = {0};
        const char *name = fa_calib_landmark_name(i);
        assert_int_equal(fa_calib_landmark(&truth->pitch, name, &p.x, &p.y), 0);
        if (fa_calib_pitch_to_image(truth, p.x, p.y, &p.u, &p.v)) continue;
        if (p.u < 20 || p.v < 20 || p.u > IMG_W - 20 || p.v > IMG_H - 20) continue;
        p.u += sigma * gauss(&seed), p.v += sigma * gauss(&seed);
        snprintf(p.name, sizeof p.name, "%s", name);
        pts[n++] = p;
    }
    return n;
}

/* Largest pixel distance between two calibrations over a 1 m grid of the
 * pitch points the truth sees inside the picture. */
static double grid_diff_px(const fa_calib *a, const fa_calib *b) {
    double worst = 0;
    for (double x = -52.5; x <= 52.5; x += 1)
        for (double y = -34; y <= 34; y += 1) {
            double u1, v1, u2, v2;
            if (fa_calib_pitch_to_image(a, x, y, &u1, &v1)) continue;
            if (fa_calib_pitch_to_image(b, x, y, &u2, &v2) & FA_CALIB_ABOVE_HORIZON) return INFINITY;
            worst = fmax(worst, hypot(u1 - u2, v1 - v2));
        }
    return worst;
}

static int solve_err(const fa_calib_point *pts, size_t n, const char *want) {
    fa_calib c;
    int rc = fa_calib_solve(pts, n, IMG_W, IMG_H, NULL, NULL, &c);
    if (rc != FA_EINVAL || !strstr(fa_err_msg(), want)) print_message("rc=%d msg=%s\n", rc, fa_err_msg());
    assert_int_equal(rc, FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), want));
    assert_int_equal(c.npoints, 0); /* zeroed on error */
    return rc;
}

/* ------------------------------------------------------------ landmarks and parsing */

static void test_landmarks(void **state) {
    (void)state;
    double x, y;
    fa_pitch small = {100, 64};
    assert_int_equal(fa_calib_landmark_count(), 39);
    for (size_t i = 0; i < fa_calib_landmark_count(); i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(fa_calib_landmark_name(i), fa_calib_landmark_name(j));
    assert_null(fa_calib_landmark_name(fa_calib_landmark_count()));
    struct {
        const char *name;
        double x, y;
    } want[] = {{"centre_spot", 0, 0},
                {"corner_top_left", -52.5, 34},
                {"corner_bottom_right", 52.5, -34},
                {"halfway_bottom", 0, -34},
                {"centre_circle_top", 0, 9.15},
                {"centre_circle_left", -9.15, 0},
                {"penalty_spot_left", -41.5, 0},
                {"penalty_arc_right", 32.35, 0},
                {"penalty_box_left_top", -36, 20.16},
                {"penalty_box_right_bottom_goal", 52.5, -20.16},
                {"goal_area_left_bottom", -47, -9.16},
                {"goal_area_right_top_goal", 52.5, 9.16},
                {"goal_post_left_bottom", -52.5, -3.66},
                {"penalty_arc_left_top", -36, 7.3125}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        assert_int_equal(fa_calib_landmark(NULL, want[i].name, &x, &y), 0);
        assert_true(fabs(x - want[i].x) < 1e-12 && fabs(y - want[i].y) < 1e-12);
    }
    assert_int_equal(fa_calib_landmark(&small, "corner_top_right", &x, &y), 0);
    assert_true(x == 50 && y == 32);
    assert_int_equal(fa_calib_landmark(&small, "penalty_box_left_top", &x, &y), 0);
    assert_true(fabs(x + 33.5) < 1e-12 && fabs(y - 20.16) < 1e-12);
    assert_int_equal(fa_calib_landmark(NULL, "corner_left_top", &x, &y), FA_ENOTFOUND);
    assert_non_null(strstr(fa_err_msg(), "unknown pitch landmark 'corner_left_top'"));
}

static void test_parse_points(void **state) {
    (void)state;
    fa_calib_point p[8];
    size_t n;
    assert_int_equal(fa_calib_parse_points(" 10,20=centre_spot; 30.5 , 40=corner_top_left;5,6=12.5,-30.2;",
                                           NULL, p, 8, &n),
                     0);
    assert_int_equal(n, 3);
    assert_true(p[0].u == 10 && p[0].v == 20 && p[0].x == 0 && p[0].y == 0);
    assert_string_equal(p[0].name, "centre_spot");
    assert_true(p[1].u == 30.5 && p[1].v == 40 && p[1].x == -52.5 && p[1].y == 34);
    assert_true(p[2].x == 12.5 && p[2].y == -30.2);
    assert_string_equal(p[2].name, "");
    fa_pitch small = {100, 64};
    assert_int_equal(fa_calib_parse_points("1,2=halfway_top", &small, p, 8, &n), 0);
    assert_true(n == 1 && p[0].y == 32);

    struct {
        const char *spec;
        int rc;
        const char *msg;
    } bad[] = {
        {"", FA_EINVAL, "--points: no points given"},
        {"1,2=centre_spot;;3,4=corner_top_left", FA_EINVAL, "--points: item 2: empty"},
        {"1,2=centre_spot;3,4", FA_EINVAL, "--points: item 2 (`3,4`): expected u,v=LANDMARK or u,v=x,y"},
        {"1,2=centre_spot;a,4=corner_top_left", FA_EINVAL,
         "item 2 (`a,4=corner_top_left`): pixel 'a,4' is not two numbers"},
        {"1=centre_spot", FA_EINVAL, "item 1 (`1=centre_spot`): pixel '1' is not two numbers u,v"},
        {"1,2,3=centre_spot", FA_EINVAL, "item 1"},
        {"1,2=centre_spot;3,4=5,6;7,8=penalty_spot", FA_EINVAL,
         "item 3 (`7,8=penalty_spot`): unknown landmark 'penalty_spot'"},
        {"1,2=5", FA_EINVAL, "item 1 (`1,2=5`): pitch point '5' is neither a landmark nor x,y"},
        {"1,2=5,nan", FA_EINVAL, "pitch point '5,nan'"},
        {"1,2=", FA_EINVAL, "item 1 (`1,2=`): pitch point '' is neither"},
        {"1,2=1,1;1,2=1,1;1,2=1,1;1,2=1,1;1,2=1,1;1,2=1,1;1,2=1,1;1,2=1,1;1,2=1,1", FA_ELIMIT,
         "item 9: more than 8 points"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = fa_calib_parse_points(bad[i].spec, NULL, p, 8, &n);
        if (rc != bad[i].rc || !strstr(fa_err_msg(), bad[i].msg))
            print_message("%s -> %s\n", bad[i].spec, fa_err_msg());
        assert_int_equal(rc, bad[i].rc);
        assert_non_null(strstr(fa_err_msg(), bad[i].msg));
    }
    char longspec[400];
    memset(longspec, '1', sizeof longspec - 1);
    longspec[sizeof longspec - 1] = '\0';
    assert_int_equal(fa_calib_parse_points(longspec, NULL, p, 8, &n), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "item 1: longer than 255 characters"));
}

/* ------------------------------------------------------------ solver, synthetic */

static void test_exact_four_points(void **state) {
    (void)state;
    fa_calib truth, c;
    synthetic_calib(&truth, 0, 0);
    fa_calib_point p[4];
    fa_calib_point *q = p;
    const char *names[] = {"penalty_box_left_top", "penalty_box_left_bottom", "centre_circle_top",
                           "centre_circle_bottom"};
    for (int i = 0; i < 4; i++, q++) {
        assert_int_equal(fa_calib_landmark(NULL, names[i], &q->x, &q->y), 0);
        assert_int_equal(fa_calib_pitch_to_image(&truth, q->x, q->y, &q->u, &q->v), 0);
        snprintf(q->name, sizeof q->name, "%s", names[i]);
    }
    assert_int_equal(fa_calib_solve(p, 4, IMG_W, IMG_H, NULL, NULL, &c), 0);
    assert_int_equal(c.distortion_fitted, 0);
    assert_true(c.k1 == 0 && c.k2 == 0);
    assert_true(c.rms_px < 1e-6 && c.max_m < 1e-6);
    assert_true(grid_diff_px(&truth, &c) < 1e-5);
    /* pitch -> image -> pitch on a grid, through the fa_pitch_map_fn face */
    for (double x = -50; x <= 0; x += 5)
        for (double y = -30; y <= 30; y += 5) {
            double u, v, bx, by;
            if (fa_calib_pitch_to_image(&c, x, y, &u, &v)) continue;
            assert_int_equal(fa_calib_map(&c, u, v, &bx, &by), 0);
            assert_true(hypot(bx - x, by - y) < 1e-6);
        }
}

static void test_distortion_noise_free(void **state) {
    (void)state;
    fa_calib truth, c;
    fa_calib_point p[FA_CALIB_MAX_POINTS];
    synthetic_calib(&truth, -0.2, 0.05);
    size_t n = visible_points(&truth, 0, p, FA_CALIB_MAX_POINTS);
    assert_int_equal(n, 20);
    assert_int_equal(fa_calib_solve(p, n, IMG_W, IMG_H, NULL, NULL, &c), 0);
    assert_int_equal(c.distortion_fitted, 1);
    print_message("noise-free: k1=%.6f k2=%.6f rms=%.2e px\n", c.k1, c.k2, c.rms_px);
    assert_true(fabs(c.k1 + 0.2) < 1e-4 && fabs(c.k2 - 0.05) < 1e-4);
    assert_true(c.rms_px < 1e-4 && c.rms_m < 1e-4);
    assert_true(grid_diff_px(&truth, &c) < 0.01);
    /* undistortion is the exact inverse: image -> pitch -> image */
    for (int v = 300; v < IMG_H; v += 97)
        for (int u = 0; u < IMG_W; u += 131) {
            double x, y, bu, bv;
            if (fa_calib_image_to_pitch(&c, u, v, &x, &y) & FA_CALIB_ABOVE_HORIZON) continue;
            fa_calib_pitch_to_image(&c, x, y, &bu, &bv);
            assert_true(hypot(bu - u, bv - v) < 1e-6);
        }
    /* with distortion forced off the fit is worse and k stays 0 */
    fa_calib_opts o;
    fa_calib_opts_default(&o);
    o.fit_distortion = 0;
    assert_int_equal(fa_calib_solve(p, n, IMG_W, IMG_H, NULL, &o, &c), 0);
    assert_true(c.k1 == 0 && c.k2 == 0 && c.distortion_fitted == 0);
    print_message("no-distortion fit on distorted points: rms=%.2f px\n", c.rms_px);
    assert_true(c.rms_px > 5);
}

static void test_distortion_noisy(void **state) {
    (void)state;
    fa_calib truth, c;
    fa_calib_point p[FA_CALIB_MAX_POINTS];
    synthetic_calib(&truth, -0.2, 0.05);
    size_t n = visible_points(&truth, 0.5, p, FA_CALIB_MAX_POINTS); /* sigma 0.5 px */
    assert_int_equal(fa_calib_solve(p, n, IMG_W, IMG_H, NULL, NULL, &c), 0);
    double diff = grid_diff_px(&truth, &c);
    print_message(
        "sigma 0.5 px, %zu points: k1=%.4f k2=%.4f rms=%.3f px max=%.3f px rms=%.3f m, grid %.3f px\n", n,
        c.k1, c.k2, c.rms_px, c.max_px, c.rms_m, diff);
    assert_true(fabs(c.k1 + 0.2) < 0.02 && fabs(c.k2 - 0.05) < 0.03);
    assert_true(c.rms_px > 0.2 && c.rms_px < 0.7 && c.max_px < 2.0);
    assert_true(c.rms_m < 0.2);
    assert_true(diff < 5); /* worst over the whole visible grid, far outside the points */
    /* 5 noisy points: distortion not estimated (fewer than 6), errors stated */
    fa_calib_point five[5] = {p[0], p[5], p[8], p[14], p[15]};
    synthetic_calib(&truth, 0, 0);
    for (int i = 0; i < 5; i++)
        fa_calib_pitch_to_image(&truth, five[i].x, five[i].y, &five[i].u, &five[i].v);
    assert_int_equal(fa_calib_solve(five, 5, IMG_W, IMG_H, NULL, NULL, &c), 0);
    assert_int_equal(c.distortion_fitted, 0);
    assert_true(c.rms_px < 1e-6);
    /* given (fixed) distortion is used as is */
    fa_calib_opts o;
    fa_calib_opts_default(&o);
    o.k1 = -0.2, o.k2 = 0.05, o.fit_distortion = 0;
    synthetic_calib(&truth, -0.2, 0.05);
    for (int i = 0; i < 5; i++)
        fa_calib_pitch_to_image(&truth, five[i].x, five[i].y, &five[i].u, &five[i].v);
    assert_int_equal(fa_calib_solve(five, 5, IMG_W, IMG_H, NULL, &o, &c), 0);
    assert_true(c.k1 == -0.2 && c.k2 == 0.05 && c.rms_px < 1e-6);
    assert_true(grid_diff_px(&truth, &c) < 1e-4);
}

static void test_mapping_flags(void **state) {
    (void)state;
    fa_calib c;
    double x, y, u, v;
    synthetic_calib(&c, -0.2, 0.05);
    /* sky: the horizon is at v ~ 240 */
    assert_true(fa_calib_image_to_pitch(&c, 960, 100, &x, &y) & FA_CALIB_ABOVE_HORIZON);
    assert_true(isnan(x) && isnan(y));
    assert_int_equal(fa_calib_map(&c, 960, 100, &x, &y) & FA_CALIB_ABOVE_HORIZON, FA_CALIB_ABOVE_HORIZON);
    /* behind the camera (it stands at y = -55) */
    assert_int_equal(fa_calib_pitch_to_image(&c, -25, -70, &u, &v), FA_CALIB_ABOVE_HORIZON);
    assert_true(isnan(u));
    /* seen but outside the picture, and off the pitch */
    assert_int_equal(fa_calib_pitch_to_image(&c, 40, 30, &u, &v), FA_CALIB_OFF_IMAGE);
    assert_int_equal(fa_calib_pitch_to_image(&c, -25, -20, &u, &v), 0);
    assert_int_equal(fa_calib_image_to_pitch(&c, u, v, &x, &y), 0);
    assert_true(hypot(x + 25, y + 20) < 1e-6);
    assert_int_equal(fa_calib_pitch_to_image(&c, -25, -36.5, &u, &v), 0);
    assert_int_equal(fa_calib_image_to_pitch(&c, u, v, &x, &y), FA_CALIB_OFF_PITCH);
    assert_true(fabs(y + 36.5) < 1e-6);
}

/* ------------------------------------------------------------ rejections */

static void test_rejections(void **state) {
    (void)state;
    fa_calib truth, c;
    fa_calib_point p[FA_CALIB_MAX_POINTS + 1], q[FA_CALIB_MAX_POINTS + 1];
    synthetic_calib(&truth, 0, 0);
    size_t n = visible_points(&truth, 0, p, FA_CALIB_MAX_POINTS);
    assert_true(n >= 8);

    solve_err(p, 3, "3 points given, at least 4 are needed");
    memcpy(q, p, sizeof p);
    q[2].u = -5;
    solve_err(q, n, "point 3 (");
    solve_err(q, n, "pixel (-5.0, ");
    solve_err(q, n, "is off the 1920x1080 image");
    memcpy(q, p, sizeof p);
    q[1].v = IMG_H + 1;
    solve_err(q, n, "off the 1920x1080 image");
    memcpy(q, p, sizeof p);
    q[4].x = NAN;
    solve_err(q, n, "point 5 (");
    solve_err(q, n, "coordinates are not finite");
    memcpy(q, p, sizeof p);
    q[3].u = q[1].u + 0.2, q[3].v = q[1].v;
    solve_err(q, n, "are on the same pixel");
    memcpy(q, p, sizeof p);
    q[3].x = q[1].x, q[3].y = q[1].y;
    solve_err(q, n, "are the same pitch point");
    assert_int_equal(fa_calib_solve(p, 0, 0, IMG_H, NULL, NULL, &c), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "image size 0x1080 is not positive"));
    for (int i = 0; i <= FA_CALIB_MAX_POINTS; i++)
        q[i] = p[i % 4];
    assert_int_equal(fa_calib_solve(q, FA_CALIB_MAX_POINTS + 1, IMG_W, IMG_H, NULL, NULL, &c), FA_ELIMIT);

    /* collinear: every point on the halfway line */
    const char *line[] = {"halfway_top", "centre_circle_top", "centre_spot", "centre_circle_bottom"};
    for (int i = 0; i < 4; i++) {
        fa_calib_landmark(NULL, line[i], &q[i].x, &q[i].y);
        fa_calib_pitch_to_image(&truth, q[i].x, q[i].y, &q[i].u, &q[i].v);
        q[i].name[0] = '\0';
    }
    solve_err(q, 4, "the 4 pitch points are collinear");
    /* 4 points with 3 on one line */
    fa_calib_landmark(NULL, "penalty_box_left_top", &q[3].x, &q[3].y);
    fa_calib_pitch_to_image(&truth, q[3].x, q[3].y, &q[3].u, &q[3].v);
    solve_err(q, 4, "pitch points 1, 2 and 3 are collinear");
    /* 5 points, 4 of them on one line: the DLT is under-determined */
    fa_calib_landmark(NULL, "centre_circle_bottom", &q[3].x, &q[3].y);
    fa_calib_pitch_to_image(&truth, q[3].x, q[3].y, &q[3].u, &q[3].v);
    fa_calib_landmark(NULL, "penalty_box_left_top", &q[4].x, &q[4].y);
    fa_calib_pitch_to_image(&truth, q[4].x, q[4].y, &q[4].u, &q[4].v);
    solve_err(q, 5, "the points are degenerate (DLT condition number");

    /* mirrored: top and bottom swapped on every landmark */
    memcpy(q, p, sizeof p);
    for (size_t i = 0; i < n; i++)
        q[i].y = -q[i].y;
    solve_err(q, n, "the homography flips orientation");
    /* picture turned upside down: the ground is at the top, the sky at the bottom */
    memcpy(q, p, sizeof p);
    for (size_t i = 0; i < n; i++)
        q[i].u = IMG_W - q[i].u, q[i].v = IMG_H - q[i].v;
    solve_err(q, n, "maps the bottom of the image behind the horizon");
    /* a fixed distortion that folds inside the picture */
    fa_calib_opts o;
    fa_calib_opts_default(&o);
    o.fit_distortion = 0, o.k1 = -0.9;
    assert_int_equal(fa_calib_solve(p, n, IMG_W, IMG_H, NULL, &o, &c), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "distortion k1=-0.9 k2=0"));
    /* fa_calib_set refuses a singular or non-finite H */
    synthetic_calib(&c, 0, 0);
    double zero[9] = {0}, sing[9] = {1, 2, 3, 2, 4, 6, 0, 0, 1};
    assert_int_equal(fa_calib_set(&c, zero, 0, 0), FA_EINVAL);
    assert_int_equal(fa_calib_set(&c, sing, 0, 0), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "singular"));
}

/* Random correspondences and random --points text: only 0 or a stated error, never a crash. */
static void test_random_inputs(void **state) {
    (void)state;
    uint64_t seed = 99;
    fa_calib_point p[12];
    fa_calib c;
    int solved = 0, refused = 0;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 4 + (size_t)(trial % 9);
        for (size_t i = 0; i < n; i++) {
            p[i].u = fabs(gauss(&seed)) * 600, p[i].v = fabs(gauss(&seed)) * 400;
            p[i].x = gauss(&seed) * 30, p[i].y = gauss(&seed) * 20;
            p[i].name[0] = '\0';
        }
        int rc = fa_calib_solve(p, n, IMG_W, IMG_H, NULL, NULL, &c);
        assert_true(rc == 0 || rc == FA_EINVAL);
        if (rc == 0) {
            solved++;
            assert_true(isfinite(c.rms_px));
        } else {
            refused++;
            assert_non_null(strstr(fa_err_msg(), "calibration: "));
        }
    }
    print_message("random correspondences: %d solved, %d refused\n", solved, refused);
    assert_true(refused > 0);
    const char alphabet[] = "0123456789.,;=-e _abcnx";
    for (int trial = 0; trial < 2000; trial++) {
        char spec[40];
        size_t len = (size_t)(trial % 39);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            spec[i] = alphabet[(seed >> 33) % (sizeof alphabet - 1)];
        }
        spec[len] = '\0';
        size_t n;
        int rc = fa_calib_parse_points(spec, NULL, p, 12, &n);
        assert_true(rc == 0 || rc == FA_EINVAL || rc == FA_ELIMIT);
        if (rc) assert_non_null(strstr(fa_err_msg(), "--points: "));
    }
}

/* ------------------------------------------------------------ files */

static void test_file_round_trip(void **state) {
    (void)state;
    fa_calib truth, c, back;
    fa_calib_point p[FA_CALIB_MAX_POINTS];
    synthetic_calib(&truth, -0.2, 0.05);
    size_t n = visible_points(&truth, 0.5, p, FA_CALIB_MAX_POINTS);
    p[2].name[0] = '\0'; /* one explicit x,y point */
    assert_int_equal(fa_calib_solve(p, n, IMG_W, IMG_H, NULL, NULL, &c), 0);
    char *dir = fa_test_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/calib.json", dir);
    assert_int_equal(fa_calib_save(&c, "synthetic \"camera\"", path), 0);
    assert_int_equal(fa_calib_load(path, &back), 0);
    assert_int_equal(back.img_w, IMG_W);
    assert_int_equal(back.npoints, n);
    for (int i = 0; i < 9; i++)
        assert_true(fabs(back.H[i] - c.H[i]) < 1e-15);
    assert_true(back.k1 == c.k1 && back.k2 == c.k2 && back.distortion_fitted == 1);
    assert_true(fabs(back.rms_px - c.rms_px) < 1e-9 && fabs(back.max_m - c.max_m) < 1e-9);
    assert_string_equal(back.points[0].name, c.points[0].name);
    assert_string_equal(back.points[2].name, "");
    assert_true(back.points[2].x == c.points[2].x && back.points[5].u == c.points[5].u);
    size_t len;
    char *text = fa_test_read_file(path, &len);
    assert_non_null(strstr(text, "\"note\": \"synthetic \\\"camera\\\"\""));
    free(text);

    /* a hand-written file without H is solved from its points */
    char hand[2048];
    int k = snprintf(hand, sizeof hand, "{\"image\": {\"width\": %d, \"height\": %d}, \"points\": [", IMG_W,
                     IMG_H);
    for (size_t i = 0; i < n; i++) {
        k += snprintf(hand + k, sizeof hand - (size_t)k, "%s{\"u\": %.17g, \"v\": %.17g, ", i ? "," : "",
                      p[i].u, p[i].v);
        if (p[i].name[0])
            k += snprintf(hand + k, sizeof hand - (size_t)k, "\"name\": \"%s\"}", p[i].name);
        else
            k += snprintf(hand + k, sizeof hand - (size_t)k, "\"x\": %.17g, \"y\": %.17g}", p[i].x, p[i].y);
    }
    snprintf(hand + k, sizeof hand - (size_t)k, "]}");
    char *hp = fa_test_write_file(dir, "hand.json", hand, strlen(hand));
    if (fa_calib_load(hp, &back)) print_message("%s\n", fa_err_msg());
    assert_int_equal(fa_calib_load(hp, &back), 0);
    assert_true(back.distortion_fitted == 1 && back.pitch.length == 105 && back.pitch.width == 68);
    assert_true(fabs(back.k1 - c.k1) < 1e-9 && fabs(back.rms_px - c.rms_px) < 1e-9);
    free(hp);

    struct {
        const char *text, *msg;
    } bad[] = {
        {"[1]", "bad.json:1:1: expected a calibration object"},
        {"{\"points\": []}", "missing required field 'image'"},
        {"{\"image\": {\"width\": 0, \"height\": 10}, \"points\": []}", "field 'width'"},
        {"{\"image\": {\"width\": 10, \"height\": 10}, \"points\": {}}", "field 'points'"},
        {"{\"image\": {\"width\": 10, \"height\": 10}, \"points\": [{\"u\": 1, \"v\": 2, \"name\": "
         "\"nowhere\"}]}",
         "bad.json:1:51: points[0]: unknown landmark 'nowhere'"},
        {"{\"image\": {\"width\": 10, \"height\": 10}, \"points\": [{\"u\": 1, \"v\": 2, \"x\": 3}]}",
         "missing required field 'y'"},
        {"{\"image\": {\"width\": 10, \"height\": 10}, \"points\": [{\"u\": 1, \"v\": 2, \"x\": 3, \"y\": "
         "4}]}",
         "bad.json: calibration: 1 points given, at least 4 are needed"},
        {"{\"image\": {\"width\": 10, \"height\": 10}, \"points\": [], \"H\": [1, 2]}",
         "field 'H': expected 9 numbers, got 2"},
        {"{\"image\": {\"width\": 10, \"height\": 10}, \"pitch\": {\"length\": -1, \"width\": 5}, "
         "\"points\": []}",
         "pitch size -1 x 5 is not plausible"},
        {"{\"image\": {\"width\": 10, \"height\": 10}, \"points\": [], \"H\": [0,0,0,0,0,0,0,0,0]}",
         "not finite or zero"},
        {"{\"image\": ", "bad.json"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *bp = fa_test_write_file(dir, "bad.json", bad[i].text, strlen(bad[i].text));
        int rc = fa_calib_load(bp, &back);
        if (rc != FA_EINVAL || !strstr(fa_err_msg(), bad[i].msg))
            print_message("%s -> %s\n", bad[i].text, fa_err_msg());
        assert_int_equal(rc, FA_EINVAL);
        assert_non_null(strstr(fa_err_msg(), bad[i].msg));
        free(bp);
    }
    snprintf(path, sizeof path, "%s/none.json", dir);
    assert_true(fa_calib_load(path, &back) < 0);
    snprintf(path, sizeof path, "%s/no/such/dir/x.json", dir);
    assert_int_equal(fa_calib_save(&c, NULL, path), FA_EIO);
    fa_test_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------ synthetic pictures */

/* Paints the pitch markings seen by c (3 px white) on green grass. */
static void render_pitch(const fa_calib *c, fa_image *img) {
    assert_int_equal(fa_image_alloc(img, c->img_w, c->img_h), 0);
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++) {
            uint8_t *p = img->rgb + (size_t)y * img->stride + 3 * (size_t)x;
            p[0] = 40, p[1] = (uint8_t)(110 + ((x / 40 + y / 40) % 2) * 15), p[2] = 45;
        }
    double L = 52.5, W = 34;
    double seg[][4] = {{-L, -W, L, -W},
                       {-L, W, L, W},
                       {0, -W, 0, W},
                       {-L, -W, -L, W},
                       {-36, -20.16, -36, 20.16},
                       {-L, -20.16, -36, -20.16},
                       {-L, 20.16, -36, 20.16},
                       {-47, -9.16, -47, 9.16},
                       {-L, -9.16, -47, -9.16},
                       {-L, 9.16, -47, 9.16}};
    for (size_t s = 0; s < sizeof seg / sizeof *seg; s++)
        for (double t = 0; t <= 1; t += 0.0002) {
            double u, v;
            if (fa_calib_pitch_to_image(c, seg[s][0] + t * (seg[s][2] - seg[s][0]),
                                        seg[s][1] + t * (seg[s][3] - seg[s][1]), &u, &v))
                continue;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int x = (int)lround(u) + dx, y = (int)lround(v) + dy;
                    if (x < 0 || y < 0 || x >= img->w || y >= img->h) continue;
                    memset(img->rgb + (size_t)y * img->stride + 3 * (size_t)x, 235, 3);
                }
        }
}

static void test_refine_lines_synthetic(void **state) {
    (void)state;
    fa_calib truth, c;
    fa_image img = {0};
    fa_calib_refine_stats st;
    synthetic_calib(&truth, -0.2, 0.05);
    render_pitch(&truth, &img);
    /* start 5 px right and 4 px up of the truth, without points */
    c = truth;
    double H[9];
    memcpy(H, truth.H, sizeof H);
    for (int j = 0; j < 3; j++)
        H[j] += 5 * H[6 + j], H[3 + j] -= 4 * H[6 + j];
    assert_int_equal(fa_calib_set(&c, H, truth.k1, truth.k2), 0);
    double before = grid_diff_px(&truth, &c);
    assert_int_equal(fa_calib_refine_lines(&c, &img, &st), 0);
    double after = grid_diff_px(&truth, &c);
    print_message(
        "synthetic lines: samples %zu matched %zu -> %zu, line err %.3f -> %.3f px, model %.2f -> %.3f px\n",
        st.samples, st.matched_before, st.matched_after, st.err_before, st.err_after, before, after);
    assert_int_equal(st.accepted, 1);
    assert_true(before > 5 && after < 1.5);
    assert_true(st.err_after < 0.5 && st.err_before > 3);
    /* on the true calibration there is nothing to gain: the refinement is kept only if better */
    c = truth;
    assert_int_equal(fa_calib_refine_lines(&c, &img, &st), 0);
    assert_true(st.err_after <= st.err_before || st.accepted == 0);
    assert_true(grid_diff_px(&truth, &c) < 0.5);
    /* a green picture without lines: nothing found */
    memset(img.rgb, 0, img.stride * (size_t)img.h);
    for (size_t i = 1; i < img.stride * (size_t)img.h; i += 3)
        img.rgb[i] = 120;
    assert_int_equal(fa_calib_refine_lines(&c, &img, &st), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "line pixels found near the projected pitch lines"));
    fa_image_free(&img);
    assert_int_equal(fa_image_alloc(&img, 640, 360), 0);
    assert_int_equal(fa_calib_refine_lines(&c, &img, &st), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "frame 640x360 does not match the calibration's 1920x1080"));
    fa_image_free(&img);
}

static double texture(double x, double y) {
    uint32_t h = (uint32_t)(int)floor(x / 3) * 73856093u ^ (uint32_t)(int)floor(y / 3) * 19349663u;
    h ^= h >> 13, h *= 0x5bd1e995u, h ^= h >> 15;
    return 128 + 50 * sin(x / 37.0) * cos(y / 23.0) + (double)(h & 63);
}

static void textured(fa_image *img, int w, int h, double dx, double dy) {
    assert_int_equal(fa_image_alloc(img, w, h), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memset(img->rgb + (size_t)y * img->stride + 3 * (size_t)x,
                   (int)fmin(255, texture(x - dx, y - dy)), 3);
}

static void test_motion_synthetic(void **state) {
    (void)state;
    fa_image a = {0}, b = {0};
    fa_calib_motion m;
    textured(&a, 640, 360, 0, 0);
    textured(&b, 640, 360, 12, -7);
    assert_int_equal(fa_calib_motion_estimate(&a, &b, &m), 0);
    print_message("synthetic shift (12, -7): (%.3f, %.3f), peak %.2f, scale %g\n", m.dx, m.dy, m.peak,
                  m.scale);
    assert_true(fabs(m.dx - 12) < 0.5 && fabs(m.dy + 7) < 0.5);
    assert_true(m.scale == 2);
    assert_int_equal(fa_calib_motion_estimate(&a, &a, &m), 0);
    assert_true(fabs(m.dx) < 1e-9 && fabs(m.dy) < 1e-9 && m.peak > 0.99);

    /* propagation: the moved calibration maps the moved pixel to the same place */
    fa_calib c, moved;
    synthetic_calib(&c, -0.2, 0.05);
    c.img_w = 640, c.img_h = 360; /* only the frame size must agree */
    fa_image_free(&a), fa_image_free(&b);
    textured(&a, 640, 360, 0, 0);
    textured(&b, 640, 360, 12, -7);
    synthetic_calib(&c, -0.2, 0.05);
    fa_calib_point p[FA_CALIB_MAX_POINTS];
    size_t n = visible_points(&c, 0, p, 8);
    assert_int_equal(fa_calib_solve(p, n, IMG_W, IMG_H, NULL, NULL, &c), 0);
    assert_int_equal(fa_calib_propagate(&c, &a, &b, &moved, &m), 0);
    for (int i = 0; i < 5; i++) {
        double u = 600 + 150 * i, v = 500 + 90 * i, x0, y0, x1, y1;
        assert_int_equal(fa_calib_image_to_pitch(&c, u, v, &x0, &y0), 0);
        fa_calib_image_to_pitch(&moved, u + m.dx, v + m.dy, &x1, &y1);
        assert_true(hypot(x1 - x0, y1 - y0) < 1e-6);
    }
    assert_true(fabs(moved.points[0].u - c.points[0].u - m.dx) < 1e-9);
    assert_true(fabs(moved.rms_px - c.rms_px) < 1e-6);

    fa_image small = {0};
    assert_int_equal(fa_image_alloc(&small, 20, 20), 0);
    assert_int_equal(fa_calib_motion_estimate(&a, &small, &m), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "frames of different sizes (640x360, 20x20)"));
    assert_int_equal(fa_calib_motion_estimate(&small, &small, &m), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "too small"));
    fa_image_free(&small);
    assert_int_equal(fa_image_alloc(&small, 4000, 40), 0);
    assert_int_equal(fa_calib_motion_estimate(&small, &small, &m), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "frame 4000x40 is too elongated"));
    fa_image_free(&small), fa_image_free(&a), fa_image_free(&b);
}

/* ------------------------------------------------------------ the real clip */

static const char *fixture(void) {
    static char path[1024];
    const char *src = getenv("FA_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/soccertrack_left_calib.json", src ? src : ".");
    return path;
}

/* Frames 0 and `later` of the clip, decoded in one pass with the project's reader. */
static void clip_frames(int64_t later, fa_image *first, fa_image *img) {
    fa_frames *f = fa_frames_open(fa_test_data("video/soccertrack_left_camera.mp4"), 0);
    assert_non_null(f);
    int64_t idx = -1;
    double t;
    while (idx < later) {
        assert_int_equal(fa_frames_next(f, img, &idx, &t), 1);
        if (idx != 0) continue;
        assert_int_equal(fa_image_alloc(first, img->w, img->h), 0);
        for (int y = 0; y < img->h; y++)
            memcpy(first->rgb + (size_t)y * first->stride, img->rgb + (size_t)y * img->stride,
                   3 * (size_t)img->w);
    }
    assert_int_equal(idx, later);
    fa_frames_close(f);
}

/* The file read from memory gives the same calibration as from disk. */
static void test_load_mem(void **state) {
    (void)state;
    size_t len = 0;
    char *text = fa_test_read_file(fixture(), &len);
    assert_non_null(text);
    fa_calib *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(fa_calib_load(fixture(), a), 0);
    assert_int_equal(fa_calib_load_mem("fixture.json", text, len, b), 0);
    for (int i = 0; i < 9; i++) assert_true(a->H[i] == b->H[i]);
    assert_true(a->k1 == b->k1 && a->rms_px == b->rms_px);
    assert_int_not_equal(fa_calib_load_mem("bad.json", "{\"image\": 3}", 13, b), 0);
    assert_non_null(strstr(fa_err_msg(), "bad.json"));
    free(a);
    free(b);
    free(text);
}

static void test_real_fixture(void **state) {
    (void)state;
    fa_calib c;
    FA_TEST_REQUIRE_DATA(fixture());
    assert_int_equal(fa_calib_load(fixture(), &c), 0);
    print_message("fixture: %zu points, k1=%.4f k2=%.4f, rms %.2f px max %.2f px, rms %.2f m max %.2f m\n",
                  c.npoints, c.k1, c.k2, c.rms_px, c.max_px, c.rms_m, c.max_m);
    assert_int_equal(c.npoints, 14);
    assert_int_equal(c.distortion_fitted, 1);
    /* measured 3.98 px RMS, 8.08 px max, 0.90 m RMS, 2.60 m max (halfway_top, 90 m from the camera) */
    assert_true(c.rms_px < 4.5 && c.max_px < 9);
    assert_true(c.rms_m < 1.0 && c.max_m < 3.0);
    assert_true(c.k1 < -0.1); /* a wide-angle lens: barrel distortion */
    for (size_t i = 0; i < c.npoints; i++) {
        double x, y;
        assert_int_equal(fa_calib_image_to_pitch(&c, c.points[i].u, c.points[i].v, &x, &y), 0);
        assert_true(hypot(x - c.points[i].x, y - c.points[i].y) < 3.0);
    }
    /* held out: the penalty spot, read at (1317, 906), is not in the fit */
    double x, y, u, v;
    assert_int_equal(fa_calib_image_to_pitch(&c, 1317, 906, &x, &y), 0);
    print_message("held-out penalty spot -> (%.2f, %.2f)\n", x, y);
    assert_true(hypot(x + 41.5, y) < 0.35);
    /* the visible half's corners and halfway ends are in the picture; the far half's are not */
    const char *in[] = {"corner_top_left", "corner_bottom_left", "halfway_top", "halfway_bottom",
                        "centre_spot"};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        fa_calib_landmark(&c.pitch, in[i], &x, &y);
        assert_int_equal(fa_calib_pitch_to_image(&c, x, y, &u, &v), 0);
    }
    fa_calib_landmark(&c.pitch, "corner_bottom_right", &x, &y);
    assert_true(fa_calib_pitch_to_image(&c, x, y, &u, &v) != 0);
    /* players' foot points read from frame 0 map onto the pitch */
    const double feet[][2] = {{2495, 1480}, {2780, 1130}, {2835, 1040}, {2555, 1028}, {1255, 916}};
    for (size_t i = 0; i < sizeof feet / sizeof *feet; i++) {
        assert_int_equal(fa_calib_image_to_pitch(&c, feet[i][0], feet[i][1], &x, &y), 0);
        assert_true(x > -52.5 && x < 5 && fabs(y) < 34);
    }
    /* the goalkeeper stands near his penalty spot; a spectator on the steps is off the pitch */
    fa_calib_image_to_pitch(&c, 1255, 916, &x, &y);
    assert_true(hypot(x + 41.5, y) < 3);
    assert_int_equal(fa_calib_image_to_pitch(&c, 186, 1382, &x, &y), FA_CALIB_OFF_PITCH);
    /* the sky is above the horizon */
    assert_true(fa_calib_image_to_pitch(&c, 1536, 100, &x, &y) != 0);
}

/* The fixture (3072x1728) scaled to the 1280x720 proxy of bench/analyze:
 * every image point scaled by 1280/3072 maps to the same metres; a picture
 * of another shape is refused and leaves the calibration as it was. */
static void test_rescale(void **state) {
    (void)state;
    fa_calib c, small;
    FA_TEST_REQUIRE_DATA(fixture());
    assert_int_equal(fa_calib_load(fixture(), &c), 0);
    small = c;
    assert_int_equal(fa_calib_rescale(&small, 1280, 720), 0);
    assert_int_equal(small.img_w, 1280);
    assert_int_equal(small.img_h, 720);
    const double s = 1280.0 / 3072.0;
    assert_true(fabs(small.rms_px - c.rms_px * s) < 1e-6);
    assert_true(fabs(small.rms_m - c.rms_m) < 1e-6);
    const double probe[][2] = {{1317, 906}, {2495, 1480}, {128, 1141}, {2797, 876}, {1255, 916}};
    for (size_t i = 0; i < sizeof probe / sizeof *probe; i++) {
        double x0, y0, x1, y1, u, v;
        assert_int_equal(fa_calib_image_to_pitch(&c, probe[i][0], probe[i][1], &x0, &y0), 0);
        assert_int_equal(fa_calib_image_to_pitch(&small, probe[i][0] * s, probe[i][1] * s, &x1, &y1), 0);
        assert_true(hypot(x1 - x0, y1 - y0) < 1e-6);
        assert_int_equal(fa_calib_pitch_to_image(&small, x0, y0, &u, &v), 0);
        assert_true(hypot(u - probe[i][0] * s, v - probe[i][1] * s) < 1e-6);
    }
    fa_calib before = small;
    assert_int_equal(fa_calib_rescale(&small, 1280, 1080), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "aspect ratio"));
    assert_int_equal(fa_calib_rescale(&small, 0, 720), FA_EINVAL);
    assert_memory_equal(&before, &small, sizeof small);
    /* and back: the original size gives the original mapping */
    assert_int_equal(fa_calib_rescale(&small, 3072, 1728), 0);
    for (int i = 0; i < 9; i++)
        assert_true(fabs(small.H[i] - c.H[i]) < 1e-9);
}

static void test_real_refine_and_motion(void **state) {
    (void)state;
    fa_calib c;
    fa_image f0 = {0}, f100 = {0}, jpg = {0};
    fa_calib_refine_stats st;
    fa_calib_motion m;
    FA_TEST_REQUIRE_DATA(fixture());
    FA_TEST_REQUIRE_DATA(fa_test_data("video/soccertrack_left_camera.mp4"));
    assert_int_equal(fa_calib_load(fixture(), &c), 0);
    assert_int_equal(fa_image_load(fa_test_data("images/frames/soccertrack_left_f0000.jpg"), &jpg), 0);
    fa_calib manual = c;
    assert_int_equal(fa_calib_refine_lines(&c, &jpg, &st), 0);
    print_message("real lines: samples %zu matched %zu -> %zu, line err %.3f -> %.3f px, accepted %d, points "
                  "rms %.2f px\n",
                  st.samples, st.matched_before, st.matched_after, st.err_before, st.err_after, st.accepted,
                  c.rms_px);
    /* measured: 824 -> 822 matched, 3.32 -> 1.88 px, points 3.98 -> 4.58 px RMS, penalty spot 0.18 m off */
    assert_true(st.err_after <= st.err_before);
    assert_int_equal(st.accepted, 1);
    assert_true(st.err_before < 4 && st.err_after < 2.5);
    assert_true(st.matched_before > 700 && st.matched_after > 700);
    assert_true(c.rms_px < 5.2 && c.max_m < 3.5);
    print_message("manual vs refined: %.2f px at worst over the visible pitch\n", grid_diff_px(&manual, &c));
    /* measured 27.5 px, at the right edge of the picture (x = 7.5 m, beyond the last line the lens
     * model is extrapolated); elsewhere under 10 px */
    assert_true(grid_diff_px(&manual, &c) < 35);
    double x, y;
    assert_int_equal(fa_calib_image_to_pitch(&c, 1317, 906, &x, &y), 0);
    print_message("refined: held-out penalty spot -> (%.2f, %.2f)\n", x, y);
    assert_true(hypot(x + 41.5, y) < 0.35);

    clip_frames(100, &f0, &f100);
    assert_true(f0.w == 3072 && f0.h == 1728);
    assert_int_equal(fa_calib_motion_estimate(&f0, &f100, &m), 0);
    print_message("clip frame 0 -> 100: motion (%.3f, %.3f) px, peak %.2f\n", m.dx, m.dy, m.peak);
    assert_true(fabs(m.dx) < 1 && fabs(m.dy) < 1);
    assert_true(m.peak > 0.3);
    fa_calib moved;
    assert_int_equal(fa_calib_propagate(&manual, &f0, &f100, &moved, &m), 0);
    double x0, y0, x1, y1;
    assert_true(fabs(moved.H[0] - manual.H[0]) < 1e-3 * fabs(manual.H[0]));
    fa_calib_image_to_pitch(&manual, 2797, 876, &x0, &y0);
    fa_calib_image_to_pitch(&moved, 2797, 876, &x1, &y1);
    assert_true(hypot(x1 - x0, y1 - y0) < 0.1);
    fa_image_free(&f0), fa_image_free(&f100), fa_image_free(&jpg);
}

int main(void) {
    fa_video_quiet();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_landmarks),
        cmocka_unit_test(test_parse_points),
        cmocka_unit_test(test_exact_four_points),
        cmocka_unit_test(test_distortion_noise_free),
        cmocka_unit_test(test_distortion_noisy),
        cmocka_unit_test(test_mapping_flags),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_random_inputs),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_refine_lines_synthetic),
        cmocka_unit_test(test_motion_synthetic),
        cmocka_unit_test(test_load_mem),
        cmocka_unit_test(test_real_fixture),
        cmocka_unit_test(test_rescale),
        cmocka_unit_test(test_real_refine_and_motion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
