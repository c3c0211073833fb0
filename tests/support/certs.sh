#!/bin/sh
# certs.sh OUTDIR [KIND:]DOMAIN...
#
# Test certificates for Parley: a test CA (OUTDIR/ca.pem, OUTDIR/ca.key,
# ECDSA P-256, made once) and for each DOMAIN a certificate OUTDIR/DOMAIN.pem
# with its key OUTDIR/DOMAIN.key (ECDSA P-256, subjectAltName dNSName=DOMAIN,
# for TLS servers and clients, signed by that CA). A KIND: prefix makes
# another kind of certificate, written as OUTDIR/KIND-DOMAIN.pem and OUTDIR/KIND-DOMAIN.key:
#   xmpp:DOMAIN         signed by the CA, naming DOMAIN also in SRV-IDs
#                       (_xmpp-server.DOMAIN, _xmpp-client.DOMAIN) and in
#                       an XmppAddr (RFC 6120 section 13.7.1.2)
#   expired:DOMAIN      signed by the CA, valid only during 2019
#   self-signed:DOMAIN  naming DOMAIN, signed by its own key (no CA)
#   client:DOMAIN       signed by the CA, for a TLS client (SASL EXTERNAL)
#   xmppaddr:DOMAIN     signed by the CA, naming DOMAIN only in an XmppAddr
#                       (no DNS-ID; its CN names no domain)
#   srv:DOMAIN          signed by the CA, naming DOMAIN only in the SRV-ID
#                       _xmpp-server.DOMAIN (no DNS-ID; its CN names no domain)
# Idempotent: files that exist are kept. Quiet unless something fails.
# Needs certtool (Debian: gnutls-bin). For tests only: the keys are
# unencrypted and the CA is trusted by nothing.
set -eu

if [ "$#" -lt 1 ]; then
    echo "usage: $0 OUTDIR [KIND:]DOMAIN..." >&2
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

# The file name (without .pem or .key) of an argument.
base_of() {
    case "$1" in
        *:*) echo "${1%%:*}-${1#*:}" ;;
        *) echo "$1" ;;
    esac
}

# An otherName SRVName (RFC 4985, OID 1.3.6.1.5.5.7.8.7) for certtool's
# template: the OID, then the DER of an IA5String in hex.
srv_name() {
    len=$(printf '%s' "$1" | wc -c)
    if [ "$len" -gt 127 ]; then
        echo "$0: SRV-ID $1 is longer than this script encodes" >&2
        exit 1
    fi
    printf 'other_name = "1.3.6.1.5.5.7.8.7 16%02x%s"\n' "$len" \
        "$(printf '%s' "$1" | od -An -tx1 | tr -d ' \n')"
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
    for arg in "$@"; do
        base=$(base_of "$arg")
        rm -f "$out/$base.pem" "$out/$base.key"
    done
fi

for arg in "$@"; do
    base=$(base_of "$arg")
    case "$arg" in
        *:*) kind=${arg%%:*}; d=${arg#*:} ;;
        *) kind=host; d=$arg ;;
    esac
    if [ -s "$out/$base.pem" ] && [ -s "$out/$base.key" ]; then continue; fi
    case "$kind" in
        xmppaddr | srv) printf 'cn = "XMPP service"\nsigning_key\n' >"$tmp/host.tmpl" ;;
        *) printf 'cn = "%s"\ndns_name = "%s"\nsigning_key\n' "$d" "$d" >"$tmp/host.tmpl" ;;
    esac
    case "$kind" in
        host | self-signed)
            # Both purposes: servers show their certificate as TLS clients
            # too (s2s, SASL EXTERNAL), and ejabberd checks for clientAuth.
            printf 'expiration_days = 825\ntls_www_server\ntls_www_client\n' >>"$tmp/host.tmpl"
            ;;
        xmpp)
            printf 'expiration_days = 825\ntls_www_server\nxmpp_name = "%s"\n' "$d" >>"$tmp/host.tmpl"
            srv_name "_xmpp-server.$d" >>"$tmp/host.tmpl"
            srv_name "_xmpp-client.$d" >>"$tmp/host.tmpl"
            ;;
        xmppaddr)
            printf 'expiration_days = 825\ntls_www_server\nxmpp_name = "%s"\n' "$d" >>"$tmp/host.tmpl"
            ;;
        srv)
            printf 'expiration_days = 825\ntls_www_server\n' >>"$tmp/host.tmpl"
            srv_name "_xmpp-server.$d" >>"$tmp/host.tmpl"
            ;;
        expired)
            printf 'activation_date = "2019-01-01 00:00:00"\nexpiration_date = "2019-12-31 23:59:59"\n' \
                >>"$tmp/host.tmpl"
            printf 'tls_www_server\n' >>"$tmp/host.tmpl"
            ;;
        client)
            printf 'expiration_days = 825\ntls_www_client\n' >>"$tmp/host.tmpl"
            ;;
        *)
            echo "$0: unknown kind '$kind' in '$arg' (known: xmpp, xmppaddr, srv, expired, self-signed, client)" >&2
            exit 2
            ;;
    esac
    run certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$tmp/host.key"
    if [ "$kind" = self-signed ]; then
        run certtool --generate-self-signed --load-privkey "$tmp/host.key" --template "$tmp/host.tmpl" \
            --outfile "$tmp/host.pem"
    else
        run certtool --generate-certificate --load-privkey "$tmp/host.key" \
            --load-ca-certificate "$out/ca.pem" --load-ca-privkey "$out/ca.key" \
            --template "$tmp/host.tmpl" --outfile "$tmp/host.pem"
    fi
    mv "$tmp/host.key" "$out/$base.key"
    mv "$tmp/host.pem" "$out/$base.pem"
done
