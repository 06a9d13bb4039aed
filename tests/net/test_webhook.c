/*
 * test_webhook.c - the alert webhook sender against a scripted server.
 *
 * A server thread on 127.0.0.1 (port 0) answers each request with the next
 * reply of a script (a status, optionally held until the test releases it,
 * or never answered) and keeps every body it got. Checked:
 *   - 20 payloads arrive in order, byte for byte, and stop(drain) delivers
 *     everything queued before it returns;
 *   - 503, 503, 200: delivered with 2 retries, one "failing" and one
 *     "recovered" log line (not one per try); 429 is retried too;
 *   - 400: failed at once, no retry, and the next payload still goes;
 *   - a 500 every time: failed after max_attempts tries;
 *   - a full queue drops the oldest and counts them;
 *   - a breaker opened by 5 failures stops the tries for its cool-down;
 *   - stop with an endpoint that hangs, or refuses, returns within
 *     drain_s + 1 s;
 *   - bad settings are refused with a message naming them.
 * Retries use a 1-4 ms backoff so the whole file runs in about a second.
 */
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

/* ---------------------------------------------------------------- the test server */

enum { HOLD = -1, HANG = -2 }; /* script entries besides plain statuses */

#define MAX_REQUESTS 64

typedef struct server {
    int lfd, stop_fd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int script[16], nscript; /* the last entry repeats */
    int stopping, released;
    int requests;
    char *bodies[MAX_REQUESTS];
    size_t lens[MAX_REQUESTS];
    char *heads[MAX_REQUESTS];
} server;

/* Reads one request (head + Content-Length body), 5 s at most; records it. */
static int read_request(server *s, int fd) {
    size_t cap = 1 << 16, have = 0, head = 0;
    char *buf = malloc(cap);
    long long need = -1;
    while (need < 0 || (long long)have < need) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
        if (poll(p, 2, 5000) <= 0 || p[1].revents) break;
        if (have + 4096 > cap) buf = realloc(buf, cap *= 2);
        ssize_t n = recv(fd, buf + have, cap - have - 1, 0);
        if (n <= 0) break;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = need < 0 ? strstr(buf, "\r\n\r\n") : NULL;
        if (end) {
            head = (size_t)(end - buf) + 4;
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            need = (long long)head + (cl && cl < end ? atoll(cl + 17) : 0);
        }
    }
    if (need < 0 || (long long)have != need) {
        free(buf);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    int i = s->requests;
    if (i < MAX_REQUESTS) {
        s->lens[i] = have - head;
        s->bodies[i] = malloc(s->lens[i] + 1);
        memcpy(s->bodies[i], buf + head, s->lens[i] + 1);
        buf[head] = '\0';
        s->heads[i] = buf;
        buf = NULL;
    }
    s->requests++;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    free(buf);
    return i;
}

static void answer(server *s, int fd, int i) {
    pthread_mutex_lock(&s->lock);
    int what = s->script[i < s->nscript ? i : s->nscript - 1];
    while (what < 0 && !s->stopping && !(what == HOLD && s->released))
        pthread_cond_wait(&s->changed, &s->lock);
    pthread_mutex_unlock(&s->lock);
    char out[128];
    snprintf(out, sizeof out, "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
             what < 0 ? 200 : what);
    if (what != HANG) (void)!send(fd, out, strlen(out), MSG_NOSIGNAL);
}

static void *serve(void *arg) {
    server *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN}, {.fd = s->stop_fd, .events = POLLIN}};
        if (poll(p, 2, 10000) <= 0 || p[1].revents) break;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) continue;
        int i = read_request(s, fd);
        if (i >= 0) answer(s, fd, i);
        close(fd);
    }
    return NULL;
}

static server *server_start(const int *script, int n) {
    server *s = calloc(1, sizeof *s);
    memcpy(s->script, script, (size_t)n * sizeof *script);
    s->nscript = n;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 64), 0);
    socklen_t len = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    s->stop_fd = eventfd(0, EFD_CLOEXEC);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
    return s;
}

