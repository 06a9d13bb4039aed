/*
 * l2_redis.c - the L2 response cache's Redis client: per-loop async
 * connections (hiredis 0.14) driven by someone else's event loop, a
 * conditional put and an atomic purge in Lua, pub/sub invalidation, all
 * behind deadlines, a reconnect backoff and one circuit breaker. The
 * contracts are in l2.h.
 *
 * Why hiredis's async API on the server's own loops: a get must not cost a
 * thread switch or a blocked loop; one connection per loop keeps every
 * command, reply and callback on the loop's thread with no locks, and
 * hiredis pipelines the commands of a connection by itself (many in flight,
 * replies in order). The event hooks hiredis asks for (addRead, delRead,
 * addWrite, delWrite, cleanup) map onto fa_io_loop.watch with a
 * level-triggered want mask (the adapter below), so nothing here knows
 * which loop it runs on.
 *
 * Why drop the connection on a timeout: hiredis cannot cancel one command,
 * and the replies on a connection come in order, so a reply that is late
 * holds up every one behind it. Freeing the context fires every pending
 * callback with a NULL reply (reported as ERROR) and a fresh connection is
 * made after a backoff delay. Because replies come in order and every
 * operation gets the same timeout, the oldest pending operation is always
 * the first to expire: the pending list is a FIFO and a tick only looks at
 * its head.
 *
 * State machine of a link (the command connection, and the subscription
 * connection of the one subscriber conn per process):
 *   DOWN --retry_at passed (tick)--> CONNECTING: redisAsyncConnect, then the
 *     handshake is queued (SELECT db and SCRIPT LOAD; or SUBSCRIBE)
 *   CONNECTING --last handshake reply--> UP
 *   CONNECTING --connect_timeout_s passed, or a failure--> DOWN
 *   UP --timeout, EOF, error--> DOWN (retry after a backoff delay)
 * Gets and puts are only issued while UP, so a connect in progress never
 * holds a caller's request.
 *
 * hiredis 0.14 rules this file relies on: a context's pending callbacks run
 * with a NULL reply when it is freed; redisAsyncFree from inside a reply
 * callback is deferred until the callback returns, but from the connect
 * callback it is not (so nothing is freed there); the cleanup hook runs
 * once, whenever the context goes, before its fd is closed.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/l2.h"

#define DEFAULT_URL "redis://127.0.0.1:6379/0"
#define PREFIX_MAX 64
#define PURGE_MAX_TAGS 256

/* ---------------------------------------------------------------- URL (always compiled) */

