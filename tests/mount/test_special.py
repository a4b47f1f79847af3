"""FIFOs, UNIX sockets and device nodes on a sealfs mount (docs/DESIGN-FORMAT-2.md,
section 7): a format-1 vault refuses them with EPERM and logs once that
`sealfs upgrade` converts it; a format-2 vault stores them (type, mode, rdev),
lists and stats them, and the kernel does their I/O."""

import errno
import json
import os
import shutil
import socket
import stat
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st
from sealfstest.devices import Device


GOLDEN1 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "crypto",
                       "golden-aes256gcm")


def format1_vault(tag):
    """A vault whose store is a copy of the format-1 golden vault
    (tests/data/crypto/README.md: its passphrase and tree)."""
    v = st.Vault(tag)
    shutil.copytree(GOLDEN1, v.store)
    with open(v.passfile, "w") as f:
        f.write("sealfs golden vault\n")
    v.passphrase = "sealfs golden vault"
    return v


def refusal(fn):
    """The errno fn raised (None when it did not fail)."""
    try:
        fn()
    except OSError as e:
        return e.errno
    return None


class Format1Refuses(unittest.TestCase):
    """A format-1 vault has no entry type for them: EPERM, one log line."""

    def setUp(self):
        self.v = format1_vault("special1")
        self.dev = Device(self.v, "a")
        self.dev.mount()

    def tearDown(self):
        try:
            self.dev.unmount()
        finally:
            self.v.cleanup()

    def test_eperm_and_one_log_line_naming_upgrade(self):
        p = self.dev.path
        self.assertEqual(refusal(lambda: os.mkfifo(p("fifo"))), errno.EPERM)
        self.assertEqual(refusal(lambda: os.mkfifo(p("fifo2"))), errno.EPERM)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.assertEqual(refusal(lambda: s.bind(p("sock"))), errno.EPERM)
        finally:
            s.close()
        if os.geteuid() == 0:
            self.assertEqual(refusal(lambda: os.mknod(p("chr"), 0o600 | stat.S_IFCHR,
                                                      os.makedev(1, 3))), errno.EPERM)
        self.assertEqual(sorted(os.listdir(self.dev.mnt)), ["big.bin", "docs", "hello.txt", "link"])
        # Regular files through mknod still work.
        os.mknod(p("regular"), 0o600 | stat.S_IFREG)
        self.assertTrue(stat.S_ISREG(os.stat(p("regular")).st_mode))
        self.dev.unmount()
        lines = [ln for ln in self.dev.log_text().splitlines() if "sealfs upgrade" in ln]
        self.assertEqual(len(lines), 1, self.dev.log_text())
        self.assertIn("format 1", lines[0])


NOBODY = 65534


def mount_options(path):
    """The per-mount options of the mount at path (mountinfo's sixth field)."""
    real = os.path.realpath(path)
    opts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4] == real:
                opts = parts[5].split(",")
    return opts


