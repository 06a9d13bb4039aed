/*
 * calib_lines.c - automatic refinement of a calibration on the pitch lines.
 *
 * The model's markings (touchlines, goal lines, halfway line, boxes, centre
 * circle, penalty arcs) are sampled every half metre and projected with the
 * current calibration. From each projected sample we search along the
 * line's image normal for the strongest thin bright ridge on green grass
 * (a pixel brighter than both neighbours a few pixels away, one of them
 * green): that is the observed line pixel. Then an 8-parameter image-side
 * homography correction A (H' = A H) is fitted by Levenberg-Marquardt to
 * the signed normal distances, with robust trimming, the manual points kept
 * in the fit, and the search repeated with a shrinking radius.
 *
 * Why so: a model-based search along normals (as in RAPiD-style trackers)
 * needs no Hough transform or line grouping, copes with curved (distorted)
 * lines because the model is projected through the lens model, and its
 * outcome is checkable: the refinement is kept only when the RMS distance
 * of line pixels to the projected lines goes down with as many lines found.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vision/calib.h"

typedef struct sample {
    double x, y;   /* pitch metres */
    double tx, ty; /* unit tangent on the pitch */
    double nu, nv; /* image normal at the last search */
    double qu, qv; /* line pixel found */
    int found;
} sample;

typedef struct samples {
    sample *s;
    size_t n, cap;
} samples;

static int push(samples *ss, double x, double y, double tx, double ty) {
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? 2 * ss->cap : 1024;
        sample *p = fa_realloc(ss->s, cap * sizeof *p);
        if (!p) return FA_ENOMEM;
        ss->s = p, ss->cap = cap;
    }
    sample *s = &ss->s[ss->n++];
    memset(s, 0, sizeof *s);
    s->x = x, s->y = y, s->tx = tx, s->ty = ty;
    return 0;
}

#define STEP_M 0.5
#define NP 10 /* 8 for the image-side homography correction, then dk1, dk2 */

static int add_segment(samples *ss, double x0, double y0, double x1, double y1) {
    double len = hypot(x1 - x0, y1 - y0);
    int n = (int)(len / STEP_M);
    for (int i = 0; i <= n; i++) {
        double t = n ? (double)i / n : 0;
        int rc = push(ss, x0 + t * (x1 - x0), y0 + t * (y1 - y0), (x1 - x0) / len, (y1 - y0) / len);
        if (rc) return rc;
    }
    return 0;
}

/* Arc of radius r about (cx, cy) for |x - cx| direction filtered by keep(x). */
static int add_arc(samples *ss, double cx, double cy, double r, double xmin, double xmax) {
    int n = (int)(2 * M_PI * r / STEP_M);
    for (int i = 0; i < n; i++) {
        double a = 2 * M_PI * i / n, x = cx + r * cos(a), y = cy + r * sin(a);
        if (x < xmin || x > xmax) continue;
        int rc = push(ss, x, y, -sin(a), cos(a));
        if (rc) return rc;
    }
    return 0;
}

static int build_model(const fa_pitch *p, samples *ss) {
    double L = p->length / 2, W = p->width / 2;
    int rc = add_segment(ss, -L, -W, L, -W) | add_segment(ss, -L, W, L, W) | add_segment(ss, 0, -W, 0, W) |
             add_arc(ss, 0, 0, 9.15, -100, 100);
    for (int s = -1; s <= 1 && !rc; s += 2) {
        double g = s * L, pb = s * (L - 16.5), ga = s * (L - 5.5);
        rc |= add_segment(ss, g, -W, g, W);
        rc |= add_segment(ss, pb, -20.16, pb, 20.16) | add_segment(ss, g, -20.16, pb, -20.16) |
              add_segment(ss, g, 20.16, pb, 20.16);
        rc |= add_segment(ss, ga, -9.16, ga, 9.16) | add_segment(ss, g, -9.16, ga, -9.16) |
              add_segment(ss, g, 9.16, ga, 9.16);
        double spot = s * (L - 11);
        rc |= s < 0 ? add_arc(ss, spot, 0, 9.15, pb, 1e9) : add_arc(ss, spot, 0, 9.15, -1e9, pb);
    }
    return rc ? FA_ENOMEM : 0;
}

/* ------------------------------------------------------------ the picture */

typedef struct picture {
    const fa_image *img;
    float *luma;
    int w, h;
} picture;

static double luma_at(const picture *pc, double u, double v) {
    if (u < 0 || v < 0 || u > pc->w - 1.001 || v > pc->h - 1.001) return -1;
    int x = (int)u, y = (int)v;
    double fx = u - x, fy = v - y;
    const float *r0 = pc->luma + (size_t)y * (size_t)pc->w + x, *r1 = r0 + pc->w;
    return (1 - fy) * ((1 - fx) * r0[0] + fx * r0[1]) + fy * ((1 - fx) * r1[0] + fx * r1[1]);
}

