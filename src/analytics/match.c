/*
 * match.c - every metric of one match, from a collector (collect.c), as the
 * aggregates the store keeps (model.h: fa_metric, fa_grid, fa_doc).
 *
 * This file only composes the other units: tactical figures (passes.c, with
 * xT from xt.c) and possession (possession.c) from events; kinematics
 * (kinematics.c), physical figures (physical.c) and heatmaps (heatmap.c) from
 * tracking. What it decides is naming and applicability:
 *
 *   - metric names are stable identifiers with the unit in the name
 *     ("distance_m", "peak_speed_ms", "band_<name>_m"); team metrics have
 *     player_id "", player metrics the provider's player id;
 *   - a metric that does not apply is absent, never 0: no tracking means no
 *     physical metric, no provider xG means no "xg", no events no tactical
 *     metric, and a value that comes out non-finite (a per-90 figure of a
 *     player with no minutes) is left out;
 *   - minutes are the provider's (fa_player.minutes, StatsBomb and
 *     SkillCorner know them) and otherwise the player's presence in the
 *     tracking: per period, first to last sample plus one frame;
 *   - "possession_share" comes from events when there are any, else from
 *     tracking; "possession_share_tracking" whenever there is tracking; the
 *     "definitions" document says which method each used;
 *   - heatmaps ("heatmap" grids) are seconds per cell, oriented so the side
 *     attacks +x, smoothed as configured; a team's is the sum of its
 *     players' (smoothing is linear, so the sum of smoothed maps is the
 *     smoothed sum);
 *   - documents: "definitions" (the configuration, the tactical definitions,
 *     the possession methods and the conventions of this file),
 *     "possession_timeline", "pass_network_home" / "pass_network_away" and
 *     "speed_profile" (mean speed per SPEED_STEP_S bucket, per period).
 *
 * Kinematics are computed one player at a time and freed at once, so memory
 * is that of one player's tracks on top of the collected match.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"

#define MATCH_MAX_PERIODS 5
#define SPEED_STEP_S 5.0 /* speed profile: one value per this many seconds */

typedef struct mctx {
    const fa_collector *col;
    const fa_analytics_config *c;
    fa_aggregates *out;
    fa_pitch pitch;
    double rate;    /* tracking frames per second */
    fa_buf profile; /* the speed_profile document being written */
    size_t nprofiles;
    double *team_heat[2]; /* sum of the players' heatmaps */
    fa_physical team_phys[2];
    int team_tracked[2];
    char tactical_def[512];
    char poss_method[2][96]; /* events, tracking; "" when not computed */
} mctx;

/* ------------------------------------------------------------ helpers */

/* Adds a metric unless its value is not finite (does not apply). */
static int put(mctx *m, fa_side side, const char *player_id, const char *name, double value) {
    if (!isfinite(value)) return 0;
    return fa_aggregates_metric(m->out, side, player_id, name, value);
}

static const fa_player *player_of(const fa_collector *col, const char *id) {
    for (size_t i = 0; i < col->nplayers; i++)
        if (strcmp(col->players[i].id, id) == 0) return &col->players[i];
    return NULL;
}

static int valid_pitch(const fa_pitch *p) {
    return isfinite(p->length) && isfinite(p->width) && p->length > 0 && p->width > 0;
}

static int json_key(fa_buf *b, const char *key) {
    int rc = fa_json_write_str(b, key);
    return rc ? rc : fa_buf_putc(b, ':');
}

static int any_event(const fa_collector *col, int (*pred)(const fa_event *)) {
    for (size_t i = 0; i < col->nevents; i++)
        if (pred(&col->events[i])) return 1;
    return 0;
}

static int has_xg(const fa_event *e) { return e->kind == FA_EV_SHOT && isfinite(e->xg); }
static int has_location(const fa_event *e) { return isfinite(e->x) && isfinite(e->y); }

/* ------------------------------------------------------------ tactical */