def in_child(fn):
    """Runs fn() in a forked child; its exit status (0: fn returned)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fn()
            code = 0
        finally:
            os._exit(code)
    return pid


def wait_ok(pid):
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


class Format2Stores(st.VaultTestCase):
    """A vault of format 2 or newer (init writes 3) stores them as sealed entries."""

    tag = "special2"
    mount_args = ("-o", "allow_other,default_permissions")

    def remount(self):
        self.v.unmount()
        self.v.mount(*self.mount_args)

    def test_vault_is_format_3(self):
        with open(os.path.join(self.v.store, "sealfs.json")) as f:
            self.assertEqual(json.load(f)["format"], 3)

    def test_fifo_carries_data_between_a_writer_and_a_reader(self):
        p = self.v.path("pipe-fifo")
        os.mkfifo(p, 0o640)
        s = os.lstat(p)
        self.assertTrue(stat.S_ISFIFO(s.st_mode))
        self.assertEqual(stat.S_IMODE(s.st_mode), 0o640)
        self.assertEqual((s.st_size, s.st_nlink), (0, 1))
        payload = os.urandom(200000)  # more than a pipe buffer: both must run

        def writer():
            with open(p, "wb") as f:
                f.write(payload)
        pid = in_child(writer)
        with open(p, "rb") as f:
            got = f.read()
        self.assertTrue(wait_ok(pid))
        self.assertEqual(got, payload)
        os.unlink(p)
        self.assertFalse(os.path.lexists(p))

    def test_unix_socket_binds_and_connects(self):
        p = self.v.path("listen-sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            srv.bind(p)
            srv.listen(1)
            self.assertTrue(stat.S_ISSOCK(os.lstat(p).st_mode))
            cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            cli.settimeout(10)
            cli.connect(p)
            conn, _ = srv.accept()
            cli.sendall(b"through the vault")
            self.assertEqual(conn.recv(100), b"through the vault")
            conn.close()
            cli.close()
            # A second bind to the name fails as on any file system.
            other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.assertEqual(refusal(lambda: other.bind(p)), errno.EADDRINUSE)
            other.close()
        finally:
            srv.close()
        os.unlink(p)

    @unittest.skipUnless(os.geteuid() == 0, "device nodes need CAP_MKNOD")
    def test_devices_keep_type_mode_rdev_and_all_survive_remount(self):
        d = self.v.path("special-dir")
        os.mkdir(d)
        big = os.makedev(4095, 1048575)  # the largest the kernel passes to FUSE
        old_umask = os.umask(0)
        self.addCleanup(os.umask, old_umask)
        os.mknod(os.path.join(d, "chr-null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.mknod(os.path.join(d, "blk-dev"), 0o600 | stat.S_IFBLK, big)
        os.mkfifo(os.path.join(d, "kept-fifo"), 0o600)
        os.mknod(os.path.join(d, "kept-sock"), 0o644 | stat.S_IFSOCK)
        os.chown(os.path.join(d, "kept-fifo"), 1234, 5678)
        os.chmod(os.path.join(d, "kept-sock"), 0o600)
        want = {
            "chr-null": (stat.S_IFCHR, 0o666, os.makedev(1, 3)),
            "blk-dev": (stat.S_IFBLK, 0o600, big),
            "kept-fifo": (stat.S_IFIFO, 0o600, 0),
            "kept-sock": (stat.S_IFSOCK, 0o600, 0),
        }

        def check():
            with os.scandir(d) as it:  # readdir's d_type, then lstat
                ents = list(it)
            for e in ents:
                s = e.stat(follow_symlinks=False)
                kind, mode, rdev = want[e.name]
                self.assertEqual((stat.S_IFMT(s.st_mode), stat.S_IMODE(s.st_mode),
                                  s.st_rdev), (kind, mode, rdev), e.name)
                self.assertEqual(e.is_file(), False)
            self.assertEqual(sorted(os.listdir(d)), sorted(want))
            self.assertEqual(os.lstat(os.path.join(d, "kept-fifo")).st_uid, 1234)
        check()
        self.remount()
        check()
        # The directory sealed again from its loaded entries.
        open(os.path.join(d, "passing-file"), "wb").close()
        os.unlink(os.path.join(d, "passing-file"))
        self.v.unmount()  # fsck reads the special entries without complaint
        st.sealfs("fsck", self.v.store, "--passphrase-file", self.v.passfile)
        self.v.mount(*self.mount_args)
        check()
        # A mount is nodev (README, Limits): the node is stored, not usable.
        self.assertIn("nodev", mount_options(self.v.mnt))
        self.assertEqual(refusal(lambda: open(os.path.join(d, "chr-null"), "wb")), errno.EACCES)
        shutil.rmtree(d)

    def test_mknod_of_a_device_needs_cap_mknod(self):
        why = st.missing_user_switch(NOBODY, NOBODY)
        if why:
            self.skipTest(why)
        d = self.v.path("open-dir")
        os.mkdir(d)
        os.chmod(d, 0o777)
        os.chmod(self.v.root, 0o711)  # mkdtemp's 0700: nobody must reach the mount
        os.chmod(self.v.mnt, 0o755)
        py = ("import os, stat, sys\n"
              "p = sys.argv[1]\n"
              "try:\n"
              "    os.mknod(p + '/dev-by-nobody', 0o600 | stat.S_IFCHR, os.makedev(1, 3))\n"
              "except PermissionError:\n"
              "    pass\n"
              "else:\n"
              "    sys.exit('mknod of a device worked without CAP_MKNOD')\n"
              "os.mkfifo(p + '/fifo-by-nobody')\n")
        st.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                "/usr/bin/python3", "-c", py, d])
        self.assertEqual(os.listdir(d), ["fifo-by-nobody"])
        self.assertEqual(os.lstat(os.path.join(d, "fifo-by-nobody")).st_uid, NOBODY)
        shutil.rmtree(d)
        os.chmod(self.v.root, 0o700)


if __name__ == "__main__":
    st.main()
