#!/usr/bin/env bash
# From `meshctl run` on a follower to every instance running, on three agents on 127.0.0.1
# (benchmarks/sched-run.py). Target (issue 20): p50 under 1 s.
#
#   benchmarks/sched-run.sh                       # release build, 20 runs of --count 3
#   RUNS=50 BIN_DIR=/path/to/release benchmarks/sched-run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
ensure_meshd_binaries
WORK=$(mktemp -d /tmp/sched-run.XXXXXX)
cleanup() { [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"; }
trap cleanup EXIT
echo "$(date -u +%FT%TZ) load avg $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, commit $(git rev-parse --short HEAD)"
python3 benchmarks/sched-run.py --meshd "$MESHD" --meshctl "$MESHCTL" --work "$WORK" \
  --base-port "${BASE_PORT:-29900}" --runs "${RUNS:-20}"
