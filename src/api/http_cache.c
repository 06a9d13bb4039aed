/*
 * http_cache.c - HTTP caching for the API (RFC 9110, RFC 9111): strong
 * ETags, conditional GET, Cache-Control by data volatility, Vary and
 * surrogate keys for the CDN.
 *
 * ETag. A strong validator per representation: FNV-1a 64 of the identity
 * body, hex, computed once when the handler has finished the body (a cache
 * hit reuses the stored tag). Two equal bodies get equal tags on every node
 * of a cluster, with no shared state; a coded representation (gzip, br, by
 * the coding hook) gets the coding appended ("\"9f..e1-br\""), because
 * a strong tag names one exact byte sequence. If-None-Match uses the weak
 * comparison RFC 9110 13.1.2 prescribes for GET/HEAD ("W/" ignored, "*"
 * matches anything) and answers 304 without a body, before any encoding is
 * spent on a response nobody will read.
 *
 * Cache-Control: the TTL follows how likely the data is to change. The
 * store has no "match status"; data changes only when a match is imported
 * again (a live feed re-imports the match over and over, a correction
 * re-imports it once), so the time since the last import is the signal:
 *
 *   class    data                                     Cache-Control
 *   SETTLED  one match, imported >= settle_s ago       public, max-age=300, s-maxage=86400,
 *            (default 1 h): final, changes rarely       stale-while-revalidate=600, stale-if-error=86400
 *   RECENT   one match, imported < settle_s ago:      public, max-age=10, s-maxage=60,
 *            may still be a live feed                   stale-while-revalidate=30
 *   LIST     match lists, season sums: change with    public, max-age=5, s-maxage=30,
 *            any import                                 stale-while-revalidate=30
 *   STATIC   this build's documents (openapi.json)    public, max-age=3600, s-maxage=86400,
 *                                                       stale-while-revalidate=86400
 *   NONE     health, readiness, metrics, every error  no-store
 *
 * max-age bounds what browsers keep (they cannot be purged), s-maxage what
 * the CDN keeps (it can: the purge after an import names the surrogate
 * keys), stale-while-revalidate lets the CDN answer at once while it
 * refreshes. Errors are never stored: a 404 for a match about to be
 * imported must not outlive the import.
 *
 * Vary: Accept-Encoding on every cacheable response (the coding hook may
 * answer different bytes per Accept-Encoding). Surrogate-Key names what a
 * response depends on ("match-42 team-statsbomb-217 competition-la-liga"
 * for a match's data, "matches" for lists, "player-5503 aggregates" for
 * season sums), within the 127 bytes a response header value has; keys
 * that do not fit are dropped whole, the match key first so it always fits.
 *
 * Hooks (api.h, fa_api_hooks): the caches keep every fresh 200 with its TTL
 * (s-maxage) and tags (fa_api_cache_headers gives them), and the coding
 * hook picks and applies the coding.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "app_internal.h"

typedef struct cache_policy {
    const char *header;
    int s_maxage; /* what the L1 hook is told to keep */
} cache_policy;

static const cache_policy policies[] = {
    [FA_API_CACHE_NONE] = {"no-store", 0},
    [FA_API_CACHE_LIST] = {"public, max-age=5, s-maxage=30, stale-while-revalidate=30", 30},
    [FA_API_CACHE_RECENT] = {"public, max-age=10, s-maxage=60, stale-while-revalidate=30", 60},
    [FA_API_CACHE_SETTLED] = {"public, max-age=300, s-maxage=86400, stale-while-revalidate=600, "
                              "stale-if-error=86400",
                              86400},
    [FA_API_CACHE_STATIC] = {"public, max-age=3600, s-maxage=86400, stale-while-revalidate=86400", 86400},
};

uint64_t fa_api_hash(const void *p, size_t n, uint64_t seed) {
    const unsigned char *s = p;
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ------------------------------------------------------------ If-None-Match */

static const char *skip_ows_commas(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) p++;
    return p;
}

