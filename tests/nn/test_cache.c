/*
 * test_cache.c - the model cache (src/nn/cache.c) on the real models of
 * ../shared/data/models: one load per key, keys by backend and input shape,
 * content-keyed entries (a copy shares, an overwritten file does not), load
 * errors handed to every waiter and never cached, LRU eviction under the
 * budget, models in use never evicted, and several threads getting and
 * releasing at once (run it under TSan too).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/pool.h"
#include "nn/cache.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "testutil.h"

#define FASTESTDET "models/fastestdet/FastestDet.onnx"
#define NANODET "models/nanodet-m/nanodet_m_416.onnx"
#define YOLO "models/yolo-fastest-1.1/yolo-fastest-1.1.cfg"

static const fa_nn_options native = {.backend = "native"};

static const char *model(const char *rel) {
    const char *p = fa_test_data(rel);
    FA_TEST_REQUIRE_DATA(p);
    return p;
}

static fa_nn_cache_stats stats(fa_nn_cache *c) {
    fa_nn_cache_stats st;
    fa_nn_cache_stats_get(c, &st);
    return st;
}

/* What the cache counts for a model, from a load of our own. */
static size_t bytes_of(const char *rel) {
    fa_nn_model *m = fa_nn_model_load(model(rel), &native);
    if (!m) fail_msg("%s", fa_err_msg());
    fa_nn_info info;
    fa_nn_model_info(m, &info);
    size_t b = fa_nn_cache_model_bytes(m);
    assert_int_equal(b, info.weight_bytes + info.params * 4);
    assert_true(b > 100000);
    fa_nn_model_free(m);
    return b;
}

static const fa_nn_model *get_ok(fa_nn_cache *c, const char *rel, const fa_nn_options *o) {
    const fa_nn_model *m = fa_nn_cache_get(c, model(rel), o, NULL, 0);
    if (!m) fail_msg("%s", fa_err_msg());
    return m;
}

static void test_same_key_one_load(void **state) {
    (void)state;
    fa_nn_cache *c = fa_nn_cache_new(1u << 30);
    assert_non_null(c);
    const fa_nn_model *a = get_ok(c, FASTESTDET, &native);
    const fa_nn_model *b = get_ok(c, FASTESTDET, &native);
    assert_ptr_equal(a, b);
    fa_nn_cache_stats st = stats(c);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.in_use, 1);
    assert_int_equal(st.bytes, fa_nn_cache_model_bytes(a));
    assert_int_equal(fa_nn_cache_release(c, a), 0);
    assert_int_equal(stats(c).in_use, 1);
    assert_int_equal(fa_nn_cache_release(c, b), 0);
    st = stats(c);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.entries, 1); /* kept: under the budget */
    assert_int_equal(fa_nn_cache_release(c, a), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "no reference left"));
    /* a session on the shared model runs */
    const fa_nn_model *m = get_ok(c, FASTESTDET, &native);
    assert_ptr_equal(m, a);
    fa_nn_session *s = fa_nn_session_new(m, 1);
    assert_non_null(s);
    fa_nn_session_free(s);
    assert_int_equal(fa_nn_cache_release(c, m), 0);
    assert_int_equal(stats(c).hits, 2);
    fa_nn_cache_free(c);
}

static void test_backend_and_shape_are_keys(void **state) {
    (void)state;
    fa_nn_cache *c = fa_nn_cache_new(1u << 30);
    const fa_nn_model *nat = get_ok(c, FASTESTDET, &native);
    const fa_nn_model *other = NULL;
    if (fa_nn_backend_onednn()) {
        fa_nn_options onednn = {.backend = "onednn"}, autob = {.backend = "auto"};
        other = get_ok(c, FASTESTDET, &onednn);
        assert_ptr_not_equal(other, nat);
        assert_ptr_equal(get_ok(c, FASTESTDET, &autob), nat); /* auto is native */
        assert_ptr_equal(get_ok(c, FASTESTDET, NULL), nat);
        assert_int_equal(stats(c).misses, 2);
    } else {
        assert_ptr_equal(get_ok(c, FASTESTDET, NULL), nat);
        assert_int_equal(stats(c).misses, 1);
    }
    /* an explicit shape is its own entry; batch 4 another */
    int64_t s1[4] = {1, 3, 352, 352}, s4[4] = {4, 3, 352, 352}, bad[4] = {1, 3, 320, 320};
    const fa_nn_model *m1 = fa_nn_cache_get(c, model(FASTESTDET), &native, s1, 4);
    const fa_nn_model *m4 = fa_nn_cache_get(c, model(FASTESTDET), &native, s4, 4);
    assert_non_null(m1);
    assert_non_null(m4);
    assert_ptr_not_equal(m1, nat);
    assert_ptr_not_equal(m1, m4);
    assert_ptr_equal(fa_nn_cache_get(c, model(FASTESTDET), &native, s1, 4), m1);
    assert_null(fa_nn_cache_get(c, model(FASTESTDET), &native, bad, 4));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "FastestDet.onnx: input shape 1x3x320x320 asked, the model's input is "
                                      "1x3x352x352");
    assert_null(fa_nn_cache_get(c, model(FASTESTDET), &native, s1, 7));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    fa_nn_cache_stats st = stats(c);
    assert_int_equal(st.load_errors, 1); /* the bad shape was loaded, refused, not cached */
    assert_int_equal(st.entries, fa_nn_backend_onednn() ? 4 : 3);
    fa_nn_cache_free(c); /* frees referenced models too */
}

