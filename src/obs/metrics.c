/*
 * metrics.c - the metrics registry: families, children per label set,
 * sharded lock-free counters, gauges and histograms, and the Prometheus
 * text exposition (format 0.0.4).
 *
 * Layout, and why
 * ---------------
 * registry -> families (a list in registration order, under the registry
 * lock; registration is rare) -> children (a list in creation order under
 * the family lock, plus an open-addressed hash table of atomic pointers for
 * lock-free lookup). A table is never edited except to fill an empty slot
 * with a published child (release store); when it passes half full a
 * bigger copy replaces it and the old one stays on a list until the
 * registry is freed, so a reader never sees freed memory and needs no
 * hazard pointers. Children are never removed.
 *
 * The values of a child live in `cells`: one 128-byte-aligned stride per
 * shard (a multiple of 128 bytes), so two threads on different shards never
 * write the same cache line, nor the same pair of lines that x86's
 * adjacent-line prefetcher moves together. A thread's shard is fixed on its first write (a round-robin number
 * in a thread-local) and masked by the registry's shard count. Writers do
 * relaxed atomic adds on their own cell; readers (scrapes, alerts) sum all
 * cells. Relaxed order is enough: each cell is a sum that only grows by
 * atomic adds, and a scrape is a snapshot "at some point in time" per cell.
 *
 *   counter:   cell[0] = count (uint64)
 *   gauge:     cell[0] = inc/dec delta (int64 as uint64), plus one shared
 *              `base` (double bits) for set/add
 *   histogram: cell[0..nbounds] = bucket counts (not cumulative),
 *              cell[nbounds+1] = sum of observations (double bits, CAS)
 *
 * The exposition formats label text once per child (at creation) and
 * integers by hand; only doubles go through snprintf.
 *
 * Global state: the process-wide registry pointer and the thread-slot
 * counter (with its thread-local) - the registry ARCHITECTURE.md allows.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obs.h"

#define CELL_BYTES 128
#define CELL_WORDS (CELL_BYTES / sizeof(uint64_t))
#define MIN_SHARDS 4
#define MAX_SHARDS 64
#define TABLE_MIN_CAP 8

const double fa_obs_latency_buckets[FA_OBS_LATENCY_NBUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

typedef _Atomic uint64_t cell_t;

typedef struct child {
    struct child *next; /* creation order, under the family lock */
    struct fa_obs_family *family;
    uint64_t hash;
    char **values;     /* family->nlabels strings */
    char *labels_text; /* a="x",b="y" (escaped); "" without labels */
    size_t labels_len;
    unsigned shard_mask, stride; /* stride in words */
    size_t nbounds;
    const double *bounds;
    double (*fn)(void *ud); /* sampled at scrape when set (under the family lock) */
    void *fn_ud;
    _Atomic uint64_t base; /* gauge: set/add part, double bits */
    cell_t *cells;
} child;

struct fa_obs_counter {
    child ch;
};
struct fa_obs_gauge {
    child ch;
};
struct fa_obs_histogram {
    child ch;
};
typedef union any_child {
    struct fa_obs_counter c;
    struct fa_obs_gauge g;
    struct fa_obs_histogram h;
} any_child;

typedef struct table {
    size_t cap; /* power of two */
    struct table *older;
    _Atomic(child *) slots[];
} table;

struct fa_obs_family {
    struct fa_obs_family *next;
    fa_obs_type type;
    char *name, *help; /* help already escaped */
    size_t nlabels;
    char *labels[FA_OBS_MAX_LABELS];
    size_t nbounds;
    double bounds[FA_OBS_MAX_BUCKETS];
    char le[FA_OBS_MAX_BUCKETS][32];
    unsigned shard_mask;
    pthread_mutex_t lock;
    child *first, *last;
    size_t nchildren;
    _Atomic(table *) index;
};

struct fa_obs_registry {
    pthread_mutex_t lock;
    struct fa_obs_family *first, *last;
    unsigned nshards;
};

/* ---------------------------------------------------------------- small helpers */