static int url_host(const char *text, size_t *i, fa_l2_url *out) {
    size_t start = *i, n = 0;
    if (text[*i] == '[') {
        start = ++*i;
        while (text[*i] && (strchr("0123456789abcdefABCDEF:.", text[*i]))) ++*i;
        if (text[*i] != ']' || *i == start)
            return fa_err_set(FA_EINVAL, "redis url: offset %zu: expected an IPv6 address and ']'", *i);
        n = *i - start;
        ++*i;
    } else {
        while (text[*i] &&
               (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", text[*i])))
            ++*i;
        n = *i - start;
        if (n == 0) return fa_err_set(FA_EINVAL, "redis url: offset %zu: expected a host", *i);
    }
    if (n >= sizeof out->host) return fa_err_set(FA_EINVAL, "redis url: offset %zu: host too long", start);
    memcpy(out->host, text + start, n);
    out->host[n] = '\0';
    return 0;
}

/* Reads 1..5 decimal digits at *i as a number in lo..hi. */
static int url_number(const char *text, size_t *i, long lo, long hi, const char *what, int *out) {
    size_t start = *i;
    long v = 0;
    while (text[*i] >= '0' && text[*i] <= '9' && *i - start < 6) v = v * 10 + (text[(*i)++] - '0');
    if (*i == start || *i - start > 5 || v < lo || v > hi)
        return fa_err_set(FA_EINVAL, "redis url: offset %zu: expected a %s in %ld..%ld", start, what, lo, hi);
    *out = (int)v;
    return 0;
}

/* Parses "redis://host[:port][/db]"; contract in l2.h. */
int fa_l2_url_parse(const char *text, fa_l2_url *out) {
    static const char scheme[] = "redis://";
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!text || strncmp(text, scheme, sizeof scheme - 1) != 0)
        return fa_err_set(FA_EINVAL, "redis url: offset 0: expected \"%s\"", scheme);
    size_t i = sizeof scheme - 1;
    if (url_host(text, &i, out)) return FA_EINVAL;
    if (text[i] == ':') {
        i++;
        if (url_number(text, &i, 1, 65535, "port", &out->port)) return FA_EINVAL;
    }
    if (text[i] == '/') {
        i++;
        if (url_number(text, &i, 0, 65535, "database number", &out->db)) return FA_EINVAL;
    }
    if (text[i]) return fa_err_set(FA_EINVAL, "redis url: offset %zu: unexpected '%c'", i, text[i]);
    return 0;
}

void fa_l2_config_default(fa_l2_config *c) {
    memset(c, 0, sizeof *c);
    c->url = DEFAULT_URL;
    c->prefix = "fa:";
    c->timeout_s = 0.02;
    c->connect_timeout_s = 0.5;
    fa_breaker_config_default(&c->breaker);
    c->breaker.name = "redis";
    c->reconnect = (fa_backoff_config){.base_s = 0.05, .cap_s = 1.0, .max_attempts = 8};
}

#if FA_WITH_REDIS

#include <poll.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

/* KEYS: the entry's key, then n "tagv:" keys, then n "tagk:" keys.
 * ARGV: the blob, the TTL, then the n versions the filler saw. Returns 1
 * when stored; when a version moved, nothing is stored and the reply is
 * the pairs {tag index, version in Redis} that differ, so the filler's node
 * learns versions it missed (a purge while its subscription was down, or
 * before it started) and its next fill is shared. A missing
 * version key with a filler's version above 0 means Redis lost it (a
 * restart without persistence): the filler's version is adopted, or puts
 * under every tag purged before would be refused forever, since the
 * nodes' versions never go down. */
static const char PUT_SCRIPT[] =
    "local n = (#KEYS - 1) / 2\n"
    "local adopt, stale = {}, {}\n"
    "for i = 1, n do\n"
    "  local v = redis.call('GET', KEYS[1 + i])\n"
    "  if v then\n"
    "    if v ~= ARGV[2 + i] then stale[#stale + 1] = i; stale[#stale + 1] = tonumber(v) end\n"
    "  elseif ARGV[2 + i] ~= '0' then\n"
    "    adopt[#adopt + 1] = i\n"
    "  end\n"
    "end\n"
    "if #stale > 0 then return stale end\n"
    "for _, i in ipairs(adopt) do redis.call('SET', KEYS[1 + i], ARGV[2 + i]) end\n"
    "local ttl = tonumber(ARGV[2])\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)\n"
    "for i = 1, n do\n"
    "  local s = KEYS[1 + n + i]\n"
    "  redis.call('SADD', s, KEYS[1])\n"
    "  if redis.call('TTL', s) < ttl then redis.call('EXPIRE', s, ttl) end\n"
    "end\n"
    "return 1\n";

/* KEYS: per tag its "tagv:" and "tagk:" keys. ARGV: the channel, then the
 * tags. Returns the new versions. */
static const char PURGE_SCRIPT[] =
    "local out = {}\n"
    "for i = 1, #ARGV - 1 do\n"
    "  local v = redis.call('INCR', KEYS[2 * i - 1])\n"
    "  local members = redis.call('SMEMBERS', KEYS[2 * i])\n"
    "  for j = 1, #members, 500 do\n"
    "    redis.call('DEL', unpack(members, j, math.min(j + 499, #members)))\n"
    "  end\n"
    "  redis.call('DEL', KEYS[2 * i])\n"
    "  redis.call('PUBLISH', ARGV[1], ARGV[1 + i] .. ' ' .. string.format('%d', v))\n"
    "  out[i] = v\n"
    "end\n"
    "return out\n";

enum {
    ST_HITS,
    ST_MISSES,
    ST_ERRORS,
    ST_TIMEOUTS,
    ST_UNAVAILABLE,
    ST_SETS,
    ST_STALE_SETS,
    ST_PURGES,
    ST_BYTES_READ,
    ST_CONNECTS,
    ST_INVALIDATIONS,
    ST_RESYNCS,
    ST_COUNT
};

struct fa_l2 {
    fa_l2_url url;
    char prefix[PREFIX_MAX + 1];
    size_t prefix_len;
    char channel[PREFIX_MAX + 8];
    double timeout_s, connect_timeout_s;
    fa_backoff_config reconnect;
    fa_breaker *breaker;
    void (*on_invalidate)(void *ud, const char *tag, uint64_t version);
    void (*on_resync)(void *ud);
    void *ud;
    _Atomic uint64_t st[ST_COUNT];
};

enum { LINK_DOWN, LINK_CONNECTING, LINK_UP };

typedef struct l2_link {
    struct fa_l2_conn *conn;
    redisAsyncContext *ac; /* NULL once hiredis cleaned it up */
    int fd;
    unsigned want; /* what io watches fd for */
    int state;
    int sub;         /* the subscription link */
    int broken;      /* a watch failed: tick drops the link */
    int was_up;      /* the next loss is worth a log line */
    double retry_at; /* DOWN: when to connect again */
    double ready_by; /* CONNECTING: deadline of connect + handshake */
    fa_backoff backoff;
} l2_link;

/* A get or put in flight, in issue order. */
typedef struct l2_op {
    struct l2_op *prev, *next;
    struct fa_l2_conn *conn;
    fa_l2_get_cb cb; /* NULL: a put */
    void *ud;
    double deadline;
    int timed_out;
    size_t ntags;                              /* a put's tags, to learn versions from a stale reply */
    char tags[][FA_CACHE_TAG_MAX];
} l2_op;

struct fa_l2_conn {
    fa_l2 *l2;
    const fa_io_loop *io;
    l2_link cmd, sub;
    int subscriber;
    int closing;
    char put_sha[41];
    l2_op *head, *tail;
};

static void count(fa_l2 *l2, int which, uint64_t n) {
    atomic_fetch_add_explicit(&l2->st[which], n, memory_order_relaxed);
}

static double conn_now(const fa_l2_conn *c) { return c->io->now(c->io->ud); }

/* ---------------------------------------------------------------- process-wide */

static int check_config(const fa_l2_config *c) {
    if (!(c->timeout_s > 0) || !(c->connect_timeout_s > 0))
        return fa_err_set(FA_EINVAL, "l2 config: timeout_s %g and connect_timeout_s %g must be > 0",
                          c->timeout_s, c->connect_timeout_s);
    const char *prefix = c->prefix ? c->prefix : "";
    if (strlen(prefix) > PREFIX_MAX)
        return fa_err_set(FA_EINVAL, "l2 config: prefix of %zu bytes, at most %d", strlen(prefix),
                          PREFIX_MAX);
    for (const char *p = prefix; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return fa_err_set(FA_EINVAL, "l2 config: prefix byte 0x%02x at %td not allowed",
                              (unsigned)(unsigned char)*p, p - prefix);
    return 0;
}

/* Contract in l2.h. */
fa_l2 *fa_l2_new(const fa_l2_config *c) {
    fa_l2_config def;
    if (!c) {
        fa_l2_config_default(&def);
        c = &def;
    }
    if (check_config(c)) return NULL;
    fa_l2 *l2 = fa_calloc(1, sizeof *l2);
    if (!l2) return NULL;
    if (fa_l2_url_parse(c->url ? c->url : DEFAULT_URL, &l2->url)) {
        free(l2);
        return NULL;
    }
    snprintf(l2->prefix, sizeof l2->prefix, "%s", c->prefix ? c->prefix : "");
    l2->prefix_len = strlen(l2->prefix);
    snprintf(l2->channel, sizeof l2->channel, "%sinval", l2->prefix);
    l2->timeout_s = c->timeout_s;
    l2->connect_timeout_s = c->connect_timeout_s;
    l2->reconnect = c->reconnect;
    l2->on_invalidate = c->on_invalidate;
    l2->on_resync = c->on_resync;
    l2->ud = c->ud;
    fa_breaker_config bc = c->breaker;
    if (!bc.name) bc.name = "redis";
    l2->breaker = fa_breaker_new(&bc);
    if (!l2->breaker) {
        free(l2);
        return NULL;
    }
    for (int i = 0; i < ST_COUNT; i++) atomic_init(&l2->st[i], 0);
    return l2;
}

void fa_l2_free(fa_l2 *l2) {
    if (!l2) return;
    fa_breaker_free(l2->breaker);
    free(l2);
}

fa_breaker *fa_l2_breaker(fa_l2 *l2) { return l2->breaker; }

void fa_l2_stats_get(fa_l2 *l2, fa_l2_stats *out) {
    uint64_t v[ST_COUNT];
    for (int i = 0; i < ST_COUNT; i++) v[i] = atomic_load_explicit(&l2->st[i], memory_order_relaxed);
    *out = (fa_l2_stats){.hits = v[ST_HITS],
                         .misses = v[ST_MISSES],
                         .errors = v[ST_ERRORS],
                         .timeouts = v[ST_TIMEOUTS],
                         .unavailable = v[ST_UNAVAILABLE],
                         .sets = v[ST_SETS],
                         .stale_sets = v[ST_STALE_SETS],
                         .purges = v[ST_PURGES],
                         .bytes_read = v[ST_BYTES_READ],
                         .connects = v[ST_CONNECTS],
                         .invalidations = v[ST_INVALIDATIONS],
                         .resyncs = v[ST_RESYNCS]};
}

/* ---------------------------------------------------------------- command arguments */

#define ARGV_MAX (4 + 3 * FA_CACHE_MAX_TAGS + 3)

/* A command's arguments: text built in one buffer (offsets, since it may
 * move), or borrowed bytes (the blob). */
typedef struct l2_argv {
    fa_buf text;
    int n;
    size_t off[ARGV_MAX], len[ARGV_MAX];
    const char *borrowed[ARGV_MAX];
    const char *ptr[ARGV_MAX];
    int failed;
} l2_argv;

/* Appends an argument made of up to three pieces (NULL pieces skipped). */
static void argv_add(l2_argv *a, const char *p1, const char *p2, const char *p3) {
    if (a->failed || a->n == ARGV_MAX) {
        a->failed = 1;
        return;
    }
    a->off[a->n] = a->text.len;
    a->borrowed[a->n] = NULL;
    const char *parts[3] = {p1, p2, p3};
    for (int i = 0; i < 3; i++)
        if (parts[i] && fa_buf_puts(&a->text, parts[i])) a->failed = 1;
    a->len[a->n] = a->text.len - a->off[a->n];
    a->n++;
}

static void argv_borrow(l2_argv *a, const void *p, size_t n) {
    if (a->failed || a->n == ARGV_MAX) {
        a->failed = 1;
        return;
    }
    a->borrowed[a->n] = p;
    a->len[a->n++] = n;
}

/* Resolves the pointers; FA_ENOMEM when building failed. */
static int argv_finish(l2_argv *a) {
    if (a->failed) return fa_err_set(FA_ENOMEM, "l2: out of memory building a command");
    for (int i = 0; i < a->n; i++) a->ptr[i] = a->borrowed[i] ? a->borrowed[i] : a->text.data + a->off[i];
    return 0;
}

/* ---------------------------------------------------------------- links */

static void link_drop(l2_link *l) {
    if (l->ac) redisAsyncFree(l->ac); /* the cleanup hook clears l->ac */
}

static double backoff_delay(l2_link *l) {
    double d = fa_backoff_next(&l->backoff);
    if (d < 0) { /* the sequence ran out: start it again, never give up */
        fa_backoff_init(&l->backoff, &l->conn->l2->reconnect, 0);
        d = fa_backoff_next(&l->backoff);
    }
    return d > 0 ? d : 0;
}

/* The link's connection is gone or going: no new commands, a reconnect
 * after a backoff delay. Idempotent. */
static void link_lost(l2_link *l, const char *why) {
    if (l->state == LINK_DOWN) return;
    fa_l2_conn *c = l->conn;
    /* A connect or handshake that fails is the dependency failing too:
     * with Redis refused or frozen no get is ever issued, and the breaker
     * must still open (and the metric say so). */
    if (!l->sub && l->state == LINK_CONNECTING && !c->closing) fa_breaker_failure(c->l2->breaker);
    if (l->was_up && !c->closing)
        fa_log(FA_LOG_WARN, "l2: redis connection lost", "link=%s host=%s port=%d reason=\"%s\"",
               l->sub ? "subscribe" : "command", c->l2->url.host, c->l2->url.port, why);
    l->was_up = 0;
    l->state = LINK_DOWN;
    if (!c->closing) l->retry_at = conn_now(c) + backoff_delay(l);
}

static void link_up(l2_link *l) {
    fa_l2_conn *c = l->conn;
    l->state = LINK_UP;
    l->was_up = 1;
    fa_backoff_init(&l->backoff, &c->l2->reconnect, 0);
    count(c->l2, l->sub ? ST_RESYNCS : ST_CONNECTS, 1);
    fa_log(FA_LOG_DEBUG, "l2: redis link up", "link=%s host=%s port=%d", l->sub ? "subscribe" : "command",
           c->l2->url.host, c->l2->url.port);
}

/* ---------------------------------------------------------------- hiredis adapter */

static void on_ready(void *arg, unsigned events) {
    l2_link *l = arg;
    redisAsyncContext *ac = l->ac;
    if (!ac) return;
    if (events & (FA_IO_READ | FA_IO_ERROR)) redisAsyncHandleRead(ac);
    if (l->ac == ac && (events & FA_IO_WRITE)) redisAsyncHandleWrite(ac);
}

static void link_watch(l2_link *l, unsigned want) {
    if (want == l->want || l->fd < 0) return;
    const fa_io_loop *io = l->conn->io;
    if (io->watch(io->ud, l->fd, want, on_ready, l) != 0) {
        fa_log(FA_LOG_WARN, "l2: watching the redis socket failed", "error=\"%s\"", fa_err_msg());
        l->broken = 1;
        return;
    }
    l->want = want;
}

static void ev_add_read(void *p) { link_watch(p, ((l2_link *)p)->want | FA_IO_READ); }
static void ev_del_read(void *p) { link_watch(p, ((l2_link *)p)->want & ~(unsigned)FA_IO_READ); }
static void ev_add_write(void *p) { link_watch(p, ((l2_link *)p)->want | FA_IO_WRITE); }
static void ev_del_write(void *p) { link_watch(p, ((l2_link *)p)->want & ~(unsigned)FA_IO_WRITE); }

static void ev_cleanup(void *p) {
    l2_link *l = p;
    link_watch(l, 0);
    l->ac = NULL;
    l->fd = -1;
    l->broken = 0;
    link_lost(l, "connection closed");
}

static void on_connect(const redisAsyncContext *ac, int status) {
    (void)ac;
    (void)status; /* a failure is seen by the cleanup hook; the handshake replies make the link UP */
}

/* ---------------------------------------------------------------- handshake */

static int reply_is(const redisReply *r, int type) { return r && r->type == type; }

/* Fails the link from inside a reply callback (hiredis defers the free). */
static void link_fail_in_callback(l2_link *l, redisAsyncContext *ac, const char *why, const redisReply *r) {
    fa_log(FA_LOG_WARN, "l2: redis handshake failed", "reason=\"%s\" reply=\"%.200s\"", why,
           reply_is(r, REDIS_REPLY_ERROR) ? r->str : "unexpected type");
    link_lost(l, why);
    redisAsyncFree(ac);
}

static void select_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    redisReply *r = reply;
    if (!r) return; /* the context is going away */
    if (!reply_is(r, REDIS_REPLY_STATUS)) link_fail_in_callback(privdata, ac, "SELECT", r);
}

static void script_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    l2_link *l = privdata;
    redisReply *r = reply;
    if (!r) return;
    if (!reply_is(r, REDIS_REPLY_STRING) || r->len != 40) {
        link_fail_in_callback(l, ac, "SCRIPT LOAD", r);
        return;
    }
    memcpy(l->conn->put_sha, r->str, 40);
    l->conn->put_sha[40] = '\0';
    if (l->state == LINK_CONNECTING) link_up(l);
}

