/*
 * http2.c - one HTTP/2 server connection over nghttp2 (see http2.h for the
 * face, the ways in and the limits).
 *
 * Why nghttp2, and how it is driven: framing, HPACK, flow control and the
 * stream state machine are where HTTP/2 servers get their CVEs, and nghttp2
 * is the implementation curl, Apache and h2o rely on. It is used as a pure
 * state machine: nghttp2_session_mem_recv eats the bytes the connection
 * read, and nghttp2_session_send hands frames to a send callback that only
 * appends them to the caller's buffer. No socket, no clock (except the
 * reset limiter's), so the server keeps owning I/O, timers and back-pressure
 * exactly as for HTTP/1.1, and the tests run a real nghttp2 client in
 * memory.
 *
 * Per stream (h2_stream, nghttp2's stream user data) the request is
 * gathered into one byte buffer (fields as offsets, because the buffer
 * grows) and one body buffer. On END_STREAM the request is delivered as an
 * fa_http_request of views into them, and the buffers are freed when the
 * callback returns: a deferred answer has copied what it needs (api.h).
 *
 * Response bodies are sent with NGHTTP2_DATA_FLAG_NO_COPY: nghttp2 decides
 * the frame sizes under flow control, and send_data appends the frame
 * header and the body bytes straight from the handler's body_ref (or the
 * stream's copy of resp->body) into the output buffer - one copy, where
 * nghttp2's default path would make two. A borrowed body is released as
 * soon as its last byte is in the output buffer, or when the stream dies.
 *
 * Memory held for requests still arriving: each stream is bounded by
 * max_header_bytes and max_body_bytes (431 / 413 beyond, and its bytes
 * dropped), and the connection by a budget over all its streams
 * (HELD_BUDGET_FACTOR x max_body_bytes). A stream whose bytes would exceed
 * the budget is reset with REFUSED_STREAM, which tells the client that
 * nothing was processed and the request can be retried. Flow control is
 * therefore never used for back-pressure on input (windows reopen as bytes
 * arrive, nghttp2's automatic WINDOW_UPDATE): holding windows shut instead
 * would deadlock a client that spreads its uploads over many streams, none
 * of which could then complete.
 *
 * Cancelled streams: a stream that closes before its answer has gone out
 * (the client's RST_STREAM, or a reset nghttp2 made because the client sent
 * something malformed) takes one token from a bucket; an empty bucket ends
 * the connection with GOAWAY(ENHANCE_YOUR_CALM). This bounds the "rapid
 * reset" attack, where each cancelled stream costs the server a handler
 * run but the client nothing.
 */
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/http1.h"
#include "api/http2.h"
#include "core/core.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN (sizeof PREFACE - 1)
#define FIELD_OVERHEAD 32     /* RFC 9113 section 6.5.2: per field in the header list size */
#define MAX_SETTINGS_B64 1024 /* HTTP2-Settings header value, encoded */
#define HELD_BUDGET_FACTOR 4  /* request body bytes held per connection: this x max_body_bytes */
#define SERVER_NAME "footanalytics/" FA_VERSION

typedef struct span {
    uint32_t off, len; /* bytes hdr.data[off..off+len) of the stream */
} span;

typedef struct field {
    span name, value;
} field;

typedef struct h2_stream h2_stream;
struct h2_stream {
    int32_t id;
    h2_stream *prev, *next; /* the session's live streams */
    /* the request */
    fa_buf hdr; /* pseudo-header and field bytes */
    span method, path, authority;
    unsigned has_method : 1, has_path : 1, has_authority : 1;
    field fields[FA_HTTP_MAX_HEADERS - 1]; /* one slot stays free for host (from :authority) */
    size_t nfields, list_size;
    fa_buf body;
    size_t held; /* request bytes counted in the session's held total */
    int reject;  /* 413 or 431, decided while receiving; answered when the frame ends */
    unsigned remote_closed : 1, delivered : 1, answered : 1, sent_all : 1, head : 1, refused : 1;
    /* the response body: a copy (own) or a borrowed body_ref */
    fa_buf own;
    const char *data;
    size_t len, packed, written;
    void (*release)(void *ud);
    void *release_ud;
};

struct fa_h2 {
    nghttp2_session *ng;
    fa_h2_config cfg;
    char peer[48];
    fa_h2_callbacks cb;
    h2_stream *streams;
    size_t nstreams, nreceiving;
    size_t held, held_budget; /* request bytes held for streams still arriving, and their limit */
    double tokens, tokens_at; /* the cancelled-stream bucket */
    fa_buf *out;              /* during fa_h2_output */
    size_t out_start, out_max;
    unsigned more : 1, nomem : 1, failed : 1, dead : 1, freeing : 1;
    unsigned busy : 1; /* inside nghttp2_session_mem_recv or a delivery: no re-entry */
};

