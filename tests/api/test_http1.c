/*
 * test_http1.c - the HTTP/1.1 wire format of src/api/http1.c: requests
 * parsed whole, pipelined and split at every byte boundary (each call on a
 * freshly allocated copy of exactly the bytes received, so ASan catches any
 * read past them or any view left pointing into an old buffer), bodies,
 * every malformed case and limit with its exact status, the keep-alive
 * matrix, query and header lookup, and the exact bytes of response heads.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/http1.h"
#include "core/core.h"
#include "testutil.h"

static const fa_h1_limits limits = {1024, 100};
static char scratch[1024];

/* Parses s (a copy of exactly its bytes) in one call. */
static int parse(const char *s, size_t n, const fa_h1_limits *lim, fa_http_request *req, fa_h1_error *err,
                 size_t *used, char **copy) {
    fa_h1_parser p;
    fa_h1_parser_reset(&p);
    *copy = malloc(n ? n : 1);
    memcpy(*copy, s, n);
    *used = 0;
    return fa_h1_parse(&p, *copy, n, lim, req, scratch, err, used);
}

static void assert_strv(fa_strv v, const char *want) {
    if (v.n != strlen(want) || memcmp(v.p, want, v.n) != 0)
        print_message("got '%.*s', want '%s'\n", (int)v.n, v.p, want);
    assert_int_equal(v.n, strlen(want));
    assert_memory_equal(v.p, want, v.n);
}

static void test_simple_get(void **state) {
    (void)state;
    static const char s[] = "GET /v1/matches/42?fields=a,b&x=1 HTTP/1.1\r\nHost: example.org\r\n"
                            "Accept: application/json\r\nUser-Agent:  curl/8 \t\r\n\r\n";
    fa_http_request req;
    fa_h1_error err;
    size_t used;
    char *copy;
    assert_int_equal(parse(s, sizeof s - 1, &limits, &req, &err, &used, &copy), 1);
    assert_int_equal(used, sizeof s - 1);
    assert_int_equal(req.method, FA_HTTP_GET);
    assert_strv(req.method_text, "GET");
    assert_strv(req.target, "/v1/matches/42?fields=a,b&x=1");
    assert_strv(req.path, "/v1/matches/42");
    assert_strv(req.query, "fields=a,b&x=1");
    assert_int_equal(req.minor, 1);
    assert_int_equal(req.keep_alive, 1);
    assert_int_equal(req.nheaders, 3);
    assert_strv(req.headers[0].name, "Host");
    assert_strv(req.headers[0].value, "example.org");
    assert_strv(req.headers[2].value, "curl/8"); /* OWS trimmed on both sides */
    assert_int_equal(req.body.n, 0);
    free(copy);
}

