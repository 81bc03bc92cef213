#!/usr/bin/env bash
# Regenerate the demo/test credentials in this folder.
#
# Everything here is a DEMO credential: the private keys are committed to the
# repository and therefore public. Never use them for anything but local
# testing.
#
# Usage: certs/generate.sh   (from any directory; `make certs` runs it)
#
# The script always regenerates every file (new keys, new serial numbers), so
# the certificates change on each run while the file names stay the same.
#
# At the end it runs certs/client/generate.sh (client-authentication credentials),
# certs/sni/generate.sh (certificates served by name) and certs/check/generate.sh.
# Each also runs on its own and touches nothing outside its folder.
set -euo pipefail

OPENSSL="${OPENSSL:-openssl}"
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BAD="$DIR/bad"

# Validity in days for every certificate. 36500 days is about 100 years;
# dates after 2049 are encoded as GeneralizedTime, which rustls/webpki accept.
DAYS=36500

umask 022
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

mkdir -p "$BAD"
cd "$DIR"

# Start from a clean slate so the script is idempotent.
rm -f ca.key ca.crt ca.srl \
      server.key server.crt server-chain.crt \
      server-rsa.key server-rsa.crt
rm -f "$BAD"/empty.pem "$BAD"/server.der "$BAD"/server-key.der \
      "$BAD"/server.csr "$BAD"/trusted.crt "$BAD"/encrypted.key \
      "$BAD"/other.key "$BAD"/rsa-traditional.key "$BAD"/garbage.pem

quiet() { # run a command, show its chatter on stderr only if it fails
    local out
    if ! out="$("$@" 2>&1)"; then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

gen_p256() { # $1 = output file (unencrypted PKCS#8 PEM)
    "$OPENSSL" genpkey -algorithm EC \
        -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve \
        -out "$1"
}

gen_rsa2048() { # $1 = output file (unencrypted PKCS#8 PEM)
    "$OPENSSL" genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
}

random_serial() { # 16 random bytes with the top bit cleared (positive INTEGER)
    local hex
    hex="$("$OPENSSL" rand -hex 16)"
    printf '0x%x%s' $(( 0x${hex:0:1} & 0x7 )) "${hex:1}"
}

# ---------------------------------------------------------------- root CA ---
cat > "$TMP/ca.ext" <<'EOF'
[ req ]
distinguished_name = dn
prompt             = no
x509_extensions    = v3_ca

[ dn ]
CN = tls-server demo CA

[ v3_ca ]
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF

gen_p256 ca.key
"$OPENSSL" req -new -x509 -config "$TMP/ca.ext" -key ca.key -sha256 \
    -days "$DAYS" -set_serial "$(random_serial)" -out ca.crt

# --------------------------------------------------------- server certs ---
cat > "$TMP/server-req.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt             = no

[ dn ]
CN = localhost
EOF

cat > "$TMP/server.ext" <<'EOF'
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF

issue_server_cert() { # $1 = key file, $2 = CSR out, $3 = cert out, $4 = ext file
    "$OPENSSL" req -new -config "$TMP/server-req.cnf" -key "$1" -sha256 -out "$2"
    quiet "$OPENSSL" x509 -req -in "$2" -CA ca.crt -CAkey ca.key \
        -set_serial "$(random_serial)" -sha256 -days "$DAYS" \
        -extfile "$4" -out "$3"
}

gen_p256 server.key
issue_server_cert server.key "$BAD/server.csr" server.crt "$TMP/server.ext"
cat server.crt ca.crt > server-chain.crt

gen_rsa2048 server-rsa.key
issue_server_cert server-rsa.key "$TMP/server-rsa.csr" server-rsa.crt "$TMP/server.ext"

# ------------------------------------------------------------ bad inputs ---
# Deliberately broken (or merely unexpected) inputs for configuration-error
# tests. bad/no-permission.key is not generated: tests create it themselves.
: > "$BAD/empty.pem"
"$OPENSSL" x509 -in server.crt -outform DER -out "$BAD/server.der"
"$OPENSSL" pkey -in server.key -outform DER -out "$BAD/server-key.der"
# ($BAD/server.csr was written above, it is the CSR for server.key.)
"$OPENSSL" x509 -in server.crt -trustout -addtrust serverAuth -out "$BAD/trusted.crt"
"$OPENSSL" pkcs8 -topk8 -in server.key -v2 aes-256-cbc -passout pass:secret \
    -out "$BAD/encrypted.key"
gen_p256 "$BAD/other.key"
quiet "$OPENSSL" rsa -in server-rsa.key -traditional -out "$BAD/rsa-traditional.key"
cat > "$BAD/garbage.pem" <<'EOF'
This file is named like a PEM file but contains no PEM blocks at all.
It exists so that tests can check that loading it as a certificate or a
private key fails with a clear error instead of silently succeeding.
EOF

# Keys are committed on purpose (demo credentials), so make every file
# world-readable: openssl creates private keys with mode 0600.
chmod 0644 ./*.key ./*.crt "$BAD"/*
chmod 0755 "$DIR/generate.sh"

echo "Generated demo credentials in $DIR:"
( cd "$DIR" && ls -l ./*.key ./*.crt bad/ )

# ------------------------------------------------ client-auth credentials ---
OPENSSL="$OPENSSL" "$BASH" "$DIR/client/generate.sh"
OPENSSL="$OPENSSL" "$BASH" "$DIR/sni/generate.sh"

# ------------------------------------------- fixtures for check and probe ---
OPENSSL="$OPENSSL" "$BASH" "$DIR/check/generate.sh"
