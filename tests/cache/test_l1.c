/*
 * test_l1.c - the L1 cache on one thread: hits and misses, TTL expiry on an
 * injected clock (default, per-fill, capped, do-not-cache), the byte budget
 * (exact with one shard and LRU, never exceeded with 16 shards and
 * TinyLFU), tag invalidation reaching only dependent entries (also a bump
 * during a fill), entries outliving their eviction while held, explicit
 * invalidation, sweep, fill errors, precoded fills and config checks.
 * fa_l1_verify checks the internal lists after every step that moves them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "testutil.h"

typedef struct fake_clock {
    double now;
} fake_clock;

static double fake_now(void *ud) { return ((fake_clock *)ud)->now; }

/* What the test fill produces, and how often it ran. */
typedef struct filler {
    size_t body_size;
    double ttl_s;
    const char *tags[4];
    int calls;
    int fail;                  /* return this error instead */
    fa_tag_versions *bump_in;  /* bump bump_tag while "computing" */
    const char *bump_tag;
} filler;

static int test_fill(void *ud, const char *key, fa_cache_fill *fill) {
    filler *f = ud;
    f->calls++;
    if (f->fail) return fa_err_set(f->fail, "store: key '%s': database is locked", key);
    if (f->bump_in) fa_tag_versions_bump(f->bump_in, f->bump_tag);
    fa_buf_printf(&fill->body, "{\"key\":\"%s\",\"pad\":\"", key);
    while (fill->body.len + 2 < f->body_size) fa_buf_putc(&fill->body, 'a' + (char)(fill->body.len % 26));
    fa_buf_puts(&fill->body, "\"}");
    fill->ttl_s = f->ttl_s;
    for (size_t i = 0; i < 4 && f->tags[i]; i++)
        assert_int_equal(fa_cache_fill_tag(fill, "%s", f->tags[i]), 0);
    return 0;
}

static void base_config(fa_l1_config *c, fake_clock *clk) {
    fa_l1_config_default(c);
    c->max_bytes = 1 << 20;
    c->hash_seed = 7;
    c->clock = fake_now;
    c->clock_ud = clk;
}

static fa_l1_stats stats(fa_l1 *l1) {
    fa_l1_stats s;
    fa_l1_stats_get(l1, &s);
    return s;
}

/* 1 when key is a hit now (the reference is dropped at once). */
static int hit(fa_l1 *l1, const char *key) {
    const fa_cache_entry *e;
    int r = fa_l1_get(l1, key, &e);
    if (r) {
        assert_string_equal(e->key, key);
        fa_cache_entry_release(e);
    } else {
        assert_null(e);
    }
    return r;
}

static void fill_key(fa_l1 *l1, const char *key, filler *f) {
    const fa_cache_entry *e;
    assert_int_equal(fa_l1_get_or_fill(l1, key, test_fill, f, &e), 0);
    fa_cache_entry_release(e);
}

