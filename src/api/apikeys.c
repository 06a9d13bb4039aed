/*
 * apikeys.c - API keys for the write and admin endpoints: generation,
 * the keys file, and checking a presented key in constant time.
 *
 * The server never stores keys, only their SHA-256 hashes. Whoever reads
 * the keys file (a backup, a misconfigured volume) learns names and
 * hashes, and a hash cannot be presented: the server hashes what it is
 * given. Why plain SHA-256 and not a slow password hash (bcrypt, scrypt,
 * Argon2): a key is 256 bits from getrandom(2), not a human's password, so
 * there is no dictionary to try and inverting the hash means a 2^256
 * search; stretching would buy nothing and cost every request
 * milliseconds. SHA-256 of a 46-byte key costs about a microsecond.
 *
 * Constant time. A check hashes the presented key once, then compares the
 * digest with every stored hash using CRYPTO_memcmp (whose time does not
 * depend on where bytes differ) and folds the results with masks, with no
 * branch or early exit on a match: how long a check takes depends on the
 * number of keys, never on whether or which key matched. Comparing hashes
 * rather than keys also means a timing leak could at worst reveal bytes of
 * a hash, which do not help forge a key. Presented keys longer than
 * FA_API_KEY_PRESENTED_MAX are refused before hashing, so an attacker
 * cannot make the server hash megabytes per request.
 *
 * The loaded set is immutable: checks from any number of threads need no
 * lock. Reloading is loading again and swapping the pointer (the owner's
 * job), so a bad edit of the file never leaves a half-loaded set: the load
 * fails with the line that is wrong and the old set stays in use.
 *
 * Parsing is strict: every line is a key, a comment or blank, and anything
 * else is an error naming file:line, because a key file silently skipping a
 * line would silently lock a client out (or, worse, keep a revoked key).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api/security.h"

#define HASH_BYTES 32
#define RANDOM_BYTES 32
#define FILE_MAX (1u << 20)
#define ECHO_MAX 80 /* room for a whole hash field (71) */

typedef struct key_entry {
    char name[FA_API_KEY_NAME_MAX + 1];
    unsigned scopes;
    unsigned char hash[HASH_BYTES];
} key_entry;

struct fa_api_keys {
    EVP_MD *md; /* fetched once: an implicit fetch per request costs more than the hash */
    key_entry *keys;
    size_t n, cap;
};

/* ---------------------------------------------------------------- small pieces */

static int name_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

int fa_api_key_name_valid(const char *s, size_t n) {
    if (n == 0 || n > FA_API_KEY_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)s[i])) return 0;
    return 1;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void to_hex(const unsigned char *p, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A field echoed in a message: at most ECHO_MAX bytes, non-printables as '?'. */
static const char *echo(const char *s, size_t n, char out[ECHO_MAX + 4]) {
    size_t m = n < ECHO_MAX ? n : ECHO_MAX;
    for (size_t i = 0; i < m; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    strcpy(out + m, n > m ? "..." : "");
    return out;
}

static int scope_bit(const char *s, size_t n, unsigned *bit) {
    if (n == 5 && memcmp(s, "write", 5) == 0) return *bit = FA_API_SCOPE_WRITE, 0;
    if (n == 5 && memcmp(s, "admin", 5) == 0) return *bit = FA_API_SCOPE_ADMIN, 0;
    return -1;
}

int fa_api_scopes_parse(const char *s, size_t n, unsigned *scopes) {
    char e[ECHO_MAX + 4];
    unsigned acc = 0;
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < n && s[j] != ',') j++;
        unsigned bit;
        if (j == i)
            return fa_err_set(FA_EINVAL, "scopes '%s': empty item (expected write, admin)", echo(s, n, e));
        if (scope_bit(s + i, j - i, &bit))
            return fa_err_set(FA_EINVAL, "unknown scope '%s' (expected write or admin)",
                              echo(s + i, j - i, e));
        acc |= bit;
        if (j == n) break;
        i = j + 1;
    }
    *scopes = acc;
    return 0;
}

const char *fa_api_scopes_text(unsigned scopes) {
    static const char *const text[] = {"", "write", "admin", "write,admin"};
    return text[scopes & FA_API_SCOPE_ALL];
}

