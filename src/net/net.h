/*
 * net.h - the face of src/net: resilience for every remote call
 * (Redis, PostgreSQL, webhooks, other nodes) and a small HTTP client.
 *
 * The rules every remote call in FootAnalytics follows, and why:
 *   - A deadline, never an open-ended wait: a slow dependency must cost a
 *     bounded, known amount of latency (fa_deadline).
 *   - Retries only for idempotent work, with exponential backoff and full
 *     jitter (AWS Architecture Blog, "Exponential Backoff And Jitter",
 *     2015): sleep = uniform(0, min(cap, base * 2^attempt)); synchronised
 *     clients retrying in lock-step are what turns a blip into an outage.
 *   - A circuit breaker per dependency (Nygard, "Release It!"): after
 *     enough consecutive failures the call is not even tried for a
 *     cool-down, then a few probes decide whether to close again. A
 *     dependency that is down costs nothing but a branch, and it is
 *     given room to recover instead of a retry storm.
 *   - Load balancing over several endpoints (fa_balancer): the power of
 *     two random choices on in-flight counts (Mitzenmacher 2001), skipping
 *     endpoints whose breaker is open.
 *
 * Threads: fa_breaker and fa_balancer are thread-safe (any thread may ask
 * and report at once); fa_backoff is per caller. Clocks are seconds on
 * fa_clock_now's monotonic clock unless a function says otherwise.
 */
#ifndef FA_NET_H
#define FA_NET_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---------------------------------------------------------------- someone else's event loop */

/* What a module that does non-blocking I/O on an event loop it does not
 * own (the L2 cache's Redis connection on each of the HTTP server's loops)
 * needs from that loop: readiness callbacks for its file descriptors and
 * the loop's clock. Timeouts are the module's own business: the loop's
 * owner calls the module's tick function from every loop iteration. The
 * server's loops provide one (fa_server's thread_init hands it to the
 * application); src/net/io_epoll.c is a minimal stand-alone one for tools
 * and tests. */
enum { FA_IO_READ = 1u, FA_IO_WRITE = 2u, FA_IO_ERROR = 4u };

typedef void (*fa_io_fn)(void *arg, unsigned events);

typedef struct fa_io_loop {
    void *ud;
    /* Watches fd, level-triggered, for `want` (FA_IO_READ | FA_IO_WRITE),
     * replacing any earlier watch of fd; want 0 stops watching it (call
     * that before closing fd). fn(arg, events) runs on the loop's thread
     * when fd is ready; events may include FA_IO_ERROR (hang-up, error).
     * Returns 0, or FA_EIO / FA_ENOMEM with the error set. */
    int (*watch)(void *ud, int fd, unsigned want, fa_io_fn fn, void *arg);
    /* The loop's cached time (fa_clock_now's clock), seconds. */
    double (*now)(void *ud);
} fa_io_loop;

/* A minimal epoll loop implementing fa_io_loop (src/net/io_epoll.c), for
 * tools and tests that need one without the HTTP server. One thread. */
typedef struct fa_io_epoll fa_io_epoll;
fa_io_epoll *fa_io_epoll_new(void);
void fa_io_epoll_free(fa_io_epoll *e);
fa_io_loop *fa_io_epoll_loop(fa_io_epoll *e);
/* Waits up to timeout_s (< 0: forever) and runs the ready callbacks;
 * returns how many ran, or FA_EIO. */
int fa_io_epoll_run_once(fa_io_epoll *e, double timeout_s);

/* ---------------------------------------------------------------- deadlines */

/* An absolute point in time on the monotonic clock (fa_clock_now). */
typedef struct fa_deadline {
    double at; /* seconds; INFINITY: none */
} fa_deadline;

/* now + seconds (seconds <= 0: already passed). */
fa_deadline fa_deadline_in(double seconds);
/* Seconds left (0 when passed, INFINITY when none). */
double fa_deadline_left(fa_deadline d);
/* Milliseconds left for poll(2)-like calls: rounded up, 0 when passed,
 * -1 when none, capped at INT_MAX. */
int fa_deadline_left_ms(fa_deadline d);
int fa_deadline_passed(fa_deadline d);

/* ---------------------------------------------------------------- backoff */

typedef struct fa_backoff_config {
    double base_s;    /* first ceiling: 0.05 */
    double cap_s;     /* largest ceiling: 2 */
    int max_attempts; /* tries in all, the first included: 4 */
} fa_backoff_config;

void fa_backoff_config_default(fa_backoff_config *c);

typedef struct fa_backoff {
    fa_backoff_config cfg;
    int attempt;    /* tries made so far */
    uint64_t rng;   /* xorshift state, seeded per instance */
} fa_backoff;

/* Starts a sequence (c NULL = defaults; seed 0 = from the clock and the
 * instance's address, so that processes and threads do not retry in step). */
void fa_backoff_init(fa_backoff *b, const fa_backoff_config *c, uint64_t seed);
/* After a failed try: the seconds to sleep before the next one, drawn
 * uniformly from [0, min(cap, base * 2^(attempt-1))], or a negative value
 * when max_attempts tries have been made (give up). */
double fa_backoff_next(fa_backoff *b);

/* ---------------------------------------------------------------- circuit breaker */

typedef enum fa_breaker_state {
    FA_BREAKER_CLOSED = 0,    /* calls flow; failures are counted */
    FA_BREAKER_OPEN = 1,      /* calls are refused until the cool-down passes */
    FA_BREAKER_HALF_OPEN = 2  /* a limited number of probes are let through */
} fa_breaker_state;

