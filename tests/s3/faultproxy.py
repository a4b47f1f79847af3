#!/usr/bin/env python3
"""faultproxy.py - a fault-injecting HTTP/1.1 proxy for the S3 client tests.

Listens on 127.0.0.1 (--port, default a free one; the port is printed on the
first line of stdout) and forwards each request to 127.0.0.1:UPSTREAM, one
request per connection, unless the schedule says otherwise. Python 3 standard
library only; loopback only; it stops by itself after --max-seconds or when
its parent process dies.

Schedule: comma-separated rules MODE[:ARG][*COUNT][@TEXT]. For each request
the first rule whose TEXT occurs in the request line and whose COUNT is not
used up applies (no COUNT: unlimited); no rule: pass. Modes:
  pass          forward the request, relay the reply
  slowdown      answer 503 with an S3 <Error><Code>SlowDown</Code> body
  delay:MS      wait MS milliseconds, then pass
  reset         forward, relay the reply head and half of its body, then
                reset the connection (RST)
  cut           read the request head and part of its body, then reset the
                connection without an answer
  hang          read the request and never answer (until the client gives up);
                '--schedule hang' makes a black hole: connections are accepted,
                nothing ever comes back (start it with --port on the port of
                a proxy just stopped to turn a working endpoint into one)
  redirect:R    answer 301 PermanentRedirect with x-amz-bucket-region: R
  badregion:R   answer 400 AuthorizationHeaderMalformed naming <Region>R</Region>
  skewed:S      the proxy's clock runs S seconds ahead: a request whose
                x-amz-date is more than 60 s off it gets 403
                RequestTimeTooSkewed (Date: the proxy's time); others pass
  expiredtoken:T  a request whose x-amz-security-token contains T gets 400
                ExpiredToken; others pass (the rule is not used up by them)
  retryafter:S  answer 503 SlowDown with Retry-After: S
  wscomplete    pass, but put whitespace before the body of a 200 reply (as
                S3 does for CompleteMultipartUpload)
Example: --schedule 'slowdown*3,reset*1@GET ,hang@partNumber=2&'
Each request is logged to --log as one line: "MODE METHOD TARGET [range=R]".
"""
import argparse
import calendar
import email.utils
import os
import socket
import struct
import sys
import threading
import time

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b'<Message>Please reduce your request rate.</Message>'
            b'<RequestId>faultproxy</RequestId></Error>')
MAX_HEAD = 64 * 1024


class Rule:
    def __init__(self, text):
        self.match = None
        if '@' in text:
            text, self.match = text.split('@', 1)
        self.count = None
        if '*' in text:
            text, n = text.split('*', 1)
            self.count = int(n) if n else None
        self.arg = None
        if ':' in text:
            text, self.arg = text.split(':', 1)
        if text not in ('pass', 'slowdown', 'delay', 'reset', 'cut', 'hang', 'redirect',
                        'badregion', 'skewed', 'expiredtoken', 'retryafter', 'wscomplete'):
            raise ValueError('unknown mode ' + text)
        self.mode = text


class Schedule:
    def __init__(self, spec, log):
        self.rules = [Rule(r) for r in spec.split(',') if r.strip()]
        self.lock = threading.Lock()
        self.log = log

    def pick(self, request_line, head=b''):
        with self.lock:
            for r in self.rules:
                if r.match is not None and r.match not in request_line:
                    continue
                if not applies(r, head):
                    continue
                if r.count is not None:
                    if r.count <= 0:
                        continue
                    r.count -= 1
                self.record(r.mode, request_line, head)
                return r
            self.record('pass', request_line, head)
            return None

    def record(self, mode, request_line, head):
        if self.log:
            rng = header(head, b'range')
            with open(self.log, 'a') as f:
                f.write('%s %s%s\n' % (mode, ' '.join(request_line.split(' ')[:2]),
                                        ' range=' + rng.decode('latin-1') if rng else ''))


def amz_time(head):
    v = header(head, b'x-amz-date')
    try:
        return calendar.timegm(time.strptime(v.decode(), '%Y%m%dT%H%M%SZ'))
    except (AttributeError, ValueError):
        return None


def applies(rule, head):
    """Conditional modes apply only to the requests they are about."""
    if rule.mode == 'expiredtoken':
        tok = header(head, b'x-amz-security-token') or b''
        return rule.arg.encode() in tok
    if rule.mode == 'skewed':
        t = amz_time(head)
        return t is None or abs(t - (time.time() + int(rule.arg))) > 60
    return True


def error_reply(status, reason, code, extra_xml=b'', extra_headers=b''):
    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + code +
            b'</Code><Message>faultproxy</Message>' + extra_xml +
            b'<RequestId>faultproxy</RequestId></Error>')
    return (b'HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n' % (status, reason) +
            extra_headers + b'Content-Length: %d\r\nConnection: close\r\n\r\n' % len(body) +
            body)


