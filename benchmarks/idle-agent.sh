#!/usr/bin/env bash
# Idle cost of an agent: N meshd agents and N `serf agent`s (Debian package `serf`) on
# 127.0.0.1, all running at the same time, left idle; prints each side's CPU (% of one core,
# from utime+stime in /proc/PID/stat over the idle window) and RSS (VmRSS at the end).
#
#   benchmarks/idle-agent.sh                        # N=5, IDLE_S=60, lan profile, release build
#   N=5 IDLE_S=120 PROFILE=local benchmarks/idle-agent.sh
#   INSTANCES=20 benchmarks/idle-agent.sh            # with a workload of 20 `sleep` instances placed
#
# Environment: N (default 5), IDLE_S (default 60), WARMUP_S (after all see N alive, default 10),
# PROFILE (lan|wan|local, default lan), BASE_PORT (default 29000), INSTANCES (default 0: a
# workload `idle` of that many `sleep` instances is run from m1 and waited for, running,
# before the warm-up; the instances' own processes are not counted),
# BIN_DIR (default: a release build made here), KEEP=1 keeps the work directory.
# Besides the table it prints `RESULT meshd.idle_cpu_pct 0.48` lines (means over the agents)
# that benchmarks/compare.sh reads.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5}; IDLE_S=${IDLE_S:-60}; WARMUP_S=${WARMUP_S:-10}; PROFILE=${PROFILE:-lan}; BASE_PORT=${BASE_PORT:-29000}

. benchmarks/lib.sh     # after the cd above: paths are from the package root
ensure_serf idle-agent
ensure_meshd_binaries

WORK=$(mktemp -d /tmp/idle-agent.XXXXXX)
MESHD_PIDS=(); SERF_PIDS=()
cleanup() {
  for pid in "${MESHD_PIDS[@]}" "${SERF_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  # The workload's instances run in process groups of their own and outlive a SIGKILLed agent.
  [ "${INSTANCES:-0}" -gt 0 ] && pkill -f 'sleep 1000000.25$' 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

KEY=$("$MESHCTL" keygen); echo "$KEY" > "$WORK/cluster.key"; chmod 600 "$WORK/cluster.key"
apis=(); rpcs=()
for i in $(seq 0 $((N - 1))); do
  port=$((BASE_PORT + 2 * i)); api=$((BASE_PORT + 2 * i + 1))
  join=(); [ "$i" -gt 0 ] && join=(--join "127.0.0.1:$BASE_PORT")
  "$MESHD" --name "m$i" --bind "127.0.0.1:$port" --api "127.0.0.1:$api" --profile "$PROFILE" \
    --data-dir "$WORK/m$i" --cluster-key-file "$WORK/cluster.key" "${join[@]}" >"$WORK/m$i.log" 2>&1 &
  MESHD_PIDS+=($!); apis+=("127.0.0.1:$api")
done
for i in $(seq 0 $((N - 1))); do
  port=$((BASE_PORT + 100 + 2 * i)); rpc=$((BASE_PORT + 100 + 2 * i + 1))
  join=(); [ "$i" -gt 0 ] && join=(-join "127.0.0.1:$((BASE_PORT + 100))")
  serf agent -node "s$i" -bind "127.0.0.1:$port" -rpc-addr "127.0.0.1:$rpc" -profile "$PROFILE" \
    -encrypt "$KEY" "${join[@]}" >"$WORK/s$i.log" 2>&1 &
  SERF_PIDS+=($!); rpcs+=("127.0.0.1:$rpc")
  if [ "$i" -eq 0 ]; then   # serf's -join gives up when the first agent is not listening yet
    for _ in $(seq 100); do serf members -rpc-addr="127.0.0.1:$rpc" >/dev/null 2>&1 && break; sleep 0.1; done
  fi
done

python3 - "$MESHCTL" "$N" "$WARMUP_S" "$IDLE_S" "${INSTANCES:-0}" "${#MESHD_PIDS[@]}" "${MESHD_PIDS[@]}" "${SERF_PIDS[@]}" \
  "${apis[@]}" "${rpcs[@]}" <<'PY'
import json, os, subprocess, sys, time
meshctl, n, warmup, idle = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
instances, count = int(sys.argv[5]), int(sys.argv[6])
rest = sys.argv[7:]
mpids, spids = [int(p) for p in rest[:count]], [int(p) for p in rest[count:2 * count]]
apis, rpcs = rest[2 * count:3 * count], rest[3 * count:]
hz = os.sysconf("SC_CLK_TCK")

def alive(kind, obs):
    if kind == "meshd":
        out = subprocess.run([meshctl, "--addr", obs, "--json", "members"], capture_output=True, text=True).stdout
        try: return sum(1 for m in json.loads(out) if m["status"] == "alive")
        except ValueError: return 0
    out = subprocess.run(["serf", "members", "-rpc-addr=" + obs, "-format=json"], capture_output=True, text=True).stdout
    try: return sum(1 for m in json.loads(out)["members"] if m["status"] == "alive")
    except ValueError: return 0

deadline = time.time() + 90
while time.time() < deadline:
    if all(alive("meshd", a) == n for a in apis) and all(alive("serf", r) == n for r in rpcs): break
    time.sleep(0.5)
else:
    sys.exit("agents did not all see %d alive members within 90 s" % n)
if instances:
    r = subprocess.run([meshctl, "--addr", apis[1], "run", "idle", "--count", str(instances), "--", "sleep", "1000000.25"],
                       capture_output=True, text=True)
    if r.returncode != 0: sys.exit("meshctl run: " + r.stderr)
    deadline = time.time() + 90
    while time.time() < deadline:
        out = subprocess.run([meshctl, "--addr", apis[0], "--json", "ps"], capture_output=True, text=True).stdout
        try: running = sum(1 for i in json.loads(out) if i.get("state") == "running")
        except ValueError: running = 0
        if running == instances: break
        time.sleep(0.5)
    else:
        sys.exit("%d instances not all running within 90 s" % instances)
time.sleep(warmup)

def ticks(pid):
    with open(f"/proc/{pid}/stat") as f: fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])      # utime + stime
