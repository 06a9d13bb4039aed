/*
 * l2.h - the face of the L2 response cache: finished responses kept in
 * Redis and shared by every API node, and the binary codec that turns an
 * L1 entry into one Redis value and back.
 *
 * Why an L2 at all (issue 4): an API node that starts, or whose L1 evicted
 * a response, would otherwise recompute it from the store while another
 * node already has it. With L2, a response is computed and compressed once
 * per cluster; a hit costs one round trip to Redis on loopback or the LAN
 * (~100 us) instead of a store query and a compression.
 *
 * Why it can never make the API worse:
 *   - Every operation has a deadline (fa_l2_config.timeout_s, 20 ms): a
 *     slow Redis costs a bounded latency, then the caller falls back to the
 *     store as if it were a miss.
 *   - Everything goes through one circuit breaker ("redis"): once Redis
 *     failed or timed out failure_threshold times in a row, calls are
 *     refused at once (FA_EUNAVAIL) for open_s, then one probe decides.
 *     The API keeps answering from L1 and the store meanwhile.
 *   - Puts are fire-and-forget: a response is never held back for L2.
 *
 * Invalidation by tag versions, the same scheme as L1's (cache.h): in
 * Redis, "<prefix>tagv:<tag>" holds the tag's version (missing = 0) and
 * "<prefix>tagk:<tag>" the set of keys stored under it. fa_l2_purge bumps
 * the versions, deletes the dependent keys and publishes "<tag> <version>"
 * on "<prefix>inval", atomically per call (one Lua script). Every node
 * keeps one subscriber connection; its on_invalidate callback raises the
 * node's L1 tag versions (fa_tag_versions_observe), so one purge reaches
 * every L1 and the L2 at once. A put carries the versions its filler saw
 * when the fill began and is stored only if they still hold (a Lua script
 * compares them), so a fill that raced a purge is not kept: Redis is the
 * source of truth for tag versions, the L1 maps follow it.
 *
 * Threads: a fa_l2 is process-wide and thread-safe (its breaker and
 * counters are shared by every loop). A fa_l2_conn belongs to one event
 * loop: every call on it, and every callback it makes, happens on that
 * loop's thread. fa_l2_purge blocks and may be called from any thread.
 *
 * Building: the codec is always compiled. The Redis part needs hiredis
 * (FA_WITH_REDIS); without it the functions exist, fa_l2_new returns NULL
 * with FA_EUSAGE "built without Redis support" and the others refuse.
 */
#ifndef FA_CACHE_L2_H
#define FA_CACHE_L2_H

#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "net/net.h"

/* ---------------------------------------------------------------- codec */

/* One entry as one blob, every integer little-endian:
 *
 *   offset  size  field
 *        0     4  magic "FAL2"
 *        4     1  format version (FA_L2_FORMAT_VERSION)
 *        5     1  variants present: bit c for coding c (fa_cache_coding);
 *                 bit 0 (identity) always set, bits 4..7 clear
 *        6     1  number of tags, 0..FA_CACHE_MAX_TAGS
 *        7     1  reserved, 0
 *        8     4  total length of the blob, this header and trailer included
 *       12     8  expiry, Unix milliseconds (0: not recorded)
 *       20     2  content type length, then its bytes (no NUL)
 *              2  headers length, then its bytes
 *                 per tag: 1 length byte, then its bytes
 *                 per present variant in coding order: 4 length bytes, then
 *                 its bytes (identity may be empty, a compressed one not)
 *   len - 8    8  checksum: fa_l2_checksum of every byte before it
 *
 * Why this shape: explicit lengths let the decoder check every field
 * against the bytes left before touching it; the total length catches a
 * truncated value before anything else; the checksum catches a value some
 * other writer (or a bug) corrupted, since its bytes go straight out as a
 * response. Variants are stored compressed as L1 made them, so an L2 hit
 * costs no compression (fa_cache_fill.precoded). ETags are not stored:
 * they are a hash of each variant's bytes, recomputed identically by L1.
 * Encoding is canonical: a blob the decoder accepts re-encodes to the same
 * bytes. */
#define FA_L2_MAGIC "FAL2"
#define FA_L2_FORMAT_VERSION 1
#define FA_L2_HEADER_BYTES 20
#define FA_L2_TRAILER_BYTES 8
#define FA_L2_MIN_BLOB (FA_L2_HEADER_BYTES + 2 + 2 + 4 + FA_L2_TRAILER_BYTES)
#define FA_L2_MAX_BLOB (64u << 20) /* larger blobs are refused (FA_ELIMIT) both ways */

