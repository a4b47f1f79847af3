/* dirobj_check.h - internal to crypto/: the rules an entry must satisfy
 * (docs/FORMAT.md, "Directory object"), shared by dirobj.c (encode) and
 * dirobj_decode.c. Pure. */
#ifndef SEALFS_DIROBJ_CHECK_H
#define SEALFS_DIROBJ_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirobj.h"

#define DIROBJ_NSEC_MAX 999999999
#define DIROBJ_INT_MAX ((uint64_t)INT64_MAX) /* largest JSON integer jansson holds */

/* dirobj_check_utf8 (the UTF-8 rule) is public: dirobj.h. */
/* A child name: 1..255 bytes, no '/' or NUL, not "." or ".."; the root's is "". */
bool dirobj_check_name(const char *name, size_t len, bool root);
/* A symlink target: 1..DIROBJ_TARGET_MAX bytes, no NUL. */
bool dirobj_check_target(const char *t, size_t len);
/* Permission bits only, and the type bits of type (never called for
 * DIROBJ_HARDLINK, which stores no mode). */
bool dirobj_check_mode(enum dirobj_type type, uint64_t mode);
/* A type the format knows: f, d, l in both; p, s, c, b, h in format 2. */
bool dirobj_check_type(int t, int format);
/* A device name ("dn" of a format-2 head): 1..DIROBJ_DEVICE_NAME_MAX bytes
 * of UTF-8 without control characters (C0, DEL, C1). */
bool dirobj_check_device_name(const char *s, size_t len);
/* Name 1..255 bytes of UTF-8, value at most DIROBJ_XATTR_VALUE_MAX. */
bool dirobj_check_xattr(const struct dirobj_xattr *x);
/* 0 when no two entries share a name or an id (except "h" entries, which
 * may share an id with each other: two names of one file in one directory);
 * -EEXIST if some do; -ENOMEM. */
int dirobj_check_unique(const struct dirobj *dir);

#endif
