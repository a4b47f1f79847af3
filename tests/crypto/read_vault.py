#!/usr/bin/env python3
"""read_vault.py - a second, independent reader of sealfs vaults, written from
docs/FORMAT.md alone (Python, the `cryptography` package and hashlib; it shares
no code with crypto/). It opens the committed golden vaults and vaults freshly
made by today's code (`test_crypto_golden --generate`), by passphrase and by
recovery key, and checks the tree they hold: if the C code and the document
ever disagree, this test fails. Test-only: HChaCha20 is written out here
because `cryptography` lacks XChaCha20; sealfs itself uses libsodium only.

usage: read_vault.py GOLDEN_ROOT GENERATOR
exit 77 (skipped) when `cryptography` is missing."""
import base64, hashlib, hmac, json, os, struct, subprocess, sys, tempfile

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
except ImportError:
    print("python3 cryptography missing: skipped")
    sys.exit(77)
try:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
except ImportError:  # cryptography < 44: the passphrase path is skipped
    Argon2id = None

PASSPHRASE = "sealfs golden vault"


def rotl(v, c): return ((v << c) & 0xffffffff) | (v >> (32 - c))
def qr(s, a, b, c, d):
    s[a]=(s[a]+s[b])&0xffffffff; s[d]^=s[a]; s[d]=rotl(s[d],16)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]^=s[c]; s[b]=rotl(s[b],12)
    s[a]=(s[a]+s[b])&0xffffffff; s[d]^=s[a]; s[d]=rotl(s[d],8)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]^=s[c]; s[b]=rotl(s[b],7)
def hchacha20(key, n16):
    s = list(struct.unpack('<4I', b'expand 32-byte k')) + list(struct.unpack('<8I', key)) + list(struct.unpack('<4I', n16))
    for _ in range(10):
        qr(s,0,4,8,12); qr(s,1,5,9,13); qr(s,2,6,10,14); qr(s,3,7,11,15)
        qr(s,0,5,10,15); qr(s,1,6,11,12); qr(s,2,7,8,13); qr(s,3,4,9,14)
    return struct.pack('<8I', *(s[0:4] + s[12:16]))
def xchacha_open(key, nonce, ct, ad):
    sub = hchacha20(key, nonce[:16])
    return ChaCha20Poly1305(sub).decrypt(b'\0'*4 + nonce[16:], ct, ad)

CROCK = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
def recovery_decode(text):
    t = [c for c in text.upper().replace('O','0').replace('I','1').replace('L','1') if c not in '- \t\r\n']
    assert len(t) == 29
    n = 0
    for c in t: n = n*32 + CROCK.index(c)
    assert n & 1 == 0
    raw = (n >> 1).to_bytes(18, 'big')
    key, chk = raw[:16], raw[16:]
    assert hashlib.blake2b(key, digest_size=32, person=b'sealfs-rcvcheck1').digest()[:2] == chk
    return key

def kdf(master, i):
    return hashlib.blake2b(b'', digest_size=32, key=master, salt=struct.pack('<Q', i) + b'\0'*8, person=b'sealfsv1' + b'\0'*8).digest()

def unpad(p):
    p = p.rstrip(b'\0'); assert p[-1] == 0x80; return p[:-1]

