"""sealfstest.devices - two devices writing one vault (issue #12): two
mounts of one store with two caches, both writing.

- two_devices, a format-1 vault (format1_store: a copy of the golden vault):
  the first device's commits must survive whole; the second device's upload
  must stop loudly (sync exit 17, fsync EIO with --fsync-store, one log
  line, status head_conflict, unmount exit 17), keep its commits in its
  cache's journal, refuse a read-write remount of that cache and show its
  commits read-only.
- merge_devices, a format-2 vault: the second device's refused head is
  merged onto the store's; a third device sees both devices' files, a file
  both changed gives a conflict copy, delete vs edit keeps the edit.

Used by tests/mount/test_devices.py (local store) and
tests/s3mount/test_devices.py (s3rver). Standard library only.
"""

import errno
import json
import os
import shutil
import subprocess
import time

from . import mount as st

CONFLICT = "changed by another device"
MERGED = "merged this device's commits"
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "crypto",
                      "golden-aes256gcm")
GOLDEN_PASS = "sealfs golden vault"


def format1_store(v):
    """Makes v's store a copy of the format-1 golden vault (instead of
    v.init()), with its passphrase in v.passfile."""
    shutil.copytree(GOLDEN, v.store)
    with open(v.passfile, "w") as f:
        f.write(GOLDEN_PASS)


