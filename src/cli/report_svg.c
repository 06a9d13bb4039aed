/*
 * report_svg.c - the match bundle, metric display rules, escaping and the
 * inline SVG charts shared by `stats` (cmd_stats.c) and `report`
 * (cmd_report.c); see report_svg.h for why they are shared.
 *
 * How the charts are built: each function appends one complete <svg> element
 * to a fa_buf. Pitch charts draw in metres (viewBox centred on the centre
 * spot, model y drawn as -y) so no chart converts units; line widths and
 * text sizes are metres too. Styles are CSS classes defined once by the page
 * (cmd_report.c), which keeps a report with forty heatmaps small. No chart
 * uses ids, gradients or links, so any number can share a page.
 *
 * Pitch markings use the Laws of the Game's fixed distances (penalty area
 * 16.5 m x 40.32 m, goal area 5.5 m x 18.32 m, centre circle and penalty arc
 * radius 9.15 m, penalty spot 11 m, goal 7.32 m) on the match's own length
 * and width, clamped to a pitch narrower than the markings.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_svg.h"

/* ------------------------------------------------------------ loading */

/* The schema version that added aggregates (src/store/schema/0002_aggregates.sql):
 * an older database that was never migrated has no metrics to read. */
#define FA_REP_AGGREGATES_SCHEMA 2

typedef struct load_ctx {
    fa_rep_match *m;
    size_t cap_players, cap_metrics;
} load_ctx;

static int on_player(void *ud, const fa_player *p) {
    load_ctx *c = ud;
    if (fa_grow(&c->m->players, &c->cap_players, c->m->nplayers + 1, sizeof *p)) return FA_ENOMEM;
    c->m->players[c->m->nplayers++] = *p;
    return 0;
}

static int on_metric(void *ud, const fa_metric *mt) {
    load_ctx *c = ud;
    if (fa_grow(&c->m->metrics, &c->cap_metrics, c->m->nmetrics + 1, sizeof *mt)) return FA_ENOMEM;
    c->m->metrics[c->m->nmetrics++] = *mt;
    return 0;
}

static int side_rank(fa_side s) { return s == FA_SIDE_HOME ? 0 : s == FA_SIDE_AWAY ? 1 : 2; }

/* Home then away; longest-playing first (unknown minutes last); then name. */
static int player_cmp(const void *a, const void *b) {
    const fa_player *x = a, *y = b;
    if (side_rank(x->side) != side_rank(y->side)) return side_rank(x->side) - side_rank(y->side);
    double mx = isnan(x->minutes) ? -1 : x->minutes, my = isnan(y->minutes) ? -1 : y->minutes;
    if (mx != my) return mx > my ? -1 : 1;
    if (x->starter != y->starter) return y->starter - x->starter;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->id, y->id);
}

typedef struct metric_key {
    const fa_metric *m;
    size_t idx;
    int rank;
} metric_key;

/* Teams first (home, away), then players by id; within each, display rank,
 * then the order the store gave (bands keep the configuration's order). */
