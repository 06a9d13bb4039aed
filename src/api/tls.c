/*
 * tls.c - TLS for the server's connections over OpenSSL 3 (see tls.h for the
 * face, the settings and the result codes).
 *
 * Why these choices:
 *   - OpenSSL does the socket I/O itself, through a small BIO of ours rather
 *     than its socket BIO, because the socket BIO writes with write(2),
 *     which raises SIGPIPE when the peer has gone; ours uses send(2) with
 *     MSG_NOSIGNAL, like the plain-text path, and leaves the process's
 *     signal disposition alone. It also never closes the descriptor: the
 *     event loop owns it.
 *   - Partial writes and moving write buffers are allowed, so a write
 *     behaves like send(2) on a queue of segments: it reports what went
 *     out, and a retry after WANT_WRITE may come from a different address
 *     holding the same bytes (the queue may have been compacted).
 *   - fa_tls_writev coalesces small pieces into one record on the stack
 *     (no per-connection staging buffer: with moving buffers allowed, a
 *     retry re-coalesces the same front bytes, at least as many). Records
 *     of 16 KiB amortise the per-record overhead (header, tag, a syscall)
 *     for bodies; a response head travels in the same record as the start
 *     of its body.
 *   - Buffers are released while a connection is idle
 *     (SSL_MODE_RELEASE_BUFFERS): about 34 KiB per idle keep-alive
 *     connection, which matters at 10 000 connections.
 *   - read-ahead lets one recv(2) bring several records; that is why a
 *     short read does not mean a drained socket (tls.h).
 *   - An end of input without close_notify is a plain close
 *     (SSL_OP_IGNORE_UNEXPECTED_EOF): HTTP frames its messages itself, and
 *     most clients just close.
 * OpenSSL's error queue is per thread; every call clears it first and
 * drains it into the message on failure, so no stale error leaks into the
 * next connection on the same loop.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/tls.h"
#include "core/core.h"

#define RECORD_MAX 16384
#define TLS12_CIPHERS                                                                                        \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"               \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct fa_tls_ctx {
    SSL_CTX *ssl;
    BIO_METHOD *bio; /* the socket BIO without SIGPIPE */
    atomic_int no_h2; /* ALPN offers only http/1.1 */
};

struct fa_tls_conn {
    SSL *ssl;
    int fd;
    unsigned broken : 1;    /* a fatal error happened: no close_notify may follow */
    unsigned shut_done : 1; /* our close_notify is out */
};

/* ---------------------------------------------------------------- errors */

/* The reason of the oldest error on OpenSSL's queue, which is emptied. */
static const char *ssl_reason(char *buf, size_t size, unsigned long *code) {
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (r)
        snprintf(buf, size, "%s", r);
    else if (e)
        ERR_error_string_n(e, buf, size);
    else
        snprintf(buf, size, "unknown error");
    ERR_clear_error();
    if (code) *code = e;
    return buf;
}

/* Maps a failed SSL call (rc its return value, sys_errno the errno it
 * left) to a result code. */
static int tls_fail(fa_tls_conn *c, int rc, int sys_errno, const char *op) {
    char why[256];
    unsigned long e = 0;
    switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ: return FA_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return FA_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return FA_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        c->broken = 1;
        if (ERR_peek_error() == 0) {
            if (sys_errno == 0) return FA_TLS_CLOSED; /* end of input */
            return fa_err_set(FA_EIO, "tls: %s: %s", op, strerror(sys_errno));
        }
        break;
    default: c->broken = 1; break;
    }
    ssl_reason(why, sizeof why, &e);
    if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST)
        return fa_err_set(FA_EIO, "tls: %s: the client spoke plain HTTP to the TLS port", op);
    return fa_err_set(FA_EIO, "tls: %s: %s", op, why);
}

/* ---------------------------------------------------------------- the socket BIO */

static int bio_write(BIO *b, const char *data, int len) {
    const int *fd = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = send(*fd, data, (size_t)len, MSG_NOSIGNAL);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
        return -1;
    }
}

