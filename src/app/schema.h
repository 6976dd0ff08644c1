/*
 * schema.h — a route's declared body or response model (lanes_field lists of
 * lanes.h) compiled at registration into a tree lanes can check a parsed JSON
 * value against, and describe in OpenAPI. Compiled once before the server
 * starts; read-only (and shared by every thread) afterwards.
 */
#ifndef LANES_SCHEMA_H
#define LANES_SCHEMA_H

#include <jansson.h>
#include <stdint.h>

#include "lanes.h"
#include "util/buf.h"

typedef struct lanes_snode lanes_snode;

struct lanes_snode {
    char *name;                 /* "" for the top object and array items */
    size_t name_len;
    lanes_type type;
    int required, nullable;
    int has_min, has_max;
    double min, max;            /* value, or length of a str / array */
    char **values;              /* enum of a str, NULL when none */
    int nvalues;
    json_t *def;                /* default value, NULL when none */
    char *description;
    lanes_snode *item;          /* LANES_ARRAY: its element */
    lanes_snode *fields;        /* LANES_OBJECT: its fields */
    int nfields;
};

/* Compiles fields (ended by {0}) into an object node. On a bad declaration
 * returns -EINVAL and writes why into err ("field 'owner.name': ..."). */
int lanes_schema_compile(const lanes_field *fields, lanes_snode **out, char *err, size_t errlen);
void lanes_schema_free(lanes_snode *n);

/* Where a value sits, for the 422 "loc": a chain of keys and indexes. */
typedef struct lanes_sloc {
    const struct lanes_sloc *up;
    const char *key;            /* NULL: index */
    size_t index;
} lanes_sloc;

/* What checking reports: errors are appended to out (FastAPI's items,
 * comma-separated, as lanes_req's errors buffer keeps them). */
typedef struct {
    lanes_buf *out;
    const char *root;           /* first "loc" element: "body" or "response" */
    int from_text;              /* values came from a form: strings -> *_parsing */
    uint64_t skip;              /* top-level fields already reported (form) */
    int nerrors;
} lanes_scheck;

/* Checks value against node (an object node at the top) and, when fill is
 * set, adds the defaults of absent fields into the objects. Returns the
 * number of errors found. */
int lanes_schema_check(const lanes_snode *node, json_t *value, const lanes_sloc *loc,
                       lanes_scheck *c, int fill);

/* Appends one FastAPI error item: loc under c->root, type, msg and input
 * (a JSON value or NULL). */
void lanes_schema_error(lanes_scheck *c, const lanes_sloc *loc, const char *type,
                        const char *msg, const json_t *input);

/* Writes the node as an OpenAPI 3.1 (JSON Schema 2020-12) schema. */
void lanes_schema_openapi(lanes_jw *w, const lanes_snode *n);

/* The field called name in an object node, NULL if none. */
const lanes_snode *lanes_schema_field(const lanes_snode *obj, const char *name, size_t len);
/* 1 if every field is a scalar or an array of scalars (a form can carry it). */
int lanes_schema_flat(const lanes_snode *obj);

#endif
