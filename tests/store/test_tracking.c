/*
 * test_tracking.c - tracking frames through the store: exact round-trip
 * across periods and 60 s chunk windows, players entering and leaving,
 * time-range reads, compression figures, and corrupt chunks rejected
 * cleanly (both in the database and byte by byte in the codec).
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <zstd.h>

#include "core/core.h"
#include "store/store.h"
#include "store/tracking_chunk.h"

#define P1_FRAMES 3750 /* 150 s at 25 Hz: windows [0,60) [60,120) [120,150) */
#define P2_FRAMES 1750 /* 70 s: [0,60) [60,70) */
#define N_FRAMES (P1_FRAMES + P2_FRAMES)

/* Storage for one generated frame. */
typedef struct gen {
    fa_frame f;
    fa_frame_player p[FA_FRAME_MAX_PLAYERS];
    char ids[FA_FRAME_MAX_PLAYERS][16];
} gen;

static void add_player(gen *g, const char *id, fa_side side, float x, float y) {
    size_t i = g->f.n++;
    snprintf(g->ids[i], sizeof g->ids[i], "%s", id);
    g->p[i] = (fa_frame_player){g->ids[i], side, x, y};
}

static const char *owner_of(int k) {
    switch (k % 8) {
    case 0:
    case 4: return NULL;
    case 1: return "h3";
    case 2: return "a9";
    case 3: return "coach"; /* not a tracked player */
    case 5: return "";
    default: return "h12";
    }
}

static void add_team(gen *g, int period, int k, fa_side side) {
    for (int j = 1; j <= 12; j++) {
        char id[16];
        snprintf(id, sizeof id, "%c%d", side == FA_SIDE_HOME ? 'h' : 'a', j);
        int on = j <= 11;
        if (side == FA_SIDE_HOME && (j == 11 || j == 12)) /* h12 replaces h11 */
            on = (j == 12) == (period == 2 || k >= 2000);
        if (side == FA_SIDE_AWAY && j == 5 && k % 50 >= 10 && k % 50 < 20) on = 0; /* out of view */
        if (!on) continue;
        float x = (float)(-40.0 + j * 3.5 + sin(k * 0.01 + j) * 5.0) * (side == FA_SIDE_HOME ? 1.0f : -1.0f);
        float y = (float)(30.0 - j * 5.0 + cos(k * 0.013 + j) * 3.0);
        if (side == FA_SIDE_AWAY && j == 7 && k % 100 == 0) x = y = NAN; /* present, position unknown */
        add_player(g, id, side, x, y);
    }
}

static void reverse_players(gen *g) {
    for (size_t i = 0, j = g->f.n - 1; i < j; i++, j--) {
        fa_frame_player t = g->p[i];
        g->p[i] = g->p[j];
        g->p[j] = t;
    }
}

/* Frame k of period (1 or 2): deterministic, so the reader can regenerate it. */
static void gen_frame(gen *g, int period, int k) {
    memset(&g->f, 0, sizeof g->f);
    g->f.frame = 10000000000LL + (period == 1 ? 2LL * k + (k > 1000 ? 7 : 0) : 20000LL + k);
    g->f.period = period;
    g->f.t = k * 0.04;
    g->f.ball_x = (float)(sin(k / 100.0) * 30.0);
    g->f.ball_y = (float)(cos(k / 130.0) * 20.0);
    g->f.ball_z = k % 10 == 0 ? NAN : 0.1f * (float)(k % 7);
    g->f.ball_alive = k % 17 == 0 ? -1 : k % 5 ? 1 : 0;
    g->f.ball_owner_side = (fa_side)(k % 3 - 1);
    g->f.ball_owner_id = owner_of(k);
    g->f.players = g->p;
    if (k == 77) return; /* a frame with nobody tracked */
    add_team(g, period, k, FA_SIDE_HOME);
    add_team(g, period, k, FA_SIDE_AWAY);
    if (k == 500) {
        while (g->f.n < FA_FRAME_MAX_PLAYERS) {
            char id[16];
            snprintf(id, sizeof id, "x%zu", g->f.n);
            add_player(g, id, FA_SIDE_NONE, (float)g->f.n, -1.0f);
        }
    }
    if (k % 333 == 0) reverse_players(g);
}

