/*
 * errors.h — module header of errors.c, which implements the public
 * lanes_strerror() declared in lanes.h (error code to text). Safe from any
 * thread; never allocates. (lanes_time() lives in clock.c.)
 */
#ifndef LANES_ERRORS_H
#define LANES_ERRORS_H

#include <lanes.h>

#endif
