/*
 * test_pool.c - the process thread pool (src/core/pool.c): parallel-for sums
 * with 0, 1 and 3 workers, max_threads limits (distinct threads seen),
 * nested for_each from inside tasks (must not deadlock), submitted tasks
 * completing, fa_pool_free draining pending tasks, and the default pool.
 * Meant to run under TSan too (a build with -fsanitize=thread).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "core/pool.h"
#include "testutil.h"

#define MAX_SEEN 64

/* Per-index results plus the distinct threads that ran them. */
typedef struct sum_job {
    uint64_t *out; /* out[i] = i * i + 1, written once per index */
    atomic_int calls;
    pthread_mutex_t mu;
    pthread_t seen[MAX_SEEN];
    int n_seen;
    int slow; /* sleep a little per index so several threads get some */
} sum_job;

static void note_thread(sum_job *j) {
    pthread_t self = pthread_self();
    pthread_mutex_lock(&j->mu);
    int known = 0;
    for (int k = 0; k < j->n_seen; k++)
        known |= pthread_equal(j->seen[k], self);
    if (!known && j->n_seen < MAX_SEEN) j->seen[j->n_seen++] = self;
    pthread_mutex_unlock(&j->mu);
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void sum_index(void *arg, size_t i) {
    sum_job *j = arg;
    j->out[i] += (uint64_t)i * i + 1;
    atomic_fetch_add(&j->calls, 1);
    note_thread(j);
    if (j->slow) sleep_us(200);
}

/* Runs a for_each over n indexes and checks every index ran exactly once;
 * returns the distinct threads seen. */
static int run_sum(fa_pool *p, size_t n, int max_threads, int slow) {
    sum_job j = {.out = calloc(n ? n : 1, sizeof(uint64_t)), .slow = slow};
    assert_non_null(j.out);
    pthread_mutex_init(&j.mu, NULL);
    atomic_init(&j.calls, 0);
    fa_pool_for_each(p, n, max_threads, sum_index, &j);
    uint64_t total = 0, want = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(j.out[i], (uint64_t)i * i + 1);
        total += j.out[i];
        want += (uint64_t)i * i + 1;
    }
    assert_int_equal(total, want);
    assert_int_equal(atomic_load(&j.calls), (int)n);
    pthread_mutex_destroy(&j.mu);
    free(j.out);
    return j.n_seen;
}

static void test_sums_by_worker_count(void **state) {
    (void)state;
    const int workers[] = {0, 1, 3};
    for (size_t w = 0; w < sizeof workers / sizeof *workers; w++) {
        fa_pool *p = fa_pool_new(workers[w]);
        assert_non_null(p);
        assert_int_equal(fa_pool_threads(p), workers[w] + 1);
        assert_int_equal(run_sum(p, 0, 0, 0), 0);
        assert_int_equal(run_sum(p, 1, 0, 0), 1);
        int seen = run_sum(p, 100000, 0, 0);
        assert_true(seen >= 1 && seen <= workers[w] + 1);
        fa_pool_free(p);
    }
}

typedef struct order_job {
    int order[20];
    int n;
} order_job;

static void order_index(void *arg, size_t i) {
    order_job *o = arg;
    o->order[o->n++] = (int)i;
}