static void frame_at(gen *g, size_t idx) {
    if (idx < P1_FRAMES) gen_frame(g, 1, (int)idx);
    else gen_frame(g, 2, (int)(idx - P1_FRAMES));
}

static int same_float(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

static void assert_same_frame(const fa_frame *got, const fa_frame *want) {
    assert_int_equal(got->frame, want->frame);
    assert_int_equal(got->period, want->period);
    assert_true(got->t == want->t);
    assert_true(same_float(got->ball_x, want->ball_x));
    assert_true(same_float(got->ball_y, want->ball_y));
    assert_true(same_float(got->ball_z, want->ball_z));
    assert_int_equal(got->ball_alive, want->ball_alive);
    assert_int_equal(got->ball_owner_side, want->ball_owner_side);
    if (!want->ball_owner_id) assert_null(got->ball_owner_id);
    else assert_string_equal(got->ball_owner_id, want->ball_owner_id);
    assert_int_equal(got->n, want->n);
    for (size_t i = 0; i < want->n; i++) {
        assert_string_equal(got->players[i].player_id, want->players[i].player_id);
        assert_int_equal(got->players[i].side, want->players[i].side);
        assert_true(same_float(got->players[i].x, want->players[i].x));
        assert_true(same_float(got->players[i].y, want->players[i].y));
    }
}

/* ------------------------------------------------------------ store fixture */

static fa_import_stats import_tracking(const char *path) {
    fa_store *s = fa_store_open(path, 1, 1);
    assert_non_null(s);
    fa_match m;
    fa_match_init(&m, FA_PROVIDER_METRICA);
    strcpy(m.id, "Sample_Game_3");
    m.frame_rate = 25.0;
    fa_store_import *imp;
    assert_int_equal(fa_store_import_begin(s, &imp), 0);
    const fa_sink *k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, &m), 0);
    gen *g = malloc(sizeof *g);
    for (size_t i = 0; i < N_FRAMES; i++) {
        frame_at(g, i);
        if (k->frame(k->ud, &g->f)) fail_msg("frame %zu: %s", i, fa_err_msg());
    }
    free(g);
    assert_int_equal(k->end(k->ud, &m), 0);
    fa_import_stats st;
    assert_int_equal(fa_store_import_commit(imp, &st), 0);
    fa_store_close(s);
    return st;
}

typedef struct reader {
    gen want;
    size_t next;  /* index (frame_at) expected next */
    size_t count; /* frames seen */
    size_t stop_after;
} reader;

static int check_frame(void *ud, const fa_frame *f) {
    reader *r = ud;
    frame_at(&r->want, r->next++);
    assert_same_frame(f, &r->want.f);
    r->count++;
    return r->stop_after && r->count == r->stop_after ? 7 : 0;
}

static int count_frame(void *ud, const fa_frame *f) {
    (void)f;
    ((reader *)ud)->count++;
    return 0;
}

/* Frames of the generator in period (0 = both) with t in [from, to]. */
static size_t expected_count(int period, double from, double to) {
    size_t n = 0;
    for (size_t i = 0; i < N_FRAMES; i++) {
        int p = i < P1_FRAMES ? 1 : 2;
        double t = (double)(i < P1_FRAMES ? i : i - P1_FRAMES) * 0.04;
        if (period && p != period) continue;
        if ((!isnan(from) && t < from) || (!isnan(to) && t > to)) continue;
        n++;
    }
    return n;
}

typedef struct fixture {
    char *dir, *path;
    fa_import_stats st;
} fixture;

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = fa_test_tmpdir();
    fx->path = malloc(strlen(fx->dir) + 16);
    sprintf(fx->path, "%s/t.db", fx->dir);
    fx->st = import_tracking(fx->path);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    fa_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->path);
    free(fx);
    return 0;
}

/* ------------------------------------------------------------ tests */

