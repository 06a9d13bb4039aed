/*
 * test_cluster.c - two `footanalytics serve` nodes sharing one database and
 * one real Redis (a redis-server this test starts on a free loopback port),
 * end to end over HTTP:
 *   - L2 fill and hit across nodes: node A computes and shares a response,
 *     node B answers it from Redis (same bytes, same ETag) without the store;
 *   - tag invalidation seen by both: an admin purge on A (API key) drops the
 *     entry from L2 and, through pub/sub, from B's L1;
 *   - Redis frozen, then killed: both nodes keep answering from L1 and the
 *     store, the breaker opens; Redis back on the same port: the breaker
 *     closes again and L2 hits resume.
 * Every figure is read from the nodes' own /metrics, so the test checks
 * what an operator would see.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "e2e_http.h"
#include "testutil.h"

#define STATS "/v1/matches/1/stats"

typedef struct cluster {
    char *dir;
    char db[4200], keys[4200], admin_key[128];
    pid_t redis, node[2];
    int redis_port, port[2];
} cluster;

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len)) return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static const char *body_of(const char *resp) {
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : "";
}

static void etag_of(const char *resp, char *out, size_t size) {
    const char *e = strcasestr(resp, "\r\netag: ");
    out[0] = '\0';
    if (e) snprintf(out, size, "%.*s", (int)strcspn(e + 8, "\r"), e + 8);
}

static pid_t start_redis(int port) {
    pid_t pid = fork();
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        int devnull = open("/dev/null", 1);
        dup2(devnull, 1);
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) { /* until it accepts */
        int fd = e2e_connect(port);
        if (fd >= 0) {
            close(fd);
            return pid;
        }
        e2e_sleep(0.02);
    }
    return -1;
}

static pid_t start_node(cluster *c, int *port) {
    int out[2];
    if (pipe(out) != 0) return -1;
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", c->redis_port);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(getenv("FA_BIN"), "footanalytics", "serve", "--db", c->db, "--port", "0", "--loops", "1",
              "--redis", url, "--redis-timeout", "0.25", "--api-keys", c->keys, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[512];
    FILE *f = fdopen(out[0], "r");
    if (!f || !fgets(line, sizeof line, f)) return -1;
    fclose(f);
    *port = e2e_port_of(line);
    return *port > 0 ? pid : -1;
}

static int setup(void **state) {
    const char *sb = fa_test_data("events/statsbomb/15986_event.json");
    if (!fa_test_file_exists(sb)) return 0;
    cluster *c = calloc(1, sizeof *c);
    *state = c;
    c->dir = fa_test_tmpdir();
    snprintf(c->db, sizeof c->db, "%s/fa.db", c->dir);
    snprintf(c->keys, sizeof c->keys, "%s/keys", c->dir);
    char args[9000], *out = NULL;
    snprintf(args, sizeof args, "import --quiet --db '%s' '%s'", c->db, sb);
    if (fa_test_run_cli(args, NULL, NULL) != 0) return -1;
    snprintf(args, sizeof args, "apikey new ops --scopes admin --file '%s'", c->keys);
    if (fa_test_run_cli(args, &out, NULL) != 0) return -1;
    snprintf(c->admin_key, sizeof c->admin_key, "%.*s", (int)strcspn(out, "\n"), out);
    free(out);
    c->redis_port = free_port();
    if ((c->redis = start_redis(c->redis_port)) < 0) return -1;
    for (int i = 0; i < 2; i++)
        if ((c->node[i] = start_node(c, &c->port[i])) < 0) return -1;
    return 0;
}

/* Both nodes connected to Redis, their subscriptions up. */
static void wait_connected(cluster *c) {
    for (int i = 0; i < 2; i++) {
        assert_true(e2e_wait_metric(c->port[i], "fa_cache_connects_total{layer=\"l2\"}", 1) >= 1);
        assert_true(e2e_wait_metric(c->port[i], "fa_cache_resyncs_total{layer=\"l2\"}", 1) >= 1);
    }
}

