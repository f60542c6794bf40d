#!/usr/bin/env bash
# Runs a one-node meshd with embedded defaults (builds meshd and meshctl, installing the
# system libraries when missing). Extra arguments go to meshd, e.g.
# scripts/run.sh --name pi-1 --join 10.0.0.2:7600
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/build.sh)
echo "run.sh: meshd and meshctl are in $bin; in another shell: export PATH=\"$bin:\$PATH\" (or scripts/install.sh puts both on the PATH)" >&2
exec "$bin/meshd" "$@"
