"""The S3 server dies (kill -9 of s3rver) under a mounted vault.

1. Writes, fsync, mkdir, rename, fsyncdir and reads of what is cached either
   work or fail cleanly (EIO, never a dead mount) within OP_TIMEOUT each, and
   the mount stays alive; s3rver restarted on the same port and data
   directory, an fsync works again within OP_TIMEOUT, `sealfs unmount`
   returns 0, and a mount with a fresh, empty cache gives back every file
   whose fsync returned and (since unmount promises that the store holds
   everything when it returns 0) every other file written too.
2. The daemon is killed (kill -9) while the server is down: after the server
   is back, a mount with the same cache gives back every file whose fsync
   returned 0, and after unmount so does a fresh cache.
3. `sealfs unmount` while the server is down (SEALFS_DRAIN_GIVE_UP_S=3): it
   returns within UNMOUNT_BOUND; if it returns 0 the store must hold everything (docs/CLI.md);
   in any case, once the server is back, a mount with the same cache then an
   unmount puts everything in the store.

Prints OUTAGE lines: what each operation did during the outage (ok or the
errno) and how long it took.
"""

import errno
import os
import signal
import sys
import textwrap
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, s3 as u

OP_TIMEOUT = 90  # seconds: an operation taking longer counts as a hang
UNMOUNT_BOUND = 120  # seconds for `sealfs unmount` with the store down
GIVE_UP_S = 3  # SEALFS_DRAIN_GIVE_UP_S of that unmount (the default is 30 s)
OUTAGE_MIN = 6  # seconds the server stays down at least (the uploader retries meanwhile)

# Runs one file-system operation in a child, so a hang cannot hang the test:
# prints "ok SECONDS" or "errno N SECONDS".
OP = textwrap.dedent("""
    import os, sys, time
    op, path, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    t = time.monotonic()
    try:
        if op in ("write", "write+fsync"):
            with open(arg, "rb") as f:
                data = f.read()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, data)
                if op == "write+fsync":
                    os.fsync(fd)
            finally:
                os.close(fd)
        elif op == "mkdir":
            os.mkdir(path)
        elif op == "rename":
            os.rename(path, arg)
        elif op == "read":
            with open(path, "rb") as f:
                while f.read(1 << 20):
                    pass
        elif op == "fsyncdir":
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        elif op == "listdir":
            os.listdir(path)
        print("ok %.2f" % (time.monotonic() - t))
    except OSError as e:
        print("errno %d %.2f" % (e.errno, time.monotonic() - t))
""")