int fa_api_etag_match(const char *inm, size_t n, const char *etag) {
    const char *p = inm, *end = inm + n;
    size_t elen = strlen(etag);
    for (p = skip_ows_commas(p, end); p < end; p = skip_ows_commas(p, end)) {
        if (*p == '*') return 1;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/') p += 2;
        if (p >= end || *p != '"') return 0; /* malformed: ignore the rest */
        const char *close = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!close) return 0;
        size_t len = (size_t)(close - p) + 1;
        if (len == elen && memcmp(p, etag, len) == 0) return 1;
        p = close + 1;
    }
    return 0;
}

/* ------------------------------------------------------------ surrogate keys */

/* Lower-case [a-z0-9-] form of s into out (runs of anything else become one '-'). */
static void slug(const char *s, char *out, size_t size) {
    size_t o = 0;
    for (; s && *s && o + 1 < size; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out[o++] = c;
        else if (o > 0 && out[o - 1] != '-')
            out[o++] = '-';
    }
    while (o > 0 && out[o - 1] == '-') o--;
    out[o] = '\0';
}

static void append_tag(char *tags, size_t size, const char *kind, const char *a, const char *b) {
    char sa[64], sb[64], key[160];
    slug(a, sa, sizeof sa);
    slug(b, sb, sizeof sb);
    if (a && !sa[0]) return;
    if (b && !sb[0]) return;
    snprintf(key, sizeof key, "%s%s%s%s%s", kind, a ? "-" : "", a ? sa : "", b ? "-" : "", b ? sb : "");
    size_t used = strlen(tags), klen = strlen(key);
    if (used + (used ? 1 : 0) + klen + 1 > size) return;
    snprintf(tags + used, size - used, "%s%s", used ? " " : "", key);
}

void fa_api_tag(fa_api_req *r, const char *kind, const char *a, const char *b) {
    append_tag(r->tags, sizeof r->tags, kind, a, b);
}

void fa_api_match_tags(int64_t store_id, const struct fa_match *m, char *out, size_t size) {
    char id[24];
    if (!size) return;
    out[0] = '\0';
    snprintf(id, sizeof id, "%lld", (long long)store_id);
    append_tag(out, size, "match", id, NULL);
    const char *provider = fa_provider_name(m->provider);
    for (int side = 0; side < 2; side++)
        if (m->teams[side].id[0]) append_tag(out, size, "team", provider, m->teams[side].id);
    if (m->competition[0]) append_tag(out, size, "competition", m->competition, NULL);
    if (m->season[0]) append_tag(out, size, "season", m->season, NULL);
}

/* Seconds since an "YYYY-MM-DDTHH:MM:SSZ" (UTC) time; -1 when unreadable. */
static double age_s(const char *iso) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char z = 0;
    if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &z) != 7 ||
        z != 'Z')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? -1 : difftime(time(NULL), t);
}

void fa_api_cache_match(fa_api_req *r, const fa_match_row *row) {
    double age = age_s(row->imported_at);
    r->cache = age >= 0 && age >= r->t->app->cfg.settle_s ? FA_API_CACHE_SETTLED : FA_API_CACHE_RECENT;
    char tags[FA_API_TAGS_MAX];
    fa_api_match_tags(row->id, &row->m, tags, sizeof tags);
    size_t used = strlen(r->tags), n = strlen(tags);
    if (used + 1 + n >= sizeof r->tags) return;
    if (used) r->tags[used++] = ' ';
    memcpy(r->tags + used, tags, n + 1);
}

/* ------------------------------------------------------------ finishing a response */

static int header_index(const fa_http_response *resp, const char *name) {
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i][0], name) == 0) return (int)i;
    return -1;
}

static void body_of(const fa_http_response *resp, const void **p, size_t *n) {
    *p = resp->body_ref ? resp->body_ref : resp->body.data;
    *n = resp->body_ref ? resp->body_ref_len : resp->body.len;
    if (!*p) *p = "";
}