static int server_requests(server *s) {
    pthread_mutex_lock(&s->lock);
    int n = s->requests;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Waits until the server has read n requests (5 s at most). */
static void server_wait(server *s, int n) {
    double until = fa_clock_now() + 5;
    while (server_requests(s) < n && fa_clock_now() < until) usleep(1000);
    assert_int_equal(server_requests(s), n);
}

static void server_release(server *s) {
    pthread_mutex_lock(&s->lock);
    s->released = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

static void server_stop(server *s) {
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    uint64_t one = 1;
    (void)!write(s->stop_fd, &one, sizeof one);
    pthread_join(s->thread, NULL);
}

static void server_free(server *s) {
    for (int i = 0; i < s->requests && i < MAX_REQUESTS; i++) {
        free(s->bodies[i]);
        free(s->heads[i]);
    }
    close(s->lfd);
    close(s->stop_fd);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---------------------------------------------------------------- helpers */

static fa_webhook *start(int port, int max_attempts, size_t queue_max) {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/alerts?token=s3cret", port);
    fa_webhook_config c;
    fa_webhook_config_default(&c);
    c.url = url; /* copied at start */
    c.retry.base_s = 0.001;
    c.retry.cap_s = 0.004;
    c.retry.max_attempts = max_attempts;
    c.queue_max = queue_max;
    fa_webhook *w = fa_webhook_start(&c);
    assert_non_null(w);
    return w;
}

static void send_numbered(fa_webhook *w, int i) {
    char json[64];
    int n = snprintf(json, sizeof json, "{\"alert\":\"test\",\"n\":%d}", i);
    fa_webhook_send(w, json, (size_t)n);
}

static void expect_body(server *s, int request, int n) {
    char json[64];
    snprintf(json, sizeof json, "{\"alert\":\"test\",\"n\":%d}", n);
    assert_int_equal(s->lens[request], strlen(json));
    assert_memory_equal(s->bodies[request], json, strlen(json));
}

static fa_webhook_stats stats_of(fa_webhook *w) {
    fa_webhook_stats st;
    fa_webhook_stats_get(w, &st);
    return st;
}

/* Waits until delivered + failed reaches n (5 s at most). */
static fa_webhook_stats wait_done(fa_webhook *w, uint64_t n) {
    double until = fa_clock_now() + 5;
    fa_webhook_stats st = stats_of(w);
    while (st.delivered + st.failed < n && fa_clock_now() < until) {
        usleep(1000);
        st = stats_of(w);
    }
    assert_int_equal(st.delivered + st.failed, n);
    return st;
}

/* A port bound but not listening: connections to it are refused. */
static int closed_port(int *fd) {
    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(*fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

/* ---------------------------------------------------------------- tests */

static void test_in_order_and_drained_by_stop(void **state) {
    (void)state;
    const int script[] = {200};
    server *s = server_start(script, 1);
    fa_webhook *w = start(s->port, 4, 256);
    for (int i = 0; i < 20; i++) send_numbered(w, i);
    fa_webhook_stats st = stats_of(w);
    assert_int_equal(st.queued, 20);
    fa_webhook_stop(w, 10); /* returns once all 20 are delivered */
    server_stop(s);
    assert_int_equal(s->requests, 20);
    for (int i = 0; i < 20; i++) expect_body(s, i, i);
    char host[64];
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", s->port);
    assert_non_null(strstr(s->heads[0], "POST /hooks/alerts?token=s3cret HTTP/1.1\r\n"));
    assert_non_null(strstr(s->heads[0], host));
    assert_non_null(strstr(s->heads[0], "\r\nContent-Type: application/json\r\n"));
    server_free(s);
}

/* Counts lines holding `needle` in a file. */
static int count_lines(const char *path, const char *needle) {
    size_t len;
    char *text = fa_test_read_file(path, &len);
    int n = 0;
    for (char *p = text; p && (p = strstr(p, needle)); p++) n++;
    free(text);
    return n;
}

static void test_retried_5xx_then_delivered(void **state) {
    (void)state;
    const int script[] = {503, 503, 200};
    server *s = server_start(script, 3);
    /* Capture stderr to count the log lines. */
    char *dir = fa_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/log.txt", dir);
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w");
    dup2(fileno(f), 2);
    fa_webhook *w = start(s->port, 4, 256);
    send_numbered(w, 7);
    fa_webhook_stats st = wait_done(w, 1);
    fa_webhook_stop(w, 1);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(f);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.retries, 2);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.dropped, 0);
    server_stop(s);
    assert_int_equal(s->requests, 3);
    for (int i = 0; i < 3; i++) expect_body(s, i, 7);
    assert_int_equal(count_lines(path, "webhook delivery failing: HTTP status 503"), 1);
    assert_int_equal(count_lines(path, "webhook delivery recovered"), 1);
    assert_int_equal(count_lines(path, "failed_tries=2"), 1);
    assert_int_equal(count_lines(path, "s3cret"), 0); /* the path's token is never logged */
    fa_test_rmtree(dir);
    free(dir);
    server_free(s);
}

static void test_429_retried(void **state) {
    (void)state;
    const int script[] = {429, 200};
    server *s = server_start(script, 2);
    fa_webhook *w = start(s->port, 4, 256);
    send_numbered(w, 1);
    fa_webhook_stats st = wait_done(w, 1);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.retries, 1);
    fa_webhook_stop(w, 1);
    server_stop(s);
    assert_int_equal(s->requests, 2);
    server_free(s);
}

static void test_4xx_not_retried(void **state) {
    (void)state;
    const int script[] = {400, 404, 200};
    server *s = server_start(script, 3);
    fa_webhook *w = start(s->port, 4, 256);
    send_numbered(w, 1);
    send_numbered(w, 2);
    send_numbered(w, 3);
    fa_webhook_stats st = wait_done(w, 3);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.retries, 0);
    fa_webhook_stop(w, 1);
    server_stop(s);
    assert_int_equal(s->requests, 3);
    for (int i = 0; i < 3; i++) expect_body(s, i, i + 1);
    server_free(s);
}

static void test_gives_up_after_max_attempts(void **state) {
    (void)state;
    const int script[] = {500};
    server *s = server_start(script, 1);
    fa_webhook *w = start(s->port, 3, 256);
    send_numbered(w, 1);
    fa_webhook_stats st = wait_done(w, 1);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.retries, 2);
    fa_webhook_stop(w, 1);
    server_stop(s);
    assert_int_equal(s->requests, 3);
    server_free(s);
}

