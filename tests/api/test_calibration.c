/*
 * test_calibration.c - POST /v1/calibration (issue 7: the manual pitch
 * calibration through the API), driven two ways: in process, through the
 * application's callbacks with a request built here (body included), and
 * once for real over a socket to fa_server on 127.0.0.1, so that the body
 * is known to reach the handler through the HTTP/1.1 parser too.
 *
 * The calibration is the real one of tests/fixtures/soccertrack_left_calib.json
 * (3072x1728, 14 landmarks read by hand): the answer must be byte for byte
 * what fa_calib_write_json makes of fa_calib_load_mem's solution of the
 * same body, load back to the same H and errors, and equal the file that
 * fa_calib_save writes. The endpoint needs no database: the app is given a
 * path that does not exist.
 */
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#include "api/api.h"
#include "api/security.h"
#include "core/core.h"
#include "vision/calib.h"
#include "h1_reply.h"

typedef struct fixture {
    char *dir;
    char db[4200];
    fa_api_app *app;
    fa_api_callbacks cb;
    fa_api_thread *t;
    char *calib; /* the fixture file's text */
    size_t calib_len;
} fixture;

typedef struct response {
    fa_http_response resp;
    char *body; /* NUL-terminated copy */
    size_t len;
} response;

static const char *fixture_path(void) {
    static char path[1024];
    const char *src = getenv("FA_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/soccertrack_left_calib.json", src ? src : ".");
    return path;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->calib = fa_test_read_file(fixture_path(), &f->calib_len);
    if (!f->calib) fail_msg("cannot read %s", fixture_path());
    f->dir = fa_test_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/absent.db", f->dir);
    f->app = fa_api_app_new(f->db, NULL);
    assert_non_null(f->app);
    f->cb = fa_api_app_callbacks(f->app);
    f->t = f->cb.thread_init(f->cb.ud, 0, NULL);
    assert_non_null(f->t);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    f->cb.thread_free(f->t);
    fa_api_app_free(f->app);
    fa_test_rmtree(f->dir);
    free(f->dir);
    free(f->calib);
    free(f);
    return 0;
}

/* ------------------------------------------------------------ in-process requests */

/* method on target with body[0..n), an optional Content-Type (NULL: none)
 * and optional X-API-Key (NULL: none), to the app of cb on thread t. */
static void call_with(const fa_api_callbacks *cb, fa_api_thread *t, response *out, const char *method,
                      const char *target, const char *body, size_t n, const char *content_type,
                      const char *api_key) {
    fa_http_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = strcmp(method, "POST") == 0  ? FA_HTTP_POST
                : strcmp(method, "GET") == 0 ? FA_HTTP_GET
                                             : FA_HTTP_OTHER;
    rq.method_text = (fa_strv){method, strlen(method)};
    rq.target = rq.path = (fa_strv){target, strlen(target)};
    rq.query = (fa_strv){"", 0};
    rq.minor = 1;
    rq.keep_alive = 1;
    if (content_type) {
        rq.headers[0].name = (fa_strv){"Content-Type", 12};
        rq.headers[0].value = (fa_strv){content_type, strlen(content_type)};
        rq.nheaders = 1;
    }
    if (api_key) {
        rq.headers[rq.nheaders].name = (fa_strv){"X-API-Key", 9};
        rq.headers[rq.nheaders].value = (fa_strv){api_key, strlen(api_key)};
        rq.nheaders++;
    }
    rq.body = (fa_strv){body ? body : "", body ? n : 0};
    rq.id = 11;
    snprintf(rq.peer, sizeof rq.peer, "192.0.2.7");
    rq.version = 1;
    memset(out, 0, sizeof *out);
    out->resp.status = 200;
    cb->handle(t, &rq, &out->resp);
    const char *p = out->resp.body_ref ? out->resp.body_ref : out->resp.body.data;
    out->len = out->resp.body_ref ? out->resp.body_ref_len : out->resp.body.len;
    out->body = malloc(out->len + 1);
    memcpy(out->body, p ? p : "", p ? out->len : 0);
    out->body[out->len] = '\0';
}

/* The same to the fixture's app, with no key. */
static void call(fixture *f, response *out, const char *method, const char *target, const char *body,
                 size_t n, const char *content_type) {
    call_with(&f->cb, f->t, out, method, target, body, n, content_type, NULL);
}

static void post(fixture *f, response *out, const char *body) {
    call(f, out, "POST", "/v1/calibration", body, strlen(body), "application/json");
}

static void response_free(response *r) {
    fa_buf_free(&r->resp.body);
    if (r->resp.body_ref && r->resp.release) r->resp.release(r->resp.release_ud);
    free(r->body);
}

