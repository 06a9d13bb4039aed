/*
 * test_l2_redis.c - the L2 cache against a real Redis.
 *
 * The test starts its own redis-server (a child process on a free loopback
 * port, no persistence, database 3 so SELECT is exercised) and drives one
 * subscriber conn on an fa_io_epoll loop: miss, put, hit with identical
 * bytes; a put with a stale tag version not stored; a purge deleting
 * dependent keys, bumping versions and reaching the subscriber; 100
 * pipelined gets; freeing a conn with gets in flight; then resilience:
 * SIGSTOP makes gets time out and opens the breaker, SIGCONT lets a probe
 * close it again while the subscription carries on untouched; a killed and
 * restarted server is reconnected to, the subscription renewed (on_resync)
 * and the put script reloaded.
 * The child is killed in the group teardown, also when a test failed, and
 * dies with the test process (PR_SET_PDEATHSIG) if that crashes.
 *
 * Built without hiredis, every test skips with a visible message; with it,
 * only a missing redis-server binary skips (visibly).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/l2.h"
#include "testutil.h"

#if FA_WITH_REDIS
#include <hiredis/hiredis.h>
#endif

#define TIMEOUT_S 0.1 /* per get/put; generous for sanitizer builds */
#define OPEN_S 0.3    /* breaker cool-down */
#define SLACK_S 0.25

typedef struct env {
    int have_server;
    pid_t pid;
    int port;
    char url[64];
    char *dir;
    fa_io_epoll *loop;
    fa_l2 *l2;
    fa_l2_conn *conn;
    /* what the subscriber callbacks saw */
    int resyncs, invalidations;
    char last_tag[FA_CACHE_TAG_MAX];
    uint64_t last_version;
} env;

typedef struct got {
    int calls;
    fa_l2_result result;
    fa_buf blob;
} got;

static void on_got(void *ud, fa_l2_result result, const void *blob, size_t len) {
    got *g = ud;
    g->calls++;
    g->result = result;
    fa_buf_reset(&g->blob);
    if (len) fa_buf_append(&g->blob, blob, len);
}

#if FA_WITH_REDIS
/* ---------------------------------------------------------------- subscriber callbacks */

static void on_invalidate(void *ud, const char *tag, uint64_t version) {
    env *e = ud;
    e->invalidations++;
    snprintf(e->last_tag, sizeof e->last_tag, "%s", tag);
    e->last_version = version;
}

static void on_resync(void *ud) { ((env *)ud)->resyncs++; }

/* ---------------------------------------------------------------- the redis-server child */

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int on_path(const char *name) {
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
    for (char *save = NULL, *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char full[4352];
        snprintf(full, sizeof full, "%s/%s", dir, name);
        if (access(full, X_OK) == 0) return 1;
    }
    return 0;
}

/* 1 when the server on port answers PING within timeout_s. */
static int wait_ping(int port, double timeout_s) {
    double until = fa_clock_now() + timeout_s;
    while (fa_clock_now() < until) {
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, (struct timeval){0, 200000});
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
            if (r) freeReplyObject(r);
            redisFree(c);
            if (ok) return 1;
        } else if (c) {
            redisFree(c);
        }
        usleep(20000);
    }
    return 0;
}

static pid_t spawn_server(const char *dir, int port) {
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, 1);
        dup2(null, 2);
    }
    execlp("redis-server", "redis-server", "--port", port_s, "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--daemonize", "no", "--dir", dir, (char *)NULL);
    _exit(127);
}

static int start_server(env *e) {
    e->pid = spawn_server(e->dir, e->port);
    if (e->pid < 0) return -1;
    if (wait_ping(e->port, 5)) return 0;
    kill(e->pid, SIGKILL);
    waitpid(e->pid, NULL, 0);
    e->pid = -1;
    return -1;
}
#else
static int start_server(env *e) {
    (void)e;
    return -1;
}
#endif

static void stop_server(env *e) {
    if (e->pid <= 0) return;
    kill(e->pid, SIGCONT);
    kill(e->pid, SIGKILL);
    waitpid(e->pid, NULL, 0);
    e->pid = -1;
}

/* ---------------------------------------------------------------- the loop */

