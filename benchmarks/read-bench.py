#!/usr/bin/env python3
"""Linearizable reads of a mesh-wide variable on the leader and on a member that is not a
voter: five meshd agents on 127.0.0.1 (the leader keeps three voters), one client, HTTP/1.1
with keep-alive, `GET /v1/vars/KEY` (docs/INTERFACES.md `var get`).

Run by benchmarks/read-compare.sh (which builds meshd); not meant to be run alone.

The leader and the member are read in alternating turns (`--slices`), so the drift of this
shared machine's load weighs on both alike; each turn's member p50 is divided by the same
turn's leader p50 and the median of those ratios is printed with the pooled p50/p99 of each.
A stale read (`?stale=1`) on the member is measured the same way, as the floor.
Target (issue 18): member p50 <= 1.5 x leader p50.
"""
import argparse, http.client, json, os, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kvbench import Meshd, wait_port  # noqa: E402


class FiveAgents(Meshd):
    """kvbench's meshd cluster, with five agents: three voters and two plain members."""

    def alive(self):
        return [i for i in range(5) if i in self.procs and self.procs[i].poll() is None]

    def start_all(self):
        self.start(0)
        wait_port("127.0.0.1", self.base + 1, time.time() + 30)
        for i in range(1, 5):
            self.start(i, join=0)


def roles(c):
    """(leader index, [indices of members that are not voters]) once every agent agrees, or None."""
    leader, voters = None, None
    for i in c.alive():
        try:
            s = c.status(i)
        except (OSError, ValueError, http.client.HTTPException):
            return None
        if not s.get("leader") or len(s.get("voters") or []) != 3:
            return None
        if leader is not None and s["leader"] != leader:
            return None
        leader, voters = s["leader"], s["voters"]
    if leader is None:
        return None
    names = {f"m{i}": i for i in range(5)}
    members = [names[n] for n in names if n not in voters]
    return names.get(leader), members


def timed_reads(c, i, key, count, stale=False):
    conn = c.connect(i)
    path = f"/v1/vars/{key}" + ("?stale=1" if stale else "")
    lat = []
    for _ in range(count):
        t = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        lat.append(time.perf_counter() - t)
        if r.status != 200 or [v.get("value") for v in json.loads(body).get("vars", [])] != ["v1"]:
            sys.exit(f"read on m{i}: HTTP {r.status} {body[:200]!r}")
    conn.close()
    return lat


def p(lat, q):
    s = sorted(lat)
    return s[min(len(s) - 1, int(len(s) * q))] * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshd", required=True)
    ap.add_argument("--meshctl", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--base-port", type=int, default=29800)
    ap.add_argument("--reads", type=int, default=4000, help="reads per target in all")
    ap.add_argument("--slices", type=int, default=20)
    a = ap.parse_args()

    c = FiveAgents(a.work, a.meshd, a.meshctl, a.base_port)
    c.start_all()
    try:
        deadline, found = time.time() + 90, None
        while time.time() < deadline and found is None:
            found = roles(c)
            if found is None or found[0] is None or not found[1]:
                found = None
                time.sleep(0.3)
        if found is None:
            sys.exit(f"no leader with 3 voters and 2 members within 90 s; logs in {a.work}")
        leader, members = found
        member = members[0]
        conn = c.connect(member)
        conn.request("PUT", "/v1/vars/bench", body=json.dumps({"value": "v1"}), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            sys.exit(f"write on m{member}: HTTP {r.status} {r.read()[:200]!r}")
        r.read()
        conn.close()
        timed_reads(c, leader, "bench", 200)            # warm both paths
        timed_reads(c, member, "bench", 200)
        per = max(1, a.reads // a.slices)
        lead, memb, stale, ratios = [], [], [], []
        for _ in range(a.slices):
            l = timed_reads(c, leader, "bench", per)
            m = timed_reads(c, member, "bench", per)
            s = timed_reads(c, member, "bench", per, stale=True)
            lead += l; memb += m; stale += s
            ratios.append(statistics.median(m) / statistics.median(l))
        print(f"leader m{leader}, member m{member} (not a voter); {len(lead)} reads each, {a.slices} turns")
        print(f"  linearizable on the leader:  p50 {p(lead, .5):.3f} ms  p99 {p(lead, .99):.3f} ms")
        print(f"  linearizable on the member:  p50 {p(memb, .5):.3f} ms  p99 {p(memb, .99):.3f} ms")
        print(f"  stale on the member:         p50 {p(stale, .5):.3f} ms  p99 {p(stale, .99):.3f} ms")
        ratio = statistics.median(ratios)
        print(f"  member / leader p50, median of turns: {ratio:.2f} (target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'})")
    finally:
        c.stop_all()


if __name__ == "__main__":
    main()
