"""Two devices on one vault in a local directory store (issue #12): two
mounts with two caches both write. The head is replaced only by
compare-and-swap (a flock on STORE/head.lock). On a format-1 vault (a copy
of the golden one) the second device's upload stops loudly instead of
replacing the first device's commits, keeps its own in its journal, and its
cache refuses a read-write remount; on a format-2 vault it merges its
commits onto the store's head, and a third device sees both (see
sealfstest/devices.py). With the old unconditional head PUT the fresh mount
missed the first device's file. Hard links: both devices link and edit
linked files, both merge (hard_links_merge), a third device sees the merged
names and counts, fsck --all-heads is clean; with --poll, a mount shows
another device's links, unlinks and edits of linked files in place
(hard_links_poll); on a format-3 vault, of symlinks and FIFOs too, with
their type, target and inode (special_links_poll)."""

import os
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import devices, mount as st


def hard_links_merge(t, v):
    """Two devices of a format-2 vault v (initialised, not mounted) make hard
    links and edit linked files over one head; the second one's upload merges
    (before the merge of inode tables it stopped with "hard links"). A third
    device sees every name, the counts from the merged names, the later edit
    of a file both edited and the other as a conflict copy, and a name deleted
    on one device of a file the other edited. fsck --all-heads is clean."""
    a = devices.Device(v, "la", "--device-name", "laptop", "--poll", "0")
    b = devices.Device(v, "lb", "--device-name", "desktop", "--poll", "0")
    a.mount()
    for name in ("f.txt", "g", "h.txt"):
        t.assertEqual(devices.write(a.path(name), b"base " + name.encode()), 0)
    os.mkdir(a.path("d"))
    os.link(a.path("g"), a.path("g2"))
    os.link(a.path("h.txt"), a.path("d", "h2.txt"))
    t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
    b.mount()
    t.assertEqual(os.stat(b.path("g")).st_nlink, 2)
    # A: a new name of f.txt in d, an edit of g, an edit of h.txt.
    os.link(a.path("f.txt"), a.path("d", "f-a"))
    t.assertEqual(devices.write(a.path("g"), b"a's g"), 0)
    t.assertEqual(devices.write(a.path("h.txt"), b"a's h"), 0)
    p = st.sealfs("sync", a.mnt, check=False)
    t.assertEqual(p.returncode, 0, p.stderr + a.log_text())
    time.sleep(0.02)  # B's edit of h.txt is the later one
    # B: another new name of f.txt, g2 unlinked (A edited g: it stays), an
    # edit of h.txt through its other name, a new file with two names.
    os.link(b.path("f.txt"), b.path("f-b"))
    os.unlink(b.path("g2"))
    t.assertEqual(devices.write(b.path("d", "h2.txt"), b"b's h"), 0)
    t.assertEqual(devices.write(b.path("n"), b"new n"), 0)
    os.link(b.path("n"), b.path("d", "n2"))
    p = st.sealfs("sync", b.mnt, check=False)
    t.assertEqual(p.returncode, 0, p.stderr + b.log_text())
    s = devices.status(b.mnt)
    t.assertFalse(s["head_conflict"], s)
    t.assertFalse(s["conflict_links"], s)
    t.assertGreaterEqual(s["merges"], 1, s)
    t.assertIn(devices.MERGED, b.log_text())
    t.assertEqual(b.unmount().returncode, 0)
    t.assertEqual(a.unmount().returncode, 0)
    t.assertFalse(st.journal_records(b.cache), "B's commits were not all stored")

    c = devices.Device(v, "lc", "--poll", "0")
    c.mount()
    try:
        names = [c.path("f.txt"), c.path("d", "f-a"), c.path("f-b")]
        for n in names:
            t.assertEqual(devices.read(n), b"base f.txt")
            t.assertEqual(os.stat(n).st_nlink, 3, n)
        t.assertEqual(len({os.stat(n).st_ino for n in names}), 1)
        for n in (c.path("g"), c.path("g2")):
            t.assertEqual(devices.read(n), b"a's g")
            t.assertEqual(os.stat(n).st_nlink, 2, n)
        for n in (c.path("h.txt"), c.path("d", "h2.txt")):
            t.assertEqual(devices.read(n), b"b's h")
            t.assertEqual(os.stat(n).st_nlink, 2, n)
        copies = [n for n in os.listdir(c.path("d")) + os.listdir(c.mnt)
                  if " (conflict from laptop " in n]
        t.assertEqual(len(copies), 1, (os.listdir(c.mnt), os.listdir(c.path("d"))))
        where = c.mnt if copies[0] in os.listdir(c.mnt) else c.path("d")
        t.assertEqual(devices.read(os.path.join(where, copies[0])), b"a's h")
        t.assertEqual(os.stat(os.path.join(where, copies[0])).st_nlink, 1)
        for n in (c.path("n"), c.path("d", "n2")):
            t.assertEqual(devices.read(n), b"new n")
            t.assertEqual(os.stat(n).st_nlink, 2, n)
        # The merged tree keeps working: a new link and an unlink on it.
        os.link(c.path("n"), c.path("n3"))
        os.unlink(c.path("f-b"))
        t.assertEqual(os.stat(c.path("f.txt")).st_nlink, 2)
    finally:
        t.assertEqual(c.unmount().returncode, 0)
    devices.all_heads_clean(t, v)


