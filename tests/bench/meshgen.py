#!/usr/bin/env python3
"""meshgen.py -- a seeded generator of large, valid meshes and requests.

Used by `make bench-eval` (and usable for any load test): writes a policy
directory that passes `pdp check` and a JSON-lines file of decision requests
against it. The same seed gives the same files.

usage: meshgen.py --out DIR --products N [--grants-per-product G]
                  [--columns C] [--domains D] [--groups-per-domain K]
                  [--requests R --requests-out FILE] [--seed S]
                  [--variety [--rules N]]

--variety (used by tests/reference/difftest_spec.sh) generates policy of every
kind the SPEC allows instead of the benchmark's uniform shape: columns with
PII categories of every mask, `pii: none`, classification overrides; grants
to groups, domains and subjects with every action, purposes, unmasked, row
filters, ids and dates around fixed instants (expired, not yet active,
current); deny entries with ids, purposes and "*"; mesh rules (the SPEC's
three plus N random ones) over every condition key, with except blocks and
masks of every strength; and requests of every action, with or without
columns, purpose, subject domain, unknown products and columns, duplicate
columns, a context.time around the grants' dates, and a few that must be
rejected. Without --variety the output is the benchmark's, unchanged.
"""
import argparse
import json
import os
import random

PURPOSES = ["analytics", "billing", "customer_support", "fraud_investigation",
            "marketing", "regulatory_reporting"]
CLASSES = ["public", "internal", "confidential", "restricted"]
PII = {"email": "hash", "phone": "show_last_4", "name": "redact",
       "date_of_birth": "year_only", "ssn": "nullify"}


def mesh_yaml(domains, groups):
    out = ["apiVersion: meshpdp/v1", "kind: Mesh",
           "classifications: [%s]" % ", ".join(CLASSES),
           "purposes: [%s]" % ", ".join(PURPOSES), "groups:"]
    out += ["  - {name: %s, domain: %s}" % (g, d) for g, d in groups]
    out += ["pii:", "  categories: {%s}" % ", ".join("%s: %s" % kv for kv in PII.items()),
            "  detect: [email, phone, ssn, date_of_birth, full_name]",
            "rules:",
            "  - id: restricted-stays-in-domain", "    effect: deny",
            "    match: {product_classification: restricted, cross_domain: true}",
            "    except: {purposes: [regulatory_reporting]}",
            "  - id: pii-cross-domain", "    effect: mask",
            "    match: {column_pii: any, cross_domain: true}",
            "    except: {subject_groups: [%s], purposes: [fraud_investigation]}" % groups[0][0],
            "  - id: marketing-pii-hashed", "    effect: mask", "    mask: hash",
            "    match: {purposes: [marketing], column_pii: any, product_classification: confidential}",
            "callers:", '  "spiffe://mesh.example/gateway/*": [decide]',
            "bounds: {max_freshness_minutes: 120}"]
    return "\n".join(out) + "\n"


def product_yaml(rnd, name, dom, groups, domains, ncols, ngrants):
    cols = ["c%02d" % i for i in range(ncols - 2)] + ["email", "phone"]
    cls = rnd.choice(CLASSES[1:])
    out = ["apiVersion: meshpdp/v1", "kind: DataProduct", "metadata:",
           "  name: %s.%s" % (dom, name), "  domain: %s" % dom, "  owner: team-%s" % dom,
           "  oncall: oncall@example.com", "  version: 1.%d.0" % rnd.randrange(10),
           "classification: %s" % cls,
           "output_ports:",
           "  - {type: table, catalog: awsdatacatalog, database: %s_prod, table: %s}" % (dom, name),
           "schema:", "  columns:"]
    for c in cols:
        pii = ", pii: %s" % c if c in PII else ""
        out.append("    - {name: %s, type: string%s}" % (c, pii))
    out.append("grants:")
    for _ in range(ngrants):
        out += grant_yaml(rnd, cols, groups, domains)
    if rnd.random() < 0.3:
        out += ["deny:", "  - to: {group: %s}" % rnd.choice(groups)[0],
                "    actions: [read]", "    columns: [%s]" % rnd.choice(cols)]
    return "\n".join(out) + "\n"


