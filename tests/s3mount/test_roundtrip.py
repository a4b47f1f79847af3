"""A vault in an S3 bucket (s3rver on loopback): a tree copied from
/usr/include (about TREE_BYTES) and one BIG_MIB random file go in through the
mount, with a directory whose sealed object is above the multipart threshold
(its xattrs); after `sealfs unmount` returns, a mount of the same bucket with
a fresh, empty cache gives back every byte (diff -r, sha256) and the metadata
(mode, owner, mtime in ns, link targets, xattrs). Then the bucket, as s3rver
keeps it on disk, and its request log hold no file name, symlink target,
xattr or marker string of the test.

Prints TIMING lines (MB/s into the mount, of the unmount, and of reading the
big file back from a fresh cache). SEALFS_S3_BIG_MIB overrides BIG_MIB:
tests/run-all.sh sets 1024 (a 1 GiB round trip, about 75 s on the 2-core
development machine) for its gcc build; the meson timeout (300 s) covers it.
"""

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, s3 as u

BIG_MIB = int(os.environ.get("SEALFS_S3_BIG_MIB", "256"))
TREE_SRC = "/usr/include"
TREE_BYTES = 20 * 1000 * 1000
NAME_NEEDLE_MIN = 8  # bytes: shorter file names occur in ciphertext by chance
COPY_CHUNK = u.MIB


def build_source_tree(v, dst):
    """Copies a deterministic subset of TREE_SRC (files in sorted walk order
    until TREE_BYTES, symlinks kept as links, dir times kept) to dst, plus a
    directory of entries named and filled with the vault's markers. Returns
    the number of regular files."""
    os.mkdir(dst)
    total = files = 0
    dirs = []
    if os.path.isdir(TREE_SRC):
        for dirpath, dirnames, filenames in os.walk(TREE_SRC):
            dirnames.sort()
            rel = os.path.relpath(dirpath, TREE_SRC)
            out = os.path.normpath(os.path.join(dst, rel))
            os.makedirs(out, exist_ok=True)
            dirs.append((dirpath, out))
            for n in sorted(filenames):
                src = os.path.join(dirpath, n)
                if os.path.islink(src):
                    os.symlink(os.readlink(src), os.path.join(out, n))
                elif os.path.isfile(src):
                    shutil.copy2(src, os.path.join(out, n))
                    total += os.path.getsize(src)
                    files += 1
                else:
                    continue
                if len(n.encode()) >= NAME_NEEDLE_MIN:
                    v.names.add(n.encode())
            if total >= TREE_BYTES:
                break
        for src, out in reversed(dirs):
            shutil.copystat(src, out)
    extras = os.path.join(dst, v.marker("dir"))
    os.mkdir(extras)
    secret = os.path.join(extras, v.marker("file"))
    u.write_file(secret, (v.marker("content") + "\n").encode() * 3000, fsync=False)
    os.chmod(secret, 0o640)
    os.utime(secret, ns=(1_000_000_001, 1_650_000_000_123_456_789))
    os.symlink(v.marker("target") + "/" + v.marker("target"), os.path.join(extras, "dangling"))
    u.write_file(os.path.join(extras, "empty"), b"", fsync=False)
    os.setxattr(secret, "user." + v.marker("xname"), v.marker("xvalue").encode())
    os.chmod(extras, 0o750)
    os.utime(extras, ns=(5, 1_600_000_000_000_000_007))
    return files + 2


