/*
 * multipart.h — multipart/form-data (RFC 7578, RFC 2046 5.1) over a body that
 * has been received whole: boundaries, each part's headers (the name and
 * filename of its Content-Disposition, its Content-Type) and its bytes.
 * Pure: no allocation, no I/O, no app types; parts point into the body.
 *
 * Why not a library: Debian 12 has no C multipart/form-data parser of its
 * own. GMime parses MIME for mail (GLib, encodings and charsets policies we
 * do not want on form data) and libmicrohttpd's post processor needs one of
 * its own connections. The format is small and fully specified; this
 * parser is fuzzed (tests/fuzz/fuzz_multipart.c) like the HTTP glue.
 */
#ifndef LANES_HTTP_MULTIPART_H
#define LANES_HTTP_MULTIPART_H

#include <stddef.h>

/* RFC 2046: 1..70 characters. */
#define LANES_MP_BOUNDARY_MAX 70

typedef struct {
    const char *name;           /* Content-Disposition name (not NUL-terminated) */
    size_t name_len;
    const char *filename;       /* NULL: a text field; else the filename as sent (maybe "") */
    size_t filename_len;
    const char *content_type;   /* NULL when the part has none */
    size_t content_type_len;
    const char *data;           /* the part's bytes, in the body */
    size_t len;
} lanes_mp_part;

/*
 * The boundary parameter of a Content-Type value ("multipart/form-data;
 * boundary=xyz", quoted or not). 0 with *b and *blen set; -ENOENT when the
 * type is not multipart/form-data; -EINVAL when the boundary is missing or
 * not 1..70 characters (why says it).
 */
int lanes_mp_boundary(const char *content_type, const char **b, size_t *blen, const char **why);

/*
 * Calls part(ctx, p) for each part in order; part returns 0 or a negative
 * code that stops the parse and is returned. Returns 0, or -EINVAL with a
 * reason (no opening or closing boundary, truncated part, a part without
 * Content-Disposition: form-data or without a name, more than max_parts).
 */
typedef int (*lanes_mp_part_fn)(void *ctx, const lanes_mp_part *p);
int lanes_mp_parse(const char *body, size_t len, const char *b, size_t blen, int max_parts,
                   lanes_mp_part_fn part, void *ctx, const char **why);

#endif