/* "<tag> <version>" from a purge; 0 or FA_EINVAL. */
static int parse_invalidation(const char *s, size_t n, char tag[FA_CACHE_TAG_MAX], uint64_t *version) {
    const char *sp = memchr(s, ' ', n);
    if (!sp || sp == s || (size_t)(sp - s) >= FA_CACHE_TAG_MAX || sp + 1 == s + n) return FA_EINVAL;
    uint64_t v = 0;
    for (const char *p = sp + 1; p < s + n; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) return FA_EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    for (const char *p = s; p < sp; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) return FA_EINVAL;
    memcpy(tag, s, (size_t)(sp - s));
    tag[sp - s] = '\0';
    *version = v;
    return 0;
}

static void deliver_message(fa_l2 *l2, const redisReply *payload) {
    char tag[FA_CACHE_TAG_MAX];
    uint64_t version;
    if (!reply_is(payload, REDIS_REPLY_STRING) ||
        parse_invalidation(payload->str, payload->len, tag, &version)) {
        /* Something meant to invalidate, and we cannot tell what: play safe. */
        fa_log(FA_LOG_WARN, "l2: malformed invalidation message", "channel=%s", l2->channel);
        if (l2->on_resync) l2->on_resync(l2->ud);
        return;
    }
    count(l2, ST_INVALIDATIONS, 1);
    if (l2->on_invalidate) l2->on_invalidate(l2->ud, tag, version);
}

