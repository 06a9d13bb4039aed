/*
 * alerts.c - the built-in alert rules: the original thresholds,
 * evaluated over the registry's current values, with Prometheus' state
 * machine (inactive -> pending -> firing after `for` seconds -> inactive).
 *
 * Rules (names and thresholds shared with deploy/prometheus/alerts.yml):
 *   FaApiLatencyP95High  p95 of fa_http_request_duration_seconds (all
 *                        routes and statuses) over the window > 0.5 s
 *   FaMemoryHigh         process_resident_memory_bytes / limit > 0.85
 *   FaCacheHitRateLow    per layer, hits / (hits + misses) over the window < 0.8
 *   FaDbPoolSaturated    per pool, connections in use / max > 0.8
 *   FaGpuUnderutilized   per gpu, utilisation < 0.6 while jobs run on it
 *
 * Why a ring of snapshots: counters and histograms only grow, so "over the
 * last 5 minutes" is the difference between now and a snapshot taken 5
 * minutes ago - what Prometheus' rate()/increase() do. The engine keeps one
 * snapshot per step (10 s) for a window (5 min) plus two, and compares the
 * live values with the newest snapshot at least a window old (or the
 * oldest one while the process is younger than the window). A snapshot is
 * the latency histogram summed over its children and hits and misses per
 * layer: about 2 KiB each. Rules on counts need a minimum number of
 * requests or lookups in the window, so one slow request after a quiet
 * night does not page anyone; with too few the value is null and the
 * alert inactive.
 *
 * Label values are taken from the families at each evaluation; an alert
 * per label value appears the first time the value does. Gauges are summed
 * per label value (sum by (pool)), utilisation averaged.
 *
 * Global state: the process-wide engine and its thread, next to the
 * registry they watch (the allowed global).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs.h"

#define MAX_SERIES 16 /* label values per labelled rule */
#define MAX_ALERTS 64
#define MAX_RING 4096
#define LABEL_VALUE_MAX 128

enum { R_LATENCY, R_MEMORY, R_CACHE, R_DB_POOL, R_GPU, NRULES };

typedef struct rule_def {
    const char *name;
    const char *label; /* the label it is split by, NULL when one alert */
    int fires_above;   /* 1: value > threshold, 0: value < threshold */
    const char *summary;
} rule_def;

static const rule_def rules[NRULES] = {
    {FA_ALERT_API_LATENCY, NULL, 1, "API p95 latency over the window is above the threshold (seconds)"},
    {FA_ALERT_MEMORY, NULL, 1, "Resident memory is above the threshold share of the memory limit"},
    {FA_ALERT_CACHE_HIT_RATE, FA_L_LAYER, 0, "Cache hit rate over the window is below the threshold"},
    {FA_ALERT_DB_POOL, FA_L_POOL, 1, "Database pool connections in use are above the threshold share"},
    {FA_ALERT_GPU, FA_L_GPU, 0, "GPU utilisation is below the threshold while jobs run on it"},
};

static double rule_threshold(const fa_obs_alert_config *c, int r) {
    const double t[NRULES] = {c->latency_p95_s, c->memory_ratio, c->cache_hit_ratio, c->db_pool_ratio,
                              c->gpu_util_ratio};
    return t[r];
}

static double rule_for(const fa_obs_alert_config *c, int r) {
    const double f[NRULES] = {c->latency_for_s, c->memory_for_s, c->cache_for_s, c->db_pool_for_s,
                              c->gpu_for_s};
    return f[r];
}

/* Values of one family summed per value of one label. */
typedef struct series {
    size_t n;
    struct {
        char value[LABEL_VALUE_MAX];
        double sum, count;
    } e[MAX_SERIES];
} series;

typedef struct snapshot {
    double t;
    int has_latency;
    fa_obs_histogram_snap latency;
    series hits, misses; /* per layer */
} snapshot;

typedef struct alert {
    int rule;
    char value_of_label[LABEL_VALUE_MAX]; /* "" for a rule without label */
    fa_obs_alert_state state;
    double value, since, pending_since;
} alert;

