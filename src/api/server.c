/*
 * server.c - the HTTP server of api.h: one event loop per thread, each with
 * its own epoll instance and its own SO_REUSEPORT listening socket, so the
 * kernel spreads connections over the loops and the loops share nothing but
 * three atomic counters (connections, request ids, the stop flag). This is
 * the shape of the fastest servers (h2o, nginx with reuseport): no locks, no
 * cross-core traffic on the request path, a handler runs on the thread that
 * read its request.
 *
 * epoll modes, and why:
 *   - connections are edge-triggered, registered once for EPOLLIN | EPOLLOUT |
 *     EPOLLRDHUP: no epoll_ctl per request to turn EPOLLOUT on and off for
 *     back-pressure. The price of edge triggering is that a connection must
 *     remember that the socket may still hold bytes (can_read) when it stops
 *     reading early (output above the high-water mark); a read that returns
 *     fewer bytes than asked drains the socket (new data raises a new edge),
 *     which saves the extra read that would only return EAGAIN, as nginx does.
 *   - the listener and the stop eventfd are level-triggered: accept takes at
 *     most ACCEPT_BATCH connections per wake-up and the rest are reported
 *     again, which keeps one loop from starving its connections in a burst.
 *
 * Per request: one read, one parse (http1.c), the handler, the response head
 * written into the connection's output buffer, one sendmsg (a writev with
 * MSG_NOSIGNAL, so SIGPIPE never fires and the process's signal disposition is
 * left alone). Requests pipelined in one read are all handled before the
 * single write of their responses, in order. Nothing is allocated per request:
 * the request and response structs and the path scratch are per loop, buffers
 * are per connection and grow only up to the configured limits.
 *
 * The output queue is a list of segments: bytes owned by the connection (heads
 * and copied bodies, contiguous in one buffer) or a handler's borrowed body
 * (body_ref), released after its last byte is written or when the connection
 * dies.
 *
 * Timeouts: each loop keeps one FIFO list per timeout length (idle, request,
 * linger, parked). A connection is appended with deadline now + that length,
 * so each list is sorted by construction and arming, re-arming and expiry are
 * O(1) - a timer wheel's cost without its granularity. Every connection is on
 * exactly one list, which is also how the loop finds them all (drain, exit):
 *   idle    keep-alive connection between requests, or a response the peer is
 *           not reading (re-armed on write progress): idle_timeout_s, silent close;
 *   request a new connection, or a request under way: its head must arrive
 *           within header_timeout_s of its first byte, however slowly it
 *           trickles in (slowloris); a body gets header_timeout_s per read.
 *           Expiry answers 408 when some of a request had arrived;
 *   linger  after a final response that left input unanswered (errors,
 *           requests pipelined behind "Connection: close") the write side is
 *           shut and input discarded until the peer closes or LINGER_S
 *           passes, so that a client still sending (an oversized body) reads
 *           our 413 instead of a reset. A final response with nothing left
 *           unread just closes;
 *   parked  waiting for deferred answers only (below): no deadline (infinite
 *           length, never expires), closed only by the drain's end.
 *
 * Shutdown: fa_server_stop sets the stop flag and writes each loop's eventfd
 * (both async-signal-safe). A loop then closes its listener, closes idle
 * connections, lets requests under way finish (their responses say
 * "Connection: close"; HTTP/2 connections get a GOAWAY naming the last
 * stream taken and close once their streams are done), and exits when it
 * has no connections left or when drain_timeout_s has passed, closing what
 * is left (connections still waiting for deferred answers included).
 *
 * Protocols: a connection points to a conn_proto that turns its input into
 * responses, over the same transport, timers and output queue: http1_proto,
 * or http2_proto (http2.c, nghttp2), chosen per connection - by the client
 * preface on a cleartext connection (h2c prior knowledge), by an HTTP/1.1
 * "Upgrade: h2c" request, or by ALPN on TLS. An HTTP/2 connection's
 * requests are handled as their streams complete and answered each on its
 * own stream, deferred ones included; its frames go into the same output
 * queue (fa_h2_output, at most up to the high-water mark at a time).
 *
 * Transport: plain sockets, or TLS (tls.c, OpenSSL) when the server has a
 * certificate: a non-blocking handshake first (under the request timer),
 * then the same reads and writev-like writes through OpenSSL. A TLS
 * connection is closed, never lingered: close_notify ends it.
 *
 * Deferred responses (api.h: fa_http_defer). A handler that must wait - an
 * L2 lookup on the loop's own Redis connection - takes a token and returns;
 * the loop moves the response struct into the token and parks the
 * connection: it reads and answers nothing more (pipelined requests wait
 * in its buffer, in order, and the socket's back-pressure does the rest)
 * until the token's owner calls fa_http_deferred_done from one of the
 * loop's I/O callbacks or its tick. The connection has no deadline
 * meanwhile (it is parked): whoever deferred promised to answer within its
 * own deadline. A connection that dies first detaches its token, whose done
 * then only frees.
 *
 * Other file descriptors on the loop (fa_io_loop, net.h): the application
 * may watch its own sockets here, level-triggered, e.g. one Redis
 * connection per loop so an L2 lookup never crosses threads. Their epoll
 * tag is the watch's address with the low bit set (connections and the two
 * loop fds are tagged with aligned addresses, low bit clear). A watch
 * removed during an event batch is freed after the batch, so an event for
 * it still in the batch finds it marked dead. The application's timers run
 * from cb.tick on every iteration, which also says when it next wants one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/http1.h"
#include "api/http2.h"
#include "api/tls.h"
#include "core/core.h"
#include "net/net.h"

enum {
    MAX_LOOPS = 1024,
    MAX_EVENTS = 256,
    ACCEPT_BATCH = 64,
    LISTEN_BACKLOG = 4096,
    IN_INITIAL = 4096,           /* first read buffer of a connection */
    IN_MIN_SPACE = 1024,         /* grow the read buffer when less is free */
    IN_KEEP_MAX = 64 * 1024,     /* an idle connection keeps at most this much read buffer */
    OUT_HIGH_WATER = 256 * 1024, /* stop handling pipelined requests above this much unsent output */
    OUT_KEEP_MAX = 256 * 1024,   /* an idle connection keeps at most this much output buffer */
    BODY_KEEP_MAX = 1 << 20,     /* the loop's response body buffer kept between requests */
    MAX_IOV = 64,
    ID_BLOCK = 1024 /* request ids a loop takes from the shared counter at a time */
};
#define LINGER_S 2.0
#define ACCEPT_RETRY_S 0.1

typedef struct loop loop;
typedef struct conn conn;

/* The protocol spoken on a connection, over the transport below. */
typedef struct conn_proto {
    const char *name;
    /* Consumes complete requests from c->in and queues their responses. */
    void (*process)(loop *L, conn *c);
    /* A request under way ran out of time: queue a final response. */
    void (*timeout)(loop *L, conn *c);
} conn_proto;

typedef struct out_seg {
    size_t off, len;           /* owned bytes c->out.data[off..off+len), or */
    const char *ref;           /* borrowed bytes ref[0..len) */
    void (*release)(void *ud); /* called once ref is written or dropped */
    void *ud;
} out_seg;

enum { TIMER_IDLE, TIMER_REQUEST, TIMER_LINGER, TIMER_PARKED, NTIMERS, TIMER_NONE = NTIMERS };

typedef struct conn_list {
    conn *head, *tail;
    double duration;
} conn_list;

