"""test_pages.py - paged directories (format 3, docs/FORMAT.md "Paged
directories") on a real mount: a 5,000-entry directory is stored as an index
and 16 pages; one touch + fsync in it writes one new page and a new index
(and the root's object), every other page keeps its store key; a remount on
a fresh cache lists every entry; a damaged or missing page fails the
listing (EIO) and fsck names the directory, never a shorter listing; fsck
is clean, also after the directory is
emptied and removed (its pages are the commit's garbage, not orphans). Two
devices writing in one paged directory at once: the merge keeps both
devices' entries and every retained head stays whole (fsck --all-heads).
The format-3 golden vault (its "docs" paged by another writer, the
generator) mounts, lists and reads, and a change writes "docs" as one
object again (two entries), its pages the commit's garbage."""

import errno
import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import devices as dv, mount as st, security as su  # noqa: E402

N = 5000


def name(i):
    return "f%05d" % i


class Pages(unittest.TestCase):

    def setUp(self):
        self.v = st.Vault("pages")
        self.v.init()
        self.v.mount()

    def tearDown(self):
        self.v.cleanup()

    def tree(self):
        return su.Tree(self.v.store, su.VaultKeys(self.v.store, self.v.recovery_key))

    def fsck(self):
        p = st.sealfs("fsck", self.v.store, "--passphrase-file", self.v.passfile, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def bad_page(self, key, damage):
        """A copy of the store with page key damaged (a flipped byte) or
        missing: listing the directory fails with EIO, fsck reports it."""
        v = self.v
        store = os.path.join(v.root, "store-bad")
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(v.store, store)
        path = su.object_path(store, key)
        if damage:
            with open(path, "r+b") as f:
                f.seek(100)
                b = f.read(1)
                f.seek(100)
                f.write(bytes([b[0] ^ 1]))
        else:
            os.remove(path)
        mnt = os.path.join(v.root, "mnt-bad")
        os.makedirs(mnt, exist_ok=True)
        st.sealfs("mount", store, mnt, "--cache", os.path.join(v.root, "cache-bad-%d" % damage),
                  "--passphrase-file", v.passfile)
        try:
            with self.assertRaises(OSError) as cm:
                os.listdir(os.path.join(mnt, "big"))
            self.assertEqual(cm.exception.errno, errno.EIO)
        finally:
            st.sealfs("unmount", mnt)
        p = st.sealfs("fsck", store, "--passphrase-file", v.passfile, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/big", p.stdout + p.stderr)
        self.assertIn("missing" if not damage else "failed to authenticate", p.stdout + p.stderr)
        shutil.rmtree(store)

    def test_big_directory(self):
        v = self.v
        d = v.path("big")
        os.mkdir(d)
        for i in range(N):
            with open(os.path.join(d, name(i)), "wb"):
                pass
        st.sealfs("sync", v.mnt)
        t1 = self.tree()
        big = t1.entries[b"big"]
        pages1 = t1.dir_pages[big["id"]]
        self.assertEqual(len(pages1), 16)
        self.assertTrue(all(pages1))
        dir_objs1 = {t1.dir_key[b""], big["k"]} | set(pages1)

        # touch + fsync of one file: one page and the index change.
        path = os.path.join(d, name(42))
        os.utime(path, (1, 1))
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        st.sealfs("sync", v.mnt)
        t2 = self.tree()
        big2 = t2.entries[b"big"]
        pages2 = t2.dir_pages[big2["id"]]
        self.assertEqual(t2.entries[b"big/" + name(42).encode()]["mt"], [1, 0])
        changed = [s for s in range(16) if pages1[s] != pages2[s]]
        fid = bytes.fromhex(t2.entries[b"big/" + name(42).encode()]["id"])
        self.assertEqual(changed, [(fid[0] + 256 * fid[1]) % 16])
        self.assertNotEqual(big["k"], big2["k"])
        dir_objs2 = {t2.dir_key[b""], big2["k"]} | set(pages2)
        self.assertEqual(len(dir_objs2 - dir_objs1), 3)  # the root, the index, one page
        stored = {os.path.basename(k) for k in su.store_objects(v.store)}
        self.assertTrue(dir_objs2 <= stored)

        # A fresh cache reads every page from the store.
        v.unmount()
        self.fsck()
        v.mount(cache=os.path.join(v.root, "cache2"))
        self.assertEqual(sorted(os.listdir(d)), [name(i) for i in range(N)])
        self.assertEqual(os.stat(os.path.join(d, name(42))).st_mtime, 1)

        v.unmount()
        self.bad_page(pages2[3], damage=True)
        self.bad_page(pages2[5], damage=False)
        v.mount(cache=os.path.join(v.root, "cache2"))

        # Emptied below the join and removed: no page is left as an orphan.
        for i in range(N - 100):
            os.unlink(os.path.join(d, name(i)))
        st.sealfs("sync", v.mnt)
        t3 = self.tree()
        self.assertNotIn(t3.entries[b"big"]["id"], t3.dir_pages)  # one object again
        self.assertEqual(len(os.listdir(d)), 100)
        shutil.rmtree(d)
        v.unmount()
        self.fsck()


GOLDEN_V3 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "crypto",
                         "golden-v3-xchacha20poly1305")


class GoldenV3(unittest.TestCase):

    def setUp(self):
        self.v = v = st.Vault("pages-golden")
        shutil.rmtree(v.store, ignore_errors=True)
        shutil.copytree(GOLDEN_V3, v.store)
        with open(os.path.join(GOLDEN_V3, "recovery.txt")) as f:
            v.recovery_key = f.read().strip()
        os.remove(os.path.join(v.store, "recovery.txt"))
        v.passphrase = "sealfs golden vault"
        with open(v.passfile, "w") as f:
            f.write(v.passphrase + "\n")

    def tearDown(self):
        self.v.cleanup()

    def test_golden_paged_directory(self):
        v = self.v
        with open(os.path.join(v.store, "sealfs.json")) as f:
            self.assertEqual(json.load(f)["format"], 3)
        keys = su.VaultKeys(v.store, v.recovery_key)
        t = su.Tree(v.store, keys)
        docs_id = t.entries[b"docs"]["id"]
        old_pages = t.dir_pages[docs_id]
        self.assertEqual(len(old_pages), 2)
        v.mount()
        self.assertEqual(sorted(os.listdir(v.path("docs"))), ["empty", "note"])
        with open(v.path("hello.txt"), "rb") as f:
            self.assertEqual(f.read(), b"Hello, sealfs!\n")
        with open(v.path("docs", "new"), "wb") as f:
            f.write(b"new")
            os.fsync(f.fileno())
        v.unmount()
        t = su.Tree(v.store, keys)
        self.assertNotIn(docs_id, t.dir_pages)  # three entries: one object
        self.assertEqual(sorted(p for p in t.entries if p.startswith(b"docs/")),
                         [b"docs/empty", b"docs/new", b"docs/note"])
        p = st.sealfs("fsck", v.store, "--passphrase-file", v.passfile, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


class PagesMerge(unittest.TestCase):

    def setUp(self):
        self.v = st.Vault("pages-merge")
        self.v.init()

    def tearDown(self):
        self.v.cleanup()

    def test_two_devices_in_one_paged_directory(self):
        v = self.v
        n = 2500  # above the split: paged
        a = dv.Device(v, "a")
        b = dv.Device(v, "b", "--fsync-store")
        a.mount()
        os.mkdir(a.path("big"))
        for i in range(n):
            with open(a.path("big", name(i)), "wb"):
                pass
        self.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        b.mount()
        self.assertEqual(len(os.listdir(b.path("big"))), n)
        # A commits first; B, built on the head before A's, merges onto it.
        self.assertEqual(dv.write(a.path("big", "a-new"), b"from a"), 0)
        os.unlink(a.path("big", name(7)))
        self.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        self.assertEqual(dv.write(b.path("big", "b-new"), b"from b"), 0)
        os.utime(b.path("big", name(9)), (5, 5))
        p = st.sealfs("sync", b.mnt, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreaterEqual(dv.status(b.mnt)["merges"], 1)
        self.assertEqual(b.unmount().returncode, 0)
        self.assertEqual(a.unmount().returncode, 0)
        c = dv.Device(v, "c")
        c.mount()
        names = set(os.listdir(c.path("big")))
        want = {name(i) for i in range(n) if i != 7} | {"a-new", "b-new"}
        self.assertEqual(names, want)
        self.assertEqual(dv.read(c.path("big", "b-new")), b"from b")
        self.assertEqual(os.stat(c.path("big", name(9))).st_mtime, 5)
        self.assertEqual(c.unmount().returncode, 0)
        t = su.Tree(v.store, su.VaultKeys(v.store, v.recovery_key))
        self.assertIn(t.entries[b"big"]["id"], t.dir_pages)  # the merged listing: paged
        b.mount()  # B's cache, after its merge, shows the merged directory
        self.assertEqual(set(os.listdir(b.path("big"))), want)
        self.assertEqual(b.unmount().returncode, 0)
        dv.all_heads_clean(self, v)


if __name__ == "__main__":
    st.main()