static const char *header(const response *r, const char *name) {
    for (size_t i = 0; i < r->resp.nheaders; i++)
        if (strcasecmp(r->resp.headers[i][0], name) == 0) return r->resp.headers[i][1];
    return NULL;
}

/* Asserts r is a problem of that status and slug whose detail starts with want. */
static void assert_problem(const response *r, int status, const char *slug, const char *want) {
    if (r->resp.status != status) fail_msg("status %d, expected %d: %s", r->resp.status, status, r->body);
    assert_string_equal(r->resp.content_type, "application/problem+json");
    fa_arena *a = fa_arena_new(4096);
    fa_json_value *doc = NULL;
    assert_int_equal(fa_json_parse("problem", r->body, r->len, a, &doc), 0);
    char type[96];
    snprintf(type, sizeof type, "urn:footanalytics:problem:%s", slug);
    assert_string_equal(fa_json_get(doc, "type")->u.str.ptr, type);
    assert_int_equal((int)fa_json_get(doc, "status")->u.num, status);
    const char *detail = fa_json_get(doc, "detail")->u.str.ptr;
    if (strncmp(detail, want, strlen(want)) != 0) fail_msg("detail '%s' does not start '%s'", detail, want);
    assert_string_equal(fa_json_get(doc, "instance")->u.str.ptr, "/v1/calibration");
    assert_string_equal(header(r, "Cache-Control"), "no-store");
    fa_arena_free(a);
}

/* ------------------------------------------------------------ the solution */

/* What the command line does with the same text: fa_calib_load_mem, then the file format. */
static void solve_in_process(const fixture *f, fa_calib *c, fa_buf *json) {
    assert_int_equal(fa_calib_load_mem("fixture", f->calib, f->calib_len, c), 0);
    assert_int_equal(fa_calib_write_json(c, NULL, json), 0);
}

static void test_solve(void **state) {
    fixture *f = *state;
    static fa_calib want, back;
    fa_buf json = {0};
    solve_in_process(f, &want, &json);
    response r;
    call(f, &r, "POST", "/v1/calibration", f->calib, f->calib_len, "application/json; charset=utf-8");
    if (r.resp.status != 200) fail_msg("status %d: %s", r.resp.status, r.body);
    assert_string_equal(r.resp.content_type, "application/json");
    assert_string_equal(header(&r, "Cache-Control"), "no-store");
    assert_null(header(&r, "ETag"));
    assert_int_equal(r.len, json.len);
    assert_memory_equal(r.body, json.data, json.len);
    /* The answer is a calibration file: it loads back to the same solution. */
    assert_int_equal(fa_calib_load_mem("answer", r.body, r.len, &back), 0);
    assert_int_equal(back.img_w, 3072);
    assert_int_equal(back.img_h, 1728);
    assert_int_equal(back.npoints, 14);
    assert_int_equal(back.distortion_fitted, 1);
    assert_string_equal(back.points[11].name, "centre_spot");
    for (int i = 0; i < 9; i++)
        assert_true(fabs(back.H[i] - want.H[i]) <= 1e-9 * fabs(want.H[i]) + 1e-15);
    assert_true(fabs(back.k1 - want.k1) <= 1e-12);
    assert_true(fabs(back.k2 - want.k2) <= 1e-12);
    assert_true(fabs(back.rms_px - want.rms_px) <= 1e-6);
    assert_true(fabs(back.rms_m - want.rms_m) <= 1e-6);
    /* The fixture's note: 3.98 px RMS at 105 x 68 with the distortion fitted. */
    assert_true(fabs(want.rms_px - 3.98) < 0.005);
    response_free(&r);
    fa_buf_free(&json);
}

/* A solved file sent back is checked, not solved again: the same answer. */
static void test_solved_file_round_trip(void **state) {
    fixture *f = *state;
    static fa_calib want;
    fa_buf json = {0};
    solve_in_process(f, &want, &json);
    response r;
    call(f, &r, "POST", "/v1/calibration", json.data, json.len, NULL);
    assert_int_equal(r.resp.status, 200);
    assert_int_equal(r.len, json.len);
    assert_memory_equal(r.body, json.data, json.len);
    response_free(&r);
    fa_buf_free(&json);
}

/* fa_calib_save writes exactly fa_calib_write_json's document (with the note). */
static void test_save_is_write_json(void **state) {
    fixture *f = *state;
    static fa_calib c;
    fa_buf json = {0};
    assert_int_equal(fa_calib_load_mem("fixture", f->calib, f->calib_len, &c), 0);
    assert_int_equal(fa_buf_puts(&json, "prefix"), 0);
    assert_int_equal(fa_calib_write_json(&c, "a \"note\"", &json), 0);
    char path[4300];
    snprintf(path, sizeof path, "%s/saved.json", f->dir);
    assert_int_equal(fa_calib_save(&c, "a \"note\"", path), 0);
    size_t n = 0;
    char *saved = fa_test_read_file(path, &n);
    assert_non_null(saved);
    assert_int_equal(n, json.len - 6);
    assert_memory_equal(saved, json.data + 6, n); /* appended after what out held */
    assert_non_null(strstr(saved, "\n  \"note\": \"a \\\"note\\\"\"\n}\n"));
    free(saved);
    fa_buf_free(&json);
}

