/*
 * pool.c - the process thread pool (pool.h): a fixed set of pthread workers
 * fed by one FIFO queue, a parallel-for on top of it, and the process-wide
 * default pool.
 *
 * Why it is built this way:
 *   - One mutex and a ring buffer of (fn, arg) slots. The machines this runs
 *     on have a handful of cores and the tasks are coarse (a convolution's
 *     tile, a video chunk), so a lock-free queue would buy nothing; the ring
 *     only allocates when it grows, never per task.
 *   - fa_pool_for_each never allocates and never waits for a task that has
 *     not started. The job lives on the caller's stack; the caller queues up
 *     to max_threads - 1 "helper" slots pointing at it, then works through
 *     the indexes itself (an atomic counter hands them out, so a slow index
 *     does not hold back the rest). When the counter runs out, the caller
 *     cancels the helper slots no worker has picked up yet (they become
 *     empty slots that workers skip) and waits only for the helpers that are
 *     running, which are finishing their last index. A worker picks a slot
 *     and registers itself as a running helper under the same lock, so a
 *     slot is either cancelled or counted, never both or neither. That is
 *     what makes nesting safe: a for_each called inside a task, with every
 *     worker busy, simply runs all its indexes on the calling thread.
 *   - fa_pool_free lets the workers drain the queue before they stop, so a
 *     submitted task is never dropped.
 *   - The default pool is the one piece of process-wide state the
 *     architecture asks for (§3 "Threads"); pthread_once creates it.
 */
#include "core/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define POOL_MAX_WORKERS 1024

typedef struct pool_job pool_job;

/* A queued slot: a submitted task (job NULL), a for_each helper (job set),
 * or a cancelled helper (fn NULL and job NULL) that workers skip. */
typedef struct pool_slot {
    void (*fn)(void *arg);
    void *arg;
    pool_job *job;
} pool_slot;

/* One fa_pool_for_each call, on its caller's stack. */
struct pool_job {
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t n;
    atomic_size_t next; /* the next index to hand out */
    int running;        /* helpers that picked this job (under the pool lock) */
};

struct fa_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a slot was queued, or stop was set */
    pthread_cond_t help_cv; /* a helper finished */
    pool_slot *ring;
    size_t cap, head, len; /* len counts cancelled slots too */
    int stop;
    int n_workers;
    pthread_t *threads;
};

/* ------------------------------------------------------------ the queue */

/* Doubles the ring (under the lock). 0 or FA_ENOMEM. */
static int ring_grow(fa_pool *p) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    pool_slot *r = fa_malloc(cap * sizeof *r);
    if (!r) return FA_ENOMEM;
    for (size_t i = 0; i < p->len; i++)
        r[i] = p->ring[(p->head + i) % p->cap];
    free(p->ring);
    p->ring = r, p->cap = cap, p->head = 0;
    return 0;
}

/* Appends a slot (under the lock). 0 or FA_ENOMEM. */
static int ring_push(fa_pool *p, pool_slot s) {
    if (p->len == p->cap && ring_grow(p)) return FA_ENOMEM;
    p->ring[(p->head + p->len) % p->cap] = s;
    p->len++;
    return 0;
}

static pool_slot ring_pop(fa_pool *p) {
    pool_slot s = p->ring[p->head];
    p->head = (p->head + 1) % p->cap;
    p->len--;
    return s;
}

/* Cancels the queued helper slots of job (under the lock). */
static void ring_cancel(fa_pool *p, const pool_job *job) {
    for (size_t i = 0; i < p->len; i++) {
        pool_slot *s = &p->ring[(p->head + i) % p->cap];
        if (s->job == job) s->fn = NULL, s->job = NULL;
    }
}

/* -------------------------------------------------------------- workers */

/* Runs indexes of job until none is left. */
static void job_work(pool_job *job) {
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (i >= job->n) return;
        job->fn(job->arg, i);
    }
}

static void helper_run(void *arg) { job_work(arg); }