static int put_team_tactical(mctx *m, fa_side s, const fa_team_tactical *t, int xg, int xt) {
    int rc = put(m, s, "", "passes", t->passes);
    if (!rc) rc = put(m, s, "", "passes_completed", t->passes_completed);
    if (!rc) rc = put(m, s, "", "progressive_passes", t->progressive_passes);
    if (!rc) rc = put(m, s, "", "final_third_passes", t->final_third_passes);
    if (!rc) rc = put(m, s, "", "shots", t->shots);
    if (!rc) rc = put(m, s, "", "shots_on_target", t->shots_on_target);
    if (!rc) rc = put(m, s, "", "goals", t->goals);
    if (!rc && xg) rc = put(m, s, "", "xg", t->xg);
    if (!rc && xt) rc = put(m, s, "", "xt", t->xt);
    if (!rc) rc = put(m, s, "", "pass_strings", t->pass_strings);
    if (!rc) rc = put(m, s, "", "longest_pass_string", t->longest_string);
    return rc;
}

static int put_player_tactical(mctx *m, const fa_player_tactical *p, int xg, int xt) {
    int rc = put(m, p->side, p->id, "passes", p->passes);
    if (!rc) rc = put(m, p->side, p->id, "passes_completed", p->passes_completed);
    if (!rc) rc = put(m, p->side, p->id, "progressive_passes", p->progressive_passes);
    if (!rc) rc = put(m, p->side, p->id, "final_third_passes", p->final_third_passes);
    if (!rc) rc = put(m, p->side, p->id, "shots", p->shots);
    if (!rc) rc = put(m, p->side, p->id, "goals", p->goals);
    if (!rc && xg) rc = put(m, p->side, p->id, "xg", p->xg);
    if (!rc && xt) rc = put(m, p->side, p->id, "xt", p->xt);
    return rc;
}

/* Team and player tactical metrics; nothing without events. */
static int emit_tactical(mctx *m) {
    const fa_collector *col = m->col;
    if (col->nevents == 0) return 0;
    fa_tactical t;
    memset(&t, 0, sizeof t);
    int rc = fa_tactical_compute(col->events, col->nevents, &m->pitch, m->c, &t);
    int xg = any_event(col, has_xg), xt = any_event(col, has_location);
    for (int s = 0; s < 2 && !rc; s++) rc = put_team_tactical(m, (fa_side)s, &t.team[s], xg, xt);
    for (size_t i = 0; i < t.nplayers && !rc; i++)
        if (t.players[i].id[0]) rc = put_player_tactical(m, &t.players[i], xg, xt);
    if (!rc) fa_strlcpy_utf8(m->tactical_def, t.definitions, sizeof m->tactical_def);
    fa_tactical_free(&t);
    return rc;
}

/* Minutes the provider knows; tracked players without them get theirs in
 * emit_player_physical. */
static int emit_known_minutes(mctx *m) {
    int rc = 0;
    for (size_t i = 0; i < m->col->nplayers && !rc; i++) {
        const fa_player *p = &m->col->players[i];
        if (p->id[0]) rc = put(m, p->side, p->id, "minutes", p->minutes);
    }
    return rc;
}

/* ------------------------------------------------------------ possession */

static int timeline_json(fa_buf *b, const fa_possession *p) {
    int rc = fa_buf_puts(b, "{\"method\":");
    if (!rc) rc = fa_json_write_str(b, p->method);
    if (!rc) rc = fa_buf_puts(b, ",\"share\":[");
    if (!rc) rc = fa_json_write_num(b, p->share[0]);
    if (!rc) rc = fa_buf_putc(b, ',');
    if (!rc) rc = fa_json_write_num(b, p->share[1]);
    if (!rc) rc = fa_buf_puts(b, "],\"windows\":[");
    for (size_t i = 0; i < p->nwindows && !rc; i++) {
        const fa_possession_window *w = &p->windows[i];
        rc = fa_buf_printf(b, "%s{\"period\":%d,\"t0\":", i ? "," : "", w->period);
        if (!rc) rc = fa_json_write_num(b, w->t0);
        if (!rc) rc = fa_buf_puts(b, ",\"t1\":");
        if (!rc) rc = fa_json_write_num(b, w->t1);
        if (!rc) rc = fa_buf_puts(b, ",\"home\":");
        if (!rc) rc = fa_json_write_num(b, w->share[0]);
        if (!rc) rc = fa_buf_puts(b, ",\"away\":");
        if (!rc) rc = fa_json_write_num(b, w->share[1]);
        if (!rc) rc = fa_buf_putc(b, '}');
    }
    if (!rc) rc = fa_buf_puts(b, "]}");
    return rc;
}

