/*
 * cuda.c - finds and loads the GPU plugin, libfa_nn_cuda.so, and wraps its
 * five entry points.
 *
 * Why dlopen: the plugin links the CUDA runtime and is built only where
 * nvcc is (FA_WITH_CUDA); the program itself must build, test and run
 * everywhere without CUDA. Loading at run time gives one binary that uses a
 * GPU where the plugin and a driver exist and says exactly why not
 * elsewhere. The plugin is looked for at $FA_NN_CUDA_LIB, then beside the
 * running program (where the build puts it), then on the library path.
 *
 * The loaded library is process-wide state, like dlopen's own: resolved
 * once under pthread_once and read-only afterwards, so any thread may ask.
 * Loading includes asking the driver for a device: a plugin on a machine
 * without a GPU (built where nvcc is, as on CI) is "unavailable" with the
 * driver's reason, the same as no plugin.
 */
#include "nn/cuda.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLUGIN "libfa_nn_cuda.so"

typedef struct plugin {
    void *dl;
    int (*abi)(void);
    int (*probe)(char *err, size_t errlen);
    void *(*create)(const fa_cuda_program *p, char *err, size_t errlen);
    int (*run)(void *ctx, const float *input, float *const *outputs, char *err, size_t errlen);
    const char *(*device)(const void *ctx);
    size_t (*device_bytes)(const void *ctx);
    void (*destroy)(void *ctx);
    char why[768]; /* why it is unavailable ("" when loaded) */
} plugin;

static plugin the_plugin;
static pthread_once_t the_plugin_once = PTHREAD_ONCE_INIT;

static void *open_beside_program(char *tried, size_t len) {
    char exe[PATH_MAX], path[PATH_MAX + sizeof PLUGIN];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    slash[1] = 0;
    snprintf(path, sizeof path, "%s%s", exe, PLUGIN);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl && access(path, F_OK) == 0) snprintf(tried, len, "%s", dlerror());
    return dl;
}

static void *open_plugin(plugin *p) {
    char tried[400] = "";
    const char *env = getenv("FA_NN_CUDA_LIB");
    if (env && *env) {
        void *dl = dlopen(env, RTLD_NOW | RTLD_LOCAL);
        if (!dl) snprintf(p->why, sizeof p->why, "FA_NN_CUDA_LIB=%.300s: %.300s", env, dlerror());
        return dl;
    }
    void *dl = open_beside_program(tried, sizeof tried);
    if (!dl) dl = dlopen(PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (!dl)
        snprintf(p->why, sizeof p->why,
                 "%s not found beside the program or on the library path (%.200s); it is built where nvcc is "
                 "(FA_WITH_CUDA), or set FA_NN_CUDA_LIB",
                 PLUGIN, *tried ? tried : "not built");
    return dl;
}

static void load_plugin(void) {
    plugin *p = &the_plugin;
    if (!(p->dl = open_plugin(p))) return;
    *(void **)&p->abi = dlsym(p->dl, "fa_nn_cuda_abi");
    *(void **)&p->probe = dlsym(p->dl, "fa_nn_cuda_plugin_probe");
    *(void **)&p->create = dlsym(p->dl, "fa_nn_cuda_plugin_create");
    *(void **)&p->run = dlsym(p->dl, "fa_nn_cuda_plugin_run");
    *(void **)&p->device = dlsym(p->dl, "fa_nn_cuda_plugin_device");
    *(void **)&p->device_bytes = dlsym(p->dl, "fa_nn_cuda_plugin_device_bytes");
    *(void **)&p->destroy = dlsym(p->dl, "fa_nn_cuda_plugin_destroy");
    if (!p->abi || !p->probe || !p->create || !p->run || !p->device || !p->device_bytes || !p->destroy)
        snprintf(p->why, sizeof p->why, "%s lacks the entry points of this version", PLUGIN);
    else if (p->abi() != FA_CUDA_ABI)
        snprintf(p->why, sizeof p->why, "%s speaks program ABI %d, this program %d: rebuild it", PLUGIN,
                 p->abi(), FA_CUDA_ABI);
    else if (p->probe(p->why, sizeof p->why) != 0 && !p->why[0])
        snprintf(p->why, sizeof p->why, "no CUDA device");
    if (p->why[0]) {
        dlclose(p->dl);
        p->dl = NULL;
    }
}

int fa_nn_cuda_available(void) {
    pthread_once(&the_plugin_once, load_plugin);
    if (!the_plugin.dl) return fa_err_set(FA_EUNAVAIL, "nn: backend 'cuda': %s", the_plugin.why);
    return 0;
}

struct fa_nn_cuda_ctx {
    void *impl;
};

fa_nn_cuda_ctx *fa_nn_cuda_create(const fa_cuda_program *p) {
    if (fa_nn_cuda_available()) return NULL;
    char err[512] = "";
    fa_nn_cuda_ctx *c = fa_calloc(1, sizeof *c);
    if (!c) return NULL;
    if (!(c->impl = the_plugin.create(p, err, sizeof err))) {
        free(c);
        fa_err_set(FA_EUNAVAIL, "nn: backend 'cuda': %s", err[0] ? err : "the plugin failed");
        return NULL;
    }
    return c;
}

int fa_nn_cuda_run(fa_nn_cuda_ctx *c, const float *input, float *const *outputs) {
    char err[512] = "";
    if (the_plugin.run(c->impl, input, outputs, err, sizeof err))
        return fa_err_set(FA_EUNAVAIL, "nn: backend 'cuda': %s", err[0] ? err : "the run failed");
    return 0;
}

const char *fa_nn_cuda_device(const fa_nn_cuda_ctx *c) { return the_plugin.device(c->impl); }

size_t fa_nn_cuda_device_bytes(const fa_nn_cuda_ctx *c) { return the_plugin.device_bytes(c->impl); }

void fa_nn_cuda_free(fa_nn_cuda_ctx *c) {
    if (!c) return;
    the_plugin.destroy(c->impl);
    free(c);
}
