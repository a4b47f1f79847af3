"""test_desktop.py - the desktop (README.md, "Desktop"): lock on suspend and
on screen lock through a private dbus-daemon with a fake logind and screen
saver (fake_desktop.py), a mount without any bus, mount.sealfs with an fstab
line (directly, through mount(8) -t sealfs and through mount --fstab), the
mount's name in /proc/self/mountinfo and in GIO, sd_notify READY/STATUS/
STOPPING on a socket of our own, and systemd-analyze verify of the user unit.

Needs /dev/fuse and root; a part whose program is missing or cannot run in
a container (dbus-daemon, python3-dbus, gio, systemd-analyze) is skipped
with the reason. Each test bounds its waits; everything is unmounted and
every process started here is stopped in tearDown.
"""

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest.mount import SEALFS, Vault, mount_type, run, sealfs  # noqa: E402

HELPER = os.environ.get("SEALFS_MOUNT_HELPER", "")
UNIT = os.environ.get("SEALFS_UNIT", "")
PY = "/usr/bin/python3"
FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_desktop.py")
LOCK_WITHIN_S = 5

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>%s</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


def have_dbus():
    if not shutil.which("dbus-daemon"):
        return "dbus-daemon is not installed (package dbus)"
    p = subprocess.run([PY, "-c", "import dbus, gi.repository.GLib"], capture_output=True)
    if p.returncode:
        return "python3-dbus or python3-gi is missing"
    return None


def mountinfo_source(path):
    """(fstype, source) of the mount at path from /proc/self/mountinfo, sources unescaped."""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4].encode().decode("unicode_escape") == real:
                i = parts.index("-")
                return parts[i + 1], parts[i + 2].encode().decode("unicode_escape")
    return None, None


def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


class Desktop:
    """A private system bus and session bus (dbus-daemon with configs of its
    own in a temp folder) and the fake logind / screen saver on them."""

    def __init__(self, root):
        self.procs = []
        self.addr = {}
        for kind in ("system", "session"):
            conf = os.path.join(root, kind + ".conf")
            with open(conf, "w") as f:
                f.write(BUS_CONF % (kind, os.path.join(root, kind + ".sock")))
            p = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork",
                                  "--print-address=1", "--nosyslog"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.procs.append(p)
            self.addr[kind] = p.stdout.readline().strip()
            if not self.addr[kind]:
                raise unittest.SkipTest("dbus-daemon did not start: " + p.stderr.read(500))
        self.fake = subprocess.Popen([PY, FAKE, self.addr["system"], self.addr["session"]],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.procs.append(self.fake)
        self.events = []
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.expect("ready", 10), "the fake logind did not start"

    def env(self):
        return dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.addr["system"],
                    DBUS_SESSION_BUS_ADDRESS=self.addr["session"])

    def send(self, cmd):
        self.fake.stdin.write(cmd + "\n")
        self.fake.stdin.flush()
        assert self.expect("sent " + cmd, 5)

    def _read(self):
        """The reader thread: every event line into the queue (select on a
        buffered pipe would miss lines already read into its buffer)."""
        for line in self.fake.stdout:
            self.lines.put(line.strip())

    def expect(self, event, timeout):
        """Takes events until event (or timeout); True when seen."""
        deadline = time.monotonic() + timeout
        while event not in self.events:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self.events.append(self.lines.get(timeout=left))
            except queue.Empty:
                return False
        return True

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
            for f in (p.stdin, p.stdout, p.stderr):
                if f:
                    f.close()


