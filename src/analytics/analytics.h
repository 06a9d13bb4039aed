/*
 * analytics.h - the face of src/analytics: physical and tactical metrics as
 * pure functions over the domain model (model.h). Nothing here does I/O.
 *
 * Vendors disagree on definitions (speed bands, sprint thresholds, what a
 * progressive pass is), so every threshold lives in fa_analytics_config,
 * every output can state the definition it used (fa_analytics_config_json),
 * and the defaults follow the literature cited in each unit's header comment.
 *
 * Coordinates follow model.h: metres, origin at the centre spot, y up, the
 * home team attacking +x in periods 1 and 3 (fa_attack_dir gives any side's
 * direction). Times are seconds from the start of the period.
 *
 * Units (one file each): config.c, tracks.c (frames -> per-object tracks),
 * kinematics.c (smoothing, speed, acceleration, outlier gates, gaps),
 * physical.c (distance, zones, efforts, peaks), heatmap.c, pitch_control.c,
 * possession.c, passes.c (counts, networks, strings), xt.c, match.c (every
 * metric of one match, the thing import stores).
 */
#ifndef FA_ANALYTICS_H
#define FA_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "model/model.h"

/* ------------------------------------------------------------ configuration */

#define FA_MAX_BANDS 8

typedef struct fa_band {
    char name[24];
    double lo, hi; /* [lo, hi): km/h for absolute bands, percent of peak speed for relative; hi may be INFINITY */
} fa_band;

typedef enum fa_smoothing { FA_SMOOTH_NONE, FA_SMOOTH_SAVGOL, FA_SMOOTH_BUTTERWORTH } fa_smoothing;

typedef struct fa_pc_params {
    double max_speed;        /* m/s (5) */
    double reaction_s;       /* s (0.7) */
    double tti_sigma;        /* s, time-to-intercept uncertainty (0.45) */
    double lambda;           /* 1/s, control rate (4.3) */
    double lambda_gk_factor; /* goalkeepers' lambda multiplier (3) */
    double ball_speed;       /* m/s (15) */
    double dt;               /* s, integration step (0.04) */
    double horizon_s;        /* s, integration horizon (10) */
    double convergence;      /* stop when total control reaches this (0.99) */
    int nx, ny;              /* grid (50 x 32) */
} fa_pc_params;

typedef struct fa_analytics_config {
    /* kinematics */
    fa_smoothing smoothing;   /* SAVGOL */
    int savgol_window;        /* samples, odd (7) */
    int savgol_order;         /* (1) */
    double butter_cutoff_hz;  /* (1.0) */
    int butter_order;         /* (2) */
    double player_max_speed;  /* m/s; faster samples are outliers and dropped (12) */
    double ball_max_speed;    /* m/s (50) */
    double max_gap_s;         /* gaps shorter are interpolated; longer are flagged, never bridged (1.0) */
    /* physical */
    int nbands;
    fa_band bands[FA_MAX_BANDS];     /* km/h: standing 0-0.6 ... sprinting >= 25.2 (Bradley et al. 2009) */
    int nrel_bands;
    fa_band rel_bands[FA_MAX_BANDS]; /* percent of the player's own peak speed */
    double sprint_kmh, sprint_min_s; /* 25.2 km/h held >= 1 s */
    double hsr_kmh, hsr_min_s;       /* 19.8 km/h held >= 1 s */
    double accel_ms2, accel_min_s;   /* |a| > 3 m/s^2 held >= 0.5 s */
    double peak_hold_s;              /* peak speed = max held >= 0.5 s */
    double per90_min_minutes;        /* per-90 figures only for at least this many minutes played (15) */
    /* heatmaps */
    int heat_nx, heat_ny;            /* 21 x 14 */
    double heat_sigma_cells;         /* Gaussian smoothing, 0 = none */
    /* pitch control (Spearman 2018) */
    fa_pc_params pc;
    /* possession */
    double possession_window_s;      /* 300 */
    double owner_radius_m;           /* tracking: a player within this of the ball can own it (1.5) */
    double owner_hysteresis_s;       /* tracking: a change of owner team must hold this long (0.5) */
    /* passes and xT */
    int pass_string_min;             /* 3 */
    int xt_nx, xt_ny;                /* 12 x 8 (Karun Singh) or 16 x 12 */
} fa_analytics_config;

void fa_analytics_config_default(fa_analytics_config *c);
/* Sets one option from text, e.g. ("sprint_kmh", "25.2"), ("smoothing", "butterworth"),
 * ("bands", "standing:0-0.6,walking:0.7-7.1,..."). Unknown keys and bad values are
 * FA_EINVAL with a message naming the key. Validates ranges (odd window > order, ...). */
int fa_analytics_config_set(fa_analytics_config *c, const char *key, const char *value);
/* Applies "key=value" pairs separated by commas or newlines (a config file's text). */
int fa_analytics_config_parse(fa_analytics_config *c, const char *text);
/* Appends the whole configuration as a JSON object: the definitions every output used. */
int fa_analytics_config_json(const fa_analytics_config *c, fa_buf *out);

