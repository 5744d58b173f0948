#!/usr/bin/env bash
# bench_reload.sh PDP LOADGEN -- `make bench-reload`: how long a 10,000-product
# bundle takes to load, and the decision latency under load while the
# policy is reloaded every 200 ms, against the same load without reloads.
# A benchmark: figures only.
set -euo pipefail
PDP=$1 LOADGEN=$2
W=$(mktemp -d)
C=$PWD/certs/out
trap 'kill $(cat "$W/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$W"' EXIT
for s in 1 2; do
	python3 tests/bench/meshgen.py --seed $s --out "$W/m$s" --products 10000 --grants-per-product 10 \
		--requests 2000 --requests-out "$W/r$s.jsonl"
	"$PDP" compile "$W/m$s" -o "$W/b$s.bundle" --sign "$C/signing.pem" >/dev/null
done
for i in 1 2 3; do
	/usr/bin/time -f '%e' "$PDP" bundle verify "$W/b1.bundle" --pubkey "$C/signing.pub" >/dev/null 2>>"$W/t"
done
printf 'load + verify of a 10,000-product, 100,000-grant signed bundle (pdp bundle verify, best of 3): %s s (target <= 0.3 s)\n' \
	"$(sort -n "$W/t" | head -1)"
cp "$W/b1.bundle" "$W/cur.bundle"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$W/pdp.yaml" <<YAML
listen: 127.0.0.1:$port
threads: 2
tls: {cert: $C/server.pem, key: $C/server.key, client_ca: $C/ca.pem}
policy: {bundle: $W/cur.bundle, pubkey: $C/signing.pub, watch_ms: 0}
log: {level: info}
audit: {dir: $W/audit, checkpoint_key: $C/audit.pem}
YAML
"$PDP" serve -c "$W/pdp.yaml" >/dev/null 2>"$W/log" &
echo $! > "$W/pid"
sleep 1
run() { "$LOADGEN" 127.0.0.1 "$port" "$C/ca.pem" "$C/gateway.pem" "$C/gateway.key" "$W/r1.jsonl" /v1/decision 32 5; }
steady=$(run)
echo "steady:          $steady"
( for i in $(seq 1 25); do cp "$W/b$((i % 2 + 1)).bundle" "$W/next"; mv "$W/next" "$W/cur.bundle"; kill -HUP "$(cat "$W/pid")"; sleep 0.2; done ) &
loop=$!
during=$(run)
wait "$loop"
echo "during reloads:  $during  (25 reloads of 100,000 grants, one every 200 ms)"
p99() { sed 's/.*p99 \([0-9.]*\) ms.*/\1/' <<<"$1"; }
printf 'p99 during reloads / steady: %.2f (target <= 3)\n' "$(echo "$(p99 "$during") / $(p99 "$steady")" | bc -l)"
printf 'reloads done: %s\n' "$(grep -c '"reloaded"' "$W/log" || true)"
