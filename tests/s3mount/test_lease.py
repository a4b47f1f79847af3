"""The lease of a store that ignores conditional writes (s3rver with
S3RVER_IGNORE_CONDITIONAL=1; fs/vault/lease.h, docs/CLI.md "Several
devices"). On such a store the head's compare-and-swap is a read then a
write, so two devices writing at once could overwrite each other: a
read-write mount takes the sealed object `lease`.

- Device A mounts and holds it. B mounts read-only with one line on the
  stdout of `sealfs mount` naming A, writes fail with EROFS, `status` says
  another device holds it, and B's unmount leaves A's lease alone.
- B mounts with --force and takes it (logged); A's next upload stops loudly
  (sync exit 17 naming the lease, one log line, status "lost", unmount exit
  17) with its commit kept in its journal; A's unmount does not delete B's
  lease; B's unmount does.
- A mounts again with its cache: its kept commit is merged onto B's head;
  it unmounts cleanly (the lease deleted) and B then mounts read-write
  without --force; a fresh device sees every device's files.
- A store honouring conditional writes never gets a lease: no `lease`
  object, and the server's log shows no request for one."""

import errno
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import devices, mount as st, s3 as u

TAKEN = "took over this mount's lease"
READ_ONLY = "read-only: another device (laptop-a) holds the store's lease"


class Lease(u.ServerCase):
    TAG = "lease"
    IGNORE = True

    def lease_stored(self):
        return "lease" in u.listing(self.server, self.v.prefix)

    def mount_b_daemon(self, b):
        """B as `sealfs mount` (a daemon): what it prints on stdout."""
        p = st.sealfs("mount", self.v.store, b.mnt, "--cache", b.cache, "--passphrase-file",
                      self.v.passfile, "--device-name", "desk-b", "--poll", "0", check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.v.pids.add(st.daemon_pid(b.mnt))
        return p

    def test_takeover(self):
        self.v = u.S3Vault("lease", self.server, "vault")
        self.v.init()
        a = devices.Device(self.v, "a", "--device-name", "laptop-a", "--poll", "0")
        b = devices.Device(self.v, "b", "--device-name", "desk-b", "--poll", "0")
        a.mount()
        self.assertEqual(devices.write(a.path("from-a"), b"a1"), 0)
        self.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        s = devices.status(a.mnt)
        self.assertEqual(s["lease"], "held", s)
        self.assertTrue(s["store_ignores_conditional_writes"], s)
        self.assertTrue(self.lease_stored())
        self.assertIn("lease:        held by this device", st.sealfs("status", a.mnt).stdout)

        # B: read-only, one line on stdout, nothing written.
        p = self.mount_b_daemon(b)
        self.assertEqual(p.stdout.count(READ_ONLY), 1, p.stdout + p.stderr)
        self.assertEqual(devices.read(b.path("from-a")), b"a1")
        with self.assertRaises(OSError) as cm:
            devices.write(b.path("from-b"), b"no")
        self.assertEqual(cm.exception.errno, errno.EROFS)
        s = devices.status(b.mnt)
        self.assertEqual(s["lease"], "other", s)
        self.assertGreater(s["lease_until"], 0, s)
        self.assertIn("another device holds it", st.sealfs("status", b.mnt).stdout)
        self.assertEqual(b.unmount().returncode, 0)
        self.assertTrue(self.lease_stored(), "a read-only mount deleted the holder's lease")

        # B takes it over; A stops writing, loudly, and keeps its commit.
        b.mount("--force")
        self.assertIn("taking over the store's lease", b.log_text())
        self.assertEqual(devices.status(b.mnt)["lease"], "held")
        self.assertEqual(devices.write(a.path("a-late"), b"kept in A's journal"), 0)
        p = st.sealfs("sync", a.mnt, check=False)
        self.assertEqual(p.returncode, st.EXIT_STORE_IO, p.stdout + p.stderr)
        self.assertIn("another device holds the store's lease", p.stderr)
        s = devices.status(a.mnt)
        self.assertEqual(s["lease"], "lost", s)
        self.assertTrue(s["head_conflict"], s)
        self.assertEqual(devices.write(b.path("from-b"), b"b1"), 0)
        self.assertEqual(st.sealfs("sync", b.mnt, check=False).returncode, 0)
        p = a.unmount()
        self.assertEqual(p.returncode, st.EXIT_STORE_IO, p.stderr)
        self.assertIn("another device holds the store's lease", p.stderr)
        self.assertEqual(a.log_text().count(TAKEN), 1, a.log_text())
        self.assertTrue(st.journal_records(a.cache), "A's commit left its journal")
        self.assertTrue(self.lease_stored(), "A deleted B's lease")
        self.assertEqual(b.unmount().returncode, 0)
        self.assertFalse(self.lease_stored(), "B's unmount left its lease")

        # A again: its commit is merged; then B mounts read-write, no --force.
        a.mount()
        self.assertEqual(devices.status(a.mnt)["lease"], "held")
        self.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        self.assertEqual(a.unmount().returncode, 0)
        self.assertFalse(st.journal_records(a.cache))
        self.assertFalse(self.lease_stored())
        b.mount()
        self.assertEqual(devices.status(b.mnt)["lease"], "held")
        self.assertEqual(devices.read(b.path("a-late")), b"kept in A's journal")
        self.assertEqual(devices.write(b.path("from-b-2"), b"b2"), 0)
        self.assertEqual(b.unmount().returncode, 0)
        c = devices.Device(self.v, "c", "--poll", "0")
        c.mount()
        for name, data in (("from-a", b"a1"), ("a-late", b"kept in A's journal"),
                           ("from-b", b"b1"), ("from-b-2", b"b2")):
            self.assertEqual(devices.read(c.path(name)), data, name)
        self.assertEqual(c.unmount().returncode, 0)
        self.assertFalse(self.lease_stored())


class Honoured(Lease):
    """A store that honours conditional writes: no lease at all."""
    TAG = "lease-hon"
    IGNORE = False

    def test_takeover(self):
        self.v = u.S3Vault("lease", self.server, "vault")
        self.v.init()
        a = devices.Device(self.v, "a", "--poll", "0")
        a.mount()
        self.assertEqual(devices.write(a.path("f"), b"one"), 0)
        self.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        s = devices.status(a.mnt)
        self.assertEqual(s["lease"], "none", s)
        self.assertFalse(s["store_ignores_conditional_writes"], s)
        self.assertIn("lease:        not needed", st.sealfs("status", a.mnt).stdout)
        self.assertFalse(self.lease_stored())
        self.assertEqual(a.unmount().returncode, 0)
        with open(self.server.log, "rb") as f:
            log = f.read()
        self.assertIn(b"/head", log)  # the server logs each request's path
        self.assertNotIn(b"/lease", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
