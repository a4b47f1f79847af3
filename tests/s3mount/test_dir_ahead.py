"""Read-ahead across a directory on an S3 store (fs/vault/tree_ahead.c): a
program that reads a directory's small files in the order of its listing
(tar, cp -r) over a fresh cache finds the next files already fetched by the
read-ahead threads, instead of one GET after another on its own thread.

A vault with 40 small files in one directory is written and unmounted, then
mounted over a fresh, empty cache; the directory is listed and its first
two files read in listing order: within WAIT_S seconds the cache holds more
objects than the listing and the two reads fetched (without the read-ahead
it holds exactly those). Every file then reads back exactly; a reader in
another order (backwards) gets the directory fetched too; one open far into
the listing fetches nothing ahead. Bounded: 40 files of 3,000 bytes,
seconds."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, s3 as u

FILES = 40
SIZE = 3000
WAIT_S = 20


def cached_objects(cache):
    objs = os.path.join(cache, "o")
    return sum(len(os.listdir(os.path.join(objs, d))) for d in os.listdir(objs))


class DirAhead(u.ServerCase):
    TAG = "dirahead"

    def set_up(self):
        super().set_up()
        v = self.v = u.S3Vault(self.TAG, self.server, self.TAG)
        v.init()
        v.mount()
        os.mkdir(v.path("dir"))
        self.data = {}
        for i in range(FILES):
            name = "f%02d-%s" % (i, v.marker("n"))
            body = u.random_bytes(SIZE)
            u.write_file(v.path("dir", name), body, fsync=False)
            self.data[name] = body
        v.unmount()  # the store holds everything
        self.cache = v.fresh_cache()
        v.mount(cache=self.cache)

    def read(self, name):
        with open(self.v.path("dir", name), "rb") as f:
            self.assertEqual(f.read(), self.data[name])

    def test_in_order_reader_gets_next_files_fetched(self):
        names = os.listdir(self.v.path("dir"))  # the listing's order
        after_list = cached_objects(self.cache)
        self.read(names[0])
        self.read(names[1])
        want = after_list + 2 + 8
        until = time.monotonic() + WAIT_S
        while cached_objects(self.cache) < want and time.monotonic() < until:
            time.sleep(0.05)
        self.assertGreaterEqual(cached_objects(self.cache), want,
                                "the next files were not fetched ahead")
        for name in names:
            self.read(name)
        self.v.unmount()

    def test_reader_in_another_order_gets_the_directory_fetched(self):
        names = os.listdir(self.v.path("dir"))
        after_list = cached_objects(self.cache)
        for name in reversed(names[-3:]):  # backwards (cp -r: by inode number)
            self.read(name)
        want = after_list + 3 + 8
        until = time.monotonic() + WAIT_S
        while cached_objects(self.cache) < want and time.monotonic() < until:
            time.sleep(0.05)
        self.assertGreaterEqual(cached_objects(self.cache), want)
        self.v.unmount()

    def test_one_open_far_into_the_listing_fetches_nothing_ahead(self):
        names = os.listdir(self.v.path("dir"))
        after_list = cached_objects(self.cache)
        self.read(names[-1])
        time.sleep(1)
        self.assertEqual(cached_objects(self.cache), after_list + 1)
        self.v.unmount()


if __name__ == "__main__":
    st.main()