static double step(env *e) {
    fa_io_loop *io = fa_io_epoll_loop(e->loop);
    double due = fa_l2_conn_tick(e->conn, io->now(io->ud));
    double wait = due < 0 || due > 0.01 ? 0.01 : due;
    fa_io_epoll_run_once(e->loop, wait);
    return fa_l2_conn_tick(e->conn, io->now(io->ud));
}

/* Runs the loop until *flag >= want or timeout_s passed; returns 1 when reached. */
static int run_until(env *e, const int *flag, int want, double timeout_s) {
    double until = fa_clock_now() + timeout_s;
    while (*flag < want && fa_clock_now() < until) step(e);
    return *flag >= want;
}

static int run_until_ready(env *e, double timeout_s) {
    double until = fa_clock_now() + timeout_s;
    while (!(fa_l2_conn_ready(e->conn) && fa_l2_conn_subscribed(e->conn)) && fa_clock_now() < until) step(e);
    return fa_l2_conn_ready(e->conn) && fa_l2_conn_subscribed(e->conn);
}

static fa_l2_stats stats(env *e) {
    fa_l2_stats s;
    fa_l2_stats_get(e->l2, &s);
    return s;
}

/* Waits for the puts sent so far to be answered. */
static void settle_puts(env *e, uint64_t answered) {
    double until = fa_clock_now() + 2;
    for (;;) {
        fa_l2_stats s = stats(e);
        if (s.sets + s.stale_sets + s.errors + s.timeouts >= answered || fa_clock_now() > until) break;
        step(e);
    }
}

static int group_setup(void **state) {
    env *e = calloc(1, sizeof *e);
    e->pid = -1;
    *state = e;
#if FA_WITH_REDIS
    if (!on_path("redis-server")) return 0;
    e->dir = fa_test_tmpdir();
    e->port = free_port();
    if (e->port <= 0 || start_server(e)) return -1;
    snprintf(e->url, sizeof e->url, "redis://127.0.0.1:%d/3", e->port);
    fa_l2_config c;
    fa_l2_config_default(&c);
    c.url = e->url;
    c.prefix = "fatest:";
    c.timeout_s = TIMEOUT_S;
    c.connect_timeout_s = 0.2;
    c.breaker.failure_threshold = 5;
    c.breaker.open_s = OPEN_S;
    c.reconnect.base_s = 0.02;
    c.reconnect.cap_s = 0.1;
    c.on_invalidate = on_invalidate;
    c.on_resync = on_resync;
    c.ud = e;
    e->l2 = fa_l2_new(&c);
    e->loop = fa_io_epoll_new();
    if (!e->l2 || !e->loop) return -1;
    e->conn = fa_l2_conn_new(e->l2, fa_io_epoll_loop(e->loop), 1);
    if (!e->conn || !run_until_ready(e, 3)) return -1;
    e->have_server = 1;
#endif
    return 0;
}

static int group_teardown(void **state) {
    env *e = *state;
    fa_l2_conn_free(e->conn);
    fa_l2_free(e->l2);
    fa_io_epoll_free(e->loop);
    stop_server(e);
    if (e->dir) {
        fa_test_rmtree(e->dir);
        free(e->dir);
    }
    free(e);
    return 0;
}

#define REQUIRE_SERVER(e)                                                                                    \
    do {                                                                                                     \
        if (!FA_WITH_REDIS_ON) {                                                                             \
            print_message("SKIP: built without hiredis (FA_WITH_REDIS)\n");                                  \
            skip();                                                                                          \
        }                                                                                                    \
        if (!(e)->have_server) {                                                                             \
            print_message("SKIP: redis-server not found on PATH\n");                                         \
            skip();                                                                                          \
        }                                                                                                    \
    } while (0)

#if FA_WITH_REDIS
#define FA_WITH_REDIS_ON 1
#else
#define FA_WITH_REDIS_ON 0
#endif

/* ---------------------------------------------------------------- helpers */

/* A real entry blob for key with one tag per tags[] element. */
static void make_blob(fa_buf *out, const char *body, const char *const *tags, size_t ntags) {
    fa_cache_fill f;
    memset(&f, 0, sizeof f);
    strcpy(f.content_type, "application/json");
    fa_buf_puts(&f.body, body);
    fa_buf_puts(&f.coded[FA_CODING_GZIP], "\x1f\x8b-not-really-gzip");
    for (size_t i = 0; i < ntags; i++) fa_cache_fill_tag(&f, "%s", tags[i]);
    fa_buf_reset(out);
    assert_int_equal(fa_l2_encode_fill(&f, 0, out), 0);
    fa_buf_free(&f.body);
    fa_buf_free(&f.coded[FA_CODING_GZIP]);
}