class LockTest(unittest.TestCase):
    """Lock on suspend and on screen lock, over a private bus."""

    def setUp(self):
        why = have_dbus()
        if why:
            self.skipTest(why)
        self.v = Vault("desk")
        self.desk = None
        try:
            self.v.init()
            self.desk = Desktop(self.v.root)
        except BaseException:
            self.tearDown()
            raise

    def tearDown(self):
        if self.desk:
            self.desk.stop()
        self.v.cleanup()

    def mount(self, *extra):
        run([SEALFS, "mount", self.v.store, self.v.mnt, "--cache", self.v.cache,
             "--passphrase-file", self.v.passfile, "--commit-delay", "60000"] + list(extra),
            env=self.desk.env())
        self.assertEqual(mount_type(self.v.mnt), "fuse.sealfs")

    def test_sleep_locks_then_releases(self):
        self.mount()  # default --lock-on suspend
        self.assertTrue(self.desk.expect("inhibit sleep delay", 5), self.desk.events)
        with open(os.path.join(self.v.mnt, "before-sleep"), "w") as f:
            f.write("kept")
        t0 = time.monotonic()
        self.desk.send("sleep")
        self.assertTrue(self.desk.expect("released", LOCK_WITHIN_S), self.desk.events)
        # The keys go after the unmount; the inhibitor after the keys.
        self.assertIsNone(mount_type(self.v.mnt), "released before the unmount")
        self.assertLess(time.monotonic() - t0, LOCK_WITHIN_S)
        # The last commit ran: the file is there at the next mount.
        self.assertTrue(wait_for(lambda: not os.path.exists(self.pid_path()), 40))
        self.mount("--lock-on", "none")
        with open(os.path.join(self.v.mnt, "before-sleep")) as f:
            self.assertEqual(f.read(), "kept")
        sealfs("unmount", self.v.mnt)

    def pid_path(self):
        from sealfstest.mount import pid_file
        return pid_file(self.v.mnt)

    def test_screen_lock(self):
        # Suspend only (the default): a screen lock leaves the mount alone.
        self.mount()
        self.desk.send("lock")
        time.sleep(1)
        self.assertEqual(mount_type(self.v.mnt), "fuse.sealfs")
        sealfs("unmount", self.v.mnt)
        # --lock-on screen: logind's session Lock locks ...
        self.mount("--lock-on", "screen")
        self.desk.send("lock")
        self.assertTrue(wait_for(lambda: mount_type(self.v.mnt) is None, LOCK_WITHIN_S))
        self.assertTrue(wait_for(lambda: not os.path.exists(self.pid_path()), 40))
        # ... and so does the screen saver on the session bus.
        self.mount("--lock-on", "screen")  # subscribed before the mount returns
        self.desk.send("saver")
        self.assertTrue(wait_for(lambda: mount_type(self.v.mnt) is None, LOCK_WITHIN_S))
        # Only the first mount (suspend) took a sleep inhibitor.
        self.assertEqual(self.desk.events.count("inhibit sleep delay"), 1, self.desk.events)

    def test_no_bus(self):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=%s/none" % self.v.root)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        log = os.path.join(self.v.root, "daemon.log")
        with open(log, "w") as err:
            p = subprocess.Popen([SEALFS, "mount", "-f", self.v.store, self.v.mnt, "--cache",
                                  self.v.cache, "--passphrase-file", self.v.passfile],
                                 stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env)
        try:
            self.assertTrue(wait_for(lambda: mount_type(self.v.mnt) == "fuse.sealfs", 20))
            path = os.path.join(self.v.mnt, "works")
            with open(path, "w") as f:
                f.write("yes")
            with open(path) as f:
                self.assertEqual(f.read(), "yes")
            sealfs("unmount", self.v.mnt)
            p.wait(60)
        finally:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
        with open(log) as f:
            text = f.read()
        self.assertEqual(p.returncode, 0, text)
        self.assertEqual(text.count("cannot lock on suspend"), 1, text)


