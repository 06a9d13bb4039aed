/*
 * security.h - internal to FootAnalytics (src/api and the CLI): who may
 * call the write and admin endpoints (API keys, apikeys.c) and how often
 * anyone may call at all (token-bucket rate limiting, ratelimit.c).
 *
 * Both units are self-contained and know nothing of routes: the
 * application decides which requests need which scope and which ids to
 * limit (the peer address, the key's name), and writes the 401/403/429.
 *
 * API keys. A key is "fa_" + 32 random bytes in base64url (46 characters);
 * the server keeps only SHA-256 hashes of keys, in a keys file of lines
 *     <name> sha256:<64 hex> [scopes]
 * (scopes: a comma list of "write", "admin"; both when absent; '#'
 * comments and blank lines allowed). A loaded fa_api_keys is immutable:
 * any number of threads may check against it at once, and a reload builds
 * a new one that the owner swaps in.
 *
 * Rate limiting. One fa_ratelimit is one policy (rate r tokens/s, burst b)
 * over many ids; each id has its own bucket. It is thread-safe (sharded,
 * a mutex per shard) and bounded (max_buckets ids at most).
 */
#ifndef FA_API_SECURITY_H
#define FA_API_SECURITY_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

/* ---------------------------------------------------------------- API keys (apikeys.c) */

enum { FA_API_SCOPE_WRITE = 1u, FA_API_SCOPE_ADMIN = 2u, FA_API_SCOPE_ALL = 3u };

#define FA_API_KEY_PREFIX "fa_"
#define FA_API_KEY_LEN 46         /* "fa_" + base64url of 32 bytes, no padding */
#define FA_API_KEY_SIZE 47        /* FA_API_KEY_LEN + NUL */
#define FA_API_KEY_HASH_SIZE 65   /* 64 lower-case hex digits + NUL */
#define FA_API_KEY_NAME_MAX 64    /* [A-Za-z0-9_.-]{1,64} */
#define FA_API_KEY_PRESENTED_MAX 256 /* longer presented keys are unknown without hashing */

typedef struct fa_api_keys fa_api_keys;

/* Loads and checks a keys file. Every malformed line is FA_EINVAL naming
 * "file:line" and the problem (name charset or length, hash not
 * "sha256:" + 64 hex, duplicate name, the same hash under two names,
 * unknown or empty scope, extra fields); a missing or unreadable file is
 * FA_EIO naming it; a file over 1 MiB is FA_ELIMIT. A world-readable file
 * is loaded, with a warning logged. NULL with the message on error. An
 * empty file (or only comments) is valid and holds no keys. */
fa_api_keys *fa_api_keys_load(const char *path);
void fa_api_keys_free(fa_api_keys *k); /* NULL is fine */

/* Number of keys, and the name and scopes of key i < count (file order; NULL / 0 beyond). */
size_t fa_api_keys_count(const fa_api_keys *k);
const char *fa_api_keys_name(const fa_api_keys *k, size_t i);
unsigned fa_api_keys_scopes(const fa_api_keys *k, size_t i);

/* Checks a presented key (not NUL-terminated) against every stored hash
 * in constant time: every hash is compared (CRYPTO_memcmp), with no early
 * exit, so timing tells neither which key matched nor whether one did.
 * Returns 1 when it is a known key holding every scope bit of need_scope
 * (*name_out, if name_out, = its name, valid while k lives); 0 when it is
 * unknown (also: empty, or longer than FA_API_KEY_PRESENTED_MAX, which is
 * not hashed at all); -1 when it is known but lacks a scope (*name_out set
 * too, for the log). Safe from any number of threads at once. */
int fa_api_keys_check(const fa_api_keys *k, const char *presented, size_t len, unsigned need_scope,
                      const char **name_out);

/* The key a request presents, from "Authorization: Bearer <key>" (scheme
 * case-insensitive) or "X-API-Key: <key>". Returns 1 with *out viewing
 * the key (in the request's buffer), 0 when the request carries none (an
 * Authorization header with another scheme counts as none), -1 when it is
 * malformed: the header repeated, an empty key, bytes other than visible
 * ASCII, or both headers naming different keys. */
