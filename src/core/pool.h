/*
 * pool.h - the process thread pool (ARCHITECTURE.md §3: one pool per
 * process, sized from the CPU count; the NN runtime and the video pipeline
 * take threads from it rather than starting their own, so two cores are
 * never oversubscribed).
 *
 * Two ways to use it:
 *   - fa_pool_for_each: a parallel-for. The caller's thread works too and
 *     the call returns when every index is done, so it is safe to call from
 *     inside a task (nested use never deadlocks: a caller never only waits).
 *   - fa_pool_submit: a detached task, run once by a worker; completion is
 *     the task's own business (a counter, a condition variable, a queue).
 * A pool of 0 workers runs everything on the calling thread, in order.
 */
#ifndef FA_CORE_POOL_H
#define FA_CORE_POOL_H

#include <stddef.h>

typedef struct fa_pool fa_pool;

/* A pool of `workers` threads (< 0: one per online CPU minus one, as the
 * caller's thread also works; 0: no threads). NULL with the error set. */
fa_pool *fa_pool_new(int workers);
/* Waits for every submitted task to finish, then stops the workers. */
void fa_pool_free(fa_pool *p);
/* The process-wide pool, created on first use with fa_pool_new(-1) (or
 * $FA_THREADS - 1 workers when set); never freed before exit. NULL only
 * when it cannot be created (error set). Thread-safe. */
fa_pool *fa_pool_default(void);
/* Threads that can run at once: workers + the caller. */
int fa_pool_threads(const fa_pool *p);

/* Runs fn(arg, i) for every i in [0, n) on at most max_threads threads (the
 * caller included; <= 0: all of them), returning when all are done. Indexes
 * are handed out dynamically (a slow index does not hold back the rest). */
void fa_pool_for_each(fa_pool *p, size_t n, int max_threads, void (*fn)(void *arg, size_t i), void *arg);

/* Queues fn(arg) to run once on a worker (on the caller when the pool has
 * none). 0 or FA_ENOMEM. */
int fa_pool_submit(fa_pool *p, void (*fn)(void *arg), void *arg);

#endif