/* ---------------------------------------------------------------- small helpers */

static unsigned char ascii_lower(unsigned char c) { return (unsigned)(c - 'A') < 26u ? c | 0x20 : c; }

static int caseeq(const char *a, size_t an, const char *lit) {
    size_t n = strlen(lit);
    if (an != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower((unsigned char)a[i]) != (unsigned char)lit[i]) return 0;
    return 1;
}

static fa_http_method method_of(const char *m, size_t n) {
    static const struct {
        const char *text;
        fa_http_method method;
    } known[] = {{"GET", FA_HTTP_GET}, {"HEAD", FA_HTTP_HEAD},     {"POST", FA_HTTP_POST},
                 {"PUT", FA_HTTP_PUT}, {"DELETE", FA_HTTP_DELETE}, {"OPTIONS", FA_HTTP_OPTIONS}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].text) == n && memcmp(known[i].text, m, n) == 0) return known[i].method;
    return FA_HTTP_OTHER;
}

/* Whether the comma-separated list v holds token (case-insensitive). */
static int list_has(const fa_strv *v, const char *token) {
    size_t i = 0;
    while (v && i < v->n) {
        const char *comma = memchr(v->p + i, ',', v->n - i);
        size_t j = comma ? (size_t)(comma - v->p) : v->n, a = i, b = j;
        while (a < b && (v->p[a] == ' ' || v->p[a] == '\t')) a++;
        while (b > a && (v->p[b - 1] == ' ' || v->p[b - 1] == '\t')) b--;
        if (caseeq(v->p + a, b - a, token)) return 1;
        i = j + 1;
    }
    return 0;
}

static fa_strv view(const h2_stream *s, span sp) { return (fa_strv){s->hdr.data + sp.off, sp.len}; }

/* Appends p[0..n) to the stream's header bytes and says where in *out;
 * FA_ENOMEM when it cannot. */
static int keep_bytes(h2_stream *s, const void *p, size_t n, span *out) {
    if (s->hdr.len + n >= UINT32_MAX || fa_buf_append(&s->hdr, p, n)) return FA_ENOMEM;
    *out = (span){(uint32_t)(s->hdr.len - n), (uint32_t)n};
    return 0;
}

/* ---------------------------------------------------------------- streams */

static h2_stream *stream_new(fa_h2 *h, int32_t id) {
    h2_stream *s = fa_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->id = id;
    s->next = h->streams;
    if (h->streams) h->streams->prev = s;
    h->streams = s;
    h->nstreams++;
    h->nreceiving++;
    return s;
}

static void release_body(h2_stream *s) {
    void (*release)(void *) = s->release;
    s->release = NULL;
    if (release) release(s->release_ud);
}

/* Drops the request's bytes (after delivery, or a rejection). */
static void stream_drop_request(fa_h2 *h, h2_stream *s) {
    fa_buf_free(&s->hdr);
    fa_buf_free(&s->body);
    h->held -= s->held;
    s->held = 0;
}

static void stream_mark_closed_remote(fa_h2 *h, h2_stream *s) {
    if (s->remote_closed) return;
    s->remote_closed = 1;
    h->nreceiving--;
}

static void stream_free(fa_h2 *h, h2_stream *s) {
    stream_mark_closed_remote(h, s);
    stream_drop_request(h, s);
    release_body(s);
    fa_buf_free(&s->own);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    h->nstreams--;
    free(s);
}

static h2_stream *stream_of(const fa_h2 *h, int32_t id) {
    return h->ng ? nghttp2_session_get_stream_user_data(h->ng, id) : NULL;
}

/* ---------------------------------------------------------------- the cancelled-stream limiter */

/* One more stream closed before its answer went out. */
static void note_cancelled(fa_h2 *h) {
    double now = fa_clock_now();
    h->tokens += (now - h->tokens_at) * h->cfg.reset_rate;
    if (h->tokens > h->cfg.reset_burst) h->tokens = h->cfg.reset_burst;
    h->tokens_at = now;
    if (h->tokens >= 1) {
        h->tokens -= 1;
        return;
    }
    if (h->failed) return;
    h->failed = 1;
    fa_log(FA_LOG_WARN, "h2: client cancels streams too fast, closing", "peer=%s burst=%u rate=%u",
           h->peer[0] ? h->peer : "-", h->cfg.reset_burst, h->cfg.reset_rate);
    nghttp2_session_terminate_session(h->ng, NGHTTP2_ENHANCE_YOUR_CALM);
}

