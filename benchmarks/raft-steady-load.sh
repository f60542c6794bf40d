#!/usr/bin/env bash
# Leader stability under a saturating write load: 3 meshd (release) on 127.0.0.1, CLIENTS
# writers (default 64, HTTP keep-alive, `PUT /v1/vars/KEY` to the leader) for SECONDS
# (default 600), every member's leader and term sampled twice a second. Target (issue #5):
# zero leader changes during 10 minutes on this 2-core machine.
#
#   benchmarks/raft-steady-load.sh                  # 600 s, 64 clients, release build
#   BIN_DIR=/path/to/release SECONDS_LOAD=120 benchmarks/raft-steady-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
ensure_meshd_binaries
WORK=$(mktemp -d /tmp/raft-load.XXXXXX)
cleanup() { [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"; }
trap cleanup EXIT
echo "$(date -u +%FT%TZ) load avg $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
python3 benchmarks/kvbench.py --meshd "$MESHD" --meshctl "$MESHCTL" --work "$WORK" --base-port "${BASE_PORT:-29600}" \
  --clients "${CLIENTS:-64}" --steady-load "${SECONDS_LOAD:-600}"
