#!/usr/bin/env bash
# check_bench.sh [N] -- time `pdp check` over a generated policy of N product
# files (default 10000) in one domain-per-100-products mesh. Prints figures;
# asserts nothing about time (performance is reported, not tested).
set -euo pipefail
n=${1:-10000}
pdp=${PDP:-build/pdp}
dir=$(mktemp -d /tmp/pdp-check-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" "$n" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
ndom = max(1, n // 100)
doms = ["d%03d" % i for i in range(ndom)]
with open(os.path.join(root, "mesh.yaml"), "w") as f:
    f.write("apiVersion: meshpdp/v1\nkind: Mesh\n"
            "classifications: [public, internal, confidential, restricted]\n"
            "purposes: [analytics, billing, marketing]\n"
            "pii:\n  categories: {email: hash, phone: show_last_4}\n"
            "  detect: [email, phone, name, \"*_dob\"]\n"
            "bounds: {max_grant_days: 365, max_freshness_minutes: 120}\ngroups:\n")
    for d in doms:
        f.write("  - {name: %s-analysts, domain: %s}\n" % (d, d))
for di, d in enumerate(doms):
    os.makedirs(os.path.join(root, "domains", d, "products"))
    with open(os.path.join(root, "domains", d, "domain.yaml"), "w") as f:
        f.write("apiVersion: meshpdp/v1\nkind: Domain\nname: %s\nowner: t\n"
                "members: [%s-analysts]\ndefault_classification: internal\n" % (d, d))
for i in range(n):
    d = doms[i % ndom]
    other = doms[(i + 1) % ndom]
    cols = "".join("    - {name: c%d, type: string}\n" % k for k in range(20))
    with open(os.path.join(root, "domains", d, "products", "p%05d.yaml" % i), "w") as f:
        f.write("apiVersion: meshpdp/v1\nkind: DataProduct\nmetadata:\n"
                "  name: %s.p%05d\n  domain: %s\n  owner: t\n  version: 1.0.0\n"
                "classification: confidential\n"
                "slo: {freshness_minutes: 30, completeness_percent: 99.5}\n"
                "schema:\n  columns:\n"
                "    - {name: customer_email, type: string, pii: email}\n%s"
                "grants:\n"
                "  - to: {group: %s-analysts}\n    actions: [describe, read]\n"
                "    columns: [c1, c2, customer_email]\n    purposes: [billing]\n"
                "    unmasked: [customer_email]\n    expires: 2027-01-01\n"
                "deny:\n  - to: {domain: %s}\n    actions: [read]\n    columns: [c3]\n"
                % (d, i, d, cols, other, other))
PY
size=$(du -sk "$dir" | cut -f1)
start=$(date +%s.%N)
"$pdp" check "$dir" 2>"$dir.out" || { cat "$dir.out"; rm -f "$dir.out"; exit 1; }
end=$(date +%s.%N)
tail -1 "$dir.out"; rm -f "$dir.out"
awk -v s="$start" -v e="$end" -v n="$n" -v kb="$size" \
	'BEGIN { t = e - s; printf "bench-check: %d product files (%d KiB) checked in %.3f s (%.1f us/product)\n", n, kb, t, t * 1e6 / n }'
