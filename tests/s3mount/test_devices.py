"""Two devices on one format-2 vault in S3 (s3rver on loopback; issue #12).
The head is replaced only by a conditional PUT (If-Match: the ETag read; the
first head If-None-Match: *), so the second device's upload finds the first
device's head and merges onto it instead of replacing it (merge_devices in
sealfstest/devices.py; the format-1 scenario, where it stops loudly, runs on
a local store in tests/mount/test_devices.py). Also, with a server told to ignore conditional
writes (S3RVER_IGNORE_CONDITIONAL=1, as servers from before 2024 do): the
probe at the mount finds it out, the mount warns once and says so in
`sealfs status`, the probe's objects are deleted again (fsck finds no
orphan); two devices at once take turns there through the store's lease
(test_lease.py). With --poll 1 each mount shows the other's changes within
seconds, and a poll of an unchanged head gets a 304 (If-None-Match) and no
head."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import devices, mount as st, s3 as u

IGNORED = "ignores conditional writes"


class Conditional(u.ServerCase):
    TAG = "devices"
    IGNORE = False

    def test_probe_and_one_device(self):
        """One device: the probe's verdict in status and the log, no
        probe object left behind."""
        self.v = u.S3Vault("devices", self.server, "vault")
        self.v.init()
        a = devices.Device(self.v, "a")
        a.mount()
        self.assertEqual(devices.write(a.path("f"), b"one device"), 0)
        self.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        s = devices.status(a.mnt)
        self.assertEqual(s["store_ignores_conditional_writes"], self.IGNORE, s)
        self.assertFalse(s["head_conflict"], s)
        self.assertEqual(a.unmount().returncode, 0)
        self.assertEqual(a.log_text().count(IGNORED), 1 if self.IGNORE else 0, a.log_text())
        p = st.sealfs("fsck", self.v.store, "--passphrase-file", self.v.passfile, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_polls_of_an_unchanged_head_send_nothing(self):
        """--poll 1: a poll asks for the head with If-None-Match (its ETag)
        and the server's 304 sends nothing; `status --json` counts those.
        Only the first poll and the one after this mount's own upload read
        the head."""
        self.v = u.S3Vault("devices", self.server, "vault")
        self.v.init()
        a = devices.Device(self.v, "a", "--poll", "1")
        a.mount()
        self.assertEqual(devices.write(a.path("f"), b"polled"), 0)
        self.assertEqual(st.sealfs("sync", a.mnt, check=False).returncode, 0)
        deadline = time.monotonic() + 15
        s = devices.status(a.mnt)
        while s["polls_unchanged"] < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
            s = devices.status(a.mnt)
        self.assertGreaterEqual(s["polls_unchanged"], 3, s)
        self.assertLessEqual(s["polls"] - s["polls_unchanged"], 2, s)
        self.assertEqual(s["poll_refreshes"], 0, s)
        p = st.sealfs("status", a.mnt, check=False)
        self.assertIn("found the head unchanged", p.stdout)
        self.assertEqual(a.unmount().returncode, 0)

    def test_second_device_merges(self):
        self.v = u.S3Vault("devices", self.server, "vault")
        self.v.init()
        devices.merge_devices(self, self.v)

    def test_poll_shows_changes(self):
        """--poll 1: a change on one mount shows on the other in seconds."""
        self.v = u.S3Vault("devices", self.server, "vault")
        self.v.init()
        took = devices.poll_devices(self, self.v)
        self.assertLess(took, 10)


class IgnoringServer(Conditional):
    TAG = "devices-ign"
    IGNORE = True
    # Two read-write mounts at once take turns through the store's lease
    # there: the second mounts read-only (tests/s3mount/test_lease.py).
    test_second_device_merges = None
    test_poll_shows_changes = None
    test_polls_of_an_unchanged_head_send_nothing = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