static int digest(const EVP_MD *md, const char *p, size_t n, unsigned char out[HASH_BYTES]) {
    unsigned len = 0;
    if (EVP_Digest(p, n, out, &len, md, NULL) != 1 || len != HASH_BYTES)
        return fa_err_set(FA_EIO, "api keys: SHA-256 failed (OpenSSL)");
    return 0;
}

int fa_api_key_hash_hex(const char *key, size_t len, char *hash_hex, size_t hash_size) {
    if (hash_size < FA_API_KEY_HASH_SIZE)
        return fa_err_set(FA_EINVAL, "api keys: hash buffer of %zu bytes, need %d", hash_size,
                          FA_API_KEY_HASH_SIZE);
    unsigned char h[HASH_BYTES];
    if (digest(EVP_sha256(), key, len, h)) return FA_EIO;
    to_hex(h, HASH_BYTES, hash_hex);
    return 0;
}

/* ---------------------------------------------------------------- generation */

static int random_fill(unsigned char *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return fa_err_set(FA_EIO, "api keys: getrandom failed: %s", strerror(errno));
        got += (size_t)r;
    }
    return 0;
}

/* base64url without padding (RFC 4648 section 5) of p[0..n) into out. */
static void base64url(const unsigned char *p, size_t n, char *out) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = abc[v >> 18 & 63], out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63], out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = abc[v >> 18 & 63], out[o++] = abc[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = abc[v >> 18 & 63], out[o++] = abc[v >> 12 & 63], out[o++] = abc[v >> 6 & 63];
    }
    out[o] = '\0';
}

int fa_api_key_generate(char *key, size_t key_size, char *hash_hex, size_t hash_size) {
    if (key_size < FA_API_KEY_SIZE || hash_size < FA_API_KEY_HASH_SIZE)
        return fa_err_set(FA_EINVAL, "api keys: buffers of %zu and %zu bytes, need %d and %d", key_size,
                          hash_size, FA_API_KEY_SIZE, FA_API_KEY_HASH_SIZE);
    unsigned char raw[RANDOM_BYTES];
    if (random_fill(raw, sizeof raw)) return FA_EIO;
    memcpy(key, FA_API_KEY_PREFIX, 3);
    base64url(raw, sizeof raw, key + 3);
    OPENSSL_cleanse(raw, sizeof raw);
    int rc = fa_api_key_hash_hex(key, FA_API_KEY_LEN, hash_hex, hash_size);
    if (rc) OPENSSL_cleanse(key, key_size);
    return rc;
}

/* ---------------------------------------------------------------- the keys file */

typedef struct line_ctx {
    const char *file; /* base name, for messages */
    unsigned long line;
} line_ctx;

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* Splits s[0..n) at runs of spaces and tabs into at most max fields;
 * returns the number found, max + 1 when there are more. */
static size_t split_fields(const char *s, size_t n, fa_strv *f, size_t max) {
    size_t nf = 0, i = 0;
    for (;;) {
        while (i < n && is_space(s[i])) i++;
        if (i == n) return nf;
        if (nf == max) return max + 1;
        size_t j = i;
        while (j < n && !is_space(s[j])) j++;
        f[nf].p = s + i, f[nf].n = j - i;
        nf++;
        i = j;
    }
}

static int parse_hash(const line_ctx *c, fa_strv f, unsigned char out[HASH_BYTES]) {
    char e[ECHO_MAX + 4];
    int ok = f.n == 7 + 2 * HASH_BYTES && memcmp(f.p, "sha256:", 7) == 0;
    for (size_t i = 0; ok && i < HASH_BYTES; i++) {
        int hi = hex_value((unsigned char)f.p[7 + 2 * i]), lo = hex_value((unsigned char)f.p[8 + 2 * i]);
        if (hi < 0 || lo < 0) ok = 0;
        else out[i] = (unsigned char)(hi << 4 | lo);
    }
    if (!ok)
        return fa_err_set(FA_EINVAL, "%s:%lu: hash '%s': expected 'sha256:' and 64 hex digits", c->file,
                          c->line, echo(f.p, f.n, e));
    return 0;
}

static int check_unique(const fa_api_keys *k, const line_ctx *c, const key_entry *e) {
    for (size_t i = 0; i < k->n; i++) {
        if (strcmp(k->keys[i].name, e->name) == 0)
            return fa_err_set(FA_EINVAL, "%s:%lu: duplicate key name '%s'", c->file, c->line, e->name);
        if (memcmp(k->keys[i].hash, e->hash, HASH_BYTES) == 0)
            return fa_err_set(FA_EINVAL, "%s:%lu: key '%s' has the same hash as key '%s'", c->file, c->line,
                              e->name, k->keys[i].name);
    }
    return 0;
}

