"""Two devices on one vault in a local directory store (issue #12, before
format 2): two mounts with two caches both write. The head is replaced only
by compare-and-swap (a flock on STORE/head.lock), so the second device's
upload stops loudly instead of replacing the first device's commits, keeps
its own in its journal, and its cache refuses a read-write remount (see
sealfstest/devices.py). With the old unconditional head PUT the fresh mount
missed the first device's file."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import devices, mount as st


class TwoDevices(unittest.TestCase):
    def test_second_device_stops_loudly(self):
        v = st.Vault("devices")
        try:
            v.init()
            devices.two_devices(self, v)
            self.assertTrue(os.path.isfile(os.path.join(v.store, "head.lock")))
        finally:
            v.cleanup()


if __name__ == "__main__":
    st.main()