static void *worker_main(void *arg) {
    fa_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->len == 0 && !p->stop)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->len == 0) break; /* stopping and drained */
        pool_slot s = ring_pop(p);
        if (!s.fn) continue;
        if (s.job) s.job->running++;
        pthread_mutex_unlock(&p->mu);
        s.fn(s.arg);
        pthread_mutex_lock(&p->mu);
        if (s.job && --s.job->running == 0) pthread_cond_broadcast(&p->help_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Stops and joins the first n workers (the queue drains first). */
static void workers_stop(fa_pool *p, int n) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++)
        pthread_join(p->threads[i], NULL);
}

/* ------------------------------------------------------------- the face */

static int online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > POOL_MAX_WORKERS ? POOL_MAX_WORKERS : (int)n;
}

static void pool_destroy(fa_pool *p) {
    pthread_cond_destroy(&p->help_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->ring);
    free(p);
}

fa_pool *fa_pool_new(int workers) {
    if (workers < 0) workers = online_cpus() - 1;
    if (workers > POOL_MAX_WORKERS) {
        fa_err_set(FA_EINVAL, "pool: %d workers asked, at most %d", workers, POOL_MAX_WORKERS);
        return NULL;
    }
    fa_pool *p = fa_calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->help_cv, NULL);
    if (workers > 0 && !(p->threads = fa_calloc((size_t)workers, sizeof *p->threads))) {
        pool_destroy(p);
        return NULL;
    }
    for (int i = 0; i < workers; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (rc) {
            workers_stop(p, i);
            pool_destroy(p);
            fa_err_set(FA_EIO, "pool: cannot start worker %d of %d: %s", i + 1, workers, strerror(rc));
            return NULL;
        }
        p->n_workers = i + 1;
    }
    return p;
}

void fa_pool_free(fa_pool *p) {
    if (!p) return;
    workers_stop(p, p->n_workers);
    pool_destroy(p);
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static fa_pool *default_pool;
static int default_err;

/* $FA_THREADS as a positive count, or -1 when unset or not one. */
static int env_threads(void) {
    const char *s = getenv("FA_THREADS");
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || *end || n < 1 || n > POOL_MAX_WORKERS) return -1;
    return (int)n;
}

static void default_create(void) {
    int threads = env_threads();
    default_pool = fa_pool_new(threads > 0 ? threads - 1 : -1);
    if (!default_pool) default_err = fa_err_code();
}

fa_pool *fa_pool_default(void) {
    pthread_once(&default_once, default_create);
    if (!default_pool)
        fa_err_set(default_err ? default_err : FA_EIO, "pool: the process thread pool could not be created");
    return default_pool;
}

int fa_pool_threads(const fa_pool *p) { return p ? p->n_workers + 1 : 1; }

/* Queues up to want helper slots for job; returns how many were queued (fewer
 * when the ring cannot grow: the caller then does more of the work itself). */
static int helpers_queue(fa_pool *p, pool_job *job, int want) {
    int queued = 0;
    pthread_mutex_lock(&p->mu);
    while (queued < want && ring_push(p, (pool_slot){helper_run, job, job}) == 0)
        queued++;
    if (queued == 1) pthread_cond_signal(&p->work_cv);
    if (queued > 1) pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    return queued;
}

void fa_pool_for_each(fa_pool *p, size_t n, int max_threads, void (*fn)(void *arg, size_t i), void *arg) {
    if (n == 0) return;
    int threads = fa_pool_threads(p);
    if (max_threads > 0 && max_threads < threads) threads = max_threads;
    if ((size_t)threads > n) threads = (int)n;
    if (threads <= 1) {
        for (size_t i = 0; i < n; i++)
            fn(arg, i);
        return;
    }
    pool_job job = {.fn = fn, .arg = arg, .n = n, .running = 0};
    atomic_init(&job.next, 0);
    int queued = helpers_queue(p, &job, threads - 1);
    job_work(&job);
    if (queued == 0) return;
    pthread_mutex_lock(&p->mu);
    ring_cancel(p, &job);
    while (job.running > 0)
        pthread_cond_wait(&p->help_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

int fa_pool_submit(fa_pool *p, void (*fn)(void *arg), void *arg) {
    if (!p || p->n_workers == 0) {
        fn(arg);
        return 0;
    }
    pthread_mutex_lock(&p->mu);
    int rc = ring_push(p, (pool_slot){fn, arg, NULL});
    if (!rc) pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    return rc;
}
