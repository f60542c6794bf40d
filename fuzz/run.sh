#!/usr/bin/env bash
# Builds one libFuzzer target and runs it on its committed corpus.
#   fuzz/run.sh NAME [libFuzzer flags...]     e.g. fuzz/run.sh raft -max_total_time=3600
# NAME: frame (the frame opener), event (the event log's messages), raft (Raft messages and
# the commands and snapshots in them), config (the config file parser), api (the API's JSON
# request bodies). Without a NAME (first argument a flag, or none) it runs `frame`.
# The committed seeds are fuzz/corpus/NAME/ (read only); inputs libFuzzer finds go to
# .build-fuzz/corpus/NAME/. Crashes are written to fuzz/artifacts/NAME-crash-...
# (reproduce: .build-fuzz/NAMEfuzz fuzz/artifacts/NAME-crash-...); keep a fixed one in the
# corpus as a regression seed.
set -euo pipefail
cd "$(dirname "$0")/.."
name=frame
if [[ $# -gt 0 && $1 != -* ]]; then name=$1; shift; fi
scripts/setup.sh
out=.build-fuzz
mkdir -p "$out/corpus/$name" fuzz/corpus/"$name" fuzz/artifacts
flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -I "$out" -I Sources/CSodium -I Sources/CSQLite)

# A static library of one module of Sources/, built against those before it.
module() {
  local m=$1
  swiftc "${flags[@]}" -emit-library -static -emit-module -module-name "$m" \
    -emit-module-path "$out/$m.swiftmodule" $(find "Sources/$m" -name '*.swift' | sort) -o "$out/lib$m.a"
}

case $name in
  frame)
    module MeshCore; module MeshWire
    swiftc "${flags[@]}" fuzz/FrameFuzz.swift "$out/libMeshWire.a" "$out/libMeshCore.a" -lsodium -o "$out/framefuzz" ;;
  event)
    module MeshCore; module MeshWire; module SQLiteStore; module EventLog
    swiftc "${flags[@]}" fuzz/EventFuzz.swift "$out"/lib{EventLog,SQLiteStore,MeshWire,MeshCore}.a -lsodium -lsqlite3 \
      -o "$out/eventfuzz" ;;
  raft)
    module MeshCore; module MeshWire; module SQLiteStore; module EventLog; module Scheduler; module Consensus
    swiftc "${flags[@]}" fuzz/RaftFuzz.swift "$out"/lib{Consensus,Scheduler,EventLog,SQLiteStore,MeshWire,MeshCore}.a \
      -lsodium -lsqlite3 -o "$out/raftfuzz" ;;
  config)
    # The parser's own files of MeshAgent (Foundation only), compiled with the target.
    swiftc "${flags[@]}" -module-name ConfigFuzz fuzz/ConfigFuzz.swift \
      Sources/MeshAgent/Configuration/{ConfigLoader,AgentConfig,HostPort}.swift -o "$out/configfuzz" ;;
  api)
    module MeshAPI
    swiftc "${flags[@]}" -module-name APIBodyFuzz fuzz/APIBodyFuzz.swift \
      Sources/MeshAgent/API/RequestBody.swift Sources/MeshAgent/Configuration/AgentLimits.swift "$out/libMeshAPI.a" -o "$out/apifuzz" ;;
  *) echo "fuzz/run.sh: no target $name (frame, event, raft, config, api)" >&2; exit 2 ;;
esac
exec "$out/${name}fuzz" -artifact_prefix="fuzz/artifacts/$name-" "$@" "$out/corpus/$name" "fuzz/corpus/$name"
