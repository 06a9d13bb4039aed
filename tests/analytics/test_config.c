/*
 * test_config.c - the analytics configuration: every default, setting each
 * kind of option by name, the band syntax (and the published bands' gaps
 * closed), validation messages, parsing a config text, and the JSON
 * statement of the definitions (parsed back and compared).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "testutil.h"

static void test_defaults(void **state) {
    (void)state;
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    assert_int_equal(c.smoothing, FA_SMOOTH_SAVGOL);
    assert_int_equal(c.savgol_window, 7);
    assert_int_equal(c.savgol_order, 1);
    assert_true(c.butter_cutoff_hz == 1.0 && c.butter_order == 2);
    assert_true(c.player_max_speed == 12 && c.ball_max_speed == 50 && c.max_gap_s == 1.0);
    assert_int_equal(c.nbands, 6);
    const char *names[6] = {"standing", "walking", "jogging", "running", "high_speed_running", "sprinting"};
    const double edges[7] = {0, 0.7, 7.2, 14.4, 19.8, 25.2, INFINITY};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(c.bands[i].name, names[i]);
        assert_true(c.bands[i].lo == edges[i] && c.bands[i].hi == edges[i + 1]);
    }
    assert_int_equal(c.nrel_bands, 6);
    const double rel[7] = {0, 40, 60, 75, 85, 95, INFINITY};
    for (int i = 0; i < 6; i++) assert_true(c.rel_bands[i].lo == rel[i] && c.rel_bands[i].hi == rel[i + 1]);
    assert_string_equal(c.rel_bands[5].name, "rel_95_max");
    assert_true(c.sprint_kmh == 25.2 && c.sprint_min_s == 1.0 && c.hsr_kmh == 19.8 && c.hsr_min_s == 1.0);
    assert_true(c.accel_ms2 == 3.0 && c.accel_min_s == 0.5 && c.peak_hold_s == 0.5);
    assert_true(c.heat_nx == 21 && c.heat_ny == 14 && c.heat_sigma_cells == 1.0);
    assert_true(c.pc.max_speed == 5 && c.pc.reaction_s == 0.7 && c.pc.tti_sigma == 0.45 &&
                c.pc.lambda == 4.3);
    assert_true(c.pc.lambda_gk_factor == 3 && c.pc.ball_speed == 15 && c.pc.dt == 0.04 &&
                c.pc.horizon_s == 10);
    assert_true(c.pc.convergence == 0.99 && c.pc.nx == 50 && c.pc.ny == 32);
    assert_true(c.possession_window_s == 300 && c.owner_radius_m == 1.5 && c.owner_hysteresis_s == 0.5);
    assert_true(c.pass_string_min == 3 && c.xt_nx == 12 && c.xt_ny == 8);
}

static void test_set_values(void **state) {
    (void)state;
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    assert_int_equal(fa_analytics_config_set(&c, "sprint_kmh", "24"), 0);
    assert_true(c.sprint_kmh == 24);
    assert_int_equal(fa_analytics_config_set(&c, "savgol_window", "11"), 0);
    assert_int_equal(fa_analytics_config_set(&c, "savgol_order", "3"), 0);
    assert_true(c.savgol_window == 11 && c.savgol_order == 3);
    assert_int_equal(fa_analytics_config_set(&c, "smoothing", "Butterworth"), 0);
    assert_int_equal(c.smoothing, FA_SMOOTH_BUTTERWORTH);
    assert_int_equal(fa_analytics_config_set(&c, "smoothing", "none"), 0);
    assert_int_equal(c.smoothing, FA_SMOOTH_NONE);
    assert_int_equal(fa_analytics_config_set(&c, "smoothing", "savitzky-golay"), 0);
    assert_int_equal(c.smoothing, FA_SMOOTH_SAVGOL);
    assert_int_equal(fa_analytics_config_set(&c, "pc_lambda", "5.5"), 0);
    assert_int_equal(fa_analytics_config_set(&c, "pc.nx", "64"), 0);
    assert_true(c.pc.lambda == 5.5 && c.pc.nx == 64);
    assert_int_equal(fa_analytics_config_set(&c, "max_gap_s", "0"), 0); /* never interpolate */
    assert_true(c.max_gap_s == 0);
    assert_int_equal(fa_analytics_config_set(&c, "heat_sigma_cells", "0"), 0);
    assert_int_equal(fa_analytics_config_set(&c, "xt_nx", "16"), 0);
    assert_int_equal(fa_analytics_config_set(&c, "xt_ny", "12"), 0);
    assert_true(c.xt_nx == 16 && c.xt_ny == 12 && c.heat_sigma_cells == 0);
}

