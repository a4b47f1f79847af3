/* tree.h - the in-memory tree of a mounted vault (docs/INTERNALS.md, "In
 * memory"): one struct inode per loaded directory and per child of a loaded
 * directory, directories loaded from their sealed objects through the cache on
 * demand, and the namespace operations. Knows nothing of FUSE; never writes
 * to the store (fs/vault/commit.c does).
 *
 * Locks, in this order: commit_lock (fs/vault/commit.c) -> tree.lock (tree_lock) ->
 * an inode's lock (docs/INTERNALS.md, "Locks"). Every field below says which
 * protects it. No lock is held across a store call: content calls drop the
 * file's lock to fetch a segment (tree_io.c), and directory loads hold
 * nothing while reading.
 *
 * Lifetime: an inode that is in the tree (root, or with a parent) lives while
 * it is busy (the kernel holds a lookup, a handle is open, or it is a loaded
 * directory) or its parent keeps its children loaded; a clean directory none
 * of whose children is busy may drop them (fs/tree_cache.h), so a pointer to
 * an idle inode is only good while tree_lock is held. An unlinked inode is an
 * orphan until the kernel forgets it (nlookup 0) and closes it (nopen 0);
 * then its content is forgotten (its segments become garbage) and it is
 * freed. Node ids (inode addresses) thus stay valid exactly as long as the
 * kernel holds a lookup.
 *
 * Errors are 0 or a negative errno; -EBADMSG means a directory object failed
 * to authenticate (logged with its id here; the FUSE layer reports EIO). */
#ifndef SEALFS_TREE_H
#define SEALFS_TREE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "content.h"
#include "dirobj.h"

#define TREE_NAME_MAX DIROBJ_NAME_MAX
/* All xattr names and values of one inode, together. */
#define TREE_XATTR_TOTAL_MAX (1u << 20)
#define TREE_XATTR_PREFIX "user."

struct commit;
struct dirio_pages;
struct perm;
struct pagedrop;
struct prefetch;
struct tree_early;
struct tree_link;
struct tree_itable;

/* A directory's children and its place in the tree's cache; tree_lock. Out
 * of line: directories are few, and every file would pay for these fields
 * in a union. */
struct tree_dirstate {
	/* Children by name hash (tree_table.c: open addressing, at most 4/5
	 * full); NULL when empty. */
	struct inode **table;
	size_t table_size;
	size_t nchildren;
	/* Children that are directories, for st_nlink; kept through an unload
	 * (a droppable directory does not change), recounted by the next load.
	 * sub_known: the children were known once in this mount. */
	size_t nsubdirs;
	bool sub_known;
	struct dirobj_ref ref; /* current sealed object; version 0: never sealed */
	/* Format 3: the pages of ref when it is a paged directory's index
	 * (fs/vault/dirio.h), or NULL; only valid while pages->ref is ref. */
	struct dirio_pages *pages;
	size_t busy_kids;		   /* children that are busy (tree_cache.h) */
	struct inode *lru_prev, *lru_next; /* in the droppable list */
	size_t lru_n;			   /* nchildren when it entered the list */
	uint64_t used;			   /* tree.use_clock at its last use (tree_cap.c) */
	bool loaded;			   /* children known */
	bool dirty;			   /* needs a new object; implies the parent is dirty too */
	bool in_lru;			   /* in the tree's list of droppable directories */
	/* The object ref names was sealed by a commit of this mount and may so
	 * far be only in the journal (the uploader puts it in the cache once
	 * stored): the children must not be dropped before it can be read
	 * back. tree_cache.c clears it once it is cached. */
	bool obj_pending;
};

/* One file, directory or symlink in memory. Every inode the kernel holds
 * costs this much (a big vault may have a million; docs/INTERNALS.md, "In
 * memory"): the fields of one type share a union, a directory's own are out
 * of line, a closed clean file's content is cold (content.h), the name is
 * stored inline and the small fields are packed. */
struct inode {
	/* tree_lock. */
	struct inode *parent;	     /* NULL for the root and for unlinked inodes */
	struct dirobj_xattr *xattrs; /* each name and value malloc'ed; tree_lock and lock */