struct conn {
    int fd;
    const conn_proto *proto;
    char *in; /* received, not yet consumed bytes */
    size_t in_len, in_cap;
    fa_h1_parser parser;
    fa_buf out; /* owned output bytes */
    out_seg *segs;
    size_t nsegs, seg_cap, seg_head, seg_sent, out_pending;
    unsigned can_read : 1, can_write : 1, rdhup : 1, peer_eof : 1, close_after_flush : 1, lingering : 1,
        stalled : 1, closed : 1, sent_continue : 1;
    unsigned dropped_input : 1; /* input was left unanswered: linger before closing */
    unsigned got_bytes : 1, wrote_bytes : 1, completed : 1; /* progress since the last timer update */
    unsigned served : 1;                                    /* a request was answered */
    int timer;
    double deadline;
    conn *prev, *next; /* in the timer list */
    conn *next_dead;   /* closed, waiting to be freed */
    conn *drain_next;  /* idle when the drain began */
    fa_http_deferred *deferred; /* HTTP/1.1: the response it waits for (input waits meanwhile) */
    char peer[48];              /* the client's address, text */
    loop *L;
    fa_h2 *h2;                  /* an HTTP/2 connection's session */
    fa_http_deferred *h2_waiting; /* HTTP/2: its deferred streams */
    fa_tls_conn *tls;           /* a TLS connection's session */
    unsigned handshaking : 1;
    unsigned goaway_sent : 1;   /* HTTP/2: the drain's GOAWAY is queued */
};

/* What a response answers, for fa_http_defer (one per loop for HTTP/1.1). */
struct fa_http_slot {
    conn *c;
    fa_http_deferred *deferred; /* set by fa_http_defer during handle() */
};

struct fa_http_deferred {
    fa_http_response resp;
    loop *L;
    conn *c; /* NULL once the connection is gone */
    fa_http_method method;
    int minor, keep;
    uint64_t id;
    int32_t stream;                  /* HTTP/2: its stream (0: HTTP/1.1) */
    fa_http_deferred *prev, *next;   /* HTTP/2: in c->h2_waiting */
};

/* Someone else's file descriptor on the loop (fa_io_loop). */
typedef struct io_watch {
    int fd;
    unsigned want;
    fa_io_fn fn;
    void *arg;
    int dead;
    struct io_watch *next;
} io_watch;

struct loop {
    fa_server *srv;
    int index;
    pthread_t thread;
    int started;
    int epfd, listen_fd, stop_fd;
    int draining, accept_paused;
    double drain_deadline, accept_resume, now;
    fa_h1_date date;
    fa_h1_limits limits;
    size_t in_limit;
    fa_api_thread *app;
    fa_http_request req;
    fa_http_response resp;
    struct fa_http_slot slot; /* resp.slot */
    fa_io_loop io;            /* given to thread_init */
    io_watch *watches, *dead_watches;
    double app_next;          /* when cb.tick wants to run next (INFINITY: no need) */
    char *scratch; /* max_header_bytes: the decoded path, or discarded input */
    conn_list timers[NTIMERS];
    conn *dead; /* closed this turn, freed after the event batch */
    int nconns;
    uint64_t id_next, id_end;
    char init_error[256];
};

struct fa_server {
    fa_server_config cfg;
    fa_tls_ctx *tls;
    char host[256];
    fa_api_callbacks cb;
    int nloops, port;
    loop *loops;
    atomic_int nconns, stopping;
    atomic_uint_fast64_t next_id;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nready, nfailed;
};

/* ---------------------------------------------------------------- configuration */

/* The defaults documented in api.h. */
void fa_server_config_default(fa_server_config *c) {
    c->host = "127.0.0.1";
    c->port = 8080;
    c->loops = 0;
    c->max_header_bytes = 16 * 1024;
    c->max_body_bytes = 1024 * 1024;
    c->max_connections = 10000;
    c->idle_timeout_s = 30;
    c->header_timeout_s = 10;
    c->drain_timeout_s = 10;
    c->http2 = 1;
    c->tls_cert = c->tls_key = NULL;
}

static int check_seconds(const char *field, double v) {
    if (!(v > 0 && v <= 1e6))
        return fa_err_set(FA_EINVAL,
                          "server config: field '%s': expected seconds in "
                          "(0, 1e6], got %g",
                          field, v);
    return 0;
}

static int config_check(const fa_server_config *c) {
    if (c->port < 0 || c->port > 65535)
        return fa_err_set(FA_EINVAL, "server config: field 'port': expected 0..65535, got %d", c->port);
    if (c->loops < 0 || c->loops > MAX_LOOPS)
        return fa_err_set(FA_EINVAL, "server config: field 'loops': expected 0..%d, got %d", MAX_LOOPS,
                          c->loops);
    if (c->max_header_bytes < 256 || c->max_header_bytes > (64u << 20))
        return fa_err_set(FA_EINVAL, "server config: field 'max_header_bytes': expected 256..64 MiB, got %zu",
                          c->max_header_bytes);
    if (c->max_body_bytes > (1u << 30))
        return fa_err_set(FA_EINVAL, "server config: field 'max_body_bytes': expected at most 1 GiB, got %zu",
                          c->max_body_bytes);
    if (c->max_connections < 1)
        return fa_err_set(FA_EINVAL, "server config: field 'max_connections': expected >= 1, got %d",
                          c->max_connections);
    if (c->host && strlen(c->host) >= 256)
        return fa_err_set(FA_EINVAL, "server config: field 'host': longer than 255 bytes");
    if (check_seconds("idle_timeout_s", c->idle_timeout_s) ||
        check_seconds("header_timeout_s", c->header_timeout_s) ||
        check_seconds("drain_timeout_s", c->drain_timeout_s))
        return FA_EINVAL;
    if (!c->tls_cert != !c->tls_key)
        return fa_err_set(FA_EUSAGE,
                          "server config: TLS needs both a certificate and its key (got only the %s)",
                          c->tls_cert ? "certificate" : "key");
    return 0;
}

static int cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < MAX_LOOPS ? n : MAX_LOOPS) : 1;
}

/* ---------------------------------------------------------------- timers */

static void timer_unlink(loop *L, conn *c) {
    if (c->timer == TIMER_NONE) return;
    conn_list *l = &L->timers[c->timer];
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    c->timer = TIMER_NONE;
}

/* Puts c on list kind with a fresh deadline, unless it is there already and
 * restart is 0. Appending keeps the list sorted: now only grows. */
static void timer_set(loop *L, conn *c, int kind, int restart) {
    if (c->timer == kind && !restart) return;
    timer_unlink(L, c);
    conn_list *l = &L->timers[kind];
    c->deadline = L->now + l->duration;
    c->prev = l->tail;
    c->next = NULL;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    c->timer = kind;
}

/* ---------------------------------------------------------------- output queue */

static int out_push(conn *c, out_seg seg) {
    if (c->nsegs == c->seg_cap) {
        size_t cap = c->seg_cap ? c->seg_cap * 2 : 8;
        out_seg *s = fa_realloc(c->segs, cap * sizeof *s);
        if (!s) return FA_ENOMEM;
        c->segs = s;
        c->seg_cap = cap;
    }
    c->segs[c->nsegs++] = seg;
    c->out_pending += seg.len;
    return 0;
}

/* Queues the last n bytes appended to c->out. */
static int out_owned(conn *c, size_t n) {
    if (!n) return 0;
    size_t off = c->out.len - n;
    if (c->nsegs > c->seg_head) {
        out_seg *last = &c->segs[c->nsegs - 1];
        if (!last->ref && last->off + last->len == off) {
            last->len += n;
            c->out_pending += n;
            return 0;
        }
    }
    return out_push(c, (out_seg){off, n, NULL, NULL, NULL});
}

