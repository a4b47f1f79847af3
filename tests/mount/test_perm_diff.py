"""The daemon's own permission checks (issue #18, fs/daemon/perm.c): a mount
WITHOUT allow_other has no default_permissions, so the kernel checks nothing
and the daemon must refuse what the kernel would. The mounting user's own
modes must still bind him. Differential: the vault is mounted AS nobody (in a
private mount namespace over a private 0666 copy of the fuse node, as
tests/security/test_local.py's DaemonHygiene does), and one fixed sequence of
calls runs as nobody both in a host directory (ext4) and on the mount; every
result (return value or errno) must agree, except the differences listed in
EXPECTED with their reason (and each listed one must still happen).

Files of other owners (a sticky directory's, another group's) are made before,
by root: on the host directly, in the vault through a root mount that is then
unmounted and given to nobody."""

import ctypes
import errno
import os
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

NOBODY = 65534
THEM = 4321  # another user and group, whose files nobody meets
C, WO, RW, RO = os.O_CREAT, os.O_WRONLY, os.O_RDWR, os.O_RDONLY
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
libc = ctypes.CDLL(None, use_errno=True)


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def utimens(p, a, m):
    ts = None if a is None else (Timespec * 2)(
        *[Timespec(0, t) if isinstance(t, int) else Timespec(*t) for t in (a, m)])
    if libc.utimensat(-100, os.fsencode(p), ts, 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def rename2(a, b, flags):
    if libc.renameat2(-100, os.fsencode(a), -100, os.fsencode(b), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def _open(p, flags, mode=0o644):
    os.close(os.open(p, flags, mode))


def _fsync_ro(p):
    fd = os.open(p, RO)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _in_cwd(p, dot=False):
    """In directory p (the working directory): a name cached, the directory
    made 0000, then that name, the listing and a missing name again (errno
    names); with dot, stat(".") instead."""
    os.chdir(p)
    os.stat("k")
    os.chmod(p, 0)
    out = []
    tries = [lambda: os.stat(".")] if dot else [
        lambda: os.stat("k"), lambda: os.listdir("."), lambda: os.stat("none")]
    for f in tries:
        try:
            f()
            out.append("ok")
        except OSError as e:
            out.append(errno.errorcode.get(e.errno, e.errno))
    os.chmod(p, 0o755)  # by its full path: "." itself needs X
    return out


def _script(p, mode):
    fd = os.open(p, C | WO, 0o700)
    os.write(fd, b"#!/bin/sh\nexit 7\n")
    os.close(fd)
    os.chmod(p, mode)


def _exec(p):
    """execve(p) in a child: its exit status, or the errno execve failed with."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        fd = os.open("/dev/null", RW)
        os.dup2(fd, 2)
        try:
            os.execv(p, [p])
        except OSError as e:
            os.write(wfd, str(e.errno).encode())
        os._exit(99)
    os.close(wfd)
    err = os.read(rfd, 64)
    os.close(rfd)
    _, status = os.waitpid(pid, 0)
    if err:
        raise OSError(int(err), os.strerror(int(err)))
    return os.waitstatus_to_exitcode(status)


OPS = {
    "mkdir": (os.mkdir, (0,)), "rmdir": (os.rmdir, (0,)), "unlink": (os.unlink, (0,)),
    "link": (os.link, (0, 1)), "symlink": (os.symlink, (1,)), "rename": (os.rename, (0, 1)),
    "rename2": (rename2, (0, 1)),
    "chmod": (os.chmod, (0,)), "chown": (os.chown, (0,)), "truncate": (os.truncate, (0,)),
    "open": (_open, (0,)), "mkfifo": (os.mkfifo, (0,)), "utimens": (utimens, (0,)),
    "stat": (lambda p: stat.S_IFMT(os.stat(p).st_mode), (0,)),
    "mode": (lambda p: oct(stat.S_IMODE(os.stat(p).st_mode)), (0,)),
    "listdir": (lambda p: sorted(os.listdir(p)), (0,)),
    "access": (os.access, (0,)), "chdir": (os.chdir, (0,)),
    "script": (_script, (0,)), "exec": (_exec, (0,)), "fsync": (_fsync_ro, (0,)),
    "incwd": (_in_cwd, (0,)), "dotstat": (lambda p: _in_cwd(p, True), (0,)),
    "setxattr": (os.setxattr, (0,)), "getxattr": (os.getxattr, (0,)),
    "listxattr": (lambda p: sorted(os.listxattr(p)), (0,)),
}


def steps():
    return [
        ("mkdir", "w", 0o755),
        # the owner's own read-only file
        ("open", "w/f", C | WO, 0o644), ("setxattr", "w/f", "user.a", b"1"),
        ("chmod", "w/f", 0o444), ("open", "w/f", WO), ("open", "w/f", RW),
        ("open", "w/f", RO | os.O_TRUNC), ("truncate", "w/f", 0), ("open", "w/f", RO),
        ("setxattr", "w/f", "user.b", b"2"), ("getxattr", "w/f", "user.a"),
        ("chmod", "w/f", 0o200), ("open", "w/f", RO), ("open", "w/f", WO),
        ("getxattr", "w/f", "user.a"), ("listxattr", "w/f"), ("chmod", "w/f", 0o644),
        # a read-only directory
        ("mkdir", "w/d", 0o755), ("open", "w/d/a", C | WO, 0o644), ("chmod", "w/d", 0o555),
        ("open", "w/d/n", C | WO, 0o644), ("mkdir", "w/d/m", 0o755), ("mkfifo", "w/d/p", 0o644),
        ("symlink", "x", "w/d/s"), ("link", "w/d/a", "w/d/h"), ("unlink", "w/d/a"),
        ("rename", "w/d/a", "w/a2"), ("rename", "w/f", "w/d/f2"), ("stat", "w/d/a"),
        ("chmod", "w/d", 0o755), ("rename", "w/d/a", "w/a2"),
        # a directory moving to another parent needs W on itself
        ("mkdir", "w/m", 0o555), ("mkdir", "w/t", 0o755), ("rename", "w/m", "w/t/m"),
        ("rename", "w/m", "w/m2"), ("chmod", "w/m2", 0o755), ("rename", "w/m2", "w/t/m"),
        # renameat2: an exchange moves both ways; EEXIST and ENOENT before EACCES
        ("mkdir", "w/x1", 0o755), ("mkdir", "w/x1/da", 0o755), ("mkdir", "w/x2", 0o755),
        ("mkdir", "w/x2/db", 0o555), ("rename2", "w/x1/da", "w/x2/db", RENAME_EXCHANGE),
        ("chmod", "w/x2/db", 0o755), ("chmod", "w/x1/da", 0o555),
        ("rename2", "w/x1/da", "w/x2/db", RENAME_EXCHANGE), ("chmod", "w/x1/da", 0o755),
        ("rename2", "w/x1/da", "w/x2/db", RENAME_EXCHANGE), ("stat", "w/x1/db"),
        ("open", "w/x1/f", C | WO, 0o644), ("chmod", "w/x1", 0o555),
        ("rename2", "w/x1/f", "w/x1/db", RENAME_NOREPLACE),
        ("rename2", "w/x1/f", "w/x1/none", RENAME_EXCHANGE),
        ("rename2", "w/x1/f", "w/x1/none", RENAME_NOREPLACE), ("chmod", "w/x1", 0o755),
        # no search: names cached just before, positive and negative
        ("mkdir", "w/e", 0o755), ("open", "w/e/k", C | WO, 0o644), ("stat", "w/e/k"),
        ("stat", "w/e/none"), ("listdir", "w/e"), ("chmod", "w/e", 0o000), ("stat", "w/e/k"),
        ("stat", "w/e/none"), ("listdir", "w/e"), ("access", "w/e", os.X_OK),
        ("chdir", "w/e"), ("open", "w/e/k", RO), ("chmod", "w/e", 0o600), ("listdir", "w/e"),
        ("stat", "w/e/k"), ("chdir", "w/e"), ("chmod", "w/e", 0o100), ("stat", "w/e/k"),
        ("listdir", "w/e"), ("chdir", "w/e"), ("chmod", "w/e", 0o755), ("stat", "w/e/k"),
        # the working directory loses X under a name cached in it
        ("mkdir", "w/c", 0o755), ("open", "w/c/k", C | WO, 0o644), ("incwd", "w/c"),
        ("dotstat", "w/c"),
        # access(2)
        ("open", "w/p7", C | WO, 0o700), ("open", "w/p4", C | WO, 0o400),
        ("open", "w/p1", C | WO, 0o100),
    ] + [("access", p, m) for p in ("w/p7", "w/p4", "w/p1")
         for m in (os.F_OK, os.R_OK, os.W_OK, os.X_OK, os.R_OK | os.W_OK)] + [
        # execve
        ("script", "w/s644", 0o644), ("exec", "w/s644"), ("script", "w/s100", 0o100),
        ("exec", "w/s100"), ("script", "w/s755", 0o755), ("exec", "w/s755"),
        # sticky directories, the own and root's
        ("mkdir", "w/st", 0o1777), ("open", "w/st/o", C | WO, 0o644), ("unlink", "w/st/o"),
        ("unlink", "pre/sticky/theirs"), ("rename", "pre/sticky/theirs", "w/z"),
        ("rename", "w/a2", "pre/sticky/theirs"), ("open", "pre/sticky/mine", C | WO, 0o644),
        ("rename", "pre/sticky/mine", "pre/sticky/mine2"), ("unlink", "pre/sticky/mine2"),
        # others' files and directories
        ("open", "pre/theirs", RO), ("open", "pre/readable", RO), ("open", "pre/readable", WO),
        ("getxattr", "pre/theirs", "user.a"), ("setxattr", "pre/readable", "user.a", b"1"),
        ("chmod", "pre/readable", 0o666), ("chown", "w/p7", 0, -1), ("chown", "w/p7", -1, THEM),
        ("chown", "w/p7", NOBODY, -1), ("chown", "w/p7", -1, NOBODY),
        ("link", "pre/theirs", "w/l1"), ("link", "pre/shared", "w/l2"),
        ("utimens", "pre/shared", None, None), ("utimens", "pre/readable", None, None),
        ("utimens", "pre/readable", UTIME_NOW, UTIME_NOW),
        ("utimens", "pre/shared", (5, 0), (5, 0)),
        ("truncate", "pre/shared", 1), ("truncate", "pre/readable", 1),
        # another's read-only file renamed and removed in a directory one may
        # write: the kernel's own ctime update of it must not fail
        ("rename", "pre/readable", "pre/readable2"), ("fsync", "pre/readable2"),
        ("rename", "pre/readable2", "pre/readable"), ("open", "pre/gone", C | WO, 0o644),
        ("unlink", "pre/theirs2"), ("fsync", "pre/readable"),
        ("unlink", "pre/rodir/x"), ("open", "pre/rodir/y", C | WO, 0o644),
        ("rename", "w/p7", "pre/rodir/x"), ("mkdir", "pre/rodir/z", 0o755),
        # supplementary groups (read by the daemon only when they decide)
        ("open", "pre/grpread", RO), ("G", "open", "pre/grpread", RO),
        ("G", "open", "pre/grpread", WO), ("G", "chown", "w/p1", -1, THEM),
        ("G", "chmod", "w/p1", 0o2700), ("mode", "w/p1"), ("chmod", "w/p1", 0o2700),
        ("mode", "w/p1"),
        # set-group-ID when not in the group: dropped; in it: kept
        ("chmod", "pre/grp", 0o2755), ("mode", "pre/grp"), ("chmod", "w/p4", 0o2755),
        ("mode", "w/p4"),
        # utimensat of the own file, even read-only
        ("chmod", "w/p4", 0o400), ("utimens", "w/p4", (5, 0), (6, 0)),
        ("utimens", "w/p4", None, None), ("utimens", "w/p4", UTIME_NOW, UTIME_OMIT),
    ]


# Differences that are not bugs: (step, reason).
EXPECTED = [
    ("('dotstat', 'w/c')", "a walk that ends in '.' or '..' (or runs through names the "
     "kernel has cached) reaches no daemon: without default_permissions the kernel asks "
     "the file system nothing for X on such a directory, so stat('.') in a working "
     "directory that lost X succeeds (docs/POSIX.md)"),
    ("('utimens', 'pre/shared', (5, 0), (5, 0))", "explicit times on another's file that "
     "the caller may write: the kernel says EPERM (only the owner sets explicit times), the "
     "daemon allows it, because under FUSE's writeback cache the kernel sends utimensat's "
     "UTIME_NOW as explicit times too, and W is what UTIME_NOW needs (docs/POSIX.md)"),
]


def call(root, op):
    fn, paths = OPS[op[0]]
    args = [os.path.join(root, a) if i in paths else a for i, a in enumerate(op[1:])]
    try:
        v = fn(*args)
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))
    return ("ok", v)


def call_as_nobody(root, op):
    """call() in a child with nobody's real, effective and saved ids, no
    supplementary groups; a step ("G", op...) runs with the group THEM."""
    groups = []
    if op[0] == "G":
        groups, op = [THEM], op[1:]
    return st.call_in_child_as(NOBODY, NOBODY, groups, lambda: call(root, op), umask=0o022)


def inner(root):
    """Runs every step as nobody under root (in the daemon's namespace);
    prints the results, one repr per line."""
    for op in steps():
        print(repr(call_as_nobody(root, op)), flush=True)


def prepopulate(root):
    """The files of other owners, made by root under root/pre."""
    pre = os.path.join(root, "pre")
    os.mkdir(pre)
    os.chmod(pre, 0o777)
    for d, mode in (("sticky", 0o1777), ("rodir", 0o755)):
        os.mkdir(os.path.join(pre, d))
        os.chmod(os.path.join(pre, d), mode)
    for name, mode, uid, gid in (("sticky/theirs", 0o666, THEM, THEM),
                                 ("theirs", 0o600, THEM, THEM), ("shared", 0o666, THEM, THEM),
                                 ("theirs2", 0o444, THEM, THEM),
                                 ("grpread", 0o640, 0, THEM),
                                 ("readable", 0o644, THEM, THEM), ("grp", 0o644, NOBODY, THEM),
                                 ("rodir/x", 0o666, 0, 0)):
        p = os.path.join(pre, name)
        with open(p, "w") as f:
            f.write("data")
        os.chown(p, uid, gid)
        os.chmod(p, mode)


class PermDiff(unittest.TestCase):
    def setUp(self):
        why = st.missing_private_dev() or st.missing_user_switch(NOBODY, NOBODY)
        if why:
            self.skipTest(why)
        self.v = st.Vault("permdiff")
        self.daemons = []

    def tearDown(self):
        st.stop_daemons(self.daemons)  # their mounts live in a namespace of their own
        self.v.cleanup()

    def prepare(self):
        """The vault with pre/ in it, then everything given to nobody, and a
        private fuse node; the reference directory beside it."""
        v = self.v
        v.init()
        v.mount()
        try:
            prepopulate(v.mnt)
            os.chown(v.mnt, NOBODY, NOBODY)  # the vault's root is its user's, as ref is
        finally:
            v.unmount()
        self.ref = os.path.join(v.root, "ref")
        os.mkdir(self.ref)
        prepopulate(self.ref)
        self.node = st.private_fuse_node(v.root)
        self.run_dir = os.path.join(v.root, "run")
        os.mkdir(self.run_dir, 0o700)
        for n in (v.store, v.cache, v.mnt, v.passfile, self.run_dir):
            for dirpath, dirnames, filenames in os.walk(n):
                for x in [dirpath] + [os.path.join(dirpath, f) for f in filenames]:
                    os.lchown(x, NOBODY, NOBODY)
            os.lchown(n, NOBODY, NOBODY)
        os.chown(self.ref, NOBODY, NOBODY)
        os.chmod(v.root, 0o755)

    def mount_as_nobody(self):
        v = self.v
        r = st.run(st.with_dev_fuse(self.node, [
            "env", "XDG_RUNTIME_DIR=" + self.run_dir,
            "setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
            st.SEALFS, "mount", v.store, v.mnt, "--cache", v.cache,
            "--passphrase-file", v.passfile]), check=False)
        pid_dir = os.path.join(self.run_dir, "sealfs")
        for name in os.listdir(pid_dir) if os.path.isdir(pid_dir) else []:
            with open(os.path.join(pid_dir, name)) as f:
                self.daemons.append(int(f.read().split()[0]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.daemons), 1)
        return self.daemons[0]

    def run_inner(self, pid, root):
        r = st.run(["nsenter", "-t", str(pid), "-m", "-r", sys.executable,
                    os.path.abspath(__file__), "--inner", root], check=False, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [eval(l, {}) for l in r.stdout.splitlines()]

    def test_same_errnos_as_the_kernel_as_the_mounting_user(self):
        self.prepare()
        pid = self.mount_as_nobody()
        with open("/proc/%d/mounts" % pid) as f:
            opts = [l.split()[3] for l in f if l.split()[1] == self.v.mnt]
        self.assertEqual(len(opts), 1, "the nobody mount is not there")
        self.assertNotIn("default_permissions", opts[0].split(","))
        self.assertNotIn("allow_other", opts[0].split(","))
        want = self.run_inner(pid, self.ref)
        got = self.run_inner(pid, self.v.mnt)
        ops = steps()
        self.assertEqual(len(want), len(ops))
        self.assertEqual(len(got), len(ops))
        unexpected, seen = [], []
        for op, a, b in zip(ops, want, got):
            if a == b:
                continue
            known = [e for e in EXPECTED if e[0] == repr(op)]
            st.log("%r: ext4 %r, sealfs %r%s" % (op, a, b, " (expected)" if known else ""))
            if known:
                seen.append(known[0][0])
            else:
                unexpected.append((op, a, b))
        denied = sum(1 for a in want if a[0] == "err")
        st.log("perm-diff: %d steps, %d refused on ext4, %d differ unexpectedly" % (
            len(ops), denied, len(unexpected)))
        self.assertGreater(denied, 30)  # the sequence does test refusals
        self.assertEqual(unexpected, [])
        self.assertEqual(seen, [e[0] for e in EXPECTED])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inner":
        inner(sys.argv[2])
    else:
        st.main()
