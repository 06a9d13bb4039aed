/*
 * cmd_report.c - `footanalytics report MATCH --out FILE.html`: one
 * self-contained HTML5 page per match: header (teams, score, date, provider,
 * data credit), team comparison, player tables, possession over time, shot
 * map, heatmaps, pass networks, speed profiles and the definitions used.
 *
 * Why it is built this way:
 *   - self-contained: inline CSS and inline SVG only; no script, font, image
 *     or style sheet is fetched from anywhere, so the page opens offline and
 *     can be mailed as one file. Not even an xmlns URL is written (HTML5
 *     does not need it for inline SVG);
 *   - everything shown comes from the store: the aggregates analytics stored
 *     at import (metrics, "heatmap" grids, the documents possession_timeline,
 *     pass_network_home/away, speed_profile, definitions; formats in
 *     analytics/match.c) and, for the shot map, the stored events. The page
 *     never recomputes a metric, so it always agrees with `stats`;
 *   - every provider string (team, player, competition, file names, document
 *     text) is HTML-escaped where it is written;
 *   - missing data is said, not drawn: no tracking means a note in place of
 *     heatmaps and speed profiles, no events a note in place of the shot map
 *     and pass networks, a match imported without analysis a note in every
 *     metric section; a document that does not parse is reported likewise;
 *   - the page is built in memory (a few MB for a full match with tracking)
 *     and written to a temporary file beside the target, then renamed over
 *     it, so a reader never sees half a report and a failure leaves any older
 *     report in place.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "report_svg.h"
#include "store/store.h"

static void help(FILE *out) {
    fprintf(out, "usage: footanalytics report MATCH --out FILE.html [--db PATH]\n"
                 "\n"
                 "Writes one self-contained HTML page for a stored match: score, team comparison,\n"
                 "player tables, possession over time, shot map, heatmaps (team and player), pass\n"
                 "networks, speed profiles and the definitions the metrics were computed with, all\n"
                 "drawn as inline SVG: the page loads nothing from the network. Sections whose data\n"
                 "the match lacks (no tracking: no heatmaps or speeds) say so. MATCH is a store id\n"
                 "(see 'footanalytics matches') or provider:id, e.g. statsbomb:15986. The file is\n"
                 "written beside FILE.html under a temporary name and renamed into place.\n"
                 "\n"
                 "options:\n"
                 "  -o, --out FILE   the HTML file to write (required; replaced when it exists)\n"
                 "  --db PATH        database file (default $FA_DB or ./footanalytics.db)\n"
                 "  -h, --help       show this help\n"
                 "\n"
                 "exit status: 0 ok, 1 usage error, 2 unknown match, 3 runtime failure (cannot\n"
                 "             write FILE.html)\n");
}

/* ------------------------------------------------------------ page state */

typedef struct page {
    fa_buf b;
    fa_store *s;
    const fa_rep_match *m;
    fa_arena *arena;          /* parsed documents and chart strings */
    double hsr_ms, sprint_ms; /* speed thresholds from the definitions, for the speed charts */
} page;

static void put(page *pg, const char *s) { fa_buf_puts(&pg->b, s); }
static void esc(page *pg, const char *s) { fa_html_escape(&pg->b, s); }

static void note(page *pg, const char *text) {
    put(pg, "<p class=\"note\">");
    esc(pg, text);
    put(pg, "</p>\n");
}

static const char *team_name(const page *pg, int side) { return pg->m->row.m.teams[side].name; }
static int has_tracking(const page *pg) { return pg->m->row.n_frames > 0; }
static int has_events(const page *pg) { return pg->m->row.n_events > 0; }

/* ------------------------------------------------------------ documents */

static double jnum(const fa_json_value *o, const char *key) {
    const fa_json_value *v = fa_json_get(o, key);
    return v && v->type == FA_JSON_NUMBER ? v->u.num : NAN;
}

static const char *jstr(const fa_json_value *o, const char *key) {
    const fa_json_value *v = fa_json_get(o, key);
    return v && v->type == FA_JSON_STRING ? v->u.str.ptr : "";
}

static const fa_json_value *jarr(const fa_json_value *o, const char *key) {
    const fa_json_value *v = fa_json_get(o, key);
    return v && v->type == FA_JSON_ARRAY ? v : NULL;
}

/* Reads and parses a stored document: 1 with *out, 0 when the match has
 * none (or it does not parse: *why says so), < 0 on a store failure. */
static int load_doc(page *pg, const char *name, const fa_json_value **out, const char **why) {
    *out = NULL;
    *why = "";
    if (!pg->m->can_aggregate) return 0;
    fa_buf raw = {0};
    int rc = fa_store_doc(pg->s, pg->m->row.id, name, &raw);
    if (rc == FA_ENOTFOUND) {
        fa_err_clear();
        return 0;
    }
    fa_json_value *v = NULL;
    if (!rc && fa_json_parse(name, raw.data ? raw.data : "", raw.len, pg->arena, &v)) {
        *why = " (the stored document does not parse)";
        fa_err_clear();
        v = NULL;
    }
    fa_buf_free(&raw);
    if (rc) return rc;
    *out = v;
    return v != NULL;
}

/* What a section is drawn from. */
enum { NEEDS_EVENTS = 1, NEEDS_TRACKING = 2, NEEDS_EITHER = 3 };

/* A note for a section without data, saying why it is missing. */
static void missing(page *pg, const char *what, int needs, const char *why) {
    char text[512];
    int ev = has_events(pg), tr = has_tracking(pg);
    if (needs == NEEDS_EITHER && !ev && !tr)
        snprintf(text, sizeof text, "No %s: this match has neither event nor tracking data.", what);
    else if (needs == NEEDS_TRACKING && !tr)
        snprintf(text, sizeof text,
                 "No %s: this match has no tracking data%s; they are drawn from player "
                 "positions.",
                 what, ev ? " (events only)" : "");
    else if (needs == NEEDS_EVENTS && !ev)
        snprintf(text, sizeof text, "No %s: this match has no event data%s.", what,
                 tr ? " (tracking only)" : "");
    else if (!pg->m->has_aggregates)
        snprintf(text, sizeof text,
                 "No %s: this match was stored without analysis (import it again to compute "
                 "them).",
                 what);
    else
        snprintf(text, sizeof text, "No %s stored for this match%s.", what, why);
    note(pg, text);
}

/* ------------------------------------------------------------ head and header */

