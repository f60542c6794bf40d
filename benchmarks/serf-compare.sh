#!/usr/bin/env bash
# Failure detection on real processes, meshd against HashiCorp Serf (Debian package `serf`).
#
# Starts N meshd agents and N `serf agent`s on 127.0.0.1 with the same timing profile (agent 0,
# then the N-1 others at once, each joining agent 0) and measures, one implementation after the
# other in each round:
#   - join: from starting agents 1..N-1 until every agent sees all N alive;
#   - user event: one event sent through agent 0 (meshd `POST /v1/events`, as `meshctl event
#     send`; serf's RPC `event`, as `serf event -coalesce=false`) until every agent has it,
#     each agent followed from the start (meshd `GET /v1/events?follow=1`, serf RPC `stream`);
#   - failure detection: SIGKILL of one agent until every other agent shows it dead (meshd
#     `/v1/members` status "dead", as `meshctl members`; serf `members` status "failed").
# Agents are asked by benchmarks/gossip-probe.py, one open connection per agent, in sweeps.
# Prints each time (median of rounds), the ratio, each agent's RSS, and `RESULT` lines
# (`RESULT meshd.fail_detect_s 3.81`) that benchmarks/compare.sh reads.
#
#   benchmarks/serf-compare.sh                 # N=5, lan profile, 3 rounds
#   N=50 benchmarks/serf-compare.sh            # as benchmarks/compare.sh runs it
#   N=10 PROFILE=local ROUNDS=5 benchmarks/serf-compare.sh
#
# Environment: N (agents, default 5), PROFILE (lan|wan|local, default lan), ROUNDS (default 3),
# BASE_PORT (default 27000), BIN_DIR (default: a release build made here),
# TIMEOUT_S (for each of the three measurements of a round, default 60). Ports: BASE_PORT up,
# 2 per agent and implementation, max(200, 4N) per round.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5}; PROFILE=${PROFILE:-lan}; ROUNDS=${ROUNDS:-3}; BASE_PORT=${BASE_PORT:-27000}; TIMEOUT_S=${TIMEOUT_S:-60}

. benchmarks/lib.sh     # after the cd above: paths are from the package root
ensure_serf serf-compare
ensure_meshd_binaries

