"""No silent loss under internal failures (docs/INTERNALS.md, "Errors").

A test build (meson -Dfault_injection=true; `sealfs --version` then lists
"fault-injection") fails allocations, cache writes, journal writes and seals
at random (SEALFS_FAULT, fs/util/fault.h). For several seeds: mount with injection
on, run a Python writer (files of 1 B..3 MiB, each open/write/fsync/close,
every step's outcome recorded), `cp -r` of a small tree, in-place overwrites
that cross a segment boundary, and truncates; unmount; remount the same cache
and store WITHOUT injection and check the rule:

- a file whose write, fsync and close all succeeded holds exactly what was
  written;
- a file where one of them failed is absent, or holds what it held before
  (its last committed content: empty for a new file), or what was written:
  never a size or bytes nobody wrote;
- every failure a program saw is explained in the daemon log, and every file
  the daemon logged as failed was reported to some program;
- the log holds no name;
- the store alone (a fresh cache) gives back the same tree.

Skips cleanly without fault injection or /dev/fuse. About 10 s per seed.
"""

import errno
import os
import random
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

MIB = 1024 * 1024
SEG = MIB  # plaintext bytes per segment (docs/FORMAT.md)
MOUNT_WAIT = 30
# (seed, SEALFS_FAULT without the seed): different sites and rates per run.
RUNS = [
    (101, "ppm=1500,sites=all,max=40"),
    (202, "ppm=4000,sites=alloc+cache,max=40"),
    (303, "ppm=3000,sites=journal,crypto,max=40"),
]
NFILES = 120
NOVER = 12
NTRUNC = 6


def fault_build():
    p = st.run([st.SEALFS, "--version"], check=False)
    return "fault-injection" in p.stdout


def sizes(rng):
    """1 B..3 MiB, mostly small (time), with edges around chunks and segments."""
    edges = [1, 4095, 4096, 4097, SEG - 1, SEG, SEG + 1, 3 * MIB]
    return [rng.choice(edges) if rng.random() < 0.2 else
            (rng.randint(1, 64 * 1024) if rng.random() < 0.85 else rng.randint(1, 3 * MIB))
            for _ in range(NFILES)]


def write_file(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC, off=0):
    """open, write (all of it), fsync, close: the first failing step and its
    errno, or (None, 0). A failed step still closes the descriptor."""
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        return "open", e.errno
    step, err = None, 0
    try:
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            pos += os.pwrite(fd, view[pos:], off + pos)
        step = "fsync"
        os.fsync(fd)
        step = None
    except OSError as e:
        step, err = step or "write", e.errno
    try:
        os.close(fd)
    except OSError as e:
        if step is None:
            step, err = "close", e.errno
    return step, err


