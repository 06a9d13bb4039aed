/*
 * test_server.c - the server of src/api/server.c, for real: each test
 * starts it on 127.0.0.1, port 0, with a small echo application, and talks
 * to it over sockets: keep-alive, pipelining, the limits (431, 413, idle and
 * header timeouts, max_connections), graceful stop with a slow handler in
 * flight, HEAD, borrowed bodies, two loops, and peers that misbehave
 * (garbage, resets, half-closes), deferred responses completed from a
 * watched fd and from the tick, the peer address. Every socket has a
 * receive timeout, so a server bug fails a test instead of hanging it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "core/core.h"
#include "net/net.h"
#include "testutil.h"
#include "h1_reply.h"

/* ---------------------------------------------------------------- the echo app */

typedef struct echo_app {
    atomic_int inits, frees, releases, handled, slow_started, deferred_done;
} echo_app;

/* Deferred requests wait in one of two FIFOs: answered by the pipe's watch
 * callback (the handler writes a byte to the pipe) or by the tick, 20 ms later. */
enum { MAX_WAITING = 64 };
typedef struct waiting {
    fa_http_deferred *d;
    char query[64];
    double due;
} waiting;

struct fa_api_thread {
    echo_app *app;
    int loop;
    const fa_io_loop *io;
    int pipe[2];
    waiting by_fd[MAX_WAITING], by_tick[MAX_WAITING];
    int n_fd, n_tick;
};

static void answer_waiting(waiting *w, const char *how) {
    fa_http_response *resp = fa_http_deferred_response(w->d);
    resp->status = 200;
    resp->content_type = "text/plain";
    fa_buf_printf(&resp->body, "%s q=%s", how, w->query);
    fa_http_deferred_done(w->d);
}

/* Answers what is waiting now: answering may run the connection's next
 * pipelined request, which may defer into the same list, for next time. */
static void answer_all(waiting *list, int *n, const char *how, echo_app *app) {
    waiting now[MAX_WAITING];
    int k = *n;
    memcpy(now, list, (size_t)k * sizeof *list);
    *n = 0;
    for (int i = 0; i < k; i++) answer_waiting(&now[i], how);
    atomic_fetch_add(&app->deferred_done, k);
}

static void pipe_ready(void *arg, unsigned events) {
    fa_api_thread *t = arg;
    char b[64];
    assert_true(events & FA_IO_READ);
    while (read(t->pipe[0], b, sizeof b) > 0) {
    }
    answer_all(t->by_fd, &t->n_fd, "by-fd", t->app);
}

static double echo_tick(fa_api_thread *t, double now) {
    if (!t->n_tick) return -1;
    if (now < t->by_tick[t->n_tick - 1].due) return t->by_tick[t->n_tick - 1].due - now;
    answer_all(t->by_tick, &t->n_tick, "by-tick", t->app);
    return t->n_tick ? 0.02 : -1; /* answering may have deferred the next request */
}

static void echo_draining(fa_api_thread *t) { answer_all(t->by_tick, &t->n_tick, "by-drain", t->app); }

static fa_api_thread *echo_thread_init(void *ud, int loop_index, const struct fa_io_loop *io) {
    fa_api_thread *t = calloc(1, sizeof *t);
    t->app = ud;
    t->loop = loop_index;
    t->io = io;
    t->pipe[0] = t->pipe[1] = -1;
    if (io) {
        assert_int_equal(pipe2(t->pipe, O_NONBLOCK | O_CLOEXEC), 0);
        assert_int_equal(io->watch(io->ud, t->pipe[0], FA_IO_READ, pipe_ready, t), 0);
    }
    atomic_fetch_add(&t->app->inits, 1);
    return t;
}

