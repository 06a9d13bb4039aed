/*
 * test_http2.c - the HTTP/2 server session of src/api/http2.c, driven by a
 * real nghttp2 CLIENT session in memory (no sockets): the client's bytes go
 * to fa_h2_feed, fa_h2_output's bytes go to the client, until both are
 * quiet. The client checks every response as strictly as nghttp2 does
 * (forbidden headers, content-length against the data), so a stream that
 * closes with NO_ERROR and a status proves the response was well-formed.
 *
 * Covered: request fields (method, decoded path, query, host from
 * :authority, headers, peer, version); bodies copied and borrowed
 * (release exactly once, also for a reset stream); a 2 MiB response through
 * the client's 64 KiB window and a bounded output buffer; 10 deferred
 * streams answered in reverse order; POST bodies up to 2 MiB; 413, 431
 * and REFUSED_STREAM beyond the limits; the RST_STREAM flood; graceful
 * GOAWAY; h2c upgrade; preface detection; garbage input.
 */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/http1.h"
#include "api/http2.h"
#include "core/core.h"
#include "testutil.h"

#define MAX_STREAMS 256

/* ---------------------------------------------------------------- the server side */

enum { ANSWER_NOW, ANSWER_LATER, ANSWER_AND_FLUSH };

typedef struct seen_req {
    int32_t stream;
    fa_http_method method;
    char method_text[16], target[256], path[256], query[256], host[128], accept[128], peer[48];
    int version;
    size_t nheaders;
    fa_buf body;
} seen_req;

typedef struct server {
    fa_h2 *h;
    int mode;
    seen_req reqs[MAX_STREAMS];
    size_t nreqs;
    const char *ref; /* answer with this body_ref when set */
    size_t ref_len;
    int releases;
    size_t out_max; /* fa_h2_output's max */
    int feed_rc, saw_more;
} server;

static void copy_strv(char *dst, size_t cap, fa_strv v) {
    size_t n = v.n < cap - 1 ? v.n : cap - 1;
    memcpy(dst, v.p, n);
    dst[n] = '\0';
}

static void count_release(void *ud) { ((server *)ud)->releases++; }

/* 200 with a JSON body naming the path, as a copy or the borrowed ref. */
static void answer(server *sv, int32_t stream, const char *path, int head) {
    fa_http_response resp = {0};
    resp.status = 200;
    resp.content_type = "application/json";
    assert_int_equal(fa_http_response_header(&resp, "ETag", "\"abc\""), 0);
    assert_int_equal(fa_http_response_header(&resp, "Connection", "close"), 0);          /* must be dropped */
    assert_int_equal(fa_http_response_header(&resp, "Transfer-Encoding", "chunked"), 0); /* must be dropped */
    assert_int_equal(fa_http_response_header(&resp, "Keep-Alive", "timeout=5"), 0);      /* must be dropped */
    if (sv->ref) {
        resp.body_ref = sv->ref;
        resp.body_ref_len = sv->ref_len;
        resp.release = count_release;
        resp.release_ud = sv;
    } else {
        fa_buf_printf(&resp.body, "{\"path\":\"%s\"}", path);
    }
    assert_int_equal(fa_h2_respond(sv->h, stream, &resp, head), 0);
    fa_buf_free(&resp.body);
}

static void on_request(void *ud, int32_t stream, fa_http_request *req) {
    server *sv = ud;
    assert_true(sv->nreqs < MAX_STREAMS);
    seen_req *r = &sv->reqs[sv->nreqs++];
    r->stream = stream;
    r->method = req->method;
    copy_strv(r->method_text, sizeof r->method_text, req->method_text);
    copy_strv(r->target, sizeof r->target, req->target);
    copy_strv(r->path, sizeof r->path, req->path);
    copy_strv(r->query, sizeof r->query, req->query);
    const fa_strv *v = fa_http_header_get(req, "host");
    if (v) copy_strv(r->host, sizeof r->host, *v);
    v = fa_http_header_get(req, "Accept");
    if (v) copy_strv(r->accept, sizeof r->accept, *v);
    snprintf(r->peer, sizeof r->peer, "%s", req->peer);
    r->version = req->version;
    r->nheaders = req->nheaders;
    fa_buf_append(&r->body, req->body.p, req->body.n);
    if (sv->mode == ANSWER_NOW || sv->mode == ANSWER_AND_FLUSH)
        answer(sv, stream, r->path, req->method == FA_HTTP_HEAD);
    if (sv->mode == ANSWER_AND_FLUSH) { /* output and feed are not re-entrant: no effect here */
        fa_buf out = {0};
        assert_int_equal(fa_h2_output(sv->h, &out, 0), 0);
        assert_int_equal(out.len, 0);
        assert_int_equal(fa_h2_feed(sv->h, (const uint8_t *)"x", 1), FA_EINVAL);
    }
}

