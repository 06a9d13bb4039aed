/*
 * process.c - the process_* metrics Prometheus clients conventionally
 * export, and the memory limit the memory alert compares RSS with.
 *
 * Everything is sampled when asked (at scrape, by callback children), from
 * small files under /proc/self and from clock_gettime, never by a
 * background thread: a scrape every second costs a few file reads. Open
 * file descriptors are counted by listing /proc/self/fd, which is O(fds)
 * (about a millisecond at 10 000 connections) - still cheap per second.
 *
 * The memory limit is what the kernel will actually enforce: the cgroup's
 * (v2 memory.max, or v1 memory.limit_in_bytes, found through
 * /proc/self/cgroup, falling back to the namespace's root), when set and
 * below the machine's memory; otherwise MemTotal. Containers report the
 * host's MemTotal, so the cgroup comes first.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "obs.h"

/* Reads a small file into buf (NUL-terminated); returns bytes read or -1. */
static long read_small(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

/* /proc/self/statm: size and resident, in pages. */
static int read_statm(double *vmem, double *rss) {
    char buf[256];
    unsigned long long size, resident;
    if (read_small("/proc/self/statm", buf, sizeof buf) <= 0 ||
        sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return FA_EIO;
    double page = (double)sysconf(_SC_PAGESIZE);
    *vmem = (double)size * page;
    *rss = (double)resident * page;
    return 0;
}

/* Field n (1-based, as in proc(5)) of /proc/self/stat; fields from 3 on
 * come after the command name, which may hold spaces and parentheses. */
static int read_stat_field(int n, unsigned long long *out) {
    char buf[1024];
    if (read_small("/proc/self/stat", buf, sizeof buf) <= 0) return FA_EIO;
    char *p = strrchr(buf, ')');
    if (!p || n < 3) return FA_EIO;
    p++;
    for (int field = 3; field <= n; field++) {
        while (*p == ' ') p++;
        if (!*p) return FA_EIO;
        if (field == n) return sscanf(p, "%llu", out) == 1 ? 0 : FA_EIO;
        while (*p && *p != ' ') p++;
    }
    return FA_EIO;
}

static double boot_time(void) {
    char buf[8192];
    if (read_small("/proc/stat", buf, sizeof buf) <= 0) return NAN;
    const char *p = strstr(buf, "\nbtime ");
    return p ? strtod(p + 7, NULL) : NAN;
}

static double start_time(void) {
    unsigned long long ticks;
    double boot = boot_time();
    long hz = sysconf(_SC_CLK_TCK);
    if (read_stat_field(22, &ticks) || isnan(boot) || hz <= 0) return NAN;
    return boot + (double)ticks / (double)hz;
}

static double cpu_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return NAN;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return NAN;
    double n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static double max_fds(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return NAN;
    return rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur;
}

static double threads(void) {
    unsigned long long n;
    return read_stat_field(20, &n) ? NAN : (double)n;
}

int fa_obs_process_sample(fa_obs_process_stats *out) {
    out->rss_bytes = out->vmem_bytes = NAN;
    if (read_statm(&out->vmem_bytes, &out->rss_bytes))
        return fa_err_set(FA_EIO, "obs: /proc/self/statm: cannot read the process' memory");
    out->cpu_seconds = cpu_seconds();
    out->open_fds = open_fds();
    out->max_fds = max_fds();
    out->threads = threads();
    out->start_time_seconds = start_time();
    return 0;
}

/* ---------------------------------------------------------------- memory limit */

static double mem_total(void) {
    char buf[4096];
    if (read_small("/proc/meminfo", buf, sizeof buf) <= 0) return 0;
    const char *p = strstr(buf, "MemTotal:");
    return p ? strtod(p + 9, NULL) * 1024 : 0;
}

/* A limit file's value in bytes; 0 when absent, "max" or not a number. */
static double limit_file(const char *dir, const char *cgroup, const char *file) {
    char path[1024], buf[64];
    snprintf(path, sizeof path, "%s%s/%s", dir, strcmp(cgroup, "/") == 0 ? "" : cgroup, file);
    if (read_small(path, buf, sizeof buf) <= 0) return 0;
    char *end;
    double v = strtod(buf, &end);
    return end != buf && v > 0 ? v : 0;
}

/* Whether a comma-separated controller list names controller ("" matches
 * only the empty list of the v2 line). */
static int list_has(const char *list, const char *controller) {
    size_t n = strlen(controller);
    if (n == 0) return *list == '\0';
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, controller, n) == 0 && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

/* The cgroup path of a controller from /proc/self/cgroup's
 * "id:controllers:path" lines: v2 when controller is "", else v1. */
static int cgroup_path(const char *controller, char *out, size_t size) {
    char buf[4096];
    if (read_small("/proc/self/cgroup", buf, sizeof buf) <= 0) return 0;
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = '\0';
        if (list_has(c1 + 1, controller)) {
            snprintf(out, size, "%s", c2 + 1);
            return 1;
        }
    }
    return 0;
}

static double cgroup_limit(void) {
    char path[512];
    double v = 0;
    if (cgroup_path("", path, sizeof path)) {
        v = limit_file("/sys/fs/cgroup", path, "memory.max");
        if (!v) v = limit_file("/sys/fs/cgroup/unified", path, "memory.max");
        if (!v) v = limit_file("/sys/fs/cgroup", "/", "memory.max");
    }
    if (!v && cgroup_path("memory", path, sizeof path)) {
        v = limit_file("/sys/fs/cgroup/memory", path, "memory.limit_in_bytes");
        if (!v) v = limit_file("/sys/fs/cgroup/memory", "/", "memory.limit_in_bytes");
    }
    return v;
}

double fa_obs_memory_limit_bytes(void) {
    double total = mem_total(), cg = cgroup_limit();
    if (cg > 0 && (total <= 0 || cg < total)) return cg;
    return total;
}

/* ---------------------------------------------------------------- registration */

static double sample_rss(void *ud) {
    (void)ud;
    double vmem, rss;
    return read_statm(&vmem, &rss) ? NAN : rss;
}

static double sample_vmem(void *ud) {
    (void)ud;
    double vmem, rss;
    return read_statm(&vmem, &rss) ? NAN : vmem;
}

static double sample_cpu(void *ud) { return (void)ud, cpu_seconds(); }
static double sample_open_fds(void *ud) { return (void)ud, open_fds(); }
static double sample_max_fds(void *ud) { return (void)ud, max_fds(); }
static double sample_threads(void *ud) { return (void)ud, threads(); }
static double sample_limit(void *ud) { return (void)ud, fa_obs_memory_limit_bytes(); }

typedef struct sampled_gauge {
    const char *name, *help;
    double (*fn)(void *ud);
} sampled_gauge;

static const sampled_gauge process_gauges[] = {
    {FA_M_PROCESS_RSS, "Resident memory size in bytes.", sample_rss},
    {FA_M_PROCESS_VMEM, "Virtual memory size in bytes.", sample_vmem},
    {FA_M_PROCESS_OPEN_FDS, "Number of open file descriptors.", sample_open_fds},
    {FA_M_PROCESS_MAX_FDS, "Maximum number of open file descriptors.", sample_max_fds},
    {FA_M_PROCESS_THREADS, "Number of OS threads in the process.", sample_threads},
    {FA_M_MEMORY_LIMIT, "Memory the process may use: cgroup limit, else the machine's memory.", sample_limit},
};

int fa_obs_process_register(fa_obs_registry *r) {
    fa_obs_counter *cpu =
        fa_obs_counter_get(r, FA_M_PROCESS_CPU, "Total user and system CPU time spent in seconds.");
    if (!cpu) return fa_err_code() ? fa_err_code() : FA_ENOMEM;
    fa_obs_counter_set_fn(cpu, sample_cpu, NULL);
    fa_obs_gauge *start = fa_obs_gauge_get(r, FA_M_PROCESS_START_TIME,
                                           "Start time of the process since unix epoch in seconds.");
    if (!start) return fa_err_code() ? fa_err_code() : FA_ENOMEM;
    fa_obs_gauge_set(start, start_time());
    for (size_t i = 0; i < sizeof process_gauges / sizeof process_gauges[0]; i++) {
        fa_obs_gauge *g = fa_obs_gauge_get(r, process_gauges[i].name, process_gauges[i].help);
        if (!g) return fa_err_code() ? fa_err_code() : FA_ENOMEM;
        fa_obs_gauge_set_fn(g, process_gauges[i].fn, NULL);
    }
    return 0;
}
