#!/usr/bin/env bash
# bench_server.sh PDP LOADGEN -- `make bench-server`: the PDP and nginx
# (answering a fixed JSON body) behind the same mutual TLS, the same
# certificates and the same load (keep-alive, CONNS connections, SECS
# seconds each), in one run; prints both and the throughput ratio.
# A benchmark: figures only, no assertion on time.
set -euo pipefail
PDP=$1 LOADGEN=$2
CONNS=${CONNS:-64} SECS=${SECS:-5} THREADS=${THREADS:-2}
W=$(mktemp -d)
SHM=$(mktemp -d -p /dev/shm)
C=$PWD/certs/out
trap 'kill $(jobs -p) $(cat "$W"/pdp-*.pid 2>/dev/null) 2>/dev/null || true; [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; rm -rf "$W" "$SHM"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$PDP" compile examples/mesh -o "$W/mesh.bundle" --sign "$C/signing.pem" >/dev/null 2>&1
# request bodies: the decisions a gateway asks most (example mesh, mixed outcomes)
cat > "$W/bodies.jsonl" <<'JSON'
{"subject":{"id":"u-1842","domain":"finance","groups":["finance-analysts"]},"action":"read","resource":{"product":"orders.order_events","columns":["event_id","order_id","customer_email","order_total_cents","region","placed_at"]},"context":{"purpose":"billing","dialect":"trino"}}
{"subject":{"id":"u-2","domain":"marketing","groups":["marketing-analysts"]},"action":"read","resource":{"product":"customer.profiles","columns":["customer_id","email","country","loyalty_tier","date_of_birth"]},"context":{"purpose":"marketing"}}
{"subject":{"id":"u-10","domain":"orders","groups":["orders-engineers"]},"action":"read","resource":{"product":"orders.order_events"}}
{"subject":{"id":"u-20","domain":"customer","groups":["customer-support-agents"]},"action":"read","resource":{"product":"risk.fraud_cases","columns":["case_id","status"]},"context":{"purpose":"customer_support"}}
JSON

