#!/bin/sh
# certs.sh OUTDIR DOMAIN...
#
# Test certificates for Parley: a test CA (OUTDIR/ca.pem, OUTDIR/ca.key,
# ECDSA P-256, made once) and for each DOMAIN a certificate OUTDIR/DOMAIN.pem
# with its key OUTDIR/DOMAIN.key (ECDSA P-256, subjectAltName dNSName=DOMAIN,
# signed by that CA). Idempotent: files that exist are kept. Quiet unless
# something fails. Needs certtool (Debian: gnutls-bin). For tests only: the
# keys are unencrypted and the CA is trusted by nothing.
set -eu

if [ "$#" -lt 1 ]; then
    echo "usage: $0 OUTDIR DOMAIN..." >&2
    exit 2
fi
if ! command -v certtool >/dev/null 2>&1; then
    echo "$0: certtool not found (Debian: apt-get install gnutls-bin)" >&2
    exit 1
fi

out=$1
shift
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() {
    # certtool is chatty on stderr; show it only when it fails.
    if ! "$@" >"$tmp/log" 2>&1; then
        cat "$tmp/log" >&2
        exit 1
    fi
}

if [ ! -s "$out/ca.pem" ] || [ ! -s "$out/ca.key" ]; then
    cat >"$tmp/ca.tmpl" <<EOF
cn = "Parley test CA"
organization = "Parley tests"
serial = 1
expiration_days = 3650
ca
cert_signing_key
crl_signing_key
EOF
    run certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$tmp/ca.key"
    run certtool --generate-self-signed --load-privkey "$tmp/ca.key" --template "$tmp/ca.tmpl" \
        --outfile "$tmp/ca.pem"
    mv "$tmp/ca.key" "$out/ca.key"
    mv "$tmp/ca.pem" "$out/ca.pem"
    # A new CA invalidates the host certificates it did not sign.
    for d in "$@"; do rm -f "$out/$d.pem" "$out/$d.key"; done
fi

for d in "$@"; do
    if [ -s "$out/$d.pem" ] && [ -s "$out/$d.key" ]; then continue; fi
    cat >"$tmp/host.tmpl" <<EOF
cn = "$d"
dns_name = "$d"
expiration_days = 825
signing_key
tls_www_server
EOF
    run certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$tmp/host.key"
    run certtool --generate-certificate --load-privkey "$tmp/host.key" --load-ca-certificate "$out/ca.pem" \
        --load-ca-privkey "$out/ca.key" --template "$tmp/host.tmpl" --outfile "$tmp/host.pem"
    mv "$tmp/host.key" "$out/$d.key"
    mv "$tmp/host.pem" "$out/$d.pem"
done