/* The possession_timeline document: one entry per method computed. */
static int possession_doc(mctx *m, const fa_possession *ev, const fa_possession *tr) {
    fa_buf b = {0};
    int rc = fa_buf_puts(&b, "{\"window_s\":");
    if (!rc) rc = fa_json_write_num(&b, m->c->possession_window_s);
    if (!rc && ev) rc = fa_buf_puts(&b, ",\"events\":");
    if (!rc && ev) rc = timeline_json(&b, ev);
    if (!rc && tr) rc = fa_buf_puts(&b, ",\"tracking\":");
    if (!rc && tr) rc = timeline_json(&b, tr);
    if (!rc) rc = fa_buf_putc(&b, '}');
    if (!rc) rc = fa_aggregates_doc(m->out, "possession_timeline", b.data);
    fa_buf_free(&b);
    return rc;
}

static int put_shares(mctx *m, const fa_possession *p, const char *name) {
    int rc = put(m, FA_SIDE_HOME, "", name, p->share[0]);
    return rc ? rc : put(m, FA_SIDE_AWAY, "", name, p->share[1]);
}

/* Whether the tracking has any ball sample: possession by proximity needs
 * the ball, and tracking without it (analysed video where the ball was
 * never seen) still gives every physical metric. */
static int tracking_has_ball(const fa_tracking *tr) {
    for (size_t k = 0; k < tr->ntracks; k++)
        if (strcmp(tr->tracks[k].id, FA_BALL_ID) == 0 && tr->tracks[k].n > 0) return 1;
    return 0;
}

static int emit_possession(mctx *m) {
    const fa_collector *col = m->col;
    fa_possession ev, tr;
    memset(&ev, 0, sizeof ev);
    memset(&tr, 0, sizeof tr);
    int rc = 0, have_ev = col->nevents > 0, have_tr = col->has_tracking && tracking_has_ball(&col->tracking);
    if (have_ev) rc = fa_possession_from_events(col->events, col->nevents, m->c, &ev);
    if (!rc && have_tr) rc = fa_possession_from_tracking(&col->tracking, m->c, &tr);
    if (!rc && (have_ev || have_tr)) rc = put_shares(m, have_ev ? &ev : &tr, "possession_share");
    if (!rc && have_tr) rc = put_shares(m, &tr, "possession_share_tracking");
    if (!rc && (have_ev || have_tr)) rc = possession_doc(m, have_ev ? &ev : NULL, have_tr ? &tr : NULL);
    if (!rc && have_ev) fa_strlcpy_utf8(m->poss_method[0], ev.method, sizeof m->poss_method[0]);
    if (!rc && have_tr) fa_strlcpy_utf8(m->poss_method[1], tr.method, sizeof m->poss_method[1]);
    fa_possession_free(&ev);
    fa_possession_free(&tr);
    return rc;
}

/* ------------------------------------------------------------ pass networks */

static int network_json(mctx *m, const fa_pass_network *net, fa_buf *b) {
    int rc = fa_buf_puts(b, "{\"side\":");
    if (!rc) rc = fa_json_write_str(b, fa_side_name(net->side));
    if (!rc) rc = fa_buf_printf(b, ",\"until_period\":%d,\"until_t\":", net->until_period);
    if (!rc) rc = fa_json_write_num(b, net->until_t);
    if (!rc) rc = fa_buf_puts(b, ",\"nodes\":[");
    for (size_t i = 0; i < net->nnodes && !rc; i++) {
        const fa_pass_node *n = &net->nodes[i];
        const fa_player *p = player_of(m->col, n->id);
        rc = fa_buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
        if (!rc) rc = fa_json_write_str(b, n->id);
        if (!rc) rc = fa_buf_puts(b, ",\"name\":");
        if (!rc) rc = fa_json_write_str(b, p ? p->name : "");
        if (!rc) rc = fa_buf_puts(b, ",\"x\":");
        if (!rc) rc = fa_json_write_num(b, n->x);
        if (!rc) rc = fa_buf_puts(b, ",\"y\":");
        if (!rc) rc = fa_json_write_num(b, n->y);
        if (!rc) rc = fa_buf_printf(b, ",\"passes\":%d}", n->passes);
    }
    if (!rc) rc = fa_buf_puts(b, "],\"edges\":[");
    for (size_t i = 0; i < net->nedges && !rc; i++)
        rc = fa_buf_printf(b, "%s{\"from\":%zu,\"to\":%zu,\"count\":%d}", i ? "," : "", net->edges[i].from,
                           net->edges[i].to, net->edges[i].count);
    if (!rc) rc = fa_buf_puts(b, "]}");
    return rc;
}