# the PDP with its audit log in a given fsync mode; prints the port. Mode
# "tmpfs" is `always` with the log in /dev/shm, where fdatasync costs
# nothing: the same code path without the disk, which shows the disk's share.
start_pdp() {
	local p dir=$W/audit-$1 fs=$1; p=$(port)
	if [ "$1" = tmpfs ]; then dir=$SHM/audit fs=always; fi
	cat > "$W/pdp-$1.yaml" <<YAML
listen: 127.0.0.1:$p
threads: $THREADS
tls: {cert: $C/server.pem, key: $C/server.key, client_ca: $C/ca.pem}
policy: {bundle: $W/mesh.bundle, pubkey: $C/signing.pub, watch_ms: 0}
log: {level: warn}
audit: {dir: $dir, checkpoint_key: $C/audit.pem, fsync: $fs}
YAML
	"$PDP" serve -c "$W/pdp-$1.yaml" >/dev/null 2>"$W/pdp-$1.log" &
	echo $! > "$W/pdp-$1.pid"
	echo "$p"
}
P2=$(port)
mkdir -p "$W/nginx"
cat > "$W/nginx.conf" <<NGINX
worker_processes $THREADS;
pid $W/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $W/nginx;
  server {
    listen 127.0.0.1:$P2 ssl;
    ssl_certificate $C/server.pem;
    ssl_certificate_key $C/server.key;
    ssl_client_certificate $C/ca.pem;
    ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_requests 1000000;
    location / { default_type application/json; return 200 '{"decision":"allow","columns":{},"row_filter":null,"reasons":[]}'; }
  }
}
NGINX
nginx -c "$W/nginx.conf" -p "$W/nginx"
sleep 0.5
# what group commit did in that run, from the PDP's /metrics
group_commit() {
	curl -s --cacert "$C/ca.pem" --cert "$C/gateway.pem" --key "$C/gateway.key" "https://localhost:$1/metrics" |
		awk '/^pdp_audit_records_total /{r=$2} /^pdp_audit_batches_total /{b=$2} /^pdp_audit_fsyncs_total /{f=$2}
		     /^pdp_audit_fsync_seconds_total /{t=$2} /^pdp_audit_fsync_seconds_max /{m=$2}
		     END { if (b && f) printf "    group commit: %.1f records per batch, %d fdatasync, mean %.0f us, max %.1f ms\n", r/b, f, t/f*1e6, m*1e3 }'
}
ROUNDS=${ROUNDS:-2}
echo "load: $CONNS keep-alive connections, $SECS s, mTLS, $THREADS server threads, 2 cores shared with the load generator"
echo "      $ROUNDS rounds of nginx, pdp(always), pdp(none), pdp(always on tmpfs) in turn (this machine drifts: compare within a round)"
HZ=$(getconf CLK_TCK)
# CPU ticks (user + system, all threads) of the given processes
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}'))); done; echo "$t"; }
# run PORT PID... -- one load run; appends the servers' CPU time per answer,
# a figure the machine's drift disturbs less than throughput
run() {
	local port=$1 t0 out n
	shift
	t0=$(ticks "$@")
	out=$("$LOADGEN" 127.0.0.1 "$port" "$C/ca.pem" "$C/gateway.pem" "$C/gateway.key" "$W/bodies.jsonl" /v1/decision "$CONNS" "$SECS")
	n=$(sed -E 's/.*\(([0-9]+) ok.*/\1/' <<<"$out")
	printf '%s  server CPU %.1f us/request\n' "$out" "$(echo "($(ticks "$@") - $t0) * 1000000 / $HZ / ($n + 1)" | bc -l)"
}
p99_of() { sed -E 's/.*p99 ([0-9.]+) ms .*/\1/' <<<"$1"; }
t_always=0 t_none=0 t_tmpfs=0 t_ngx=0
for round in $(seq "$ROUNDS"); do
	ngx=$(run "$P2" $(pgrep -P "$(cat "$W/nginx.pid")"))
	echo "[$round] nginx (fixed body):       $ngx"
	t_ngx=$(echo "$t_ngx + ${ngx%% req/s*}" | bc)
	p99_ngx=$(p99_of "$ngx")
	for mode in always none tmpfs; do
		P1=$(start_pdp $mode)
		sleep 0.5
		out=$(run "$P1" "$(cat "$W/pdp-$mode.pid")")
		if [ $mode = tmpfs ]; then
			echo "[$round] pdp (always, log on tmpfs): $out"
		else
			echo "[$round] pdp (audit fsync $mode): $out"
		fi
		eval "t_$mode=\$(echo \"\$t_$mode + ${out%% req/s*}\" | bc)"
		eval "p99_$mode=\$(p99_of \"\$out\")"
		[ "$mode" = always ] && group_commit "$P1"
		kill "$(cat "$W/pdp-$mode.pid")"; sleep 0.5
		rm -rf "$W/audit-$mode" "$SHM/audit"
	done
done
printf 'throughput ratio pdp(always)/nginx: %.2f (target >= 0.70)\n' "$(echo "$t_always / $t_ngx" | bc -l)"
printf 'throughput ratio pdp(none)/nginx:   %.2f\n' "$(echo "$t_none / $t_ngx" | bc -l)"
printf 'audit cost: always/none = %.2f (target >= 0.70, i.e. at most 30%% lower)\n' "$(echo "$t_always / $t_none" | bc -l)"
printf 'the disk'"'"'s share: always/always-on-tmpfs = %.2f (the same code path with fdatasync free)\n' "$(echo "$t_always / $t_tmpfs" | bc -l)"
printf 'p99 at %d connections (last round): pdp(always) %s ms, nginx %s ms (target <= 2 ms; nginx shows what the shared cores allow)\n' \
	"$CONNS" "$p99_always" "$p99_ngx"
