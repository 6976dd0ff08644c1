/*
 * json.h — module header of json.c, which implements the public lanes_jw_*
 * writer declared in lanes.h, and owns the one JSON string escaper (used by
 * the writer and by lanes_buf_json_escape, so there is a single place that
 * decides what is escaped and how invalid UTF-8 is repaired).
 *
 * Nothing here allocates except through lanes_buf; nothing keeps global state.
 */
#ifndef LANES_JSON_H
#define LANES_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/*
 * Appends s[0..n) to b as the inside of a JSON string: '"', '\\' and control
 * characters escaped ('/' and DEL left alone), valid UTF-8 copied unchanged,
 * and each maximal invalid subpart (Unicode's "substitution of maximal
 * subparts") written as \ufffd. May contain NUL bytes. 0 or -ENOMEM.
 */
int lanes_json_escape(lanes_buf *b, const char *s, size_t n);

/*
 * Decodes one UTF-8 sequence at s[0..n) (n >= 1). Returns its length (1..4)
 * and sets *cp when it is well-formed (shortest form, no surrogate,
 * <= U+10FFFF); otherwise returns minus the length of the maximal invalid
 * subpart (-1..-3) — the bytes to replace with one U+FFFD.
 */
int lanes_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

#endif