/* Each refusal names the key and what was expected, and changes nothing. */
static void test_set_errors(void **state) {
    (void)state;
    fa_analytics_config c, before;
    fa_analytics_config_default(&c);
    before = c;
    const struct {
        const char *key, *value, *msg;
    } bad[] = {
        {"sprint_speed", "25", "config: unknown key 'sprint_speed'"},
        {"sprint_kmh", "fast", "config: key 'sprint_kmh': expected a number in (0, 100], got 'fast'"},
        {"sprint_kmh", "0", "key 'sprint_kmh': expected a number in (0, 100]"},
        {"sprint_kmh", "nan", "key 'sprint_kmh'"},
        {"sprint_kmh", "", "key 'sprint_kmh'"},
        {"savgol_window", "8", "key 'savgol_window': must be odd, got 8"},
        {"savgol_window", "1", "key 'savgol_window': expected an integer in [3, 101], got '1'"},
        {"savgol_order", "7", "key 'savgol_order': 7 must be below savgol_window 7"},
        {"savgol_order", "0", "key 'savgol_order'"},
        {"savgol_order", "1.5", "key 'savgol_order': expected an integer"},
        {"butter_order", "9", "key 'butter_order'"},
        {"pc_convergence", "1.5", "key 'pc_convergence'"},
        {"pc.bogus", "1", "unknown key 'pc_bogus'"},
        {"smoothing", "kalman", "key 'smoothing': expected none, savgol or butterworth, got 'kalman'"},
        {"bands", "a:0-1,b:0.5-2", "key 'bands': band 'b' starts at 0.5, below the end 1 of band 'a'"},
        {"bands", "a:0-1,a:1-2", "key 'bands': band name 'a' is used twice"},
        {"bands", "a0-1", "key 'bands': expected name:lo-hi, got 'a0-1'"},
        {"bands", "a:1-1", "key 'bands': band 'a': expected lo-hi in km/h"},
        {"bands", "a:-1-3", "band 'a'"},
        {"bands", "a:2-x", "band 'a'"},
        {"bands", ":0-1", "band name ''"},
        {"bands", "a b:0-1", "band name 'a b'"},
        {"bands", "", "expected name:lo-hi, got ''"},
        {"bands", "a:0-1,b:1-2,c:2-3,d:3-4,e:4-5,f:5-6,g:6-7,h:7-8,i:8-9", "more than 8 bands"},
        {"rel_bands", "x:0-inf,y:50-100", "key 'rel_bands': band 'y' starts at 50, below the end inf"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = fa_analytics_config_set(&c, bad[i].key, bad[i].value);
        if (rc != FA_EINVAL || !strstr(fa_err_msg(), bad[i].msg))
            print_message("%s=%s -> %d '%s'\n", bad[i].key, bad[i].value, rc, fa_err_msg());
        assert_int_equal(rc, FA_EINVAL);
        assert_non_null(strstr(fa_err_msg(), bad[i].msg));
        assert_memory_equal(&c, &before, sizeof c);
    }
    assert_int_equal(fa_analytics_config_set(NULL, "a", "b"), FA_EINVAL);
    assert_int_equal(fa_analytics_config_set(&c, NULL, "b"), FA_EINVAL);
    assert_int_equal(fa_analytics_config_set(&c, "a", NULL), FA_EINVAL);
}

/* The bands as Bradley et al. publish them (edges to 0.1 km/h, gaps between)
 * become exactly the contiguous defaults; other bands as given. */
static void test_bands(void **state) {
    (void)state;
    fa_analytics_config c, d;
    fa_analytics_config_default(&c);
    fa_analytics_config_default(&d);
    assert_int_equal(
        fa_analytics_config_set(&c, "bands",
                                "standing:0-0.6,walking:0.7-7.1,jogging:7.2-14.3,running:14.4-19.7,"
                                "high_speed_running:19.8-25.1,sprinting:25.2-inf"),
        0);
    assert_memory_equal(&c, &d, sizeof c);
    assert_int_equal(fa_analytics_config_set(&c, "bands", " slow : 0-15 , fast:15-Infinity "), 0);
    assert_int_equal(c.nbands, 2);
    assert_string_equal(c.bands[0].name, "slow");
    assert_true(c.bands[0].lo == 0 && c.bands[0].hi == 15 && c.bands[1].lo == 15 && isinf(c.bands[1].hi));
    assert_int_equal(fa_analytics_config_set(&c, "rel_bands", "low:0-50,high:50-80,max:80-120"), 0);
    assert_int_equal(c.nrel_bands, 3);
    assert_true(c.rel_bands[2].hi == 120);
}

/* A config file's text: entries on lines or after commas, comments, blank
 * lines, a band list continuing over commas; all applied or none. */
static void test_parse(void **state) {
    (void)state;
    fa_analytics_config c, before;
    fa_analytics_config_default(&c);
    const char *text = "# club definitions\n"
                       "sprint_kmh = 24.5, sprint_min_s=0.8,\n"
                       "\n"
                       "bands=walk:0-7.2,run:7.2-19.8,fast:19.8-inf, smoothing = butterworth  # zero-phase\n"
                       "pc.lambda=4\r\n"
                       ",,\n";
    int rc = fa_analytics_config_parse(&c, text);
    if (rc) print_message("%s\n", fa_err_msg());
    assert_int_equal(rc, 0);
    assert_true(c.sprint_kmh == 24.5 && c.sprint_min_s == 0.8 && c.pc.lambda == 4);
    assert_int_equal(c.nbands, 3);
    assert_string_equal(c.bands[2].name, "fast");
    assert_int_equal(c.smoothing, FA_SMOOTH_BUTTERWORTH);

    before = c;
    rc = fa_analytics_config_parse(&c, "hsr_kmh=20\nsprint_kmh=22\naccel_ms2=-1\n");
    assert_int_equal(rc, FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "config:3: key 'accel_ms2'"));
    assert_memory_equal(&c, &before, sizeof c);
    assert_int_equal(fa_analytics_config_parse(&c, "hsr_kmh 20"), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "config:1: expected key=value, got 'hsr_kmh 20'"));
    assert_int_equal(fa_analytics_config_parse(&c, "nosuch=1"), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "config:1: unknown key 'nosuch'"));
    assert_int_equal(fa_analytics_config_parse(&c, ""), 0);
    assert_int_equal(fa_analytics_config_parse(NULL, ""), FA_EINVAL);
    assert_memory_equal(&c, &before, sizeof c);
}