def make_big(path, mib):
    """A file of mib MiB of random bytes; returns its sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(mib):
            b = os.urandom(u.MIB)
            h.update(b)
            f.write(b)
    return h.hexdigest()


def copy_in(src, dst):
    """Copies src to dst in COPY_CHUNK writes; returns (write seconds, fsync seconds)."""
    t0 = time.monotonic()
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while True:
            b = fi.read(COPY_CHUNK)
            if not b:
                break
            fo.write(b)
        fo.flush()
        t1 = time.monotonic()
        os.fsync(fo.fileno())
        t2 = time.monotonic()
    return t1 - t0, t2 - t1


def read_digest(path):
    """sha256 of path read in COPY_CHUNK reads; returns (digest, seconds)."""
    return u.timed(st.file_digest, path)


def mbps(nbytes, secs):
    return nbytes / 1e6 / secs if secs > 0 else float("inf")


class Roundtrip(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        u.require_s3rver()
        cls.root = u.tmp_root("roundtrip")
        cls.server = u.S3rver(cls.root)
        cls.names = set()
        cls.markers = []
        try:
            cls.server.start()
            u.use_endpoint(cls.server.endpoint, root=cls.root)
        except BaseException:
            cls.server.stop()
            shutil.rmtree(cls.root, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_1_fresh_cache_gives_back_tree_and_big_file(self):
        v = u.S3Vault("rt", self.server, "vault")
        try:
            self.roundtrip(v)
        except BaseException:
            u.log("--- s3rver log ---\n" + self.server.tail())
            raise
        finally:
            self.__class__.names |= v.names
            self.__class__.markers += v.markers
            v.cleanup()

    def roundtrip(self, v):
        v.init()
        self.assertIn("sealfs.json", u.listing(self.server, "vault"))
        src = os.path.join(v.root, "src")
        nfiles = build_source_tree(v, src)
        big_src = os.path.join(v.root, "big.bin")
        big_sha = make_big(big_src, BIG_MIB)
        big_bytes = BIG_MIB * u.MIB
        v.mount()

        _, t_tree = u.timed(st.run, ["cp", "-a", "--", src, v.path("tree")], timeout=300)
        u.make_fat_dir(v.path("fat-directory"))
        big = v.path("big-random-file.bin")
        t_write, t_fsync = copy_in(big_src, big)
        os.chmod(big, 0o604)
        os.utime(big, ns=(7, 1_690_000_000_987_654_321))
        big_stat = os.lstat(big)
        before = st.snapshot(v.path("tree"))
        self.assertEqual(before, st.snapshot(src), "the mount differs from the source")
        fat = st.snapshot(v.path("fat-directory"))
        _, t_unmount = u.timed(v.unmount)
        self.assertTrue(u.multipart_seen(self.server), "no multipart upload reached s3rver")

        u.log("TIMING tree: %d files, %.1f MB in %.1f s (%.1f MB/s, cp -a)"
              % (nfiles, st.tree_bytes(src) / 1e6, t_tree, mbps(st.tree_bytes(src), t_tree)))
        u.log("TIMING big %d MiB into the mount: write %.1f s (%.1f MB/s), fsync %.1f s, "
              "write+fsync %.1f MB/s; unmount after it all %.1f s; write+fsync+unmount %.1f MB/s"
              % (BIG_MIB, t_write, mbps(big_bytes, t_write), t_fsync,
                 mbps(big_bytes, t_write + t_fsync), t_unmount,
                 mbps(big_bytes, t_write + t_fsync + t_unmount)))

        objects = u.listing(self.server, "vault")
        self.assertGreaterEqual(len(objects), BIG_MIB + 3, "too few objects in the bucket")

        fresh = v.fresh_cache()
        self.assertFalse(os.path.exists(fresh))
        v.mount(cache=fresh)
        digest, t_read = read_digest(big)
        u.log("TIMING big %d MiB read back from a fresh cache: %.1f s (%.1f MB/s)"
              % (BIG_MIB, t_read, mbps(big_bytes, t_read)))
        self.assertEqual(digest, big_sha, "big file differs after a fresh-cache mount")
        got = os.lstat(big)
        for field in ("st_mode", "st_uid", "st_gid", "st_size", "st_mtime_ns"):
            self.assertEqual(getattr(got, field), getattr(big_stat, field), field)
        self.assertEqual(stat.S_IMODE(got.st_mode), 0o604)

        p, t_diff = u.timed(subprocess.run, ["diff", "-r", "--no-dereference", "--", src,
                                             v.path("tree")],
                            capture_output=True, text=True, timeout=300)
        u.log("TIMING diff -r of the tree from a fresh cache: %.1f s" % t_diff)
        self.assertEqual(p.returncode, 0, "diff -r: " + p.stdout[-2000:] + p.stderr[-2000:])
        self.assertEqual(st.snapshot(v.path("fat-directory")), fat, "fat directory differs")
        after = st.snapshot(v.path("tree"))
        self.assertEqual(sorted(after), sorted(before))
        for k in before:
            self.assertEqual(after[k], before[k], k)
        self.assertGreater(len(after), 100)
        v.unmount()
        # the caches here; the bucket once for the whole class in test_2
        hits, t_scan = u.timed(v.leaks, bucket=False)
        u.log("TIMING leak scan of the caches: %.1f s" % t_scan)
        self.assertEqual(hits, [], "plaintext in a cache")

    def test_2_bucket_holds_no_name_target_or_marker(self):
        """Adds a vault of its own with names, link targets, xattrs and
        contents made of markers, then scans s3rver's whole directory (both
        vaults) for every needle of this class."""
        v = u.S3Vault("leak", self.server, "leaky/deeper")
        try:
            v.init()
            v.mount()
            d = v.path(v.marker("topdir"), v.marker("subdir"))
            os.makedirs(d)
            for i in range(5):
                name = os.path.join(d, v.marker("name"))
                u.write_file(name, ((v.marker("body") + " ") * (1000 * i + 1)).encode())
                os.setxattr(name, "user." + v.marker("attr"), v.marker("aval").encode())
                os.symlink(v.marker("linkto"), os.path.join(d, v.marker("link")))
            os.rename(os.path.join(d, os.listdir(d)[0]), os.path.join(d, v.marker("renamed")))
            long_name = v.marker("long") + "-" + "n" * 200
            u.write_file(os.path.join(d, long_name), b"x")
            v.note_names(os.listdir(d))
            before = st.snapshot(v.mnt)
            self.assertEqual(len(os.listdir(d)), 11)
            v.unmount()
            fresh = v.fresh_cache()
            v.mount(cache=fresh)
            self.assertEqual(st.snapshot(v.mnt), before, "differs after a fresh-cache mount")
            v.unmount()
            self.assertGreater(len(u.listing(self.server, "leaky/deeper")), 3)
            v.names |= self.names
            v.markers += self.markers
            hits, t_scan = u.timed(v.leaks)
            self.assertEqual(hits, [], "plaintext in s3rver's directory or a cache")
            u.log("leak scan: %d names and %d markers, none found in %s (%.1f s)"
                  % (len(v.names), len(v.markers), self.server.dir, t_scan))
        finally:
            v.cleanup()


if __name__ == "__main__":
    st.main()
