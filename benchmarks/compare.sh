#!/usr/bin/env bash
# meshd against its peers in one run on one machine (issue 21, point 6): the three comparison
# scripts in turn, then one table of meshd/peer ratios against the targets.
#
#   1. benchmarks/serf-compare.sh, SERF_N=50 agents of each: join (all see N alive), failure
#      detection (all see a SIGKILLed agent dead), a user event reaching every agent;
#   2. benchmarks/idle-agent.sh, IDLE_N=5 agents of each idle together: CPU and RSS per agent;
#   3. benchmarks/etcd-compare.sh, 3 members of each: failover after SIGKILL of the leader,
#      write p50/p99, writes/s at 1, 8 and 64 clients.
#
# serf and etcd come from Debian packages (installed by the scripts when missing, lib.sh); each
# script prints what it always did plus `RESULT SYSTEM.MEASURE VALUE` lines, read here. Every
# script's output is shown as it runs and kept in LOG_DIR. Exits non-zero when a script fails,
# not when a target is missed.
#
#   BIN_DIR=.build/release benchmarks/compare.sh                  # the figures: about 15 minutes
#   BIN_DIR=.build/release SERF_N=5 SERF_ROUNDS=1 IDLE_N=3 IDLE_S=10 WARMUP_S=2 ETCD_ROUNDS=1 \
#     SEQ=200 SECONDS_EACH=2 SLICES=2 benchmarks/compare.sh         # a quick check that it works
#
# Environment (defaults are the figures'): SERF_N (50), SERF_ROUNDS (3), IDLE_N (5), IDLE_S (60),
# WARMUP_S (10), ETCD_ROUNDS (5), SEQ (2000), SECONDS_EACH (10), CLIENTS (1,8,64), SLICES (10),
# PROFILE (lan, for serf-compare and idle-agent), BASE_PORT (31000: serf-compare from it,
# idle-agent above, etcd-compare above that), BIN_DIR (default: a release build made by the
# first script), LOG_DIR (default: a new /tmp/compare.XXXXXX, kept).
set -uo pipefail
cd "$(dirname "$0")/.."
SERF_N=${SERF_N:-50}; SERF_ROUNDS=${SERF_ROUNDS:-3}; IDLE_N=${IDLE_N:-5}; BASE_PORT=${BASE_PORT:-31000}
PROFILE=${PROFILE:-lan}
LOG_DIR=${LOG_DIR:-$(mktemp -d /tmp/compare.XXXXXX)}; mkdir -p "$LOG_DIR"
if [ "$IDLE_N" -gt 50 ]; then echo "compare: IDLE_N at most 50 (idle-agent.sh's ports)" >&2; exit 2; fi
if [ -z "${BIN_DIR:-}" ]; then     # build once, here, rather than in each script
  . benchmarks/lib.sh; ensure_meshd_binaries
fi
export BIN_DIR PROFILE

serf_ports=$(( (SERF_N > 50 ? 4 * SERF_N : 200) * SERF_ROUNDS ))
idle_base=$((BASE_PORT + serf_ports)); etcd_base=$((idle_base + 200))
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOADS=(); FAILED=()

run() {  # run NAME ENV... SCRIPT: shows its output, keeps it in LOG_DIR/NAME.log
  local name=$1; shift
  LOADS+=("$name $(loadavg)")
  echo "== $name ($(date -u +%FT%TZ), load avg $(loadavg))"
  env "$@" 2>&1 | tee "$LOG_DIR/$name.log"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then echo "compare: $name failed (exit $rc); its log: $LOG_DIR/$name.log" >&2; FAILED+=("$name"); fi
}

START=$(date -u +%FT%TZ)
run serf N="$SERF_N" ROUNDS="$SERF_ROUNDS" BASE_PORT="$BASE_PORT" benchmarks/serf-compare.sh
run idle N="$IDLE_N" IDLE_S="${IDLE_S:-60}" WARMUP_S="${WARMUP_S:-10}" BASE_PORT="$idle_base" benchmarks/idle-agent.sh
ETCD_ROUNDS_=${ETCD_ROUNDS:-5}
run etcd ROUNDS="$ETCD_ROUNDS_" SEQ="${SEQ:-2000}" SECONDS_EACH="${SECONDS_EACH:-10}" CLIENTS="${CLIENTS:-1,8,64}" \
  SLICES="${SLICES:-10}" BASE_PORT="$etcd_base" benchmarks/etcd-compare.sh
LOADS+=("end $(loadavg)")