/* ---------------------------------------------------------------- responses */

static int sendable_extra(const char *name, const char *value, char *lname) {
    static const char *const banned[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                         "upgrade",    "te",         "content-length",   "http2-settings"};
    size_t n = strnlen(name, 128), vn = strnlen(value, 128);
    if (n == 0 || n == 128 || vn == 128 || strcspn(value, "\r\n") != vn) return 0;
    for (size_t i = 0; i < n; i++) {
        if (!fa_h1_is_tchar((unsigned char)name[i])) return 0;
        lname[i] = (char)ascii_lower((unsigned char)name[i]);
    }
    lname[n] = '\0';
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++)
        if (strcmp(lname, banned[i]) == 0) return 0;
    return 1;
}

static nghttp2_nv nv_of(const char *name, const char *value) {
    return (nghttp2_nv){(uint8_t *)(uintptr_t)name, (uint8_t *)(uintptr_t)value, strlen(name), strlen(value),
                        NGHTTP2_NV_FLAG_NONE};
}

static ssize_t body_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *source, void *ud) {
    (void)ng, (void)id, (void)buf, (void)ud;
    h2_stream *s = source->ptr;
    size_t left = s->len - s->packed, n = left < length ? left : length;
    s->packed += n;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (s->packed == s->len) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

typedef struct head_text {
    char status[8], length[24];
    char lnames[FA_HTTP_MAX_RESP_HEADERS][128];
} head_text;

/* The response head's fields into nv (room for FA_HTTP_MAX_RESP_HEADERS + 5). */
static size_t build_head(const fa_h2 *h, int status, const char *ctype, const fa_http_response *resp,
                         size_t length, int bodiless, head_text *t, nghttp2_nv *nv) {
    size_t k = 0;
    snprintf(t->status, sizeof t->status, "%d", status);
    snprintf(t->length, sizeof t->length, "%zu", length);
    nv[k++] = nv_of(":status", t->status);
    nv[k++] = nv_of("server", SERVER_NAME);
    if (h->cfg.date && h->cfg.date->text[0]) nv[k++] = nv_of("date", h->cfg.date->text);
    if (ctype && ctype[0] && strcspn(ctype, "\r\n") == strlen(ctype)) nv[k++] = nv_of("content-type", ctype);
    if (!bodiless) nv[k++] = nv_of("content-length", t->length);
    size_t nh = resp ? resp->nheaders : 0;
    if (nh > FA_HTTP_MAX_RESP_HEADERS) nh = FA_HTTP_MAX_RESP_HEADERS;
    for (size_t i = 0; i < nh; i++)
        if (sendable_extra(resp->headers[i][0], resp->headers[i][1], t->lnames[i]))
            nv[k++] = nv_of(t->lnames[i], resp->headers[i][1]);
    return k;
}

/* Queues the answer of s: the head, then s->data[0..s->len) when send_body. */
static int submit(fa_h2 *h, h2_stream *s, int status, const char *ctype, const fa_http_response *resp,
                  size_t length, int send_body) {
    int bodiless = status == 204 || status == 304;
    head_text t;
    nghttp2_nv nv[FA_HTTP_MAX_RESP_HEADERS + 5];
    size_t k = build_head(h, status, ctype, resp, length, bodiless, &t, nv);
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = body_read};
    int rv = nghttp2_submit_response(h->ng, s->id, nv, k, send_body ? &prd : NULL);
    if (rv)
        return fa_err_set(rv == NGHTTP2_ERR_NOMEM ? FA_ENOMEM : FA_EINVAL, "h2: stream %d: %s", s->id,
                          nghttp2_strerror(rv));
    s->answered = 1;
    return 0;
}

/* A problem+json answer made here (413, 431, 400), like http1's errors. */
static int answer_error(fa_h2 *h, h2_stream *s, int status, const char *detail) {
    fa_buf_reset(&s->own);
    int rc = fa_buf_printf(&s->own, "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,\"detail\":",
                           fa_h1_reason(status), status);
    if (!rc) rc = fa_json_write_str(&s->own, detail);
    if (!rc) rc = fa_buf_puts(&s->own, "}\n");
    if (rc) return FA_ENOMEM;
    s->data = s->own.data;
    s->len = s->own.len;
    int head = s->head;
    return submit(h, s, status, "application/problem+json", NULL, s->len, !head);
}

/* Takes the response body: a borrowed body_ref as is, or a copy of body. */
static int take_body(h2_stream *s, fa_http_response *resp, int send_body) {
    if (resp->body_ref) {
        s->data = resp->body_ref;
        s->len = resp->body_ref_len;
        s->release = resp->release;
        s->release_ud = resp->release_ud;
        resp->release = NULL;
        if (!send_body) release_body(s);
        return 0;
    }
    s->len = resp->body.len;
    if (send_body && fa_buf_append(&s->own, resp->body.data, resp->body.len)) return FA_ENOMEM;
    s->data = s->own.data;
    return 0;
}

