/*
 * metrica.c - Metrica Sports data: the events CSV (sample games 1 and 2),
 * the events JSON (sample game 3) and the tracking CSV pair (one file per
 * team). Metrica's EPTS tracking is in epts.c.
 *
 * Metrica's frame: x and y in 0..1 of a 105 x 68 m pitch, origin top-left,
 * y down, in the REAL pitch frame: teams change ends at half time and the
 * files never say who attacks which way. The model wants HOME attacking +x
 * in periods 1 and 3 (model.h), so each parser must find the direction
 * itself:
 *
 *   - events: a FIRST PASS over the file (constant memory: a few sums per
 *     period) adds up, for every shot, how far it was taken right of the
 *     centre line (home shots count positive, away shots negative). A positive
 *     sum means home attacked raw +x in that period. A period without shots
 *     takes the flip of the nearest period that has some (teams change ends
 *     every period, and the model's direction changes with them, so the flip
 *     is the same); a file with no shots at all is taken as it is. The second
 *     pass converts (a flip is a 180-degree rotation) and emits. The first
 *     pass also validates every row, counts goals (so begin() already knows
 *     the score), finds each period's first event time and collects the
 *     players, so players are emitted before events and nothing is emitted
 *     from a file that turns out to be bad.
 *   - tracking: decided per period at its first frame, from where the two
 *     teams stand (metrica_internal.h: the team nearer a goal defends it).
 *
 * Time: the CSV/JSON times are seconds from the match start. The model wants
 * seconds from the period start; the origin of each period is its first event
 * (events: the kick-off, found in the first pass as the smallest start time of
 * the period) or its first frame (tracking). Metrica gives no period start of
 * its own in these files.
 *
 * Event semantics (checked against the sample data and the reference counts
 * in shared/data/reference): a Metrica PASS row is a completed pass (a failed
 * one is a BALL LOST row, kind OTHER with success 0), so PASS rows are the
 * passes. A SHOT scored when its subtype has the token GOAL ("ON TARGET-GOAL",
 * "HEAD-ON TARGET-GOAL"); "BALL OUT" rows with "WOODWORK-GOAL" are not shots.
 * CHALLENGE is a duel won or lost (tokens WON / LOST). Subtype tokens are
 * separated by '-' in the CSV; the JSON gives them as a list, joined here
 * with '-' so both formats read alike. A PASS that takes a set piece (the
 * SET PIECE row of the same team and frame just before it) carries the set
 * piece in pass_type. Players are whoever appears in From / To: the CSV's
 * "Player9" is shirt 9 (the tracking CSV's jersey row agrees), the JSON's
 * "Player 10" likewise; minutes played are unknown (NAN): appearances in the
 * event stream do not say when a player came on or went off.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest.h"
#include "metrica_internal.h"

#define MX_PERIODS 5
#define MX_MAX_PLAYERS 128
#define MX_FRAME_MAX INT64_C(1000000000000)
#define MX_TIME_MAX 1e7

/* ------------------------------------------------------------ one event, either format */

typedef struct mx_raw {
    fa_side side;
    const char *team_id, *team_name; /* JSON only */
    int period;
    int64_t start_frame, end_frame;              /* end -1 when none */
    double start_t, end_t;                       /* end NAN when none */
    double sx, sy, ex, ey;                       /* provider 0..1, y down; NAN when absent */
    const char *type, *subtype;                  /* verbatim; subtype "" when none */
    const char *from, *from_name, *to, *to_name; /* "" when none */
    int64_t index;                               /* provider's own number, -1 when none */
    char where[128];                             /* "file:line" or "file:line:col", for messages */
} mx_raw;

static void raw_init(mx_raw *e) {
    memset(e, 0, sizeof *e);
    e->side = FA_SIDE_NONE;
    e->team_id = e->team_name = e->type = e->subtype = "";
    e->from = e->from_name = e->to = e->to_name = "";
    e->end_frame = -1;
    e->end_t = e->sx = e->sy = e->ex = e->ey = NAN;
    e->index = -1;
}

/* 1 when the '-'-separated subtype has this token (case-insensitive). */
static int subtype_has(const char *subtype, const char *token) {
    size_t k = strlen(token);
    for (const char *p = subtype; *p;) {
        const char *dash = strchr(p, '-');
        size_t n = dash ? (size_t)(dash - p) : strlen(p);
        if (n == k && strncasecmp(p, token, k) == 0) return 1;
        if (!dash) break;
        p = dash + 1;
    }
    return 0;
}

static fa_event_kind kind_of(const char *type) {
    static const struct {
        const char *name;
        fa_event_kind kind;
    } map[] = {{"PASS", FA_EV_PASS},           {"SHOT", FA_EV_SHOT},           {"RECOVERY", FA_EV_RECOVERY},
               {"CHALLENGE", FA_EV_DUEL},      {"BALL LOST", FA_EV_OTHER},     {"BALL OUT", FA_EV_BALL_OUT},
               {"SET PIECE", FA_EV_SET_PIECE}, {"FAULT RECEIVED", FA_EV_FOUL}, {"CARD", FA_EV_CARD},
               {"CARRY", FA_EV_CARRY}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(type, map[i].name) == 0) return map[i].kind;
    return FA_EV_OTHER;
}

static int is_goal(const mx_raw *e) {
    return kind_of(e->type) == FA_EV_SHOT && subtype_has(e->subtype, "GOAL");
}

/* "Player9" / "Player 10" -> 9 / 10; -1 when the name is not of that form. */
static int shirt_of(const char *name) {
    if (strncasecmp(name, "Player", 6) != 0) return -1;
    const char *p = name + 6;
    if (*p == ' ') p++;
    int64_t v;
    return fa_parse_int(p, 0, 999, &v) == 0 && isdigit((unsigned char)*p) ? (int)v : -1;
}

/* ------------------------------------------------------------ first pass: what the whole file says */

typedef struct mx_scan {
    double t0[MX_PERIODS + 1];   /* earliest event time per period; INFINITY when none */
    double lean[MX_PERIODS + 1]; /* > 0: home attacked raw +x */
    int goals[2];
    fa_player players[MX_MAX_PLAYERS];
    int nplayers;
    char team_id[2][FA_ID_MAX], team_name[2][FA_NAME_MAX]; /* JSON: in order of appearance */
    int nteams;
} mx_scan;