/* Sets the validators and caching headers of a fresh 200; its ETag into etag. */
static void set_cache_headers(fa_api_req *r, char *etag, size_t size) {
    const void *p;
    size_t n;
    body_of(r->resp, &p, &n);
    snprintf(etag, size, "\"%016llx\"", (unsigned long long)fa_api_hash(p, n, FA_API_HASH_SEED));
    fa_http_response_header(r->resp, "ETag", etag);
    fa_http_response_header(r->resp, "Cache-Control", policies[r->cache].header);
    fa_http_response_header(r->resp, "Vary", "Accept-Encoding");
    if (r->tags[0]) fa_http_response_header(r->resp, "Surrogate-Key", r->tags);
}

int fa_api_cache_headers(fa_api_req *r) {
    fa_http_response *resp = r->resp;
    if (resp->status != 200 || r->cache == FA_API_CACHE_NONE) {
        if (header_index(resp, "Cache-Control") < 0)
            fa_http_response_header(resp, "Cache-Control", "no-store");
        return -1;
    }
    char etag[128];
    set_cache_headers(r, etag, sizeof etag);
    return policies[r->cache].s_maxage;
}

/* dst[size] = src, cut to fit (no printf: these run on every cache hit). */
static void copy_text(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Appends the coding to the ETag header (and etag) of the representation to send. */
static void tag_coding(fa_http_response *resp, char *etag, size_t size, const char *coding) {
    int i = header_index(resp, "ETag");
    size_t len = strlen(etag), cn = strlen(coding);
    if (len < 2 || etag[len - 1] != '"' || len + cn + 1 >= size) return;
    etag[len - 1] = '-';
    memcpy(etag + len, coding, cn);
    etag[len + cn] = '"';
    etag[len + cn + 1] = '\0';
    if (i >= 0) copy_text(resp->headers[i][1], sizeof resp->headers[i][1], etag);
}

static void not_modified(fa_http_response *resp) {
    fa_http_response_drop_body(resp);
    resp->status = 304;
    resp->content_type = NULL;
}

/* The ETag of a response the L1 hook returned: its stored header, else computed now. */
static void cached_etag(fa_http_response *resp, char *etag, size_t size) {
    int at = header_index(resp, "ETag");
    if (at >= 0) {
        copy_text(etag, size, resp->headers[at][1]);
        return;
    }
    const void *p;
    size_t n;
    body_of(resp, &p, &n);
    snprintf(etag, size, "\"%016llx\"", (unsigned long long)fa_api_hash(p, n, FA_API_HASH_SEED));
    fa_http_response_header(resp, "ETag", etag);
}

void fa_api_http_finish(fa_api_req *r, int from_cache) {
    fa_http_response *resp = r->resp;
    if (resp->status != 200 || (r->cache == FA_API_CACHE_NONE && !from_cache)) {
        if (header_index(resp, "Cache-Control") < 0)
            fa_http_response_header(resp, "Cache-Control", "no-store");
        return;
    }
    char etag[128] = "";
    if (from_cache) {
        cached_etag(resp, etag, sizeof etag);
    } else {
        set_cache_headers(r, etag, sizeof etag);
    }
    const fa_api_hooks *h = &r->t->app->cfg.hooks;
    const char *coding = h->coding_pick && h->encode ? h->coding_pick(h->ud, r->http, resp) : NULL;
    char identity[128];
    copy_text(identity, sizeof identity, etag);
    if (coding && *coding) tag_coding(resp, etag, sizeof etag, coding);
    const fa_strv *inm = fa_http_header_get(r->http, "If-None-Match");
    if (inm && fa_api_etag_match(inm->p, inm->n, etag)) {
        not_modified(resp);
        return;
    }
    if (coding && *coding && h->encode(h->ud, coding, resp) != 0) {
        int i = header_index(resp, "ETag"); /* not coded after all: the identity tag */
        if (i >= 0) copy_text(resp->headers[i][1], sizeof resp->headers[i][1], identity);
    }
}
