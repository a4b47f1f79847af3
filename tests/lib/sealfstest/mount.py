"""sealfstest.mount - shared helpers for every mount test: a throw-away vault
(store, cache, mountpoint, passphrase file) driven through the real `sealfs`
binary, tree snapshots for bit-for-bit comparisons, store fingerprints for
"changed nothing" checks, and the leak scan (no test name or marker may appear
in any byte of the store or the cache), and probes for the system features
some tests need (mounting, a private mount namespace, another user): a test
checks before it changes anything and skips with the probe's reason.

Never leaves a mount behind: Vault.cleanup() lazily unmounts whatever is still
mounted under its directory, and every test calls it in a finally/tearDown.
Standard library only; run with Debian's /usr/bin/python3.
"""

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

SEALFS = os.environ.get("SEALFS") or shutil.which("sealfs") or "sealfs"
# Test-only cost (below the floor init enforces: --insecure-test-kdf, docs/CLI.md).
FAST_KDF = ["--insecure-test-kdf", "--kdf-memlimit", "8", "--kdf-opslimit", "1"]
BASE = os.environ.get("SEALFS_TEST_TMP") or tempfile.gettempdir()
CMD_TIMEOUT = 300  # seconds for one sealfs command (unmount commits everything)

# Exit codes (fs/cli/exitcodes.h, docs/CLI.md).
EXIT_OK = 0
EXIT_USAGE = 1
EXIT_OTHER = 2
EXIT_WRONG_KEY = 10
EXIT_NOT_VAULT = 11
EXIT_NEWER_FORMAT = 12
EXIT_STORE_MISSING = 13
EXIT_CACHE = 14
EXIT_MOUNTPOINT = 15
EXIT_NO_FUSE = 16
EXIT_STORE_IO = 17
EXIT_STORE_IN_USE = 18


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(args, check=True, timeout=CMD_TIMEOUT, **kw):
    """Runs a command, capturing text output; fails the test on a non-zero exit when check."""
    if "input" not in kw and "stdin" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%r exited %d\nstdout: %s\nstderr: %s"
                             % (args, p.returncode, p.stdout, p.stderr))
    return p


def sealfs(*args, check=True, timeout=CMD_TIMEOUT):
    return run([SEALFS] + [str(a) for a in args], check=check, timeout=timeout)


def mount_type(path):
    """The file system type mounted at path (topmost), or None."""
    real = os.path.realpath(path)
    found = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            point = parts[4].encode().decode("unicode_escape")
            if point == real:
                found = parts[parts.index("-") + 1]
    return found


def mounts_under(root):
    real = os.path.realpath(root)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == real or point.startswith(real + "/"):
                out.append(point)
    return out


def lazy_unmount_all(root):
    for point in reversed(mounts_under(root)):
        subprocess.run(["fusermount3", "-u", "-z", point], capture_output=True, timeout=60)
        if point in mounts_under(root):
            subprocess.run(["umount", "-l", point], capture_output=True, timeout=60)


# ---- system features some tests need: each probe returns None when the
# feature works here, else the reason to skip (cached: probed once per process)

_probed = {}


def _probe(key, fn):
    if key not in _probed:
        _probed[key] = fn()
    return _probed[key]


