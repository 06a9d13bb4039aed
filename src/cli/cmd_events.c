/*
 * cmd_events.c - `footanalytics events MATCH`: a stored match's events,
 * filtered, as a table or JSON.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store/store.h"

static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics events MATCH [--db PATH] [--type T] [--player P] [--period N]\n"
            "                                  [--from SECONDS] [--to SECONDS] [--limit N] [--json]\n"
            "\n"
            "Lists a stored match's events in order. MATCH is a store id (see 'footanalytics\n"
            "matches') or provider:id, e.g. statsbomb:15986.\n"
            "Coordinates are metres from the centre spot, the home team attacking +x in the\n"
            "first half; times are seconds from the start of the period.\n"
            "\n"
            "options:\n"
            "  --db PATH        database file (default $FA_DB or ./footanalytics.db)\n"
            "  --type T         a normalised kind (pass, shot, carry, receipt, dribble, duel,\n"
            "                   pressure, recovery, interception, clearance, block, foul,\n"
            "                   goalkeeper, set_piece, ball_out, card, substitution,\n"
            "                   period_start, period_end, own_goal, other) or the provider's\n"
            "                   own type name (\"Ball Receipt*\", \"SET PIECE\"), case-insensitive\n"
            "  --player P       the provider's player id\n"
            "  --period N       1, 2 (3, 4 extra time, 5 shoot-out)\n"
            "  --from SECONDS   events at or after this time in the period\n"
            "  --to SECONDS     events at or before this time in the period\n"
            "  --after SEQ      events after this sequence number (pagination cursor)\n"
            "  --limit N        at most N events\n"
            "  --json           print a JSON array instead of a table\n"
            "  -h, --help       show this help\n");
}

typedef struct ev_ctx {
    int json, count;
    const fa_match *m;
    fa_buf b;
    fa_player *players; /* the match's roster, to print names beside ids */
    size_t nplayers, capplayers;
} ev_ctx;

static int on_player(void *ud, const fa_player *p) {
    ev_ctx *ctx = ud;
    if (ctx->nplayers == ctx->capplayers) {
        size_t cap = ctx->capplayers ? 2 * ctx->capplayers : 64;
        fa_player *n = fa_realloc(ctx->players, cap * sizeof *n);
        if (!n) return FA_ENOMEM;
        ctx->players = n;
        ctx->capplayers = cap;
    }
    ctx->players[ctx->nplayers++] = *p;
    return 0;
}

/* The player's name, or the id itself when the roster does not know it. */
static const char *player_label(const ev_ctx *ctx, const char *id) {
    if (!*id) return "-";
    for (size_t i = 0; i < ctx->nplayers; i++)
        if (strcmp(ctx->players[i].id, id) == 0 && ctx->players[i].name[0]) return ctx->players[i].name;
    return id;
}

static void put_str_field(fa_buf *b, const char *k, const char *v) {
    fa_buf_printf(b, ",\"%s\":", k);
    if (*v) fa_json_write_str(b, v);
    else fa_buf_puts(b, "null");
}

static void put_num_field(fa_buf *b, const char *k, double v) {
    fa_buf_printf(b, ",\"%s\":", k);
    fa_json_write_num(b, v);
}

static void json_event(fa_buf *b, const fa_event *e, const fa_match *m) {
    fa_buf_printf(b, "{\"seq\":%lld,\"period\":%d", (long long)e->seq, e->period);
    put_num_field(b, "t", e->t);
    put_num_field(b, "duration", e->duration);
    put_str_field(b, "kind", fa_event_kind_name(e->kind));
    put_str_field(b, "type", e->type);
    put_str_field(b, "subtype", e->subtype);
    put_str_field(b, "side", fa_side_name(e->side));
    put_str_field(b, "team", e->side == FA_SIDE_NONE ? "" : m->teams[e->side].name);
    put_str_field(b, "player", e->player_id);
    put_str_field(b, "recipient", e->recipient_id);
    put_num_field(b, "x", e->x);
    put_num_field(b, "y", e->y);
    put_num_field(b, "end_x", e->end_x);
    put_num_field(b, "end_y", e->end_y);
    put_num_field(b, "end_z", e->end_z);
    fa_buf_puts(b, ",\"success\":");
    fa_buf_puts(b, e->success < 0 ? "null" : e->success ? "true" : "false");
    put_str_field(b, "outcome", e->outcome);
    put_num_field(b, "xg", e->xg);
    put_str_field(b, "body_part", e->body_part);
    put_str_field(b, "pass_type", e->pass_type);
    fa_buf_printf(b, ",\"under_pressure\":%s,\"goal\":%s", e->under_pressure ? "true" : "false",
                  e->goal ? "true" : "false");
    put_str_field(b, "provider_id", e->provider_id);
    put_str_field(b, "related", e->related);
    fa_buf_putc(b, '}');
}