static int teardown(void **state) {
    cluster *c = *state;
    if (!c) return 0;
    for (int i = 0; i < 2; i++)
        if (c->node[i] > 0) {
            kill(c->node[i], SIGKILL);
            waitpid(c->node[i], NULL, 0);
        }
    if (c->redis > 0) {
        kill(c->redis, SIGCONT);
        kill(c->redis, SIGKILL);
        waitpid(c->redis, NULL, 0);
    }
    fa_test_rmtree(c->dir);
    free(c->dir);
    free(c);
    return 0;
}

static cluster *need(void **state) {
    if (!*state) {
        print_message("SKIP: shared data not found\n");
        skip();
    }
    return *state;
}

#define L2_HITS "fa_cache_hits_total{layer=\"l2\"}"
#define L2_MISSES "fa_cache_misses_total{layer=\"l2\"}"
#define L2_SETS "fa_cache_sets_total{layer=\"l2\"}"
#define L1_HITS "fa_cache_hits_total{layer=\"l1\"}"
#define L1_MISSES "fa_cache_misses_total{layer=\"l1\"}"
#define BREAKER "fa_circuit_breaker_state{dependency=\"redis\"}"
#define L1_FILLS "fa_cache_fills_total{layer=\"l1\"}"
#define WARMED "fa_cache_warmed_total{result=\"ok\"}"
#define INVALS "fa_cache_invalidations_received_total{layer=\"l2\"}"

static char a_resp[1 << 20], b_resp[1 << 20];

/* Waits until B's loop asks Redis: connects_total also counts the warmer's
 * connection, so it can reach 1 before the loop's own link is up; an L2
 * miss on a key of its own proves the loop's link answers. */
static void wait_loop_link(cluster *c, int node) {
    char target[64], buf[1 << 16];
    for (int i = 1; i <= 100 && e2e_metric(c->port[node], L2_MISSES) < 1; i++) {
        snprintf(target, sizeof target, "/v1/matches?limit=%d", i);
        assert_int_equal(e2e_http(c->port[node], "GET", target, NULL, buf, sizeof buf), 200);
        e2e_sleep(0.02);
    }
    assert_true(e2e_metric(c->port[node], L2_MISSES) >= 1);
}

/* L2 fill on A, hit on B: same bytes, same validator; then B's own L1. */
static void test_l2_fill_and_hit(void **state) {
    cluster *c = need(state);
    wait_connected(c);
    wait_loop_link(c, 1);
    double b_sets = e2e_metric(c->port[1], L2_SETS), b_l1_hits = e2e_metric(c->port[1], L1_HITS);
    assert_int_equal(e2e_http(c->port[0], "GET", STATS, NULL, a_resp, sizeof a_resp), 200);
    assert_true(e2e_wait_metric(c->port[0], L2_SETS, 1) >= 1);
    assert_int_equal(e2e_metric(c->port[1], L2_HITS), 0);
    assert_int_equal(e2e_http(c->port[1], "GET", STATS, NULL, b_resp, sizeof b_resp), 200);
    assert_int_equal(e2e_metric(c->port[1], L2_HITS), 1);
    assert_int_equal(e2e_metric(c->port[1], L2_SETS), b_sets); /* B computed nothing */
    assert_string_equal(body_of(a_resp), body_of(b_resp));
    char ea[128], eb[128];
    etag_of(a_resp, ea, sizeof ea);
    etag_of(b_resp, eb, sizeof eb);
    assert_true(ea[0] != '\0');
    assert_string_equal(ea, eb);
    /* the precompressed variants travelled too */
    assert_int_equal(e2e_http(c->port[1], "GET", STATS, "Accept-Encoding: br\r\n", b_resp, sizeof b_resp),
                     200);
    assert_non_null(strcasestr(b_resp, "\r\ncontent-encoding: br\r\n"));
    assert_int_equal(e2e_metric(c->port[1], L1_HITS), b_l1_hits + 1);
    assert_int_equal(e2e_metric(c->port[1], L2_HITS), 1);
}

/* An admin purge on A: B's L1 hears it through Redis and drops the entry,
 * and B's warmer recomputes it at once (and shares it again through L2). */
