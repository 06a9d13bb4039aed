/*
 * test_http_client.c - fa_url_parse and fa_http_post against a tiny server.
 *
 * URLs: the accepted forms (port, path, query, fragment dropped, IPv6
 * literal, upper-case scheme) and every refusal with its exact message
 * (https is FA_EUSAGE; missing host, bad ports, over-long parts, control
 * characters and user info are FA_EINVAL naming the column).
 *
 * POST: a server thread on 127.0.0.1, port 0, answers each connection with
 * a scripted reply and keeps the request it read. Checked: the exact bytes
 * of the request (method, path and query, every header, the body, a 1 MiB
 * binary body sent in pieces), 200 and 500 returned as they are, 100
 * Continue skipped, a 204 that leaves the connection open returned at once
 * (the drain stops at the end of the response), a server that never
 * answers -> FA_ETIMEDOUT within the deadline + 0.5 s, a cancel fd -> at
 * once, a closed port -> FA_EIO "Connection refused", garbage and bad
 * status lines -> FA_EIO naming what came back.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"
#include "testutil.h"

/* ---------------------------------------------------------------- URLs */

static void expect_url(const char *text, const char *host, int port, const char *path) {
    fa_url u;
    assert_int_equal(fa_url_parse(text, &u), 0);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    assert_string_equal(u.path, path);
}

static void expect_bad_url(const char *text, int code, const char *msg) {
    fa_url u;
    assert_int_equal(fa_url_parse(text, &u), code);
    assert_int_equal(fa_err_code(), code);
    assert_string_equal(fa_err_msg(), msg);
    assert_string_equal(u.host, ""); /* nothing half-filled */
}

static void test_url_good(void **state) {
    (void)state;
    expect_url("http://example.com", "example.com", 80, "/");
    expect_url("http://example.com/", "example.com", 80, "/");
    expect_url("http://127.0.0.1:8080/hooks/alert?team=1&x=%20",
               "127.0.0.1", 8080, "/hooks/alert?team=1&x=%20");
    expect_url("HTTP://Alerts.Example:65535/a/b", "Alerts.Example", 65535, "/a/b");
    expect_url("http://host?q=1", "host", 80, "/?q=1");
    expect_url("http://host:1#frag", "host", 1, "/");
    expect_url("http://host/p#frag?x", "host", 80, "/p");
    expect_url("http://[::1]:9000/x", "::1", 9000, "/x");
    expect_url("http://[2001:db8::ff00:42:8329]", "2001:db8::ff00:42:8329", 80, "/");
    expect_url("http://[::ffff:10.0.0.1]:81", "::ffff:10.0.0.1", 81, "/");
    expect_url("http://my_host-1.local", "my_host-1.local", 80, "/");
}

