"""test_local.py - the attackers on the machine itself: a thief of the locked
(unmounted) laptop, another local user while the vault is mounted, and what a
running daemon exposes (argv, environment, core dumps, dumpability, the
passphrase in its memory). Claims in docs/SECURITY.md, "A thief of the
laptop", "Another local user" and "Key handling". Needs root (setpriv to
other ids, reading /proc/PID/mem).
"""

import errno
import os
import re
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st, security as su

NOBODY = 65534
SLOW_COMMITS = ["--commit-delay", "600000"]


def fill(v):
    """Known names, contents, an xattr and a link in v's mount; returns file paths."""
    names = [v.marker("dirname"), v.marker("filename"), v.marker("linkname")]
    os.mkdir(v.path(names[0]))
    p = v.path(names[0], names[1])
    with open(p, "w") as f:
        f.write((v.marker("content") + "\n") * 1000)
    os.setxattr(p, "user." + v.marker("xname"), v.marker("xvalue").encode())
    os.symlink("/" + v.marker("target"), v.path(names[2]))
    return p


def needs_nobody(cls):
    """Root, and programs can run as nobody (setpriv)."""
    why = st.missing_user_switch(NOBODY, NOBODY)
    return unittest.skipIf(why, why)(cls)


class ThiefWhileLocked(unittest.TestCase):
    """After `sealfs unmount`: what is left on the disk holds no plaintext and
    no key material, and nothing runs that holds keys."""

    def setUp(self):
        self.v = st.Vault("sec-thief")

    def tearDown(self):
        self.v.cleanup()

    def test_unmounted_vault_leaves_no_plaintext_or_key_material(self):
        v = self.v
        v.init()
        v.mount(*SLOW_COMMITS)
        fill(v)
        pid = st.daemon_pid(v.mnt)
        pid_file = st.pid_file(v.mnt)
        self.assertTrue(st.process_alive(pid))
        v.unmount()
        # nothing runs, nothing is mounted, the pid file is gone
        self.assertFalse(st.process_alive(pid), "the daemon outlived the unmount")
        self.assertFalse(v.is_mounted())
        self.assertFalse(os.path.exists(pid_file))
        self.assertEqual(os.listdir(v.mnt), [])
        # every secret, in raw, hex and base64 forms
        keys = su.VaultKeys(v.store, v.recovery_key)
        tree = su.Tree(v.store, keys)
        needles = []
        for m in v.markers:
            needles += su.forms(m)
        for text in (v.passphrase, v.recovery_key, v.recovery_key.replace("-", ""),
                     v.recovery_key.lower()):
            needles += su.forms(text)
        secrets = keys.secrets() + [
            ("file key", su.file_key(keys, bytes.fromhex(e["id"])))
            for e in tree.entries.values() if e["t"] == "f"] + [
            ("segment key", k) for p, e in tree.entries.items() if e["t"] == "f"
            for k in tree.segment_keys(p)]
        self.assertGreaterEqual(len(secrets), 7)
        for _, k in secrets:
            needles += su.forms(k)
        hits = su.scan([v.store, v.cache], needles)
        self.assertEqual(hits, [], "plaintext or key material on disk after unmount")
        # control: the scan does find a key that is really there (the wrapped key)
        wrapped = bytes.fromhex(keys.cfg["keyslots"][0]["wrapped"])
        self.assertEqual(len(su.scan([v.store], su.forms(wrapped)[1:2])), 1)
        nonce = su.read_file(os.path.join(v.store, "head"))[:24]  # raw bytes, any value
        self.assertEqual(su.scan([v.store], [nonce]), [(nonce, os.path.join(v.store, "head"))])


