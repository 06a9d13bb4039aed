/*
 * test_server_h2.c - the HTTP server of src/api/server.c over HTTP/2 and
 * TLS, for real: each test starts it on 127.0.0.1, port 0, one loop, with a
 * small echo application that can defer its answers (to the loop's tick, a
 * watched pipe, the drain, or never), and talks to it over sockets with a
 * real nghttp2 CLIENT session and an OpenSSL client.
 *
 * Why this way: test_http2.c and test_tls.c check http2.c and tls.c in
 * memory; what only a socket shows is how server.c wires them in - the
 * three ways into HTTP/2 (prior knowledge, Upgrade: h2c, ALPN), its timers
 * on HTTP/2 connections, edge-triggered reads through OpenSSL, deferred
 * answers on streams, flow control under the output high-water mark, the
 * drain (GOAWAY, answers still in flight, the drain timeout) and the limits
 * as HTTP/2 statuses. The nghttp2 client checks every response as strictly
 * as nghttp2 does (lower-case names, no connection-specific fields,
 * content-length against the data), so a stream that closes with NO_ERROR
 * and a status proves the response was well-formed.
 *
 * Every socket has a 3 s receive and send timeout, so a server bug fails a
 * test instead of hanging it; the passing program takes about two seconds.
 * Certificates are made at test time (an EC P-256 self-signed one) into a
 * temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
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

#define IO_TIMEOUT_S 3
#define SERVER_NAME "footanalytics/" FA_VERSION

enum { BIG_LEN = 4 << 20, MAX_WAITING = 128, MAX_STREAMS = 64 };

/* ---------------------------------------------------------------- the echo app */

/* The last request the handler saw (read by the test thread: under mu). */
typedef struct seen {
    char method[16], path[128], query[128], peer[48];
    int version;
} seen;

typedef struct echo_app {
    atomic_int handled, releases, deferred_done;
    pthread_mutex_t mu;
    seen last;
    char *big; /* BIG_LEN bytes of a known pattern, lent as a body_ref */
} echo_app;

/* A deferred request: answered by the pipe's watch (LIFO), by the tick at
 * its due time, or only when the loop ends (thread_free). */
enum { BY_FD, BY_TICK, BY_FREE, NLISTS };

typedef struct waiting {
    fa_http_deferred *d;
    char query[64];
    double due;
    int ref; /* answer with a borrowed body */
} waiting;

struct fa_api_thread {
    echo_app *app;
    const fa_io_loop *io;
    int pipe[2];
    waiting list[NLISTS][MAX_WAITING];
    int n[NLISTS];
};

static const char late_ref[] = "a borrowed late body";

static void echo_release(void *ud) { atomic_fetch_add(&((echo_app *)ud)->releases, 1); }

static void answer(echo_app *app, waiting *w, const char *how) {
    fa_http_response *resp = fa_http_deferred_response(w->d);
    resp->status = 200;
    resp->content_type = "text/plain";
    if (w->ref) {
        resp->body_ref = late_ref;
        resp->body_ref_len = sizeof late_ref - 1;
        resp->release = echo_release;
        resp->release_ud = app;
    } else {
        fa_buf_printf(&resp->body, "%s q=%s", how, w->query);
    }
    atomic_fetch_add(&app->deferred_done, 1);
    fa_http_deferred_done(w->d);
}

/* Takes entry k out of list: answering may defer into the same list. */
static waiting take(fa_api_thread *t, int list, int k) {
    waiting w = t->list[list][k];
    memmove(&t->list[list][k], &t->list[list][k + 1], (size_t)(t->n[list] - k - 1) * sizeof w);
    t->n[list]--;
    return w;
}

/* Answers what list holds now, the newest first (another order than asked). */
static void answer_all(fa_api_thread *t, int list, const char *how) {
    for (int k = t->n[list]; k > 0; k--)
        if (k <= t->n[list]) {
            waiting w = take(t, list, k - 1);
            answer(t->app, &w, how);
        }
}

static void pipe_ready(void *arg, unsigned events) {
    fa_api_thread *t = arg;
    char b[256];
    assert_true(events & FA_IO_READ);
    while (read(t->pipe[0], b, sizeof b) > 0) {
    }
    answer_all(t, BY_FD, "by-fd");
}

/* Answers the tick's due entries, the earliest first. */
static double echo_tick(fa_api_thread *t, double now) {
    for (;;) {
        int first = -1;
        for (int k = 0; k < t->n[BY_TICK]; k++)
            if (first < 0 || t->list[BY_TICK][k].due < t->list[BY_TICK][first].due) first = k;
        if (first < 0) return -1;
        if (t->list[BY_TICK][first].due > now) return t->list[BY_TICK][first].due - now;
        waiting w = take(t, BY_TICK, first);
        answer(t->app, &w, "by-tick");
    }
}

/* The drain answers what waits for the tick, not what waits for the end. */
static void echo_draining(fa_api_thread *t) { answer_all(t, BY_TICK, "by-drain"); }

static fa_api_thread *echo_thread_init(void *ud, int loop_index, const struct fa_io_loop *io) {
    (void)loop_index;
    fa_api_thread *t = calloc(1, sizeof *t);
    t->app = ud;
    t->io = io;
    assert_int_equal(pipe2(t->pipe, O_NONBLOCK | O_CLOEXEC), 0);
    assert_int_equal(io->watch(io->ud, t->pipe[0], FA_IO_READ, pipe_ready, t), 0);
    return t;
}

static void echo_thread_free(fa_api_thread *t) {
    for (int list = 0; list < NLISTS; list++) /* their connections are gone: done only frees */
        answer_all(t, list, "by-free");
    assert_int_equal(t->io->watch(t->io->ud, t->pipe[0], 0, NULL, NULL), 0);
    close(t->pipe[0]);
    close(t->pipe[1]);
    free(t);
}

static void copy_view(char *dst, size_t cap, fa_strv v) { snprintf(dst, cap, "%.*s", (int)v.n, v.p); }

static void record(echo_app *app, const fa_http_request *req) {
    pthread_mutex_lock(&app->mu);
    copy_view(app->last.method, sizeof app->last.method, req->method_text);
    copy_view(app->last.path, sizeof app->last.path, req->path);
    copy_view(app->last.query, sizeof app->last.query, req->query);
    snprintf(app->last.peer, sizeof app->last.peer, "%s", req->peer);
    app->last.version = req->version;
    pthread_mutex_unlock(&app->mu);
}

