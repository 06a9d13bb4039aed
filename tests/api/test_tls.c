/*
 * test_tls.c - the TLS transport of src/api/tls.c against an OpenSSL
 * client, over a non-blocking socketpair (no network): certificates are
 * made at test time with the OpenSSL API into a temporary directory (an EC
 * P-256 and an RSA 2048 self-signed certificate, and a stray key).
 *
 * Covered: the handshake through WANT_READ / WANT_WRITE on both sides;
 * ALPN (h2 preferred, http/1.1, none); TLS 1.3 and TLS 1.2 with an RSA
 * certificate; 64 KiB each way through fa_tls_read and fa_tls_writev;
 * session resumption with a ticket; close_notify and a bare close as
 * FA_TLS_CLOSED; a write to a vanished peer as FA_EIO without SIGPIPE;
 * every certificate and key loading error with its file in the message;
 * a client speaking plain HTTP to the TLS port.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/tls.h"
#include "core/core.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;
    char ec_cert[512], ec_key[512], rsa_cert[512], rsa_key[512], stray_key[512], junk[512];
    fa_tls_ctx *ec, *rsa;
    SSL_CTX *client;
} fixture;

/* ---------------------------------------------------------------- certificates */

static void write_key(const char *path, EVP_PKEY *key) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

/* A self-signed certificate for localhost over key, valid for an hour. */
static void write_cert(const char *path, EVP_PKEY *key) {
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
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
}

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = fa_test_tmpdir();
    snprintf(fx->ec_cert, sizeof fx->ec_cert, "%s/ec.crt", fx->dir);
    snprintf(fx->ec_key, sizeof fx->ec_key, "%s/ec.key", fx->dir);
    snprintf(fx->rsa_cert, sizeof fx->rsa_cert, "%s/rsa.crt", fx->dir);
    snprintf(fx->rsa_key, sizeof fx->rsa_key, "%s/rsa.key", fx->dir);
    snprintf(fx->stray_key, sizeof fx->stray_key, "%s/stray.key", fx->dir);
    snprintf(fx->junk, sizeof fx->junk, "%s/junk.pem", fx->dir);
    EVP_PKEY *ec = EVP_EC_gen("P-256"), *stray = EVP_EC_gen("P-256"), *rsa = EVP_RSA_gen(2048);
    if (!ec || !stray || !rsa) return -1;
    write_cert(fx->ec_cert, ec);
    write_key(fx->ec_key, ec);
    write_cert(fx->rsa_cert, rsa);
    write_key(fx->rsa_key, rsa);
    write_key(fx->stray_key, stray);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(stray);
    EVP_PKEY_free(rsa);
    static const char junk[] = "-----BEGIN CERTIFICATE-----\nnot base64!\n";
    free(fa_test_write_file(fx->dir, "junk.pem", junk, sizeof junk - 1));
    fx->ec = fa_tls_ctx_new(fx->ec_cert, fx->ec_key);
    fx->rsa = fa_tls_ctx_new(fx->rsa_cert, fx->rsa_key);
    fx->client = SSL_CTX_new(TLS_client_method());
    if (!fx->ec || !fx->rsa || !fx->client) return -1;
    SSL_CTX_set_verify(fx->client, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(fx->client, SSL_SESS_CACHE_CLIENT);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    fa_tls_ctx_free(fx->ec);
    fa_tls_ctx_free(fx->rsa);
    SSL_CTX_free(fx->client);
    fa_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* ---------------------------------------------------------------- a connection */

typedef struct pair {
    int sfd, cfd;
    fa_tls_conn *server;
    SSL *client;
} pair;

/* A non-blocking socketpair with the server on one end and an OpenSSL
 * client offering alpn (wire format, NULL: no ALPN) on the other. */
static void pair_open(pair *p, fa_tls_ctx *ctx, SSL_CTX *cctx, const char *alpn, size_t alpn_len) {
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    p->sfd = fds[0];
    p->cfd = fds[1];
    p->server = fa_tls_accept(ctx, p->sfd);
    assert_non_null(p->server);
    p->client = SSL_new(cctx);
    assert_non_null(p->client);
    SSL_set_fd(p->client, p->cfd);
    SSL_set_connect_state(p->client);
    SSL_set_tlsext_host_name(p->client, "localhost");
    if (alpn)
        assert_int_equal(SSL_set_alpn_protos(p->client, (const unsigned char *)alpn, (unsigned)alpn_len), 0);
}

static void pair_close(pair *p) {
    fa_tls_conn_free(p->server);
    if (p->cfd >= 0) SSL_shutdown(p->client); /* else OpenSSL forgets the session */
    SSL_free(p->client);
    close(p->sfd);
    if (p->cfd >= 0) close(p->cfd);
}

static int client_wants(SSL *ssl, int rc) {
    int e = SSL_get_error(ssl, rc);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* Runs both handshakes to the end; each side must only ever ask to wait. */
static void handshake(pair *p) {
    int sdone = 0, cdone = 0, waits = 0;
    for (int i = 0; i < 100 && !(sdone && cdone); i++) {
        if (!sdone) {
            int r = fa_tls_handshake(p->server);
            if (r == 0)
                sdone = 1;
            else {
                assert_true(r == FA_TLS_WANT_READ || r == FA_TLS_WANT_WRITE);
                waits++;
            }
        }
        if (!cdone) {
            int r = SSL_do_handshake(p->client);
            if (r == 1)
                cdone = 1;
            else
                assert_true(client_wants(p->client, r));
        }
    }
    assert_true(sdone && cdone);
    assert_true(waits >= 1); /* non-blocking: the server had to wait for the client at least once */
    assert_int_equal(fa_tls_handshake(p->server), 0); /* idempotent once done */
}

/* ---------------------------------------------------------------- tests */

static void test_alpn_h2_tls13(void **state) {
    fixture *fx = *state;
    pair p;
    pair_open(&p, fx->ec, fx->client, "\x08http/1.1\x02h2", 12);
    assert_null(fa_tls_alpn(p.server)); /* not before the handshake */
    handshake(&p);
    assert_string_equal(fa_tls_alpn(p.server), "h2"); /* the server's preference wins */
    const unsigned char *sel;
    unsigned n;
    SSL_get0_alpn_selected(p.client, &sel, &n);
    assert_int_equal(n, 2);
    assert_memory_equal(sel, "h2", 2);
    assert_string_equal(fa_tls_version(p.server), "TLSv1.3");
    pair_close(&p);
}

static void test_alpn_choices(void **state) {
    fixture *fx = *state;
    static const struct {
        const char *offer;
        size_t len;
        const char *want;
    } cases[] = {
        {"\x08http/1.1", 9, "http/1.1"},
        {"\x02h2", 3, "h2"},
        {NULL, 0, NULL},
        {"\x06spdy/3\x08http/1.0", 16, NULL}, /* nothing in common: no ALPN, still a handshake */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pair p;
        pair_open(&p, fx->ec, fx->client, cases[i].offer, cases[i].len);
        handshake(&p);
        if (cases[i].want)
            assert_string_equal(fa_tls_alpn(p.server), cases[i].want);
        else
            assert_null(fa_tls_alpn(p.server));
        pair_close(&p);
    }
}

static void test_tls12_rsa(void **state) {
    fixture *fx = *state;
    SSL_CTX *c12 = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c12, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_max_proto_version(c12, TLS1_2_VERSION);
    pair p;
    pair_open(&p, fx->rsa, c12, "\x02h2\x08http/1.1", 12);
    handshake(&p);
    assert_string_equal(fa_tls_version(p.server), "TLSv1.2");
    assert_string_equal(fa_tls_alpn(p.server), "h2");
    const char *cipher = SSL_get_cipher_name(p.client);
    assert_non_null(strstr(cipher, "ECDHE-RSA-"));
    assert_true(strstr(cipher, "GCM") || strstr(cipher, "CHACHA20"));
    pair_close(&p);
    /* a client that only knows TLS 1.1 is turned away */
    SSL_CTX_set_min_proto_version(c12, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(c12, TLS1_1_VERSION);
    SSL_CTX_set_cipher_list(c12, "DEFAULT:@SECLEVEL=0");
    pair_open(&p, fx->rsa, c12, NULL, 0);
    assert_true(SSL_do_handshake(p.client) <= 0);
    char hello[8];
    assert_true(recv(p.sfd, hello, sizeof hello, MSG_PEEK) > 0); /* the old ClientHello is there */
    int r = 0;
    for (int i = 0; i < 20; i++) {
        r = fa_tls_handshake(p.server);
        if (r != FA_TLS_WANT_READ && r != FA_TLS_WANT_WRITE) break;
        SSL_do_handshake(p.client);
    }
    assert_int_equal(r, FA_EIO);
    assert_non_null(strstr(fa_err_msg(), "tls: handshake: "));
    pair_close(&p);
    SSL_CTX_free(c12);
    ERR_clear_error();
}

static char *pattern(size_t n, unsigned seed) {
    char *b = malloc(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (char)(seed >> 16);
    }
    return b;
}

/* Moves want bytes server -> client through fa_tls_writev (a small head
 * and a large body, as the server's output queue) and client -> server
 * through fa_tls_read, interleaved, both sides non-blocking. */
static void exchange(pair *p, const char *down, const char *up, size_t want) {
    char *got_down = malloc(want), *got_up = malloc(want), buf[5000];
    size_t sent_down = 0, recv_down = 0, sent_up = 0, recv_up = 0;
    for (int round = 0; round < 100000 && (recv_down < want || recv_up < want); round++) {
        if (sent_down < want) {
            const char *at = down + sent_down;
            size_t left = want - sent_down, a = left < 100 ? left : 100, b = left - a < 7 ? left - a : 7;
            struct iovec iov[3] = {
                {(void *)at, a}, {(void *)(at + a), b}, {(void *)(at + a + b), left - a - b}};
            ssize_t r = fa_tls_writev(p->server, iov, 3);
            if (r > 0)
                sent_down += (size_t)r;
            else
                assert_true(r == FA_TLS_WANT_WRITE || r == FA_TLS_WANT_READ);
        }
        size_t got = 0;
        if (recv_down < want && SSL_read_ex(p->client, got_down + recv_down, want - recv_down, &got) == 1)
            recv_down += got;
        if (sent_up < want &&
            SSL_write_ex(p->client, up + sent_up, want - sent_up < 3000 ? want - sent_up : 3000, &got) == 1)
            sent_up += got;
        for (;;) {
            ssize_t r = fa_tls_read(p->server, buf, sizeof buf);
            if (r <= 0) {
                assert_true(r == FA_TLS_WANT_READ || r == FA_TLS_WANT_WRITE);
                break;
            }
            assert_true(recv_up + (size_t)r <= want);
            memcpy(got_up + recv_up, buf, (size_t)r);
            recv_up += (size_t)r;
        }
        assert_false(fa_tls_pending(p->server)); /* read until WANT_READ leaves nothing inside */
    }
    assert_int_equal(recv_down, want);
    assert_int_equal(recv_up, want);
    assert_memory_equal(got_down, down, want);
    assert_memory_equal(got_up, up, want);
    free(got_down);
    free(got_up);
}

static void test_data_both_ways(void **state) {
    fixture *fx = *state;
    size_t n = 64 * 1024;
    char *down = pattern(n, 1), *up = pattern(n, 2);
    pair p;
    pair_open(&p, fx->ec, fx->client, "\x02h2", 3);
    handshake(&p);
    exchange(&p, down, up, n);
    /* a 1 MiB write through a socket buffer that holds less: partial
     * writes and WANT_WRITE, then the rest, all in order */
    size_t big = 1u << 20;
    char *blob = pattern(big, 3), *got = malloc(big);
    size_t sent = 0, recvd = 0;
    int partial = 0;
    for (int round = 0; round < 100000 && recvd < big; round++) {
        if (sent < big) {
            ssize_t r = fa_tls_write(p.server, blob + sent, big - sent);
            if (r > 0) {
                partial |= (size_t)r < big - sent;
                sent += (size_t)r;
            } else {
                assert_int_equal(r, FA_TLS_WANT_WRITE);
            }
        }
        size_t k = 0;
        while (recvd < big && SSL_read_ex(p.client, got + recvd, big - recvd, &k) == 1) recvd += k;
    }
    assert_int_equal(recvd, big);
    assert_memory_equal(got, blob, big);
    assert_true(partial);
    pair_close(&p);
    free(down);
    free(up);
    free(blob);
    free(got);
}

static void test_pending_after_partial_read(void **state) {
    fixture *fx = *state;
    pair p;
    pair_open(&p, fx->ec, fx->client, NULL, 0);
    handshake(&p);
    size_t w = 0;
    assert_int_equal(SSL_write_ex(p.client, "hello, world", 12, &w), 1);
    char buf[16];
    assert_int_equal(fa_tls_read(p.server, buf, 5), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_true(fa_tls_pending(p.server)); /* 7 bytes wait inside OpenSSL, none in the socket */
    assert_int_equal(fa_tls_read(p.server, buf, sizeof buf), 7);
    assert_memory_equal(buf, ", world", 7);
    assert_false(fa_tls_pending(p.server));
    assert_int_equal(fa_tls_read(p.server, buf, sizeof buf), FA_TLS_WANT_READ);
    pair_close(&p);
}

static void test_session_resumption(void **state) {
    fixture *fx = *state;
    pair p;
    pair_open(&p, fx->ec, fx->client, "\x02h2", 3);
    handshake(&p);
    char b[8];
    size_t k;
    /* TLS 1.3 tickets follow the handshake: the client reads to get them */
    assert_int_equal(fa_tls_write(p.server, "x", 1), 1);
    for (int i = 0; i < 10 && SSL_read_ex(p.client, b, 1, &k) != 1; i++) {
    }
    SSL_SESSION *sess = SSL_get1_session(p.client);
    assert_non_null(sess);
    assert_int_equal(SSL_session_reused(p.client), 0);
    pair_close(&p);
    pair_open(&p, fx->ec, fx->client, "\x02h2", 3);
    SSL_set_session(p.client, sess);
    handshake(&p);
    assert_int_equal(SSL_session_reused(p.client), 1);
    assert_string_equal(fa_tls_alpn(p.server), "h2");
    SSL_SESSION_free(sess);
    pair_close(&p);
}

static void test_close_and_vanish(void **state) {
    fixture *fx = *state;
    char buf[64];
    /* close_notify from the client */
    pair p;
    pair_open(&p, fx->ec, fx->client, NULL, 0);
    handshake(&p);
    assert_true(SSL_shutdown(p.client) >= 0);
    assert_int_equal(fa_tls_read(p.server, buf, sizeof buf), FA_TLS_CLOSED);
    assert_int_equal(fa_tls_shutdown(p.server), 0);
    assert_int_equal(fa_tls_shutdown(p.server), 0); /* once only */
    pair_close(&p);
    /* a bare close, no close_notify (the client reads the tickets first:
     * closing with unread bytes would be a reset, FA_EIO) */
    pair_open(&p, fx->ec, fx->client, NULL, 0);
    handshake(&p);
    size_t k;
    assert_int_equal(SSL_read_ex(p.client, buf, sizeof buf, &k), 0);
    close(p.cfd);
    p.cfd = -1;
    ssize_t got = fa_tls_read(p.server, buf, sizeof buf);
    if (got != FA_TLS_CLOSED) print_message("read: %zd %s\n", got, fa_err_msg());
    assert_int_equal(got, FA_TLS_CLOSED);
    /* writing to the vanished peer: FA_EIO (EPIPE), and no SIGPIPE kills us */
    ssize_t r = fa_tls_write(p.server, "late", 4);
    assert_int_equal(r, FA_EIO);
    assert_non_null(strstr(fa_err_msg(), "tls: write: "));
    assert_int_equal(fa_tls_shutdown(p.server), 0); /* nothing to send on a failed connection */
    pair_close(&p);
}

static void test_plain_http_to_tls_port(void **state) {
    fixture *fx = *state;
    pair p;
    pair_open(&p, fx->ec, fx->client, NULL, 0);
    static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_int_equal(write(p.cfd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    assert_int_equal(fa_tls_handshake(p.server), FA_EIO);
    assert_string_equal(fa_err_msg(), "tls: handshake: the client spoke plain HTTP to the TLS port");
    assert_int_equal(fa_tls_handshake(p.server), FA_EIO); /* stays failed */
    assert_int_equal(fa_tls_shutdown(p.server), 0);
    pair_close(&p);
    /* random bytes instead of a ClientHello */
    pair_open(&p, fx->ec, fx->client, NULL, 0);
    char *noise = pattern(300, 9);
    noise[0] = 0x16; /* looks like a handshake record at first */
    assert_int_equal(write(p.cfd, noise, 300), 300);
    int r = fa_tls_handshake(p.server);
    assert_int_equal(r, FA_EIO);
    assert_non_null(strstr(fa_err_msg(), "tls: handshake: "));
    free(noise);
    pair_close(&p);
    /* a client that leaves in the middle */
    pair_open(&p, fx->ec, fx->client, NULL, 0);
    assert_true(SSL_do_handshake(p.client) <= 0); /* ClientHello out */
    close(p.cfd);
    p.cfd = -1;
    r = fa_tls_handshake(p.server);
    assert_true(r == FA_TLS_CLOSED || r == FA_EIO);
    pair_close(&p);
}

static void test_load_errors(void **state) {
    fixture *fx = *state;
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope.crt", fx->dir);
    assert_null(fa_tls_ctx_new(missing, fx->ec_key));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "tls: certificate: "));
    assert_non_null(strstr(fa_err_msg(), missing));

    assert_null(fa_tls_ctx_new(fx->ec_cert, missing));
    assert_non_null(strstr(fa_err_msg(), "tls: key: "));
    assert_non_null(strstr(fa_err_msg(), missing));

    assert_null(fa_tls_ctx_new(fx->dir, fx->ec_key));
    assert_non_null(strstr(fa_err_msg(), "is a directory"));

    assert_null(fa_tls_ctx_new(fx->junk, fx->ec_key));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "not a PEM certificate chain"));
    assert_non_null(strstr(fa_err_msg(), fx->junk));

    assert_null(fa_tls_ctx_new(fx->ec_cert, fx->junk));
    assert_non_null(strstr(fa_err_msg(), "not a PEM private key"));
    assert_non_null(strstr(fa_err_msg(), fx->junk));

    assert_null(fa_tls_ctx_new(fx->ec_cert, fx->stray_key)); /* same type, other key */
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "does not match certificate"));
    assert_non_null(strstr(fa_err_msg(), fx->stray_key));
    assert_non_null(strstr(fa_err_msg(), fx->ec_cert));

    assert_null(fa_tls_ctx_new(fx->ec_cert, fx->rsa_key)); /* other type */
    assert_non_null(strstr(fa_err_msg(), "does not match certificate"));

    assert_null(fa_tls_ctx_new(NULL, fx->ec_key));
    assert_non_null(strstr(fa_err_msg(), "both a certificate file and a key file"));
    assert_int_equal(ERR_peek_error(), 0); /* nothing left on OpenSSL's queue */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alpn_h2_tls13),
        cmocka_unit_test(test_alpn_choices),
        cmocka_unit_test(test_tls12_rsa),
        cmocka_unit_test(test_data_both_ways),
        cmocka_unit_test(test_pending_after_partial_read),
        cmocka_unit_test(test_session_resumption),
        cmocka_unit_test(test_close_and_vanish),
        cmocka_unit_test(test_plain_http_to_tls_port),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