/* Threads and their pool are kept by a model, so they are part of the key. */
static void test_threads_and_pool_are_keys(void **state) {
    (void)state;
    fa_nn_cache *c = fa_nn_cache_new(1u << 30);
    fa_pool *pool = fa_pool_new(1);
    assert_non_null(pool);
    fa_nn_options one = {.backend = "native", .threads = 1}, zero = {.backend = "native"};
    fa_nn_options two = {.backend = "native", .threads = 2}, two_dflt = {.backend = "native", .threads = 2};
    fa_nn_options two_own = {.backend = "native", .threads = 2, .pool = pool};
    two_dflt.pool = fa_pool_default();
    const fa_nn_model *m1 = get_ok(c, FASTESTDET, &one);
    assert_ptr_equal(get_ok(c, FASTESTDET, &zero), m1);
    const fa_nn_model *m2 = get_ok(c, FASTESTDET, &two);
    assert_ptr_not_equal(m2, m1);
    assert_ptr_equal(get_ok(c, FASTESTDET, &two_dflt), m2); /* NULL pool is the default pool */
    const fa_nn_model *m3 = get_ok(c, FASTESTDET, &two_own);
    assert_ptr_not_equal(m3, m2);
    assert_ptr_not_equal(m3, m1);
    assert_int_equal(stats(c).misses, 3);
    /* FP16 weights, where the runtime has them: their own entry, and "auto" is native for them */
    fa_nn_options fp16 = {.backend = "native", .precision = FA_NN_FP16},
                  fp16_auto = {.precision = FA_NN_FP16};
    fa_nn_model *probe = fa_nn_model_load(model(FASTESTDET), &fp16);
    if (probe) {
        fa_nn_model_free(probe);
        const fa_nn_model *h = get_ok(c, FASTESTDET, &fp16);
        assert_ptr_not_equal(h, m1);
        assert_ptr_equal(get_ok(c, FASTESTDET, &fp16_auto), h);
        assert_true(fa_nn_cache_model_bytes(h) <
                    fa_nn_cache_model_bytes(m1) + fa_nn_cache_model_bytes(m1) / 2);
        assert_int_equal(stats(c).misses, 4);
    } else {
        print_message("note: FP16 not supported by this runtime (%s): FP16 key not checked\n", fa_err_msg());
    }
    fa_nn_cache_free(c);
    fa_pool_free(pool);
}

static void test_precision_error_not_cached(void **state) {
    (void)state;
    fa_nn_cache *c = fa_nn_cache_new(1u << 30);
    fa_nn_options bad = {.backend = "native", .precision = 99};
    for (int i = 0; i < 2; i++) {
        assert_null(fa_nn_cache_get(c, model(FASTESTDET), &bad, NULL, 0));
        assert_int_equal(fa_err_code(), FA_EINVAL);
    }
    fa_nn_options unknown = {.backend = "tpu"};
    assert_null(fa_nn_cache_get(c, model(FASTESTDET), &unknown, NULL, 0));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "'tpu'"));
    assert_null(fa_nn_cache_get(c, "/nonexistent/x.onnx", &native, NULL, 0));
    assert_int_equal(fa_err_code(), FA_ENOTFOUND);
    assert_non_null(strstr(fa_err_msg(), "x.onnx: cannot read the model"));
    fa_nn_cache_stats st = stats(c);
    assert_int_equal(st.misses, 3); /* the missing file never got to a load */
    assert_int_equal(st.load_errors, 3);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    fa_nn_cache_free(c);
}

/* Several getters of a key whose load fails: each gets the loader's error. */
typedef struct getter {
    fa_nn_cache *c;
    const char *path;
    const fa_nn_options *o;
    pthread_barrier_t *start;
    const fa_nn_model *got;
    int code;
    char msg[256];
} getter;

