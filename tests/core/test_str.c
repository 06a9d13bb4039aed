/*
 * test_str.c - the string helpers of core: UTF-8 validation (overlongs,
 * surrogates, code points above U+10FFFF, cut sequences), truncation on a
 * character boundary, and the strict number parsers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "testutil.h"

static void check_utf8(const char *s, size_t n, int valid, size_t bad_at) {
    size_t at = 12345;
    int got = fa_utf8_valid(s, n, &at);
    if (got != valid) print_message("utf8 case of %zu bytes starting 0x%02X\n", n, (unsigned char)s[0]);
    assert_int_equal(got, valid);
    if (!valid) assert_int_equal(at, bad_at);
}

static void test_utf8_valid(void **state) {
    (void)state;
#define OK(s) check_utf8(s, sizeof(s) - 1, 1, 0)
#define BAD(s, at) check_utf8(s, sizeof(s) - 1, 0, at)
    OK("");
    OK("plain ascii");
    OK("Andr\xC3\xA9s");                /* U+00E9 */
    OK("\xE2\x82\xAC");                 /* U+20AC */
    OK("\xF0\x9F\x98\x80");             /* U+1F600 */
    OK("\xF4\x8F\xBF\xBF");             /* U+10FFFF, the last code point */
    OK("\xEF\xBF\xBF\xED\x9F\xBF");     /* U+FFFF, U+D7FF */
    OK("a\0b");                         /* U+0000 is a character */
    BAD("ab\x80", 2);                   /* stray continuation byte */
    BAD("\xC0\xAF", 0);                 /* overlong '/' */
    BAD("x\xC1\xBF", 1);                /* overlong 2-byte */
    BAD("\xE0\x80\xAF", 0);             /* overlong 3-byte */
    BAD("\xE0\x9F\xBF", 0);             /* overlong 3-byte, highest */
    BAD("\xF0\x80\x80\xAF", 0);         /* overlong 4-byte */
    BAD("\xF0\x8F\xBF\xBF", 0);         /* overlong 4-byte, highest */
    BAD("ok\xED\xA0\x80", 2);           /* U+D800, a surrogate */
    BAD("\xED\xBF\xBF", 0);             /* U+DFFF */
    BAD("\xF4\x90\x80\x80", 0);         /* U+110000 */
    BAD("\xF5\x80\x80\x80", 0);         /* lead byte beyond the range */
    BAD("\xFF", 0);
    BAD("abc\xE2\x82", 3);              /* cut short at the end */
    BAD("\xE2\x82z", 0);                /* cut short by an ASCII byte */
    BAD("\xC3\xA9\xC3", 2);
#undef OK
#undef BAD
    assert_int_equal(fa_utf8_valid("\xFF", 1, NULL), 0); /* bad_at is optional */
}

static void test_strlcpy_utf8(void **state) {
    (void)state;
    char dst[8];
    assert_int_equal(fa_strlcpy_utf8(dst, "short", sizeof dst), 5);
    assert_string_equal(dst, "short");
    assert_int_equal(fa_strlcpy_utf8(dst, "exactly", sizeof dst), 7);
    assert_string_equal(dst, "exactly");
    assert_int_equal(fa_strlcpy_utf8(dst, "too long by far", sizeof dst), 15);
    assert_string_equal(dst, "too lon");
    /* "abcde" + U+20AC (3 bytes): only 2 of its bytes would fit, so it goes */
    assert_int_equal(fa_strlcpy_utf8(dst, "abcde\xE2\x82\xAC", sizeof dst), 8);
    assert_string_equal(dst, "abcde");
    /* "abcd" + U+20AC fits exactly in 7 bytes */
    assert_int_equal(fa_strlcpy_utf8(dst, "abcd\xE2\x82\xAC!", sizeof dst), 8);
    assert_string_equal(dst, "abcd\xE2\x82\xAC");
    /* a 4-byte character cut after 1, 2 or 3 bytes */
    for (size_t size = 2; size <= 4; size++) {
        assert_int_equal(fa_strlcpy_utf8(dst, "\xF0\x9F\x98\x80", size), 4);
        assert_string_equal(dst, "");
    }
    assert_int_equal(fa_strlcpy_utf8(dst, "\xF0\x9F\x98\x80", 5), 4);
    assert_string_equal(dst, "\xF0\x9F\x98\x80");
    memcpy(dst, "keep", 5);
    assert_int_equal(fa_strlcpy_utf8(dst, "anything", 0), 8); /* size 0 writes nothing */
    assert_string_equal(dst, "keep");
    assert_int_equal(fa_strlcpy_utf8(dst, "x", 1), 1);
    assert_string_equal(dst, "");
}

static void test_parse_double(void **state) {
    (void)state;
    double d = 0;
    assert_int_equal(fa_parse_double("0.45", &d), 0);
    assert_true(d == 0.45);
    assert_int_equal(fa_parse_double("-1e3", &d), 0);
    assert_true(d == -1000);
    assert_int_equal(fa_parse_double("5744.88", &d), 0);
    assert_true(d == 5744.88);
    assert_int_equal(fa_parse_double("1e-400", &d), FA_EINVAL); /* underflow is out of range */
    d = 7;
    static const char *const bad[] = {"", "abc", "1.5x", "1 ", "inf", "-inf",
                                      "nan", "NaN", "1e999", "--1", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fa_parse_double(bad[i], &d), FA_EINVAL);
    assert_true(d == 7); /* untouched on error */
    assert_int_equal(fa_parse_double(NULL, &d), FA_EINVAL);
}

static void test_parse_int(void **state) {
    (void)state;
    int64_t v = 0;
    assert_int_equal(fa_parse_int("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(fa_parse_int("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(fa_parse_int("100", 0, 100, &v), 0); /* bounds are inclusive */
    assert_int_equal(fa_parse_int("0", 0, 100, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(fa_parse_int("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(fa_parse_int("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MIN);
    v = 3;
    static const char *const bad[] = {"", "x", "1.5", "12a", "1e3", "101", "-1", "9223372036854775808"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fa_parse_int(bad[i], 0, 100, &v), FA_EINVAL);
    assert_int_equal(fa_parse_int("9223372036854775808", INT64_MIN, INT64_MAX, &v), FA_EINVAL);
    assert_int_equal(v, 3);
}

static void test_misc(void **state) {
    (void)state;
    assert_true(fa_strcaseeq("Home", "HOME"));
    assert_false(fa_strcaseeq("Home", "Away"));
    assert_string_equal(fa_path_base("a/b/c.json"), "c.json");
    assert_string_equal(fa_path_base("c.json"), "c.json");
    assert_string_equal(fa_path_base("dir/"), "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid), cmocka_unit_test(test_strlcpy_utf8),
        cmocka_unit_test(test_parse_double), cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_misc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
