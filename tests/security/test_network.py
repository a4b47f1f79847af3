"""test_network.py - the network attacker between sealfs and an S3 store over
TLS: sealfs verifies the server's certificate (an attacker's certificate ends
the connection before one byte of a request is sent), and the secret access
key never travels (SigV4 sends a signature only). A local HTTPS server with a
self-signed certificate for 127.0.0.1 plays the attacker; the control trusts
that certificate through AWS_CA_BUNDLE and sees the request arrive.
Claims in docs/SECURITY.md, "A network attacker". Needs openssl(1).
Also: text a store (or whoever answers for it) sends is shown as data: a
plain-HTTP server on 127.0.0.1 answers with an S3 error whose message holds a
newline (a forged "sealfs:" line) and a C1 control (CSI); the CLI's error is
one line with both escaped.
"""

import http.server
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from sealfstest import mount as st

SECRET_KEY = "sEcReT-aCcEsS-kEy-0123456789abcdefghij"


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with a 404 S3 error and records it."""

    def do_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.server.seen.append((self.command, self.path, str(self.headers), body))
        reply = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
                 b'<Message>no</Message></Error>')
        self.send_response(404)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_POST = do_any

    def log_message(self, *args):
        pass


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self):
        """Accepts and runs the TLS handshake, counting the ones that fail."""
        try:
            return super().get_request()
        except (ssl.SSLError, OSError):
            self.handshake_failures += 1
            raise


@unittest.skipUnless(shutil.which("openssl"), "needs openssl")
class NetworkAttacker(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sealfs-sec-net-", dir=st.BASE)
        cls.cert = os.path.join(cls.dir, "cert.pem")
        key = os.path.join(cls.dir, "key.pem")
        st.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cls.cert,
                "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cls.cert, key)
        cls.server = TLSServer(("127.0.0.1", 0), Recorder)
        cls.server.socket = ctx.wrap_socket(cls.server.socket, server_side=True)
        cls.server.seen = []
        cls.server.handshake_failures = 0
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def info(self, ca_bundle=None):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.dir,
               "AWS_ENDPOINT_URL": "https://127.0.0.1:%d" % self.server.server_port,
               "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDSECURITYTEST",
               "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_CONFIG_FILE": os.path.join(self.dir, "none"),
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.dir, "none")}
        if ca_bundle:
            env["AWS_CA_BUNDLE"] = ca_bundle
        self.server.seen.clear()
        return subprocess.run([st.SEALFS, "info", "s3://bucket/vault"], env=env,
                              capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    def test_untrusted_certificate_ends_the_connection_before_any_request(self):
        r = self.info()
        self.assertEqual(r.returncode, st.EXIT_STORE_MISSING, r.stderr)
        self.assertIn("certificate", r.stderr)
        self.assertEqual(self.server.seen, [], "a request reached an untrusted server")
        # The server's thread counts the failed handshake when it reads the
        # client's alert, which may come after the client has exited.
        deadline = time.monotonic() + 10
        while self.server.handshake_failures == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertGreater(self.server.handshake_failures, 0, "the client never connected")

    def test_trusted_server_sees_a_signature_never_the_secret_key(self):
        r = self.info(ca_bundle=self.cert)
        self.assertNotEqual(r.returncode, 0)  # the "store" is empty
        self.assertTrue(self.server.seen, "control: no request reached the trusted server: "
                        + r.stderr)
        method, path, headers, body = self.server.seen[0]
        self.assertTrue(path.startswith("/bucket"), path)
        self.assertIn("AWS4-HMAC-SHA256", headers)
        for _, p, h, b in self.server.seen:
            self.assertNotIn(SECRET_KEY, p + h)
            self.assertNotIn(SECRET_KEY.encode(), b)


class HostileError(http.server.BaseHTTPRequestHandler):
    """Answers every request with an S3 error whose message would end the line
    and start a terminal escape sequence if printed as it is."""
    MESSAGE = "denied\nsealfs: forged line \u009b31m red \\ end"

    def do_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        reply = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                 "<Message>%s</Message></Error>" % self.MESSAGE).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_POST = do_any

    def log_message(self, *args):
        pass


class StoreTextIsData(unittest.TestCase):

    def test_store_error_text_is_escaped(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostileError)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        home = tempfile.mkdtemp(prefix="sealfs-sec-esc-", dir=st.BASE)
        try:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
                   "AWS_ENDPOINT_URL": "http://127.0.0.1:%d" % server.server_port,
                   "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDSECURITYTEST",
                   "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                   "AWS_CONFIG_FILE": os.path.join(home, "none"),
                   "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "none")}
            r = subprocess.run([st.SEALFS, "info", "s3://bucket/vault"], env=env,
                               capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        finally:
            server.shutdown()
            server.server_close()
            shutil.rmtree(home, ignore_errors=True)
        err = r.stderr.decode("utf-8", "replace")
        self.assertNotEqual(r.returncode, 0)
        # Control: the server's message did reach the error line.
        self.assertIn("forged line", err)
        self.assertEqual(err.count("\n"), 1, "the store's text split the line: %r" % err)
        self.assertTrue(err.startswith("sealfs: "), err)
        self.assertNotIn("\u009b", err)
        self.assertFalse([c for c in err[:-1] if ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0], err)
        self.assertIn("denied\\x0asealfs: forged line \\xc2\\x9b31m red \\\\ end", err)


if __name__ == "__main__":
    st.main()
