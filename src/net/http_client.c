/*
 * http_client.c - a small blocking HTTP/1.1 POST client with one deadline.
 *
 * What it is for: the webhook sender (alert notifications) and tools that
 * need to POST a JSON document somewhere and learn the status. It is not a
 * general client: one request per connection ("Connection: close"), no
 * redirects, no TLS, no keep-alive pool, the response body is read and
 * dropped. That keeps it small enough to get the failure handling right,
 * which is what matters for a sender that must never hang:
 *
 *   - One deadline covers connect, send and receive (see deadline.c): each
 *     step waits in poll(2) with the time that is left, never with its own
 *     fresh timeout. Sockets are non-blocking from the start, including the
 *     connect (EINPROGRESS, then poll for writability and SO_ERROR).
 *   - An optional cancel fd joins every poll, so the owner of a sender
 *     thread can stop it at once when the endpoint hangs.
 *   - MSG_NOSIGNAL: a peer that closes early yields EPIPE, not a SIGPIPE
 *     that kills the process.
 *   - The status line is parsed strictly ("HTTP/1.x" SP 3DIGIT, then SP or
 *     the end of the line, code 100-599); anything else is FA_EIO "bad
 *     status line", quoted (sanitised) so the operator can see what
 *     answered. Interim 1xx responses are skipped (RFC 9110 section 15.2).
 *   - After the status, the rest is drained so the server sees an orderly
 *     close rather than a reset: up to Content-Length when the headers give
 *     one (and none for 204/304), else to EOF; never past the deadline or
 *     DRAIN_MAX bytes. The status is returned whatever the drain meets.
 *
 * Limit: name resolution (getaddrinfo) blocks for the resolver's own
 * timeout, not the deadline; numeric hosts and /etc/hosts names do not
 * touch the network. Error messages name the host and port, never the
 * path (webhook paths often hold a secret token).
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/net.h"

#define HEAD_MAX 16384          /* status line + headers we look at */
#define DRAIN_MAX (1u << 20)    /* body bytes read before giving up on EOF */
#define MAX_INTERIM 8           /* 1xx responses skipped before a final one */

typedef struct call {
    const fa_url *url;
    fa_deadline d;
    int cancel_fd;
    int fd;
    char where[320]; /* "http: POST host:port" */
} call;

/* ---------------------------------------------------------------- waiting */

/* Waits until fd is ready for `events`; FA_ETIMEDOUT on the deadline or a
 * cancel, FA_EIO when poll fails. */
static int wait_ready(call *c, short events, const char *doing) {
    for (;;) {
        struct pollfd p[2] = {{.fd = c->fd, .events = events}, {.fd = c->cancel_fd, .events = POLLIN}};
        int n = poll(p, c->cancel_fd >= 0 ? 2 : 1, fa_deadline_left_ms(c->d));
        if (n < 0 && errno != EINTR) return fa_err_set(FA_EIO, "%s: poll: %s", c->where, strerror(errno));
        if (n > 0 && c->cancel_fd >= 0 && p[1].revents)
            return fa_err_set(FA_ETIMEDOUT, "%s: cancelled", c->where);
        if (n > 0 && p[0].revents) return 0; /* errors and hang-ups surface in the next call */
        if (fa_deadline_passed(c->d))
            return fa_err_set(FA_ETIMEDOUT, "%s: deadline passed while %s", c->where, doing);
    }
}

/* ---------------------------------------------------------------- connecting */

/* Starts a non-blocking connect to one address and waits for it: 0 with
 * c->fd connected, 1 with *err the reason to try the next address, or
 * FA_ETIMEDOUT / FA_EIO (deadline, cancel, poll) with c->fd left open. */
static int connect_one(call *c, const struct addrinfo *ai, int *err) {
    c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (c->fd < 0) {
        *err = errno;
        return 1;
    }
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0) return 0;
    if (errno != EINPROGRESS && errno != EINTR) {
        *err = errno;
    } else {
        int rc = wait_ready(c, POLLOUT, "connecting");
        if (rc < 0) return rc;
        socklen_t len = sizeof *err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, err, &len) != 0) *err = errno;
        if (*err == 0) return 0;
    }
    close(c->fd);
    c->fd = -1;
    return 1;
}

