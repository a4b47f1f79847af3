"""Two devices on one vault in a local directory store (issue #12): two
mounts with two caches both write. The head is replaced only by
compare-and-swap (a flock on STORE/head.lock). On a format-1 vault (a copy
of the golden one) the second device's upload stops loudly instead of
replacing the first device's commits, keeps its own in its journal, and its
cache refuses a read-write remount; on a format-2 vault it merges its
commits onto the store's head, and a third device sees both (see
sealfstest/devices.py). With the old unconditional head PUT the fresh mount
missed the first device's file."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import devices, mount as st


class TwoDevices(unittest.TestCase):
    def test_format1_second_device_stops_loudly(self):
        v = st.Vault("devices")
        try:
            devices.format1_store(v)
            devices.two_devices(self, v)
            self.assertTrue(os.path.isfile(os.path.join(v.store, "head.lock")))
        finally:
            v.cleanup()

    def test_format2_poll_shows_changes(self):
        v = st.Vault("devpoll")
        try:
            v.init()
            took = devices.poll_devices(self, v)
            self.assertLess(took, 10)
        finally:
            v.cleanup()

    def test_format2_offline_device_merges_at_mount(self):
        v = st.Vault("devoff")
        try:
            v.init()
            devices.offline_device(self, v)
        finally:
            v.cleanup()

    def test_format2_history_across_devices(self):
        v = st.Vault("devhist")
        try:
            v.init()
            devices.three_each(self, v)
        finally:
            v.cleanup()

    def test_format2_crash_after_merge_keeps_garbage(self):
        if not devices.fault_build():
            self.skipTest("sealfs built without -Dfault_injection=true (die=merged-finish)")
        v = st.Vault("devcrash")
        try:
            devices.crash_after_merge(self, v)
        finally:
            v.cleanup()

    def test_format2_second_device_merges(self):
        v = st.Vault("devmerge")
        try:
            v.init()
            devices.merge_devices(self, v)
        finally:
            v.cleanup()


if __name__ == "__main__":
    st.main()