static void test_methods_and_targets(void **state) {
    (void)state;
    static const struct {
        const char *req;
        fa_http_method method;
        const char *path, *query;
    } cases[] = {
        {"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", FA_HTTP_HEAD, "/", ""},
        {"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", FA_HTTP_POST, "/x", ""},
        {"PUT /x? HTTP/1.1\r\nHost: a\r\n\r\n", FA_HTTP_PUT, "/x", ""},
        {"DELETE /a%20b%2Fc HTTP/1.1\r\nHost: a\r\n\r\n", FA_HTTP_DELETE, "/a b/c", ""},
        {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", FA_HTTP_OPTIONS, "*", ""},
        {"PATCH /p?q=%zz HTTP/1.1\r\nHost: a\r\n\r\n", FA_HTTP_OTHER, "/p", "q=%zz"}, /* query stays raw */
        {"get / HTTP/1.1\r\nHost: a\r\n\r\n", FA_HTTP_OTHER, "/", ""}, /* methods are case-sensitive */
        {"GET http://example.org/a/b?c=d HTTP/1.1\r\nHost: example.org\r\n\r\n", FA_HTTP_GET, "/a/b", "c=d"},
        {"GET HTTPS://example.org HTTP/1.1\r\nHost: example.org\r\n\r\n", FA_HTTP_GET, "/", ""},
        {"GET /%e2%82%ac+x/..%2f HTTP/1.1\r\nHost: a\r\n\r\n", FA_HTTP_GET, "/\xe2\x82\xac+x/../", ""},
        {"GET /a HTTP/1.0\r\n\r\n", FA_HTTP_GET, "/a", ""}, /* no Host needed in 1.0 */
        {"\r\n\n\r\nGET /lead HTTP/1.1\nHost: a\n\n", FA_HTTP_GET, "/lead", ""},
        {"GET /\xc3\xa9t\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xe9\r\n\r\n", FA_HTTP_GET,
         "/\xc3\xa9t\xc3\xa9", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fa_http_request req;
        fa_h1_error err = {0};
        size_t used;
        char *copy;
        int rc = parse(cases[i].req, strlen(cases[i].req), &limits, &req, &err, &used, &copy);
        if (rc != 1) print_message("case %zu: rc %d status %d %s\n", i, rc, err.status, err.what);
        assert_int_equal(rc, 1);
        assert_int_equal(used, strlen(cases[i].req));
        assert_int_equal(req.method, cases[i].method);
        assert_strv(req.path, cases[i].path);
        assert_strv(req.query, cases[i].query);
        free(copy);
    }
}

static void test_body(void **state) {
    (void)state;
    static const char s[] = "POST /echo HTTP/1.1\r\nHost: a\r\ncontent-length: 11\r\n\r\nhello worldGET";
    fa_http_request req;
    fa_h1_error err;
    size_t used;
    char *copy;
    assert_int_equal(parse(s, sizeof s - 1, &limits, &req, &err, &used, &copy), 1);
    assert_int_equal(used, sizeof s - 1 - 3); /* the next request's first bytes are left */
    assert_strv(req.body, "hello world");
    free(copy);
    /* body not there yet: 0, then complete once it is */
    assert_int_equal(parse(s, sizeof s - 1 - 8, &limits, &req, &err, &used, &copy), 0);
    free(copy);
    /* exactly the limit is fine */
    char big[256];
    int n = snprintf(big, sizeof big, "PUT /b HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n");
    memset(big + n, 'x', 100);
    assert_int_equal(parse(big, (size_t)n + 100, &limits, &req, &err, &used, &copy), 1);
    assert_int_equal(req.body.n, 100);
    assert_int_equal(used, (size_t)n + 100);
    free(copy);
}

/* The fields a request is compared on, copied out of the parse buffer. */
typedef struct summary {
    fa_http_method method;
    char path[64], query[64], body[64], host[32];
    size_t used;
    int keep_alive;
} summary;

static void summarise(const fa_http_request *req, size_t used, summary *s) {
    const fa_strv *host = fa_http_header_get(req, "host");
    s->method = req->method;
    snprintf(s->path, sizeof s->path, "%.*s", (int)req->path.n, req->path.p);
    snprintf(s->query, sizeof s->query, "%.*s", (int)req->query.n, req->query.p);
    snprintf(s->body, sizeof s->body, "%.*s", (int)req->body.n, req->body.p);
    snprintf(s->host, sizeof s->host, "%.*s", host ? (int)host->n : 0, host ? host->p : "");
    s->used = used;
    s->keep_alive = req->keep_alive;
}

static void assert_summary_equal(const summary *a, const summary *b) {
    assert_int_equal(a->method, b->method);
    assert_string_equal(a->path, b->path);
    assert_string_equal(a->query, b->query);
    assert_string_equal(a->body, b->body);
    assert_string_equal(a->host, b->host);
    assert_int_equal(a->used, b->used);
    assert_int_equal(a->keep_alive, b->keep_alive);
}

static const char pipeline[] =
    "GET /one?a=1 HTTP/1.1\r\nHost: h1\r\n\r\n"
    "POST /two%21 HTTP/1.1\r\nHost: h2\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    "abcde"
    "\r\nGET /three HTTP/1.0\nhost: h3\nConnection: keep-alive\n\n"
    "DELETE /four HTTP/1.1\r\nHost: h4\r\nConnection: close\r\nContent-Length: 2\r\n\r\nzz";

/* Parses the pipeline in one buffer, request after request. */
static size_t parse_pipeline_whole(summary *out, size_t max) {
    size_t n = sizeof pipeline - 1, off = 0, k = 0;
    fa_h1_parser p;
    fa_h1_parser_reset(&p);
    while (off < n && k < max) {
        fa_http_request req;
        fa_h1_error err;
        size_t used = 0;
        assert_int_equal(fa_h1_parse(&p, pipeline + off, n - off, &limits, &req, scratch, &err, &used), 1);
        summarise(&req, used, &out[k++]);
        off += used;
    }
    assert_int_equal(off, n);
    return k;
}

static void test_pipelined(void **state) {
    (void)state;
    summary s[8];
    assert_int_equal(parse_pipeline_whole(s, 8), 4);
    assert_int_equal(s[0].method, FA_HTTP_GET);
    assert_string_equal(s[0].path, "/one");
    assert_string_equal(s[0].query, "a=1");
    assert_string_equal(s[1].path, "/two!");
    assert_string_equal(s[1].body, "abcde");
    assert_string_equal(s[2].path, "/three"); /* the stray CRLF before it is skipped */
    assert_string_equal(s[2].host, "h3");
    assert_int_equal(s[2].keep_alive, 1);
    assert_string_equal(s[3].body, "zz");
    assert_int_equal(s[3].keep_alive, 0);
}

/* Feeds the pipeline as it would arrive in reads of the given sizes
 * (cut[] are the cumulative read ends), each parse on a fresh exact copy. */
static size_t parse_pipeline_reads(const size_t *cuts, size_t ncuts, summary *out, size_t max) {
    size_t total = sizeof pipeline - 1, start = 0, k = 0;
    fa_h1_parser p;
    fa_h1_parser_reset(&p);
    for (size_t c = 0; c < ncuts; c++) {
        for (;;) { /* parse all complete requests in what has arrived */
            size_t have = cuts[c] - start;
            if (have == 0) break;
            char *buf = malloc(have);
            memcpy(buf, pipeline + start, have);
            fa_http_request req;
            fa_h1_error err;
            size_t used = 0;
            int rc = fa_h1_parse(&p, buf, have, &limits, &req, scratch, &err, &used);
            assert_true(rc >= 0);
            if (rc == 1 && k < max) summarise(&req, used, &out[k++]);
            free(buf);
            if (rc == 0) break;
            start += used;
        }
    }
    assert_int_equal(start, total);
    return k;
}

static void test_split_every_boundary(void **state) {
    (void)state;
    summary whole[8], part[8];
    size_t n = parse_pipeline_whole(whole, 8), total = sizeof pipeline - 1;
    size_t *cuts = malloc(total * sizeof *cuts);
    for (size_t i = 0; i < total; i++) cuts[i] = i + 1;
    assert_int_equal(parse_pipeline_reads(cuts, total, part, 8), n); /* one byte per read */
    for (size_t i = 0; i < n; i++) assert_summary_equal(&whole[i], &part[i]);
    for (size_t k = 1; k < total; k++) { /* two reads, cut at k */
        size_t two[2] = {k, total};
        memset(part, 0, sizeof part);
        assert_int_equal(parse_pipeline_reads(two, 2, part, 8), n);
        for (size_t i = 0; i < n; i++) assert_summary_equal(&whole[i], &part[i]);
    }
    free(cuts);
}

static void test_need_and_expect(void **state) {
    (void)state;
    static const char s[] =
        "POST /u HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 50\r\n\r\n";
    fa_h1_parser p;
    fa_h1_parser_reset(&p);
    fa_http_request req;
    fa_h1_error err;
    size_t used;
    assert_int_equal(fa_h1_parser_need(&p), 0);
    assert_int_equal(fa_h1_parse(&p, s, sizeof s - 1, &limits, &req, scratch, &err, &used), 0);
    assert_int_equal(fa_h1_parser_need(&p), sizeof s - 1 + 50);
    assert_int_equal(p.expect_continue, 1);
    static const char t[] = "POST /u HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    fa_h1_parser_reset(&p);
    assert_int_equal(fa_h1_parse(&p, t, sizeof t - 1, &limits, &req, scratch, &err, &used), 0);
    assert_int_equal(p.expect_continue, 0); /* HTTP/1.0 clients do not wait for it */
}

static void check_status(const char *s, size_t n, const fa_h1_limits *lim, int status) {
    fa_http_request req;
    fa_h1_error err = {0};
    size_t used;
    char *copy;
    int rc = parse(s, n, lim, &req, &err, &used, &copy);
    if (rc != -1 || err.status != status)
        print_message("request %.*s: rc %d status %d (%s), want %d\n", (int)n, s, rc, err.status,
                      err.what ? err.what : "", status);
    assert_int_equal(rc, -1);
    assert_int_equal(err.status, status);
    assert_non_null(err.what);
    free(copy);
}

static void test_malformed(void **state) {
    (void)state;
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},          /* bare CR in a value */
        {"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\r\n\r\n", 400},      /* bare CR before CRLF */
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400},              /* bare CR on the blank line */
        {"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400},              /* bare CR ending the request line */
        {"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400},  /* obs-fold */
        {"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400}, /* obs-fold with HTAB */
        {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},               /* first header folded */
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},               /* space before the colon */
        {"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400},               /* '(' is not a tchar */
        {"GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400},     /* empty name */
        {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01"
         "b\r\n\r\n",
         400},                                                  /* CTL in a value */
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400}, /* DEL in a value */
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},             /* bad method char */
        {" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400}, /* two spaces */
        {"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1\r\nHost: a\r\n\r\n", 400},
        {"GET / http/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /\r\nHost: a\r\n\r\n", 400},
        {"GET\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
        {"GET relative HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400}, /* '*' only for OPTIONS */
        {"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /a%zzb HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /a% HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400},                       /* no Host in 1.1 */
        {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400}, /* two Hosts */
        {"GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n", 400}, /* also in 1.0 */
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n", 411},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkedx\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n", 413},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_status(cases[i].req, strlen(cases[i].req), &limits, cases[i].status);
    /* a NUL byte inside the request line or a value */
    static const char nul_value[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    check_status(nul_value, sizeof nul_value - 1, &limits, 400);
    static const char nul_target[] = "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n";
    check_status(nul_target, sizeof nul_target - 1, &limits, 400);
}

static void test_limits(void **state) {
    (void)state;
    fa_h1_limits lim = {256, 100};
    char big[2048];
    /* a complete head of 257 bytes: 431; of exactly 256: fine */
    const char *pre = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    for (int extra = 0; extra < 2; extra++) {
        size_t n = strlen(pre);
        memcpy(big, pre, n);
        size_t fill = 256 - n - 4 + (size_t)extra;
        memset(big + n, 'v', fill);
        memcpy(big + n + fill, "\r\n\r\n", 4);
        n += fill + 4;
        fa_http_request req;
        fa_h1_error err = {0};
        size_t used;
        char *copy;
        int rc = parse(big, n, &lim, &req, &err, &used, &copy);
        assert_int_equal(rc, extra ? -1 : 1);
        if (extra) assert_int_equal(err.status, 431);
        free(copy);
    }
    /* an incomplete head already over the limit: 431 without waiting for more */
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    check_status(big, 257, &lim, 431);
    {
        fa_http_request req;
        fa_h1_error err;
        size_t used;
        char *copy;
        assert_int_equal(parse(big, 256, &lim, &req, &err, &used, &copy), 0);
        free(copy);
    }
    /* empty lines before the request line count against the limit */
    memset(big, '\n', 300);
    check_status(big, 300, &lim, 431);
    /* 64 header lines are fine, 65 are 431 */
    fa_h1_limits roomy = {8192, 100};
    for (int extra = 0; extra < 2; extra++) {
        fa_buf b = {0};
        fa_buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\n");
        for (int i = 1; i < FA_HTTP_MAX_HEADERS + extra; i++) fa_buf_printf(&b, "X-%d: %d\r\n", i, i);
        fa_buf_puts(&b, "\r\n");
        fa_http_request req;
        fa_h1_error err = {0};
        size_t used;
        char *copy;
        int rc = parse(b.data, b.len, &roomy, &req, &err, &used, &copy);
        assert_int_equal(rc, extra ? -1 : 1);
        if (extra)
            assert_int_equal(err.status, 431);
        else
            assert_int_equal(req.nheaders, FA_HTTP_MAX_HEADERS);
        free(copy);
        fa_buf_free(&b);
    }
}

static int keep_alive_of(const char *version, const char *connection) {
    char s[256];
    snprintf(s, sizeof s, "GET / HTTP/%s\r\nHost: a\r\n%s%s%s\r\n", version, connection ? "Connection: " : "",
             connection ? connection : "", connection ? "\r\n" : "");
    fa_http_request req;
    fa_h1_error err;
    size_t used;
    char *copy;
    assert_int_equal(parse(s, strlen(s), &limits, &req, &err, &used, &copy), 1);
    free(copy);
    return req.keep_alive;
}

static void test_keep_alive_matrix(void **state) {
    (void)state;
    assert_int_equal(keep_alive_of("1.1", NULL), 1);
    assert_int_equal(keep_alive_of("1.1", "close"), 0);
    assert_int_equal(keep_alive_of("1.1", "CLOSE"), 0);
    assert_int_equal(keep_alive_of("1.1", "keep-alive"), 1);
    assert_int_equal(keep_alive_of("1.1", "Upgrade, close"), 0);
    assert_int_equal(keep_alive_of("1.1", "closed"), 1); /* a different token */
    assert_int_equal(keep_alive_of("1.0", NULL), 0);
    assert_int_equal(keep_alive_of("1.0", "keep-alive"), 1);
    assert_int_equal(keep_alive_of("1.0", "Keep-Alive"), 1);
    assert_int_equal(keep_alive_of("1.0", " foo ,\tkeep-alive "), 1);
    assert_int_equal(keep_alive_of("1.0", "keep-alive, close"), 0);
    assert_int_equal(keep_alive_of("1.2", NULL), 1); /* a later 1.x minor behaves as 1.1 */
    /* two Connection headers combine */
    static const char s[] =
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n";
    fa_http_request req;
    fa_h1_error err;
    size_t used;
    char *copy;
    assert_int_equal(parse(s, sizeof s - 1, &limits, &req, &err, &used, &copy), 1);
    assert_int_equal(req.keep_alive, 0);
    free(copy);
}

static void test_query_get(void **state) {
    (void)state;
    static const char s[] =
        "GET /q?a=1&b=hello+world&c=%41%42%c3%a9&d&e=&f=%zz&g=%00&na%6De=x&a=2&long=0123456789"
        "&=empty&h=%2 HTTP/1.1\r\nHost: a\r\n\r\n";
    fa_http_request req;
    fa_h1_error err;
    size_t used;
    char *copy;
    char buf[16];
    assert_int_equal(parse(s, sizeof s - 1, &limits, &req, &err, &used, &copy), 1);
    assert_int_equal(fa_http_query_get(&req, "a", buf, sizeof buf), 1);
    assert_string_equal(buf, "1"); /* the first one wins */
    assert_int_equal(fa_http_query_get(&req, "b", buf, sizeof buf), 1);
    assert_string_equal(buf, "hello world");
    assert_int_equal(fa_http_query_get(&req, "c", buf, sizeof buf), 1);
    assert_string_equal(buf, "AB\xc3\xa9");
    assert_int_equal(fa_http_query_get(&req, "d", buf, sizeof buf), 1);
    assert_string_equal(buf, "");
    assert_int_equal(fa_http_query_get(&req, "e", buf, sizeof buf), 1);
    assert_string_equal(buf, "");
    assert_int_equal(fa_http_query_get(&req, "name", buf, sizeof buf), 1);
    assert_string_equal(buf, "x");
    assert_int_equal(fa_http_query_get(&req, "", buf, sizeof buf), 1);
    assert_string_equal(buf, "empty");
    assert_int_equal(fa_http_query_get(&req, "missing", buf, sizeof buf), 0);
    assert_int_equal(fa_http_query_get(&req, "A", buf, sizeof buf), 0); /* keys are case-sensitive */
    assert_int_equal(fa_http_query_get(&req, "f", buf, sizeof buf), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "'f'"));
    assert_int_equal(fa_http_query_get(&req, "g", buf, sizeof buf), FA_EINVAL);
    assert_int_equal(fa_http_query_get(&req, "h", buf, sizeof buf), FA_EINVAL);
    assert_int_equal(fa_http_query_get(&req, "long", buf, 11), 1);
    assert_string_equal(buf, "0123456789");
    assert_int_equal(fa_http_query_get(&req, "long", buf, 10), FA_ELIMIT);
    assert_int_equal(fa_http_query_get(&req, "d", buf, 0), FA_ELIMIT);
    free(copy);
    /* no query at all */
    static const char t[] = "GET /q HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse(t, sizeof t - 1, &limits, &req, &err, &used, &copy), 1);
    assert_non_null(req.query.p);
    assert_int_equal(req.query.n, 0);
    assert_int_equal(fa_http_query_get(&req, "a", buf, sizeof buf), 0);
    free(copy);
}

static void test_header_get(void **state) {
    (void)state;
    static const char s[] =
        "GET / HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"x\"\r\nACCEPT-encoding: br, gzip\r\n"
        "If-None-Match: \"y\"\r\nEmpty:\r\n\r\n";
    fa_http_request req;
    fa_h1_error err;
    size_t used;
    char *copy;
    assert_int_equal(parse(s, sizeof s - 1, &limits, &req, &err, &used, &copy), 1);
    const fa_strv *v = fa_http_header_get(&req, "if-none-match");
    assert_non_null(v);
    assert_strv(*v, "\"x\""); /* the first one */
    v = fa_http_header_get(&req, "Accept-Encoding");
    assert_non_null(v);
    assert_strv(*v, "br, gzip");
    v = fa_http_header_get(&req, "empty");
    assert_non_null(v);
    assert_int_equal(v->n, 0);
    assert_null(fa_http_header_get(&req, "Accept"));
    assert_null(fa_http_header_get(&req, "If-None-Matc"));
    free(copy);
}

static void test_date(void **state) {
    (void)state;
    fa_h1_date d = {0};
    fa_h1_date_set(&d, 784111777);
    assert_string_equal(d.text, "Sun, 06 Nov 1994 08:49:37 GMT");
    fa_h1_date_set(&d, 1795651200); /* 2026-11-26 */
    assert_string_equal(d.text, "Thu, 26 Nov 2026 00:00:00 GMT");
    fa_h1_date_set(&d, 951782400); /* a leap day */
    assert_string_equal(d.text, "Tue, 29 Feb 2000 00:00:00 GMT");
}

static void test_write_head(void **state) {
    (void)state;
    fa_h1_date d = {0};
    fa_h1_date_set(&d, 784111777);
    static fa_http_response resp;
    memset(&resp, 0, sizeof resp);
    resp.content_type = "application/json";
    assert_int_equal(fa_http_response_header(&resp, "ETag", "\"abc\""), 0);
    assert_int_equal(fa_http_response_header(&resp, "Cache-Control", "max-age=60"), 0);
    /* framing headers from a handler are dropped; so are broken ones written directly */
    snprintf(resp.headers[2][0], 128, "Content-Length");
    snprintf(resp.headers[2][1], 128, "7");
    snprintf(resp.headers[3][0], 128, "X-Bad");
    snprintf(resp.headers[3][1], 128, "a\r\nInjected: 1");
    resp.nheaders = 4;
    fa_buf out = {0};
    assert_int_equal(fa_h1_write_head(&out, 200, &resp, 2048, FA_H1_LENGTH, &d), 0);
    assert_string_equal(out.data,
                        "HTTP/1.1 200 OK\r\nServer: footanalytics/" FA_VERSION "\r\n"
                        "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2048\r\nETag: \"abc\"\r\nCache-Control: max-age=60\r\n\r\n");
    fa_buf_reset(&out);
    assert_int_equal(fa_h1_write_head(&out, 304, NULL, 0, FA_H1_CLOSE, &d), 0);
    assert_string_equal(out.data, "HTTP/1.1 304 Not Modified\r\nServer: footanalytics/" FA_VERSION "\r\n"
                                  "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: close\r\n\r\n");
    fa_buf_reset(&out);
    assert_int_equal(fa_h1_write_head(&out, 599, NULL, 0, FA_H1_LENGTH | FA_H1_KEEP_ALIVE, &d), 0);
    assert_string_equal(out.data, "HTTP/1.1 599 Unknown\r\nServer: footanalytics/" FA_VERSION "\r\n"
                                  "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 0\r\n"
                                  "Connection: keep-alive\r\n\r\n");
    fa_buf_reset(&out);
    assert_int_equal(fa_h1_write_error(&out, 431, "request head \"too\" large", 0, &d), 0);
    const char *body = strstr(out.data, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, "{\"type\":\"about:blank\",\"title\":\"Request Header Fields Too Large\","
                                  "\"status\":431,\"detail\":\"request head \\\"too\\\" large\"}\n");
    assert_non_null(strstr(out.data, "Content-Type: application/problem+json\r\n"));
    assert_non_null(strstr(out.data, "\r\nConnection: close\r\n"));
    char want_len[64];
    snprintf(want_len, sizeof want_len, "Content-Length: %zu\r\n", strlen(body + 4));
    assert_non_null(strstr(out.data, want_len));
    size_t full = out.len, body_len = strlen(body + 4);
    fa_buf_reset(&out);
    assert_int_equal(fa_h1_write_error(&out, 431, "request head \"too\" large", 1, &d), 0);
    assert_int_equal(out.len, full - body_len); /* HEAD: the same head, no body */
    fa_buf_free(&out);
}

static void test_response_header_limits(void **state) {
    (void)state;
    static fa_http_response resp;
    memset(&resp, 0, sizeof resp);
    char name[16], longv[200];
    for (int i = 0; i < FA_HTTP_MAX_RESP_HEADERS; i++) {
        snprintf(name, sizeof name, "X-%d", i);
        assert_int_equal(fa_http_response_header(&resp, name, "v"), 0);
    }
    assert_int_equal(fa_http_response_header(&resp, "X-Full", "v"), FA_ELIMIT);
    resp.nheaders = 0;
    memset(longv, 'v', sizeof longv);
    longv[127] = '\0';
    assert_int_equal(fa_http_response_header(&resp, "X-Long", longv), 0); /* 127 bytes fit */
    longv[127] = 'v';
    longv[128] = '\0';
    assert_int_equal(fa_http_response_header(&resp, "X-Long", longv), FA_ELIMIT);
    assert_int_equal(fa_http_response_header(&resp, "X-Bad", "a\nb"), FA_EINVAL);
    assert_int_equal(fa_http_response_header(&resp, "X Bad", "a"), FA_EINVAL);
    assert_int_equal(fa_http_response_header(&resp, "", "a"), FA_EINVAL);
    assert_int_equal(resp.nheaders, 1);
    assert_string_equal(fa_h1_reason(404), "Not Found");
    assert_string_equal(fa_h1_reason(413), "Content Too Large");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_methods_and_targets),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_split_every_boundary),
        cmocka_unit_test(test_need_and_expect),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_keep_alive_matrix),
        cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_header_get),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_write_head),
        cmocka_unit_test(test_response_header_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
