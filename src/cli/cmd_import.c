/*
 * cmd_import.c - `footanalytics import`: provider files into the store, with
 * every match's analytics computed on the way in.
 *
 * All files are classified and grouped, and the analytics configuration is
 * read and checked, before the database is opened, so a wrong file or a bad
 * option costs nothing. Each match is then imported in its own transaction:
 * the parser streams through a collector (analytics/collect.c) that keeps
 * the match in memory while forwarding everything to the store; once the
 * parser has finished, the match is analysed (fa_analyze_match) and its
 * aggregates join the same transaction before the commit. So a stored match
 * always has the aggregates of the configuration it was imported with, and a
 * failure anywhere - parse, bad tracking, analytics - rolls that match back
 * and stops the command, leaving the database as it was before that match.
 *
 * Configuration precedence (ARCHITECTURE.md section 3): defaults, then the
 * file (--config, else $FA_CONFIG), then each --set in order.
 *
 * Caches (--redis, $FA_REDIS_URL): after the imports, the surrogate keys of
 * every imported match (its match, teams and competition, plus "matches"
 * and "aggregates" for the lists and season sums it changes) are purged
 * from the shared L2, whose purge message reaches every API node's L1 -
 * the nodes that share this database file notice by themselves, the
 * others (another database copy, PostgreSQL later) only this way. A purge
 * that fails does not undo the import: it is reported, and the caches
 * then expire by their TTLs (a minute for a recent match).
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "api/api.h"
#include "cache/l2.h"
#include "cli.h"
#include "ingest/ingest.h"
#include "store/store.h"

#define MAX_SETS 64

/* What the options asked for. */
#define MAX_PURGE_TAGS 256

typedef struct import_opts {
    int json, quiet, analytics;
    fa_analytics_config config;
    const char *redis;
    /* the surrogate keys of what was imported, for the purge */
    size_t ntags;
    char tags[MAX_PURGE_TAGS][FA_CACHE_TAG_MAX];
} import_opts;

/* What one match's analytics produced, for the summary. */
typedef struct analytics_stats {
    int ran;
    double seconds;
    size_t metrics, grids, docs;
} analytics_stats;

static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics import [--db PATH] [--provider NAME] [--json] [--quiet]\n"
            "                            [--config FILE] [--set KEY=VALUE]... [--no-analytics] FILE...\n"
            "\n"
            "Imports provider match data into the database. The provider and file kind are\n"
            "detected from each file's content; companion files (StatsBomb lineups, Metrica\n"
            "away tracking, EPTS frames, SkillCorner tracking) are taken from the arguments or\n"
            "found beside the primary file. Each match is one transaction: a failure leaves\n"
            "the database exactly as it was. Importing a match again replaces it.\n"
            "\n"
            "Every match is analysed as it is imported and its aggregates are stored with it\n"
            "in the same transaction: per player and team physical metrics (with tracking),\n"
            "tactical metrics and possession (with events), heatmaps, pass networks, the\n"
            "possession timeline, speed profiles, and a 'definitions' document stating every\n"
            "threshold used. Re-importing recomputes them.\n"
            "\n"
            "supported files:\n"
            "  StatsBomb    NNN_event.json (+ NNN_lineup.json)\n"
            "  Metrica      *_RawEventsData.csv, *_events.json, tracking CSV home + away,\n"
            "               FIFA EPTS metadata XML + tracking text\n"
            "  SkillCorner  match data JSON (+ v3 tracking JSON Lines)\n"
            "  Wyscout      v2 events JSON\n"
            "  Last-Row     Friends-of-Tracking tracking CSV (player,frame,x,y,...)\n"
            "\n"
            "options:\n"
            "  --db PATH        database file (default $FA_DB or ./footanalytics.db); created if absent\n"
            "  --provider NAME  only accept files of this provider: statsbomb, metrica,\n"
            "                   skillcorner, wyscout, lastrow\n"
            "  --json           print one JSON summary object per match instead of text\n"
            "  --config FILE    analytics configuration: KEY=VALUE lines, '#' comments\n"
            "                   (default $FA_CONFIG; none: the built-in defaults)\n"
            "  --set KEY=VALUE  set one analytics option, after the file; repeatable, e.g.\n"
            "                   --set sprint_kmh=24 --set smoothing=butterworth\n"
            "                   --set bands=walk:0-7.2,run:7.2-19.8,fast:19.8-inf\n"
            "  --no-analytics   store the match only, no aggregates\n"
            "  --redis URL      after importing, purge the imported matches from the API's shared\n"
            "                   cache, redis://HOST[:PORT][/DB], so every node serves the new data\n"
            "                   (default $FA_REDIS_URL; none: nodes on this database file notice by\n"
            "                   themselves)\n"
            "  -q, --quiet      print nothing on success\n"
            "  -h, --help       show this help\n"
            "\n"
            "analytics options (KEY): smoothing (none, savgol, butterworth), savgol_window,\n"
            "  savgol_order, butter_cutoff_hz, butter_order, player_max_speed, ball_max_speed,\n"
            "  max_gap_s, bands, rel_bands, sprint_kmh, sprint_min_s, hsr_kmh, hsr_min_s,\n"
            "  accel_ms2, accel_min_s, peak_hold_s, heat_nx, heat_ny, heat_sigma_cells,\n"
            "  pc_<parameter> (pitch control), possession_window_s, owner_radius_m,\n"
            "  owner_hysteresis_s, pass_string_min, xt_nx, xt_ny\n"
            "\n"
            "environment:\n"
            "  FA_DB      database path when --db is not given\n"
            "  FA_CONFIG  analytics configuration file when --config is not given\n"
            "  FA_REDIS_URL  the shared cache to purge when --redis is not given\n"
            "\n"
            "exit status: 0 ok, 1 usage error (a bad --set included), 2 bad input (nothing of\n"
            "             that match stored; a bad configuration file included), 3 runtime failure\n");
}

