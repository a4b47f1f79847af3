"""test_upgrade.py - `sealfs upgrade STORE` on a copy of the committed
format-1 golden vault (tests/data/crypto/golden-xchacha20poly1305): a
format-1 vault mounts and commits in format 1 (a format-1 sealfs could still
read it); upgrade is refused while it is mounted; after it the config says 3,
the head and every directory entry have format 2's members, the old segments keep c = 0,
the vault mounts with every file intact, a rewrite gives a segment its own
c, fsck is clean, and a second upgrade does nothing. An upgrade cut short
between its config and its head (config format 2 over a format-1 head)
refuses to mount and is finished by running the upgrade again
A copy of the format-2 golden vault (golden-v2-xchacha20poly1305) mounts and
commits in format 2; its upgrade to format 3 rewrites sealfs.json only, and
the vault then mounts, writes and passes fsck
(docs/CLI.md, "sealfs upgrade"; docs/FORMAT.md, "Format 1", "Version history").
"""

import hashlib
import hmac
import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, security as su  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "crypto")
GOLDEN = os.path.join(DATA, "golden-xchacha20poly1305")
GOLDEN_V2 = os.path.join(DATA, "golden-v2-xchacha20poly1305")
PASSPHRASE = "sealfs golden vault"
HELLO = b"Hello, sealfs!\n"
BIG = bytes(i % 251 for i in range(5000))
EXIT_MOUNTPOINT = 15


def config(store):
    with open(os.path.join(store, "sealfs.json")) as f:
        return json.load(f)


def store_state(store):
    """Every o/ object and the head's bytes."""
    with open(os.path.join(store, "head"), "rb") as f:
        return su.store_objects(store), f.read()


def entries(tree):
    """(path, entry) of every entry but the root."""
    return [(p, e) for p, e in tree.entries.items() if p]


class GoldenCopy(unittest.TestCase):
    """A copy of a golden vault as v's store (no test of its own)."""
    golden = GOLDEN

    def setUp(self):
        self.v = v = st.Vault("upgrade")
        shutil.rmtree(v.store, ignore_errors=True)
        shutil.copytree(self.golden, v.store)
        with open(os.path.join(self.golden, "recovery.txt")) as f:
            v.recovery_key = f.read().strip()
        os.remove(os.path.join(v.store, "recovery.txt"))
        v.passphrase = PASSPHRASE
        with open(v.passfile, "w") as f:
            f.write(PASSPHRASE + "\n")

    def tearDown(self):
        self.v.cleanup()

    def upgrade(self, check=True):
        return st.sealfs("upgrade", self.v.store, "--passphrase-file", self.v.passfile,
                         "--cache", self.v.cache, check=check)

    def check_golden_files(self):
        v = self.v
        with open(v.path("hello.txt"), "rb") as f:
            self.assertEqual(f.read(), HELLO)
        with open(v.path("big.bin"), "rb") as f:
            self.assertEqual(f.read(), BIG)
        self.assertEqual(os.readlink(v.path("link")), "hello.txt")
        self.assertEqual(os.listdir(v.path("docs")), ["empty"])



