/*
 * test_handlers.c - the API application (router, handlers, problems, HTTP
 * caching, OpenAPI document) driven directly through its callbacks, with
 * no sockets: each request is built from "METHOD /target" text and given to
 * handle() on a thread state made by thread_init.
 *
 * The database is made by the real CLI from real data: StatsBomb 15986
 * (Barcelona 2-2 Girona, 4027 events, no tracking), Metrica's EPTS excerpt
 * (100 frames at 25 Hz, periods 1 and 2, no events) and the Last-Row clip.
 * Figures asserted come from shared/data/reference (768 Barcelona passes,
 * 27 shots of which 11 in period 1, Messi's 77 passes) and from the files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "testutil.h"

#include "api/api.h"
#include "api/app_internal.h"
#include "api/security.h"
#include "cache/cache.h"
#include "core/core.h"

typedef struct fixture {
    char *dir;
    char db[4200];
    fa_api_app *app, *settled;
    fa_api_callbacks cb, cb_settled;
    fa_api_thread *t, *t_settled;
    fa_arena *arena;
} fixture;

/* ------------------------------------------------------------ requests */

typedef struct request {
    fa_http_request req;
    char text[4096];
    char path[2048];
    char headers[8][256];
} request;

static int hexv(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static fa_http_method method_of(const char *m) {
    static const struct {
        const char *name;
        fa_http_method m;
    } ms[] = {{"GET", FA_HTTP_GET}, {"HEAD", FA_HTTP_HEAD},     {"POST", FA_HTTP_POST},
              {"PUT", FA_HTTP_PUT}, {"DELETE", FA_HTTP_DELETE}, {"OPTIONS", FA_HTTP_OPTIONS}};
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
        if (strcmp(ms[i].name, m) == 0) return ms[i].m;
    return FA_HTTP_OTHER;
}

/* Builds a request from "METHOD /path?query" and "Name: value" header lines (NULL-terminated). */
static void build(request *rq, const char *line, const char *const *headers) {
    memset(rq, 0, sizeof *rq);
    snprintf(rq->text, sizeof rq->text, "%s", line);
    char *sp = strchr(rq->text, ' ');
    assert_non_null(sp);
    *sp = '\0';
    const char *target = sp + 1;
    fa_http_request *r = &rq->req;
    r->method = method_of(rq->text);
    r->method_text = (fa_strv){rq->text, strlen(rq->text)};
    r->target = (fa_strv){target, strlen(target)};
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target), o = 0;
    for (size_t i = 0; i < plen; i++) {
        if (target[i] == '%' && i + 2 < plen + 1 && hexv(target[i + 1]) >= 0 && hexv(target[i + 2]) >= 0) {
            rq->path[o++] = (char)(hexv(target[i + 1]) * 16 + hexv(target[i + 2]));
            i += 2;
        } else {
            rq->path[o++] = target[i];
        }
    }
    r->path = (fa_strv){rq->path, o};
    r->query = q ? (fa_strv){q + 1, strlen(q + 1)} : (fa_strv){"", 0};
    r->minor = 1;
    r->keep_alive = 1;
    for (size_t i = 0; headers && headers[i]; i++) {
        snprintf(rq->headers[i], sizeof rq->headers[i], "%s", headers[i]);
        char *colon = strchr(rq->headers[i], ':');
        assert_non_null(colon);
        const char *v = colon + 1;
        while (*v == ' ') v++;
        r->headers[i].name = (fa_strv){rq->headers[i], (size_t)(colon - rq->headers[i])};
        r->headers[i].value = (fa_strv){v, strlen(v)};
        r->nheaders++;
    }
    r->body = (fa_strv){"", 0};
    r->id = 7;
    snprintf(r->peer, sizeof r->peer, "192.0.2.1");
    r->version = 1;
}

typedef struct response {
    fa_http_response resp;
    char *body; /* NUL-terminated copy (body or body_ref) */
    size_t len;
} response;

static void response_free(response *r) {
    fa_buf_free(&r->resp.body);
    if (r->resp.body_ref && r->resp.release) r->resp.release(r->resp.release_ud);
    free(r->body);
    r->body = NULL;
}

static void call_on(const fa_api_callbacks *cb, fa_api_thread *t, response *out, const char *line,
                    const char *const *headers) {
    request rq;
    build(&rq, line, headers);
    memset(out, 0, sizeof *out);
    out->resp.status = 200;
    cb->handle(t, &rq.req, &out->resp);
    const char *p = out->resp.body_ref ? out->resp.body_ref : out->resp.body.data;
    out->len = out->resp.body_ref ? out->resp.body_ref_len : out->resp.body.len;
    out->body = malloc(out->len + 1);
    memcpy(out->body, p ? p : "", p ? out->len : 0);
    out->body[out->len] = '\0';
}

static void call(fixture *f, response *out, const char *line) { call_on(&f->cb, f->t, out, line, NULL); }

static const char *header(const response *r, const char *name) {
    for (size_t i = 0; i < r->resp.nheaders; i++)
        if (strcasecmp(r->resp.headers[i][0], name) == 0) return r->resp.headers[i][1];
    return NULL;
}

static const fa_json_value *parse(fixture *f, const response *r) {
    fa_json_value *v = NULL;
    if (fa_json_parse("body", r->body, r->len, f->arena, &v))
        fail_msg("body does not parse: %s\n%.500s", fa_err_msg(), r->body);
    return v;
}

/* A 200 JSON response's parsed body (fails the test otherwise). */
static const fa_json_value *get_ok(fixture *f, response *r, const char *line) {
    call(f, r, line);
    if (r->resp.status != 200) fail_msg("%s: status %d: %s", line, r->resp.status, r->body);
    assert_string_equal(r->resp.content_type, "application/json");
    return parse(f, r);
}

/* Expects a problem with this status; its detail contains `detail` when given. */
static void expect_problem(fixture *f, const char *line, int status, const char *detail) {
    response r;
    call(f, &r, line);
    if (r.resp.status != status) fail_msg("%s: status %d, want %d: %s", line, r.resp.status, status, r.body);
    assert_string_equal(r.resp.content_type, "application/problem+json");
    const fa_json_value *v = parse(f, &r);
    const fa_json_value *type = fa_json_get(v, "type"), *title = fa_json_get(v, "title");
    const fa_json_value *st = fa_json_get(v, "status"), *det = fa_json_get(v, "detail");
    const fa_json_value *inst = fa_json_get(v, "instance");
    assert_true(type && type->type == FA_JSON_STRING &&
                strncmp(type->u.str.ptr, "urn:footanalytics:problem:", 26) == 0);
    assert_true(title && title->type == FA_JSON_STRING && title->u.str.len > 0);
    assert_true(st && st->type == FA_JSON_NUMBER && st->u.num == status);
    assert_true(det && det->type == FA_JSON_STRING);
    assert_true(inst && inst->type == FA_JSON_STRING);
    if (detail && !strstr(det->u.str.ptr, detail))
        fail_msg("%s: detail '%s' lacks '%s'", line, det->u.str.ptr, detail);
    assert_string_equal(header(&r, "Cache-Control"), "no-store");
    response_free(&r);
}

static double num(const fa_json_value *v, const char *key) {
    const fa_json_value *x = fa_json_get(v, key);
    if (!x || x->type != FA_JSON_NUMBER) fail_msg("'%s': not a number", key);
    return x->u.num;
}

static const char *str(const fa_json_value *v, const char *key) {
    const fa_json_value *x = fa_json_get(v, key);
    if (!x || x->type != FA_JSON_STRING) fail_msg("'%s': not a string", key);
    return x->u.str.ptr;
}

static const fa_json_value *arr(const fa_json_value *v, const char *key) {
    const fa_json_value *x = fa_json_get(v, key);
    if (!x || x->type != FA_JSON_ARRAY) fail_msg("'%s': not an array", key);
    return x;
}

/* ------------------------------------------------------------ fixture */

