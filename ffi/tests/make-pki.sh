#!/usr/bin/env bash
# Test certificates for the bindings' TLS tests, made with the openssl
# CLI (ECDSA P-256, 30 days): DIR/ca.pem (the CA the client trusts),
# DIR/server.pem and DIR/server.key (for localhost and 127.0.0.1, by that
# CA) and DIR/other_ca.pem (a CA that signed nothing here).
#
#   bash ffi/tests/make-pki.sh DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: make-pki.sh DIR" >&2; exit 2; }
pki=$1
mkdir -p "$pki"
keygen=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -batch)
for ca in ca other_ca; do
    openssl req -x509 "${keygen[@]}" -subj "/CN=ttc test $ca" -days 30 \
        -keyout "$pki/$ca.key" -out "$pki/$ca.pem" 2>/dev/null
done
openssl req "${keygen[@]}" -subj /CN=localhost -keyout "$pki/server.key" -out "$pki/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$pki/ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$pki/ext" -out "$pki/server.pem" 2>/dev/null
