/*
 * ingest.c - what kind of file is this, which files make one match, and
 * which parser reads them.
 *
 * Detection is by content, never by extension: the first 64 KiB are enough
 * to recognise every supported layout by its structure and a few key names
 * (StatsBomb's "possession_team", Wyscout's "eventSec", Metrica's CSV
 * header...). Companion files (lineups beside events, away tracking beside
 * home tracking, EPTS frames beside their metadata) are taken from the
 * command line first and otherwise looked for next to the primary file, so
 * `footanalytics import 15986_event.json` does the right thing.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "ingest.h"

#define SNIFF_BYTES (64 * 1024)

static const char *const kind_names[FA_FILE_KIND_COUNT] = {
    "unknown",
    "statsbomb-events",
    "statsbomb-lineups",
    "metrica-events-csv",
    "metrica-events-json",
    "metrica-tracking-home",
    "metrica-tracking-away",
    "epts-metadata",
    "epts-tracking",
    "skillcorner-match",
    "skillcorner-tracking",
    "wyscout-events",
    "lastrow-tracking",
};

const char *fa_file_kind_name(fa_file_kind k) {
    return (k >= 0 && k < FA_FILE_KIND_COUNT) ? kind_names[k] : "unknown";
}

fa_provider fa_file_kind_provider(fa_file_kind k) {
    switch (k) {
    case FA_FILE_STATSBOMB_EVENTS:
    case FA_FILE_STATSBOMB_LINEUPS: return FA_PROVIDER_STATSBOMB;
    case FA_FILE_METRICA_EVENTS_CSV:
    case FA_FILE_METRICA_EVENTS_JSON:
    case FA_FILE_METRICA_TRACKING_HOME:
    case FA_FILE_METRICA_TRACKING_AWAY:
    case FA_FILE_EPTS_METADATA:
    case FA_FILE_EPTS_TRACKING: return FA_PROVIDER_METRICA;
    case FA_FILE_SKILLCORNER_MATCH:
    case FA_FILE_SKILLCORNER_TRACKING: return FA_PROVIDER_SKILLCORNER;
    case FA_FILE_WYSCOUT_EVENTS: return FA_PROVIDER_WYSCOUT;
    case FA_FILE_LASTROW_TRACKING: return FA_PROVIDER_LASTROW;
    default: return FA_PROVIDER_UNKNOWN;
    }
}

/* ------------------------------------------------------------ sniffing */

static int has(const char *buf, const char *needle) { return strstr(buf, needle) != NULL; }

/* The first line of buf (without the newline) into line[size]. */
static void first_line(const char *buf, char *line, size_t size) {
    size_t n = strcspn(buf, "\r\n");
    if (n >= size) n = size - 1;
    memcpy(line, buf, n);
    line[n] = '\0';
}

/* "123:..." with ';' separated records: an EPTS frame line. */
static int looks_like_epts_frame(const char *line) {
    const char *p = line;
    if (!isdigit((unsigned char)*p)) return 0;
    while (isdigit((unsigned char)*p)) p++;
    return *p == ':' && strchr(p, ';') != NULL;
}

static fa_file_kind sniff_json(const char *buf, const char *line) {
    if (buf[0] == '[') {
        if (has(buf, "\"possession_team\"")) return FA_FILE_STATSBOMB_EVENTS;
        if (has(buf, "\"team_id\"") && has(buf, "\"lineup\"")) return FA_FILE_STATSBOMB_LINEUPS;
        if (has(buf, "\"eventSec\"")) return FA_FILE_WYSCOUT_EVENTS;
        return FA_FILE_UNKNOWN;
    }
    if (has(line, "\"player_data\"") && has(line, "\"frame\"")) return FA_FILE_SKILLCORNER_TRACKING;
    if (has(buf, "\"eventSec\"")) return FA_FILE_WYSCOUT_EVENTS;
    if (has(buf, "\"data\"") && has(buf, "\"subtypes\"")) return FA_FILE_METRICA_EVENTS_JSON;
    if (has(buf, "\"home_team\"") &&
        (has(buf, "\"pitch_length\"") || has(buf, "\"home_team_side\"") || has(buf, "\"players\"")))
        return FA_FILE_SKILLCORNER_MATCH;
    return FA_FILE_UNKNOWN;
}

