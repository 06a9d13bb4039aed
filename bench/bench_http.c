/*
 * bench_http.c - the HTTP bar: requests per second per server core
 * and p99 latency at 256 connections, for a 2 KB JSON body served from
 * memory, against nginx serving the same 2 KB file on the same core.
 *
 * Both servers run pinned to one CPU (--server-cpu) and wrk runs pinned to
 * another (--client-cpu), so each figure is what one server core sustains:
 *   - ours: fa_server with 1 loop, and an application that answers every
 *     request with the same 2 KB body by reference (body_ref: the path an L1
 *     cache hit takes, no copy);
 *   - nginx: our own instance (never the system service) from a generated
 *     config in a temporary directory: worker_processes 1, access_log off,
 *     sendfile, open_file_cache (so it does not open the file per request),
 *     keepalive_requests high enough that wrk's connections are never
 *     recycled - nginx at its best for this load, the anchor to beat.
 * Runs alternate ours / nginx (--runs times, after a warm-up of each), and
 * the medians and their ratio are printed, with each server's CPU use during
 * the runs (a figure near 100 % means the server core was the bottleneck,
 * not wrk).
 *
 * usage: bench_http [--duration S] [--connections N] [--runs R]
 *                   [--server-cpu C] [--client-cpu C] [--wrk PATH] [--nginx PATH]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "api/api.h"
#include "core/core.h"

#define BODY_BYTES 2048
#define MAX_RUNS 20

typedef struct options {
    double duration;
    int connections, runs, server_cpu, client_cpu;
    const char *wrk, *nginx;
} options;

typedef struct result {
    double rps, p99_ms, cpu;
    long errors, non2xx;
} result;

/* ---------------------------------------------------------------- the 2 KB body and our app */

/* A deterministic JSON document of exactly BODY_BYTES bytes. */
static void make_body(char *out) {
    size_t n = (size_t)snprintf(out, BODY_BYTES + 1, "{\"match\":3788741,\"events\":[");
    for (int i = 0; n < BODY_BYTES - 80; i++)
        n += (size_t)snprintf(out + n, BODY_BYTES + 1 - n,
                              "%s{\"id\":%d,\"type\":\"Pass\",\"x\":%d.5,\"y\":%d.25}", i ? "," : "", i,
                              (i * 37) % 120, (i * 11) % 80);
    n += (size_t)snprintf(out + n, BODY_BYTES + 1 - n, "],\"pad\":\"");
    while (n < BODY_BYTES - 3) out[n++] = 'x';
    memcpy(out + n, "\"}\n", 4);
}

struct fa_api_thread {
    const char *body;
};

static fa_api_thread *bench_thread_init(void *ud, int loop_index, const struct fa_io_loop *io) {
    (void)io;
    (void)loop_index;
    fa_api_thread *t = fa_calloc(1, sizeof *t);
    if (t) t->body = ud;
    return t;
}

static void bench_thread_free(fa_api_thread *t) { free(t); }

static void bench_handle(fa_api_thread *t, const fa_http_request *req, fa_http_response *resp) {
    (void)req;
    resp->status = 200;
    resp->content_type = "application/json";
    resp->body_ref = t->body;
    resp->body_ref_len = BODY_BYTES;
}

/* ---------------------------------------------------------------- helpers */

static int pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
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

/* One GET; returns the status and the body length, or -1. */
static int probe(int port, size_t *body_len) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {2, 0};
    char buf[8192];
    size_t n = 0;
    int status = -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        static const char req[] = "GET /body.json HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
        if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)sizeof req - 1) {
            ssize_t r;
            while (n < sizeof buf - 1 && (r = recv(fd, buf + n, sizeof buf - 1 - n, 0)) > 0) n += (size_t)r;
            buf[n] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            if (end && sscanf(buf, "HTTP/1.1 %d", &status) == 1) *body_len = n - (size_t)(end + 4 - buf);
        }
    }
    close(fd);
    return status;
}

