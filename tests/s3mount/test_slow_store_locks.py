"""No request waits on the store while holding a lock that others need.

A vault written by an earlier mount is mounted in the foreground with a fresh
cache; every directory is listed (their objects get cached) and one small file
in folder a/ is read. Then the store turns slow: a proxy in front of s3rver
delays every GET by SLOW_MS. A cold read of a large file in the root now
waits on the store. Meanwhile a file is created in folder b/ (the root and b/
become dirty, and the background commit seals the root, whose entries include
the file being read). While the read still waits:

- `ls -l` of folder a/,
- a create in folder a/,
- a rename within folder a/

must each return within OP_BOUND seconds. Before the fetch was done outside
the file's lock, the commit held the tree lock while it waited for the
reader's file lock, and all three waited for the store.

Prints SLOWSTORE lines: how long each operation took.
"""

import os
import sys
import subprocess
import textwrap
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, s3 as u

SLOW_MS = 3500  # every GET through the slow proxy: below the 5 s stall bound of
               # foreground reads (backends/http.c), so the read succeeds slowly
OP_BOUND = 1.0  # s: the bound for requests that do not need the store
OP_TIMEOUT = 60  # s: an operation taking longer counts as a hang

# Runs one operation in a child (so a hang cannot hang the test); prints
# "ok SECONDS" or "errno N SECONDS".
OP = textwrap.dedent("""
    import os, subprocess, sys, time
    op, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
    t = time.monotonic()
    try:
        if op == "read":
            with open(a, "rb") as f:
                while f.read(1 << 20):
                    pass
        elif op == "ls":
            subprocess.run(["ls", "-l", a], check=True, stdout=subprocess.DEVNULL)
        elif op == "create":
            with open(a, "wb") as f:
                f.write(b"new")
        elif op == "rename":
            os.rename(a, b)
        print("ok %.3f" % (time.monotonic() - t))
    except (OSError, subprocess.CalledProcessError) as e:
        print("errno %d %.3f" % (getattr(e, "errno", 0) or 0, time.monotonic() - t))
""")


class SlowStoreLocks(u.ForegroundCase):
    TAG = "slowlock"

    def start_op(self, op, a, b=""):
        return subprocess.Popen([sys.executable, "-c", OP, op, a, b],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def finish_op(self, p, what):
        try:
            out, err = p.communicate(timeout=OP_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            self.fail("%s hung for more than %d s" % (what, OP_TIMEOUT))
        words = out.split()
        self.assertTrue(words and words[0] == "ok", "%s failed: %r %r" % (what, out, err))
        secs = float(words[1])
        u.log("SLOWSTORE %-24s %.3f s" % (what, secs))
        return secs

    def op(self, what, op, a, b=""):
        return self.finish_op(self.start_op(op, a, b), what)

    def write_vault(self):
        v = self.v = u.S3Vault("slowlock", self.server, "slowlock")
        v.init()
        v.mount()
        self.big = v.marker("big")
        self.a, self.b = v.marker("dira"), v.marker("dirb")
        self.small = os.path.join(self.a, v.marker("small"))
        os.mkdir(v.path(self.a))
        os.mkdir(v.path(self.b))
        v.note_names([self.big, self.a, self.b, os.path.basename(self.small)])
        u.write_file(v.path(self.big), u.random_bytes(10 * u.MIB + 123))
        u.write_file(v.path(self.small), u.random_bytes(5000))
        v.unmount()

    def mount_foreground(self):
        super().mount_foreground("--commit-delay", "100")
        with open(self.v.path(self.small), "rb") as f:
            f.read()

    def test_requests_elsewhere_do_not_wait_for_a_cold_read(self):
        front = self.proxy("")
        port = front.port
        u.use_endpoint(front.endpoint, root=self.root)
        self.write_vault()
        self.mount_foreground()
        front.stop()
        slow = self.proxy("delay:%d@GET " % SLOW_MS, port=port)
        time.sleep(1.2)  # the kernel's entry and attribute caches (1 s) expire
        v = self.v
        reader = self.start_op("read", v.path(self.big))
        time.sleep(0.5)  # the read is waiting on the store
        self.op("create in b/ (dirties root)", "create", v.path(self.b, "new"))
        time.sleep(0.5)  # the background commit (--commit-delay 100) runs now
        waits = {
            "ls -l a/": self.op("ls -l a/", "ls", v.path(self.a)),
            "create in a/": self.op("create in a/", "create", v.path(self.a, "x")),
            "rename in a/": self.op("rename in a/", "rename", v.path(self.small),
                                    v.path(self.a, "renamed")),
        }
        still_reading = reader.poll() is None
        read_secs = self.finish_op(reader, "cold read (slow store)")
        self.assertGreater(slow.modes().get("delay", 0), 0, "no GET went through the slow proxy")
        self.assertTrue(still_reading and read_secs >= SLOW_MS / 1000.0 * 0.9,
                        "the cold read did not wait on the store (%.2f s): the test proves "
                        "nothing" % read_secs)
        for what, secs in waits.items():
            self.assertLess(secs, OP_BOUND, "%s took %.2f s while a read waited on the "
                            "store" % (what, secs))
        v.unmount()
        self.assertEqual(self.fg.wait(timeout=120), 0, "mount -f exit status")


if __name__ == "__main__":
    st.main()
