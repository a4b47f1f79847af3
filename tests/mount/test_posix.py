"""POSIX behaviour of a sealfs mount, one test per behaviour: mmap, concurrent
writers and appenders, sparse and >4 GiB files, names, deep paths, big
directories, renames, rmdir, symlinks, metadata with nanoseconds, truncate,
xattrs, locks, statfs, open flags, hard links. Anything that must persist is
checked again after a remount."""

import errno
import fcntl
import mmap
import os
import shutil
import stat
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st
from sealfstest.posix import RENAME_EXCHANGE, RENAME_NOREPLACE, renameat2

MIB = 1024 * 1024
GIB = 1024 * MIB


def pattern(seed, n):
    """n deterministic bytes that differ per seed and per position."""
    block = bytes((seed * 131 + i * 7 + (i >> 8)) & 0xFF for i in range(4096))
    return (block * (n // 4096 + 1))[:n]


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def write_file(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def run_children(fn, count):
    """Runs fn(i) in count forked children; fails unless every child exits 0."""
    pids = []
    for i in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                fn(i)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "child failed"


class Posix(st.VaultTestCase):
    tag = "posix"

    def test_mmap_read_and_shared_write_msync(self):
        p = self.v.path("mapped.bin")
        data = bytearray(pattern(1, 2 * MIB + 12345))
        write_file(p, data)
        with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
            self.assertEqual(m[:], bytes(data))
        with open(p, "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
            for off in (0, 4095, 4096, MIB - 1, MIB, 2 * MIB + 12000):
                m[off:off + 300] = b"\xa5" * len(m[off:off + 300])
                end = min(off + 300, len(data))
                data[off:end] = b"\xa5" * (end - off)
            m.flush()
        self.assertEqual(read_all(p), bytes(data))
        self.v.remount()
        self.assertEqual(read_all(p), bytes(data))
        with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as m:
            self.assertEqual(m[:], bytes(data))

    def test_concurrent_writers_disjoint_ranges(self):
        p = self.v.path("shared.bin")
        part = 300 * 1024 + 17  # not chunk aligned: neighbours share chunks
        writers = 4
        with open(p, "wb") as f:
            f.truncate(part * writers)

        def writer(i):
            fd = os.open(p, os.O_WRONLY)
            data = pattern(i + 10, part)
            for off in range(0, part, 5000):
                os.pwrite(fd, data[off:off + 5000], i * part + off)
            os.close(fd)
        run_children(writer, writers)
        expect = b"".join(pattern(i + 10, part) for i in range(writers))
        self.assertEqual(read_all(p), expect)
        self.v.remount()
        self.assertEqual(read_all(p), expect)

    def test_concurrent_appenders_lose_no_line(self):
        p = self.v.path("log.txt")
        write_file(p, b"")
        writers, lines = 4, 400

        def appender(i):
            fd = os.open(p, os.O_WRONLY | os.O_APPEND)
            for j in range(lines):
                os.write(fd, ("writer %d line %04d %s\n" % (i, j, "x" * (j % 37))).encode())
            os.close(fd)
        run_children(appender, writers)
        got = read_all(p).decode().splitlines()
        self.assertEqual(len(got), writers * lines)
        want = sorted("writer %d line %04d %s" % (i, j, "x" * (j % 37))
                      for i in range(writers) for j in range(lines))
        self.assertEqual(sorted(got), want)
        for i in range(writers):  # each writer's lines stay in its order
            mine = [line for line in got if line.startswith("writer %d " % i)]
            self.assertEqual(mine, sorted(mine))

    def test_sparse_file_holes_read_as_zeros(self):
        p = self.v.path("sparse.bin")
        fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(fd, b"head", 0)
        os.pwrite(fd, b"middle", 3 * MIB + 5)
        os.pwrite(fd, b"tail", 10 * MIB)
        os.close(fd)
        self.assertEqual(os.stat(p).st_size, 10 * MIB + 4)
        data = read_all(p)
        self.assertEqual(data[:4], b"head")
        self.assertEqual(data[4:3 * MIB + 5], bytes(3 * MIB + 1))
        self.assertEqual(data[3 * MIB + 5:3 * MIB + 11], b"middle")
        self.assertEqual(data[3 * MIB + 11:10 * MIB], bytes(10 * MIB - 3 * MIB - 11))
        self.v.remount()
        self.assertEqual(read_all(p), data)

    def test_file_past_4_gib_stays_sparse_in_store(self):
        p = self.v.path("huge.bin")
        before = sum(os.path.getsize(os.path.join(d, f))
                     for d, _, fs in os.walk(self.v.store) for f in fs)
        fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(fd, b"beyond4g", 5 * GIB)
        os.close(fd)
        self.assertEqual(os.stat(p).st_size, 5 * GIB + 8)
        self.v.remount()
        self.assertEqual(os.stat(p).st_size, 5 * GIB + 8)
        fd = os.open(p, os.O_RDONLY)
        self.assertEqual(os.pread(fd, 16, 5 * GIB - 8), bytes(8) + b"beyond4g")
        self.assertEqual(os.pread(fd, 4096, 4 * GIB), bytes(4096))
        os.close(fd)
        after = sum(os.path.getsize(os.path.join(d, f))
                    for d, _, fs in os.walk(self.v.store) for f in fs)
        self.assertLess(after - before, 4 * MIB, "store grew by %d bytes" % (after - before))
        os.unlink(p)

    def test_unicode_and_255_byte_names(self):
        d = self.v.path("names")
        os.mkdir(d)
        names = ["héllo wörld ✓ 日本語.txt", "emoji-😀-name", "a" * 255,
                 "é" * 127 + "a", "spaces and\ttab", "\u00e9" + "x" * 253]
        for n in names:
            self.assertLessEqual(len(n.encode()), 255)
            write_file(os.path.join(d, n), n.encode())
        with self.assertRaises(OSError) as cm:
            write_file(os.path.join(d, "b" * 256), b"")
        self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG)
        with self.assertRaises(OSError) as cm:
            os.mkdir(os.path.join(d, "é" * 128))
        self.assertEqual(cm.exception.errno, errno.ENAMETOOLONG)
        self.assertEqual(sorted(os.listdir(d)), sorted(names))
        self.v.remount()
        self.assertEqual(sorted(os.listdir(d)), sorted(names))
        for n in names:
            self.assertEqual(read_all(os.path.join(d, n)), n.encode())
        shutil.rmtree(d)

    def test_deep_path_50_levels(self):
        parts = ["level%02d" % i for i in range(50)]
        deep = self.v.path("deep", *parts)
        os.makedirs(deep)
        write_file(os.path.join(deep, "bottom.txt"), b"deep down")
        self.v.remount()
        self.assertEqual(read_all(os.path.join(deep, "bottom.txt")), b"deep down")
        shutil.rmtree(self.v.path("deep"))

    def test_directory_of_10000_entries(self):
        d = self.v.path("big")
        os.mkdir(d)
        for i in range(10000):
            os.close(os.open(os.path.join(d, "entry-%05d" % i), os.O_CREAT | os.O_WRONLY,
                             0o644))
        self.assertEqual(len(os.listdir(d)), 10000)
        self.v.remount()
        names = os.listdir(d)
        self.assertEqual(len(names), 10000)
        self.assertEqual(sorted(names), ["entry-%05d" % i for i in range(10000)])
        shutil.rmtree(d)
        self.assertFalse(os.path.exists(d))

    def test_rename_over_noreplace_exchange(self):
        a, b = self.v.path("ren-a"), self.v.path("ren-b")
        write_file(a, b"AAA")
        write_file(b, b"BBBB")
        renameat2(a, b, RENAME_EXCHANGE)
        self.assertEqual(read_all(a), b"BBBB")
        self.assertEqual(read_all(b), b"AAA")
        with self.assertRaises(OSError) as cm:
            renameat2(a, b, RENAME_NOREPLACE)
        self.assertEqual(cm.exception.errno, errno.EEXIST)
        renameat2(a, self.v.path("ren-c"), RENAME_NOREPLACE)
        os.rename(self.v.path("ren-c"), b)  # over an existing file
        self.assertFalse(os.path.exists(a))
        self.assertEqual(read_all(b), b"BBBB")
        os.mkdir(self.v.path("ren-d1"))
        os.mkdir(self.v.path("ren-d2"))
        write_file(self.v.path("ren-d1", "f"), b"in d1")
        renameat2(self.v.path("ren-d1"), self.v.path("ren-d2"), RENAME_EXCHANGE)
        self.assertEqual(read_all(self.v.path("ren-d2", "f")), b"in d1")
        os.rename(b, self.v.path("ren-d2", "moved"))
        self.v.remount()
        self.assertEqual(read_all(self.v.path("ren-d2", "moved")), b"BBBB")
        self.assertEqual(os.listdir(self.v.path("ren-d1")), [])
        shutil.rmtree(self.v.path("ren-d1"))
        shutil.rmtree(self.v.path("ren-d2"))

    def test_rmdir_non_empty_is_enotempty(self):
        d = self.v.path("full")
        os.mkdir(d)
        write_file(os.path.join(d, "x"), b"x")
        with self.assertRaises(OSError) as cm:
            os.rmdir(d)
        self.assertEqual(cm.exception.errno, errno.ENOTEMPTY)
        os.unlink(os.path.join(d, "x"))
        os.rmdir(d)

    def test_symlinks(self):
        write_file(self.v.path("link-target"), b"target content")
        os.symlink("link-target", self.v.path("link"))
        os.symlink("/nowhere/at/all", self.v.path("dangling"))
        long_target = "t/" * 1000 + "end"
        os.symlink(long_target, self.v.path("longlink"))
        self.assertEqual(read_all(self.v.path("link")), b"target content")
        self.assertTrue(stat.S_ISLNK(os.lstat(self.v.path("link")).st_mode))
        self.v.remount()
        self.assertEqual(os.readlink(self.v.path("link")), "link-target")
        self.assertEqual(os.readlink(self.v.path("dangling")), "/nowhere/at/all")
        self.assertEqual(os.readlink(self.v.path("longlink")), long_target)
        self.assertFalse(os.path.exists(self.v.path("dangling")))
        for n in ("link", "dangling", "longlink", "link-target"):
            os.unlink(self.v.path(n))

    def test_chmod_chown_utimens_nanoseconds_survive_remount(self):
        p, d = self.v.path("meta-file"), self.v.path("meta-dir")
        write_file(p, b"meta")
        os.mkdir(d)
        os.chown(p, 1234, 5678)  # chown first: it clears set-uid on files
        os.chown(d, 4321, 8765)
        os.chmod(p, 0o4751)
        os.chmod(d, 0o2710)
        os.utime(p, ns=(1_000_000_123, 1_600_000_000_987_654_321))
        os.utime(d, ns=(2_000_000_001, 1_500_000_000_000_000_007))
        os.symlink("meta-file", self.v.path("meta-link"))
        os.utime(self.v.path("meta-link"), ns=(5, 1_400_000_000_000_000_009),
                 follow_symlinks=False)
        self.v.remount()
        s = os.stat(p)
        self.assertEqual(stat.S_IMODE(s.st_mode), 0o4751)
        self.assertEqual((s.st_uid, s.st_gid), (1234, 5678))
        self.assertEqual(s.st_mtime_ns, 1_600_000_000_987_654_321)
        self.assertEqual(s.st_atime_ns, 1_000_000_123)
        s = os.stat(d)
        self.assertEqual(stat.S_IMODE(s.st_mode), 0o2710)
        self.assertEqual((s.st_uid, s.st_gid), (4321, 8765))
        self.assertEqual(s.st_mtime_ns, 1_500_000_000_000_000_007)
        s = os.lstat(self.v.path("meta-link"))
        self.assertEqual(s.st_mtime_ns, 1_400_000_000_000_000_009)
        os.unlink(self.v.path("meta-link"))
        os.unlink(p)
        os.rmdir(d)

    def test_truncate_grow_and_shrink(self):
        p = self.v.path("trunc.bin")
        data = pattern(3, 3 * MIB + 100)
        write_file(p, data)
        os.truncate(p, 5000)
        self.assertEqual(read_all(p), data[:5000])
        os.truncate(p, 2 * MIB)  # grown part reads as zeros, never old data
        self.assertEqual(read_all(p), data[:5000] + bytes(2 * MIB - 5000))
        with open(p, "r+b") as f:
            f.truncate(4097)
        self.v.remount()
        self.assertEqual(read_all(p), data[:4097])
        os.truncate(p, 0)
        self.assertEqual(os.stat(p).st_size, 0)
        os.truncate(p, 10)
        self.assertEqual(read_all(p), bytes(10))
        os.unlink(p)

    def test_user_xattrs_survive_remount(self):
        p = self.v.path("xattr-file")
        write_file(p, b"x")
        value = self.v.marker("xattrvalue").encode()
        os.setxattr(p, "user.one", value)
        os.setxattr(p, "user.two", b"\x00\x01binary\xff")
        os.setxattr(p, "user.empty", b"")
        os.setxattr(p, "user.gone", b"soon")
        os.removexattr(p, "user.gone")
        with self.assertRaises(OSError) as cm:
            os.setxattr(p, "user.one", b"new", os.XATTR_CREATE)
        self.assertEqual(cm.exception.errno, errno.EEXIST)
        with self.assertRaises(OSError) as cm:
            os.getxattr(p, "user.gone")
        self.assertEqual(cm.exception.errno, errno.ENODATA)
        self.v.remount()
        self.assertEqual(sorted(os.listxattr(p)), ["user.empty", "user.one", "user.two"])
        self.assertEqual(os.getxattr(p, "user.one"), value)
        self.assertEqual(os.getxattr(p, "user.two"), b"\x00\x01binary\xff")
        self.assertEqual(os.getxattr(p, "user.empty"), b"")
        os.removexattr(p, "user.one")
        self.assertEqual(sorted(os.listxattr(p)), ["user.empty", "user.two"])
        os.unlink(p)

    def lock_holder(self, p, kind):
        """Forks a child that takes a lock of kind on p and holds it until told."""
        r, w = os.pipe()
        r2, w2 = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(r)
                os.close(w2)
                fd = os.open(p, os.O_RDWR)
                if kind == "flock":
                    fcntl.flock(fd, fcntl.LOCK_EX)
                else:
                    fcntl.lockf(fd, fcntl.LOCK_EX, 100, 0)
                os.write(w, b"1")
                os.read(r2, 1)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        os.close(r2)
        self.assertEqual(os.read(r, 1), b"1")
        os.close(r)
        return pid, w2

    def test_flock_and_fcntl_locks_between_processes(self):
        p = self.v.path("locked")
        write_file(p, b"l" * 1000)
        for kind in ("flock", "fcntl"):
            pid, release = self.lock_holder(p, kind)
            fd = os.open(p, os.O_RDWR)
            try:
                with self.assertRaises(OSError) as cm:
                    if kind == "flock":
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    else:
                        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 50)
                self.assertIn(cm.exception.errno, (errno.EAGAIN, errno.EACCES))
                if kind == "fcntl":  # a range nobody holds is free
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 500)
                    fcntl.lockf(fd, fcntl.LOCK_UN, 10, 500)
                os.close(release)
                os.waitpid(pid, 0)
                if kind == "flock":
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                else:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 50)
            finally:
                os.close(fd)
        os.unlink(p)

    def test_statfs_is_sane(self):
        s = os.statvfs(self.v.mnt)
        self.assertGreater(s.f_bsize, 0)
        self.assertGreater(s.f_blocks, 0)
        self.assertLessEqual(s.f_bfree, s.f_blocks)
        self.assertLessEqual(s.f_bavail, s.f_bfree)
        self.assertEqual(s.f_namemax, 255)
        out = st.run(["df", "-P", self.v.mnt]).stdout
        self.assertIn(self.v.mnt, out)

    def test_open_excl_trunc_append(self):
        p = self.v.path("flags")
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"0123456789")
        os.close(fd)
        with self.assertRaises(OSError) as cm:
            os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.assertEqual(cm.exception.errno, errno.EEXIST)
        fd = os.open(p, os.O_WRONLY | os.O_APPEND)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"abc")
        os.close(fd)
        self.assertEqual(read_all(p), b"0123456789abc")
        fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
        self.assertEqual(os.fstat(fd).st_size, 0)
        os.write(fd, b"xy")
        os.close(fd)
        self.assertEqual(read_all(p), b"xy")
        self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), 0o600)
        os.unlink(p)

    def test_hard_link(self):
        # A format-2 vault (init's): link works (the cases: test_links.py;
        # format 1's EPERM: test_links.py Format1).
        p = self.v.path("haslink")
        write_file(p, b"x")
        os.link(p, self.v.path("haslink2"))
        self.assertEqual(os.stat(p).st_nlink, 2)
        self.assertEqual(read_all(self.v.path("haslink2")), b"x")
        os.unlink(p)
        self.assertEqual(os.stat(self.v.path("haslink2")).st_nlink, 1)
        os.unlink(self.v.path("haslink2"))

    def test_directory_nlink_counts_subdirectories(self):
        d = self.v.path("nlinkdir")
        os.mkdir(d)
        self.assertEqual(os.stat(d).st_nlink, 2)
        for n in ("sub-a", "sub-b", "sub-c"):
            os.mkdir(os.path.join(d, n))
        write_file(os.path.join(d, "plainfile"), b"x")  # files do not count
        os.symlink("sub-a", os.path.join(d, "symlink-to-sub"))
        self.assertEqual(os.stat(d).st_nlink, 5)
        self.assertEqual(os.stat(os.path.join(d, "sub-a")).st_nlink, 2)
        os.rmdir(os.path.join(d, "sub-c"))
        self.assertEqual(os.stat(d).st_nlink, 4)
        other = self.v.path("nlinkother")
        os.mkdir(other)
        os.rename(os.path.join(d, "sub-b"), os.path.join(other, "moved-sub"))
        self.assertEqual(os.stat(d).st_nlink, 3)
        self.assertEqual(os.stat(other).st_nlink, 3)
        self.v.remount()
        os.listdir(d)  # known once its children were read in this mount
        self.assertEqual(os.stat(d).st_nlink, 3)
        fd = os.open(os.path.join(d, "sub-a"), os.O_RDONLY | os.O_DIRECTORY)
        os.rmdir(os.path.join(d, "sub-a"))
        self.assertEqual(os.fstat(fd).st_nlink, 0)
        os.close(fd)
        self.assertEqual(os.stat(d).st_nlink, 2)
        shutil.rmtree(d)
        shutil.rmtree(other)

    def test_st_blocks_counts_what_is_stored(self):
        p = self.v.path("blocks.bin")
        fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
        # A present segment stores every chunk of its range (FORMAT.md,
        # "Segments"); holes store nothing.
        os.pwrite(fd, b"h" * 5000, 0)  # segment 0: a full 1 MiB
        os.pwrite(fd, b"t", 10 * MIB)  # segment 10, the last: 1 byte -> 4 KiB
        os.fsync(fd)
        os.close(fd)
        want = (MIB + 4096) // 512  # segments 1..9 are holes
        self.assertEqual(os.stat(p).st_blocks, want)
        self.v.remount()
        self.assertEqual(os.stat(p).st_blocks, want)  # cold: from the segment keys
        with open(p, "r+b") as f:  # warm: from the open content
            f.seek(3 * MIB)
            f.write(b"m")
            f.flush()
            os.fsync(f.fileno())
            # The kernel keeps attributes for their 1 s timeout.
            deadline = time.monotonic() + 3
            while (os.fstat(f.fileno()).st_blocks != want + MIB // 512
                   and time.monotonic() < deadline):
                time.sleep(0.1)
            self.assertEqual(os.fstat(f.fileno()).st_blocks, want + MIB // 512)
        os.truncate(p, 0)
        self.assertEqual(os.stat(p).st_blocks, 0)
        full = self.v.path("dense.bin")
        write_file(full, b"z" * (MIB + 1))
        self.assertEqual(os.stat(full).st_blocks, (MIB + 4096) // 512)
        os.unlink(p)
        os.unlink(full)

    def test_times_move_forward_on_write(self):
        p = self.v.path("clock")
        write_file(p, b"a")
        os.utime(p, ns=(0, 0))
        write_file(p, b"b", "ab")
        self.assertGreater(os.stat(p).st_mtime, time.time() - 600)
        os.unlink(p)


if __name__ == "__main__":
    st.main()