static int green_at(const picture *pc, double u, double v) {
    int x = (int)(u + 0.5), y = (int)(v + 0.5);
    if (x < 0 || y < 0 || x >= pc->w || y >= pc->h) return 0;
    const uint8_t *p = pc->img->rgb + (size_t)y * pc->img->stride + 3 * (size_t)x;
    return p[1] > p[0] + 4 && p[1] >= p[2];
}

/* Ridge strength at q: brighter than both pixels `half` away along n. */
static double ridge(const picture *pc, double u, double v, double nu, double nv, double half) {
    double c = luma_at(pc, u, v), a = luma_at(pc, u - half * nu, v - half * nv),
           b = luma_at(pc, u + half * nu, v + half * nv);
    if (c < 0 || a < 0 || b < 0) return 0;
    if (!green_at(pc, u - half * nu, v - half * nv) && !green_at(pc, u + half * nu, v + half * nv)) return 0;
    return fmin(c - a, c - b);
}

#define RIDGE_MIN 18.0

/* Searches along the normal of sample s projected with c; 1 when found. */
static int search(const fa_calib *c, const picture *pc, sample *s, double radius, double half) {
    double u0, v0, u1, v1;
    s->found = 0;
    if (fa_calib_pitch_to_image(c, s->x, s->y, &u0, &v0) ||
        fa_calib_pitch_to_image(c, s->x + 0.05 * s->tx, s->y + 0.05 * s->ty, &u1, &v1))
        return 0;
    double tl = hypot(u1 - u0, v1 - v0);
    if (!(tl > 1e-9)) return 0;
    s->nu = -(v1 - v0) / tl, s->nv = (u1 - u0) / tl;
    double best = RIDGE_MIN, best_s = 0, prev = 0, next = 0;
    int n = (int)radius;
    for (int k = -n; k <= n; k++) {
        double r = ridge(pc, u0 + k * s->nu, v0 + k * s->nv, s->nu, s->nv, half);
        if (r > best) {
            best = r, best_s = k, s->found = 1;
            prev = ridge(pc, u0 + (k - 1) * s->nu, v0 + (k - 1) * s->nv, s->nu, s->nv, half);
            next = ridge(pc, u0 + (k + 1) * s->nu, v0 + (k + 1) * s->nv, s->nu, s->nv, half);
        }
    }
    if (!s->found) return 0;
    double den = prev - 2 * best + next;
    double off = den < 0 ? 0.5 * (prev - next) / den : 0;
    if (fabs(off) > 1) off = 0;
    s->qu = u0 + (best_s + off) * s->nu, s->qv = v0 + (best_s + off) * s->nv;
    return 1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Searches every sample; returns the line error: the RMS normal distance of
 * the best 80% of the samples with a line pixel found (the rest are other
 * markings, players or shadows near the line), *matched their count. */
static double search_all(const fa_calib *c, const picture *pc, samples *ss, double radius, double half,
                         size_t *matched, size_t *inside) {
    *matched = 0;
    if (inside) *inside = 0;
    double *d = fa_malloc((ss->n + 1) * sizeof *d);
    if (!d) return INFINITY;
    for (size_t i = 0; i < ss->n; i++) {
        double u, v;
        if (inside && fa_calib_pitch_to_image(c, ss->s[i].x, ss->s[i].y, &u, &v) == 0) (*inside)++;
        if (!search(c, pc, &ss->s[i], radius, half)) continue;
        fa_calib_pitch_to_image(c, ss->s[i].x, ss->s[i].y, &u, &v);
        d[(*matched)++] = fabs((u - ss->s[i].qu) * ss->s[i].nu + (v - ss->s[i].qv) * ss->s[i].nv);
    }
    qsort(d, *matched, sizeof *d, cmp_double);
    size_t keep = (*matched * 4 + 4) / 5;
    double s2 = 0;
    for (size_t i = 0; i < keep && i < *matched; i++)
        s2 += d[i] * d[i];
    free(d);
    return keep ? sqrt(s2 / (double)keep) : INFINITY;
}

/* ------------------------------------------------------------ the fit */

typedef struct fit {
    const fa_calib *c0; /* the calibration being refined */
    samples *ss;
    double N[9], Ninv[9]; /* image normalisation: centre, scale by norm */
    double gate;          /* residuals beyond this are dropped (robust trimming) */
    double point_weight;  /* weight of a manual point's residuals against one line sample's */
} fit;

static void mul3(const double a[9], const double b[9], double o[9]) {
    double t[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            t[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
    memcpy(o, t, sizeof t);
}

static void corrected(const fit *f, const double th[NP], fa_calib *c) {
    double A[9] = {1 + th[0], th[1], th[2], th[3], 1 + th[4], th[5], th[6], th[7], 1};
    *c = *f->c0;
    mul3(A, f->N, A);
    mul3(f->Ninv, A, A);
    mul3(A, f->c0->H, c->H);
    c->k1 = f->c0->k1 + th[8], c->k2 = f->c0->k2 + th[9];
    c->r_valid = 20; /* the fold is checked by fa_calib_set on the result */
}

/* Residuals: line samples (normal distance, 0 when trimmed) then points. */
static int fit_residuals(const fit *f, const double th[NP], double *res, size_t m) {
    fa_calib c;
    size_t k = 0;
    corrected(f, th, &c);
    for (size_t i = 0; i < f->ss->n; i++) {
        const sample *s = &f->ss->s[i];
        if (!s->found) continue;
        double u, v;
        if (fa_calib_pitch_to_image(&c, s->x, s->y, &u, &v) & FA_CALIB_ABOVE_HORIZON) return -1;
        double d = (u - s->qu) * s->nu + (v - s->qv) * s->nv;
        res[k++] = fabs(d) <= f->gate ? d : 0;
    }
    for (size_t i = 0; i < c.npoints && k + 1 < m; i++) {
        double u, v;
        if (fa_calib_pitch_to_image(&c, c.points[i].x, c.points[i].y, &u, &v) & FA_CALIB_ABOVE_HORIZON)
            return -1;
        res[k++] = f->point_weight * (u - c.points[i].u);
        res[k++] = f->point_weight * (v - c.points[i].v);
    }
    return 0;
}

static double sum_sq(const double *r, size_t m) {
    double s = 0;
    for (size_t i = 0; i < m; i++)
        s += r[i] * r[i];
    return s;
}

/* Gaussian elimination on the NP x NP normal equations. */
static int solve_np(double A[NP * NP], double b[NP], double x[NP]) {
    for (int c = 0; c < NP; c++) {
        int p = c;
        for (int r = c + 1; r < NP; r++)
            if (fabs(A[r * NP + c]) > fabs(A[p * NP + c])) p = r;
        if (!(fabs(A[p * NP + c]) > 1e-300)) return -1;
        for (int k = 0; k < NP; k++) {
            double t = A[c * NP + k];
            A[c * NP + k] = A[p * NP + k], A[p * NP + k] = t;
        }
        double t = b[c];
        b[c] = b[p], b[p] = t;
        for (int r = c + 1; r < NP; r++) {
            double q = A[r * NP + c] / A[c * NP + c];
            for (int k = c; k < NP; k++)
                A[r * NP + k] -= q * A[c * NP + k];
            b[r] -= q * b[c];
        }
    }
    for (int r = NP - 1; r >= 0; r--) {
        double s = b[r];
        for (int k = r + 1; k < NP; k++)
            s -= A[r * NP + k] * x[k];
        x[r] = s / A[r * NP + r];
    }
    return 0;
}

/* LM on th[NP]; res, rp, rm, J are scratch of m (J: NP m). */
static void fit_lm(const fit *f, double th[NP], size_t m, double *res, double *rp, double *rm, double *J) {
    double lambda = 1e-3;
    if (fit_residuals(f, th, res, m)) return;
    double cost = sum_sq(res, m);
    for (int it = 0; it < 50 && lambda < 1e10; it++) {
        for (int j = 0; j < NP; j++) {
            double save = th[j], h = 1e-7;
            th[j] = save + h;
            int bad = fit_residuals(f, th, rp, m);
            th[j] = save - h;
            bad |= fit_residuals(f, th, rm, m);
            th[j] = save;
            if (bad) return;
            for (size_t i = 0; i < m; i++)
                J[i * NP + (size_t)j] = (rp[i] - rm[i]) / (2 * h);
        }
        double A[NP * NP], g[NP];
        for (int a = 0; a < NP; a++) {
            g[a] = 0;
            for (size_t i = 0; i < m; i++)
                g[a] -= J[i * NP + (size_t)a] * res[i];
            for (int b = 0; b < NP; b++) {
                double s = 0;
                for (size_t i = 0; i < m; i++)
                    s += J[i * NP + (size_t)a] * J[i * NP + (size_t)b];
                A[a * NP + b] = s;
            }
        }
        for (;;) {
            double A2[NP * NP], g2[NP], step[NP], trial[NP];
            memcpy(A2, A, sizeof A), memcpy(g2, g, sizeof g);
            for (int a = 0; a < NP; a++)
                A2[a * NP + a] += lambda * (A[a * NP + a] + 1e-9);
            if (solve_np(A2, g2, step) == 0) {
                for (int a = 0; a < NP; a++)
                    trial[a] = th[a] + step[a];
                double tc = fit_residuals(f, trial, rp, m) ? INFINITY : sum_sq(rp, m);
                if (tc < cost) {
                    double gain = cost - tc;
                    memcpy(th, trial, sizeof trial), memcpy(res, rp, m * sizeof *res);
                    cost = tc, lambda = fmax(lambda / 10, 1e-12);
                    if (gain < 1e-10 * cost) return;
                    break;
                }
            }
            lambda *= 10;
            if (lambda >= 1e10) return;
        }
    }
}

/* The manual points together weigh half as much as all the line pixels: the
 * lines pin the shape (and the lens), the points keep hand-read landmarks
 * from being traded for a slightly better line fit (on the SoccerTrack frame:
 * line error 1.82 -> 1.88 px, point error 5.2 -> 4.6 px RMS). */
static double point_weight(size_t matched, size_t npoints) {
    return npoints ? sqrt((double)matched / (double)(4 * npoints)) : 0;
}

static int refine_round(fa_calib *c, const picture *pc, samples *ss, double radius, double half) {
    size_t matched;
    search_all(c, pc, ss, radius, half, &matched, NULL);
    if (matched < 8) return 0;
    fit f = {.c0 = c, .ss = ss, .gate = radius, .point_weight = point_weight(matched, c->npoints)};
    double s = 1 / c->norm;
    double N[9] = {s, 0, -s * c->cx, 0, s, -s * c->cy, 0, 0, 1},
           Ninv[9] = {c->norm, 0, c->cx, 0, c->norm, c->cy, 0, 0, 1};
    memcpy(f.N, N, sizeof N), memcpy(f.Ninv, Ninv, sizeof Ninv);
    size_t m = matched + 2 * c->npoints;
    double *buf = fa_malloc(m * (3 + NP) * sizeof *buf);
    if (!buf) return FA_ENOMEM;
    double th[NP] = {0};
    for (int pass = 0; pass < 2; pass++) { /* second pass trims at 2.5 x the RMS of the first */
        fit_lm(&f, th, m, buf, buf + m, buf + 2 * m, buf + 3 * m);
        fit_residuals(&f, th, buf, m);
        double rms = sqrt(sum_sq(buf, matched) / (double)matched);
        f.gate = fmax(2.5 * rms, 1.0);
    }
    fa_calib nc;
    corrected(&f, th, &nc);
    free(buf);
    if (fa_calib_set(&nc, nc.H, nc.k1, nc.k2) == 0) *c = nc;
    fa_err_clear();
    return 0;
}

static int make_picture(const fa_image *img, picture *pc) {
    pc->img = img, pc->w = img->w, pc->h = img->h;
    pc->luma = fa_malloc((size_t)img->w * (size_t)img->h * sizeof *pc->luma);
    if (!pc->luma) return FA_ENOMEM;
    for (int y = 0; y < img->h; y++) {
        const uint8_t *p = img->rgb + (size_t)y * img->stride;
        float *o = pc->luma + (size_t)y * (size_t)img->w;
        for (int x = 0; x < img->w; x++, p += 3)
            o[x] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
    }
    return 0;
}

int fa_calib_refine_lines(fa_calib *c, const fa_image *img, fa_calib_refine_stats *st) {
    memset(st, 0, sizeof *st);
    if (!img || !img->rgb || img->w != c->img_w || img->h != c->img_h)
        return fa_err_set(FA_EINVAL,
                          "calibration refinement: frame %dx%d does not match the calibration's %dx%d",
                          img ? img->w : 0, img ? img->h : 0, c->img_w, c->img_h);
    samples ss = {0};
    picture pc;
    int rc = build_model(&c->pitch, &ss);
    if (!rc) rc = make_picture(img, &pc);
    if (rc) {
        free(ss.s);
        return rc;
    }
    double radius = fmax(8, c->img_w / 150.0), half = fmax(3, c->img_w / 512.0);
    st->err_before = search_all(c, &pc, &ss, radius, half, &st->matched_before, &st->samples);
    fa_calib work = *c;
    for (int round = 0; round < 4 && !rc; round++)
        rc = refine_round(&work, &pc, &ss, radius / (1 << (round / 2)), half);
    if (!rc) {
        st->err_after = search_all(&work, &pc, &ss, radius, half, &st->matched_after, NULL);
        if (st->matched_before < 8)
            rc = fa_err_set(FA_EINVAL,
                            "calibration refinement: only %zu line pixels found near "
                            "the projected pitch lines",
                            st->matched_before);
    }
    if (!rc && st->err_after < st->err_before && st->matched_after * 10 >= st->matched_before * 9) {
        *c = work;
        c->distortion_fitted = 1;
        st->accepted = 1;
    }
    free(pc.luma);
    free(ss.s);
    return rc;
}
