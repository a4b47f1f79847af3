"""The test server itself (the patched s3rver of tests/s3/patch-s3rver.js,
fix 10): a PUT whose client vanished (kill -9) before the server read its
body must not hold its key's lock. The daemon killed by test_crash.py leaves
such PUTs behind, and the next mount puts the same keys again (its journal
still lists them): before the fix each of those PUTs hung until curl's
low-speed limit, the uploader failed with ETIMEDOUT and `sealfs unmount`
exited 17. Raw HTTP on a socket reset right after the request was sent, then
an ordinary PUT of the same key, which must be answered in seconds. No mount;
bounded: one s3rver, a few seconds."""

import http.client
import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import s3 as u  # noqa: E402

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
