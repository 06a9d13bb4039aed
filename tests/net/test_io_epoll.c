/*
 * test_io_epoll.c - the stand-alone epoll loop behind fa_io_loop.
 *
 * Level-triggered readiness (a callback fires again while data is left),
 * read and write masks and their changes, stopping a watch, replacing a
 * watch on the same fd, hang-ups reported as FA_IO_ERROR, an event of a
 * batch dropped when an earlier callback of the same batch removed (or
 * replaced) its watch, timeouts and the cached clock, and bad descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"
#include "testutil.h"

typedef struct probe {
    int calls;
    unsigned last;
    int drain; /* read one byte per call */
    int fd;
    void *owner; /* for callbacks that act on their test's state */
} probe;

static void on_event(void *arg, unsigned events) {
    probe *p = arg;
    p->calls++;
    p->last = events;
    if (p->drain && (events & FA_IO_READ)) {
        char ch;
        if (read(p->fd, &ch, 1) != 1) p->drain = 0;
    }
}

static void make_pair(int sv[2]) {
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void test_level_triggered_read(void **state) {
    (void)state;
    fa_io_epoll *e = fa_io_epoll_new();
    assert_non_null(e);
    fa_io_loop *io = fa_io_epoll_loop(e);
    int sv[2];
    make_pair(sv);
    probe p = {.fd = sv[0]};
    assert_int_equal(io->watch(io->ud, sv[0], FA_IO_READ, on_event, &p), 0);
    assert_int_equal(fa_io_epoll_run_once(e, 0), 0); /* nothing to read */
    assert_int_equal(write(sv[1], "abc", 3), 3);
    /* Not drained: reported on every wait while the bytes stay. */
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(fa_io_epoll_run_once(e, 1), 1);
        assert_int_equal(p.calls, i);
        assert_int_equal(p.last, FA_IO_READ);
    }
    p.drain = 1; /* one byte a call: three more calls, then quiet */
    for (int i = 0; i < 3; i++) assert_int_equal(fa_io_epoll_run_once(e, 1), 1);
    assert_int_equal(p.calls, 6);
    assert_int_equal(fa_io_epoll_run_once(e, 0), 0);
    assert_int_equal(io->watch(io->ud, sv[0], 0, NULL, NULL), 0);
    close(sv[0]);
    close(sv[1]);
    fa_io_epoll_free(e);
}

static void test_write_and_mask_changes(void **state) {
    (void)state;
    fa_io_epoll *e = fa_io_epoll_new();
    fa_io_loop *io = fa_io_epoll_loop(e);
    int sv[2];
    make_pair(sv);
    probe p = {.fd = sv[0]};
    assert_int_equal(io->watch(io->ud, sv[0], FA_IO_READ | FA_IO_WRITE, on_event, &p), 0);
    assert_int_equal(fa_io_epoll_run_once(e, 1), 1);
    assert_int_equal(p.last, FA_IO_WRITE); /* writable, nothing to read */
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(fa_io_epoll_run_once(e, 1), 1);
    assert_int_equal(p.last, FA_IO_READ | FA_IO_WRITE);
    /* Narrow to read only, then stop: no more calls although both still hold. */
    assert_int_equal(io->watch(io->ud, sv[0], FA_IO_READ, on_event, &p), 0);
    assert_int_equal(fa_io_epoll_run_once(e, 1), 1);
    assert_int_equal(p.last, FA_IO_READ);
    assert_int_equal(io->watch(io->ud, sv[0], 0, NULL, NULL), 0);
    assert_int_equal(io->watch(io->ud, sv[0], 0, NULL, NULL), 0); /* twice is fine */
    assert_int_equal(fa_io_epoll_run_once(e, 0.01), 0);
    assert_int_equal(p.calls, 3);
    /* Watching again after a stop, with another owner. */
    probe q = {.fd = sv[0]};
    assert_int_equal(io->watch(io->ud, sv[0], FA_IO_READ, on_event, &q), 0);
    assert_int_equal(fa_io_epoll_run_once(e, 1), 1);
    assert_int_equal(q.calls, 1);
    assert_int_equal(p.calls, 3);
    io->watch(io->ud, sv[0], 0, NULL, NULL);
    close(sv[0]);
    close(sv[1]);
    fa_io_epoll_free(e);
}

static void test_hangup_is_error(void **state) {
    (void)state;
    fa_io_epoll *e = fa_io_epoll_new();
    fa_io_loop *io = fa_io_epoll_loop(e);
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
    probe p = {.fd = pfd[0]};
    assert_int_equal(io->watch(io->ud, pfd[0], FA_IO_READ, on_event, &p), 0);
    close(pfd[1]);
    assert_int_equal(fa_io_epoll_run_once(e, 1), 1);
    assert_true(p.last & FA_IO_ERROR);
    io->watch(io->ud, pfd[0], 0, NULL, NULL);
    close(pfd[0]);
    fa_io_epoll_free(e);
}