/* ------------------------------------------------------------ tracks */

/* One object's samples in one period, in time order. Only samples where the
 * object was seen with finite coordinates are kept; gaps show as jumps in t. */
typedef struct fa_track {
    char id[FA_ID_MAX]; /* player id, or "ball" */
    fa_side side;       /* FA_SIDE_NONE for the ball */
    int period;
    size_t n, cap;
    double *t;
    float *x, *y;
} fa_track;

typedef struct fa_tracking {
    fa_pitch pitch;
    double frame_rate;  /* frames per second (> 0) */
    size_t ntracks, cap;
    fa_track *tracks;
    size_t nframes;     /* frames added */
    size_t rejected;    /* samples dropped: NAN/infinite, far off the pitch */
    int last_period;
    double last_t;
} fa_tracking;

#define FA_BALL_ID "ball"

int fa_tracking_init(fa_tracking *tr, const fa_pitch *pitch, double frame_rate);
/* Adds a frame. Frames must come in time order within a period and periods
 * must not go back: otherwise FA_EINVAL ("non-monotonic time at period P t=T").
 * Non-finite or absurdly off-pitch coordinates are dropped and counted. */
int fa_tracking_add(fa_tracking *tr, const fa_frame *f);
/* NULL when the object has no samples in that period. */
const fa_track *fa_tracking_find(const fa_tracking *tr, const char *id, int period);
void fa_tracking_free(fa_tracking *tr);

/* ------------------------------------------------------------ kinematics */

enum {
    FA_KIN_MEASURED = 0,     /* a measured sample */
    FA_KIN_INTERPOLATED = 1, /* filled in a gap shorter than max_gap_s */
    FA_KIN_AFTER_GAP = 2     /* first sample after a gap that was not bridged */
};

/* A track resampled on a uniform clock (1 / frame_rate), smoothed, with speed
 * and acceleration. Segments separated by unbridged gaps are filtered and
 * differentiated separately: no speed is ever computed across a gap. */
typedef struct fa_kinematics {
    size_t n;
    double dt;       /* s */
    double *t;
    float *x, *y;    /* smoothed positions, m */
    float *v;        /* speed, m/s */
    float *a;        /* acceleration (derivative of speed), m/s^2 */
    uint8_t *flags;  /* FA_KIN_* */
    size_t outliers;     /* samples dropped by the speed gate */
    size_t interpolated; /* samples filled */
    size_t gaps;         /* gaps not bridged */
    double gap_s;        /* total time in unbridged gaps */
} fa_kinematics;

int fa_kinematics_compute(const fa_track *tr, double frame_rate, int is_ball, const fa_analytics_config *c,
                          fa_kinematics *out);
void fa_kinematics_free(fa_kinematics *k);

/* ------------------------------------------------------------ physical */

typedef struct fa_physical {
    double seconds;   /* time with data (measured + interpolated samples) */
    double distance;  /* m */
    double band_distance[FA_MAX_BANDS];
    double rel_band_distance[FA_MAX_BANDS];
    int sprints;
    double sprint_distance;
    int hsr_runs;     /* efforts >= hsr_kmh held >= hsr_min_s (sprints included) */
    double hsr_distance;
    int accelerations, decelerations;
    double peak_speed; /* m/s: the highest speed held for peak_hold_s */
    double p99_speed;  /* m/s */
    size_t outliers, interpolated, gaps;
    double gap_s;
} fa_physical;

/* All periods of one player (kin[0..n)), in period order. */
int fa_physical_compute(const fa_kinematics *const *kin, size_t n, const fa_analytics_config *c, fa_physical *out);
/* value * 90 / minutes; NAN when minutes <= 0. */
double fa_per90(double value, double minutes);

/* ------------------------------------------------------------ heatmaps */

/* Occupancy in seconds per cell; cell (i, j) covers x in [-L/2 + i L/nx, ...),
 * y in [-W/2 + j W/ny, ...); cells[j * nx + i]. Always oriented so that the
 * side attacks +x (left to right) in every period. */
typedef struct fa_heatmap {
    int nx, ny;
    double *cells;
    double total_s;
} fa_heatmap;

int fa_heatmap_init(fa_heatmap *h, int nx, int ny);
/* Adds a track's samples, each weighing dt seconds, normalised for side. */
int fa_heatmap_add_track(fa_heatmap *h, const fa_pitch *p, const fa_track *tr, fa_side side, double dt);
/* Separable Gaussian blur; sigma in cells (0 = no-op). Total is preserved. */
int fa_heatmap_smooth(fa_heatmap *h, double sigma_cells);
void fa_heatmap_free(fa_heatmap *h);

/* ------------------------------------------------------------ pitch control */

typedef struct fa_pc_player {
    float x, y, vx, vy; /* m, m/s */
    fa_side side;
    int is_gk;
} fa_pc_player;

/* Probability that each side controls the ball if it were played to each
 * cell's centre (Spearman 2018). home[j * nx + i] + away[...] <= 1. */
