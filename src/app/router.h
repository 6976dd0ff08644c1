/*
 * router.h — maps (method, path) to a route. Built once at start-up, then only
 * read (by every thread of a worker), so matching takes no lock and allocates
 * nothing.
 *
 * Patterns: absolute paths; a segment may be a parameter "{name}" (string),
 * "{name:int}", "{name:double}", "{name:str}", "{name:bool}", or, as the last
 * segment only, "{name:path}", which takes the rest of the path (slashes
 * included, possibly empty) as Starlette's path convertor does. A literal segment beats a
 * parameter at the same depth ("/items/new" wins over "/items/{id}").
 * Matching works on the raw (still percent-encoded) path; parameter values are
 * percent-decoded into the caller's scratch buffer.
 */
#ifndef LANES_ROUTER_H
#define LANES_ROUTER_H

#include <stddef.h>

#include "http/message.h"

#define LANES_MAX_PARAMS 16

typedef enum {
    LANES_PT_STR = 0,
    LANES_PT_INT = 1,
    LANES_PT_DOUBLE = 2,
    LANES_PT_BOOL = 3,
    LANES_PT_ENUM = 4,     /* declared params only (params.h), not in patterns */
    LANES_PT_PATH = 5,     /* "{p:path}": the rest of the path, slashes included */
} lanes_ptype;

typedef struct {
    const char *name;   /* points into the route's pattern storage; NUL-terminated */
    const char *value;  /* percent-decoded, NUL-terminated, in the caller's scratch */
    lanes_ptype type;
} lanes_param;

typedef struct lanes_router lanes_router;

typedef struct {
    void *data;                       /* what lanes_router_add was given */
    const char *pattern;              /* the registered pattern */
    int nparams;
    lanes_param params[LANES_MAX_PARAMS];
    /* When a typed parameter fails to parse: its index, else -1. Matching still
     * succeeds (the route is known), so the caller can answer 422 naming it. */
    int bad_param;
} lanes_match;

lanes_router *lanes_router_new(void);
void lanes_router_free(lanes_router *r);

/* Returns 0, -EINVAL (bad pattern: not absolute, unbalanced braces, empty or
 * duplicate parameter name, unknown type, more than LANES_MAX_PARAMS), -EEXIST
 * (same method + same shape, e.g. "/a/{x}" and "/a/{y}"), -ENOMEM. */
int lanes_router_add(lanes_router *r, unsigned method_bit, const char *pattern, void *data);
/* Why pattern is refused (-EINVAL from lanes_router_add), in words:
 * "unknown type 'integer' in /items/{id:integer}; types: int, double, str, bool, path".
 * Writes "" when the pattern itself is fine. */
void lanes_router_explain(const char *pattern, char *why, size_t cap);

/*
 * Matches path (raw, without the query; need not be NUL-terminated).
 * scratch receives the decoded parameter values (scratch_cap >= path_len +
 * LANES_MAX_PARAMS suffices). Returns:
 *   0        matched: m filled;
 *   -ENOENT  no route has this path (404);
 *   -EPERM   the path exists for other methods: *allowed gets their mask (405);
 *   -EINVAL  the path is malformed (bad percent-encoding, NUL byte) (400).
 */
int lanes_router_match(const lanes_router *r, unsigned method_bit,
                       const char *path, size_t path_len,
                       char *scratch, size_t scratch_cap,
                       lanes_match *m, unsigned *allowed);

/* Calls fn for every route in registration order (for OpenAPI, docs, logs). */
typedef void (*lanes_router_visit_fn)(void *ctx, unsigned method_bit, const char *pattern, void *data);
void lanes_router_each(const lanes_router *r, lanes_router_visit_fn fn, void *ctx);

#endif