/* Defers the request into list; "ms=N" in the query sets the tick's delay. */
static void defer_into(fa_api_thread *t, const fa_http_request *req, fa_http_response *resp, int list,
                       int ref) {
    assert_true(t->n[list] < MAX_WAITING);
    waiting *w = &t->list[list][t->n[list]++];
    w->d = fa_http_defer(resp);
    assert_non_null(w->d);
    copy_view(w->query, sizeof w->query, req->query);
    const char *ms = strstr(w->query, "ms=");
    w->due = t->io->now(t->io->ud) + (ms ? atoi(ms + 3) : 20) / 1000.0;
    w->ref = ref;
}

static int path_is(const fa_http_request *req, const char *p) {
    return req->path.n == strlen(p) && memcmp(req->path.p, p, req->path.n) == 0;
}

static void echo_handle(fa_api_thread *t, const fa_http_request *req, fa_http_response *resp) {
    echo_app *app = t->app;
    atomic_fetch_add(&app->handled, 1);
    record(app, req);
    resp->content_type = "text/plain";
    fa_http_response_header(resp, "X-Echo", "Yes");
    if (path_is(req, "/echo")) {
        fa_buf_printf(&resp->body, "%.*s %.*s q=%.*s body=%.*s", (int)req->method_text.n, req->method_text.p,
                      (int)req->path.n, req->path.p, (int)req->query.n, req->query.p, (int)req->body.n,
                      req->body.p);
    } else if (path_is(req, "/big")) {
        resp->body_ref = app->big;
        resp->body_ref_len = BIG_LEN;
        resp->release = echo_release;
        resp->release_ud = app;
    } else if (path_is(req, "/defer-fd")) {
        defer_into(t, req, resp, BY_FD, 0);
        assert_int_equal(write(t->pipe[1], "x", 1), 1);
    } else if (path_is(req, "/defer-tick")) {
        defer_into(t, req, resp, BY_TICK, 0);
    } else if (path_is(req, "/defer-ref")) {
        defer_into(t, req, resp, BY_TICK, 1);
    } else if (path_is(req, "/defer-hold")) {
        defer_into(t, req, resp, BY_FREE, 0);
    } else if (path_is(req, "/peer")) {
        fa_buf_printf(&resp->body, "%s HTTP/%d", req->peer, req->version);
    } else {
        fa_buf_puts(&resp->body, "hello");
    }
}

static echo_app *app_new(void) {
    echo_app *app = calloc(1, sizeof *app);
    pthread_mutex_init(&app->mu, NULL);
    app->big = malloc(BIG_LEN);
    unsigned seed = 7;
    for (size_t i = 0; i < BIG_LEN; i++) {
        seed = seed * 1103515245u + 12345u;
        app->big[i] = (char)(seed >> 16);
    }
    return app;
}

static void app_free(echo_app *app) {
    pthread_mutex_destroy(&app->mu);
    free(app->big);
    free(app);
}

static seen last_seen(echo_app *app) {
    pthread_mutex_lock(&app->mu);
    seen s = app->last;
    pthread_mutex_unlock(&app->mu);
    return s;
}

static fa_server *start(fa_server_config *c, echo_app *app) {
    c->host = "127.0.0.1";
    c->port = 0;
    c->loops = 1;
    fa_api_callbacks cb = {app, echo_thread_init, echo_thread_free, echo_handle, echo_tick, echo_draining};
    fa_server *s = fa_server_start(c, &cb);
    if (!s) print_message("fa_server_start: %s\n", fa_err_msg());
    assert_non_null(s);
    assert_true(fa_server_port(s) > 0);
    return s;
}

static fa_server *start_default(echo_app *app) {
    fa_server_config c;
    fa_server_config_default(&c);
    return start(&c, app);
}

static void stop(fa_server *s) {
    fa_server_stop(s);
    fa_server_wait_free(s);
}

