#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine with Swift: installs the system
# libraries when missing, builds the executables the end-to-end tests start, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build
swift test "$@"
