"""`sealfs fsck` on a vault in an S3 bucket (s3rver on loopback): clean ->
0 (full and --quick); a planted orphan -> 21; --repair keeps it under the
default grace because S3 gives no object ages, --grace 0 deletes it; a
segment deleted from the bucket -> 20 naming the file, with --quick too.
Abandoned multipart uploads: a mount aborts the vault's uploads begun over
24 h ago in the background and keeps a fresh one; fsck counts them (21) and
--repair aborts them.
The bucket is tampered through s3rver's files on disk (KEY._S3rver_object
and its metadata files beside it).
"""

import glob
import json
import os
import secrets
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import s3 as u, security as su  # noqa: E402
from sealfstest.s3 import st  # noqa: E402

SUFFIX = "._S3rver_object"
BIG = os.urandom(2 * u.MIB + 1)  # 3 segments


class S3Fsck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        u.require_s3rver()
        cls.root = u.tmp_root("fsck")
        cls.server = u.S3rver(cls.root)
        cls.v = None
        try:
            cls.server.start()
            u.use_endpoint(cls.server.endpoint, root=cls.root)
            cls.v = v = u.S3Vault("fsck", cls.server, "vault")
            v.init()
            v.mount()
            with open(v.path("big.bin"), "wb") as f:
                f.write(BIG)
            with open(v.path("small.txt"), "wb") as f:
                f.write(b"small\n")
            v.unmount()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.v:
            cls.v.cleanup()
        cls.server.stop()
        shutil.rmtree(cls.root, ignore_errors=True)

    def fsck(self, *extra):
        return st.sealfs("fsck", self.v.store, "--passphrase-file", self.v.passfile, *extra,
                         check=False, timeout=60)

    def tree(self):
        """secutil's reader over a copy of the bucket with s3rver's suffix cut."""
        base = self.server.bucket_dir("vault")
        view = os.path.join(self.root, "view-" + secrets.token_hex(4))
        for key in u.listing(self.server, "vault"):
            os.makedirs(os.path.dirname(os.path.join(view, key)), exist_ok=True)
            shutil.copyfile(os.path.join(base, key + SUFFIX), os.path.join(view, key))
        return su.Tree(view, su.VaultKeys(view, self.v.recovery_key))

    def assert_code(self, p, code, *lines):
        self.assertEqual(p.returncode, code, "stdout: %s\nstderr: %s" % (p.stdout, p.stderr))
        for line in lines:
            self.assertIn(line, p.stdout)

    def test_fsck_on_s3(self):
        self.assert_code(self.fsck(), 0, ": clean")
        self.assert_code(self.fsck("--quick"), 0, ": clean")
        t = self.tree()
        base = self.server.bucket_dir("vault")
        # An orphan: a copy of a segment's files (object and metadata) under a new key.
        seg0 = t.segments(b"big.bin")[0]
        new = secrets.token_hex(16)
        orphan = "o/%s/%s" % (new[:2], new)
        os.makedirs(os.path.join(base, "o", new[:2]), exist_ok=True)
        for src in glob.glob(os.path.join(base, "o", seg0[:2], seg0 + "._S3rver_*")):
            shutil.copyfile(src, os.path.join(base, "o", new[:2],
                                              new + os.path.basename(src)[len(seg0):]))
        self.assertIn(orphan, u.listing(self.server, "vault"))
        self.assert_code(self.fsck(), 21, "orphan: " + orphan)
        self.assert_code(self.fsck("--repair"), 21, "orphan: %s (kept: the store cannot tell its "
                         "age; --grace 0 deletes it)" % orphan)
        self.assert_code(self.fsck("--repair", "--grace", "0"), 0, "orphan: %s (deleted)" % orphan)
        self.assertNotIn(orphan, u.listing(self.server, "vault"))
        # A missing segment.
        seg1 = t.segments(b"big.bin")[1]
        for p in glob.glob(os.path.join(base, "o", seg1[:2], seg1 + "._S3rver_*")):
            os.unlink(p)
        self.assert_code(self.fsck("--quick"), 20, "missing: /big.bin (segment 1)")
        self.assert_code(self.fsck(), 20, "missing: /big.bin (segment 1)")

    def plant_upload(self, key, age_s):
        """An unfinished multipart upload of key as s3rver keeps one on disk
        (patch-s3rver.js 9: Initiated is the mtime of its key file)."""
        d = os.path.join(self.server.data, u.BUCKET, "._S3rver_uploads", secrets.token_hex(16))
        os.makedirs(d)
        with open(os.path.join(d, "key"), "w") as f:
            f.write(key)
        with open(os.path.join(d, "metadata"), "w") as f:
            f.write("{}")
        t = time.time() - age_s
        os.utime(os.path.join(d, "key"), (t, t))
        return d

    def test_stale_uploads(self):
        v = u.S3Vault("fsck-up", self.server, "uploads")
        try:
            v.init()
            old = self.plant_upload("uploads/o/aa/" + secrets.token_hex(16), 2 * 86400)
            fresh = self.plant_upload("uploads/o/bb/" + secrets.token_hex(16), 60)
            other = self.plant_upload("vault/o/aa/" + secrets.token_hex(16), 2 * 86400)
            t0 = time.monotonic()
            v.mount()
            mounted = time.monotonic() - t0
            deadline = time.monotonic() + 10
            while os.path.exists(old) and time.monotonic() < deadline:
                time.sleep(0.05)
            print("mount %.2f s; old upload gone after %.2f s"
                  % (mounted, time.monotonic() - t0))
            self.assertFalse(os.path.exists(old), "the mount kept an upload 2 days old")
            self.assertTrue(os.path.exists(fresh), "the mount aborted a fresh upload")
            self.assertTrue(os.path.exists(other), "the mount aborted another vault's upload")
            v.unmount()
            old = self.plant_upload("uploads/o/cc/" + secrets.token_hex(16), 3 * 86400)
            p = st.sealfs("fsck", v.store, "--passphrase-file", v.passfile, check=False,
                          timeout=60)
            self.assert_code(p, 21, "multipart uploads never finished: 1 begun over 24 h ago "
                             "(0 aborted), 1 younger (kept)")
            self.assertTrue(os.path.exists(old), "fsck without --repair aborted an upload")
            p = st.sealfs("fsck", v.store, "--passphrase-file", v.passfile, "--repair",
                          "--json", check=False, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            counts = json.loads(p.stdout)["counts"]
            self.assertEqual((counts["stale_uploads"], counts["uploads_aborted"],
                              counts["young_uploads"]), (1, 1, 1))
            self.assertFalse(os.path.exists(old), "fsck --repair kept an old upload")
            self.assertTrue(os.path.exists(fresh), "fsck --repair aborted a fresh upload")
        finally:
            v.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