class Outage(u.ServerCase):
    TAG = "outage"

    def op(self, what, path, arg=""):
        """Runs one operation in a child with OP_TIMEOUT; returns 0 or its errno."""
        t = time.monotonic()
        words = u.run_child(self, OP, (what, path, arg), what + " with the S3 server down",
                            OP_TIMEOUT)
        e = 0 if words[0] == "ok" else int(words[1])
        u.log("OUTAGE %-12s %-8s after %.1f s" % (what, "ok" if e == 0 else errno.errorcode.get(
            e, str(e)), time.monotonic() - t))
        return e

    def payload(self, name, size):
        """A random file outside the mount for the child to copy in; returns (path, data)."""
        data = u.random_bytes(size)
        path = os.path.join(self.v.root, "payload-" + name)
        u.write_file(path, data, fsync=False)
        return path, data

    def test_server_killed_under_the_mount(self):
        v = self.v = u.S3Vault("outage", self.server, "outvault")
        v.init()
        v.mount()
        durable = {}  # name -> data, must be in the store in the end
        for i in range(3):
            name = v.marker("before%d" % i)
            durable[name] = u.random_bytes(100000 * i + 7)
            u.write_file(v.path(name), durable[name])
        port = self.server.port
        self.server.stop(signal.SIGKILL)
        t_down = time.monotonic()

        results = {}
        for what, size in (("write+fsync", 300000), ("write+fsync", 2 * u.MIB + 5),
                           ("write", 50000)):
            name = v.marker(what.replace("+", "-"))
            src, data = self.payload(name, size)
            results[name] = (what, self.op(what, v.path(name), src))
            durable[name] = data
        d = v.marker("dir")
        mkdir_rc = self.op("mkdir", v.path(d))
        self.assertIn(mkdir_rc, (0, errno.EIO))
        moved = v.marker("moved")
        first = sorted(n for n in durable if n.startswith("before"))[0]
        self.assertIn(self.op("rename", v.path(first), v.path(moved)), (0, errno.EIO))
        if os.path.exists(v.path(moved)):
            durable[moved] = durable.pop(first)
        self.assertEqual(self.op("read", v.path(sorted(durable)[-1])), 0,
                         "reading a cached file failed with the server down")
        self.assertIn(self.op("fsyncdir", v.mnt), (0, errno.EIO))
        self.assertEqual(self.op("listdir", v.mnt), 0, "listing the root failed")
        for name, (what, e) in results.items():
            self.assertIn(e, (0, errno.EIO), "%s failed with %s, not EIO" % (
                what, errno.errorcode.get(e, e)))
        time.sleep(max(0, t_down + OUTAGE_MIN - time.monotonic()))
        self.assertTrue(v.is_mounted())
        os.statvfs(v.mnt)  # the daemon is alive (a dead mount gives ENOTCONN)
        u.log("OUTAGE server down for %.1f s; fsync during the outage: %s"
              % (time.monotonic() - t_down,
                 ", ".join("ok" if e == 0 else errno.errorcode.get(e, str(e))
                           for what, e in results.values() if what == "write+fsync")))

        self.server.start(port=port)
        after = v.marker("after")
        src, durable[after] = self.payload(after, 123457)
        self.assertEqual(self.op("write+fsync", v.path(after), src), 0,
                         "fsync failed after the server came back")
        _, secs = u.timed(v.unmount)
        u.log("OUTAGE unmount after the server came back: %.1f s" % secs)
        v.mount(cache=v.fresh_cache())
        if mkdir_rc == 0:
            self.assertTrue(os.path.isdir(v.path(d)), "directory made during the outage lost")
        missing = sorted(n for n in durable if not os.path.exists(v.path(n)))
        lost_fsynced = [n for n in missing
                        if results.get(n, ("write+fsync", 0)) == ("write+fsync", 0)]
        self.assertEqual(lost_fsynced, [], "fsync'ed files lost")
        self.assertEqual(missing, [], "files written during the outage lost although "
                         "unmount returned 0")
        for name, data in durable.items():
            with open(v.path(name), "rb") as f:
                self.assertEqual(u.sha256(f.read()), u.sha256(data), name + " differs")
        v.unmount()
        self.assertEqual(v.leaks(), [], "plaintext in the bucket or a cache")

    def outage_writes(self, v):
        """Mounts v, writes and fsyncs files, kills the server, then writes
        and fsyncs more in children. Returns (port, files: name -> data,
        fsynced: the names whose fsync returned 0)."""
        v.init()
        v.mount()
        files = {}
        for i in range(2):
            name = v.marker("up%d" % i)
            files[name] = u.random_bytes(70000 * i + 3)
            u.write_file(v.path(name), files[name])
        fsynced = set(files)
        port = self.server.port
        self.server.stop(signal.SIGKILL)
        for i, size in enumerate((1000, 1500000, 40000)):
            name = v.marker("down%d" % i)
            src, files[name] = self.payload(name, size)
            e = self.op("write+fsync", v.path(name), src)
            self.assertIn(e, (0, errno.EIO))
            if e == 0:
                fsynced.add(name)
        return port, files, fsynced

    def check(self, v, files, where):
        for name, data in sorted(files.items()):
            self.assertTrue(os.path.exists(v.path(name)), "%s: %s missing" % (where, name))
            with open(v.path(name), "rb") as f:
                self.assertEqual(u.sha256(f.read()), u.sha256(data), "%s: %s differs"
                                 % (where, name))

    def test_daemon_killed_while_server_down(self):
        v = self.v = u.S3Vault("outkill", self.server, "outkill")
        port, files, fsynced = self.outage_writes(v)
        u.log("OUTAGE kill -9 with the server down: %d of %d files fsync'ed"
              % (len(fsynced), len(files)))
        st.kill_daemon(v)
        self.server.start(port=port)
        durable = {n: files[n] for n in fsynced}
        v.mount()  # same cache
        self.check(v, durable, "same cache after kill -9 during the outage")
        v.unmount()
        v.mount(cache=v.fresh_cache())
        self.check(v, durable, "fresh cache after the outage and unmount")
        v.unmount()

    def test_unmount_while_server_down(self):
        v = self.v = u.S3Vault("outunmount", self.server, "outunmount")
        with st.environ(SEALFS_DRAIN_GIVE_UP_S=str(GIVE_UP_S)):
            port, files, fsynced = self.outage_writes(v)
        p, secs = u.timed(st.sealfs, "unmount", v.mnt, check=False, timeout=UNMOUNT_BOUND + 60)
        u.log("OUTAGE unmount with the server down: exit %d after %.1f s, stderr %r"
              % (p.returncode, secs, p.stderr))
        self.assertLess(secs, UNMOUNT_BOUND, "unmount took too long with the store down")
        # docs/CLI.md: 0 only when the store holds everything; else exit 17 and
        # one line saying the commits wait in the cache for the next mount.
        self.assertEqual(p.returncode, 17, p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, "not one line: %r" % p.stderr)
        self.assertTrue(p.stderr.startswith("sealfs: "), p.stderr)
        self.assertIn("not in the store yet", p.stderr)
        self.assertFalse(v.is_mounted(), "the mount is still there")
        self.server.start(port=port)
        v.mount()  # same cache: its journal goes to the store now
        v.unmount()
        v.mount(cache=v.fresh_cache())
        self.check(v, files, "fresh cache after the server came back")
        v.unmount()


if __name__ == "__main__":
    st.main()
