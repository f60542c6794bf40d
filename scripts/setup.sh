#!/usr/bin/env bash
# Installs the system libraries meshd builds against, when they are missing.
# Idempotent and non-interactive: safe to run on every build.
set -euo pipefail
need=()
for pkg in libsodium-dev libsqlite3-dev pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Python's prometheus_client: StatsTests validate the /metrics text with its parser.
if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
  echo "setup: installing prometheus_client (pip)" >&2
  python3 -m pip install --quiet --user prometheus_client 2>/dev/null \
    || python3 -m pip install --quiet prometheus_client
fi
