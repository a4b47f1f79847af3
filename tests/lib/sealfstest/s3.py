"""sealfstest.s3 - shared helpers for the mount tests against a real S3
server on loopback: a throw-away s3rver (the patched test copy that
tests/s3/s3rver.sh installs, SigV4 checked) that can be killed and restarted
on the same port and data directory, the fault proxy of tests/s3, the AWS_*
environment that points sealfs at them, and an S3 vault (tests/mount's Vault
with an s3:// store) whose leak scan reads s3rver's on-disk bucket.

Never binds anything but 127.0.0.1, never touches a process it did not start,
and never leaves a server, proxy or mount behind: every test stops them in a
finally / tearDown. Standard library only; run with Debian's /usr/bin/python3.
"""

import atexit
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from . import mount as st

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))

S3_DIR = os.path.join(REPO, "tests", "s3")
S3RVER_SH = os.path.join(S3_DIR, "s3rver.sh")
S3RVER_JS = os.path.join(S3_DIR, "node_modules", "s3rver", "bin", "s3rver.js")
FAULTPROXY = os.path.join(S3_DIR, "faultproxy.py")
BUCKET = "sealfs-test"  # the bucket s3rver.sh's servers configure
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
SKIP = 77  # meson: test skipped
SERVER_MAX_SECONDS = 900  # `timeout` bounds a server's life should every cleanup be skipped
# s3rver logs each request as koa-logger's coloured line less its first 16
# characters, the colour codes around "-->"; without colour (a file is no
# terminal) that cut took the method and the path's start instead. So its log
# is coloured, and tail() takes the colour out.
SERVER_COLOR = "1"
MIB = 1024 * 1024
FAT_FILES, FAT_XATTRS, FAT_XATTR_BYTES = 16, 10, 60000  # about 13 MB of sealed JSON

log = st.log


# Everything started and not yet stopped, for the exit handler: vaults
# (unmounted first), then proxies and servers, then temporary roots.
_live = {"vaults": [], "proxies": [], "servers": [], "roots": []}


def _cleanup_at_exit():
    for v in list(_live["vaults"]):
        v.cleanup()
    for p in list(_live["proxies"]):
        p.stop()
    for s in list(_live["servers"]):
        s.stop()
    for r in list(_live["roots"]):
        shutil.rmtree(r, ignore_errors=True)


def _on_sigterm(signum, frame):
    """The test runner's SIGTERM (a timeout) interrupts the test like Ctrl-C:
    its finally blocks run, unittest stops, the exit handler stops what is
    left. A second TERM is ignored."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt("SIGTERM")


atexit.register(_cleanup_at_exit)
signal.signal(signal.SIGTERM, _on_sigterm)


def require_s3rver():
    """Installs (once) and patches s3rver via tests/s3/s3rver.sh; exits 77
    (skip) when node is missing, fails when the install fails. Called first
    in a set-up, before anything is started: the skip ends the process with
    os._exit, as unittest takes sys.exit in setUp for the test's error (and
    the program then exited 1, not 77)."""
    if not shutil.which("node"):
        log("SKIP: node is not installed (apt-get install nodejs npm)")
        os._exit(SKIP)
    p = subprocess.run([S3RVER_SH, "install"], capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0 or not os.path.exists(S3RVER_JS):
        log("s3rver.sh install failed (%d): %s" % (p.returncode, p.stderr.strip()))
        sys.exit(1)


def tmp_root(tag):
    os.makedirs(st.BASE, exist_ok=True)
    root = tempfile.mkdtemp(prefix="sealfs-s3m-%s-" % tag, dir=st.BASE)
    _live["roots"].append(root)
    return root


class S3rver:
    """One s3rver process with its data in DIR/data and its log in DIR/log.
    start(port) may be called again after stop() with the same port: the
    bucket and its objects survive in DIR/data."""

    def __init__(self, root):
        self.dir = os.path.join(root, "s3rver")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "log")
        self.proc = None
        self.port = None
        os.makedirs(self.data, exist_ok=True)

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def bucket_dir(self, prefix=""):
        return os.path.join(self.data, BUCKET, prefix)

    def start(self, port=0, wait=20):
        offset = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        _live["servers"].append(self)
        with open(self.log, "ab") as logf:
            # its own process group, so stop() reaches node under `timeout`
            self.proc = subprocess.Popen(
                ["timeout", str(SERVER_MAX_SECONDS), "node", S3RVER_JS, "-d", self.data,
                 "-a", "127.0.0.1", "-p", str(port), "--configure-bucket", BUCKET],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                start_new_session=True, env=dict(os.environ, FORCE_COLOR=SERVER_COLOR))
        deadline = time.monotonic() + wait
        pat = re.compile(rb"S3rver listening on 127\.0\.0\.1:(\d+)")
        while time.monotonic() < deadline:
            with open(self.log, "rb") as f:
                f.seek(offset)
                m = pat.search(f.read())
            if m:
                self.port = int(m.group(1))
                return self.port
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        with open(self.log, "rb") as f:
            f.seek(offset)
            tail = f.read()[-2000:].decode(errors="replace")
        raise AssertionError("s3rver did not start on port %d:\n%s" % (port, tail))

    def stop(self, sig=signal.SIGTERM):
        """Stops the server this object started (its process group); the data stays."""
        p, self.proc = self.proc, None
        if self in _live["servers"]:
            _live["servers"].remove(self)
        if p is None:
            return
        for s in (sig, signal.SIGKILL):
            try:
                os.killpg(p.pid, s)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                continue

    def tail(self, n=40):
        """The last n lines of the server's log (its own, over every start),
        without the colour codes s3rver's logger writes."""
        try:
            with open(self.log, "rb") as f:
                lines = _ANSI.sub("", f.read().decode(errors="replace")).splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def use_endpoint(endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, root=None):
    """Points every sealfs started from now on (and its daemon) at endpoint,
    with nothing from the developer's own AWS setup."""
    for k in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
              "AWS_CA_BUNDLE"):
        os.environ.pop(k, None)
    nowhere = os.path.join(root or tempfile.gettempdir(), "no-such-aws-file")
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_CONFIG_FILE": nowhere,
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
    })