def _probe_run(args, what):
    try:
        p = run(args, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s: %s" % (what, e)
    if p.returncode != 0:
        return "%s: %s" % (what, (p.stderr.strip() or "exit %d" % p.returncode))
    return None


def missing_fuse():
    """Whether /dev/fuse exists and opens (it does for anyone where FUSE is
    usable: the kernel module is loaded and the node is 0666)."""
    def probe():
        try:
            fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            return "no usable /dev/fuse (modprobe fuse?): %s" % e.strerror
        try:
            if not stat.S_ISCHR(os.fstat(fd).st_mode):
                return "/dev/fuse is not a device"
        finally:
            os.close(fd)
        return None
    return _probe("fuse", probe)


def missing_mounts():
    """Whether this process may mount (a tmpfs, bind mounts, remounts)."""
    def probe():
        if os.geteuid() != 0:
            return "needs root to mount"
        os.makedirs(BASE, exist_ok=True)
        d = tempfile.mkdtemp(prefix="sealfs-probe-", dir=BASE)
        try:
            why = _probe_run(["mount", "-t", "tmpfs", "-o", "size=64k", "none", d],
                             "cannot mount a tmpfs")
            if why is None:
                why = _probe_run(["umount", d], "cannot unmount a tmpfs")
            return why
        finally:
            if mount_type(d):
                subprocess.run(["umount", "-l", d], capture_output=True, timeout=60)
            os.rmdir(d)
    return _probe("mounts", probe)


# In a new mount namespace, makes the mounts of /dev its own before anything
# is mounted there: on / when / is a mount point (a host, a container), else
# on /dev alone (a chroot, whose / is no mount point: `unshare --propagation
# private` fails there with EINVAL).
_PRIVATE_DEV = "{ mount --make-rprivate / 2>/dev/null || mount --make-rprivate /dev; }"


def missing_private_dev():
    """Whether with_dev_fuse() can work: root, unshare, a /dev/fuse to cover and
    a new mount namespace whose /dev mounts stay there."""
    def probe():
        if os.geteuid() != 0:
            return "needs root for a private mount namespace"
        if not shutil.which("unshare"):
            return "needs unshare (util-linux)"
        if not os.path.exists("/dev/fuse"):
            return "no /dev/fuse"
        return _probe_run(["unshare", "-m", "--propagation", "unchanged", "sh", "-c",
                           _PRIVATE_DEV], "no private mount namespace for /dev")
    return _probe("private_dev", probe)


def with_dev_fuse(node, args):
    """argv that runs args in a new mount namespace with node bind-mounted on
    /dev/fuse, a mount the host never sees. Check missing_private_dev() first."""
    script = _PRIVATE_DEV + ' && mount --bind "$1" /dev/fuse && shift && exec "$@"'
    return ["unshare", "-m", "--propagation", "unchanged", "sh", "-c", script, "sh",
            node] + list(args)


def private_fuse_node(directory):
    """Makes directory/fuse-dev, a 0666 copy of the /dev/fuse device node (for
    with_dev_fuse: a user other than root may open it, the host's node stays
    as it is) and returns its path; skips the test (unittest.SkipTest) when
    the node cannot be made (a file system mounted nodev, no CAP_MKNOD)."""
    node = os.path.join(directory, "fuse-dev")
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.stat("/dev/fuse").st_rdev)
        os.chmod(node, 0o666)  # mknod's mode is masked by the umask
    except OSError as e:
        raise unittest.SkipTest("cannot make a private fuse device node: %s" % e)
    return node


def missing_user_switch(uid, gid):
    """Whether programs can run as uid:gid here (setpriv, the ids mapped)."""
    def probe():
        if os.geteuid() != 0:
            return "needs root to run programs as %d:%d" % (uid, gid)
        if not shutil.which("setpriv"):
            return "needs setpriv (util-linux)"
        return _probe_run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
                           "--clear-groups", "true"], "cannot run as %d:%d" % (uid, gid))
    return _probe(("user", uid, gid), probe)


def pid_file(mountpoint):
    """Where sealfs keeps the daemon's pid for mountpoint (fs/util/runtime.h)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and xdg.startswith("/"):
        d = os.path.join(xdg, "sealfs")
    elif os.geteuid() == 0:
        d = "/run/sealfs"
    else:
        d = "/tmp/sealfs-%d" % os.geteuid()
    h = hashlib.blake2b(os.path.realpath(mountpoint).encode(), digest_size=32).hexdigest()
    return os.path.join(d, h + ".pid")


def daemon_pid(mountpoint):
    """The pid in the pid file ("PID START\\n": its start time follows)."""
    with open(pid_file(mountpoint)) as f:
        return int(f.read().split()[0])


def _live_tasks(pid):
    """The threads of pid that are not zombies, as (tid, the text of their
    /proc stat file); None when the process is gone."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except (FileNotFoundError, ProcessLookupError):
        return None
    live = []
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
            live.append((tid, stat))
    return live


