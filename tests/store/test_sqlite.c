/*
 * test_sqlite.c - the SQLite store: migrations, import through the sink,
 * exact read-back of every field, re-import, abort, filters, cursors,
 * match references and bad database files.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "core/core.h"
#include "store/migrations.h"
#include "store/store.h"

#define N_EVENTS 40

#define N_PLAYERS 6

/* ------------------------------------------------------------ fixtures */

static char *db_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static fa_store *open_db(const char *path) {
    fa_store *s = fa_store_open(path, 1, 1);
    if (!s) fail_msg("open %s: %s", path, fa_err_msg());
    return s;
}

static void make_match(fa_match *m, fa_provider p, const char *id) {
    fa_match_init(m, p);
    snprintf(m->id, sizeof m->id, "%s", id);
    strcpy(m->competition, "La Liga");
    strcpy(m->season, "2018/2019");
    strcpy(m->date, "2019-02-24");
    strcpy(m->teams[0].id, "217");
    strcpy(m->teams[0].name, "Barcelona");
    strcpy(m->teams[1].id, "220");
    strcpy(m->teams[1].name, "Girona");
    m->provider_length = 120;
    m->provider_width = 80;
    strcpy(m->provider_unit, "yd");
    m->pitch.length = 104.5;
    m->pitch.width = NAN;
    strcpy(m->source, "15986_event.json,15986_lineup.json");
}

/* Players in the order the sink receives them; expected_order is the
 * read-back order (side, starter desc, shirt). */
static void make_player(fa_player *p, int i) {
    static const struct {
        const char *id, *name, *position;
        int side, shirt, starter;
        double minutes;
    } spec[N_PLAYERS] = {
        {"5503", "Lionel Messi", "Right Wing", FA_SIDE_HOME, 10, 1, 90.0},
        {"3501", "Philippe Coutinho", "Left Wing", FA_SIDE_HOME, 14, 0, 12.5},
        {"9999", "Referee Assistant", "", FA_SIDE_NONE, -1, -1, NAN},
        {"6581", "Cristhian Stuani", "Center Forward", FA_SIDE_AWAY, 7, 1, NAN},
        {"20055", "Marc-Andr\xc3\xa9 ter Stegen", "Goalkeeper", FA_SIDE_HOME, 1, 1, 90.0},
        {"6855", "Bernardo", "", FA_SIDE_AWAY, -1, -1, NAN},
    };
    fa_player_init(p);
    strcpy(p->id, spec[i].id);
    strcpy(p->name, spec[i].name);
    strcpy(p->position, spec[i].position);
    p->side = (fa_side)spec[i].side;
    p->shirt = spec[i].shirt;
    p->starter = spec[i].starter;
    p->minutes = spec[i].minutes;
}

static const int expected_order[N_PLAYERS] = {4, 0, 1, 3, 5, 2};

static const char *event_player(int i) {
    static const char *ids[] = {"5503", "3501", "6581", "20055", "6855"};
    if (i == 13) return "777"; /* a player no lineup names */
    return i % 7 == 6 ? "" : ids[i % 5];
}

static void make_event(fa_event *e, int i) {
    static const fa_event_kind kinds[] = {FA_EV_PASS, FA_EV_SHOT, FA_EV_CARRY, FA_EV_PRESSURE};
    static const char *types[] = {"Pass", "Shot", "Carry", "Pressure"};
    fa_event_init(e);
    e->seq = i;
    e->period = i < N_EVENTS / 2 ? 1 : 2;
    e->t = (i % (N_EVENTS / 2)) * 7.25 + 0.1;
    e->duration = i % 3 ? 0.5 * i : NAN;
    e->kind = kinds[i % 4];
    strcpy(e->type, types[i % 4]);
    if (i % 5 == 0) strcpy(e->subtype, "Kick Off");
    e->side = i % 3 == 2 ? FA_SIDE_NONE : (fa_side)(i % 2);
    strcpy(e->player_id, event_player(i));
    if (e->kind == FA_EV_PASS) strcpy(e->recipient_id, event_player(i + 1));
    if (i % 6) {
        e->x = -52.5 + i * 1.3;
        e->y = 34.0 - i * 0.77;
    }
    if (e->kind == FA_EV_PASS || e->kind == FA_EV_SHOT) {
        e->end_x = e->x + 3.3;
        e->end_y = 1.0 / 3.0;
        if (e->kind == FA_EV_SHOT) e->end_z = 2.44 / (i + 1);
        e->success = i % 2;
        strcpy(e->outcome, i % 2 ? "" : "Incomplete");
    }
    if (e->kind == FA_EV_SHOT) {
        e->xg = 0.0123456789 * i;
        strcpy(e->body_part, "Right Foot");
        e->goal = i == 5;
    }
    if (e->kind == FA_EV_PASS && i % 8 == 0) strcpy(e->pass_type, "Free Kick");
    e->under_pressure = i % 4 == 3;
    snprintf(e->provider_id, sizeof e->provider_id, "ev-%04d-\xc3\xa9", i);
    if (i > 0) snprintf(e->related, sizeof e->related, "ev-%04d,ev-%04d", i - 1, i + 1);
}

