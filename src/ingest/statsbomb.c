/*
 * statsbomb.c - the StatsBomb open-data parser: an events file (a JSON array
 * of event objects) and, optionally, its lineups file (a JSON array of the two
 * teams and their squads) in; one match, its events and its players out,
 * streamed into a fa_sink.
 *
 * Why it is built this way:
 *
 *   - Streaming. The events array is walked element by element: each event is
 *     materialised into an arena that is reset before the next one, converted
 *     and handed to the sink at once. Memory is constant in the file size; the
 *     only state that outlives an event is the player table, capped at
 *     SB_MAX_PLAYERS (a real match has under 60), and a few numbers per period.
 *
 *   - Home and away. StatsBomb's events name no home team, but every match
 *     starts with two "Starting XI" events, the home team's first. So the team
 *     of the FIRST Starting XI is home and the second is away; sink.begin() is
 *     called once both are known, and any other event before them is an error.
 *     (Euro 2020 opener 3788741: Turkey, the designated home side, comes first
 *     although its lineups file lists Italy first; lineups are matched by id.)
 *
 *   - Coordinates. Each StatsBomb location is in the frame of the team that
 *     performs the event: 120 x 80 yards, x from 0 to 120 towards the goal that
 *     team attacks, y from 0 at the top to 80 at the bottom. The model (model.h)
 *     has the home team attack +x in periods 1 and 3 and -x in 2 and 4, so an
 *     event is rotated by 180 degrees exactly when its team attacks -x in that
 *     period: flip = (side == home) XOR home_attacks_plus_x(period). The frame
 *     is then scaled onto the 105 x 68 m pitch. A shot's end "z" is a height in
 *     yards and is converted to metres.
 *
 *   - Score. Goals are counted, not read: a shot whose outcome is "Goal" and an
 *     "Own Goal For" event (which belongs to the benefitting team; its
 *     counterpart "Own Goal Against" belongs to the conceding team and scores
 *     nothing) have goal = 1. Goals in period 5 (a penalty shoot-out) keep
 *     goal = 1 on the event but do not count towards the match score.
 *
 *   - Players and minutes. With a lineups file the squad comes from it (name =
 *     player_name, shirt = jersey_number) and every player an event names must
 *     be in it, in the event's team; without one, players are collected from
 *     the events. Minutes come from the events: starters come on at 0:00 of
 *     period 1, a Substitution takes its player off and puts the replacement on,
 *     a red card ("Red Card" or "Second Yellow", on Bad Behaviour or Foul
 *     Committed) takes its player off, and players still on play to the end.
 *     Time runs over periods 1-4 only; a period's length is its Half End time
 *     (stoppage time included), or its last event's time when it has none. A
 *     player's position is the Starting XI one; a substitute first gets the
 *     position of the player replaced and keeps the first position a later
 *     event or Tactical Shift gives. Minutes are only known at the end, so the
 *     players are emitted after the events (the sink contract allows it).
 *
 *   - Strictness. The parser reads only what it maps, and checks all of it:
 *     required fields (id, period, timestamp, type, team) must be present with
 *     the right JSON type, nothing is coerced, periods are 1..5, timestamps are
 *     "HH:MM:SS.fff", locations are arrays of 2 (a shot's end 2 or 3) numbers
 *     within -10..130 x -10..90 yards. Every error is FA_EINVAL (FA_ELIMIT for
 *     too many players) with "file:line:col: what" in one line.
 *
 * Details: success is 1/0 where the outcome says so (a pass without outcome is
 * complete; a shot succeeds when it scores; a duel "Aerial Lost" fails; a ball
 * recovery with recovery_failure fails), else -1. A card is reported in
 * "outcome" when the event has no outcome of its own. "related" lists whole
 * related event ids only, as many as fit.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ingest/ingest.h"

#define SB_MAX_PLAYERS 256
#define SB_ARENA_BLOCK (64 * 1024)
#define SB_PROVIDER_LENGTH 120.0
#define SB_PROVIDER_WIDTH 80.0
#define SB_YARD_M 0.9144
#define SB_X_MIN (-10.0)
#define SB_X_MAX 130.0
#define SB_Y_MIN (-10.0)
#define SB_Y_MAX 90.0
#define SB_Z_MIN (-10.0)
#define SB_Z_MAX 90.0
#define SB_ID_MAX_VALUE (INT64_C(1) << 53) /* ids are JSON numbers: keep them exact */
#define SB_LAST_TIMED_PERIOD 4             /* period 5, a shoot-out, has no minutes */

/* One player and what the events said about their time on the pitch. */
typedef struct sb_player {
    fa_player info;     /* what the sink receives; side is set when emitted */
    int64_t team_id;    /* provider's team id */
    int position_final; /* 0 while the position is empty or only the replaced player's */
    int on_period;      /* 0 when never on the pitch */
    double on_t;
    int off_period;     /* 0 when on until the end */
    double off_t;
} sb_player;

typedef struct sb_state {
    const fa_sink *sink;
    fa_json_reader *r;          /* the file being read */
    const char *name;           /* its base name, for messages */
    const char *lineups_name;   /* NULL without a lineups file */
    fa_match match;
    int64_t team_id[2];         /* [FA_SIDE_HOME], [FA_SIDE_AWAY] from the Starting XI events */
    int nteams;
    int64_t lineup_team_id[2];  /* in the lineups file's order */
    int nlineup_teams;          /* 0 without a lineups file */
    sb_player *players;         /* SB_MAX_PLAYERS slots */
    size_t nplayers;
    double period_end[SB_LAST_TIMED_PERIOD + 1];   /* Half End time, -1 when none */
    double period_max_t[SB_LAST_TIMED_PERIOD + 1]; /* latest event time */
    int goals[2];               /* [side]: goals in periods 1-4 */
    int64_t seq;
    fa_event pending;           /* the home Starting XI, held until begin() */
    int has_pending;
} sb_state;