def canned(rule):
    """The reply of a mode that answers by itself, or None."""
    arg = (rule.arg or '').encode()
    if rule.mode == 'redirect':
        return error_reply(301, b'Moved Permanently', b'PermanentRedirect',
                           extra_headers=b'x-amz-bucket-region: ' + arg + b'\r\n')
    if rule.mode == 'badregion':
        return error_reply(400, b'Bad Request', b'AuthorizationHeaderMalformed',
                           b'<Region>' + arg + b'</Region>')
    if rule.mode == 'skewed':
        date = email.utils.formatdate(time.time() + int(rule.arg), usegmt=True).encode()
        return error_reply(403, b'Forbidden', b'RequestTimeTooSkewed',
                           extra_headers=b'Date: ' + date + b'\r\n')
    if rule.mode == 'expiredtoken':
        return error_reply(400, b'Bad Request', b'ExpiredToken')
    if rule.mode == 'retryafter':
        return error_reply(503, b'Slow Down', b'SlowDown',
                           extra_headers=b'Retry-After: ' + arg + b'\r\n')
    return None


def relay_padded(client, head, body, upstream_port):
    """Forwards, then sends a 200 reply's body after leading whitespace."""
    up = socket.create_connection(('127.0.0.1', upstream_port), timeout=120)
    try:
        up.sendall(with_close(head) + body)
        data = b''
        while True:
            chunk = up.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        rhead, _, rbody = data.partition(b'\r\n\r\n')
        if rhead.startswith(b'HTTP/1.1 200') and header(rhead, b'content-length'):
            rbody = b'\n  \n  ' + rbody
            lines = [l for l in rhead.split(b'\r\n')
                     if not l.lower().startswith(b'content-length:')]
            rhead = b'\r\n'.join(lines + [b'Content-Length: %d' % len(rbody)])
        client.sendall(rhead + b'\r\n\r\n' + rbody)
        client.close()
    finally:
        up.close()


def read_head(sock, buf=b''):
    while b'\r\n\r\n' not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b''
        buf += chunk
        if len(buf) > MAX_HEAD:
            return None, b''
    head, rest = buf.split(b'\r\n\r\n', 1)
    return head, rest


def header(head, want):
    for line in head.split(b'\r\n')[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == want:
            return value.strip()
    return None


def content_length(head):
    v = header(head, b'content-length')
    return int(v) if v else 0


def read_exact(sock, n, have):
    buf = bytearray(have)
    while len(buf) < n:
        chunk = sock.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    except OSError:
        pass
    sock.close()


def with_close(head):
    lines = [l for l in head.split(b'\r\n') if not l.lower().startswith(b'connection:')]
    return b'\r\n'.join(lines + [b'Connection: close']) + b'\r\n\r\n'


def relay(client, head, body, upstream_port, cut_reply):
    up = socket.create_connection(('127.0.0.1', upstream_port), timeout=120)
    try:
        up.sendall(with_close(head) + body)
        if not cut_reply:
            while True:
                chunk = up.recv(1 << 20)
                if not chunk:
                    break
                client.sendall(chunk)
            client.close()
            return
        rhead, rest = read_head(up)
        if rhead is None:
            rst_close(client)
            return
        half = content_length(rhead) // 2
        data = rest
        while len(data) < half:
            chunk = up.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        client.sendall(rhead + b'\r\n\r\n' + data[:half])
        time.sleep(0.05)
        rst_close(client)
    finally:
        up.close()


def serve(client, schedule, upstream_port):
    client.settimeout(120)
    try:
        head, rest = read_head(client)
        if head is None:
            client.close()
            return
        request_line = head.split(b'\r\n', 1)[0].decode('latin-1')
        rule = schedule.pick(request_line, head)
        mode = rule.mode if rule else 'pass'
        n = content_length(head)
        if mode == 'cut':
            if n > 1:
                read_exact(client, min(n // 2, len(rest) + 1), rest)
            rst_close(client)
            return
        body = read_exact(client, n, rest)
        if body is None:
            client.close()
            return
        if mode == 'slowdown':
            client.sendall(b'HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n'
                           b'Content-Length: %d\r\nConnection: close\r\n\r\n' % len(SLOWDOWN)
                           + SLOWDOWN)
            client.close()
            return
        reply = canned(rule) if rule else None
        if reply is not None:
            client.sendall(reply)
            client.close()
            return
        if mode == 'wscomplete':
            relay_padded(client, head, body, upstream_port)
            return
        if mode == 'hang':
            while client.recv(65536):
                pass
            client.close()
            return
        if mode == 'delay':
            time.sleep(int(rule.arg or '1000') / 1000.0)
        relay(client, head, body, upstream_port, mode == 'reset')
    except OSError:
        client.close()


def watchdog(parent, deadline):
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description='fault-injecting HTTP proxy (loopback only)')
    ap.add_argument('--upstream', type=int, required=True, help='port on 127.0.0.1')
    ap.add_argument('--schedule', default='')
    ap.add_argument('--log', default=None)
    ap.add_argument('--max-seconds', type=float, default=300)
    ap.add_argument('--port', type=int, default=0, help='port to listen on (0: a free one)')
    args = ap.parse_args()
    schedule = Schedule(args.schedule, args.log)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', args.port))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)
    threading.Thread(target=watchdog, daemon=True,
                     args=(os.getppid(), time.monotonic() + args.max_seconds)).start()
    while True:
        client, _ = srv.accept()
        threading.Thread(target=serve, args=(client, schedule, args.upstream),
                         daemon=True).start()


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
