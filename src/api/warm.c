/*
 * warm.c - cache warming: a thread that computes responses into the caches
 * before anyone asks for them.
 *
 * Why: after a start, or after an import invalidated a match, the first
 * requests for the hot keys would each pay the cold path (store queries,
 * aggregation, three compressions: milliseconds) and, with many clients,
 * arrive together. Refilling the keys that were hot, in the background,
 * turns those into L1 hits. The thread runs the application's own path
 * (fa_api_app_warm: route, validation, the handler inside the coalesced
 * fill), so a warmed entry is byte for byte what a request would have made,
 * and a request arriving while its key is being warmed waits for that one
 * computation instead of starting another.
 *
 * Which keys: the warm file (written at shutdown from L1's hottest keys)
 * at start-up; after an invalidation, the hottest keys it dropped
 * (cache_hooks.c). The queue is bounded and deduplicated: an import storm
 * cannot grow it without limit, and a key named twice is computed once.
 *
 * The thread runs a small event loop of its own (net/io_epoll.c), so its
 * thread state gets an L2 connection like the server's loops: what it
 * computes is shared with the other nodes too. It sleeps in that loop,
 * woken by an eventfd when keys arrive or it must stop, or by the L2
 * connection's timers.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "cache/cache.h"
#include "net/net.h"

#define QUEUE_MAX 1024
#define KEY_MAX 2048
#define FILE_LINES_MAX 4096

struct fa_api_warmer {
    fa_api_app *app;
    fa_api_callbacks cb;
    fa_io_epoll *io;
    int wake; /* eventfd: keys arrived, or stop */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t idle_cv;
    char *queue[QUEUE_MAX]; /* a ring */
    size_t head, n;
    int stop, busy, started;
    fa_api_warmer_stats st;
};

static char *pop(fa_api_warmer *w) {
    char *k = w->queue[w->head];
    w->head = (w->head + 1) % QUEUE_MAX;
    w->n--;
    return k;
}

static void on_wake(void *arg, unsigned events) {
    (void)events;
    uint64_t v;
    ssize_t r = read(((fa_api_warmer *)arg)->wake, &v, sizeof v);
    (void)r;
}

static void wake(fa_api_warmer *w) {
    uint64_t one = 1;
    ssize_t r = write(w->wake, &one, sizeof one);
    (void)r;
}

/* Sleeps in the loop until woken or the thread state's timers are due. */
static void idle_wait(fa_api_warmer *w, fa_api_thread *t) {
    fa_io_loop *io = fa_io_epoll_loop(w->io);
    double due = t && w->cb.tick ? w->cb.tick(t, io->now(io->ud)) : -1;
    fa_io_epoll_run_once(w->io, due);
}

static void *warm_main(void *arg) {
    fa_api_warmer *w = arg;
    fa_io_loop *io = fa_io_epoll_loop(w->io);
    fa_api_thread *t = w->cb.thread_init(w->cb.ud, -1, io);
    io->watch(io->ud, w->wake, FA_IO_READ, on_wake, w);
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        if (w->n == 0) {
            w->busy = 0;
            pthread_cond_broadcast(&w->idle_cv);
            pthread_mutex_unlock(&w->mu);
            idle_wait(w, t);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        char *key = pop(w);
        w->busy = 1;
        pthread_mutex_unlock(&w->mu);
        int ok = t && fa_api_app_warm(t, key);
        free(key);
        fa_io_epoll_run_once(w->io, 0); /* let the L2 connection send what the fill shared */
        if (t && w->cb.tick) w->cb.tick(t, io->now(io->ud));
        pthread_mutex_lock(&w->mu);
        if (ok)
            w->st.warmed++;
        else
            w->st.failed++;
    }
    w->busy = 0;
    pthread_cond_broadcast(&w->idle_cv);
    pthread_mutex_unlock(&w->mu);
    if (t) w->cb.thread_free(t);
    io->watch(io->ud, w->wake, 0, NULL, NULL);
    return NULL;
}

