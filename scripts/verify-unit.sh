#!/usr/bin/env bash
# Checks configs/meshd.service with `systemd-analyze verify` (no running systemd needed).
# The unit's ExecStart (/usr/local/bin/meshd) need not exist here: a copy whose ExecStart
# is /bin/true is verified, so every other line is checked as written. Prints
# "SKIPPED: ..." and exits 0 without systemd-analyze (apt-get install systemd has it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIPPED: verify-unit: systemd-analyze is not installed"; exit 0; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed 's#^ExecStart=/usr/local/bin/meshd #ExecStart=/bin/true #' configs/meshd.service > "$dir/meshd.service"
out=$(systemd-analyze verify "$dir/meshd.service" 2>&1) || { echo "$out" >&2; echo "verify-unit: configs/meshd.service failed" >&2; exit 1; }
if [ -n "$out" ]; then echo "$out" >&2; echo "verify-unit: configs/meshd.service has warnings" >&2; exit 1; fi
echo "verify-unit: ok (configs/meshd.service)"
