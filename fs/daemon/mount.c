/* mount.c - running a mount: the mountpoint check, the engine
 * (fs/vault/engine.h: cache, head, journal, tree, uploader, committer), the
 * FUSE session and its multi-threaded loop, the background committer, and
 * the last commit at unmount. It must never
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
 * MOUNT_DRAIN_GIVE_UP_S of failure before the rest is left for the next
 * mount (SEALFS_DRAIN_GIVE_UP_S in the environment changes it). */

#include "mount.h"
#include "head_chain.h"
#include "merge_store.h"
#include "mount_cap.h"
#include "mount_lease.h"
#include "ops.h"
#include "poll_head.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "commit.h"
#include "control.h"
#include "engine.h"
#include "env.h"
#include "errbuf.h"
#include "fault.h"
#include "fuse_io.h"
#include "lock_bus.h"
#include "log.h"
#include "mono.h"
#include "notify.h"
#include "pagedrop.h"
#include "perm.h"
#include "tree.h"
#include "upload.h"

#define MOUNT_COMMIT_DELAY_DEFAULT_MS 2000u
#define MOUNT_COMMIT_BACKOFF_MAX_MS 60000u
#define MOUNT_COMMIT_MAX_MS 30000u
#define MOUNT_FINAL_COMMIT_TRIES 3
/* FUSE workers. Each one that ever handled a 1 MiB write keeps libfuse's
 * 1 MiB + 4 KiB receive buffer touched while it lives: the daemon's peak
 * during a write stream. Over a local store a request waits only on the CPU
 * (2 cores seal or open chunks, with par.c's helpers) and the local disk, and
 * 4 workers stream as fast as 16 (docs/PERFORMANCE.md, "Daemon memory
 * (session 6)": seq write peak 20 -> 9 MiB). Over S3 a cold read waits on the
 * network for up to seconds: more workers keep other requests moving. */
#define MOUNT_MAX_THREADS_LOCAL 4 /* per 2 cores: more cores seal more at once */
#define MOUNT_MAX_THREADS_REMOTE 16
#define MOUNT_MAX_IDLE_THREADS 4
/* At unmount, how long (seconds) the uploader may fail without progress (no
 * object or head taken by the store) before the daemon exits leaving the
 * journal for the next mount; SEALFS_DRAIN_GIVE_UP_S overrides it, up to a day. */
#define MOUNT_DRAIN_GIVE_UP_S 30u
#define MOUNT_DRAIN_GIVE_UP_MAX_S 86400u
/* How long a poll waits for this mount's own changes to be stored (merged)
 * before it shows another device's head; else it tries at the next poll. */
#define MOUNT_POLL_WAIT_MS 30000u
/* With --fsync-store, how long fsync waits for the store before failing with EIO. */
#define MOUNT_FSYNC_STORE_WAIT_MS 60000u

struct mount_state {
	struct engine eng; /* cache, tree, committer, uploader, read-ahead */
	struct fuse_session *se;
	pthread_t committer;
	bool committer_started;
	unsigned delay_ms;
	unsigned idle_lock_s;
	pthread_t main_thread; /* runs the FUSE loop: the one to interrupt */
	pthread_t idler;
	bool idler_started;
	struct control *ctl;   /* sealfs status / sync; NULL when the socket failed */
	struct lock_bus *bus;  /* lock on suspend / screen lock, STATUS= ticks; or NULL */
	struct poll *poll;     /* format 2, --poll: other devices' changes shown; or NULL */
	struct mount_cap *cap; /* the inode cap (mount_cap.h); or NULL */
};

/* poll_inval_fn: the kernel forgets what another device changed. */
static void mount_inval(void *ctx, const struct tree_inval *v)
{
	struct mount_state *m = ctx;

	notify_kernel(m->se, m->eng.tree, v);
}

/* Format 2, read-write, --poll > 0: polls the store's head (poll_head.h). A poll
 * that cannot start leaves the mount without it (logged). */
static void mount_start_poll(struct mount_state *m, struct backend *store,
			     const struct vault_config *cfg, const struct vault_keys *keys,
			     const struct mount_opts *o)
{
	struct poll_deps d = {0};

	if (cfg->format < 2 || o->read_only || o->poll_s == 0 || !m->eng.merge)
		return;
	d.store = store;
	d.tree = m->eng.tree;
	d.commit = m->eng.commit;
	d.up = m->eng.up;
	d.cfg = cfg;
	d.meta_key = keys->meta;
	d.inval = mount_inval;
	d.inval_ctx = m;
	d.wait_ms = MOUNT_POLL_WAIT_MS;
	m->poll = poll_new(&d);
	if (!m->poll || poll_start(m->poll, o->poll_s) != 0) {
		log_msg(LOG_WARNING, "other devices' changes show only after a remount: starting "
				     "the poll of the store's head failed");
		poll_free(m->poll);
		m->poll = NULL;
	}
}

