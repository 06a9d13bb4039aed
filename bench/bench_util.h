/*
 * bench_util.h - what every benchmark prints first: the machine and the
 * command, so a figure in RESULTS.md can always be traced back to both.
 */
#ifndef FA_BENCH_UTIL_H
#define FA_BENCH_UTIL_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The CPU model from /proc/cpuinfo into buf[size] ("?" when unknown). */
static inline const char *bench_cpu_model(char *buf, size_t size) {
    char line[512];
    snprintf(buf, size, "?");
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(buf, size, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    }
    if (f) fclose(f);
    return buf;
}

/* "machine: HOST, CPU, N cpus" and "command: ARGV..." lines. */
static inline void bench_print_machine(int argc, char **argv) {
    char host[256] = "?", cpu[256];
    gethostname(host, sizeof host);
    printf("machine: %s, %s, %ld cpus\ncommand:", host, bench_cpu_model(cpu, sizeof cpu),
           sysconf(_SC_NPROCESSORS_ONLN));
    for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
    printf("\n");
}

#endif