class Upgrade(GoldenCopy):

    def test_upgrade_then_mount(self):
        v = self.v
        # Format 1 still mounts and commits in format 1.
        v.mount()
        self.check_golden_files()
        with open(v.path("new-in-v1.txt"), "wb") as f:
            f.write(b"written by a format-1 mount\n")
        p = self.upgrade(check=False)
        self.assertEqual(p.returncode, EXIT_MOUNTPOINT, p.stderr)
        self.assertIn("mounted", p.stderr)
        v.unmount()
        self.assertEqual(config(v.store)["format"], 1)
        keys = su.VaultKeys(v.store, v.recovery_key)
        tree = su.Tree(v.store, keys)
        self.assertEqual(tree.seq, 2)
        for _, e in entries(tree):
            self.assertNotIn("kc", e)
            self.assertTrue(all(isinstance(k, str) for k in e.get("seg", []) if k))
        # The upgrade.
        p = self.upgrade()
        self.assertIn("format 3 now (from format 1;", p.stdout)
        self.assertEqual(config(v.store)["format"], 3)
        keys = su.VaultKeys(v.store, v.recovery_key)  # the config's MAC is checked by mount
        tree = su.Tree(v.store, keys)
        self.assertEqual(tree.seq, 3)
        for path, e in entries(tree):
            if e["t"] == "d":
                self.assertEqual(e["kc"], 3, path)
            for s in e.get("seg", []):
                self.assertTrue(s is None or (isinstance(s, list) and s[1] == 0), path)
        # Mounts, reads everything, rewrites a file under a segment key.
        v.mount()
        self.check_golden_files()
        with open(v.path("new-in-v1.txt"), "rb") as f:
            self.assertEqual(f.read(), b"written by a format-1 mount\n")
        with open(v.path("hello.txt"), "r+b") as f:
            f.write(b"J")
        v.unmount()
        tree = su.Tree(v.store, keys)
        hello = tree.entries[b"hello.txt"]["seg"][0]
        self.assertEqual(hello[1], tree.seq)
        self.assertEqual(len(tree.segment_keys(b"hello.txt")), 1)
        self.assertEqual(tree.entries[b"big.bin"]["seg"][0][1], 0)  # untouched
        p = st.sealfs("fsck", v.store, "--passphrase-file", v.passfile, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        v.mount(cache=os.path.join(v.root, "cache2"))  # fresh cache: all from the store
        with open(v.path("hello.txt"), "rb") as f:
            self.assertEqual(f.read(), b"J" + HELLO[1:])
        v.unmount()
        p = self.upgrade()
        self.assertIn("already", p.stdout)

    def test_cut_short_upgrade_is_refused_then_finished(self):
        v = self.v
        # What a crash between the config and the head leaves: a format-2
        # config (MAC'ed under the config key) over the format-1 head.
        keys = su.VaultKeys(v.store, v.recovery_key)
        cfg = config(v.store)
        cfg.pop("mac")
        cfg["format"] = 2
        canon = json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()
        cfg["mac"] = hmac.new(keys.config, canon, hashlib.sha512).digest()[:32].hex()
        with open(os.path.join(v.store, "sealfs.json"), "w") as f:
            f.write(json.dumps(cfg, sort_keys=True, indent=2) + "\n")
        p = v.mount(check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cut short", p.stderr)
        self.assertFalse(v.is_mounted())
        p = self.upgrade()
        self.assertIn("interrupted upgrade finished", p.stdout)
        v.mount()
        self.check_golden_files()
        v.unmount()


class UpgradeFrom2(GoldenCopy):
    golden = GOLDEN_V2

    def test_format2_to_3_rewrites_the_config_only(self):
        v = self.v
        v.mount()  # format 2 mounts and commits in format 2
        self.check_golden_files()
        with open(v.path("new-in-v2.txt"), "wb") as f:
            f.write(b"written by a format-2 mount\n")
        v.unmount()
        self.assertEqual(config(v.store)["format"], 2)
        before = store_state(v.store)
        keys = su.VaultKeys(v.store, v.recovery_key)
        seq = su.Tree(v.store, keys).seq
        p = self.upgrade()
        self.assertIn("format 3 now (from format 2; 0 directories rewritten, head seq %d)"
                      % seq, p.stdout)
        self.assertEqual(config(v.store)["format"], 3)
        after = store_state(v.store)
        self.assertEqual(after[0], before[0])  # the objects
        self.assertEqual(after[1], before[1])  # the head
        v.mount()
        self.check_golden_files()
        with open(v.path("new-in-v2.txt"), "rb") as f:
            self.assertEqual(f.read(), b"written by a format-2 mount\n")
        with open(v.path("new-in-v3.txt"), "wb") as f:
            f.write(b"written by a format-3 mount\n")
        v.unmount()
        p = st.sealfs("fsck", v.store, "--passphrase-file", v.passfile, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = self.upgrade()
        self.assertIn("format 3 already", p.stdout)


if __name__ == "__main__":
    st.main()
