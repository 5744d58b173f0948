#!/usr/bin/env python3
"""test_server.py PDP -- the real server over real mutual TLS.

Starts `pdp serve` on a free port with the dev PKI and the example mesh,
drives it with Python's ssl module (OpenSSL underneath) and checks every
answer: decisions, batch, SELECT *, every error status, certificates from
no CA and another CA, callers without the role, limits (oversize body,
slow client, deep JSON), 32 parallel clients, X-Request-Id, /metrics under
promtool, reload by SIGHUP and by file change (good, corrupt and unsigned
bundles), and SIGTERM draining. Prints `N passed, N failed`.
"""
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

PDP = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/pdp")
ROOT = os.getcwd()
TMP = tempfile.mkdtemp(prefix="pdp-it-")
CERTS = os.path.join(TMP, "certs")
results = {"pass": 0, "fail": 0}


def check(name, cond, detail=""):
    if cond:
        results["pass"] += 1
        print("ok   " + name)
    else:
        results["fail"] += 1
        print("FAIL " + name + (": " + str(detail) if detail else ""))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def setup():
    run("certs/gen.sh", CERTS)
    run(PDP, "compile", "examples/mesh", "-o", os.path.join(TMP, "mesh.bundle"),
        "--sign", os.path.join(CERTS, "signing.pem"))
    port = free_port()
    cfg = os.path.join(TMP, "pdp.yaml")
    with open(cfg, "w") as f:
        f.write(f"""listen: 127.0.0.1:{port}
threads: 2
tls: {{cert: {CERTS}/server.pem, key: {CERTS}/server.key, client_ca: {CERTS}/ca.pem}}
policy: {{bundle: {TMP}/mesh.bundle, pubkey: {CERTS}/signing.pub, watch_ms: 200, mask_salt: s3cret}}
limits: {{max_body_bytes: 65536, read_timeout_ms: 1000, max_batch: 50, max_json_depth: 16}}
log: {{level: info}}
audit: {{dir: {TMP}/audit, checkpoint_key: {CERTS}/audit.pem, log_id: test.example/audit, checkpoint_every: 50}}
""")
    return port, cfg


def start(cfg):
    log = open(os.path.join(TMP, "server.log"), "a")
    p = subprocess.Popen([PDP, "serve", "-c", cfg], stdout=log, stderr=log)
    return p


def ctx(name="gateway", ca="ca"):
    c = ssl.create_default_context(cafile=os.path.join(CERTS, ca + ".pem") if ca else None)
    if ca is None:
        c.load_verify_locations(os.path.join(CERTS, "ca.pem"))
    if name:
        c.load_cert_chain(os.path.join(CERTS, name + ".pem"), os.path.join(CERTS, name + ".key"))
    return c


