/*
 * cmd_stats.c - `footanalytics stats MATCH`: a stored match's metrics as
 * tables (teams side by side, one line per player), one player's full list,
 * or one JSON object.
 *
 * Nothing is computed here: the figures are the aggregates analytics stored
 * at import (report_svg.h loads and orders them), so `stats` and `report`
 * always agree. Every stored metric is shown, known ones with words, units
 * and sensible decimals, unknown ones under their own name; the one derived
 * figure is pass completion (completed / attempted). A match stored without
 * analysis shows its roster and says so rather than inventing numbers.
 *
 * --recompute is analytics on demand: the stored match (roster, events,
 * tracking chunks) is replayed through a collector exactly as a parser would
 * stream it, analysed with the given configuration, and its aggregates are
 * replaced in one transaction before they are shown.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "cli.h"
#include "report_svg.h"
#include "store/store.h"

#define MAX_SETS 64

static void help(FILE *out) {
    fprintf(out, "usage: footanalytics stats MATCH [--db PATH] [--player ID] [--json]\n"
                 "                         [--recompute [--config FILE] [--set KEY=VALUE]...]\n"
                 "\n"
                 "Shows the metrics stored for a match when it was imported: a team table (score,\n"
                 "possession, passes, shots, goals, xG, xT, distance, sprints ... whatever was\n"
                 "computed), then one line per player. MATCH is a store id (see 'footanalytics\n"
                 "matches') or provider:id, e.g. statsbomb:15986. Distances are metres, speeds m/s,\n"
                 "possession a share of the time either team controlled the ball; the definitions\n"
                 "used (speed bands, thresholds, xT grid ...) are in the --json output.\n"
                 "\n"
                 "options:\n"
                 "  --db PATH        database file (default $FA_DB or ./footanalytics.db)\n"
                 "  --player ID      only this player (the provider's player id): every metric\n"
                 "  --json           print one JSON object: match, teams, ball (tracking), players\n"
                 "                   with all their metrics, and the definitions document\n"
                 "  --recompute      compute the match's analytics again from the stored data (with\n"
                 "                   the configuration below) and store them before showing them\n"
                 "  --config FILE    with --recompute: analytics configuration (KEY=VALUE lines;\n"
                 "                   default $FA_CONFIG); keys as in 'footanalytics import --help'\n"
                 "  --set KEY=VALUE  with --recompute: one setting, e.g. --set sprint_kmh=24\n"
                 "  -h, --help       show this help\n"
                 "\n"
                 "exit status: 0 ok, 1 usage error, 2 unknown match or player, 3 runtime failure\n");
}

/* ------------------------------------------------------------ text */

static void print_header(const fa_rep_match *m) {
    const fa_match *x = &m->row.m;
    char ref[FA_ID_MAX + 32], hs[12] = "?", as[12] = "?";
    if (x->score[0] >= 0) snprintf(hs, sizeof hs, "%d", x->score[0]);
    if (x->score[1] >= 0) snprintf(as, sizeof as, "%d", x->score[1]);
    printf("%s %s-%s %s\n", x->teams[0].name, hs, as, x->teams[1].name);
    printf("%s (id %lld)", fa_rep_ref(m, ref, sizeof ref), (long long)m->row.id);
    if (x->competition[0]) printf(", %s", x->competition);
    if (x->season[0]) printf(" %s", x->season);
    if (x->date[0]) printf(", %s", x->date);
    printf("; %lld events, %lld frames\n", (long long)m->row.n_events, (long long)m->row.n_frames);
}

static void print_row(const char *label, const char *home, const char *away) {
    fa_rep_print_cell(stdout, label, 34, 0);
    putchar(' ');
    fa_rep_print_cell(stdout, home, 20, 1);
    putchar(' ');
    fa_rep_print_cell(stdout, away, 20, 1);
    putchar('\n');
}

