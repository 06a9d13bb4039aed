/*
 * cli_inputs.c - what the commands that read pictures and models share:
 * the image files named by the arguments (files as given, directories
 * expanded to their image files sorted by name, hidden files skipped), and
 * a model path that may be given relative to the models directory, so
 * `--model fastestdet/FastestDet.onnx` works from anywhere.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "nn/kernels.h"

int fa_cli_is_image(const char *path) {
    static const char *const exts[] = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"};
    const char *dot = strrchr(path, '.');
    if (!dot) return 0;
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (fa_strcaseeq(dot, exts[i])) return 1;
    return 0;
}

static int list_add(fa_cli_paths *l, const char *dir, const char *name) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **v = fa_realloc(l->v, cap * sizeof *v);
        if (!v) return FA_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *p = fa_malloc(len);
    if (!p) return FA_ENOMEM;
    if (dir)
        snprintf(p, len, "%s/%s", dir, name);
    else
        snprintf(p, len, "%s", name);
    l->v[l->n++] = p;
    return 0;
}

void fa_cli_paths_free(fa_cli_paths *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Appends the image files of dir, sorted by name. */
static int add_dir(fa_cli_paths *l, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return fa_err_set(FA_EIO, "%s: cannot open the directory", fa_path_base(dir));
    size_t first = l->n;
    int ret = 0;
    for (struct dirent *e; !ret && (e = readdir(d));)
        if (e->d_name[0] != '.' && fa_cli_is_image(e->d_name)) ret = list_add(l, dir, e->d_name);
    closedir(d);
    if (!ret && l->n == first)
        return fa_err_set(FA_EINVAL, "%s: no image files (.jpg, .png, ...)", fa_path_base(dir));
    qsort(l->v + first, l->n - first, sizeof *l->v, by_name);
    return ret;
}

int fa_cli_paths_expand(char **args, int n, fa_cli_paths *l) {
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0)
            return fa_err_set(FA_ENOTFOUND, "%s: no such file", fa_path_base(args[i]));
        int ret = S_ISDIR(st.st_mode) ? add_dir(l, args[i]) : list_add(l, NULL, args[i]);
        if (ret) return ret;
    }
    return 0;
}

int fa_cli_precision_parse(const char *s, int *out) {
    if (!strcmp(s, "fp32")) *out = FA_NN_FP32;
    else if (!strcmp(s, "int8")) *out = FA_NN_INT8;
    else if (!strcmp(s, "fp16")) *out = FA_NN_FP16;
    else return -1;
    return 0;
}

const char *fa_cli_precision_name(int p) {
    return p == FA_NN_FP32 ? "fp32" : p == FA_NN_INT8 ? "int8" : p == FA_NN_FP16 ? "fp16" : "?";
}

const char *fa_cli_model_path(const char *path, char *buf, size_t size) {
    struct stat st;
    if (stat(path, &st) == 0 || path[0] == '/') return path;
    const char *data = getenv("FA_DATA_DIR");
    const char *dirs[3] = {getenv("FA_MODEL_DIR"), data && *data ? data : NULL, "../shared/data"};
    for (int i = 0; i < 3; i++) {
        if (!dirs[i] || !*dirs[i]) continue;
        snprintf(buf, size, i ? "%s/models/%s" : "%s/%s", dirs[i], path);
        if (stat(buf, &st) == 0) return buf;
    }
    return path;
}
