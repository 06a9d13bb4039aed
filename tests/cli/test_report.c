/*
 * test_report.c - `footanalytics report` on real data imported into a
 * temporary database (StatsBomb 15986 events, Metrica's EPTS excerpt and the
 * Last-Row clip, both tracking), and on a constructed Last-Row file whose
 * team and player names carry HTML special characters. Checks that the page
 * is self-contained (nothing external, no script), balanced, escaped, holds
 * the charts its data allows and says why the others are missing, and that
 * it is written atomically; plus the usage and not-found exits.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "core/core.h"

typedef struct fixture {
    char *dir;
    char db[4200];
} fixture;

static void run_expect(const char *args, int status, const char *in_out, const char *in_err) {
    char *out, *err;
    int st = fa_test_run_cli(args, &out, &err);
    if (st != status)
        fail_msg("footanalytics %s: exit %d, want %d\nstdout: %s\nstderr: %s", args, st, status, out, err);
    if (in_out && !strstr(out, in_out))
        fail_msg("footanalytics %s: stdout lacks '%s': %s", args, in_out, out);
    if (in_err && !strstr(err, in_err))
        fail_msg("footanalytics %s: stderr lacks '%s': %s", args, in_err, err);
    free(out);
    free(err);
}

static int setup(void **state) {
    const char *sb = fa_test_data("events/statsbomb/15986_event.json");
    const char *epts = fa_test_data("tracking/metrica/epts_excerpt_metadata.xml");
    const char *lr = fa_test_data("tracking/lastrow/LIV_2-1_CHE.csv");
    *state = NULL;
    if (!fa_test_file_exists(sb) || !fa_test_file_exists(epts) || !fa_test_file_exists(lr)) return 0;
    fixture *f = calloc(1, sizeof *f);
    f->dir = fa_test_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/fa.db", f->dir);
    char args[16384];
    snprintf(args, sizeof args, "import --quiet --db '%s' '%s' '%s' '%s'", f->db, sb, epts, lr);
    run_expect(args, 0, NULL, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!f) return 0;
    fa_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static fixture *need(void **state) {
    if (!*state) {
        print_message("SKIP: shared data not found\n");
        skip();
    }
    return *state;
}

/* ------------------------------------------------------------ page checks */

