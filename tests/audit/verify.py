#!/usr/bin/python3
"""verify.py -- an independent verifier for meshpdp audit logs.

Written from docs/audit-log-format.md alone (section numbers below refer to
it), with the Python standard library and python3-cryptography for Ed25519.
It shares no code with the C implementation; the test suite runs both on the
same logs and on tampered copies, and they must agree.

    verify.py DIR [--pubkey PEM]... [--checkpoint FILE]
    verify.py --self-test

Exit status: 0 the log verifies, 1 it does not (the first bad record is
named), 2 usage or I/O error.
"""
import base64
import hashlib
import json
import os
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

SEG_RE = re.compile(r"^audit-([0-9]{20})\.log$")
TS_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$")
TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
ENVELOPE = ("v", "seq", "ts", "type", "prev", "hash")
NOT_COUNTED = ("genesis", "start", "recovery", "checkpoint")
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1
EM_DASH = "\u2014"


class Bad(Exception):
    """The log breaks a rule; the message says which."""


# ---- canonical JSON (§3) -------------------------------------------------

def _no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Bad("duplicate key in an object")
    return pairs  # keep the pairs: order matters for the envelope


def _reject(_):
    raise Bad("a number that is not an integer")


def _to_value(v, depth):
    """Pairs lists back to dicts, checking §3's value rules."""
    if depth > 32:
        raise Bad("JSON nested too deeply")
    if isinstance(v, ObjPairs):
        return {k: _to_value(x, depth + 1) for k, x in v}
    if isinstance(v, list):
        return [_to_value(x, depth + 1) for x in v]
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        if not INT_MIN <= v <= INT_MAX:
            raise Bad("an integer out of range")
        return v
    if isinstance(v, str):
        if "\x00" in v:
            raise Bad("a string containing U+0000")
        return v
    raise Bad("a value of an unexpected kind")


class ObjPairs(list):
    """An object as the list of its (key, value) pairs, in file order."""


def _hook(pairs):
    _no_dups(pairs)
    return ObjPairs(pairs)


