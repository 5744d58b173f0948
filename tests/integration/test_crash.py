#!/usr/bin/env python3
"""test_crash.py PDP -- nothing answered is ever lost (issue 4, item 9).

Runs load against the real server from several clients, kills the server
with SIGKILL at a random moment, restarts it on the same audit directory
(recovery cuts a torn tail and records it), verifies the whole chain with
`pdp audit verify`, and checks that every decision_id any client received
is in the log with the audit_seq it was answered with. Three rounds.
Prints `N passed, N failed`.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import test_server as ts  # noqa: E402  (shares the TLS client and set-up)

PDP = ts.PDP
res = {"p": 0, "f": 0}


def check(name, cond, detail=""):
    res["p" if cond else "f"] += 1
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": %s" % (detail,)))


def load(port, stop, got, errors):
    subj = {"id": "u-%d" % random.randrange(10**6), "domain": "orders", "groups": ["orders-engineers"]}
    body = json.dumps(ts.decision("orders.order_events", ["event_id", "customer_email"], subject=subj))
    while not stop.is_set():
        try:
            c = ts.Client(port)
            while not stop.is_set():
                st, js, _, _ = c.req("POST", "/v1/decision", body)
                if st == 200:
                    got.append((js["decision_id"], js["audit_seq"]))
        except Exception:  # noqa: BLE001 -- the server was killed under us: expected
            errors.append(1)
            time.sleep(0.01)


def logged(audit_dir):
    seen = {}
    for seg in sorted(os.listdir(audit_dir)):
        path = os.path.join(audit_dir, seg)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if isinstance(r, dict) and r.get("type") == "decision":
                    seen[r.get("decision_id")] = r.get("seq")
    return seen


def main():
    port, cfg = ts.setup()
    audit = os.path.join(ts.TMP, "audit")
    answered = []
    try:
        for rnd in range(3):
            proc = ts.start(cfg)
            if not ts.wait_ready(port):
                check("round %d: server (re)starts on the same log" % rnd, False,
                      open(os.path.join(ts.TMP, "server.log")).read()[-2000:])
                return
            check("round %d: server (re)starts on the same log" % rnd, True)
            stop, got, errors = threading.Event(), [], []
            threads = [threading.Thread(target=load, args=(port, stop, got, errors)) for _ in range(6)]
            for t in threads:
                t.start()
            time.sleep(random.uniform(0.5, 1.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            stop.set()
            for t in threads:
                t.join()
            answered += got
            check("round %d: clients got answers before the kill (%d)" % (rnd, len(got)), len(got) > 0)
        proc = ts.start(cfg)
        ts.wait_ready(port)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        p = subprocess.run([PDP, "audit", "verify", audit, "--pubkey", os.path.join(ts.CERTS, "audit.pub")],
                           capture_output=True, text=True)
        check("the chain verifies after 3 kills", p.returncode == 0, p.stdout + p.stderr)
        seen = logged(audit)
        missing = [(d, s) for d, s in answered if seen.get(d) != s]
        check("every answered decision (%d) is in the log with its audit_seq" % len(answered),
              not missing, missing[:5])
    finally:
        shutil.rmtree(ts.TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
    print("%d passed, %d failed" % (res["p"], res["f"]))
    sys.exit(1 if res["f"] else 0)