/* Imports a match with n events (events before players, as StatsBomb does). */
static fa_import_stats import_match(fa_store *s, const fa_match *m, int n_events, int with_players) {
    fa_store_import *imp;
    fa_import_stats st;
    assert_int_equal(fa_store_import_begin(s, &imp), 0);
    const fa_sink *k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, m), 0);
    for (int i = 0; i < n_events; i++) {
        fa_event e;
        make_event(&e, i);
        assert_int_equal(k->event(k->ud, &e), 0);
    }
    for (int i = 0; with_players && i < N_PLAYERS; i++) {
        fa_player p;
        make_player(&p, i);
        assert_int_equal(k->player(k->ud, &p), 0);
    }
    fa_match final = *m;
    final.score[0] = 2;
    final.score[1] = 2;
    assert_int_equal(k->end(k->ud, &final), 0);
    if (fa_store_import_commit(imp, &st)) fail_msg("commit: %s", fa_err_msg());
    return st;
}

/* ------------------------------------------------------------ comparisons */

#define assert_same_double(a, b)                                                             \
    do {                                                                                     \
        double a_ = (a), b_ = (b);                                                           \
        if (!((isnan(a_) && isnan(b_)) || a_ == b_)) fail_msg("%s: %.17g != %.17g", #a, a_, b_); \
    } while (0)

static void assert_same_match(const fa_match *a, const fa_match *b) {
    assert_int_equal(a->provider, b->provider);
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->competition, b->competition);
    assert_string_equal(a->season, b->season);
    assert_string_equal(a->date, b->date);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(a->teams[i].id, b->teams[i].id);
        assert_string_equal(a->teams[i].name, b->teams[i].name);
        assert_int_equal(a->score[i], b->score[i]);
    }
    assert_same_double(a->pitch.length, b->pitch.length);
    assert_same_double(a->pitch.width, b->pitch.width);
    assert_same_double(a->provider_length, b->provider_length);
    assert_same_double(a->provider_width, b->provider_width);
    assert_string_equal(a->provider_unit, b->provider_unit);
    assert_same_double(a->frame_rate, b->frame_rate);
    assert_string_equal(a->source, b->source);
}

static void assert_same_player(const fa_player *a, const fa_player *b) {
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->side, b->side);
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->shirt, b->shirt);
    assert_string_equal(a->position, b->position);
    assert_same_double(a->minutes, b->minutes);
    assert_int_equal(a->starter, b->starter);
}

static void assert_same_event(const fa_event *a, const fa_event *b) {
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->period, b->period);
    assert_same_double(a->t, b->t);
    assert_same_double(a->duration, b->duration);
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->type, b->type);
    assert_string_equal(a->subtype, b->subtype);
    assert_int_equal(a->side, b->side);
    assert_string_equal(a->player_id, b->player_id);
    assert_string_equal(a->recipient_id, b->recipient_id);
    assert_same_double(a->x, b->x);
    assert_same_double(a->y, b->y);
    assert_same_double(a->end_x, b->end_x);
    assert_same_double(a->end_y, b->end_y);
    assert_same_double(a->end_z, b->end_z);
    assert_int_equal(a->success, b->success);
    assert_string_equal(a->outcome, b->outcome);
    assert_same_double(a->xg, b->xg);
    assert_string_equal(a->body_part, b->body_part);
    assert_string_equal(a->pass_type, b->pass_type);
    assert_int_equal(a->under_pressure, b->under_pressure);
    assert_int_equal(a->goal, b->goal);
    assert_string_equal(a->provider_id, b->provider_id);
    assert_string_equal(a->related, b->related);
}

