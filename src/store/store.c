/*
 * store.c - the backend-neutral face of the store (store.h).
 *
 * Callers never see SQL or know which database they talk to: this file
 * turns a target ("db.sqlite", "sqlite:db.sqlite", "postgres://...") into
 * a backend and a handle, and forwards each call through the backend's
 * operation table (store_backend.h). What is the same for every backend
 * lives here once: target and match-reference parsing, argument checks
 * (aggregates are checked here before any backend stores them) and the
 * wording of "not found" errors.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "store_backend.h"

struct fa_store {
    const fa_store_backend *be;
    void *h;
};

struct fa_store_import {
    const fa_store_backend *be;
    void *h;
};

/* Length of a "scheme://" prefix's scheme, or 0 when target has none. */
static size_t scheme_len(const char *target) {
    size_t i = 0;
    if (!isalpha((unsigned char)target[0])) return 0;
    while (isalnum((unsigned char)target[i]) || target[i] == '+' || target[i] == '-' || target[i] == '.') i++;
    return strncmp(target + i, "://", 3) == 0 ? i : 0;
}

/* Picks the backend for target; *rest = what the backend opens. */
static int parse_target(const char *target, const fa_store_backend **be, const char **rest) {
    *be = &fa_store_sqlite_backend;
    *rest = target;
    if (!target || !*target)
        return fa_err_set(FA_EUSAGE, "store: no database given (a file path or sqlite:PATH)");
    if (strncmp(target, "sqlite:", 7) == 0) {
        *rest = target + 7;
        if (strncmp(*rest, "//", 2) == 0) *rest += 2; /* sqlite:///abs/path */
        if (!**rest) return fa_err_set(FA_EUSAGE, "store: '%s': no file path after sqlite:", target);
        return 0;
    }
    size_t n = scheme_len(target);
    if (n == 0) return 0;
    /* Never echo a URL: it may carry a password. */
    if ((n == 8 && strncmp(target, "postgres", 8) == 0) ||
        (n == 10 && strncmp(target, "postgresql", 10) == 0))
        return fa_err_set(FA_EUSAGE, "store: postgres://...: the PostgreSQL backend is not built yet "
                                     "(use a file path or sqlite:PATH)");
    return fa_err_set(FA_EUSAGE, "store: unknown database scheme '%.*s://' (use a file path or sqlite:PATH)",
                      (int)n, target);
}

fa_store *fa_store_open(const char *target, int create, int migrate) {
    const fa_store_backend *be;
    const char *rest;
    if (parse_target(target, &be, &rest)) return NULL;
    fa_store *s = fa_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->be = be;
    s->h = be->open(rest, create, migrate);
    if (!s->h) {
        free(s);
        return NULL;
    }
    return s;
}

void fa_store_close(fa_store *s) {
    if (!s) return;
    s->be->close(s->h);
    free(s);
}

int fa_store_migrate(fa_store *s, int *applied) {
    int dummy;
    return s->be->migrate(s->h, applied ? applied : &dummy);
}

int fa_store_schema_version(fa_store *s, int *version) { return s->be->schema_version(s->h, version); }

int fa_store_data_version(fa_store *s, int64_t *version) { return s->be->data_version(s->h, version); }

int fa_store_explain(fa_store *s, FILE *out, int *scans) {
    int dummy;
    return s->be->explain(s->h, out, scans ? scans : &dummy);
}

/* ------------------------------------------------------------ import */

int fa_store_import_begin(fa_store *s, fa_store_import **out) {
    *out = NULL;
    fa_store_import *imp = fa_calloc(1, sizeof *imp);
    if (!imp) return FA_ENOMEM;
    imp->be = s->be;
    int rc = s->be->import_begin(s->h, &imp->h);
    if (rc) {
        free(imp);
        return rc;
    }
    *out = imp;
    return 0;
}

const fa_sink *fa_store_import_sink(fa_store_import *imp) { return imp->be->import_sink(imp->h); }

/* ------------------------------------------------------------ aggregates check */

