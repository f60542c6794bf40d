#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine with Swift: installs the system
# libraries when missing, builds the executables the end-to-end tests start, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The interface contract: every meshctl command, route and config key is in docs/INTERFACES.md.
scripts/check-docs.sh
# configs/meshd.service is a valid unit (systemd-analyze verify; skipped without it).
scripts/verify-unit.sh
swift build
if [ "$#" -gt 0 ]; then exec swift test "$@"; fi
# Unit and simulation tests in parallel; then the end-to-end tests, which start real
# agents whose timing must not compete with the rest of the suite for two cores.
swift test --skip EndToEndTests
swift test --filter EndToEndTests
# The HTTP API against docs/openapi.json (every route and answer of real agents) and the
# Python client (clients/python) against a real local mesh, and scripts/demo.sh.
scripts/python-test.sh
# Real hosts: agents in network namespaces, faults made by the kernel (root only; skipped
# with a visible message elsewhere).
scripts/netns-test.sh
# Real hosts under a seeded fault schedule while clients write, the history checked
# (linearizable variables, nothing acknowledged lost, one leader per term); root only.
scripts/faults.sh