/* ------------------------------------------------------------ collectors */

typedef struct events_seen {
    fa_event *e;
    size_t n, cap;
    size_t stop_after; /* 0 = never */
} events_seen;

static int on_event(void *ud, const fa_event *e) {
    events_seen *c = ud;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->e = realloc(c->e, c->cap * sizeof *c->e);
    }
    c->e[c->n++] = *e;
    return c->stop_after && c->n == c->stop_after ? 42 : 0;
}

typedef struct ids_seen {
    int64_t id[64];
    size_t n;
} ids_seen;

static int on_match(void *ud, const fa_match_row *r) {
    ids_seen *c = ud;
    if (c->n < 64) c->id[c->n++] = r->id;
    return 0;
}

typedef struct players_seen {
    fa_player p[16];
    size_t n;
} players_seen;

static int on_player(void *ud, const fa_player *p) {
    players_seen *c = ud;
    if (c->n < 16) c->p[c->n++] = *p;
    return 0;
}

static size_t count_events(fa_store *s, int64_t match_id) {
    fa_event_filter f;
    events_seen c = {0};
    fa_event_filter_init(&f, match_id);
    assert_int_equal(fa_store_events(s, &f, on_event, &c), 0);
    free(c.e);
    return c.n;
}

/* ------------------------------------------------------------ tests */

static void test_migrate_twice(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), *path = db_in(dir, "m.db");
    int applied = -1, version = -1;
    fa_store *s = fa_store_open(path, 1, 0);
    assert_non_null(s);
    assert_int_equal(fa_store_schema_version(s, &version), 0);
    assert_int_equal(version, 0);
    assert_int_equal(fa_store_migrate(s, &applied), 0);
    assert_int_equal(applied, (int)fa_migrations_count); /* every embedded migration, once */
    assert_int_equal(fa_store_migrate(s, &applied), 0);
    assert_int_equal(applied, 0);
    fa_store_close(s);
    s = fa_store_open(path, 0, 1);
    assert_non_null(s);
    assert_int_equal(fa_store_migrate(s, &applied), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(fa_store_schema_version(s, &version), 0);
    assert_int_equal(version, fa_migrations[fa_migrations_count - 1].version);
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(path);
    free(dir);
}

static void test_roundtrip(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), *path = db_in(dir, "r.db");
    fa_store *s = open_db(path);
    fa_match m;
    make_match(&m, FA_PROVIDER_STATSBOMB, "15986");
    fa_import_stats st = import_match(s, &m, N_EVENTS, 1);
    assert_int_equal(st.match_id, 1);
    assert_int_equal(st.replaced, 0);
    assert_int_equal(st.players, N_PLAYERS);
    assert_int_equal(st.events, N_EVENTS);
    assert_int_equal(st.frames, 0);
    assert_int_equal(st.chunks, 0);

    fa_match_row row;
    assert_int_equal(fa_store_match_find(s, "1", &row), 0);
    m.score[0] = m.score[1] = 2; /* what end() reported */
    assert_same_match(&row.m, &m);
    assert_int_equal(row.n_events, N_EVENTS);
    assert_int_equal(row.n_frames, 0);
    assert_int_equal(row.n_players, N_PLAYERS);
    assert_int_equal(strlen(row.imported_at), 20); /* 2024-01-02T03:04:05Z */
    assert_int_equal(row.imported_at[10], 'T');

    players_seen ps = {0};
    assert_int_equal(fa_store_players(s, 1, on_player, &ps), 0);
    assert_int_equal(ps.n, N_PLAYERS);
    for (int i = 0; i < N_PLAYERS; i++) {
        fa_player want;
        make_player(&want, expected_order[i]);
        assert_same_player(&ps.p[i], &want);
    }

    events_seen c = {0};
    fa_event_filter f;
    fa_event_filter_init(&f, 1);
    assert_int_equal(fa_store_events(s, &f, on_event, &c), 0);
    assert_int_equal(c.n, N_EVENTS);
    for (int i = 0; i < N_EVENTS; i++) {
        fa_event want;
        make_event(&want, i);
        assert_same_event(&c.e[i], &want);
    }
    free(c.e);
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(path);
    free(dir);
}