static void release_response(fa_http_response *resp) {
    void (*release)(void *) = resp->release;
    resp->release = NULL;
    if (resp->body_ref && release) release(resp->release_ud);
}

int fa_h2_respond(fa_h2 *h, int32_t stream_id, fa_http_response *resp, int head_only) {
    h2_stream *s = stream_id > 0 ? stream_of(h, stream_id) : NULL;
    if (!s || h->dead || h->failed) {
        release_response(resp);
        return fa_err_set(FA_ENOTFOUND,
                          "h2: stream %d is closed (the client reset it, or the connection is ending)",
                          stream_id);
    }
    if (!s->delivered || s->answered) {
        release_response(resp);
        return fa_err_set(FA_EINVAL, "h2: stream %d: %s", stream_id,
                          s->answered ? "already answered" : "its request has not been delivered");
    }
    int status = resp->status, bodiless = status == 204 || status == 304;
    if (status < 200 || status > 599) {
        fa_log(FA_LOG_ERROR, "handler set an invalid status", "status=%d stream=%d", status, stream_id);
        status = 500;
        release_response(resp);
        resp->body_ref = NULL;
        fa_buf_reset(&resp->body);
    }
    size_t n = resp->body_ref ? resp->body_ref_len : resp->body.len;
    int send_body = !bodiless && !head_only && !s->head && n > 0;
    int rc = take_body(s, resp, send_body);
    if (!rc) rc = submit(h, s, status, resp->content_type, resp, n, send_body);
    if (rc) release_body(s);
    return rc;
}

/* ---------------------------------------------------------------- requests */

/* Splits :path into path and query and decodes the path into the stream's
 * bytes; 0, or the status of the failure. */
static int split_path(h2_stream *s, fa_http_request *req, span *path, span *query, const char **why) {
    fa_strv t = view(s, s->path);
    const char *q = memchr(t.p, '?', t.n);
    size_t pn = q ? (size_t)(q - t.p) : t.n;
    *query = q ? (span){s->path.off + (uint32_t)pn + 1, (uint32_t)(t.n - pn - 1)} : (span){s->path.off, 0};
    *path = (span){s->path.off, (uint32_t)pn};
    if (t.n == 1 && t.p[0] == '*') {
        *why = "'*' target is only for OPTIONS";
        return req->method == FA_HTTP_OPTIONS ? 0 : 400;
    }
    *why = "the path must start with '/'";
    if (pn == 0 || t.p[0] != '/') return 400;
    if (!memchr(t.p, '%', pn)) return 0;
    *why = "bad percent-escape in path";
    span copy; /* reserved first: the source is in the same buffer */
    if (fa_buf_reserve(&s->hdr, pn) || keep_bytes(s, s->hdr.data + s->path.off, pn, &copy)) return 500;
    size_t dn = 0;
    if (fa_h1_percent_decode(s->hdr.data + copy.off, pn, s->hdr.data + copy.off, &dn)) return 400;
    *path = (span){copy.off, (uint32_t)dn};
    return 0;
}

/* Fills req's views (the stream's bytes must not move any more). */
static void fill_request(const fa_h2 *h, const h2_stream *s, span path, span query, fa_http_request *req) {
    req->method_text = view(s, s->method);
    req->target = view(s, s->path);
    req->path = view(s, path);
    req->query = view(s, query);
    req->minor = 1;
    req->keep_alive = 1;
    req->version = 2;
    req->id = 0;
    req->nheaders = 0;
    if (s->has_authority)
        req->headers[req->nheaders++] = (fa_http_header){{"host", 4}, view(s, s->authority)};
    for (size_t i = 0; i < s->nfields; i++) {
        fa_strv name = view(s, s->fields[i].name);
        if (s->has_authority && caseeq(name.p, name.n, "host")) continue;
        req->headers[req->nheaders++] = (fa_http_header){name, view(s, s->fields[i].value)};
    }
    req->body = (fa_strv){s->body.len ? s->body.data : "", s->body.len};
    snprintf(req->peer, sizeof req->peer, "%s", h->peer);
}

