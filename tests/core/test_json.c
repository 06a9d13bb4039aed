/*
 * test_json.c - the streaming JSON reader: tokens, DOM, every class of
 * malformed input with its exact line:col, JSON Lines, the typed getters,
 * the writer helpers, tokens straddling the 64 KiB window of a file, and a
 * real StatsBomb event file read one element at a time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"

/* Reads every top-level value of doc; returns the last status (0 when all
 * were read) and the number of values read in *n. */
static int read_all(const char *doc, size_t len, int multi, int *n) {
    fa_arena *a = fa_arena_new(0);
    fa_json_reader *r = fa_json_open_mem("t.json", doc, len, multi);
    assert_non_null(r);
    fa_json_value *v;
    int rc;
    *n = 0;
    while ((rc = fa_json_read_value(r, a, &v)) == 0 && v) {
        (*n)++;
        fa_arena_reset(a);
    }
    fa_json_close(r);
    fa_arena_free(a);
    return rc;
}

static void check_error(const char *doc, int code, const char *msg) {
    int n;
    fa_err_clear();
    int rc = read_all(doc, strlen(doc), 0, &n);
    if (rc != code || strcmp(fa_err_msg(), msg) != 0)
        print_message("doc: %s\n  got: %d %s\n want: %d %s\n", doc, rc, fa_err_msg(), code, msg);
    assert_int_equal(rc, code);
    assert_string_equal(fa_err_msg(), msg);
}

static void check_ok(const char *doc) {
    int n;
    int rc = read_all(doc, strlen(doc), 0, &n);
    if (rc) print_message("doc: %s\n  got: %s\n", doc, fa_err_msg());
    assert_int_equal(rc, 0);
    assert_int_equal(n, 1);
}

static void test_tokens(void **state) {
    (void)state;
    const char *doc = "{\"a\": [1, -2.5e1, true, false, null, \"s\\n\"],\n \"b\": {}}";
    fa_json_reader *r = fa_json_open_mem("t.json", doc, strlen(doc), 0);
    assert_non_null(r);
    assert_string_equal(fa_json_name(r), "t.json");
    static const struct {
        fa_json_tok_type type;
        unsigned line, col;
    } want[] = {
        {FA_JSON_TOK_BEGIN_OBJECT, 1, 1}, {FA_JSON_TOK_KEY, 1, 2},         {FA_JSON_TOK_BEGIN_ARRAY, 1, 7},
        {FA_JSON_TOK_NUMBER, 1, 8},       {FA_JSON_TOK_NUMBER, 1, 11},     {FA_JSON_TOK_TRUE, 1, 19},
        {FA_JSON_TOK_FALSE, 1, 25},       {FA_JSON_TOK_NULL, 1, 32},       {FA_JSON_TOK_STRING, 1, 38},
        {FA_JSON_TOK_END_ARRAY, 1, 43},   {FA_JSON_TOK_KEY, 2, 2},         {FA_JSON_TOK_BEGIN_OBJECT, 2, 7},
        {FA_JSON_TOK_END_OBJECT, 2, 8},   {FA_JSON_TOK_END_OBJECT, 2, 9},  {FA_JSON_TOK_EOF, 2, 10},
    };
    fa_json_token t;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(fa_json_next(r, &t), 0);
        assert_int_equal(t.type, want[i].type);
        assert_int_equal(t.line, want[i].line);
        assert_int_equal(t.col, want[i].col);
        if (i == 1) assert_string_equal(t.str, "a");
        if (i == 3) assert_true(t.num == 1.0);
        if (i == 4) assert_true(t.num == -25.0);
        if (i == 8) {
            assert_string_equal(t.str, "s\n");
            assert_int_equal(t.len, 2);
        }
    }
    /* the end stays the end */
    assert_int_equal(fa_json_next(r, &t), 0);
    assert_int_equal(t.type, FA_JSON_TOK_EOF);
    fa_json_close(r);
}