static void score_str(int s, char *buf) {
    if (s < 0) strcpy(buf, "?");
    else snprintf(buf, 12, "%d", s);
}

static void print_text(const fa_match_row *r, const fa_import_stats *st, const analytics_stats *an,
                       double secs) {
    char hs[12], as[12], analytics[128] = "";
    score_str(r->m.score[0], hs);
    score_str(r->m.score[1], as);
    if (an->ran)
        snprintf(analytics, sizeof analytics, ", analytics %.3f s (%zu metrics, %zu grids, %zu docs)",
                 an->seconds, an->metrics, an->grids, an->docs);
    printf("%s %s:%s (id %lld): %s %s-%s %s, %lld players, %lld events, %lld frames%s%s, %.3f s\n",
           st->replaced ? "replaced" : "imported", fa_provider_name(r->m.provider), r->m.id, (long long)r->id,
           r->m.teams[0].name, hs, as, r->m.teams[1].name, (long long)st->players, (long long)st->events,
           (long long)st->frames, st->chunks ? " (tracking chunks zstd)" : "", analytics, secs);
}

static void print_json(const fa_match_row *r, const fa_import_stats *st, const analytics_stats *an,
                       double secs) {
    fa_buf b = {0};
    fa_buf_printf(&b, "{\"id\":%lld,\"provider\":", (long long)r->id);
    fa_json_write_str(&b, fa_provider_name(r->m.provider));
    fa_buf_puts(&b, ",\"match\":");
    fa_json_write_str(&b, r->m.id);
    fa_buf_puts(&b, ",\"home\":");
    fa_json_write_str(&b, r->m.teams[0].name);
    fa_buf_puts(&b, ",\"away\":");
    fa_json_write_str(&b, r->m.teams[1].name);
    fa_buf_printf(&b, ",\"home_score\":%d,\"away_score\":%d,\"replaced\":%s", r->m.score[0], r->m.score[1],
                  st->replaced ? "true" : "false");
    fa_buf_printf(&b, ",\"players\":%lld,\"events\":%lld,\"frames\":%lld,\"tracking_chunks\":%lld",
                  (long long)st->players, (long long)st->events, (long long)st->frames,
                  (long long)st->chunks);
    fa_buf_printf(&b, ",\"tracking_raw_bytes\":%lld,\"tracking_stored_bytes\":%lld",
                  (long long)st->tracking_raw_bytes, (long long)st->tracking_stored_bytes);
    if (an->ran) {
        fa_buf_printf(&b, ",\"analytics\":{\"metrics\":%zu,\"grids\":%zu,\"docs\":%zu,\"seconds\":",
                      an->metrics, an->grids, an->docs);
        fa_json_write_num(&b, an->seconds);
        fa_buf_putc(&b, '}');
    } else {
        fa_buf_puts(&b, ",\"analytics\":null");
    }
    fa_buf_puts(&b, ",\"seconds\":");
    fa_json_write_num(&b, secs);
    fa_buf_puts(&b, "}\n");
    fputs(b.data, stdout);
    fa_buf_free(&b);
}