WORK=$(mktemp -d /tmp/serf-compare.XXXXXX)
PIDS=(); JOIN_PROBE=""
cleanup() {
  [ -n "$JOIN_PROBE" ] && kill "$JOIN_PROBE" 2>/dev/null
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

probe() { python3 benchmarks/gossip-probe.py "$@"; }   # one client per agent, kept open

measure() {  # measure KIND VICTIM T0 OBSERVERS... -> "first last"
  local kind=$1 victim=$2 t0=$3; shift 3
  probe dead "$kind" "$victim" "$t0" "$TIMEOUT_S" "$@"
}

# join_start KIND OBSERVERS..., then start agents 1..N-1, then join_result KIND: from the
# probe's start (agent 0 answering, the others about to start) until every agent sees N alive.
# join_start returns once the probe is up, so that its own start-up is not counted.
join_start() {
  local kind=$1; shift
  rm -f "$WORK/join.t0"
  probe join "$kind" "$N" "$WORK/join.t0" "$TIMEOUT_S" "$@" >"$WORK/join.out" & JOIN_PROBE=$!
  while [ ! -e "$WORK/join.t0" ]; do kill -0 "$JOIN_PROBE" 2>/dev/null || return 1; sleep 0.01; done
}
join_result() {  # join_result KIND: sets JOIN_LAST; fails (as the wait for N alive did) on a timeout
  wait "$JOIN_PROBE"; JOIN_PROBE=""
  read -r _ JOIN_LAST <"$WORK/join.out"
  if [ "$JOIN_LAST" = timeout ]; then
    echo "$1 agents did not all see $N alive members within $TIMEOUT_S s" >&2; return 1
  fi
}

declare -a MESHD_FIRST MESHD_LAST SERF_FIRST SERF_LAST MESHD_JOIN SERF_JOIN MESHD_EVENT SERF_EVENT MESHD_EVENT_FIRST SERF_EVENT_FIRST
MESHD_RSS=0; SERF_RSS=0
KEY=$("$MESHCTL" keygen); echo "$KEY" > "$WORK/cluster.key"; chmod 600 "$WORK/cluster.key"
SPAN=$(( N > 50 ? 2 * N : 100 ))   # ports per implementation and round: 2 per agent
echo "$(date -u +%FT%TZ) load avg $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores, serf $(serf version | head -1)" >&2

for round in $(seq 1 "$ROUNDS"); do
  base=$((BASE_PORT + 2 * SPAN * (round - 1)))   # fresh ports each round
  # meshd: agent 0, then the others at once, each joining agent 0
  PIDS=(); apis=()
  for i in $(seq 0 $((N - 1))); do apis+=("127.0.0.1:$((base + 2 * i + 1))"); done
  for i in $(seq 0 $((N - 1))); do
    port=$((base + 2 * i)); api=$((base + 2 * i + 1))
    join=(); [ "$i" -gt 0 ] && join=(--join "127.0.0.1:$base")
    "$MESHD" --name "m$i" --bind "127.0.0.1:$port" --api "127.0.0.1:$api" --profile "$PROFILE" \
      --data-dir "$WORK/r$round-m$i" --cluster-key-file "$WORK/cluster.key" "${join[@]}" \
      >"$WORK/r$round-m$i.log" 2>&1 &
    PIDS+=($!); disown $!
    if [ "$i" -eq 0 ]; then
      probe ready meshd "${apis[0]}"
      join_start meshd "${apis[@]}"
    fi
  done
  join_result meshd; MESHD_JOIN+=("$JOIN_LAST")
  for pid in "${PIDS[@]}"; do MESHD_RSS=$(( $(rss_kb "$pid") > MESHD_RSS ? $(rss_kb "$pid") : MESHD_RSS )); done
  read -r first last < <(probe event meshd "$TIMEOUT_S" "${apis[@]}")
  MESHD_EVENT_FIRST+=("$first"); MESHD_EVENT+=("$last")
  victim=$((N - 1)); t0=$(date +%s.%N); kill -9 "${PIDS[$victim]}"
  read -r first last < <(measure meshd "m$victim" "$t0" "${apis[@]:0:$victim}")
  MESHD_FIRST+=("$first"); MESHD_LAST+=("$last")
  stop_all

  # serf: the same
  PIDS=(); rpcs=()
  for i in $(seq 0 $((N - 1))); do rpcs+=("127.0.0.1:$((base + SPAN + 2 * i + 1))"); done
  for i in $(seq 0 $((N - 1))); do
    port=$((base + SPAN + 2 * i)); rpc=$((base + SPAN + 2 * i + 1))
    join=(); [ "$i" -gt 0 ] && join=(-join "127.0.0.1:$((base + SPAN))")
    serf agent -node "s$i" -bind "127.0.0.1:$port" -rpc-addr "127.0.0.1:$rpc" -profile "$PROFILE" \
      -encrypt "$KEY" "${join[@]}" >"$WORK/r$round-s$i.log" 2>&1 &
    PIDS+=($!); disown $!
    # serf's -join gives up when the first agent is not listening yet: wait for it.
    if [ "$i" -eq 0 ]; then
      probe ready serf "${rpcs[0]}"
      join_start serf "${rpcs[@]}"
    fi
  done
  join_result serf; SERF_JOIN+=("$JOIN_LAST")
  for pid in "${PIDS[@]}"; do SERF_RSS=$(( $(rss_kb "$pid") > SERF_RSS ? $(rss_kb "$pid") : SERF_RSS )); done
  read -r first last < <(probe event serf "$TIMEOUT_S" "${rpcs[@]}")
  SERF_EVENT_FIRST+=("$first"); SERF_EVENT+=("$last")
  victim=$((N - 1)); t0=$(date +%s.%N); kill -9 "${PIDS[$victim]}"
  read -r first last < <(measure serf "s$victim" "$t0" "${rpcs[@]:0:$victim}")
  SERF_FIRST+=("$first"); SERF_LAST+=("$last")
  stop_all

  echo "round $round: meshd first ${MESHD_FIRST[-1]} s, all ${MESHD_LAST[-1]} s; serf first ${SERF_FIRST[-1]} s, all ${SERF_LAST[-1]} s" >&2
  echo "round $round: all see $N alive: meshd ${MESHD_JOIN[-1]} s, serf ${SERF_JOIN[-1]} s; user event at all: meshd ${MESHD_EVENT[-1]} s, serf ${SERF_EVENT[-1]} s" >&2
done
echo "$(date -u +%FT%TZ) load avg $(cut -d' ' -f1-3 /proc/loadavg) at the end" >&2

python3 - "$N" "$PROFILE" "$MESHD_RSS" "$SERF_RSS" "${MESHD_LAST[*]}" "${SERF_LAST[*]}" "${MESHD_FIRST[*]}" "${SERF_FIRST[*]}" \
  "${MESHD_JOIN[*]}" "${SERF_JOIN[*]}" "${MESHD_EVENT[*]}" "${SERF_EVENT[*]}" "${MESHD_EVENT_FIRST[*]}" "${SERF_EVENT_FIRST[*]}" <<'PY'
import statistics, sys
n, profile, mrss, srss = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def nums(s): return [float(x) for x in s.split() if x != "timeout"]
ml, sl, mf, sf, mj, sj, me, se, mef, sef = (nums(a) for a in sys.argv[5:15])
timeouts = lambda s: s.split().count("timeout")
med = lambda v: statistics.median(v) if v else float("nan")
ratio = lambda a, b: med(a) / med(b) if a and b else float("nan")
rounds = lambda v: ' '.join('%.2f' % x for x in v)
print(f"agents: {n} per implementation, profile {profile}, rounds {len(sys.argv[5].split())}")
print(f"time from SIGKILL until every other agent shows it dead (median of rounds):")
print(f"  meshd  {med(ml):6.2f} s   (first observer {med(mf):.2f} s; rounds: {' '.join('%.2f' % x for x in ml)})")
print(f"  serf   {med(sl):6.2f} s   (first observer {med(sf):.2f} s; rounds: {' '.join('%.2f' % x for x in sl)})")
print(f"  ratio meshd/serf: {med(ml) / med(sl):.2f}")
print(f"RSS per agent (largest seen): meshd {mrss / 1024:.1f} MiB, serf {srss / 1024:.1f} MiB")
print(f"time from starting agents 1..{int(n) - 1} (agent 0 answering) until every agent sees {n} alive (median):")
print(f"  meshd  {med(mj):6.2f} s   (rounds: {rounds(mj)})")
print(f"  serf   {med(sj):6.2f} s   (rounds: {rounds(sj)})")
print(f"  ratio meshd/serf: {ratio(mj, sj):.2f}")
print(f"time for one user event sent through agent 0 to reach every agent (median):")
print(f"  meshd  {med(me):6.2f} s   (first agent {med(mef):.3f} s; rounds: {rounds(me)})")
print(f"  serf   {med(se):6.2f} s   (first agent {med(sef):.3f} s; rounds: {rounds(se)})")
print(f"  ratio meshd/serf: {ratio(me, se):.2f}")
t = {"meshd fail": timeouts(sys.argv[5]), "serf fail": timeouts(sys.argv[6]),
     "meshd event": timeouts(sys.argv[11]), "serf event": timeouts(sys.argv[12])}
if any(t.values()):
    print("rounds timed out (left out of the medians): " + ", ".join(f"{k} {v}" for k, v in t.items() if v))
# Machine-readable, for benchmarks/compare.sh: RESULT SYSTEM.MEASURE VALUE
for system, fail, join, event, rss in (("meshd", ml, mj, me, mrss), ("serf", sl, sj, se, srss)):
    print(f"RESULT {system}.join_s {med(join):.3f}")
    print(f"RESULT {system}.fail_detect_s {med(fail):.3f}")
    print(f"RESULT {system}.event_s {med(event):.3f}")
    print(f"RESULT {system}.rss_mib {rss / 1024:.1f}")
PY