def free_port():
    """A port on 127.0.0.1 with nothing listening (it was free a moment ago)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class FaultProxy:
    """tests/s3/faultproxy.py in front of 127.0.0.1:upstream with a schedule."""

    def __init__(self, upstream, schedule, logfile, port=0):
        self.logfile = logfile
        self.proc = subprocess.Popen(
            [sys.executable, FAULTPROXY, "--upstream", str(upstream), "--schedule", schedule,
             "--log", logfile, "--max-seconds", "600", "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        _live["proxies"].append(self)
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            self.stop()
            raise AssertionError("faultproxy did not start: %r" % line)
        self.port = int(line)

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def modes(self):
        """How many requests each mode handled so far."""
        counts = {}
        try:
            with open(self.logfile) as f:
                for line in f:
                    mode = line.split(" ", 1)[0]
                    counts[mode] = counts.get(mode, 0) + 1
        except FileNotFoundError:
            pass
        return counts

    def stop(self):
        p, self.proc = self.proc, None
        if self in _live["proxies"]:
            _live["proxies"].remove(self)
        if p is None:
            return
        p.kill()
        p.wait(timeout=10)
        p.stdout.close()


def periodic_schedule(cycle, repeat):
    """A faultproxy schedule: the rules of cycle (e.g. ["pass*3", "slowdown*1"])
    repeated `repeat` times, then everything passes."""
    return ",".join(list(cycle) * repeat)


class S3Vault(st.Vault):
    """tests/mount's Vault with its store at s3://BUCKET/prefix on server."""

    def __init__(self, tag, server, prefix):
        super().__init__(tag)
        self.server = server
        self.prefix = prefix
        self.store = "s3://%s/%s" % (BUCKET, prefix)
        self.caches = [self.cache]
        self.pids = set()  # every daemon this vault started
        _live["vaults"].append(self)

    def mount(self, *extra, cache=None, check=True):
        p = super().mount(*extra, cache=cache, check=check)
        if check:
            self.pids.add(st.daemon_pid(self.mnt))
        return p

    def cleanup(self):
        """Vault.cleanup, then SIGKILL for any daemon of ours still running
        (one still committing after the lazy unmount would outlive the test)."""
        if self in _live["vaults"]:
            _live["vaults"].remove(self)
        super().cleanup()
        for pid in self.pids:
            if st.process_alive(pid) and is_sealfs(pid):
                os.kill(pid, signal.SIGKILL)
                for _ in range(100):
                    if not st.process_alive(pid):
                        break
                    time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh_cache(self):
        """A new, not yet existing cache directory (remembered for the leak scan)."""
        c = os.path.join(self.root, "cache-fresh-%d" % len(self.caches))
        self.caches.append(c)
        return c

    def leaks(self, extra=(), bucket=True):
        """(needle, file) for every test name, marker, the passphrase and
        extra found in any byte or file name of the caches and, with bucket,
        of s3rver's whole directory (its bucket on disk and its request log)."""
        dirs = ([self.server.dir] if bucket else []) + self.caches
        layout = b"\0".join(layout_words(self.server.dir) | set().union(
            *(st.own_words(c) for c in self.caches)))
        needles = [n for n in sorted(self.names) if n not in layout]
        return st.scan_for(dirs, self.markers + [self.passphrase] + needles + list(extra))