static void test_url_bad(void **state) {
    (void)state;
    expect_bad_url("https://example.com/", FA_EUSAGE,
                   "url: https is not supported (no TLS client): use http://");
    expect_bad_url("HTTPS://x", FA_EUSAGE, "url: https is not supported (no TLS client): use http://");
    expect_bad_url("ftp://x", FA_EINVAL, "url: column 1: expected http://host[:port][/path]");
    expect_bad_url("example.com/x", FA_EINVAL, "url: column 1: expected http://host[:port][/path]");
    expect_bad_url("", FA_EINVAL, "url: column 1: expected http://host[:port][/path]");
    expect_bad_url("http://", FA_EINVAL, "url: column 8: missing host");
    expect_bad_url("http:///path", FA_EINVAL, "url: column 8: missing host");
    expect_bad_url("http://:80/", FA_EINVAL, "url: column 8: missing host");
    expect_bad_url("http://host:/x", FA_EINVAL, "url: column 13: bad port: expected digits after ':'");
    expect_bad_url("http://host:0", FA_EINVAL, "url: column 13: bad port: expected 1-65535");
    expect_bad_url("http://host:65536", FA_EINVAL, "url: column 13: bad port: expected 1-65535");
    expect_bad_url("http://host:99999999999999999999", FA_EINVAL,
                   "url: column 13: bad port: expected 1-65535");
    expect_bad_url("http://host:80x", FA_EINVAL,
                   "url: column 15: bad port: expected digits, then '/', '?' or the end");
    expect_bad_url("http://host:-1", FA_EINVAL, "url: column 13: bad port: expected digits after ':'");
    expect_bad_url("http://user:pw@host/", FA_EINVAL,
                   "url: column 15: user info (user@host) is not supported");
    expect_bad_url("http://user@host/", FA_EINVAL, "url: column 12: user info (user@host) is not supported");
    expect_bad_url("http://[::1/x", FA_EINVAL,
                   "url: column 12: IPv6 literal: expected hex digits, ':' or '.' then ']'");
    expect_bad_url("http://[]:80", FA_EINVAL, "url: column 8: empty IPv6 literal");
    expect_bad_url("http://[fe80::1%25eth0]/", FA_EINVAL,
                   "url: column 16: IPv6 literal: expected hex digits, ':' or '.' then ']'");
    expect_bad_url("http://host\\x", FA_EINVAL,
                   "url: column 12: expected ':port', '/', '?' or the end after the host");
    expect_bad_url("http://ho st/", FA_EINVAL, "url: column 10: space (percent-encode it as %20)");
    expect_bad_url("http://host/a\r\nX-Evil: 1", FA_EINVAL, "url: column 14: control character 0x0d");
    expect_bad_url("http://host/\x7f", FA_EINVAL, "url: column 13: control character 0x7f");
    expect_bad_url("http://host/caf\xc3\xa9", FA_EINVAL,
                   "url: column 16: non-ASCII byte (percent-encode it)");
    expect_bad_url(NULL, FA_EINVAL, "url: missing (NULL)");
}

static void test_url_lengths(void **state) {
    (void)state;
    static char text[4096];
    char host[300];
    memset(host, 'h', 255);
    host[255] = '\0';
    snprintf(text, sizeof text, "http://%s:81/p", host);
    expect_url(text, host, 81, "/p"); /* 255 bytes: fits */
    host[255] = 'h';
    host[256] = '\0';
    snprintf(text, sizeof text, "http://%s/p", host);
    expect_bad_url(text, FA_EINVAL, "url: column 8: host longer than 255 bytes");
    strcpy(text, "http://h/");
    memset(text + 9, 'p', 1022);
    text[9 + 1022] = '\0';
    fa_url u;
    assert_int_equal(fa_url_parse(text, &u), 0); /* "/" + 1022 = 1023 bytes */
    assert_int_equal(strlen(u.path), 1023);
    strcat(text, "p");
    expect_bad_url(text, FA_EINVAL, "url: column 9: path longer than 1023 bytes");
    strcpy(text, "http://h?");
    memset(text + 9, 'q', 1022);
    text[9 + 1022] = '\0';
    expect_bad_url(text, FA_EINVAL, "url: column 9: path longer than 1023 bytes"); /* "/?" + 1022 */
}

/* ---------------------------------------------------------------- the test server */

typedef struct reply {
    int status;      /* > 0: "HTTP/1.1 <status> X" with a short body */
    const char *raw; /* else these bytes, then close */
    int hang;        /* then keep the connection open until the server stops */
} reply;

typedef struct server {
    int lfd, stop_fd, port;
    pthread_t thread;
    reply script;
    char *request; /* the last request read, head and body */
    size_t request_len;
    int connections;
} server;

/* Reads from fd until `want` bytes of body after the head (or the head
 * alone when want < 0 and no Content-Length), 5 s at most; returns 0 or -1. */
static int read_request(server *s, int fd) {
    size_t cap = 1 << 16, have = 0;
    char *buf = malloc(cap);
    long long need = -1;
    for (;;) {
        if (need < 0) {
            char *end = have ? memmem(buf, have, "\r\n\r\n", 4) : NULL;
            if (end) {
                size_t head = (size_t)(end - buf) + 4;
                char *cl = strcasestr(buf, "\r\nContent-Length:");
                need = (long long)head + (cl && cl < end ? atoll(cl + 17) : 0);
            }
        }
        if (need >= 0 && (long long)have >= need) break;
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
        if (poll(p, 2, 5000) <= 0 || p[1].revents) break;
        if (have + 4096 > cap) buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + have, cap - have - 1, 0);
        if (n <= 0) break;
        have += (size_t)n;
        buf[have] = '\0';
    }
    free(s->request);
    s->request = buf;
    s->request_len = have;
    return need >= 0 && (long long)have == need ? 0 : -1;
}