/* Moves the unsent part of the queue to the front of its arrays. */
static void out_compact(conn *c) {
    if (c->seg_head) {
        memmove(c->segs, c->segs + c->seg_head, (c->nsegs - c->seg_head) * sizeof *c->segs);
        c->nsegs -= c->seg_head;
        c->seg_head = 0;
    }
    size_t first = c->out.len;
    for (size_t i = 0; i < c->nsegs; i++)
        if (!c->segs[i].ref) {
            first = c->segs[i].off;
            break;
        }
    if (first == 0) return;
    memmove(c->out.data, c->out.data + first, c->out.len - first);
    c->out.len -= first;
    for (size_t i = 0; i < c->nsegs; i++)
        if (!c->segs[i].ref) c->segs[i].off -= first;
}

static void out_reset(conn *c) {
    c->nsegs = c->seg_head = c->seg_sent = c->out_pending = 0;
    if (c->out.cap > OUT_KEEP_MAX)
        fa_buf_free(&c->out);
    else
        c->out.len = 0;
}

/* Marks n bytes as written, releasing borrowed bodies that are done. */
static void out_consume(conn *c, size_t n) {
    while (n) {
        out_seg *g = &c->segs[c->seg_head];
        size_t left = g->len - c->seg_sent;
        if (n < left) {
            c->seg_sent += n;
            c->out_pending -= n;
            return;
        }
        n -= left;
        c->out_pending -= left;
        c->seg_sent = 0;
        c->seg_head++;
        if (g->release) g->release(g->ud);
    }
    if (c->seg_head == c->nsegs) out_reset(c);
}

/* Releases what was never written (the connection died). */
static void out_drop(conn *c) {
    for (size_t i = c->seg_head; i < c->nsegs; i++)
        if (c->segs[i].release) c->segs[i].release(c->segs[i].ud);
    c->nsegs = c->seg_head = 0;
}

/* ---------------------------------------------------------------- connections */

static void conn_close(loop *L, conn *c) {
    if (c->closed) return;
    c->closed = 1;
    if (c->deferred) c->deferred->c = NULL;
    c->deferred = NULL;
    for (fa_http_deferred *d = c->h2_waiting; d; d = d->next) d->c = NULL;
    c->h2_waiting = NULL;
    fa_h2_free(c->h2); /* releases the bodies it still borrowed */
    c->h2 = NULL;
    if (c->tls && !c->handshaking && fa_tls_shutdown(c->tls)) fa_err_clear(); /* close_notify, best effort */
    close(c->fd); /* also leaves the epoll set: the fd is never duplicated */
    out_drop(c);
    timer_unlink(L, c);
    L->nconns--;
    atomic_fetch_sub_explicit(&L->srv->nconns, 1, memory_order_relaxed);
    c->next_dead = L->dead;
    L->dead = c;
}

static void io_free_list(io_watch *w) {
    while (w) {
        io_watch *next = w->next;
        free(w);
        w = next;
    }
}

static void loop_bury(loop *L) {
    io_free_list(L->dead_watches);
    L->dead_watches = NULL;
    while (L->dead) {
        conn *c = L->dead;
        L->dead = c->next_dead;
        fa_tls_conn_free(c->tls);
        free(c->in);
        fa_buf_free(&c->out);
        free(c->segs);
        free(c);
    }
}

/* Writes queued output until done or the socket is full. -1: c was closed. */
static int conn_flush(loop *L, conn *c) {
    while (c->out_pending) {
        struct iovec iov[MAX_IOV];
        int k = 0;
        for (size_t s = c->seg_head; s < c->nsegs && k < MAX_IOV; s++, k++) {
            const out_seg *g = &c->segs[s];
            const char *base = g->ref ? g->ref : c->out.data + g->off;
            size_t skip = s == c->seg_head ? c->seg_sent : 0;
            iov[k].iov_base = (void *)(base + skip);
            iov[k].iov_len = g->len - skip;
        }
        if (c->tls) {
            ssize_t t = fa_tls_writev(c->tls, iov, k);
            if (t > 0) {
                out_consume(c, (size_t)t);
                c->wrote_bytes = 1;
                continue;
            }
            if (t == FA_TLS_WANT_WRITE || t == FA_TLS_WANT_READ) {
                c->can_write = 0; /* (a write that wants a read is retried on the next event) */
                return 0;
            }
            conn_close(L, c);
            return -1;
        }
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)k};
        ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->can_write = 0;
                return 0;
            }
            conn_close(L, c); /* EPIPE, ECONNRESET: the peer is gone */
            return -1;
        }
        out_consume(c, (size_t)n);
        c->wrote_bytes = 1;
    }
    return 0;
}

/* Makes room for the next read: the request's known length, else at least
 * IN_MIN_SPACE, never beyond the loop's input limit. */
static int conn_reserve_input(loop *L, conn *c) {
    size_t want = c->in_len + IN_MIN_SPACE, need = fa_h1_parser_need(&c->parser);
    if (need > want) want = need;
    if (want > L->in_limit) want = L->in_limit;
    if (c->in_cap >= want && c->in_cap > c->in_len) return 0;
    size_t cap = c->in_cap ? c->in_cap : IN_INITIAL;
    while (cap < want) cap *= 2;
    if (cap > L->in_limit) cap = L->in_limit;
    if (cap <= c->in_len) return -1; /* cannot happen: the parser bounds a request to in_limit */
    char *p = fa_realloc(c->in, cap);
    if (!p) return -1;
    c->in = p;
    c->in_cap = cap;
    return 0;
}

/* Reads once. Returns the bytes read; 0 when none came (EAGAIN or end of
 * input, flags set); -1 when c was closed. */
/* A TLS read: OpenSSL reads whole records and ahead, so a short read does
 * not mean the socket is drained: can_read stays set until WANT_READ. */
static ssize_t conn_read_tls(loop *L, conn *c, size_t space) {
    ssize_t n = fa_tls_read(c->tls, c->in + c->in_len, space);
    if (n > 0) {
        c->in_len += (size_t)n;
        c->got_bytes = 1;
        return n;
    }
    if (n == FA_TLS_WANT_READ) {
        c->can_read = 0;
        return 0;
    }
    if (n == FA_TLS_WANT_WRITE) return 0; /* retried when the socket is writable (can_read stays) */
    if (n == FA_TLS_CLOSED) {
        c->peer_eof = 1;
        c->can_read = 0;
        return 0;
    }
    fa_err_clear();
    conn_close(L, c);
    return -1;
}

static ssize_t conn_read(loop *L, conn *c) {
    if (conn_reserve_input(L, c)) {
        conn_close(L, c);
        return -1;
    }
    size_t space = c->in_cap - c->in_len;
    if (c->tls) return conn_read_tls(L, c, space);
    for (;;) {
        ssize_t n = recv(c->fd, c->in + c->in_len, space, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            c->got_bytes = 1;
            if ((size_t)n < space && !c->rdhup) c->can_read = 0; /* drained; new data raises a new edge */
            return n;
        }
        if (n == 0) {
            c->peer_eof = 1;
            c->can_read = 0;
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->can_read = 0;
            return 0;
        }
        conn_close(L, c);
        return -1;
    }
}

/* After the final response: shut the write side, discard input until the
 * peer closes (or the linger timer fires), so the peer reads the response
 * rather than a reset. */
static void conn_linger_read(loop *L, conn *c) {
    for (;;) {
        ssize_t n = recv(c->fd, L->scratch, L->limits.max_header_bytes, 0);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        conn_close(L, c);
        return;
    }
}

