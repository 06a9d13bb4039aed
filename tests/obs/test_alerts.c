/*
 * test_alerts.c - the alert rules over a registry the test feeds, with the
 * test's own clock: API p95 above 500 ms goes pending, fires after `for`,
 * recovers when fast requests dominate and when the slow ones leave the
 * sliding window; too few requests give no value; cache hit rate per
 * layer; DB pool use; GPU utilisation only while jobs run; memory against
 * a configured limit; the notify hook's payloads and /v1/alerts' JSON
 * (parsed with fa_json_parse); the process-wide engine and its thread.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "obs/obs.h"
#include "testutil.h"

typedef struct fixture {
    fa_obs_registry *reg;
    fa_obs_family *latency, *hits, *misses;
    fa_obs_alert_config cfg;
    int notified;
    fa_buf last_event;
} fixture;

static void on_notify(void *ud, const char *json, size_t len) {
    fixture *fx = ud;
    fx->notified++;
    assert_int_equal(strlen(json), len);
    fa_buf_reset(&fx->last_event);
    fa_buf_append(&fx->last_event, json, len);
}

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    fx->reg = fa_obs_registry_new();
    fx->latency = fa_obs_histogram_family(fx->reg, FA_M_HTTP_REQUEST_SECONDS, "Latency.",
                                          FA_OBS_LABELS(FA_L_ROUTE, FA_L_STATUS), fa_obs_latency_buckets,
                                          FA_OBS_LATENCY_NBUCKETS);
    fx->hits = fa_obs_counter_family(fx->reg, FA_M_CACHE_HITS, "Hits.", FA_OBS_LABELS(FA_L_LAYER));
    fx->misses = fa_obs_counter_family(fx->reg, FA_M_CACHE_MISSES, "Misses.", FA_OBS_LABELS(FA_L_LAYER));
    /* memory at 10 % of the configured limit: quiet unless a test says otherwise */
    fa_obs_gauge_set(fa_obs_gauge_get(fx->reg, FA_M_PROCESS_RSS, "RSS."), 100);
    fa_obs_alert_config_default(&fx->cfg);
    fx->cfg.latency_for_s = 60;
    fx->cfg.memory_limit_bytes = 1000;
    fx->cfg.notify = on_notify;
    fx->cfg.notify_ud = fx;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    fa_obs_registry_free(fx->reg);
    fa_buf_free(&fx->last_event);
    free(fx);
    return 0;
}

static void observe(fixture *fx, const char *route, int n, double seconds) {
    fa_obs_histogram *h = fa_obs_histogram_with(fx->latency, FA_OBS_LABELS(route, "200"));
    for (int i = 0; i < n; i++) fa_obs_histogram_observe(h, seconds);
}

static fa_obs_alert_info info(fa_obs_alerts *a, const char *name, const char *labels) {
    fa_obs_alert_info out;
    if (!fa_obs_alerts_get(a, name, labels, &out)) fail_msg("no alert %s {%s}", name, labels);
    return out;
}

static void expect_state(fa_obs_alerts *a, const char *name, const char *labels, fa_obs_alert_state state,
                         double since) {
    fa_obs_alert_info i = info(a, name, labels);
    if (i.state != state || i.since != since)
        print_message("%s {%s}: state %d since %g, want %d since %g\n", name, labels, i.state, i.since, state,
                      since);
    assert_int_equal(i.state, state);
    assert_true(i.since == since);
}