static void server_open(server *sv, const fa_h2_config *cfg) {
    memset(sv, 0, sizeof *sv);
    fa_h2_config c;
    fa_h2_config_default(&c);
    if (cfg) c = *cfg;
    c.peer = "10.0.0.7";
    fa_h2_callbacks cb = {sv, on_request};
    sv->h = fa_h2_new(&c, &cb);
    assert_non_null(sv->h);
}

static void server_close(server *sv) {
    fa_h2_free(sv->h);
    for (size_t i = 0; i < sv->nreqs; i++) fa_buf_free(&sv->reqs[i].body);
}

/* ---------------------------------------------------------------- the client side */

typedef struct client_stream {
    int32_t id;
    int status, closed;
    uint32_t close_code;
    char ctype[64], clen[32], etag[32], names[512];
    fa_buf body;
} client_stream;

typedef struct client {
    nghttp2_session *ng;
    client_stream st[MAX_STREAMS];
    size_t n;
    int goaway;
    uint32_t goaway_code;
    int32_t goaway_last;
} client;

typedef struct upload {
    const char *p;
    size_t len, off;
} upload;

static client_stream *client_stream_of(client *c, int32_t id) {
    for (size_t i = 0; i < c->n; i++)
        if (c->st[i].id == id) return &c->st[i];
    return NULL;
}

static int c_on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                       const uint8_t *value, size_t valuelen, uint8_t flags, void *ud) {
    (void)ng, (void)flags;
    client_stream *s = client_stream_of(ud, frame->hd.stream_id);
    if (!s || frame->hd.type != NGHTTP2_HEADERS) return 0;
    char v[32];
    snprintf(v, sizeof v, "%.*s", (int)(valuelen < 31 ? valuelen : 31), (const char *)value);
    if (namelen == 7 && !memcmp(name, ":status", 7)) s->status = atoi(v);
    if (namelen == 12 && !memcmp(name, "content-type", 12)) snprintf(s->ctype, sizeof s->ctype, "%s", v);
    if (namelen == 14 && !memcmp(name, "content-length", 14)) snprintf(s->clen, sizeof s->clen, "%s", v);
    if (namelen == 4 && !memcmp(name, "etag", 4)) snprintf(s->etag, sizeof s->etag, "%s", v);
    size_t used = strlen(s->names);
    snprintf(s->names + used, sizeof s->names - used, "%.*s ", (int)namelen, (const char *)name);
    return 0;
}

static int c_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                     void *ud) {
    (void)ng, (void)flags;
    client_stream *s = client_stream_of(ud, id);
    if (s) fa_buf_append(&s->body, data, len);
    return 0;
}

static int c_on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud) {
    (void)ng;
    client_stream *s = client_stream_of(ud, id);
    if (s) {
        s->closed = 1;
        s->close_code = code;
    }
    return 0;
}

static int c_on_frame(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
    (void)ng;
    client *c = ud;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        c->goaway = 1;
        c->goaway_code = frame->goaway.error_code;
        c->goaway_last = frame->goaway.last_stream_id;
    }
    return 0;
}

