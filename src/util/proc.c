/*
 * proc.c — see proc.h. Small reads of /proc/self, served by the kernel from
 * memory; never called on a request's hot path more than once.
 */
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int lanes_read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (int)n;
}

long lanes_proc_rss_bytes(void)
{
    char buf[128];
    long pages_total, pages_rss;
    if (lanes_read_small("/proc/self/statm", buf, sizeof buf) <= 0 ||
        sscanf(buf, "%ld %ld", &pages_total, &pages_rss) != 2)
        return -1;
    return pages_rss * sysconf(_SC_PAGESIZE);
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;   /* not the directory's own descriptor */
}

static double boot_time(void)
{
    char buf[4096];
    if (lanes_read_small("/proc/stat", buf, sizeof buf) <= 0)
        return -1;
    const char *p = strstr(buf, "\nbtime ");
    return p ? strtod(p + 7, NULL) : -1;
}

void lanes_proc_self(lanes_proc_sample *out)
{
    out->rss_bytes = out->vsize_bytes = out->threads = out->open_fds = out->max_fds = -1;
    out->cpu_seconds = out->start_time = -1;
    char buf[1024];
    long page = sysconf(_SC_PAGESIZE);
    long vpages, rpages;
    if (lanes_read_small("/proc/self/statm", buf, sizeof buf) > 0 &&
        sscanf(buf, "%ld %ld", &vpages, &rpages) == 2) {
        out->vsize_bytes = vpages * page;
        out->rss_bytes = rpages * page;
    }
    /* Fields after the command name, which may hold spaces and parentheses:
     * state is field 3, num_threads 20, starttime 22. */
    char *p;
    if (lanes_read_small("/proc/self/stat", buf, sizeof buf) > 0 && (p = strrchr(buf, ')'))) {
        unsigned long long start = 0;
        long threads = 0;
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld %*d %llu",
                   &threads, &start) == 2) {
            out->threads = threads;
            double bt = boot_time();
            long hz = sysconf(_SC_CLK_TCK);
            if (bt > 0 && hz > 0)
                out->start_time = bt + (double)start / (double)hz;
        }
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    out->open_fds = count_fds();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        out->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
}
