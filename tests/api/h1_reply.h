/*
 * h1_reply.h - reading HTTP/1.1 responses in the API tests: one response
 * (head, and a Content-Length body unless the request was HEAD) taken off
 * a connection's receive buffer, whatever carries the bytes (a plain
 * socket in test_server.c, plain or TLS in test_server_h2.c). Header-only,
 * static functions: each test program includes it once.
 */
#ifndef FA_TEST_H1_REPLY_H
#define FA_TEST_H1_REPLY_H

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

typedef struct reply {
    int status;
    char head[4096];
    char body[1 << 16];
    size_t body_len;
} reply;

/* A connection's receive side: buf holds len unread bytes; fill appends
 * more and returns what recv(2) would (> 0 bytes read, 0 EOF, < 0 error or
 * timeout). */
typedef struct h1_in {
    char *buf;
    size_t cap, *len;
    ssize_t (*fill)(void *io, void *p, size_t n);
    void *io;
} h1_in;

/* The value of header name in a response head (after "name: "), or NULL. */
static inline const char *header_in(const char *head, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') return p + 2 + n + 2;
    return NULL;
}

static inline int h1_in_fill(const h1_in *in) {
    if (*in->len == in->cap) return -1;
    ssize_t n = in->fill(in->io, in->buf + *in->len, in->cap - *in->len);
    if (n > 0) *in->len += (size_t)n;
    return (int)n;
}

/* Reads one response into r (head_only for HEAD requests), leaving what
 * follows it in the buffer. 0, or -1 when the connection ended or timed
 * out first. */
static inline int h1_read_reply(const h1_in *in, reply *r, int head_only) {
    char *end;
    while (!(end = memmem(in->buf, *in->len, "\r\n\r\n", 4)))
        if (h1_in_fill(in) <= 0) return -1;
    size_t hl = (size_t)(end + 4 - in->buf);
    assert_true(hl < sizeof r->head);
    memcpy(r->head, in->buf, hl);
    r->head[hl] = '\0';
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
    const char *cl = header_in(r->head, "Content-Length");
    size_t n = cl && !head_only ? strtoul(cl, NULL, 10) : 0;
    assert_true(n < sizeof r->body);
    while (*in->len < hl + n)
        if (h1_in_fill(in) <= 0) return -1;
    memcpy(r->body, in->buf + hl, n);
    r->body[n] = '\0';
    r->body_len = n;
    memmove(in->buf, in->buf + hl + n, *in->len - hl - n);
    *in->len -= hl + n;
    return 0;
}

#endif