static void scan_init(mx_scan *s) {
    memset(s, 0, sizeof *s);
    for (int p = 0; p <= MX_PERIODS; p++) s->t0[p] = INFINITY;
}

static int scan_player(mx_scan *s, const mx_raw *e, const char *id, const char *name) {
    if (!*id) return 0;
    for (int i = 0; i < s->nplayers; i++)
        if (strcmp(s->players[i].id, id) == 0) return 0;
    if (s->nplayers == MX_MAX_PLAYERS)
        return fa_err_set(FA_ELIMIT, "%s: more than %d distinct players", e->where, MX_MAX_PLAYERS);
    fa_player *p = &s->players[s->nplayers++];
    fa_player_init(p);
    fa_strlcpy_utf8(p->id, id, sizeof p->id);
    fa_strlcpy_utf8(p->name, *name ? name : id, sizeof p->name);
    p->shirt = shirt_of(p->name);
    p->side = e->side;
    return 0;
}

/* Side of a JSON team id; the first team seen is HOME (see the JSON reader). */
static int scan_team(mx_scan *s, mx_raw *e, int may_add) {
    for (int k = 0; k < s->nteams; k++)
        if (strcmp(s->team_id[k], e->team_id) == 0) return e->side = (fa_side)k, 0;
    if (!may_add || s->nteams == 2)
        return fa_err_set(FA_EINVAL, "%s: a third team '%.64s' (only two teams play a match)", e->where,
                          e->team_id);
    fa_strlcpy_utf8(s->team_id[s->nteams], e->team_id, sizeof s->team_id[0]);
    fa_strlcpy_utf8(s->team_name[s->nteams], *e->team_name ? e->team_name : e->team_id,
                    sizeof s->team_name[0]);
    e->side = (fa_side)s->nteams++;
    return 0;
}

static int scan_event(mx_scan *s, const mx_raw *e) {
    if (e->start_t < s->t0[e->period]) s->t0[e->period] = e->start_t;
    if (kind_of(e->type) == FA_EV_SHOT && !isnan(e->sx))
        s->lean[e->period] += (e->side == FA_SIDE_HOME ? 1 : -1) * (e->sx - 0.5);
    if (is_goal(e)) s->goals[e->side]++;
    int rc = scan_player(s, e, e->from, e->from_name);
    return rc ? rc : scan_player(s, e, e->to, e->to_name);
}

/* flip[p] per period from the shot lean; periods without shots copy the
 * nearest period that has some (earlier first). */
static void scan_flips(const mx_scan *s, int flip[MX_PERIODS + 1]) {
    for (int p = 1; p <= MX_PERIODS; p++) {
        int q = -1;
        for (int d = 0; d < MX_PERIODS && q < 0; d++) {
            if (p - d >= 1 && s->lean[p - d] != 0)
                q = p - d;
            else if (p + d <= MX_PERIODS && s->lean[p + d] != 0)
                q = p + d;
        }
        flip[p] = q < 0 ? 0 : mx_flip_for(q, s->lean[q] > 0);
    }
}

/* ------------------------------------------------------------ second pass: conversion */

typedef struct mx_emit {
    const fa_sink *sink;
    const mx_scan *scan;
    fa_pitch pitch;
    int flip[MX_PERIODS + 1];
    int64_t seq;
    char set_piece[32];      /* pass_type of the last SET PIECE row ... */
    int64_t set_piece_frame; /* ... its frame ... */
    fa_side set_piece_side;  /* ... and team */
} mx_emit;