fa_api_warmer *fa_api_warmer_start(fa_api_app *app) {
    fa_api_warmer *w = fa_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->wake = -1;
    w->app = app;
    w->cb = fa_api_app_callbacks(app);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->idle_cv, NULL);
    w->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->io = fa_io_epoll_new();
    if (w->wake < 0 || !w->io) {
        fa_err_set(FA_EIO, "warmer: cannot make its event loop: %s", strerror(errno));
        fa_api_warmer_stop(w);
        return NULL;
    }
    int e = pthread_create(&w->thread, NULL, warm_main, w);
    if (e) {
        fa_err_set(FA_EIO, "warmer: cannot start its thread: %s", strerror(e));
        fa_api_warmer_stop(w);
        return NULL;
    }
    w->started = 1;
    return w;
}

static int queued(const fa_api_warmer *w, const char *key) {
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->queue[(w->head + i) % QUEUE_MAX], key) == 0) return 1;
    return 0;
}

void fa_api_warmer_add(fa_api_warmer *w, const char *key) {
    if (!w || !key || key[0] != '/') return;
    pthread_mutex_lock(&w->mu);
    if (!w->stop && !queued(w, key)) {
        char *copy = w->n < QUEUE_MAX ? fa_strdup(key) : NULL;
        if (copy) {
            w->queue[(w->head + w->n) % QUEUE_MAX] = copy;
            w->n++;
            w->st.queued++;
            wake(w);
        } else {
            w->st.dropped++;
            fa_err_clear();
        }
    }
    pthread_mutex_unlock(&w->mu);
}

void fa_api_warmer_stop(fa_api_warmer *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    if (w->wake >= 0) wake(w);
    pthread_mutex_unlock(&w->mu);
    if (w->started) pthread_join(w->thread, NULL);
    while (w->n) free(pop(w));
    fa_io_epoll_free(w->io);
    if (w->wake >= 0) close(w->wake);
    pthread_cond_destroy(&w->idle_cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void fa_api_warmer_stats_get(fa_api_warmer *w, fa_api_warmer_stats *out) {
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    out->pending = w->n;
    pthread_mutex_unlock(&w->mu);
}

int fa_api_warmer_wait_idle(fa_api_warmer *w, double timeout_s) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    double end = (double)until.tv_sec + (double)until.tv_nsec / 1e9 + timeout_s;
    until.tv_sec = (time_t)end;
    until.tv_nsec = (long)((end - (double)until.tv_sec) * 1e9);
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while ((w->n || w->busy) && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&w->idle_cv, &w->mu, &until);
    int idle = !w->n && !w->busy;
    pthread_mutex_unlock(&w->mu);
    return idle;
}

/* ------------------------------------------------------------ the warm file */

int fa_api_warm_save(const char *path, struct fa_l1 *l1, size_t max_keys) {
    char **keys = fa_calloc(max_keys ? max_keys : 1, sizeof *keys);
    if (!keys) return FA_ENOMEM;
    size_t n = fa_l1_hot_keys(l1, NULL, keys, max_keys);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f) {
        rc = fa_err_set(FA_EIO, "%s: cannot write the warm file: %s", tmp, strerror(errno));
    } else {
        fprintf(f, "# footanalytics warm file: the most requested API keys, hottest first\n");
        for (size_t i = 0; i < n; i++)
            if (!strchr(keys[i], '\n')) fprintf(f, "%s\n", keys[i]);
        if (fclose(f) != 0 || rename(tmp, path) != 0) {
            rc = fa_err_set(FA_EIO, "%s: cannot write the warm file: %s", path, strerror(errno));
            unlink(tmp);
        }
    }
    for (size_t i = 0; i < n; i++) free(keys[i]);
    free(keys);
    return rc;
}

static int line_ok(const char *s, size_t n) {
    if (n == 0 || n > KEY_MAX || s[0] != '/') return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
    return 1;
}

int fa_api_warm_load(const char *path, fa_api_warmer *w) {
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT
                   ? 0
                   : fa_err_set(FA_EIO, "%s: cannot read the warm file: %s", path, strerror(errno));
    char line[KEY_MAX + 2];
    int count = 0;
    for (int i = 0; i < FILE_LINES_MAX && fgets(line, sizeof line, f); i++) {
        size_t n = strcspn(line, "\r\n");
        int whole = line[n] == '\n' || feof(f);
        line[n] = '\0';
        if (!whole) { /* longer than any key: skip the rest of it */
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n') {
            }
            continue;
        }
        if (line[0] == '#' || !line_ok(line, n)) continue;
        fa_api_warmer_add(w, line);
        count++;
    }
    fclose(f);
    return count;
}