static uint64_t bits_of(double v) {
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double double_of(uint64_t u) {
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void atomic_add_double(_Atomic uint64_t *p, double v) {
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, bits_of(double_of(old) + v), memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

static atomic_uint next_thread_slot;
static _Thread_local unsigned thread_slot_plus1;

static unsigned thread_slot(void) {
    unsigned s = thread_slot_plus1;
    if (s == 0) {
        s = atomic_fetch_add_explicit(&next_thread_slot, 1, memory_order_relaxed) + 1;
        thread_slot_plus1 = s;
    }
    return s - 1;
}

static cell_t *my_cells(const child *c) {
    return c->cells + (size_t)(thread_slot() & c->shard_mask) * c->stride;
}

static uint64_t sum_word(const child *c, size_t word) {
    uint64_t total = 0;
    for (size_t s = 0; s <= c->shard_mask; s++)
        total += atomic_load_explicit(&c->cells[s * c->stride + word], memory_order_relaxed);
    return total;
}

static uint64_t hash_values(const char *const *values, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ull;
        h = (h ^ 0xffu) * 1099511628211ull;
    }
    return h;
}

/* Decimal digits of u into buf (no NUL); returns the length. */
static size_t fmt_u64(char *buf, uint64_t u) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}

/* A double the way Prometheus reads it: NaN, +Inf, -Inf, integers plainly,
 * others in the shortest of %.15g / %.17g that reads back exactly. */
static size_t fmt_double(char *buf, size_t size, double v) {
    if (isnan(v)) return (size_t)snprintf(buf, size, "NaN");
    if (isinf(v)) return (size_t)snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    if (v == trunc(v) && fabs(v) < 1e15) {
        size_t n = 0;
        if (v < 0) buf[n++] = '-';
        return n + fmt_u64(buf + n, (uint64_t)fabs(v));
    }
    int n = snprintf(buf, size, "%.15g", v);
    if (strtod(buf, NULL) != v) n = snprintf(buf, size, "%.17g", v);
    return (size_t)n;
}

static int valid_name(const char *s, int allow_colon) {
    if (!s || !*s) return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
        if (!alpha && !(p > s && c >= '0' && c <= '9')) return 0;
    }
    return 1;
}

/* Appends s with the escapes of a label value (\\ \" \n) or, quote = 0, of
 * HELP text (\\ \n). */
