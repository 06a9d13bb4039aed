/*
 * sqlite.c - the embedded SQLite backend: connection, named statements,
 * migrations and query plans.
 *
 * Why these settings: WAL lets the API read while an import writes, and
 * with synchronous=NORMAL a commit costs no fsync (a power cut can lose the
 * last commits, never corrupt the file); foreign_keys=ON makes the
 * cascades from matches real; a busy timeout turns a short lock wait into a
 * wait, not an error.
 *
 * Why a statement table: every query is written once, below, with a name.
 * Statements are prepared on first use and reused (reset) for the life of
 * the store, and fa_store_explain() walks the same table, so no query can
 * escape the "every query has an index" check. The read queries pick one
 * statement per driving index (matches by team, competition, ...; events by
 * kind, type, player, ...) and keep the other filters as residual
 * conditions, because SQLite cannot use an index through "(? IS NULL OR
 * col = ?)".
 *
 * The import sink is in sqlite_import.c, the read-back in sqlite_read.c
 * and the derived aggregates (metrics, grids, documents) in
 * sqlite_aggregates.c.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "migrations.h"
#include "sqlite_internal.h"

#define SQ_BUSY_TIMEOUT_MS 5000
#define SQ_NOW "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

/* ------------------------------------------------------------ statements */

#define MATCH_SELECT                                                                                    \
    "SELECT m.id, m.provider, m.provider_id, c.name, s.name, m.date, hm.provider_id, hm.name, "        \
    "aw.provider_id, aw.name, m.home_score, m.away_score, m.pitch_length, m.pitch_width, "             \
    "m.provider_length, m.provider_width, m.provider_unit, m.frame_rate, m.source, m.imported_at, "    \
    "m.n_events, m.n_frames, (SELECT count(*) FROM match_players mp WHERE mp.match_id = m.id) "        \
    "FROM matches m"
#define MATCH_JOINS                                                                                     \
    " LEFT JOIN competitions c ON c.id = m.competition_id LEFT JOIN seasons s ON s.id = m.season_id "  \
    "LEFT JOIN teams hm ON hm.id = m.home_team_id LEFT JOIN teams aw ON aw.id = m.away_team_id WHERE "
#define TEAM_IDS "(SELECT id FROM teams WHERE name = ?3 OR provider_id = ?3)"
#define MATCH_BY_TEAM "(m.home_team_id IN " TEAM_IDS " OR m.away_team_id IN " TEAM_IDS ")"
#define MATCH_FILTER                                                                                    \
    "m.id > ?6 AND (?1 IS NULL OR m.competition_id = (SELECT id FROM competitions WHERE name = ?1)) "  \
    "AND (?2 IS NULL OR m.season_id = (SELECT id FROM seasons WHERE name = ?2)) "                      \
    "AND (?3 IS NULL OR " MATCH_BY_TEAM ") AND (?4 IS NULL OR m.date >= ?4) "                          \
    "AND (?5 IS NULL OR m.date <= ?5) ORDER BY m.id LIMIT ?7"

#define EVENT_SELECT                                                                                    \
    "SELECT e.seq, e.period, e.t, e.duration, e.kind, e.type, e.subtype, e.side, p.provider_id, "      \
    "r.provider_id, e.x, e.y, e.end_x, e.end_y, e.end_z, e.success, e.outcome, e.xg, e.body_part, "    \
    "e.pass_type, e.under_pressure, e.goal, e.provider_event_id, e.related FROM events e INDEXED BY "
#define EVENT_JOINS                                                                                     \
    " LEFT JOIN players p ON p.id = e.player_id LEFT JOIN players r ON r.id = e.recipient_id "         \
    "WHERE e.match_id = ?1 AND "
#define EVENT_FILTER                                                                                    \
    "(?2 < 0 OR e.kind = ?2) AND (?3 IS NULL OR e.type = ?3) AND (?4 IS NULL OR e.player_id = ?4) "   \
    "AND (?5 = 0 OR e.period = ?5) AND (?6 IS NULL OR e.t >= ?6) AND (?7 IS NULL OR e.t <= ?7) "       \
    "AND e.seq > ?8 ORDER BY e.seq LIMIT ?9"

#define METRIC_SELECT                                                                                   \
    "SELECT mm.side, p.provider_id, mm.name, mm.value FROM match_metrics mm "                          \
    "LEFT JOIN players p ON p.id = mm.player_id WHERE mm.match_id = ?1 "
