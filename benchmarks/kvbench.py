#!/usr/bin/env python3
"""One client, two replicated stores: meshd's variables and etcd 3.4's key/value store.

Run by benchmarks/etcd-compare.sh (which installs etcd and builds meshd); not meant to be
run alone. Both clusters are 3 members on 127.0.0.1, started and killed by this script,
and both are driven the same way: HTTP/1.1 with keep-alive (http.client), one connection
per client thread, a small JSON body per write.

  meshd  PUT  /v1/vars/KEY        {"value": V}                    (docs/INTERFACES.md `var set`)
  etcd   POST /v3/kv/put          {"key": b64(KEY), "value": b64(V)}  (the JSON gRPC gateway)

Both clusters run at the same time and every measurement alternates between them in short
turns (`--slices`), so the load of this shared VM, which drifts by a factor of several within
minutes, weighs on both alike. Measured: RSS when idle, sequential write latency against the
leader (p50, p99), throughput with 1, 8 and 64 concurrent clients against the leader, RSS
under that load, and failover after SIGKILL of the leader (median of ROUNDS): from the kill
until a write through a survivor commits. The failover probe starts a fresh write every
PROBE_MS, alternating between the survivors, each on its own connection and waiting up to
3 s; the time is when the first of them succeeds, so neither client timeouts nor retries
bound the resolution.
"""
import base64, http.client, json, os, signal, statistics, subprocess, sys, threading, time

VALUE = "v" * 64
PROBE_MS = 10


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def wait_port(host, port, deadline):
    import socket
    while time.time() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Cluster:
    """Three members of one system; subclasses say how to start them and how to write."""
    name = "?"

    def __init__(self, work):
        self.work, self.procs = work, {}

    def alive(self):
        return [i for i in range(3) if i in self.procs and self.procs[i].poll() is None]

    def kill(self, i):
        p = self.procs.pop(i)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop_all(self):
        for i in list(self.procs):
            self.kill(i)

    def rss(self):
        return [rss_mib(self.procs[i].pid) for i in self.alive()]

    def connect(self, i, timeout=10):
        host, port = self.api(i).split(":")
        return http.client.HTTPConnection(host, int(port), timeout=timeout)

    def write(self, conn, key):
        """One write; True when committed."""
        method, path, body = self.request(key)
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        return r.status == 200 and self.committed(data)


class Meshd(Cluster):
    name = "meshd"

    def __init__(self, work, meshd, meshctl, base):
        super().__init__(work)
        self.meshd, self.base = meshd, base
        key = subprocess.run([meshctl, "keygen"], capture_output=True, text=True, check=True).stdout.strip()
        self.keyfile = os.path.join(work, "cluster.key")
        with open(self.keyfile, "w") as f:
            f.write(key + "\n")
        os.chmod(self.keyfile, 0o600)

    def api(self, i):
        return f"127.0.0.1:{self.base + 2 * i + 1}"

    def start(self, i, join=None):
        args = [self.meshd, "--name", f"m{i}", "--bind", f"127.0.0.1:{self.base + 2 * i}", "--api", self.api(i),
                "--data-dir", os.path.join(self.work, f"m{i}"), "--cluster-key-file", self.keyfile]
        if join is not None:
            args += ["--join", f"127.0.0.1:{self.base + 2 * join}"]
        log = open(os.path.join(self.work, f"m{i}.log"), "a")
        self.procs[i] = subprocess.Popen(args, stdout=log, stderr=log)

    def start_all(self):
        self.start(0)
        wait_port("127.0.0.1", self.base + 1, time.time() + 30)
        self.start(1, join=0)
        self.start(2, join=0)

    def status(self, i):
        c = self.connect(i, timeout=2)
        try:
            c.request("GET", "/v1/status")
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def leader(self):
        """The index of the member every live member names leader, with 3 voters; or None."""
        names = set()
        for i in self.alive():
            try:
                s = self.status(i)
            except (OSError, ValueError, http.client.HTTPException):
                return None
            if not s.get("leader") or len(s.get("voters") or []) != 3:
                return None
            names.add(s["leader"])
        if len(names) != 1:
            return None
        n = names.pop()
        return int(n[1:]) if n.startswith("m") and int(n[1:]) in self.alive() else None

    def rejoin(self, i):
        self.start(i, join=self.alive()[0])

    def request(self, key):
        return "PUT", f"/v1/vars/{key}", json.dumps({"value": VALUE})

    def committed(self, data):
        return b'"committed"' in data


