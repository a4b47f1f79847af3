"""The S3 secret access key stays in locked memory in the daemon. The CLI
reads it (sodium_malloc: locked), then forks the daemon; memory locks are not
inherited across fork(), so the daemon must lock those pages again. This test
finds, in a mounted daemon's /proc/PID/mem, every sodium_malloc allocation
that holds the secret (libsodium places an allocation's bytes right before a
guard page, so the secret with its NUL ends exactly where its mapping ends)
and reads `Locked:` of those mappings in /proc/PID/smaps: each must be
locked. Root only (reads another process's memory); skipped when mlock does
nothing here (the daemon has no locked memory at all, not even its vault
keys). The secret comes from a credentials file, not the environment (the
environment would put a copy on the daemon's stack).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import s3 as u  # noqa: E402
from sealfstest.s3 import st  # noqa: E402

SECRET = u.SECRET_KEY.encode() + b"\0"  # the only secret s3rver accepts; C string


def mappings(pid):
    """(lo, hi, locked_kib, readable) of every mapping, from smaps."""
    out = []
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            first = line.split()[0]
            if "-" in first and not first.endswith(":"):
                lo, hi = (int(x, 16) for x in first.split("-"))
                cur = [lo, hi, None, line.split()[1][0] == "r"]
                out.append(cur)
            elif first == "Locked:" and cur is not None:
                cur[2] = int(line.split()[1])
    return out


def secret_mappings(pid, maps):
    """The mappings whose last bytes are SECRET (sodium_malloc allocations
    of the secret)."""
    found = []
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for m in maps:
            lo, hi, _, readable = m
            if not readable or hi - lo > 1 << 20:
                continue
            try:
                mem.seek(hi - len(SECRET))
                tail = mem.read(len(SECRET))
            except OSError:
                continue
            if tail == SECRET:
                found.append(m)
    return found


class SecretLocked(u.ServerCase):
    TAG = "locked"

    def set_up(self):
        creds = os.path.join(self.root, "credentials")
        with open(creds, "w") as f:
            f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" %
                    (u.ACCESS_KEY, u.SECRET_KEY))
        os.chmod(creds, 0o600)
        u.use_endpoint(self.server.endpoint, root=self.root)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            del os.environ[k]
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = creds

    def test_daemon_keeps_the_s3_secret_locked(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to read the daemon's memory")
        self.v = u.S3Vault("locked", self.server, "vault")
        self.v.init()
        self.v.mount()
        pid = st.daemon_pid(self.v.mnt)
        u.write_file(self.v.path("f"), b"x" * 5000)  # requests signed with the secret
        with open("/proc/%d/status" % pid) as f:
            vmlck = [int(l.split()[1]) for l in f if l.startswith("VmLck:")]
        if not vmlck or vmlck[0] == 0:
            self.skipTest("mlock does nothing here: the daemon has no locked memory")
        maps = mappings(pid)
        held = secret_mappings(pid, maps)
        self.assertTrue(held, "control: no sodium_malloc allocation in the daemon holds the "
                        "secret, so the scan is broken")
        unlocked = ["%x-%x" % (m[0], m[1]) for m in held if not m[2]]
        self.assertEqual(unlocked, [], "the S3 secret is in unlocked memory in the daemon "
                         "(%d of %d allocations)" % (len(unlocked), len(held)))
        self.v.unmount()


if __name__ == "__main__":
    unittest.main(verbosity=2)
