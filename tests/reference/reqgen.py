#!/usr/bin/env python3
"""reqgen.py -- decision requests for an existing policy directory.

Purpose: lets difftest_spec.sh probe a hand-written mesh (examples/mesh) the way
meshgen.py --variety probes its generated ones, and turns the policy case
files into JSON lines so that both evaluators answer them too.

usage: reqgen.py random POLICY_DIR N [--seed S]   N random requests
       reqgen.py cases CASES.yaml...               the requests of the cases

Random requests are seeded and biased towards the subjects, groups, domains
and purposes the product's grants and denies name; they carry a context.time
around the grants' dates. Case requests carry the case's decision time in
context.time (the case's `time`, else the request's own, else the file's),
so `pdp eval` without --time decides them at the time `pdp test` would.
Output: JSON lines on stdout.
"""
import argparse
import json
import os
import random
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec_ref  # noqa: E402
import run_cases  # noqa: E402

ACTIONS = ["read", "read", "read", "describe", "write"]


def instants(policy):
    """Each grant date, the second before it, and a day in between."""
    days = set()
    for p in policy.products.values():
        for g in p.grants:
            for d in (g.not_before, g.expires):
                if d is not None:
                    days.add(d)
    out = ["2026-06-01T12:00:00Z"]
    for d in sorted(days):
        out.append(d.strftime("%Y-%m-%dT%H:%M:%SZ"))
        out.append((d - spec_ref.dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        out.append((d + spec_ref.dt.timedelta(days=3)).strftime("%Y-%m-%d"))
    return out


def random_requests(policy, n, seed):
    r = random.Random(seed)
    names = sorted(policy.products)
    purposes = sorted(policy.purposes)
    groups = sorted({g for m in policy.members.values() for g in m} |
                    {e.to_group for p in policy.products.values()
                     for e in p.grants + p.denies if e.to_group})
    domains = sorted(policy.members)
    times = instants(policy)
    for _ in range(n):
        if r.random() < 0.03:
            name = "nowhere.nothing"
            p = None
        else:
            name = r.choice(names)
            p = policy.products[name]
        ctx = {"time": r.choice(times)}
        if r.random() < 0.4:
            ctx["purpose"] = r.choice(purposes)
        subj = {"id": "u-%d" % r.randrange(5)}
        if r.random() < 0.85:
            subj["domain"] = r.choice(domains + ["external-audit"])
        sg = [r.choice(groups) for _ in range(r.randint(0, 2))]
        entries = (p.grants + p.denies) if p else []
        for e in r.sample(entries, min(len(entries), r.choice([0, 1, 1, 2]))):
            if e.to_group:
                sg.append(e.to_group)
            elif e.to_domain:
                subj["domain"] = e.to_domain
            else:
                subj["id"] = e.to_subject
            if e.purposes and r.random() < 0.7:
                ctx["purpose"] = r.choice(sorted(e.purposes))
        subj["groups"] = sg
        req = {"subject": subj, "action": r.choice(ACTIONS), "resource": {"product": name},
               "context": ctx}
        if p and r.random() < 0.7:
            cols = [c.name for c in p.columns]
            pick = r.sample(cols, r.randint(1, min(5, len(cols))))
            if r.random() < 0.05:
                pick.append("no_such_column")
            req["resource"]["columns"] = pick
        yield req


def case_requests(paths):
    for path in paths:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        file_time = run_cases.plain(doc.get("time"))
        for case in doc["cases"]:
            req = run_cases.plain(case["request"])
            when = run_cases.plain(case.get("time"))
            if isinstance(req, dict):
                ctx = req.get("context")
                if ctx is None and (when or file_time):
                    ctx = req["context"] = {}
                if isinstance(ctx, dict):
                    if when is not None:
                        ctx["time"] = when
                    elif "time" not in ctx and file_time is not None:
                        ctx["time"] = file_time
            yield req


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a1 = sub.add_parser("random")
    a1.add_argument("policy_dir")
    a1.add_argument("n", type=int)
    a1.add_argument("--seed", type=int, default=1)
    a2 = sub.add_parser("cases")
    a2.add_argument("files", nargs="+")
    a = ap.parse_args(argv)
    if a.cmd == "random":
        reqs = random_requests(spec_ref.load_policy(a.policy_dir), a.n, a.seed)
    else:
        reqs = case_requests(a.files)
    for req in reqs:
        sys.stdout.write(json.dumps(req, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