/* The request of s is complete: hand it over, then drop its bytes. */
static int deliver(fa_h2 *h, h2_stream *s) {
    fa_http_request req;
    const char *why = "missing :method or :path";
    span path = {0, 0}, query = {0, 0};
    s->delivered = 1;
    req.method = s->has_method ? method_of(s->hdr.data + s->method.off, s->method.len) : FA_HTTP_OTHER;
    s->head = req.method == FA_HTTP_HEAD;
    int status = s->has_method && s->has_path ? split_path(s, &req, &path, &query, &why) : 400;
    if (status == 500) {
        h->nomem = 1;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (status) {
        stream_drop_request(h, s);
        return answer_error(h, s, status, why) == FA_ENOMEM ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
    }
    fill_request(h, s, path, query, &req);
    h->cb.request(h->cb.ud, s->id, &req);
    stream_drop_request(h, s);
    return 0;
}

/* ---------------------------------------------------------------- nghttp2 callbacks */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
    fa_h2 *h = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    h2_stream *s = stream_new(h, frame->hd.stream_id);
    if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, s)) {
        stream_free(h, s);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

/* Resets s with REFUSED_STREAM: the connection holds too much already. */
static void refuse(fa_h2 *h, h2_stream *s) {
    if (s->refused) return;
    s->refused = 1;
    stream_drop_request(h, s);
    nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_REFUSED_STREAM);
}

/* Counts n more request bytes held for s; -1 (s refused) beyond the budget. */
static int hold(fa_h2 *h, h2_stream *s, size_t n) {
    if (h->held + n > h->held_budget) {
        refuse(h, s);
        return -1;
    }
    h->held += n;
    s->held += n;
    return 0;
}

static void reject(fa_h2 *h, h2_stream *s, int status) {
    if (s->reject) return;
    s->reject = status;
    s->head = s->has_method && s->method.len == 4 && !memcmp(s->hdr.data + s->method.off, "HEAD", 4);
    stream_drop_request(h, s);
}

/* A pseudo-header: nghttp2 has checked that it is known, single and first. */
static int keep_pseudo(h2_stream *s, const uint8_t *name, size_t namelen, const uint8_t *value,
                       size_t valuelen) {
    const char *n = (const char *)name;
    if (caseeq(n, namelen, ":method")) {
        s->has_method = 1;
        return keep_bytes(s, value, valuelen, &s->method);
    }
    if (caseeq(n, namelen, ":path")) {
        s->has_path = 1;
        return keep_bytes(s, value, valuelen, &s->path);
    }
    if (caseeq(n, namelen, ":authority")) {
        s->has_authority = 1;
        return keep_bytes(s, value, valuelen, &s->authority);
    }
    return 0; /* :scheme, :protocol */
}

/* A declared content-length above the limit is refused before the body. */
static void check_length(fa_h2 *h, h2_stream *s, const uint8_t *value, size_t n) {
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(value[i] - '0');
        if (d > 9) return; /* nghttp2 rejects the stream */
        v = v > (SIZE_MAX - d) / 10 ? SIZE_MAX : v * 10 + d;
    }
    if (v > h->cfg.max_body_bytes) reject(h, s, 413);
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud) {
    (void)flags;
    fa_h2 *h = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    h2_stream *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!s || s->reject || s->refused) return 0;
    s->list_size += namelen + valuelen + FIELD_OVERHEAD;
    if (s->list_size > h->cfg.max_header_bytes) {
        reject(h, s, 431);
        return 0;
    }
    if (hold(h, s, namelen + valuelen)) return 0;
    int rc;
    if (namelen && name[0] == ':') {
        rc = keep_pseudo(s, name, namelen, value, valuelen);
    } else if (s->nfields == sizeof s->fields / sizeof s->fields[0]) {
        reject(h, s, 431);
        return 0;
    } else {
        field *f = &s->fields[s->nfields];
        rc = keep_bytes(s, name, namelen, &f->name);
        if (!rc) rc = keep_bytes(s, value, valuelen, &f->value);
        if (!rc) s->nfields++;
        if (!rc && caseeq((const char *)name, namelen, "content-length")) check_length(h, s, value, valuelen);
    }
    if (rc) h->nomem = 1;
    return rc ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static const char *reject_detail(int status) {
    return status == 413 ? "request body too large" : "request header fields too large";
}

