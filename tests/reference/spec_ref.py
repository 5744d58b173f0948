#!/usr/bin/env python3
"""spec_ref.py -- an independent reference evaluator of SPEC sections 3 and 3.1.

Purpose: a checker of meshpdp's C evaluator, by another author than the C
code and than tests/reference/pdp_ref.py (the lead's reference), so that
three readings of the SPEC meet. It reads a policy directory's YAML directly
(no bundle, no C code) and answers decision requests in the SPEC 4 response
shape: decision, columns, row_filter, reasons. difftest_spec.sh compares it
with `pdp eval` on generated meshes, run_cases.py with the examples/tests
policy cases.

Design: written from SPEC.md alone, as literally as possible, and kept
deliberately naive -- every column is checked against every grant, deny entry
and rule, so that the code reads like the SPEC text rather than like an index.
It assumes the policy passed `pdp check` (it validates nothing there), but it
validates requests as SPEC 3.1 asks. The readings of the SPEC's open points
(the lead's decisions, docs/decisions.md) are marked "READING:" below.

Usage:
  spec_ref.py eval POLICY_DIR [--time T] [FILE|-]
      one JSON request or JSON lines in, one response line out per request;
      a rejected request answers {"error": {"code": "bad_request", ...}}.
      T: --time, else the request's context.time, else the clock.
Library: load_policy(dir) -> Policy; decide(policy, request_dict, t) -> dict
(raises BadRequest); parse_time(text) -> datetime.

Ownership: plain Python objects, nothing shared between calls.
"""
import datetime as dt
import json
import os
import re
import sys

import yaml

try:
    _Loader = yaml.CBaseLoader
except AttributeError:  # PyYAML without libyaml
    _Loader = yaml.BaseLoader

ACTIONS = ("describe", "read", "write")
DIALECTS = ("postgres", "trino", "spark")
# SPEC 3 step 3: weakest to strongest; show_first_4 = show_last_4.
MASK_STRENGTH = {"year_only": 0, "show_first_4": 1, "show_last_4": 1,
                 "email_domain": 2, "hash": 3, "redact": 4, "nullify": 5}
UTC = dt.timezone.utc


class BadRequest(Exception):
    """The request is rejected (HTTP 400 in the server)."""


# ---------------------------------------------------------------- loading

def _read_yaml(path):
    with open(path, encoding="utf-8") as f:
        # BaseLoader: every scalar is the text written (as the C loader keeps
        # numbers and dates); the few booleans are interpreted by key below.
        return yaml.load(f, Loader=_Loader)


def _as_list(v):
    """Rule conditions accept a single string as a one-item list."""
    if v is None:
        return None
    return v if isinstance(v, list) else [v]


def _date(text):
    """A policy date YYYY-MM-DD means 00:00:00Z of that day."""
    if text is None:
        return None
    d = dt.date.fromisoformat(text)
    return dt.datetime(d.year, d.month, d.day, tzinfo=UTC)


class Entry:
    """A grant or a deny entry of one product."""

    def __init__(self, doc, product, kind, index):
        self.rid = doc.get("id") or "%s#%s[%d]" % (product, kind, index)
        to = doc["to"]
        self.to_group = to.get("group")
        self.to_domain = to.get("domain")
        self.to_subject = to.get("subject")
        self.actions = set(doc["actions"])
        cols = doc["columns"]
        self.all_columns = cols == "*"
        self.columns = set() if self.all_columns else set(cols)
        self.purposes = None if "purposes" not in doc else set(doc["purposes"])
        self.unmasked = set(doc.get("unmasked") or [])
        self.row_filter = doc.get("row_filter")
        self.not_before = _date(doc.get("not_before"))
        self.expires = _date(doc.get("expires"))
        self.index = index

    def applies_to(self, subj):
        if self.to_group is not None:
            return self.to_group in subj.groups
        if self.to_domain is not None:
            return subj.domain is not None and self.to_domain == subj.domain
        return self.to_subject == subj.id

    def purpose_ok(self, purpose):
        # SPEC 3.1: absent matches any request; present requires the
        # request's purpose to be listed (no purpose does not match).
        return self.purposes is None or (purpose is not None and purpose in self.purposes)

    def active(self, t):
        # SPEC 3.1: from not_before 00:00:00Z inclusive to expires exclusive.
        if self.not_before is not None and t < self.not_before:
            return False
        if self.expires is not None and t >= self.expires:
            return False
        return True

    def covers(self, col):
        return self.all_columns or col in self.columns


