"""test_malicious_store.py - a store that alters, swaps, truncates, deletes,
or serves old versions of objects, or rolls the whole vault back, or edits
sealfs.json. Each case starts from a fresh copy of the same vault and mounts it
with a FRESH empty cache (so every object really comes from the bad store):
reads of what was tampered fail with EIO and never return data, other files
still read. A rolled-back head is refused when the cache remembers a newer
one; with a fresh cache it is not (the documented limit, tested as such).
Claims in docs/SECURITY.md, "A malicious store".
"""

import errno
import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, security as su

SLOW_COMMITS = ["--commit-delay", "600000"]
A_TEXT = (b"alpha-" * 700)[:4000]
B_TEXT = (b"bravo-" * 700)[:4000]
C_TEXT = b"charlie\n" * 100
D_TEXT = b"delta, written after the old copy was taken\n"
BIG = bytes(range(256)) * 48  # 12288 bytes: three chunks in one segment


class MaliciousStore(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.v = v = st.Vault("sec-evil")
        try:
            v.init()
            v.mount(*SLOW_COMMITS)
            for name, data in (("a.txt", A_TEXT), ("b.txt", B_TEXT), ("big.bin", BIG)):
                with open(v.path(name), "wb") as f:
                    f.write(data)
            os.mkdir(v.path("sub"))
            with open(v.path("sub", "c.txt"), "wb") as f:
                f.write(C_TEXT)
            v.unmount()
            cls.old_store = su.copy_tree(v.store, os.path.join(v.root, "old-store"))
            v.mount(*SLOW_COMMITS)
            with open(v.path("sub", "d.txt"), "wb") as f:
                f.write(D_TEXT)
            v.unmount()
            cls.keys = su.VaultKeys(v.store, v.recovery_key)
            cls.tree = su.Tree(v.store, cls.keys)
            cls.old_tree = su.Tree(cls.old_store, cls.keys)
            assert cls.old_tree.seq < cls.tree.seq
            assert cls.old_tree.dir_key[b"sub"] != cls.tree.dir_key[b"sub"]
        except BaseException:
            v.cleanup()
            raise
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    def tearDown(self):
        su.unmount_quietly(self.v)

    # ---- helpers ----

    def fresh_case(self, src=None):
        """A copy of the vault's store (or src) and the path of a fresh cache."""
        type(self).n += 1
        d = os.path.join(self.v.root, "case-%d" % self.n)
        os.mkdir(d)
        return su.copy_tree(src or self.v.store, os.path.join(d, "store")), \
            os.path.join(d, "cache")

    def seg_path(self, store, name):
        segs = self.tree.segments(name)
        self.assertEqual(len(segs), 1)
        return su.object_path(store, segs[0])

    def dir_path(self, store, name):
        return su.object_path(store, self.tree.dir_key[name])

    def mount(self, store, cache):
        su.mount_store(self.v, store, cache)
        self.assertTrue(self.v.is_mounted())

    def assert_eio_reading(self, *parts):
        p = self.v.path(*parts)
        self.assertEqual(su.errno_of(lambda: su.read_file(p)), errno.EIO,
                         "reading tampered %s did not fail with EIO" % "/".join(parts))

    def assert_reads(self, data, *parts):
        self.assertEqual(su.read_file(self.v.path(*parts)), data)

    def assert_untampered_files_read(self):
        self.assert_reads(B_TEXT, "b.txt")
        self.assert_reads(C_TEXT, "sub", "c.txt")
        self.assert_reads(D_TEXT, "sub", "d.txt")

    # ---- content ----

    def test_flipped_byte_in_content_gives_eio(self):
        store, cache = self.fresh_case()
        p = self.seg_path(store, b"a.txt")
        data = bytearray(su.read_file(p))
        data[len(data) // 2] ^= 0x01
        with open(p, "wb") as f:
            f.write(data)
        self.mount(store, cache)
        self.assert_eio_reading("a.txt")
        self.assert_untampered_files_read()
        self.assert_eio_reading("a.txt")  # and again, now from the cache

    def test_swapped_content_objects_give_eio(self):
        store, cache = self.fresh_case()
        pa, pb = self.seg_path(store, b"a.txt"), self.seg_path(store, b"b.txt")
        a, b = su.read_file(pa), su.read_file(pb)
        self.assertEqual(len(a), len(b))
        with open(pa, "wb") as f:
            f.write(b)
        with open(pb, "wb") as f:
            f.write(a)
        self.mount(store, cache)
        self.assert_eio_reading("a.txt")
        self.assert_eio_reading("b.txt")
        self.assert_reads(C_TEXT, "sub", "c.txt")

    def test_truncated_content_object_gives_eio(self):
        store, cache = self.fresh_case()
        chunk = su.SEALED_CHUNK[self.keys.cfg["content_cipher"]]
        pa, pbig = self.seg_path(store, b"a.txt"), self.seg_path(store, b"big.bin")
        os.truncate(pa, os.path.getsize(pa) - 1)
        self.assertEqual(os.path.getsize(pbig), 3 * chunk)
        os.truncate(pbig, 2 * chunk)  # drop the whole last chunk
        self.mount(store, cache)
        self.assert_eio_reading("a.txt")
        self.assert_eio_reading("big.bin")
        self.assert_untampered_files_read()

    def test_deleted_content_object_gives_eio(self):
        store, cache = self.fresh_case()
        os.unlink(self.seg_path(store, b"a.txt"))
        self.mount(store, cache)
        self.assert_eio_reading("a.txt")
        self.assert_untampered_files_read()

    def test_repaired_store_reads_again_with_the_same_cache(self):
        """A chunk that failed to authenticate should not stay in the cache:
        once the store (or the network path) serves the right bytes again,
        the file should read. Today the bad copy stays cached and the file
        keeps failing with EIO until the cache directory is emptied."""
        store, cache = self.fresh_case()
        p = self.seg_path(store, b"a.txt")
        good = su.read_file(p)
        with open(p, "wb") as f:
            f.write(good[:-1] + bytes([good[-1] ^ 1]))
        self.mount(store, cache)
        self.assert_eio_reading("a.txt")
        su.unmount_quietly(self.v)
        with open(p, "wb") as f:
            f.write(good)
        self.mount(store, cache)
        self.assert_reads(A_TEXT, "a.txt")

    # ---- directories ----

    def test_old_version_of_a_directory_object_gives_eio(self):
        store, cache = self.fresh_case()
        old = su.read_file(su.object_path(self.old_store, self.old_tree.dir_key[b"sub"]))
        with open(self.dir_path(store, b"sub"), "wb") as f:
            f.write(old)  # the older "sub" (no d.txt) under the current key
        self.mount(store, cache)
        self.assertEqual(su.errno_of(lambda: os.listdir(self.v.path("sub"))), errno.EIO)
        self.assertEqual(su.errno_of(lambda: su.read_file(self.v.path("sub", "c.txt"))),
                         errno.EIO)
        self.assert_reads(A_TEXT, "a.txt")
        self.assert_reads(B_TEXT, "b.txt")

    def test_another_directorys_object_gives_eio(self):
        store, cache = self.fresh_case()
        root = su.read_file(self.dir_path(store, b""))
        with open(self.dir_path(store, b"sub"), "wb") as f:
            f.write(root)  # a valid object of this vault, but the root's
        self.mount(store, cache)
        self.assertEqual(su.errno_of(lambda: os.listdir(self.v.path("sub"))), errno.EIO)
        self.assert_reads(A_TEXT, "a.txt")

    def test_deleted_directory_object_gives_eio(self):
        store, cache = self.fresh_case()
        os.unlink(self.dir_path(store, b"sub"))
        self.mount(store, cache)
        self.assertEqual(su.errno_of(lambda: os.listdir(self.v.path("sub"))), errno.EIO)
        self.assert_reads(A_TEXT, "a.txt")

    def test_tampered_root_object_refuses_the_mount(self):
        store, cache = self.fresh_case()
        p = self.dir_path(store, b"")
        data = bytearray(su.read_file(p))
        data[100] ^= 0x80
        with open(p, "wb") as f:
            f.write(data)
        r = su.mount_store(self.v, store, cache, check=False)
        self.assertEqual(r.returncode, st.EXIT_STORE_IO, r.stderr)
        self.assertIn("authenticate", r.stderr)
        self.assertFalse(self.v.is_mounted())

    # ---- head and rollback ----

    def test_tampered_head_refuses_the_mount(self):
        store, cache = self.fresh_case()
        p = os.path.join(store, "head")
        data = bytearray(su.read_file(p))
        data[-1] ^= 0x01
        with open(p, "wb") as f:
            f.write(data)
        r = su.mount_store(self.v, store, cache, check=False)
        self.assertEqual(r.returncode, st.EXIT_STORE_IO, r.stderr)
        self.assertIn("head failed to authenticate", r.stderr)
        self.assertFalse(self.v.is_mounted())

    def test_older_head_is_refused_with_the_same_cache(self):
        for src, what in ((self.old_store, "whole store rolled back"), (None, "head only")):
            with self.subTest(what):
                store, _ = self.fresh_case(src)
                if src is None:
                    shutil.copyfile(os.path.join(self.old_store, "head"),
                                    os.path.join(store, "head"))
                cache = su.copy_tree(self.v.cache, store + "-cache")  # has seen the newer seq
                r = su.mount_store(self.v, store, cache, check=False)
                self.assertEqual(r.returncode, st.EXIT_STORE_IO, r.stderr)
                self.assertIn("rolled back", r.stderr)
                self.assertFalse(self.v.is_mounted())

    def test_whole_store_rollback_is_not_detected_with_a_fresh_cache(self):
        """The documented limit: a first mount (no cache) cannot know a newer
        head existed, so a store that restores an old consistent copy wins."""
        store, cache = self.fresh_case(self.old_store)
        self.mount(store, cache)
        self.assertEqual(sorted(os.listdir(self.v.path("sub"))), ["c.txt"])  # d.txt is gone
        self.assert_reads(A_TEXT, "a.txt")

    # ---- sealfs.json ----

    def edit_config(self, store, fn):
        p = os.path.join(store, "sealfs.json")
        with open(p) as f:
            cfg = json.load(f)
        fn(cfg)
        with open(p, "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
            f.write("\n")

    def test_altered_config_is_refused(self):
        def slot(cfg, t):
            return [s for s in cfg["keyslots"] if s["type"] == t][0]

        def other_cipher(cfg):
            cfg["content_cipher"] = ("xchacha20poly1305" if cfg["content_cipher"] == "aes256gcm"
                                     else "aes256gcm")

        cases = [
            ("cipher", other_cipher, st.EXIT_NOT_VAULT, "altered"),
            ("recovery slot removed",
             lambda c: c["keyslots"].remove(slot(c, "recovery")), st.EXIT_NOT_VAULT, "altered"),
            ("kdf opslimit", lambda c: slot(c, "passphrase").update(opslimit=2),
             st.EXIT_WRONG_KEY, "wrong passphrase"),
            ("kdf memlimit", lambda c: slot(c, "passphrase").update(memlimit=16 << 20),
             st.EXIT_WRONG_KEY, "wrong passphrase"),
            ("vault id", lambda c: c.update(vault_id="00" * 16), st.EXIT_WRONG_KEY,
             "wrong passphrase"),
        ]
        for what, fn, code, message in cases:
            with self.subTest(what):
                store, cache = self.fresh_case()
                self.edit_config(store, fn)
                r = su.mount_store(self.v, store, cache, check=False)
                self.assertEqual(r.returncode, code, r.stderr)
                self.assertIn(message, r.stderr)
                self.assertFalse(self.v.is_mounted())
        # the same edit-and-rewrite with no change mounts fine (the check is real)
        store, cache = self.fresh_case()
        self.edit_config(store, lambda c: None)
        self.mount(store, cache)
        self.assert_reads(A_TEXT, "a.txt")

    def test_absurd_kdf_cost_is_refused_quickly(self):
        """The keyslot's KDF cost is read before anything can be authenticated,
        so the store chooses how long unlocking takes. A cost far above any
        sealfs ever writes should be refused at once; today the client runs
        Argon2id with 2^32 - 1 passes (years of CPU)."""
        store, cache = self.fresh_case()
        self.edit_config(store, lambda c: [s for s in c["keyslots"]
                                           if s["type"] == "passphrase"][0].update(
                                               opslimit=2 ** 32 - 1))
        args = [st.SEALFS, "mount", store, self.v.mnt, "--cache", cache, "--passphrase-file",
                self.v.passfile]
        try:
            r = st.run(args, check=False, timeout=3)
        except st.subprocess.TimeoutExpired:  # run() killed it
            self.fail("unlock was still running after 3 s")
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(self.v.is_mounted())


if __name__ == "__main__":
    st.main()