static double now_s(void) { return fa_clock_now(); }

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Waits until *v reaches want (the server's threads move it): 1, or 0 after
 * IO_TIMEOUT_S. */
static int wait_for(atomic_int *v, int want) {
    double end = now_s() + IO_TIMEOUT_S;
    while (atomic_load(v) < want && now_s() < end) sleep_s(0.001);
    return atomic_load(v) >= want;
}

/* ---------------------------------------------------------------- a client connection: plain or TLS */

typedef struct wire {
    int fd;
    SSL *ssl;
} wire;

static int tcp_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static wire plain_connect(int port) { return (wire){tcp_connect(port), NULL}; }

/* The client never writes to a closed peer (OpenSSL's socket BIO would
 * raise SIGPIPE) and closes without close_notify: the server takes a bare
 * end of input as a close. */
static SSL_CTX *client_ctx(void) {
    SSL_CTX *x = SSL_CTX_new(TLS_client_method());
    assert_non_null(x);
    SSL_CTX_set_verify(x, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_options(x, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return x;
}

/* A TLS connection offering alpn (wire format; NULL: no ALPN), handshake done. */
static wire tls_connect(int port, SSL_CTX *x, const char *alpn, unsigned alpn_len) {
    wire k = {tcp_connect(port), SSL_new(x)};
    assert_non_null(k.ssl);
    SSL_set_fd(k.ssl, k.fd);
    SSL_set_tlsext_host_name(k.ssl, "localhost");
    if (alpn) assert_int_equal(SSL_set_alpn_protos(k.ssl, (const unsigned char *)alpn, alpn_len), 0);
    int rc = SSL_connect(k.ssl);
    if (rc != 1) print_message("SSL_connect: %s\n", ERR_reason_error_string(ERR_get_error()));
    assert_int_equal(rc, 1);
    return k;
}

/* What ALPN chose, as text ("" when nothing). */
static void alpn_of(const wire *k, char *out, size_t cap) {
    const unsigned char *p = NULL;
    unsigned n = 0;
    SSL_get0_alpn_selected(k->ssl, &p, &n);
    snprintf(out, cap, "%.*s", (int)n, p ? (const char *)p : "");
}

static void wire_close(wire *k) {
    SSL_free(k->ssl);
    close(k->fd);
}

/* 0, or -1 when the peer is gone or the send timed out. */
static int wire_send(wire *k, const void *p, size_t n) {
    const char *s = p;
    while (n) {
        ssize_t w;
        if (k->ssl) {
            size_t done = 0;
            w = SSL_write_ex(k->ssl, s, n, &done) == 1 ? (ssize_t)done : -1;
            ERR_clear_error();
        } else {
            w = send(k->fd, s, n, MSG_NOSIGNAL);
        }
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* > 0 bytes read; 0 the peer closed (end of input, reset, a TLS failure);
 * -1 timed out. */
static ssize_t wire_recv(wire *k, void *buf, size_t n) {
    if (k->ssl) {
        size_t got = 0;
        errno = 0;
        if (SSL_read_ex(k->ssl, buf, n, &got) == 1) return (ssize_t)got;
        int e = SSL_get_error(k->ssl, 0);
        ERR_clear_error();
        return e == SSL_ERROR_WANT_READ ? -1 : 0;
    }
    ssize_t r = recv(k->fd, buf, n, 0);
    if (r >= 0) return r;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : 0;
}

/* Whether the peer closes with nothing more to read (1), or sends bytes or
 * nothing at all (0). */
static int closed_by_server(wire *k) {
    char b[512];
    ssize_t n = wire_recv(k, b, sizeof b);
    if (n > 0) print_message("unexpected %zd bytes: %.*s\n", n, (int)n, b);
    return n == 0;
}

/* ---------------------------------------------------------------- an HTTP/1.1 client over a wire */

typedef struct h1c {
    wire k;
    size_t len;
    char buf[1 << 16];
} h1c;

static h1c *h1c_new(wire k) {
    h1c *c = calloc(1, sizeof *c);
    c->k = k;
    return c;
}

static void h1c_free(h1c *c) {
    wire_close(&c->k);
    free(c);
}

static void h1c_puts(h1c *c, const char *s) { assert_int_equal(wire_send(&c->k, s, strlen(s)), 0); }

static ssize_t h1c_recv(void *io, void *p, size_t n) { return wire_recv(io, p, n); }

/* Reads one response head (and its body unless head_only): 0, or -1 when
 * the connection ended or timed out first. */
static int h1c_read(h1c *c, reply *r, int head_only) {
    h1_in in = {c->buf, sizeof c->buf, &c->len, h1c_recv, &c->k};
    return h1_read_reply(&in, r, head_only);
}

static void h1c_get(h1c *c, const char *target, reply *r) {
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", target);
    h1c_puts(c, req);
    assert_int_equal(h1c_read(c, r, 0), 0);
}

/* ---------------------------------------------------------------- an HTTP/2 client over a wire */

typedef struct cstream {
    int32_t id;
    int status, closed, order; /* order: 1 for the first stream to close, ... */
    uint32_t code;
    char head[1024]; /* "name: value\n" for each response field */
    fa_buf body;
    const char *up; /* the request body */
    size_t up_len, up_off;
} cstream;

typedef struct h2c {
    wire k;
    nghttp2_session *ng;
    cstream st[MAX_STREAMS];
    size_t n;
    int nclosed, eof, timed_out;
    int goaway;
    uint32_t goaway_code;
    int32_t goaway_last;
    int32_t cancel_on_data; /* resets this stream at its first DATA */
    fa_buf out;
} h2c;

static cstream *stream_of(h2c *c, int32_t id) {
    for (size_t i = 0; i < c->n; i++)
        if (c->st[i].id == id) return &c->st[i];
    return NULL;
}

static cstream *stream_add(h2c *c, int32_t id) {
    assert_true(c->n < MAX_STREAMS);
    cstream *s = &c->st[c->n++];
    s->id = id;
    return s;
}

static int c_on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                       const uint8_t *value, size_t valuelen, uint8_t flags, void *ud) {
    (void)ng, (void)flags;
    cstream *s = stream_of(ud, frame->hd.stream_id);
    if (!s || frame->hd.type != NGHTTP2_HEADERS) return 0;
    if (namelen == 7 && !memcmp(name, ":status", 7)) s->status = atoi((const char *)value);
    size_t used = strlen(s->head);
    snprintf(s->head + used, sizeof s->head - used, "%.*s: %.*s\n", (int)namelen, (const char *)name,
             (int)valuelen, (const char *)value);
    return 0;
}

static int c_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                     void *ud) {
    (void)flags;
    h2c *c = ud;
    cstream *s = stream_of(c, id);
    if (s) assert_int_equal(fa_buf_append(&s->body, data, len), 0);
    if (id == c->cancel_on_data) {
        c->cancel_on_data = 0;
        assert_int_equal(nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL), 0);
    }
    return 0;
}

static int c_on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
    (void)ng;
    h2c *c = ud;
    cstream *s = stream_of(c, id);
    if (s) {
        s->closed = 1;
        s->code = code;
        s->order = ++c->nclosed;
    }
    return 0;
}

static int c_on_frame(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
    (void)ng;
    h2c *c = ud;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        c->goaway = 1;
        c->goaway_code = frame->goaway.error_code;
        c->goaway_last = frame->goaway.last_stream_id;
    }
    return 0;
}

static ssize_t c_read_upload(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                             nghttp2_data_source *source, void *ud) {
    (void)ng, (void)id, (void)ud;
    cstream *s = source->ptr;
    size_t n = s->up_len - s->up_off < length ? s->up_len - s->up_off : length;
    memcpy(buf, s->up + s->up_off, n);
    s->up_off += n;
    if (s->up_off == s->up_len) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* A client session over k (its preface goes with the first requests), its
 * windows reopened as it reads unless window_updates is 0. */
static h2c *h2c_new(wire k, int window_updates) {
    h2c *c = calloc(1, sizeof *c);
    c->k = k;
    nghttp2_option *opt;
    assert_int_equal(nghttp2_option_new(&opt), 0);
    nghttp2_option_set_no_auto_window_update(opt, !window_updates);
    nghttp2_session_callbacks *cbs;
    assert_int_equal(nghttp2_session_callbacks_new(&cbs), 0);
    nghttp2_session_callbacks_set_on_header_callback(cbs, c_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, c_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, c_on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, c_on_frame);
    assert_int_equal(nghttp2_session_client_new2(&c->ng, cbs, c, opt), 0);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    return c;
}

/* A client over k, its SETTINGS queued. */
static h2c *h2c_start(wire k) {
    h2c *c = h2c_new(k, 1);
    assert_int_equal(nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0), 0);
    return c;
}

static h2c *h2c_open(int port) { return h2c_start(plain_connect(port)); }

static void h2c_free(h2c *c) {
    nghttp2_session_del(c->ng);
    for (size_t i = 0; i < c->n; i++) fa_buf_free(&c->st[i].body);
    fa_buf_free(&c->out);
    wire_close(&c->k);
    free(c);
}

