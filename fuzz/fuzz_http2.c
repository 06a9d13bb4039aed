/*
 * fuzz_http2.c - libFuzzer target for the HTTP/2 server session
 * (src/api/http2.c) on arbitrary frames.
 *
 * The input is what a client sends after a valid connection preface (the
 * target sends the preface itself, so the fuzzer spends its effort on
 * frames, HPACK and stream states, not on 24 fixed bytes). The first byte
 * picks the limits (small ones reach 413, 431, REFUSED_STREAM and the
 * reset limiter quickly), the output budget per call, and whether the
 * server shuts down gracefully halfway. The rest is fed in chunks whose
 * sizes come from the input itself, with the server's output drained after
 * each chunk, the way a connection would run.
 *
 * Every request is answered synchronously, cycling through a copied body,
 * a borrowed body (body_ref), a 204 and a status out of range. Invariants
 * (a broken one traps): every borrowed body is released exactly once by
 * the time the session is freed; fa_h2_output never fails except for
 * memory; a request never shows up with a NULL view.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/http2.h"
#include "core/core.h"

typedef struct run {
    fa_h2 *h;
    size_t answered, lent, released;
    fa_http_response resp;
} run;

static const char shared_body[] = "{\"borrowed\":true,\"padding\":\"0123456789abcdef0123456789abcdef\"}";

static void check(int ok) {
    if (!ok) __builtin_trap();
}

static void on_release(void *ud) { ((run *)ud)->released++; }

static void touch(const fa_http_request *req) {
    volatile size_t sink = 0;
    check(req->path.p != NULL && req->query.p != NULL && req->body.p != NULL && req->method_text.p != NULL);
    for (size_t i = 0; i < req->nheaders; i++) sink += req->headers[i].name.n + req->headers[i].value.n;
    sink += req->path.n + req->query.n + req->body.n;
    if (req->body.n) sink += (unsigned char)req->body.p[req->body.n - 1];
    char buf[32];
    sink += (size_t)fa_http_query_get(req, "a", buf, sizeof buf);
    (void)sink;
}

static void on_request(void *ud, int32_t stream_id, fa_http_request *req) {
    run *r = ud;
    touch(req);
    fa_http_response *resp = &r->resp;
    fa_buf_reset(&resp->body);
    resp->status = 200;
    resp->content_type = "application/json";
    resp->nheaders = 0;
    resp->body_ref = NULL;
    resp->release = NULL;
    fa_http_response_header(resp, "ETag", "\"x\"");
    fa_http_response_header(resp, "Connection", "close");
    switch (r->answered++ % 4) {
    case 0: fa_buf_printf(&resp->body, "{\"n\":%zu}", req->path.n); break;
    case 1:
        resp->body_ref = shared_body;
        resp->body_ref_len = sizeof shared_body - 1;
        resp->release = on_release;
        resp->release_ud = r;
        r->lent++;
        break;
    case 2: resp->status = 204; break;
    default: resp->status = 99; break;
    }
    int rc = fa_h2_respond(r->h, stream_id, resp, req->method == FA_HTTP_HEAD);
    check(rc == 0 || rc == FA_ENOMEM || rc == FA_ENOTFOUND); /* never "answered twice" */
}

/* Drains what the server wants to send (bounded, like a socket that takes
 * max bytes per wake-up). */
static void drain(run *r, size_t max) {
    fa_buf out = {0};
    for (int i = 0; i < 64; i++) {
        out.len = 0;
        int rc = fa_h2_output(r->h, &out, max);
        check(rc >= 0 || rc == FA_ENOMEM || rc == FA_EIO);
        if (rc != 1) break;
    }
    fa_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    if (size < 1) return 0;
    fa_log_set_level(FA_LOG_ERROR + 1); /* the 500s for status 99 would flood the output */
    uint8_t mode = data[0];
    fa_h2_config cfg;
    fa_h2_config_default(&cfg);
    if (mode & 1) {
        cfg.max_header_bytes = 256;
        cfg.max_body_bytes = 64;
        cfg.max_concurrent_streams = 4;
        cfg.reset_burst = 3;
        cfg.reset_rate = 1;
    }
    size_t max = (mode & 2) ? 64 : 0;
    int goaway_halfway = (mode & 4) != 0;
    run r = {0};
    fa_h2_callbacks cb = {&r, on_request};
    r.h = fa_h2_new(&cfg, &cb);
    if (!r.h) return 0;
    fa_h2_feed(r.h, (const uint8_t *)preface, sizeof preface - 1);
    const uint8_t *in = data + 1;
    size_t n = size - 1, off = 0, k = 0;
    while (off < n) {
        size_t chunk = (mode & 8) ? n - off : 1 + in[k++ % n] % 64;
        if (chunk > n - off) chunk = n - off;
        int rc = fa_h2_feed(r.h, in + off, chunk);
        check(rc == 0 || rc == FA_EINVAL || rc == FA_ENOMEM);
        off += chunk;
        drain(&r, max);
        if (goaway_halfway && off >= n / 2) {
            fa_h2_goaway(r.h);
            goaway_halfway = 0;
        }
        if (fa_h2_should_close(r.h)) break;
    }
    drain(&r, 0);
    fa_h2_free(r.h);
    check(r.released == r.lent);
    fa_buf_free(&r.resp.body);
    return 0;
}