static int emit_pass_networks(mctx *m) {
    static const char *const names[2] = {"pass_network_home", "pass_network_away"};
    if (m->col->nevents == 0) return 0;
    int rc = 0;
    for (int s = 0; s < 2 && !rc; s++) {
        fa_pass_network net;
        fa_buf b = {0};
        memset(&net, 0, sizeof net);
        rc = fa_pass_network_compute(m->col->events, m->col->nevents, (fa_side)s, &net);
        if (!rc) rc = network_json(m, &net, &b);
        if (!rc) rc = fa_aggregates_doc(m->out, names[s], b.data);
        fa_pass_network_free(&net);
        fa_buf_free(&b);
    }
    return rc;
}

/* ------------------------------------------------------------ tracking */

/* One tracked object's kinematics per period (k[0..n)), freed together. */
typedef struct object_kin {
    fa_kinematics k[MATCH_MAX_PERIODS];
    const fa_kinematics *ptr[MATCH_MAX_PERIODS];
    const fa_track *tracks[MATCH_MAX_PERIODS];
    size_t n;
} object_kin;

static void object_kin_free(object_kin *o) {
    for (size_t i = 0; i < o->n; i++) fa_kinematics_free(&o->k[i]);
    o->n = 0;
}

static int object_kin_compute(mctx *m, const char *id, int is_ball, object_kin *o) {
    memset(o, 0, sizeof *o);
    for (int period = 1; period <= MATCH_MAX_PERIODS; period++) {
        const fa_track *tr = fa_tracking_find(&m->col->tracking, id, period);
        if (!tr || tr->n == 0) continue;
        int rc = fa_kinematics_compute(tr, m->rate, is_ball, m->c, &o->k[o->n]);
        if (rc) {
            object_kin_free(o);
            return fa_err_prefix("'%s', period %d", id, period);
        }
        o->tracks[o->n] = tr;
        o->ptr[o->n] = &o->k[o->n];
        o->n++;
    }
    return 0;
}

/* Minutes on the pitch in the tracking: first to last sample per period. */
static double presence_minutes(const object_kin *o, double rate) {
    double s = 0;
    for (size_t i = 0; i < o->n; i++) {
        const fa_track *tr = o->tracks[i];
        s += tr->t[tr->n - 1] - tr->t[0] + 1.0 / rate;
    }
    return s / 60.0;
}

/* A count or distance, and its per-90 rate ("distance_m" -> "distance_per90_m",
 * "sprints" -> "sprints_per90") when the minutes are enough for a rate to
 * mean something (per90_min_minutes); otherwise the rate is absent. */
static int put_counted(mctx *m, fa_side s, const char *id, const char *name, double value, double minutes) {
    int rc = put(m, s, id, name, value);
    if (rc || !(minutes > 0) || minutes < m->c->per90_min_minutes) return rc;
    char rate[sizeof(((fa_metric *)0)->name)];
    size_t n = strlen(name), unit = n > 2 && strcmp(name + n - 2, "_m") == 0 ? 2 : 0;
    if (n - unit + 6 + unit >= sizeof rate) /* "_per90" and the unit must fit a metric name */
        return fa_err_set(FA_EINVAL, "metric name '%s' too long for its per-90 rate", name);
    memcpy(rate, name, n - unit);
    memcpy(rate + n - unit, "_per90", 6);
    memcpy(rate + n - unit + 6, name + n - unit, unit);
    rate[n + 6] = '\0';
    return put(m, s, id, rate, fa_per90(value, minutes));
}

