#!/usr/bin/python3
"""test_audit.py -- the audit log end to end, without the server.

Logs are written by the real C writer (tests/audit/driver.c: several
threads standing in for the server's workers). Each test checks them with
BOTH verifiers, `pdp audit verify` (C) and tests/audit/verify.py (Python,
written from docs/audit-log-format.md alone), and tampered copies must fail
in both, at the same record. Then `pdp audit show` and `pdp audit
checkpoint`, and kill -9 of the writer at a random moment in each fsync
mode: after a restart the chain verifies and every decision the driver
acknowledged is in the log at the seq it was given.

    test_audit.py --pdp build/pdp --driver build/tests/audit_driver

Ends with "N passed, N failed".
"""
import argparse
import base64
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
VERIFY_PY = os.path.join(HERE, "verify.py")
PY = "/usr/bin/python3"
LOG_ID = "meshpdp.test/audit"

sys.path.insert(0, HERE)
import verify as pyverify  # noqa: E402  (for the rewrite attack's helpers)

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402


class Ctx:
    pass


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def keypair(path):
    k = Ed25519PrivateKey.generate()
    with open(path + ".pem", "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    with open(path + ".pub", "wb") as f:
        f.write(k.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo))
    return k


def driver(c, logdir, *extra, check=True):
    cmd = [c.driver, "--dir", logdir, "--key", c.key + ".pem", "--log-id", LOG_ID] + list(extra)
    r = run(cmd)
    if check and r.returncode != 0:
        raise AssertionError("driver failed: %s\n%s%s" % (cmd, r.stdout, r.stderr))
    return r


SEQ_C = re.compile(r"audit-\d{20}\.log:\d+: seq (\d+):")
SEQ_PY = re.compile(r"audit-\d{20}\.log:\d+: seq (\d+):")


def verify_both(c, logdir, pubkey=True, checkpoint=None):
    """Runs both verifiers; returns (c_rc, c_out, py_rc, py_out)."""
    args = [logdir]
    if pubkey:
        args += ["--pubkey", c.key + ".pub"]
    if checkpoint:
        args += ["--checkpoint", checkpoint]
    rc = run([c.pdp, "audit", "verify"] + args)
    rp = run([PY, VERIFY_PY] + args)
    return rc.returncode, rc.stdout + rc.stderr, rp.returncode, rp.stdout + rp.stderr


def expect_ok(c, logdir, **kw):
    crc, cout, prc, pout = verify_both(c, logdir, **kw)
    assert crc == 0, "C verifier failed on a good log:\n" + cout
    assert prc == 0, "Python verifier failed on a good log:\n" + pout
    return cout, pout


def expect_bad(c, logdir, why_c, why_py, **kw):
    """Both fail (exit 1) naming the same record, each giving the reason."""
    crc, cout, prc, pout = verify_both(c, logdir, **kw)
    assert crc == 1, "C verifier did not fail (rc %d):\n%s" % (crc, cout)
    assert prc == 1, "Python verifier did not fail (rc %d):\n%s" % (prc, pout)
    assert re.search(why_c, cout), "C reason %r not in:\n%s" % (why_c, cout)
    assert re.search(why_py, pout), "Python reason %r not in:\n%s" % (why_py, pout)
    sc, sp = SEQ_C.search(cout), SEQ_PY.search(pout)
    if sc or sp:
        assert sc and sp and sc.group(1) == sp.group(1), \
            "the verifiers name different records:\n%s\n%s" % (cout, pout)
    return cout, pout


# ---- logs and their copies -------------------------------------------------

def segments(logdir):
    return sorted(n for n in os.listdir(logdir) if re.fullmatch(r"audit-\d{20}\.log", n))


def read_lines(logdir):
    """[(segment, [line bytes without newline])]"""
    out = []
    for s in segments(logdir):
        data = open(os.path.join(logdir, s), "rb").read()
        out.append((s, data.split(b"\n")[:-1]))
    return out


