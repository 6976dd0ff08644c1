/*
 * errors.c — lanes_strerror (see lanes.h, errors.h).
 *
 * lanes_strerror returns text that lives forever and is shared by every
 * thread, so it must never use strerror() (whose buffer is not thread-safe)
 * nor format into a static buffer.
 */
#include "util/errors.h"

#include "lanes.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

/*
 * Accepts -ENOENT (the library's convention) and ENOENT alike. glibc's
 * strerrordesc_np returns constant text, which is exactly the lifetime and
 * thread-safety we promise; it returns NULL for codes it does not know.
 */
const char *lanes_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err == INT_MIN)
        return "unknown error";
    int e = err < 0 ? -err : err;
    const char *s = strerrordesc_np(e);
    return s ? s : "unknown error";
}