struct fa_obs_alerts {
    fa_obs_registry *reg;
    fa_obs_alert_config cfg;
    pthread_mutex_t lock;
    snapshot *ring;
    size_t ring_cap, ring_len, ring_head; /* ring_head: the oldest */
    snapshot cur;
    int evaluated;
    double last_eval;
    alert alerts[MAX_ALERTS];
    size_t nalerts;
    fa_buf events; /* notify payloads of this evaluation, one per line */
};

void fa_obs_alert_config_default(fa_obs_alert_config *c) {
    *c = (fa_obs_alert_config){
        .step_s = 10,
        .window_s = 300,
        .latency_p95_s = 0.5,
        .latency_for_s = 120,
        .latency_min_requests = 20,
        .memory_ratio = 0.85,
        .memory_for_s = 300,
        .cache_hit_ratio = 0.80,
        .cache_for_s = 600,
        .cache_min_lookups = 100,
        .db_pool_ratio = 0.80,
        .db_pool_for_s = 120,
        .gpu_util_ratio = 0.60,
        .gpu_for_s = 600,
    };
}

static int check_config(const fa_obs_alert_config *c) {
    if (!(c->step_s > 0) || !(c->window_s >= c->step_s) || c->window_s / c->step_s > MAX_RING - 2)
        return fa_err_set(FA_EINVAL,
                          "obs: alerts: step_s (%g) must be > 0 and window_s (%g) >= step_s, "
                          "at most %d steps",
                          c->step_s, c->window_s, MAX_RING - 2);
    for (int r = 0; r < NRULES; r++) {
        if (!isfinite(rule_threshold(c, r)) || !(rule_for(c, r) >= 0))
            return fa_err_set(FA_EINVAL, "obs: alerts: rule %s: threshold must be finite and for_s >= 0",
                              rules[r].name);
    }
    return 0;
}

fa_obs_alerts *fa_obs_alerts_new(fa_obs_registry *r, const fa_obs_alert_config *c) {
    fa_obs_alert_config def;
    fa_obs_alert_config_default(&def);
    if (!c) c = &def;
    if (check_config(c)) return NULL;
    if (!r && !(r = fa_obs_default())) return NULL;
    fa_obs_alerts *a = fa_calloc(1, sizeof *a);
    if (!a) return NULL;
    a->reg = r;
    a->cfg = *c;
    a->ring_cap = (size_t)ceil(c->window_s / c->step_s) + 2;
    a->ring = fa_calloc(a->ring_cap, sizeof *a->ring);
    if (!a->ring) {
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    return a;
}

void fa_obs_alerts_free(fa_obs_alerts *a) {
    if (!a) return;
    pthread_mutex_destroy(&a->lock);
    fa_buf_free(&a->events);
    free(a->ring);
    free(a);
}

/* ---------------------------------------------------------------- reading the registry */

typedef struct collect_ctx {
    series *out;
    long label_index; /* -1: the family lacks the label, all values go to "" */
} collect_ctx;

static void collect_one(void *ud, const char *const *values, double value) {
    collect_ctx *ctx = ud;
    series *s = ctx->out;
    const char *key = ctx->label_index >= 0 ? values[ctx->label_index] : "";
    char truncated[LABEL_VALUE_MAX];
    fa_strlcpy_utf8(truncated, key, sizeof truncated);
    size_t i = 0;
    while (i < s->n && strcmp(s->e[i].value, truncated) != 0) i++;
    if (i == s->n) {
        if (s->n == MAX_SERIES) return;
        memcpy(s->e[i].value, truncated, sizeof truncated);
        s->e[i].sum = s->e[i].count = 0;
        s->n++;
    }
    if (isnan(value)) return;
    s->e[i].sum += value;
    s->e[i].count += 1;
}

/* Sums a counter or gauge family per value of label (NULL: one series ""). */
static int collect(fa_obs_registry *r, const char *family, const char *label, series *out) {
    out->n = 0;
    fa_obs_family *f = fa_obs_family_find(r, family);
    if (!f || fa_obs_family_type(f) == FA_OBS_HISTOGRAM) return 0;
    collect_ctx ctx = {out, -1};
    for (size_t i = 0; label && i < fa_obs_family_nlabels(f); i++)
        if (strcmp(fa_obs_family_label(f, i), label) == 0) ctx.label_index = (long)i;
    fa_obs_family_each(f, collect_one, &ctx);
    return 1;
}

/* Finds value's entry: 1 and *sum, *count (when not NULL) set, or 0. */
static int series_find(const series *s, const char *value, double *sum, double *count) {
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->e[i].value, value) == 0) {
            if (sum) *sum = s->e[i].sum;
            if (count) *count = s->e[i].count;
            return 1;
        }
    }
    return 0;
}