@needs_nobody
class AnotherLocalUser(unittest.TestCase):
    """A mount without allow_other, its cache, pid file and process, seen by
    user nobody (65534)."""

    @classmethod
    def setUpClass(cls):
        cls.v = v = st.Vault("sec-user")
        old = os.umask(0)  # the modes below must not come from the umask
        try:
            os.chmod(v.root, 0o755)  # nobody may walk to the mountpoint
            v.init()
            cls.before = su.run_as(NOBODY, NOBODY, ["ls", "-a", v.mnt])
            v.mount(*SLOW_COMMITS)
            cls.file = fill(v)
            os.chmod(cls.file, 0o644)
            with open(v.path("public.txt"), "w") as f:
                f.write("anyone may read this, by its mode\n")
            os.chmod(v.path("public.txt"), 0o644)
            os.mkdir(v.path("public-dir"), 0o777)
            with open(cls.file, "rb") as f:
                os.fsync(f.fileno())  # commit: objects in the cache, then the store
            if not st.wait_uploaded(v.cache):
                raise AssertionError("the uploader did not store the commit within 30 s")
            cls.pid = st.daemon_pid(v.mnt)
        except BaseException:
            v.cleanup()
            raise
        finally:
            os.umask(old)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.v.unmount()
        finally:
            cls.v.cleanup()

    def nobody_errno(self, code):
        """Runs Python code as nobody; returns the errno it failed with (0: none)."""
        prog = ("import errno, os, sys\ntry:\n    %s\nexcept OSError as e:\n"
                "    print(e.errno); sys.exit(0)\nprint(0)\n" % code)
        r = su.run_as(NOBODY, NOBODY, [sys.executable, "-c", prog])
        self.assertEqual(r.returncode, 0, r.stderr)
        return int(r.stdout.strip())

    def test_other_users_get_eacces_on_the_mount(self):
        self.assertEqual(self.before.returncode, 0, "control: nobody could not list the "
                         "empty mountpoint before the mount: " + self.before.stderr)
        mnt = self.v.mnt
        for what, code in (
                ("list the root", "os.listdir(%r)" % mnt),
                ("stat the root", "os.stat(%r)" % mnt),
                ("read a 0644 file", "open(%r, 'rb').read()" % self.v.path("public.txt")),
                ("create in a 0777 dir", "open(%r, 'w')" % self.v.path("public-dir", "x")),
                ("read xattrs", "os.listxattr(%r)" % self.file)):
            with self.subTest(what):
                self.assertEqual(self.nobody_errno(code), errno.EACCES)
        r = su.run_as(NOBODY, NOBODY, ["ls", mnt])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Permission denied", r.stderr)
        # root (the owner here) still reads it
        self.assertEqual(len(os.listdir(mnt)), 4)

    def test_cache_store_and_pid_file_are_private(self):
        v = self.v
        for top in (v.cache, v.store):
            n_files = 0
            for dirpath, dirnames, filenames in os.walk(top):
                mode = stat.S_IMODE(os.stat(dirpath).st_mode)
                self.assertEqual(mode, 0o700, "%s is %o" % (dirpath, mode))
                for name in filenames:
                    p = os.path.join(dirpath, name)
                    mode = stat.S_IMODE(os.lstat(p).st_mode)
                    self.assertEqual(mode, 0o600, "%s is %o" % (p, mode))
                    n_files += 1
            self.assertGreater(n_files, 3, top)
        self.assertEqual(self.nobody_errno("os.listdir(%r)" % v.cache), errno.EACCES)
        pid_file = st.pid_file(v.mnt)
        self.assertEqual(stat.S_IMODE(os.stat(pid_file).st_mode), 0o600)
        d = os.stat(os.path.dirname(pid_file))
        self.assertEqual((stat.S_IMODE(d.st_mode), d.st_uid), (0o700, os.geteuid()))

    def test_daemon_argv_environment_fds_and_core_limit(self):
        pw = self.v.passphrase.encode()
        cmdline = su.proc_read(self.pid, "cmdline")
        self.assertIn(b"mount", cmdline)  # control: this is the daemon
        self.assertNotIn(pw, cmdline)
        self.assertNotIn(pw, su.proc_read(self.pid, "environ"))
        fd_dir = "/proc/%d/fd" % self.pid
        targets = []
        for n in os.listdir(fd_dir):
            try:
                targets.append(os.readlink(os.path.join(fd_dir, n)))
            except FileNotFoundError:
                pass  # closed meanwhile (a worker thread's fd)
        self.assertNotIn(os.path.realpath(self.v.passfile), targets,
                         "the daemon keeps the passphrase file open")
        limits = su.proc_read(self.pid, "limits").decode()
        core = [l for l in limits.splitlines() if l.startswith("Max core file size")]
        self.assertEqual(core[0].split()[4:6], ["0", "0"], core)

    def test_daemon_memory_holds_keys_but_not_the_passphrase(self):
        """What root can read from a running daemon: the keys (needed to serve
        the mount), never the passphrase it was unlocked with."""
        keys = su.VaultKeys(self.v.store, self.v.recovery_key)
        pw = self.v.passphrase.encode()
        found = su.memory_contains(self.pid, [pw, keys.meta, keys.content, keys.master,
                                              keys.config, self.v.recovery_key.encode()])
        self.assertIn(keys.meta, found, "control: the metadata key was not found in the "
                      "daemon's memory, so the scan is broken")
        self.assertIn(keys.content, found, "control: the content key was not found")
        self.assertNotIn(pw, found, "the passphrase is still in the daemon's memory")
        self.assertNotIn(self.v.recovery_key.encode(), found)
        # Keys it does not use are wiped after the subkeys are derived.
        self.assertNotIn(keys.master, found, "the master key is in the daemon's memory")
        self.assertNotIn(keys.config, found, "the config MAC key is in the daemon's memory")