static int add_key(fa_api_keys *k, const key_entry *e) {
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 16;
        key_entry *p = fa_realloc(k->keys, cap * sizeof *p);
        if (!p) return FA_ENOMEM;
        k->keys = p, k->cap = cap;
    }
    k->keys[k->n++] = *e;
    return 0;
}

/* One line without its end of line: a key, a comment or blank. */
static int parse_line(fa_api_keys *k, const line_ctx *c, const char *s, size_t n) {
    char e[ECHO_MAX + 4];
    fa_strv f[3];
    size_t nf = split_fields(s, n, f, 3);
    if (nf == 0 || f[0].p[0] == '#') return 0;
    if (nf > 3)
        return fa_err_set(FA_EINVAL, "%s:%lu: too many fields (expected: name sha256:HEX [scopes])", c->file,
                          c->line);
    if (!fa_api_key_name_valid(f[0].p, f[0].n))
        return fa_err_set(FA_EINVAL, "%s:%lu: key name '%s': expected 1-%d characters of [A-Za-z0-9_.-]",
                          c->file, c->line, echo(f[0].p, f[0].n, e), FA_API_KEY_NAME_MAX);
    if (nf < 2)
        return fa_err_set(FA_EINVAL, "%s:%lu: key '%s' has no hash", c->file, c->line,
                          echo(f[0].p, f[0].n, e));
    key_entry ent;
    memset(&ent, 0, sizeof ent);
    memcpy(ent.name, f[0].p, f[0].n);
    ent.scopes = FA_API_SCOPE_ALL;
    if (parse_hash(c, f[1], ent.hash)) return FA_EINVAL;
    if (nf == 3 && fa_api_scopes_parse(f[2].p, f[2].n, &ent.scopes))
        return fa_err_prefix("%s:%lu: key '%s'", c->file, c->line, ent.name);
    if (check_unique(k, c, &ent)) return FA_EINVAL;
    return add_key(k, &ent);
}

static int parse_text(fa_api_keys *k, const char *file, const char *s, size_t n) {
    line_ctx c = {file, 0};
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n, len = end - i;
        if (len && s[i + len - 1] == '\r') len--;
        c.line++;
        int rc = parse_line(k, &c, s + i, len);
        if (rc) return rc;
        i = end + 1;
    }
    return 0;
}

static void warn_if_world_readable(const char *path, const struct stat *st) {
    if (st->st_mode & S_IROTH)
        fa_log(FA_LOG_WARN, "api keys file is world-readable", "file=%s mode=%03o hint=chmod_600", path,
               (unsigned)(st->st_mode & 0777));
}