/* What text fields may hold (both ways; anything else is FA_EINVAL):
 * content type: printable ASCII (0x20..0x7e), at most
 * FA_CACHE_CONTENT_TYPE_MAX - 1 bytes; headers: printable ASCII, tab and
 * '\n', at most FA_CACHE_HEADERS_MAX - 1 bytes; a tag: 1..FA_CACHE_TAG_MAX
 * - 1 bytes of visible ASCII (0x21..0x7e: no space, since invalidation
 * messages are "<tag> <version>"). */

/* The 64-bit checksum the trailer holds, of p[0..n). Exposed for tests and
 * fuzzers that craft blobs. */
uint64_t fa_l2_checksum(const void *p, size_t n);

/* Appends the blob for entry e to out (out is not reset first).
 * expires_unix_ms: when the entry stops being valid, wall clock (0: not
 * recorded); L1 entries carry expiry on a monotonic clock, so the caller
 * converts. Returns 0, FA_EINVAL (a field that may not be stored, named),
 * FA_ELIMIT (blob over FA_L2_MAX_BLOB) or FA_ENOMEM; out keeps its old
 * length on error. */
int fa_l2_encode_entry(const fa_cache_entry *e, uint64_t expires_unix_ms, fa_buf *out);

/* The same from a fill: body, content_type, headers, tags, and each
 * coded[gzip|br|zstd] whose len > 0 as a compressed variant (whether or
 * not precoded is set). ttl_s is not stored (see expires_unix_ms). */
int fa_l2_encode_fill(const fa_cache_fill *f, uint64_t expires_unix_ms, fa_buf *out);

/* Decodes blob[0..len) into fill, which must be initialised as L1 hands it
 * to a fill function (fa_cache_fill zeroed, its buffers empty or reusable):
 * body and coded[] are reset and filled, content_type, headers, ntags and
 * tags set, precoded = 1; ttl_s is left alone. *expires_unix_ms (may be
 * NULL) gets the recorded expiry (0: none): the caller turns it into
 * fill->ttl_s and treats a passed one as a miss.
 * Validation is strict: magic, version, reserved bits, total length, the
 * checksum, every length against the bytes left, counts and text fields
 * (see above), no trailing bytes. Returns 0, or FA_EINVAL with
 * "<name>: offset <n>: <what is wrong>" (name NULL: "l2 entry"), FA_ELIMIT
 * (len over FA_L2_MAX_BLOB) or FA_ENOMEM. On error fill may hold part of
 * the blob; it is still safe to free (as L1 does). Never reads past len. */
int fa_l2_decode(const void *blob, size_t len, const char *name, fa_cache_fill *fill,
                 uint64_t *expires_unix_ms);

/* ---------------------------------------------------------------- Redis URL */

typedef struct fa_l2_url {
    char host[256]; /* name or IPv4 address; an IPv6 address without its brackets */
    int port;       /* 1..65535, 6379 when absent */
    int db;         /* 0..65535, 0 when absent */
} fa_l2_url;

/* Parses "redis://host[:port][/db]" strictly: no user or password, no
 * query, no trailing characters; host is [A-Za-z0-9.-]+ or a bracketed
 * IPv6 address. Returns 0 or FA_EINVAL naming the offset and problem.
 * Always compiled. */
int fa_l2_url_parse(const char *text, fa_l2_url *out);

/* ---------------------------------------------------------------- the client */

typedef struct fa_l2_config {
    const char *url;           /* NULL: "redis://127.0.0.1:6379/0" */
    const char *prefix;        /* of every key, channel included: "fa:" (at most 64 bytes) */
    double timeout_s;          /* per get / put, from issue to reply: 0.02 */
    double connect_timeout_s;  /* connect plus handshake (SELECT, SCRIPT LOAD, SUBSCRIBE): 0.5 */
    fa_breaker_config breaker; /* fa_breaker_config_default, name "redis" */
    /* Reconnect delays: full-jitter backoff from base_s up to cap_s; the
     * sequence restarts once it reaches max_attempts, so reconnecting
     * never stops: base 0.05, cap 1, attempts 8. */
    fa_backoff_config reconnect;
    /* From the subscriber connection, on its loop's thread (may be NULL):
     * a purge (on any node) raised tag to version; the caller raises its L1
     * tag map (fa_tag_versions_observe), which invalidates dependents. */
    void (*on_invalidate)(void *ud, const char *tag, uint64_t version);
    /* The subscription was (re)established, the first time included:
     * invalidations published while it was not may have been missed, so
     * the caller drops its L1 (or re-reads the versions it relies on). */
    void (*on_resync)(void *ud);
    void *ud;
} fa_l2_config;

