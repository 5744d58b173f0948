#!/usr/bin/env python3
"""test_abuse.py PDP -- clients that misbehave at the connection level.

The paths a well-behaved client never takes, where a server written in C
frees too early or too late: a client that hangs up while its reply waits
for the audit log (FIN and RST, single and batch decisions, admin reload,
grant export), pipelined requests, plaintext and garbage on the TLS port,
handshakes abandoned half-way, chunked bodies, oversize headers, many
slow clients at once, the connection cap (and its counter coming back
down), and SIGTERM while all of that is in flight. After each group the
server must still answer, and `pdp_open_connections` must return to the
one connection that asks. Run plain in `make test`, and against the
ASan+UBSan build by tests/integration/sanitized.sh, which also fails on
any sanitizer report (leaks at exit included).
Prints `N passed, N failed`.
"""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import test_server as ts  # noqa: E402

res = {"p": 0, "f": 0}
MAX_CONN = 16
IDLE_MS = 2500  # limits.idle_timeout_ms in this configuration


def check(name, cond, detail=""):
    res["p" if cond else "f"] += 1
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": %s" % (str(detail)[:500],)))


def tls_sock(port, name="gateway", timeout=10):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ts.ctx(name).wrap_socket(raw, server_hostname="localhost")


def http_req(method, path, body=b"", extra=""):
    if isinstance(body, str):
        body = body.encode()
    head = "%s %s HTTP/1.1\r\nHost: localhost\r\n%s" % (method, path, extra)
    if method == "POST":
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


def hang_up(s, rst):
    if rst:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def read_responses(s, n, deadline=10.0):
    """Reads n HTTP responses (Content-Length framed) from s; returns [(status, headers, body)]."""
    buf, out = b"", []
    end = time.time() + deadline
    s.settimeout(deadline)
    while len(out) < n and time.time() < end:
        while b"\r\n\r\n" in buf and len(out) < n:
            head, rest = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
            length = int(hdrs.get("content-length", "0"))
            if len(rest) < length:
                break
            out.append((int(lines[0].split()[1]), hdrs, rest[:length]))
            buf = rest[length:]
        if len(out) >= n:
            break
        try:
            data = s.recv(65536)
        except (socket.timeout, ssl.SSLError, OSError):
            break
        if not data:
            break
        buf += data
    return out


def closed_by_server(s, timeout):
    """True when the server closes s within timeout (EOF or reset); False
    when it stays open (the wait times out) or sends more bytes."""
    s.settimeout(timeout)
    try:
        return s.recv(10) == b""
    except (socket.timeout, TimeoutError):
        return False
    except (OSError, ssl.SSLError):
        return True


def metric(port, name):
    c = ts.Client(port)
    _, _, raw, _ = c.req("GET", "/metrics")
    c.close()
    m = re.search(r"^%s (\d+)" % re.escape(name), raw.decode(), re.M)
    return int(m.group(1)) if m else None


def settles(port, want_open=1, deadline=5.0):
    """The server answers, and its open-connection gauge comes back to want_open."""
    end = time.time() + deadline
    got = None
    while time.time() < end:
        try:
            got = metric(port, "pdp_open_connections")
        except OSError as e:
            got = repr(e)
        if got == want_open:
            return True, got
        time.sleep(0.1)
    return False, got


DEC = json.dumps(ts.decision("orders.order_events", ["event_id", "customer_email"], "billing"))


def test_hang_ups(port):
    n = 0
    for i in range(120):
        s = tls_sock(port)
        if i % 3 == 2:
            body = json.dumps({"requests": [json.loads(DEC)] * 40})
            s.sendall(http_req("POST", "/v1/decisions", body))
        else:
            s.sendall(http_req("POST", "/v1/decision", DEC))
        if i % 4 == 0:
            time.sleep(0.001)  # sometimes the record is already queued, sometimes not
        hang_up(s, rst=i % 2 == 0)
        n += 1
    ok, got = settles(port)
    check("%d clients hanging up before their reply: server answers, no connection left open" % n, ok, got)
    c = ts.Client(port)
    st, js, _, _ = c.req("POST", "/v1/decision", DEC)
    c.close()
    check("decisions still right after the hang-ups", st == 200 and js["decision"] == "allow", js)


def test_hang_up_main_thread_work(port):
    for i in range(8):
        s = tls_sock(port, "admin")
        s.sendall(http_req("POST", "/v1/admin/reload", "{}"))
        hang_up(s, rst=i % 2 == 0)
        s = tls_sock(port, "admin")
        s.sendall(http_req("GET", "/v1/grants?format=lakeformation"))
        hang_up(s, rst=i % 2 == 1)
    ok, got = settles(port)
    check("clients hanging up on reload and grant export: no connection left open", ok, got)
    c = ts.Client(port, "admin")
    st, js, _, _ = c.req("GET", "/v1/status")
    c.close()
    # a FIN leaves the request readable, so those reloads must run; an RST may
    # discard it unread (the client aborted)
    check("the 4 reloads abandoned with FIN all ran", st == 200 and js["reloads"]["success"] >= 4, js)