/* ------------------------------------------------------------------ errors */

static int sb_fail_at(const sb_state *st, int code, uint32_t line, uint32_t col, const char *fmt, ...)
    FA_PRINTF(5, 6);

/* Sets "file:line:col: message" and returns code. */
static int sb_fail_at(const sb_state *st, int code, uint32_t line, uint32_t col, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fa_err_set(code, "%s:%lu:%lu: %s", st->name, (unsigned long)line, (unsigned long)col, msg);
}

#define SB_FAIL(st, v, ...) sb_fail_at((st), FA_EINVAL, (v)->line, (v)->col, __VA_ARGS__)

/* The code a failed open left, never 0. */
static int sb_open_error(void) { return fa_err_code() ? fa_err_code() : FA_EIO; }

/* ------------------------------------------------------------------ small readers */

/* Copies obj[key].name into dst when obj[key] is an object; "" when absent or null. */
static int sb_name_of(const sb_state *st, const fa_json_value *obj, const char *key, char *dst, size_t size) {
    const fa_json_value *sub;
    const char *name;
    dst[0] = '\0';
    int rc = fa_json_opt_obj(st->r, obj, key, &sub);
    if (rc <= 0) return rc;
    rc = fa_json_req_str(st->r, sub, "name", &name);
    if (rc < 0) return rc;
    fa_strlcpy_utf8(dst, name, size);
    return 1;
}

/* Reads obj[key] = {"id": integer, "name": string}. */
static int sb_id_name(const sb_state *st, const fa_json_value *obj, const char *key, int required,
                      int64_t *id, const char **name) {
    const fa_json_value *sub;
    int rc = required ? fa_json_req_obj(st->r, obj, key, &sub) : fa_json_opt_obj(st->r, obj, key, &sub);
    if (rc < 0 || (!required && rc == 0)) return rc;
    rc = fa_json_req_int(st->r, sub, "id", 0, SB_ID_MAX_VALUE, id);
    if (rc == 0) rc = fa_json_req_str(st->r, sub, "name", name);
    return rc < 0 ? rc : 1;
}

/* Parses "HH:MM:SS" with an optional ".fraction" (1 to 9 digits) into seconds. */
static int sb_parse_timestamp(const char *s, double *out) {
    static const char shape[] = "dd:dd:dd";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        int want_digit = shape[i] == 'd';
        if (want_digit ? (s[i] < '0' || s[i] > '9') : s[i] != ':') return -1;
    }
    int hh = (s[0] - '0') * 10 + (s[1] - '0');
    int mm = (s[3] - '0') * 10 + (s[4] - '0');
    int ss = (s[6] - '0') * 10 + (s[7] - '0');
    if (mm > 59 || ss > 59) return -1;
    double frac = 0, scale = 0.1;
    const char *p = s + 8;
    if (*p == '.') {
        size_t ndigits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, ndigits++, scale /= 10) frac += (*p - '0') * scale;
        if (ndigits == 0 || ndigits > 9) return -1;
    }
    if (*p != '\0') return -1;
    *out = hh * 3600.0 + mm * 60.0 + ss + frac;
    return 0;
}

/* Checks one coordinate against its range. */
static int sb_check_coord(const sb_state *st, const fa_json_value *item, const char *key, const char *axis,
                          double lo, double hi) {
    if (item->type != FA_JSON_NUMBER)
        return SB_FAIL(st, item, "field '%s': %s: expected number, got %s", key, axis,
                       fa_json_type_name(item->type));
    if (item->u.num < lo || item->u.num > hi)
        return SB_FAIL(st, item, "field '%s': %s = %g outside %g..%g", key, axis, item->u.num, lo, hi);
    return 0;
}

/* Reads obj[key] as [x, y] (or [x, y, z] when allow_z) in provider yards.
 * Returns 1 with out filled, 0 when absent or null (out untouched), < 0 on error. */
static int sb_point(const sb_state *st, const fa_json_value *obj, const char *key, int allow_z,
                    double out[3]) {
    static const char *const axes[3] = {"x", "y", "z"};
    static const double lo[3] = {SB_X_MIN, SB_Y_MIN, SB_Z_MIN}, hi[3] = {SB_X_MAX, SB_Y_MAX, SB_Z_MAX};
    const fa_json_value *arr;
    int rc = fa_json_opt_arr(st->r, obj, key, &arr);
    if (rc <= 0) return rc;
    size_t n = arr->u.arr.n;
    if (n != 2 && !(allow_z && n == 3))
        return SB_FAIL(st, arr, "field '%s': expected [x, y]%s, got an array of %zu", key,
                       allow_z ? " or [x, y, z]" : "", n);
    for (size_t i = 0; i < n; i++) {
        rc = sb_check_coord(st, arr->u.arr.items[i], key, axes[i], lo[i], hi[i]);
        if (rc < 0) return rc;
        out[i] = arr->u.arr.items[i]->u.num;
    }
    return 1;
}

/* ------------------------------------------------------------------ players */