static int put_bands(mctx *m, fa_side s, const char *id, const fa_physical *p, double minutes) {
    char name[64];
    int rc = 0;
    for (int i = 0; i < m->c->nbands && i < FA_MAX_BANDS && !rc; i++) {
        snprintf(name, sizeof name, "band_%s_m", m->c->bands[i].name);
        rc = put_counted(m, s, id, name, p->band_distance[i], minutes);
    }
    for (int i = 0; i < m->c->nrel_bands && i < FA_MAX_BANDS && !rc; i++) {
        snprintf(name, sizeof name, "relband_%s_m", m->c->rel_bands[i].name);
        rc = put(m, s, id, name, p->rel_band_distance[i]);
    }
    return rc;
}

static int put_physical(mctx *m, fa_side s, const char *id, const fa_physical *p, double minutes) {
    int rc = put_counted(m, s, id, "distance_m", p->distance, minutes);
    if (!rc) rc = put_bands(m, s, id, p, minutes);
    if (!rc) rc = put_counted(m, s, id, "sprints", p->sprints, minutes);
    if (!rc) rc = put_counted(m, s, id, "sprint_distance_m", p->sprint_distance, minutes);
    if (!rc) rc = put_counted(m, s, id, "hsr_runs", p->hsr_runs, minutes);
    if (!rc) rc = put_counted(m, s, id, "hsr_distance_m", p->hsr_distance, minutes);
    if (!rc) rc = put_counted(m, s, id, "accelerations", p->accelerations, minutes);
    if (!rc) rc = put_counted(m, s, id, "decelerations", p->decelerations, minutes);
    if (!rc) rc = put(m, s, id, "peak_speed_ms", p->peak_speed);
    if (!rc) rc = put(m, s, id, "p99_speed_ms", p->p99_speed);
    if (!rc) rc = put(m, s, id, "outliers", (double)p->outliers);
    if (!rc) rc = put(m, s, id, "gap_s", p->gap_s);
    return rc;
}

/* Adds a player's figures to the team's sums (the additive ones). */
static void team_add(fa_physical *t, const fa_physical *p, int nbands, int nrel) {
    t->seconds += p->seconds;
    t->distance += p->distance;
    for (int i = 0; i < nbands && i < FA_MAX_BANDS; i++) t->band_distance[i] += p->band_distance[i];
    for (int i = 0; i < nrel && i < FA_MAX_BANDS; i++) t->rel_band_distance[i] += p->rel_band_distance[i];
    t->sprints += p->sprints;
    t->sprint_distance += p->sprint_distance;
    t->hsr_runs += p->hsr_runs;
    t->hsr_distance += p->hsr_distance;
    t->accelerations += p->accelerations;
    t->decelerations += p->decelerations;
}

/* Mean of the finite speeds from sample *j on that fall in bucket (of
 * SPEED_STEP_S seconds); advances *j past them. NAN when there are none. */
static double bucket_mean(const fa_kinematics *k, size_t *j, long bucket) {
    double sum = 0;
    int cnt = 0;
    for (; *j < k->n && floor(k->t[*j] / SPEED_STEP_S) <= (double)bucket; (*j)++) {
        if (!isfinite(k->v[*j])) continue;
        sum += k->v[*j];
        cnt++;
    }
    return cnt ? sum / cnt : NAN;
}

/* One period of a speed profile: {"period", "t0", "v": [mean per bucket]}. */
static int profile_period(fa_buf *b, const fa_kinematics *k, int period) {
    long first = (long)floor(k->t[0] / SPEED_STEP_S), last = (long)floor(k->t[k->n - 1] / SPEED_STEP_S);
    int rc = fa_buf_printf(b, "{\"period\":%d,\"t0\":%g,\"v\":[", period, (double)first * SPEED_STEP_S);
    size_t j = 0;
    for (long bucket = first; bucket <= last && !rc; bucket++) {
        double v = bucket_mean(k, &j, bucket);
        if (bucket > first) rc = fa_buf_putc(b, ',');
        if (!rc) rc = isnan(v) ? fa_buf_puts(b, "null") : fa_buf_printf(b, "%.2f", v);
    }
    return rc ? rc : fa_buf_puts(b, "]}");
}