static int append_escaped(fa_buf *b, const char *s, int quote) {
    for (const char *p = s; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : (quote && *p == '"') ? "\\\"" : NULL;
        if (esc ? fa_buf_puts(b, esc) : fa_buf_putc(b, *p)) return FA_ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------- registry */

static unsigned shard_count(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = cpus > 0 ? (unsigned)cpus * 2 : MIN_SHARDS, n = MIN_SHARDS;
    while (n < want && n < MAX_SHARDS) n *= 2;
    return n;
}

fa_obs_registry *fa_obs_registry_new(void) {
    fa_obs_registry *r = fa_calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_mutex_init(&r->lock, NULL);
    r->nshards = shard_count();
    return r;
}

static void child_free(child *c, size_t nlabels) {
    for (size_t i = 0; c->values && i < nlabels; i++) free(c->values[i]);
    free(c->values);
    free(c->labels_text);
    free(c->cells);
    free(c);
}

static void family_free(struct fa_obs_family *f) {
    for (child *c = f->first, *next; c; c = next) {
        next = c->next;
        child_free(c, f->nlabels);
    }
    for (table *t = atomic_load(&f->index), *older; t; t = older) {
        older = t->older;
        free(t);
    }
    for (size_t i = 0; i < f->nlabels; i++) free(f->labels[i]);
    pthread_mutex_destroy(&f->lock);
    free(f->name);
    free(f->help);
    free(f);
}

void fa_obs_registry_free(fa_obs_registry *r) {
    if (!r) return;
    for (struct fa_obs_family *f = r->first, *next; f; f = next) {
        next = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static _Atomic(fa_obs_registry *) default_registry;
static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;

static fa_obs_registry *default_create(void) {
    fa_obs_registry *r = fa_obs_registry_new();
    if (!r) return NULL;
    fa_obs_family *info =
        fa_obs_gauge_family(r, FA_M_BUILD_INFO, "FootAnalytics version; always 1.", FA_OBS_LABELS("version"));
    fa_obs_gauge_set(fa_obs_gauge_with(info, FA_OBS_LABELS(FA_VERSION)), 1);
    if (!info || fa_obs_process_register(r) != 0) {
        fa_obs_registry_free(r);
        return NULL;
    }
    return r;
}

fa_obs_registry *fa_obs_default(void) {
    fa_obs_registry *r = atomic_load_explicit(&default_registry, memory_order_acquire);
    if (r) return r;
    pthread_mutex_lock(&default_lock);
    r = atomic_load_explicit(&default_registry, memory_order_relaxed);
    if (!r) {
        r = default_create();
        atomic_store_explicit(&default_registry, r, memory_order_release);
    }
    pthread_mutex_unlock(&default_lock);
    return r;
}

void fa_obs_shutdown(void) {
    fa_obs_alerts_stop();
    pthread_mutex_lock(&default_lock);
    fa_obs_registry *r = atomic_exchange(&default_registry, NULL);
    pthread_mutex_unlock(&default_lock);
    fa_obs_registry_free(r);
}

static fa_obs_registry *resolve(fa_obs_registry *r) { return r ? r : fa_obs_default(); }

/* ---------------------------------------------------------------- families */

static const char *type_name(fa_obs_type t) {
    return t == FA_OBS_COUNTER ? "counter" : t == FA_OBS_GAUGE ? "gauge" : "histogram";
}

static size_t count_list(const char *const *list, size_t max) {
    size_t n = 0;
    while (list && n <= max && list[n]) n++;
    return n;
}

static int check_labels(const char *name, fa_obs_type type, const char *const *labels, size_t n) {
    if (n > FA_OBS_MAX_LABELS)
        return fa_err_set(FA_EINVAL, "obs: metric '%s': more than %d label names", name, FA_OBS_MAX_LABELS);
    for (size_t i = 0; i < n; i++) {
        if (!valid_name(labels[i], 0) || strncmp(labels[i], "__", 2) == 0)
            return fa_err_set(FA_EINVAL, "obs: metric '%s': invalid label name '%s'", name, labels[i]);
        if (type == FA_OBS_HISTOGRAM && strcmp(labels[i], "le") == 0)
            return fa_err_set(FA_EINVAL, "obs: metric '%s': label name 'le' is reserved in histograms", name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return fa_err_set(FA_EINVAL, "obs: metric '%s': label name '%s' given twice", name,
                                  labels[i]);
    }
    return 0;
}

static int check_bounds(const char *name, const double *bounds, size_t n) {
    if (n < 1 || n > FA_OBS_MAX_BUCKETS || !bounds)
        return fa_err_set(FA_EINVAL, "obs: metric '%s': expected 1..%d bucket bounds, got %zu", name,
                          FA_OBS_MAX_BUCKETS, n);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return fa_err_set(FA_EINVAL,
                              "obs: metric '%s': bucket bound %zu (%g) is not finite and above the "
                              "previous one",
                              name, i, bounds[i]);
    }
    return 0;
}

static int same_shape(const struct fa_obs_family *f, fa_obs_type type, const char *const *labels,
                      size_t nlabels, const double *bounds, size_t nbounds) {
    if (f->type != type || f->nlabels != nlabels) return 0;
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(f->labels[i], labels[i]) != 0) return 0;
    if (type != FA_OBS_HISTOGRAM) return 1;
    return f->nbounds == nbounds && memcmp(f->bounds, bounds, nbounds * sizeof *bounds) == 0;
}

static struct fa_obs_family *find_locked(fa_obs_registry *r, const char *name) {
    for (struct fa_obs_family *f = r->first; f; f = f->next)
        if (strcmp(f->name, name) == 0) return f;
    return NULL;
}

static struct fa_obs_family *family_alloc(fa_obs_registry *r, fa_obs_type type, const char *name,
                                          const char *help, const char *const *labels, size_t nlabels,
                                          const double *bounds, size_t nbounds) {
    struct fa_obs_family *f = fa_calloc(1, sizeof *f);
    fa_buf h = {0};
    if (!f || append_escaped(&h, help ? help : "", 0) || fa_buf_putc(&h, '\0')) goto fail;
    f->help = h.data;
    h.data = NULL;
    f->type = type;
    f->shard_mask = r->nshards - 1;
    pthread_mutex_init(&f->lock, NULL);
    f->name = fa_strdup(name);
    table *t = fa_calloc(1, sizeof *t + TABLE_MIN_CAP * sizeof(t->slots[0]));
    if (!f->name || !t) goto fail;
    t->cap = TABLE_MIN_CAP;
    atomic_store(&f->index, t);
    for (; f->nlabels < nlabels; f->nlabels++)
        if (!(f->labels[f->nlabels] = fa_strdup(labels[f->nlabels]))) goto fail;
    f->nbounds = type == FA_OBS_HISTOGRAM ? nbounds : 0;
    for (size_t i = 0; i < f->nbounds; i++) {
        f->bounds[i] = bounds[i];
        f->le[i][fmt_double(f->le[i], sizeof f->le[i] - 1, bounds[i])] = '\0';
    }
    return f;
fail:
    fa_buf_free(&h);
    if (f) family_free(f);
    return NULL;
}

static fa_obs_family *family_register(fa_obs_registry *r, fa_obs_type type, const char *name,
                                      const char *help, const char *const *labels, const double *bounds,
                                      size_t nbounds) {
    r = resolve(r);
    if (!r) return NULL;
    if (!valid_name(name, 1))
        return fa_err_set(FA_EINVAL, "obs: invalid metric name '%s'", name ? name : "(null)"), NULL;
    size_t nlabels = count_list(labels, FA_OBS_MAX_LABELS);
    if (check_labels(name, type, labels, nlabels) ||
        (type == FA_OBS_HISTOGRAM && check_bounds(name, bounds, nbounds)))
        return NULL;
    pthread_mutex_lock(&r->lock);
    struct fa_obs_family *f = find_locked(r, name);
    if (f && !same_shape(f, type, labels, nlabels, bounds, nbounds)) {
        fa_err_set(FA_EINVAL, "obs: metric '%s' is already registered as a %s with other labels or buckets",
                   name, type_name(f->type));
        f = NULL;
    } else if (!f && (f = family_alloc(r, type, name, help, labels, nlabels, bounds, nbounds))) {
        if (r->last)
            r->last->next = f;
        else
            r->first = f;
        r->last = f;
    }
    pthread_mutex_unlock(&r->lock);
    return f;
}

fa_obs_family *fa_obs_counter_family(fa_obs_registry *r, const char *name, const char *help,
                                     const char *const *labels) {
    return family_register(r, FA_OBS_COUNTER, name, help, labels, NULL, 0);
}

fa_obs_family *fa_obs_gauge_family(fa_obs_registry *r, const char *name, const char *help,
                                   const char *const *labels) {
    return family_register(r, FA_OBS_GAUGE, name, help, labels, NULL, 0);
}

fa_obs_family *fa_obs_histogram_family(fa_obs_registry *r, const char *name, const char *help,
                                       const char *const *labels, const double *bounds, size_t nbounds) {
    return family_register(r, FA_OBS_HISTOGRAM, name, help, labels, bounds, nbounds);
}

fa_obs_family *fa_obs_family_find(fa_obs_registry *r, const char *name) {
    r = resolve(r);
    if (!r || !name) return NULL;
    pthread_mutex_lock(&r->lock);
    struct fa_obs_family *f = find_locked(r, name);
    pthread_mutex_unlock(&r->lock);
    return f;
}

fa_obs_type fa_obs_family_type(const fa_obs_family *f) { return f->type; }

size_t fa_obs_family_nlabels(const fa_obs_family *f) { return f->nlabels; }

const char *fa_obs_family_label(const fa_obs_family *f, size_t i) {
    return i < f->nlabels ? f->labels[i] : NULL;
}

/* ---------------------------------------------------------------- children */

static int values_equal(const child *c, const char *const *values, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->values[i], values[i]) != 0) return 0;
    return 1;
}

static child *table_find(const table *t, uint64_t hash, const char *const *values, size_t n) {
    size_t mask = t->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        child *c = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (!c) return NULL;
        if (c->hash == hash && values_equal(c, values, n)) return c;
    }
}