static void test_peek_expect_skip(void **state) {
    (void)state;
    const char *doc = "[{\"x\": [1, {\"y\": [2]}]}, \"keep\", 7]";
    fa_json_reader *r = fa_json_open_mem("t.json", doc, strlen(doc), 0);
    fa_json_tok_type type;
    fa_json_token t;
    assert_int_equal(fa_json_peek(r, &type), 0);
    assert_int_equal(type, FA_JSON_TOK_BEGIN_ARRAY);
    assert_int_equal(fa_json_peek(r, &type), 0); /* peek twice: same token */
    assert_int_equal(type, FA_JSON_TOK_BEGIN_ARRAY);
    assert_int_equal(fa_json_expect(r, FA_JSON_TOK_BEGIN_ARRAY, &t), 0);
    assert_int_equal(fa_json_skip_value(r), 0);
    assert_int_equal(fa_json_peek(r, &type), 0);
    assert_int_equal(type, FA_JSON_TOK_STRING);
    assert_int_equal(fa_json_expect(r, FA_JSON_TOK_NUMBER, &t), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "t.json:1:26: expected number, got string \"keep\"");
    assert_int_equal(fa_json_expect(r, FA_JSON_TOK_NUMBER, NULL), 0);
    assert_int_equal(fa_json_expect(r, FA_JSON_TOK_END_ARRAY, NULL), 0);
    assert_int_equal(fa_json_expect(r, FA_JSON_TOK_EOF, NULL), 0);
    fa_json_close(r);
}

static void test_dom(void **state) {
    (void)state;
    const char *doc = "{\"id\": 7, \"name\": \"Lionel Andr\\u00e9s\", \"tags\": [\"a\", null, 2.5],\n"
                      "  \"nested\": {\"ok\": true, \"empty\": [], \"none\": {}}}";
    fa_arena *a = fa_arena_new(0);
    fa_json_value *v;
    assert_int_equal(fa_json_parse("t.json", doc, strlen(doc), a, &v), 0);
    assert_int_equal(v->type, FA_JSON_OBJECT);
    assert_int_equal(v->u.obj.n, 4);
    assert_string_equal(v->u.obj.keys[2], "tags");
    const fa_json_value *name = fa_json_get(v, "name");
    assert_non_null(name);
    assert_string_equal(name->u.str.ptr, "Lionel Andr\xC3\xA9s");
    assert_int_equal(name->u.str.len, 14);
    assert_int_equal(name->col, 19);
    const fa_json_value *tags = fa_json_get(v, "tags");
    assert_int_equal(tags->type, FA_JSON_ARRAY);
    assert_int_equal(tags->u.arr.n, 3);
    assert_int_equal(tags->u.arr.items[1]->type, FA_JSON_NULL);
    assert_true(tags->u.arr.items[2]->u.num == 2.5);
    const fa_json_value *nested = fa_json_get(v, "nested");
    assert_int_equal(nested->line, 2);
    assert_int_equal(nested->col, 13);
    assert_int_equal(fa_json_get(nested, "ok")->type, FA_JSON_TRUE);
    assert_int_equal(fa_json_get(nested, "empty")->u.arr.n, 0);
    assert_int_equal(fa_json_get(nested, "none")->u.obj.n, 0);
    assert_null(fa_json_get(nested, "missing"));
    assert_null(fa_json_get(tags, "a")); /* not an object */
    assert_null(fa_json_get(NULL, "a"));
    assert_string_equal(fa_json_type_name(FA_JSON_TRUE), "boolean");
    assert_string_equal(fa_json_type_name(FA_JSON_OBJECT), "object");

    /* trailing data is an error for fa_json_parse too */
    assert_int_equal(fa_json_parse("m.json", "{} {}", 5, a, &v), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "m.json:1:4: unexpected data after the top-level value");
    assert_null(v);
    fa_arena_free(a);
}

static void test_array_next(void **state) {
    (void)state;
    const char *doc = "[{\"i\": 1}, {\"i\": 2}, 3]";
    fa_json_reader *r = fa_json_open_mem("t.json", doc, strlen(doc), 0);
    fa_arena *a = fa_arena_new(0);
    fa_json_value *v;
    assert_int_equal(fa_json_expect(r, FA_JSON_TOK_BEGIN_ARRAY, NULL), 0);
    assert_int_equal(fa_json_array_next(r, a, &v), 1);
    assert_true(fa_json_get(v, "i")->u.num == 1);
    assert_int_equal(fa_json_array_next(r, a, &v), 1);
    assert_int_equal(v->col, 12);
    assert_int_equal(fa_json_array_next(r, a, &v), 1);
    assert_true(v->u.num == 3);
    assert_int_equal(fa_json_array_next(r, a, &v), 0);
    assert_null(v);
    assert_int_equal(fa_json_read_value(r, a, &v), 0); /* at the end: nothing */
    assert_null(v);
    fa_json_close(r);

    /* array_next where a key comes names it */
    r = fa_json_open_mem("t.json", "{\"k\": 1}", 8, 0);
    assert_int_equal(fa_json_expect(r, FA_JSON_TOK_BEGIN_OBJECT, NULL), 0);
    assert_int_equal(fa_json_array_next(r, a, &v), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "t.json:1:2: expected a value, got key \"k\"");
    fa_json_close(r);
    fa_arena_free(a);
}