static void sb_id_str(int64_t id, char *dst, size_t size) { snprintf(dst, size, "%lld", (long long)id); }

static sb_player *sb_player_find(sb_state *st, const char *id) {
    for (size_t i = 0; i < st->nplayers; i++)
        if (strcmp(st->players[i].info.id, id) == 0) return &st->players[i];
    return NULL;
}

/* Appends a fresh player; FA_ELIMIT past SB_MAX_PLAYERS. */
static int sb_player_add(sb_state *st, const fa_json_value *at, const char *id, int64_t team_id,
                         sb_player **out) {
    if (st->nplayers >= SB_MAX_PLAYERS)
        return sb_fail_at(st, FA_ELIMIT, at->line, at->col, "more than %d players in one match",
                          SB_MAX_PLAYERS);
    sb_player *pl = &st->players[st->nplayers++];
    memset(pl, 0, sizeof *pl);
    fa_player_init(&pl->info);
    fa_strlcpy_utf8(pl->info.id, id, sizeof pl->info.id);
    pl->info.starter = 0;
    pl->team_id = team_id;
    *out = pl;
    return 0;
}

/* The player an event names: found (and checked against the team), or added
 * when there is no lineups file. */
static int sb_player_get(sb_state *st, const fa_json_value *at, int64_t id, const char *name, int64_t team_id,
                         sb_player **out) {
    char key[FA_ID_MAX];
    sb_id_str(id, key, sizeof key);
    sb_player *pl = sb_player_find(st, key);
    if (pl && pl->team_id != team_id)
        return SB_FAIL(st, at, "player %s (%s) plays for team %lld, not team %lld", key, name,
                       (long long)pl->team_id, (long long)team_id);
    if (!pl && st->lineups_name)
        return SB_FAIL(st, at, "player %s (%s) is not in the lineups file %s", key, name, st->lineups_name);
    if (!pl) {
        int rc = sb_player_add(st, at, key, team_id, &pl);
        if (rc < 0) return rc;
        fa_strlcpy_utf8(pl->info.name, name, sizeof pl->info.name);
    }
    *out = pl;
    return 0;
}

static void sb_player_position(sb_player *pl, const char *position, int final) {
    if (!position[0] || pl->position_final) return;
    fa_strlcpy_utf8(pl->info.position, position, sizeof pl->info.position);
    pl->position_final = final;
}

/* ------------------------------------------------------------------ lineups file */

/* One entry of a team's "lineup" in the lineups file. */
static int sb_lineup_player(sb_state *st, const fa_json_value *v, int64_t team_id) {
    int64_t id = 0, shirt = 0;
    const char *name, *nickname;
    const fa_json_value *sub;
    if (v->type != FA_JSON_OBJECT)
        return SB_FAIL(st, v, "lineup entry: expected object, got %s", fa_json_type_name(v->type));
    int rc = fa_json_req_int(st->r, v, "player_id", 0, SB_ID_MAX_VALUE, &id);
    if (rc == 0) rc = fa_json_req_str(st->r, v, "player_name", &name);
    if (rc == 0) rc = fa_json_req_int(st->r, v, "jersey_number", 0, 999, &shirt);
    if (rc >= 0) rc = fa_json_opt_str(st->r, v, "player_nickname", &nickname);
    if (rc >= 0) rc = fa_json_opt_obj(st->r, v, "country", &sub);
    if (rc >= 0) rc = fa_json_opt_arr(st->r, v, "positions", &sub);
    if (rc >= 0) rc = fa_json_opt_arr(st->r, v, "cards", &sub);
    if (rc < 0) return rc;
    char key[FA_ID_MAX];
    sb_id_str(id, key, sizeof key);
    if (sb_player_find(st, key)) return SB_FAIL(st, v, "player_id %s listed twice", key);
    sb_player *pl = NULL;
    rc = sb_player_add(st, v, key, team_id, &pl);
    if (rc < 0) return rc;
    fa_strlcpy_utf8(pl->info.name, name, sizeof pl->info.name);
    pl->info.shirt = (int)shirt;
    return 0;
}

/* One team object of the lineups file. */
static int sb_lineup_team(sb_state *st, const fa_json_value *v) {
    int64_t team_id = 0;
    const char *team_name = "";
    const fa_json_value *lineup;
    if (v->type != FA_JSON_OBJECT)
        return SB_FAIL(st, v, "lineups: expected a team object, got %s", fa_json_type_name(v->type));
    if (st->nlineup_teams >= 2) return SB_FAIL(st, v, "lineups: more than 2 teams");
    int rc = fa_json_req_int(st->r, v, "team_id", 0, SB_ID_MAX_VALUE, &team_id);
    if (rc == 0) rc = fa_json_req_str(st->r, v, "team_name", &team_name);
    if (rc == 0) rc = fa_json_req_arr(st->r, v, "lineup", &lineup);
    if (rc < 0) return rc;
    if (st->nlineup_teams == 1 && st->lineup_team_id[0] == team_id)
        return SB_FAIL(st, v, "lineups: team_id %lld listed twice", (long long)team_id);
    st->lineup_team_id[st->nlineup_teams] = team_id;
    st->nlineup_teams++;
    for (size_t i = 0; i < lineup->u.arr.n; i++) {
        rc = sb_lineup_player(st, lineup->u.arr.items[i], team_id);
        if (rc < 0) return rc;
    }
    return 0;
}

