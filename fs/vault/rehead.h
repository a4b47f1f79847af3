/* rehead.h - a new head written straight into the store by a command that
 * holds no mount (`sealfs fsck --repair`, `sealfs config`): it replaces
 * exactly the head the caller read, by compare-and-swap, after the
 * objects it needs are stored and synced (docs/FORMAT.md, "Copy on write
 * and rollback"). In a format-2 vault the replaced head becomes a retained
 * head (its record in a new first history page, through history_open and
 * history_seal on a store reader) and the caller's garbage goes into the
 * new head's garbage list, deferred like a commit's. Never deletes an
 * object a head may reach; never logs a name. Not thread-safe: one caller
 * per struct rehead. */
#ifndef SEALFS_REHEAD_H
#define SEALFS_REHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "dirobj.h"
#include "vault.h"

struct rehead {
	/* In: all borrowed for the call. */
	struct backend *store;
	const struct vault_config *cfg;
	const struct vault_keys *keys;
	const char *what; /* the command, first word of every message ("repair") */
	/* Told each object stored for the new head before the head goes in (the
	 * history's; fsck counts them reachable): 0 or -errno, which stops the
	 * write. NULL: nobody asks. */
	int (*stored)(void *arg, const uint8_t key[OBJECT_ID_BYTES]);
	void *arg;
	char *err; /* the one-line reason of a failure */
	size_t err_size;
	/* Out. */
	bool head_tried;  /* the new head may be in the store (its objects reachable) */
	uint64_t new_seq; /* once written */
};

/* Writes next as the head after old, which must be what the store holds
 * now (its seq and root are checked against a fresh read: else -ESTALE,
 * nothing written). The caller sets next's root and every member it
 * changes (format 2: keep and gr, which the history follows from then on);
 * here seq becomes old->seq + 1 and, in format 2, parent the hash of the
 * head read, t the time now, hist and g those of the history (the head
 * read archived; garbage[0..ng) in the list with created 0, since older
 * heads may reach it). Objects stored here are deleted again when the
 * head never went in. 0; -ESTALE (the store's head is not old, or changed
 * before the compare-and-swap); -ENOMEM; -EBADMSG; store errors; each with
 * rh->err set. */
int rehead_write(struct rehead *rh, const struct dirobj_head *old, struct dirobj_head *next,
		 const uint8_t (*garbage)[OBJECT_ID_BYTES], size_t ng);

#endif
