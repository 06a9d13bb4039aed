/*
 * test_mot.c - CLEAR-MOT and IDF1 (src/vision/mot.c) on small hand-made
 * sequences; every figure asserted is worked out in the comments. Boxes
 * are 20 pixels tall and share their y extent unless said, so IoU is the
 * overlap of the x intervals over their union.
 */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"
#include "vision/mot.h"

static fa_mot_box bx(int id, float x1, float x2) {
    fa_mot_box b = {id, {x1, 0, x2, 20}};
    return b;
}

static void test_perfect(void **state) {
    (void)state;
    fa_mot *m = fa_mot_new(0.5);
    assert_non_null(m);
    for (int f = 0; f < 3; f++) {
        fa_mot_box gt[2] = {bx(1, 0, 10), bx(2, 50, 60)}, pr[2] = {bx(20, 50, 60), bx(10, 0, 10)};
        assert_int_equal(fa_mot_add_frame(m, gt, 2, pr, 2), 0);
    }
    fa_mot_summary s;
    assert_int_equal(fa_mot_summarize(m, &s), 0);
    assert_int_equal(s.frames, 3);
    assert_int_equal(s.matches, 6);
    assert_int_equal(s.fp + s.fn + s.idsw, 0);
    assert_float_equal(s.mota, 1.0, 1e-12);
    assert_float_equal(s.motp, 1.0, 1e-12);
    assert_int_equal(s.idtp, 6);
    assert_float_equal(s.idf1, 1.0, 1e-12);
    assert_int_equal(s.gt_ids, 2);
    assert_int_equal(s.pred_ids, 2);
    fa_mot_free(m);
}

/*
 * Objects A (id 1, x 0-10) and B (id 2, x 100-110).
 *   f0: A <- 7 exact, B <- 8 exact                      2 matches
 *   f1: A <- 7 exact, B <- 9 at x 102-112 (IoU 8/12)    2 matches, B switches 8 -> 9
 *   f2: 7 at x 6-16 (IoU 4/16 with A: miss + FP), B <- 9 exact
 *   f3: A alone <- 7 exact, 5 far away (FP)
 *   f4: A and B, no prediction: 2 misses
 * GT boxes 9, predictions 8, matches 6, FN 3, FP 2, IDSW 1:
 *   MOTA = 1 - 6/9 = 1/3; MOTP = (5 x 1 + 2/3) / 6 = 17/18.
 * IDF1 evidence: (A,7) f0 f1 f3 = 3, (B,8) f0 = 1, (B,9) f1 f2 = 2. Best
 * pairing A-7, B-9: IDTP 5, IDFN 9 - 5 = 4, IDFP 8 - 5 = 3,
 *   IDF1 = 10/17, IDP = 5/8, IDR = 5/9.
 */
static void test_hand_sequence(void **state) {
    (void)state;
    fa_mot *m = fa_mot_new(0.5);
    fa_mot_box a = bx(1, 0, 10), b = bx(2, 100, 110);
    fa_mot_box g[2] = {a, b};
    fa_mot_box p0[2] = {bx(7, 0, 10), bx(8, 100, 110)};
    fa_mot_box p1[2] = {bx(7, 0, 10), bx(9, 102, 112)};
    fa_mot_box p2[2] = {bx(7, 6, 16), bx(9, 100, 110)};
    fa_mot_box p3[2] = {bx(7, 0, 10), bx(5, 500, 510)};
    assert_int_equal(fa_mot_add_frame(m, g, 2, p0, 2), 0);
    assert_int_equal(fa_mot_add_frame(m, g, 2, p1, 2), 0);
    assert_int_equal(fa_mot_add_frame(m, g, 2, p2, 2), 0);
    assert_int_equal(fa_mot_add_frame(m, g, 1, p3, 2), 0);
    assert_int_equal(fa_mot_add_frame(m, g, 2, NULL, 0), 0);
    fa_mot_summary s;
    assert_int_equal(fa_mot_summarize(m, &s), 0);
    assert_int_equal(s.gt, 9);
    assert_int_equal(s.pred, 8);
    assert_int_equal(s.matches, 6);
    assert_int_equal(s.fn, 3);
    assert_int_equal(s.fp, 2);
    assert_int_equal(s.idsw, 1);
    assert_float_equal(s.mota, 1.0 / 3, 1e-12);
    assert_float_equal(s.motp, 17.0 / 18, 1e-6);
    assert_int_equal(s.idtp, 5);
    assert_int_equal(s.idfn, 4);
    assert_int_equal(s.idfp, 3);
    assert_float_equal(s.idf1, 10.0 / 17, 1e-12);
    assert_float_equal(s.idp, 5.0 / 8, 1e-12);
    assert_float_equal(s.idr, 5.0 / 9, 1e-12);
    assert_int_equal(s.gt_ids, 2);
    assert_int_equal(s.pred_ids, 4);
    fa_mot_free(m);
}