static int wait_ready(int port) {
    for (int i = 0; i < 500; i++) {
        size_t len = 0;
        if (probe(port, &len) == 200) return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* CPU seconds (user + system) of a process, from /proc. */
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

static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* ---------------------------------------------------------------- nginx */

static int write_nginx_conf(const char *dir, int port) {
    char path[512];
    snprintf(path, sizeof path, "%s/nginx.conf", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f,
            "worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n"
            "  keepalive_requests 100000000;\n  keepalive_timeout 65;\n"
            "  open_file_cache max=100 inactive=60s;\n"
            "  client_body_temp_path %s/tmp;\n  proxy_temp_path %s/tmp;\n  fastcgi_temp_path %s/tmp;\n"
            "  uwsgi_temp_path %s/tmp;\n  scgi_temp_path %s/tmp;\n"
            "  types { application/json json; }\n"
            "  server {\n    listen 127.0.0.1:%d;\n    root %s;\n  }\n}\n",
            dir, dir, dir, dir, dir, dir, dir, port, dir);
    return fclose(f);
}

/* Starts nginx pinned to cpu; its master's pid, or -1. */
static pid_t start_nginx(const options *o, const char *dir, int port) {
    char conf[512], errlog[512];
    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    snprintf(errlog, sizeof errlog, "%s/error.log", dir);
    if (write_nginx_conf(dir, port)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        pin_to(o->server_cpu);
        execl(o->nginx, "nginx", "-p", dir, "-e", errlog, "-c", conf, (char *)NULL);
        _exit(127);
    }
    if (pid < 0) return -1;
    if (wait_ready(port)) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

/* The worker's pid (the master's only child). */
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

/* ---------------------------------------------------------------- wrk */

static double to_ms(double v, const char *unit) {
    if (!strncmp(unit, "us", 2)) return v / 1000;
    if (!strncmp(unit, "ms", 2)) return v;
    if (!strncmp(unit, "s", 1)) return v * 1000;
    return v;
}

static void parse_wrk(const char *out, result *r) {
    const char *p;
    char unit[8] = "";
    double v;
    if ((p = strstr(out, "Requests/sec:"))) r->rps = strtod(p + 13, NULL);
    if ((p = strstr(out, " 99%")) && sscanf(p + 4, "%lf%7s", &v, unit) == 2) r->p99_ms = to_ms(v, unit);
    long c = 0, rd = 0, w = 0, t = 0;
    if ((p = strstr(out, "Socket errors:")) &&
        sscanf(p, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &c, &rd, &w, &t) == 4)
        r->errors = c + rd + w + t;
    if ((p = strstr(out, "Non-2xx or 3xx responses:"))) r->non2xx = strtol(p + 26, NULL, 10);
}

/* Runs wrk against port for seconds; fills r (cpu: the server's CPU seconds, from cpu_of). */
static int run_wrk(const options *o, int port, double seconds, int verbose, result *r) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "taskset -c %d %s -t1 -c%d -d%.0fs --latency http://127.0.0.1:%d/body.json 2>&1", o->client_cpu,
             o->wrk, o->connections, seconds, port);
    if (verbose) printf("  $ %s\n", cmd);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    fa_buf out = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) fa_buf_append(&out, chunk, n);
    int rc = pclose(p);
    memset(r, 0, sizeof *r);
    if (out.data) parse_wrk(out.data, r);
    if (rc != 0 || r->rps <= 0) {
        fprintf(stderr, "wrk failed (status %d):\n%s\n", rc, out.data ? out.data : "");
        fa_buf_free(&out);
        return -1;
    }
    fa_buf_free(&out);
    return 0;
}

/* ---------------------------------------------------------------- main */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){10, 256, 3, 0, 1, "/usr/bin/wrk", "/usr/sbin/nginx"};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return -1;
        if (!strcmp(a, "--duration"))
            o->duration = atof(v);
        else if (!strcmp(a, "--connections"))
            o->connections = atoi(v);
        else if (!strcmp(a, "--runs"))
            o->runs = atoi(v);
        else if (!strcmp(a, "--server-cpu"))
            o->server_cpu = atoi(v);
        else if (!strcmp(a, "--client-cpu"))
            o->client_cpu = atoi(v);
        else if (!strcmp(a, "--wrk"))
            o->wrk = v;
        else if (!strcmp(a, "--nginx"))
            o->nginx = v;
        else
            return -1;
    }
    if (o->runs < 1 || o->runs > MAX_RUNS || o->duration < 1 || o->connections < 1) return -1;
    return 0;
}

