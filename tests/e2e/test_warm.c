/*
 * test_warm.c - cache warming, end to end with the real binary: a warm file
 * is computed into the cache at start-up (the first request for its keys
 * is an L1 hit), a re-import by another process drops the cache and the
 * keys that were hot are recomputed in the background with the new data,
 * and at SIGTERM the warm file is rewritten with the hottest keys first.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e_http.h"
#include "testutil.h"

#define K1 "/v1/matches/1/stats"
#define K2 "/v1/matches/1/players"
#define K3 "/v1/matches/1/possession"

typedef struct env {
    char *dir;
    char db[4200], warm[4200], sb[4200];
    pid_t pid;
    int port;
} env;

static int setup(void **state) {
    const char *sb = fa_test_data("events/statsbomb/15986_event.json");
    if (!fa_test_file_exists(sb)) return 0;
    env *e = calloc(1, sizeof *e);
    *state = e;
    e->dir = fa_test_tmpdir();
    snprintf(e->sb, sizeof e->sb, "%s", sb);
    snprintf(e->db, sizeof e->db, "%s/fa.db", e->dir);
    snprintf(e->warm, sizeof e->warm, "%s/fa.db.warm", e->dir); /* the default name */
    char args[9000];
    snprintf(args, sizeof args, "import --quiet --db '%s' '%s'", e->db, sb);
    if (fa_test_run_cli(args, NULL, NULL) != 0) return -1;
    FILE *f = fopen(e->warm, "w");
    fprintf(f, "# hand-written\n" K1 "\n" K2 "\n\n/not/a/route\nnot-a-key\n" K3 "\n");
    fclose(f);
    int out[2];
    if (pipe(out) != 0) return -1;
    e->pid = fork();
    if (e->pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(getenv("FA_BIN"), "footanalytics", "serve", "--db", e->db, "--port", "0", "--loops", "2",
              (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[512];
    FILE *o = fdopen(out[0], "r");
    if (!o || !fgets(line, sizeof line, o)) return -1;
    fclose(o);
    e->port = e2e_port_of(line);
    return e->port > 0 ? 0 : -1;
}

static int teardown(void **state) {
    env *e = *state;
    if (!e) return 0;
    if (e->pid > 0) {
        kill(e->pid, SIGKILL);
        waitpid(e->pid, NULL, 0);
    }
    fa_test_rmtree(e->dir);
    free(e->dir);
    free(e);
    return 0;
}

static env *need(void **state) {
    if (!*state) {
        print_message("SKIP: shared data not found\n");
        skip();
    }
    return *state;
}

#define WARMED "fa_cache_warmed_total{result=\"ok\"}"
#define FAILED "fa_cache_warmed_total{result=\"failed\"}"
#define L1_HITS "fa_cache_hits_total{layer=\"l1\"}"
#define L1_MISSES "fa_cache_misses_total{layer=\"l1\"}"

static char buf[1 << 20];

static void test_warm_file_at_start(void **state) {
    env *e = need(state);
    assert_int_equal(e2e_wait_metric(e->port, WARMED, 3), 3);
    assert_int_equal(e2e_metric(e->port, FAILED), 1); /* /not/a/route: queued, no such route */
    double misses = e2e_metric(e->port, L1_MISSES), hits = e2e_metric(e->port, L1_HITS);
    assert_int_equal(e2e_http(e->port, "GET", K1, NULL, buf, sizeof buf), 200);
    assert_int_equal(e2e_http(e->port, "GET", K3, NULL, buf, sizeof buf), 200);
    assert_int_equal(e2e_metric(e->port, L1_MISSES), misses); /* both were ready */
    assert_int_equal(e2e_metric(e->port, L1_HITS), hits + 2);
}

static long json_int_after(const char *text, const char *key) {
    const char *p = strstr(text, key);
    return p ? atol(p + strlen(key)) : -1;
}

static void test_reimport_refills(void **state) {
    env *e = need(state);
    for (int i = 0; i < 5; i++)
        assert_int_equal(e2e_http(e->port, "GET", K1, NULL, buf, sizeof buf), 200); /* K1 hottest */
    long before = json_int_after(buf, "\"pass_strings\":");
    assert_true(before > 0);
    double warmed = e2e_metric(e->port, WARMED);
    char args[9000];
    snprintf(args, sizeof args, "import --quiet --db '%s' --set pass_string_min=8 '%s'", e->db, e->sb);
    assert_int_equal(fa_test_run_cli(args, NULL, NULL), 0);
    e2e_sleep(0.3);
    assert_int_equal(e2e_http(e->port, "GET", "/healthz", NULL, buf, sizeof buf),
                     200);                                                   /* the next request notices */
    assert_true(e2e_wait_metric(e->port, WARMED, warmed + 3) >= warmed + 3); /* K1..K3 recomputed */
    double misses = e2e_metric(e->port, L1_MISSES);
    assert_int_equal(e2e_http(e->port, "GET", K1, NULL, buf, sizeof buf), 200);
    assert_int_equal(e2e_metric(e->port, L1_MISSES), misses); /* refilled before it was asked for */
    long after = json_int_after(buf, "\"pass_strings\":");
    assert_true(after >= 0 && after < before); /* with the new data */
}

static void test_warm_file_written_at_exit(void **state) {
    env *e = need(state);
    assert_int_equal(kill(e->pid, SIGTERM), 0);
    int st;
    assert_int_equal(waitpid(e->pid, &st, 0), e->pid);
    e->pid = 0;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *text = fa_test_read_file(e->warm, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "# footanalytics warm file"));
    const char *k1 = strstr(text, "\n" K1 "\n"), *k2 = strstr(text, "\n" K2 "\n");
    assert_non_null(k1);
    assert_non_null(k2);
    assert_true(k1 < k2); /* the most requested first */
    assert_null(strstr(text, "/metrics"));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warm_file_at_start),
        cmocka_unit_test(test_reimport_refills),
        cmocka_unit_test(test_warm_file_written_at_exit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