def nlink(path):
    return os.stat(path).st_nlink


def gone_within(path, seconds):
    """Whether path stops existing within seconds."""
    deadline = time.monotonic() + seconds
    while os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def hard_links_poll(t, v):
    """Two mounts of a format-2 vault v polling every second: links, unlinks
    and edits of linked files on one show on the other without a remount
    (before, a poll refused to refresh a vault with an inode table, and the
    other mount showed nothing new until a remount); a handle open on a
    linked file keeps the version it opened; the refreshed mount writes on."""
    a = devices.Device(v, "qa", "--poll", "1")
    b = devices.Device(v, "qb", "--poll", "1")
    a.mount()
    t.assertEqual(devices.write(a.path("f"), b"one"), 0)
    t.assertEqual(devices.write(a.path("g"), b"gee"), 0)
    os.mkdir(a.path("d"))
    os.link(a.path("g"), a.path("d", "g2"))
    t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
    b.mount()
    try:
        t.assertEqual(devices.read(b.path("f")), b"one")
        t.assertEqual(nlink(b.path("g")), 2)
        t.assertFalse(os.path.exists(b.path("d", "n2")))
        fd = os.open(b.path("g"), os.O_RDONLY)
        try:
            t.assertEqual(os.read(fd, 16), b"gee")
            os.link(a.path("f"), a.path("d", "f2"))  # f: one name to two
            t.assertEqual(devices.write(a.path("g"), b"gee two"), 0)
            t.assertEqual(devices.write(a.path("n"), b"en"), 0)
            os.link(a.path("n"), a.path("d", "n2"))
            p = st.sealfs("sync", a.mnt, check=False)
            t.assertEqual(p.returncode, 0, p.stderr)
            t.assertIsNotNone(devices.wait_for(b.path("d", "n2"), 15), b.log_text())
            t.assertEqual(devices.read(b.path("d", "f2")), b"one")
            t.assertEqual(nlink(b.path("f")), 2)
            t.assertEqual(os.stat(b.path("f")).st_ino, os.stat(b.path("d", "f2")).st_ino)
            t.assertEqual(devices.read(b.path("g")), b"gee two")
            t.assertEqual(devices.read(b.path("d", "g2")), b"gee two")
            t.assertEqual(nlink(b.path("n")), 2)
            os.lseek(fd, 0, os.SEEK_SET)
            t.assertEqual(os.read(fd, 16), b"gee")  # the version it opened
        finally:
            os.close(fd)
        # A change that leaves the inode table as it is: linked files stay.
        t.assertEqual(devices.write(a.path("plain"), b"p"), 0)
        t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        t.assertIsNotNone(devices.wait_for(b.path("plain"), 15), b.log_text())
        t.assertEqual(nlink(b.path("d", "g2")), 2)
        t.assertEqual(devices.read(b.path("d", "g2")), b"gee two")
        # Back to one name, and a linked file gone entirely.
        os.unlink(a.path("d", "f2"))
        os.unlink(a.path("n"))
        os.unlink(a.path("d", "n2"))
        t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        t.assertTrue(gone_within(b.path("d", "n2"), 15), b.log_text())
        t.assertFalse(os.path.exists(b.path("n")))
        t.assertFalse(os.path.exists(b.path("d", "f2")))
        t.assertEqual(nlink(b.path("f")), 1)
        t.assertEqual(devices.read(b.path("f")), b"one")
        # The refreshed mount writes on: a third name of g shows on A.
        os.link(b.path("g"), b.path("g3"))
        p = st.sealfs("sync", b.mnt, check=False)
        t.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        t.assertIsNotNone(devices.wait_for(a.path("g3"), 15), a.log_text())
        t.assertEqual(nlink(a.path("g")), 3)
        t.assertEqual(devices.read(a.path("g3")), b"gee two")
    finally:
        t.assertEqual(b.unmount().returncode, 0)
        t.assertEqual(a.unmount().returncode, 0)
    devices.all_heads_clean(t, v)