typedef struct fa_breaker_config {
    const char *name;          /* the dependency, for logs and metrics: "redis" */
    int failure_threshold;     /* consecutive failures that open it: 5 */
    double open_s;             /* cool-down before probing: 1 */
    int half_open_probes;      /* concurrent probes allowed when half-open: 1 */
    int success_threshold;     /* probe successes that close it: 1 */
    double (*clock)(void *ud); /* NULL: fa_clock_now; tests inject one */
    void *clock_ud;
    /* Called on every state change (outside the breaker's lock), e.g. to
     * log it and set the fa_breaker_state gauge. May be NULL. */
    void (*on_change)(void *ud, const char *name, fa_breaker_state from, fa_breaker_state to);
    void *on_change_ud;
} fa_breaker_config;

void fa_breaker_config_default(fa_breaker_config *c);

typedef struct fa_breaker fa_breaker;

/* NULL with FA_EINVAL (a bad setting, named) or FA_ENOMEM. */
fa_breaker *fa_breaker_new(const fa_breaker_config *c);
void fa_breaker_free(fa_breaker *b);
/* May a call be made now? 1 yes (then exactly one of fa_breaker_success /
 * fa_breaker_failure must follow for it), 0 no (open, or half-open with
 * every probe slot taken). An open breaker whose cool-down has passed
 * turns half-open here. */
int fa_breaker_allow(fa_breaker *b);
void fa_breaker_success(fa_breaker *b);
void fa_breaker_failure(fa_breaker *b);
fa_breaker_state fa_breaker_state_get(fa_breaker *b);
const char *fa_breaker_state_name(fa_breaker_state s); /* "closed", "open", "half_open" */

/* ---------------------------------------------------------------- load balancing */

typedef struct fa_balancer fa_balancer;

/* n endpoints (opaque to the balancer), each with its own breaker made
 * from bc (NULL = defaults; name suffixed with the endpoint index). */
fa_balancer *fa_balancer_new(size_t n, const fa_breaker_config *bc, uint64_t seed);
void fa_balancer_free(fa_balancer *lb);
/* Picks an endpoint: two distinct random candidates whose breakers allow a
 * call, the one with fewer calls in flight; one when only one allows; -1
 * (FA_EUNAVAIL set) when none does. The pick counts as in flight until
 * fa_balancer_done. */
int fa_balancer_pick(fa_balancer *lb);
void fa_balancer_done(fa_balancer *lb, int endpoint, int ok);
fa_breaker *fa_balancer_breaker(fa_balancer *lb, int endpoint);

/* ---------------------------------------------------------------- HTTP client */

/* A parsed http:// URL (https is refused with FA_EUSAGE: no TLS client yet). */
typedef struct fa_url {
    char host[256];    /* an IPv6 literal without its brackets: "::1" */
    int port;          /* 80 when absent */
    char path[1024];   /* "/" when absent; includes the query */
} fa_url;

/* Parses "http://host[:port][/path][?query][#fragment]" (the fragment is
 * dropped; "[::1]:8080" for IPv6); FA_EINVAL naming what is wrong, FA_EUSAGE
 * for https. */
int fa_url_parse(const char *text, fa_url *out);

/* POSTs body (content type ctype) to url and waits for the response within
 * the deadline (connect, send and receive all count). Returns the HTTP
 * status (>= 100), or < 0: FA_ETIMEDOUT, FA_EIO (refused, reset, bad
 * response), FA_EINVAL (bad URL). The response body is read and dropped.
 * Blocking: call it from a thread that may block (the webhook sender). */
int fa_http_post(const fa_url *url, const char *ctype, const void *body, size_t len, fa_deadline d);
/* fa_http_post that also gives up, with FA_ETIMEDOUT ("cancelled"), as soon
 * as cancel_fd is readable (an eventfd or a pipe's read end that another
 * thread writes to; -1: none): how a sender thread's owner stops a call to
 * an endpoint that hangs without waiting for the deadline. */
int fa_http_post_cancellable(const fa_url *url, const char *ctype, const void *body, size_t len,
                             fa_deadline d, int cancel_fd);

/* ---------------------------------------------------------------- webhook sender */

/* Delivers JSON payloads (alert notifications) to one URL from its own
 * thread, so the caller never waits on the network: a bounded queue
 * (oldest dropped when full, counted), each payload POSTed with a
 * per-try deadline, retried with backoff on 5xx / 429 / network errors,
 * behind a breaker; a 4xx other than 429 is not retried. */
typedef struct fa_webhook_config {
    const char *url;         /* http://host:port/path */
    double timeout_s;        /* per try: 2 */
    fa_backoff_config retry; /* defaults */
    size_t queue_max;        /* 256 */
} fa_webhook_config;

void fa_webhook_config_default(fa_webhook_config *c);

typedef struct fa_webhook fa_webhook;

typedef struct fa_webhook_stats {
    uint64_t queued, delivered, failed, dropped, retries;
} fa_webhook_stats;

/* Starts the sender thread; NULL with FA_EINVAL (bad URL or setting,
 * named; FA_EUSAGE for an https URL) or FA_ENOMEM. The breaker in front of
 * the endpoint is named "webhook" and has the fa_breaker defaults. */
fa_webhook *fa_webhook_start(const fa_webhook_config *c);
/* Queues a copy of json[0..len); never blocks on the network. Thread-safe.
 * The signature fits fa_obs_alert_config.notify (ud = the webhook). */
void fa_webhook_send(void *webhook, const char *json, size_t len);
/* Waits up to drain_s for the queue to empty (tries and retries go on
 * meanwhile), then stops and frees: a try in progress is cancelled at
 * once, and whatever is left undelivered is logged as a count. */
void fa_webhook_stop(fa_webhook *w, double drain_s);
void fa_webhook_stats_get(fa_webhook *w, fa_webhook_stats *out);

#endif