static void test_reimport_replaces(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), *path = db_in(dir, "re.db");
    fa_store *s = open_db(path);
    fa_match a, b;
    make_match(&a, FA_PROVIDER_STATSBOMB, "15986");
    make_match(&b, FA_PROVIDER_STATSBOMB, "3788741");
    assert_int_equal(import_match(s, &a, N_EVENTS, 1).match_id, 1);
    assert_int_equal(import_match(s, &b, 10, 1).match_id, 2);
    strcpy(a.teams[1].name, "Girona FC"); /* a corrected name comes with the new import */
    fa_import_stats st = import_match(s, &a, 25, 1);
    assert_int_equal(st.match_id, 1);
    assert_int_equal(st.replaced, 1);
    assert_int_equal(st.events, 25);

    fa_match_row row;
    assert_int_equal(fa_store_match_find(s, "statsbomb:15986", &row), 0);
    assert_int_equal(row.id, 1);
    assert_string_equal(row.m.teams[1].name, "Girona FC");
    assert_int_equal(row.n_events, 25);
    assert_int_equal(row.n_players, N_PLAYERS);
    assert_int_equal(count_events(s, 1), 25);
    assert_int_equal(count_events(s, 2), 10);
    players_seen ps = {0};
    assert_int_equal(fa_store_players(s, 1, on_player, &ps), 0);
    assert_int_equal(ps.n, N_PLAYERS);

    ids_seen ids = {0};
    assert_int_equal(fa_store_matches(s, NULL, on_match, &ids), 0);
    assert_int_equal(ids.n, 2);
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(path);
    free(dir);
}

static int bytes_equal(const char *a, size_t na, const char *b, size_t nb) {
    return na == nb && memcmp(a, b, na) == 0;
}

static void abort_import(fa_store *s, const fa_match *m, int n_events) {
    fa_store_import *imp;
    assert_int_equal(fa_store_import_begin(s, &imp), 0);
    const fa_sink *k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, m), 0);
    for (int i = 0; i < n_events; i++) {
        fa_event e;
        make_event(&e, i);
        assert_int_equal(k->event(k->ud, &e), 0);
    }
    fa_player p;
    make_player(&p, 0);
    strcpy(p.id, "new-player");
    assert_int_equal(k->player(k->ud, &p), 0);
    fa_store_import_abort(imp);
}

static void test_abort_leaves_file_identical(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), *path = db_in(dir, "a.db");
    fa_store *s = open_db(path);
    fa_match a, b;
    make_match(&a, FA_PROVIDER_STATSBOMB, "15986");
    make_match(&b, FA_PROVIDER_WYSCOUT, "2499773");
    strcpy(b.competition, "Serie A");
    strcpy(b.teams[0].name, "Inter");
    import_match(s, &a, N_EVENTS, 1);
    fa_store_close(s);
    size_t n0, n1;
    char *before = fa_test_read_file(path, &n0);
    assert_non_null(before);

    s = open_db(path);
    abort_import(s, &b, 30); /* a new match */
    abort_import(s, &a, 5);  /* a re-import: its delete of the old rows must roll back too */
    assert_int_equal(count_events(s, 1), N_EVENTS);
    fa_store_close(s);
    char *after = fa_test_read_file(path, &n1);
    assert_true(bytes_equal(before, n0, after, n1));

    s = open_db(path); /* and the store still works */
    assert_int_equal(import_match(s, &b, 3, 0).match_id, 2);
    fa_store_close(s);
    free(before);
    free(after);
    fa_test_rmtree(dir);
    free(path);
    free(dir);
}

typedef struct match_spec {
    fa_provider provider;
    const char *id, *competition, *season, *date, *home_id, *home, *away_id, *away;
} match_spec;

