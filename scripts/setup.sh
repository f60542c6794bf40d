#!/usr/bin/env bash
# Installs the system libraries meshd builds against, when they are missing.
# Idempotent and non-interactive: safe to run on every build.
set -euo pipefail
need=()
# libcurl4-openssl-dev: meshctl's HTTP client (FoundationNetworking) links libcurl, and the
# benchmarks build it with --static-swift-stdlib, which needs libcurl's development files.
for pkg in libsodium-dev libsqlite3-dev pkg-config libcurl4-openssl-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# python3-venv: scripts/python-test.sh installs the Python client into a virtual environment
# (Debian's python3 makes one only with this package; a python3 of its own has ensurepip).
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  need+=(python3-venv)
fi
# openssh-client and openssh-server: the end-to-end test of `meshctl deploy --ssh`
# (scripts/netns/deploy.py) runs sshd in a network namespace of its own.
for pkg in openssh-client openssh-server; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # No package may start a service here (openssh-server would start sshd on port 22 of
  # this host): policy-rc.d answers 101 (not allowed) while the packages install.
  policy=/usr/sbin/policy-rc.d
  made_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee "$policy" >/dev/null && $sudo_cmd chmod 0755 "$policy" && made_policy=true
  fi
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  if $made_policy; then $sudo_cmd rm -f "$policy"; fi
fi
# The end-to-end and stats tests check /metrics text with the Prometheus project's own parser.
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import prometheus_client' >/dev/null 2>&1; then
  echo "setup: installing prometheus_client (PyPI)" >&2
  python3 -m pip install -q prometheus_client >/dev/null 2>&1 || echo "setup: prometheus_client not installed; the /metrics parser tests will fail" >&2
fi
