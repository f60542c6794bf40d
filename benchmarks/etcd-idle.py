#!/usr/bin/env python3
"""Idle CPU and RSS of a 3-member etcd 3.4 cluster (Debian `etcd-server`, default settings:
100 ms heartbeat) on 127.0.0.1, for comparison with meshd's idle Raft leader
(benchmarks/README.md, "Idle agent against Serf"). Needs `etcd` on PATH (benchmarks/lib.sh's
`ensure_etcd` installs it).

  python3 benchmarks/etcd-idle.py
"""
import os, sys, time, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kvbench as kb
work = tempfile.mkdtemp(prefix="ei.")
c = kb.Etcd(work, "etcd", 29600)
c.start_all()
try:
    leader = kb.wait_leader(c)
    time.sleep(10)
    hz = os.sysconf("SC_CLK_TCK")
    def cpu(pid):
        f = open(f"/proc/{pid}/stat").read().split(")")[1].split()
        return int(f[11]) + int(f[12])
    a = {i: cpu(p.pid) for i, p in c.procs.items()}
    time.sleep(60)
    b = {i: cpu(p.pid) for i, p in c.procs.items()}
    for i in sorted(a):
        print("etcd member", i, "leader" if i == leader else "follower", "%.2f %%" % ((b[i] - a[i]) / hz / 60 * 100), "rss %.1f MiB" % kb.rss_mib(c.procs[i].pid))
finally:
    c.stop_all()
