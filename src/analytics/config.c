/*
 * config.c - the analytics configuration: defaults, setting options by name
 * from text, and the JSON statement of every definition an output used.
 *
 * Why a table: every numeric option is one row (name, type, offset into
 * fa_analytics_config, allowed range), so setting, validating and printing
 * cannot drift apart; an option added to the struct is one new row. The two
 * band lists and the smoothing method are the only options with their own
 * syntax. Setting is all-or-nothing: a bad value leaves the configuration as
 * it was, and fa_analytics_config_parse applies a whole text or nothing.
 *
 * Defaults and where they come from:
 *   - speed bands (km/h), Bradley et al. 2009 (J Sports Sci 27:159), as
 *     published: standing 0-0.6, walking 0.7-7.1, jogging 7.2-14.3, running
 *     14.4-19.7, high-speed running 19.8-25.1, sprinting >= 25.2. The table
 *     lists edges to 0.1 km/h, so its gaps (0.6..0.7, ...) are rounding, not
 *     speeds that belong to no band: we store the bands contiguous using the
 *     published LOWER edges, [0, 0.7), [0.7, 7.2), [7.2, 14.4), [14.4, 19.8),
 *     [19.8, 25.2), [25.2, inf). The same rule applies to bands a user sets:
 *     a gap between one band's upper edge and the next band's lower edge is
 *     closed by raising the upper edge, and the JSON shows the bands as used;
 *   - relative bands, percent of the player's own peak speed (the highest
 *     speed held for peak_hold_s): < 40 (low), 40-60, 60-75, 75-85, 85-95,
 *     >= 95 (maximal; instantaneous speed can exceed the held peak, so the
 *     last band is open). Edges follow the 5-10 % steps of the individualised
 *     thresholds literature (Hunter et al. 2015, Sports Med 45:1495) with a
 *     wide low band, where the distance carries no intensity information;
 *   - efforts: sprint >= 25.2 km/h held >= 1 s, high-speed run >= 19.8 km/h
 *     held >= 1 s, acceleration |a| > 3 m/s^2 held >= 0.5 s, peak speed held
 *     >= 0.5 s (Varley and Aughey 2013; Di Salvo et al. 2009);
 *   - kinematics: Savitzky-Golay window 7 order 1 (0.28 s at 25 Hz),
 *     Butterworth 1 Hz order 2 as the option, gates 12 m/s (players) and
 *     50 m/s (ball), gaps shorter than 1 s interpolated;
 *   - pitch control: Spearman 2018 ("Beyond expected goals") parameters;
 *   - heat maps 21 x 14 cells (5 m x 4.9 m on 105 x 68) blurred by one cell;
 *     xT grid 12 x 8 (Karun Singh).
 *
 * Text syntax: fa_analytics_config_set(c, "sprint_kmh", "25.2"); pitch
 * control parameters are "pc_<field>" (or "pc.<field>"); "smoothing" is
 * none | savgol | butterworth; "bands" / "rel_bands" are
 * "name:lo-hi,name:lo-hi,..." with hi "inf" for an open band.
 * fa_analytics_config_parse takes "key=value" entries separated by commas or
 * newlines, "#" starting a comment; a comma-separated piece without "="
 * continues the previous value, so "bands=a:0-1,b:1-inf" works in one line.
 */
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"

/* ------------------------------------------------------------ defaults */

static const fa_band default_bands[] = {
    {"standing", 0.0, 0.7},   {"walking", 0.7, 7.2},           {"jogging", 7.2, 14.4},
    {"running", 14.4, 19.8}, {"high_speed_running", 19.8, 25.2}, {"sprinting", 25.2, INFINITY},
};

static const fa_band default_rel_bands[] = {
    {"rel_0_40", 0.0, 40.0},  {"rel_40_60", 40.0, 60.0}, {"rel_60_75", 60.0, 75.0},
    {"rel_75_85", 75.0, 85.0}, {"rel_85_95", 85.0, 95.0}, {"rel_95_max", 95.0, INFINITY},
};