static void test_syntax_errors(void **state) {
    (void)state;
    check_error("[1,2,]", FA_EINVAL, "t.json:1:6: trailing comma before ']'");
    check_error("{\"a\":1,\n }", FA_EINVAL, "t.json:2:2: trailing comma before '}'");
    check_error("[1 2]", FA_EINVAL, "t.json:1:4: expected ',' or ']', got '2'");
    check_error("{\"a\" 1}", FA_EINVAL, "t.json:1:6: expected ':' after object key, got '1'");
    check_error("{a:1}", FA_EINVAL, "t.json:1:2: expected a string key, got 'a'");
    check_error("{\"a\":}", FA_EINVAL, "t.json:1:6: unexpected '}', expected a value");
    check_error("[1}", FA_EINVAL, "t.json:1:3: expected ',' or ']', got '}'");
    check_error("[1] x", FA_EINVAL, "t.json:1:5: unexpected data after the top-level value");
    check_error("{}\n{}", FA_EINVAL, "t.json:2:1: unexpected data after the top-level value");
    check_error("", FA_EINVAL, "t.json:1:1: empty input");
    check_error(" \n\t ", FA_EINVAL, "t.json:2:3: empty input");
    check_error("[1,\n  2", FA_EINVAL, "t.json:2:4: unexpected end of input");
    check_error("{\"a\":", FA_EINVAL, "t.json:1:6: unexpected end of input");
    check_error("[\"abc", FA_EINVAL, "t.json:1:6: unexpected end of input in string");
    check_error("[tru]", FA_EINVAL, "t.json:1:2: invalid literal 'tru'");
    check_error("[truex]", FA_EINVAL, "t.json:1:2: invalid literal 'truex'");
    check_error("[NaN]", FA_EINVAL, "t.json:1:2: invalid literal 'NaN'");
    check_error("[1, Infinity]", FA_EINVAL, "t.json:1:5: invalid literal 'Infinity'");
    check_error("[-Infinity]", FA_EINVAL, "t.json:1:2: invalid number");
    check_error("[\x01]", FA_EINVAL, "t.json:1:2: unexpected byte 0x01, expected a value");
    check_error("['a']", FA_EINVAL, "t.json:1:2: unexpected byte 0x27, expected a value");
    check_ok("  [ ]  ");
    check_ok("\xEF\xBB\xBF{}"); /* a byte order mark is ignored */
    check_error("\xEF\xBB\xBF[x]", FA_EINVAL, "t.json:1:2: invalid literal 'x'");
}

static void test_number_errors(void **state) {
    (void)state;
    check_error("[01]", FA_EINVAL, "t.json:1:2: invalid number (leading zero)");
    check_error("[-01]", FA_EINVAL, "t.json:1:2: invalid number (leading zero)");
    check_error("[1.]", FA_EINVAL, "t.json:1:2: invalid number (digit expected after '.')");
    check_error("[.5]", FA_EINVAL, "t.json:1:2: unexpected '.', expected a value");
    check_error("[+1]", FA_EINVAL, "t.json:1:2: unexpected '+', expected a value");
    check_error("[-]", FA_EINVAL, "t.json:1:2: invalid number");
    check_error("[1e]", FA_EINVAL, "t.json:1:2: invalid number (digit expected in exponent)");
    check_error("[1e+]", FA_EINVAL, "t.json:1:2: invalid number (digit expected in exponent)");
    check_error("[1.2.3]", FA_EINVAL, "t.json:1:2: invalid number");
    check_error("[1-2]", FA_EINVAL, "t.json:1:2: invalid number");
    check_error("[0x10]", FA_EINVAL, "t.json:1:3: expected ',' or ']', got 'x'");
    check_error("[1e999]", FA_EINVAL, "t.json:1:2: number out of range");
    check_error("[-1.8e308]", FA_EINVAL, "t.json:1:2: number out of range");
    check_ok("[0, -0, 0.5, 1E5, 1e-400, 1.7976931348623157e308]");
}

/* The value of a one-number document. */
static double num_of(const char *doc) {
    fa_arena *a = fa_arena_new(0);
    fa_json_value *v;
    assert_int_equal(fa_json_parse("n.json", doc, strlen(doc), a, &v), 0);
    double d = v->u.num;
    fa_arena_free(a);
    return d;
}