static void test_hit_miss(void **state) {
    (void)state;
    fake_clock clk = {100};
    fa_l1_config cfg;
    base_config(&cfg, &clk);
    fa_l1 *l1 = fa_l1_new(&cfg);
    assert_non_null(l1);
    filler f = {.body_size = 1000};
    assert_false(hit(l1, "GET /v1/matches/1"));
    const fa_cache_entry *a, *b, *c;
    assert_int_equal(fa_l1_get_or_fill(l1, "GET /v1/matches/1", test_fill, &f, &a), 0);
    assert_int_equal(f.calls, 1);
    assert_int_equal(fa_l1_get_or_fill(l1, "GET /v1/matches/1", test_fill, &f, &b), 0);
    assert_int_equal(f.calls, 1);
    assert_ptr_equal(a, b);
    assert_int_equal(fa_l1_get(l1, "GET /v1/matches/1", &c), 1);
    assert_ptr_equal(a, c);
    assert_int_equal(a->variant[FA_CODING_IDENTITY].len, 1000);
    assert_memory_equal(a->variant[FA_CODING_IDENTITY].data, "{\"key\":\"GET /v1/matches/1\"", 26);
    assert_true(a->filled_at == 100 && a->expires_at == 160); /* the default TTL, 60 s */
    fa_l1_stats s = stats(l1);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.misses, 2);
    assert_int_equal(s.fills, 1);
    assert_int_equal(s.entries, 1);
    assert_int_equal(s.bytes, a->charge);
    assert_int_equal(s.max_bytes, 1 << 20);
    assert_false(hit(l1, "GET /v1/matches/2"));
    /* fa_l1_fill after a missed fa_l1_get: that one request counts one miss */
    const fa_cache_entry *d;
    assert_int_equal(fa_l1_fill(l1, "GET /v1/matches/2", test_fill, &f, &d), 0);
    assert_int_equal(f.calls, 2);
    s = stats(l1);
    assert_int_equal(s.misses, 3);
    assert_int_equal(s.hits, 2);
    assert_int_equal(s.fills, 2);
    assert_true(hit(l1, "GET /v1/matches/2"));
    fa_cache_entry_release(d);
    fa_cache_entry_release(a);
    fa_cache_entry_release(b);
    fa_cache_entry_release(c);
    assert_int_equal(fa_l1_verify(l1), 0);
    fa_l1_free(l1);
}

static void test_ttl_fake_clock(void **state) {
    (void)state;
    fake_clock clk = {1000};
    fa_l1_config cfg;
    base_config(&cfg, &clk);
    cfg.max_ttl_s = 3600;
    fa_l1 *l1 = fa_l1_new(&cfg);
    filler ten = {.body_size = 500, .ttl_s = 10}, dflt = {.body_size = 500},
           day = {.body_size = 500, .ttl_s = 86400};
    filler nostore = {.body_size = 500, .ttl_s = -1};
    fill_key(l1, "ten", &ten);
    fill_key(l1, "default", &dflt);
    fill_key(l1, "day", &day);
    clk.now = 1009.999;
    assert_true(hit(l1, "ten"));
    clk.now = 1010;
    assert_false(hit(l1, "ten")); /* expires_at is exclusive */
    assert_true(hit(l1, "default"));
    clk.now = 1059.9;
    assert_true(hit(l1, "default"));
    clk.now = 1060;
    assert_false(hit(l1, "default"));
    clk.now = 1000 + 3599;
    assert_true(hit(l1, "day")); /* capped at max_ttl_s = 1 h */
    clk.now = 1000 + 3600;
    assert_false(hit(l1, "day"));
    fa_l1_stats s = stats(l1);
    assert_int_equal(s.expirations, 3);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.bytes, 0);
    /* ttl < 0: every caller gets the body, nothing is kept. */
    const fa_cache_entry *e;
    assert_int_equal(fa_l1_get_or_fill(l1, "live", test_fill, &nostore, &e), 0);
    assert_int_equal(e->variant[FA_CODING_IDENTITY].len, 500);
    fa_cache_entry_release(e);
    fill_key(l1, "live", &nostore);
    assert_int_equal(nostore.calls, 2);
    assert_int_equal(stats(l1).entries, 0);
    /* A refill after expiry runs the fill again. */
    fill_key(l1, "ten", &ten);
    assert_int_equal(ten.calls, 2);
    assert_true(hit(l1, "ten"));
    assert_int_equal(fa_l1_verify(l1), 0);
    fa_l1_free(l1);
}

/* One shard, plain LRU, equal entries: the cache holds exactly as many as
 * the budget allows and its byte count is exactly their charges. */