build="$BIN_DIR/meshd (built $(date -u -r "$BIN_DIR/meshd" +%FT%TZ 2>/dev/null || echo "?"))"
sizes="SERF_N=$SERF_N SERF_ROUNDS=$SERF_ROUNDS IDLE_N=$IDLE_N IDLE_S=${IDLE_S:-60} WARMUP_S=${WARMUP_S:-10}"
sizes+=" ETCD_ROUNDS=$ETCD_ROUNDS_ SEQ=${SEQ:-2000} SECONDS_EACH=${SECONDS_EACH:-10} SLICES=${SLICES:-10} CLIENTS=${CLIENTS:-1,8,64}"
[ "$SERF_N/$SERF_ROUNDS/$IDLE_N/${IDLE_S:-60}/${WARMUP_S:-10}/$ETCD_ROUNDS_/${SEQ:-2000}/${SECONDS_EACH:-10}/${SLICES:-10}/${CLIENTS:-1,8,64}" \
  = "50/3/5/60/10/5/2000/10/10/1,8,64" ] || sizes+=" (NOT THE FIGURES' SIZES: a check that the run works, not a result)"
python3 - "$LOG_DIR" "$START" "$(git rev-parse --short HEAD)" "$build" "$SERF_N" "$IDLE_N" "${CLIENTS:-1,8,64}" \
  "$(nproc)" "$sizes" "${LOADS[@]}" <<'PY'
import math, os, sys
log_dir, start, commit, build, serf_n, idle_n, clients, cores, sizes = sys.argv[1:10]
loads = sys.argv[10:]

def results(name):
    out = {}
    try:
        with open(os.path.join(log_dir, name + ".log")) as f:
            for line in f:
                p = line.split()
                if len(p) == 3 and p[0] == "RESULT":
                    try: out[p[1]] = float(p[2])
                    except ValueError: pass
    except OSError:
        pass
    return out

serf, idle, etcd = results("serf"), results("idle"), results("etcd")
# (part, peer, measure, key, unit format, target ratio or None: meshd/peer must be at most it)
rows = [
    (serf, "serf", f"join: {serf_n} agents all see {serf_n} alive (s)", "join_s", "{:.2f}", None),
    (serf, "serf", f"failure detection: {int(serf_n) - 1} agents all see a SIGKILLed one dead (s)", "fail_detect_s", "{:.2f}", 0.6),
    (serf, "serf", f"user event at all {serf_n} agents (s)", "event_s", "{:.2f}", None),
    (serf, "serf", f"RSS per agent, {serf_n} agents (MiB, largest)", "rss_mib", "{:.1f}", None),
    (idle, "serf", f"idle CPU per agent, {idle_n} agents (% of a core, mean)", "idle_cpu_pct", "{:.2f}", 1.0),
    (idle, "serf", f"idle RSS per agent, {idle_n} agents (MiB, mean)", "idle_rss_mib", "{:.1f}", 1.0),
    (etcd, "etcd", "leader failover, 3 members (ms, median)", "failover_median_ms", "{:.0f}", 0.4),
    (etcd, "etcd", "write p50 (ms)", "write_p50_ms", "{:.2f}", 0.9),
    (etcd, "etcd", "write p99 (ms)", "write_p99_ms", "{:.2f}", None),
]
rows += [(etcd, "etcd", f"writes/s, {n} client{'s' if n != '1' else ''} (higher is better)", f"tput_{n}", "{:.0f}", None)
         for n in clients.split(",")]
rows += [(etcd, "etcd", "RSS per member idle (MiB, largest)", "idle_rss_mib", "{:.1f}", None),
         (etcd, "etcd", "RSS per member under writes (MiB, largest)", "loaded_rss_mib", "{:.1f}", None)]

print()
print(f"meshd against serf and etcd, one run on one machine: {start}, checkout {commit}, {build}")
print(f"sizes: {sizes}")
print(f"{cores} cores; load avg (1/5/15 min) at the start of each part: " + "; ".join(loads))
head = ("measure", "meshd", "peer", "ratio", "target", "met")
table = []
for part, peer, label, key, fmt, target in rows:
    m, p = part.get("meshd." + key), part.get(peer + "." + key)
    val = lambda v: fmt.format(v) if v is not None and not math.isnan(v) else "n/a"
    ratio = m / p if m is not None and p and not (math.isnan(m) or math.isnan(p)) else None
    met = "-" if target is None else ("n/a" if ratio is None else ("yes" if ratio <= target else "NO"))
    table.append((label, val(m), f"{peer} {val(p)}", "n/a" if ratio is None else f"{ratio:.3f}",
                  "-" if target is None else f"≤ {target:g} ×", met))
widths = [max(len(r[i]) for r in table + [head]) for i in range(len(head))]
for i, r in enumerate([head] + table):
    print("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
    if i == 0:
        print("  ".join("-" * w for w in widths))
print(f"logs: {log_dir}")
PY
if [ "${#FAILED[@]}" -gt 0 ]; then echo "compare: failed: ${FAILED[*]}" >&2; exit 1; fi
