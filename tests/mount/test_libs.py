"""libcurl and libxml2 are loaded only for S3 stores (issue #18, daemon
memory): a daemon over a local store, after real I/O, has neither mapped
(with what they bring, about 6 MiB of every daemon's RSS before), and when
one of them cannot be loaded an s3:// store fails with one line naming the
file and its Debian package, exit 2 (docs/CLI.md), not a loader error at
start. The control, that an S3 daemon does map both, is
tests/s3mount/test_libs.py.

A library is made unloadable in a private mount namespace (root, unshare)
by bind-mounting /dev/null over the file the dynamic loader resolves; the
host never sees it. Bounded: a few seconds."""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

S3_LIBS = {"libcurl.so.4": "libcurl4", "libxml2.so.2": "libxml2"}
CMD_TIMEOUT = 60


def mapped_files(pid):
    """The paths of every file mapped into pid."""
    paths = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                paths.add(parts[5].strip())
    return paths


def resolved(soname):
    """The file the dynamic loader opens for soname (ld.so.cache), or None."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    p = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=CMD_TIMEOUT)
    for line in p.stdout.splitlines():
        m = re.match(r"\s*(\S+) \((libc6,x86-64|libc6,AArch64|libc6)[^)]*\) => (\S+)", line)
        if m and m.group(1) == soname:
            return os.path.realpath(m.group(3))
    return None


class LocalDaemon(unittest.TestCase):
    def setUp(self):
        self.v = st.Vault("libs")

    def tearDown(self):
        self.v.cleanup()

    def test_local_store_daemon_maps_no_s3_library(self):
        self.v.init()
        self.v.mount()
        pid = st.daemon_pid(self.v.mnt)
        with open(self.v.path("f"), "wb") as f:
            f.write(os.urandom(3 << 20))
            f.flush()
            os.fsync(f.fileno())
        with open(self.v.path("f"), "rb") as f:
            self.assertEqual(len(f.read()), 3 << 20)
        files = mapped_files(pid)
        self.assertTrue(any("libsodium" in p for p in files),
                        "control: libsodium not among the daemon's mappings, so the scan is "
                        "broken: %s" % sorted(files))
        s3 = sorted(p for p in files if "libcurl" in p or "libxml2" in p)
        self.assertEqual(s3, [], "a local-store daemon has S3 libraries mapped")
        self.v.unmount()


class MissingLibrary(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root for a private mount namespace")
        if not shutil.which("unshare"):
            self.skipTest("needs unshare (util-linux)")
        # a namespace whose bind mounts the host never sees
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, timeout=CMD_TIMEOUT)
        if p.returncode != 0:
            self.skipTest("no private mount namespace here")

    def without(self, soname, args):
        path = resolved(soname)
        if not path:
            self.skipTest("%s not in the loader's cache" % soname)
        script = 'mount --bind /dev/null "$1" && shift && exec "$@"'
        return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                               "sh", path, st.SEALFS] + args, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=CMD_TIMEOUT)

    def test_s3_store_without_its_library_fails_with_one_line(self):
        for soname, pkg in S3_LIBS.items():
            with self.subTest(soname=soname):
                p = self.without(soname, ["info", "s3://sealfs-test/libs"])
                lines = p.stderr.strip().splitlines()
                self.assertEqual(p.returncode, st.EXIT_OTHER, p.stderr)
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertIn("cannot load %s (Debian package %s)" % (soname, pkg), lines[0])

    def test_local_store_works_without_them(self):
        v = st.Vault("libs-local")
        try:
            v.init()
            p = self.without("libcurl.so.4", ["info", v.store])
            self.assertEqual(p.returncode, 0, p.stderr)
            p = self.without("libxml2.so.2", ["info", v.store])
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
