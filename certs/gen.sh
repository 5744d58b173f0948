#!/usr/bin/env bash
# gen.sh [OUT] -- the development PKI (never for production):
#   ca.pem/ca.key            the dev CA that signs everything below
#   server.pem/server.key    the PDP (DNS localhost, IP 127.0.0.1)
#   gateway.*                client spiffe://mesh.example/gateway/trino-eu   (role decide)
#   admin.*                  client spiffe://mesh.example/governance/ci      (admin, grants)
#   auditor.*                client spiffe://mesh.example/audit/auditor-1    (audit)
#   nobody.*                 client spiffe://mesh.example/other/nobody       (no role)
#   cn-only.*                client with CN gateway-cn and no SAN
#   rogue-ca.pem, rogue.*    another CA and a client it signed (must be refused)
#   signing.pem/signing.pub  Ed25519 key pair for signing bundles
#   audit.pem/audit.pub      Ed25519 key pair for audit checkpoints
# Private keys are generated here and never committed (certs/out is ignored).
# Idempotent: an existing OUT with a ca.pem is kept.
set -euo pipefail
OUT=${1:-certs/out}
[ -f "$OUT/ca.pem" ] && [ -f "$OUT/audit.pub" ] && exit 0
mkdir -p "$OUT"
cd "$OUT"
DAYS=825

ca() { # name subject
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
		-out "$1.pem" -days $DAYS -subj "$2" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() { # name ca subject ext
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
		-subj "$3" 2>/dev/null
	printf '%s\n' "$4" > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" \
		-days $DAYS -extfile "$1.ext" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

client_ext() { printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n%s' "$1"; }

ca ca "/CN=meshpdp dev CA"
leaf server ca "/CN=localhost" "$(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1')"
leaf gateway ca "/CN=trino-eu" "$(client_ext 'subjectAltName=URI:spiffe://mesh.example/gateway/trino-eu')"
leaf admin ca "/CN=governance-ci" "$(client_ext 'subjectAltName=URI:spiffe://mesh.example/governance/ci')"
leaf auditor ca "/CN=auditor-1" "$(client_ext 'subjectAltName=URI:spiffe://mesh.example/audit/auditor-1')"
leaf nobody ca "/CN=nobody" "$(client_ext 'subjectAltName=URI:spiffe://mesh.example/other/nobody')"
leaf cn-only ca "/CN=gateway-cn" "$(client_ext '')"
ca rogue-ca "/CN=not the meshpdp CA"
leaf rogue rogue-ca "/CN=rogue" "$(client_ext 'subjectAltName=URI:spiffe://mesh.example/gateway/rogue')"
openssl genpkey -algorithm ed25519 -out signing.pem 2>/dev/null
openssl pkey -in signing.pem -pubout -out signing.pub
openssl genpkey -algorithm ed25519 -out audit.pem 2>/dev/null
openssl pkey -in audit.pem -pubout -out audit.pub
chmod 600 ./*.key signing.pem audit.pem
echo "dev PKI written to $OUT"
