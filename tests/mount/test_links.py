"""Hard links on a sealfs mount (docs/FORMAT.md "Inode table", docs/INTERNALS.md
"Hard links"): a format-2 vault gives a file several names that share one
inode (st_ino, st_nlink, content, attributes), across directories, through
renames and unlinks, while open, across remounts with a fresh cache, under
`cp -al` and `git clone` of a local repository, and fsck stays clean; a
format-3 vault gives symlinks, FIFOs, sockets and device nodes several names
too, which a format-2 vault refuses; a format-1 vault refuses link with EPERM
and one log line naming `sealfs upgrade`."""

import errno
import glob
import os
import re
import shutil
import stat as stat_mod
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st
from sealfstest.devices import Device

GOLDEN1 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "crypto",
                       "golden-aes256gcm")
GOLDEN2 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "crypto",
                       "golden-v2-aes256gcm")


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(p, data, mode="wb"):
    with open(p, mode) as f:
        f.write(data)


class Links(st.VaultTestCase):
    tag = "links"

    def d(self, *parts):
        return self.v.path(*parts)

    def fresh_remount(self, name):
        """Unmount, then mount on a new empty cache: everything from the store."""
        self.v.unmount()
        self.v.mount(cache=os.path.join(self.v.root, name))

    def fsck_clean(self):
        self.v.unmount()
        p = st.sealfs("fsck", self.v.store, "--passphrase-file", self.v.passfile)
        self.assertIn(": clean", p.stdout)
        p = st.sealfs("fsck", self.v.store, "--passphrase-file", self.v.passfile, "--repair")
        self.assertIn(": clean", p.stdout)  # nothing deleted as an orphan either
        self.v.mount()

    def test_fsck_checks_a_linked_files_segments_and_repair_leaves_them(self):
        a = self.d("dmg-a")
        write(a, os.urandom(3 * 4096))  # one segment of 3 chunks: a size nothing else has
        os.link(a, self.d("dmg-b"))
        self.v.unmount()
        segs = [p for p in glob.glob(os.path.join(self.v.store, "o", "*", "*"))
                if os.path.getsize(p) in (3 * 4124, 3 * 4136)]
        self.assertEqual(len(segs), 1, segs)
        good = read(segs[0])
        write(segs[0], bytes([good[0] ^ 1]) + good[1:])
        try:
            fsck = lambda *a: st.sealfs("fsck", self.v.store, "--passphrase-file",
                                        self.v.passfile, *a, check=False)
            p = fsck()
            self.assertEqual(p.returncode, 20, p.stdout + p.stderr)
            self.assertIn("damaged: /dmg-", p.stdout)
            p = fsck("--repair")
            self.assertEqual(p.returncode, 20, p.stdout + p.stderr)
            self.assertIn("not repaired: a file with several names", p.stdout)
            self.assertTrue(os.path.exists(segs[0]))  # left alone, not deleted
        finally:
            write(segs[0], good)
        p = st.sealfs("fsck", self.v.store, "--passphrase-file", self.v.passfile)
        self.assertIn(": clean", p.stdout)
        self.v.mount()
        self.assertEqual(os.stat(a).st_nlink, 2)

    def fsck_counts(self):
        """fsck's (files, symlinks and special files) of the whole vault."""
        self.v.unmount()
        p = st.sealfs("fsck", self.v.store, "--passphrase-file", self.v.passfile)
        self.v.mount()
        m = re.search(r" (\d+) files, (\d+) symlinks", p.stdout)
        self.assertTrue(m, p.stdout)
        return int(m.group(1)), int(m.group(2))

    def make_special(self, kind, p):
        if kind == "symlink":
            os.symlink("some/target", p)
        elif kind == "fifo":
            os.mkfifo(p, 0o640)
        elif kind == "socket":
            import socket
            s = socket.socket(socket.AF_UNIX)
            s.bind(p)
            s.close()
        else:
            os.mknod(p, 0o600 | (stat_mod.S_IFCHR if kind == "char" else stat_mod.S_IFBLK),
                     os.makedev(7, 9))

    def test_link_of_symlinks_fifos_sockets_and_devices(self):
        """Format 3: every non-directory takes a second name (docs/FORMAT.md
        "Inode table"): one inode, type, rdev, target and link count through
        both names, across a fresh-cache remount, and fsck stays clean."""
        kinds = ("symlink", "fifo", "socket", "char", "block")
        counts = self.fsck_counts()
        os.mkdir(self.d("sp"))
        os.mkdir(self.d("sp", "sub"))
        seen = {}
        for kind in kinds:
            a, b, c = self.d("sp", kind), self.d("sp", kind + "-2"), self.d("sp", "sub", kind)
            self.make_special(kind, a)
            os.link(a, b, follow_symlinks=False)
            os.link(b, c, follow_symlinks=False)
            s = os.lstat(a)
            seen[kind] = (stat_mod.S_IFMT(s.st_mode), s.st_ino, s.st_rdev)
            for p in (a, b, c):
                t = os.lstat(p)
                self.assertEqual((stat_mod.S_IFMT(t.st_mode), t.st_ino, t.st_rdev, t.st_nlink),
                                 seen[kind] + (3,), p)
            os.lchown(b, 123, 456)
            self.assertEqual((os.lstat(c).st_uid, os.lstat(c).st_gid), (123, 456))
        self.assertEqual(os.readlink(self.d("sp", "sub", "symlink")), "some/target")
        with os.scandir(self.d("sp")) as it:  # readdir's d_type is the file's type
            types = {e.name: (e.is_symlink(), e.is_file(follow_symlinks=False)) for e in it}
        self.assertEqual(types["symlink-2"], (True, False))
        self.assertEqual(types["fifo-2"], (False, False))
        os.unlink(self.d("sp", "fifo"))
        os.unlink(self.d("sp", "sub", "char"))
        self.fresh_remount("cache-links-special")
        for kind in kinds:
            names = [self.d("sp", kind), self.d("sp", kind + "-2"), self.d("sp", "sub", kind)]
            names = [p for p in names if os.path.lexists(p)]
            for p in names:
                t = os.lstat(p)
                self.assertEqual((stat_mod.S_IFMT(t.st_mode), t.st_ino, t.st_rdev, t.st_nlink),
                                 seen[kind] + (len(names),), p)
                self.assertEqual((t.st_uid, t.st_gid), (123, 456), p)
        self.assertEqual(os.readlink(self.d("sp", "symlink-2")), "some/target")
        self.assertEqual(self.fsck_counts(), (counts[0], counts[1] + 5))  # records: their type
        self.fsck_clean()

    def test_link_shares_inode_content_and_attributes(self):
        os.mkdir(self.d("la"))
        os.mkdir(self.d("lb"))
        a, b, c = self.d("la", "one-name"), self.d("la", "two-name"), self.d("lb", "three-name")
        write(a, b"hello")
        ino = os.stat(a).st_ino
        os.link(a, b)
        os.link(b, c)  # across directories, from a name that is already a link
        for p in (a, b, c):
            s = os.stat(p)
            self.assertEqual((s.st_ino, s.st_nlink), (ino, 3), p)
        write(c, b" world", "ab")
        self.assertEqual(read(a), b"hello world")
        os.chmod(b, 0o600)
        self.assertEqual(os.stat(a).st_mode & 0o777, 0o600)
        with open(a, "r+b") as f1, open(c, "rb") as f2:  # one content through two names
            f1.write(b"HELLO")
            f1.flush()
            self.assertEqual(f2.read(), b"HELLO world")
        with self.assertRaises(FileExistsError):
            os.link(a, c)
        with self.assertRaises(OSError) as cm:
            os.link(self.d("la"), self.d("lb", "dir-link"))
        self.assertEqual(cm.exception.errno, errno.EPERM)
        os.unlink(a)
        self.assertEqual(os.stat(b).st_nlink, 2)
        self.assertEqual(read(b), b"HELLO world")
        self.fresh_remount("cache-links-1")
        self.assertEqual(sorted(os.listdir(self.d("la"))), ["two-name"])
        self.assertEqual((os.stat(b).st_ino, os.stat(b).st_nlink), (ino, 2))
        self.assertEqual(os.stat(c).st_ino, ino)
        self.assertEqual(read(c), b"HELLO world")
        self.assertEqual(os.stat(c).st_mode & 0o777, 0o600)
        self.fsck_clean()

    def test_renames(self):
        os.mkdir(self.d("rn"))
        a, b = self.d("rn", "first"), self.d("rn", "second")
        write(a, b"linked")
        os.link(a, b)
        os.rename(a, b)  # two names of one file: POSIX says nothing happens
        self.assertEqual(sorted(os.listdir(self.d("rn"))), ["first", "second"])
        self.assertEqual(os.stat(a).st_nlink, 2)
        other = self.d("rn", "other")
        write(other, b"other")
        os.rename(other, b)  # over a link: the file loses that name
        self.assertEqual(read(b), b"other")
        self.assertEqual((os.stat(a).st_nlink, os.stat(b).st_nlink), (1, 1))
        self.assertEqual(read(a), b"linked")
        os.link(a, self.d("rn", "again"))
        os.rename(self.d("rn", "again"), self.d("moved-link"))  # a link moves elsewhere
        self.assertEqual(os.stat(self.d("moved-link")).st_ino, os.stat(a).st_ino)
        os.rename(a, self.d("rn", "renamed"))  # and the other name moves too
        self.fresh_remount("cache-links-2")
        self.assertEqual(sorted(os.listdir(self.d("rn"))), ["renamed", "second"])
        self.assertEqual(read(self.d("moved-link")), b"linked")
        self.assertEqual(os.stat(self.d("rn", "renamed")).st_nlink, 2)
        os.unlink(self.d("moved-link"))  # one name left: an ordinary entry once sealed
        write(self.d("rn", "touch"), b"x")
        self.fresh_remount("cache-links-3")
        self.assertEqual(os.stat(self.d("rn", "renamed")).st_nlink, 1)
        self.assertEqual(read(self.d("rn", "renamed")), b"linked")
        self.fsck_clean()

    def test_unlink_every_name_while_open(self):
        a, b = self.d("open-one"), self.d("open-two")
        data = os.urandom(300000)
        write(a, data)
        os.link(a, b)
        self.fresh_remount("cache-links-4")
        with open(b, "rb") as f:
            os.unlink(a)
            os.unlink(b)
            self.assertFalse(os.path.exists(a) or os.path.exists(b))
            self.assertEqual(os.fstat(f.fileno()).st_nlink, 0)
            self.assertEqual(f.read(), data)
        self.fsck_clean()

    @unittest.skipUnless(os.geteuid() == 0, "a read-only bind mount of the store needs root")
    def test_crash_with_links_only_in_the_journal(self):
        """link and a write, fsync'ed while the store refuses writes (a
        read-only bind mount: the journal alone holds the table's pages),
        then the daemon killed: the next mount on that cache replays them,
        and the store gets them at unmount."""
        cache = os.path.join(self.v.root, "cache-crash")
        self.v.unmount()
        st.run(["mount", "--bind", self.v.store, self.v.store])
        try:
            self.v.mount(cache=cache)
            a, b = self.d("crash-a"), self.d("crash-b")
            write(a, b"before")
            self.v.unmount()  # stored
            st.run(["mount", "-o", "remount,bind,ro", self.v.store])
            head = read(os.path.join(self.v.store, "head"))
            self.v.mount(cache=cache)
            os.link(a, b)
            with open(b, "ab") as f:
                f.write(b" after")
                f.flush()
                os.fsync(f.fileno())
            st.kill_daemon(self.v)
            self.assertEqual(read(os.path.join(self.v.store, "head")), head)  # journal only
            st.run(["mount", "-o", "remount,bind,rw", self.v.store])
            self.v.mount(cache=cache)
            self.assertEqual((os.stat(a).st_nlink, os.stat(a).st_ino), (2, os.stat(b).st_ino))
            self.assertEqual(read(a), b"before after")
            self.v.unmount()
        finally:
            st.run(["umount", "-l", self.v.store], check=False)
        self.v.mount(cache=os.path.join(self.v.root, "cache-crash-2"))
        self.assertEqual(os.stat(self.d("crash-b")).st_nlink, 2)
        self.assertEqual(read(self.d("crash-b")), b"before after")
        self.fsck_clean()

    def test_cp_al_and_git_clone(self):
        src = self.d("tree-src")
        os.makedirs(os.path.join(src, "sub"))
        for i in range(20):
            write(os.path.join(src, "sub" if i % 2 else "", "f%d" % i), b"%d" % i * 100)
        subprocess.run(["cp", "-al", src, self.d("tree-copy")], check=True, timeout=60)
        for i in range(20):
            rel = os.path.join("sub" if i % 2 else "", "f%d" % i)
            s1, s2 = os.stat(os.path.join(src, rel)), os.stat(self.d("tree-copy", rel))
            self.assertEqual((s1.st_ino, s1.st_nlink), (s2.st_ino, 2))
        if shutil.which("git"):
            env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=self.v.root,
                       GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                       GIT_COMMITTER_EMAIL="t@t")
            repo = self.d("repo")
            git = lambda *a, cwd=None: subprocess.run(["git"] + list(a), check=True, env=env,
                                                     cwd=cwd, timeout=60,
                                                     stdout=subprocess.DEVNULL)
            git("init", "-q", repo)
            write(os.path.join(repo, "file"), b"content")
            git("add", "file", cwd=repo)
            git("commit", "-q", "-m", "one", cwd=repo)
            git("clone", "-q", "--local", repo, self.d("clone"))  # hard-links objects
            objs = os.path.join(self.d("clone"), ".git", "objects")
            linked = [os.path.join(r, f) for r, _, fs in os.walk(objs) for f in fs
                      if os.stat(os.path.join(r, f)).st_nlink == 2]
            self.assertTrue(linked, "git clone --local made no hard link")
            self.assertEqual(read(os.path.join(self.d("clone"), "file")), b"content")
            git("fsck", "--strict", cwd=self.d("clone"))
        self.fresh_remount("cache-links-5")
        self.assertEqual(os.stat(self.d("tree-copy", "sub", "f1")).st_nlink, 2)
        self.fsck_clean()


