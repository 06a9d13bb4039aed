/*
 * wyscout.c - Wyscout v2 public-dataset events ({"events": [...]} or a bare
 * array of events) into the domain model.
 *
 * An event: {"id", "playerId", "teamId", "matchId", "matchPeriod" ("1H",
 * "2H", "E1", "E2", "P"), "eventSec" (seconds from the period start),
 * "eventName", "subEventName", "positions": [{x, y}, {x, y}], "tags": [{id}]}.
 * eventName / subEventName are either the names ("Pass", "Simple pass") with
 * eventId / subEventId beside them (the public dataset) or the numeric ids
 * themselves (8, 85; the file in shared/data): both are read, and ids are
 * turned into Wyscout's names so that fa_event.type is always a name.
 * Positions (x, y) are numbers, or numeric strings as some exports write
 * them, in 0..100 with y pointing down, in the attacking direction of the
 * team in action (x = 100 is the goal it attacks). Tags give the outcome:
 * 1801/1802 accurate / not accurate (fa_event.success), 101 goal (counted on
 * shots only: a keeper's save attempt carries 101 for the goal conceded), 102
 * own goal (kind own_goal, counted for the other team), 401/402/403 left
 * foot / right foot / head or body.
 *
 * Home and away. The events do not say which team played at home; the
 * Wyscout matches file does, but it is not part of this import. Rule: the
 * HOME team is the team of the first event of the first half (the kick-off
 * team; a file without first-half events: the team of its first event).
 * This is an assumption, logged at each import: it puts the model's
 * "home" in the kick-off team's shoes, so every coordinate is consistent,
 * but the label may be wrong (file 2499773 is Leicester v Liverpool and
 * Liverpool kicks off).
 *
 * Two passes over the file, each streaming the events array one element at a
 * time into an arena reset per event (memory does not grow with the file):
 * the first validates every event and gathers the match facts that the sink
 * needs before any event (match id, the two teams, the kick-off team, the
 * players, the score) and reads the optional "teams" / "players" sections
 * for names; the second converts and emits the events. A file with events of
 * several matches is rejected: one import is one match.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "ingest.h"

#define WY_MAX_PLAYERS 512
#define WY_MAX_SEC 7200.0 /* a period longer than two hours is not football */
#define WY_POS_MIN -10.0
#define WY_POS_MAX 110.0

typedef struct wy_name {
    int id;
    const char *name;
} wy_name;

/* Wyscout v2 event and sub-event ids (eventid2name.csv of the public dataset). */
/* clang-format off */
static const wy_name event_names[] = {
    {1, "Duel"}, {2, "Foul"}, {3, "Free Kick"}, {4, "Goalkeeper leaving line"}, {5, "Interruption"},
    {6, "Offside"}, {7, "Others on the ball"}, {8, "Pass"}, {9, "Save attempt"}, {10, "Shot"}};

static const wy_name sub_names[] = {
    {10, "Air duel"}, {11, "Ground attacking duel"}, {12, "Ground defending duel"},
    {13, "Ground loose ball duel"}, {20, "Foul"}, {21, "Hand foul"}, {22, "Late card foul"},
    {23, "Out of game foul"}, {24, "Protest"}, {25, "Simulation"}, {26, "Time lost foul"},
    {27, "Violent Foul"}, {30, "Corner"}, {31, "Free Kick"}, {32, "Free kick cross"},
    {33, "Free kick shot"}, {34, "Goal kick"}, {35, "Penalty"}, {36, "Throw in"},
    {40, "Goalkeeper leaving line"}, {50, "Ball out of the field"}, {51, "Whistle"},
    {70, "Acceleration"}, {71, "Clearance"}, {72, "Touch"}, {80, "Cross"}, {81, "Hand pass"},
    {82, "Head pass"}, {83, "High pass"}, {84, "Launch"}, {85, "Simple pass"}, {86, "Smart pass"},
    {90, "Reflexes"}, {91, "Save attempt"}, {100, "Shot"}};