def lgone_within(path, seconds):
    """Whether path (not followed) stops existing within seconds."""
    deadline = time.monotonic() + seconds
    while os.path.lexists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def lwait_for(path, seconds):
    """Whether path (not followed: a dangling symlink counts) exists within seconds."""
    deadline = time.monotonic() + seconds
    while not os.path.lexists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def special_links_poll(t, v):
    """Two mounts of a format-3 vault v polling every second: A links a
    symlink and a FIFO; B shows both new names as the same inode, of the
    right type, the symlink's target kept, without a remount (before, B's
    refresh read the inode table under format-2 rules, which refuse a
    record of another type than a regular file); B unlinks a name, A shows
    it gone and the FIFO back to one name. A fresh mount sees the same and
    fsck --all-heads is clean."""
    a = devices.Device(v, "sa", "--poll", "1")
    b = devices.Device(v, "sb", "--poll", "1")
    a.mount()
    os.symlink("target-1", a.path("sl"))
    os.mkfifo(a.path("ff"))
    os.mkdir(a.path("d"))
    t.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
    b.mount()
    try:
        t.assertEqual(os.readlink(b.path("sl")), "target-1")
        ino_sl, ino_ff = os.lstat(b.path("sl")).st_ino, os.lstat(b.path("ff")).st_ino
        os.link(a.path("sl"), a.path("d", "sl2"), follow_symlinks=False)
        os.link(a.path("ff"), a.path("ff2"))
        p = st.sealfs("sync", a.mnt, check=False)
        t.assertEqual(p.returncode, 0, p.stderr + a.log_text())
        t.assertTrue(lwait_for(b.path("ff2"), 15), b.log_text())
        t.assertTrue(lwait_for(b.path("d", "sl2"), 15), b.log_text())
        for n in (b.path("sl"), b.path("d", "sl2")):
            s = os.lstat(n)
            t.assertTrue(stat.S_ISLNK(s.st_mode), n)
            t.assertEqual(os.readlink(n), "target-1")
            t.assertEqual((s.st_nlink, s.st_ino), (2, ino_sl), n)  # the kernel's node kept
        for n in (b.path("ff"), b.path("ff2")):
            s = os.lstat(n)
            t.assertTrue(stat.S_ISFIFO(s.st_mode), n)
            t.assertEqual((s.st_nlink, s.st_ino), (2, ino_ff), n)
        os.unlink(b.path("ff2"))
        p = st.sealfs("sync", b.mnt, check=False)
        t.assertEqual(p.returncode, 0, p.stderr + b.log_text())
        t.assertTrue(lgone_within(a.path("ff2"), 15), a.log_text())
        s = os.lstat(a.path("ff"))
        t.assertTrue(stat.S_ISFIFO(s.st_mode))
        t.assertEqual(s.st_nlink, 1)
        t.assertEqual(os.lstat(a.path("d", "sl2")).st_nlink, 2)
        t.assertEqual(os.readlink(a.path("d", "sl2")), "target-1")
    finally:
        t.assertEqual(b.unmount().returncode, 0)
        t.assertEqual(a.unmount().returncode, 0)
    c = devices.Device(v, "sc", "--poll", "0")
    c.mount()
    try:
        t.assertEqual(sorted(os.listdir(c.mnt)), ["d", "ff", "sl"])
        t.assertEqual(os.readlink(c.path("d", "sl2")), "target-1")
        t.assertEqual(os.lstat(c.path("sl")).st_nlink, 2)
        t.assertEqual(os.lstat(c.path("sl")).st_ino, os.lstat(c.path("d", "sl2")).st_ino)
        s = os.lstat(c.path("ff"))
        t.assertTrue(stat.S_ISFIFO(s.st_mode))
        t.assertEqual(s.st_nlink, 1)
    finally:
        t.assertEqual(c.unmount().returncode, 0)
    devices.all_heads_clean(t, v)


class TwoDevices(unittest.TestCase):
    def test_format1_second_device_stops_loudly(self):
        v = st.Vault("devices")
        try:
            devices.format1_store(v)
            devices.two_devices(self, v)
            self.assertTrue(os.path.isfile(os.path.join(v.store, "head.lock")))
        finally:
            v.cleanup()

    def test_format2_poll_shows_changes(self):
        v = st.Vault("devpoll")
        try:
            v.init()
            took = devices.poll_devices(self, v)
            self.assertLess(took, 10)
        finally:
            v.cleanup()

    def test_format2_offline_device_merges_at_mount(self):
        v = st.Vault("devoff")
        try:
            v.init()
            devices.offline_device(self, v)
        finally:
            v.cleanup()

    def test_format2_history_across_devices(self):
        v = st.Vault("devhist")
        try:
            v.init()
            devices.three_each(self, v)
        finally:
            v.cleanup()

    def test_format2_crash_after_merge_keeps_garbage(self):
        if not devices.fault_build():
            self.skipTest("sealfs built without -Dfault_injection=true (die=merged-finish)")
        v = st.Vault("devcrash")
        try:
            devices.crash_after_merge(self, v)
        finally:
            v.cleanup()

    def test_format2_hard_links_merge(self):
        v = st.Vault("devlinks")
        try:
            v.init()
            hard_links_merge(self, v)
        finally:
            v.cleanup()

    def test_format2_hard_links_poll(self):
        v = st.Vault("devlpoll")
        try:
            v.init()
            hard_links_poll(self, v)
        finally:
            v.cleanup()

    def test_format3_special_links_poll(self):
        v = st.Vault("devspoll")
        try:
            v.init()
            special_links_poll(self, v)
        finally:
            v.cleanup()

    def test_format2_second_device_merges(self):
        v = st.Vault("devmerge")
        try:
            v.init()
            devices.merge_devices(self, v)
        finally:
            v.cleanup()


if __name__ == "__main__":
    st.main()
