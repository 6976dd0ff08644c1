/*
 * errors.h — module header of errors.c, which implements the public
 * lanes_strerror() declared in lanes.h (error code to text). Safe from any
 * thread; never allocates. (lanes_time() lives in clock.c.)
 */
#ifndef LANES_ERRORS_H
#define LANES_ERRORS_H

/* The same declaration as lanes.h's (errors.c includes both, so the
 * compiler holds them equal): layers below app/ use it without the public
 * header, which speaks of requests they must not know. */
const char *lanes_strerror(int err);

#endif
