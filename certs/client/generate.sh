#!/usr/bin/env bash
# Regenerate the demo client-authentication credentials in this folder.
#
# Everything here is a DEMO credential: the private keys are committed to the
# repository and therefore public. Never use them for anything but local
# testing.
#
# Usage: certs/client/generate.sh   (from any directory)
#
# certs/generate.sh (`make certs`) calls this script at its end, but it also
# runs on its own: it reads and writes nothing outside certs/client/, so the
# server certificates in certs/ are left alone.
#
# The script always regenerates every file (new keys, new serial numbers, a
# new CRL), so the contents change on each run while the file names stay the
# same. See certs/README.md for what each file is for.
set -euo pipefail

OPENSSL="${OPENSSL:-openssl}"
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Validity in days for the CAs and for every "good" certificate: about 100
# years. Dates after 2049 are encoded as GeneralizedTime, which rustls/webpki
# accept.
DAYS=36500

umask 022
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

cd "$DIR"

# Every file this script writes, so that it can start from a clean slate
# (idempotent) without touching anything else in the folder.
CERT_NAMES=(ca other-ca client expired not-yet-valid unknown-ca revoked
            ca-as-leaf wrong-purpose self-signed)
for name in "${CERT_NAMES[@]}"; do
    rm -f "$name.crt" "$name.key"
done
rm -f ca.crl

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

random_serial_hex() { # 16 random bytes, top bit cleared (positive INTEGER), no 0x
    local hex
    hex="$("$OPENSSL" rand -hex 16)"
    printf '%x%s' $(( 0x${hex:0:1} & 0x7 )) "${hex:1}"
}

# ------------------------------------------------------------ extensions ---
cat > "$TMP/ext.cnf" <<'EOF'
[ v3_ca ]
basicConstraints     = critical, CA:TRUE
keyUsage             = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

