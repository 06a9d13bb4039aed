/*
 * cache.c - the model cache (cache.h): loaded models shared by key, with
 * reference counts, single-flight loads and LRU eviction under a budget.
 *
 * Why it is built this way:
 *   - One mutex guards everything, and it is never held across file I/O or
 *     a model load: a getter that must load publishes a LOADING entry,
 *     unlocks, loads, then relocks to publish the result; getters of the same
 *     key find the LOADING entry and sleep on one condition variable. A
 *     failed load is unlinked at once (the next get tries again) and its
 *     code and message are copied into the entry for the waiters, which each
 *     set them as their own thread-local error; the last one out frees it.
 *   - Entries are a plain list scanned linearly, and LRU is a use counter
 *     (the smallest is evicted): a process holds a handful of models, and
 *     each one costs megabytes and milliseconds to load, so the scans are
 *     noise next to what the cache saves.
 *   - The key is the content hash, not the path, but hashing a 4 MB file on
 *     every get would cost more than the hit saves. So the cache remembers,
 *     per path, the file's identity (device, inode, size, mtime and ctime
 *     in nanoseconds) and the hash it had: an unchanged file is not read
 *     again; any rewrite changes the mtime/ctime or the inode (a rename),
 *     and the file is hashed anew. A file replaced *while* it is being
 *     loaded may be cached under the hash read just before; the next get
 *     sees the new identity and loads again.
 *   - Eviction frees models outside the lock.
 */
#include "nn/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/pool.h"
#include "nn/kernels.h"

#define MEMO_SLOTS 32 /* paths whose identity and hash are remembered */
#define BACKEND_MAX 32
#define HASH_CHUNK (256 * 1024)

/* What identifies a file's content without reading it. */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
} file_id;

/* The files a model path stands for: the path, plus its .weights for a
 * Darknet .cfg (n == 2). */
typedef struct model_files {
    char *paths[2];
    file_id ids[2];
    int n;
} model_files;

typedef struct cache_key {
    unsigned char sha[32];
    int precision;
    int threads;
    fa_pool *pool;
    char backend[BACKEND_MAX];
    int rank;
    int64_t shape[FA_NN_MAX_RANK];
} cache_key;

typedef struct memo_slot {
    char *path; /* NULL: free */
    file_id ids[2];
    unsigned char sha[32];
    uint64_t used;
} memo_slot;

enum { ENTRY_LOADING, ENTRY_READY, ENTRY_FAILED };

typedef struct cache_entry {
    struct cache_entry *next;
    cache_key key;
    int state;
    fa_nn_model *model;
    size_t bytes;
    int refs;    /* callers holding the model */
    int waiters; /* getters sleeping on this entry's load */
    uint64_t used;
    int err_code;
    char *err_msg;
} cache_entry;

struct fa_nn_cache {
    pthread_mutex_t mu;
    pthread_cond_t loaded; /* some entry left ENTRY_LOADING */
    cache_entry *entries;  /* linked, LOADING and READY ones only */
    memo_slot memo[MEMO_SLOTS];
    uint64_t tick;
    size_t budget, bytes;
    fa_nn_cache_stats st;
};

/* ------------------------------------------------------------ the files */

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static int stat_file(const char *path, file_id *id) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return fa_err_set(errno == ENOENT ? FA_ENOTFOUND : FA_EIO, "%s: cannot read the model: %s",
                          base_name(path), strerror(errno));
    memset(id, 0, sizeof *id);
    id->dev = sb.st_dev, id->ino = sb.st_ino, id->size = sb.st_size;
    id->mtime = sb.st_mtim, id->ctime = sb.st_ctim;
    return 0;
}

static int same_id(const file_id *a, const file_id *b) {
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
           a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
           a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void files_free(model_files *f) {
    free(f->paths[0]);
    free(f->paths[1]);
}

/* Names and stats the files of path (x.cfg -> x.cfg and x.weights). */
static int files_stat(const char *path, model_files *f) {
    memset(f, 0, sizeof *f);
    size_t len = strlen(path);
    if (!(f->paths[0] = fa_strdup(path))) return FA_ENOMEM;
    f->n = 1;
    if (has_suffix(path, ".cfg")) {
        if (!(f->paths[1] = fa_malloc(len + 5))) return FA_ENOMEM;
        memcpy(f->paths[1], path, len - 4);
        strcpy(f->paths[1] + len - 4, ".weights");
        f->n = 2;
    }
    for (int i = 0; i < f->n; i++) {
        int rc = stat_file(f->paths[i], &f->ids[i]);
        if (rc) return rc;
    }
    return 0;
}

static int hash_one(EVP_MD_CTX *md, const char *path, unsigned char *buf) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fa_err_set(errno == ENOENT ? FA_ENOTFOUND : FA_EIO, "%s: cannot read the model: %s",
                          base_name(path), strerror(errno));
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, HASH_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = fa_err_set(FA_EIO, "%s: cannot read the model: %s", base_name(path), strerror(errno));
        if (n <= 0) break;
        if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
            rc = fa_err_set(FA_EIO, "%s: SHA-256 failed", base_name(path));
            break;
        }
    }
    close(fd);
    return rc;
}

