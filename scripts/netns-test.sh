#!/usr/bin/env bash
# Runs meshd's real-host fault tests (scripts/netns/faults.py, issue 17): agents in
# network namespaces on a bridge, faults made with routes, nftables, links and addresses.
# They need root, working network namespaces (with veth and bridge links) and nft. When
# any of these is missing this prints "SKIPPED: network-namespace tests: <reason>" and
# exits 0; otherwise it exits with faults.py's status (1 also when the deploy test,
# scripts/netns/deploy.py, failed; it runs first, without arguments only). Arguments go
# to faults.py (--only NAME, --keep-logs, --list). Binaries: MESHD_BIN_DIR, default .build/debug.
set -u

here="$(cd "$(dirname "$0")" && pwd)"

skip() {
    echo "SKIPPED: network-namespace tests: $*"
    exit 0
}

[ "$(id -u)" = 0 ] || skip "not running as root"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2) is not installed"
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

if ! command -v nft >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "netns-test: installing nftables"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null 2>&1 ||
            { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null 2>&1; }
    fi
    command -v nft >/dev/null 2>&1 || skip "nft is missing and could not be installed"
fi

# One throwaway namespace proves what the tests need: namespaces, a bridge, a veth pair
# and an nftables table inside a namespace.
probe="mshprobe$$"
ip netns add "$probe" >/dev/null 2>&1 || skip "ip netns add does not work here"
reason=""
if ! ip -n "$probe" link add br0 type bridge >/dev/null 2>&1; then
    reason="cannot make a bridge in a namespace"
elif ! ip -n "$probe" link add v0 type veth peer name v1 >/dev/null 2>&1; then
    reason="cannot make a veth pair in a namespace"
elif ! ip netns exec "$probe" nft add table inet probe >/dev/null 2>&1; then
    reason="nft does not work in a namespace"
fi
ip netns del "$probe" >/dev/null 2>&1
[ -z "$reason" ] || skip "$reason"

# meshctl deploy --ssh against a real sshd in a namespace of its own (about 15 s); only in
# a full run: arguments select fault tests.
deploy_status=0
if [ "$#" -eq 0 ]; then
    python3 "$here/netns/deploy.py" || deploy_status=1
fi
python3 "$here/netns/faults.py" "$@"
faults_status=$?
[ "$deploy_status" -eq 0 ] || { echo "netns-test: the deploy test failed"; exit 1; }
exit "$faults_status"