class Column:
    def __init__(self, doc, product_class):
        self.name = doc["name"]
        pii = doc.get("pii")
        self.pii = None if pii in (None, "none") else pii
        # SPEC 3.1: a column's classification is its override, else the product's.
        self.classification = doc.get("classification") or product_class


class Product:
    def __init__(self, doc, domain_default):
        md = doc["metadata"]
        self.name = md["name"]
        self.domain = md["domain"]
        self.classification = doc.get("classification") or domain_default
        self.columns = [Column(c, self.classification) for c in doc["schema"]["columns"]]
        self.by_name = {c.name: c for c in self.columns}
        self.grants = [Entry(g, self.name, "grants", i)
                       for i, g in enumerate(doc.get("grants") or [])]
        self.denies = [Entry(d, self.name, "deny", i)
                       for i, d in enumerate(doc.get("deny") or [])]


class Condition:
    KEYS = ("actions", "product_domain", "product_classification", "column_pii",
            "column_classification", "cross_domain", "subject_groups", "purposes")

    def __init__(self, doc):
        doc = doc or {}
        unknown = set(doc) - set(self.KEYS)
        if unknown:
            raise ValueError("unknown rule condition keys %s" % sorted(unknown))
        self.c = {}
        for k, v in doc.items():
            if k == "cross_domain":
                if v not in ("true", "false"):
                    raise ValueError("cross_domain must be true or false")
                self.c[k] = v == "true"
            else:
                self.c[k] = _as_list(v)

    def holds(self, levels, ctx, col):
        """Every key must hold; list values mean any-of. col is None for
        describe: column conditions never match it (SPEC 3.1)."""
        for k, v in self.c.items():
            if not self._key_holds(k, v, levels, ctx, col):
                return False
        return True

    @staticmethod
    def _key_holds(k, v, levels, ctx, col):
        if k == "actions":
            return ctx.action in v
        if k == "product_domain":
            return ctx.product.domain in v
        if k == "product_classification":
            return any(levels[ctx.product.classification] >= levels[x] for x in v)
        if k == "column_pii":
            if col is None or col.pii is None:   # `any` does not match pii: none
                return False
            return "any" in v or col.pii in v
        if k == "column_classification":
            if col is None:
                return False
            return any(levels[col.classification] >= levels[x] for x in v)
        if k == "cross_domain":
            return ctx.cross_domain == v
        if k == "subject_groups":
            return bool(ctx.subject.groups & set(v))
        if k == "purposes":
            return ctx.purpose is not None and ctx.purpose in v
        raise AssertionError(k)


class Rule:
    def __init__(self, doc):
        self.id = doc["id"]
        self.rid = "mesh#rules[%s]" % self.id
        self.effect = doc["effect"]
        self.mask = doc.get("mask")
        self.match = Condition(doc["match"])
        self.exc = Condition(doc["except"]) if "except" in doc else None

    def applies(self, levels, ctx, col):
        # SPEC 3.1: `except` applies only when all of its keys hold.
        if not self.match.holds(levels, ctx, col):
            return False
        return not (self.exc is not None and self.exc.holds(levels, ctx, col))


class Policy:
    def __init__(self, root):
        mesh = _read_yaml(os.path.join(root, "mesh.yaml"))
        self.levels = {c: i for i, c in enumerate(mesh["classifications"])}
        self.purposes = set(mesh.get("purposes") or [])
        pii = mesh.get("pii") or {}
        self.categories = dict(pii.get("categories") or {})
        self.rules = [Rule(r) for r in mesh.get("rules") or []]
        self.members = {}
        self.products = {}
        ddir = os.path.join(root, "domains")
        for d in sorted(os.listdir(ddir)):
            if not os.path.isdir(os.path.join(ddir, d)):
                continue
            dom = _read_yaml(os.path.join(ddir, d, "domain.yaml"))
            self.members[dom["name"]] = set(dom.get("members") or [])
            default = dom.get("default_classification")
            pdir = os.path.join(ddir, d, "products")
            if not os.path.isdir(pdir):
                continue
            for f in sorted(os.listdir(pdir)):
                if f.startswith(".") or not f.endswith((".yaml", ".yml")):
                    continue
                p = Product(_read_yaml(os.path.join(pdir, f)), default)
                self.products[p.name] = p