/* After the top-level array: nothing but the end of the input. */
static int sb_expect_eof(sb_state *st) {
    fa_json_token tok;
    int rc = fa_json_next(st->r, &tok);
    if (rc < 0) return rc;
    if (tok.type != FA_JSON_TOK_EOF)
        return sb_fail_at(st, FA_EINVAL, tok.line, tok.col, "unexpected data after the top-level array");
    return 0;
}

static int sb_read_lineups_stream(sb_state *st, fa_arena *a) {
    fa_json_token start;
    fa_json_value *v;
    int rc = fa_json_expect(st->r, FA_JSON_TOK_BEGIN_ARRAY, &start);
    while (rc == 0 && (rc = fa_json_array_next(st->r, a, &v)) == 1) {
        rc = sb_lineup_team(st, v);
        fa_arena_reset(a);
    }
    if (rc < 0) return rc;
    if (st->nlineup_teams != 2)
        return sb_fail_at(st, FA_EINVAL, start.line, start.col, "lineups: expected 2 teams, got %d",
                          st->nlineup_teams);
    return sb_expect_eof(st);
}

static int sb_read_lineups(sb_state *st, const char *path, fa_arena *a) {
    st->r = fa_json_open_file(path, 0);
    if (!st->r) return sb_open_error();
    st->name = fa_path_base(path);
    int rc = sb_read_lineups_stream(st, a);
    fa_json_close(st->r);
    st->r = NULL;
    fa_arena_reset(a);
    return rc;
}

/* ------------------------------------------------------------------ event kinds */

/* StatsBomb's event types: the normalised kind and the key of the
 * type-specific object ("pass", "ball_receipt", ...), NULL when it has none
 * we read. Unknown types are FA_EV_OTHER without a type-specific object. */
typedef struct sb_kind_map {
    const char *type;
    fa_event_kind kind;
    const char *detail;
} sb_kind_map;

static const sb_kind_map sb_kinds[] = {
    {"Pass", FA_EV_PASS, "pass"},
    {"Shot", FA_EV_SHOT, "shot"},
    {"Carry", FA_EV_CARRY, "carry"},
    {"Ball Receipt*", FA_EV_RECEIPT, "ball_receipt"},
    {"Dribble", FA_EV_DRIBBLE, "dribble"},
    {"Duel", FA_EV_DUEL, "duel"},
    {"Pressure", FA_EV_PRESSURE, NULL},
    {"Ball Recovery", FA_EV_RECOVERY, "ball_recovery"},
    {"Interception", FA_EV_INTERCEPTION, "interception"},
    {"Clearance", FA_EV_CLEARANCE, "clearance"},
    {"Block", FA_EV_BLOCK, "block"},
    {"Foul Committed", FA_EV_FOUL, "foul_committed"},
    {"Foul Won", FA_EV_FOUL, "foul_won"},
    {"Goal Keeper", FA_EV_GOALKEEPER, "goalkeeper"},
    {"Substitution", FA_EV_SUBSTITUTION, "substitution"},
    {"Half Start", FA_EV_PERIOD_START, NULL},
    {"Half End", FA_EV_PERIOD_END, NULL},
    {"Bad Behaviour", FA_EV_CARD, "bad_behaviour"},
    {"Own Goal For", FA_EV_OWN_GOAL, NULL},
    {"Own Goal Against", FA_EV_OWN_GOAL, NULL},
    {"50/50", FA_EV_OTHER, "50_50"},
    {"Miscontrol", FA_EV_OTHER, NULL},
};

static const sb_kind_map *sb_kind_of(const char *type) {
    static const sb_kind_map other = {"", FA_EV_OTHER, NULL};
    for (size_t i = 0; i < sizeof sb_kinds / sizeof sb_kinds[0]; i++)
        if (strcmp(sb_kinds[i].type, type) == 0) return &sb_kinds[i];
    return &other;
}

/* 1 / 0 / -1 from a generic outcome name (dribbles, duels, interceptions,
 * goalkeeper actions, 50/50s). */