static int setup(void **state) {
    const char *sb = fa_test_data("events/statsbomb/15986_event.json");
    const char *epts = fa_test_data("tracking/metrica/epts_excerpt_metadata.xml");
    const char *lr = fa_test_data("tracking/lastrow/LIV_2-1_CHE.csv");
    *state = NULL;
    if (!fa_test_file_exists(sb) || !fa_test_file_exists(epts) || !fa_test_file_exists(lr)) return 0;
    fixture *f = calloc(1, sizeof *f);
    f->dir = fa_test_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/fa.db", f->dir);
    char args[16384], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "import --quiet --db '%s' '%s' '%s' '%s'", f->db, sb, epts, lr);
    int st = fa_test_run_cli(args, &out, &err);
    if (st != 0) fail_msg("import: exit %d: %s", st, err);
    free(out);
    free(err);
    f->app = fa_api_app_new(f->db, NULL);
    fa_api_app_config c;
    fa_api_app_config_default(&c);
    c.settle_s = 0; /* every match counts as settled */
    f->settled = fa_api_app_new(f->db, &c);
    assert_non_null(f->app);
    assert_non_null(f->settled);
    f->cb = fa_api_app_callbacks(f->app);
    f->cb_settled = fa_api_app_callbacks(f->settled);
    f->t = f->cb.thread_init(f->cb.ud, 0, NULL);
    f->t_settled = f->cb_settled.thread_init(f->cb_settled.ud, 1, NULL);
    assert_non_null(f->t);
    assert_non_null(f->t_settled);
    f->arena = fa_arena_new(1 << 20);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!f) return 0;
    f->cb.thread_free(f->t);
    f->cb_settled.thread_free(f->t_settled);
    fa_api_app_free(f->app);
    fa_api_app_free(f->settled);
    fa_arena_free(f->arena);
    fa_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static fixture *need(void **state) {
    if (!*state) {
        print_message("SKIP: shared data not found\n");
        skip();
    }
    fixture *f = *state;
    fa_arena_reset(f->arena);
    return f;
}

/* ------------------------------------------------------------ matches */

static void test_matches_list(void **state) {
    fixture *f = need(state);
    response r;
    const fa_json_value *v = get_ok(f, &r, "GET /v1/matches");
    const fa_json_value *data = arr(v, "data");
    assert_int_equal(data->u.arr.n, 3);
    assert_int_equal(fa_json_get(v, "next_cursor")->type, FA_JSON_NULL);
    const fa_json_value *m0 = data->u.arr.items[0];
    assert_string_equal(str(m0, "ref"), "statsbomb:15986");
    assert_int_equal((int)num(m0, "events"), 4027);
    assert_string_equal(str(fa_json_get(m0, "home"), "name"), "Barcelona");
    assert_int_equal((int)num(fa_json_get(m0, "home"), "score"), 2);
    assert_int_equal((int)num(data->u.arr.items[1], "frames"), 100);
    assert_non_null(strstr(header(&r, "Cache-Control"), "max-age=5,"));
    assert_non_null(strstr(header(&r, "Surrogate-Key"), "matches"));
    response_free(&r);

    /* two pages of 2 and 1 */
    v = get_ok(f, &r, "GET /v1/matches?limit=2");
    assert_int_equal(arr(v, "data")->u.arr.n, 2);
    char line[256];
    snprintf(line, sizeof line, "GET /v1/matches?limit=2&cursor=%s", str(v, "next_cursor"));
    response_free(&r);
    v = get_ok(f, &r, line);
    assert_int_equal(arr(v, "data")->u.arr.n, 1);
    assert_string_equal(str(arr(v, "data")->u.arr.items[0], "ref"), "lastrow:LIV_2-1_CHE");
    assert_int_equal(fa_json_get(v, "next_cursor")->type, FA_JSON_NULL);
    response_free(&r);

    v = get_ok(f, &r, "GET /v1/matches?team=Barcelona");
    assert_int_equal(arr(v, "data")->u.arr.n, 1);
    response_free(&r);
    v = get_ok(f, &r, "GET /v1/matches?team=211"); /* Girona's provider id */
    assert_int_equal(arr(v, "data")->u.arr.n, 1);
    response_free(&r);
    v = get_ok(f, &r, "GET /v1/matches?competition=Serie%20A");
    assert_int_equal(arr(v, "data")->u.arr.n, 0);
    response_free(&r);
    v = get_ok(f, &r, "GET /v1/matches?from=2018-01-01&to=2018-12-31"); /* these files carry no dates */
    assert_int_equal(arr(v, "data")->u.arr.n, 0);
    response_free(&r);

    expect_problem(f, "GET /v1/matches?from=2019-01-02&to=2019-01-01", 400,
                   "parameter 'from' (2019-01-02) is after parameter 'to' (2019-01-01)");
    expect_problem(f, "GET /v1/matches?from=2019-02-29", 400,
                   "parameter 'from': expected a calendar date YYYY-MM-DD, got '2019-02-29'");
    expect_problem(f, "GET /v1/matches?limit=0", 400,
                   "parameter 'limit': expected an integer 1..200, got '0'");
    expect_problem(f, "GET /v1/matches?limit=201", 400,
                   "parameter 'limit': expected an integer 1..200, got '201'");
    expect_problem(f, "GET /v1/matches?cursor=%21%21", 400,
                   "parameter 'cursor': expected a next_cursor value");
    expect_problem(f, "GET /v1/matches?team=", 400, "parameter 'team': expected a non-empty value, got ''");
    expect_problem(f, "GET /v1/matches?competiton=x", 400,
                   "unknown parameter 'competiton' (/v1/matches takes: ");
    expect_problem(f, "GET /v1/matches?limit=1&limit=2", 400, "parameter 'limit' is given more than once");
    expect_problem(f, "GET /v1/matches?team=%zz", 400, "bad percent-escape");
    expect_problem(f, "GET /v1/matches?team=a%00b", 400, "NUL");
}

static void test_match(void **state) {
    fixture *f = need(state);
    response a, b;
    const fa_json_value *v = get_ok(f, &a, "GET /v1/matches/1");
    assert_string_equal(str(v, "ref"), "statsbomb:15986");
    assert_string_equal(str(v, "provider"), "statsbomb");
    assert_int_equal((int)num(v, "events"), 4027);
    assert_int_equal((int)num(v, "players"), 36);
    assert_int_equal(fa_json_get(v, "frame_rate")->type, FA_JSON_NULL);
    assert_string_equal(str(fa_json_get(v, "away"), "name"), "Girona");
    get_ok(f, &b, "GET /v1/matches/statsbomb:15986");
    assert_string_equal(a.body, b.body);
    assert_string_equal(header(&a, "ETag"), header(&b, "ETag"));
    response_free(&a);
    response_free(&b);

    expect_problem(f, "GET /v1/matches/999", 404, "match '999' is not in the database");
    expect_problem(f, "GET /v1/matches/statsbomb:1", 404, "match 'statsbomb:1' is not in the database");
    expect_problem(f, "GET /v1/matches/abc", 400,
                   "path parameter 'id': expected a store id (a positive integer, e.g. 42) or provider:id");
    expect_problem(f, "GET /v1/matches/0", 400, "got '0'");
    expect_problem(f, "GET /v1/matches/-1", 400, "got '-1'");
    expect_problem(f, "GET /v1/matches/99999999999999999999", 400, "path parameter 'id'");
    expect_problem(f, "GET /v1/matches/nosuch:1", 400, "got 'nosuch:1'");
    expect_problem(f, "GET /v1/matches/1%00", 400, "path parameter 'id'");
    expect_problem(f, "GET /v1/matches/1?x=1", 400, "unknown parameter 'x': /v1/matches/{id} takes no query");
}

/* ------------------------------------------------------------ events */

static int count_data(fixture *f, const char *line) {
    response r;
    const fa_json_value *v = get_ok(f, &r, line);
    int n = (int)arr(v, "data")->u.arr.n;
    response_free(&r);
    return n;
}