static void print_team_metric(const fa_rep_match *m, const char *name) {
    char label[96], h[32], a[32];
    fa_rep_metric_label(name, label, sizeof label);
    fa_rep_metric_value(name, fa_rep_metric(m, FA_SIDE_HOME, "", name), h, sizeof h);
    fa_rep_metric_value(name, fa_rep_metric(m, FA_SIDE_AWAY, "", name), a, sizeof a);
    print_row(label, h, a);
    if (strcmp(name, "passes_completed") == 0) {
        for (int s = 0; s < 2; s++)
            fa_rep_ratio(fa_rep_metric(m, (fa_side)s, "", "passes_completed"),
                         fa_rep_metric(m, (fa_side)s, "", "passes"), s ? a : h, sizeof h);
        print_row("Pass completion", h, a);
    }
}

/* Each team metric name once, in display order (metrics are sorted). */
static void print_teams(const fa_rep_match *m) {
    const fa_match *x = &m->row.m;
    char h[16] = "?", a[16] = "?";
    if (x->score[0] >= 0) snprintf(h, sizeof h, "%d", x->score[0]);
    if (x->score[1] >= 0) snprintf(a, sizeof a, "%d", x->score[1]);
    printf("\n");
    print_row("TEAM", x->teams[0].name, x->teams[1].name);
    print_row("Score", h, a);
    for (size_t i = 0; i < m->nmetrics && !m->metrics[i].player_id[0]; i++) {
        const char *name = m->metrics[i].name;
        int seen = m->metrics[i].side == FA_SIDE_NONE; /* the ball's: below */
        for (size_t k = 0; k < i && !seen; k++) seen = strcmp(m->metrics[k].name, name) == 0;
        if (!seen) print_team_metric(m, name);
    }
}

/* Metrics of no side: the ball's. */
static void print_ball(const fa_rep_match *m) {
    int any = 0;
    for (size_t i = 0; i < m->nmetrics && !m->metrics[i].player_id[0]; i++) {
        const fa_metric *mt = &m->metrics[i];
        if (mt->side != FA_SIDE_NONE) continue;
        char label[96], v[32];
        if (!any++) printf("\nBALL\n");
        fa_rep_metric_label(mt->name, label, sizeof label);
        fa_rep_metric_value(mt->name, mt->value, v, sizeof v);
        fa_rep_print_cell(stdout, label, 34, 0);
        putchar(' ');
        fa_rep_print_cell(stdout, v, 20, 1);
        putchar('\n');
    }
}

typedef struct column {
    const char *metric; /* NULL: pass completion */
    const char *head;
    int width;
} column;

static const column player_cols[] = {
    {"minutes", "MIN", 5},     {"passes", "PASS", 6},
    {NULL, "CMP%", 7},         {"shots", "SHOTS", 6},
    {"goals", "GOALS", 6},     {"xg", "XG", 6},
    {"xt", "XT", 6},           {"distance_m", "DIST_M", 8},
    {"sprints", "SPRINTS", 8}, {"peak_speed_ms", "PEAK_MS", 8},
};
#define NCOLS (sizeof player_cols / sizeof player_cols[0])

/* A column is shown when some player has its metric (minutes: always). */
static int col_shown(const fa_rep_match *m, const column *c) {
    if (!c->metric) return fa_rep_has_player_metric(m, "passes_completed");
    return strcmp(c->metric, "minutes") == 0 || fa_rep_has_player_metric(m, c->metric);
}

static void player_cell(const fa_rep_match *m, const fa_player *p, const column *c, char *buf, size_t size) {
    if (!c->metric) {
        fa_rep_ratio(fa_rep_metric(m, p->side, p->id, "passes_completed"),
                     fa_rep_metric(m, p->side, p->id, "passes"), buf, size);
        return;
    }
    double v = fa_rep_metric(m, p->side, p->id, c->metric);
    if (isnan(v) && strcmp(c->metric, "minutes") == 0) v = p->minutes;
    fa_rep_metric_value(c->metric, v, buf, size);
}

