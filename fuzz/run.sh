#!/usr/bin/env bash
# Builds the libFuzzer target for the frame decoder and runs it.
#   fuzz/run.sh [libFuzzer flags...]    e.g. fuzz/run.sh -max_total_time=60
# Crashes are written to fuzz/artifacts/ (reproduce: .build-fuzz/framefuzz fuzz/artifacts/crash-...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out=.build-fuzz
mkdir -p "$out" fuzz/corpus fuzz/artifacts
flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6)
swiftc "${flags[@]}" -emit-library -static -emit-module -module-name MeshCore \
  -emit-module-path "$out/MeshCore.swiftmodule" Sources/MeshCore/*.swift -o "$out/libMeshCore.a"
swiftc "${flags[@]}" -emit-library -static -emit-module -module-name MeshWire -I "$out" -I Sources/CSodium \
  -emit-module-path "$out/MeshWire.swiftmodule" Sources/MeshWire/*.swift -o "$out/libMeshWire.a"
swiftc "${flags[@]}" -I "$out" -I Sources/CSodium fuzz/FrameFuzz.swift "$out/libMeshWire.a" "$out/libMeshCore.a" \
  -lsodium -o "$out/framefuzz"
exec "$out/framefuzz" -artifact_prefix=fuzz/artifacts/ "$@" fuzz/corpus
