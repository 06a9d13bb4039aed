/*
 * calibration.c - POST /v1/calibration: solves a manual pitch calibration
 * (issue 7) from the image-point <-> pitch-point correspondences in the
 * request body and answers the solved calibration.
 *
 * Why the file format both ways: the body is exactly what a calibration
 * file holds (fa_calib_load_mem reads it: "image", "points" by landmark
 * name or pitch x,y, optionally "pitch", and "H" + "distortion" when the
 * client sends back a solved file, which is then checked and its errors
 * recomputed instead of solved again), and the answer is exactly what
 * fa_calib_save writes. A client - the dashboard after the user clicked
 * points on a frame - saves the response body as the file that
 * `analyze --calib FILE` takes: one format, one reader, one writer, so the
 * API and the command line cannot disagree.
 *
 * Stateless: no store, no cache (only GET and HEAD answers are cached;
 * the route keeps the rate limits of the data routes), cheap (at most
 * FA_CALIB_MAX_POINTS points: a DLT and a Levenberg-Marquardt of 11
 * parameters, well under a millisecond).
 *
 * Statuses: 200 the solved calibration; 400 invalid-body (empty, or not
 * JSON: the detail is the parser's "body:line:col: ..."); 413
 * payload-too-large (over BODY_MAX); 415 unsupported-media-type (a
 * Content-Type other than JSON); 422 invalid-calibration (JSON, but not a
 * calibration the solver accepts: a missing field, fewer than 4 points, a
 * point off the image, collinear points, an unknown landmark ... - the
 * detail is fa_err_msg(), which names the point and the problem).
 */
#include <string.h>
#include <strings.h>

#include "../app_internal.h"
#include "vision/calib.h"

#define BODY_MAX (64 * 1024) /* a 64-point file with names is ~6 KiB */
#define BODY_NAME "body"     /* the name parser and solver messages start with */

/* 1 when the request has no Content-Type or a JSON one (application/json,
 * any application/...+json, parameters allowed). */
static int json_content_type(const fa_api_req *r) {
    const fa_strv *ct = fa_http_header_get(r->http, "Content-Type");
    if (!ct) return 1;
    size_t n = ct->n;
    const char *semi = memchr(ct->p, ';', n);
    if (semi) n = (size_t)(semi - ct->p);
    while (n && (ct->p[n - 1] == ' ' || ct->p[n - 1] == '\t'))
        n--;
    static const char app[] = "application/", plus[] = "+json";
    if (n < sizeof app - 1 || strncasecmp(ct->p, app, sizeof app - 1) != 0) return 0;
    if (n == sizeof app - 1 + 4 && strncasecmp(ct->p + sizeof app - 1, "json", 4) == 0) return 1;
    return n > sizeof app - 1 + sizeof plus - 1 &&
           strncasecmp(ct->p + n - (sizeof plus - 1), plus, sizeof plus - 1) == 0;
}

/* 415 naming the Content-Type sent (cut to 64 bytes on a UTF-8 boundary). */
static int not_json(fa_api_req *r) {
    const fa_strv *ct = fa_http_header_get(r->http, "Content-Type");
    char sent[68], cut[68];
    size_t n = ct->n < sizeof sent - 1 ? ct->n : sizeof sent - 1;
    memcpy(sent, ct->p, n);
    sent[n] = '\0';
    size_t len = fa_strlcpy_utf8(cut, sent, 65);
    return fa_api_problem(r, 415, "unsupported-media-type",
                          "Content-Type '%s%s': the request body must be JSON (application/json)", cut,
                          len > 64 ? "..." : "");
}

/* The checks before parsing: 0, or < 0 after a 400/413/415 problem. */
static int check_body(fa_api_req *r) {
    const fa_strv *body = &r->http->body;
    if (!json_content_type(r)) return not_json(r);
    if (body->n == 0)
        return fa_api_problem(r, 400, "invalid-body",
                              "empty request body: send a calibration as JSON, e.g. {\"image\": {\"width\": "
                              "1920, \"height\": 1080}, \"points\": [{\"u\": 960, \"v\": 540, \"name\": "
                              "\"centre_spot\"}, ...]}");
    if (body->n > BODY_MAX)
        return fa_api_problem(r, 413, "payload-too-large", "request body of %zu bytes: at most %d", body->n,
                              BODY_MAX);
    return 0;
}

int fa_api_h_calibration(fa_api_req *r) {
    r->cache = FA_API_CACHE_NONE;
    int rc = check_body(r);
    if (rc) return rc;
    const fa_strv *body = &r->http->body;
    fa_json_value *root = NULL;
    /* Syntax first, so that not-JSON (400) and not-a-calibration (422) are told apart. */
    rc = fa_json_parse(BODY_NAME, body->p, body->n, r->t->arena, &root);
    if (rc == FA_ENOMEM) return fa_api_fail(r, rc, "reading the calibration");
    if (rc || !root)
        return fa_api_problem(r, 400, "invalid-body", "%s",
                              rc ? fa_err_msg() : "the body holds no JSON value");
    fa_calib *c = fa_arena_alloc(r->t->arena, sizeof *c);
    if (!c) return fa_api_fail(r, FA_ENOMEM, "solving the calibration");
    rc = fa_calib_load_mem(BODY_NAME, body->p, body->n, c);
    if (rc == FA_ENOMEM) return fa_api_fail(r, rc, "solving the calibration");
    if (rc) return fa_api_problem(r, 422, "invalid-calibration", "%s", fa_err_msg());
    if (fa_calib_write_json(c, NULL, &r->resp->body))
        return fa_api_fail(r, FA_ENOMEM, "writing the calibration");
    r->resp->status = 200;
    r->resp->content_type = "application/json";
    return 0;
}