static ssize_t c_read_upload(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                             nghttp2_data_source *source, void *ud) {
    (void)ng, (void)id, (void)ud;
    upload *u = source->ptr;
    size_t n = u->len - u->off < length ? u->len - u->off : length;
    memcpy(buf, u->p + u->off, n);
    u->off += n;
    if (u->off == u->len) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void client_open(client *c) {
    memset(c, 0, sizeof *c);
    nghttp2_session_callbacks *cbs;
    assert_int_equal(nghttp2_session_callbacks_new(&cbs), 0);
    nghttp2_session_callbacks_set_on_header_callback(cbs, c_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, c_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, c_on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, c_on_frame);
    assert_int_equal(nghttp2_session_client_new(&c->ng, cbs, c), 0);
    nghttp2_session_callbacks_del(cbs);
    assert_int_equal(nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void client_close(client *c) {
    nghttp2_session_del(c->ng);
    for (size_t i = 0; i < c->n; i++) fa_buf_free(&c->st[i].body);
}

static nghttp2_nv nv(const char *name, const char *value) {
    return (nghttp2_nv){(uint8_t *)(uintptr_t)name, (uint8_t *)(uintptr_t)value, strlen(name), strlen(value),
                        NGHTTP2_NV_FLAG_NONE};
}

/* Submits a request with extra fields ("name", "value" pairs, NULL-ended)
 * and an optional body; returns its stream id. */
static int32_t client_request(client *c, const char *method, const char *path, upload *body,
                              const char *const *extra) {
    nghttp2_nv h[80];
    size_t k = 0;
    h[k++] = nv(":method", method);
    h[k++] = nv(":scheme", "http");
    h[k++] = nv(":authority", "example.org");
    h[k++] = nv(":path", path);
    for (size_t i = 0; extra && extra[i]; i += 2) h[k++] = nv(extra[i], extra[i + 1]);
    nghttp2_data_provider prd = {.source.ptr = body, .read_callback = c_read_upload};
    int32_t id = nghttp2_submit_request(c->ng, NULL, h, k, body ? &prd : NULL, NULL);
    assert_true(id > 0);
    assert_true(c->n < MAX_STREAMS);
    c->st[c->n++].id = id;
    return id;
}

/* Moves bytes both ways until neither side has anything to say. */
static void pump(client *c, server *sv) {
    for (int round = 0; round < 100000; round++) {
        const uint8_t *data;
        size_t sent = 0;
        for (;;) {
            ssize_t n = nghttp2_session_mem_send(c->ng, &data);
            assert_true(n >= 0);
            if (n == 0) break;
            int rc = fa_h2_feed(sv->h, data, (size_t)n);
            if (rc) sv->feed_rc = rc;
            sent += (size_t)n;
        }
        fa_buf out = {0};
        int more = fa_h2_output(sv->h, &out, sv->out_max);
        assert_true(more >= 0);
        if (more) sv->saw_more = 1;
        if (out.len)
            assert_int_equal(nghttp2_session_mem_recv(c->ng, (const uint8_t *)out.data, out.len), out.len);
        size_t got = out.len;
        fa_buf_free(&out);
        if (!sent && !got && !more) return;
    }
    fail_msg("pump: no quiescence");
}

static void assert_ok_json(const client_stream *s, const char *body) {
    assert_true(s->closed);
    assert_int_equal(s->close_code, NGHTTP2_NO_ERROR);
    assert_int_equal(s->status, 200);
    assert_string_equal(s->ctype, "application/json");
    assert_int_equal(atoi(s->clen), strlen(body));
    assert_int_equal(s->body.len, strlen(body));
    assert_memory_equal(s->body.data, body, strlen(body));
}

/* ---------------------------------------------------------------- tests */

static void test_get_fields(void **state) {
    (void)state;
    server sv;
    client c;
    server_open(&sv, NULL);
    client_open(&c);
    static const char *const extra[] = {"accept", "application/json", "x-trace", "t1", NULL};
    int32_t id = client_request(&c, "GET", "/v1/matches/4%2F2/caf%C3%A9?fields=a,b&x=%20", NULL, extra);
    pump(&c, &sv);
    assert_int_equal(sv.nreqs, 1);
    seen_req *r = &sv.reqs[0];
    assert_int_equal(r->stream, id);
    assert_int_equal(r->method, FA_HTTP_GET);
    assert_string_equal(r->method_text, "GET");
    assert_string_equal(r->target, "/v1/matches/4%2F2/caf%C3%A9?fields=a,b&x=%20");
    assert_string_equal(r->path, "/v1/matches/4/2/caf\xc3\xa9");
    assert_string_equal(r->query, "fields=a,b&x=%20");
    assert_string_equal(r->host, "example.org");
    assert_string_equal(r->accept, "application/json");
    assert_string_equal(r->peer, "10.0.0.7");
    assert_int_equal(r->version, 2);
    assert_int_equal(r->nheaders, 3); /* host, accept, x-trace */
    assert_int_equal(r->body.len, 0);
    client_stream *s = client_stream_of(&c, id);
    assert_ok_json(s, "{\"path\":\"/v1/matches/4/2/caf\xc3\xa9\"}");
    assert_string_equal(s->etag, "\"abc\"");
    assert_string_equal(s->names, ":status server content-type content-length etag ");
    assert_int_equal(fa_h2_streams(sv.h), 0);
    assert_false(fa_h2_should_close(sv.h));
    client_close(&c);
    server_close(&sv);
}

static void test_callbacks_not_reentrant(void **state) {
    (void)state;
    server sv;
    client c;
    server_open(&sv, NULL);
    sv.mode = ANSWER_AND_FLUSH;
    client_open(&c);
    int32_t id = client_request(&c, "GET", "/r", NULL, NULL);
    pump(&c, &sv);
    assert_int_equal(sv.nreqs, 1);
    assert_ok_json(client_stream_of(&c, id), "{\"path\":\"/r\"}");
    client_close(&c);
    server_close(&sv);
}

static void test_head_and_bad_path(void **state) {
    (void)state;
    server sv;
    client c;
    server_open(&sv, NULL);
    client_open(&c);
    int32_t head = client_request(&c, "HEAD", "/x", NULL, NULL);
    int32_t bad = client_request(&c, "GET", "/a%zz", NULL, NULL);
    int32_t nul = client_request(&c, "GET", "/a%00b", NULL, NULL);
    pump(&c, &sv);
    assert_int_equal(sv.nreqs, 1); /* bad escapes are answered before the application */
    client_stream *s = client_stream_of(&c, head);
    assert_int_equal(s->status, 200);
    assert_string_equal(s->clen, "13"); /* {"path":"/x"} would be 13 bytes */
    assert_int_equal(s->body.len, 0);
    assert_int_equal(s->close_code, NGHTTP2_NO_ERROR);
    s = client_stream_of(&c, bad);
    assert_int_equal(s->status, 400);
    assert_string_equal(s->ctype, "application/problem+json");
    assert_non_null(strstr(s->body.data, "bad percent-escape in path"));
    assert_int_equal(client_stream_of(&c, nul)->status, 400);
    client_close(&c);
    server_close(&sv);
}

/* Decoding copies the path inside the stream's own buffer, which may have
 * to grow then: every length around the growth steps (ASan checks the copy). */
static void test_escaped_path_lengths(void **state) {
    (void)state;
    server sv;
    client c;
    server_open(&sv, NULL);
    sv.mode = ANSWER_LATER;
    client_open(&c);
    char path[300], want[300];
    for (size_t n = 1; n < 250; n++) {
        path[0] = want[0] = '/';
        memset(path + 1, 'p', n);
        memset(want + 1, 'p', n);
        memcpy(path + 1 + n, "%41", 4);
        memcpy(want + 1 + n, "A", 2);
        client_request(&c, "GET", path, NULL, NULL);
        pump(&c, &sv);
        assert_int_equal(sv.nreqs, n);
        assert_string_equal(sv.reqs[n - 1].path, want);
        if (n % 50 == 0) { /* stay under max_concurrent_streams */
            for (size_t i = n - 50; i < n; i++) answer(&sv, sv.reqs[i].stream, "", 0);
            pump(&c, &sv);
        }
    }
    client_close(&c);
    server_close(&sv);
}

static void test_body_ref_released_once(void **state) {
    (void)state;
    static const char body[] = "{\"cached\":true}";
    server sv;
    client c;
    server_open(&sv, NULL);
    sv.ref = body;
    sv.ref_len = sizeof body - 1;
    client_open(&c);
    int32_t a = client_request(&c, "GET", "/a", NULL, NULL);
    int32_t b = client_request(&c, "HEAD", "/b", NULL, NULL);
    pump(&c, &sv);
    assert_ok_json(client_stream_of(&c, a), body);
    assert_int_equal(client_stream_of(&c, b)->body.len, 0);
    assert_string_equal(client_stream_of(&c, b)->clen, "15");
    assert_int_equal(sv.releases, 2);
    client_close(&c);
    server_close(&sv);
    assert_int_equal(sv.releases, 2);
}

static char *pattern(size_t n, unsigned seed) {
    char *p = malloc(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (char)(seed >> 16);
    }
    return p;
}

static void test_large_response_flow_control(void **state) {
    (void)state;
    size_t n = 2u << 20;
    char *big = pattern(n, 7);
    server sv;
    client c;
    server_open(&sv, NULL);
    sv.ref = big;
    sv.ref_len = n;
    sv.out_max = 16 * 1024;
    client_open(&c); /* the client keeps HTTP/2's default 64 KiB windows */
    int32_t id = client_request(&c, "GET", "/big", NULL, NULL);
    pump(&c, &sv);
    client_stream *s = client_stream_of(&c, id);
    assert_true(s->closed);
    assert_int_equal(s->close_code, NGHTTP2_NO_ERROR);
    assert_int_equal(s->status, 200);
    assert_string_equal(s->clen, "2097152");
    assert_int_equal(s->body.len, n);
    assert_memory_equal(s->body.data, big, n);
    assert_int_equal(sv.releases, 1);
    assert_true(sv.saw_more); /* output stopped at out_max and resumed */
    client_close(&c);
    server_close(&sv);
    assert_int_equal(sv.releases, 1);
    free(big);
}

static void test_deferred_out_of_order(void **state) {
    (void)state;
    server sv;
    client c;
    server_open(&sv, NULL);
    sv.mode = ANSWER_LATER;
    client_open(&c);
    char paths[10][16];
    for (int i = 0; i < 10; i++) {
        snprintf(paths[i], sizeof paths[i], "/s/%d", i);
        client_request(&c, "GET", paths[i], NULL, NULL);
    }
    pump(&c, &sv);
    assert_int_equal(sv.nreqs, 10);
    assert_int_equal(fa_h2_streams(sv.h), 10);
    assert_int_equal(fa_h2_streams_receiving(sv.h), 0);
    for (int i = 9; i >= 0; i--) {
        answer(&sv, sv.reqs[i].stream, sv.reqs[i].path, 0);
        if (i % 3 == 0) pump(&c, &sv);
    }
    pump(&c, &sv);
    for (int i = 0; i < 10; i++) {
        char want[200];
        snprintf(want, sizeof want, "{\"path\":\"%s\"}", paths[i]);
        assert_ok_json(client_stream_of(&c, c.st[i].id), want);
    }
    assert_int_equal(fa_h2_streams(sv.h), 0);
    /* a second answer to a finished stream is refused */
    fa_http_response resp = {0};
    resp.status = 200;
    assert_int_equal(fa_h2_respond(sv.h, sv.reqs[0].stream, &resp, 0), FA_ENOTFOUND);
    client_close(&c);
    server_close(&sv);
}

static void test_post_bodies(void **state) {
    (void)state;
    fa_h2_config cfg;
    fa_h2_config_default(&cfg);
    cfg.max_body_bytes = 3u << 20;
    server sv;
    client c;
    server_open(&sv, &cfg);
    client_open(&c);
    size_t n = 2u << 20;
    char *big = pattern(n, 11);
    upload small = {"{\"name\":\"x\"}", 12, 0}, large = {big, n, 0};
    static const char *const typed[] = {"content-type", "application/json", "content-length", "12", NULL};
    int32_t a = client_request(&c, "POST", "/v1/things", &small, typed);
    int32_t b = client_request(&c, "PUT", "/v1/blob", &large, NULL);
    pump(&c, &sv);
    assert_int_equal(sv.nreqs, 2);
    seen_req *ra = sv.reqs[0].stream == a ? &sv.reqs[0] : &sv.reqs[1];
    seen_req *rb = sv.reqs[0].stream == b ? &sv.reqs[0] : &sv.reqs[1];
    assert_int_equal(ra->method, FA_HTTP_POST);
    assert_int_equal(ra->body.len, 12);
    assert_memory_equal(ra->body.data, "{\"name\":\"x\"}", 12);
    assert_int_equal(rb->method, FA_HTTP_PUT);
    assert_int_equal(rb->body.len, n);
    assert_memory_equal(rb->body.data, big, n);
    assert_ok_json(client_stream_of(&c, b), "{\"path\":\"/v1/blob\"}");
    client_close(&c);
    server_close(&sv);
    free(big);
}

static void test_body_too_large(void **state) {
    (void)state;
    fa_h2_config cfg;
    fa_h2_config_default(&cfg);
    cfg.max_body_bytes = 1000;
    server sv;
    client c;
    server_open(&sv, &cfg);
    client_open(&c);
    char *blob = pattern(5000, 3);
    upload declared = {blob, 5000, 0}, streamed = {blob, 5000, 0}, fits = {blob, 1000, 0};
    static const char *const length[] = {"content-length", "5000", NULL};
    int32_t a = client_request(&c, "POST", "/declared", &declared, length);
    int32_t b = client_request(&c, "POST", "/streamed", &streamed, NULL);
    int32_t d = client_request(&c, "POST", "/fits", &fits, NULL);
    pump(&c, &sv);
    assert_int_equal(sv.nreqs, 1);
    assert_string_equal(sv.reqs[0].path, "/fits");
    assert_int_equal(sv.reqs[0].body.len, 1000);
    for (int32_t id = a; id <= b; id += 2) {
        client_stream *s = client_stream_of(&c, id);
        assert_int_equal(s->status, 413);
        assert_string_equal(s->ctype, "application/problem+json");
        assert_non_null(strstr(s->body.data, "\"status\":413"));
        assert_true(s->closed);
        assert_int_equal(s->close_code, NGHTTP2_NO_ERROR); /* answered, then told to stop sending */
    }
    assert_int_equal(client_stream_of(&c, d)->status, 200);
    assert_int_equal(fa_h2_streams(sv.h), 0);
    assert_false(fa_h2_should_close(sv.h));
    client_close(&c);
    server_close(&sv);
    free(blob);
}

static void test_headers_too_large(void **state) {
    (void)state;
    fa_h2_config cfg;
    fa_h2_config_default(&cfg);
    cfg.max_header_bytes = 4096;
    server sv;
    client c;
    server_open(&sv, &cfg);
    client_open(&c);
    char big[5000];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *const huge[] = {"x-big", big, NULL};
    const char *many[2 * 70 + 1]; /* 70 x 37 bytes fit in 4096, but not in FA_HTTP_MAX_HEADERS */
    char names[70][16];
    for (int i = 0; i < 70; i++) {
        snprintf(names[i], sizeof names[i], "x-%d", i);
        many[2 * i] = names[i];
        many[2 * i + 1] = "1";
    }
    many[140] = NULL;
    int32_t a = client_request(&c, "GET", "/huge", NULL, huge);
    int32_t b = client_request(&c, "GET", "/many", NULL, many);
    int32_t d = client_request(&c, "GET", "/fine", NULL, NULL);
    pump(&c, &sv);
    assert_int_equal(sv.nreqs, 1);
    assert_string_equal(sv.reqs[0].path, "/fine");
    assert_int_equal(client_stream_of(&c, a)->status, 431);
    assert_int_equal(client_stream_of(&c, b)->status, 431);
    assert_non_null(strstr(client_stream_of(&c, a)->body.data, "request header fields too large"));
    assert_int_equal(client_stream_of(&c, d)->status, 200);
    assert_false(fa_h2_should_close(sv.h));
    client_close(&c);
    server_close(&sv);
}

static void test_held_budget_refuses(void **state) {
    (void)state;
    fa_h2_config cfg;
    fa_h2_config_default(&cfg);
    cfg.max_body_bytes = 100 * 1024; /* 400 KiB held at most */
    server sv;
    client c;
    server_open(&sv, &cfg);
    client_open(&c);
    size_t n = 90 * 1024;
    char *blob = pattern(n, 5);
    upload ups[8];
    for (int i = 0; i < 8; i++) {
        ups[i] = (upload){blob, n, 0};
        client_request(&c, "POST", "/up", &ups[i], NULL);
    }
    pump(&c, &sv);
    size_t ok = 0, refused = 0;
    for (size_t i = 0; i < c.n; i++) {
        client_stream *s = &c.st[i];
        assert_true(s->closed);
        if (s->status == 200) ok++;
        if (s->status == 0 && s->close_code == NGHTTP2_REFUSED_STREAM) refused++;
    }
    assert_int_equal(ok + refused, 8);
    assert_true(refused >= 1);
    assert_int_equal(sv.nreqs, ok);
    for (size_t i = 0; i < sv.nreqs; i++) {
        assert_int_equal(sv.reqs[i].body.len, n);
        assert_memory_equal(sv.reqs[i].body.data, blob, n);
    }
    assert_false(fa_h2_should_close(sv.h)); /* refusing is not the client's fault */
    client_close(&c);
    server_close(&sv);
    free(blob);
}

static void test_reset_stream_then_respond(void **state) {
    (void)state;
    static const char body[] = "kept";
    server sv;
    client c;
    server_open(&sv, NULL);
    sv.mode = ANSWER_LATER;
    client_open(&c);
    int32_t id = client_request(&c, "GET", "/slow", NULL, NULL);
    pump(&c, &sv);
    assert_int_equal(sv.nreqs, 1);
    assert_int_equal(nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL), 0);
    pump(&c, &sv);
    assert_int_equal(fa_h2_streams(sv.h), 0);
    fa_http_response resp = {0};
    resp.status = 200;
    resp.body_ref = body;
    resp.body_ref_len = 4;
    resp.release = count_release;
    resp.release_ud = &sv;
    assert_int_equal(fa_h2_respond(sv.h, id, &resp, 0), FA_ENOTFOUND);
    assert_int_equal(sv.releases, 1);
    assert_non_null(strstr(fa_err_msg(), "closed"));
    pump(&c, &sv);
    assert_false(fa_h2_should_close(sv.h)); /* one cancel is normal */
    client_close(&c);
    server_close(&sv);
    assert_int_equal(sv.releases, 1);
}

static void test_rst_flood_goaway(void **state) {
    (void)state;
    fa_h2_config cfg;
    fa_h2_config_default(&cfg);
    cfg.reset_burst = 50;
    cfg.reset_rate = 10;
    server sv;
    client c;
    server_open(&sv, &cfg);
    sv.mode = ANSWER_LATER;
    client_open(&c);
    for (int round = 0; round < 3 && !c.goaway; round++) {
        int32_t first = 0;
        for (int i = 0; i < 40; i++) {
            int32_t id = client_request(&c, "GET", "/x", NULL, NULL);
            if (!first) first = id;
        }
        pump(&c, &sv); /* the requests reach the server, which defers them */
        for (int32_t id = first; id < first + 80; id += 2)
            nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        pump(&c, &sv);
    }
    assert_true(c.goaway);
    assert_int_equal(c.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    assert_int_equal(sv.nreqs, 80); /* two rounds: the 51st cancel ended it */
    assert_true(fa_h2_should_close(sv.h));
    /* answering a stream that died with the connection is safe */
    fa_http_response resp = {0};
    resp.status = 200;
    assert_int_equal(fa_h2_respond(sv.h, sv.reqs[79].stream, &resp, 0), FA_ENOTFOUND);
    client_close(&c);
    server_close(&sv);
}

static void test_graceful_goaway(void **state) {
    (void)state;
    server sv;
    client c;
    server_open(&sv, NULL);
    sv.mode = ANSWER_LATER;
    client_open(&c);
    int32_t id = client_request(&c, "GET", "/in-flight", NULL, NULL);
    pump(&c, &sv);
    assert_int_equal(fa_h2_goaway(sv.h), 0);
    pump(&c, &sv);
    assert_true(c.goaway);
    assert_int_equal(c.goaway_code, NGHTTP2_NO_ERROR);
    assert_int_equal(c.goaway_last, id);
    assert_false(fa_h2_should_close(sv.h)); /* the open stream finishes first */
    answer(&sv, id, "/in-flight", 0);
    pump(&c, &sv);
    assert_ok_json(client_stream_of(&c, id), "{\"path\":\"/in-flight\"}");
    assert_true(fa_h2_should_close(sv.h));
    client_close(&c);
    server_close(&sv);
}

/* base64url without padding, as a client sends HTTP2-Settings. */
static void b64url(const uint8_t *p, size_t n, char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v =
            (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        if (i + 1 < n) out[o++] = tab[v >> 6 & 63];
        if (i + 2 < n) out[o++] = tab[v & 63];
    }
    out[o] = '\0';
}

static void test_h2c_upgrade(void **state) {
    (void)state;
    uint8_t payload[64];
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 50},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 100000}};
    ssize_t pn = nghttp2_pack_settings_payload(payload, sizeof payload, iv, 2);
    assert_true(pn > 0);
    char settings[128], text[512];
    b64url(payload, (size_t)pn, settings);
    int len = snprintf(text, sizeof text,
                       "GET /v1/up?x=1 HTTP/1.1\r\nHost: h.example\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                       "Upgrade: h2c\r\nHTTP2-Settings: %s\r\nAccept: text/plain\r\n\r\n",
                       settings);
    fa_h1_limits lim = {4096, 1024};
    fa_h1_parser p;
    fa_h1_parser_reset(&p);
    fa_http_request req;
    fa_h1_error err;
    char scratch[4096];
    size_t used = 0;
    assert_int_equal(fa_h1_parse(&p, text, (size_t)len, &lim, &req, scratch, &err, &used), 1);
    assert_int_equal(fa_h2_upgrade_requested(&req), 1);

    server sv;
    client c;
    server_open(&sv, NULL);
    client_open(&c);
    fa_buf out = {0};
    assert_int_equal(fa_h2_upgrade(sv.h, &req, &out), 0);
    static const char switching[] =
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    assert_int_equal(out.len, sizeof switching - 1);
    assert_memory_equal(out.data, switching, out.len);
    assert_int_equal(sv.nreqs, 1);
    assert_int_equal(sv.reqs[0].stream, 1);
    assert_string_equal(sv.reqs[0].path, "/v1/up");
    assert_string_equal(sv.reqs[0].query, "x=1");
    assert_string_equal(sv.reqs[0].host, "h.example");
    assert_string_equal(sv.reqs[0].accept, "text/plain");
    assert_int_equal(sv.reqs[0].nheaders, 2); /* host, accept: the hop-by-hop ones are gone */
    assert_int_equal(sv.reqs[0].version, 2);
    fa_buf_free(&out);

    /* the client upgrades its side; stream 1's answer follows over HTTP/2 */
    assert_int_equal(nghttp2_session_upgrade2(c.ng, payload, (size_t)pn, 0, NULL), 0);
    c.st[c.n++].id = 1;
    pump(&c, &sv);
    assert_ok_json(client_stream_of(&c, 1), "{\"path\":\"/v1/up\"}");
    int32_t id = client_request(&c, "GET", "/after", NULL, NULL);
    pump(&c, &sv);
    assert_int_equal(id, 3);
    assert_ok_json(client_stream_of(&c, 3), "{\"path\":\"/after\"}");
    client_close(&c);
    server_close(&sv);
}

