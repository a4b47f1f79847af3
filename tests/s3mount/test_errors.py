"""S3 stores that cannot be used: a wrong secret key or an unknown access
key (at init and at mount), a bucket that does not exist, an endpoint with
nothing listening. Each gives exactly one line on stderr, `sealfs: ...`,
naming the store and the reason (never the secret), exit code 13 (store
missing, unreachable or access denied: docs/CLI.md) within BOUND seconds,
and writes nothing: not to the bucket, not a cache, not a mount.
"""

import os
import secrets
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, s3 as u

BOUND = 30  # seconds for any of these failures (retries included)
WRONG_SECRET = "wrong-secret-" + secrets.token_hex(8)


class Errors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        u.require_s3rver()
        cls.root = u.tmp_root("errors")
        cls.server = u.S3rver(cls.root)
        cls.v = None
        try:
            cls.server.start()
            u.use_endpoint(cls.server.endpoint, root=cls.root)
            cls.v = u.S3Vault("errors", cls.server, "good")
            cls.v.init()  # a real vault, for the mount cases
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.v:
            cls.v.cleanup()
        cls.server.stop()
        shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        u.use_endpoint(self.server.endpoint, root=self.root)

    def expect_failure(self, args, code, words, what):
        """Runs sealfs args; checks exit code, one line naming the store and
        one of words, no secret, time bound; returns the line."""
        before = u.tree_fingerprint(self.server.data)
        p, secs = u.timed(st.sealfs, *args, check=False, timeout=BOUND + 30)
        line = p.stderr.rstrip("\n")
        u.log("ERROR %-28s exit %d in %.1f s: %s" % (what, p.returncode, secs, line))
        self.assertEqual(p.returncode, code, "%s: exit code (stderr %r)" % (what, p.stderr))
        self.assertEqual(p.stdout, "", what + ": printed on stdout")
        self.assertNotIn("\n", line, what + ": more than one line")
        self.assertTrue(line.startswith("sealfs: "), what + ": " + line)
        self.assertTrue(any(w.lower() in line.lower() for w in words),
                        "%s: %r names none of %r" % (what, line, words))
        for secret in (WRONG_SECRET, self.v.passphrase):
            self.assertNotIn(secret, line, what + ": secret printed")
        self.assertLess(secs, BOUND, what + ": too slow")
        self.assertEqual(u.tree_fingerprint(self.server.data), before,
                         what + ": the bucket changed")
        return line

    def init_args(self, prefix):
        return ["init", "s3://%s/%s" % (u.BUCKET, prefix), "--passphrase-file",
                self.v.passfile] + st.FAST_KDF

    def mount_args(self, store=None):
        return ["mount", store or self.v.store, self.v.mnt, "--cache", self.v.cache,
                "--passphrase-file", self.v.passfile]

    def assert_not_mounted(self, what):
        self.assertFalse(self.v.is_mounted(), what + ": mounted")
        self.assertFalse(os.path.exists(self.v.cache), what + ": cache created")
        self.assertEqual(os.listdir(self.v.mnt), [], what + ": mountpoint written")

    def test_wrong_secret_at_init(self):
        u.use_endpoint(self.server.endpoint, secret_key=WRONG_SECRET, root=self.root)
        self.expect_failure(self.init_args("wrongsecret"), st.EXIT_STORE_MISSING,
                            ["SignatureDoesNotMatch", "denied"], "init, wrong secret")
        self.assertFalse(os.path.exists(self.server.bucket_dir("wrongsecret")))

    def test_unknown_access_key_at_init(self):
        u.use_endpoint(self.server.endpoint, access_key="NOSUCHKEY", root=self.root)
        self.expect_failure(self.init_args("wrongkey"), st.EXIT_STORE_MISSING,
                            ["InvalidAccessKeyId", "denied"], "init, unknown access key")
        self.assertFalse(os.path.exists(self.server.bucket_dir("wrongkey")))

    def test_wrong_secret_at_mount(self):
        u.use_endpoint(self.server.endpoint, secret_key=WRONG_SECRET, root=self.root)
        self.expect_failure(self.mount_args(), st.EXIT_STORE_MISSING,
                            ["SignatureDoesNotMatch", "denied"], "mount, wrong secret")
        self.assert_not_mounted("mount, wrong secret")

    def test_missing_bucket(self):
        store = "s3://no-such-bucket-here/vault"
        line = self.expect_failure(["init", store, "--passphrase-file", self.v.passfile]
                                   + st.FAST_KDF, st.EXIT_STORE_MISSING,
                                   ["does not exist", "NoSuchBucket"], "init, missing bucket")
        self.assertIn("no-such-bucket-here", line)
        line = self.expect_failure(self.mount_args(store), st.EXIT_STORE_MISSING,
                                   ["does not exist", "NoSuchBucket"], "mount, missing bucket")
        self.assertIn("no-such-bucket-here", line)
        self.assert_not_mounted("mount, missing bucket")
        self.assertFalse(os.path.exists(os.path.join(self.server.data, "no-such-bucket-here")))

    def test_nothing_listening(self):
        port = u.free_port()
        u.use_endpoint("http://127.0.0.1:%d" % port, root=self.root)
        words = ["cannot reach", "connect", "refused", "unreachable"]
        line = self.expect_failure(self.init_args("nobody"), st.EXIT_STORE_MISSING, words,
                                   "init, nothing listening")
        self.assertIn(str(port), line)
        self.expect_failure(self.mount_args(), st.EXIT_STORE_MISSING, words,
                            "mount, nothing listening")
        self.assert_not_mounted("mount, nothing listening")

    def test_good_credentials_still_mount(self):
        """The control: the same vault, mount and cache work with the right key."""
        self.v.mount()
        try:
            u.write_file(self.v.path(self.v.marker("ok")), b"fine")
        finally:
            self.v.unmount()
        self.assertEqual(self.v.leaks(), [])
        shutil.rmtree(self.v.cache)


if __name__ == "__main__":
    st.main()