/* ------------------------------------------------------------ errors */

static const char *const pts4 = "{\"u\": 128, \"v\": 1141, \"name\": \"corner_bottom_left\"},"
                                "{\"u\": 1586, \"v\": 789, \"name\": \"corner_top_left\"},"
                                "{\"u\": 2770, \"v\": 746, \"name\": \"halfway_top\"},";

static void post_points(fixture *f, response *r, const char *last) {
    char body[1024];
    snprintf(body, sizeof body, "{\"image\": {\"width\": 3072, \"height\": 1728}, \"points\": [%s%s]}", pts4,
             last);
    post(f, r, body);
}

static void test_bad_calibrations(void **state) {
    fixture *f = *state;
    response r;
    /* Four good points solve (the error tests below differ from this in one thing). */
    post_points(f, &r, "{\"u\": 2872, \"v\": 1566, \"name\": \"halfway_bottom\"}");
    assert_int_equal(r.resp.status, 200);
    response_free(&r);
    post_points(f, &r, "{\"u\": 2872, \"v\": 1766, \"name\": \"halfway_bottom\"}");
    assert_problem(
        &r, 422, "invalid-calibration",
        "body: calibration: point 4 (halfway_bottom): pixel (2872.0, 1766.0) is off the 3072x1728 image");
    response_free(&r);
    post_points(f, &r, "{\"u\": 2872, \"v\": 1566, \"name\": \"halfway_botom\"}");
    assert_problem(&r, 422, "invalid-calibration", "body:1:201: points[3]: unknown landmark 'halfway_botom'");
    response_free(&r);
    post_points(f, &r, "{\"u\": 2872, \"v\": 1566}");
    assert_problem(&r, 422, "invalid-calibration", "body:1:201: missing required field 'x'");
    response_free(&r);
    post(f, &r,
         "{\"image\": {\"width\": 3072, \"height\": 1728}, \"points\": [{\"u\": 128, \"v\": 1141, "
         "\"name\": \"corner_bottom_left\"}, {\"u\": 1586, \"v\": 789, \"name\": \"corner_top_left\"}]}");
    assert_problem(&r, 422, "invalid-calibration",
                   "body: calibration: 2 points given, at least 4 are needed");
    response_free(&r);
    /* Four pitch points on the top touchline. */
    post(
        f, &r,
        "{\"image\": {\"width\": 3072, \"height\": 1728}, \"points\": ["
        "{\"u\": 100, \"v\": 100, \"x\": -50, \"y\": 34}, {\"u\": 900, \"v\": 120, \"x\": -20, \"y\": 34},"
        "{\"u\": 1500, \"v\": 900, \"x\": 10, \"y\": 34}, {\"u\": 300, \"v\": 1500, \"x\": 40, \"y\": 34}]}");
    assert_problem(&r, 422, "invalid-calibration", "body: calibration: the 4 pitch points are collinear");
    response_free(&r);
    post(f, &r, "{\"points\": []}");
    assert_problem(&r, 422, "invalid-calibration", "body:1:1: missing required field 'image'");
    response_free(&r);
    post(f, &r, "[1, 2]");
    assert_problem(&r, 422, "invalid-calibration", "body:1:1: expected a calibration object");
    response_free(&r);
}

static void test_bad_bodies(void **state) {
    fixture *f = *state;
    response r;
    call(f, &r, "POST", "/v1/calibration", NULL, 0, NULL);
    assert_problem(&r, 400, "invalid-body", "empty request body");
    response_free(&r);
    post(f, &r, "{\"image\": {\"width\": 3072,");
    assert_problem(&r, 400, "invalid-body", "body:1:26: unexpected end of input");
    response_free(&r);
    post(f, &r, " \n ");
    assert_problem(&r, 400, "invalid-body", "body:2:2: empty input");
    response_free(&r);
    post(f, &r, "{} {}");
    assert_problem(&r, 400, "invalid-body", "body:1:4: unexpected data after the top-level value");
    response_free(&r);
    call(f, &r, "POST", "/v1/calibration", f->calib, f->calib_len, "text/plain");
    assert_problem(&r, 415, "unsupported-media-type",
                   "Content-Type 'text/plain': the request body must be JSON (application/json)");
    response_free(&r);
    size_t big = 64 * 1024 + 1;
    char *pad = malloc(big);
    memset(pad, ' ', big);
    memcpy(pad, f->calib, f->calib_len); /* a valid calibration, padded past the limit */
    call(f, &r, "POST", "/v1/calibration", pad, big, "application/json");
    assert_problem(&r, 413, "payload-too-large", "request body of 65537 bytes: at most 65536");
    response_free(&r);
    call(f, &r, "POST", "/v1/calibration", pad, big - 1, "application/vnd.api+json");
    assert_int_equal(r.resp.status, 200);
    response_free(&r);
    free(pad);
}