static int bad_aggregate_side(const char *what, const char *name, int side) {
    if (side >= FA_SIDE_NONE && side <= FA_SIDE_AWAY) return 0;
    return fa_err_set(FA_EINVAL, "store: aggregates: %s '%s': side %d is not -1, 0 or 1", what, name, side);
}

static int check_metric(const fa_metric *m) {
    if (!m->name[0]) return fa_err_set(FA_EINVAL, "store: aggregates: a metric without a name");
    if (!isfinite(m->value))
        return fa_err_set(FA_EINVAL, "store: aggregates: metric '%s': value is not finite", m->name);
    return bad_aggregate_side("metric", m->name, m->side);
}

static int check_grid(const fa_grid *g) {
    if (!g->name[0]) return fa_err_set(FA_EINVAL, "store: aggregates: a grid without a name");
    if (g->nx <= 0 || g->ny <= 0 || (int64_t)g->nx * g->ny > (1 << 24) || !g->cells)
        return fa_err_set(FA_EINVAL, "store: aggregates: grid '%s': size %d x %d (or no cells)", g->name,
                          g->nx, g->ny);
    return bad_aggregate_side("grid", g->name, g->side);
}

/* What every backend relies on: names, finite values, sides, grid sizes. */
static int check_aggregates(const fa_aggregates *a) {
    if (!a) return fa_err_set(FA_EINVAL, "store: no aggregates given");
    for (size_t i = 0; i < a->nmetrics; i++)
        if (check_metric(&a->metrics[i])) return FA_EINVAL;
    for (size_t i = 0; i < a->ngrids; i++)
        if (check_grid(&a->grids[i])) return FA_EINVAL;
    for (size_t i = 0; i < a->ndocs; i++)
        if (!a->docs[i].name[0] || !a->docs[i].json)
            return fa_err_set(FA_EINVAL, "store: aggregates: document %zu has no name or no text", i);
    return 0;
}

int fa_store_import_aggregates(fa_store_import *imp, const fa_aggregates *a) {
    if (!imp) return fa_err_set(FA_EINVAL, "store: aggregates without an import");
    int rc = check_aggregates(a);
    return rc ? rc : imp->be->import_aggregates(imp->h, a);
}

int fa_store_import_commit(fa_store_import *imp, fa_import_stats *stats) {
    fa_import_stats dummy;
    if (!imp) return fa_err_set(FA_EINVAL, "store: commit without an import");
    int rc = imp->be->import_commit(imp->h, stats ? stats : &dummy);
    free(imp);
    return rc;
}

void fa_store_import_abort(fa_store_import *imp) {
    if (!imp) return;
    imp->be->import_abort(imp->h);
    free(imp);
}

/* ------------------------------------------------------------ read back */

void fa_event_filter_init(fa_event_filter *f, int64_t match_id) {
    memset(f, 0, sizeof *f);
    f->match_id = match_id;
    f->kind = -1;
    f->period = 0;
    f->t_from = f->t_to = NAN;
    f->after_seq = -1;
}

int fa_store_matches(fa_store *s, const fa_match_filter *f, fa_match_cb cb, void *ud) {
    fa_match_filter all = {0};
    return s->be->matches(s->h, f ? f : &all, cb, ud);
}

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static int find_by_provider_ref(fa_store *s, const char *ref, const char *colon, fa_match_row *out) {
    char name[32];
    size_t n = (size_t)(colon - ref);
    if (n >= sizeof name || !colon[1])
        return fa_err_set(FA_EINVAL, "match '%s': expected provider:id, e.g. statsbomb:15986", ref);
    memcpy(name, ref, n);
    name[n] = '\0';
    fa_provider p = fa_provider_parse(name);
    if (p == FA_PROVIDER_UNKNOWN && strcmp(name, "unknown") != 0)
        return fa_err_set(FA_EINVAL, "match '%s': unknown provider '%s'", ref, name);
    return s->be->match_by_provider(s->h, p, colon + 1, out);
}

