/*
 * bench_cache.c - what the L1 response cache costs and what it buys (issue 4).
 *
 * Bodies: 2 KB slices of a real StatsBomb event file, compacted the way the
 * API writes JSON (no whitespace outside strings); generated JSON-like
 * bodies when the data directory is absent ($FA_DATA_DIR, default
 * ../shared/data).
 *
 * Figures, each beside its anchor in the same run:
 *   1. compression of one 2 KB body per coding and level, in CPU us
 *      (median of rounds over all bodies, the codecs interleaved so that
 *      noise from other processes hits all alike), and the size reached;
 *      anchor: gzip-1 with a fresh deflateInit2 per body, the naive
 *      per-response way.
 *   2. fill cost through fa_l1_get_or_fill, in CPU us, without compression
 *      (the anchor), with each variant alone and with all three defaults
 *      (gzip-6, br q5, zstd-3); ratios.
 *   3. a hit: fa_l1_get + fa_cache_pick_variant on a browser's
 *      Accept-Encoding + release, on 1 and 2 threads, for 4096 entries of
 *      2 KB, wall and CPU ns; anchor: compressing the response per request
 *      instead (gzip-1 with deflateReset, the cheapest per-request option);
 *      ratios, and the 2-thread scaling (wall throughput, and CPU per hit,
 *      which shows lock contention even when other processes take cores).
 *   4. hot-set hit rate while a crawler scans one-hit keys, W-TinyLFU
 *      against a plain LRU (the anchor) of the same size; ratio.
 *
 * usage: bench_cache [--seconds S] [--rounds N]
 *   --seconds: time per hit-throughput run (default 2)
 *   --rounds:  rounds of the compression timings (default 15)
 */
#define ZLIB_CONST
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "bench_util.h"
#include "cache/cache.h"
#include "core/core.h"

#define BODY_BYTES 2048
#define NBODIES 64
#define HIT_KEYS 4096
#define BROWSER_AE "gzip, deflate, br, zstd"

/* ---------------------------------------------------------------- bodies */

typedef struct bodies {
    char *data[NBODIES];
    size_t len[NBODIES];
    const char *source;
} bodies;

/* Drops whitespace outside JSON strings: the API's compact output. */
static size_t compact_json(char *s, size_t n) {
    size_t out = 0;
    int in_str = 0, esc = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc) esc = 0;
            else if (c == '\\') esc = 1;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            continue;
        }
        s[out++] = c;
    }
    return out;
}

static int load_real_bodies(bodies *b, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *all = malloc((size_t)size);
    size_t got = all ? fread(all, 1, (size_t)size, f) : 0;
    fclose(f);
    size_t n = compact_json(all, got);
    if (n < (size_t)NBODIES * BODY_BYTES) {
        free(all);
        return -1;
    }
    size_t stride = n / NBODIES;
    for (int i = 0; i < NBODIES; i++) {
        b->data[i] = malloc(BODY_BYTES);
        memcpy(b->data[i], all + (size_t)i * stride, BODY_BYTES);
        b->len[i] = BODY_BYTES;
    }
    free(all);
    b->source = "StatsBomb 15986 events, compacted, 2048-byte slices";
    return 0;
}

static void make_bodies(bodies *b) {
    const char *dir = getenv("FA_DATA_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/events/statsbomb/15986_event.json", dir ? dir : "../shared/data");
    if (load_real_bodies(b, path) == 0) return;
    for (int i = 0; i < NBODIES; i++) {
        fa_buf g = {0};
        for (unsigned k = 0; g.len < BODY_BYTES; k++) {
            unsigned v = (unsigned)(i * 7919 + k) * 2654435761u;
            fa_buf_printf(
                &g, "{\"id\":\"%08x\",\"type\":{\"name\":\"%s\"},\"minute\":%u,\"location\":[%.1f,%.1f]},", v,
                v % 3 ? "Pass" : "Carry", v % 90, (double)(v % 1200) / 10, (double)(v % 800) / 10);
        }
        b->data[i] = g.data;
        b->len[i] = BODY_BYTES;
    }
    b->source = "generated JSON-like events (data file not found)";
}