static int sb_success_of(const char *outcome) {
    static const char *const good[] = {"Won", "Complete", "Success", "Success In Play", "Success Out",
                                       "Success To Team", "In Play Safe", "Saved Twice", "Touched Out",
                                       "Punched out", "Claim", "Clear", "Collected Twice"};
    static const char *const bad[] = {"Lost", "Lost In Play", "Lost Out", "Incomplete", "Fail",
                                      "Success To Opposition", "In Play Danger", "No Touch", "Touched In"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (strcmp(outcome, good[i]) == 0) return 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (strcmp(outcome, bad[i]) == 0) return 0;
    return -1;
}

static int sb_is_red_card(const char *card) {
    return strcmp(card, "Red Card") == 0 || strcmp(card, "Second Yellow") == 0;
}

/* ------------------------------------------------------------------ event fields */

/* The event's common header: id, period, timestamp, type, duration,
 * under_pressure, related_events. */
static int sb_event_header(sb_state *st, const fa_json_value *v, fa_event *ev) {
    const char *id, *ts, *type;
    int64_t period;
    const fa_json_value *type_obj, *ts_v;
    int rc = fa_json_req_str(st->r, v, "id", &id);
    if (rc == 0) rc = fa_json_req_int(st->r, v, "period", 1, 5, &period);
    if (rc == 0) rc = fa_json_req_str(st->r, v, "timestamp", &ts);
    if (rc == 0) rc = fa_json_req_obj(st->r, v, "type", &type_obj);
    if (rc == 0) rc = fa_json_req_str(st->r, type_obj, "name", &type);
    if (rc < 0) return rc;
    ts_v = fa_json_get(v, "timestamp");
    if (sb_parse_timestamp(ts, &ev->t) < 0)
        return SB_FAIL(st, ts_v, "field 'timestamp': expected \"HH:MM:SS.fff\", got \"%.40s\"", ts);
    fa_strlcpy_utf8(ev->provider_id, id, sizeof ev->provider_id);
    ev->period = (int)period;
    fa_strlcpy_utf8(ev->type, type, sizeof ev->type);
    ev->kind = sb_kind_of(type)->kind;
    rc = fa_json_opt_num(st->r, v, "duration", &ev->duration);
    if (rc < 0) return rc;
    if (rc == 1 && ev->duration < 0)
        return SB_FAIL(st, fa_json_get(v, "duration"), "field 'duration': %g is negative", ev->duration);
    rc = fa_json_opt_bool(st->r, v, "under_pressure", &ev->under_pressure);
    return rc < 0 ? rc : 0;
}

/* related_events: an array of ids, joined with commas as far as whole ids fit. */
static int sb_event_related(sb_state *st, const fa_json_value *v, fa_event *ev) {
    const fa_json_value *arr;
    int rc = fa_json_opt_arr(st->r, v, "related_events", &arr);
    if (rc <= 0) return rc;
    size_t len = 0;
    int full = 0;
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        const fa_json_value *item = arr->u.arr.items[i];
        if (item->type != FA_JSON_STRING)
            return SB_FAIL(st, item, "field 'related_events': expected string, got %s",
                           fa_json_type_name(item->type));
        size_t need = item->u.str.len + (len ? 1 : 0);
        if (full || len + need >= sizeof ev->related) {
            full = 1;
            continue;
        }
        if (len) ev->related[len++] = ',';
        memcpy(ev->related + len, item->u.str.ptr, item->u.str.len);
        len += item->u.str.len;
        ev->related[len] = '\0';
    }
    return 0;
}

/* Provider yards in the event team's frame -> model metres. */
static void sb_to_model(const sb_state *st, const fa_event *ev, const double pt[2], double *x, double *y) {
    int flip = (ev->side == FA_SIDE_HOME) ^ fa_home_attacks_plus_x(ev->period);
    fa_pitch_from_provider(&st->match.pitch, SB_PROVIDER_LENGTH, SB_PROVIDER_WIDTH, 1, flip, pt[0], pt[1], x,
                           y);
}

/* The team in action: registers home and away from the Starting XI events. */
static int sb_event_side(sb_state *st, const fa_json_value *v, fa_event *ev, int64_t *team_id) {
    const char *team_name = "";
    int rc = sb_id_name(st, v, "team", 1, team_id, &team_name);
    if (rc < 0) return rc;
    const fa_json_value *team = fa_json_get(v, "team");
    for (int s = 0; s < st->nteams; s++)
        if (st->team_id[s] == *team_id) ev->side = (fa_side)s;
    int is_xi = strcmp(ev->type, "Starting XI") == 0;
    if (is_xi && ev->side != FA_SIDE_NONE)
        return SB_FAIL(st, team, "a second 'Starting XI' for team %lld", (long long)*team_id);
    if (is_xi && st->nteams < 2) {
        if (st->nlineup_teams && *team_id != st->lineup_team_id[0] && *team_id != st->lineup_team_id[1])
            return SB_FAIL(st, team, "team %lld (%s) is not in the lineups file %s", (long long)*team_id,
                           team_name, st->lineups_name);
        ev->side = (fa_side)st->nteams;
        st->team_id[st->nteams++] = *team_id;
        fa_team *t = &st->match.teams[ev->side];
        sb_id_str(*team_id, t->id, sizeof t->id);
        fa_strlcpy_utf8(t->name, team_name, sizeof t->name);
        return 0;
    }
    if (st->nteams < 2)
        return SB_FAIL(st, v, "event '%s' before the 'Starting XI' events of both teams", ev->type);
    if (ev->side == FA_SIDE_NONE)
        return SB_FAIL(st, team, "team %lld (%s) is neither home (%s) nor away (%s)", (long long)*team_id,
                       team_name, st->match.teams[0].id, st->match.teams[1].id);
    return 0;
}

/* The event's player, and the position it names. */
static int sb_event_player(sb_state *st, const fa_json_value *v, fa_event *ev, int64_t team_id,
                           sb_player **out) {
    int64_t id = 0;
    const char *name = "";
    char position[48];
    *out = NULL;
    int rc = sb_id_name(st, v, "player", 0, &id, &name);
    if (rc <= 0) return rc;
    rc = sb_player_get(st, fa_json_get(v, "player"), id, name, team_id, out);
    if (rc == 0) rc = sb_name_of(st, v, "position", position, sizeof position);
    if (rc < 0) return rc;
    fa_strlcpy_utf8(ev->player_id, (*out)->info.id, sizeof ev->player_id);
    sb_player_position(*out, position, 1);
    return 0;
}

/* The generic parts of the type-specific object: type, outcome, body part,
 * card, end location. */