class Client:
    def __init__(self, port, name="gateway"):
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx(name), timeout=10)

    def req(self, method, path, body=None, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        raw = r.read()
        try:
            js = json.loads(raw)
        except ValueError:
            js = None
        return r.status, js, raw, r

    def close(self):
        self.conn.close()


def wait_ready(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            c = Client(port)
            st, js, _, _ = c.req("GET", "/v1/ready")
            c.close()
            if st == 200:
                return True
        except OSError:
            time.sleep(0.05)
    return False


FIN = {"id": "u-1842", "domain": "finance", "groups": ["finance-analysts"]}


def decision(product, columns=None, purpose=None, subject=None, action="read", dialect=None):
    r = {"subject": subject or FIN, "action": action, "resource": {"product": product}}
    if columns is not None:
        r["resource"]["columns"] = columns
    ctx_ = {}
    if purpose:
        ctx_["purpose"] = purpose
    if dialect:
        ctx_["dialect"] = dialect
    if ctx_:
        r["context"] = ctx_
    return r


def test_decisions(port):
    c = Client(port)
    st, js, _, resp = c.req("POST", "/v1/decision",
                            decision("orders.order_events", ["event_id", "customer_email"], "billing"),
                            {"X-Request-Id": "req-123"})
    check("allow with a mask", st == 200 and js["decision"] == "allow"
          and js["columns"]["customer_email"] == {"access": "mask", "mask": "hash"}, js)
    check("row filter and reasons", js and js["row_filter"] == "(region = 'EU')" and js["reasons"] == [
        "mesh#rules[pii-cross-domain]", "orders.order_events#grants[0]"], js)
    check("decision carries its audit_seq", js and isinstance(js.get("audit_seq"), int) and js["audit_seq"] > 0, js)
    check("decision_id and revision", js and len(js.get("decision_id", "")) > 10
          and js["policy_revision"].startswith("sha256:"), js)
    check("X-Request-Id echoed", resp.getheader("X-Request-Id") == "req-123")
    st, js, _, _ = c.req("POST", "/v1/decision", decision("orders.order_events", ["event_id"]))
    check("deny without purpose", st == 200 and js["decision"] == "deny" and js["reasons"] == ["default_deny"], js)
    st, js, _, _ = c.req("POST", "/v1/decision", decision("orders.nope"))
    check("unknown product", st == 200 and js["decision"] == "deny" and js["reasons"] == ["unknown_product"], js)
    contractor = {"id": "u-11", "domain": "orders", "groups": ["orders-contractors"]}
    st, js, _, _ = c.req("POST", "/v1/decision", decision("orders.order_events", subject=contractor))
    check("SELECT * lists denied columns", st == 200 and js["decision"] == "allow"
          and js["columns"]["customer_email"] == {"access": "deny"} and len(js["columns"]) == 9, js)
    st, js, _, _ = c.req("POST", "/v1/decision",
                         decision("orders.order_events", ["customer_email"], "billing", dialect="postgres"))
    sql = js["columns"]["customer_email"].get("sql", "") if js else ""
    check("dialect gives SQL with the salt", "sha256" in sql and "'s3cret'" in sql, js)
    st, js, _, _ = c.req("POST", "/v1/decision", {"subject": FIN, "action": "read",
                                                  "resource": {"product": "orders.order_events"},
                                                  "context": {"time": "2020-01-01"}})
    check("context.time is ignored by the server", st == 200 and js["decision"] == "deny", js)
    c.close()


def test_batch(port):
    c = Client(port)
    reqs = [decision("orders.order_events", ["event_id"], "billing"), decision("orders.nope"),
            {"subject": FIN, "action": "fly", "resource": {"product": "x"}}]
    st, js, _, _ = c.req("POST", "/v1/decisions", {"requests": reqs})
    ok = st == 200 and len(js["decisions"]) == 3 and js["decisions"][0]["decision"] == "allow" \
        and js["decisions"][1]["reasons"] == ["unknown_product"] and "error" in js["decisions"][2]
    check("batch answers each request in order", ok, js)
    st, js, _, _ = c.req("POST", "/v1/decisions", {"requests": reqs * 20})
    check("batch over max_batch is 400", st == 400 and js["error"]["code"] == "limit", js)
    st, js, _, _ = c.req("POST", "/v1/decisions", {"requests": []})
    check("empty batch is 400", st == 400, js)
    c.close()


def test_errors(port):
    c = Client(port)
    cases = [
        ("bad JSON", "POST", "/v1/decision", "{nope", {}, 400, "bad_json"),
        ("unknown key", "POST", "/v1/decision", json.dumps({**decision("a.b"), "x": 1}), {}, 400, "bad_request"),
        ("duplicate key", "POST", "/v1/decision",
         '{"subject":{"id":"a"},"action":"read","action":"write","resource":{"product":"p"}}', {}, 400, "bad_json"),
        ("deep JSON", "POST", "/v1/decision", "[" * 5000 + "]" * 5000, {}, 400, "limit"),
        ("unknown purpose", "POST", "/v1/decision", json.dumps(decision("orders.order_events", purpose="fun")),
         {}, 400, "bad_request"),
        ("no such path", "GET", "/v2/nothing", None, {}, 404, "not_found"),
        ("wrong method", "GET", "/v1/decision", None, {}, 405, "method_not_allowed"),
        ("wrong content type", "POST", "/v1/decision", "{}", {"Content-Type": "text/plain"}, 415,
         "unsupported_media_type"),
    ]
    for name, m, path, body, hdrs, want, code in cases:
        st, js, raw, _ = c.req(m, path, body, hdrs)
        check(name + " -> %d" % want, st == want and js and js["error"]["code"] == code, (st, raw[:200]))
    c.close()
    # 411: a POST without a body or length
    s = ctx().wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"POST /v1/decision HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n")
    data = s.recv(4096)
    check("POST without a length -> 411", b" 411 " in data.split(b"\r\n")[0], data[:100])
    s.close()
    # 413: the limit is enforced on Content-Length, before the body is read
    # (a client still sending a large body would race the close)
    s = ctx().wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"POST /v1/decision HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 70000\r\n\r\n" + b"x" * 1000)
    s.settimeout(5)
    data = s.recv(4096)
    check("oversize body -> 413", b" 413 " in data.split(b"\r\n")[0], data[:100])
    s.close()
    c = Client(port, "nobody")
    st, js, _, _ = c.req("POST", "/v1/decision", decision("orders.order_events"))
    check("caller without the role -> 403", st == 403 and js["error"]["code"] == "forbidden", js)
    c.close()
    c = Client(port, "cn-only")
    st, js, _, _ = c.req("GET", "/v1/status")
    check("CN identity without a role -> 403", st == 403, js)
    st, js, _, _ = c.req("GET", "/v1/health")
    check("health needs no role", st == 200 and js == {"status": "ok"}, js)
    c.close()
    c = Client(port, "admin")
    st, js, _, _ = c.req("GET", "/v1/status")
    check("admin reads status", st == 200 and js["policy_revision"].startswith("sha256:") and js["signed"], js)
    c.close()