/* Issues a get and runs the loop until its callback; returns the result. */
static fa_l2_result get_now(env *e, const char *key, got *g) {
    g->calls = 0;
    assert_int_equal(fa_l2_get(e->conn, key, on_got, g), 0);
    assert_int_equal(g->calls, 0); /* never from inside fa_l2_get */
    assert_true(run_until(e, &g->calls, 1, 2));
    assert_int_equal(g->calls, 1);
    return g->result;
}

static void put_now(env *e, const char *key, const fa_buf *blob, int ttl, const char *const *tags,
                    const uint64_t *versions, size_t ntags) {
    fa_l2_stats s = stats(e);
    assert_int_equal(fa_l2_put(e->conn, key, blob->data, blob->len, ttl, tags, versions, ntags), 0);
    settle_puts(e, s.sets + s.stale_sets + s.errors + s.timeouts + 1);
}

#if FA_WITH_REDIS
/* A direct look at the server, bypassing the L2 client. */
static long long raw_int(env *e, const char *fmt, const char *arg) {
    redisContext *c = redisConnectWithTimeout("127.0.0.1", e->port, (struct timeval){1, 0});
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, "SELECT 3");
    freeReplyObject(r);
    r = redisCommand(c, fmt, arg);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER  ? r->integer
                  : r->type == REDIS_REPLY_STRING ? atoll(r->str)
                  : r->type == REDIS_REPLY_NIL    ? -100
                                                  : -200;
    freeReplyObject(r);
    redisFree(c);
    return v;
}
#else
static long long raw_int(env *e, const char *fmt, const char *arg) {
    (void)e, (void)fmt, (void)arg;
    return -300;
}
#endif

/* ---------------------------------------------------------------- tests */

