/*
 * onednn.c - the oneDNN backend behind kernels.h (issue 5): convolutions
 * run by oneDNN's JIT primitives (Debian libdnnl 2.6, C API).
 *
 * Why it is built this way:
 *   - Everything is decided at prepare: the convolution primitive is
 *     created with weights (and src/dst) in format "any", so oneDNN picks
 *     its blocked layouts (nChw16c, OIhw16i16o ... on AVX-512); the user's
 *     OIHW / GOIHW weights are reordered into that layout once; when the
 *     primitive wants src or dst in another layout than plain NCHW f32 a
 *     reorder primitive is made for each, and run converts in and out
 *     through buffers in the caller's workspace. Blocked layouts plus the two
 *     reorders beat plain NCHW on this CPU (Xeon with AVX-512/AMX, 1 thread:
 *     1.7-11x for fp32 on NanoDet-m layers; int8 with NCHW src falls back to
 *     reference kernels, 100x+ slower).
 *   - A prepared op is read-only and may run on several threads at once:
 *     every primitive is created with dnnl_scratchpad_mode_user, so all
 *     temporary memory of a run lives in the caller's workspace, laid out
 *     [scratchpad (max over the primitives) | src buffer | dst buffer];
 *     the memory objects that wrap in/out and the stream are created per
 *     run (both are small mallocs, cheap against any real convolution) so
 *     nothing mutable is shared. One engine per prepared op: a CPU engine is
 *     a small object and primitives must run on the engine they came from.
 *   - Threads: Debian's libdnnl 2.6.3 is built with the OpenMP runtime
 *     (dnnl_config.h: DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP; ldd shows
 *     libgomp; dnnl_version()->cpu_runtime == DNNL_RUNTIME_OMP), so it
 *     cannot run on our pool's for_each, and a oneDNN primitive fixes its
 *     thread count when it is created (from the creating thread's OpenMP
 *     ICV; changing the ICV before execute does not change it, measured).
 *     So prepare creates two variants of every primitive: one for 1 thread
 *     and one for the process's OpenMP thread count T (OMP_NUM_THREADS, by
 *     default the CPU count: the pool's size), setting the preparing
 *     thread's ICV around each; a variant whose weight layout equals the
 *     first one's shares its weights. A run with par->threads >= T uses the
 *     T variant, any other the 1-thread one (the pool either gives an op all
 *     its threads or runs several ops on one thread each); workspace sizes
 *     depend on the variant, hence conv_workspace's par. Run also sets the
 *     calling thread's ICV (per thread, so concurrent runs do not disturb
 *     each other) and restores it. We do not link libgomp ourselves (the
 *     build links only libdnnl), so omp_set_num_threads/omp_get_max_threads
 *     are found with dlsym in the libgomp that libdnnl loaded. On a loaded
 *     machine libgomp's default spin-then-sleep barrier makes 2-thread runs
 *     erratic (tens of ms when a core is taken); OMP_WAIT_POLICY=passive
 *     (read by libgomp at load, so an environment setting) steadies them.
 *   - Precisions: FP32; INT8 (s8 activations, s8 weights with per output
 *     channel scales max|w|/127, f32 bias pre-divided into the accumulator
 *     domain, output scales in_scale * w_scale[oc], the activation as an
 *     eltwise post-op whose scale 1/out_scale requantises to s8; run
 *     quantises the f32 input with a scaled reorder and dequantises the s8
 *     output the same way; with in_s8 / out_s8 the caller's tensors are
 *     s8 NCHW already and the reorders only change the layout, so int8
 *     stays int8 between consecutive convolutions). FP16 is refused: oneDNN 2.6 has no f16
 *     convolution on CPU (f16 everywhere: unimplemented; f32 data with f16
 *     weights: an invalid combination), so fp16 storage is the native
 *     backend's job. (bf16 weights and data do run, on AMX.)
 *   - oneDNN keeps a process-wide primitive cache (freed at exit, so
 *     LeakSanitizer is quiet either way); prepare sets its capacity to 0 so
 *     no primitive outlives its op and model memory is what conv_bytes and
 *     the ops alive say.
 */
