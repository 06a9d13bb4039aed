/*
 * lastrow.c - Friends-of-Tracking "Last-Row" tracking CSV: hand-made
 * positions of every player and the ball through one goal, e.g.
 * tracking/lastrow/LIV_2-1_CHE.csv (195 frames at 20 fps).
 *
 * The format (learnt from the file; no specification exists):
 *   player,frame,x,y,z,dx,dy,coords,player_num,player_obj,team,num,name,edgecolor,bgcolor
 * one row per object per frame. x and y are 0..100 of a 105 x 68 m pitch with
 * y UP (the "coords" column holds the drawing's pixel position, 735 x 476
 * with pixel y down: pixel y falls as y grows). team is "attack" or
 * "defense" for players and empty for the ball (player "0", z 0.0). dx, dy
 * are per-frame displacements (ignored: analytics differentiates itself),
 * player_num a shirt number when known ("10.0"), name usually empty.
 *
 * Why it buffers: the rows are grouped BY OBJECT (all frames of the ball,
 * then all frames of the next player ...), while a fa_sink wants whole
 * frames in time order. So the parser keeps every row (frame, object, x, y;
 * 24 bytes each) up to LR_MAX_ROWS (a clip of 100000 object-frames, about
 * 4 minutes of 22 players at 20 fps; more is FA_ELIMIT), sorts them by
 * (frame, object) and then emits. The bound makes memory constant per
 * file size; a Last-Row file is one goal, so it is never approached by real
 * data. The whole file is validated before anything is emitted.
 *
 * Semantics chosen (documented in the report and the definitions):
 *   - match id = the file stem; period 1 (the clip's half is not given);
 *     t = frame / 20 s; frame_rate 20;
 *   - HOME = the "attack" team (it scores the goal), AWAY = "defense". When
 *     the stem reads TEAM_N-M_TEAM ("LIV_2-1_CHE") the first team names the
 *     attackers and the score is N-M as written; otherwise the teams are
 *     "Attack" / "Defense" and the score is unknown. In the sample, the red
 *     attackers are Liverpool and the blue defenders Chelsea;
 *   - the attackers run towards provider x = 0 (the ball ends at x -0.7,
 *     y 49: in the goal), so the frame is rotated 180 degrees to put HOME on
 *     +x in period 1 (model.h);
 *   - the ball's z is 0.0 throughout (not measured): ball_z is NAN;
 *   - a player's name is the name column, else his id; minutes unknown.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "ingest.h"

#define LR_FPS 20.0
#define LR_MAX_ROWS 100000
#define LR_MAX_OBJECTS (FA_FRAME_MAX_PLAYERS + 1) /* the players and one ball */
#define LR_FRAME_MAX INT64_C(100000000)
#define LR_COORD_MIN (-25.0) /* a quarter pitch beyond the lines: hand-drawn, not measured */
#define LR_COORD_MAX 125.0

enum { COL_PLAYER, COL_FRAME, COL_X, COL_Y, COL_TEAM, COL_NUM, COL_NAME, COL_COUNT };
static const char *const col_names[COL_COUNT] = {"player", "frame", "x", "y", "team", "player_num", "name"};
#define LR_REQUIRED_COLS 5 /* player..team are required, the rest optional */

typedef struct lr_row {
    int64_t frame;
    float x, y;    /* provider 0..100, NAN when absent */
    uint32_t line; /* for messages */
    uint16_t obj;  /* index into objects */
} lr_row;

typedef struct lr_object {
    fa_player p; /* side FA_SIDE_NONE for the ball */
    int is_ball;
} lr_object;

typedef struct lr_parse {
    fa_csv_reader *r;
    const char *name;      /* file base name */
    size_t col[COL_COUNT]; /* field index per column, SIZE_MAX when absent */
    size_t ncols;
    lr_object objects[LR_MAX_OBJECTS];
    size_t nobjects, nplayers, last_obj; /* nplayers: objects that are not the ball */
    lr_row *rows;
    size_t nrows, cap;
    fa_frame_player fp[FA_FRAME_MAX_PLAYERS];
} lr_parse;

