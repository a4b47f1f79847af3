"""Set-user-ID and set-group-ID are cleared where the kernel would clear them,
now that sealfs takes that job over (FUSE_HANDLE_KILLPRIV_V2, fs/daemon/fuse_io.c,
issue #18): a write, a truncate, a fallocate or an O_TRUNC open by a
process without CAP_FSETID, and any chown (also to -1, -1), clear S_ISUID,
and S_ISGID when group-execute is set; a writer with CAP_FSETID and a
utime keep them, and set-group-ID without group-execute stays. The mode
must be right at once (the kernel's cached attributes are invalidated: a
WRITE or OPEN reply carries none) and after a remount (committed), and the
bytes written must be there.

The processes without CAP_FSETID are root with it dropped from the bounding
set (setpriv), so the test needs root and setpriv; else it skips. Bounded:
about a second, a few small files."""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

NO_FSETID = ["setpriv", "--bounding-set", "-fsetid"]

# (name, mode before, how, expected mode): how is run without CAP_FSETID
# unless it starts with "root:".
CASES = [
    ("write", 0o6755, "append", 0o0755),
    ("write-root", 0o6755, "root:append", 0o6755),
    ("truncate", 0o6755, "truncate", 0o0755),
    ("open-trunc", 0o6755, "otrunc", 0o0755),
    ("chown", 0o6755, "root:chown", 0o0755),
    ("sgid-no-gx", 0o2745, "append", 0o2745),
    ("direct-write", 0o6755, "direct", 0o0755),
    ("fallocate", 0o6755, "fallocate", 0o0755),
    ("chown-same", 0o6755, "chown-same", 0o0755),
    ("touch", 0o6755, "root:touch", 0o6755),
]

# Run as a child: python3 -c SCRIPT HOW PATH.
SCRIPT = r"""
import mmap, os, sys
how, p = sys.argv[1], sys.argv[2]
if how == "append":
    with open(p, "ab") as f:
        f.write(b"appended\n")
elif how == "truncate":
    os.truncate(p, 3)
elif how == "otrunc":
    os.close(os.open(p, os.O_WRONLY | os.O_TRUNC))
elif how == "chown":
    os.chown(p, 0, 0)
elif how == "chown-same":
    os.chown(p, -1, -1)
elif how == "touch":
    os.utime(p, (5, 7))
elif how == "fallocate":
    fd = os.open(p, os.O_WRONLY)
    os.posix_fallocate(fd, 0, 8192)
    os.close(fd)
elif how == "direct":
    fd = os.open(p, os.O_WRONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 4096)
    buf.write(b"d" * 4096)
    os.pwrite(fd, buf, 0)
    os.close(fd)
"""

EXPECT_BYTES = {
    "append": b"original\nappended\n",
    "truncate": b"ori",
    "otrunc": b"",
    "chown": b"original\n",
    "direct": b"d" * 4096,
    "fallocate": b"original\n",
    "chown-same": b"original\n",
    "touch": b"original\n",
}


def can_drop_fsetid():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return False
    return subprocess.run(NO_FSETID + ["true"], capture_output=True, timeout=10).returncode == 0


def act(how, path):
    root = how.startswith("root:")
    how = how.split(":")[-1]
    args = [sys.executable, "-c", SCRIPT, how, path]
    p = subprocess.run(args if root else NO_FSETID + args, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, "%s failed: %s" % (how, p.stderr)
    return how


class KillPriv(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if st.missing_fuse():
            raise unittest.SkipTest(st.missing_fuse())
        if not can_drop_fsetid():
            raise unittest.SkipTest("needs root and setpriv to drop CAP_FSETID")

    def setUp(self):
        self.v = st.Vault("killpriv")
        self.v.init()
        self.v.mount()

    def tearDown(self):
        self.v.cleanup()

    def mode(self, name):
        # stat(1) asks statx for the mode alone: the kernel answers from its
        # cache unless the mode was invalidated (os.stat asks for st_blocks
        # too, which a write invalidates, and would hide a stale mode).
        p = subprocess.run(["stat", "-c", "%a", os.path.join(self.v.mnt, name)],
                           capture_output=True, text=True, timeout=30, check=True)
        return int(p.stdout.strip(), 8)

    def test_modes_after_each_change(self):
        done = {}
        for name, before, how, want in CASES:
            p = os.path.join(self.v.mnt, name)
            with open(p, "wb") as f:
                f.write(b"original\n")
            os.chmod(p, before)
            kind = act(how, p)
            self.assertEqual(oct(self.mode(name)), oct(want), name + ": mode right after")
            done[name] = (want, EXPECT_BYTES[kind])
        self.v.remount()
        for name, (want, data) in done.items():
            self.assertEqual(oct(self.mode(name)), oct(want), name + ": mode after remount")
            with open(os.path.join(self.v.mnt, name), "rb") as f:
                got = f.read()
            self.assertEqual(got[:len(data)], data, name + ": bytes after remount")

    def test_set_again_after_a_write(self):
        # The kernel skips the check on an inode it marked S_NOSEC after a
        # write; a chmod must make it check again.
        p = os.path.join(self.v.mnt, "again")
        with open(p, "wb") as f:
            f.write(b"original\n")
        for _ in range(3):
            os.chmod(p, 0o4755)
            act("append", p)
            self.assertEqual(oct(self.mode("again")), oct(0o755))


if __name__ == "__main__":
    unittest.main()
