/* test_apikey.c - `footanalytics apikey new|list|revoke`: the key printed once, the file's mode and
 * line format, listing without hashes, revocation, and the refusals (duplicate, bad scope, bad file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/security.h"
#include "testutil.h"

typedef struct run {
    int status;
    char *out, *err;
} run;

static run cli(const char *fmt, ...) FA_PRINTF(1, 2);

static run cli(const char *fmt, ...) {
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    run r;
    r.status = fa_test_run_cli(args, &r.out, &r.err);
    return r;
}

static void run_free(run *r) {
    free(r->out);
    free(r->err);
}

static void expect(run r, int status, const char *in_out, const char *in_err) {
    if (r.status != status)
        fail_msg("exit %d, want %d\nstdout: %s\nstderr: %s", r.status, status, r.out, r.err);
    const char *want_out = in_out ? in_out : "", *want_err = in_err ? in_err : ""; /* (gcc -O3 sees NULLs) */
    if (!strstr(r.out, want_out)) fail_msg("stdout lacks '%s':\n%s", want_out, r.out);
    if (!strstr(r.err, want_err)) fail_msg("stderr lacks '%s':\n%s", want_err, r.err);
    run_free(&r);
}

/* `new`: the key on stdout's first line, once; its hash in the file. Returns the key (malloc'd). */
static char *new_key(const char *file, const char *name, const char *extra) {
    run r = cli("apikey new %s --file '%s' %s", name, file, extra);
    if (r.status != 0) fail_msg("apikey new %s: exit %d\n%s%s", name, r.status, r.out, r.err);
    char *nl = strchr(r.out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    char *key = strdup(r.out);
    assert_int_equal(strlen(key), FA_API_KEY_LEN);
    assert_memory_equal(key, "fa_", 3);
    assert_non_null(strstr(nl + 1, "cannot be shown again"));
    assert_null(strstr(nl + 1, key)); /* printed once */
    run_free(&r);
    return key;
}

static void test_new_list_revoke(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), file[4200];
    snprintf(file, sizeof file, "%s/api.keys", dir);
    char *k1 = new_key(file, "ci", "");
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* The file: one line "ci sha256:<hash of the key> write,admin". */
    char hash[FA_API_KEY_HASH_SIZE], want[256];
    assert_int_equal(fa_api_key_hash_hex(k1, strlen(k1), hash, sizeof hash), 0);
    snprintf(want, sizeof want, "ci sha256:%s write,admin\n", hash);
    char *text = fa_test_read_file(file, NULL);
    assert_string_equal(text, want);
    free(text);

    char *k2 = new_key(file, "reporter.v2", "--scopes write");
    char *k3 = new_key(file, "root", "--scopes admin,write");
    fa_api_keys *keys = fa_api_keys_load(file);
    assert_non_null(keys);
    assert_int_equal(fa_api_keys_count(keys), 3);
    assert_int_equal(fa_api_keys_check(keys, k2, strlen(k2), FA_API_SCOPE_WRITE, NULL), 1);
    assert_int_equal(fa_api_keys_check(keys, k2, strlen(k2), FA_API_SCOPE_ADMIN, NULL), -1);
    assert_int_equal(fa_api_keys_check(keys, k3, strlen(k3), FA_API_SCOPE_ALL, NULL), 1);
    fa_api_keys_free(keys);

    run r = cli("apikey list --file '%s'", file);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "ci                       write,admin\n"
                               "reporter.v2              write\n"
                               "root                     write,admin\n");
    assert_null(strstr(r.out, "sha256"));
    run_free(&r);

    /* The file from $FA_API_KEYS, revoke with it. */
    setenv("FA_API_KEYS", file, 1);
    expect(cli("apikey revoke reporter.v2"), 0, "revoked key 'reporter.v2'", NULL);
    unsetenv("FA_API_KEYS");
    keys = fa_api_keys_load(file);
    assert_non_null(keys);
    assert_int_equal(fa_api_keys_count(keys), 2);
    assert_int_equal(fa_api_keys_check(keys, k2, strlen(k2), FA_API_SCOPE_WRITE, NULL), 0);
    assert_int_equal(fa_api_keys_check(keys, k1, strlen(k1), FA_API_SCOPE_ALL, NULL), 1);
    fa_api_keys_free(keys);
    expect(cli("apikey revoke reporter.v2 --file '%s'", file), 2, NULL, "no key 'reporter.v2'");
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    free(k1);
    free(k2);
    free(k3);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_refusals(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), file[4200];
    snprintf(file, sizeof file, "%s/api.keys", dir);
    free(new_key(file, "ci", ""));
    char *before = fa_test_read_file(file, NULL);

    expect(cli("apikey new ci --file '%s'", file), 2, "", "key 'ci' already exists");
    expect(cli("apikey new other --file '%s' --scopes read", file), 1, "", "unknown scope 'read'");
    expect(cli("apikey new other --file '%s' --scopes write,", file), 1, "", "empty item");
    expect(cli("apikey new 'bad name' --file '%s'", file), 1, "", "key name 'bad name'");
    expect(cli("apikey new --file '%s'", file), 1, "", "missing NAME");
    expect(cli("apikey frob --file '%s'", file), 1, "", "unknown subcommand 'frob'");
    expect(cli("apikey"), 1, "", "missing subcommand");
    expect(cli("apikey list extra --file '%s'", file), 1, "", "unexpected argument 'extra'");
    expect(cli("apikey revoke ci --scopes write --file '%s'", file), 1, "", "--scopes is only for 'new'");
    /* Nothing above changed the file, and no temp file was left. */
    char *after = fa_test_read_file(file, NULL);
    assert_string_equal(before, after);
    free(after);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s')\" = api.keys", dir);
    assert_int_equal(system(cmd), 0);

    /* A malformed file is refused, not rewritten. */
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/bad.keys", dir);
    char *p = fa_test_write_file(dir, "bad.keys", "# header\nx sha256:zz\n", 21);
    free(p);
    expect(cli("apikey new y --file '%s'", bad), 2, "", "bad.keys:2: hash 'sha256:zz'");
    expect(cli("apikey list --file '%s'", bad), 2, "", "bad.keys:2");
    char *still = fa_test_read_file(bad, NULL);
    assert_string_equal(still, "# header\nx sha256:zz\n");
    free(still);
    expect(cli("apikey list --file '%s/none.keys'", dir), 3, "", "none.keys: no such file");
    expect(cli("apikey new z --file '%s/no/such/dir.keys'", dir), 3, "", "cannot open the directory");
    free(before);
    fa_test_rmtree(dir);
    free(dir);
}