static void test_events_filters(void **state) {
    fixture *f = need(state);
    assert_int_equal(count_data(f, "GET /v1/matches/1/events?type=shot&period=1&limit=200"), 11);
    assert_int_equal(count_data(f, "GET /v1/matches/1/events?type=shot&limit=200"), 27);
    assert_int_equal(count_data(f, "GET /v1/matches/1/events?type=Shot&period=2&limit=200"), 16);
    assert_int_equal(count_data(f, "GET /v1/matches/1/events?type=Ball%20Receipt*&limit=200&period=5"), 0);
    assert_int_equal(count_data(f, "GET /v1/matches/1/events?type=Half%20Start"), 4);
    assert_int_equal(count_data(f, "GET /v1/matches/1/events?type=shot&player=5503&limit=200"), 6);
    assert_int_equal(count_data(f, "GET /v1/matches/1/events?player=nobody"), 0);
    assert_int_equal(count_data(f, "GET /v1/matches/2/events"), 0);

    /* a time range within period 1, checked event by event */
    response r;
    const fa_json_value *v =
        get_ok(f, &r, "GET /v1/matches/statsbomb:15986/events?period=1&from=60&to=120&limit=200");
    const fa_json_value *data = arr(v, "data");
    assert_true(data->u.arr.n > 10);
    for (size_t i = 0; i < data->u.arr.n; i++) {
        const fa_json_value *e = data->u.arr.items[i];
        assert_int_equal((int)num(e, "period"), 1);
        assert_true(num(e, "t") >= 60 && num(e, "t") <= 120);
        if (i) assert_true(num(e, "seq") > num(data->u.arr.items[i - 1], "seq"));
    }
    assert_int_equal((int)num(fa_json_get(v, "match"), "id"), 1);
    response_free(&r);

    v = get_ok(f, &r, "GET /v1/matches/1/events?type=shot&period=1&limit=1");
    const fa_json_value *shot = arr(v, "data")->u.arr.items[0];
    assert_string_equal(str(shot, "kind"), "shot");
    assert_string_equal(str(shot, "type"), "Shot");
    /* the first shot: Girona's at 285.973 s, xG 0.0885 */
    assert_string_equal(str(shot, "side"), "away");
    assert_int_equal((int)num(shot, "seq"), 275);
    assert_true(fabs(num(shot, "t") - 285.973) < 1e-9);
    assert_int_equal(fa_json_get(shot, "goal")->type, FA_JSON_FALSE);
    assert_true(fabs(num(shot, "xg") - 0.088489294) < 1e-9);
    assert_int_equal(fa_json_get(v, "next_cursor")->type, FA_JSON_STRING);
    response_free(&r);

    expect_problem(f, "GET /v1/matches/1/events?period=x", 400,
                   "parameter 'period': expected an integer 1..5, got 'x'");
    expect_problem(f, "GET /v1/matches/1/events?period=6", 400,
                   "parameter 'period': expected an integer 1..5, got '6'");
    expect_problem(f, "GET /v1/matches/1/events?period=0", 400, "got '0'");
    expect_problem(f, "GET /v1/matches/1/events?from=120&to=60", 400,
                   "parameter 'from' (120 s) is after parameter 'to' (60 s)");
    expect_problem(f, "GET /v1/matches/1/events?from=-1", 400, "parameter 'from': expected seconds");
    expect_problem(f, "GET /v1/matches/1/events?to=nan", 400, "parameter 'to'");
    expect_problem(f, "GET /v1/matches/1/events?limit=0", 400,
                   "parameter 'limit': expected an integer 1..200, got '0'");
    expect_problem(f, "GET /v1/matches/1/events?limit=201", 400, "got '201'");
    expect_problem(f, "GET /v1/matches/1/events?cursor=bm9wZQ", 400,
                   "parameter 'cursor': expected a next_cursor");
    expect_problem(f, "GET /v1/matches/1/events?player=a%20b", 400,
                   "parameter 'player': expected a player id");
    expect_problem(f, "GET /v1/matches/1/events?type=0123456789012345678901234567890123456789012345678", 400,
                   "parameter 'type': expected at most 47 bytes");
    expect_problem(f, "GET /v1/matches/999/events", 404, "match '999'");
    expect_problem(f, "GET /v1/matches/x/events", 400, "path parameter 'id'");
}

static void test_events_pagination(void **state) {
    fixture *f = need(state);
    static char seen[4027];
    memset(seen, 0, sizeof seen);
    char line[512] = "GET /v1/matches/1/events?limit=200";
    int pages = 0, total = 0;
    char first_cursor[128] = "";
    for (;;) {
        response r;
        fa_arena_reset(f->arena);
        const fa_json_value *v = get_ok(f, &r, line);
        const fa_json_value *data = arr(v, "data");
        for (size_t i = 0; i < data->u.arr.n; i++) {
            int seq = (int)num(data->u.arr.items[i], "seq");
            assert_true(seq >= 0 && seq < 4027);
            assert_int_equal(seen[seq], 0);
            seen[seq] = 1;
            total++;
        }
        pages++;
        const fa_json_value *next = fa_json_get(v, "next_cursor");
        if (next->type == FA_JSON_NULL) {
            response_free(&r);
            break;
        }
        if (!first_cursor[0]) snprintf(first_cursor, sizeof first_cursor, "%s", next->u.str.ptr);
        assert_int_equal(data->u.arr.n, 200);
        snprintf(line, sizeof line, "GET /v1/matches/1/events?limit=200&cursor=%s", next->u.str.ptr);
        response_free(&r);
        assert_true(pages < 100);
    }
    assert_int_equal(total, 4027);
    assert_int_equal(pages, 21);
    /* a cursor only works with the filters it was made for */
    snprintf(line, sizeof line, "GET /v1/matches/1/events?period=1&cursor=%s", first_cursor);
    expect_problem(f, line, 400, "parameter 'cursor': it belongs to the same list with other filters");
    snprintf(line, sizeof line, "GET /v1/matches/3/events?cursor=%s", first_cursor);
    expect_problem(f, line, 400, "parameter 'cursor'");
    snprintf(line, sizeof line, "GET /v1/matches?cursor=%s", first_cursor);
    expect_problem(f, line, 400, "parameter 'cursor': expected a next_cursor value");
}

/* ------------------------------------------------------------ players, stats */

static const fa_json_value *find_id(const fa_json_value *list, const char *id) {
    for (size_t i = 0; i < list->u.arr.n; i++) {
        const fa_json_value *x = fa_json_get(list->u.arr.items[i], "id");
        if (x && x->type == FA_JSON_STRING && strcmp(x->u.str.ptr, id) == 0) return list->u.arr.items[i];
    }
    fail_msg("no item with id '%s'", id);
    return NULL;
}

static void test_players(void **state) {
    fixture *f = need(state);
    response r;
    const fa_json_value *v = get_ok(f, &r, "GET /v1/matches/1/players");
    const fa_json_value *data = arr(v, "data");
    assert_int_equal(data->u.arr.n, 36);
    const fa_json_value *messi = find_id(data, "5503");
    assert_string_equal(str(messi, "name"), "Lionel Andrés Messi Cuccittini");
    assert_string_equal(str(messi, "side"), "home");
    assert_int_equal((int)num(fa_json_get(messi, "metrics"), "passes"), 77);
    assert_int_equal((int)num(fa_json_get(messi, "metrics"), "shots"), 6);
    assert_int_equal(fa_json_get(messi, "starter")->type, FA_JSON_TRUE);
    response_free(&r);

    v = get_ok(f, &r, "GET /v1/matches/statsbomb:15986/players/5503");
    assert_int_equal((int)num(fa_json_get(fa_json_get(v, "player"), "metrics"), "passes_completed"), 63);
    assert_non_null(strstr(header(&r, "Surrogate-Key"), "player-5503"));
    response_free(&r);

    v = get_ok(f, &r, "GET /v1/matches/2/players");
    assert_int_equal(arr(v, "data")->u.arr.n, 22);
    const fa_json_value *t1 = find_id(arr(v, "data"), "Track_1");
    assert_true(num(fa_json_get(t1, "metrics"), "distance_m") > 0);
    response_free(&r);

    expect_problem(f, "GET /v1/matches/1/players/nobody", 404,
                   "player 'nobody' is not in the roster of match 'statsbomb:15986'");
    expect_problem(f, "GET /v1/matches/1/players/a%20b", 400,
                   "path parameter 'player': expected a player id");
    expect_problem(f, "GET /v1/matches/9/players", 404, "match '9'");
}