static void *getter_main(void *arg) {
    getter *g = arg;
    pthread_barrier_wait(g->start);
    g->got = fa_nn_cache_get(g->c, g->path, g->o, NULL, 0);
    g->code = fa_err_code();
    snprintf(g->msg, sizeof g->msg, "%s", fa_err_msg());
    return NULL;
}

static void run_getters(fa_nn_cache *c, const char *path, const fa_nn_options *o, getter *g, int n) {
    pthread_t t[8];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        g[i] = (getter){.c = c, .path = path, .o = o, .start = &start};
        assert_int_equal(pthread_create(&t[i], NULL, getter_main, &g[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
}

static void test_load_error_to_every_waiter(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    size_t len = 0;
    char *onnx = fa_test_read_file(model(FASTESTDET), &len);
    assert_non_null(onnx);
    char *path = fa_test_write_file(dir, "cut.onnx", onnx, len / 2); /* truncated */
    fa_nn_cache *c = fa_nn_cache_new(1u << 30);
    getter g[6];
    run_getters(c, path, &native, g, 6);
    for (int i = 0; i < 6; i++) {
        assert_null(g[i].got);
        assert_int_equal(g[i].code, g[0].code);
        assert_string_equal(g[i].msg, g[0].msg);
    }
    assert_int_equal(g[0].code, FA_EINVAL);
    assert_non_null(strstr(g[0].msg, "cut.onnx"));
    fa_nn_cache_stats st = stats(c);
    assert_int_equal(st.hits, 0);                  /* a getter that waited for a failed load is no hit */
    assert_true(st.misses >= 1 && st.misses <= 6); /* getters arriving after a failure try again */
    assert_int_equal(st.load_errors, st.misses);
    assert_int_equal(st.entries, 0);
    /* fixed on disk: the next get loads it */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(onnx, 1, len, f), len);
    fclose(f);
    run_getters(c, path, &native, g, 6);
    for (int i = 0; i < 6; i++)
        assert_ptr_equal(g[i].got, g[0].got);
    assert_non_null(g[0].got);
    st = stats(c);
    assert_int_equal(st.misses - st.load_errors, 1); /* loaded once for six getters */
    assert_int_equal(st.in_use, 1);
    for (int i = 0; i < 6; i++)
        assert_int_equal(fa_nn_cache_release(c, g[i].got), 0);
    fa_nn_cache_free(c);
    free(onnx);
    free(path);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_content_not_path(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    size_t len = 0, len2 = 0;
    char *fd = fa_test_read_file(model(FASTESTDET), &len);
    char *nd = fa_test_read_file(model(NANODET), &len2);
    char *copy = fa_test_write_file(dir, "model.onnx", fd, len);
    fa_nn_cache *c = fa_nn_cache_new(1u << 30);
    const fa_nn_model *orig = get_ok(c, FASTESTDET, &native);
    const fa_nn_model *m1 = fa_nn_cache_get(c, copy, &native, NULL, 0);
    assert_ptr_equal(m1, orig); /* a copy is the same content */
    assert_int_equal(fa_nn_cache_release(c, m1), 0);
    free(fa_test_write_file(dir, "model.onnx", nd, len2)); /* overwritten in place */
    const fa_nn_model *m2 = fa_nn_cache_get(c, copy, &native, NULL, 0);
    if (!m2) fail_msg("%s", fa_err_msg());
    assert_ptr_not_equal(m2, m1);
    int64_t shape[FA_NN_MAX_RANK];
    assert_int_equal(fa_nn_model_input_shape(m2, shape), 4);
    assert_int_equal(shape[2], 416);
    assert_ptr_equal(fa_nn_cache_get(c, copy, &native, NULL, 0), m2); /* unchanged now: the memo answers */
    assert_ptr_equal(get_ok(c, NANODET, &native), m2);
    fa_nn_cache_stats st = stats(c);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.hits, 3);
    assert_int_equal(st.entries, 2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fa_nn_cache_release(c, m2), 0);
    assert_int_equal(fa_nn_cache_release(c, orig), 0);
    fa_nn_cache_free(c);
    free(fd);
    free(nd);
    free(copy);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_lru_eviction_order(void **state) {
    (void)state;
    size_t bf = bytes_of(FASTESTDET), bn = bytes_of(NANODET), by = bytes_of(YOLO);
    fa_nn_cache *c = fa_nn_cache_new(bf + bn + by - 1); /* any two fit, not three */
    const fa_nn_model *f = get_ok(c, FASTESTDET, &native);
    assert_int_equal(fa_nn_cache_release(c, f), 0);
    const fa_nn_model *n = get_ok(c, NANODET, &native);
    assert_int_equal(fa_nn_cache_release(c, n), 0);
    const fa_nn_model *y = get_ok(c, YOLO, &native); /* evicts FastestDet, the least recent */
    fa_nn_cache_stats st = stats(c);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.bytes, bn + by);
    assert_ptr_equal(get_ok(c, NANODET, &native), n); /* still there: a hit, and now the most recent */
    assert_int_equal(fa_nn_cache_release(c, n), 0);
    assert_int_equal(fa_nn_cache_release(c, y), 0);
    const fa_nn_model *f2 = get_ok(c, FASTESTDET, &native); /* reloaded; evicts NanoDet (older than YOLO) */
    st = stats(c);
    assert_int_equal(st.misses, 4);
    assert_int_equal(st.evictions, 2);
    assert_int_equal(st.bytes, bf + by);
    assert_ptr_equal(get_ok(c, YOLO, &native), y);
    assert_int_equal(fa_nn_cache_release(c, y), 0);
    assert_int_equal(fa_nn_cache_release(c, f2), 0);
    assert_int_equal(stats(c).hits, 2);
    fa_nn_cache_free(c);
}

static void test_in_use_never_evicted(void **state) {
    (void)state;
    fa_nn_cache *c = fa_nn_cache_new(0);
    const fa_nn_model *a = get_ok(c, FASTESTDET, &native);
    const fa_nn_model *b = get_ok(c, YOLO, &native);
    fa_nn_cache_stats st = stats(c);
    assert_int_equal(st.entries, 2); /* over the budget, but both in use */
    assert_int_equal(st.evictions, 0);
    assert_ptr_equal(get_ok(c, FASTESTDET, &native), a);
    assert_int_equal(fa_nn_cache_release(c, a), 0);
    assert_int_equal(stats(c).entries, 2); /* one reference left */
    assert_int_equal(fa_nn_cache_release(c, a), 0);
    st = stats(c);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.bytes, fa_nn_cache_model_bytes(b));
    /* the survivor still runs */
    fa_nn_session *s = fa_nn_session_new(b, 1);
    assert_non_null(s);
    fa_nn_session_free(s);
    assert_int_equal(fa_nn_cache_release(c, b), 0);
    st = stats(c);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.evictions, 2);
    fa_nn_cache_free(c);
}

