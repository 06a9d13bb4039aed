/*
 * fa_nn_cuda.cu - the GPU plugin (libfa_nn_cuda.so): runs a lowered
 * program (../cuda_program.h) on an NVIDIA GPU.
 *
 * Why it looks like this. The host already resolved every operator into a
 * handful of step kinds with the index arithmetic in cuda_program.h, and a
 * host interpreter of the same program is compared with the CPU runtime in
 * CI; this file only puts threads on those steps: one thread per output
 * element (grid-stride loops), except 1x1 convolutions, the bulk of the
 * MACs in ShuffleNet-style detectors, which are a matrix product tiled
 * through shared memory (64x64 outputs per block, 4x4 per thread). Every
 * kernel is a template on the arena's element type: fp32, or fp16 storage
 * with fp32 accumulation (issue 5's "CUDA backend (FP16)").
 *
 * A detector graph is ~100 small kernels; launched one by one, their
 * launch latency would exceed their work. So after one eager run (which
 * checks every launch), the whole run - input conversion, the steps,
 * output conversion - is captured once as a CUDA graph and each run is one
 * graph launch between two copies.
 *
 * The C ABI (extern "C", resolved with dlsym by src/nn/cuda.c): errors are
 * written into the caller's buffer, never printed; nothing here keeps
 * global state; a context is used by one thread at a time.
 */
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "nn/cuda_program.h"
}

#define THREADS 256
#define MAX_ALLOCS 4096

/* ------------------------------------------------------------ elements */

__device__ __forceinline__ float ld(const float *p) { return *p; }
__device__ __forceinline__ float ld(const __half *p) { return __half2float(*p); }
__device__ __forceinline__ void st(float *p, float v) { *p = v; }
__device__ __forceinline__ void st(__half *p, float v) { *p = __float2half(v); }

__device__ __forceinline__ float activate(int act, float alpha, float v) {
    switch (act) {
    case FA_CUDA_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case FA_CUDA_ACT_LEAKY: return v < 0.0f ? alpha * v : v;
    case FA_CUDA_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    default: return v;
    }
}

#define GRID_STRIDE(i, n) for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); \
                               i += (int64_t)gridDim.x * blockDim.x)

static unsigned blocks_for(int64_t n) {
    int64_t b = (n + THREADS - 1) / THREADS;
    return (unsigned)(b < 1 ? 1 : b > 65535 * 16 ? 65535 * 16 : b);
}

/* ------------------------------------------------------------- kernels */

template <typename D, typename S> __global__ void k_convert(D *y, const S *x, int64_t n) {
    GRID_STRIDE(i, n) st(y + i, ld(x + i));
}

template <typename T>
__global__ void k_conv(fa_cuda_conv c, const T *__restrict__ x, const T *__restrict__ w,
                       const float *__restrict__ b, T *__restrict__ y) {
    int64_t n_out = (int64_t)c.n * c.c_out * c.h_out * c.w_out;
    int cpg = c.c_in / c.groups, opg = c.c_out / c.groups;
    GRID_STRIDE(i, n_out) {
        int ox = (int)(i % c.w_out);
        int64_t t = i / c.w_out;
        int oy = (int)(t % c.h_out);
        t /= c.h_out;
        int co = (int)(t % c.c_out), n = (int)(t / c.c_out), g = co / opg;
        float acc = b ? b[co] : 0.0f;
        for (int ic = 0; ic < cpg; ic++) {
            const T *plane = x + ((int64_t)n * c.c_in + (int64_t)g * cpg + ic) * c.h_in * c.w_in;
            const T *filt = w + ((int64_t)co * cpg + ic) * c.kh * c.kw;
            for (int ky = 0; ky < c.kh; ky++) {
                int yy = oy * c.stride_h - c.pad_t + ky * c.dil_h;
                if (yy < 0 || yy >= c.h_in) continue;
                for (int kx = 0; kx < c.kw; kx++) {
                    int xx = ox * c.stride_w - c.pad_l + kx * c.dil_w;
                    if (xx >= 0 && xx < c.w_in) acc += ld(plane + (int64_t)yy * c.w_in + xx) * ld(filt + ky * c.kw + kx);
                }
            }
        }
        st(y + i, activate(c.act, c.alpha, acc));
    }
}