static void free_bodies(bodies *b) {
    for (int i = 0; i < NBODIES; i++) free(b->data[i]);
}

/* ---------------------------------------------------------------- helpers */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---------------------------------------------------------------- 1. compression */

typedef struct codec {
    const char *name;
    fa_cache_coding coding;
    int level; /* for the coding's own scale */
    int fresh; /* gzip with a fresh deflateInit2 per body (the anchor) */
    int reps;  /* bodies per round (q11 is slow) */
} codec;

/* gzip the naive way: a new stream per body. */
static size_t gzip_fresh(const void *in, size_t n, fa_buf *out, int level) {
    z_stream s;
    memset(&s, 0, sizeof s);
    deflateInit2(&s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    uLong bound = deflateBound(&s, (uLong)n);
    fa_buf_reset(out);
    fa_buf_reserve(out, bound);
    s.next_in = in;
    s.avail_in = (uInt)n;
    s.next_out = (Bytef *)out->data;
    s.avail_out = (uInt)bound;
    deflate(&s, Z_FINISH);
    out->len = bound - s.avail_out;
    deflateEnd(&s);
    return out->len;
}

static fa_cache_compressor *codec_compressor(const codec *c) {
    return fa_cache_compressor_new(c->coding == FA_CODING_GZIP ? c->level : 6,
                                   c->coding == FA_CODING_BR ? c->level : 5,
                                   c->coding == FA_CODING_ZSTD ? c->level : 3);
}

/* CPU us per body for one round over c->reps bodies; adds the bytes in and
 * out. CPU time, not wall: on a shared machine it leaves out the time the
 * process waited for a core. */
static double time_codec_round(const codec *c, fa_cache_compressor *z, const bodies *b, fa_buf *out,
                               size_t *in_bytes, size_t *out_bytes) {
    double t0 = fa_clock_cpu();
    for (int i = 0; i < c->reps; i++) {
        const char *body = b->data[i % NBODIES];
        size_t n = b->len[i % NBODIES];
        if (c->fresh) {
            *out_bytes += gzip_fresh(body, n, out, c->level);
        } else {
            fa_buf_reset(out);
            fa_cache_compress(z, c->coding, body, n, out);
            *out_bytes += out->len;
        }
        *in_bytes += n;
    }
    return (fa_clock_cpu() - t0) / c->reps * 1e6;
}

#define NCODECS 9
#define MAX_ROUNDS 64

static void bench_compression(const bodies *b, int rounds, double *gzip1_reset_us) {
    static const codec codecs[NCODECS] = {
        {"gzip-1, fresh deflateInit2 (anchor)", FA_CODING_GZIP, 1, 1, NBODIES},
        {"gzip-1, deflateReset", FA_CODING_GZIP, 1, 0, NBODIES},
        {"gzip-6, deflateReset (default)", FA_CODING_GZIP, 6, 0, NBODIES},
        {"gzip-9, deflateReset", FA_CODING_GZIP, 9, 0, NBODIES},
        {"br q1", FA_CODING_BR, 1, 0, NBODIES},
        {"br q5 (default)", FA_CODING_BR, 5, 0, NBODIES},
        {"br q11", FA_CODING_BR, 11, 0, 4},
        {"zstd-1, reused CCtx", FA_CODING_ZSTD, 1, 0, NBODIES},
        {"zstd-3, reused CCtx (default)", FA_CODING_ZSTD, 3, 0, NBODIES},
    };
    static double per[NCODECS][MAX_ROUNDS];
    size_t in_bytes[NCODECS] = {0}, out_bytes[NCODECS] = {0};
    fa_cache_compressor *z[NCODECS];
    fa_buf out = {0};
    if (rounds > MAX_ROUNDS) rounds = MAX_ROUNDS;
    for (int i = 0; i < NCODECS; i++) z[i] = codec_compressor(&codecs[i]);
    for (int r = 0; r < rounds; r++) /* interleaved, so noise hits all codecs alike */
        for (int i = 0; i < NCODECS; i++)
            per[i][r] = time_codec_round(&codecs[i], z[i], b, &out, &in_bytes[i], &out_bytes[i]);
    printf("\n1. compressing one %d-byte body, CPU us (median of %d interleaved rounds over %d bodies)\n",
           BODY_BYTES, rounds, NBODIES);
    double anchor = median(per[0], rounds);
    for (int i = 0; i < NCODECS; i++) {
        double us = median(per[i], rounds);
        if (i == 1) *gzip1_reset_us = us;
        printf("  %-38s %8.2f us   %5.1f %% of the size   anchor/this = %5.2fx\n", codecs[i].name, us,
               100.0 * (double)out_bytes[i] / (double)in_bytes[i], anchor / us);
        fa_cache_compressor_free(z[i]);
    }
    fa_buf_free(&out);
}

/* ---------------------------------------------------------------- 2. fill cost */

typedef struct fill_src {
    const bodies *b;
    unsigned next;
} fill_src;

static int body_fill(void *ud, const char *key, fa_cache_fill *fill) {
    (void)key;
    fill_src *s = ud;
    unsigned i = s->next++ % NBODIES;
    return fa_buf_append(&fill->body, s->b->data[i], s->b->len[i]);
}

/* CPU us per fill of nfills new keys into a fresh cache. */
static double fill_us(const bodies *b, unsigned codings, int nfills) {
    fa_l1_config cfg;
    fa_l1_config_default(&cfg);
    cfg.codings = codings;
    cfg.max_bytes = (size_t)256 << 20;
    fa_l1 *l1 = fa_l1_new(&cfg);
    fill_src src = {b, 0};
    char key[64];
    double t0 = fa_clock_cpu();
    for (int i = 0; i < nfills; i++) {
        snprintf(key, sizeof key, "GET /v1/matches/%d/events", i);
        const fa_cache_entry *e;
        if (fa_l1_get_or_fill(l1, key, body_fill, &src, &e) == 0) fa_cache_entry_release(e);
    }
    double us = (fa_clock_cpu() - t0) / nfills * 1e6;
    fa_l1_free(l1);
    return us;
}

static void bench_fill(const bodies *b) {
    static const unsigned sets[5] = {0, FA_CODING_BIT(FA_CODING_GZIP), FA_CODING_BIT(FA_CODING_BR),
                                     FA_CODING_BIT(FA_CODING_ZSTD), FA_CODINGS_COMPRESSED};
    static const char *const names[5] = {"identity only (anchor)", "+ gzip-6", "+ br q5", "+ zstd-3",
                                         "all three variants (default)"};
    double per[5][5];
    int n = 1000;
    for (int r = 0; r < 5; r++)
        for (int i = 0; i < 5; i++) per[i][r] = fill_us(b, sets[i], n);
    printf("\n2. filling an entry through fa_l1_get_or_fill, CPU us (median of 5 interleaved runs of %d new "
           "keys, %d-byte bodies)\n", n, BODY_BYTES);
    double plain = median(per[0], 5);
    for (int i = 0; i < 5; i++) {
        double us = median(per[i], 5);
        printf("  %-30s %8.2f us per fill   +%.2f us   ratio this/identity = %.1fx\n", names[i], us,
               us - plain, us / plain);
    }
}

/* ---------------------------------------------------------------- 3. hits */

typedef struct hit_run {
    fa_l1 *l1;
    char (*keys)[64];
    double seconds;
    uint64_t seed;
    uint64_t hits, ops;
    size_t sent_bytes;
    double cpu_s; /* this thread's CPU time */
} hit_run;

static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *hit_loop(void *arg) {
    hit_run *r = arg;
    uint64_t s = r->seed, ops = 0, hits = 0;
    size_t sent = 0;
    double t0 = fa_clock_now(), c0 = thread_cpu();
    while ((ops & 1023) || fa_clock_now() - t0 < r->seconds) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const fa_cache_entry *e;
        if (fa_l1_get(r->l1, r->keys[(s >> 33) % HIT_KEYS], &e)) {
            fa_cache_coding c = fa_cache_pick_variant(e, BROWSER_AE, sizeof BROWSER_AE - 1);
            sent += e->variant[c].len;
            fa_cache_entry_release(e);
            hits++;
        }
        ops++;
    }
    r->cpu_s = thread_cpu() - c0;
    r->ops = ops;
    r->hits = hits;
    r->sent_bytes = sent;
    return NULL;
}