/* Fills c with the defaults above (the whole struct, unused band slots zero). */
void fa_analytics_config_default(fa_analytics_config *c) {
    memset(c, 0, sizeof *c);
    c->smoothing = FA_SMOOTH_SAVGOL;
    c->savgol_window = 7;
    c->savgol_order = 1;
    c->butter_cutoff_hz = 1.0;
    c->butter_order = 2;
    c->player_max_speed = 12.0;
    c->ball_max_speed = 50.0;
    c->max_gap_s = 1.0;
    c->nbands = (int)(sizeof default_bands / sizeof default_bands[0]);
    memcpy(c->bands, default_bands, sizeof default_bands);
    c->nrel_bands = (int)(sizeof default_rel_bands / sizeof default_rel_bands[0]);
    memcpy(c->rel_bands, default_rel_bands, sizeof default_rel_bands);
    c->sprint_kmh = 25.2;
    c->sprint_min_s = 1.0;
    c->hsr_kmh = 19.8;
    c->hsr_min_s = 1.0;
    c->accel_ms2 = 3.0;
    c->accel_min_s = 0.5;
    c->peak_hold_s = 0.5;
    c->per90_min_minutes = 15; /* below it a per-90 rate extrapolates noise (a 5-minute cameo x18) */
    c->heat_nx = 21;
    c->heat_ny = 14;
    c->heat_sigma_cells = 1.0;
    c->pc = (fa_pc_params){.max_speed = 5.0, .reaction_s = 0.7, .tti_sigma = 0.45, .lambda = 4.3,
                           .lambda_gk_factor = 3.0, .ball_speed = 15.0, .dt = 0.04, .horizon_s = 10.0,
                           .convergence = 0.99, .nx = 50, .ny = 32};
    c->possession_window_s = 300.0;
    c->owner_radius_m = 1.5;
    c->owner_hysteresis_s = 0.5;
    c->pass_string_min = 3;
    c->xt_nx = 12;
    c->xt_ny = 8;
}

/* ------------------------------------------------------------ the option table */

typedef enum opt_type { OPT_INT, OPT_DOUBLE } opt_type;

typedef struct opt {
    const char *name; /* the key; also the JSON member name (pc_* go into "pc" without the prefix) */
    opt_type type;
    size_t offset;
    double lo, hi;    /* allowed range */
    int lo_open;      /* 1: lo itself is not allowed */
} opt;

#define OPT_I(name, field, lo, hi) {name, OPT_INT, offsetof(fa_analytics_config, field), lo, hi, 0}
#define OPT_D(name, field, lo, hi, open)                                                                     \
    { name, OPT_DOUBLE, offsetof(fa_analytics_config, field), lo, hi, open }

static const opt opts[] = {
    OPT_I("savgol_window", savgol_window, 3, 101),
    OPT_I("savgol_order", savgol_order, 1, 10),
    OPT_D("butter_cutoff_hz", butter_cutoff_hz, 0, 1000, 1),
    OPT_I("butter_order", butter_order, 1, 8),
    OPT_D("player_max_speed", player_max_speed, 0, 1000, 1),
    OPT_D("ball_max_speed", ball_max_speed, 0, 1000, 1),
    OPT_D("max_gap_s", max_gap_s, 0, 3600, 0),
    OPT_D("sprint_kmh", sprint_kmh, 0, 100, 1),
    OPT_D("sprint_min_s", sprint_min_s, 0, 600, 0),
    OPT_D("hsr_kmh", hsr_kmh, 0, 100, 1),
    OPT_D("hsr_min_s", hsr_min_s, 0, 600, 0),
    OPT_D("accel_ms2", accel_ms2, 0, 100, 1),
    OPT_D("accel_min_s", accel_min_s, 0, 600, 0),
    OPT_D("peak_hold_s", peak_hold_s, 0, 600, 0),
    OPT_D("per90_min_minutes", per90_min_minutes, 0, 100000, 0),
    OPT_I("heat_nx", heat_nx, 1, 1000),
    OPT_I("heat_ny", heat_ny, 1, 1000),
    OPT_D("heat_sigma_cells", heat_sigma_cells, 0, 100, 0),
    OPT_D("pc_max_speed", pc.max_speed, 0, 50, 1),
    OPT_D("pc_reaction_s", pc.reaction_s, 0, 10, 0),
    OPT_D("pc_tti_sigma", pc.tti_sigma, 0, 10, 1),
    OPT_D("pc_lambda", pc.lambda, 0, 100, 1),
    OPT_D("pc_lambda_gk_factor", pc.lambda_gk_factor, 0, 100, 1),
    OPT_D("pc_ball_speed", pc.ball_speed, 0, 100, 1),
    OPT_D("pc_dt", pc.dt, 0, 1, 1),
    OPT_D("pc_horizon_s", pc.horizon_s, 0, 600, 1),
    OPT_D("pc_convergence", pc.convergence, 0, 1, 1),
    OPT_I("pc_nx", pc.nx, 1, 1000),
    OPT_I("pc_ny", pc.ny, 1, 1000),
    OPT_D("possession_window_s", possession_window_s, 0, 1e6, 1),
    OPT_D("owner_radius_m", owner_radius_m, 0, 100, 1),
    OPT_D("owner_hysteresis_s", owner_hysteresis_s, 0, 600, 0),
    OPT_I("pass_string_min", pass_string_min, 1, 1000),
    OPT_I("xt_nx", xt_nx, 1, 100),
    OPT_I("xt_ny", xt_ny, 1, 100),
};

