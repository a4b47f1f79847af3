"""The test server itself (the patched s3rver of tests/s3/patch-s3rver.js,
fix 10): a PUT whose client vanished (kill -9) before the server read its
body must not hold its key's lock. The daemon killed by test_crash.py leaves
such PUTs behind, and the next mount puts the same keys again (its journal
still lists them): before the fix each of those PUTs hung until curl's
low-speed limit, the uploader failed with ETIMEDOUT and `sealfs unmount`
exited 17. Raw HTTP on a socket reset right after the request was sent, then
an ordinary PUT of the same key, which must be answered in seconds. No mount;
bounded: one s3rver, a few seconds. And a listing that meets an entry gone
since it read the directory lists the rest (not 500).

And `s3rver.sh install`, which every ServerCase's set-up runs while other
tests' servers run, never leaves the SigV4 checker (fix 6) empty or half
written: a server loads it at its first signed request and keeps what it
loaded. Before, the install truncated it and wrote it again each time, and a
fresh server that loaded it empty answered every signed request 500
InternalError (CI's s3mount-devices at its first `sealfs init`)."""

import http.client
import os
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import s3 as u  # noqa: E402

CHECKER = os.path.join(u.S3_DIR, "node_modules", "s3rver", "lib", "middleware",
                       "sigv4-verify.js")  # what the server loads
CHECKER_SRC = os.path.join(u.S3_DIR, "s3rver-sigv4-verify.js")  # what the install copies
ANSWER_SECS = 10  # a PUT of a few bytes on loopback: far less, even under load
ABORTS = 8  # aborted PUTs per case: the client must vanish while the server waits at least once


class AbortedPut(u.ServerCase):
    TAG = "abort"

    def set_up(self):
        pass  # no sealfs here: raw requests (s3rver lets anonymous ones in)

    def put(self, key, body, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=ANSWER_SECS)
        try:
            c.request("PUT", "/%s/%s" % (u.BUCKET, key), body=body, headers=headers or {})
            r = c.getresponse()
            r.read()
            return r.status, r.getheader("ETag")
        finally:
            c.close()

    def put_and_vanish(self, key, body, headers):
        """Sends a whole PUT, then resets the connection at once, as the
        kernel does for a process killed with -9."""
        head = "PUT /%s/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n" % (
            u.BUCKET, key, self.server.port, len(body))
        head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=ANSWER_SECS)
        try:
            s.sendall(head.encode() + body)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            s.close()

    def check_key_still_takes_puts(self, key, conditional):
        status, etag = self.put(key, b"first")
        self.assertEqual(status, 200)
        for i in range(ABORTS):
            self.put_and_vanish(key, b"lost %d" % i, {"If-Match": etag} if conditional else {})
        time.sleep(0.5)  # let the server see the resets
        start = time.monotonic()
        try:
            status, _ = self.put(key, b"after")
        except (TimeoutError, socket.timeout):
            self.fail("a PUT of %s hung for %d s after aborted PUTs of it (its lock is held)"
                      % (key, ANSWER_SECS))
        u.log("PUT after %d aborted ones: %d in %.2f s" % (ABORTS, status, time.monotonic() - start))
        self.assertEqual(status, 200)
        stray = [n for n in os.listdir(os.path.dirname(self.server.bucket_dir(key)))
                 if ".tmp-" in n]
        self.assertEqual(stray, [], "temporary files of aborted PUTs left behind")

    def test_conditional_put_after_vanished_client(self):
        self.check_key_still_takes_puts("vault/head", conditional=True)

    def test_plain_put_after_vanished_client(self):
        self.check_key_still_takes_puts("vault/o/ab/abcdef", conditional=False)
        self.check_listing_skips_a_vanished_entry("vault/o/ab/abcdef")

    def check_listing_skips_a_vanished_entry(self, key):
        """Fix 11 (on this test's server, to add no server start): a listing
        of the prefix while an entry it read from the directory is gone by
        the time it looks at it (a DELETE, a PUT's temporary file renamed)
        lists the rest, not 500 InternalError. A dangling symlink is such an
        entry every time: listed by readdir, ENOENT to stat."""
        os.symlink("no-such-file", os.path.join(os.path.dirname(self.server.bucket_dir(key)),
                                                "gone._S3rver_object"))
        c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=ANSWER_SECS)
        try:
            c.request("GET", "/%s?list-type=2&prefix=vault%%2F" % u.BUCKET)
            r = c.getresponse()
            body = r.read().decode(errors="replace")
        finally:
            c.close()
        self.assertEqual(r.status, 200, body)
        self.assertIn("<Key>%s</Key>" % key, body)
        self.assertNotIn("gone", body)


class CheckerInstall(unittest.TestCase):
    """s3rver.sh install leaves an unchanged checker as it is and replaces a
    changed one by a whole new file (a server holding the old one open still
    reads all of it), never writing over the file a server may be loading."""

    def setUp(self):
        u.require_s3rver()

    def install(self):
        p = subprocess.run([u.S3RVER_SH, "install"], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_unchanged_checker_is_left_alone(self):
        before = os.stat(CHECKER)
        self.install()
        after = os.stat(CHECKER)
        self.assertEqual((after.st_ino, after.st_mtime_ns), (before.st_ino, before.st_mtime_ns),
                         "the install wrote the unchanged checker again")

    def test_changed_checker_is_replaced_whole(self):
        with open(CHECKER_SRC, "rb") as f:
            src = f.read()
        stale = src + b"\n// a stale copy (test_s3rver_abort.py)\n"
        tmp = "%s.tmp-test-%d" % (CHECKER, os.getpid())
        with open(tmp, "wb") as f:
            f.write(stale)
        os.rename(tmp, CHECKER)  # valid JS all along: other tests' servers may load it
        fd = os.open(CHECKER, os.O_RDONLY)  # as a server loading it holds it
        try:
            self.install()
            held = os.pread(fd, len(stale) + 1, 0)
        finally:
            os.close(fd)
        with open(CHECKER, "rb") as f:
            self.assertEqual(f.read(), src, "the install did not update the checker")
        self.assertEqual(held, stale, "the install wrote over the checker in place")


if __name__ == "__main__":
    unittest.main(verbosity=2)