static int sb_event_detail(sb_state *st, const fa_json_value *d, fa_event *ev, char *card, size_t card_size) {
    double end[3] = {NAN, NAN, NAN};
    int rc = sb_name_of(st, d, "type", ev->subtype, sizeof ev->subtype);
    if (rc >= 0) rc = sb_name_of(st, d, "outcome", ev->outcome, sizeof ev->outcome);
    if (rc >= 0) rc = sb_name_of(st, d, "body_part", ev->body_part, sizeof ev->body_part);
    if (rc >= 0) rc = sb_name_of(st, d, "card", card, card_size);
    if (rc >= 0) rc = sb_point(st, d, "end_location", ev->kind == FA_EV_SHOT, end);
    if (rc < 0) return rc;
    if (rc == 1) {
        sb_to_model(st, ev, end, &ev->end_x, &ev->end_y);
        if (!isnan(end[2])) ev->end_z = end[2] * SB_YARD_M;
    }
    if (!ev->outcome[0] && card[0]) fa_strlcpy_utf8(ev->outcome, card, sizeof ev->outcome);
    return 0;
}

/* Pass: recipient, pass type, complete when it has no outcome. */
static int sb_event_pass(sb_state *st, const fa_json_value *d, fa_event *ev) {
    int64_t id = 0;
    const char *name = "";
    int rc = sb_id_name(st, d, "recipient", 0, &id, &name);
    if (rc < 0) return rc;
    if (rc == 1) sb_id_str(id, ev->recipient_id, sizeof ev->recipient_id);
    fa_strlcpy_utf8(ev->pass_type, ev->subtype, sizeof ev->pass_type);
    ev->success = ev->outcome[0] ? 0 : 1;
    return 0;
}

/* Shot: xG, and a goal when the outcome says so. */
static int sb_event_shot(sb_state *st, const fa_json_value *d, fa_event *ev) {
    int rc = fa_json_opt_num(st->r, d, "statsbomb_xg", &ev->xg);
    if (rc < 0) return rc;
    if (rc == 1 && (ev->xg < 0 || ev->xg > 1))
        return SB_FAIL(st, fa_json_get(d, "statsbomb_xg"), "field 'statsbomb_xg': %g outside 0..1", ev->xg);
    ev->goal = strcmp(ev->outcome, "Goal") == 0;
    ev->success = ev->goal;
    return 0;
}

/* success for the kinds that have no reader of their own. */
static int sb_event_success(sb_state *st, const fa_json_value *d, fa_event *ev) {
    int failed = 0;
    if (ev->kind == FA_EV_RECEIPT) {
        ev->success = ev->outcome[0] ? 0 : 1;
    } else if (ev->kind == FA_EV_RECOVERY) {
        int rc = d ? fa_json_opt_bool(st->r, d, "recovery_failure", &failed) : 0;
        if (rc < 0) return rc;
        ev->success = !failed;
    } else if (ev->kind == FA_EV_DUEL && strcmp(ev->subtype, "Aerial Lost") == 0) {
        ev->success = 0;
    } else if (ev->outcome[0]) {
        ev->success = sb_success_of(ev->outcome);
    }
    return 0;
}

/* ------------------------------------------------------------------ minutes */

/* A player comes on at (period, t) unless already on or gone. */
static void sb_come_on(sb_player *pl, int period, double t) {
    if (pl->on_period || period > SB_LAST_TIMED_PERIOD) return;
    pl->on_period = period;
    pl->on_t = t;
}

/* A player on the pitch goes off at (period, t). */
static void sb_go_off(sb_player *pl, int period, double t) {
    if (!pl->on_period || pl->off_period || period > SB_LAST_TIMED_PERIOD) return;
    pl->off_period = period;
    pl->off_t = t;
}

/* Starting XI and Tactical Shift: tactics.lineup = [{player, position, jersey_number}]. */
static int sb_event_tactics(sb_state *st, const fa_json_value *v, const fa_event *ev, int64_t team_id,
                            int starting) {
    const fa_json_value *tactics, *lineup;
    int rc = starting ? fa_json_req_obj(st->r, v, "tactics", &tactics)
                      : fa_json_opt_obj(st->r, v, "tactics", &tactics);
    if (rc < 0 || (!starting && rc == 0)) return rc;
    rc = fa_json_req_arr(st->r, tactics, "lineup", &lineup);
    for (size_t i = 0; rc >= 0 && i < lineup->u.arr.n; i++) {
        const fa_json_value *entry = lineup->u.arr.items[i];
        int64_t id = 0, shirt = -1;
        const char *name = "";
        char position[48];
        sb_player *pl = NULL;
        if (entry->type != FA_JSON_OBJECT)
            return SB_FAIL(st, entry, "field 'lineup': expected object, got %s",
                           fa_json_type_name(entry->type));
        rc = sb_id_name(st, entry, "player", 1, &id, &name);
        if (rc >= 0) rc = sb_name_of(st, entry, "position", position, sizeof position);
        if (rc >= 0) rc = fa_json_opt_int(st->r, entry, "jersey_number", 0, 999, &shirt);
        if (rc >= 0) rc = sb_player_get(st, fa_json_get(entry, "player"), id, name, team_id, &pl);
        if (rc < 0) return rc;
        if (pl->info.shirt < 0) pl->info.shirt = (int)shirt;
        sb_player_position(pl, position, 1);
        if (starting) {
            pl->info.starter = 1;
            sb_come_on(pl, ev->period, ev->t);
        }
    }
    return rc < 0 ? rc : 0;
}