/* Tries each address of the host in turn; 0 with c->fd connected or < 0. */
static int connect_any(call *c) {
    char port[16];
    snprintf(port, sizeof port, "%d", c->url->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    int g = getaddrinfo(c->url->host, port, &hints, &list);
    if (g != 0)
        return fa_err_set(FA_EIO, "%s: cannot resolve host: %s", c->where,
                          g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    int rc = 1, err = EHOSTUNREACH;
    for (const struct addrinfo *ai = list; ai && rc == 1; ai = ai->ai_next) rc = connect_one(c, ai, &err);
    freeaddrinfo(list);
    if (rc == 1) return fa_err_set(FA_EIO, "%s: connect: %s", c->where, strerror(err));
    return rc;
}

/* ---------------------------------------------------------------- sending */

static int send_all(call *c, const fa_buf *head, const void *body, size_t len) {
    struct iovec iov[2] = {{.iov_base = head->data, .iov_len = head->len},
                           {.iov_base = (void *)(uintptr_t)body, .iov_len = len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    while (msg.msg_iovlen > 0) {
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return fa_err_set(FA_EIO, "%s: send: %s", c->where, strerror(errno));
            int rc = wait_ready(c, POLLOUT, "sending the request");
            if (rc < 0) return rc;
            continue;
        }
        size_t sent = (size_t)n;
        while (msg.msg_iovlen > 0 && sent >= msg.msg_iov[0].iov_len) {
            sent -= msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + sent;
            msg.msg_iov[0].iov_len -= sent;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- receiving */

/* Reads what is available into buf[0..cap); returns bytes (0 at EOF) or < 0. */
static ssize_t recv_some(call *c, char *buf, size_t cap, const char *doing) {
    for (;;) {
        ssize_t n = recv(c->fd, buf, cap, 0);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return fa_err_set(FA_EIO, "%s: receive: %s", c->where, strerror(errno));
        int rc = wait_ready(c, POLLIN, doing);
        if (rc < 0) return rc;
    }
}

/* The first 40 bytes of a line with non-printable bytes as '?', for messages. */
static void quote_line(const char *s, size_t n, char out[48]) {
    size_t k = 0;
    for (; k < n && k < 40 && s[k] != '\r' && s[k] != '\n'; k++)
        out[k] = s[k] >= 0x20 && s[k] < 0x7f ? s[k] : '?';
    out[k] = '\0';
}

/* Parses a status line in buf[0..n) ending at '\n': 100-599 or FA_EIO. */
static int parse_status_line(call *c, const char *buf, size_t n) {
    int ok = n >= 13 && memcmp(buf, "HTTP/1.", 7) == 0 && (buf[7] == '0' || buf[7] == '1') && buf[8] == ' ';
    for (int i = 9; ok && i < 12; i++) ok = buf[i] >= '0' && buf[i] <= '9';
    ok = ok && (buf[12] == ' ' || buf[12] == '\r' || buf[12] == '\n');
    int code = ok ? (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0') : 0;
    if (ok && code >= 100 && code <= 599) return code;
    char q[48];
    quote_line(buf, n, q);
    return fa_err_set(FA_EIO, "%s: bad status line \"%s\"", c->where, q);
}

/* Offset just past the blank line ending the header block, or 0. */
static size_t header_end(const char *buf, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (buf[i] != '\n') continue;
        if (buf[i + 1] == '\n') return i + 2;
        if (i + 2 < n && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
    }
    return 0;
}

/* Content-Length from a header block, or -1 when absent or unreadable. */
static long long content_length(const char *buf, size_t n) {
    const char *name = "\ncontent-length:";
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl <= n; i++) {
        if (strncasecmp(buf + i, name, nl) != 0) continue;
        size_t j = i + nl;
        while (j < n && (buf[j] == ' ' || buf[j] == '\t')) j++;
        long long v = 0;
        size_t digits = 0;
        for (; j < n && buf[j] >= '0' && buf[j] <= '9' && digits < 18; j++, digits++)
            v = v * 10 + (buf[j] - '0');
        return digits ? v : -1;
    }
    return -1;
}

typedef struct response {
    char buf[HEAD_MAX];
    size_t have;
    int status;
} response;

/* Reads until buf holds a full line; 0, or < 0 (EOF, overlong, error). */
static int read_line(call *c, response *r) {
    while (!memchr(r->buf, '\n', r->have)) {
        if (r->have == sizeof r->buf) return fa_err_set(FA_EIO, "%s: status line too long", c->where);
        ssize_t n = recv_some(c, r->buf + r->have, sizeof r->buf - r->have, "waiting for the response");
        if (n < 0) return (int)n;
        if (n == 0) {
            if (r->have == 0) return fa_err_set(FA_EIO, "%s: connection closed before a response", c->where);
            char q[48];
            quote_line(r->buf, r->have, q);
            return fa_err_set(FA_EIO, "%s: connection closed inside the status line \"%s\"", c->where, q);
        }
        r->have += (size_t)n;
    }
    return 0;
}

/* Drops one interim (1xx) response head from the buffer; 0 or FA_EIO. */
static int skip_interim(call *c, response *r) {
    size_t end;
    while ((end = header_end(r->buf, r->have)) == 0) {
        if (r->have == sizeof r->buf) return fa_err_set(FA_EIO, "%s: interim response too long", c->where);
        ssize_t n = recv_some(c, r->buf + r->have, sizeof r->buf - r->have, "waiting for the response");
        if (n <= 0) return n < 0 ? (int)n : fa_err_set(FA_EIO, "%s: connection closed after 1xx", c->where);
        r->have += (size_t)n;
    }
    memmove(r->buf, r->buf + end, r->have - end);
    r->have -= end;
    return 0;
}

/* The final status; 100-599 or < 0. */
static int read_status(call *c, response *r) {
    for (int interim = 0;; interim++) {
        int rc = read_line(c, r);
        if (rc < 0) return rc;
        int status = parse_status_line(c, r->buf, r->have);
        if (status < 0 || status >= 200) return status;
        if (status == 101 || interim == MAX_INTERIM)
            return fa_err_set(FA_EIO, "%s: unexpected interim response %d", c->where, status);
        rc = skip_interim(c, r);
        if (rc < 0) return rc;
    }
}

/* Best effort: reads the rest of the response; errors are ignored. */
static void drain(call *c, response *r) {
    size_t end = 0;
    while ((end = header_end(r->buf, r->have)) == 0 && r->have < sizeof r->buf) {
        ssize_t n = recv_some(c, r->buf + r->have, sizeof r->buf - r->have, "draining the response");
        if (n <= 0) return;
        r->have += (size_t)n;
    }
    long long left = -1; /* -1: until EOF */
    if (end) {
        left = r->status == 204 || r->status == 304 ? 0 : content_length(r->buf, end);
        if (left >= 0) left -= (long long)(r->have - end);
    }
    size_t total = 0;
    while (left != 0 && total < DRAIN_MAX) {
        ssize_t n = recv_some(c, r->buf, sizeof r->buf, "draining the response");
        if (n <= 0) return;
        total += (size_t)n;
        if (left > 0) left = left > n ? left - n : 0;
    }
}

/* ---------------------------------------------------------------- the request */

static int check_request(const fa_url *url, const char *ctype, const void *body, size_t len) {
    if (!url || !url->host[0] || url->port < 1 || url->port > 65535 || url->path[0] != '/')
        return fa_err_set(FA_EINVAL, "http: bad URL (parse it with fa_url_parse)");
    for (const char *p = url->host; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '/')
            return fa_err_set(FA_EINVAL, "http: bad URL: host holds a control character or space");
    for (const char *p = url->path; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return fa_err_set(FA_EINVAL, "http: bad URL: path holds a control character or space");
    for (const char *p = ctype ? ctype : ""; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return fa_err_set(FA_EINVAL, "http: content type holds a control character");
    if (!body && len > 0) return fa_err_set(FA_EINVAL, "http: body is NULL but its length is %zu", len);
    return 0;
}

/* "host:port" as it goes in the Host header (brackets for IPv6). */
static void host_port(const fa_url *url, char *out, size_t size, int always_port) {
    int v6 = strchr(url->host, ':') != NULL;
    if (url->port == 80 && !always_port) {
        snprintf(out, size, v6 ? "[%s]" : "%s", url->host);
    } else {
        snprintf(out, size, v6 ? "[%s]:%d" : "%s:%d", url->host, url->port);
    }
}

static int build_head(fa_buf *head, const fa_url *url, const char *ctype, size_t len) {
    char host[300];
    host_port(url, host, sizeof host, 0);
    int rc = fa_buf_printf(head,
                           "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: footanalytics/%s\r\n"
                           "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                           url->path, host, FA_VERSION, ctype ? ctype : "application/octet-stream", len);
    return rc < 0 ? fa_err_set(FA_ENOMEM, "http: out of memory building the request") : 0;
}

static int exchange(call *c, const fa_buf *head, const void *body, size_t len) {
    if (fa_deadline_passed(c->d))
        return fa_err_set(FA_ETIMEDOUT, "%s: deadline passed before connecting", c->where);
    int rc = connect_any(c);
    if (rc < 0) return rc;
    rc = send_all(c, head, body, len);
    if (rc < 0) return rc;
    response *r = fa_malloc(sizeof *r);
    if (!r) return FA_ENOMEM;
    r->have = 0;
    r->status = read_status(c, r);
    int status = r->status;
    if (status >= 100) drain(c, r);
    free(r);
    return status;
}

int fa_http_post_cancellable(const fa_url *url, const char *ctype, const void *body, size_t len,
                             fa_deadline d, int cancel_fd) {
    int rc = check_request(url, ctype, body, len);
    if (rc < 0) return rc;
    call c = {.url = url, .d = d, .cancel_fd = cancel_fd, .fd = -1};
    char host[300];
    host_port(url, host, sizeof host, 1);
    snprintf(c.where, sizeof c.where, "http: POST %s", host);
    fa_buf head = {0};
    rc = build_head(&head, url, ctype, len);
    if (rc == 0) rc = exchange(&c, &head, body, len);
    if (c.fd >= 0) close(c.fd);
    fa_buf_free(&head);
    return rc;
}

int fa_http_post(const fa_url *url, const char *ctype, const void *body, size_t len, fa_deadline d) {
    return fa_http_post_cancellable(url, ctype, body, len, d, -1);
}