#define NOPTS (sizeof opts / sizeof opts[0])

static const opt *opt_find(const char *key) {
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].name, key) == 0) return &opts[i];
    return NULL;
}

static int *opt_int(fa_analytics_config *c, const opt *o) { return (int *)((char *)c + o->offset); }
static double *opt_double(fa_analytics_config *c, const opt *o) { return (double *)((char *)c + o->offset); }

static int opt_range_error(const opt *o, const char *value) {
    if (o->type == OPT_INT)
        return fa_err_set(FA_EINVAL, "key '%s': expected an integer in [%g, %g], got '%s'", o->name, o->lo,
                          o->hi, value);
    return fa_err_set(FA_EINVAL, "key '%s': expected a number in %c%g, %g], got '%s'", o->name,
                      o->lo_open ? '(' : '[', o->lo, o->hi, value);
}

static int opt_set(fa_analytics_config *c, const opt *o, const char *value) {
    if (o->type == OPT_INT) {
        int64_t v;
        if (fa_parse_int(value, (int64_t)o->lo, (int64_t)o->hi, &v)) return opt_range_error(o, value);
        *opt_int(c, o) = (int)v;
        return 0;
    }
    double v;
    if (fa_parse_double(value, &v) || v < o->lo || v > o->hi || (o->lo_open && v == o->lo))
        return opt_range_error(o, value);
    *opt_double(c, o) = v;
    return 0;
}

/* ------------------------------------------------------------ smoothing */

static const char *smoothing_name(fa_smoothing s) {
    switch (s) {
    case FA_SMOOTH_NONE: return "none";
    case FA_SMOOTH_SAVGOL: return "savgol";
    case FA_SMOOTH_BUTTERWORTH: return "butterworth";
    }
    return "?";
}

static int smoothing_set(fa_analytics_config *c, const char *value) {
    if (fa_strcaseeq(value, "none")) c->smoothing = FA_SMOOTH_NONE;
    else if (fa_strcaseeq(value, "savgol") || fa_strcaseeq(value, "savitzky-golay") ||
             fa_strcaseeq(value, "sg"))
        c->smoothing = FA_SMOOTH_SAVGOL;
    else if (fa_strcaseeq(value, "butterworth") || fa_strcaseeq(value, "butter"))
        c->smoothing = FA_SMOOTH_BUTTERWORTH;
    else
        return fa_err_set(FA_EINVAL, "key 'smoothing': expected none, savgol or butterworth, got '%s'",
                          value);
    return 0;
}

/* ------------------------------------------------------------ bands */

/* Copies s[0..n) without surrounding blanks into out[size]; 0, or -1 if it does not fit. */
static int trim_copy(const char *s, size_t n, char *out, size_t size) {
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n >= size) return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int band_name_ok(const char *name) {
    if (!*name) return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.' && *p != '%') return 0;
    return 1;
}

/* Parses "lo-hi" (hi may be "inf"); lo >= 0 finite, hi > lo. */
static int band_range_parse(const char *s, double *lo, double *hi) {
    char *end;
    *lo = strtod(s, &end);
    if (end == s || *end != '-' || !isfinite(*lo) || *lo < 0) return -1;
    const char *h = end + 1;
    if (fa_strcaseeq(h, "inf") || fa_strcaseeq(h, "infinity")) *hi = INFINITY;
    else if (fa_parse_double(h, hi)) return -1;
    return *hi > *lo ? 0 : -1;
}