static void answer(server *s, int fd) {
    char out[256];
    const char *bytes = s->script.raw;
    if (s->script.status > 0) {
        snprintf(out, sizeof out, "HTTP/1.1 %d X\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                 s->script.status);
        bytes = out;
    }
    if (bytes) (void)!send(fd, bytes, strlen(bytes), MSG_NOSIGNAL);
    if (s->script.hang) {
        struct pollfd p = {.fd = s->stop_fd, .events = POLLIN};
        poll(&p, 1, 10000);
    }
}

static void *serve(void *arg) {
    server *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
        if (poll(p, 2, 10000) <= 0 || p[1].revents) break;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) continue;
        s->connections++;
        if (read_request(s, fd) == 0 || s->script.hang) answer(s, fd);
        close(fd);
    }
    return NULL;
}

static server *server_start(reply script) {
    server *s = calloc(1, sizeof *s);
    s->script = script;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 16), 0);
    socklen_t len = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
    return s;
}

/* Stops the server and returns how many connections it accepted (the
 * join orders its writes before the test's reads). */
static int server_stop(server *s) {
    uint64_t one = 1;
    (void)!write(s->stop_fd, &one, sizeof one);
    pthread_join(s->thread, NULL);
    close(s->lfd);
    close(s->stop_fd);
    return s->connections;
}

static void server_free(server *s) {
    free(s->request);
    free(s);
}

static fa_url url_of(const server *s, const char *path) {
    char text[128];
    fa_url u;
    snprintf(text, sizeof text, "http://127.0.0.1:%d%s", s->port, path);
    assert_int_equal(fa_url_parse(text, &u), 0);
    return u;
}

/* ---------------------------------------------------------------- POST */

