/*
 * teams.h - team assignment from kit colours: two teams, their goalkeepers
 * and the referees, per track, for src/vision's tracks (tracker.h).
 *
 * Three stages, each usable on its own:
 *   1. Sampling (fa_teams_grass_estimate, fa_teams_describe): the torso of a person
 *      box (middle half of its width, 15 % to 50 % of its height, the
 *      tracker's torso) with the pitch's grass removed, in CIE Lab, boiled
 *      down by a tiny 2-means to its dominant colour and the second one.
 *      The kit's colour is the cluster with the larger pixel count x
 *      distance from the grass (grass mixed with the kit at the body's
 *      edges lies between the two); two clusters closer than 12 are one.
 *      Lab, not RGB or HSV: distances there follow what the eye sees, so
 *      one threshold serves dark and light, saturated and grey kits.
 *   2. Fitting (fa_teams_fit): the dominant colours of the observations of
 *      the first fit_seconds (each track weighted 1 in total, whatever its
 *      number of observations) are split by a trimmed 2-means (k-means++
 *      init, restarts, fixed seed): the two teams. Observations far from
 *      both centres are outliers. Outlier tracks: those whose observations
 *      are mostly outliers (an observation whose torso's other colour, at
 *      least a quarter of it, lies within a team counts as that team's: a
 *      white shirt's lit and shaded sides), and those whose median distance
 *      from the segment between the centres exceeds a per-team track
 *      cut-off (outlier_factor x the median of the team's tracks' medians,
 *      at least outlier_min): a dark referee is far in every frame even
 *      when a team with two-faced kits has observation cut-offs wide enough
 *      to take him in. The outlier tracks are grouped by colour
 *      into referees (the largest group of 2..max_referees tracks) and
 *      goalkeepers: with positions, per half (split at the median track
 *      position) the lone outlier most extreme along the pitch, provided
 *      at most 1.5 players' weight stands beyond it, its team the one whose
 *      players' mean position is on its side; without positions, up to two
 *      lone outliers, side unknown (three or more: unknown). A single lone
 *      outlier left when no referee group exists is the referee.
 *      The separation of the teams (distance of the centres over the sum
 *      of their spreads) is reported; below similar_separation (or centres
 *      closer than similar_min_dist) the kits are declared similar and no
 *      track gets a team. A later call refines: over every observation so
 *      far (strided down to about 20 000), restarts plus a warm start from
 *      the current centres, team labels kept.
 *   3. Assignment (fa_teams_assign): each of the track's observations votes
 *      for its nearest class (team A or B within its cut-off, an outlier
 *      group within its radius; one within a team's cut-off goes to a group
 *      only when at most half as far from it), or, when its kit colour has
 *      none, for the team of its torso's other colour (a quarter of the
 *      torso at least), or none;
 *      the winner needs a margin of vote_margin over the runner-up, else the
 *      track is unknown. A track with lock_votes votes and a clear winner is
 *      locked: later observations and refits no longer change its role
 *      (unless a refit finds the kits similar, which unlocks everything).
 *
 * Team A is the lighter kit (larger Lab L of its centre), team B the
 * darker: a deterministic, colour-only naming. Everything is deterministic.
 */
#ifndef FA_VISION_TEAMS_H
#define FA_VISION_TEAMS_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ sampling */

/* sRGB (0..255) to CIE Lab (D65 white): L 0..100, a and b about -128..127. */
void fa_teams_rgb_to_lab(uint8_t r, uint8_t g, uint8_t b, float lab[3]);

/* The grass colour of a frame. */
typedef struct fa_teams_grass {
    float lab[3];    /* L, a, b of the grass (medians around the a-b mode) */
    float ab_radius; /* pixels within this a-b distance ... */
    float l_radius;  /* ... and this L distance of lab are grass */
    int found;       /* 0: too few green pixels, nothing is removed */
} fa_teams_grass;