/* Parses one "name:lo-hi" entry into b. */
static int band_parse(const char *key, const char *entry, size_t len, const char *unit, fa_band *b) {
    char text[128];
    if (trim_copy(entry, len, text, sizeof text))
        return fa_err_set(FA_EINVAL, "key '%s': band entry longer than %zu bytes", key, sizeof text - 1);
    char *colon = strrchr(text, ':');
    if (!colon)
        return fa_err_set(FA_EINVAL, "key '%s': expected name:lo-hi, got '%s'", key, text);
    *colon = '\0';
    char name[sizeof b->name + 1] = {0};
    if (trim_copy(text, strlen(text), name, sizeof b->name) || !band_name_ok(name))
        return fa_err_set(FA_EINVAL,
                          "key '%s': band name '%s' must be 1-%zu letters, digits or _-.%%", key, text,
                          sizeof b->name - 1);
    char range[64];
    if (trim_copy(colon + 1, strlen(colon + 1), range, sizeof range) ||
        band_range_parse(range, &b->lo, &b->hi))
        return fa_err_set(FA_EINVAL, "key '%s': band '%s': expected lo-hi in %s with 0 <= lo < hi "
                          "(hi may be inf), got '%s'", key, name, unit, colon + 1);
    memcpy(b->name, name, sizeof b->name);
    return 0;
}

/* Checks order and distinct names; closes gaps by raising upper edges (see the header). */
static int bands_check(const char *key, fa_band *b, int n) {
    for (int i = 1; i < n; i++) {
        if (b[i].lo < b[i - 1].hi)
            return fa_err_set(FA_EINVAL,
                              "key '%s': band '%s' starts at %g, below the end %g of band '%s' "
                              "(bands must ascend without overlap)", key, b[i].name, b[i].lo, b[i - 1].hi,
                              b[i - 1].name);
        for (int j = 0; j < i; j++)
            if (strcmp(b[i].name, b[j].name) == 0)
                return fa_err_set(FA_EINVAL, "key '%s': band name '%s' is used twice", key, b[i].name);
    }
    for (int i = 1; i < n; i++) b[i - 1].hi = b[i].lo;
    return 0;
}

static int bands_set(const char *key, const char *value, const char *unit, fa_band *bands, int *nbands) {
    fa_band tmp[FA_MAX_BANDS];
    memset(tmp, 0, sizeof tmp); /* unused slots are zero, as in the defaults */
    int n = 0;
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (n == FA_MAX_BANDS)
            return fa_err_set(FA_EINVAL, "key '%s': more than %d bands", key, FA_MAX_BANDS);
        int rc = band_parse(key, p, len, unit, &tmp[n]);
        if (rc) return rc;
        n++;
        if (!comma) break;
        p = comma + 1;
    }
    int rc = bands_check(key, tmp, n);
    if (rc) return rc;
    memcpy(bands, tmp, sizeof tmp);
    *nbands = n;
    return 0;
}

/* ------------------------------------------------------------ set */

/* Rules that tie two options together. */
static int cross_check(const fa_analytics_config *c) {
    if (c->savgol_window % 2 == 0)
        return fa_err_set(FA_EINVAL, "key 'savgol_window': must be odd, got %d", c->savgol_window);
    if (c->savgol_order >= c->savgol_window)
        return fa_err_set(FA_EINVAL, "key 'savgol_order': %d must be below savgol_window %d",
                          c->savgol_order, c->savgol_window);
    return 0;
}

/* Normalises "pc.max_speed" to "pc_max_speed" into buf. */
static const char *key_normalise(const char *key, char *buf, size_t size) {
    if (strncmp(key, "pc.", 3) != 0 || strlen(key) >= size) return key;
    snprintf(buf, size, "pc_%s", key + 3);
    return buf;
}

/* Sets one option in c (unchanged on error); the message has no "config" prefix. */
static int set_one(fa_analytics_config *c, const char *key, const char *value) {
    char keybuf[64];
    key = key_normalise(key, keybuf, sizeof keybuf);
    fa_analytics_config tmp = *c;
    int rc;
    const opt *o = opt_find(key);
    if (o) rc = opt_set(&tmp, o, value);
    else if (strcmp(key, "smoothing") == 0) rc = smoothing_set(&tmp, value);
    else if (strcmp(key, "bands") == 0) rc = bands_set(key, value, "km/h", tmp.bands, &tmp.nbands);
    else if (strcmp(key, "rel_bands") == 0)
        rc = bands_set(key, value, "percent of peak speed", tmp.rel_bands, &tmp.nrel_bands);
    else return fa_err_set(FA_EINVAL, "unknown key '%s'", key);
    if (!rc) rc = cross_check(&tmp);
    if (!rc) *c = tmp;
    return rc;
}

/* Sets one option by name from text; c is unchanged on error (FA_EINVAL,
 * "config: key 'k': expected ..., got '...'"). */
