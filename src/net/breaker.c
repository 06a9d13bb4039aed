/*
 * breaker.c - a circuit breaker per remote dependency (Michael Nygard,
 * "Release It!", 2007 / 2nd ed. 2018, "Circuit Breaker" pattern).
 *
 * Why: when a dependency (Redis, PostgreSQL, a webhook endpoint) is down,
 * calling it anyway costs every request a full timeout and piles retries on
 * a service that is trying to come back. The breaker remembers that it is
 * down and refuses calls for a cool-down, then lets a few probes through to
 * decide whether it is back:
 *
 *   CLOSED --failure_threshold consecutive failures--> OPEN
 *   OPEN --open_s passed, seen by fa_breaker_allow--> HALF_OPEN
 *   HALF_OPEN --success_threshold probe successes--> CLOSED
 *   HALF_OPEN --one probe failure--> OPEN (the cool-down starts again)
 *
 * At most half_open_probes calls are let through at once while half-open;
 * each must report back before another probe is allowed.
 *
 * Cost: fa_breaker_allow runs before every L2 cache call, so the CLOSED
 * case is one atomic load and no lock; a success in CLOSED with no failures
 * counted is also lock-free. Everything else (failures, the open and
 * half-open states) takes the mutex, which is rare by construction.
 *
 * Reports carry no token naming the call they belong to, so a report for a
 * call allowed while CLOSED that arrives after the breaker opened is taken
 * at face value: ignored while OPEN, counted as a probe outcome while
 * HALF_OPEN (the in-flight probe count never goes below 0).
 *
 * on_change runs outside the lock (it may log, take other locks, update a
 * gauge) yet in the order the transitions happened: transitions are queued
 * under the lock, and one thread at a time delivers the queue, so a gauge
 * set from on_change always ends on the current state. When more than
 * NOTIFY_RING transitions are waiting (a callback far slower than the
 * traffic), the newest are merged into the last queued one ("closed ->
 * half_open" for "closed -> open" + "open -> half_open"), and a merge that
 * returns to where it started is dropped, so the delivered changes still
 * form one chain from the first state to the current one.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

#define NOTIFY_RING 16

typedef struct transition {
    fa_breaker_state from, to;
} transition;

struct fa_breaker {
    fa_breaker_config cfg;
    char *name;
    pthread_mutex_t lock;
    atomic_int state;    /* fa_breaker_state; written under lock, read anywhere */
    atomic_int failures; /* consecutive failures while CLOSED; written under lock */
    double opened_at;    /* clock time of the last move to OPEN */
    int probes_in_flight;
    int probe_successes;
    /* Pending on_change notifications, FIFO, under lock. */
    transition pending[NOTIFY_RING];
    int pending_head, pending_len;
    int notifying; /* a thread is delivering the queue */
};

void fa_breaker_config_default(fa_breaker_config *c) {
    memset(c, 0, sizeof *c);
    c->name = "dependency";
    c->failure_threshold = 5;
    c->open_s = 1.0;
    c->half_open_probes = 1;
    c->success_threshold = 1;
}

const char *fa_breaker_state_name(fa_breaker_state s) {
    switch (s) {
    case FA_BREAKER_CLOSED: return "closed";
    case FA_BREAKER_OPEN: return "open";
    case FA_BREAKER_HALF_OPEN: return "half_open";
    }
    return "unknown";
}

static int check_config(const fa_breaker_config *c, const char *name) {
    if (c->failure_threshold < 1)
        return fa_err_set(FA_EINVAL, "breaker '%s': failure_threshold must be >= 1, got %d", name,
                          c->failure_threshold);
    if (!(c->open_s >= 0) || !isfinite(c->open_s))
        return fa_err_set(FA_EINVAL, "breaker '%s': open_s must be a finite number >= 0, got %g", name,
                          c->open_s);
    if (c->half_open_probes < 1)
        return fa_err_set(FA_EINVAL, "breaker '%s': half_open_probes must be >= 1, got %d", name,
                          c->half_open_probes);
    if (c->success_threshold < 1)
        return fa_err_set(FA_EINVAL, "breaker '%s': success_threshold must be >= 1, got %d", name,
                          c->success_threshold);
    return 0;
}

fa_breaker *fa_breaker_new(const fa_breaker_config *c) {
    fa_breaker_config def;
    if (!c) {
        fa_breaker_config_default(&def);
        c = &def;
    }
    const char *name = c->name ? c->name : "dependency";
    if (check_config(c, name) < 0) return NULL;
    fa_breaker *b = fa_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cfg = *c;
    b->name = fa_strdup(name);
    if (!b->name || pthread_mutex_init(&b->lock, NULL) != 0) {
        free(b->name);
        free(b);
        fa_err_set(FA_ENOMEM, "breaker '%s': out of memory", name);
        return NULL;
    }
    b->cfg.name = b->name;
    atomic_init(&b->state, FA_BREAKER_CLOSED);
    atomic_init(&b->failures, 0);
    return b;
}