def write(path, data, fsync=True):
    """Writes data; returns the errno of fsync (0: none)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        if fsync:
            try:
                os.fsync(fd)
            except OSError as e:
                return e.errno
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    return 0


def read(path):
    with open(path, "rb") as f:
        return f.read()


def status(mnt):
    p = st.sealfs("status", mnt, "--json")
    return json.loads(p.stdout)


class Device:
    """One mount of the vault's store at its own mountpoint with its own
    cache, in the foreground (its log in a file)."""

    def __init__(self, v, name, *extra):
        self.v = v
        self.mnt = os.path.join(v.root, "mnt-" + name)
        self.cache = os.path.join(v.root, "cache-" + name)
        self.log = os.path.join(v.root, "log-" + name)
        self.extra = list(extra)
        os.makedirs(self.mnt, exist_ok=True)
        if hasattr(v, "caches"):
            v.caches.append(self.cache)  # the S3 vault's leak scan
        self.proc = None

    def mount(self, *more, check=True):
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [st.SEALFS, "mount", self.v.store, self.mnt, "--cache", self.cache,
                 "--passphrase-file", self.v.passfile] + self.extra + list(more) + ["-f"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        if hasattr(self.v, "pids"):
            self.v.pids.add(self.proc.pid)
        deadline = time.monotonic() + 60
        while st.mount_type(self.mnt) != "fuse.sealfs":
            if self.proc.poll() is not None:
                if check:
                    raise AssertionError("mount exited %d: %s" % (self.proc.returncode,
                                                                 self.log_text()))
                return self.proc.returncode
            if time.monotonic() > deadline:
                raise AssertionError("no mount after 60 s: " + self.log_text())
            time.sleep(0.05)
        return 0

    def unmount(self):
        p = st.sealfs("unmount", self.mnt, check=False)
        if self.proc:
            self.proc.wait(timeout=120)
        return p

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)


def two_devices(t, v, extra=()):
    """The scenario on vault v (initialised, not mounted); t is the
    unittest.TestCase. extra: more mount options for both devices."""
    shared = b"shared-" + os.urandom(200000)
    a_data = b"a-file-" + os.urandom(300000)
    b_data = b"b-file-" + os.urandom(100000)
    a = Device(v, "a", *extra)
    b = Device(v, "b", "--fsync-store", *extra)
    a.mount()
    t.assertEqual(write(a.path("shared"), shared), 0)
    p = st.sealfs("sync", a.mnt, check=False)
    t.assertEqual(p.returncode, 0, p.stdout + p.stderr + a.log_text())
    b.mount()
    t.assertEqual(read(b.path("shared")), shared)
    # A commits; then B, built on the head before A's, must not replace it.
    t.assertEqual(write(a.path("a-dir", "a-file"), a_data), 0)
    t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
    err = write(b.path("shared"), b"rewritten by b")
    t.assertEqual(err, errno.EIO, "B's fsync with --fsync-store: %s" % os.strerror(err))
    p = st.sealfs("sync", b.mnt, check=False)
    t.assertEqual(p.returncode, st.EXIT_STORE_IO, p.stderr)
    t.assertIn(CONFLICT, p.stderr)
    s = status(b.mnt)
    t.assertTrue(s["head_conflict"], s)
    t.assertGreater(s["conflict_seq"], 0)
    t.assertIn(CONFLICT, st.sealfs("status", b.mnt).stdout)
    # B keeps serving reads and local writes (journaled).
    t.assertEqual(write(b.path("b-file"), b_data, fsync=False), 0)
    t.assertEqual(read(b.path("b-file")), b_data)
    t.assertEqual(read(b.path("shared")), b"rewritten by b")
    p = b.unmount()
    t.assertEqual(p.returncode, st.EXIT_STORE_IO, p.stderr)
    t.assertIn(CONFLICT, p.stderr)
    t.assertEqual(b.log_text().count(CONFLICT), 1, b.log_text())
    t.assertTrue(st.journal_records(b.cache), "B's journal lost its commits")
    t.assertEqual(a.unmount().returncode, 0)

    # A's commits are whole in the store: a fresh device sees them.
    c = Device(v, "c", *extra)
    c.mount()
    t.assertEqual(read(c.path("shared")), shared)
    t.assertEqual(read(c.path("a-dir", "a-file")), a_data)
    t.assertFalse(os.path.exists(c.path("b-file")))
    t.assertEqual(c.unmount().returncode, 0)

    # B's cache: a read-write mount is refused, and nothing of it is
    # uploaded or deleted; read-only, it shows B's own commits.
    # (twice: a refused mount once moved the rollback guard past its own
    # commits, and the next try mounted, dropped them and deleted garbage)
    for _ in range(2):
        rc = b.mount(check=False)
        t.assertEqual(rc, st.EXIT_STORE_IO, b.log_text())
    t.assertEqual(b.log_text().count("another device wrote to the store"), 2, b.log_text())
    b.mount("-o", "ro")
    t.assertEqual(read(b.path("b-file")), b_data)
    t.assertEqual(read(b.path("shared")), b"rewritten by b")
    t.assertFalse(os.path.exists(b.path("a-dir")))
    p = b.unmount()
    t.assertEqual(p.returncode, st.EXIT_STORE_IO, p.stderr)
    t.assertTrue(st.journal_records(b.cache))

    c.mount()
    t.assertEqual(read(c.path("shared")), shared)
    t.assertEqual(read(c.path("a-dir", "a-file")), a_data)
    t.assertEqual(c.unmount().returncode, 0)
    # Nothing A's head reaches was deleted (B's upload left orphans only).
    p = st.sealfs("fsck", v.store, "--passphrase-file", v.passfile, check=False)
    t.assertIn(p.returncode, (0, 21), p.stdout + p.stderr)


def merge_devices(t, v, extra=()):
    """Two devices of a format-2 vault v (initialised, not mounted) write at
    once; the second one's uploader merges. t is the unittest.TestCase."""
    shared = b"shared-" + os.urandom(200000)
    a_data = b"a-file-" + os.urandom(300000)
    b_data = b"b-file-" + os.urandom(100000)
    a = Device(v, "a", *extra)
    b = Device(v, "b", "--fsync-store", *extra)
    a.mount()
    t.assertEqual(write(a.path("shared"), shared), 0)
    t.assertEqual(write(a.path("both.txt"), b"base"), 0)
    t.assertEqual(write(a.path("del-edit"), b"base"), 0)
    t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
    b.mount()
    t.assertEqual(read(b.path("shared")), shared)
    # A commits first; B, built on the head before A's, merges onto it.
    t.assertEqual(write(a.path("a-dir", "a-file"), a_data), 0)
    t.assertEqual(write(a.path("both.txt"), b"a's edit"), 0)
    os.unlink(a.path("del-edit"))
    t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
    time.sleep(0.01)  # B's edit is the later one by mtime
    t.assertEqual(write(b.path("b-file"), b_data), 0, "B's fsync with --fsync-store")
    t.assertEqual(write(b.path("both.txt"), b"b's edit"), 0)
    t.assertEqual(write(b.path("del-edit"), b"b's edit"), 0)
    p = st.sealfs("sync", b.mnt, check=False)
    t.assertEqual(p.returncode, 0, p.stderr)
    s = status(b.mnt)
    t.assertFalse(s["head_conflict"], s)
    t.assertGreaterEqual(s["merges"], 1, s)
    t.assertGreater(s["last_merge_time"], 0, s)
    t.assertIn("last merge:", st.sealfs("status", b.mnt).stdout)
    t.assertIn(MERGED, b.log_text())
    t.assertEqual(b.unmount().returncode, 0)
    t.assertEqual(a.unmount().returncode, 0)
    t.assertFalse(st.journal_records(b.cache), "B's commits were not all stored")

    # A third device sees both devices' files, merged by the rules.
    c = Device(v, "c", *extra)
    c.mount()
    t.assertEqual(read(c.path("shared")), shared)
    t.assertEqual(read(c.path("a-dir", "a-file")), a_data)
    t.assertEqual(read(c.path("b-file")), b_data)
    t.assertEqual(read(c.path("both.txt")), b"b's edit")
    copies = [n for n in os.listdir(c.mnt) if n.startswith("both (conflict from ")]
    t.assertEqual(len(copies), 1, os.listdir(c.mnt))
    t.assertTrue(copies[0].endswith(").txt"), copies)
    t.assertEqual(read(c.path(copies[0])), b"a's edit")
    t.assertEqual(read(c.path("del-edit")), b"b's edit")
    t.assertEqual(c.unmount().returncode, 0)
    # B's cache mounts again read-write and shows the merged tree.
    b.mount()
    t.assertEqual(read(b.path("a-dir", "a-file")), a_data)
    t.assertEqual(b.unmount().returncode, 0)
    # Every retained head whole, every object reached or listed (the merged
    # head continues the store's history and lists what it dropped).
    all_heads_clean(t, v)


