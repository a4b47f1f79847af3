/* local_time.c - when an object of the local store was stored: what
 * `sealfs fsck --repair` weighs against its grace period before it deletes
 * an orphan. Reads metadata only; must never follow a symbolic link nor
 * report a time for what is not an object (a directory, a temporary file). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "local_store.h"

int local_stored_time(struct backend *b, const char *key, int64_t *sec)
{
	struct local_store *s = local_of(b);
	struct stat st;
	int r = local_key_check(key);

	*sec = 0;
	if (r)
		return r;
	if (fstatat(s->root_fd, key, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return local_lookup_errno(errno);
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	/* put_file links a cache file that may be older than the link: the link
	 * changed the inode's ctime, so the later of the two is when the store
	 * got the object (a chmod or touch only makes it look younger: safe). */
	*sec = (int64_t)(st.st_ctim.tv_sec > st.st_mtim.tv_sec ? st.st_ctim.tv_sec
							       : st.st_mtim.tv_sec);
	return 0;
}