static void table_put(table *t, child *c) {
    size_t mask = t->cap - 1, i = c->hash & mask;
    while (atomic_load_explicit(&t->slots[i], memory_order_relaxed)) i = (i + 1) & mask;
    atomic_store_explicit(&t->slots[i], c, memory_order_release);
}

/* Makes room for one more child (under the family lock): a table at most
 * half full after the insert, published before the old one is retired. */
static int table_reserve(struct fa_obs_family *f) {
    table *old = atomic_load_explicit(&f->index, memory_order_relaxed);
    if ((f->nchildren + 1) * 2 <= old->cap) return 0;
    size_t cap = old->cap * 2;
    table *t = fa_calloc(1, sizeof *t + cap * sizeof(t->slots[0]));
    if (!t) return FA_ENOMEM;
    t->cap = cap;
    t->older = old;
    for (child *c = f->first; c; c = c->next) table_put(t, c);
    atomic_store_explicit(&f->index, t, memory_order_release);
    return 0;
}

static int check_values(const struct fa_obs_family *f, const char *const *values, size_t n) {
    if (n != f->nlabels)
        return fa_err_set(FA_EINVAL, "obs: metric '%s': expected %zu label values, got %zu", f->name,
                          f->nlabels, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(values[i]), bad;
        if (len > FA_OBS_MAX_LABEL_VALUE)
            return fa_err_set(FA_EINVAL, "obs: metric '%s': label '%s': value longer than %d bytes", f->name,
                              f->labels[i], FA_OBS_MAX_LABEL_VALUE);
        if (!fa_utf8_valid(values[i], len, &bad))
            return fa_err_set(FA_EINVAL, "obs: metric '%s': label '%s': invalid UTF-8 at byte %zu", f->name,
                              f->labels[i], bad);
    }
    return 0;
}

