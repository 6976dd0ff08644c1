/*
 * log.h — one-line log records an operator can act on, to stderr.
 *
 * Each record is formatted into a stack buffer and written with one write(2),
 * so lines from a worker's threads never interleave mid-line. The level is set
 * once at start-up, before any thread exists, and only read afterwards.
 */
#ifndef LANES_LOG_H
#define LANES_LOG_H

#include <stddef.h>

enum { LANES_LOG_ERROR = 0, LANES_LOG_WARN = 1, LANES_LOG_INFO = 2, LANES_LOG_DEBUG = 3 };

/* "error", "warning"/"warn", "info", "debug" → level; -EINVAL otherwise. */
int lanes_log_parse_level(const char *name);
void lanes_log_set_level(int level);
int lanes_log_enabled(int level);
void lanes_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes line (which must end in '\n') as is, one write(2). */
void lanes_log_raw(const char *line, size_t len);

#endif