static nghttp2_nv nv(const char *name, const char *value) {
    return (nghttp2_nv){(uint8_t *)(uintptr_t)name, (uint8_t *)(uintptr_t)value, strlen(name), strlen(value),
                        NGHTTP2_NV_FLAG_NONE};
}

/* Submits a request with extra fields ("name", "value" pairs, NULL-ended)
 * and an optional body (kept by the caller until sent); its stream id. */
static int32_t h2c_request(h2c *c, const char *method, const char *path, const char *const *extra,
                           const char *body, size_t body_len) {
    nghttp2_nv h[16];
    size_t k = 0;
    h[k++] = nv(":method", method);
    h[k++] = nv(":scheme", c->k.ssl ? "https" : "http");
    h[k++] = nv(":authority", "localhost");
    h[k++] = nv(":path", path);
    for (size_t i = 0; extra && extra[i]; i += 2) h[k++] = nv(extra[i], extra[i + 1]);
    cstream *s = &c->st[c->n];
    assert_true(c->n < MAX_STREAMS);
    s->up = body;
    s->up_len = body_len;
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = c_read_upload};
    int32_t id = nghttp2_submit_request(c->ng, NULL, h, k, body ? &prd : NULL, NULL);
    assert_true(id > 0);
    stream_add(c, id);
    return id;
}

/* Sends everything the session has queued, in one write (so the server
 * reads a batch of requests at once). */
static void h2c_flush(h2c *c) {
    fa_buf_reset(&c->out);
    for (;;) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(c->ng, &p);
        assert_true(n >= 0);
        if (n == 0) break;
        assert_int_equal(fa_buf_append(&c->out, p, (size_t)n), 0);
    }
    if (c->out.len && wire_send(&c->k, c->out.data, c->out.len)) c->eof = 1;
}

typedef int (*h2c_done_fn)(h2c *c, int32_t arg);

static int stream_closed(h2c *c, int32_t id) { return stream_of(c, id)->closed; }
static int all_closed(h2c *c, int32_t unused) {
    (void)unused;
    return c->nclosed == (int)c->n;
}
static int ended(h2c *c, int32_t unused) { /* closed by the server */
    (void)unused;
    return c->eof && !c->timed_out;
}

/* Sends what is queued and reads until done(c, arg): 0, or -1 when the
 * connection ended or timed out first. */
static int h2c_run(h2c *c, h2c_done_fn done, int32_t arg) {
    static _Thread_local uint8_t buf[1 << 16];
    for (;;) {
        if (!c->eof) h2c_flush(c);
        if (done(c, arg)) return 0;
        if (c->eof) return -1;
        ssize_t n = wire_recv(&c->k, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0) print_message("h2c: timed out\n");
            c->eof = 1;
            c->timed_out = n < 0;
            continue;
        }
        ssize_t used = nghttp2_session_mem_recv(c->ng, buf, (size_t)n);
        if (used != n) {
            print_message("h2c: %s\n", nghttp2_strerror((int)used));
            c->eof = 1;
        }
    }
}

static void h2c_wait(h2c *c, int32_t id) { assert_int_equal(h2c_run(c, stream_closed, id), 0); }

/* A GET, waited for: its stream. */
static cstream *h2c_get(h2c *c, const char *path) {
    int32_t id = h2c_request(c, "GET", path, NULL, NULL, 0);
    h2c_wait(c, id);
    return stream_of(c, id);
}

static int body_is(const cstream *s, const char *want) {
    if (s->body.len == strlen(want) && memcmp(s->body.data, want, s->body.len) == 0) return 1;
    print_message("body: \"%.*s\", want \"%s\"\n", (int)s->body.len, s->body.data ? s->body.data : "", want);
    return 0;
}

/* A complete 200 with this text body. */
static void assert_ok(const cstream *s, const char *body) {
    assert_true(s->closed);
    assert_int_equal(s->code, NGHTTP2_NO_ERROR);
    assert_int_equal(s->status, 200);
    assert_true(body_is(s, body));
}

/* ---------------------------------------------------------------- certificates */

typedef struct certs {
    char *dir;
    char cert[512], key[512];
} certs;

