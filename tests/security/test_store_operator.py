"""test_store_operator.py - what the store operator (or anyone who copies the
store, or the cache directory) can see: no names, contents, xattrs or link
targets in any form; a flat set of objects that hides the tree's shape; sizes
rounded to 4 KiB (content) and 1 KiB (metadata); identical plaintexts sealed
differently; and, the documented leak, which objects a commit touches: only
the changed file's segment and the directories on its path to the root.
Claims in docs/SECURITY.md, "The store operator". Real mounts, real files.
"""

import os
import re
import secrets
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, security as su

SLOW_COMMITS = ["--commit-delay", "600000"]  # only fsync and unmount commit


def mkname(tag):
    return "%s-%s" % (tag, secrets.token_hex(8))


class StoreSeesNoPlaintext(unittest.TestCase):
    """One vault, filled once, unmounted; every test reads its store and cache."""

    @classmethod
    def setUpClass(cls):
        cls.v = st.Vault("sec-op")
        try:
            cls.v.init()
            cls.v.mount(*SLOW_COMMITS)
            cls.fill()
            cls.v.unmount()
            cls.keys = su.VaultKeys(cls.v.store, cls.v.recovery_key)
            cls.tree = su.Tree(cls.v.store, cls.keys)
        except BaseException:
            cls.v.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.v.cleanup()

    @classmethod
    def fill(cls):
        v = cls.v
        cls.needles = []  # every secret string: names, contents, xattrs, targets

        def name(tag):
            n = mkname(tag)
            cls.needles.append(n)
            return n

        cls.d1, cls.d2, cls.d3 = name("dirone"), name("dirtwo"), name("dirthree")
        deep = v.path(cls.d1, cls.d2, cls.d3)
        os.makedirs(deep)
        cls.content = name("content-marker")
        cls.note = name("note")
        with open(os.path.join(deep, cls.note), "w") as f:
            f.write(("%s line %d\n" % (cls.content, 1)) * 300)
        # sizes: a 1-byte file and a 4000-byte file
        cls.tiny, cls.small = name("tiny"), name("small")
        with open(v.path(cls.tiny), "wb") as f:
            f.write(b"Z")
        cls.small_text = name("small-text")
        with open(v.path(cls.small), "wb") as f:
            f.write((cls.small_text.encode() * 200)[:4000])
        # 16 identical chunks, and 64 KiB of zeros
        cls.rep, cls.zeros = name("repeated"), name("zeros")
        chunk = (cls.content.encode() * 200)[:4096]
        with open(v.path(cls.rep), "wb") as f:
            f.write(chunk * 16)
        with open(v.path(cls.zeros), "wb") as f:
            f.write(bytes(65536))
        # two files with the same content
        cls.twin1, cls.twin2 = name("twin1"), name("twin2")
        for n in (cls.twin1, cls.twin2):
            with open(v.path(n), "wb") as f:
                f.write(chunk * 2)
        # xattrs: a text value and a binary one
        cls.xname, cls.xvalue = "user." + name("xattr-name"), name("xattr-value")
        os.setxattr(v.path(cls.small), cls.xname, cls.xvalue.encode())
        cls.xbin = os.urandom(24)
        cls.needles.append(cls.xbin)
        os.setxattr(v.path(cls.small), "user." + name("xbin"), cls.xbin)
        # a symlink target, a name that is not UTF-8
        cls.link, cls.target = name("link"), "/" + name("secret-target") + "/x"
        cls.needles.append(cls.target)
        os.symlink(cls.target, v.path(cls.link))
        cls.binname = b"\xff\xfe" + mkname("binname").encode()
        cls.needles.append(cls.binname)
        with open(os.path.join(v.mnt.encode(), cls.binname), "wb") as f:
            f.write(b"binary-named file\n")
        # two directories with one entry each: a 1-byte name and a 200-byte one
        cls.short_dir, cls.long_dir = name("shortnames"), name("longnames")
        os.mkdir(v.path(cls.short_dir))
        os.mkdir(v.path(cls.long_dir))
        open(v.path(cls.short_dir, "q"), "w").close()
        long_name = name("long")
        long_name += "L" * (200 - len(long_name))
        open(v.path(cls.long_dir, long_name), "w").close()

    def test_no_name_content_xattr_or_target_in_store_or_cache(self):
        forms = []
        for n in self.needles + [self.v.passphrase]:
            forms += su.forms(n)
        hits = su.scan([self.v.store, self.v.cache], forms)
        self.assertEqual(hits, [], "plaintext found in the store or the cache")
        # the scan itself works: it finds what is really there
        found = su.scan([self.v.store], [b'"content_cipher"'])
        self.assertEqual(len(found), 1, "the scan missed a string that is in sealfs.json")
        nonce = su.read_file(os.path.join(self.v.store, "head"))[:24]  # any bytes at all
        self.assertIn((nonce, os.path.join(self.v.store, "head")), su.scan([self.v.store], [nonce]))

    def test_store_layout_is_flat_and_counts_only_objects(self):
        n_dirs = len(self.tree.dir_key)
        n_segs = sum(len(self.tree.segments(p)) for p, e in self.tree.entries.items()
                     if e["t"] == "f")
        files = su.store_files(self.v.store)
        objects = [f for f in files if su.OBJECT_RE.match(f)]
        # head.lock: the empty file whose flock makes the head a compare-and-swap
        self.assertEqual(sorted(set(files) - set(objects)), ["head", "head.lock", "sealfs.json"])
        self.assertEqual(os.path.getsize(os.path.join(self.v.store, "head.lock")), 0)
        for rel in objects:
            m = su.OBJECT_RE.match(rel)
            self.assertEqual(m.group(1), m.group(2)[:2], rel)
        # the 3-deep directory chain is just 3 more objects among the others;
        # beside the tree, the history (format 2): pages, head records, garbage
        # lists, and the old versions those lists hold until thinning drops them
        own, listed = self.tree.history(self.v.store)
        self.assertEqual(len(objects), n_dirs + n_segs + len(own | listed))
        for dirpath, dirnames, _ in os.walk(self.v.store):
            rel = os.path.relpath(dirpath, self.v.store)
            self.assertTrue(rel in (".", "o", ".tmp") or re.match(r"^o/[0-9a-f]{2}$", rel), rel)
        # the cache holds the same sealed objects (byte for byte) and nothing else
        cache_files = su.store_files(self.v.cache)
        for rel in cache_files:
            if rel in ("lock", "state") or re.match(r"^journal/slot-[0-9]+$", rel):
                continue  # journal slots (FORMAT.md): sealed objects and keys only
            if rel == "pool":  # store keys of empty files made in advance (FORMAT.md)
                with open(os.path.join(self.v.cache, rel), "rb") as f:
                    keys = f.read()
                self.assertEqual(len(keys) % 16, 0, rel)
                for i in range(0, len(keys), 16):
                    k = keys[i:i + 16].hex()
                    p = os.path.join(self.v.cache, "o", k[:2], k)
                    self.assertFalse(os.path.exists(p) and os.path.getsize(p) > 0,
                                     "a listed pool file holds bytes")
                continue
            # format 2: the sealed head the commits build on, and the pinned
            # head (the fork check's copy): both the store's head here
            if rel in ("base-head", "pin-head"):
                with open(os.path.join(self.v.cache, rel), "rb") as a, \
                        open(os.path.join(self.v.store, "head"), "rb") as b:
                    self.assertEqual(a.read(), b.read(), rel)
                continue
            self.assertRegex(rel, su.OBJECT_RE, "unexpected cache file")
            with open(os.path.join(self.v.cache, rel), "rb") as a, \
                    open(os.path.join(self.v.store, rel), "rb") as b:
                self.assertEqual(a.read(), b.read(), rel)

    def test_content_sizes_are_rounded_to_the_sealed_chunk(self):
        chunk = su.SEALED_CHUNK[self.keys.cfg["content_cipher"]]
        size = {}
        for p in (self.tiny, self.small):
            segs = self.tree.segments(p.encode())
            self.assertEqual(len(segs), 1)
            size[p] = os.path.getsize(su.object_path(self.v.store, segs[0]))
        self.assertEqual(size[self.tiny], chunk, "a 1-byte file is one full sealed chunk")
        self.assertEqual(size[self.small], size[self.tiny], "1 B and 4000 B files look alike")
        seg_keys = {k for p, e in self.tree.entries.items() if e["t"] == "f"
                    for k in self.tree.segments(p)}
        for k in seg_keys:
            self.assertEqual(os.path.getsize(su.object_path(self.v.store, k)) % chunk, 0)
        for k in list(self.tree.dir_key.values()):
            n = os.path.getsize(su.object_path(self.v.store, k))
            self.assertEqual((n - su.META_OVERHEAD) % su.META_PAD, 0, "directory object size")
        n = os.path.getsize(os.path.join(self.v.store, "head"))
        self.assertEqual((n - su.META_OVERHEAD) % su.META_PAD, 0, "head size")

    def test_metadata_sizes_are_rounded_to_1k(self):
        a = os.path.getsize(su.object_path(self.v.store, self.tree.dir_key[self.short_dir.encode()]))
        b = os.path.getsize(su.object_path(self.v.store, self.tree.dir_key[self.long_dir.encode()]))
        self.assertEqual(a, b, "a 1-byte and a 200-byte name give equal directory objects")
        self.assertEqual(a, su.META_OVERHEAD + su.META_PAD)

    def sealed_chunks(self, path):
        chunk = su.SEALED_CHUNK[self.keys.cfg["content_cipher"]]
        data = b"".join(su.read_file(su.object_path(self.v.store, k))
                        for k in self.tree.segments(path.encode()))
        return [data[i:i + chunk] for i in range(0, len(data), chunk)]

    def test_equal_plaintexts_seal_to_unrelated_bytes(self):
        rep = self.sealed_chunks(self.rep)
        self.assertEqual(len(rep), 16)
        self.assertEqual(len(set(rep)), 16, "16 equal plaintext chunks gave equal sealed chunks")
        t1, t2 = self.sealed_chunks(self.twin1), self.sealed_chunks(self.twin2)
        self.assertFalse(set(t1) & set(t2), "two equal files share a sealed chunk")
        # no 16-byte block of one twin's ciphertext appears in the other's
        blocks = {c[i:i + 16] for c in t1 for i in range(0, len(c) - 16, 16)}
        self.assertFalse(any(c[i:i + 16] in blocks for c in t2 for i in range(0, len(c) - 16, 16)))
        zeros = b"".join(self.sealed_chunks(self.zeros))
        self.assertNotIn(bytes(32), zeros, "a file of zeros left runs of zeros in the store")


