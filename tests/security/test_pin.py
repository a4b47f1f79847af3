"""test_pin.py - freshness and the pin (docs/SECURITY.md, "Rollback and the
pin"; #15 items 1 and 2): the cache's pin (CACHE/state: vault, device, seq
and hash of the newest head seen, MAC'ed) refuses a rolled-back head, a head
of the pinned seq with other bytes, a newer head that does not descend
from the pinned one (a fork with a higher seq), and is refused itself when damaged or
missing from a used cache, until --accept-store-head; --expect and
--not-before refuse a head a new device should not trust; `sealfs mount`
prints "last change DATE by NAME" and `sealfs info --unlock` the head's
fingerprint. Real mounts of a small format-2 vault (and a copy of the
format-1 golden vault); each case works on copies of the store and cache.
"""

import hashlib
import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, security as su

SLOW = ["--commit-delay", "600000"]  # one commit per session: at unmount
EXIT_HEAD_REFUSED = 19
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "crypto",
                      "golden-aes256gcm")
GOLDEN_PASS = "sealfs golden vault"


def fingerprint(store):
    with open(os.path.join(store, "head"), "rb") as f:
        return hashlib.blake2b(f.read(), digest_size=32).hexdigest()[:32]


def state_lines(cache):
    with open(os.path.join(cache, "state")) as f:
        return f.read().splitlines()