class NoPassphraseOnTheCommandLine(unittest.TestCase):
    """No option takes a passphrase or recovery key as its value: secrets come
    from a file, a command's output or the terminal. (getopt accepts
    abbreviations, so `--passphrase X` means `--passphrase-file X`: X is
    opened as a file, and without such a file nothing is created.)"""

    def test_no_option_takes_a_secret(self):
        allowed = {"--passphrase-file", "--new-passphrase-file", "--recovery-key-file",
                   "--extpass", "--keyring"}  # --keyring is a flag: it takes no value
        control = {"mount": "--cache", "recovery-key": "--passphrase-file"}
        for cmd in ("init", "mount", "passwd", "recover", "recovery-key"):
            text = st.sealfs(cmd, "--help", check=False).stdout
            opts = set(re.findall(r"--[a-z-]+", text))
            self.assertIn(control.get(cmd, "--kdf-memlimit"), opts,
                          "control: options not found in %s --help" % cmd)
            self.assertEqual({o for o in opts if re.search("pass|key|secret", o)} - allowed,
                             set(), "%s has an option taking a secret" % cmd)
        v = st.Vault("sec-argv")
        try:
            r = st.sealfs("init", v.store, "--passphrase", "pw-on-argv-" + v.passphrase,
                          check=False)
            self.assertEqual(r.returncode, st.EXIT_USAGE, r.stderr)
            self.assertFalse(os.path.exists(v.store))
        finally:
            v.cleanup()


