# shellcheck shell=bash
# bench-lib.sh: what the bench drivers (run-bench, roster-bench) share.
# Sourced, never run: defining the functions does nothing by itself.
#
# A driver sets bench_name (its name in messages), optionally bench_env_hint
# (the variables that point at the binaries, for the message when one is
# missing), and calls, in this order:
#   bench_init FILE...       finds the built tree, checks that parleyd,
#                            parleyctl, the modules and FILE... exist, makes
#                            the private temporary directory $tmp and the
#                            EXIT trap that stops parleyd and removes $tmp
#                            (kept with BENCH_KEEP=1)
#   bench_nofile N           raises the open files limit for N sessions
#   bench_certs              the test CA and a certificate for $domain
#   bench_ports              two free loopback ports below 32768
#   bench_config MODULES [OPTIONS]
#                            $cfg: parley.toml with MODULES (a TOML list's
#                            inside, e.g. '"disco", "ping"'), 2 workers, log
#                            level warn, the per-address limits lifted;
#                            OPTIONS (TOML text, e.g. module sections) is
#                            appended at the end. When MODULES names
#                            "archive" and OPTIONS has no [modules.archive]
#                            section, one is added with a key file made by
#                            parleyctl archive keygen ($tmp/archive.key)
#   bench_accounts NAME...   one account per NAME (node) with the real
#                            parleyctl, parleyd not running; sets account_line
#   start_server LOGNAME     a fresh parleyd; sets server_pid
#   stop_server LOGNAME      SIGTERM, bounded wait, status checked
# Everything listens on and connects to 127.0.0.1 only.

domain=bench.test
# A throwaway password for throwaway accounts in a private temporary directory.
password=bench-password
server_pid=
tmp=

die() { echo "${bench_name:-bench}: $*" >&2; exit 1; }

bench_init() {
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    build=${PARLEY_BUILD_DIR:-$top/_build}
    parleyd=$build/server/parleyd
    parleyctl=$build/tools/parleyctl/parleyctl
    moddir=$build/modules/.libs
    local f
    for f in "$parleyd" "$parleyctl" "$@"; do
        [ -x "$f" ] || die "$f is missing: build first (./configure && make in $build), or set ${bench_env_hint:-PARLEY_BUILD_DIR}"
    done
    [ -d "$moddir" ] || die "$moddir is missing: the modules are not built"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/parley-bench.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    [ -n "$tmp" ] || return 0
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "$bench_name: kept $tmp" >&2; else rm -rf "$tmp"; fi
}

bench_nofile() {  # $1: sessions open at once
    local hard want
    hard=$(ulimit -Hn)
    want=$(($1 + 512))
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
        die "the hard open files limit ($hard) is below $want, needed for $1 sessions (raise it, e.g. in /etc/security/limits.conf)"
    fi
    ulimit -n "$want" 2>/dev/null || ulimit -n "$hard"
}

bench_certs() {
    if [ -f "$top/tests/support/certs.sh" ]; then
        sh "$top/tests/support/certs.sh" "$tmp/certs" "$domain" >/dev/null
        return
    fi
    # A tarball without the tests: the same certificates by hand.
    command -v certtool >/dev/null || die "certtool not found (Debian: gnutls-bin)"
    mkdir -p "$tmp/certs"
    printf 'cn = "bench CA"\nca\ncert_signing_key\nexpiration_days = 30\n' >"$tmp/certs/ca.tmpl"
    printf 'cn = "%s"\ndns_name = "%s"\nsigning_key\ntls_www_server\nexpiration_days = 30\n' "$domain" "$domain" >"$tmp/certs/host.tmpl"
    certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$tmp/certs/ca.key" 2>/dev/null
    certtool --generate-self-signed --load-privkey "$tmp/certs/ca.key" --template "$tmp/certs/ca.tmpl" \
        --outfile "$tmp/certs/ca.pem" 2>/dev/null
    certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$tmp/certs/$domain.key" 2>/dev/null
    certtool --generate-certificate --load-privkey "$tmp/certs/$domain.key" --load-ca-certificate "$tmp/certs/ca.pem" \
        --load-ca-privkey "$tmp/certs/ca.key" --template "$tmp/certs/host.tmpl" --outfile "$tmp/certs/$domain.pem" 2>/dev/null
}

# A loopback port below the ephemeral range that nothing answers on now.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p tries=0
    while [ $tries -lt 200 ]; do
        p=$((20000 + RANDOM % 12000))
        if ! port_in_use "$p" && [ "$p" != "${2:-0}" ]; then echo "$p"; return 0; fi
        tries=$((tries + 1))
    done
    die "no free port found"
}