static void test_budget_exact(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_l1_config cfg;
    base_config(&cfg, &clk);
    cfg.shards = 1;
    cfg.admission = FA_L1_ADMIT_ALL;
    cfg.codings = 0;
    filler f = {.body_size = 700};
    fa_l1 *probe = fa_l1_new(&cfg);
    const fa_cache_entry *e;
    assert_int_equal(fa_l1_get_or_fill(probe, "key-00000", test_fill, &f, &e), 0);
    size_t charge = e->charge;
    assert_true(charge > 700 && charge < 1100);
    fa_cache_entry_release(e);
    fa_l1_free(probe);

    cfg.max_bytes = 10 * charge + charge / 2;
    fa_l1 *l1 = fa_l1_new(&cfg);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key-%05d", i);
        fill_key(l1, key, &f);
        fa_l1_stats s = stats(l1);
        assert_true(s.bytes <= cfg.max_bytes);
        assert_int_equal(s.entries, i < 10 ? i + 1 : 10);
        assert_int_equal(s.bytes, s.entries * charge);
    }
    assert_int_equal(fa_l1_verify(l1), 0);
    fa_l1_stats s = stats(l1);
    assert_int_equal(s.evictions, 990);
    assert_int_equal(s.rejections, 0);
    for (int i = 990; i < 1000; i++) { /* the 10 most recent stayed */
        snprintf(key, sizeof key, "key-%05d", i);
        assert_true(hit(l1, key));
    }
    assert_false(hit(l1, "key-00989"));
    fa_l1_free(l1);
}

/* 16 shards, TinyLFU, bodies of random sizes (some compressible, some
 * bigger than a shard): never over budget, lists always consistent. */
static void test_budget_many_inserts(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_l1_config cfg;
    base_config(&cfg, &clk);
    cfg.max_bytes = 256 << 10;
    cfg.avg_entry_bytes = 2048;
    fa_l1 *l1 = fa_l1_new(&cfg);
    uint64_t r = 12345;
    char key[32];
    for (int i = 0; i < 3000; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        filler f = {.body_size = 100 + (size_t)(r >> 33) % 6000};
        if (i % 97 == 0) f.body_size = 20000; /* more than a shard (16 KiB): never admitted */
        snprintf(key, sizeof key, "k%d", (int)((r >> 20) % 1500));
        fill_key(l1, key, &f);
        fa_l1_stats s = stats(l1);
        if (s.bytes > cfg.max_bytes)
            fail_msg("after %d inserts: %llu bytes > %zu", i, (unsigned long long)s.bytes, cfg.max_bytes);
        if (i % 100 == 0 && fa_l1_verify(l1)) fail_msg("after %d inserts: %s", i, fa_err_msg());
    }
    assert_int_equal(fa_l1_verify(l1), 0);
    fa_l1_stats s = stats(l1);
    assert_true(s.rejections >= 31);   /* at least the oversized ones */
    assert_true(s.bytes > cfg.max_bytes / 2); /* and the cache is actually used */
    fa_l1_free(l1);
}

