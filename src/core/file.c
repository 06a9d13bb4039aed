/*
 * file.c - small file helpers with error messages a person can act on.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

int fa_file_check(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return fa_err_set(errno == ENOENT ? FA_EINVAL : FA_EIO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return fa_err_set(FA_EINVAL, "%s: is a directory, not a file", path);
    if (!S_ISREG(st.st_mode)) return fa_err_set(FA_EINVAL, "%s: not a regular file", path);
    if (access(path, R_OK) != 0) return fa_err_set(FA_EIO, "%s: %s", path, strerror(errno));
    return 0;
}

int fa_file_sniff(const char *path, char *buf, size_t n, size_t *got) {
    int rc = fa_file_check(path);
    if (rc) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fa_err_set(FA_EIO, "%s: %s", path, strerror(errno));
    size_t total = 0;
    while (total < n) {
        ssize_t r = read(fd, buf + total, n - total);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return fa_err_set(FA_EIO, "%s: read failed: %s", path, strerror(e));
        }
        if (r == 0) break;
        total += (size_t)r;
    }
    close(fd);
    *got = total;
    return 0;
}
