/* exitcodes.h - the exit codes of the sealfs command: an interface that
 * scripts rely on (docs/CLI.md, `sealfs --help`). Never renumber a code;
 * only add new ones. */
#ifndef SEALFS_EXITCODES_H
#define SEALFS_EXITCODES_H

enum exitcode {
	EXITCODE_OK = 0,
	EXITCODE_USAGE = 1,	     /* bad command line */
	EXITCODE_OTHER = 2,	     /* interrupted, out of memory, anything not below */
	EXITCODE_WRONG_KEY = 10,     /* wrong passphrase or recovery key */
	EXITCODE_NOT_VAULT = 11,     /* no sealfs.json, or it is not a valid vault config */
	EXITCODE_NEWER_FORMAT = 12,  /* vault format (or cipher) newer than this sealfs */
	EXITCODE_STORE_MISSING = 13, /* store missing, unreachable, or access denied */
	EXITCODE_CACHE = 14,	     /* cache directory unusable or in use by another mount */
	EXITCODE_MOUNTPOINT = 15,    /* mountpoint missing, not a directory, not empty, mounted */
	EXITCODE_NO_FUSE = 16,	     /* /dev/fuse missing or not usable */
	EXITCODE_STORE_IO = 17,	     /* reading or writing the store failed */
	EXITCODE_STORE_IN_USE = 18,  /* init: the store already holds a vault or other files */
	EXITCODE_HEAD_REFUSED =
	    19,			     /* mount: the store's head fails --expect or --not-before, or
					the cache's pin is damaged or missing (--accept-store-head) */
	EXITCODE_FSCK_DAMAGED = 20,  /* fsck: damaged or missing objects (left after --repair) */
	EXITCODE_FSCK_ORPHANS = 21,  /* fsck: no damage, but orphans (left after --repair) */
	EXITCODE_NEEDS_FORMAT2 = 22, /* history, restore, config: the vault is format 1 */
	EXITCODE_NO_VERSION = 23,    /* history, restore: no retained version matches */
};

#endif