/* Payload 0 is held in flight; 1..7 go to a queue of 4: 1, 2, 3 dropped. */
static void test_overflow_drops_oldest(void **state) {
    (void)state;
    const int script[] = {HOLD, 200};
    server *s = server_start(script, 2);
    fa_webhook *w = start(s->port, 4, 4);
    send_numbered(w, 0);
    server_wait(s, 1);
    for (int i = 1; i <= 7; i++) send_numbered(w, i);
    fa_webhook_stats st = stats_of(w);
    assert_int_equal(st.queued, 8);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.delivered, 0);
    server_release(s);
    st = wait_done(w, 5);
    assert_int_equal(st.delivered, 5);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.failed, 0);
    fa_webhook_stop(w, 1);
    server_stop(s);
    assert_int_equal(s->requests, 5);
    const int expect[] = {0, 4, 5, 6, 7};
    for (int i = 0; i < 5; i++) expect_body(s, i, expect[i]);
    server_free(s);
}

/* 5 consecutive failures open the breaker (1 s cool-down): no 6th try soon. */
static void test_breaker_stops_hammering(void **state) {
    (void)state;
    const int script[] = {503};
    server *s = server_start(script, 1);
    fa_webhook *w = start(s->port, 4, 256);
    for (int i = 0; i < 3; i++) send_numbered(w, i);
    server_wait(s, 5);
    usleep(300 * 1000);
    assert_int_equal(server_requests(s), 5);
    fa_webhook_stats st = stats_of(w);
    assert_int_equal(st.failed, 1);  /* payload 0: 4 tries */
    assert_int_equal(st.retries, 4); /* 3 for payload 0, 1 for payload 1 */
    double t0 = fa_clock_now();
    fa_webhook_stop(w, 0);
    assert_true(fa_clock_now() - t0 < 0.5);
    server_stop(s);
    server_free(s);
}

