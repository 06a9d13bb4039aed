/*
 * kernels.h - internal to src/nn: the compute kernels every graph runs on,
 * behind one small interface with two implementations (issue 5):
 *   - native: our own portable C, with AVX2/FMA paths chosen at run time
 *     when the CPU has them (and AVX-512 VNNI for int8 when present), the
 *     fallback and the numerical reference;
 *   - onednn: oneDNN's primitives (Debian libdnnl-dev 2.6, C API), compiled
 *     when FA_WITH_ONEDNN, the fast path.
 * A graph node never calls a kernel directly: it asks the backend for a
 * prepared operator (weights packed once, at load), then runs it per
 * inference with its input, output and a scratch workspace. Tensors are
 * NCHW float32 at this face (int8 NCHW where an int8 op is prepared to
 * take or give int8, see fa_nn_int8_scales); a backend may keep weights in
 * its own layout (blocked, int8 with per-channel scales, fp16) behind the
 * prepared op.
 *
 * Threads: prepare is single-threaded (load time); run may split its work
 * with the parallel-for it is given (the process thread pool), and several
 * runs of one prepared op may happen at once on different threads with
 * different workspaces: a prepared op is read-only after prepare.
 */
#ifndef FA_NN_KERNELS_H
#define FA_NN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Work splitting: run fn(arg, i) for every i in [0, n), possibly on
 * several threads, returning when all are done. NULL: one thread. */
typedef struct fa_nn_parallel {
    void (*for_each)(void *ud, size_t n, void (*fn)(void *arg, size_t i), void *arg);
    void *ud;
    int threads; /* how many run at once (1 when for_each is NULL) */
} fa_nn_parallel;

typedef enum fa_nn_act {
    FA_NN_ACT_NONE = 0,
    FA_NN_ACT_RELU,
    FA_NN_ACT_LEAKY, /* x < 0 ? alpha * x : x */
    FA_NN_ACT_SIGMOID
} fa_nn_act;

/* A 2-D convolution (grouped, dilated, strided, asymmetric padding) with
 * bias and a fused activation: out = act(conv(in, w) + b). Depthwise is
 * groups == c_in == c_out. Shapes: in [n, c_in, h_in, w_in], weights
 * [c_out, c_in / groups, kh, kw], bias [c_out] (may be NULL), out
 * [n, c_out, h_out, w_out] where h_out = (h_in + pad_t + pad_b -
 * dil_h * (kh - 1) - 1) / stride_h + 1 (the caller computes and passes it). */
typedef struct fa_nn_conv_params {
    int n, c_in, h_in, w_in;
    int c_out, h_out, w_out;
    int kh, kw, stride_h, stride_w, dil_h, dil_w;
    int pad_t, pad_l, pad_b, pad_r;
    int groups;
    fa_nn_act act;
    float alpha; /* FA_NN_ACT_LEAKY's slope */
} fa_nn_conv_params;

typedef enum fa_nn_precision {
    FA_NN_FP32 = 0,
    FA_NN_INT8 = 1, /* weights int8 per output channel, activations int8 per tensor (scales given) */
    FA_NN_FP16 = 2  /* weights stored fp16 (half the memory), computed in fp32 */
} fa_nn_precision;

/* What an int8 convolution needs beyond the fp32 weights: the activation
 * scale of its input and of its output (symmetric, zero point 0: real =
 * scale * q, q in -127..127), from calibration. Weight scales are per
 * output channel: w_scales when given (the quantised model file's), else
 * max |w| / 127 computed at prepare; weights are quantised to
 * round(w / scale) clamped to -127..127.
 * in_s8 / out_s8 choose the tensors the op reads and writes: 0 (the
 * default) fp32 NCHW, quantised / dequantised inside the op; 1 int8 NCHW
 * (signed char, real = scale * q), so consecutive int8 convolutions pass
 * int8 tensors to each other and nothing is converted in between. */
typedef struct fa_nn_int8_scales {
    float in_scale, out_scale;
    int in_s8, out_s8;
    const float *w_scales; /* [c_out] or NULL */
} fa_nn_int8_scales;

typedef struct fa_nn_conv fa_nn_conv; /* a prepared convolution */

/* A backend: a name and its operators. */
typedef struct fa_nn_backend {
    const char *name; /* "native", "onednn" */
    /* Prepares (packs, converts, quantises) the weights. scales is needed
     * for FA_NN_INT8 and ignored otherwise. NULL with the error set:
     * FA_EINVAL (a shape the backend cannot do, named), FA_ENOMEM. */
    fa_nn_conv *(*conv_prepare)(const fa_nn_conv_params *p, fa_nn_precision prec, const float *weights,
                                const float *bias, const fa_nn_int8_scales *scales);
    /* Scratch bytes one run needs (0 allowed). The size may depend on
     * par->threads: conv_run must then get a par with no more threads. */
    size_t (*conv_workspace)(const fa_nn_conv *c, const fa_nn_parallel *par);
    /* Runs it: in and out are NCHW, fp32 (float) except where an int8 op
     * was prepared with in_s8 / out_s8 (then signed char). 0 or < 0. */
    int (*conv_run)(const fa_nn_conv *c, const void *in, void *out, void *workspace,
                    const fa_nn_parallel *par);
    /* Bytes of weights held (model memory, for the model cache's budget). */
    size_t (*conv_bytes)(const fa_nn_conv *c);
    void (*conv_free)(fa_nn_conv *c);
} fa_nn_backend;

/* Validates p for any backend (conv_check.c): every dimension 1..65536,
 * paddings 0..65536, groups dividing c_in and c_out, h_out / w_out equal
 * to what the input, kernel, stride, dilation and padding give, kh * kw
 * <= 65536, a known activation, a finite leaky slope. 0, or FA_EINVAL
 * with "<who> conv: field '<name>': expected ..., got ..." (p NULL too). */
int fa_nn_conv_check(const char *who, const fa_nn_conv_params *p);

/* The native backend (always present). */
const fa_nn_backend *fa_nn_backend_native(void);
/* The oneDNN backend, or NULL when built without it. */
const fa_nn_backend *fa_nn_backend_onednn(void);

/* CPU features the native kernels found ("avx2 fma avx512vnni", or ""). */
const char *fa_nn_cpu_features(void);

#endif
