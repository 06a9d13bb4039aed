/*
 * webhook.c - delivering alert notifications (JSON payloads) to one HTTP
 * endpoint from a sender thread of its own.
 *
 * Why a thread and a queue: alerts fire on the metrics path, which must
 * never wait on someone else's web server. fa_webhook_send copies the
 * payload into a bounded ring and signals a condition variable; the sender
 * thread does all the network work. When the ring is full the OLDEST
 * payload is dropped (and counted): during an outage the newest alerts are
 * the ones still worth reading, and memory stays bounded.
 *
 * Each payload is POSTed with a per-try deadline (fa_http_post). 2xx is
 * delivered. 5xx, 429 and network errors (refused, reset, timeout, garbage)
 * are retried after exponential backoff with full jitter (AWS Architecture
 * Blog, "Exponential Backoff And Jitter", 2015) until the retry budget is
 * spent; another 4xx (or a 3xx, not followed) means the request itself is
 * wrong and is not retried. All tries go through a circuit breaker (Nygard,
 * "Release It!"): once the endpoint has failed failure_threshold times in
 * a row the sender does not hammer it but sleeps out the cool-down, then
 * lets one probe try; waiting on an open breaker does not use up a
 * payload's tries, but a failed probe does, so a dead endpoint costs each
 * payload at most max_attempts tries, spaced by at least the cool-down.
 *
 * Logging happens once per change of state, not per payload: "delivery
 * failing" at the first failure after success, "delivery recovered" at the
 * next success, each breaker transition, the start of a queue overflow,
 * and what stop() had to abandon. An outage of thousands of alerts is a
 * handful of lines.
 *
 * Stopping: fa_webhook_stop waits up to drain_s for the queue to empty
 * (the sender keeps retrying meanwhile), then aborts: a flag plus an
 * eventfd that every fa_http_post_cancellable call polls, and a broadcast
 * that ends any backoff or cool-down wait. Every wait in the sender is a
 * bounded poll or condition wait, so stop returns within drain_s plus the
 * time to close a socket even when the endpoint hangs.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"

#define QUEUE_MAX_LIMIT ((size_t)1 << 24)
#define MIN_WAIT_S 0.01 /* shortest breaker wait: never a busy loop */

typedef struct payload {
    char *data;
    size_t len;
} payload;

struct fa_webhook {
    fa_url url;
    double timeout_s;
    fa_backoff_config retry;
    fa_breaker *breaker;
    double open_s;
    pthread_t thread;
    int cancel_fd;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the sender: work queued, stop, abort */
    pthread_cond_t idle; /* stop(): queue empty, nothing in flight */
    /* Under lock. */
    payload *ring;
    size_t queue_max, head, len;
    int in_flight, stopping, overflowing;
    size_t abandoned;
    fa_webhook_stats stats;
    atomic_int aborting; /* written under lock, read anywhere */
    /* Sender thread only. */
    int failing;
    size_t failed_since_ok;
    double last_failure_at;
};

void fa_webhook_config_default(fa_webhook_config *c) {
    memset(c, 0, sizeof *c);
    c->timeout_s = 2.0;
    fa_backoff_config_default(&c->retry);
    c->queue_max = 256;
}

/* ---------------------------------------------------------------- waiting */

static int aborting(fa_webhook *w) { return atomic_load_explicit(&w->aborting, memory_order_acquire); }

static struct timespec monotonic_at(double at) {
    struct timespec ts;
    if (!(at < 4e9)) at = 4e9; /* far enough, and no overflow */
    ts.tv_sec = (time_t)at;
    ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    return ts;
}

