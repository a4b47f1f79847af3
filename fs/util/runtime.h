/* runtime.h - where a running mount leaves its pid file, so `sealfs unmount`
 * can wait for the daemon to finish its last commit. The directory is
 * $XDG_RUNTIME_DIR/sealfs, else /run/sealfs for root, else /tmp/sealfs-<uid>;
 * it is created mode 0700 and must belong to the caller. The file is named by
 * the hex BLAKE2b-256 of the mountpoint's real path and holds the daemon's
 * pid and its start time (field 22 of /proc/PID/stat) as decimal text, a
 * space between, and a newline; a daemon older than the start time wrote
 * the pid alone, and such a file is still read (its process then counts as
 * the daemon only while it is named sealfs). Beside it the daemon listens on its
 * control socket (same name, ".sock"; fs/daemon/control.h). Also the one
 * reader of /proc/self/mountinfo and the one way to find a mount's daemon. */
#ifndef SEALFS_RUNTIME_H
#define SEALFS_RUNTIME_H

#include <stddef.h>
#include <sys/types.h>

#define RUNTIME_PATH_BYTES 4096

/* Writes the pid file path for the mountpoint real path mnt into out,
 * creating the directory when missing. Returns 0, -ENAMETOOLONG, or -EPERM
 * when the directory exists but is not a private directory of the caller
 * (other errnos from mkdir/lstat). */
int runtime_pid_path(char *out, size_t size, const char *mnt);

/* The path beside pid_path where the daemon leaves the number of commits the
 * store did not take before it exited (see mount_opts.pending_path). */
int runtime_pending_path(char *out, size_t size, const char *pid_path);

/* The control socket of the daemon whose pid file is pid_path: the same
 * name with the suffix ".sock" instead of ".pid" (fs/daemon/control.h). 0,
 * -EINVAL (pid_path does not end in ".pid"), -ENAMETOOLONG. */
int runtime_sock_path(char *out, size_t size, const char *pid_path);

/* Writes pid and its start time (read from /proc) to path atomically
 * (temporary file + rename). 0, -ESRCH (pid does not run), or -errno. */
int runtime_pid_write(const char *path, pid_t pid);

/* Reads the pid stored at path. 0, -ENOENT, -EINVAL (not a pid file),
 * -errno. */
int runtime_pid_read(const char *path, pid_t *out);

/* Removes the pid file at path if it still holds pid (another mount may
 * have replaced it meanwhile). */
void runtime_pid_remove(const char *path, pid_t pid);

/* One line of /proc/self/mountinfo; borrowed for the callback's call only. */
struct runtime_mount {
	const char *point; /* the mount point, unescaped */
	const char *opts;  /* its per-mount options, e.g. "rw,nosuid,nodev" */
	const char *type;  /* the file system type, e.g. "fuse.sealfs" */
};

/* Calls fn for each mount of /proc/self/mountinfo in order (a mount stacked
 * on another comes after it) until fn returns non-zero. 0, what fn
 * returned, or a negative errno. */
int runtime_mounts(int (*fn)(void *arg, const struct runtime_mount *m), void *arg);

/* Looks up the real path mnt in /proc/self/mountinfo. Returns 1 when it is
 * a mount point (type gets the file system type of the topmost mount, e.g.
 * "fuse.sealfs"), 0 when not, or a negative errno. */
int runtime_mount_type(const char *mnt, char *type, size_t type_size);

/* The real path of arg, which may be a mount point whose root does not
 * answer (a dead FUSE mount gives ENOTCONN): then the parent is resolved and
 * the last part appended. out holds PATH_MAX bytes. 0 or -errno. */
int runtime_realpath(char *out, const char *arg);

/* The daemon serving the mount point mnt (a real path): a pidfd (close
 * it), its pid in *pid (pid may be NULL), and its pid file's path in
 * pid_path (size bytes; "" when there is no runtime directory). -1 when
 * there is none: no pid file, a stale one, or a pid now used by another
 * process (its start time differs from the file's; for an older daemon's
 * file without one, a process not named sealfs). Never blocks. */
int runtime_daemon_find(const char *mnt, char *pid_path, size_t size, pid_t *pid);

#endif