static const char *set_piece_name(const char *subtype) {
    static const char *const map[][2] = {{"CORNER KICK", "Corner"},  {"FREE KICK", "Free Kick"},
                                         {"THROW IN", "Throw-in"},   {"KICK OFF", "Kick Off"},
                                         {"GOAL KICK", "Goal Kick"}, {"PENALTY", "Penalty"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (subtype_has(subtype, map[i][0])) return map[i][1];
    return "";
}

static const char *outcome_of(fa_event_kind kind, const char *subtype) {
    static const char *const shot[] = {"GOAL", "SAVED",      "BLOCKED",  "WOODWORK",
                                       "OUT",  "OFF TARGET", "ON TARGET"};
    static const char *const duel[] = {"WON", "LOST"};
    const char *const *list = kind == FA_EV_SHOT ? shot : kind == FA_EV_DUEL ? duel : NULL;
    size_t n = kind == FA_EV_SHOT ? sizeof shot / sizeof shot[0] : sizeof duel / sizeof duel[0];
    for (size_t i = 0; list && i < n; i++)
        if (subtype_has(subtype, list[i])) return list[i];
    return "";
}

static int success_of(fa_event_kind kind, const mx_raw *e) {
    switch (kind) {
    case FA_EV_PASS:
    case FA_EV_RECOVERY: return 1;
    case FA_EV_SHOT: return is_goal(e);
    case FA_EV_DUEL: return subtype_has(e->subtype, "WON") ? 1 : subtype_has(e->subtype, "LOST") ? 0 : -1;
    default: return strcasecmp(e->type, "BALL LOST") == 0 ? 0 : -1;
    }
}

/* pass_type: the set piece a SET PIECE row names, or the one a PASS takes. */
static void set_pass_type(mx_emit *x, const mx_raw *e, fa_event *ev) {
    const char *sp = set_piece_name(e->subtype);
    if (ev->kind == FA_EV_SET_PIECE) {
        fa_strlcpy_utf8(x->set_piece, sp, sizeof x->set_piece);
        x->set_piece_frame = e->start_frame;
        x->set_piece_side = e->side;
    } else if (ev->kind == FA_EV_PASS && !*sp && x->set_piece[0] && x->set_piece_frame == e->start_frame &&
               x->set_piece_side == e->side) {
        sp = x->set_piece;
    }
    if (ev->kind == FA_EV_PASS || ev->kind == FA_EV_SET_PIECE)
        fa_strlcpy_utf8(ev->pass_type, sp, sizeof ev->pass_type);
    if (ev->kind != FA_EV_SET_PIECE) x->set_piece[0] = '\0';
}

static void convert_event(mx_emit *x, const mx_raw *e, fa_event *ev) {
    fa_event_init(ev);
    ev->seq = x->seq++;
    ev->period = e->period;
    ev->t = e->start_t - x->scan->t0[e->period];
    if (e->end_frame >= e->start_frame && e->end_t >= e->start_t) ev->duration = e->end_t - e->start_t;
    ev->kind = kind_of(e->type);
    fa_strlcpy_utf8(ev->type, e->type, sizeof ev->type);
    fa_strlcpy_utf8(ev->subtype, e->subtype, sizeof ev->subtype);
    ev->side = e->side;
    fa_strlcpy_utf8(ev->player_id, e->from, sizeof ev->player_id);
    fa_strlcpy_utf8(ev->recipient_id, e->to, sizeof ev->recipient_id);
    int flip = x->flip[e->period];
    fa_pitch_from_provider(&x->pitch, 1.0, 1.0, 1, flip, e->sx, e->sy, &ev->x, &ev->y);
    fa_pitch_from_provider(&x->pitch, 1.0, 1.0, 1, flip, e->ex, e->ey, &ev->end_x, &ev->end_y);
    ev->success = success_of(ev->kind, e);
    ev->goal = is_goal(e);
    fa_strlcpy_utf8(ev->outcome, outcome_of(ev->kind, e->subtype), sizeof ev->outcome);
    if (subtype_has(e->subtype, "HEAD")) fa_strlcpy_utf8(ev->body_part, "Head", sizeof ev->body_part);
    set_pass_type(x, e, ev);
    if (e->index >= 0) snprintf(ev->provider_id, sizeof ev->provider_id, "%" PRId64, e->index);
}

static int emit_event(mx_emit *x, const mx_raw *e) {
    fa_event ev;
    convert_event(x, e, &ev);
    return x->sink->event ? x->sink->event(x->sink->ud, &ev) : 0;
}

/* begin + players, after the first pass. */
static int emit_head(mx_emit *x, const fa_match *m) {
    const fa_sink *sink = x->sink;
    int rc = sink->begin ? sink->begin(sink->ud, m) : 0;
    for (int i = 0; !rc && i < x->scan->nplayers; i++)
        rc = sink->player ? sink->player(sink->ud, &x->scan->players[i]) : 0;
    return rc;
}

static void events_match(const mx_scan *s, const char *path, const char *suffix, fa_match *m) {
    mx_match_init(m);
    mx_match_id(path, suffix, m->id, sizeof m->id);
    mx_match_source(m, path, NULL);
    m->score[FA_SIDE_HOME] = s->goals[FA_SIDE_HOME];
    m->score[FA_SIDE_AWAY] = s->goals[FA_SIDE_AWAY];
}

/* ------------------------------------------------------------ events CSV */

/* clang-format off */
enum { C_TEAM, C_TYPE, C_SUBTYPE, C_PERIOD, C_SFRAME, C_STIME, C_EFRAME, C_ETIME, C_FROM, C_TO,
       C_SX, C_SY, C_EX, C_EY, C_COUNT };

static const char *const csv_columns[C_COUNT] = {
    "Team", "Type", "Subtype", "Period", "Start Frame", "Start Time [s]", "End Frame", "End Time [s]",
    "From", "To", "Start X", "Start Y", "End X", "End Y"};
/* clang-format on */

typedef struct mx_csv {
    fa_csv_reader *r;
    size_t col[C_COUNT];
    size_t ncols;
    int64_t last_frame;
} mx_csv;

static int csv_header(mx_csv *c) {
    const char *const *f;
    size_t n;
    int rc = fa_csv_next(c->r, &f, &n);
    if (rc < 0) return rc;
    if (rc == 0)
        return fa_err_set(FA_EINVAL, "%s: empty file, expected a Metrica events header", fa_csv_name(c->r));
    for (int k = 0; k < C_COUNT; k++) {
        c->col[k] = n;
        for (size_t i = 0; i < n; i++)
            if (fa_strcaseeq(f[i], csv_columns[k])) c->col[k] = i;
        if (c->col[k] == n) return fa_csv_error(c->r, 0, "header: missing column '%s'", csv_columns[k]);
    }
    c->ncols = n;
    return 0;
}

static int csv_int(mx_csv *c, const char *const *f, int k, int64_t lo, int64_t hi, int64_t *out) {
    if (fa_parse_int(f[c->col[k]], lo, hi, out))
        return fa_csv_error(c->r, c->col[k] + 1,
                            "'%s': expected an integer in [%" PRId64 ", %" PRId64 "], got \"%.40s\"",
                            csv_columns[k], lo, hi, f[c->col[k]]);
    return 0;
}

static int csv_time(mx_csv *c, const char *const *f, size_t n, int k, double *out) {
    int rc = fa_csv_num(c->r, f, n, c->col[k], out);
    if (rc) return rc;
    if (isnan(*out) || *out < 0 || *out > MX_TIME_MAX)
        return fa_csv_error(c->r, c->col[k] + 1, "'%s': expected seconds in [0, %g], got \"%.40s\"",
                            csv_columns[k], MX_TIME_MAX, f[c->col[k]]);
    return 0;
}

static int csv_coord(mx_csv *c, const char *const *f, size_t n, int k, double *out) {
    int rc = fa_csv_num(c->r, f, n, c->col[k], out);
    if (rc) return rc;
    if (!mx_coord_ok(*out))
        return fa_csv_error(c->r, c->col[k] + 1, "'%s': coordinate %g outside [%g, %g]", csv_columns[k], *out,
                            MX_COORD_MIN, MX_COORD_MAX);
    return 0;
}

static int csv_text(mx_csv *c, const char *const *f, int k, size_t max, int required, const char **out) {
    *out = f[c->col[k]];
    if (required && !**out) return fa_csv_error(c->r, c->col[k] + 1, "'%s': empty", csv_columns[k]);
    if (strlen(*out) >= max)
        return fa_csv_error(c->r, c->col[k] + 1, "'%s': longer than %zu bytes", csv_columns[k], max - 1);
    return 0;
}

static int csv_side(mx_csv *c, const char *const *f, mx_raw *e) {
    const char *team = f[c->col[C_TEAM]];
    e->side = fa_strcaseeq(team, "Home")   ? FA_SIDE_HOME
              : fa_strcaseeq(team, "Away") ? FA_SIDE_AWAY
                                           : FA_SIDE_NONE;
    if (e->side == FA_SIDE_NONE)
        return fa_csv_error(c->r, c->col[C_TEAM] + 1, "'Team': expected \"Home\" or \"Away\", got \"%.40s\"",
                            team);
    return 0;
}

static int csv_frames(mx_csv *c, const char *const *f, size_t n, mx_raw *e) {
    int64_t period;
    int rc = csv_int(c, f, C_PERIOD, 1, MX_PERIODS, &period);
    if (!rc) rc = csv_int(c, f, C_SFRAME, 0, MX_FRAME_MAX, &e->start_frame);
    if (!rc) rc = csv_int(c, f, C_EFRAME, 0, MX_FRAME_MAX, &e->end_frame);
    if (!rc) rc = csv_time(c, f, n, C_STIME, &e->start_t);
    if (!rc) rc = csv_time(c, f, n, C_ETIME, &e->end_t);
    if (rc) return rc;
    e->period = (int)period;
    if (e->start_frame < c->last_frame)
        return fa_csv_error(c->r, c->col[C_SFRAME] + 1,
                            "'Start Frame' %" PRId64 " before the previous row's %" PRId64, e->start_frame,
                            c->last_frame);
    c->last_frame = e->start_frame;
    return 0;
}

static int csv_event(mx_csv *c, const char *const *f, size_t n, mx_raw *e) {
    raw_init(e);
    if (n != c->ncols)
        return fa_csv_error(c->r, 0, "expected %zu columns like the header, got %zu", c->ncols, n);
    int rc = csv_side(c, f, e);
    if (!rc) rc = csv_text(c, f, C_TYPE, 48, 1, &e->type);
    if (!rc) rc = csv_text(c, f, C_SUBTYPE, 256, 0, &e->subtype);
    if (!rc) rc = csv_text(c, f, C_FROM, FA_ID_MAX, 0, &e->from);
    if (!rc) rc = csv_text(c, f, C_TO, FA_ID_MAX, 0, &e->to);
    if (!rc) rc = csv_frames(c, f, n, e);
    if (!rc) rc = csv_coord(c, f, n, C_SX, &e->sx);
    if (!rc) rc = csv_coord(c, f, n, C_SY, &e->sy);
    if (!rc) rc = csv_coord(c, f, n, C_EX, &e->ex);
    if (!rc) rc = csv_coord(c, f, n, C_EY, &e->ey);
    e->index = (int64_t)fa_csv_line(c->r) - 1; /* the data row number: rows have no id */
    snprintf(e->where, sizeof e->where, "%s:%lu", fa_csv_name(c->r), fa_csv_line(c->r));
    return rc;
}

typedef int (*mx_event_fn)(void *ctx, mx_raw *e);

/* Reads the events CSV once, calling fn for every valid row. */
static int csv_walk(const char *path, mx_event_fn fn, void *ctx) {
    int rc = fa_file_check(path);
    if (rc) return rc;
    mx_csv c = {.r = fa_csv_open_file(path, ','), .last_frame = 0};
    if (!c.r) return fa_err_code() ? fa_err_code() : FA_EIO;
    rc = csv_header(&c);
    const char *const *f;
    size_t n;
    mx_raw e;
    while (!rc && (rc = fa_csv_next(c.r, &f, &n)) == 1) {
        if (n == 1 && f[0][0] == '\0') {
            rc = 0; /* a blank line */
            continue;
        }
        rc = csv_event(&c, f, n, &e);
        if (!rc) rc = fn(ctx, &e);
    }
    fa_csv_close(c.r);
    return rc;
}

/* ------------------------------------------------------------ the two passes */

typedef struct mx_events {
    mx_scan scan;
    mx_emit emit;
    int json; /* JSON files name their teams */
} mx_events;

static int pass_scan(void *ctx, mx_raw *e) {
    mx_events *ev = ctx;
    if (ev->json) {
        int rc = scan_team(&ev->scan, e, 1);
        if (rc) return rc;
    }
    return scan_event(&ev->scan, e);
}

/* Second pass: a sink's non-zero return comes back unchanged. */
static int pass_emit(void *ctx, mx_raw *e) {
    mx_events *ev = ctx;
    if (ev->json) {
        int rc = scan_team(&ev->scan, e, 0);
        if (rc) return rc;
    }
    return emit_event(&ev->emit, e);
}

typedef int (*mx_walk_fn)(const char *path, mx_event_fn fn, void *ctx);

static void json_teams(const mx_scan *s, fa_match *m) {
    for (int k = 0; k < s->nteams; k++) {
        fa_strlcpy_utf8(m->teams[k].id, s->team_id[k], sizeof m->teams[k].id);
        fa_strlcpy_utf8(m->teams[k].name, s->team_name[k], sizeof m->teams[k].name);
    }
}

static int events_import(const char *path, const char *suffix, int json, mx_walk_fn walk,
                         const fa_sink *sink) {
    mx_events *ev = fa_calloc(1, sizeof *ev);
    if (!ev) return FA_ENOMEM;
    scan_init(&ev->scan);
    ev->json = json;
    int rc = walk(path, pass_scan, ev);
    fa_match m;
    mx_match_init(&m);
    if (!rc) {
        events_match(&ev->scan, path, suffix, &m);
        if (json)
            json_teams(&ev->scan, &m);
        else {
            snprintf(m.teams[FA_SIDE_HOME].id, sizeof m.teams[0].id, "Home");
            snprintf(m.teams[FA_SIDE_HOME].name, sizeof m.teams[0].name, "Home");
            snprintf(m.teams[FA_SIDE_AWAY].id, sizeof m.teams[0].id, "Away");
            snprintf(m.teams[FA_SIDE_AWAY].name, sizeof m.teams[0].name, "Away");
        }
        ev->emit = (mx_emit){.sink = sink, .scan = &ev->scan, .pitch = m.pitch};
        scan_flips(&ev->scan, ev->emit.flip);
        rc = emit_head(&ev->emit, &m);
    }
    if (!rc) rc = walk(path, pass_emit, ev);
    if (!rc && sink->end) rc = sink->end(sink->ud, &m);
    free(ev);
    return rc;
}

/* Imports a Metrica events CSV (Team,Type,Subtype,Period,Start Frame,...).
 * Reads the file twice (see the header comment): begin, one player per
 * distinct From/To id, one event per row, end. Returns 0, the first non-zero
 * sink return, or FA_EINVAL / FA_ELIMIT / FA_EIO / FA_ENOMEM with
 * "file:line: column N: problem" in the message. */
int fa_metrica_events_csv_import(const char *path, const fa_sink *sink) {
    return events_import(path, "_RawEventsData", 0, csv_walk, sink);
}

/* ------------------------------------------------------------ events JSON */

typedef struct mx_json {
    fa_json_reader *r;
    fa_arena *arena;
    int64_t last_frame;
} mx_json;

static int json_coord(mx_json *j, const fa_json_value *o, const char *key, double *out) {
    int rc = fa_json_opt_num(j->r, o, key, out);
    if (rc < 0) return rc;
    if (!mx_coord_ok(*out))
        return fa_json_error(j->r, fa_json_get(o, key), "field '%s': coordinate %g outside [%g, %g]", key,
                             *out, MX_COORD_MIN, MX_COORD_MAX);
    return 0;
}

static int json_time(mx_json *j, const fa_json_value *o, int required, double *out) {
    int rc = required ? fa_json_req_num(j->r, o, "time", out) : fa_json_opt_num(j->r, o, "time", out);
    if (rc < 0) return rc;
    if (!isnan(*out) && (*out < 0 || *out > MX_TIME_MAX))
        return fa_json_error(j->r, fa_json_get(o, "time"), "field 'time': %g outside [0, %g]", *out,
                             MX_TIME_MAX);
    return 0;
}

/* "start" (required) or "end" (may be null) {frame, time, x, y}. */
static int json_point(mx_json *j, const fa_json_value *v, const char *key, int required, int64_t *frame,
                      double *t, double *x, double *y) {
    const fa_json_value *o;
    int rc = required ? fa_json_req_obj(j->r, v, key, &o) : fa_json_opt_obj(j->r, v, key, &o);
    if (rc < 0 || !o) return rc < 0 ? rc : 0;
    rc = required ? fa_json_req_int(j->r, o, "frame", 0, MX_FRAME_MAX, frame)
                  : fa_json_opt_int(j->r, o, "frame", 0, MX_FRAME_MAX, frame);
    if (rc < 0) return rc;
    rc = json_time(j, o, required, t);
    if (!rc) rc = json_coord(j, o, "x", x);
    if (!rc) rc = json_coord(j, o, "y", y);
    return rc;
}

/* {"name": ..., "id": ...} or null: a player or a team. */
static int json_ref(mx_json *j, const fa_json_value *v, const char *key, const char **id, const char **name) {
    const fa_json_value *o;
    int rc = fa_json_opt_obj(j->r, v, key, &o);
    if (rc <= 0) return rc;
    rc = fa_json_req_str(j->r, o, "id", id);
    if (!rc && fa_json_opt_str(j->r, o, "name", name) < 0) rc = FA_EINVAL;
    if (!*name) *name = "";
    if (!rc && (strlen(*id) >= FA_ID_MAX || strlen(*id) == 0))
        return fa_json_error(j->r, fa_json_get(o, "id"), "field 'id': expected 1 to %d bytes", FA_ID_MAX - 1);
    return rc;
}

static int json_subtype_name(mx_json *j, const fa_json_value *o, fa_buf *b) {
    const char *name;
    int rc = fa_json_req_str(j->r, o, "name", &name);
    if (rc) return rc;
    if (b->len && fa_buf_putc(b, '-')) return FA_ENOMEM;
    return fa_buf_puts(b, name);
}

/* "subtypes": null, {name}, or [{name}, ...] -> "A-B-C" in the arena. */
static int json_subtypes(mx_json *j, const fa_json_value *v, const char **out) {
    const fa_json_value *s = fa_json_get(v, "subtypes");
    fa_buf b = {0};
    int rc = 0;
    if (s && s->type == FA_JSON_OBJECT)
        rc = json_subtype_name(j, s, &b);
    else if (s && s->type == FA_JSON_ARRAY)
        for (size_t i = 0; !rc && i < s->u.arr.n; i++) rc = json_subtype_name(j, s->u.arr.items[i], &b);
    else if (s && s->type != FA_JSON_NULL)
        rc = fa_json_error(j->r, s, "field 'subtypes': expected null, an object or an array, got %s",
                           fa_json_type_name(s->type));
    *out = "";
    if (!rc && b.len && !(*out = fa_arena_strndup(j->arena, b.data, b.len))) rc = FA_ENOMEM;
    fa_buf_free(&b);
    return rc;
}

static int json_type(mx_json *j, const fa_json_value *v, mx_raw *e) {
    const fa_json_value *t;
    int rc = fa_json_req_obj(j->r, v, "type", &t);
    if (!rc) rc = fa_json_req_str(j->r, t, "name", &e->type);
    if (!rc && (!*e->type || strlen(e->type) >= 48))
        return fa_json_error(j->r, fa_json_get(t, "name"), "field 'name': expected 1 to 47 bytes");
    return rc;
}

static int json_event(mx_json *j, const fa_json_value *v, mx_raw *e) {
    raw_init(e);
    snprintf(e->where, sizeof e->where, "%s:%" PRIu32 ":%" PRIu32, fa_json_name(j->r), v->line, v->col);
    int64_t period = 0;
    int rc = fa_json_req_int(j->r, v, "period", 1, MX_PERIODS, &period);
    if (!rc) rc = fa_json_opt_int(j->r, v, "index", 0, MX_FRAME_MAX, &e->index) < 0 ? FA_EINVAL : 0;
    if (!rc) rc = json_ref(j, v, "team", &e->team_id, &e->team_name);
    if (!rc && !*e->team_id) rc = fa_json_error(j->r, v, "missing required field 'team'");
    if (!rc) rc = json_type(j, v, e);
    if (!rc) rc = json_subtypes(j, v, &e->subtype);
    if (!rc) rc = json_ref(j, v, "from", &e->from, &e->from_name);
    if (!rc) rc = json_ref(j, v, "to", &e->to, &e->to_name);
    if (!rc) rc = json_point(j, v, "start", 1, &e->start_frame, &e->start_t, &e->sx, &e->sy);
    if (!rc) rc = json_point(j, v, "end", 0, &e->end_frame, &e->end_t, &e->ex, &e->ey);
    if (rc) return rc;
    e->period = (int)period;
    if (e->start_frame < j->last_frame)
        return fa_json_error(j->r, fa_json_get(v, "start"),
                             "start frame %" PRId64 " before the previous event's %" PRId64, e->start_frame,
                             j->last_frame);
    j->last_frame = e->start_frame;
    return 0;
}

/* Walks the elements of the array the reader stands in. */
static int json_walk_array(mx_json *j, mx_event_fn fn, void *ctx) {
    fa_json_value *v;
    mx_raw e;
    int rc;
    while ((rc = fa_json_array_next(j->r, j->arena, &v)) == 1) {
        if (v->type != FA_JSON_OBJECT) {
            rc = fa_json_error(j->r, v, "event: expected an object, got %s", fa_json_type_name(v->type));
            break;
        }
        rc = json_event(j, v, &e);
        if (!rc) rc = fn(ctx, &e);
        fa_arena_reset(j->arena);
        if (rc) break;
    }
    return rc;
}

/* {"data": [...], ...} (other members skipped) or a bare [...]. */
static int json_walk_top(mx_json *j, mx_event_fn fn, void *ctx) {
    fa_json_token tok;
    int rc = fa_json_next(j->r, &tok), found = 0;
    if (!rc && tok.type == FA_JSON_TOK_BEGIN_ARRAY) return json_walk_array(j, fn, ctx);
    if (!rc && tok.type != FA_JSON_TOK_BEGIN_OBJECT)
        return fa_err_set(FA_EINVAL, "%s:%" PRIu32 ":%" PRIu32 ": expected an object with a 'data' array",
                          fa_json_name(j->r), tok.line, tok.col);
    while (!rc && (rc = fa_json_next(j->r, &tok)) == 0 && tok.type == FA_JSON_TOK_KEY) {
        if (strcmp(tok.str, "data") != 0) {
            rc = fa_json_skip_value(j->r);
            continue;
        }
        rc = fa_json_expect(j->r, FA_JSON_TOK_BEGIN_ARRAY, &tok);
        if (!rc) rc = json_walk_array(j, fn, ctx);
        found = 1;
    }
    if (!rc && !found) return fa_err_set(FA_EINVAL, "%s: no 'data' array of events", fa_json_name(j->r));
    return rc;
}

static int json_walk(const char *path, mx_event_fn fn, void *ctx) {
    int rc = fa_file_check(path);
    if (rc) return rc;
    mx_json j = {.r = fa_json_open_file(path, 0), .arena = fa_arena_new(0)};
    if (!j.r || !j.arena) rc = fa_err_code() ? fa_err_code() : FA_EIO;
    if (!rc) rc = json_walk_top(&j, fn, ctx);
    if (!rc) {
        fa_json_token tok;
        rc = fa_json_next(j.r, &tok);
        if (!rc && tok.type != FA_JSON_TOK_EOF)
            rc = fa_err_set(FA_EINVAL, "%s:%" PRIu32 ":%" PRIu32 ": data after the end of the document",
                            fa_json_name(j.r), tok.line, tok.col);
    }
    if (j.r) fa_json_close(j.r);
    if (j.arena) fa_arena_free(j.arena);
    return rc;
}

/* Imports Metrica's events JSON ({"data": [ {index, team, type, subtypes,
 * start, end, period, from, to} ]}). Same two passes and semantics as the
 * CSV; the teams are the JSON's team ids, the first to appear being HOME
 * (the file does not say which is local; in sample game 3 that is FIFATMA,
 * which its EPTS metadata names the local team). Returns as the CSV import. */
int fa_metrica_events_json_import(const char *path, const fa_sink *sink) {
    return events_import(path, "_events", 1, json_walk, sink);
}

/* ------------------------------------------------------------ tracking CSV */

#define TK_MAX_TEAM_PLAYERS (FA_FRAME_MAX_PLAYERS / 2)
#define TK_MAX_COLS (3 + 2 * (TK_MAX_TEAM_PLAYERS + 1))

typedef struct tk_file { /* one team's file: its header and its current row */
    fa_csv_reader *r;
    const char *name;
    fa_side side;
    size_t ncols, nplayers;
    fa_player players[TK_MAX_TEAM_PLAYERS];
    int jersey[TK_MAX_COLS];
    /* the current row */
    int period;
    int64_t frame;
    double time;
    double x[TK_MAX_TEAM_PLAYERS], y[TK_MAX_TEAM_PLAYERS];
    double bx, by;
} tk_file;

static int tk_next_row(tk_file *t, const char *const **f, size_t *n, const char *what) {
    int rc = fa_csv_next(t->r, f, n);
    if (rc == 0) return fa_err_set(FA_EINVAL, "%s: ends before its %s row", t->name, what);
    return rc < 0 ? rc : 0;
}

/* Row 1: ",,,Home,,Home,...": every named cell must be this file's team. */
static int tk_team_row(tk_file *t) {
    const char *const *f;
    size_t n;
    int rc = tk_next_row(t, &f, &n, "team");
    if (rc) return rc;
    const char *want = t->side == FA_SIDE_HOME ? "Home" : "Away";
    if (n < 5 || n > TK_MAX_COLS)
        return fa_csv_error(t->r, 0, "team row: expected 5 to %d columns, got %zu", TK_MAX_COLS, n);
    t->ncols = n;
    for (size_t i = 0; i < n; i++)
        if (f[i][0] && !fa_strcaseeq(f[i], want))
            return fa_csv_error(t->r, i + 1, "team row: expected \"%s\" (this is the %s file), got \"%.40s\"",
                                want, fa_side_name(t->side), f[i]);
    return 0;
}

/* Row 2: ",,,11,,1,...": the shirt numbers. */
static int tk_jersey_row(tk_file *t) {
    const char *const *f;
    size_t n;
    int rc = tk_next_row(t, &f, &n, "jersey");
    if (rc) return rc;
    if (n != t->ncols) return fa_csv_error(t->r, 0, "jersey row: expected %zu columns, got %zu", t->ncols, n);
    for (size_t i = 0; i < n; i++) {
        int64_t v = -1;
        if (f[i][0] && fa_parse_int(f[i], 0, 999, &v))
            return fa_csv_error(t->r, i + 1, "jersey row: expected a shirt number, got \"%.40s\"", f[i]);
        t->jersey[i] = (int)v;
    }
    return 0;
}

static int tk_name_cell(tk_file *t, const char *const *f, size_t i) {
    if (!f[i][0] || strlen(f[i]) >= FA_ID_MAX || fa_strcaseeq(f[i], "Ball"))
        return fa_csv_error(t->r, i + 1, "names row: expected a player name, got \"%.40s\"", f[i]);
    for (size_t k = 0; k < t->nplayers; k++)
        if (strcmp(t->players[k].id, f[i]) == 0)
            return fa_csv_error(t->r, i + 1, "names row: player \"%s\" appears twice", f[i]);
    fa_player *p = &t->players[t->nplayers++];
    fa_player_init(p);
    fa_strlcpy_utf8(p->id, f[i], sizeof p->id);
    fa_strlcpy_utf8(p->name, f[i], sizeof p->name);
    p->side = t->side;
    p->shirt = t->jersey[i];
    return 0;
}

/* Row 3: "Period,Frame,Time [s],Player11,,Player1,,...,Ball,". */
static int tk_names_row(tk_file *t) {
    const char *const *f;
    size_t n;
    int rc = tk_next_row(t, &f, &n, "column names");
    if (rc) return rc;
    if (n != t->ncols || n % 2 == 0)
        return fa_csv_error(t->r, 0,
                            "names row: expected %zu columns (Period, Frame, Time, then x/y pairs), got %zu",
                            t->ncols, n);
    static const char *const fixed[3] = {"Period", "Frame", "Time [s]"};
    for (size_t i = 0; i < 3; i++)
        if (!fa_strcaseeq(f[i], fixed[i]))
            return fa_csv_error(t->r, i + 1, "names row: expected \"%s\", got \"%.40s\"", fixed[i], f[i]);
    if (!fa_strcaseeq(f[n - 2], "Ball"))
        return fa_csv_error(t->r, n - 1, "names row: expected \"Ball\" in the last pair, got \"%.40s\"",
                            f[n - 2]);
    for (size_t i = 3; !rc && i + 2 < n; i += 2) rc = tk_name_cell(t, f, i);
    return rc;
}

static int tk_open(tk_file *t, const char *path, fa_side side) {
    t->side = side;
    t->name = fa_path_base(path);
    int rc = fa_file_check(path);
    if (rc) return rc;
    if (!(t->r = fa_csv_open_file(path, ','))) return fa_err_code() ? fa_err_code() : FA_EIO;
    rc = tk_team_row(t);
    if (!rc) rc = tk_jersey_row(t);
    if (!rc) rc = tk_names_row(t);
    return rc;
}

static int tk_coord(tk_file *t, const char *const *f, size_t n, size_t i, double *out) {
    int rc = fa_csv_num(t->r, f, n, i, out);
    if (!rc && !mx_coord_ok(*out))
        return fa_csv_error(t->r, i + 1, "coordinate %g outside [%g, %g]", *out, MX_COORD_MIN, MX_COORD_MAX);
    return rc;
}

static int tk_parse_row(tk_file *t, const char *const *f, size_t n) {
    if (n != t->ncols)
        return fa_csv_error(t->r, 0, "expected %zu columns like the header, got %zu", t->ncols, n);
    int64_t period;
    if (fa_parse_int(f[0], 1, MX_PERIODS, &period))
        return fa_csv_error(t->r, 1, "'Period': expected 1 to %d, got \"%.40s\"", MX_PERIODS, f[0]);
    if (fa_parse_int(f[1], 0, MX_FRAME_MAX, &t->frame))
        return fa_csv_error(t->r, 2, "'Frame': expected an integer >= 0, got \"%.40s\"", f[1]);
    if (fa_parse_double(f[2], &t->time) || t->time < 0 || t->time > MX_TIME_MAX)
        return fa_csv_error(t->r, 3, "'Time [s]': expected seconds in [0, %g], got \"%.40s\"", MX_TIME_MAX,
                            f[2]);
    t->period = (int)period;
    int rc = 0;
    for (size_t k = 0; !rc && k < t->nplayers; k++) {
        rc = tk_coord(t, f, n, 3 + 2 * k, &t->x[k]);
        if (!rc) rc = tk_coord(t, f, n, 4 + 2 * k, &t->y[k]);
    }
    if (!rc) rc = tk_coord(t, f, n, n - 2, &t->bx);
    if (!rc) rc = tk_coord(t, f, n, n - 1, &t->by);
    return rc;
}

/* Reads one row; 1 = a row, 0 = end of file, < 0 error. Blank lines skipped. */
static int tk_read(tk_file *t) {
    const char *const *f;
    size_t n;
    int rc;
    while ((rc = fa_csv_next(t->r, &f, &n)) == 1 && n == 1 && f[0][0] == '\0') {
    }
    if (rc <= 0) return rc;
    rc = tk_parse_row(t, f, n);
    return rc ? rc : 1;
}

typedef struct tk_run {
    tk_file home, away;
    const fa_sink *sink;
    fa_pitch pitch;
    int period, flip;
    int64_t last_frame;
    double t0, last_time;
    fa_frame_player players[FA_FRAME_MAX_PLAYERS];
} tk_run;

/* Reads the next row of both files; 1 = a pair, 0 = both ended. */
static int tk_read_pair(tk_run *k) {
    int a = tk_read(&k->home);
    if (a < 0) return a;
    int b = tk_read(&k->away);
    if (b < 0) return b;
    if (a != b)
        return fa_err_set(FA_EINVAL,
                          "%s:%lu and %s:%lu: %s ends while %s goes on (the files must have the same frames)",
                          k->home.name, fa_csv_line(k->home.r), k->away.name, fa_csv_line(k->away.r),
                          a ? k->away.name : k->home.name, a ? k->home.name : k->away.name);
    if (a && (k->home.frame != k->away.frame || k->home.period != k->away.period))
        return fa_err_set(FA_EINVAL,
                          "%s:%lu and %s:%lu: frame mismatch (period %d frame %" PRId64
                          " vs period %d frame %" PRId64 ")",
                          k->home.name, fa_csv_line(k->home.r), k->away.name, fa_csv_line(k->away.r),
                          k->home.period, k->home.frame, k->away.period, k->away.frame);
    return a;
}

static void tk_mean(const tk_file *t, mx_mean *m) {
    for (size_t i = 0; i < t->nplayers; i++)
        if (!isnan(t->y[i])) mx_mean_add(m, t->x[i]);
}

/* Period bookkeeping and order checks for the current pair. */
static int tk_place(tk_run *k) {
    const tk_file *h = &k->home;
    if (h->frame <= k->last_frame || h->period < k->period)
        return fa_err_set(FA_EINVAL,
                          "%s:%lu: column 2: period %d frame %" PRId64
                          " does not follow period %d frame %" PRId64,
                          h->name, fa_csv_line(h->r), h->period, h->frame, k->period, k->last_frame);
    if (h->time < k->last_time)
        return fa_err_set(FA_EINVAL, "%s:%lu: column 3: time %g s goes back from %g s", h->name,
                          fa_csv_line(h->r), h->time, k->last_time);
    k->last_frame = h->frame;
    k->last_time = h->time;
    if (h->period == k->period) return 0;
    mx_mean home = {0, 0}, away = {0, 0};
    tk_mean(&k->home, &home);
    tk_mean(&k->away, &away);
    int plus = mx_home_attacks_raw_plus(&home, &away);
    k->flip = plus < 0 ? 0 : mx_flip_for(h->period, plus);
    k->period = h->period;
    k->t0 = h->time;
    return 0;
}

static size_t tk_add_players(tk_run *k, const tk_file *t, size_t n) {
    for (size_t i = 0; i < t->nplayers; i++) {
        if (isnan(t->x[i]) || isnan(t->y[i])) continue;
        double x, y;
        fa_pitch_from_provider(&k->pitch, 1.0, 1.0, 1, k->flip, t->x[i], t->y[i], &x, &y);
        k->players[n++] = (fa_frame_player){t->players[i].id, t->side, (float)x, (float)y};
    }
    return n;
}

static int tk_emit(tk_run *k) {
    fa_frame f;
    fa_frame_init(&f);
    f.frame = k->home.frame;
    f.period = k->home.period;
    f.t = k->home.time - k->t0;
    double x, y;
    fa_pitch_from_provider(&k->pitch, 1.0, 1.0, 1, k->flip, k->home.bx, k->home.by, &x, &y);
    f.ball_x = (float)x;
    f.ball_y = (float)y;
    f.n = tk_add_players(k, &k->away, tk_add_players(k, &k->home, 0));
    f.players = k->players;
    return k->sink->frame ? k->sink->frame(k->sink->ud, &f) : 0;
}

static int tk_check_ids(const tk_run *k) {
    for (size_t i = 0; i < k->away.nplayers; i++)
        for (size_t j = 0; j < k->home.nplayers; j++)
            if (strcmp(k->away.players[i].id, k->home.players[j].id) == 0)
                return fa_err_set(FA_EINVAL, "%s:3: player '%s' is also in %s", k->away.name,
                                  k->away.players[i].id, k->home.name);
    return 0;
}

static void tk_match(const tk_run *k, const char *home_path, const char *away_path, fa_match *m) {
    mx_match_init(m);
    mx_match_id(home_path, "_home", m->id, sizeof m->id);
    mx_match_source(m, home_path, away_path);
    snprintf(m->teams[FA_SIDE_HOME].id, sizeof m->teams[0].id, "Home");
    snprintf(m->teams[FA_SIDE_HOME].name, sizeof m->teams[0].name, "Home");
    snprintf(m->teams[FA_SIDE_AWAY].id, sizeof m->teams[0].id, "Away");
    snprintf(m->teams[FA_SIDE_AWAY].name, sizeof m->teams[0].name, "Away");
    /* Metrica's time column is frame / rate: the first row gives the rate. */
    double rate = k->home.time > 0 ? (double)k->home.frame / k->home.time : 0;
    m->frame_rate = rate >= 1 && rate <= 1000 ? round(rate * 1000) / 1000 : 25.0;
}

static int tk_head(tk_run *k, const fa_match *m) {
    const fa_sink *s = k->sink;
    int rc = s->begin ? s->begin(s->ud, m) : 0;
    for (size_t i = 0; !rc && i < k->home.nplayers; i++)
        rc = s->player ? s->player(s->ud, &k->home.players[i]) : 0;
    for (size_t i = 0; !rc && i < k->away.nplayers; i++)
        rc = s->player ? s->player(s->ud, &k->away.players[i]) : 0;
    return rc;
}

static int tk_stream(tk_run *k, const char *home_path, const char *away_path) {
    int rc = tk_check_ids(k);
    int more = rc ? rc : tk_read_pair(k);
    if (more < 0) return more;
    fa_match m;
    tk_match(k, home_path, away_path, &m);
    rc = tk_head(k, &m);
    while (!rc && more == 1) {
        rc = tk_place(k);
        if (!rc) rc = tk_emit(k);
        if (!rc) more = tk_read_pair(k);
        if (more < 0) rc = more;
    }
    if (!rc && k->sink->end) rc = k->sink->end(k->sink->ud, &m);
    return rc;
}

/* Imports Metrica's tracking CSV pair (three header rows: team, jersey,
 * names; then Period,Frame,Time [s], x/y per player, ball x/y; NaN when
 * absent), the two files in lockstep. Streams begin, every player of both
 * headers (shirt from the jersey row), one frame per row pair (players with
 * a position; the ball from the home file, z unknown), end. Returns 0, the
 * first non-zero sink return, or FA_EINVAL / FA_EIO / FA_ENOMEM with
 * "file:line: column N: problem" in the message. */
int fa_metrica_tracking_import(const char *home_path, const char *away_path, const fa_sink *sink) {
    tk_run *k = fa_calloc(1, sizeof *k);
    if (!k) return FA_ENOMEM;
    k->sink = sink;
    k->last_frame = -1;
    k->pitch = (fa_pitch){FA_PITCH_DEFAULT_LENGTH, FA_PITCH_DEFAULT_WIDTH};
    int rc = tk_open(&k->home, home_path, FA_SIDE_HOME);
    if (!rc) rc = tk_open(&k->away, away_path, FA_SIDE_AWAY);
    if (!rc) rc = tk_stream(k, home_path, away_path);
    if (k->home.r) fa_csv_close(k->home.r);
    if (k->away.r) fa_csv_close(k->away.r);
    free(k);
    return rc;
}
