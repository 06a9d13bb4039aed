/*
 * media.c - GET /media/{path+}: the streaming outputs of `transcode` (HLS
 * playlists, the DASH manifest, fMP4 segments, any file below the media
 * directory given to `serve --media DIR`) for the dashboard's player.
 *
 * What a player needs from a static server, and nothing more:
 *   - the right Content-Type per extension (hls.js and dash.js check the
 *     manifest's; browsers sniff nothing under MSE);
 *   - byte ranges (Range: bytes=a-b, a-, -n) answered 206 with
 *     Content-Range, an unsatisfiable one 416 with "bytes * / size";
 *     several ranges are answered with the whole file (RFC 9110 allows it,
 *     and no player asks for multipart);
 *   - validators: a strong ETag from size and modification time, and
 *     Last-Modified; If-None-Match answers 304; If-Range with another tag
 *     turns a range request into a whole one;
 *   - CORS: Access-Control-Allow-Origin: *, since the player page (the
 *     dashboard, a club's own site) often lives on another origin than the
 *     media; the files are public to whoever may reach the server anyway;
 *   - caching by role: a transcode writes its output to a temporary
 *     directory and renames it into place when complete, so every file seen
 *     here is final; segments are cached a day, manifests a minute (a
 *     re-transcode with --force replaces them under the same names).
 *
 * Files are mapped (mmap) and handed to the server by reference, released
 * when the response is sent: a 100 MB file costs no copy and no heap.
 * Paths are resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
 * under the media directory, after a lexical check that refuses "..",
 * ".", empty and hidden segments, so nothing outside the directory can be
 * named, even by a symlink planted inside it. Never cached by the response
 * caches: the file system is the cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../app_internal.h"

#define MEDIA_MAX_PATH 1024

typedef struct media_type {
    const char *ext, *type;
    int manifest; /* cached a minute rather than a day */
} media_type;

static const media_type types[] = {
    {".m3u8", "application/vnd.apple.mpegurl", 1},
    {".mpd", "application/dash+xml", 1},
    {".m4s", "video/iso.segment", 0},
    {".mp4", "video/mp4", 0},
    {".m4a", "audio/mp4", 0},
    {".m4v", "video/mp4", 0},
    {".ts", "video/mp2t", 0},
    {".vtt", "text/vtt", 1},
    {".json", "application/json", 1},
    {".png", "image/png", 0},
    {".jpg", "image/jpeg", 0},
};

static const media_type *type_of(const char *name) {
    static const media_type other = {"", "application/octet-stream", 0};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && strcasecmp(name + n - e, types[i].ext) == 0) return &types[i];
    }
    return &other;
}

/* Copies the path below /media/ into out, refusing what could leave the
 * directory or name a hidden file. 0 or -1. */
static int relative_path(fa_strv path, char *out, size_t size) {
    static const char prefix[] = "/media/";
    size_t pn = sizeof prefix - 1;
    if (path.n <= pn || path.n - pn >= size || memcmp(path.p, prefix, pn) != 0) return -1;
    memcpy(out, path.p + pn, path.n - pn);
    out[path.n - pn] = '\0';
    for (const char *seg = out;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 || seg[0] == '.' || memchr(seg, '\\', len)) return -1;
        if (!end) break;
        seg = end + 1;
    }
    return strlen(out) == path.n - pn ? 0 : -1; /* a decoded NUL cut it short */
}

static int open_beneath(const char *root, const char *rel) {
    int dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return -1;
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, dir, rel, &how, sizeof how);
    if (fd < 0 && errno == ENOSYS) fd = openat(dir, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int saved = errno;
    close(dir);
    errno = saved;
    return fd;
}

typedef struct byte_range {
    uint64_t first, last; /* inclusive */
} byte_range;

/* Parses a single "bytes=..." range against size: 1 a range, 0 ignore the
 * header (several ranges, another unit, malformed: the whole file), -1
 * unsatisfiable (416). */
static int parse_range(const fa_strv *h, uint64_t size, byte_range *r) {
    char buf[64];
    if (h->n >= sizeof buf) return 0;
    memcpy(buf, h->p, h->n);
    buf[h->n] = '\0';
    if (strncmp(buf, "bytes=", 6) != 0 || strchr(buf, ',')) return 0;
    const char *s = buf + 6;
    char *end;
    if (*s == '-') { /* the last n bytes */
        if (s[1] < '0' || s[1] > '9') return 0;
        unsigned long long n = strtoull(s + 1, &end, 10);
        if (*end) return 0;
        if (n == 0 || size == 0) return -1;
        r->first = n >= size ? 0 : size - n;
        r->last = size - 1;
        return 1;
    }
    if (*s < '0' || *s > '9') return 0;
    unsigned long long a = strtoull(s, &end, 10), b = size ? size - 1 : 0;
    if (*end != '-') return 0;
    if (end[1]) {
        if (end[1] < '0' || end[1] > '9') return 0;
        b = strtoull(end + 1, &end, 10);
        if (*end || b < a) return 0;
    }
    if (a >= size) return -1;
    r->first = a;
    r->last = b >= size ? size - 1 : b;
    return 1;
}