/* The player's speed series, the mean of each SPEED_STEP_S bucket per period. */
static int profile_json(mctx *m, const char *id, fa_side side, const object_kin *o) {
    fa_buf *b = &m->profile;
    int rc = fa_buf_puts(b, m->nprofiles++ ? ",{\"id\":" : "{\"id\":");
    if (!rc) rc = fa_json_write_str(b, id);
    if (!rc) rc = fa_buf_puts(b, ",\"side\":");
    if (!rc) rc = fa_json_write_str(b, fa_side_name(side));
    if (!rc) rc = fa_buf_puts(b, ",\"periods\":[");
    int written = 0;
    for (size_t i = 0; i < o->n && !rc; i++) {
        if (o->k[i].n == 0) continue;
        if (written++) rc = fa_buf_putc(b, ',');
        if (!rc) rc = profile_period(b, &o->k[i], o->tracks[i]->period);
    }
    if (!rc) rc = fa_buf_puts(b, "]}");
    return rc;
}

/* The player's heatmap as a grid, added to the team's sum. */
static int player_heatmap(mctx *m, const char *id, fa_side side, const object_kin *o) {
    fa_heatmap h;
    int rc = fa_heatmap_init(&h, m->c->heat_nx, m->c->heat_ny);
    for (size_t i = 0; i < o->n && !rc; i++)
        rc = fa_heatmap_add_track(&h, &m->pitch, o->tracks[i], side, 1.0 / m->rate);
    if (!rc) rc = fa_heatmap_smooth(&h, m->c->heat_sigma_cells);
    if (!rc) rc = fa_aggregates_grid(m->out, side, id, "heatmap", h.nx, h.ny, h.cells);
    size_t cells = (size_t)h.nx * (size_t)h.ny;
    if (!rc && side >= 0 && !m->team_heat[side] && !(m->team_heat[side] = fa_calloc(cells, sizeof(double))))
        rc = FA_ENOMEM;
    for (size_t i = 0; !rc && side >= 0 && i < cells; i++) m->team_heat[side][i] += h.cells[i];
    fa_heatmap_free(&h);
    return rc;
}

static int emit_player_physical(mctx *m, const char *id, fa_side side) {
    object_kin o;
    fa_physical p;
    memset(&p, 0, sizeof p);
    int rc = object_kin_compute(m, id, 0, &o);
    if (rc || o.n == 0) return rc;
    const fa_player *pl = player_of(m->col, id);
    double minutes = pl && isfinite(pl->minutes) ? pl->minutes : presence_minutes(&o, m->rate);
    if (!pl || !isfinite(pl->minutes)) rc = put(m, side, id, "minutes", minutes);
    if (!rc) rc = fa_physical_compute(o.ptr, o.n, m->c, &p);
    if (!rc) rc = put_physical(m, side, id, &p, minutes);
    if (!rc) rc = player_heatmap(m, id, side, &o);
    if (!rc) rc = profile_json(m, id, side, &o);
    if (!rc && side >= 0) {
        team_add(&m->team_phys[side], &p, m->c->nbands, m->c->nrel_bands);
        m->team_tracked[side] = 1;
    }
    object_kin_free(&o);
    return rc;
}

static int emit_ball(mctx *m) {
    object_kin o;
    fa_physical p;
    memset(&p, 0, sizeof p);
    int rc = object_kin_compute(m, FA_BALL_ID, 1, &o);
    if (rc || o.n == 0) return rc;
    rc = fa_physical_compute(o.ptr, o.n, m->c, &p);
    if (!rc) rc = put(m, FA_SIDE_NONE, "", "ball_tracked_s", p.seconds);
    if (!rc) rc = put(m, FA_SIDE_NONE, "", "ball_distance_m", p.distance);
    if (!rc) rc = put(m, FA_SIDE_NONE, "", "ball_peak_speed_ms", p.peak_speed);
    if (!rc) rc = put(m, FA_SIDE_NONE, "", "ball_p99_speed_ms", p.p99_speed);
    if (!rc) rc = put(m, FA_SIDE_NONE, "", "ball_outliers", (double)p.outliers);
    if (!rc) rc = put(m, FA_SIDE_NONE, "", "ball_gap_s", p.gap_s);
    object_kin_free(&o);
    return rc;
}