/* Substitution: the event's player goes off, substitution.replacement comes on. */
static int sb_event_substitution(sb_state *st, const fa_json_value *d, const fa_event *ev, int64_t team_id,
                                 sb_player *off) {
    int64_t id = 0;
    const char *name = "";
    sb_player *on = NULL;
    int rc = sb_id_name(st, d, "replacement", 1, &id, &name);
    if (rc >= 0) rc = sb_player_get(st, fa_json_get(d, "replacement"), id, name, team_id, &on);
    if (rc < 0) return rc;
    if (off) {
        sb_go_off(off, ev->period, ev->t);
        sb_player_position(on, off->info.position, 0);
    }
    sb_come_on(on, ev->period, ev->t);
    return 0;
}

/* Period lengths: Half End time, else the latest event time seen. */
static void sb_note_time(sb_state *st, const fa_event *ev) {
    if (ev->period > SB_LAST_TIMED_PERIOD) return;
    if (ev->t > st->period_max_t[ev->period]) st->period_max_t[ev->period] = ev->t;
    if (ev->kind == FA_EV_PERIOD_END && ev->t > st->period_end[ev->period])
        st->period_end[ev->period] = ev->t;
}

static double sb_period_length(const sb_state *st, int period) {
    return st->period_end[period] >= 0 ? st->period_end[period] : st->period_max_t[period];
}

/* Seconds from kick-off to (period, t) over the timed periods; period 0 means the end. */
static double sb_elapsed(const sb_state *st, int period, double t) {
    double total = 0;
    for (int q = 1; q <= SB_LAST_TIMED_PERIOD; q++) {
        double len = sb_period_length(st, q);
        if (q == period) return total + (t < len ? t : len);
        total += len;
    }
    return total;
}

static double sb_minutes(const sb_state *st, const sb_player *pl) {
    if (!pl->on_period) return 0;
    double on = sb_elapsed(st, pl->on_period, pl->on_t);
    double off = sb_elapsed(st, pl->off_period, pl->off_t);
    return off > on ? (off - on) / 60.0 : 0;
}

/* ------------------------------------------------------------------ one event */

/* Everything type-specific: detail object, players coming and going, goals. */
static int sb_event_specific(sb_state *st, const fa_json_value *v, fa_event *ev, int64_t team_id,
                             sb_player *pl) {
    char card[48] = "";
    const fa_json_value *d = NULL;
    const char *key = sb_kind_of(ev->type)->detail;
    int rc = key ? fa_json_opt_obj(st->r, v, key, &d) : 0;
    if (rc > 0) rc = sb_event_detail(st, d, ev, card, sizeof card);
    if (rc >= 0 && ev->kind == FA_EV_PASS && d) rc = sb_event_pass(st, d, ev);
    if (rc >= 0 && ev->kind == FA_EV_PASS && !d) ev->success = 1;
    if (rc >= 0 && ev->kind == FA_EV_SHOT && d) rc = sb_event_shot(st, d, ev);
    if (rc >= 0 && ev->kind != FA_EV_PASS && ev->kind != FA_EV_SHOT) rc = sb_event_success(st, d, ev);
    if (rc >= 0 && strcmp(ev->type, "Starting XI") == 0) rc = sb_event_tactics(st, v, ev, team_id, 1);
    if (rc >= 0 && strcmp(ev->type, "Tactical Shift") == 0) rc = sb_event_tactics(st, v, ev, team_id, 0);
    if (rc < 0) return rc;
    if (ev->kind == FA_EV_SUBSTITUTION) {
        if (!d) return SB_FAIL(st, v, "missing field 'substitution'");
        rc = sb_event_substitution(st, d, ev, team_id, pl);
        if (rc < 0) return rc;
    }
    if (pl && card[0] && sb_is_red_card(card)) sb_go_off(pl, ev->period, ev->t);
    if (strcmp(ev->type, "Own Goal For") == 0) ev->goal = 1;
    if (ev->goal && ev->period <= SB_LAST_TIMED_PERIOD) st->goals[ev->side]++;
    return 0;
}

static int sb_emit_event(sb_state *st, fa_event *ev) {
    ev->seq = st->seq++;
    return st->sink->event ? st->sink->event(st->sink->ud, ev) : 0;
}

/* Both teams known: begin, and flush the held event. */
static int sb_begin(sb_state *st) {
    int rc = st->sink->begin ? st->sink->begin(st->sink->ud, &st->match) : 0;
    if (rc == 0 && st->has_pending) rc = sb_emit_event(st, &st->pending);
    st->has_pending = 0;
    return rc;
}

/* One element of the events array: validate, convert, account, emit. */
static int sb_event(sb_state *st, const fa_json_value *v) {
    fa_event ev;
    int64_t team_id = 0;
    double loc[3];
    sb_player *pl = NULL;
    fa_event_init(&ev);
    if (v->type != FA_JSON_OBJECT)
        return SB_FAIL(st, v, "event: expected object, got %s", fa_json_type_name(v->type));
    int had_teams = st->nteams == 2;
    int rc = sb_event_header(st, v, &ev);
    if (rc >= 0) rc = sb_event_side(st, v, &ev, &team_id);
    if (rc >= 0) rc = sb_event_related(st, v, &ev);
    if (rc >= 0) rc = sb_event_player(st, v, &ev, team_id, &pl);
    if (rc >= 0) rc = sb_point(st, v, "location", 0, loc);
    if (rc == 1) sb_to_model(st, &ev, loc, &ev.x, &ev.y);
    if (rc >= 0) rc = sb_event_specific(st, v, &ev, team_id, pl);
    if (rc < 0) return rc;
    sb_note_time(st, &ev);
    if (!had_teams && st->nteams == 2) rc = sb_begin(st);
    if (rc != 0) return rc;
    if (st->nteams < 2) {
        st->pending = ev;
        st->has_pending = 1;
        return 0;
    }
    return sb_emit_event(st, &ev);
}