	union {
		struct {			      /* files; lock */
			struct content_file *content; /* open or changed; NULL: cold */
			struct content_cold cold;     /* while content is NULL */
		};
		struct {	      /* symlinks; immutable */
			char *target; /* target_len bytes + NUL */
			size_t target_len;
		};
		struct tree_dirstate *ds; /* directories; never NULL */
		uint64_t rdev;		  /* FIFOs, sockets, devices (format 2); immutable */
		struct tree_link *link;	  /* a name of a linked file (DIROBJ_HARDLINK); tree_lock */
	};
	uint8_t id[OBJECT_ID_BYTES]; /* file id or directory id; tree_lock and lock */
	/* References the kernel holds (tree_lock). Saturates at
	 * TREE_NLOOKUP_PINNED, which pins the inode for the rest of the mount
	 * (tree_ref_locked): 32 bits, not the kernel's 64, because every
	 * referenced inode pays for it. */
	uint32_t nlookup;
	uint32_t nopen;	  /* open file handles; tree_lock */
	uint32_t nxattrs; /* tree_lock and lock */
	uint32_t mode;	  /* with the type bits; lock from here */
	uint32_t uid, gid;
	/* Files: a failure not yet reported to a program (negative errno; 0:
	 * none), set by a failed change (tree_write, a size change) or a
	 * failed commit that held this file's changes; taken by flush and
	 * fsync (tree_take_error) or dropped when the last handle closes. */
	int wb_err;
	/* The low 32 bits of the commit attempt that took its last content
	 * change (tree_commit_failed_locked compares them). */
	uint32_t commit_try;
	struct dirobj_time atime, mtime, ctime; /* 12 bytes each */
	/* The name in the parent (tree_name), name_len bytes + NUL: in
	 * name_buf while it fits (name_len <= name_cap), else malloc'ed by a
	 * rename to a longer name, its pointer kept in name_buf (which is at
	 * least 8 bytes for that). */
	uint16_t name_len;

	/* Immutable after creation. */
	uint8_t type;	  /* enum dirobj_type */
	uint8_t name_cap; /* name_buf holds names up to this long */

	/* Written holding tree_lock and lock; read holding either. */
	bool unlinked;
	/* Written holding tree_lock and lock, before unlinked: taken out of the
	 * namespace because another device's head no longer has it here
	 * (tree_refresh.c): its objects are not this mount's garbage. */
	bool foreign;
	/* lock. While set, every change to the content fails at once (wb_err
	 * is being reported): the writeback requests still in flight must not
	 * land on the reverted content. */
	bool wb_stop;
	/* A file with several names (tree_link.c; written holding tree_lock
	 * and lock, read holding either): in no directory's table but in the
	 * tree's inode table; its names are DIROBJ_HARDLINK inodes. */
	bool linked;
	char name_buf[]; /* name_cap + 1 bytes */
};

/* Walks directory dir's children (tree_lock held), c each (declared here);
 * the table must not change meanwhile (no insert or remove in the body). */
