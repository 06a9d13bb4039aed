/*
 * skillcorner.c - SkillCorner open data: match data JSON + v3 tracking JSON Lines.
 *
 * Two files make one match:
 *   - the match data, one JSON object (a few tens of kB): teams, score, date,
 *     competition, pitch size and the players with their shirt number, role
 *     and the match-clock times they came on and went off. Two layouts exist
 *     and both are read: the older one (open data 2019/20: no direction
 *     information) and the v3 one, which adds "home_team_side" (the home
 *     team's attacking direction per period, "left_to_right" = towards +x),
 *     "short_name" and, in newer exports, "match_periods" (start_frame per
 *     period);
 *   - the tracking (optional), JSON Lines at 10 Hz, one frame per line:
 *     {"frame", "timestamp": "HH:MM:SS.ss" | null, "period": n | null,
 *      "ball_data": {x, y, z, is_detected}, "possession": {player_id, group},
 *      "player_data": [{player_id, x, y, is_detected}, ...]}.
 *     Lines whose period or timestamp is null are before kick-off or after
 *     the final whistle: they are skipped (and counted, logged at debug).
 *     The older tracking layout (one JSON array of frames whose objects carry
 *     "trackable_object") is not read: no such file is in the open data we
 *     test against, and the v3 layout replaced it.
 *
 * Coordinates. SkillCorner already speaks metres with the origin on the
 * centre spot, x along the length and y up (y > 0 is the left touchline of a
 * team attacking +x); the real file confirms it: in period 1 the home team
 * (home_team_side "right_to_left") has its goalkeeper at x = +40 m. So the
 * only conversion is the 180-degree turn that makes the home team attack +x
 * in periods 1 and 3 (model.h): flip when the provider's home direction of
 * that period differs from the model's. Where "home_team_side" does not
 * cover a period (older layout, extra time) the direction is inferred, once,
 * by a separate pass over the tracking: a majority vote over the frames of each period on whether the
 * home players' mean x lies below the away players' (a team's keeper and
 * back line stand on the side it defends). A period with no frame holding
 * both teams takes the opposite of the period before, else no flip.
 *
 * Time. The tracking timestamp is a match clock that runs on across periods
 * (period 2 of the real file starts near 00:47:21, where the half-time
 * substitutes' start_time lies). A frame's t is its timestamp minus the
 * period's start: from "match_periods" start_frame when the match data has it
 * (the clock at the period's first tracked frame less the frames missed at
 * 10 Hz), else the timestamp of the first frame of that period.
 *
 * Players are kept in one array sorted by id (binary search per tracked
 * object) because a full match has ~60,000 frames x 22 players. They are
 * handed to the sink after the frames, so that a player with no end_time
 * gets minutes up to the last tracked timestamp; without tracking such a
 * player's minutes stay unknown (NAN). An unused substitute (start_time null)
 * played 0 minutes. Tracking ids must name players of the match data: a
 * stray id is an error naming its line (it also catches a tracking file
 * paired with the wrong match data).
 *
 * Memory: the match data is parsed whole into an arena freed after reading;
 * the tracking is streamed with the JSON reader in multi-value mode, one line
 * into an arena reset per line, so a match of any length runs in the memory
 * of one frame.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ingest.h"

#define SC_FRAME_RATE 10.0
#define SC_MAX_COORD 200.0 /* metres from the centre: beyond is not a pitch */
#define SC_MAX_PERIOD 5
#define SC_MAX_PLAYERS 1024
#define SC_MAX_FRAME_NO ((int64_t)1 << 40)

typedef struct sc_player {
    fa_player p;
    double start_s, end_s; /* match clock of coming on / going off; NAN when null */
} sc_player;

/* One tracking line in the provider's own frame (before flip and t). */
typedef struct sc_line {
    int64_t frame;
    int period;   /* 0: pre-/post-match line, skipped */
    double clock; /* timestamp in seconds of match clock */
    double bx, by, bz;
    fa_side owner_side;
    const char *owner_id;
    size_t n;
    fa_frame_player players[FA_FRAME_MAX_PLAYERS];
} sc_line;