def write_lines(logdir, segs):
    for s in segments(logdir):
        os.unlink(os.path.join(logdir, s))
    for name, lines in segs:
        with open(os.path.join(logdir, name), "wb") as f:
            f.write(b"".join(l + b"\n" for l in lines))


def copy_log(c, name):
    dst = os.path.join(c.tmp, name)
    shutil.copytree(c.log, dst)
    return dst


def find(segs, needle):
    for si, (_, lines) in enumerate(segs):
        for li, l in enumerate(lines):
            if needle in l:
                return si, li
    raise AssertionError("not found: %r" % needle)


def seq_of(line):
    return int(re.search(rb'"seq":(\d+)', line).group(1))


def decision_lines(segs):
    return [(si, li) for si, (_, ls) in enumerate(segs) for li, l in enumerate(ls)
            if b'"type":"decision"' in l]


# ---- the tests ---------------------------------------------------------------

def t_self_test(c):
    r = run([PY, VERIFY_PY, "--self-test"])
    assert r.returncode == 0, r.stdout + r.stderr


def t_good_log(c):
    cout, pout = expect_ok(c, c.log, checkpoint=c.witness_cp)
    assert "OK" in cout and "trusted key" in cout, cout
    n_c = int(re.search(r"OK: (\d+) records", cout).group(1))
    n_p = int(re.search(r"OK: (\d+) records", pout).group(1))
    assert n_c == n_p > 4000, (n_c, n_p)
    assert len(segments(c.log)) > 3
    # without a trusted key the C verifier says what it checked against
    r = run([c.pdp, "audit", "verify", c.log])
    assert r.returncode == 0 and "NOT a trust anchor" in r.stdout, r.stdout


def t_pseudonymised(c):
    segs = read_lines(c.log)
    si, li = decision_lines(segs)[0]
    rec = json.loads(segs[si][1][li])
    assert "id_hmac" in rec["subject"] and "id" not in rec["subject"], rec
    for _, ls in segs:
        for l in ls:
            assert b'"id":"u-' not in l, "a subject id in clear"


def t_changed_field(c):
    d = copy_log(c, "changed")
    segs = read_lines(d)
    si, li = decision_lines(segs)[100]
    before = segs[si][1][li]
    segs[si][1][li] = before.replace(b'"decision":"allow"', b'"decision":"deny!"', 1)
    assert segs[si][1][li] != before
    write_lines(d, segs)
    expect_bad(c, d, "hash does not match", "hash does not match")


def t_deleted_record(c):
    d = copy_log(c, "deleted")
    segs = read_lines(d)
    si, li = decision_lines(segs)[200]
    del segs[si][1][li]
    write_lines(d, segs)
    expect_bad(c, d, "deleted, inserted or reordered", "deleted, inserted or reordered")


def t_inserted_record(c):
    d = copy_log(c, "inserted")
    segs = read_lines(d)
    si, li = decision_lines(segs)[300]
    segs[si][1].insert(li + 1, segs[si][1][li])
    write_lines(d, segs)
    expect_bad(c, d, "deleted, inserted or reordered", "deleted, inserted or reordered")


def t_swapped_records(c):
    d = copy_log(c, "swapped")
    segs = read_lines(d)
    si, li = decision_lines(segs)[400]
    ls = segs[si][1]
    ls[li], ls[li + 1] = ls[li + 1], ls[li]
    write_lines(d, segs)
    expect_bad(c, d, "deleted, inserted or reordered", "deleted, inserted or reordered")


def t_truncated_tail(c):
    d = copy_log(c, "truncated")
    segs = read_lines(d)
    # drop the last segment and the last 5 records of the one before
    segs = segs[:-1]
    segs[-1] = (segs[-1][0], segs[-1][1][:-5])
    write_lines(d, segs)
    expect_ok(c, d)  # a cut at a record boundary: invisible to the log alone
    expect_bad(c, d, "log truncated", "log truncated", checkpoint=c.witness_cp)


