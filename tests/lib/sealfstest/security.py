"""sealfstest.security - helpers for the threat-model tests (docs/SECURITY.md): a
metadata-only vault reader written from docs/FORMAT.md (recovery key ->
master key -> metadata key -> head -> directory objects), so a test can name
the exact store object of a given file or directory and tamper with it; store
copies and listings; mounting any store copy on a vault's mountpoint; the
needle forms (raw, hex, base64) to scan for; and a reader of a live process's
memory.

The XChaCha20-Poly1305 opener below is test-only (the Python standard library
has none); sealfs itself uses libsodium only. It verifies the Poly1305 tag,
so a mistake here makes the tests fail loudly instead of passing quietly.
Must never write to a store it was not given as a throw-away copy.
"""

import base64
import errno
import hashlib
import hmac
import json
import os
import re
import shutil
import struct

from . import mount as st

OBJECT_RE = re.compile(r"^o/([0-9a-f]{2})/([0-9a-f]{32})$")
SEALED_CHUNK = {"aes256gcm": 4124, "xchacha20poly1305": 4136}
META_OVERHEAD = 40  # nonce 24 + tag 16
META_PAD = 1024

# ---- ChaCha20-Poly1305 (RFC 8439) and XChaCha20, opening only ----

_MASK = 0xFFFFFFFF


def _rotl(v, c):
    return ((v << c) & _MASK) | (v >> (32 - c))


def _rounds(s):
    def qr(a, b, c, d):
        s[a] = (s[a] + s[b]) & _MASK
        s[d] = _rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & _MASK
        s[b] = _rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & _MASK
        s[d] = _rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & _MASK
        s[b] = _rotl(s[b] ^ s[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15)
        qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14)


_SIGMA = list(struct.unpack("<4I", b"expand 32-byte k"))


def _chacha_block(key, counter, nonce12):
    init = _SIGMA + list(struct.unpack("<8I", key)) + [counter] + list(
        struct.unpack("<3I", nonce12))
    s = init[:]
    _rounds(s)
    return struct.pack("<16I", *(((a + b) & _MASK) for a, b in zip(s, init)))


def _hchacha20(key, nonce16):
    s = _SIGMA + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    _rounds(s)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def _poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(msg), 16):
        acc = (acc + int.from_bytes(msg[i:i + 16] + b"\x01", "little")) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _pad16(b):
    return b"\0" * (-len(b) % 16)