static void test_tag_bump_invalidates_dependents_only(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_l1_config cfg;
    base_config(&cfg, &clk);
    fa_l1 *l1 = fa_l1_new(&cfg);
    filler a = {.body_size = 400, .tags = {"match:1", "team:10"}};
    filler b = {.body_size = 400, .tags = {"match:2", "team:10"}};
    filler c = {.body_size = 400, .tags = {"match:1"}};
    filler d = {.body_size = 400};
    fill_key(l1, "A", &a);
    fill_key(l1, "B", &b);
    fill_key(l1, "C", &c);
    fill_key(l1, "D", &d);
    const fa_cache_entry *held;
    assert_int_equal(fa_l1_get(l1, "A", &held), 1);
    assert_int_equal(held->ntags, 2);
    assert_string_equal(held->tags[0], "match:1");
    assert_string_equal(held->tags[1], "team:10");
    assert_int_equal(fa_tag_versions_get(fa_l1_tags(l1), "match:1"), 0);
    assert_int_equal(fa_l1_bump_tag(l1, "match:1"), 1);
    assert_int_equal(fa_tag_versions_get(fa_l1_tags(l1), "match:1"), 1);
    assert_false(hit(l1, "A"));
    assert_true(hit(l1, "B"));
    assert_false(hit(l1, "C"));
    assert_true(hit(l1, "D"));
    assert_string_equal(held->tags[0], "match:1"); /* a held entry stays readable */
    fa_cache_entry_release(held);
    assert_int_equal(fa_l1_bump_tag(l1, "team:10"), 1);
    assert_false(hit(l1, "B"));
    assert_true(hit(l1, "D"));
    assert_int_equal(stats(l1).invalidations, 3);
    /* Refilled after the bump, an entry is current again. */
    fill_key(l1, "A", &a);
    assert_true(hit(l1, "A"));
    assert_int_equal(a.calls, 2);
    assert_int_equal(fa_l1_bump_tag(l1, "match:1"), 2);
    assert_false(hit(l1, "A"));
    /* observe: a version learnt from elsewhere invalidates only when newer. */
    filler p = {.body_size = 400, .tags = {"player:9"}};
    fill_key(l1, "P", &p);
    assert_int_equal(fa_tag_versions_observe(fa_l1_tags(l1), "player:9", 0), 0);
    assert_true(hit(l1, "P"));
    assert_int_equal(fa_tag_versions_observe(fa_l1_tags(l1), "player:9", 5), 1);
    assert_false(hit(l1, "P"));
    assert_int_equal(fa_tag_versions_observe(fa_l1_tags(l1), "player:9", 3), 0);
    assert_int_equal(fa_tag_versions_get(fa_l1_tags(l1), "player:9"), 5);
    assert_int_equal(fa_l1_bump_tag(l1, "player:9"), 6);
    /* Tag limits. */
    char longtag[100];
    memset(longtag, 'x', sizeof longtag - 1);
    longtag[sizeof longtag - 1] = '\0';
    assert_int_equal(fa_l1_bump_tag(l1, longtag), 0);
    assert_int_equal(fa_err_code(), FA_ELIMIT);
    assert_int_equal(fa_l1_bump_tag(l1, ""), 0);
    assert_int_equal(fa_l1_verify(l1), 0);
    fa_l1_free(l1);
}

/* A bump that lands while the fill computes: the result reaches its caller
 * but is not kept, since it may predate the change. */
static void test_bump_during_fill(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_l1_config cfg;
    base_config(&cfg, &clk);
    fa_tag_versions *tv = fa_tag_versions_new();
    cfg.tags = tv; /* shared, borrowed */
    fa_l1 *l1 = fa_l1_new(&cfg);
    assert_ptr_equal(fa_l1_tags(l1), tv);
    filler f = {.body_size = 300, .tags = {"match:7"}, .bump_in = tv, .bump_tag = "match:7"};
    const fa_cache_entry *e;
    assert_int_equal(fa_l1_get_or_fill(l1, "M", test_fill, &f, &e), 0);
    assert_int_equal(e->variant[FA_CODING_IDENTITY].len, 300);
    fa_cache_entry_release(e);
    assert_false(hit(l1, "M"));
    fa_l1_stats s = stats(l1);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.invalidations, 1);
    f.bump_in = NULL;
    fill_key(l1, "M", &f);
    assert_true(hit(l1, "M"));
    fa_l1_free(l1);
    fa_tag_versions_free(tv);
}

/* An entry evicted while a caller holds it stays intact until released
 * (ASan would report a use after free, LSan a leak). */
