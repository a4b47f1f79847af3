/* passphrase.h - getting a passphrase (or a recovery key) from the person:
 * a no-echo prompt on /dev/tty, the first line of a file, or the first line
 * printed by a command. The secret is read with read(2) straight into
 * sodium_malloc memory: never through stdio buffers, never from argv, never
 * logged. */
#ifndef SEALFS_PASSPHRASE_H
#define SEALFS_PASSPHRASE_H

#include <stdbool.h>
#include <stddef.h>

#define PASSPHRASE_MAX_BYTES 1024 /* longer input is refused, not cut */

/* Where a secret comes from. Both NULL: prompt on the terminal. */
struct passphrase_src {
	const char *file;    /* borrowed: read its first line */
	const char *extpass; /* borrowed: run with /bin/sh -c, read the first line of its stdout */
};

/* A secret of len bytes followed by a NUL, in sodium_malloc memory. */
struct passphrase {
	char *text;
	size_t len;
};

/* Gets a secret into *out (new: free with passphrase_free). prompt is shown
 * on the terminal ("Passphrase: "); with confirm the terminal asks twice and
 * the answers must match (files and commands are read once). The secret
 * must be non-empty; a trailing "\n" (and "\r") is stripped.
 * Returns 0, or a negative errno with a one-line reason in err:
 * -ENXIO no terminal, -EINVAL empty or too long, -EMSGSIZE, -EINTR
 * interrupted, -ENOENT/-EACCES file, -ECHILD command failed,
 * -EKEYREJECTED the two answers differ. */
int passphrase_get(struct passphrase *out, const struct passphrase_src *src, const char *prompt,
		   bool confirm, char *err, size_t err_size);

/* Wipes and frees the secret; a zeroed struct is fine. */
void passphrase_free(struct passphrase *p);

#endif