static const char css[] =
    ":root{--home:" FA_SVG_HOME_COLOR ";--away:" FA_SVG_AWAY_COLOR "}\n"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;"
    "color:#1d2327;background:#f6f7f5}\n"
    "header.top{background:#17382a;color:#fff;padding:18px 0 14px}\n"
    ".wrap{max-width:1180px;margin:0 auto;padding:0 24px}\n"
    "h1{font-size:30px;margin:4px 0 6px;font-weight:650}\n"
    "h1 .score{display:inline-block;background:#fff;color:#17382a;border-radius:6px;padding:0 12px;margin:0 "
    "10px}\n"
    "h2{font-size:20px;margin:32px 0 10px;border-bottom:2px solid #17382a;padding-bottom:4px}\n"
    "h3{font-size:15px;margin:14px 0 6px}\n"
    ".kicker,.meta,.credit{margin:2px 0;opacity:.85;font-size:13px}\n"
    "nav{background:#fff;border-bottom:1px solid #dfe3dc;padding:8px 0;font-size:13px}\n"
    "nav a{color:#17382a;margin-right:14px;text-decoration:none}\n"
    "table{border-collapse:collapse;background:#fff;margin:6px 0 12px;font-size:13px}\n"
    "th,td{padding:3px 9px;border-bottom:1px solid #e6e9e3;text-align:right;white-space:nowrap}\n"
    "th{background:#eef1ec;font-weight:600}\n"
    ".l{text-align:left}.wrapcell{white-space:normal;max-width:640px;text-align:left}\n"
    ".bar{display:flex;width:160px;height:10px;border-radius:3px;overflow:hidden;background:#e6e9e3}\n"
    ".bar span:first-child{background:var(--home)}.bar span:last-child{background:var(--away)}\n"
    ".sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin:0 4px 0 "
    "10px;vertical-align:-1px}\n"
    ".sw.home{background:var(--home)}.sw.away{background:var(--away)}\n"
    ".two{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}\n"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:10px}\n"
    ".card{background:#fff;border:1px solid #dfe3dc;border-radius:6px;padding:8px}\n"
    ".card h4{margin:0 0 4px;font-size:13px;font-weight:600}.card p{margin:2px 0;font-size:12px;color:#555}\n"
    ".card.home h4{border-left:4px solid var(--home);padding-left:6px}\n"
    ".card.away h4{border-left:4px solid var(--away);padding-left:6px}\n"
    ".note{background:#fff7e0;border-left:4px solid #e0b000;padding:8px 12px;margin:8px 0}\n"
    "svg{display:block;width:100%;height:auto}\n"
    "svg .grass{fill:#edf4e8}svg .line{fill:none;stroke:#8c9c8c;stroke-width:.3}svg .spot{fill:#8c9c8c}\n"
    "svg .goal{fill:#fff;stroke:#555;stroke-width:.4}svg .cap{font-size:2.6px;fill:#555}\n"
    "svg .num{fill:#fff;font-weight:700}svg .node{stroke:#fff;stroke-width:.35}svg .shot{stroke-width:.3}\n"
    "ol.legend{columns:2;font-size:12px;margin:4px 0 0;padding-left:0;list-style:none}\n"
    "svg .frame{fill:#fff;stroke:#ccc}svg .ref{stroke:#999;stroke-dasharray:4 3}svg "
    ".ax{font-size:9px;fill:#666}\n"
    "svg .series{fill:none;stroke:var(--home);stroke-width:1.5}.away svg .series{stroke:var(--away)}\n"
    "svg .none{fill:#ddd}\n"
    "footer{margin-top:36px;padding:14px 0;border-top:1px solid #dfe3dc;font-size:12px;color:#555}\n";

static void score_text(const fa_match *x, char *buf, size_t size) {
    char h[12] = "?", a[12] = "?";
    if (x->score[0] >= 0) snprintf(h, sizeof h, "%d", x->score[0]);
    if (x->score[1] >= 0) snprintf(a, sizeof a, "%d", x->score[1]);
    snprintf(buf, size, "%s\xe2\x80\x93%s", h, a);
}

static void head(page *pg) {
    const fa_match *x = &pg->m->row.m;
    char score[40];
    score_text(x, score, sizeof score);
    put(pg, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta name=\"generator\" content=\"FootAnalytics " FA_VERSION "\">\n<title>");
    esc(pg, x->teams[0].name);
    fa_buf_printf(&pg->b, " %s ", score);
    esc(pg, x->teams[1].name);
    put(pg, " \xc2\xb7 FootAnalytics match report</title>\n<style>\n");
    put(pg, css);
    put(pg, "</style>\n</head>\n<body>\n");
}

static void header_kicker(page *pg, const fa_match *x) {
    put(pg, "<p class=\"kicker\">");
    esc(pg, x->competition[0] ? x->competition : "Match");
    if (x->season[0]) put(pg, " "), esc(pg, x->season);
    if (x->date[0]) put(pg, " \xc2\xb7 "), esc(pg, x->date);
    put(pg, "</p>\n");
}

static void header(page *pg) {
    const fa_match *x = &pg->m->row.m;
    char score[40], ref[FA_ID_MAX + 32];
    score_text(x, score, sizeof score);
    put(pg, "<header class=\"top\"><div class=\"wrap\">\n");
    header_kicker(pg, x);
    put(pg, "<h1><span class=\"team\">");
    esc(pg, x->teams[0].name);
    fa_buf_printf(&pg->b, "</span><span class=\"score\">%s</span><span class=\"team\">", score);
    esc(pg, x->teams[1].name);
    put(pg, "</span></h1>\n<p class=\"meta\">");
    esc(pg, fa_rep_ref(pg->m, ref, sizeof ref));
    fa_buf_printf(&pg->b, " \xc2\xb7 store id %lld \xc2\xb7 %lld events \xc2\xb7 %lld tracking frames",
                  (long long)pg->m->row.id, (long long)pg->m->row.n_events, (long long)pg->m->row.n_frames);
    if (x->frame_rate > 0) fa_buf_printf(&pg->b, " at %g fps", x->frame_rate);
    fa_buf_printf(&pg->b, " \xc2\xb7 pitch %g \xc3\x97 %g m \xc2\xb7 source: ", x->pitch.length,
                  x->pitch.width);
    esc(pg, x->source[0] ? x->source : "-");
    put(pg, "</p>\n<p class=\"credit\">");
    esc(pg, fa_rep_credit(x->provider));
    put(pg,
        "</p>\n</div></header>\n<nav><div class=\"wrap\"><a href=\"#teams\">Teams</a>"
        "<a href=\"#players\">Players</a><a href=\"#possession\">Possession</a><a href=\"#shots\">Shots</a>"
        "<a href=\"#heatmaps\">Heatmaps</a><a href=\"#passes\">Pass networks</a><a href=\"#speed\">Speed</a>"
        "<a href=\"#definitions\">Definitions</a></div></nav>\n<main class=\"wrap\">\n");
}

