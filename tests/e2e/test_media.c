/*
 * test_media.c - `serve --media DIR` end to end: the real binary serves a
 * directory laid out like a transcode output over HTTP/1.1, and a player's
 * needs are checked byte for byte: Content-Type per extension, single byte
 * ranges (206 and 416), validators (304, If-Range), HEAD, and refusals of
 * every path that could leave the directory (.., hidden files, symlinks).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "e2e_http.h"

#define SEG_BYTES 300000

typedef struct server {
    char *dir;
    pid_t pid;
    int port;
    unsigned char seg[SEG_BYTES];
} server;

static void write_file(const char *dir, const char *name, const void *p, size_t n) {
    free(fa_test_write_file(dir, name, p, n));
}

/* DIR/media/match-1/{master.m3u8, manifest.mpd, chunk-1.m4s}, a hidden file,
 * a symlink out of the directory and one inside it. */
static void lay_out(server *s) {
    char media[4200], sub[4300], path[4400], target[4400];
    snprintf(media, sizeof media, "%s/media", s->dir);
    snprintf(sub, sizeof sub, "%s/match-1", media);
    assert_int_equal(mkdir(media, 0755), 0);
    assert_int_equal(mkdir(sub, 0755), 0);
    for (size_t i = 0; i < SEG_BYTES; i++)
        s->seg[i] = (unsigned char)(i * 7 + i / 251);
    write_file(sub, "chunk-1.m4s", s->seg, SEG_BYTES);
    write_file(sub, "master.m3u8", "#EXTM3U\n", 8);
    write_file(sub, "manifest.mpd", "<MPD/>", 6);
    write_file(media, ".secret", "x", 1);
    snprintf(path, sizeof path, "%s/escape.m4s", sub);
    assert_int_equal(symlink("/etc/hostname", path), 0);
    snprintf(path, sizeof path, "%s/alias.m4s", sub);
    snprintf(target, sizeof target, "%s/chunk-1.m4s", sub);
    assert_int_equal(symlink(target, path), 0);
}

static int start(void **state) {
    server *s = calloc(1, sizeof *s);
    s->dir = fa_test_tmpdir();
    lay_out(s);
    char db[4200], media[4200];
    snprintf(db, sizeof db, "%s/fa.db", s->dir);
    snprintf(media, sizeof media, "%s/media", s->dir);
    s->port = e2e_serve_media(db, media, &s->pid);
    *state = s;
    return s->port > 0 ? 0 : -1;
}