/* Hits per second (wall) over `threads` threads; *cpu_ns: CPU ns per hit. */
static double hits_per_s(fa_l1 *l1, char (*keys)[64], int threads, double seconds, double *hit_ratio,
                         double *cpu_ns) {
    hit_run runs[2];
    pthread_t t[2];
    double t0 = fa_clock_now();
    for (int i = 0; i < threads; i++) {
        runs[i] = (hit_run){.l1 = l1, .keys = keys, .seconds = seconds, .seed = 77 + (uint64_t)i};
        pthread_create(&t[i], NULL, hit_loop, &runs[i]);
    }
    uint64_t ops = 0, hits = 0;
    double cpu = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ops += runs[i].ops;
        hits += runs[i].hits;
        cpu += runs[i].cpu_s;
    }
    *hit_ratio = (double)hits / (double)ops;
    *cpu_ns = cpu / (double)ops * 1e9;
    return (double)ops / (fa_clock_now() - t0);
}

static void bench_hits(const bodies *b, double seconds, double compress_per_request_us) {
    fa_l1_config cfg;
    fa_l1_config_default(&cfg);
    fa_l1 *l1 = fa_l1_new(&cfg);
    char(*keys)[64] = malloc(HIT_KEYS * sizeof *keys);
    fill_src src = {b, 0};
    for (int i = 0; i < HIT_KEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "GET /v1/matches/%d/events?type=Pass&page=%d", 3869000 + i / 8,
                 i % 8);
        const fa_cache_entry *e;
        if (fa_l1_get_or_fill(l1, keys[i], body_fill, &src, &e) == 0) fa_cache_entry_release(e);
        if (fa_l1_get(l1, keys[i], &e)) fa_cache_entry_release(e); /* a second access: into protected */
    }
    fa_l1_stats st;
    fa_l1_stats_get(l1, &st);
    double r1, r2, cpu1, cpu2;
    double one = hits_per_s(l1, keys, 1, seconds, &r1, &cpu1);
    double two = hits_per_s(l1, keys, 2, seconds, &r2, &cpu2);
    printf(
        "\n3. a hit: fa_l1_get + pick_variant('%s') + release, %d entries of %d bytes (%.1f MiB resident)\n",
        BROWSER_AE, HIT_KEYS, BODY_BYTES, (double)st.bytes / (1 << 20));
    printf("  1 thread    %8.3f M hits/s   %6.0f ns wall, %4.0f ns CPU per hit   (hit ratio %.3f)\n",
           one / 1e6, 1e9 / one, cpu1, r1);
    printf("  2 threads   %8.3f M hits/s   %6.0f ns wall, %4.0f ns CPU per hit per thread   scaling 2T/1T = "
           "%.2fx\n", two / 1e6, 2e9 / two, cpu2, two / one);
    printf("  (CPU ns per hit 2T/1T = %.2fx: above 1 means the threads slow each other down)\n", cpu2 / cpu1);
    printf("  anchor: compressing per request (gzip-1, deflateReset) %.2f us CPU   ratio anchor/hit = "
           "%.0fx\n", compress_per_request_us, compress_per_request_us * 1e3 / cpu1);
    fa_l1_free(l1);
    free(keys);
}

