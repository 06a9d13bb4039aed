/*
 * bench_api.c - issue 4's API benchmark: the real `footanalytics serve` on
 * L1 hits, on L2 hits and cold (handler + SQLite store), against nginx
 * serving the very same response bytes as static files, in the same run on
 * the same machine. A benchmark, not a test: it prints figures and exits 0
 * unless something could not run.
 *
 * What it does, and why that way:
 *   - Real data through the real CLI: a fresh database in a temporary
 *     directory, filled by `footanalytics import` with both StatsBomb sample
 *     matches, Metrica's EPTS tracking excerpt and the Last-Row clip (the
 *     handler tests' set), so every route below has something to compute.
 *   - A realistic URL set (a match, its events page, stats, players,
 *     heatmaps, pass network, possession, a tracking window, pitch control,
 *     a player season, the matches list), cycled by a small wrk Lua script
 *     so several cache keys and body sizes (0.1 to 22 KB) are hit.
 *   - The anchor gets exactly our bytes: each body is fetched from our
 *     server (identity) and written under nginx's root, one file per URL
 *     (query string included, via try_files), served with
 *     default_type application/json; the bench checks byte equality.
 *     nginx is our own instance (1 worker, sendfile, open_file_cache,
 *     access_log off), as in bench_http.c.
 *   - Per-core figures: every server (ours and nginx) is pinned to
 *     --server-cpu, wrk / h2load to --client-cpu and redis-server to
 *     --redis-cpu (default: the client CPU), so the L2 scenario's Redis work
 *     is not charged to the server core (its CPU share is printed). Each
 *     run also prints the client CPU's use (near 100 % with the server
 *     below it: the client was the limit) and what else ran on the server
 *     CPU (other processes, the hypervisor's steal): the machine is shared,
 *     so figures come as medians, best runs, req/s per server CPU-second
 *     and the median of per-run ours / nginx pairs (runs alternate, so a
 *     pair saw the same machine).
 *   - Three servers, one per scenario: L1 (default caches), L2
 *     (--redis against a redis-server started here, --l1-max-ttl 0.001 so
 *     L1 entries live 1 ms and requests fall through to Redis - at ~100 k
 *     req/s over 12 keys a 1 ms entry still answers the requests of its
 *     millisecond, so about a third of the requests are L2 hits, the rest
 *     1 ms-old L1 hits; /metrics gives the exact split, and the L2 server's
 *     timeouts, errors and breaker state, printed per run), cold (--no-l1:
 *     every request runs its handler). --redis-timeout is passed to the L2
 *     server when given (the server's 20 ms default can trip its breaker
 *     under this load; the summary warns when no L2 hit was measured).
 *     Runs alternate nginx / L1 / L2 after a warm-up; the cold path is
 *     measured under load (wrk, fewer connections) and per URL over one
 *     keep-alive connection (p50 / p95 / p99 of N requests: the service
 *     time of one request, free of queueing behind others on one core).
 *   - HTTP/2 with h2load (prior knowledge, h2c) against nginx
 *     (`listen ... http2`) and against ours when it answers h2c; skipped
 *     with a reason when h2load is missing.
 *   - Memory under load: VmHWM / VmRSS of each server right after its runs.
 *
 * Clean-up on every exit path: children are started through spawn(), which
 * records them; a SIGINT / SIGTERM handler only forwards SIGTERM to the
 * recorded children and sets a flag, every step checks the flag, and main
 * always ends in teardown() (stop the servers, nginx and Redis, remove the
 * temporary directory). PR_SET_PDEATHSIG covers a bench killed outright.
 *
 * usage: see help() below (bench_api --help).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, pipe2 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "core/core.h"

#define MAX_RUNS 20
#define MAX_CHILDREN 16
#define PATH_BYTES 1024

/* The URL set: ids are those of the fresh database (import order below):
 * 1 StatsBomb 15986 (Barcelona - Girona), 2 StatsBomb 3788741, 3 Metrica
 * EPTS excerpt (tracking), 4 Last-Row clip (tracking); 5503 is Messi. */
static const char *const api_urls[] = {
    "/v1/matches",
    "/v1/matches/1",
    "/v1/matches/1/events",
    "/v1/matches/1/stats",
    "/v1/matches/1/players",
    "/v1/matches/3/heatmaps",
    "/v1/matches/1/pass-network?side=home",
    "/v1/matches/1/possession",
    "/v1/matches/3/tracking?period=1&from=0&to=1.96&rate=5",
    "/v1/matches/3/pitch-control?period=1&t=1",
    "/v1/players/5503/season?metric=passes,shots,distance_m",
    "/v1/matches/2/stats",
};
#define N_URLS (sizeof api_urls / sizeof *api_urls)

/* Files imported, relative to the data directory; the first two are required. */
static const char *const import_files[] = {
    "events/statsbomb/15986_event.json",
    "events/statsbomb/3788741_event.json",
    "tracking/metrica/epts_excerpt_metadata.xml",
    "tracking/lastrow/LIV_2-1_CHE.csv",
};
#define N_IMPORT (sizeof import_files / sizeof *import_files)

typedef struct options {
    double duration;
    int connections, cold_connections, cold_requests, runs, server_cpu, client_cpu;
    int redis_cpu; /* -1: not pinned; default: the client CPU */
    char bin[PATH_BYTES], nginx[PATH_BYTES], wrk[PATH_BYTES], h2load[PATH_BYTES], redis[PATH_BYTES];
    char data[PATH_BYTES];
    char redis_timeout[32]; /* --redis-timeout for the L2 server; "" leaves the server's default */
    int have_h2load;
} options;

/* ---------------------------------------------------------------- children and signals */

/* The one piece of global state, because a signal handler has no other way
 * to reach the children: the pids spawn() started and not yet reaped, and
 * the signal that asked us to stop (0 while none did). */
static volatile sig_atomic_t child_pids[MAX_CHILDREN];
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
    stop_signal = sig;
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (child_pids[i] > 0) kill((pid_t)child_pids[i], SIGTERM);
}

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int stopped(void) {
    if (stop_signal) fprintf(stderr, "bench_api: stopped by signal %d, cleaning up\n", (int)stop_signal);
    return stop_signal != 0;
}

static void remember_child(pid_t pid) {
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (child_pids[i] == 0) {
            child_pids[i] = pid;
            return;
        }
}

static void forget_child(pid_t pid) {
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (child_pids[i] == pid) child_pids[i] = 0;
}

static int pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

/* Starts argv[0] (a path) with stdout on out_fd and stderr on err_fd (-1:
 * inherited), pinned to cpu (-1: not pinned); it gets SIGTERM if we die.
 * The pid, recorded for clean-up, or -1. */
static pid_t spawn(char *const argv[], int cpu, int out_fd, int err_fd) {
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
        if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
        if (cpu >= 0 && pin_to(cpu)) fprintf(stderr, "cannot pin to CPU %d: %s\n", cpu, strerror(errno));
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        return -1;
    }
    remember_child(pid);
    return pid;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* SIGTERM, up to 5 s to exit, then SIGKILL; reaps and forgets the child. */
static void stop_child(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) {
            forget_child(pid);
            return;
        }
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    forget_child(pid);
}

/* Runs argv to completion (killed past timeout_s), its stdout and stderr
 * into *out; returns its exit status, or -1 when it could not run or was
 * killed. */
static int run_capture(char *const argv[], int cpu, double timeout_s, fa_buf *out) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) return -1;
    pid_t pid = spawn(argv, cpu, fds[1], fds[1]);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    double deadline = fa_clock_now() + timeout_s;
    int killed = 0;
    for (;;) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int r = poll(&p, 1, 250);
        if (r > 0) {
            char chunk[8192];
            ssize_t n = read(fds[0], chunk, sizeof chunk);
            if (n > 0) {
                fa_buf_append(out, chunk, (size_t)n);
                continue;
            }
            if (n == 0 || errno != EINTR) break;
        }
        if (!killed && fa_clock_now() > deadline) {
            fprintf(stderr, "%s: still running after %.0f s, killed\n", argv[0], timeout_s);
            kill(pid, SIGKILL);
            killed = 1;
        }
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    forget_child(pid);
    if (!out->data) fa_buf_puts(out, "");
    return killed || !WIFEXITED(status) ? -1 : WEXITSTATUS(status);
}