def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"): return int(line.split()[1])
    return 0

pids = mpids + spids
t0, c0 = time.monotonic(), {p: ticks(p) for p in pids}
time.sleep(idle)          # nobody asks the agents anything during the window
t1, c1 = time.monotonic(), {p: ticks(p) for p in pids}
cpu = {p: (c1[p] - c0[p]) / hz / (t1 - t0) * 100 for p in pids}
rss = {p: rss_kib(p) / 1024 for p in pids}
print(f"{n} meshd and {n} serf agents, all idle at once for {t1 - t0:.0f} s (after {warmup:.0f} s warm-up)"
      + (f"; {instances} instances placed and running" if instances else ""))
print(f"{'':8}{'cpu % of one core (each)':>40}   {'mean':>6}   {'rss MiB (each)':>34}   {'mean':>6}")
out = subprocess.run([meshctl, "--addr", apis[0], "--json", "members"], capture_output=True, text=True).stdout
try: roles = {m["name"]: m["role"] for m in json.loads(out)}
except ValueError: roles = {}
print("meshd roles (m0..): " + " ".join(roles.get(f"m{i}", "?") for i in range(len(mpids))))
for name, group in (("meshd", mpids), ("serf", spids)):
    cs = " ".join(f"{cpu[p]:5.2f}" for p in group); rs = " ".join(f"{rss[p]:5.1f}" for p in group)
    print(f"{name:8}{cs:>40}   {sum(cpu[p] for p in group) / len(group):6.2f}   {rs:>34}   {sum(rss[p] for p in group) / len(group):6.1f}")
# Machine-readable, for benchmarks/compare.sh: RESULT SYSTEM.MEASURE VALUE (means over the agents)
for name, group in (("meshd", mpids), ("serf", spids)):
    print(f"RESULT {name}.idle_cpu_pct {sum(cpu[p] for p in group) / len(group):.3f}")
    print(f"RESULT {name}.idle_rss_mib {sum(rss[p] for p in group) / len(group):.2f}")
PY
