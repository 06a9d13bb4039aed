/*
 * calib_motion.c - global image motion between two frames and propagation
 * of a calibration to a moving camera.
 *
 * Motion is estimated by phase correlation: both frames are reduced to grey
 * images of at most 512 x 256 (box averaging by an integer factor), mean
 * removed and Hann-windowed, transformed by a radix-2 FFT; the normalised
 * cross-power spectrum's inverse has a peak at the translation, refined to
 * sub-pixel by a parabola through its neighbours.
 *
 * Why so: phase correlation is global (every pixel votes), insensitive to
 * brightness changes, and robust to the players, who move but cover a small
 * part of the picture; it needs no features, no matching and no library,
 * and a fixed camera gives a sharp peak at (0, 0), so "no motion" is
 * measurable. A translation is the first-order model of a small pan/tilt;
 * zoom or roll would need ECC on a full homography (not done here).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vision/calib.h"

#define FW 512
#define FH 256

/* In-place iterative radix-2 FFT of n complex values (re, im interleaved),
 * stride in complex elements; inverse when inv. */
static void fft1(double *d, int n, int stride, int inv) {
    for (int i = 1, j = 0; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double *a = d + 2 * (size_t)i * (size_t)stride, *b = d + 2 * (size_t)j * (size_t)stride;
            double tr = a[0], ti = a[1];
            a[0] = b[0], a[1] = b[1], b[0] = tr, b[1] = ti;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        double ang = 2 * M_PI / len * (inv ? 1 : -1);
        for (int i = 0; i < n; i += len)
            for (int k = 0; k < len / 2; k++) {
                double wr = cos(ang * k), wi = sin(ang * k);
                double *a = d + 2 * (size_t)(i + k) * (size_t)stride,
                       *b = d + 2 * (size_t)(i + k + len / 2) * (size_t)stride;
                double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
                b[0] = a[0] - br, b[1] = a[1] - bi;
                a[0] += br, a[1] += bi;
            }
    }
}

static void fft2(double *d, int inv) {
    for (int y = 0; y < FH; y++)
        fft1(d + 2 * (size_t)y * FW, FW, 1, inv);
    for (int x = 0; x < FW; x++)
        fft1(d + 2 * (size_t)x, FH, FW, inv);
}

/* Grey, box-downscaled by f, mean removed, Hann-windowed, centred in the
 * FW x FH complex array d (zeroed by the caller). */
static void prepare(const fa_image *img, int f, double *d) {
    int dw = img->w / f, dh = img->h / f, ox = (FW - dw) / 2, oy = (FH - dh) / 2;
    double mean = 0;
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            double s = 0;
            for (int yy = 0; yy < f; yy++) {
                const uint8_t *p = img->rgb + (size_t)(y * f + yy) * img->stride + 3 * (size_t)(x * f);
                for (int xx = 0; xx < f; xx++, p += 3)
                    s += 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
            }
            d[2 * ((size_t)(y + oy) * FW + (size_t)(x + ox))] = s / (f * f);
            mean += s / (f * f);
        }
    mean /= (double)dw * dh;
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            double wy = 0.5 - 0.5 * cos(2 * M_PI * (y + 0.5) / dh),
                   wx = 0.5 - 0.5 * cos(2 * M_PI * (x + 0.5) / dw);
            double *p = &d[2 * ((size_t)(y + oy) * FW + (size_t)(x + ox))];
            *p = (*p - mean) * wx * wy;
        }
}

static double at(const double *d, int x, int y) {
    x = (x + FW) % FW, y = (y + FH) % FH;
    return d[2 * ((size_t)y * FW + (size_t)x)];
}

static double parabola(double a, double b, double c) {
    double den = a - 2 * b + c;
    double o = den < 0 ? 0.5 * (a - c) / den : 0;
    return fabs(o) <= 1 ? o : 0;
}

int fa_calib_motion_estimate(const fa_image *prev, const fa_image *next, fa_calib_motion *m) {
    memset(m, 0, sizeof *m);
    if (!prev || !next || !prev->rgb || !next->rgb || prev->w != next->w || prev->h != next->h)
        return fa_err_set(FA_EINVAL, "motion: frames of different sizes (%dx%d, %dx%d)", prev ? prev->w : 0,
                          prev ? prev->h : 0, next ? next->w : 0, next ? next->h : 0);
    if (prev->w < 32 || prev->h < 32)
        return fa_err_set(FA_EINVAL, "motion: frame %dx%d is too small (32x32 at least)", prev->w, prev->h);
    int f = (int)ceil(fmax((double)prev->w / FW, (double)prev->h / FH));
    if (f < 1) f = 1;
    if (prev->w / f < 16 || prev->h / f < 16)
        return fa_err_set(FA_EINVAL,
                          "motion: frame %dx%d is too elongated (each side 1/32 of the other at least)",
                          prev->w, prev->h);
    double *a = fa_calloc(4 * (size_t)FW * FH, sizeof *a), *b = a ? a + 2 * (size_t)FW * FH : NULL;
    if (!a) return FA_ENOMEM;
    prepare(prev, f, a);
    prepare(next, f, b);
    fft2(a, 0);
    fft2(b, 0);
    for (size_t i = 0; i < (size_t)FW * FH; i++) { /* conj(A) * B, normalised */
        double re = a[2 * i] * b[2 * i] + a[2 * i + 1] * b[2 * i + 1];
        double im = a[2 * i] * b[2 * i + 1] - a[2 * i + 1] * b[2 * i];
        double mag = hypot(re, im);
        a[2 * i] = mag > 1e-12 ? re / mag : 0;
        a[2 * i + 1] = mag > 1e-12 ? im / mag : 0;
    }
    fft2(a, 1);
    int px = 0, py = 0;
    for (int y = 0; y < FH; y++)
        for (int x = 0; x < FW; x++)
            if (at(a, x, y) > at(a, px, py)) px = x, py = y;
    double sx = px + parabola(at(a, px - 1, py), at(a, px, py), at(a, px + 1, py));
    double sy = py + parabola(at(a, px, py - 1), at(a, px, py), at(a, px, py + 1));
    if (sx > FW / 2) sx -= FW;
    if (sy > FH / 2) sy -= FH;
    m->peak = at(a, px, py) / ((double)FW * FH);
    m->dx = sx * f, m->dy = sy * f, m->scale = f;
    free(a);
    return 0;
}

int fa_calib_propagate(const fa_calib *c, const fa_image *prev, const fa_image *next, fa_calib *out,
                       fa_calib_motion *m) {
    fa_calib_motion local;
    if (!m) m = &local;
    int rc = fa_calib_motion_estimate(prev, next, m);
    if (rc) return rc;
    if (out != c) *out = *c;
    /* T(d) * H, and the distortion centre and the points moved with the picture */
    for (int j = 0; j < 3; j++) {
        out->H[j] += m->dx * out->H[6 + j];
        out->H[3 + j] += m->dy * out->H[6 + j];
    }
    out->cx += m->dx, out->cy += m->dy;
    for (size_t i = 0; i < out->npoints; i++)
        out->points[i].u += m->dx, out->points[i].v += m->dy;
    double H[9];
    memcpy(H, out->H, sizeof H);
    return fa_calib_set(out, H, out->k1, out->k2);
}