static void sub_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    (void)ac;
    l2_link *l = privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 || !reply_is(r->element[0], REDIS_REPLY_STRING))
        return;
    fa_l2 *l2 = l->conn->l2;
    const char *kind = r->element[0]->str;
    if (strcmp(kind, "subscribe") == 0 && l->state == LINK_CONNECTING) {
        link_up(l);
        if (l2->on_resync) l2->on_resync(l2->ud);
    } else if (strcmp(kind, "message") == 0) {
        deliver_message(l2, r->element[2]);
    }
}

/* Queues the link's handshake; 0 or < 0 when hiredis refused. */
static int queue_handshake(l2_link *l) {
    fa_l2 *l2 = l->conn->l2;
    redisAsyncContext *ac = l->ac;
    if (l->sub) return redisAsyncCommand(ac, sub_reply, l, "SUBSCRIBE %s", l2->channel) == REDIS_OK ? 0 : -1;
    if (l2->url.db && redisAsyncCommand(ac, select_reply, l, "SELECT %d", l2->url.db) != REDIS_OK) return -1;
    return redisAsyncCommand(ac, script_reply, l, "SCRIPT LOAD %s", PUT_SCRIPT) == REDIS_OK ? 0 : -1;
}

/* DOWN -> CONNECTING (or back to DOWN with a new delay). Not from a callback. */
static void link_start(l2_link *l) {
    fa_l2 *l2 = l->conn->l2;
    l->state = LINK_CONNECTING;
    l->ready_by = conn_now(l->conn) + l2->connect_timeout_s;
    redisAsyncContext *ac = redisAsyncConnect(l2->url.host, l2->url.port);
    if (!ac || ac->err) {
        const char *why = ac ? ac->errstr : "out of memory";
        fa_log(FA_LOG_DEBUG, "l2: redis connect failed", "host=%s port=%d error=\"%s\"", l2->url.host,
               l2->url.port, why);
        if (ac) redisAsyncFree(ac);
        link_lost(l, "connect failed");
        return;
    }
    /* A subscription is idle for long stretches: keepalive probes find a
     * peer that vanished without a FIN (host down, a NAT dropping the flow)
     * within about 30 s, and the reconnect then resyncs. */
    redisEnableKeepAlive(&ac->c);
    l->ac = ac;
    l->fd = ac->c.fd;
    l->want = 0;
    l->broken = 0;
    ac->data = l;
    ac->ev.data = l;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect); /* also asks for the first write event */
    if (queue_handshake(l)) {
        link_lost(l, "handshake not queued");
        link_drop(l);
    }
}