# A good client certificate. subjectAltName is set per certificate through
# the SAN environment variable.
[ client ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectAltName         = ${ENV::SAN}
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

# Everything a client certificate needs, but it is a CA certificate.
[ ca_as_leaf ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, digitalSignature, keyCertSign, cRLSign
extendedKeyUsage       = clientAuth
subjectAltName         = ${ENV::SAN}
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

# A client certificate whose only extended key usage is serverAuth.
[ wrong_purpose ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = ${ENV::SAN}
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

# A self-signed client certificate (no authorityKeyIdentifier: it has no CA).
[ self_signed ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectAltName         = ${ENV::SAN}
subjectKeyIdentifier   = hash
EOF
export SAN="" # referenced by every leaf section; set before each use

req_config() { # $1 = output file, $2 = CN, [$3 = O]: a prompt-less req config
    {
        printf '[ req ]\ndistinguished_name = dn\nprompt = no\n\n[ dn ]\n'
        printf 'CN = %s\n' "$2"
        if [ -n "${3:-}" ]; then printf 'O = %s\n' "$3"; fi
    } > "$1"
}

# ------------------------------------------------------------------- CAs ---
make_ca() { # $1 = file stem, $2 = CN
    req_config "$TMP/$1-req.cnf" "$2"
    cat "$TMP/$1-req.cnf" "$TMP/ext.cnf" > "$TMP/$1-ca.cnf"
    gen_p256 "$1.key"
    "$OPENSSL" req -new -x509 -config "$TMP/$1-ca.cnf" -extensions v3_ca \
        -key "$1.key" -sha256 -days "$DAYS" -set_serial "0x$(random_serial_hex)" \
        -out "$1.crt"

    # A throw-away `openssl ca` database for this CA. `openssl ca` (unlike
    # `openssl x509 -req` in OpenSSL 3.0) takes explicit start and end dates,
    # and it keeps the record that -revoke and -gencrl need.
    local db="$TMP/db-$1"
    mkdir -p "$db/new"
    : > "$db/index.txt"
    echo 01 > "$db/crlnumber"
    cat > "$TMP/$1-openssl-ca.cnf" <<EOF
[ ca ]
default_ca = this_ca

[ this_ca ]
database         = $db/index.txt
new_certs_dir    = $db/new
serial           = $db/serial
crlnumber        = $db/crlnumber
certificate      = $DIR/$1.crt
private_key      = $DIR/$1.key
default_md       = sha256
policy           = policy_any
unique_subject   = no
email_in_dn      = no
copy_extensions  = none
crl_extensions   = crl_ext
default_crl_days = $DAYS

[ policy_any ]
commonName       = supplied
organizationName = optional

# CRL number and authority key identifier make this a version 2 CRL, the
# only version rustls/webpki accept.
[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF
}

openssl_ca() { # $1 = CA stem, then arguments for `openssl ca`
    local ca="$1"
    shift
    quiet "$OPENSSL" ca -batch -config "$TMP/$ca-openssl-ca.cnf" "$@"
}

# issue CA STEM CN SECTION SAN [openssl ca validity options...]
#   Writes STEM.key (new P-256 key) and STEM.crt issued by CA, with subject
#   "CN=<CN>, O=tls-server demo", the extension SECTION of ext.cnf and SAN.
#   Validity defaults to $DAYS days from now.
issue() {
    local ca="$1" stem="$2" cn="$3" section="$4" san="$5"
    shift 5
    if [ "$#" -eq 0 ]; then set -- -days "$DAYS"; fi

    gen_p256 "$stem.key"
    req_config "$TMP/$stem-req.cnf" "$cn" "tls-server demo"
    "$OPENSSL" req -new -config "$TMP/$stem-req.cnf" -key "$stem.key" -sha256 \
        -out "$TMP/$stem.csr"
    random_serial_hex > "$TMP/db-$ca/serial"
    SAN="$san" openssl_ca "$ca" -notext -preserveDN \
        -extfile "$TMP/ext.cnf" -extensions "$section" "$@" \
        -in "$TMP/$stem.csr" -out "$stem.crt"
}

make_ca ca "tls-server demo client CA"
make_ca other-ca "tls-server unrelated CA"

# ----------------------------------------------------- client certificates ---
issue ca client "demo client" client \
    "email:client@example.test, URI:spiffe://example.test/client"

issue ca expired "expired client" client \
    "email:expired@example.test, URI:spiffe://example.test/expired" \
    -startdate 20200101000000Z -enddate 20210101000000Z

issue ca not-yet-valid "not-yet-valid client" client \
    "email:not-yet-valid@example.test, URI:spiffe://example.test/not-yet-valid" \
    -startdate 20990101000000Z -enddate 21000101000000Z

issue other-ca unknown-ca "unknown-ca client" client \
    "email:unknown-ca@example.test, URI:spiffe://example.test/unknown-ca"

issue ca revoked "revoked client" client \
    "email:revoked@example.test, URI:spiffe://example.test/revoked"

issue ca ca-as-leaf "ca-as-leaf client" ca_as_leaf \
    "email:ca-as-leaf@example.test, URI:spiffe://example.test/ca-as-leaf"

issue ca wrong-purpose "wrong-purpose client" wrong_purpose \
    "email:wrong-purpose@example.test, URI:spiffe://example.test/wrong-purpose"

# Self-signed: no CA at all.
req_config "$TMP/self-signed-req.cnf" "self-signed client" "tls-server demo"
cat "$TMP/self-signed-req.cnf" "$TMP/ext.cnf" > "$TMP/self-signed.cnf"
gen_p256 self-signed.key
SAN="email:self-signed@example.test, URI:spiffe://example.test/self-signed" \
    "$OPENSSL" req -new -x509 -config "$TMP/self-signed.cnf" -extensions self_signed \
    -key self-signed.key -sha256 -days "$DAYS" -set_serial "0x$(random_serial_hex)" \
    -out self-signed.crt

# -------------------------------------------------------------------- CRL ---
# Revoke revoked.crt and publish the client CA's CRL (PEM "X509 CRL"),
# valid for $DAYS days.
openssl_ca ca -revoke revoked.crt -crl_reason keyCompromise
openssl_ca ca -gencrl -crldays "$DAYS" -out ca.crl

# Keys are committed on purpose (demo credentials), so make every file
# world-readable: openssl creates private keys with mode 0600.
chmod 0644 ./*.key ./*.crt ca.crl
chmod 0755 "$DIR/generate.sh"

echo "Generated demo client-auth credentials in $DIR:"
ls -l ./*.key ./*.crt ca.crl
