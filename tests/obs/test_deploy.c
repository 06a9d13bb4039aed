/*
 * test_deploy.c - the files in deploy/ agree with the code: the Grafana
 * dashboard is valid JSON (fa_json_parse) with a query in every panel;
 * alerts.yml has exactly the built-in rules, each with the engine's default
 * threshold and `for` duration; every metric name either file uses
 * (fa_* and process_*, less a histogram's _bucket/_sum/_count) is one of
 * obs.h's constants (a text search of obs.h for the quoted name).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "obs/obs.h"
#include "testutil.h"

static char *read_source(const char *rel, size_t *len) {
    const char *dir = getenv("FA_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "..", rel);
    char *text = fa_test_read_file(path, len);
    if (!text) fail_msg("cannot read %s", path);
    return text;
}

static int is_name_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == ':'; }

static int known_metric(const char *obs_h, const char *name, size_t n) {
    static const char *suffixes[] = {"", "_bucket", "_sum", "_count"};
    for (size_t s = 0; s < 4; s++) {
        size_t sl = strlen(suffixes[s]);
        if (n <= sl || strncmp(name + n - sl, suffixes[s], sl) != 0) continue;
        char quoted[256];
        snprintf(quoted, sizeof quoted, "\"%.*s\"", (int)(n - sl), name);
        if (strstr(obs_h, quoted)) return 1;
    }
    return 0;
}

/* Checks every fa_* / process_* token of text; returns how many it saw. */
static int check_metric_names(const char *obs_h, const char *text, const char *where) {
    int seen = 0;
    for (const char *p = text; *p;) {
        if (!is_name_char(*p) || (p > text && is_name_char(p[-1]))) {
            p++;
            continue;
        }
        size_t n = 0;
        while (is_name_char(p[n])) n++;
        if (strncmp(p, "fa_", 3) == 0 || strncmp(p, "process_", 8) == 0) {
            if (!known_metric(obs_h, p, n))
                fail_msg("%s: metric '%.*s' is not a constant of obs.h", where, (int)n, p);
            seen++;
        }
        p += n;
    }
    return seen;
}

static void collect_exprs(const fa_json_value *panels, fa_buf *exprs, int *nexprs) {
    assert_int_equal(panels->type, FA_JSON_ARRAY);
    for (size_t i = 0; i < panels->u.arr.n; i++) {
        const fa_json_value *panel = panels->u.arr.items[i];
        const fa_json_value *type = fa_json_get(panel, "type");
        assert_non_null(type);
        assert_non_null(fa_json_get(panel, "title"));
        assert_non_null(fa_json_get(panel, "gridPos"));
        if (strcmp(type->u.str.ptr, "row") == 0) continue;
        const fa_json_value *targets = fa_json_get(panel, "targets");
        assert_non_null(targets);
        assert_int_equal(targets->type, FA_JSON_ARRAY);
        assert_true(targets->u.arr.n > 0);
        for (size_t t = 0; t < targets->u.arr.n; t++) {
            const fa_json_value *expr = fa_json_get(targets->u.arr.items[t], "expr");
            assert_non_null(expr);
            assert_int_equal(expr->type, FA_JSON_STRING);
            assert_true(expr->u.str.len > 0);
            fa_buf_puts(exprs, expr->u.str.ptr);
            fa_buf_putc(exprs, '\n');
            (*nexprs)++;
        }
    }
}

static void test_grafana_dashboard(void **state) {
    (void)state;
    size_t len;
    char *obs_h = read_source("src/obs/obs.h", &len);
    char *json = read_source("deploy/grafana/footanalytics.json", &len);
    fa_arena *a = fa_arena_new(0);
    fa_json_value *doc;
    if (fa_json_parse("footanalytics.json", json, len, a, &doc) != 0) fail_msg("%s", fa_err_msg());
    assert_string_equal(fa_json_get(doc, "title")->u.str.ptr, "FootAnalytics");
    assert_string_equal(fa_json_get(doc, "uid")->u.str.ptr, "footanalytics");
    fa_buf exprs = {0};
    int nexprs = 0;
    collect_exprs(fa_json_get(doc, "panels"), &exprs, &nexprs);
    assert_true(nexprs >= 10);
    /* the panels the issue asks for */
    const char *wanted[] = {"rate(fa_http_request_duration_seconds_count",
                            "histogram_quantile(0.99",
                            "status=~\"5..\"",
                            "fa_cache_misses_total",
                            "layer=\"l1\"",
                            "process_resident_memory_bytes",
                            "rate(process_cpu_seconds_total"};
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
        if (!strstr(exprs.data, wanted[i])) fail_msg("no dashboard query uses %s", wanted[i]);
    assert_true(check_metric_names(obs_h, exprs.data, "footanalytics.json") >= nexprs);
    fa_buf_free(&exprs);
    fa_arena_free(a);
    free(json);
    free(obs_h);
}

