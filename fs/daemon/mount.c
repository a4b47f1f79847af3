/* mount.c - creating a vault's first tree, and running a mount: checks, the
 * head, the tree, the FUSE session and its multi-threaded loop, the
 * background committer, and the last commit at unmount. It must never
 * daemonise (the CLI forks first), never log names, contents or keys, and
 * must wipe the keys before returning.
 *
 * Background commits: a commit runs once the tree has had no change for
 * commit_delay_ms (MOUNT_COMMIT_DELAY_DEFAULT_MS when 0 is passed), or at the
 * latest MOUNT_COMMIT_MAX_MS after its first uncommitted change (the kernel's
 * own dirty page expiry), so that a busy file is not copied on write again
 * every few seconds; after a failed commit the delay doubles, up to
 * MOUNT_COMMIT_BACKOFF_MAX_MS.
 *
 * Write-back: commits (fsync, the timer, unmount) only journal in the cache;
 * the uploader (fs/cache/upload.c) stores them. At mount, a journal record newer
 * than the store's head is the truth; at unmount the uploader gets
 * MOUNT_DRAIN_GIVE_UP_MS of failure before the rest is left for the next
 * mount. */

#include "ops.h"
#include "mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cache.h"
#include "commit.h"
#include "control.h"
#include "errbuf.h"
#include "journal.h"
#include "head.h"
#include "seal.h"
#include "log.h"
#include "prefetch.h"
#include "tree.h"
#include "upload.h"
#include "mono.h"

#define MOUNT_COMMIT_DELAY_DEFAULT_MS 2000u
#define MOUNT_COMMIT_BACKOFF_MAX_MS 60000u
#define MOUNT_COMMIT_MAX_MS 30000u
#define MOUNT_FINAL_COMMIT_TRIES 3
#define MOUNT_MAX_THREADS 16
#define MOUNT_MAX_IDLE_THREADS 4
/* At unmount, how long the uploader may fail without progress before the
 * daemon exits leaving the journal for the next mount. */
#define MOUNT_DRAIN_GIVE_UP_MS 30000u
/* With --fsync-store, how long fsync waits for the store before failing with EIO. */
#define MOUNT_FSYNC_STORE_WAIT_MS 60000u

struct mount_state {
	struct cache *cache;
	struct tree *tree;
	struct commit *commit;
	struct upload *up;
	struct fuse_session *se;
	pthread_t committer;
	bool committer_started;
	unsigned delay_ms;
	unsigned idle_lock_s;
	pthread_t main_thread; /* runs the FUSE loop: the one to interrupt */
	pthread_t idler;
	bool idler_started;
	struct control *ctl; /* sealfs status / sync; NULL when the socket failed */
	struct prefetch *prefetch; /* read-ahead from a remote store; NULL for a local one */
};

static void mount_now(struct dirobj_time *t) { tree_now(t); }

/* ---- a new vault ---- */

static int mount_put_sealed(struct backend *store, const char *key, unsigned char *data, size_t len)
{
	int r = backend_put(store, key, data, len);

	free(data);
	return r ? r : backend_sync(store);
}

int fsmount_init_tree(struct backend *store, const struct vault_config *cfg,
		      const struct vault_keys *keys, char *err, size_t err_size)
{
	struct dirobj_head head = {.seq = 1};
	struct dirobj root = {.nentries = 0};
	char key[OBJECT_KEY_TEXT_BYTES];
	unsigned char *sealed;
	size_t len;
	uint64_t size;
	int r = store->ops->head(store, HEAD_STORE_KEY, &size);

	if (r == 0)
		return errbuf_fail(err, err_size, -EEXIST, "the store already holds a vault head");
	if (r != -ENOENT)
		return errbuf_fail(err, err_size, r, "checking the store for a head failed: %s",
				  strerror(-r));
	head.root.name = "";
	head.root.type = DIROBJ_DIR;
	head.root.mode = S_IFDIR | 0755;
	head.root.uid = (uint32_t)getuid();
	head.root.gid = (uint32_t)getgid();
	mount_now(&head.root.mtime);
	head.root.atime = head.root.ctime = head.root.mtime;
	head.root.ref.version = 1;
	randombytes_buf(head.root.id, OBJECT_ID_BYTES);
	randombytes_buf(head.root.ref.store_key, OBJECT_ID_BYTES);
	memcpy(root.dir_id, head.root.id, OBJECT_ID_BYTES);
	r = seal_dir(&sealed, &len, &root, 1, head.root.ref.store_key, cfg->vault_id,
			    keys->meta);
	if (r == 0) {
		object_key_text(key, head.root.ref.store_key);
		r = mount_put_sealed(store, key, sealed, len);
	}
	if (r == 0)
		r = seal_head(&sealed, &len, &head, cfg->vault_id, keys->meta);
	if (r == 0)
		r = mount_put_sealed(store, HEAD_STORE_KEY, sealed, len);
	if (r)
		return errbuf_fail(err, err_size, r, "writing the empty root failed: %s",
				  strerror(-r));
	return 0;
}

