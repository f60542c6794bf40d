#!/usr/bin/env bash
# Linearizable reads on the leader against reads on a member that is not a voter: five
# agents on 127.0.0.1, one client (benchmarks/read-bench.py). Target (issue 18): the
# member's p50 at most 1.5 x the leader's.
#
#   benchmarks/read-compare.sh                      # release build, 4,000 reads each, 20 turns
#   READS=10000 SLICES=40 BIN_DIR=/path/to/release benchmarks/read-compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
ensure_meshd_binaries
WORK=$(mktemp -d /tmp/read-compare.XXXXXX)
cleanup() { [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"; }
trap cleanup EXIT
echo "$(date -u +%FT%TZ) load avg $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, commit $(git rev-parse --short HEAD)"
python3 benchmarks/read-bench.py --meshd "$MESHD" --meshctl "$MESHCTL" --work "$WORK" \
  --base-port "${BASE_PORT:-29800}" --reads "${READS:-4000}" --slices "${SLICES:-20}"
