"""FIFOs, UNIX sockets and device nodes on a sealfs mount (docs/DESIGN-FORMAT-2.md,
section 7): a format-1 vault refuses them with EPERM and logs once that
`sealfs upgrade` converts it; a format-2 vault stores them (type, mode, rdev),
lists and stats them, and the kernel does their I/O."""

import errno
import os
import shutil
import socket
import stat
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st
from sealfstest.devices import Device


GOLDEN1 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "crypto",
                       "golden-aes256gcm")


def format1_vault(tag):
    """A vault whose store is a copy of the format-1 golden vault
    (tests/data/crypto/README.md: its passphrase and tree)."""
    v = st.Vault(tag)
    shutil.copytree(GOLDEN1, v.store)
    with open(v.passfile, "w") as f:
        f.write("sealfs golden vault\n")
    v.passphrase = "sealfs golden vault"
    return v


def refusal(fn):
    """The errno fn raised (None when it did not fail)."""
    try:
        fn()
    except OSError as e:
        return e.errno
    return None


class Format1Refuses(unittest.TestCase):
    """A format-1 vault has no entry type for them: EPERM, one log line."""

    def setUp(self):
        self.v = format1_vault("special1")
        self.dev = Device(self.v, "a")
        self.dev.mount()

    def tearDown(self):
        try:
            self.dev.unmount()
        finally:
            self.v.cleanup()

    def test_eperm_and_one_log_line_naming_upgrade(self):
        p = self.dev.path
        self.assertEqual(refusal(lambda: os.mkfifo(p("fifo"))), errno.EPERM)
        self.assertEqual(refusal(lambda: os.mkfifo(p("fifo2"))), errno.EPERM)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.assertEqual(refusal(lambda: s.bind(p("sock"))), errno.EPERM)
        finally:
            s.close()
        if os.geteuid() == 0:
            self.assertEqual(refusal(lambda: os.mknod(p("chr"), 0o600 | stat.S_IFCHR,
                                                      os.makedev(1, 3))), errno.EPERM)
        self.assertEqual(sorted(os.listdir(self.dev.mnt)), ["big.bin", "docs", "hello.txt", "link"])
        # Regular files through mknod still work.
        os.mknod(p("regular"), 0o600 | stat.S_IFREG)
        self.assertTrue(stat.S_ISREG(os.stat(p("regular")).st_mode))
        self.dev.unmount()
        lines = [ln for ln in self.dev.log_text().splitlines() if "sealfs upgrade" in ln]
        self.assertEqual(len(lines), 1, self.dev.log_text())
        self.assertIn("format 1", lines[0])


if __name__ == "__main__":
    st.main()
