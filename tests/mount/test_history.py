"""test_history.py - `sealfs history` and `sealfs restore` on a real format-2
vault through a real mount (docs/CLI.md): the versions of a file through
overwrites, a delete, a rename and a remount; restores of a file next to
itself, of a deleted file in place, of a deleted folder tree (symlink and
FIFO inside) with modes and mtimes, with --to and --at, of files with two
names (hard links: as plain files, the content their record holds); `fsck --all-heads`
clean after the churn; the retention window set by `init --keep-days` and
changed by `sealfs config` (refused while mounted), followed by the next
mount's thinning; a format-1 vault refused with exit 22.
Every change is committed and uploaded with `sealfs sync` before the history
is read, and the daemon runs with SEALFS_FAULT=slot=0 (a fault-injection
build's test clock: every commit is a retained head, instead of the newest
of each minute), so each change is one retained head; without such a build
the tests skip. tests/history/test_retain.c covers the minute slots.
"""

import json
import os
import shutil
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st  # noqa: E402
from sealfstest.devices import Device  # noqa: E402

GOLDEN1 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "crypto",
                       "golden-aes256gcm")
EXIT_NEEDS_FORMAT2 = 22
EXIT_NO_VERSION = 23


def fault_build():
    p = st.run([st.SEALFS, "--version"], check=False)
    return "fault-injection" in p.stdout


