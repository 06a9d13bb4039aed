/*
 * tinylfu.c - the frequency sketch behind the L1's admission policy
 * (TinyLFU, Einziger, Friedman and Manes, 2017).
 *
 * The question admission asks is "has this new key been asked for more
 * often, recently, than the entry it would push out?". Keeping exact counts
 * for every key ever seen costs memory without bound; a count-min sketch
 * answers within a small over-estimate in a fixed table:
 *   - 4 rows of 4-bit counters, 16 to a 64-bit word: frequencies above 15
 *     do not matter for a yes/no comparison, and small counters let the
 *     table be wide (few collisions) for little memory;
 *   - conservative update: only the counters at the current minimum are
 *     incremented, which keeps collisions from inflating estimates;
 *   - aging: after `sample` (10 x the entries the cache holds) records
 *     every counter is halved, so yesterday's hot keys fade and the sketch
 *     follows the workload;
 *   - 4 counters per expected entry (at least 256 per row): a key that was
 *     seen once must not inherit a hot key's count through collisions in
 *     all 4 rows. With 1 per entry, as in Caffeine, a small shard (25
 *     entries, so 64 counters, 8 of them hot) let about one scan key in
 *     4000 look hot; admitted for that, it sat at probation's tail with the
 *     hot keys' counts and turned away every genuinely new hot key. The
 *     counters cost half a byte each, so 4x is still a few KiB a shard;
 *   - a doorkeeper Bloom filter takes the first occurrence of each key in a
 *     period; only later ones reach the counters. Most keys of a scan are
 *     seen once, so they never occupy counters at all, and the sketch can
 *     be sized for the keys that recur.
 * Row indexes come from one remixed hash by double hashing (h1 + i*h2),
 * so a record costs one mix and four word updates.
 */
#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"

#define MIN_ENTRIES 32
#define WIDTH_PER_ENTRY 4
#define MIN_WIDTH 256
#define MAX_WIDTH ((size_t)1 << 26)
#define DOOR_HASHES 3
#define DOOR_BITS_PER_SAMPLE 4
#define SKETCH_SEED 0x736b65746368ull

int fa_tinylfu_init(fa_tinylfu *s, size_t expected_entries) {
    memset(s, 0, sizeof *s);
    size_t entries = expected_entries > MIN_ENTRIES ? expected_entries : MIN_ENTRIES;
    size_t w = MIN_WIDTH;
    while (w < WIDTH_PER_ENTRY * entries && w < MAX_WIDTH) w <<= 1;
    s->width = w;
    s->sample = 10 * (uint64_t)entries;
    size_t door = 64;
    while (door < s->sample) door <<= 1;
    s->door_bits = door * DOOR_BITS_PER_SAMPLE;
    s->counters = fa_calloc(FA_TINYLFU_ROWS * (w / 16), sizeof *s->counters);
    s->door = fa_calloc(s->door_bits / 64, sizeof *s->door);
    if (!s->counters || !s->door) {
        fa_tinylfu_destroy(s);
        return FA_ENOMEM;
    }
    return 0;
}

void fa_tinylfu_destroy(fa_tinylfu *s) {
    free(s->counters);
    free(s->door);
    s->counters = s->door = NULL;
}

/* The two hashes of double hashing; the step is odd so that, modulo a power
 * of two, it visits distinct slots. */
typedef struct probe {
    uint64_t h1, h2;
} probe;

static probe probe_of(uint64_t hash) {
    uint64_t h = fa_cache_mix64(hash ^ SKETCH_SEED);
    return (probe){h, (h >> 32) | 1};
}

static uint64_t *counter_word(const fa_tinylfu *s, probe p, int row, unsigned *shift) {
    size_t idx = (size_t)(p.h1 + (uint64_t)row * p.h2) & (s->width - 1);
    *shift = (unsigned)(idx & 15) * 4;
    return &s->counters[(size_t)row * (s->width / 16) + idx / 16];
}

static unsigned counter_min(const fa_tinylfu *s, probe p) {
    unsigned min = 15;
    for (int r = 0; r < FA_TINYLFU_ROWS; r++) {
        unsigned shift;
        const uint64_t *w = counter_word(s, p, r, &shift);
        unsigned c = (unsigned)(*w >> shift) & 15;
        if (c < min) min = c;
    }
    return min;
}

/* Bloom filter bits use a different part of the mixed hash than the rows. */
static size_t door_bit(const fa_tinylfu *s, probe p, int i) {
    return (size_t)((p.h2 >> 1) + (uint64_t)i * (p.h1 | 1)) & (s->door_bits - 1);
}

static int door_contains(const fa_tinylfu *s, probe p) {
    for (int i = 0; i < DOOR_HASHES; i++) {
        size_t b = door_bit(s, p, i);
        if (!(s->door[b / 64] >> (b % 64) & 1)) return 0;
    }
    return 1;
}

/* Sets the key's bits; returns 1 when they were all set already. */
static int door_add(fa_tinylfu *s, probe p) {
    int had = 1;
    for (int i = 0; i < DOOR_HASHES; i++) {
        size_t b = door_bit(s, p, i);
        uint64_t bit = (uint64_t)1 << (b % 64);
        if (!(s->door[b / 64] & bit)) had = 0;
        s->door[b / 64] |= bit;
    }
    return had;
}

/* Halves every counter (shift each nibble right; the mask drops the bit
 * that crossed from the nibble above) and empties the doorkeeper. */
static void age(fa_tinylfu *s) {
    size_t words = FA_TINYLFU_ROWS * (s->width / 16);
    for (size_t i = 0; i < words; i++) s->counters[i] = (s->counters[i] >> 1) & 0x7777777777777777ull;
    memset(s->door, 0, s->door_bits / 8);
    s->additions /= 2;
    s->resets++;
}

void fa_tinylfu_record(fa_tinylfu *s, uint64_t hash) {
    probe p = probe_of(hash);
    if (door_add(s, p)) {
        unsigned min = counter_min(s, p);
        for (int r = 0; min < 15 && r < FA_TINYLFU_ROWS; r++) {
            unsigned shift;
            uint64_t *w = counter_word(s, p, r, &shift);
            if (((*w >> shift) & 15) == min) *w += (uint64_t)1 << shift;
        }
    }
    if (++s->additions >= s->sample) age(s);
}

unsigned fa_tinylfu_estimate(const fa_tinylfu *s, uint64_t hash) {
    probe p = probe_of(hash);
    return counter_min(s, p) + (unsigned)door_contains(s, p);
}
