/*
 * fuzz_http1.c - libFuzzer target for the HTTP/1.1 request parser
 * (src/api/http1.c) on arbitrary bytes.
 *
 * The first input byte picks the limits (so tiny heads and bodies hit 431 and
 * 413); the rest is a connection's byte stream. It is parsed twice:
 *   - whole: all bytes in one buffer, request after request, as when a
 *     client pipelines everything into one write;
 *   - in reads: chunks of 1 to 8 bytes (sizes drawn from the input itself),
 *     each parse on a fresh heap copy of exactly the bytes received so far,
 *     so ASan catches a read past them or a view into an old buffer.
 * The two must agree: the same requests (length, method, path, query, body,
 * keep-alive) in the same order, and both end in an error or neither does
 * (the status may differ: a prefix can show one fault before the whole shows
 * another). A disagreement traps. Each request is also run through the
 * header and query accessors and the response writer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/http1.h"
#include "core/core.h"

#define MAX_REQS 64

typedef struct seen {
    size_t used;
    fa_http_method method;
    int keep_alive;
    uint64_t path_hash, query_hash, body_hash;
} seen;

typedef struct outcome {
    seen reqs[MAX_REQS];
    size_t n;
    int error;
} outcome;

static uint64_t hash(fa_strv v) {
    uint64_t h = 1469598103934665603ull ^ v.n;
    for (size_t i = 0; i < v.n; i++) h = (h ^ (unsigned char)v.p[i]) * 1099511628211ull;
    return h;
}

/* Touches the request through every accessor, as a handler would. */
static void exercise(const fa_http_request *req) {
    char buf[64];
    volatile size_t sink = 0;
    const fa_strv *h = fa_http_header_get(req, "host");
    if (h) sink += h->n;
    h = fa_http_header_get(req, "X-Does-Not-Exist");
    sink += h != NULL;
    for (size_t i = 0; i < req->nheaders; i++)
        sink += hash(req->headers[i].name) + hash(req->headers[i].value);
    sink += (size_t)fa_http_query_get(req, "a", buf, sizeof buf);
    sink += (size_t)fa_http_query_get(req, "", buf, 4);
    sink += hash(req->target) + hash(req->method_text);
    (void)sink;
}

static void record(outcome *o, const fa_http_request *req, size_t used) {
    exercise(req);
    if (o->n == MAX_REQS) return;
    seen *s = &o->reqs[o->n++];
    s->used = used;
    s->method = req->method;
    s->keep_alive = req->keep_alive;
    s->path_hash = hash(req->path);
    s->query_hash = hash(req->query);
    s->body_hash = hash(req->body);
}

static void parse_whole(const char *data, size_t size, const fa_h1_limits *lim, char *scratch, outcome *o) {
    fa_h1_parser p;
    fa_h1_parser_reset(&p);
    size_t off = 0;
    while (off < size) {
        fa_http_request req;
        fa_h1_error err;
        size_t used = 0;
        int rc = fa_h1_parse(&p, data + off, size - off, lim, &req, scratch, &err, &used);
        if (rc < 0) {
            o->error = err.status;
            return;
        }
        if (rc == 0) return;
        if (used == 0 || used > size - off) __builtin_trap();
        record(o, &req, used);
        off += used;
    }
}

static void parse_in_reads(const char *data, size_t size, const fa_h1_limits *lim, char *scratch,
                           outcome *o) {
    fa_h1_parser p;
    fa_h1_parser_reset(&p);
    size_t start = 0, have = 0, k = 0;
    while (have < size) {
        size_t chunk = 1 + (unsigned char)data[k++ % size] % 8;
        have = have + chunk < size ? have + chunk : size;
        for (;;) {
            size_t n = have - start;
            if (n == 0) break;
            char *copy = malloc(n);
            if (!copy) return;
            memcpy(copy, data + start, n);
            fa_http_request req;
            fa_h1_error err;
            size_t used = 0;
            int rc = fa_h1_parse(&p, copy, n, lim, &req, scratch, &err, &used);
            if (rc == 1) record(o, &req, used);
            free(copy);
            if (rc < 0) {
                o->error = err.status;
                return;
            }
            if (rc == 0) break;
            start += used;
        }
    }
}

static void write_responses(const outcome *o) {
    fa_h1_date d = {0};
    fa_h1_date_set(&d, 1795651200);
    fa_buf out = {0};
    if (o->error) fa_h1_write_error(&out, o->error, "fuzz", 0, &d);
    if (o->n) fa_h1_write_head(&out, 200, NULL, o->reqs[0].used, FA_H1_LENGTH, &d);
    fa_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const fa_h1_limits choices[4] = {{1024, 256}, {64, 16}, {256, 0}, {8192, 4096}};
    const fa_h1_limits *lim = &choices[data[0] & 3];
    const char *stream = (const char *)data + 1;
    size_t n = size - 1;
    char *scratch = malloc(lim->max_header_bytes);
    outcome *whole = calloc(1, sizeof *whole), *reads = calloc(1, sizeof *reads);
    if (!scratch || !whole || !reads) goto done;
    parse_whole(stream, n, lim, scratch, whole);
    if (n) parse_in_reads(stream, n, lim, scratch, reads);
    if (whole->n != reads->n || !whole->error != !reads->error) __builtin_trap();
    if (memcmp(whole->reqs, reads->reqs, whole->n * sizeof whole->reqs[0]) != 0) __builtin_trap();
    write_responses(whole);
done:
    free(scratch);
    free(whole);
    free(reads);
    return 0;
}
