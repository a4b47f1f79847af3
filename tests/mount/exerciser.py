"""Seeded random-operations exerciser: writes, reads, truncates, renames, hard
links, mmap reads and writes, unlinks and fsyncs at random offsets on a few
files of a sealfs mount, and symlinks and FIFOs made, linked (format 3),
renamed and unlinked beside them, each checked against an in-memory model,
with remounts in the middle and a final mount on a fresh cache. Prints its seed; rerun a failure
with --seed N. Bounded by --ops and --time.

usage: exerciser.py [--seed N] [--ops N] [--time SECONDS]
"""

import argparse
import mmap
import os
import random
import stat as stat_mod
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

MIB = 1024 * 1024
MAX_OFFSET = 4 * MIB  # bounds each file, so the run bounds its disk use
NAMES = 6


class Exerciser:
    def __init__(self, v, rng):
        self.v = v
        self.rng = rng
        token = v.marker("exname")
        self.names = ["file-%s-%d" % (token, i) for i in range(NAMES)]
        self.model = {}  # name -> bytearray; hard links share one bytearray
        self.specs = ["spec-%s-%d" % (token, i) for i in range(NAMES)]
        self.special = {}  # name -> [kind, target]; hard links share one list
        self.counts = {}

    def p(self, name):
        return self.v.path(name)

    def offset(self):
        r = self.rng.random()
        if r < 0.3:  # near a chunk or segment boundary
            base = self.rng.choice([4096, 65536, MIB, 2 * MIB]) * self.rng.randrange(0, 4)
            return max(0, min(MAX_OFFSET, base + self.rng.randrange(-5, 6)))
        if r < 0.6:
            return self.rng.randrange(0, 64 * 1024)
        return self.rng.randrange(0, MAX_OFFSET)

    def length(self):
        r = self.rng.random()
        if r < 0.5:
            return self.rng.randrange(1, 5000)
        if r < 0.95:
            return self.rng.randrange(1, 100000)
        return self.rng.randrange(1, 1200000)

    def existing(self):
        have = sorted(self.model)
        return self.rng.choice(have) if have else None

    def op_write(self):
        name = self.rng.choice(self.names)
        off = self.offset()
        data = self.rng.randbytes(min(self.length(), MAX_OFFSET + MIB - off))
        fd = os.open(self.p(name), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            self.assert_eq(os.pwrite(fd, data, off), len(data), "short write")
        finally:
            os.close(fd)
        m = self.model.setdefault(name, bytearray())
        if len(m) < off:
            m.extend(bytes(off - len(m)))
        m[off:off + len(data)] = data

    def op_read(self):
        name = self.existing()
        if not name:
            return
        m = self.model[name]
        off = self.rng.randrange(0, len(m) + 100)
        n = self.length()
        fd = os.open(self.p(name), os.O_RDONLY)
        try:
            got = os.pread(fd, n, off)
        finally:
            os.close(fd)
        self.assert_eq(got, bytes(m[off:off + n]), "read %s [%d, +%d)" % (name, off, n))

    def op_truncate(self):
        name = self.existing()
        if not name:
            return
        size = self.rng.choice([0, self.offset(), len(self.model[name]) // 2,
                                len(self.model[name]) + self.rng.randrange(0, 70000)])
        os.truncate(self.p(name), size)
        m = self.model[name]
        if size < len(m):
            del m[size:]
        else:
            m.extend(bytes(size - len(m)))

    def op_rename(self):
        src = self.existing()
        if not src:
            return
        dst = self.rng.choice(self.names)
        os.rename(self.p(src), self.p(dst))
        if self.model.get(dst) is not self.model[src]:  # two names of one file: nothing
            self.model[dst] = self.model.pop(src)

    def op_link(self):
        src = self.existing()
        if not src:
            return
        dst = self.rng.choice(self.names)
        try:
            os.link(self.p(src), self.p(dst))
        except FileExistsError:
            self.assert_eq(dst in self.model, True, "link over a missing %s: EEXIST" % dst)
            return
        self.assert_eq(dst in self.model, False, "link over %s succeeded" % dst)
        self.model[dst] = self.model[src]
        self.assert_eq(os.stat(self.p(dst)).st_ino, os.stat(self.p(src)).st_ino, "link's st_ino")

    # symlinks and FIFOs: made, given more names, renamed, unlinked

    def op_special_make(self):
        name = self.rng.choice(self.specs)
        if name in self.special:
            return
        kind = self.rng.choice(["symlink", "fifo"])
        target = "t-%d" % self.rng.randrange(1000)
        if kind == "symlink":
            os.symlink(target, self.p(name))
        else:
            os.mkfifo(self.p(name), 0o640)
        self.special[name] = [kind, target if kind == "symlink" else None]

    def op_special_link(self):
        have = sorted(self.special)
        if not have:
            return
        src, dst = self.rng.choice(have), self.rng.choice(self.specs)
        try:
            os.link(self.p(src), self.p(dst), follow_symlinks=False)
        except FileExistsError:
            self.assert_eq(dst in self.special, True, "link over a missing %s: EEXIST" % dst)
            return
        self.assert_eq(dst in self.special, False, "link over %s succeeded" % dst)
        self.special[dst] = self.special[src]

    def op_special_rename(self):
        have = sorted(self.special)
        if not have:
            return
        src, dst = self.rng.choice(have), self.rng.choice(self.specs)
        os.rename(self.p(src), self.p(dst))
        if self.special.get(dst) is not self.special[src]:  # two names of one file: nothing
            self.special[dst] = self.special.pop(src)

    def op_special_unlink(self):
        have = sorted(self.special)
        if have:
            name = self.rng.choice(have)
            os.unlink(self.p(name))
            del self.special[name]

    def check_special(self, when):
        listed = sorted(n for n in os.listdir(self.v.mnt) if n.startswith("spec-"))
        self.assert_eq(listed, sorted(self.special), "%s: special names" % when)
        for name, o in self.special.items():
            st_ = os.lstat(self.p(name))
            kind = "symlink" if stat_mod.S_ISLNK(st_.st_mode) else (
                "fifo" if stat_mod.S_ISFIFO(st_.st_mode) else "other")
            self.assert_eq(kind, o[0], "%s: type of %s" % (when, name))
            names = [n for n, x in self.special.items() if x is o]
            self.assert_eq(st_.st_nlink, len(names), "%s: st_nlink of %s" % (when, name))
            self.assert_eq(len({os.lstat(self.p(n)).st_ino for n in names}), 1,
                           "%s: one st_ino for the names of %s" % (when, name))
            if o[0] == "symlink":
                self.assert_eq(os.readlink(self.p(name)), o[1], "%s: target of %s" % (when, name))

    def op_mmap_write(self):
        name = self.existing()
        if not name or not self.model[name]:
            return
        m = self.model[name]
        off = self.rng.randrange(0, len(m))
        data = self.rng.randbytes(min(self.length(), len(m) - off))
        with open(self.p(name), "r+b") as f, mmap.mmap(f.fileno(), 0) as mm:
            mm[off:off + len(data)] = data
            if self.rng.random() < 0.7:
                mm.flush()
        m[off:off + len(data)] = data

    def op_mmap_read(self):
        name = self.existing()
        if not name or not self.model[name]:
            return
        with open(self.p(name), "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
            self.assert_eq(mm[:], bytes(self.model[name]), "mmap read %s" % name)

    def op_unlink(self):
        name = self.existing()
        if name and self.rng.random() < 0.5:
            os.unlink(self.p(name))
            del self.model[name]

    def op_fsync(self):
        name = self.existing()
        if not name:
            return
        fd = os.open(self.p(name), os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def op_check(self):
        self.check_all("check")

    def op_remount(self):
        self.v.remount()
        self.check_all("after remount")

    def check_all(self, when):
        self.check_special(when)
        listed = sorted(n for n in os.listdir(self.v.mnt) if n.startswith("file-"))
        self.assert_eq(listed, sorted(self.model), "%s: names" % when)
        for name, m in self.model.items():
            st_ = os.stat(self.p(name))
            self.assert_eq(st_.st_size, len(m), "%s: size of %s" % (when, name))
            names = [n for n, o in self.model.items() if o is m]
            self.assert_eq(st_.st_nlink, len(names), "%s: st_nlink of %s" % (when, name))
            self.assert_eq(len({os.stat(self.p(n)).st_ino for n in names}), 1,
                           "%s: one st_ino for the names of %s" % (when, name))
            with open(self.p(name), "rb") as f:
                self.assert_eq(f.read(), bytes(m), "%s: content of %s" % (when, name))

    def assert_eq(self, got, want, what):
        if got != want:
            if isinstance(got, (bytes, bytearray)) and isinstance(want, (bytes, bytearray)):
                first = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                             min(len(got), len(want)))
                detail = "lengths %d/%d, first difference at %d" % (len(got), len(want), first)
            else:
                detail = "got %r, want %r" % (got, want)
            raise AssertionError("%s: %s" % (what, detail))

    OPS = [("write", 30), ("read", 20), ("truncate", 6), ("rename", 6), ("mmap_write", 6),
           ("mmap_read", 4), ("unlink", 4), ("fsync", 6), ("check", 2), ("remount", 0.4),
           ("link", 4), ("special_make", 2), ("special_link", 2), ("special_rename", 1),
           ("special_unlink", 1)]

    def run(self, ops, deadline):
        names = [n for n, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        done = 0
        for done in range(1, ops + 1):
            op = self.rng.choices(names, weights)[0]
            self.counts[op] = self.counts.get(op, 0) + 1
            try:
                getattr(self, "op_" + op)()
            except Exception as e:
                raise AssertionError("operation %d (%s) failed: %s" % (done, op, e)) from e
            if time.monotonic() > deadline:
                break
        return done


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--ops", type=int, default=5000)
    ap.add_argument("--time", type=float, default=60.0)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    print("exerciser seed %d (rerun: exerciser.py --seed %d)" % (seed, seed), flush=True)
    rng = random.Random(seed)
    v = st.Vault("exerciser")
    try:
        v.init()
        v.mount("--commit-delay", str(rng.choice([0, 50, 1000])))
        ex = Exerciser(v, rng)
        start = time.monotonic()
        done = ex.run(args.ops, start + args.time)
        ex.check_all("end")
        v.unmount()
        v.mount(cache=os.path.join(v.root, "fresh-cache"))
        ex.check_all("fresh cache")
        v.unmount()
        p = st.sealfs("fsck", v.store, "--passphrase-file", v.passfile)  # exit 0: clean
        if ": clean" not in p.stdout:
            raise AssertionError("fsck after the run: %r" % p.stdout)
        hits = v.leaks()
        if hits:
            raise AssertionError("plaintext leaked into store/cache: %r" % hits[:5])
        print("exerciser: %d operations in %.1f s, seed %d: ok %r"
              % (done, time.monotonic() - start, seed, ex.counts), flush=True)
    except BaseException:
        print("exerciser FAILED with seed %d" % seed, flush=True)
        raise
    finally:
        v.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