static void test_url_parse(void **state) {
    (void)state;
    fa_l2_url u;
    assert_int_equal(fa_l2_url_parse("redis://127.0.0.1:6380/2", &u), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
    assert_int_equal(fa_l2_url_parse("redis://cache-1.internal", &u), 0);
    assert_string_equal(u.host, "cache-1.internal");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(fa_l2_url_parse("redis://[::1]:7000", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    struct {
        const char *text, *msg;
    } bad[] = {
        {"http://x", "redis url: offset 0: expected \"redis://\""},
        {"redis://", "redis url: offset 8: expected a host"},
        {"redis://h:0", "redis url: offset 10: expected a port in 1..65535"},
        {"redis://h:65536", "redis url: offset 10: expected a port in 1..65535"},
        {"redis://h:", "redis url: offset 10: expected a port in 1..65535"},
        {"redis://h/x", "redis url: offset 10: expected a database number in 0..65535"},
        {"redis://u:p@h", "redis url: offset 10: expected a port in 1..65535"},
        {"redis://h:1/2?x=1", "redis url: offset 13: unexpected '?'"},
        {"redis://[::1", "redis url: offset 12: expected an IPv6 address and ']'"},
        {"redis://h:1234567", "redis url: offset 10: expected a port in 1..65535"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(fa_l2_url_parse(bad[i].text, &u), FA_EINVAL);
        assert_string_equal(fa_err_msg(), bad[i].msg);
    }
}

static void test_config_and_no_redis(void **state) {
    (void)state;
    fa_l2_config c;
    fa_l2_config_default(&c);
    assert_string_equal(c.url, "redis://127.0.0.1:6379/0");
    assert_string_equal(c.prefix, "fa:");
    assert_true(c.timeout_s == 0.02);
    assert_string_equal(c.breaker.name, "redis");
#if FA_WITH_REDIS
    c.url = "redis://h:99999";
    assert_null(fa_l2_new(&c));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    c.url = NULL;
    c.timeout_s = 0;
    assert_null(fa_l2_new(&c));
    assert_string_equal(fa_err_msg(), "l2 config: timeout_s 0 and connect_timeout_s 0.5 must be > 0");
    c.timeout_s = 0.02;
    c.prefix = "a b";
    assert_null(fa_l2_new(&c));
    assert_string_equal(fa_err_msg(), "l2 config: prefix byte 0x20 at 1 not allowed");
#else
    assert_null(fa_l2_new(&c));
    assert_int_equal(fa_err_code(), FA_EUSAGE);
    assert_string_equal(fa_err_msg(), "l2: built without Redis support");
#endif
}

static void test_miss_put_hit(void **state) {
    env *e = *state;
    REQUIRE_SERVER(e);
    got g = {0};
    fa_l2_stats s0 = stats(e);
    assert_int_equal(get_now(e, "/v1/matches/1", &g), FA_L2_MISS);
    const char *tags[] = {"match:1", "team:217"};
    uint64_t versions[] = {0, 0};
    fa_buf blob = {0};
    make_blob(&blob, "{\"match\":1}", tags, 2);
    put_now(e, "/v1/matches/1", &blob, 60, tags, versions, 2);
    assert_int_equal(get_now(e, "/v1/matches/1", &g), FA_L2_HIT);
    assert_int_equal(g.blob.len, blob.len);
    assert_memory_equal(g.blob.data, blob.data, blob.len);
    fa_l2_stats s1 = stats(e);
    assert_int_equal(s1.misses - s0.misses, 1);
    assert_int_equal(s1.hits - s0.hits, 1);
    assert_int_equal(s1.sets - s0.sets, 1);
    assert_int_equal(s1.bytes_read - s0.bytes_read, blob.len);
    /* Stored with its TTL, and listed in each tag's member set, which lives at least as long. */
    long long ttl = raw_int(e, "TTL %s", "fatest:/v1/matches/1");
    assert_true(ttl > 55 && ttl <= 60);
    assert_int_equal(raw_int(e, "SISMEMBER fatest:tagk:team:217 %s", "fatest:/v1/matches/1"), 1);
    assert_true(raw_int(e, "TTL %s", "fatest:tagk:team:217") >= ttl);
    /* The blob decodes as what was put. */
    fa_cache_fill f;
    memset(&f, 0, sizeof f);
    assert_int_equal(fa_l2_decode(g.blob.data, g.blob.len, "l2 test", &f, NULL), 0);
    assert_int_equal(f.body.len, 11);
    assert_string_equal(f.tags[1], "team:217");
    fa_buf_free(&f.body);
    for (int c = 0; c < FA_CODING_COUNT; c++) fa_buf_free(&f.coded[c]);
    /* Bad calls are refused at once. */
    assert_int_equal(fa_l2_get(e->conn, "", on_got, &g), FA_EINVAL);
    assert_int_equal(fa_l2_put(e->conn, "k", blob.data, blob.len, 0, tags, versions, 2), FA_EINVAL);
    const char *bad_tags[] = {"match 1"};
    assert_int_equal(fa_l2_put(e->conn, "k", blob.data, blob.len, 5, bad_tags, versions, 1), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "l2: tag 0: byte 0x20 at 5 not allowed");
    fa_buf_free(&blob);
    fa_buf_free(&g.blob);
}

static void test_stale_put_not_stored(void **state) {
    env *e = *state;
    REQUIRE_SERVER(e);
    const char *tags[] = {"team:9"};
    uint64_t v[1];
    int before = e->invalidations;
    assert_int_equal(fa_l2_purge(e->l2, tags, 1, 1.0, v), 0); /* team:9 moves to 1 */
    assert_int_equal(v[0], 1);
    assert_true(run_until(e, &e->invalidations, before + 1, 2)); /* the subscriber heard it */
    fa_buf blob = {0};
    make_blob(&blob, "{\"team\":9}", tags, 1);
    fa_l2_stats s0 = stats(e);
    uint64_t stale[] = {0};
    e->last_tag[0] = '\0';
    put_now(e, "/v1/teams/9", &blob, 60, tags, stale, 1);
    assert_int_equal(stats(e).stale_sets - s0.stale_sets, 1);
    /* the refusal taught the filler Redis's version (a node that missed the purge catches up) */
    assert_int_equal(e->invalidations, before + 2);
    assert_string_equal(e->last_tag, "team:9");
    assert_int_equal(e->last_version, 1);
    got g = {0};
    assert_int_equal(get_now(e, "/v1/teams/9", &g), FA_L2_MISS);
    uint64_t current[] = {1};
    put_now(e, "/v1/teams/9", &blob, 60, tags, current, 1);
    assert_int_equal(stats(e).sets - s0.sets, 1);
    assert_int_equal(get_now(e, "/v1/teams/9", &g), FA_L2_HIT);
    fa_buf_free(&blob);
    fa_buf_free(&g.blob);
}

static void test_purge_invalidates(void **state) {
    env *e = *state;
    REQUIRE_SERVER(e);
    const char *t_match[] = {"match:7"}, *t_both[] = {"match:7", "team:3"}, *t_team[] = {"team:3"};
    uint64_t zeros[] = {0, 0};
    fa_buf blob = {0};
    make_blob(&blob, "{}", t_both, 2);
    put_now(e, "/a", &blob, 60, t_match, zeros, 1);
    put_now(e, "/b", &blob, 60, t_both, zeros, 2);
    put_now(e, "/c", &blob, 60, t_team, zeros, 1);
    int before = e->invalidations;
    uint64_t v[1] = {0};
    fa_l2_stats s0 = stats(e);
    assert_int_equal(fa_l2_purge(e->l2, t_match, 1, 1.0, v), 0);
    assert_int_equal(v[0], 1);
    assert_int_equal(stats(e).purges - s0.purges, 1);
    assert_true(run_until(e, &e->invalidations, before + 1, 2));
    assert_string_equal(e->last_tag, "match:7");
    assert_int_equal(e->last_version, 1);
    got g = {0};
    assert_int_equal(get_now(e, "/a", &g), FA_L2_MISS);
    assert_int_equal(get_now(e, "/b", &g), FA_L2_MISS);
    assert_int_equal(get_now(e, "/c", &g), FA_L2_HIT);
    assert_int_equal(raw_int(e, "EXISTS %s", "fatest:tagk:match:7"), 0);
    assert_int_equal(raw_int(e, "GET %s", "fatest:tagv:match:7"), 1);
    /* Two tags in one call: both bump, one message each. */
    const char *two[] = {"match:7", "team:3"};
    uint64_t v2[2] = {0, 0};
    assert_int_equal(fa_l2_purge(e->l2, two, 2, 1.0, v2), 0);
    assert_int_equal(v2[0], 2);
    assert_int_equal(v2[1], 1);
    assert_true(run_until(e, &e->invalidations, before + 3, 2));
    assert_string_equal(e->last_tag, "team:3");
    assert_int_equal(get_now(e, "/c", &g), FA_L2_MISS);
    /* Refusals. */
    assert_int_equal(fa_l2_purge(e->l2, two, 0, 1.0, NULL), FA_EINVAL);
    assert_int_equal(fa_l2_purge(e->l2, two, 1, 0, NULL), FA_EINVAL);
    fa_buf_free(&blob);
    fa_buf_free(&g.blob);
}

static void test_pipelined_gets(void **state) {
    env *e = *state;
    REQUIRE_SERVER(e);
    fa_buf blob = {0};
    make_blob(&blob, "[1,2,3]", NULL, 0);
    char key[32];
    for (int i = 0; i < 100; i += 2) {
        snprintf(key, sizeof key, "/p/%d", i);
        assert_int_equal(fa_l2_put(e->conn, key, blob.data, blob.len, 60, NULL, NULL, 0), 0);
    }
    fa_l2_stats s0 = stats(e);
    got g[100];
    memset(g, 0, sizeof g);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "/p/%d", i);
        assert_int_equal(fa_l2_get(e->conn, key, on_got, &g[i]), 0);
    }
    int done = 0;
    double until = fa_clock_now() + 2;
    while (done < 100 && fa_clock_now() < until) {
        step(e);
        done = 0;
        for (int i = 0; i < 100; i++) done += g[i].calls;
    }
    assert_int_equal(done, 100);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].result, i % 2 ? FA_L2_MISS : FA_L2_HIT);
        if (i % 2 == 0) assert_memory_equal(g[i].blob.data, blob.data, blob.len);
        fa_buf_free(&g[i].blob);
    }
    fa_l2_stats s1 = stats(e);
    assert_int_equal(s1.hits - s0.hits, 50);
    assert_int_equal(s1.misses - s0.misses, 50);
    assert_int_equal(s1.sets - s0.sets, 50); /* the puts went first on the same connection */
    fa_buf_free(&blob);
}