static const match_spec five[] = {
    {FA_PROVIDER_STATSBOMB, "m1", "La Liga", "2018/2019", "2019-02-24", "217", "Barcelona", "220", "Girona"},
    {FA_PROVIDER_STATSBOMB, "m2", "La Liga", "2019/2020", "2019-09-01", "220", "Girona", "210",
     "Real Madrid"},
    {FA_PROVIDER_STATSBOMB, "m3", "Euro", "2020", "2021-06-11", "909", "Turkey", "914", "Italy"},
    {FA_PROVIDER_WYSCOUT, "m4", "Serie A", "2017/2018", "2018-05-01", "3161", "Inter", "3159", "Juventus"},
    {FA_PROVIDER_METRICA, "m5", "", "", "", "", "Home", "", "Away"},
};

static void import_five(fa_store *s) {
    for (int i = 0; i < 5; i++) {
        fa_match m;
        fa_match_init(&m, five[i].provider);
        strcpy(m.id, five[i].id);
        strcpy(m.competition, five[i].competition);
        strcpy(m.season, five[i].season);
        strcpy(m.date, five[i].date);
        strcpy(m.teams[0].id, five[i].home_id);
        strcpy(m.teams[0].name, five[i].home);
        strcpy(m.teams[1].id, five[i].away_id);
        strcpy(m.teams[1].name, five[i].away);
        import_match(s, &m, i == 0 ? N_EVENTS : 2, i == 0);
    }
}

/* Runs a match filter and compares the ids with want (terminated by 0). */
static void expect_matches(fa_store *s, const fa_match_filter *f, const int64_t *want) {
    ids_seen got = {0};
    assert_int_equal(fa_store_matches(s, f, on_match, &got), 0);
    size_t n = 0;
    while (want[n]) n++;
    if (got.n != n) fail_msg("expected %zu matches, got %zu", n, got.n);
    for (size_t i = 0; i < n; i++) assert_int_equal(got.id[i], want[i]);
}

static void test_match_filters_and_cursor(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), *path = db_in(dir, "f.db");
    fa_store *s = open_db(path);
    import_five(s);
    fa_match_filter f = {0};
    expect_matches(s, &f, (int64_t[]){1, 2, 3, 4, 5, 0});
    f.competition = "la liga";
    expect_matches(s, &f, (int64_t[]){1, 2, 0});
    f.team = "Real Madrid";
    expect_matches(s, &f, (int64_t[]){2, 0});
    f = (fa_match_filter){.season = "2019/2020"};
    expect_matches(s, &f, (int64_t[]){2, 0});
    f = (fa_match_filter){.team = "GIRONA"};
    expect_matches(s, &f, (int64_t[]){1, 2, 0});
    f = (fa_match_filter){.team = "217"};
    expect_matches(s, &f, (int64_t[]){1, 0});
    f = (fa_match_filter){.date_from = "2019-01-01"};
    expect_matches(s, &f, (int64_t[]){1, 2, 3, 0});
    f = (fa_match_filter){.date_to = "2019-01-01"};
    expect_matches(s, &f, (int64_t[]){4, 0});
    f = (fa_match_filter){.date_from = "2019-02-24", .date_to = "2019-09-01"};
    expect_matches(s, &f, (int64_t[]){1, 2, 0});
    f = (fa_match_filter){.competition = "La Liga", .date_to = "2019-06-30"};
    expect_matches(s, &f, (int64_t[]){1, 0});
    f = (fa_match_filter){.competition = "Bundesliga"};
    expect_matches(s, &f, (int64_t[]){0});
    f = (fa_match_filter){.team = "Nobody"};
    expect_matches(s, &f, (int64_t[]){0});

    /* cursor pagination */
    f = (fa_match_filter){.limit = 2};
    expect_matches(s, &f, (int64_t[]){1, 2, 0});
    f.after_id = 2;
    expect_matches(s, &f, (int64_t[]){3, 4, 0});
    f.after_id = 4;
    expect_matches(s, &f, (int64_t[]){5, 0});
    f.after_id = 5;
    expect_matches(s, &f, (int64_t[]){0});
    f = (fa_match_filter){.competition = "La Liga", .after_id = 1, .limit = 1};
    expect_matches(s, &f, (int64_t[]){2, 0});
    f = (fa_match_filter){.team = "Girona", .after_id = 1};
    expect_matches(s, &f, (int64_t[]){2, 0});
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(path);
    free(dir);
}