static int emit_team_physical(mctx *m) {
    int rc = 0;
    for (int s = 0; s < 2 && !rc; s++) {
        if (!m->team_tracked[s]) continue;
        const fa_physical *p = &m->team_phys[s];
        rc = put(m, (fa_side)s, "", "distance_m", p->distance);
        if (!rc) rc = put_bands(m, (fa_side)s, "", p, NAN); /* team totals: no per-90 rates */
        if (!rc) rc = put(m, (fa_side)s, "", "sprints", p->sprints);
        if (!rc) rc = put(m, (fa_side)s, "", "sprint_distance_m", p->sprint_distance);
        if (!rc) rc = put(m, (fa_side)s, "", "hsr_runs", p->hsr_runs);
        if (!rc) rc = put(m, (fa_side)s, "", "hsr_distance_m", p->hsr_distance);
        if (!rc) rc = put(m, (fa_side)s, "", "accelerations", p->accelerations);
        if (!rc) rc = put(m, (fa_side)s, "", "decelerations", p->decelerations);
        if (!rc && m->team_heat[s])
            rc = fa_aggregates_grid(m->out, (fa_side)s, "", "heatmap", m->c->heat_nx, m->c->heat_ny,
                                    m->team_heat[s]);
    }
    return rc;
}

/* The side of a tracked player: the track's, else the lineup's. */
static fa_side tracked_side(const fa_collector *col, const fa_track *tr) {
    if (tr->side != FA_SIDE_NONE) return tr->side;
    const fa_player *p = player_of(col, tr->id);
    return p ? p->side : FA_SIDE_NONE;
}

/* Every tracked player once (in order of first appearance), then the ball. */
static int emit_tracking(mctx *m) {
    const fa_tracking *tr = &m->col->tracking;
    if (!m->col->has_tracking) return 0;
    int rc = fa_buf_printf(&m->profile, "{\"step_s\":%g,\"unit\":\"m/s\",\"players\":[", SPEED_STEP_S);
    for (size_t i = 0; i < tr->ntracks && !rc; i++) {
        const fa_track *t = &tr->tracks[i];
        size_t j = 0;
        while (j < i && strcmp(tr->tracks[j].id, t->id) != 0) j++;
        if (j < i || strcmp(t->id, FA_BALL_ID) == 0) continue;
        rc = emit_player_physical(m, t->id, tracked_side(m->col, t));
    }
    if (!rc) rc = emit_team_physical(m);
    if (!rc) rc = emit_ball(m);
    if (!rc) rc = fa_buf_puts(&m->profile, "]}");
    if (!rc) rc = fa_aggregates_doc(m->out, "speed_profile", m->profile.data);
    return rc;
}

/* ------------------------------------------------------------ definitions */

static const char *const conventions[][2] = {
    {"minutes", "the provider's minutes played when known, else first to last tracking sample per period "
                "plus one frame"},
    {"per90", "value * 90 / minutes, for every count and distance; absent below per90_min_minutes"},
    {"heatmap", "seconds per cell, cell (i, j) = cells[j * nx + i] from x = -length/2, y = -width/2, "
                "oriented so the side attacks +x; a team's is the sum of its players'"},
    {"speed_profile", "mean smoothed speed (m/s) per step_s bucket of each period; null: no sample"},
    {"pass_network", "completed passes between players until the side's first substitution; node x, y: "
                     "mean event position, attacking +x"},
    {"absent", "a metric that does not apply (no tracking, no provider xG, no events) is absent, not 0"},
};