static size_t count(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* "<name" followed by a space or '>' (so "<p" does not count "<path"). */
static size_t count_open(const char *html, const char *name) {
    char a[32], b[32];
    snprintf(a, sizeof a, "<%s ", name);
    snprintf(b, sizeof b, "<%s>", name);
    return count(html, a) + count(html, b);
}

static void expect_balanced(const char *html) {
    static const char *const names[] = {"html", "head",    "body",   "style", "title", "header", "nav",
                                        "main", "section", "footer", "div",   "p",     "h1",     "h2",
                                        "h3",   "h4",      "table",  "tr",    "th",    "td",     "ol",
                                        "li",   "svg",     "g",      "text",  "span",  "b"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char close[32];
        snprintf(close, sizeof close, "</%s>", names[i]);
        if (count_open(html, names[i]) != count(html, close))
            fail_msg("<%s>: %zu opened, %zu closed", names[i], count_open(html, names[i]),
                     count(html, close));
    }
}

/* Every '&' starts one of the entities the page writes. */
static void expect_entities(const char *html) {
    static const char *const ok[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    for (const char *p = strchr(html, '&'); p; p = strchr(p + 1, '&')) {
        int good = 0;
        for (size_t i = 0; i < 5 && !good; i++) good = strncmp(p, ok[i], strlen(ok[i])) == 0;
        if (!good) fail_msg("bare '&' at: %.40s", p);
    }
}

/* Nothing fetched from anywhere: no URL, script, link, image or CSS import. */
static void expect_self_contained(const char *html) {
    static const char *const banned[] = {"http://", "https://", "<script", "<link",   "<img",  "<iframe",
                                         "@import", "url(",     "src=",    "<object", "<embed"};
    for (size_t i = 0; i < sizeof banned / sizeof *banned; i++)
        if (strstr(html, banned[i])) fail_msg("the page contains '%s'", banned[i]);
}

static void expect_page(const char *html) {
    assert_int_equal(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 31), 0);
    assert_non_null(strstr(html, "<meta charset=\"utf-8\">"));
    size_t n = strlen(html);
    assert_true(n > 8 && strcmp(html + n - 8, "</html>\n") == 0);
    expect_balanced(html);
    expect_entities(html);
    expect_self_contained(html);
    static const char *const sections[] = {"teams",    "players", "possession", "shots",
                                           "heatmaps", "passes",  "speed",      "definitions"};
    for (size_t i = 0; i < 8; i++) {
        char id[64];
        snprintf(id, sizeof id, "<section id=\"%s\">", sections[i]);
        if (!strstr(html, id)) fail_msg("no %s", id);
    }
}

/* Writes the report of match ref into dir/name and returns the page. */
static char *report(const fixture *f, const char *ref, const char *name) {
    char args[16384], path[8192];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    snprintf(args, sizeof args, "report %s --db '%s' --out '%s'", ref, f->db, path);
    run_expect(args, 0, "wrote ", NULL);
    char *html = fa_test_read_file(path, NULL);
    assert_non_null(html);
    expect_page(html);
    return html;
}

/* ------------------------------------------------------------ tests */

static void test_events_match(void **state) {
    fixture *f = need(state);
    char *html = report(f, "statsbomb:15986", "sb.html");
    assert_non_null(strstr(html, "<title>Barcelona 2\xe2\x80\x93"
                                 "2 Girona \xc2\xb7 FootAnalytics match report</title>"));
    assert_non_null(strstr(html, "StatsBomb Open Data"));
    /* the team table: passes, then pass completion from 701 / 768 */
    assert_non_null(strstr(html, "<td class=\"l\">Passes</td><td>768</td>"));
    assert_non_null(strstr(html, "<td class=\"l\">Pass completion</td><td>91.3%</td>"));
    assert_non_null(strstr(html, "<td class=\"l\">Lionel Andrés Messi Cuccittini</td><td>10</td>"));
    /* charts from events: possession, shots, two pass networks with their legends */
    assert_int_equal(count(html, "<svg"), 4);
    assert_non_null(strstr(html, "<title>Possession per window, from events</title>"));
    assert_non_null(strstr(html, "<title>Shots of both teams</title>"));
    assert_int_equal(count(html, "class=\"shot\""), 27); /* 20 + 7 shots */
    assert_non_null(strstr(html, "<title>Pass network: Barcelona</title>"));
    assert_non_null(strstr(html, "<title>Pass network: Girona</title>"));
    assert_non_null(strstr(html, "<li><b>10</b> Lionel Andrés Messi Cuccittini"));
    /* no tracking: notes instead of heatmaps and speed charts */
    assert_non_null(strstr(html, "No heatmaps: this match has no tracking data (events only)"));
    assert_non_null(strstr(html, "No speed profiles: this match has no tracking data (events only)"));
    assert_null(strstr(html, "<title>Heatmap:"));
    /* the definitions used */
    assert_non_null(strstr(html, "<td class=\"l\">config.sprint_kmh</td><td class=\"wrapcell\">25.2</td>"));
    free(html);
}

static void test_tracking_match(void **state) {
    fixture *f = need(state);
    char *html = report(f, "lastrow:LIV_2-1_CHE", "lr.html");
    assert_non_null(strstr(html, "Friends-of-Tracking Last-Row"));
    assert_non_null(strstr(html, "<title>Heatmap: LIV</title>"));
    assert_non_null(strstr(html, "<title>Heatmap: CHE</title>"));
    assert_int_equal(count(html, "<title>Heatmap: "), 22);       /* 2 teams + 20 players */
    assert_int_equal(count(html, "<title>Speed profile: "), 20); /* every player */
    assert_non_null(strstr(html, "<title>Possession per window, from tracking</title>"));
    assert_non_null(strstr(html, "No shot map: this match has no event data."));
    assert_non_null(strstr(html, "No pass network: this match has no event data (tracking only)."));
    assert_int_equal(count(html, "<svg"), 1 + 22 + 20);
    free(html);
    html = report(f, "metrica:epts_excerpt", "epts.html");
    assert_int_equal(count(html, "<title>Heatmap: "), 2 + 19); /* 19 of the 22 players are ever tracked */
    assert_int_equal(count(html, "<title>Speed profile: "), 19);
    assert_non_null(strstr(html, "<title>Speed profile: Track_1</title>"));
    assert_non_null(strstr(html, "Team A ?\xe2\x80\x93? Team B"));
    assert_non_null(strstr(html, "Not in the tracking (no maps, no physical figures): Track_9, Track_11, Track_22."));
    free(html);
}

/* A team and a player whose names hold HTML: escaped everywhere. */
static void test_escaping(void **state) {
    (void)need(state);
    static const char csv[] =
        "player,frame,x,y,z,dx,dy,coords,player_num,player_obj,team,num,name,edgecolor,bgcolor\n"
        "0,0,50,50,0.0,0,0,,,,,,,,\n0,1,51,50,0.0,0,0,,,,,,,,\n0,2,52,50,0.0,0,0,,,,,,,,\n"
        "7,0,40,40,,0,0,,7.0,7.0,attack,,\"O'Neil \"\"Jr\"\" <i>\",white,red\n"
        "7,1,40.5,40,,0,0,,7.0,7.0,attack,,\"O'Neil \"\"Jr\"\" <i>\",white,red\n"
        "7,2,41,40,,0,0,,7.0,7.0,attack,,\"O'Neil \"\"Jr\"\" <i>\",white,red\n"
        "8,0,60,60,,0,0,,,8.0,defense,,,white,blue\n8,1,60,60,,0,0,,,8.0,defense,,,white,blue\n"
        "8,2,60,60,,0,0,,,8.0,defense,,,white,blue\n";
    char *dir = fa_test_tmpdir();
    char *path = fa_test_write_file(dir, "<b>&Co_1-0_Rivals.csv", csv, strlen(csv));
    fixture g;
    g.dir = dir;
    snprintf(g.db, sizeof g.db, "%s/esc.db", dir);
    char args[16384];
    snprintf(args, sizeof args, "import --quiet --db '%s' '%s'", g.db, path);
    run_expect(args, 0, NULL, NULL);
    char *html = report(&g, "1", "esc.html");
    assert_non_null(strstr(html, "<span class=\"team\">&lt;b&gt;&amp;Co</span>"));
    assert_non_null(strstr(html, "O&#39;Neil &quot;Jr&quot; &lt;i&gt;"));
    assert_non_null(strstr(html, "&lt;b&gt;&amp;Co_1-0_Rivals.csv")); /* the source file name */
    assert_null(strstr(html, "<b>&"));
    assert_null(strstr(html, "<i>"));
    free(html);
    /* stats --json keeps the names as they are */
    snprintf(args, sizeof args, "stats 1 --json --db '%s'", g.db);
    char *out;
    assert_int_equal(fa_test_run_cli(args, &out, NULL), 0);
    assert_non_null(strstr(out, "\"name\":\"<b>&Co\""));
    assert_non_null(strstr(out, "\"name\":\"O'Neil \\\"Jr\\\" <i>\""));
    free(out);
    fa_test_rmtree(dir);
    free(dir);
    free(path);
}

/* No temporary file is left beside the report, and a second run replaces it. */
static void test_atomic_write(void **state) {
    fixture *f = need(state);
    char *a = report(f, "1", "again.html");
    char *b = report(f, "1", "again.html");
    assert_string_equal(a, b);
    free(a);
    free(b);
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp")) fail_msg("temporary file left behind: %s", e->d_name);
    closedir(d);
}

static void test_errors(void **state) {
    fixture *f = need(state);
    char args[16384];
    run_expect("report --help", 0, "usage: footanalytics report MATCH --out FILE.html", NULL);
    run_expect("report --help", 0, "--db PATH", NULL);
    run_expect("--help", 0, "report", NULL);
    snprintf(args, sizeof args, "report 1 --db '%s'", f->db);
    run_expect(args, 1, NULL, "missing --out");
    run_expect("report --out x.html", 1, NULL, "missing MATCH");
    snprintf(args, sizeof args, "report 77 --db '%s' --out '%s/bad.html'", f->db, f->dir);
    run_expect(args, 2, NULL, "match '77': not in the database");
    snprintf(args, sizeof args, "report nosuch:1 --db '%s' --out '%s/bad.html'", f->db, f->dir);
    run_expect(args, 2, NULL, "unknown provider 'nosuch'");
    snprintf(args, sizeof args, "%s/bad.html", f->dir);
    assert_false(fa_test_file_exists(args));
    snprintf(args, sizeof args, "report 1 --db '%s' --out '%s/no/such/dir/r.html'", f->db, f->dir);
    run_expect(args, 3, NULL, "cannot create a file beside it");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_match), cmocka_unit_test(test_tracking_match),
        cmocka_unit_test(test_escaping),     cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
