#!/usr/bin/env bash
# Regenerate the fixtures for `tls-server check` (tests/check.rs) and `tls-server probe`
# (tests/probe.rs): one certificate per mistake, each with its own key, under a CA
# hierarchy of their own (check root → check intermediate), unrelated to the demo CA in
# certs/ca.crt.
#
# Everything here is a DEMO credential: the private keys are committed and therefore
# public. Never use them for anything but local testing.
#
# Usage: certs/check/generate.sh   (from any directory; needs OpenSSL 3)
#
# Idempotent: every run deletes the files it owns and writes them again (new keys, new
# serial numbers, same names). Nothing else in the repository is touched.
set -euo pipefail

OPENSSL="${OPENSSL:-openssl}"
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DAYS=36500 # about 100 years; dates after 2049 are GeneralizedTime, which webpki accepts

umask 022
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$DIR"

# The files this script owns, and nothing else.
FIXTURES="root intermediate chain expired not-yet-valid client-only self-signed \
    ca-as-leaf cn-only rsa1024 sha1 no-digital-signature"
for f in $FIXTURES; do rm -f "$f.crt" "$f.key"; done
rm -f chain-complete.crt chain-missing.crt chain-reversed.crt

quiet() { # run a command; show its chatter (on stderr) only if it fails
    local out
    if ! out="$("$@" 2>&1)"; then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

p256() { # $1 = key file (unencrypted PKCS#8 PEM). P-256: fast to generate.
    quiet "$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -pkeyopt ec_param_enc:named_curve -out "$1"
}

csr() { # $1 = key, $2 = CN, $3 = CSR out
    quiet "$OPENSSL" req -new -key "$1" -subj "/CN=$2" -out "$3"
}

# `openssl ca` rather than `openssl x509 -req`: OpenSSL 3.0's `x509` has no way to set the
# start date (-not_before arrived in 3.4), and the expired and not-yet-valid fixtures need
# fixed dates. A throw-away CA database in $TMP keeps the script stateless.
mkdir -p "$TMP/newcerts"
: > "$TMP/index.txt"
cat > "$TMP/ca.cnf" <<EOF
[ ca ]
default_ca = check_ca

[ check_ca ]
database        = $TMP/index.txt
new_certs_dir   = $TMP/newcerts
rand_serial     = yes
default_md      = sha256
policy          = policy_any
unique_subject  = no
copy_extensions = none
email_in_dn     = no

[ policy_any ]
commonName = supplied
EOF

# sign ISSUER CSR OUT EXTFILE [START END] [MD]: START/END are YYYYMMDDHHMMSSZ or "-".
sign() {
    local issuer="$1" in="$2" out="$3" ext="$4" start="${5:--}" end="${6:--}" md="${7:-sha256}"
    local dates=(-days "$DAYS")
    if [ "$start" != "-" ]; then dates=(-startdate "$start" -enddate "$end"); fi
    quiet "$OPENSSL" ca -batch -notext -config "$TMP/ca.cnf" \
        -cert "$issuer.crt" -keyfile "$issuer.key" -md "$md" "${dates[@]}" \
        -in "$in" -out "$out" -extfile "$ext"
}

ext() { # $1 = name; the extension lines come on stdin
    cat > "$TMP/$1.ext"
}

# A normal server certificate for localhost and *.example.test (wildcard checks).
ext server <<'EOF'
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, DNS:*.example.test, IP:127.0.0.1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF

# ------------------------------------------------------------ the CAs ---
ext root <<'EOF'
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
p256 root.key
quiet "$OPENSSL" req -new -x509 -key root.key -subj "/CN=tls-server check root CA" \
    -days "$DAYS" -sha256 -extensions v3 -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat "$TMP/root.ext") \
    -out root.crt

ext intermediate <<'EOF'
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
p256 intermediate.key
csr intermediate.key "tls-server check intermediate CA" "$TMP/intermediate.csr"
sign root "$TMP/intermediate.csr" intermediate.crt "$TMP/intermediate.ext"

# ------------------------------------------- chains through the intermediate ---
# chain-complete.crt: leaf + intermediate (right); chain-missing.crt: the leaf alone;
# chain-reversed.crt: intermediate first, then the leaf (the classic "key values mismatch").
p256 chain.key
csr chain.key localhost "$TMP/chain.csr"
sign intermediate "$TMP/chain.csr" "$TMP/chain-leaf.crt" "$TMP/server.ext"
cat "$TMP/chain-leaf.crt" intermediate.crt > chain-complete.crt
cp "$TMP/chain-leaf.crt" chain-missing.crt
cat intermediate.crt "$TMP/chain-leaf.crt" > chain-reversed.crt

# ----------------------------------------- leaves issued by the root directly ---
leaf() { # NAME EXTNAME [START END] [MD]
    local name="$1" extname="$2"
    shift 2
    p256 "$name.key"
    csr "$name.key" localhost "$TMP/$name.csr"
    sign root "$TMP/$name.csr" "$name.crt" "$TMP/$extname.ext" "$@"
}

leaf expired server 20200101000000Z 20210101000000Z
leaf not-yet-valid server 20900101000000Z 21000101000000Z
leaf sha1 server - - sha1

ext client-only <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage         = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName   = DNS:localhost
EOF
leaf client-only client-only

ext ca-as-leaf <<'EOF'
basicConstraints = critical, CA:TRUE
keyUsage         = critical, digitalSignature, keyCertSign, cRLSign
extendedKeyUsage = serverAuth
subjectAltName   = DNS:localhost
EOF
leaf ca-as-leaf ca-as-leaf

ext cn-only <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage         = critical, digitalSignature
extendedKeyUsage = serverAuth
EOF
leaf cn-only cn-only

# keyEncipherment alone: the key may not sign, which every TLS 1.3 handshake needs.
ext no-digital-signature <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage         = critical, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName   = DNS:localhost
EOF
leaf no-digital-signature no-digital-signature

# RSA 1024: too small for every current client (and for rustls to sign with).
quiet "$OPENSSL" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key
csr rsa1024.key localhost "$TMP/rsa1024.csr"
sign root "$TMP/rsa1024.csr" rsa1024.crt "$TMP/server.ext"

# -------------------------------------------------------- self-signed leaf ---
ext self-signed <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage         = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName   = DNS:localhost
EOF
p256 self-signed.key
quiet "$OPENSSL" req -new -x509 -key self-signed.key -subj "/CN=localhost" -days "$DAYS" \
    -sha256 -extensions v3 \
    -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat "$TMP/self-signed.ext") \
    -out self-signed.crt

# Demo credentials are committed world-readable on purpose (git keeps 0644 and 0755 only);
# the key-permission tests chmod temporary copies themselves.
chmod 0644 ./*.crt ./*.key
chmod 0755 generate.sh

echo "Generated check fixtures in $DIR:"
ls "$DIR"