#define GRID_SELECT                                                                                     \
    "SELECT mg.side, p.provider_id, mg.name, mg.nx, mg.ny, mg.codec, mg.cells FROM match_grids mg "    \
    "LEFT JOIN players p ON p.id = mg.player_id WHERE mg.match_id = ?1 "
#define METRIC_SUM                                                                                      \
    "SELECT total(mm.value), count(DISTINCT mm.match_id) FROM players p CROSS JOIN match_metrics mm "  \
    "ON mm.player_id = p.id AND mm.name = ?2 WHERE p.provider_id = ?1"

#define MATCH_COLUMNS                                                                                   \
    "provider, provider_id, competition_id, season_id, date, home_team_id, away_team_id, home_score, " \
    "away_score, pitch_length, pitch_width, provider_length, provider_width, provider_unit, "          \
    "frame_rate, source, imported_at"

typedef struct sq_query {
    const char *name;
    char kind; /* 'r' read, 'w' write: explained; 't' transaction, 'b' bootstrap: not */
    const char *sql;
} sq_query;

static const sq_query queries[FA_SQ_COUNT] = {
    [FA_SQ_BEGIN] = {"begin", 't', "BEGIN IMMEDIATE"},
    [FA_SQ_COMMIT] = {"commit", 't', "COMMIT"},
    [FA_SQ_ROLLBACK] = {"rollback", 't', "ROLLBACK"},
    /* sqlite_schema has no index by design; this runs once per open or migration. */
    [FA_SQ_SCHEMA_PROBE] = {"schema_probe", 'b',
                            "SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                            "name = 'schema_migrations'), (SELECT count(*) FROM sqlite_schema)"},
    [FA_SQ_SCHEMA_VERSION] = {"schema_version", 'r', "SELECT ifnull(max(version), 0) FROM schema_migrations"},
    [FA_SQ_DATA_VERSION] = {"data_version", 'b', "PRAGMA data_version"},
    [FA_SQ_MIGRATION_APPLIED] = {"migration_applied", 'r',
                                 "SELECT version FROM schema_migrations WHERE version = ?1"},
    [FA_SQ_MIGRATION_RECORD] = {"migration_record", 'w',
                                "INSERT INTO schema_migrations(version, name, applied_at) "
                                "VALUES(?1, ?2, " SQ_NOW ")"},
    [FA_SQ_COMPETITION_UPSERT] = {"competition_upsert", 'w',
                                  "INSERT INTO competitions(name) VALUES(?1) ON CONFLICT(name) "
                                  "DO UPDATE SET name = excluded.name RETURNING id"},
    [FA_SQ_SEASON_UPSERT] = {"season_upsert", 'w',
                             "INSERT INTO seasons(name) VALUES(?1) ON CONFLICT(name) "
                             "DO UPDATE SET name = excluded.name RETURNING id"},
    [FA_SQ_TEAM_UPSERT] = {"team_upsert", 'w',
                           "INSERT INTO teams(provider, provider_id, name) VALUES(?1, ?2, ?3) "
                           "ON CONFLICT(provider, provider_id, name) DO UPDATE SET name = excluded.name "
                           "RETURNING id"},
    [FA_SQ_MATCH_ID_BY_PROVIDER] = {"match_id_by_provider", 'r',
                                    "SELECT id FROM matches WHERE provider = ?1 AND provider_id = ?2"},
    [FA_SQ_MATCH_INSERT] = {"match_insert", 'w',
                            "INSERT INTO matches(" MATCH_COLUMNS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                            "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, " SQ_NOW ") RETURNING id"},
    [FA_SQ_MATCH_UPDATE] = {"match_update", 'w',
                            "UPDATE matches SET provider = ?1, provider_id = ?2, competition_id = ?3, "
                            "season_id = ?4, date = ?5, home_team_id = ?6, away_team_id = ?7, "
                            "home_score = ?8, away_score = ?9, pitch_length = ?10, pitch_width = ?11, "
                            "provider_length = ?12, provider_width = ?13, provider_unit = ?14, "
                            "frame_rate = ?15, source = ?16, imported_at = " SQ_NOW " WHERE id = ?17"},
    [FA_SQ_MATCH_COUNTS] = {"match_counts", 'w',
                            "UPDATE matches SET n_events = ?2, n_frames = ?3 WHERE id = ?1"},
    [FA_SQ_DELETE_MATCH_PLAYERS] = {"match_players_delete", 'w',
                                    "DELETE FROM match_players WHERE match_id = ?1"},
    [FA_SQ_DELETE_EVENTS] = {"events_delete", 'w', "DELETE FROM events WHERE match_id = ?1"},
    [FA_SQ_DELETE_CHUNKS] = {"chunks_delete", 'w', "DELETE FROM tracking_chunks WHERE match_id = ?1"},
    [FA_SQ_PLAYER_UPSERT] = {"player_upsert", 'w',
                             "INSERT INTO players(provider, provider_id, name) VALUES(?1, ?2, ?3) "
                             "ON CONFLICT(provider, provider_id) DO UPDATE SET name = excluded.name "
                             "RETURNING id"},
    [FA_SQ_PLAYER_TOUCH] = {"player_touch", 'w',
                            "INSERT INTO players(provider, provider_id, name) VALUES(?1, ?2, '') "
                            "ON CONFLICT(provider, provider_id) DO UPDATE SET name = name RETURNING id"},
    [FA_SQ_MATCH_PLAYER_UPSERT] = {"match_player_upsert", 'w',
                                   "INSERT INTO match_players(match_id, player_id, team_id, side, shirt, "
                                   "position, minutes, starter) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                                   "ON CONFLICT(match_id, player_id) DO UPDATE SET "
                                   "team_id = excluded.team_id, side = excluded.side, "
                                   "shirt = excluded.shirt, position = excluded.position, "
                                   "minutes = excluded.minutes, "
                                   "starter = excluded.starter"},
    [FA_SQ_EVENT_INSERT] = {"event_insert", 'w',
                            "INSERT INTO events(match_id, seq, period, t, duration, kind, type, subtype, "
                            "side, team_id, player_id, recipient_id, x, y, end_x, end_y, end_z, success, "
                            "outcome, xg, body_part, pass_type, under_pressure, goal, provider_event_id, "
                            "related) "
                            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                            "?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)"},
    [FA_SQ_CHUNK_INSERT] = {"chunk_insert", 'w',
                            "INSERT INTO tracking_chunks(match_id, period, t0, t1, n_frames, codec, "
                            "raw_bytes, data) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    [FA_SQ_MATCHES_ALL] = {"matches_all", 'r', MATCH_SELECT MATCH_JOINS MATCH_FILTER},
    [FA_SQ_MATCHES_BY_TEAM] = {"matches_by_team", 'r',
                               MATCH_SELECT MATCH_JOINS MATCH_BY_TEAM " AND " MATCH_FILTER},
    [FA_SQ_MATCHES_BY_COMPETITION] = {"matches_by_competition", 'r',
                                      MATCH_SELECT " INDEXED BY matches_competition" MATCH_JOINS
                                      "m.competition_id = (SELECT id FROM competitions WHERE name = ?1) "
                                      "AND " MATCH_FILTER},
    [FA_SQ_MATCHES_BY_SEASON] = {"matches_by_season", 'r',
                                 MATCH_SELECT " INDEXED BY matches_season" MATCH_JOINS
                                 "m.season_id = (SELECT id FROM seasons WHERE name = ?2) AND " MATCH_FILTER},
    /* Open ends: '' sorts before any date and a blob after any text, so the
     * range stays an index range when only one end is given. */
    [FA_SQ_MATCHES_BY_DATE] = {"matches_by_date", 'r',
                               MATCH_SELECT " INDEXED BY matches_date" MATCH_JOINS
                               "m.date >= ifnull(?4, '') AND m.date <= ifnull(?5, x'ff') AND " MATCH_FILTER},
    [FA_SQ_MATCH_BY_ID] = {"match_by_id", 'r', MATCH_SELECT MATCH_JOINS "m.id = ?1"},
    [FA_SQ_MATCH_BY_PROVIDER] = {"match_by_provider", 'r',
                                 MATCH_SELECT MATCH_JOINS "m.provider = ?1 AND m.provider_id = ?2"},
    [FA_SQ_PLAYER_IN_MATCH] = {"player_in_match", 'r',
                               "SELECT p.id FROM matches m CROSS JOIN players p ON p.provider = m.provider "
                               "AND p.provider_id = ?2 WHERE m.id = ?1"},
    [FA_SQ_EVENTS_BY_SEQ] = {"events_by_match_seq", 'r',
                             EVENT_SELECT "events_match_seq" EVENT_JOINS EVENT_FILTER},
    [FA_SQ_EVENTS_BY_KIND] = {"events_by_match_kind", 'r',
                              EVENT_SELECT "events_match_kind_t" EVENT_JOINS "e.kind = ?2 AND " EVENT_FILTER},
    [FA_SQ_EVENTS_BY_TYPE] = {"events_by_match_type", 'r',
                              EVENT_SELECT "events_match_type" EVENT_JOINS "e.type = ?3 AND " EVENT_FILTER},
    [FA_SQ_EVENTS_BY_PLAYER] = {"events_by_match_player", 'r',
                                EVENT_SELECT "events_match_player_t" EVENT_JOINS "e.player_id = ?4 AND "
                                EVENT_FILTER},
    [FA_SQ_EVENTS_BY_PERIOD] = {"events_by_match_period", 'r',
                                EVENT_SELECT "events_match_period_t" EVENT_JOINS "e.period = ?5 AND "
                                EVENT_FILTER},
    [FA_SQ_PLAYERS_BY_MATCH] = {"players_by_match", 'r',
                                "SELECT p.provider_id, mp.side, p.name, mp.shirt, mp.position, mp.minutes, "
                                "mp.starter FROM match_players mp CROSS JOIN players p "
                                "ON p.id = mp.player_id WHERE mp.match_id = ?1 "
                                "ORDER BY mp.side IS NULL, mp.side, mp.starter DESC, "
                                "mp.shirt IS NULL, mp.shirt, mp.rowid"},
    [FA_SQ_CHUNKS_BY_MATCH] = {"chunks_by_match", 'r',
                               "SELECT period, t0, t1, n_frames, codec, raw_bytes, data FROM tracking_chunks "
                               "WHERE match_id = ?1 AND (?2 = 0 OR period = ?2) AND (?3 IS NULL OR t1 >= ?3) "
                               "AND (?4 IS NULL OR t0 <= ?4) ORDER BY period, t0"},
    [FA_SQ_MATCH_PROVIDER] = {"match_provider", 'r', "SELECT provider FROM matches WHERE id = ?1"},
    [FA_SQ_DELETE_METRICS] = {"metrics_delete", 'w', "DELETE FROM match_metrics WHERE match_id = ?1"},
    [FA_SQ_DELETE_GRIDS] = {"grids_delete", 'w', "DELETE FROM match_grids WHERE match_id = ?1"},
    [FA_SQ_DELETE_DOCS] = {"docs_delete", 'w', "DELETE FROM match_docs WHERE match_id = ?1"},
    [FA_SQ_METRIC_INSERT] = {"metric_insert", 'w',
                             "INSERT INTO match_metrics(match_id, side, player_id, name, value) "
                             "VALUES(?1, ?2, ?3, ?4, ?5)"},
    [FA_SQ_GRID_INSERT] = {"grid_insert", 'w',
                           "INSERT INTO match_grids(match_id, side, player_id, name, nx, ny, codec, cells) "
                           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
    [FA_SQ_DOC_INSERT] = {"doc_insert", 'w',
                          "INSERT INTO match_docs(match_id, name, json) VALUES(?1, ?2, ?3)"},
    [FA_SQ_METRICS_BY_MATCH] = {"metrics_by_match", 'r', METRIC_SELECT "ORDER BY mm.rowid"},
    [FA_SQ_METRICS_BY_MATCH_TEAM] = {"metrics_by_match_team", 'r',
                                     METRIC_SELECT "AND mm.player_id IS NULL ORDER BY mm.rowid"},
    [FA_SQ_METRICS_BY_MATCH_PLAYER] = {"metrics_by_match_player", 'r',
                                       METRIC_SELECT "AND mm.player_id = ?2 ORDER BY mm.rowid"},
    [FA_SQ_GRIDS_BY_MATCH] = {"grids_by_match", 'r', GRID_SELECT "ORDER BY mg.rowid"},
    [FA_SQ_GRIDS_BY_MATCH_TEAM] = {"grids_by_match_team", 'r',
                                   GRID_SELECT "AND mg.player_id IS NULL ORDER BY mg.rowid"},
    [FA_SQ_GRIDS_BY_MATCH_PLAYER] = {"grids_by_match_player", 'r',
                                     GRID_SELECT "AND mg.player_id = ?2 ORDER BY mg.rowid"},
    [FA_SQ_DOC_BY_NAME] = {"doc_by_name", 'r',
                           "SELECT json FROM match_docs WHERE match_id = ?1 AND name = ?2"},
    [FA_SQ_METRIC_SUM] = {"metric_sum", 'r', METRIC_SUM},
    [FA_SQ_METRIC_SUM_BY_PROVIDER] = {"metric_sum_by_provider", 'r', METRIC_SUM " AND p.provider = ?3"},
};

/* ------------------------------------------------------------ helpers */

int fa_sq_fail(fa_sq *s, const char *what) {
    int primary = sqlite3_errcode(s->db) & 0xff;
    int code = FA_EIO;
    if (primary == SQLITE_CONSTRAINT || primary == SQLITE_NOTADB || primary == SQLITE_MISMATCH ||
        primary == SQLITE_TOOBIG)
        code = FA_EINVAL;
    else if (primary == SQLITE_NOMEM)
        code = FA_ENOMEM;
    if (primary == SQLITE_NOTADB)
        return fa_err_set(code, "%s: not a SQLite database (%s)", s->path, sqlite3_errmsg(s->db));
    return fa_err_set(code, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* 1 when the database has a schema_migrations table; *tables = all tables. */
static int schema_probe(fa_sq *s, int *has_migrations, int *tables) {
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_SCHEMA_PROBE);
    if (!st) return fa_err_code();
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = fa_sq_fail(s, "reading the schema");
        sqlite3_reset(st);
        return rc;
    }
    *has_migrations = sqlite3_column_int(st, 0) > 0;
    if (tables) *tables = sqlite3_column_int(st, 1);
    sqlite3_reset(st);
    return 0;
}

static int prepare_failed(fa_sq *s, fa_sq_id id) {
    int has = 1;
    char msg[512];
    if ((sqlite3_errcode(s->db) & 0xff) == SQLITE_NOTADB) return fa_sq_fail(s, queries[id].name);
    snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(s->db));
    if (id != FA_SQ_SCHEMA_PROBE && schema_probe(s, &has, NULL) == 0 && !has)
        return fa_err_set(FA_EIO, "%s: the database has no FootAnalytics schema "
                                  "(run footanalytics db migrate)",
                          s->path);
    return fa_err_set(FA_EIO, "%s: preparing query %s: %s", s->path, queries[id].name, msg);
}

sqlite3_stmt *fa_sq_stmt(fa_sq *s, fa_sq_id id) {
    sqlite3_stmt *st = s->stmt[id];
    if (st) {
        if (!sqlite3_stmt_busy(st)) return st;
        fa_err_set(FA_EINVAL, "%s: query %s is already running (called again from its own callback)",
                   s->path, queries[id].name);
        return NULL;
    }
    if (sqlite3_prepare_v3(s->db, queries[id].sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        prepare_failed(s, id);
        return NULL;
    }
    s->stmt[id] = st;
    return st;
}

int fa_sq_step_done(fa_sq *s, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : fa_sq_fail(s, what);
    sqlite3_reset(st);
    return rc;
}

int fa_sq_step_id(fa_sq *s, sqlite3_stmt *st, const char *what, int64_t *id) {
    int step = sqlite3_step(st), rc = 0;
    *id = 0;
    if (step == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    else if (step == SQLITE_DONE)
        rc = FA_ENOTFOUND;
    else
        rc = fa_sq_fail(s, what);
    sqlite3_reset(st);
    return rc;
}

int fa_sq_run(fa_sq *s, fa_sq_id id) {
    sqlite3_stmt *st = fa_sq_stmt(s, id);
    return st ? fa_sq_step_done(s, st, queries[id].name) : fa_err_code();
}

int fa_sq_bind_text(sqlite3_stmt *st, int i, const char *v) {
    return v && *v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

int fa_sq_bind_real(sqlite3_stmt *st, int i, double v) {
    return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

int fa_sq_bind_int(sqlite3_stmt *st, int i, int64_t v, int64_t unknown) {
    return v == unknown ? sqlite3_bind_null(st, i) : sqlite3_bind_int64(st, i, v);
}

int fa_sq_bind_id(sqlite3_stmt *st, int i, int64_t id) { return fa_sq_bind_int(st, i, id, 0); }

void fa_sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t size) {
    const unsigned char *v = sqlite3_column_text(st, i);
    fa_strlcpy_utf8(dst, v ? (const char *)v : "", size);
}

double fa_sq_col_real(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int64_t fa_sq_col_int(sqlite3_stmt *st, int i, int64_t unknown) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? unknown : sqlite3_column_int64(st, i);
}

/* ------------------------------------------------------------ migrations */

static int latest_known_version(void) {
    int v = 0;
    for (size_t i = 0; i < fa_migrations_count; i++)
        if (fa_migrations[i].version > v) v = fa_migrations[i].version;
    return v;
}

static int sq_schema_version(void *be, int *version) {
    fa_sq *s = be;
    int has = 0, rc = schema_probe(s, &has, NULL);
    *version = 0;
    if (rc || !has) return rc;
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_SCHEMA_VERSION);
    if (!st) return fa_err_code();
    int64_t v;
    rc = fa_sq_step_id(s, st, "reading the schema version", &v);
    *version = (int)v;
    return rc;
}

static int sq_data_version(void *be, int64_t *version) {
    fa_sq *s = be;
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_DATA_VERSION);
    if (!st) return fa_err_code();
    return fa_sq_step_id(s, st, "reading the data version", version);
}

static int migration_applied(fa_sq *s, int version, int *applied) {
    int has = 0, rc = schema_probe(s, &has, NULL);
    *applied = 0;
    if (rc || !has) return rc;
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_MIGRATION_APPLIED);
    if (!st) return fa_err_code();
    int64_t v;
    sqlite3_bind_int(st, 1, version);
    rc = fa_sq_step_id(s, st, "reading schema_migrations", &v);
    if (rc == FA_ENOTFOUND) return 0;
    *applied = rc == 0;
    return rc;
}

static int record_migration(fa_sq *s, const fa_migration *m) {
    char what[160];
    snprintf(what, sizeof what, "migration %s", m->name);
    if (sqlite3_exec(s->db, m->sql, NULL, NULL, NULL) != SQLITE_OK) return fa_sq_fail(s, what);
    sqlite3_stmt *st = fa_sq_stmt(s, FA_SQ_MIGRATION_RECORD);
    if (!st) return fa_err_code();
    sqlite3_bind_int(st, 1, m->version);
    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
    return fa_sq_step_done(s, st, what);
}

/* Applies m inside its own transaction unless it is already recorded
 * (checked again under the write lock: another process may have won). */
static int apply_migration(fa_sq *s, const fa_migration *m, int *did) {
    int applied, rc = migration_applied(s, m->version, &applied);
    *did = 0;
    if (rc || applied) return rc;
    if (s->importing) return fa_err_set(FA_EUSAGE, "%s: cannot migrate during an import", s->path);
    if ((rc = fa_sq_run(s, FA_SQ_BEGIN))) return rc;
    rc = migration_applied(s, m->version, &applied);
    if (!rc && !applied) rc = record_migration(s, m);
    if (!rc) rc = fa_sq_run(s, FA_SQ_COMMIT);
    if (rc) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    *did = !applied;
    return 0;
}

static int sq_migrate(void *be, int *applied) {
    fa_sq *s = be;
    *applied = 0;
    for (size_t i = 0; i < fa_migrations_count; i++) {
        int did, rc = apply_migration(s, &fa_migrations[i], &did);
        if (rc) return rc;
        *applied += did;
    }
    return 0;
}

/* ------------------------------------------------------------ explain */

/* A plan line that reads a whole table (or builds an automatic index). */
static int plan_line_scans(const char *detail) {
    if (strstr(detail, "AUTOMATIC")) return 1;
    if (strncmp(detail, "SCAN ", 5) != 0 || strcmp(detail, "SCAN CONSTANT ROW") == 0) return 0;
    return !strstr(detail, "USING INDEX") && !strstr(detail, "USING COVERING INDEX");
}

static int explain_one(fa_sq *s, const sq_query *q, FILE *out, int *scans) {
    char *sql = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", q->sql);
    sqlite3_stmt *st = NULL;
    if (!sql) return fa_err_set(FA_ENOMEM, "out of memory explaining %s", q->name);
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) return prepare_failed(s, (fa_sq_id)(q - queries));
    int lines = 0, scanned = 0;
    fprintf(out, "%s:", q->name);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        detail = detail ? detail : "";
        fprintf(out, "%s %s", lines++ ? " |" : "", detail);
        scanned |= plan_line_scans(detail);
    }
    fprintf(out, "%s%s\n", lines ? "" : " (no table read)", scanned ? "   <-- full scan" : "");
    rc = rc == SQLITE_DONE ? 0 : fa_sq_fail(s, q->name);
    sqlite3_finalize(st);
    *scans += scanned;
    return rc;
}