/* clang-format on */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* One event as read, before the home/away-dependent conversion. */
typedef struct wy_raw {
    char provider_id[FA_ID_MAX];
    int64_t match, team, player; /* match -1 when absent, player 0 when none */
    int period;
    double sec;
    int event_id, sub_id; /* -1 when unknown */
    char type[48], subtype[48];
    double px, py, ex, ey; /* provider 0..100, NAN when absent */
    int accurate;          /* 1, 0, -1 */
    int goal_tag, own_goal_tag;
    const char *body; /* "" when not tagged */
} wy_raw;

typedef struct wy_player {
    int64_t id;
    int team; /* index into team_ids */
    char name[FA_NAME_MAX];
    char position[48];
} wy_player;

typedef struct wy_import {
    const fa_sink *sink;
    const char *path;
    int pass; /* 1: scan, 2: emit */
    fa_arena *event_arena, *meta_arena;
    const fa_json_value *teams_sec, *players_sec; /* optional name sections (pass 1) */
    int64_t match_id;                             /* -1 until an event names it */
    int64_t nevents, seq;
    int64_t team_ids[2];
    int nteams;
    int kickoff_team; /* index, -1 until a first-half event */
    double kickoff_sec;
    int home; /* index of the home team */
    int goals[2], own_goals[2];
    wy_player players[WY_MAX_PLAYERS];
    size_t nplayers;
    fa_match match;
} wy_import;

/* ---------------------------------------------------------------- names, kinds */

static const char *name_of(const wy_name *t, size_t n, int id) {
    for (size_t i = 0; i < n; i++)
        if (t[i].id == id) return t[i].name;
    return NULL;
}

static int id_of(const wy_name *t, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(t[i].name, name) == 0) return t[i].id;
    return -1;
}

static fa_event_kind kind_of(int ev, int sub) {
    switch (ev) {
    case 1: return FA_EV_DUEL;
    case 2: return FA_EV_FOUL;
    case 3:
        if (sub == 33 || sub == 35) return FA_EV_SHOT;
        return sub == 30 || sub == 31 || sub == 32 || sub == 34 || sub == 36 ? FA_EV_PASS : FA_EV_SET_PIECE;
    case 4:
    case 9: return FA_EV_GOALKEEPER;
    case 5: return sub == 50 ? FA_EV_BALL_OUT : FA_EV_OTHER;
    case 7: return sub == 71 ? FA_EV_CLEARANCE : sub == 70 ? FA_EV_CARRY : FA_EV_OTHER;
    case 8: return FA_EV_PASS;
    case 10: return FA_EV_SHOT;
    default: return FA_EV_OTHER;
    }
}

static int period_of(const char *code) {
    static const char *const codes[] = {"1H", "2H", "E1", "E2", "P"};
    for (int i = 0; i < 5; i++)
        if (strcmp(code, codes[i]) == 0) return i + 1;
    return 0;
}

/* ---------------------------------------------------------------- one event */

/* Reads a name / id pair in either form (see the header comment) into
 * out[48] and *id. required: the pair must be present. */
static int read_named(const fa_json_reader *r, const fa_json_value *ev, const char *name_key,
                      const char *id_key, const wy_name *table, size_t n, int required, char out[48],
                      int *id) {
    const fa_json_value *v = fa_json_get(ev, name_key);
    int64_t given = -1;
    int rc = fa_json_opt_int(r, ev, id_key, 0, 100000, &given);
    if (rc < 0) return rc;
    *id = (int)given;
    out[0] = '\0';
    if (v && v->type == FA_JSON_NUMBER) {
        if (v->u.num != floor(v->u.num) || v->u.num < 0 || v->u.num > 100000)
            return fa_json_error(r, v, "field '%s': expected a name or an id in 0..100000, got %g", name_key,
                                 v->u.num);
        *id = (int)v->u.num;
    } else if (v && v->type == FA_JSON_STRING) {
        fa_strlcpy_utf8(out, v->u.str.ptr, 48);
        if (*id < 0) *id = id_of(table, n, out);
        return 0;
    } else if (v && v->type != FA_JSON_NULL) {
        return fa_json_error(r, v, "field '%s': expected a string or an integer, got %s", name_key,
                             fa_json_type_name(v->type));
    } else if (*id < 0) {
        return required ? fa_json_error(r, ev, "missing required field '%s'", name_key) : 0;
    }
    const char *known = name_of(table, n, *id);
    if (known)
        fa_strlcpy_utf8(out, known, 48);
    else
        snprintf(out, 48, "%d", *id);
    return 0;
}