static void test_purge_seen_by_both(void **state) {
    cluster *c = need(state);
    char auth[200];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", c->admin_key);
    double b_fills = e2e_metric(c->port[1], L1_FILLS), b_sets = e2e_metric(c->port[1], L2_SETS);
    double b_warmed = e2e_metric(c->port[1], WARMED);
    assert_int_equal(
        e2e_http(c->port[0], "POST", "/v1/admin/purge?tags=match-1", NULL, a_resp, sizeof a_resp), 401);
    assert_int_equal(
        e2e_http(c->port[0], "POST", "/v1/admin/purge?tags=match-1", auth, a_resp, sizeof a_resp), 200);
    assert_non_null(strstr(body_of(a_resp), "\"purged\":[\"match-1\"]"));
    assert_true(e2e_wait_metric(c->port[1], INVALS, 1) >= 1);
    assert_true(e2e_wait_metric(c->port[1], WARMED, b_warmed + 1) >= b_warmed + 1);
    assert_true(e2e_metric(c->port[1], L1_FILLS) >= b_fills + 1); /* B dropped it and computed it again */
    assert_true(e2e_wait_metric(c->port[1], L2_SETS, b_sets + 1) >= b_sets + 1); /* and shared it */
    double b_misses = e2e_metric(c->port[1], L1_MISSES);
    assert_int_equal(e2e_http(c->port[1], "GET", STATS, NULL, b_resp, sizeof b_resp), 200);
    assert_int_equal(e2e_metric(c->port[1], L1_MISSES), b_misses); /* ready before it was asked for */
    assert_string_equal(body_of(a_resp), "{\"purged\":[\"match-1\"]}");
}

/* What L2 carries between nodes keeps HTTP semantics: validators answer
 * 304 on the other node, each coding has its own tag; errors are answered
 * by each node and never shared. */
static void test_conditional_encodings_errors(void **state) {
    cluster *c = need(state);
    const char *key = "/v1/matches/1/players";
    assert_int_equal(e2e_http(c->port[0], "GET", key, "Accept-Encoding: gzip\r\n", a_resp, sizeof a_resp),
                     200);
    assert_non_null(strcasestr(a_resp, "\r\ncontent-encoding: gzip\r\n"));
    char etag_gz[128], cond[200];
    etag_of(a_resp, etag_gz, sizeof etag_gz);
    assert_non_null(strstr(etag_gz, "-gzip\""));
    double sets = e2e_metric(c->port[0], L2_SETS);
    assert_true(e2e_wait_metric(c->port[0], L2_SETS, sets) >= sets);
    /* B gets it from L2 and answers A's validator for that representation with 304 */
    snprintf(cond, sizeof cond, "Accept-Encoding: gzip\r\nIf-None-Match: %s\r\n", etag_gz);
    for (int i = 0; i < 50 && e2e_metric(c->port[1], L2_HITS) < 2; i++)
        e2e_sleep(0.02); /* (A's put is async) */
    assert_int_equal(e2e_http(c->port[1], "GET", key, cond, b_resp, sizeof b_resp), 304);
    /* the same validator does not match another representation */
    snprintf(cond, sizeof cond, "Accept-Encoding: zstd\r\nIf-None-Match: %s\r\n", etag_gz);
    assert_int_equal(e2e_http(c->port[1], "GET", key, cond, b_resp, sizeof b_resp), 200);
    assert_non_null(strcasestr(b_resp, "\r\ncontent-encoding: zstd\r\n"));
    assert_int_equal(e2e_http(c->port[1], "GET", key, "Accept-Encoding: identity\r\n", b_resp, sizeof b_resp),
                     200);
    assert_null(strcasestr(b_resp, "\r\ncontent-encoding:"));
    /* errors: answered, never stored in L2 */
    double a_sets = e2e_metric(c->port[0], L2_SETS);
    assert_int_equal(e2e_http(c->port[0], "GET", "/v1/matches/999999", NULL, a_resp, sizeof a_resp), 404);
    assert_int_equal(
        e2e_http(c->port[0], "GET", "/v1/matches/1/events?period=9", NULL, a_resp, sizeof a_resp), 400);
    assert_int_equal(e2e_http(c->port[0], "DELETE", "/v1/matches/1", NULL, a_resp, sizeof a_resp), 405);
    assert_int_equal(
        e2e_http(c->port[0], "POST", "/v1/admin/purge?tags=x", "X-API-Key: nope\r\n", a_resp, sizeof a_resp),
        401);
    e2e_sleep(0.1);
    assert_int_equal(e2e_metric(c->port[0], L2_SETS), a_sets);
    assert_int_equal(e2e_http(c->port[1], "GET", "/v1/matches/999999", NULL, b_resp, sizeof b_resp), 404);
    assert_non_null(strstr(b_resp, "application/problem+json"));
}