@needs_nobody
class DaemonHygiene(unittest.TestCase):
    """Core dumps off and the daemon not dumpable. Dumpability is only visible
    from outside for a daemon that is not root: the kernel then makes its
    /proc/PID files root's and refuses its environment to its own user
    (control: a plain process of the same user). /dev/fuse is root's here, so
    the daemon runs as nobody in a private mount namespace over a private
    0666 copy of the fuse device node; the host's /dev/fuse is untouched.
    Skipped where there is no such namespace (st.missing_private_dev())."""

    def setUp(self):
        self.v = st.Vault("sec-dump")
        self.sleeper = None
        self.daemons = []  # pids of every daemon started, stopped in tearDown

    def tearDown(self):
        if self.sleeper:
            self.sleeper.kill()
            self.sleeper.wait()
        st.stop_daemons(self.daemons)  # their mounts live in namespaces of their own
        self.v.cleanup()

    def prepare_for_nobody(self):
        """Inits the vault and gives it (and a private fuse node) to nobody;
        skips before changing anything when the system cannot run the daemon
        as nobody over that node."""
        why = st.missing_private_dev()
        if why:
            self.skipTest(why)
        v = self.v
        v.init()
        self.run_dir = self.make_run_dir("run")
        self.node = st.private_fuse_node(v.root)
        for dirpath, dirnames, filenames in os.walk(v.root):
            for n in [dirpath] + [os.path.join(dirpath, f) for f in dirnames + filenames]:
                os.lchown(n, NOBODY, NOBODY)
        os.chmod(v.root, 0o755)

    def make_run_dir(self, name):
        """A new XDG_RUNTIME_DIR of nobody's under the vault's root."""
        d = os.path.join(self.v.root, name)
        os.mkdir(d, 0o700)
        os.chown(d, NOBODY, NOBODY)
        return d

    def mount_as_nobody(self, run_dir=None):
        v = self.v
        return st.run(st.with_dev_fuse(self.node, [
            "env", "XDG_RUNTIME_DIR=" + (run_dir or self.run_dir),
            "setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
            st.SEALFS, "mount", v.store, v.mnt, "--cache", v.cache,
            "--passphrase-file", v.passfile]), check=False)

    def note_daemons(self, run_dir):
        """Adds the pids of the daemons whose pid files are in run_dir to
        those tearDown stops; returns them."""
        pid_dir = os.path.join(run_dir, "sealfs")
        pids = []
        for name in os.listdir(pid_dir) if os.path.isdir(pid_dir) else []:
            with open(os.path.join(pid_dir, name)) as f:
                pids.append(int(f.read().split()[0]))  # "PID START\n"
        self.daemons += pids
        return pids

    def start_nobody_daemon(self):
        self.prepare_for_nobody()
        r = self.mount_as_nobody()
        pids = self.note_daemons(self.run_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(pids), 1, pids)
        self.pid = pids[0]
        return self.pid

    def start_sleeper(self):
        self.sleeper = subprocess.Popen(["setpriv", "--reuid=%d" % NOBODY,
                                         "--regid=%d" % NOBODY, "--clear-groups", "sleep", "60"])
        for _ in range(100):  # until setpriv has exec'ed sleep
            if su.proc_read(self.sleeper.pid, "comm").strip() == b"sleep":
                return self.sleeper.pid
            time.sleep(0.02)
        self.fail("sleep did not start")

    def environ_errno(self, pid):
        r = su.run_as(NOBODY, NOBODY, ["cat", "/proc/%d/environ" % pid])
        if r.returncode == 0:
            return 0
        return errno.EACCES if "Permission denied" in r.stderr else -1

    def test_daemon_has_no_core_dumps_and_is_not_dumpable(self):
        pid = self.start_nobody_daemon()
        status = su.proc_read(pid, "status").decode()
        self.assertIn("\nUid:\t%d\t%d\t%d\t%d\n" % ((NOBODY,) * 4), status)
        limits = su.proc_read(pid, "limits").decode()
        core = [l for l in limits.splitlines() if l.startswith("Max core file size")]
        self.assertEqual(core[0].split()[4:6], ["0", "0"], core)
        plain = self.start_sleeper()
        self.assertEqual(os.stat("/proc/%d/environ" % plain).st_uid, NOBODY, "control")
        self.assertEqual(self.environ_errno(plain), 0, "control: nobody reads its own process")
        self.assertEqual(os.stat("/proc/%d/environ" % pid).st_uid, 0, "the daemon is dumpable")
        self.assertEqual(self.environ_errno(pid), errno.EACCES, "the daemon is dumpable")
        # its mount is its user's alone: even root is refused without allow_other
        # (-r: the daemon's root, which is not the namespace's in a chroot)
        r = st.run(["nsenter", "-t", str(pid), "-m", "-r", "ls", self.v.mnt], check=False)
        self.assertIn("Permission denied", r.stderr)
        r = st.run(["nsenter", "-t", str(pid), "-m", "-r", "setpriv", "--reuid=%d" % NOBODY,
                    "--regid=%d" % NOBODY, "--clear-groups", "ls", "-a", self.v.mnt],
                   check=False)
        self.assertEqual(r.returncode, 0, "control: the owner lists the mount: " + r.stderr)

    def test_pid_directory_not_owned_by_the_user_is_refused(self):
        """Another user cannot pre-create (or point a symlink at) the directory
        where a mount leaves its pid file: the mount stops before unlocking."""
        self.prepare_for_nobody()
        elsewhere = self.make_run_dir("elsewhere")
        for n, (what, plant) in enumerate((
                ("a root-owned 0777 directory", lambda d: (os.mkdir(d), os.chmod(d, 0o777))),
                ("a symlink to the user's own directory",
                 lambda d: os.symlink(elsewhere, d)))):
            with self.subTest(what):
                run_dir = self.make_run_dir("run-%d" % n)  # each its own: nothing shared
                pid_dir = os.path.join(run_dir, "sealfs")
                plant(pid_dir)
                r = self.mount_as_nobody(run_dir)
                self.note_daemons(run_dir)  # none, unless the mount went ahead
                self.assertEqual(r.returncode, st.EXIT_OTHER, r.stderr)
                self.assertIn("runtime directory", r.stderr)
                self.assertEqual(os.listdir(elsewhere), [])
                if not os.path.islink(pid_dir):
                    self.assertEqual(os.listdir(pid_dir), [])


if __name__ == "__main__":
    st.main()
