/*
 * cmd_apikey.c - `footanalytics apikey new|list|revoke`: the API keys that
 * open the HTTP API's write and admin endpoints.
 *
 * `new` makes a key (api/apikeys.c: "fa_" + 32 random bytes), appends
 * "NAME sha256:HEX SCOPES" to the keys file and prints the key once: only
 * its hash is kept, so nobody, the server included, can show it again.
 * `list` shows names and scopes (never hashes, which are of no use to
 * anyone reading a terminal); `revoke` removes a key's line.
 *
 * Why the care in writing. The keys file decides who may change data, so
 * an edit must never leave it half-written or lose a concurrent edit:
 *   - the new content goes to a temp file in the same directory, is
 *     fsync'd, and replaces the file by rename(2), which is atomic: a crash
 *     leaves the old file or the new one, never a mix;
 *   - edits are serialised by flock(2) on the file's directory (the file
 *     itself is replaced by each edit, so a lock on it would not hold),
 *     and the file is read again under the lock;
 *   - a file that does not parse is refused, not rewritten, so an edit
 *     never hides or keeps alive a line the server would reject;
 *   - a new file is created 0600; an existing file keeps its mode.
 * Comments and blank lines survive every edit.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/security.h"
#include "cli.h"

#define KEYS_FILE_DEFAULT "footanalytics.keys"
#define KEYS_FILE_MAX (1u << 20)

/* The help of one subcommand (sub) or of all (NULL). */
static void help(FILE *out, const char *sub) {
    int is_new = !sub || !strcmp(sub, "new"), list = !sub || !strcmp(sub, "list"),
        revoke = !sub || !strcmp(sub, "revoke");
    if (is_new) fprintf(out, "usage: footanalytics apikey new NAME [--file PATH] [--scopes SCOPES]\n");
    if (list) fprintf(out, "usage: footanalytics apikey list [--file PATH]\n");
    if (revoke) fprintf(out, "usage: footanalytics apikey revoke NAME [--file PATH]\n");
    fprintf(out, "\n"
                 "API keys open the HTTP API's write and admin endpoints. The keys file keeps one line\n"
                 "per key, 'NAME sha256:HASH SCOPES': the key's SHA-256, never the key itself.\n"
                 "\n");
    if (is_new)
        fprintf(out, "  new      create a key, print it once (it cannot be shown again) and add its hash\n"
                     "           to the file (created with mode 0600); NAME is 1-64 of [A-Za-z0-9_.-]\n");
    if (list) fprintf(out, "  list     print each key's name and scopes (never its hash)\n");
    if (revoke) fprintf(out, "  revoke   remove the key NAME from the file\n");
    fprintf(out, "\noptions:\n"
                 "  --file PATH      keys file (default $FA_API_KEYS or ./" KEYS_FILE_DEFAULT ")\n");
    if (is_new) fprintf(out, "  --scopes SCOPES  comma list of write, admin (default write,admin)\n");
    fprintf(out, "  -h, --help       show this help\n"
                 "\n"
                 "Edits replace the file atomically (temp file + rename) under a lock.\n"
                 "exit status: 0 ok, 1 usage error, 2 bad input (name taken or unknown, malformed file),\n"
                 "3 runtime failure (file missing or not writable)\n");
}

static const char *keys_path(const char *flag) {
    if (flag && *flag) return flag;
    const char *env = getenv("FA_API_KEYS");
    return env && *env ? env : KEYS_FILE_DEFAULT;
}

/* ---------------------------------------------------------------- the file */

/* Opens path's directory and takes an exclusive flock on it: the fd, or < 0. */
static int lock_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir) return fa_err_set(FA_EINVAL, "%s: path too long", path);
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fa_err_set(FA_EIO, "%s: cannot open the directory: %s", dir, strerror(errno));
    while (flock(fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return fa_err_set(FA_EIO, "%s: cannot lock the directory: %s", dir, strerror(e));
        }
    return fd;
}