static void test_latency_fires_and_recovers(void **state) {
    fixture *fx = *state;
    fa_obs_alerts *a = fa_obs_alerts_new(fx->reg, &fx->cfg);
    assert_non_null(a);
    assert_int_equal(fa_obs_alerts_eval(a, 1000), 0);
    expect_state(a, FA_ALERT_API_LATENCY, "", FA_OBS_ALERT_INACTIVE, 1000);
    assert_true(isnan(info(a, FA_ALERT_API_LATENCY, "").value)); /* no requests yet */

    observe(fx, "/v1/matches/{id}", 100, 0.8);
    fa_obs_alerts_eval(a, 1010);
    expect_state(a, FA_ALERT_API_LATENCY, "", FA_OBS_ALERT_PENDING, 1010);
    assert_float_equal(info(a, FA_ALERT_API_LATENCY, "").value, 0.975, 1e-12); /* 0.5 + 0.5 x 0.95 */
    fa_obs_alerts_eval(a, 1060);
    expect_state(a, FA_ALERT_API_LATENCY, "", FA_OBS_ALERT_PENDING, 1010);
    assert_int_equal(fx->notified, 0);
    fa_obs_alerts_eval(a, 1070); /* held for 60 s */
    expect_state(a, FA_ALERT_API_LATENCY, "", FA_OBS_ALERT_FIRING, 1070);
    assert_int_equal(fx->notified, 1);
    assert_non_null(
        strstr(fx->last_event.data, "{\"status\":\"firing\",\"alert\":{\"name\":\"FaApiLatencyP95High\""));

    observe(fx, "/v1/teams", 10000, 0.003); /* 100 slow in 10100: p95 in (2.5 ms, 5 ms] */
    fa_obs_alerts_eval(a, 1080);
    expect_state(a, FA_ALERT_API_LATENCY, "", FA_OBS_ALERT_INACTIVE, 1080);
    assert_float_equal(info(a, FA_ALERT_API_LATENCY, "").value, 0.0025 + 0.0025 * 0.9595, 1e-12);
    assert_int_equal(fx->notified, 2);
    assert_non_null(strstr(fx->last_event.data, "{\"status\":\"resolved\",\"alert\":{\"name\":"));
    fa_obs_alerts_free(a);
}

static void test_latency_window_slides(void **state) {
    fixture *fx = *state;
    fa_obs_alerts *a = fa_obs_alerts_new(fx->reg, &fx->cfg);
    fa_obs_alerts_eval(a, 0);
    observe(fx, "/v1/matches", 100, 0.8);
    for (int t = 10; t <= 300; t += 10) fa_obs_alerts_eval(a, t);
    expect_state(a, FA_ALERT_API_LATENCY, "", FA_OBS_ALERT_FIRING, 70);
    /* at 310 the newest snapshot 300 s old is the one at 10, taken after the slow requests */
    fa_obs_alerts_eval(a, 310);
    expect_state(a, FA_ALERT_API_LATENCY, "", FA_OBS_ALERT_INACTIVE, 310);
    assert_true(isnan(info(a, FA_ALERT_API_LATENCY, "").value));
    assert_int_equal(fx->notified, 2);

    /* too few requests (10 < 20) give no value */
    observe(fx, "/v1/matches", 10, 9);
    fa_obs_alerts_eval(a, 320);
    expect_state(a, FA_ALERT_API_LATENCY, "", FA_OBS_ALERT_INACTIVE, 310);
    /* pending, then the condition ends before `for`: back to inactive, no notification */
    observe(fx, "/v1/matches", 10, 9);
    fa_obs_alerts_eval(a, 330);
    expect_state(a, FA_ALERT_API_LATENCY, "", FA_OBS_ALERT_PENDING, 330);
    observe(fx, "/v1/matches", 1000, 0.001);
    fa_obs_alerts_eval(a, 340);
    expect_state(a, FA_ALERT_API_LATENCY, "", FA_OBS_ALERT_INACTIVE, 340);
    assert_int_equal(fx->notified, 2);
    fa_obs_alerts_free(a);
}

