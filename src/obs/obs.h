/*
 * obs.h - the face of src/obs: the metrics registry, its Prometheus text
 * exposition, process metrics and the built-in alert rules.
 *
 * Why it is built this way
 * ------------------------
 * The registry is the one piece of global mutable state ARCHITECTURE.md
 * allows: every module (server, cache, store, jobs) registers its metric
 * families in it and /metrics writes them all out. No C Prometheus client
 * is packaged in Debian 12 and the text format (0.0.4) is simple, so this
 * module writes it itself.
 *
 * Hot path. A request touches a latency histogram, a counter or two and the
 * in-flight gauge, on every loop thread at once. So:
 *   - children (one per label set) are created once, then used through a
 *     stable pointer the caller keeps; a child is never freed before its
 *     registry. Finding a child by label values is lock-free (an
 *     open-addressed table of atomic pointers, replaced, never edited in
 *     place, when it grows); only creating one takes the family's mutex.
 *   - counters, histograms and the inc/dec part of gauges are sharded: each
 *     child has one 128-byte cell per shard, a thread always writes the cell
 *     of its shard (threads get shard numbers round robin on first use;
 *     the registry has a power of two >= 2 x CPUs shards, 4..64), with a
 *     relaxed atomic add. No lock, no cache line shared between loops,
 *     exact totals (the 8-thread test counts every increment). Readers sum
 *     the cells at scrape time, which is rare.
 *   - a histogram observation is one bucket search over its (<= 32) bounds,
 *     one atomic add to the bucket and one compare-and-swap on the shard's
 *     sum (uncontended, so it succeeds at once). _count is derived from the
 *     buckets at scrape, so _count always equals the +Inf bucket.
 * Every operation on a child accepts NULL and does nothing, so a caller
 * whose registration failed (bad name, too many label sets) keeps working.
 *
 * Families are "get or create": registering a name that exists returns the
 * existing family when type, label names and bounds match (help text is
 * not compared), so modules need no start-up order. Use the FA_M_* names
 * below; each comment gives the type and label names to register with.
 *
 * Process metrics (process_*) are sampled from /proc/self at scrape by
 * callback children; fa_obs_default() registers them.
 *
 * Alerts (alerts.c) evaluate the original thresholds over the
 * registry's values: API p95 latency over a sliding window (a ring of
 * histogram snapshots), memory use against the cgroup or machine limit,
 * cache hit rate per layer over the window, DB pool use, GPU utilisation
 * while a GPU has work. The same rules, over the same names, are in
 * deploy/prometheus/alerts.yml.
 */
#ifndef FA_OBS_H
#define FA_OBS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---------------------------------------------------------------- metric names
 * The names every module uses. Labels: route is the route template
 * ("/v1/matches/{id}", never the raw path: label sets must stay few), or
 * "other" when no route matched; status is the numeric code ("200"); layer
 * is "l1" (in-process), "l2" (Redis) or "l3" (CDN/edge); pool, queue,
 * dependency and gpu name the thing. */

