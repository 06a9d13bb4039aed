/*
 * pitch_control.c - Spearman's pitch control (W. Spearman, "Beyond Expected
 * Goals", MIT Sloan 2018) in the formulation Laurie Shaw published for
 * Friends of Tracking: for a ball played now to the centre of each grid
 * cell, the probability that each side is first to control it.
 *
 * The model, per cell c:
 *   - the ball arrives at t_b = |ball - c| / ball_speed (0 when the ball's
 *     position is unknown, as in the reference);
 *   - player k, who keeps running with his velocity for reaction_s and then
 *     runs straight at max_speed, arrives at
 *         tti_k = reaction_s + |pos_k + vel_k reaction_s - c| / max_speed;
 *   - the probability that k intercepts by time t is the logistic
 *         p_k(t) = 1 / (1 + exp(-(pi / sqrt 3 / sigma) (t - tti_k)));
 *   - control accrues from t_b in steps of dt (explicit Euler, each step
 *     using the totals of the step before, exactly as the reference):
 *         dP_k/dt = (1 - P_att - P_def) p_k(t) lambda_k,
 *     until P_att + P_def >= convergence or horizon_s has passed (at most
 *     round(horizon_s / dt) steps, at least one, T = t_b, t_b + dt, ...).
 *   - lambda_k = lambda, times lambda_gk_factor for the DEFENDING side's
 *     goalkeeper only (the reference gives keepers lambda_gk as defenders
 *     and the outfield lambda as attackers: a keeper handles the ball in his
 *     own box, which is where he defends). When `attacking` is FA_SIDE_NONE
 *     nobody is known to defend and both keepers get the factor.
 *
 * One deviation: when the players' summed lambda_k p_k dt exceeds 1 in a
 * step (a crowd of players, a keeper among them, already waiting where the
 * ball lands) explicit Euler would push P_att + P_def past 1; the reference
 * lets it, here the step's increments are scaled to share exactly what is
 * left, so home + away <= 1 always holds.
 *
 * Pruning. The reference's control time
 *     T_c = 3 ln(10) (sqrt(3) sigma / pi + 1 / lambda)
 * (~3.32 s with the defaults) is how late a player can be and still matter:
 * once someone is at the ball, the uncontrolled share decays at >= lambda
 * and the integration converges well within T_c. Players arriving T_c or
 * more after T_0 = max(t_b, earliest arrival of anyone) are left out, and a
 * cell where only one side has players left goes wholly (1, 0) to it - the
 * reference's veto, which it states as "nearest attacker T_c or more after
 * max(t_b, nearest defender)", the same condition. The reference measures
 * each player's lateness from his own side's nearest player instead of T_0;
 * when the ball arrives late that drops players who are in time for it
 * (0.03 of control in the test frame), so T_0 is used here. Against full
 * integration of every player in double precision (the tests and
 * bench/bench_pitch_control.c) the differences are at most 0.01: vetoed
 * cells read 1 where integration stops at `convergence`; elsewhere they are
 * below 0.003, the size of one step where the two cross the convergence
 * threshold a step apart (float rounding). A side with no players never
 * arrives: a lone side owns every cell.
 *
 * Speed (< 5 ms per 50 x 32 frame, 22 players, one core): per-player
 * constants (reaction position, lambda dt) are computed once per frame; per
 * cell only the players that survive pruning are integrated; and there is
 * no exp in the inner loop. Along the time steps
 *     e_k(T + dt) = e_k(T) exp(-kappa dt),   p_k = 1 / (1 + e_k),
 * so one exp per surviving player per cell seeds e_k and each step is a
 * multiply, an add and a divide - exact, not an approximation (rounding in
 * float over 250 steps is ~1e-5 relative). A side's total moves by
 * (1 - P) * sum_k p_k lambda_k dt, so only side sums are kept, not P_k.
 * The integration runs in float; t_b, tti and the seed exp in double.
 *
 * Input: players with non-finite positions or no side (a referee) are
 * skipped - they are not contesting the ball this frame; non-finite
 * velocities count as standing still. FA_EINVAL only for nonsense: more than
 * 64 players, a side that is not a fa_side, out-of-range parameters or grid.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"

#define PC_MAX_PLAYERS 64
#define PC_MAX_CELLS 1000   /* per axis */
#define PC_MAX_STEPS 1000000 /* horizon_s / dt: beyond, one surface would take minutes */
#define PC_SEED_MAX 1e30    /* cap on e_k at t_b: p_k ~ 1e-30 is "not yet", float-safe */