/* A coordinate: a number or a numeric string, within WY_POS_MIN..WY_POS_MAX. */
static int read_pos(const fa_json_reader *r, const fa_json_value *pt, const char *key, double *out) {
    const fa_json_value *v = fa_json_get(pt, key);
    if (v && v->type == FA_JSON_NUMBER) {
        *out = v->u.num;
    } else if (v && v->type == FA_JSON_STRING) {
        if (fa_parse_double(v->u.str.ptr, out) < 0)
            return fa_json_error(r, v, "field '%s': expected a number, got \"%.40s\"", key, v->u.str.ptr);
    } else {
        return v ? fa_json_error(r, v, "field '%s': expected a number, got %s", key,
                                 fa_json_type_name(v->type))
                 : fa_json_error(r, pt, "missing required field '%s'", key);
    }
    if (*out < WY_POS_MIN || *out > WY_POS_MAX)
        return fa_json_error(r, v, "field '%s': %g is outside %g..%g", key, *out, WY_POS_MIN, WY_POS_MAX);
    return 0;
}

static int read_point(const fa_json_reader *r, const fa_json_value *pt, double *x, double *y) {
    if (pt->type != FA_JSON_OBJECT)
        return fa_json_error(r, pt, "field 'positions': expected {\"x\", \"y\"} objects, got %s",
                             fa_json_type_name(pt->type));
    int rc = read_pos(r, pt, "x", x);
    return rc < 0 ? rc : read_pos(r, pt, "y", y);
}

/* positions[0] is where the event happened, positions[1] where it ended. */
static int read_positions(const fa_json_reader *r, const fa_json_value *ev, wy_raw *w) {
    const fa_json_value *arr;
    int rc = fa_json_opt_arr(r, ev, "positions", &arr);
    w->px = w->py = w->ex = w->ey = NAN;
    if (rc <= 0) return rc;
    if (arr->u.arr.n > 0 && (rc = read_point(r, arr->u.arr.items[0], &w->px, &w->py)) < 0) return rc;
    if (arr->u.arr.n > 1 && (rc = read_point(r, arr->u.arr.items[1], &w->ex, &w->ey)) < 0) return rc;
    return 0;
}

static void apply_tag(wy_raw *w, int64_t tag) {
    switch (tag) {
    case 101: w->goal_tag = 1; break;
    case 102: w->own_goal_tag = 1; break;
    case 401: w->body = "Left Foot"; break;
    case 402: w->body = "Right Foot"; break;
    case 403: w->body = "Head/Body"; break;
    case 1801: w->accurate = 1; break;
    case 1802: w->accurate = 0; break;
    default: break;
    }
}

static int read_tags(const fa_json_reader *r, const fa_json_value *ev, wy_raw *w) {
    const fa_json_value *arr;
    int rc = fa_json_opt_arr(r, ev, "tags", &arr);
    w->accurate = -1;
    w->goal_tag = w->own_goal_tag = 0;
    w->body = "";
    if (rc <= 0) return rc;
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        const fa_json_value *item = arr->u.arr.items[i];
        int64_t tag;
        if (item->type != FA_JSON_OBJECT)
            return fa_json_error(r, item, "field 'tags': expected {\"id\": n} objects, got %s",
                                 fa_json_type_name(item->type));
        if ((rc = fa_json_req_int(r, item, "id", 0, 1000000, &tag)) < 0) return rc;
        apply_tag(w, tag);
    }
    return 0;
}

