/*
 * test_metrics.c - the metrics registry: the exact text exposition of a
 * small registry (counters, sampled and set gauges, histograms with and
 * without labels, escaping of HELP text and label values), family and
 * child rules and their error messages, the quantile, and exact totals
 * from 8 threads hammering one counter, histogram and gauge while others
 * create children and scrape (run it under ThreadSanitizer too).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "obs/obs.h"
#include "testutil.h"

static double sampled_value(void *ud) { return *(const double *)ud; }

static void test_exposition_exact(void **state) {
    (void)state;
    fa_obs_registry *r = fa_obs_registry_new();
    assert_non_null(r);
    fa_obs_family *req = fa_obs_counter_family(r, "t_requests_total", "Requests.\nSecond \\ line",
                                               FA_OBS_LABELS("path", "code"));
    assert_non_null(req);
    fa_obs_counter_add(fa_obs_counter_with(req, FA_OBS_LABELS("/a", "200")), 3);
    fa_obs_counter_inc(fa_obs_counter_with(req, FA_OBS_LABELS("we\"ird\\path\nx", "500")));
    fa_obs_counter_inc(fa_obs_counter_with(req, FA_OBS_LABELS("/a", "200")));
    /* a labelled family without children is left out */
    assert_non_null(fa_obs_gauge_family(r, "t_unused", "Never set.", FA_OBS_LABELS("x")));
    fa_obs_gauge *temp = fa_obs_gauge_get(r, "t_temperature", "Temp.");
    fa_obs_gauge_set(temp, 21.5);
    fa_obs_gauge_inc(temp);
    fa_obs_gauge_inc(temp);
    fa_obs_gauge_dec(temp);
    fa_obs_gauge_add(temp, -0.25);
    double sampled = 42.125;
    fa_obs_gauge_set_fn(fa_obs_gauge_get(r, "t_sampled", "Sampled."), sampled_value, &sampled);
    fa_obs_counter_set_fn(fa_obs_counter_get(r, "t_cpu_seconds_total", "CPU."), sampled_value, &sampled);
    fa_obs_gauge_set(fa_obs_gauge_get(r, "t_small", "Small."), 1e-7);
    fa_obs_gauge_set(fa_obs_gauge_get(r, "t_nan", "Not a number."), NAN);
    const double b[] = {0.1, 0.5, 1};
    fa_obs_family *lat =
        fa_obs_histogram_family(r, "t_latency_seconds", "Latency.", FA_OBS_LABELS("route"), b, 3);
    fa_obs_histogram *x = fa_obs_histogram_with(lat, FA_OBS_LABELS("/x"));
    fa_obs_histogram_observe(x, 0.0625);
    fa_obs_histogram_observe(x, 0.25);
    fa_obs_histogram_observe(x, 0.25);
    fa_obs_histogram_observe(x, 2);
    fa_obs_histogram_observe(x, NAN); /* ignored */
    fa_obs_histogram_observe(fa_obs_histogram_with(lat, FA_OBS_LABELS("/y")), 0.5);
    const double sizes[] = {1024};
    fa_obs_histogram_observe(fa_obs_histogram_get(r, "t_size_bytes", "Size.", sizes, 1), 100);
    sampled = 7.5; /* callbacks are sampled at scrape, not at registration */

    fa_buf out = {0};
    assert_int_equal(fa_obs_registry_expose(r, &out), 0);
    const char *want = "# HELP t_requests_total Requests.\\nSecond \\\\ line\n"
                       "# TYPE t_requests_total counter\n"
                       "t_requests_total{path=\"/a\",code=\"200\"} 4\n"
                       "t_requests_total{path=\"we\\\"ird\\\\path\\nx\",code=\"500\"} 1\n"
                       "# HELP t_temperature Temp.\n"
                       "# TYPE t_temperature gauge\n"
                       "t_temperature 22.25\n"
                       "# HELP t_sampled Sampled.\n"
                       "# TYPE t_sampled gauge\n"
                       "t_sampled 7.5\n"
                       "# HELP t_cpu_seconds_total CPU.\n"
                       "# TYPE t_cpu_seconds_total counter\n"
                       "t_cpu_seconds_total 7.5\n"
                       "# HELP t_small Small.\n"
                       "# TYPE t_small gauge\n"
                       "t_small 1e-07\n"
                       "# HELP t_nan Not a number.\n"
                       "# TYPE t_nan gauge\n"
                       "t_nan NaN\n"
                       "# HELP t_latency_seconds Latency.\n"
                       "# TYPE t_latency_seconds histogram\n"
                       "t_latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"
                       "t_latency_seconds_bucket{route=\"/x\",le=\"0.5\"} 3\n"
                       "t_latency_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
                       "t_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                       "t_latency_seconds_sum{route=\"/x\"} 2.5625\n"
                       "t_latency_seconds_count{route=\"/x\"} 4\n"
                       "t_latency_seconds_bucket{route=\"/y\",le=\"0.1\"} 0\n"
                       "t_latency_seconds_bucket{route=\"/y\",le=\"0.5\"} 1\n"
                       "t_latency_seconds_bucket{route=\"/y\",le=\"1\"} 1\n"
                       "t_latency_seconds_bucket{route=\"/y\",le=\"+Inf\"} 1\n"
                       "t_latency_seconds_sum{route=\"/y\"} 0.5\n"
                       "t_latency_seconds_count{route=\"/y\"} 1\n"
                       "# HELP t_size_bytes Size.\n"
                       "# TYPE t_size_bytes histogram\n"
                       "t_size_bytes_bucket{le=\"1024\"} 1\n"
                       "t_size_bytes_bucket{le=\"+Inf\"} 1\n"
                       "t_size_bytes_sum 100\n"
                       "t_size_bytes_count 1\n";
    assert_string_equal(out.data, want);
    fa_buf_free(&out);
    fa_obs_registry_free(r);
}

