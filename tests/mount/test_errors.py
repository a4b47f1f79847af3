"""Bad input to `sealfs mount` (and unmount): each case must print exactly one
clear line, exit with its documented code, mount nothing and change nothing in
the store (listing and hashes compared before and after)."""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st


class Errors(st.VaultTestCase):
    tag = "errors"
    keep_mounted = False

    @classmethod
    def setUpClass(cls):
        cls.v = st.Vault(cls.tag)
        try:
            cls.v.init()
        except BaseException:
            cls.v.cleanup()
            raise

    def scratch(self, name):
        p = os.path.join(self.v.root, name)
        os.makedirs(p, exist_ok=True)
        return p

    def expect_fail(self, args, code, words, store=None, mnt=None, runner=None):
        """Runs sealfs args; checks the exit code, the one line naming words, that
        nothing got mounted and that the store did not change."""
        store = store or self.v.store
        mnt = mnt or self.v.mnt
        before = st.fingerprint(store) if os.path.isdir(store) else None
        mounted_before = st.mount_type(mnt) if os.path.isdir(mnt) else None
        p = runner(args) if runner else st.sealfs(*args, check=False)
        lines = p.stderr.splitlines()
        if p.returncode == 0 and os.path.isdir(mnt) and mounted_before is None \
                and st.mount_type(mnt) is not None:
            st.sealfs("unmount", mnt, check=False)  # a wrongly made mount must not outlive us
        self.assertEqual(p.returncode, code, "exit %d, stderr: %r" % (p.returncode, p.stderr))
        self.assertEqual(len(lines), 1, "want one line, got %r" % p.stderr)
        self.assertTrue(lines[0].startswith("sealfs: "), lines[0])
        self.assertIn(words.lower(), lines[0].lower())
        self.assertEqual(p.stdout, "")
        if os.path.isdir(mnt):
            self.assertEqual(st.mount_type(mnt), mounted_before, "mount state changed")
        if before is not None:
            self.assertEqual(st.fingerprint(store), before, "store changed")
        return lines[0]

    def mount_args(self, store=None, mnt=None, cache=None, passfile=None):
        return ["mount", store or self.v.store, mnt or self.v.mnt,
                "--cache", cache or self.v.cache, "--passphrase-file", passfile or self.v.passfile]

    def test_mountpoint_missing(self):
        self.expect_fail(self.mount_args(mnt=os.path.join(self.v.root, "nope")),
                         st.EXIT_MOUNTPOINT, "does not exist")

    def test_mountpoint_not_a_directory(self):
        f = os.path.join(self.v.root, "plainfile")
        open(f, "w").close()
        self.expect_fail(self.mount_args(mnt=f), st.EXIT_MOUNTPOINT, "not a directory")

    def test_mountpoint_not_empty(self):
        m = self.scratch("full-mnt")
        open(os.path.join(m, "something"), "w").close()
        self.expect_fail(self.mount_args(mnt=m), st.EXIT_MOUNTPOINT, "not empty")

    def test_mountpoint_already_mounted(self):
        self.v.mount()
        try:
            other = self.scratch("other-cache")
            self.expect_fail(self.mount_args(cache=other), st.EXIT_MOUNTPOINT, "already mounted")
        finally:
            self.v.unmount()

    def test_cache_in_use_by_another_mount(self):
        self.v.mount()
        try:
            m2 = self.scratch("second-mnt")
            self.expect_fail(self.mount_args(mnt=m2), st.EXIT_CACHE, "in use", mnt=m2)
        finally:
            self.v.unmount()

    def test_wrong_passphrase(self):
        bad = os.path.join(self.v.root, "badpass")
        with open(bad, "w") as f:
            f.write("not-the-passphrase\n")
        self.expect_fail(self.mount_args(passfile=bad), st.EXIT_WRONG_KEY, "wrong passphrase")

    def test_empty_passphrase_file(self):
        bad = os.path.join(self.v.root, "emptypass")
        open(bad, "w").close()
        self.expect_fail(self.mount_args(passfile=bad), st.EXIT_USAGE, "empty")

    def test_missing_store(self):
        self.expect_fail(self.mount_args(store=os.path.join(self.v.root, "no-store")),
                         st.EXIT_STORE_MISSING, "does not exist")

    def test_plain_http_to_another_host_is_refused(self):
        # Refused before any connection is made: no traffic leaves loopback.
        env = dict(os.environ, AWS_ENDPOINT_URL="http://192.0.2.1:9", AWS_ACCESS_KEY_ID="a",
                   AWS_SECRET_ACCESS_KEY="b", AWS_EC2_METADATA_DISABLED="true")
        line = self.expect_fail(
            ["fsck", "s3://bucket/p", "--passphrase-file", self.v.passfile], st.EXIT_USAGE,
            "--insecure-http", runner=lambda a: st.run([st.SEALFS] + a, check=False, env=env))
        self.assertIn("https://", line)

    def test_not_a_vault_empty_dir(self):
        s = self.scratch("empty-store")
        self.expect_fail(self.mount_args(store=s), st.EXIT_NOT_VAULT, "is not a sealfs vault",
                         store=s)

    def test_not_a_vault_dir_with_junk(self):
        s = self.scratch("junk-store")
        for name in ("notes.txt", "head", "o"):
            with open(os.path.join(s, name), "w") as f:
                f.write("junk")
        self.expect_fail(self.mount_args(store=s), st.EXIT_NOT_VAULT, "is not a sealfs vault",
                         store=s)

    def test_not_a_vault_garbage_config(self):
        s = self.scratch("garbage-store")
        with open(os.path.join(s, "sealfs.json"), "w") as f:
            f.write("{ this is not json")
        self.expect_fail(self.mount_args(store=s), st.EXIT_NOT_VAULT, "is not a sealfs vault",
                         store=s)

    def test_newer_format(self):
        s = os.path.join(self.v.root, "newer-store")
        shutil.copytree(self.v.store, s)
        cfg_path = os.path.join(s, "sealfs.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg["format"] = 4
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        self.expect_fail(self.mount_args(store=s), st.EXIT_NEWER_FORMAT,
                         "vault format 4 is newer than this sealfs (supports 3)", store=s)
        self.expect_fail(["info", s], st.EXIT_NEWER_FORMAT, "vault format 4 is newer", store=s)

    def test_cache_is_a_file(self):
        f = os.path.join(self.v.root, "cache-file")
        with open(f, "w") as fh:
            fh.write("in the way")
        self.expect_fail(self.mount_args(cache=f), st.EXIT_CACHE, "cache")
        self.expect_fail(self.mount_args(cache=os.path.join(f, "sub")), st.EXIT_CACHE, "cache")

    def test_cache_on_read_only_mount(self):
        why = st.missing_mounts()
        if why:
            self.skipTest("a read-only bind mount: " + why)
        src = self.scratch("ro-src")
        ro = self.scratch("ro")
        st.run(["mount", "--bind", src, ro])
        try:
            st.run(["mount", "-o", "remount,bind,ro", ro])
            self.expect_fail(self.mount_args(cache=ro), st.EXIT_CACHE, "read-only")
            self.expect_fail(self.mount_args(cache=os.path.join(ro, "sub", "dir")), st.EXIT_CACHE,
                             "read-only")
        finally:
            st.run(["umount", ro], check=False)

    def test_no_dev_fuse(self):
        why = st.missing_private_dev()
        if why:
            self.skipTest("hiding /dev/fuse: " + why)
        empty = os.path.join(self.v.root, "not-fuse")
        open(empty, "w").close()

        def runner(args):
            return st.run(st.with_dev_fuse(empty, [st.SEALFS] + args), check=False)
        self.expect_fail(self.mount_args(), st.EXIT_NO_FUSE, "no FUSE", runner=runner)

    def test_usage_errors(self):
        self.expect_fail(["mount", self.v.store], st.EXIT_USAGE, "expected STORE and MOUNTPOINT")
        self.expect_fail(["mount", self.v.store, self.v.mnt, "--commit-delay", "soon"],
                         st.EXIT_USAGE, "not a number")
        self.expect_fail(["frobnicate"], st.EXIT_USAGE, "unknown command")
        self.expect_fail(["mount", self.v.store, self.v.mnt, "--bogus"], st.EXIT_USAGE,
                         "unknown option '--bogus'")
        self.expect_fail(["mount", self.v.store, self.v.mnt, "--cache"], st.EXIT_USAGE,
                         "needs a value")
        self.expect_fail(["mount", self.v.store, self.v.mnt, "-o", "subtype=x"], st.EXIT_USAGE,
                         "fixed by sealfs")
        self.expect_fail(["init", self.v.store, "--kdf-opslimit", "0"], st.EXIT_USAGE,
                         "out of range")
        self.expect_fail(["init", self.v.store, "--cipher", "rot13"], st.EXIT_USAGE,
                         "unknown cipher")

    def test_kdf_cost_below_the_floor_is_refused(self):
        """init, passwd and recover refuse an Argon2id cost below libsodium's
        INTERACTIVE (64 MiB, 2 passes) unless --insecure-test-kdf (for the test
        suites) says so; the store is not touched (expect_fail checks)."""
        s = self.scratch("kdf-floor")
        low = (["--kdf-memlimit", "63"], ["--kdf-opslimit", "1"],
               ["--kdf-memlimit", "8", "--kdf-opslimit", "1"])
        for cost in low:
            self.expect_fail(["init", s, "--passphrase-file", self.v.passfile] + cost,
                             st.EXIT_USAGE, "below 64 MiB and 2 passes", store=s)
            self.assertEqual(os.listdir(s), [])
            self.expect_fail(["passwd", self.v.store, "--passphrase-file", self.v.passfile,
                              "--new-passphrase-file", self.v.passfile] + cost,
                             st.EXIT_USAGE, "below 64 MiB")
            self.expect_fail(["recover", self.v.store, "--new-passphrase-file",
                              self.v.passfile] + cost, st.EXIT_USAGE, "below 64 MiB")
        # At the floor: accepted (a real init, about 0.1 s of Argon2id).
        p = st.sealfs("init", s, "--passphrase-file", self.v.passfile, "--kdf-memlimit", "64",
                      "--kdf-opslimit", "2", check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        # The control: the same low cost with the test-only option.
        t = self.scratch("kdf-floor-test")
        p = st.sealfs("init", t, "--passphrase-file", self.v.passfile, *st.FAST_KDF,
                      check=False)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_init_refuses_existing_vault_and_non_empty_dir(self):
        self.expect_fail(["init", self.v.store, "--passphrase-file", self.v.passfile],
                         st.EXIT_STORE_IN_USE, "already a sealfs vault")
        s = self.scratch("nonempty")
        with open(os.path.join(s, "Keep.ME"), "w") as f:
            f.write("precious")
        self.expect_fail(["init", s, "--passphrase-file", self.v.passfile],
                         st.EXIT_STORE_IN_USE, "not empty", store=s)

    def test_init_makes_the_object_directories(self):
        """A new local store holds its 256 o/<hh> directories from the init,
        empty (the root object's one aside), so a first large commit does not
        make them while it uploads (docs/FORMAT.md, "Store layout")."""
        s = self.scratch("dirs")
        st.sealfs("init", s, "--passphrase-file", self.v.passfile, *st.FAST_KDF)
        o = os.path.join(s, "o")
        names = sorted(os.listdir(o))
        self.assertEqual(names, ["%02x" % i for i in range(256)])
        self.assertTrue(all(os.path.isdir(os.path.join(o, n)) for n in names))
        self.assertEqual(sum(len(os.listdir(os.path.join(o, n))) for n in names), 1)

    def test_unmount_not_mounted_or_not_sealfs(self):
        self.expect_fail(["unmount", self.v.mnt], st.EXIT_MOUNTPOINT, "not mounted")
        why = st.missing_mounts()
        if why:
            self.skipTest("not a sealfs mount (a tmpfs): " + why)
        t = self.scratch("tmpfs")
        st.run(["mount", "-t", "tmpfs", "-o", "size=1m", "none", t])
        try:
            self.expect_fail(["lock", t], st.EXIT_MOUNTPOINT, "not a sealfs mount", mnt=t)
        finally:
            st.run(["umount", t], check=False)

    def test_leak_scan_finds_a_planted_marker(self):
        """The leak scan used by every test class must see what it looks for,
        also across its 1 MiB read boundary and in file names."""
        d = self.scratch("planted")
        marker = "planted-" + os.urandom(8).hex()
        with open(os.path.join(d, "blob"), "wb") as f:
            f.write(os.urandom((1 << 20) - 5) + marker.encode() + os.urandom(100))
        self.assertEqual(len(st.scan_for([d], [marker])), 1)
        os.unlink(os.path.join(d, "blob"))
        open(os.path.join(d, "x" + marker), "w").close()
        self.assertEqual(len(st.scan_for([d], [marker])), 1)
        self.assertEqual(st.scan_for([d], ["absent-" + os.urandom(8).hex()]), [])

    def test_info_shows_no_secret_and_needs_no_passphrase(self):
        p = st.sealfs("info", self.v.store)
        self.assertIn("format", p.stdout)
        self.assertNotIn(self.v.passphrase, p.stdout + p.stderr)
        key = self.v.recovery_key.replace("-", "")
        self.assertNotIn(key[:8], (p.stdout + p.stderr).replace("-", ""))


if __name__ == "__main__":
    st.main()
