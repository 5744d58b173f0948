"""meshgen_variety.py -- `meshgen.py --variety`: seeded meshes that use every
feature of the policy language, and requests that probe them.

Purpose: input for the differential test (tests/reference/difftest_spec.sh), which
compares the C evaluator with the reference evaluator on these meshes. The
output must pass `pdp check` with no error, so every choice below stays
inside the governance checks (docs/policy-language.md): write only to the
owning domain's groups, unmasked only with purposes and only over covered
PII columns, not_before before expires, no max_grant_days bound (grants are
dated around fixed instants in 2025-2027, whatever today is).

Design: one random.Random(seed) drives everything, in a fixed order, so a
seed always gives the same files. Requests are biased towards the groups,
domains and subjects the product's grants and denies name, so that most of
them reach grants, denies and rules instead of the default deny.
"""
import json
import os
import random

PURPOSES = ["analytics", "billing", "customer_support", "fraud_investigation",
            "marketing", "regulatory_reporting"]
CLASSES = ["public", "internal", "confidential", "restricted"]
CATEGORIES = {"email": "hash", "work_email": "email_domain", "phone": "show_last_4",
              "card": "show_first_4", "name": "redact", "date_of_birth": "year_only",
              "ssn": "nullify", "ip_address": "hash"}
MASKS = ["year_only", "show_first_4", "show_last_4", "email_domain", "hash",
         "redact", "nullify"]
DETECT = ["email", "phone", "ssn", "date_of_birth", "name", "*_dob", "ip_?ddress"]
# (column, category): names that pii.detect matches carry their tag.
PII_COLUMNS = [("email", "email"), ("work_email", "work_email"), ("phone", "phone"),
               ("card_number", "card"), ("full_name", "name"),
               ("date_of_birth", "date_of_birth"), ("customer_dob", "date_of_birth"),
               ("ssn", "ssn"), ("client_ip_address", "ip_address"),
               ("backup_phone", "phone"), ("Contact_EMAIL", "email")]
NONE_COLUMNS = [("product_name", "catalog label, not personal data"),
                ("email_opt_in", "a consent flag, not an address"),
                ("Display_Name", "a shop's display name")]
# Own ids of grants and denies; their case and characters test the sort
# order of reasons (bytes, not locale).
IDS = ["grant-%d", "Grant_%d", "zz-%d", "\u00fc-%d", "0-%d"]
# Grant date windows: (not_before, expires), either may be absent.
WINDOWS = [(None, "2025-06-01"), ("2025-01-01", "2025-06-01"), ("2027-01-01", "2027-06-01"),
           ("2026-01-01", "2026-12-31"), ("2026-06-01", None), (None, "2026-06-01"),
           ("2026-12-31", "2027-01-01")]
# Decision instants around those dates (requests carry one in context.time).
INSTANTS = ["2025-03-01T12:00:00Z", "2025-05-31T23:59:59Z", "2025-06-01T00:00:00Z",
            "2026-01-01", "2026-05-31T23:59:59.5Z", "2026-06-01T00:00:00Z",
            "2026-06-01T01:00:00+02:00", "2026-09-15T08:30:00Z", "2026-12-31",
            "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z", "2027-03-01T00:00:00-05:00"]
ACTIONS = ["describe", "read", "write"]


def flow_list(items):
    return "[%s]" % ", ".join(items)