static void test_held_entry_survives_eviction(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_l1_config cfg;
    base_config(&cfg, &clk);
    cfg.shards = 1;
    cfg.max_bytes = 8 << 10;
    cfg.admission = FA_L1_ADMIT_ALL;
    fa_l1 *l1 = fa_l1_new(&cfg);
    filler f = {.body_size = 1000};
    const fa_cache_entry *held;
    assert_int_equal(fa_l1_get_or_fill(l1, "held", test_fill, &f, &held), 0);
    char key[24];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "other%d", i);
        fill_key(l1, key, &f);
    }
    assert_false(hit(l1, "held"));
    assert_true(stats(l1).evictions >= 43);
    assert_string_equal(held->key, "held");
    assert_int_equal(held->variant[FA_CODING_IDENTITY].len, 1000);
    assert_memory_equal(held->variant[FA_CODING_IDENTITY].data, "{\"key\":\"held\"", 13);
    for (int k = FA_CODING_GZIP; k < FA_CODING_COUNT; k++) assert_non_null(held->variant[k].data);
    fa_cache_entry_retain(held);
    fa_cache_entry_release(held);
    fa_l1_free(l1); /* even the cache may go first */
    assert_int_equal(held->variant[FA_CODING_IDENTITY].data[999], '}');
    fa_cache_entry_release_cb((void *)(uintptr_t)held);
}

static void test_invalidate_and_sweep(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_l1_config cfg;
    base_config(&cfg, &clk);
    fa_l1 *l1 = fa_l1_new(&cfg);
    filler short_ttl = {.body_size = 300, .ttl_s = 5}, long_ttl = {.body_size = 300, .ttl_s = 500};
    filler tagged = {.body_size = 300, .ttl_s = 500, .tags = {"competition:43"}};
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "s%d", i);
        fill_key(l1, key, &short_ttl);
        snprintf(key, sizeof key, "l%d", i);
        fill_key(l1, key, i < 5 ? &tagged : &long_ttl);
    }
    assert_int_equal(fa_l1_invalidate(l1, "l10"), 1);
    assert_int_equal(fa_l1_invalidate(l1, "l10"), 0);
    assert_false(hit(l1, "l10"));
    clk.now = 6;
    assert_int_equal(fa_l1_sweep(l1), 20);
    fa_l1_bump_tag(l1, "competition:43");
    assert_int_equal(fa_l1_sweep(l1), 5);
    assert_int_equal(fa_l1_sweep(l1), 0);
    fa_l1_stats s = stats(l1);
    assert_int_equal(s.entries, 14);
    assert_int_equal(s.expirations, 20);
    assert_int_equal(s.invalidations, 6);
    assert_true(hit(l1, "l19"));
    assert_int_equal(fa_l1_verify(l1), 0);
    fa_l1_free(l1);
}

static void test_fill_error_not_cached(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_l1_config cfg;
    base_config(&cfg, &clk);
    fa_l1 *l1 = fa_l1_new(&cfg);
    filler f = {.body_size = 300, .fail = FA_EIO};
    const fa_cache_entry *e = (const fa_cache_entry *)&f; /* must be cleared */
    assert_int_equal(fa_l1_get_or_fill(l1, "GET /v1/x", test_fill, &f, &e), FA_EIO);
    assert_null(e);
    assert_string_equal(fa_err_msg(), "store: key 'GET /v1/x': database is locked");
    f.fail = 0;
    fill_key(l1, "GET /v1/x", &f);
    assert_int_equal(f.calls, 2);
    fa_l1_stats s = stats(l1);
    assert_int_equal(s.fill_errors, 1);
    assert_int_equal(s.fills, 2);
    assert_int_equal(s.entries, 1);
    fa_l1_free(l1);
}

/* A tiered fill hands over variants it already has: taken as they are. */
static int precoded_fill(void *ud, const char *key, fa_cache_fill *fill) {
    (void)ud;
    (void)key;
    fa_buf_puts(&fill->body, "{\"from\":\"l2\",\"padding\":\"....................................\"}");
    fa_buf_puts(&fill->coded[FA_CODING_GZIP], "GZ-BYTES");
    strcpy(fill->content_type, "application/geo+json");
    fill->precoded = 1;
    return 0;
}