/* ------------------------------------------------------------ team comparison */

static void share_bar(page *pg, double h, double a) {
    if (isnan(h) || isnan(a) || h < 0 || a < 0 || h + a <= 0) {
        put(pg, "<td></td>");
        return;
    }
    double f = 100 * h / (h + a);
    fa_buf_printf(&pg->b,
                  "<td><div class=\"bar\"><span style=\"width:%.1f%%\"></span><span style=\"width:%.1f%%\">"
                  "</span></div></td>",
                  f, 100 - f);
}

static void team_row(page *pg, const char *label, const char *h, const char *a, double hv, double av) {
    put(pg, "<tr><td class=\"l\">");
    esc(pg, label);
    put(pg, "</td><td>");
    esc(pg, h);
    put(pg, "</td>");
    share_bar(pg, hv, av);
    put(pg, "<td class=\"l\">");
    esc(pg, a);
    put(pg, "</td></tr>\n");
}

static void team_metric_row(page *pg, const char *name) {
    const fa_rep_match *m = pg->m;
    char label[96], h[32], a[32];
    double hv = fa_rep_metric(m, FA_SIDE_HOME, "", name), av = fa_rep_metric(m, FA_SIDE_AWAY, "", name);
    fa_rep_metric_label(name, label, sizeof label);
    fa_rep_metric_value(name, hv, h, sizeof h);
    fa_rep_metric_value(name, av, a, sizeof a);
    team_row(pg, label, h, a, hv, av);
    if (strcmp(name, "passes_completed") != 0) return;
    double hp = fa_rep_metric(m, FA_SIDE_HOME, "", "passes"),
           ap = fa_rep_metric(m, FA_SIDE_AWAY, "", "passes");
    fa_rep_ratio(hv, hp, h, sizeof h);
    fa_rep_ratio(av, ap, a, sizeof a);
    team_row(pg, "Pass completion", h, a, NAN, NAN);
}

static int is_team_metric(const fa_metric *mt) { return !mt->player_id[0] && mt->side != FA_SIDE_NONE; }

static void ball_table(page *pg) {
    int any = 0;
    for (size_t i = 0; i < pg->m->nmetrics; i++) {
        const fa_metric *mt = &pg->m->metrics[i];
        if (mt->player_id[0] || mt->side != FA_SIDE_NONE) continue;
        char label[96], v[32];
        if (!any++) put(pg, "<h3>Ball</h3>\n<table><tr><th class=\"l\">Metric</th><th>Value</th></tr>\n");
        fa_rep_metric_label(mt->name, label, sizeof label);
        fa_rep_metric_value(mt->name, mt->value, v, sizeof v);
        put(pg, "<tr><td class=\"l\">");
        esc(pg, label);
        put(pg, "</td><td>");
        esc(pg, v);
        put(pg, "</td></tr>\n");
    }
    if (any) put(pg, "</table>\n");
}

static void section_teams(page *pg) {
    const fa_rep_match *m = pg->m;
    char h[16] = "?", a[16] = "?";
    put(pg, "<section id=\"teams\"><h2>Team comparison</h2>\n<table><tr><th class=\"l\"></th><th>");
    esc(pg, team_name(pg, 0));
    put(pg, "</th><th></th><th class=\"l\">");
    esc(pg, team_name(pg, 1));
    put(pg, "</th></tr>\n");
    if (m->row.m.score[0] >= 0) snprintf(h, sizeof h, "%d", m->row.m.score[0]);
    if (m->row.m.score[1] >= 0) snprintf(a, sizeof a, "%d", m->row.m.score[1]);
    team_row(pg, "Score", h, a, NAN, NAN);
    int rows = 0;
    for (size_t i = 0; i < m->nmetrics; i++) {
        if (!is_team_metric(&m->metrics[i])) continue;
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = is_team_metric(&m->metrics[k]) && strcmp(m->metrics[k].name, m->metrics[i].name) == 0;
        if (!seen) team_metric_row(pg, m->metrics[i].name), rows++;
    }
    put(pg, "</table>\n");
    if (!rows) missing(pg, "team metrics", NEEDS_EITHER, "");
    ball_table(pg);
    put(pg, "</section>\n");
}

/* ------------------------------------------------------------ player tables */

typedef struct pcol {
    const char *metric; /* NULL: pass completion */
    const char *head;
} pcol;

static const pcol pcols[] = {
    {"minutes", "Min"},
    {"passes", "Passes"},
    {NULL, "Cmp%"},
    {"progressive_passes", "Prog"},
    {"shots", "Shots"},
    {"goals", "Goals"},
    {"xg", "xG"},
    {"xt", "xT"},
    {"distance_m", "Dist (m)"},
    {"hsr_distance_m", "HSR (m)"},
    {"sprints", "Sprints"},
    {"peak_speed_ms", "Peak (m/s)"},
};
#define NPCOLS (sizeof pcols / sizeof pcols[0])

static int pcol_shown(const fa_rep_match *m, const pcol *c) {
    if (!c->metric) return fa_rep_has_player_metric(m, "passes_completed");
    return strcmp(c->metric, "minutes") == 0 || fa_rep_has_player_metric(m, c->metric);
}

static void player_row(page *pg, const fa_player *p) {
    const fa_rep_match *m = pg->m;
    put(pg, "<tr><td class=\"l\">");
    esc(pg, p->name[0] ? p->name : p->id);
    put(pg, "</td><td>");
    if (p->shirt >= 0) fa_buf_printf(&pg->b, "%d", p->shirt);
    put(pg, "</td><td class=\"l\">");
    esc(pg, p->position);
    put(pg, "</td>");
    for (size_t c = 0; c < NPCOLS; c++) {
        if (!pcol_shown(m, &pcols[c])) continue;
        char v[32];
        if (!pcols[c].metric) {
            fa_rep_ratio(fa_rep_metric(m, p->side, p->id, "passes_completed"),
                         fa_rep_metric(m, p->side, p->id, "passes"), v, sizeof v);
        } else {
            double x = fa_rep_metric(m, p->side, p->id, pcols[c].metric);
            if (isnan(x) && strcmp(pcols[c].metric, "minutes") == 0) x = p->minutes;
            fa_rep_metric_value(pcols[c].metric, x, v, sizeof v);
        }
        put(pg, "<td>");
        esc(pg, v);
        put(pg, "</td>");
    }
    put(pg, "</tr>\n");
}