/* HTTP server */
#define FA_M_HTTP_REQUEST_SECONDS "fa_http_request_duration_seconds" /* histogram route,status; latency */
#define FA_M_HTTP_INFLIGHT "fa_http_requests_in_flight"              /* gauge, no labels */
#define FA_M_HTTP_CONNECTIONS "fa_http_connections_open"             /* gauge, no labels */
/* caches */
#define FA_M_CACHE_HITS "fa_cache_hits_total"           /* counter layer */
#define FA_M_CACHE_MISSES "fa_cache_misses_total"       /* counter layer */
#define FA_M_CACHE_EVICTIONS "fa_cache_evictions_total" /* counter layer */
#define FA_M_CACHE_BYTES "fa_cache_bytes"               /* gauge layer: bytes held (L1 bytes) */
#define FA_M_CACHE_ENTRIES "fa_cache_entries"           /* gauge layer */
/* circuit breakers: 0 closed, 1 half-open, 2 open */
#define FA_M_BREAKER_STATE "fa_circuit_breaker_state"       /* gauge dependency */
#define FA_M_BREAKER_TRIPS "fa_circuit_breaker_trips_total" /* counter dependency */
/* database pool */
#define FA_M_DB_POOL_IN_USE "fa_db_pool_connections_in_use" /* gauge pool */
#define FA_M_DB_POOL_MAX "fa_db_pool_connections_max"       /* gauge pool: pool size */
#define FA_M_DB_POOL_WAIT "fa_db_pool_wait_seconds"         /* histogram pool; latency buckets */
/* job queues (when they exist) */
#define FA_M_QUEUE_LAG "fa_queue_lag_seconds"      /* gauge queue: age of the oldest pending job */
#define FA_M_QUEUE_PENDING "fa_queue_pending_jobs" /* gauge queue */
/* GPU: utilisation in [0, 1], and jobs running on it (the alert applies while > 0) */
#define FA_M_GPU_UTILIZATION "fa_gpu_utilization_ratio" /* gauge gpu */
#define FA_M_GPU_JOBS "fa_gpu_jobs_active"              /* gauge gpu */
/* process (registered by fa_obs_process_register) */
#define FA_M_PROCESS_RSS "process_resident_memory_bytes"
#define FA_M_PROCESS_VMEM "process_virtual_memory_bytes"
#define FA_M_PROCESS_CPU "process_cpu_seconds_total"
#define FA_M_PROCESS_OPEN_FDS "process_open_fds"
#define FA_M_PROCESS_MAX_FDS "process_max_fds"
#define FA_M_PROCESS_START_TIME "process_start_time_seconds"
#define FA_M_PROCESS_THREADS "process_threads"
#define FA_M_MEMORY_LIMIT "fa_memory_limit_bytes" /* cgroup memory.max, else MemTotal */
#define FA_M_BUILD_INFO "fa_build_info"           /* gauge version, always 1 */

#define FA_L_ROUTE "route"
#define FA_L_STATUS "status"
#define FA_L_LAYER "layer"
#define FA_L_DEPENDENCY "dependency"
#define FA_L_POOL "pool"
#define FA_L_QUEUE "queue"
#define FA_L_GPU "gpu"

/* Latency buckets in seconds, 0.5 ms .. 10 s (14 bounds). */
#define FA_OBS_LATENCY_NBUCKETS 14
extern const double fa_obs_latency_buckets[FA_OBS_LATENCY_NBUCKETS];

/* The Content-Type of fa_obs_expose's output. */
#define FA_OBS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---------------------------------------------------------------- registry */

#define FA_OBS_MAX_LABELS 8         /* label names per family */
#define FA_OBS_MAX_BUCKETS 32       /* finite bounds per histogram */
#define FA_OBS_MAX_CHILDREN 10000   /* label sets per family, beyond: FA_ELIMIT */
#define FA_OBS_MAX_LABEL_VALUE 1024 /* bytes of one label value */

typedef enum fa_obs_type { FA_OBS_COUNTER, FA_OBS_GAUGE, FA_OBS_HISTOGRAM } fa_obs_type;

typedef struct fa_obs_registry fa_obs_registry;
typedef struct fa_obs_family fa_obs_family;
typedef struct fa_obs_counter fa_obs_counter;
typedef struct fa_obs_gauge fa_obs_gauge;
typedef struct fa_obs_histogram fa_obs_histogram;

/* A NULL-terminated list of label names or values, as a compound literal:
 * FA_OBS_LABELS("route", "status"). */
#define FA_OBS_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A new empty registry (tests, benchmarks); NULL on ENOMEM. Free it with
 * fa_obs_registry_free once no thread uses it or its children. */
fa_obs_registry *fa_obs_registry_new(void);
void fa_obs_registry_free(fa_obs_registry *r);

/* The process-wide registry, created on first use with the process metrics
 * and fa_build_info. Every function taking a registry takes NULL for it.
 * Returns NULL only when the first creation ran out of memory. */
fa_obs_registry *fa_obs_default(void);
/* Stops the alert thread and frees the process-wide registry (end of main,
 * for leak checkers): no thread may use a metric after it. */
void fa_obs_shutdown(void);

