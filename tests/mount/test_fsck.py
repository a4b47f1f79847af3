"""test_fsck.py - `sealfs fsck` on a real vault made through a real mount:
clean -> 0; a flipped byte, a truncated segment, a deleted directory object,
swapped segments -> 20 naming the path; a planted orphan -> 21 (kept by
--repair within the grace period); --repair --grace 0 moves the damage aside
(NAME.damaged, the readable segments kept) and deletes the orphan, after
which fsck is clean and a mount shows every other file intact; refused while
the vault is mounted read-write (and --repair while mounted at all).
Each case tampers a fresh copy of the store (docs/CLI.md, "sealfs fsck").
"""

import json
import os
import secrets
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, security as su  # noqa: E402

EXIT_DAMAGED = 20
EXIT_ORPHANS = 21
SEG = 1 << 20
BIG = (bytes(range(251)) * (5 * SEG // 251 + 1))[:2 * SEG + 300000]  # 3 segments
A_TEXT = (b"alpha-" * 700)[:4000]
B_TEXT = (b"bravo-" * 700)[:4000]
C_TEXT = b"charlie\n" * 100
KEEP = b"keep me " * 5000


class Fsck(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.v = v = st.Vault("fsck")
        try:
            v.init()
            v.mount()
            os.makedirs(v.path("docs", "sub"))
            for parts, data in ((("big.bin",), BIG), (("docs", "a.txt"), A_TEXT),
                                (("docs", "b.txt"), B_TEXT), (("docs", "sub", "c.txt"), C_TEXT),
                                (("keep.txt",), KEEP)):
                with open(v.path(*parts), "wb") as f:
                    f.write(data)
            os.symlink("a.txt", v.path("docs", "link"))
            cls.snap = st.snapshot(v.mnt, with_xattrs=False)
            v.unmount()
            cls.pristine = su.copy_tree(v.store, os.path.join(v.root, "pristine"))
            cls.keys = su.VaultKeys(v.store, v.recovery_key)
            cls.tree = su.Tree(v.store, cls.keys)
            assert len(cls.tree.segments(b"big.bin")) == 3
        except BaseException:
            v.cleanup()
            raise
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    def setUp(self):
        shutil.rmtree(self.v.store)
        su.copy_tree(self.pristine, self.v.store)

    def tearDown(self):
        su.unmount_quietly(self.v)

    # ---- helpers ----

    def fsck(self, *extra):
        return st.sealfs("fsck", self.v.store, "--passphrase-file", self.v.passfile, *extra,
                         check=False, timeout=60)

    @staticmethod
    def key_of(hexkey):
        return "o/%s/%s" % (hexkey[:2], hexkey)

    def seg(self, name, i):
        return su.object_path(self.v.store, self.tree.segments(name)[i])

    def dir_obj(self, name):
        return su.object_path(self.v.store, self.tree.dir_key[name])

    def flip(self, path, at):
        data = bytearray(su.read_file(path))
        data[at] ^= 0x01
        with open(path, "wb") as f:
            f.write(data)

    def plant_orphan(self):
        key = secrets.token_hex(16)
        p = su.object_path(self.v.store, key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(secrets.token_bytes(5000))
        return "o/%s/%s" % (key[:2], key), p

    def assert_result(self, p, code, *lines):
        self.assertEqual(p.returncode, code, "stdout: %s\nstderr: %s" % (p.stdout, p.stderr))
        for line in lines:
            self.assertIn(line, p.stdout)

    def fresh_mount(self):
        type(self).n += 1
        su.mount_store(self.v, self.v.store, os.path.join(self.v.root, "cache-%d" % self.n))

    # ---- tests ----

    def test_clean(self):
        self.assert_result(self.fsck(), 0, ": clean")
        doc = json.loads(self.fsck("--json").stdout)
        self.assertEqual(doc["exit"], 0)
        self.assertEqual(doc["problems"], [])
        self.assertEqual(doc["counts"]["files"], 5)
        self.assertEqual(doc["counts"]["directories"], 3)
        self.assertEqual(doc["counts"]["segments"], 7)
        self.assert_result(self.fsck("--quick"), 0, ": clean")

    def test_flipped_byte_in_a_segment(self):
        self.flip(self.seg(b"big.bin", 1), 5000)
        p = self.fsck()
        self.assert_result(p, EXIT_DAMAGED, "damaged: /big.bin (segment 1: failed to authenticate")
        self.assertNotIn("a.txt", p.stdout)
        doc = json.loads(self.fsck("--json").stdout)
        self.assertEqual(doc["exit"], EXIT_DAMAGED)
        self.assertEqual([(e["kind"], e["path"], e["object"]) for e in doc["problems"]],
                         [("damaged", "/big.bin", "segment 1")])
        # --quick checks sizes only: a flipped byte keeps the size.
        self.assert_result(self.fsck("--quick"), 0)

    def test_truncated_segment(self):
        p = self.seg(b"docs/a.txt", 0)
        os.truncate(p, os.path.getsize(p) - 1)
        for extra in ((), ("--quick",)):
            self.assert_result(self.fsck(*extra), EXIT_DAMAGED, "damaged: /docs/a.txt (segment 0: ",
                               "bytes, expected")

    def test_deleted_directory_object(self):
        os.unlink(self.dir_obj(b"docs/sub"))
        self.assert_result(self.fsck(), EXIT_DAMAGED, "missing: /docs/sub (directory object)")

    def test_swapped_segments(self):
        pa, pb = self.seg(b"docs/a.txt", 0), self.seg(b"docs/b.txt", 0)
        a, b = su.read_file(pa), su.read_file(pb)
        with open(pa, "wb") as f:
            f.write(b)
        with open(pb, "wb") as f:
            f.write(a)
        self.assert_result(self.fsck(), EXIT_DAMAGED, "damaged: /docs/a.txt (segment 0",
                           "damaged: /docs/b.txt (segment 0")

    def test_orphan(self):
        key, path = self.plant_orphan()
        self.assert_result(self.fsck(), EXIT_ORPHANS, "orphan: " + key)
        # The default grace (24 h) keeps an orphan stored a moment ago.
        self.assert_result(self.fsck("--repair", "--cache", self.v.cache), EXIT_ORPHANS,
                           "orphan: %s (kept: stored " % key)
        self.assertTrue(os.path.exists(path))

    def test_repair(self):
        self.flip(self.seg(b"big.bin", 1), 100)
        os.unlink(self.dir_obj(b"docs/sub"))
        key, path = self.plant_orphan()
        old = su.store_objects(self.v.store)
        p = self.fsck("--repair", "--grace", "0", "--cache", self.v.cache)
        self.assert_result(p, 0, "damaged: /big.bin (segment 1",
                           "missing: /docs/sub (directory object)",
                           "moved aside: /big.bin -> big.bin.damaged (1 damaged segment now holes)",
                           "moved aside: /docs/sub -> sub.damaged", "orphan: %s (deleted)" % key)
        self.assertFalse(os.path.exists(path))
        self.assert_result(self.fsck(), 0, ": clean")
        # Nothing the old head reached was deleted: in a format-2 vault the
        # objects repair replaced (the damaged segment, the old root and docs
        # objects) stay, listed in the new head's garbage list, for the head
        # checked, which is now a retained head. Only the orphans went: the
        # planted one and c.txt's segment (only the lost docs/sub object
        # referenced it, so no readable tree reaches it).
        gone = set(old) - set(su.store_objects(self.v.store))
        t = self.tree
        self.assertEqual(gone, {key, self.key_of(t.segments(b"docs/sub/c.txt")[0])})
        # The retained head checked still has its damage: --all-heads says so.
        p = self.fsck("--all-heads")
        self.assert_result(p, EXIT_DAMAGED, "damaged: /big.bin (segment 1",
                           "in retained head seq")
        self.fresh_mount()
        got = su.read_file(self.v.path("big.bin.damaged"))
        self.assertEqual(len(got), len(BIG))
        self.assertEqual(got[:SEG], BIG[:SEG])
        self.assertEqual(got[SEG:2 * SEG], bytes(SEG))
        self.assertEqual(got[2 * SEG:], BIG[2 * SEG:])
        self.assertEqual(os.listdir(self.v.path("docs", "sub.damaged")), [])
        snap = st.snapshot(self.v.mnt, with_xattrs=False)
        want = {k: e for k, e in self.snap.items() if k != "big.bin" and "sub" not in k}
        self.assertEqual({k: e for k, e in snap.items()
                          if k != "big.bin.damaged" and "sub" not in k}, want)

    def test_refused_while_mounted(self):
        self.v.mount()
        p = self.fsck()
        self.assert_result(p, st.EXIT_MOUNTPOINT)
        self.assertIn("mounted read-write at '%s'" % os.path.realpath(self.v.mnt), p.stderr)
        self.v.unmount()
        self.v.mount("-o", "ro")
        self.assert_result(self.fsck(), 0, ": clean")
        p = self.fsck("--repair")
        self.assert_result(p, st.EXIT_MOUNTPOINT)
        self.assertIn("unmount it before --repair", p.stderr)


if __name__ == "__main__":
    st.main()