static void test_numbers(void **state) {
    (void)state;
    static const char *texts[] = {"0", "-0", "1", "-17", "0.1", "3.14159", "1e10", "1E-7", "2.5e+3",
                                  "123456789012345", "1234567890123456789012", "0.000001234", "5e-324",
                                  "1.7976931348623157e308", "9007199254740993", "0.30000000000000004",
                                  "-2.2250738585072014e-308", "1e22", "1e23", "123.456e-20"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        double want = strtod(texts[i], NULL), got = num_of(texts[i]);
        if (memcmp(&want, &got, sizeof got) != 0) print_message("%s: %.17g != %.17g\n", texts[i], got, want);
        assert_memory_equal(&want, &got, sizeof got);
    }
    assert_true(signbit(num_of("-0")));
}

static void test_string_errors(void **state) {
    (void)state;
    check_error("[\"a\tb\"]", FA_EINVAL, "t.json:1:4: control character 0x09 in string (must be escaped)");
    check_error("[\"a\nb\"]", FA_EINVAL, "t.json:1:4: control character 0x0A in string (must be escaped)");
    check_error("[\"\\x\"]", FA_EINVAL, "t.json:1:3: invalid escape '\\' followed by 'x'");
    check_error("[\"\\u12g4\"]", FA_EINVAL, "t.json:1:3: invalid \\u escape");
    check_error("\"\\u12", FA_EINVAL, "t.json:1:2: unexpected end of input in string");
    check_error("[\"\\ud800\"]", FA_EINVAL, "t.json:1:3: lone surrogate \\uD800 in string");
    check_error("[\"\\ud800\\u0041\"]", FA_EINVAL, "t.json:1:3: lone surrogate \\uD800 in string");
    check_error("[\"x\\udc00\"]", FA_EINVAL, "t.json:1:4: lone surrogate \\uDC00 in string");
    check_error("[\"\xff\"]", FA_EINVAL, "t.json:1:3: invalid UTF-8 in string");
    check_error("[\"ab\xC0\xAF\"]", FA_EINVAL, "t.json:1:5: invalid UTF-8 in string");     /* overlong '/' */
    check_error("[\"\xED\xA0\x80\"]", FA_EINVAL, "t.json:1:3: invalid UTF-8 in string");   /* raw surrogate */
    check_error("[\"\xF4\x90\x80\x80\"]", FA_EINVAL, "t.json:1:3: invalid UTF-8 in string"); /* > U+10FFFF */
    check_error("[\"\xC3\"]", FA_EINVAL, "t.json:1:3: invalid UTF-8 in string");           /* cut short */
    check_error("{\"k\xE9y\": 1}", FA_EINVAL, "t.json:1:4: invalid UTF-8 in string");       /* Latin-1 key */

    /* valid escapes and characters decode exactly */
    const char *doc = "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00\xC3\xA9\\u0000z\"";
    fa_arena *a = fa_arena_new(0);
    fa_json_value *v;
    assert_int_equal(fa_json_parse("t.json", doc, strlen(doc), a, &v), 0);
    const char want[] = "\"\\/\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xA9\0z";
    assert_int_equal(v->u.str.len, sizeof want - 1);
    assert_memory_equal(v->u.str.ptr, want, sizeof want);
    fa_arena_free(a);
}

static void test_limits(void **state) {
    (void)state;
    char doc[2 * (FA_JSON_MAX_DEPTH + 1) + 1];
    for (int d = FA_JSON_MAX_DEPTH; d <= FA_JSON_MAX_DEPTH + 1; d++) {
        memset(doc, '[', (size_t)d);
        memset(doc + d, ']', (size_t)d);
        doc[2 * d] = '\0';
        if (d == FA_JSON_MAX_DEPTH) {
            check_ok(doc);
        } else {
            check_error(doc, FA_ELIMIT, "t.json:1:257: nesting deeper than 256 levels");
        }
    }
    /* the longest string allowed, then one byte more */
    size_t n = FA_JSON_MAX_STRING;
    char *big = malloc(n + 4);
    big[0] = '"';
    memset(big + 1, 'x', n + 1);
    big[n + 1] = '"';
    int count;
    assert_int_equal(read_all(big, n + 2, 0, &count), 0);
    assert_int_equal(count, 1);
    big[n + 1] = 'x';
    big[n + 2] = '"';
    assert_int_equal(read_all(big, n + 3, 0, &count), FA_ELIMIT);
    assert_string_equal(fa_err_msg(), "t.json:1:1: string longer than 16777216 bytes");
    free(big);
}