static int sq_explain(void *be, FILE *out, int *scans) {
    fa_sq *s = be;
    *scans = 0;
    for (int id = 0; id < FA_SQ_COUNT; id++) {
        if (queries[id].kind != 'r' && queries[id].kind != 'w') continue;
        int rc = explain_one(s, &queries[id], out, scans);
        if (rc) return rc;
    }
    return 0;
}

/* ------------------------------------------------------------ open, close */

static int check_path(const char *path, int create) {
    struct stat st;
    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) return 0;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) return fa_err_set(FA_EIO, "%s: %s", path, strerror(errno));
        if (create) return 0;
        return fa_err_set(FA_ENOTFOUND, "no database at %s (run footanalytics import or db migrate first)",
                          path);
    }
    if (S_ISDIR(st.st_mode)) return fa_err_set(FA_EINVAL, "%s: is a directory, not a database file", path);
    return 0;
}

/* Connection settings; the journal mode is set only once the file is known
 * to be ours (check_schema), so a foreign database is never switched to WAL. */
static int configure(fa_sq *s, int journal) {
    static const char *const before[] = {"PRAGMA foreign_keys = ON"};
    static const char *const after[] = {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"};
    const char *const *pragmas = journal ? after : before;
    size_t n = journal ? sizeof after / sizeof *after : sizeof before / sizeof *before;
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS);
    for (size_t i = 0; i < n; i++)
        if (sqlite3_exec(s->db, pragmas[i], NULL, NULL, NULL) != SQLITE_OK) return fa_sq_fail(s, pragmas[i]);
    return 0;
}