/* The events a filter must return, worked out from the generator. */
static int event_passes(const fa_event *e, const fa_event_filter *f) {
    if (f->kind >= 0 && (int)e->kind != f->kind) return 0;
    if (f->type && strcasecmp(e->type, f->type) != 0) return 0;
    if (f->player_id && strcmp(e->player_id, f->player_id) != 0) return 0;
    if (f->period && e->period != f->period) return 0;
    if (!isnan(f->t_from) && !(e->t >= f->t_from)) return 0;
    if (!isnan(f->t_to) && !(e->t <= f->t_to)) return 0;
    return e->seq > f->after_seq;
}

static void expect_events(fa_store *s, const fa_event_filter *f, size_t want_n) {
    events_seen got = {0};
    assert_int_equal(fa_store_events(s, f, on_event, &got), 0);
    size_t n = 0;
    for (int i = 0; i < N_EVENTS && (!f->limit || n < (size_t)f->limit); i++) {
        fa_event e;
        make_event(&e, i);
        if (!event_passes(&e, f)) continue;
        if (n >= got.n) fail_msg("missing event seq %d", i);
        assert_int_equal(got.e[n].seq, i);
        n++;
    }
    assert_int_equal(got.n, n);
    assert_int_equal(n, want_n);
    free(got.e);
}

static void test_event_filters(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), *path = db_in(dir, "e.db");
    fa_store *s = open_db(path);
    import_five(s);
    fa_event_filter f;
    fa_event_filter_init(&f, 1);
    assert_int_equal(f.kind, -1);
    assert_int_equal(f.after_seq, -1);
    assert_true(isnan(f.t_from) && isnan(f.t_to));
    expect_events(s, &f, 40);
    f.kind = FA_EV_PASS;
    expect_events(s, &f, 10);
    f.period = 2;
    expect_events(s, &f, 5);
    fa_event_filter_init(&f, 1);
    f.type = "pass";
    expect_events(s, &f, 10);
    f.type = "PRESSURE";
    f.t_from = 20.0;
    f.t_to = 80.0;
    expect_events(s, &f, 6);
    fa_event_filter_init(&f, 1);
    f.player_id = "5503";
    expect_events(s, &f, 7);
    f.player_id = "777"; /* created on first sight in an event */
    expect_events(s, &f, 1);
    f.player_id = "no-such-player";
    expect_events(s, &f, 0);
    fa_event_filter_init(&f, 1);
    f.period = 1;
    f.t_to = 30.0;
    expect_events(s, &f, 5);
    assert_int_equal(count_events(s, 2), 2); /* another match's events stay apart */
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(path);
    free(dir);
}

typedef struct reentry {
    fa_store *s;
    int inner_rc, players;
} reentry;

static int count_player(void *ud, const fa_player *p) {
    (void)p;
    ((reentry *)ud)->players++;
    return 0;
}

/* Calls back into the store from a callback: another query works, the same
 * query (its statement is mid-walk) is refused instead of being corrupted. */
static int on_event_reenter(void *ud, const fa_event *e) {
    reentry *r = ud;
    fa_event_filter f;
    events_seen c = {0};
    fa_event_filter_init(&f, 1);
    r->inner_rc = fa_store_events(r->s, &f, on_event, &c);
    free(c.e);
    fa_store_players(r->s, 1, count_player, r);
    return e->seq == 0 ? 1 : 0;
}

