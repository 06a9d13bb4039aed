/*
 * problem.c - error responses as RFC 9457 problem details
 * (application/problem+json): {type, title, status, detail, instance}.
 *
 * Why one format for every error: a client (or a CDN log) can always parse
 * an error, tell its kind by `type` without reading prose, and show
 * `detail`, which names exactly what was wrong: the parameter, what was
 * expected and what came ("parameter 'period': expected an integer 1..5,
 * got 'x'"). Types are URNs (urn:footanalytics:problem:<slug>): stable
 * identifiers that nobody is tempted to dereference. `instance` is the
 * request target, so a report of a problem carries the request that made it.
 *
 * Values echoed from the request are cut to 64 bytes on a UTF-8 boundary
 * and escaped by the JSON writer, so a hostile parameter cannot bloat or
 * break the body. Internal failures never echo internals: the detail names
 * the operation and the request id, the log line carries the message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "app_internal.h"

typedef struct problem_type {
    const char *slug, *title;
} problem_type;

static const problem_type types[] = {
    {"invalid-parameter", "Invalid parameter"},   {"not-found", "Resource not found"},
    {"method-not-allowed", "Method not allowed"}, {"not-available-yet", "Not available yet"},
    {"unavailable", "Service unavailable"},       {"internal", "Internal error"},
    {"unauthorized", "Unauthorized"},             {"forbidden", "Forbidden"},
    {"rate-limited", "Too many requests"},        {"purge-incomplete", "Purge incomplete"},
    {"no-cache", "No cache configured"},         {"range-not-satisfiable", "Range not satisfiable"},
    {"invalid-body", "Invalid request body"},     {"invalid-calibration", "Invalid calibration"},
    {"payload-too-large", "Payload too large"},   {"unsupported-media-type", "Unsupported media type"},
};

static const char *title_of(const char *slug) {
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(types[i].slug, slug) == 0) return types[i].title;
    return "Error";
}

/* Drops whatever a handler had started: body, borrowed body, headers. */
static void reset_response(fa_http_response *resp) {
    fa_http_response_drop_body(resp);
    resp->nheaders = 0;
}

static int problem_body(fa_buf *b, int status, const char *slug, const char *detail, fa_strv instance) {
    char type[96];
    snprintf(type, sizeof type, "urn:footanalytics:problem:%s", slug);
    int rc = fa_buf_puts(b, "{\"type\":");
    rc |= fa_json_write_str(b, type);
    rc |= fa_buf_puts(b, ",\"title\":");
    rc |= fa_json_write_str(b, title_of(slug));
    rc |= fa_buf_printf(b, ",\"status\":%d,\"detail\":", status);
    rc |= fa_json_write_str(b, detail);
    rc |= fa_buf_puts(b, ",\"instance\":");
    /* The target may hold anything (NULs included): write it through a bounded copy. */
    char inst[512];
    size_t n = instance.n < sizeof inst - 1 ? instance.n : sizeof inst - 1;
    memcpy(inst, instance.p ? instance.p : "", instance.p ? n : 0);
    inst[instance.p ? n : 0] = '\0';
    rc |= fa_json_write_str(b, inst);
    rc |= fa_buf_puts(b, "}");
    return rc;
}

void fa_api_problem_write(fa_http_response *resp, int status, const char *slug, const char *detail,
                          fa_strv instance) {
    static const char oom[] = "{\"type\":\"urn:footanalytics:problem:unavailable\",\"title\":\"Service "
                              "unavailable\",\"status\":503,\"detail\":\"out of memory\"}";
    reset_response(resp);
    resp->status = status;
    resp->content_type = "application/problem+json";
    if (problem_body(&resp->body, status, slug, detail, instance) == 0) return;
    fa_buf_reset(&resp->body);
    resp->status = 503;
    resp->body_ref = oom;
    resp->body_ref_len = sizeof oom - 1;
}

int fa_api_problem(fa_api_req *r, int status, const char *slug, const char *fmt, ...) {
    char detail[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    fa_api_problem_write(r->resp, status, slug, detail, r->http->target);
    r->problem = r->resp->status;
    return FA_EINVAL;
}

int fa_api_bad_param(fa_api_req *r, const char *where, const char *name, const char *expected,
                     const char *got) {
    char cut[68];
    size_t len = fa_strlcpy_utf8(cut, got ? got : "", 65);
    return fa_api_problem(r, 400, "invalid-parameter", "%s '%s': expected %s, got '%s%s'", where, name,
                          expected, cut, len > 64 ? "..." : "");
}

int fa_api_fail(fa_api_req *r, int rc, const char *what) {
    const char *msg = fa_err_msg();
    switch (rc) {
    case FA_ENOTFOUND: return fa_api_problem(r, 404, "not-found", "%s", msg[0] ? msg : what);
    case FA_EINVAL:
    case FA_ELIMIT: return fa_api_problem(r, 400, "invalid-parameter", "%s: %s", what, msg);
    case FA_ENOMEM: return fa_api_problem(r, 503, "unavailable", "out of memory while %s; retry later", what);
    default: break;
    }
    fa_log(FA_LOG_ERROR, "api: request failed", "request_id=%llu what=\"%s\" code=%d error=\"%s\"",
           (unsigned long long)r->http->id, what, rc, msg);
    if (rc == FA_EIO && r->t->store) {
        /* The handle may be broken (file replaced, disk error): the next request reopens it. */
        fa_store_close(r->t->store);
        r->t->store = NULL;
        return fa_api_problem(r, 503, "unavailable", "the store failed while %s (request %llu); retry later",
                              what, (unsigned long long)r->http->id);
    }
    return fa_api_problem(r, 500, "internal", "%s failed (request %llu)", what,
                          (unsigned long long)r->http->id);
}