static void test_cache_hit_rate(void **state) {
    fixture *fx = *state;
    fx->cfg.cache_for_s = 30;
    fa_obs_alerts *a = fa_obs_alerts_new(fx->reg, &fx->cfg);
    fa_obs_counter_add(fa_obs_counter_with(fx->hits, FA_OBS_LABELS("l1")), 5000); /* before the window */
    fa_obs_alerts_eval(a, 0);
    fa_obs_counter_add(fa_obs_counter_with(fx->hits, FA_OBS_LABELS("l1")), 900);
    fa_obs_counter_add(fa_obs_counter_with(fx->misses, FA_OBS_LABELS("l1")), 100);
    fa_obs_counter_add(fa_obs_counter_with(fx->hits, FA_OBS_LABELS("l2")), 50);
    fa_obs_counter_add(fa_obs_counter_with(fx->misses, FA_OBS_LABELS("l2")), 150);
    fa_obs_counter_add(fa_obs_counter_with(fx->misses, FA_OBS_LABELS("l3")), 99); /* too few lookups */
    fa_obs_alerts_eval(a, 10);
    expect_state(a, FA_ALERT_CACHE_HIT_RATE, "layer=l1", FA_OBS_ALERT_INACTIVE, 0);
    assert_float_equal(info(a, FA_ALERT_CACHE_HIT_RATE, "layer=l1").value, 0.9, 1e-12);
    expect_state(a, FA_ALERT_CACHE_HIT_RATE, "layer=l2", FA_OBS_ALERT_PENDING, 10);
    assert_float_equal(info(a, FA_ALERT_CACHE_HIT_RATE, "layer=l2").value, 0.25, 1e-12);
    expect_state(a, FA_ALERT_CACHE_HIT_RATE, "layer=l3", FA_OBS_ALERT_INACTIVE, 10);
    assert_true(isnan(info(a, FA_ALERT_CACHE_HIT_RATE, "layer=l3").value));
    fa_obs_alerts_eval(a, 40);
    expect_state(a, FA_ALERT_CACHE_HIT_RATE, "layer=l2", FA_OBS_ALERT_FIRING, 40);
    assert_int_equal(fx->notified, 1);
    fa_obs_counter_add(fa_obs_counter_with(fx->hits, FA_OBS_LABELS("l2")), 2000); /* 2050 / 2200 */
    fa_obs_alerts_eval(a, 50);
    expect_state(a, FA_ALERT_CACHE_HIT_RATE, "layer=l2", FA_OBS_ALERT_INACTIVE, 50);
    assert_float_equal(info(a, FA_ALERT_CACHE_HIT_RATE, "layer=l2").value, 2050.0 / 2200.0, 1e-12);
    fa_obs_alerts_free(a);
}

