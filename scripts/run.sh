#!/usr/bin/env bash
# Runs a one-node meshd with embedded defaults (installs the system libraries when missing).
# Extra arguments go to meshd, e.g. scripts/run.sh --name pi-1 --join 10.0.0.2:7600
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Static Swift runtime and Foundation: about 5 MB less RSS per agent; lld's packed relative
# relocations: about 4.5 MB less again, keeping PIE. Optimised for speed (-O), not size:
# since the agent releases its start-up pages, -Osize saved only 0.6 MiB and cost 7 % of
# write latency (benchmarks/README.md, idle agent).
swift build -c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs --product meshd
exec .build/release/meshd "$@"
