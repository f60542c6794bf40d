#!/usr/bin/env bash
# Raft side by side with etcd 3.4 (Debian package `etcd-server`, default settings): 3 members
# of each on 127.0.0.1, driven by one client (benchmarks/kvbench.py: HTTP/1.1 keep-alive,
# meshd `PUT /v1/vars/KEY`, etcd `POST /v3/kv/put` through its JSON gateway). Both clusters
# run at once and every measurement alternates between them in turns (SLICES), so the load
# drift of this shared machine hits both alike. Prints failover after SIGKILL of the leader
# (median of ROUNDS), sequential write latency p50/p99, writes/s with 1, 8 and 64 clients,
# RSS idle and loaded, and the ratio meshd/etcd; then `RESULT meshd.write_p50_ms 1.93` lines
# (kvbench.py's keys) that benchmarks/compare.sh reads.
#
#   benchmarks/etcd-compare.sh                      # release build, ROUNDS=5, SECONDS_EACH=10
#   BIN_DIR=/path/to/release ROUNDS=5 benchmarks/etcd-compare.sh
#
# Environment: ROUNDS (default 5), SEQ (sequential writes, default 2000), SECONDS_EACH
# (each throughput run, default 10), CLIENTS (default 1,8,64), SLICES (default 10), ONLY (meshd|etcd),
# BASE_PORT (default 29400; etcd uses BASE_PORT+100..), BIN_DIR, KEEP=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh     # after the cd above: paths are from the package root
ensure_etcd etcd-compare
ensure_meshd_binaries

WORK=$(mktemp -d /tmp/etcd-compare.XXXXXX)
cleanup() { [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"; }
trap cleanup EXIT
only=(); [ -n "${ONLY:-}" ] && only=(--only "$ONLY")
echo "$(date -u +%FT%TZ) load avg $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, $(etcd --version | head -1)"
python3 benchmarks/kvbench.py --meshd "$MESHD" --meshctl "$MESHCTL" --etcd "$(command -v etcd)" --work "$WORK" \
  --base-port "${BASE_PORT:-29400}" --rounds "${ROUNDS:-5}" --seq "${SEQ:-2000}" --seconds "${SECONDS_EACH:-10}" \
  --clients "${CLIENTS:-1,8,64}" --slices "${SLICES:-10}" "${only[@]}"