static void test_post_200_request_bytes(void **state) {
    (void)state;
    server *s = server_start((reply){.status = 200});
    fa_url u = url_of(s, "/hook/a?x=1&y=%2F");
    const char *body = "{\"alert\":\"cache_hit_ratio\",\"value\":0.42}";
    int rc = fa_http_post(&u, "application/json", body, strlen(body), fa_deadline_in(5));
    assert_int_equal(rc, 200);
    assert_int_equal(server_stop(s), 1);
    char expect[512];
    snprintf(expect, sizeof expect,
             "POST /hook/a?x=1&y=%%2F HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: footanalytics/%s\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             s->port, FA_VERSION, strlen(body), body);
    assert_int_equal(s->request_len, strlen(expect));
    assert_memory_equal(s->request, expect, strlen(expect));
    server_free(s);
}

/* 1 MiB of every byte value (NULs included) arrives intact, in order. */
static void test_post_large_binary_body(void **state) {
    (void)state;
    size_t n = 1u << 20;
    unsigned char *body = malloc(n);
    for (size_t i = 0; i < n; i++) body[i] = (unsigned char)(i * 131 + (i >> 10));
    server *s = server_start((reply){.status = 201});
    fa_url u = url_of(s, "/upload");
    assert_int_equal(fa_http_post(&u, "application/octet-stream", body, n, fa_deadline_in(10)), 201);
    server_stop(s);
    const char *head_end = memmem(s->request, s->request_len, "\r\n\r\n", 4);
    assert_non_null(head_end);
    size_t head = (size_t)(head_end - s->request) + 4;
    assert_non_null(strstr(s->request, "\r\nContent-Length: 1048576\r\n"));
    assert_int_equal(s->request_len - head, n);
    assert_memory_equal(s->request + head, body, n);
    server_free(s);
    free(body);
}

static void test_post_empty_body_and_null_ctype(void **state) {
    (void)state;
    server *s = server_start((reply){.status = 200});
    fa_url u = url_of(s, "/");
    assert_int_equal(fa_http_post(&u, NULL, NULL, 0, fa_deadline_in(5)), 200);
    server_stop(s);
    assert_non_null(strstr(s->request, "\r\nContent-Type: application/octet-stream\r\n"));
    assert_non_null(strstr(s->request, "\r\nContent-Length: 0\r\n"));
    server_free(s);
}

static void test_post_500(void **state) {
    (void)state;
    server *s = server_start((reply){.status = 500});
    fa_url u = url_of(s, "/x");
    assert_int_equal(fa_http_post(&u, "application/json", "{}", 2, fa_deadline_in(5)), 500);
    server_stop(s);
    server_free(s);
}

static void test_post_100_continue_skipped(void **state) {
    (void)state;
    server *s = server_start((reply){
        .raw = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
               "HTTP/1.0 404 Not Found\r\n\r\n"});
    fa_url u = url_of(s, "/x");
    assert_int_equal(fa_http_post(&u, "application/json", "{}", 2, fa_deadline_in(5)), 404);
    server_stop(s);
    server_free(s);
}

/* The response ends at its Content-Length / 204: no wait for EOF. */
static void test_post_complete_response_not_waiting_for_close(void **state) {
    (void)state;
    const char *raws[] = {"HTTP/1.1 204 No Content\r\n\r\n",
                          "HTTP/1.1 202 Accepted\r\ncontent-length: 3\r\n\r\nabc"};
    for (int i = 0; i < 2; i++) {
        server *s = server_start((reply){.raw = raws[i], .hang = 1});
        fa_url u = url_of(s, "/x");
        double t0 = fa_clock_now();
        assert_int_equal(fa_http_post(&u, "application/json", "{}", 2, fa_deadline_in(5)), i ? 202 : 204);
        assert_true(fa_clock_now() - t0 < 2.0);
        server_stop(s);
        server_free(s);
    }
}

static void test_post_deadline(void **state) {
    (void)state;
    server *s = server_start((reply){.hang = 1});
    fa_url u = url_of(s, "/slow");
    double t0 = fa_clock_now();
    int rc = fa_http_post(&u, "application/json", "{}", 2, fa_deadline_in(0.3));
    double took = fa_clock_now() - t0;
    assert_int_equal(rc, FA_ETIMEDOUT);
    assert_true(took >= 0.3 && took < 0.8);
    char expect[128];
    snprintf(expect, sizeof expect, "http: POST 127.0.0.1:%d: deadline passed while waiting for the response",
             s->port);
    assert_string_equal(fa_err_msg(), expect);
    /* A deadline already passed: no connection at all. */
    rc = fa_http_post(&u, "application/json", "{}", 2, fa_deadline_in(0));
    assert_int_equal(rc, FA_ETIMEDOUT);
    assert_int_equal(server_stop(s), 1);
    server_free(s);
}

static void test_post_cancel(void **state) {
    (void)state;
    server *s = server_start((reply){.hang = 1});
    fa_url u = url_of(s, "/slow");
    int cancel = eventfd(1, EFD_CLOEXEC); /* already readable */
    double t0 = fa_clock_now();
    int rc = fa_http_post_cancellable(&u, "application/json", "{}", 2, fa_deadline_in(10), cancel);
    assert_int_equal(rc, FA_ETIMEDOUT);
    assert_true(fa_clock_now() - t0 < 1.0);
    assert_non_null(strstr(fa_err_msg(), ": cancelled"));
    close(cancel);
    server_stop(s);
    server_free(s);
}

static void test_post_refused(void **state) {
    (void)state;
    /* A port bound but not listening: nothing accepts there. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    char text[64];
    snprintf(text, sizeof text, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
    fa_url u;
    assert_int_equal(fa_url_parse(text, &u), 0);
    int rc = fa_http_post(&u, "application/json", "{}", 2, fa_deadline_in(5));
    assert_int_equal(rc, FA_EIO);
    char expect[128];
    snprintf(expect, sizeof expect, "http: POST 127.0.0.1:%d: connect: Connection refused",
             ntohs(a.sin_port));
    assert_string_equal(fa_err_msg(), expect);
    close(fd);
}

static void expect_garbage(const char *raw, const char *msg_tail) {
    server *s = server_start((reply){.raw = raw});
    fa_url u = url_of(s, "/x");
    int rc = fa_http_post(&u, "application/json", "{}", 2, fa_deadline_in(5));
    assert_int_equal(rc, FA_EIO);
    char expect[256];
    snprintf(expect, sizeof expect, "http: POST 127.0.0.1:%d: %s", s->port, msg_tail);
    assert_string_equal(fa_err_msg(), expect);
    server_stop(s);
    server_free(s);
}

static void test_post_garbage(void **state) {
    (void)state;
    expect_garbage("SSH-2.0-OpenSSH_9.2\r\n", "bad status line \"SSH-2.0-OpenSSH_9.2\"");
    expect_garbage("HTTP/1.1 20 OK\r\n\r\n", "bad status line \"HTTP/1.1 20 OK\"");
    expect_garbage("HTTP/1.1 2000 OK\r\n\r\n", "bad status line \"HTTP/1.1 2000 OK\"");
    expect_garbage("HTTP/1.1 600 Odd\r\n\r\n", "bad status line \"HTTP/1.1 600 Odd\"");
    expect_garbage("HTTP/1.1 099 Odd\r\n\r\n", "bad status line \"HTTP/1.1 099 Odd\"");
    expect_garbage("HTTP/2 200\r\n\r\n", "bad status line \"HTTP/2 200\"");
    expect_garbage("HTTP/1.1  200 OK\r\n\r\n", "bad status line \"HTTP/1.1  200 OK\"");
    expect_garbage("http/1.1 200 OK\r\n\r\n", "bad status line \"http/1.1 200 OK\"");
    expect_garbage("\x01\x02\x03\n", "bad status line \"???\"");
    expect_garbage("HTTP/1.1 101 Switching\r\n\r\n", "unexpected interim response 101");
    expect_garbage("HTTP/1.1 200", "connection closed inside the status line \"HTTP/1.1 200\"");
    expect_garbage("", "connection closed before a response");
}

static void test_post_bad_arguments(void **state) {
    (void)state;
    fa_url u;
    assert_int_equal(fa_url_parse("http://127.0.0.1:9/x", &u), 0);
    int rc = fa_http_post(&u, "application/json\r\nX-Evil: 1", "{}", 2, fa_deadline_in(1));
    assert_int_equal(rc, FA_EINVAL);
    assert_string_equal(fa_err_msg(), "http: content type holds a control character");
    assert_int_equal(fa_http_post(&u, "application/json", NULL, 3, fa_deadline_in(1)), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "http: body is NULL but its length is 3");
    fa_url empty = {0};
    assert_int_equal(fa_http_post(&empty, "application/json", "{}", 2, fa_deadline_in(1)), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "http: bad URL (parse it with fa_url_parse)");
    assert_int_equal(fa_http_post(NULL, "application/json", "{}", 2, fa_deadline_in(1)), FA_EINVAL);
    strcpy(u.path, "/a b");
    assert_int_equal(fa_http_post(&u, "application/json", "{}", 2, fa_deadline_in(1)), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "http: bad URL: path holds a control character or space");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_good),
        cmocka_unit_test(test_url_bad),
        cmocka_unit_test(test_url_lengths),
        cmocka_unit_test(test_post_200_request_bytes),
        cmocka_unit_test(test_post_large_binary_body),
        cmocka_unit_test(test_post_empty_body_and_null_ctype),
        cmocka_unit_test(test_post_500),
        cmocka_unit_test(test_post_100_continue_skipped),
        cmocka_unit_test(test_post_complete_response_not_waiting_for_close),
        cmocka_unit_test(test_post_deadline),
        cmocka_unit_test(test_post_cancel),
        cmocka_unit_test(test_post_refused),
        cmocka_unit_test(test_post_garbage),
        cmocka_unit_test(test_post_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