typedef struct sc_import {
    const fa_sink *sink;
    const char *tracking_path;
    fa_match match;
    sc_player *players; /* sorted by p.id */
    size_t nplayers;
    int home_dir[SC_MAX_PERIOD + 1];        /* +1 home attacks +x in the provider frame, -1 -x, 0 unknown */
    int directions_inferred;                /* the inference pass has run */
    int64_t start_frame[SC_MAX_PERIOD + 1]; /* from match_periods; -1 when not given */
    double period_t0[SC_MAX_PERIOD + 1];    /* clock at the period start; NAN until known */
    double clock_end;                       /* latest tracked clock; NAN without tracking */
    int64_t emitted, skipped;
    sc_line line;
} sc_import;

/* ---------------------------------------------------------------- small parsers */

/* Reads key as an id: a non-negative integer (SkillCorner's form) or a
 * non-empty string. Returns 1 when present, 0 when absent or null (out = ""),
 * < 0 on a wrong type. */
static int read_id(const fa_json_reader *r, const fa_json_value *obj, const char *key, char out[FA_ID_MAX]) {
    const fa_json_value *v = fa_json_get(obj, key);
    out[0] = '\0';
    if (!v || v->type == FA_JSON_NULL) return 0;
    if (v->type == FA_JSON_NUMBER && v->u.num >= 0 && v->u.num < 1e15 && v->u.num == floor(v->u.num)) {
        snprintf(out, FA_ID_MAX, "%.0f", v->u.num);
        return 1;
    }
    if (v->type == FA_JSON_STRING && v->u.str.len > 0 && v->u.str.len < FA_ID_MAX) {
        memcpy(out, v->u.str.ptr, v->u.str.len + 1);
        return 1;
    }
    return fa_json_error(r, v, "field '%s': expected a non-negative integer or short string id, got %s", key,
                         fa_json_type_name(v->type));
}

static int require_id(const fa_json_reader *r, const fa_json_value *obj, const char *key,
                      char out[FA_ID_MAX]) {
    int rc = read_id(r, obj, key, out);
    if (rc == 0) return fa_json_error(r, obj, "missing required field '%s'", key);
    return rc < 0 ? rc : 0;
}

/* Reads exactly `width` decimal digits; returns the value or -1. */
static long take_digits(const char **p, int width) {
    long v = 0;
    for (int i = 0; i < width; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *p += width;
    return v;
}

/* "HH:MM:SS" or "HH:MM:SS.fff" (1 to 9 fraction digits) -> seconds; -1 when malformed. */
static double parse_clock(const char *s) {
    const char *p = s;
    long h = take_digits(&p, 2);
    if (h < 0 || *p++ != ':') return -1;
    long m = take_digits(&p, 2);
    if (m < 0 || m > 59 || *p++ != ':') return -1;
    long sec = take_digits(&p, 2);
    if (sec < 0 || sec > 59) return -1;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9' && nd < 9; p++, nd++, scale /= 10) frac += (*p - '0') * scale;
        if (nd == 0) return -1;
    }
    if (*p != '\0') return -1;
    return (double)(h * 3600 + m * 60 + sec) + frac;
}

/* Optional clock field; *out = NAN when absent or null. */
static int read_clock(const fa_json_reader *r, const fa_json_value *obj, const char *key, double *out) {
    const char *s;
    int rc = fa_json_opt_str(r, obj, key, &s);
    *out = NAN;
    if (rc <= 0) return rc;
    *out = parse_clock(s);
    if (*out < 0)
        return fa_json_error(r, fa_json_get(obj, key),
                             "field '%s': expected a time \"HH:MM:SS[.ss]\", got \"%.40s\"", key, s);
    return 1;
}

/* Optional coordinate in metres within +-SC_MAX_COORD; NAN when absent or null. */
static int read_coord(const fa_json_reader *r, const fa_json_value *obj, const char *key, double *out) {
    int rc = fa_json_opt_num(r, obj, key, out);
    if (rc == 1 && fabs(*out) > SC_MAX_COORD)
        return fa_json_error(r, fa_json_get(obj, key), "field '%s': %g m is beyond +-%.0f m of the centre",
                             key, *out, SC_MAX_COORD);
    return rc;
}

/* ---------------------------------------------------------------- match data */

