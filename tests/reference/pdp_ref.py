#!/usr/bin/env python3
"""pdp_ref.py -- a deliberately naive reference evaluator of SPEC 3 / 3.1.

Reads a policy directory's YAML directly (no bundle, no index) and answers
requests by walking every grant, deny and rule for every column, exactly in
the words of the SPEC. It exists to be compared with `pdp eval`
(tests/reference/difftest.py): two implementations that share no code.
Readings of open points follow docs/decisions.md.
"""
import datetime
import fnmatch
import glob
import os

import yaml

STRENGTH = {"year_only": 1, "show_first_4": 2, "show_last_4": 2, "email_domain": 3,
            "hash": 4, "redact": 5, "nullify": 6}


class _Loader(yaml.SafeLoader):
    pass


# dates stay strings, like everything else the policy says
_Loader.yaml_implicit_resolvers = {k: [(t, r) for t, r in v if t != "tag:yaml.org,2002:timestamp"]
                                   for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=_Loader)


def day(s):
    d = datetime.date.fromisoformat(str(s))
    return int(datetime.datetime(d.year, d.month, d.day, tzinfo=datetime.timezone.utc).timestamp())


def as_list(v):
    return v if isinstance(v, list) else [v]


class Policy:
    def __init__(self, root):
        self.mesh = load(os.path.join(root, "mesh.yaml"))
        self.levels = self.mesh["classifications"]
        self.pii = self.mesh.get("pii", {}).get("categories", {})
        self.rules = self.mesh.get("rules", [])
        self.domains = {}
        for f in glob.glob(os.path.join(root, "domains", "*", "domain.yaml")):
            d = load(f)
            self.domains[d["name"]] = d
        self.products = {}
        for f in glob.glob(os.path.join(root, "domains", "*", "products", "*.y*ml")):
            p = load(f)
            if not p.get("classification"):
                p["classification"] = self.domains[p["metadata"]["domain"]]["default_classification"]
            self.products[p["metadata"]["name"]] = p

    def level(self, name):
        return self.levels.index(name)


def purposes_match(lst, purpose):
    return lst is None or (purpose is not None and purpose in lst)


def to_matches(to, subj):
    if "group" in to:
        return to["group"] in subj.get("groups", [])
    if "domain" in to:
        return subj.get("domain") is not None and to["domain"] == subj.get("domain")
    return to["subject"] == subj["id"]


def covers(entry, col):
    return entry["columns"] == "*" or col in entry["columns"]


def entry_id(prod, kind, i, e):
    return e.get("id") or "%s#%s[%d]" % (prod, kind, i)


