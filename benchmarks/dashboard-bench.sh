#!/usr/bin/env bash
# The dashboard's targets (issue 22), in headless Chromium (benchmarks/dashboard-bench.py):
# first paint with 100 members and 1,000 instances under 300 ms, and 5 open pages costing
# the agent under 1 % of a core.
#
#   benchmarks/dashboard-bench.sh                     # release build; paint (20 loads) and cpu (60 s)
#   BIN_DIR=.build/release benchmarks/dashboard-bench.sh paint --runs 50
#   BIN_DIR=.build/release benchmarks/dashboard-bench.sh cpu --seconds 120
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
ensure_meshd_binaries
if ! command -v chromium >/dev/null 2>&1; then
  echo "dashboard-bench: installing chromium (Debian)" >&2
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "$(date -u +%FT%TZ) load avg $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, commit $(git rev-parse --short HEAD), $(chromium --version 2>/dev/null | head -1)"
MESHD_TEST_BIN_DIR="$BIN_DIR" exec python3 -u benchmarks/dashboard-bench.py "${@:-all}"