static void test_stats(void **state) {
    fixture *f = need(state);
    response r;
    const fa_json_value *v = get_ok(f, &r, "GET /v1/matches/1/stats");
    const fa_json_value *home = fa_json_get(fa_json_get(v, "teams"), "home");
    const fa_json_value *away = fa_json_get(fa_json_get(v, "teams"), "away");
    assert_string_equal(str(home, "name"), "Barcelona");
    assert_int_equal((int)num(fa_json_get(home, "metrics"), "passes"), 768);
    assert_int_equal((int)num(fa_json_get(home, "metrics"), "passes_completed"), 701);
    assert_int_equal((int)num(fa_json_get(home, "metrics"), "shots"), 20);
    assert_int_equal((int)num(fa_json_get(away, "metrics"), "passes"), 380);
    assert_int_equal((int)num(fa_json_get(away, "metrics"), "shots"), 7);
    assert_true(fabs(num(fa_json_get(home, "metrics"), "xg") - 1.3065) < 5e-4);
    const fa_json_value *defs = fa_json_get(v, "definitions");
    assert_true(defs && defs->type == FA_JSON_OBJECT && fa_json_get(defs, "config"));
    response_free(&r);

    v = get_ok(f, &r, "GET /v1/matches/2/stats");
    assert_true(num(fa_json_get(fa_json_get(v, "ball"), "metrics"), "ball_distance_m") > 0);
    assert_true(num(fa_json_get(fa_json_get(fa_json_get(v, "teams"), "home"), "metrics"), "distance_m") > 0);
    response_free(&r);
}

/* ------------------------------------------------------------ heatmaps, passes, possession */

static void test_heatmaps(void **state) {
    fixture *f = need(state);
    response r;
    const fa_json_value *v = get_ok(f, &r, "GET /v1/matches/2/heatmaps");
    const fa_json_value *data = arr(v, "data");
    assert_int_equal(data->u.arr.n, 21); /* 19 tracked players and 2 teams */
    for (size_t i = 0; i < data->u.arr.n; i++) {
        const fa_json_value *g = data->u.arr.items[i];
        assert_int_equal((int)num(g, "nx"), 21);
        assert_int_equal((int)num(g, "ny"), 14);
        const fa_json_value *cells = arr(g, "cells");
        assert_int_equal(cells->u.arr.n, 14);
        double total = 0;
        for (size_t j = 0; j < 14; j++) {
            assert_int_equal(cells->u.arr.items[j]->u.arr.n, 21);
            for (size_t k = 0; k < 21; k++) {
                double c = cells->u.arr.items[j]->u.arr.items[k]->u.num;
                assert_true(c >= 0);
                total += c;
            }
        }
        assert_true(total > 0);
    }
    response_free(&r);
    v = get_ok(f, &r, "GET /v1/matches/2/heatmaps?player=Track_1");
    assert_int_equal(arr(v, "data")->u.arr.n, 1);
    assert_string_equal(str(arr(v, "data")->u.arr.items[0], "player"), "Track_1");
    response_free(&r);
    assert_int_equal(count_data(f, "GET /v1/matches/1/heatmaps"), 0);
    expect_problem(f, "GET /v1/matches/2/heatmaps?player=nobody", 404,
                   "player 'nobody' is not in the roster");
    expect_problem(f, "GET /v1/matches/2/heatmaps?side=home", 400, "unknown parameter 'side'");
}

static void test_pass_network(void **state) {
    fixture *f = need(state);
    response r;
    const fa_json_value *v = get_ok(f, &r, "GET /v1/matches/1/pass-network?side=away");
    assert_int_equal(arr(v, "data")->u.arr.n, 1);
    const fa_json_value *net = arr(v, "data")->u.arr.items[0];
    assert_string_equal(str(net, "side"), "away");
    assert_true(arr(net, "nodes")->u.arr.n >= 11);
    response_free(&r);
    v = get_ok(f, &r, "GET /v1/matches/1/pass-network");
    assert_int_equal(arr(v, "data")->u.arr.n, 2);
    assert_string_equal(str(arr(v, "data")->u.arr.items[0], "side"), "home");
    response_free(&r);
    expect_problem(f, "GET /v1/matches/1/pass-network?side=left", 400,
                   "parameter 'side': expected 'home' or 'away', got 'left'");
    expect_problem(f, "GET /v1/matches/2/pass-network?side=home", 404, "has no home pass network");
}

static void test_possession(void **state) {
    fixture *f = need(state);
    response r;
    const fa_json_value *v = get_ok(f, &r, "GET /v1/matches/1/possession");
    const fa_json_value *ev = fa_json_get(fa_json_get(v, "timeline"), "events");
    assert_non_null(ev);
    const fa_json_value *share = arr(ev, "share");
    assert_true(fabs(share->u.arr.items[0]->u.num - 0.6625) < 1e-3);
    assert_true(arr(ev, "windows")->u.arr.n >= 18);
    response_free(&r);
}

/* ------------------------------------------------------------ tracking, pitch control */

static void test_tracking(void **state) {
    fixture *f = need(state);
    response r;
    /* period 1 of the excerpt: 50 frames at 25 Hz, t = 0 .. 1.96 */
    const fa_json_value *v = get_ok(f, &r, "GET /v1/matches/2/tracking?period=1&from=0&to=1.96&rate=5");
    const fa_json_value *frames = arr(v, "frames");
    assert_int_equal(frames->u.arr.n, 10);
    assert_int_equal((int)num(v, "count"), 10);
    for (size_t i = 0; i < frames->u.arr.n; i++) {
        double t = num(frames->u.arr.items[i], "t");
        assert_true(fabs(t - 0.2 * (double)i) < 0.021);
        assert_int_equal(arr(frames->u.arr.items[i], "players")->u.arr.n > 10, 1);
    }
    response_free(&r);
    v = get_ok(f, &r, "GET /v1/matches/2/tracking?period=1");
    assert_int_equal((int)num(v, "count"), 50);
    assert_int_equal((int)num(v, "rate"), 25);
    assert_int_equal((int)num(v, "to"), 600);
    response_free(&r);
    v = get_ok(f, &r, "GET /v1/matches/2/tracking?period=1&from=1&to=1.5&rate=10");
    assert_int_equal((int)num(v, "count"), 6); /* 1.0, 1.1, ..., 1.5 */
    response_free(&r);
    /* Last-Row: 195 frames at 20 Hz, t = 0 .. 9.7 s; targets 0, 1, ..., 10 s: the 9.7 s frame is the
     * nearest to 10 s within half a step, nothing is near 11 s */
    v = get_ok(f, &r, "GET /v1/matches/3/tracking?rate=1");
    assert_int_equal((int)num(v, "count"), 11);
    assert_true(fabs(num(arr(v, "frames")->u.arr.items[10], "t") - 9.7) < 1e-9);
    response_free(&r);

    expect_problem(
        f, "GET /v1/matches/2/tracking?rate=0", 400,
        "parameter 'rate': expected a rate in frames per second, > 0 and at most the match's 25, got '0'");
    expect_problem(f, "GET /v1/matches/2/tracking?rate=30", 400, "got '30'");
    expect_problem(f, "GET /v1/matches/2/tracking?from=0&to=601", 400, "a request covers at most 600 s");
    expect_problem(f, "GET /v1/matches/2/tracking?from=100&to=700.5", 400, "spans 600.5 s");
    expect_problem(f, "GET /v1/matches/2/tracking?from=5&to=1", 400,
                   "parameter 'from' (5 s) is after parameter 'to' (1 s)");
    expect_problem(f, "GET /v1/matches/2/tracking?period=9", 400,
                   "parameter 'period': expected an integer 1..5, got '9'");
    expect_problem(f, "GET /v1/matches/1/tracking", 404, "match 'statsbomb:15986' has no tracking data");
}

