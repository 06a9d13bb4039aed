/* test_aggregates.c - the aggregates container: copies, growth, name and value checks, free. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "model/model.h"
#include "testutil.h"

static void test_metrics_grow_and_copy(void **state) {
    (void)state;
    fa_aggregates a = {0};
    char id[16], name[48];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "p%d", i % 22);
        snprintf(name, sizeof name, "metric_%d", i);
        assert_int_equal(fa_aggregates_metric(&a, (fa_side)(i % 2), i % 5 ? id : NULL, name, i * 0.5), 0);
    }
    assert_int_equal(a.nmetrics, 1000);
    assert_true(a.cap_metrics >= 1000);
    assert_string_equal(a.metrics[0].player_id, ""); /* NULL is a team metric */
    assert_string_equal(a.metrics[999].player_id, "p9");
    assert_string_equal(a.metrics[999].name, "metric_999");
    assert_int_equal(a.metrics[999].side, FA_SIDE_AWAY);
    assert_true(a.metrics[999].value == 499.5);
    /* the inputs were copied: changing the caller's buffers changes nothing */
    strcpy(name, "changed");
    assert_string_equal(a.metrics[999].name, "metric_999");
    fa_aggregates_free(&a);
    assert_null(a.metrics);
    assert_int_equal(a.nmetrics, 0);
    assert_int_equal(a.cap_metrics, 0);
    /* a freed container is empty and can be filled again */
    assert_int_equal(fa_aggregates_metric(&a, FA_SIDE_NONE, "", "possession_share", 0.61), 0);
    assert_int_equal(a.nmetrics, 1);
    fa_aggregates_free(&a);
    fa_aggregates_free(&a);
    fa_aggregates_free(NULL);
}

static void test_grids_and_docs_are_copies(void **state) {
    (void)state;
    fa_aggregates a = {0};
    double cells[21 * 14];
    for (int i = 0; i < 21 * 14; i++) cells[i] = i / 3.0;
    for (int g = 0; g < 40; g++)
        assert_int_equal(fa_aggregates_grid(&a, FA_SIDE_HOME, g ? "5503" : "", "heatmap", 21, 14, cells), 0);
    cells[5] = -1;
    assert_int_equal(a.ngrids, 40);
    assert_int_equal(a.grids[39].nx, 21);
    assert_int_equal(a.grids[39].ny, 14);
    assert_true(a.grids[39].cells[5] == 5 / 3.0);
    assert_true(a.grids[0].cells != a.grids[1].cells);
    assert_string_equal(a.grids[0].player_id, "");

    char json[64] = "{\"sprint_kmh\":25.2}";
    assert_int_equal(fa_aggregates_doc(&a, "definitions", json), 0);
    json[2] = 'X';
    assert_string_equal(a.docs[0].json, "{\"sprint_kmh\":25.2}");
    assert_string_equal(a.docs[0].name, "definitions");
    assert_int_equal(fa_aggregates_doc(&a, "empty", ""), 0);
    assert_string_equal(a.docs[1].json, "");
    fa_aggregates_free(&a);
    assert_int_equal(a.ngrids + a.ndocs, 0);
}

static void test_names_and_values_checked(void **state) {
    (void)state;
    fa_aggregates a = {0};
    char name[64], id[80];
    memset(name, 'n', sizeof name);
    name[47] = '\0'; /* 47 bytes: the longest metric name that fits */
    assert_int_equal(fa_aggregates_metric(&a, FA_SIDE_HOME, "", name, 1), 0);
    name[47] = 'n';
    name[48] = '\0';
    assert_int_equal(fa_aggregates_metric(&a, FA_SIDE_HOME, "", name, 1), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "is 48 bytes, longer than 47"));
    memset(id, '7', sizeof id);
    id[64] = '\0';
    assert_int_equal(fa_aggregates_metric(&a, FA_SIDE_HOME, id, "distance_m", 1), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "player id"));
    assert_int_equal(fa_aggregates_metric(&a, FA_SIDE_HOME, "", "", 1), FA_EINVAL);
    assert_int_equal(fa_aggregates_metric(&a, FA_SIDE_HOME, "", NULL, 1), FA_EINVAL);
    assert_int_equal(fa_aggregates_metric(&a, (fa_side)2, "", "x", 1), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "side 2"));
    assert_int_equal(fa_aggregates_metric(&a, FA_SIDE_HOME, "", "x", NAN), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "metric 'x': value is not finite"));
    assert_int_equal(fa_aggregates_metric(&a, FA_SIDE_HOME, "", "x", INFINITY), FA_EINVAL);
    assert_int_equal(a.nmetrics, 1); /* failed appends left it unchanged */

    double cells[4] = {0};
    assert_int_equal(fa_aggregates_grid(&a, FA_SIDE_HOME, "", "heatmap", 0, 14, cells), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "grid 'heatmap': size 0 x 14"));
    assert_int_equal(fa_aggregates_grid(&a, FA_SIDE_HOME, "", "heatmap", 2, -2, cells), FA_EINVAL);
    assert_int_equal(fa_aggregates_grid(&a, FA_SIDE_HOME, "", "heatmap", 1 << 16, 1 << 16, cells), FA_EINVAL);
    assert_int_equal(fa_aggregates_grid(&a, FA_SIDE_HOME, "", "heatmap", 2, 2, NULL), FA_EINVAL);
    assert_int_equal(
        fa_aggregates_grid(&a, FA_SIDE_HOME, "", "a_grid_name_of_thirty_two_bytes_", 2, 2, cells), FA_EINVAL);
    assert_int_equal(a.ngrids, 0);

    assert_int_equal(fa_aggregates_doc(&a, "definitions", NULL), FA_EINVAL);
    assert_int_equal(fa_aggregates_doc(&a, "", "{}"), FA_EINVAL);
    memset(name, 'd', sizeof name);
    name[63] = '\0';
    assert_int_equal(fa_aggregates_doc(&a, name, "{}"), 0);
    name[63] = 'd';
    name[sizeof name - 1] = '\0';
    char longer[80];
    snprintf(longer, sizeof longer, "%sdd", name);
    assert_int_equal(fa_aggregates_doc(&a, longer, "{}"), FA_EINVAL);
    assert_int_equal(a.ndocs, 1);
    fa_aggregates_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_grow_and_copy),
        cmocka_unit_test(test_grids_and_docs_are_copies),
        cmocka_unit_test(test_names_and_values_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