/* A self-signed EC P-256 certificate for localhost and its key. */
static void certs_make(certs *k) {
    k->dir = fa_test_tmpdir();
    snprintf(k->cert, sizeof k->cert, "%s/server.crt", k->dir);
    snprintf(k->key, sizeof k->key, "%s/server.key", k->dir);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    FILE *f = fopen(k->key, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    f = fopen(k->cert, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void certs_free(certs *k) {
    fa_test_rmtree(k->dir);
    free(k->dir);
}

/* ---------------------------------------------------------------- tests */

/* 1. Prior knowledge: the response's fields, and the request the handler saw. */
static void test_h2c_prior_knowledge(void **state) {
    (void)state;
    echo_app *app = app_new();
    fa_server *s = start_default(app);
    h2c *c = h2c_open(fa_server_port(s));
    static const char *const extra[] = {"x-test", "v", NULL};
    int32_t id = h2c_request(c, "GET", "/ech%6F?a=1&b=%7E", extra, NULL, 0);
    h2c_wait(c, id);
    cstream *st = stream_of(c, id);
    const char *want = "GET /echo q=a=1&b=%7E body=";
    assert_ok(st, want);
    char field[128];
    snprintf(field, sizeof field, "\ncontent-length: %zu\n", strlen(want));
    assert_non_null(strstr(st->head, field));
    assert_int_equal(strncmp(st->head, ":status: 200\nserver: " SERVER_NAME "\ndate: ", 37), 0);
    const char *date = strstr(st->head, "\ndate: ") + 7;
    assert_int_equal(strcspn(date, "\n"), 29); /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    assert_int_equal(strncmp(date + 26, "GMT\n", 4), 0);
    assert_non_null(strstr(st->head, "\ncontent-type: text/plain\n"));
    assert_non_null(strstr(st->head, "\nx-echo: Yes\n")); /* the handler's "X-Echo", lower-cased */
    seen r = last_seen(app);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.path, "/echo");
    assert_string_equal(r.query, "a=1&b=%7E");
    assert_string_equal(r.peer, "127.0.0.1");
    assert_int_equal(r.version, 2);
    /* a POST with a body, a HEAD, and the peer as the handler sees it */
    id = h2c_request(c, "POST", "/echo", NULL, "hello", 5);
    int32_t head = h2c_request(c, "HEAD", "/echo?h", NULL, NULL, 0);
    assert_int_equal(h2c_run(c, all_closed, 0), 0);
    assert_ok(stream_of(c, id), "POST /echo q= body=hello");
    st = stream_of(c, head);
    assert_int_equal(st->status, 200);
    assert_int_equal(st->body.len, 0);
    assert_non_null(strstr(st->head, "\ncontent-length: 20\n")); /* "HEAD /echo q=h body=" */
    assert_ok(h2c_get(c, "/peer"), "127.0.0.1 HTTP/2");
    assert_int_equal(atomic_load(&app->handled), 4);
    h2c_free(c);
    stop(s);
    app_free(app);
}

/* 2. Fifty streams at once on one connection: a third answered at once, a
 * third from the pipe's watch (the newest first), a third from the tick
 * (the last asked due first). */
static void test_h2_many_streams(void **state) {
    (void)state;
    echo_app *app = app_new();
    fa_server *s = start_default(app);
    h2c *c = h2c_open(fa_server_port(s));
    enum { N = 50 };
    int32_t ids[N];
    char path[64];
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            snprintf(path, sizeof path, "/echo?i=%d", i);
        else if (i % 3 == 1)
            snprintf(path, sizeof path, "/defer-tick?i=%d&ms=%d", i, 20 + 4 * (N - 1 - i));
        else
            snprintf(path, sizeof path, "/defer-fd?i=%d", i);
        ids[i] = h2c_request(c, "GET", path, NULL, NULL, 0);
    }
    assert_int_equal(h2c_run(c, all_closed, 0), 0);
    char want[96];
    int last_echo = 0, first_deferred = N + 1;
    for (int i = 0; i < N; i++) {
        cstream *st = stream_of(c, ids[i]);
        if (i % 3 == 0)
            snprintf(want, sizeof want, "GET /echo q=i=%d body=", i);
        else if (i % 3 == 1)
            snprintf(want, sizeof want, "by-tick q=i=%d&ms=%d", i, 20 + 4 * (N - 1 - i));
        else
            snprintf(want, sizeof want, "by-fd q=i=%d", i);
        assert_ok(st, want);
        if (i % 3 == 0 && st->order > last_echo) last_echo = st->order;
        if (i % 3 != 0 && st->order < first_deferred) first_deferred = st->order;
        if (i >= 3) assert_true(st->order != stream_of(c, ids[i - 3])->order);
        if (i >= 3 && i % 3 != 0) /* deferred ones came back newest first */
            assert_true(st->order < stream_of(c, ids[i - 3])->order);
    }
    assert_true(last_echo < first_deferred); /* the slow streams held back nothing */
    assert_int_equal(atomic_load(&app->handled), N);
    assert_int_equal(atomic_load(&app->deferred_done), N - (N + 2) / 3);
    assert_ok(h2c_get(c, "/echo?after"), "GET /echo q=after body="); /* still usable */
    h2c_free(c);
    stop(s);
    app_free(app);
}

/* 3. 4 MiB borrowed through flow control (the client keeps HTTP/2's 64 KiB
 * windows) and released once; a reset in the middle of it; a reset of a
 * deferred stream before its answer. */
static void test_h2_big_and_resets(void **state) {
    (void)state;
    echo_app *app = app_new();
    fa_server *s = start_default(app);
    h2c *c = h2c_open(fa_server_port(s));
    cstream *st = h2c_get(c, "/big");
    assert_int_equal(st->code, NGHTTP2_NO_ERROR);
    assert_int_equal(st->status, 200);
    assert_non_null(strstr(st->head, "\ncontent-length: 4194304\n"));
    assert_int_equal(st->body.len, BIG_LEN);
    assert_memory_equal(st->body.data, app->big, BIG_LEN);
    assert_int_equal(atomic_load(&app->releases), 1);
    /* reset at its first DATA frame: the body is released when the stream dies */
    int32_t id = h2c_request(c, "GET", "/big", NULL, NULL, 0);
    c->cancel_on_data = id;
    h2c_wait(c, id);
    st = stream_of(c, id);
    assert_int_equal(st->code, NGHTTP2_CANCEL);
    assert_true(st->body.len > 0 && st->body.len < BIG_LEN);
    assert_ok(h2c_get(c, "/echo?1"), "GET /echo q=1 body=");
    assert_true(wait_for(&app->releases, 2));
    /* reset while deferred: the late answer finds the stream gone and only releases */
    int handled = atomic_load(&app->handled);
    id = h2c_request(c, "GET", "/defer-ref?ms=150", NULL, NULL, 0);
    h2c_flush(c);
    assert_true(wait_for(&app->handled, handled + 1));
    assert_int_equal(nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL), 0);
    assert_ok(h2c_get(c, "/echo?2"), "GET /echo q=2 body=");
    assert_true(stream_of(c, id)->closed);
    assert_int_equal(stream_of(c, id)->status, 0);
    assert_true(wait_for(&app->deferred_done, 1));
    assert_true(wait_for(&app->releases, 3));
    /* a deferred borrowed body that does go out, then the connection still works */
    assert_ok(h2c_get(c, "/defer-ref?ms=1"), late_ref);
    assert_ok(h2c_get(c, "/echo?3"), "GET /echo q=3 body=");
    assert_int_equal(atomic_load(&app->releases), 4);
    h2c_free(c);
    stop(s);
    assert_int_equal(atomic_load(&app->releases), 4); /* each exactly once */
    app_free(app);
}