/* Threads getting and releasing two keys under a budget that holds one. */
typedef struct churn {
    fa_nn_cache *c;
    const char *path;
    int seed;
    int ok;
    char why[256];
} churn;

static void *churn_main(void *arg) {
    churn *w = arg;
    fa_nn_options onednn = {.backend = fa_nn_backend_onednn() ? "onednn" : "native"};
    for (int i = 0; i < 12; i++) {
        const fa_nn_options *o = (i + w->seed) % 3 ? &native : &onednn;
        const fa_nn_model *m = fa_nn_cache_get(w->c, w->path, o, NULL, 0);
        if (!m) {
            snprintf(w->why, sizeof w->why, "get %d: %s", i, fa_err_msg());
            return NULL;
        }
        if (fa_nn_model_output_count(m) != 1 || strcmp(fa_nn_model_output_name(m, 0), "758") != 0) {
            snprintf(w->why, sizeof w->why, "get %d: wrong model", i);
            return NULL;
        }
        if (fa_nn_cache_release(w->c, m) != 0) {
            snprintf(w->why, sizeof w->why, "release %d: %s", i, fa_err_msg());
            return NULL;
        }
    }
    w->ok = 1;
    return NULL;
}

static void test_threads_get_release(void **state) {
    (void)state;
    size_t bf = bytes_of(FASTESTDET);
    fa_nn_cache *c = fa_nn_cache_new(bf + bf / 2);
    pthread_t t[6];
    churn w[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (churn){.c = c, .path = model(FASTESTDET), .seed = i};
        assert_int_equal(pthread_create(&t[i], NULL, churn_main, &w[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        if (!w[i].ok) fail_msg("thread %d: %s", i, w[i].why);
    }
    fa_nn_cache_stats st = stats(c);
    assert_int_equal(st.hits + st.misses, 72);
    assert_int_equal(st.load_errors, 0);
    assert_int_equal(st.in_use, 0);
    assert_true(st.entries >= 1 && st.entries <= 2);
    assert_true(st.misses >= (fa_nn_backend_onednn() ? 2 : 1));
    assert_int_equal(st.misses - st.evictions, st.entries);
    fa_nn_cache_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_key_one_load),          cmocka_unit_test(test_backend_and_shape_are_keys),
        cmocka_unit_test(test_threads_and_pool_are_keys),  cmocka_unit_test(test_precision_error_not_cached),
        cmocka_unit_test(test_load_error_to_every_waiter), cmocka_unit_test(test_content_not_path),
        cmocka_unit_test(test_lru_eviction_order),         cmocka_unit_test(test_in_use_never_evicted),
        cmocka_unit_test(test_threads_get_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