#include "nn/kernels.h"

#include <stdlib.h>

#if FA_WITH_ONEDNN

#include <dlfcn.h>
#include <math.h>
#include <string.h>

#include <dnnl.h>

#define ALIGN_BYTES 64

/* The src/dst layout asked of oneDNN: "any" (its choice, reordered in run).
 * Build with -DFA_ONEDNN_IO_TAG=dnnl_nchw to measure plain NCHW instead. */
#ifndef FA_ONEDNN_IO_TAG
#define FA_ONEDNN_IO_TAG dnnl_format_tag_any
#endif

/* The OpenMP calls we need, found in the libgomp that libdnnl loaded. */
typedef struct omp_api {
    void (*set_num_threads)(int);
    int (*get_max_threads)(void);
} omp_api;

/* One primitive set for one thread count (oneDNN fixes it at creation). */
typedef struct variant {
    int threads;
    dnnl_primitive_t conv;
    dnnl_primitive_t src_reorder; /* NCHW f32 -> conv src; NULL when conv takes the user's src */
    dnnl_primitive_t dst_reorder; /* conv dst -> NCHW f32; NULL when conv writes the user's dst */
    dnnl_memory_desc_t src_md, dst_md, scratch_md;
    dnnl_memory_t weights;        /* in this primitive's layout; NULL: shares variant 0's */
    size_t scratch_bytes;         /* max over conv and reorders */
    size_t src_off, dst_off;      /* buffer offsets in the workspace (when reordering) */
    size_t workspace_bytes;
} variant;

struct fa_nn_conv {
    fa_nn_conv_params p;
    fa_nn_precision prec;
    float in_scale, out_scale; /* int8 activation scales (1 for fp32) */
    int in_s8, out_s8;         /* int8: the caller's in / out are s8 NCHW (else f32 NCHW) */
    const float *w_scales;     /* prepare only: the caller's weight scales, or NULL */
    dnnl_engine_t engine;
    dnnl_memory_desc_t user_src_md, user_dst_md;
    dnnl_memory_t bias;        /* NULL without bias */
    variant v[2];              /* 1 thread; the process's OpenMP thread count (when > 1) */
    int nvariants;
    size_t weight_bytes;
    omp_api omp;
};