static void test_event_cursor(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), *path = db_in(dir, "ec.db");
    fa_store *s = open_db(path);
    import_five(s);
    fa_event_filter f;
    /* cursor pagination over all events, 7 at a time */
    fa_event_filter_init(&f, 1);
    f.limit = 7;
    size_t total = 0, pages = 0;
    for (;;) {
        events_seen page = {0};
        assert_int_equal(fa_store_events(s, &f, on_event, &page), 0);
        if (!page.n) break;
        assert_int_equal(page.e[0].seq, f.after_seq + 1);
        f.after_seq = page.e[page.n - 1].seq;
        total += page.n;
        pages++;
        free(page.e);
    }
    assert_int_equal(total, 40);
    assert_int_equal(pages, 6);

    /* a callback's non-zero return stops the walk and comes back unchanged */
    events_seen stop = {.stop_after = 3};
    fa_event_filter_init(&f, 1);
    assert_int_equal(fa_store_events(s, &f, on_event, &stop), 42);
    assert_int_equal(stop.n, 3);
    free(stop.e);

    reentry r = {s, 0, 0};
    assert_int_equal(fa_store_events(s, &f, on_event_reenter, &r), 1);
    assert_int_equal(r.inner_rc, FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "query events_by_match_seq is already running"));
    assert_int_equal(r.players, N_PLAYERS);
    assert_int_equal(count_events(s, 1), N_EVENTS); /* and the statement is free again */
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(path);
    free(dir);
}

static void test_match_find(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), *path = db_in(dir, "find.db");
    fa_store *s = open_db(path);
    import_five(s);
    fa_match_row row;
    assert_int_equal(fa_store_match_find(s, "4", &row), 0);
    assert_string_equal(row.m.id, "m4");
    assert_int_equal(row.m.provider, FA_PROVIDER_WYSCOUT);
    assert_int_equal(fa_store_match_find(s, "metrica:m5", &row), 0);
    assert_int_equal(row.id, 5);
    assert_string_equal(row.m.competition, "");
    assert_string_equal(row.m.teams[1].name, "Away");
    assert_int_equal(fa_store_match_find(s, "wyscout:m1", &row), FA_ENOTFOUND);
    assert_non_null(strstr(fa_err_msg(), "wyscout:m1"));
    assert_int_equal(fa_store_match_find(s, "99", &row), FA_ENOTFOUND);
    assert_int_equal(fa_store_match_find(s, "nonsense", &row), FA_EINVAL);
    assert_int_equal(fa_store_match_find(s, "opta:1", &row), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "unknown provider 'opta'"));
    assert_int_equal(fa_store_match_find(s, "statsbomb:", &row), FA_EINVAL);
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(path);
    free(dir);
}