static void test_h2c_upgrade_rejected(void **state) {
    (void)state;
    static const char *const texts[] = {
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: "
        "AAMAAABk\r\n\r\n",
        ("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: websocket\r\n"
         "HTTP2-Settings: AAMAAABk\r\n\r\n"),
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n",
    };
    fa_h1_limits lim = {4096, 1024};
    char scratch[4096];
    for (size_t i = 0; i < 3; i++) {
        fa_h1_parser p;
        fa_h1_parser_reset(&p);
        fa_http_request req;
        fa_h1_error err;
        size_t used;
        assert_int_equal(fa_h1_parse(&p, texts[i], strlen(texts[i]), &lim, &req, scratch, &err, &used), 1);
        assert_int_equal(fa_h2_upgrade_requested(&req), 0);
    }
    /* asked for, but the settings are not base64url / not whole settings */
    static const char *const bad[] = {"AAM*AABk", "AAMAAAB"};
    for (size_t i = 0; i < 2; i++) {
        char text[256];
        int len =
            snprintf(text, sizeof text,
                     "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                     "HTTP2-Settings: %s\r\n\r\n",
                     bad[i]);
        fa_h1_parser p;
        fa_h1_parser_reset(&p);
        fa_http_request req;
        fa_h1_error err;
        size_t used;
        assert_int_equal(fa_h1_parse(&p, text, (size_t)len, &lim, &req, scratch, &err, &used), 1);
        assert_int_equal(fa_h2_upgrade_requested(&req), 1);
        server sv;
        server_open(&sv, NULL);
        fa_buf out = {0};
        assert_int_equal(fa_h2_upgrade(sv.h, &req, &out), FA_EINVAL);
        assert_non_null(strstr(fa_err_msg(), "HTTP2-Settings"));
        assert_int_equal(out.len, 0);
        assert_int_equal(sv.nreqs, 0);
        server_close(&sv);
    }
}