static void test_pitch_control(void **state) {
    fixture *f = need(state);
    response r;
    const fa_json_value *v = get_ok(f, &r, "GET /v1/matches/2/pitch-control?period=1&t=1");
    assert_int_equal((int)num(v, "nx"), 50);
    assert_int_equal((int)num(v, "ny"), 32);
    assert_true(fabs(num(fa_json_get(v, "frame"), "t") - 1.0) < 0.021);
    const fa_json_value *home = arr(v, "home"), *away = arr(v, "away");
    assert_int_equal(home->u.arr.n, 32);
    assert_int_equal(away->u.arr.n, 32);
    double sum_home = 0;
    for (size_t j = 0; j < 32; j++) {
        assert_int_equal(home->u.arr.items[j]->u.arr.n, 50);
        assert_int_equal(away->u.arr.items[j]->u.arr.n, 50);
        for (size_t i = 0; i < 50; i++) {
            double h = home->u.arr.items[j]->u.arr.items[i]->u.num,
                   a = away->u.arr.items[j]->u.arr.items[i]->u.num;
            assert_true(h >= 0 && h <= 1 && a >= 0 && a <= 1);
            assert_true(h + a <= 1.0 + 2e-4);
            sum_home += h;
        }
    }
    /* both teams control part of the pitch */
    assert_true(sum_home > 50 && sum_home < 1550);
    response_free(&r);
    expect_problem(f, "GET /v1/matches/2/pitch-control?period=1", 400, "parameter 't' is required");
    expect_problem(f, "GET /v1/matches/2/pitch-control?t=abc", 400, "parameter 't': expected seconds");
    expect_problem(f, "GET /v1/matches/2/pitch-control?period=1&t=500", 404,
                   "no frame with the ball within 1 s of t=500");
    expect_problem(f, "GET /v1/matches/1/pitch-control?t=1", 404, "has no tracking data");
}

/* ------------------------------------------------------------ season, health, obs */

static void test_season(void **state) {
    fixture *f = need(state);
    response r;
    const fa_json_value *v = get_ok(f, &r, "GET /v1/players/5503/season?metric=passes,shots,distance_m");
    const fa_json_value *m = fa_json_get(v, "metrics");
    assert_int_equal((int)num(fa_json_get(m, "passes"), "sum"), 77);
    assert_int_equal((int)num(fa_json_get(m, "passes"), "matches"), 1);
    assert_int_equal((int)num(fa_json_get(m, "shots"), "sum"), 6);
    assert_int_equal(fa_json_get(fa_json_get(m, "distance_m"), "sum")->type, FA_JSON_NULL);
    assert_non_null(strstr(header(&r, "Cache-Control"), "max-age=5,"));
    response_free(&r);
    v = get_ok(f, &r, "GET /v1/players/statsbomb:5503/season");
    assert_int_equal((int)num(fa_json_get(fa_json_get(v, "metrics"), "goals"), "sum"), 1);
    response_free(&r);
    expect_problem(f, "GET /v1/players/5503/season?metric=Passes", 400,
                   "parameter 'metric': expected a comma-separated");
    expect_problem(f, "GET /v1/players/5503/season?metric=passes,,shots", 400, "an empty name");
    expect_problem(f, "GET /v1/players/5503/season?metric=passes,passes", 400, "'passes' is listed twice");
    expect_problem(f, "GET /v1/players/nobody/season", 404, "player 'nobody'");
}

static void test_health(void **state) {
    fixture *f = need(state);
    response r;
    call(f, &r, "GET /healthz");
    assert_int_equal(r.resp.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    assert_string_equal(header(&r, "Cache-Control"), "no-store");
    assert_null(header(&r, "ETag"));
    response_free(&r);
    const fa_json_value *v = get_ok(f, &r, "GET /readyz");
    assert_string_equal(str(v, "status"), "ready");
    assert_true(num(v, "schema_version") >= 1);
    response_free(&r);

    /* no database: alive, not ready; data routes answer 503 */
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/none.db", f->dir);
    fa_api_app *app = fa_api_app_new(missing, NULL);
    fa_api_callbacks cb = fa_api_app_callbacks(app);
    fa_api_thread *t = cb.thread_init(cb.ud, 0, NULL);
    assert_non_null(t);
    call_on(&cb, t, &r, "GET /healthz", NULL);
    assert_int_equal(r.resp.status, 200);
    response_free(&r);
    call_on(&cb, t, &r, "GET /readyz", NULL);
    assert_int_equal(r.resp.status, 503);
    assert_string_equal(r.resp.content_type, "application/problem+json");
    assert_null(strstr(r.body, missing)); /* no paths in answers */
    response_free(&r);
    call_on(&cb, t, &r, "GET /v1/matches", NULL);
    assert_int_equal(r.resp.status, 503);
    response_free(&r);
    cb.thread_free(t);
    fa_api_app_free(app);
    assert_null(fa_api_app_new("", NULL));

    expect_problem(f, "GET /metrics", 503, "/metrics is not available yet");
    expect_problem(f, "GET /v1/alerts", 503, "/v1/alerts is not available yet");
}

/* ------------------------------------------------------------ router */

/* Replaces the first occurrence of from in s (room for the result assumed) by to. */
static void replace(char *s, const char *from, const char *to) {
    char *p = strstr(s, from);
    if (!p) return;
    size_t nf = strlen(from), nt = strlen(to);
    memmove(p + nt, p + nf, strlen(p + nf) + 1);
    memcpy(p, to, nt);
}

static void test_router(void **state) {
    fixture *f = need(state);
    expect_problem(f, "GET /v1/nope", 404, "no resource at '/v1/nope'");
    expect_problem(f, "GET /v1/matches/1/", 404, "no resource");
    expect_problem(f, "GET /v1/matches/1/events/2", 404, "no resource");
    expect_problem(f, "GET /", 404, "no resource");
    expect_problem(f, "POST /v1/matches", 405, "method 'POST' is not allowed on '/v1/matches'");
    expect_problem(f, "DELETE /v1/matches/1", 405, "method 'DELETE'");
    response r;
    call(f, &r, "PUT /healthz");
    assert_int_equal(r.resp.status, 405);
    assert_string_equal(header(&r, "Allow"), "GET, HEAD, OPTIONS");
    response_free(&r);
    call(f, &r, "OPTIONS /v1/matches/1/events");
    assert_int_equal(r.resp.status, 204);
    assert_string_equal(header(&r, "Allow"), "GET, HEAD, OPTIONS");
    assert_int_equal(r.len, 0);
    response_free(&r);

    /* HEAD: GET's status and headers (the server announces the body's length, sends no body) */
    response g, h;
    call(f, &g, "GET /v1/matches/1/stats");
    call(f, &h, "HEAD /v1/matches/1/stats");
    assert_int_equal(h.resp.status, 200);
    assert_int_equal(h.resp.nheaders, g.resp.nheaders);
    for (size_t i = 0; i < g.resp.nheaders; i++) {
        assert_string_equal(h.resp.headers[i][0], g.resp.headers[i][0]);
        assert_string_equal(h.resp.headers[i][1], g.resp.headers[i][1]);
    }
    assert_int_equal(h.len, g.len);
    response_free(&g);
    response_free(&h);

    /* every readable route of the table answers something other than 404/405 on GET */
    size_t n;
    const fa_api_route *routes = fa_api_routes(&n);
    assert_int_equal(n, 20); /* 19 + POST /v1/calibration */
    for (size_t i = 0; i < n; i++) {
        char line[256], path[200];
        if (!routes[i].get) continue;
        snprintf(path, sizeof path, "%s", routes[i].pattern);
        replace(path, "{id}", "2");
        replace(path, "{player}", "Track_1");
        snprintf(line, sizeof line, "GET %s", path);
        call(f, &r, line);
        if (r.resp.status == 404 || r.resp.status == 405) {
            if (!strstr(r.body, "not in the roster") && !strstr(r.body, "has no") &&
                !strstr(r.body, "none of") && !strstr(r.body, "no media directory"))
                fail_msg("%s: %d %s", line, r.resp.status, r.body);
        }
        response_free(&r);
    }
}

/* ------------------------------------------------------------ HTTP caching */

static void test_etag_304(void **state) {
    fixture *f = need(state);
    response a, b, c;
    call(f, &a, "GET /v1/matches/1/events?type=shot");
    call(f, &b, "GET /v1/matches/1/events?type=shot");
    const char *etag = header(&a, "ETag");
    assert_non_null(etag);
    assert_int_equal(strlen(etag), 18);
    assert_true(etag[0] == '"' && etag[17] == '"');
    assert_string_equal(etag, header(&b, "ETag"));
    assert_string_equal(header(&a, "Vary"), "Accept-Encoding");
    assert_string_equal(header(&a, "Cache-Control"),
                        "public, max-age=10, s-maxage=60, stale-while-revalidate=30");
    const char *keys = header(&a, "Surrogate-Key");
    assert_non_null(keys);
    assert_non_null(strstr(keys, "match-1 "));
    assert_non_null(strstr(keys, "team-statsbomb-217"));
    assert_non_null(strstr(keys, "team-statsbomb-211"));
    call(f, &c, "GET /v1/matches/1/events?type=pass");
    assert_string_not_equal(etag, header(&c, "ETag"));
    response_free(&c);

    char inm[160];
    const char *variants[] = {"%s", "W/%s", "\"abc\", %s", "\"abc\",W/%s ,\"def\"", "*"};
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        strcpy(inm, "If-None-Match: ");
        size_t used = strlen(inm);
        snprintf(inm + used, sizeof inm - used, variants[i], etag);
        const char *hs[] = {inm, NULL};
        call_on(&f->cb, f->t, &c, "GET /v1/matches/1/events?type=shot", hs);
        if (c.resp.status != 304) fail_msg("%s: status %d", inm, c.resp.status);
        assert_int_equal(c.len, 0);
        assert_string_equal(header(&c, "ETag"), etag);
        assert_non_null(header(&c, "Cache-Control"));
        assert_string_equal(header(&c, "Vary"), "Accept-Encoding");
        response_free(&c);
        call_on(&f->cb, f->t, &c, "HEAD /v1/matches/1/events?type=shot", hs);
        assert_int_equal(c.resp.status, 304);
        response_free(&c);
    }
    const char *no[] = {"If-None-Match: \"0000000000000000\"", "If-None-Match: garbage",
                        "If-None-Match: ", NULL};
    for (size_t i = 0; no[i]; i++) {
        const char *hs[] = {no[i], NULL};
        call_on(&f->cb, f->t, &c, "GET /v1/matches/1/events?type=shot", hs);
        assert_int_equal(c.resp.status, 200);
        assert_string_equal(c.body, a.body);
        response_free(&c);
    }
    /* a problem is never a 304, even for "*" */
    const char *star[] = {"If-None-Match: *", NULL};
    call_on(&f->cb, f->t, &c, "GET /v1/matches/999", star);
    assert_int_equal(c.resp.status, 404);
    assert_null(header(&c, "ETag"));
    response_free(&c);
    response_free(&a);
    response_free(&b);
}