/* The end of a HEADERS or DATA frame of a request. */
static int on_request_frame(fa_h2 *h, h2_stream *s, const nghttp2_frame *frame) {
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) stream_mark_closed_remote(h, s);
    if (s->refused) return 0;
    if (s->reject && !s->answered) {
        s->delivered = 1;
        int rc = answer_error(h, s, s->reject, reject_detail(s->reject));
        return rc == FA_ENOMEM ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
    }
    if (s->remote_closed && !s->delivered) return deliver(h, s);
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
    fa_h2 *h = ud;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    h2_stream *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    return s ? on_request_frame(h, s, frame) : 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                         void *ud) {
    (void)flags;
    fa_h2 *h = ud;
    h2_stream *s = nghttp2_session_get_stream_user_data(ng, id);
    if (!s || s->reject || s->refused || s->delivered) return 0;
    if (s->body.len + len > h->cfg.max_body_bytes) {
        reject(h, s, 413);
        return 0;
    }
    if (hold(h, s, len)) return 0;
    if (fa_buf_append(&s->body, data, len)) {
        h->nomem = 1;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud) {
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    h2_stream *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!s) return 0;
    s->sent_all = 1;
    /* Answered before the request was complete (413, 431): ask the client
     * to stop sending, without error (RFC 9113 section 8.1). */
    if (!s->remote_closed) nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *ud) {
    (void)error_code;
    fa_h2 *h = ud;
    h2_stream *s = nghttp2_session_get_stream_user_data(ng, id);
    if (!s || h->freeing) return 0;
    if (!s->sent_all && !s->refused) note_cancelled(h);
    stream_free(h, s);
    return 0;
}

/* ---------------------------------------------------------------- output */

static int out_full(fa_h2 *h) {
    if (!h->out) return 1;
    if (h->out_max && h->out->len - h->out_start >= h->out_max) {
        h->more = 1;
        return 1;
    }
    return 0;
}

static ssize_t on_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud) {
    (void)ng, (void)flags;
    fa_h2 *h = ud;
    if (out_full(h)) return NGHTTP2_ERR_WOULDBLOCK;
    if (fa_buf_append(h->out, data, len)) {
        h->nomem = 1;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return (ssize_t)len;
}

static int on_send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *ud) {
    (void)ng;
    fa_h2 *h = ud;
    h2_stream *s = source->ptr;
    size_t pad = frame->data.padlen;
    if (out_full(h)) return NGHTTP2_ERR_WOULDBLOCK;
    if (fa_buf_reserve(h->out, 9 + pad + length)) {
        h->nomem = 1;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    char *p = h->out->data + h->out->len;
    memcpy(p, framehd, 9);
    if (pad) p[9] = (char)(pad - 1);
    memcpy(p + 9 + (pad ? 1 : 0), s->data + s->written, length);
    if (pad > 1) memset(p + 10 + length, 0, pad - 1);
    h->out->len += 9 + pad + length;
    h->out->data[h->out->len] = '\0';
    s->written += length;
    if (s->written == s->len) release_body(s); /* every byte is in out now */
    return 0;
}

int fa_h2_output(fa_h2 *h, fa_buf *out, size_t max) {
    /* From a callback, sending could close (and free) the very stream
     * being delivered: the owner collects the output after fa_h2_feed. */
    if (h->dead || h->busy) return 0;
    h->out = out;
    h->out_start = out->len;
    h->out_max = max;
    h->more = 0;
    int rv = nghttp2_session_send(h->ng);
    h->out = NULL;
    if (h->nomem) {
        h->dead = 1;
        return fa_err_set(FA_ENOMEM, "h2: out of memory");
    }
    if (rv) {
        h->dead = 1;
        return fa_err_set(FA_EIO, "h2: peer %s: %s", h->peer[0] ? h->peer : "-", nghttp2_strerror(rv));
    }
    return h->more;
}

/* ---------------------------------------------------------------- session */

void fa_h2_config_default(fa_h2_config *c) {
    c->max_concurrent_streams = 100;
    c->stream_window = 1u << 20;
    c->connection_window = 1u << 20;
    c->max_header_bytes = 16 * 1024;
    c->max_body_bytes = 1024 * 1024;
    c->reset_burst = 200;
    c->reset_rate = 100;
    c->date = NULL;
    c->peer = NULL;
}

static int config_check(const fa_h2_config *c, const fa_h2_callbacks *cb) {
    if (!cb || !cb->request) return fa_err_set(FA_EINVAL, "h2: callbacks: 'request' is required");
    if (c->max_concurrent_streams < 1 || c->max_header_bytes < 64 || c->reset_burst < 1)
        return fa_err_set(FA_EINVAL, "h2 config: max_concurrent_streams, max_header_bytes (>= 64) and "
                                     "reset_burst must be set");
    if (c->stream_window < 65535 || c->stream_window > INT32_MAX || c->connection_window < 65535 ||
        c->connection_window > INT32_MAX)
        return fa_err_set(FA_EINVAL, "h2 config: windows must be within 65535..2^31-1, got %u and %u",
                          c->stream_window, c->connection_window);
    return 0;
}

static void set_callbacks(nghttp2_session_callbacks *cbs) {
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_send_data_callback(cbs, on_send_data);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
}

static int session_open(fa_h2 *h) {
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    int rv = nghttp2_session_callbacks_new(&cbs);
    if (!rv) rv = nghttp2_option_new(&opt);
    if (!rv) {
        set_callbacks(cbs);
        nghttp2_option_set_no_closed_streams(opt, 1);
        /* nghttp2's own reset limiter, looser than ours: a backstop. */
        nghttp2_option_set_stream_reset_rate_limit(opt, 2ull * h->cfg.reset_burst, 2ull * h->cfg.reset_rate);
        rv = nghttp2_session_server_new2(&h->ng, cbs, h, opt);
    }
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    return rv ? fa_err_set(FA_ENOMEM, "h2: cannot create a session: %s", nghttp2_strerror(rv)) : 0;
}

static int submit_settings(fa_h2 *h) {
    uint32_t header_list =
        h->cfg.max_header_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)h->cfg.max_header_bytes;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h->cfg.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, h->cfg.stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, header_list},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    int rv = nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
    if (!rv)
        rv = nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0,
                                                   (int32_t)h->cfg.connection_window);
    return rv ? fa_err_set(FA_ENOMEM, "h2: cannot queue SETTINGS: %s", nghttp2_strerror(rv)) : 0;
}