fa_file_kind fa_ingest_sniff(const char *path) {
    char *buf = fa_malloc(SNIFF_BYTES + 1);
    if (!buf) return FA_FILE_UNKNOWN;
    size_t got = 0;
    if (fa_file_sniff(path, buf, SNIFF_BYTES, &got)) {
        free(buf);
        return FA_FILE_UNKNOWN;
    }
    buf[got] = '\0';
    const char *p = buf;
    if (got >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    while (*p && isspace((unsigned char)*p)) p++;
    fa_file_kind kind = FA_FILE_UNKNOWN;
    char line[4096];
    first_line(p, line, sizeof line);
    if (got == 0 || !*p) {
        fa_err_set(FA_EINVAL, "%s: empty file", path);
        free(buf);
        return FA_FILE_UNKNOWN;
    }
    if (memchr(buf, '\0', got)) {
        fa_err_set(FA_EINVAL, "%s: binary content (NUL byte), not a provider data file", path);
        free(buf);
        return FA_FILE_UNKNOWN;
    }
    if (*p == '[' || *p == '{')
        kind = sniff_json(p, line);
    else if (*p == '<')
        kind = (has(p, "<main") || has(p, "EPTS")) && has(p, "<Metadata") ? FA_FILE_EPTS_METADATA
                                                                           : FA_FILE_UNKNOWN;
    else if (strncmp(line, "Team,Type,Subtype,Period", 24) == 0)
        kind = FA_FILE_METRICA_EVENTS_CSV;
    else if (strncmp(line, ",,,Home", 7) == 0)
        kind = FA_FILE_METRICA_TRACKING_HOME;
    else if (strncmp(line, ",,,Away", 7) == 0)
        kind = FA_FILE_METRICA_TRACKING_AWAY;
    else if (looks_like_epts_frame(line))
        kind = FA_FILE_EPTS_TRACKING;
    else if (strncmp(line, "player,frame,x,y", 16) == 0)
        kind = FA_FILE_LASTROW_TRACKING;
    if (kind == FA_FILE_UNKNOWN)
        fa_err_set(FA_EINVAL,
                   "%s: unknown provider: not StatsBomb, Metrica, EPTS, SkillCorner, Wyscout or Last-Row "
                   "data (use --provider to say which, see footanalytics import --help)",
                   path);
    free(buf);
    return kind;
}

/* ------------------------------------------------------------ planning */

typedef struct planned {
    const char *path;
    fa_file_kind kind;
    int used;
} planned;

/* Replaces the last occurrence of from with to in the base name of path.
 * Returns a malloc'd string or NULL when from does not occur. */
static char *companion_name(const char *path, const char *from, const char *to) {
    const char *base = fa_path_base(path);
    const char *hit = NULL;
    for (const char *p = strstr(base, from); p; p = strstr(p + 1, from)) hit = p;
    if (!hit) return NULL;
    size_t n = strlen(path) - strlen(from) + strlen(to) + 1;
    char *out = fa_malloc(n);
    if (!out) return NULL;
    size_t pre = (size_t)(hit - path);
    memcpy(out, path, pre);
    strcpy(out + pre, to);
    strcat(out, hit + strlen(from));
    return out;
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) || stat(b, &sb)) return strcmp(a, b) == 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int plan_own(fa_ingest_plan *plan, char *path) {
    char **o = fa_realloc(plan->owned, (plan->nowned + 1) * sizeof *o);
    if (!o) return FA_ENOMEM;
    plan->owned = o;
    plan->owned[plan->nowned++] = path;
    return 0;
}

/* Finds the companion of files[i] of kind want: first among the given
 * files, then on disk under one of the candidate names. Sets *out (NULL when
 * none was found). */