static void test_values_and_reads(void **state) {
    (void)state;
    fa_obs_registry *r = fa_obs_registry_new();
    fa_obs_counter *c = fa_obs_counter_get(r, "v_total", "");
    fa_obs_counter_add(c, 41);
    fa_obs_counter_inc(c);
    assert_int_equal(fa_obs_counter_value(c), 42);
    fa_obs_gauge *g = fa_obs_gauge_get(r, "v_gauge", "");
    fa_obs_gauge_inc(g);
    fa_obs_gauge_inc(g);
    fa_obs_gauge_set(g, 10); /* set wins over earlier incs */
    fa_obs_gauge_dec(g);
    assert_true(fa_obs_gauge_value(g) == 9);
    fa_obs_histogram *h =
        fa_obs_histogram_get(r, "v_seconds", "", fa_obs_latency_buckets, FA_OBS_LATENCY_NBUCKETS);
    fa_obs_histogram_observe(h, 0.0005); /* on a bound: that bucket */
    fa_obs_histogram_observe(h, 0.75);
    fa_obs_histogram_observe(h, 11);
    fa_obs_histogram_observe(h, -1); /* below every bound: the first bucket */
    fa_obs_histogram_snap s;
    fa_obs_histogram_read(h, &s);
    assert_int_equal(s.nbounds, 14);
    assert_int_equal(s.count, 4);
    assert_int_equal(s.counts[0], 2);
    assert_int_equal(s.counts[10], 1); /* (0.5, 1] */
    assert_int_equal(s.counts[14], 1); /* +Inf */
    assert_true(s.sum == 0.0005 + 0.75 + 11 - 1);
    fa_obs_family *f = fa_obs_family_find(r, "v_seconds");
    assert_non_null(f);
    assert_int_equal(fa_obs_family_type(f), FA_OBS_HISTOGRAM);
    assert_null(fa_obs_family_find(r, "nope"));
    assert_int_equal(fa_obs_family_each(f, NULL, NULL), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "obs: metric 'v_seconds' is a histogram: read it with "
                                      "fa_obs_family_histogram_read");
    /* NULL children do nothing */
    fa_obs_counter_inc(NULL);
    fa_obs_gauge_set(NULL, 1);
    fa_obs_histogram_observe(NULL, 1);
    assert_int_equal(fa_obs_counter_value(NULL), 0);
    assert_true(isnan(fa_obs_gauge_value(NULL)));
    fa_obs_registry_free(r);
}