def process_alive(pid):
    """Whether any thread of pid still runs. A zombie waiting for its reaper
    counts as gone, but only once every thread has gone: a SIGKILLed
    leader turns zombie while its other threads are still exiting, and
    those still hold the process's files (the cache's lock). The leader's
    thread count says so (a listing of /proc/PID/task taken while threads
    exit can miss one that still runs: seen once, "survived SIGKILL" right
    after a check that had found none)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
    except (FileNotFoundError, ProcessLookupError):
        return False
    if status.get("State", "").split()[:1] not in (["Z"], ["X"]):
        return True
    if int(status.get("Threads", "1").strip() or "1") > 1:
        return True  # the leader is a zombie, others are still exiting
    return bool(_live_tasks(pid))


def stop_daemons(pids):
    """SIGTERMs each daemon still running (it unmounts, commits and exits),
    waits up to 10 s for it, then SIGKILLs it: for mounts made in a
    namespace of their own, out of Vault.cleanup()'s reach."""
    for pid in pids:
        if process_alive(pid):
            os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not process_alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)


def call_in_child_as(uid, gid, groups, fn, umask=None):
    """fn() in a forked child with the given real, effective and saved ids
    and supplementary groups (and umask); returns what it returned, which
    must be a literal (passed back as its repr), or ("err", "child died")."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(rfd)
            os.setgroups(groups)
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            if umask is not None:
                os.umask(umask)
            os.write(wfd, repr(fn()).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    out = b""
    while True:
        b = os.read(rfd, 4096)
        if not b:
            break
        out += b
    os.close(rfd)
    os.waitpid(pid, 0)
    return eval(out.decode(), {}) if out else ("err", "child died")


def journal_records(cache):
    """The journal's records in the cache (docs/FORMAT.md, "Cache"), oldest
    first, as (seq, path): slot files that start with the record magic, and
    records under the older <seq>.rec names."""
    jdir = os.path.join(cache, "journal")
    recs = []
    try:
        names = os.listdir(jdir)
    except FileNotFoundError:
        return recs
    for name in names:
        path = os.path.join(jdir, name)
        if not (name.startswith("slot-") or name.endswith(".rec")):
            continue
        try:
            with open(path, "rb") as f:
                h = f.read(20)
        except FileNotFoundError:
            continue
        if len(h) == 20 and h[:8] == b"sealfsJ1":
            recs.append((int.from_bytes(h[12:20], "little"), path))
    return sorted(recs)


def wait_uploaded(cache, timeout=30):
    """Waits until the cache's journal holds no record (the uploader stored
    every commit); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not journal_records(cache):
            return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def environ(**values):
    """Sets environment variables (e.g. a daemon's knob for the mounts made
    inside) and restores the old values after."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def thread_states(pid):
    """Each thread of pid that is not a zombie: its name, state, wchan and
    kernel stack (what a thread that outlives SIGKILL waits for)."""
    out = []
    live = _live_tasks(pid)
    if live is None:
        return "gone"
    for tid, stat in live:
        d = "/proc/%d/task/%s/" % (pid, tid)
        state = stat.rsplit(")", 1)[1].split()[0]
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        wchan = stack = "?"
        try:
            with open(d + "wchan") as f:
                wchan = f.read()
            with open(d + "stack") as f:
                stack = " <- ".join(l.split()[-1] for l in f.read().splitlines()[:8])
        except OSError:
            pass
        out.append("%s %s %s wchan=%s [%s]" % (tid, name, state, wchan, stack))
    return "; ".join(out) or "only zombies"


def kill_daemon(v, clear=True):
    """SIGKILLs v's sealfs daemon and waits for it to die; with clear, then
    clears the dead mount (lazy unmount) so the mountpoint can be used again.
    Returns the pid."""
    pid = daemon_pid(v.mnt)
    os.kill(pid, signal.SIGKILL)
    # A thread inside a flush (fdatasync, or the syncfs of a commit of many
    # segments, which flushes every writer's dirty data on that file system)
    # dies only when the flush returns: on a busy disk, seconds.
    for _ in range(1200):
        if not process_alive(pid):
            break
        time.sleep(0.05)
    assert not process_alive(pid), "daemon %d survived SIGKILL: %s" % (pid, thread_states(pid))
    if clear:
        lazy_unmount_all(v.mnt)
        assert not v.is_mounted(), "dead mount not cleared"
    return pid


def tree_bytes(root):
    """Bytes of every regular file under root (symlinks not followed)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for n in filenames:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM):
            return {}
        raise
    return {n: os.getxattr(path, n, follow_symlinks=False) for n in sorted(names)}