static size_t round_up(size_t n) {
    return (n + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
}

/* Maps a oneDNN status to our codes, naming the step that failed. */
static int dnnl_fail(dnnl_status_t st, const char *what) {
    if (st == dnnl_out_of_memory)
        return fa_err_set(FA_ENOMEM, "onednn: %s: out of memory", what);
    if (st == dnnl_unimplemented)
        return fa_err_set(FA_EINVAL, "onednn: %s: no implementation for this shape/precision", what);
    return fa_err_set(FA_EINVAL, "onednn: %s: failed with dnnl status %d", what, (int)st);
}

#define DNNL_TRY(call, what)                                                                   \
    do {                                                                                        \
        dnnl_status_t st_ = (call);                                                             \
        if (st_ != dnnl_success)                                                                \
            return dnnl_fail(st_, what);                                                        \
    } while (0)

static void omp_api_find(omp_api *api) {
    void *set = dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    void *get = dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    memset(api, 0, sizeof *api);
    if (set && get) { /* object -> function pointer without the cast ISO C forbids */
        memcpy(&api->set_num_threads, &set, sizeof set);
        memcpy(&api->get_max_threads, &get, sizeof get);
    }
}

/* ------------------------------------------------------------ validation */

static int check_request(const fa_nn_conv_params *p, fa_nn_precision prec, const float *weights,
                         const fa_nn_int8_scales *scales) {
    if (fa_nn_conv_check("onednn", p) < 0)
        return FA_EINVAL;
    if (!weights)
        return fa_err_set(FA_EINVAL, "onednn: conv_prepare: weights: expected a pointer, got NULL");
    if (prec == FA_NN_FP16)
        return fa_err_set(FA_EINVAL, "onednn: conv_prepare: fp16 not supported by this backend "
                          "(oneDNN 2.6 has no f16 CPU convolution; use the native backend)");
    if (prec != FA_NN_FP32 && prec != FA_NN_INT8)
        return fa_err_set(FA_EINVAL, "onednn: conv_prepare: precision: expected 0..2, got %d", (int)prec);
    if (prec == FA_NN_INT8) {
        if (!scales)
            return fa_err_set(FA_EINVAL, "onednn: conv_prepare: scales: expected a pointer for int8, "
                              "got NULL");
        if (!(scales->in_scale > 0 && isfinite(scales->in_scale) && isfinite(1.0f / scales->in_scale)))
            return fa_err_set(FA_EINVAL, "onednn: conv field 'in_scale': expected finite > 0 with a finite "
                              "reciprocal, got %g", (double)scales->in_scale);
        if (!(scales->out_scale > 0 && isfinite(scales->out_scale)))
            return fa_err_set(FA_EINVAL, "onednn: conv field 'out_scale': expected finite > 0, got %g",
                              (double)scales->out_scale);
    }
    return 0;
}

/* ------------------------------------------------------- descriptors */

static int user_md_nchw(dnnl_memory_desc_t *md, int n, int c, int h, int w, int s8) {
    dnnl_dims_t dims = {n, c, h, w};
    dnnl_data_type_t dt = s8 ? dnnl_s8 : dnnl_f32;
    DNNL_TRY(dnnl_memory_desc_init_by_tag(md, 4, dims, dt, dnnl_nchw), "nchw memory desc");
    return 0;
}

static int user_md_weights(dnnl_memory_desc_t *md, const fa_nn_conv_params *p, dnnl_data_type_t dt,
                           dnnl_format_tag_t plain_or_any) {
    int g = p->groups;
    if (g == 1) {
        dnnl_dims_t dims = {p->c_out, p->c_in, p->kh, p->kw};
        DNNL_TRY(dnnl_memory_desc_init_by_tag(md, 4, dims, dt, plain_or_any == dnnl_format_tag_any ?
                 dnnl_format_tag_any : dnnl_oihw), "weights memory desc");
    } else {
        dnnl_dims_t dims = {g, p->c_out / g, p->c_in / g, p->kh, p->kw};
        DNNL_TRY(dnnl_memory_desc_init_by_tag(md, 5, dims, dt, plain_or_any == dnnl_format_tag_any ?
                 dnnl_format_tag_any : dnnl_goihw), "weights memory desc");
    }
    return 0;
}

/* Attributes of the convolution: user scratchpad, output scales (int8),
 * the activation as an eltwise post-op. */
static int conv_attr(dnnl_primitive_attr_t attr, const fa_nn_conv_params *p, fa_nn_precision prec,
                     const float *oscales, float out_scale) {
    DNNL_TRY(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if (prec == FA_NN_INT8)
        DNNL_TRY(dnnl_primitive_attr_set_output_scales(attr, p->c_out, 1 << 1, oscales), "output scales");
    float post_scale = prec == FA_NN_INT8 ? 1.0f / out_scale : 1.0f;
    dnnl_alg_kind_t alg = dnnl_eltwise_linear;
    float alpha = 1.0f;
    if (p->act == FA_NN_ACT_RELU || p->act == FA_NN_ACT_LEAKY) {
        alg = dnnl_eltwise_relu;
        alpha = p->act == FA_NN_ACT_LEAKY ? p->alpha : 0.0f;
    } else if (p->act == FA_NN_ACT_SIGMOID) {
        alg = dnnl_eltwise_logistic;
        alpha = 0.0f;
    } else if (prec != FA_NN_INT8) {
        return 0; /* fp32 without activation: no post-op */
    }
    dnnl_post_ops_t po;
    DNNL_TRY(dnnl_post_ops_create(&po), "post ops");
    dnnl_status_t st = dnnl_post_ops_append_eltwise(po, post_scale, alg, alpha, 0.0f);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_post_ops(attr, po);
    dnnl_post_ops_destroy(po);
    if (st != dnnl_success)
        return dnnl_fail(st, "activation post-op");
    return 0;
}

static int conv_desc(dnnl_convolution_desc_t *cd, const fa_nn_conv_params *p, fa_nn_precision prec,
                     int has_bias) {
    dnnl_data_type_t act_dt = prec == FA_NN_INT8 ? dnnl_s8 : dnnl_f32;
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_dims_t sdims = {p->n, p->c_in, p->h_in, p->w_in}, ddims = {p->n, p->c_out, p->h_out, p->w_out};
    dnnl_dims_t bdims = {p->c_out};
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&src, 4, sdims, act_dt, FA_ONEDNN_IO_TAG), "src desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst, 4, ddims, act_dt, FA_ONEDNN_IO_TAG), "dst desc");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&bias, 1, bdims, dnnl_f32, dnnl_a), "bias desc");
    if (user_md_weights(&wei, p, act_dt, dnnl_format_tag_any) < 0)
        return fa_err_code();
    dnnl_dims_t strides = {p->stride_h, p->stride_w}, dil = {p->dil_h - 1, p->dil_w - 1};
    dnnl_dims_t pad_l = {p->pad_t, p->pad_l}, pad_r = {p->pad_b, p->pad_r};
    DNNL_TRY(dnnl_dilated_convolution_forward_desc_init(cd, dnnl_forward_inference, dnnl_convolution_direct,
             &src, &wei, has_bias ? &bias : NULL, &dst, strides, dil, pad_l, pad_r), "convolution desc");
    return 0;
}

/* ------------------------------------------------------------ reorders */

/* A reorder from -> to (scale != 1: multiplied by scale on the way), with
 * user scratchpad; its scratchpad size goes into *scratch (max). */
static int make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                        int scale_count, int scale_mask, const float *scales, dnnl_primitive_t *out,
                        size_t *scratch) {
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_t pd = NULL;
    DNNL_TRY(dnnl_primitive_attr_create(&attr), "reorder attr");
    dnnl_status_t st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success && scales)
        st = dnnl_primitive_attr_set_output_scales(attr, scale_count, scale_mask, scales);
    if (st == dnnl_success)
        st = dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, attr);
    dnnl_primitive_attr_destroy(attr);
    if (st == dnnl_success) {
        size_t s = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
        if (s > *scratch)
            *scratch = s;
        st = dnnl_primitive_create(out, pd);
    }
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success)
        return dnnl_fail(st, "reorder");
    return 0;
}