def handshake_refused(port, name, ca="ca"):
    try:
        c = ctx(name, ca)
        s = c.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost")
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(100)
        s.close()
        return data == b""
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def test_certificates(port):
    check("no client certificate: handshake refused", handshake_refused(port, None))
    check("certificate from another CA: handshake refused", handshake_refused(port, "rogue"))


def test_slow_client(port):
    s = ctx().wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"POST /v1/decision HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
    t0 = time.time()
    c = Client(port)
    st, _, _, _ = c.req("GET", "/v1/health")
    check("a slow client does not block others", st == 200 and time.time() - t0 < 1.0)
    c.close()
    s.settimeout(5)
    try:
        data = s.recv(4096)
    except (socket.timeout, ssl.SSLError, ConnectionResetError):
        data = None
    check("a slow client is cut off after read_timeout", data is not None and time.time() - t0 < 4, data)
    s.close()


def test_parallel(port):
    errors = []
    subjects = [({"id": "u-%d" % i, "domain": "orders", "groups": ["orders-engineers"]}, "allow")
                if i % 2 else (dict(FIN, id="u-%d" % i), "deny") for i in range(32)]

    def client(i):
        try:
            c = Client(port)
            subj, want = subjects[i]
            for _ in range(20):
                st, js, _, _ = c.req("POST", "/v1/decision", decision("orders.order_events", ["event_id"], subject=subj))
                if st != 200 or js["decision"] != want:
                    errors.append((i, st, js))
            c.close()
        except Exception as e:  # noqa: BLE001 -- any failure is a failed check
            errors.append((i, repr(e)))

    ts = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check("32 parallel clients, 640 answers all right", not errors, errors[:3])


def test_metrics(port):
    c = Client(port)
    st, _, raw, resp = c.req("GET", "/metrics")
    c.close()
    text = raw.decode()
    check("metrics served", st == 200 and "pdp_decisions_total" in text and "pdp_policy_info{revision=" in text)
    check("metrics count refused handshakes", "pdp_tls_handshake_failures_total 0" not in text, text[-600:])
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        check("promtool check metrics", p.returncode == 0, p.stdout + p.stderr)
    else:
        check("promtool installed", False, "promtool not found (Debian package prometheus)")


def revision(port):
    c = Client(port, "admin")
    st, js, _, _ = c.req("GET", "/v1/status")
    c.close()
    return js


def hup(port, proc):
    """SIGHUP, then wait (10 s at most) until the server has counted the
    reload it triggers, taken or refused."""
    def count():
        r = revision(port)["reloads"]
        return r["success"] + r["failure"]
    n = count()
    os.kill(proc.pid, signal.SIGHUP)
    deadline = time.time() + 10
    while count() == n and time.time() < deadline:
        time.sleep(0.05)