static char *labels_text(const struct fa_obs_family *f, const char *const *values, size_t *len) {
    fa_buf b = {0};
    for (size_t i = 0; i < f->nlabels; i++) {
        if ((i && fa_buf_putc(&b, ',')) || fa_buf_puts(&b, f->labels[i]) || fa_buf_puts(&b, "=\"") ||
            append_escaped(&b, values[i], 1) || fa_buf_putc(&b, '"')) {
            fa_buf_free(&b);
            return NULL;
        }
    }
    *len = b.len;
    return b.data ? b.data : fa_strdup("");
}

static child *child_alloc(struct fa_obs_family *f, const char *const *values, uint64_t hash) {
    child *c = fa_calloc(1, sizeof(any_child));
    if (!c) return NULL;
    c->family = f;
    c->hash = hash;
    c->shard_mask = f->shard_mask;
    c->nbounds = f->nbounds;
    c->bounds = f->bounds;
    size_t words = f->type == FA_OBS_HISTOGRAM ? f->nbounds + 2 : 1;
    c->stride = (unsigned)((words + CELL_WORDS - 1) / CELL_WORDS * CELL_WORDS);
    size_t bytes = (size_t)(f->shard_mask + 1) * c->stride * sizeof(cell_t);
    c->cells = aligned_alloc(CELL_BYTES, bytes);
    c->values = fa_calloc(f->nlabels + 1, sizeof *c->values);
    c->labels_text = labels_text(f, values, &c->labels_len);
    if (!c->cells || !c->values || !c->labels_text) goto fail;
    memset(c->cells, 0, bytes);
    for (size_t i = 0; i < f->nlabels; i++)
        if (!(c->values[i] = fa_strdup(values[i]))) goto fail;
    return c;
fail:
    if (!c->cells) fa_err_set(FA_ENOMEM, "out of memory");
    child_free(c, f->nlabels);
    return NULL;
}