static int parse_team(const fa_json_reader *r, const fa_json_value *root, const char *key, fa_team *t) {
    const fa_json_value *o;
    const char *name;
    int rc = fa_json_req_obj(r, root, key, &o);
    if (rc < 0 || (rc = require_id(r, o, "id", t->id)) < 0) return rc;
    if ((rc = fa_json_opt_str(r, o, "name", &name)) < 0) return rc;
    if (!name && (rc = fa_json_opt_str(r, o, "short_name", &name)) < 0) return rc;
    fa_strlcpy_utf8(t->name, name ? name : t->id, sizeof t->name);
    return 0;
}

/* "2019-10-06T18:45:00Z" -> "2019-10-06". */
static int parse_date(const fa_json_reader *r, const fa_json_value *root, fa_match *m) {
    const char *s;
    int rc = fa_json_opt_str(r, root, "date_time", &s);
    if (rc <= 0) return rc;
    int ok = strlen(s) >= 10 && s[4] == '-' && s[7] == '-';
    for (int i = 0; ok && i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) ok = 0;
    if (!ok)
        return fa_json_error(r, fa_json_get(root, "date_time"),
                             "field 'date_time': expected an ISO date \"YYYY-MM-DD...\", got \"%.40s\"", s);
    memcpy(m->date, s, 10);
    m->date[10] = '\0';
    return 0;
}

static int parse_competition(const fa_json_reader *r, const fa_json_value *root, fa_match *m) {
    const fa_json_value *ed, *comp = NULL, *season = NULL;
    const char *name = NULL;
    int rc = fa_json_opt_obj(r, root, "competition_edition", &ed);
    if (rc <= 0) return rc;
    if ((rc = fa_json_opt_obj(r, ed, "competition", &comp)) < 0 ||
        (rc = fa_json_opt_obj(r, ed, "season", &season)) < 0)
        return rc;
    if (comp && (rc = fa_json_opt_str(r, comp, "name", &name)) < 0) return rc;
    if (name) fa_strlcpy_utf8(m->competition, name, sizeof m->competition);
    name = NULL;
    if (season && (rc = fa_json_opt_str(r, season, "name", &name)) < 0) return rc;
    if (name) fa_strlcpy_utf8(m->season, name, sizeof m->season);
    return 0;
}

static int parse_dimension(const fa_json_reader *r, const fa_json_value *root, const char *key, double lo,
                           double hi, double *out) {
    double v;
    int rc = fa_json_opt_num(r, root, key, &v);
    if (rc <= 0) return rc;
    if (v < lo || v > hi)
        return fa_json_error(r, fa_json_get(root, key),
                             "field '%s': %g m is not a plausible pitch size (%g..%g)", key, v, lo, hi);
    *out = v;
    return 0;
}

static int parse_score(const fa_json_reader *r, const fa_json_value *root, const char *key, int *out) {
    int64_t v;
    int rc = fa_json_opt_int(r, root, key, 0, 999, &v);
    if (rc == 1) *out = (int)v;
    return rc < 0 ? rc : 0;
}

/* "home_team_side": ["right_to_left", "left_to_right"], one entry per period. */
static int parse_sides(const fa_json_reader *r, const fa_json_value *root, sc_import *im) {
    const fa_json_value *arr;
    int rc = fa_json_opt_arr(r, root, "home_team_side", &arr);
    if (rc <= 0) return rc;
    if (arr->u.arr.n > SC_MAX_PERIOD)
        return fa_json_error(r, arr, "field 'home_team_side': %zu entries, at most %d periods", arr->u.arr.n,
                             SC_MAX_PERIOD);
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        const fa_json_value *v = arr->u.arr.items[i];
        if (v->type == FA_JSON_STRING && strcmp(v->u.str.ptr, "left_to_right") == 0)
            im->home_dir[i + 1] = 1;
        else if (v->type == FA_JSON_STRING && strcmp(v->u.str.ptr, "right_to_left") == 0)
            im->home_dir[i + 1] = -1;
        else
            return fa_json_error(r, v,
                                 "field 'home_team_side': expected \"left_to_right\" or \"right_to_left\"");
    }
    return 0;
}

