/*
 * cmd_matches.c - `footanalytics matches`: what is stored, one line or one
 * JSON object per match.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store/store.h"

static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics matches [--db PATH] [--json] [filters]\n"
            "\n"
            "Lists the stored matches in import order.\n"
            "\n"
            "options:\n"
            "  --db PATH            database file (default $FA_DB or ./footanalytics.db)\n"
            "  --competition NAME   only this competition\n"
            "  --season NAME        only this season\n"
            "  --team NAME          only matches of this team (name or provider id, either side)\n"
            "  --from DATE          only matches on or after DATE (YYYY-MM-DD)\n"
            "  --to DATE            only matches on or before DATE (YYYY-MM-DD)\n"
            "  --after ID           only matches with a store id above ID (pagination cursor)\n"
            "  --limit N            at most N matches\n"
            "  --json               print a JSON array instead of a table\n"
            "  -h, --help           show this help\n");
}

typedef struct list_ctx {
    int json;
    int count;
    fa_buf b;
} list_ctx;

static void json_row(fa_buf *b, const fa_match_row *r) {
    fa_buf_printf(b, "{\"id\":%lld,\"provider\":", (long long)r->id);
    fa_json_write_str(b, fa_provider_name(r->m.provider));
    fa_buf_puts(b, ",\"match\":");
    fa_json_write_str(b, r->m.id);
    fa_buf_puts(b, ",\"competition\":");
    fa_json_write_str(b, r->m.competition);
    fa_buf_puts(b, ",\"season\":");
    fa_json_write_str(b, r->m.season);
    fa_buf_puts(b, ",\"date\":");
    fa_json_write_str(b, r->m.date);
    for (int s = 0; s < 2; s++) {
        fa_buf_printf(b, ",\"%s\":{\"id\":", s ? "away" : "home");
        fa_json_write_str(b, r->m.teams[s].id);
        fa_buf_puts(b, ",\"name\":");
        fa_json_write_str(b, r->m.teams[s].name);
        if (r->m.score[s] >= 0) fa_buf_printf(b, ",\"score\":%d}", r->m.score[s]);
        else fa_buf_puts(b, ",\"score\":null}");
    }
    fa_buf_puts(b, ",\"pitch\":{\"length\":");
    fa_json_write_num(b, r->m.pitch.length);
    fa_buf_puts(b, ",\"width\":");
    fa_json_write_num(b, r->m.pitch.width);
    fa_buf_puts(b, "},\"frame_rate\":");
    fa_json_write_num(b, r->m.frame_rate);
    fa_buf_printf(b, ",\"players\":%lld,\"events\":%lld,\"frames\":%lld,\"source\":", (long long)r->n_players,
                  (long long)r->n_events, (long long)r->n_frames);
    fa_json_write_str(b, r->m.source);
    fa_buf_puts(b, ",\"imported_at\":");
    fa_json_write_str(b, r->imported_at);
    fa_buf_putc(b, '}');
}

static int on_match(void *ud, const fa_match_row *r) {
    list_ctx *ctx = ud;
    if (ctx->json) {
        fa_buf_reset(&ctx->b);
        fa_buf_puts(&ctx->b, ctx->count ? ",\n  " : "[\n  ");
        json_row(&ctx->b, r);
        fputs(ctx->b.data, stdout);
    } else {
        char ref[FA_ID_MAX + 16], hs[12] = "?", as[12] = "?";
        snprintf(ref, sizeof ref, "%s:%s", fa_provider_name(r->m.provider), r->m.id);
        if (r->m.score[0] >= 0) snprintf(hs, sizeof hs, "%d", r->m.score[0]);
        if (r->m.score[1] >= 0) snprintf(as, sizeof as, "%d", r->m.score[1]);
        if (!ctx->count)
            printf("%-4s %-28s %-10s %-24s %5s  %-24s %7s %7s\n", "ID", "MATCH", "DATE", "HOME", "SCORE",
                   "AWAY", "EVENTS", "FRAMES");
        char score[32];
        snprintf(score, sizeof score, "%s-%s", hs, as);
        printf("%-4lld %-28s %-10s %-24.24s %5s  %-24.24s %7lld %7lld\n", (long long)r->id, ref,
               r->m.date[0] ? r->m.date : "-", r->m.teams[0].name, score, r->m.teams[1].name,
               (long long)r->n_events, (long long)r->n_frames);
    }
    ctx->count++;
    return 0;
}

static int parse_count(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (fa_parse_int(s, lo, hi, out))
        return fa_cli_usage("matches", "%s: expected an integer in %lld..%lld, got '%s'", opt, (long long)lo,
                            (long long)hi, s);
    return 0;
}

int fa_cmd_matches(int argc, char **argv) {
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'},      {"json", no_argument, 0, 'j'},
        {"competition", required_argument, 0, 'c'}, {"season", required_argument, 0, 's'},
        {"team", required_argument, 0, 't'},    {"from", required_argument, 0, 'f'},
        {"to", required_argument, 0, 'T'},      {"after", required_argument, 0, 'a'},
        {"limit", required_argument, 0, 'l'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *db = NULL;
    list_ctx ctx = {0};
    fa_match_filter f = {0};
    int64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'j': ctx.json = 1; break;
        case 'c': f.competition = optarg; break;
        case 's': f.season = optarg; break;
        case 't': f.team = optarg; break;
        case 'f': f.date_from = optarg; break;
        case 'T': f.date_to = optarg; break;
        case 'a':
            if (parse_count("--after", optarg, 0, INT64_MAX, &v)) return FA_EXIT_USAGE;
            f.after_id = v;
            break;
        case 'l':
            if (parse_count("--limit", optarg, 1, 1000000, &v)) return FA_EXIT_USAGE;
            f.limit = (int)v;
            break;
        case 'h': help(stdout); return 0;
        default: return fa_cli_usage("matches", "bad option");
        }
    }
    if (optind < argc) return fa_cli_usage("matches", "unexpected argument '%s'", argv[optind]);
    fa_store *store = fa_store_open(fa_cli_db_path(db), 0, 0);
    if (!store) return fa_cli_fail("matches");
    int rc = fa_store_matches(store, &f, on_match, &ctx);
    if (!rc && ctx.json) fputs(ctx.count ? "\n]\n" : "[]\n", stdout);
    if (!rc && !ctx.json && !ctx.count) printf("no matches stored\n");
    fa_buf_free(&ctx.b);
    int status = rc ? fa_cli_fail("matches") : 0;
    fa_store_close(store);
    return status;
}