/* ------------------------------------------------------------ header */

static int lr_header(lr_parse *lp) {
    const char *const *f;
    size_t n;
    int rc = fa_csv_next(lp->r, &f, &n);
    if (rc < 0) return rc;
    if (rc == 0)
        return fa_err_set(FA_EINVAL, "%s: empty file (expected the header player,frame,x,y,...)", lp->name);
    for (size_t c = 0; c < COL_COUNT; c++) lp->col[c] = SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < COL_COUNT; c++)
            if (strcmp(f[i], col_names[c]) == 0 && lp->col[c] == SIZE_MAX) lp->col[c] = i;
    for (size_t c = 0; c < LR_REQUIRED_COLS; c++)
        if (lp->col[c] == SIZE_MAX)
            return fa_csv_error(lp->r, 0, "header: column '%s' missing (expected player,frame,x,y,...,team)",
                                col_names[c]);
    lp->ncols = n;
    return 0;
}

/* ------------------------------------------------------------ objects */

static int lr_team_side(lr_parse *lp, const char *team, fa_side *side) {
    if (team[0] == '\0')
        *side = FA_SIDE_NONE;
    else if (strcmp(team, "attack") == 0)
        *side = FA_SIDE_HOME;
    else if (strcmp(team, "defense") == 0 || strcmp(team, "defence") == 0)
        *side = FA_SIDE_AWAY;
    else
        return fa_csv_error(lp->r, lp->col[COL_TEAM] + 1,
                            "'team': expected \"attack\", \"defense\" or empty (the ball), got \"%.40s\"",
                            team);
    return 0;
}

/* player_num "10.0" -> 10; "" -> -1. */
static int lr_shirt(lr_parse *lp, const char *const *f, int *shirt) {
    *shirt = -1;
    if (lp->col[COL_NUM] == SIZE_MAX || !f[lp->col[COL_NUM]][0]) return 0;
    double v;
    if (fa_parse_double(f[lp->col[COL_NUM]], &v) || v < 0 || v > 999 || v != floor(v))
        return fa_csv_error(lp->r, lp->col[COL_NUM] + 1,
                            "'player_num': expected a shirt number 0..999, got \"%.40s\"",
                            f[lp->col[COL_NUM]]);
    *shirt = (int)v;
    return 0;
}

static int lr_new_object(lr_parse *lp, const char *const *f, const char *id, fa_side side) {
    if (side != FA_SIDE_NONE && lp->nplayers == FA_FRAME_MAX_PLAYERS)
        return fa_csv_error(lp->r, lp->col[COL_PLAYER] + 1, "more than %d players", FA_FRAME_MAX_PLAYERS);
    if (side == FA_SIDE_NONE)
        for (size_t i = 0; i < lp->nobjects; i++)
            if (lp->objects[i].is_ball)
                return fa_csv_error(lp->r, lp->col[COL_TEAM] + 1,
                                    "object \"%s\" has no team, but \"%s\" is already the ball", id,
                                    lp->objects[i].p.id);
    lr_object *o = &lp->objects[lp->nobjects];
    fa_player_init(&o->p);
    int rc = lr_shirt(lp, f, &o->p.shirt);
    if (rc) return rc;
    fa_strlcpy_utf8(o->p.id, id, sizeof o->p.id);
    const char *name = lp->col[COL_NAME] != SIZE_MAX ? f[lp->col[COL_NAME]] : "";
    fa_strlcpy_utf8(o->p.name, name[0] ? name : id, sizeof o->p.name);
    o->p.side = side;
    o->is_ball = side == FA_SIDE_NONE;
    lp->nplayers += !o->is_ball;
    lp->last_obj = lp->nobjects++;
    return 0;
}