static int bio_read(BIO *b, char *buf, int len) {
    const int *fd = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = recv(*fd, buf, (size_t)len, 0);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
        return -1;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)num;
    const int *fd = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1; /* nothing is buffered here */
    case BIO_C_GET_FD:
        if (ptr) *(int *)ptr = fd ? *fd : -1;
        return fd ? *fd : -1;
    default: return 0;
    }
}

static BIO_METHOD *bio_method_new(void) {
    int type = BIO_get_new_index();
    BIO_METHOD *m = type > 0 ? BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "fa socket") : NULL;
    if (!m) return NULL;
    if (BIO_meth_set_write(m, bio_write) != 1 || BIO_meth_set_read(m, bio_read) != 1 ||
        BIO_meth_set_ctrl(m, bio_ctrl) != 1) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ---------------------------------------------------------------- context */

/* ALPN: the server's preference, "h2" then "http/1.1" (only "http/1.1"
 * when HTTP/2 is off: agreeing on h2 and then speaking HTTP/1.1 would break
 * every client that offers both); neither offered means no ALPN (the
 * client speaks HTTP/1.1). arg: the context. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
    (void)ssl;
    static const unsigned char both[] = "\x02h2\x08http/1.1";
    const unsigned char *ours = both;
    unsigned ours_len = sizeof both - 1;
    if (atomic_load(&((fa_tls_ctx *)arg)->no_h2)) ours += 3, ours_len -= 3;
    unsigned char *chosen = NULL;
    if (inlen == 0 ||
        SSL_select_next_proto(&chosen, outlen, ours, ours_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

static int configure(SSL_CTX *ctx, fa_tls_ctx *owner) {
    static const unsigned char sid_ctx[] = "footanalytics";
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, owner);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1) != 1)
        return -1;
    return 0;
}

/* Certificate chain and key, each named in its failure. */
static int load_identity(SSL_CTX *ctx, const char *cert_file, const char *key_file) {
    char why[256];
    unsigned long e = 0;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
        return fa_err_set(FA_EINVAL, "tls: certificate %s: not a PEM certificate chain (%s)", cert_file,
                          ssl_reason(why, sizeof why, NULL));
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        ssl_reason(why, sizeof why, &e);
        int reason = ERR_GET_REASON(e);
        if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
            (reason == X509_R_KEY_VALUES_MISMATCH || reason == X509_R_KEY_TYPE_MISMATCH))
            return fa_err_set(FA_EINVAL, "tls: key %s does not match certificate %s (%s)", key_file,
                              cert_file, why);
        return fa_err_set(FA_EINVAL, "tls: key %s: not a PEM private key (%s)", key_file, why);
    }
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fa_err_set(FA_EINVAL, "tls: key %s does not match certificate %s (%s)", key_file, cert_file,
                          ssl_reason(why, sizeof why, NULL));
    return 0;
}

fa_tls_ctx *fa_tls_ctx_new(const char *cert_file, const char *key_file) {
    if (!cert_file || !cert_file[0] || !key_file || !key_file[0]) {
        fa_err_set(FA_EINVAL, "tls: both a certificate file and a key file are needed");
        return NULL;
    }
    if (fa_file_check(cert_file)) {
        fa_err_prefix("tls: certificate");
        return NULL;
    }
    if (fa_file_check(key_file)) {
        fa_err_prefix("tls: key");
        return NULL;
    }
    fa_tls_ctx *t = fa_calloc(1, sizeof *t);
    if (!t) return NULL;
    ERR_clear_error();
    t->ssl = SSL_CTX_new(TLS_server_method());
    t->bio = bio_method_new();
    int rc = !t->ssl || !t->bio || configure(t->ssl, t) ? fa_err_set(FA_ENOMEM, "tls: cannot set up OpenSSL")
                                                     : load_identity(t->ssl, cert_file, key_file);
    if (rc) {
        ERR_clear_error();
        fa_tls_ctx_free(t);
        return NULL;
    }
    return t;
}

void fa_tls_ctx_free(fa_tls_ctx *ctx) {
    if (!ctx) return;
    SSL_CTX_free(ctx->ssl);
    BIO_meth_free(ctx->bio);
    free(ctx);
}

/* ---------------------------------------------------------------- connections */