static void player_table(page *pg, int side) {
    const fa_rep_match *m = pg->m;
    fa_buf_printf(&pg->b, "<h3><span class=\"sw %s\"></span>", side ? "away" : "home");
    esc(pg, team_name(pg, side));
    put(pg, "</h3>\n<table><tr><th class=\"l\">Player</th><th>#</th><th class=\"l\">Position</th>");
    for (size_t c = 0; c < NPCOLS; c++)
        if (pcol_shown(m, &pcols[c])) fa_buf_printf(&pg->b, "<th>%s</th>", pcols[c].head);
    put(pg, "</tr>\n");
    int n = 0;
    for (size_t i = 0; i < m->nplayers; i++)
        if (m->players[i].side == side) player_row(pg, &m->players[i]), n++;
    put(pg, "</table>\n");
    if (!n) note(pg, "No players stored for this team.");
}

static void section_players(page *pg) {
    put(pg, "<section id=\"players\"><h2>Players</h2>\n");
    if (pg->m->nmetrics == 0) missing(pg, "player metrics", NEEDS_EITHER, "");
    player_table(pg, 0);
    player_table(pg, 1);
    put(pg, "<p class=\"meta\">Cmp%: passes completed of passes attempted. Prog: progressive passes. HSR: "
            "high-speed running distance. Definitions at the end of the page.</p>\n</section>\n");
}

/* ------------------------------------------------------------ possession */

static int possession_chart(page *pg, const fa_json_value *tl, const char *what) {
    const fa_json_value *ws = jarr(tl, "windows");
    if (!ws || ws->u.arr.n == 0) return 0;
    fa_svg_window *w = fa_arena_alloc(pg->arena, ws->u.arr.n * sizeof *w);
    if (!w) return FA_ENOMEM;
    for (size_t i = 0; i < ws->u.arr.n; i++) {
        const fa_json_value *o = ws->u.arr.items[i];
        double period = jnum(o, "period");
        w[i] = (fa_svg_window){isfinite(period) ? (int)period : 0, jnum(o, "t0"), jnum(o, "t1"),
                               jnum(o, "home"), jnum(o, "away")};
    }
    const fa_json_value *share = jarr(tl, "share");
    fa_buf_printf(&pg->b, "<h3>%s</h3>\n<p class=\"meta\"><span class=\"sw home\"></span>", what);
    esc(pg, team_name(pg, 0));
    if (share && share->u.arr.n == 2 && share->u.arr.items[0]->type == FA_JSON_NUMBER)
        fa_buf_printf(&pg->b, " %.1f%%", 100 * share->u.arr.items[0]->u.num);
    put(pg, "<span class=\"sw away\"></span>");
    esc(pg, team_name(pg, 1));
    if (share && share->u.arr.n == 2 && share->u.arr.items[1]->type == FA_JSON_NUMBER)
        fa_buf_printf(&pg->b, " %.1f%%", 100 * share->u.arr.items[1]->u.num);
    put(pg, " \xc2\xb7 method: ");
    esc(pg, jstr(tl, "method"));
    put(pg, "</p>\n");
    char label[160];
    snprintf(label, sizeof label, "Possession per window, %s", what);
    return fa_svg_possession(&pg->b, w, ws->u.arr.n, label);
}

static int section_possession(page *pg) {
    const fa_json_value *doc;
    const char *why;
    put(pg, "<section id=\"possession\"><h2>Possession over time</h2>\n");
    int rc = load_doc(pg, "possession_timeline", &doc, &why);
    if (rc < 0) return rc;
    double win = rc ? jnum(doc, "window_s") : NAN;
    if (rc && isfinite(win))
        fa_buf_printf(&pg->b,
                      "<p class=\"meta\">Share of the controlled time in each %.0f-minute "
                      "window (grey: nobody in control).</p>\n",
                      win / 60);
    const fa_json_value *ev = rc ? fa_json_get(doc, "events") : NULL,
                        *tr = rc ? fa_json_get(doc, "tracking") : NULL;
    int drawn = 0;
    if (ev && (rc = possession_chart(pg, ev, "from events")) < 0) return rc;
    drawn += ev != NULL;
    if (tr && (rc = possession_chart(pg, tr, "from tracking")) < 0) return rc;
    drawn += tr != NULL;
    if (!drawn) missing(pg, "possession timeline", NEEDS_EITHER, why);
    put(pg, "</section>\n");
    return 0;
}

/* ------------------------------------------------------------ shot map */

typedef struct shot_ctx {
    page *pg;
    fa_svg_shot *shots;
    size_t n, cap;
} shot_ctx;

static void shot_title(const page *pg, const fa_event *e, char *buf, size_t size) {
    char clock[16], xg[16] = "-";
    if (!isnan(e->xg)) snprintf(xg, sizeof xg, "%.2f", e->xg);
    snprintf(buf, size, "%s, period %d %s, xG %s%s%s%s", fa_rep_player_name(pg->m, e->player_id), e->period,
             fa_cli_clock(e->t, clock), xg, e->outcome[0] ? ", " : "", e->outcome, e->goal ? " (goal)" : "");
}

static int on_shot(void *ud, const fa_event *e) {
    shot_ctx *c = ud;
    int dir = fa_attack_dir(e->side, e->period);
    if (!dir) return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        fa_svg_shot *n = fa_realloc(c->shots, cap * sizeof *n);
        if (!n) return FA_ENOMEM;
        c->shots = n;
        c->cap = cap;
    }
    double turn = dir * (e->side == FA_SIDE_HOME ? 1 : -1); /* home towards +x, away towards -x */
    char title[256];
    shot_title(c->pg, e, title, sizeof title);
    char *t = fa_arena_strndup(c->pg->arena, title, strlen(title));
    if (!t) return FA_ENOMEM;
    c->shots[c->n++] = (fa_svg_shot){e->x * turn, e->y * turn, e->xg, e->goal, e->side, t};
    return 0;
}