static void test_bad_targets(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir();
    const char *text = "date,home,away\n2019-02-24,Barcelona,Girona\n";
    char *txt = fa_test_write_file(dir, "matches.csv", text, strlen(text));
    assert_null(fa_store_open(txt, 0, 1));
    assert_int_equal(fa_err_code(), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "not a SQLite database"));
    assert_non_null(strstr(fa_err_msg(), "matches.csv"));

    char *missing = db_in(dir, "missing.db"), msg[512];
    assert_null(fa_store_open(missing, 0, 0));
    assert_int_equal(fa_err_code(), FA_ENOTFOUND);
    snprintf(msg, sizeof msg, "no database at %s (run footanalytics import or db migrate first)", missing);
    assert_string_equal(fa_err_msg(), msg);
    struct stat st;
    assert_int_not_equal(stat(missing, &st), 0); /* nothing was created */

    assert_null(fa_store_open("postgres://fa:secret@db.example/fa", 1, 1));
    assert_non_null(strstr(fa_err_msg(), "PostgreSQL backend is not built yet"));
    assert_null(strstr(fa_err_msg(), "secret"));
    assert_null(fa_store_open("mysql://x", 1, 1));
    assert_null(fa_store_open("", 1, 1));
    assert_null(fa_store_open(dir, 1, 1));
    assert_non_null(strstr(fa_err_msg(), "is a directory"));

    char *foreign = db_in(dir, "foreign.db"), uri[4200];
    sqlite3 *db;
    assert_int_equal(sqlite3_open(foreign, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE notes(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(fa_store_open(foreign, 0, 1));
    assert_non_null(strstr(fa_err_msg(), "not a FootAnalytics one"));

    snprintf(uri, sizeof uri, "sqlite:%s/ok.db", dir);
    fa_store *s = fa_store_open(uri, 1, 1);
    assert_non_null(s);
    fa_store_close(s);
    snprintf(uri, sizeof uri, "%s/ok.db", dir);
    assert_int_equal(stat(uri, &st), 0);
    free(txt);
    free(missing);
    free(foreign);
    fa_test_rmtree(dir);
    free(dir);
}

static void test_sink_misuse(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), *path = db_in(dir, "mis.db");
    fa_store *s = open_db(path);
    fa_store_import *imp, *second;
    fa_import_stats st;
    fa_event e;
    make_event(&e, 0);

    assert_int_equal(fa_store_import_begin(s, &imp), 0);
    assert_int_equal(fa_store_import_begin(s, &second), FA_EUSAGE);
    const fa_sink *k = fa_store_import_sink(imp);
    assert_int_equal(k->event(k->ud, &e), FA_EINVAL);
    assert_non_null(strstr(fa_err_msg(), "event before begin"));
    assert_int_equal(fa_store_import_commit(imp, &st), FA_EINVAL);

    fa_match m;
    make_match(&m, FA_PROVIDER_STATSBOMB, "1");
    assert_int_equal(fa_store_import_begin(s, &imp), 0);
    k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, &m), 0);
    assert_int_equal(k->event(k->ud, &e), 0);
    assert_int_equal(k->event(k->ud, &e), FA_EINVAL); /* the same seq twice */
    assert_non_null(strstr(fa_err_msg(), "event seq 0"));
    assert_int_equal(fa_store_import_commit(imp, &st), FA_EINVAL);

    ids_seen ids = {0};
    assert_int_equal(fa_store_matches(s, NULL, on_match, &ids), 0);
    assert_int_equal(ids.n, 0); /* nothing of the failed imports is visible */

    assert_int_equal(fa_store_import_begin(s, &imp), 0); /* commit without end() still counts */
    k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, &m), 0);
    assert_int_equal(k->event(k->ud, &e), 0);
    assert_int_equal(fa_store_import_commit(imp, &st), 0);
    fa_match_row row;
    assert_int_equal(fa_store_match_find(s, "statsbomb:1", &row), 0);
    assert_int_equal(row.n_events, 1);
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(path);
    free(dir);
}

/* ~8000 events (two StatsBomb matches' worth) in one import, all stored.
 * The time is printed for information only: speed is proven by
 * bench/bench_import.c, never by a timed test. */
static void test_import_volume(void **state) {
    (void)state;
    char *dir = fa_test_tmpdir(), *path = db_in(dir, "speed.db");
    fa_store *s = open_db(path);
    fa_match m;
    make_match(&m, FA_PROVIDER_STATSBOMB, "speed");
    double t0 = fa_clock_now(), cpu0 = fa_clock_cpu();
    fa_store_import *imp;
    assert_int_equal(fa_store_import_begin(s, &imp), 0);
    const fa_sink *k = fa_store_import_sink(imp);
    assert_int_equal(k->begin(k->ud, &m), 0);
    for (int i = 0; i < 8000; i++) {
        fa_event e;
        make_event(&e, i % N_EVENTS);
        e.seq = i;
        assert_int_equal(k->event(k->ud, &e), 0);
    }
    assert_int_equal(k->end(k->ud, &m), 0);
    fa_import_stats st;
    assert_int_equal(fa_store_import_commit(imp, &st), 0);
    double secs = fa_clock_now() - t0, cpu = fa_clock_cpu() - cpu0;
    print_message("8000 events imported in %.4f s (%.4f s CPU)\n", secs, cpu);
    assert_int_equal(st.events, 8000);
    fa_match_row row;
    assert_int_equal(fa_store_match_find(s, "statsbomb:speed", &row), 0);
    assert_int_equal(row.n_events, 8000);
    fa_store_close(s);
    fa_test_rmtree(dir);
    free(path);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_twice),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_reimport_replaces),
        cmocka_unit_test(test_abort_leaves_file_identical),
        cmocka_unit_test(test_match_filters_and_cursor),
        cmocka_unit_test(test_event_filters),
        cmocka_unit_test(test_event_cursor),
        cmocka_unit_test(test_match_find),
        cmocka_unit_test(test_bad_targets),
        cmocka_unit_test(test_sink_misuse),
        cmocka_unit_test(test_import_volume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