def canon(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def parse_line(line):
    """Returns (envelope dict, payload dict, body bytes) or raises Bad."""
    try:
        text = line.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Bad("not valid UTF-8")
    try:
        top = json.loads(text, object_pairs_hook=_hook, parse_float=_reject,
                         parse_constant=_reject)
    except Bad:
        raise
    except ValueError as e:
        raise Bad("not JSON: %s" % e)
    if not isinstance(top, ObjPairs) or len(top) < 6:
        raise Bad("not a record object")
    keys = [k for k, _ in top]
    if tuple(keys[:5]) != ENVELOPE[:5] or keys[-1] != "hash":
        raise Bad("envelope keys not v, seq, ts, type, prev ... hash")
    env = dict(top[:5] + top[-1:])
    payload_pairs = top[5:-1]
    if env["v"] != 1 or isinstance(env["v"], bool) or not isinstance(env["v"], int):
        raise Bad("unsupported format version %r" % (env["v"],))
    seq = env["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= INT_MAX:
        raise Bad("malformed seq")
    if not isinstance(env["ts"], str) or not TS_RE.fullmatch(env["ts"]):
        raise Bad("malformed ts")
    if not isinstance(env["type"], str) or not TYPE_RE.fullmatch(env["type"]):
        raise Bad("malformed type")
    for k in ("prev", "hash"):
        if not isinstance(env[k], str) or not HEX64_RE.fullmatch(env[k]):
            raise Bad("malformed %s" % k)
    payload = {}
    for k, v in payload_pairs:
        if k in ENVELOPE:
            raise Bad("payload key %r is an envelope key" % k)
        payload[k] = _to_value(v, 1)
    # the one canonical spelling of this record (§2, §3)
    want = '{"v":1,"seq":%d,"ts":"%s","type":"%s","prev":"%s"' % (
        seq, env["ts"], env["type"], env["prev"])
    for k in sorted(payload):
        want += "," + canon(k) + ":" + canon(payload[k])
    want += ',"hash":"%s"}' % env["hash"]
    try:
        want_bytes = want.encode("utf-8")
    except UnicodeEncodeError:
        raise Bad("a string holding a lone surrogate")
    if want_bytes != line:
        raise Bad("record is not in canonical form")
    body = line[:-75]
    return env, payload, body


# ---- Merkle tree (§6) ----------------------------------------------------

def leaf(rec_hash):
    return hashlib.sha256(b"\x00" + rec_hash).digest()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class Range:
    def __init__(self):
        self.size = 0
        self.hashes = []

    def append(self, rec_hash):
        h = leaf(rec_hash)
        n = self.size
        while n & 1:
            h = node(self.hashes.pop(), h)
            n >>= 1
        self.hashes.append(h)
        self.size += 1

    def root(self):
        if not self.hashes:
            return hashlib.sha256(b"").digest()
        r = self.hashes[-1]
        for e in reversed(self.hashes[:-1]):
            r = node(e, r)
        return r


# ---- notes and keys (§7) ----------------------------------------------------

def b64dec(s):
    try:
        raw = base64.b64decode(s, validate=True)
    except ValueError:
        raise Bad("bad base64")
    if base64.b64encode(raw).decode() != s:
        raise Bad("base64 not in canonical form")
    return raw


def key_id(name, pub):
    return hashlib.sha256(name.encode() + b"\x0a\x01" + pub).digest()[:4]


def parse_note(text):
    """Returns (signed text bytes, origin, size, root, [(name, id, sig)])."""
    if not text.endswith("\n") or len(text.encode()) > 8192:
        raise Bad("checkpoint note does not end with a newline (or is too large)")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise Bad("checkpoint note holds a control character")
    cut = text.rfind("\n\n")
    if cut < 0:
        raise Bad("checkpoint note has no signature block")
    body, sigblock = text[:cut + 1], text[cut + 2:]
    sigs = []
    for line in sigblock.split("\n")[:-1]:
        m = re.fullmatch(EM_DASH + r" ([^ +]+) (\S+)", line)
        if not m:
            raise Bad("malformed signature line")
        raw = b64dec(m.group(2))
        if len(raw) < 5:
            raise Bad("signature too short")
        sigs.append((m.group(1), raw[:4], raw[4:]))
    if not sigs or len(sigs) > 16:
        raise Bad("checkpoint note must carry 1 to 16 signatures")
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise Bad("checkpoint text has fewer than three lines")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not origin or not re.fullmatch(r"0|[1-9][0-9]*", size_s) or any(not l for l in lines[3:]):
        raise Bad("checkpoint has a malformed origin, size or extension line")
    root = b64dec(root_s)
    if len(root) != 32:
        raise Bad("checkpoint root is not 32 bytes")
    return body.encode(), origin, int(size_s), root, sigs


def note_signed_by(note, name, pub):
    """True: a valid signature by (name, pub); False: none by that key.
    Raises Bad when one by that key fails."""
    signed, _, _, _, sigs = note
    kid = key_id(name, pub)
    found = False
    for n, i, sig in sigs:
        if n != name or i != kid:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig, signed)
        except (InvalidSignature, ValueError):
            raise Bad("checkpoint signature does not verify")
        found = True
    return found


def parse_vkey(vkey, name):
    m = re.fullmatch(r"(.+)\+([0-9a-f]{8})\+(\S+)", vkey)
    if not m or m.group(1) != name:
        raise Bad("start key is not a vkey for this log id")
    raw = b64dec(m.group(3))
    if len(raw) != 33 or raw[0] != 1 or key_id(name, raw[1:]).hex() != m.group(2):
        raise Bad("start key is malformed")
    return raw[1:]


def load_pubkey(path):
    data = open(path, "rb").read()
    try:
        k = serialization.load_pem_public_key(data)
    except ValueError:
        k = serialization.load_pem_private_key(data, password=None).public_key()
    if not isinstance(k, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# ---- the verifier (§8) ---------------------------------------------------

class Verifier:
    def __init__(self, trusted, external):
        self.trusted = trusted          # list of raw public keys
        self.external = external        # parsed note or None
        self.expected = 0
        self.head = bytes(32)
        self.tree = Range()
        self.log_id = None
        self.n_every = None
        self.cp_due = False
        self.since_cp = 0
        self.start_key = None
        self.signed = 0
        self.checkpoints = 0
        self.external_met = False

    def record(self, line):
        env, payload, body = parse_line(line)
        h = hashlib.sha256(body).digest()
        if h.hex() != env["hash"]:
            raise Bad("hash does not match the record (record modified)")
        if env["seq"] != self.expected:
            raise Bad("found seq %d where seq %d belongs (deleted, inserted or reordered)"
                      % (env["seq"], self.expected))
        if env["prev"] != self.head.hex():
            raise Bad("prev is not the hash of the previous record")
        self.rules(env, payload)
        self.head = h
        self.tree.append(h)
        self.expected += 1
        if self.external and self.tree.size == self.external[2]:
            if self.tree.root() != self.external[3]:
                raise Bad("the first %d records differ from the external checkpoint "
                          "(log rewritten)" % self.tree.size)
            self.external_met = True

    def rules(self, env, p):
        t, seq = env["type"], env["seq"]
        if seq == 0 and t != "genesis":
            raise Bad("record 0 is not genesis")
        if t == "genesis":
            if seq != 0:
                raise Bad("genesis record after record 0")
            lid = p.get("log_id")
            if not isinstance(lid, str) or not re.fullmatch(r"[!-*,-~]{1,255}", lid):
                raise Bad("genesis has no valid log_id")
            self.log_id = lid
        elif t == "start":
            n = p.get("checkpoint_every")
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise Bad("start has no valid checkpoint_every")
            if not isinstance(p.get("key"), str):
                raise Bad("start has no key")
            self.start_key = parse_vkey(p["key"], self.log_id)
            self.n_every = n
            self.cp_due = True
        elif t == "checkpoint":
            self.checkpoint(seq, p)
            self.cp_due = False
            self.since_cp = 0
            self.signed = seq
            self.checkpoints += 1
        elif t != "recovery":
            if self.n_every is None:
                raise Bad("a record before the first start record")
            if self.cp_due:
                raise Bad("a start record is not followed by its checkpoint")
            if self.since_cp + 1 > self.n_every:
                raise Bad("more than %d records since the last checkpoint" % self.n_every)
            self.since_cp += 1

    def checkpoint(self, seq, p):
        if not isinstance(p.get("note"), str) or not isinstance(p.get("range"), list):
            raise Bad("checkpoint without note or range")
        note = parse_note(p["note"])
        _, origin, size, root, _ = note
        if origin != self.log_id:
            raise Bad("checkpoint origin is not this log's id")
        if size != seq:
            raise Bad("checkpoint size %d, but %d records precede it" % (size, seq))
        if root != self.tree.root():
            raise Bad("checkpoint root does not match the records before it")
        if p["range"] != [h.hex() for h in self.tree.hashes]:
            raise Bad("checkpoint range does not match the records before it")
        self.check_signature(note)

    def check_signature(self, note):
        if self.trusted:
            if not any(note_signed_by(note, self.log_id, k) for k in self.trusted):
                raise Bad("checkpoint is not signed by a trusted key")
            return
        if self.start_key is None or not note_signed_by(note, self.log_id, self.start_key):
            raise Bad("checkpoint signature does not verify against the log's own key")


def verify(directory, trusted, external_text):
    """Returns (ok, message)."""
    try:
        names = sorted((int(m.group(1)), n) for n in os.listdir(directory)
                       for m in [SEG_RE.match(n)] if m)
    except OSError as e:
        return None, str(e)
    if not names:
        return None, "no audit segments"
    external = None
    try:
        if external_text is not None:
            external = parse_note(external_text)
            if trusted and not any(note_signed_by(external, external[1], k) for k in trusted):
                raise Bad("external checkpoint not signed by a trusted key")
    except Bad as e:
        return False, "--checkpoint: %s" % e
    v = Verifier(trusted, external)
    for i, (first, name) in enumerate(names):
        where = "%s" % name
        try:
            if first != v.expected:
                raise Bad("segment starts at seq %d, but seq %d comes next" % (first, v.expected))
            data = open(os.path.join(directory, name), "rb").read()
            if not data and i + 1 < len(names):
                raise Bad("empty segment before the last one")
            lines = data.split(b"\n")
            for no, line in enumerate(lines[:-1], 1):
                where = "%s:%d: seq %d" % (name, no, v.expected)
                v.record(line)
            if lines[-1]:
                where = "%s:%d: seq %d" % (name, len(lines), v.expected)
                raise Bad("torn last line" if i + 1 == len(names) else "incomplete line")
        except Bad as e:
            return False, "%s: %s" % (where, e)
    try:
        if external:
            if external[1] != v.log_id:
                raise Bad("external checkpoint is for another log")
            if not trusted and (v.start_key is None or
                                not note_signed_by(external, v.log_id, v.start_key)):
                raise Bad("external checkpoint not signed by the log's key")
            if not v.external_met:
                raise Bad("log truncated: the checkpoint covers %d records, the log has %d"
                          % (external[2], v.expected))
    except Bad as e:
        return False, "--checkpoint: %s" % e
    return True, "%d records, %d checkpoints, signed up to %d, log id %s" % (
        v.expected, v.checkpoints, v.signed, v.log_id)


def self_test():
    """The worked example of §11."""
    body = (b'{"v":1,"seq":0,"ts":"2025-01-01T00:00:00.000000Z","type":"genesis","prev":"'
            + b"0" * 64 + b'","format":"meshpdp-audit","log_id":"meshpdp.test/audit"')
    h = hashlib.sha256(body).digest()
    line = body + b',"hash":"' + h.hex().encode() + b'"}'
    env, payload, b2 = parse_line(line)
    assert b2 == body and payload["log_id"] == "meshpdp.test/audit"
    assert h.hex() == "5a3104c6318170fee01a9350519a771d1d53d939bd75e1d9020f5ca899268a06"
    r = Range()
    r.append(h)
    assert r.root().hex() == "9d5826e8af5ba7f8c08e13303a96aa08f6cd5ad2f3241069f8d7bc8f567be2d6"
    # RFC 6962 shape for 3..7 leaves against the recursive definition
    def mth(hs):
        if len(hs) == 1:
            return leaf(hs[0])
        k = 1
        while k * 2 < len(hs):
            k *= 2
        return node(mth(hs[:k]), mth(hs[k:]))
    hs = [hashlib.sha256(bytes([i])).digest() for i in range(9)]
    r = Range()
    for i, x in enumerate(hs):
        r.append(x)
        assert r.root() == mth(hs[:i + 1])
    # a note signed here verifies, a flipped byte does not
    k = Ed25519PrivateKey.generate()
    pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    text = "o.example/x\n9\n%s\n" % base64.b64encode(r.root()).decode()
    sig = base64.b64encode(key_id("o.example/x", pub) + k.sign(text.encode())).decode()
    note = parse_note(text + "\n" + EM_DASH + " o.example/x " + sig + "\n")
    assert note_signed_by(note, "o.example/x", pub)
    bad = parse_note(text.replace("9", "8") + "\n" + EM_DASH + " o.example/x " + sig + "\n")
    try:
        note_signed_by(bad, "o.example/x", pub)
        raise AssertionError("a changed note verified")
    except Bad:
        pass
    print("self-test: 1 passed, 0 failed")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    args, keys, cp, d = argv[1:], [], None, None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--pubkey", "--checkpoint") and i + 1 < len(args):
            try:
                if a == "--pubkey":
                    keys.append(load_pubkey(args[i + 1]))
                else:
                    cp = open(args[i + 1], encoding="utf-8").read()
            except (OSError, ValueError, UnicodeDecodeError) as e:
                print("verify.py: %s: %s" % (args[i + 1], e), file=sys.stderr)
                return 2
            i += 2
        elif not a.startswith("-") and d is None:
            d = a
            i += 1
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if d is None:
        print(__doc__, file=sys.stderr)
        return 2
    ok, msg = verify(d, keys, cp)
    if ok is None:
        print("verify.py: %s: %s" % (d, msg), file=sys.stderr)
        return 2
    print("verify.py: %s: %s: %s" % (d, "OK" if ok else "FAILED", msg))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
