"""test_fuse.py - the FUSE driver on a real mount, through tests/fs/mount_driver
(no CLI): durability of fsync and of background commits, idle mounts writing
nothing, readdir offsets, renameat2 flags, refused file types, xattr
namespaces, unlinked open files, locks, statfs, fallocate, and a concurrent
stress run whose result must survive a remount from a fresh cache.

Every test has its own store, cache and mountpoint and unmounts in tearDown.
Fails on any sanitizer report in the driver's stderr. Standard library only.
"""

import ctypes
import errno
import fcntl
import hashlib
import os
import random
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest.posix import RENAME_EXCHANGE, RENAME_NOREPLACE, libc, renameat2

DRIVER = os.environ.get("MOUNT_DRIVER", "")
BAD_STDERR = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer")


class Driver:
    """One vault (store) mounted by mount_driver in the foreground."""

    def __init__(self, base):
        self.base = base
        self.store = os.path.join(base, "store")
        self.mnt = os.path.join(base, "mnt")
        os.mkdir(self.mnt)
        self.proc = None
        self.ncache = 0
        self.initialised = False
        self.stderr_path = None

    def start(self, delay=None, fresh_cache=False, ro=False, fsync_store=False):
        if fresh_cache or self.ncache == 0:
            self.ncache += 1
        cache = os.path.join(self.base, "cache%d" % self.ncache)
        args = [DRIVER]
        if not self.initialised:
            args.append("--init")
            self.initialised = True
        if delay is not None:
            args += ["--delay", str(delay)]
        if ro:
            args.append("--ro")
        if fsync_store:
            args.append("--fsync-store")
        args += [self.store, cache, self.mnt]
        self.stderr_path = os.path.join(self.base, "driver-%d.log" % time.monotonic_ns())
        err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err,
                                     stdin=subprocess.DEVNULL)
        err.close()
        if not self._wait_ready(60):
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("driver did not mount: " + self.log())

    def _wait_ready(self, timeout):
        """Reads the daemon's startup pipe: "I<line>\\n" lines (the store's last
        change) may come before the "0" that says it is mounted."""
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [],
                                        max(0, deadline - time.monotonic()))
            if not ready:
                return False
            c = self.proc.stdout.read(1)
            if c == b"I":
                self.proc.stdout.readline()
                continue
            return c == b"0"

    def log(self):
        with open(self.stderr_path) as f:
            return f.read()

    def check_log(self):
        text = self.log()
        for bad in BAD_STDERR:
            if bad in text:
                raise AssertionError("driver reported: " + text)

    def stop(self):
        """Unmounts; the driver commits and exits 0."""
        subprocess.run(["fusermount3", "-u", self.mnt], check=True)
        rc = self.proc.wait(timeout=120)
        self.proc.stdout.close()
        self.proc = None
        self.check_log()
        if rc != 0:
            raise AssertionError("driver exited %d: %s" % (rc, self.log()))

    def kill(self):
        """SIGKILL: no last commit; the mount is torn down."""
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc = None
        subprocess.run(["fusermount3", "-u", "-z", self.mnt], check=False,
                       stderr=subprocess.DEVNULL)
        self.check_log()

    def cleanup(self):
        if self.proc:
            self.kill()

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def head_bytes(self):
        with open(os.path.join(self.store, "head"), "rb") as f:
            return f.read()