/* A second conn freed with gets in flight: each callback fires with ERROR before free returns. */
static void test_free_with_pending(void **state) {
    env *e = *state;
    REQUIRE_SERVER(e);
    fa_l2_conn *c = fa_l2_conn_new(e->l2, fa_io_epoll_loop(e->loop), 0);
    assert_non_null(c);
    assert_int_equal(fa_l2_conn_ready(c), 0);
    got g = {0};
    assert_int_equal(fa_l2_get(c, "/x", on_got, &g), FA_EUNAVAIL); /* still connecting */
    fa_io_loop *io = fa_io_epoll_loop(e->loop);
    double until = fa_clock_now() + 2;
    while (!fa_l2_conn_ready(c) && fa_clock_now() < until) {
        fa_io_epoll_run_once(e->loop, 0.01);
        fa_l2_conn_tick(c, io->now(io->ud));
    }
    assert_int_equal(fa_l2_conn_ready(c), 1);
    got many[3]; /* fewer than the breaker's threshold */
    memset(many, 0, sizeof many);
    for (int i = 0; i < 3; i++) assert_int_equal(fa_l2_get(c, "/x", on_got, &many[i]), 0);
    fa_l2_conn_free(c);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(many[i].calls, 1);
        assert_int_equal(many[i].result, FA_L2_ERROR);
    }
    /* Those failures count for the breaker: make sure it is closed again for the next tests. */
    for (int i = 0; i < 3; i++) assert_int_equal(get_now(e, "/x", &g), FA_L2_MISS);
    assert_int_equal(fa_breaker_state_get(fa_l2_breaker(e->l2)), FA_BREAKER_CLOSED);
    fa_buf_free(&g.blob);
}