#define TREE_FOR_CHILDREN(dir, c)                                                                  \
	for (size_t c##_slot = 0; c##_slot < (dir)->ds->table_size; c##_slot++)                    \
		for (struct inode *c = (dir)->ds->table[c##_slot]; c; c = NULL)

/* ino's name (tree_lock held; the pointer is good until it is renamed or
 * freed). */
static inline char *tree_name(const struct inode *ino)
{
	char *p;

	if (ino->name_len <= ino->name_cap)
		return (char *)ino->name_buf;
	memcpy(&p, ino->name_buf, sizeof(p));
	return p;
}

/* nlookup's sticky maximum: an inode the kernel looked up this often is
 * never freed (its forgets are not counted any more). */
#define TREE_NLOOKUP_PINNED UINT32_MAX

struct tree {
	pthread_mutex_t lock;	   /* tree_lock */
	pthread_cond_t dirty_cond; /* with lock: broadcast when dirty turns true or stop is set */

	/* Read-only after tree_open. */
	struct content_ctx cctx;       /* borrowed pointers inside */
	const unsigned char *meta_key; /* borrowed: vault_keys.meta */
	uint8_t vault_id[OBJECT_ID_BYTES];
	struct inode *root;
	unsigned char hash_key[16];
	const char *cache_dir; /* borrowed: for statfs */
	struct commit *commit; /* borrowed: set by the mount */
	bool writeback;	       /* set by FUSE init before any other request */
	/* Budget of the droppable directories kept loaded (tree_cache.h);
	 * TREE_CACHE_DIRS and TREE_CACHE_INODES unless a test lowers them. */
	size_t cache_dirs_max;
	uint64_t cache_inodes_max;
	/* The inode cap (tree_cap.h): above this many inodes in memory the
	 * mount asks the kernel to forget idle names; 0: no cap. Set by the
	 * mount before the loop starts. */
	uint64_t inode_cap;
	/* How long the kernel may cache entries, negative entries and
	 * attributes (fs/daemon/ops.c), in seconds. Set by the mount before
	 * the loop starts. */
	unsigned entry_timeout_s;

	/* Borrowed, set by the engine before the mount serves: the threads
	 * that warm the next files of a directory read in order
	 * (tree_ahead.c); NULL: none. */
	struct prefetch *warm;
	/* Owned, set by tree_early_start before the mount serves and freed by
	 * tree_early_stop: the thread that decodes the subdirectories of a
	 * listed directory ahead of a walk (tree_early.c); NULL: none. */
	struct tree_early *early;
	/* Borrowed, set by the mount before the loop: the daemon's own
	 * permission checks (fs/daemon/perm.h); NULL: the kernel checks
	 * (default_permissions). */
	struct perm *perm;
	/* Borrowed, set by the mount before the loop: the page-cache drops of
	 * files written once (fs/daemon/pagedrop.h); NULL: none. */
	struct pagedrop *pagedrop;

	/* Atomic: the format-1 refusal was logged (tree_format1_refused). */
	_Atomic bool format1_said;
	/* Atomic: the format-2 refusal of links to non-regular files was logged
	 * (tree_link.c). */
	_Atomic bool format2_links_said;

	/* Atomic: failed changes and failed commits since the mount (each logged). */
	_Atomic uint64_t failures;

	/* Atomic: CLOCK_MONOTONIC seconds of the last request (for --idle-lock). */
	_Atomic int64_t last_request_s;

	/* tree_lock. */
	/* Unlinked inodes still referenced: a set by address (tree_table.c). */
	struct inode **orphans;
	size_t orphans_size, norphans;
	struct content_garbage
	    *garbage; /* store keys (and created) to delete after the next commit */
	size_t ngarbage, garbage_cap;
	uint64_t ninodes;		   /* inodes in memory (statfs, sealfs status) */
	struct inode *lru_head, *lru_tail; /* droppable directories, most recent first */
	size_t lru_dirs;		   /* directories in that list */
	uint64_t lru_inodes;		   /* their children */
	uint64_t use_clock;		   /* counts directory uses (tree_cap.c) */
	uint64_t unloaded;		   /* children freed by an unload (the cap's progress) */
	/* tree_ahead.c: the directory of the last file opened for reading
	 * (compared, never dereferenced), that file's slot in its table, the
	 * slots the window and the sweep reach, the opens in that directory
	 * since another, and whether they followed the listing. */
	const struct inode *ahead_dir;
	size_t ahead_slot, ahead_next, ahead_sweep;
	uint32_t ahead_opens;
	bool ahead_ordered;
	bool dirty;		     /* something to commit (dirty root or garbage) */
	struct timespec dirty_since; /* CLOCK_MONOTONIC, when dirty turned true */
	struct timespec changed_at;  /* CLOCK_MONOTONIC, the last change */
	bool stop;		     /* the background committer must exit */
	/* Files with several names, by file id, and the sealed pages of the
	 * inode table (tree_link.c); never NULL after tree_open. */
	struct tree_itable *itable;
	/* Format 2: the head members each commit writes beside seq and root
	 * (device, name, parent, keep, grace; root, time and the REFs unused):
	 * set by the mount from the head it opened before the committer
	 * starts, then commit_lock (not tree_lock): commit.c sets parent to
	 * the hash of each head it journals (seal_head_hash). */
	struct dirobj_head head_tmpl;
	/* Format 2, commit_lock: the history's first-tier slot in seconds
	 * (HISTORY_SLOT, set by the mount; 0 keeps every head: tests only, the
	 * unit tests here and SEALFS_FAULT "slot=" in a fault-injection build). */
	uint32_t head_slot;
};

/* An inode's lock (the "lock" of the fields above): one of a fixed table of
 * mutexes, picked by the inode's address (fs/vault/tree_lock.c). Two inodes
 * may share one, so a thread never holds two inode locks at once. */
void tree_inode_lock(const struct inode *ino);
void tree_inode_unlock(const struct inode *ino);

/* Builds the tree from the head's root entry (copied) and loads the root
 * directory. cctx, meta_key and cache_dir are borrowed for the tree's life,
 * except cctx->keys: the tree makes its own pool for the per-file keys (it
 * logs once when the kernel refuses to lock it) and frees it in tree_free.
 * itable (NULL: none) is the head's "it": the inode table, read whole
 * first (every file with several names stays in memory).
 * Returns 0 with a new *out, -EBADMSG, -ENOMEM or the store's error. */
int tree_open(struct tree **out, const struct content_ctx *cctx, const unsigned char *meta_key,
	      const uint8_t vault_id[OBJECT_ID_BYTES], const struct dirobj_entry *root,
	      const struct dirobj_ref *itable, const char *cache_dir);
/* Stops tree_early's worker, then frees every inode (orphans included,
 * without forgetting their content). */
void tree_free(struct tree *t);

/* Loads a directory's children if not yet loaded. 0, -EBADMSG, store errors. */
int tree_load_dir(struct tree *t, struct inode *dir);

/* Marks dir and its ancestors dirty (needs tree_lock). */
void tree_mark_dirty_locked(struct tree *t, struct inode *dir);
/* Queues a store key for deletion after the next commit (needs tree_lock).
 * Returns 0 or -ENOMEM. */
int tree_add_garbage_locked(struct tree *t, const uint8_t key[OBJECT_ID_BYTES], uint64_t created);
/* Gives dir the paged state of its current object (taken; NULL: one object
 * or not known), replacing the one it had. tree_lock held. */
void tree_pages_set_locked(struct inode *dir, struct dirio_pages *pages);
/* dir's paged state when it describes dir's current object, else NULL (then
 * the object is one directory object, or its pages are not known). */
const struct dirio_pages *tree_pages_of_locked(const struct inode *dir);
/* dir's object is going away: its pages to the tree's garbage. tree_lock. */
void tree_pages_garbage_locked(struct tree *t, struct inode *dir);
/* Whether every page of dir's current object is in the cache (true for one
 * object). tree_lock held. */
bool tree_pages_cached_locked(struct tree *t, const struct inode *dir);
/* The current time (CLOCK_REALTIME) for timestamps. */
void tree_now(struct dirobj_time *out);
/* st_ino of an inode: the first 8 id bytes, little endian. */
uint64_t tree_ino(const struct inode *ino);

/* Finds name in dir (loading dir); on success takes a kernel reference
 * (nlookup + 1) on *out. -ENOENT, -ENOTDIR, -ENAMETOOLONG, load errors. */
int tree_lookup(struct tree *t, struct inode *dir, const char *name, struct inode **out);
/* A directory's new sealed version is committed (needs tree_lock): clears
 * dirty, so it may be unloaded again (fs/commit.c). */
void tree_dir_clean_locked(struct tree *t, struct inode *dir);
/* Unloads idle directories over the budget (needs tree_lock; fs/commit.c
 * calls it after a commit made directories clean). */
void tree_trim_locked(struct tree *t);
/* Drops n kernel references; frees the inode when it is unlinked, unopened
 * and unreferenced. */
void tree_forget(struct tree *t, struct inode *ino, uint64_t n);
/* Content of unlinked inodes still held at unmount becomes garbage. */
void tree_drop_orphans(struct tree *t);

/* Attributes as stat(2) reports them. */
void tree_getattr(struct tree *t, struct inode *ino, struct stat *st);

enum {
	TREE_SET_MODE = 1u << 0,
	TREE_SET_UID = 1u << 1,
	TREE_SET_GID = 1u << 2,
	TREE_SET_SIZE = 1u << 3,
	TREE_SET_ATIME = 1u << 4,
	TREE_SET_MTIME = 1u << 5,
	TREE_SET_CTIME = 1u << 6,
	TREE_SET_ATIME_NOW = 1u << 7,
	TREE_SET_MTIME_NOW = 1u << 8,
};
struct tree_setattr {
	unsigned valid; /* TREE_SET_* */
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime, ctime;
};
/* Applies the valid fields (the kernel has checked permissions). Size only on
 * files (-EISDIR / -EINVAL otherwise). ctime becomes now unless given. */
int tree_setattr(struct tree *t, struct inode *ino, const struct tree_setattr *sa);

/* Creates a file, directory or symlink (target for symlinks, else NULL) named
 * name in dir, owned by uid/gid, permission bits from mode. Takes a kernel
 * reference on *out. -EEXIST, -ENAMETOOLONG, -ENOTDIR, -ENOMEM, load errors. */
int tree_create(struct tree *t, struct inode *dir, const char *name, enum dirobj_type type,
		uint32_t mode, uint32_t uid, uint32_t gid, const char *target, struct inode **out);
/* Creates a FIFO, socket or device node (type DIROBJ_FIFO, _SOCK, _CHR,
 * _BLK; rdev for the devices) as tree_create does. The kernel has checked
 * CAP_MKNOD for devices. -EPERM in a format-1 vault (logged once a mount,
 * naming `sealfs upgrade`), else as tree_create. */
int tree_mknod(struct tree *t, struct inode *dir, const char *name, enum dirobj_type type,
	       uint32_t mode, uint32_t uid, uint32_t gid, uint64_t rdev, struct inode **out);
/* Whether type is a FIFO, socket or device node. */
bool tree_type_special(enum dirobj_type type);
/* The S_IF* bits of an entry type. */
uint32_t tree_type_bits(enum dirobj_type type);
/* link(2): a new name for file ino in dir (format 2; -EPERM in a format-1
 * vault, logged once, and for anything but a regular file). The file keeps
 * its node id; its record moves to the inode table. Takes a kernel
 * reference on *out (ino). -EEXIST, -ENOENT, -ENOTDIR, -EMLINK, -ENOMEM. */
int tree_link(struct tree *t, struct inode *ino, struct inode *dir, const char *name,
	      struct inode **out);

/* Whether the tree has files with several names, or a sealed inode table
 * (takes tree_lock). The merge and the refresh of another device's head do
 * not handle the inode table yet: they refuse such trees. */
bool tree_has_links(struct tree *t);

/* The commit's side of the inode table (commit.c; tree_lock and
 * commit_lock held): fills an entry from a file (commit_entry: the caller
 * frees e->segments), takes a sealed object, queues a garbage key. */
struct tree_itable_cb {
	void *arg;
	int (*entry)(void *arg, struct dirobj_entry *e, struct inode *file);
	int (*object)(void *arg, const uint8_t key[OBJECT_ID_BYTES], unsigned char *data,
		      size_t len);
	int (*garbage)(void *arg, const uint8_t key[OBJECT_ID_BYTES], uint64_t created);
};
/* Seals the table's changed pages and its index as of commit seq + 1 and
 * sets head_tmpl's "it" (absent when no file has several names). 1 when it
 * sealed something (the commit needs a head), 0 when nothing changed, or a
 * negative errno (what was sealed stays queued; the rest is sealed by the
 * next commit). */
int tree_itable_seal_locked(struct tree *t, uint64_t seq, const struct tree_itable_cb *cb);
/* Before dir is sealed (tree_lock): a name whose file has no other name left
 * becomes an ordinary file entry again (its record leaves the table). */
void tree_links_single_locked(struct tree *t, struct inode *dir);

/* unlink (is_dir false) or rmdir (true): -ENOENT, -EISDIR, -ENOTDIR, -ENOTEMPTY. */
int tree_remove(struct tree *t, struct inode *dir, const char *name, bool is_dir);

enum {
	TREE_RENAME_NOREPLACE = 1u << 0,
	TREE_RENAME_EXCHANGE = 1u << 1,
};
/* rename(2)/renameat2(2) within the vault: -ENOENT, -EEXIST (NOREPLACE),
 * -EISDIR, -ENOTDIR, -ENOTEMPTY, -EINVAL (into its own subtree, bad flags). */
int tree_rename(struct tree *t, struct inode *odir, const char *oname, struct inode *ndir,
		const char *nname, unsigned flags);

/* The failure ino's content met since the last call (negative errno, 0:
 * none), cleared; its content takes changes again. For flush and fsync. */
int tree_take_error(struct tree *t, struct inode *ino);
/* A commit attempt (commit_try) failed with r: every file whose changes it
 * held gets r as its unreported error (needs tree_lock). Logs one line. */
void tree_commit_failed_locked(struct tree *t, uint64_t try, int r);

/* A file with no handle left (nopen 0; tree_lock and ino's lock held):
 * closes its cache fds, drops its key and, when nothing changed since its
 * last commit, keeps only its size and segment keys (content_freeze). The
 * last close calls it, and a commit for each closed file it made clean. */
void tree_file_idle_locked(struct inode *ino);

/* Opens a file (nopen + 1), truncating it when trunc. -EISDIR for directories. */
int tree_open_file(struct tree *t, struct inode *ino, bool trunc);
/* Closes one handle; frees an unlinked, unreferenced inode; closes the cache
 * fds and drops the derived key of a file with no handle left (content_idle;
 * it takes the inode lock: call unlocked). */
void tree_release_file(struct tree *t, struct inode *ino);

/* A file was opened for reading: when it follows others of its directory
 * (a program reading the directory file by file), queue the next small
 * files' cache files for warming, fetched first from a remote store
 * (t->warm; tree_ahead.c). A hint: takes tree_lock and the siblings' locks
 * briefly, does no I/O, logs nothing, and ignores ino if it is not a file
 * in a loaded directory. */
void tree_ahead_open(struct tree *t, struct inode *ino);
/* dir was listed: queue the objects of its subdirectories that are not
 * loaded (at most PREFETCH_QUEUE / 2) for warming, fetched first from a
 * remote store, so a walk (find, ls -R, tar) that descends finds them read
 * in, and hand them to the worker that decodes them ahead (t->early,
 * tree_early.c). Same rules as tree_ahead_open; takes tree_lock, then
 * (without it) the read-ahead's and the worker's locks. */
void tree_ahead_list(struct tree *t, const struct inode *dir);
/* Starts the thread that decodes listed directories' subdirectories ahead
 * (t->early; tree_early.c). Without it (an error) directories decode on the
 * request's thread as before. 0, -ENOMEM or pthread_create's error. */
int tree_early_start(struct tree *t);
/* Stops and joins it (a decode in progress finishes) and frees what it
 * decoded; tree_free calls it first. No request may be running. */
void tree_early_stop(struct tree *t);
/* Directories whose load took a decode done ahead, since the start. */
uint64_t tree_early_used(const struct tree *t);
/* Waits until the worker has nothing queued or in progress (what it decoded
 * is then kept or dropped): for tests, which look at what a load takes. */
void tree_early_wait_idle(struct tree *t);

ssize_t tree_read(struct tree *t, struct inode *ino, void *buf, size_t len, uint64_t off);
ssize_t tree_write(struct tree *t, struct inode *ino, const void *buf, size_t len, uint64_t off);
/* Grows the file to at least off + len (mode 0 fallocate). */
int tree_allocate(struct tree *t, struct inode *ino, uint64_t off, uint64_t len);
/* Points *target at the symlink target (borrowed: immutable, lives as long as
 * ino). -EINVAL if ino is not a symlink. */
int tree_readlink(struct tree *t, struct inode *ino, const char **target);

/* A snapshot of a directory listing, "." and ".." first. */
struct tree_dirent {
	char *name;
	uint64_t st_ino;
	uint32_t mode; /* type bits only */
};
struct tree_dirlist {
	struct tree_dirent *ents;
	size_t n;
};
/* Loads dir and snapshots its entries into *out (new: tree_dirlist_free). */
int tree_dirlist(struct tree *t, struct inode *dir, struct tree_dirlist *out);
void tree_dirlist_free(struct tree_dirlist *l);

/* user.* extended attributes; other namespaces -EOPNOTSUPP. getxattr with
 * size 0 returns the value's length; a short buffer gives -ERANGE. */
ssize_t tree_getxattr(struct tree *t, struct inode *ino, const char *name, void *buf, size_t size);
/* flags: XATTR_CREATE (-EEXIST), XATTR_REPLACE (-ENODATA). -ERANGE for a
 * name too long, -E2BIG for a value too large, -ENOSPC over the total. */
int tree_setxattr(struct tree *t, struct inode *ino, const char *name, const void *value,
		  size_t size, int flags);
ssize_t tree_listxattr(struct tree *t, struct inode *ino, char *buf, size_t size);
int tree_removexattr(struct tree *t, struct inode *ino, const char *name);

#endif