/* ---- checks before mounting ---- */

static int mount_check_empty(const char *mnt, char *err, size_t size)
{
	DIR *d = opendir(mnt);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errbuf_fail(err, size, -errno, "cannot read mountpoint '%s': %s", mnt,
				  strerror(errno));
	while ((de = readdir(d)) != NULL && r == 0)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			r = errbuf_fail(err, size, -ENOTEMPTY, "mountpoint '%s' is not empty", mnt);
	closedir(d);
	return r;
}

static int mount_check_mountpoint(const char *mnt, char *err, size_t size)
{
	char parent[PATH_MAX];
	struct stat st, pst;

	if (stat(mnt, &st) != 0) {
		if (errno == ENOTCONN)
			return errbuf_fail(err, size, -EBUSY,
					  "mountpoint '%s' is a dead mount (transport endpoint is "
					  "not connected): unmount it first",
					  mnt);
		if (errno == ENOENT)
			return errbuf_fail(err, size, -ENOENT, "mountpoint '%s' does not exist",
					  mnt);
		return errbuf_fail(err, size, -errno, "cannot use mountpoint '%s': %s", mnt,
				  strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return errbuf_fail(err, size, -ENOTDIR, "mountpoint '%s' is not a directory", mnt);
	if ((size_t)snprintf(parent, sizeof(parent), "%s/..", mnt) >= sizeof(parent))
		return errbuf_fail(err, size, -ENAMETOOLONG, "mountpoint path too long");
	if (stat(parent, &pst) != 0 || pst.st_dev != st.st_dev || pst.st_ino == st.st_ino)
		return errbuf_fail(err, size, -EBUSY, "mountpoint '%s' is already a mount point",
				  mnt);
	if (access("/dev/fuse", R_OK | W_OK) != 0)
		return errbuf_fail(err, size, -ENODEV, "cannot use /dev/fuse: %s", strerror(errno));
	return mount_check_empty(mnt, err, size);
}

static int mount_read_head(struct dirobj_head *head, struct backend *store,
			   const struct vault_config *cfg, const struct vault_keys *keys, char *err,
			   size_t size)
{
	int r = seal_read_head(head, store, cfg->vault_id, keys->meta);

	if (r == -ENOENT)
		return errbuf_fail(err, size, r,
				  "the store has no head: not a sealfs vault or never initialised");
	if (r == -EBADMSG)
		return errbuf_fail(err, size, r, "the vault head failed to authenticate");
	if (r)
		return errbuf_fail(err, size, r, "reading the vault head failed: %s", strerror(-r));
	return 0;
}

/* Refuses a store older than one this cache has seen; remembers the seq. */
static int mount_check_rollback(const char *cache_dir, const struct vault_config *cfg, uint64_t seq,
				char *err, size_t size)
{
	uint64_t seen = 0;
	int r = head_state_read(cache_dir, cfg->vault_id, &seen);

	if (r == -EINVAL)
		log_msg(LOG_WARNING, "the cache's state file is unreadable; rewriting it");
	if (r == 0 && seq < seen)
		return errbuf_fail(err, size, -ESTALE,
				  "store was rolled back (head seq %" PRIu64 " < %" PRIu64
				  " seen before)",
				  seq, seen);
	if (seq > seen && head_state_write(cache_dir, cfg->vault_id, seq) != 0)
		log_msg(LOG_WARNING, "remembering the head seq in the cache failed");
	return 0;
}

/* ---- the session ---- */

static int mount_args(struct fuse_args *args, const struct mount_opts *o)
{
	char opts[256];

	snprintf(opts, sizeof(opts), "fsname=sealfs,subtype=sealfs,default_permissions%s%s",
		 o->allow_other ? ",allow_other" : "", o->read_only ? ",ro" : "");
	if (fuse_opt_add_arg(args, "sealfs") || fuse_opt_add_arg(args, "-o") ||
	    fuse_opt_add_arg(args, opts))
		return -ENOMEM;
	if (o->fuse_opts && *o->fuse_opts &&
	    (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, o->fuse_opts)))
		return -ENOMEM;
	return 0;
}

static int mount_session(struct mount_state *m, const struct mount_opts *o, char *err, size_t size)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	int r = mount_args(&args, o);

	if (r == 0) {
		m->se =
		    fuse_session_new(&args, ops_table(), sizeof(struct fuse_lowlevel_ops), m->tree);
		if (!m->se)
			r = errbuf_fail(err, size, -EINVAL, "bad FUSE mount options");
	}
	fuse_opt_free_args(&args);
	if (r)
		return r;
	if (fuse_set_signal_handlers(m->se) != 0)
		return errbuf_fail(err, size, -EIO, "installing signal handlers failed");
	if (fuse_session_mount(m->se, o->mountpoint) != 0)
		return errbuf_fail(err, size, -EIO,
				  "mounting on '%s' failed (see the message above; is the FUSE "
				  "module loaded and /dev/fuse usable?)",
				  o->mountpoint);
	return 0;
}