void fa_breaker_free(fa_breaker *b) {
    if (!b) return;
    pthread_mutex_destroy(&b->lock);
    free(b->name);
    free(b);
}

static double breaker_now(const fa_breaker *b) {
    return b->cfg.clock ? b->cfg.clock(b->cfg.clock_ud) : fa_clock_now();
}

/* Queues "from -> to" for on_change; under lock. */
static void queue_notification(fa_breaker *b, fa_breaker_state from, fa_breaker_state to) {
    if (!b->cfg.on_change) return;
    if (b->pending_len < NOTIFY_RING) {
        int tail = (b->pending_head + b->pending_len) % NOTIFY_RING;
        b->pending[tail] = (transition){from, to};
        b->pending_len++;
        return;
    }
    transition *last = &b->pending[(b->pending_head + b->pending_len - 1) % NOTIFY_RING];
    last->to = to;
    if (last->from == last->to) b->pending_len--;
}

/* Moves to `to` and queues the notification; under lock. */
static void set_state(fa_breaker *b, fa_breaker_state to) {
    fa_breaker_state from = (fa_breaker_state)atomic_load_explicit(&b->state, memory_order_relaxed);
    if (from == to) return;
    if (to == FA_BREAKER_OPEN) b->opened_at = breaker_now(b);
    if (to != FA_BREAKER_CLOSED) {
        b->probes_in_flight = 0;
        b->probe_successes = 0;
    }
    atomic_store_explicit(&b->failures, 0, memory_order_relaxed);
    atomic_store_explicit(&b->state, to, memory_order_release);
    queue_notification(b, from, to);
}

/* Unlocks b and, unless another thread is at it, delivers the queued
 * notifications in order with the lock released around each call. */
static void unlock_and_notify(fa_breaker *b) {
    if (b->notifying || b->pending_len == 0) {
        pthread_mutex_unlock(&b->lock);
        return;
    }
    b->notifying = 1;
    while (b->pending_len > 0) {
        transition t = b->pending[b->pending_head];
        b->pending_head = (b->pending_head + 1) % NOTIFY_RING;
        b->pending_len--;
        pthread_mutex_unlock(&b->lock);
        b->cfg.on_change(b->cfg.on_change_ud, b->name, t.from, t.to);
        pthread_mutex_lock(&b->lock);
    }
    b->notifying = 0;
    pthread_mutex_unlock(&b->lock);
}

static int allow_locked(fa_breaker *b) {
    fa_breaker_state s = (fa_breaker_state)atomic_load_explicit(&b->state, memory_order_relaxed);
    if (s == FA_BREAKER_CLOSED) return 1;
    if (s == FA_BREAKER_OPEN) {
        if (breaker_now(b) - b->opened_at < b->cfg.open_s) return 0;
        set_state(b, FA_BREAKER_HALF_OPEN);
    }
    if (b->probes_in_flight >= b->cfg.half_open_probes) return 0;
    b->probes_in_flight++;
    return 1;
}

int fa_breaker_allow(fa_breaker *b) {
    if (atomic_load_explicit(&b->state, memory_order_acquire) == FA_BREAKER_CLOSED) return 1;
    pthread_mutex_lock(&b->lock);
    int ok = allow_locked(b);
    unlock_and_notify(b);
    return ok;
}

void fa_breaker_success(fa_breaker *b) {
    if (atomic_load_explicit(&b->state, memory_order_acquire) == FA_BREAKER_CLOSED &&
        atomic_load_explicit(&b->failures, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&b->lock);
    switch ((fa_breaker_state)atomic_load_explicit(&b->state, memory_order_relaxed)) {
    case FA_BREAKER_CLOSED: atomic_store_explicit(&b->failures, 0, memory_order_relaxed); break;
    case FA_BREAKER_OPEN: break; /* a late report from before it opened */
    case FA_BREAKER_HALF_OPEN:
        if (b->probes_in_flight > 0) b->probes_in_flight--;
        if (++b->probe_successes >= b->cfg.success_threshold) set_state(b, FA_BREAKER_CLOSED);
        break;
    }
    unlock_and_notify(b);
}

void fa_breaker_failure(fa_breaker *b) {
    pthread_mutex_lock(&b->lock);
    switch ((fa_breaker_state)atomic_load_explicit(&b->state, memory_order_relaxed)) {
    case FA_BREAKER_CLOSED: {
        int n = atomic_load_explicit(&b->failures, memory_order_relaxed) + 1;
        atomic_store_explicit(&b->failures, n, memory_order_relaxed);
        if (n >= b->cfg.failure_threshold) set_state(b, FA_BREAKER_OPEN);
        break;
    }
    case FA_BREAKER_OPEN: break; /* a late report from before it opened */
    case FA_BREAKER_HALF_OPEN: set_state(b, FA_BREAKER_OPEN); break;
    }
    unlock_and_notify(b);
}

fa_breaker_state fa_breaker_state_get(fa_breaker *b) {
    return (fa_breaker_state)atomic_load_explicit(&b->state, memory_order_acquire);
}
