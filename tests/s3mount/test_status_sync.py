"""`sealfs status` and `sealfs sync` on an S3 vault (s3rver on loopback),
through the daemon's control socket:

1. With a long commit delay, files written and closed show up in
   `status --json` as uncommitted changes; `sync` commits and returns 0 once
   the store holds them, after which status shows nothing pending and the
   bucket holds the segments; a fresh-cache mount reads everything back.
2. With the server stopped, `sync --timeout 3` exits 17 with one line naming
   the last store error, and status shows the pending objects and bytes, the
   error and that the store is failing; once the server is back, `sync`
   completes (with a progress bar on a terminal) and status is clean.
3. status / sync of a directory that is no sealfs mount fail with exit 15.
4. Garbage, an unknown op, an oversize request and a silent client on the
   raw socket get an error reply or a close; the daemon stays healthy.
"""

import json
import os
import pty
import select
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, s3 as u

DELAY = ["--commit-delay", "600000"]  # ten minutes: only sync commits
SYNC_TIMEOUT = 180  # seconds the test lets a sync run at most


def sock_path(mnt):
    """The daemon's control socket (fs/util/runtime.h: beside the pid file)."""
    return st.pid_file(mnt)[:-len(".pid")] + ".sock"


def status(v):
    p = st.sealfs("status", v.mnt, "--json")
    lines = p.stdout.splitlines()
    assert len(lines) == 1 and p.stderr == "", "status --json printed %r %r" % (p.stdout,
                                                                                p.stderr)
    return json.loads(lines[0])


def raw_request(path, data, shut=True, timeout=15):
    """Sends data on a fresh connection; returns (reply bytes, seconds)."""
    t = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        try:
            if data:
                s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon stopped reading (an oversize request): read what it said
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
    finally:
        s.close()
    return out, time.monotonic() - t


