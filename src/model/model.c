/*
 * model.c - names, defaults and the coordinate conversion shared by every
 * provider parser.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "model.h"

static const char *const provider_names[FA_PROVIDER_COUNT] = {
    "unknown", "statsbomb", "metrica", "skillcorner", "wyscout", "video", "lastrow"};

const char *fa_provider_name(fa_provider p) {
    return (p >= 0 && p < FA_PROVIDER_COUNT) ? provider_names[p] : "unknown";
}

fa_provider fa_provider_parse(const char *s) {
    for (int i = 1; i < FA_PROVIDER_COUNT; i++)
        if (strcasecmp(s, provider_names[i]) == 0) return (fa_provider)i;
    return FA_PROVIDER_UNKNOWN;
}

const char *fa_side_name(fa_side s) {
    return s == FA_SIDE_HOME ? "home" : s == FA_SIDE_AWAY ? "away" : "";
}

int fa_home_attacks_plus_x(int period) { return period == 2 || period == 4 ? 0 : 1; }

int fa_attack_dir(fa_side side, int period) {
    if (side == FA_SIDE_NONE) return 0;
    return (side == FA_SIDE_HOME) == (fa_home_attacks_plus_x(period) == 1) ? 1 : -1;
}

void fa_pitch_from_provider(const fa_pitch *p, double plen, double pwid, int y_down, int flip,
                            double px, double py, double *x, double *y) {
    if (isnan(px) || isnan(py)) {
        *x = NAN;
        *y = NAN;
        return;
    }
    /* Normalise to [-0.5, 0.5] with y up, then scale to the real pitch. */
    double u = px / plen - 0.5;
    double v = py / pwid - 0.5;
    if (y_down) v = -v;
    if (flip) {
        u = -u;
        v = -v;
    }
    *x = u * p->length;
    *y = v * p->width;
}

void fa_match_init(fa_match *m, fa_provider provider) {
    memset(m, 0, sizeof *m);
    m->provider = provider;
    m->score[0] = m->score[1] = -1;
    m->pitch.length = FA_PITCH_DEFAULT_LENGTH;
    m->pitch.width = FA_PITCH_DEFAULT_WIDTH;
    m->provider_length = FA_PITCH_DEFAULT_LENGTH;
    m->provider_width = FA_PITCH_DEFAULT_WIDTH;
    strcpy(m->provider_unit, "m");
}

void fa_player_init(fa_player *p) {
    memset(p, 0, sizeof *p);
    p->side = FA_SIDE_NONE;
    p->shirt = -1;
    p->minutes = NAN;
    p->starter = -1;
}

static const char *const kind_names[FA_EV_COUNT] = {
    "other",        "pass",      "shot",      "carry",        "receipt",   "dribble",  "duel",
    "pressure",     "recovery",  "interception", "clearance", "block",     "foul",     "goalkeeper",
    "set_piece",    "ball_out",  "card",      "substitution", "period_start", "period_end", "own_goal"};

const char *fa_event_kind_name(fa_event_kind k) {
    return (k >= 0 && k < FA_EV_COUNT) ? kind_names[k] : "other";
}

int fa_event_kind_parse(const char *s) {
    for (int i = 0; i < FA_EV_COUNT; i++)
        if (strcasecmp(s, kind_names[i]) == 0) return i;
    return -1;
}

int fa_event_ends_play(const fa_event *e) {
    switch (e->kind) {
    case FA_EV_BALL_OUT:
    case FA_EV_FOUL:
    case FA_EV_CARD:
    case FA_EV_SUBSTITUTION:
    case FA_EV_OWN_GOAL:
    case FA_EV_PERIOD_END: return 1;
    default: return e->goal == 1;
    }
}

void fa_event_init(fa_event *e) {
    memset(e, 0, sizeof *e);
    e->duration = NAN;
    e->side = FA_SIDE_NONE;
    e->x = e->y = e->end_x = e->end_y = e->end_z = NAN;
    e->success = -1;
    e->xg = NAN;
}

void fa_frame_init(fa_frame *f) {
    memset(f, 0, sizeof *f);
    f->ball_x = f->ball_y = f->ball_z = NAN;
    f->ball_alive = -1;
    f->ball_owner_side = FA_SIDE_NONE;
}