/* 1x1, stride 1, no padding, one group: y[n][co][p] = sum_k w[co][k] x[n][k][p].
 * Block 16x16 threads, 64 co x 64 p outputs, k in steps of 16 through
 * shared memory. */
template <typename T>
__global__ void k_conv1x1(fa_cuda_conv c, const T *__restrict__ x, const T *__restrict__ w,
                          const float *__restrict__ b, T *__restrict__ y) {
    __shared__ float ws[16][64];
    __shared__ float xs[16][64];
    const int P = c.h_in * c.w_in, K = c.c_in, M = c.c_out;
    const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * 16 + tx;
    const int p0 = blockIdx.x * 64, co0 = blockIdx.y * 64;
    const T *xn = x + (int64_t)blockIdx.z * K * P;
    T *yn = y + (int64_t)blockIdx.z * M * P;
    float acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += 16) {
        for (int e = tid; e < 1024; e += 256) {
            int kk = e % 16, cc = e / 16, co = co0 + cc, k = k0 + kk;
            ws[kk][cc] = co < M && k < K ? ld(w + (int64_t)co * K + k) : 0.0f;
            int pp = e % 64, kx = e / 64, p = p0 + pp, kq = k0 + kx;
            xs[kx][pp] = p < P && kq < K ? ld(xn + (int64_t)kq * P + p) : 0.0f;
        }
        __syncthreads();
        for (int kk = 0; kk < 16; kk++) {
            float a[4], v[4];
            for (int i = 0; i < 4; i++) a[i] = ws[kk][ty + 16 * i];
            for (int j = 0; j < 4; j++) v[j] = xs[kk][tx + 16 * j];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) acc[i][j] += a[i] * v[j];
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; i++) {
        int co = co0 + ty + 16 * i;
        if (co >= M) continue;
        float bias = b ? b[co] : 0.0f;
        for (int j = 0; j < 4; j++) {
            int p = p0 + tx + 16 * j;
            if (p < P) st(yn + (int64_t)co * P + p, activate(c.act, c.alpha, acc[i][j] + bias));
        }
    }
}

template <typename T> __global__ void k_pool(fa_cuda_pool p, const T *x, T *y) {
    GRID_STRIDE(i, p.planes * p.oh * p.ow) {
        int64_t ox = i % p.ow, t = i / p.ow, oy = t % p.oh, q = t / p.oh, h0, h1, w0, w1, n;
        fa_cuda_pool_window(&p, oy, ox, &h0, &h1, &w0, &w1, &n);
        const T *xp = x + q * p.h * p.w;
        float acc = 0.0f;
        int first = 1;
        for (int64_t h = h0; h < h1; h += p.dh)
            for (int64_t w = w0; w < w1; w += p.dw) {
                float v = ld(xp + h * p.w + w);
                if (!p.is_max)
                    acc += v;
                else if (first || v > acc)
                    acc = v;
                first = 0;
            }
        st(y + i, p.is_max ? (first ? -INFINITY : acc) : acc / (float)n);
    }
}

template <typename T>
__global__ void k_resize(fa_cuda_resize r, const int64_t *i0, const int64_t *i1, const float *wt, const T *x,
                         T *y) {
    GRID_STRIDE(i, r.planes * r.oh * r.ow) {
        int64_t w = i % r.ow, t = i / r.ow, h = t % r.oh, q = t / r.oh;
        const T *r0 = x + (q * r.h + i0[h]) * r.w, *r1 = x + (q * r.h + i1[h]) * r.w;
        int64_t a0 = i0[r.oh + w], a1 = i1[r.oh + w];
        float fx = wt[r.oh + w], fy = wt[h];
        float v00 = ld(r0 + a0), v01 = ld(r0 + a1), v10 = ld(r1 + a0), v11 = ld(r1 + a1);
        float top = v00 + (v01 - v00) * fx, bot = v10 + (v11 - v10) * fx;
        st(y + i, top + (bot - top) * fy);
    }
}