class InitNameTest(unittest.TestCase):
    """sealfs init --name: the name is saved in this machine's default cache for
    the vault (never in the store), and a mount without --name shows it."""

    def setUp(self):
        self.v = Vault("initname")
        self.xdg = os.path.join(self.v.root, "xdg")

    def tearDown(self):
        self.v.cleanup()

    def test_init_name_is_the_mount_source(self):
        env = dict(os.environ, XDG_CACHE_HOME=self.xdg)
        run([SEALFS, "init", self.v.store, "--passphrase-file", self.v.passfile,
             "--name", "Team Drive", "--insecure-test-kdf", "--kdf-memlimit", "8",
             "--kdf-opslimit", "1"], env=env)
        for dirpath, _, files in os.walk(self.v.store):
            for n in files:
                with open(os.path.join(dirpath, n), "rb") as f:
                    self.assertNotIn(b"Team Drive", f.read(), "the name reached the store")
        run([SEALFS, "mount", self.v.store, self.v.mnt, "--passphrase-file", self.v.passfile,
             "--lock-on", "none"], env=env)
        try:
            self.assertEqual(mountinfo_source(self.v.mnt), ("fuse.sealfs", "sealfs:Team Drive"))
        finally:
            sealfs("unmount", self.v.mnt)
        p = run([SEALFS, "init", self.v.store + "-bad", "--name", "a,b",
                 "--passphrase-file", self.v.passfile], check=False, env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("--name", p.stderr)
        self.assertFalse(os.path.exists(self.v.store + "-bad"), "a refused init created a store")


class HelperTest(unittest.TestCase):
    """mount.sealfs: an fstab line, mount -t sealfs, the mount's name."""

    def setUp(self):
        if not HELPER:
            self.skipTest("SEALFS_MOUNT_HELPER not set (run through meson)")
        self.v = Vault("helper")
        self.linked = None
        self.v.init()

    def tearDown(self):
        if self.linked:
            os.unlink(self.linked)
        self.v.cleanup()

    def fstab_opts(self, name="My Private"):
        return ("noauto,user,_netdev,nofail,x-gvfs-show,x-gvfs-name=%s,x-systemd.automount,"
                "passfile=%s,cache=%s,commit_delay=100,lock-on=none,nosuid,nodev"
                % (name, self.v.passfile, self.v.cache))

    def test_fstab_line_direct(self):
        p = run([HELPER, self.v.store, self.v.mnt, "-o", self.fstab_opts()])
        self.assertEqual(p.stdout + p.stderr, "")
        fstype, source = mountinfo_source(self.v.mnt)
        self.assertEqual((fstype, source), ("fuse.sealfs", "sealfs:My Private"))
        self.check_gio("sealfs:My Private")
        sealfs("unmount", self.v.mnt)
        # The name is remembered in the cache; name= wins over x-gvfs-name.
        run([HELPER, self.v.store, self.v.mnt, "-o",
             "passfile=%s,cache=%s,lock_on=none" % (self.v.passfile, self.v.cache)])
        self.assertEqual(mountinfo_source(self.v.mnt)[1], "sealfs:My Private")
        sealfs("unmount", self.v.mnt)
        run([HELPER, self.v.store, self.v.mnt, "-o", self.fstab_opts() + ",name=Work"])
        self.assertEqual(mountinfo_source(self.v.mnt)[1], "sealfs:Work")
        sealfs("unmount", self.v.mnt)

    def test_helper_rejects(self):
        bad = [["-o", "passfile"],  # needs a value
               ["-o", "fsync_store=1"],  # takes none
               ["-o", "name=a,b=c,passfile=%s" % self.v.passfile],  # FUSE refuses b=c
               ["-o", "passfile=%s,name=x\\y" % self.v.passfile]]
        for extra in bad:
            p = run([HELPER, self.v.store, self.v.mnt] + extra, check=False)
            self.assertIn(p.returncode, (1, 32), extra)
            self.assertIsNone(mount_type(self.v.mnt), extra)
        # -f: everything but the mount.
        p = run([HELPER, "-f", self.v.store, self.v.mnt, "-o", self.fstab_opts()], check=False)
        self.assertEqual(p.returncode, 0)
        self.assertIsNone(mount_type(self.v.mnt))

    def link_helper(self):
        """mount(8) runs /sbin/mount.sealfs: link the built one there for the
        test, unless another one is installed."""
        target = "/sbin/mount.sealfs"
        if os.path.lexists(target):
            if os.path.realpath(target) != os.path.realpath(HELPER):
                self.skipTest("%s is installed already; not replacing it" % target)
            return
        try:
            os.symlink(HELPER, target)
        except OSError as e:
            self.skipTest("cannot link %s: %s" % (target, e))
        self.linked = target

    def test_mount_t_and_fstab(self):
        if not shutil.which("mount"):
            self.skipTest("no mount(8)")
        self.link_helper()
        # mount(8) keeps x-* to itself (gvfs reads them from fstab): name= names the source.
        run(["mount", "-t", "sealfs", self.v.store, self.v.mnt, "-o",
             self.fstab_opts("Vault") + ",name=Vault"])
        self.assertEqual(mountinfo_source(self.v.mnt), ("fuse.sealfs", "sealfs:Vault"))
        sealfs("unmount", self.v.mnt)
        fstab = os.path.join(self.v.root, "fstab")
        with open(fstab, "w") as f:
            f.write("%s %s sealfs %s 0 0\n" % (self.v.store, self.v.mnt,
                                                self.fstab_opts("Private") + ",name=Private"))
        run(["mount", "--fstab", fstab, self.v.mnt])
        self.assertEqual(mountinfo_source(self.v.mnt), ("fuse.sealfs", "sealfs:Private"))
        p = run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", self.v.mnt])
        self.assertEqual(p.stdout.split(), ["sealfs:Private", "fuse.sealfs"])
        run(["umount", self.v.mnt])
        self.assertIsNone(mount_type(self.v.mnt))

    def check_gio(self, source):
        """GIO sees the mount: its unix mount entry carries the source, and
        gio info -f gives the file system's size as statvfs does."""
        code = ("import sys\nfrom gi.repository import Gio\n"
                "m = Gio.unix_mount_at(sys.argv[1])[0]\n"
                "print(Gio.unix_mount_get_device_path(m)); print(Gio.unix_mount_get_fs_type(m))")
        p = subprocess.run([PY, "-c", code, self.v.mnt], capture_output=True, text=True,
                           timeout=30)
        if p.returncode == 0:
            self.assertEqual(p.stdout.splitlines(), [source, "fuse.sealfs"])
        if shutil.which("gio"):
            out = run(["gio", "info", "-f", self.v.mnt]).stdout
            st = os.statvfs(self.v.mnt)
            self.assertIn("filesystem::size: %d" % (st.f_blocks * st.f_frsize), out)


class NotifyTest(unittest.TestCase):
    """sd_notify: READY=1 once mounted, STATUS=, STOPPING=1 on SIGTERM."""

    def test_notify(self):
        v = Vault("notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            v.init()
            path = os.path.join(v.root, "notify")
            sock.bind(path)
            sock.settimeout(20)
            env = dict(os.environ, NOTIFY_SOCKET=path)
            p = subprocess.Popen([SEALFS, "mount", "-f", v.store, v.mnt, "--cache", v.cache,
                                  "--passphrase-file", v.passfile, "--lock-on", "none"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=env)
            msg = sock.recv(4096).decode()
            self.assertIn("READY=1", msg)
            self.assertEqual(mount_type(v.mnt), "fuse.sealfs", "READY=1 before the mount")
            with open(os.path.join(v.mnt, "f"), "w") as f:
                f.write("x")
            msg = sock.recv(4096).decode()  # a tick, within LOCK_BUS_TICK_MS
            self.assertTrue(msg.startswith("STATUS=mounted;"), msg)
            p.send_signal(signal.SIGTERM)
            msgs = []
            while "STOPPING=1" not in "".join(msgs):
                msgs.append(sock.recv(4096).decode())
            self.assertEqual(p.wait(60), 0)
            self.assertIsNone(mount_type(v.mnt))
        finally:
            sock.close()
            v.cleanup()


class KeyringTest(unittest.TestCase):
    """sealfs keyring add, then mount --keyring, against a real
    gnome-keyring-daemon on a private session bus."""

    @staticmethod
    def wait_secret_service(env):
        """Until the unlocked daemon owns org.freedesktop.secrets: a lookup
        before that makes the bus start a second, locked one (which then
        fails to prompt), whatever sealfs does."""
        if not shutil.which("dbus-send"):
            time.sleep(2)
            return
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            p = subprocess.run(["dbus-send", "--session", "--print-reply",
                                "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus.NameHasOwner",
                                "string:org.freedesktop.secrets"],
                               env=env, capture_output=True, text=True, timeout=10)
            if "boolean true" in p.stdout:
                return
            time.sleep(0.1)

    def test_keyring(self):
        if not shutil.which("gnome-keyring-daemon") or not shutil.which("dbus-daemon"):
            self.skipTest("gnome-keyring-daemon or dbus-daemon is not installed")
        v = Vault("keyring")
        procs = []
        try:
            v.init()
            home = os.path.join(v.root, "home")
            rt = os.path.join(home, "run")
            os.makedirs(rt, 0o700)
            env = dict(os.environ, HOME=home, XDG_DATA_HOME=os.path.join(home, "data"),
                       XDG_RUNTIME_DIR=rt)
            bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nosyslog",
                                    "--print-address=1"], stdout=subprocess.PIPE, text=True,
                                   env=env)
            procs.append(bus)
            env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
            gk = subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--unlock",
                                   "--components=secrets"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            procs.append(gk)
            gk.stdin.write(b"keyring-test-password")
            gk.stdin.close()
            self.wait_secret_service(env)
            # No item yet: mount --keyring fails with the hint, mounts nothing.
            p = run([SEALFS, "mount", v.store, v.mnt, "--cache", v.cache, "--keyring"],
                    check=False, env=env, timeout=60)
            if "Secret" in p.stderr and "not provided" in p.stderr:
                self.skipTest("gnome-keyring-daemon did not start here: " + p.stderr)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("keyring add", p.stderr)
            run([SEALFS, "keyring", "add", v.store, "--passphrase-file", v.passfile], env=env,
                timeout=60)
            p = run([SEALFS, "mount", v.store, v.mnt, "--cache", v.cache, "--keyring",
                     "--lock-on", "none"], env=env, timeout=60)
            self.assertEqual(mount_type(v.mnt), "fuse.sealfs")
            # The Secret Service lookup (GLib threads) happened in a child:
            # sealfs mount still had a single thread when it forked.
            self.assertNotIn("threads alive at the fork", p.stderr)
            sealfs("unmount", v.mnt)
            # A wrong passphrase is refused before it reaches the keyring.
            bad = os.path.join(v.root, "bad")
            with open(bad, "w") as f:
                f.write("wrong\n")
            p = run([SEALFS, "keyring", "add", v.store, "--passphrase-file", bad], check=False,
                    env=env, timeout=60)
            self.assertEqual(p.returncode, 10)
        finally:
            for p in reversed(procs):
                if p.poll() is None:
                    p.terminate()
                    p.wait(10)
                if p.stdout:
                    p.stdout.close()
            v.cleanup()


class UnitTest(unittest.TestCase):
    """systemd-analyze verify of the installed user unit."""

    def test_verify(self):
        if not UNIT:
            self.skipTest("SEALFS_UNIT not set (run through meson)")
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed (package systemd)")
        with tempfile.TemporaryDirectory() as d:
            rt = os.path.join(d, "run")
            os.mkdir(rt, 0o700)
            with open(UNIT) as f:
                text = f.read()
            # ExecStart must exist for verify: point it at the built binary.
            exec_line = [l for l in text.splitlines() if l.startswith("ExecStart=")][0]
            text = text.replace(exec_line.split()[0], "ExecStart=" + SEALFS)
            unit = os.path.join(d, "sealfs@Private.service")
            with open(unit, "w") as f:
                f.write(text)
            env = dict(os.environ, XDG_RUNTIME_DIR=rt)
            p = subprocess.run(["systemd-analyze", "--user", "verify", unit],
                               capture_output=True, text=True, timeout=60, env=env)
            if "Failed to initialize manager" in p.stderr or "Failed to connect" in p.stderr:
                self.skipTest("systemd-analyze cannot run here: " + p.stderr.strip())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr, "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