class Pin(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.v = v = st.Vault("sec-pin")
        try:
            v.init()
            v.mount(*SLOW, "--device-name", "first-device")
            with open(v.path("a.txt"), "w") as f:
                f.write("one\n")
            v.unmount()
            cls.old_store = su.copy_tree(v.store, os.path.join(v.root, "old-store"))
            v.mount(*SLOW)
            with open(v.path("b.txt"), "w") as f:
                f.write("two\n")
            v.unmount()
        except BaseException:
            v.cleanup()
            raise
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    def tearDown(self):
        su.unmount_quietly(self.v)

    def case(self, store=None, cache=None):
        """Copies of a store (default: the vault's) and of a cache (default:
        the vault's, which pinned the newest head; "" for a fresh one)."""
        type(self).n += 1
        d = os.path.join(self.v.root, "case-%d" % self.n)
        os.mkdir(d)
        s = su.copy_tree(store or self.v.store, os.path.join(d, "store"))
        c = os.path.join(d, "cache")
        if cache != "":
            su.copy_tree(cache or self.v.cache, c)
        return s, c

    def mount(self, store, cache, *extra, check=True):
        return su.mount_store(self.v, store, cache, *extra, check=check)

    def refused(self, p, code, words):
        self.assertEqual(p.returncode, code, p.stderr)
        self.assertIn(words, p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertFalse(self.v.is_mounted())

    # ---- what the user sees ----

    def test_mount_prints_last_change_and_device(self):
        store, cache = self.case()
        p = self.mount(store, cache)
        self.assertRegex(p.stdout, r"^last change \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} "
                         r"by first-device\n$")
        st.sealfs("unmount", self.v.mnt)
        lines = state_lines(cache)
        self.assertEqual(lines[0], "sealfs-state 2")
        self.assertEqual(lines[3], "name first-device")  # remembered: not given again

    def test_info_unlock_shows_the_fingerprint(self):
        p = st.sealfs("info", self.v.store, "--unlock", "--passphrase-file", self.v.passfile)
        self.assertIn("head fingerprint: %s\n" % fingerprint(self.v.store), p.stdout)
        self.assertIn("head seq: 3\n", p.stdout)
        self.assertRegex(p.stdout, r"last device: first-device \(id [0-9a-f]{32}\)")
        self.assertNotIn(self.v.passphrase, p.stdout + p.stderr)

    def test_heads_name_their_parent(self):
        """seq 3 was built on seq 2: its parent is the hash of that head, so
        --expect of the older fingerprint accepts the commit right after."""
        store, cache = self.case(cache="")
        self.mount(store, cache, "--expect", fingerprint(self.old_store))
        self.assertTrue(self.v.is_mounted())

    # ---- --expect and --not-before (a new device) ----

    def test_expect_accepts_the_fingerprint_and_refuses_another(self):
        store, cache = self.case(cache="")
        p = self.mount(store, cache, "--expect", "00" * 16, check=False)
        self.refused(p, EXIT_HEAD_REFUSED, "--expect")
        store, cache = self.case(cache="")
        self.mount(store, cache, "--expect", fingerprint(self.v.store))
        self.assertTrue(self.v.is_mounted())

    def test_expect_refuses_a_rolled_back_store(self):
        """A new device given the current fingerprint is not fooled by an
        older, consistent copy of the whole store."""
        store, cache = self.case(self.old_store, cache="")
        p = self.mount(store, cache, "--expect", fingerprint(self.v.store), check=False)
        self.refused(p, EXIT_HEAD_REFUSED, "not the expected")

    def test_not_before(self):
        store, cache = self.case(cache="")
        p = self.mount(store, cache, "--not-before", "2999-01-01", check=False)
        self.refused(p, EXIT_HEAD_REFUSED, "older than --not-before")
        p = self.mount(store, cache, "--not-before", "1999-12-31 23:00:00 +0100")
        self.assertTrue(self.v.is_mounted())
        date = re.search(r"last change (.*) by ", p.stdout).group(1)
        st.sealfs("unmount", self.v.mnt)
        self.mount(store, cache, "--not-before", date)  # what mount printed is accepted
        self.assertTrue(self.v.is_mounted())

    def test_bad_option_values_are_usage_errors(self):
        for opt in (["--expect", "xyz"], ["--not-before", "yesterday"],
                    ["--device-name", "a\tb"], ["--device-name", "x" * 65]):
            with self.subTest(opt[0]):
                p = self.mount(self.v.store, self.v.cache, *opt, check=False)
                self.refused(p, st.EXIT_USAGE, opt[0])

    # ---- the pin ----

    def test_rolled_back_head_is_refused_until_accepted(self):
        store, cache = self.case(self.old_store)
        p = self.mount(store, cache, check=False)
        self.refused(p, st.EXIT_STORE_IO, "rolled back")
        self.assertIn("--accept-store-head", p.stderr)
        self.mount(store, cache, "--accept-store-head")
        st.sealfs("unmount", self.v.mnt)
        self.assertEqual(state_lines(cache)[4], "seq 2")

    def test_same_seq_with_other_bytes_is_refused(self):
        """A fork: another seq-3 head (built on the old copy by a fresh
        cache) served to the cache that pinned this vault's seq 3."""
        fork, fresh = self.case(self.old_store, cache="")
        self.mount(fork, fresh, *SLOW)
        with open(self.v.path("fork.txt"), "w") as f:
            f.write("fork\n")
        st.sealfs("unmount", self.v.mnt)
        self.assertEqual(state_lines(fresh)[4], "seq 3")
        self.assertNotEqual(fingerprint(fork), fingerprint(self.v.store))
        store, cache = self.case(fork)
        p = self.mount(store, cache, check=False)
        self.refused(p, st.EXIT_STORE_IO, "forked")
        self.mount(store, cache, "--accept-store-head")
        self.assertTrue(os.path.exists(os.path.join(self.v.mnt, "fork.txt")))

    def test_higher_seq_fork_is_refused(self):
        """A fork with a higher seq: the old copy written twice by a fresh
        cache (seq 3 and 4 of its own), served to the cache that pinned this
        vault's seq 3: seq 4 does not descend from it (its history's seq 3 is
        another commit), so the mount is refused until accepted."""
        fork, fresh = self.case(self.old_store, cache="")
        for name in ("fork1.txt", "fork2.txt"):
            self.mount(fork, fresh, *SLOW)
            with open(self.v.path(name), "w") as f:
                f.write("fork\n")
            st.sealfs("unmount", self.v.mnt)
        self.assertEqual(state_lines(fresh)[4], "seq 4")
        store, cache = self.case(fork)
        p = self.mount(store, cache, check=False)
        self.refused(p, st.EXIT_STORE_IO, "does not descend from seq 3")
        self.assertIn("--accept-store-head", p.stderr)
        self.mount(store, cache, "--accept-store-head")
        self.assertTrue(os.path.exists(os.path.join(self.v.mnt, "fork2.txt")))

    def test_tampered_pin_refuses_the_mount(self):
        for what, edit in (("seq", lambda t: t.replace("\nseq 3\n", "\nseq 9\n")),
                           ("head", lambda t: re.sub(r"\nhead (.)", lambda m: "\nhead " + (
                               "0" if m.group(1) != "0" else "1"), t)),
                           ("name", lambda t: t.replace("name first-device",
                                                        "name other-device")),
                           ("mac", lambda t: t[:-3] + ("0" if t[-3] != "0" else "1") + t[-2:]),
                           ("truncated", lambda t: t[:40])):
            with self.subTest(what):
                su.unmount_quietly(self.v)  # left by a failed subtest
                store, cache = self.case()
                path = os.path.join(cache, "state")
                with open(path) as f:
                    text = f.read()
                changed = edit(text)
                self.assertNotEqual(changed, text)
                with open(path, "w") as f:
                    f.write(changed)
                p = self.mount(store, cache, check=False)
                self.refused(p, EXIT_HEAD_REFUSED, "--accept-store-head")
                self.mount(store, cache, "--accept-store-head")
                st.sealfs("unmount", self.v.mnt)
                self.mount(store, cache)  # pinned again, with a valid MAC
                st.sealfs("unmount", self.v.mnt)

    def test_missing_pin_in_a_used_cache_refuses_the_mount(self):
        store, cache = self.case()
        os.unlink(os.path.join(cache, "state"))
        p = self.mount(store, cache, check=False)
        self.refused(p, EXIT_HEAD_REFUSED, "missing")
        self.mount(store, cache, "--accept-store-head")
        st.sealfs("unmount", self.v.mnt)
        self.assertEqual(state_lines(cache)[4], "seq 3")

    def test_old_three_line_state_is_read_and_upgraded(self):
        vault_id = state_lines(self.v.cache)[1].split()[1]
        store, cache = self.case()
        with open(os.path.join(cache, "state"), "w") as f:
            f.write("sealfs-state 1\nvault %s\nseq 4\n" % vault_id)
        p = self.mount(store, cache, check=False)  # it saw seq 4: the store's 3 is older
        self.refused(p, st.EXIT_STORE_IO, "rolled back")
        with open(os.path.join(cache, "state"), "w") as f:
            f.write("sealfs-state 1\nvault %s\nseq 3\n" % vault_id)
        self.mount(store, cache)
        st.sealfs("unmount", self.v.mnt)
        lines = state_lines(cache)
        self.assertEqual(lines[0], "sealfs-state 2")
        self.assertEqual(lines[4:6], ["seq 3", "head " + hashlib.blake2b(
            su.read_file(os.path.join(store, "head")), digest_size=32).hexdigest()])


class FormatOnePin(unittest.TestCase):
    """A format-1 vault (the golden one) is pinned the same way; it has no
    time or device in its head, so no "last change" and no --not-before."""

    def setUp(self):
        self.v = st.Vault("sec-pin1")
        with open(self.v.passfile, "w") as f:
            f.write(GOLDEN_PASS + "\n")
        shutil.copytree(GOLDEN, self.v.store)

    def tearDown(self):
        su.unmount_quietly(self.v)
        self.v.cleanup()

    def test_format_one(self):
        p = self.v.mount(*SLOW)
        self.assertEqual(p.stdout, "")
        self.v.unmount()
        self.assertEqual(state_lines(self.v.cache)[0], "sealfs-state 2")
        self.assertEqual(state_lines(self.v.cache)[5],
                         "head " + hashlib.blake2b(su.read_file(os.path.join(
                             self.v.store, "head")), digest_size=32).hexdigest())
        p = self.v.mount("--not-before", "2000-01-01", check=False)
        self.assertEqual(p.returncode, st.EXIT_USAGE, p.stderr)
        self.assertIn("format-2", p.stderr)
        self.v.mount("--expect", fingerprint(self.v.store))
        self.v.unmount()
        p = st.sealfs("info", self.v.store, "--unlock", "--passphrase-file", self.v.passfile)
        self.assertIn("head fingerprint: %s\n" % fingerprint(self.v.store), p.stdout)
        self.assertIn("not recorded", p.stdout)


if __name__ == "__main__":
    unittest.main()