static void conn_start_linger(loop *L, conn *c) {
    c->lingering = 1;
    c->in_len = 0;
    if (shutdown(c->fd, SHUT_WR) != 0) {
        conn_close(L, c);
        return;
    }
    timer_set(L, c, TIMER_LINGER, 1);
    conn_linger_read(L, c);
}

/* conn_settle for HTTP/2: streams waiting for deferred answers need no
 * deadline (whoever deferred answers within its own), streams still
 * arriving the request timer. Answered streams that the client's flow
 * control holds back get the idle timer, re-armed on progress, as an idle
 * connection does: parked, a client that never reopens its window would
 * hold them (and their borrowed bodies) for ever. */
static void h2_settle(loop *L, conn *c) {
    if (!c->out_pending && (c->close_after_flush || c->peer_eof)) {
        conn_close(L, c);
        return;
    }
    if (c->out_pending)
        timer_set(L, c, TIMER_IDLE, c->wrote_bytes);
    else if (fa_h2_streams_receiving(c->h2)) /* restarted by a completed request only: bytes that */
        timer_set(L, c, TIMER_REQUEST, c->completed); /* complete nothing (PINGs, trickled headers) do not */
    else if (c->h2_waiting)
        timer_set(L, c, TIMER_PARKED, 0);
    else if (L->draining && !fa_h2_streams(c->h2)) {
        conn_close(L, c);
        return;
    } else
        timer_set(L, c, TIMER_IDLE, c->completed || c->got_bytes || c->wrote_bytes);
    c->got_bytes = c->wrote_bytes = c->completed = 0;
}

static void conn_handshake(loop *L, conn *c);

/* After I/O: close what is finished, else put c on the right timer list. */
static void conn_settle(loop *L, conn *c) {
    if (c->deferred) { /* no deadline: the deferral's owner answers within its own */
        timer_set(L, c, TIMER_PARKED, 0);
        c->got_bytes = c->wrote_bytes = c->completed = 0;
        return;
    }
    if (c->h2) {
        h2_settle(L, c);
        return;
    }
    if (c->close_after_flush && !c->out_pending) {
        if (c->peer_eof || !c->dropped_input || c->tls)
            conn_close(L, c);
        else
            conn_start_linger(L, c);
        return;
    }
    if (c->peer_eof && !c->out_pending && !c->stalled) { /* nothing more can be answered */
        conn_close(L, c);
        return;
    }
    if (L->draining && !c->out_pending && c->in_len == 0) { /* (deferred ones returned above) */
        conn_close(L, c);
        return;
    }
    if (c->out_pending)
        timer_set(L, c, TIMER_IDLE, c->wrote_bytes);
    else if (c->in_len || !c->served) /* a request under way, or the first one awaited */
        timer_set(L, c, TIMER_REQUEST, c->completed || (c->parser.head_len && c->got_bytes));
    else
        timer_set(L, c, TIMER_IDLE, c->completed || c->got_bytes || c->wrote_bytes);
    c->got_bytes = c->wrote_bytes = c->completed = 0;
}

/* Reads, handles and writes until the socket has nothing more for now. */
static void conn_run(loop *L, conn *c) {
    if (c->handshaking) {
        conn_handshake(L, c);
        if (c->closed || c->handshaking) return;
    }
    for (;;) {
        if (c->out_pending && c->can_write && conn_flush(L, c)) return;
        if (c->lingering) {
            conn_linger_read(L, c);
            return;
        }
        if (c->deferred || c->close_after_flush || c->out_pending >= OUT_HIGH_WATER) break;
        if (c->stalled) {
            c->proto->process(L, c);
            if (c->closed) return;
            continue;
        }
        if (!c->can_read) break;
        ssize_t n = conn_read(L, c);
        if (n < 0) return;
        if (n == 0) break;
        c->proto->process(L, c);
        if (c->closed) return;
    }
    if (c->in_len == 0 && c->in_cap > IN_KEEP_MAX) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    conn_settle(L, c);
}

/* ---------------------------------------------------------------- HTTP/1.1 */

static uint64_t next_request_id(loop *L) {
    if (L->id_next == L->id_end) {
        L->id_next = atomic_fetch_add_explicit(&L->srv->next_id, ID_BLOCK, memory_order_relaxed);
        L->id_end = L->id_next + ID_BLOCK;
    }
    return L->id_next++;
}

static void response_reset(fa_http_response *resp) {
    resp->status = 200;
    resp->content_type = NULL;
    resp->nheaders = 0;
    if (resp->body.cap > BODY_KEEP_MAX) fa_buf_free(&resp->body);
    fa_buf_reset(&resp->body);
    resp->body_ref = NULL;
    resp->body_ref_len = 0;
    resp->release = NULL;
    resp->release_ud = NULL;
}

/* Queues the handler's response: head, then the owned body copied behind it
 * or the borrowed body as its own segment. */
static int h1_queue_response(loop *L, conn *c, const fa_http_request *req, fa_http_response *resp, int keep) {
    int status = resp->status;
    const char *body = resp->body_ref ? (const char *)resp->body_ref : resp->body.data;
    size_t n = resp->body_ref ? resp->body_ref_len : resp->body.len;
    if (status < 200 || status > 599) {
        fa_log(FA_LOG_ERROR, "handler set an invalid status", "status=%d request_id=%llu", status,
               (unsigned long long)req->id);
        status = 500;
        n = 0;
    }
    int bodiless = status == 204 || status == 304;
    int send_body = !bodiless && req->method != FA_HTTP_HEAD && n > 0;
    unsigned flags =
        (bodiless ? 0u : (unsigned)FA_H1_LENGTH) | (!keep             ? (unsigned)FA_H1_CLOSE
                                                    : req->minor == 0 ? (unsigned)FA_H1_KEEP_ALIVE
                                                                      : 0u);
    if (c->seg_head) out_compact(c);
    size_t before = c->out.len;
    int rc = fa_h1_write_head(&c->out, status, resp, bodiless ? 0 : n, flags, &L->date);
    if (!rc && send_body && !resp->body_ref) rc = fa_buf_append(&c->out, body, n);
    if (!rc) rc = out_owned(c, c->out.len - before);
    if (!rc && send_body && resp->body_ref) {
        rc = out_push(c, (out_seg){0, n, body, resp->release, resp->release_ud});
        if (!rc) return 0;
    }
    if (resp->body_ref && resp->release) resp->release(resp->release_ud);
    return rc;
}

static const conn_proto http1_proto, http2_proto;
static int h2_start(loop *L, conn *c);
static void h2_process(loop *L, conn *c);
static void h2_upgrade(loop *L, conn *c, const fa_http_request *req);

/* The handler deferred: the response struct moves into the token (the
 * loop's gets a fresh body buffer), which remembers what answering needs. */
static fa_http_deferred *take_deferred(loop *L, conn *c, const fa_http_request *req) {
    fa_http_deferred *d = L->slot.deferred;
    L->slot.deferred = NULL;
    d->resp = L->resp;
    d->resp.slot = NULL;
    memset(&L->resp.body, 0, sizeof L->resp.body);
    L->resp.body_ref = NULL;
    L->resp.release = NULL;
    d->L = L;
    d->c = c;
    d->method = req->method;
    d->id = req->id;
    return d;
}

/* HTTP/1.1: the connection waits for it (pipelined requests behind it too). */
static void h1_park(loop *L, conn *c, const fa_http_request *req, int keep) {
    fa_http_deferred *d = take_deferred(L, c, req);
    d->minor = req->minor;
    d->keep = keep;
    c->deferred = d;
}