static void print_players(const fa_rep_match *m) {
    printf("\n");
    fa_rep_print_cell(stdout, "PLAYER", 28, 0);
    fa_rep_print_cell(stdout, "SIDE", 5, 0);
    for (size_t c = 0; c < NCOLS; c++)
        if (col_shown(m, &player_cols[c]))
            fa_rep_print_cell(stdout, player_cols[c].head, player_cols[c].width, 1);
    putchar('\n');
    for (size_t i = 0; i < m->nplayers; i++) {
        const fa_player *p = &m->players[i];
        fa_rep_print_cell(stdout, p->name[0] ? p->name : p->id, 27, 0);
        putchar(' ');
        fa_rep_print_cell(stdout, fa_side_name(p->side), 5, 0);
        for (size_t c = 0; c < NCOLS; c++) {
            if (!col_shown(m, &player_cols[c])) continue;
            char v[32];
            player_cell(m, p, &player_cols[c], v, sizeof v);
            fa_rep_print_cell(stdout, v, player_cols[c].width, 1);
        }
        putchar('\n');
    }
}

static void print_one_player(const fa_rep_match *m, const fa_player *p) {
    printf("\n%s (id %s), %s, %s", p->name[0] ? p->name : p->id, p->id, fa_side_name(p->side),
           p->side == FA_SIDE_NONE ? "-" : m->row.m.teams[p->side].name);
    if (p->shirt >= 0) printf(", #%d", p->shirt);
    if (p->position[0]) printf(", %s", p->position);
    if (!isnan(p->minutes)) printf(", %.0f min", p->minutes);
    printf("\n\n");
    fa_rep_print_cell(stdout, "METRIC", 34, 0);
    fa_rep_print_cell(stdout, "VALUE", 12, 1);
    printf("  NAME\n");
    int n = 0;
    for (size_t i = 0; i < m->nmetrics; i++) {
        const fa_metric *mt = &m->metrics[i];
        if (strcmp(mt->player_id, p->id) != 0) continue;
        char label[96], v[32];
        fa_rep_metric_label(mt->name, label, sizeof label);
        fa_rep_metric_value(mt->name, mt->value, v, sizeof v);
        fa_rep_print_cell(stdout, label, 34, 0);
        fa_rep_print_cell(stdout, v, 12, 1);
        printf("  %s\n", mt->name);
        n++;
    }
    if (!n) printf("(no metrics stored for this player)\n");
}

static void print_no_analysis(void) {
    printf("\nno metrics are stored for this match (it was imported without analysis);\n"
           "import it again to compute them.\n");
}

/* ------------------------------------------------------------ JSON */

static void json_metrics(fa_buf *b, const fa_rep_match *m, fa_side side, const char *player_id) {
    fa_buf_putc(b, '{');
    int first = 1;
    for (size_t i = 0; i < m->nmetrics; i++) {
        const fa_metric *mt = &m->metrics[i];
        if (strcmp(mt->player_id, player_id) != 0 || (!player_id[0] && mt->side != side)) continue;
        if (!first) fa_buf_putc(b, ',');
        first = 0;
        fa_json_write_str(b, mt->name);
        fa_buf_putc(b, ':');
        fa_json_write_num(b, mt->value);
    }
    fa_buf_putc(b, '}');
}

static void json_match(fa_buf *b, const fa_rep_match *m) {
    const fa_match *x = &m->row.m;
    char ref[FA_ID_MAX + 32];
    fa_buf_printf(b, "{\"id\":%lld,\"ref\":", (long long)m->row.id);
    fa_json_write_str(b, fa_rep_ref(m, ref, sizeof ref));
    fa_buf_puts(b, ",\"provider\":");
    fa_json_write_str(b, fa_provider_name(x->provider));
    fa_buf_puts(b, ",\"match\":");
    fa_json_write_str(b, x->id);
    fa_buf_puts(b, ",\"competition\":");
    fa_json_write_str(b, x->competition);
    fa_buf_puts(b, ",\"season\":");
    fa_json_write_str(b, x->season);
    fa_buf_puts(b, ",\"date\":");
    fa_json_write_str(b, x->date);
    fa_buf_printf(b, ",\"events\":%lld,\"frames\":%lld,\"analysed\":%s}", (long long)m->row.n_events,
                  (long long)m->row.n_frames, m->has_aggregates ? "true" : "false");
}

