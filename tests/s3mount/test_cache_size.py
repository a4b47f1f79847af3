"""mount --cache-size on an S3 vault (docs/CLI.md, docs/INTERNALS.md "Cache size").

1. With --cache-size 64M, 200 MiB of files written and fsync'ed go through
   the cache to the store; once the journal is empty every file reads back
   bit for bit (most of it fetched again from the store, since the cache
   cannot hold it), and the cache's o/ directory never holds more than the
   limit plus SLACK, sampled every SAMPLE_S seconds throughout (the reads
   run after a remount with the same cache, so they go through sealfs).
2. With the S3 server stopped, writing more than the limit blocks, then
   fails with ENOSPC after --cache-full-wait (WAIT_S); every file whose fsync
   returned 0 is intact after the server is back, the queue drains by
   itself, writes work again, and a fresh cache reads it all from the store.
3. After kill -9 with commits pending in the journal (server down), a
   remount with the same, fuller cache and --cache-size 64M evicts only what
   the store holds: the pending commits still go up, nothing fsync'ed is lost.

SLACK: the index keeps pinned (not yet uploaded) bytes under the limit by
reserving room before each write, and evicts clean objects as soon as an
insert passes the limit; between an insert and its eviction a FUSE thread
holds one more object (a segment is at most 1 MiB + 1/64 of overhead), and
a commit adds a few small directory objects. 8 MiB covers up to seven such
inserts in flight at once.

Disk: at most 200 MiB in s3rver's bucket plus 120 MiB of cache per test.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, s3 as u

MIB = u.MIB
LIMIT = 64 * MIB
SLACK = 8 * MIB
SAMPLE_S = 0.1
WAIT_S = 5  # --cache-full-wait in the outage test
DRAIN_TIMEOUT = 120  # seconds for the journal to empty (it takes a few)
CHILD_TIMEOUT = 240

# Writes files of FILE_MIB MiB with fsync each until one fails; prints one
# JSON line per file: name, sha256, errno (0: fsync returned), seconds.
WRITER = textwrap.dedent("""
    import hashlib, json, os, sys, time
    mnt, prefix, count, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    for i in range(count):
        name = "%s-%03d" % (prefix, i)
        data = os.urandom(size)
        t = time.monotonic()
        e = 0
        try:
            fd = os.open(os.path.join(mnt, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                for off in range(0, size, 1 << 20):
                    os.write(fd, data[off:off + (1 << 20)])
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as ex:
            e = ex.errno
        print(json.dumps({"name": name, "sha": hashlib.sha256(data).hexdigest(), "errno": e,
                          "secs": time.monotonic() - t}), flush=True)
        if e:
            break
""")


def cache_bytes(cache):
    """Bytes of the cache's objects, each rounded up to 4 KiB as sealfs counts them."""
    total = 0
    for dirpath, _, filenames in os.walk(os.path.join(cache, "o")):
        for n in filenames:
            try:
                size = os.lstat(os.path.join(dirpath, n)).st_size
            except FileNotFoundError:
                continue  # evicted meanwhile
            total += (size + 4095) // 4096 * 4096
    return total


def pending_records(cache):
    """The journal's records (slots holding one, or older <seq>.rec files)."""
    return [p for _, p in st.journal_records(cache)]


class Sampler:
    """Samples cache_bytes(cache) in a thread; .max is the largest seen."""

    def __init__(self, cache):
        self.cache, self.max, self.samples = cache, 0, 0
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_ev.is_set():
            self.max = max(self.max, cache_bytes(self.cache))
            self.samples += 1
            self.stop_ev.wait(SAMPLE_S)

    def stop(self):
        self.stop_ev.set()
        self.thread.join(timeout=30)
        return self.max


class CacheSize(u.ServerCase):
    TAG = "cachesize"
    sampler = None

    def before_cleanup(self):
        if self.sampler:
            self.sampler.stop()

    def write_files(self, prefix, count, size):
        """Runs WRITER in a child; returns its per-file results."""
        p = subprocess.run([sys.executable, "-c", WRITER, self.v.mnt, prefix, str(count),
                            str(size)], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=CHILD_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = [json.loads(line) for line in p.stdout.splitlines()]
        self.v.note_names([r["name"] for r in out])
        return out

    def wait_drained(self, cache):
        t = time.monotonic()
        while pending_records(cache):
            self.assertLess(time.monotonic() - t, DRAIN_TIMEOUT, "the journal did not drain")
            time.sleep(0.2)
        return time.monotonic() - t

    def check_files(self, results):
        for r in results:
            with open(self.v.path(r["name"]), "rb") as f:
                self.assertEqual(u.sha256(f.read()), r["sha"], r["name"] + " differs")

    def test_more_than_the_limit_round_trips(self):
        v = self.v = u.S3Vault("cachesize", self.server, "csvault")
        v.init()
        v.mount("--cache-size", "64M")
        self.sampler = Sampler(v.cache)
        t = time.monotonic()
        results = self.write_files("big", 25, 8 * MIB)
        u.log("CACHESIZE wrote 200 MiB in %.1f s" % (time.monotonic() - t))
        self.assertEqual([r["errno"] for r in results], [0] * 25)
        u.log("CACHESIZE journal drained %.1f s after the last fsync"
              % self.wait_drained(v.cache))
        # Remount with the same cache, so that reads go through sealfs (not
        # the kernel's page cache) and most segments come from the store.
        v.unmount()
        v.mount("--cache-size", "64M")
        t = time.monotonic()
        self.check_files(results)
        u.log("CACHESIZE read 200 MiB back in %.1f s" % (time.monotonic() - t))
        peak = self.sampler.stop()
        self.sampler = None
        u.log("CACHESIZE o/ peak %.1f MiB over the test (limit 64, slack %d)"
              % (peak / MIB, SLACK // MIB))
        self.assertGreater(peak, LIMIT // 2, "the cache was hardly used: sampler broken?")
        self.assertLessEqual(peak, LIMIT + SLACK)
        v.unmount()
        v.mount(cache=v.fresh_cache())
        self.check_files(results[::6])
        v.unmount()

    def test_full_of_dirty_data_waits_then_enospc(self):
        v = self.v = u.S3Vault("cachefull", self.server, "csfull")
        v.init()
        v.mount("--cache-size", "64M", "--cache-full-wait", str(WAIT_S))
        before = self.write_files("pre", 3, 4 * MIB)
        self.assertEqual([r["errno"] for r in before], [0] * 3)
        self.wait_drained(v.cache)
        port = self.server.port
        self.server.stop(signal.SIGKILL)
        self.sampler = Sampler(v.cache)
        t = time.monotonic()
        during = self.write_files("down", 40, 4 * MIB)  # 160 MiB: more than the limit
        u.log("CACHESIZE outage writes: %s in %.1f s" % (
            ", ".join("%s %.1fs" % (errno.errorcode.get(r["errno"], "ok"), r["secs"])
                      for r in during), time.monotonic() - t))
        last = during[-1]
        self.assertEqual(last["errno"], errno.ENOSPC, "writing past the limit did not fail "
                         "with ENOSPC: %r" % last)
        self.assertGreaterEqual(last["secs"], WAIT_S - 0.5, "ENOSPC came before the bound")
        self.assertLess(last["secs"], CHILD_TIMEOUT)
        fsynced = [r for r in during if r["errno"] == 0]
        self.assertGreaterEqual(len(fsynced) * 4 * MIB, LIMIT // 2,
                                "too little was accepted before the cache was full")
        self.assertLessEqual(len(fsynced) * 4 * MIB, LIMIT + SLACK)
        self.assertTrue(v.is_mounted())
        self.check_files(fsynced)  # pinned, so cached: readable with the server down

        self.server.start(port=port)
        u.log("CACHESIZE drained %.1f s after the server came back" % self.wait_drained(v.cache))
        after = self.write_files("after", 2, 4 * MIB)
        self.assertEqual([r["errno"] for r in after], [0] * 2, "writes fail after the drain")
        peak = self.sampler.stop()
        self.sampler = None
        u.log("CACHESIZE o/ peak %.1f MiB during the outage test" % (peak / MIB))
        self.assertLessEqual(peak, LIMIT + SLACK)
        v.unmount()
        v.mount(cache=v.fresh_cache())
        self.check_files(before + fsynced + after)
        v.unmount()


    def test_kill_then_smaller_cache_keeps_pending_commits(self):
        v = self.v = u.S3Vault("cachekill", self.server, "cskill")
        v.init()
        v.mount()  # no limit: the cache fills with 96 MiB the store holds
        fill = self.write_files("fill", 12, 8 * MIB)
        self.assertEqual([r["errno"] for r in fill], [0] * 12)
        self.wait_drained(v.cache)
        port = self.server.port
        self.server.stop(signal.SIGKILL)
        pend = self.write_files("pend", 5, 4 * MIB)
        self.assertTrue(all(r["errno"] in (0, errno.EIO) for r in pend), pend)
        durable = [r for r in pend if r["errno"] == 0]
        self.assertTrue(pending_records(v.cache), "nothing pending in the journal")
        st.kill_daemon(v)
        self.server.start(port=port)
        # The mount scans 116 MiB, the journal replay pins what the store
        # lacks, then the limit evicts clean objects only.
        v.mount("--cache-size", "64M")
        self.assertLessEqual(cache_bytes(v.cache), LIMIT + SLACK)
        u.log("CACHESIZE drained %.1f s after remounting with a smaller cache"
              % self.wait_drained(v.cache))
        self.check_files(durable)
        v.unmount()
        v.mount(cache=v.fresh_cache())
        self.check_files(durable + fill[::4])
        v.unmount()


if __name__ == "__main__":
    st.main()