def t_torn_write(c):
    d = copy_log(c, "torn")
    last = os.path.join(d, segments(d)[-1])
    size = os.path.getsize(last)
    os.truncate(last, size - 40)
    expect_bad(c, d, "torn last line", "torn last line")
    # a torn write in the middle of the log: half a line, then the rest
    d2 = copy_log(c, "torn-middle")
    segs = read_lines(d2)
    si, li = decision_lines(segs)[50]
    segs[si][1][li] = segs[si][1][li][:150]
    write_lines(d2, segs)
    expect_bad(c, d2, r"seq \d+: ", r"seq \d+: ")


def t_deleted_segment(c):
    d = copy_log(c, "segment")
    os.unlink(os.path.join(d, segments(d)[1]))
    expect_bad(c, d, "a segment is missing", "segment starts at seq")


def t_forged_checkpoint(c):
    d = copy_log(c, "forged-cp")
    segs = read_lines(d)
    si, li = find(segs, b'"type":"checkpoint"')
    li2 = [i for i, l in enumerate(segs[si][1]) if b'"type":"checkpoint"' in l][-1]
    line = segs[si][1][li2]
    # the size claimed by the note changes; the record's hash no longer matches
    segs[si][1][li2] = re.sub(rb'(audit\\n)(\d+)', lambda m: m.group(1) + str(int(m.group(2)) + 1).encode(),
                              line, count=1)
    assert segs[si][1][li2] != line
    write_lines(d, segs)
    expect_bad(c, d, "hash does not match", "hash does not match")


def rewrite(d, key, edit):
    """The attacker's rewrite: edit decisions, recompute every hash, re-sign
    every checkpoint with `key`, and name that key in each start record."""
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = pyverify.key_id(LOG_ID, pub)
    vkey = "%s+%s+%s" % (LOG_ID, kid.hex(), base64.b64encode(b"\x01" + pub).decode())
    segs = read_lines(d)
    head, tree, seq, out = bytes(32), pyverify.Range(), 0, []
    for name, lines in segs:
        new = []
        for l in lines:
            env, payload, _ = pyverify.parse_line(l)
            if env["type"] == "checkpoint":
                text = "%s\n%d\n%s\n" % (LOG_ID, seq, base64.b64encode(tree.root()).decode())
                sig = base64.b64encode(kid + key.sign(text.encode())).decode()
                payload = {"note": text + "\n" + pyverify.EM_DASH + " " + LOG_ID + " " + sig + "\n",
                           "range": [h.hex() for h in tree.hashes]}
            elif env["type"] == "start":
                payload["key"] = vkey
            elif env["type"] == "decision":
                edit(payload)
            body = '{"v":1,"seq":%d,"ts":"%s","type":"%s","prev":"%s"' % (
                seq, env["ts"], env["type"], head.hex())
            body += "".join("," + pyverify.canon(k) + ":" + pyverify.canon(payload[k]) for k in sorted(payload))
            body = body.encode()
            h = hashlib.sha256(body).digest()
            new.append(body + b',"hash":"' + h.hex().encode() + b'"}')
            head = h
            tree.append(h)
            seq += 1
        out.append((name, new))
    write_lines(d, out)


class EditOne:
    """Turns the 100th decision's read into a write (a real change)."""

    def __init__(self):
        self.n = 0

    def __call__(self, p):
        self.n += 1
        if self.n == 100:
            assert p["action"] == "read"
            p["action"] = "write"


def t_rewritten_log(c):
    d = copy_log(c, "rewritten")
    rewrite(d, Ed25519PrivateKey.generate(), EditOne())
    # caught by the signature under the trusted key
    expect_bad(c, d, "not signed by a trusted key", "not signed by a trusted key")
    # self-consistent without it (and both say so by succeeding)
    expect_ok(c, d, pubkey=False)
    # a checkpoint held elsewhere catches it even without the key
    expect_bad(c, d, "differ from the --checkpoint", "differ from the external checkpoint",
               pubkey=False, checkpoint=c.witness_cp)


def t_rewritten_by_key_holder(c):
    d = copy_log(c, "insider")
    pem = open(c.key + ".pem", "rb").read()
    rewrite(d, serialization.load_pem_private_key(pem, None), EditOne())
    expect_ok(c, d)  # the signing key re-signs everything ...
    expect_bad(c, d, "differ from the --checkpoint", "differ from the external checkpoint",
               checkpoint=c.witness_cp)  # ... the witness copy does not agree