static void test_errors_are_sticky(void **state) {
    (void)state;
    const char *doc = "[1, 2,, 3]";
    fa_json_reader *r = fa_json_open_mem("t.json", doc, strlen(doc), 0);
    fa_json_token t;
    for (int i = 0; i < 3; i++) assert_int_equal(fa_json_next(r, &t), 0);
    assert_int_equal(fa_json_next(r, &t), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "t.json:1:7: unexpected ',', expected a value");
    fa_err_clear();
    assert_int_equal(fa_json_next(r, &t), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "t.json:1:7: unexpected ',', expected a value");
    fa_json_close(r);
}

static void test_json_lines(void **state) {
    (void)state;
    const char *doc = "{\"frame\": 0}\n{\"frame\": 1}\r\n\n  [2]\n3 \"four\"\n";
    fa_json_reader *r = fa_json_open_mem("t.jsonl", doc, strlen(doc), 1);
    fa_arena *a = fa_arena_new(0);
    fa_json_value *v;
    int64_t frame;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(fa_json_read_value(r, a, &v), 0);
        assert_int_equal(fa_json_req_int(r, v, "frame", 0, 10, &frame), 0);
        assert_int_equal(frame, i);
        assert_int_equal(v->line, i + 1);
    }
    assert_int_equal(fa_json_read_value(r, a, &v), 0);
    assert_int_equal(v->type, FA_JSON_ARRAY);
    assert_int_equal(v->line, 4);
    assert_int_equal(v->col, 3);
    assert_int_equal(fa_json_read_value(r, a, &v), 0);
    assert_true(v->u.num == 3);
    assert_int_equal(fa_json_read_value(r, a, &v), 0);
    assert_string_equal(v->u.str.ptr, "four");
    assert_int_equal(fa_json_read_value(r, a, &v), 0);
    assert_null(v);
    assert_int_equal(fa_json_read_value(r, a, &v), 0);
    assert_null(v);
    fa_json_close(r);

    /* an error names the line of the bad record */
    doc = "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3,}\n";
    int n;
    assert_int_equal(read_all(doc, strlen(doc), 1, &n), FA_EINVAL);
    assert_int_equal(n, 2);
    assert_string_equal(fa_err_msg(), "t.json:3:9: trailing comma before '}'");
    /* single mode refuses the second record */
    assert_int_equal(read_all(doc, strlen(doc), 0, &n), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "t.json:2:1: unexpected data after the top-level value");
    /* empty input is an error in multi mode too; a truncated last record is reported */
    assert_int_equal(read_all("\n", 1, 1, &n), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "t.json:2:1: empty input");
    assert_int_equal(read_all("{}\n{\"a\"", 7, 1, &n), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "t.json:2:5: unexpected end of input");
    fa_arena_free(a);
}

