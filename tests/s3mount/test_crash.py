"""kill -9 of the sealfs daemon of a vault in S3 (s3rver on loopback), after
fsync and while writers are busy: a remount with the same cache gives back
every file whose fsync returned, bit for bit; after `sealfs unmount`
returns, a mount with a fresh, empty cache gives them back too. Holds whether
fsync uploads to the store at once or journals locally and uploads later.
"""

import os
import subprocess
import sys
import textwrap
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, s3 as u

WRITER_TIMEOUT = 60  # seconds for a writer to notice the dead mount and exit

# Writes files one after another into DIR, each fsync'ed, and appends
# "NAME SHA256" to LOG (outside the mount, itself fsync'ed) only after the
# fsync returned: every line names a file that must survive.
FSYNC_WRITER = textwrap.dedent("""
    import hashlib, os, secrets, sys
    d, logpath, tag = sys.argv[1], sys.argv[2], sys.argv[3]
    logf = open(logpath, "a")
    i = 0
    while True:
        i += 1
        name = "%s-%05d" % (tag, i)
        data = secrets.token_bytes(secrets.randbelow(600000) + (1 << 20 if i % 7 == 0 else 0))
        fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for off in range(0, len(data), 65536):
                os.write(fd, data[off:off + 65536])
            os.fsync(fd)
        finally:
            os.close(fd)
        logf.write("%s %s\\n" % (name, hashlib.sha256(data).hexdigest()))
        logf.flush()
        os.fsync(logf.fileno())
""")

# Appends to one file without fsync, about 1 MB/s, forever: writes in flight
# at the kill (rate-limited: every commit takes all dirty data along).
STREAM_WRITER = textwrap.dedent("""
    import os, sys, time
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    block = bytes(range(256)) * 256
    while True:
        os.write(fd, block)
        time.sleep(0.05)
""")


def read_log(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and line.endswith("\n"):
                    out[parts[0]] = parts[1]
    return out


def wait_for(cond, secs, what):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class Crash(u.ServerCase):
    TAG = "crash"
    procs = ()

    def set_up(self):
        self.procs = []
        super().set_up()

    def before_cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        # then the vault's cleanup kills our daemon if need be: that frees a stuck writer

    def after_cleanup(self):
        for p in self.procs:
            try:
                p.wait(timeout=WRITER_TIMEOUT)
            except subprocess.TimeoutExpired:
                u.log("writer %d did not exit" % p.pid)
            p.stderr.close()

    def spawn(self, script, *args):
        p = subprocess.Popen([sys.executable, "-c", script] + [str(a) for a in args],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def check_files(self, expect, where):
        for rel, digest in sorted(expect.items()):
            p = os.path.join(self.v.mnt, rel)
            self.assertTrue(os.path.exists(p), "%s: fsync'ed file %s is missing" % (where, rel))
            self.assertEqual(st.file_digest(p), digest, "%s: fsync'ed file %s differs"
                             % (where, rel))

    def test_kill9_after_fsync_and_during_writes(self):
        v = self.v = u.S3Vault("crash", self.server, "crashvault")
        v.init()
        v.mount()
        expect = {}
        # 1. quiet: files and a directory, each fsync'ed, nothing in flight
        sub = v.path(v.marker("dir"))
        os.mkdir(sub)
        for i, size in enumerate([0, 1, 4096, 65537, u.MIB + 3, 3 * u.MIB]):
            rel = os.path.join(os.path.basename(sub), v.marker("f%d" % i))
            data = u.random_bytes(size)
            u.write_file(os.path.join(v.mnt, rel), data)
            expect[rel] = u.sha256(data)
        fd = os.open(sub, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(fd)
        os.close(fd)
        # overwrite one in place (a new version of an fsync'ed file)
        rel = sorted(expect)[0]
        data = u.random_bytes(200000)
        u.write_file(os.path.join(v.mnt, rel), data)
        expect[rel] = u.sha256(data)
        st.kill_daemon(v)
        v.mount()  # same cache
        self.check_files(expect, "same cache after kill -9 (quiet)")

        # 2. busy: two fsync writers and an appender; kill -9 in mid-stream
        logs = [os.path.join(v.root, "writer-%d.log" % i) for i in range(2)]
        wdirs = [v.path(v.marker("wdir")) for _ in logs]
        for d in wdirs:
            os.mkdir(d)
        writers = [self.spawn(FSYNC_WRITER, d, lg, "w%d" % i)
                   for i, (d, lg) in enumerate(zip(wdirs, logs))]
        stream = v.path(v.marker("stream"))
        appender = self.spawn(STREAM_WRITER, stream)
        try:
            wait_for(lambda: all(len(read_log(lg)) >= 4 for lg in logs), 60,
                     "the writers to fsync 4 files each")
        finally:
            u.log("crash: writers fsync'ed %s files" % [len(read_log(lg)) for lg in logs])
        for p in writers + [appender]:
            if p.poll() is not None:
                self.fail("a writer died early: %s" % p.stderr.read())
        st.kill_daemon(v)
        for p in writers + [appender]:
            try:
                p.wait(timeout=WRITER_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.fail("a writer hung on the dead mount for %d s" % WRITER_TIMEOUT)
            self.assertNotEqual(p.returncode, 0)
        for d, lg in zip(wdirs, logs):
            for name, digest in read_log(lg).items():
                expect[os.path.join(os.path.basename(d), name)] = digest
        u.log("crash: %d fsync'ed files to check, %d written during the kill"
              % (len(expect), sum(len(read_log(lg)) for lg in logs)))

        v.mount()  # same cache
        self.check_files(expect, "same cache after kill -9 (busy)")
        if os.path.exists(stream):  # may be there or not; if there, readable
            st.file_digest(stream)
        v.unmount()
        v.mount(cache=v.fresh_cache())
        self.check_files(expect, "fresh cache after unmount")
        v.unmount()
        self.assertEqual(v.leaks(), [], "plaintext in the bucket or a cache")


if __name__ == "__main__":
    st.main()
