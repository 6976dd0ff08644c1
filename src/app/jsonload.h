/*
 * jsonload.h — JSON text to a jansson tree, parsed by yajl. jansson holds
 * the tree (validation, defaults, the accessors, OpenAPI all read it); yajl
 * parses, four times faster than jansson's own loader on a 1 KB body
 * (docs/BODIES.md has the measurement). Strict: one value, no comments, no
 * trailing bytes, valid UTF-8, no "\u0000", no duplicate key, integers that
 * fit 64 bits, finite reals, at most LANES_JSON_MAX_DEPTH levels.
 */
#ifndef LANES_JSONLOAD_H
#define LANES_JSONLOAD_H

#include <jansson.h>
#include <stddef.h>

#define LANES_JSON_MAX_DEPTH 512

typedef struct {
    size_t position;     /* byte offset where the parser stopped: just past the
                            token it refused (the end, for a text cut short) */
    int line, column;    /* 1-based, of that byte */
    char text[200];      /* what is wrong, for a client */
} lanes_json_error;

/* The value, or NULL with *err filled (text "out of memory" when it is so). */
json_t *lanes_json_load(const char *data, size_t len, lanes_json_error *err);

#endif