static void test_quantile(void **state) {
    (void)state;
    fa_obs_histogram_snap s = {.nbounds = 3, .bounds = {0.5, 1, 2}, .counts = {0, 100, 0, 0}, .count = 100};
    assert_float_equal(fa_obs_histogram_quantile(&s, 0.95), 0.975, 1e-12);
    assert_float_equal(fa_obs_histogram_quantile(&s, 0.5), 0.75, 1e-12);
    s.counts[0] = 50; /* 50 in [0, 0.5], 100 in (0.5, 1] */
    s.count = 150;
    assert_float_equal(fa_obs_histogram_quantile(&s, 0.2), 0.3, 1e-12);
    s.counts[3] = 850; /* most above the last bound: answers the last bound */
    s.count = 1000;
    assert_float_equal(fa_obs_histogram_quantile(&s, 0.95), 2, 0);
    s = (fa_obs_histogram_snap){.nbounds = 1, .bounds = {1}};
    assert_true(isnan(fa_obs_histogram_quantile(&s, 0.5)));
}

static void expect_error(int code, const char *msg) {
    assert_int_equal(fa_err_code(), code);
    assert_string_equal(fa_err_msg(), msg);
    fa_err_clear();
}

static void test_registration_rules(void **state) {
    (void)state;
    fa_obs_registry *r = fa_obs_registry_new();
    const double b[] = {1, 2};
    fa_obs_family *f = fa_obs_counter_family(r, "ok:name_total", "x", FA_OBS_LABELS("a", "b"));
    assert_non_null(f);
    /* same shape, other help: the same family */
    assert_ptr_equal(fa_obs_counter_family(r, "ok:name_total", "y", FA_OBS_LABELS("a", "b")), f);
    assert_null(fa_obs_counter_family(r, "ok:name_total", "x", FA_OBS_LABELS("a")));
    expect_error(FA_EINVAL,
                 "obs: metric 'ok:name_total' is already registered as a counter with other labels "
                 "or buckets");
    assert_null(fa_obs_gauge_family(r, "ok:name_total", "x", FA_OBS_LABELS("a", "b")));
    expect_error(FA_EINVAL,
                 "obs: metric 'ok:name_total' is already registered as a counter with other labels "
                 "or buckets");
    assert_null(fa_obs_counter_family(r, "1abc", "x", NULL));
    expect_error(FA_EINVAL, "obs: invalid metric name '1abc'");
    assert_null(fa_obs_counter_family(r, "a-b", "x", NULL));
    expect_error(FA_EINVAL, "obs: invalid metric name 'a-b'");
    assert_null(fa_obs_counter_family(r, "c", "x", FA_OBS_LABELS("__x")));
    expect_error(FA_EINVAL, "obs: metric 'c': invalid label name '__x'");
    assert_null(fa_obs_counter_family(r, "c", "x", FA_OBS_LABELS("a:b")));
    expect_error(FA_EINVAL, "obs: metric 'c': invalid label name 'a:b'");
    assert_null(fa_obs_counter_family(r, "c", "x", FA_OBS_LABELS("a", "a")));
    expect_error(FA_EINVAL, "obs: metric 'c': label name 'a' given twice");
    assert_null(fa_obs_histogram_family(r, "h", "x", FA_OBS_LABELS("le"), b, 2));
    expect_error(FA_EINVAL, "obs: metric 'h': label name 'le' is reserved in histograms");
    const double bad[] = {2, 1};
    assert_null(fa_obs_histogram_family(r, "h", "x", NULL, bad, 2));
    expect_error(FA_EINVAL, "obs: metric 'h': bucket bound 1 (1) is not finite and above the previous one");
    assert_null(fa_obs_histogram_family(r, "h", "x", NULL, b, 0));
    expect_error(FA_EINVAL, "obs: metric 'h': expected 1..32 bucket bounds, got 0");
    fa_obs_family *h = fa_obs_histogram_family(r, "h", "x", NULL, b, 2);
    assert_non_null(h);
    const double other[] = {1, 3};
    assert_null(fa_obs_histogram_family(r, "h", "x", NULL, other, 2));
    expect_error(FA_EINVAL,
                 "obs: metric 'h' is already registered as a histogram with other labels or buckets");

    /* children */
    fa_obs_counter *c1 = fa_obs_counter_with(f, FA_OBS_LABELS("x", "y"));
    assert_non_null(c1);
    assert_ptr_equal(fa_obs_counter_with(f, FA_OBS_LABELS("x", "y")), c1);
    assert_ptr_not_equal(fa_obs_counter_with(f, FA_OBS_LABELS("y", "x")), c1);
    assert_null(fa_obs_counter_with(f, FA_OBS_LABELS("x")));
    expect_error(FA_EINVAL, "obs: metric 'ok:name_total': expected 2 label values, got 1");
    assert_null(fa_obs_counter_with(f, NULL));
    expect_error(FA_EINVAL, "obs: metric 'ok:name_total': expected 2 label values, got 0");
    assert_null(fa_obs_counter_with(f, FA_OBS_LABELS("x", "bad\xff")));
    expect_error(FA_EINVAL, "obs: metric 'ok:name_total': label 'b': invalid UTF-8 at byte 3");
    assert_null(fa_obs_gauge_with(f, FA_OBS_LABELS("x", "y")));
    expect_error(FA_EINVAL, "obs: metric 'ok:name_total' is a counter, not a gauge");
    assert_null(fa_obs_counter_with(NULL, NULL));
    fa_obs_registry_free(r);
}

