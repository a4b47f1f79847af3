/* testdir.h - temporary directories of the C tests: where to make them and
 * how to remove them with everything below. Test code only. */
#ifndef SEALFS_TEST_TESTDIR_H
#define SEALFS_TEST_TESTDIR_H

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int test_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf path (never follows a symbolic link nor crosses into what it links to). */
static inline void test_rm_rf(const char *path)
{
	nftw(path, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Where a test makes its temporary directory: $TMPDIR when set (and short
 * enough for the paths built under it), else with prefer_shm /dev/shm (tests
 * that create and delete many files stay quick on tmpfs), else /tmp. */
static inline const char *test_tmpdir_pick(bool prefer_shm)
{
	const char *dir = getenv("TMPDIR");

	if (dir && *dir && strlen(dir) < 200)
		return dir;
	return prefer_shm && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

#endif