/* The file a job's tracking comes from, to name it in a tracking error. */
static const char *tracking_file(const fa_ingest_job *job) {
    int second = job->kind == FA_FILE_EPTS_METADATA || job->kind == FA_FILE_SKILLCORNER_MATCH;
    return fa_path_base(job->files[second && job->nfiles > 1 ? 1 : 0]);
}

/* Analyses the collected match and adds its aggregates to the import. */
static int analyse(const fa_collector *col, const import_opts *o, fa_store_import *imp, analytics_stats *an) {
    double t0 = fa_clock_now();
    fa_aggregates agg = {0};
    int rc = fa_analyze_match(col, &o->config, &agg);
    if (rc) fa_err_prefix("%s", col->match.source[0] ? col->match.source : col->match.id);
    if (!rc) rc = fa_store_import_aggregates(imp, &agg);
    if (!rc && col->has_tracking && col->tracking.rejected)
        fa_log(FA_LOG_WARN, "tracking samples dropped (non-finite or far off the pitch)",
               "match=%s rejected=%zu frames=%zu", col->match.id, col->tracking.rejected,
               col->tracking.nframes);
    an->ran = !rc;
    an->metrics = agg.nmetrics;
    an->grids = agg.ngrids;
    an->docs = agg.ndocs;
    an->seconds = fa_clock_now() - t0;
    fa_aggregates_free(&agg);
    return rc;
}

/* Parses one job through the collector into the import and analyses it. */
static int parse_and_analyse(const fa_ingest_job *job, const import_opts *o, fa_store_import *imp,
                             analytics_stats *an) {
    if (!o->analytics) return fa_ingest_run(job, fa_store_import_sink(imp));
    fa_collector col;
    fa_collector_init(&col, fa_store_import_sink(imp));
    int rc = fa_ingest_run(job, &col.sink);
    if (rc && col.tracking_error) fa_err_prefix("%s", tracking_file(job));
    if (!rc) rc = analyse(&col, o, imp, an);
    fa_collector_free(&col);
    return rc;
}

/* Remembers the match's surrogate keys for the purge (once each). */
static void note_tags(import_opts *o, const fa_match_row *row) {
    char text[512];
    fa_api_match_tags(row->id, &row->m, text, sizeof text);
    size_t len = strlen(text);
    snprintf(text + len, sizeof text - len, " matches aggregates");
    for (char *p = strtok(text, " "); p; p = strtok(NULL, " ")) {
        size_t i = 0;
        while (i < o->ntags && strcmp(o->tags[i], p) != 0) i++;
        if (i == o->ntags && o->ntags < MAX_PURGE_TAGS && strlen(p) < FA_CACHE_TAG_MAX)
            snprintf(o->tags[o->ntags++], FA_CACHE_TAG_MAX, "%s", p);
    }
}

static int print_summary(fa_store *store, const fa_import_stats *st, import_opts *o,
                         const analytics_stats *an, double secs) {
    fa_match_row row;
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)st->match_id);
    int rc = fa_store_match_find(store, ref, &row);
    if (rc) return rc;
    if (o->redis) note_tags(o, &row);
    if (o->quiet) return 0;
    if (o->json) print_json(&row, st, an, secs);
    else print_text(&row, st, an, secs);
    fflush(stdout);
    return 0;
}

/* Imports one match; returns 0 or an error code (message set). */
static int import_job(fa_store *store, const fa_ingest_job *job, import_opts *o) {
    double t0 = fa_clock_now();
    analytics_stats an = {0};
    fa_store_import *imp;
    int rc = fa_store_import_begin(store, &imp);
    if (rc) return rc;
    rc = parse_and_analyse(job, o, imp, &an);
    if (rc) {
        int code = fa_err_code() ? fa_err_code() : rc;
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", fa_err_msg());
        fa_store_import_abort(imp);
        return fa_err_set(code, "%s", saved);
    }
    fa_import_stats st;
    rc = fa_store_import_commit(imp, &st);
    if (rc || (o->quiet && !o->redis)) return rc;
    return print_summary(store, &st, o, &an, fa_clock_now() - t0);
}