/* ---- the session ---- */

static int mount_session(struct mount_state *m, const struct mount_opts *o, char *err, size_t size)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	int r = mount_fuse_args(&args, o);

	m->eng.tree->entry_timeout_s = o->entry_timeout_s; /* before any request */
	if (r == 0) {
		m->se = fuse_session_new(&args, ops_table(), sizeof(struct fuse_lowlevel_ops),
					 m->eng.tree);
		if (!m->se)
			r = errbuf_fail(err, size, -EINVAL, "bad FUSE mount options");
	}
	fuse_opt_free_args(&args);
	if (r == 0 && (r = perm_start(m->eng.tree, m->se, o->allow_other, o->fuse_opts)) != 0)
		errbuf_fail(err, size, r, "starting the permission checks failed"); /* perm.h */
	if (r == 0 && (r = pagedrop_start(m->eng.tree, m->se)) != 0)
		errbuf_fail(err, size, r, "starting the page-cache drops failed"); /* pagedrop.h */
	if (r)
		return r;
	if (fuse_set_signal_handlers(m->se) != 0)
		return errbuf_fail(err, size, -EIO, "installing signal handlers failed");
	if (fuse_session_mount(m->se, o->mountpoint) != 0)
		return errbuf_fail(err, size, -EIO,
				   "mounting on '%s' failed (see the message above; is the FUSE "
				   "module loaded and /dev/fuse usable?)",
				   o->mountpoint);
	/* Not fatal: without it every write costs a GETXATTR round trip. */
	r = fuse_io_install(m->se);
	if (r)
		log_msg(LOG_WARNING, "FUSE custom I/O: %s: writes stay slower", strerror(-r));
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
	mono_after(&latest, &t->dirty_since,
		   delay > MOUNT_COMMIT_MAX_MS ? delay : MOUNT_COMMIT_MAX_MS);
	if (mono_before(&latest, due))
		*due = latest;
}

static void *mount_committer(void *arg)
{
	struct mount_state *m = arg;
	struct tree *t = m->eng.tree;
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
		bool ok = commit_run(m->eng.commit) == 0;
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
	struct tree *t = m->eng.tree;
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

/* The desktop asks for a lock (lock_bus.c): as --idle-lock does. */
static void mount_bus_lock(void *arg, const char *why)
{
	struct mount_state *m = arg;

	(void)why;
	pthread_kill(m->main_thread, SIGTERM);
}

/* STATUS= for systemd: what waits for the store. */
static void mount_bus_tick(void *arg)
{
	struct mount_state *m = arg;
	struct upload_stats st;
	uint64_t seq = commit_seq(m->eng.commit);

	upload_stats(&st, m->eng.up);
	if (seq <= st.stored_seq)
		notify_status("mounted; the store holds every commit");
	else if (st.failing)
		notify_status("mounted; %llu commits wait for the store (last error: errno %d)",
			      (unsigned long long)(seq - st.stored_seq), -st.last_err);
	else
		notify_status("mounted; %llu commits being uploaded",
			      (unsigned long long)(seq - st.stored_seq));
}

static void mount_start_bus(struct mount_state *m, unsigned lock_on)
{
	struct lock_bus_hooks h = {.lock = mount_bus_lock, .tick = mount_bus_tick, .arg = m};
	int r = lock_bus_start(&m->bus, lock_on, &h);

	if (r)
		log_msg(LOG_WARNING, "no D-Bus thread (errno %d): no lock on suspend", -r);
}

/* After the last commit: nothing reads the tree or the keys any more, so
 * they go now, before the wait for the store (the uploader moves sealed
 * objects only); then the sleep inhibitor, so a suspend waits for no upload. */
static void mount_forget(struct mount_state *m, struct vault_keys **keys)
{
	lock_bus_stop(m->bus);
	control_stop(m->ctl);
	m->ctl = NULL;
	merge_store_off(m->eng.merge); /* no merge once the keys go */
	head_chain_off(m->eng.chain);  /* nor a head sealed again */
	commit_free(m->eng.commit);
	m->eng.commit = NULL;
	perm_stop(m->eng.tree); /* their jobs use the tree: stopped before it goes */
	pagedrop_stop(m->eng.tree);
	tree_free(m->eng.tree);
	m->eng.tree = NULL;
	vault_keys_free(*keys);
	*keys = NULL;
	lock_bus_free(m->bus);
	m->bus = NULL;
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
		atomic_store(&m->eng.tree->last_request_s, (int64_t)now.tv_sec);
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
	pthread_mutex_lock(&m->eng.tree->lock);
	m->eng.tree->stop = true;
	pthread_cond_broadcast(&m->eng.tree->dirty_cond);
	pthread_mutex_unlock(&m->eng.tree->lock);
	pthread_join(m->committer, NULL);
	m->committer_started = false;
	if (m->idler_started)
		pthread_join(m->idler, NULL);
	m->idler_started = false;
}

/* The control socket (sealfs status / sync); a mount works without it. */
static void mount_start_control(struct mount_state *m, const struct mount_opts *o)
{
	struct control_deps d = {.tree = m->eng.tree,
				 .commit = m->eng.commit,
				 .up = m->eng.up,
				 .cache = m->eng.cache,
				 .journal = m->eng.journal,
				 .lease = m->eng.lease,
				 .poll = m->poll,
				 .store_url = o->store_url,
				 .cache_dir = o->cache_dir};
	int r = control_start(&m->ctl, o->mountpoint, &d);

	if (r)
		log_msg(LOG_WARNING,
			"no control socket (errno %d): sealfs status and sync "
			"cannot reach this mount",
			-r);
}

/* ---- running ---- */

/* Workers over a local store: 4 on 2 cores (as measured), 2 per core
 * beyond, never more than over S3. */
static unsigned mount_local_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	cpus = cpus > 2 ? cpus * (MOUNT_MAX_THREADS_LOCAL / 2) : MOUNT_MAX_THREADS_LOCAL;
	return cpus < MOUNT_MAX_THREADS_REMOTE ? (unsigned)cpus : MOUNT_MAX_THREADS_REMOTE;
}

