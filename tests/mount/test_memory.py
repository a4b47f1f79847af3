"""The daemon's memory stays bounded under concurrent streaming I/O (issue
#18): 8 threads each write a 24 MiB file in 1 MiB writes and fsync it, read
it back (sha256 compared) and rewrite 4 KiB blocks at random places, twice
over, so FUSE workers come and go (libfuse keeps 4 idle; at most 4 over
a local store, each touching its 1 MiB receive buffer). The daemon's
VmHWM during the work stays under HWM_MAX_MIB and its VmRSS once idle under
IDLE_MAX_MIB. Before the bound, each thread that ever wrote kept a ~1 MiB
scratch buffer for its life and glibc's dynamic mmap threshold put every
later 1 MiB FUSE receive buffer in a thread arena that kept ~2 MiB resident
after the free (docs/PERFORMANCE.md, "Daemon memory").

The drain of files written at once (docs/PERFORMANCE.md, "Memory while
draining (session 7)"): small files in TREE_DIRS directories, then `sealfs
sync` (one commit of every file, and the uploader's round) grows the daemon
by less than a bound over its RSS before: TREE_FILES (more than the record
inlines: it inlines none) and INLINE_FILES (all inlined). Before the bounds
the record carried up to 4 MiB of inlined segments, was encoded into a
second buffer of its size, and was read back whole by the uploader and by
the status that `sealfs sync` asks for.

Bounded: a few seconds, 192 + 9 MiB of files. A sanitizer build (huge shadow
mappings, its own allocator) is not measured: skipped."""

import hashlib
import os
import random
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

THREADS = 8
FILE_MIB = 24
ROUNDS = 2
HWM_MAX_MIB = 18   # measured 10-11 with 4 FUSE workers (local store), 22-24 with 16,
                   # 49 before the bound
IDLE_MAX_MIB = 16  # measured 10 with the bound, 38 without it
TREE_DIRS = 30
TREE_FILES = 2400  # 4 KiB each: past the record's inline budget of 4 MiB
TREE_MAX_MIB = 5  # measured 1.4; 2.3 with the record read whole; 13.9 inlining
INLINE_FILES = 900  # 3.6 MiB, all of it inlined into the record
INLINE_MAX_MIB = 6.5  # measured 3.8 (the 3.6 MiB read for the record); 9.7 before
SANITIZER_VMSIZE_KIB = 1 << 30  # 1 TiB in KiB: ASan reserves about 20 TiB of shadow


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


def block(i, k):
    return hashlib.sha256(b"mem-%d-%d" % (i, k)).digest() * (4096 // 32)


class Memory(unittest.TestCase):
    def setUp(self):
        self.v = st.Vault("memory")
        self.v.init()
        self.v.mount()
        self.pid = st.daemon_pid(self.v.mnt)
        self.errors = []

    def tearDown(self):
        self.v.cleanup()

    def one(self, i):
        try:
            path = os.path.join(self.v.mnt, "f%d" % i)
            data = bytearray()
            for k in range(FILE_MIB * 256):
                data += block(i, k)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                for off in range(0, len(data), 1 << 20):
                    os.pwrite(fd, data[off:off + (1 << 20)], off)
                os.fsync(fd)
                rng = random.Random(i)
                for _ in range(64):
                    k = rng.randrange(FILE_MIB * 256)
                    b = block(i + 1000, k)
                    os.pwrite(fd, b, k * 4096)
                    data[k * 4096:(k + 1) * 4096] = b
                os.fsync(fd)
            finally:
                os.close(fd)
            with open(path, "rb") as f:
                got = f.read()
            if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
                self.errors.append("file %d read back differs" % i)
        except OSError as e:
            self.errors.append("file %d: %s" % (i, e))

    def measurable(self):
        if status_kib(self.pid, "VmSize") > SANITIZER_VMSIZE_KIB:
            self.skipTest("sanitizer build: its allocator and shadow are not the daemon's")

    def drain_growth(self, nfiles):
        """MiB the daemon's peak grows over `sealfs sync` of nfiles new files."""
        self.measurable()
        if os.geteuid() != 0:
            self.skipTest("resetting the daemon's VmHWM needs root")
        for d in range(TREE_DIRS):
            os.mkdir(os.path.join(self.v.mnt, "d%02d" % d))
        for i in range(nfiles):
            with open(os.path.join(self.v.mnt, "d%02d" % (i % TREE_DIRS), "f%05d" % i),
                      "wb") as f:
                f.write(hashlib.sha256(b"tree-%d" % i).digest() * 128)
        os.sync()  # the kernel's cached writes reach the daemon; nothing is committed yet
        before = status_kib(self.pid, "VmRSS")
        with open("/proc/%d/clear_refs" % self.pid, "w") as f:
            f.write("5\n")
        st.sealfs("sync", self.v.mnt)
        grown = (status_kib(self.pid, "VmHWM") - before) / 1024
        st.log("%d files: the daemon grew by %.1f MiB over sealfs sync" % (nfiles, grown))
        self.v.remount()
        with open(os.path.join(self.v.mnt, "d07", "f00007"), "rb") as f:
            self.assertEqual(f.read(), hashlib.sha256(b"tree-7").digest() * 128)
        self.v.unmount()
        return grown

    def test_drain_of_a_tree_in_bounded_memory(self):
        self.assertLess(self.drain_growth(TREE_FILES), TREE_MAX_MIB,
                        "daemon peak RSS over sealfs sync over its bound")

    def test_drain_of_an_inlined_record_in_bounded_memory(self):
        self.assertLess(self.drain_growth(INLINE_FILES), INLINE_MAX_MIB,
                        "daemon peak RSS over sealfs sync over its bound")

    def test_streaming_io_in_bounded_memory(self):
        self.measurable()
        if os.geteuid() == 0:
            with open("/proc/%d/clear_refs" % self.pid, "w") as f:
                f.write("5\n")  # VmHWM from here: the work, not the mount
        for _ in range(ROUNDS):
            ts = [threading.Thread(target=self.one, args=(i,)) for i in range(THREADS)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        self.assertEqual(self.errors, [])
        hwm = status_kib(self.pid, "VmHWM") // 1024
        rss = status_kib(self.pid, "VmRSS") // 1024
        st.log("%d threads x %d MiB, %d rounds: daemon VmHWM %d MiB, VmRSS after %d MiB"
               % (THREADS, FILE_MIB, ROUNDS, hwm, rss))
        self.assertLess(hwm, HWM_MAX_MIB, "daemon peak RSS over its bound")
        self.assertLess(rss, IDLE_MAX_MIB, "daemon RSS after the work over its bound")
        self.v.unmount()


if __name__ == "__main__":
    unittest.main()
