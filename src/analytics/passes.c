/*
 * passes.c - the tactical figures of one match from its events: passes
 * (attempted, completed, progressive, into the final third), shots, goals and
 * the provider's xG, the expected threat (xT) that passes and carries added,
 * pass strings, per team and per player; and each team's pass network.
 *
 * Why it is built this way:
 *
 *   - The provider's own counts are the reference. A pass is an event of
 *     kind FA_EV_PASS and it is complete when the provider says so
 *     (success == 1); shots are FA_EV_SHOT events and xG is the provider's
 *     figure summed. So StatsBomb and Metrica give back their own numbers
 *     (data/reference/event_reference_values.txt). Note what that means per
 *     provider: Metrica's PASS rows are completed passes only (its failed
 *     passes are BALL LOST rows), so Metrica's attempted = completed.
 *
 *   - Published definitions, stated in `definitions`:
 *       progressive pass (Wyscout's glossary): a completed pass that brings
 *       the ball at least 30 m closer to the centre of the opponent's goal
 *       when it starts and ends in the team's own half, 15 m when it goes
 *       from one half into the other, 10 m when both ends are in the
 *       opponent's half;
 *       final-third pass: a completed pass that ends in the attacking third
 *       (beyond two thirds of the pitch length) and starts outside it;
 *       xT added: xT(end) - xT(start) on the configured grid (xt.c), summed
 *       over completed passes and carries that did not fail, so it can be
 *       negative;
 *       pass string: a run of at least pass_string_min completed passes by
 *       one team, ended by an incomplete pass, a shot or a lost ball of that
 *       team, any touch of the ball by the other team (a pass, carry,
 *       receipt, dribble, shot, recovery, interception, clearance, block,
 *       goalkeeper action or won duel; a pressure is no touch), a dead ball
 *       (ball out, foul, card, substitution, goal, period end) or a new
 *       period. longest_string is the longest run of any length.
 *     Directions come from fa_attack_dir: every point is turned into the
 *     frame of the team in action attacking +x before it is judged.
 *
 *   - The penalty shoot-out (period 5) is not match play: its kicks are
 *     neither shots nor passes here. Own goals are not shots and not goals of
 *     the benefitting team's shooters (a team's goals here are goals from
 *     shots, as the reference counts them).
 *
 *   - Pass network (after the usual published practice): a window from the
 *     start to the side's first substitution (the whole match when there is
 *     none, as with Metrica, whose event files record no substitutions), so
 *     the nodes are the players who were on the pitch together. Nodes are the
 *     players who made or received a completed pass in the window; a node's
 *     position is the mean location of its on-ball events there (passes,
 *     carries, receipts, shots, dribbles, recoveries, interceptions,
 *     clearances, blocks, duels, goalkeeper actions), in the side's attacking
 *     frame; a node with no located on-ball event takes the mean end of the
 *     passes it received, and NAN when even those are missing. Edges count
 *     completed passes passer -> recipient (passes without a recipient, as
 *     in Wyscout, count for the passer's node only).
 *
 * Bad input (periods outside 1..5 or going back, unknown sides, an unknown
 * xT grid, a broken pitch or pass_string_min < 1) is FA_EINVAL with a
 * message. Events with a missing location count where the location is not
 * needed (attempts, completions) and are left out where it is (progressive,
 * final third, xT), never taken as zero.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analytics/analytics.h"

#define PASS_PERIODS 4 /* match play: periods 1..4 (5 is a shoot-out) */

/* ------------------------------------------------------------ geometry */

/* A point turned into the frame of `side` attacking +x in `period`. */
typedef struct att_point {
    double x, y;
} att_point;

static att_point attacking(fa_side side, int period, double x, double y) {
    int dir = fa_attack_dir(side, period);
    att_point a = {dir * x, dir * y};
    return a;
}

static int located(double x, double y) { return isfinite(x) && isfinite(y); }

/* Minimum gain towards the opponent's goal for a progressive pass (Wyscout). */
static double progressive_threshold(double from_x, double to_x) {
    if (from_x < 0 && to_x < 0) return 30.0;
    if (from_x >= 0 && to_x >= 0) return 10.0;
    return 15.0;
}

static int is_progressive(const fa_pitch *p, att_point from, att_point to) {
    double gx = p->length / 2;
    double d_from = hypot(gx - from.x, from.y), d_to = hypot(gx - to.x, to.y);
    return d_from - d_to >= progressive_threshold(from.x, to.x);
}

static int is_final_third_entry(const fa_pitch *p, att_point from, att_point to) {
    double line = p->length / 2 - p->length / 3;
    return from.x <= line && to.x > line;
}