static int definitions_doc(mctx *m) {
    fa_buf b = {0};
    int rc = fa_buf_puts(&b, "{\"config\":");
    if (!rc) rc = fa_analytics_config_json(m->c, &b);
    if (!rc && m->tactical_def[0]) rc = fa_buf_puts(&b, ",\"tactical\":");
    if (!rc && m->tactical_def[0]) rc = fa_json_write_str(&b, m->tactical_def);
    if (!rc) rc = fa_buf_puts(&b, ",\"possession\":{");
    if (!rc && m->poss_method[0][0]) rc = json_key(&b, "events");
    if (!rc && m->poss_method[0][0]) rc = fa_json_write_str(&b, m->poss_method[0]);
    if (!rc && m->poss_method[1][0])
        rc = fa_buf_puts(&b, m->poss_method[0][0] ? ",\"tracking\":" : "\"tracking\":");
    if (!rc && m->poss_method[1][0]) rc = fa_json_write_str(&b, m->poss_method[1]);
    if (!rc) rc = fa_buf_puts(&b, "},\"aggregates\":{");
    for (size_t i = 0; i < sizeof conventions / sizeof *conventions && !rc; i++) {
        rc = fa_buf_puts(&b, i ? "," : "");
        if (!rc) rc = json_key(&b, conventions[i][0]);
        if (!rc) rc = fa_json_write_str(&b, conventions[i][1]);
    }
    if (!rc) rc = fa_buf_puts(&b, "}}");
    if (!rc) rc = fa_aggregates_doc(m->out, "definitions", b.data);
    fa_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------ the match */

/* Contract: col holds a collected match (players, events in match order,
 * tracking when has_tracking); c a valid configuration. Appends every
 * aggregate to out (which may already hold some). Returns 0 or a negative
 * FA_E* code with the message set; on error out may hold part of the
 * aggregates, so the caller frees it either way. A collector whose
 * tracking failed (tracking_error) is refused. */
/* 1 when the tracking holds at least one sample of player id. */
static int has_frames(const fa_tracking *tr, const char *id) {
    for (size_t i = 0; i < tr->ntracks; i++)
        if (strcmp(tr->tracks[i].id, id) == 0 && tr->tracks[i].n > 0) return 1;
    return 0;
}

/* The "data_quality" document: what the tracking lacked or what was dropped
 * from it, so that no figure is silently computed on less than it seems. */
static int data_quality_doc(mctx *m) {
    const fa_collector *col = m->col;
    if (!col->has_tracking) return 0;
    fa_buf b = {0};
    fa_buf_printf(&b, "{\"frames\":%zu,\"frame_rate\":", col->tracking.nframes);
    fa_json_write_num(&b, m->rate);
    fa_buf_printf(&b, ",\"rejected_samples\":%zu,\"rejected_rule\":", col->tracking.rejected);
    fa_json_write_str(&b, "non-finite coordinates or beyond 1.5 x the pitch half-extents: dropped, not used");
    fa_buf_puts(&b, ",\"players_without_frames\":[");
    size_t n = 0;
    for (size_t i = 0; i < col->nplayers; i++) {
        if (has_frames(&col->tracking, col->players[i].id)) continue;
        if (n++) fa_buf_putc(&b, ',');
        fa_json_write_str(&b, col->players[i].id);
    }
    int rc = fa_buf_puts(&b, "]}");
    if (!rc) rc = fa_aggregates_doc(m->out, "data_quality", b.data);
    fa_buf_free(&b);
    return rc;
}

int fa_analyze_match(const fa_collector *col, const fa_analytics_config *c, fa_aggregates *out) {
    if (!col || !c || !out) return fa_err_set(FA_EINVAL, "analytics: analyze match: NULL argument");
    if (col->tracking_error)
        return fa_err_set(FA_EINVAL, "analytics: the match's tracking was refused: %s",
                          col->tracking_error_msg);
    mctx m;
    memset(&m, 0, sizeof m);
    m.col = col;
    m.c = c;
    m.out = out;
    m.pitch = col->match.pitch;
    if (!valid_pitch(&m.pitch)) m.pitch = (fa_pitch){FA_PITCH_DEFAULT_LENGTH, FA_PITCH_DEFAULT_WIDTH};
    m.rate = col->match.frame_rate > 0 ? col->match.frame_rate : col->tracking.frame_rate;
    if (col->has_tracking && !(m.rate > 0))
        return fa_err_set(FA_EINVAL, "analytics: tracking without a frame rate");
    int rc = emit_tactical(&m);
    if (!rc) rc = emit_possession(&m);
    if (!rc) rc = emit_known_minutes(&m);
    if (!rc) rc = emit_tracking(&m);
    if (!rc) rc = emit_pass_networks(&m);
    if (!rc) rc = definitions_doc(&m);
    if (!rc) rc = data_quality_doc(&m);
    if (rc) fa_err_prefix("analytics");
    fa_buf_free(&m.profile);
    free(m.team_heat[0]);
    free(m.team_heat[1]);
    return rc;
}