bench_ports() {
    starttls_port=$(free_port)
    direct_port=$(free_port "" "$starttls_port")
}

bench_config() {  # $1: the modules, inside a TOML list; $2: TOML appended (optional)
    cfg=$tmp/parley.toml
    local extra=${2:-}
    cat >"$cfg" <<TOML
# Written by tools/bench/$bench_name.
workers = 2
data_dir = "$tmp/data"
module_dir = "$moddir"

[modules]
# A list under [modules], so that [modules.NAME] sections may follow.
enabled = [$1]

[log]
level = "warn"

[c2s]
address = "127.0.0.1"
starttls_port = $starttls_port
direct_tls_port = $direct_port

[limits]
# Every bench session comes from one address: lift the per-address limits.
max_unauthenticated_connections = 10000000
max_connections_per_address = 10000000
max_unauthenticated_connections_per_address = 10000000

[sasl]
# PLAIN logins as fast as they come: queue every password check.
max_queued_password_checks = 100000

[[virtual_host]]
domain = "$domain"
certificate = "$tmp/certs/$domain.pem"
key = "$tmp/certs/$domain.key"
TOML
    # The archive refuses to start without a key file: make one whenever it
    # is loaded, and name it unless the caller's options configure the
    # module themselves (they may still use $tmp/archive.key).
    if [[ $1 == *'"archive"'* ]]; then
        "$parleyctl" archive keygen "$tmp/archive.key" >/dev/null 2>"$tmp/ctl.err" || {
            cat "$tmp/ctl.err" >&2
            die "parleyctl archive keygen failed"
        }
        if ! grep -q '^[[:space:]]*\[modules\.archive\][[:space:]]*$' <<<"$extra"; then
            printf '\n[modules.archive]\nkey_file = "%s"\n' "$tmp/archive.key" >>"$cfg"
        fi
    fi
    if [ -n "$extra" ]; then
        printf '\n# BENCH_MODULE_OPTIONS\n%s\n' "$extra" >>"$cfg"
    fi
    mkdir -p "$tmp/data"
}

# Accounts, one parleyctl call each: that is the supported way to make one.
bench_accounts() {  # $@: the accounts' nodes
    local n=$# i=0 name t0 t1
    echo "$bench_name: creating $n accounts with parleyctl ..." >&2
    t0=$(date +%s.%N)
    for name in "$@"; do
        if ! printf '%s\n' "$password" | "$parleyctl" --config "$cfg" user add "$name@$domain" >/dev/null 2>"$tmp/ctl.err"; then
            cat "$tmp/ctl.err" >&2
            die "parleyctl user add $name@$domain failed"
        fi
        i=$((i + 1))
        if [ $((i % 1000)) -eq 0 ]; then echo "$bench_name:   $i accounts" >&2; fi
    done
    t1=$(date +%s.%N)
    account_line=$(awk -v n="$n" -v a="$t0" -v b="$t1" \
        'BEGIN { s = b - a; printf "accounts=%d account_s=%.1f accounts_per_s=%.0f", n, s, (s > 0 ? n / s : 0) }')
    echo "$bench_name: $account_line (one parleyctl process per account)" >&2
}

start_server() {  # $1: a name for the log
    local log=$tmp/parleyd-$1.log
    "$parleyd" --config "$cfg" >"$log" 2>&1 </dev/null &
    server_pid=$!
    local tries=0
    until port_in_use "$starttls_port"; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            tail -n 30 "$log" >&2
            die "parleyd exited at start"
        fi
        tries=$((tries + 1))
        [ $tries -lt 400 ] || die "parleyd did not listen on port $starttls_port within 20 s"
        sleep 0.05
    done
    sleep 0.2  # let the memory of the start settle before the baseline
}

stop_server() {  # $1: the log's name
    local tries=0
    kill -TERM "$server_pid" 2>/dev/null || true
    while kill -0 "$server_pid" 2>/dev/null; do
        tries=$((tries + 1))
        if [ $tries -ge 400 ]; then
            echo "$bench_name: parleyd did not stop within 20 s of SIGTERM; killing it" >&2
            kill -KILL "$server_pid" 2>/dev/null || true
            break
        fi
        sleep 0.05
    done
    local rc=0
    wait "$server_pid" 2>/dev/null || rc=$?
    server_pid=
    if [ "$rc" -ne 0 ]; then
        echo "$bench_name: parleyd exited with status $rc after SIGTERM ($1); its log ends:" >&2
        tail -n 20 "$tmp/parleyd-$1.log" >&2
    fi
}