static void h1_handle(loop *L, conn *c) {
    fa_server *s = L->srv;
    fa_http_request *req = &L->req;
    req->id = next_request_id(L);
    req->version = 1;
    memcpy(req->peer, c->peer, sizeof req->peer);
    if (atomic_load_explicit(&s->stopping, memory_order_relaxed)) req->keep_alive = 0;
    response_reset(&L->resp);
    if (s->cfg.http2 && !c->tls && fa_h2_upgrade_requested(req)) {
        h2_upgrade(L, c, req);
        if (c->closed || c->proto != &http1_proto) return;
    }
    L->slot.c = c;
    L->slot.deferred = NULL;
    s->cb.handle(L->app, req, &L->resp);
    L->now = fa_clock_now();
    int keep = req->keep_alive && !atomic_load_explicit(&s->stopping, memory_order_relaxed);
    if (L->slot.deferred) {
        h1_park(L, c, req, keep);
        return;
    }
    if (h1_queue_response(L, c, req, &L->resp, keep)) {
        conn_close(L, c);
        return;
    }
    if (!keep) c->close_after_flush = 1;
    c->completed = c->served = 1;
}

/* A final error response; the connection closes after it. */
static void h1_fail(loop *L, conn *c, int status, const char *what) {
    if (c->seg_head) out_compact(c);
    size_t before = c->out.len;
    if (fa_h1_write_error(&c->out, status, what, 0, &L->date) || out_owned(c, c->out.len - before)) {
        conn_close(L, c);
        return;
    }
    c->close_after_flush = 1;
    c->dropped_input = 1;
    c->in_len = 0;
}

static void h1_continue(loop *L, conn *c) {
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (fa_buf_append(&c->out, msg, sizeof msg - 1) || out_owned(c, sizeof msg - 1)) {
        conn_close(L, c);
        return;
    }
    c->sent_continue = 1;
}

/* A cleartext connection's first bytes: the HTTP/2 client preface switches
 * it to HTTP/2 (prior knowledge). 1 switched, 0 not HTTP/2, -1 too few
 * bytes to tell. */
static int h1_maybe_preface(loop *L, conn *c) {
    if (c->served || c->tls || !L->srv->cfg.http2 || c->parser.scan || c->parser.start) return 0;
    int p = fa_h2_is_preface(c->in, c->in_len);
    if (p <= 0) return p;
    if (h2_start(L, c)) {
        conn_close(L, c);
        return 1;
    }
    h2_process(L, c);
    return 1;
}