static void b64url(const uint8_t *p, size_t n, char *out) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | p[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = a[(acc >> bits) & 63];
        }
    }
    if (bits) out[o++] = a[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

/* Sends an HTTP/1.1 GET of target asking for h2c, checks the 101, and
 * returns the connection as an HTTP/2 client whose stream 1 is that request
 * (what followed the 101 on the wire is already frames, fed to it). */
static h2c *upgrade(int port, const char *target) {
    h1c *h = h1c_new(plain_connect(port));
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 65535}};
    uint8_t payload[64];
    ssize_t plen = nghttp2_pack_settings_payload(payload, sizeof payload, iv, 2);
    assert_true(plen > 0);
    char b64[128], req[512];
    b64url(payload, (size_t)plen, b64);
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n"
             "Upgrade: h2c\r\nHTTP2-Settings: %s\r\n\r\n",
             target, b64);
    h1c_puts(h, req);
    char *end;
    h1_in in = {h->buf, sizeof h->buf, &h->len, h1c_recv, &h->k};
    while (!(end = memmem(h->buf, h->len, "\r\n\r\n", 4))) assert_true(h1_in_fill(&in) > 0);
    size_t hl = (size_t)(end + 4 - h->buf);
    assert_int_equal(strncmp(h->buf, "HTTP/1.1 101 Switching Protocols\r\n", 34), 0);
    assert_non_null(memmem(h->buf, hl, "\r\nUpgrade: h2c\r\n", 16));
    h2c *c = h2c_new(h->k, 1);
    assert_int_equal(nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 2), 0);
    assert_int_equal(nghttp2_session_upgrade2(c->ng, payload, (size_t)plen, 0, NULL), 0);
    stream_add(c, 1);
    size_t rest = h->len - hl;
    if (rest) assert_int_equal(nghttp2_session_mem_recv(c->ng, (const uint8_t *)h->buf + hl, rest), rest);
    free(h); /* its connection is the HTTP/2 client's now */
    return c;
}

/* 4. HTTP/1.1 "Upgrade: h2c": 101, stream 1 answers the upgrading request
 * (at once, or deferred), then more streams on the same connection. */
static void test_h2c_upgrade(void **state) {
    (void)state;
    echo_app *app = app_new();
    fa_server *s = start_default(app);
    const char *target[] = {"/echo?up=1", "/defer-tick?up=1"};
    const char *want[] = {"GET /echo q=up=1 body=", "by-tick q=up=1"};
    for (int i = 0; i < 2; i++) {
        h2c *c = upgrade(fa_server_port(s), target[i]);
        h2c_wait(c, 1);
        assert_ok(stream_of(c, 1), want[i]);
        assert_int_equal(last_seen(app).version, 2);
        int32_t a = h2c_request(c, "GET", "/echo?up=2", NULL, NULL, 0);
        int32_t b = h2c_request(c, "GET", "/defer-fd?up=3", NULL, NULL, 0);
        assert_int_equal(a, 3);
        assert_int_equal(h2c_run(c, all_closed, 0), 0);
        assert_ok(stream_of(c, a), "GET /echo q=up=2 body=");
        assert_ok(stream_of(c, b), "by-fd q=up=3");
        assert_int_equal(atomic_load(&app->handled), 3 * (i + 1));
        h2c_free(c);
    }
    stop(s);
    app_free(app);
}