static void test_gauge_rules(void **state) {
    fixture *fx = *state;
    fx->cfg.db_pool_for_s = 0;
    fx->cfg.gpu_for_s = 0;
    fa_obs_family *in_use = fa_obs_gauge_family(fx->reg, FA_M_DB_POOL_IN_USE, "", FA_OBS_LABELS(FA_L_POOL));
    fa_obs_family *max = fa_obs_gauge_family(fx->reg, FA_M_DB_POOL_MAX, "", FA_OBS_LABELS(FA_L_POOL));
    fa_obs_gauge_set(fa_obs_gauge_with(in_use, FA_OBS_LABELS("primary")), 9);
    fa_obs_gauge_set(fa_obs_gauge_with(max, FA_OBS_LABELS("primary")), 10);
    fa_obs_gauge_set(fa_obs_gauge_with(in_use, FA_OBS_LABELS("replica")), 8);
    fa_obs_gauge_set(fa_obs_gauge_with(max, FA_OBS_LABELS("replica")), 10); /* 0.8 is not > 0.8 */
    fa_obs_family *util = fa_obs_gauge_family(fx->reg, FA_M_GPU_UTILIZATION, "", FA_OBS_LABELS(FA_L_GPU));
    fa_obs_family *jobs = fa_obs_gauge_family(fx->reg, FA_M_GPU_JOBS, "", FA_OBS_LABELS(FA_L_GPU));
    fa_obs_gauge_set(fa_obs_gauge_with(util, FA_OBS_LABELS("0")), 0.3);
    fa_obs_gauge_set(fa_obs_gauge_with(jobs, FA_OBS_LABELS("0")), 2);
    fa_obs_gauge_set(fa_obs_gauge_with(util, FA_OBS_LABELS("1")), 0.1);
    fa_obs_gauge_set(fa_obs_gauge_with(jobs, FA_OBS_LABELS("1")), 0); /* idle: not in use */
    fa_obs_gauge_set(fa_obs_gauge_with(util, FA_OBS_LABELS("2")), 0.9);
    fa_obs_gauge_set(fa_obs_gauge_get(fx->reg, FA_M_PROCESS_RSS, ""), 900);
    fa_obs_alerts *a = fa_obs_alerts_new(fx->reg, &fx->cfg);
    fa_obs_alerts_eval(a, 100);
    expect_state(a, FA_ALERT_DB_POOL, "pool=primary", FA_OBS_ALERT_FIRING, 100);
    assert_float_equal(info(a, FA_ALERT_DB_POOL, "pool=primary").value, 0.9, 1e-12);
    expect_state(a, FA_ALERT_DB_POOL, "pool=replica", FA_OBS_ALERT_INACTIVE, 100);
    expect_state(a, FA_ALERT_GPU, "gpu=0", FA_OBS_ALERT_FIRING, 100);
    expect_state(a, FA_ALERT_GPU, "gpu=1", FA_OBS_ALERT_INACTIVE, 100);
    assert_true(isnan(info(a, FA_ALERT_GPU, "gpu=1").value));
    expect_state(a, FA_ALERT_GPU, "gpu=2", FA_OBS_ALERT_INACTIVE, 100);
    expect_state(a, FA_ALERT_MEMORY, "", FA_OBS_ALERT_PENDING, 100);
    assert_float_equal(info(a, FA_ALERT_MEMORY, "").value, 0.9, 1e-12);
    fa_obs_alerts_eval(a, 400);
    expect_state(a, FA_ALERT_MEMORY, "", FA_OBS_ALERT_FIRING, 400);
    assert_int_equal(fx->notified, 3); /* pool, gpu, memory */

    /* /v1/alerts */
    fa_buf out = {0};
    assert_int_equal(fa_obs_alerts_write_json(a, &out), 0);
    fa_arena *arena = fa_arena_new(0);
    fa_json_value *doc;
    assert_int_equal(fa_json_parse("alerts.json", out.data, out.len, arena, &doc), 0);
    assert_true(fa_json_get(doc, "evaluated_at")->u.num == 400);
    assert_true(fa_json_get(doc, "window_s")->u.num == 300);
    const fa_json_value *list = fa_json_get(doc, "alerts");
    assert_int_equal(list->type, FA_JSON_ARRAY);
    assert_int_equal(list->u.arr.n, 7); /* latency, memory, 2 pools, 3 gpus */
    int seen = 0;
    for (size_t i = 0; i < list->u.arr.n; i++) {
        const fa_json_value *al = list->u.arr.items[i];
        const char *name = fa_json_get(al, "name")->u.str.ptr;
        const fa_json_value *labels = fa_json_get(al, "labels");
        assert_int_equal(labels->type, FA_JSON_OBJECT);
        if (strcmp(name, FA_ALERT_DB_POOL) == 0 &&
            strcmp(fa_json_get(labels, "pool")->u.str.ptr, "primary") == 0) {
            assert_string_equal(fa_json_get(al, "state")->u.str.ptr, "firing");
            assert_float_equal(fa_json_get(al, "value")->u.num, 0.9, 1e-12);
            assert_true(fa_json_get(al, "threshold")->u.num == 0.8);
            assert_true(fa_json_get(al, "for_s")->u.num == 0);
            assert_true(fa_json_get(al, "since")->u.num == 100);
            seen++;
        }
        if (strcmp(name, FA_ALERT_GPU) == 0 && strcmp(fa_json_get(labels, "gpu")->u.str.ptr, "1") == 0) {
            assert_int_equal(fa_json_get(al, "value")->type, FA_JSON_NULL);
            assert_string_equal(fa_json_get(al, "state")->u.str.ptr, "inactive");
            seen++;
        }
        if (strcmp(name, FA_ALERT_API_LATENCY) == 0) {
            assert_int_equal(labels->u.obj.n, 0);
            assert_true(fa_json_get(al, "threshold")->u.num == 0.5);
            seen++;
        }
    }
    assert_int_equal(seen, 3);
    /* the notify payload parses too */
    assert_int_equal(fa_json_parse("event.json", fx->last_event.data, fx->last_event.len, arena, &doc), 0);
    assert_string_equal(fa_json_get(doc, "status")->u.str.ptr, "firing");
    assert_string_equal(fa_json_get(fa_json_get(doc, "alert"), "name")->u.str.ptr, FA_ALERT_MEMORY);
    fa_arena_free(arena);
    fa_buf_free(&out);
    fa_obs_alerts_free(a);
}