def grant_yaml(rnd, cols, groups, domains):
    r = rnd.random()
    if r < 0.8:
        to = "{group: %s}" % rnd.choice(groups)[0]
    elif r < 0.95:
        to = "{domain: %s}" % rnd.choice(domains)
    else:
        to = "{subject: u%d}" % rnd.randrange(1000)
    picked = sorted(rnd.sample(cols, min(len(cols), rnd.randrange(3, 12))))
    g = ["  - to: %s" % to,
         "    actions: [%s]" % ("describe, read" if rnd.random() < 0.3 else "read"),
         "    columns: %s" % ('"*"' if rnd.random() < 0.1 else "[%s]" % ", ".join(picked))]
    if rnd.random() < 0.4:
        g.append("    purposes: [%s]" % ", ".join(sorted(rnd.sample(PURPOSES, 2))))
        pii = [c for c in picked if c in PII]
        if pii and rnd.random() < 0.5:
            g.append("    unmasked: [%s]" % pii[0])
    if rnd.random() < 0.3:
        g.append("    row_filter: \"%s = '%d'\"" % (rnd.choice(cols[:4]), rnd.randrange(100)))
    if rnd.random() < 0.3:
        g += ["    not_before: 2026-01-01", "    expires: 2026-12-01"]
    return g


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--products", type=int, required=True)
    ap.add_argument("--grants-per-product", type=int, default=10)
    ap.add_argument("--columns", type=int, default=20)
    ap.add_argument("--domains", type=int, default=20)
    ap.add_argument("--groups-per-domain", type=int, default=5)
    ap.add_argument("--requests", type=int, default=0)
    ap.add_argument("--requests-out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variety", action="store_true")
    ap.add_argument("--rules", type=int, default=8)
    a = ap.parse_args()
    if a.variety:
        import meshgen_variety
        meshgen_variety.generate(a)
        return
    rnd = random.Random(a.seed)
    domains = ["d%03d" % i for i in range(a.domains)]
    groups = [("g-%s-%d" % (d, k), d) for d in domains for k in range(a.groups_per_domain)]
    os.makedirs(a.out, exist_ok=True)
    write(os.path.join(a.out, "mesh.yaml"), mesh_yaml(domains, groups))
    products = []
    for d in domains:
        os.makedirs(os.path.join(a.out, "domains", d, "products"), exist_ok=True)
        members = [g for g, gd in groups if gd == d][: max(1, a.groups_per_domain // 2)]
        write(os.path.join(a.out, "domains", d, "domain.yaml"),
              "apiVersion: meshpdp/v1\nkind: Domain\nname: %s\nowner: team-%s\n"
              "members: [%s]\ndefault_classification: internal\n" % (d, d, ", ".join(members)))
    for i in range(a.products):
        d = domains[i % len(domains)]
        name = "p%06d" % i
        products.append("%s.%s" % (d, name))
        write(os.path.join(a.out, "domains", d, "products", name + ".yaml"),
              product_yaml(rnd, name, d, groups, domains, a.columns, a.grants_per_product))
    if a.requests and a.requests_out:
        cols = ["c%02d" % i for i in range(a.columns - 2)] + ["email", "phone"]
        with open(a.requests_out, "w") as f:
            for _ in range(a.requests):
                req = {"subject": {"id": "u%d" % rnd.randrange(1000),
                                   "domain": rnd.choice(domains),
                                   "groups": [rnd.choice(groups)[0] for _ in range(3)]},
                       "action": "read",
                       "resource": {"product": rnd.choice(products),
                                    "columns": rnd.sample(cols, min(10, len(cols)))}}
                if rnd.random() < 0.5:
                    req["context"] = {"purpose": rnd.choice(PURPOSES)}
                f.write(json.dumps(req) + "\n")


if __name__ == "__main__":
    main()
