/*
 * metrica_internal.h - small helpers shared by the Metrica parsers
 * (metrica.c: events CSV/JSON and tracking CSV) and the FIFA EPTS parser
 * (epts.c), which is how Metrica ships its newer tracking.
 *
 * Why a header of static inline functions: the two files need the same few
 * rules (match id from a file stem, the accepted range of a 0..1 coordinate,
 * the attack-direction vote from the teams' mean x) and these rules must not
 * drift apart, but they are too small and too Metrica-specific to become part
 * of a public face. Nothing here has external linkage.
 */
#ifndef FA_METRICA_INTERNAL_H
#define FA_METRICA_INTERNAL_H

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "model/model.h"

/* Metrica's unit frame is 0..1 per axis; values slightly outside (a shot
 * ending at x = 1.01, behind the goal line) are real. Anything beyond this
 * band is not a coordinate but garbage. */
#define MX_COORD_MIN (-1.0)
#define MX_COORD_MAX 2.0

static inline int mx_coord_ok(double v) { return isnan(v) || (v >= MX_COORD_MIN && v <= MX_COORD_MAX); }

/* Writes the base name of path without its extension and without suffix
 * (when the stem ends with it, compared case-insensitively) into out:
 * ("dir/Sample_Game_1_RawEventsData.csv", "_RawEventsData") -> "Sample_Game_1". */
static inline void mx_match_id(const char *path, const char *suffix, char *out, size_t size) {
    char stem[FA_ID_MAX * 4];
    fa_strlcpy_utf8(stem, fa_path_base(path), sizeof stem);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = '\0';
    size_t n = strlen(stem), k = strlen(suffix);
    if (n > k && strcasecmp(stem + n - k, suffix) == 0) stem[n - k] = '\0';
    fa_strlcpy_utf8(out, stem, size);
}

/* m->source = "a" or "a,b" (base names). */
static inline void mx_match_source(fa_match *m, const char *a, const char *b) {
    if (b)
        snprintf(m->source, sizeof m->source, "%s,%s", fa_path_base(a), fa_path_base(b));
    else
        snprintf(m->source, sizeof m->source, "%s", fa_path_base(a));
}

/* Fills the parts of a Metrica match every parser shares: 0..1 unit frame
 * on a 105 x 68 m pitch unless the caller knows better. */
static inline void mx_match_init(fa_match *m) {
    fa_match_init(m, FA_PROVIDER_METRICA);
    m->provider_length = 1.0;
    m->provider_width = 1.0;
    snprintf(m->provider_unit, sizeof m->provider_unit, "unit");
}

/* Running sums of one team's raw x in one tracking frame. */
typedef struct mx_mean {
    double sum;
    int n;
} mx_mean;

static inline void mx_mean_add(mx_mean *m, double x) {
    if (isnan(x)) return;
    m->sum += x;
    m->n++;
}

/* Which way the home team attacks in the provider's frame, judged from one
 * tracking frame: 1 when it attacks raw +x (it stands left of the away
 * team), 0 when it attacks raw -x, -1 when nobody is on the pitch.
 *
 * Why "left of the away team" rather than "home mean x below 0.5": at a
 * kick-off both rules agree, but a period may start mid-play in an excerpt
 * (Metrica's csv_excerpt period 2 starts at frame 145004 with both teams in
 * the left third: home mean 0.33, away mean 0.20, home goalkeeper at 0.90).
 * The team nearer a goal is, almost always, the one defending it. */
static inline int mx_home_attacks_raw_plus(const mx_mean *home, const mx_mean *away) {
    if (home->n && away->n) return home->sum / home->n <= away->sum / away->n;
    if (home->n) return home->sum / home->n <= 0.5;
    if (away->n) return away->sum / away->n > 0.5;
    return -1;
}

/* The 180-degree flip a period needs so that HOME attacks +x in periods 1
 * and 3 (model.h), given which way home attacks in the raw frame. */
static inline int mx_flip_for(int period, int home_raw_plus) {
    return home_raw_plus != fa_home_attacks_plus_x(period);
}

#endif
