/*
 * errors.h — module header of errors.c, which implements two small public
 * helpers declared in lanes.h: lanes_strerror() (error code to text) and
 * lanes_time() (wall clock). Both are safe from any thread and never allocate.
 */
#ifndef LANES_ERRORS_H
#define LANES_ERRORS_H

#include <lanes.h>

#endif