static void test_stats_and_compression(void **state) {
    fixture *fx = *state;
    assert_int_equal(fx->st.frames, N_FRAMES);
    assert_int_equal(fx->st.chunks, 5);
    assert_int_equal(fx->st.events, 0);
    double ratio = (double)fx->st.tracking_raw_bytes / (double)fx->st.tracking_stored_bytes;
    print_message("tracking: %lld frames in %lld chunks, %lld raw bytes -> %lld stored (ratio %.2f)\n",
                  (long long)fx->st.frames, (long long)fx->st.chunks, (long long)fx->st.tracking_raw_bytes,
                  (long long)fx->st.tracking_stored_bytes, ratio);
    assert_true(fx->st.tracking_raw_bytes > 5500 * 200);
    assert_true(ratio > 1.5);
}

static void test_roundtrip_all(void **state) {
    fixture *fx = *state;
    fa_store *s = fa_store_open(fx->path, 0, 0);
    assert_non_null(s);
    reader *r = calloc(1, sizeof *r);
    assert_int_equal(fa_store_frames(s, fx->st.match_id, 0, NAN, NAN, check_frame, r), 0);
    assert_int_equal(r->count, N_FRAMES);
    fa_match_row row;
    assert_int_equal(fa_store_match_find(s, "metrica:Sample_Game_3", &row), 0);
    assert_int_equal(row.n_frames, N_FRAMES);
    assert_true(row.m.frame_rate == 25.0);
    free(r);
    fa_store_close(s);
}

static void test_period_and_time_range(void **state) {
    fixture *fx = *state;
    fa_store *s = fa_store_open(fx->path, 0, 0);
    reader *r = calloc(1, sizeof *r);
    r->next = P1_FRAMES; /* period 2 starts there */
    assert_int_equal(fa_store_frames(s, fx->st.match_id, 2, NAN, NAN, check_frame, r), 0);
    assert_int_equal(r->count, P2_FRAMES);

    memset(r, 0, sizeof *r);
    r->next = 1475; /* 59 s, across the 60 s chunk border */
    assert_int_equal(fa_store_frames(s, fx->st.match_id, 1, 59.0, 61.0, check_frame, r), 0);
    assert_int_equal(r->count, expected_count(1, 59.0, 61.0));
    assert_int_equal(r->count, 51);

    memset(r, 0, sizeof *r);
    assert_int_equal(fa_store_frames(s, fx->st.match_id, 0, 65.0, NAN, count_frame, r), 0);
    assert_int_equal(r->count, expected_count(0, 65.0, NAN));
    memset(r, 0, sizeof *r);
    assert_int_equal(fa_store_frames(s, fx->st.match_id, 0, NAN, 10.0, count_frame, r), 0);
    assert_int_equal(r->count, expected_count(0, NAN, 10.0));
    assert_int_equal(r->count, 2 * 251);
    memset(r, 0, sizeof *r);
    assert_int_equal(fa_store_frames(s, fx->st.match_id + 1, 0, NAN, NAN, count_frame, r), 0);
    assert_int_equal(r->count, 0);

    memset(r, 0, sizeof *r);
    r->stop_after = 10;
    assert_int_equal(fa_store_frames(s, fx->st.match_id, 0, NAN, NAN, check_frame, r), 7);
    assert_int_equal(r->count, 10);
    free(r);
    fa_store_close(s);
}

static void corrupt_db(const char *path, const char *sql) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* Restores the pristine database, damages it with sql and expects the
 * chunk read to fail cleanly after the first (intact) chunk. */
static void expect_corrupt(const fixture *fx, const char *pristine, size_t len, const char *sql,
                           const char *msg) {
    FILE *out = fopen(fx->path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(pristine, 1, len, out), len);
    fclose(out);
    corrupt_db(fx->path, sql);
    fa_store *s = fa_store_open(fx->path, 0, 0);
    reader r = {0};
    assert_int_equal(fa_store_frames(s, fx->st.match_id, 0, NAN, NAN, count_frame, &r), FA_EIO);
    if (!strstr(fa_err_msg(), msg)) fail_msg("message '%s' lacks '%s'", fa_err_msg(), msg);
    assert_non_null(strstr(fa_err_msg(), "tracking chunk (period 1, t0 60)"));
    assert_int_equal(r.count, 1500); /* the first chunk was still read */
    fa_store_close(s);
}