def read_vault(d, passphrase, use_recovery):
    cfg = json.load(open(d + '/sealfs.json'))
    fmt = cfg['format']
    assert fmt in (1, 2, 3)
    vid = bytes.fromhex(cfg['vault_id'])
    slot = [s for s in cfg['keyslots'] if s['type'] == ('recovery' if use_recovery else 'passphrase')][0]
    salt = bytes.fromhex(slot['salt'])
    if use_recovery:
        rk = recovery_decode(open(d + '/recovery.txt').read())
        kek = hashlib.blake2b(salt + vid, digest_size=32, key=rk).digest()
    else:
        kek = Argon2id(salt=salt, length=32, iterations=slot['opslimit'], lanes=1, memory_cost=slot['memlimit'] // 1024).derive(passphrase.encode())
    master = xchacha_open(kek, bytes.fromhex(slot['nonce']), bytes.fromhex(slot['wrapped']), b'sealfs-keyslot-v1' + vid + slot['type'].encode())
    ck, mk, cfk = kdf(master, 1), kdf(master, 2), kdf(master, 3)
    mac = bytes.fromhex(cfg.pop('mac'))
    canon = json.dumps(cfg, sort_keys=True, separators=(',', ':')).encode()
    assert hmac.new(cfk, canon, hashlib.sha512).digest()[:32] == mac, 'mac'
    h = open(d + '/head', 'rb').read()
    head = json.loads(unpad(xchacha_open(mk, h[:24], h[24:], b'\x02' + vid + b'\0'*40)))
    check_head(head, fmt)
    tree = {}
    walk(d, vid, mk, ck, cfg['content_cipher'], fmt, head['root'], '', tree)
    return head['seq'], fmt, tree

HEAD_V2 = {'seq', 'root', 't', 'dev', 'dn', 'parent', 'keep', 'gr'}
def check_head(head, fmt):
    """The members FORMAT.md lists: exactly seq/root in format 1; format 2
    adds t, dev, dn, parent, keep, gr (and optional hist, g, it)."""
    keys = set(head)
    if fmt == 1:
        assert keys == {'seq', 'root'}, keys
        return
    assert HEAD_V2 <= keys <= HEAD_V2 | {'hist', 'g', 'it'}, keys
    assert len(head['dev']) == 32 and len(head['parent']) == 64
    assert 1 <= len(head['dn'].encode()) <= 64
    assert isinstance(head['keep'], int) and isinstance(head['gr'], int)
    assert head['root']['kc'] >= 0

def obj(d, k): return open('%s/o/%s/%s' % (d, k[:2], k), 'rb').read()

def open_meta(d, mk, kind, vid, oid, ref):
    o = obj(d, ref['k'])
    ad = bytes([kind]) + vid + oid + struct.pack('<Q', ref['v']) + bytes.fromhex(ref['k'])
    return json.loads(unpad(xchacha_open(mk, o[:24], o[24:], ad)))

def pages(d, vid, mk, index):
    """FORMAT.md "Paged directories" (format 3): the entries of every page,
    each in its slot, n in all."""
    oid, n, out = bytes.fromhex(index['id']), len(index['p']), []
    assert set(index) == {'id', 'n', 'p'} and n >= 2 and n & (n - 1) == 0
    for slot, ref in enumerate(index['p']):
        if ref is None: continue
        page = open_meta(d, mk, 3, vid, oid, ref)
        assert page['id'] == index['id'] and page['e']
        for c in page['e']:
            i = bytes.fromhex(c['id']); assert (i[0] + 256 * i[1]) % n == slot
        out += page['e']
    assert len(out) == index['n']
    return out

def walk(d, vid, mk, ck, cipher, fmt, e, path, tree):
    dirobj = open_meta(d, mk, 1, vid, bytes.fromhex(e['id']), e)
    assert dirobj['id'] == e['id']
    if fmt >= 3 and 'p' in dirobj:
        dirobj['e'] = pages(d, vid, mk, dirobj)
    for c in dirobj['e']:
        name = c['n'] if 'n' in c else base64.b64decode(c['nb'])
        p = path + '/' + str(name)
        if c['t'] == 'd':
            tree[p + '/'] = None
            assert ('kc' in c) == (fmt >= 2)
            walk(d, vid, mk, ck, cipher, fmt, c, p, tree)
        elif c['t'] == 'l':
            tree[p] = ('->', c['tg'] if 'tg' in c else base64.b64decode(c['tgb']))
        elif c['t'] in 'pscb' and fmt >= 2:  # special files: mode type bits and rd
            want = {'p': 0o010000, 's': 0o140000, 'c': 0o020000, 'b': 0o060000}[c['t']]
            assert c['m'] & 0o170000 == want and ('rd' in c) == (c['t'] in 'cb')
            tree[p] = (c['t'], c.get('rd'))
        else:
            tree[p] = read_file(d, vid, ck, cipher, fmt, c)

def read_file(d, vid, ck, cipher, fmt, c):
    fid = bytes.fromhex(c['id']); fk = hashlib.blake2b(b'', digest_size=32, key=ck, salt=fid, person=b'sealfs-filekey01').digest()
    s = c['s']; C = -(-s // 4096); n = 12 if cipher == 'aes256gcm' else 24; L = n + 4096 + 16
    out = b''
    for i, k in enumerate(c['seg']):
        m = min(256, C - 256*i)
        if k is None: out += b'\0' * 4096 * m; continue
        created = 0
        if fmt >= 2: k, created = k  # ["<key hex>", c]
        # FORMAT.md "Keys": c = 0, the per-file key; else the segment key
        ck_seg = fk if created == 0 else hashlib.blake2b(bytes.fromhex(k) + b'sealfs-segkey02', digest_size=32, key=fk).digest()
        o = obj(d, k); assert len(o) == m * L
        for j in range(m):
            idx = 256*i + j; ch = o[j*L:(j+1)*L]
            ad = vid + fid + bytes.fromhex(k) + struct.pack('<Q', idx) + (b'\x01' if idx == C-1 else b'\x00')
            if cipher == 'aes256gcm': out += AESGCM(ck_seg).decrypt(ch[:12], ch[12:], ad)
            else: out += xchacha_open(ck_seg, ch[:24], ch[24:], ad)
    return out[:s]


def expected_tree(fmt):
    t = {
        "/hello.txt": b"Hello, sealfs!\n",
        "/big.bin": bytes(i % 251 for i in range(5000)),
        "/link": ("->", "hello.txt"),
        "/docs/": None,
        "/docs/empty": b"",
    }
    if fmt >= 2:
        t["/fifo"] = ("p", None)
        t["/tty0"] = ("c", 1024)
    if fmt >= 3:
        t["/docs/note"] = b""
    return t


def check(d):
    ways = [True] + ([False] if Argon2id else [])
    for use_recovery in ways:
        seq, fmt, tree = read_vault(d, PASSPHRASE, use_recovery)
        if seq != 1 or tree != expected_tree(fmt):
            print("FAIL %s (%s): seq %d, tree %r" % (d, "recovery" if use_recovery else "passphrase", seq, sorted(tree)))
            return 1
    print("ok %s, format %d (%s)" % (d, fmt, "recovery and passphrase" if Argon2id else "recovery only"))
    return 0


def main():
    golden, generator = sys.argv[1], sys.argv[2]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for suite in ("aes256gcm", "xchacha20poly1305"):
            failures += check(os.path.join(golden, "golden-" + suite))
            failures += check(os.path.join(golden, "golden-v2-" + suite))
            failures += check(os.path.join(golden, "golden-v3-" + suite))
            fresh = os.path.join(tmp, suite)
            os.mkdir(fresh)
            if subprocess.run([generator, "--generate", fresh, suite]).returncode != 0:
                print("generator failed for %s (suite unavailable?)" % suite)
                failures += suite != "aes256gcm"
                continue
            failures += check(fresh)
    print("%d passed, %d failed" % (8 - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