static int section_shots(page *pg) {
    put(pg, "<section id=\"shots\"><h2>Shot map</h2>\n");
    shot_ctx c = {pg, NULL, 0, 0};
    fa_event_filter f;
    fa_event_filter_init(&f, pg->m->row.id);
    f.kind = FA_EV_SHOT;
    int rc = has_events(pg) ? fa_store_events(pg->s, &f, on_shot, &c) : 0;
    if (!rc && c.n) {
        put(pg, "<p class=\"meta\"><span class=\"sw home\"></span>");
        esc(pg, team_name(pg, 0));
        put(pg, " attacking \xe2\x86\x92<span class=\"sw away\"></span>");
        esc(pg, team_name(pg, 1));
        int any_xg = 0;
        for (size_t i = 0; i < c.n; i++) any_xg |= !isnan(c.shots[i].xg);
        put(pg, " attacking \xe2\x86\x90 \xc2\xb7 ");
        put(pg, any_xg ? "circle area by the provider's xG" : "the provider gives no xG");
        put(pg,
            ", filled circles are goals; hover a shot for its details.</p>\n<div style=\"max-width:820px\">");
        fa_svg_shot_map(&pg->b, &pg->m->row.m.pitch, c.shots, c.n, "Shots of both teams");
        put(pg, "</div>\n");
    } else if (!rc) {
        note(pg, has_events(pg) ? "No shots in this match's events."
                                : "No shot map: this match has no event data.");
    }
    free(c.shots);
    put(pg, "</section>\n");
    return rc;
}

/* ------------------------------------------------------------ heatmaps */

typedef struct heat_item {
    char player_id[FA_ID_MAX];
    fa_side side;
    fa_buf svg;
} heat_item;

typedef struct heat_ctx {
    page *pg;
    heat_item *items;
    size_t n, cap;
} heat_ctx;

static int on_grid(void *ud, const fa_grid *g) {
    heat_ctx *c = ud;
    if (strcmp(g->name, "heatmap") != 0 || g->nx <= 0 || g->ny <= 0 || !g->cells) return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        heat_item *n = fa_realloc(c->items, cap * sizeof *n);
        if (!n) return FA_ENOMEM;
        c->items = n;
        c->cap = cap;
    }
    heat_item *it = &c->items[c->n++];
    memset(it, 0, sizeof *it);
    fa_strlcpy_utf8(it->player_id, g->player_id, sizeof it->player_id);
    it->side = g->side;
    char label[FA_NAME_MAX + 32];
    const char *who = g->player_id[0]           ? fa_rep_player_name(c->pg->m, g->player_id)
                      : g->side == FA_SIDE_NONE ? "?"
                                                : team_name(c->pg, g->side);
    snprintf(label, sizeof label, "Heatmap: %s", who);
    return fa_svg_heatmap(&it->svg, &c->pg->m->row.m.pitch, g->nx, g->ny, g->cells, label);
}

static void heat_free(heat_ctx *c) {
    for (size_t i = 0; i < c->n; i++) fa_buf_free(&c->items[i].svg);
    free(c->items);
}

static void player_caption(page *pg, const char *id, fa_side side) {
    char v[32];
    double min = fa_rep_metric(pg->m, side, id, "minutes"),
           dist = fa_rep_metric(pg->m, side, id, "distance_m");
    double peak = fa_rep_metric(pg->m, side, id, "peak_speed_ms");
    put(pg, "<p>");
    fa_rep_metric_value("minutes", min, v, sizeof v);
    put(pg, v), put(pg, " min");
    fa_rep_metric_value("distance_m", dist, v, sizeof v);
    put(pg, " \xc2\xb7 "), put(pg, v), put(pg, " m");
    fa_rep_metric_value("peak_speed_ms", peak, v, sizeof v);
    put(pg, " \xc2\xb7 peak "), put(pg, v), put(pg, " m/s</p>");
}

static void card_open(page *pg, const char *id, fa_side side) {
    const fa_player *p = fa_rep_player(pg->m, id);
    fa_buf_printf(&pg->b, "<div class=\"card %s\"><h4>", side == FA_SIDE_AWAY ? "away" : "home");
    esc(pg, fa_rep_player_name(pg->m, id));
    if (p && p->shirt >= 0) fa_buf_printf(&pg->b, " #%d", p->shirt);
    put(pg, "</h4>");
}

static void heat_card(page *pg, const heat_item *it) {
    card_open(pg, it->player_id, it->side);
    put(pg, it->svg.data ? it->svg.data : "");
    player_caption(pg, it->player_id, it->side);
    put(pg, "</div>\n");
}

/* Player cards of one side in roster order, then any the roster lacks. */
static void heat_players(page *pg, const heat_ctx *c, int side) {
    put(pg, "<h3>");
    esc(pg, team_name(pg, side));
    put(pg, ": players</h3>\n<div class=\"grid\">\n");
    for (size_t k = 0; k < pg->m->nplayers; k++)
        for (size_t i = 0; pg->m->players[k].side == side && i < c->n; i++)
            if (strcmp(c->items[i].player_id, pg->m->players[k].id) == 0) heat_card(pg, &c->items[i]);
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].player_id[0] && c->items[i].side == side &&
            !fa_rep_player(pg->m, c->items[i].player_id))
            heat_card(pg, &c->items[i]);
    put(pg, "</div>\n");
}

/* Says which roster players the tracking never shows and how many samples
 * were dropped as unusable (the "data_quality" document), so a missing map
 * or a short distance is never a silent surprise. */
static int data_quality_note(page *pg) {
    const fa_json_value *q;
    const char *why;
    int rc = load_doc(pg, "data_quality", &q, &why);
    if (rc <= 0) return rc;
    const fa_json_value *missing_players = jarr(q, "players_without_frames");
    double rejected = jnum(q, "rejected_samples");
    if ((!missing_players || missing_players->u.arr.n == 0) && !(rejected > 0)) return 0;
    put(pg, "<p class=\"note\">");
    if (missing_players && missing_players->u.arr.n) {
        put(pg, "Not in the tracking (no maps, no physical figures): ");
        for (size_t i = 0; i < missing_players->u.arr.n; i++) {
            const fa_json_value *id = missing_players->u.arr.items[i];
            if (id->type != FA_JSON_STRING) continue;
            if (i) put(pg, ", ");
            esc(pg, fa_rep_player_name(pg->m, id->u.str.ptr));
        }
        put(pg, ". ");
    }
    if (rejected > 0) fa_buf_printf(&pg->b, "%.0f tracking samples were dropped as unusable "
                                            "(non-finite or far off the pitch).", rejected);
    put(pg, "</p>\n");
    return 0;
}

