#!/usr/bin/env bash
# Failure detection on real processes, meshd against HashiCorp Serf (Debian package `serf`).
#
# Starts N meshd agents and N `serf agent`s on 127.0.0.1 with the same timing profile, waits
# until every agent sees all N alive, SIGKILLs one of each, and measures how long until every
# other agent shows it dead (meshd: `meshctl members --json`, status "dead"; Serf:
# `serf members -format=json`, status "failed"). Prints both, the ratio, and each agent's RSS.
#
#   benchmarks/serf-compare.sh                 # N=5, lan profile, 3 rounds
#   N=10 PROFILE=local ROUNDS=5 benchmarks/serf-compare.sh
#
# Environment: N (agents, default 5), PROFILE (lan|wan|local, default lan), ROUNDS (default 3),
# BASE_PORT (default 27000), BIN_DIR (default: a release build made here),
# TIMEOUT_S (per round, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5}; PROFILE=${PROFILE:-lan}; ROUNDS=${ROUNDS:-3}; BASE_PORT=${BASE_PORT:-27000}; TIMEOUT_S=${TIMEOUT_S:-60}

. benchmarks/lib.sh     # after the cd above: paths are from the package root
ensure_serf serf-compare
ensure_meshd_binaries

WORK=$(mktemp -d /tmp/serf-compare.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

stop_all() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; done
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

measure() {  # measure KIND VICTIM T0 OBSERVERS... -> "first last"
  python3 - "$MESHCTL" "$TIMEOUT_S" "$@" <<'PY'
import json, subprocess, sys, time
meshctl, timeout, kind, victim, t0 = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
observers = sys.argv[6:]
seen = {}
def status(obs):
    if kind == "meshd":
        out = subprocess.run([meshctl, "--addr", obs, "--json", "members"], capture_output=True, text=True).stdout
        try: members = json.loads(out)
        except ValueError: return False
        for m in members:
            if m["name"] == victim: return m["status"] == "dead"
    else:
        out = subprocess.run(["serf", "members", "-rpc-addr=" + obs, "-format=json"], capture_output=True, text=True).stdout
        try: members = json.loads(out)["members"]
        except ValueError: return False
        for m in members:
            if m["name"] == victim: return m["status"] == "failed"
    return False
while len(seen) < len(observers) and time.time() - t0 < timeout:
    for obs in observers:
        if obs not in seen and status(obs):
            seen[obs] = time.time() - t0
    time.sleep(0.02)
if len(seen) < len(observers):
    print("timeout timeout"); sys.exit(0)
print("%.3f %.3f" % (min(seen.values()), max(seen.values())))
PY
}

wait_alive() {  # wait_alive KIND OBSERVERS...
  local kind=$1; shift
  python3 - "$MESHCTL" "$kind" "$N" "$@" <<'PY'
import json, subprocess, sys, time
meshctl, kind, n, observers = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
deadline = time.time() + 60
def alive(obs):
    if kind == "meshd":
        out = subprocess.run([meshctl, "--addr", obs, "--json", "members"], capture_output=True, text=True).stdout
        try: return sum(1 for m in json.loads(out) if m["status"] == "alive")
        except ValueError: return 0
    out = subprocess.run(["serf", "members", "-rpc-addr=" + obs, "-format=json"], capture_output=True, text=True).stdout
    try: return sum(1 for m in json.loads(out)["members"] if m["status"] == "alive")
    except ValueError: return 0
while time.time() < deadline:
    if all(alive(o) == n for o in observers): sys.exit(0)
    time.sleep(0.1)
print("%s agents did not all see %d alive members within 60 s: %s" % (kind, n, [alive(o) for o in observers]), file=sys.stderr)
sys.exit(1)
PY
}

declare -a MESHD_FIRST MESHD_LAST SERF_FIRST SERF_LAST
MESHD_RSS=0; SERF_RSS=0
KEY=$("$MESHCTL" keygen); echo "$KEY" > "$WORK/cluster.key"; chmod 600 "$WORK/cluster.key"

for round in $(seq 1 "$ROUNDS"); do
  base=$((BASE_PORT + 200 * (round - 1)))   # fresh ports each round
  # meshd
  PIDS=(); apis=()
  for i in $(seq 0 $((N - 1))); do
    port=$((base + 2 * i)); api=$((base + 2 * i + 1))
    join=(); [ "$i" -gt 0 ] && join=(--join "127.0.0.1:$base")
    "$MESHD" --name "m$i" --bind "127.0.0.1:$port" --api "127.0.0.1:$api" --profile "$PROFILE" \
      --data-dir "$WORK/r$round-m$i" --cluster-key-file "$WORK/cluster.key" "${join[@]}" \
      >"$WORK/r$round-m$i.log" 2>&1 &
    PIDS+=($!); disown $! ; apis+=("127.0.0.1:$api")
  done
  wait_alive meshd "${apis[@]}"
  for pid in "${PIDS[@]}"; do MESHD_RSS=$(( $(rss_kb "$pid") > MESHD_RSS ? $(rss_kb "$pid") : MESHD_RSS )); done
  victim=$((N - 1)); t0=$(date +%s.%N); kill -9 "${PIDS[$victim]}"
  read -r first last < <(measure meshd "m$victim" "$t0" "${apis[@]:0:$victim}")
  MESHD_FIRST+=("$first"); MESHD_LAST+=("$last")
  stop_all

  # serf
  PIDS=(); rpcs=()
  for i in $(seq 0 $((N - 1))); do
    port=$((base + 100 + 2 * i)); rpc=$((base + 100 + 2 * i + 1))
    join=(); [ "$i" -gt 0 ] && join=(-join "127.0.0.1:$((base + 100))")
    serf agent -node "s$i" -bind "127.0.0.1:$port" -rpc-addr "127.0.0.1:$rpc" -profile "$PROFILE" \
      -encrypt "$KEY" "${join[@]}" >"$WORK/r$round-s$i.log" 2>&1 &
    PIDS+=($!); disown $! ; rpcs+=("127.0.0.1:$rpc")
    # serf's -join gives up when the first agent is not listening yet: wait for it.
    if [ "$i" -eq 0 ]; then
      for _ in $(seq 100); do serf members -rpc-addr="127.0.0.1:$rpc" >/dev/null 2>&1 && break; sleep 0.1; done
    fi
  done
  wait_alive serf "${rpcs[@]}"
  for pid in "${PIDS[@]}"; do SERF_RSS=$(( $(rss_kb "$pid") > SERF_RSS ? $(rss_kb "$pid") : SERF_RSS )); done
  victim=$((N - 1)); t0=$(date +%s.%N); kill -9 "${PIDS[$victim]}"
  read -r first last < <(measure serf "s$victim" "$t0" "${rpcs[@]:0:$victim}")
  SERF_FIRST+=("$first"); SERF_LAST+=("$last")
  stop_all

  echo "round $round: meshd first ${MESHD_FIRST[-1]} s, all ${MESHD_LAST[-1]} s; serf first ${SERF_FIRST[-1]} s, all ${SERF_LAST[-1]} s" >&2
done

python3 - "$N" "$PROFILE" "$MESHD_RSS" "$SERF_RSS" "${MESHD_LAST[*]}" "${SERF_LAST[*]}" "${MESHD_FIRST[*]}" "${SERF_FIRST[*]}" <<'PY'
import statistics, sys
n, profile, mrss, srss = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def nums(s): return [float(x) for x in s.split() if x != "timeout"]
ml, sl, mf, sf = (nums(a) for a in sys.argv[5:9])
med = lambda v: statistics.median(v) if v else float("nan")
print(f"agents: {n} per implementation, profile {profile}, rounds {len(sys.argv[5].split())}")
print(f"time from SIGKILL until every other agent shows it dead (median of rounds):")
print(f"  meshd  {med(ml):6.2f} s   (first observer {med(mf):.2f} s; rounds: {' '.join('%.2f' % x for x in ml)})")
print(f"  serf   {med(sl):6.2f} s   (first observer {med(sf):.2f} s; rounds: {' '.join('%.2f' % x for x in sl)})")
print(f"  ratio meshd/serf: {med(ml) / med(sl):.2f}")
print(f"RSS per agent (largest seen): meshd {mrss / 1024:.1f} MiB, serf {srss / 1024:.1f} MiB")
PY