/* Registers (or finds) a family. name: [a-zA-Z_:][a-zA-Z0-9_:]*; labels:
 * NULL or a NULL-terminated list of at most FA_OBS_MAX_LABELS names
 * [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" ("le" is reserved in
 * histograms). Histogram bounds: 1..FA_OBS_MAX_BUCKETS finite, strictly
 * increasing (+Inf is implicit). Returns the family, or NULL with FA_EINVAL
 * (bad name, or the name exists with another type, labels or bounds) or
 * FA_ENOMEM. */
fa_obs_family *fa_obs_counter_family(fa_obs_registry *r, const char *name, const char *help,
                                     const char *const *labels);
fa_obs_family *fa_obs_gauge_family(fa_obs_registry *r, const char *name, const char *help,
                                   const char *const *labels);
fa_obs_family *fa_obs_histogram_family(fa_obs_registry *r, const char *name, const char *help,
                                       const char *const *labels, const double *bounds, size_t nbounds);

/* The child for one label set (values in the family's label order, as a
 * NULL-terminated list; NULL for a family without labels), created on
 * first use. Lock-free when it exists. Values must be valid UTF-8 of at
 * most FA_OBS_MAX_LABEL_VALUE bytes. Returns NULL with FA_EINVAL (wrong
 * type, count or value), FA_ELIMIT (more than FA_OBS_MAX_CHILDREN label
 * sets) or FA_ENOMEM. Keep the pointer: it lives as long as the registry. */
fa_obs_counter *fa_obs_counter_with(fa_obs_family *f, const char *const *values);
fa_obs_gauge *fa_obs_gauge_with(fa_obs_family *f, const char *const *values);
fa_obs_histogram *fa_obs_histogram_with(fa_obs_family *f, const char *const *values);

/* Shortcuts for a metric without labels: family and its one child. */
fa_obs_counter *fa_obs_counter_get(fa_obs_registry *r, const char *name, const char *help);
fa_obs_gauge *fa_obs_gauge_get(fa_obs_registry *r, const char *name, const char *help);
fa_obs_histogram *fa_obs_histogram_get(fa_obs_registry *r, const char *name, const char *help,
                                       const double *bounds, size_t nbounds);

/* Counters count up by whole numbers; thread-safe, lock-free, sharded. */
void fa_obs_counter_inc(fa_obs_counter *c);
void fa_obs_counter_add(fa_obs_counter *c, uint64_t n);
/* Current total (sum of the shards; exact once writers have finished). A
 * sampled counter returns its callback's value truncated. */
uint64_t fa_obs_counter_value(const fa_obs_counter *c);
/* Makes the counter sampled: at scrape its value is fn(ud) (a total kept
 * elsewhere, e.g. CPU seconds); fn must be thread-safe, cheap, and must not
 * call into this registry. */
void fa_obs_counter_set_fn(fa_obs_counter *c, double (*fn)(void *ud), void *ud);

/* Gauges: inc/dec go to the thread's shard (cheap on every request, e.g.
 * in-flight); set and add(double) change a shared part. value = shared +
 * sum of the shards; set(v) makes it v. Use set from one writer at a time. */
void fa_obs_gauge_set(fa_obs_gauge *g, double v);
void fa_obs_gauge_add(fa_obs_gauge *g, double delta);
void fa_obs_gauge_inc(fa_obs_gauge *g);
void fa_obs_gauge_dec(fa_obs_gauge *g);
double fa_obs_gauge_value(const fa_obs_gauge *g); /* fn(ud) when sampled */
/* Makes the gauge sampled at scrape (same rules as fa_obs_counter_set_fn). */
void fa_obs_gauge_set_fn(fa_obs_gauge *g, double (*fn)(void *ud), void *ud);

/* Records one observation (NaN is ignored). Thread-safe, lock-free, sharded. */
void fa_obs_histogram_observe(fa_obs_histogram *h, double v);

/* A histogram's state: per-bucket counts (not cumulative), counts[i] for
 * v <= bounds[i] (and above bounds[i-1]), counts[nbounds] above the last. */
