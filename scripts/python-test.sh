#!/usr/bin/env bash
# The Python tests (Tests/python): docs/openapi.json against real agents (every route, every
# answer's schema, each route's role), the Python client (clients/python) against a real
# local mesh, and scripts/demo.sh. The client is installed with pip into a virtual environment under .build, as a
# user would install it; `jsonschema` comes from PyPI. Needs the debug meshd built
# (`swift build --product meshd`), or MESHD_TEST_BIN_DIR naming the folder holding it.
# Usage: scripts/python-test.sh [unittest arguments, e.g. test_client]
set -euo pipefail
cd "$(dirname "$0")/.."
# Headless Chromium for the dashboard's test (Tests/python/test_dashboard.py), as root; the
# test says it is skipped when the browser is missing.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "python-test: installing chromium (Debian) for the dashboard test" >&2
  env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || { env DEBIAN_FRONTEND=noninteractive apt-get update -qq && env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
fi
venv=.build/python-tests
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"$venv/bin/python" -c 'import jsonschema, setuptools, wheel' 2>/dev/null || "${pip[@]}" jsonschema setuptools wheel
# The client as it is now, reinstalled each run (built with the venv's setuptools rather
# than a build environment fetched from PyPI every time).
"${pip[@]}" --no-deps --force-reinstall --no-build-isolation ./clients/python
rm -rf clients/python/build clients/python/src/*.egg-info
cd Tests/python
if [ "$#" -gt 0 ]; then exec "../../$venv/bin/python" -m unittest -v "$@"; fi
exec "../../$venv/bin/python" -m unittest discover -v -p 'test_*.py'