def test_reload(port, proc):
    before = revision(port)["policy_revision"]
    bundle = os.path.join(TMP, "mesh.bundle")
    # a corrupt bundle, renamed into place: refused, the old one serves
    with open(bundle, "rb") as f:
        data = bytearray(f.read())
    data[100] ^= 0xFF
    with open(bundle + ".new", "wb") as f:
        f.write(data)
    os.rename(bundle + ".new", bundle)
    time.sleep(0.8)
    st = revision(port)
    check("corrupt bundle refused, old revision serves", st["policy_revision"] == before
          and not st["last_reload"]["ok"] and "corrupt" in (st["last_reload"]["error"] or ""), st)
    # an unsigned bundle: refused
    run(PDP, "compile", "examples/mesh", "-o", bundle + ".new")
    os.rename(bundle + ".new", bundle)
    hup(port, proc)
    st = revision(port)
    check("unsigned bundle refused", st["policy_revision"] == before
          and "not signed" in (st["last_reload"]["error"] or ""), st)
    # a good new revision: taken by the file watch
    mesh2 = os.path.join(TMP, "mesh2")
    shutil.copytree("examples/mesh", mesh2)
    p = os.path.join(mesh2, "domains/orders/products/order_events.yaml")
    with open(p) as f:
        txt = f.read()
    with open(p, "w") as f:
        f.write(txt.replace("version: 2.1.0", "version: 2.2.0"))
    run(PDP, "compile", mesh2, "-o", bundle + ".new", "--sign", os.path.join(CERTS, "signing.pem"))
    os.rename(bundle + ".new", bundle)
    time.sleep(0.8)
    st = revision(port)
    check("new signed bundle taken on file change", st["policy_revision"] != before and st["last_reload"]["ok"]
          and st["reloads"]["success"] >= 1 and st["reloads"]["failure"] >= 2, st)
    c = Client(port)
    _, js, _, _ = c.req("POST", "/v1/decision", decision("orders.order_events", ["event_id"], "billing"))
    c.close()
    check("answers name the new revision", js["policy_revision"] == st["policy_revision"], js)

def server_cert_digest(port):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with ctx().wrap_socket(raw, server_hostname="localhost") as s:
        der = s.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest()


def new_server_cert(key_out, cert_out, subject="/CN=localhost"):
    """A new server certificate from the same dev CA (certs/gen.sh's shape)."""
    csr, ext = cert_out + ".csr", cert_out + ".ext"
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key_out, "-out", csr, "-subj", subject)
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(CERTS, "ca.pem"), "-CAkey",
        os.path.join(CERTS, "ca.key"), "-CAcreateserial", "-out", cert_out, "-days", "30", "-extfile", ext)
    os.unlink(csr)
    os.unlink(ext)


def test_cert_swap(port, proc):
    """SIGHUP reloads the TLS files too: new connections get the new
    certificate, open ones carry on; a certificate that does not match its
    key is refused and the old pair keeps serving."""
    old = server_cert_digest(port)
    keep = Client(port)
    st0, _, _, _ = keep.req("GET", "/v1/health")
    cert, key = os.path.join(CERTS, "server.pem"), os.path.join(CERTS, "server.key")
    new_server_cert(key + ".new", cert + ".new", "/CN=localhost rotated")
    os.rename(key + ".new", key)
    os.rename(cert + ".new", cert)
    hup(port, proc)
    swapped = server_cert_digest(port)
    check("SIGHUP: new connections get the new server certificate", swapped != old, (old, swapped))
    st1, _, _, _ = keep.req("GET", "/v1/health")
    check("a connection opened before the swap carries on", st0 == 200 and st1 == 200, (st0, st1))
    keep.close()
    # a certificate whose key is not the one configured: refused, nothing changes
    spare_key = os.path.join(TMP, "spare.key")
    new_server_cert(spare_key, cert + ".new")
    os.rename(cert + ".new", cert)
    hup(port, proc)
    st = revision(port)
    check("a certificate that does not match its key is refused",
          not st["last_reload"]["ok"] and "does not match" in (st["last_reload"]["error"] or ""), st["last_reload"])
    check("after the refused swap, the last good certificate still serves", server_cert_digest(port) == swapped)
    c = Client(port)
    s2, js, _, _ = c.req("POST", "/v1/decision", decision("orders.order_events", ["event_id"], "billing"))
    c.close()
    check("and decisions are answered", s2 == 200 and js["decision"] in ("allow", "deny"), js)
    # put a matching pair back for the tests that follow
    new_server_cert(key + ".new", cert + ".new")
    os.rename(key + ".new", key)
    os.rename(cert + ".new", cert)
    hup(port, proc)
    check("a matching pair is taken again", revision(port)["last_reload"]["ok"])


def test_admin_reload(port):
    c = Client(port, "admin")
    st, js, _, _ = c.req("POST", "/v1/admin/reload", "{}")
    check("POST /v1/admin/reload answers the revision", st == 200 and js["reloaded"]
          and js["policy_revision"].startswith("sha256:"), js)
    c.close()
    c = Client(port)
    st, js, _, _ = c.req("POST", "/v1/admin/reload", "{}")
    check("reload needs the admin role", st == 403, js)
    c.close()


