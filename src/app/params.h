/*
 * params.h — parsing of query strings and typed parameter values. Pure
 * functions over caller memory: no allocation, safe from any thread.
 */
#ifndef LANES_PARAMS_H
#define LANES_PARAMS_H

#include <stddef.h>

/*
 * Percent-decodes src[0..len) into dst (cap >= len + 1), NUL-terminates.
 * plus_is_space: '+' means ' ' (query strings, not paths).
 * Returns the decoded length, or -EINVAL for a bad %XX or a decoded NUL byte.
 */
long lanes_pct_decode(const char *src, size_t len, char *dst, size_t cap, int plus_is_space);

/*
 * Finds the first "name=value" in a raw query string (without the leading '?')
 * whose decoded name equals name; decodes the value into dst.
 * Returns the value's length, -ENOENT if absent, -EINVAL if it is malformed,
 * -ENOSPC if dst is too small. "name" without '=' has the value "".
 */
long lanes_query_find(const char *query, size_t qlen, const char *name, char *dst, size_t cap);

/* Whole-string conversions: no leading/trailing junk, no overflow, finite.
 * Return 0 or -EINVAL / -ERANGE. */
int lanes_parse_int(const char *s, long long *out);
int lanes_parse_double(const char *s, double *out);

/*
 * A route's declared query parameters, parsed from "s:double,n:int,name:str".
 * Returns the count (<= max) or -EINVAL for bad syntax or an unknown type.
 */
typedef struct {
    char name[64];
    int type;            /* lanes_ptype */
} lanes_qdecl;
int lanes_qdecl_parse(const char *spec, lanes_qdecl *out, int max);

#endif