static void test_cache_policy(void **state) {
    fixture *f = need(state);
    response r;
    call_on(&f->cb_settled, f->t_settled, &r, "GET /v1/matches/1", NULL);
    assert_int_equal(r.resp.status, 200);
    assert_string_equal(
        header(&r, "Cache-Control"),
        "public, max-age=300, s-maxage=86400, stale-while-revalidate=600, stale-if-error=86400");
    response_free(&r);
    call_on(&f->cb_settled, f->t_settled, &r, "GET /v1/matches", NULL);
    assert_string_equal(header(&r, "Cache-Control"),
                        "public, max-age=5, s-maxage=30, stale-while-revalidate=30");
    response_free(&r);
    call(f, &r, "GET /v1/openapi.json");
    assert_non_null(strstr(header(&r, "Cache-Control"), "max-age=3600"));
    assert_string_equal(header(&r, "Surrogate-Key"), "openapi");
    response_free(&r);
    call(f, &r, "GET /v1/matches/3");
    assert_string_equal(header(&r, "Surrogate-Key"), "match-3 team-lastrow-liv team-lastrow-che");
    response_free(&r);

    char tags[64];
    fa_match m;
    fa_match_init(&m, FA_PROVIDER_STATSBOMB);
    snprintf(m.teams[0].id, sizeof m.teams[0].id, "217");
    snprintf(m.teams[1].id, sizeof m.teams[1].id, "206");
    snprintf(m.competition, sizeof m.competition, "La Liga");
    fa_api_match_tags(42, &m, tags, sizeof tags);
    assert_string_equal(tags,
                        "match-42 team-statsbomb-217 team-statsbomb-206"); /* the rest does not fit 64 */
    char wide[128];
    fa_api_match_tags(42, &m, wide, sizeof wide);
    assert_string_equal(wide, "match-42 team-statsbomb-217 team-statsbomb-206 competition-la-liga");
}

/* ------------------------------------------------------------ hooks */

static const char *fake_pick(void *ud, const fa_http_request *req, const fa_http_response *resp) {
    (void)ud;
    (void)resp;
    const fa_strv *ae = fa_http_header_get(req, "Accept-Encoding");
    return ae && ae->n >= 4 && memcmp(ae->p, "test", 4) == 0 ? "test" : NULL;
}

static int fake_encode(void *ud, const char *coding, fa_http_response *resp) {
    (void)ud;
    assert_string_equal(coding, "test");
    assert_null(resp->body_ref);
    fa_buf_reset(&resp->body);
    fa_buf_puts(&resp->body, "ENCODED");
    return fa_http_response_header(resp, "Content-Encoding", coding);
}

/* The real L1 behind the cache hooks (cache_hooks.c): a miss computes and
 * keeps the 200 with its TTL and surrogate keys, a repeat is a hit with the
 * same bytes and validators, problems and live routes are never kept, a
 * purge drops what depends on a tag. */