/*
 * Continuity: A (0-10) matched to p1 in f0. In f1 p1 is at 1-11 (IoU 9/11)
 * and p2 sits exactly on A: A keeps p1 (no switch), p2 is a false positive.
 * MOTP = (1 + 9/11) / 2 = 10/11. In f2 A is absent; in f3 it comes back
 * matched to p3: a switch (last match p1), MOTA = 1 - (1 FP + 1 IDSW) / 3.
 */
static void test_continuity_and_switch_after_gap(void **state) {
    (void)state;
    fa_mot *m = fa_mot_new(0.5);
    fa_mot_box a = bx(1, 0, 10);
    fa_mot_box f0[1] = {bx(11, 0, 10)}, f1[2] = {bx(12, 0, 10), bx(11, 1, 11)}, f3[1] = {bx(13, 0, 10)};
    assert_int_equal(fa_mot_add_frame(m, &a, 1, f0, 1), 0);
    assert_int_equal(fa_mot_add_frame(m, &a, 1, f1, 2), 0);
    fa_mot_summary s;
    assert_int_equal(fa_mot_summarize(m, &s), 0);
    assert_int_equal(s.idsw, 0);
    assert_int_equal(s.fp, 1);
    assert_float_equal(s.motp, 10.0 / 11, 1e-6);
    assert_int_equal(fa_mot_add_frame(m, NULL, 0, NULL, 0), 0);
    assert_int_equal(fa_mot_add_frame(m, &a, 1, f3, 1), 0);
    assert_int_equal(fa_mot_summarize(m, &s), 0);
    assert_int_equal(s.frames, 4);
    assert_int_equal(s.idsw, 1);
    assert_float_equal(s.mota, 1 - 2.0 / 3, 1e-12);
    fa_mot_free(m);
}

/*
 * Most pairs first: A = 0-10, B = -1-8, x = 0-9, y = 4-10.
 * IoU(A,x) = 9/10, IoU(A,y) = 6/10, IoU(B,x) = 8/10, IoU(B,y) = 4/11 < 0.5.
 * Taking the best pair A-x would leave B unmatched; the matching is A-y,
 * B-x: 2 matches, MOTP = (0.6 + 0.8) / 2 = 0.7.
 */
static void test_most_pairs(void **state) {
    (void)state;
    fa_mot *m = fa_mot_new(0.5);
    fa_mot_box g[2] = {bx(1, 0, 10), bx(2, -1, 8)}, p[2] = {bx(3, 0, 9), bx(4, 4, 10)};
    assert_int_equal(fa_mot_add_frame(m, g, 2, p, 2), 0);
    fa_mot_summary s;
    assert_int_equal(fa_mot_summarize(m, &s), 0);
    assert_int_equal(s.matches, 2);
    assert_int_equal(s.fp + s.fn, 0);
    assert_float_equal(s.motp, 0.7, 1e-6);
    fa_mot_free(m);
}