def all_heads_clean(t, v):
    """fsck --all-heads of v's store: no damage, nothing missing, no orphan."""
    p = st.sealfs("fsck", v.store, "--all-heads", "--passphrase-file", v.passfile,
                  check=False, timeout=120)
    t.assertEqual(p.returncode, 0, p.stdout + p.stderr)


def history_devices(v, path):
    """The device names of the versions `sealfs history` lists for path."""
    p = st.sealfs("history", path, "--json", "--passphrase-file", v.passfile, timeout=120)
    return [x["device"] for x in json.loads(p.stdout)["versions"]]


def three_each(t, v, extra=()):
    """Two devices of a format-2 vault v each write three files (a sync
    each) over one head, then both unmount; the second one's upload merges.
    Then churn: both rewrite one file in turns (merges both ways). Every
    retained head stays whole and reached, and the retained heads come from
    both devices."""
    a = Device(v, "ta", "--device-name", "laptop", "--poll", "0", *extra)
    b = Device(v, "tb", "--device-name", "desktop", "--poll", "0", *extra)
    a.mount()
    b.mount()
    for d in (a, b):
        for i in range(3):
            t.assertEqual(write(d.path("%s%d" % (d.mnt[-2:], i)), b"x" * (i + 1)), 0)
            p = st.sealfs("sync", d.mnt, check=False)
            t.assertEqual(p.returncode, 0, p.stderr + d.log_text())
    t.assertIn(MERGED, b.log_text())
    t.assertEqual(a.unmount().returncode, 0)
    t.assertEqual(b.unmount().returncode, 0)
    all_heads_clean(t, v)
    a.mount()
    b.mount()
    for i in range(3):
        for d in (a, b):
            t.assertEqual(write(d.path("shared"), b"%s %d" % (d.mnt[-2:].encode(), i)), 0)
            p = st.sealfs("sync", d.mnt, check=False)
            t.assertEqual(p.returncode, 0, p.stderr + d.log_text())
    # Merged heads thin the history as commits do (the newest head of each
    # minute): the retained heads, not necessarily the file's versions,
    # come from both devices.
    devs = history_devices(v, a.mnt)
    t.assertIn("laptop", devs)
    t.assertIn("desktop", devs)
    t.assertIn("desktop", history_devices(v, a.path("shared")))
    t.assertEqual(a.unmount().returncode, 0)
    t.assertEqual(b.unmount().returncode, 0)
    all_heads_clean(t, v)


