/*
 * conv_check.c - the validation of a convolution's parameters that every
 * backend of kernels.h does before it prepares anything: one function, so
 * the native and the oneDNN backends accept exactly the same shapes and
 * word their refusals the same way (they used to carry two copies that
 * had drifted apart: different limits, different messages).
 *
 * Limits: every dimension 1..65536 and every padding 0..65536, so sizes
 * computed from them stay far from overflow; kh * kw <= 65536; groups
 * divides c_in and c_out; h_out and w_out are the ones the input, kernel,
 * stride, dilation and padding give; a fused activation is one of the
 * four and a leaky slope is finite.
 */
#include <math.h>
#include <stdio.h>

#include "nn/kernels.h"

#define CONV_DIM_MAX (1 << 16)

static int bad_field(const char *who, const char *field, const char *expected, long got) {
    return fa_err_set(FA_EINVAL, "%s conv: field '%s': expected %s, got %ld", who, field, expected, got);
}

static int check_range(const char *who, const char *field, int v, int lo) {
    if (v < lo || v > CONV_DIM_MAX)
        return fa_err_set(FA_EINVAL, "%s conv: field '%s': expected %d..%d, got %d", who, field, lo,
                          CONV_DIM_MAX, v);
    return 0;
}

static int check_dims(const char *who, const fa_nn_conv_params *p) {
    const char *names[] = {"n", "c_in", "h_in", "w_in", "c_out", "h_out", "w_out", "kh", "kw",
                           "stride_h", "stride_w", "dil_h", "dil_w", "groups"};
    const int vals[] = {p->n, p->c_in, p->h_in, p->w_in, p->c_out, p->h_out, p->w_out, p->kh, p->kw,
                        p->stride_h, p->stride_w, p->dil_h, p->dil_w, p->groups};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        if (check_range(who, names[i], vals[i], 1) < 0) return FA_EINVAL;
    const char *pads[] = {"pad_t", "pad_l", "pad_b", "pad_r"};
    const int pvals[] = {p->pad_t, p->pad_l, p->pad_b, p->pad_r};
    for (size_t i = 0; i < 4; i++)
        if (check_range(who, pads[i], pvals[i], 0) < 0) return FA_EINVAL;
    return 0;
}

/* The output size along one axis, or -1 when the filter does not fit. */
static long out_size(int in, int pad0, int pad1, int dil, int k, int stride) {
    long span = (long)in + pad0 + pad1 - (long)dil * (k - 1) - 1;
    return span < 0 ? -1 : span / stride + 1;
}

static int check_shape(const char *who, const fa_nn_conv_params *p) {
    char want[96];
    if (p->c_in % p->groups != 0 || p->c_out % p->groups != 0) {
        snprintf(want, sizeof want, "a divisor of c_in (%d) and c_out (%d)", p->c_in, p->c_out);
        return bad_field(who, "groups", want, p->groups);
    }
    long ho = out_size(p->h_in, p->pad_t, p->pad_b, p->dil_h, p->kh, p->stride_h);
    long wo = out_size(p->w_in, p->pad_l, p->pad_r, p->dil_w, p->kw, p->stride_w);
    if (ho != p->h_out) {
        snprintf(want, sizeof want, "%ld from h_in, pad_t, pad_b, dil_h, kh, stride_h", ho);
        return bad_field(who, "h_out", want, p->h_out);
    }
    if (wo != p->w_out) {
        snprintf(want, sizeof want, "%ld from w_in, pad_l, pad_r, dil_w, kw, stride_w", wo);
        return bad_field(who, "w_out", want, p->w_out);
    }
    if ((long)p->kh * p->kw > CONV_DIM_MAX) return bad_field(who, "kh", "kh * kw <= 65536", p->kh);
    if (p->act < FA_NN_ACT_NONE || p->act > FA_NN_ACT_SIGMOID)
        return bad_field(who, "act", "NONE, RELU, LEAKY or SIGMOID", (long)p->act);
    if (p->act == FA_NN_ACT_LEAKY && !isfinite(p->alpha))
        return fa_err_set(FA_EINVAL, "%s conv: field 'alpha': expected a finite slope, got %g", who,
                          (double)p->alpha);
    return 0;
}

/* Contract in kernels.h. */
int fa_nn_conv_check(const char *who, const fa_nn_conv_params *p) {
    if (!p) return fa_err_set(FA_EINVAL, "%s conv: params: expected a pointer, got NULL", who);
    if (check_dims(who, p) < 0) return FA_EINVAL;
    return check_shape(who, p);
}