/* Sleeps until `at` on the monotonic clock, or until stop aborts. */
static void sleep_until(fa_webhook *w, double at) {
    struct timespec ts = monotonic_at(at);
    pthread_mutex_lock(&w->lock);
    while (!aborting(w) && fa_clock_now() < at) {
        if (pthread_cond_timedwait(&w->wake, &w->lock, &ts) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&w->lock);
}

/* ---------------------------------------------------------------- logging */

static void on_breaker_change(void *ud, const char *name, fa_breaker_state from, fa_breaker_state to) {
    fa_webhook *w = ud;
    fa_log(to == FA_BREAKER_OPEN ? FA_LOG_WARN : FA_LOG_INFO, "webhook breaker state change",
           "breaker=%s host=%s port=%d from=%s to=%s", name, w->url.host, w->url.port,
           fa_breaker_state_name(from), fa_breaker_state_name(to));
}

/* The first failure after a success (or the start) logs; later ones do not. */
static void note_failure(fa_webhook *w, int rc) {
    w->failed_since_ok++;
    if (w->failing) return;
    w->failing = 1;
    char why[320];
    if (rc > 0) {
        snprintf(why, sizeof why, "HTTP status %d", rc);
    } else {
        snprintf(why, sizeof why, "%s", fa_err_msg());
    }
    for (char *p = why; *p; p++)
        if (*p == '"') *p = '\'';
    char msg[400];
    snprintf(msg, sizeof msg, "webhook delivery failing: %s", why);
    fa_log(FA_LOG_WARN, msg, "host=%s port=%d status=%d", w->url.host, w->url.port, rc > 0 ? rc : 0);
}

static void note_success(fa_webhook *w) {
    if (w->failing)
        fa_log(FA_LOG_INFO, "webhook delivery recovered", "host=%s port=%d failed_tries=%zu", w->url.host,
               w->url.port, w->failed_since_ok);
    w->failing = 0;
    w->failed_since_ok = 0;
}

/* ---------------------------------------------------------------- delivery */

typedef enum outcome { DELIVERED, FAILED, ABANDONED } outcome;

static int retryable(int rc) { return rc < 0 || rc == 429 || rc >= 500; }

/* One POST; reports the outcome to the breaker. Returns the status or < 0. */
static int try_once(fa_webhook *w, const payload *p) {
    int rc = fa_http_post_cancellable(&w->url, "application/json", p->data, p->len,
                                      fa_deadline_in(w->timeout_s), w->cancel_fd);
    if (aborting(w)) {
        fa_breaker_failure(w->breaker); /* the call must be reported; it no longer matters how */
        return rc;
    }
    if (retryable(rc)) {
        fa_breaker_failure(w->breaker);
        w->last_failure_at = fa_clock_now();
    } else {
        fa_breaker_success(w->breaker); /* it answered: the endpoint is up */
    }
    if (rc >= 200 && rc < 300) {
        note_success(w);
    } else {
        note_failure(w, rc);
    }
    return rc;
}

static void count(fa_webhook *w, uint64_t *field) {
    pthread_mutex_lock(&w->lock);
    (*field)++;
    pthread_mutex_unlock(&w->lock);
}

static outcome deliver(fa_webhook *w, const payload *p) {
    fa_backoff bo;
    fa_backoff_init(&bo, &w->retry, 0);
    for (;;) {
        if (aborting(w)) return ABANDONED;
        if (!fa_breaker_allow(w->breaker)) { /* open: sleep out the cool-down */
            double at = w->last_failure_at + w->open_s, min_at = fa_clock_now() + MIN_WAIT_S;
            sleep_until(w, at > min_at ? at : min_at);
            continue;
        }
        int rc = try_once(w, p);
        if (aborting(w)) return ABANDONED;
        if (rc >= 200 && rc < 300) return DELIVERED;
        if (!retryable(rc)) return FAILED;
        double s = fa_backoff_next(&bo);
        if (s < 0) return FAILED;
        count(w, &w->stats.retries);
        sleep_until(w, fa_clock_now() + s);
    }
}

static void *sender_main(void *arg) {
    fa_webhook *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->len == 0 && !w->stopping) pthread_cond_wait(&w->wake, &w->lock);
        if (aborting(w) || w->len == 0) break;
        payload p = w->ring[w->head];
        w->head = (w->head + 1) % w->queue_max;
        w->len--;
        if (w->len == 0) w->overflowing = 0;
        w->in_flight = 1;
        pthread_mutex_unlock(&w->lock);
        outcome o = deliver(w, &p);
        free(p.data);
        pthread_mutex_lock(&w->lock);
        w->in_flight = 0;
        if (o == DELIVERED) w->stats.delivered++;
        if (o == FAILED) w->stats.failed++;
        if (o == ABANDONED) w->abandoned++;
        if (w->len == 0) pthread_cond_broadcast(&w->idle);
    }
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* ---------------------------------------------------------------- the queue */

void fa_webhook_send(void *webhook, const char *json, size_t len) {
    fa_webhook *w = webhook;
    if (!w || (!json && len > 0)) return;
    char *copy = malloc(len + 1);
    if (copy) {
        if (len) memcpy(copy, json, len);
        copy[len] = '\0';
    }
    char *evicted = NULL;
    int log_overflow = 0;
    pthread_mutex_lock(&w->lock);
    if (!copy) {
        w->stats.dropped++;
        pthread_mutex_unlock(&w->lock);
        return;
    }
    if (w->len == w->queue_max) {
        evicted = w->ring[w->head].data;
        w->head = (w->head + 1) % w->queue_max;
        w->len--;
        w->stats.dropped++;
        log_overflow = !w->overflowing;
        w->overflowing = 1;
    }
    w->ring[(w->head + w->len) % w->queue_max] = (payload){copy, len};
    w->len++;
    w->stats.queued++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    free(evicted);
    if (log_overflow)
        fa_log(FA_LOG_WARN, "webhook queue full, dropping the oldest payloads",
               "host=%s port=%d queue_max=%zu", w->url.host, w->url.port, w->queue_max);
}