typedef struct fa_obs_histogram_snap {
    size_t nbounds;
    double bounds[FA_OBS_MAX_BUCKETS];
    uint64_t counts[FA_OBS_MAX_BUCKETS + 1];
    uint64_t count; /* sum of counts */
    double sum;
} fa_obs_histogram_snap;
/* Reads one child (or, for the family, the sum over all its children). The
 * family form returns FA_EINVAL when f is not a histogram. */
void fa_obs_histogram_read(const fa_obs_histogram *h, fa_obs_histogram_snap *out);
int fa_obs_family_histogram_read(fa_obs_family *f, fa_obs_histogram_snap *out);
/* q-quantile (0 <= q <= 1) as Prometheus' histogram_quantile computes it:
 * linear within the bucket holding rank q*count, the lowest bucket starts
 * at 0 (when its bound is > 0), the +Inf bucket answers the highest finite
 * bound. NAN when count is 0. */
double fa_obs_histogram_quantile(const fa_obs_histogram_snap *s, double q);

/* Looking families up and reading them (alerts, tests). */
fa_obs_family *fa_obs_family_find(fa_obs_registry *r, const char *name); /* NULL when absent */
fa_obs_type fa_obs_family_type(const fa_obs_family *f);
size_t fa_obs_family_nlabels(const fa_obs_family *f);
const char *fa_obs_family_label(const fa_obs_family *f, size_t i);
/* Calls fn for each child of a counter or gauge family in creation order,
 * with its label values (nlabels of them) and its current value. Holds the
 * family's lock: fn must not create children of f. Returns the number of
 * children visited, or FA_EINVAL for a histogram family. */
int fa_obs_family_each(fa_obs_family *f, void (*fn)(void *ud, const char *const *values, double value),
                       void *ud);

/* Appends the registry in the Prometheus text format 0.0.4: families in
 * registration order, children in creation order, a HELP line (unless the
 * help text is empty) and a TYPE line, label values escaped (\\, \", \n),
 * histograms as _bucket{le=...} (with +Inf), _sum and _count. Families
 * without children are left out. Returns 0 or FA_ENOMEM. fa_obs_expose
 * writes the process-wide registry. */
int fa_obs_registry_expose(fa_obs_registry *r, fa_buf *out);
int fa_obs_expose(fa_buf *out);

/* ---------------------------------------------------------------- process */

typedef struct fa_obs_process_stats {
    double rss_bytes;          /* /proc/self/statm resident pages x page size */
    double vmem_bytes;         /* /proc/self/statm size */
    double cpu_seconds;        /* user + system, CLOCK_PROCESS_CPUTIME_ID */
    double open_fds;           /* entries of /proc/self/fd */
    double max_fds;            /* RLIMIT_NOFILE soft limit */
    double threads;            /* /proc/self/stat num_threads */
    double start_time_seconds; /* Unix time: /proc/self/stat starttime + /proc/stat btime */
} fa_obs_process_stats;

/* Samples the calling process. Fields that cannot be read are NAN; returns
 * 0, or FA_EIO when /proc/self cannot be read at all (message set). */
int fa_obs_process_sample(fa_obs_process_stats *out);
/* The memory the process may use, in bytes: the cgroup limit (v2
 * memory.max of the process' cgroup, or v1 memory.limit_in_bytes) when one
 * is set and below the machine's memory, else MemTotal; 0 when unknown. */
double fa_obs_memory_limit_bytes(void);
/* Registers the process_* metrics and fa_memory_limit_bytes in r (sampled
 * at scrape). Returns 0 or a negative code. */
int fa_obs_process_register(fa_obs_registry *r);

/* ---------------------------------------------------------------- alerts */

typedef enum fa_obs_alert_state {
    FA_OBS_ALERT_INACTIVE,
    FA_OBS_ALERT_PENDING, /* the condition holds, not yet for `for` seconds */
    FA_OBS_ALERT_FIRING
} fa_obs_alert_state;

/* Rule names, the same in deploy/prometheus/alerts.yml. */
#define FA_ALERT_API_LATENCY "FaApiLatencyP95High"
#define FA_ALERT_MEMORY "FaMemoryHigh"
#define FA_ALERT_CACHE_HIT_RATE "FaCacheHitRateLow"
#define FA_ALERT_DB_POOL "FaDbPoolSaturated"
#define FA_ALERT_GPU "FaGpuUnderutilized"