static void h1_process(loop *L, conn *c) {
    size_t off = 0;
    c->stalled = 0;
    if (h1_maybe_preface(L, c)) return;
    while (off < c->in_len && !c->close_after_flush && !c->deferred && c->proto == &http1_proto) {
        if (c->out_pending >= OUT_HIGH_WATER) {
            c->stalled = 1;
            break;
        }
        size_t used = 0;
        fa_h1_error err;
        int r = fa_h1_parse(&c->parser, c->in + off, c->in_len - off, &L->limits, &L->req, L->scratch, &err,
                            &used);
        if (r == 0) {
            if (c->parser.expect_continue && !c->sent_continue) h1_continue(L, c);
            break;
        }
        if (r < 0) {
            h1_fail(L, c, err.status, err.what);
            return;
        }
        off += used;
        c->sent_continue = 0;
        h1_handle(L, c);
        if (c->closed) return;
    }
    if (c->close_after_flush && off < c->in_len) { /* what follows "Connection: close" is not answered */
        c->dropped_input = 1;
        off = c->in_len;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    if (c->proto != &http1_proto && !c->closed) c->proto->process(L, c); /* upgraded: the rest is HTTP/2 */
}

static void h1_timeout(loop *L, conn *c) { h1_fail(L, c, 408, "the request did not arrive in time"); }

static const conn_proto http1_proto = {"http/1.1", h1_process, h1_timeout};

/* ---------------------------------------------------------------- HTTP/2 */

/* Moves the session's ready frames into the output queue, up to the
 * high-water mark; more left marks the connection stalled, so conn_run
 * comes back for them once the socket has taken some. */
static void h2_pump(loop *L, conn *c) {
    if (L->draining && !c->goaway_sent) { /* streams under way finish, then should_close says so */
        c->goaway_sent = 1;
        if (fa_h2_goaway(c->h2)) fa_err_clear();
    }
    if (c->seg_head) out_compact(c);
    size_t before = c->out.len;
    size_t room = c->out_pending < OUT_HIGH_WATER ? OUT_HIGH_WATER - c->out_pending : 0;
    int rc = room ? fa_h2_output(c->h2, &c->out, room) : 1;
    if (rc < 0 || out_owned(c, c->out.len - before)) {
        fa_err_clear();
        conn_close(L, c);
        return;
    }
    c->stalled = rc == 1;
    if (fa_h2_should_close(c->h2)) c->close_after_flush = 1;
}

static void h2_process(loop *L, conn *c) {
    c->stalled = 0;
    if (c->in_len) {
        int rc = fa_h2_feed(c->h2, (const uint8_t *)c->in, c->in_len);
        c->in_len = 0;
        if (rc) { /* beyond saving: send its GOAWAY, then close */
            fa_err_clear();
            c->close_after_flush = 1;
        }
    }
    if (!c->closed) h2_pump(L, c);
}

/* Streams whose request stalls are the session's business (its flow
 * control); a connection whose requests stopped arriving is just closed. */
static void h2_timeout(loop *L, conn *c) { conn_close(L, c); }

static const conn_proto http2_proto = {"h2", h2_process, h2_timeout};

/* HTTP/2: only its stream waits; the connection lists it, to detach it if it dies. */
static void h2_park(loop *L, conn *c, const fa_http_request *req, int32_t stream) {
    fa_http_deferred *d = take_deferred(L, c, req);
    d->stream = stream;
    d->prev = NULL;
    d->next = c->h2_waiting;
    if (c->h2_waiting) c->h2_waiting->prev = d;
    c->h2_waiting = d;
}

/* A complete request on a stream (fa_h2_callbacks.request). */
static void h2_on_request(void *ud, int32_t stream, fa_http_request *req) {
    conn *c = ud;
    loop *L = c->L;
    fa_server *s = L->srv;
    req->id = next_request_id(L);
    response_reset(&L->resp);
    L->slot.c = c;
    L->slot.deferred = NULL;
    s->cb.handle(L->app, req, &L->resp);
    L->now = fa_clock_now();
    c->completed = c->served = 1;
    if (L->slot.deferred) {
        h2_park(L, c, req, stream);
        return;
    }
    if (fa_h2_respond(c->h2, stream, &L->resp, 0)) fa_err_clear(); /* the stream went: nothing to send */
}

static int h2_start(loop *L, conn *c) {
    fa_h2_config hc;
    fa_h2_config_default(&hc);
    hc.max_header_bytes = L->limits.max_header_bytes;
    hc.max_body_bytes = L->limits.max_body_bytes ? L->limits.max_body_bytes : 1;
    hc.date = &L->date;
    hc.peer = c->peer;
    fa_h2_callbacks cb = {c, h2_on_request};
    c->h2 = fa_h2_new(&hc, &cb);
    if (!c->h2) {
        fa_err_clear();
        return -1;
    }
    c->proto = &http2_proto;
    return 0;
}

/* An HTTP/1.1 request asked for h2c: 101, then it is answered on stream 1. */
static void h2_upgrade(loop *L, conn *c, const fa_http_request *req) {
    if (h2_start(L, c)) return; /* no memory: answered over HTTP/1.1 */
    if (c->seg_head) out_compact(c);
    size_t before = c->out.len;
    if (fa_h2_upgrade(c->h2, req, &c->out)) { /* bad HTTP2-Settings: stay on HTTP/1.1 */
        fa_err_clear();
        fa_h2_free(c->h2);
        c->h2 = NULL;
        c->proto = &http1_proto;
        c->out.len = before;
        return;
    }
    if (out_owned(c, c->out.len - before)) {
        conn_close(L, c);
        return;
    }
    h2_pump(L, c);
}

/* ---------------------------------------------------------------- TLS */

static void conn_handshake(loop *L, conn *c) {
    int rc = fa_tls_handshake(c->tls);
    if (rc == FA_TLS_WANT_READ || rc == FA_TLS_WANT_WRITE) {
        conn_settle(L, c); /* under the request timer */
        return;
    }
    if (rc != 0) {
        fa_err_clear();
        conn_close(L, c);
        return;
    }
    c->handshaking = 0;
    c->can_read = 1; /* the first request may already be inside OpenSSL */
    const char *alpn = fa_tls_alpn(c->tls);
    if (alpn && strcmp(alpn, "h2") == 0 && L->srv->cfg.http2 && h2_start(L, c)) conn_close(L, c);
    else if (c->h2)
        h2_pump(L, c); /* our SETTINGS go first */
}

/* ---------------------------------------------------------------- deferred responses */

fa_http_deferred *fa_http_defer(fa_http_response *resp) {
    if (!resp || !resp->slot || resp->slot->deferred) {
        fa_err_set(FA_EUSAGE, "fa_http_defer: not inside handle(), or deferred twice");
        return NULL;
    }
    fa_http_deferred *d = fa_calloc(1, sizeof *d);
    if (d) resp->slot->deferred = d;
    return d;
}

fa_http_response *fa_http_deferred_response(fa_http_deferred *d) { return &d->resp; }

/* An HTTP/2 stream's deferred answer. */
static void h2_deferred_done(fa_http_deferred *d) {
    conn *c = d->c;
    if (d->prev)
        d->prev->next = d->next;
    else
        c->h2_waiting = d->next;
    if (d->next) d->next->prev = d->prev;
    if (d->resp.status == 0) d->resp.status = 500;
    if (fa_h2_respond(c->h2, d->stream, &d->resp, 0)) fa_err_clear();
    c->completed = 1;
    h2_pump(d->L, c);
    if (!c->closed) conn_run(d->L, c);
}

void fa_http_deferred_done(fa_http_deferred *d) {
    conn *c = d->c;
    if (c && d->stream) {
        h2_deferred_done(d);
    } else if (c) {
        loop *L = d->L;
        c->deferred = NULL;
        fa_http_request req;
        req.method = d->method;
        req.minor = d->minor;
        req.id = d->id;
        if (d->resp.status == 0) d->resp.status = 500;
        int keep = d->keep && !atomic_load_explicit(&L->srv->stopping, memory_order_relaxed);
        if (h1_queue_response(L, c, &req, &d->resp, keep)) {
            conn_close(L, c);
        } else {
            if (!keep) c->close_after_flush = 1;
            c->completed = c->served = 1;
            c->stalled = c->in_len > 0; /* pipelined requests waited behind it */
            conn_run(L, c);
        }
    } else if (d->resp.body_ref && d->resp.release) {
        d->resp.release(d->resp.release_ud);
    }
    fa_buf_free(&d->resp.body);
    free(d);
}

/* ---------------------------------------------------------------- other fds on the loop */

#define WATCH_TAG 1u

static int io_watch_fd(void *ud, int fd, unsigned want, fa_io_fn fn, void *arg) {
    loop *L = ud;
    io_watch **pp = &L->watches;
    while (*pp && (*pp)->fd != fd) pp = &(*pp)->next;
    io_watch *w = *pp;
    if (!want) {
        if (!w) return 0;
        epoll_ctl(L->epfd, EPOLL_CTL_DEL, fd, NULL);
        *pp = w->next;
        w->dead = 1;
        w->next = L->dead_watches;
        L->dead_watches = w;
        return 0;
    }
    int op = w ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (!w) {
        w = fa_calloc(1, sizeof *w);
        if (!w) return FA_ENOMEM;
        w->fd = fd;
    }
    struct epoll_event ev = {.events = ((want & FA_IO_READ) ? (uint32_t)EPOLLIN : 0u) |
                                       ((want & FA_IO_WRITE) ? (uint32_t)EPOLLOUT : 0u),
                             .data.u64 = (uint64_t)(uintptr_t)w | WATCH_TAG};
    if (epoll_ctl(L->epfd, op, fd, &ev)) {
        int e = errno;
        if (op == EPOLL_CTL_ADD) free(w);
        return fa_err_set(FA_EIO, "server: watching fd %d: %s", fd, strerror(e));
    }
    w->want = want;
    w->fn = fn;
    w->arg = arg;
    if (op == EPOLL_CTL_ADD) {
        w->next = L->watches;
        L->watches = w;
    }
    return 0;
}

static double io_now(void *ud) { return ((loop *)ud)->now; }

static void io_dispatch(io_watch *w, uint32_t e) {
    if (w->dead) return;
    unsigned ev = ((e & EPOLLIN) ? FA_IO_READ : 0u) | ((e & EPOLLOUT) ? FA_IO_WRITE : 0u) |
                  ((e & (EPOLLERR | EPOLLHUP)) ? FA_IO_ERROR | FA_IO_READ : 0u);
    w->fn(w->arg, ev);
}


/* ---------------------------------------------------------------- the loop */

/* The peer's address as text: "192.0.2.7", "2001:db8::1" ("" when unknown). */
static void peer_text(const struct sockaddr_storage *ss, char *out, size_t size) {
    const void *a = NULL;
    if (ss->ss_family == AF_INET) a = &((const struct sockaddr_in *)ss)->sin_addr;
    if (ss->ss_family == AF_INET6) a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (!a || !inet_ntop(ss->ss_family, a, out, (socklen_t)size)) out[0] = '\0';
}

static void conn_open(loop *L, int fd, const struct sockaddr_storage *ss) {
    conn *c = calloc(1, sizeof *c);
    int one = 1;
    if (c) {
        peer_text(ss, c->peer, sizeof c->peer);
        c->L = L;
        c->fd = fd;
        if (L->srv->tls) {
            c->tls = fa_tls_accept(L->srv->tls, fd);
            c->handshaking = 1;
        }
        c->proto = &http1_proto;
        c->can_write = 1;
        c->timer = TIMER_NONE;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (!c || (L->srv->tls && !c->tls) || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ||
        epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev)) {
        fa_log(FA_LOG_WARN, "connection dropped", "loop=%d reason=\"%s\"", L->index,
               !c || (L->srv->tls && !c->tls) ? "no memory" : strerror(errno));
        if (c) fa_tls_conn_free(c->tls);
        free(c);
        close(fd);
        atomic_fetch_sub_explicit(&L->srv->nconns, 1, memory_order_relaxed);
        return;
    }
    L->nconns++;
    timer_set(L, c, TIMER_REQUEST, 1);
}

static void loop_pause_accept(loop *L) {
    epoll_ctl(L->epfd, EPOLL_CTL_DEL, L->listen_fd, NULL);
    L->accept_paused = 1;
    L->accept_resume = L->now + ACCEPT_RETRY_S;
    fa_log(FA_LOG_WARN, "accept paused: out of file descriptors or memory", "loop=%d", L->index);
}

static void loop_resume_accept(loop *L) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &L->listen_fd};
    L->accept_paused = 0;
    if (L->listen_fd >= 0) epoll_ctl(L->epfd, EPOLL_CTL_ADD, L->listen_fd, &ev);
}