static void test_hooks(void **state) {
    fixture *f = need(state);
    fa_l1_config lc;
    fa_l1_config_default(&lc);
    fa_l1 *l1 = fa_l1_new(&lc);
    assert_non_null(l1);
    fa_api_app_config c;
    fa_api_app_config_default(&c);
    fa_api_caches *caches = fa_api_caches_new(l1, NULL, &c.hooks);
    assert_non_null(caches);
    fa_api_app *app = fa_api_app_new(f->db, &c);
    fa_api_callbacks cb = fa_api_app_callbacks(app);
    fa_api_thread *t = cb.thread_init(cb.ud, 0, NULL);
    response a, b;
    fa_l1_stats st;
    call_on(&cb, t, &a, "GET /v1/matches/1/stats", NULL);
    assert_int_equal(a.resp.status, 200);
    fa_l1_stats_get(l1, &st);
    assert_int_equal(st.fills, 1);
    assert_int_equal(st.entries, 1);
    const fa_cache_entry *e;
    assert_int_equal(fa_l1_get(l1, "/v1/matches/1/stats", &e), 1);
    assert_true(e->expires_at - e->filled_at > 59 && e->expires_at - e->filled_at < 61); /* s-maxage 60 */
    int has_match_tag = 0;
    for (size_t i = 0; i < e->ntags; i++) has_match_tag |= strcmp(e->tags[i], "match-1") == 0;
    assert_true(has_match_tag);
    fa_cache_entry_release(e);
    call_on(&cb, t, &b, "GET /v1/matches/1/stats", NULL);
    fa_l1_stats_get(l1, &st);
    assert_int_equal(st.fills, 1);
    assert_int_equal(b.resp.status, 200);
    assert_string_equal(a.body, b.body);
    assert_string_equal(header(&a, "ETag"), header(&b, "ETag"));
    assert_string_equal(header(&a, "Cache-Control"), header(&b, "Cache-Control"));
    assert_string_equal(header(&a, "Surrogate-Key"), header(&b, "Surrogate-Key"));
    char cond[120];
    snprintf(cond, sizeof cond, "If-None-Match: \"nope\", %s", header(&a, "ETag"));
    const char *inm[] = {cond, NULL};
    response_free(&b);
    call_on(&cb, t, &b, "GET /v1/matches/1/stats", inm);
    assert_int_equal(b.resp.status, 304);
    response_free(&b);
    call_on(&cb, t, &b, "GET /healthz", NULL); /* live: never kept */
    response_free(&b);
    call_on(&cb, t, &b, "GET /v1/matches/999999/stats", NULL); /* a problem: answered, not kept */
    assert_int_equal(b.resp.status, 404);
    assert_string_equal(header(&b, "Cache-Control"), "no-store");
    response_free(&b);
    fa_l1_stats_get(l1, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.fills, 2);
    /* purge by tag: the next request computes again */
    const char *tags[] = {"match-1"};
    assert_int_equal(c.hooks.purge(c.hooks.ud, tags, 1), 0);
    call_on(&cb, t, &b, "GET /v1/matches/1/stats", NULL);
    assert_string_equal(a.body, b.body);
    fa_l1_stats_get(l1, &st);
    assert_int_equal(st.fills, 3);
    response_free(&b);
    cb.thread_free(t);
    fa_api_app_free(app);
    fa_api_caches_free(caches);
    fa_l1_free(l1);

    /* a coding: its own ETag, 304 against it, the body encoded only when sent */
    fa_api_app_config_default(&c);
    c.hooks.coding_pick = fake_pick;
    c.hooks.encode = fake_encode;
    app = fa_api_app_new(f->db, &c);
    cb = fa_api_app_callbacks(app);
    t = cb.thread_init(cb.ud, 0, NULL);
    const char *ae[] = {"Accept-Encoding: test", NULL};
    call_on(&cb, t, &b, "GET /v1/matches/1/stats", ae);
    assert_string_equal(b.body, "ENCODED");
    char coded[80];
    snprintf(coded, sizeof coded, "%.17s-test\"", header(&a, "ETag"));
    assert_string_equal(header(&b, "ETag"), coded);
    assert_string_equal(header(&b, "Content-Encoding"), "test");
    response_free(&b);
    char line[120];
    snprintf(line, sizeof line, "If-None-Match: %s", coded);
    const char *both[] = {"Accept-Encoding: test", line, NULL};
    call_on(&cb, t, &b, "GET /v1/matches/1/stats", both);
    assert_int_equal(b.resp.status, 304);
    assert_null(header(&b, "Content-Encoding"));
    response_free(&b);
    snprintf(line, sizeof line, "If-None-Match: %s",
             header(&a, "ETag")); /* identity's tag: not this representation */
    call_on(&cb, t, &b, "GET /v1/matches/1/stats", both);
    assert_int_equal(b.resp.status, 200);
    response_free(&b);
    cb.thread_free(t);
    fa_api_app_free(app);
    response_free(&a);
}


/* ------------------------------------------------------------ guard: keys and rate limits */

static double fixed_now;
static double fixed_clock(void *ud) {
    (void)ud;
    return fixed_now;
}

/* Writes a keys file with an admin key and a write-only key; the keys into admin/writer. */
static void write_keys(const char *path, char *admin, char *writer) {
    char ha[FA_API_KEY_HASH_SIZE], hw[FA_API_KEY_HASH_SIZE];
    assert_int_equal(fa_api_key_generate(admin, FA_API_KEY_SIZE, ha, sizeof ha), 0);
    assert_int_equal(fa_api_key_generate(writer, FA_API_KEY_SIZE, hw, sizeof hw), 0);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fprintf(fp, "# test keys\nops sha256:%s admin\nfeeder sha256:%s write\n", ha, hw);
    fclose(fp);
}

static void expect_status(const fa_api_callbacks *cb, fa_api_thread *t, const char *line, const char *hdr,
                          int status, const char *detail) {
    response r;
    const char *hs[] = {hdr, NULL};
    call_on(cb, t, &r, line, hdr ? hs : NULL);
    if (r.resp.status != status) fail_msg("%s: status %d, want %d: %s", line, r.resp.status, status, r.body);
    if (detail && !strstr(r.body, detail)) fail_msg("%s: body lacks '%s': %s", line, detail, r.body);
    if (status == 401) assert_non_null(header(&r, "WWW-Authenticate"));
    response_free(&r);
}

static void test_guard(void **state) {
    fixture *f = need(state);
    /* no keys configured: admin routes are disabled */
    expect_status(&f->cb, f->t, "POST /v1/admin/purge?tags=match-1", NULL, 403, "no API keys configured");
    expect_status(&f->cb, f->t, "GET /v1/admin/purge?tags=match-1", NULL, 405, "POST, OPTIONS");
    char path[512], admin[FA_API_KEY_SIZE], writer[FA_API_KEY_SIZE];
    snprintf(path, sizeof path, "%s/keys", f->dir);
    write_keys(path, admin, writer);
    fa_api_keys *keys = fa_api_keys_load(path);
    assert_non_null(keys);
    fa_ratelimit_config rc;
    fa_ratelimit_config_default(&rc);
    rc.rate = 1;
    rc.burst = 3;
    rc.clock = fixed_clock;
    fa_ratelimit *by_ip = fa_ratelimit_new(&rc);
    rc.burst = 2;
    fa_ratelimit *by_key = fa_ratelimit_new(&rc);
    fa_l1_config lc;
    fa_l1_config_default(&lc);
    fa_l1 *l1 = fa_l1_new(&lc);
    fa_api_app_config c;
    fa_api_app_config_default(&c);
    fa_api_caches *caches = fa_api_caches_new(l1, NULL, &c.hooks);
    c.keys = keys;
    fa_api_app *app = fa_api_app_new(f->db, &c);
    fa_api_callbacks cb = fa_api_app_callbacks(app);
    fa_api_thread *t = cb.thread_init(cb.ud, 0, NULL);
    char bearer_admin[128], bearer_writer[128], xkey_admin[128];
    snprintf(bearer_admin, sizeof bearer_admin, "Authorization: Bearer %s", admin);
    snprintf(bearer_writer, sizeof bearer_writer, "Authorization: Bearer %s", writer);
    snprintf(xkey_admin, sizeof xkey_admin, "X-API-Key: %s", admin);
    const char *purge = "POST /v1/admin/purge?tags=match-1,team-statsbomb-217";
    expect_status(&cb, t, purge, NULL, 401, "needs an API key");
    expect_status(&cb, t, purge, "Authorization: Bearer fa_not-a-key", 401, "unknown API key");
    expect_status(&cb, t, purge, "Authorization: Bearer ", 401, "malformed");
    expect_status(&cb, t, purge, bearer_writer, 403, "'feeder' lacks the admin scope");
    expect_status(&cb, t, "GET /v1/matches/1", "X-API-Key: wrong", 401, "unknown API key"); /* even on reads */
    expect_status(&cb, t, "GET /v1/matches/1", bearer_writer, 200, NULL);
    /* a purge drops the cached match */
    response r;
    call_on(&cb, t, &r, "GET /v1/matches/1/stats", NULL);
    response_free(&r);
    fa_l1_stats st;
    fa_l1_stats_get(l1, &st);
    uint64_t fills = st.fills;
    expect_status(&cb, t, purge, bearer_admin, 200, "{\"purged\":[\"match-1\",\"team-statsbomb-217\"]}");
    expect_status(&cb, t, "POST /v1/admin/purge?tags=Match_1", xkey_admin, 400, "parameter 'tags'");
    expect_status(&cb, t, "POST /v1/admin/purge", xkey_admin, 400, "parameter 'tags'");
    call_on(&cb, t, &r, "GET /v1/matches/1/stats", NULL);
    response_free(&r);
    fa_l1_stats_get(l1, &st);
    assert_int_equal(st.fills, fills + 1);
    cb.thread_free(t);
    fa_api_app_free(app);

    /* rate limits: per address on every route but the probes, then per key */
    c.limit_ip = by_ip;
    c.limit_key = by_key;
    app = fa_api_app_new(f->db, &c);
    cb = fa_api_app_callbacks(app);
    t = cb.thread_init(cb.ud, 0, NULL);
    fixed_now = 100;
    for (int i = 0; i < 3; i++) expect_status(&cb, t, "GET /v1/matches", NULL, 200, NULL);
    call_on(&cb, t, &r, "GET /v1/matches", NULL);
    assert_int_equal(r.resp.status, 429);
    assert_string_equal(header(&r, "Retry-After"), "1");
    assert_string_equal(r.resp.content_type, "application/problem+json");
    response_free(&r);
    for (int i = 0; i < 5; i++) expect_status(&cb, t, "GET /healthz", NULL, 200, NULL);
    fixed_now = 101; /* one token back */
    expect_status(&cb, t, "GET /v1/matches", bearer_writer, 200, NULL);
    expect_status(&cb, t, "GET /v1/matches", bearer_writer, 429, "from this address");
    fixed_now = 200; /* address buckets full again; the key's has 2 */
    expect_status(&cb, t, "GET /v1/matches", bearer_writer, 200, NULL);
    expect_status(&cb, t, "GET /v1/matches", bearer_writer, 200, NULL);
    expect_status(&cb, t, "GET /v1/matches", bearer_writer, 429, "from this API key");
    cb.thread_free(t);
    fa_api_app_free(app);
    fa_api_caches_free(caches);
    fa_l1_free(l1);
    fa_ratelimit_free(by_ip);
    fa_ratelimit_free(by_key);
    fa_api_keys_free(keys);
}

