/* test_apikeys.c - API keys: generation and hashing, the strict keys-file parser, the constant-time
 * check and its scopes, and taking the key from a request's headers. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/security.h"
#include "testutil.h"

static fa_strv sv(const char *s) { return (fa_strv){s, strlen(s)}; }

/* A keys file in a fresh temp dir (mode 0600); *dir to remove. */
static char *keys_file(char **dir, const char *text) {
    *dir = fa_test_tmpdir();
    assert_non_null(*dir);
    char *path = fa_test_write_file(*dir, "keys.txt", text, strlen(text));
    assert_non_null(path);
    chmod(path, 0600);
    return path;
}

static void test_hash_and_generate(void **state) {
    (void)state;
    char hex[FA_API_KEY_HASH_SIZE];
    assert_int_equal(fa_api_key_hash_hex("abc", 3, hex, sizeof hex), 0); /* FIPS 180-2 test vector */
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    char k1[FA_API_KEY_SIZE], h1[FA_API_KEY_HASH_SIZE], k2[FA_API_KEY_SIZE], h2[FA_API_KEY_HASH_SIZE];
    assert_int_equal(fa_api_key_generate(k1, sizeof k1, h1, sizeof h1), 0);
    assert_int_equal(fa_api_key_generate(k2, sizeof k2, h2, sizeof h2), 0);
    assert_int_equal(strlen(k1), FA_API_KEY_LEN);
    assert_memory_equal(k1, "fa_", 3);
    assert_int_equal(strspn(k1 + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    assert_string_not_equal(k1, k2);
    assert_int_equal(strlen(h1), 64);
    assert_int_equal(fa_api_key_hash_hex(k1, strlen(k1), hex, sizeof hex), 0);
    assert_string_equal(hex, h1);

    assert_int_equal(fa_api_key_generate(k1, FA_API_KEY_SIZE - 1, h1, sizeof h1), FA_EINVAL);
    assert_int_equal(fa_api_key_generate(k1, sizeof k1, h1, 64), FA_EINVAL);
    assert_int_equal(fa_api_key_hash_hex("abc", 3, hex, 64), FA_EINVAL);
}

static void test_names_and_scopes(void **state) {
    (void)state;
    assert_true(fa_api_key_name_valid("ci-deploy_1.prod", 16));
    assert_false(fa_api_key_name_valid("", 0));
    assert_false(fa_api_key_name_valid("a b", 3));
    assert_false(fa_api_key_name_valid("é", 2));
    char long_name[66];
    memset(long_name, 'n', sizeof long_name);
    assert_true(fa_api_key_name_valid(long_name, 64));
    assert_false(fa_api_key_name_valid(long_name, 65));

    unsigned s = 0;
    assert_int_equal(fa_api_scopes_parse("write", 5, &s), 0);
    assert_int_equal(s, FA_API_SCOPE_WRITE);
    assert_int_equal(fa_api_scopes_parse("admin,write", 11, &s), 0);
    assert_int_equal(s, FA_API_SCOPE_ALL);
    assert_int_equal(fa_api_scopes_parse("read", 4, &s), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "unknown scope 'read' (expected write or admin)");
    assert_int_equal(fa_api_scopes_parse("write,", 6, &s), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "empty item"));
    assert_int_equal(fa_api_scopes_parse("", 0, &s), FA_EINVAL);
    assert_string_equal(fa_api_scopes_text(FA_API_SCOPE_ALL), "write,admin");
    assert_string_equal(fa_api_scopes_text(FA_API_SCOPE_ADMIN), "admin");
}

static void test_load_and_check(void **state) {
    (void)state;
    char key_a[FA_API_KEY_SIZE], hash_a[FA_API_KEY_HASH_SIZE], key_w[FA_API_KEY_SIZE],
        hash_w[FA_API_KEY_HASH_SIZE], key_x[FA_API_KEY_SIZE], hash_x[FA_API_KEY_HASH_SIZE];
    assert_int_equal(fa_api_key_generate(key_a, sizeof key_a, hash_a, sizeof hash_a), 0);
    assert_int_equal(fa_api_key_generate(key_w, sizeof key_w, hash_w, sizeof hash_w), 0);
    assert_int_equal(fa_api_key_generate(key_x, sizeof key_x, hash_x, sizeof hash_x), 0);
    for (char *p = hash_w; *p; p++) /* hex digits in either case */
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    char text[1024];
    snprintf(text, sizeof text,
             "# FootAnalytics API keys\n"
             "\n"
             "ops sha256:%s\r\n"
             "   \t\n"
             "  ingest\tsha256:%s   write\n"
             "# admin-only\n"
             "auditor sha256:%s admin",
             hash_a, hash_w, hash_x);
    char *dir, *path = keys_file(&dir, text);
    fa_api_keys *k = fa_api_keys_load(path);
    if (!k) fail_msg("load: %s", fa_err_msg());
    assert_int_equal(fa_api_keys_count(k), 3);
    assert_string_equal(fa_api_keys_name(k, 0), "ops");
    assert_int_equal(fa_api_keys_scopes(k, 0), FA_API_SCOPE_ALL);
    assert_string_equal(fa_api_keys_name(k, 1), "ingest");
    assert_int_equal(fa_api_keys_scopes(k, 1), FA_API_SCOPE_WRITE);
    assert_string_equal(fa_api_keys_name(k, 2), "auditor");
    assert_int_equal(fa_api_keys_scopes(k, 2), FA_API_SCOPE_ADMIN);
    assert_null(fa_api_keys_name(k, 3));

    const char *name = NULL;
    assert_int_equal(fa_api_keys_check(k, key_a, strlen(key_a), FA_API_SCOPE_ALL, &name), 1);
    assert_string_equal(name, "ops");
    assert_int_equal(fa_api_keys_check(k, key_w, strlen(key_w), FA_API_SCOPE_WRITE, &name), 1);
    assert_string_equal(name, "ingest");
    name = NULL;
    assert_int_equal(fa_api_keys_check(k, key_w, strlen(key_w), FA_API_SCOPE_ADMIN, &name), -1);
    assert_string_equal(name, "ingest");
    assert_int_equal(fa_api_keys_check(k, key_x, strlen(key_x), FA_API_SCOPE_WRITE, &name), -1);
    assert_int_equal(fa_api_keys_check(k, key_x, strlen(key_x), FA_API_SCOPE_ADMIN, NULL), 1);

    /* Unknown: another key, a prefix, a longer text, empty, the hash itself, too long. */
    name = NULL;
    char other[FA_API_KEY_SIZE], other_hash[FA_API_KEY_HASH_SIZE];
    assert_int_equal(fa_api_key_generate(other, sizeof other, other_hash, sizeof other_hash), 0);
    assert_int_equal(fa_api_keys_check(k, other, strlen(other), FA_API_SCOPE_WRITE, &name), 0);
    assert_null(name);
    assert_int_equal(fa_api_keys_check(k, key_a, strlen(key_a) - 1, FA_API_SCOPE_WRITE, NULL), 0);
    char longer[64];
    snprintf(longer, sizeof longer, "%s=", key_a);
    assert_int_equal(fa_api_keys_check(k, longer, strlen(longer), FA_API_SCOPE_WRITE, NULL), 0);
    assert_int_equal(fa_api_keys_check(k, "", 0, FA_API_SCOPE_WRITE, NULL), 0);
    assert_int_equal(fa_api_keys_check(k, hash_a, strlen(hash_a), FA_API_SCOPE_WRITE, NULL), 0);
    char huge[FA_API_KEY_PRESENTED_MAX + 1];
    memset(huge, 'a', sizeof huge);
    assert_int_equal(fa_api_keys_check(k, huge, sizeof huge, FA_API_SCOPE_WRITE, NULL), 0);
    assert_int_equal(fa_api_keys_check(NULL, key_a, strlen(key_a), FA_API_SCOPE_WRITE, NULL), 0);

    /* A presented key of exactly the maximum length is hashed and can match. */
    char max_key[FA_API_KEY_PRESENTED_MAX + 1], max_hash[FA_API_KEY_HASH_SIZE];
    memset(max_key, 'k', FA_API_KEY_PRESENTED_MAX);
    max_key[FA_API_KEY_PRESENTED_MAX] = '\0';
    assert_int_equal(fa_api_key_hash_hex(max_key, FA_API_KEY_PRESENTED_MAX, max_hash, sizeof max_hash), 0);
    fa_api_keys_free(k);
    free(path);
    snprintf(text, sizeof text, "long sha256:%s\n", max_hash);
    path = fa_test_write_file(dir, "keys.txt", text, strlen(text));
    k = fa_api_keys_load(path);
    assert_non_null(k);
    assert_int_equal(fa_api_keys_check(k, max_key, FA_API_KEY_PRESENTED_MAX, FA_API_SCOPE_ALL, &name), 1);
    assert_string_equal(name, "long");
    fa_api_keys_free(k);
    free(path);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_empty_file(void **state) {
    (void)state;
    char *dir, *path = keys_file(&dir, "# no keys yet\n\n");
    fa_api_keys *k = fa_api_keys_load(path);
    assert_non_null(k);
    assert_int_equal(fa_api_keys_count(k), 0);
    assert_int_equal(fa_api_keys_check(k, "fa_x", 4, FA_API_SCOPE_WRITE, NULL), 0);
    fa_api_keys_free(k);
    free(path);
    path = fa_test_write_file(dir, "empty", "", 0);
    chmod(path, 0600);
    k = fa_api_keys_load(path);
    assert_non_null(k);
    assert_int_equal(fa_api_keys_count(k), 0);
    fa_api_keys_free(k);
    free(path);
    fa_test_rmtree(dir);
    free(dir);
}

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H63 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
#define H32 "00000000000000000000000000000000"
#define H64B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void expect_load_error(const char *text, int code, const char *msg) {
    char *dir, *path = keys_file(&dir, text);
    fa_err_clear();
    fa_api_keys *k = fa_api_keys_load(path);
    if (k) fail_msg("loaded:\n%s", text);
    assert_int_equal(fa_err_code(), code);
    if (strcmp(fa_err_msg(), msg) != 0) fail_msg("message '%s', want '%s'", fa_err_msg(), msg);
    free(path);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_malformed_lines(void **state) {
    (void)state;
    expect_load_error("ok sha256:" H64 "\nbad!name sha256:" H64B "\n", FA_EINVAL,
                      "keys.txt:2: key name 'bad!name': expected 1-64 characters of [A-Za-z0-9_.-]");
    expect_load_error("a sha256:" H64 "x\n", FA_EINVAL,
                      "keys.txt:1: hash 'sha256:" H64 "x': expected 'sha256:' and 64 hex digits");
    expect_load_error("a sha1:" H64 "\n", FA_EINVAL,
                      "keys.txt:1: hash 'sha1:" H64 "': expected 'sha256:' and 64 hex digits");
    /* 64 characters, one not hex. */
    expect_load_error("\n\na sha256:" H63 "g\n", FA_EINVAL,
                      "keys.txt:3: hash 'sha256:" H63 "g': expected 'sha256:' and 64 hex digits");
    expect_load_error("a\n", FA_EINVAL, "keys.txt:1: key 'a' has no hash");
    expect_load_error("a sha256:" H64 "\n# c\nb sha256:" H64B "\na sha256:" H64B "\n", FA_EINVAL,
                      "keys.txt:4: duplicate key name 'a'");
    expect_load_error("a sha256:" H64 "\nb sha256:" H64 "\n", FA_EINVAL,
                      "keys.txt:2: key 'b' has the same hash as key 'a'");
    expect_load_error("a sha256:" H64 " read\n", FA_EINVAL,
                      "keys.txt:1: key 'a': unknown scope 'read' (expected write or admin)");
    expect_load_error("a sha256:" H64 " write,,admin\n", FA_EINVAL,
                      "keys.txt:1: key 'a': scopes 'write,,admin': empty item (expected write, admin)");
    expect_load_error("a sha256:" H64 " write # trailing comment\n", FA_EINVAL,
                      "keys.txt:1: too many fields (expected: name sha256:HEX [scopes])");
    /* Bytes that are not printable are echoed as '?', never raw. */
    expect_load_error("a\x01" "b sha256:" H64 "\n", FA_EINVAL,
                      "keys.txt:1: key name 'a?b': expected 1-64 characters of [A-Za-z0-9_.-]");
    char nul_line[] = "a\0b sha256:" H64 "\n";
    char *dir = fa_test_tmpdir(), *path = fa_test_write_file(dir, "keys.txt", nul_line, sizeof nul_line - 1);
    assert_null(fa_api_keys_load(path));
    assert_string_equal(fa_err_msg(), "keys.txt:1: key name 'a?b': expected 1-64 characters of "
                                      "[A-Za-z0-9_.-]");
    free(path);
    fa_test_rmtree(dir);
    free(dir);
    char too_long[200];
    snprintf(too_long, sizeof too_long, "%0100d sha256:" H64 "\n", 0); /* 100 zeros: echoed as 80 and ... */
    expect_load_error(too_long, FA_EINVAL,
                      "keys.txt:1: key name '" H32 H32 "0000000000000000...': "
                      "expected 1-64 characters of [A-Za-z0-9_.-]");
}

static void test_missing_and_odd_files(void **state) {
    (void)state;
    fa_err_clear();
    assert_null(fa_api_keys_load("/nonexistent/dir/api.keys"));
    assert_int_equal(fa_err_code(), FA_EIO);
    assert_string_equal(fa_err_msg(), "api.keys: no such file");
    char *dir = fa_test_tmpdir();
    assert_null(fa_api_keys_load(dir));
    assert_int_equal(fa_err_code(), FA_EIO);
    assert_non_null(strstr(fa_err_msg(), "not a regular file"));
    /* Over 1 MiB: refused before reading. */
    char path[4200];
    snprintf(path, sizeof path, "%s/big.keys", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (1 << 20) + 1), 0);
    close(fd);
    assert_null(fa_api_keys_load(path));
    assert_int_equal(fa_err_code(), FA_ELIMIT);
    assert_non_null(strstr(fa_err_msg(), "big.keys: 1048577 bytes"));
    fa_test_rmtree(dir);
    free(dir);
}

/* A world-readable file loads, with a warning on stderr (fa_log). */
static void test_world_readable_warns(void **state) {
    (void)state;
    char *dir, *path = keys_file(&dir, "a sha256:" H64 "\n");
    chmod(path, 0644);
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/log", dir);
    fflush(stderr);
    int saved = dup(2), fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    fa_api_keys *k = fa_api_keys_load(path);
    chmod(path, 0600);
    fa_api_keys *k2 = fa_api_keys_load(path);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_non_null(k);
    assert_non_null(k2);
    char *log = fa_test_read_file(log_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "level=warn msg=\"api keys file is world-readable\""));
    assert_non_null(strstr(log, "mode=644"));
    assert_null(strstr(strstr(log, "mode=644"), "world-readable")); /* one warning: 0600 is quiet */
    free(log);
    fa_api_keys_free(k);
    fa_api_keys_free(k2);
    free(path);
    fa_test_rmtree(dir);
    free(dir);
}