static void mount_ready(int fd)
{
	if (fd < 0)
		return;
	if (write(fd, "0", 1) != 1)
		log_msg(LOG_WARNING, "telling the parent the mount is ready failed");
	close(fd);
}

/* ---- the background committer ---- */

/* When the next background commit is due (tree_lock held). */
static void mount_commit_due(struct timespec *due, const struct tree *t, unsigned delay)
{
	struct timespec latest;

	mono_after(due, &t->changed_at, delay);
	mono_after(&latest, &t->dirty_since, delay > MOUNT_COMMIT_MAX_MS ? delay
									 : MOUNT_COMMIT_MAX_MS);
	if (mono_before(&latest, due))
		*due = latest;
}

static void *mount_committer(void *arg)
{
	struct mount_state *m = arg;
	struct tree *t = m->tree;
	unsigned delay = m->delay_ms;
	struct timespec now, due;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		if (!t->dirty) {
			pthread_cond_wait(&t->dirty_cond, &t->lock);
			continue;
		}
		mount_commit_due(&due, t, delay);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (mono_before(&now, &due)) {
			pthread_cond_timedwait(&t->dirty_cond, &t->lock, &due);
			continue;
		}
		pthread_mutex_unlock(&t->lock);
		bool ok = commit_run(m->commit) == 0;
		pthread_mutex_lock(&t->lock);
		delay = ok ? m->delay_ms
			   : (delay > MOUNT_COMMIT_BACKOFF_MAX_MS / 2 ? MOUNT_COMMIT_BACKOFF_MAX_MS
								      : delay * 2);
		if (!ok) { /* the back-off counts from now */
			clock_gettime(CLOCK_MONOTONIC, &t->dirty_since);
			t->changed_at = t->dirty_since;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* --idle-lock: after idle_lock_s without a request, lock the vault the way
 * SIGTERM does (the loop ends, the last commit runs, the mount goes, the keys
 * are wiped). The signal goes to the thread waiting in the FUSE loop: its
 * handler marks the session exited and interrupts that wait. */
static void *mount_idler(void *arg)
{
	struct mount_state *m = arg;
	struct tree *t = m->tree;
	struct timespec now, due;
	bool stop = false;

	pthread_mutex_lock(&t->lock);
	while (!t->stop && !stop) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t last = atomic_load(&t->last_request_s);

		if (now.tv_sec - last >= (int64_t)m->idle_lock_s) {
			log_msg(LOG_INFO, "no activity for %u s: locking", m->idle_lock_s);
			pthread_kill(m->main_thread, SIGTERM);
			stop = true;
			continue;
		}
		due = now;
		due.tv_sec = last + (int64_t)m->idle_lock_s;
		pthread_cond_timedwait(&t->dirty_cond, &t->lock, &due);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Starts the committer with every signal blocked (they belong to the loop). */
static int mount_start_committer(struct mount_state *m)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&m->committer, NULL, mount_committer, m);
	m->committer_started = r == 0;
	if (r == 0 && m->idle_lock_s > 0) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		atomic_store(&m->tree->last_request_s, (int64_t)now.tv_sec);
		r = pthread_create(&m->idler, NULL, mount_idler, m);
		m->idler_started = r == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

static void mount_stop_committer(struct mount_state *m)
{
	if (!m->committer_started)
		return;
	pthread_mutex_lock(&m->tree->lock);
	m->tree->stop = true;
	pthread_cond_broadcast(&m->tree->dirty_cond);
	pthread_mutex_unlock(&m->tree->lock);
	pthread_join(m->committer, NULL);
	m->committer_started = false;
	if (m->idler_started)
		pthread_join(m->idler, NULL);
	m->idler_started = false;
}

/* The control socket (sealfs status / sync); a mount works without it. */
static void mount_start_control(struct mount_state *m, const char *mnt, const char *cache_dir)
{
	struct control_deps d = {.tree = m->tree, .commit = m->commit, .up = m->up,
				 .cache = m->cache, .cache_dir = cache_dir};
	int r = control_start(&m->ctl, mnt, &d);

	if (r)
		log_msg(LOG_WARNING, "no control socket (errno %d): sealfs status and sync "
			"cannot reach this mount", -r);
}

/* ---- running ---- */

static int mount_loop(struct mount_state *m)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_max_threads(cfg, MOUNT_MAX_THREADS);
	fuse_loop_cfg_set_idle_threads(cfg, MOUNT_MAX_IDLE_THREADS);
	r = fuse_session_loop_mt(m->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r < 0 ? r : 0;
}

/* The last commit, retried a few times: after it the tree is gone. */
static int mount_final_commit(struct mount_state *m)
{
	int r = 0;

	tree_drop_orphans(m->tree);
	for (int i = 0; i < MOUNT_FINAL_COMMIT_TRIES; i++) {
		r = commit_run(m->commit);
		if (r == 0)
			break;
		sleep(1u << i);
	}
	if (r)
		log_msg(LOG_ERR, "the last commit failed: recent changes are lost");
	return r;
}

static void mount_teardown(struct mount_state *m)
{
	control_stop(m->ctl);
	if (m->se) {
		fuse_remove_signal_handlers(m->se);
		fuse_session_destroy(m->se);
	}
	prefetch_stop(m->prefetch);
	upload_stop(m->up);
	commit_free(m->commit);
	tree_free(m->tree);
	cache_close(m->cache);
}

/* ---- the journal at mount ---- */

/* Reads every pending record, oldest first, putting its objects back into
 * the cache (a crash may have lost those unsynced copies). A damaged record
 * is ignored (and removed) when it is the newest (a commit cut short) or
 * when its seq is at most the store's head seq stored (a removed record
 * whose slot was being reused); any other damaged record fails the mount.
 * *newest gets the newest intact seq and head (0 / untouched when none). */
static int mount_replay(struct mount_state *m, const char *cache_dir, uint64_t stored,
			uint64_t *newest, unsigned char **head, size_t *head_len, char *err,
			size_t size)
{
	char text[OBJECT_KEY_TEXT_BYTES];
	struct journal_record rec;
	uint64_t *seqs;
	size_t n;
	int r = journal_list(&seqs, &n, cache_dir);

	for (size_t i = 0; r == 0 && i < n; i++) {
		r = journal_read(&rec, cache_dir, seqs[i]);
		if (r == -EBADMSG && (i + 1 == n || seqs[i] <= stored)) {
			log_msg(LOG_WARNING, "journal record %016" PRIx64 " is damaged (%s); "
				"ignoring it", seqs[i], seqs[i] <= stored ? "the store holds its "
				"commit" : "a commit cut short");
			r = journal_remove(cache_dir, seqs[i]);
			continue;
		}
		if (r) {
			errbuf_fail(err, size, r, "journal record %016" PRIx64 " in the cache is "
				   "unreadable: %s", seqs[i], r == -EBADMSG ? "damaged" : strerror(-r));
			break;
		}
		for (size_t k = 0; k < rec.nsegs; k++)
			cache_pin(m->cache, rec.segs[k]); /* not in the store yet (--cache-size) */
		for (size_t k = 0; k < rec.nobjs; k++) {
			object_key_text(text, rec.objs[k].key);
			if (r == 0)
				r = cache_write_object(m->cache, text, rec.objs[k].data, rec.objs[k].len);
		}
		free(*head);
		*head = malloc(rec.head_len ? rec.head_len : 1);
		if (r == 0 && !*head)
			r = -ENOMEM;
		if (r == 0) {
			memcpy(*head, rec.head, rec.head_len);
			*head_len = rec.head_len;
			*newest = rec.seq;
		} else {
			errbuf_fail(err, size, r, "replaying the journal into the cache failed: %s",
				   strerror(-r));
		}
		journal_record_release(&rec);
	}
	free(seqs);
	return r;
}

/* Chooses the head to mount: the store's (in *head already, seq stored), or
 * the newest journal record's when it is newer. Refuses a store that moved
 * past commits this cache has not uploaded yet. */
static int mount_choose_head(struct mount_state *m, struct dirobj_head *head,
			     const struct vault_config *cfg, const struct vault_keys *keys,
			     const char *cache_dir, uint64_t remembered, char *err, size_t size)
{
	unsigned char *sealed = NULL;
	size_t len = 0;
	uint64_t pending = 0, stored = head->seq;
	int r = journal_init(cache_dir);

	if (r)
		return errbuf_fail(err, size, r, "creating the cache's journal failed: %s",
				  strerror(-r));
	r = mount_replay(m, cache_dir, stored, &pending, &sealed, &len, err, size);
	if (r == 0 && pending > remembered && pending < stored)
		r = errbuf_fail(err, size, -ESTALE,
			       "the store's head (seq %" PRIu64 ") is newer than this cache's "
			       "commits not yet uploaded (seq %" PRIu64 "): another mount wrote to "
			       "the store",
			       stored, pending);
	if (r == 0 && pending > stored) {
		dirobj_head_release(head);
		r = seal_open_head(head, sealed, len, cfg->vault_id, keys->meta);
		if (r)
			errbuf_fail(err, size, r, "the journal's head failed to authenticate");
		else
			log_msg(LOG_INFO, "mounting commit %" PRIu64 " from the local journal "
				"(the store holds %" PRIu64 ")", pending, stored);
	}
	free(sealed);
	return r;
}

/* --cache-size: a writer waiting for room asks for the commit now (its dirty
 * segments stay pinned until committed and uploaded) and for an upload. */
static void mount_cache_full(void *arg)
{
	struct mount_state *m = arg;

	pthread_mutex_lock(&m->tree->lock);
	if (m->tree->dirty) {
		m->tree->dirty_since = (struct timespec){0};
		pthread_cond_broadcast(&m->tree->dirty_cond);
	}
	pthread_mutex_unlock(&m->tree->lock);
	upload_kick(m->up);
}

static void mount_cache_limit(struct mount_state *m, const struct mount_opts *o)
{
	struct cache_limit lim = {.bytes = o->cache_size,
				  .wait_ms = o->cache_full_wait_s * 1000u,
				  .full = mount_cache_full,
				  .arg = m};

	if (o->cache_size)
		cache_set_limit(m->cache, &lim);
}

/* Everything up to a mounted session; fills m. */
static int mount_prepare(struct mount_state *m, struct backend *store,
			 const struct vault_config *cfg, const struct vault_keys *keys,
			 const struct mount_opts *o, char *err, size_t size)
{
	struct content_ctx cctx = {.suite = cfg->suite, .content_key = keys->content};
	struct dirobj_head head;
	uint64_t remembered = 0, stored;
	int r = mount_check_mountpoint(o->mountpoint, err, size);

	if (r == 0)
		r = cache_open(&m->cache, o->cache_dir, store, err, size);
	if (r == 0 && o->cache_size && (r = cache_track(m->cache)) != 0)
		errbuf_fail(err, size, r, "reading the cache failed: %s", strerror(-r));
	if (r == 0)
		r = mount_read_head(&head, store, cfg, keys, err, size);
	if (r)
		return r;
	stored = head.seq;
	head_state_read(o->cache_dir, cfg->vault_id, &remembered);
	r = mount_check_rollback(o->cache_dir, cfg, head.seq, err, size);
	if (r == 0)
		r = mount_choose_head(m, &head, cfg, keys, o->cache_dir, remembered, err, size);
	cctx.cache = m->cache;
	memcpy(cctx.vault_id, cfg->vault_id, OBJECT_ID_BYTES);
	if (r == 0 && !(store->ops->caps & BACKEND_CAP_LOCAL_FS) &&
	    prefetch_start(&m->prefetch, m->cache) != 0)
		log_msg(LOG_WARNING, "read-ahead is off: starting its threads failed");
	cctx.prefetch = m->prefetch;
	if (r == 0 && (r = tree_open(&m->tree, &cctx, keys->meta, cfg->vault_id, &head.root,
				     o->cache_dir)) != 0)
		errbuf_fail(err, size, r, "loading the root directory failed: %s",
			   r == -EBADMSG ? "it failed to authenticate" : strerror(-r));
	if (r == 0 && (r = commit_new(&m->commit, m->tree, store, head.seq, o->cache_dir)) != 0)
		errbuf_fail(err, size, r, "out of memory");
	dirobj_head_release(&head);
	if (r == 0 &&
	    (r = upload_start(&m->up, store, m->cache, o->cache_dir, cfg->vault_id, stored)) != 0)
		errbuf_fail(err, size, r, "starting the uploader failed");
	if (r == 0 && (r = commit_set_uploader(m->commit, m->up)) != 0)
		errbuf_fail(err, size, r, "preparing the cache failed: %s", strerror(-r));
	if (r)
		return r;
	if (o->fsync_store)
		commit_set_store_wait(m->commit, MOUNT_FSYNC_STORE_WAIT_MS);
	m->tree->commit = m->commit;
	mount_cache_limit(m, o);
	return mount_session(m, o, err, size);
}

/* Gives the uploader time to empty the journal; what is left waits for the
 * next mount (nothing is lost: it is durable in the cache). */
/* Tells whoever waits for this daemon (sealfs unmount) what the store lacks. */
static void mount_report_pending(const char *path, size_t left)
{
	char line[32];
	int fd, n;

	if (!path)
		return;
	if (left == 0) {
		unlink(path);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%zu\n", left);
	if (n > 0 && write(fd, line, (size_t)n) != n)
		log_msg(LOG_WARNING, "writing the pending-commit count failed");
	close(fd);
}

static void mount_drain(struct mount_state *m, const char *pending_path)
{
	size_t left = upload_drain(m->up, MOUNT_DRAIN_GIVE_UP_MS);

	if (left)
		log_msg(LOG_WARNING,
			"%zu commits not yet in the store; they will be uploaded at the next mount",
			left);
	mount_report_pending(pending_path, left);
}

int fsmount_run(struct backend *store, const struct vault_config *cfg, struct vault_keys *keys,
		const struct mount_opts *opts, char *err, size_t err_size)
{
	struct mount_state m = {.delay_ms = opts->commit_delay_ms,
				.idle_lock_s = opts->idle_lock_s,
				.main_thread = pthread_self()};
	int r;

	if (m.delay_ms == 0)
		m.delay_ms = MOUNT_COMMIT_DELAY_DEFAULT_MS;
	r = mount_prepare(&m, store, cfg, keys, opts, err, err_size);
	if (r == 0 && (r = mount_start_committer(&m)) != 0)
		errbuf_fail(err, err_size, r, "starting the committer failed");
	if (r) {
		if (m.se)
			fuse_session_unmount(m.se);
		mount_teardown(&m);
		vault_keys_free(keys);
		return r;
	}
	mount_start_control(&m, opts->mountpoint, opts->cache_dir);
	mount_ready(opts->ready_fd);
	log_msg(LOG_INFO, "mounted");
	r = mount_loop(&m);
	if (r)
		log_msg(LOG_ERR, "the FUSE loop failed (errno %d)", -r);
	fuse_session_unmount(m.se);
	mount_stop_committer(&m);
	r = mount_final_commit(&m);
	if (r)
		errbuf_fail(err, err_size, r, "the last commit failed");
	mount_drain(&m, opts->pending_path);
	mount_teardown(&m);
	vault_keys_free(keys);
	return r;
}