static int find_companion(fa_ingest_plan *plan, planned *files, size_t n, size_t i, fa_file_kind want,
                          const char *const *swaps, const char **out) {
    *out = NULL;
    for (size_t s = 0; swaps[s]; s += 2) {
        char *cand = companion_name(files[i].path, swaps[s], swaps[s + 1]);
        if (!cand) continue;
        for (size_t j = 0; j < n; j++) {
            if (j != i && !files[j].used && files[j].kind == want && same_file(files[j].path, cand)) {
                files[j].used = 1;
                *out = files[j].path;
                free(cand);
                return 0;
            }
        }
        if (fa_file_check(cand) == 0) {
            if (plan_own(plan, cand)) return free(cand), FA_ENOMEM;
            *out = cand;
            return 0;
        }
        free(cand);
    }
    fa_err_clear();
    /* Any unused given file of the wanted kind pairs as a last resort when
     * there is exactly one. */
    size_t found = n, count = 0;
    for (size_t j = 0; j < n; j++)
        if (!files[j].used && files[j].kind == want) found = j, count++;
    if (count == 1) {
        files[found].used = 1;
        *out = files[found].path;
    }
    return 0;
}

static const char *const swaps_lineup[] = {"_event", "_lineup", "_events", "_lineups", NULL};
static const char *const swaps_away[] = {"_home", "_away", "_Home", "_Away", "Home", "Away", NULL};
static const char *const swaps_epts[] = {"_metadata.xml", "_tracking.txt", "metadata", "tracking",
                                         "_metadata.xml", "_tracking.dat", NULL};
static const char *const swaps_sc[] = {"_meta_data.json", "_v3_raw_data.jsonl", "_match_data.json",
                                       "_tracking_extrapolated.jsonl", "_match_data.json", "_tracking.jsonl",
                                       NULL};

static int add_job(fa_ingest_plan *plan, fa_file_kind kind, const char *a, const char *b) {
    fa_ingest_job *j = fa_realloc(plan->jobs, (plan->njobs + 1) * sizeof *j);
    if (!j) return FA_ENOMEM;
    plan->jobs = j;
    fa_ingest_job *job = &plan->jobs[plan->njobs++];
    memset(job, 0, sizeof *job);
    job->kind = kind;
    job->files[job->nfiles++] = a;
    if (b) job->files[job->nfiles++] = b;
    return 0;
}

/* Adds the job for primary file i, pulling in its companions. */
static int plan_primary(fa_ingest_plan *plan, planned *f, size_t n, size_t i) {
    const char *comp = NULL;
    int rc = 0;
    switch (f[i].kind) {
    case FA_FILE_STATSBOMB_EVENTS:
        rc = find_companion(plan, f, n, i, FA_FILE_STATSBOMB_LINEUPS, swaps_lineup, &comp);
        return rc ? rc : add_job(plan, f[i].kind, f[i].path, comp);
    case FA_FILE_METRICA_TRACKING_HOME:
        rc = find_companion(plan, f, n, i, FA_FILE_METRICA_TRACKING_AWAY, swaps_away, &comp);
        if (rc) return rc;
        if (!comp)
            return fa_err_set(FA_EINVAL, "%s: Metrica home tracking needs its away file (not given, none found beside it)",
                              f[i].path);
        return add_job(plan, f[i].kind, f[i].path, comp);
    case FA_FILE_EPTS_METADATA:
        rc = find_companion(plan, f, n, i, FA_FILE_EPTS_TRACKING, swaps_epts, &comp);
        if (rc) return rc;
        if (!comp)
            return fa_err_set(FA_EINVAL, "%s: EPTS metadata needs its tracking file (not given, none found beside it)",
                              f[i].path);
        return add_job(plan, f[i].kind, f[i].path, comp);
    case FA_FILE_SKILLCORNER_MATCH:
        rc = find_companion(plan, f, n, i, FA_FILE_SKILLCORNER_TRACKING, swaps_sc, &comp);
        return rc ? rc : add_job(plan, f[i].kind, f[i].path, comp);
    case FA_FILE_METRICA_EVENTS_CSV:
    case FA_FILE_METRICA_EVENTS_JSON:
    case FA_FILE_WYSCOUT_EVENTS:
    case FA_FILE_LASTROW_TRACKING: return add_job(plan, f[i].kind, f[i].path, NULL);
    default: return 0; /* companions are planned with their primary */
    }
}