void fa_webhook_stats_get(fa_webhook *w, fa_webhook_stats *out) {
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->lock);
}

/* ---------------------------------------------------------------- start, stop */

static int check_config(const fa_webhook_config *c, fa_url *url) {
    if (!c) return fa_err_set(FA_EINVAL, "webhook: missing configuration");
    int rc = fa_url_parse(c->url, url);
    if (rc < 0) return fa_err_prefix("webhook");
    if (!(c->timeout_s > 0) || !isfinite(c->timeout_s))
        return fa_err_set(FA_EINVAL, "webhook: timeout_s must be a finite number > 0, got %g", c->timeout_s);
    if (c->queue_max < 1 || c->queue_max > QUEUE_MAX_LIMIT)
        return fa_err_set(FA_EINVAL, "webhook: queue_max must be in [1, %zu], got %zu", QUEUE_MAX_LIMIT,
                          c->queue_max);
    return 0;
}

static void destroy(fa_webhook *w) {
    for (size_t i = 0; i < w->len; i++) free(w->ring[(w->head + i) % w->queue_max].data);
    free(w->ring);
    fa_breaker_free(w->breaker);
    if (w->cancel_fd >= 0) close(w->cancel_fd);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static int init_sync(fa_webhook *w) {
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) return -1;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_mutex_init(&w->lock, NULL) | pthread_cond_init(&w->wake, &attr) |
             pthread_cond_init(&w->idle, &attr);
    pthread_condattr_destroy(&attr);
    return rc ? -1 : 0;
}

static fa_breaker *make_breaker(fa_webhook *w) {
    fa_breaker_config bc;
    fa_breaker_config_default(&bc);
    bc.name = "webhook";
    bc.on_change = on_breaker_change;
    bc.on_change_ud = w;
    w->open_s = bc.open_s;
    return fa_breaker_new(&bc);
}

fa_webhook *fa_webhook_start(const fa_webhook_config *c) {
    fa_url url;
    if (check_config(c, &url) < 0) return NULL;
    fa_webhook *w = fa_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->url = url;
    w->timeout_s = c->timeout_s;
    w->retry = c->retry;
    w->queue_max = c->queue_max;
    w->cancel_fd = -1;
    atomic_init(&w->aborting, 0);
    if (init_sync(w) < 0) {
        free(w);
        fa_err_set(FA_ENOMEM, "webhook: cannot create a mutex or condition variable");
        return NULL;
    }
    w->ring = fa_calloc(w->queue_max, sizeof *w->ring);
    w->breaker = w->ring ? make_breaker(w) : NULL;
    if (!w->breaker) {
        destroy(w);
        return NULL;
    }
    w->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->cancel_fd < 0) {
        fa_err_set(FA_EIO, "webhook: eventfd: %s", strerror(errno));
        destroy(w);
        return NULL;
    }
    int err = pthread_create(&w->thread, NULL, sender_main, w);
    if (err != 0) {
        fa_err_set(FA_ENOMEM, "webhook: cannot start the sender thread: %s", strerror(err));
        destroy(w);
        return NULL;
    }
    return w;
}

/* Waits up to drain_s for the queue to empty, then aborts the sender. */
static void drain_then_abort(fa_webhook *w, double drain_s) {
    double until = fa_clock_now() + (drain_s > 0 ? drain_s : 0);
    struct timespec ts = monotonic_at(until);
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->wake);
    while ((w->len > 0 || w->in_flight) && fa_clock_now() < until) {
        if (pthread_cond_timedwait(&w->idle, &w->lock, &ts) == ETIMEDOUT) break;
    }
    atomic_store_explicit(&w->aborting, 1, memory_order_release);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    uint64_t one = 1;
    if (write(w->cancel_fd, &one, sizeof one) < 0) {
        /* eventfd writes fail only on counter overflow: it is readable anyway */
    }
}

void fa_webhook_stop(fa_webhook *w, double drain_s) {
    if (!w) return;
    drain_then_abort(w, drain_s);
    pthread_join(w->thread, NULL);
    size_t lost = w->len + w->abandoned;
    if (lost > 0)
        fa_log(FA_LOG_WARN, "webhook stopped with undelivered payloads", "host=%s port=%d undelivered=%zu",
               w->url.host, w->url.port, lost);
    destroy(w);
}