/* Finds or adds the row's object; its team must never change. */
static int lr_object_of(lr_parse *lp, const char *const *f, uint16_t *obj) {
    const char *id = f[lp->col[COL_PLAYER]];
    if (!id[0] || strlen(id) >= FA_ID_MAX)
        return fa_csv_error(lp->r, lp->col[COL_PLAYER] + 1,
                            "'player': expected an id of 1 to %d bytes, got \"%.40s\"", FA_ID_MAX - 1, id);
    fa_side side = FA_SIDE_NONE;
    int rc = lr_team_side(lp, f[lp->col[COL_TEAM]], &side);
    if (rc) return rc;
    size_t i = lp->last_obj; /* rows come grouped by object: try the last one first */
    if (i >= lp->nobjects || strcmp(lp->objects[i].p.id, id) != 0)
        for (i = 0; i < lp->nobjects && strcmp(lp->objects[i].p.id, id) != 0; i++) {
        }
    if (i == lp->nobjects) {
        rc = lr_new_object(lp, f, id, side);
        if (rc) return rc;
    } else if (lp->objects[i].p.side != side) {
        return fa_csv_error(lp->r, lp->col[COL_TEAM] + 1,
                            "'team': object \"%s\" changes team from \"%s\" to \"%.40s\"", id,
                            lp->objects[i].is_ball                  ? ""
                            : lp->objects[i].p.side == FA_SIDE_HOME ? "attack"
                                                                    : "defense",
                            f[lp->col[COL_TEAM]]);
    }
    lp->last_obj = i;
    *obj = (uint16_t)i;
    return 0;
}

/* ------------------------------------------------------------ rows */

static int lr_coord(lr_parse *lp, const char *const *f, size_t n, size_t c, float *out) {
    double v;
    int rc = fa_csv_num(lp->r, f, n, lp->col[c], &v);
    if (rc) return rc;
    if (!isnan(v) && (v < LR_COORD_MIN || v > LR_COORD_MAX))
        return fa_csv_error(lp->r, lp->col[c] + 1, "'%s': %g outside [%g, %g]", col_names[c], v, LR_COORD_MIN,
                            LR_COORD_MAX);
    *out = (float)v;
    return 0;
}

static int lr_push(lr_parse *lp, const lr_row *row) {
    if (lp->nrows == LR_MAX_ROWS)
        return fa_err_set(FA_ELIMIT,
                          "%s:%lu: more than %d rows: a Last-Row file is one goal's clip (limit %d rows)",
                          lp->name, fa_csv_line(lp->r), LR_MAX_ROWS, LR_MAX_ROWS);
    if (lp->nrows == lp->cap) {
        size_t cap = lp->cap ? 2 * lp->cap : 1024;
        if (cap > LR_MAX_ROWS) cap = LR_MAX_ROWS;
        lr_row *n = fa_realloc(lp->rows, cap * sizeof *n);
        if (!n) return FA_ENOMEM;
        lp->rows = n;
        lp->cap = cap;
    }
    lp->rows[lp->nrows++] = *row;
    return 0;
}

static int lr_parse_row(lr_parse *lp, const char *const *f, size_t n) {
    if (n != lp->ncols)
        return fa_csv_error(lp->r, 0, "expected %zu fields like the header, got %zu", lp->ncols, n);
    lr_row row = {.line = (uint32_t)fa_csv_line(lp->r)};
    if (fa_parse_int(f[lp->col[COL_FRAME]], 0, LR_FRAME_MAX, &row.frame))
        return fa_csv_error(lp->r, lp->col[COL_FRAME] + 1,
                            "'frame': expected an integer 0..%" PRId64 ", got \"%.40s\"", LR_FRAME_MAX,
                            f[lp->col[COL_FRAME]]);
    int rc = lr_object_of(lp, f, &row.obj);
    if (!rc) rc = lr_coord(lp, f, n, COL_X, &row.x);
    if (!rc) rc = lr_coord(lp, f, n, COL_Y, &row.y);
    if (!rc && isnan(row.x) != isnan(row.y))
        return fa_csv_error(lp->r, lp->col[COL_X] + 1, "'x' and 'y': one is empty, the other is not");
    return rc ? rc : lr_push(lp, &row);
}