def fault_build():
    """sealfs was built with -Dfault_injection=true (SEALFS_FAULT works)."""
    return "fault-injection" in st.sealfs("--version").stdout


def crash_after_merge(t, v, extra=()):
    """A format-2 vault v (not initialised: done here with a grace of 0, so
    any deletion is at once): B stores f, A builds on that head and writes
    g, B rewrites f within one slot (f's first segment is dead for B's own
    history, but A's head reaches it) and merges; B's daemon ends right
    after the merged head and the pin went in, before its records are
    removed (SEALFS_FAULT die=merged-finish). B's next mount finishes that
    round: it must not delete the merged records' garbage. A, still showing
    its own head, reads f; every retained head is whole."""
    st.sealfs("init", v.store, "--passphrase-file", v.passfile, "--grace", "0", *st.FAST_KDF)
    a = Device(v, "ca", "--device-name", "laptop", "--poll", "0", *extra)
    b = Device(v, "cb", "--device-name", "desktop", "--poll", "0", *extra)
    os.environ["SEALFS_FAULT"] = "slot=1000000,die=merged-finish"
    try:
        b.mount()
    finally:
        os.environ.pop("SEALFS_FAULT", None)
    t.assertEqual(write(b.path("f"), b"b's first"), 0)
    t.assertEqual(st.sealfs("sync", b.mnt, check=False).returncode, 0)
    a.mount()
    t.assertEqual(write(a.path("g"), b"from a"), 0)
    t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
    t.assertEqual(write(b.path("f"), b"b's second"), 0)
    st.sealfs("sync", b.mnt, check=False)  # the daemon ends in the round
    t.assertEqual(b.proc.wait(timeout=60), 137, b.log_text())
    t.assertIn("the process ends at merged-finish", b.log_text())
    st.lazy_unmount_all(b.mnt)
    t.assertTrue(st.journal_records(b.cache), "the round removed its records")
    b.mount()
    p = st.sealfs("sync", b.mnt, check=False)
    t.assertEqual(p.returncode, 0, p.stderr + b.log_text())
    time.sleep(1)  # the uploader's idle deletions (grace 0)
    t.assertEqual(b.unmount().returncode, 0)
    t.assertEqual(read(a.path("f")), b"b's first")  # A still shows its head
    t.assertEqual(a.unmount().returncode, 0)
    all_heads_clean(t, v)


