#!/usr/bin/env bash
# An agent killed with SIGKILL leaves its instance running and logging; the next agent
# adopts it (not a second copy), its output flows again through the reopened FIFO, and a
# stop leaves no process behind. Uses supbench's hold/adopt modes.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --scratch-path .build-sup --product supbench >/dev/null
bin=.build-sup/release/supbench
dir=$(mktemp -d /tmp/meshd-agentkill.XXXXXX)
trap 'rm -rf "$dir"' EXIT

"$bin" hold "$dir" > "$dir/pid" &
agent=$!
for _ in $(seq 100); do [ -s "$dir/pid" ] && break; sleep 0.05; done
child=$(cat "$dir/pid")
before=$(wc -c < "$dir/logs/chatty.0/stdout.log")
kill -9 "$agent"; wait "$agent" 2>/dev/null || true
sleep 1    # the agent is down: the child fills the FIFO and blocks; it must not die
kill -0 "$child" && echo "agent killed; instance $child still alive (log had $before bytes)" \
  || { echo "FAIL: instance died with its agent"; exit 1; }
state=$(awk '{print $3}' "/proc/$child/stat")
echo "instance state while no agent drains its FIFO: $state (S = blocked in write)"
"$bin" adopt "$dir"