static int is_companion(fa_file_kind k) {
    return k == FA_FILE_STATSBOMB_LINEUPS || k == FA_FILE_METRICA_TRACKING_AWAY ||
           k == FA_FILE_EPTS_TRACKING || k == FA_FILE_SKILLCORNER_TRACKING;
}

static const char *companion_hint(fa_file_kind k) {
    switch (k) {
    case FA_FILE_STATSBOMB_LINEUPS: return "StatsBomb lineups need their events file";
    case FA_FILE_METRICA_TRACKING_AWAY: return "Metrica away tracking needs its home file";
    case FA_FILE_EPTS_TRACKING: return "EPTS frames need their metadata XML";
    default: return "SkillCorner tracking needs its match data JSON";
    }
}

int fa_ingest_plan_make(const char *const *paths, size_t n, fa_provider provider, fa_ingest_plan *plan) {
    memset(plan, 0, sizeof *plan);
    if (n == 0) return fa_err_set(FA_EUSAGE, "no input files given");
    planned *f = fa_calloc(n, sizeof *f);
    if (!f) return FA_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        f[i].path = paths[i];
        f[i].kind = fa_ingest_sniff(paths[i]);
        if (f[i].kind == FA_FILE_UNKNOWN) rc = fa_err_code() ? fa_err_code() : FA_EINVAL;
        else if (provider != FA_PROVIDER_UNKNOWN && fa_file_kind_provider(f[i].kind) != provider)
            rc = fa_err_set(FA_EINVAL, "%s: is %s data (%s), not %s as --provider says", paths[i],
                            fa_provider_name(fa_file_kind_provider(f[i].kind)),
                            fa_file_kind_name(f[i].kind), fa_provider_name(provider));
    }
    for (size_t i = 0; i < n && !rc; i++)
        if (!is_companion(f[i].kind)) rc = plan_primary(plan, f, n, i);
    for (size_t i = 0; i < n && !rc; i++)
        if (is_companion(f[i].kind) && !f[i].used)
            rc = fa_err_set(FA_EINVAL, "%s: %s (give both files)", paths[i], companion_hint(f[i].kind));
    free(f);
    if (rc) fa_ingest_plan_free(plan);
    return rc;
}

void fa_ingest_plan_free(fa_ingest_plan *plan) {
    for (size_t i = 0; i < plan->nowned; i++) free(plan->owned[i]);
    free(plan->owned);
    free(plan->jobs);
    memset(plan, 0, sizeof *plan);
}

int fa_ingest_run(const fa_ingest_job *job, const fa_sink *sink) {
    const char *a = job->files[0], *b = job->nfiles > 1 ? job->files[1] : NULL;
    switch (job->kind) {
    case FA_FILE_STATSBOMB_EVENTS: return fa_statsbomb_import(a, b, sink);
    case FA_FILE_METRICA_EVENTS_CSV: return fa_metrica_events_csv_import(a, sink);
    case FA_FILE_METRICA_EVENTS_JSON: return fa_metrica_events_json_import(a, sink);
    case FA_FILE_METRICA_TRACKING_HOME: return fa_metrica_tracking_import(a, b, sink);
    case FA_FILE_EPTS_METADATA: return fa_epts_import(a, b, sink);
    case FA_FILE_SKILLCORNER_MATCH: return fa_skillcorner_import(a, b, sink);
    case FA_FILE_WYSCOUT_EVENTS: return fa_wyscout_import(a, sink);
    case FA_FILE_LASTROW_TRACKING: return fa_lastrow_import(a, sink);
    default: return fa_err_set(FA_EINVAL, "%s: %s files cannot be imported on their own", a, fa_file_kind_name(job->kind));
    }
}
