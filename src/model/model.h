/*
 * model.h - the domain model every other part of FootAnalytics speaks:
 * matches, teams, players, events, tracking frames and pitch geometry.
 *
 * One convention everywhere (ARCHITECTURE.md section 1):
 *   - distances in metres, the origin at the centre spot;
 *   - x along the length, y across it, y up (towards the left touchline as
 *     seen by a team attacking +x);
 *   - the HOME team attacks +x in the first half (periods 1 and 3) and -x in
 *     the second (periods 2 and 4); so an event's coordinates never depend
 *     on who performed it;
 *   - time in seconds from the start of the period.
 * Providers' own frames (StatsBomb 120x80 yards, Metrica 0..1, Wyscout
 * 0..100, SkillCorner metres) are converted at ingest; the provider's pitch
 * size is kept on the match so the conversion can be explained.
 *
 * model knows nothing of I/O: plain structs and pure helpers only. Strings are
 * fixed-size and NUL-terminated (truncated on a UTF-8 boundary) so records
 * can be passed by pointer without allocation.
 */
#ifndef FA_MODEL_H
#define FA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define FA_ID_MAX 64
#define FA_NAME_MAX 128

typedef enum fa_provider {
    FA_PROVIDER_UNKNOWN = 0,
    FA_PROVIDER_STATSBOMB,
    FA_PROVIDER_METRICA,
    FA_PROVIDER_SKILLCORNER,
    FA_PROVIDER_WYSCOUT,
    FA_PROVIDER_VIDEO, /* tracking produced by our own vision pipeline */
    FA_PROVIDER_LASTROW, /* Friends-of-Tracking Last-Row hand-made tracking */
    FA_PROVIDER_COUNT
} fa_provider;

const char *fa_provider_name(fa_provider p);  /* "statsbomb", ... */
fa_provider fa_provider_parse(const char *s); /* FA_PROVIDER_UNKNOWN if none */

typedef enum fa_side { FA_SIDE_NONE = -1, FA_SIDE_HOME = 0, FA_SIDE_AWAY = 1 } fa_side;
const char *fa_side_name(fa_side s); /* "home", "away", "" */

/* Pitch geometry in metres. Defaults to 105 x 68 when a provider gives none. */
typedef struct fa_pitch {
    double length, width;
} fa_pitch;
#define FA_PITCH_DEFAULT_LENGTH 105.0
#define FA_PITCH_DEFAULT_WIDTH 68.0

/* 1 when the home team attacks +x in this period (odd periods), else 0. */
int fa_home_attacks_plus_x(int period);
/* +1 when side attacks +x in this period, -1 when it attacks -x (0 for FA_SIDE_NONE). */
int fa_attack_dir(fa_side side, int period);
/* Converts a provider coordinate to model metres.
 *   (px, py): the provider's coordinate, px in [0, plen], py in [0, pwid];
 *   y_down:   1 when the provider's y grows downwards (StatsBomb, Metrica, Wyscout);
 *   flip:     1 to rotate by 180 degrees (the provider's frame attacks the other way).
 * NAN in gives NAN out. */
void fa_pitch_from_provider(const fa_pitch *p, double plen, double pwid, int y_down, int flip,
                            double px, double py, double *x, double *y);

typedef struct fa_team {
    char id[FA_ID_MAX]; /* provider's team id */
    char name[FA_NAME_MAX];
} fa_team;

typedef struct fa_match {
    fa_provider provider;
    char id[FA_ID_MAX]; /* provider's match id, or the file stem where it has none */
    char competition[FA_NAME_MAX];
    char season[FA_NAME_MAX];
    char date[32];    /* ISO 8601 "YYYY-MM-DD" or "" */
    fa_team teams[2]; /* [FA_SIDE_HOME], [FA_SIDE_AWAY] */
    int score[2];     /* goals; -1 when unknown */
    fa_pitch pitch;   /* the real pitch in metres */
    double provider_length, provider_width; /* the provider's coordinate extent */
    char provider_unit[16];                 /* "yd", "m", "unit", "percent" */
    double frame_rate;                      /* tracking frames per second; 0 when none */
    char source[512];                       /* the files it came from, comma-separated base names */
} fa_match;

/* Fills defaults: unknown scores, a 105 x 68 pitch, empty strings. */
void fa_match_init(fa_match *m, fa_provider provider);

typedef struct fa_player {
    char id[FA_ID_MAX]; /* provider's player id */
    fa_side side;
    char name[FA_NAME_MAX];
    int shirt;             /* -1 when unknown */
    char position[48];     /* provider's position name, "" when unknown */
    double minutes;        /* minutes played in this match; NAN when unknown */
    int starter;           /* 1 started, 0 substitute or unused, -1 unknown */
} fa_player;

void fa_player_init(fa_player *p);

/* Normalised event kinds; the provider's own type name is kept verbatim
 * in fa_event.type. */
typedef enum fa_event_kind {
    FA_EV_OTHER = 0,
    FA_EV_PASS,
    FA_EV_SHOT,
    FA_EV_CARRY,
    FA_EV_RECEIPT,
    FA_EV_DRIBBLE,
    FA_EV_DUEL,
    FA_EV_PRESSURE,
    FA_EV_RECOVERY,
    FA_EV_INTERCEPTION,
    FA_EV_CLEARANCE,
    FA_EV_BLOCK,
    FA_EV_FOUL,
    FA_EV_GOALKEEPER,
    FA_EV_SET_PIECE,
    FA_EV_BALL_OUT,
    FA_EV_CARD,
    FA_EV_SUBSTITUTION,
    FA_EV_PERIOD_START,
    FA_EV_PERIOD_END,
    FA_EV_OWN_GOAL,
    FA_EV_COUNT
} fa_event_kind;