int fa_analytics_config_set(fa_analytics_config *c, const char *key, const char *value) {
    if (!c || !key || !value) return fa_err_set(FA_EINVAL, "config: NULL key or value");
    int rc = set_one(c, key, value);
    if (rc) fa_err_prefix("config");
    return rc;
}

/* ------------------------------------------------------------ parse */

/* One "key=value" entry (blanks around both trimmed) of line `line`. */
static int parse_entry(fa_analytics_config *c, const char *entry, size_t len, int line) {
    const char *eq = memchr(entry, '=', len);
    char key[64], value[1024];
    if (!eq) {
        char shown[64];
        if (trim_copy(entry, len < sizeof shown - 1 ? len : sizeof shown - 1, shown, sizeof shown))
            shown[0] = 0;
        return fa_err_set(FA_EINVAL, "config:%d: expected key=value, got '%s'", line, shown);
    }
    if (trim_copy(entry, (size_t)(eq - entry), key, sizeof key))
        return fa_err_set(FA_EINVAL, "config:%d: key longer than %zu bytes", line, sizeof key - 1);
    if (trim_copy(eq + 1, len - (size_t)(eq + 1 - entry), value, sizeof value))
        return fa_err_set(FA_EINVAL, "config:%d: key '%s': value longer than %zu bytes", line, key,
                          sizeof value - 1);
    int rc = set_one(c, key, value);
    if (rc) fa_err_prefix("config:%d", line);
    return rc;
}

static int blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)p[i])) return 0;
    return 1;
}

/* Length of the entry starting at p on a line ending at end: up to the next
 * comma, or further over comma-separated pieces that hold no '=' and are not
 * blank (the rest of a band list). */
static size_t entry_len(const char *p, const char *end) {
    const char *q = memchr(p, ',', (size_t)(end - p));
    if (!q) return (size_t)(end - p);
    if (blank(p, (size_t)(q - p))) return (size_t)(q - p);
    for (;;) {
        const char *next = memchr(q + 1, ',', (size_t)(end - q - 1));
        const char *piece_end = next ? next : end;
        size_t plen = (size_t)(piece_end - q - 1);
        if (blank(q + 1, plen) || memchr(q + 1, '=', plen)) return (size_t)(q - p);
        if (!next) return (size_t)(end - p);
        q = next;
    }
}

static int parse_line(fa_analytics_config *c, const char *p, const char *end, int line) {
    const char *hash = memchr(p, '#', (size_t)(end - p));
    if (hash) end = hash;
    while (p < end) {
        size_t len = entry_len(p, end);
        if (!blank(p, len)) {
            int rc = parse_entry(c, p, len, line);
            if (rc) return rc;
        }
        p += len + 1;
    }
    return 0;
}

/* Applies a config text (see the header); all of it or, on error, none
 * (FA_EINVAL, "config:LINE: ..."). */
int fa_analytics_config_parse(fa_analytics_config *c, const char *text) {
    if (!c || !text) return fa_err_set(FA_EINVAL, "config: NULL text");
    fa_analytics_config tmp = *c;
    int line = 1;
    for (const char *p = text;; line++) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        int rc = parse_line(&tmp, p, end, line);
        if (rc) return rc;
        if (!nl) break;
        p = nl + 1;
    }
    *c = tmp;
    return 0;
}

/* ------------------------------------------------------------ JSON */

static int json_key(fa_buf *out, const char *key, int *first) {
    int rc = fa_buf_puts(out, *first ? "" : ",");
    *first = 0;
    if (!rc) rc = fa_json_write_str(out, key);
    if (!rc) rc = fa_buf_putc(out, ':');
    return rc;
}

/* Writes a band edge; an infinite upper edge is null ("no upper edge"). */
static int json_edge(fa_buf *out, double v) {
    return isinf(v) ? fa_buf_puts(out, "null") : fa_json_write_num(out, v);
}

static int json_bands(fa_buf *out, const char *key, const fa_band *b, int n, int *first) {
    if (n < 0) n = 0;
    if (n > FA_MAX_BANDS) n = FA_MAX_BANDS;
    int rc = json_key(out, key, first);
    if (!rc) rc = fa_buf_putc(out, '[');
    for (int i = 0; i < n && !rc; i++) {
        rc = fa_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        if (!rc) rc = fa_json_write_str(out, b[i].name);
        if (!rc) rc = fa_buf_puts(out, ",\"lo\":");
        if (!rc) rc = json_edge(out, b[i].lo);
        if (!rc) rc = fa_buf_puts(out, ",\"hi\":");
        if (!rc) rc = json_edge(out, b[i].hi);
        if (!rc) rc = fa_buf_putc(out, '}');
    }
    if (!rc) rc = fa_buf_putc(out, ']');
    return rc;
}

