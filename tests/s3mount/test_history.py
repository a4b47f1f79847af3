"""History and restore on a vault in an S3 bucket (s3rver on loopback): a file
and a folder written in one mount, deleted in the next (the head a mount
opens is always kept, so no test clock is needed); `sealfs history` lists the
deleted file's version, `sealfs restore` brings both back byte for byte
through the mount, and after the unmount `sealfs fsck --all-heads` finds
every retained head's tree clean. Then `sealfs config` changes the window on
the bucket (compare-and-swap on S3) and `info --unlock` shows it, still clean.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import s3 as u  # noqa: E402
from sealfstest.s3 import st  # noqa: E402

DOC = os.urandom(1024 * 1024 + 4097)  # two segments
INNER = b"inside the folder\n" * 300


class S3History(u.ServerCase):
    TAG = "s3hist"

    def cmd(self, *args, check=True):
        return st.sealfs(*args, "--passphrase-file", self.v.passfile, check=check, timeout=120)

    def fsck_all_heads(self):
        p = self.cmd("fsck", self.v.store, "--all-heads", "--json", check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout)["counts"]

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            return f.read()

    def test_delete_restore_fsck_all_heads(self):
        self.v = v = u.S3Vault("s3hist", self.server, "vault")
        v.init()
        v.mount()
        u.write_file(v.path("doc.bin"), DOC)
        os.makedirs(v.path("folder", "sub"))
        u.write_file(v.path("folder", "sub", "inner.txt"), INNER)
        v.unmount()
        v.mount()
        os.unlink(v.path("doc.bin"))
        os.unlink(v.path("folder", "sub", "inner.txt"))
        os.rmdir(v.path("folder", "sub"))
        os.rmdir(v.path("folder"))
        st.sealfs("sync", v.mnt, "--timeout", "60")
        p = self.cmd("history", v.path("doc.bin"), "--json")
        vs = json.loads(p.stdout)["versions"]
        self.assertEqual(len(vs), 1, vs)
        self.assertFalse(vs[0]["current"])
        self.assertEqual(vs[0]["size"], len(DOC))
        self.cmd("restore", v.path("doc.bin"))
        self.cmd("restore", v.path("folder"))
        self.assertEqual(self.read(v.path("doc.bin")), DOC)
        self.assertEqual(self.read(v.path("folder", "sub", "inner.txt")), INNER)
        st.sealfs("sync", v.mnt, "--timeout", "60")
        v.unmount()
        counts = self.fsck_all_heads()
        self.assertGreaterEqual(counts["heads"], 2)
        self.assertEqual((counts["damaged"], counts["missing"], counts["orphans"]), (0, 0, 0))
        # The restored copies are new objects: a fresh cache reads them from the bucket.
        v.mount(cache=v.fresh_cache())
        self.assertEqual(self.read(v.path("doc.bin")), DOC)
        v.unmount()
        # The window, changed on the bucket.
        p = self.cmd("config", v.store, "keep-days", "9", "grace", "120")
        self.assertIn("keep-days 9\n  grace 120\n", p.stdout)
        p = self.cmd("info", v.store, "--unlock")
        self.assertIn("keeps history: 9 days (777600 s); deletes after a grace of 120 s\n",
                      p.stdout)
        self.assertEqual(self.fsck_all_heads()["heads"], counts["heads"] + 1)
        hits = v.leaks()
        self.assertEqual(hits, [], "plaintext in the bucket or a cache: %r" % hits[:5])


if __name__ == "__main__":
    unittest.main(verbosity=2)
