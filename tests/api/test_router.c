/*
 * test_router.c - the application's pieces that need no database: route
 * matching and path parameters, the query-key check, cursors, If-None-Match
 * parsing, the ETag hash, surrogate-key slugs and the JSON writer. Each
 * request is built by hand (fa_api_req over a fa_http_request), on a thread
 * state whose store is never opened.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "api/api.h"
#include "api/app_internal.h"

typedef struct env {
    fa_api_app *app;
    fa_api_callbacks cb;
    fa_api_thread *t;
    fa_http_request http;
    fa_http_response resp;
    fa_api_req r;
    char target[512];
} env;

static int setup(void **state) {
    env *e = calloc(1, sizeof *e);
    e->app = fa_api_app_new("/nonexistent/footanalytics-test.db", NULL);
    assert_non_null(e->app);
    e->cb = fa_api_app_callbacks(e->app);
    e->t = e->cb.thread_init(e->cb.ud, 0, NULL);
    assert_non_null(e->t);
    *state = e;
    return 0;
}

static int teardown(void **state) {
    env *e = *state;
    fa_buf_free(&e->resp.body);
    e->cb.thread_free(e->t);
    fa_api_app_free(e->app);
    free(e);
    return 0;
}

/* Prepares e->r for "METHOD target" (no percent-decoding: tests use plain paths). */
static fa_api_req *req(env *e, fa_http_method m, const char *target) {
    snprintf(e->target, sizeof e->target, "%s", target);
    memset(&e->http, 0, sizeof e->http);
    fa_buf_free(&e->resp.body);
    memset(&e->resp, 0, sizeof e->resp);
    e->http.method = m;
    e->http.method_text = (fa_strv){"GET", 3};
    e->http.target = (fa_strv){e->target, strlen(e->target)};
    char *q = strchr(e->target, '?');
    e->http.path = (fa_strv){e->target, q ? (size_t)(q - e->target) : strlen(e->target)};
    e->http.query = q ? (fa_strv){q + 1, strlen(q + 1)} : (fa_strv){"", 0};
    memset(&e->r, 0, sizeof e->r);
    e->r.t = e->t;
    e->r.http = &e->http;
    e->r.resp = &e->resp;
    fa_arena_reset(e->t->arena);
    return &e->r;
}

static void test_route_matching(void **state) {
    env *e = *state;
    fa_api_req *r = req(e, FA_HTTP_GET, "/v1/matches/statsbomb:15986/events?period=1");
    assert_int_equal(fa_api_route_find(r), 0);
    assert_string_equal(r->route->operation, "listMatchEvents");
    assert_int_equal(r->nparams, 1);
    assert_string_equal(fa_api_param(r, "id"), "statsbomb:15986");
    assert_null(fa_api_param(r, "player"));

    r = req(e, FA_HTTP_HEAD, "/v1/matches/7/players/5503");
    assert_int_equal(fa_api_route_find(r), 0);
    assert_string_equal(r->route->operation, "getMatchPlayer");
    assert_string_equal(fa_api_param(r, "id"), "7");
    assert_string_equal(fa_api_param(r, "player"), "5503");

    static const char *const missing[] = {"/v1/matches//events",
                                          "/v1/matchesx",
                                          "/v1/matches/1/",
                                          "/v1",
                                          "/v1/players/5503/season/x",
                                          "/healthz/",
                                          ""};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        r = req(e, FA_HTTP_GET, missing[i]);
        assert_int_equal(fa_api_route_find(r), 1);
        if (e->resp.status != 404) fail_msg("'%s': status %d", missing[i], e->resp.status);
    }
    r = req(e, FA_HTTP_POST, "/v1/matches");
    assert_int_equal(fa_api_route_find(r), 1);
    assert_int_equal(e->resp.status, 405);
    r = req(e, FA_HTTP_OPTIONS, "/v1/openapi.json");
    assert_int_equal(fa_api_route_find(r), 1);
    assert_int_equal(e->resp.status, 204);
}

static void expect_query(env *e, const char *target, int ok, const char *detail) {
    fa_api_req *r = req(e, FA_HTTP_GET, target);
    assert_int_equal(fa_api_route_find(r), 0);
    int rc = fa_api_query_check(r);
    if (ok) {
        if (rc) fail_msg("%s: refused: %s", target, e->resp.body.data);
        return;
    }
    assert_true(rc < 0);
    assert_int_equal(e->resp.status, 400);
    if (!strstr(e->resp.body.data, detail)) fail_msg("%s: %s lacks %s", target, e->resp.body.data, detail);
}