static int read_when(const fa_json_reader *r, const fa_json_value *ev, wy_raw *w) {
    const char *code;
    int rc = fa_json_req_str(r, ev, "matchPeriod", &code);
    if (rc < 0) return rc;
    w->period = period_of(code);
    if (!w->period)
        return fa_json_error(
            r, fa_json_get(ev, "matchPeriod"),
            "field 'matchPeriod': unknown period code \"%.20s\" (expected 1H, 2H, E1, E2 or P)", code);
    if ((rc = fa_json_req_num(r, ev, "eventSec", &w->sec)) < 0) return rc;
    if (w->sec < 0 || w->sec > WY_MAX_SEC)
        return fa_json_error(r, fa_json_get(ev, "eventSec"), "field 'eventSec': %g s is outside 0..%g",
                             w->sec, WY_MAX_SEC);
    return 0;
}

static int read_ids(const fa_json_reader *r, const fa_json_value *ev, wy_raw *w) {
    int64_t id;
    int rc = fa_json_opt_int(r, ev, "id", 0, INT64_MAX, &id);
    if (rc < 0) return rc;
    w->provider_id[0] = '\0';
    if (rc == 1) snprintf(w->provider_id, sizeof w->provider_id, "%lld", (long long)id);
    w->match = -1;
    w->player = 0;
    if ((rc = fa_json_opt_int(r, ev, "matchId", 0, INT64_MAX, &w->match)) < 0 ||
        (rc = fa_json_req_int(r, ev, "teamId", 1, INT64_MAX, &w->team)) < 0 ||
        (rc = fa_json_opt_int(r, ev, "playerId", 0, INT64_MAX, &w->player)) < 0)
        return rc;
    return 0;
}

static int read_event(const fa_json_reader *r, const fa_json_value *ev, wy_raw *w) {
    int rc;
    if (ev->type != FA_JSON_OBJECT)
        return fa_json_error(r, ev, "expected an event object, got %s", fa_json_type_name(ev->type));
    if ((rc = read_ids(r, ev, w)) < 0 || (rc = read_when(r, ev, w)) < 0 ||
        (rc = read_named(r, ev, "eventName", "eventId", event_names, COUNT(event_names), 1, w->type,
                         &w->event_id)) < 0 ||
        (rc = read_named(r, ev, "subEventName", "subEventId", sub_names, COUNT(sub_names), 0, w->subtype,
                         &w->sub_id)) < 0 ||
        (rc = read_positions(r, ev, w)) < 0)
        return rc;
    return read_tags(r, ev, w);
}

/* ---------------------------------------------------------------- pass 1: scan */

static int team_index(wy_import *im, const fa_json_reader *r, const fa_json_value *ev, int64_t team) {
    for (int i = 0; i < im->nteams; i++)
        if (im->team_ids[i] == team) return i;
    if (im->nteams == 2)
        return fa_json_error(r, fa_json_get(ev, "teamId"),
                             "field 'teamId': a third team %lld (teams %lld and %lld)", (long long)team,
                             (long long)im->team_ids[0], (long long)im->team_ids[1]);
    im->team_ids[im->nteams] = team;
    return im->nteams++;
}

static int note_player(wy_import *im, const fa_json_reader *r, const fa_json_value *ev, int64_t player,
                       int team) {
    if (player == 0) return 0;
    for (size_t i = 0; i < im->nplayers; i++)
        if (im->players[i].id == player) return 0;
    if (im->nplayers == WY_MAX_PLAYERS)
        return fa_json_error(r, fa_json_get(ev, "playerId"),
                             "field 'playerId': more than %d players in one match", WY_MAX_PLAYERS);
    wy_player *p = &im->players[im->nplayers++];
    memset(p, 0, sizeof *p);
    p->id = player;
    p->team = team;
    return 0;
}