/* A player reduced to what the integration needs. */
typedef struct pc_player {
    double rx, ry;  /* position after reaction_s */
    float lam_dt;   /* lambda_k dt */
    int attacking;  /* 1 attacking side, 0 defending */
} pc_player;

/* Frame-wide constants. */
typedef struct pc_frame {
    pc_player pl[PC_MAX_PLAYERS];
    int n;
    double ball_x, ball_y; /* NAN: unknown */
    double inv_vmax, inv_ball_speed, reaction, kappa, control_time;
    float step_decay;      /* exp(-kappa dt) */
    float convergence;
    int max_steps;
} pc_frame;

/* Names the first parameter out of range, with its value and the range expected. */
static int check_params(const fa_pc_params *q) {
    struct {
        const char *name;
        double value;
        int zero_ok;
    } positive[] = {
        {"max_speed", q->max_speed, 0}, {"reaction_s", q->reaction_s, 1}, {"tti_sigma", q->tti_sigma, 0},
        {"lambda", q->lambda, 0},       {"lambda_gk_factor", q->lambda_gk_factor, 0},
        {"ball_speed", q->ball_speed, 0}, {"dt", q->dt, 0},             {"horizon_s", q->horizon_s, 0},
    };
    for (size_t k = 0; k < sizeof positive / sizeof *positive; k++) {
        double v = positive[k].value;
        if (!isfinite(v) || v < 0 || (v == 0 && !positive[k].zero_ok))
            return fa_err_set(FA_EINVAL, "pitch control: parameter '%s' = %g: expected a finite value %s 0",
                              positive[k].name, v, positive[k].zero_ok ? ">=" : ">");
    }
    if (q->horizon_s / q->dt > PC_MAX_STEPS)
        return fa_err_set(FA_EINVAL, "pitch control: horizon_s / dt = %g / %g: expected at most %d steps",
                          q->horizon_s, q->dt, PC_MAX_STEPS);
    if (!(q->convergence > 0 && q->convergence <= 1))
        return fa_err_set(FA_EINVAL, "pitch control: parameter 'convergence' = %g: expected (0, 1]",
                          q->convergence);
    if (q->nx < 1 || q->nx > PC_MAX_CELLS || q->ny < 1 || q->ny > PC_MAX_CELLS)
        return fa_err_set(FA_EINVAL, "pitch control: grid %d x %d: expected 1..%d cells per axis", q->nx,
                          q->ny, PC_MAX_CELLS);
    return 0;
}

static int check_inputs(const fa_pc_player *players, size_t n, fa_side attacking, const fa_pitch *p,
                        const fa_pc_params *q, const fa_pc_grid *out) {
    if (!q || !p || !out || (n && !players))
        return fa_err_set(FA_EINVAL, "pitch control: missing players, pitch, parameters or output");
    if (n > PC_MAX_PLAYERS)
        return fa_err_set(FA_EINVAL, "pitch control: %zu players: expected at most %d", n, PC_MAX_PLAYERS);
    if (attacking != FA_SIDE_NONE && attacking != FA_SIDE_HOME && attacking != FA_SIDE_AWAY)
        return fa_err_set(FA_EINVAL, "pitch control: attacking side %d: expected home, away or none",
                          (int)attacking);
    if (!isfinite(p->length) || !isfinite(p->width) || p->length <= 0 || p->width <= 0)
        return fa_err_set(FA_EINVAL, "pitch control: pitch %g x %g m: expected positive finite dimensions",
                          p->length, p->width);
    for (size_t k = 0; k < n; k++) {
        fa_side s = players[k].side;
        if (s != FA_SIDE_HOME && s != FA_SIDE_AWAY && s != FA_SIDE_NONE)
            return fa_err_set(FA_EINVAL, "pitch control: player %zu: side %d: expected home, away or none", k,
                              (int)s);
    }
    return check_params(q);
}