/* The text of rule name's block in alerts.yml (up to the next rule). */
static char *rule_block(const char *yml, const char *name) {
    char head[96];
    snprintf(head, sizeof head, "- alert: %s\n", name);
    const char *start = strstr(yml, head);
    if (!start) {
        fail_msg("alerts.yml: no rule %s", name);
        return NULL;
    }
    const char *end = strstr(start + 1, "- alert: ");
    size_t n = end ? (size_t)(end - start) : strlen(start);
    char *block = malloc(n + 1);
    memcpy(block, start, n);
    block[n] = '\0';
    return block;
}

/* op_value ("> 0.5") occurs in block, not followed by another digit. */
static int has_comparison(const char *block, const char *op_value) {
    size_t n = strlen(op_value);
    for (const char *p = strstr(block, op_value); p; p = strstr(p + 1, op_value))
        if (!isdigit((unsigned char)p[n]) && p[n] != '.') return 1;
    return 0;
}

static void check_rule(const char *yml, const char *name, const char *op, double threshold, double for_s,
                       const char *min_clause) {
    char *block = rule_block(yml, name);
    char want[64];
    snprintf(want, sizeof want, "%s %g", op, threshold);
    if (!has_comparison(block, want))
        fail_msg("alerts.yml: %s: no '%s' (the built-in threshold)", name, want);
    snprintf(want, sizeof want, "\n        for: %gm\n", for_s / 60);
    if (!strstr(block, want))
        fail_msg("alerts.yml: %s: no 'for: %gm' (the built-in for_s %g)", name, for_s / 60, for_s);
    if (min_clause && !has_comparison(block, min_clause))
        fail_msg("alerts.yml: %s: no '%s'", name, min_clause);
    assert_non_null(strstr(block, "\n        expr: "));
    assert_non_null(strstr(block, "\n          summary: "));
    free(block);
}

static void test_prometheus_rules(void **state) {
    (void)state;
    size_t len;
    char *obs_h = read_source("src/obs/obs.h", &len);
    char *yml = read_source("deploy/prometheus/alerts.yml", &len);
    assert_null(strchr(yml, '\t')); /* YAML forbids tabs in indentation */
    assert_non_null(strstr(yml, "\ngroups:\n  - name: footanalytics\n    rules:\n"));
    int rules = 0;
    for (const char *p = strstr(yml, "- alert: "); p; p = strstr(p + 1, "- alert: ")) rules++;
    assert_int_equal(rules, 5);
    fa_obs_alert_config c;
    fa_obs_alert_config_default(&c);
    char min_requests[32], min_lookups[32];
    snprintf(min_requests, sizeof min_requests, ">= %llu", (unsigned long long)c.latency_min_requests);
    snprintf(min_lookups, sizeof min_lookups, ">= %llu", (unsigned long long)c.cache_min_lookups);
    check_rule(yml, FA_ALERT_API_LATENCY, ">", c.latency_p95_s, c.latency_for_s, min_requests);
    check_rule(yml, FA_ALERT_MEMORY, ">", c.memory_ratio, c.memory_for_s, NULL);
    check_rule(yml, FA_ALERT_CACHE_HIT_RATE, "<", c.cache_hit_ratio, c.cache_for_s, min_lookups);
    check_rule(yml, FA_ALERT_DB_POOL, ">", c.db_pool_ratio, c.db_pool_for_s, NULL);
    check_rule(yml, FA_ALERT_GPU, "<", c.gpu_util_ratio, c.gpu_for_s, NULL);
    assert_non_null(strstr(yml, "[5m]")); /* the built-in window */
    assert_true(c.window_s == 300);
    assert_true(check_metric_names(obs_h, yml, "alerts.yml") >= 10);
    free(yml);
    free(obs_h);
}

/* The checker itself catches a name obs.h lacks. */
static void test_checker_catches_unknown(void **state) {
    (void)state;
    const char *obs_h = "#define FA_M_X \"fa_x_seconds\"\n";
    assert_int_equal(known_metric(obs_h, "fa_x_seconds_bucket", 19), 1);
    assert_int_equal(known_metric(obs_h, "fa_x_seconds", 12), 1);
    assert_int_equal(known_metric(obs_h, "fa_x", 4), 0);
    assert_int_equal(known_metric(obs_h, "fa_x_seconds_total", 18), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grafana_dashboard),
        cmocka_unit_test(test_prometheus_rules),
        cmocka_unit_test(test_checker_catches_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