def test_pipelining(port):
    s = tls_sock(port)
    reqs = b"".join(http_req("POST", "/v1/decision", DEC, "X-Request-Id: p-%d\r\n" % i) for i in range(5))
    reqs += http_req("GET", "/v1/health", extra="X-Request-Id: p-5\r\n")
    s.sendall(reqs)
    got = read_responses(s, 6)
    s.close()
    ids = [h.get("x-request-id") for _, h, _ in got]
    check("6 pipelined requests answered in order", [st for st, _, _ in got] == [200] * 6
          and ids == ["p-%d" % i for i in range(6)], (len(got), ids))
    s = tls_sock(port)
    s.sendall(reqs)
    got = read_responses(s, 1)
    hang_up(s, rst=True)
    check("a pipelining client hanging up after the first answer", len(got) == 1 and got[0][0] == 200, got)


def test_garbage(port):
    before = metric(port, "pdp_tls_handshake_failures_total")
    refused = 0
    payloads = [b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(600), b"\x16\x03\x01\x00\x05hello",
                b"\x16\x03\x03\xff\xff" + os.urandom(64), b""]
    for p in payloads:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            if p:
                s.sendall(p)
            s.shutdown(socket.SHUT_WR)
            data = s.recv(4096)
            # any answer must be a TLS alert, never HTTP
            if not data.startswith(b"HTTP"):
                refused += 1
        except OSError:
            refused += 1
        s.close()
    check("plaintext and garbage on the TLS port get no HTTP answer", refused == len(payloads), refused)
    # handshakes abandoned at every step
    for i in range(20):
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ts.ctx("gateway").wrap_bio(inc, outg, server_hostname="localhost")
        for _ in range(i % 4):
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            raw.sendall(outg.read())
            raw.settimeout(2)
            try:
                data = raw.recv(65536)
            except OSError:
                break
            if not data:
                break
            inc.write(data)
        hang_up(raw, rst=i % 2 == 0)
    ok, got = settles(port)
    check("abandoned handshakes: server answers, no connection left open", ok, got)
    after = metric(port, "pdp_tls_handshake_failures_total")
    check("garbage counted as TLS handshake failures", after is not None and before is not None
          and after >= before + 2, (before, after))


