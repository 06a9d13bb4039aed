#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

const char *fa_test_data(const char *rel) {
    static char slots[8][4096];
    static int next;
    char *buf = slots[next++ % 8];
    const char *dir = getenv("FA_DATA_DIR");
    snprintf(buf, 4096, "%s/%s", dir && *dir ? dir : "../shared/data", rel);
    return buf;
}

int fa_test_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

char *fa_test_tmpdir(void) {
    char tmpl[] = "/tmp/fa-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void fa_test_rmtree(const char *dir) {
    char cmd[4200];
    if (!dir || strncmp(dir, "/tmp/fa-test-", 13) != 0) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

char *fa_test_write_file(const char *dir, const char *name, const void *data, size_t len) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(path);
        return NULL;
    }
    if (len) fwrite(data, 1, len, f);
    fclose(f);
    return path;
}

char *fa_test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static char *slurp_fd(int fd) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fd, buf + n, cap - n - 1)) > 0) {
        n += (size_t)r;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[n] = '\0';
    return buf;
}

int fa_test_run_cli(const char *args, char **out, char **err) {
    const char *bin = getenv("FA_BIN");
    if (!bin) bin = "./footanalytics";
    char *dir = fa_test_tmpdir();
    size_t n = strlen(bin) + strlen(args) + 2 * strlen(dir) + 64;
    char *cmd = malloc(n);
    snprintf(cmd, n, "'%s' %s >%s/out 2>%s/err </dev/null", bin, args, dir, dir);
    int st = system(cmd);
    free(cmd);
    char path[4200];
    snprintf(path, sizeof path, "%s/out", dir);
    int fd;
    if (out) {
        fd = open(path, O_RDONLY);
        *out = fd >= 0 ? slurp_fd(fd) : strdup("");
        if (fd >= 0) close(fd);
    }
    snprintf(path, sizeof path, "%s/err", dir);
    if (err) {
        fd = open(path, O_RDONLY);
        *err = fd >= 0 ? slurp_fd(fd) : strdup("");
        if (fd >= 0) close(fd);
    }
    fa_test_rmtree(dir);
    free(dir);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}
