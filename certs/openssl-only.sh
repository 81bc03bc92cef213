#!/usr/bin/env bash
# The few files of certs/ that rcgen cannot make, made with the `openssl` command (OpenSSL
# 3). `make certs` runs `tls-server pki certs --set demo` first — it writes everything
# else, including the keys and CAs used here — and then this script.
#
#   check/sha1.crt, .key        a server certificate signed with SHA-1 (rcgen: SHA-256+ only)
#   check/rsa1024.crt, .key     an RSA 1024 key (the crypto providers make 2048 bits or more)
#   bad/encrypted.key           server.key encrypted with the passphrase "secret" (PKCS#8)
#   bad/trusted.crt             server.crt in OpenSSL's own TRUSTED CERTIFICATE format
#   bad/rsa-traditional.key     server-rsa.key in PKCS#1 form (BEGIN RSA PRIVATE KEY)
#
# DEMO credentials: the keys are committed and therefore public.
# Usage: certs/openssl-only.sh [DIR]   (DIR defaults to this script's folder)
set -euo pipefail

OPENSSL="${OPENSSL:-openssl}"
DIR="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
if ! command -v "$OPENSSL" > /dev/null; then
    echo "certs/openssl-only.sh: needs the openssl command (OpenSSL 3) for the SHA-1," \
        "RSA 1024, encrypted, TRUSTED CERTIFICATE and PKCS#1 files; install it" \
        "(apt-get install openssl) or set OPENSSL=/path/to/openssl" >&2
    exit 1
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$DIR"

quiet() { # run a command; show its chatter (on stderr) only if it fails
    local out
    if ! out="$("$@" 2>&1)"; then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

# The same extensions as check/chain-*.crt, whose leaf rcgen made.
cat > "$TMP/server.ext" <<'CONF'
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, DNS:*.example.test, IP:127.0.0.1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
CONF

# NAME KEYGEN-OPTIONS... : a key and a certificate for CN=localhost, signed by check/root
# with digest $MD.
leaf() {
    local name="$1"
    shift
    quiet "$OPENSSL" genpkey "$@" -out "check/$name.key"
    quiet "$OPENSSL" req -new -key "check/$name.key" -subj "/CN=localhost" -out "$TMP/$name.csr"
    quiet "$OPENSSL" x509 -req -in "$TMP/$name.csr" -CA check/root.crt -CAkey check/root.key \
        -set_serial "0x$("$OPENSSL" rand -hex 15)" -days 36500 -"$MD" \
        -extfile "$TMP/server.ext" -out "check/$name.crt"
}
MD=sha1 leaf sha1 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
MD=sha256 leaf rsa1024 -algorithm RSA -pkeyopt rsa_keygen_bits:1024

quiet "$OPENSSL" pkcs8 -topk8 -in server.key -v2 aes-256-cbc -passout pass:secret \
    -out bad/encrypted.key
quiet "$OPENSSL" x509 -in server.crt -trustout -addtrust serverAuth -out bad/trusted.crt
quiet "$OPENSSL" rsa -in server-rsa.key -traditional -out bad/rsa-traditional.key

echo "certs/openssl-only.sh: wrote check/sha1, check/rsa1024, bad/encrypted.key," \
    "bad/trusted.crt and bad/rsa-traditional.key in $DIR"