int fa_store_match_find(fa_store *s, const char *ref, fa_match_row *out) {
    int rc;
    const char *colon = ref ? strchr(ref, ':') : NULL;
    if (ref && all_digits(ref)) {
        int64_t id;
        if (fa_parse_int(ref, 1, INT64_MAX, &id))
            return fa_err_set(FA_EINVAL, "match '%s': not a valid store id", ref);
        rc = s->be->match_by_id(s->h, id, out);
    } else if (colon) {
        rc = find_by_provider_ref(s, ref, colon, out);
    } else {
        return fa_err_set(FA_EINVAL, "match '%s': expected a store id (42) or provider:id (statsbomb:15986)",
                          ref ? ref : "");
    }
    if (rc == FA_ENOTFOUND) return fa_err_set(FA_ENOTFOUND, "match '%s': not in the database", ref);
    return rc;
}

int fa_store_events(fa_store *s, const fa_event_filter *f, fa_event_cb cb, void *ud) {
    if (!f) return fa_err_set(FA_EINVAL, "event filter: none given (use fa_event_filter_init)");
    if (f->kind < -1 || f->kind >= FA_EV_COUNT)
        return fa_err_set(FA_EINVAL, "event filter: kind %d is not an event kind", f->kind);
    return s->be->events(s->h, f, cb, ud);
}

int fa_store_players(fa_store *s, int64_t match_id, fa_player_cb cb, void *ud) {
    return s->be->players(s->h, match_id, cb, ud);
}

int fa_store_frames(fa_store *s, int64_t match_id, int period, double t_from, double t_to, fa_frame_cb cb,
                    void *ud) {
    return s->be->frames(s->h, match_id, period, t_from, t_to, cb, ud);
}

/* ------------------------------------------------------------ aggregates */

int fa_store_aggregates_replace(fa_store *s, int64_t match_id, const fa_aggregates *a) {
    int rc = check_aggregates(a);
    if (!rc) rc = s->be->aggregates_replace(s->h, match_id, a);
    if (rc == FA_ENOTFOUND)
        return fa_err_set(FA_ENOTFOUND, "match %lld: not in the database", (long long)match_id);
    return rc;
}

int fa_store_metrics(fa_store *s, int64_t match_id, const char *player_id, fa_metric_cb cb, void *ud) {
    return s->be->metrics(s->h, match_id, player_id, cb, ud);
}

int fa_store_grids(fa_store *s, int64_t match_id, const char *player_id, fa_grid_cb cb, void *ud) {
    return s->be->grids(s->h, match_id, player_id, cb, ud);
}

int fa_store_doc(fa_store *s, int64_t match_id, const char *name, fa_buf *out) {
    if (!name || !*name) return fa_err_set(FA_EINVAL, "store: document: no name given");
    int rc = s->be->doc(s->h, match_id, name, out);
    if (rc == FA_ENOTFOUND)
        return fa_err_set(FA_ENOTFOUND, "match %lld: no document '%s' (not analysed, or no such document)",
                          (long long)match_id, name);
    return rc;
}

/* player_id is a provider's player id ("5503"), or "provider:id"
 * ("statsbomb:5503") to count only that provider's player of that id. */
int fa_store_metric_sum(fa_store *s, const char *player_id, const char *name, double *sum, int64_t *matches) {
    *sum = 0;
    *matches = 0;
    if (!player_id || !*player_id || !name || !*name)
        return fa_err_set(FA_EINVAL, "store: metric sum: a player id and a metric name are needed");
    const char *colon = strchr(player_id, ':');
    char provider[32];
    size_t n = colon ? (size_t)(colon - player_id) : 0;
    if (colon && n < sizeof provider && colon[1]) {
        memcpy(provider, player_id, n);
        provider[n] = '\0';
        fa_provider p = fa_provider_parse(provider);
        if (p != FA_PROVIDER_UNKNOWN)
            return s->be->metric_sum(s->h, fa_provider_name(p), colon + 1, name, sum, matches);
    }
    return s->be->metric_sum(s->h, NULL, player_id, name, sum, matches);
}