/* ---------------------------------------------------------------- the conn */

/* Contract in l2.h. */
fa_l2_conn *fa_l2_conn_new(fa_l2 *l2, const fa_io_loop *io, int subscriber) {
    fa_l2_conn *c = fa_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->l2 = l2;
    c->io = io;
    c->subscriber = subscriber != 0;
    l2_link *links[2] = {&c->cmd, &c->sub};
    for (int i = 0; i < 2; i++) {
        links[i]->conn = c;
        links[i]->fd = -1;
        links[i]->sub = i;
        links[i]->state = LINK_DOWN;
        fa_backoff_init(&links[i]->backoff, &l2->reconnect, 0);
    }
    link_start(&c->cmd);
    if (c->subscriber) link_start(&c->sub);
    return c;
}

int fa_l2_conn_ready(const fa_l2_conn *c) { return c->cmd.state == LINK_UP && c->cmd.ac; }

int fa_l2_conn_subscribed(const fa_l2_conn *c) {
    return c->subscriber && c->sub.state == LINK_UP && c->sub.ac;
}

static void op_unlink(fa_l2_conn *c, l2_op *op) {
    if (op->prev) op->prev->next = op->next;
    else c->head = op->next;
    if (op->next) op->next->prev = op->prev;
    else c->tail = op->prev;
}

static l2_op *op_new(fa_l2_conn *c, fa_l2_get_cb cb, void *ud, size_t ntags) {
    l2_op *op = fa_calloc(1, sizeof *op + ntags * FA_CACHE_TAG_MAX);
    if (!op) return NULL;
    op->ntags = ntags;
    op->conn = c;
    op->cb = cb;
    op->ud = ud;
    return op;
}

static void op_link(fa_l2_conn *c, l2_op *op) {
    op->deadline = conn_now(c) + c->l2->timeout_s;
    op->prev = c->tail;
    op->next = NULL;
    if (c->tail) c->tail->next = op;
    else c->head = op;
    c->tail = op;
}

/* May a command be issued now? 0, or FA_EUNAVAIL (counted). On 0 the
 * breaker expects exactly one report. */
static int admit(fa_l2_conn *c) {
    fa_l2 *l2 = c->l2;
    if (!fa_l2_conn_ready(c) || (c->cmd.ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING))) {
        count(l2, ST_UNAVAILABLE, 1);
        return fa_err_set(FA_EUNAVAIL, "l2: redis %s:%d not connected", l2->url.host, l2->url.port);
    }
    if (!fa_breaker_allow(l2->breaker)) {
        count(l2, ST_UNAVAILABLE, 1);
        return fa_err_set(FA_EUNAVAIL, "l2: redis breaker open");
    }
    return 0;
}

/* A put was refused because tag versions moved: tell the node the
 * versions Redis holds (pairs {tag index (1-based), version}), as if it
 * had heard the purges. */
static void learn_versions(fa_l2 *l2, const l2_op *op, const redisReply *r) {
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *idx = r->element[i], *ver = r->element[i + 1];
        if (idx->type != REDIS_REPLY_INTEGER || ver->type != REDIS_REPLY_INTEGER || idx->integer < 1 ||
            (size_t)idx->integer > op->ntags || ver->integer < 0)
            continue;
        if (l2->on_invalidate) l2->on_invalidate(l2->ud, op->tags[idx->integer - 1], (uint64_t)ver->integer);
    }
}