static void test_precoded_fill(void **state) {
    (void)state;
    fake_clock clk = {0};
    fa_l1_config cfg;
    base_config(&cfg, &clk);
    cfg.min_compress_bytes = 0;
    fa_l1 *l1 = fa_l1_new(&cfg);
    const fa_cache_entry *e;
    assert_int_equal(fa_l1_get_or_fill(l1, "k", precoded_fill, NULL, &e), 0);
    assert_int_equal(e->variant[FA_CODING_GZIP].len, 8);
    assert_memory_equal(e->variant[FA_CODING_GZIP].data, "GZ-BYTES", 8);
    assert_null(e->variant[FA_CODING_BR].data);
    assert_null(e->variant[FA_CODING_ZSTD].data);
    assert_string_equal(e->content_type, "application/geo+json");
    assert_int_equal(fa_cache_pick_variant(e, "br, gzip", 8), FA_CODING_GZIP);
    fa_cache_entry_release(e);
    fa_l1_free(l1);
}

static void test_fill_tag_limits(void **state) {
    (void)state;
    fa_cache_fill fill;
    memset(&fill, 0, sizeof fill);
    for (int i = 0; i < FA_CACHE_MAX_TAGS; i++) assert_int_equal(fa_cache_fill_tag(&fill, "team:%d", i), 0);
    assert_int_equal(fa_cache_fill_tag(&fill, "team:99"), FA_ELIMIT);
    assert_int_equal(fill.ntags, FA_CACHE_MAX_TAGS);
    assert_string_equal(fill.tags[7], "team:7");
    memset(&fill, 0, sizeof fill);
    assert_int_equal(fa_cache_fill_tag(&fill, "%s", ""), FA_ELIMIT);
    assert_int_equal(fa_cache_fill_tag(&fill, "player:%070d", 1), FA_ELIMIT);
    assert_int_equal(fill.ntags, 0);
}

static void expect_config_error(fa_l1_config *c, const char *words) {
    assert_null(fa_l1_new(c));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    if (!strstr(fa_err_msg(), words)) fail_msg("message '%s' lacks '%s'", fa_err_msg(), words);
}

static void test_config_errors(void **state) {
    (void)state;
    fa_l1_config c;
    fa_l1_config_default(&c);
    c.shards = 3;
    expect_config_error(&c, "shards 3");
    fa_l1_config_default(&c);
    c.shards = 512;
    expect_config_error(&c, "shards 512");
    fa_l1_config_default(&c);
    c.max_bytes = 8;
    expect_config_error(&c, "max_bytes 8");
    fa_l1_config_default(&c);
    c.default_ttl_s = 0;
    expect_config_error(&c, "default_ttl_s");
    fa_l1_config_default(&c);
    c.window_fraction = 1;
    expect_config_error(&c, "window_fraction");
    fa_l1_config_default(&c);
    c.codings = 1;
    expect_config_error(&c, "codings");
    fa_l1_config_default(&c);
    c.gzip_level = 10;
    expect_config_error(&c, "gzip level 10");
    fa_l1_config_default(&c);
    c.fill_timeout_s = -1;
    expect_config_error(&c, "fill_timeout_s");
    fa_l1_config_default(&c); /* the defaults themselves are valid */
    fa_l1 *l1 = fa_l1_new(&c);
    assert_non_null(l1);
    assert_int_equal(stats(l1).max_bytes, 64 << 20);
    fa_l1_free(l1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss),
        cmocka_unit_test(test_ttl_fake_clock),
        cmocka_unit_test(test_budget_exact),
        cmocka_unit_test(test_budget_many_inserts),
        cmocka_unit_test(test_tag_bump_invalidates_dependents_only),
        cmocka_unit_test(test_bump_during_fill),
        cmocka_unit_test(test_held_entry_survives_eviction),
        cmocka_unit_test(test_invalidate_and_sweep),
        cmocka_unit_test(test_fill_error_not_cached),
        cmocka_unit_test(test_precoded_fill),
        cmocka_unit_test(test_fill_tag_limits),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
