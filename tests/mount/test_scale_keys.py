"""Per-file keys at scale through a real mount: 3,000 small files written and
closed, then all of them open at once (50,000 written and closed are
tests/mount/test_scale.py's), must not grow the daemon's memory
mappings (/proc/PID/maps) or its locked memory (VmLck) with the number of
files. Each file's key used to be its own sodium_malloc (four mappings, one
locked page): near 16,000 keys the daemon hit vm.max_map_count (65,530) and
every later write failed, and 3,000 open files alone took 12,000 mappings.
Now keys live in a few locked slabs (crypto/secmem.c) and are dropped at a
file's last close (docs/SECURITY.md, "Key handling").

Bounded: about a minute on the test machine; the vault and mount are removed
by tearDownClass even when a check fails."""

import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

NFILES = 3000  # 50,000 written and closed: tests/mount/test_scale.py
NDIRS = 20  # 1,000 entries a directory: keeps each directory object small
NOPEN = 3000  # files held open at once in the second phase
MAPS_MAX = 2000  # the old design needed 4 per key: 80,000 for NFILES
DEADLINE_S = 240  # the whole class (meson's timeout is 300 s)


def maps_count(pid):
    with open("/proc/%d/maps" % pid) as f:
        return sum(1 for _ in f)


def vm_locked_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmLck:"):
                return int(line.split()[1])
    return -1


def name(i):
    return os.path.join("d%02d" % (i % NDIRS), "f%05d" % i)


def content(i):
    return ("key scale file %d\n" % i).encode() * (1 + i % 7)


class ScaleKeys(st.VaultTestCase):
    tag = "scalekeys"

    def measure(self, what):
        m, lck = maps_count(self.pid), vm_locked_kib(self.pid)
        st.log("%s: daemon maps %d, VmLck %d kB" % (what, m, lck))
        return m, lck

    def check_time(self, start, what):
        self.assertLess(time.monotonic() - start, DEADLINE_S,
                        "%s took too long: the test is bounded" % what)

    def test_keys_do_not_grow_mappings(self):
        start = time.monotonic()
        self.pid = st.daemon_pid(self.v.mnt)
        maps0, lck0 = self.measure("mounted")
        for d in range(NDIRS):
            os.mkdir(os.path.join(self.v.mnt, "d%02d" % d))

        for i in range(NFILES):
            with open(os.path.join(self.v.mnt, name(i)), "wb") as f:
                f.write(content(i))
            if i % 2000 == 1999:
                self.check_time(start, "writing %d files" % (i + 1))
                m, _ = self.measure("%d files written" % (i + 1))
                self.assertLess(m, MAPS_MAX, "mappings grow with files written")
        maps1, lck1 = self.measure("%d files written and closed" % NFILES)
        self.assertLess(maps1, MAPS_MAX)
        self.assertLess(maps1 - maps0, 100, "mappings grew with the files")
        self.assertLess(lck1 - lck0, 2048, "locked memory grew with the files")

        # Many keys alive at once: NOPEN files open, after a remount so that
        # every read reaches the daemon (a fresh page cache) and derives a key.
        self.v.remount()
        self.pid = st.daemon_pid(self.v.mnt)
        maps_r, lck_r = self.measure("remounted")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < NOPEN + 100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, NOPEN + 100), hard))
        nopen = min(NOPEN, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 100)
        step = NFILES // nopen
        files = []
        try:
            for k in range(nopen):
                i = k * step
                f = open(os.path.join(self.v.mnt, name(i)), "rb", buffering=0)
                files.append(f)
                self.assertEqual(f.read(), content(i), name(i))
            self.check_time(start, "opening %d files" % nopen)
            maps2, lck2 = self.measure("%d files open at once" % nopen)
            self.assertLess(maps2, MAPS_MAX)
            self.assertLess(maps2 - maps_r, 100, "mappings grew with the open files")
        finally:
            for f in files:
                f.close()
        maps3, lck3 = self.measure("all closed again")
        self.assertLess(maps3 - maps_r, 100)
        st.log("first mount: maps %d -> %d, VmLck %d -> %d kB after %d files; "
               "remounted: maps %d -> %d (%d open) -> %d, VmLck %d -> %d -> %d kB"
               % (maps0, maps1, lck0, lck1, NFILES, maps_r, maps2, nopen, maps3, lck_r,
                  lck2, lck3))
        for i in range(0, NFILES, 97):
            with open(os.path.join(self.v.mnt, name(i)), "rb") as f:
                self.assertEqual(f.read(), content(i), name(i))
        self.check_time(start, "the whole test")


if __name__ == "__main__":
    st.main()