static void test_corrupt_rows_rejected(void **state) {
    fixture *fx = *state;
    static const struct {
        const char *set, *msg;
    } cases[] = {
        {"raw_bytes = raw_bytes + 1", "corrupt tracking chunk: content size"},
        {"data = x'28b52ffd0000'", "corrupt tracking chunk: not a zstd frame"},
        {"data = substr(data, 1, 100)", "corrupt tracking chunk: zstd"},
        {"data = zeroblob(0)", "corrupt tracking chunk"},
        {"n_frames = 3", "the row says 1 and 3"},
        {"codec = 'lz4'", "unknown codec 'lz4'"},
    };
    size_t len;
    char *pristine = fa_test_read_file(fx->path, &len);
    assert_non_null(pristine);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "UPDATE tracking_chunks SET %s WHERE period = 1 AND t0 >= 60 AND t0 < 61",
                 cases[i].set);
        expect_corrupt(fx, pristine, len, sql, cases[i].msg);
    }
    free(pristine);
}

static void test_bad_frames_refused(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/bad.db", dir);
    fa_store *s = fa_store_open(path, 1, 1);
    fa_match m;
    fa_match_init(&m, FA_PROVIDER_SKILLCORNER);
    strcpy(m.id, "4039");
    gen *g = malloc(sizeof *g);
    for (int bad = 0; bad < 2; bad++) {
        fa_store_import *imp;
        fa_import_stats st;
        assert_int_equal(fa_store_import_begin(s, &imp), 0);
        const fa_sink *k = fa_store_import_sink(imp);
        assert_int_equal(k->begin(k->ud, &m), 0);
        gen_frame(g, 1, 1);
        assert_int_equal(k->frame(k->ud, &g->f), 0);
        gen_frame(g, 1, 2);
        if (bad == 0) g->f.t = NAN;
        else g->f.n = FA_FRAME_MAX_PLAYERS + 1;
        assert_int_equal(k->frame(k->ud, &g->f), FA_EINVAL);
        const char *why = bad == 0 ? "time is not a finite number" : "more than 64 players";
        assert_non_null(strstr(fa_err_msg(), why));
        assert_int_equal(fa_store_import_commit(imp, &st), FA_EINVAL);
    }
    free(g);
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(dir);
}

/* Frames that go back in time into a window already stored would need a
 * second chunk with the same key: refused with a message, not a crash. */
static void test_time_going_back_refused(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/back.db", dir);
    fa_store *s = fa_store_open(path, 1, 1);
    fa_match m;
    fa_match_init(&m, FA_PROVIDER_VIDEO);
    strcpy(m.id, "clip");
    gen *g = malloc(sizeof *g);
    fa_store_import *imp;
    fa_import_stats st;
    assert_int_equal(fa_store_import_begin(s, &imp), 0);
    const fa_sink *k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, &m), 0);
    static const double times[] = {0.0, 3.0, 1.0, 60.5, 0.0};
    for (size_t i = 0; i < 5; i++) {
        gen_frame(g, 1, (int)i);
        g->f.t = times[i];
        assert_int_equal(k->frame(k->ud, &g->f), 0);
    }
    assert_int_equal(k->end(k->ud, &m), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "tracking chunk (period 1, t0 0) already stored"));
    assert_int_equal(fa_store_import_commit(imp, &st), FA_EINVAL);

    /* within a window, out-of-order frames are kept in the order given */
    assert_int_equal(fa_store_import_begin(s, &imp), 0);
    k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, &m), 0);
    for (size_t i = 0; i < 4; i++) {
        gen_frame(g, 1, (int)i);
        g->f.t = times[i];
        assert_int_equal(k->frame(k->ud, &g->f), 0);
    }
    assert_int_equal(fa_store_import_commit(imp, &st), 0);
    assert_int_equal(st.chunks, 2);
    reader *r = calloc(1, sizeof *r);
    assert_int_equal(fa_store_frames(s, st.match_id, 1, 0.5, 59.0, count_frame, r), 0);
    assert_int_equal(r->count, 2); /* t 3 and 1 */
    free(r);
    free(g);
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------ the codec alone */

static void encode_small(fa_buf *blob, size_t *raw) {
    fa_tchunk_writer *w = fa_tchunk_writer_new();
    gen *g = malloc(sizeof *g);
    for (int k = 1; k <= 12; k++) {
        gen_frame(g, 1, k * 3);
        g->f.n = k % 4 + 1; /* 1..4 players: a small chunk, every byte matters */
        assert_true(fa_tchunk_writer_fits(w, &g->f));
        assert_int_equal(fa_tchunk_writer_add(w, &g->f), 0);
    }
    assert_int_equal(fa_tchunk_writer_flush(w, blob, raw), 0);
    assert_int_equal(fa_tchunk_writer_frames(w), 0);
    free(g);
    fa_tchunk_writer_free(w);
}

