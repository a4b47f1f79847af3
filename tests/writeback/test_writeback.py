"""test_writeback.py - write-back (docs/INTERNALS.md, "Commit"): fsync is
durable in the cache's journal and the store gets it in the background.

The store is a local directory bind-mounted on itself, so that the test can
make it refuse every write (remount read-only: EROFS, a store that is down)
and accept them again, with the daemon running and without test hooks. Real
sealfs binary, real FUSE mount, real kill -9. Needs root and mounts
(skipped with 77 otherwise). Cleans up its mounts even on failure.
"""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

SLOW_COMMITS = ["--commit-delay", "600000"]  # only fsync and unmount commit
LOCAL_FSYNC_S = 1.5  # an fsync while the store is down must return well before this
DRAIN_S = 60  # the uploader's back-off is at most 60 s; with 1-8 s steps here
GIVE_UP_S = 2  # SEALFS_DRAIN_GIVE_UP_S: how long unmount tries a store that is down


def sh(*args):
    subprocess.run(list(args), check=True, capture_output=True, timeout=60)


class WriteBack(unittest.TestCase):
    def setUp(self):
        self.v = st.Vault("wb")
        os.makedirs(self.v.store)
        sh("mount", "--bind", self.v.store, self.v.store)
        self.v.init()

    def tearDown(self):
        try:
            self.store_up()
        except Exception:
            pass
        st.lazy_unmount_all(self.v.mnt)
        try:
            pid = st.daemon_pid(self.v.mnt)
            for _ in range(100):
                if not st.process_alive(pid):
                    break
                time.sleep(0.1)
        except (OSError, ValueError):
            pass
        subprocess.run(["umount", "-l", self.v.store], capture_output=True, timeout=60)
        self.v.cleanup()

    # ---- helpers ----

    def store_down(self):
        sh("mount", "-o", "remount,ro,bind", self.v.store)

    def store_up(self):
        sh("mount", "-o", "remount,rw,bind", self.v.store)

    def head(self):
        with open(os.path.join(self.v.store, "head"), "rb") as f:
            return f.read()

    def journal(self):
        """Paths of the journal's records, oldest first."""
        return [p for _, p in st.journal_records(self.v.cache)]

    def write_synced(self, name, data):
        t0 = time.monotonic()
        fd = os.open(self.v.path(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return time.monotonic() - t0

    def read(self, name):
        with open(self.v.path(name), "rb") as f:
            return f.read()

    def two_commits_then_kill(self):
        """Commits "a" and "b" with the store down, kills the daemon and
        brings the store back: the journal's records, oldest first."""
        self.v.mount(*SLOW_COMMITS)
        self.store_down()
        self.write_synced("a", b"first")
        self.write_synced("b", b"second")
        recs = self.journal()
        self.assertGreaterEqual(len(recs), 2)
        st.kill_daemon(self.v)
        self.store_up()
        return recs

    def fresh_cache_sees(self, files):
        fresh = os.path.join(self.v.root, "fresh-cache")
        self.v.mount(cache=fresh)
        for name, data in files.items():
            self.assertEqual(self.read(name), data, name)
        self.v.unmount()

    # ---- tests ----

    def test_fsync_with_store_down_survives_kill_and_uploads_at_next_mount(self):
        self.v.mount(*SLOW_COMMITS)
        os.mkdir(self.v.path("d"))
        files = {}
        self.store_down()
        for i in range(5):
            name = "d/f%d" % i
            files[name] = os.urandom(4096 * (i + 1) + 7 * i)
            self.assertLess(self.write_synced(name, files[name]), LOCAL_FSYNC_S,
                            "fsync waited for a store that is down")
        files["big"] = os.urandom(3 * 1024 * 1024 + 5)
        self.write_synced("big", files["big"])
        head_before = self.head()
        self.assertTrue(self.journal(), "no journal record while the store is down")
        st.kill_daemon(self.v)
        self.assertEqual(self.head(), head_before, "the store changed while it was down")
        self.store_up()
        # Same cache: the journal's newest commit is mounted.
        self.v.mount(*SLOW_COMMITS)
        for name, data in files.items():
            self.assertEqual(self.read(name), data, name)
        self.v.unmount()
        self.assertEqual(self.journal(), [], "unmount left records with the store up")
        self.assertNotEqual(self.head(), head_before)
        self.fresh_cache_sees(files)

    def test_store_down_then_up_drains_by_itself(self):
        self.v.mount(*SLOW_COMMITS)
        self.store_down()
        files = {}
        t0 = time.monotonic()
        for i in range(20):
            name = "n%02d" % i
            files[name] = os.urandom(1000 + i)
            self.write_synced(name, files[name])
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 20 * LOCAL_FSYNC_S / 2, "fsyncs waited for the store")
        for name, data in files.items():
            self.assertEqual(self.read(name), data)
        head_down = self.head()
        self.store_up()
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and (self.journal() or self.head() == head_down):
            time.sleep(0.2)
        self.assertEqual(self.journal(), [], "the journal did not drain")
        self.assertNotEqual(self.head(), head_down)
        self.v.unmount()
        self.fresh_cache_sees(files)

    def test_torn_newest_record_mounts_the_previous_commit(self):
        newest = self.two_commits_then_kill()[-1]
        with open(newest, "r+b") as f:
            f.truncate(os.path.getsize(newest) // 2)
        self.v.mount(*SLOW_COMMITS)
        self.assertEqual(self.read("a"), b"first")
        self.assertFalse(os.path.exists(self.v.path("b")), "a torn commit was mounted")
        self.v.unmount()
        self.assertEqual(self.journal(), [])
        self.fresh_cache_sees({"a": b"first"})

    def test_a_round_starts_once_32_commits_wait(self):
        """The uploader gathers commits before a round (here 600 s,
        SEALFS_UPLOAD_GATHER_MS), but a 32nd waiting commit starts the
        round (UPLOAD_GATHER_RECORDS): a burst of fsyncs never piles up
        hundreds of journal slots."""
        with st.environ(SEALFS_UPLOAD_GATHER_MS="600000"):
            self.v.mount(*SLOW_COMMITS)
        self.assertEqual(self.journal(), [])
        head0 = self.head()
        for i in range(31):
            self.write_synced("f%d" % i, b"x")
        time.sleep(1.5)
        self.assertEqual(len(self.journal()), 31)
        self.assertEqual(self.head(), head0, "a round ran before 32 commits waited")
        self.write_synced("f31", b"x")
        self.assertTrue(st.wait_uploaded(self.v.cache, timeout=30),
                        "32 waiting commits did not start a round")
        self.assertNotEqual(self.head(), head0)
        self.v.unmount()
        self.fresh_cache_sees({"f0": b"x", "f31": b"x"})

    def test_record_of_a_newer_sealfs_refuses_the_mount(self):
        """A pending record whose version this sealfs does not know (a newer
        sealfs wrote it, then the user went back to this one) refuses the
        mount with one line; it is neither dropped as torn nor taken for a
        free slot, so the commit it holds survives."""
        recs = self.two_commits_then_kill()
        newest = recs[-1]
        with open(newest, "r+b") as f:
            f.seek(8)
            version = f.read(4)
            self.assertEqual(version, b"\x02\x00\x00\x00")
            f.seek(8)
            f.write(b"\x04\x00\x00\x00")  # above the 3 this sealfs reads
        p = self.v.mount(*SLOW_COMMITS, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertFalse(self.v.is_mounted())
        self.assertIn("written by a newer sealfs", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertEqual(self.journal(), recs, "the refused mount touched the journal")
        with open(newest, "r+b") as f:
            f.seek(8)
            f.write(version)
        self.v.mount(*SLOW_COMMITS)
        self.assertEqual(self.read("a"), b"first")
        self.assertEqual(self.read("b"), b"second")
        self.v.unmount()
        self.assertEqual(self.journal(), [])
        self.fresh_cache_sees({"a": b"first", "b": b"second"})

    def test_unmount_with_store_down_keeps_the_journal(self):
        with st.environ(SEALFS_DRAIN_GIVE_UP_S=str(GIVE_UP_S)):
            self.v.mount(*SLOW_COMMITS)
        self.store_down()
        self.write_synced("kept", b"kept while the store was down")
        t0 = time.monotonic()
        p = self.v.unmount(check=False)
        # The daemon gives up GIVE_UP_S after the drain's start (not the 30 s default).
        self.assertLess(time.monotonic() - t0, GIVE_UP_S + 15)
        # Exit 17 with one line: the commit waits in the cache's journal.
        self.assertEqual(p.returncode, 17, p.stderr)
        self.assertIn("not in the store yet", p.stderr)
        self.assertFalse(self.v.is_mounted())
        self.assertTrue(self.journal(), "records lost at unmount")
        self.store_up()
        self.v.mount(*SLOW_COMMITS)
        self.v.unmount()
        self.assertEqual(self.journal(), [])
        self.fresh_cache_sees({"kept": b"kept while the store was down"})


if __name__ == "__main__":
    why = st.missing_mounts()
    if why:
        st.log("SKIP: bind-mounting the store: " + why)
        sys.exit(77)
    unittest.main(verbosity=2)