/* ---------------------------------------------------------------- 4. scan */

typedef struct scan_out {
    double hot_rate, overall_rate;
    uint64_t rejections;
} scan_out;

static int count_fill(void *ud, const char *key, fa_cache_fill *fill) {
    (void)key;
    (*(uint64_t *)ud)++;
    fa_buf_reserve(&fill->body, BODY_BYTES);
    memset(fill->body.data, 'x', BODY_BYTES);
    fill->body.len = BODY_BYTES;
    fill->body.data[BODY_BYTES] = '\0';
    return 0;
}

#define SCAN_CAPACITY 2000
#define SCAN_HOT 500
#define SCAN_PER_ROUND 4000
#define SCAN_ROUNDS 30

/* Rounds of: every hot key once, then SCAN_PER_ROUND keys never seen
 * before (a crawler). The hot rate is taken after 3 warm-up rounds. */
static scan_out run_scan(fa_l1_admission admission) {
    fa_l1_config cfg;
    fa_l1_config_default(&cfg);
    cfg.codings = 0;
    cfg.max_bytes = (size_t)SCAN_CAPACITY * 2500;
    cfg.avg_entry_bytes = 2500;
    cfg.admission = admission;
    fa_l1 *l1 = fa_l1_new(&cfg);
    uint64_t fills = 0, hot_hits = 0, hot_n = 0, all_hits = 0, all_n = 0;
    char key[64];
    unsigned scanned = 0;
    for (int round = 0; round < SCAN_ROUNDS; round++) {
        for (int i = 0; i < SCAN_HOT + SCAN_PER_ROUND; i++) {
            if (i < SCAN_HOT) snprintf(key, sizeof key, "GET /v1/matches/%d", i);
            else snprintf(key, sizeof key, "GET /v1/events/%u", scanned++);
            uint64_t before = fills;
            const fa_cache_entry *e;
            if (fa_l1_get_or_fill(l1, key, count_fill, &fills, &e) == 0) fa_cache_entry_release(e);
            int hit = fills == before;
            if (round >= 3) {
                all_hits += (uint64_t)hit, all_n++;
                if (i < SCAN_HOT) hot_hits += (uint64_t)hit, hot_n++;
            }
        }
    }
    fa_l1_stats st;
    fa_l1_stats_get(l1, &st);
    fa_l1_free(l1);
    return (scan_out){(double)hot_hits / (double)hot_n, (double)all_hits / (double)all_n, st.rejections};
}