static void take_snapshot(fa_obs_alerts *a, snapshot *s, double now) {
    s->t = now;
    fa_obs_family *lat = fa_obs_family_find(a->reg, FA_M_HTTP_REQUEST_SECONDS);
    s->has_latency = lat && fa_obs_family_histogram_read(lat, &s->latency) == 0;
    collect(a->reg, FA_M_CACHE_HITS, FA_L_LAYER, &s->hits);
    collect(a->reg, FA_M_CACHE_MISSES, FA_L_LAYER, &s->misses);
}

/* The newest snapshot at least a window old, else the oldest; NULL when none. */
static const snapshot *baseline(const fa_obs_alerts *a, double now) {
    const snapshot *best = NULL;
    for (size_t i = 0; i < a->ring_len; i++) {
        const snapshot *s = &a->ring[(a->ring_head + i) % a->ring_cap];
        if (!best || s->t <= now - a->cfg.window_s) best = s;
    }
    return best;
}

static void ring_push(fa_obs_alerts *a, const snapshot *s) {
    if (a->ring_len > 0) {
        const snapshot *newest = &a->ring[(a->ring_head + a->ring_len - 1) % a->ring_cap];
        if (s->t < newest->t)
            a->ring_len = 0; /* the clock went back: start again */
        else if (s->t - newest->t < a->cfg.step_s)
            return;
    }
    if (a->ring_len == a->ring_cap) {
        a->ring_head = (a->ring_head + 1) % a->ring_cap;
        a->ring_len--;
    }
    a->ring[(a->ring_head + a->ring_len) % a->ring_cap] = *s;
    a->ring_len++;
}

/* ---------------------------------------------------------------- rule values */

static double latency_p95(const fa_obs_alerts *a, const snapshot *cur, const snapshot *base) {
    if (!cur->has_latency) return NAN;
    fa_obs_histogram_snap d = cur->latency;
    d.count = 0;
    for (size_t i = 0; i <= d.nbounds; i++) {
        uint64_t before = base && base->has_latency ? base->latency.counts[i] : 0;
        d.counts[i] = d.counts[i] > before ? d.counts[i] - before : 0;
        d.count += d.counts[i];
    }
    if (d.count == 0 || d.count < a->cfg.latency_min_requests) return NAN;
    return fa_obs_histogram_quantile(&d, 0.95);
}

static double memory_ratio(const fa_obs_alerts *a) {
    series s;
    double rss = NAN, limit = a->cfg.memory_limit_bytes;
    if (collect(a->reg, FA_M_PROCESS_RSS, NULL, &s))
        series_find(&s, "", &rss, NULL);
    else {
        fa_obs_process_stats ps;
        if (fa_obs_process_sample(&ps) == 0) rss = ps.rss_bytes;
    }
    if (!(limit > 0) && collect(a->reg, FA_M_MEMORY_LIMIT, NULL, &s)) series_find(&s, "", &limit, NULL);
    if (!(limit > 0)) limit = fa_obs_memory_limit_bytes();
    return limit > 0 ? rss / limit : NAN;
}

static double hit_rate(const fa_obs_alerts *a, const snapshot *cur, const snapshot *base, const char *layer) {
    double hits = 0, misses = 0, hits0 = 0, misses0 = 0;
    series_find(&cur->hits, layer, &hits, NULL);
    series_find(&cur->misses, layer, &misses, NULL);
    if (base) {
        series_find(&base->hits, layer, &hits0, NULL);
        series_find(&base->misses, layer, &misses0, NULL);
    }
    double dh = fmax(0, hits - hits0), dm = fmax(0, misses - misses0);
    if (dh + dm <= 0 || dh + dm < (double)a->cfg.cache_min_lookups) return NAN;
    return dh / (dh + dm);
}

