#!/usr/bin/env python3
"""credserver.py - a stand-in for the three credential services the S3 client
asks, for its tests: the EC2 instance metadata service (IMDSv2), the
container credentials endpoint (ECS) and STS AssumeRoleWithWebIdentity.

Listens on 127.0.0.1 only (a free port, printed on the first line of stdout);
Python 3 standard library only; stops by itself after --max-seconds or when
its parent dies. Hands out --key/--secret (the test server's keys) with a
session token naming the service and a counter, valid for --lifetime
seconds. Each request is logged to --log as "METHOD PATH STATUS".

  PUT  /latest/api/token                        IMDSv2 session token (needs the
                                                ttl header)
  GET  /latest/meta-data/iam/security-credentials/        the role name
  GET  /latest/meta-data/iam/security-credentials/ROLE    JSON credentials
       (both need X-aws-ec2-metadata-token)
  GET  /ecs/creds      JSON credentials; needs Authorization: --ecs-auth
  POST /sts            AssumeRoleWithWebIdentity; needs WebIdentityToken ==
                       --oidc and a RoleArn
"""
import argparse
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IMDS_TOKEN = 'imds-session-token-0123'
ROLE = 'sealfs-test-role'


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    args = None
    counter = 0
    lock = threading.Lock()

    def log_message(self, fmt, *a):
        pass

    def creds(self, service):
        with Handler.lock:
            Handler.counter += 1
            n = Handler.counter
        exp = time.strftime('%Y-%m-%dT%H:%M:%SZ',
                            time.gmtime(time.time() + self.args.lifetime))
        return self.args.key, self.args.secret, '%s-token-%d' % (service, n), exp

    def reply(self, status, body, ctype='application/json'):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with open(self.args.log, 'a') as f:
            f.write('%s %s %d\n' % (self.command, self.path.split('?')[0], status))

    def json_creds(self, service):
        k, s, t, e = self.creds(service)
        doc = {'AccessKeyId': k, 'SecretAccessKey': s, 'Token': t, 'Expiration': e}
        if service == 'imds':
            doc['Code'] = 'Success'
        self.reply(200, json.dumps(doc))

    def do_PUT(self):
        self.rfile.read(int(self.headers.get('Content-Length') or 0))
        if self.path == '/latest/api/token' and \
                self.headers.get('X-aws-ec2-metadata-token-ttl-seconds'):
            self.reply(200, IMDS_TOKEN, 'text/plain')
        else:
            self.reply(400, 'bad token request', 'text/plain')

    def do_GET(self):
        base = '/latest/meta-data/iam/security-credentials/'
        if self.path.startswith(base):
            if self.headers.get('X-aws-ec2-metadata-token') != IMDS_TOKEN:
                self.reply(401, '', 'text/plain')
            elif self.path == base:
                self.reply(200, ROLE + '\n', 'text/plain')
            elif self.path == base + ROLE:
                self.json_creds('imds')
            else:
                self.reply(404, '', 'text/plain')
        elif self.path == '/ecs/creds':
            if self.headers.get('Authorization') != self.args.ecs_auth:
                self.reply(403, '{"message": "bad authorization"}')
            else:
                self.json_creds('ecs')
        else:
            self.reply(404, '', 'text/plain')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0)).decode()
        form = urllib.parse.parse_qs(body)
        ok = (self.path.startswith('/sts') and
              form.get('Action') == ['AssumeRoleWithWebIdentity'] and
              form.get('WebIdentityToken') == [self.args.oidc] and 'RoleArn' in form)
        if not ok:
            self.reply(403, '<ErrorResponse><Error><Code>InvalidIdentityToken</Code>'
                       '</Error></ErrorResponse>', 'text/xml')
            return
        k, s, t, e = self.creds('sts')
        self.reply(200, '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/'
                   'doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials>'
                   '<AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>'
                   '<SessionToken>%s</SessionToken><Expiration>%s</Expiration>'
                   '</Credentials></AssumeRoleWithWebIdentityResult>'
                   '</AssumeRoleWithWebIdentityResponse>' % (k, s, t, e), 'text/xml')


def watchdog(parent, deadline):
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description='IMDS/ECS/STS stand-in (loopback only)')
    ap.add_argument('--key', required=True)
    ap.add_argument('--secret', required=True)
    ap.add_argument('--ecs-auth', default='Bearer ecs-secret')
    ap.add_argument('--oidc', default='oidc-token-abc')
    ap.add_argument('--lifetime', type=int, default=3600)
    ap.add_argument('--log', required=True)
    ap.add_argument('--max-seconds', type=float, default=240)
    args = ap.parse_args()
    Handler.args = args
    srv = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    print(srv.server_address[1], flush=True)
    threading.Thread(target=watchdog, daemon=True,
                     args=(os.getppid(), time.monotonic() + args.max_seconds)).start()
    srv.serve_forever()


if __name__ == '__main__':
    main()
