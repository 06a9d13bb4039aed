/*
 * request.c - helpers on requests and responses that every protocol and
 * handler shares: dropping a response's body, copying a request out of the
 * connection's buffer.
 *
 * A parsed request is views (fa_strv) into the connection's input, valid
 * only while handle() runs. A handler that defers (an L2 lookup) needs the
 * request again later, so it keeps a copy: one allocation holding the
 * struct and every byte its views point to, so a single free() releases
 * it and nothing can be left half-owned.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"

static size_t strv_size(fa_strv v) { return v.p ? v.n + 1 : 0; }

/* Copies v's bytes to *at (NUL-terminated, for handlers that printf them) and points v there. */
static void strv_move(fa_strv *v, char **at) {
    if (!v->p) return;
    memcpy(*at, v->p, v->n);
    (*at)[v->n] = '\0';
    v->p = *at;
    *at += v->n + 1;
}

void fa_http_response_drop_body(fa_http_response *resp) {
    fa_buf_reset(&resp->body);
    if (resp->body_ref && resp->release) resp->release(resp->release_ud);
    resp->body_ref = NULL;
    resp->body_ref_len = 0;
    resp->release = NULL;
    resp->release_ud = NULL;
}

fa_http_request *fa_http_request_clone(const fa_http_request *r) {
    size_t bytes = strv_size(r->method_text) + strv_size(r->target) + strv_size(r->path) +
                   strv_size(r->query) + strv_size(r->body);
    for (size_t i = 0; i < r->nheaders; i++)
        bytes += strv_size(r->headers[i].name) + strv_size(r->headers[i].value);
    fa_http_request *c = fa_malloc(sizeof *c + bytes);
    if (!c) return NULL;
    *c = *r;
    char *at = (char *)(c + 1);
    strv_move(&c->method_text, &at);
    strv_move(&c->target, &at);
    strv_move(&c->path, &at);
    strv_move(&c->query, &at);
    strv_move(&c->body, &at);
    for (size_t i = 0; i < c->nheaders; i++) {
        strv_move(&c->headers[i].name, &at);
        strv_move(&c->headers[i].value, &at);
    }
    return c;
}