template <typename T> __global__ void k_box(fa_cuda_box b, const T *x, const T *x2, T *y, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t s, s2, d;
        fa_cuda_box_at(&b, i, &s, &s2, &d);
        st(y + d, x2 ? ld(x + s) + ld(x2 + s2) : ld(x + s));
    }
}

template <typename T> __global__ void k_fill(T *y, float v, int64_t n) { GRID_STRIDE(i, n) st(y + i, v); }

template <typename T> __global__ void k_unary(fa_cuda_unary u, const T *x, T *y) {
    GRID_STRIDE(i, u.count) st(y + i, activate(u.act, u.alpha, ld(x + i)));
}

template <typename T>
__global__ void k_affine(fa_cuda_affine f, const float *scale, const float *shift, const T *x, T *y) {
    GRID_STRIDE(i, f.outer * f.channels * f.inner) {
        int64_t c = i / f.inner % f.channels;
        st(y + i, ld(x + i) * scale[c] + shift[c]);
    }
}

template <typename T> __global__ void k_softmax(fa_cuda_softmax m, const T *x, T *y) {
    GRID_STRIDE(r, m.outer * m.inner) {
        int64_t o = r / m.inner, in = r % m.inner;
        const T *xp = x + o * m.len * m.inner + in;
        T *yp = y + o * m.len * m.inner + in;
        float mx = ld(xp), sum = 0.0f;
        for (int64_t k = 1; k < m.len; k++) mx = fmaxf(mx, ld(xp + k * m.inner));
        for (int64_t k = 0; k < m.len; k++) sum += expf(ld(xp + k * m.inner) - mx);
        for (int64_t k = 0; k < m.len; k++) st(yp + k * m.inner, expf(ld(xp + k * m.inner) - mx) / sum);
    }
}

/* ------------------------------------------------------------- context */

/* What a step needs on the device besides the arena. */
typedef struct dev_step {
    fa_cuda_step s;
    void *w;           /* conv weights, arena type */
    float *b;          /* conv bias */
    int64_t *i0, *i1;  /* resize tables */
    float *wt;         /* resize weights; affine scale then shift */
} dev_step;

typedef struct ctx {
    int fp16;
    size_t elem;
    void *arena;
    float *io; /* fp32 staging: the input, then each output */
    int64_t in_at, in_count, out_io[FA_CUDA_MAX_OUT];
    int n_out;
    int64_t out_at[FA_CUDA_MAX_OUT], out_count[FA_CUDA_MAX_OUT];
    dev_step *steps;
    size_t n_steps;
    cudaStream_t stream;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    void *allocs[MAX_ALLOCS];
    size_t n_allocs, bytes;
    char device[256];
} ctx;