class History(st.VaultTestCase):
    tag = "history"

    @classmethod
    def setUpClass(cls):
        if not fault_build():
            raise unittest.SkipTest("sealfs built without -Dfault_injection=true (slot=0)")
        os.environ["SEALFS_FAULT"] = "slot=0"
        try:
            super().setUpClass()
        finally:
            os.environ.pop("SEALFS_FAULT", None)

    def setUp(self):
        os.environ["SEALFS_FAULT"] = "slot=0"  # a remount inside a test too
        self.addCleanup(os.environ.pop, "SEALFS_FAULT", None)
        super().setUp()

    def sync(self):
        st.sealfs("sync", self.v.mnt, "--timeout", "60")

    def write(self, name, data, mode=0o644, mtime_ns=None):
        with open(self.v.path(name), "wb") as f:
            f.write(data)
        os.chmod(self.v.path(name), mode)
        if mtime_ns:
            os.utime(self.v.path(name), ns=(mtime_ns, mtime_ns))
        self.sync()

    def run_cmd(self, cmd, *args, check=True):
        return st.sealfs(cmd, *args, "--passphrase-file", self.v.passfile, check=check,
                         timeout=120)

    def versions(self, name):
        p = self.run_cmd("history", self.v.path(name), "--json")
        return json.loads(p.stdout)["versions"]

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            return f.read()

    def test_file_overwrite_delete_restore(self):
        self.write("a.txt", b"first version\n", 0o600, 1_600_000_000_123_456_789)
        self.write("a.txt", b"second, longer version\n")
        vs = self.versions("a.txt")
        self.assertEqual(len(vs), 2, vs)
        self.assertTrue(vs[0]["current"])
        self.assertFalse(vs[1]["current"])
        self.assertEqual([v["size"] for v in vs], [23, 14])
        self.assertEqual(vs[1]["mtime"], 1_600_000_000)
        self.assertTrue(vs[0]["device"])
        self.assertGreater(vs[0]["seq"], vs[1]["seq"])
        text = self.run_cmd("history", self.v.path("a.txt")).stdout
        self.assertIn("2 versions", text)
        self.assertIn("(current)", text)
        # PATH exists: the earlier version goes next to it.
        p = self.run_cmd("restore", self.v.path("a.txt"))
        made = [n for n in os.listdir(self.v.mnt) if n.startswith("a (restored ")]
        self.assertEqual(len(made), 1, os.listdir(self.v.mnt))
        self.assertTrue(made[0].endswith(").txt"), made)
        self.assertIn(made[0], p.stdout)
        got = os.path.join(self.v.mnt, made[0])
        self.assertEqual(self.read(got), b"first version\n")
        s = os.lstat(got)
        self.assertEqual(stat.S_IMODE(s.st_mode), 0o600)
        self.assertEqual(s.st_mtime_ns, 1_600_000_000_123_456_789)
        self.assertEqual(self.read(self.v.path("a.txt")), b"second, longer version\n")
        # Deleted: restored in place, as it was before the delete.
        os.unlink(self.v.path("a.txt"))
        self.sync()
        text = self.run_cmd("history", self.v.path("a.txt")).stdout
        self.assertIn("not in the current tree", text)
        self.run_cmd("restore", self.v.path("a.txt"))
        self.assertEqual(self.read(self.v.path("a.txt")), b"second, longer version\n")
        # The restore is a new change: it survives a remount (and is re-sealed).
        self.sync()
        self.v.remount()
        self.assertEqual(self.read(self.v.path("a.txt")), b"second, longer version\n")
        self.assertEqual(self.read(got), b"first version\n")

    def test_rename_and_remount(self):
        big = os.urandom(3 * 1024 * 1024 + 777)  # four segments, one a partial chunk
        self.write("r.bin", big)
        os.rename(self.v.path("r.bin"), self.v.path("r2.bin"))
        self.sync()
        self.v.remount()
        vs = self.versions("r.bin")
        self.assertEqual(len(vs), 1)
        self.assertFalse(vs[0]["current"])
        self.run_cmd("restore", self.v.path("r.bin"))
        self.assertEqual(self.read(self.v.path("r.bin")), big)
        self.assertEqual(self.read(self.v.path("r2.bin")), big)

    def test_folder_tree_delete_restore(self):
        top = self.v.path("tree")
        os.makedirs(os.path.join(top, "sub", "deeper"))
        with open(os.path.join(top, "sub", "deeper", "f.txt"), "wb") as f:
            f.write(b"deep file\n" * 1000)
        with open(os.path.join(top, "x.bin"), "wb") as f:
            f.write(b"")
        with open(os.path.join(top, "holes.bin"), "wb") as f:
            f.truncate(2 * 1024 * 1024 + 5)
            f.seek(1024 * 1024 + 3)
            f.write(b"middle")
        os.symlink("sub/deeper/f.txt", os.path.join(top, "link"))
        os.mkfifo(os.path.join(top, "fifo"), 0o640)
        os.chmod(os.path.join(top, "sub"), 0o750)
        os.utime(os.path.join(top, "sub"), ns=(1_500_000_000_000_000_000,) * 2)
        self.sync()
        before = st.snapshot(top, with_xattrs=False)
        vs = self.versions("tree")
        self.assertEqual(len(vs), 1)
        self.assertEqual(vs[0]["type"], "folder")
        shutil.rmtree(top)
        self.sync()
        self.run_cmd("restore", top)
        self.assertEqual(st.snapshot(top, with_xattrs=False), before)
        # --to an existing folder: into it under its own name; the tree now has
        # two versions (the current one is the restore), and the restore of the
        # current tree with --at now lands elsewhere.
        dest = self.v.path("elsewhere")
        os.mkdir(dest)
        self.run_cmd("restore", top, "--to", dest)
        self.assertEqual(st.snapshot(os.path.join(dest, "tree"), with_xattrs=False), before)
        # A file inside the deleted folder, by its own path.
        self.run_cmd("restore", os.path.join(top, "sub", "deeper", "f.txt"), "--to",
                     self.v.path("f-copy.txt"))
        self.assertEqual(self.read(self.v.path("f-copy.txt")), b"deep file\n" * 1000)

    def test_hard_links_restored_as_files(self):
        top = self.v.path("linked")
        os.makedirs(os.path.join(top, "sub"))
        first = os.urandom(70_000)
        with open(os.path.join(top, "a.bin"), "wb") as f:
            f.write(first)
        os.chmod(os.path.join(top, "a.bin"), 0o640)
        os.link(os.path.join(top, "a.bin"), os.path.join(top, "sub", "b.bin"))
        self.sync()
        time.sleep(1.1)  # --at below names this second
        second = os.urandom(5_000)
        with open(os.path.join(top, "sub", "b.bin"), "r+b") as f:  # through the other name
            f.write(second)
        self.sync()
        # Each name's history follows the file's record: two versions.
        for name in ("linked/a.bin", "linked/sub/b.bin"):
            vs = self.versions(name)
            self.assertEqual([v["size"] for v in vs], [70_000, 70_000], vs)
            self.assertEqual(vs[0]["type"], "file")
        now = second + first[len(second):]
        shutil.rmtree(top)
        self.sync()
        # The folder: each name back as a file of its own with the file's content.
        p = self.run_cmd("restore", top)
        self.assertEqual(self.read(os.path.join(top, "a.bin")), now)
        self.assertEqual(self.read(os.path.join(top, "sub", "b.bin")), now)
        a, b = os.lstat(os.path.join(top, "a.bin")), os.lstat(os.path.join(top, "sub", "b.bin"))
        self.assertEqual(stat.S_IMODE(a.st_mode), 0o640)
        self.assertNotEqual(a.st_ino, b.st_ino)  # the link is not made again
        self.assertEqual((a.st_nlink, b.st_nlink), (1, 1))
        self.assertIn("2 files", p.stdout)
        # One name, at the version before the change.
        vs = self.versions("linked/sub/b.bin")
        self.assertEqual(len(vs), 3, vs)  # the restore is a new file (new keys)
        self.run_cmd("restore", os.path.join(top, "sub", "b.bin"), "--at",
                     "@%d" % vs[2]["time"], "--to", self.v.path("b-first.bin"))
        self.assertEqual(self.read(self.v.path("b-first.bin")), first)

    def test_at_time(self):
        self.write("t.txt", b"one")
        time.sleep(1.1)
        at = int(time.time())
        time.sleep(1.1)
        self.write("t.txt", b"two")
        self.write("t.txt", b"three")
        self.assertEqual(len(self.versions("t.txt")), 3)
        self.run_cmd("restore", self.v.path("t.txt"), "--at", "@%d" % at, "--to",
                     self.v.path("t-at.txt"))
        self.assertEqual(self.read(self.v.path("t-at.txt")), b"one")
        p = self.run_cmd("restore", self.v.path("t.txt"), "--at", "@1000", check=False)
        self.assertEqual(p.returncode, EXIT_NO_VERSION, p.stderr)
        p = self.run_cmd("history", self.v.path("never-was.txt"), check=False)
        self.assertEqual(p.returncode, EXIT_NO_VERSION, p.stderr)
        # Never overwrites.
        p = self.run_cmd("restore", self.v.path("t.txt"), "--to", self.v.path("t-at.txt"),
                         check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.read(self.v.path("t-at.txt")), b"one")

    def test_zz_fsck_all_heads_after_churn(self):
        for i in range(3):
            self.write("churn-%d" % (i % 2), os.urandom(5000 + i))
        os.unlink(self.v.path("churn-0"))
        self.sync()
        self.v.unmount()
        p = st.sealfs("fsck", self.v.store, "--all-heads", "--passphrase-file", self.v.passfile,
                      "--json", check=False, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        doc = json.loads(p.stdout)
        self.assertGreater(doc["counts"]["heads"], 5)
        # info --unlock names the window history reaches back in (init's defaults).
        p = st.sealfs("info", self.v.store, "--unlock", "--passphrase-file", self.v.passfile)
        self.assertIn("keeps history: 30 days (2592000 s); deletes after a grace of 900 s\n",
                      p.stdout)


class Window(unittest.TestCase):
    """The retention window: `sealfs init --keep-days/--grace` sets the first
    head's keep and gr, `sealfs config` changes them (refused while the vault
    is mounted), `info --unlock` shows them and the mount's thinning follows
    the new window."""

    def info(self, v):
        p = st.sealfs("info", v.store, "--unlock", "--passphrase-file", v.passfile)
        return [l for l in p.stdout.splitlines() if l.startswith("keeps history:")]

    def config(self, v, *args, check=True):
        return st.sealfs("config", v.store, *args, "--passphrase-file", v.passfile,
                         "--cache", v.cache, check=check, timeout=60)

    def versions(self, v, name):
        p = st.sealfs("history", v.path(name), "--json", "--passphrase-file", v.passfile,
                      timeout=60)
        return json.loads(p.stdout)["versions"]

    def write(self, v, name, data):
        with open(v.path(name), "wb") as f:
            f.write(data)
        st.sealfs("sync", v.mnt, "--timeout", "60")

    def objects(self, v):
        return sum(len(files) for _, _, files in os.walk(os.path.join(v.store, "o")))

    def test_config_window_followed(self):
        if not fault_build():
            self.skipTest("sealfs built without -Dfault_injection=true (slot=0)")
        os.environ["SEALFS_FAULT"] = "slot=0"  # every commit a retained head
        self.addCleanup(os.environ.pop, "SEALFS_FAULT", None)
        v = st.Vault("config")
        self.addCleanup(v.cleanup)
        v.init()
        self.assertEqual(self.config(v).stdout, "keep-days 30\ngrace 900\n")
        v.mount()
        for i in range(4):
            self.write(v, "f.bin", os.urandom(100_000 + i))
        self.assertEqual(len(self.versions(v, "f.bin")), 4)
        # Mounted here: refused, the head untouched.
        head = History.read(os.path.join(v.store, "head"))
        p = self.config(v, "keep-days", "0", check=False)
        self.assertEqual(p.returncode, st.EXIT_MOUNTPOINT, p.stderr)
        self.assertIn("unmount it before changing its settings", p.stderr)
        self.assertEqual(History.read(os.path.join(v.store, "head")), head)
        v.unmount()
        before = self.objects(v)
        p = self.config(v, "keep-days", "0", "grace", "0")
        self.assertIn("keep-days 0\n  grace 0\n", p.stdout)
        self.assertEqual(self.info(v), ["keeps history: 0 days (0 s); deletes after a grace "
                                        "of 0 s"])
        # The head it replaced is kept (a retained head), nothing deleted yet.
        p = st.sealfs("fsck", v.store, "--all-heads", "--json", "--passphrase-file",
                      v.passfile, check=False, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(json.loads(p.stdout)["counts"]["heads"], 6)
        v.mount()
        self.assertEqual(len(self.versions(v, "f.bin")), 4)
        # Two commits: the first drops every head older than the window (0 s),
        # the second the head the mount opened (thinning runs at most once a
        # second for so short a window); grace 0 deletes their objects.
        self.write(v, "g.txt", b"one")
        time.sleep(1.1)
        self.write(v, "g.txt", b"two")
        vs = self.versions(v, "f.bin")
        self.assertEqual(len(vs), 1, vs)
        self.assertTrue(vs[0]["current"])
        v.unmount()
        self.assertLess(self.objects(v), before - 2)
        p = st.sealfs("fsck", v.store, "--all-heads", "--json", "--passphrase-file",
                      v.passfile, check=False, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertLessEqual(json.loads(p.stdout)["counts"]["heads"], 2)
        # Back to a long window: later heads are kept again.
        self.config(v, "keep-days", "3650")
        v.mount()
        for i in range(3):
            self.write(v, "f.bin", os.urandom(1000 + i))
        self.assertEqual(len(self.versions(v, "f.bin")), 4)
        v.unmount()

    def test_init_window(self):
        v = st.Vault("window")
        try:
            p = st.sealfs("init", v.store, "--passphrase-file", v.passfile, "--keep-days", "3651",
                          *st.FAST_KDF, check=False)
            self.assertEqual(p.returncode, st.EXIT_USAGE, p.stderr)
            self.assertIn("--keep-days: 3651 is out of range (0 to 3650)", p.stderr)
            self.assertFalse(os.path.exists(os.path.join(v.store, "sealfs.json")))
            st.sealfs("init", v.store, "--passphrase-file", v.passfile, "--keep-days", "7",
                      "--grace", "60", *st.FAST_KDF)
            self.assertEqual(self.info(v), ["keeps history: 7 days (604800 s); deletes after "
                                            "a grace of 60 s"])
        finally:
            v.cleanup()


class Format1Refused(unittest.TestCase):

    def test_history_and_restore_refused(self):
        v = st.Vault("history1")
        try:
            shutil.copytree(GOLDEN1, v.store)
            with open(v.passfile, "w") as f:
                f.write("sealfs golden vault\n")
            dev = Device(v, "a")
            dev.mount()
            try:
                for cmd in ("history", "restore"):
                    p = st.sealfs(cmd, os.path.join(dev.mnt, "hello.txt"), "--passphrase-file",
                                  v.passfile, check=False, timeout=60)
                    self.assertEqual(p.returncode, EXIT_NEEDS_FORMAT2, p.stderr)
                    self.assertIn("needs a format-2 vault (sealfs upgrade)", p.stderr)
                    self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            finally:
                dev.unmount()
            p = st.sealfs("config", v.store, "keep-days", "5", "--passphrase-file",
                          v.passfile, check=False)
            self.assertEqual(p.returncode, EXIT_NEEDS_FORMAT2, p.stderr)
            self.assertEqual(p.stderr, "sealfs: config needs a format-2 vault (sealfs upgrade)\n")
            p = st.sealfs("history", os.path.join(v.root, "hello.txt"), check=False)
            self.assertEqual(p.returncode, 15, p.stderr)  # not inside a sealfs mount
        finally:
            v.cleanup()


if __name__ == "__main__":
    st.main()