def read_or_none(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


class FaultInjection(unittest.TestCase):

    def setUp(self):
        if not os.path.exists("/dev/fuse"):
            self.skipTest("no /dev/fuse")
        if not fault_build():
            self.skipTest("sealfs built without -Dfault_injection=true")
        self.v = st.Vault("fault")
        self.fg = None

    def tearDown(self):
        if self.fg and self.fg.poll() is None:
            st.lazy_unmount_all(self.v.mnt)
            try:
                self.fg.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.fg.kill()
        self.v.cleanup()

    # ---- the mount with injection ----

    def mount_faulty(self, spec, logpath):
        env = dict(os.environ, SEALFS_FAULT=spec)
        with open(logpath, "ab") as logf:
            self.fg = subprocess.Popen(
                [st.SEALFS, "mount", self.v.store, self.v.mnt, "--cache", self.v.cache,
                 "--passphrase-file", self.v.passfile, "-f"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + MOUNT_WAIT
        while st.mount_type(self.v.mnt) != "fuse.sealfs":
            self.assertIsNone(self.fg.poll(), "mount -f exited")
            self.assertLess(time.monotonic(), deadline, "no mount after %d s" % MOUNT_WAIT)
            time.sleep(0.05)

    def unmount_faulty(self):
        p = st.sealfs("unmount", self.v.mnt, check=False)
        code = self.fg.wait(timeout=st.CMD_TIMEOUT)
        self.fg = None
        return p.returncode, code, p.stderr

    # ---- the workload ----

    def prepare(self, rng):
        """Before injection: the files the overwrites and truncates change."""
        old = {}
        os.mkdir(self.v.path(self.tag + "-over"))
        for i in range(NOVER + NTRUNC):
            name = os.path.join(self.tag + "-over", "o%02d" % i)
            old[name] = rng.randbytes(SEG * 2 + SEG // 2)
            with open(self.v.path(name), "wb") as f:
                f.write(old[name])
        src = os.path.join(self.v.root, "src")
        for d in ("", "a", os.path.join("a", "b")):
            os.makedirs(os.path.join(src, d), exist_ok=True)
            for k in range(6):
                with open(os.path.join(src, d, "c%d" % k), "wb") as f:
                    f.write(rng.randbytes(rng.choice([0, 1, 5000, 70000, SEG + 3])))
        return old, src

    def workload(self, rng, old, src):
        """Runs everything; returns {name: (expected states, ok)} and the
        number of failures programs were told of."""
        expect, told = {}, 0
        os.mkdir(self.v.path(self.tag + "-w"))
        for i, size in enumerate(sizes(rng)):
            name = os.path.join(self.tag + "-w", "%s-f%03d" % (self.tag, i))
            data = rng.randbytes(size)
            step, err = write_file(self.v.path(name), data)
            if step:
                told += 1
                self.assertIn(err, (errno.EIO, errno.ENOMEM, errno.ENOSPC),
                              "%s: %s failed with %s" % (name, step, errno.errorcode.get(err)))
            expect[name] = ([data], True) if step is None else ([None, b"", data], False)
        for i in range(NOVER):  # in place, across the first segment boundary
            name = os.path.join(self.tag + "-over", "o%02d" % i)
            off = SEG - rng.randint(1, 32) * 4096 - rng.randint(0, 4095)
            new = rng.randbytes(rng.randint(40000, 200000))
            step, err = write_file(self.v.path(name), new, flags=os.O_WRONLY, off=off)
            told += step is not None
            done = old[name][:off] + new + old[name][off + len(new):]
            expect[name] = ([done], True) if step is None else ([old[name], done], False)
        for i in range(NOVER, NOVER + NTRUNC):
            name = os.path.join(self.tag + "-over", "o%02d" % i)
            size = rng.choice([0, 4096, SEG - 1, SEG + 7, 2 * SEG + 9])
            step, err = None, 0
            try:
                os.truncate(self.v.path(name), size)
                step, err = write_file(self.v.path(name), b"", flags=os.O_WRONLY)
            except OSError as e:
                step, err = "truncate", e.errno
            told += step is not None
            expect[name] = (([old[name][:size]], True) if step is None else
                            ([old[name], old[name][:size]], False))
        p = subprocess.run(["cp", "-r", src, self.v.path(self.tag + "-copy")], capture_output=True,
                           text=True, timeout=120)
        cp_fail = len([l for l in p.stderr.splitlines() if l.strip()])
        told += cp_fail if p.returncode else 0
        for dirpath, _, files in os.walk(src):
            for n in files:
                rel = os.path.relpath(os.path.join(dirpath, n), src)
                with open(os.path.join(dirpath, n), "rb") as f:
                    data = f.read()
                # cp does not fsync: only the unmount makes its files durable
                expect[os.path.join(self.tag + "-copy", rel)] = (["cp", data], p.returncode == 0)
        return expect, told

    # ---- the checks ----

    def check_tree(self, expect, unmount_ok, what):
        bad = []
        for name, (states, ok) in sorted(expect.items()):
            got = read_or_none(os.path.join(self.v.mnt, name))
            if states[0] == "cp":  # [cp, data]: exact when cp and unmount succeeded
                data = states[1]
                fine = got == data if (ok and unmount_ok) else (
                    got is None or data.startswith(got))
            elif ok:
                fine = got == states[0]
            else:
                fine = any(got == s for s in states)
            if not fine:
                bad.append("%s (%s: %s bytes)" % (name, "ok" if ok else "failed",
                                                  None if got is None else len(got)))
        self.assertEqual(bad, [], "%s: wrong content: %s" % (what, bad[:10]))

    def check_log(self, text, told, names):
        faults = re.findall(r"fault injection: \w+ fault \d+ fired", text)
        failed_files = set(re.findall(r"file ([0-9a-f]{32}): .* failed", text))
        reports = re.findall(r"(file [0-9a-f]{32}: .* failed|commit attempt \d+ failed|"
                             r"the last commit failed)", text)
        st.log("FAULT %d faults fired, %d failures told to programs, %d failure lines, "
               "%d files logged as failed" % (len(faults), told, len(reports),
                                              len(failed_files)))
        if told:
            self.assertTrue(faults, "programs saw errors with no fault fired")
            self.assertTrue(reports, "programs saw errors the log does not explain")
        self.assertLessEqual(len(failed_files), max(told, 0),
                             "the daemon logged failed files no program was told of")
        for n in names:
            self.assertNotIn(n, text, "a name reached the log")

    def one_run(self, seed, spec):
        rng = random.Random(seed)
        self.tag = self.v.marker("name")  # in every name: must not reach the log
        logpath = os.path.join(self.v.root, "daemon-%d.log" % seed)
        self.v.init()
        self.v.mount()
        old, src = self.prepare(rng)
        self.v.unmount()
        self.mount_faulty("seed=%d,%s" % (seed, spec), logpath)
        t0 = time.monotonic()
        expect, told = self.workload(rng, old, src)
        cli_rc, daemon_rc, cli_err = self.unmount_faulty()
        st.log("FAULT seed %d: workload + unmount %.1f s, unmount exit %d, daemon exit %d"
               % (seed, time.monotonic() - t0, cli_rc, daemon_rc))
        with open(logpath, "rb") as f:
            text = f.read().decode(errors="replace")
        unmount_ok = cli_rc == 0 and daemon_rc == 0
        if not unmount_ok:
            self.assertIn("the last commit failed", text, "unmount failed without a reason")
        self.assertIn("fault injection: seed %d" % seed, text)
        self.check_log(text, told, [self.tag])
        self.v.mount()  # no injection, the same cache
        self.check_tree(expect, unmount_ok, "same cache")
        before = st.snapshot(self.v.mnt, with_xattrs=False)
        self.v.unmount()
        self.v.mount(cache=os.path.join(self.v.root, "fresh"))
        after = st.snapshot(self.v.mnt, with_xattrs=False)
        self.assertEqual(after, before, "the store alone differs from the cache's view")
        self.v.unmount()

    def test_faults_are_never_silent(self):
        for k, (seed, spec) in enumerate(RUNS):
            with self.subTest(seed=seed):
                if k > 0:  # a fresh vault, store and cache for each seed
                    self.tearDown()
                    self.v = st.Vault("fault")
                self.one_run(seed, spec)


if __name__ == "__main__":
    st.main()