static void test_zero_workers_runs_on_caller_in_order(void **state) {
    (void)state;
    fa_pool *p = fa_pool_new(0);
    assert_non_null(p);
    sum_job j = {.out = calloc(50, sizeof(uint64_t))};
    pthread_mutex_init(&j.mu, NULL);
    fa_pool_for_each(p, 50, 0, sum_index, &j);
    assert_int_equal(j.n_seen, 1);
    assert_true(pthread_equal(j.seen[0], pthread_self()));
    pthread_mutex_destroy(&j.mu);
    free(j.out);
    order_job o = {.n = 0};
    fa_pool_for_each(p, 20, 0, order_index, &o);
    assert_int_equal(o.n, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(o.order[i], i);
    fa_pool_free(p);
}

static void test_max_threads_limits(void **state) {
    (void)state;
    fa_pool *p = fa_pool_new(3);
    assert_non_null(p);
    /* slow indexes: with no limit all four threads can join in */
    assert_int_equal(run_sum(p, 1, 0, 1), 1);
    int all = run_sum(p, 400, 0, 1);
    assert_true(all >= 2 && all <= 4);
    for (int max = 1; max <= 3; max++) {
        int seen = run_sum(p, 200, max, 1);
        assert_true(seen >= 1 && seen <= max);
    }
    /* max 1 is the caller alone */
    sum_job j = {.out = calloc(10, sizeof(uint64_t))};
    pthread_mutex_init(&j.mu, NULL);
    fa_pool_for_each(p, 10, 1, sum_index, &j);
    assert_int_equal(j.n_seen, 1);
    assert_true(pthread_equal(j.seen[0], pthread_self()));
    pthread_mutex_destroy(&j.mu);
    free(j.out);
    fa_pool_free(p);
}

/* Nesting: each outer index runs an inner for_each, and each inner index a
 * third level; with 1 or 2 workers every worker is busy in an outer index
 * while inner loops are queued, which deadlocks a pool whose callers wait. */
typedef struct nest_job {
    fa_pool *p;
    atomic_long total;
} nest_job;

static void nest_leaf(void *arg, size_t i) {
    nest_job *j = arg;
    atomic_fetch_add(&j->total, (long)i + 1);
}

static void nest_mid(void *arg, size_t i) {
    nest_job *j = arg;
    (void)i;
    fa_pool_for_each(j->p, 10, 0, nest_leaf, j); /* 55 */
}

static void nest_outer(void *arg, size_t i) {
    nest_job *j = arg;
    (void)i;
    fa_pool_for_each(j->p, 20, 0, nest_mid, j); /* 20 * 55 */
    sleep_us(100);
}

static void test_nested_for_each(void **state) {
    (void)state;
    for (int w = 0; w <= 3; w++) {
        fa_pool *p = fa_pool_new(w);
        assert_non_null(p);
        nest_job j = {.p = p};
        atomic_init(&j.total, 0);
        fa_pool_for_each(p, 30, 0, nest_outer, &j);
        assert_int_equal(atomic_load(&j.total), 30L * 20 * 55);
        fa_pool_free(p);
    }
}

/* A for_each from inside a submitted task. */
typedef struct submit_nest {
    nest_job job;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} submit_nest;

static void submit_nest_task(void *arg) {
    submit_nest *s = arg;
    fa_pool_for_each(s->job.p, 20, 0, nest_mid, &s->job);
    pthread_mutex_lock(&s->mu);
    s->done++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void test_for_each_inside_submitted_tasks(void **state) {
    (void)state;
    fa_pool *p = fa_pool_new(2);
    assert_non_null(p);
    submit_nest s = {.job = {.p = p}};
    atomic_init(&s.job.total, 0);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    for (int k = 0; k < 6; k++)
        assert_int_equal(fa_pool_submit(p, submit_nest_task, &s), 0);
    pthread_mutex_lock(&s.mu);
    while (s.done < 6)
        pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    assert_int_equal(atomic_load(&s.job.total), 6L * 20 * 55);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    fa_pool_free(p);
}

/* Submitted tasks: a counter and a condition variable. */
typedef struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    long sum;
    pthread_t caller;
    int on_caller; /* tasks that ran on the submitting thread */
    int slow;
} counter;

typedef struct counted_task {
    counter *c;
    long value;
} counted_task;

static void counted_run(void *arg) {
    counted_task *t = arg;
    if (t->c->slow) sleep_us(2000);
    pthread_mutex_lock(&t->c->mu);
    t->c->sum += t->value;
    t->c->done++;
    t->c->on_caller += pthread_equal(pthread_self(), t->c->caller) != 0;
    pthread_cond_signal(&t->c->cv);
    pthread_mutex_unlock(&t->c->mu);
}

static void counter_init(counter *c, int slow) {
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->caller = pthread_self();
    c->slow = slow;
}

static void counter_destroy(counter *c) {
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

static void test_submit_completes(void **state) {
    (void)state;
    enum { N = 500 };
    counted_task *tasks = calloc(N, sizeof *tasks);
    assert_non_null(tasks);
    for (int w = 0; w <= 3; w += 3) {
        fa_pool *p = fa_pool_new(w);
        assert_non_null(p);
        counter c;
        counter_init(&c, 0);
        for (int i = 0; i < N; i++) {
            tasks[i] = (counted_task){&c, i + 1};
            assert_int_equal(fa_pool_submit(p, counted_run, &tasks[i]), 0);
        }
        pthread_mutex_lock(&c.mu);
        while (c.done < N)
            pthread_cond_wait(&c.cv, &c.mu);
        pthread_mutex_unlock(&c.mu);
        assert_int_equal(c.sum, (long)N * (N + 1) / 2);
        assert_int_equal(c.on_caller, w == 0 ? N : 0); /* no workers: inline; else never the caller */
        fa_pool_free(p);
        counter_destroy(&c);
    }
    free(tasks);
}

static void test_free_waits_for_pending_tasks(void **state) {
    (void)state;
    enum { N = 40 };
    counted_task tasks[N];
    fa_pool *p = fa_pool_new(1);
    assert_non_null(p);
    counter c;
    counter_init(&c, 1); /* 2 ms each: most are still queued when free starts */
    for (int i = 0; i < N; i++) {
        tasks[i] = (counted_task){&c, 1};
        assert_int_equal(fa_pool_submit(p, counted_run, &tasks[i]), 0);
    }
    fa_pool_free(p);
    assert_int_equal(c.done, N);
    assert_int_equal(c.sum, N);
    counter_destroy(&c);
}

static void test_default_pool(void **state) {
    (void)state;
    fa_pool *p = fa_pool_default();
    assert_non_null(p);
    assert_ptr_equal(fa_pool_default(), p);
    const char *env = getenv("FA_THREADS");
    if (env && atoi(env) > 0)
        assert_int_equal(fa_pool_threads(p), atoi(env));
    else
        assert_true(fa_pool_threads(p) >= 1);
    int seen = run_sum(p, 1000, 0, 0);
    assert_true(seen >= 1 && seen <= fa_pool_threads(p));
}

static void *default_from_thread(void *arg) {
    *(fa_pool **)arg = fa_pool_default();
    return NULL;
}

static void test_default_pool_created_once(void **state) {
    (void)state;
    pthread_t t[4];
    fa_pool *got[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, default_from_thread, &got[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(got[i], fa_pool_default());
}

static void test_bad_worker_count(void **state) {
    (void)state;
    assert_null(fa_pool_new(100000));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "100000 workers"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums_by_worker_count),
        cmocka_unit_test(test_zero_workers_runs_on_caller_in_order),
        cmocka_unit_test(test_max_threads_limits),
        cmocka_unit_test(test_nested_for_each),
        cmocka_unit_test(test_for_each_inside_submitted_tasks),
        cmocka_unit_test(test_submit_completes),
        cmocka_unit_test(test_free_waits_for_pending_tasks),
        cmocka_unit_test(test_default_pool_created_once),
        cmocka_unit_test(test_default_pool),
        cmocka_unit_test(test_bad_worker_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