/* The JSON is valid, holds every option, and feeding its bands back as text
 * reproduces the configuration (the round trip). */
static void test_json(void **state) {
    (void)state;
    fa_analytics_config c;
    fa_analytics_config_default(&c);
    assert_int_equal(fa_analytics_config_set(&c, "hsr_kmh", "21.6"), 0);
    fa_buf b = {0};
    assert_int_equal(fa_analytics_config_json(&c, &b), 0);
    fa_arena *a = fa_arena_new(1 << 16);
    fa_json_value *root;
    int rc = fa_json_parse("config.json", b.data, b.len, a, &root);
    if (rc) print_message("%s\n%s\n", fa_err_msg(), b.data);
    assert_int_equal(rc, 0);
    assert_string_equal(fa_json_get(root, "smoothing")->u.str.ptr, "savgol");
    assert_true(fa_json_get(root, "savgol_window")->u.num == 7);
    assert_true(fa_json_get(root, "hsr_kmh")->u.num == 21.6);
    assert_true(fa_json_get(root, "max_gap_s")->u.num == 1.0);
    assert_true(fa_json_get(root, "xt_ny")->u.num == 8);
    assert_true(fa_json_get(fa_json_get(root, "pc"), "lambda")->u.num == 4.3);
    assert_true(fa_json_get(fa_json_get(root, "pc"), "ny")->u.num == 32);
    assert_string_equal(fa_json_get(root, "bands_unit")->u.str.ptr, "km/h");
    assert_non_null(fa_json_get(fa_json_get(root, "notes"), "peak_speed"));

    /* round trip: a configuration that differs everywhere gets every option
     * back by its name from the JSON (numbers as text, bands through their
     * text syntax), and then equals the original */
    fa_analytics_config d;
    fa_analytics_config_default(&d);
    d.smoothing = FA_SMOOTH_NONE;
    d.savgol_window = 9, d.butter_order = 4, d.max_gap_s = 3, d.sprint_kmh = 1, d.hsr_kmh = 2;
    d.peak_hold_s = 9, d.heat_nx = 99, d.heat_sigma_cells = 7, d.pc.lambda = 1, d.pc.nx = 1,
    d.pc.convergence = 0.5;
    d.possession_window_s = 60, d.owner_radius_m = 9, d.pass_string_min = 9, d.xt_nx = 16, d.xt_ny = 12;
    memset(d.bands, 0, sizeof d.bands);
    memset(d.rel_bands, 0, sizeof d.rel_bands);
    int numbers = 0;
    for (int level = 0; level < 2; level++) {
        const fa_json_value *obj = level ? fa_json_get(root, "pc") : root;
        for (size_t i = 0; i < obj->u.obj.n; i++) {
            if (obj->u.obj.vals[i]->type != FA_JSON_NUMBER) continue;
            char key[64], value[64];
            snprintf(key, sizeof key, "%s%s", level ? "pc_" : "", obj->u.obj.keys[i]);
            snprintf(value, sizeof value, "%.17g", obj->u.obj.vals[i]->u.num);
            if (fa_analytics_config_set(&d, key, value)) print_message("%s\n", fa_err_msg());
            assert_int_equal(fa_analytics_config_set(&d, key, value), 0);
            numbers++;
        }
    }
    assert_int_equal(numbers, 35); /* every numeric option, 10 of them pitch control's */
    assert_int_equal(fa_analytics_config_set(&d, "smoothing", fa_json_get(root, "smoothing")->u.str.ptr), 0);
    const char *keys[2] = {"bands", "rel_bands"};
    for (int k = 0; k < 2; k++) {
        const fa_json_value *arr = fa_json_get(root, keys[k]);
        assert_int_equal(arr->type, FA_JSON_ARRAY);
        assert_int_equal(arr->u.arr.n, 6);
        fa_buf text = {0};
        for (size_t i = 0; i < arr->u.arr.n; i++) {
            const fa_json_value *band = arr->u.arr.items[i], *hi = fa_json_get(band, "hi");
            fa_buf_printf(&text, "%s%s:%.17g-", i ? "," : "", fa_json_get(band, "name")->u.str.ptr,
                          fa_json_get(band, "lo")->u.num);
            if (hi->type == FA_JSON_NULL) fa_buf_puts(&text, "inf");
            else fa_buf_printf(&text, "%.17g", hi->u.num);
        }
        assert_int_equal(fa_analytics_config_set(&d, keys[k], text.data), 0);
        fa_buf_free(&text);
    }
    assert_memory_equal(&c, &d, sizeof c);
    fa_arena_free(a);
    fa_buf_free(&b);
    assert_int_equal(fa_analytics_config_json(NULL, &b), FA_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_set_values),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_bands),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
