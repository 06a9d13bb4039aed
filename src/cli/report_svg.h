/*
 * report_svg.h - what `footanalytics stats` and `footanalytics report` share:
 * the match as they show it (read back from the store in one go), how each
 * metric is labelled and formatted, HTML escaping, and the inline SVG
 * charts of the report (pitch, heatmap, pass network, shot map, line chart,
 * possession bars).
 *
 * Why one bundle: both commands show the same numbers; reading the roster
 * and every metric once, sorted into display order, keeps the two in step
 * and keeps the commands themselves about layout only.
 *
 * SVG conventions: pitch charts use a viewBox in METRES with the model's
 * coordinates drawn at (x, -y) (model.h: y up, SVG y down), so every chart
 * is drawn straight from model values; other charts use a pixel viewBox.
 * Charts never carry ids or external references (several sit in one page).
 * Every string that reaches the page passes through fa_html_escape.
 */
#ifndef FA_REPORT_SVG_H
#define FA_REPORT_SVG_H

#include <stddef.h>

#include "core/core.h"
#include "model/model.h"
#include "store/store.h"

/* ------------------------------------------------------------ the match as shown */

typedef struct fa_rep_match {
    fa_match_row row;
    fa_player *players; /* the roster: home then away, longest-playing first */
    size_t nplayers;
    fa_metric *metrics; /* every stored metric: teams first, then by player, in display order */
    size_t nmetrics;
    int has_aggregates; /* 1 when the store holds any metric for the match */
    int can_aggregate;  /* 1 when the database schema has aggregates at all */
} fa_rep_match;

/* Finds ref ("42", "statsbomb:15986") and reads its roster and metrics.
 * Returns 0 or an error (FA_ENOTFOUND when the match is absent); on error
 * *m is left empty (fa_rep_free is still safe). */
int fa_rep_load(fa_store *s, const char *ref, fa_rep_match *m);
void fa_rep_free(fa_rep_match *m);
/* The value of one metric (player_id "" for the team of side); NAN when absent. */
double fa_rep_metric(const fa_rep_match *m, fa_side side, const char *player_id, const char *name);
/* 1 when any metric of that name is stored for a player. */
int fa_rep_has_player_metric(const fa_rep_match *m, const char *name);
/* The roster entry for id, or NULL. */
const fa_player *fa_rep_player(const fa_rep_match *m, const char *id);
/* The player's name, else the id itself. */
const char *fa_rep_player_name(const fa_rep_match *m, const char *id);
/* "statsbomb:15986" into buf[size]. */
const char *fa_rep_ref(const fa_rep_match *m, char *buf, size_t size);
/* The data credit line for the match's provider (plain text). */
const char *fa_rep_credit(fa_provider p);

/* ------------------------------------------------------------ metric display */

/* Label for a metric name: known names get words and units ("distance_m" ->
 * "Distance (m)"), unknown ones their name with spaces. */
void fa_rep_metric_label(const char *name, char *buf, size_t size);
/* Formatted value ("-" for NAN): counts as integers, shares as percent,
 * metres without decimals from 100 m, speeds with two decimals. */
void fa_rep_metric_value(const char *name, double v, char *buf, size_t size);
/* Display rank: known metrics in a fixed order, then the rest. */
int fa_rep_metric_rank(const char *name);
/* passes_completed / passes as "91.3%", "-" when unknown. */
void fa_rep_ratio(double num, double den, char *buf, size_t size);

/* ------------------------------------------------------------ text */

/* Appends s with & < > " ' escaped (for element text and attribute values). */
int fa_html_escape(fa_buf *b, const char *s);
/* Prints s to out padded or cut to exactly width terminal columns (one per
 * UTF-8 character, never cutting a character); right-aligned when right != 0. */
void fa_rep_print_cell(FILE *out, const char *s, int width, int right);

/* ------------------------------------------------------------ SVG charts */

/* Each chart function appends to b and returns 0 or FA_ENOMEM. A failed
 * append leaves b as it was and sets the thread's error, so a page builder
 * may append freely and check fa_err_code() == FA_ENOMEM once at the end. */

#define FA_SVG_HOME_COLOR "#1f5fa8"
#define FA_SVG_AWAY_COLOR "#e07a1f"

/* Colour of t in [0, 1] on a light-yellow to dark-red scale, as "#rrggbb". */
void fa_svg_color(double t, char out[8]);

/* Opens a pitch chart (viewBox in metres, with room below for a caption line)
 * and draws the grass; label becomes the <title>. */
int fa_svg_pitch_begin(fa_buf *b, const fa_pitch *p, const char *label);
/* Draws the markings: outline, halfway line, centre circle and spot, penalty
 * and goal areas, penalty spots and arcs, goals. */
int fa_svg_pitch_markings(fa_buf *b, const fa_pitch *p);
/* Writes caption text under the pitch (escaped) and closes the chart. */
int fa_svg_pitch_end(fa_buf *b, const fa_pitch *p, const char *caption);

/* A whole heatmap chart: cells[j * nx + i] (seconds; i along x from -L/2,
 * j along y from -W/2, the side attacking +x), colour scaled to the largest
 * cell, markings on top, a legend with the scale. */
int fa_svg_heatmap(fa_buf *b, const fa_pitch *p, int nx, int ny, const double *cells, const char *label);

typedef struct fa_svg_node {
    const char *label; /* short text drawn inside the node (a shirt number) */
    const char *title; /* tooltip */
    double x, y;       /* metres, attacking +x */
    int passes;
} fa_svg_node;

typedef struct fa_svg_edge {
    size_t from, to; /* node indices */
    int count;
} fa_svg_edge;

/* A pass network: edges between the same two nodes in both directions are
 * drawn as one line whose width grows with the sum; nodes sized by passes. */
int fa_svg_pass_network(fa_buf *b, const fa_pitch *p, const fa_svg_node *nodes, size_t nnodes,
                        const fa_svg_edge *edges, size_t nedges, const char *color, const char *label);

typedef struct fa_svg_shot {
    double x, y; /* metres, already turned so home attacks +x and away -x */
    double xg;   /* NAN when unknown */
    int goal;
    fa_side side;
    const char *title;
} fa_svg_shot;

/* Shots on one pitch: home towards +x, away towards -x; area by xG, goals filled. */
int fa_svg_shot_map(fa_buf *b, const fa_pitch *p, const fa_svg_shot *shots, size_t n, const char *label);

/* A small step chart of v over t: each value is a level over its bucket
 * [t - step/2, t + step/2) (a bucket mean is drawn as what it is), x from
 * tmin to tmax (seconds; labelled in seconds for a short span, else
 * minutes), y from 0 to vmax, dashed reference lines at refs (with their
 * labels), dashed vertical lines at the times in marks (period boundaries;
 * marks outside (tmin, tmax) are skipped); the line breaks wherever v is NAN
 * or t goes back or jumps by more than 1.5 steps. */
typedef struct fa_svg_ref {
    double v;
    const char *label;
} fa_svg_ref;
int fa_svg_line_chart(fa_buf *b, const double *t, const double *v, size_t n, double tmin, double tmax,
                      double vmax, double step, const fa_svg_ref *refs, size_t nrefs, const double *marks,
                      size_t nmarks, const char *label);

typedef struct fa_svg_window {
    int period;
    double t0, t1;     /* seconds from the period start */
    double home, away; /* shares in [0, 1]; NAN when nobody had the ball */
} fa_svg_window;

/* Possession over time: one 100% bar per window (home on top), grouped by
 * period, a 50% line, minutes on the axis. */
int fa_svg_possession(fa_buf *b, const fa_svg_window *w, size_t n, const char *label);

#endif