/* ------------------------------------------------------------ validation */

static int check_events(const fa_event *ev, size_t n, const char *what) {
    if (!ev && n) return fa_err_set(FA_EINVAL, "%s: %zu events but no array", what, n);
    int last = 0;
    for (size_t i = 0; i < n; i++) {
        const fa_event *e = &ev[i];
        if (e->period < 1 || e->period > 5)
            return fa_err_set(FA_EINVAL, "%s: event %zu (seq %lld): period %d outside 1..5", what, i,
                              (long long)e->seq, e->period);
        if (e->period < last)
            return fa_err_set(FA_EINVAL,
                              "%s: event %zu (seq %lld): period %d after period %d "
                              "(events must be in match order)",
                              what, i, (long long)e->seq, e->period, last);
        if (e->side != FA_SIDE_NONE && e->side != FA_SIDE_HOME && e->side != FA_SIDE_AWAY)
            return fa_err_set(FA_EINVAL, "%s: event %zu (seq %lld): side %d is not home, away or none", what,
                              i, (long long)e->seq, (int)e->side);
        last = e->period;
    }
    return 0;
}

static int check_pitch(const fa_pitch *p, const char *what) {
    if (!p) return fa_err_set(FA_EINVAL, "%s: no pitch given", what);
    if (!isfinite(p->length) || !isfinite(p->width) || p->length <= 0 || p->width <= 0)
        return fa_err_set(FA_EINVAL, "%s: pitch %g x %g m is not a pitch", what, p->length, p->width);
    return 0;
}

static int in_play(const fa_event *e) {
    return e->period <= PASS_PERIODS && (e->side == FA_SIDE_HOME || e->side == FA_SIDE_AWAY);
}

/* ------------------------------------------------------------ what an event is */

static int type_is(const fa_event *e, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(e->type, names[i]) == 0) return 1;
    return 0;
}

/* The team lost the ball on this event: a provider type of kind OTHER. */
static int lost_ball(const fa_event *e) {
    static const char *const lost[] = {"BALL LOST", "Miscontrol", "Dispossessed"};
    return e->kind == FA_EV_OTHER && type_is(e, lost, sizeof lost / sizeof lost[0]);
}

/* The event's team touched the ball (for pass strings: the other team's touch ends a string). */
static int touches_ball(const fa_event *e) {
    switch (e->kind) {
    case FA_EV_PASS:
    case FA_EV_SHOT:
    case FA_EV_CARRY:
    case FA_EV_RECEIPT:
    case FA_EV_DRIBBLE:
    case FA_EV_RECOVERY:
    case FA_EV_INTERCEPTION:
    case FA_EV_CLEARANCE:
    case FA_EV_BLOCK:
    case FA_EV_GOALKEEPER:
    case FA_EV_SET_PIECE: return 1;
    case FA_EV_DUEL: return e->success == 1;
    default: return 0;
    }
}

/* On-ball events that locate a player for the pass network. */
static int locates_player(const fa_event *e) {
    return touches_ball(e) || e->kind == FA_EV_DUEL || lost_ball(e);
}

/* On target: a goal, a save (StatsBomb "Saved", "Saved To Post"), or a
 * Metrica subtype with the token ON TARGET. */
static int on_target(const fa_event *e) {
    static const char *const saved[] = {"Goal", "Saved", "Saved To Post", "SAVED"};
    if (e->goal == 1) return 1;
    for (size_t i = 0; i < sizeof saved / sizeof saved[0]; i++)
        if (strcasecmp(e->outcome, saved[i]) == 0) return 1;
    const char *on = strcasestr(e->subtype, "ON TARGET");
    return on && (on == e->subtype || on[-1] == '-');
}

/* ------------------------------------------------------------ per-player table */

static fa_player_tactical *player_of(fa_tactical *t, size_t *cap, const fa_event *e) {
    if (!e->player_id[0]) return NULL;
    for (size_t i = 0; i < t->nplayers; i++)
        if (t->players[i].side == e->side && strcmp(t->players[i].id, e->player_id) == 0)
            return &t->players[i];
    if (t->nplayers == *cap) {
        size_t cap2 = *cap ? *cap * 2 : 32;
        fa_player_tactical *p = fa_realloc(t->players, cap2 * sizeof *p);
        if (!p) return NULL;
        t->players = p;
        *cap = cap2;
    }
    fa_player_tactical *p = &t->players[t->nplayers++];
    memset(p, 0, sizeof *p);
    fa_strlcpy_utf8(p->id, e->player_id, sizeof p->id);
    p->side = e->side;
    return p;
}

/* ------------------------------------------------------------ counting */

