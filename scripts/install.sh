#!/usr/bin/env bash
# Builds the release meshd and meshctl and installs both into PREFIX/bin: /usr/local as
# root, else ~/.local (PREFIX=... to choose). Says when that folder is not on the PATH.
#
#   scripts/install.sh              the two binaries
#   scripts/install.sh --systemd    also, as root on a host where systemd runs: the user
#                                   `meshd`, configs/meshd.service as
#                                   /etc/systemd/system/meshd.service, /etc/meshd/meshd.json
#                                   (when there is none: configs/single.json's keys for a
#                                   one-node mesh on this host's LAN, data in /var/lib/meshd)
#                                   and the unit enabled and started. The unit runs
#                                   /usr/local/bin/meshd, so PREFIX must be /usr/local.
#   scripts/install.sh --completions  also meshctl's bash and zsh completion scripts
set -euo pipefail
cd "$(dirname "$0")/.."
systemd=false
completions=false
for arg in "$@"; do
  case "$arg" in
    --systemd) systemd=true ;;
    --completions) completions=true ;;
    *) echo "install.sh: unknown argument $arg (--systemd, --completions)" >&2; exit 2 ;;
  esac
done
if [ -z "${PREFIX:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then PREFIX=/usr/local; else PREFIX="$HOME/.local"; fi
fi
if $systemd; then
  [ "$(id -u)" -eq 0 ] || { echo "install.sh: --systemd needs root" >&2; exit 2; }
  [ "$PREFIX" = /usr/local ] || { echo "install.sh: --systemd needs PREFIX=/usr/local (the unit runs /usr/local/bin/meshd)" >&2; exit 2; }
  [ -d /run/systemd/system ] || { echo "install.sh: systemd is not running here; start meshd another way (scripts/run.sh)" >&2; exit 1; }
fi
bin=$(scripts/build.sh)
install -d "$PREFIX/bin"
install -m 0755 "$bin/meshd" "$bin/meshctl" "$PREFIX/bin/"
echo "install.sh: installed $PREFIX/bin/meshd and $PREFIX/bin/meshctl"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "install.sh: $PREFIX/bin is not on your PATH: export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
if $completions; then
  install -d "$PREFIX/share/bash-completion/completions" "$PREFIX/share/zsh/site-functions"
  "$PREFIX/bin/meshctl" --generate-completion-script bash > "$PREFIX/share/bash-completion/completions/meshctl"
  "$PREFIX/bin/meshctl" --generate-completion-script zsh > "$PREFIX/share/zsh/site-functions/_meshctl"
  echo "install.sh: installed meshctl's completions under $PREFIX/share (bash-completion, zsh site-functions)"
fi
if $systemd; then
  id meshd >/dev/null 2>&1 || useradd --system --home-dir /var/lib/meshd --no-create-home --shell /usr/sbin/nologin meshd
  install -d -m 0755 /etc/meshd
  if [ ! -e /etc/meshd/meshd.json ]; then
    # The agent makes its identity and cluster key in /var/lib/meshd on first start.
    cat > /etc/meshd/meshd.json <<'JSON'
{
  "bind": "0.0.0.0:7600",
  "api": "127.0.0.1:7601",
  "data_dir": "/var/lib/meshd",
  "profile": "lan"
}
JSON
    chmod 0644 /etc/meshd/meshd.json
    echo "install.sh: wrote /etc/meshd/meshd.json (set advertise, join and cluster_key_file for a mesh of several hosts)"
  fi
  # The agent runs as meshd and refuses a key file others can read: a key put in
  # /etc/meshd beforehand (mode 0600) becomes meshd's.
  if [ -e /etc/meshd/cluster.key ]; then chown meshd:meshd /etc/meshd/cluster.key; chmod 0600 /etc/meshd/cluster.key; fi
  install -m 0644 configs/meshd.service /etc/systemd/system/meshd.service
  systemctl daemon-reload
  systemctl enable --now meshd.service
  echo "install.sh: meshd.service enabled and started (journalctl -u meshd; meshctl status)"
fi