static void print_machine(const options *o) {
    struct utsname u;
    char model[256];
    bench_cpu_model(model, sizeof model);
    uname(&u);
    printf("machine: %ld CPUs (%s), Linux %s\n", sysconf(_SC_NPROCESSORS_ONLN), model, u.release);
    printf(
        "server pinned to CPU %d, wrk (1 thread) pinned to CPU %d; %d connections, %.0f s per run, %d runs\n",
        o->server_cpu, o->client_cpu, o->connections, o->duration, o->runs);
}

typedef struct target {
    const char *name;
    int port;
    pid_t nginx; /* 0 for ours */
    double rps[MAX_RUNS], p99[MAX_RUNS], cpu[MAX_RUNS];
    long errors, non2xx;
} target;

static int measure(const options *o, target *t, int run, int verbose) {
    pid_t worker = t->nginx ? nginx_worker(t->nginx) : 0;
    double c0 = t->nginx ? proc_cpu(worker) : self_cpu(), w0 = fa_clock_now();
    result r;
    if (run_wrk(o, t->port, o->duration, verbose, &r)) return -1;
    double c1 = t->nginx ? proc_cpu(worker) : self_cpu(), w1 = fa_clock_now();
    t->rps[run] = r.rps;
    t->p99[run] = r.p99_ms;
    t->cpu[run] = 100 * (c1 - c0) / (w1 - w0);
    t->errors += r.errors;
    t->non2xx += r.non2xx;
    printf("  run %d %-6s %10.0f req/s   p99 %6.2f ms   server CPU %5.1f %%\n", run + 1, t->name, r.rps,
           r.p99_ms, t->cpu[run]);
    return 0;
}

/* Summary figures of one server over the runs. */
typedef struct summary {
    double rps_med, rps_best, p99_med, p99_best, cpu_med, per_core_med;
} summary;

static double best(const double *v, int n, int highest) {
    double b = v[0];
    for (int i = 1; i < n; i++) b = highest ? (v[i] > b ? v[i] : b) : (v[i] < b ? v[i] : b);
    return b;
}

static summary summarise(target *t, int n) {
    double per_core[MAX_RUNS];
    for (int i = 0; i < n; i++) per_core[i] = t->cpu[i] > 0 ? t->rps[i] / (t->cpu[i] / 100) : 0;
    summary s = {.rps_best = best(t->rps, n, 1), .p99_best = best(t->p99, n, 0)};
    s.rps_med = median(t->rps, n);
    s.p99_med = median(t->p99, n);
    s.cpu_med = median(t->cpu, n);
    s.per_core_med = median(per_core, n);
    return s;
}

static void print_summary(const char *name, const summary *s, const target *t) {
    printf("%-6s %10.0f %10.0f %9.2f %9.2f %8.1f%% %14.0f %7ld/%ld\n", name, s->rps_med, s->rps_best,
           s->p99_med, s->p99_best, s->cpu_med, s->per_core_med, t->errors, t->non2xx);
}

static void print_load(const char *when) {
    double load[3];
    if (getloadavg(load, 3) == 3)
        printf("load average %s: %.2f %.2f %.2f\n", when, load[0], load[1], load[2]);
}

/* Warm-up, then runs alternating ours / nginx, then the figures. Each
 * figure comes in three forms because the machine is shared: the median, the
 * best run (interference only ever slows a run down), and requests per
 * second of server CPU (rps / the server's CPU share), which does not
 * depend on whether wrk, on its own core, got enough CPU to saturate it. */