/* The whole file into *text (malloc'd, NUL-terminated). */
static int read_file(const char *path, char **text, size_t *len) {
    const char *base = fa_path_base(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fa_err_set(FA_EIO, "%s: %s", base, errno == ENOENT ? "no such file" : strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) rc = fa_err_set(FA_EIO, "%s: %s", base, strerror(errno));
    else if (!S_ISREG(st.st_mode)) rc = fa_err_set(FA_EIO, "%s: not a regular file", base);
    else if (st.st_size > FILE_MAX)
        rc = fa_err_set(FA_ELIMIT, "%s: %lld bytes, more than the %u a keys file may have", base,
                        (long long)st.st_size, FILE_MAX);
    else warn_if_world_readable(path, &st);
    char *buf = rc ? NULL : fa_malloc((size_t)st.st_size + 1);
    if (!rc && !buf) rc = FA_ENOMEM;
    size_t got = 0;
    while (!rc && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = fa_err_set(FA_EIO, "%s: %s", base, strerror(errno));
        if (r <= 0) break; /* shrank while reading: parse what is there */
        got += (size_t)r;
    }
    close(fd);
    if (rc) return free(buf), rc;
    buf[got] = '\0';
    *text = buf, *len = got;
    return 0;
}

fa_api_keys *fa_api_keys_load(const char *path) {
    char *text = NULL;
    size_t len = 0;
    if (!path || !*path) return fa_err_set(FA_EIO, "api keys: no keys file given"), NULL;
    if (read_file(path, &text, &len)) return NULL;
    fa_api_keys *k = fa_calloc(1, sizeof *k);
    int rc = k ? 0 : FA_ENOMEM;
    if (!rc && !(k->md = EVP_MD_fetch(NULL, "SHA2-256", NULL)))
        rc = fa_err_set(FA_EIO, "api keys: OpenSSL has no SHA-256");
    if (!rc) rc = parse_text(k, fa_path_base(path), text, len);
    free(text);
    if (rc) return fa_api_keys_free(k), NULL;
    return k;
}

void fa_api_keys_free(fa_api_keys *k) {
    if (!k) return;
    EVP_MD_free(k->md);
    free(k->keys);
    free(k);
}

size_t fa_api_keys_count(const fa_api_keys *k) { return k ? k->n : 0; }

const char *fa_api_keys_name(const fa_api_keys *k, size_t i) {
    return k && i < k->n ? k->keys[i].name : NULL;
}

unsigned fa_api_keys_scopes(const fa_api_keys *k, size_t i) { return k && i < k->n ? k->keys[i].scopes : 0; }

/* ---------------------------------------------------------------- checking */

int fa_api_keys_check(const fa_api_keys *k, const char *presented, size_t len, unsigned need_scope,
                      const char **name_out) {
    if (!k || !presented || len == 0 || len > FA_API_KEY_PRESENTED_MAX) return 0;
    unsigned char h[HASH_BYTES];
    if (digest(k->md, presented, len, h)) return 0;
    /* hit = index + 1 of the matching key, 0 for none; hashes are unique
     * (checked at load), so at most one comparison can set bits. */
    size_t hit = 0;
    for (size_t i = 0; i < k->n; i++) {
        size_t equal = (size_t)(CRYPTO_memcmp(h, k->keys[i].hash, HASH_BYTES) == 0);
        hit |= (i + 1) & ((size_t)0 - equal);
    }
    OPENSSL_cleanse(h, sizeof h);
    if (hit == 0) return 0;
    const key_entry *e = &k->keys[hit - 1];
    if (name_out) *name_out = e->name;
    return (e->scopes & need_scope) == need_scope ? 1 : -1;
}

/* ---------------------------------------------------------------- requests */

static fa_strv trim(fa_strv v) {
    while (v.n && is_space(v.p[0])) v.p++, v.n--;
    while (v.n && is_space(v.p[v.n - 1])) v.n--;
    return v;
}

/* 1 when v is non-empty visible ASCII (no spaces, no controls). */
static int key_text(fa_strv v) {
    if (v.n == 0) return 0;
    for (size_t i = 0; i < v.n; i++)
        if ((unsigned char)v.p[i] <= 0x20 || (unsigned char)v.p[i] >= 0x7f) return 0;
    return 1;
}

/* The value of header name: 1 found once, 0 absent, -1 repeated. */
static int header_once(const fa_http_request *r, const char *name, fa_strv *value) {
    size_t n = strlen(name);
    int found = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        const fa_http_header *h = &r->headers[i];
        if (h->name.n != n || strncasecmp(h->name.p, name, n) != 0) continue;
        if (found) return -1;
        found = 1;
        *value = trim(h->value);
    }
    return found;
}

/* The Bearer credentials of an Authorization value: 1, 0 (another scheme), -1. */
static int bearer(fa_strv v, fa_strv *key) {
    size_t s = 0;
    while (s < v.n && !is_space(v.p[s])) s++;
    if (s != 6 || strncasecmp(v.p, "Bearer", 6) != 0) return 0;
    fa_strv rest = {v.p + s, v.n - s};
    *key = trim(rest);
    return key_text(*key) ? 1 : -1;
}

int fa_api_key_from_request(const fa_http_request *r, fa_strv *out) {
    fa_strv auth = {0}, xkey = {0}, from_auth = {0};
    int a = header_once(r, "Authorization", &auth), x = header_once(r, "X-API-Key", &xkey);
    if (a < 0 || x < 0) return -1;
    if (a) a = bearer(auth, &from_auth);
    if (a < 0 || (x && !key_text(xkey))) return -1;
    if (a && x && (from_auth.n != xkey.n || memcmp(from_auth.p, xkey.p, xkey.n) != 0)) return -1;
    if (!a && !x) return 0;
    *out = a ? from_auth : xkey;
    return 1;
}