class TwoDevices(unittest.TestCase):
    """Two devices and hard links (docs/CLI.md "Several devices"): the merge
    carries an inode table neither device changed, and merges names and
    records when both write where the names are (the rules themselves:
    tests/fs/test_merge_links.c, tests/mount/test_devices.py)."""

    def linked_pair(self, v):
        a, b = Device(v, "a", "--poll", "0"), Device(v, "b", "--poll", "0")
        a.mount()
        os.mkdir(a.path("linked"))
        write(a.path("linked", "one"), b"linked")
        os.link(a.path("linked", "one"), a.path("linked", "two"))
        self.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        b.mount()
        self.assertEqual(os.stat(b.path("linked", "two")).st_nlink, 2)
        self.assertEqual(read(b.path("linked", "two")), b"linked")
        return a, b

    def test_merge_carries_untouched_links(self):
        v = st.Vault("links3")
        try:
            v.init()
            a, b = self.linked_pair(v)
            write(a.path("from-a"), b"a")
            self.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
            write(b.path("from-b"), b"b")
            p = st.sealfs("sync", b.mnt, check=False)
            self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
            self.assertIn("merged this device's commits", b.log_text())
            self.assertEqual(b.unmount().returncode, 0)
            self.assertEqual(a.unmount().returncode, 0)
            c = Device(v, "c")
            c.mount()
            self.assertEqual(sorted(os.listdir(c.mnt)), ["from-a", "from-b", "linked"])
            self.assertEqual(os.stat(c.path("linked", "one")).st_nlink, 2)
            self.assertEqual(os.stat(c.path("linked", "one")).st_ino,
                             os.stat(c.path("linked", "two")).st_ino)
            self.assertEqual(read(c.path("linked", "two")), b"linked")
            c.unmount()
            p = st.sealfs("fsck", v.store, "--all-heads", "--passphrase-file", v.passfile,
                          check=False, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            v.cleanup()

    def test_merge_links_directory_on_both(self):
        """Both devices write in the directory that holds the names: the
        merge (of the inode tables too: merge_links.c) keeps both files and
        the links; before, the second device's upload stopped."""
        v = st.Vault("links2")
        try:
            v.init()
            a, b = self.linked_pair(v)
            write(a.path("linked", "from-a"), b"a")
            self.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
            write(b.path("linked", "from-b"), b"b")  # the links' directory, on both
            p = st.sealfs("sync", b.mnt, check=False)
            self.assertEqual(p.returncode, 0, p.stderr + b.log_text())
            self.assertNotIn("cannot be merged", b.log_text())
            self.assertEqual(b.unmount().returncode, 0)
            self.assertEqual(a.unmount().returncode, 0)
            self.assertFalse(st.journal_records(b.cache), "B's commits were not all stored")
            c = Device(v, "c2")
            c.mount()
            self.assertEqual(sorted(os.listdir(c.path("linked"))),
                             ["from-a", "from-b", "one", "two"])
            self.assertEqual(os.stat(c.path("linked", "one")).st_nlink, 2)
            self.assertEqual(read(c.path("linked", "from-b")), b"b")
            c.unmount()
            p = st.sealfs("fsck", v.store, "--all-heads", "--passphrase-file", v.passfile,
                          check=False, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            v.cleanup()


class Format2(unittest.TestCase):
    def test_link_of_a_symlink_or_fifo_refused_with_one_log_line(self):
        """A format-2 vault keeps its records regular files: EPERM and one
        line naming `sealfs upgrade`; a regular file still links."""
        v = st.Vault("links2")
        try:
            shutil.copytree(GOLDEN2, v.store)
            with open(v.passfile, "w") as f:
                f.write("sealfs golden vault\n")
            v.passphrase = "sealfs golden vault"
            dev = Device(v, "a")
            dev.mount()
            os.symlink("t", dev.path("sl"))
            os.mkfifo(dev.path("ff"))
            for src in ("sl", "ff", "sl"):
                with self.assertRaises(OSError) as cm:
                    os.link(dev.path(src), dev.path(src + "-2"), follow_symlinks=False)
                self.assertEqual(cm.exception.errno, errno.EPERM)
            self.assertEqual(os.lstat(dev.path("sl")).st_nlink, 1)
            write(dev.path("reg"), b"x")
            os.link(dev.path("reg"), dev.path("reg-2"))
            self.assertEqual(os.stat(dev.path("reg")).st_nlink, 2)
            dev.unmount()
            lines = [ln for ln in dev.log_text().splitlines() if "sealfs upgrade" in ln]
            self.assertEqual(len(lines), 1, dev.log_text())
            self.assertIn("format-3", lines[0])
            # what the line says works: upgraded, the same vault links them
            st.sealfs("upgrade", v.store, "--passphrase-file", v.passfile, "--cache", dev.cache)
            dev.mount()
            os.link(dev.path("ff"), dev.path("ff-2"))
            os.link(dev.path("sl"), dev.path("sl-2"), follow_symlinks=False)
            self.assertEqual(os.lstat(dev.path("sl")).st_nlink, 2)
            self.assertEqual(os.readlink(dev.path("sl-2")), "t")
            dev.unmount()
        finally:
            v.cleanup()


class Format1(unittest.TestCase):
    def test_link_refused_with_one_log_line(self):
        v = st.Vault("links1")
        try:
            shutil.copytree(GOLDEN1, v.store)
            with open(v.passfile, "w") as f:
                f.write("sealfs golden vault\n")
            v.passphrase = "sealfs golden vault"
            dev = Device(v, "a")
            dev.mount()
            for name in ("hard", "hard2"):
                with self.assertRaises(OSError) as cm:
                    os.link(dev.path("hello.txt"), dev.path(name))
                self.assertEqual(cm.exception.errno, errno.EPERM)
            self.assertEqual(os.stat(dev.path("hello.txt")).st_nlink, 1)
            dev.unmount()
            lines = [ln for ln in dev.log_text().splitlines() if "sealfs upgrade" in ln]
            self.assertEqual(len(lines), 1, dev.log_text())
            self.assertIn("hard links", lines[0])
        finally:
            v.cleanup()


if __name__ == "__main__":
    st.main()