fa_h2 *fa_h2_new(const fa_h2_config *c, const fa_h2_callbacks *cb) {
    if (config_check(c, cb)) return NULL;
    fa_h2 *h = fa_calloc(1, sizeof *h);
    if (!h) return NULL;
    h->cfg = *c;
    h->cb = *cb;
    snprintf(h->peer, sizeof h->peer, "%s", c->peer ? c->peer : "");
    h->held_budget = HELD_BUDGET_FACTOR * (c->max_body_bytes ? c->max_body_bytes : 1);
    h->tokens = c->reset_burst;
    h->tokens_at = fa_clock_now();
    if (session_open(h) || submit_settings(h)) {
        fa_h2_free(h);
        return NULL;
    }
    return h;
}

void fa_h2_free(fa_h2 *h) {
    if (!h) return;
    h->freeing = 1;
    nghttp2_session_del(h->ng);
    h->ng = NULL;
    while (h->streams) stream_free(h, h->streams);
    free(h);
}

int fa_h2_is_preface(const char *p, size_t n) {
    if (n == 0) return -1;
    size_t k = n < PREFACE_LEN ? n : PREFACE_LEN;
    if (memcmp(p, PREFACE, k) != 0) return 0;
    return n >= PREFACE_LEN ? 1 : -1;
}

static int feed_failed(fa_h2 *h, ssize_t rv) {
    int code = rv == NGHTTP2_ERR_NOMEM || h->nomem ? FA_ENOMEM : FA_EINVAL;
    const char *what = rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC ? "the client did not send the HTTP/2 preface"
                       : h->nomem                         ? "out of memory"
                                                          : nghttp2_strerror((int)rv);
    h->failed = 1;
    if (rv == NGHTTP2_ERR_FLOODED)
        h->dead = 1; /* the peer does not read: send nothing more */
    else
        nghttp2_session_terminate_session(h->ng, code == FA_ENOMEM ? NGHTTP2_INTERNAL_ERROR
                                                                   : NGHTTP2_PROTOCOL_ERROR);
    return fa_err_set(code, "h2: peer %s: %s", h->peer[0] ? h->peer : "-", what);
}

int fa_h2_feed(fa_h2 *h, const uint8_t *in, size_t n) {
    if (h->busy) return fa_err_set(FA_EINVAL, "h2: fa_h2_feed called from a callback");
    if (h->dead || h->failed) return 0; /* ending: what the peer still sends is dropped */
    h->busy = 1;
    ssize_t rv = nghttp2_session_mem_recv(h->ng, in, n);
    h->busy = 0;
    if (rv < 0 || h->nomem) return feed_failed(h, rv);
    return 0;
}

int fa_h2_want_read(const fa_h2 *h) { return !h->dead && nghttp2_session_want_read(h->ng); }

int fa_h2_want_write(const fa_h2 *h) { return !h->dead && nghttp2_session_want_write(h->ng); }

int fa_h2_should_close(const fa_h2 *h) { return !fa_h2_want_read(h) && !fa_h2_want_write(h); }

size_t fa_h2_streams(const fa_h2 *h) { return h->nstreams; }

size_t fa_h2_streams_receiving(const fa_h2 *h) { return h->nreceiving; }

int fa_h2_goaway(fa_h2 *h) {
    if (h->dead || h->failed) return 0;
    int rv = nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ng),
                                   NGHTTP2_NO_ERROR, NULL, 0);
    return rv ? fa_err_set(FA_ENOMEM, "h2: cannot queue GOAWAY: %s", nghttp2_strerror(rv)) : 0;
}