/* Finds or creates the child for values; NULL with the error set. */
static child *child_get(fa_obs_family *f, fa_obs_type type, const char *const *values) {
    if (!f) return NULL;
    if (f->type != type)
        return fa_err_set(FA_EINVAL, "obs: metric '%s' is a %s, not a %s", f->name, type_name(f->type),
                          type_name(type)),
               NULL;
    size_t n = count_list(values, FA_OBS_MAX_LABELS);
    uint64_t hash = hash_values(values, n < f->nlabels ? n : f->nlabels);
    child *c = n == f->nlabels
                   ? table_find(atomic_load_explicit(&f->index, memory_order_acquire), hash, values, n)
                   : NULL;
    if (c) return c;
    if (check_values(f, values, n)) return NULL;
    pthread_mutex_lock(&f->lock);
    c = table_find(atomic_load_explicit(&f->index, memory_order_relaxed), hash, values, n);
    if (!c && f->nchildren >= FA_OBS_MAX_CHILDREN)
        fa_err_set(FA_ELIMIT, "obs: metric '%s': more than %d label sets", f->name, FA_OBS_MAX_CHILDREN);
    else if (!c && table_reserve(f) == 0 && (c = child_alloc(f, values, hash))) {
        if (f->last)
            f->last->next = c;
        else
            f->first = c;
        f->last = c;
        f->nchildren++;
        table_put(atomic_load_explicit(&f->index, memory_order_relaxed), c);
    }
    pthread_mutex_unlock(&f->lock);
    return c;
}

fa_obs_counter *fa_obs_counter_with(fa_obs_family *f, const char *const *values) {
    child *c = child_get(f, FA_OBS_COUNTER, values);
    return c ? &((any_child *)c)->c : NULL;
}

fa_obs_gauge *fa_obs_gauge_with(fa_obs_family *f, const char *const *values) {
    child *c = child_get(f, FA_OBS_GAUGE, values);
    return c ? &((any_child *)c)->g : NULL;
}

fa_obs_histogram *fa_obs_histogram_with(fa_obs_family *f, const char *const *values) {
    child *c = child_get(f, FA_OBS_HISTOGRAM, values);
    return c ? &((any_child *)c)->h : NULL;
}

fa_obs_counter *fa_obs_counter_get(fa_obs_registry *r, const char *name, const char *help) {
    return fa_obs_counter_with(fa_obs_counter_family(r, name, help, NULL), NULL);
}

fa_obs_gauge *fa_obs_gauge_get(fa_obs_registry *r, const char *name, const char *help) {
    return fa_obs_gauge_with(fa_obs_gauge_family(r, name, help, NULL), NULL);
}

fa_obs_histogram *fa_obs_histogram_get(fa_obs_registry *r, const char *name, const char *help,
                                       const double *bounds, size_t nbounds) {
    return fa_obs_histogram_with(fa_obs_histogram_family(r, name, help, NULL, bounds, nbounds), NULL);
}

static void set_fn(child *c, double (*fn)(void *ud), void *ud) {
    pthread_mutex_lock(&c->family->lock);
    c->fn = fn;
    c->fn_ud = ud;
    pthread_mutex_unlock(&c->family->lock);
}

/* ---------------------------------------------------------------- counters */

void fa_obs_counter_inc(fa_obs_counter *c) { fa_obs_counter_add(c, 1); }

void fa_obs_counter_add(fa_obs_counter *c, uint64_t n) {
    if (c) atomic_fetch_add_explicit(my_cells(&c->ch), n, memory_order_relaxed);
}

static double counter_read(const child *c) { return c->fn ? c->fn(c->fn_ud) : (double)sum_word(c, 0); }

uint64_t fa_obs_counter_value(const fa_obs_counter *c) {
    if (!c) return 0;
    pthread_mutex_lock(&c->ch.family->lock);
    double v = counter_read(&c->ch);
    pthread_mutex_unlock(&c->ch.family->lock);
    return v > 0 ? (uint64_t)v : 0;
}

void fa_obs_counter_set_fn(fa_obs_counter *c, double (*fn)(void *ud), void *ud) {
    if (c) set_fn(&c->ch, fn, ud);
}

/* ---------------------------------------------------------------- gauges */

static double gauge_read(const child *c) {
    if (c->fn) return c->fn(c->fn_ud);
    int64_t delta = (int64_t)sum_word(c, 0);
    return double_of(atomic_load_explicit(&((child *)c)->base, memory_order_relaxed)) + (double)delta;
}

void fa_obs_gauge_set(fa_obs_gauge *g, double v) {
    if (!g) return;
    int64_t delta = (int64_t)sum_word(&g->ch, 0);
    atomic_store_explicit(&g->ch.base, bits_of(v - (double)delta), memory_order_relaxed);
}