typedef struct fa_obs_alert_config {
    double step_s;                 /* 10: a window snapshot (and the alert thread's evaluation) every step */
    double window_s;               /* 300: the sliding window of latency and hit-rate rules */
    double latency_p95_s;          /* 0.5: fires when p95 > this */
    double latency_for_s;          /* 120 */
    uint64_t latency_min_requests; /* 20: fewer requests in the window give no value */
    double memory_ratio;           /* 0.85: fires when RSS / limit > this */
    double memory_for_s;           /* 300 */
    double memory_limit_bytes;     /* 0: the fa_memory_limit_bytes gauge, else detected */
    double cache_hit_ratio;        /* 0.80: fires when hits / (hits + misses) < this, per layer */
    double cache_for_s;            /* 600 */
    uint64_t cache_min_lookups;    /* 100: fewer lookups in the window give no value */
    double db_pool_ratio;          /* 0.80: fires when in use / max > this, per pool */
    double db_pool_for_s;          /* 120 */
    double gpu_util_ratio;         /* 0.60: fires when utilisation < this while jobs run, per gpu */
    double gpu_for_s;              /* 600 */
    /* Called (outside any lock, on the evaluating thread) when an alert
     * starts firing or stops firing, with one JSON object: {"status":
     * "firing"|"resolved","alert":{...as in fa_obs_alerts_write_json}}.
     * This is the webhook's hook: there is no HTTP client yet, so a caller
     * that wants the POST makes it here (quickly, or by queueing it). */
    void (*notify)(void *ud, const char *json, size_t len);
    void *notify_ud;
} fa_obs_alert_config;

void fa_obs_alert_config_default(fa_obs_alert_config *c);

typedef struct fa_obs_alerts fa_obs_alerts;
/* An engine over registry r (NULL: the process-wide one) with a copy of c
 * (NULL: defaults). Returns NULL with FA_EINVAL (bad config) or FA_ENOMEM. */
fa_obs_alerts *fa_obs_alerts_new(fa_obs_registry *r, const fa_obs_alert_config *c);
void fa_obs_alerts_free(fa_obs_alerts *a);
/* Evaluates every rule at time now (Unix seconds; tests pass their own):
 * takes a window snapshot when step_s has passed since the last, updates
 * states, logs each change with fa_log (warn when firing, info otherwise),
 * calls notify. Thread-safe. Returns 0 or FA_ENOMEM. */
int fa_obs_alerts_eval(fa_obs_alerts *a, double now);
/* Appends {"evaluated_at":t|null,"window_s":w,"alerts":[{"name","labels":
 * {...},"state","value"(null when no data),"threshold","for_s","since"
 * (Unix seconds of the last state change),"summary"}...]}. */
int fa_obs_alerts_write_json(fa_obs_alerts *a, fa_buf *out);

typedef struct fa_obs_alert_info {
    char name[32];
    char labels[160]; /* "layer=l1", "" when none */
    fa_obs_alert_state state;
    double value, threshold, for_s, since;
} fa_obs_alert_info;
/* The alert for a rule name and label text ("" or e.g. "layer=l1");
 * returns 1 and fills out, or 0 when there is no such alert yet. */
int fa_obs_alerts_get(fa_obs_alerts *a, const char *name, const char *labels, fa_obs_alert_info *out);

/* The process-wide engine over the process-wide registry. start creates it
 * with c (NULL: defaults) and a thread evaluating it every step_s; stop
 * ends the thread and frees it (fa_obs_shutdown calls it). */
int fa_obs_alerts_start(const fa_obs_alert_config *c);
void fa_obs_alerts_stop(void);
/* /v1/alerts: the process-wide engine's alerts as fa_obs_alerts_write_json
 * writes them. Without start, an engine with defaults is made on first use
 * and evaluated here when step_s has passed since its last evaluation. */
int fa_obs_alerts_json(fa_buf *out);

#endif
