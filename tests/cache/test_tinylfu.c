/*
 * test_tinylfu.c - the frequency sketch and the admission policy it drives.
 *
 * The sketch: exact counts for a few keys in a wide table, the doorkeeper
 * taking the first sighting, saturation at 15 + 1, halving after `sample`
 * records. The policy: a hot working set that fits in the cache, accessed
 * in rounds between which a crawler scans one-hit keys (twice the cache's
 * capacity per round). A plain LRU loses the hot set to every scan; W-TinyLFU
 * keeps it. A new hot set that appears later still gets in.
 */
#include <stdio.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "testutil.h"

static uint64_t key_hash(unsigned i) { return fa_cache_hash(&i, sizeof i, 1); }

static void test_sketch_counts(void **state) {
    (void)state;
    fa_tinylfu s;
    assert_int_equal(fa_tinylfu_init(&s, 1000), 0);
    assert_int_equal(s.width, 4096);
    assert_int_equal(s.sample, 10000);
    for (unsigned k = 0; k < 20; k++)
        for (unsigned n = 0; n < k; n++) fa_tinylfu_record(&s, key_hash(k));
    for (unsigned k = 0; k < 20; k++) assert_int_equal(fa_tinylfu_estimate(&s, key_hash(k)), k < 16 ? k : 16);
    assert_int_equal(fa_tinylfu_estimate(&s, key_hash(999)), 0);
    assert_int_equal(s.resets, 0);
    fa_tinylfu_destroy(&s);
}

/* After `sample` records the counters halve and the doorkeeper empties. */
static void test_sketch_aging(void **state) {
    (void)state;
    fa_tinylfu s;
    assert_int_equal(fa_tinylfu_init(&s, 1000), 0);
    for (int n = 0; n < 9; n++) fa_tinylfu_record(&s, key_hash(1)); /* door + 8 */
    for (int n = 0; n < 13; n++) fa_tinylfu_record(&s, key_hash(2)); /* door + 12 */
    fa_tinylfu_record(&s, key_hash(3));                               /* door only */
    assert_int_equal(fa_tinylfu_estimate(&s, key_hash(1)), 9);
    assert_int_equal(fa_tinylfu_estimate(&s, key_hash(3)), 1);
    for (unsigned k = 1000; s.resets == 0; k++) fa_tinylfu_record(&s, key_hash(k)); /* one-hit keys */
    assert_int_equal(s.resets, 1);
    assert_int_equal(fa_tinylfu_estimate(&s, key_hash(1)), 4);
    assert_int_equal(fa_tinylfu_estimate(&s, key_hash(2)), 6);
    assert_int_equal(fa_tinylfu_estimate(&s, key_hash(3)), 0);
    assert_int_equal(s.additions, s.sample / 2);
    fa_tinylfu_destroy(&s);
}

static int fill_1k(void *ud, const char *key, fa_cache_fill *fill) {
    (*(uint64_t *)ud)++;
    fa_buf_printf(&fill->body, "{\"key\":\"%s\",\"pad\":\"", key);
    while (fill->body.len < 1000) fa_buf_putc(&fill->body, (char)('a' + fill->body.len % 26));
    fa_buf_puts(&fill->body, "\"}");
    return 0;
}

/* One access through get_or_fill; 1 when it was a hit (no fill ran). */
static int access_key(fa_l1 *l1, const char *key, uint64_t *fills) {
    uint64_t before = *fills;
    const fa_cache_entry *e;
    assert_int_equal(fa_l1_get_or_fill(l1, key, fill_1k, fills, &e), 0);
    fa_cache_entry_release(e);
    return *fills == before;
}

typedef struct scan_result {
    double hot_hit_rate, new_hot_hit_rate;
    uint64_t rejections;
} scan_result;

#define HOT 100
#define SCAN_PER_ROUND 800
#define ROUNDS 40
#define WARMUP 5

/* Rounds of: every hot key once, then SCAN_PER_ROUND keys never seen
 * before. From round 20 a second hot set of 50 keys joins. Hit rates are
 * taken after the warm-up rounds (new set: its last 10 rounds). */
static scan_result run_scan(fa_l1_admission admission) {
    fa_l1_config cfg;
    fa_l1_config_default(&cfg);
    cfg.max_bytes = 400 * 1600; /* about 400 entries: 4x the first hot set, 2.7x both */
    cfg.avg_entry_bytes = 1600;
    cfg.hash_seed = 2024;
    cfg.admission = admission;
    cfg.codings = 0; /* compression has no say in admission; it would only slow the test */
    fa_l1 *l1 = fa_l1_new(&cfg);
    assert_non_null(l1);
    char key[48];
    unsigned scanned = 0;
    uint64_t hot_hits = 0, hot_total = 0, new_hits = 0, new_total = 0, fills = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < HOT; i++) {
            snprintf(key, sizeof key, "GET /v1/matches/%d", i);
            int h = access_key(l1, key, &fills);
            if (round >= WARMUP) hot_hits += (uint64_t)h, hot_total++;
        }
        for (int i = 0; round >= 20 && i < 50; i++) {
            snprintf(key, sizeof key, "GET /v1/players/%d", i);
            int h = access_key(l1, key, &fills);
            if (round >= ROUNDS - 10) new_hits += (uint64_t)h, new_total++;
        }
        for (int i = 0; i < SCAN_PER_ROUND; i++) {
            snprintf(key, sizeof key, "GET /v1/matches/%u/events?page=%u", 100000 + scanned, scanned % 7);
            scanned++;
            access_key(l1, key, &fills);
        }
        if (fa_l1_verify(l1)) fail_msg("round %d: %s", round, fa_err_msg());
    }
    fa_l1_stats s;
    fa_l1_stats_get(l1, &s);
    assert_int_equal(s.fills, fills);
    assert_true(s.bytes <= cfg.max_bytes);
    fa_l1_free(l1);
    return (scan_result){(double)hot_hits / (double)hot_total, (double)new_hits / (double)new_total,
                         s.rejections};
}

static void test_scan_resistance(void **state) {
    (void)state;
    scan_result lru = run_scan(FA_L1_ADMIT_ALL), lfu = run_scan(FA_L1_ADMIT_TINYLFU);
    print_message("hot-set hit rate under a scan: LRU %.3f, W-TinyLFU %.3f (rejections %llu); "
                  "late hot set: LRU %.3f, W-TinyLFU %.3f\n",
                  lru.hot_hit_rate, lfu.hot_hit_rate, (unsigned long long)lfu.rejections,
                  lru.new_hot_hit_rate, lfu.new_hot_hit_rate);
    assert_true(lru.hot_hit_rate < 0.05);
    assert_int_equal(lru.rejections, 0);
    assert_true(lfu.hot_hit_rate > 0.95);
    assert_true(lfu.new_hot_hit_rate > 0.9);
    assert_true(lfu.rejections > (ROUNDS - WARMUP) * SCAN_PER_ROUND / 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sketch_counts),
        cmocka_unit_test(test_sketch_aging),
        cmocka_unit_test(test_scan_resistance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