void fa_obs_gauge_add(fa_obs_gauge *g, double delta) {
    if (g) atomic_add_double(&g->ch.base, delta);
}

void fa_obs_gauge_inc(fa_obs_gauge *g) {
    if (g) atomic_fetch_add_explicit(my_cells(&g->ch), 1, memory_order_relaxed);
}

void fa_obs_gauge_dec(fa_obs_gauge *g) {
    if (g) atomic_fetch_sub_explicit(my_cells(&g->ch), 1, memory_order_relaxed);
}

double fa_obs_gauge_value(const fa_obs_gauge *g) {
    if (!g) return NAN;
    pthread_mutex_lock(&g->ch.family->lock);
    double v = gauge_read(&g->ch);
    pthread_mutex_unlock(&g->ch.family->lock);
    return v;
}

void fa_obs_gauge_set_fn(fa_obs_gauge *g, double (*fn)(void *ud), void *ud) {
    if (g) set_fn(&g->ch, fn, ud);
}

/* ---------------------------------------------------------------- histograms */

void fa_obs_histogram_observe(fa_obs_histogram *h, double v) {
    if (!h || isnan(v)) return;
    const child *c = &h->ch;
    size_t i = 0;
    while (i < c->nbounds && v > c->bounds[i]) i++;
    cell_t *cell = my_cells(c);
    atomic_fetch_add_explicit(&cell[i], 1, memory_order_relaxed);
    atomic_add_double(&cell[c->nbounds + 1], v);
}

/* Adds child c's buckets and sum into out (bounds already set). */
static void histogram_accumulate(const child *c, fa_obs_histogram_snap *out) {
    for (size_t s = 0; s <= c->shard_mask; s++) {
        const cell_t *cell = c->cells + s * c->stride;
        for (size_t i = 0; i <= c->nbounds; i++) {
            uint64_t n = atomic_load_explicit(&cell[i], memory_order_relaxed);
            out->counts[i] += n;
            out->count += n;
        }
        out->sum += double_of(atomic_load_explicit(&cell[c->nbounds + 1], memory_order_relaxed));
    }
}

static void snap_init(fa_obs_histogram_snap *out, size_t nbounds, const double *bounds) {
    memset(out, 0, sizeof *out);
    out->nbounds = nbounds;
    memcpy(out->bounds, bounds, nbounds * sizeof *bounds);
}

void fa_obs_histogram_read(const fa_obs_histogram *h, fa_obs_histogram_snap *out) {
    if (!h) {
        memset(out, 0, sizeof *out);
        return;
    }
    snap_init(out, h->ch.nbounds, h->ch.bounds);
    histogram_accumulate(&h->ch, out);
}

int fa_obs_family_histogram_read(fa_obs_family *f, fa_obs_histogram_snap *out) {
    if (!f || f->type != FA_OBS_HISTOGRAM)
        return fa_err_set(FA_EINVAL, "obs: metric '%s' is not a histogram", f ? f->name : "(null)");
    snap_init(out, f->nbounds, f->bounds);
    pthread_mutex_lock(&f->lock);
    for (child *c = f->first; c; c = c->next) histogram_accumulate(c, out);
    pthread_mutex_unlock(&f->lock);
    return 0;
}

double fa_obs_histogram_quantile(const fa_obs_histogram_snap *s, double q) {
    if (!s || s->count == 0 || !(q >= 0 && q <= 1)) return NAN;
    double rank = q * (double)s->count;
    uint64_t below = 0;
    size_t b = 0;
    while (b < s->nbounds && (double)(below + s->counts[b]) < rank) below += s->counts[b++];
    if (b == s->nbounds) return s->bounds[s->nbounds - 1];
    if (b == 0 && s->bounds[0] <= 0) return s->bounds[0];
    double lo = b == 0 ? 0 : s->bounds[b - 1], hi = s->bounds[b];
    if (s->counts[b] == 0) return lo;
    return lo + (hi - lo) * ((rank - (double)below) / (double)s->counts[b]);
}