static int section_heatmaps(page *pg) {
    put(pg, "<section id=\"heatmaps\"><h2>Heatmaps</h2>\n");
    heat_ctx c = {pg, NULL, 0, 0};
    int rc = pg->m->can_aggregate ? fa_store_grids(pg->s, pg->m->row.id, NULL, on_grid, &c) : 0;
    if (!rc && c.n) {
        put(pg,
            "<p class=\"meta\">Time spent per zone from the tracking, every team and player drawn attacking "
            "left to right; colour scaled to each map's busiest zone.</p>\n<div class=\"two\">\n");
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; i < c.n; i++)
                if (!c.items[i].player_id[0] && c.items[i].side == s) {
                    put(pg, "<div><h3>");
                    esc(pg, team_name(pg, s));
                    put(pg, "</h3>");
                    put(pg, c.items[i].svg.data ? c.items[i].svg.data : "");
                    put(pg, "</div>\n");
                }
        put(pg, "</div>\n");
        heat_players(pg, &c, 0);
        heat_players(pg, &c, 1);
    } else if (!rc) {
        missing(pg, "heatmaps", NEEDS_TRACKING, "");
    }
    if (!rc) rc = data_quality_note(pg);
    heat_free(&c);
    put(pg, "</section>\n");
    return rc;
}

/* ------------------------------------------------------------ pass networks */

/* The node's label: the player's shirt number, else its position in the list. */
static const char *node_label(page *pg, const char *id, size_t i) {
    const fa_player *p = fa_rep_player(pg->m, id);
    char buf[32];
    if (p && p->shirt >= 0)
        snprintf(buf, sizeof buf, "%d", p->shirt);
    else
        snprintf(buf, sizeof buf, "p%zu", i + 1);
    return fa_arena_strndup(pg->arena, buf, strlen(buf));
}

/* Who each node is: "10 Lionel Messi, 77 passes". */
static void network_legend(page *pg, const fa_svg_node *n, size_t nn) {
    put(pg, "<ol class=\"legend\">");
    for (size_t i = 0; i < nn; i++) {
        put(pg, "<li><b>");
        esc(pg, n[i].label);
        put(pg, "</b> ");
        esc(pg, n[i].title);
        fa_buf_printf(&pg->b, " (%d)</li>", n[i].passes);
    }
    put(pg, "</ol>\n");
}

static int network_chart(page *pg, const fa_json_value *doc, int side) {
    const fa_json_value *nodes = jarr(doc, "nodes"), *edges = jarr(doc, "edges");
    size_t nn = nodes ? nodes->u.arr.n : 0, ne = edges ? edges->u.arr.n : 0;
    if (nn == 0) return note(pg, "No completed passes between players."), 0;
    fa_svg_node *n = fa_arena_alloc(pg->arena, nn * sizeof *n);
    fa_svg_edge *e = fa_arena_alloc(pg->arena, (ne ? ne : 1) * sizeof *e);
    if (!n || !e) return FA_ENOMEM;
    for (size_t i = 0; i < nn; i++) {
        const fa_json_value *o = nodes->u.arr.items[i];
        const char *id = jstr(o, "id"), *name = jstr(o, "name");
        double passes = jnum(o, "passes");
        const char *label = node_label(pg, id, i);
        if (!label) return FA_ENOMEM;
        name = name[0] ? name : fa_rep_player_name(pg->m, id);
        n[i] = (fa_svg_node){label, name, jnum(o, "x"), jnum(o, "y"),
                             isfinite(passes) && passes > 0 && passes < 1e6 ? (int)passes : 0};
    }
    for (size_t i = 0; i < ne; i++) {
        const fa_json_value *o = edges->u.arr.items[i];
        double f = jnum(o, "from"), t = jnum(o, "to"), cnt = jnum(o, "count");
        int ok = f >= 0 && t >= 0 && f < (double)nn && t < (double)nn && cnt > 0 && cnt < 1e6;
        e[i] = (fa_svg_edge){ok ? (size_t)f : nn, ok ? (size_t)t : nn, ok ? (int)cnt : 0};
    }
    char label[FA_NAME_MAX + 32];
    snprintf(label, sizeof label, "Pass network: %s", team_name(pg, side));
    int rc = fa_svg_pass_network(&pg->b, &pg->m->row.m.pitch, n, nn, e, ne,
                                 side ? FA_SVG_AWAY_COLOR : FA_SVG_HOME_COLOR, label);
    network_legend(pg, n, nn);
    return rc;
}

static int network_block(page *pg, int side) {
    static const char *const names[2] = {"pass_network_home", "pass_network_away"};
    const fa_json_value *doc;
    const char *why;
    int rc = load_doc(pg, names[side], &doc, &why);
    if (rc < 0) return rc;
    put(pg, "<div><h3>");
    esc(pg, team_name(pg, side));
    put(pg, "</h3>");
    if (rc) {
        double until_p = jnum(doc, "until_period"), until_t = jnum(doc, "until_t");
        char clock[16];
        if (isfinite(until_p) && isfinite(until_t))
            fa_buf_printf(&pg->b,
                          "<p class=\"meta\">Completed passes until the first substitution (period %.0f, "
                          "%s).</p>",
                          until_p, fa_cli_clock(until_t, clock));
        rc = network_chart(pg, doc, side);
    } else {
        missing(pg, "pass network", NEEDS_EVENTS, why);
    }
    put(pg, "</div>\n");
    return rc < 0 ? rc : 0;
}

static int section_passes(page *pg) {
    put(pg,
        "<section id=\"passes\"><h2>Pass networks</h2>\n<p class=\"meta\">Nodes at each player's average "
        "event "
        "position (attacking left to right), labelled with the shirt number and sized by completed passes "
        "(in brackets below); lines between two players, wider with more passes either way.</p>\n"
        "<div class=\"two\">\n");
    int rc = network_block(pg, 0);
    if (!rc) rc = network_block(pg, 1);
    put(pg, "</div>\n</section>\n");
    return rc;
}

/* ------------------------------------------------------------ speed profiles */

#define SPEED_PERIODS 5

typedef struct speed_layout {
    double step;
    double offset[SPEED_PERIODS + 1]; /* seconds before each period on the chart's axis */
    double total;                     /* seconds of the axis */
    double vmax;
} speed_layout;

/* Periods end to end (each as long as its longest series) and the common scale. */
static void speed_layout_make(const page *pg, const fa_json_value *players, speed_layout *l) {
    double len[SPEED_PERIODS + 1] = {0}, vmax = 0;
    for (size_t i = 0; i < players->u.arr.n; i++) {
        const fa_json_value *ps = jarr(players->u.arr.items[i], "periods");
        for (size_t k = 0; ps && k < ps->u.arr.n; k++) {
            const fa_json_value *o = ps->u.arr.items[k], *v = jarr(o, "v");
            double p = jnum(o, "period"), t0 = jnum(o, "t0");
            if (!(p >= 1 && p <= SPEED_PERIODS) || !isfinite(t0) || !v) continue;
            len[(int)p] = fmax(len[(int)p], t0 + (double)v->u.arr.n * l->step);
            for (size_t j = 0; j < v->u.arr.n; j++)
                if (v->u.arr.items[j]->type == FA_JSON_NUMBER) vmax = fmax(vmax, v->u.arr.items[j]->u.num);
        }
    }
    double at = 0;
    for (int p = 1; p <= SPEED_PERIODS; p++) l->offset[p] = at, at += len[p];
    l->total = at;
    l->vmax = fmax(vmax * 1.1, isfinite(pg->sprint_ms) ? pg->sprint_ms * 1.1 : 0);
    l->vmax = l->vmax > 0 ? ceil(l->vmax) : 1;
}