typedef struct tact_ctx {
    const fa_pitch *pitch;
    fa_xt_grid grid;
    int string_min;
    fa_side string_side; /* the team whose string is running, FA_SIDE_NONE when none */
    int string_len;
    int string_period;
} tact_ctx;

/* xT added by moving the ball from (x, y) to (ex, ey); NAN when a point is missing. */
static double xt_added(const tact_ctx *x, const fa_event *e) {
    if (!located(e->x, e->y) || !located(e->end_x, e->end_y)) return NAN;
    att_point from = attacking(e->side, e->period, e->x, e->y);
    att_point to = attacking(e->side, e->period, e->end_x, e->end_y);
    return fa_xt_at(&x->grid, x->pitch, to.x, to.y) - fa_xt_at(&x->grid, x->pitch, from.x, from.y);
}

static void count_pass(const tact_ctx *x, const fa_event *e, fa_team_tactical *team, fa_player_tactical *pl) {
    team->passes++;
    if (pl) pl->passes++;
    if (e->success != 1) return;
    team->passes_completed++;
    if (pl) pl->passes_completed++;
    if (!located(e->x, e->y) || !located(e->end_x, e->end_y)) return;
    att_point from = attacking(e->side, e->period, e->x, e->y);
    att_point to = attacking(e->side, e->period, e->end_x, e->end_y);
    int prog = is_progressive(x->pitch, from, to), third = is_final_third_entry(x->pitch, from, to);
    double xt = xt_added(x, e);
    team->progressive_passes += prog;
    team->final_third_passes += third;
    team->xt += xt;
    if (!pl) return;
    pl->progressive_passes += prog;
    pl->final_third_passes += third;
    pl->xt += xt;
}

static void count_carry(const tact_ctx *x, const fa_event *e, fa_team_tactical *team,
                        fa_player_tactical *pl) {
    if (e->success == 0) return;
    double xt = xt_added(x, e);
    if (isnan(xt)) return;
    team->xt += xt;
    if (pl) pl->xt += xt;
}

static void count_shot(const fa_event *e, fa_team_tactical *team, fa_player_tactical *pl) {
    int goal = e->goal == 1;
    double xg = isfinite(e->xg) ? e->xg : 0;
    team->shots++;
    team->shots_on_target += on_target(e);
    team->goals += goal;
    team->xg += xg;
    if (!pl) return;
    pl->shots++;
    pl->goals += goal;
    pl->xg += xg;
}

/* ------------------------------------------------------------ pass strings */

static void string_close(tact_ctx *x, fa_tactical *t) {
    if (x->string_side != FA_SIDE_NONE) {
        fa_team_tactical *team = &t->team[x->string_side];
        if (x->string_len >= x->string_min) team->pass_strings++;
        if (x->string_len > team->longest_string) team->longest_string = x->string_len;
    }
    x->string_side = FA_SIDE_NONE;
    x->string_len = 0;
}

/* Advances the running string with one event (see the header for the rule). */
static void string_step(tact_ctx *x, fa_tactical *t, const fa_event *e) {
    if (e->period != x->string_period) string_close(x, t);
    x->string_period = e->period;
    if (e->kind == FA_EV_PASS && e->success == 1 && (e->side == FA_SIDE_HOME || e->side == FA_SIDE_AWAY)) {
        if (e->side != x->string_side) string_close(x, t);
        x->string_side = e->side;
        x->string_len++;
        return;
    }
    if (x->string_side == FA_SIDE_NONE) return;
    int own = e->side == x->string_side;
    int ends = fa_event_ends_play(e) || (own && (e->kind == FA_EV_PASS || e->kind == FA_EV_SHOT || lost_ball(e))) ||
               (!own && e->side != FA_SIDE_NONE && touches_ball(e));
    if (ends) string_close(x, t);
}

/* ------------------------------------------------------------ the whole table */

static void tactical_definitions(const tact_ctx *x, fa_tactical *t) {
    const char *grid = x->grid.nx == 12 ? "Karun Singh 12x8" : "16x12 (resampled Karun Singh 12x8)";
    snprintf(
        t->definitions, sizeof t->definitions,
        "periods 1-4; passes: provider pass events, completed = provider success; progressive (Wyscout): "
        "completed, >= 30 m nearer the goal centre in own half, 15 m across halves, 10 m in opponent "
        "half; final third: completed, ends beyond 2/3 of the length, starts before; shots, goals (no own "
        "goals), xG: provider's; xT: end - start of completed passes and carries, %s grid; pass string: "
        ">= %d completed passes of one team, no opponent touch, loss or dead ball",
        grid, x->string_min);
}

