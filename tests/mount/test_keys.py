"""Keys: the recovery key printed by init opens the vault after the passphrase
is forgotten, and recover then prints a new one (the used one stops
working); recovery-key replaces it with the passphrase; passwd switches
passphrases (old fails, new works); a wrong recovery key fails; --extpass works; a passwd killed at any moment leaves
exactly one of old/new working; the daemon runs with core dumps off."""

import os
import pty
import random
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st


def write_secret(path, text):
    with open(path, "w") as f:
        f.write(text + "\n")


def printed_recovery_keys(stdout):
    """The recovery keys in a command's output (as Vault.init finds them)."""
    return [s.strip() for s in stdout.splitlines()
            if s.strip().count("-") >= 5 and " " not in s.strip()]


class Keys(st.VaultTestCase):
    tag = "keys"

    def setUp(self):
        if self.v.is_mounted():
            self.v.unmount()

    def works(self, passfile):
        """Whether passfile's passphrase opens the vault (a real mount and unmount)."""
        p = st.sealfs("mount", self.v.store, self.v.mnt, "--cache", self.v.cache,
                      "--passphrase-file", passfile, check=False)
        if p.returncode == 0:
            self.v.unmount()
            return True
        self.assertEqual(p.returncode, st.EXIT_WRONG_KEY, p.stderr)
        self.assertEqual(p.stderr.strip(), "sealfs: wrong passphrase")
        return False

    def set_passphrase(self, text):
        write_secret(self.v.passfile, text)
        self.v.passphrase = text

    def test_recover_after_forgetting_the_passphrase(self):
        self.v.mount()
        marker = self.v.marker("recover")
        with open(self.v.path("kept.txt"), "w") as f:
            f.write(marker)
        self.v.unmount()
        forgotten = self.v.passphrase
        keyfile = os.path.join(self.v.root, "recovery")
        write_secret(keyfile, self.v.recovery_key.lower().replace("-", " "))
        newpass = os.path.join(self.v.root, "after-recovery")
        write_secret(newpass, "recovered-" + os.urandom(6).hex())
        p = st.sealfs("recover", self.v.store, "--recovery-key-file", keyfile,
                      "--new-passphrase-file", newpass, *st.FAST_KDF)
        self.assertNotIn(self.v.recovery_key, p.stdout + p.stderr)
        self.take_new_recovery_key(p.stdout, keyfile)
        self.assertTrue(self.works(newpass))
        old = os.path.join(self.v.root, "forgotten")
        write_secret(old, forgotten)
        self.assertFalse(self.works(old))
        with open(newpass) as f:
            self.set_passphrase(f.read().strip())
        self.v.mount()
        with open(self.v.path("kept.txt")) as f:
            self.assertEqual(f.read(), marker)
        self.v.unmount()

    def recover_with(self, keyfile, check=True):
        newpass = os.path.join(self.v.root, "pass-after-recover")
        write_secret(newpass, "again-" + os.urandom(6).hex())
        p = st.sealfs("recover", self.v.store, "--recovery-key-file", keyfile,
                      "--new-passphrase-file", newpass, *st.FAST_KDF, check=False)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(newpass) as f:
                self.set_passphrase(f.read().strip())
        return p

    def take_new_recovery_key(self, stdout, used_keyfile):
        """After recover or recovery-key: exactly one new key was printed, once;
        the one before it (in used_keyfile) now fails and changes nothing; the
        new one works, is stored nowhere, and becomes the vault's key."""
        keys = printed_recovery_keys(stdout)
        self.assertEqual(len(keys), 1, stdout)
        self.assertNotEqual(keys[0], self.v.recovery_key)
        self.assertIn("old recovery key no longer works", stdout)
        before = st.fingerprint(self.v.store)
        p = self.recover_with(used_keyfile, check=False)
        self.assertEqual(p.returncode, st.EXIT_WRONG_KEY, p.stderr)
        self.assertIn("wrong recovery key", p.stderr)
        self.assertEqual(st.fingerprint(self.v.store), before)
        self.assertEqual(st.scan_for([self.v.store, self.v.cache],
                                     [keys[0], keys[0].replace("-", "")]), [])
        self.v.recovery_key = keys[0]

    def test_recovery_key_command_replaces_the_key(self):
        old_key = os.path.join(self.v.root, "old-recovery")
        write_secret(old_key, self.v.recovery_key)
        wrong = os.path.join(self.v.root, "wrong-pass-rk")
        write_secret(wrong, "wrong")
        before = st.fingerprint(self.v.store)
        p = st.sealfs("recovery-key", self.v.store, "--passphrase-file", wrong, check=False)
        self.assertEqual(p.returncode, st.EXIT_WRONG_KEY, p.stderr)
        self.assertEqual(printed_recovery_keys(p.stdout), [])
        self.assertEqual(st.fingerprint(self.v.store), before)
        p = st.sealfs("recovery-key", self.v.store, "--passphrase-file", self.v.passfile)
        self.take_new_recovery_key(p.stdout, old_key)
        self.assertTrue(self.works(self.v.passfile))  # the passphrase is unchanged
        # The new key works: recover with it (and that issues yet another).
        new_key = os.path.join(self.v.root, "new-recovery")
        write_secret(new_key, self.v.recovery_key)
        p = self.recover_with(new_key)
        self.take_new_recovery_key(p.stdout, new_key)
        self.assertTrue(self.works(self.v.passfile))
        p = st.sealfs("recovery-key", self.v.store, "--new-passphrase-file", wrong,
                      check=False)
        self.assertEqual(p.returncode, st.EXIT_USAGE, p.stderr)

    def test_wrong_recovery_key_fails(self):
        before = st.fingerprint(self.v.store)
        newpass = os.path.join(self.v.root, "never-set")
        write_secret(newpass, "never-" + os.urandom(6).hex())
        key = list(self.v.recovery_key.replace("-", ""))
        key[3] = "Z" if key[3] != "Z" else "Y"
        for text in ("".join(key), "0000-0000-0000-0000-0000-0000-0000-0", "hello"):
            keyfile = os.path.join(self.v.root, "wrong-recovery")
            write_secret(keyfile, text)
            p = st.sealfs("recover", self.v.store, "--recovery-key-file", keyfile,
                          "--new-passphrase-file", newpass, *st.FAST_KDF, check=False)
            self.assertEqual(p.returncode, st.EXIT_WRONG_KEY, p.stderr)
            self.assertIn("wrong recovery key", p.stderr)
        self.assertEqual(st.fingerprint(self.v.store), before)
        self.assertFalse(self.works(newpass))

    def test_passwd_old_fails_new_works(self):
        old = os.path.join(self.v.root, "old-pass")
        write_secret(old, self.v.passphrase)
        new = os.path.join(self.v.root, "new-pass")
        write_secret(new, "new-" + os.urandom(6).hex())
        wrong = os.path.join(self.v.root, "wrong-pass")
        write_secret(wrong, "wrong")
        p = st.sealfs("passwd", self.v.store, "--passphrase-file", wrong,
                      "--new-passphrase-file", new, *st.FAST_KDF, check=False)
        self.assertEqual(p.returncode, st.EXIT_WRONG_KEY)
        st.sealfs("passwd", self.v.store, "--passphrase-file", old, "--new-passphrase-file", new,
                  *st.FAST_KDF)
        self.assertFalse(self.works(old))
        self.assertTrue(self.works(new))
        with open(new) as f:
            self.set_passphrase(f.read().strip())

    def test_extpass(self):
        p = st.sealfs("mount", self.v.store, self.v.mnt, "--cache", self.v.cache,
                      "--extpass", "cat '%s'" % self.v.passfile)
        self.assertEqual(p.returncode, 0)
        self.v.unmount()
        p = st.sealfs("mount", self.v.store, self.v.mnt, "--cache", self.v.cache,
                      "--extpass", "echo wrong-one", check=False)
        self.assertEqual(p.returncode, st.EXIT_WRONG_KEY)
        p = st.sealfs("mount", self.v.store, self.v.mnt, "--cache", self.v.cache,
                      "--extpass", "exit 3", check=False)
        self.assertEqual(p.returncode, st.EXIT_USAGE)
        self.assertIn("extpass command failed", p.stderr)
        self.assertFalse(self.v.is_mounted())

    def test_passwd_killed_at_random_points_leaves_one_working(self):
        rng = random.Random(int(os.environ.get("SEALFS_TEST_SEED", "0")) or None)
        seed = rng.randrange(1 << 30)
        rng = random.Random(seed)
        st.log("passwd crash seed %d" % seed)
        cur = os.path.join(self.v.root, "crash-cur")
        nxt = os.path.join(self.v.root, "crash-next")
        write_secret(cur, self.v.passphrase)
        checked = {"old": 0, "new": 0}
        for i in range(25):
            write_secret(nxt, "crash-%d-%s" % (i, os.urandom(4).hex()))
            proc = subprocess.Popen([st.SEALFS, "passwd", self.v.store, "--passphrase-file", cur,
                                     "--new-passphrase-file", nxt] + st.FAST_KDF,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, 0.06))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            old_ok = self.passwd_works(cur)
            new_ok = self.passwd_works(nxt)
            self.assertTrue(old_ok != new_ok, "round %d: old works %s, new works %s"
                            % (i, old_ok, new_ok))
            if new_ok:
                checked["new"] += 1
                os.replace(nxt, cur)
            else:
                checked["old"] += 1
        st.log("passwd crash outcomes: %r" % checked)
        with open(cur) as f:
            self.set_passphrase(f.read().strip())
        self.assertTrue(self.works(self.v.passfile))

    def passwd_works(self, passfile):
        """Whether passfile unlocks the vault, checked without a mount: a passwd
        to the same passphrase (which rewrites the config with it)."""
        p = st.sealfs("passwd", self.v.store, "--passphrase-file", passfile,
                      "--new-passphrase-file", passfile, *st.FAST_KDF, check=False)
        if p.returncode not in (0, st.EXIT_WRONG_KEY):
            raise AssertionError("passwd exited %d: %s" % (p.returncode, p.stderr))
        return p.returncode == 0

    def test_daemon_has_core_dumps_off(self):
        self.v.mount()
        pid = st.daemon_pid(self.v.mnt)
        with open("/proc/%d/limits" % pid) as f:
            line = [x for x in f if x.startswith("Max core file size")][0]
        self.assertEqual(line.split()[4:6], ["0", "0"], line)
        with open("/proc/%d/comm" % pid) as f:
            self.assertEqual(f.read().strip(), "sealfs")
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        self.assertEqual(int(fields[3]), pid, "daemon is not a session leader (no setsid)")
        self.assertNotEqual(int(fields[1]), os.getpid())
        self.v.unmount()
        self.assertFalse(st.process_alive(pid), "daemon still running after unmount")

    def on_tty(self, args, answers):
        """Runs sealfs on a new pseudo-terminal, typing each answer after its
        prompt; returns (exit code, everything the terminal showed)."""
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(st.SEALFS, [st.SEALFS] + args)
        shown = b""

        def more():
            if not select.select([fd], [], [], 30)[0]:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError("sealfs stuck on the terminal; it showed %r" % shown)
            try:
                return os.read(fd, 4096)
            except OSError:  # EIO: the other side is closed
                return b""
        try:
            for prompt, answer in answers:
                while prompt.encode() not in shown:
                    chunk = more()
                    self.assertTrue(chunk, "no prompt %r, got %r" % (prompt, shown))
                    shown += chunk
                shown = shown.replace(prompt.encode(), b"<" + prompt.encode() + b">", 1)
                os.write(fd, answer.encode() + b"\n")
            while True:
                chunk = more()
                if not chunk:
                    break
                shown += chunk
        finally:
            try:
                _, status = os.waitpid(pid, 0)
            finally:
                os.close(fd)
        return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")

    def test_terminal_prompts_do_not_echo(self):
        store = os.path.join(self.v.root, "tty-store")
        secret = "typed-" + os.urandom(6).hex()
        code, shown = self.on_tty(["init", store] + st.FAST_KDF,
                                  [("New passphrase: ", secret), ("Repeat to confirm: ", secret)])
        self.assertEqual(code, 0, shown)
        self.assertNotIn(secret, shown)
        self.assertIn("recovery key", shown)
        code, shown = self.on_tty(["passwd", store] + st.FAST_KDF,
                                  [("Current passphrase: ", secret),
                                   ("New passphrase: ", "a-" + secret),
                                   ("Repeat to confirm: ", "b-" + secret)])
        self.assertEqual(code, st.EXIT_USAGE, shown)
        self.assertIn("passphrases do not match", shown)
        self.assertNotIn(secret, shown)
        code, shown = self.on_tty(["mount", store, self.v.mnt, "--cache",
                                   os.path.join(self.v.root, "tty-cache")],
                                  [("Passphrase: ", secret)])
        self.assertEqual(code, 0, shown)
        self.assertNotIn(secret, shown)
        self.assertEqual(st.mount_type(self.v.mnt), "fuse.sealfs")
        self.v.unmount()

    def test_init_prints_recovery_key_once_and_stores_it_nowhere(self):
        self.assertRegex(self.v.recovery_key, r"^[0-9A-Z]{4}(-[0-9A-Z]{1,4})+$")
        key = self.v.recovery_key
        hits = st.scan_for([self.v.store, self.v.cache], [key, key.replace("-", "")])
        self.assertEqual(hits, [])


if __name__ == "__main__":
    st.main()
