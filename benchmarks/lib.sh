# Shared by the benchmark scripts that run meshd next to serf or etcd: sourced, not run.
# Installs serf or etcd (Debian packages) when missing, then sets MESHD and MESHCTL, building
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
    # As scripts/run.sh builds it: static Swift runtime, lld with packed relocations
    # (benchmarks/README.md, idle agent).
    local flags=(-c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs)
    swift build "${flags[@]}" --product meshd >&2
    swift build "${flags[@]}" --product meshctl >&2
    BIN_DIR=$(swift build "${flags[@]}" --show-bin-path)
  fi
  MESHD="$BIN_DIR/meshd"; MESHCTL="$BIN_DIR/meshctl"
}

ensure_etcd() {
  command -v etcd >/dev/null 2>&1 && return
  echo "$1: installing etcd 3.4 (Debian packages etcd-server, etcd-client)" >&2
  local sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
  # Debian's package starts a system etcd where systemd runs; it listens on 2379/2380 only,
  # not on this benchmark's ports.
}