/* Comments, blank lines and a missing final newline survive edits; the mode of an existing file is kept. */
static void test_edits_keep_the_rest(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    const char *text = "# keys of the staging server\n"
                       "\n"
                       "old sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef write\n"
                       "# end";
    char *file = fa_test_write_file(dir, "k", text, strlen(text));
    chmod(file, 0640);
    char *key = new_key(file, "new", "--scopes admin");
    char hash[FA_API_KEY_HASH_SIZE], want[1024];
    assert_int_equal(fa_api_key_hash_hex(key, strlen(key), hash, sizeof hash), 0);
    snprintf(want, sizeof want, "%s\nnew sha256:%s admin\n", text, hash);
    char *got = fa_test_read_file(file, NULL);
    assert_string_equal(got, want);
    free(got);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);

    expect(cli("apikey revoke old --file '%s'", file), 0, "revoked key 'old'", NULL);
    snprintf(want, sizeof want, "# keys of the staging server\n\n# end\nnew sha256:%s admin\n", hash);
    got = fa_test_read_file(file, NULL);
    assert_string_equal(got, want);
    free(got);
    expect(cli("apikey revoke new --file '%s'", file), 0, NULL, NULL);
    got = fa_test_read_file(file, NULL);
    assert_string_equal(got, "# keys of the staging server\n\n# end\n");
    free(got);
    expect(cli("apikey list --file '%s'", file), 0, "", NULL);
    /* Only the keys file is in the directory: every temp file was renamed or removed. */
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s')\" = k", dir);
    assert_int_equal(system(cmd), 0);
    free(key);
    free(file);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_help(void **state) {
    (void)state;
    expect(cli("apikey --help"), 0, "usage: footanalytics apikey new NAME", NULL);
    expect(cli("apikey --help"), 0, "usage: footanalytics apikey revoke NAME", NULL);
    expect(cli("apikey new --help"), 0, "--scopes SCOPES", NULL);
    run r = cli("apikey list --help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: footanalytics apikey list [--file PATH]"));
    assert_null(strstr(r.out, "--scopes"));
    assert_non_null(strstr(r.out, "FA_API_KEYS"));
    run_free(&r);
    expect(cli("apikey revoke --help"), 0, "remove the key NAME", NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_list_revoke),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_edits_keep_the_rest),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
