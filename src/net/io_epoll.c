/*
 * io_epoll.c - a minimal, single-threaded epoll loop implementing
 * fa_io_loop (net.h), for tools and tests that need to drive a module's
 * non-blocking I/O (the L2 cache's Redis connections) without the HTTP
 * server.
 *
 * Why this shape:
 *   - Level-triggered, because that is the contract of fa_io_loop.watch:
 *     a module states what it wants (read, write) and is told while it
 *     holds; it never has to drain a socket to EAGAIN to be woken again,
 *     which is what adapters such as hiredis's expect.
 *   - A small table indexed by fd holds each watch (callback, argument,
 *     wanted events). The kernel is handed the fd and a generation number
 *     rather than a pointer: a callback may stop watching, close and reopen
 *     descriptors while a batch of events is being dispatched, and an event
 *     already fetched for a watch that has since been replaced (same fd
 *     number, new generation) or removed is then dropped instead of being
 *     delivered to the wrong owner or to freed memory.
 *   - The loop's clock is cached once per wait (fa_clock_now after
 *     epoll_wait returns), so every callback of one iteration sees the same
 *     "now", as on the server's loops.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/net.h"

#define BATCH 64

typedef struct io_watch {
    fa_io_fn fn;
    void *arg;
    unsigned want; /* FA_IO_READ | FA_IO_WRITE; 0 = not watched */
    uint32_t gen;  /* bumped on every change of owner or removal */
} io_watch;

struct fa_io_epoll {
    int epfd;
    io_watch *watches; /* indexed by fd */
    size_t nwatches;
    uint32_t next_gen;
    double now;
    fa_io_loop loop;
};

static uint32_t epoll_mask(unsigned want) {
    uint32_t m = 0;
    if (want & FA_IO_READ) m |= EPOLLIN | EPOLLRDHUP;
    if (want & FA_IO_WRITE) m |= EPOLLOUT;
    return m;
}

static unsigned io_events(uint32_t m) {
    unsigned ev = 0;
    if (m & (EPOLLIN | EPOLLRDHUP)) ev |= FA_IO_READ;
    if (m & EPOLLOUT) ev |= FA_IO_WRITE;
    if (m & (EPOLLERR | EPOLLHUP)) ev |= FA_IO_ERROR;
    return ev;
}

static int grow_table(fa_io_epoll *e, int fd) {
    if ((size_t)fd < e->nwatches) return 0;
    size_t n = e->nwatches ? e->nwatches : 64;
    while (n <= (size_t)fd) n *= 2;
    io_watch *w = fa_realloc(e->watches, n * sizeof *w);
    if (!w) return FA_ENOMEM;
    memset(w + e->nwatches, 0, (n - e->nwatches) * sizeof *w);
    e->watches = w;
    e->nwatches = n;
    return 0;
}

static uint32_t new_gen(fa_io_epoll *e) {
    if (++e->next_gen == 0) e->next_gen = 1; /* 0 marks a free slot */
    return e->next_gen;
}

static int unwatch(fa_io_epoll *e, int fd) {
    if ((size_t)fd >= e->nwatches || !e->watches[fd].want) return 0;
    e->watches[fd].want = 0;
    e->watches[fd].gen = 0;
    if (epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL) != 0 && errno != EBADF && errno != ENOENT)
        return fa_err_set(FA_EIO, "io_epoll: fd %d: epoll_ctl(DEL): %s", fd, strerror(errno));
    return 0;
}