typedef struct mapping {
    void *addr;
    size_t len;
} mapping;

static void unmap(void *ud) {
    mapping *m = ud;
    munmap(m->addr, m->len);
    free(m);
}

/* Hands bytes [first, first + len) of fd to the response by reference. */
static int attach_body(fa_api_req *r, int fd, uint64_t first, size_t len) {
    if (len == 0) return 0;
    long page = sysconf(_SC_PAGESIZE);
    uint64_t base = first - first % (uint64_t)page;
    mapping *m = fa_malloc(sizeof *m);
    if (!m) return FA_ENOMEM;
    m->len = (size_t)(first - base) + len;
    m->addr = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, (off_t)base);
    if (m->addr == MAP_FAILED) {
        free(m);
        return fa_err_set(FA_EIO, "media: mmap: %s", strerror(errno));
    }
    r->resp->body_ref = (const char *)m->addr + (first - base);
    r->resp->body_ref_len = len;
    r->resp->release = unmap;
    r->resp->release_ud = m;
    return 0;
}

static void validators(fa_api_req *r, const struct stat *st, const media_type *t, char *etag, size_t n) {
    char v[64];
    snprintf(etag, n, "\"%llx-%llx\"", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ull + (unsigned long long)st->st_mtim.tv_nsec);
    struct tm tm;
    gmtime_r(&st->st_mtim.tv_sec, &tm);
    strftime(v, sizeof v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    fa_http_response_header(r->resp, "ETag", etag);
    fa_http_response_header(r->resp, "Last-Modified", v);
    fa_http_response_header(r->resp, "Accept-Ranges", "bytes");
    fa_http_response_header(r->resp, "Access-Control-Allow-Origin", "*"); /* players on other origins */
    fa_http_response_header(r->resp, "Cache-Control",
                            t->manifest ? "public, max-age=60" : "public, max-age=86400");
}

/* Answers an open file: 304, 416, 206 or 200. */
static int answer_file(fa_api_req *r, int fd, const struct stat *st, const char *rel) {
    const media_type *t = type_of(rel);
    char etag[64], cr[96];
    r->resp->content_type = t->type;
    validators(r, st, t, etag, sizeof etag);
    const fa_strv *inm = fa_http_header_get(r->http, "If-None-Match");
    if (inm && fa_api_etag_match(inm->p, inm->n, etag)) {
        r->resp->status = 304;
        r->resp->content_type = NULL;
        return 0;
    }
    uint64_t size = (uint64_t)st->st_size;
    byte_range br = {0, size ? size - 1 : 0};
    const fa_strv *range = fa_http_header_get(r->http, "Range"), *if_range = fa_http_header_get(r->http, "If-Range");
    int ranged = range && !(if_range && !(if_range->n == strlen(etag) && !memcmp(if_range->p, etag, if_range->n)))
                     ? parse_range(range, size, &br)
                     : 0;
    if (ranged < 0) {
        int rc = fa_api_problem(r, 416, "range-not-satisfiable", "range '%.*s' is outside the %llu bytes of '%s'",
                                (int)(range->n > 64 ? 64 : range->n), range->p, (unsigned long long)size, rel);
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
        fa_http_response_header(r->resp, "Content-Range", cr); /* after the problem, which resets headers */
        return rc;
    }
    if (ranged) {
        r->resp->status = 206;
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)br.first,
                 (unsigned long long)br.last, (unsigned long long)size);
        fa_http_response_header(r->resp, "Content-Range", cr);
    }
    return attach_body(r, fd, br.first, size ? (size_t)(br.last - br.first + 1) : 0);
}

int fa_api_h_media(fa_api_req *r) {
    const char *root = r->t->app->cfg.media_dir;
    char rel[MEDIA_MAX_PATH];
    r->cache = FA_API_CACHE_NONE;
    if (!root)
        return fa_api_problem(r, 404, "not-found", "no media directory is served (start serve with --media DIR)");
    if (relative_path(r->http->path, rel, sizeof rel))
        return fa_api_problem(r, 404, "not-found", "'%.*s' does not name a media file",
                              (int)(r->http->path.n > 200 ? 200 : r->http->path.n), r->http->path.p);
    int fd = open_beneath(root, rel);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = errno;
        if (fd >= 0) close(fd);
        if (fd >= 0 || err == ENOENT || err == ENOTDIR || err == EXDEV || err == ELOOP || err == EISDIR)
            return fa_api_problem(r, 404, "not-found", "no media file '%s'", rel);
        return fa_api_problem(r, 500, "internal", "media file '%s': %s", rel, strerror(err));
    }
    int rc = answer_file(r, fd, &st, rel);
    close(fd); /* a mapping outlives its descriptor */
    return rc;
}
