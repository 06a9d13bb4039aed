/*
 * test_batcher.c - the dynamic batcher (src/nn/batcher.c): eight threads
 * submitting FastestDet's golden input each get what a direct batch-1 run
 * gives (max abs <= 1e-5), batches never exceed max_batch, a lone caller is
 * served after max_wait and not much later, a failed batch fails each of
 * its callers with the same error, and shutdown answers queued callers at
 * once. Meant to run under TSan too.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "core/pool.h"
#include "nn/batcher.h"
#include "nn/nn.h"
#include "onnx_writer.h"
#include "testutil.h"

#define FASTESTDET "models/fastestdet/FastestDet.onnx"
#define GOLDEN_INPUT "golden/fastestdet_dog.input.f32"
#define IN_SIZE (3 * 352 * 352)
#define OUT_SIZE (85 * 22 * 22)

static const fa_nn_options native = {.backend = "native"};

typedef struct fixture {
    fa_nn_model *m;
    float *input;
    float *want;  /* a direct batch-1 run's output */
    double run_s; /* how long that run took */
} fixture;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int setup(void **state) {
    const char *mp = fa_test_data(FASTESTDET), *ip = fa_test_data(GOLDEN_INPUT);
    if (!fa_test_file_exists(mp) || !fa_test_file_exists(ip)) return -1;
    fixture *f = calloc(1, sizeof *f);
    size_t len = 0;
    char *raw = fa_test_read_file(ip, &len);
    if (!f || !raw || len != IN_SIZE * sizeof(float)) return -1;
    f->input = malloc(len);
    memcpy(f->input, raw, len);
    free(raw);
    f->m = fa_nn_model_load(mp, &native);
    if (!f->m) return -1;
    fa_nn_session *s = fa_nn_session_new(f->m, 1);
    float *out[1];
    fa_nn_run(s, f->input, out); /* warm up */
    double t0 = now_s();
    if (!s || fa_nn_run(s, f->input, out) != 0) return -1;
    f->run_s = now_s() - t0;
    f->want = malloc(OUT_SIZE * sizeof(float));
    memcpy(f->want, out[0], OUT_SIZE * sizeof(float));
    fa_nn_session_free(s);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    fa_nn_model_free(f->m);
    free(f->input);
    free(f->want);
    free(f);
    return 0;
}

static double max_abs(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
    return worst;
}

/* One submitting thread. */
typedef struct caller {
    fa_nn_batcher *b;
    const float *input;
    pthread_barrier_t *start;
    float out[OUT_SIZE];
    int rc;
    char msg[256];
    double took_s;
} caller;

static void *caller_main(void *arg) {
    caller *c = arg;
    if (c->start) pthread_barrier_wait(c->start);
    float *outs[1] = {c->out};
    double t0 = now_s();
    c->rc = fa_nn_batcher_run(c->b, c->input, outs);
    c->took_s = now_s() - t0;
    snprintf(c->msg, sizeof c->msg, "%s", c->rc ? fa_err_msg() : "");
    return NULL;
}