static int mount_loop(struct mount_state *m, const struct backend *store)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	bool local = store->ops->caps & BACKEND_CAP_LOCAL_FS;
	int r;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_max_threads(cfg,
				      local ? mount_local_threads() : MOUNT_MAX_THREADS_REMOTE);
	fuse_loop_cfg_set_idle_threads(cfg, MOUNT_MAX_IDLE_THREADS);
	r = fuse_session_loop_mt(m->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r < 0 ? r : 0;
}

/* The last commit, retried a few times: after it the tree is gone. */
static int mount_final_commit(struct mount_state *m)
{
	int r = 0;

	tree_drop_orphans(m->eng.tree);
	for (int i = 0; i < MOUNT_FINAL_COMMIT_TRIES; i++) {
		r = commit_run(m->eng.commit);
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
	lock_bus_free(m->bus);
	control_stop(m->ctl);
	poll_free(m->poll);	    /* after the control socket, which reads its counters */
	perm_stop(m->eng.tree);	    /* its thread may still tell the session */
	pagedrop_stop(m->eng.tree); /* so may this one's */
	if (m->se) {
		fuse_remove_signal_handlers(m->se);
		fuse_session_destroy(m->se);
	}
	engine_close(&m->eng);
}

/* --cache-size: a writer waiting for room asks for the commit now (its dirty
 * segments stay pinned until committed and uploaded) and for an upload. */
static void mount_cache_full(void *arg)
{
	struct mount_state *m = arg;

	pthread_mutex_lock(&m->eng.tree->lock);
	if (m->eng.tree->dirty) {
		m->eng.tree->dirty_since = (struct timespec){0};
		pthread_cond_broadcast(&m->eng.tree->dirty_cond);
	}
	pthread_mutex_unlock(&m->eng.tree->lock);
	upload_kick(m->eng.up);
}

static void mount_cache_limit(struct mount_state *m, const struct mount_opts *o)
{
	struct cache_limit lim = {.bytes = o->cache_size,
				  .wait_ms = o->cache_full_wait_s * 1000u,
				  .full = mount_cache_full,
				  .arg = m};

	if (o->cache_size)
		cache_set_limit(m->eng.cache, &lim);
}

/* Everything up to a mounted session; fills m. */
static int mount_prepare(struct mount_state *m, struct backend *store,
			 const struct vault_config *cfg, const struct vault_keys *keys,
			 struct mount_opts *o, char *err, size_t size)
{
	struct engine_opts eo = {.cache_dir = o->cache_dir,
				 .track_cache = o->cache_size > 0,
				 .store_wait_ms = o->fsync_store ? MOUNT_FSYNC_STORE_WAIT_MS : 0,
				 .read_only = o->read_only,
				 .device_name = o->device_name,
				 .accept_store_head = o->accept_store_head,
				 .expect = o->expect,
				 .not_before = o->not_before,
				 .force = o->force};
	char real[PATH_MAX];
	int r = mount_check_fuse(err, size);

	if (r == 0)
		r = mount_check_point(o->mountpoint, real, err, size);
	if (r == 0)
		r = engine_open(&m->eng, store, cfg, keys, &eo, err, size);
	if (r)
		return r;
	o->read_only = o->read_only || m->eng.lease_read_only; /* FUSE's ro, no poll */
	mount_cache_limit(m, o);
	return mount_session(m, o, err, size);
}

/* Gives the uploader time to empty the journal; what is left waits for the
 * next mount (nothing is lost: it is durable in the cache). */
/* Tells whoever waits for this daemon (sealfs unmount) what the store lacks. */
static void mount_report_pending(const char *path, size_t left, bool lost,
				 const struct upload_stats *st, bool lease)
{
	char line[64];
	int fd, n;

	if (!path)
		return;
	if (left == 0 && !lost) {
		unlink(path);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	/* "lost": the last commit failed, so sealfs unmount must not say 0. */
	/* "conflict": another device changed the head (upload.h), so the
	 * commits left do not go up at the next mount either. */
	if (lost)
		n = snprintf(line, sizeof(line), "lost %zu\n", left);
	else if (st->conflict && lease) /* another device holds the store's lease */
		n = snprintf(line, sizeof(line), "lease %zu %llu\n", left,
			     (unsigned long long)st->conflict_seq);
	else if (st->conflict)
		n = snprintf(line, sizeof(line), "conflict %zu %llu\n", left,
			     (unsigned long long)st->conflict_seq);
	else
		n = snprintf(line, sizeof(line), "%zu\n", left);
	if (n > 0 && write(fd, line, (size_t)n) != n)
		log_msg(LOG_WARNING, "writing the pending-commit count failed");
	close(fd);
}

static void mount_drain(struct mount_state *m, const char *pending_path, bool lost)
{
	unsigned give_up_s = (unsigned)env_count("SEALFS_DRAIN_GIVE_UP_S", MOUNT_DRAIN_GIVE_UP_S,
						 MOUNT_DRAIN_GIVE_UP_MAX_S);
	struct upload_stats st;
	size_t left;

	notify_status("unmounted; uploading what the store lacks (gives up after %u s "
		      "without progress)",
		      give_up_s);
	left = upload_drain(m->eng.up, give_up_s * 1000u);
	upload_stats(&st, m->eng.up);
	if (left && st.conflict) {
		notify_status("%zu commits left in the cache: another device changed the head",
			      left);
	} else if (left) {
		log_msg(LOG_WARNING,
			"%zu commits not yet in the store; they will be uploaded at the next mount",
			left);
		notify_status("%zu commits left in the cache for the next mount", left);
	}
	mount_report_pending(pending_path, left, lost, &st, mount_lease_stopped(&m->eng));
}

int fsmount_run(struct backend *store, const struct vault_config *cfg, struct vault_keys *keys,
		const struct mount_opts *opts, char *err, size_t err_size)
{
	struct mount_state m = {.delay_ms = opts->commit_delay_ms,
				.idle_lock_s = opts->idle_lock_s,
				.main_thread = pthread_self()};
	struct mount_opts eff = *opts; /* read-only when another device holds the lease */
	int r;

	if (m.delay_ms == 0)
		m.delay_ms = MOUNT_COMMIT_DELAY_DEFAULT_MS;
	mount_malloc_policy();
	fault_setup();			 /* test builds only; a malformed SEALFS_FAULT is logged */
	vault_keys_keep_data_keys(keys); /* the mount needs content and meta only */
	r = mount_prepare(&m, store, cfg, keys, &eff, err, err_size);
	opts = &eff;
	if (r == 0 && (r = mount_start_committer(&m)) != 0)
		errbuf_fail(err, err_size, r, "starting the committer failed");
	if (r) {
		if (m.se)
			fuse_session_unmount(m.se);
		mount_teardown(&m);
		vault_keys_free(keys);
		return r;
	}
	mount_start_poll(&m, store, cfg, keys, opts);
	mount_start_control(&m, opts);
	mount_start_bus(&m, opts->lock_on);
	m.cap = mount_cap_start(m.se, m.eng.tree);
	mount_last_change(opts->ready_fd, &m.eng.store_head);
	mount_lease_line(opts->ready_fd, &m.eng);
	mount_ready(opts->ready_fd);
	notify_ready();
	log_msg(LOG_INFO, "mounted");
	fault_arm();
	r = mount_loop(&m, store);
	if (r)
		log_msg(LOG_ERR, "the FUSE loop failed (errno %d)", -r);
	poll_stop(m.poll); /* before the session and the committer go; freed last */
	mount_cap_stop(m.cap);
	notify_stopping();
	fuse_session_unmount(m.se);
	mount_stop_committer(&m);
	r = mount_final_commit(&m);
	if (r)
		errbuf_fail(err, err_size, r, "the last commit failed");
	mount_forget(&m, &keys);
	mount_drain(&m, opts->pending_path, r != 0);
	mount_teardown(&m);
	return r;
}