static void echo_thread_free(fa_api_thread *t) {
    atomic_fetch_add(&t->app->frees, 1);
    answer_all(t->by_fd, &t->n_fd, "by-free", t->app); /* their connections are gone: done only frees */
    answer_all(t->by_tick, &t->n_tick, "by-free", t->app);
    if (t->io) {
        assert_int_equal(t->io->watch(t->io->ud, t->pipe[0], 0, NULL, NULL), 0);
        close(t->pipe[0]);
        close(t->pipe[1]);
    }
    free(t);
}

/* Defers the request into list (answered later with its query). */
static void defer_into(fa_api_thread *t, const fa_http_request *req, fa_http_response *resp, waiting *list,
                       int *n) {
    assert_true(*n < MAX_WAITING);
    waiting *w = &list[(*n)++];
    w->d = fa_http_defer(resp);
    assert_non_null(w->d);
    assert_null(fa_http_defer(resp)); /* only once */
    snprintf(w->query, sizeof w->query, "%.*s", (int)req->query.n, req->query.p);
    w->due = t->io->now(t->io->ud) + 0.02;
}

static void echo_release(void *ud) { atomic_fetch_add(&((echo_app *)ud)->releases, 1); }

static int path_is(const fa_http_request *req, const char *p) {
    return req->path.n == strlen(p) && memcmp(req->path.p, p, req->path.n) == 0;
}

static void echo_handle(fa_api_thread *t, const fa_http_request *req, fa_http_response *resp) {
    static const char borrowed[] = "a borrowed body";
    char loop[16];
    atomic_fetch_add(&t->app->handled, 1);
    snprintf(loop, sizeof loop, "%d", t->loop);
    fa_http_response_header(resp, "X-Loop", loop);
    resp->content_type = "text/plain";
    if (path_is(req, "/echo")) {
        fa_buf_printf(&resp->body, "%.*s %.*s q=%.*s body=%.*s", (int)req->method_text.n, req->method_text.p,
                      (int)req->path.n, req->path.p, (int)req->query.n, req->query.p, (int)req->body.n,
                      req->body.p);
    } else if (path_is(req, "/slow")) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        atomic_fetch_add(&t->app->slow_started, 1);
        nanosleep(&ts, NULL);
        fa_buf_puts(&resp->body, "slow");
    } else if (path_is(req, "/ref")) {
        resp->body_ref = borrowed;
        resp->body_ref_len = sizeof borrowed - 1;
        resp->release = echo_release;
        resp->release_ud = t->app;
    } else if (path_is(req, "/bigref")) {
        static const char huge[16 << 20];
        resp->body_ref = huge;
        resp->body_ref_len = sizeof huge;
        resp->release = echo_release;
        resp->release_ud = t->app;
    } else if (path_is(req, "/big")) {
        for (int i = 0; i < 100000; i++) fa_buf_puts(&resp->body, "0123456789"); /* 1 MB */
    } else if (path_is(req, "/none")) {
        resp->status = 204;
    } else if (path_is(req, "/defer-fd")) {
        defer_into(t, req, resp, t->by_fd, &t->n_fd);
        ssize_t w = write(t->pipe[1], "x", 1);
        assert_int_equal(w, 1);
    } else if (path_is(req, "/defer-tick")) {
        defer_into(t, req, resp, t->by_tick, &t->n_tick);
    } else if (path_is(req, "/peer")) {
        fa_buf_printf(&resp->body, "%s HTTP/%d", req->peer, req->version);
    } else {
        fa_buf_puts(&resp->body, "hello");
    }
}

static fa_server *start(fa_server_config *c, echo_app *app) {
    c->host = "127.0.0.1";
    c->port = 0;
    fa_api_callbacks cb = {app, echo_thread_init, echo_thread_free, echo_handle, echo_tick, echo_draining};
    fa_server *s = fa_server_start(c, &cb);
    if (!s) print_message("fa_server_start: %s\n", fa_err_msg());
    assert_non_null(s);
    assert_true(fa_server_port(s) > 0);
    return s;
}