/* Estimates the grass colour of the packed RGB image rgb (w x h, stride
 * bytes per row) from a grid of samples (every step-th pixel, step chosen
 * for about 100 000 samples): the pixels whose green channel leads red and
 * blue and whose Lab a is below -5 (not a white sky with a green tint);
 * the mode of their a-b histogram (trees and stands are green-led too),
 * the medians of the samples within 20 of it, radii from the spread
 * (3 x the median a-b distance, at least 10; 3 x the median L distance,
 * at least 15). Fewer than 1 % green samples: g->found = 0. 0, or
 * FA_EINVAL for a bad image (NULL, w or h <= 0, stride < 3 w), FA_ENOMEM. */
int fa_teams_grass_estimate(const uint8_t *rgb, int w, int h, size_t stride, fa_teams_grass *g);

/* A person's kit: the torso's two main colours. */
typedef struct fa_kit_desc {
    float lab[2][3]; /* the kit's colour first (see the top), then the other cluster */
    float share[2];  /* fraction of the kit pixels in each (sum 1; share[1] 0 when one colour) */
    int n_pixels;    /* kit pixels (torso pixels that are not grass); 0: unknown */
} fa_kit_desc;

/* Minimum kit pixels for a descriptor to count (fewer: n_pixels 0). */
#define FA_TEAMS_MIN_PIXELS 3

/* The kit descriptor of the person in box (x1, y1, x2, y2, frame pixels)
 * of the packed RGB image: torso pixels (pixel centres inside the middle
 * half of the box's width and 15 %..50 % of its height; at least the
 * centre column and one row), grass removed with g (NULL or not found:
 * nothing removed), at most 1024 of them (larger torsos are strided), a
 * 2-means in Lab (8 iterations, init: the pixel farthest from the mean and
 * the one farthest from that), the kit's cluster first (see the top).
 * Pixels outside the image are skipped. Returns the kit pixels counted
 * (< FA_TEAMS_MIN_PIXELS: 0 and d zeroed, unknown), or FA_EINVAL for a bad
 * image or a box that is not finite with x1 < x2, y1 < y2 (coordinates
 * within 1e7), FA_ENOMEM. */
int fa_teams_describe(const uint8_t *rgb, int w, int h, size_t stride, const float box[4],
                      const fa_teams_grass *g, fa_kit_desc *d);

/* -------------------------------------------------------------- roles */

typedef enum fa_team_role {
    FA_ROLE_UNKNOWN = 0,
    FA_ROLE_TEAM_A,       /* lighter kit */
    FA_ROLE_TEAM_B,       /* darker kit */
    FA_ROLE_GOALKEEPER_A, /* goalkeeper of team A (needs positions) */
    FA_ROLE_GOALKEEPER_B,
    FA_ROLE_GOALKEEPER, /* a goalkeeper whose team is not known (no positions) */
    FA_ROLE_REFEREE
} fa_team_role;

/* "team_a", "team_b", "goalkeeper_a", "goalkeeper_b", "goalkeeper", "referee", "unknown". */
const char *fa_team_role_name(fa_team_role r);

typedef struct fa_teams_options {
    double fps;               /* 25: frames per second (frame numbers to seconds) */
    double fit_seconds;       /* 5: the first fit uses observations of this many seconds from the first */
    float l_weight;           /* 0.5: weight of L in colour distances (lighting moves L most) */
    float outlier_factor;     /* 2.5: an observation farther than this x its team's median distance ... */
    float outlier_min;        /* 15: ... and than this (Lab units) from both centres is an outlier */
    float group_dist;         /* 20: outlier tracks closer than this in colour form one group */
    int max_referees;         /* 3: a group of 2..max_referees tracks is the referees */
    /* Similar kits: the separation alone did not tell them apart on real
     * video (white vs blue on the 10 s SoccerTrack clip, observation spreads
     * grown by blur and occlusion: 1.36; two shades of blue, synthetic: 1.42)
     * while the centres' distance did (30.8 over the clip, 37–40 on stills,
     * vs 21.2 for the blues). */
    float similar_separation; /* 1.0: separation below this: similar kits */
    float similar_min_dist;   /* 25: centres closer than this (Lab units, L weighted): similar kits */
    float vote_margin;        /* 0.3: winner's vote share minus runner-up's needed for a role */
    int lock_votes;           /* 5: votes after which a clear role is locked */
    int restarts;             /* 8: k-means restarts */
    uint64_t seed;            /* 1: k-means++ seed (xorshift) */
} fa_teams_options;

