/*
 * parser.h — llhttp glue: turns bytes on a connection into a lanes_req,
 * enforcing the size limits as the bytes arrive (never after buffering them).
 */
#ifndef LANES_PARSER_H
#define LANES_PARSER_H

#include <llhttp.h>
#include <stddef.h>

/* The callbacks; one shared, read-only settings object. */
const llhttp_settings_t *lanes_parser_settings(void);
/* Strict parsing: no lenient flags, so conflicting Content-Length and
 * Transfer-Encoding, bad chunk sizes and bare LFs are errors, not guesses. */
void lanes_parser_init(llhttp_t *p, void *conn);
/* Before parsing each buffer: checks the CRLF still owed after a chunk whose
 * data ended at the previous buffer's end, and notes where this buffer ends.
 * 0, or -1 when the bytes are not CRLF (answer 400). */
int lanes_parser_check_crlf(void *conn, const char *data, size_t n);

#endif
