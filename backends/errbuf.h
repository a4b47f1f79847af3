/* errbuf.h - the one-line reason a failing call leaves in a caller's err
 * buffer (the `char *err, size_t err_size` pair of open and mount calls).
 * The one copy for every room of sealfs (backends/ is the lowest room with
 * such calls; fs/ links it). Never logs, never allocates. Thread-safe. */
#ifndef SEALFS_ERRBUF_H
#define SEALFS_ERRBUF_H

#include <stddef.h>

/* Formats fmt into err (when err is not NULL and err_size > 0; cut to fit)
 * and returns code, so a caller writes `return errbuf_fail(err, size, -ENOENT,
 * "store '%s' does not exist", dir);`. */
int errbuf_fail(char *err, size_t err_size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
