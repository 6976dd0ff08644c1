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

/* pydantic's words for a bool: true/1/yes/on/y/t and false/0/no/off/n/f,
 * any case. 0 or -EINVAL. */
int lanes_parse_bool(const char *s, int *out);

/* Where a declared parameter is read from (FastAPI's Path/Query/Header/Cookie). */
typedef enum {
    LANES_IN_PATH = 0,
    LANES_IN_QUERY = 1,
    LANES_IN_HEADER = 2,
    LANES_IN_COOKIE = 3,
    LANES_IN_BODY = 4,     /* declared file parts of a multipart body (lanes_route_opts.files) */
} lanes_in;

#define LANES_DECL_TEXT 192

/*
 * One declared query, header or cookie parameter, parsed from the route's
 * mini-language (lanes.h, lanes_route_opts): "name[:type][!|=default]" with
 * type int, double, str, bool, enum(a|b|c) or list[one of those].
 * Fixed size, so a route's declarations live in its definition, no allocation.
 */
typedef struct {
    char name[64];
    unsigned char in;          /* lanes_in */
    unsigned char type;        /* lanes_ptype of the value (of each item for a list) */
    unsigned char list;        /* list[...]: every occurrence, in order */
    unsigned char required;    /* "!": absent -> 422 "missing" */
    short def;                 /* offset of the default in text, -1: none */
    short nchoices;            /* enum: how many values, NUL-separated from text[0] */
    char text[LANES_DECL_TEXT];
} lanes_pdecl;

/*
 * Parses spec ("n:int=10, q:str!, order:enum(asc|desc)=asc, tag:list[str]")
 * into out[0..max) with in set. Returns the count, or -EINVAL with the reason
 * in why ("unknown type 'integer' in "n:integer"; types: ...").
 */
int lanes_pdecl_parse(const char *spec, lanes_in in, lanes_pdecl *out, int max, char *why, size_t whycap);
/* The default text, or NULL. */
const char *lanes_pdecl_default(const lanes_pdecl *d);
/* Enum value i (0..nchoices-1). */
const char *lanes_pdecl_choice(const lanes_pdecl *d, int i);
/* Does v fit the declared type (one item of a list)? 0 or -EINVAL/-ERANGE. */
int lanes_pdecl_check(const lanes_pdecl *d, const char *v);
/* "int", "enum(asc|desc)", "list[str]": for docs and messages. */
void lanes_pdecl_type_name(const lanes_pdecl *d, char *out, size_t cap);
/* "query", "header", "cookie", "path". */
const char *lanes_in_name(int in);

#endif