/* Runs a reorder between two memories on a stream, with a scratchpad. */
static dnnl_status_t run_reorder(dnnl_primitive_t r, dnnl_stream_t s, dnnl_memory_t from, dnnl_memory_t to,
                                 dnnl_memory_t scratch) {
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, scratch}};
    return dnnl_primitive_execute(r, s, 3, args);
}

/* Executes a one-off reorder at prepare (weights), with its own scratch. */
static int reorder_once(dnnl_engine_t eng, const dnnl_memory_desc_t *from_md, const void *from_data,
                        dnnl_memory_t to, int scale_count, int scale_mask, const float *scales) {
    const dnnl_memory_desc_t *to_md;
    DNNL_TRY(dnnl_memory_get_memory_desc(to, &to_md), "weights desc");
    dnnl_primitive_t r = NULL;
    size_t scratch_bytes = 0;
    if (make_reorder(eng, from_md, to_md, scale_count, scale_mask, scales, &r, &scratch_bytes) < 0)
        return fa_err_code();
    dnnl_memory_desc_t scratch_md;
    dnnl_dims_t sdims = {(dnnl_dim_t)(scratch_bytes ? scratch_bytes : 1)};
    dnnl_memory_t from = NULL, scratch = NULL;
    dnnl_stream_t s = NULL;
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(&scratch_md, 1, sdims, dnnl_u8, dnnl_a);
    if (st == dnnl_success)
        st = dnnl_memory_create(&from, from_md, eng, (void *)(uintptr_t)from_data);
    if (st == dnnl_success)
        st = dnnl_memory_create(&scratch, &scratch_md, eng, DNNL_MEMORY_ALLOCATE);
    if (st == dnnl_success)
        st = dnnl_stream_create(&s, eng, dnnl_stream_default_flags);
    if (st == dnnl_success)
        st = run_reorder(r, s, from, to, scratch);
    if (st == dnnl_success)
        st = dnnl_stream_wait(s);
    if (s)
        dnnl_stream_destroy(s);
    dnnl_memory_destroy(from);
    dnnl_memory_destroy(scratch);
    dnnl_primitive_destroy(r);
    if (st != dnnl_success)
        return dnnl_fail(st, "weights reorder");
    return 0;
}

