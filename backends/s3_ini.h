/* s3_ini.h - reads one value from the AWS shared config / credentials files
 * (INI with nested "s3 =" blocks) and small files in general. Reads files
 * only; never logs a value. Thread-safe (no state). */
#ifndef SEALFS_S3_INI_H
#define SEALFS_S3_INI_H

#include <stddef.h>

#define S3_INI_FILE_MAX_BYTES (1u << 20)

/* Reads a whole regular file of at most max bytes into a new malloc'ed
 * NUL-terminated buffer (*out_len bytes). 1 read, 0 no such file, -EINVAL not
 * a regular file or too large, other negative errno. The caller wipes secrets. */
int s3_ini_read_file(char **out, size_t *out_len, const char *path, size_t max);

/* Looks key up in [section] of the file at path (NULL path: not found). key
 * is "region", or "s3.endpoint_url" for a key nested under "s3 =". *out
 * becomes a new string (sodium_malloc'ed when secret) or stays NULL. The
 * file's bytes are wiped after parsing. 0, or negative errno. */
int s3_ini_get(char **out, const char *path, const char *section, const char *key, int secret);

/* The same over text, a NUL-terminated copy of a file's bytes, which it
 * cuts into lines (overwrites every '\n'; the caller wipes it). No I/O. */
int s3_ini_find(char **out, char *text, const char *section, const char *key, int secret);

/* A sodium_malloc'ed copy of s, or NULL when out of memory. */
char *s3_ini_secret_dup(const char *s);

#endif