/* Redis frozen, then gone: answers keep coming, the breaker opens; back: it closes. */
static void test_redis_down_and_back(void **state) {
    cluster *c = need(state);
    assert_int_equal(e2e_metric(c->port[0], BREAKER), 0);
    kill(c->redis, SIGSTOP);
    char target[64];
    /* new keys: a get times out (250 ms) and drops the connection, reconnects time out
     * (0.5 s) too; every request is answered meanwhile, until the breaker opens */
    double open = 0;
    for (int i = 0; i < 200 && open != 1; i++) {
        snprintf(target, sizeof target, "/v1/matches/1/events?limit=%d", i + 1);
        assert_int_equal(e2e_http(c->port[0], "GET", target, NULL, a_resp, sizeof a_resp), 200);
        open = e2e_metric(c->port[0], BREAKER);
        if (open != 1) e2e_sleep(0.05);
    }
    assert_int_equal(open, 1);
    double t0 = fa_clock_now();
    assert_int_equal(
        e2e_http(c->port[0], "GET", "/v1/matches/1/events?limit=50", NULL, a_resp, sizeof a_resp), 200);
    assert_true(fa_clock_now() - t0 < 0.045); /* refused at once: no L2 wait */
    kill(c->redis, SIGCONT);
    kill(c->redis, SIGKILL);
    waitpid(c->redis, NULL, 0);
    c->redis = 0;
    for (int i = 0; i < 5; i++) {
        snprintf(target, sizeof target, "/v1/matches/1/events?limit=%d", 60 + i);
        assert_int_equal(e2e_http(c->port[1], "GET", target, NULL, b_resp, sizeof b_resp), 200);
    }
    assert_int_equal(e2e_http(c->port[1], "GET", STATS, NULL, b_resp, sizeof b_resp), 200); /* its L1 */
    c->redis = start_redis(c->redis_port);
    assert_true(c->redis > 0);
    /* after the breaker's cool-down a probe succeeds and it closes; then L2 is used again */
    double closed = -1;
    for (int i = 0; i < 100 && closed != 0; i++) {
        snprintf(target, sizeof target, "/v1/matches/1/events?limit=%d", 100 + i);
        e2e_http(c->port[0], "GET", target, NULL, a_resp, sizeof a_resp);
        closed = e2e_metric(c->port[0], BREAKER);
        if (closed != 0) e2e_sleep(0.1);
    }
    assert_int_equal(closed, 0);
    /* A shares again; B (its own breaker, its own reconnect backoff) soon reads from L2 again */
    int shared = 0;
    for (int i = 0; i < 40 && !shared; i++) {
        snprintf(target, sizeof target, "/v1/matches/1/events?period=1&limit=%d", 1 + i);
        double sets = e2e_metric(c->port[0], L2_SETS), b_hits = e2e_metric(c->port[1], L2_HITS);
        assert_int_equal(e2e_http(c->port[0], "GET", target, NULL, a_resp, sizeof a_resp), 200);
        assert_true(e2e_wait_metric(c->port[0], L2_SETS, sets + 1) >= sets + 1);
        assert_int_equal(e2e_http(c->port[1], "GET", target, NULL, b_resp, sizeof b_resp), 200);
        assert_string_equal(body_of(a_resp), body_of(b_resp));
        shared = e2e_metric(c->port[1], L2_HITS) == b_hits + 1;
        if (!shared) e2e_sleep(0.1);
    }
    assert_true(shared);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_l2_fill_and_hit),
        cmocka_unit_test(test_purge_seen_by_both),
        cmocka_unit_test(test_conditional_encodings_errors),
        cmocka_unit_test(test_redis_down_and_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
