#!/usr/bin/env python3
"""Two or more meshd builds side by side: 3 members of each on 127.0.0.1, one client
(kvbench.py's), measurements alternating between them in turns, in a new random order each
turn, so the load drift of a shared machine hits all alike. For telling whether a change
moved write latency or throughput when runs against etcd differ by more than the change
(benchmarks/README.md).

  python3 benchmarks/meshd-ab.py BIN_DIR_A BIN_DIR_B [BIN_DIR_C ...]   # each holds meshd and meshctl

Prints, per build: sequential write p50/p90/p99 over TURNS x SEQ writes; the median over
turns of its p50 divided by the first build's p50 in the same turn, with the quartiles
(paired, so the drift between turns cancels out); and the mean of TPUT_TURNS runs of 64
clients for SECONDS each.
"""
import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvbench as kb  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dirs", nargs="+")
    p.add_argument("--turns", type=int, default=20); p.add_argument("--seq", type=int, default=200)
    p.add_argument("--tput-turns", type=int, default=3); p.add_argument("--seconds", type=float, default=4)
    p.add_argument("--base-port", type=int, default=29700)
    a = p.parse_args()
    if len(a.dirs) < 2:
        sys.exit("give two or more build directories")
    labels = [chr(ord("A") + i) for i in range(len(a.dirs))]
    clusters = {}
    try:
        for k, (label, bindir) in enumerate(zip(labels, a.dirs)):
            work = tempfile.mkdtemp(prefix=f"meshd-ab-{label}.")
            c = kb.Meshd(work, f"{bindir}/meshd", f"{bindir}/meshctl", a.base_port + 100 * k)
            c.start_all()
            clusters[label] = c
        time.sleep(3)
        leader = {n: kb.wait_leader(c) for n, c in clusters.items()}
        for n, c in clusters.items():
            kb.sequential(c, leader[n], 100)          # warm-up
        lat = {n: [] for n in clusters}
        turn_p50 = {n: [] for n in clusters}
        for _ in range(a.turns):
            order = list(clusters.items())
            random.shuffle(order)
            for n, c in order:
                one = kb.sequential(c, leader[n], a.seq, raw=True)
                lat[n] += one
                turn_p50[n].append(sorted(one)[len(one) // 2])
        tput = {n: [] for n in clusters}
        for _ in range(a.tput_turns):
            for n, c in clusters.items():
                tput[n].append(kb.throughput(c, leader[n], 64, a.seconds)[0])
        for n, bindir in zip(labels, a.dirs):
            s = sorted(lat[n])
            r = sorted(x / y for x, y in zip(turn_p50[n], turn_p50["A"]))
            t = f"; 64 clients {sum(tput[n]) / len(tput[n]):.0f} writes/s (turns {[round(x) for x in tput[n]]})" if tput[n] else ""
            print(f"{n} ({bindir}): sequential p50 {s[len(s) // 2] * 1000:.2f} ms, p90 {s[int(len(s) * .9)] * 1000:.2f}, "
                  f"p99 {s[int(len(s) * .99)] * 1000:.2f} ({len(s)} writes); p50 / A's, paired by turn: median "
                  f"{r[len(r) // 2]:.3f} (quartiles {r[len(r) // 4]:.3f}-{r[3 * len(r) // 4]:.3f}){t}")
    finally:
        for c in clusters.values():
            c.stop_all()


if __name__ == "__main__":
    main()