/* Runs n callers at once on b; returns them (calloc'd). */
static caller *run_callers(fa_nn_batcher *b, const float *input, int n) {
    caller *c = calloc((size_t)n, sizeof *c);
    pthread_t t[16];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        c[i].b = b, c[i].input = input, c[i].start = &start;
        assert_int_equal(pthread_create(&t[i], NULL, caller_main, &c[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    return c;
}

static fa_nn_batcher_stats stats(fa_nn_batcher *b) {
    fa_nn_batcher_stats st;
    fa_nn_batcher_stats_get(b, &st);
    return st;
}

static void test_eight_callers_match_batch1(void **state) {
    fixture *f = *state;
    fa_nn_batcher *b = fa_nn_batcher_new(f->m, 8, 500000);
    assert_non_null(b);
    assert_int_equal(fa_nn_batcher_input_size(b), IN_SIZE);
    assert_int_equal(fa_nn_batcher_output_count(b), 1);
    assert_int_equal(fa_nn_batcher_output_size(b, 0), OUT_SIZE);
    caller *c = run_callers(b, f->input, 8);
    for (int i = 0; i < 8; i++) {
        if (c[i].rc) fail_msg("caller %d: %s", i, c[i].msg);
        assert_true(max_abs(c[i].out, f->want, OUT_SIZE) <= 1e-5);
    }
    fa_nn_batcher_stats st = stats(b);
    assert_int_equal(st.requests, 8);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.pending, 0);
    assert_true(st.largest >= 2 && st.largest <= 8); /* they waited for each other */
    assert_true(st.batches >= 1 && st.batches <= 7);
    assert_true(fabs(st.mean_batch - 8.0 / (double)st.batches) < 1e-9);
    free(c);
    fa_nn_batcher_free(b);
}

/* A model that runs on two threads of a pool: the leader's run takes pool
 * threads while the other callers wait. */
static void test_pooled_model(void **state) {
    fixture *f = *state;
    fa_pool *pool = fa_pool_new(1);
    assert_non_null(pool);
    fa_nn_options o = {.backend = "native", .threads = 2, .pool = pool};
    fa_nn_model *m = fa_nn_model_load(fa_test_data(FASTESTDET), &o);
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_batcher *b = fa_nn_batcher_new(m, 4, 200000);
    caller *c = run_callers(b, f->input, 5);
    for (int i = 0; i < 5; i++) {
        if (c[i].rc) fail_msg("caller %d: %s", i, c[i].msg);
        assert_true(max_abs(c[i].out, f->want, OUT_SIZE) <= 1e-5);
    }
    fa_nn_batcher_stats st = stats(b);
    assert_int_equal(st.requests, 5);
    assert_true(st.largest <= 4 && st.batches >= 2);
    free(c);
    fa_nn_batcher_free(b);
    fa_nn_model_free(m);
    fa_pool_free(pool);
}

static void test_max_batch_respected(void **state) {
    fixture *f = *state;
    fa_nn_batcher *b = fa_nn_batcher_new(f->m, 3, 100000);
    caller *c = run_callers(b, f->input, 8);
    for (int i = 0; i < 8; i++) {
        if (c[i].rc) fail_msg("caller %d: %s", i, c[i].msg);
        assert_true(max_abs(c[i].out, f->want, OUT_SIZE) <= 1e-5);
    }
    fa_nn_batcher_stats st = stats(b);
    assert_int_equal(st.requests, 8);
    assert_true(st.largest >= 1 && st.largest <= 3);
    assert_true(st.batches >= 3); /* 8 inputs, at most 3 a batch */
    free(c);
    fa_nn_batcher_free(b);
}

static void test_max_wait_respected(void **state) {
    fixture *f = *state;
    const double wait_s = 0.05;
    fa_nn_batcher *b = fa_nn_batcher_new(f->m, 8, (int64_t)(wait_s * 1e6));
    for (int rep = 0; rep < 2; rep++) { /* the second run finds its session made */
        caller c = {.b = b, .input = f->input};
        caller_main(&c);
        assert_int_equal(c.rc, 0);
        assert_true(max_abs(c.out, f->want, OUT_SIZE) <= 1e-5);
        assert_true(c.took_s >= wait_s); /* it waited for company */
        if (rep == 1 && c.took_s > wait_s + 3 * f->run_s + 0.1)
            fail_msg("a lone caller took %.3f s (max_wait %.3f s, a run %.3f s)", c.took_s, wait_s, f->run_s);
    }
    fa_nn_batcher_stats st = stats(b);
    assert_int_equal(st.batches, 2);
    assert_int_equal(st.largest, 1);
    assert_true(fabs(st.mean_batch - 1.0) < 1e-9);
    fa_nn_batcher_free(b);
    /* max_wait 0: no waiting at all */
    b = fa_nn_batcher_new(f->m, 8, 0);
    caller c = {.b = b, .input = f->input};
    caller_main(&c);
    caller_main(&c);
    assert_int_equal(c.rc, 0);
    if (c.took_s > 3 * f->run_s + 0.1)
        fail_msg("took %.3f s with max_wait 0, a run %.3f s", c.took_s, f->run_s);
    fa_nn_batcher_free(b);
}

/* x [1,c,2,2] -> Transpose(perm 1,0,2,3) -> [c,1,2,2]. With c 1, the
 * identity at batch 1, but at batch 2 the output is [1,2,2,2], not
 * batch-first; with c 2, not batch-first at all. */
static fa_nn_model *swap_model(int64_t c) {
    pbw g = {0}, t;
    pbw perm = pbw_attr_ints("perm", (const int64_t[]){1, 0, 2, 3}, 4);
    pbw n = pbw_node("swap", "Transpose", (const char *[]){"x", NULL}, (const char *[]){"y", NULL}, &perm, 1);
    pbw_msg(&g, 1, &n);
    t = pbw_value("x", (const int64_t[]){1, c, 2, 2}, 4);
    pbw_msg(&g, 11, &t);
    t = pbw_value("y", (const int64_t[]){c, 1, 2, 2}, 4);
    pbw_msg(&g, 12, &t);
    pbw m = pbw_model(&g, 11);
    fa_nn_graph *gr = fa_nn_onnx_load_mem("swap.onnx", m.b, m.n);
    if (!gr) fail_msg("%s", fa_err_msg());
    fa_nn_model *model = fa_nn_model_from_graph(gr, &native);
    if (!model) fail_msg("%s", fa_err_msg());
    return model;
}

static void test_failed_batch_fails_each_caller(void **state) {
    (void)state;
    fa_nn_model *m = swap_model(1);
    float input[4] = {1, 2, 3, 4};
    fa_nn_batcher *b = fa_nn_batcher_new(m, 2, 5000000); /* 5 s: the two wait for each other */
    caller *c = run_callers(b, input, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(c[i].rc, FA_EINVAL);
        assert_string_equal(c[i].msg, c[0].msg);
    }
    assert_string_equal(c[0].msg, "batcher: output 'y' at batch 2 is not 2 images of 4 values");
    fa_nn_batcher_stats st = stats(b);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.failed, 2);
    free(c);
    fa_nn_batcher_free(b);
    /* alone, the same model runs */
    b = fa_nn_batcher_new(m, 2, 0);
    float out[4];
    float *outs[1] = {out};
    assert_int_equal(fa_nn_batcher_run(b, input, outs), 0);
    assert_true(max_abs(out, input, 4) == 0);
    assert_int_equal(fa_nn_batcher_run(b, NULL, outs), FA_EINVAL);
    fa_nn_batcher_free(b);
    fa_nn_model_free(m);
}

static void test_bad_arguments(void **state) {
    fixture *f = *state;
    assert_null(fa_nn_batcher_new(f->m, 0, 0));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_null(fa_nn_batcher_new(f->m, 2, -1));
    assert_null(fa_nn_batcher_new(NULL, 2, 0));
    assert_string_equal(fa_err_msg(), "batcher: no model (max_batch 2, max_wait_us 0)");
    fa_nn_model *m = swap_model(2);
    assert_null(fa_nn_batcher_new(m, 2, 0));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "batcher: output 'y' is not batch-first (rank 4, first dimension 2)");
    fa_nn_model_free(m);
}

/* Shutdown with callers queued behind a long max_wait answers them at once. */
static void test_shutdown_completes_pending(void **state) {
    fixture *f = *state;
    fa_nn_batcher *b = fa_nn_batcher_new(f->m, 8, 30000000); /* 30 s */
    caller c[3] = {{.b = b, .input = f->input}, {.b = b, .input = f->input}, {.b = b, .input = f->input}};
    pthread_t t[3];
    double t0 = now_s();
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, caller_main, &c[i]), 0);
    for (int spins = 0; stats(b).pending < 3 && spins < 10000; spins++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(stats(b).pending, 3);
    fa_nn_batcher_free(b);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        if (c[i].rc) fail_msg("caller %d: %s", i, c[i].msg);
        assert_true(max_abs(c[i].out, f->want, OUT_SIZE) <= 1e-5);
    }
    assert_true(now_s() - t0 < 10.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eight_callers_match_batch1),
        cmocka_unit_test(test_pooled_model),
        cmocka_unit_test(test_max_batch_respected),
        cmocka_unit_test(test_max_wait_respected),
        cmocka_unit_test(test_failed_batch_fails_each_caller),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_shutdown_completes_pending),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
