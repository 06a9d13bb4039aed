/*
 * cmd_db.c - `footanalytics db migrate|explain|version`: schema maintenance
 * and the index check that keeps every API query off full table scans.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "store/store.h"

static void help(FILE *out) {
    fprintf(out,
            "usage: footanalytics db <migrate|explain|version> [--db PATH]\n"
            "\n"
            "  migrate   create the database if needed and apply pending schema migrations\n"
            "  explain   print the query plan of every named query; exit 2 if any query scans\n"
            "            a table without an index\n"
            "  version   print the schema version\n"
            "\n"
            "options:\n"
            "  --db PATH   database file (default $FA_DB or ./footanalytics.db)\n"
            "  -h, --help  show this help\n");
}

int fa_cmd_db(int argc, char **argv) {
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *db = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'h': help(stdout); return 0;
        default: return fa_cli_usage("db", "bad option");
        }
    }
    if (optind >= argc) return fa_cli_usage("db", "missing subcommand (migrate, explain or version)");
    const char *sub = argv[optind];
    if (optind + 1 < argc) return fa_cli_usage("db", "unexpected argument '%s'", argv[optind + 1]);
    int migrate = strcmp(sub, "migrate") == 0;
    if (!migrate && strcmp(sub, "explain") && strcmp(sub, "version"))
        return fa_cli_usage("db", "unknown subcommand '%s'", sub);
    fa_store *store = fa_store_open(fa_cli_db_path(db), migrate, 0);
    if (!store) return fa_cli_fail("db");
    int status = 0, n = 0;
    if (migrate) {
        if (fa_store_migrate(store, &n)) status = fa_cli_fail("db");
        else if (fa_store_schema_version(store, &c)) status = fa_cli_fail("db");
        else printf("applied %d migration%s; schema version %d\n", n, n == 1 ? "" : "s", c);
    } else if (strcmp(sub, "version") == 0) {
        if (fa_store_schema_version(store, &c)) status = fa_cli_fail("db");
        else printf("%d\n", c);
    } else {
        if (fa_store_explain(store, stdout, &n)) status = fa_cli_fail("db");
        else if (n) {
            fprintf(stderr, "footanalytics db: %d quer%s scan a table without an index\n", n,
                    n == 1 ? "y" : "ies");
            status = FA_EXIT_INPUT;
        } else printf("all queries use indexes\n");
    }
    fa_store_close(store);
    return status;
}