/* ------------------------------------------------------------- prepare */

/* Per output channel int8 weight scales: the given ones, else max|w| / 127
 * (1 for an all-zero channel). */
static void weight_scales(const fa_nn_conv_params *p, const float *w, const float *given, float *wscale) {
    if (given) {
        memcpy(wscale, given, sizeof *wscale * (size_t)p->c_out);
        return;
    }
    size_t per_oc = (size_t)(p->c_in / p->groups) * (size_t)p->kh * (size_t)p->kw;
    for (int oc = 0; oc < p->c_out; oc++) {
        float m = 0.0f;
        for (size_t i = 0; i < per_oc; i++) {
            float a = fabsf(w[(size_t)oc * per_oc + i]);
            m = a > m ? a : m;
        }
        wscale[oc] = m > 0.0f ? m / 127.0f : 1.0f;
    }
}

/* The weights in variant v's layout (quantised for int8); a variant whose
 * layout equals variant 0's shares its memory. */
static int prepare_weights(fa_nn_conv *c, variant *v, dnnl_primitive_desc_t pd, const float *w,
                           const float *wscale) {
    const fa_nn_conv_params *p = &c->p;
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (v != &c->v[0]) {
        const dnnl_memory_desc_t *md0;
        DNNL_TRY(dnnl_memory_get_memory_desc(c->v[0].weights, &md0), "weights desc");
        if (dnnl_memory_desc_equal(md0, wmd))
            return 0;
    }
    DNNL_TRY(dnnl_memory_create(&v->weights, wmd, c->engine, DNNL_MEMORY_ALLOCATE), "weights memory");
    c->weight_bytes += dnnl_memory_desc_get_size(wmd);
    dnnl_memory_desc_t user_wmd;
    if (user_md_weights(&user_wmd, p, dnnl_f32, dnnl_oihw) < 0)
        return fa_err_code();
    float *inv = NULL;
    if (c->prec == FA_NN_INT8) {
        inv = malloc(sizeof *inv * (size_t)p->c_out);
        if (!inv)
            return fa_err_set(FA_ENOMEM, "onednn: conv_prepare: out of memory");
        for (int oc = 0; oc < p->c_out; oc++)
            inv[oc] = 1.0f / wscale[oc];
    }
    int mask = p->groups == 1 ? 1 << 0 : (1 << 0) | (1 << 1);
    int rc = reorder_once(c->engine, &user_wmd, w, v->weights, p->c_out, mask, inv);
    free(inv);
    return rc;
}

/* The bias, plain f32 (divided into the int8 accumulator domain: oneDNN
 * 2.x adds the bias before it applies the output scales). */
static int prepare_bias(fa_nn_conv *c, dnnl_primitive_desc_t pd, const float *b, const float *wscale) {
    const dnnl_memory_desc_t *bmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    DNNL_TRY(dnnl_memory_create(&c->bias, bmd, c->engine, DNNL_MEMORY_ALLOCATE), "bias memory");
    float *bias;
    DNNL_TRY(dnnl_memory_get_data_handle(c->bias, (void **)&bias), "bias memory");
    for (int oc = 0; oc < c->p.c_out; oc++)
        bias[oc] = c->prec == FA_NN_INT8 ? b[oc] / (wscale[oc] * c->in_scale) : b[oc];
    c->weight_bytes += dnnl_memory_desc_get_size(bmd);
    return 0;
}

/* Reorders between the user's NCHW f32 and the primitive's src/dst when
 * they differ (int8 always: quantise with 1/in_scale, dequantise with
 * out_scale), and the workspace layout. */