/* Samples of a player's series plus one break (NAN) per period. */
static size_t speed_samples(const fa_json_value *ps) {
    size_t n = 0;
    for (size_t k = 0; ps && k < ps->u.arr.n; k++) {
        const fa_json_value *vs = jarr(ps->u.arr.items[k], "v");
        n += 1 + (vs ? vs->u.arr.n : 0);
    }
    return n;
}

/* Fills t (bucket centres on the chart's axis) and v; returns the count. */
static size_t speed_series(const fa_json_value *ps, const speed_layout *l, double *t, double *v) {
    size_t at = 0;
    for (size_t k = 0; ps && k < ps->u.arr.n; k++) {
        const fa_json_value *o = ps->u.arr.items[k], *vs = jarr(o, "v");
        double p = jnum(o, "period"), t0 = jnum(o, "t0");
        int ok = p >= 1 && p <= SPEED_PERIODS && isfinite(t0);
        t[at] = v[at] = NAN, at++;
        for (size_t j = 0; vs && j < vs->u.arr.n; j++, at++) {
            t[at] = ok ? l->offset[(int)p] + t0 + ((double)j + 0.5) * l->step : NAN;
            v[at] = vs->u.arr.items[j]->type == FA_JSON_NUMBER ? vs->u.arr.items[j]->u.num : NAN;
        }
    }
    return at;
}

static int speed_chart(page *pg, const fa_json_value *pl, const speed_layout *l) {
    const fa_json_value *ps = jarr(pl, "periods");
    size_t cap = speed_samples(ps) + 1;
    double *t = fa_arena_alloc(pg->arena, cap * sizeof *t), *v = fa_arena_alloc(pg->arena, cap * sizeof *v);
    if (!t || !v) return FA_ENOMEM;
    size_t n = speed_series(ps, l, t, v);
    const fa_svg_ref refs[2] = {{pg->hsr_ms, "high speed"}, {pg->sprint_ms, "sprint"}};
    char label[FA_NAME_MAX + 32];
    snprintf(label, sizeof label, "Speed profile: %s", fa_rep_player_name(pg->m, jstr(pl, "id")));
    return fa_svg_line_chart(&pg->b, t, v, n, 0, l->total, l->vmax, l->step, refs, 2, l->offset + 2,
                             SPEED_PERIODS - 1, label);
}

static int speed_card(page *pg, const fa_json_value *pl, const speed_layout *l) {
    const char *id = jstr(pl, "id");
    fa_side side = strcmp(jstr(pl, "side"), "away") == 0 ? FA_SIDE_AWAY : FA_SIDE_HOME;
    card_open(pg, id, side);
    int rc = speed_chart(pg, pl, l);
    player_caption(pg, id, side);
    put(pg, "</div>\n");
    return rc;
}

/* Cards in roster order, then players the roster lacks. */
static int speed_cards(page *pg, const fa_json_value *players, const speed_layout *l) {
    int rc = 0;
    char *done = fa_arena_alloc(pg->arena, players->u.arr.n + 1);
    if (!done) return FA_ENOMEM;
    memset(done, 0, players->u.arr.n + 1);
    put(pg, "<div class=\"grid\">\n");
    for (size_t k = 0; k < pg->m->nplayers && !rc; k++)
        for (size_t i = 0; i < players->u.arr.n && !rc; i++)
            if (!done[i] && strcmp(jstr(players->u.arr.items[i], "id"), pg->m->players[k].id) == 0)
                done[i] = 1, rc = speed_card(pg, players->u.arr.items[i], l);
    for (size_t i = 0; i < players->u.arr.n && !rc; i++)
        if (!done[i]) rc = speed_card(pg, players->u.arr.items[i], l);
    put(pg, "</div>\n");
    return rc;
}

static int section_speed(page *pg) {
    const fa_json_value *doc;
    const char *why;
    put(pg, "<section id=\"speed\"><h2>Speed profiles</h2>\n");
    int rc = load_doc(pg, "speed_profile", &doc, &why);
    const fa_json_value *players = rc > 0 ? jarr(doc, "players") : NULL;
    if (rc >= 0 && players && players->u.arr.n) {
        speed_layout l;
        l.step = isfinite(jnum(doc, "step_s")) && jnum(doc, "step_s") > 0 ? jnum(doc, "step_s") : 5;
        speed_layout_make(pg, players, &l);
        fa_buf_printf(&pg->b,
                      "<p class=\"meta\">Mean smoothed speed per %g s (m/s), periods end to end, one scale "
                      "for all; dashed lines: the high-speed and sprint thresholds. Short efforts vanish "
                      "in a %g s mean: counts and peaks are in the tables.</p>\n",
                      l.step, l.step);
        rc = speed_cards(pg, players, &l);
    } else if (rc >= 0) {
        missing(pg, "speed profiles", NEEDS_TRACKING, why);
        rc = 0;
    }
    put(pg, "</section>\n");
    return rc;
}

/* ------------------------------------------------------------ definitions */

static void def_value(page *pg, const fa_json_value *v, int depth);

static void def_array(page *pg, const fa_json_value *v, int depth) {
    for (size_t i = 0; i < v->u.arr.n; i++) {
        const fa_json_value *it = v->u.arr.items[i];
        if (i) put(pg, it->type == FA_JSON_OBJECT ? "; " : ", ");
        if (it->type == FA_JSON_OBJECT && fa_json_get(it, "name") && fa_json_get(it, "lo")) {
            esc(pg, jstr(it, "name"));
            put(pg, " ");
            def_value(pg, fa_json_get(it, "lo"), depth + 1);
            put(pg, "\xe2\x80\x93");
            def_value(pg, fa_json_get(it, "hi") ? fa_json_get(it, "hi") : fa_json_get(it, "lo"), depth + 1);
        } else {
            def_value(pg, it, depth + 1);
        }
    }
}