void fa_teams_options_default(fa_teams_options *o);
/* 0, or FA_EINVAL naming the first bad field and its value. */
int fa_teams_options_check(const fa_teams_options *o);

typedef struct fa_teams fa_teams;

/* A team model with options o (NULL: defaults). NULL with the error set
 * (FA_EINVAL bad options, FA_ENOMEM). */
fa_teams *fa_teams_new(const fa_teams_options *o);
void fa_teams_free(fa_teams *t);

/* Records the kit d of track track_id (>= 1, < 1 << 24) at frame (any
 * order): both its colours and shares (the second colour votes when the
 * kit's has no class, see the top). x: the position along the pitch's
 * length (image x for a fixed camera, metres once calibrated), NULL when
 * not known. A descriptor with fewer than FA_TEAMS_MIN_PIXELS pixels is
 * accepted and ignored (returns 0, stores nothing). 0, FA_EINVAL (bad id, a
 * non-finite colour, a share outside 0..1, a non-finite x; the message
 * names the track and frame), FA_ENOMEM. */
int fa_teams_observe(fa_teams *t, int track_id, int64_t frame, const fa_kit_desc *d, const float *x);

/* Fits (first call) or refines (later calls) the model; see the top of the
 * file. 0, or FA_EINVAL when there is nothing to fit (no observations; fewer
 * than 2 tracks with kits in the window; all colours identical so 2-means
 * cannot split them), FA_ENOMEM. On error the previous fit stays. */
int fa_teams_fit(fa_teams *t);

#define FA_TEAMS_MAX_GROUPS 8

/* An outlier group: tracks far from both teams, similar in colour. */
typedef struct fa_teams_group {
    float lab[3];
    int n_tracks;
    fa_team_role role; /* goalkeeper(s), referee, or unknown */
} fa_teams_group;

/* What the last fit found. */
typedef struct fa_teams_summary {
    int fitted;           /* 0 before the first successful fit (all else zero) */
    int n_fits;           /* successful fits so far */
    int n_tracks, n_obs;  /* tracks and observations the last fit used */
    float team_lab[2][3]; /* centres of team A and B */
    float team_spread[2]; /* root-mean-square distance of their inlier observations to the centre */
    float team_tracks[2]; /* track weight in each team */
    float centre_dist;    /* distance of the two centres */
    float separation;     /* centre_dist / (spread A + spread B) */
    int similar;          /* 1: kits too close to tell apart; no team roles given */
    int positions;        /* 1: positions were given, goalkeepers have sides */
    int n_groups;
    fa_teams_group groups[FA_TEAMS_MAX_GROUPS];
} fa_teams_summary;

/* Copies the last fit's summary into s (fitted 0 before any fit). */
void fa_teams_get_summary(const fa_teams *t, fa_teams_summary *s);

typedef struct fa_team_assignment {
    fa_team_role role;
    float confidence; /* the winner's vote share (0 for unknown without votes) */
    int votes;        /* observations that voted */
    int locked;       /* 1: the role is locked */
} fa_team_assignment;

/* The role of track_id by voting over all its observations so far against
 * the current fit (may lock it, see the top). A track never observed (or
 * only with empty kits) is unknown with 0 votes. 0, or FA_EINVAL (not
 * fitted yet, bad id). */
int fa_teams_assign(fa_teams *t, int track_id, fa_team_assignment *a);

#endif
