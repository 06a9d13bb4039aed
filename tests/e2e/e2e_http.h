/*
 * e2e_http.h - what the end-to-end tests need to talk to a running
 * `footanalytics serve`: a one-shot HTTP/1.1 request over loopback, a
 * sample read from its /metrics, waiting for a sample to move, reading
 * the port a server prints, and starting one that serves a media directory. Static functions in a header, because each
 * test is its own program (one test file per feature) and these few are
 * the same in all of them.
 */
#ifndef FA_TESTS_E2E_HTTP_H
#define FA_TESTS_E2E_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static inline void e2e_sleep(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* A connected loopback socket with 5 s timeouts, or -1. */
static inline int e2e_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request on a fresh connection (extra: more header lines, each ending
 * in CRLF, or NULL); the whole response into buf. The status, or -1. */
static inline int e2e_http(int port, const char *method, const char *target, const char *extra, char *buf,
                           size_t size) {
    int fd = e2e_connect(port);
    if (fd < 0) return -1;
    char req[1024];
    snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n", method, target,
             extra ? extra : "");
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got < size - 1 && (r = read(fd, buf + got, size - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    return got > 12 ? atoi(buf + 9) : -1;
}

/* A sample's value from a server's /metrics ("name{labels}"), -1 when absent. */
static inline double e2e_metric(int port, const char *sample) {
    static char buf[1 << 20];
    if (e2e_http(port, "GET", "/metrics", NULL, buf, sizeof buf) != 200) return -1;
    size_t n = strlen(sample);
    for (const char *p = buf; (p = strstr(p, sample)); p += n)
        if ((p == buf || p[-1] == '\n') && p[n] == ' ') return atof(p + n + 1);
    return -1;
}

/* Waits up to 5 s for the sample to reach at least want; its last value. */
static inline double e2e_wait_metric(int port, const char *sample, double want) {
    double v = -1;
    for (int i = 0; i < 100 && (v = e2e_metric(port, sample)) < want; i++)
        e2e_sleep(0.05);
    return v;
}

/* The port in the line a server prints first ("listening on http://127.0.0.1:PORT ..."), 0 if none. */
static inline int e2e_port_of(const char *line) {
    const char *at = strstr(line, "127.0.0.1:");
    return at ? atoi(at + 10) : 0;
}

/* Starts `footanalytics --log-level error serve --db DB --port 0 --loops 1
 * --media MEDIA` ($FA_BIN) and reads the line it prints once it listens.
 * The port, or 0 when it did not start; *pid gets the child (stop it with
 * SIGTERM and waitpid). */
static inline int e2e_serve_media(const char *db, const char *media, pid_t *pid) {
    int out[2];
    if (pipe(out) != 0) return 0;
    *pid = fork();
    if (*pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(getenv("FA_BIN"), "footanalytics", "--log-level", "error", "serve", "--db", db, "--port", "0",
              "--loops", "1", "--media", media, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[256];
    FILE *f = fdopen(out[0], "r");
    int port = f && fgets(line, sizeof line, f) ? e2e_port_of(line) : 0;
    if (f) fclose(f);
    return port;
}

#endif