static int tactical_setup(const fa_event *ev, size_t n, const fa_pitch *p, const fa_analytics_config *c,
                          tact_ctx *x) {
    const char *what = "tactical figures";
    int rc = check_events(ev, n, what);
    if (!rc) rc = check_pitch(p, what);
    if (rc) return rc;
    if (!c) return fa_err_set(FA_EINVAL, "%s: no configuration given", what);
    if (c->pass_string_min < 1)
        return fa_err_set(FA_EINVAL, "%s: pass_string_min = %d: expected 1 or more passes", what,
                          c->pass_string_min);
    memset(x, 0, sizeof *x);
    x->pitch = p;
    x->string_min = c->pass_string_min;
    x->string_side = FA_SIDE_NONE;
    if ((rc = fa_xt_grid_get(c->xt_nx, c->xt_ny, &x->grid))) return fa_err_prefix("%s", what);
    return 0;
}

/* Contract: ev[0..n) in match order, p the match's pitch, c the
 * configuration (xT grid, pass_string_min). Fills out (free with
 * fa_tactical_free, also after an error): team[side] and one row per player
 * who performed an event, in order of first appearance. */
int fa_tactical_compute(const fa_event *ev, size_t n, const fa_pitch *p, const fa_analytics_config *c,
                        fa_tactical *out) {
    if (!out) return fa_err_set(FA_EINVAL, "tactical figures: no output given");
    memset(out, 0, sizeof *out);
    tact_ctx x;
    int rc = tactical_setup(ev, n, p, c, &x);
    if (rc) return rc;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        const fa_event *e = &ev[i];
        if (e->period > PASS_PERIODS) break;
        string_step(&x, out, e);
        if (!in_play(e)) continue;
        fa_player_tactical *pl = player_of(out, &cap, e);
        if (!pl && e->player_id[0]) {
            fa_tactical_free(out);
            return FA_ENOMEM;
        }
        fa_team_tactical *team = &out->team[e->side];
        if (e->kind == FA_EV_PASS) count_pass(&x, e, team, pl);
        if (e->kind == FA_EV_CARRY) count_carry(&x, e, team, pl);
        if (e->kind == FA_EV_SHOT) count_shot(e, team, pl);
    }
    string_close(&x, out);
    tactical_definitions(&x, out);
    return 0;
}

/* Contract: frees the player rows and leaves t empty; t may be NULL. */
void fa_tactical_free(fa_tactical *t) {
    if (!t) return;
    free(t->players);
    t->players = NULL;
    t->nplayers = 0;
}

/* ------------------------------------------------------------ pass network */

typedef struct net_acc {
    fa_pass_network *net;
    size_t cap_nodes, cap_edges;
    double *sum; /* per node: x, y sums of on-ball events, then of received pass ends */
    int *count;  /* per node: located on-ball events, located received ends */
} net_acc;

/* Index of the node for id, added when absent; -1 on no memory. */
static long net_node(net_acc *a, const char *id) {
    fa_pass_network *net = a->net;
    for (size_t i = 0; i < net->nnodes; i++)
        if (strcmp(net->nodes[i].id, id) == 0) return (long)i;
    if (net->nnodes == a->cap_nodes) {
        size_t cap2 = a->cap_nodes ? a->cap_nodes * 2 : 16;
        fa_pass_node *nodes = fa_realloc(net->nodes, cap2 * sizeof *nodes);
        if (!nodes) return -1;
        net->nodes = nodes;
        double *sum = fa_realloc(a->sum, cap2 * 4 * sizeof *sum);
        if (!sum) return -1;
        a->sum = sum;
        int *count = fa_realloc(a->count, cap2 * 2 * sizeof *count);
        if (!count) return -1;
        a->count = count;
        a->cap_nodes = cap2;
    }
    size_t i = net->nnodes++;
    memset(&net->nodes[i], 0, sizeof net->nodes[i]);
    fa_strlcpy_utf8(net->nodes[i].id, id, sizeof net->nodes[i].id);
    memset(&a->sum[4 * i], 0, 4 * sizeof *a->sum);
    a->count[2 * i] = a->count[2 * i + 1] = 0;
    return (long)i;
}

static int net_edge(net_acc *a, size_t from, size_t to) {
    fa_pass_network *net = a->net;
    for (size_t i = 0; i < net->nedges; i++)
        if (net->edges[i].from == from && net->edges[i].to == to) return net->edges[i].count++, 0;
    if (net->nedges == a->cap_edges) {
        size_t cap2 = a->cap_edges ? a->cap_edges * 2 : 64;
        fa_pass_edge *edges = fa_realloc(net->edges, cap2 * sizeof *edges);
        if (!edges) return FA_ENOMEM;
        net->edges = edges;
        a->cap_edges = cap2;
    }
    fa_pass_edge *edge = &net->edges[net->nedges++];
    edge->from = from;
    edge->to = to;
    edge->count = 1;
    return 0;
}