class Gen:
    def __init__(self, a):
        self.a = a
        self.rnd = random.Random(a.seed)
        self.domains = ["d%02d" % i for i in range(a.domains)]
        self.groups = [("g-%s-%d" % (d, k), d) for d in self.domains
                       for k in range(a.groups_per_domain)]
        self.group_names = [g for g, _ in self.groups]
        self.members = {}
        self.subjects = ["u%d" % i for i in range(12)]
        self.products = []   # (name, domain, [columns], [principals named])

    # ------------------------------------------------------------ mesh
    def condition(self, nkeys, narrow=False):
        """A rule condition of nkeys keys; narrow (for deny rules): one of
        them names domains, groups or purposes, so that the rule does not
        deny most requests."""
        r = self.rnd
        keys = r.sample(["actions", "product_domain", "product_classification",
                         "column_pii", "column_classification", "cross_domain",
                         "subject_groups", "purposes"], nkeys)
        if narrow and not set(keys) & {"product_domain", "subject_groups", "purposes"}:
            keys[0] = r.choice(["product_domain", "subject_groups", "purposes"])
        out = []
        for k in sorted(keys):
            if k == "actions":
                v = flow_list(r.sample(ACTIONS, r.randint(1, 2)))
            elif k == "product_domain":
                v = flow_list(r.sample(self.domains, min(len(self.domains), r.randint(1, 2))))
            elif k in ("product_classification", "column_classification"):
                # a single string is a one-item list
                v = r.choice(CLASSES[1:]) if r.random() < 0.5 else \
                    flow_list(r.sample(CLASSES, 2))
            elif k == "column_pii":
                v = "any" if r.random() < 0.4 else \
                    flow_list(r.sample(sorted(CATEGORIES), r.randint(1, 3)))
            elif k == "cross_domain":
                v = r.choice(["true", "false"])
            elif k == "subject_groups":
                v = flow_list(r.sample(self.group_names, min(len(self.group_names),
                                                             r.randint(1, 4))))
            else:
                v = flow_list(r.sample(PURPOSES, r.randint(1, 3)))
            out.append("%s: %s" % (k, v))
        return "{%s}" % ", ".join(out)

    def rules(self):
        r = self.rnd
        out = ["  - id: restricted-stays-in-domain", "    effect: deny",
               "    match: {product_classification: restricted, cross_domain: true}",
               "    except: {purposes: [regulatory_reporting]}",
               "  - id: pii-cross-domain", "    effect: mask",
               "    match: {column_pii: any, cross_domain: true}",
               "    except: {subject_groups: [%s], purposes: [fraud_investigation]}"
               % self.group_names[0],
               "  - id: marketing-pii-hashed", "    effect: mask", "    mask: hash",
               "    match: {purposes: [marketing], column_pii: any, "
               "product_classification: confidential}"]
        for i in range(self.a.rules):
            deny = r.random() < 0.35
            out += ["  - id: " + ("r%02d-%s" if i % 3 else "R%02d_%s") % (i, "deny" if deny else "mask"),
                    "    effect: %s" % ("deny" if deny else "mask")]
            if not deny and r.random() < 0.7:
                out.append("    mask: %s" % r.choice(MASKS))
            # deny rules get more keys, so that they stay narrow
            out.append("    match: %s" % (self.condition(r.randint(2, 3), narrow=True) if deny
                                             else self.condition(r.randint(1, 3))))
            if r.random() < 0.5:
                out.append("    except: %s" % self.condition(r.randint(1, 2)))
        return out

    def mesh(self):
        out = ["apiVersion: meshpdp/v1", "kind: Mesh",
               "classifications: %s" % flow_list(CLASSES),
               "purposes: %s" % flow_list(PURPOSES), "groups:"]
        out += ["  - {name: %s, domain: %s}" % g for g in self.groups]
        out += ["pii:",
                "  categories: {%s}" % ", ".join("%s: %s" % kv for kv in sorted(CATEGORIES.items())),
                "  detect: [%s]" % ", ".join('"%s"' % d for d in DETECT),
                "rules:"]
        out += self.rules()
        out += ["callers:", '  "spiffe://mesh.example/gateway/*": [decide]',
                "bounds: {max_freshness_minutes: 120}", "principals:"]
        out += ['  %s: "arn:aws:iam::123456789012:role/mesh-%s"' % (g, g)
                for g in self.group_names[::2]]
        return "\n".join(out) + "\n"

    def domain(self, d):
        r = self.rnd
        own = [g for g, gd in self.groups if gd == d]
        members = own[: max(1, len(own) // 2)]
        if r.random() < 0.2:   # a member group owned elsewhere (a warning)
            members.append(r.choice(self.group_names))
        self.members[d] = sorted(set(members))
        return ("apiVersion: meshpdp/v1\nkind: Domain\nname: %s\nowner: team-%s\n"
                "members: %s\ndefault_classification: %s\n"
                % (d, d, flow_list(self.members[d]), r.choice(CLASSES[:3])))

    # ------------------------------------------------------------ products
    def columns(self):
        r = self.rnd
        n = max(3, self.a.columns)
        pii = r.sample(PII_COLUMNS, min(len(PII_COLUMNS), r.randint(1, 4)))
        none = r.sample(NONE_COLUMNS, r.randint(0, 1))
        cols = [(c, cat, None) for c, cat in pii] + [(c, "none", why) for c, why in none]
        cols += [("c%02d" % i, None, None) for i in range(max(1, n - len(cols)))]
        r.shuffle(cols)
        return cols

    def target(self, dom, writable):
        """A grant's or deny's `to`, and whether write may be granted to it."""
        r = self.rnd
        x = r.random()
        if x < 0.65:
            own = [g for g, gd in self.groups if gd == dom] + self.members[dom]
            g = r.choice(own) if r.random() < 0.4 else r.choice(self.group_names)
            return "{group: %s}" % g, g in own and writable
        if x < 0.82:
            d = dom if r.random() < 0.3 else r.choice(self.domains)
            return "{domain: %s}" % d, d == dom and writable
        return "{subject: %s}" % r.choice(self.subjects), False

    def grant(self, dom, cols, pii_cols, gid, hooks):
        r = self.rnd
        to, can_write = self.target(dom, True)
        hook = {"to": to, "purposes": []}
        hooks.append(hook)
        acts = [a for a in ("describe", "read") if r.random() < (0.35 if a == "describe" else 0.85)]
        if can_write and r.random() < 0.4:
            acts.append("write")
        if not acts:
            acts = ["read"]
        out = []
        if gid:
            out.append("  - id: %s" % gid)
            out.append("    to: %s" % to)
        else:
            out.append("  - to: %s" % to)
        out.append("    actions: %s" % flow_list(acts))
        if r.random() < 0.2:
            covered = cols
            out.append('    columns: "*"')
        else:
            covered = sorted(r.sample(cols, r.randint(1, len(cols))))
            out.append("    columns: %s" % flow_list(covered))
        if r.random() < 0.45:
            hook["purposes"] = r.sample(PURPOSES, r.randint(1, 3))
            out.append("    purposes: %s" % flow_list(hook["purposes"]))
            can_unmask = [c for c in covered if c in pii_cols]
            if can_unmask and r.random() < 0.7:
                out.append("    unmasked: %s" % flow_list(
                    r.sample(can_unmask, r.randint(1, len(can_unmask)))))
        if r.random() < 0.4:
            generic = [c for c in cols if c[0] == "c" and c[1:].isdigit()]
            out.append("    row_filter: \"%s = '%d'\"" % (r.choice(generic[:3]), r.randrange(3)))
        if r.random() < 0.4:
            nb, ex = r.choice(WINDOWS)
            if nb:
                out.append("    not_before: %s" % nb)
            if ex:
                out.append("    expires: %s" % ex)
        return out

    def deny(self, dom, cols, did, hooks):
        r = self.rnd
        to, _ = self.target(dom, False)
        hooks.append({"to": to, "purposes": []})
        acts = r.sample(ACTIONS, r.randint(1, 3))
        if did:
            out = ["  - id: %s" % did, "    to: %s" % to]
        else:
            out = ["  - to: %s" % to]
        out.append("    actions: %s" % flow_list(acts))
        if r.random() < 0.35:
            out.append('    columns: "*"')
        else:
            out.append("    columns: %s" % flow_list(r.sample(cols, r.randint(1, 3))))
        if r.random() < 0.3:
            out.append("    purposes: %s" % flow_list(r.sample(PURPOSES, r.randint(1, 2))))
        return out

    def product(self, i, dom):
        r = self.rnd
        name = "p%05d" % i
        cols = self.columns()
        out = ["apiVersion: meshpdp/v1", "kind: DataProduct", "metadata:",
               "  name: %s.%s" % (dom, name), "  domain: %s" % dom,
               "  owner: team-%s" % dom, "  version: %d.%d.%d" % (
                   r.randrange(1, 4), r.randrange(10), r.randrange(10))]
        if r.random() < 0.8:   # else the domain's default_classification
            out.append("classification: %s" % r.choice(CLASSES))
        out += ["slo: {freshness_minutes: %d, completeness_percent: 99.5}" % r.randint(5, 120),
                "output_ports:",
                "  - {type: table, catalog: awsdatacatalog, database: %s_prod, table: %s}"
                % (dom, name),
                "schema:", "  columns:"]
        for c, pii, why in cols:
            extra = ""
            if pii == "none":
                extra = ', pii: none, reason: "%s"' % why
            elif pii:
                extra = ", pii: %s" % pii
            if r.random() < 0.15:
                extra += ", classification: %s" % r.choice(CLASSES)
            out.append("    - {name: %s, type: string%s}" % (c, extra))
        names = [c for c, _, _ in cols]
        pii_cols = {c for c, pii, _ in cols if pii and pii != "none"}
        out.append("grants:")
        ngrants = max(1, self.a.grants_per_product)
        hooks = []
        for k in range(ngrants):
            gid = r.choice(IDS) % k if r.random() < 0.15 else None
            out += self.grant(dom, names, pii_cols, gid, hooks)
        ndeny = r.choice([0, 0, 1, 1, 2])
        if ndeny:
            out.append("deny:")
            for k in range(ndeny):
                did = r.choice(IDS).replace("%d", "deny-%d") % k if r.random() < 0.25 else None
                out += self.deny(dom, names, did, hooks)
        self.products.append(("%s.%s" % (dom, name), dom, names, hooks))
        return "%s.yaml" % name, "\n".join(out) + "\n"

    # ------------------------------------------------------------ requests
    def subject(self, dom, hooks, ctx):
        """A subject near the product: often one its grants or denies name
        (and then often with one of that grant's purposes)."""
        r = self.rnd
        s = {"id": r.choice(self.subjects)}
        x = r.random()
        if x < 0.45:
            s["domain"] = dom
        elif x < 0.8:
            s["domain"] = r.choice(self.domains)
        elif x < 0.9:
            s["domain"] = "elsewhere"
        own = [g for g, gd in self.groups if gd == dom] + self.members[dom]
        groups = [r.choice(own) if r.random() < 0.4 else r.choice(self.group_names)
                  for _ in range(r.randint(0, 3))]
        if r.random() < 0.3:
            groups.append(self.group_names[0])   # the pii-cross-domain except group
        s["groups"] = groups
        for h in r.sample(hooks, min(len(hooks), r.choice([0, 1, 1, 2, 3]))):
            kind, value = h["to"][1:-1].split(": ")
            if kind == "group":
                groups.append(value)
            elif kind == "domain":
                s["domain"] = value
            else:
                s["id"] = value
            if h["purposes"] and r.random() < 0.6:
                ctx["purpose"] = r.choice(h["purposes"])
        if r.random() < 0.1:
            s["attributes"] = {"country": "DE"}
        return s

    def request(self):
        r = self.rnd
        if r.random() < 0.04:
            name, dom, cols, hooks = ("%s.nothing" % r.choice(self.domains),
                                      r.choice(self.domains), ["c00"], [])
        else:
            name, dom, cols, hooks = r.choice(self.products)
        act = r.choice(["read", "read", "read", "describe", "write"])
        ctx = {"time": r.choice(INSTANTS)}
        if r.random() < 0.5:
            ctx["purpose"] = r.choice(PURPOSES)
        req = {"subject": self.subject(dom, hooks, ctx), "action": act,
               "resource": {"product": name}}
        if r.random() < 0.7:
            pick = r.sample(cols, r.randint(1, min(6, len(cols))))
            if r.random() < 0.08:
                pick.append("no_such_column")
            if r.random() < 0.05:
                pick.append(pick[0])
            req["resource"]["columns"] = pick
        if r.random() < 0.1:
            ctx["dialect"] = r.choice(["postgres", "trino", "spark"])
        if r.random() < 0.1:
            ctx["query_id"] = "q-%d" % r.randrange(1000)
        req["context"] = ctx
        x = r.random()   # a few requests that must be rejected
        if x < 0.01:
            req["action"] = "select"
        elif x < 0.02:
            req["context"]["purpose"] = "sightseeing"
        elif x < 0.03:
            req["resource"]["columns"] = []
        elif x < 0.04:
            req["reason"] = "extra top-level key"
        elif x < 0.045:
            req["subject"]["role"] = "extra subject key"
        return req


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def generate(a):
    g = Gen(a)
    os.makedirs(a.out, exist_ok=True)
    write(os.path.join(a.out, "mesh.yaml"), g.mesh())
    for d in g.domains:
        os.makedirs(os.path.join(a.out, "domains", d, "products"), exist_ok=True)
        write(os.path.join(a.out, "domains", d, "domain.yaml"), g.domain(d))
    for i in range(a.products):
        d = g.domains[i % len(g.domains)]
        fname, text = g.product(i, d)
        write(os.path.join(a.out, "domains", d, "products", fname), text)
    if a.requests and a.requests_out:
        with open(a.requests_out, "w") as f:
            for _ in range(a.requests):
                f.write(json.dumps(g.request(), separators=(",", ":")) + "\n")