static const char preface_and_settings[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/* 5. HTTP/1.1 beside HTTP/2 on the same port; and with http2 = 0 neither
 * the preface nor an upgrade request leads to HTTP/2. */
static void test_h1_beside_h2(void **state) {
    (void)state;
    echo_app *app = app_new();
    fa_server *s = start_default(app);
    h1c *h = h1c_new(plain_connect(fa_server_port(s)));
    reply *r = malloc(sizeof *r);
    h1c_get(h, "/peer", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "127.0.0.1 HTTP/1");
    h1c_puts(h, "GET /echo?p=1 HTTP/1.1\r\nHost: t\r\n\r\nGET /defer-fd?p=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                "POST /echo?p=3 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
    const char *want[] = {"GET /echo q=p=1 body=", "by-fd q=p=2", "POST /echo q=p=3 body=hi"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(h1c_read(h, r, 0), 0);
        assert_string_equal(r->body, want[i]);
        assert_null(header_in(r->head, "Connection"));
    }
    /* a preface after an HTTP/1.1 request is not HTTP/2 any more */
    h1c_puts(h, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert_int_equal(h1c_read(h, r, 0), 0);
    assert_int_equal(r->status, 505);
    h1c_free(h);
    stop(s);

    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.http2 = 0;
    s = start(&cfg, app);
    h = h1c_new(plain_connect(fa_server_port(s)));
    assert_int_equal(wire_send(&h->k, preface_and_settings, sizeof preface_and_settings - 1), 0);
    assert_int_equal(h1c_read(h, r, 0), 0);
    assert_int_equal(r->status, 505); /* HTTP Version Not Supported, in HTTP/1.1 */
    assert_non_null(strstr(r->head, "\r\nConnection: close\r\n"));
    assert_true(closed_by_server(&h->k));
    h1c_free(h);
    h = h1c_new(plain_connect(fa_server_port(s)));
    h1c_puts(h, "GET /echo?up HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
    assert_int_equal(h1c_read(h, r, 0), 0);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "GET /echo q=up body=");
    h1c_get(h, "/peer", r);
    assert_string_equal(r->body, "127.0.0.1 HTTP/1");
    h1c_free(h);
    stop(s);
    free(r);
    app_free(app);
}

/* 6a. TLS: ALPN h2 is HTTP/2, ALPN http/1.1 and no ALPN are HTTP/1.1 with
 * keep-alive, plain HTTP on the TLS port gets no HTTP answer. */
static void test_tls(void **state) {
    (void)state;
    certs k;
    certs_make(&k);
    echo_app *app = app_new();
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.tls_cert = k.cert;
    cfg.tls_key = k.key;
    fa_server *s = start(&cfg, app);
    int port = fa_server_port(s);
    SSL_CTX *x = client_ctx();
    char alpn[32];

    h2c *c = h2c_start(tls_connect(port, x, "\x02h2\x08http/1.1", 12));
    alpn_of(&c->k, alpn, sizeof alpn);
    assert_string_equal(alpn, "h2");
    assert_ok(h2c_get(c, "/peer"), "127.0.0.1 HTTP/2");
    int32_t late = h2c_request(c, "GET", "/defer-tick?ms=30&tls", NULL, NULL, 0);
    int32_t fd = h2c_request(c, "GET", "/defer-fd?tls", NULL, NULL, 0);
    int32_t now = h2c_request(c, "GET", "/echo?tls", NULL, NULL, 0);
    assert_int_equal(h2c_run(c, all_closed, 0), 0);
    assert_ok(stream_of(c, late), "by-tick q=ms=30&tls");
    assert_ok(stream_of(c, fd), "by-fd q=tls");
    assert_ok(stream_of(c, now), "GET /echo q=tls body=");
    assert_true(stream_of(c, now)->order < stream_of(c, late)->order);
    cstream *big = h2c_get(c, "/big"); /* many TLS records, through flow control */
    assert_int_equal(big->body.len, BIG_LEN);
    assert_memory_equal(big->body.data, app->big, BIG_LEN);
    h2c_free(c);

    reply *r = malloc(sizeof *r);
    static const struct {
        const char *offer;
        unsigned len;
        const char *chosen;
    } h1[] = {{"\x08http/1.1", 9, "http/1.1"}, {NULL, 0, ""}};
    for (int i = 0; i < 2; i++) {
        h1c *h = h1c_new(tls_connect(port, x, h1[i].offer, h1[i].len));
        alpn_of(&h->k, alpn, sizeof alpn);
        assert_string_equal(alpn, h1[i].chosen);
        h1c_get(h, "/peer", r);
        assert_int_equal(r->status, 200);
        assert_string_equal(r->body, "127.0.0.1 HTTP/1");
        h1c_puts(h, "GET /echo?a HTTP/1.1\r\nHost: t\r\n\r\nGET /defer-fd?b HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_int_equal(h1c_read(h, r, 0), 0);
        assert_string_equal(r->body, "GET /echo q=a body=");
        assert_int_equal(h1c_read(h, r, 0), 0);
        assert_string_equal(r->body, "by-fd q=b");
        assert_null(header_in(r->head, "Connection"));
        h1c_free(h);
    }
    free(r);

    /* plain HTTP, and the HTTP/2 preface, to the TLS port: closed, no HTTP answer */
    static const char get[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    const struct {
        const char *p;
        size_t n;
    } plain[] = {{get, sizeof get - 1}, {preface_and_settings, sizeof preface_and_settings - 1}};
    for (int i = 0; i < 2; i++) {
        wire p = plain_connect(port);
        assert_int_equal(wire_send(&p, plain[i].p, plain[i].n), 0);
        assert_true(closed_by_server(&p));
        wire_close(&p);
    }
    c = h2c_start(tls_connect(port, x, "\x02h2", 3)); /* the loop still serves */
    assert_ok(h2c_get(c, "/echo?still"), "GET /echo q=still body=");
    h2c_free(c);
    stop(s);
    assert_int_equal(atomic_load(&app->handled), 12);

    /* without HTTP/2, ALPN agrees on http/1.1 even when the client prefers h2 */
    cfg.http2 = 0;
    s = start(&cfg, app);
    h1c *h = h1c_new(tls_connect(fa_server_port(s), x, "\x02h2\x08http/1.1", 12));
    alpn_of(&h->k, alpn, sizeof alpn);
    assert_string_equal(alpn, "http/1.1");
    r = malloc(sizeof *r);
    h1c_get(h, "/peer", r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "127.0.0.1 HTTP/1");
    free(r);
    h1c_free(h);
    stop(s);
    SSL_CTX_free(x);
    app_free(app);
    certs_free(&k);
}

/* 6b. A handshake that never ends is cut at header_timeout_s. */
static void test_tls_handshake_timeout(void **state) {
    (void)state;
    certs k;
    certs_make(&k);
    echo_app *app = app_new();
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.tls_cert = k.cert;
    cfg.tls_key = k.key;
    cfg.header_timeout_s = 0.3;
    fa_server *s = start(&cfg, app);
    double t0 = now_s();
    wire silent = plain_connect(fa_server_port(s));
    wire partial = plain_connect(fa_server_port(s));
    static const char record_start[] = "\x16\x03\x01\x02\x00\x01"; /* a ClientHello's first bytes */
    assert_int_equal(wire_send(&partial, record_start, 6), 0);
    assert_true(closed_by_server(&silent));
    assert_true(closed_by_server(&partial));
    double took = now_s() - t0;
    print_message("unfinished handshakes closed after %.3f s\n", took);
    assert_true(took > 0.25 && took < 2.0);
    wire_close(&silent);
    wire_close(&partial);
    SSL_CTX *x = client_ctx(); /* a complete one is served */
    h2c *c = h2c_start(tls_connect(fa_server_port(s), x, "\x02h2", 3));
    assert_ok(h2c_get(c, "/echo"), "GET /echo q= body=");
    h2c_free(c);
    SSL_CTX_free(x);
    stop(s);
    app_free(app);
    certs_free(&k);
}

/* 6c. Certificate problems stop fa_server_start with a message naming them. */
static void test_tls_start_errors(void **state) {
    (void)state;
    certs k;
    certs_make(&k);
    echo_app *app = app_new();
    fa_api_callbacks cb = {app, echo_thread_init, echo_thread_free, echo_handle, echo_tick, echo_draining};
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.port = 0;
    cfg.loops = 1;
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing.crt", k.dir);
    cfg.tls_cert = missing;
    cfg.tls_key = k.key;
    assert_null(fa_server_start(&cfg, &cb));
    assert_non_null(strstr(fa_err_msg(), missing));
    cfg.tls_cert = k.cert;
    snprintf(missing, sizeof missing, "%s/missing.key", k.dir);
    cfg.tls_key = missing;
    assert_null(fa_server_start(&cfg, &cb));
    assert_non_null(strstr(fa_err_msg(), missing));
    cfg.tls_key = k.cert; /* a certificate where the key should be */
    assert_null(fa_server_start(&cfg, &cb));
    assert_non_null(strstr(fa_err_msg(), k.cert));
    cfg.tls_key = NULL;
    assert_null(fa_server_start(&cfg, &cb));
    assert_int_equal(fa_err_code(), FA_EUSAGE);
    assert_non_null(strstr(fa_err_msg(), "TLS needs both a certificate and its key"));
    cfg.tls_cert = NULL;
    cfg.tls_key = k.key;
    assert_null(fa_server_start(&cfg, &cb));
    assert_int_equal(fa_err_code(), FA_EUSAGE);
    assert_int_equal(atomic_load(&app->handled), 0);
    app_free(app);
    certs_free(&k);
}

/* 7a. Graceful stop: GOAWAY to every HTTP/2 connection, the deferred stream
 * still answered (by the drain), then the connections close and the server
 * exits. */
static void test_h2_graceful_stop(void **state) {
    (void)state;
    echo_app *app = app_new();
    fa_server *s = start_default(app);
    h2c *idle = h2c_open(fa_server_port(s));
    assert_ok(h2c_get(idle, "/echo"), "GET /echo q= body=");
    h2c *busy = h2c_open(fa_server_port(s));
    int32_t id = h2c_request(busy, "GET", "/defer-tick?ms=5000", NULL, NULL, 0);
    h2c_flush(busy);
    assert_true(wait_for(&app->handled, 2));
    double t0 = now_s();
    fa_server_stop(s);
    h2c_wait(busy, id);
    assert_ok(stream_of(busy, id), "by-drain q=ms=5000");
    assert_int_equal(h2c_run(busy, ended, 0), 0);
    assert_true(busy->goaway);
    assert_int_equal(busy->goaway_code, NGHTTP2_NO_ERROR);
    assert_int_equal(busy->goaway_last, id);
    assert_int_equal(h2c_run(idle, ended, 0), 0);
    assert_true(idle->goaway);
    assert_int_equal(idle->goaway_code, NGHTTP2_NO_ERROR);
    assert_int_equal(idle->goaway_last, 1);
    fa_server_wait_free(s);
    double took = now_s() - t0;
    print_message("stopped in %.3f s with a deferred stream in flight\n", took);
    assert_true(took < 2.0);
    assert_int_equal(atomic_load(&app->deferred_done), 1);
    h2c_free(idle);
    h2c_free(busy);
    app_free(app);
}

/* 7b. Answers that never come cannot hold the server past drain_timeout_s:
 * their connections (HTTP/2 and HTTP/1.1) are closed, unanswered, and the
 * late done only frees. */
static void test_drain_timeout_deferred(void **state) {
    (void)state;
    echo_app *app = app_new();
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.drain_timeout_s = 0.3;
    fa_server *s = start(&cfg, app);
    h2c *c = h2c_open(fa_server_port(s));
    int32_t id = h2c_request(c, "GET", "/defer-hold?h2", NULL, NULL, 0);
    h2c_flush(c);
    h1c *h = h1c_new(plain_connect(fa_server_port(s)));
    h1c_puts(h, "GET /defer-hold?h1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(wait_for(&app->handled, 2));
    double t0 = now_s();
    stop(s);
    double took = now_s() - t0;
    print_message("stopped in %.3f s with two answers that never came\n", took);
    assert_true(took > 0.25 && took < 2.0);
    assert_int_equal(atomic_load(&app->deferred_done), 2); /* by thread_free */
    assert_int_equal(h2c_run(c, ended, 0), 0);
    assert_int_equal(stream_of(c, id)->status, 0); /* never answered */
    assert_true(c->goaway);
    assert_true(closed_by_server(&h->k));
    h2c_free(c);
    h1c_free(h);
    app_free(app);
}

/* 7c. A client that reads but never reopens its flow-control window holds
 * an answered stream that cannot progress: the idle timeout still closes
 * the connection, and the borrowed body is released. An idle HTTP/2
 * connection is closed after idle_timeout_s too. */
static void test_h2_flow_control_stall(void **state) {
    (void)state;
    echo_app *app = app_new();
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.idle_timeout_s = 0.3;
    fa_server *s = start(&cfg, app);
    h2c *c = h2c_new(plain_connect(fa_server_port(s)), 0);
    assert_int_equal(nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0), 0);
    int32_t id = h2c_request(c, "GET", "/big", NULL, NULL, 0);
    double t0 = now_s();
    assert_int_equal(h2c_run(c, ended, 0), 0);
    double took = now_s() - t0;
    print_message("stalled stream's connection closed after %.3f s\n", took);
    assert_true(took > 0.25 && took < 2.0);
    cstream *st = stream_of(c, id);
    assert_int_equal(st->status, 200);
    assert_int_equal(st->body.len, 65535); /* HTTP/2's initial window, never reopened */
    assert_true(wait_for(&app->releases, 1));
    h2c_free(c);
    c = h2c_open(fa_server_port(s)); /* and a plain idle HTTP/2 connection */
    assert_ok(h2c_get(c, "/echo"), "GET /echo q= body=");
    t0 = now_s();
    assert_int_equal(h2c_run(c, ended, 0), 0);
    took = now_s() - t0;
    assert_true(took > 0.2 && took < 2.0);
    h2c_free(c);
    stop(s);
    assert_int_equal(atomic_load(&app->releases), 1);
    app_free(app);
}

/* 8. The server's limits as HTTP/2 statuses on their stream only. */
static void test_h2_limits(void **state) {
    (void)state;
    echo_app *app = app_new();
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.max_header_bytes = 1024;
    cfg.max_body_bytes = 1000;
    fa_server *s = start(&cfg, app);
    h2c *c = h2c_open(fa_server_port(s));
    char big[2001];
    memset(big, 'a', 2000);
    big[2000] = '\0';
    const char *const fat[] = {"x-big", big, NULL};
    const char *const declared[] = {"content-length", "2000", NULL};
    int32_t hdr = h2c_request(c, "GET", "/echo?hdr", fat, NULL, 0);
    int32_t body = h2c_request(c, "POST", "/echo?body", declared, big, 2000);
    int32_t streamed = h2c_request(c, "POST", "/echo?streamed", NULL, big, 2000);
    int32_t fits = h2c_request(c, "POST", "/echo?fits", NULL, big, 1000);
    assert_int_equal(h2c_run(c, all_closed, 0), 0);
    const struct {
        int32_t id;
        int status;
    } want[] = {{hdr, 431}, {body, 413}, {streamed, 413}};
    for (int i = 0; i < 3; i++) {
        cstream *st = stream_of(c, want[i].id);
        assert_int_equal(st->status, want[i].status);
        assert_non_null(strstr(st->head, "\ncontent-type: application/problem+json\n"));
        char status[32];
        snprintf(status, sizeof status, "\"status\":%d", want[i].status);
        assert_non_null(memmem(st->body.data, st->body.len, status, strlen(status)));
    }
    cstream *st = stream_of(c, fits);
    assert_int_equal(st->status, 200);
    assert_int_equal(st->body.len, strlen("POST /echo q=fits body=") + 1000);
    assert_ok(h2c_get(c, "/echo?after"), "GET /echo q=after body=");
    assert_int_equal(atomic_load(&app->handled), 2); /* the refused ones never reached it */
    assert_false(c->goaway);
    h2c_free(c);
    stop(s);
    app_free(app);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h2c_prior_knowledge),
        cmocka_unit_test(test_h2_many_streams),
        cmocka_unit_test(test_h2_big_and_resets),
        cmocka_unit_test(test_h2c_upgrade),
        cmocka_unit_test(test_h1_beside_h2),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_tls_handshake_timeout),
        cmocka_unit_test(test_tls_start_errors),
        cmocka_unit_test(test_h2_graceful_stop),
        cmocka_unit_test(test_drain_timeout_deferred),
        cmocka_unit_test(test_h2_flow_control_stall),
        cmocka_unit_test(test_h2_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