/* "match_periods": [{"period": 1, "start_frame": 10, ...}, ...] (newer exports). */
static int parse_periods(const fa_json_reader *r, const fa_json_value *root, sc_import *im) {
    const fa_json_value *arr;
    int rc = fa_json_opt_arr(r, root, "match_periods", &arr);
    if (rc <= 0) return rc;
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        const fa_json_value *o = arr->u.arr.items[i];
        int64_t period, start = -1;
        if ((rc = fa_json_req_int(r, o, "period", 1, SC_MAX_PERIOD, &period)) < 0 ||
            (rc = fa_json_opt_int(r, o, "start_frame", 0, SC_MAX_FRAME_NO, &start)) < 0)
            return rc;
        im->start_frame[period] = start;
    }
    return 0;
}

static fa_side side_of_team(const fa_match *m, const char *team_id) {
    if (strcmp(team_id, m->teams[FA_SIDE_HOME].id) == 0) return FA_SIDE_HOME;
    if (strcmp(team_id, m->teams[FA_SIDE_AWAY].id) == 0) return FA_SIDE_AWAY;
    return FA_SIDE_NONE;
}

/* "first last", else short_name, else the id. */
static int parse_player_name(const fa_json_reader *r, const fa_json_value *o, fa_player *p) {
    const char *first, *last, *shortname;
    int rc;
    if ((rc = fa_json_opt_str(r, o, "first_name", &first)) < 0 ||
        (rc = fa_json_opt_str(r, o, "last_name", &last)) < 0 ||
        (rc = fa_json_opt_str(r, o, "short_name", &shortname)) < 0)
        return rc;
    /* Join in a buffer twice the size, then cut on a UTF-8 boundary. */
    char full[2 * FA_NAME_MAX + 2];
    if (first && last)
        snprintf(full, sizeof full, "%.*s %.*s", FA_NAME_MAX, first, FA_NAME_MAX, last);
    else
        snprintf(full, sizeof full, "%.*s", FA_NAME_MAX,
                 first       ? first
                 : last      ? last
                 : shortname ? shortname
                             : p->id);
    fa_strlcpy_utf8(p->name, full, sizeof p->name);
    return 0;
}

static int parse_role(const fa_json_reader *r, const fa_json_value *o, fa_player *p) {
    const fa_json_value *role;
    const char *name = NULL;
    int rc = fa_json_opt_obj(r, o, "player_role", &role);
    if (rc <= 0) return rc;
    if ((rc = fa_json_opt_str(r, role, "name", &name)) < 0) return rc;
    if (!name && (rc = fa_json_opt_str(r, role, "acronym", &name)) < 0) return rc;
    if (name) fa_strlcpy_utf8(p->position, name, sizeof p->position);
    return 0;
}

static int parse_player_times(const fa_json_reader *r, const fa_json_value *o, sc_player *sp) {
    int rc;
    if ((rc = read_clock(r, o, "start_time", &sp->start_s)) < 0 ||
        (rc = read_clock(r, o, "end_time", &sp->end_s)) < 0)
        return rc;
    if (!isnan(sp->end_s) && isnan(sp->start_s))
        return fa_json_error(r, fa_json_get(o, "end_time"), "field 'end_time': given without a start_time");
    if (sp->end_s < sp->start_s)
        return fa_json_error(r, fa_json_get(o, "end_time"),
                             "field 'end_time': before the player's start_time");
    sp->p.starter = sp->start_s == 0 ? 1 : 0;
    return 0;
}

static int parse_player(const fa_json_reader *r, const fa_json_value *o, const fa_match *m, sc_player *sp) {
    char team[FA_ID_MAX];
    int64_t number;
    int rc;
    fa_player_init(&sp->p);
    if ((rc = require_id(r, o, "id", sp->p.id)) < 0 || (rc = require_id(r, o, "team_id", team)) < 0)
        return rc;
    sp->p.side = side_of_team(m, team);
    if (sp->p.side == FA_SIDE_NONE)
        return fa_json_error(r, fa_json_get(o, "team_id"),
                             "field 'team_id': %s is neither the home (%s) nor the away (%s) team", team,
                             m->teams[0].id, m->teams[1].id);
    if ((rc = fa_json_opt_int(r, o, "number", 0, 999, &number)) < 0) return rc;
    if (rc == 1) sp->p.shirt = (int)number;
    if ((rc = parse_player_name(r, o, &sp->p)) < 0 || (rc = parse_role(r, o, &sp->p)) < 0) return rc;
    return parse_player_times(r, o, sp);
}