def snapshot(root):
    """path -> (kind, mode, size, sha256 or target, mtime_ns, ctime_ns) for everything
    under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                out[rel] = ("f", st.st_mode, st.st_size, digest, st.st_mtime_ns, st.st_ctime_ns)
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", st.st_mode, 0, os.readlink(p), st.st_mtime_ns, st.st_ctime_ns)
            else:
                out[rel] = ("d", st.st_mode, 0, "", st.st_mtime_ns, st.st_ctime_ns)
    return out


class Fuse(unittest.TestCase):
    def setUp(self):
        self.base = tempfile.mkdtemp(prefix="sealfs-fuse-")
        self.d = Driver(self.base)

    def tearDown(self):
        self.d.cleanup()
        shutil.rmtree(self.base, ignore_errors=True)

    def write(self, rel, data, sync=False):
        with open(self.d.path(rel), "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())

    def read(self, rel):
        with open(self.d.path(rel), "rb") as f:
            return f.read()

    def test_data_survives_remount_with_fresh_cache(self):
        self.d.start()
        os.makedirs(self.d.path("a", "b"))
        data = os.urandom(3 * 1024 * 1024 + 17)
        self.write("a/b/big", data)
        self.write("a/small", b"hi")
        os.symlink("b/big", self.d.path("a", "link"))
        os.chmod(self.d.path("a", "small"), 0o640)
        os.utime(self.d.path("a", "small"), ns=(1, 123456789123456789))
        os.setxattr(self.d.path("a", "small"), "user.tag", b"value")
        before = snapshot(self.d.mnt)
        self.d.stop()
        self.d.start(fresh_cache=True)
        self.assertEqual(snapshot(self.d.mnt), before)
        self.assertEqual(self.read("a/b/big"), data)
        self.assertEqual(os.getxattr(self.d.path("a", "small"), "user.tag"), b"value")
        self.d.stop()

    def test_fsync_is_durable_even_if_killed(self):
        self.d.start(delay=3600 * 1000)
        data = os.urandom(1500000)
        os.mkdir(self.d.path("dir"))
        self.write("dir/synced", data, sync=True)
        # fsync is durable in the cache's journal: the same cache has it
        # after kill -9, and the next mount uploads it to the store.
        self.d.kill()
        self.d.start()
        self.assertEqual(self.read("dir/synced"), data)
        fd = os.open(self.d.path("dir"), os.O_RDONLY)
        os.rename(self.d.path("dir", "synced"), self.d.path("moved"))
        os.fsync(fd)  # fsyncdir commits too
        os.close(fd)
        self.d.kill()
        self.d.start()
        self.assertEqual(self.read("moved"), data)
        self.d.stop()  # drains the journal into the store
        self.d.start(fresh_cache=True)
        self.assertEqual(self.read("moved"), data)
        self.assertEqual(os.listdir(self.d.path("dir")), [])
        self.d.stop()

    def test_fsync_store_waits_until_the_store_has_it(self):
        self.d.start(delay=3600 * 1000, fsync_store=True)
        data = os.urandom(70000)
        self.write("f", b"")
        head = self.d.head_bytes()
        self.write("f", data, sync=True)
        self.assertNotEqual(self.d.head_bytes(), head, "fsync returned before the upload")
        self.d.kill()
        self.d.start(fresh_cache=True)
        self.assertEqual(self.read("f"), data)
        self.d.stop()

    def test_background_commit_without_fsync(self):
        self.d.start(delay=200)
        self.write("f", b"committed in the background")
        deadline = time.monotonic() + 10
        head = self.d.head_bytes()
        while self.d.head_bytes() == head and time.monotonic() < deadline:
            time.sleep(0.1)
        self.d.kill()
        self.d.start(fresh_cache=True)
        self.assertEqual(self.read("f"), b"committed in the background")
        self.d.stop()

    def test_idle_mount_writes_nothing(self):
        self.d.start(delay=100)
        self.write("f", b"x", sync=True)
        time.sleep(0.5)
        head = self.d.head_bytes()
        self.read("f")
        os.listdir(self.d.mnt)
        os.stat(self.d.path("f"))
        time.sleep(1.0)
        self.assertEqual(self.d.head_bytes(), head)
        self.d.stop()
        self.assertEqual(self.d.head_bytes(), head)

    def test_readdir_offsets_stable_while_entries_vanish(self):
        self.d.start()
        names = {"f%04d" % i for i in range(600)}
        for n in names:
            open(self.d.path(n), "w").close()
        seen = []
        with os.scandir(self.d.mnt) as it:
            for i, e in enumerate(it):
                seen.append(e.name)
                if i == 10:
                    for n in sorted(names)[::2]:
                        os.unlink(self.d.path(n))
        self.assertEqual(len(seen), len(set(seen)))
        self.assertTrue(set(sorted(names)[1::2]) <= set(seen))
        self.assertEqual(set(os.listdir(self.d.mnt)), set(sorted(names)[1::2]))
        self.d.stop()

    def test_renameat2_flags(self):
        self.d.start()
        self.write("a", b"A")
        self.write("b", b"B")
        os.mkdir(self.d.path("d"))
        with self.assertRaises(OSError) as cm:
            renameat2(self.d.path("a"), self.d.path("b"), RENAME_NOREPLACE)
        self.assertEqual(cm.exception.errno, errno.EEXIST)
        renameat2(self.d.path("a"), self.d.path("d"), RENAME_EXCHANGE)
        self.assertEqual(self.read("d"), b"A")
        self.assertTrue(os.path.isdir(self.d.path("a")))
        renameat2(self.d.path("b"), self.d.path("c"), RENAME_NOREPLACE)
        with self.assertRaises(OSError) as cm:
            os.rename(self.d.path("a"), self.d.path("a", "inside"))
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.d.stop()
        self.d.start()
        self.assertEqual(sorted(os.listdir(self.d.mnt)), ["a", "c", "d"])
        self.d.stop()

    def test_special_files_and_hard_links(self):
        """A format-2 vault (the driver's --init) stores FIFOs and sockets
        (tests/mount/test_special.py covers them in depth) and hard links
        (tests/mount/test_links.py)."""
        self.d.start()
        os.mkfifo(self.d.path("fifo"))
        os.mknod(self.d.path("sock"), stat.S_IFSOCK | 0o600)
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.d.path("fifo")).st_mode))
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.d.path("sock")).st_mode))
        os.mknod(self.d.path("regular"), stat.S_IFREG | 0o600)
        os.link(self.d.path("regular"), self.d.path("hard"))
        self.assertEqual(os.stat(self.d.path("hard")).st_nlink, 2)
        self.assertEqual(os.stat(self.d.path("hard")).st_ino,
                         os.stat(self.d.path("regular")).st_ino)
        self.d.stop()

    def test_xattr_namespaces_and_flags(self):
        self.d.start()
        p = self.d.path("f")
        self.write("f", b"")
        for name in ("trusted.x", "security.x"):
            with self.assertRaises(OSError) as cm:
                os.setxattr(p, name, b"v")
            self.assertIn(cm.exception.errno, (errno.EOPNOTSUPP, errno.EPERM))
        os.setxattr(p, "user.a", b"1", os.XATTR_CREATE)
        with self.assertRaises(OSError) as cm:
            os.setxattr(p, "user.a", b"2", os.XATTR_CREATE)
        self.assertEqual(cm.exception.errno, errno.EEXIST)
        with self.assertRaises(OSError) as cm:
            os.setxattr(p, "user.b", b"2", os.XATTR_REPLACE)
        self.assertEqual(cm.exception.errno, errno.ENODATA)
        os.setxattr(p, "user.big", b"x" * 65536)
        self.assertEqual(len(os.getxattr(p, "user.big")), 65536)
        self.assertEqual(sorted(os.listxattr(p)), ["user.a", "user.big"])
        os.removexattr(p, "user.big")
        self.assertEqual(os.listxattr(p), ["user.a"])
        self.d.stop()

    def test_unlinked_open_file_keeps_working(self):
        self.d.start()
        fd = os.open(self.d.path("f"), os.O_RDWR | os.O_CREAT, 0o600)
        os.write(fd, b"before")
        os.unlink(self.d.path("f"))
        os.write(fd, b"+after")
        os.fsync(fd)
        self.assertEqual(os.pread(fd, 100, 0), b"before+after")
        self.assertEqual(os.fstat(fd).st_nlink, 0)
        self.assertFalse(os.path.exists(self.d.path("f")))
        os.close(fd)
        self.d.stop()
        self.d.start(fresh_cache=True)
        self.assertEqual(os.listdir(self.d.mnt), [])
        self.d.stop()

    def test_flock_and_fcntl_locks_are_local_locks(self):
        self.d.start()
        self.write("lock", b"")
        code = ("import fcntl,sys\nf=open(sys.argv[1],'r+')\n"
                "try:\n fcntl.%s(f, fcntl.LOCK_EX|fcntl.LOCK_NB)\n print('got')\n"
                "except OSError:\n print('busy')\n")
        for kind in ("flock", "lockf"):
            with open(self.d.path("lock"), "r+") as f:
                getattr(fcntl, kind)(f, fcntl.LOCK_EX)
                out = subprocess.run([sys.executable, "-c", code % kind, self.d.path("lock")],
                                     capture_output=True, text=True, check=True).stdout
                self.assertEqual(out.strip(), "busy")
            out = subprocess.run([sys.executable, "-c", code % kind, self.d.path("lock")],
                                 capture_output=True, text=True, check=True).stdout
            self.assertEqual(out.strip(), "got")
        self.d.stop()

    def test_statfs_and_fallocate(self):
        self.d.start()
        sv = os.statvfs(self.d.mnt)
        self.assertEqual(sv.f_namemax, 255)
        self.assertEqual(sv.f_bsize, 4096)
        self.assertGreater(sv.f_blocks, 0)
        self.assertGreater(sv.f_files, sv.f_ffree - 1)
        fd = os.open(self.d.path("f"), os.O_RDWR | os.O_CREAT, 0o600)
        os.posix_fallocate(fd, 0, 100000)
        self.assertEqual(os.fstat(fd).st_size, 100000)
        self.assertEqual(os.pread(fd, 10, 5000), b"\0" * 10)
        r = libc.fallocate(fd, 3, ctypes.c_long(0), ctypes.c_long(4096))  # punch hole
        self.assertEqual((r, ctypes.get_errno()), (-1, errno.EOPNOTSUPP))
        os.close(fd)
        self.d.stop()

    def test_read_only_mount_refuses_changes(self):
        self.d.start()
        self.write("f", b"x")
        self.d.stop()
        head = self.d.head_bytes()
        self.d.start(ro=True)
        self.assertEqual(self.read("f"), b"x")
        with self.assertRaises(OSError) as cm:
            self.write("g", b"y")
        self.assertEqual(cm.exception.errno, errno.EROFS)
        self.d.stop()
        self.assertEqual(self.d.head_bytes(), head)

    def test_concurrent_stress_survives_remount(self):
        self.d.start(delay=150)
        stop = time.monotonic() + 4
        errors = []
        os.mkdir(self.d.path("shared"))

        def worker(n):
            rnd = random.Random(n)
            mine = self.d.path("w%d" % n)
            os.mkdir(mine)
            model = {}
            try:
                while time.monotonic() < stop:
                    op = rnd.random()
                    name = "f%d" % rnd.randrange(30)
                    p = os.path.join(mine, name)
                    if op < 0.35:
                        data = os.urandom(rnd.choice((0, 100, 5000, 70000, 300000)))
                        with open(p, "wb") as f:
                            f.write(data)
                        model[name] = data
                    elif op < 0.5 and name in model:
                        os.unlink(p)
                        del model[name]
                    elif op < 0.6 and name in model:
                        to = "f%d" % rnd.randrange(30)
                        os.rename(p, os.path.join(mine, to))
                        model[to] = model.pop(name)
                    elif op < 0.75 and name in model:
                        with open(p, "rb") as f:
                            if f.read() != model[name]:
                                errors.append("content of %s differs" % p)
                    elif op < 0.85:
                        s = os.path.join(self.d.mnt, "shared", name)
                        try:
                            if rnd.random() < 0.5:
                                os.mkdir(s)
                            else:
                                os.rmdir(s)
                        except OSError as e:
                            if e.errno not in (errno.EEXIST, errno.ENOENT, errno.ENOTEMPTY):
                                raise
                    else:
                        if sorted(os.listdir(mine)) != sorted(model):
                            errors.append("listing of %s differs" % mine)
            except Exception as e:  # noqa: BLE001 - report any failure
                errors.append("worker %d: %r" % (n, e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        before = snapshot(self.d.mnt)
        self.d.stop()
        self.d.start(fresh_cache=True)
        self.assertEqual(snapshot(self.d.mnt), before)
        self.d.stop()


if __name__ == "__main__":
    if not DRIVER or not os.path.exists("/dev/fuse"):
        print("skipped: needs MOUNT_DRIVER and /dev/fuse", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