def snapshot(root, with_xattrs=True):
    """Every entry under root: type, mode, owner, size, mtime (ns), content hash or
    link target, user xattrs. atime and ctime are left out: reading changes them."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            entry = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                     st.st_mtime_ns]
            if stat.S_ISREG(st.st_mode):
                entry += [st.st_size, file_digest(p)]
            elif stat.S_ISLNK(st.st_mode):
                entry += [os.readlink(p)]
            if with_xattrs:
                entry += [xattrs(p)]
            snap[rel] = entry
    return snap


def fingerprint(root):
    """Names, sizes and hashes of every file under root (for "changed nothing")."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root) + "/"] = None
        for name in filenames:
            p = os.path.join(dirpath, name)
            out[os.path.relpath(p, root)] = file_digest(p)
    return out


def scan_for(dirs, needles):
    """Returns (needle, file) pairs for every needle found in any byte or in
    the name of any file under dirs. Needles are bytes or str (UTF-8), one
    line each. The bytes are searched with `grep -r -a -F` (Aho-Corasick, so
    thousands of needles cost one pass); the names in one pass too: thousands
    of needles times thousands of object files is too slow one by one."""
    needles = sorted({n.encode() if isinstance(n, str) else n for n in needles if n})
    dirs = [d for d in dirs if os.path.isdir(d)]
    if not needles or not dirs:
        return []
    hits = set()
    with tempfile.NamedTemporaryFile(prefix="needles-") as pats:
        pats.write(b"\n".join(needles) + b"\n")
        pats.flush()
        p = subprocess.run(["grep", "-r", "-a", "-F", "-o", "-Z", "-f", pats.name, "--"] + dirs,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600,
                           env=dict(os.environ, LC_ALL="C"))  # bytes, not characters
    if p.returncode > 1:
        raise AssertionError("grep failed: %s" % p.stderr.decode(errors="replace"))
    for line in p.stdout.split(b"\n"):
        if b"\0" in line:
            path, match = line.split(b"\0", 1)
            hits.add((match, path.decode(errors="replace")))
    paths = []
    for d in dirs:
        for dirpath, dirnames, filenames in os.walk(d):
            paths += [os.path.join(dirpath, n) for n in dirnames + filenames]
    names = b"\0".join(os.path.basename(x).encode() for x in paths)
    for n in needles:
        if n in names:
            hits.update((n, x) for x in paths if n in os.path.basename(x).encode())
    return sorted(hits)


MIN_NEEDLE = 6  # bytes


def own_words(root):
    """File names under root and the words of its sealfs.json: sealfs's own."""
    words = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            words.add(n.encode())
    cfg = os.path.join(root, "sealfs.json")
    if os.path.exists(cfg):
        with open(cfg, "rb") as f:
            words.update(re.findall(rb"[A-Za-z0-9_.-]+", f.read()))
    return words


_live_roots = set()  # roots of Vaults not yet cleaned up


def _on_sigterm(signum, frame):
    """meson's timeout sends SIGTERM: unmount what this process mounted
    before dying, since no finally block will run."""
    for root in list(_live_roots):
        lazy_unmount_all(root)
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, _on_sigterm)