static int cmp_player(const void *a, const void *b) {
    return strcmp(((const sc_player *)a)->p.id, ((const sc_player *)b)->p.id);
}

static int parse_players(const fa_json_reader *r, const fa_json_value *root, sc_import *im) {
    const fa_json_value *arr;
    int rc = fa_json_req_arr(r, root, "players", &arr);
    if (rc < 0) return rc;
    if (arr->u.arr.n > SC_MAX_PLAYERS)
        return fa_json_error(r, arr, "field 'players': %zu players, at most %d", arr->u.arr.n,
                             SC_MAX_PLAYERS);
    im->players = fa_calloc(arr->u.arr.n, sizeof *im->players);
    if (!im->players) return FA_ENOMEM;
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        if ((rc = parse_player(r, arr->u.arr.items[i], &im->match, &im->players[i])) < 0) return rc;
        im->nplayers++;
    }
    qsort(im->players, im->nplayers, sizeof *im->players, cmp_player);
    for (size_t i = 1; i < im->nplayers; i++)
        if (strcmp(im->players[i].p.id, im->players[i - 1].p.id) == 0)
            return fa_json_error(r, arr, "field 'players': player id %s appears twice", im->players[i].p.id);
    return 0;
}

static int parse_match_fields(const fa_json_reader *r, const fa_json_value *root, sc_import *im) {
    fa_match *m = &im->match;
    int rc;
    if ((rc = require_id(r, root, "id", m->id)) < 0 ||
        (rc = parse_team(r, root, "home_team", &m->teams[0])) < 0 ||
        (rc = parse_team(r, root, "away_team", &m->teams[1])) < 0)
        return rc;
    if (strcmp(m->teams[0].id, m->teams[1].id) == 0)
        return fa_json_error(r, fa_json_get(root, "away_team"), "home and away team have the same id %s",
                             m->teams[0].id);
    if ((rc = parse_date(r, root, m)) < 0 || (rc = parse_competition(r, root, m)) < 0 ||
        (rc = parse_score(r, root, "home_team_score", &m->score[0])) < 0 ||
        (rc = parse_score(r, root, "away_team_score", &m->score[1])) < 0 ||
        (rc = parse_dimension(r, root, "pitch_length", 40, 150, &m->pitch.length)) < 0 ||
        (rc = parse_dimension(r, root, "pitch_width", 20, 100, &m->pitch.width)) < 0)
        return rc;
    m->provider_length = m->pitch.length;
    m->provider_width = m->pitch.width;
    if ((rc = parse_sides(r, root, im)) < 0 || (rc = parse_periods(r, root, im)) < 0) return rc;
    return parse_players(r, root, im);
}

static int read_match_data(const char *path, sc_import *im) {
    fa_arena *a = fa_arena_new(64 * 1024);
    fa_json_reader *r = a ? fa_json_open_file(path, 0) : NULL;
    fa_json_value *root = NULL;
    fa_json_token end;
    int rc = r ? fa_json_read_value(r, a, &root) : (fa_err_code() ? fa_err_code() : FA_ENOMEM);
    if (rc == 0) rc = fa_json_next(r, &end); /* trailing data is an error */
    if (rc == 0 && root->type != FA_JSON_OBJECT)
        rc = fa_json_error(r, root, "expected the SkillCorner match data object, got %s",
                           fa_json_type_name(root->type));
    if (rc == 0) rc = parse_match_fields(r, root, im);
    fa_json_close(r);
    fa_arena_free(a);
    return rc;
}

/* ---------------------------------------------------------------- tracking lines */

