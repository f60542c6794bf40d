#!/usr/bin/env python3
"""From `meshctl run` on a follower to every instance running: three meshd agents on
127.0.0.1 (kvbench's cluster), one workload of `--count 3 -- sleep` at a time, run from an
agent that is not the leader, timed until `GET /v1/instances?name=W` lists all three
`running` (polled every POLL_S), then removed (`meshctl rm`) before the next. Target:
p50 under 1 s.

Then the move off a dead node: a workload of `--count 3 --reschedule-after R` (one
instance per agent), the agent that is neither the leader nor the follower SIGKILLed, and
the time until the follower lists 3 instances `running` again (one on a survivor).
Target: under `reschedule_after` + 5 s."""

import argparse, http.client, json, os, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kvbench import Meshd, wait_port  # noqa: E402

POLL_S = 0.01
RUN_BOUND_S = 30.0      # a run not all running by then fails the benchmark
MOVE_BOUND_S = 120.0    # the move off a killed agent not done by then fails the benchmark
SLEEP_ARG = "1000000.5" # the instances' `sleep` argument, unique, so a leftover can be found


def running(c, i, name):
    conn = c.connect(i, timeout=5)
    try:
        conn.request("GET", f"/v1/instances?name={name}")
        rows = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    return sum(1 for r in rows if r.get("state") == "running")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshd", required=True)
    ap.add_argument("--meshctl", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--base-port", type=int, default=29900)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--reschedule-after", type=int, default=5)
    a = ap.parse_args()

    c = Meshd(a.work, a.meshd, a.meshctl, a.base_port)
    c.start_all()
    try:
        deadline, leader = time.time() + 90, None
        while time.time() < deadline and leader is None:
            leader = c.leader()
            if leader is None:
                time.sleep(0.3)
        if leader is None:
            sys.exit(f"no leader with 3 voters within 90 s; logs in {a.work}")
        follower = next(i for i in c.alive() if i != leader)
        times = []
        for k in range(a.runs):
            name = f"w{k}"
            t0 = time.perf_counter()
            r = subprocess.run([a.meshctl, "--addr", c.api(follower), "run", name, "--count", str(a.count),
                                "--", "sleep", SLEEP_ARG], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"meshctl run {name}: {r.stderr}")
            while running(c, follower, name) < a.count:
                if time.perf_counter() - t0 > RUN_BOUND_S:
                    sys.exit(f"{name}: not all {a.count} running within {RUN_BOUND_S} s; logs in {a.work}")
                time.sleep(POLL_S)
            times.append(time.perf_counter() - t0)
            subprocess.run([a.meshctl, "--addr", c.api(follower), "rm", name], capture_output=True, text=True)
        s = sorted(times)
        p50 = statistics.median(s)
        print(f"leader m{leader}, run from m{follower}; {len(s)} runs of --count {a.count}")
        print(f"  meshctl run to all running: p50 {p50 * 1000:.0f} ms  p90 {s[int(0.9 * (len(s) - 1))] * 1000:.0f} ms"
              f"  max {s[-1] * 1000:.0f} ms (target p50 < 1000 ms: {'met' if p50 < 1 else 'NOT met'})")

        # The move off a dead node.
        name = "moved"
        r = subprocess.run([a.meshctl, "--addr", c.api(follower), "run", name, "--count", "3",
                            "--reschedule-after", str(a.reschedule_after), "--", "sleep", SLEEP_ARG],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"meshctl run {name}: {r.stderr}")
        t0 = time.perf_counter()
        while running(c, follower, name) < 3:
            if time.perf_counter() - t0 > RUN_BOUND_S:
                sys.exit(f"{name}: not all 3 running within {RUN_BOUND_S} s; logs in {a.work}")
            time.sleep(POLL_S)
        victim = next(i for i in c.alive() if i not in (leader, follower))
        c.kill(victim)
        t_kill = time.perf_counter()
        time.sleep(1)        # the follower still lists the victim's row as running until it is unreachable
        while running(c, follower, name) < 3:
            if time.perf_counter() - t_kill > MOVE_BOUND_S:
                sys.exit(f"{name}: m{victim}'s instance not running elsewhere within {MOVE_BOUND_S} s; logs in {a.work}")
            time.sleep(0.1)
        moved = time.perf_counter() - t_kill
        bound = a.reschedule_after + 5
        print(f"  m{victim} SIGKILLed: its instance running on a survivor after {moved:.2f} s"
              f" (reschedule_after {a.reschedule_after} s; target < {bound} s: {'met' if moved < bound else 'NOT met'})")
    finally:
        c.stop_all()
        subprocess.run(["pkill", "-f", f"sleep {SLEEP_ARG}$"], capture_output=True)   # /usr/bin/sleep or sleep


if __name__ == "__main__":
    main()