static void json_teams(fa_buf *b, const fa_rep_match *m) {
    fa_buf_puts(b, ",\"teams\":{");
    for (int s = 0; s < 2; s++) {
        const fa_team *t = &m->row.m.teams[s];
        fa_buf_printf(b, "%s\"%s\":{\"id\":", s ? "," : "", s ? "away" : "home");
        fa_json_write_str(b, t->id);
        fa_buf_puts(b, ",\"name\":");
        fa_json_write_str(b, t->name);
        fa_buf_puts(b, ",\"score\":");
        fa_json_write_num(b, m->row.m.score[s] >= 0 ? m->row.m.score[s] : NAN);
        fa_buf_puts(b, ",\"metrics\":");
        json_metrics(b, m, (fa_side)s, "");
        fa_buf_putc(b, '}');
    }
    fa_buf_puts(b, "},\"ball\":{\"metrics\":");
    json_metrics(b, m, FA_SIDE_NONE, "");
    fa_buf_putc(b, '}');
}

static void json_player(fa_buf *b, const fa_rep_match *m, const fa_player *p) {
    fa_buf_puts(b, "{\"id\":");
    fa_json_write_str(b, p->id);
    fa_buf_puts(b, ",\"name\":");
    fa_json_write_str(b, p->name);
    fa_buf_puts(b, ",\"side\":");
    fa_json_write_str(b, fa_side_name(p->side));
    fa_buf_puts(b, ",\"shirt\":");
    fa_json_write_num(b, p->shirt >= 0 ? p->shirt : NAN);
    fa_buf_puts(b, ",\"position\":");
    fa_json_write_str(b, p->position);
    fa_buf_puts(b, ",\"minutes\":");
    fa_json_write_num(b, p->minutes);
    fa_buf_puts(b, ",\"starter\":");
    fa_buf_puts(b, p->starter < 0 ? "null" : p->starter ? "true" : "false");
    fa_buf_puts(b, ",\"metrics\":");
    json_metrics(b, m, p->side, p->id);
    fa_buf_putc(b, '}');
}

/* The stored definitions document, embedded as it is when it parses, else null. */
static int json_definitions(fa_buf *b, fa_store *s, const fa_rep_match *m) {
    fa_buf doc = {0};
    int rc = fa_store_doc(s, m->row.id, "definitions", &doc);
    if (rc == FA_ENOTFOUND) {
        fa_err_clear();
        return fa_buf_puts(b, ",\"definitions\":null");
    }
    if (rc) return fa_buf_free(&doc), rc;
    fa_arena *a = fa_arena_new(1 << 16);
    fa_json_value *v;
    int ok = a && fa_json_parse("definitions", doc.data ? doc.data : "", doc.len, a, &v) == 0;
    fa_arena_free(a);
    if (!ok) {
        fprintf(stderr,
                "footanalytics stats: the stored definitions document does not parse (%s); shown as null\n",
                fa_err_msg());
        fa_err_clear();
    }
    fa_buf_puts(b, ",\"definitions\":");
    fa_buf_puts(b, ok ? doc.data : "null");
    fa_buf_free(&doc);
    return 0;
}

