#!/usr/bin/env python3
"""test_load.py PDP LOADGEN -- many connections at once while the policy
changes under them.

Two load generators (tests/bench/loadgen: keep-alive mutual TLS) drive the
server for a few seconds, 48 connections asking single decisions and 16
asking batches, while SIGHUP reloads alternate two revisions every 100 ms.
Checks: every request answered 200, no connection error, SIGTERM exits 0,
the audit log verifies and holds at least one decision record per answered
decision. No timing assertion (make bench-server measures). Run plain in
`make test` and against the ASan+UBSan build by sanitized.sh, where the
point is many threads and connections on the reload and audit paths.
Prints `N passed, N failed`.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import test_server as ts  # noqa: E402
import test_reload as tr  # noqa: E402

res = {"p": 0, "f": 0}
SECONDS = 4


def check(name, cond, detail=""):
    res["p" if cond else "f"] += 1
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": %s" % (str(detail)[:500],)))


BODIES = [
    ts.decision("orders.order_events", ["event_id", "order_id", "customer_email"], "billing", dialect="trino"),
    ts.decision("customer.profiles", ["customer_id", "email", "date_of_birth"], "marketing",
                subject={"id": "u-2", "domain": "marketing", "groups": ["marketing-analysts"]}),
    ts.decision("orders.order_events", subject={"id": "u-10", "domain": "orders", "groups": ["orders-engineers"]}),
    ts.decision("risk.fraud_cases", ["case_id", "status"], "customer_support", dialect="postgres",
                subject={"id": "u-20", "domain": "customer", "groups": ["customer-support-agents"]}),
    ts.decision("orders.nope"),
]


def loadgen(exe, port, bodies, path, conns, out):
    c = ts.CERTS
    p = subprocess.run([exe, "127.0.0.1", str(port), c + "/ca.pem", c + "/gateway.pem", c + "/gateway.key",
                        bodies, path, str(conns), str(SECONDS)], capture_output=True, text=True, timeout=120)
    out.append(p.stdout + p.stderr)


def parse(line):
    m = re.search(r"\((\d+) ok, (\d+) non-200, (\d+) connection errors", line)
    return tuple(int(x) for x in m.groups()) if m else None


def count_decisions(audit_dir):
    n = 0
    for seg in os.listdir(audit_dir):
        if seg.endswith(".log"):
            with open(os.path.join(audit_dir, seg), "rb") as f:
                n += sum(1 for line in f if b'"type":"decision"' in line)
    return n


def main():
    exe = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "build/bench/loadgen")
    port, cfg = ts.setup()
    with open(cfg) as f:
        text = f.read().replace("watch_ms: 200", "watch_ms: 0").replace("max_batch: 50", "max_batch: 100")
    with open(cfg, "w") as f:
        f.write(text)
    a, b, _, _, _ = tr.build_bundles()
    served = os.path.join(ts.TMP, "mesh.bundle")
    shutil.copy(a, served)
    single = os.path.join(ts.TMP, "single.jsonl")
    batch = os.path.join(ts.TMP, "batch.jsonl")
    with open(single, "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in BODIES)
    with open(batch, "w") as f:
        for n in (1, 7, 40):
            f.write(json.dumps({"requests": (BODIES * 8)[:n]}) + "\n")
    proc = ts.start(cfg)
    try:
        if not ts.wait_ready(port):
            check("server starts", False, open(os.path.join(ts.TMP, "server.log")).read()[-2000:])
            return
        outs = [[], []]
        gens = [threading.Thread(target=loadgen, args=(exe, port, single, "/v1/decision", 48, outs[0])),
                threading.Thread(target=loadgen, args=(exe, port, batch, "/v1/decisions", 16, outs[1]))]
        for t in gens:
            t.start()
        reloads = 0
        end = time.time() + SECONDS - 0.5
        while time.time() < end:
            shutil.copy(b if reloads % 2 == 0 else a, served + ".new")
            os.rename(served + ".new", served)
            os.kill(proc.pid, signal.SIGHUP)
            reloads += 1
            time.sleep(0.1)
        for t in gens:
            t.join()
        got = [parse(o[0]) if o else None for o in outs]
        print("loadgen /v1/decision : " + (outs[0][0].strip() if outs[0] else "?"))
        print("loadgen /v1/decisions: " + (outs[1][0].strip() if outs[1] else "?"))
        for name, g in zip(("single decisions (48 connections)", "batches (16 connections)"), got):
            check(name + " all answered 200 during %d reloads" % reloads,
                  g is not None and g[0] > 0 and g[1] == 0 and g[2] == 0, g)
        c = ts.Client(port, "admin")
        st, js, _, _ = c.req("GET", "/v1/status")
        c.close()
        check("the reloads were taken", st == 200 and js["reloads"]["success"] >= reloads // 2
              and js["reloads"]["failure"] == 0, js)
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "hung"
        check("SIGTERM after the load: exit 0", rc == 0, rc)
        audit = os.path.join(ts.TMP, "audit")
        p = subprocess.run([ts.PDP, "audit", "verify", audit, "--pubkey", os.path.join(ts.CERTS, "audit.pub")],
                           capture_output=True, text=True)
        check("the audit log verifies", p.returncode == 0, p.stdout + p.stderr)
        ok_single = got[0][0] if got[0] else 0
        n = count_decisions(audit)
        check("at least one decision record per answered decision (%d records)" % n,
              got[1] is not None and n >= ok_single + got[1][0], (n, ok_single, got[1]))
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