static int io_watch_fd(void *ud, int fd, unsigned want, fa_io_fn fn, void *arg) {
    fa_io_epoll *e = ud;
    if (fd < 0) return fa_err_set(FA_EIO, "io_epoll: watch of fd %d", fd);
    want &= FA_IO_READ | FA_IO_WRITE;
    if (!want) return unwatch(e, fd);
    if (grow_table(e, fd)) return FA_ENOMEM;
    io_watch *w = &e->watches[fd];
    int op = w->want ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    /* The same owner changing its mask keeps the generation, so events of the
     * current batch still reach it (filtered by the new mask). */
    uint32_t gen = (w->want && w->fn == fn && w->arg == arg) ? w->gen : new_gen(e);
    struct epoll_event ev = {.events = epoll_mask(want), .data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd};
    if (epoll_ctl(e->epfd, op, fd, &ev) != 0) {
        if (op == EPOLL_CTL_MOD && errno == ENOENT) op = EPOLL_CTL_ADD; /* closed and reopened behind us */
        else if (op == EPOLL_CTL_ADD && errno == EEXIST) op = EPOLL_CTL_MOD;
        else return fa_err_set(FA_EIO, "io_epoll: fd %d: epoll_ctl: %s", fd, strerror(errno));
        if (epoll_ctl(e->epfd, op, fd, &ev) != 0)
            return fa_err_set(FA_EIO, "io_epoll: fd %d: epoll_ctl: %s", fd, strerror(errno));
    }
    w->fn = fn;
    w->arg = arg;
    w->want = want;
    w->gen = gen;
    return 0;
}

static double io_now(void *ud) { return ((fa_io_epoll *)ud)->now; }

/* Creates an empty loop. Returns NULL with FA_EIO (epoll_create1 failed)
 * or FA_ENOMEM. */
fa_io_epoll *fa_io_epoll_new(void) {
    fa_io_epoll *e = fa_calloc(1, sizeof *e);
    if (!e) return NULL;
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (e->epfd < 0) {
        fa_err_set(FA_EIO, "io_epoll: epoll_create1: %s", strerror(errno));
        free(e);
        return NULL;
    }
    e->now = fa_clock_now();
    e->loop = (fa_io_loop){.ud = e, .watch = io_watch_fd, .now = io_now};
    return e;
}

/* Frees the loop. Watched descriptors are not closed: they belong to
 * whoever watched them. */
void fa_io_epoll_free(fa_io_epoll *e) {
    if (!e) return;
    close(e->epfd);
    free(e->watches);
    free(e);
}

/* The fa_io_loop view of e, valid as long as e. */
fa_io_loop *fa_io_epoll_loop(fa_io_epoll *e) { return &e->loop; }

static int wait_ms(double timeout_s) {
    if (timeout_s < 0 || isnan(timeout_s)) return -1;
    double ms = ceil(timeout_s * 1000.0);
    return ms >= INT_MAX ? INT_MAX : (int)ms;
}

/* Runs the callback of one fetched event when its watch is still the one
 * the event was fetched for; returns 1 when it ran. */
static int dispatch(fa_io_epoll *e, const struct epoll_event *ev) {
    int fd = (int)(uint32_t)ev->data.u64;
    uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
    if ((size_t)fd >= e->nwatches) return 0;
    io_watch *w = &e->watches[fd];
    if (!w->want || w->gen != gen) return 0;
    unsigned events = io_events(ev->events) & (w->want | FA_IO_ERROR);
    if (!events) return 0;
    w->fn(w->arg, events);
    return 1;
}

/* Waits up to timeout_s (< 0: forever) for readiness, updates the loop's
 * clock, and runs the callbacks of the ready watches. Returns how many ran
 * (0 on a timeout or a signal), or FA_EIO. */
int fa_io_epoll_run_once(fa_io_epoll *e, double timeout_s) {
    struct epoll_event evs[BATCH];
    int n = epoll_wait(e->epfd, evs, BATCH, wait_ms(timeout_s));
    e->now = fa_clock_now();
    if (n < 0) {
        if (errno == EINTR) return 0;
        return fa_err_set(FA_EIO, "io_epoll: epoll_wait: %s", strerror(errno));
    }
    int ran = 0;
    for (int i = 0; i < n; i++) ran += dispatch(e, &evs[i]);
    return ran;
}
