"""The control of tests/mount/test_libs.py: a daemon over an S3 store has
libcurl and libxml2 mapped (loaded with dlopen when the store is opened,
backends/s3_dl.c) and works through them: a file written, synced to the
store and read back. A local-store daemon must have neither
(tests/mount/test_libs.py). Bounded: one s3rver, a few seconds."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import s3 as u  # noqa: E402
from sealfstest.s3 import st  # noqa: E402


def mapped_files(pid):
    """The paths of every file mapped into pid."""
    with open("/proc/%d/maps" % pid) as f:
        return {p[5].strip() for p in (line.split(None, 5) for line in f)
                if len(p) == 6 and p[5].startswith("/")}


class S3Libraries(u.ServerCase):
    TAG = "libs"

    def test_s3_daemon_maps_curl_and_libxml2(self):
        self.v = u.S3Vault("libs", self.server, "vault")
        self.v.init()
        self.v.mount()
        pid = st.daemon_pid(self.v.mnt)
        data = u.random_bytes(200000)
        u.write_file(self.v.path("f"), data)
        st.sealfs("sync", self.v.mnt, timeout=60)
        with open(self.v.path("f"), "rb") as f:
            self.assertEqual(f.read(), data)
        files = mapped_files(pid)
        for lib in ("libcurl.so.4", "libxml2.so.2"):
            self.assertTrue(any(os.path.basename(p).startswith(lib) for p in files),
                            "%s not mapped in an S3 daemon" % lib)
        self.v.unmount()


if __name__ == "__main__":
    unittest.main(verbosity=2)