void fa_l2_config_default(fa_l2_config *c);

typedef struct fa_l2 fa_l2;

/* Parses and checks the configuration and makes the breaker; connects to
 * nothing (connections are per loop, fa_l2_conn_new). Returns NULL with
 * FA_EINVAL (a bad setting or URL, named), FA_ENOMEM, or FA_EUSAGE "built
 * without Redis support". */
fa_l2 *fa_l2_new(const fa_l2_config *c);
/* After every fa_l2_conn of it was freed. NULL is a no-op. */
void fa_l2_free(fa_l2 *l2);
/* The breaker every operation goes through (for /metrics and tests). */
fa_breaker *fa_l2_breaker(fa_l2 *l2);

typedef struct fa_l2_stats {
    uint64_t hits, misses;  /* gets answered with a value / with nothing */
    uint64_t errors;        /* gets, puts, purges failed other than by timeout: disconnect, reply error */
    uint64_t timeouts;      /* gets and puts whose deadline passed, purges that timed out */
    uint64_t unavailable;   /* calls refused at once: breaker open or not connected */
    uint64_t sets;          /* puts stored */
    uint64_t stale_sets;    /* puts not stored because a tag version had moved */
    uint64_t purges;        /* tags purged */
    uint64_t bytes_read;    /* value bytes of hits */
    uint64_t connects;      /* connections established (handshake done), reconnects included */
    uint64_t invalidations; /* invalidation messages received */
    uint64_t resyncs;       /* subscriptions established */
} fa_l2_stats;

/* A snapshot of the process-wide counters (each read atomically). */
void fa_l2_stats_get(fa_l2 *l2, fa_l2_stats *out);

/* ---------------------------------------------------------------- per loop */

typedef struct fa_l2_conn fa_l2_conn;

/* Opens the loop's connection to Redis: a non-blocking connect through
 * io (level-triggered watches; hiredis's event hooks map onto io->watch),
 * then a handshake (SELECT db, SCRIPT LOAD of the put script). When the
 * connection drops or fails, it is re-opened from fa_l2_conn_tick after a
 * backoff delay. subscriber = 1 also keeps a second connection SUBSCRIBEd
 * to "<prefix>inval", delivering on_invalidate / on_resync; exactly one
 * loop per process should ask for it. A subscription only misses messages
 * when its connection breaks (Redis restarted, dropped a slow subscriber,
 * or the peer vanished: TCP keepalive finds that within about 30 s), and
 * then it is re-established and on_resync fires; a Redis that is merely
 * slow or paused delivers the messages late, so a command timeout does not
 * touch the subscription (it would make every node drop its L1).
 * The host is resolved here, blocking: give an address or a name in
 * /etc/hosts. Returns NULL with FA_ENOMEM only: a Redis that is down is
 * not an error here (the conn reconnects; calls are refused meanwhile). */
fa_l2_conn *fa_l2_conn_new(fa_l2 *l2, const fa_io_loop *io, int subscriber);

/* 1 when the command connection is up (handshake done), so fa_l2_get and
 * fa_l2_put may be issued; 0 while connecting or waiting to reconnect. */
int fa_l2_conn_ready(const fa_l2_conn *c);
/* 1 when the subscription is established (a subscriber conn). */
int fa_l2_conn_subscribed(const fa_l2_conn *c);

typedef enum fa_l2_result {
    FA_L2_HIT = 0,  /* blob[0..len) is the value; valid only during the callback */
    FA_L2_MISS = 1, /* no such key */
    FA_L2_ERROR = 2 /* timeout, disconnect or error reply; fa_err is not set */
} fa_l2_result;

typedef void (*fa_l2_get_cb)(void *ud, fa_l2_result result, const void *blob, size_t len);