/* SHA-256 over the files' contents, in order. */
static int files_hash(const model_files *f, unsigned char sha[32]) {
    unsigned char *buf = fa_malloc(HASH_CHUNK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = !buf ? FA_ENOMEM : !md ? fa_err_set(FA_ENOMEM, "nn cache: out of memory for SHA-256") : 0;
    if (!rc && EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        rc = fa_err_set(FA_EIO, "%s: SHA-256 unavailable", base_name(f->paths[0]));
    for (int i = 0; !rc && i < f->n; i++)
        rc = hash_one(md, f->paths[i], buf);
    unsigned int len = 0;
    if (!rc && (EVP_DigestFinal_ex(md, sha, &len) != 1 || len != 32))
        rc = fa_err_set(FA_EIO, "%s: SHA-256 failed", base_name(f->paths[0]));
    EVP_MD_CTX_free(md);
    free(buf);
    return rc;
}

/* -------------------------------------------------- the memo of hashes */

static int memo_find(fa_nn_cache *c, const model_files *f, unsigned char sha[32]) {
    for (int i = 0; i < MEMO_SLOTS; i++) {
        memo_slot *s = &c->memo[i];
        if (!s->path || strcmp(s->path, f->paths[0]) != 0) continue;
        if (!same_id(&s->ids[0], &f->ids[0]) || (f->n == 2 && !same_id(&s->ids[1], &f->ids[1]))) return 0;
        memcpy(sha, s->sha, 32);
        s->used = ++c->tick;
        return 1;
    }
    return 0;
}

/* Remembers f's hash in the slot of its path, else a free or the oldest one
 * (the path copy failing only means the memo forgets it). */
static void memo_store(fa_nn_cache *c, const model_files *f, const unsigned char sha[32]) {
    memo_slot *s = NULL;
    for (int i = 0; i < MEMO_SLOTS && !s; i++)
        if (c->memo[i].path && strcmp(c->memo[i].path, f->paths[0]) == 0) s = &c->memo[i];
    for (int i = 0; i < MEMO_SLOTS && !s; i++)
        if (!c->memo[i].path) s = &c->memo[i];
    if (!s) {
        s = &c->memo[0];
        for (int i = 1; i < MEMO_SLOTS; i++)
            if (c->memo[i].used < s->used) s = &c->memo[i];
    }
    if (!s->path || strcmp(s->path, f->paths[0]) != 0) {
        free(s->path);
        s->path = strdup(f->paths[0]);
    }
    memcpy(s->ids, f->ids, sizeof s->ids);
    memcpy(s->sha, sha, 32);
    s->used = ++c->tick;
}

/* The content hash of path's files, from the memo or by reading them. */
static int content_hash(fa_nn_cache *c, const char *path, unsigned char sha[32]) {
    model_files f;
    int rc = files_stat(path, &f);
    if (rc) {
        files_free(&f);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    int known = memo_find(c, &f, sha);
    pthread_mutex_unlock(&c->mu);
    if (!known && !(rc = files_hash(&f, sha))) {
        pthread_mutex_lock(&c->mu);
        memo_store(c, &f, sha);
        pthread_mutex_unlock(&c->mu);
    }
    files_free(&f);
    return rc;
}

/* ------------------------------------------------------------ the key */

/* The precision a load gives: a .fanq file is INT8 whatever o says. */
static int resolved_precision(const char *path, const fa_nn_options *o) {
    return has_suffix(path, ".fanq") ? FA_NN_INT8 : o ? o->precision : FA_NN_FP32;
}

/* The backend a load picks, as runtime.c does: "auto" is native. */
static const char *resolved_backend(const fa_nn_options *o, int precision) {
    const char *name = o && o->backend ? o->backend : "auto";
    if (strcmp(name, "auto") != 0) return name;
    (void)precision;
    return "native";
}

static int make_key(fa_nn_cache *c, const char *path, const fa_nn_options *o, const int64_t *shape, int rank,
                    cache_key *k) {
    memset(k, 0, sizeof *k);
    if (rank < 0 || rank > FA_NN_MAX_RANK || (rank > 0 && !shape))
        return fa_err_set(FA_EINVAL, "%s: input shape of rank %d (expected 0 to %d dimensions)",
                          base_name(path), rank, FA_NN_MAX_RANK);
    for (int i = 0; i < rank; i++)
        if (shape[i] < 1)
            return fa_err_set(FA_EINVAL, "%s: input shape dimension %d is %lld (expected >= 1)",
                              base_name(path), i, (long long)shape[i]);
    k->precision = resolved_precision(path, o);
    const char *backend = resolved_backend(o, k->precision);
    if (strlen(backend) >= BACKEND_MAX)
        return fa_err_set(FA_EINVAL, "nn: backend '%.40s...' unknown (auto, native, onednn)", backend);
    strcpy(k->backend, backend);
    /* the model keeps the threads (and their pool) it runs on */
    k->threads = o && o->threads > 1 ? o->threads : 1;
    k->pool = k->threads > 1 ? (o->pool ? o->pool : fa_pool_default()) : NULL;
    k->rank = rank;
    for (int i = 0; i < rank; i++)
        k->shape[i] = shape[i];
    return content_hash(c, path, k->sha);
}

static int same_key(const cache_key *a, const cache_key *b) { return memcmp(a, b, sizeof *a) == 0; }

/* ------------------------------------------------------------- entries */

static cache_entry *entry_find(fa_nn_cache *c, const cache_key *k) {
    for (cache_entry *e = c->entries; e; e = e->next)
        if (same_key(&e->key, k)) return e;
    return NULL;
}

static void entry_unlink(fa_nn_cache *c, cache_entry *e) {
    for (cache_entry **p = &c->entries; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            e->next = NULL;
            return;
        }
}

static void entry_free(cache_entry *e) {
    fa_nn_model_free(e->model);
    free(e->err_msg);
    free(e);
}

/* Unlinks unreferenced entries, least recently used first, until the cache
 * fits its budget (under the lock); returns them, chained, to free. */
static cache_entry *evict(fa_nn_cache *c) {
    cache_entry *out = NULL;
    while (c->bytes > c->budget) {
        cache_entry *lru = NULL;
        for (cache_entry *e = c->entries; e; e = e->next)
            if (e->state == ENTRY_READY && e->refs == 0 && (!lru || e->used < lru->used)) lru = e;
        if (!lru) break;
        entry_unlink(c, lru);
        c->bytes -= lru->bytes;
        c->st.evictions++;
        lru->next = out;
        out = lru;
    }
    return out;
}

static void free_chain(cache_entry *e) {
    while (e) {
        cache_entry *next = e->next;
        entry_free(e);
        e = next;
    }
}

size_t fa_nn_cache_model_bytes(const fa_nn_model *m) {
    fa_nn_info info;
    memset(&info, 0, sizeof info);
    fa_nn_model_info(m, &info);
    return info.weight_bytes + info.params * sizeof(float);
}

/* Refuses a model whose input differs from shape after the batch. */
static int check_shape(const fa_nn_model *m, const char *path, const int64_t *shape, int rank) {
    if (rank == 0) return 0;
    int64_t has[FA_NN_MAX_RANK];
    int has_rank = fa_nn_model_input_shape(m, has);
    int ok = has_rank == rank;
    for (int i = 1; ok && i < rank; i++)
        ok = has[i] <= 0 || has[i] == shape[i];
    if (ok) return 0;
    char want[128] = "", got[128] = "";
    for (int i = 0; i < rank; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "x" : "",
                 (long long)shape[i]);
    for (int i = 0; i < has_rank; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "x" : "", (long long)has[i]);
    return fa_err_set(FA_EINVAL, "%s: input shape %s asked, the model's input is %s", base_name(path), want,
                      got);
}

/* Loads the model of a new entry (lock not held); NULL with the error set. */
static fa_nn_model *load(const char *path, const fa_nn_options *o, const int64_t *shape, int rank) {
    fa_nn_model *m = fa_nn_model_load(path, o);
    if (m && check_shape(m, path, shape, rank)) {
        fa_nn_model_free(m);
        m = NULL;
    }
    return m;
}

/* Publishes the outcome of e's load (lock held). */
static cache_entry *publish(fa_nn_cache *c, cache_entry *e, fa_nn_model *m) {
    cache_entry *dead = NULL;
    if (m) {
        e->state = ENTRY_READY;
        e->model = m;
        e->bytes = fa_nn_cache_model_bytes(m);
        e->refs = 1 + e->waiters; /* the waiters' references too: no eviction before they wake */
        e->used = ++c->tick;
        c->bytes += e->bytes;
        dead = evict(c);
    } else {
        e->state = ENTRY_FAILED;
        e->err_code = fa_err_code() ? fa_err_code() : FA_EIO;
        e->err_msg = strdup(fa_err_msg());
        c->st.load_errors++;
        entry_unlink(c, e);
        if (e->waiters == 0) {
            e->next = dead;
            dead = e;
        }
    }
    pthread_cond_broadcast(&c->loaded);
    return dead;
}

/* Waits for e's load (lock held); returns the model (referenced) or NULL
 * with the loader's error set. */
static const fa_nn_model *wait_load(fa_nn_cache *c, cache_entry *e, cache_entry **dead) {
    if (e->state == ENTRY_LOADING) {
        e->waiters++;
        while (e->state == ENTRY_LOADING)
            pthread_cond_wait(&c->loaded, &c->mu);
        e->waiters--; /* publish counted this waiter's reference when it succeeded */
    } else {
        e->refs++;
    }
    if (e->state == ENTRY_READY) {
        e->used = ++c->tick;
        c->st.hits++;
        return e->model;
    }
    fa_err_set(e->err_code, "%s", e->err_msg ? e->err_msg : "model load failed");
    if (e->waiters == 0) *dead = e;
    return NULL;
}

/* ------------------------------------------------------------- the face */

fa_nn_cache *fa_nn_cache_new(size_t budget_bytes) {
    fa_nn_cache *c = fa_calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->loaded, NULL);
    c->budget = budget_bytes;
    return c;
}

void fa_nn_cache_free(fa_nn_cache *c) {
    if (!c) return;
    free_chain(c->entries);
    for (int i = 0; i < MEMO_SLOTS; i++)
        free(c->memo[i].path);
    pthread_cond_destroy(&c->loaded);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const fa_nn_model *fa_nn_cache_get(fa_nn_cache *c, const char *path, const fa_nn_options *o,
                                   const int64_t *input_shape, int rank) {
    if (!c || !path) {
        fa_err_set(FA_EINVAL, "nn cache: no %s given", c ? "model path" : "cache");
        return NULL;
    }
    cache_key k;
    if (make_key(c, path, o, input_shape, rank, &k)) return NULL;
    cache_entry *dead = NULL;
    const fa_nn_model *got = NULL;
    pthread_mutex_lock(&c->mu);
    cache_entry *e = entry_find(c, &k);
    if (e) {
        got = wait_load(c, e, &dead);
        pthread_mutex_unlock(&c->mu);
        free_chain(dead);
        return got;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&c->mu);
        fa_err_set(FA_ENOMEM, "%s: out of memory for a cache entry", base_name(path));
        return NULL;
    }
    e->key = k;
    e->state = ENTRY_LOADING;
    e->next = c->entries;
    c->entries = e;
    c->st.misses++;
    pthread_mutex_unlock(&c->mu);
    fa_nn_model *m = load(path, o, input_shape, rank);
    pthread_mutex_lock(&c->mu);
    dead = publish(c, e, m);
    pthread_mutex_unlock(&c->mu);
    free_chain(dead);
    return m;
}

int fa_nn_cache_release(fa_nn_cache *c, const fa_nn_model *m) {
    if (!c || !m)
        return fa_err_set(FA_EINVAL, "nn cache: release of %s", c ? "no model" : "a model to no cache");
    pthread_mutex_lock(&c->mu);
    cache_entry *e = c->entries;
    while (e && !(e->state == ENTRY_READY && e->model == m))
        e = e->next;
    if (!e || e->refs == 0) {
        pthread_mutex_unlock(&c->mu);
        return fa_err_set(FA_EINVAL, "nn cache: release of a model the cache does not lend (%s)",
                          e ? "no reference left" : "not cached");
    }
    e->refs--;
    e->used = ++c->tick;
    cache_entry *dead = evict(c);
    pthread_mutex_unlock(&c->mu);
    free_chain(dead);
    return 0;
}

void fa_nn_cache_stats_get(fa_nn_cache *c, fa_nn_cache_stats *st) {
    pthread_mutex_lock(&c->mu);
    *st = c->st;
    st->entries = st->in_use = 0;
    for (const cache_entry *e = c->entries; e; e = e->next) {
        if (e->state != ENTRY_READY) continue;
        st->entries++;
        st->in_use += e->refs > 0;
    }
    st->bytes = c->bytes;
    st->budget = c->budget;
    pthread_mutex_unlock(&c->mu);
}