/* Index one past the last event of the window (the side's first substitution, or the end of period 4). */
static size_t net_window_end(const fa_event *ev, size_t n, fa_side side, fa_pass_network *net) {
    size_t end = 0;
    for (size_t i = 0; i < n && ev[i].period <= PASS_PERIODS; i++) {
        if (ev[i].kind == FA_EV_SUBSTITUTION && ev[i].side == side) {
            net->until_period = ev[i].period;
            net->until_t = ev[i].t;
            return i;
        }
        net->until_period = ev[i].period;
        net->until_t = ev[i].t;
        end = i + 1;
    }
    return end;
}

/* Nodes and edges from the completed passes of the window. */
static int net_passes(net_acc *a, const fa_event *ev, size_t end, fa_side side) {
    for (size_t i = 0; i < end; i++) {
        const fa_event *e = &ev[i];
        if (e->kind != FA_EV_PASS || e->side != side || e->success != 1 || !e->player_id[0]) continue;
        long from = net_node(a, e->player_id);
        if (from < 0) return FA_ENOMEM;
        a->net->nodes[from].passes++;
        if (!e->recipient_id[0]) continue;
        long to = net_node(a, e->recipient_id);
        if (to < 0 || net_edge(a, (size_t)from, (size_t)to)) return FA_ENOMEM;
        if (!located(e->end_x, e->end_y)) continue;
        att_point end_pt = attacking(side, e->period, e->end_x, e->end_y);
        a->sum[4 * to + 2] += end_pt.x;
        a->sum[4 * to + 3] += end_pt.y;
        a->count[2 * to + 1]++;
    }
    return 0;
}

/* Node positions: the mean of each node's located on-ball events in the window. */
static void net_positions(net_acc *a, const fa_event *ev, size_t end, fa_side side) {
    fa_pass_network *net = a->net;
    for (size_t i = 0; i < end; i++) {
        const fa_event *e = &ev[i];
        if (e->side != side || !e->player_id[0] || !locates_player(e) || !located(e->x, e->y)) continue;
        for (size_t k = 0; k < net->nnodes; k++) {
            if (strcmp(net->nodes[k].id, e->player_id) != 0) continue;
            att_point pt = attacking(side, e->period, e->x, e->y);
            a->sum[4 * k] += pt.x;
            a->sum[4 * k + 1] += pt.y;
            a->count[2 * k]++;
            break;
        }
    }
    for (size_t k = 0; k < net->nnodes; k++) {
        int own = a->count[2 * k] > 0, got = a->count[2 * k + 1] > 0;
        double nx = own ? a->sum[4 * k] : a->sum[4 * k + 2], ny = own ? a->sum[4 * k + 1] : a->sum[4 * k + 3];
        int cnt = own ? a->count[2 * k] : a->count[2 * k + 1];
        net->nodes[k].x = own || got ? nx / cnt : NAN;
        net->nodes[k].y = own || got ? ny / cnt : NAN;
    }
}

/* Contract: ev[0..n) in match order; side HOME or AWAY. Fills out (free with
 * fa_pass_network_free, also after an error) with the side's network up to
 * its first substitution; until_period / until_t name that substitution, or
 * the last event of period 4 and earlier when there is none (0 / 0 for no
 * events). */
int fa_pass_network_compute(const fa_event *ev, size_t n, fa_side side, fa_pass_network *out) {
    if (!out) return fa_err_set(FA_EINVAL, "pass network: no output given");
    memset(out, 0, sizeof *out);
    out->side = side;
    if (side != FA_SIDE_HOME && side != FA_SIDE_AWAY)
        return fa_err_set(FA_EINVAL, "pass network: side %d is not home or away", (int)side);
    int rc = check_events(ev, n, "pass network");
    if (rc) return rc;
    net_acc a = {.net = out};
    size_t end = net_window_end(ev, n, side, out);
    rc = net_passes(&a, ev, end, side);
    if (!rc) net_positions(&a, ev, end, side);
    free(a.sum);
    free(a.count);
    if (rc) fa_pass_network_free(out);
    return rc;
}

/* Contract: frees nodes and edges and leaves net empty; net may be NULL. */
void fa_pass_network_free(fa_pass_network *net) {
    if (!net) return;
    free(net->nodes);
    free(net->edges);
    net->nodes = NULL;
    net->edges = NULL;
    net->nnodes = net->nedges = 0;
}