/* Asks Redis for "<prefix><key>". Returns < 0 at once, without calling
 * cb, when the call cannot be made: FA_EUNAVAIL (not connected, or the
 * breaker is open), FA_EINVAL (empty key), FA_ENOMEM. Otherwise returns 0
 * and cb(ud, result, blob, len) runs exactly once, later, on the loop's
 * thread (never from inside fa_l2_get): HIT, MISS, or ERROR once the
 * deadline (timeout_s) passed (fa_l2_conn_tick) or the connection dropped.
 * Gets on one conn are pipelined: many may be in flight at once. A timeout
 * drops the connection (hiredis cannot cancel one command), so every other
 * pending callback fires with ERROR too; it reconnects after a backoff.
 * Each get counts once for the breaker: a reply (value, nil, or error
 * reply) is a success, a timeout or a dropped connection a failure.
 * cb may issue new gets and puts; it must not free the conn. */
int fa_l2_get(fa_l2_conn *c, const char *key, fa_l2_get_cb cb, void *ud);

/* Stores blob[0..len) (a fa_l2_encode_* blob) as "<prefix><key>" for ttl_s
 * seconds (>= 1), fire-and-forget, only if every tags[i]'s version in
 * Redis (missing = 0) still equals tag_versions[i]: the versions the
 * filler read from its L1 tag map (fa_tag_versions_get, kept in step with
 * Redis by on_invalidate) before it began computing. One exception: a
 * missing version key while tag_versions[i] > 0 means Redis lost its data
 * (a restart without persistence, or an eviction: run Redis with
 * maxmemory-policy noeviction or volatile-*, entries have a TTL and
 * version keys do not); the filler's version is then stored and the put
 * goes on, since node versions never go down and every later put under the
 * tag would otherwise be refused. When stored, key
 * joins each tag's member set, whose expiry is raised to at least ttl_s.
 * All of it runs as one Lua script (EVALSHA), so a purge cannot land
 * between the check and the write. The outcome only shows in the stats
 * (sets, stale_sets, errors, timeouts) and the breaker, except that a put
 * refused because versions moved reports Redis's versions of those tags
 * through on_invalidate, so a node that missed purges (its subscription
 * was down, or it started after them) catches up and its next fill is
 * shared. Returns 0 once the
 * command is queued, or < 0 at once as fa_l2_get does; FA_EINVAL for an
 * empty key, ttl_s < 1, ntags > FA_CACHE_MAX_TAGS or a bad tag; FA_ELIMIT
 * for len > FA_L2_MAX_BLOB. blob and tags are copied before it returns. */
int fa_l2_put(fa_l2_conn *c, const char *key, const void *blob, size_t len, int ttl_s,
              const char *const *tags, const uint64_t *tag_versions, size_t ntags);

/* Runs the conn's timers: expires overdue operations (a timeout counts as
 * a failure for the breaker and drops the connection), abandons a connect
 * or handshake that passed connect_timeout_s, re-subscribes, and reconnects
 * when the backoff delay passed. The loop's owner calls it on every
 * iteration with the loop's now (io->now). Returns the seconds until it
 * next has work (0: now), or < 0 when nothing is pending: the loop may
 * then sleep until I/O. Pending callbacks may fire from inside it. */
double fa_l2_conn_tick(fa_l2_conn *c, double now);

/* Closes the conn on its loop's thread, before the loop is freed; every
 * pending get callback fires with ERROR before it returns. Not from inside
 * an L2 callback. NULL is a no-op. */
void fa_l2_conn_free(fa_l2_conn *c);

/* ---------------------------------------------------------------- purge */

/* Invalidates tags[0..n) (n >= 1, at most 256) everywhere, synchronously,
 * on its own blocking connection (for admin endpoints and the import CLI;
 * any thread): in one Lua script, for each tag, INCR "<prefix>tagv:<tag>",
 * DEL every key of "<prefix>tagk:<tag>" and the set itself, and PUBLISH
 * "<tag> <new version>" on "<prefix>inval". timeout_s (> 0) bounds the
 * whole call, connect included. Tags go in chunks of 9, each chunk one
 * script (so each tag's bump, deletes and message are atomic). versions (may be NULL) gets each tag's new
 * version, so the caller can raise its own L1 at once (its subscriber also
 * hears the message). Goes through the breaker. Returns 0, FA_EUNAVAIL
 * (breaker open), FA_ETIMEDOUT, FA_EIO (refused, error reply), FA_EINVAL (a
 * bad tag or argument, named), FA_ENOMEM. */
int fa_l2_purge(fa_l2 *l2, const char *const *tags, size_t n, double timeout_s, uint64_t *versions);

#endif