/* The reply to a get or put, or NULL when its connection went. */
static void op_reply(redisAsyncContext *ac, void *reply, void *privdata) {
    l2_op *op = privdata;
    fa_l2_conn *c = op->conn;
    fa_l2 *l2 = c->l2;
    redisReply *r = reply;
    op_unlink(c, op);
    fa_l2_result result = FA_L2_ERROR;
    if (!r) {
        link_lost(&c->cmd, op->timed_out ? "timeout" : "connection closed");
        count(l2, op->timed_out ? ST_TIMEOUTS : ST_ERRORS, 1);
        fa_breaker_failure(l2->breaker);
    } else {
        fa_breaker_success(l2->breaker); /* Redis answered in time */
        if (r->type == REDIS_REPLY_STRING && op->cb) {
            result = FA_L2_HIT;
            count(l2, ST_HITS, 1);
            count(l2, ST_BYTES_READ, r->len);
        } else if (r->type == REDIS_REPLY_NIL && op->cb) {
            result = FA_L2_MISS;
            count(l2, ST_MISSES, 1);
        } else if (r->type == REDIS_REPLY_INTEGER && !op->cb) {
            count(l2, r->integer == 1 ? ST_SETS : ST_STALE_SETS, 1);
        } else if (r->type == REDIS_REPLY_ARRAY && !op->cb) {
            count(l2, ST_STALE_SETS, 1);
            learn_versions(l2, op, r);
        } else {
            count(l2, ST_ERRORS, 1);
            fa_log(FA_LOG_WARN, "l2: redis error reply", "op=%s reply=\"%.200s\"", op->cb ? "get" : "put",
                   r->type == REDIS_REPLY_ERROR ? r->str : "unexpected type");
            if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
                redisAsyncCommand(ac, script_reply, &c->cmd, "SCRIPT LOAD %s", PUT_SCRIPT);
        }
    }
    if (op->cb) op->cb(op->ud, result, result == FA_L2_HIT ? r->str : NULL, result == FA_L2_HIT ? r->len : 0);
    free(op);
}

/* Admits, links and sends a built command; 0 or < 0 (nothing pending). */
static int issue(fa_l2_conn *c, l2_op *op, l2_argv *a) {
    int rc = argv_finish(a);
    if (!rc) rc = admit(c);
    if (rc) return rc;
    op_link(c, op);
    if (redisAsyncCommandArgv(c->cmd.ac, op_reply, op, a->n, a->ptr, a->len) != REDIS_OK) {
        op_unlink(c, op);
        fa_breaker_failure(c->l2->breaker);
        count(c->l2, ST_ERRORS, 1);
        return fa_err_set(FA_EIO, "l2: redis refused the command (connection closing)");
    }
    return 0;
}

/* Contract in l2.h. */
int fa_l2_get(fa_l2_conn *c, const char *key, fa_l2_get_cb cb, void *ud) {
    if (!key || !*key || !cb) return fa_err_set(FA_EINVAL, "l2 get: empty key or no callback");
    l2_op *op = op_new(c, cb, ud, 0);
    if (!op) return FA_ENOMEM;
    l2_argv a = {0};
    argv_add(&a, "GET", NULL, NULL);
    argv_add(&a, c->l2->prefix, key, NULL);
    int rc = issue(c, op, &a);
    fa_buf_free(&a.text);
    if (rc) free(op);
    return rc;
}

static int check_tag(const char *tag, size_t i) {
    size_t n = tag ? strlen(tag) : 0;
    if (n == 0 || n >= FA_CACHE_TAG_MAX)
        return fa_err_set(FA_EINVAL, "l2: tag %zu: %zu bytes, expected 1..%d", i, n, FA_CACHE_TAG_MAX - 1);
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)tag[k] <= 0x20 || (unsigned char)tag[k] >= 0x7f)
            return fa_err_set(FA_EINVAL, "l2: tag %zu: byte 0x%02x at %zu not allowed", i,
                              (unsigned)(unsigned char)tag[k], k);
    return 0;
}

static int check_put(const char *key, size_t len, int ttl_s, const char *const *tags, size_t ntags) {
    if (!key || !*key) return fa_err_set(FA_EINVAL, "l2 put: empty key");
    if (ttl_s < 1) return fa_err_set(FA_EINVAL, "l2 put: ttl %d s, expected >= 1", ttl_s);
    if (ntags > FA_CACHE_MAX_TAGS)
        return fa_err_set(FA_EINVAL, "l2 put: %zu tags, at most %d", ntags, FA_CACHE_MAX_TAGS);
    if (len > FA_L2_MAX_BLOB)
        return fa_err_set(FA_ELIMIT, "l2 put: blob of %zu bytes, at most %u", len, FA_L2_MAX_BLOB);
    for (size_t i = 0; i < ntags; i++)
        if (check_tag(tags[i], i)) return FA_EINVAL;
    return 0;
}

/* EVALSHA sha numkeys key tagv... tagk... blob ttl versions... */
static void build_put(l2_argv *a, const fa_l2_conn *c, const char *key, const void *blob, size_t len,
                      int ttl_s, const char *const *tags, const uint64_t *versions, size_t ntags) {
    const char *prefix = c->l2->prefix;
    char num[24];
    argv_add(a, "EVALSHA", NULL, NULL);
    argv_add(a, c->put_sha, NULL, NULL);
    snprintf(num, sizeof num, "%zu", 1 + 2 * ntags);
    argv_add(a, num, NULL, NULL);
    argv_add(a, prefix, key, NULL);
    for (size_t i = 0; i < ntags; i++) argv_add(a, prefix, "tagv:", tags[i]);
    for (size_t i = 0; i < ntags; i++) argv_add(a, prefix, "tagk:", tags[i]);
    argv_borrow(a, blob, len);
    snprintf(num, sizeof num, "%d", ttl_s);
    argv_add(a, num, NULL, NULL);
    for (size_t i = 0; i < ntags; i++) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)versions[i]);
        argv_add(a, num, NULL, NULL);
    }
}