/* Many children: the lookup table grows, pointers stay, lookups still find
 * them; the limit is FA_OBS_MAX_CHILDREN. */
static void test_many_children(void **state) {
    (void)state;
    fa_obs_registry *r = fa_obs_registry_new();
    fa_obs_family *f = fa_obs_counter_family(r, "many_total", "", FA_OBS_LABELS("i"));
    static fa_obs_counter *kids[FA_OBS_MAX_CHILDREN];
    char v[16];
    for (int i = 0; i < FA_OBS_MAX_CHILDREN; i++) {
        snprintf(v, sizeof v, "%d", i);
        kids[i] = fa_obs_counter_with(f, FA_OBS_LABELS(v));
        assert_non_null(kids[i]);
        fa_obs_counter_add(kids[i], (uint64_t)i);
    }
    for (int i = 0; i < FA_OBS_MAX_CHILDREN; i++) {
        snprintf(v, sizeof v, "%d", i);
        assert_ptr_equal(fa_obs_counter_with(f, FA_OBS_LABELS(v)), kids[i]);
        assert_int_equal(fa_obs_counter_value(kids[i]), i);
    }
    assert_null(fa_obs_counter_with(f, FA_OBS_LABELS("one more")));
    expect_error(FA_ELIMIT, "obs: metric 'many_total': more than 10000 label sets");
    fa_buf out = {0};
    assert_int_equal(fa_obs_registry_expose(r, &out), 0);
    assert_non_null(strstr(out.data, "\nmany_total{i=\"9999\"} 9999\n"));
    /* no HELP line for an empty help text */
    assert_memory_equal(out.data, "# TYPE many_total counter\nmany_total{i=\"0\"} 0\n", 46);
    fa_buf_free(&out);
    fa_obs_registry_free(r);
}

/* ---------------------------------------------------------------- threads */

#define THREADS 8
#define INCREMENTS 1000000
#define OBSERVATIONS 100000
#define ROUTES 40

typedef struct hammer {
    fa_obs_registry *reg;
    fa_obs_counter *counter;
    fa_obs_histogram *hist;
    fa_obs_gauge *inflight;
    fa_obs_family *routes;
    fa_obs_counter *mine[ROUTES];
} hammer;