/* ---------------------------------------------------------------- states */

static const char *state_name(fa_obs_alert_state s) {
    return s == FA_OBS_ALERT_FIRING ? "firing" : s == FA_OBS_ALERT_PENDING ? "pending" : "inactive";
}

static void labels_text(const alert *al, char *buf, size_t size) {
    const char *label = rules[al->rule].label;
    if (label)
        snprintf(buf, size, "%s=%s", label, al->value_of_label);
    else if (size)
        buf[0] = '\0';
}

static alert *alert_get(fa_obs_alerts *a, int rule, const char *value_of_label, double now) {
    for (size_t i = 0; i < a->nalerts; i++)
        if (a->alerts[i].rule == rule && strcmp(a->alerts[i].value_of_label, value_of_label) == 0)
            return &a->alerts[i];
    if (a->nalerts == MAX_ALERTS) return NULL;
    alert *al = &a->alerts[a->nalerts++];
    *al = (alert){.rule = rule, .state = FA_OBS_ALERT_INACTIVE, .value = NAN, .since = now};
    fa_strlcpy_utf8(al->value_of_label, value_of_label, sizeof al->value_of_label);
    return al;
}

/* Appends "key": for a member after the first (the calls are sequenced:
 * every writer here chains them with ||, which stops at the first error). */
static int put_key(fa_buf *out, const char *key) {
    return fa_buf_putc(out, ',') || fa_json_write_str(out, key) || fa_buf_putc(out, ':');
}

static int write_alert(const fa_obs_alerts *a, const alert *al, fa_buf *out) {
    const rule_def *r = &rules[al->rule];
    if (fa_buf_puts(out, "{\"name\":") || fa_json_write_str(out, r->name) || put_key(out, "labels") ||
        fa_buf_putc(out, '{'))
        return FA_ENOMEM;
    if (r->label && (fa_json_write_str(out, r->label) || fa_buf_putc(out, ':') ||
                     fa_json_write_str(out, al->value_of_label)))
        return FA_ENOMEM;
    if (fa_buf_putc(out, '}') || put_key(out, "state") || fa_json_write_str(out, state_name(al->state)) ||
        put_key(out, "value") || fa_json_write_num(out, al->value) || put_key(out, "threshold") ||
        fa_json_write_num(out, rule_threshold(&a->cfg, al->rule)) || put_key(out, "for_s") ||
        fa_json_write_num(out, rule_for(&a->cfg, al->rule)) || put_key(out, "since") ||
        fa_json_write_num(out, al->since) || put_key(out, "summary") || fa_json_write_str(out, r->summary) ||
        fa_buf_putc(out, '}'))
        return FA_ENOMEM;
    return 0;
}

static void transition(fa_obs_alerts *a, alert *al, fa_obs_alert_state to, double now) {
    fa_obs_alert_state from = al->state;
    char labels[LABEL_VALUE_MAX + 32];
    labels_text(al, labels, sizeof labels);
    al->state = to;
    al->since = now;
    fa_log(to == FA_OBS_ALERT_FIRING ? FA_LOG_WARN : FA_LOG_INFO, "alert state changed",
           "alert=%s%s%s state=%s from=%s value=%g threshold=%g", rules[al->rule].name, labels[0] ? " " : "",
           labels, state_name(to), state_name(from), al->value, rule_threshold(&a->cfg, al->rule));
    if (!a->cfg.notify || (to != FA_OBS_ALERT_FIRING && from != FA_OBS_ALERT_FIRING)) return;
    size_t mark = a->events.len;
    if (fa_buf_puts(&a->events, to == FA_OBS_ALERT_FIRING ? "{\"status\":\"firing\",\"alert\":"
                                                          : "{\"status\":\"resolved\",\"alert\":") ||
        write_alert(a, al, &a->events) || fa_buf_puts(&a->events, "}\n")) {
        a->events.len = mark; /* out of memory: this notification is dropped whole */
        if (a->events.data) a->events.data[mark] = '\0';
    }
}