static int metric_cmp(const void *a, const void *b) {
    const metric_key *x = a, *y = b;
    int xt = x->m->player_id[0] != '\0', yt = y->m->player_id[0] != '\0';
    if (xt != yt) return xt - yt;
    if (!xt && x->m->side != y->m->side) return side_rank(x->m->side) - side_rank(y->m->side);
    int c = strcmp(x->m->player_id, y->m->player_id);
    if (c) return c;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int sort_metrics(fa_rep_match *m) {
    if (m->nmetrics < 2) return 0;
    metric_key *k = fa_malloc(m->nmetrics * sizeof *k);
    fa_metric *sorted = fa_malloc(m->nmetrics * sizeof *sorted);
    if (!k || !sorted) return free(k), free(sorted), FA_ENOMEM;
    for (size_t i = 0; i < m->nmetrics; i++)
        k[i] = (metric_key){&m->metrics[i], i, fa_rep_metric_rank(m->metrics[i].name)};
    qsort(k, m->nmetrics, sizeof *k, metric_cmp);
    for (size_t i = 0; i < m->nmetrics; i++) sorted[i] = *k[i].m;
    free(k);
    free(m->metrics);
    m->metrics = sorted;
    return 0;
}

int fa_rep_load(fa_store *s, const char *ref, fa_rep_match *m) {
    memset(m, 0, sizeof *m);
    int rc = fa_store_match_find(s, ref, &m->row);
    load_ctx c = {m, 0, 0};
    int version = 0;
    if (!rc) rc = fa_store_players(s, m->row.id, on_player, &c);
    if (!rc) rc = fa_store_schema_version(s, &version);
    m->can_aggregate = version >= FA_REP_AGGREGATES_SCHEMA;
    if (!rc && m->can_aggregate) rc = fa_store_metrics(s, m->row.id, NULL, on_metric, &c);
    if (!rc) rc = sort_metrics(m);
    if (rc) {
        fa_rep_free(m);
        return rc;
    }
    if (m->nplayers > 1) qsort(m->players, m->nplayers, sizeof *m->players, player_cmp);
    m->has_aggregates = m->nmetrics > 0;
    return 0;
}

void fa_rep_free(fa_rep_match *m) {
    free(m->players);
    free(m->metrics);
    m->players = NULL;
    m->metrics = NULL;
    m->nplayers = m->nmetrics = 0;
}

double fa_rep_metric(const fa_rep_match *m, fa_side side, const char *player_id, const char *name) {
    for (size_t i = 0; i < m->nmetrics; i++) {
        const fa_metric *mt = &m->metrics[i];
        if (strcmp(mt->name, name) == 0 && strcmp(mt->player_id, player_id) == 0 &&
            (player_id[0] || mt->side == side))
            return mt->value;
    }
    return NAN;
}

int fa_rep_has_player_metric(const fa_rep_match *m, const char *name) {
    for (size_t i = 0; i < m->nmetrics; i++)
        if (m->metrics[i].player_id[0] && strcmp(m->metrics[i].name, name) == 0) return 1;
    return 0;
}

const fa_player *fa_rep_player(const fa_rep_match *m, const char *id) {
    for (size_t i = 0; i < m->nplayers; i++)
        if (strcmp(m->players[i].id, id) == 0) return &m->players[i];
    return NULL;
}

const char *fa_rep_player_name(const fa_rep_match *m, const char *id) {
    const fa_player *p = fa_rep_player(m, id);
    return p && p->name[0] ? p->name : id;
}

const char *fa_rep_ref(const fa_rep_match *m, char *buf, size_t size) {
    snprintf(buf, size, "%s:%s", fa_provider_name(m->row.m.provider), m->row.m.id);
    return buf;
}

const char *fa_rep_credit(fa_provider p) {
    switch (p) {
    case FA_PROVIDER_STATSBOMB:
        return "Event data: StatsBomb Open Data (non-commercial use, credit StatsBomb).";
    case FA_PROVIDER_METRICA: return "Data: Metrica Sports sample data (anonymised).";
    case FA_PROVIDER_SKILLCORNER: return "Data: SkillCorner open data (MIT licence).";
    case FA_PROVIDER_WYSCOUT:
        return "Event data: Wyscout public dataset, Pappalardo et al. 2019 (CC BY 4.0).";
    case FA_PROVIDER_LASTROW:
        return "Tracking: Friends-of-Tracking Last-Row, hand-made positions of one goal (free to use with "
               "credit).";
    case FA_PROVIDER_VIDEO: return "Tracking: produced from video by FootAnalytics.";
    default: return "Data: provider unknown.";
    }
}

/* ------------------------------------------------------------ metric display */

typedef enum fmt_kind {
    FMT_COUNT,
    FMT_MINUTES,
    FMT_DEC1,
    FMT_DEC2,
    FMT_METRES,
    FMT_SPEED,
    FMT_SHARE,
    FMT_GENERIC
} fmt_kind;

typedef struct known_metric {
    const char *name, *label;
    fmt_kind fmt;
} known_metric;

static const known_metric known[] = {
    {"minutes", "Minutes", FMT_MINUTES},
    {"possession_share", "Possession", FMT_SHARE},
    {"possession_share_tracking", "Possession (tracking)", FMT_SHARE},
    {"passes", "Passes", FMT_COUNT},
    {"passes_completed", "Passes completed", FMT_COUNT},
    {"progressive_passes", "Progressive passes", FMT_COUNT},
    {"final_third_passes", "Passes into the final third", FMT_COUNT},
    {"pass_strings", "Pass strings", FMT_COUNT},
    {"longest_pass_string", "Longest pass string", FMT_COUNT},
    {"shots", "Shots", FMT_COUNT},
    {"shots_on_target", "Shots on target", FMT_COUNT},
    {"goals", "Goals", FMT_COUNT},
    {"xg", "xG", FMT_DEC2},
    {"xt", "xT", FMT_DEC2},
    {"distance_m", "Distance (m)", FMT_METRES},
    {"distance_per90_m", "Distance per 90 (m)", FMT_METRES},
    {"band_", NULL, FMT_METRES},    /* band_<name>_m */
    {"relband_", NULL, FMT_METRES}, /* relband_<name>_m */
    {"hsr_runs", "High-speed runs", FMT_COUNT},
    {"hsr_distance_m", "High-speed running (m)", FMT_METRES},
    {"sprints", "Sprints", FMT_COUNT},
    {"sprints_per90", "Sprints per 90", FMT_DEC1},
    {"sprint_distance_m", "Sprint distance (m)", FMT_METRES},
    {"accelerations", "Accelerations", FMT_COUNT},
    {"decelerations", "Decelerations", FMT_COUNT},
    {"peak_speed_ms", "Peak speed (m/s)", FMT_SPEED},
    {"p99_speed_ms", "Speed, 99th percentile (m/s)", FMT_SPEED},
    {"outliers", "Samples dropped (speed gate)", FMT_COUNT},
    {"gap_s", "Time in tracking gaps (s)", FMT_DEC1},
    {"ball_tracked_s", "Ball tracked (s)", FMT_DEC1},
    {"ball_distance_m", "Ball distance (m)", FMT_METRES},
    {"ball_peak_speed_ms", "Ball peak speed (m/s)", FMT_SPEED},
    {"ball_p99_speed_ms", "Ball speed, 99th percentile (m/s)", FMT_SPEED},
    {"ball_outliers", "Ball samples dropped (speed gate)", FMT_COUNT},
    {"ball_gap_s", "Ball time in tracking gaps (s)", FMT_DEC1},
};
#define NKNOWN (sizeof known / sizeof known[0])

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

static int is_band(const char *name, const char *prefix) {
    return has_prefix(name, prefix) && has_suffix(name, "_m") && strlen(name) > strlen(prefix) + 2;
}

static const known_metric *find_known(const char *name, size_t *index) {
    for (size_t i = 0; i < NKNOWN; i++) {
        int hit = known[i].label ? strcmp(name, known[i].name) == 0 : is_band(name, known[i].name);
        if (hit) {
            if (index) *index = i;
            return &known[i];
        }
    }
    return NULL;
}

int fa_rep_metric_rank(const char *name) {
    size_t i;
    return find_known(name, &i) ? (int)i : (int)NKNOWN;
}

static fmt_kind guess_fmt(const char *name) {
    const known_metric *k = find_known(name, NULL);
    if (k) return k->fmt;
    if (has_suffix(name, "_ms")) return FMT_SPEED;
    if (has_suffix(name, "_m")) return FMT_METRES;
    if (has_suffix(name, "_s")) return FMT_DEC1;
    if (strstr(name, "share")) return FMT_SHARE;
    if (strstr(name, "per90")) return FMT_DEC1;
    return FMT_GENERIC;
}

/* "high_speed" -> "high speed"; the first letter upper-cased when cap. */
static void words(const char *s, size_t n, int cap, char *buf, size_t size) {
    size_t o = 0;
    for (size_t i = 0; i < n && s[i] && o + 1 < size; i++, o++) buf[o] = s[i] == '_' ? ' ' : s[i];
    buf[o] = '\0';
    if (cap && buf[0] >= 'a' && buf[0] <= 'z') buf[0] = (char)(buf[0] - 'a' + 'A');
}

/* "relband_rel_0_40_m" -> "Distance, 0\u201340 % of peak (m)"; other names in words. */
static void relband_label(const char *band, size_t n, char *buf, size_t size) {
    char w[64];
    if (n > 4 && strncmp(band, "rel_", 4) == 0) {
        size_t o = 0;
        for (size_t i = 4; i < n && o + 4 < sizeof w; i++) {
            if (band[i] == '_')
                memcpy(w + o, "\xe2\x80\x93", 3), o += 3;
            else
                w[o++] = band[i];
        }
        w[o] = '\0';
        snprintf(buf, size, "Distance, %s %% of peak (m)", w);
        return;
    }
    words(band, n, 0, w, sizeof w);
    snprintf(buf, size, "Distance, %s (relative band, m)", w);
}

/* Unknown names: words, with a unit suffix turned into "(unit)". */
static void generic_label(const char *name, char *buf, size_t size) {
    static const char *const units[][2] = {{"_ms", "m/s"}, {"_m", "m"}, {"_s", "s"}};
    char w[96];
    for (size_t u = 0; u < 3; u++) {
        if (!has_suffix(name, units[u][0]) || strlen(name) == strlen(units[u][0])) continue;
        words(name, strlen(name) - strlen(units[u][0]), 1, w, sizeof w);
        snprintf(buf, size, "%s (%s)", w, units[u][1]);
        return;
    }
    words(name, strlen(name), 1, buf, size);
}

void fa_rep_metric_label(const char *name, char *buf, size_t size) {
    const known_metric *k = find_known(name, NULL);
    char w[64];
    size_t pre = k ? strlen(k->name) : 0;
    if (k && k->label) {
        snprintf(buf, size, "%s", k->label);
    } else if (k && pre == 5) { /* band_<name>_m */
        words(name + pre, strlen(name) - pre - 2, 0, w, sizeof w);
        snprintf(buf, size, "Distance, %s (m)", w);
    } else if (k) {
        relband_label(name + pre, strlen(name) - pre - 2, buf, size);
    } else {
        generic_label(name, buf, size);
    }
}

void fa_rep_metric_value(const char *name, double v, char *buf, size_t size) {
    if (isnan(v) || isinf(v)) {
        snprintf(buf, size, "-");
        return;
    }
    switch (guess_fmt(name)) {
    case FMT_COUNT: snprintf(buf, size, v == floor(v) ? "%.0f" : "%.1f", v); break;
    case FMT_MINUTES: snprintf(buf, size, v < 10 && v != floor(v) ? "%.1f" : "%.0f", v); break;
    case FMT_DEC1: snprintf(buf, size, "%.1f", v); break;
    case FMT_DEC2: snprintf(buf, size, "%.2f", v); break;
    case FMT_METRES: snprintf(buf, size, fabs(v) >= 100 ? "%.0f" : "%.1f", v); break;
    case FMT_SPEED: snprintf(buf, size, "%.2f", v); break;
    case FMT_SHARE: snprintf(buf, size, "%.1f%%", 100 * v); break;
    default: snprintf(buf, size, v == floor(v) && fabs(v) < 1e15 ? "%.0f" : "%.4g", v); break;
    }
}

void fa_rep_ratio(double num, double den, char *buf, size_t size) {
    if (isnan(num) || isnan(den) || den <= 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.1f%%", 100 * num / den);
}

/* ------------------------------------------------------------ text */

int fa_html_escape(fa_buf *b, const char *s) {
    int rc = 0;
    for (const char *p = s; *p && !rc; p++) {
        switch (*p) {
        case '&': rc = fa_buf_puts(b, "&amp;"); break;
        case '<': rc = fa_buf_puts(b, "&lt;"); break;
        case '>': rc = fa_buf_puts(b, "&gt;"); break;
        case '"': rc = fa_buf_puts(b, "&quot;"); break;
        case '\'': rc = fa_buf_puts(b, "&#39;"); break;
        default: rc = fa_buf_putc(b, (unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' ? ' ' : *p); break;
        }
    }
    return rc;
}

void fa_rep_print_cell(FILE *out, const char *s, int width, int right) {
    size_t bytes = 0;
    int chars = 0;
    for (const char *p = s; *p; p++) {
        if (((unsigned char)*p & 0xC0) == 0x80) continue;
        if (chars == width) break;
        chars++;
        bytes = (size_t)(p - s) + 1;
        while (((unsigned char)s[bytes] & 0xC0) == 0x80) bytes++;
    }
    if (right) fprintf(out, "%*s", width - chars, "");
    fwrite(s, 1, bytes, out);
    if (!right) fprintf(out, "%*s", width - chars, "");
}

/* ------------------------------------------------------------ colour */

void fa_svg_color(double t, char out[8]) {
    static const unsigned char stops[5][3] = {
        {255, 255, 204}, {254, 217, 118}, {253, 141, 60}, {227, 26, 28}, {128, 0, 38}};
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    double pos = t * 4;
    int k = pos >= 4 ? 3 : (int)pos;
    double f = pos - k;
    unsigned c[3];
    for (int i = 0; i < 3; i++) c[i] = (unsigned)lround(stops[k][i] + f * (stops[k + 1][i] - stops[k][i]));
    snprintf(out, 8, "#%02x%02x%02x", c[0] & 0xFF, c[1] & 0xFF, c[2] & 0xFF);
}

/* ------------------------------------------------------------ pitch */

#define PITCH_MARGIN 4.0 /* m around the pitch: room for the goals */
#define CAPTION_H 6.0    /* m below the margin for the caption line */

int fa_svg_pitch_begin(fa_buf *b, const fa_pitch *p, const char *label) {
    double L = p->length, W = p->width, m = PITCH_MARGIN;
    fa_buf_printf(b, "<svg class=\"pitch\" viewBox=\"%.2f %.2f %.2f %.2f\" role=\"img\"><title>", -L / 2 - m,
                  -W / 2 - m, L + 2 * m, W + 2 * m + CAPTION_H);
    fa_html_escape(b, label);
    return fa_buf_printf(
        b, "</title><rect class=\"grass\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", -L / 2,
        -W / 2, L, W);
}

static double clampd(double v, double hi) { return v < hi ? v : hi; }

/* One end's boxes, spot, arc and goal; dir = +1 for the +x end, -1 for -x. */
static int pitch_end(fa_buf *b, const fa_pitch *p, int dir) {
    double h = p->length / 2, hw = p->width / 2;
    double box = clampd(16.5, h), box_w = clampd(20.16, hw), six = clampd(5.5, h), six_w = clampd(9.16, hw);
    double line = dir * h;
    fa_buf_printf(b, "<rect class=\"line\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>",
                  dir > 0 ? h - box : -h, -box_w, box, 2 * box_w);
    fa_buf_printf(b, "<rect class=\"line\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>",
                  dir > 0 ? h - six : -h, -six_w, six, 2 * six_w);
    fa_buf_printf(b, "<circle class=\"spot\" cx=\"%.2f\" cy=\"0\" r=\"0.35\"/>",
                  line - dir * clampd(11.0, h));
    if (box > 11.0 && 9.15 > box - 11.0) {
        double dy = sqrt(9.15 * 9.15 - (box - 11.0) * (box - 11.0));
        fa_buf_printf(b, "<path class=\"line\" d=\"M%.2f %.2f A9.15 9.15 0 0 %d %.2f %.2f\"/>",
                      line - dir * box, -dy, dir > 0 ? 0 : 1, line - dir * box, dy);
    }
    return fa_buf_printf(b, "<rect class=\"goal\" x=\"%.2f\" y=\"-3.66\" width=\"2\" height=\"7.32\"/>",
                         dir > 0 ? h : -h - 2);
}

int fa_svg_pitch_markings(fa_buf *b, const fa_pitch *p) {
    double L = p->length, W = p->width;
    fa_buf_printf(b, "<rect class=\"line\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", -L / 2,
                  -W / 2, L, W);
    fa_buf_printf(b, "<line class=\"line\" x1=\"0\" y1=\"%.2f\" x2=\"0\" y2=\"%.2f\"/>", -W / 2, W / 2);
    fa_buf_printf(b, "<circle class=\"line\" cx=\"0\" cy=\"0\" r=\"%.2f\"/>", clampd(9.15, W / 2));
    fa_buf_puts(b, "<circle class=\"spot\" cx=\"0\" cy=\"0\" r=\"0.35\"/>");
    pitch_end(b, p, 1);
    return pitch_end(b, p, -1);
}

int fa_svg_pitch_end(fa_buf *b, const fa_pitch *p, const char *caption) {
    fa_buf_printf(b, "<text class=\"cap\" x=\"%.2f\" y=\"%.2f\">", -p->length / 2,
                  p->width / 2 + PITCH_MARGIN + 3.6);
    fa_html_escape(b, caption);
    return fa_buf_puts(b, "</text></svg>");
}

/* ------------------------------------------------------------ heatmap */

/* Cells under this share of the busiest one stay grass: Gaussian smoothing
 * leaves a faint trace everywhere, and the faintest colours fade in (opacity)
 * so the map has no hard edge where the trace ends. */
#define HEAT_FLOOR 0.01

static void heat_legend(fa_buf *b, const fa_pitch *p, double max) {
    double x0 = p->length / 2 - 30, y = p->width / 2 + PITCH_MARGIN + 1.2;
    fa_buf_printf(b, "<text class=\"cap\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">0</text>", x0 - 1,
                  y + 2.4);
    for (int k = 0; k < 10; k++) {
        char c[8];
        fa_svg_color((k + 0.5) / 10.0, c);
        fa_buf_printf(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"2\" height=\"3\" fill=\"%s\"/>", x0 + 2 * k, y,
                      c);
    }
    fa_buf_printf(b, "<text class=\"cap\" x=\"%.2f\" y=\"%.2f\">%.1f s</text>", x0 + 21, y + 2.4, max);
}

int fa_svg_heatmap(fa_buf *b, const fa_pitch *p, int nx, int ny, const double *cells, const char *label) {
    fa_svg_pitch_begin(b, p, label);
    double max = 0;
    for (int k = 0; nx > 0 && ny > 0 && k < nx * ny; k++)
        if (isfinite(cells[k]) && cells[k] > max) max = cells[k];
    double cw = p->length / nx, ch = p->width / ny;
    for (int j = 0; max > 0 && j < ny; j++) {
        for (int i = 0; i < nx; i++) {
            double v = cells[j * nx + i];
            if (!(v > 0) || !isfinite(v) || v < HEAT_FLOOR * max) continue;
            char c[8];
            fa_svg_color(v / max, c);
            fa_buf_printf(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"",
                          -p->length / 2 + i * cw, p->width / 2 - (j + 1) * ch, cw + 0.05, ch + 0.05, c);
            fa_buf_printf(b, v < 0.2 * max ? " fill-opacity=\"%.2f\"/>" : "/>", 0.25 + 3.75 * v / max);
        }
    }
    fa_svg_pitch_markings(b, p);
    if (max > 0) heat_legend(b, p, max);
    return fa_svg_pitch_end(
        b, p, max > 0 ? "attacking \xe2\x86\x92 (time spent per zone)" : "no positions recorded");
}

/* ------------------------------------------------------------ pass network */

typedef struct pair {
    size_t a, b;
    int count;
} pair;

/* Merges a->b and b->a into one undirected pair list; returns the count kept. */
static size_t merge_edges(const fa_svg_edge *e, size_t ne, size_t nnodes, pair *out) {
    size_t n = 0;
    for (size_t i = 0; i < ne; i++) {
        if (e[i].from >= nnodes || e[i].to >= nnodes || e[i].from == e[i].to || e[i].count <= 0) continue;
        size_t a = e[i].from < e[i].to ? e[i].from : e[i].to, b = e[i].from < e[i].to ? e[i].to : e[i].from;
        size_t k = 0;
        while (k < n && !(out[k].a == a && out[k].b == b)) k++;
        if (k == n) out[n++] = (pair){a, b, 0};
        out[k].count += e[i].count;
    }
    return n;
}

static void network_edges(fa_buf *b, const fa_svg_node *nodes, const pair *pairs, size_t np,
                          const char *color) {
    int maxc = 1;
    for (size_t k = 0; k < np; k++)
        if (pairs[k].count > maxc) maxc = pairs[k].count;
    for (size_t k = 0; k < np; k++) {
        double f = (double)pairs[k].count / maxc;
        const fa_svg_node *a = &nodes[pairs[k].a], *z = &nodes[pairs[k].b];
        if (!isfinite(a->x) || !isfinite(a->y) || !isfinite(z->x) || !isfinite(z->y)) continue;
        fa_buf_printf(
            b,
            "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"%.2f\" "
            "stroke-opacity=\"%.2f\" stroke-linecap=\"round\"><title>",
            a->x, -a->y, z->x, -z->y, color, 0.25 + 1.75 * f, 0.25 + 0.55 * f);
        fa_html_escape(b, a->label);
        fa_buf_puts(b, " \xe2\x86\x94 ");
        fa_html_escape(b, z->label);
        fa_buf_printf(b, ": %d passes</title></line>", pairs[k].count);
    }
}

static void network_nodes(fa_buf *b, const fa_svg_node *nodes, size_t n, const char *color) {
    int maxp = 1;
    for (size_t i = 0; i < n; i++)
        if (nodes[i].passes > maxp) maxp = nodes[i].passes;
    for (size_t i = 0; i < n; i++) {
        const fa_svg_node *d = &nodes[i];
        if (!isfinite(d->x) || !isfinite(d->y)) continue;
        double r = 1.0 + 2.2 * sqrt((double)(d->passes > 0 ? d->passes : 0) / maxp);
        fa_buf_printf(b, "<g><title>");
        fa_html_escape(b, d->title);
        fa_buf_printf(
            b, ": %d passes</title><circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\" class=\"node\"/>",
            d->passes, d->x, -d->y, r, color);
        double fs = r < 1.6 ? 1.5 : r * 0.95; /* the label sits inside the node */
        fa_buf_printf(b,
                      "<text class=\"num\" x=\"%.2f\" y=\"%.2f\" font-size=\"%.2f\" text-anchor=\"middle\">",
                      d->x, -d->y + fs * 0.36, fs);
        fa_html_escape(b, d->label);
        fa_buf_puts(b, "</text></g>");
    }
}

int fa_svg_pass_network(fa_buf *b, const fa_pitch *p, const fa_svg_node *nodes, size_t nnodes,
                        const fa_svg_edge *edges, size_t nedges, const char *color, const char *label) {
    pair *pairs = nedges ? fa_malloc(nedges * sizeof *pairs) : NULL;
    if (nedges && !pairs) return FA_ENOMEM;
    size_t np = merge_edges(edges, nedges, nnodes, pairs);
    fa_svg_pitch_begin(b, p, label);
    fa_svg_pitch_markings(b, p);
    network_edges(b, nodes, pairs, np, color);
    network_nodes(b, nodes, nnodes, color);
    free(pairs);
    return fa_svg_pitch_end(b, p,
                            "attacking \xe2\x86\x92 (average positions; line width: passes between the two)");
}

/* ------------------------------------------------------------ shot map */

int fa_svg_shot_map(fa_buf *b, const fa_pitch *p, const fa_svg_shot *shots, size_t n, const char *label) {
    fa_svg_pitch_begin(b, p, label);
    fa_svg_pitch_markings(b, p);
    for (size_t i = 0; i < n; i++) {
        const fa_svg_shot *s = &shots[i];
        if (!isfinite(s->x) || !isfinite(s->y)) continue;
        const char *c = s->side == FA_SIDE_AWAY ? FA_SVG_AWAY_COLOR : FA_SVG_HOME_COLOR;
        double xg = isnan(s->xg) ? 0.05 : s->xg < 0 ? 0 : s->xg > 1 ? 1 : s->xg;
        fa_buf_printf(
            b,
            "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\" fill-opacity=\"%s\" stroke=\"%s\" "
            "class=\"shot\"><title>",
            s->x, -s->y, 0.6 + 3.2 * sqrt(xg), c, s->goal ? "0.9" : "0.2", s->goal ? "#111" : c);
        fa_html_escape(b, s->title);
        fa_buf_puts(b, "</title></circle>");
    }
    int any_xg = 0;
    for (size_t i = 0; i < n; i++) any_xg |= !isnan(shots[i].xg);
    return fa_svg_pitch_end(b, p,
                            any_xg
                                ? "home shoots \xe2\x86\x92, away \xe2\x86\x90; area by xG; filled: goal"
                                : "home shoots \xe2\x86\x92, away \xe2\x86\x90; no xG given; filled: goal");
}

/* ------------------------------------------------------------ line chart */

#define LC_W 320.0
#define LC_H 120.0
#define LC_X0 30.0
#define LC_X1 (LC_W - 8.0)
#define LC_Y0 8.0
#define LC_Y1 (LC_H - 22.0)

static void lc_axes(fa_buf *b, double tmin, double tmax, double vmax) {
    int secs = tmax - tmin < 180; /* a short clip reads better in seconds */
    double unit = secs ? 1 : 60;
    fa_buf_printf(b, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>", LC_X0,
                  LC_Y0, LC_X1 - LC_X0, LC_Y1 - LC_Y0);
    for (int k = 0; k <= 2; k++)
        fa_buf_printf(b, "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>",
                      LC_X0 - 3, LC_Y1 - k * (LC_Y1 - LC_Y0) / 2 + 3, vmax * k / 2);
    fa_buf_printf(b, "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\">%.*f</text>", LC_X0, LC_Y1 + 11, secs ? 0 : 1,
                  tmin / unit);
    fa_buf_printf(b, "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.*f %s</text>", LC_X1,
                  LC_Y1 + 11, secs ? 1 : 0, tmax / unit, secs ? "s" : "min");
    fa_buf_printf(b, "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">m/s over time</text>",
                  (LC_X0 + LC_X1) / 2, LC_Y1 + 11);
}

static void lc_refs(fa_buf *b, const fa_svg_ref *refs, size_t nrefs, double vmax) {
    for (size_t k = 0; k < nrefs; k++) {
        if (!(refs[k].v > 0) || refs[k].v >= vmax) continue;
        double y = LC_Y1 - refs[k].v / vmax * (LC_Y1 - LC_Y0);
        fa_buf_printf(b, "<line class=\"ref\" x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\"/>", LC_X0, y,
                      LC_X1, y);
        fa_buf_printf(b, "<text class=\"ax\" x=\"%.1f\" y=\"%.2f\" text-anchor=\"end\">", LC_X1 - 2, y - 2);
        fa_html_escape(b, refs[k].label);
        fa_buf_puts(b, "</text>");
    }
}

static double lc_x(double t, double tmin, double tmax) {
    double f = (t - tmin) / (tmax - tmin);
    return LC_X0 + fmin(fmax(f, 0), 1) * (LC_X1 - LC_X0);
}

static void lc_marks(fa_buf *b, const double *marks, size_t nmarks, double tmin, double tmax) {
    for (size_t k = 0; k < nmarks; k++) {
        if (!(marks[k] > tmin && marks[k] < tmax)) continue;
        double x = lc_x(marks[k], tmin, tmax);
        fa_buf_printf(b, "<line class=\"ref\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, LC_Y0, x,
                      LC_Y1);
    }
}

int fa_svg_line_chart(fa_buf *b, const double *t, const double *v, size_t n, double tmin, double tmax,
                      double vmax, double step, const fa_svg_ref *refs, size_t nrefs, const double *marks,
                      size_t nmarks, const char *label) {
    if (!(tmax > tmin)) tmax = tmin + 1;
    if (!(vmax > 0)) vmax = 1;
    if (!(step > 0)) step = (tmax - tmin) / 100;
    fa_buf_printf(b, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\"><title>", LC_W, LC_H);
    fa_html_escape(b, label);
    fa_buf_puts(b, "</title>");
    lc_axes(b, tmin, tmax, vmax);
    lc_refs(b, refs, nrefs, vmax);
    lc_marks(b, marks, nmarks, tmin, tmax);
    fa_buf_puts(b, "<path class=\"series\" d=\"");
    int pen = 0;
    for (size_t i = 0; i < n; i++) {
        int ok = isfinite(t[i]) && isfinite(v[i]);
        if (!ok || (i > 0 && (t[i] < t[i - 1] || t[i] - t[i - 1] > 1.5 * step))) pen = 0;
        if (!ok) continue;
        double y = LC_Y1 - fmin(fmax(v[i], 0), vmax) / vmax * (LC_Y1 - LC_Y0);
        fa_buf_printf(b, "%s%.1f %.1fH%.1f", pen ? "L" : "M", lc_x(t[i] - step / 2, tmin, tmax), y,
                      lc_x(t[i] + step / 2, tmin, tmax));
        pen = 1;
    }
    return fa_buf_puts(b, "\"/></svg>");
}

/* ------------------------------------------------------------ possession */

#define PS_W 900.0
#define PS_H 170.0
#define PS_X0 34.0
#define PS_X1 (PS_W - 10.0)
#define PS_Y0 18.0
#define PS_Y1 (PS_H - 30.0)
#define PS_PERIODS 5

/* Minutes at which each period starts on the match clock. */
static double period_minute(int period) {
    static const double start[PS_PERIODS + 1] = {0, 0, 45, 90, 105, 120};
    return period >= 1 && period <= PS_PERIODS ? start[period] : 0;
}

static void ps_layout(const fa_svg_window *w, size_t n, double len[PS_PERIODS + 1],
                      double off[PS_PERIODS + 1], double *scale) {
    double total = 0;
    for (int p = 0; p <= PS_PERIODS; p++) len[p] = 0;
    for (size_t i = 0; i < n; i++)
        if (w[i].period >= 1 && w[i].period <= PS_PERIODS && w[i].t1 > len[w[i].period])
            len[w[i].period] = w[i].t1;
    int used = 0;
    for (int p = 1; p <= PS_PERIODS; p++) total += len[p], used += len[p] > 0;
    double gap = used > 1 ? 0.02 * total : 0; /* seconds of blank between periods */
    *scale = total > 0 ? (PS_X1 - PS_X0) / (total + gap * (used - 1)) : 1;
    double x = PS_X0;
    for (int p = 1; p <= PS_PERIODS; p++) {
        off[p] = x;
        if (len[p] > 0) x += (len[p] + gap) * *scale;
    }
}

static void ps_bar(fa_buf *b, const fa_svg_window *w, double x0, double x1) {
    double hh = PS_Y1 - PS_Y0;
    double m0 = period_minute(w->period) + w->t0 / 60, m1 = period_minute(w->period) + w->t1 / 60;
    if (isnan(w->home) || isnan(w->away)) {
        fa_buf_printf(
            b,
            "<rect class=\"none\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>%.0f'-%.0f': "
            "no team in control</title></rect>",
            x0, PS_Y0, x1 - x0, hh, m0, m1);
        return;
    }
    double sum = w->home + w->away, h = sum > 0 ? w->home / sum : 0.5;
    fa_buf_printf(b, "<g><title>%.0f'-%.0f': home %.0f%%, away %.0f%%</title>", m0, m1, 100 * h,
                  100 * (1 - h));
    fa_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x0, PS_Y0,
                  x1 - x0, h * hh, FA_SVG_HOME_COLOR);
    fa_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/></g>", x0,
                  PS_Y0 + h * hh, x1 - x0, (1 - h) * hh, FA_SVG_AWAY_COLOR);
}

static void ps_axis(fa_buf *b, const double len[PS_PERIODS + 1], const double off[PS_PERIODS + 1],
                    double scale) {
    static const char *const names[PS_PERIODS + 1] = {
        "", "1st half", "2nd half", "extra time 1", "extra time 2", "shoot-out"};
    for (int p = 1; p <= PS_PERIODS; p++) {
        if (len[p] <= 0) continue;
        fa_buf_printf(b, "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\">%s</text>", off[p], PS_Y0 - 5, names[p]);
        double step = len[p] > 1800 ? 900 : len[p] > 600 ? 300 : 60;
        for (double t = p > 1 ? step : 0; t <= len[p] + 1e-9;
             t += step) /* a period's 0' is the last one's end */
            fa_buf_printf(b, "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f'</text>",
                          off[p] + t * scale, PS_Y1 + 13, period_minute(p) + t / 60);
    }
}

int fa_svg_possession(fa_buf *b, const fa_svg_window *w, size_t n, const char *label) {
    double len[PS_PERIODS + 1], off[PS_PERIODS + 1], scale;
    ps_layout(w, n, len, off, &scale);
    fa_buf_printf(b, "<svg class=\"wide\" viewBox=\"0 0 %.0f %.0f\" role=\"img\"><title>", PS_W, PS_H);
    fa_html_escape(b, label);
    fa_buf_puts(b, "</title>");
    for (size_t i = 0; i < n; i++) {
        if (w[i].period < 1 || w[i].period > PS_PERIODS || !(w[i].t1 > w[i].t0)) continue;
        double x0 = off[w[i].period] + w[i].t0 * scale, x1 = off[w[i].period] + w[i].t1 * scale;
        ps_bar(b, &w[i], x0, x1 - 1 > x0 ? x1 - 1 : x1);
    }
    fa_buf_printf(b, "<line class=\"ref\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", PS_X0,
                  (PS_Y0 + PS_Y1) / 2, PS_X1, (PS_Y0 + PS_Y1) / 2);
    fa_buf_printf(b, "<text class=\"ax\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">50%%</text>", PS_X0 - 4,
                  (PS_Y0 + PS_Y1) / 2 + 3);
    ps_axis(b, len, off, scale);
    return fa_buf_puts(b, "</svg>");
}
