#!/usr/bin/env python3
"""difftest.py PDP -- `pdp eval` against the naive reference (pdp_ref.py).

For examples/mesh and for seeded meshes from tests/bench/meshgen.py,
generates random requests (subjects with and without domains and groups,
every action, purposes declared and absent, column lists with unknown and
repeated columns, SELECT *, unknown products, times around grant dates),
decides each with both implementations, and compares decision, columns,
row_filter and reasons. Prints each disagreement and `N passed, N failed`.
"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import pdp_ref  # noqa: E402

PDP = sys.argv[1] if len(sys.argv) > 1 else "build/pdp"
TIMES = ["2025-06-01", "2026-01-01", "2026-03-01", "2026-06-01", "2026-09-01", "2026-12-01", "2027-06-01"]


def requests(pol, rnd, n):
    groups = [g["name"] for g in pol.mesh.get("groups", [])] + ["no-such-group"]
    domains = list(pol.domains) + ["elsewhere"]
    products = list(pol.products) + ["nope.nothing"]
    purposes = pol.mesh["purposes"]
    ids = ["u-7001", "u1", "u2", "u-1842"] + ["u%d" % i for i in range(5)]
    out = []
    for _ in range(n):
        subj = {"id": rnd.choice(ids), "groups": rnd.sample(groups, rnd.randint(0, 3))}
        if rnd.random() < 0.85:
            subj["domain"] = rnd.choice(domains)
        prod = rnd.choice(products)
        res = {"product": prod}
        if prod in pol.products and rnd.random() < 0.75:
            cols = [c["name"] for c in pol.products[prod]["schema"]["columns"]]
            pick = rnd.sample(cols, rnd.randint(1, min(6, len(cols))))
            if rnd.random() < 0.1:
                pick.append("no_such_column")
            if rnd.random() < 0.1:
                pick.append(pick[0])
            res["columns"] = pick
        req = {"subject": subj, "action": rnd.choice(["read", "read", "read", "describe", "write"]),
               "resource": res}
        if rnd.random() < 0.7:
            req["context"] = {"purpose": rnd.choice(purposes)}
        out.append((req, rnd.choice(TIMES)))
    return out


def run_pdp(bundle, batch):
    """One `pdp eval` per decision time (the time is a command-line flag)."""
    answers = [None] * len(batch)
    for t in sorted({t for _, t in batch}):
        idx = [i for i, (_, tt) in enumerate(batch) if tt == t]
        inp = "".join(json.dumps(batch[i][0]) + "\n" for i in idx)
        p = subprocess.run([PDP, "eval", "--bundle", bundle, "--time", t, "-"], input=inp,
                           capture_output=True, text=True)
        lines = p.stdout.splitlines()
        for i, line in zip(idx, lines):
            answers[i] = json.loads(line)
    return answers


def same(ref, got):
    if "error" in ref or "error" in got:
        return ("error" in ref) == ("error" in got)
    keys = ("decision", "columns", "row_filter", "reasons")
    return all(ref[k] == got.get(k) for k in keys)


def check_mesh(name, root, n, seed, res):
    pol = pdp_ref.Policy(root)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = os.path.join(tmp, "b")
        subprocess.run([PDP, "compile", root, "-o", bundle], check=True, capture_output=True)
        batch = requests(pol, random.Random(seed), n)
        got = run_pdp(bundle, batch)
    bad = 0
    for (req, t), g in zip(batch, got):
        ref = pdp_ref.decide(pol, req, pdp_ref.day(t))
        if same(ref, g):
            res["p"] += 1
            continue
        res["f"] += 1
        bad += 1
        if bad <= 5:
            print("FAIL %s at %s\n  request   %s\n  reference %s\n  pdp       %s" %
                  (name, t, json.dumps(req), json.dumps(ref, sort_keys=True), json.dumps(g, sort_keys=True)))
    print("%s: %d requests, %d disagreements" % (name, n, bad))


def main():
    res = {"p": 0, "f": 0}
    check_mesh("examples/mesh", "examples/mesh", 3000, 1, res)
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (1, 2):
            d = os.path.join(tmp, "gen%d" % seed)
            subprocess.run([sys.executable, "tests/bench/meshgen.py", "--seed", str(seed), "--out", d,
                            "--products", "40", "--domains", "5", "--groups-per-domain", "3"], check=True)
            check_mesh("meshgen seed %d" % seed, d, 2000, seed, res)
    print("%d passed, %d failed" % (res["p"], res["f"]))
    return 1 if res["f"] else 0


if __name__ == "__main__":
    sys.exit(main())