static int lr_read_rows(lr_parse *lp) {
    const char *const *f;
    size_t n;
    int rc;
    while ((rc = fa_csv_next(lp->r, &f, &n)) == 1) {
        if (fa_csv_line(lp->r) > UINT32_MAX)
            return fa_err_set(FA_ELIMIT, "%s: more than %" PRIu32 " lines", lp->name, UINT32_MAX);
        rc = lr_parse_row(lp, f, n);
        if (rc) return rc;
    }
    if (rc < 0) return rc;
    if (lp->nrows == 0) return fa_err_set(FA_EINVAL, "%s:2: no data rows after the header", lp->name);
    return 0;
}

static int lr_row_cmp(const void *a, const void *b) {
    const lr_row *x = a, *y = b;
    if (x->frame != y->frame) return x->frame < y->frame ? -1 : 1;
    if (x->obj != y->obj) return x->obj < y->obj ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Sorts the rows into frames; an object twice in one frame is an error. */
static int lr_sort(lr_parse *lp) {
    qsort(lp->rows, lp->nrows, sizeof *lp->rows, lr_row_cmp);
    for (size_t i = 1; i < lp->nrows; i++) {
        const lr_row *a = &lp->rows[i - 1], *b = &lp->rows[i];
        if (a->frame == b->frame && a->obj == b->obj)
            return fa_err_set(FA_EINVAL,
                              "%s:%" PRIu32 ": object \"%s\" appears twice in frame %" PRId64
                              " (first at line %" PRIu32 ")",
                              lp->name, b->line, lp->objects[b->obj].p.id, b->frame, a->line);
    }
    return 0;
}

/* ------------------------------------------------------------ the match */

/* "LIV_2-1_CHE" -> teams LIV / CHE, score 2-1. Returns 1 when it matched. */
static int lr_stem_teams(const char *stem, fa_match *m) {
    const char *u1 = strchr(stem, '_');
    const char *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
    if (!u1 || !u2 || u1 == stem || !u2[1] || strchr(u2 + 1, '_')) return 0;
    char score[32];
    size_t len = (size_t)(u2 - u1 - 1);
    if (len == 0 || len >= sizeof score) return 0;
    memcpy(score, u1 + 1, len);
    score[len] = '\0';
    char *dash = strchr(score, '-');
    int64_t h, a;
    if (!dash) return 0;
    *dash = '\0';
    if (fa_parse_int(score, 0, 99, &h) || fa_parse_int(dash + 1, 0, 99, &a)) return 0;
    char home[FA_NAME_MAX];
    size_t hl = (size_t)(u1 - stem) < sizeof home ? (size_t)(u1 - stem) : sizeof home - 1;
    memcpy(home, stem, hl);
    home[hl] = '\0';
    fa_strlcpy_utf8(m->teams[FA_SIDE_HOME].id, home, sizeof m->teams[0].id);
    fa_strlcpy_utf8(m->teams[FA_SIDE_HOME].name, home, sizeof m->teams[0].name);
    fa_strlcpy_utf8(m->teams[FA_SIDE_AWAY].id, u2 + 1, sizeof m->teams[1].id);
    fa_strlcpy_utf8(m->teams[FA_SIDE_AWAY].name, u2 + 1, sizeof m->teams[1].name);
    m->score[FA_SIDE_HOME] = (int)h;
    m->score[FA_SIDE_AWAY] = (int)a;
    return 1;
}

static void lr_match(const char *path, fa_match *m) {
    fa_match_init(m, FA_PROVIDER_LASTROW);
    const char *base = fa_path_base(path);
    fa_strlcpy_utf8(m->source, base, sizeof m->source);
    char stem[FA_ID_MAX];
    fa_strlcpy_utf8(stem, base, sizeof stem);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = '\0';
    fa_strlcpy_utf8(m->id, stem, sizeof m->id);
    if (!lr_stem_teams(stem, m)) {
        strcpy(m->teams[FA_SIDE_HOME].id, "attack");
        strcpy(m->teams[FA_SIDE_HOME].name, "Attack");
        strcpy(m->teams[FA_SIDE_AWAY].id, "defense");
        strcpy(m->teams[FA_SIDE_AWAY].name, "Defense");
    }
    m->provider_length = 100;
    m->provider_width = 100;
    strcpy(m->provider_unit, "percent");
    m->frame_rate = LR_FPS;
}

/* ------------------------------------------------------------ emit */

static void lr_to_model(const fa_match *m, const lr_row *row, float *x, float *y) {
    double mx, my;
    fa_pitch_from_provider(&m->pitch, 100.0, 100.0, 0, 1, row->x, row->y, &mx, &my);
    *x = (float)mx;
    *y = (float)my;
}

/* Emits the frame made of rows [i, j). */
static int lr_emit_frame(lr_parse *lp, const fa_match *m, const fa_sink *sink, size_t i, size_t j) {
    fa_frame f;
    fa_frame_init(&f);
    f.frame = lp->rows[i].frame;
    f.period = 1;
    f.t = (double)f.frame / LR_FPS;
    size_t n = 0;
    for (size_t k = i; k < j; k++) {
        const lr_row *row = &lp->rows[k];
        const lr_object *o = &lp->objects[row->obj];
        if (isnan(row->x)) continue;
        if (o->is_ball) {
            lr_to_model(m, row, &f.ball_x, &f.ball_y);
            continue;
        }
        fa_frame_player *p = &lp->fp[n++];
        p->player_id = o->p.id;
        p->side = o->p.side;
        lr_to_model(m, row, &p->x, &p->y);
    }
    f.n = n;
    f.players = lp->fp;
    return sink->frame ? sink->frame(sink->ud, &f) : 0;
}

static int lr_emit(lr_parse *lp, const fa_match *m, const fa_sink *sink) {
    int rc = sink->begin ? sink->begin(sink->ud, m) : 0;
    for (size_t i = 0; !rc && i < lp->nobjects; i++)
        if (!lp->objects[i].is_ball && sink->player) rc = sink->player(sink->ud, &lp->objects[i].p);
    for (size_t i = 0, j; !rc && i < lp->nrows; i = j) {
        for (j = i + 1; j < lp->nrows && lp->rows[j].frame == lp->rows[i].frame; j++) {
        }
        rc = lr_emit_frame(lp, m, sink, i, j);
    }
    if (!rc && sink->end) rc = sink->end(sink->ud, m);
    return rc;
}

/* Imports a Last-Row tracking CSV (see the header comment for the format and
 * the semantics chosen). Streams begin, every player (ball excluded, in order
 * of first appearance), one frame per distinct frame number in frame order
 * (period 1, t = frame / 20 s, players with a position, the ball when it has
 * one), end. Nothing is emitted unless the whole file is valid. Returns 0,
 * the first non-zero sink return, FA_ELIMIT beyond LR_MAX_ROWS rows, or
 * FA_EINVAL / FA_EIO / FA_ENOMEM with "file:line: column N: problem". */
int fa_lastrow_import(const char *path, const fa_sink *sink) {
    int rc = fa_file_check(path);
    if (rc) return rc;
    lr_parse *lp = fa_calloc(1, sizeof *lp);
    if (!lp) return FA_ENOMEM;
    lp->name = fa_path_base(path);
    lp->r = fa_csv_open_file(path, ',');
    rc = lp->r ? 0 : fa_err_code() ? fa_err_code() : FA_EIO;
    if (!rc) rc = lr_header(lp);
    if (!rc) rc = lr_read_rows(lp);
    if (!rc) rc = lr_sort(lp);
    if (!rc) {
        fa_match m;
        lr_match(path, &m);
        rc = lr_emit(lp, &m, sink);
    }
    if (lp->r) fa_csv_close(lp->r);
    free(lp->rows);
    free(lp);
    return rc;
}