/*
 * IDF1's global matching. g1 (0-10) in f0..f4, g2 (100-110) in f3..f5.
 * Prediction a covers g1 in f0..f2 and g2 in f3..f5; b covers g1 in f3, f4.
 * Evidence (g1,a) = 3, (g2,a) = 3, (g1,b) = 2. Giving a to g1 would leave g2
 * nothing (total 3); the optimum g1-b, g2-a gives IDTP 5. GT boxes 5 + 3 = 8,
 * predictions 6 + 2 = 8: IDF1 = 10/16.
 * CLEAR: f0-f2 g1-a; f3 g1 loses a (IoU 0) and takes b: one switch; g2-a;
 * f4, f5 continue. 8 matches, 1 switch: MOTA = 7/8.
 */
static void test_idf1_global(void **state) {
    (void)state;
    fa_mot *m = fa_mot_new(0.5);
    fa_mot_box g1 = bx(1, 0, 10), g2 = bx(2, 100, 110);
    for (int f = 0; f < 6; f++) {
        fa_mot_box g[2], p[2];
        size_t ng = 0, np = 0;
        if (f <= 4) g[ng++] = g1;
        if (f >= 3) g[ng++] = g2;
        p[np++] = f <= 2 ? bx(50, 0, 10) : bx(50, 100, 110);
        if (f == 3 || f == 4) p[np++] = bx(60, 0, 10);
        assert_int_equal(fa_mot_add_frame(m, g, ng, p, np), 0);
    }
    fa_mot_summary s;
    assert_int_equal(fa_mot_summarize(m, &s), 0);
    assert_int_equal(s.idtp, 5);
    assert_float_equal(s.idf1, 10.0 / 16, 1e-12);
    assert_int_equal(s.matches, 8);
    assert_int_equal(s.idsw, 1);
    assert_float_equal(s.mota, 7.0 / 8, 1e-12);
    fa_mot_free(m);
}

static void test_errors_leave_state(void **state) {
    (void)state;
    assert_null(fa_mot_new(0));
    assert_non_null(strstr(fa_err_msg(), "IoU threshold: expected a value in (0, 1], got 0"));
    assert_null(fa_mot_new(NAN));
    fa_mot *m = fa_mot_new(0.5);
    fa_mot_box g[2] = {bx(1, 0, 10), bx(1, 50, 60)}, p[1] = {bx(3, 0, 10)};
    assert_int_equal(fa_mot_add_frame(m, g, 2, p, 1), FA_EINVAL);
    assert_string_equal(fa_err_msg(),
                        "mot.c: frame 0: ground truth id 1: expected once per frame, found twice");
    p[0].box[2] = NAN;
    assert_int_equal(fa_mot_add_frame(m, g, 1, p, 1), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "mot.c: frame 0: prediction box 0 (id 3): expected finite corners"));
    assert_int_equal(fa_mot_add_frame(m, NULL, 2, p, 0), FA_EINVAL);
    /* nothing was counted */
    fa_mot_summary s;
    assert_int_equal(fa_mot_summarize(m, &s), 0);
    assert_int_equal(s.frames, 0);
    assert_int_equal(s.gt_ids, 0);
    assert_true(isnan(s.mota));
    assert_true(isnan(s.idf1));
    assert_true(isnan(s.motp));
    /* predictions only: MOTA undefined, IDF1 0 */
    p[0].box[2] = 10;
    assert_int_equal(fa_mot_add_frame(m, NULL, 0, p, 1), 0);
    assert_int_equal(fa_mot_summarize(m, &s), 0);
    assert_int_equal(s.fp, 1);
    assert_true(isnan(s.mota));
    assert_float_equal(s.idf1, 0.0, 0);
    fa_mot_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perfect),
        cmocka_unit_test(test_hand_sequence),
        cmocka_unit_test(test_continuity_and_switch_after_gap),
        cmocka_unit_test(test_most_pairs),
        cmocka_unit_test(test_idf1_global),
        cmocka_unit_test(test_errors_leave_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
