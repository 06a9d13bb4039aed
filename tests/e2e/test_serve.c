/*
 * test_serve.c - the real binary end to end: import sample data, start
 * `footanalytics serve --port 0`, read the port it prints, talk HTTP/1.1 to
 * it over a socket (keep-alive, conditional GET, errors), then SIGTERM it
 * and expect a clean exit.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "testutil.h"

typedef struct server {
    char *dir;
    pid_t pid;
    int port;
} server;

static int start(void **state) {
    const char *sb = fa_test_data("events/statsbomb/15986_event.json");
    if (!fa_test_file_exists(sb)) return 0;
    server *s = calloc(1, sizeof *s);
    s->dir = fa_test_tmpdir();
    char db[4200], args[8800];
    snprintf(db, sizeof db, "%s/fa.db", s->dir);
    snprintf(args, sizeof args, "import --quiet --db '%s' '%s'", db, sb);
    if (fa_test_run_cli(args, NULL, NULL) != 0) return -1;
    int out[2];
    if (pipe(out) != 0) return -1;
    s->pid = fork();
    if (s->pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(getenv("FA_BIN"), "footanalytics", "serve", "--db", db, "--port", "0", "--loops", "2", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[256];
    FILE *f = fdopen(out[0], "r");
    if (!f || !fgets(line, sizeof line, f)) return -1;
    fclose(f);
    const char *colon = strrchr(line, ':');
    s->port = colon ? atoi(colon + 1) : 0; /* "listening on http://127.0.0.1:PORT (database ...)" */
    *state = s;
    return s->port > 0 ? 0 : -1;
}

static int stop(void **state) {
    server *s = *state;
    if (!s) return 0;
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    fa_test_rmtree(s->dir);
    free(s->dir);
    free(s);
    return 0;
}

static server *need(void **state) {
    if (!*state) {
        print_message("SKIP: shared data not found\n");
        skip();
    }
    return *state;
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Sends one request and reads one whole response (Content-Length framed)
 * into buf; returns the status code. */
static int roundtrip(int fd, const char *req, char *buf, size_t size) {
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, size - 1 - got);
        assert_true(r > 0);
        got += (size_t)r;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        const char *cl = strcasestr(buf, "\r\ncontent-length:");
        size_t body = cl ? (size_t)atol(cl + 17) : 0;
        if (got >= (size_t)(end + 4 - buf) + body) break;
    }
    return atoi(buf + 9);
}