/* Contract in l2.h. */
int fa_l2_put(fa_l2_conn *c, const char *key, const void *blob, size_t len, int ttl_s,
              const char *const *tags, const uint64_t *tag_versions, size_t ntags) {
    if (check_put(key, len, ttl_s, tags, ntags)) return fa_err_code();
    l2_op *op = op_new(c, NULL, NULL, ntags);
    if (!op) return FA_ENOMEM;
    for (size_t i = 0; i < ntags; i++) snprintf(op->tags[i], FA_CACHE_TAG_MAX, "%s", tags[i]);
    l2_argv a = {0};
    build_put(&a, c, key, blob ? blob : "", len, ttl_s, tags, tag_versions, ntags);
    int rc = issue(c, op, &a);
    fa_buf_free(&a.text);
    if (rc) free(op);
    return rc;
}

/* ---------------------------------------------------------------- timers */

/* The oldest operation is overdue: drop the connection, failing them all.
 * But first read what the socket already holds: on a loop busy computing
 * responses, Redis's replies may have arrived in time and only not been
 * read yet (the socket's readiness comes in a later epoll batch than the
 * tick). Counting those as timeouts would open the breaker just when the
 * loop is loaded, make every request compute, load it more, and time out
 * the half-open probe the same way: a breaker that never closes. The
 * deadline bounds Redis's latency, not the loop's. */
static void catch_up(l2_link *l) {
    if (!l->ac || l->fd < 0) return;
    struct pollfd p = {.fd = l->fd, .events = (short)(POLLIN | ((l->want & FA_IO_WRITE) ? POLLOUT : 0))};
    if (poll(&p, 1, 0) <= 0) return;
    on_ready(l, ((p.revents & POLLIN) ? FA_IO_READ : 0u) | ((p.revents & POLLOUT) ? FA_IO_WRITE : 0u) |
                    ((p.revents & (POLLERR | POLLHUP)) ? FA_IO_ERROR : 0u));
}

static void expire_ops(fa_l2_conn *c, double now) {
    if (!c->head || c->head->deadline > now) return;
    if (c->cmd.state == LINK_UP) catch_up(&c->cmd);
    if (!c->head || c->head->deadline > now) return;
    size_t overdue = 0, pending = 0;
    for (l2_op *op = c->head; op; op = op->next, pending++)
        if (op->deadline <= now) op->timed_out = 1, overdue++;
    fa_log(FA_LOG_WARN, "l2: redis timed out", "overdue=%zu pending=%zu timeout_s=%g", overdue, pending,
           c->l2->timeout_s);
    link_lost(&c->cmd, "timeout");
    link_drop(&c->cmd);
}

static void check_link(l2_link *l, double now) {
    if (l->ac && l->broken) {
        link_lost(l, "watch failed");
        link_drop(l);
    } else if (l->state == LINK_CONNECTING && now >= l->ready_by) {
        catch_up(l); /* what arrived in time but was not read yet counts (see expire_ops) */
        if (l->state == LINK_CONNECTING) {
            link_lost(l, "connect timeout");
            link_drop(l);
        }
    }
    if (l->state == LINK_DOWN && !l->ac && now >= l->retry_at) link_start(l);
}

static double link_due(const l2_link *l, double due) {
    if (l->broken) return fmin(due, 0);
    if (l->state == LINK_CONNECTING) return fmin(due, l->ready_by);
    if (l->state == LINK_DOWN) return fmin(due, l->retry_at);
    return due;
}

/* Contract in l2.h. */
double fa_l2_conn_tick(fa_l2_conn *c, double now) {
    expire_ops(c, now);
    check_link(&c->cmd, now);
    if (c->subscriber) check_link(&c->sub, now);
    double due = INFINITY;
    if (c->head) due = c->head->deadline;
    due = link_due(&c->cmd, due);
    if (c->subscriber) due = link_due(&c->sub, due);
    if (isinf(due)) return -1;
    return due > now ? due - now : 0;
}

/* Contract in l2.h. */
void fa_l2_conn_free(fa_l2_conn *c) {
    if (!c) return;
    c->closing = 1;
    link_drop(&c->cmd);
    link_drop(&c->sub);
    free(c);
}

/* ---------------------------------------------------------------- purge */

static int check_purge(const char *const *tags, size_t n, double timeout_s) {
    if (n < 1 || n > PURGE_MAX_TAGS || !tags)
        return fa_err_set(FA_EINVAL, "l2 purge: %zu tags, expected 1..%d", n, PURGE_MAX_TAGS);
    if (!(timeout_s > 0)) return fa_err_set(FA_EINVAL, "l2 purge: timeout %g s, expected > 0", timeout_s);
    for (size_t i = 0; i < n; i++)
        if (check_tag(tags[i], i)) return FA_EINVAL;
    return 0;
}

static struct timeval to_timeval(double s) {
    if (s < 0.001) s = 0.001;
    struct timeval tv = {.tv_sec = (time_t)s, .tv_usec = (suseconds_t)((s - floor(s)) * 1e6)};
    return tv;
}

/* The error of a failed blocking call: FA_ETIMEDOUT or FA_EIO. */
static int sync_error(const fa_l2 *l2, const redisContext *rc, int err_no, const char *what) {
    int timed_out =
        rc && rc->err == REDIS_ERR_IO &&
        (err_no == EAGAIN || err_no == EWOULDBLOCK || err_no == ETIMEDOUT || err_no == EINPROGRESS);
    return fa_err_set(timed_out ? FA_ETIMEDOUT : FA_EIO, "l2 purge: redis %s:%d: %s: %s", l2->url.host,
                      l2->url.port, what, rc ? rc->errstr : "out of memory");
}

static redisContext *sync_connect(const fa_l2 *l2, fa_deadline d, int *rc) {
    redisContext *ctx = redisConnectWithTimeout(l2->url.host, l2->url.port, to_timeval(fa_deadline_left(d)));
    if (!ctx || ctx->err) {
        *rc = sync_error(l2, ctx, errno, "connect");
        if (ctx) redisFree(ctx);
        return NULL;
    }
    if (redisSetTimeout(ctx, to_timeval(fa_deadline_left(d))) != REDIS_OK) {
        *rc = sync_error(l2, ctx, errno, "setting the timeout");
        redisFree(ctx);
        return NULL;
    }
    return ctx;
}