def test_grants(port):
    c = Client(port, "admin")
    # the same export time on both sides: the output names it, to the second
    st, _, raw, _ = c.req("GET", "/v1/grants?format=json&time=2026-12-01T00:00:00Z")
    c.close()
    with open(os.path.join(TMP, "cli.json"), "w") as f:
        subprocess.run([PDP, "grants", "export", "--bundle", os.path.join(TMP, "mesh.bundle"), "--format", "json",
                        "--time", "2026-12-01T00:00:00Z"], stdout=f, stderr=subprocess.DEVNULL)
    cli = open(os.path.join(TMP, "cli.json"), "rb").read()
    check("GET /v1/grants gives the same bytes as pdp grants export", st == 200 and raw.rstrip(b"\n") == cli.rstrip(b"\n"),
          (st, raw[:120], cli[:120]))
    c = Client(port, "admin")
    st, js, _, _ = c.req("GET", "/v1/grants?format=excel")
    c.close()
    check("GET /v1/grants with a bad format is 400", st == 400, js)
    check("GET /v1/grants?time= exports as of that time", b'"time": "2026-12-01T00:00:00Z"' in raw, raw[-200:])
    c = Client(port, "admin")
    st, js, _, _ = c.req("GET", "/v1/grants?format=json&time=yesterday")
    c.close()
    check("GET /v1/grants with a bad time is 400", st == 400 and "time" in js["error"]["message"], js)
    c = Client(port)
    st, _, _, _ = c.req("GET", "/v1/grants?format=json")
    c.close()
    check("GET /v1/grants needs the grants role", st == 403)


def test_checkpoint(port):
    c = Client(port, "auditor")
    st, _, raw, _ = c.req("GET", "/v1/audit/checkpoint")
    c.close()
    lines = raw.decode().split("\n")
    check("checkpoint is a signed note for the log id", st == 200 and lines[0] == "test.example/audit"
          and lines[1].isdigit() and any(l.startswith("\u2014 ") for l in lines), raw[:300])
    c = Client(port)
    st, _, _, _ = c.req("GET", "/v1/audit/checkpoint")
    c.close()
    check("checkpoint needs the audit role", st == 403)


def test_audit_log():
    p = subprocess.run([PDP, "audit", "verify", os.path.join(TMP, "audit"), "--pubkey",
                        os.path.join(CERTS, "audit.pub")], capture_output=True, text=True)
    check("pdp audit verify accepts the log the server wrote", p.returncode == 0, p.stdout + p.stderr)
    recs = []
    for seg in sorted(os.listdir(os.path.join(TMP, "audit"))):
        if seg.endswith(".log") or seg.startswith("seg"):
            with open(os.path.join(TMP, "audit", seg)) as f:
                recs += [json.loads(l) for l in f if l.strip()]
    types = {r.get("type") for r in recs}
    check("decisions, refusals, reloads, start and stop are recorded",
          {"decision", "refused", "reload", "start", "stop"} <= types, sorted(t for t in types if t))


def test_drain(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    check("SIGTERM drains and exits 0", rc == 0, rc)


def test_bad_config():
    cfg = os.path.join(TMP, "bad.yaml")
    with open(cfg, "w") as f:
        f.write("listen: 127.0.0.1:1\ntls: {cert: a, key: b, client_ca: c}\npolicy: {bundle: x}\nlimits: {max_bodi_bytes: 5}\n")
    p = subprocess.run([PDP, "serve", "-c", cfg], capture_output=True, text=True, timeout=10)
    check("bad config: exit 2 naming file:line:col and the key",
          p.returncode == 2 and "bad.yaml:4:" in p.stderr and "max_bodi_bytes" in p.stderr, p.stderr)


def main():
    test_bad_config()
    port, cfg = setup()
    proc = start(cfg)
    try:
        if not wait_ready(port):
            check("server starts", False, open(os.path.join(TMP, "server.log")).read())
            return
        check("server starts", True)
        test_decisions(port)
        test_batch(port)
        test_errors(port)
        test_certificates(port)
        test_slow_client(port)
        test_parallel(port)
        test_metrics(port)
        test_reload(port, proc)
        test_admin_reload(port)
        test_cert_swap(port, proc)
        test_grants(port)
        test_checkpoint(port)
        test_drain(proc)
        test_audit_log()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if results["fail"]:
            print(open(os.path.join(TMP, "server.log")).read()[-3000:])
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
    print("%d passed, %d failed" % (results["pass"], results["fail"]))
    sys.exit(1 if results["fail"] else 0)
