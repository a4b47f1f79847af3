"""A vault in S3 reached through tests/s3/faultproxy.py, which answers 503
SlowDown, resets connections half-way through a reply and cuts requests
half-way through their body on a fixed schedule: init, a copy of a few MB
into the mount plus a directory whose object goes up in multipart, `sealfs
unmount`, and a mount with a fresh, empty cache (reading through the same
faults) all succeed and give back every byte and the metadata. The proxy's
log proves the faults happened.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, s3 as u

# Per cycle of 11 requests: two 503s, a reply reset half-way, a request cut
# half-way (or, for a GET, reset before any answer); never two failures in a
# row (the S3 client tries 6 times). No rule is limited to a method: such
# rules left over while the other method runs would later fire in a row.
CYCLE = ["pass*2", "slowdown*1", "pass*2", "reset*1", "pass*2", "cut*1", "pass*1",
         "slowdown*1"]
CYCLES = 60


def build_tree(v, root):
    """About 6 MB: one 5 MiB file, 40 small ones in 4 directories, a link."""
    os.mkdir(root)
    u.write_file(os.path.join(root, v.marker("big")), u.random_bytes(5 * u.MIB + 12345),
                 fsync=False)
    for i in range(4):
        d = os.path.join(root, v.marker("d%d" % i))
        os.mkdir(d)
        for j in range(10):
            p = os.path.join(d, v.marker("f"))
            u.write_file(p, u.random_bytes(j * 9000 + i), fsync=False)
            os.utime(p, ns=(1, 1_700_000_000_000_000_000 + i * 1000 + j))
        os.chmod(d, 0o700 + i)
    os.symlink(v.marker("target"), os.path.join(root, "link"))


class Faults(u.ServerCase):
    TAG = "faults"
    proxy = None

    def set_up(self):
        self.proxy = u.FaultProxy(self.server.port, u.periodic_schedule(CYCLE, CYCLES),
                                  os.path.join(self.root, "proxy.log"))
        u.use_endpoint(self.proxy.endpoint, root=self.root)

    def after_cleanup(self):
        if self.proxy:
            self.proxy.stop()

    def test_copy_through_faults(self):
        v = self.v = u.S3Vault("faults", self.server, "faulty")
        src = os.path.join(v.root, "src")
        build_tree(v, src)
        v.init()
        v.mount()
        st.run(["cp", "-a", "--", src, v.path("tree")])
        before = st.snapshot(v.path("tree"))
        self.assertEqual(before, st.snapshot(src))
        u.make_fat_dir(v.path("fat"))
        fat = st.snapshot(v.path("fat"))
        v.unmount()
        writes = self.proxy.modes()
        v.mount(cache=v.fresh_cache())
        p = subprocess.run(["diff", "-r", "--no-dereference", "--", src, v.path("tree")],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, "diff -r: " + p.stdout[-2000:] + p.stderr[-2000:])
        self.assertEqual(st.snapshot(v.path("tree")), before)
        self.assertEqual(st.snapshot(v.path("fat")), fat)
        v.unmount()
        self.assertTrue(u.multipart_seen(self.server), "no multipart upload reached s3rver")
        modes = self.proxy.modes()
        u.log("FAULTS requests by mode: writing %s; in all %s" % (writes, modes))
        for mode, least in (("slowdown", 5), ("reset", 5), ("cut", 2)):
            self.assertGreaterEqual(modes.get(mode, 0), least, "too few %s faults: %s"
                                    % (mode, modes))
        self.assertGreater(modes.get("reset", 0), writes.get("reset", 0),
                           "no reset while reading back")
        self.assertEqual(v.leaks(), [], "plaintext in the bucket or a cache")


if __name__ == "__main__":
    st.main()