static int sb_read_events_stream(sb_state *st, fa_arena *a) {
    fa_json_token start;
    fa_json_value *v;
    int rc = fa_json_expect(st->r, FA_JSON_TOK_BEGIN_ARRAY, &start);
    while (rc == 0 && (rc = fa_json_array_next(st->r, a, &v)) == 1) {
        rc = sb_event(st, v);
        fa_arena_reset(a);
    }
    if (rc != 0) return rc;
    if (st->nteams < 2)
        return sb_fail_at(st, FA_EINVAL, start.line, start.col,
                          "events: found %d of the 2 'Starting XI' events", st->nteams);
    return sb_expect_eof(st);
}

static int sb_read_events(sb_state *st, const char *path, fa_arena *a) {
    st->r = fa_json_open_file(path, 0);
    if (!st->r) return sb_open_error();
    st->name = fa_path_base(path);
    int rc = sb_read_events_stream(st, a);
    fa_json_close(st->r);
    st->r = NULL;
    return rc;
}

/* ------------------------------------------------------------------ the end */

static fa_side sb_side_of_team(const sb_state *st, int64_t team_id) {
    return team_id == st->team_id[FA_SIDE_HOME] ? FA_SIDE_HOME : FA_SIDE_AWAY;
}

/* Players, home first, each team in lineups (or first-seen) order. */
static int sb_emit_players(sb_state *st) {
    for (int side = FA_SIDE_HOME; side <= FA_SIDE_AWAY; side++) {
        for (size_t i = 0; i < st->nplayers; i++) {
            sb_player *pl = &st->players[i];
            if (sb_side_of_team(st, pl->team_id) != (fa_side)side) continue;
            pl->info.side = (fa_side)side;
            pl->info.minutes = sb_minutes(st, pl);
            int rc = st->sink->player ? st->sink->player(st->sink->ud, &pl->info) : 0;
            if (rc != 0) return rc;
        }
    }
    return 0;
}

/* Match id from the file name: "15986_event.json" -> "15986". */
static void sb_match_id(const char *path, char *dst, size_t size) {
    const char *base = fa_path_base(path);
    size_t n = strcspn(base, "_");
    if (base[n] == '\0') {
        const char *dot = strrchr(base, '.');
        n = dot ? (size_t)(dot - base) : n;
    }
    if (n == 0) n = strlen(base);
    char tmp[512];
    if (n >= sizeof tmp) n = sizeof tmp - 1;
    memcpy(tmp, base, n);
    tmp[n] = '\0';
    fa_strlcpy_utf8(dst, tmp, size);
}

static void sb_match_init(sb_state *st, const char *events_path, const char *lineups_path) {
    fa_match *m = &st->match;
    fa_match_init(m, FA_PROVIDER_STATSBOMB);
    sb_match_id(events_path, m->id, sizeof m->id);
    m->provider_length = SB_PROVIDER_LENGTH;
    m->provider_width = SB_PROVIDER_WIDTH;
    fa_strlcpy_utf8(m->provider_unit, "yd", sizeof m->provider_unit);
    snprintf(m->source, sizeof m->source, "%s%s%s", fa_path_base(events_path), lineups_path ? "," : "",
             lineups_path ? fa_path_base(lineups_path) : "");
    for (int q = 0; q <= SB_LAST_TIMED_PERIOD; q++) st->period_end[q] = -1;
}

static int sb_import(sb_state *st, const char *events_path, const char *lineups_path, fa_arena *a) {
    int rc = lineups_path ? sb_read_lineups(st, lineups_path, a) : 0;
    if (rc == 0) rc = sb_read_events(st, events_path, a);
    if (rc == 0) rc = sb_emit_players(st);
    st->match.score[FA_SIDE_HOME] = st->goals[FA_SIDE_HOME];
    st->match.score[FA_SIDE_AWAY] = st->goals[FA_SIDE_AWAY];
    if (rc == 0 && st->sink->end) rc = st->sink->end(st->sink->ud, &st->match);
    return rc;
}

/* Reads a StatsBomb events file and, when lineups_path is not NULL, its
 * lineups file, streaming the match, its events (in file order, seq from 0)
 * and then its players into sink. Returns 0, a negative FA_E* code with the
 * message set (FA_EINVAL for bad input, naming file:line:col and the field),
 * or the non-zero value a sink callback returned. */
int fa_statsbomb_import(const char *events_path, const char *lineups_path, const fa_sink *sink) {
    static const fa_sink no_sink = {NULL, NULL, NULL, NULL, NULL, NULL};
    if (!events_path) return fa_err_set(FA_EUSAGE, "statsbomb: no events file given");
    sb_state *st = fa_calloc(1, sizeof *st);
    sb_player *players = fa_calloc(SB_MAX_PLAYERS, sizeof *players);
    fa_arena *a = fa_arena_new(SB_ARENA_BLOCK);
    int rc = FA_ENOMEM;
    if (st && players && a) {
        st->sink = sink ? sink : &no_sink;
        st->players = players;
        st->lineups_name = lineups_path ? fa_path_base(lineups_path) : NULL;
        sb_match_init(st, events_path, lineups_path);
        rc = sb_import(st, events_path, lineups_path, a);
    }
    fa_arena_free(a);
    free(players);
    free(st);
    return rc;
}