static int fail(char *err, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

#define CHECK(call, what)                                                                                   \
    do {                                                                                                    \
        cudaError_t e_ = (call);                                                                            \
        if (e_ != cudaSuccess) return fail(err, errlen, "%s: %s", what, cudaGetErrorString(e_));           \
    } while (0)

static int dev_alloc(ctx *c, void **p, size_t bytes, char *err, size_t errlen) {
    if (c->n_allocs == MAX_ALLOCS) return fail(err, errlen, "more than %d device buffers", MAX_ALLOCS);
    CHECK(cudaMalloc(p, bytes ? bytes : 16), "cudaMalloc");
    c->allocs[c->n_allocs++] = *p;
    c->bytes += bytes;
    return 0;
}

/* n fp32 host values to dst on the device as the arena's type. */
static int upload(ctx *c, void *dst, const float *src, int64_t n, char *err, size_t errlen) {
    float *tmp = NULL;
    CHECK(cudaMalloc((void **)&tmp, (size_t)n * 4 + 16), "cudaMalloc");
    cudaError_t e = cudaMemcpy(tmp, src, (size_t)n * 4, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) {
        if (c->fp16)
            k_convert<__half, float><<<blocks_for(n), THREADS>>>((__half *)dst, tmp, n);
        else
            k_convert<float, float><<<blocks_for(n), THREADS>>>((float *)dst, tmp, n);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    cudaFree(tmp);
    if (e != cudaSuccess) return fail(err, errlen, "upload: %s", cudaGetErrorString(e));
    return 0;
}

/* A host array copied as is (fp32 or int64 tables). */
static int upload_raw(ctx *c, void **dst, const void *src, size_t bytes, char *err, size_t errlen) {
    if (dev_alloc(c, dst, bytes, err, errlen)) return -1;
    CHECK(cudaMemcpy(*dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
    return 0;
}

static int prepare_step(ctx *c, dev_step *d, char *err, size_t errlen) {
    const fa_cuda_step *s = &d->s;
    if (s->kind == FA_CUDA_CONV) {
        const fa_cuda_conv *v = &s->u.conv;
        int64_t nw = (int64_t)v->c_out * (v->c_in / v->groups) * v->kh * v->kw;
        if (dev_alloc(c, &d->w, (size_t)nw * c->elem, err, errlen) || upload(c, d->w, v->w, nw, err, errlen))
            return -1;
        if (v->b && upload_raw(c, (void **)&d->b, v->b, (size_t)v->c_out * 4, err, errlen)) return -1;
    } else if (s->kind == FA_CUDA_RESIZE) {
        const fa_cuda_resize *r = &s->u.resize;
        size_t n = (size_t)(r->oh + r->ow);
        if (upload_raw(c, (void **)&d->i0, r->i0, n * 8, err, errlen) ||
            upload_raw(c, (void **)&d->i1, r->i1, n * 8, err, errlen) ||
            upload_raw(c, (void **)&d->wt, r->wt, n * 4, err, errlen))
            return -1;
    } else if (s->kind == FA_CUDA_AFFINE) {
        const fa_cuda_affine *f = &s->u.affine;
        size_t n = (size_t)f->channels;
        if (upload_raw(c, (void **)&d->wt, f->scale, n * 4, err, errlen) ||
            upload_raw(c, (void **)&d->b, f->shift, n * 4, err, errlen))
            return -1;
    }
    return 0;
}

template <typename T> static void launch_step(const ctx *c, const dev_step *d) {
    const fa_cuda_step *s = &d->s;
    T *a = (T *)c->arena;
    cudaStream_t q = c->stream;
    switch (s->kind) {
    case FA_CUDA_CONV: {
        const fa_cuda_conv &v = s->u.conv;
        int pointwise = v.kh == 1 && v.kw == 1 && v.stride_h == 1 && v.stride_w == 1 && v.pad_t == 0 &&
                        v.pad_l == 0 && v.groups == 1 && v.h_in == v.h_out && v.w_in == v.w_out;
        if (pointwise) {
            dim3 grid((unsigned)((v.h_out * v.w_out + 63) / 64), (unsigned)((v.c_out + 63) / 64), (unsigned)v.n);
            k_conv1x1<T><<<grid, dim3(16, 16), 0, q>>>(v, a + s->x, (const T *)d->w, d->b, a + s->y);
        } else {
            int64_t n = (int64_t)v.n * v.c_out * v.h_out * v.w_out;
            k_conv<T><<<blocks_for(n), THREADS, 0, q>>>(v, a + s->x, (const T *)d->w, d->b, a + s->y);
        }
        break;
    }
    case FA_CUDA_POOL: {
        const fa_cuda_pool &p = s->u.pool;
        k_pool<T><<<blocks_for(p.planes * p.oh * p.ow), THREADS, 0, q>>>(p, a + s->x, a + s->y);
        break;
    }
    case FA_CUDA_RESIZE: {
        const fa_cuda_resize &r = s->u.resize;
        k_resize<T><<<blocks_for(r.planes * r.oh * r.ow), THREADS, 0, q>>>(r, d->i0, d->i1, d->wt, a + s->x,
                                                                             a + s->y);
        break;
    }
    case FA_CUDA_COPY:
    case FA_CUDA_ADD: {
        int64_t n = fa_cuda_box_count(&s->u.box);
        const T *x2 = s->kind == FA_CUDA_ADD ? a + s->x2 : NULL;
        k_box<T><<<blocks_for(n), THREADS, 0, q>>>(s->u.box, a + s->x, x2, a + s->y, n);
        break;
    }
    case FA_CUDA_FILL:
        k_fill<T><<<blocks_for(s->u.fill.count), THREADS, 0, q>>>(a + s->y, s->u.fill.value, s->u.fill.count);
        break;
    case FA_CUDA_UNARY:
        k_unary<T><<<blocks_for(s->u.unary.count), THREADS, 0, q>>>(s->u.unary, a + s->x, a + s->y);
        break;
    case FA_CUDA_AFFINE: {
        const fa_cuda_affine &f = s->u.affine;
        k_affine<T><<<blocks_for(f.outer * f.channels * f.inner), THREADS, 0, q>>>(f, d->wt, d->b, a + s->x,
                                                                                     a + s->y);
        break;
    }
    case FA_CUDA_SOFTMAX: {
        const fa_cuda_softmax &m = s->u.softmax;
        k_softmax<T><<<blocks_for(m.outer * m.inner), THREADS, 0, q>>>(m, a + s->x, a + s->y);
        break;
    }
    default: break;
    }
}

/* The whole run on the stream: input in, every step, outputs out. With
 * check set, each launch is checked and synchronised (the eager first run
 * that names a failing step). */
template <typename T> static int launch_all(const ctx *c, int check, char *err, size_t errlen) {
    T *a = (T *)c->arena;
    k_convert<T, float><<<blocks_for(c->in_count), THREADS, 0, c->stream>>>(a + c->in_at, c->io, c->in_count);
    for (size_t i = 0; i < c->n_steps; i++) {
        launch_step<T>(c, &c->steps[i]);
        if (!check) continue;
        cudaError_t e = cudaGetLastError();
        if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
        if (e != cudaSuccess)
            return fail(err, errlen, "step %zu (kind %d, node %d): %s", i, c->steps[i].s.kind, c->steps[i].s.node,
                        cudaGetErrorString(e));
    }
    for (int i = 0; i < c->n_out; i++)
        k_convert<float, T><<<blocks_for(c->out_count[i]), THREADS, 0, c->stream>>>(
            c->io + c->out_io[i], a + c->out_at[i], c->out_count[i]);
    if (check) CHECK(cudaStreamSynchronize(c->stream), "first run");
    return 0;
}

static int run_all(const ctx *c, int check, char *err, size_t errlen) {
    return c->fp16 ? launch_all<__half>(c, check, err, errlen) : launch_all<float>(c, check, err, errlen);
}

static int capture(ctx *c, char *err, size_t errlen) {
    CHECK(cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    int rc = run_all(c, 0, err, errlen);
    cudaError_t e = cudaStreamEndCapture(c->stream, &c->graph);
    if (rc) return rc;
    if (e != cudaSuccess) return fail(err, errlen, "cudaStreamEndCapture: %s", cudaGetErrorString(e));
    CHECK(cudaGraphInstantiateWithFlags(&c->exec, c->graph, 0), "cudaGraphInstantiate");
    return 0;
}

static int setup(ctx *c, const fa_cuda_program *p, char *err, size_t errlen) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) return fail(err, errlen, "no CUDA device: %s", cudaGetErrorString(e));
    if (n < 1) return fail(err, errlen, "no CUDA device");
    int dev = 0;
    cudaDeviceProp prop;
    CHECK(cudaGetDevice(&dev), "cudaGetDevice");
    CHECK(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
    snprintf(c->device, sizeof c->device, "%.200s, sm_%d%d", prop.name, prop.major, prop.minor);
    CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    c->fp16 = p->fp16, c->elem = p->fp16 ? 2 : 4;
    c->in_at = p->in_at, c->in_count = p->in_count, c->n_out = p->n_out;
    int64_t io = (p->in_count + 15) / 16 * 16;
    for (int i = 0; i < p->n_out; i++) {
        c->out_at[i] = p->out_at[i], c->out_count[i] = p->out_count[i], c->out_io[i] = io;
        io += (p->out_count[i] + 15) / 16 * 16;
    }
    if (dev_alloc(c, &c->arena, (size_t)p->arena * c->elem, err, errlen) ||
        dev_alloc(c, (void **)&c->io, (size_t)io * 4, err, errlen))
        return -1;
    CHECK(cudaMemset(c->arena, 0, (size_t)p->arena * c->elem), "cudaMemset");
    CHECK(cudaMemset(c->io, 0, (size_t)io * 4), "cudaMemset");
    for (size_t i = 0; i < p->n_consts; i++)
        if (upload(c, (char *)c->arena + p->consts[i].at * (int64_t)c->elem, p->consts[i].data, p->consts[i].count,
                   err, errlen))
            return -1;
    if (!(c->steps = (dev_step *)calloc(p->n_steps ? p->n_steps : 1, sizeof *c->steps)))
        return fail(err, errlen, "out of host memory");
    c->n_steps = p->n_steps;
    for (size_t i = 0; i < p->n_steps; i++) {
        c->steps[i].s = p->steps[i];
        if (prepare_step(c, &c->steps[i], err, errlen)) return -1;
    }
    return 0;
}

extern "C" {

int fa_nn_cuda_abi(void) { return FA_CUDA_ABI; }

/* 0 when a device is usable, else -1 with the driver's reason. */
int fa_nn_cuda_plugin_probe(char *err, size_t errlen) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) return fail(err, errlen, "no CUDA device: %s", cudaGetErrorString(e));
    if (n < 1) return fail(err, errlen, "no CUDA device");
    return 0;
}

void fa_nn_cuda_plugin_destroy(void *h);

void *fa_nn_cuda_plugin_create(const fa_cuda_program *p, char *err, size_t errlen) {
    if (!p || p->abi != FA_CUDA_ABI) {
        fail(err, errlen, "program ABI %d, plugin %d", p ? p->abi : -1, FA_CUDA_ABI);
        return NULL;
    }
    ctx *c = (ctx *)calloc(1, sizeof *c);
    if (!c) {
        fail(err, errlen, "out of host memory");
        return NULL;
    }
    if (setup(c, p, err, errlen) || run_all(c, 1, err, errlen) || capture(c, err, errlen)) {
        fa_nn_cuda_plugin_destroy(c);
        return NULL;
    }
    return c;
}

int fa_nn_cuda_plugin_run(void *h, const float *input, float *const *outputs, char *err, size_t errlen) {
    ctx *c = (ctx *)h;
    CHECK(cudaMemcpyAsync(c->io, input, (size_t)c->in_count * 4, cudaMemcpyHostToDevice, c->stream),
          "input copy");
    CHECK(cudaGraphLaunch(c->exec, c->stream), "cudaGraphLaunch");
    for (int i = 0; i < c->n_out; i++)
        CHECK(cudaMemcpyAsync(outputs[i], c->io + c->out_io[i], (size_t)c->out_count[i] * 4,
                              cudaMemcpyDeviceToHost, c->stream),
              "output copy");
    CHECK(cudaStreamSynchronize(c->stream), "run");
    return 0;
}

const char *fa_nn_cuda_plugin_device(const void *h) { return ((const ctx *)h)->device; }

size_t fa_nn_cuda_plugin_device_bytes(const void *h) { return ((const ctx *)h)->bytes; }

void fa_nn_cuda_plugin_destroy(void *h) {
    ctx *c = (ctx *)h;
    if (!c) return;
    if (c->stream) cudaStreamSynchronize(c->stream);
    if (c->exec) cudaGraphExecDestroy(c->exec);
    if (c->graph) cudaGraphDestroy(c->graph);
    for (size_t i = 0; i < c->n_allocs; i++) cudaFree(c->allocs[i]);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c->steps);
    free(c);
}

} /* extern "C" */
