#!/usr/bin/env python3
"""run_cases.py -- run `pdp test` policy case files through spec_ref.py.

Purpose: validates the reference evaluator against the hand-worked policy
cases of examples/tests (docs/policy-tests.md gives the format), the same
files `pdp test` runs against the C evaluator. A case passes when every key
given under `expect` matches the reference's answer.

usage: run_cases.py POLICY_DIR CASES.yaml...
Prints each failing case (file, name, expected and actual) and a closing
`N passed, N failed` line; exit 1 when anything failed (a malformed case
file counts as a failure).

Time of a case: the case's `time`, else the request's context.time, else the
file's `time`, else the clock (docs/policy-tests.md).
"""
import datetime as dt
import json
import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec_ref  # noqa: E402

CASE_KEYS = {"name", "description", "time", "request", "expect"}
EXPECT_KEYS = {"decision", "columns", "row_filter", "reasons", "error"}


def plain(v):
    """YAML dates and times back to the text a JSON request would carry."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return v.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def simple_columns(cols):
    return {k: (v["mask"] if v["access"] == "mask" else v["access"]) for k, v in cols.items()}


def differences(expect, got):
    """The keys of expect that got does not satisfy, as text lines."""
    if expect.get("error"):
        return [] if "error" in got else ["expected an error, got %s" % json.dumps(got)]
    if "error" in got:
        return ["unexpected error: %s" % got["error"]["message"]]
    out = []
    if "decision" in expect and expect["decision"] != got["decision"]:
        out.append("decision: expected %s, got %s" % (expect["decision"], got["decision"]))
    if "columns" in expect:
        want = {str(k): str(v) for k, v in (expect["columns"] or {}).items()}
        have = simple_columns(got["columns"])
        if want != have:
            out.append("columns: expected %s, got %s" % (json.dumps(want, sort_keys=True),
                                                        json.dumps(have, sort_keys=True)))
    if "row_filter" in expect and expect["row_filter"] != got["row_filter"]:
        out.append("row_filter: expected %r, got %r" % (expect["row_filter"], got["row_filter"]))
    if "reasons" in expect and sorted(expect["reasons"] or []) != got["reasons"]:
        out.append("reasons: expected %s, got %s" % (sorted(expect["reasons"] or []), got["reasons"]))
    return out


def run_file(policy, path, counts):
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
            raise ValueError("no cases: list")
        extra = set(doc) - {"time", "cases"}
        if extra:
            raise ValueError("unknown keys %s" % sorted(extra))
    except (OSError, ValueError, yaml.YAMLError) as e:
        print("%s: error: %s" % (path, e))
        counts[1] += 1
        return
    file_time = plain(doc.get("time"))
    names = set()
    for i, case in enumerate(doc["cases"]):
        label = "%s: case %d" % (path, i)
        try:
            if not isinstance(case, dict) or set(case) - CASE_KEYS:
                raise ValueError("bad case keys")
            name = case["name"]
            label = "%s: %s" % (path, name)
            if name in names:
                raise ValueError("duplicate case name")
            names.add(name)
            expect = case["expect"]
            if not isinstance(expect, dict) or set(expect) - EXPECT_KEYS:
                raise ValueError("bad expect keys")
            if "decision" not in expect and not expect.get("error"):
                raise ValueError("expect needs decision or error")
            req = plain(case["request"])
            ctx = req.get("context") if isinstance(req, dict) else None
            when = plain(case.get("time"))
            if when is None and isinstance(ctx, dict) and "time" in ctx:
                when = ctx["time"]
            if when is None:
                when = file_time
            t = spec_ref.parse_time(when) if when is not None else None
        except (KeyError, ValueError, spec_ref.BadRequest) as e:
            print("FAIL %s: malformed case: %s" % (label, e))
            counts[1] += 1
            continue
        got = spec_ref.answer(policy, req, t)
        diff = differences(expect, got)
        if diff:
            counts[1] += 1
            print("FAIL %s" % label)
            for d in diff:
                print("    " + d)
        else:
            counts[0] += 1


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    policy = spec_ref.load_policy(argv[1])
    counts = [0, 0]
    for path in argv[2:]:
        run_file(policy, path, counts)
    print("%d passed, %d failed" % tuple(counts))
    return 1 if counts[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