static void test_query_check(void **state) {
    env *e = *state;
    expect_query(e,
                 "/v1/matches?competition=a&season=b&team=c&from=2019-01-01&to=2019-02-01&cursor=x&limit=2",
                 1, NULL);
    expect_query(e, "/v1/matches?&&limit=2&", 1, NULL);
    expect_query(e, "/v1/matches?li%6dit=2", 1, NULL); /* an escaped key is still "limit" */
    expect_query(e, "/v1/matches?limit=2&li%6dit=3", 0, "parameter 'limit' is given more than once");
    expect_query(e, "/v1/matches?period=1", 0,
                 "unknown parameter 'period' (/v1/matches takes: competition, season");
    expect_query(e, "/v1/matches?%zz=1", 0, "parameter name '%zz' is malformed");
    expect_query(e, "/healthz?verbose", 0, "unknown parameter 'verbose': /healthz takes no query parameters");
    expect_query(e, "/v1/matches/1/tracking?period=1&from=0&to=1&rate=5", 1, NULL);
    expect_query(e, "/v1/matches/1/pitch-control?period=1&t=3&rate=5", 0, "unknown parameter 'rate'");
}

static void test_typed_params(void **state) {
    env *e = *state;
    int64_t i = 0;
    double d = 0;
    char date[11];
    fa_api_req *r = req(e, FA_HTTP_GET, "/v1/matches/1/events?period=%2B1");
    assert_int_equal(fa_api_route_find(r), 0);
    assert_true(fa_api_q_int(r, "period", 1, 5, &i) < 0); /* "+1": not how an integer is written here */
    r = req(e, FA_HTTP_GET, "/v1/matches/1/events?period=5&from=1.5&to=1e2");
    assert_int_equal(fa_api_route_find(r), 0);
    assert_int_equal(fa_api_q_int(r, "period", 1, 5, &i), 1);
    assert_int_equal(i, 5);
    assert_int_equal(fa_api_q_num(r, "from", 0, 10, NULL, &d), 1);
    assert_true(d == 1.5);
    assert_int_equal(fa_api_q_num(r, "to", 0, 1000, NULL, &d), 1);
    assert_true(d == 100);
    assert_int_equal(fa_api_q_int(r, "limit", 1, 5, &i), 0);
    r = req(e, FA_HTTP_GET, "/v1/matches?from=2020-02-29&to=2021-02-29");
    assert_int_equal(fa_api_route_find(r), 0);
    assert_int_equal(fa_api_q_date(r, "from", date), 1);
    assert_string_equal(date, "2020-02-29");
    assert_true(fa_api_q_date(r, "to", date) < 0);
    assert_non_null(
        strstr(e->resp.body.data, "parameter 'to': expected a calendar date YYYY-MM-DD, got '2021-02-29'"));
    r = req(e, FA_HTTP_GET, "/v1/matches?team=%C3%A9quipe&season=%01");
    assert_int_equal(fa_api_route_find(r), 0);
    char team[16];
    assert_int_equal(fa_api_q_str(r, "team", 15, team, sizeof team), 1);
    assert_string_equal(team, "\xc3\xa9quipe");
    assert_true(fa_api_q_str(r, "season", 15, team, sizeof team) < 0);
    assert_non_null(strstr(e->resp.body.data, "parameter 'season': control character at byte 0"));
}