def chacha20poly1305_open(key, nonce12, sealed, ad):
    """Plaintext, or None when the tag does not verify."""
    if len(sealed) < 16:
        return None
    ct, tag = sealed[:-16], sealed[-16:]
    otk = _chacha_block(key, 0, nonce12)[:32]
    mac_data = ad + _pad16(ad) + ct + _pad16(ct) + struct.pack("<QQ", len(ad), len(ct))
    if not hmac.compare_digest(_poly1305(otk, mac_data), tag):
        return None
    out = bytearray()
    for i in range(0, len(ct), 64):
        block = _chacha_block(key, 1 + i // 64, nonce12)
        piece = ct[i:i + 64]
        out += (int.from_bytes(piece, "little")
                ^ int.from_bytes(block[:len(piece)], "little")).to_bytes(len(piece), "little")
    return bytes(out)


def xchacha_open(key, nonce24, sealed, ad):
    return chacha20poly1305_open(_hchacha20(key, nonce24[:16]), b"\0" * 4 + nonce24[16:],
                                 sealed, ad)


# ---- keys (FORMAT.md "Keys", "Recovery key") ----

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def recovery_decode(text):
    digits = [c for c in text.upper().replace("O", "0").replace("I", "1").replace("L", "1")
              if c not in "- \t\r\n"]
    assert len(digits) == 29, "recovery key text has %d digits" % len(digits)
    n = 0
    for c in digits:
        n = n * 32 + _CROCKFORD.index(c)
    raw = (n >> 1).to_bytes(18, "big")
    check = hashlib.blake2b(raw[:16], digest_size=32, person=b"sealfs-rcvcheck1").digest()
    assert check[:2] == raw[16:], "recovery key checksum"
    return raw[:16]


def _subkey(master, i):
    return hashlib.blake2b(b"", digest_size=32, key=master, salt=struct.pack("<Q", i) + b"\0" * 8,
                           person=b"sealfsv1" + b"\0" * 8).digest()


class VaultKeys:
    """Every secret of a vault, derived from its recovery key and store."""

    def __init__(self, store, recovery_text):
        with open(os.path.join(store, "sealfs.json")) as f:
            cfg = json.load(f)
        self.cfg = cfg
        self.vault_id = bytes.fromhex(cfg["vault_id"])
        slot = [s for s in cfg["keyslots"] if s["type"] == "recovery"][0]
        self.recovery_raw = recovery_decode(recovery_text)
        self.kek_recovery = hashlib.blake2b(bytes.fromhex(slot["salt"]) + self.vault_id,
                                            digest_size=32, key=self.recovery_raw).digest()
        self.master = xchacha_open(self.kek_recovery, bytes.fromhex(slot["nonce"]),
                                   bytes.fromhex(slot["wrapped"]),
                                   b"sealfs-keyslot-v1" + self.vault_id + b"recovery")
        assert self.master is not None, "the recovery keyslot did not open"
        self.content = _subkey(self.master, 1)
        self.meta = _subkey(self.master, 2)
        self.config = _subkey(self.master, 3)

    def secrets(self):
        """(label, bytes) of every key; the per-file keys are added by the reader."""
        return [("master", self.master), ("content key", self.content),
                ("metadata key", self.meta), ("config key", self.config),
                ("recovery KEK", self.kek_recovery), ("recovery key", self.recovery_raw)]


def file_key(keys, file_id):
    return hashlib.blake2b(b"", digest_size=32, key=keys.content, salt=file_id,
                           person=b"sealfs-filekey01").digest()


def segment_key(keys, file_id, seg_key):
    """Format 2, a segment version with created != 0 (FORMAT.md "Keys")."""
    return hashlib.blake2b(seg_key + b"sealfs-segkey02", digest_size=32,
                           key=file_key(keys, file_id)).digest()


# ---- metadata reader (FORMAT.md "Metadata objects", "Directory object", "Head") ----

def object_path(store, key_hex):
    return os.path.join(store, "o", key_hex[:2], key_hex)


def _unpad(p):
    p = p.rstrip(b"\0")
    assert p and p[-1] == 0x80, "bad metadata padding"
    return p[:-1]


def open_meta(keys, data, kind, dir_id, version, store_key):
    ad = bytes([kind]) + keys.vault_id + dir_id + struct.pack("<Q", version) + store_key
    plain = xchacha_open(keys.meta, data[:24], data[24:], ad)
    assert plain is not None, "metadata object failed to authenticate"
    return json.loads(_unpad(plain))


def entry_name(e):
    return e["n"].encode() if "n" in e else base64.b64decode(e["nb"])


class Tree:
    """The whole vault as stored: path (bytes, relative, b"" = root) -> entry,
    plus the store key (hex) of every directory's object and, for a paged
    directory (format 3), its pages' keys by slot (None: an empty slot)."""

    def __init__(self, store, keys):
        with open(os.path.join(store, "head"), "rb") as f:
            head = open_meta(keys, f.read(), 2, b"\0" * 16, 0, b"\0" * 16)
        self.seq = head["seq"]
        self.head = head
        self.keys = keys
        self.entries = {}
        self.dir_key = {}
        self.dir_pages = {}
        self._walk(store, keys, head["root"], b"")

    def _walk(self, store, keys, e, path):
        self.entries[path] = e
        if e["t"] != "d":
            return
        self.dir_key[path] = e["k"]
        with open(object_path(store, e["k"]), "rb") as f:
            d = open_meta(keys, f.read(), 1, bytes.fromhex(e["id"]), e["v"], bytes.fromhex(e["k"]))
        assert d["id"] == e["id"]
        if "p" in d:  # FORMAT.md "Paged directories": the entries are in the pages
            d["e"] = self._pages(store, keys, e, d)
        for child in d["e"]:
            name = entry_name(child)
            self._walk(store, keys, child, path + b"/" + name if path else name)

    def _pages(self, store, keys, e, index):
        entries, slots = [], []
        for slot, ref in enumerate(index["p"]):
            slots.append(ref and ref["k"])
            if not ref:
                continue
            with open(object_path(store, ref["k"]), "rb") as f:
                page = open_meta(keys, f.read(), 3, bytes.fromhex(e["id"]), ref["v"],
                                 bytes.fromhex(ref["k"]))
            assert page["id"] == e["id"] and page["e"]
            for c in page["e"]:
                i = bytes.fromhex(c["id"])
                assert (i[0] + 256 * i[1]) % len(index["p"]) == slot, "entry in another page"
            entries += page["e"]
        assert len(entries) == index["n"], "a page is missing"
        self.dir_pages[e["id"]] = slots
        return entries

    def _chain(self, store, ref, kind):
        """The objects of a chain of pages (FORMAT.md "History", "Garbage
        lists"): [(store key hex, plaintext JSON)], newest first."""
        out = []
        while ref:
            with open(object_path(store, ref["k"]), "rb") as f:
                page = open_meta(self.keys, f.read(), kind, b"\0" * 16, ref["v"],
                                 bytes.fromhex(ref["k"]))
            out.append((ref["k"], page))
            ref = page.get("next")
        return out

    def history(self, store):
        """Format 2: the store keys (hex) of the history's own objects (pages,
        head records, garbage lists) and the keys its garbage lists hold
        (objects only retained heads reach): (own, listed). Format 1: empty."""
        own, listed = set(), set()
        for key, page in self._chain(store, self.head.get("hist"), 5):
            own.add(key)
            own.update(h["r"]["k"] for h in page["h"])
        for key, page in self._chain(store, self.head.get("g"), 7):
            own.add(key)
            listed.update(t[0] for t in page["g"])
        return own, listed

    def segments(self, path):
        """Store keys (hex) of a file's present segments: "<hex>" in format 1,
        ["<hex>", c] in format 2."""
        return [k if isinstance(k, str) else k[0] for k in self.entries[path]["seg"] if k]

    def segment_keys(self, path):
        """The chunk keys of a file's present segments sealed under their own
        key (format 2, created != 0)."""
        e = self.entries[path]
        return [segment_key(self.keys, bytes.fromhex(e["id"]), bytes.fromhex(k[0]))
                for k in e["seg"] if isinstance(k, list) and k[1] != 0]


# ---- stores ----

def store_files(root):
    """Relative paths of every regular file under root."""
    out = []
    for dirpath, _, filenames in os.walk(root):
        for n in filenames:
            out.append(os.path.relpath(os.path.join(dirpath, n), root))
    return sorted(out)


def store_objects(root):
    """{relative path: bytes} of every o/ object."""
    out = {}
    for rel in store_files(root):
        if OBJECT_RE.match(rel):
            with open(os.path.join(root, rel), "rb") as f:
                out[rel] = f.read()
    return out


def copy_tree(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    return dst


def du_bytes(root):
    return sum(os.path.getsize(os.path.join(root, r)) for r in store_files(root))


# ---- mounting a store copy ----

def mount_store(v, store, cache, *extra, check=True):
    """Mounts store on v.mnt with cache; returns the CompletedProcess."""
    return st.sealfs("mount", store, v.mnt, "--cache", cache, "--passphrase-file", v.passfile,
                     *extra, check=check)


def unmount_quietly(v):
    """Unmounts v.mnt whatever state it is in (never raises)."""
    if not v.is_mounted():
        return
    p = st.sealfs("unmount", v.mnt, check=False)
    if p.returncode != 0 or v.is_mounted():
        st.lazy_unmount_all(v.mnt)


def errno_of(fn):
    """The errno fn() fails with, or None when it succeeds."""
    try:
        fn()
    except OSError as e:
        return e.errno
    return None


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


# ---- what to scan for ----

def scan(dirs, needles):
    """Sorted (needle, path) pairs for every needle (bytes or str, any bytes
    at all, newlines and NULs included) found in the bytes or the name of any
    file or directory under dirs. Needles shorter than 8 bytes are refused:
    random ciphertext contains them by chance."""
    needles = sorted({n.encode() if isinstance(n, str) else bytes(n) for n in needles})
    short = [n for n in needles if len(n) < 8]
    assert not short, "needles too short to mean anything: %r" % short
    hits = set()
    for d in dirs:
        for dirpath, dirnames, filenames in os.walk(d):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                hits.update((n, p) for n in needles if n in name.encode())
                if name in filenames and os.path.isfile(p) and not os.path.islink(p):
                    with open(p, "rb") as f:
                        data = f.read()
                    hits.update((n, p) for n in needles if n in data)
    return sorted(hits)


def forms(s):
    """A secret or name as the byte strings that would betray it: raw, hex
    (both cases) and base64 (standard and urlsafe, without padding)."""
    b = s.encode() if isinstance(s, str) else s
    out = [b, b.hex().encode(), b.hex().upper().encode()]
    if len(b) >= 3:
        out.append(base64.b64encode(b).rstrip(b"="))
        out.append(base64.urlsafe_b64encode(b).rstrip(b"="))
    return out


# ---- processes ----

def proc_read(pid, name):
    with open("/proc/%d/%s" % (pid, name), "rb") as f:
        return f.read()


# The daemon's own memory is far below this; ASan maps terabyte-sized shadows.
MEMORY_SCAN_MAPPING_MAX = 1 << 30


def memory_contains(pid, needles):
    """The needles found in any readable mapping of process pid (root only)."""
    found = set()
    longest = max(len(n) for n in needles)
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if fields[1][0] != "r" or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            if hi - lo > MEMORY_SCAN_MAPPING_MAX:
                continue  # sanitizer shadow reservations (terabytes), never our data
            tail = b""
            for off in range(lo, hi, 1 << 20):
                try:
                    mem.seek(off)
                    b = mem.read(min(1 << 20, hi - off))
                except OSError as e:
                    if e.errno in (errno.EIO, errno.EFAULT):
                        break
                    raise
                window = tail + b
                found.update(n for n in needles if n in window)
                tail = window[-longest:]
    return found


def run_as(uid, gid, args, **kw):
    """Runs args as uid:gid with no supplementary groups (setpriv)."""
    return st.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups"] + args,
                  check=False, **kw)