/* Refuses databases this build cannot work with: another application's, or
 * one migrated by a newer footanalytics. */
static int check_schema(fa_sq *s) {
    int has = 0, tables = 0, version = 0, rc = schema_probe(s, &has, &tables);
    if (rc) return rc;
    if (!has && tables > 0)
        return fa_err_set(FA_EINVAL, "%s: a SQLite database, but not a FootAnalytics one "
                                     "(no schema_migrations)",
                          s->path);
    if ((rc = sq_schema_version(s, &version))) return rc;
    if (version > latest_known_version())
        return fa_err_set(FA_EINVAL, "%s: schema version %d is newer than this build knows (%d); upgrade "
                                     "footanalytics",
                          s->path, version, latest_known_version());
    return 0;
}

static void sq_close(void *be) {
    fa_sq *s = be;
    if (!s) return;
    for (int i = 0; i < FA_SQ_COUNT; i++) sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static void *sq_open(const char *path, int create, int migrate) {
    if (check_path(path, create)) return NULL;
    fa_sq *s = fa_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->path = fa_strdup(path);
    if (!s->path) {
        free(s);
        return NULL;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (s->db) fa_sq_fail(s, "opening");
        else fa_err_set(FA_ENOMEM, "%s: out of memory opening the database", path);
    }
    int applied;
    if (rc != SQLITE_OK || configure(s, 0) || check_schema(s) || configure(s, 1) ||
        (migrate && sq_migrate(s, &applied))) {
        sq_close(s);
        return NULL;
    }
    return s;
}

const fa_store_backend fa_store_sqlite_backend = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .data_version = sq_data_version,
    .explain = sq_explain,
    .import_begin = fa_sq_import_begin,
    .import_sink = fa_sq_import_sink,
    .import_aggregates = fa_sq_import_aggregates,
    .import_commit = fa_sq_import_commit,
    .import_abort = fa_sq_import_abort,
    .matches = fa_sq_matches,
    .match_by_id = fa_sq_match_by_id,
    .match_by_provider = fa_sq_match_by_provider,
    .events = fa_sq_events,
    .players = fa_sq_players,
    .frames = fa_sq_frames,
    .aggregates_replace = fa_sq_aggregates_replace,
    .metrics = fa_sq_metrics,
    .grids = fa_sq_grids,
    .doc = fa_sq_doc,
    .metric_sum = fa_sq_metric_sum,
};