def load_policy(root):
    return Policy(root)


# ---------------------------------------------------------------- requests

_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                     r"([Zz]|[+-]\d{2}:\d{2})")


def parse_time(value):
    """A decision time: YYYY-MM-DD (00:00:00Z) or an RFC 3339 date-time
    (section 5.6: T or t, seconds required, optional fraction of at least
    one digit, Z or a numeric offset; second 60 for a leap second).
    READING: pdp also takes integer epoch seconds; so does this, from 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise BadRequest("time before 1970")
        return dt.datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        raise BadRequest("time must be a string")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            t = _date(value)
        else:
            m = _RFC3339.fullmatch(value)
            if not m:
                raise ValueError
            y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
            if sec > 60:
                raise ValueError
            leap = sec == 60
            t = dt.datetime(y, mo, d, h, mi, 59 if leap else sec)
            if leap:
                t += dt.timedelta(seconds=1)
            if m.group(7):
                t += dt.timedelta(microseconds=int(float("0" + m.group(7)) * 1e6))
            z = m.group(8)
            if z in ("Z", "z"):
                off = dt.timedelta(0)
            else:
                off = dt.timedelta(hours=int(z[1:3]), minutes=int(z[4:6]))
                if z[0] == "-":
                    off = -off
            t = (t - off).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise BadRequest("bad time %r" % value)
    if t.year < 1970:
        raise BadRequest("time before 1970")
    return t


class Subject:
    def __init__(self, doc):
        if not isinstance(doc, dict):
            raise BadRequest("subject must be an object")
        _no_unknown(doc, ("id", "domain", "groups", "attributes"), "subject")
        # READING (request schema, SPEC 4): an explicit null is a wrong type,
        # not an absent key; subject.id must not be empty.
        self.id = doc.get("id")
        if not isinstance(self.id, str) or not self.id:
            raise BadRequest("subject.id must be a non-empty string")
        self.domain = doc.get("domain")
        if "domain" in doc and not isinstance(self.domain, str):
            raise BadRequest("subject.domain must be a string")
        groups = doc.get("groups", [])
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise BadRequest("subject.groups must be a list of strings")
        self.groups = set(groups)
        attrs = doc.get("attributes", {})
        if not isinstance(attrs, dict):
            raise BadRequest("subject.attributes must be an object")


def _no_unknown(doc, keys, where):
    extra = set(doc) - set(keys)
    if extra:
        raise BadRequest("%s: unknown key(s) %s" % (where, sorted(extra)))


class Ctx:
    """One request, validated against the policy."""

    def __init__(self, policy, req):
        if not isinstance(req, dict):
            raise BadRequest("request must be an object")
        _no_unknown(req, ("subject", "action", "resource", "context"), "request")
        for k in ("subject", "action", "resource"):
            if k not in req:
                raise BadRequest("missing %s" % k)
        self.subject = Subject(req["subject"])
        self.action = req["action"]
        if self.action not in ACTIONS:       # SPEC 3 step 1: unknown action -> 400
            raise BadRequest("unknown action %r" % (self.action,))
        res = req["resource"]
        if not isinstance(res, dict):
            raise BadRequest("resource must be an object")
        _no_unknown(res, ("product", "columns"), "resource")
        self.product_name = res.get("product")
        if not isinstance(self.product_name, str):
            raise BadRequest("resource.product must be a string")
        cols = res.get("columns")
        if "columns" in res:
            if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
                raise BadRequest("resource.columns must be a list of strings")
            if not cols:                     # SPEC 3.1: explicit empty list -> 400
                raise BadRequest("resource.columns is empty")
            # READING: a column named twice is evaluated (and listed) once.
            cols = list(dict.fromkeys(cols))
        self.columns = cols
        context = req.get("context", {})
        if not isinstance(context, dict):
            raise BadRequest("context must be an object")
        self.purpose = context.get("purpose")
        if "purpose" in context:
            if not isinstance(self.purpose, str):
                raise BadRequest("context.purpose must be a string")
            # READING: an undeclared purpose is an error (SPEC 2.3 "any
            # declared purpose"; a typo must not match purpose-free grants).
            if self.purpose not in policy.purposes:
                raise BadRequest("unknown purpose %r" % self.purpose)
        if "time" in context:
            # READING: validated even when --time overrides it.
            parse_time(context["time"])
        if "dialect" in context and context["dialect"] not in DIALECTS:
            raise BadRequest("context.dialect must be postgres, trino or spark")
        self.product = policy.products.get(self.product_name)
        if self.product is not None:
            # SPEC 3.1: cross_domain is subject.domain != product domain.
            # READING: a subject without a domain is cross-domain everywhere.
            self.cross_domain = self.subject.domain != self.product.domain
            self.member = bool(self.subject.groups & policy.members.get(self.product.domain, set()))


# ---------------------------------------------------------------- decision

def _strongest(category_mask, rule_masks):
    """SPEC 3 step 3 / 3.1: the strongest of the category default and the
    matching rules' masks; on a tie the category default stays. READING:
    between rules of equal strength (show_first_4 / show_last_4) without a
    stronger default, the rule whose id sorts first."""
    best = category_mask
    for rule_id, m in sorted(rule_masks):
        if best is None or MASK_STRENGTH[m] > MASK_STRENGTH[best]:
            best = m
    return best


def _describe(policy, ctx, t):
    p = ctx.product
    reasons = set()
    # A deny entry blocks describe only if its columns is "*"; mesh deny
    # rules match with their column conditions never holding.
    denies = [d.rid for d in p.denies
              if d.all_columns and "describe" in d.actions and d.applies_to(ctx.subject)
              and d.purpose_ok(ctx.purpose)]
    denies += [r.rid for r in policy.rules
               if r.effect == "deny" and r.applies(policy.levels, ctx, None)]
    if denies:
        reasons.update(denies)
        decision = "deny"
    else:
        grants = [g.rid for g in p.grants
                  if "describe" in g.actions and g.applies_to(ctx.subject)
                  and g.purpose_ok(ctx.purpose) and g.active(t)]
        reasons.update(grants)
        if ctx.member:
            reasons.add("domain_member")
        if grants or ctx.member:
            decision = "allow"
        else:
            reasons.add("default_deny")
            decision = "deny"
    return {"decision": decision, "columns": {}, "row_filter": None,
            "reasons": sorted(reasons)}


def _column(policy, ctx, t, col, reasons, allowing):
    """Decide one column of a read or write: returns its response entry and
    records reasons and the grants that allowed it (for the row filter)."""
    p = ctx.product
    a = ctx.action
    denies = [d.rid for d in p.denies
              if a in d.actions and d.covers(col.name) and d.applies_to(ctx.subject)
              and d.purpose_ok(ctx.purpose)]
    denies += [r.rid for r in policy.rules
               if r.effect == "deny" and r.applies(policy.levels, ctx, col)]
    if denies:
        reasons.update(denies)
        return {"access": "deny"}
    grants = [g for g in p.grants
              if a in g.actions and g.covers(col.name) and g.applies_to(ctx.subject)
              and g.purpose_ok(ctx.purpose) and g.active(t)]
    if not grants and not ctx.member:
        reasons.add("default_deny")
        return {"access": "deny"}
    reasons.update(g.rid for g in grants)
    for g in grants:
        allowing[g.index] = g
    if ctx.member:
        # READING: listed whenever the subject is a member and the column is
        # allowed, also when a grant allowed it too.
        reasons.add("domain_member")
        allowing["member"] = True
    mask_rules = [r for r in policy.rules
                  if r.effect == "mask" and r.applies(policy.levels, ctx, col)]
    reasons.update(r.rid for r in mask_rules)
    rule_masks = [(r.id, r.mask) for r in mask_rules if r.mask]
    if col.pii is not None:
        unmasked = any(col.name in g.unmasked for g in grants)
        if unmasked and not mask_rules:
            return {"access": "allow"}
        m = _strongest(policy.categories[col.pii], rule_masks)
    else:
        # READING: a rule's `mask:` also masks a non-PII column it matches;
        # a mask rule without `mask:` leaves it in the clear.
        m = _strongest(None, rule_masks)
    if m is None:
        return {"access": "allow"}
    return {"access": "mask", "mask": m}


def _row_filter(product, allowing):
    """SPEC 3.1: over the grants that allowed at least one allowed column;
    membership or any such grant without a filter means none; otherwise the
    filters joined with OR, each parenthesised, in policy order."""
    if not allowing or "member" in allowing:
        return None
    grants = [allowing[i] for i in sorted(k for k in allowing if k != "member")]
    if any(g.row_filter is None for g in grants):
        return None
    return " OR ".join("(%s)" % g.row_filter for g in grants)


def decide(policy, req, t):
    """Answer one request (a dict) at time t (an aware datetime)."""
    ctx = Ctx(policy, req)
    if ctx.product is None:
        # READING: no column of an unknown product is evaluated.
        return {"decision": "deny", "columns": {}, "row_filter": None,
                "reasons": ["unknown_product"]}
    if ctx.action == "describe":
        # READING: requested columns are ignored for describe.
        return _describe(policy, ctx, t)
    p = ctx.product
    names = ctx.columns if ctx.columns is not None else [c.name for c in p.columns]
    reasons, allowing, columns = set(), {}, {}
    for name in names:
        col = p.by_name.get(name)
        if col is None:
            # READING: an unknown column is denied by the default alone.
            reasons.add("default_deny")
            columns[name] = {"access": "deny"}
        else:
            columns[name] = _column(policy, ctx, t, col, reasons, allowing)
    allowed = [n for n, v in columns.items() if v["access"] != "deny"]
    if ctx.columns is not None:
        ok = len(allowed) == len(columns)
    else:
        ok = len(allowed) > 0
    return {"decision": "allow" if ok else "deny", "columns": columns,
            "row_filter": _row_filter(p, allowing), "reasons": sorted(reasons)}


def request_time(req, override):
    """pdp eval's rule: --time, else context.time, else the clock."""
    if override is not None:
        return override
    ctx = req.get("context") if isinstance(req, dict) else None
    if isinstance(ctx, dict) and "time" in ctx:
        return parse_time(ctx["time"])
    return dt.datetime.now(UTC)