static int note_match(wy_import *im, const fa_json_reader *r, const fa_json_value *ev, int64_t match) {
    if (match < 0) return 0;
    if (im->match_id < 0) im->match_id = match;
    if (match != im->match_id)
        return fa_json_error(r, fa_json_get(ev, "matchId"),
                             "field 'matchId': %lld differs from %lld: one import takes one match",
                             (long long)match, (long long)im->match_id);
    return 0;
}

static int scan_event(wy_import *im, const fa_json_reader *r, const fa_json_value *ev) {
    wy_raw w;
    int rc = read_event(r, ev, &w);
    if (rc < 0 || (rc = note_match(im, r, ev, w.match)) < 0) return rc;
    int team = team_index(im, r, ev, w.team);
    if (team < 0) return team;
    if ((rc = note_player(im, r, ev, w.player, team)) < 0) return rc;
    if (w.period == 1 && (im->kickoff_team < 0 || w.sec < im->kickoff_sec)) {
        im->kickoff_team = team;
        im->kickoff_sec = w.sec;
    }
    if (w.own_goal_tag)
        im->own_goals[team]++;
    else if (w.goal_tag && kind_of(w.event_id, w.sub_id) == FA_EV_SHOT)
        im->goals[team]++;
    im->nevents++;
    return 0;
}

/* ---------------------------------------------------------------- names from the sections */

static int team_name(wy_import *im, const fa_json_reader *r, int64_t id, char out[FA_NAME_MAX]) {
    char key[32];
    const fa_json_value *entry, *team;
    const char *name = NULL;
    snprintf(key, sizeof key, "%lld", (long long)id);
    snprintf(out, FA_NAME_MAX, "%s", key);
    if (!im->teams_sec) return 0;
    if (im->teams_sec->type != FA_JSON_OBJECT)
        return fa_json_error(r, im->teams_sec, "field 'teams': expected an object keyed by team id, got %s",
                             fa_json_type_name(im->teams_sec->type));
    int rc = fa_json_opt_obj(r, im->teams_sec, key, &entry);
    if (rc <= 0) return rc;
    if ((rc = fa_json_opt_obj(r, entry, "team", &team)) < 0) return rc;
    if ((rc = fa_json_opt_str(r, team ? team : entry, "name", &name)) < 0) return rc;
    if (name) fa_strlcpy_utf8(out, name, FA_NAME_MAX);
    return 0;
}

/* Fills name and position of p from one players-section entry when it is p. */
static int match_player_entry(const fa_json_reader *r, const fa_json_value *item, wy_player *p) {
    const fa_json_value *pl, *role;
    const char *shortname, *first, *last, *role_name = NULL;
    int64_t wyid = -1;
    int rc = fa_json_opt_obj(r, item, "player", &pl);
    if (rc < 0) return rc;
    if (!pl) pl = item;
    if ((rc = fa_json_opt_int(r, pl, "wyId", 0, INT64_MAX, &wyid)) < 0) return rc;
    if (wyid != p->id) return 0;
    if ((rc = fa_json_opt_str(r, pl, "shortName", &shortname)) < 0 ||
        (rc = fa_json_opt_str(r, pl, "firstName", &first)) < 0 ||
        (rc = fa_json_opt_str(r, pl, "lastName", &last)) < 0 ||
        (rc = fa_json_opt_obj(r, pl, "role", &role)) < 0 ||
        (role && (rc = fa_json_opt_str(r, role, "name", &role_name)) < 0))
        return rc;
    char full[2 * FA_NAME_MAX + 2];
    if (shortname || !first || !last)
        snprintf(full, sizeof full, "%.*s", FA_NAME_MAX,
                 shortname ? shortname
                 : first   ? first
                 : last    ? last
                           : "");
    else
        snprintf(full, sizeof full, "%.*s %.*s", FA_NAME_MAX, first, FA_NAME_MAX, last);
    if (full[0]) fa_strlcpy_utf8(p->name, full, sizeof p->name);
    if (role_name) fa_strlcpy_utf8(p->position, role_name, sizeof p->position);
    return 0;
}