class Vault:
    """A vault in a fresh temporary directory: root/store, root/mnt, root/cache."""

    def __init__(self, tag, cipher=None):
        os.makedirs(BASE, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="sealfs-%s-" % tag, dir=BASE)
        _live_roots.add(self.root)
        self.store = os.path.join(self.root, "store")
        self.mnt = os.path.join(self.root, "mnt")
        self.cache = os.path.join(self.root, "cache")
        self.passfile = os.path.join(self.root, "pass")
        self.passphrase = "pw-" + secrets.token_hex(12)
        self.markers = []
        self.names = set()
        self.recovery_key = None
        self.cipher = cipher
        os.mkdir(self.mnt)
        with open(self.passfile, "w") as f:
            f.write(self.passphrase + "\n")

    def marker(self, what="m"):
        """A unique string that must never reach the store or the cache in clear."""
        m = "%s-%s" % (what, secrets.token_hex(8))
        self.markers.append(m)
        return m

    def init(self):
        args = ["init", self.store, "--passphrase-file", self.passfile] + FAST_KDF
        if self.cipher:
            args += ["--cipher", self.cipher]
        p = sealfs(*args)
        for line in p.stdout.splitlines():
            s = line.strip()
            if s.count("-") >= 5 and " " not in s:
                self.recovery_key = s
        assert self.recovery_key, "init printed no recovery key:\n" + p.stdout
        return p

    def mount(self, *extra, cache=None, check=True):
        args = ["mount", self.store, self.mnt, "--cache", cache or self.cache,
                "--passphrase-file", self.passfile] + list(extra)
        p = sealfs(*args, check=check)
        if check:
            assert mount_type(self.mnt) == "fuse.sealfs", "not mounted after sealfs mount"
        return p

    def unmount(self, check=True):
        p = sealfs("unmount", self.mnt, check=check)
        if check:
            assert p.stdout == "" and p.stderr == "", "unmount printed: %r %r" % (p.stdout,
                                                                                  p.stderr)
            assert mount_type(self.mnt) is None, "still mounted after sealfs unmount"
        return p

    def remount(self, cache=None):
        self.unmount()
        self.mount(cache=cache)

    def path(self, *parts):
        """A path on the mount; its name parts join the leak scan's needles."""
        self.note_names(parts)
        return os.path.join(self.mnt, *parts)

    def note_names(self, names):
        """Names used in the vault that the store and cache must never show.
        Names shorter than MIN_NEEDLE bytes are left out: random ciphertext
        holds short strings by chance."""
        for n in names:
            b = n.encode() if isinstance(n, str) else n
            if len(b) >= MIN_NEEDLE and b not in self.names:
                self.names.add(b)

    def ensure_mounted(self, *extra):
        """Mounts unless mounted; clears a dead mount (daemon gone) first."""
        if self.is_mounted():
            try:
                os.statvfs(self.mnt)
                return
            except OSError:
                lazy_unmount_all(self.mnt)
        self.mount(*extra)

    def is_mounted(self):
        return mount_type(self.mnt) is not None

    def leaks(self, extra=()):
        """(needle, file) for every test name, marker or the passphrase found
        in any byte or file name of the store or the cache. Words of the
        store's own layout and config (e.g. "passphrase") are not needles."""
        layout = own_words(self.store) | own_words(self.cache)
        needles = [n for n in sorted(self.names) if not any(n in w for w in layout)]
        return scan_for([self.store, self.cache],
                        self.markers + [self.passphrase] + needles + list(extra))

    def cleanup(self):
        lazy_unmount_all(self.root)
        try:
            pid = daemon_pid(self.mnt)
        except (OSError, ValueError):
            pid = None
        for _ in range(100):  # the daemon exits once the lazy unmount lets go
            if not pid or not process_alive(pid):
                break
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)
        _live_roots.discard(self.root)


class VaultTestCase(unittest.TestCase):
    """One vault per test class, mounted for the whole class; tearDownClass
    unmounts, runs the leak scan and removes everything."""

    tag = "t"
    mount_args = ()
    keep_mounted = True  # each test starts mounted, even after another one failed

    def setUp(self):
        if self.keep_mounted:
            self.v.ensure_mounted(*self.mount_args)

    @classmethod
    def setUpClass(cls):
        cls.v = Vault(cls.tag)
        try:
            cls.v.init()
            cls.v.mount(*cls.mount_args)
        except BaseException:
            cls.v.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.v.is_mounted():
                cls.v.unmount()
            hits = cls.v.leaks()
            if hits:
                raise AssertionError("plaintext leaked into store/cache: %r" % hits[:5])
        finally:
            cls.v.cleanup()


def main():
    """Runs the file's tests; the whole file is skipped (exit 77) without FUSE."""
    why = missing_fuse()
    if why:
        log("SKIP: " + why)
        sys.exit(77)
    unittest.main(verbosity=2)