def is_sealfs(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv0 = f.read().split(b"\0")[0]
    except OSError:
        return False
    return os.path.basename(argv0) == os.path.basename(st.SEALFS).encode()


def layout_words(server_dir):
    """The names of s3rver's files and the words of every vault config it
    holds: the store's own words, which are not needles."""
    words = set()
    for dirpath, dirnames, filenames in os.walk(server_dir):
        for n in dirnames + filenames:
            words.add(n.encode())
            if n == "sealfs.json._S3rver_object":
                with open(os.path.join(dirpath, n), "rb") as f:
                    words.update(re.findall(rb"[A-Za-z0-9_.-]+", f.read()))
    return words


def listing(server, prefix):
    """The object keys under prefix in s3rver's on-disk bucket (s3rver keeps
    KEY as KEY._S3rver_object plus metadata files)."""
    out = []
    base = server.bucket_dir(prefix)
    for dirpath, _, filenames in os.walk(base):
        for n in filenames:
            if n.endswith("._S3rver_object"):
                out.append(os.path.relpath(os.path.join(dirpath, n[:-len("._S3rver_object")]),
                                           base))
    return sorted(out)


def tree_fingerprint(path):
    """Names and hashes of every file under path, or None if it does not exist."""
    return st.fingerprint(path) if os.path.exists(path) else None


def write_file(path, data, fsync=True):
    with open(path, "wb") as f:
        f.write(data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def random_bytes(n):
    return secrets.token_bytes(n)


def make_fat_dir(path):
    """A directory whose sealed object is above the S3 multipart threshold
    (8 MiB): file content goes out in 1 MiB segments, so only a big
    directory object takes the multipart path through the file system. Made
    on the mount (the local file system may not hold 60 kB xattrs)."""
    os.mkdir(path)
    for i in range(FAT_FILES):
        f = os.path.join(path, "x%02d" % i)
        write_file(f, b"", fsync=False)
        for j in range(FAT_XATTRS):
            os.setxattr(f, "user.blob%d" % j, os.urandom(FAT_XATTR_BYTES))


def multipart_seen(server):
    """Whether s3rver's log shows a completed multipart upload."""
    with open(server.log, "rb") as f:
        return b"uploadId=" in f.read()


def timed(fn, *args, **kw):
    t = time.monotonic()
    r = fn(*args, **kw)
    return r, time.monotonic() - t


def run_child(test, code, args, what, timeout):
    """Runs Python code with args in a child, so that an operation stuck on
    the mount cannot hang the test (test fails after timeout s); returns the
    words the child printed, which start with "ok" or "errno N"."""
    p = subprocess.Popen([sys.executable, "-c", code] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        # a child stuck in the kernel may not die until the mount goes
        test.fail("%s hung for more than %d s" % (what, timeout))
    words = out.split()
    test.assertTrue(words and words[0] in ("ok", "errno"), "%s: %r %r" % (what, out, err))
    return words


class ServerCase(unittest.TestCase):
    """A test with its own s3rver in its own scratch root (TAG), the AWS
    environment pointing at it, and a vault in self.v that is cleaned up
    (unmounted, daemon killed if need be) after each test, even when the test
    or its set-up fails; when it fails, the tail of the server's log goes to
    stderr first. Subclasses add their own parts with the hooks."""

    TAG = "s3"
    IGNORE = False  # a server that ignores conditional writes (If-Match, If-None-Match)
    LOG_LINES = 200  # of s3rver's log, printed when a test fails
    v = None
    root = server = None

    def run(self, result=None):
        """unittest's run; then, if the test failed, errored or was
        interrupted, the tail of s3rver's log (its request lines and errors)
        on stderr for CI's log, before the scratch root with the log goes."""
        result = self.defaultTestResult() if result is None else result
        before = len(result.failures) + len(result.errors)
        done = False
        try:
            out = super().run(result)
            done = True
            return out
        finally:
            failed = not done or len(result.failures) + len(result.errors) > before
            if failed and self.server is not None:
                log("--- s3rver log of %s (last %d lines) ---\n%s\n--- end of s3rver log ---"
                    % (self.id(), self.LOG_LINES, self.server.tail(self.LOG_LINES)))
            if self.root:
                shutil.rmtree(self.root, ignore_errors=True)

    def set_up(self):
        """More set-up once the server runs (default: use it directly)."""
        use_endpoint(self.server.endpoint, root=self.root)

    def before_cleanup(self):
        """Runs first in tearDown, before the vault is cleaned up."""

    def after_cleanup(self):
        """Runs after the vault is cleaned up, before the server stops."""

    def setUp(self):
        require_s3rver()
        self.root = tmp_root(self.TAG)
        self.server = S3rver(self.root)
        self.v = None
        try:
            if self.IGNORE:  # read by the server at its start (tests/s3/patch-s3rver.js)
                os.environ["S3RVER_IGNORE_CONDITIONAL"] = "1"
            try:
                self.server.start()
            finally:
                os.environ.pop("S3RVER_IGNORE_CONDITIONAL", None)
            self.set_up()
        except BaseException:
            self.tearDown()
            raise

    def tearDown(self):
        try:
            self.before_cleanup()
            if self.v:
                self.v.cleanup()
            self.after_cleanup()
        finally:
            self.server.stop()  # the log is whole; run() removes the root


class ForegroundCase(ServerCase):
    """A ServerCase whose vault a test mounts in the foreground (`sealfs mount
    -f`, its log in self.fg_log) behind fault proxies it starts with proxy();
    the daemon is killed and the proxies stopped after each test."""

    fg = None  # the foreground `sealfs mount -f`
    proxies = ()
    MOUNT_WAIT = 60  # s for the foreground mount to appear

    def set_up(self):
        self.fg_log = os.path.join(self.root, "daemon.log")
        self.proxies = []  # the tests point the endpoint at the server or a proxy

    def after_cleanup(self):  # the vault's cleanup: lazy unmount, SIGKILL for a daemon left over
        try:
            if self.fg and self.fg.poll() is None:
                self.fg.kill()
                self.fg.wait(timeout=30)
        finally:
            for p in self.proxies:
                p.stop()

    def proxy(self, schedule, port=0):
        p = FaultProxy(self.server.port, schedule,
                       os.path.join(self.root, "proxy%d.log" % len(self.proxies)), port=port)
        self.proxies.append(p)
        return p

    def mount_foreground(self, *extra):
        """Mounts self.v with a fresh cache and extra options in the
        foreground, its log in self.fg_log, and stats every file (the
        directory objects get cached)."""
        v = self.v
        logf = open(self.fg_log, "ab")
        try:
            self.fg = subprocess.Popen(
                [st.SEALFS, "mount", v.store, v.mnt, "--cache", v.fresh_cache(),
                 "--passphrase-file", v.passfile] + list(extra) + ["-f"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        finally:
            logf.close()
        v.pids.add(self.fg.pid)
        deadline = time.monotonic() + self.MOUNT_WAIT
        while st.mount_type(v.mnt) != "fuse.sealfs":
            self.assertIsNone(self.fg.poll(), "mount -f exited: %s" % self.log_text())
            self.assertLess(time.monotonic(), deadline,
                            "no mount after %d s" % self.MOUNT_WAIT)
            time.sleep(0.05)
        for dirpath, _, filenames in os.walk(v.mnt):
            for n in filenames:
                os.stat(os.path.join(dirpath, n))

    def log_text(self):
        with open(self.fg_log, "rb") as f:
            return f.read().decode(errors="replace")