static int json_opts(fa_buf *out, const fa_analytics_config *c, int pc, int *first) {
    int rc = 0;
    for (size_t i = 0; i < NOPTS && !rc; i++) {
        const opt *o = &opts[i];
        int is_pc = strncmp(o->name, "pc_", 3) == 0;
        if (is_pc != pc) continue;
        rc = json_key(out, is_pc ? o->name + 3 : o->name, first);
        const char *base = (const char *)c + o->offset;
        if (!rc && o->type == OPT_INT) rc = fa_buf_printf(out, "%d", *(const int *)(const void *)base);
        else if (!rc) rc = fa_json_write_num(out, *(const double *)(const void *)base);
    }
    return rc;
}

/* The definitions in words, so an output carries its own glossary. */
static const char *const notes[][2] = {
    {"bands", "[lo, hi) in km/h of the smoothed speed; hi null: no upper edge"},
    {"rel_bands", "[lo, hi) in percent of the player's peak speed (peak_speed below)"},
    {"speed", "savgol: first derivative of the local polynomial fit of position; butterworth: zero-phase "
              "low-pass of position, then central differences; none: central differences"},
    {"acceleration", "derivative of speed with the same filter as the speed"},
    {"distance", "trapezoidal integral of speed over contiguous samples; nothing across unbridged gaps"},
    {"efforts", "a run of consecutive samples at or above the speed (above |a| for accelerations) lasting at "
                "least the minimum time, one sample counting 1/frame_rate s; runs never span a gap"},
    {"peak_speed", "the highest speed held for peak_hold_s: max over windows of the window minimum"},
    {"p99_speed", "99th percentile of all samples' speed, linear between closest ranks"},
    {"gaps", "missing time = missing samples / frame_rate; bridged by linear interpolation when shorter "
             "than max_gap_s, else the track is split and nothing is computed across"},
    {"outliers", "a sample implying more than player_max_speed (ball_max_speed) from the last accepted "
                 "sample is dropped before smoothing and treated as missing"},
};

static int json_notes(fa_buf *out, int *first) {
    int rc = json_key(out, "notes", first);
    if (!rc) rc = fa_buf_putc(out, '{');
    int nfirst = 1;
    for (size_t i = 0; i < sizeof notes / sizeof notes[0] && !rc; i++) {
        rc = json_key(out, notes[i][0], &nfirst);
        if (!rc) rc = fa_json_write_str(out, notes[i][1]);
    }
    if (!rc) rc = fa_buf_putc(out, '}');
    return rc;
}

/* Appends one JSON object: every option by its key (pitch control's in
 * "pc"), bands as {"name", "lo", "hi"} (hi null: open), units, and "notes"
 * defining each figure in words. */
int fa_analytics_config_json(const fa_analytics_config *c, fa_buf *out) {
    if (!c || !out) return fa_err_set(FA_EINVAL, "config: NULL argument");
    int first = 1;
    int rc = fa_buf_putc(out, '{');
    if (!rc) rc = json_key(out, "smoothing", &first);
    if (!rc) rc = fa_json_write_str(out, smoothing_name(c->smoothing));
    if (!rc) rc = json_opts(out, c, 0, &first);
    if (!rc) rc = json_bands(out, "bands", c->bands, c->nbands, &first);
    if (!rc) rc = json_key(out, "bands_unit", &first);
    if (!rc) rc = fa_json_write_str(out, "km/h");
    if (!rc) rc = json_bands(out, "rel_bands", c->rel_bands, c->nrel_bands, &first);
    if (!rc) rc = json_key(out, "rel_bands_unit", &first);
    if (!rc) rc = fa_json_write_str(out, "percent of peak speed");
    if (!rc) rc = json_key(out, "pc", &first);
    int pfirst = 1;
    if (!rc) rc = fa_buf_putc(out, '{');
    if (!rc) rc = json_opts(out, c, 1, &pfirst);
    if (!rc) rc = fa_buf_putc(out, '}');
    if (!rc) rc = json_notes(out, &first);
    if (!rc) rc = fa_buf_putc(out, '}');
    return rc;
}