static void update(fa_obs_alerts *a, int rule, const char *value_of_label, double value, double now) {
    alert *al = alert_get(a, rule, value_of_label, now);
    if (!al) return;
    double threshold = rule_threshold(&a->cfg, rule);
    al->value = value;
    int holds = !isnan(value) && (rules[rule].fires_above ? value > threshold : value < threshold);
    if (!holds) {
        if (al->state != FA_OBS_ALERT_INACTIVE) transition(a, al, FA_OBS_ALERT_INACTIVE, now);
        return;
    }
    if (al->state == FA_OBS_ALERT_INACTIVE) {
        transition(a, al, FA_OBS_ALERT_PENDING, now);
        al->pending_since = now;
    }
    if (al->state == FA_OBS_ALERT_PENDING && now - al->pending_since >= rule_for(&a->cfg, rule))
        transition(a, al, FA_OBS_ALERT_FIRING, now);
}

static void eval_window_rules(fa_obs_alerts *a, const snapshot *cur, const snapshot *base, double now) {
    update(a, R_LATENCY, "", latency_p95(a, cur, base), now);
    for (size_t i = 0; i < cur->hits.n; i++)
        update(a, R_CACHE, cur->hits.e[i].value, hit_rate(a, cur, base, cur->hits.e[i].value), now);
    for (size_t i = 0; i < cur->misses.n; i++) /* layers that never hit */
        if (!series_find(&cur->hits, cur->misses.e[i].value, NULL, NULL))
            update(a, R_CACHE, cur->misses.e[i].value, hit_rate(a, cur, base, cur->misses.e[i].value), now);
}

static void eval_gauge_rules(fa_obs_alerts *a, double now) {
    series in_use, max, util, jobs;
    update(a, R_MEMORY, "", memory_ratio(a), now);
    collect(a->reg, FA_M_DB_POOL_IN_USE, FA_L_POOL, &in_use);
    collect(a->reg, FA_M_DB_POOL_MAX, FA_L_POOL, &max);
    for (size_t i = 0; i < in_use.n; i++) {
        double size = 0;
        series_find(&max, in_use.e[i].value, &size, NULL);
        update(a, R_DB_POOL, in_use.e[i].value, size > 0 ? in_use.e[i].sum / size : NAN, now);
    }
    collect(a->reg, FA_M_GPU_UTILIZATION, FA_L_GPU, &util);
    collect(a->reg, FA_M_GPU_JOBS, FA_L_GPU, &jobs);
    for (size_t i = 0; i < util.n; i++) {
        double running = 1, n = util.e[i].count;
        series_find(&jobs, util.e[i].value, &running, NULL);
        update(a, R_GPU, util.e[i].value, running > 0 && n > 0 ? util.e[i].sum / n : NAN, now);
    }
}

/* Calls notify for each payload queued in events (one per line). */
static void deliver(const fa_obs_alert_config *cfg, fa_buf *events) {
    for (char *p = events->data, *end = p + events->len; p && p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        *nl = '\0';
        cfg->notify(cfg->notify_ud, p, (size_t)(nl - p));
        p = nl + 1;
    }
    fa_buf_reset(events);
}

int fa_obs_alerts_eval(fa_obs_alerts *a, double now) {
    pthread_mutex_lock(&a->lock);
    take_snapshot(a, &a->cur, now);
    eval_window_rules(a, &a->cur, baseline(a, now), now);
    eval_gauge_rules(a, now);
    ring_push(a, &a->cur);
    a->evaluated = 1;
    a->last_eval = now;
    fa_buf events = a->events;
    a->events = (fa_buf){0};
    pthread_mutex_unlock(&a->lock);
    if (events.len) deliver(&a->cfg, &events);
    fa_buf_free(&events);
    return 0;
}

int fa_obs_alerts_write_json(fa_obs_alerts *a, fa_buf *out) {
    pthread_mutex_lock(&a->lock);
    int failed = fa_buf_puts(out, "{\"evaluated_at\":") ||
                 fa_json_write_num(out, a->evaluated ? a->last_eval : NAN) || put_key(out, "window_s") ||
                 fa_json_write_num(out, a->cfg.window_s) || put_key(out, "alerts") || fa_buf_putc(out, '[');
    for (size_t i = 0; i < a->nalerts && !failed; i++)
        failed = (i && fa_buf_putc(out, ',')) || write_alert(a, &a->alerts[i], out);
    failed = failed || fa_buf_puts(out, "]}");
    pthread_mutex_unlock(&a->lock);
    return failed ? FA_ENOMEM : 0;
}