static void fmt_xy(double x, double y, char *buf) {
    if (isnan(x)) strcpy(buf, "-");
    else snprintf(buf, 24, "%.1f,%.1f", x, y);
}

static int on_event(void *ud, const fa_event *e) {
    ev_ctx *ctx = ud;
    if (ctx->json) {
        fa_buf_reset(&ctx->b);
        fa_buf_puts(&ctx->b, ctx->count ? ",\n  " : "[\n  ");
        json_event(&ctx->b, e, ctx->m);
        fputs(ctx->b.data, stdout);
    } else {
        char clock[16], from[24], to[24], who[23];
        fa_strlcpy_utf8(who, player_label(ctx, e->player_id), sizeof who); /* never cut a character */
        if (!ctx->count)
            printf("%-6s %-3s %-8s %-4s %-22s %-16s %-16s %-12s %-13s %-13s\n", "SEQ", "P", "CLOCK", "SIDE",
                   "PLAYER", "TYPE", "SUBTYPE", "OUTCOME", "FROM", "TO");
        fmt_xy(e->x, e->y, from);
        fmt_xy(e->end_x, e->end_y, to);
        printf("%-6lld %-3d %-8s %-4s %-22s %-16.16s %-16.16s %-12.12s %-13s %-13s\n", (long long)e->seq,
               e->period, fa_cli_clock(e->t, clock), fa_side_name(e->side), who, e->type,
               e->subtype[0] ? e->subtype : "-", e->outcome[0] ? e->outcome : "-", from, to);
    }
    ctx->count++;
    return 0;
}

static int parse_num_opt(const char *opt, const char *s, double *out) {
    if (fa_parse_double(s, out) || *out < 0 || *out > 100000)
        return fa_cli_usage("events", "%s: expected seconds (0..100000), got '%s'", opt, s);
    return 0;
}

int fa_cmd_events(int argc, char **argv) {
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'},   {"type", required_argument, 0, 't'},
        {"player", required_argument, 0, 'p'}, {"period", required_argument, 0, 'P'},
        {"from", required_argument, 0, 'f'}, {"to", required_argument, 0, 'T'},
        {"after", required_argument, 0, 'a'}, {"limit", required_argument, 0, 'l'},
        {"json", no_argument, 0, 'j'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *db = NULL;
    ev_ctx ctx = {0};
    fa_event_filter f;
    fa_event_filter_init(&f, 0);
    int64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 't':
            f.kind = fa_event_kind_parse(optarg);
            if (f.kind < 0) f.type = optarg;
            break;
        case 'p': f.player_id = optarg; break;
        case 'P':
            if (fa_parse_int(optarg, 1, 5, &v))
                return fa_cli_usage("events", "--period: expected 1..5, got '%s'", optarg);
            f.period = (int)v;
            break;
        case 'f':
            if (parse_num_opt("--from", optarg, &f.t_from)) return FA_EXIT_USAGE;
            break;
        case 'T':
            if (parse_num_opt("--to", optarg, &f.t_to)) return FA_EXIT_USAGE;
            break;
        case 'a':
            if (fa_parse_int(optarg, 0, INT64_MAX, &v))
                return fa_cli_usage("events", "--after: expected a sequence number, got '%s'", optarg);
            f.after_seq = v;
            break;
        case 'l':
            if (fa_parse_int(optarg, 1, 10000000, &v))
                return fa_cli_usage("events", "--limit: expected 1..10000000, got '%s'", optarg);
            f.limit = (int)v;
            break;
        case 'j': ctx.json = 1; break;
        case 'h': help(stdout); return 0;
        default: return fa_cli_usage("events", "bad option");
        }
    }
    if (optind >= argc) return fa_cli_usage("events", "missing MATCH (a store id or provider:id)");
    if (optind + 1 < argc) return fa_cli_usage("events", "unexpected argument '%s'", argv[optind + 1]);
    fa_store *store = fa_store_open(fa_cli_db_path(db), 0, 0);
    if (!store) return fa_cli_fail("events");
    fa_match_row row;
    int rc = fa_store_match_find(store, argv[optind], &row);
    if (!rc) {
        f.match_id = row.id;
        ctx.m = &row.m;
        rc = ctx.json ? 0 : fa_store_players(store, row.id, on_player, &ctx);
        if (!rc) rc = fa_store_events(store, &f, on_event, &ctx);
    }
    if (!rc && ctx.json) fputs(ctx.count ? "\n]\n" : "[]\n", stdout);
    if (!rc && !ctx.json) fprintf(stderr, "%d event%s\n", ctx.count, ctx.count == 1 ? "" : "s");
    fa_buf_free(&ctx.b);
    free(ctx.players);
    int status = rc ? fa_cli_fail("events") : 0;
    fa_store_close(store);
    return status;
}