/* Over max_connections: a short 503 and close. */
static void refuse(int fd) {
    static const char msg[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    ssize_t w = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    close(fd);
}

static void loop_accept(loop *L) {
    fa_server *s = L->srv;
    for (int k = 0; k < ACCEPT_BATCH && L->listen_fd >= 0; k++) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof ss;
        int fd = accept4(L->listen_fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                loop_pause_accept(L);
            return;
        }
        if (atomic_fetch_add_explicit(&s->nconns, 1, memory_order_relaxed) >= s->cfg.max_connections) {
            atomic_fetch_sub_explicit(&s->nconns, 1, memory_order_relaxed);
            if (s->tls) /* no plain-text 503 on a TLS port */
                close(fd);
            else
                refuse(fd);
            continue;
        }
        conn_open(L, fd, &ss);
    }
}

/* Whether the drain looks at c at once: idle (nothing under way, so it
 * closes), or HTTP/2 (its GOAWAY goes out now, busy or not). */
static int drain_visits(const conn *c) {
    if (c->h2) return 1;
    return !c->lingering && !c->close_after_flush && !c->out_pending && c->in_len == 0 && !c->deferred;
}

static void loop_begin_drain(loop *L) {
    uint64_t v;
    ssize_t r = read(L->stop_fd, &v, sizeof v);
    (void)r;
    if (L->draining) return;
    L->draining = 1;
    L->drain_deadline = L->now + L->srv->cfg.drain_timeout_s;
    if (L->srv->cb.draining) L->srv->cb.draining(L->app);
    if (L->listen_fd >= 0) close(L->listen_fd);
    L->listen_fd = -1;
    /* Idle connections close, but a request already in the socket buffer is
     * still read and answered ("Connection: close"): conn_run does both, and
     * conn_settle closes whatever is left idle. Every HTTP/2 connection gets
     * its GOAWAY (h2_pump), busy or not. The connections are listed first,
     * because conn_run moves them between timer lists. */
    conn *visit = NULL;
    for (int k = 0; k < NTIMERS; k++)
        for (conn *c = L->timers[k].head; c; c = c->next)
            if (drain_visits(c)) {
                c->drain_next = visit;
                visit = c;
            }
    for (conn *c = visit; c; c = c->drain_next) {
        c->can_read = 1;
        if (c->h2 && !c->closed) h2_pump(L, c);
        if (!c->closed) conn_run(L, c);
    }
}

static void loop_dispatch(loop *L, const struct epoll_event *ev) {
    if (ev->data.u64 & WATCH_TAG) {
        io_dispatch((io_watch *)(uintptr_t)(ev->data.u64 & ~(uint64_t)WATCH_TAG), ev->events);
        return;
    }
    void *tag = ev->data.ptr;
    if (tag == &L->listen_fd) {
        loop_accept(L);
        return;
    }
    if (tag == &L->stop_fd) {
        loop_begin_drain(L);
        return;
    }
    conn *c = tag;
    uint32_t e = ev->events;
    if (c->closed) return;
    if (e & EPOLLERR) {
        conn_close(L, c);
        return;
    }
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) c->can_read = 1;
    if (e & (EPOLLRDHUP | EPOLLHUP)) c->rdhup = 1;
    if (e & EPOLLOUT) c->can_write = 1;
    conn_run(L, c);
}

/* Closes the connections whose deadline has passed (408 for a request under way). */
static void loop_expire(loop *L) {
    for (int k = 0; k < NTIMERS; k++) {
        conn_list *l = &L->timers[k];
        while (l->head && l->head->deadline <= L->now) {
            conn *c = l->head;
            double deadline = c->deadline;
            if (k == TIMER_REQUEST && c->in_len && !c->close_after_flush) {
                timer_unlink(L, c);
                c->proto->timeout(L, c);
                if (!c->closed) conn_run(L, c);
                if (!c->closed && l->head == c && c->deadline == deadline) conn_close(L, c);
            } else {
                conn_close(L, c);
            }
        }
    }
}

static int loop_timeout_ms(const loop *L) {
    double next = INFINITY;
    for (int k = 0; k < NTIMERS; k++)
        if (L->timers[k].head && L->timers[k].head->deadline < next) next = L->timers[k].head->deadline;
    if (L->draining && L->drain_deadline < next) next = L->drain_deadline;
    if (L->accept_paused && L->accept_resume < next) next = L->accept_resume;
    if (L->app_next < next) next = L->app_next;
    if (next == INFINITY) return -1;
    double ms = ceil((next - L->now) * 1000);
    return ms <= 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms;
}

static void loop_tick(loop *L) {
    L->now = fa_clock_now();
    fa_h1_date_set(&L->date, time(NULL));
}

static void loop_app_tick(loop *L) {
    L->app_next = INFINITY;
    if (!L->srv->cb.tick || !L->app) return;
    double in = L->srv->cb.tick(L->app, L->now);
    if (in >= 0) L->app_next = L->now + in;
}

static void loop_close_all(loop *L) {
    for (int k = 0; k < NTIMERS; k++)
        while (L->timers[k].head) conn_close(L, L->timers[k].head);
    loop_bury(L);
}

static void loop_run(loop *L) {
    struct epoll_event ev[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(L->epfd, ev, MAX_EVENTS, loop_timeout_ms(L));
        if (n < 0 && errno != EINTR) {
            fa_log(FA_LOG_ERROR, "epoll_wait failed", "loop=%d error=\"%s\"", L->index, strerror(errno));
            return;
        }
        loop_tick(L);
        for (int i = 0; i < n; i++) loop_dispatch(L, &ev[i]);
        loop_expire(L);
        loop_app_tick(L);
        if (L->accept_paused && L->now >= L->accept_resume) loop_resume_accept(L);
        loop_bury(L);
        if (L->draining && (L->nconns == 0 || L->now >= L->drain_deadline)) return;
    }
}