def t_show(c):
    segs = read_lines(c.log)
    recs = [json.loads(l) for _, ls in segs for l in ls]
    decs = [r for r in recs if r["type"] == "decision"]
    r = run([c.pdp, "audit", "show", c.log, "--type", "decision", "--json"])
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == len(decs)
    # by subject, through the pseudonym
    want = [x for x in decs if x["subject"]["id_hmac"] == c.hmac_of("u-2-7")]
    assert len(want) >= 1
    r = run([c.pdp, "audit", "show", c.log, "--subject", "u-2-7", "--hmac-key", c.hmac_key])
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and len(lines) == len(want), (r.stdout, r.stderr, len(want))
    assert "decision allow" in lines[0] and "product=orders.order_events" in lines[0], lines[0]
    assert "customer_email:mask:hash" in lines[0], lines[0]
    # by product and decision: none here is a deny
    r = run([c.pdp, "audit", "show", c.log, "--product", "orders.order_events", "--decision", "deny"])
    assert r.returncode == 0 and r.stdout == "", r.stdout
    r = run([c.pdp, "audit", "show", c.log, "--product", "nope.nope"])
    assert r.returncode == 0 and r.stdout == ""
    # by time (whole seconds): [first, last + 1s) holds all, nothing before
    # the first second, nothing from the second after the last
    def sec(ts, plus=0):
        t = time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(__import__("calendar").timegm(t) + plus))
    first, last = recs[0]["ts"], recs[-1]["ts"]
    r = run([c.pdp, "audit", "show", c.log, "--since", sec(first), "--until", sec(last, 1), "--json"])
    assert len(r.stdout.splitlines()) == len(recs), (r.stdout[:200], r.stderr)
    r = run([c.pdp, "audit", "show", c.log, "--until", sec(first)])
    assert r.returncode == 0 and r.stdout == "", r.stdout[:300]
    r = run([c.pdp, "audit", "show", c.log, "--since", sec(last, 1)])
    assert r.returncode == 0 and r.stdout == "", r.stdout[:300]
    r = run([c.pdp, "audit", "show", c.log, "--since", "yesterday"])
    assert r.returncode == 2


def t_checkpoint_cmd(c):
    r = run([c.pdp, "audit", "checkpoint", c.log])
    assert r.returncode == 0
    assert r.stdout == open(c.witness_cp).read(), "the log's last checkpoint is the witness copy"


def t_cli_errors(c):
    r = run([c.pdp, "audit", "verify", os.path.join(c.tmp, "nope")])
    assert r.returncode == 2, r
    r = run([c.pdp, "audit", "verify"])
    assert r.returncode == 2
    r = run([c.pdp, "audit", "verify", c.log, "--pubkey", "/nonexistent"])
    assert r.returncode == 2 and "nonexistent" in r.stderr
    r = run([c.pdp, "audit", "frobnicate"])
    assert r.returncode == 2
    r = run([c.pdp, "audit", "--help"])
    assert r.returncode == 0 and "verify" in r.stdout