int fa_obs_family_each(fa_obs_family *f, void (*fn)(void *ud, const char *const *values, double value),
                       void *ud) {
    if (!f || f->type == FA_OBS_HISTOGRAM)
        return fa_err_set(FA_EINVAL,
                          "obs: metric '%s' is a histogram: read it with "
                          "fa_obs_family_histogram_read",
                          f ? f->name : "(null)");
    int n = 0;
    pthread_mutex_lock(&f->lock);
    for (child *c = f->first; c; c = c->next, n++)
        fn(ud, (const char *const *)c->values, f->type == FA_OBS_COUNTER ? counter_read(c) : gauge_read(c));
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* ---------------------------------------------------------------- exposition */

static char *copy(char *p, const void *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

/* One sample line: name[suffix]{labels[,le="x"]} value\n. */
static int put_sample(fa_buf *out, const struct fa_obs_family *f, const char *suffix, const child *c,
                      const char *le, const char *value, size_t value_len) {
    size_t name_len = strlen(f->name), suffix_len = strlen(suffix), le_len = le ? strlen(le) : 0;
    if (fa_buf_reserve(out, name_len + suffix_len + c->labels_len + le_len + value_len + 16))
        return FA_ENOMEM;
    char *p = out->data + out->len;
    p = copy(p, f->name, name_len);
    p = copy(p, suffix, suffix_len);
    if (c->labels_len || le) {
        *p++ = '{';
        p = copy(p, c->labels_text, c->labels_len);
        if (le) {
            if (c->labels_len) *p++ = ',';
            p = copy(p, "le=\"", 4);
            p = copy(p, le, le_len);
            *p++ = '"';
        }
        *p++ = '}';
    }
    *p++ = ' ';
    p = copy(p, value, value_len);
    *p++ = '\n';
    *p = '\0';
    out->len = (size_t)(p - out->data);
    return 0;
}

static int put_histogram(fa_buf *out, const struct fa_obs_family *f, const child *c) {
    fa_obs_histogram_snap s;
    snap_init(&s, c->nbounds, c->bounds);
    histogram_accumulate(c, &s);
    char num[40];
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= s.nbounds; i++) {
        cumulative += s.counts[i];
        const char *le = i < s.nbounds ? f->le[i] : "+Inf";
        if (put_sample(out, f, "_bucket", c, le, num, fmt_u64(num, cumulative))) return FA_ENOMEM;
    }
    if (put_sample(out, f, "_sum", c, NULL, num, fmt_double(num, sizeof num, s.sum))) return FA_ENOMEM;
    return put_sample(out, f, "_count", c, NULL, num, fmt_u64(num, s.count));
}

static int put_child(fa_buf *out, const struct fa_obs_family *f, const child *c) {
    char num[40];
    if (f->type == FA_OBS_HISTOGRAM) return put_histogram(out, f, c);
    if (f->type == FA_OBS_COUNTER && !c->fn)
        return put_sample(out, f, "", c, NULL, num, fmt_u64(num, sum_word(c, 0)));
    double v = f->type == FA_OBS_COUNTER ? counter_read(c) : gauge_read(c);
    return put_sample(out, f, "", c, NULL, num, fmt_double(num, sizeof num, v));
}

static int expose_family(struct fa_obs_family *f, fa_buf *out) {
    int rc = 0;
    pthread_mutex_lock(&f->lock);
    if (f->first) {
        if (f->help[0]) rc = fa_buf_printf(out, "# HELP %s %s\n", f->name, f->help);
        if (rc == 0) rc = fa_buf_printf(out, "# TYPE %s %s\n", f->name, type_name(f->type));
        for (const child *c = f->first; c && rc == 0; c = c->next) rc = put_child(out, f, c);
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int fa_obs_registry_expose(fa_obs_registry *r, fa_buf *out) {
    r = resolve(r);
    if (!r) return FA_ENOMEM;
    int rc = 0;
    pthread_mutex_lock(&r->lock);
    for (struct fa_obs_family *f = r->first; f && rc == 0; f = f->next) rc = expose_family(f, out);
    pthread_mutex_unlock(&r->lock);
    return rc ? FA_ENOMEM : 0;
}

int fa_obs_expose(fa_buf *out) { return fa_obs_registry_expose(NULL, out); }