static void def_value(page *pg, const fa_json_value *v, int depth) {
    if (!v || depth > 8) return;
    switch (v->type) {
    case FA_JSON_NULL: put(pg, "\xe2\x88\x9e"); break; /* the config writes an open band edge as null */
    case FA_JSON_TRUE: put(pg, "true"); break;
    case FA_JSON_FALSE: put(pg, "false"); break;
    case FA_JSON_NUMBER: fa_buf_printf(&pg->b, "%g", v->u.num); break;
    case FA_JSON_STRING: esc(pg, v->u.str.ptr); break;
    case FA_JSON_ARRAY: def_array(pg, v, depth); break;
    case FA_JSON_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++) {
            put(pg, i ? ", " : "");
            esc(pg, v->u.obj.keys[i]);
            put(pg, ": ");
            def_value(pg, v->u.obj.vals[i], depth + 1);
        }
        break;
    }
}

/* One row per leaf; nested objects become dotted keys. */
static void def_rows(page *pg, const char *prefix, const fa_json_value *o, int depth) {
    for (size_t i = 0; i < o->u.obj.n; i++) {
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", o->u.obj.keys[i]);
        const fa_json_value *v = o->u.obj.vals[i];
        if (v->type == FA_JSON_OBJECT && depth < 4) {
            def_rows(pg, key, v, depth + 1);
            continue;
        }
        put(pg, "<tr><td class=\"l\">");
        esc(pg, key);
        put(pg, "</td><td class=\"wrapcell\">");
        def_value(pg, v, 0);
        put(pg, "</td></tr>\n");
    }
}

static void section_definitions(page *pg, const fa_json_value *defs, const char *why) {
    put(pg, "<section id=\"definitions\"><h2>Definitions used</h2>\n");
    if (defs && defs->type == FA_JSON_OBJECT) {
        put(pg,
            "<p class=\"meta\">The configuration and definitions every figure on this page was computed with "
            "(speeds in km/h unless stated, bands as [low, high)).</p>\n<table><tr><th "
            "class=\"l\">Setting</th>"
            "<th class=\"l\">Value</th></tr>\n");
        def_rows(pg, "", defs, 0);
        put(pg, "</table>\n");
    } else {
        missing(pg, "definitions", NEEDS_EITHER, why);
    }
    put(pg,
        "<p class=\"meta\">Coordinates: metres from the centre spot; the home team attacks +x in the first "
        "half. Times: seconds from the start of each period.</p>\n</section>\n");
}

/* ------------------------------------------------------------ the page */

static void footer(page *pg) {
    put(pg, "</main>\n<footer><div class=\"wrap\">Generated by FootAnalytics " FA_VERSION ". This page is "
            "self-contained: it loads no script, font, image or style sheet from anywhere.<br>");
    esc(pg, fa_rep_credit(pg->m->row.m.provider));
    put(pg, "</div></footer>\n</body>\n</html>\n");
}

/* Speed thresholds (km/h in the configuration) for the speed charts. */
static void read_thresholds(page *pg, const fa_json_value *defs) {
    const fa_json_value *cfg = fa_json_get(defs, "config");
    pg->hsr_ms = jnum(cfg, "hsr_kmh") / 3.6;
    pg->sprint_ms = jnum(cfg, "sprint_kmh") / 3.6;
}

static int build_page(page *pg) {
    const fa_json_value *defs;
    const char *why;
    fa_err_clear();
    int rc = load_doc(pg, "definitions", &defs, &why);
    if (rc < 0) return rc;
    pg->hsr_ms = pg->sprint_ms = NAN;
    if (defs) read_thresholds(pg, defs);
    head(pg);
    header(pg);
    section_teams(pg);
    section_players(pg);
    rc = section_possession(pg);
    if (!rc) rc = section_shots(pg);
    if (!rc) rc = section_heatmaps(pg);
    if (!rc) rc = section_passes(pg);
    if (!rc) rc = section_speed(pg);
    if (rc) return rc;
    section_definitions(pg, defs, why);
    footer(pg);
    return fa_err_code() == FA_ENOMEM ? FA_ENOMEM : 0;
}

/* ------------------------------------------------------------ writing */

static int write_all(int fd, const char *data, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes data to a temporary file beside path, then renames it over path. */
static int write_atomically(const char *path, const char *data, size_t n) {
    size_t len = strlen(path) + 16;
    char *tmp = fa_malloc(len);
    if (!tmp) return FA_ENOMEM;
    snprintf(tmp, len, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp), rc = 0;
    if (fd < 0) {
        rc = fa_err_set(FA_EIO, "%s: cannot create a file beside it: %s", path, strerror(errno));
    } else {
        if (fchmod(fd, 0644) || write_all(fd, data, n) || fsync(fd))
            rc = fa_err_set(FA_EIO, "%s: writing: %s", tmp, strerror(errno));
        if (close(fd) && !rc) rc = fa_err_set(FA_EIO, "%s: closing: %s", tmp, strerror(errno));
        if (!rc && rename(tmp, path))
            rc = fa_err_set(FA_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
        if (rc) unlink(tmp);
    }
    free(tmp);
    return rc;
}

static int report(fa_store *s, const char *ref, const char *out) {
    fa_rep_match m;
    int rc = fa_rep_load(s, ref, &m);
    if (rc) return rc;
    page pg = {.s = s, .m = &m, .arena = fa_arena_new(1 << 16)};
    rc = pg.arena ? build_page(&pg) : FA_ENOMEM;
    if (!rc) rc = write_atomically(out, pg.b.data, pg.b.len);
    char score[40];
    score_text(&m.row.m, score, sizeof score);
    if (!rc)
        printf("wrote %s (%zu bytes): %s %s %s\n", out, pg.b.len, m.row.m.teams[0].name, score,
               m.row.m.teams[1].name);
    fa_buf_free(&pg.b);
    fa_arena_free(pg.arena);
    fa_rep_free(&m);
    return rc;
}

int fa_cmd_report(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'o': out = optarg; break;
        case 'h': help(stdout); return 0;
        default: return fa_cli_usage("report", "bad option");
        }
    }
    if (optind >= argc) return fa_cli_usage("report", "missing MATCH (a store id or provider:id)");
    if (optind + 1 < argc) return fa_cli_usage("report", "unexpected argument '%s'", argv[optind + 1]);
    if (!out || !*out) return fa_cli_usage("report", "missing --out FILE.html");
    fa_store *store = fa_store_open(fa_cli_db_path(db), 0, 0);
    if (!store) return fa_cli_fail("report");
    int rc = report(store, argv[optind], out);
    int status = rc ? fa_cli_fail("report") : 0;
    fa_store_close(store);
    return status;
}