static void test_cursor(void **state) {
    env *e = *state;
    char cursor[64], target[160];
    int64_t pos = -1;
    fa_api_cursor_make('e', 0xdeadbeef, 4026, cursor, sizeof cursor);
    for (const char *p = cursor; *p; p++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
    snprintf(target, sizeof target, "/v1/matches/1/events?cursor=%s", cursor);
    fa_api_req *r = req(e, FA_HTTP_GET, target);
    assert_int_equal(fa_api_route_find(r), 0);
    assert_int_equal(fa_api_q_cursor(r, 'e', 0xdeadbeef, &pos), 1);
    assert_int_equal(pos, 4026);
    assert_true(fa_api_q_cursor(r, 'e', 0xdeadbeee, &pos) < 0); /* another list's filters */
    assert_int_equal(e->resp.status, 400);
    r = req(e, FA_HTTP_GET, target);
    assert_int_equal(fa_api_route_find(r), 0);
    assert_true(fa_api_q_cursor(r, 'm', 0xdeadbeef, &pos) < 0); /* another kind of list */
    static const char *const bad[] = {"", "x", "%3D%3D%3D", "ZTEuZGVhZGJlZWYuLTE",
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(target, sizeof target, "/v1/matches/1/events?cursor=%s", bad[i]);
        r = req(e, FA_HTTP_GET, target);
        assert_int_equal(fa_api_route_find(r), 0);
        if (fa_api_q_cursor(r, 'e', 0xdeadbeef, &pos) >= 0) fail_msg("cursor '%s' accepted", bad[i]);
        assert_int_equal(e->resp.status, 400);
    }
}

static void test_etag_match(void **state) {
    (void)state;
    const char *tag = "\"0123456789abcdef\"";
    static const char *const yes[] = {"\"0123456789abcdef\"", "W/\"0123456789abcdef\"", "*",
                                      "\"x\", \"0123456789abcdef\"", " ,\t\"y\",W/\"0123456789abcdef\""};
    static const char *const no[] = {"",
                                     "\"0123456789abcde\"",
                                     "0123456789abcdef",
                                     "\"0123456789ABCDEF\"",
                                     "\"0123456789abcdef",
                                     "x, \"0123456789abcdef\"",
                                     "w/\"0123456789abcdef\""};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!fa_api_etag_match(yes[i], strlen(yes[i]), tag)) fail_msg("'%s' should match", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (fa_api_etag_match(no[i], strlen(no[i]), tag)) fail_msg("'%s' should not match", no[i]);
    /* FNV-1a 64 reference values */
    assert_true(fa_api_hash("", 0, FA_API_HASH_SEED) == 0xcbf29ce484222325ull);
    assert_true(fa_api_hash("a", 1, FA_API_HASH_SEED) == 0xaf63dc4c8601ec8cull);
}

static void test_tags(void **state) {
    env *e = *state;
    fa_api_req *r = req(e, FA_HTTP_GET, "/v1/matches");
    fa_api_tag(r, "competition", "Süper Lig / 2020", NULL);
    fa_api_tag(r, "team", "statsbomb", "FC Barcelona");
    fa_api_tag(r, "player", "", NULL); /* nothing left to name: skipped */
    fa_api_tag(r, "matches", NULL, NULL);
    assert_string_equal(r->tags, "competition-s-per-lig-2020 team-statsbomb-fc-barcelona matches");
    for (int i = 0; i < 20; i++) fa_api_tag(r, "player", "statsbomb", "1234567");
    assert_true(strlen(r->tags) < FA_API_TAGS_MAX);
    assert_int_equal(r->tags[strlen(r->tags) - 1], '7'); /* whole keys only */
}

static void test_json_writer(void **state) {
    (void)state;
    fa_buf b = {0};
    fa_jw w;
    fa_jw_init(&w, &b);
    fa_jw_obj(&w);
    fa_jw_key(&w, "a");
    fa_jw_arr(&w);
    fa_jw_int(&w, 1);
    fa_jw_num(&w, NAN);
    fa_jw_round(&w, -0.0001, 2);
    fa_jw_round(&w, 2.345678, 3);
    fa_jw_obj(&w);
    fa_jw_end_obj(&w);
    fa_jw_arr(&w);
    fa_jw_end_arr(&w);
    fa_jw_end_arr(&w);
    fa_jw_key(&w, "s\"");
    fa_jw_str(&w, "x\n\xff");
    fa_jw_key(&w, "n");
    fa_jw_str_or_null(&w, "");
    fa_jw_key(&w, "b");
    fa_jw_bool(&w, -1);
    fa_jw_key(&w, "r");
    fa_jw_raw(&w, "{\"k\":[1]}", 9);
    fa_jw_end_obj(&w);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.depth, 0);
    assert_string_equal(b.data,
                        "{\"a\":[1,null,0,2.346,{},[]],\"s\\\"\":\"x\\n\\ufffd\",\"n\":null,\"b\":null,"
                        "\"r\":{\"k\":[1]}}");
    fa_buf_free(&b);
    /* too deep: an error, never an overflow */
    fa_jw_init(&w, &b);
    for (int i = 0; i < 100; i++) fa_jw_arr(&w);
    assert_int_not_equal(w.err, 0);
    fa_buf_free(&b);
}

static void test_problem_without_store(void **state) {
    env *e = *state;
    fa_http_request http;
    memset(&http, 0, sizeof http);
    http.method = FA_HTTP_GET;
    http.method_text = (fa_strv){"GET", 3};
    http.target = http.path = (fa_strv){"/v1/matches/1", 13};
    http.query = (fa_strv){"", 0};
    fa_buf_free(&e->resp.body);
    memset(&e->resp, 0, sizeof e->resp);
    e->cb.handle(e->t, &http, &e->resp);
    assert_int_equal(e->resp.status, 503);
    assert_string_equal(e->resp.content_type, "application/problem+json");
    assert_null(strstr(e->resp.body.data, "nonexistent")); /* the database path is not told to clients */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_matching), cmocka_unit_test(test_query_check),
        cmocka_unit_test(test_typed_params),   cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_etag_match),     cmocka_unit_test(test_tags),
        cmocka_unit_test(test_json_writer),    cmocka_unit_test(test_problem_without_store),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