static void build_purge(l2_argv *a, const fa_l2 *l2, const char *const *tags, size_t n) {
    char num[24];
    argv_add(a, "EVAL", NULL, NULL);
    argv_add(a, PURGE_SCRIPT, NULL, NULL);
    snprintf(num, sizeof num, "%zu", 2 * n);
    argv_add(a, num, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        argv_add(a, l2->prefix, "tagv:", tags[i]);
        argv_add(a, l2->prefix, "tagk:", tags[i]);
    }
    argv_add(a, l2->channel, NULL, NULL);
    for (size_t i = 0; i < n; i++) argv_add(a, tags[i], NULL, NULL);
}

/* Runs argv (with SELECT first when needed) and checks the reply. */
static int purge_run(const fa_l2 *l2, redisContext *ctx, const char **argv, const size_t *lens, int argc,
                     size_t n, uint64_t *versions) {
    if (l2->url.db) {
        redisReply *r = redisCommand(ctx, "SELECT %d", l2->url.db);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        int e = errno;
        if (r) freeReplyObject(r);
        if (!ok)
            return r ? fa_err_set(FA_EIO, "l2 purge: SELECT %d refused", l2->url.db)
                     : sync_error(l2, ctx, e, "SELECT");
    }
    redisReply *r = redisCommandArgv(ctx, argc, argv, lens);
    if (!r) return sync_error(l2, ctx, errno, "EVAL");
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) rc = fa_err_set(FA_EIO, "l2 purge: script failed: %.300s", r->str);
    else if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
        rc = fa_err_set(FA_EIO, "l2 purge: unexpected reply");
    for (size_t i = 0; !rc && i < n; i++) {
        if (r->element[i]->type != REDIS_REPLY_INTEGER) rc = fa_err_set(FA_EIO, "l2 purge: unexpected reply");
        else if (versions) versions[i] = (uint64_t)r->element[i]->integer;
    }
    freeReplyObject(r);
    return rc;
}

/* Contract in l2.h. */
int fa_l2_purge(fa_l2 *l2, const char *const *tags, size_t n, double timeout_s, uint64_t *versions) {
    if (check_purge(tags, n, timeout_s)) return FA_EINVAL;
    fa_deadline d = fa_deadline_in(timeout_s);
    if (!fa_breaker_allow(l2->breaker)) {
        count(l2, ST_UNAVAILABLE, 1);
        return fa_err_set(FA_EUNAVAIL, "l2 purge: redis breaker open");
    }
    int rc = 0;
    redisContext *ctx = sync_connect(l2, d, &rc);
    /* A command holds ARGV_MAX arguments: many tags go in chunks, each one script. */
    size_t per = (ARGV_MAX - 4) / 3;
    for (size_t done = 0; ctx && !rc && done < n; done += per) {
        size_t k = n - done < per ? n - done : per;
        l2_argv a = {0};
        build_purge(&a, l2, tags + done, k);
        rc = argv_finish(&a);
        if (!rc) rc = purge_run(l2, ctx, a.ptr, a.len, a.n, k, versions ? versions + done : NULL);
        fa_buf_free(&a.text);
    }
    if (ctx) redisFree(ctx);
    if (rc == FA_EIO || rc == FA_ETIMEDOUT) fa_breaker_failure(l2->breaker);
    else fa_breaker_success(l2->breaker);
    count(l2, rc == 0 ? ST_PURGES : rc == FA_ETIMEDOUT ? ST_TIMEOUTS : ST_ERRORS, rc == 0 ? n : 1);
    return rc;
}

#else /* !FA_WITH_REDIS */

static int no_redis(void) { return fa_err_set(FA_EUSAGE, "l2: built without Redis support"); }

fa_l2 *fa_l2_new(const fa_l2_config *c) {
    (void)c;
    no_redis();
    return NULL;
}
void fa_l2_free(fa_l2 *l2) { (void)l2; }
fa_breaker *fa_l2_breaker(fa_l2 *l2) {
    (void)l2;
    return NULL;
}
void fa_l2_stats_get(fa_l2 *l2, fa_l2_stats *out) {
    (void)l2;
    memset(out, 0, sizeof *out);
}
fa_l2_conn *fa_l2_conn_new(fa_l2 *l2, const fa_io_loop *io, int subscriber) {
    (void)l2, (void)io, (void)subscriber;
    no_redis();
    return NULL;
}
int fa_l2_conn_ready(const fa_l2_conn *c) {
    (void)c;
    return 0;
}
int fa_l2_conn_subscribed(const fa_l2_conn *c) {
    (void)c;
    return 0;
}
int fa_l2_get(fa_l2_conn *c, const char *key, fa_l2_get_cb cb, void *ud) {
    (void)c, (void)key, (void)cb, (void)ud;
    return no_redis();
}
int fa_l2_put(fa_l2_conn *c, const char *key, const void *blob, size_t len, int ttl_s,
              const char *const *tags, const uint64_t *tag_versions, size_t ntags) {
    (void)c, (void)key, (void)blob, (void)len, (void)ttl_s, (void)tags, (void)tag_versions, (void)ntags;
    return no_redis();
}
double fa_l2_conn_tick(fa_l2_conn *c, double now) {
    (void)c, (void)now;
    return -1;
}
void fa_l2_conn_free(fa_l2_conn *c) { (void)c; }
int fa_l2_purge(fa_l2 *l2, const char *const *tags, size_t n, double timeout_s, uint64_t *versions) {
    (void)l2, (void)tags, (void)n, (void)timeout_s, (void)versions;
    return no_redis();
}

#endif