/* Tries a get on every loop step until one is let through and answered. */
static fa_l2_result get_when_allowed(env *e, const char *key, got *g, double timeout_s) {
    double until = fa_clock_now() + timeout_s;
    g->calls = 0;
    while (fa_clock_now() < until) {
        if (fa_l2_get(e->conn, key, on_got, g) == 0) {
            assert_true(run_until(e, &g->calls, 1, 2));
            return g->result;
        }
        step(e);
    }
    fail_msg("no get was let through within %g s: %s", timeout_s, fa_err_msg());
    return FA_L2_ERROR;
}

static void test_stop_opens_breaker_cont_closes(void **state) {
    env *e = *state;
    REQUIRE_SERVER(e);
    fa_breaker *b = fa_l2_breaker(e->l2);
    fa_buf blob = {0};
    make_blob(&blob, "{\"kept\":true}", NULL, 0);
    put_now(e, "/kept", &blob, 60, NULL, NULL, 0);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_CLOSED);
    fa_l2_stats s0 = stats(e);
    int resyncs0 = e->resyncs;

    assert_int_equal(kill(e->pid, SIGSTOP), 0);
    got g[8];
    memset(g, 0, sizeof g);
    double t0 = fa_clock_now();
    for (int i = 0; i < 8; i++) assert_int_equal(fa_l2_get(e->conn, "/kept", on_got, &g[i]), 0);
    int done = 0;
    while (done < 8 && fa_clock_now() - t0 < TIMEOUT_S + SLACK_S + 1) {
        step(e);
        done = 0;
        for (int i = 0; i < 8; i++) done += g[i].calls;
    }
    double took = fa_clock_now() - t0;
    assert_int_equal(done, 8);
    assert_true(took >= TIMEOUT_S - 0.005);
    assert_true(took <= TIMEOUT_S + SLACK_S);
    for (int i = 0; i < 8; i++) assert_int_equal(g[i].result, FA_L2_ERROR);
    assert_int_equal(stats(e).timeouts - s0.timeouts, 8);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_OPEN);
    /* Refused at once now, without a callback. */
    got refused = {0};
    uint64_t unavailable0 = stats(e).unavailable;
    assert_int_equal(fa_l2_get(e->conn, "/kept", on_got, &refused), FA_EUNAVAIL);
    assert_int_equal(fa_l2_put(e->conn, "/kept", blob.data, blob.len, 60, NULL, NULL, 0), FA_EUNAVAIL);
    assert_int_equal(stats(e).unavailable - unavailable0, 2);
    const char *tag[] = {"match:1"};
    assert_int_equal(fa_l2_purge(e->l2, tag, 1, 0.5, NULL), FA_EUNAVAIL);
    for (int i = 0; i < 5; i++) step(e); /* reconnect attempts while stopped go nowhere */
    assert_int_equal(refused.calls, 0);

    assert_int_equal(kill(e->pid, SIGCONT), 0);
    got ok = {0};
    assert_int_equal(get_when_allowed(e, "/kept", &ok, 3), FA_L2_HIT);
    assert_true(fa_clock_now() - t0 >= OPEN_S); /* not before the cool-down */
    assert_memory_equal(ok.blob.data, blob.data, blob.len);
    assert_int_equal(fa_breaker_state_get(b), FA_BREAKER_CLOSED);
    assert_true(run_until_ready(e, 2));
    /* A paused Redis lost no message: the subscription stayed, and carries on. */
    assert_int_equal(e->resyncs, resyncs0);
    int before = e->invalidations;
    assert_int_equal(fa_l2_purge(e->l2, tag, 1, 1.0, NULL), 0);
    assert_true(run_until(e, &e->invalidations, before + 1, 2));
    assert_string_equal(e->last_tag, "match:1");
    for (int i = 0; i < 8; i++) fa_buf_free(&g[i].blob);
    fa_buf_free(&ok.blob);
    fa_buf_free(&blob);
}