/* The file's text into out (empty and *exists = 0 when there is none) and its mode. */
static int read_text(const char *path, fa_buf *out, int *exists, mode_t *mode) {
    *exists = 0;
    *mode = 0600;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return 0;
    if (fd < 0) return fa_err_set(FA_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st) ? fa_err_set(FA_EIO, "%s: %s", path, strerror(errno)) : 0;
    if (!rc && !S_ISREG(st.st_mode)) rc = fa_err_set(FA_EIO, "%s: not a regular file", path);
    char chunk[8192];
    ssize_t r;
    while (!rc && (r = read(fd, chunk, sizeof chunk)) != 0) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = fa_err_set(FA_EIO, "%s: %s", path, strerror(errno));
        else if (out->len + (size_t)r > KEYS_FILE_MAX)
            rc = fa_err_set(FA_ELIMIT, "%s: more than %u bytes", path, KEYS_FILE_MAX);
        else rc = fa_buf_append(out, chunk, (size_t)r);
    }
    close(fd);
    *exists = 1;
    if (!rc) *mode = st.st_mode & 07777;
    return rc;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* Replaces path by data: temp file in the same directory, fsync, rename,
 * fsync of the directory (dir_fd). */
static int write_atomic(const char *path, int dir_fd, const char *data, size_t n, mode_t mode) {
    size_t len = strlen(path) + 16;
    char *tmp = fa_malloc(len);
    if (!tmp) return FA_ENOMEM;
    snprintf(tmp, len, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp); /* 0600 until fchmod */
    if (fd < 0) {
        int rc = fa_err_set(FA_EIO, "%s: cannot create a temporary file: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    int rc = 0;
    if (fchmod(fd, mode) != 0 || write_all(fd, data, n) != 0 || fsync(fd) != 0)
        rc = fa_err_set(FA_EIO, "%s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !rc) rc = fa_err_set(FA_EIO, "%s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = fa_err_set(FA_EIO, "%s: cannot replace: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    else fsync(dir_fd); /* the rename itself survives a crash */
    free(tmp);
    return rc;
}

/* A session on the keys file: locked, read and parsed. */
typedef struct keys_edit {
    const char *path;
    int dir_fd;
    fa_buf text;
    int exists;
    mode_t mode;
    fa_api_keys *keys; /* NULL when the file does not exist */
} keys_edit;

static int edit_begin(keys_edit *e, const char *path) {
    memset(e, 0, sizeof *e);
    e->path = path;
    e->dir_fd = lock_dir(path);
    if (e->dir_fd < 0) return e->dir_fd;
    int rc = read_text(path, &e->text, &e->exists, &e->mode);
    if (!rc && e->exists && !(e->keys = fa_api_keys_load(path)))
        rc = fa_err_prefix("refusing to edit %s", path);
    return rc;
}

static void edit_end(keys_edit *e) {
    if (e->dir_fd >= 0) close(e->dir_fd); /* releases the lock */
    fa_buf_free(&e->text);
    fa_api_keys_free(e->keys);
}

static int has_key(const fa_api_keys *k, const char *name) {
    for (size_t i = 0; i < fa_api_keys_count(k); i++)
        if (strcmp(fa_api_keys_name(k, i), name) == 0) return 1;
    return 0;
}

/* ---------------------------------------------------------------- subcommands */

static int append_line(keys_edit *e, const char *name, const char *hash, unsigned scopes) {
    if (e->text.len && e->text.data[e->text.len - 1] != '\n' && fa_buf_putc(&e->text, '\n')) return FA_ENOMEM;
    int rc = fa_buf_printf(&e->text, "%s sha256:%s %s\n", name, hash, fa_api_scopes_text(scopes));
    return rc ? FA_ENOMEM : 0;
}

static int apikey_new(const char *path, const char *name, unsigned scopes) {
    keys_edit e;
    char key[FA_API_KEY_SIZE], hash[FA_API_KEY_HASH_SIZE];
    int rc = edit_begin(&e, path);
    if (!rc && has_key(e.keys, name))
        rc = fa_err_set(FA_EINVAL, "key '%s' already exists in %s (revoke it first or choose another name)",
                        name, path);
    if (!rc) rc = fa_api_key_generate(key, sizeof key, hash, sizeof hash);
    if (!rc) rc = append_line(&e, name, hash, scopes);
    if (!rc) rc = write_atomic(path, e.dir_fd, e.text.data, e.text.len, e.exists ? e.mode : 0600);
    edit_end(&e);
    if (rc) return fa_cli_fail("apikey");
    printf("%s\n", key);
    printf("This is API key '%s' (scopes %s), added to %s. Store it now: it cannot be shown again.\n", name,
           fa_api_scopes_text(scopes), path);
    fflush(stdout);
    explicit_bzero(key, sizeof key);
    return 0;
}

static int apikey_list(const char *path) {
    fa_api_keys *k = fa_api_keys_load(path);
    if (!k) return fa_cli_fail("apikey");
    for (size_t i = 0; i < fa_api_keys_count(k); i++)
        printf("%-24s %s\n", fa_api_keys_name(k, i), fa_api_scopes_text(fa_api_keys_scopes(k, i)));
    fa_api_keys_free(k);
    return 0;
}

/* 1 when line s[0..n) is the key line of name (first field equal). */
static int is_line_of(const char *s, size_t n, const char *name) {
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    size_t len = strlen(name);
    return n > len && memcmp(s, name, len) == 0 && (s[len] == ' ' || s[len] == '\t');
}

/* Every line of text except name's, into out. */
static int drop_line(const fa_buf *text, const char *name, fa_buf *out) {
    size_t i = 0;
    while (i < text->len) {
        const char *nl = memchr(text->data + i, '\n', text->len - i);
        size_t end = nl ? (size_t)(nl - text->data) + 1 : text->len;
        if (!is_line_of(text->data + i, end - i, name) && fa_buf_append(out, text->data + i, end - i))
            return FA_ENOMEM;
        i = end;
    }
    return 0;
}

static int apikey_revoke(const char *path, const char *name) {
    keys_edit e;
    fa_buf out = {0};
    int rc = edit_begin(&e, path);
    if (!rc && !e.exists) rc = fa_err_set(FA_EIO, "%s: no such file", path);
    if (!rc && !has_key(e.keys, name)) rc = fa_err_set(FA_ENOTFOUND, "no key '%s' in %s", name, path);
    if (!rc) rc = drop_line(&e.text, name, &out);
    if (!rc) rc = write_atomic(path, e.dir_fd, out.data ? out.data : "", out.len, e.mode);
    edit_end(&e);
    fa_buf_free(&out);
    if (rc) return fa_cli_fail("apikey");
    printf("revoked key '%s' (removed from %s)\n", name, path);
    return 0;
}

/* ---------------------------------------------------------------- entry */

typedef struct apikey_args {
    const char *file, *scopes, *sub, *name;
} apikey_args;

/* Options and operands: 0, -1 when --help was printed, else the exit status of a usage error. */
static int parse_args(int argc, char **argv, apikey_args *a) {
    static const struct option opts[] = {{"file", required_argument, 0, 'f'},
                                         {"scopes", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c, want_help = 0;
    memset(a, 0, sizeof *a);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'f') a->file = optarg;
        else if (c == 's') a->scopes = optarg;
        else if (c == 'h') want_help = 1;
        else return fa_cli_usage("apikey", "bad option");
    }
    if (optind < argc) a->sub = argv[optind++];
    if (optind < argc) a->name = argv[optind++];
    int known = a->sub && (!strcmp(a->sub, "new") || !strcmp(a->sub, "list") || !strcmp(a->sub, "revoke"));
    if (want_help) return help(stdout, known ? a->sub : NULL), -1;
    if (optind < argc) return fa_cli_usage("apikey", "unexpected argument '%s'", argv[optind]);
    return 0;
}

static int check_operands(const apikey_args *a) {
    if (!a->sub) return fa_cli_usage("apikey", "missing subcommand (new, list or revoke)");
    int list = !strcmp(a->sub, "list"), is_new = !strcmp(a->sub, "new");
    if (!list && !is_new && strcmp(a->sub, "revoke"))
        return fa_cli_usage("apikey", "unknown subcommand '%s'", a->sub);
    if (list && a->name) return fa_cli_usage("apikey", "unexpected argument '%s'", a->name);
    if (!list && !a->name) return fa_cli_usage("apikey", "%s: missing NAME", a->sub);
    if (a->name && !fa_api_key_name_valid(a->name, strlen(a->name)))
        return fa_cli_usage("apikey", "key name '%s': expected 1-%d characters of [A-Za-z0-9_.-]", a->name,
                            FA_API_KEY_NAME_MAX);
    if (a->scopes && !is_new) return fa_cli_usage("apikey", "--scopes is only for 'new'");
    return 0;
}

int fa_cmd_apikey(int argc, char **argv) {
    apikey_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    if ((rc = check_operands(&a))) return rc;
    const char *path = keys_path(a.file);
    if (!strcmp(a.sub, "list")) return apikey_list(path);
    if (!strcmp(a.sub, "revoke")) return apikey_revoke(path, a.name);
    unsigned scopes = FA_API_SCOPE_ALL;
    if (a.scopes && fa_api_scopes_parse(a.scopes, strlen(a.scopes), &scopes))
        return fa_cli_usage("apikey", "--scopes: %s", fa_err_msg());
    return apikey_new(path, a.name, scopes);
}