fa_tls_conn *fa_tls_accept(fa_tls_ctx *ctx, int fd) {
    fa_tls_conn *c = fa_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = fd;
    ERR_clear_error();
    c->ssl = SSL_new(ctx->ssl);
    BIO *bio = c->ssl ? BIO_new(ctx->bio) : NULL;
    if (!bio) {
        ERR_clear_error();
        SSL_free(c->ssl);
        free(c);
        fa_err_set(FA_ENOMEM, "tls: cannot create a connection");
        return NULL;
    }
    BIO_set_data(bio, &c->fd);
    BIO_set_init(bio, 1);
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_accept_state(c->ssl);
    return c;
}

int fa_tls_handshake(fa_tls_conn *c) {
    if (c->broken) return fa_err_set(FA_EIO, "tls: handshake: the connection already failed");
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(c->ssl);
    return rc == 1 ? 0 : tls_fail(c, rc, errno, "handshake");
}

ssize_t fa_tls_read(fa_tls_conn *c, void *buf, size_t n) {
    size_t got = 0;
    if (c->broken) return fa_err_set(FA_EIO, "tls: read: the connection already failed");
    ERR_clear_error();
    errno = 0;
    if (SSL_read_ex(c->ssl, buf, n, &got) == 1) return (ssize_t)got;
    return tls_fail(c, 0, errno, "read");
}

ssize_t fa_tls_write(fa_tls_conn *c, const void *buf, size_t n) {
    size_t done = 0;
    if (c->broken) return fa_err_set(FA_EIO, "tls: write: the connection already failed");
    if (n == 0) return 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(c->ssl, buf, n, &done) == 1) return (ssize_t)done;
    return tls_fail(c, 0, errno, "write");
}

ssize_t fa_tls_writev(fa_tls_conn *c, const struct iovec *iov, int iovcnt) {
    int i = 0;
    while (i < iovcnt && iov[i].iov_len == 0) i++;
    if (i == iovcnt) return 0;
    if (iov[i].iov_len >= RECORD_MAX || i + 1 == iovcnt)
        return fa_tls_write(c, iov[i].iov_base, iov[i].iov_len);
    char record[RECORD_MAX];
    size_t n = 0;
    for (; i < iovcnt && n < RECORD_MAX; i++) {
        size_t k = iov[i].iov_len < RECORD_MAX - n ? iov[i].iov_len : RECORD_MAX - n;
        memcpy(record + n, iov[i].iov_base, k);
        n += k;
    }
    return fa_tls_write(c, record, n);
}

int fa_tls_pending(const fa_tls_conn *c) { return SSL_pending(c->ssl) > 0 || SSL_has_pending(c->ssl); }

const char *fa_tls_alpn(const fa_tls_conn *c) {
    const unsigned char *p = NULL;
    unsigned int n = 0;
    if (!SSL_is_init_finished(c->ssl)) return NULL;
    SSL_get0_alpn_selected(c->ssl, &p, &n);
    if (n == 2 && memcmp(p, "h2", 2) == 0) return "h2";
    if (n == 8 && memcmp(p, "http/1.1", 8) == 0) return "http/1.1";
    return NULL;
}

const char *fa_tls_version(const fa_tls_conn *c) { return SSL_get_version(c->ssl); }

int fa_tls_shutdown(fa_tls_conn *c) {
    if (c->broken || !SSL_is_init_finished(c->ssl)) return 0;
    if (c->shut_done) return 0; /* calling again would wait for the peer's close_notify */
    ERR_clear_error();
    errno = 0;
    int rc = SSL_shutdown(c->ssl); /* after WANT_WRITE, this flushes the pending alert */
    if (rc >= 0) {                 /* 0: sent, the peer's not awaited; 1: both done */
        c->shut_done = 1;
        return 0;
    }
    rc = tls_fail(c, rc, errno, "shutdown");
    return rc == FA_TLS_CLOSED ? 0 : rc;
}

void fa_tls_conn_free(fa_tls_conn *c) {
    if (!c) return;
    SSL_free(c->ssl);
    ERR_clear_error();
    free(c);
}

void fa_tls_ctx_set_http2(fa_tls_ctx *ctx, int on) { atomic_store(&ctx->no_h2, !on); }
