/*
 * log.c — see log.h. Never allocates; safe from any thread.
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Written once by lanes_main before threads start; read-only afterwards. */
static int log_level = LANES_LOG_INFO;

int lanes_log_parse_level(const char *name)
{
    static const char *names[] = { "error", "warning", "info", "debug" };
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    if (strcasecmp(name, "warn") == 0)
        return LANES_LOG_WARN;
    return -EINVAL;
}

void lanes_log_set_level(int level) { log_level = level; }

int lanes_log_enabled(int level) { return level <= log_level; }

void lanes_log_raw(const char *line, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;   /* stderr gone: nothing sensible left to do */
        line += n;
        len -= (size_t)n;
    }
}

void lanes_log(int level, const char *fmt, ...)
{
    static const char *tags[] = { "ERROR", "WARNING", "INFO", "DEBUG" };
    if (!lanes_log_enabled(level))
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: [%d] ", tags[level], (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;   /* truncated: still one whole line */
    line[len++] = '\n';
    lanes_log_raw(line, len);
}