static void test_stop_with_hanging_endpoint(void **state) {
    (void)state;
    const int script[] = {HANG};
    server *s = server_start(script, 1);
    fa_webhook *w = start(s->port, 4, 256); /* 2 s per try */
    for (int i = 0; i < 3; i++) send_numbered(w, i);
    server_wait(s, 1);
    double t0 = fa_clock_now();
    fa_webhook_stop(w, 0.3);
    double took = fa_clock_now() - t0;
    assert_true(took >= 0.29 && took < 1.3);
    server_stop(s);
    server_free(s);
}

static void test_stop_with_refusing_endpoint(void **state) {
    (void)state;
    int fd;
    int port = closed_port(&fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
    fa_webhook_config c;
    fa_webhook_config_default(&c); /* default backoff: up to 2 s between tries */
    c.url = url;
    fa_webhook *w = fa_webhook_start(&c);
    assert_non_null(w);
    for (int i = 0; i < 10; i++) send_numbered(w, i);
    double t0 = fa_clock_now();
    fa_webhook_stop(w, 0.2);
    double took = fa_clock_now() - t0;
    assert_true(took >= 0.19 && took < 1.2);
    close(fd);
}

static void expect_bad_config(const fa_webhook_config *c, int code, const char *msg) {
    assert_null(fa_webhook_start(c));
    assert_int_equal(fa_err_code(), code);
    assert_string_equal(fa_err_msg(), msg);
}

static void test_bad_config(void **state) {
    (void)state;
    fa_webhook_config c;
    fa_webhook_config_default(&c);
    assert_true(c.timeout_s == 2.0);
    assert_int_equal(c.queue_max, 256);
    assert_int_equal(c.retry.max_attempts, 4);
    expect_bad_config(&c, FA_EINVAL, "webhook: url: missing (NULL)");
    c.url = "http://:80/x";
    expect_bad_config(&c, FA_EINVAL, "webhook: url: column 8: missing host");
    c.url = "https://alerts.example/x";
    expect_bad_config(&c, FA_EUSAGE, "webhook: url: https is not supported (no TLS client): use http://");
    c.url = "http://127.0.0.1:9/x";
    c.timeout_s = 0;
    expect_bad_config(&c, FA_EINVAL, "webhook: timeout_s must be a finite number > 0, got 0");
    c.timeout_s = 1;
    c.queue_max = 0;
    expect_bad_config(&c, FA_EINVAL, "webhook: queue_max must be in [1, 16777216], got 0");
    expect_bad_config(NULL, FA_EINVAL, "webhook: missing configuration");
    fa_webhook_stop(NULL, 1); /* no-op */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_drained_by_stop),
        cmocka_unit_test(test_retried_5xx_then_delivered),
        cmocka_unit_test(test_429_retried),
        cmocka_unit_test(test_4xx_not_retried),
        cmocka_unit_test(test_gives_up_after_max_attempts),
        cmocka_unit_test(test_overflow_drops_oldest),
        cmocka_unit_test(test_breaker_stops_hammering),
        cmocka_unit_test(test_stop_with_hanging_endpoint),
        cmocka_unit_test(test_stop_with_refusing_endpoint),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