static void test_getters(void **state) {
    (void)state;
    const char *doc = "{\"period\": 2, \"half\": 1.5, \"name\": \"x\", \"flag\": true, \"none\": null,\n"
                      " \"loc\": [1, 2], \"team\": {\"id\": 5}, \"big\": 1e19, \"neg\": -3}";
    fa_json_reader *r = fa_json_open_mem("e.json", doc, strlen(doc), 0);
    fa_arena *a = fa_arena_new(0);
    fa_json_value *o;
    assert_int_equal(fa_json_read_value(r, a, &o), 0);
    double d;
    int64_t i = 99;
    const char *s;
    int b = 7;
    const fa_json_value *sub;

    assert_int_equal(fa_json_opt_num(r, o, "half", &d), 1);
    assert_true(d == 1.5);
    assert_int_equal(fa_json_opt_num(r, o, "none", &d), 0);
    assert_true(isnan(d));
    assert_int_equal(fa_json_opt_num(r, o, "absent", &d), 0);
    assert_true(isnan(d));
    assert_int_equal(fa_json_opt_num(r, o, "name", &d), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:36: field 'name': expected number, got string \"x\"");
    assert_int_equal(fa_json_req_num(r, o, "period", &d), 0);
    assert_true(d == 2);
    assert_int_equal(fa_json_req_num(r, o, "none", &d), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:63: field 'none': expected number, got null");
    assert_int_equal(fa_json_req_num(r, o, "absent", &d), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:1: missing required field 'absent'");

    assert_int_equal(fa_json_opt_int(r, o, "absent", 0, 5, &i), 0);
    assert_int_equal(i, 99); /* untouched */
    assert_int_equal(fa_json_opt_int(r, o, "period", 1, 5, &i), 1);
    assert_int_equal(i, 2);
    assert_int_equal(fa_json_req_int(r, o, "neg", -5, 0, &i), 0);
    assert_int_equal(i, -3);
    assert_int_equal(fa_json_req_int(r, o, "period", 3, 5, &i), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:12: field 'period': 2 out of range [3, 5]");
    assert_int_equal(fa_json_req_int(r, o, "half", 0, 5, &i), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:23: field 'half': expected integer, got number 1.5");
    assert_int_equal(fa_json_req_int(r, o, "name", 0, 5, &i), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:36: field 'name': expected integer, got string \"x\"");
    assert_int_equal(fa_json_req_int(r, o, "big", INT64_MIN, INT64_MAX, &i), FA_EINVAL);
    assert_string_equal(fa_err_msg(),
                        "e.json:2:43: field 'big': 1e+19 out of range [-9223372036854775808, "
                        "9223372036854775807]");
    assert_int_equal(fa_json_req_int(r, o, "loc", 0, 5, &i), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:2:9: field 'loc': expected integer, got array");
    assert_int_equal(fa_json_req_int(r, o, "nope", 0, 5, &i), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:1: missing required field 'nope'");

    assert_int_equal(fa_json_opt_str(r, o, "name", &s), 1);
    assert_string_equal(s, "x");
    assert_int_equal(fa_json_opt_str(r, o, "none", &s), 0);
    assert_null(s);
    assert_int_equal(fa_json_req_str(r, o, "period", &s), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:12: field 'period': expected string, got number 2");
    assert_int_equal(fa_json_req_str(r, o, "team", &s), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:2:25: field 'team': expected string, got object");

    assert_int_equal(fa_json_opt_bool(r, o, "absent", &b), 0);
    assert_int_equal(b, 7);
    assert_int_equal(fa_json_opt_bool(r, o, "flag", &b), 1);
    assert_int_equal(b, 1);
    assert_int_equal(fa_json_opt_bool(r, o, "period", &b), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:12: field 'period': expected boolean, got number 2");

    assert_int_equal(fa_json_opt_obj(r, o, "team", &sub), 1);
    assert_true(fa_json_get(sub, "id")->u.num == 5);
    assert_int_equal(fa_json_opt_obj(r, o, "none", &sub), 0);
    assert_null(sub);
    assert_int_equal(fa_json_req_obj(r, o, "loc", &sub), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:2:9: field 'loc': expected object, got array");
    assert_int_equal(fa_json_req_obj(r, o, "absent", &sub), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:1: missing required field 'absent'");
    assert_int_equal(fa_json_opt_arr(r, o, "loc", &sub), 1);
    assert_int_equal(sub->u.arr.n, 2);
    assert_int_equal(fa_json_opt_arr(r, o, "absent", &sub), 0);
    assert_int_equal(fa_json_req_arr(r, o, "flag", &sub), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:1:49: field 'flag': expected array, got true");
    assert_int_equal(fa_json_req_arr(r, o, "loc", &sub), 0);

    /* a getter on something that is not an object */
    const fa_json_value *loc = fa_json_get(o, "loc");
    assert_int_equal(fa_json_opt_num(r, loc, "x", &d), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "e.json:2:9: expected an object with field 'x', got array");
    /* long strings are cut in messages; control characters never reach them */
    fa_json_close(r);
    doc = "{\"s\": \"0123456789012345678901234567890123456789\\n123\"}";
    assert_int_equal(fa_json_parse("e.json", doc, strlen(doc), a, &o), 0);
    assert_int_equal(fa_json_req_num(NULL, o, "s", &d), FA_EINVAL);
    assert_string_equal(fa_err_msg(),
                        "1:7: field 's': expected number, got string "
                        "\"0123456789012345678901234567890123456789...\"");
    assert_int_equal(fa_json_error(NULL, NULL, "custom %d", 3), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "json: custom 3");
    fa_arena_free(a);
}

static void check_num_text(double v, const char *want) {
    fa_buf b = {0};
    assert_int_equal(fa_json_write_num(&b, v), 0);
    assert_string_equal(b.data, want);
    fa_buf_free(&b);
}

static void test_writer(void **state) {
    (void)state;
    check_num_text(0, "0");
    check_num_text(-0.0, "-0");
    check_num_text(42, "42");
    check_num_text(-7, "-7");
    check_num_text(1e16, "10000000000000000");
    check_num_text(0.1, "0.1");
    check_num_text(1.5, "1.5");
    check_num_text(0.1 + 0.2, "0.30000000000000004");
    check_num_text(1.0 / 3, "0.3333333333333333");
    check_num_text(1e300, "1e+300");
    check_num_text(1e-7, "1e-07");
    check_num_text(NAN, "null");
    check_num_text(INFINITY, "null");
    check_num_text(-INFINITY, "null");

    /* every written number reads back to the same bits */
    const double vals[] = {0.1, 1.0 / 3, 2.0 / 3, 1e300, 5e-324, 1.7976931348623157e308, 123456.789,
                           -2.2250738585072014e-308, 9007199254740993.0, 3.14159265358979, 1e17, 1e21};
    fa_arena *a = fa_arena_new(0);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        fa_buf b = {0};
        assert_int_equal(fa_json_write_num(&b, vals[i]), 0);
        fa_json_value *v;
        assert_int_equal(fa_json_parse("w.json", b.data, b.len, a, &v), 0);
        assert_memory_equal(&v->u.num, &vals[i], sizeof(double));
        fa_buf_free(&b);
    }

    fa_buf b = {0};
    const char *s = "a\"b\\c/\n\t\r\b\f\x01\x1f \xC3\xA9\xF0\x9F\x98\x80 end";
    assert_int_equal(fa_json_write_str(&b, s), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001f \xC3\xA9\xF0\x9F\x98\x80 end\"");
    fa_json_value *v;
    assert_int_equal(fa_json_parse("w.json", b.data, b.len, a, &v), 0);
    assert_string_equal(v->u.str.ptr, s);
    /* invalid UTF-8 becomes U+FFFD so the output is always valid JSON */
    fa_buf_reset(&b);
    assert_int_equal(fa_json_write_str(&b, "x\xff" "y\xC3"), 0);
    assert_string_equal(b.data, "\"x\\ufffdy\\ufffd\"");
    fa_buf_reset(&b);
    assert_int_equal(fa_json_write_str(&b, ""), 0);
    assert_string_equal(b.data, "\"\"");
    fa_buf_free(&b);
    fa_arena_free(a);
}

/* Appends one element whose tokens land at varied offsets. */
static void append_element(fa_buf *b, unsigned i) {
    char pad[16];
    memset(pad, ' ', sizeof pad);
    fa_buf_append(b, pad, i % 13);
    fa_buf_printf(b, "{\"k%u\\u00e9\\ud83d\\ude00\": [%u.%u, -%ue-%u, true, null, ", i, i, i % 97, i, i % 30);
    fa_buf_printf(b, "\"x\xC3\xA9\xE2\x82\xAC\\n%u\"],", i);
    if (i % 7 == 0) fa_buf_puts(b, "\n");
    fa_buf_printf(b, " \"s\": \"%0*u\"}", (int)(i % 50), i);
}

/* Every token of a file read through the 64 KiB window equals the same
 * token read from memory, wherever the window boundaries fall. */
static void test_window_boundaries(void **state) {
    (void)state;
    fa_buf doc = {0};
    fa_buf_puts(&doc, "[");
    for (unsigned i = 0; i < 12000; i++) {
        if (i) fa_buf_puts(&doc, ",\n");
        append_element(&doc, i);
    }
    fa_buf_puts(&doc, "]");
    assert_true(doc.len > 10 * 65536);
    char *dir = fa_test_tmpdir();
    char *path = fa_test_write_file(dir, "w.json", doc.data, doc.len);
    fa_json_reader *f = fa_json_open_file(path, 0), *m = fa_json_open_mem("w.json", doc.data, doc.len, 0);
    assert_non_null(f);
    assert_string_equal(fa_json_name(f), "w.json");
    fa_json_token tf, tm;
    size_t tokens = 0;
    char *saved = malloc(FA_JSON_MAX_STRING);
    do {
        assert_int_equal(fa_json_next(m, &tm), 0);
        if (tm.str) memcpy(saved, tm.str, tm.len + 1);
        assert_int_equal(fa_json_next(f, &tf), 0);
        assert_int_equal(tf.type, tm.type);
        assert_int_equal(tf.line, tm.line);
        assert_int_equal(tf.col, tm.col);
        assert_memory_equal(&tf.num, &tm.num, sizeof tf.num);
        if (tm.str) {
            assert_int_equal(tf.len, tm.len);
            assert_memory_equal(tf.str, saved, tm.len + 1);
        }
        tokens++;
    } while (tm.type != FA_JSON_TOK_EOF);
    assert_int_equal(tokens, 12000 * 12 + 3);
    free(saved);
    fa_json_close(f);
    fa_json_close(m);

    /* an error far into a file names its exact place */
    doc.len--;
    fa_buf_puts(&doc, ",\n   {\"a\": 01}]");
    unsigned long lines = 1;
    for (size_t i = 0; i < doc.len; i++) lines += doc.data[i] == '\n';
    free(path);
    path = fa_test_write_file(dir, "bad.json", doc.data, doc.len);
    f = fa_json_open_file(path, 0);
    int n;
    fa_arena *a = fa_arena_new(0);
    fa_json_value *v;
    assert_int_equal(fa_json_expect(f, FA_JSON_TOK_BEGIN_ARRAY, NULL), 0);
    n = 0;
    int rc;
    while ((rc = fa_json_array_next(f, a, &v)) == 1) {
        n++;
        fa_arena_reset(a);
    }
    assert_int_equal(rc, FA_EINVAL);
    assert_int_equal(n, 12000);
    char want[128];
    snprintf(want, sizeof want, "bad.json:%lu:10: invalid number (leading zero)", lines);
    assert_string_equal(fa_err_msg(), want);
    fa_json_close(f);
    fa_arena_free(a);
    free(path);
    fa_test_rmtree(dir);
    free(dir);
    fa_buf_free(&doc);
}

static void test_open_errors(void **state) {
    (void)state;
    assert_null(fa_json_open_file("/nonexistent/x.json", 0));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "x.json"));
    assert_null(fa_json_open_file("/tmp", 0));
    assert_string_equal(fa_err_msg(), "/tmp: is a directory, not a file");
    fa_json_close(NULL);
}

/* The real StatsBomb file, one event at a time in an arena reset per event. */
static void test_statsbomb_events(void **state) {
    (void)state;
    const char *path = fa_test_data("events/statsbomb/15986_event.json");
    FA_TEST_REQUIRE_DATA(path);
    fa_json_reader *r = fa_json_open_file(path, 0);
    assert_non_null(r);
    fa_arena *a = fa_arena_new(0);
    fa_json_value *ev;
    assert_int_equal(fa_json_expect(r, FA_JSON_TOK_BEGIN_ARRAY, NULL), 0);
    int rc, shots = 0, passes = 0;
    size_t n = 0, most = 0;
    double xg = 0;
    int64_t index = 0, period;
    while ((rc = fa_json_array_next(r, a, &ev)) == 1) {
        n++;
        assert_int_equal(fa_json_req_int(r, ev, "index", 1, 100000, &index), 0);
        assert_int_equal(index, (int64_t)n);
        assert_int_equal(fa_json_req_int(r, ev, "period", 1, 5, &period), 0);
        const fa_json_value *type;
        const char *type_name;
        assert_int_equal(fa_json_req_obj(r, ev, "type", &type), 0);
        assert_int_equal(fa_json_req_str(r, type, "name", &type_name), 0);
        if (n == 1) {
            assert_string_equal(type_name, "Starting XI");
            assert_int_equal(ev->line, 1);
            assert_int_equal(ev->col, 3);
        }
        if (strcmp(type_name, "Pass") == 0) passes++;
        if (strcmp(type_name, "Shot") == 0) {
            const fa_json_value *shot;
            double x;
            shots++;
            assert_int_equal(fa_json_req_obj(r, ev, "shot", &shot), 0);
            assert_int_equal(fa_json_req_num(r, shot, "statsbomb_xg", &x), 0);
            xg += x;
        }
        if (n == 4027) {
            assert_int_equal(ev->line, 170997);
            assert_int_equal(ev->col, 4);
            assert_int_equal(fa_json_req_int(r, ev, "index", 1, 4000, &index), FA_EINVAL);
            assert_string_equal(fa_err_msg(),
                                "15986_event.json:170999:13: field 'index': 4027 out of range [1, 4000]");
        }
        if (fa_arena_bytes(a) > most) most = fa_arena_bytes(a);
        fa_arena_reset(a);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 4027);
    assert_int_equal(shots, 27);
    assert_int_equal(passes, 1148);
    assert_true(fabs(xg - 2.206336972) < 1e-9);
    assert_true(most < 32 * 1024); /* the largest event (the Starting XI) */
    assert_int_equal(fa_json_expect(r, FA_JSON_TOK_EOF, NULL), 0);
    fa_json_close(r);
    fa_arena_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),          cmocka_unit_test(test_peek_expect_skip),
        cmocka_unit_test(test_dom),             cmocka_unit_test(test_array_next),
        cmocka_unit_test(test_syntax_errors),   cmocka_unit_test(test_number_errors),
        cmocka_unit_test(test_numbers),         cmocka_unit_test(test_string_errors),
        cmocka_unit_test(test_limits),          cmocka_unit_test(test_errors_are_sticky),
        cmocka_unit_test(test_json_lines),      cmocka_unit_test(test_getters),
        cmocka_unit_test(test_writer),          cmocka_unit_test(test_window_boundaries),
        cmocka_unit_test(test_open_errors),     cmocka_unit_test(test_statsbomb_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