class Etcd(Cluster):
    name = "etcd"

    def __init__(self, work, etcd, base):
        super().__init__(work)
        self.etcd, self.base = etcd, base
        self.cluster = ",".join(f"e{i}=http://127.0.0.1:{base + 2 * i}" for i in range(3))
        self.ids = {}

    def api(self, i):
        return f"127.0.0.1:{self.base + 2 * i + 1}"

    def start(self, i, state="new"):
        client, peer = f"http://{self.api(i)}", f"http://127.0.0.1:{self.base + 2 * i}"
        args = [self.etcd, "--name", f"e{i}", "--data-dir", os.path.join(self.work, f"e{i}"),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", self.cluster, "--initial-cluster-state", state]
        log = open(os.path.join(self.work, f"e{i}.log"), "a")
        self.procs[i] = subprocess.Popen(args, stdout=log, stderr=log)

    def start_all(self):
        for i in range(3):
            self.start(i)

    def status(self, i):
        c = self.connect(i, timeout=2)
        try:
            c.request("POST", "/v3/maintenance/status", body="{}", headers={"Content-Type": "application/json"})
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def leader(self):
        leaders = set()
        for i in self.alive():
            try:
                s = self.status(i)
            except (OSError, ValueError, http.client.HTTPException):
                return None
            if "leader" not in s:
                return None
            self.ids[s["header"]["member_id"]] = i
            leaders.add(s["leader"])
        if len(leaders) != 1:
            return None
        return self.ids.get(leaders.pop())

    def rejoin(self, i):
        self.start(i, state="existing")   # same data dir: a restart, as systemd would do

    def request(self, key):
        b = lambda s: base64.b64encode(s.encode()).decode()
        return "POST", "/v3/kv/put", json.dumps({"key": b(key), "value": b(VALUE)})

    def committed(self, data):
        return b'"header"' in data and b'"error"' not in data


def wait_leader(c, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        l = c.leader()
        if l is not None:
            return l
        time.sleep(0.2)
    sys.exit(f"{c.name}: no leader with 3 voters within {seconds} s; logs in {c.work}")


def sequential(c, leader, count, raw=False):
    conn = c.connect(leader)
    lat = []
    for k in range(count):
        t = time.perf_counter()
        if not c.write(conn, f"seq{k % 1000}"):
            sys.exit(f"{c.name}: a sequential write failed")
        lat.append(time.perf_counter() - t)
    conn.close()
    if raw:
        return lat
    lat.sort()
    return lat[len(lat) // 2] * 1000, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000


def throughput(c, leader, clients, seconds):
    stop, counts, errors, peak = time.time() + seconds, [0] * clients, [0] * clients, [0.0]

    def worker(n):
        conn = c.connect(leader)
        k = 0
        while time.time() < stop:
            try:
                if c.write(conn, f"t{n}-{k % 100}"):
                    counts[n] += 1
                else:
                    errors[n] += 1
            except (OSError, http.client.HTTPException):
                errors[n] += 1
                conn.close()
                conn = c.connect(leader)
            k += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], max(c.rss() or [0]))
        time.sleep(0.5)
    secs = time.time() - t0
    return sum(counts) / secs, sum(errors), peak[0], secs


def failover(c, rounds, label=None):
    times = []
    for r in range(rounds):
        r = label - 1 if label is not None else r
        leader = wait_leader(c)
        time.sleep(2)                               # settle: everyone caught up, heartbeats flowing
        leader = wait_leader(c)
        survivors = [i for i in c.alive() if i != leader]
        done, first = threading.Event(), []
        lock = threading.Lock()

        def attempt(i, n, t_kill):
            try:
                conn = c.connect(i, timeout=3)
                ok = c.write(conn, f"fo{r}-{n}")
                conn.close()
            except (OSError, http.client.HTTPException):
                ok = False
            if ok:
                with lock:
                    first.append(time.perf_counter() - t_kill)
                done.set()

        t_kill = time.perf_counter()
        c.kill(leader)
        n = 0
        while not done.is_set() and time.perf_counter() - t_kill < 15:
            threading.Thread(target=attempt, args=(survivors[n % 2], n, t_kill), daemon=True).start()
            n += 1
            done.wait(PROBE_MS / 1000)
        if not first:
            sys.exit(f"{c.name}: no write committed within 15 s of killing the leader; logs in {c.work}")
        with lock:
            times.append(min(first))
        print(f"  {c.name} failover round {r + 1}: {times[-1] * 1000:.0f} ms (killed member {leader})", flush=True)
        c.rejoin(leader)
        deadline = time.time() + 60
        while len(c.alive()) < 3 or c.leader() is None:
            if time.time() > deadline:
                sys.exit(f"{c.name}: the killed member did not rejoin within 60 s")
            time.sleep(0.2)
    return times


def interleaved(clusters, seq_count, tput_seconds, rounds, client_counts, slices):
    """Both clusters run at once; every measurement alternates between them in `slices`
    short turns, so a change of machine load (other builds on this VM) hits both alike."""
    out = {c.name: {"system": c.name} for c in clusters}
    for c in clusters:
        c.start_all()
    leaders = {c.name: wait_leader(c) for c in clusters}
    time.sleep(5)
    for c in clusters:
        out[c.name]["idle_rss_mib"] = max(c.rss())
    lat = {c.name: [] for c in clusters}
    for _ in range(slices):
        for c in clusters:
            lat[c.name] += sequential(c, leaders[c.name], max(1, seq_count // slices), raw=True)
    for c in clusters:
        l = sorted(lat[c.name])
        out[c.name]["write_p50_ms"] = l[len(l) // 2] * 1000
        out[c.name]["write_p99_ms"] = l[min(len(l) - 1, int(len(l) * 0.99))] * 1000
        print(f"  {c.name} sequential writes: p50 {out[c.name]['write_p50_ms']:.2f} ms, p99 {out[c.name]['write_p99_ms']:.2f} ms ({len(l)} writes)", flush=True)
    peak = {c.name: 0.0 for c in clusters}
    for n in client_counts:
        done = {c.name: [0.0, 0.0, 0] for c in clusters}     # writes, seconds, errors
        for _ in range(max(1, slices // 5)):
            for c in clusters:
                rate, errors, p, secs = throughput(c, leaders[c.name], n, tput_seconds / max(1, slices // 5))
                done[c.name][0] += rate * secs; done[c.name][1] += secs; done[c.name][2] += errors
                peak[c.name] = max(peak[c.name], p)
        for c in clusters:
            w, secs, errors = done[c.name]
            out[c.name][f"tput_{n}"], out[c.name][f"errors_{n}"] = w / secs, errors
            print(f"  {c.name} {n} clients: {w / secs:.0f} writes/s ({errors} errors)", flush=True)
    for c in clusters:
        out[c.name]["loaded_rss_mib"] = peak[c.name]
        out[c.name]["failover_ms"] = []
    for r in range(rounds):
        for c in clusters:
            out[c.name]["failover_ms"] += [t * 1000 for t in failover(c, 1, label=r + 1)]
    for c in clusters:
        out[c.name]["failover_median_ms"] = statistics.median(out[c.name]["failover_ms"])
        c.stop_all()
    return [out[c.name] for c in clusters]


def steady_load(c, clients, seconds):
    """`clients` writers saturate the leader for `seconds` while every member's view of
    leader and term is sampled twice a second; returns writes/s and the changes seen."""
    c.start_all()
    leader = wait_leader(c)
    time.sleep(5)
    first = {i: c.status(i) for i in c.alive()}
    terms = {s["term"] for s in first.values()}
    seen, changes, samples, stop = [], [0], [0], [False]

    def watch():
        last = (first[leader]["leader"], first[leader]["term"])
        while not stop[0]:
            for i in c.alive():
                try:
                    s = c.status(i)
                except (OSError, ValueError, http.client.HTTPException):
                    continue
                samples[0] += 1
                now = (s.get("leader"), s.get("term"))
                if now != last and now[0] is not None:
                    changes[0] += 1
                    seen.append((round(time.time() - t0, 1), i, now))
                    last = now
            time.sleep(0.5)

    t0 = time.time()
    w = threading.Thread(target=watch)
    w.start()
    rate, errors, peak, secs = throughput(c, leader, clients, seconds)
    stop[0] = True
    w.join()
    last = {i: c.status(i) for i in c.alive()}
    c.stop_all()
    return {"clients": clients, "seconds": secs, "writes_per_s": rate, "errors": errors, "peak_rss_mib": peak,
            "term_before": sorted(terms), "term_after": sorted({s["term"] for s in last.values()}),
            "leader_changes_seen": changes[0], "changes": seen, "status_samples": samples[0]}


def main():
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--meshd"); p.add_argument("--meshctl"); p.add_argument("--etcd", default="etcd")
    p.add_argument("--work", required=True); p.add_argument("--base-port", type=int, default=29400)
    p.add_argument("--seq", type=int, default=2000); p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--rounds", type=int, default=5); p.add_argument("--clients", default="1,8,64")
    p.add_argument("--slices", type=int, default=10, help="turns each measurement alternates in")
    p.add_argument("--only", choices=["meshd", "etcd"])
    p.add_argument("--steady-load", type=float, metavar="SECONDS",
                   help="instead: meshd only, 64 clients (--clients) saturating writes for SECONDS; count leader changes")
    a = p.parse_args()
    if a.steady_load:
        c = Meshd(a.work, a.meshd, a.meshctl, a.base_port)
        try:
            r = steady_load(c, int(a.clients.split(",")[-1]), a.steady_load)
        finally:
            c.stop_all()
        print(f"meshd, 3 members, {r['clients']} clients for {r['seconds']:.0f} s: {r['writes_per_s']:.0f} writes/s, "
              f"{r['errors']} errors; term {r['term_before']} -> {r['term_after']}; leader changes seen: "
              f"{r['leader_changes_seen']} ({r['status_samples']} status samples); peak RSS {r['peak_rss_mib']:.1f} MiB")
        print("JSON " + json.dumps(r))
        return
    clients = [int(x) for x in a.clients.split(",")]
    clusters = []
    if a.only != "meshd":
        clusters.append(Etcd(a.work, a.etcd, a.base_port + 100))
    if a.only != "etcd":
        clusters.append(Meshd(a.work, a.meshd, a.meshctl, a.base_port))
    print(" and ".join(f"3 {c.name}" for c in clusters) + " members on 127.0.0.1, measured in alternating turns", flush=True)
    try:
        results = interleaved(clusters, a.seq, a.seconds, a.rounds, clients, a.slices)
    finally:
        for c in clusters:
            c.stop_all()
    print()
    print(f"{'':26}" + "".join(f"{r['system']:>14}" for r in results) + ("       ratio" if len(results) == 2 else ""))
    rows = [("failover median (ms)", "failover_median_ms", "{:.0f}"), ("write p50 (ms)", "write_p50_ms", "{:.2f}"),
            ("write p99 (ms)", "write_p99_ms", "{:.2f}")]
    rows += [(f"writes/s, {n} clients", f"tput_{n}", "{:.0f}") for n in clients]
    rows += [("RSS idle (MiB, max)", "idle_rss_mib", "{:.1f}"), ("RSS loaded (MiB, max)", "loaded_rss_mib", "{:.1f}")]
    for label, key, fmt in rows:
        line = f"{label:26}" + "".join(f"{fmt.format(r[key]):>14}" for r in results)
        if len(results) == 2 and results[0][key]:
            line += f"{results[1][key] / results[0][key]:12.2f}"
        print(line)
    for r in results:
        print(f"{r['system']} failover rounds (ms): " + " ".join(f"{t:.0f}" for t in r["failover_ms"]))
    print("JSON " + json.dumps(results))
    # Machine-readable, for benchmarks/compare.sh: RESULT SYSTEM.MEASURE VALUE
    for r in results:
        for label, key, fmt in rows:
            print(f"RESULT {r['system']}.{key} " + fmt.format(r[key]).replace(",", ""))


if __name__ == "__main__":
    main()
