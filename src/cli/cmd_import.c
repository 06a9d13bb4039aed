/*
 * cmd_import.c - `footanalytics import`: provider files into the store.
 *
 * All files are classified and grouped before the database is opened, so a
 * wrong file costs nothing. Each match is then imported in its own
 * transaction: a parse error rolls that match back and stops the command,
 * leaving the database as it was before that match.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ingest/ingest.h"
#include "store/store.h"

static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics import [--db PATH] [--provider NAME] [--json] [--quiet] FILE...\n"
            "\n"
            "Imports provider match data into the database. The provider and file kind are\n"
            "detected from each file's content; companion files (StatsBomb lineups, Metrica\n"
            "away tracking, EPTS frames, SkillCorner tracking) are taken from the arguments or\n"
            "found beside the primary file. Each match is one transaction: a failure leaves\n"
            "the database exactly as it was. Importing a match again replaces it.\n"
            "\n"
            "supported files:\n"
            "  StatsBomb    NNN_event.json (+ NNN_lineup.json)\n"
            "  Metrica      *_RawEventsData.csv, *_events.json, tracking CSV home + away,\n"
            "               FIFA EPTS metadata XML + tracking text\n"
            "  SkillCorner  match data JSON (+ v3 tracking JSON Lines)\n"
            "  Wyscout      v2 events JSON\n"
            "\n"
            "options:\n"
            "  --db PATH        database file (default $FA_DB or ./footanalytics.db); created if absent\n"
            "  --provider NAME  only accept files of this provider: statsbomb, metrica,\n"
            "                   skillcorner, wyscout\n"
            "  --json           print one JSON summary object per match instead of text\n"
            "  -q, --quiet      print nothing on success\n"
            "  -h, --help       show this help\n"
            "\n"
            "exit status: 0 ok, 1 usage error, 2 bad input (nothing of that match stored),\n"
            "             3 runtime failure\n");
}

static void score_str(int s, char *buf) {
    if (s < 0) strcpy(buf, "?");
    else snprintf(buf, 12, "%d", s);
}

static void print_text(const fa_match_row *r, const fa_import_stats *st, double secs) {
    char hs[12], as[12];
    score_str(r->m.score[0], hs);
    score_str(r->m.score[1], as);
    printf("%s %s:%s (id %lld): %s %s-%s %s, %lld players, %lld events, %lld frames%s, %.3f s\n",
           st->replaced ? "replaced" : "imported", fa_provider_name(r->m.provider), r->m.id, (long long)r->id,
           r->m.teams[0].name, hs, as, r->m.teams[1].name, (long long)st->players, (long long)st->events,
           (long long)st->frames, st->chunks ? " (tracking chunks zstd)" : "", secs);
}

static void print_json(const fa_match_row *r, const fa_import_stats *st, double secs) {
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
                  (long long)st->players, (long long)st->events, (long long)st->frames, (long long)st->chunks);
    fa_buf_printf(&b, ",\"tracking_raw_bytes\":%lld,\"tracking_stored_bytes\":%lld,\"seconds\":",
                  (long long)st->tracking_raw_bytes, (long long)st->tracking_stored_bytes);
    fa_json_write_num(&b, secs);
    fa_buf_puts(&b, "}\n");
    fputs(b.data, stdout);
    fa_buf_free(&b);
}

/* Imports one match; returns 0 or an error code (message set). */
static int import_job(fa_store *store, const fa_ingest_job *job, int json, int quiet) {
    double t0 = fa_clock_now();
    fa_store_import *imp;
    int rc = fa_store_import_begin(store, &imp);
    if (rc) return rc;
    rc = fa_ingest_run(job, fa_store_import_sink(imp));
    if (rc) {
        int code = fa_err_code() ? fa_err_code() : rc;
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", fa_err_msg());
        fa_store_import_abort(imp);
        return fa_err_set(code, "%s", saved);
    }
    fa_import_stats st;
    rc = fa_store_import_commit(imp, &st);
    if (rc) return rc;
    double secs = fa_clock_now() - t0;
    if (quiet) return 0;
    fa_match_row row;
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)st.match_id);
    rc = fa_store_match_find(store, ref, &row);
    if (rc) return rc;
    if (json) print_json(&row, &st, secs);
    else print_text(&row, &st, secs);
    fflush(stdout);
    return 0;
}

int fa_cmd_import(int argc, char **argv) {
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"provider", required_argument, 0, 'p'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *db = NULL;
    fa_provider provider = FA_PROVIDER_UNKNOWN;
    int json = 0, quiet = 0, c;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'p':
            provider = fa_provider_parse(optarg);
            if (provider == FA_PROVIDER_UNKNOWN || provider == FA_PROVIDER_VIDEO)
                return fa_cli_usage("import", "--provider: unknown provider '%s' (statsbomb, metrica, skillcorner, wyscout)",
                                    optarg);
            break;
        case 'j': json = 1; break;
        case 'q': quiet = 1; break;
        case 'h': help(stdout); return 0;
        default: return fa_cli_usage("import", "bad option");
        }
    }
    if (optind >= argc) return fa_cli_usage("import", "no input files");
    fa_ingest_plan plan;
    if (fa_ingest_plan_make((const char *const *)argv + optind, (size_t)(argc - optind), provider, &plan))
        return fa_cli_fail("import");
    fa_store *store = fa_store_open(fa_cli_db_path(db), 1, 1);
    if (!store) {
        fa_ingest_plan_free(&plan);
        return fa_cli_fail("import");
    }
    int status = 0;
    double t0 = fa_clock_now();
    size_t done = 0;
    for (; done < plan.njobs && !status; done++)
        if (import_job(store, &plan.jobs[done], json, quiet)) {
            status = fa_cli_fail("import");
            if (done > 0)
                fprintf(stderr, "footanalytics import: %zu of %zu matches were imported before this one\n", done,
                        plan.njobs);
        }
    if (!status && !quiet && !json && plan.njobs > 1)
        printf("%zu matches imported in %.3f s\n", plan.njobs, fa_clock_now() - t0);
    fa_store_close(store);
    fa_ingest_plan_free(&plan);
    return status;
}