class CommitsRevealOnlyThePath(unittest.TestCase):
    """The documented leak, bounded: a commit after writing one file changes
    that file's segment, the directory objects from its parent up to the root,
    and the head; every other object stays as it was. And before any commit,
    the cache already holds only sealed bytes."""

    def setUp(self):
        self.v = st.Vault("sec-commit")
        self.v.init()

    def tearDown(self):
        self.v.cleanup()

    def test_commit_touches_only_the_changed_files_path(self):
        v = self.v
        v.mount(*SLOW_COMMITS)
        names = [mkname("a"), mkname("b"), mkname("c")]
        deep = v.path(*names)
        os.makedirs(deep)
        os.mkdir(v.path(mkname("sibling")))
        with open(os.path.join(v.path(names[0]), "other.txt"), "w") as f:
            f.write("other\n")
        with open(os.path.join(deep, "f.txt"), "w") as f:
            f.write("first\n")
        v.unmount()
        before = su.store_objects(v.store)
        head_before = su.read_file(os.path.join(v.store, "head"))
        v.mount(*SLOW_COMMITS)
        with open(os.path.join(deep, "f.txt"), "r+") as f:
            f.write("second")
            f.flush()
            os.fsync(f.fileno())
        v.unmount()  # uploads the journaled commit; nothing else is dirty
        after = su.store_objects(v.store)
        added = set(after) - set(before)
        removed = set(before) - set(after)
        keys = su.VaultKeys(v.store, v.recovery_key)
        tree = su.Tree(v.store, keys)
        seg = tree.segments(("/".join(names) + "/f.txt").encode())
        path_dirs = {tree.dir_key[b""]}
        for i in range(1, 4):
            path_dirs.add(tree.dir_key["/".join(names[:i]).encode()])
        own, listed = tree.history(v.store)
        expect = {"o/%s/%s" % (k[:2], k) for k in seg} | \
                 {"o/%s/%s" % (k[:2], k) for k in path_dirs}
        # format 2 also archives the replaced head and writes a new first
        # history page and this commit's garbage list: three objects that
        # name only keys, never a path
        self.assertEqual(added - expect, {"o/%s/%s" % (k[:2], k) for k in own} - set(before),
                         "the commit wrote objects off the changed path")
        self.assertTrue(expect <= added, "the changed path was not written")
        self.assertEqual(len(added - expect), 3, "head record, history page, garbage list")
        self.assertEqual(removed, set(), "deferred deletion: nothing is deleted at once")
        # what the commit stopped using (one segment, four directory objects)
        # and the replaced history page are its garbage, kept for retained heads
        self.assertEqual(len({k for k in listed if "o/%s/%s" % (k[:2], k) in before}), 6)
        self.assertNotEqual(su.read_file(os.path.join(v.store, "head")), head_before)
        for k in set(before) & set(after):
            self.assertEqual(before[k], after[k], "an unchanged object was rewritten")

    def test_cache_holds_no_plaintext_before_the_commit(self):
        v = self.v
        v.mount(*SLOW_COMMITS)
        marker = mkname("uncommitted")
        fname = mkname("fresh-name")
        text = ((marker + "\n") * 5000).encode()
        with open(v.path(fname), "wb") as f:
            f.write(text)
        self.assertEqual(su.read_file(v.path(fname)), text)
        found = su.scan([v.store, v.cache], su.forms(marker) + su.forms(fname))
        self.assertEqual(found, [], "plaintext in the cache while mounted")
        # the data really is in the cache (sealed), so the scan above saw it
        self.assertGreaterEqual(su.du_bytes(v.cache), len(text))
        self.assertLess(su.du_bytes(v.store), len(text), "committed early: test is moot")
        v.unmount()


if __name__ == "__main__":
    st.main()
