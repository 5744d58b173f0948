#!/usr/bin/env python3
"""compare.py -- compare `pdp eval` answers with the reference evaluator's.

usage: compare.py [--label L] [--show N] REQUESTS.jsonl PDP_OUT.jsonl REF_OUT.jsonl

The three files are parallel, one line per request. Compared: the decision,
every column's access and mask, the row filter and the reasons (in order:
both must list them sorted); when either side rejects the request, both must.
decision_id, policy_revision, audit_seq and a mask's `sql` are not compared
(the reference does not produce them). Prints the first N mismatches (the
request and both answers), a tally of mismatch kinds, and a closing
`N passed, N failed` line; exit 1 on any mismatch.
"""
import argparse
import collections
import json
import sys


def normal(resp):
    if "error" in resp:
        return {"error": True}
    cols = {k: {kk: vv for kk, vv in v.items() if kk in ("access", "mask")}
            for k, v in resp.get("columns", {}).items()}
    return {"decision": resp.get("decision"), "columns": cols,
            "row_filter": resp.get("row_filter"), "reasons": resp.get("reasons")}


def kinds(a, b):
    return [k for k in ("error", "decision", "columns", "row_filter", "reasons")
            if a.get(k) != b.get(k)]


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", default="")
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("requests")
    ap.add_argument("pdp")
    ap.add_argument("ref")
    a = ap.parse_args(argv)
    with open(a.requests) as f:
        reqs = [l for l in f if l.strip()]
    with open(a.pdp) as f:
        pdp = [l for l in f if l.strip()]
    with open(a.ref) as f:
        ref = [l for l in f if l.strip()]
    if not (len(reqs) == len(pdp) == len(ref)):
        print("%s: line counts differ: %d requests, %d pdp answers, %d reference answers"
              % (a.label, len(reqs), len(pdp), len(ref)))
        print("0 passed, %d failed" % max(1, len(reqs)))
        return 1
    passed = failed = 0
    tally = collections.Counter()
    for i, (q, p, r) in enumerate(zip(reqs, pdp, ref)):
        np_, nr = normal(json.loads(p)), normal(json.loads(r))
        if np_ == nr:
            passed += 1
            continue
        failed += 1
        tally.update(kinds(np_, nr))
        if failed <= a.show:
            print("MISMATCH %s line %d (%s)" % (a.label, i + 1, ", ".join(kinds(np_, nr))))
            print("  request:   " + q.strip())
            print("  pdp:       " + p.strip())
            print("  reference: " + r.strip())
    if failed > a.show:
        print("... %d more mismatches" % (failed - a.show))
    if tally:
        print("%s: mismatches by key: %s" % (a.label, dict(sorted(tally.items()))))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