const char *fa_event_kind_name(fa_event_kind k); /* "pass", "shot", ... */
/* Case-insensitive; returns -1 for an unknown name. */
int fa_event_kind_parse(const char *s);

typedef struct fa_event {
    int64_t seq;      /* order within the match, from 0 */
    int period;       /* 1, 2; 3, 4 extra time; 5 penalty shoot-out */
    double t;         /* seconds from the start of the period */
    double duration;  /* seconds; NAN when not given */
    fa_event_kind kind;
    char type[48];    /* provider's type name, verbatim ("Pass", "Ball Receipt*", "SET PIECE") */
    char subtype[48]; /* provider's subtype ("KICK OFF", "Free Kick", ...), "" */
    fa_side side;     /* team in action */
    char player_id[FA_ID_MAX];    /* "" when none */
    char recipient_id[FA_ID_MAX]; /* pass recipient, "" when none */
    double x, y;                  /* metres, model convention; NAN when absent */
    double end_x, end_y, end_z;   /* NAN when absent */
    int success;                  /* 1 success, 0 failure, -1 not applicable or unknown */
    char outcome[48];             /* provider's outcome name ("Incomplete", "Goal"), "" */
    double xg;                    /* provider's expected goals; NAN when none */
    char body_part[32];           /* "Right Foot", "Head", ... ; "" */
    char pass_type[32];           /* "Corner", "Free Kick", "Throw-in", ... ; "" */
    int under_pressure;           /* 1 or 0 */
    int goal;                     /* 1 when this event scored (a shot that went in, an own goal) */
    char provider_id[FA_ID_MAX];  /* provider's event id */
    char related[256];            /* provider ids of related events, comma-separated */
} fa_event;

void fa_event_init(fa_event *e);
/* 1 when play stops after this event: ball out, foul, card, substitution,
 * own goal, end of a period, or any event that scored. */
int fa_event_ends_play(const fa_event *e);

/* One tracked object in a frame. player_id points at a string owned by the
 * producer and valid for the duration of the call that passes the frame. */
typedef struct fa_frame_player {
    const char *player_id;
    fa_side side;
    float x, y; /* metres */
} fa_frame_player;

typedef struct fa_frame {
    int64_t frame;  /* provider's frame number */
    int period;
    double t;       /* seconds from the start of the period */
    float ball_x, ball_y, ball_z; /* NAN when unknown */
    int ball_alive;               /* 1 in play, 0 dead, -1 unknown */
    fa_side ball_owner_side;      /* FA_SIDE_NONE when unknown */
    const char *ball_owner_id;    /* NULL when unknown */
    size_t n;
    const fa_frame_player *players;
} fa_frame;

#define FA_FRAME_MAX_PLAYERS 64

/* Empty frame: ball unknown (NAN, alive -1, no owner), no players. */
void fa_frame_init(fa_frame *f);

/* The stream a parser produces, in this order:
 *   begin (once) -> any mix of player, event, frame -> end (once).
 * player may come before or after events (StatsBomb knows minutes only at
 * the end). end receives the final match facts (the score a parser counted).
 * Any callback returning non-zero stops the parse; the parser returns that
 * value unchanged. Callbacks may be NULL. */
typedef struct fa_sink {
    void *ud;
    int (*begin)(void *ud, const fa_match *m);
    int (*player)(void *ud, const fa_player *p);
    int (*event)(void *ud, const fa_event *e);
    int (*frame)(void *ud, const fa_frame *f);
    int (*end)(void *ud, const fa_match *m);
} fa_sink;

/* Derived aggregates: what analytics computes for a match and the store
 * keeps. Metrics are named scalars for a team (player_id "") or a player;
 * grids are per-cell values (heatmaps); docs are JSON documents for what is
 * neither (definitions used, possession timeline, pass networks, speed
 * profiles). Names are stable identifiers ("distance_m", "sprints",
 * "possession_share"); units are part of the name where there is one. */
typedef struct fa_metric {
    fa_side side;
    char player_id[FA_ID_MAX]; /* "" for a team metric */
    char name[48];
    double value;
} fa_metric;

typedef struct fa_grid {
    fa_side side;
    char player_id[FA_ID_MAX]; /* "" for a team grid */
    char name[32];             /* "heatmap" */
    int nx, ny;
    double *cells;             /* cells[j * nx + i], owned */
} fa_grid;

typedef struct fa_doc {
    char name[64]; /* "definitions", "possession_timeline", "pass_network_home", ... */
    char *json;    /* owned */
} fa_doc;

typedef struct fa_aggregates {
    fa_metric *metrics;
    size_t nmetrics, cap_metrics;
    fa_grid *grids;
    size_t ngrids, cap_grids;
    fa_doc *docs;
    size_t ndocs, cap_docs;
} fa_aggregates;

/* Appenders copy their inputs; they return 0 or a negative error (no memory,
 * name too long). fa_aggregates starts zeroed. */
int fa_aggregates_metric(fa_aggregates *a, fa_side side, const char *player_id, const char *name, double value);
int fa_aggregates_grid(fa_aggregates *a, fa_side side, const char *player_id, const char *name, int nx, int ny,
                       const double *cells);
int fa_aggregates_doc(fa_aggregates *a, const char *name, const char *json);
void fa_aggregates_free(fa_aggregates *a);

#endif