/* ---------------------------------------------------------------- requests */

static void request(fa_http_request *r, const char *const *headers) {
    memset(r, 0, sizeof *r);
    for (size_t i = 0; headers[i]; i += 2) {
        r->headers[r->nheaders].name = sv(headers[i]);
        r->headers[r->nheaders].value = sv(headers[i + 1]);
        r->nheaders++;
    }
}

static int from_headers(const char *const *headers, char *got, size_t size) {
    fa_http_request r;
    request(&r, headers);
    fa_strv key = {0};
    int rc = fa_api_key_from_request(&r, &key);
    got[0] = '\0';
    if (rc == 1) snprintf(got, size, "%.*s", (int)key.n, key.p);
    return rc;
}

static void test_key_from_request(void **state) {
    (void)state;
    char got[300];
    const char *none[] = {"Host", "x", NULL};
    assert_int_equal(from_headers(none, got, sizeof got), 0);
    const char *bearer[] = {"Host", "x", "Authorization", "Bearer fa_abc-_", NULL};
    assert_int_equal(from_headers(bearer, got, sizeof got), 1);
    assert_string_equal(got, "fa_abc-_");
    const char *bearer_case[] = {"authorization", "  bearer    fa_k  ", NULL};
    assert_int_equal(from_headers(bearer_case, got, sizeof got), 1);
    assert_string_equal(got, "fa_k");
    const char *xkey[] = {"x-api-key", "fa_xyz", NULL};
    assert_int_equal(from_headers(xkey, got, sizeof got), 1);
    assert_string_equal(got, "fa_xyz");
    const char *both_same[] = {"Authorization", "Bearer fa_1", "X-API-Key", "fa_1", NULL};
    assert_int_equal(from_headers(both_same, got, sizeof got), 1);
    assert_string_equal(got, "fa_1");
    const char *basic_and_x[] = {"Authorization", "Basic dXNlcjpwYXNz", "X-API-Key", "fa_2", NULL};
    assert_int_equal(from_headers(basic_and_x, got, sizeof got), 1);
    assert_string_equal(got, "fa_2");
    const char *basic[] = {"Authorization", "Basic dXNlcjpwYXNz", NULL};
    assert_int_equal(from_headers(basic, got, sizeof got), 0);
    const char *bearerish[] = {"Authorization", "Bearerfa_1", NULL};
    assert_int_equal(from_headers(bearerish, got, sizeof got), 0);

    /* Malformed. */
    const char *both_differ[] = {"Authorization", "Bearer fa_1", "X-API-Key", "fa_2", NULL};
    const char *empty_bearer[] = {"Authorization", "Bearer", NULL};
    const char *empty_bearer2[] = {"Authorization", "Bearer   ", NULL};
    const char *space_in_key[] = {"Authorization", "Bearer fa_1 fa_2", NULL};
    const char *empty_x[] = {"X-API-Key", "", NULL};
    const char *ctl_x[] = {"X-API-Key", "fa_\x7f", NULL};
    const char *utf8_x[] = {"X-API-Key", "fa_\xc3\xa9", NULL};
    const char *twice[] = {"X-API-Key", "fa_1", "x-api-key", "fa_1", NULL};
    const char *auth_twice[] = {"Authorization", "Bearer fa_1", "Authorization", "Bearer fa_1", NULL};
    const char *const *bad[] = {both_differ, empty_bearer, empty_bearer2, space_in_key, empty_x,
                                ctl_x,       utf8_x,       twice,         auth_twice};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (from_headers(bad[i], got, sizeof got) != -1) fail_msg("case %zu was not malformed", i);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_generate),
        cmocka_unit_test(test_names_and_scopes),
        cmocka_unit_test(test_load_and_check),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_missing_and_odd_files),
        cmocka_unit_test(test_world_readable_warns),
        cmocka_unit_test(test_key_from_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