static fa_server *start_default(echo_app *app, int loops) {
    fa_server_config c;
    fa_server_config_default(&c);
    c.loops = loops;
    return start(&c, app);
}

static void stop(fa_server *s) {
    fa_server_stop(s);
    fa_server_wait_free(s);
}

/* ---------------------------------------------------------------- a small client */

typedef struct client {
    int fd;
    size_t len;
    char buf[1 << 16];
} client;

static double now_s(void) { return fa_clock_now(); }

static client *client_open(int port) {
    client *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    return c;
}

static void client_close(client *c) {
    close(c->fd);
    free(c);
}

static void client_send(client *c, const char *s, size_t n) {
    while (n) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

static void client_puts(client *c, const char *s) { client_send(c, s, strlen(s)); }

static ssize_t client_recv(void *io, void *p, size_t n) { return recv(*(int *)io, p, n, 0); }

/* Reads one response; for HEAD requests pass head_only. 0, or -1 when the
 * connection ended (or timed out) first. */
static int read_reply(client *c, reply *r, int head_only) {
    h1_in in = {c->buf, sizeof c->buf, &c->len, client_recv, &c->fd};
    return h1_read_reply(&in, r, head_only);
}

/* Whether the server closes the connection (EOF or reset) with nothing
 * more than what is buffered. */
static int closed_by_server(client *c) {
    for (;;) {
        ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return 1;
        if (n < 0) return 0; /* timed out */
        print_message("unexpected %zd bytes: %.*s\n", n, (int)n, c->buf);
        return 0;
    }
}

static void get(client *c, const char *target, reply *r) {
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", target);
    client_puts(c, req);
    assert_int_equal(read_reply(c, r, 0), 0);
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- tests */

static void test_keep_alive(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server *s = start_default(&app, 1);
    client *c = client_open(fa_server_port(s));
    reply *r = malloc(sizeof *r);
    char target[64], want[128];
    for (int i = 0; i < 1000; i++) {
        snprintf(target, sizeof target, "/echo?i=%d", i);
        get(c, target, r);
        snprintf(want, sizeof want, "GET /echo q=i=%d body=", i);
        assert_int_equal(r->status, 200);
        assert_string_equal(r->body, want);
        assert_null(header_in(r->head, "Connection"));
    }
    assert_non_null(header_in(r->head, "Date"));
    assert_int_equal(strncmp(header_in(r->head, "Server"), "footanalytics/" FA_VERSION "\r\n", 17), 0);
    assert_int_equal(atomic_load(&app.handled), 1000);
    client_close(c);
    free(r);
    stop(s);
    assert_int_equal(atomic_load(&app.inits), 1);
    assert_int_equal(atomic_load(&app.frees), 1);
}

static void test_pipelining(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server *s = start_default(&app, 1);
    client *c = client_open(fa_server_port(s));
    fa_buf all = {0};
    for (int i = 0; i < 100; i++) {
        if (i % 3 == 1)
            fa_buf_printf(&all, "POST /echo?i=%d HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\nbody%d", i,
                          5 + (i >= 10), i);
        else
            fa_buf_printf(&all, "GET /echo?i=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    }
    client_send(c, all.data, all.len); /* one write */
    reply *r = malloc(sizeof *r);
    char want[128];
    for (int i = 0; i < 100; i++) {
        assert_int_equal(read_reply(c, r, 0), 0);
        if (i % 3 == 1)
            snprintf(want, sizeof want, "POST /echo q=i=%d body=body%d", i, i);
        else
            snprintf(want, sizeof want, "GET /echo q=i=%d body=", i);
        assert_string_equal(r->body, want);
    }
    fa_buf_free(&all);
    free(r);
    client_close(c);
    stop(s);
}

static void test_big_pipelined_responses(void **state) {
    (void)state; /* 1 MB responses, pipelined, read slowly: back-pressure must keep them whole and in order */
    echo_app app = {0};
    fa_server *s = start_default(&app, 1);
    client *c = client_open(fa_server_port(s));
    for (int i = 0; i < 5; i++)
        client_puts(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\nGET /echo?after HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_s(0.1);
    for (int i = 0; i < 5; i++) {
        /* read the 1 MB response by hand: it does not fit the reply struct */
        char *end;
        h1_in in = {c->buf, sizeof c->buf, &c->len, client_recv, &c->fd};
        while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) assert_true(h1_in_fill(&in) > 0);
        size_t hl = (size_t)(end + 4 - c->buf);
        assert_non_null(strstr(c->buf, "Content-Length: 1000000\r\n"));
        size_t left = 1000000, have = c->len - hl;
        assert_true(have <= left);
        for (size_t k = 0; k < have; k++)
            assert_int_equal(c->buf[hl + k], '0' + (char)((1000000 - left + k) % 10));
        left -= have;
        c->len = 0;
        while (left) {
            ssize_t n = recv(c->fd, c->buf, left < sizeof c->buf ? left : sizeof c->buf, 0);
            assert_true(n > 0);
            for (ssize_t k = 0; k < n; k++)
                assert_int_equal(c->buf[k], '0' + (char)((1000000 - left + (size_t)k) % 10));
            left -= (size_t)n;
        }
        reply r;
        assert_int_equal(read_reply(c, &r, 0), 0);
        assert_string_equal(r.body, "GET /echo q=after body=");
    }
    client_close(c);
    stop(s);
}

static void expect_error(int port, const char *req, size_t n, int status) {
    client *c = client_open(port);
    reply *r = malloc(sizeof *r);
    client_send(c, req, n);
    assert_int_equal(read_reply(c, r, 0), 0);
    if (r->status != status) print_message("got %d, want %d for %.60s\n", r->status, status, req);
    assert_int_equal(r->status, status);
    assert_non_null(strstr(r->head, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(r->head, "\r\nContent-Type: application/problem+json\r\n"));
    char want[64];
    snprintf(want, sizeof want, "\"status\":%d", status);
    assert_non_null(strstr(r->body, want));
    assert_true(closed_by_server(c));
    free(r);
    client_close(c);
}

static void test_limits(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.loops = 1;
    cfg.max_header_bytes = 1024;
    cfg.max_body_bytes = 4096;
    fa_server *s = start(&cfg, &app);
    int port = fa_server_port(s);
    char *buf = malloc(16384);
    /* 431: a head of 2000 bytes */
    int n = snprintf(buf, 16384, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(buf + n, 'b', 2000);
    memcpy(buf + n + 2000, "\r\n\r\n", 4);
    expect_error(port, buf, (size_t)n + 2004, 431);
    /* 413: a declared body over the limit, sent anyway (the server lingers, so we still read the 413) */
    n = snprintf(buf, 16384, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10000\r\n\r\n");
    memset(buf + n, 'x', 10000);
    expect_error(port, buf, (size_t)n + 10000, 413);
    /* exactly the limit passes */
    client *c = client_open(port);
    reply *r = malloc(sizeof *r);
    n = snprintf(buf, 16384, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n");
    memset(buf + n, 'y', 4096);
    client_send(c, buf, (size_t)n + 4096);
    assert_int_equal(read_reply(c, r, 0), 0);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, strlen("POST /echo q= body=") + 4096);
    /* other protocol errors over the wire */
    static const char chunked[] =
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    expect_error(port, chunked, sizeof chunked - 1, 411);
    static const char garbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n";
    expect_error(port, garbage, sizeof garbage - 1, 400);
    static const char nul_path[] = "GET /a%00 HTTP/1.1\r\nHost: t\r\n\r\n";
    expect_error(port, nul_path, sizeof nul_path - 1, 400);
    static const char http2[] = "GET / HTTP/2.0\r\nHost: t\r\n\r\n";
    expect_error(port, http2, sizeof http2 - 1, 505);
    client_close(c);
    free(r);
    free(buf);
    stop(s);
}

static void test_idle_timeout(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.loops = 1;
    cfg.idle_timeout_s = 0.3;
    fa_server *s = start(&cfg, &app);
    client *c = client_open(fa_server_port(s));
    reply r;
    get(c, "/", &r);
    assert_string_equal(r.body, "hello");
    double t0 = now_s();
    assert_true(closed_by_server(c));
    double waited = now_s() - t0;
    print_message("idle connection closed after %.3f s (idle_timeout_s 0.3)\n", waited);
    assert_true(waited > 0.2 && waited < 2.0);
    client_close(c);
    stop(s);
}

static void test_slowloris(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.loops = 1;
    cfg.header_timeout_s = 0.5;
    fa_server *s = start(&cfg, &app);
    client *c = client_open(fa_server_port(s));
    static const char slow[] =
        "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    double t0 = now_s();
    size_t sent = 0;
    for (; sent < sizeof slow - 1; sent++) { /* one byte per 100 ms, until the server answers */
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0) break;
        if (send(c->fd, slow + sent, 1, MSG_NOSIGNAL) != 1) break;
    }
    reply r;
    assert_int_equal(read_reply(c, &r, 0), 0);
    double waited = now_s() - t0;
    print_message("slowloris answered %d after %.3f s and %zu bytes (header_timeout_s 0.5)\n", r.status,
                  waited, sent);
    assert_int_equal(r.status, 408);
    assert_true(waited > 0.4 && waited < 2.0);
    assert_true(sent < 20);
    assert_true(closed_by_server(c));
    client_close(c);
    /* a connection that sends nothing at all is closed silently after the header timeout */
    c = client_open(fa_server_port(s));
    t0 = now_s();
    assert_true(closed_by_server(c));
    assert_true(now_s() - t0 > 0.4);
    client_close(c);
    stop(s);
}

static void test_max_connections(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.loops = 2;
    cfg.max_connections = 3;
    fa_server *s = start(&cfg, &app);
    int port = fa_server_port(s);
    client *c[3];
    reply r;
    for (int i = 0; i < 3; i++) {
        c[i] = client_open(port);
        get(c[i], "/", &r); /* accepted and counted */
        assert_int_equal(r.status, 200);
    }
    client *extra = client_open(port);
    assert_int_equal(read_reply(extra, &r, 0), 0);
    assert_int_equal(r.status, 503);
    assert_true(closed_by_server(extra));
    client_close(extra);
    client_close(c[0]); /* frees a slot once the server sees the close */
    int ok = 0;
    for (int tries = 0; tries < 100 && !ok; tries++) {
        client *d = client_open(port);
        client_puts(d, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        ok = read_reply(d, &r, 0) == 0 && r.status == 200;
        client_close(d);
        if (!ok) sleep_s(0.02);
    }
    assert_true(ok);
    client_close(c[1]);
    client_close(c[2]);
    stop(s);
}

typedef struct stopper {
    fa_server *s;
    double delay;
} stopper;

static void *stop_later(void *arg) {
    stopper *st = arg;
    sleep_s(st->delay);
    fa_server_stop(st->s);
    return NULL;
}

static void test_graceful_stop(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server *s = start_default(&app, 1);
    int port = fa_server_port(s);
    client *idle = client_open(port), *busy = client_open(port), *late = client_open(port);
    reply r;
    get(idle, "/", &r);
    get(late, "/", &r);
    client_puts(busy, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    while (!atomic_load(&app.slow_started)) sleep_s(0.001); /* the handler is sleeping now */
    /* a request that reaches the socket while the loop is busy: in flight too */
    client_puts(late, "GET /echo?late HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_s(0.02);
    double t0 = now_s();
    stopper st = {s, 0.0};
    pthread_t th; /* from another thread, as a signal handler would */
    assert_int_equal(pthread_create(&th, NULL, stop_later, &st), 0);
    assert_int_equal(read_reply(busy, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "slow");
    assert_non_null(strstr(r.head, "\r\nConnection: close\r\n"));
    assert_true(closed_by_server(busy));
    assert_int_equal(read_reply(late, &r, 0), 0);
    assert_string_equal(r.body, "GET /echo q=late body=");
    assert_non_null(strstr(r.head, "\r\nConnection: close\r\n"));
    assert_true(closed_by_server(late));
    assert_true(closed_by_server(idle));
    pthread_join(th, NULL);
    fa_server_wait_free(s);
    double took = now_s() - t0;
    print_message("stopped in %.3f s with a 0.2 s request in flight\n", took);
    assert_true(took < 2.0);
    assert_int_equal(atomic_load(&app.frees), 1);
    client *refused = calloc(1, sizeof *refused); /* nothing listens any more */
    refused->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_not_equal(connect(refused->fd, (struct sockaddr *)&a, sizeof a), 0);
    client_close(refused);
    client_close(idle);
    client_close(busy);
    client_close(late);
}

static void test_drain_timeout(void **state) {
    (void)state; /* a request that never completes cannot hold the server past drain_timeout_s */
    echo_app app = {0};
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.loops = 1;
    cfg.drain_timeout_s = 0.3;
    fa_server *s = start(&cfg, &app);
    client *c = client_open(fa_server_port(s));
    client_puts(c, "GET / HTTP/1.1\r\nHost: t\r\n"); /* half a head */
    sleep_s(0.05);
    double t0 = now_s();
    stop(s);
    double took = now_s() - t0;
    assert_true(took > 0.25 && took < 2.0);
    assert_true(closed_by_server(c));
    client_close(c);
}

static void test_head_and_bodiless(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server *s = start_default(&app, 1);
    client *c = client_open(fa_server_port(s));
    reply r;
    client_puts(c, "HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_reply(c, &r, 1), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(strtoul(header_in(r.head, "Content-Length"), NULL, 10), strlen("HEAD /echo q= body="));
    get(c, "/echo", &r); /* no body bytes were sent for the HEAD: this parses */
    assert_string_equal(r.body, "GET /echo q= body=");
    get(c, "/none", &r);
    assert_int_equal(r.status, 204);
    assert_null(header_in(r.head, "Content-Length"));
    get(c, "/", &r);
    assert_string_equal(r.body, "hello");
    client_close(c);
    stop(s);
}

static void test_body_ref(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server *s = start_default(&app, 1);
    client *c = client_open(fa_server_port(s));
    reply r;
    get(c, "/ref", &r);
    assert_string_equal(r.body, "a borrowed body");
    client_puts(c, "HEAD /ref HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_reply(c, &r, 1), 0);
    assert_int_equal(strtoul(header_in(r.head, "Content-Length"), NULL, 10), 15);
    /* pipelined, then 16 MB that cannot all be written while nobody reads, then a reset */
    client_puts(c, "GET /ref HTTP/1.1\r\nHost: t\r\n\r\nGET /ref HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /bigref HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_s(0.1);
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client_close(c);
    sleep_s(0.05);
    stop(s);
    assert_int_equal(atomic_load(&app.releases), 5); /* each exactly once, written or not */
}

static void test_two_loops(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server *s = start_default(&app, 2);
    assert_int_equal(atomic_load(&app.inits), 2);
    int seen[2] = {0, 0};
    reply r;
    for (int i = 0; i < 64; i++) {
        client *c = client_open(fa_server_port(s));
        get(c, "/", &r);
        const char *loop = header_in(r.head, "X-Loop");
        assert_non_null(loop);
        int k = atoi(loop);
        assert_true(k == 0 || k == 1);
        seen[k]++;
        client_close(c);
    }
    print_message("connections per loop: %d, %d\n", seen[0], seen[1]);
    assert_true(seen[0] > 0 && seen[1] > 0);
    stop(s);
    assert_int_equal(atomic_load(&app.frees), 2);
}

static void test_misbehaving_peers(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server *s = start_default(&app, 1);
    int port = fa_server_port(s);
    reply r;
    /* half-close after the request: the response still comes, then EOF */
    client *c = client_open(port);
    client_puts(c, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\nGET /echo?2 HTTP/1.1\r\nHost: t\r\n\r\n");
    shutdown(c->fd, SHUT_WR);
    assert_int_equal(read_reply(c, &r, 0), 0);
    assert_int_equal(read_reply(c, &r, 0), 0);
    assert_string_equal(r.body, "GET /echo q=2 body=");
    assert_true(closed_by_server(c));
    client_close(c);
    /* reset in the middle of a head, and in the middle of a body */
    const char *partial[] = {"GET /echo HTTP/1.1\r\nHo",
                             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc"};
    for (int i = 0; i < 2; i++) {
        c = client_open(port);
        client_puts(c, partial[i]);
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        client_close(c);
    }
    /* many requests, then a reset without reading any response */
    c = client_open(port);
    for (int i = 0; i < 50; i++) client_puts(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_s(0.05);
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    client_close(c);
    /* HTTP/1.0 without keep-alive: answered, then closed */
    c = client_open(port);
    client_puts(c, "GET /echo HTTP/1.0\r\n\r\n");
    assert_int_equal(read_reply(c, &r, 0), 0);
    assert_non_null(strstr(r.head, "\r\nConnection: close\r\n"));
    assert_true(closed_by_server(c));
    client_close(c);
    /* HTTP/1.0 with keep-alive: kept */
    c = client_open(port);
    client_puts(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(read_reply(c, &r, 0), 0);
    assert_non_null(strstr(r.head, "\r\nConnection: keep-alive\r\n"));
    get(c, "/", &r);
    assert_string_equal(r.body, "hello");
    /* Connection: close from the client: answered, later pipelined requests are not */
    client_puts(
        c,
        "GET /echo?last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_reply(c, &r, 0), 0);
    assert_string_equal(r.body, "GET /echo q=last body=");
    assert_true(closed_by_server(c));
    client_close(c);
    /* still serving */
    c = client_open(port);
    get(c, "/", &r);
    assert_string_equal(r.body, "hello");
    client_close(c);
    stop(s);
}

static void test_expect_continue(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server *s = start_default(&app, 1);
    client *c = client_open(fa_server_port(s));
    reply r;
    client_puts(c, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    assert_int_equal(read_reply(c, &r, 1), 0);
    assert_int_equal(r.status, 100);
    client_puts(c, "hello");
    assert_int_equal(read_reply(c, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "POST /echo q= body=hello");
    client_close(c);
    stop(s);
}

/* Deferred responses keep their place among pipelined ones, from a watched
 * fd and from the tick; the peer address reaches the handler. */
static void test_deferred(void **state) {
    (void)state;
    echo_app app = {0};
    fa_server *s = start_default(&app, 1);
    client *c = client_open(fa_server_port(s));
    client_puts(c, "GET /defer-fd?i=0 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /echo?i=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /defer-tick?i=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /defer-tick?i=3 HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /echo?i=4 HTTP/1.1\r\nHost: t\r\n\r\n");
    reply *r = malloc(sizeof *r);
    const char *want[] = {"by-fd q=i=0", "GET /echo q=i=1 body=", "by-tick q=i=2", "by-tick q=i=3",
                          "GET /echo q=i=4 body="};
    double t0 = now_s();
    for (int i = 0; i < 5; i++) {
        assert_int_equal(read_reply(c, r, 0), 0);
        assert_int_equal(r->status, 200);
        assert_string_equal(r->body, want[i]);
    }
    assert_true(now_s() - t0 >= 0.035); /* two tick deferrals of 20 ms, one after the other */
    get(c, "/peer", r);
    assert_string_equal(r->body, "127.0.0.1 HTTP/1");
    /* A HEAD answered late still sends no body; the next request then works. */
    client_puts(c, "HEAD /defer-fd?h HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_reply(c, r, 1), 0);
    assert_int_equal(strncmp(header_in(r->head, "Content-Length"), "9\r\n", 3), 0); /* "by-fd q=h" */
    get(c, "/echo", r);
    assert_string_equal(r->body, "GET /echo q= body=");
    client_close(c);
    /* A client that leaves while its response is deferred: done only frees. */
    c = client_open(fa_server_port(s));
    client_puts(c, "GET /defer-tick?gone HTTP/1.1\r\nHost: t\r\n\r\n");
    client_close(c);
    sleep_s(0.1);
    assert_int_equal(atomic_load(&app.deferred_done), 5);
    /* One still waiting when the server stops: answered by the drain. */
    c = client_open(fa_server_port(s));
    client_puts(c, "GET /defer-tick?last HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_s(0.005);
    fa_server_stop(s);
    assert_int_equal(read_reply(c, r, 0), 0);
    assert_string_equal(r->body, "by-drain q=last");
    assert_non_null(strstr(r->head, "Connection: close"));
    fa_server_wait_free(s);
    assert_int_equal(atomic_load(&app.deferred_done), 6);
    client_close(c);
    free(r);
}

static void test_start_errors(void **state) {
    (void)state;
    echo_app app = {0};
    fa_api_callbacks cb = {&app, echo_thread_init, echo_thread_free, echo_handle, NULL, NULL};
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.loops = -1;
    assert_null(fa_server_start(&cfg, &cb));
    assert_non_null(strstr(fa_err_msg(), "'loops'"));
    fa_server_config_default(&cfg);
    cfg.idle_timeout_s = 0;
    assert_null(fa_server_start(&cfg, &cb));
    assert_non_null(strstr(fa_err_msg(), "'idle_timeout_s'"));
    fa_server_config_default(&cfg);
    cfg.host = "no such host name";
    cfg.port = 0;
    assert_null(fa_server_start(&cfg, &cb));
    assert_non_null(strstr(fa_err_msg(), "no such host name"));
    /* a port already served is an error, not a silent share */
    fa_server *s = start_default(&app, 1);
    fa_server_config_default(&cfg);
    cfg.port = fa_server_port(s);
    cfg.loops = 1;
    assert_null(fa_server_start(&cfg, &cb));
    assert_non_null(strstr(fa_err_msg(), "cannot listen"));
    stop(s);
    fa_api_callbacks no_handle = {NULL, NULL, NULL, NULL, NULL, NULL};
    fa_server_config_default(&cfg);
    assert_null(fa_server_start(&cfg, &no_handle));
}

static fa_api_thread *failing_init(void *ud, int loop_index, const struct fa_io_loop *io) {
    (void)io;
    (void)ud;
    if (loop_index == 1) {
        fa_err_set(FA_EIO, "store: cannot open db.sqlite");
        return NULL;
    }
    return calloc(1, sizeof(fa_api_thread));
}

static void free_thread(fa_api_thread *t) { free(t); }

static void test_thread_init_failure(void **state) {
    (void)state;
    fa_api_callbacks cb = {NULL, failing_init, free_thread, echo_handle, NULL, NULL};
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.port = 0;
    cfg.loops = 2;
    assert_null(fa_server_start(&cfg, &cb));
    assert_non_null(strstr(fa_err_msg(), "loop 1: thread_init failed: store: cannot open db.sqlite"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_big_pipelined_responses),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_slowloris),
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_drain_timeout),
        cmocka_unit_test(test_head_and_bodiless),
        cmocka_unit_test(test_body_ref),
        cmocka_unit_test(test_two_loops),
        cmocka_unit_test(test_misbehaving_peers),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_deferred),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_thread_init_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