static void test_methods(void **state) {
    fixture *f = *state;
    response r;
    call(f, &r, "GET", "/v1/calibration", NULL, 0, NULL);
    assert_problem(&r, 405, "method-not-allowed",
                   "method 'GET' is not allowed on '/v1/calibration' (allowed: POST, OPTIONS)");
    assert_string_equal(header(&r, "Allow"), "POST, OPTIONS");
    response_free(&r);
}

/* ------------------------------------------------------------ guard */

static double fixed_clock(void *ud) {
    (void)ud;
    return 100.0;
}

/* Like the data routes: a key is optional but checked when sent, and the
 * per-address rate limit applies (it is no probe). */
static void test_guard(void **state) {
    fixture *f = *state;
    fa_ratelimit_config rc;
    fa_ratelimit_config_default(&rc);
    rc.rate = 1;
    rc.burst = 2;
    rc.clock = fixed_clock;
    fa_ratelimit *by_ip = fa_ratelimit_new(&rc);
    assert_non_null(by_ip);
    fa_api_app_config c;
    fa_api_app_config_default(&c);
    c.limit_ip = by_ip;
    fa_api_app *app = fa_api_app_new(f->db, &c);
    assert_non_null(app);
    fa_api_callbacks cb = fa_api_app_callbacks(app);
    fa_api_thread *t = cb.thread_init(cb.ud, 0, NULL);
    assert_non_null(t);
    response r;
    call_with(&cb, t, &r, "POST", "/v1/calibration", f->calib, f->calib_len, NULL, "fa_not-a-key");
    assert_problem(&r, 401, "unauthorized", "unknown API key");
    response_free(&r);
    call_with(&cb, t, &r, "POST", "/v1/calibration", f->calib, f->calib_len, NULL, NULL);
    assert_int_equal(r.resp.status, 200);
    response_free(&r);
    call_with(&cb, t, &r, "POST", "/v1/calibration", f->calib, f->calib_len, NULL, NULL);
    assert_problem(&r, 429, "rate-limited", "too many requests from this address: retry after 1 s");
    assert_string_equal(header(&r, "Retry-After"), "1");
    response_free(&r);
    cb.thread_free(t);
    fa_api_app_free(app);
    fa_ratelimit_free(by_ip);
}

/* ------------------------------------------------------------ over a socket */

static ssize_t sock_recv(void *io, void *p, size_t n) { return recv(*(int *)io, p, n, 0); }

static void exchange(int port, const char *req, size_t n, reply *out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
        assert_true(w > 0);
        off += (size_t)w;
    }
    static char buf[1 << 17];
    size_t len = 0;
    h1_in in = {buf, sizeof buf, &len, sock_recv, &fd};
    assert_int_equal(h1_read_reply(&in, out, 0), 0);
    close(fd);
}

static void test_over_http(void **state) {
    fixture *f = *state;
    static fa_calib want;
    fa_buf json = {0}, req = {0};
    solve_in_process(f, &want, &json);
    fa_server_config c;
    fa_server_config_default(&c);
    c.host = "127.0.0.1";
    c.port = 0;
    c.loops = 1;
    fa_server *s = fa_server_start(&c, &f->cb);
    if (!s) fail_msg("fa_server_start: %s", fa_err_msg());
    static reply r;
    fa_buf_printf(&req,
                  "POST /v1/calibration HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                  f->calib_len);
    fa_buf_append(&req, f->calib, f->calib_len);
    exchange(fa_server_port(s), req.data, req.len, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, json.len);
    assert_memory_equal(r.body, json.data, json.len);
    const char *get = "GET /v1/calibration HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    exchange(fa_server_port(s), get, strlen(get), &r);
    assert_int_equal(r.status, 405);
    assert_non_null(header_in(r.head, "Allow"));
    assert_int_equal(strncmp(header_in(r.head, "Allow"), "POST, OPTIONS\r\n", 15), 0);
    fa_server_stop(s);
    fa_server_wait_free(s);
    fa_buf_free(&req);
    fa_buf_free(&json);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solve),
        cmocka_unit_test(test_solved_file_round_trip),
        cmocka_unit_test(test_save_is_write_json),
        cmocka_unit_test(test_bad_calibrations),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_guard),
        cmocka_unit_test(test_over_http),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