/* ---------------------------------------------------------------- /proc */

/* CPU seconds (user + system, all threads) of a process. */
static double proc_cpu(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Name:  N kB" field of /proc/PID/status, in MiB (-1 when unreadable). */
static double proc_status_mib(pid_t pid, const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    double mib = -1;
    size_t len = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            mib = strtod(line + len + 1, NULL) / 1024;
            break;
        }
    if (f) fclose(f);
    return mib;
}

/* Busy seconds of one CPU (all but idle and iowait; steal included) and
 * its steal seconds alone, from /proc/stat. */
static double cpu_busy(int cpu, double *steal) {
    char want[16], line[512];
    unsigned long long v[8] = {0};
    snprintf(want, sizeof want, "cpu%d ", cpu);
    FILE *f = fopen("/proc/stat", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, want, strlen(want)) == 0) {
            sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
            break;
        }
    if (f) fclose(f);
    double tick = (double)sysconf(_SC_CLK_TCK);
    *steal = (double)v[7] / tick;
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick;
}

/* nginx's worker: the master's only child. */
static pid_t nginx_worker(pid_t master) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)master, (int)master);
    FILE *f = fopen(path, "r");
    int child = -1;
    if (f) {
        if (fscanf(f, "%d", &child) != 1) child = -1;
        fclose(f);
    }
    return child;
}

/* ---------------------------------------------------------------- a small HTTP/1.1 client */

typedef struct http_reply {
    int status;
    fa_buf head, body;
} http_reply;

static void reply_free(http_reply *r) {
    fa_buf_free(&r->head);
    fa_buf_free(&r->body);
}

static int tcp_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The value of header name in a response head, into out[size] ("" when absent). */
static const char *header_value(const char *head, const char *name, char *out, size_t size) {
    size_t len = strlen(name);
    out[0] = '\0';
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, len) || line[2 + len] != ':') continue;
        const char *v = line + 3 + len;
        while (*v == ' ') v++;
        size_t n = strcspn(v, "\r\n");
        snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), v);
        break;
    }
    return out;
}

/* Offset just past the blank line ending the head, 0 while incomplete. */
static size_t head_end(const fa_buf *b) {
    const char *p = b->len >= 4 ? memmem(b->data, b->len, "\r\n\r\n", 4) : NULL;
    return p ? (size_t)(p - b->data) + 4 : 0;
}

static int recv_more(int fd, fa_buf *into) {
    char chunk[16384];
    for (;;) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR && !stop_signal) continue;
        if (n <= 0) return n == 0 ? 0 : -1;
        return fa_buf_append(into, chunk, (size_t)n) ? -1 : 1;
    }
}

/* Reads one response (Content-Length framed, or up to EOF without one). */
static int read_reply(int fd, http_reply *r) {
    fa_buf_reset(&r->head);
    fa_buf_reset(&r->body);
    size_t end;
    while ((end = head_end(&r->head)) == 0)
        if (recv_more(fd, &r->head) <= 0) return -1;
    if (fa_buf_append(&r->body, r->head.data + end, r->head.len - end)) return -1;
    r->head.len = end;
    r->head.data[end] = '\0';
    char v[64];
    if (sscanf(r->head.data, "HTTP/1.%*d %d", &r->status) != 1) return -1;
    if (*header_value(r->head.data, "Transfer-Encoding", v, sizeof v)) return -1; /* not expected here */
    long want = *header_value(r->head.data, "Content-Length", v, sizeof v) ? strtol(v, NULL, 10) : -1;
    while (want < 0 || r->body.len < (size_t)want) {
        int got = recv_more(fd, &r->body);
        if (got < 0 || (got == 0 && want >= 0)) return -1;
        if (got == 0) break;
    }
    if (!r->body.data) fa_buf_puts(&r->body, "");
    return want < 0 || r->body.len == (size_t)want ? 0 : -1;
}

/* One GET on an open keep-alive connection. */
static int http_get_on(int fd, const char *target, http_reply *r) {
    char req[1024];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", target);
    if (n < 0 || (size_t)n >= sizeof req || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) return -1;
    return read_reply(fd, r);
}

/* One GET on a fresh connection; the reply's status, or -1. */
static int http_get(int port, const char *target, http_reply *r) {
    int fd = tcp_connect(port);
    if (fd < 0) return -1;
    int rc = http_get_on(fd, target, r);
    close(fd);
    return rc ? -1 : r->status;
}

static int wait_http(int port, const char *target, double seconds) {
    http_reply r = {0};
    int status = -1;
    for (double end = fa_clock_now() + seconds; fa_clock_now() < end && !stop_signal; sleep_ms(20))
        if ((status = http_get(port, target, &r)) == 200) break;
    reply_free(&r);
    return status == 200 ? 0 : -1;
}

/* The value of a Prometheus sample `name{...label...} value` in text, or -1. */
static double metric_value(const char *text, const char *name, const char *label) {
    size_t len = strlen(name);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *close = strchr(line, '}'), *nl = strchr(line, '\n');
        if (strncmp(line, name, len) || line[len] != '{' || !close || (nl && close > nl)) continue;
        const char *lab = strstr(line, label);
        if (lab && lab < close) return strtod(close + 1, NULL);
    }
    return -1;
}

/* ---------------------------------------------------------------- the bench's state */

typedef struct server {
    const char *name;
    pid_t pid;
    int port;
} server;

typedef struct bench {
    options o;
    char dir[64];
    size_t body_bytes[N_URLS];
    server l1, l2, cold;
    pid_t nginx, redis;
    int nginx_port, nginx_h2_port, redis_port;
} bench;