def kill9(c, mode):
    """Kills the writer at a random moment; restarts; checks every ack."""
    d = os.path.join(c.tmp, "kill-" + mode)
    w = os.path.join(c.tmp, "witness-" + mode)
    os.mkdir(w)
    acks = os.path.join(c.tmp, "acks-" + mode)
    total = 0
    for round_ in range(3):
        p = subprocess.Popen([c.driver, "--dir", d, "--key", c.key + ".pem", "--log-id", LOG_ID,
                              "--fsync", mode, "--threads", "4", "--seconds", "60", "--rate", "6000",
                              "--segment-max", "200000", "--checkpoint-every", "500",
                              "--witness", w, "--ack", acks],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(random.uniform(0.2, 0.8))
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert p.returncode == -signal.SIGKILL
        # the restart verifies the tail, cuts a torn line, records the recovery
        driver(c, d, "--open-only")
        r = run([c.pdp, "audit", "verify", d, "--pubkey", c.key + ".pub",
                 "--checkpoint", os.path.join(w, "checkpoint")])
        assert r.returncode == 0, r.stdout + r.stderr
    expect_ok(c, d, checkpoint=os.path.join(w, "checkpoint"))
    logged = {}
    for _, ls in read_lines(d):
        for l in ls:
            m = re.search(rb'"decision_id":"([^"]+)"', l)
            if m:
                logged[m.group(1).decode()] = seq_of(l)
    n = 0
    for line in open(acks):
        # the driver is killed while writing its own ack file too: a torn ack
        # line is an ack nobody received, so it is skipped, not trusted
        m = re.fullmatch(r"(\S+) (\S+) (\d+)\n", line)
        if not m:
            continue
        did, seq = m.group(2), m.group(3)
        assert logged.get(did) == int(seq), "acked %s at %s, log has %r" % (did, seq, logged.get(did))
        n += 1
    assert n > 500, n
    recov = run([c.pdp, "audit", "show", d, "--type", "recovery"])
    assert len(recov.stdout.splitlines()) == 3, recov.stdout
    torn = len(re.findall(r'"truncated_bytes":[1-9]', recov.stdout))
    return n, torn


def t_kill9_always(c):
    c.notes.append("kill -9 (always): %d acked decisions all in the log; %d of 3 restarts cut a torn line"
                   % kill9(c, "always"))


def t_kill9_interval(c):
    c.notes.append("kill -9 (interval): %d acked decisions all in the log; %d of 3 restarts cut a torn line"
                   % kill9(c, "interval"))


def t_kill9_none(c):
    c.notes.append("kill -9 (none): %d acked decisions all in the log; %d of 3 restarts cut a torn line"
                   % kill9(c, "none"))


TESTS = [t_self_test, t_good_log, t_pseudonymised, t_changed_field, t_deleted_record,
         t_inserted_record, t_swapped_records, t_truncated_tail, t_torn_write, t_deleted_segment,
         t_forged_checkpoint, t_rewritten_log, t_rewritten_by_key_holder, t_show, t_checkpoint_cmd,
         t_cli_errors, t_kill9_always, t_kill9_interval, t_kill9_none]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdp", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("-k", default="", help="run only tests whose name contains this")
    a = ap.parse_args()
    c = Ctx()
    c.pdp, c.driver, c.notes = os.path.abspath(a.pdp), os.path.abspath(a.driver), []
    c.tmp = tempfile.mkdtemp(prefix="pdp-audit-py.")
    try:
        c.key = os.path.join(c.tmp, "key")
        keypair(c.key)
        c.hmac_key = os.path.join(c.tmp, "hmac.key")
        with open(c.hmac_key, "w") as f:
            f.write("test-pseudonym-key-0123456789abcdef\n")
        hk = b"test-pseudonym-key-0123456789abcdef"
        import hmac as _hmac
        c.hmac_of = lambda s: _hmac.new(hk, s.encode(), hashlib.sha256).hexdigest()
        # the shared log: 4 writer threads, small segments, a witness
        c.log = os.path.join(c.tmp, "log")
        witness = os.path.join(c.tmp, "witness")
        os.mkdir(witness)
        driver(c, c.log, "--threads", "4", "--records", "1200", "--segment-max", "150000",
               "--checkpoint-every", "300", "--witness", witness, "--hmac-key", c.hmac_key)
        c.witness_cp = os.path.join(witness, "checkpoint")
        passed = failed = 0
        for t in TESTS:
            if a.k not in t.__name__:
                continue
            t0 = time.time()
            try:
                t(c)
                passed += 1
                print("ok   %s (%.1fs)" % (t.__name__, time.time() - t0))
            except Exception:
                failed += 1
                print("FAIL %s\n%s" % (t.__name__, traceback.format_exc()))
        for n in c.notes:
            print("     " + n)
        print("audit: %d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    finally:
        shutil.rmtree(c.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
