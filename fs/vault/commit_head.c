/* commit_head.c - the format-2 members of the heads a committer writes
 * (commit_head.h). It must never change the members it only carries
 * forward (retention, history, garbage, inode table: their owners change
 * them), and never fill any member into a format-1 head. */
#include "commit_head.h"

#include <string.h>

#include "tree.h"

void commit_head_base_set(struct commit_head_base *b, int format, const struct dirobj_head *on,
			  const uint8_t parent[HEAD_HASH_BYTES],
			  const uint8_t device[OBJECT_ID_BYTES], const char *device_name)
{
	size_t n = strlen(device_name);

	memset(b, 0, sizeof(*b));
	b->format = format;
	memcpy(b->device, device, OBJECT_ID_BYTES);
	if (n > DIROBJ_DEVICE_NAME_MAX)
		n = DIROBJ_DEVICE_NAME_MAX;
	memcpy(b->device_name, device_name, n);
	memcpy(b->parent, parent, HEAD_HASH_BYTES);
	b->carry.keep = on->keep;
	b->carry.grace = on->grace;
	b->carry.has_history = on->has_history;
	b->carry.history = on->history;
	b->carry.has_garbage = on->has_garbage;
	b->carry.garbage = on->garbage;
	b->carry.has_inodes = on->has_inodes;
	b->carry.inodes = on->inodes;
}

void commit_head_fill(const struct commit_head_base *b, struct dirobj_head *h)
{
	if (b->format < 2)
		return;
	tree_now(&h->time);
	memcpy(h->device, b->device, OBJECT_ID_BYTES);
	memcpy(h->device_name, b->device_name, sizeof(h->device_name));
	memcpy(h->parent, b->parent, HEAD_HASH_BYTES);
	h->keep = b->carry.keep;
	h->grace = b->carry.grace;
	h->has_history = b->carry.has_history;
	h->history = b->carry.history;
	h->has_garbage = b->carry.has_garbage;
	h->garbage = b->carry.garbage;
	h->has_inodes = b->carry.has_inodes;
	h->inodes = b->carry.inodes;
}

void commit_head_sealed(struct commit_head_base *b, const unsigned char *sealed, size_t len)
{
	head_hash(b->parent, sealed, len);
}
