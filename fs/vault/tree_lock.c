/* tree_lock.c - the inodes' locks: a fixed table of mutexes shared by all
 * inodes, an inode using the one its address picks (docs/INTERNALS.md,
 * "Locks"). A million inodes the kernel references then cost no mutex each
 * (40 bytes apiece before). Two inodes may share a mutex, so a thread must
 * never hold two inode locks at once: none does (each call takes one inode's
 * lock, drops it, then takes the next). Never logs, never allocates. */
#include "tree.h"

#include <stdint.h>

/* A power of two; a few times the threads that take inode locks (the FUSE
 * workers and the committer), so that two of them rarely collide. */
#define TREE_INODE_LOCKS 256

static pthread_mutex_t tree_inode_locks[TREE_INODE_LOCKS] = {[0 ... TREE_INODE_LOCKS - 1] =
								 PTHREAD_MUTEX_INITIALIZER};

static pthread_mutex_t *tree_inode_mutex(const struct inode *ino)
{
	/* Fibonacci hashing of the address: allocations are 16-byte aligned
	 * and often adjacent, so the low bits alone would cluster. */
	uint64_t h = (uint64_t)(uintptr_t)ino * UINT64_C(0x9E3779B97F4A7C15);

	return &tree_inode_locks[h >> (64 - 8)];
}

void tree_inode_lock(const struct inode *ino) { pthread_mutex_lock(tree_inode_mutex(ino)); }

void tree_inode_unlock(const struct inode *ino) { pthread_mutex_unlock(tree_inode_mutex(ino)); }
