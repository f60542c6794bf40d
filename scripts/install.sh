#!/usr/bin/env bash
# Builds the release meshd and meshctl and installs both into PREFIX/bin: /usr/local as
# root, else ~/.local (PREFIX=... to choose). Says when that folder is not on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PREFIX:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then PREFIX=/usr/local; else PREFIX="$HOME/.local"; fi
fi
bin=$(scripts/build.sh)
install -d "$PREFIX/bin"
install -m 0755 "$bin/meshd" "$bin/meshctl" "$PREFIX/bin/"
echo "install.sh: installed $PREFIX/bin/meshd and $PREFIX/bin/meshctl"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "install.sh: $PREFIX/bin is not on your PATH: export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