static void test_preface(void **state) {
    (void)state;
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    assert_int_equal(fa_h2_is_preface(preface, 24), 1);
    assert_int_equal(fa_h2_is_preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04", 28), 1);
    assert_int_equal(fa_h2_is_preface(preface, 8), -1);
    assert_int_equal(fa_h2_is_preface(preface, 1), -1);
    assert_int_equal(fa_h2_is_preface("", 0), -1);
    assert_int_equal(fa_h2_is_preface("POST / HTTP/1.1\r\n", 17), 0);
    assert_int_equal(fa_h2_is_preface("PRI * HTTP/1.1", 14), 0);
    assert_int_equal(fa_h2_is_preface("\x16\x03\x01", 3), 0);
}

static void test_garbage(void **state) {
    (void)state;
    /* not HTTP/2 at all */
    server sv;
    server_open(&sv, NULL);
    static const char h1[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(fa_h2_feed(sv.h, (const uint8_t *)h1, sizeof h1 - 1), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "preface"));
    fa_buf out = {0};
    assert_true(fa_h2_output(sv.h, &out, 0) >= 0);
    assert_true(out.len >= 17); /* SETTINGS, then GOAWAY(PROTOCOL_ERROR) */
    assert_int_equal(out.data[out.len - 17 + 3], NGHTTP2_GOAWAY);
    assert_int_equal(out.data[out.len - 1], NGHTTP2_PROTOCOL_ERROR);
    assert_true(fa_h2_should_close(sv.h));
    assert_int_equal(fa_h2_feed(sv.h, (const uint8_t *)h1, sizeof h1 - 1), 0); /* dropped */
    fa_buf_free(&out);
    server_close(&sv);

    /* random frames after a valid preface: never a crash, always an end */
    unsigned seed = 1;
    for (int round = 0; round < 300; round++) {
        server_open(&sv, NULL);
        sv.mode = ANSWER_NOW;
        uint8_t buf[24 + 512];
        memcpy(buf, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
        size_t n = 24 + (size_t)round % 500;
        for (size_t i = 24; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t)(seed >> 16);
        }
        if (round % 2 == 0 && n >= 33)
            memcpy(buf + 24, "\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9); /* SETTINGS */
        int rc = fa_h2_feed(sv.h, buf, n);
        assert_true(rc == 0 || rc == FA_EINVAL);
        fa_buf o = {0};
        assert_true(fa_h2_output(sv.h, &o, 0) >= 0);
        fa_buf_free(&o);
        server_close(&sv);
    }
}

static void test_config_checked(void **state) {
    (void)state;
    fa_h2_config c;
    fa_h2_config_default(&c);
    fa_h2_callbacks none = {NULL, NULL};
    assert_null(fa_h2_new(&c, &none));
    assert_non_null(strstr(fa_err_msg(), "request"));
    fa_h2_callbacks cb = {NULL, on_request};
    c.stream_window = 100;
    assert_null(fa_h2_new(&c, &cb));
    assert_non_null(strstr(fa_err_msg(), "windows"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_fields),
        cmocka_unit_test(test_callbacks_not_reentrant),
        cmocka_unit_test(test_head_and_bad_path),
        cmocka_unit_test(test_escaped_path_lengths),
        cmocka_unit_test(test_body_ref_released_once),
        cmocka_unit_test(test_large_response_flow_control),
        cmocka_unit_test(test_deferred_out_of_order),
        cmocka_unit_test(test_post_bodies),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_headers_too_large),
        cmocka_unit_test(test_held_budget_refuses),
        cmocka_unit_test(test_reset_stream_then_respond),
        cmocka_unit_test(test_rst_flood_goaway),
        cmocka_unit_test(test_graceful_goaway),
        cmocka_unit_test(test_h2c_upgrade),
        cmocka_unit_test(test_h2c_upgrade_rejected),
        cmocka_unit_test(test_preface),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_config_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