static int print_json(fa_store *s, const fa_rep_match *m, const fa_player *only) {
    fa_buf b = {0};
    fa_buf_puts(&b, "{\"match\":");
    json_match(&b, m);
    json_teams(&b, m);
    fa_buf_puts(&b, ",\"players\":[");
    int first = 1;
    for (size_t i = 0; i < m->nplayers; i++) {
        if (only && &m->players[i] != only) continue;
        if (!first) fa_buf_putc(&b, ',');
        first = 0;
        json_player(&b, m, &m->players[i]);
    }
    fa_buf_putc(&b, ']');
    int rc = json_definitions(&b, s, m);
    if (!rc) rc = fa_buf_puts(&b, "}\n");
    if (!rc) fputs(b.data, stdout);
    fa_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------ command */

static int show(fa_store *s, const fa_rep_match *m, const char *player, int json) {
    const fa_player *only = NULL;
    if (player && !(only = fa_rep_player(m, player)))
        return fa_err_set(FA_ENOTFOUND, "player '%s': not in match %s (id %lld); see the player table",
                          player, m->row.m.id, (long long)m->row.id);
    if (json) return print_json(s, m, only);
    print_header(m);
    if (!m->has_aggregates) print_no_analysis();
    if (only) {
        print_one_player(m, only);
        return 0;
    }
    if (m->has_aggregates) print_teams(m);
    if (m->has_aggregates) print_ball(m);
    print_players(m);
    return 0;
}

/* ------------------------------------------------------------ recompute */

/* Replays the stored match into a collector, analyses it with config and
 * replaces its aggregates. */
static int recompute(fa_store *s, const char *ref, const fa_analytics_config *config) {
    fa_match_row row;
    int rc = fa_store_match_find(s, ref, &row);
    if (rc) return rc;
    fa_collector col;
    fa_collector_init(&col, NULL);
    const fa_sink *k = &col.sink;
    rc = k->begin(k->ud, &row.m);
    if (!rc) rc = fa_store_players(s, row.id, k->player, k->ud);
    fa_event_filter f;
    fa_event_filter_init(&f, row.id);
    if (!rc) rc = fa_store_events(s, &f, k->event, k->ud);
    if (!rc) rc = fa_store_frames(s, row.id, 0, NAN, NAN, k->frame, k->ud);
    if (!rc) rc = k->end(k->ud, &row.m);
    fa_aggregates agg = {0};
    if (!rc) rc = fa_analyze_match(&col, config, &agg);
    if (!rc) rc = fa_store_aggregates_replace(s, row.id, &agg);
    fa_aggregates_free(&agg);
    fa_collector_free(&col);
    return rc;
}

int fa_cmd_stats(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"player", required_argument, 0, 'p'},
                                         {"json", no_argument, 0, 'j'},
                                         {"recompute", no_argument, 0, 'r'},
                                         {"config", required_argument, 0, 'c'},
                                         {"set", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *player = NULL, *config_file = NULL;
    char *sets[MAX_SETS];
    int json = 0, again = 0, nsets = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'p': player = optarg; break;
        case 'j': json = 1; break;
        case 'r': again = 1; break;
        case 'c': config_file = optarg; break;
        case 's':
            if (nsets == MAX_SETS) return fa_cli_usage("stats", "more than %d --set options", MAX_SETS);
            sets[nsets++] = optarg;
            break;
        case 'h': help(stdout); return 0;
        default: return fa_cli_usage("stats", "bad option");
        }
    }
    if (optind >= argc) return fa_cli_usage("stats", "missing MATCH (a store id or provider:id)");
    if (optind + 1 < argc) return fa_cli_usage("stats", "unexpected argument '%s'", argv[optind + 1]);
    if (player && !*player) return fa_cli_usage("stats", "--player: expected a player id");
    if (!again && (config_file || nsets)) return fa_cli_usage("stats", "--config and --set need --recompute");
    fa_analytics_config config;
    if (again && fa_cli_config_build(&config, config_file, sets, nsets)) return fa_cli_fail("stats");
    fa_store *store = fa_store_open(fa_cli_db_path(db), 0, 1);
    if (!store) return fa_cli_fail("stats");
    int rc = again ? recompute(store, argv[optind], &config) : 0;
    if (rc) {
        int status = fa_cli_fail("stats");
        fa_store_close(store);
        return status;
    }
    fa_rep_match m;
    rc = fa_rep_load(store, argv[optind], &m);
    if (!rc) rc = show(store, &m, player, json);
    int status = rc ? fa_cli_fail("stats") : 0;
    fa_rep_free(&m);
    fa_store_close(store);
    return status;
}