def test_http_edges(port):
    s = tls_sock(port)
    body = DEC.encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    s.sendall(b"POST /v1/decision HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    got = read_responses(s, 1)
    s.close()
    js = json.loads(got[0][2]) if got and got[0][0] == 200 else None
    check("a chunked request body is decided", js is not None and js["decision"] == "allow", got)
    s = tls_sock(port)
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
    got = read_responses(s, 1)
    s.close()
    check("oversize headers refused with 4xx", len(got) == 1 and 400 <= got[0][0] < 500, got[:1])
    # a client still sending when the refusal comes: the server drops the
    # rest (lingers) instead of closing on unread input, whose reset could
    # destroy the answer before the client reads it
    s = tls_sock(port)
    sent = 0
    try:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000)
        time.sleep(0.3)  # the server has refused and closed its side by now
        for _ in range(4):  # a closed socket answers these with a reset
            s.sendall(b"a" * 4096)
            sent += 4096
            time.sleep(0.1)
    except OSError:
        pass
    got = read_responses(s, 1)
    closed = closed_by_server(s, 5)
    s.close()
    check("a client still sending when refused: its writes go through, it reads the 431, then the close",
          sent == 4 * 4096 and len(got) == 1 and got[0][0] == 431 and closed, (got[:1], sent, closed))
    s = tls_sock(port)
    s.sendall(b"NONSENSE\r\n\r\n")
    got = read_responses(s, 1)
    s.close()
    check("a malformed request line gets 400", len(got) == 1 and got[0][0] == 400, got[:1])
    s = tls_sock(port)
    s.sendall(b"GET /v1/health HTTP/1.0\r\n\r\n")
    got = read_responses(s, 1)
    closed = closed_by_server(s, 3)
    s.close()
    check("HTTP/1.0 answered and closed", len(got) == 1 and got[0][0] == 200 and closed, (got[:1], closed))
    s = tls_sock(port)
    s.sendall(b"POST /v1/decision HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5"
              b"\r\nContent-Length: 7\r\n\r\n{}")
    got = read_responses(s, 1, deadline=3)
    s.close()
    check("conflicting Content-Length headers are not decided", not got or got[0][0] >= 400, got[:1])
    # Expect: 100-continue gets the interim answer before the body is sent
    s = tls_sock(port)
    body = DEC.encode()
    s.sendall(b"POST /v1/decision HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
    s.settimeout(5)
    try:
        interim = s.recv(4096)
    except (OSError, ssl.SSLError):
        interim = b""
    s.sendall(body)
    got = read_responses(s, 1)
    s.close()
    check("Expect: 100-continue answered 100, then the decision",
          interim.startswith(b"HTTP/1.1 100 ") and len(got) == 1 and got[0][0] == 200, (interim[:40], got[:1]))
    # refusals of the HTTP layer carry the JSON error body too
    s = tls_sock(port)
    s.sendall(b"POST /v1/decision HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 99999999\r\n\r\n")
    got = read_responses(s, 1)
    s.close()
    js = json.loads(got[0][2]) if got and got[0][2] else None
    check("oversize body: 413 with a JSON error", got and got[0][0] == 413 and js["error"]["code"] == "limit", got[:1])
    s = tls_sock(port)
    s.sendall(b"POST /v1/decision HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
    got = read_responses(s, 1)
    s.close()
    check("Content-Length with Transfer-Encoding (smuggling shape) refused 400",
          len(got) == 1 and got[0][0] == 400, got[:1])
    ok, got = settles(port)
    check("HTTP edge cases: no connection left open", ok, got)


def test_idle_timeout(port):
    s = tls_sock(port)
    s.sendall(http_req("GET", "/v1/health"))
    first = read_responses(s, 1)
    time.sleep(IDLE_MS / 1000 + 1.0)
    closed = closed_by_server(s, 3)
    s.close()
    check("an idle keep-alive connection is closed after idle_timeout_ms",
          len(first) == 1 and first[0][0] == 200 and closed, (first[:1], closed))


def test_slow_crowd(port):
    socks = []
    for i in range(10):
        s = tls_sock(port)
        s.sendall(b"POST /v1/decision HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"sub" if i % 2
                  else b"GET /v1/hea")
        socks.append(s)
    t0 = time.time()
    c = ts.Client(port)
    st, js, _, _ = c.req("POST", "/v1/decision", DEC)
    c.close()
    check("10 slow clients do not delay a good one", st == 200 and time.time() - t0 < 1.0, time.time() - t0)
    time.sleep(1.5)  # read_timeout_ms is 1000 in this configuration
    ok, got = settles(port)
    check("slow clients cut off after read_timeout: no connection left open", ok, got)
    for s in socks:
        s.close()


def test_connection_cap(port):
    socks, statuses = [], []
    for _ in range(MAX_CONN + 8):
        s = tls_sock(port)
        s.sendall(http_req("GET", "/v1/health"))
        got = read_responses(s, 1)
        statuses.append(got[0][0] if got else None)
        socks.append(s)
    n503 = statuses.count(503)
    check("over max_connections: the extra connections get 503",
          statuses.count(200) <= MAX_CONN and n503 >= 8 and statuses.count(200) + n503 == len(statuses),
          statuses)
    for s in socks:
        s.close()
    ok, got = settles(port)
    check("the connection count comes back down after the cap", ok, got)
    c = ts.Client(port)
    st, _, _, _ = c.req("POST", "/v1/decision", DEC)
    c.close()
    check("served again below the cap", st == 200, st)


def worker_loads(port):
    c = ts.Client(port)
    _, _, raw, _ = c.req("GET", "/metrics")
    c.close()
    return [int(v) for v in re.findall(r'^pdp_worker_open_connections\{worker="\d+"\} (\d+)', raw.decode(), re.M)]


def test_balance(port):
    """A burst of connections is spread over the workers (the accepting
    worker passes each to the one with the fewest): 2 workers here."""
    raws = []
    for _ in range(12):  # connect all at once: they land in the accept queue together
        r = socket.socket()
        r.setblocking(False)
        r.connect_ex(("127.0.0.1", port))
        raws.append(r)
    time.sleep(0.2)
    socks = []
    for r in raws:
        r.setblocking(True)
        r.settimeout(10)
        s = ts.ctx("gateway").wrap_socket(r, server_hostname="localhost")
        s.sendall(http_req("GET", "/v1/health"))
        socks.append(s)
    answered = [bool(read_responses(s, 1)) for s in socks]
    loads = worker_loads(port)  # the asking connection counts too: 13 in all
    check("a burst of 12 connections: all answered", all(answered), answered)
    check("a burst of 12 connections is spread over both workers (6 and 6, give or take 1)",
          len(loads) == 2 and sum(loads) >= 12 and max(loads) - min(loads) <= 1, loads)
    for s in socks:
        s.close()
    ok, got = settles(port)
    check("the connection count comes back down after the burst", ok, got)


def test_drain_under_fire(port, proc):
    stop = threading.Event()
    counts = {"ok": 0, "bad": []}
    answered = []

    def decider():
        while not stop.is_set():
            try:
                c = ts.Client(port)
                for _ in range(50):
                    st, js, _, _ = c.req("POST", "/v1/decisions", {"requests": [json.loads(DEC)] * 5})
                    if st == 200 and all(d["decision"] == "allow" for d in js["decisions"]):
                        counts["ok"] += 1
                        answered.extend((d["decision_id"], d["audit_seq"]) for d in js["decisions"])
                    elif st != 503:
                        counts["bad"].append((st, js))
                c.close()
            except (OSError, http_client_errors()):
                pass  # the server is going away: a refused or closed connection is expected

    def hanger():
        i = 0
        while not stop.is_set():
            try:
                s = tls_sock(port, "admin")
                s.sendall(http_req("POST", "/v1/admin/reload", "{}") if i % 2
                          else http_req("GET", "/v1/grants?format=iam"))
                time.sleep(0.002)
                hang_up(s, rst=i % 3 == 0)
            except OSError:
                pass
            i += 1

    threads = [threading.Thread(target=decider) for _ in range(4)] + [threading.Thread(target=hanger)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    # two admin connections kept alive across the signal: their requests
    # arrive during the drain, when the main loop no longer runs
    late = [tls_sock(port, "admin"), tls_sock(port, "admin")]
    probe = tls_sock(port, "admin")
    for s in late + [probe]:
        s.sendall(http_req("GET", "/v1/health"))
        read_responses(s, 1)
    proc.send_signal(signal.SIGTERM)
    # /v1/ready turns 503 once the server drains (workers keep serving the
    # open connections for a short grace): then the two requests go out
    for _ in range(400):
        probe.sendall(http_req("GET", "/v1/ready"))
        got = read_responses(probe, 1)
        if not got or got[0][0] != 200:
            break
        time.sleep(0.005)
    probe.close()
    late[0].sendall(http_req("GET", "/v1/grants?format=json"))
    late[1].sendall(http_req("POST", "/v1/admin/reload", "{}"))
    late_answers = [read_responses(s, 1) for s in late]
    for s in late:
        s.close()
    try:
        rc = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "hung"
    stop.set()
    for t in threads:
        t.join()
    check("SIGTERM under load with abandoned reloads and exports: exit 0", rc == 0, rc)
    codes = [json.loads(a[0][2])["error"]["code"] if a and a[0][0] == 503 else a for a in late_answers]
    check("an export and a reload asked during the drain get 503 draining", codes == ["draining"] * 2, codes)
    check("every answer before the drain was right (%d batches)" % counts["ok"],
          counts["ok"] > 0 and not counts["bad"], counts["bad"][:3])
    seen = logged_decisions(os.path.join(ts.TMP, "audit"))
    missing = [a for a in answered if seen.get(a[0]) != a[1]]
    check("every decision answered during the drain is in the audit log with its audit_seq (%d)" % len(answered),
          answered and not missing, missing[:3])


def logged_decisions(audit_dir):
    seen = {}
    for seg in sorted(os.listdir(audit_dir)):
        path = os.path.join(audit_dir, seg)
        if os.path.isfile(path) and seg.endswith(".log"):
            with open(path, "rb") as f:
                for line in f:
                    try:
                        r = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(r, dict) and r.get("type") == "decision":
                        seen[r.get("decision_id")] = r.get("seq")
    return seen


def http_client_errors():
    import http.client
    return http.client.HTTPException


def main():
    port, cfg = ts.setup()
    with open(cfg) as f:
        text = f.read().replace("max_json_depth: 16}", "max_json_depth: 16, max_connections: %d, idle_timeout_ms: %d}" % (MAX_CONN, IDLE_MS))
    with open(cfg, "w") as f:
        f.write(text)
    proc = ts.start(cfg)
    try:
        if not ts.wait_ready(port):
            check("server starts", False, open(os.path.join(ts.TMP, "server.log")).read()[-2000:])
            return
        test_hang_ups(port)
        test_hang_up_main_thread_work(port)
        test_pipelining(port)
        test_idle_timeout(port)
        test_garbage(port)
        test_http_edges(port)
        test_slow_crowd(port)
        test_connection_cap(port)
        test_balance(port)
        test_drain_under_fire(port, proc)
        p = subprocess.run([ts.PDP, "audit", "verify", os.path.join(ts.TMP, "audit"), "--pubkey",
                            os.path.join(ts.CERTS, "audit.pub")], capture_output=True, text=True)
        check("the audit log of all this verifies", p.returncode == 0, p.stdout + p.stderr)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if res["f"]:
            print(open(os.path.join(ts.TMP, "server.log")).read()[-3000:])
        shutil.rmtree(ts.TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
    print("%d passed, %d failed" % (res["p"], res["f"]))
    sys.exit(1 if res["f"] else 0)