static void path_in(const bench *b, const char *name, char *out, size_t size) {
    snprintf(out, size, "%s/%s", b->dir, name);
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static int open_log(const bench *b, const char *name) {
    char path[PATH_BYTES];
    path_in(b, name, path, sizeof path);
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

/* The whole of a small text file into *out (empty when unreadable). */
static void slurp(const char *path, fa_buf *out) {
    fa_buf_reset(out);
    FILE *f = fopen(path, "r");
    char chunk[4096];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0) fa_buf_append(out, chunk, n);
    if (f) fclose(f);
    if (!out->data) fa_buf_puts(out, "");
}

/* ---------------------------------------------------------------- data: import */

static int import_data(bench *b) {
    char db[PATH_BYTES], files[N_IMPORT][2 * PATH_BYTES];
    char *argv[8 + N_IMPORT];
    int argc = 0;
    path_in(b, "api.db", db, sizeof db);
    argv[argc++] = b->o.bin;
    argv[argc++] = "import";
    argv[argc++] = "--quiet";
    argv[argc++] = "--db";
    argv[argc++] = db;
    for (size_t i = 0; i < N_IMPORT; i++) {
        snprintf(files[i], sizeof files[i], "%s/%s", b->o.data, import_files[i]);
        if (access(files[i], R_OK) == 0)
            argv[argc++] = files[i];
        else if (i < 2) {
            fprintf(stderr, "bench_api: data file %s: %s (set --data or FA_DATA_DIR)\n", files[i],
                    strerror(errno));
            return -1;
        } else
            printf("note: %s not found, its routes will fail\n", files[i]);
    }
    argv[argc] = NULL;
    fa_buf out = {0};
    double t0 = fa_clock_now();
    int rc = run_capture(argv, -1, 300, &out);
    if (rc != 0)
        fprintf(stderr, "bench_api: `footanalytics import` failed (status %d):\n%s\n", rc, out.data);
    else
        printf("imported %d files into a fresh database in %.2f s\n", argc - 5, fa_clock_now() - t0);
    fa_buf_free(&out);
    return rc == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- our servers */

/* Polls NAME.out for "listening on http://127.0.0.1:PORT". */
static int wait_listening(const bench *b, server *s) {
    char out_path[PATH_BYTES], err_path[PATH_BYTES], name[64];
    snprintf(name, sizeof name, "serve-%s.out", s->name);
    path_in(b, name, out_path, sizeof out_path);
    snprintf(name, sizeof name, "serve-%s.err", s->name);
    path_in(b, name, err_path, sizeof err_path);
    fa_buf text = {0};
    int rc = -1;
    for (int i = 0; i < 1500 && !stop_signal; i++, sleep_ms(10)) {
        slurp(out_path, &text);
        const char *p = strstr(text.data, "listening on http://127.0.0.1:");
        if (p && (s->port = atoi(p + 30)) > 0) {
            rc = 0;
            break;
        }
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            forget_child(s->pid);
            s->pid = 0;
            break;
        }
    }
    if (rc) {
        slurp(err_path, &text);
        fprintf(stderr, "bench_api: server %s did not start listening:\n%s\n", s->name, text.data);
    }
    fa_buf_free(&text);
    return rc;
}

/* `footanalytics serve --db DB --port 0 --loops 1 --ip-rate 0 EXTRA...` pinned to the server CPU. */
static int start_server(bench *b, server *s, const char *name, char *const extra[]) {
    char db[PATH_BYTES], log[64];
    char *argv[20];
    int argc = 0;
    path_in(b, "api.db", db, sizeof db);
    char *base[] = {b->o.bin, "serve", "--db", db, "--port", "0", "--loops", "1", "--ip-rate", "0"};
    for (size_t i = 0; i < sizeof base / sizeof *base; i++) argv[argc++] = base[i];
    for (int i = 0; extra && extra[i] && argc < 19; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    s->name = name;
    snprintf(log, sizeof log, "serve-%s.out", name);
    int out = open_log(b, log);
    snprintf(log, sizeof log, "serve-%s.err", name);
    int err = open_log(b, log);
    s->pid = out >= 0 && err >= 0 ? spawn(argv, b->o.server_cpu, out, err) : -1;
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    if (s->pid < 0 || wait_listening(b, s)) return -1;
    return wait_http(s->port, "/healthz", 10);
}

/* ---------------------------------------------------------------- the anchor's files */

static int mkdir_p(const char *path) {
    char tmp[PATH_BYTES];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

/* Where nginx keeps url's body: www/f<path>/_<query> (see the try_files in write_nginx_conf). */
static void static_file(const bench *b, const char *url, char dir_out[PATH_BYTES],
                        char file_out[2 * PATH_BYTES]) {
    const char *q = strchr(url, '?');
    int plen = (int)(q ? (size_t)(q - url) : strlen(url));
    snprintf(dir_out, PATH_BYTES, "%s/www/f%.*s", b->dir, plen, url);
    snprintf(file_out, 2 * PATH_BYTES, "%s/_%s", dir_out, q ? q + 1 : "");
}

static int write_static(const bench *b, const char *url, const fa_buf *body) {
    char dir[PATH_BYTES], file[2 * PATH_BYTES];
    static_file(b, url, dir, file);
    if (mkdir_p(dir)) return -1;
    FILE *f = fopen(file, "wb");
    if (!f) return -1;
    size_t n = fwrite(body->data, 1, body->len, f);
    if (fclose(f) || n != body->len) return -1;
    return chmod(file, 0644);
}

/* Fetches every URL from our L1 server (identity) and writes it for nginx. */
static int mirror_bodies(bench *b) {
    http_reply r = {0};
    char type[128];
    int rc = 0;
    for (size_t i = 0; i < N_URLS && !rc; i++) {
        int status = http_get(b->l1.port, api_urls[i], &r);
        if (status != 200 ||
            strncmp(header_value(r.head.data, "Content-Type", type, sizeof type), "application/json", 16)) {
            fprintf(stderr, "bench_api: GET %s answered %d (%s): %.300s\n", api_urls[i], status, type,
                    r.body.data ? r.body.data : "");
            rc = -1;
        } else if (write_static(b, api_urls[i], &r.body)) {
            fprintf(stderr, "bench_api: cannot write the static copy of %s: %s\n", api_urls[i],
                    strerror(errno));
            rc = -1;
        }
        b->body_bytes[i] = r.body.len;
    }
    reply_free(&r);
    return rc;
}

/* nginx must answer every URL with our exact bytes and type. */
static int check_nginx_bytes(const bench *b) {
    http_reply ours = {0}, theirs = {0};
    char type[128];
    int rc = 0;
    for (size_t i = 0; i < N_URLS && !rc; i++) {
        int so = http_get(b->l1.port, api_urls[i], &ours), sn = http_get(b->nginx_port, api_urls[i], &theirs);
        header_value(theirs.head.data ? theirs.head.data : "", "Content-Type", type, sizeof type);
        if (so != 200 || sn != 200 || ours.body.len != theirs.body.len ||
            memcmp(ours.body.data, theirs.body.data, ours.body.len) || strcmp(type, "application/json")) {
            fprintf(
                stderr,
                "bench_api: nginx does not serve our bytes for %s (status %d / %d, %zu / %zu bytes, %s)\n",
                api_urls[i], so, sn, ours.body.len, theirs.body.len, type);
            rc = -1;
        }
    }
    reply_free(&ours);
    reply_free(&theirs);
    return rc;
}

/* ---------------------------------------------------------------- nginx */

static int write_nginx_conf(const bench *b) {
    char path[PATH_BYTES];
    path_in(b, "nginx.conf", path, sizeof path);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    const char *d = b->dir;
    fprintf(f,
            "worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/nginx-error.log warn;\n"
            "events { worker_connections 8192; }\n"
            "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n"
            "  keepalive_requests 100000000;\n  keepalive_timeout 65;\n"
            "  open_file_cache max=1000 inactive=60s;\n  open_file_cache_valid 60s;\n"
            "  client_body_temp_path %s/tmp;\n  proxy_temp_path %s/tmp;\n  fastcgi_temp_path %s/tmp;\n"
            "  uwsgi_temp_path %s/tmp;\n  scgi_temp_path %s/tmp;\n"
            "  types { }\n  default_type application/json;\n"
            "  server {\n    listen 127.0.0.1:%d;\n    listen 127.0.0.1:%d http2;\n    root %s/www;\n"
            "    location / { try_files /f$uri/_$args =404; }\n  }\n}\n",
            d, d, d, d, d, d, d, b->nginx_port, b->nginx_h2_port, d);
    return fclose(f);
}

static int start_nginx(bench *b) {
    char conf[PATH_BYTES], errlog[PATH_BYTES], tmp[PATH_BYTES];
    path_in(b, "nginx.conf", conf, sizeof conf);
    path_in(b, "nginx-error.log", errlog, sizeof errlog);
    path_in(b, "tmp", tmp, sizeof tmp);
    b->nginx_port = free_port();
    b->nginx_h2_port = free_port();
    if (mkdir_p(tmp) || write_nginx_conf(b)) return -1;
    char *argv[] = {b->o.nginx, "-p", b->dir, "-e", errlog, "-c", conf, NULL};
    int out = open_log(b, "nginx.out");
    b->nginx = spawn(argv, b->o.server_cpu, out, out);
    if (out >= 0) close(out);
    if (b->nginx > 0 && wait_http(b->nginx_port, api_urls[0], 10) == 0) return 0;
    fa_buf text = {0};
    slurp(errlog, &text);
    fprintf(stderr, "bench_api: nginx did not start or does not serve %s:\n%s\n", api_urls[0], text.data);
    fa_buf_free(&text);
    return -1;
}

/* ---------------------------------------------------------------- Redis */

static int redis_ping(int port) {
    int fd = tcp_connect(port);
    char buf[64] = "";
    ssize_t n = -1;
    if (fd >= 0 && send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) n = recv(fd, buf, sizeof buf - 1, 0);
    if (fd >= 0) close(fd);
    return n >= 5 && strncmp(buf, "+PONG", 5) == 0 ? 0 : -1;
}

/* redis-server on its own port, no persistence, pinned to the client CPU. */
static int start_redis(bench *b) {
    char port[16];
    b->redis_port = free_port();
    snprintf(port, sizeof port, "%d", b->redis_port);
    char *argv[] = {b->o.redis,     "--port", port,    "--bind", "127.0.0.1",   "--save", "",
                    "--appendonly", "no",     "--dir", b->dir,   "--daemonize", "no",     NULL};
    int out = open_log(b, "redis.log");
    b->redis = spawn(argv, b->o.redis_cpu, out, out);
    if (out >= 0) close(out);
    for (int i = 0; i < 500 && b->redis > 0 && !stop_signal; i++, sleep_ms(10))
        if (redis_ping(b->redis_port) == 0) return 0;
    fprintf(stderr, "bench_api: redis-server did not answer PING (see its log in %s)\n", b->dir);
    return -1;
}

/* ---------------------------------------------------------------- wrk */

/* The Lua script: cycles through the URL set, prints p50/p95/p99/max in us. */
static int write_wrk_script(const bench *b, const char *name, const char *const *urls, size_t n) {
    char path[PATH_BYTES];
    path_in(b, name, path, sizeof path);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "local paths = {\n");
    for (size_t i = 0; i < n; i++) fprintf(f, "  \"%s\",\n", urls[i]);
    fprintf(
        f, "}\nlocal reqs = {}\nlocal i = 0\n"
           "init = function(args)\n  for k, p in ipairs(paths) do reqs[k] = wrk.format(\"GET\", p) end\nend\n"
           "request = function()\n  i = i %% #reqs + 1\n  return reqs[i]\nend\n"
           "done = function(summary, latency, requests)\n"
           "  io.write(string.format(\"FA-LATENCY-US p50=%%d p95=%%d p99=%%d max=%%d\\n\",\n"
           "    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))\n"
           "end\n");
    return fclose(f);
}

typedef struct load_result {
    double rps, p50, p95, p99, max_ms, mean_ms;
    long requests, errors, non2xx;
} load_result;

static void parse_wrk(const char *out, load_result *r) {
    const char *p;
    double p50 = 0, p95 = 0, p99 = 0, mx = 0;
    if ((p = strstr(out, "Requests/sec:"))) r->rps = strtod(p + 13, NULL);
    if ((p = strstr(out, "FA-LATENCY-US")) &&
        sscanf(p, "FA-LATENCY-US p50=%lf p95=%lf p99=%lf max=%lf", &p50, &p95, &p99, &mx) == 4) {
        r->p50 = p50 / 1000;
        r->p95 = p95 / 1000;
        r->p99 = p99 / 1000;
        r->max_ms = mx / 1000;
    }
    if ((p = strstr(out, " requests in "))) {
        while (p > out && p[-1] >= '0' && p[-1] <= '9') p--;
        r->requests = strtol(p, NULL, 10);
    }
    long c = 0, rd = 0, w = 0, t = 0;
    if ((p = strstr(out, "Socket errors:")) &&
        sscanf(p, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &c, &rd, &w, &t) == 4)
        r->errors = c + rd + w + t;
    if ((p = strstr(out, "Non-2xx or 3xx responses:"))) r->non2xx = strtol(p + 26, NULL, 10);
}

/* wrk -t1 -cN -dS --latency -s SCRIPT against port, pinned to the client CPU. */
static int run_wrk(const bench *b, int port, const char *script, int conns, double seconds, int verbose,
                   load_result *r) {
    char c[32], d[32], s[PATH_BYTES], url[64];
    snprintf(c, sizeof c, "-c%d", conns);
    snprintf(d, sizeof d, "-d%.0fs", seconds);
    path_in(b, script, s, sizeof s);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    char *argv[] = {(char *)b->o.wrk, "-t1", c, d, "--latency", "-s", s, url, NULL};
    if (verbose)
        printf("  $ taskset -c %d wrk -t1 %s %s --latency -s %s %s\n", b->o.client_cpu, c, d, script, url);
    fflush(stdout);
    fa_buf out = {0};
    int rc = run_capture(argv, b->o.client_cpu, seconds + 30, &out);
    memset(r, 0, sizeof *r);
    parse_wrk(out.data, r);
    if (rc != 0 || r->rps <= 0) {
        if (!stop_signal) fprintf(stderr, "bench_api: wrk failed (status %d):\n%s\n", rc, out.data);
        rc = -1;
    }
    fa_buf_free(&out);
    return rc ? -1 : 0;
}

/* ---------------------------------------------------------------- h2load */

static double h2_ms(const char *s) {
    char unit[8] = "";
    double v = 0;
    if (sscanf(s, "%lf%7[a-z]", &v, unit) < 1) return 0;
    if (!strcmp(unit, "us")) return v / 1000;
    if (!strcmp(unit, "s")) return v * 1000;
    return v;
}

static void parse_h2load(const char *out, load_result *r) {
    const char *p;
    long total = 0, started = 0, done = 0, ok = 0, failed = 0, errored = 0;
    char mn[32], mx[32], mean[32];
    if ((p = strstr(out, "finished in ")) && (p = strchr(p, ','))) r->rps = strtod(p + 1, NULL);
    if ((p = strstr(out, "requests: ")) &&
        sscanf(p, "requests: %ld total, %ld started, %ld done, %ld succeeded, %ld failed, %ld errored",
               &total, &started, &done, &ok, &failed, &errored) == 6) {
        r->requests = ok;
        r->errors = failed + errored;
    }
    if ((p = strstr(out, "time for request:")) && sscanf(p + 17, "%31s %31s %31s", mn, mx, mean) == 3) {
        r->max_ms = h2_ms(mx);
        r->mean_ms = h2_ms(mean);
    }
}

/* h2load (HTTP/2 prior knowledge) over the URIs in file, or n requests when n > 0. */
static int run_h2load(const bench *b, const char *target, int n, int conns, double seconds, int verbose,
                      load_result *r) {
    char c[32], d[32], num[32], input[PATH_BYTES];
    snprintf(c, sizeof c, "-c%d", conns);
    snprintf(d, sizeof d, "%.0f", seconds);
    snprintf(num, sizeof num, "-n%d", n);
    char *argv[12];
    int argc = 0;
    argv[argc++] = (char *)b->o.h2load;
    argv[argc++] = "-t1";
    argv[argc++] = c;
    if (n > 0) {
        argv[argc++] = num;
        argv[argc++] = (char *)target;
    } else {
        path_in(b, target, input, sizeof input);
        argv[argc++] = "-m16";
        argv[argc++] = "-D";
        argv[argc++] = d;
        argv[argc++] = "-i";
        argv[argc++] = input;
    }
    argv[argc] = NULL;
    if (verbose)
        printf("  $ taskset -c %d h2load -t1 %s %s %s\n", b->o.client_cpu, c, n > 0 ? num : "-m16 -D",
               n > 0 ? target : d);
    fflush(stdout);
    fa_buf out = {0};
    int rc = run_capture(argv, b->o.client_cpu, (n > 0 ? 10 : seconds) + 30, &out);
    memset(r, 0, sizeof *r);
    parse_h2load(out.data, r);
    if (verbose > 1 || (rc != 0 && !stop_signal)) printf("%s\n", out.data);
    fa_buf_free(&out);
    return rc == 0 && r->rps > 0 ? 0 : -1;
}

static int write_h2_uris(const bench *b, const char *name, int port) {
    char path[PATH_BYTES];
    path_in(b, name, path, sizeof path);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (size_t i = 0; i < N_URLS; i++) fprintf(f, "http://127.0.0.1:%d%s\n", port, api_urls[i]);
    return fclose(f);
}

/* ---------------------------------------------------------------- series of runs */

typedef struct series {
    const char *name;
    int n;
    double rps[MAX_RUNS], p50[MAX_RUNS], p95[MAX_RUNS], p99[MAX_RUNS], mean[MAX_RUNS], cpu[MAX_RUNS],
        per_cpu[MAX_RUNS], side_cpu[MAX_RUNS];
    long requests, errors, non2xx;
} series;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n) {
    double tmp[MAX_RUNS];
    if (n < 1) return 0;
    memcpy(tmp, v, (size_t)n * sizeof *v);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static double best(const double *v, int n, int highest) {
    double x = n > 0 ? v[0] : 0;
    for (int i = 1; i < n; i++) x = highest ? (v[i] > x ? v[i] : x) : (v[i] < x ? v[i] : x);
    return x;
}

/* What one measurement runs: wrk (script) or h2load (uri file). */
typedef struct load {
    int port, conns, h2;
    const char *input;  /* wrk script or h2load URI file, in the temp dir */
    pid_t server, side; /* CPU measured: the server (nginx: its worker), and Redis (0: none) */
} load;

static void record(series *s, const load_result *r, double cpu, double side) {
    int i = s->n++;
    s->rps[i] = r->rps;
    s->p50[i] = r->p50;
    s->p95[i] = r->p95;
    s->p99[i] = r->p99;
    s->mean[i] = r->mean_ms;
    s->cpu[i] = cpu;
    s->side_cpu[i] = side;
    s->per_cpu[i] = cpu > 0 ? r->rps / (cpu / 100) : 0;
    s->requests += r->requests;
    s->errors += r->errors;
    s->non2xx += r->non2xx;
}

/* One measured run: the load's figures, the server's CPU share, the
 * client CPU's (near 100 % with the server below it: the client was the
 * limit), and what else ran on the server's CPU meanwhile (other
 * processes, or the hypervisor's steal): a run with much of either
 * measured the machine. */
static int measure(const bench *b, series *s, const load *l, double seconds, int verbose) {
    double st0, st1, cst, busy0 = cpu_busy(b->o.server_cpu, &st0), client0 = cpu_busy(b->o.client_cpu, &cst);
    double c0 = proc_cpu(l->server), r0 = l->side ? proc_cpu(l->side) : 0, w0 = fa_clock_now();
    load_result r;
    int rc = l->h2 ? run_h2load(b, l->input, 0, l->conns, seconds, verbose, &r)
                   : run_wrk(b, l->port, l->input, l->conns, seconds, verbose, &r);
    if (rc) return -1;
    double w = fa_clock_now() - w0;
    double cpu = 100 * (proc_cpu(l->server) - c0) / w,
           side = l->side ? 100 * (proc_cpu(l->side) - r0) / w : 0;
    double others = 100 * (cpu_busy(b->o.server_cpu, &st1) - busy0) / w - cpu, steal = 100 * (st1 - st0) / w;
    double client = 100 * (cpu_busy(b->o.client_cpu, &cst) - client0) / w;
    record(s, &r, cpu, side);
    if (l->h2)
        printf("  run %d %-22s %9.0f req/s  mean %6.2f ms                      server CPU %5.1f %%", s->n,
               s->name, r.rps, r.mean_ms, cpu);
    else
        printf("  run %d %-22s %9.0f req/s  p50 %6.2f  p95 %6.2f  p99 %6.2f ms  server CPU %5.1f %%", s->n,
               s->name, r.rps, r.p50, r.p95, r.p99, cpu);
    printf("  client CPU %5.1f %%  others %4.1f %%, steal %4.1f %%%s\n", client, others > 0 ? others : 0,
           steal, others > 10 || steal > 5 ? "  DISTURBED" : "");
    if (l->side) printf("        Redis CPU %5.1f %%\n", side);
    fflush(stdout);
    return 0;
}

/* Median of the per-run ratios a[i] / b[i]: runs alternate, so each pair
 * saw the same machine, which makes this the steadiest comparison. */
static double paired_ratio(const double *a, const double *b, int n) {
    double r[MAX_RUNS];
    for (int i = 0; i < n; i++) r[i] = b[i] > 0 ? a[i] / b[i] : 0;
    return median(r, n);
}

/* ---------------------------------------------------------------- reports */

static void print_load(const char *when) {
    double load3[3];
    if (getloadavg(load3, 3) == 3)
        printf("load average %s: %.2f %.2f %.2f\n", when, load3[0], load3[1], load3[2]);
}

static void print_header(const char *title) {
    printf("\n%s\n%-24s %10s %10s %7s %7s %7s %7s %6s %11s %9s %9s %9s\n", title, "scenario", "req/s med",
           "req/s best", "p50 ms", "p95 ms", "p99 ms", "p99 best", "CPU %", "req/s/CPU-s", "x nginx",
           "x n/CPU", "err/non2xx");
    printf("(x nginx: ours / nginx median req/s; x n/CPU: the same per server CPU-second)\n");
}

static void print_row(const series *s, const series *anchor) {
    double rps = median(s->rps, s->n), per = median(s->per_cpu, s->n);
    double arps = anchor ? median(anchor->rps, anchor->n) : 0,
           aper = anchor ? median(anchor->per_cpu, anchor->n) : 0;
    printf("%-24s %10.0f %10.0f %7.2f %7.2f %7.2f %7.2f %6.1f %11.0f %8.2fx %8.2fx %5ld/%ld\n", s->name, rps,
           best(s->rps, s->n, 1), median(s->p50, s->n), median(s->p95, s->n), median(s->p99, s->n),
           best(s->p99, s->n, 0), median(s->cpu, s->n), per, arps > 0 ? rps / arps : 0,
           aper > 0 ? per / aper : 0, s->errors, s->non2xx);
}

static void print_h2_row(const series *s, const series *anchor) {
    double rps = median(s->rps, s->n), per = median(s->per_cpu, s->n);
    double arps = anchor ? median(anchor->rps, anchor->n) : 0,
           aper = anchor ? median(anchor->per_cpu, anchor->n) : 0;
    printf("%-24s %10.0f %10.0f   mean %6.2f ms %6.1f %11.0f %8.2fx %8.2fx  errors %ld\n", s->name, rps,
           best(s->rps, s->n, 1), median(s->mean, s->n), median(s->cpu, s->n), per, arps > 0 ? rps / arps : 0,
           aper > 0 ? per / aper : 0, s->errors);
}

/* ---------------------------------------------------------------- scenarios */

/* L1 warm: a few passes over the set; L2 warm: fill, then wait past the
 * 1 ms L1 lifetime and read again so every key has been an L2 hit. */
static int warm_server(const server *s, int passes) {
    http_reply r = {0};
    int rc = 0;
    for (int p = 0; p < passes && !rc; p++, sleep_ms(50))
        for (size_t i = 0; i < N_URLS && !rc; i++)
            if (http_get(s->port, api_urls[i], &r) != 200) {
                fprintf(stderr, "bench_api: warming %s: GET %s failed\n", s->name, api_urls[i]);
                rc = -1;
            }
    reply_free(&r);
    return rc;
}

/* The cache counters of one /metrics scrape (-1 for those absent). */
typedef struct cache_counts {
    double l1_hits, l1_misses, l2_hits, l2_misses, l2_timeouts, l2_errors, l2_unavailable, breaker;
} cache_counts;

static cache_counts read_counts(const server *s) {
    static const char *const l1 = "layer=\"l1\"", *const l2 = "layer=\"l2\"";
    http_reply r = {0};
    const char *m = http_get(s->port, "/metrics", &r) == 200 ? r.body.data : "";
    cache_counts c = {metric_value(m, "fa_cache_hits_total", l1),
                      metric_value(m, "fa_cache_misses_total", l1),
                      metric_value(m, "fa_cache_hits_total", l2),
                      metric_value(m, "fa_cache_misses_total", l2),
                      metric_value(m, "fa_cache_timeouts_total", l2),
                      metric_value(m, "fa_cache_errors_total", l2),
                      metric_value(m, "fa_cache_unavailable_total", l2),
                      metric_value(m, "fa_circuit_breaker_state", "dependency=\"redis\"")};
    reply_free(&r);
    return c;
}

/* What the L2 server's caches did between two scrapes. */
static void print_l2_delta(const char *indent, const cache_counts *a, const cache_counts *z, long requests) {
    double hits = z->l2_hits - a->l2_hits;
    printf("%sL2 hits %.0f (%.1f %% of %ld requests), L2 misses %.0f, L1 hits %.0f (1 ms lifetime); "
           "L2 timeouts %.0f, errors %.0f, refused (breaker open) %.0f; breaker now %s\n",
           indent, hits, requests > 0 ? 100.0 * hits / (double)requests : 0, requests,
           z->l2_misses - a->l2_misses, z->l1_hits - a->l1_hits, z->l2_timeouts - a->l2_timeouts,
           z->l2_errors - a->l2_errors, z->l2_unavailable - a->l2_unavailable,
           z->breaker == 0   ? "closed"
           : z->breaker == 1 ? "OPEN"
           : z->breaker == 2 ? "half-open"
                             : "?");
}

typedef struct results {
    series nginx, l1, l2, cold, h2_nginx, h2_ours;
    cache_counts l1_before, l1_after, l2_before, l2_after;
    double rss_hwm[4], rss_now[4]; /* l1, l2, cold, nginx worker; MiB */
    int h2_ours_ok;
    double cold_p50[N_URLS], cold_p95[N_URLS], cold_p99[N_URLS], cold_max[N_URLS];
} results;

static void sample_rss(results *res, int slot, pid_t pid) {
    res->rss_hwm[slot] = proc_status_mib(pid, "VmHWM");
    res->rss_now[slot] = proc_status_mib(pid, "VmRSS");
}

/* HTTP/1.1 at --connections: warm-up, then runs alternating nginx / L1 / L2. */
static int bench_http1(bench *b, results *res) {
    const options *o = &b->o;
    pid_t worker = nginx_worker(b->nginx);
    load ln = {b->nginx_port, o->connections, 0, "urls.lua", worker, 0};
    load l1 = {b->l1.port, o->connections, 0, "urls.lua", b->l1.pid, 0};
    load l2 = {b->l2.port, o->connections, 0, "urls.lua", b->l2.pid, b->redis};
    load_result warm;
    printf("\nHTTP/1.1, %d connections, URL set cycled by wrk; warm-up 2 s each\n", o->connections);
    if (run_wrk(b, ln.port, "urls.lua", o->connections, 2, 1, &warm) ||
        run_wrk(b, l1.port, "urls.lua", o->connections, 2, 0, &warm) ||
        run_wrk(b, l2.port, "urls.lua", o->connections, 2, 0, &warm))
        return -1;
    res->l1_before = read_counts(&b->l1);
    res->l2_before = read_counts(&b->l2);
    for (int i = 0; i < o->runs; i++) {
        if (stopped() || measure(b, &res->nginx, &ln, o->duration, 0) ||
            measure(b, &res->l1, &l1, o->duration, 0))
            return -1;
        cache_counts before = read_counts(&b->l2);
        long requests = res->l2.requests;
        if (measure(b, &res->l2, &l2, o->duration, 0)) return -1;
        cache_counts after = read_counts(&b->l2);
        print_l2_delta("        ", &before, &after, res->l2.requests - requests);
    }
    res->l1_after = read_counts(&b->l1);
    res->l2_after = read_counts(&b->l2);
    sample_rss(res, 0, b->l1.pid);
    sample_rss(res, 1, b->l2.pid);
    sample_rss(res, 3, worker);
    return 0;
}

/* One keep-alive connection, n GETs of url after 3 warm-ups: p50/p95/p99/max in ms. */
static int url_latency(const server *s, const char *url, int n, double *q) {
    int fd = tcp_connect(s->port);
    double *lat = malloc((size_t)n * sizeof *lat);
    http_reply r = {0};
    int rc = fd < 0 || !lat ? -1 : 0;
    for (int i = -3; i < n && !rc && !stop_signal; i++) {
        double t0 = fa_clock_now();
        if (http_get_on(fd, url, &r) || r.status != 200) {
            fprintf(stderr, "bench_api: cold GET %s failed (status %d)\n", url, r.status);
            rc = -1;
        } else if (i >= 0)
            lat[i] = 1000 * (fa_clock_now() - t0);
    }
    if (!rc && !stop_signal) {
        qsort(lat, (size_t)n, sizeof *lat, cmp_double);
        q[0] = lat[(n - 1) / 2];
        q[1] = lat[(int)(0.95 * (n - 1) + 0.5)];
        q[2] = lat[(int)(0.99 * (n - 1) + 0.5)];
        q[3] = lat[n - 1];
    }
    free(lat);
    reply_free(&r);
    if (fd >= 0) close(fd);
    return rc || stop_signal ? -1 : 0;
}

/* Cold: wrk runs at --cold-connections over the set, then per-URL latency on one connection. */
static int bench_cold(bench *b, results *res) {
    const options *o = &b->o;
    load lc = {b->cold.port, o->cold_connections, 0, "urls.lua", b->cold.pid, 0};
    load_result warm;
    printf("\ncold path (--no-l1: every request runs its handler on the store), %d connections\n",
           o->cold_connections);
    if (run_wrk(b, lc.port, "urls.lua", o->cold_connections, 2, 1, &warm)) return -1;
    for (int i = 0; i < o->runs; i++)
        if (stopped() || measure(b, &res->cold, &lc, o->duration, 0)) return -1;
    sample_rss(res, 2, b->cold.pid);
    printf("\ncold path per URL: one keep-alive connection, %d sequential requests each (after 3 warm-ups)\n",
           o->cold_requests);
    printf("%-56s %8s %8s %8s %8s %8s\n", "URL", "bytes", "p50 ms", "p95 ms", "p99 ms", "max ms");
    for (size_t i = 0; i < N_URLS; i++) {
        double q[4] = {0, 0, 0, 0};
        if (url_latency(&b->cold, api_urls[i], o->cold_requests, q)) return -1;
        res->cold_p50[i] = q[0];
        res->cold_p95[i] = q[1];
        res->cold_p99[i] = q[2];
        res->cold_max[i] = q[3];
        printf("%-56s %8zu %8.2f %8.2f %8.2f %8.2f\n", api_urls[i], b->body_bytes[i], q[0], q[1], q[2], q[3]);
    }
    return 0;
}

/* Does our server answer HTTP/2 with prior knowledge (h2c)? */
static int ours_speaks_h2(const bench *b) {
    char url[64];
    load_result r;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", b->l1.port);
    return run_h2load(b, url, 1000, 1, 0, 0, &r) == 0 && r.requests == 1000 && r.errors == 0;
}

/* HTTP/2: h2load -c64 -m16 over the set, nginx (http2 listener) and ours (L1) when it can. */
static int bench_h2(bench *b, results *res) {
    const options *o = &b->o;
    printf("\nHTTP/2 (h2c, prior knowledge), h2load -t1 -c64 -m16, URL set\n");
    if (!o->have_h2load) {
        printf("h2load not found: HTTP/2 scenario skipped\n");
        return 0;
    }
    if (write_h2_uris(b, "h2-nginx.txt", b->nginx_h2_port) || write_h2_uris(b, "h2-ours.txt", b->l1.port))
        return -1;
    res->h2_ours_ok = ours_speaks_h2(b);
    if (!res->h2_ours_ok)
        printf("ours: HTTP/2 not available (h2load -n 1000 -c 1 /healthz did not succeed)\n");
    load ln = {b->nginx_h2_port, 64, 1, "h2-nginx.txt", nginx_worker(b->nginx), 0};
    load lo = {b->l1.port, 64, 1, "h2-ours.txt", b->l1.pid, 0};
    series scratch = {.name = "warm-up"};
    if (measure(b, &scratch, &ln, 2, 1) || (res->h2_ours_ok && measure(b, &scratch, &lo, 2, 0))) return -1;
    for (int i = 0; i < o->runs; i++) {
        if (stopped() || measure(b, &res->h2_nginx, &ln, o->duration, 0) ||
            (res->h2_ours_ok && measure(b, &res->h2_ours, &lo, o->duration, 0)))
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- summary */

static void print_cache_proof(const results *res) {
    const cache_counts *a = &res->l1_before, *z = &res->l1_after, *c = &res->l2_before, *d = &res->l2_after;
    printf("\ncache counters over the measured runs (/metrics):\n");
    printf("  L1 server: L1 hits %.0f, L1 misses %.0f, of %ld requests\n", z->l1_hits - a->l1_hits,
           z->l1_misses - a->l1_misses, res->l1.requests);
    print_l2_delta("  L2 server: ", c, d, res->l2.requests);
}

static void print_rss(const results *res) {
    static const char *const names[] = {"ours, L1 server (after its runs)",
                                        "ours, L2 server (after its runs)",
                                        "ours, cold server (after its runs)", "nginx worker"};
    printf("\nmemory under load:\n");
    for (int i = 0; i < 4; i++)
        printf("  %-36s VmHWM %7.1f MiB  VmRSS %7.1f MiB\n", names[i], res->rss_hwm[i], res->rss_now[i]);
}

/* L2 has no bar of its own; say what was measured, and when it was not L2 at all. */
static void print_l2_note(const results *res) {
    double hits = res->l2_after.l2_hits - res->l2_before.l2_hits;
    double ng = median(res->nginx.rps, res->nginx.n), l2 = median(res->l2.rps, res->l2.n);
    printf("  (no bar) L2: %.0f req/s, %.2fx nginx, p99 %.2f ms; %.1f %% of requests were L2 hits\n", l2,
           ng > 0 ? l2 / ng : 0, median(res->l2.p99, res->l2.n),
           res->l2.requests > 0 ? 100 * hits / (double)res->l2.requests : 0);
    if (hits <= 0)
        printf("  WARNING: no L2 hit during the measured runs (breaker open: %.0f requests refused L2, %.0f "
               "timeouts): the L2 row measures the L2-down path (compute + fill), not L2 hits; see "
               "--redis-timeout\n",
               res->l2_after.l2_unavailable - res->l2_before.l2_unavailable,
               res->l2_after.l2_timeouts - res->l2_before.l2_timeouts);
}

static const char *verdict(int met) { return met ? "MET" : "NOT MET"; }

static void print_bars(const bench *b, const results *res) {
    double l1 = median(res->l1.rps, res->l1.n), ng = median(res->nginx.rps, res->nginx.n);
    double l1c = median(res->l1.per_cpu, res->l1.n), ngc = median(res->nginx.per_cpu, res->nginx.n);
    double p99 = median(res->l1.p99, res->l1.n), worst_p95 = 0, rss = 0;
    size_t worst = 0;
    for (size_t i = 0; i < N_URLS; i++)
        if (res->cold_p95[i] > worst_p95) worst_p95 = res->cold_p95[worst = i];
    for (int i = 0; i < 3; i++) rss = res->rss_hwm[i] > rss ? res->rss_hwm[i] : rss;
    printf("\nbars (issue 4):\n");
    double paired = paired_ratio(res->l1.rps, res->nginx.rps, res->l1.n);
    printf("  L1 hits >= 1.0x nginx req/s per server core: %.2fx median req/s (both on one core), %.2fx "
           "per-run pairs, %.2fx per CPU-second: %s\n",
           ng > 0 ? l1 / ng : 0, paired, ngc > 0 ? l1c / ngc : 0, verdict(ng > 0 && l1 / ng >= 1.0));
    printf("  L1 p99 < 5 ms at %d connections: %.2f ms median (best %.2f): %s\n", b->o.connections, p99,
           best(res->l1.p99, res->l1.n, 0), verdict(p99 < 5));
    double cold_load_p95 = median(res->cold.p95, res->cold.n);
    printf("  cold p95 < 10 ms, one connection per URL: worst %s %.2f ms: %s\n", api_urls[worst], worst_p95,
           verdict(worst_p95 < 10));
    printf("  cold p95 < 10 ms, %d connections over the set on one core: %.2f ms: %s\n",
           b->o.cold_connections, cold_load_p95, verdict(cold_load_p95 < 10));
    printf("  RSS < 100 MB under load: peak VmHWM of our servers %.1f MiB: %s\n", rss,
           verdict(rss < 100 * 1e6 / 1048576.0));
    print_l2_note(res);
}

static void print_summary(const bench *b, const results *res) {
    print_header("HTTP/1.1 summary (medians over the runs; x nginx = ours / nginx)");
    print_row(&res->nginx, NULL);
    print_row(&res->l1, &res->nginx);
    print_row(&res->l2, &res->nginx);
    print_row(&res->cold, &res->nginx);
    printf(
        "(cold at %d connections, the others at %d; L2 server CPU excludes Redis: median %.1f %% of a CPU)\n",
        b->o.cold_connections, b->o.connections, median(res->l2.side_cpu, res->l2.n));
    if (res->h2_nginx.n) {
        printf("\nHTTP/2 summary (h2load -c64 -m16; h2load reports no percentiles)\n");
        print_h2_row(&res->h2_nginx, NULL);
        if (res->h2_ours_ok) {
            print_h2_row(&res->h2_ours, &res->h2_nginx);
            printf("ours / nginx over HTTP/2, median of per-run pairs: %.2fx\n",
                   paired_ratio(res->h2_ours.rps, res->h2_nginx.rps, res->h2_ours.n));
        } else
            printf("%-24s HTTP/2 not available\n", "ours");
    }
    print_cache_proof(res);
    print_rss(res);
    print_bars(b, res);
}

/* ---------------------------------------------------------------- options */

static void help(FILE *out) {
    fprintf(out,
            "usage: bench_api [options]\n"
            "\n"
            "Issue 4's API benchmark: `footanalytics serve` on L1 hits, L2 hits (Redis) and cold\n"
            "(--no-l1) against nginx serving the same response bytes as static files; wrk for\n"
            "HTTP/1.1, h2load for HTTP/2; servers pinned to one CPU, clients to another.\n"
            "\n"
            "  --duration S          seconds per measured run (default 5)\n"
            "  --connections N       wrk connections for nginx, L1 and L2 (default 256)\n"
            "  --cold-connections N  wrk connections for the cold path (default 16)\n"
            "  --cold-requests N     sequential requests per URL for cold percentiles (default 200)\n"
            "  --runs R              measured runs per scenario, alternating (default 3, at most %d)\n"
            "  --server-cpu C        CPU of the servers (default 1)\n"
            "  --client-cpu C        CPU of wrk and h2load (default 0)\n"
            "  --redis-cpu C         CPU of redis-server (default: the client CPU; -1: not pinned)\n"
            "  --bin PATH            footanalytics (default: next to bench_api)\n"
            "  --nginx PATH          (default: nginx on PATH or /usr/sbin/nginx)\n"
            "  --wrk PATH            (default: wrk on PATH)\n"
            "  --h2load PATH         (default: h2load on PATH; HTTP/2 skipped when missing)\n"
            "  --redis-server PATH   (default: redis-server on PATH)\n"
            "  --redis-timeout S     passed to the L2 server (default: the server's own, 0.02)\n"
            "  --data DIR            sample data (default $FA_DATA_DIR or /work/shared/data)\n"
            "  --quick               1 run of 2 s, 50 cold requests per URL\n"
            "  -h, --help            this help\n"
            "exit status: 0 measured, 1 usage, 2 a required tool is missing, 3 a step failed,\n"
            "130 interrupted\n",
            MAX_RUNS);
}

/* name as given when it holds a '/', else the first executable on PATH:/usr/sbin:/sbin; -1 if none. */
static int find_tool(const char *name, char *out, size_t size) {
    if (strchr(name, '/')) {
        snprintf(out, size, "%s", name);
        return access(out, X_OK);
    }
    const char *env = getenv("PATH");
    char paths[4096];
    snprintf(paths, sizeof paths, "%s:/usr/sbin:/sbin", env && *env ? env : "/usr/bin:/bin");
    char *save = NULL;
    for (char *dir = strtok_r(paths, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(out, size, "%s/%s", dir, name);
        if (access(out, X_OK) == 0) return 0;
    }
    snprintf(out, size, "%s", name);
    return -1;
}

static int set_value(options *o, const char *a, const char *v) {
    struct {
        const char *name;
        char *dst;
    } paths[] = {{"--bin", o->bin},       {"--nginx", o->nginx}, {"--wrk", o->wrk},
                 {"--h2load", o->h2load}, {"--data", o->data},   {"--redis-server", o->redis}};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (!strcmp(a, paths[i].name)) {
            snprintf(paths[i].dst, PATH_BYTES, "%s", v);
            return 0;
        }
    if (!strcmp(a, "--redis-timeout")) {
        snprintf(o->redis_timeout, sizeof o->redis_timeout, "%s", v);
        return 0;
    }
    struct {
        const char *name;
        int *dst;
    } ints[] = {{"--connections", &o->connections},     {"--cold-connections", &o->cold_connections},
                {"--cold-requests", &o->cold_requests}, {"--runs", &o->runs},
                {"--server-cpu", &o->server_cpu},       {"--client-cpu", &o->client_cpu},
                {"--redis-cpu", &o->redis_cpu}};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (!strcmp(a, ints[i].name)) {
            *ints[i].dst = atoi(v);
            return 0;
        }
    if (strcmp(a, "--duration")) return -1;
    o->duration = atof(v);
    return 0;
}

static void default_options(options *o, const char *argv0) {
    memset(o, 0, sizeof *o);
    o->duration = 5;
    o->connections = 256;
    o->cold_connections = 16;
    o->cold_requests = 200;
    o->runs = 3;
    o->server_cpu = 1;
    o->client_cpu = 0;
    o->redis_cpu = -2; /* the client CPU unless given */
    char self[PATH_BYTES];
    snprintf(self, sizeof self, "%s", argv0);
    snprintf(o->bin, PATH_BYTES, "%s/footanalytics", dirname(self));
    snprintf(o->nginx, PATH_BYTES, "nginx");
    snprintf(o->wrk, PATH_BYTES, "wrk");
    snprintf(o->h2load, PATH_BYTES, "h2load");
    snprintf(o->redis, PATH_BYTES, "redis-server");
    const char *data = getenv("FA_DATA_DIR");
    snprintf(o->data, PATH_BYTES, "%s", data && *data ? data : "/work/shared/data");
}

/* 0 to run, 1 usage error, 2 after --help. */
static int parse_args(int argc, char **argv, options *o) {
    default_options(o, argv[0]);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 2;
        if (!strcmp(argv[i], "--quick")) {
            o->runs = 1;
            o->duration = 2;
            o->cold_requests = 50;
        } else if (i + 1 >= argc || set_value(o, argv[i], argv[i + 1])) {
            fprintf(stderr, "bench_api: bad option '%s'%s\n", argv[i],
                    i + 1 >= argc ? " (missing value)" : "");
            return 1;
        } else
            i++;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (o->runs < 1 || o->runs > MAX_RUNS || o->duration < 1 || o->connections < 1 ||
        o->cold_connections < 1 || o->cold_requests < 20 || o->server_cpu < 0 || o->server_cpu >= ncpu ||
        o->client_cpu < 0 || o->client_cpu >= ncpu || o->redis_cpu < -2 || o->redis_cpu >= ncpu) {
        fprintf(stderr,
                "bench_api: an option is out of range (runs 1..%d, duration >= 1, cold-requests >= 20, "
                "CPUs 0..%ld)\n",
                MAX_RUNS, ncpu - 1);
        return 1;
    }
    if (o->redis_cpu == -2) o->redis_cpu = o->client_cpu;
    return 0;
}

/* Every required tool must be there; h2load is optional. 0, or 2 after a message. */
static int check_tools(options *o) {
    struct {
        char *path;
        const char *what;
    } need[] = {{o->bin, "footanalytics (--bin)"},
                {o->wrk, "wrk (--wrk)"},
                {o->nginx, "nginx (--nginx)"},
                {o->redis, "redis-server (--redis-server)"}};
    int rc = 0;
    for (size_t i = 0; i < sizeof need / sizeof *need; i++) {
        char found[PATH_BYTES];
        if (find_tool(need[i].path, found, sizeof found)) {
            fprintf(stderr, "bench_api: %s not found or not executable: %s\n", need[i].what, need[i].path);
            rc = 2;
        }
        snprintf(need[i].path, PATH_BYTES, "%s", found);
    }
    char found[PATH_BYTES];
    o->have_h2load = find_tool(o->h2load, found, sizeof found) == 0;
    snprintf(o->h2load, PATH_BYTES, "%s", found);
    return rc;
}

/* ---------------------------------------------------------------- set-up and teardown */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path)) fprintf(stderr, "bench_api: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static void teardown(bench *b) {
    stop_child(b->l1.pid);
    stop_child(b->l2.pid);
    stop_child(b->cold.pid);
    stop_child(b->nginx);
    stop_child(b->redis);
    for (int i = 0; i < MAX_CHILDREN; i++) /* anything else still recorded (an interrupted wrk) */
        if (child_pids[i] > 0) stop_child((pid_t)child_pids[i]);
    if (b->dir[0]) nftw(b->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int start_all(bench *b) {
    char redis_url[64];
    char *l2_args[] = {"--redis",          redis_url, "--l1-max-ttl", "0.001", "--redis-timeout",
                       b->o.redis_timeout, NULL};
    if (!b->o.redis_timeout[0]) l2_args[4] = NULL;
    char *cold_args[] = {"--no-l1", NULL};
    if (import_data(b) || stopped() || start_server(b, &b->l1, "l1", NULL) || mirror_bodies(b) ||
        start_nginx(b) || check_nginx_bytes(b) || stopped() || start_redis(b))
        return -1;
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d", b->redis_port);
    if (start_server(b, &b->l2, "l2", l2_args) || start_server(b, &b->cold, "cold", cold_args) || stopped())
        return -1;
    if (warm_server(&b->l1, 3) || warm_server(&b->l2, 3) || warm_server(&b->cold, 1)) return -1;
    double l2_hits = read_counts(&b->l2).l2_hits;
    printf("servers: ours L1 :%d, L2 :%d (Redis :%d, --l1-max-ttl 0.001, --redis-timeout %s), cold :%d; "
           "nginx :%d (h2c :%d)\n",
           b->l1.port, b->l2.port, b->redis_port, b->o.redis_timeout[0] ? b->o.redis_timeout : "default",
           b->cold.port, b->nginx_port, b->nginx_h2_port);
    printf("L2 after warm-up: %.0f hits\n", l2_hits);
    if (l2_hits <= 0) {
        fprintf(stderr, "bench_api: the L2 server reports no L2 hits after warm-up: L2 is not working\n");
        return -1;
    }
    return 0;
}

static void print_url_set(const bench *b) {
    size_t total = 0;
    printf("URL set (%zu), bodies identical on both sides:\n", N_URLS);
    for (size_t i = 0; i < N_URLS; i++) {
        printf("  %6zu B  %s\n", b->body_bytes[i], api_urls[i]);
        total += b->body_bytes[i];
    }
    printf("  mean body %.0f B\n", (double)total / N_URLS);
}

static int run_all(bench *b, results *res) {
    if (write_wrk_script(b, "urls.lua", api_urls, N_URLS)) return -1;
    print_url_set(b);
    print_load("before");
    if (bench_http1(b, res) || bench_cold(b, res) || bench_h2(b, res)) return -1;
    print_load("after");
    print_summary(b, res);
    return 0;
}

int main(int argc, char **argv) {
    static bench b;
    static results res = {.nginx = {.name = "nginx static files"},
                          .l1 = {.name = "ours L1 hits"},
                          .l2 = {.name = "ours L2 hits (Redis)"},
                          .cold = {.name = "ours cold (store)"},
                          .h2_nginx = {.name = "nginx static h2"},
                          .h2_ours = {.name = "ours L1 hits h2"}};
    int rc = parse_args(argc, argv, &b.o);
    if (rc) {
        help(rc == 2 ? stdout : stderr);
        return rc == 2 ? 0 : 1;
    }
    if ((rc = check_tools(&b.o))) return rc;
    install_signals();
    bench_print_machine(argc, argv);
    char redis_where[32] = "not pinned";
    if (b.o.redis_cpu >= 0) snprintf(redis_where, sizeof redis_where, "pinned to CPU %d", b.o.redis_cpu);
    printf("servers pinned to CPU %d; wrk / h2load (1 thread) pinned to CPU %d; redis-server %s;\n"
           "%.0f s per run, %d runs\n",
           b.o.server_cpu, b.o.client_cpu, redis_where, b.o.duration, b.o.runs);
    if (!b.o.have_h2load) printf("h2load not found (%s): the HTTP/2 scenario will be skipped\n", b.o.h2load);
    snprintf(b.dir, sizeof b.dir, "/tmp/fa-bench-api-XXXXXX");
    if (!mkdtemp(b.dir)) {
        fprintf(stderr, "bench_api: cannot create a temporary directory: %s\n", strerror(errno));
        return 3;
    }
    chmod(b.dir, 0755); /* nginx workers run as nobody when started by root */
    rc = start_all(&b) || run_all(&b, &res) ? 3 : 0;
    if (stopped()) rc = 130;
    teardown(&b);
    return rc;
}