static int stop(void **state) {
    server *s = *state;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int status = 0;
        waitpid(s->pid, &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    fa_test_rmtree(s->dir);
    free(s->dir);
    free(s);
    return 0;
}

typedef struct reply {
    int status;
    char *raw;
    const char *body;
    size_t body_len;
} reply;

static char reply_buf[SEG_BYTES + 8192];

/* One request; the reply's head and body are views into reply_buf. */
static reply get(server *s, const char *method, const char *target, const char *extra) {
    reply r = {0};
    r.status = e2e_http(s->port, method, target, extra, reply_buf, sizeof reply_buf);
    r.raw = reply_buf;
    char *end = strstr(reply_buf, "\r\n\r\n");
    assert_non_null(end);
    r.body = end + 4;
    const char *cl = strcasestr(reply_buf, "\r\nContent-Length: ");
    r.body_len = cl && cl < end ? strtoul(cl + 18, NULL, 10) : 0;
    return r;
}

static void expect_header(const reply *r, const char *line) {
    if (!strstr(r->raw, line)) fail_msg("no '%s' in:\n%.600s", line, r->raw);
}

static void test_types_and_validators(void **state) {
    server *s = *state;
    reply r = get(s, "GET", "/media/match-1/master.m3u8", NULL);
    assert_int_equal(r.status, 200);
    expect_header(&r, "Content-Type: application/vnd.apple.mpegurl\r\n");
    expect_header(&r, "Cache-Control: public, max-age=60\r\n");
    expect_header(&r, "Accept-Ranges: bytes\r\n");
    assert_int_equal(r.body_len, 8);
    assert_memory_equal(r.body, "#EXTM3U\n", 8);
    r = get(s, "GET", "/media/match-1/manifest.mpd", NULL);
    expect_header(&r, "Content-Type: application/dash+xml\r\n");
    r = get(s, "GET", "/media/match-1/chunk-1.m4s", NULL);
    assert_int_equal(r.status, 200);
    expect_header(&r, "Content-Type: video/iso.segment\r\n");
    expect_header(&r, "Cache-Control: public, max-age=86400\r\n");
    assert_int_equal(r.body_len, SEG_BYTES);
    assert_memory_equal(r.body, s->seg, SEG_BYTES);
    const char *tag = strstr(r.raw, "ETag: ");
    assert_non_null(tag);
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %.*s\r\n", (int)strcspn(tag + 6, "\r"), tag + 6);
    assert_int_equal(get(s, "GET", "/media/match-1/chunk-1.m4s", inm).status, 304);
    assert_int_equal(get(s, "GET", "/media/match-1/chunk-1.m4s", "If-None-Match: \"other\"\r\n").status, 200);
    r = get(s, "HEAD", "/media/match-1/chunk-1.m4s", NULL);
    assert_int_equal(r.status, 200);
    expect_header(&r, "Content-Length: 300000\r\n");
    assert_int_equal(strlen(r.body), 0);
}

static void expect_range(server *s, const char *range, size_t first, size_t last) {
    char hdr[128], cr[96];
    snprintf(hdr, sizeof hdr, "Range: %s\r\n", range);
    reply r = get(s, "GET", "/media/match-1/chunk-1.m4s", hdr);
    if (r.status != 206) fail_msg("%s: status %d", range, r.status);
    snprintf(cr, sizeof cr, "Content-Range: bytes %zu-%zu/%d\r\n", first, last, SEG_BYTES);
    expect_header(&r, cr);
    assert_int_equal(r.body_len, last - first + 1);
    assert_memory_equal(r.body, s->seg + first, last - first + 1);
}

static void test_ranges(void **state) {
    server *s = *state;
    expect_range(s, "bytes=0-0", 0, 0);
    expect_range(s, "bytes=10-19", 10, 19);
    expect_range(s, "bytes=4097-150000", 4097, 150000); /* not page aligned: the mapping's offset */
    expect_range(s, "bytes=299990-", 299990, SEG_BYTES - 1);
    expect_range(s, "bytes=299990-999999", 299990, SEG_BYTES - 1);
    expect_range(s, "bytes=-100", SEG_BYTES - 100, SEG_BYTES - 1);
    expect_range(s, "bytes=-999999", 0, SEG_BYTES - 1);
    reply r = get(s, "GET", "/media/match-1/chunk-1.m4s", "Range: bytes=300000-\r\n");
    assert_int_equal(r.status, 416);
    expect_header(&r, "Content-Range: bytes */300000\r\n");
    assert_non_null(strstr(r.body, "outside the 300000 bytes"));
    assert_int_equal(get(s, "GET", "/media/match-1/chunk-1.m4s", "Range: bytes=-0\r\n").status, 416);
    /* several ranges, another unit, garbage: the whole file */
    assert_int_equal(get(s, "GET", "/media/match-1/chunk-1.m4s", "Range: bytes=0-1,5-6\r\n").status, 200);
    assert_int_equal(get(s, "GET", "/media/match-1/chunk-1.m4s", "Range: items=0-1\r\n").status, 200);
    assert_int_equal(get(s, "GET", "/media/match-1/chunk-1.m4s", "Range: bytes=9-3\r\n").status, 200);
    /* If-Range with a stale validator: the whole file */
    r = get(s, "GET", "/media/match-1/chunk-1.m4s", "Range: bytes=0-9\r\nIf-Range: \"stale\"\r\n");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, SEG_BYTES);
}

static void expect_404(server *s, const char *target) {
    reply r = get(s, "GET", target, NULL);
    if (r.status != 404) fail_msg("%s: status %d, expected 404", target, r.status);
    expect_header(&r, "Content-Type: application/problem+json\r\n");
}

static void test_refusals(void **state) {
    server *s = *state;
    expect_404(s, "/media/match-1/missing.m4s");
    expect_404(s, "/media/match-1");       /* a directory */
    expect_404(s, "/media/match-1/");      /* an empty segment */
    expect_404(s, "/media/.secret");       /* hidden */
    expect_404(s, "/media/match-1/../.secret");
    expect_404(s, "/media/match-1/%2e%2e/.secret");
    expect_404(s, "/media/match-1/escape.m4s"); /* a symlink out of the directory */
    expect_404(s, "/media/match-1/alias.m4s");  /* symlinks are not followed at all */
    expect_404(s, "/media/");
    reply r = get(s, "POST", "/media/match-1/master.m3u8", NULL);
    assert_int_equal(r.status, 405);
}

/* Without --media the route answers 404 saying how to turn it on; a
 * --media that is not a directory is a usage error. */
static void test_options(void **state) {
    (void)state;
    char *err = NULL;
    int rc = fa_test_run_cli("serve --port 0 --media /nonexistent/dir", NULL, &err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "--media: '/nonexistent/dir' is not a directory"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_and_validators),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