static int prepare_io(fa_nn_conv *c, variant *v, dnnl_primitive_desc_t pd) {
    v->src_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    v->dst_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    v->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    v->scratch_bytes = dnnl_memory_desc_get_size(&v->scratch_md);
    size_t src_bytes = 0, dst_bytes = 0;
    if (!dnnl_memory_desc_equal(&v->src_md, &c->user_src_md)) {
        float q = 1.0f / c->in_scale;
        int scaled = c->prec == FA_NN_INT8 && !c->in_s8;
        if (make_reorder(c->engine, &c->user_src_md, &v->src_md, 1, 0, scaled ? &q : NULL,
                         &v->src_reorder, &v->scratch_bytes) < 0)
            return fa_err_code();
        src_bytes = dnnl_memory_desc_get_size(&v->src_md);
    }
    if (!dnnl_memory_desc_equal(&v->dst_md, &c->user_dst_md)) {
        float dq = c->out_scale;
        int scaled = c->prec == FA_NN_INT8 && !c->out_s8;
        if (make_reorder(c->engine, &v->dst_md, &c->user_dst_md, 1, 0, scaled ? &dq : NULL,
                         &v->dst_reorder, &v->scratch_bytes) < 0)
            return fa_err_code();
        dst_bytes = dnnl_memory_desc_get_size(&v->dst_md);
    }
    v->src_off = round_up(v->scratch_bytes);
    v->dst_off = v->src_off + round_up(src_bytes);
    size_t layout = v->dst_off + dst_bytes;
    /* The caller's workspace may be only malloc-aligned: room to align it to 64. */
    v->workspace_bytes = layout ? layout + ALIGN_BYTES - 1 : 0;
    return 0;
}

static void variant_free(variant *v) {
    dnnl_primitive_t prims[] = {v->src_reorder, v->dst_reorder, v->conv};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i])
            dnnl_primitive_destroy(prims[i]);
    if (v->weights)
        dnnl_memory_destroy(v->weights);
}

static void conv_free(fa_nn_conv *c) {
    if (!c)
        return;
    for (int i = 0; i < c->nvariants; i++)
        variant_free(&c->v[i]);
    if (c->bias)
        dnnl_memory_destroy(c->bias);
    if (c->engine)
        dnnl_engine_destroy(c->engine);
    free(c);
}

