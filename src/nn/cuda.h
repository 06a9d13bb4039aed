/*
 * cuda.h - internal to src/nn: the CUDA backend's host side. A session on
 * backend "cuda" lowers its graph to a program (cuda_program.h) and hands
 * it to the GPU plugin, libfa_nn_cuda.so, loaded at run time (cuda.c); the
 * same program runs on the host interpreter in tests, so the lowering is
 * checked where no GPU is.
 */
#ifndef FA_NN_CUDA_H
#define FA_NN_CUDA_H

#include "nn/cuda_program.h"
#include "nn/nn_internal.h"

/* Lowers graph g (prepared) as a session placed it: shapes per tensor at
 * the session's batch, byte offsets of computed tensors in the session's
 * arena (SIZE_MAX: not in it), arena_bytes its size, bufs the constants'
 * data per tensor. fp16 chooses the arena's element type. The program
 * points into g's constants (weights): g must outlive it. NULL with the
 * error set: FA_EINVAL naming the node an unsupported form (int64 tensors
 * computed at run time, Gather with computed indices, negative pads),
 * FA_ENOMEM. */
fa_cuda_program *fa_nn_cuda_lower(const fa_nn_graph *g, const fa_nn_shape *shapes, const size_t *offset,
                                  size_t arena_bytes, void *const *bufs, int fp16);
void fa_nn_cuda_program_free(fa_cuda_program *p);
/* fa_nn_cuda_lower for session s as it is planned (any backend): what a
 * "cuda" session of the same model and batch would upload (runtime.c). */
fa_cuda_program *fa_nn_session_lower(const fa_nn_session *s, int fp16);

/* Runs program p on the host in fp32 (whatever p->fp16 says): input has
 * p->in_count floats, outputs[i] receives p->out_count[i]. The reference
 * the GPU plugin is held to. 0 or FA_ENOMEM. */
int fa_nn_cuda_program_run_host(const fa_cuda_program *p, const float *input, float *const *outputs);

/* ---- the plugin (cuda.c) ---- */

typedef struct fa_nn_cuda_ctx fa_nn_cuda_ctx;

/* 0 when the plugin loads (looked for at $FA_NN_CUDA_LIB, beside the
 * running program, then on the library path) and the driver has a device,
 * else FA_EUNAVAIL with the reason set (not built: FA_WITH_CUDA needs nvcc;
 * its ABI differs; no CUDA device and why). Loads once per process;
 * thread-safe. */
int fa_nn_cuda_available(void);
/* The program uploaded to the GPU (weights converted, arena allocated, the
 * steps captured as one CUDA graph). The plugin copies what it needs: p
 * may be freed afterwards. NULL with FA_EUNAVAIL (no plugin, no device,
 * the driver's reason) or FA_ENOMEM. */
fa_nn_cuda_ctx *fa_nn_cuda_create(const fa_cuda_program *p);
/* One run: input fp32 (p->in_count), outputs[i] fp32 (p->out_count[i]).
 * A context runs one call at a time. 0 or FA_EUNAVAIL with the reason. */
int fa_nn_cuda_run(fa_nn_cuda_ctx *c, const float *input, float *const *outputs);
/* "NVIDIA H100 80GB HBM3, sm_90", valid while c lives. */
const char *fa_nn_cuda_device(const fa_nn_cuda_ctx *c);
/* Bytes of device memory c holds. */
size_t fa_nn_cuda_device_bytes(const fa_nn_cuda_ctx *c);
void fa_nn_cuda_free(fa_nn_cuda_ctx *c);

#endif