static const sc_player *find_player(const sc_import *im, const char *id) {
    size_t lo = 0, hi = im->nplayers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(id, im->players[mid].p.id);
        if (c == 0) return &im->players[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int lookup_player(const sc_import *im, const fa_json_reader *r, const fa_json_value *at,
                         const char *id, const sc_player **out) {
    *out = find_player(im, id);
    if (!*out)
        return fa_json_error(r, at,
                             "player_id %s is not a player of match %s (wrong match data for this tracking?)",
                             id, im->match.id);
    return 0;
}

static int parse_ball(const fa_json_reader *r, const fa_json_value *line, sc_line *l) {
    const fa_json_value *ball;
    int rc = fa_json_opt_obj(r, line, "ball_data", &ball);
    l->bx = l->by = l->bz = NAN;
    if (rc <= 0) return rc;
    if ((rc = read_coord(r, ball, "x", &l->bx)) < 0 || (rc = read_coord(r, ball, "y", &l->by)) < 0 ||
        (rc = read_coord(r, ball, "z", &l->bz)) < 0)
        return rc;
    if (isnan(l->bx) || isnan(l->by)) l->bx = l->by = l->bz = NAN;
    return 0;
}

static int parse_possession(const sc_import *im, const fa_json_reader *r, const fa_json_value *line,
                            sc_line *l) {
    const fa_json_value *pos;
    const char *group;
    char id[FA_ID_MAX];
    int rc = fa_json_opt_obj(r, line, "possession", &pos);
    l->owner_side = FA_SIDE_NONE;
    l->owner_id = NULL;
    if (rc <= 0) return rc;
    if ((rc = read_id(r, pos, "player_id", id)) < 0 || (rc = fa_json_opt_str(r, pos, "group", &group)) < 0)
        return rc;
    if (group && strcmp(group, "home team") == 0)
        l->owner_side = FA_SIDE_HOME;
    else if (group && strcmp(group, "away team") == 0)
        l->owner_side = FA_SIDE_AWAY;
    else if (group)
        return fa_json_error(r, fa_json_get(pos, "group"),
                             "field 'group': expected \"home team\" or \"away team\", got \"%.40s\"", group);
    if (id[0]) {
        const sc_player *sp;
        if ((rc = lookup_player(im, r, fa_json_get(pos, "player_id"), id, &sp)) < 0) return rc;
        l->owner_id = sp->p.id;
        l->owner_side = sp->p.side;
    }
    return 0;
}

/* One player_data entry; entries with a null x or y are left out. */
static int parse_tracked(const sc_import *im, const fa_json_reader *r, const fa_json_value *o, sc_line *l) {
    char id[FA_ID_MAX];
    double x, y;
    const sc_player *sp;
    int rc;
    if ((rc = require_id(r, o, "player_id", id)) < 0 || (rc = read_coord(r, o, "x", &x)) < 0 ||
        (rc = read_coord(r, o, "y", &y)) < 0 ||
        (rc = lookup_player(im, r, fa_json_get(o, "player_id"), id, &sp)) < 0)
        return rc;
    if (isnan(x) || isnan(y)) return 0;
    if (l->n == FA_FRAME_MAX_PLAYERS)
        return fa_json_error(r, o, "field 'player_data': more than %d tracked players in one frame",
                             FA_FRAME_MAX_PLAYERS);
    fa_frame_player *fp = &l->players[l->n++];
    fp->player_id = sp->p.id;
    fp->side = sp->p.side;
    fp->x = (float)x;
    fp->y = (float)y;
    return 0;
}

static int parse_players_data(const sc_import *im, const fa_json_reader *r, const fa_json_value *arr,
                              sc_line *l) {
    l->n = 0;
    for (size_t i = 0; i < arr->u.arr.n; i++) {
        int rc = parse_tracked(im, r, arr->u.arr.items[i], l);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Parses one line into im->line in the provider's frame; line.period = 0
 * for a line without period or timestamp. */
static int parse_line(sc_import *im, const fa_json_reader *r, const fa_json_value *v) {
    sc_line *l = &im->line;
    const fa_json_value *pdata;
    int64_t period = 0;
    int rc;
    if (v->type != FA_JSON_OBJECT)
        return fa_json_error(r, v, "expected a tracking frame object, got %s", fa_json_type_name(v->type));
    if ((rc = fa_json_req_int(r, v, "frame", 0, SC_MAX_FRAME_NO, &l->frame)) < 0 ||
        (rc = fa_json_req_arr(r, v, "player_data", &pdata)) < 0 ||
        (rc = fa_json_opt_int(r, v, "period", 1, SC_MAX_PERIOD, &period)) < 0 ||
        (rc = read_clock(r, v, "timestamp", &l->clock)) < 0)
        return rc;
    l->period = isnan(l->clock) ? 0 : (int)period;
    if (l->period == 0) return 0;
    if ((rc = parse_ball(r, v, l)) < 0 || (rc = parse_possession(im, r, v, l)) < 0) return rc;
    return parse_players_data(im, r, pdata, l);
}

/* ---------------------------------------------------------------- direction */

/* +1 when the home players' mean x is below the away players' (home
 * attacks +x), -1 above, 0 when one team is missing from the frame. */
static int frame_vote(const sc_line *l) {
    double sum[2] = {0, 0};
    int n[2] = {0, 0};
    for (size_t i = 0; i < l->n; i++) {
        sum[l->players[i].side] += l->players[i].x;
        n[l->players[i].side]++;
    }
    if (!n[0] || !n[1]) return 0;
    double home = sum[0] / n[0], away = sum[1] / n[1];
    return home < away ? 1 : home > away ? -1 : 0;
}

static void settle_directions(sc_import *im, const int64_t votes[SC_MAX_PERIOD + 1]) {
    for (int p = 1; p <= SC_MAX_PERIOD; p++) {
        if (im->home_dir[p]) continue;
        if (votes[p])
            im->home_dir[p] = votes[p] > 0 ? 1 : -1;
        else
            im->home_dir[p] = p > 1 && im->home_dir[p - 1] ? -im->home_dir[p - 1] : 1;
    }
}

/* The separate pass over the tracking that fills directions the match data
 * does not give (see the header comment). */
static int infer_directions(sc_import *im) {
    int64_t votes[SC_MAX_PERIOD + 1] = {0};
    fa_arena *a = fa_arena_new(64 * 1024);
    fa_json_reader *r = a ? fa_json_open_file(im->tracking_path, 1) : NULL;
    int rc = r ? 0 : (fa_err_code() ? fa_err_code() : FA_ENOMEM);
    while (rc == 0) {
        fa_json_value *v;
        fa_arena_reset(a);
        if ((rc = fa_json_read_value(r, a, &v)) < 0 || !v) break;
        if ((rc = parse_line(im, r, v)) == 0 && im->line.period)
            votes[im->line.period] += frame_vote(&im->line);
    }
    fa_json_close(r);
    fa_arena_free(a);
    if (rc == 0) settle_directions(im, votes);
    im->directions_inferred = 1;
    return rc;
}

/* ---------------------------------------------------------------- frames */

/* The clock at the start of the line's period (see the header comment). */
static double period_start(const sc_import *im, const sc_line *l) {
    int64_t start = im->start_frame[l->period];
    if (start >= 0 && start <= l->frame) return l->clock - (double)(l->frame - start) / SC_FRAME_RATE;
    return l->clock;
}

static int emit_line(sc_import *im, const fa_json_reader *r, const fa_json_value *v) {
    sc_line *l = &im->line;
    int p = l->period;
    if (isnan(im->period_t0[p])) im->period_t0[p] = period_start(im, l);
    double t = l->clock - im->period_t0[p];
    if (t < -1e-9)
        return fa_json_error(r, fa_json_get(v, "timestamp"),
                             "field 'timestamp': %.2f s before the start of period %d", -t, p);
    if (isnan(im->clock_end) || l->clock > im->clock_end) im->clock_end = l->clock;
    float s = (im->home_dir[p] > 0) == (fa_home_attacks_plus_x(p) == 1) ? 1.0f : -1.0f;
    for (size_t i = 0; i < l->n; i++) {
        l->players[i].x *= s;
        l->players[i].y *= s;
    }
    fa_frame f = {.frame = l->frame,
                  .period = p,
                  .t = t < 0 ? 0 : t,
                  .ball_x = (float)(l->bx * s),
                  .ball_y = (float)(l->by * s),
                  .ball_z = (float)l->bz,
                  .ball_alive = -1,
                  .ball_owner_side = l->owner_side,
                  .ball_owner_id = l->owner_id,
                  .n = l->n,
                  .players = l->players};
    im->emitted++;
    return im->sink->frame ? im->sink->frame(im->sink->ud, &f) : 0;
}

static int import_line(sc_import *im, const fa_json_reader *r, const fa_json_value *v) {
    int rc = parse_line(im, r, v);
    if (rc < 0) return rc;
    if (im->line.period == 0) {
        im->skipped++;
        return 0;
    }
    if (!im->home_dir[im->line.period] && !im->directions_inferred) {
        sc_line keep = im->line; /* the inference pass reuses im->line */
        if ((rc = infer_directions(im)) < 0) return rc;
        im->line = keep;
    }
    return emit_line(im, r, v);
}

static int import_tracking(sc_import *im) {
    fa_arena *a = fa_arena_new(64 * 1024);
    fa_json_reader *r = a ? fa_json_open_file(im->tracking_path, 1) : NULL;
    int rc = r ? 0 : (fa_err_code() ? fa_err_code() : FA_ENOMEM);
    while (rc == 0) {
        fa_json_value *v;
        fa_arena_reset(a);
        if ((rc = fa_json_read_value(r, a, &v)) < 0 || !v) break;
        rc = import_line(im, r, v);
    }
    fa_json_close(r);
    fa_arena_free(a);
    if (rc == 0)
        fa_log(FA_LOG_DEBUG, "skillcorner tracking read", "file=%s frames=%lld skipped=%lld",
               fa_path_base(im->tracking_path), (long long)im->emitted, (long long)im->skipped);
    return rc;
}

/* ---------------------------------------------------------------- players, driver */

static int emit_players(sc_import *im) {
    for (size_t i = 0; i < im->nplayers; i++) {
        sc_player *sp = &im->players[i];
        double end = isnan(sp->end_s) ? im->clock_end : sp->end_s;
        if (isnan(sp->start_s))
            sp->p.minutes = 0;
        else if (!isnan(end))
            sp->p.minutes = end > sp->start_s ? (end - sp->start_s) / 60.0 : 0;
        if (im->sink->player) {
            int rc = im->sink->player(im->sink->ud, &sp->p);
            if (rc) return rc;
        }
    }
    return 0;
}

static void init_import(sc_import *im, const char *match_path, const char *tracking_path,
                        const fa_sink *sink) {
    memset(im, 0, sizeof *im);
    im->sink = sink;
    im->tracking_path = tracking_path;
    fa_match_init(&im->match, FA_PROVIDER_SKILLCORNER);
    strcpy(im->match.provider_unit, "m");
    im->match.frame_rate = SC_FRAME_RATE;
    snprintf(im->match.source, sizeof im->match.source, "%s%s%s", fa_path_base(match_path),
             tracking_path ? "," : "", tracking_path ? fa_path_base(tracking_path) : "");
    for (int p = 0; p <= SC_MAX_PERIOD; p++) {
        im->start_frame[p] = -1;
        im->period_t0[p] = NAN;
    }
    im->clock_end = NAN;
}

static int run_import(sc_import *im, const char *match_path) {
    int rc = read_match_data(match_path, im);
    if (rc) return rc;
    if (im->sink->begin && (rc = im->sink->begin(im->sink->ud, &im->match))) return rc;
    if (im->tracking_path && (rc = import_tracking(im))) return rc;
    if ((rc = emit_players(im))) return rc;
    return im->sink->end ? im->sink->end(im->sink->ud, &im->match) : 0;
}

/* Imports one SkillCorner match: match_path is the match data JSON (either
 * layout), tracking_path the v3 JSON Lines tracking or NULL for the match and
 * players only. Streams begin, frames, players, end into sink (see the header
 * comment for the conventions). Returns 0, a negative FA_E* code with the
 * message set (FA_EINVAL naming file:line:col and field), or the non-zero
 * value a sink callback returned. */
int fa_skillcorner_import(const char *match_path, const char *tracking_path, const fa_sink *sink) {
    sc_import *im = fa_malloc(sizeof *im);
    if (!im) return FA_ENOMEM;
    init_import(im, match_path, tracking_path, sink);
    int rc = run_import(im, match_path);
    free(im->players);
    free(im);
    return rc;
}
