#!/usr/bin/env python3
"""test_backpressure.py PDP -- a full disk: never loss, then recovery.

Puts the server's audit log on a tiny tmpfs, drives decisions until the
disk is full, and checks that decisions are then refused with 503 (never
answered without their record) and /v1/ready fails; then grows the tmpfs,
and checks that the server answers again by itself, that the chain
verifies, and that every answered decision is in the log. Needs root (mount).
Prints `N passed, N failed`.
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import test_server as ts  # noqa: E402

res = {"p": 0, "f": 0}


def check(name, cond, detail=""):
    res["p" if cond else "f"] += 1
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else ": %s" % (detail,)))


def main():
    port, cfg = ts.setup()
    audit = os.path.join(ts.TMP, "audit")
    os.makedirs(audit)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", audit]).returncode == 0
    check("a 96 KiB tmpfs for the audit log", mounted)
    if not mounted:
        return
    with open(cfg) as f:
        text = f.read().replace("checkpoint_every: 50", "checkpoint_every: 1000000, checkpoint_every_ms: 600000, "
                                "wait_ms: 200, fail_timeout_ms: 300")
    with open(cfg, "w") as f:
        f.write(text)
    proc = ts.start(cfg)
    answered = []
    try:
        if not ts.wait_ready(port):
            check("server starts", False)
            return
        check("server starts", True)
        c = ts.Client(port)
        body = json.dumps(ts.decision("orders.order_events", ["event_id", "customer_email"],
                                      subject={"id": "u-1", "domain": "orders", "groups": ["orders-engineers"]}))
        statuses = []
        for _ in range(2000):
            st, js, _, _ = c.req("POST", "/v1/decision", body)
            statuses.append(st)
            if st == 200:
                answered.append((js["decision_id"], js["audit_seq"]))
            if st == 503:
                break
        check("a full disk turns decisions into 503 (after %d answered)" % len(answered),
              statuses[-1] == 503 and len(answered) > 10, statuses[-5:])
        st, js, _, _ = c.req("GET", "/v1/ready")
        check("/v1/ready fails while the log cannot be written", st == 503, js)
        st, js, _, _ = c.req("POST", "/v1/decision", body)
        check("still 503 while the disk is full", st == 503, st)
        subprocess.run(["mount", "-o", "remount,size=16m", audit], check=True)
        ok = False
        for _ in range(100):
            st, js, _, _ = c.req("POST", "/v1/decision", body)
            if st == 200:
                answered.append((js["decision_id"], js["audit_seq"]))
                ok = True
                break
            time.sleep(0.1)
        check("the server recovers by itself when the disk does", ok, st)
        st, _, _, _ = c.req("GET", "/v1/ready")
        check("/v1/ready again", st == 200, st)
        c.close()
        proc.terminate()
        proc.wait(timeout=10)
        p = subprocess.run([ts.PDP, "audit", "verify", audit, "--pubkey", os.path.join(ts.CERTS, "audit.pub")],
                           capture_output=True, text=True)
        check("the chain verifies", p.returncode == 0, p.stdout + p.stderr)
        seen = {}
        for seg in sorted(os.listdir(audit)):
            path = os.path.join(audit, seg)
            if os.path.isfile(path):
                for line in open(path, "rb"):
                    try:
                        r = json.loads(line)
                    except ValueError:
                        continue
                    if r.get("type") == "decision":
                        seen[r["decision_id"]] = r["seq"]
        missing = [a for a in answered if seen.get(a[0]) != a[1]]
        check("every answered decision is in the log", not missing, missing[:3])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run(["umount", audit])
        if res["f"]:
            print(open(os.path.join(ts.TMP, "server.log")).read()[-2000:])
        shutil.rmtree(ts.TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
    print("%d passed, %d failed" % (res["p"], res["f"]))
    sys.exit(1 if res["f"] else 0)