static void test_restart_reconnects(void **state) {
    env *e = *state;
    REQUIRE_SERVER(e);
    int resyncs0 = e->resyncs;
    fa_l2_stats s0 = stats(e);
    stop_server(e);
    for (int i = 0; i < 10; i++) step(e); /* notices EOF on both links */
    assert_int_equal(fa_l2_conn_ready(e->conn), 0);
    got g = {0};
    assert_int_equal(fa_l2_get(e->conn, "/kept", on_got, &g), FA_EUNAVAIL);
    assert_int_equal(start_server(e), 0);
    assert_true(run_until_ready(e, 3));
    assert_true(e->resyncs > resyncs0);
    assert_true(stats(e).connects > s0.connects);
    /* A fresh server: empty, and the put script had to be loaded again. */
    assert_int_equal(get_when_allowed(e, "/kept", &g, 3), FA_L2_MISS);
    fa_buf blob = {0};
    make_blob(&blob, "{\"after\":\"restart\"}", NULL, 0);
    fa_l2_stats s1 = stats(e);
    put_now(e, "/kept", &blob, 60, NULL, NULL, 0);
    assert_int_equal(stats(e).sets - s1.sets, 1);
    assert_int_equal(get_now(e, "/kept", &g), FA_L2_HIT);
    assert_memory_equal(g.blob.data, blob.data, blob.len);
    /* And invalidations flow again. */
    int before = e->invalidations;
    const char *tag[] = {"player:5503"};
    assert_int_equal(fa_l2_purge(e->l2, tag, 1, 1.0, NULL), 0);
    assert_true(run_until(e, &e->invalidations, before + 1, 2));
    assert_string_equal(e->last_tag, "player:5503");
    assert_int_equal(e->last_version, 1);
    /* Versions that Redis lost with its data are adopted from the filler,
     * so puts under tags purged before the restart are not refused forever. */
    const char *t7[] = {"match:7"};
    uint64_t v7[] = {2};
    fa_l2_stats s2 = stats(e);
    put_now(e, "/after", &blob, 60, t7, v7, 1);
    assert_int_equal(stats(e).sets - s2.sets, 1);
    assert_int_equal(raw_int(e, "GET %s", "fatest:tagv:match:7"), 2);
    uint64_t v6[] = {1};
    put_now(e, "/after", &blob, 60, t7, v6, 1);
    assert_int_equal(stats(e).stale_sets - s2.stale_sets, 1);
    fa_buf_free(&blob);
    fa_buf_free(&g.blob);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),          cmocka_unit_test(test_config_and_no_redis),
        cmocka_unit_test(test_miss_put_hit),       cmocka_unit_test(test_stale_put_not_stored),
        cmocka_unit_test(test_purge_invalidates),  cmocka_unit_test(test_pipelined_gets),
        cmocka_unit_test(test_free_with_pending),  cmocka_unit_test(test_stop_opens_breaker_cont_closes),
        cmocka_unit_test(test_restart_reconnects),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
