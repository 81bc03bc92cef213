#!/usr/bin/env bash
# Regenerate the certificates for serving several names (SNI) and for reload tests.
# DEMO credentials, signed by the demo CA in certs/ (ca.crt / ca.key): keys are public.
#
#   a.crt/a.key            CN=a.example.test, SAN DNS:a.example.test
#   b.crt/b.key            CN=b.example.test, SAN DNS:b.example.test
#   wildcard.crt/.key      CN=*.example.test, SAN DNS:*.example.test
#   next.crt/next.key      CN=localhost, SAN localhost, 127.0.0.1, ::1 — a second
#                          certificate for the default name, to show a reload swapping it
#
# Usage: certs/sni/generate.sh (run again after certs/generate.sh: it needs the CA).
set -euo pipefail
OPENSSL="${OPENSSL:-openssl}"
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CA="$DIR/.."
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
umask 022
cd "$DIR"

issue() { # $1 = file stem, $2 = CN, $3 = subjectAltName
    "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -pkeyopt ec_param_enc:named_curve -out "$1.key" 2>/dev/null
    "$OPENSSL" req -new -key "$1.key" -subj "/CN=$2" -out "$TMP/$1.csr" 2>/dev/null
    cat > "$TMP/$1.ext" <<EOF
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = $3
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
EOF
    "$OPENSSL" x509 -req -in "$TMP/$1.csr" -CA "$CA/ca.crt" -CAkey "$CA/ca.key" \
        -set_serial "0x$("$OPENSSL" rand -hex 15)" -days 36500 -sha256 \
        -extfile "$TMP/$1.ext" -out "$1.crt" 2>/dev/null
}

issue a a.example.test "DNS:a.example.test"
issue b b.example.test "DNS:b.example.test"
issue wildcard "*.example.test" "DNS:*.example.test"
issue next localhost "DNS:localhost, IP:127.0.0.1, IP:::1"
echo "certs/sni: a, b, wildcard, next (signed by certs/ca.crt)"