/* ---------------------------------------------------------------- h2c upgrade */

int fa_h2_upgrade_requested(const fa_http_request *req) {
    size_t settings = 0;
    int upgrade_h2c = 0, conn_upgrade = 0, conn_settings = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const fa_http_header *f = &req->headers[i];
        if (caseeq(f->name.p, f->name.n, "http2-settings")) settings++;
        if (caseeq(f->name.p, f->name.n, "upgrade") && list_has(&f->value, "h2c")) upgrade_h2c = 1;
        if (caseeq(f->name.p, f->name.n, "connection")) {
            conn_upgrade |= list_has(&f->value, "upgrade");
            conn_settings |= list_has(&f->value, "http2-settings");
        }
    }
    return settings == 1 && upgrade_h2c && conn_upgrade && conn_settings;
}

static int b64url_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* base64url (RFC 4648 section 5), padding optional; -1 when malformed. */
static int b64url_decode(const char *s, size_t n, uint8_t *out, size_t *out_n) {
    while (n && s[n - 1] == '=') n--;
    if (n % 4 == 1) return -1;
    uint32_t acc = 0;
    size_t o = 0, bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_n = o;
    return 0;
}

static int hop_by_hop(fa_strv name) {
    static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                        "upgrade",    "te",         "http2-settings",   "host"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (caseeq(name.p, name.n, names[i])) return 1;
    return 0;
}

/* Copies the HTTP/1.1 request into stream 1's bytes, as if it came in
 * HEADERS and DATA frames. */
static int copy_upgrade_request(h2_stream *s, const fa_http_request *req) {
    int rc = keep_bytes(s, req->method_text.p, req->method_text.n, &s->method);
    if (!rc) rc = keep_bytes(s, req->target.p, req->target.n, &s->path);
    s->has_method = s->has_path = 1;
    const fa_strv *host = fa_http_header_get(req, "host");
    if (!rc && host) {
        s->has_authority = 1;
        rc = keep_bytes(s, host->p, host->n, &s->authority);
    }
    for (size_t i = 0; !rc && i < req->nheaders && s->nfields < sizeof s->fields / sizeof s->fields[0]; i++) {
        const fa_http_header *f = &req->headers[i];
        if (hop_by_hop(f->name)) continue;
        field *d = &s->fields[s->nfields];
        rc = keep_bytes(s, f->name.p, f->name.n, &d->name);
        for (size_t k = 0; !rc && k < d->name.len; k++)
            s->hdr.data[d->name.off + k] = (char)ascii_lower((unsigned char)s->hdr.data[d->name.off + k]);
        if (!rc) rc = keep_bytes(s, f->value.p, f->value.n, &d->value);
        if (!rc) s->nfields++;
    }
    if (!rc && req->body.n) rc = fa_buf_append(&s->body, req->body.p, req->body.n);
    return rc;
}

int fa_h2_upgrade(fa_h2 *h, const fa_http_request *req, fa_buf *out) {
    static const char switching[] =
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    const fa_strv *v = fa_http_header_get(req, "http2-settings");
    uint8_t settings[MAX_SETTINGS_B64];
    size_t n = 0;
    if (!v || v->n > MAX_SETTINGS_B64 || b64url_decode(v->p, v->n, settings, &n))
        return fa_err_set(FA_EINVAL, "h2c upgrade: HTTP2-Settings is missing, too long or not base64url");
    int rv = nghttp2_session_upgrade2(h->ng, settings, n, req->method == FA_HTTP_HEAD, NULL);
    if (rv)
        return fa_err_set(rv == NGHTTP2_ERR_NOMEM ? FA_ENOMEM : FA_EINVAL, "h2c upgrade: HTTP2-Settings: %s",
                          nghttp2_strerror(rv));
    h2_stream *s = stream_new(h, 1);
    if (!s || copy_upgrade_request(s, req) || nghttp2_session_set_stream_user_data(h->ng, 1, s) ||
        fa_buf_append(out, switching, sizeof switching - 1)) {
        nghttp2_session_set_stream_user_data(h->ng, 1, NULL);
        if (s) stream_free(h, s);
        h->failed = 1;
        nghttp2_session_terminate_session(h->ng, NGHTTP2_INTERNAL_ERROR);
        return fa_err_set(FA_ENOMEM, "h2c upgrade: out of memory");
    }
    stream_mark_closed_remote(h, s);
    h->busy = 1;
    rv = deliver(h, s);
    h->busy = 0;
    return rv ? fa_err_set(FA_ENOMEM, "h2c upgrade: out of memory") : 0;
}