/* Tells fa_server_start whether this loop's thread_init worked. */
static void loop_report(loop *L, int ok) {
    fa_server *s = L->srv;
    pthread_mutex_lock(&s->mu);
    if (ok)
        s->nready++;
    else
        s->nfailed++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void *loop_main(void *arg) {
    loop *L = arg;
    fa_server *s = L->srv;
    char name[16];
    snprintf(name, sizeof name, "fa-http-%d", L->index);
    pthread_setname_np(pthread_self(), name);
    if (s->cb.thread_init) {
        fa_err_clear();
        L->app = s->cb.thread_init(s->cb.ud, L->index, &L->io);
        if (!L->app) {
            snprintf(L->init_error, sizeof L->init_error, "%s",
                     fa_err_msg()[0] ? fa_err_msg() : "thread_init returned NULL");
            loop_report(L, 0);
            return NULL;
        }
    }
    loop_report(L, 1);
    loop_tick(L);
    loop_app_tick(L);
    loop_run(L);
    loop_close_all(L);
    if (s->cb.thread_free && L->app) s->cb.thread_free(L->app);
    io_free_list(L->watches);
    io_free_list(L->dead_watches);
    L->watches = L->dead_watches = NULL;
    return NULL;
}

/* ---------------------------------------------------------------- start and stop */

static int resolve(const fa_server *s, struct sockaddr_storage *ss, socklen_t *len) {
    struct addrinfo hints = {
        .ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", s->cfg.port);
    int rc = getaddrinfo(s->host, port, &hints, &res);
    if (rc) return fa_err_set(FA_EINVAL, "server: host '%s': %s", s->host, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void set_port(struct sockaddr_storage *ss, int port) {
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static int get_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len)) return -1;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A listening socket on ss; with listen_too = 0 only bound (a probe). */
static int open_listener(const fa_server *s, const struct sockaddr_storage *ss, socklen_t len, int reuseport,
                         int listen_too) {
    int one = 1;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fa_err_set(FA_EIO, "server: socket: %s", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) ||
        bind(fd, (const struct sockaddr *)ss, len) || (listen_too && listen(fd, LISTEN_BACKLOG))) {
        int e = errno;
        close(fd);
        return fa_err_set(FA_EIO, "server: cannot listen on %s port %d: %s", s->host,
                          s->port ? s->port : s->cfg.port, strerror(e));
    }
    return fd;
}

/* One SO_REUSEPORT listener per loop, all on the same port. A port asked for
 * explicitly is first bound without SO_REUSEPORT, so that a server already on
 * it is reported instead of silently sharing its traffic. */
static int server_listen(fa_server *s) {
    struct sockaddr_storage ss = {0};
    socklen_t len = 0;
    if (resolve(s, &ss, &len)) return FA_EINVAL;
    if (s->cfg.port) {
        int probe = open_listener(s, &ss, len, 0, 0);
        if (probe < 0) return probe;
        close(probe);
    }
    for (int i = 0; i < s->nloops; i++) {
        int fd = open_listener(s, &ss, len, 1, 1);
        if (fd < 0) return fd;
        s->loops[i].listen_fd = fd;
        if (i == 0) {
            s->port = get_port(fd);
            if (s->port <= 0) return fa_err_set(FA_EIO, "server: getsockname: %s", strerror(errno));
            set_port(&ss, s->port);
        }
    }
    return 0;
}

static int loop_prepare(fa_server *s, loop *L) {
    L->srv = s;
    L->resp.slot = &L->slot;
    L->io = (fa_io_loop){L, io_watch_fd, io_now};
    L->app_next = INFINITY;
    L->limits = (fa_h1_limits){s->cfg.max_header_bytes, s->cfg.max_body_bytes};
    L->in_limit = s->cfg.max_header_bytes + s->cfg.max_body_bytes;
    L->timers[TIMER_IDLE].duration = s->cfg.idle_timeout_s;
    L->timers[TIMER_REQUEST].duration = s->cfg.header_timeout_s;
    L->timers[TIMER_LINGER].duration = LINGER_S;
    L->timers[TIMER_PARKED].duration = INFINITY;
    L->scratch = fa_malloc(s->cfg.max_header_bytes);
    if (!L->scratch) return FA_ENOMEM;
    L->epfd = epoll_create1(EPOLL_CLOEXEC);
    L->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (L->epfd < 0 || L->stop_fd < 0)
        return fa_err_set(FA_EIO, "server: epoll/eventfd: %s", strerror(errno));
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &L->listen_fd};
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &L->stop_fd};
    if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, L->listen_fd, &lev) ||
        epoll_ctl(L->epfd, EPOLL_CTL_ADD, L->stop_fd, &sev))
        return fa_err_set(FA_EIO, "server: epoll_ctl: %s", strerror(errno));
    return 0;
}

static void server_free(fa_server *s) {
    for (int i = 0; s->loops && i < s->nloops; i++) {
        loop *L = &s->loops[i];
        if (L->listen_fd >= 0) close(L->listen_fd);
        if (L->epfd >= 0) close(L->epfd);
        if (L->stop_fd >= 0) close(L->stop_fd);
        free(L->scratch);
        fa_buf_free(&L->resp.body);
    }
    free(s->loops);
    fa_tls_ctx_free(s->tls);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void server_join(fa_server *s) {
    for (int i = 0; i < s->nloops; i++)
        if (s->loops[i].started) {
            pthread_join(s->loops[i].thread, NULL);
            s->loops[i].started = 0;
        }
}

/* Starts the loop threads and waits until each has run thread_init. */
static int server_spawn(fa_server *s) {
    int started = 0;
    for (int i = 0; i < s->nloops; i++) {
        int rc = pthread_create(&s->loops[i].thread, NULL, loop_main, &s->loops[i]);
        if (rc) {
            fa_err_set(FA_EIO, "server: cannot start loop thread %d: %s", i, strerror(rc));
            break;
        }
        s->loops[i].started = 1;
        started++;
    }
    pthread_mutex_lock(&s->mu);
    while (s->nready + s->nfailed < started) pthread_cond_wait(&s->cv, &s->mu);
    int failed = s->nfailed;
    pthread_mutex_unlock(&s->mu);
    if (started == s->nloops && !failed) return 0;
    fa_server_stop(s);
    server_join(s);
    for (int i = 0; i < s->nloops; i++)
        if (s->loops[i].init_error[0])
            return fa_err_set(FA_EIO, "server: loop %d: thread_init failed: %s", i, s->loops[i].init_error);
    return FA_EIO;
}

/* Validates c, binds one listener per loop, starts the loops and waits until
 * each has run thread_init (on its own thread). thread_init returning NULL
 * fails the start (the message is the one it left with fa_err_set); an app
 * without per-thread state leaves thread_init NULL. NULL with a message on
 * any error, with nothing left running. */
fa_server *fa_server_start(const fa_server_config *c, const fa_api_callbacks *cb) {
    if (config_check(c)) return NULL;
    if (!cb || !cb->handle) {
        fa_err_set(FA_EINVAL, "server: callbacks: 'handle' is required");
        return NULL;
    }
    fa_server *s = fa_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cfg = *c;
    snprintf(s->host, sizeof s->host, "%s", c->host ? c->host : "127.0.0.1");
    s->cfg.host = s->host;
    s->cb = *cb;
    s->nloops = c->loops ? c->loops : cpu_count();
    atomic_init(&s->nconns, 0);
    atomic_init(&s->stopping, 0);
    atomic_init(&s->next_id, 1);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->loops = fa_calloc((size_t)s->nloops, sizeof *s->loops);
    if (!s->loops) {
        server_free(s);
        return NULL;
    }
    for (int i = 0; i < s->nloops; i++) {
        s->loops[i].index = i;
        s->loops[i].listen_fd = s->loops[i].epfd = s->loops[i].stop_fd = -1;
    }
    int rc = 0;
    if (c->tls_cert && !(s->tls = fa_tls_ctx_new(c->tls_cert, c->tls_key))) rc = fa_err_code();
    if (s->tls) fa_tls_ctx_set_http2(s->tls, c->http2);
    if (!rc) rc = server_listen(s);
    for (int i = 0; !rc && i < s->nloops; i++) rc = loop_prepare(s, &s->loops[i]);
    if (!rc) rc = server_spawn(s);
    if (rc) {
        server_free(s);
        return NULL;
    }
    return s;
}

/* The port the listeners are bound to (the one chosen when c->port was 0). */
int fa_server_port(const fa_server *s) { return s->port; }

int fa_server_connections(fa_server *s) { return atomic_load_explicit(&s->nconns, memory_order_relaxed); }

/* Async-signal-safe (an atomic store and write(2)s, errno preserved), may be
 * called more than once and from any thread, e.g. a SIGTERM handler. */
void fa_server_stop(fa_server *s) {
    int saved = errno;
    atomic_store(&s->stopping, 1);
    for (int i = 0; i < s->nloops; i++) {
        uint64_t one = 1;
        if (s->loops[i].stop_fd >= 0) {
            ssize_t w = write(s->loops[i].stop_fd, &one, sizeof one);
            (void)w;
        }
    }
    errno = saved;
}

/* Joins the loops - it returns only after fa_server_stop, and within
 * drain_timeout_s of it - then frees s. NULL is a no-op. */
void fa_server_wait_free(fa_server *s) {
    if (!s) return;
    server_join(s);
    server_free(s);
}