static void setup_frame(pc_frame *f, const fa_pc_player *players, size_t n, double ball_x, double ball_y,
                        fa_side attacking, const fa_pc_params *q) {
    f->n = 0;
    for (size_t k = 0; k < n; k++) {
        const fa_pc_player *s = &players[k];
        if (!isfinite(s->x) || !isfinite(s->y) || s->side == FA_SIDE_NONE) continue;
        double vx = isfinite(s->vx) ? s->vx : 0, vy = isfinite(s->vy) ? s->vy : 0;
        pc_player *d = &f->pl[f->n++];
        d->rx = s->x + vx * q->reaction_s;
        d->ry = s->y + vy * q->reaction_s;
        d->attacking = attacking == FA_SIDE_NONE ? s->side == FA_SIDE_HOME : s->side == attacking;
        int defends = attacking == FA_SIDE_NONE || s->side != attacking;
        d->lam_dt = (float)(q->lambda * q->dt * (s->is_gk && defends ? q->lambda_gk_factor : 1.0));
    }
    f->ball_x = isfinite(ball_x) && isfinite(ball_y) ? ball_x : NAN;
    f->ball_y = ball_y;
    f->inv_vmax = 1.0 / q->max_speed;
    f->inv_ball_speed = 1.0 / q->ball_speed;
    f->reaction = q->reaction_s;
    f->kappa = M_PI / sqrt(3.0) / q->tti_sigma;
    f->control_time = 3.0 * log(10.0) * (sqrt(3.0) * q->tti_sigma / M_PI + 1.0 / q->lambda);
    f->step_decay = (float)exp(-f->kappa * q->dt);
    f->convergence = (float)q->convergence;
    f->max_steps = (int)(q->horizon_s / q->dt + 0.5);
    if (f->max_steps < 1) f->max_steps = 1;
}

/* Integrates one cell from ball arrival tb over the players whose seeds e[]
 * and lambda dt lam[] are given, attackers in [0, na), defenders in [na, m). */
static void integrate(const pc_frame *f, float *e, const float *lam, int na, int m, float *att, float *def) {
    float pa = 0, pd = 0, r = f->step_decay;
    for (int step = 0; step < f->max_steps && pa + pd < f->convergence; step++) {
        float sa = 0, sd = 0;
        for (int k = 0; k < na; k++) {
            sa += lam[k] / (1.0f + e[k]);
            e[k] *= r;
        }
        for (int k = na; k < m; k++) {
            sd += lam[k] / (1.0f + e[k]);
            e[k] *= r;
        }
        float rest = 1.0f - pa - pd, rate = sa + sd;
        if (rate > 1.0f) { /* the step would overshoot: share what is left instead */
            sa /= rate;
            sd /= rate;
        }
        pa += rest * sa;
        pd += rest * sd;
    }
    *att = pa;
    *def = pd;
}

/* sqrt, not hypot: coordinates are metres, no overflow to guard, and hypot is several times slower. */
static double distance(double x0, double y0, double x1, double y1) {
    return sqrt((x0 - x1) * (x0 - x1) + (y0 - y1) * (y0 - y1));
}

