"""After unmount, the store alone holds the vault: mounting it with a fresh,
empty cache gives back every file bit for bit with its metadata (sha256 and
stat of the whole tree). Also: SIGTERM to the daemon unmounts cleanly and
commits; a read-only mount refuses writes; unmount waits for the daemon of a
renamed copy of the binary."""

import errno
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

MIB = 1024 * 1024


def build_tree(v):
    """A tree with every kind of entry and edge size; returns nothing."""
    root = v.path("tree")
    os.makedirs(os.path.join(root, "a", "b", "c"))
    os.mkdir(os.path.join(root, "empty-dir"))
    sizes = [0, 1, 4095, 4096, 4097, 65536, MIB - 1, MIB, MIB + 1, 3 * MIB + 77]
    for i, size in enumerate(sizes):
        name = os.path.join(root, "a" if i % 2 else "", "size-%d-%s" % (size, v.marker("f")))
        data = (v.marker("content").encode() * (size // 20 + 1))[:size]
        with open(name, "wb") as f:
            f.write(data)
        os.utime(name, ns=(1_000_000_000 + i, 1_700_000_000_000_000_000 + i * 1001))
    with open(os.path.join(root, "a", "b", "c", "sparse"), "wb") as f:
        f.seek(7 * MIB)
        f.write(b"end")
    os.symlink("a/b/c/sparse", os.path.join(root, "link"))
    os.symlink("../../..", os.path.join(root, "a", "b", "up"))
    os.chmod(os.path.join(root, "a", "b"), 0o750)
    os.chown(os.path.join(root, "a", "b", "c"), 1000, 1000)
    os.chmod(os.path.join(root, "a", "b", "c", "sparse"), 0o600)
    os.setxattr(os.path.join(root, "a"), "user.dirnote", v.marker("xattr").encode())
    os.setxattr(os.path.join(root, "a", "b", "c", "sparse"), "user.n", b"\x00\xff")
    with open(os.path.join(root, "unicode-ünïcødé-✓"), "w") as f:
        f.write("text")
    os.utime(os.path.join(root, "a", "b"), ns=(3, 1_650_000_000_123_456_789))


class Remount(st.VaultTestCase):
    tag = "remount"

    def test_fresh_cache_gives_back_everything(self):
        build_tree(self.v)
        # directory times last: creating entries changes them
        os.utime(self.v.path("tree", "a"), ns=(4, 1_600_000_000_000_000_004))
        before = st.snapshot(self.v.mnt)
        self.assertGreater(len(before), 15)
        self.v.unmount()
        fresh = os.path.join(self.v.root, "fresh-cache")
        self.v.mount(cache=fresh)
        after = st.snapshot(self.v.mnt)
        self.assertEqual(sorted(after), sorted(before))
        for k in before:
            self.assertEqual(after[k], before[k], k)
        self.v.unmount()
        self.v.mount()  # the old cache still agrees
        self.assertEqual(st.snapshot(self.v.mnt), before)
        self.assertEqual(st.scan_for([fresh], self.v.markers), [])

    def test_fsync_store_returns_once_the_store_has_it(self):
        self.v.unmount()
        self.v.mount("--fsync-store", "--commit-delay", "3600000")
        head = os.path.join(self.v.store, "head")
        with open(head, "rb") as f:
            before = f.read()
        with open(self.v.path("fsync-store.txt"), "w") as f:
            f.write(self.v.marker("fsync-store"))
            f.flush()
            os.fsync(f.fileno())
        with open(head, "rb") as f:
            self.assertNotEqual(f.read(), before, "fsync returned before the store had it")
        self.v.unmount()
        self.v.mount()

    def test_idle_lock_unmounts_after_inactivity_only(self):
        self.v.unmount()
        self.v.mount("--idle-lock", "0.1")  # 6 s
        pid = st.daemon_pid(self.v.mnt)
        marker = self.v.marker("idle")
        end = time.monotonic() + 9
        while time.monotonic() < end:  # activity keeps it mounted
            with open(self.v.path("idle.txt"), "w") as f:
                f.write(marker)
            time.sleep(0.5)
        self.assertTrue(self.v.is_mounted(), "locked although the vault was in use")
        os.sync()  # the kernel's write-back of cached pages is activity too
        for _ in range(300):  # then idle: locked within about 6 s (30 s under load)
            if not self.v.is_mounted() and not st.process_alive(pid):
                break
            time.sleep(0.1)
        self.assertFalse(self.v.is_mounted(), "still mounted after the idle time")
        self.assertFalse(st.process_alive(pid), "the daemon did not exit")
        self.v.mount()
        with open(self.v.path("idle.txt")) as f:
            self.assertEqual(f.read(), marker)

    def test_sigterm_unmounts_cleanly_and_commits(self):
        marker = self.v.marker("sigterm")
        with open(self.v.path("sigterm.txt"), "w") as f:
            f.write(marker)
        pid = st.daemon_pid(self.v.mnt)
        os.kill(pid, signal.SIGTERM)
        for _ in range(600):
            if not self.v.is_mounted():
                break
            time.sleep(0.1)
        self.assertFalse(self.v.is_mounted(), "still mounted 60 s after SIGTERM")
        for _ in range(600):
            if not st.process_alive(pid):
                break
            time.sleep(0.1)
        else:
            self.fail("daemon still running 60 s after SIGTERM")
        self.assertFalse(os.path.exists(st.pid_file(self.v.mnt)), "pid file left behind")
        self.v.mount()
        with open(self.v.path("sigterm.txt")) as f:
            self.assertEqual(f.read(), marker)

    def test_unmount_waits_for_a_renamed_binary(self):
        """A copy of sealfs under another name (a user's cp, a distro wrapper)
        mounts, and its unmount returns only once the daemon has committed
        every write to the store and exited: deleting the cache then loses
        nothing. The pid file's start time finds the daemon, not its name."""
        self.v.unmount()
        other = os.path.join(self.v.root, "bin", "mysfs")
        os.makedirs(os.path.dirname(other))
        shutil.copy2(st.SEALFS, other)
        st.run([other, "mount", self.v.store, self.v.mnt, "--cache", self.v.cache,
                "--passphrase-file", self.v.passfile, "--commit-delay", "3600000"])
        pid = st.daemon_pid(self.v.mnt)
        with open("/proc/%d/comm" % pid) as f:
            self.assertEqual(f.read().strip(), "mysfs", "control: the daemon's name")
        names = {}
        os.mkdir(self.v.path("renamed"))
        for i in range(400):  # each commit waits for the unmount (commit delay)
            name = os.path.join("renamed", "f-%03d" % i)
            names[name] = self.v.marker("renamed-%d" % i)
            with open(self.v.path(name), "w") as f:
                f.write(names[name])
        p = st.run([other, "unmount", self.v.mnt])
        self.assertEqual((p.stdout, p.stderr), ("", ""))
        self.assertFalse(st.process_alive(pid), "unmount returned before its daemon exited")
        self.assertEqual(st.journal_records(self.v.cache), [],
                         "unmount returned with commits only in the cache")
        shutil.rmtree(self.v.cache)  # the user deletes the cache: nothing is lost
        self.v.mount()
        for name, text in names.items():
            with open(self.v.path(name)) as f:
                self.assertEqual(f.read(), text, name)

    def test_unmount_while_busy_fails_cleanly(self):
        f = open(self.v.path("busy.txt"), "w")
        try:
            f.write("open while unmounting")
            p = st.sealfs("unmount", self.v.mnt, check=False)
            self.assertEqual(p.returncode, st.EXIT_MOUNTPOINT, p.stderr)
            self.assertEqual(p.stderr, "sealfs: mountpoint '%s' is busy (files open)\n"
                             % self.v.mnt)
            self.assertTrue(self.v.is_mounted())
            self.assertTrue(st.process_alive(st.daemon_pid(self.v.mnt)))
        finally:
            f.close()
        self.v.remount()
        with open(self.v.path("busy.txt")) as f:
            self.assertEqual(f.read(), "open while unmounting")

    def test_killed_daemon_leaves_a_dead_mount_that_unmount_clears(self):
        marker = self.v.marker("synced")
        fd = os.open(self.v.path("synced.txt"), os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, marker.encode())
        os.fsync(fd)  # committed to the store before the kill
        os.close(fd)
        st.kill_daemon(self.v, clear=False)
        p = st.sealfs("mount", self.v.store, self.v.mnt, "--cache", self.v.cache,
                      "--passphrase-file", self.v.passfile, check=False)
        self.assertEqual(p.returncode, st.EXIT_MOUNTPOINT, p.stderr)
        self.assertIn("dead mount", p.stderr)
        self.v.unmount()  # no daemon to wait for: must not hang
        self.v.mount()
        with open(self.v.path("synced.txt")) as f:
            self.assertEqual(f.read(), marker)

    def test_killed_daemon_small_saves_come_back_from_the_journal(self):
        """A new segment's cache file exists, empty, before the write that
        fills it (the cache's pool, docs/INTERNALS.md "Commit"). After a
        SIGKILL the next mount removes the pool's files (CACHE/pool) and
        gives back every fsync'ed small file even when the cache files of its
        segments lost their unflushed bytes (a power cut): the journal
        record carries them."""
        d = self.v.path("saves")
        os.mkdir(d)
        want = {}
        for i in range(40):
            data = os.urandom(4096 - i)
            tmp, name = os.path.join(d, "t%d" % i), os.path.join(d, "f%d" % (i % 10))
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, name)
            want[name] = data
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(fd)  # the renames
        os.close(fd)
        pool = os.path.join(self.v.cache, "pool")
        self.assertGreater(os.path.getsize(pool), 0, "no pool of cache files was made")
        st.kill_daemon(self.v)
        objs = os.path.join(self.v.cache, "o")
        stored = set()
        for sub in os.listdir(os.path.join(self.v.store, "o")):
            stored.update(os.listdir(os.path.join(self.v.store, "o", sub)))
        files = [os.path.join(objs, sub, n) for sub in os.listdir(objs)
                 for n in os.listdir(os.path.join(objs, sub))]
        self.assertTrue(any(os.path.getsize(p) == 0 for p in files), "no pool file left")
        for p in files:  # what a power cut can take: bytes never flushed
            if os.path.basename(p) not in stored:
                os.truncate(p, 0)
        self.v.mount()
        empty = [p for sub in os.listdir(objs) for p in
                 (os.path.join(objs, sub, n) for n in os.listdir(os.path.join(objs, sub)))
                 if os.path.getsize(p) == 0]
        self.assertEqual(empty, [], "empty cache files left after the mount")
        self.assertEqual(os.path.getsize(pool), 0)
        for name, data in want.items():
            with open(name, "rb") as f:
                self.assertEqual(f.read(), data, name)

    def test_killed_daemon_page_rewrites_come_back_from_the_journal(self):
        """Pages rewritten in a large file's stored segments and fsynced go
        into the journal record as patches (docs/INTERNALS.md, "Commit"):
        the new segments' cache files are not flushed. The daemon ends as
        the upload round starts (SEALFS_FAULT die=round); those cache files
        then lose their bytes (what a power cut can leave), and the next
        mount rebuilds them from their bases: every byte reads back, and
        again from a fresh cache once stored."""
        if "fault-injection" not in st.sealfs("--version").stdout:
            self.skipTest("sealfs built without -Dfault_injection=true (die=round)")
        path = self.v.path("db")
        data = bytearray(os.urandom(3 * MIB))
        with open(path, "wb") as f:
            f.write(data)
        st.sealfs("sync", self.v.mnt)
        self.v.unmount()
        stored = set()
        for sub in os.listdir(os.path.join(self.v.store, "o")):
            stored.update(os.listdir(os.path.join(self.v.store, "o", sub)))
        os.environ["SEALFS_FAULT"] = "slot=1000000,die=round"
        try:
            self.v.mount()
        finally:
            os.environ.pop("SEALFS_FAULT", None)
        pid = st.daemon_pid(self.v.mnt)
        with open(path, "r+b") as f:
            for off in (MIB + 8192, 2 * MIB + 300000, 2 * MIB + 400000):
                page = os.urandom(4096)
                f.seek(off)
                f.write(page)
                data[off:off + len(page)] = page
            f.flush()
            os.fsync(f.fileno())
        for _ in range(600):
            if not st.process_alive(pid):
                break
            time.sleep(0.05)
        self.assertFalse(st.process_alive(pid), "the daemon did not end at its round")
        st.lazy_unmount_all(self.v.mnt)
        objs = os.path.join(self.v.cache, "o")
        lost = 0
        for sub in os.listdir(objs):
            for n in os.listdir(os.path.join(objs, sub)):
                p = os.path.join(objs, sub, n)
                if n not in stored and os.path.getsize(p) > 1000000:
                    os.truncate(p, 0)  # a patched segment's unflushed bytes
                    lost += 1
        self.assertEqual(lost, 2, "expected the two patched segments unstored")
        self.v.mount()
        with open(path, "rb") as f:
            self.assertEqual(f.read(), bytes(data))
        st.sealfs("sync", self.v.mnt)
        self.v.unmount()
        fresh = self.v.cache + "-fresh"
        self.v.mount(cache=fresh)
        try:
            with open(path, "rb") as f:
                self.assertEqual(f.read(), bytes(data))
        finally:
            self.v.unmount()
            shutil.rmtree(fresh, ignore_errors=True)
            self.v.mount()

    def test_read_only_mount_refuses_writes(self):
        with open(self.v.path("ro.txt"), "w") as f:
            f.write("before")
        self.v.unmount()
        self.v.mount("-o", "ro")
        try:
            with self.assertRaises(OSError) as cm:
                open(self.v.path("ro.txt"), "w").close()
            self.assertEqual(cm.exception.errno, errno.EROFS)
            with open(self.v.path("ro.txt")) as f:
                self.assertEqual(f.read(), "before")
        finally:
            self.v.unmount()
            self.v.mount()


if __name__ == "__main__":
    st.main()