int fa_api_key_from_request(const fa_http_request *r, fa_strv *out);

/* Makes a new key from getrandom(2) into key[key_size >= FA_API_KEY_SIZE]
 * and its hash, 64 lower-case hex digits, into hash_hex[hash_size >=
 * FA_API_KEY_HASH_SIZE]. 0, or FA_EINVAL (buffers too small) / FA_EIO (no
 * randomness, hashing failed) with the message. */
int fa_api_key_generate(char *key, size_t key_size, char *hash_hex, size_t hash_size);

/* SHA-256 of key[0..len) as 64 lower-case hex digits into
 * hash_hex[hash_size >= FA_API_KEY_HASH_SIZE]: 0 or FA_EINVAL / FA_EIO. */
int fa_api_key_hash_hex(const char *key, size_t len, char *hash_hex, size_t hash_size);

/* 1 when s[0..n) is a valid key name ([A-Za-z0-9_.-]{1,64}), else 0. */
int fa_api_key_name_valid(const char *s, size_t n);
/* Parses a scope list "write", "admin", "write,admin" (order free, no
 * spaces, no empty items) into *scopes: 0, or FA_EINVAL naming the bad
 * item (no file position: callers prefix their context). */
int fa_api_scopes_parse(const char *s, size_t n, unsigned *scopes);
/* "write", "admin", "write,admin" (or "" for none): a static string. */
const char *fa_api_scopes_text(unsigned scopes);

/* ---------------------------------------------------------------- rate limiting (ratelimit.c) */

#define FA_RATELIMIT_ID_MAX 64 /* longest id in bytes (an IPv6 peer is 45, a key name 64) */

typedef struct fa_ratelimit_config {
    double rate;        /* tokens added per second, > 0 (e.g. 10) */
    double burst;       /* bucket size, >= 1: requests allowed at once after idling (e.g. 20) */
    size_t max_buckets; /* memory bound: ids tracked at most, >= shards (100000) */
    unsigned shards;    /* a power of two, 1..256 (16) */
    /* The clock fa_ratelimit_now reads (seconds, monotonic); NULL = fa_clock_now.
     * Tests inject one. */
    double (*clock)(void *ud);
    void *clock_ud;
} fa_ratelimit_config;

typedef struct fa_ratelimit_stats {
    size_t buckets;          /* ids tracked now (<= max_buckets) */
    uint64_t allowed, refused;
    uint64_t evictions;      /* buckets dropped to make room for a new id */
    uint64_t lossy_evictions; /* ... of which were not full (see ratelimit.c) */
} fa_ratelimit_stats;

typedef struct fa_ratelimit fa_ratelimit;

/* rate 10, burst 20, max_buckets 100000, shards 16, the real clock. */
void fa_ratelimit_config_default(fa_ratelimit_config *c);
/* NULL with FA_EINVAL naming the bad field, or FA_ENOMEM / FA_EIO. */
fa_ratelimit *fa_ratelimit_new(const fa_ratelimit_config *c);
void fa_ratelimit_free(fa_ratelimit *rl); /* NULL is fine */
/* The configured clock's reading, the `now` to give fa_ratelimit_take. */
double fa_ratelimit_now(const fa_ratelimit *rl);

/* Takes one token from id's bucket at time now (seconds on one monotonic
 * clock; a reading earlier than the bucket's last is taken as no time
 * passed). Returns 1 when allowed; 0 when refused, with *retry_after_s (if
 * given) = seconds until one token is available; FA_EINVAL when id_len is
 * 0 or over FA_RATELIMIT_ID_MAX (nothing is counted). Thread-safe. */
int fa_ratelimit_take(fa_ratelimit *rl, const char *id, size_t id_len, double now, double *retry_after_s);

/* The Retry-After header's whole seconds for a refusal: retry_after_s
 * rounded up, at least 1 (a client told 0 would retry at once), at most
 * 86400. */
long fa_ratelimit_retry_after(double retry_after_s);

/* A snapshot of the counters (each shard is read under its lock). */
void fa_ratelimit_stats_get(fa_ratelimit *rl, fa_ratelimit_stats *out);

#endif