def answer(policy, req, override_time):
    """decide() with errors turned into the SPEC 4 error body."""
    try:
        return decide(policy, req, request_time(req, override_time))
    except BadRequest as e:
        return {"error": {"code": "bad_request", "message": str(e)}}


# ---------------------------------------------------------------- CLI

def _no_duplicates(pairs):
    """READING: duplicate keys make a request ambiguous: bad JSON."""
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate object key")
    return dict(pairs)


def _no_nul(v):
    """READING: a NUL character (\\u0000) in any string is bad JSON."""
    if isinstance(v, str):
        if "\0" in v:
            raise ValueError("NUL in a string")
    elif isinstance(v, dict):
        for k, x in v.items():
            _no_nul(k)
            _no_nul(x)
    elif isinstance(v, list):
        for x in v:
            _no_nul(x)


def _cmd_eval(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="spec_ref.py eval")
    ap.add_argument("policy_dir")
    ap.add_argument("--time")
    ap.add_argument("file", nargs="?", default="-")
    a = ap.parse_intermixed_args(argv)
    policy = load_policy(a.policy_dir)
    t = parse_time(a.time) if a.time else None
    f = sys.stdin if a.file == "-" else open(a.file, encoding="utf-8")
    text = f.read()
    try:   # one (possibly pretty-printed) request, else JSON lines
        json.loads(text)
        lines = [text]
    except ValueError:
        lines = text.splitlines()
    rc = 0
    out = sys.stdout
    for line in lines:
        if not line.strip():
            continue
        try:
            req = json.loads(line, object_pairs_hook=_no_duplicates)
            _no_nul(req)
        except ValueError as e:
            resp = {"error": {"code": "bad_request", "message": "bad JSON: %s" % e}}
        else:
            resp = answer(policy, req, t)
        if "error" in resp:
            rc = 1
        out.write(json.dumps(resp, separators=(",", ":")) + "\n")
    return rc


def main(argv):
    if len(argv) < 2 or argv[1] != "eval":
        sys.stderr.write(__doc__)
        return 2
    return _cmd_eval(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