/* The convolution primitive descriptor for the current thread count. */
static int make_conv_pd(const fa_nn_conv *c, const float *oscales, int has_bias, dnnl_primitive_desc_t *pd) {
    dnnl_convolution_desc_t cd;
    if (conv_desc(&cd, &c->p, c->prec, has_bias) < 0)
        return fa_err_code();
    dnnl_primitive_attr_t attr;
    DNNL_TRY(dnnl_primitive_attr_create(&attr), "attr");
    int rc = conv_attr(attr, &c->p, c->prec, oscales, c->out_scale);
    if (rc == 0) {
        dnnl_status_t st = dnnl_primitive_desc_create(pd, &cd, attr, c->engine, NULL);
        rc = st == dnnl_success ? 0 : dnnl_fail(st, "convolution primitive desc");
    }
    dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* One variant: oneDNN fixes a primitive's thread count when it creates it
 * (from the creating thread's OpenMP ICV), so we set the ICV around it. */
static int prepare_variant(fa_nn_conv *c, variant *v, const float *w, const float *b, const float *wscale,
                           const float *oscales) {
    dnnl_primitive_desc_t pd = NULL;
    int rc = make_conv_pd(c, oscales, b != NULL, &pd);
    if (rc == 0)
        rc = prepare_weights(c, v, pd, w, wscale);
    if (rc == 0 && b && !c->bias)
        rc = prepare_bias(c, pd, b, wscale);
    if (rc == 0)
        rc = prepare_io(c, v, pd);
    if (rc == 0) {
        dnnl_status_t st = dnnl_primitive_create(&v->conv, pd);
        rc = st == dnnl_success ? 0 : dnnl_fail(st, "convolution primitive");
    }
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* The variants for 1 thread and for the process's OpenMP thread count. */
static int prepare_all(fa_nn_conv *c, const float *w, const float *b, float *wscale) {
    const fa_nn_conv_params *p = &c->p;
    if (user_md_nchw(&c->user_src_md, p->n, p->c_in, p->h_in, p->w_in, c->in_s8) < 0 ||
        user_md_nchw(&c->user_dst_md, p->n, p->c_out, p->h_out, p->w_out, c->out_s8) < 0)
        return fa_err_code();
    DNNL_TRY(dnnl_engine_create(&c->engine, dnnl_cpu, 0), "engine");
    float *oscales = NULL;
    if (c->prec == FA_NN_INT8) {
        weight_scales(p, w, c->w_scales, wscale);
        oscales = wscale + p->c_out;
        for (int oc = 0; oc < p->c_out; oc++)
            oscales[oc] = c->in_scale * wscale[oc];
    }
    int old = c->omp.get_max_threads ? c->omp.get_max_threads() : 1;
    int counts[2] = {1, old > 1 ? old : 1}, rc = 0;
    for (int i = 0; i < (counts[1] > 1 ? 2 : 1) && rc == 0; i++) {
        c->v[i].threads = counts[i];
        c->nvariants = i + 1;
        if (c->omp.set_num_threads)
            c->omp.set_num_threads(counts[i]);
        rc = prepare_variant(c, &c->v[i], w, b, wscale, oscales);
    }
    if (c->omp.set_num_threads)
        c->omp.set_num_threads(old);
    return rc;
}

static fa_nn_conv *conv_prepare(const fa_nn_conv_params *p, fa_nn_precision prec, const float *weights,
                                const float *bias, const fa_nn_int8_scales *scales) {
    if (check_request(p, prec, weights, scales) < 0)
        return NULL;
    /* No process-wide primitive cache: every primitive belongs to its op. */
    dnnl_set_primitive_cache_capacity(0);
    fa_nn_conv *c = calloc(1, sizeof *c);
    float *wscale = prec == FA_NN_INT8 ? malloc(sizeof *wscale * 2 * (size_t)p->c_out) : NULL;
    if (!c || (prec == FA_NN_INT8 && !wscale)) {
        free(c);
        free(wscale);
        fa_err_set(FA_ENOMEM, "onednn: conv_prepare: out of memory");
        return NULL;
    }
    c->p = *p;
    c->prec = prec;
    c->in_scale = prec == FA_NN_INT8 ? scales->in_scale : 1.0f;
    c->out_scale = prec == FA_NN_INT8 ? scales->out_scale : 1.0f;
    c->in_s8 = prec == FA_NN_INT8 && scales->in_s8;
    c->out_s8 = prec == FA_NN_INT8 && scales->out_s8;
    c->w_scales = prec == FA_NN_INT8 ? scales->w_scales : NULL;
    omp_api_find(&c->omp);
    int rc = prepare_all(c, weights, bias, wscale);
    free(wscale);
    c->w_scales = NULL;
    if (rc < 0) {
        conv_free(c);
        return NULL;
    }
    return c;
}

/* The variant a run with par uses: the process thread count when par
 * asks for at least that many, else the single-thread one. */
static const variant *variant_for(const fa_nn_conv *c, const fa_nn_parallel *par) {
    int threads = par && par->for_each && par->threads > 0 ? par->threads : 1;
    return c->nvariants > 1 && threads >= c->v[1].threads ? &c->v[1] : &c->v[0];
}

static size_t conv_workspace(const fa_nn_conv *c, const fa_nn_parallel *par) {
    return c ? variant_for(c, par)->workspace_bytes : 0;
}

static size_t conv_bytes(const fa_nn_conv *c) {
    return c ? c->weight_bytes : 0;
}

/* ----------------------------------------------------------------- run */

/* The memories of one run: user in/out, the reorder buffers, scratchpad. */
typedef struct run_mems {
    dnnl_memory_t user_src, user_dst, src, dst, scratch;
} run_mems;

static void run_mems_free(run_mems *m) {
    dnnl_memory_t all[] = {m->user_src, m->user_dst, m->src, m->dst, m->scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            dnnl_memory_destroy(all[i]);
}

static dnnl_status_t run_mems_make(const fa_nn_conv *c, const variant *v, const void *in, void *out,
                                   unsigned char *ws, run_mems *m) {
    dnnl_status_t st = dnnl_memory_create(&m->user_src, &c->user_src_md, c->engine, (void *)(uintptr_t)in);
    if (st == dnnl_success)
        st = dnnl_memory_create(&m->user_dst, &c->user_dst_md, c->engine, out);
    if (st == dnnl_success)
        st = dnnl_memory_create(&m->scratch, &v->scratch_md, c->engine, v->scratch_bytes ? ws : NULL);
    if (st == dnnl_success && v->src_reorder)
        st = dnnl_memory_create(&m->src, &v->src_md, c->engine, ws + v->src_off);
    if (st == dnnl_success && v->dst_reorder)
        st = dnnl_memory_create(&m->dst, &v->dst_md, c->engine, ws + v->dst_off);
    return st;
}

static dnnl_status_t run_steps(const fa_nn_conv *c, const variant *v, const run_mems *m, dnnl_stream_t s) {
    dnnl_memory_t src = v->src_reorder ? m->src : m->user_src;
    dnnl_memory_t dst = v->dst_reorder ? m->dst : m->user_dst;
    dnnl_memory_t weights = v->weights ? v->weights : c->v[0].weights;
    dnnl_status_t st = dnnl_success;
    if (v->src_reorder)
        st = run_reorder(v->src_reorder, s, m->user_src, src, m->scratch);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst},
                               {DNNL_ARG_SCRATCHPAD, m->scratch}, {DNNL_ARG_BIAS, c->bias}};
    if (st == dnnl_success)
        st = dnnl_primitive_execute(v->conv, s, c->bias ? 5 : 4, args);
    if (st == dnnl_success && v->dst_reorder)
        st = run_reorder(v->dst_reorder, s, dst, m->user_dst, m->scratch);
    if (st == dnnl_success)
        st = dnnl_stream_wait(s);
    return st;
}

static int conv_run(const fa_nn_conv *c, const void *in, void *out, void *workspace,
                    const fa_nn_parallel *par) {
    if (!c || !in || !out)
        return fa_err_set(FA_EINVAL, "onednn: conv_run: %s: expected a pointer, got NULL",
                          !c ? "conv" : !in ? "in" : "out");
    const variant *v = variant_for(c, par);
    if (v->workspace_bytes && !workspace)
        return fa_err_set(FA_EINVAL, "onednn: conv_run: workspace: expected %zu bytes, got NULL",
                          v->workspace_bytes);
    int old_threads = c->omp.get_max_threads ? c->omp.get_max_threads() : 0;
    if (c->omp.set_num_threads)
        c->omp.set_num_threads(v->threads);
    uintptr_t ws = ((uintptr_t)workspace + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES;
    run_mems m = {0};
    dnnl_stream_t s = NULL;
    dnnl_status_t st = run_mems_make(c, v, in, out, (unsigned char *)ws, &m);
    if (st == dnnl_success)
        st = dnnl_stream_create(&s, c->engine, dnnl_stream_default_flags);
    if (st == dnnl_success)
        st = run_steps(c, v, &m, s);
    if (s)
        dnnl_stream_destroy(s);
    run_mems_free(&m);
    if (c->omp.set_num_threads)
        c->omp.set_num_threads(old_threads);
    return st == dnnl_success ? 0 : dnnl_fail(st, "conv_run");
}

static const fa_nn_backend onednn_backend = {
    .name = "onednn",
    .conv_prepare = conv_prepare,
    .conv_workspace = conv_workspace,
    .conv_run = conv_run,
    .conv_bytes = conv_bytes,
    .conv_free = conv_free,
};

/* The oneDNN backend: a static table, valid for the process's life. */
const fa_nn_backend *fa_nn_backend_onednn(void) {
    return &onednn_backend;
}

#else /* !FA_WITH_ONEDNN */

/* Built without oneDNN: no backend. */
const fa_nn_backend *fa_nn_backend_onednn(void) {
    return NULL;
}

#endif