typedef struct fa_pc_grid {
    int nx, ny;
    float *home, *away;
} fa_pc_grid;

int fa_pitch_control(const fa_pc_player *players, size_t n, double ball_x, double ball_y, fa_side attacking,
                     const fa_pitch *p, const fa_pc_params *params, fa_pc_grid *out);
void fa_pc_grid_free(fa_pc_grid *g);

/* ------------------------------------------------------------ possession */

typedef struct fa_possession_window {
    int period;
    double t0, t1;
    double share[2]; /* [home, away], fractions of the controlled time; NAN when nobody had it */
} fa_possession_window;

typedef struct fa_possession {
    char method[96];     /* how it was measured, e.g. "events: time between on-ball events ..." */
    double share[2];     /* whole match */
    double period_share[5][2];
    double seconds[2];   /* controlled time per side */
    size_t nwindows;
    fa_possession_window *windows;
} fa_possession;

/* From events in match order (the team in control between on-ball events). */
int fa_possession_from_events(const fa_event *ev, size_t n, const fa_analytics_config *c, fa_possession *out);
/* From tracking: ball owner by proximity with hysteresis. */
int fa_possession_from_tracking(const fa_tracking *tr, const fa_analytics_config *c, fa_possession *out);
void fa_possession_free(fa_possession *p);

/* ------------------------------------------------------------ passes, shots, xT */

typedef struct fa_xt_grid {
    int nx, ny;
    const double *v; /* v[j * nx + i]; i along the attacking direction, j across (from y = -W/2) */
    char source[96];
} fa_xt_grid;

/* 12 x 8: Karun Singh's published open grid; 16 x 12: the option. */
int fa_xt_grid_get(int nx, int ny, fa_xt_grid *g);
/* Value at a point given in the frame of the side attacking +x. */
double fa_xt_at(const fa_xt_grid *g, const fa_pitch *p, double x, double y);

typedef struct fa_team_tactical {
    int passes, passes_completed, progressive_passes, final_third_passes;
    int shots, shots_on_target, goals;
    double xg;
    double xt;            /* xT added by completed passes and carries */
    int pass_strings;     /* sequences of >= pass_string_min consecutive completed passes */
    int longest_string;
} fa_team_tactical;

typedef struct fa_player_tactical {
    char id[FA_ID_MAX];
    fa_side side;
    int passes, passes_completed, progressive_passes, final_third_passes;
    int shots, goals;
    double xg, xt;
} fa_player_tactical;

typedef struct fa_tactical {
    fa_team_tactical team[2];
    size_t nplayers;
    fa_player_tactical *players;
    char definitions[512]; /* progressive pass, final third, xT grid ... in words */
} fa_tactical;

int fa_tactical_compute(const fa_event *ev, size_t n, const fa_pitch *p, const fa_analytics_config *c,
                        fa_tactical *out);
void fa_tactical_free(fa_tactical *t);

typedef struct fa_pass_node {
    char id[FA_ID_MAX];
    double x, y;   /* average position (of the player's events), attacking +x */
    int passes;    /* completed passes made */
} fa_pass_node;

typedef struct fa_pass_edge {
    size_t from, to; /* node indices */
    int count;       /* completed passes from -> to */
} fa_pass_edge;

typedef struct fa_pass_network {
    fa_side side;
    int until_period;    /* the window ends at the first substitution (or the match end) */
    double until_t;
    size_t nnodes, nedges;
    fa_pass_node *nodes;
    fa_pass_edge *edges;
} fa_pass_network;

int fa_pass_network_compute(const fa_event *ev, size_t n, fa_side side, fa_pass_network *out);
void fa_pass_network_free(fa_pass_network *net);

/* ------------------------------------------------------------ a whole match (match.c) */

/* Collects a parser's stream (match, players, events in order, tracking) in
 * memory while forwarding it to another sink, so a match can be analysed
 * as it is imported without reading it back. */
typedef struct fa_collector {
    fa_match match;
    fa_player *players;
    size_t nplayers, cap_players;
    fa_event *events;
    size_t nevents, cap_events;
    fa_tracking tracking; /* initialised at begin (frame_rate from the match, 25 if 0) */
    int has_tracking;
    int tracking_error;   /* the first fa_tracking_add error (frames are then kept out), 0 if none */
    char tracking_error_msg[256];
    const fa_sink *next;
    fa_sink sink;         /* give &c->sink to the parser */
} fa_collector;

/* next may be NULL (collect only). */
void fa_collector_init(fa_collector *c, const fa_sink *next);
void fa_collector_free(fa_collector *c);

/* Every metric of one match into out: per player physical figures (when
 * there is tracking) and tactical figures, team figures, possession (events
 * and/or tracking, each stated), heatmaps, pass networks, the possession
 * timeline, speed profiles, a "definitions" doc with the configuration, and
 * with tracking a "data_quality" doc (frames, samples dropped as unusable,
 * roster players who never appear in the tracking). */
int fa_analyze_match(const fa_collector *col, const fa_analytics_config *c, fa_aggregates *out);

#endif
