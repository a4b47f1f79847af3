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

/* Copies text in (NUL-terminated) into out as one line of plain text, so
 * that text from outside (an S3 server's error code and message, anything a
 * store supplies) is shown as data, never acted on by a terminal or split
 * into forged log lines: a backslash is doubled; a control character (below
 * 0x20, DEL), a C1 control (U+0080..U+009F) or a byte that is not part of
 * well-formed UTF-8 becomes backslash, 'x' and two hex digits per byte;
 * other UTF-8 passes.
 * Cut to fit out_size (never inside an escape or a character), always
 * NUL-terminated when out_size > 0. Returns the bytes written (without the
 * NUL). Never allocates; thread-safe. */
size_t errbuf_escape(char *out, size_t out_size, const char *in);

#endif