def wait_for(path, seconds):
    """Seconds until path exists, or None after seconds."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if os.path.exists(path):
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def poll_devices(t, v, extra=()):
    """Two mounts of a format-2 vault v (initialised, not mounted) polling
    every second: a change on one shows on the other within the interval
    (and the upload), without a remount; a file open and read on the other
    keeps its handle on what it read."""
    a = Device(v, "pa", "--poll", "1", *extra)
    b = Device(v, "pb", "--poll", "1", *extra)
    a.mount()
    t.assertEqual(write(a.path("f"), b"one"), 0)
    t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
    b.mount()
    t.assertEqual(read(b.path("f")), b"one")
    t.assertFalse(os.path.exists(b.path("new")))  # a negative entry in the kernel
    fd = os.open(b.path("f"), os.O_RDONLY)
    try:
        t.assertEqual(os.read(fd, 16), b"one")
        t.assertEqual(write(a.path("f"), b"two!"), 0)
        t.assertEqual(write(a.path("d", "new"), b"new"), 0)
        t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        took = wait_for(b.path("d", "new"), 10)
        t.assertIsNotNone(took, b.log_text())
        t.assertEqual(read(b.path("d", "new")), b"new")
        t.assertEqual(read(b.path("f")), b"two!")
        os.lseek(fd, 0, os.SEEK_SET)
        t.assertEqual(os.read(fd, 16), b"one")
    finally:
        os.close(fd)
    # And back: B's change shows on A.
    t.assertEqual(write(b.path("from-b"), b"b"), 0)
    t.assertEqual(st.sealfs("sync", b.mnt, check=False).returncode, 0)
    t.assertIsNotNone(wait_for(a.path("from-b"), 10), a.log_text())
    t.assertEqual(read(a.path("from-b")), b"b")
    t.assertEqual(a.unmount().returncode, 0)
    t.assertEqual(b.unmount().returncode, 0)
    c = Device(v, "pc", *extra)
    c.mount()
    t.assertEqual(read(c.path("f")), b"two!")
    t.assertEqual(read(c.path("d", "new")), b"new")
    t.assertEqual(read(c.path("from-b")), b"b")
    t.assertEqual(c.unmount().returncode, 0)
    return took


def offline_device(t, v, extra=()):
    """A device killed right after its fsyncs (its commits only in its
    cache's journal) while the other device goes on writing: at its next
    mount it merges them onto the store's head instead of refusing. Returns
    whether the killed device's journal held commits (else its uploader was
    faster than the kill and the merge happened online)."""
    a = Device(v, "oa", "--poll", "0", *extra)
    b = Device(v, "ob", "--poll", "0", *extra)
    b_data = b"b-file-" + os.urandom(50000)
    a.mount()
    t.assertEqual(write(a.path("both.txt"), b"base"), 0)
    t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
    b.mount()
    t.assertEqual(read(b.path("both.txt")), b"base")
    t.assertEqual(write(b.path("b-file"), b_data), 0)
    t.assertEqual(write(b.path("both.txt"), b"b's edit"), 0)
    b.proc.kill()
    b.proc.wait(timeout=30)
    st.lazy_unmount_all(b.mnt)
    had = bool(st.journal_records(b.cache))
    time.sleep(0.01)
    t.assertEqual(write(a.path("a-file"), b"from a"), 0)
    t.assertEqual(write(a.path("both.txt"), b"a's edit"), 0)
    t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
    b.mount()  # format 1 refused this (exit 17)
    p = st.sealfs("sync", b.mnt, check=False)
    t.assertEqual(p.returncode, 0, p.stderr + b.log_text())
    if had:
        t.assertIn("they are merged onto it", b.log_text())
    t.assertEqual(b.unmount().returncode, 0)
    t.assertEqual(a.unmount().returncode, 0)
    c = Device(v, "oc", *extra)
    c.mount()
    t.assertEqual(read(c.path("a-file")), b"from a")
    t.assertEqual(read(c.path("b-file")), b_data)
    t.assertEqual(read(c.path("both.txt")), b"a's edit")
    copies = [n for n in os.listdir(c.mnt) if n.startswith("both (conflict from ")]
    t.assertEqual(len(copies), 1, os.listdir(c.mnt))
    t.assertEqual(read(c.path(copies[0])), b"b's edit")
    t.assertEqual(c.unmount().returncode, 0)
    all_heads_clean(t, v)  # the merge at mount continued the history too
    return had