/* Control of one cell centred at (cx, cy) for the attacking and defending sides. */
static void control_cell(const pc_frame *f, double cx, double cy, float *att, float *def) {
    double tb = isnan(f->ball_x) ? 0.0 : distance(cx, cy, f->ball_x, f->ball_y) * f->inv_ball_speed;
    double tti[PC_MAX_PLAYERS], first = INFINITY;
    for (int k = 0; k < f->n; k++) {
        tti[k] = f->reaction + distance(cx, cy, f->pl[k].rx, f->pl[k].ry) * f->inv_vmax;
        first = tti[k] < first ? tti[k] : first;
    }
    double cutoff = fmax(tb, first) + f->control_time; /* arriving later is too late to matter */
    float e[PC_MAX_PLAYERS], lam[PC_MAX_PLAYERS];
    int na = 0, m = 0;
    for (int pass = 1; pass >= 0; pass--) { /* attackers first, then defenders */
        for (int k = 0; k < f->n; k++) {
            if (f->pl[k].attacking != pass || !(tti[k] < cutoff)) continue;
            double seed = exp(-f->kappa * (tb - tti[k]));
            e[m] = (float)(seed < PC_SEED_MAX ? seed : PC_SEED_MAX);
            lam[m++] = f->pl[k].lam_dt;
        }
        if (pass) na = m;
    }
    if (na == 0 || na == m) { /* one side alone (or nobody) is in time: the reference's veto */
        *att = na ? 1.0f : 0.0f;
        *def = m > na ? 1.0f : 0.0f;
        return;
    }
    integrate(f, e, lam, na, m, att, def);
}

/* Contract: players[0..n) (n <= 64; NULL when n is 0), the ball at (ball_x,
 * ball_y) (NAN: unknown), the side in possession (FA_SIDE_NONE: unknown),
 * the pitch and the model's parameters with the grid size (1..1000 per
 * axis). Fills *out with freshly allocated home and away grids of
 * params->nx x params->ny, cell centres at -L/2 + (i + 0.5) L / nx and
 * -W/2 + (j + 0.5) W / ny; whatever *out held before is overwritten, not
 * freed: release each result with fa_pc_grid_free. Returns 0, FA_EINVAL
 * (out untouched) or FA_ENOMEM (out zeroed). */
int fa_pitch_control(const fa_pc_player *players, size_t n, double ball_x, double ball_y, fa_side attacking,
                     const fa_pitch *p, const fa_pc_params *params, fa_pc_grid *out) {
    int rc = check_inputs(players, n, attacking, p, params, out);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    pc_frame *f = fa_malloc(sizeof *f);
    size_t cells = (size_t)params->nx * (size_t)params->ny;
    float *home = fa_malloc(cells * sizeof *home), *away = fa_malloc(cells * sizeof *away);
    if (!f || !home || !away) {
        free(f);
        free(home);
        free(away);
        return FA_ENOMEM;
    }
    setup_frame(f, players, n, ball_x, ball_y, attacking, params);
    int home_attacks = attacking != FA_SIDE_AWAY;
    double dx = p->length / params->nx, dy = p->width / params->ny;
    for (int j = 0; j < params->ny; j++) {
        double cy = -0.5 * p->width + (j + 0.5) * dy;
        for (int i = 0; i < params->nx; i++) {
            double cx = -0.5 * p->length + (i + 0.5) * dx;
            float att, def;
            control_cell(f, cx, cy, &att, &def);
            size_t c = (size_t)j * (size_t)params->nx + (size_t)i;
            home[c] = home_attacks ? att : def;
            away[c] = home_attacks ? def : att;
        }
    }
    free(f);
    out->nx = params->nx;
    out->ny = params->ny;
    out->home = home;
    out->away = away;
    return 0;
}

/* Frees both grids and zeroes *g; NULL and a zeroed grid are fine. */
void fa_pc_grid_free(fa_pc_grid *g) {
    if (!g) return;
    free(g->home);
    free(g->away);
    memset(g, 0, sizeof *g);
}