class StatusSync(u.ServerCase):
    TAG = "status"

    def write(self, v, files, tag, size):
        name = v.marker(tag)
        files[name] = u.random_bytes(size)
        u.write_file(v.path(name), files[name], fsync=False)

    def assert_clean(self, s, why):
        self.assertEqual((s["journal_records"], s["pending_objects"], s["pending_bytes"]),
                         (0, 0, 0), "%s: still pending: %r" % (why, s))
        self.assertFalse(s["uncommitted_changes"], why)
        self.assertFalse(s["store_failing"], why)
        self.assertEqual(s["store_seq"], s["committed_seq"], why)

    def sync_on_tty(self, v):
        """sync with stderr on a pseudo-terminal: returns (exit code, what it drew)."""
        master, slave = pty.openpty()
        p = subprocess.Popen([st.SEALFS, "sync", v.mnt], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + SYNC_TIMEOUT
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    b = os.read(master, 4096)
                except OSError:
                    b = b""
                out += b
                if not b and p.poll() is not None:
                    break
            elif p.poll() is not None:
                break
        else:
            p.kill()
        os.close(master)
        return p.wait(timeout=30), out.decode(errors="replace")

    def test_status_and_sync_through_an_outage(self):
        v = self.v = u.S3Vault("status", self.server, "statusvault")
        v.init()
        v.mount(*DELAY)
        sock = sock_path(v.mnt)
        self.assertTrue(stat.S_ISSOCK(os.lstat(sock).st_mode))
        self.assertEqual(stat.S_IMODE(os.lstat(sock).st_mode), 0o600)
        s = status(v)
        self.assertTrue(s["ok"])
        self.assertIsNone(s["last_error"])
        self.assertFalse(s["store_failing"])

        files = {}
        for i in range(3):
            self.write(v, files, "big%d" % i, 2 * u.MIB + 1000 * i)
        s = status(v)
        self.assertTrue(s["uncommitted_changes"], "written files not shown as pending: %r" % s)
        self.assertEqual(s["committed_seq"], s["store_seq"], "committed before the delay")
        before = s["uploaded_bytes"]

        p = st.sealfs("sync", v.mnt, timeout=SYNC_TIMEOUT)
        self.assertEqual((p.stdout, p.stderr), ("", ""), "sync printed on a non-terminal")
        s = status(v)
        self.assert_clean(s, "after sync")
        self.assertGreater(s["committed_seq"], 1)
        self.assertGreaterEqual(s["uploaded_bytes"] - before, 6 * u.MIB)
        segs = [k for k in u.listing(self.server, "statusvault") if k.startswith("o/")]
        self.assertGreaterEqual(len(segs), 6, "the bucket lacks the segments: %r" % segs)
        human = st.sealfs("status", v.mnt).stdout
        self.assertIn("store:        ok", human)
        self.assertIn("0 commits, 0 objects", human)

        port = self.server.port
        self.server.stop(signal.SIGKILL)
        self.write(v, files, "down", 3 * u.MIB + 17)
        # At once: the S3 client may still be retrying, so the error may not
        # be known yet; then again once the uploader reports the failure.
        for attempt in ("at once", "once failing"):
            t = time.monotonic()
            p = st.sealfs("sync", v.mnt, "--timeout", "3", check=False, timeout=60)
            secs = time.monotonic() - t
            u.log("STATUS sync --timeout 3 with the server down (%s): exit %d after %.1f s: "
                  "%r" % (attempt, p.returncode, secs, p.stderr))
            self.assertEqual(p.returncode, st.EXIT_STORE_IO, p.stderr)
            self.assertEqual(len(p.stderr.splitlines()), 1, "not one line: %r" % p.stderr)
            self.assertTrue(p.stderr.startswith("sealfs: "), p.stderr)
            self.assertIn("go up in the background", p.stderr)
            self.assertLess(secs, 20)
            deadline = time.monotonic() + 90
            while not status(v)["store_failing"] and time.monotonic() < deadline:
                time.sleep(0.5)
        self.assertIn("last store error: ", p.stderr)
        s = status(v)
        u.log("STATUS with the server down: %r" % s)
        self.assertTrue(s["store_failing"], s)
        self.assertIsNotNone(s["last_error"], s)
        self.assertGreater(s["last_error"]["errno"], 0)
        self.assertLessEqual(abs(s["last_error"]["time"] - time.time()), 120)
        self.assertGreaterEqual(s["journal_records"], 1)
        self.assertGreaterEqual(s["pending_objects"], 4)
        self.assertGreaterEqual(s["pending_bytes"], 3 * u.MIB)
        self.assertLess(s["store_seq"], s["committed_seq"])
        self.assertIn(s["last_error"]["message"], p.stderr)
        human = st.sealfs("status", v.mnt).stdout
        self.assertIn("failing", human)
        self.assertIn("last error:   " + s["last_error"]["message"], human)

        self.server.start(port=port)
        rc, drawn = self.sync_on_tty(v)
        u.log("STATUS sync on a terminal after the server came back: exit %d, %r"
              % (rc, drawn[-200:]))
        self.assertEqual(rc, 0, drawn)
        self.assertIn("100%", drawn)
        s = status(v)
        self.assert_clean(s, "after the server came back")
        self.assertIsNotNone(s["last_error"], "the last error is forgotten")
        v.unmount()

        v.mount(cache=v.fresh_cache())
        for name, data in sorted(files.items()):
            with open(v.path(name), "rb") as f:
                self.assertEqual(u.sha256(f.read()), u.sha256(data), name + " differs")
        v.unmount()
        self.assertEqual(v.leaks(), [], "plaintext in the bucket or a cache")

    def test_not_a_sealfs_mount(self):
        d = os.path.join(self.root, "plain")
        os.mkdir(d)
        for cmd in (["status", d], ["status", d, "--json"], ["sync", d]):
            p = st.sealfs(*cmd, check=False, timeout=30)
            self.assertEqual(p.returncode, st.EXIT_MOUNTPOINT, p.stderr)
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
            self.assertIn("is not mounted", p.stderr)
            self.assertEqual(p.stdout, "")

    def test_socket_rejects_bad_requests(self):
        v = self.v = u.S3Vault("statsock", self.server, "sockvault")
        v.init()
        v.mount(*DELAY)
        sock = sock_path(v.mnt)
        for data, want in ((b"hello world\n", "malformed request"),
                           (b'{"op":"mkfs"}\n', "unknown op"),
                           (b'{"op":["status"]}\n', "malformed request"),
                           (b'{"op":"status"} trailing\n', "malformed request"),
                           (b"\xff\x00{}\n", "malformed request")):
            out, _ = raw_request(sock, data)
            reply = json.loads(out)
            self.assertEqual(reply, {"ok": False, "error": want}, data)
        out, _ = raw_request(sock, b"x" * 100000, shut=False)
        self.assertIn(out, (b"", b'{"ok":false,"error":"request too long"}\n'))
        out, secs = raw_request(sock, b"", shut=False)
        u.log("STATUS a silent client was dropped after %.1f s" % secs)
        self.assertEqual(out, b"")
        self.assertLess(secs, 10)
        out, _ = raw_request(sock, b'{"op":"status"}')  # EOF ends the line too
        self.assertTrue(json.loads(out)["ok"])

        name = v.marker("after")
        u.write_file(v.path(name), b"still alive")
        os.statvfs(v.mnt)
        self.assertTrue(status(v)["ok"])
        st.sealfs("sync", v.mnt, timeout=SYNC_TIMEOUT)
        self.assert_clean(status(v), "after the bad requests")
        v.unmount()
        self.assertFalse(os.path.exists(sock), "the socket outlived the daemon")


if __name__ == "__main__":
    st.main()