static void test_keep_alive_and_conditional(void **state) {
    server *s = need(state);
    static char buf[1 << 20];
    int fd = connect_to(s->port);
    assert_int_equal(roundtrip(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 200);
    assert_int_equal(roundtrip(fd, "GET /v1/matches/statsbomb:15986 HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf),
                     200);
    assert_non_null(strstr(buf, "Barcelona"));
    const char *etag = strcasestr(buf, "\r\netag: ");
    assert_non_null(etag);
    char tag[128];
    sscanf(etag + 8, "%127[^\r]", tag);
    char req[512];
    snprintf(req, sizeof req, "GET /v1/matches/statsbomb:15986 HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n", tag);
    assert_int_equal(roundtrip(fd, req, buf, sizeof buf), 304);
    assert_int_equal(roundtrip(fd, "GET /v1/matches/999 HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 404);
    assert_non_null(strstr(buf, "application/problem+json"));
    assert_int_equal(roundtrip(fd, "GET /v1/matches/1/events?period=9 HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf),
                     400);
    assert_non_null(strstr(buf, "period"));
    assert_int_equal(roundtrip(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 200);
    /* the requests above, by route template and status */
    assert_non_null(strstr(buf, "fa_http_request_duration_seconds_count{route=\"/v1/matches/{id}\",status=\"304\"} 1"));
    assert_non_null(strstr(buf, "process_resident_memory_bytes"));
    assert_non_null(strstr(buf, "\nfa_http_connections_open 1\n")); /* this one */
    /* the store handles: one per loop (2) and the warmer's; none busy while /metrics runs */
    assert_non_null(strstr(buf, "\nfa_db_pool_connections_max{pool=\"sqlite\"} 3\n"));
    assert_non_null(strstr(buf, "\nfa_db_pool_connections_in_use{pool=\"sqlite\"} 0\n"));
    assert_non_null(strstr(buf, "\nfa_db_pool_wait_seconds_count{pool=\"sqlite\"} ")); /* handles acquired */
    assert_int_equal(roundtrip(fd, "GET /v1/alerts HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 200);
    assert_non_null(strstr(buf, "FaApiLatencyP95High"));
    close(fd);
}

/* Inflates a gzip body into out[size]; returns its length. */
static size_t gunzip(const char *in, size_t n, char *out, size_t size) {
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)size - 1;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = z.total_out;
    inflateEnd(&z);
    out[len] = '\0';
    return len;
}

/* A repeated GET is answered from the L1 cache with its precompressed
 * variant; the ETag is the same whether the cache answered or not. */
static void test_l1_and_encodings(void **state) {
    server *s = need(state);
    static char buf[1 << 20], plain[1 << 20];
    int fd = connect_to(s->port);
    const char *req = "GET /v1/matches/1/stats HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n";
    char tags[2][128];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(roundtrip(fd, req, buf, sizeof buf), 200);
        assert_non_null(strcasestr(buf, "\r\nContent-Encoding: gzip\r\n"));
        const char *etag = strcasestr(buf, "\r\netag: ");
        assert_non_null(etag);
        sscanf(etag + 8, "%127[^\r]", tags[i]);
        char *body = strstr(buf, "\r\n\r\n") + 4;
        size_t n = (size_t)atol(strcasestr(buf, "\r\ncontent-length:") + 17);
        gunzip(body, n, plain, sizeof plain);
        assert_non_null(strstr(plain, "\"passes\":768"));
    }
    assert_string_equal(tags[0], tags[1]);
    assert_non_null(strstr(tags[0], "-gzip\""));
    assert_int_equal(roundtrip(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf), 200);
    const char *hits = strstr(buf, "fa_cache_hits_total{layer=\"l1\"} ");
    assert_non_null(hits);
    assert_true(atol(hits + strlen("fa_cache_hits_total{layer=\"l1\"} ")) >= 1);
    close(fd);
}

/* The number after "key": in a JSON text (first occurrence), or -1. */
static long json_int_after(const char *text, const char *key) {
    const char *p = strstr(text, key);
    return p ? atol(p + strlen(key)) : -1;
}

/* A re-import by another process (here with a different pass-string
 * threshold) is seen by the server's cache within its 0.25 s check. */
static void test_reimport_invalidates_l1(void **state) {
    server *s = need(state);
    static char buf[1 << 20];
    int fd = connect_to(s->port);
    const char *req = "GET /v1/matches/1/stats HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(roundtrip(fd, req, buf, sizeof buf), 200);
    assert_int_equal(roundtrip(fd, req, buf, sizeof buf), 200); /* now from the cache */
    long before = json_int_after(buf, "\"pass_strings\":");
    assert_true(before > 0);
    char db[4200], args[8800];
    snprintf(db, sizeof db, "%s/fa.db", s->dir);
    snprintf(args, sizeof args, "import --quiet --db '%s' --set pass_string_min=8 '%s'", db,
             fa_test_data("events/statsbomb/15986_event.json"));
    assert_int_equal(fa_test_run_cli(args, NULL, NULL), 0);
    usleep(400 * 1000);
    assert_int_equal(roundtrip(fd, req, buf, sizeof buf), 200);
    long after = json_int_after(buf, "\"pass_strings\":");
    assert_true(after >= 0 && after < before); /* fewer strings of >= 8 passes than of >= 3 */
    close(fd);
}

static void test_sigterm_exits_cleanly(void **state) {
    server *s = need(state);
    assert_int_equal(kill(s->pid, SIGTERM), 0);
    int st;
    assert_int_equal(waitpid(s->pid, &st, 0), s->pid);
    s->pid = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_alive_and_conditional),
        cmocka_unit_test(test_l1_and_encodings),
        cmocka_unit_test(test_reimport_invalidates_l1),
        cmocka_unit_test(test_sigterm_exits_cleanly),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