static int bench(const options *o, target *ours, target *nginx) {
    result warm;
    print_load("before");
    printf("warm-up (2 s each)\n");
    if (run_wrk(o, ours->port, 2, 1, &warm) || run_wrk(o, nginx->port, 2, 1, &warm)) return -1;
    for (int i = 0; i < o->runs; i++)
        if (measure(o, ours, i, i == 0) || measure(o, nginx, i, i == 0)) return -1;
    print_load("after");
    summary so = summarise(ours, o->runs), sn = summarise(nginx, o->runs);
    printf("\n%-6s %10s %10s %9s %9s %9s %14s %14s\n", "server", "req/s med", "req/s best", "p99 med",
           "p99 best", "CPU med", "req/s per CPU", "errors/non-2xx");
    print_summary("ours", &so, ours);
    print_summary("nginx", &sn, nginx);
    printf("\nratio ours/nginx: req/s median %.2fx, best %.2fx; req/s per server CPU-second %.2fx\n",
           so.rps_med / sn.rps_med, so.rps_best / sn.rps_best, so.per_core_med / sn.per_core_med);
    printf("bars: >= 1.00x nginx req/s per server core; p99 < 5 ms at %d connections (ours: median %.2f ms, "
           "best %.2f ms)\n",
           o->connections, so.p99_med, so.p99_best);
    return 0;
}

static int setup_dir(char *dir, const char *body) {
    char path[512];
    if (!mkdtemp(dir)) return -1;
    chmod(dir, 0755); /* nginx workers run as nobody when started by root */
    snprintf(path, sizeof path, "%s/tmp", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/body.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fwrite(body, 1, BODY_BYTES, f);
    fclose(f);
    chmod(path, 0644);
    return 0;
}

static void cleanup_dir(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: bench_http [--duration S] [--connections N] [--runs R] [--server-cpu C] "
                        "[--client-cpu C] [--wrk PATH] [--nginx PATH]\n");
        return 1;
    }
    static char body[BODY_BYTES + 1];
    make_body(body);
    char dir[] = "/tmp/fa-bench-http-XXXXXX";
    if (setup_dir(dir, body)) {
        fprintf(stderr, "cannot create the temporary directory: %s\n", strerror(errno));
        return 3;
    }
    print_machine(&o);
    static target ours = {.name = "ours"}, ngx = {.name = "nginx"};
    int rc = 3;
    /* our server: its loop thread inherits the pinning */
    if (pin_to(o.server_cpu)) fprintf(stderr, "cannot pin to CPU %d: %s\n", o.server_cpu, strerror(errno));
    fa_server_config cfg;
    fa_server_config_default(&cfg);
    cfg.port = 0;
    cfg.loops = 1;
    fa_api_callbacks cb = {body, bench_thread_init, bench_thread_free, bench_handle, NULL, NULL};
    fa_server *srv = fa_server_start(&cfg, &cb);
    if (!srv) {
        fprintf(stderr, "fa_server_start: %s\n", fa_err_msg());
        cleanup_dir(dir);
        return 3;
    }
    ours.port = fa_server_port(srv);
    ngx.port = free_port();
    ngx.nginx = start_nginx(&o, dir, ngx.port);
    size_t len_o = 0, len_n = 0;
    if (ngx.nginx < 0)
        fprintf(stderr, "nginx did not start (see %s/error.log)\n", dir);
    else if (probe(ours.port, &len_o) != 200 || probe(ngx.port, &len_n) != 200 || len_o != BODY_BYTES ||
             len_n != BODY_BYTES)
        fprintf(stderr, "a server does not answer 200 with the %d-byte body (ours %zu, nginx %zu)\n",
                BODY_BYTES, len_o, len_n);
    else {
        printf("body: %d bytes of JSON; ours on port %d, nginx 1 worker on port %d\n", BODY_BYTES, ours.port,
               ngx.port);
        rc = bench(&o, &ours, &ngx) ? 3 : 0;
    }
    if (ngx.nginx > 0) {
        kill(ngx.nginx, SIGTERM);
        waitpid(ngx.nginx, NULL, 0);
    }
    fa_server_stop(srv);
    fa_server_wait_free(srv);
    cleanup_dir(dir);
    return rc;
}