/* ------------------------------------------------------------ problems and OpenAPI */

static void test_problem_shape(void **state) {
    fixture *f = need(state);
    response r;
    call(f, &r, "GET /v1/matches/1/events?period=x");
    const fa_json_value *v = parse(f, &r);
    assert_string_equal(str(v, "type"), "urn:footanalytics:problem:invalid-parameter");
    assert_string_equal(str(v, "title"), "Invalid parameter");
    assert_int_equal((int)num(v, "status"), 400);
    assert_string_equal(str(v, "detail"), "parameter 'period': expected an integer 1..5, got 'x'");
    assert_string_equal(str(v, "instance"), "/v1/matches/1/events?period=x");
    response_free(&r);
    /* a long, non-UTF-8 value is cut and replaced, never breaks the document */
    char line[600] = "GET /v1/matches/1/events?type=";
    for (int i = 0; i < 40; i++) strcat(line, "%C3");
    call(f, &r, line);
    assert_int_equal(r.resp.status, 400);
    parse(f, &r);
    response_free(&r);
    char bad[300];
    snprintf(bad, sizeof bad, "GET /v1/matches/%s", "\xff\xfe-not-utf8");
    call(f, &r, bad);
    assert_int_equal(r.resp.status, 400);
    parse(f, &r);
    response_free(&r);
}

/* The query parameters the document gives a path, resolved through components.parameters. */
static int doc_has_query_param(const fa_json_value *doc, const fa_json_value *params, const char *name) {
    for (size_t i = 0; params && i < params->u.arr.n; i++) {
        const fa_json_value *p = params->u.arr.items[i];
        const fa_json_value *ref = fa_json_get(p, "$ref");
        if (ref) {
            const char *slash = strrchr(ref->u.str.ptr, '/');
            p = fa_json_get(fa_json_get(fa_json_get(doc, "components"), "parameters"), slash + 1);
            assert_non_null(p);
        }
        if (strcmp(str(p, "in"), "query") == 0 && strcmp(str(p, "name"), name) == 0) return 1;
    }
    return 0;
}

static size_t doc_query_count(const fa_json_value *doc, const fa_json_value *params) {
    size_t n = 0;
    for (size_t i = 0; params && i < params->u.arr.n; i++) {
        const fa_json_value *p = params->u.arr.items[i];
        const fa_json_value *ref = fa_json_get(p, "$ref");
        if (ref)
            p = fa_json_get(fa_json_get(fa_json_get(doc, "components"), "parameters"),
                            strrchr(ref->u.str.ptr, '/') + 1);
        if (strcmp(str(p, "in"), "query") == 0) n++;
    }
    return n;
}

static void test_openapi(void **state) {
    fixture *f = need(state);
    response r;
    const fa_json_value *doc = get_ok(f, &r, "GET /v1/openapi.json");
    assert_string_equal(str(doc, "openapi"), "3.0.3");
    const fa_json_value *paths = fa_json_get(doc, "paths");
    assert_non_null(paths);
    size_t n;
    const fa_api_route *routes = fa_api_routes(&n);
    assert_int_equal(paths->u.obj.n, n);
    for (size_t i = 0; i < n; i++) {
        const fa_json_value *item = fa_json_get(paths, routes[i].pattern);
        if (!item) fail_msg("openapi.json lacks %s", routes[i].pattern);
        const fa_json_value *get = fa_json_get(item, routes[i].get ? "get" : "post");
        assert_non_null(get);
        assert_string_equal(str(get, "operationId"), routes[i].operation);
        assert_non_null(fa_json_get(fa_json_get(get, "responses"), "200"));
        const fa_json_value *params = fa_json_get(get, "parameters");
        size_t nq = 0;
        for (const char *const *k = routes[i].query; k && *k; k++, nq++)
            if (!doc_has_query_param(doc, params, *k))
                fail_msg("openapi.json: %s lacks query parameter '%s'", routes[i].pattern, *k);
        assert_int_equal(doc_query_count(doc, params), nq);
        /* path parameters: as many as the pattern has */
        size_t np = 0, dp = 0;
        for (const char *p = strchr(routes[i].pattern, '{'); p; p = strchr(p + 1, '{')) np++;
        for (size_t k = 0; params && k < params->u.arr.n; k++) {
            const fa_json_value *p = params->u.arr.items[k];
            if (fa_json_get(p, "$ref"))
                p = fa_json_get(fa_json_get(fa_json_get(doc, "components"), "parameters"),
                                strrchr(str(p, "$ref"), '/') + 1);
            if (strcmp(str(p, "in"), "path") == 0) dp++;
        }
        assert_int_equal(dp, np);
    }
    const fa_json_value *problem =
        fa_json_get(fa_json_get(fa_json_get(doc, "components"), "schemas"), "Problem");
    assert_non_null(problem);
    for (const char *const *k = (const char *const[]){"type", "title", "status", "detail", "instance", NULL};
         *k; k++)
        assert_non_null(fa_json_get(fa_json_get(problem, "properties"), *k));
    response_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_list),   cmocka_unit_test(test_match),
        cmocka_unit_test(test_events_filters), cmocka_unit_test(test_events_pagination),
        cmocka_unit_test(test_players),        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_heatmaps),       cmocka_unit_test(test_pass_network),
        cmocka_unit_test(test_possession),     cmocka_unit_test(test_tracking),
        cmocka_unit_test(test_pitch_control),  cmocka_unit_test(test_season),
        cmocka_unit_test(test_health),         cmocka_unit_test(test_router),
        cmocka_unit_test(test_etag_304),       cmocka_unit_test(test_cache_policy),
        cmocka_unit_test(test_hooks), cmocka_unit_test(test_guard),          cmocka_unit_test(test_problem_shape),
        cmocka_unit_test(test_openapi),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
