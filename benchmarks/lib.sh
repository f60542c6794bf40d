# Shared by the benchmark scripts that run meshd next to serf: sourced, not run.
# Installs serf (Debian package) when missing, then sets MESHD and MESHCTL, building
# release binaries unless BIN_DIR names a folder that has them.

ensure_serf() {
  command -v serf >/dev/null 2>&1 && return
  echo "$1: installing serf (Debian package)" >&2
  local sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq serf >/dev/null
}

ensure_meshd_binaries() {
  if [ -z "${BIN_DIR:-}" ]; then
    scripts/setup.sh
    # As scripts/run.sh builds it: static Swift runtime (benchmarks/README.md, idle agent).
    swift build -c release --static-swift-stdlib --product meshd >&2
    swift build -c release --static-swift-stdlib --product meshctl >&2
    BIN_DIR=$(swift build -c release --static-swift-stdlib --show-bin-path)
  fi
  MESHD="$BIN_DIR/meshd"; MESHCTL="$BIN_DIR/meshctl"
}