static int scan_player_list(const fa_json_reader *r, const fa_json_value *list, wy_player *p) {
    if (list->type != FA_JSON_ARRAY)
        return fa_json_error(r, list, "field 'players': expected arrays of players, got %s",
                             fa_json_type_name(list->type));
    for (size_t i = 0; i < list->u.arr.n; i++) {
        int rc = match_player_entry(r, list->u.arr.items[i], p);
        if (rc < 0) return rc;
    }
    return 0;
}

/* The players section: {"<team id>": [{"player": {...}}, ...]} or a bare list. */
static int player_info(wy_import *im, const fa_json_reader *r, wy_player *p) {
    const fa_json_value *sec = im->players_sec;
    snprintf(p->name, sizeof p->name, "%lld", (long long)p->id);
    if (!sec) return 0;
    if (sec->type == FA_JSON_ARRAY) return scan_player_list(r, sec, p);
    if (sec->type != FA_JSON_OBJECT)
        return fa_json_error(r, sec, "field 'players': expected an object or an array, got %s",
                             fa_json_type_name(sec->type));
    for (size_t i = 0; i < sec->u.obj.n; i++) {
        int rc = scan_player_list(r, sec->u.obj.vals[i], p);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- match facts */

static void match_stem(const char *path, char out[FA_ID_MAX]) {
    fa_strlcpy_utf8(out, fa_path_base(path), FA_ID_MAX);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

/* After pass 1: decides home and away, fills the match and player names. */
static int finish_scan(wy_import *im, const fa_json_reader *r) {
    fa_match *m = &im->match;
    int rc;
    if (im->nevents == 0) return fa_err_set(FA_EINVAL, "%s: no events", fa_path_base(im->path));
    im->home = im->kickoff_team >= 0 ? im->kickoff_team : 0;
    int away = 1 - im->home;
    if (im->match_id >= 0)
        snprintf(m->id, sizeof m->id, "%lld", (long long)im->match_id);
    else
        match_stem(im->path, m->id);
    for (int s = 0; s < 2; s++) {
        int t = s == FA_SIDE_HOME ? im->home : away;
        if (t >= im->nteams) continue;
        snprintf(m->teams[s].id, sizeof m->teams[s].id, "%lld", (long long)im->team_ids[t]);
        if ((rc = team_name(im, r, im->team_ids[t], m->teams[s].name)) < 0) return rc;
    }
    m->score[FA_SIDE_HOME] = im->goals[im->home] + im->own_goals[away];
    m->score[FA_SIDE_AWAY] = im->goals[away] + im->own_goals[im->home];
    for (size_t i = 0; i < im->nplayers; i++)
        if ((rc = player_info(im, r, &im->players[i])) < 0) return rc;
    fa_log(FA_LOG_INFO, "wyscout: home team assumed to be the kick-off team",
           "file=%s match=%s home=%s away=%s", fa_path_base(im->path), m->id, m->teams[0].id, m->teams[1].id);
    return 0;
}

/* ---------------------------------------------------------------- pass 2: emit */

static void place(const wy_import *im, const wy_raw *w, fa_event *e) {
    int flip = (e->side == FA_SIDE_HOME) != (fa_home_attacks_plus_x(w->period) == 1);
    fa_pitch_from_provider(&im->match.pitch, 100, 100, 1, flip, w->px, w->py, &e->x, &e->y);
    /* Shots and offsides carry a placeholder end ((0,0) or (100,100)). */
    if (e->kind == FA_EV_SHOT || w->event_id == 6) return;
    fa_pitch_from_provider(&im->match.pitch, 100, 100, 1, flip, w->ex, w->ey, &e->end_x, &e->end_y);
}

static void describe_outcome(const wy_raw *w, fa_event *e) {
    e->success = w->accurate;
    if (w->own_goal_tag) {
        e->kind = FA_EV_OWN_GOAL;
        e->goal = 1;
        fa_strlcpy_utf8(e->outcome, "Own goal", sizeof e->outcome);
    } else if (w->goal_tag && e->kind == FA_EV_SHOT) {
        e->goal = 1;
        fa_strlcpy_utf8(e->outcome, "Goal", sizeof e->outcome);
    } else if (w->accurate >= 0) {
        fa_strlcpy_utf8(e->outcome, w->accurate ? "Accurate" : "Not accurate", sizeof e->outcome);
    }
}

static void to_event(const wy_import *im, const wy_raw *w, int team, fa_event *e) {
    fa_event_init(e);
    e->seq = im->seq;
    e->period = w->period;
    e->t = w->sec;
    e->kind = kind_of(w->event_id, w->sub_id);
    fa_strlcpy_utf8(e->type, w->type, sizeof e->type);
    fa_strlcpy_utf8(e->subtype, w->subtype, sizeof e->subtype);
    e->side = team == im->home ? FA_SIDE_HOME : FA_SIDE_AWAY;
    if (w->player) snprintf(e->player_id, sizeof e->player_id, "%lld", (long long)w->player);
    place(im, w, e);
    if (w->event_id == 3 && e->kind == FA_EV_PASS)
        fa_strlcpy_utf8(e->pass_type, w->subtype, sizeof e->pass_type);
    fa_strlcpy_utf8(e->body_part, w->body, sizeof e->body_part);
    fa_strlcpy_utf8(e->provider_id, w->provider_id, sizeof e->provider_id);
    describe_outcome(w, e);
}

static int emit_event(wy_import *im, const fa_json_reader *r, const fa_json_value *ev) {
    wy_raw w;
    fa_event e;
    int rc = read_event(r, ev, &w);
    if (rc < 0) return rc;
    int team = w.team == im->team_ids[0] ? 0 : 1;
    to_event(im, &w, team, &e);
    im->seq++;
    return im->sink->event ? im->sink->event(im->sink->ud, &e) : 0;
}

/* ---------------------------------------------------------------- walking the file */

static int walk_events(wy_import *im, fa_json_reader *r) {
    for (;;) {
        fa_json_value *v;
        fa_arena_reset(im->event_arena);
        int rc = fa_json_array_next(r, im->event_arena, &v);
        if (rc <= 0) return rc;
        rc = im->pass == 1 ? scan_event(im, r, v) : emit_event(im, r, v);
        if (rc) return rc;
    }
}

/* Pass 1 keeps the "teams" and "players" sections for names. */
static int read_section(wy_import *im, fa_json_reader *r, const char *key) {
    fa_json_value *v;
    int is_teams = strcmp(key, "teams") == 0;
    if (im->pass != 1 || (!is_teams && strcmp(key, "players") != 0)) return fa_json_skip_value(r);
    int rc = fa_json_read_value(r, im->meta_arena, &v);
    if (rc < 0) return rc;
    if (is_teams)
        im->teams_sec = v;
    else
        im->players_sec = v;
    return 0;
}

static int walk_object(wy_import *im, fa_json_reader *r) {
    int seen_events = 0;
    for (;;) {
        fa_json_token tok;
        int rc = fa_json_next(r, &tok);
        if (rc) return rc;
        if (tok.type == FA_JSON_TOK_END_OBJECT) break;
        if (strcmp(tok.str, "events") != 0) {
            rc = read_section(im, r, tok.str);
        } else if (seen_events++) {
            rc = fa_err_set(FA_EINVAL, "%s:%lu:%lu: a second \"events\" key", fa_json_name(r),
                            (unsigned long)tok.line, (unsigned long)tok.col);
        } else if ((rc = fa_json_expect(r, FA_JSON_TOK_BEGIN_ARRAY, &tok)) == 0) {
            rc = walk_events(im, r);
        }
        if (rc) return rc;
    }
    if (!seen_events)
        return fa_err_set(FA_EINVAL, "%s: no \"events\" array in the top-level object", fa_json_name(r));
    return 0;
}

static int walk_top(wy_import *im, fa_json_reader *r) {
    fa_json_token tok;
    int rc = fa_json_next(r, &tok);
    if (rc) return rc;
    if (tok.type == FA_JSON_TOK_BEGIN_ARRAY)
        rc = walk_events(im, r);
    else if (tok.type == FA_JSON_TOK_BEGIN_OBJECT)
        rc = walk_object(im, r);
    else
        rc = fa_err_set(FA_EINVAL, "%s:%lu:%lu: expected {\"events\": [...]} or an array of events",
                        fa_json_name(r), (unsigned long)tok.line, (unsigned long)tok.col);
    if (rc) return rc;
    return fa_json_expect(r, FA_JSON_TOK_EOF, &tok);
}

static int walk_file(wy_import *im, int pass) {
    im->pass = pass;
    fa_json_reader *r = fa_json_open_file(im->path, 0);
    if (!r) return fa_err_code() ? fa_err_code() : FA_EIO;
    int rc = walk_top(im, r);
    if (rc == 0 && pass == 1) rc = finish_scan(im, r);
    fa_json_close(r);
    return rc;
}

static int emit_players(wy_import *im) {
    for (size_t i = 0; i < im->nplayers && im->sink->player; i++) {
        const wy_player *wp = &im->players[i];
        fa_player p;
        fa_player_init(&p);
        snprintf(p.id, sizeof p.id, "%lld", (long long)wp->id);
        p.side = wp->team == im->home ? FA_SIDE_HOME : FA_SIDE_AWAY;
        fa_strlcpy_utf8(p.name, wp->name, sizeof p.name);
        fa_strlcpy_utf8(p.position, wp->position, sizeof p.position);
        int rc = im->sink->player(im->sink->ud, &p);
        if (rc) return rc;
    }
    return 0;
}

static int run_import(wy_import *im) {
    int rc = walk_file(im, 1);
    if (rc) return rc;
    if (im->sink->begin && (rc = im->sink->begin(im->sink->ud, &im->match))) return rc;
    if ((rc = emit_players(im)) || (rc = walk_file(im, 2))) return rc;
    return im->sink->end ? im->sink->end(im->sink->ud, &im->match) : 0;
}

static void init_import(wy_import *im, const char *path, const fa_sink *sink) {
    memset(im, 0, sizeof *im);
    im->sink = sink;
    im->path = path;
    im->match_id = -1;
    im->kickoff_team = -1;
    fa_match_init(&im->match, FA_PROVIDER_WYSCOUT);
    im->match.provider_length = 100;
    im->match.provider_width = 100;
    strcpy(im->match.provider_unit, "percent");
    fa_strlcpy_utf8(im->match.source, fa_path_base(path), sizeof im->match.source);
}

/* Imports one match of Wyscout v2 events from events_path and streams begin,
 * players, events, end into sink (conventions and the home/away rule in the
 * header comment). Returns 0, a negative FA_E* code with the message set
 * (FA_EINVAL naming file:line:col and field), or the non-zero value a sink
 * callback returned. */
int fa_wyscout_import(const char *events_path, const fa_sink *sink) {
    wy_import *im = fa_malloc(sizeof *im);
    if (!im) return FA_ENOMEM;
    init_import(im, events_path, sink);
    im->event_arena = fa_arena_new(16 * 1024);
    im->meta_arena = fa_arena_new(64 * 1024);
    int rc = im->event_arena && im->meta_arena ? run_import(im) : FA_ENOMEM;
    fa_arena_free(im->event_arena);
    fa_arena_free(im->meta_arena);
    free(im);
    return rc;
}