static void *hammer_main(void *arg) {
    hammer *h = arg;
    for (int i = 0; i < INCREMENTS; i++) fa_obs_counter_inc(h->counter);
    for (int i = 0; i < OBSERVATIONS; i++) {
        fa_obs_gauge_inc(h->inflight);
        fa_obs_histogram_observe(h->hist, (i % 4) * 0.25); /* 0, 0.25, 0.5, 0.75: sums exactly */
        fa_obs_gauge_dec(h->inflight);
    }
    char v[16];
    for (int i = 0; i < ROUTES; i++) { /* all threads race to create the same children */
        snprintf(v, sizeof v, "/r%d", i);
        h->mine[i] = fa_obs_counter_with(h->routes, FA_OBS_LABELS(v));
        fa_obs_counter_inc(h->mine[i]);
    }
    return NULL;
}

static void *scraper_main(void *arg) {
    hammer *h = arg;
    fa_buf out = {0};
    for (int i = 0; i < 20; i++) {
        fa_buf_reset(&out);
        assert_int_equal(fa_obs_registry_expose(h->reg, &out), 0);
    }
    fa_buf_free(&out);
    return NULL;
}

static void test_threads_exact(void **state) {
    (void)state;
    fa_obs_registry *r = fa_obs_registry_new();
    hammer hs[THREADS];
    hammer shared = {
        .reg = r,
        .counter = fa_obs_counter_get(r, "hammer_total", ""),
        .hist =
            fa_obs_histogram_get(r, "hammer_seconds", "", fa_obs_latency_buckets, FA_OBS_LATENCY_NBUCKETS),
        .inflight = fa_obs_gauge_get(r, "hammer_in_flight", ""),
        .routes = fa_obs_counter_family(r, "hammer_routes_total", "", FA_OBS_LABELS("route")),
    };
    pthread_t t[THREADS], scraper;
    for (int i = 0; i < THREADS; i++) {
        hs[i] = shared;
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &hs[i]), 0);
    }
    assert_int_equal(pthread_create(&scraper, NULL, scraper_main, &shared), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pthread_join(scraper, NULL);
    assert_int_equal(fa_obs_counter_value(shared.counter), (uint64_t)THREADS * INCREMENTS);
    fa_obs_histogram_snap s;
    fa_obs_histogram_read(shared.hist, &s);
    assert_int_equal(s.count, THREADS * OBSERVATIONS);
    assert_true(s.sum == 0.375 * THREADS * OBSERVATIONS);
    assert_int_equal(s.counts[0], THREADS * OBSERVATIONS / 4); /* the zeros */
    assert_true(fa_obs_gauge_value(shared.inflight) == 0);
    for (int i = 0; i < ROUTES; i++) {
        for (int k = 1; k < THREADS; k++) assert_ptr_equal(hs[k].mine[i], hs[0].mine[i]);
        assert_int_equal(fa_obs_counter_value(hs[0].mine[i]), THREADS);
    }
    fa_obs_registry_free(r);
}

/* The process-wide registry: made on first use with process metrics. */
static void test_default_registry(void **state) {
    (void)state;
    fa_obs_counter *c = fa_obs_counter_get(NULL, "fa_test_default_total", "In the default registry.");
    assert_non_null(c);
    assert_ptr_equal(fa_obs_counter_get(fa_obs_default(), "fa_test_default_total", ""), c);
    fa_obs_counter_add(c, 5);
    fa_buf out = {0};
    assert_int_equal(fa_obs_expose(&out), 0);
    assert_non_null(strstr(out.data, "\nfa_test_default_total 5\n"));
    assert_non_null(strstr(out.data, "# TYPE process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(out.data, "\nprocess_resident_memory_bytes "));
    assert_non_null(strstr(out.data, "\nfa_build_info{version=\"" FA_VERSION "\"} 1\n"));
    fa_buf_free(&out);
    fa_obs_shutdown();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition_exact), cmocka_unit_test(test_values_and_reads),
        cmocka_unit_test(test_quantile),         cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_many_children),    cmocka_unit_test(test_threads_exact),
        cmocka_unit_test(test_default_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
