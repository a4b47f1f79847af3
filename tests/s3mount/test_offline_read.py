"""Reading a file that is not in the cache while the S3 store is out.

A vault written by an earlier mount is mounted in the foreground (-f, the
daemon logs to its stderr) with a fresh, empty cache; its directories are
listed while the server is up, so their objects are cached but no file
content is. Then the store goes out, in two ways:

1. refused: s3rver is killed (kill -9), connections are refused;
2. black hole: a proxy in front of s3rver is replaced, on the same port, by
   one that accepts connections and reads requests but never answers.

Reading an uncached file must fail with EIO within READ_BOUND seconds (the
bound docs/CLI.md documents, HTTP_FOREGROUND_BOUND_MS in backends/http.h),
and the daemon's log must give a one-line reason (the errno text) that names
no file (the kernel retries a failed read at once: that retry must not double
the wait). A cached file still reads. Once the store is back, the same read
works on the same mount, without remounting, and `sealfs unmount` returns 0.

Prints OFFLINE lines: how long each read took.
"""

import errno
import os
import signal
import sys
import textwrap
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, s3 as u

READ_BOUND = 10  # s: docs/CLI.md, "Offline"; HTTP_FOREGROUND_BOUND_MS
SLACK = 5  # s: process start-up and a loaded machine on top of the bound
HOLD = 1.5  # s: for 1 s after a failed fetch, reads of that file's uncached
            # segments fail at once (CONTENT_UNREACHABLE_HOLD_MS in fs/vault/content_fetch.c)
OP_TIMEOUT = 120  # s: a read taking longer counts as a hang

# Reads a file in a child, so a hang cannot hang the test: prints
# "ok SECONDS SHA256" or "errno N SECONDS".
READ = textwrap.dedent("""
    import hashlib, os, sys, time
    t = time.monotonic()
    h = hashlib.sha256()
    try:
        with open(sys.argv[1], "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
        print("ok %.2f %s" % (time.monotonic() - t, h.hexdigest()))
    except OSError as e:
        print("errno %d %.2f" % (e.errno, time.monotonic() - t))
""")


class OfflineRead(u.ForegroundCase):
    TAG = "offread"

    def write_vault(self, tag):
        """A vault with files in the root and in a subdirectory, written and
        unmounted (so the store holds everything). Returns name -> data."""
        v = self.v = u.S3Vault(tag, self.server, tag)
        v.init()
        v.mount()
        d = v.marker("dir")
        os.mkdir(v.path(d))
        files = {
            v.marker("big"): u.random_bytes(3 * u.MIB + 4321),
            os.path.join(d, v.marker("small")): u.random_bytes(50000),
            v.marker("cached"): u.random_bytes(70000),
        }
        for name, data in files.items():
            v.note_names(name.split(os.sep))
            u.write_file(v.path(name), data)
        v.unmount()
        return files

    def read(self, name, what):
        """Reads name on the mount in a child; returns (errno or 0, seconds, sha256)."""
        w = u.run_child(self, READ, (self.v.path(name),), what + ": read", OP_TIMEOUT)
        e, secs = (0, float(w[1])) if w[0] == "ok" else (int(w[1]), float(w[2]))
        u.log("OFFLINE %-28s %-6s after %.2f s" % (what, "ok" if e == 0 else
                                                   errno.errorcode.get(e, str(e)), secs))
        return e, secs, (w[2] if e == 0 else None)

    def read_outage(self, name, kind, reason):
        """The read of uncached name fails with EIO within the bound, with one
        log line giving reason and no name; a cached file still reads."""
        before = len(self.log_text())
        e, secs, _ = self.read(name, kind + ": uncached file")
        self.assertEqual(e, errno.EIO, "%s: read gave %s, not EIO" % (
            kind, errno.errorcode.get(e, e)))
        self.assertLess(secs, READ_BOUND + SLACK, "%s: EIO only after %.1f s" % (kind, secs))
        new = self.log_text()[before:]
        lines = [line for line in new.splitlines() if "not cached" in line]
        self.assertTrue(lines, "%s: no reason in the log: %r" % (kind, new))
        for line in lines:
            u.log("OFFLINE daemon: " + line)
            self.assertIn(reason, line, "%s: log line without the reason" % kind)
            self.assertIn("EIO", line)
        log = self.log_text()
        for needle in self.v.markers + sorted(n.decode() for n in self.v.names):
            self.assertNotIn(needle, log, "a file name in the daemon's log")

    def check_back(self, files, name, kind):
        time.sleep(HOLD)
        e, secs, digest = self.read(name, kind + ": store back")
        self.assertEqual(e, 0, "%s: read failed after the store came back" % kind)
        self.assertEqual(digest, u.sha256(files[name]), "%s: wrong content" % kind)
        for n, data in files.items():
            e, _, digest = self.read(n, kind + ": every file")
            self.assertEqual((e, digest), (0, u.sha256(data)), n)
        self.v.unmount()
        self.assertEqual(self.fg.wait(timeout=60), 0, "mount -f exit status")
        self.assertEqual(self.v.leaks(), [], "plaintext in the bucket or a cache")

    def test_server_killed(self):
        u.use_endpoint(self.server.endpoint, root=self.root)
        files = self.write_vault("offkill")
        self.mount_foreground()
        cached = [n for n in files if "cached-" in n][0]
        self.assertEqual(self.read(cached, "refused: warm-up")[0], 0)
        port = self.server.port
        self.server.stop(signal.SIGKILL)
        big = [n for n in files if "big-" in n][0]
        self.read_outage(big, "refused", "Connection refused")
        self.assertEqual(self.read(cached, "refused: cached file")[0], 0,
                         "a cached file failed to read during the outage")
        small = [n for n in files if "small-" in n][0]
        self.read_outage(small, "refused", "Connection refused")
        self.server.start(port=port)
        self.check_back(files, big, "refused")

    def test_black_hole(self):
        front = self.proxy("")
        port = front.port
        u.use_endpoint(front.endpoint, root=self.root)
        files = self.write_vault("offhole")
        self.mount_foreground()
        cached = [n for n in files if "cached-" in n][0]
        self.assertEqual(self.read(cached, "black hole: warm-up")[0], 0)
        front.stop()
        hole = self.proxy("hang", port=port)
        big = [n for n in files if "big-" in n][0]
        self.read_outage(big, "black hole", "timed out")
        self.assertEqual(self.read(cached, "black hole: cached file")[0], 0,
                         "a cached file failed to read during the outage")
        self.assertGreater(hole.modes().get("hang", 0), 0, "the black hole saw no request")
        hole.stop()
        self.proxy("", port=port)
        self.check_back(files, big, "black hole")


if __name__ == "__main__":
    st.main()
