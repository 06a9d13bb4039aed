/*
 * test_process.c - process metrics sampled from /proc/self: resident memory
 * grows by what the test touches, CPU time grows by the work done, one
 * more open file and one more thread are counted exactly, the start time
 * is this process', and the metrics appear in a registry's exposition.
 */
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "obs/obs.h"
#include "testutil.h"

static fa_obs_process_stats sample(void) {
    fa_obs_process_stats s;
    assert_int_equal(fa_obs_process_sample(&s), 0);
    return s;
}

static void test_memory(void **state) {
    (void)state;
    fa_obs_process_stats before = sample();
    assert_true(before.rss_bytes > 0);
    assert_true(before.vmem_bytes >= before.rss_bytes);
    size_t n = 64u << 20;
    volatile char *block = malloc(n);
    assert_non_null((void *)block);
    for (size_t i = 0; i < n; i += 4096) block[i] = (char)i;
    fa_obs_process_stats after = sample();
    assert_true(after.rss_bytes - before.rss_bytes >= 60.0 * (1 << 20));
    free((void *)block);
    double limit = fa_obs_memory_limit_bytes();
    assert_true(limit > after.rss_bytes);
}

static void test_cpu_grows_with_work(void **state) {
    (void)state;
    double before = sample().cpu_seconds;
    double until = fa_clock_cpu() + 0.05;
    volatile double x = 0;
    while (fa_clock_cpu() < until)
        for (int i = 0; i < 1000; i++) x += sqrt((double)i);
    assert_true(x > 0);
    double after = sample().cpu_seconds;
    assert_true(after - before >= 0.05);
    assert_true(after - before < 5);
}

static void *wait_for_release(void *arg) {
    pthread_mutex_t *m = arg;
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
    return NULL;
}

static void test_fds_and_threads(void **state) {
    (void)state;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_t t;
    /* a first thread, joined: sanitizer runtimes start a helper thread with it */
    assert_int_equal(pthread_create(&t, NULL, wait_for_release, &m), 0);
    pthread_join(t, NULL);
    usleep(20 * 1000); /* the kernel may count a joined thread for a few more microseconds */
    fa_obs_process_stats before = sample();
    int fd = open("/proc/self/stat", O_RDONLY);
    assert_true(fd >= 0);
    pthread_mutex_lock(&m);
    assert_int_equal(pthread_create(&t, NULL, wait_for_release, &m), 0);
    fa_obs_process_stats during = sample();
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);
    close(fd);
    assert_true(during.open_fds == before.open_fds + 1);
    assert_true(during.threads == before.threads + 1);
    assert_true(before.open_fds >= 3); /* stdin, stdout, stderr */
    assert_true(before.max_fds >= before.open_fds);
    assert_true(before.threads >= 1);
}

static void test_start_time(void **state) {
    (void)state;
    double now = (double)time(NULL), start = sample().start_time_seconds;
    assert_true(start <= now + 1);
    assert_true(now - start < 600); /* this test program started moments ago */
}

static void test_registered(void **state) {
    (void)state;
    fa_obs_registry *r = fa_obs_registry_new();
    assert_int_equal(fa_obs_process_register(r), 0);
    fa_buf out = {0};
    assert_int_equal(fa_obs_registry_expose(r, &out), 0);
    const char *names[] = {FA_M_PROCESS_RSS,      FA_M_PROCESS_VMEM,    FA_M_PROCESS_CPU,
                           FA_M_PROCESS_OPEN_FDS, FA_M_PROCESS_MAX_FDS, FA_M_PROCESS_START_TIME,
                           FA_M_PROCESS_THREADS,  FA_M_MEMORY_LIMIT};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "\n%s ", names[i]);
        if (!strstr(out.data, line)) print_message("missing %s in:\n%s", names[i], out.data);
        assert_non_null(strstr(out.data, line));
    }
    assert_non_null(strstr(out.data, "# TYPE process_cpu_seconds_total counter\n"));
    assert_null(strstr(out.data, "NaN"));
    fa_obs_gauge *rss = fa_obs_gauge_with(fa_obs_family_find(r, FA_M_PROCESS_RSS), NULL);
    assert_true(fa_obs_gauge_value(rss) > 0);
    fa_buf_free(&out);
    fa_obs_registry_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),          cmocka_unit_test(test_cpu_grows_with_work),
        cmocka_unit_test(test_fds_and_threads), cmocka_unit_test(test_start_time),
        cmocka_unit_test(test_registered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