static void test_bad_config(void **state) {
    fixture *fx = *state;
    fx->cfg.step_s = 0;
    assert_null(fa_obs_alerts_new(fx->reg, &fx->cfg));
    assert_string_equal(fa_err_msg(), "obs: alerts: step_s (0) must be > 0 and window_s (300) >= step_s, "
                                      "at most 4094 steps");
    fa_obs_alert_config_default(&fx->cfg);
    fx->cfg.cache_for_s = -1;
    assert_null(fa_obs_alerts_new(fx->reg, &fx->cfg));
    assert_string_equal(fa_err_msg(),
                        "obs: alerts: rule FaCacheHitRateLow: threshold must be finite and for_s >= 0");
}

/* The process-wide engine: on demand without a thread, then with one. */
static void test_process_wide(void **state) {
    (void)state;
    fa_buf out = {0};
    fa_arena *arena = fa_arena_new(0);
    fa_json_value *doc;
    assert_int_equal(fa_obs_alerts_json(&out), 0);
    assert_int_equal(fa_json_parse("alerts.json", out.data, out.len, arena, &doc), 0);
    assert_int_equal(fa_json_get(doc, "evaluated_at")->type, FA_JSON_NUMBER);
    const fa_json_value *list = fa_json_get(doc, "alerts");
    assert_int_equal(list->u.arr.n, 2); /* latency (no requests) and memory */
    assert_string_equal(fa_json_get(list->u.arr.items[0], "name")->u.str.ptr, FA_ALERT_API_LATENCY);
    assert_string_equal(fa_json_get(list->u.arr.items[1], "name")->u.str.ptr, FA_ALERT_MEMORY);
    assert_int_equal(fa_json_get(list->u.arr.items[1], "value")->type, FA_JSON_NUMBER); /* real RSS / limit */

    fa_obs_alert_config cfg;
    fa_obs_alert_config_default(&cfg);
    cfg.step_s = 0.02;
    cfg.window_s = 1;
    assert_int_equal(fa_obs_alerts_start(&cfg), 0);
    assert_int_equal(fa_obs_alerts_start(&cfg), FA_EINVAL);
    assert_string_equal(fa_err_msg(), "obs: alerts: the alert thread is already running");
    usleep(100 * 1000);
    fa_buf_reset(&out);
    assert_int_equal(fa_obs_alerts_json(&out), 0);
    assert_int_equal(fa_json_parse("alerts.json", out.data, out.len, arena, &doc), 0);
    assert_true(fa_json_get(doc, "window_s")->u.num == 1);
    assert_int_equal(fa_json_get(doc, "evaluated_at")->type, FA_JSON_NUMBER);
    fa_obs_shutdown();
    fa_arena_free(arena);
    fa_buf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_latency_fires_and_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latency_window_slides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_hit_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gauge_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        cmocka_unit_test(test_process_wide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