class Decider:
    def __init__(self, pol, req, t):
        self.pol, self.req, self.t = pol, req, t
        self.subj = req["subject"]
        self.action = req["action"]
        self.purpose = (req.get("context") or {}).get("purpose")
        self.prod = pol.products[req["resource"]["product"]]
        self.pname = self.prod["metadata"]["name"]
        self.pdom = self.prod["metadata"]["domain"]
        members = pol.domains.get(self.pdom, {}).get("members", [])
        self.member = any(g in members for g in self.subj.get("groups", []))
        self.cross = self.subj.get("domain") != self.pdom
        self.cols = {c["name"]: c for c in self.prod["schema"]["columns"]}

    def grant_active(self, g):
        if self.action not in g["actions"] or not to_matches(g["to"], self.subj):
            return False
        if not purposes_match(g.get("purposes"), self.purpose):
            return False
        if "not_before" in g and self.t < day(g["not_before"]):
            return False
        return not ("expires" in g and self.t >= day(g["expires"]))

    def deny_active(self, d):
        return (self.action in d["actions"] and to_matches(d["to"], self.subj)
                and purposes_match(d.get("purposes"), self.purpose))

    def cond(self, c, col):
        """All keys of c hold for column col (None: describe)."""
        for k, v in c.items():
            if k == "actions" and self.action not in as_list(v):
                return False
            if k == "product_domain" and self.pdom not in as_list(v):
                return False
            if k == "product_classification" and not any(
                    self.pol.level(self.prod["classification"]) >= self.pol.level(x) for x in as_list(v)):
                return False
            if k == "cross_domain" and self.cross != v:
                return False
            if k == "subject_groups" and not any(g in as_list(v) for g in self.subj.get("groups", [])):
                return False
            if k == "purposes" and (self.purpose is None or self.purpose not in as_list(v)):
                return False
            if k in ("column_pii", "column_classification") and col is None:
                return False
            if k == "column_pii":
                p = col.get("pii")
                if p is None or p == "none":
                    return False
                if "any" not in as_list(v) and p not in as_list(v):
                    return False
            if k == "column_classification":
                lvl = self.pol.level(col.get("classification", self.prod["classification"]))
                if not any(lvl >= self.pol.level(x) for x in as_list(v)):
                    return False
        return True

    def rule_matches(self, r, col):
        return self.cond(r["match"], col) and not ("except" in r and self.cond(r["except"], col))

    def decide(self):
        if self.action == "describe":
            return self.describe()
        asked = self.req["resource"].get("columns")
        names = list(dict.fromkeys(asked)) if asked is not None else list(self.cols)
        out, reasons, filt_grants, member_used = {}, set(), [], False
        allowed = 0
        for name in names:
            col = self.cols.get(name)
            if col is None:
                out[name] = {"access": "deny"}
                reasons.add("default_deny")
                continue
            denied = False
            for i, d in enumerate(self.prod.get("deny", [])):
                if self.deny_active(d) and covers(d, name):
                    denied = True
                    reasons.add(entry_id(self.pname, "deny", i, d))
            for r in self.pol.rules:
                if r["effect"] == "deny" and self.rule_matches(r, col):
                    denied = True
                    reasons.add("mesh#rules[%s]" % r["id"])
            if denied:
                out[name] = {"access": "deny"}
                continue
            ok, clear = False, False
            for i, g in enumerate(self.prod.get("grants", [])):
                if self.grant_active(g) and covers(g, name):
                    ok = True
                    reasons.add(entry_id(self.pname, "grants", i, g))
                    if i not in filt_grants:
                        filt_grants.append(i)
                    if name in g.get("unmasked", []):
                        clear = True
            if self.member:
                ok = member_used = True
                reasons.add("domain_member")
            if not ok:
                out[name] = {"access": "deny"}
                reasons.add("default_deny")
                continue
            allowed += 1
            out[name] = self.mask(col, clear, reasons)
        decision = allowed == len(names) if asked is not None else allowed > 0
        return {"decision": "allow" if decision else "deny", "columns": out,
                "row_filter": self.row_filter(filt_grants, member_used), "reasons": sorted(reasons)}

    def mask(self, col, clear, reasons):
        cat = col.get("pii")
        default = self.pol.pii.get(cat) if cat not in (None, "none") else None
        rule_masks = []
        for r in sorted(self.pol.rules, key=lambda r: r["id"]):
            if r["effect"] == "mask" and self.rule_matches(r, col):
                reasons.add("mesh#rules[%s]" % r["id"])
                rule_masks.append(r.get("mask"))
        if not rule_masks:
            m = None if clear else default
        else:
            m = default
            for rm in rule_masks:
                if rm and (m is None or STRENGTH[rm] > STRENGTH[m]):
                    m = rm
        return {"access": "mask", "mask": m} if m else {"access": "allow"}

    def row_filter(self, grants, member_used):
        if member_used or not grants:
            return None
        gs = self.prod["grants"]
        if any("row_filter" not in gs[i] for i in grants):
            return None
        return " OR ".join("(%s)" % gs[i]["row_filter"] for i in sorted(grants))

    def describe(self):
        reasons = set()
        denied = False
        for i, d in enumerate(self.prod.get("deny", [])):
            if self.deny_active(d) and d["columns"] == "*":
                denied = True
                reasons.add(entry_id(self.pname, "deny", i, d))
        for r in self.pol.rules:
            if r["effect"] == "deny" and self.rule_matches(r, None):
                denied = True
                reasons.add("mesh#rules[%s]" % r["id"])
        ok = False
        if not denied:
            for i, g in enumerate(self.prod.get("grants", [])):
                if self.grant_active(g):
                    ok = True
                    reasons.add(entry_id(self.pname, "grants", i, g))
            if self.member:
                ok = True
                reasons.add("domain_member")
            if not ok:
                reasons.add("default_deny")
        return {"decision": "allow" if ok and not denied else "deny", "columns": {}, "row_filter": None,
                "reasons": sorted(reasons)}


def decide(pol, req, t):
    """SPEC 4 response fields, or {"error": ...} for a rejected request."""
    if req.get("action") not in ("describe", "read", "write"):
        return {"error": "unknown action"}
    purpose = (req.get("context") or {}).get("purpose")
    if purpose is not None and purpose not in pol.mesh["purposes"]:
        return {"error": "unknown purpose"}
    if req["resource"].get("columns") == []:
        return {"error": "empty columns"}
    if req["resource"]["product"] not in pol.products:
        return {"decision": "deny", "columns": {}, "row_filter": None, "reasons": ["unknown_product"]}
    return Decider(pol, req, t).decide()