static void bench_scan(void) {
    scan_out lru = run_scan(FA_L1_ADMIT_ALL), lfu = run_scan(FA_L1_ADMIT_TINYLFU);
    printf("\n4. hot set of %d keys + a scan of %d one-hit keys per round, cache of ~%d entries, %d rounds\n",
           SCAN_HOT, SCAN_PER_ROUND, SCAN_CAPACITY, SCAN_ROUNDS);
    printf("  plain LRU (anchor)   hot-set hit rate %.3f   overall %.3f\n", lru.hot_rate, lru.overall_rate);
    printf("  W-TinyLFU            hot-set hit rate %.3f   overall %.3f   (%llu fills turned away)\n",
           lfu.hot_rate, lfu.overall_rate, (unsigned long long)lfu.rejections);
    if (lru.overall_rate > 0)
        printf("  overall hit rate W-TinyLFU / LRU = %.1fx\n", lfu.overall_rate / lru.overall_rate);
    else
        printf("  overall hit rate W-TinyLFU / LRU: unbounded (the LRU hit nothing)\n");
}

int main(int argc, char **argv) {
    double seconds = 2;
    int rounds = 15;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else return fprintf(stderr, "usage: bench_cache [--seconds S] [--rounds N]\n"), 1;
    }
    if (rounds < 1) rounds = 1;
    bench_print_machine(argc, argv);
    bodies b;
    make_bodies(&b);
    printf("bodies: %s\n", b.source);
    double gzip1_reset = 0;
    bench_compression(&b, rounds, &gzip1_reset);
    bench_fill(&b);
    bench_hits(&b, seconds, gzip1_reset);
    bench_scan();
    free_bodies(&b);
    return 0;
}