int fa_obs_alerts_get(fa_obs_alerts *a, const char *name, const char *labels, fa_obs_alert_info *out) {
    int found = 0;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->nalerts && !found; i++) {
        const alert *al = &a->alerts[i];
        labels_text(al, out->labels, sizeof out->labels);
        if (strcmp(rules[al->rule].name, name) != 0 || strcmp(out->labels, labels ? labels : "") != 0)
            continue;
        snprintf(out->name, sizeof out->name, "%s", rules[al->rule].name);
        out->state = al->state;
        out->value = al->value;
        out->threshold = rule_threshold(&a->cfg, al->rule);
        out->for_s = rule_for(&a->cfg, al->rule);
        out->since = al->since;
        found = 1;
    }
    pthread_mutex_unlock(&a->lock);
    return found;
}

/* ---------------------------------------------------------------- the process-wide engine */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t global_wake = PTHREAD_COND_INITIALIZER;
static fa_obs_alerts *global_alerts;
static pthread_t global_thread;
static int global_running, global_stopping;

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *alert_thread(void *arg) {
    fa_obs_alerts *a = arg;
    pthread_mutex_lock(&global_lock);
    while (!global_stopping) {
        pthread_mutex_unlock(&global_lock);
        fa_obs_alerts_eval(a, wall_now());
        pthread_mutex_lock(&global_lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        double next = (double)until.tv_nsec * 1e-9 + a->cfg.step_s;
        until.tv_sec += (time_t)next;
        until.tv_nsec = (long)((next - floor(next)) * 1e9);
        while (!global_stopping && pthread_cond_timedwait(&global_wake, &global_lock, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&global_lock);
    return NULL;
}

int fa_obs_alerts_start(const fa_obs_alert_config *c) {
    fa_obs_alerts *a = fa_obs_alerts_new(NULL, c);
    if (!a) return fa_err_code() ? fa_err_code() : FA_ENOMEM;
    pthread_mutex_lock(&global_lock);
    int rc = 0;
    if (global_running)
        rc = fa_err_set(FA_EINVAL, "obs: alerts: the alert thread is already running");
    else if (pthread_create(&global_thread, NULL, alert_thread, a) != 0)
        rc = fa_err_set(FA_EIO, "obs: alerts: cannot start the alert thread");
    if (rc == 0) {
        fa_obs_alerts_free(global_alerts);
        global_alerts = a;
        global_running = 1;
        global_stopping = 0;
    }
    pthread_mutex_unlock(&global_lock);
    if (rc) fa_obs_alerts_free(a);
    return rc;
}

void fa_obs_alerts_stop(void) {
    pthread_mutex_lock(&global_lock);
    int running = global_running;
    global_stopping = 1;
    pthread_cond_broadcast(&global_wake);
    pthread_mutex_unlock(&global_lock);
    if (running) pthread_join(global_thread, NULL);
    pthread_mutex_lock(&global_lock);
    fa_obs_alerts_free(global_alerts);
    global_alerts = NULL;
    global_running = global_stopping = 0;
    pthread_mutex_unlock(&global_lock);
}

int fa_obs_alerts_json(fa_buf *out) {
    pthread_mutex_lock(&global_lock);
    if (!global_alerts) global_alerts = fa_obs_alerts_new(NULL, NULL);
    fa_obs_alerts *a = global_alerts;
    int rc = a ? 0 : (fa_err_code() ? fa_err_code() : FA_ENOMEM);
    if (a && !global_running) {
        double now = wall_now();
        pthread_mutex_lock(&a->lock);
        int due = !a->evaluated || now - a->last_eval >= a->cfg.step_s;
        pthread_mutex_unlock(&a->lock);
        if (due) rc = fa_obs_alerts_eval(a, now);
    }
    if (rc == 0) rc = fa_obs_alerts_write_json(a, out);
    pthread_mutex_unlock(&global_lock);
    return rc;
}