/* Two ready watches; whichever runs first removes the other's watch, closes
 * its fd and opens a new descriptor that may reuse the number. */
typedef struct pair_ctx {
    fa_io_loop *io;
    int fds[2];
    probe probes[2];
    int first, replaced_fd;
} pair_ctx;

static void on_first(void *arg, unsigned events) {
    (void)events;
    probe *p = arg;
    pair_ctx *c = p->owner;
    p->calls++;
    if (c->first >= 0) return;
    int me = p == &c->probes[0] ? 0 : 1, other = 1 - me;
    c->first = me;
    c->io->watch(c->io->ud, c->fds[other], 0, NULL, NULL);
    close(c->fds[other]);
    c->replaced_fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* likely the same number */
}

static void test_removed_in_same_batch(void **state) {
    (void)state;
    fa_io_epoll *e = fa_io_epoll_new();
    pair_ctx c = {.io = fa_io_epoll_loop(e), .first = -1, .replaced_fd = -1};
    c.probes[0].owner = c.probes[1].owner = &c;
    int a[2], b[2];
    make_pair(a);
    make_pair(b);
    c.fds[0] = a[0];
    c.fds[1] = b[0];
    assert_int_equal(write(a[1], "1", 1), 1);
    assert_int_equal(write(b[1], "2", 1), 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(c.io->watch(c.io->ud, c.fds[i], FA_IO_READ, on_first, &c.probes[i]), 0);
    assert_int_equal(fa_io_epoll_run_once(e, 1), 1); /* both were ready; the second was dropped */
    assert_true(c.first == 0 || c.first == 1);
    assert_int_equal(c.probes[c.first].calls, 1);
    assert_int_equal(c.probes[1 - c.first].calls, 0);
    c.io->watch(c.io->ud, c.fds[c.first], 0, NULL, NULL);
    close(c.fds[c.first]);
    close(c.replaced_fd);
    close(a[1]);
    close(b[1]);
    fa_io_epoll_free(e);
}

static void test_timeout_and_clock(void **state) {
    (void)state;
    fa_io_epoll *e = fa_io_epoll_new();
    fa_io_loop *io = fa_io_epoll_loop(e);
    double t0 = io->now(io->ud);
    assert_true(t0 > 0);
    double start = fa_clock_now();
    assert_int_equal(fa_io_epoll_run_once(e, 0.05), 0);
    double waited = fa_clock_now() - start;
    assert_true(waited >= 0.049 && waited < 1.0);
    double t1 = io->now(io->ud);
    assert_true(t1 - t0 >= 0.049);
    assert_true(io->now(io->ud) == t1); /* cached until the next wait */
    fa_io_epoll_free(e);
}

static void test_bad_fd(void **state) {
    (void)state;
    fa_io_epoll *e = fa_io_epoll_new();
    fa_io_loop *io = fa_io_epoll_loop(e);
    probe p = {0};
    assert_int_equal(io->watch(io->ud, -1, FA_IO_READ, on_event, &p), FA_EIO);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(fd); /* now a closed descriptor */
    assert_int_equal(io->watch(io->ud, fd, FA_IO_READ, on_event, &p), FA_EIO);
    assert_non_null(strstr(fa_err_msg(), "epoll_ctl"));
    /* A regular file cannot be watched by epoll. */
    fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(io->watch(io->ud, fd, FA_IO_READ, on_event, &p), FA_EIO);
    close(fd);
    fa_io_epoll_free(e);
    fa_io_epoll_free(NULL);
}

/* A descriptor number far above the initial table grows the table. */
static void test_high_fd(void **state) {
    (void)state;
    fa_io_epoll *e = fa_io_epoll_new();
    fa_io_loop *io = fa_io_epoll_loop(e);
    int sv[2];
    make_pair(sv);
    int high = fcntl(sv[0], F_DUPFD_CLOEXEC, 500);
    if (high < 0) skip(); /* a low RLIMIT_NOFILE */
    probe p = {.fd = high};
    assert_int_equal(io->watch(io->ud, high, FA_IO_WRITE, on_event, &p), 0);
    assert_int_equal(fa_io_epoll_run_once(e, 1), 1);
    assert_int_equal(p.last, FA_IO_WRITE);
    io->watch(io->ud, high, 0, NULL, NULL);
    close(high);
    close(sv[0]);
    close(sv[1]);
    fa_io_epoll_free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_triggered_read),
        cmocka_unit_test(test_write_and_mask_changes),
        cmocka_unit_test(test_hangup_is_error),
        cmocka_unit_test(test_removed_in_same_batch),
        cmocka_unit_test(test_timeout_and_clock),
        cmocka_unit_test(test_bad_fd),
        cmocka_unit_test(test_high_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