/* Purges what was imported from the shared cache; a failure is reported, not fatal. */
static void purge_caches(import_opts *o) {
    if (!o->redis || o->ntags == 0) return;
    fa_l2_config c;
    fa_l2_config_default(&c);
    c.url = o->redis;
    fa_l2 *l2 = fa_l2_new(&c);
    const char *tags[MAX_PURGE_TAGS];
    for (size_t i = 0; i < o->ntags; i++) tags[i] = o->tags[i];
    if (!l2 || fa_l2_purge(l2, tags, o->ntags, 2.0, NULL)) {
        fprintf(
            stderr,
            "footanalytics import: warning: the import is stored, but the shared cache was not purged: %s;\n"
            "  API nodes on other databases serve the old data until it expires (a minute for a recent "
            "match)\n",
            fa_err_msg());
        fa_err_clear();
    } else if (!o->quiet && !o->json) {
        printf("purged %zu cache tags from %s\n", o->ntags, o->redis);
    }
    fa_l2_free(l2);
}

static int run_jobs(const fa_ingest_plan *plan, const char *db, import_opts *o) {
    fa_store *store = fa_store_open(fa_cli_db_path(db), 1, 1);
    if (!store) return fa_cli_fail("import");
    int status = 0;
    double t0 = fa_clock_now();
    size_t done = 0;
    for (; done < plan->njobs && !status; done++)
        if (import_job(store, &plan->jobs[done], o)) {
            status = fa_cli_fail("import");
            if (done > 0)
                fprintf(stderr, "footanalytics import: %zu of %zu matches were imported before this one\n",
                        done, plan->njobs);
        }
    if (!status && !o->quiet && !o->json && plan->njobs > 1)
        printf("%zu matches imported in %.3f s\n", plan->njobs, fa_clock_now() - t0);
    fa_store_close(store);
    purge_caches(o); /* also after a failure: the matches before it are stored */
    return status;
}

int fa_cmd_import(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"provider", required_argument, 0, 'p'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"config", required_argument, 0, 'c'},
                                         {"set", required_argument, 0, 's'},
                                         {"no-analytics", no_argument, 0, 'n'},
                                         {"redis", required_argument, 0, 'R'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL, *config = NULL;
    char *sets[MAX_SETS];
    int nsets = 0, c;
    fa_provider provider = FA_PROVIDER_UNKNOWN;
    import_opts o;
    memset(&o, 0, sizeof o);
    o.analytics = 1;
    const char *env = getenv("FA_REDIS_URL");
    if (env && *env) o.redis = env;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'p':
            provider = fa_provider_parse(optarg);
            if (provider == FA_PROVIDER_UNKNOWN || provider == FA_PROVIDER_VIDEO)
                return fa_cli_usage("import",
                                    "--provider: unknown provider '%s' (statsbomb, metrica, skillcorner, "
                                    "wyscout, lastrow)",
                                    optarg);
            break;
        case 'j': o.json = 1; break;
        case 'q': o.quiet = 1; break;
        case 'c': config = optarg; break;
        case 's':
            if (nsets == MAX_SETS) return fa_cli_usage("import", "--set: more than %d options", MAX_SETS);
            sets[nsets++] = optarg;
            break;
        case 'n': o.analytics = 0; break;
        case 'R': o.redis = optarg; break;
        case 'h': help(stdout); return 0;
        default: return fa_cli_usage("import", "bad option");
        }
    }
    if (optind >= argc) return fa_cli_usage("import", "no input files");
    if (fa_cli_config_build(&o.config, config, sets, nsets)) return fa_cli_fail("import");
    fa_ingest_plan plan;
    if (fa_ingest_plan_make((const char *const *)argv + optind, (size_t)(argc - optind), provider, &plan))
        return fa_cli_fail("import");
    int status = run_jobs(&plan, db, &o);
    fa_ingest_plan_free(&plan);
    return status;
}
