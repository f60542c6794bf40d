#!/usr/bin/env bash
# A demo mesh on this machine in one command: five meshd agents on 127.0.0.1 (mesh ports
# 7700, 7710, ... 7740; APIs 7701, 7711, ... 7741), each with its own data directory under
# one folder, a sample workload running on them, and the API's URL printed.
#
#   scripts/demo.sh          start (builds meshd and meshctl when missing)
#   scripts/demo.sh stop     stop the agents (and so their instances) and remove the folder
#
# Environment: MESH_DEMO_DIR (default /tmp/meshd-demo), MESH_DEMO_PORT (first mesh port,
# default 7700), MESH_BIN_DIR (a folder holding meshd and meshctl; default the release
# build, else the debug build, else a release build made now). The agents get none of the
# caller's MESHD_* variables (meshd reads them as configuration).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${MESH_DEMO_DIR:-/tmp/meshd-demo}
base=${MESH_DEMO_PORT:-7700}
nodes=5
marker="$dir/.meshd-demo"       # only a folder with this file is ever removed by stop
# Bounds of the waits, in seconds: every agent's API up, the mesh formed, the workload running.
start_timeout=60
formed_timeout=60
running_timeout=60

mesh_port() { echo $((base + 10 * $1)); }
api_port() { echo $((base + 10 * $1 + 1)); }

# The pid in node i's pid file when that process is still this demo's meshd.
live_pid() {
  local file="$dir/node$1.pid" pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--data-dir $dir/node$1 " || return 1
  echo "$pid"
}

stop() {
  if [ ! -e "$dir" ]; then
    echo "demo: nothing to stop ($dir does not exist)"
    return 0
  fi
  if [ ! -f "$marker" ]; then
    echo "demo: $dir was not made by scripts/demo.sh; not touching it" >&2
    return 1
  fi
  local pids=() i pid
  for ((i = 0; i < nodes; i++)); do
    if pid=$(live_pid "$i"); then kill -TERM "$pid" && pids+=("$pid"); fi
  done
  # SIGTERM: each agent stops its instances and leaves; SIGKILL whatever is left after the bound.
  local deadline=$((SECONDS + 30))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo: agent $pid did not stop within 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$dir"
  echo "demo: stopped ${#pids[@]} agents and removed $dir"
}

# Polls `check` (a command) until it succeeds or `timeout` seconds pass; then prints `what`
# and the last output of `show` (a command) and fails.
wait_until() {
  local what=$1 timeout=$2 check=$3 show=$4
  local deadline=$((SECONDS + timeout))
  until eval "$check" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "demo: after ${timeout} s still waiting for $what; last seen:" >&2
      eval "$show" >&2 || true
      echo "demo: agent logs are in $dir/node*.log; scripts/demo.sh stop cleans up" >&2
      return 1
    fi
    sleep 0.25
  done
}

binaries() {
  if [ -n "${MESH_BIN_DIR:-}" ]; then echo "$MESH_BIN_DIR"; return; fi
  local d
  for d in .build/release .build/debug; do
    if [ -x "$d/meshd" ] && [ -x "$d/meshctl" ]; then echo "$PWD/$d"; return; fi
  done
  echo "demo: building meshd and meshctl (release; the first build takes a while)" >&2
  scripts/build.sh
}

start() {
  local i pid
  for ((i = 0; i < nodes; i++)); do
    if pid=$(live_pid "$i"); then
      echo "demo: already running (node$i is pid $pid); scripts/demo.sh stop first" >&2
      return 1
    fi
  done
  if [ -e "$dir" ] && [ ! -f "$marker" ]; then
    echo "demo: $dir exists and was not made by scripts/demo.sh; set MESH_DEMO_DIR to another folder" >&2
    return 1
  fi
  local bin
  bin=$(binaries)
  local meshctl=("$bin/meshctl" --addr "127.0.0.1:$(api_port 0)")
  rm -rf "$dir"
  mkdir -p "$dir"
  touch "$marker"
  (umask 077 && "$bin/meshctl" keygen >"$dir/cluster.key")

  local unset_config=() name
  for name in $(compgen -e | grep '^MESHD_' || true); do unset_config+=(-u "$name"); done
  for ((i = 0; i < nodes; i++)); do
    local args=(--name "node$i" --bind "127.0.0.1:$(mesh_port "$i")" --api "127.0.0.1:$(api_port "$i")"
                --profile local --cluster-key-file "$dir/cluster.key" --data-dir "$dir/node$i" --tag "demo=node$i")
    [ "$i" -gt 0 ] && args+=(--join "127.0.0.1:$(mesh_port 0)")
    # Its own session: the agents outlive this script and a Ctrl-C in this terminal.
    env "${unset_config[@]}" setsid "$bin/meshd" "${args[@]}" </dev/null >"$dir/node$i.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/node$i.pid"
    wait_until "node$i's API" "$start_timeout" \
      "grep -q 'api listening' '$dir/node$i.log' || ! kill -0 $pid" "tail -5 '$dir/node$i.log'"
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: node$i stopped at start:" >&2
      tail -5 "$dir/node$i.log" >&2
      stop >&2
      return 1
    fi
  done
  wait_until "5 members alive and a leader" "$formed_timeout" \
    "${meshctl[*]} --json status | grep -q '\"alive\":5' && ${meshctl[*]} --json status | grep -q '\"quorum_reachable\":true'" \
    "${meshctl[*]} status"

  "${meshctl[@]}" run hello --count 5 --restart always -- \
    sh -c 'while true; do echo "hello from {{name}} on {{node}} at $(date +%T)"; sleep 5; done'
  wait_until "5 instances of hello running" "$running_timeout" \
    "[ \"\$(${meshctl[*]} --json ps hello | grep -o '\"state\":\"running\"' | wc -l)\" -eq 5 ]" \
    "${meshctl[*]} ps hello"
  "${meshctl[@]}" members
  echo
  "${meshctl[@]}" ps hello
  cat <<EOF

The demo mesh runs: 5 agents, data in $dir (logs: $dir/node*.log).
API of node0: http://127.0.0.1:$(api_port 0)/    (the dashboard is at /; every node serves one: ports $(api_port 0), $(api_port 1), ... $(api_port 4))

Try:
  export PATH="$bin:\$PATH" MESH_ADDR=127.0.0.1:$(api_port 0)
  meshctl members; meshctl ps; meshctl logs hello.0 -f; meshctl scale hello 8; meshctl events -f
  curl -s http://127.0.0.1:$(api_port 2)/v1/status
  PYTHONPATH="$PWD/clients/python/src" python3 -i -c 'from meshd import Mesh; m = Mesh("http://127.0.0.1:$(api_port 0)")'

Stop it and remove $dir: ${MESH_DEMO_DIR:+MESH_DEMO_DIR=$dir }scripts/demo.sh stop
EOF
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: scripts/demo.sh [start|stop]" >&2; exit 2 ;;
esac
