/*
 * conv_ref.c - a naive reference convolution: seven nested loops straight
 * from the definition in kernels.h, no blocking, no packing, no SIMD.
 *
 * Why: it is the numerical yardstick the backends' fast kernels are tested
 * against, and it must be obviously correct rather than fast. Accumulation
 * is in double so that its own rounding error is far below the tolerance
 * the fast kernels are held to.
 */
#include "nn/nn_internal.h"

#include <math.h>

static float activate(const fa_nn_conv_params *p, float v) {
    switch (p->act) {
    case FA_NN_ACT_RELU: return v > 0 ? v : 0;
    case FA_NN_ACT_LEAKY: return v < 0 ? p->alpha * v : v;
    case FA_NN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    default: return v;
    }
}

/* One output value: the dot product of the window at (oh, ow) with filter oc. */
static double conv_point(const fa_nn_conv_params *p, const float *in_n, const float *w, int oc, int oh,
                         int ow) {
    int cpg = p->c_in / p->groups, g = oc / (p->c_out / p->groups);
    double acc = 0;
    for (int ic = 0; ic < cpg; ic++) {
        const float *plane = in_n + (size_t)(g * cpg + ic) * p->h_in * p->w_in;
        const float *filt = w + ((size_t)oc * cpg + ic) * p->kh * p->kw;
        for (int ky = 0; ky < p->kh; ky++) {
            int y = oh * p->stride_h - p->pad_t + ky * p->dil_h;
            if (y < 0 || y >= p->h_in) continue;
            for (int kx = 0; kx < p->kw; kx++) {
                int x = ow * p->stride_w - p->pad_l + kx * p->dil_w;
                if (x >= 0 && x < p->w_in)
                    acc += (double)plane[(size_t)y * p->w_in + x] * filt[ky * p->kw + kx];
            }
        }
    }
    return acc;
}

void fa_nn_conv_reference(const fa_nn_conv_params *p, const float *in, const float *w, const float *b,
                          float *out) {
    for (int n = 0; n < p->n; n++) {
        const float *in_n = in + (size_t)n * p->c_in * p->h_in * p->w_in;
        for (int oc = 0; oc < p->c_out; oc++)
            for (int oh = 0; oh < p->h_out; oh++)
                for (int ow = 0; ow < p->w_out; ow++) {
                    double v = conv_point(p, in_n, w, oc, oh, ow) + (b ? b[oc] : 0.0);
                    out[(((size_t)n * p->c_out + oc) * p->h_out + oh) * p->w_out + ow] =
                        activate(p, (float)v);
                }
    }
}