/* Reads every value of every frame, so ASan sees any out-of-bounds read. */
static void touch_all(const fa_tchunk *c) {
    fa_frame_player players[FA_FRAME_MAX_PLAYERS];
    fa_frame f;
    volatile size_t sum = 0;
    for (size_t i = 0; i < fa_tchunk_frames(c); i++) {
        fa_tchunk_frame(c, i, &f, players);
        for (size_t j = 0; j < f.n; j++) sum += strlen(f.players[j].player_id) + (f.players[j].x > 0);
        if (f.ball_owner_id) sum += strlen(f.ball_owner_id);
    }
    (void)sum;
}

static int decode_mutated(const unsigned char *raw, size_t n, size_t at, unsigned char value) {
    unsigned char *copy = malloc(n);
    memcpy(copy, raw, n);
    copy[at] = value;
    size_t bound = ZSTD_compressBound(n);
    void *z = malloc(bound);
    size_t zn = ZSTD_compress(z, bound, copy, n, 1);
    assert_false(ZSTD_isError(zn));
    fa_tchunk *c;
    int rc = fa_tchunk_decode(z, zn, n, &c);
    if (rc == 0) touch_all(c);
    else assert_int_equal(rc, FA_EIO);
    fa_tchunk_free(c);
    free(z);
    free(copy);
    return rc;
}

static void test_codec_rejects_corruption(void **state) {
    (void)state;
    fa_buf blob = {0};
    size_t raw_n;
    encode_small(&blob, &raw_n);
    fa_tchunk *c;
    assert_int_equal(fa_tchunk_decode(blob.data, blob.len, raw_n, &c), 0);
    assert_int_equal(fa_tchunk_frames(c), 12);
    gen *g = malloc(sizeof *g);
    fa_frame_player players[FA_FRAME_MAX_PLAYERS];
    fa_frame f;
    fa_tchunk_frame(c, 4, &f, players);
    gen_frame(g, 1, 15);
    g->f.n = 2;
    assert_same_frame(&f, &g->f);
    fa_tchunk_free(c);
    free(g);

    assert_int_equal(fa_tchunk_decode(blob.data, blob.len, raw_n + 1, &c), FA_EIO);
    assert_null(c);
    assert_int_equal(fa_tchunk_decode(blob.data, blob.len - 1, raw_n, &c), FA_EIO);
    assert_int_equal(fa_tchunk_decode(blob.data, 0, raw_n, &c), FA_EIO);
    assert_int_equal(fa_tchunk_decode("not zstd at all", 15, raw_n, &c), FA_EIO);

    unsigned char *raw = malloc(raw_n);
    assert_int_equal(ZSTD_decompress(raw, raw_n, blob.data, blob.len), raw_n);
    assert_int_equal(decode_mutated(raw, raw_n, 12, raw[12] + 1), FA_EIO); /* frame count */
    assert_non_null(strstr(fa_err_msg(), "corrupt tracking chunk"));
    assert_int_equal(decode_mutated(raw, raw_n, 0, 'X'), FA_EIO);          /* magic */
    /* every byte set to 0xFF and to 0x00 in turn: each decode fails cleanly or reads in bounds */
    int refused = 0;
    for (size_t at = 0; at < raw_n; at++) {
        refused += decode_mutated(raw, raw_n, at, 0xFF) != 0;
        refused += decode_mutated(raw, raw_n, at, 0x00) != 0;
    }
    print_message("codec: %zu raw bytes, %d of %zu mutations refused\n", raw_n, refused, 2 * raw_n);
    assert_true(refused > 0);
    free(raw);
    fa_buf_free(&blob);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stats_and_compression, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_period_and_time_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_rows_rejected, setup, teardown),
        cmocka_unit_test(test_bad_frames_refused),
        cmocka_unit_test(test_time_going_back_refused),
        cmocka_unit_test(test_codec_rejects_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
