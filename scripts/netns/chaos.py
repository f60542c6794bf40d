#!/usr/bin/env python3
"""A seeded chaos run on real hosts with a checked history (issue 21, points 2 and 3).

N network namespaces on a bridge (faults.py's Network), one meshd in each (the default
`lan` profile). Client threads write and read variables over the HTTP API of random
running agents while a fault schedule drawn from the seed runs, one fault at a time,
each held, healed, and followed by a wait until the mesh has settled (every current
member alive in every view, one leader known to all) and a short gap. The faults:

  loss                 nftables `numgen random mod 100 < LOSS_PERCENT drop`, both ways, on one host
  link-down            `ip link set eth0 down`, then up, on one host
  partition-majority   the hosts split into a minority and a majority that drop each other
  partition-leader     the leader of the moment and the others drop each other (Jepsen's
                       "isolate the leader": a deposed leader must not answer old reads)
  partition-one-way    A drops everything from B; B still hears A
  partition-bridge     A sees everyone; the others split in two halves that drop each other
  kill                 SIGKILL, held down KILL_HOLD_S, restarted on the same data directory
  pause                SIGSTOP, held, SIGCONT
  wipe                 SIGKILL, data directory emptied, restarted (a new identity) with --join
  disk-full            the disk host's data directory is a small tmpfs: filled, written to, freed

Every client op is recorded: (client, op, key, value, invoke, complete, outcome). A write
answered 200 is ok; refused before it was sent (connection refused) or with a 4xx it
failed; a timeout, a broken connection or a 5xx is unknown (it may take effect later, or
never). After the schedule the clients stop, the mesh settles, and the run checks:

  (a) every key's history is linearizable (linearizability.py: Wing-Gong/Lowe, as porcupine);
  (b) no acknowledged write is lost: a linearizable read of every key on every host answers a
      value whose write did not complete before an acknowledged write of that key was invoked;
      every acknowledged event (POST /v1/events, 201) is in every agent's event log;
  (c) at most one leader per term, from every agent's `raft: elected leader` log lines;
  (d) the event logs are identical on every agent (the same (origin, seq) set) within EVENTS_BOUND_S;
  (e) every SIGKILLed identity is logged `member dead` by every other running agent within
      DEAD_BOUND_S of the kill;
  (f) with the disk full, event writes to that agent (accepted while SQLite still has room
      in its files) are refused within DISK_PROBE_MAX_WRITES with an error body naming the
      cause, the agent keeps running, and a write succeeds again within DISK_RECOVER_BOUND_S
      of freeing the space; a 4xx for it fails (the client's fault: it is 507 `storage_full`);
  and no agent exits unless the schedule killed it, and the mesh settles after every fault.

A failing run prints the seed, the schedule as it ran, the failures, the machine's stalls
and the agents' log tails. Namespaces, processes, mounts and directories are removed at
the end, on failure and on SIGINT/SIGTERM (faults.Resources).

Usage: chaos.py [--seed S] [--hosts N] [--duration S] [--faults LIST] [--keep-logs] [--self-check]
  --self-check forges a stale read and a lost write into the run's history before the
  checks and exits 0 only if (a) and (b) both refuse it.
Environment: MESHD_BIN_DIR (default <repository>/.build/debug), MESHD_FAULTS_DATA_DIR.
"""

import argparse
import atexit
import ctypes
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.parse

import faults as lib
from linearizability import Op, check_register

# Named bounds and sizes. Times in seconds; generous, because the machine may be loaded
# by builds (a stall of the harness is reported with a failure).
HOSTS_DEFAULT = 5
DURATION_DEFAULT_S = 120.0     # faults start while the run is younger than this (each kind runs once at least)
CLIENTS = 3
KEYS = 6                       # keys chaos.k0..; few keys, so each has a long, contended history
EVENT_WRITE_SHARE = 0.15       # share of a client's writes that are events rather than variables
CLIENT_PAUSE_S = 0.05          # between one client's ops
CLIENT_TIMEOUT_S = 10.0        # one client request; the agent answers 504 after 5 s itself
HOLD_MIN_S, HOLD_MAX_S = 6.0, 12.0
GAP_MIN_S, GAP_MAX_S = 2.0, 5.0
DEAD_BOUND_S = 15.0            # SIGKILL to `member dead` on every other agent (lan: ~3-7 s unloaded)
KILL_HOLD_S = DEAD_BOUND_S + 3.0   # a killed agent stays down past the bound, so "dead" is due
LOSS_PERCENT = 20
SETTLE_BOUND_S = 60.0          # heal to every current member alive everywhere and one leader known
FINAL_READ_BOUND_S = 30.0      # per host: its linearizable reads answer within this after settling
EVENTS_BOUND_S = 60.0          # settled to identical event logs
DISK_TMPFS_MIB = 64            # the disk host's data directory
DISK_RECOVER_BOUND_S = 30.0    # space freed to a write on that agent succeeding
DISK_PROBE_TIMEOUT_S = 10.0
DISK_PROBE_VALUE_BYTES = 800      # one probe event's padding (an event's attributes are at most 900 bytes)
DISK_PROBE_MAX_WRITES = 2000   # accepted probes before a full disk counts as not refusing (a WAL page or two each)
POLL_S = 0.3
QUERY_TIMEOUT_S = 5.0          # one harness query (status, members, events)
EVENTS_LIMIT = 10000           # GET /v1/events answers at most this many
HISTORY_LINES_ON_FAILURE = 40  # of a key that is not linearizable
EVENTS_SHOWN = 25              # missing events listed per agent when the event logs differ

FAULT_KINDS = ["loss", "link-down", "partition-majority", "partition-leader", "partition-one-way",
               "partition-bridge", "kill", "pause", "wipe", "disk-full"]

NODE_LINE = re.compile(r"^meshd: node (\w+) name ")
ELECTED = "raft: elected leader"
MEMBER_DEAD = re.compile(r"\] member dead\s*$")


def log(msg):
    lib.log(msg)


# --------------------------------------------------------------------------- HTTP in a namespace

_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_CLONE_NEWNET = 0x40000000
_ROOT_NET = os.open("/proc/self/ns/net", os.O_RDONLY)


def socket_in(ns):
    """A TCP socket of namespace `ns`: this thread enters the namespace (setns(2) acts on
    the calling thread only), makes the socket and comes back. A socket keeps the namespace
    it was made in, so the clients reach every agent's loopback API from this process
    without a process start per request."""
    fd = os.open("/var/run/netns/" + ns, os.O_RDONLY)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into %s" % ns)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            if _libc.setns(_ROOT_NET, _CLONE_NEWNET) != 0:
                # A thread left in another namespace would make every later socket there.
                os.write(2, b"chaos.py: cannot return to the root network namespace\n")
                os._exit(3)
    finally:
        os.close(fd)


class NotSent(Exception):
    """The request never reached the agent (no connection): it cannot have taken effect."""


def api(ns, method, path, body=None, timeout=QUERY_TIMEOUT_S):
    """(status, decoded JSON or text) of one request to the agent's API in `ns`. Raises
    NotSent when no connection was made, OSError or HTTPException after."""
    s = socket_in(ns)
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", lib.API_PORT))
    except OSError as e:
        s.close()
        raise NotSent(str(e))
    conn = http.client.HTTPConnection("127.0.0.1", lib.API_PORT, timeout=timeout)
    conn.sock = s
    try:
        data = None if body is None else json.dumps(body)
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
    finally:
        conn.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def var_path(key):
    return "/v1/vars/" + urllib.parse.quote(key, safe="")


# --------------------------------------------------------------------------- agents

class ChaosAgent(lib.Agent):
    """faults.Agent whose log is appended to (a restart keeps the earlier lines) and whose
    stop first resumes a paused process."""

    def _read(self):
        with open(self.log_path, "a") as f:
            for raw in self.proc.stdout:
                text = raw.decode("utf-8", "replace").rstrip("\n")
                now = time.monotonic()
                with self.lines_lock:
                    self.lines.append((now, text))
                f.write(text + "\n")
                f.flush()

    def signal(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self):
        if self.alive_process():
            self.signal(signal.SIGCONT)
        super().stop()

    def node_id(self):
        """The 16-hex-digit id this incarnation logged at start, or None yet."""
        for _, text in self.snapshot_lines()[:10]:
            m = NODE_LINE.match(text)
            if m:
                return m.group(1)[:16]
        return None


class ChaosMesh(lib.Mesh):
    """faults.Mesh with restartable agents: `incarnations[host]` keeps every process a
    host ran (their log lines are checked), `agents[host]` the current one; `up` the hosts
    whose process the schedule has not taken down."""

    def __init__(self, hosts, workdir, disk_host):
        super().__init__("chaos", hosts, workdir)
        self.disk_host = disk_host
        self.incarnations = {}
        self.up = set()
        self.up_lock = threading.Lock()

    def data_dir(self, host):
        return os.path.join(self.data_root, host)

    def start(self):
        self.net.build()
        _, key, _ = lib.run_cmd([lib.MESHCTL, "keygen"])
        with open(self.key_file, "w") as f:
            f.write(key)
        os.chmod(self.key_file, 0o600)
        if self.disk_host:
            d = self.data_dir(self.disk_host)
            os.makedirs(d)
            lib.run_cmd(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % DISK_TMPFS_MIB, "chaosdisk", d])
            with lib.RESOURCES.lock:
                lib.RESOURCES.mounts.append(d)
        for n in self.names:
            self.launch(n, None if n == self.names[0] else self.names[0])

    def launch(self, host, join_host):
        join = None if join_host is None else "%s:%d" % (self.net.addr[join_host], lib.MESH_PORT)
        a = ChaosAgent(self.net, host, self.data_dir(host), os.path.join(self.log_dir, host + ".log"),
                       self.key_file, join)
        a.start()
        self.agents[host] = a
        self.incarnations.setdefault(host, []).append(a)
        self.run_queue_start[host] = a.run_queue_wait_s() or 0
        with self.up_lock:
            self.up.add(host)
        return a

    def up_hosts(self):
        with self.up_lock:
            return sorted(self.up)

    def take_down(self, host):
        with self.up_lock:
            self.up.discard(host)

    def exited(self):
        """Hosts the schedule has up whose process exited."""
        return [h for h in self.up_hosts() if not self.agents[h].alive_process()]

    def current_ids(self):
        return {h: self.agents[h].node_id() for h in self.up_hosts()}

    def settled(self):
        """(True, "") when every up agent sees every up agent's current identity alive and
        all name the same leader; else (False, what was last seen)."""
        ids = self.current_ids()
        if None in ids.values():
            return False, "an agent has not logged its id yet: %s" % ids
        leaders, problems = {}, []
        for h in self.up_hosts():
            try:
                _, members = api(self.net.ns[h], "GET", "/v1/members")
                _, status = api(self.net.ns[h], "GET", "/v1/status")
            except (NotSent, OSError, http.client.HTTPException) as e:
                problems.append("%s: no answer (%s)" % (h, e))
                continue
            seen = {m["id"][:16]: m["status"] for m in members} if isinstance(members, list) else {}
            bad = ["%s=%s" % (o, seen.get(i, "absent")) for o, i in ids.items() if seen.get(i) != "alive"]
            if bad:
                problems.append("%s sees %s" % (h, ", ".join(bad)))
            leaders[h] = status.get("leader") if isinstance(status, dict) else None
        if len(set(leaders.values())) != 1 or None in leaders.values():
            problems.append("leaders %s" % leaders)
        return not problems, "; ".join(problems)

    def leader_name(self):
        """The host the first answering agent names as leader (the mesh has settled)."""
        for h in self.up_hosts():
            try:
                _, status = api(self.net.ns[h], "GET", "/v1/status")
            except (NotSent, OSError, http.client.HTTPException):
                continue
            leader = status.get("leader") if isinstance(status, dict) else None
            ids = {i: n for n, i in self.current_ids().items()}
            if leader and leader[:16] in ids:
                return ids[leader[:16]]
            if leader in self.names:
                return leader
        raise lib.CheckFailed("no agent names a leader that is a current member")

    def wait_settled(self, bound_s):
        """Seconds until settled, or raises CheckFailed with the last view."""
        t0 = time.monotonic()
        while True:
            ok, last = self.settled()
            if ok:
                return time.monotonic() - t0
            if time.monotonic() > t0 + bound_s:
                raise lib.CheckFailed("the mesh did not settle within %.0f s: %s" % (bound_s, last))
            time.sleep(POLL_S)

    def log_tails(self):
        parts = []
        for n in self.names:
            a = self.agents[n]
            parts.append("---- %s (%s, %d incarnations) last %d lines ----"
                         % (n, a.log_path, len(self.incarnations[n]), lib.LOG_TAIL_LINES))
            parts.extend("  " + line for line in a.tail())
        return "\n".join(parts)


# --------------------------------------------------------------------------- schedule

class Step:
    """One fault of the schedule: its kind, its targets in words, how long it is held, the
    gap after it settles, and the nftables drops it makes ({host: [source hosts]})."""

    def __init__(self, kind, hold_s, gap_s, host=None, drops=None, text=""):
        self.kind, self.hold_s, self.gap_s, self.host = kind, hold_s, gap_s, host
        self.drops = drops or {}
        self.text = text
        self.started = self.settled_in = None

    def __str__(self):
        when = "" if self.started is None else "t+%.1fs " % self.started
        tail = "" if self.settled_in is None else ", settled %.1f s after the heal" % self.settled_in
        return "%s%s %s, held %.1f s%s" % (when, self.kind, self.text, self.hold_s, tail)


def draw_step(rng, kind, names, disk_host):
    hold = rng.uniform(HOLD_MIN_S, HOLD_MAX_S)
    gap = rng.uniform(GAP_MIN_S, GAP_MAX_S)
    if kind in ("kill", "wipe"):
        hold = max(hold, KILL_HOLD_S)
    if kind == "disk-full":
        return Step(kind, hold, gap, host=disk_host, text="on %s (tmpfs %d MiB)" % (disk_host, DISK_TMPFS_MIB))
    if kind == "partition-leader":
        return Step(kind, hold, gap, text="(the leader when it starts) | the others")
    if kind in ("loss", "link-down", "kill", "pause", "wipe"):
        host = rng.choice(names)
        text = "on %s" % host + (" (%d%% of packets each way)" % LOSS_PERCENT if kind == "loss" else "")
        return Step(kind, hold, gap, host=host, text=text)
    hosts = list(names)
    rng.shuffle(hosts)
    if kind == "partition-majority":
        minority, majority = hosts[:(len(hosts) - 1) // 2], hosts[(len(hosts) - 1) // 2:]
        drops = {h: majority for h in minority}
        drops.update({h: minority for h in majority})
        return Step(kind, hold, gap, drops=drops, text="%s | %s" % (",".join(sorted(minority)), ",".join(sorted(majority))))
    if kind == "partition-one-way":
        a, b = hosts[0], hosts[1]
        return Step(kind, hold, gap, drops={a: [b]}, text="%s drops all from %s" % (a, b))
    if kind == "partition-bridge":
        bridge, rest = hosts[0], hosts[1:]
        half = len(rest) // 2
        left, right = rest[:half], rest[half:]
        drops = {h: right for h in left}
        drops.update({h: left for h in right})
        return Step(kind, hold, gap, drops=drops, text="%s | %s, both see %s"
                    % (",".join(sorted(left)), ",".join(sorted(right)), bridge))
    raise ValueError(kind)


def schedule(rng, kinds, names, disk_host):
    """Steps forever, drawn from `rng`: each kind once in a shuffled order, then again."""
    while True:
        cycle = list(kinds)
        rng.shuffle(cycle)
        for kind in cycle:
            yield draw_step(rng, kind, names, disk_host)


# --------------------------------------------------------------------------- the run

class Run:
    def __init__(self, mesh, seed, keys):
        self.mesh = mesh
        self.seed = seed
        self.keys = keys
        self.t0 = time.monotonic()
        self.history = []        # dicts: client, op, key, value, invoke, complete, outcome, detail
        self.history_lock = threading.Lock()
        self.acked_events = []   # (origin, seq, value, "host at t+S")
        self.steps = []
        self.kills = []          # (monotonic time, host, id16)
        self.wiped_ids = set()   # id16 of identities whose data directory was emptied
        self.disk_checks = []    # (step, text) per disk-full fault: what was seen
        self.failures = []
        self.findings = set()    # worth a look, not failed
        self.stop_clients = threading.Event()

    def fail(self, msg):
        self.failures.append(msg)
        log("  check failed: %s" % msg)

    def rel(self, t):
        return t - self.t0

    def record(self, **op):
        with self.history_lock:
            self.history.append(op)


class Client(threading.Thread):
    """Writes unique values and reads them back on random keys through random up agents."""

    def __init__(self, run, index):
        super().__init__(daemon=True)
        self.run_ = run
        self.name_ = "c%d" % index
        self.rng = random.Random("%s-%s" % (run.seed, index))
        self.seq = 0

    def run(self):
        run = self.run_
        while not run.stop_clients.is_set():
            hosts = run.mesh.up_hosts()
            if not hosts:
                time.sleep(POLL_S)
                continue
            host = self.rng.choice(hosts)
            key = self.rng.choice(run.keys)
            if self.rng.random() < 0.5:
                self.seq += 1
                value = "%s-%d" % (self.name_, self.seq)
                if self.rng.random() < EVENT_WRITE_SHARE:
                    self.send_event(host, value)
                else:
                    self.write(host, key, value)
            else:
                self.read(host, key)
            time.sleep(CLIENT_PAUSE_S)

    def write(self, host, key, value):
        invoke = time.monotonic()
        try:
            status, body = api(self.run_.mesh.net.ns[host], "PUT", var_path(key), {"value": value},
                               timeout=CLIENT_TIMEOUT_S)
            outcome = "ok" if status == 200 else ("fail" if 400 <= status < 500 else "unknown")
            detail = "%d %s" % (status, body if status != 200 else "")
        except NotSent as e:
            outcome, detail = "fail", "not sent: %s" % e
        except (OSError, http.client.HTTPException) as e:
            outcome, detail = "unknown", "%s: %s" % (type(e).__name__, e)
        self.run_.record(client=self.name_, host=host, op="w", key=key, value=value, invoke=invoke,
                         complete=time.monotonic(), outcome=outcome, detail=detail)

    def read(self, host, key):
        invoke = time.monotonic()
        outcome, value, detail = "fail", None, ""
        try:
            status, body = api(self.run_.mesh.net.ns[host], "GET", var_path(key), timeout=CLIENT_TIMEOUT_S)
            if status == 200:
                outcome = "ok"
                value = next((v["value"] for v in body["vars"] if v["key"] == key), None)
            elif status == 404 and isinstance(body, dict) and body.get("error") == "not_found":
                outcome = "ok"
            else:
                detail = "%d %s" % (status, body)
        except (NotSent, OSError, http.client.HTTPException) as e:
            detail = "%s: %s" % (type(e).__name__, e)
        self.run_.record(client=self.name_, host=host, op="r", key=key, value=value, invoke=invoke,
                         complete=time.monotonic(), outcome=outcome, detail=detail)

    def send_event(self, host, value):
        try:
            status, body = api(self.run_.mesh.net.ns[host], "POST", "/v1/events",
                               {"kind": "chaos.write", "attributes": {"value": value}}, timeout=CLIENT_TIMEOUT_S)
            if status == 201:
                with self.run_.history_lock:
                    self.run_.acked_events.append((body["origin"], body["seq"], value, "%s at t+%.1fs" % (
                        host, self.run_.rel(time.monotonic()))))
        except (NotSent, OSError, http.client.HTTPException):
            pass


# --------------------------------------------------------------------------- faults

def nft_drops(mesh, host, sources):
    addrs = ", ".join(mesh.net.addr[s] for s in sources)
    mesh.net.nft_apply(host, "table inet chaos {\n  chain in { type filter hook input priority 0; policy accept;\n"
                             "    ip saddr { %s } drop\n  }\n}\n" % addrs)


def nft_loss(mesh, host):
    dev = mesh.net.dev
    mesh.net.nft_apply(host, "table inet chaos {\n"
                             "  chain in { type filter hook input priority 0; policy accept;\n"
                             "    iifname \"%s\" numgen random mod 100 < %d drop\n  }\n"
                             "  chain out { type filter hook output priority 0; policy accept;\n"
                             "    oifname \"%s\" numgen random mod 100 < %d drop\n  }\n}\n"
                       % (dev, LOSS_PERCENT, dev, LOSS_PERCENT))


def nft_clear(mesh, host):
    lib.run_cmd(["ip", "netns", "exec", mesh.net.ns[host], "nft", "delete", "table", "inet", "chaos"], check=False)


def kill(run, host):
    mesh = run.mesh
    a = mesh.agents[host]
    mesh.take_down(host)
    run.kills.append((time.monotonic(), host, a.node_id()))
    a.signal(signal.SIGKILL)
    a.proc.wait()


def empty_dir(path):
    for name in os.listdir(path):
        p = os.path.join(path, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)


def fill_disk(path):
    """Writes a filler file until the file system is full; returns its path."""
    filler = os.path.join(path, "chaos-filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096):       # MiBs, then the last partial MiB
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def probe_disk_write(run, host):
    """(answer text, refused, clear) of one event write of DISK_PROBE_VALUE_BYTES to the
    agent: `refused` for an error status, `clear` when it is the API's error shape
    naming the cause. An accepted write is recorded, so (b) checks it was kept."""
    try:
        status, body = api(run.mesh.net.ns[host], "POST", "/v1/events",
                           {"kind": "chaos.disk", "attributes": {"pad": "x" * DISK_PROBE_VALUE_BYTES}},
                           timeout=DISK_PROBE_TIMEOUT_S)
    except (NotSent, OSError, http.client.HTTPException) as e:
        return "no answer (%s: %s)" % (type(e).__name__, e), True, False
    if status < 400:
        if status == 201:
            with run.history_lock:
                run.acked_events.append((body["origin"], body["seq"], "disk probe", "%s at t+%.1fs" % (
                    host, run.rel(time.monotonic()))))
        return "%d" % status, False, True
    detail = json.dumps(body) if isinstance(body, dict) else str(body)
    clear = isinstance(body, dict) and bool(body.get("error")) and bool(re.search(r"space|full|disk", detail, re.I))
    return "%d %s" % (status, detail), True, clear


def run_step(run, step):
    """Applies, holds and heals one fault; records what its checks need."""
    mesh = run.mesh
    h = step.host
    if step.kind == "partition-leader":
        leader = mesh.leader_name()
        others = [x for x in mesh.names if x != leader]
        step.drops = {leader: others}
        step.drops.update({x: [leader] for x in others})
        step.text = "%s (the leader) | %s" % (leader, ",".join(others))
    step.started = run.rel(time.monotonic())
    log("fault %d: %s" % (len(run.steps), step))
    end = time.monotonic() + step.hold_s
    if step.kind == "loss":
        nft_loss(mesh, h)
    elif step.kind == "link-down":
        mesh.net.ip(h, "link", "set", mesh.net.dev, "down")
    elif step.drops:
        for host, sources in step.drops.items():
            nft_drops(mesh, host, sources)
    elif step.kind in ("kill", "wipe"):
        kill(run, h)
    elif step.kind == "pause":
        mesh.agents[h].signal(signal.SIGSTOP)
    elif step.kind == "disk-full":
        filler = fill_disk(mesh.data_dir(h))
        # Space inside files the agent already has (SQLite's WAL) takes some writes yet:
        # write until the first refusal, then once a second for the rest of the hold.
        accepted, refusals = 0, []
        while time.monotonic() < end or (not refusals and accepted < DISK_PROBE_MAX_WRITES):
            text, refused, clear = probe_disk_write(run, h)
            if refused:
                refusals.append(text)
                if not clear:
                    run.fail("disk-full on %s: a refused write did not name the cause: %s" % (h, text))
                    break
            else:
                accepted += 1
            if refusals:
                time.sleep(1.0)
            elif accepted >= DISK_PROBE_MAX_WRITES:
                break
        if not refusals:
            run.fail("disk-full on %s: %d writes of %d bytes were all accepted on a full disk"
                     % (h, accepted, DISK_PROBE_VALUE_BYTES))
        if not mesh.agents[h].alive_process():
            run.fail("disk-full on %s: the agent exited (code %s) while its disk was full"
                     % (h, mesh.agents[h].proc.returncode))
        run.disk_checks.append("%s: %d writes accepted, then %d refused, the first: %s"
                               % (h, accepted, len(refusals), refusals[0] if refusals else "-"))
        client_blamed = sorted({r.split()[0] for r in refusals if r[:1] == "4"})
        if client_blamed:
            # A full disk is the server's condition: 507 Insufficient Storage (issue 21).
            run.fail("disk-full on %s: a write on a full disk answers %s (the client's fault) rather than 507"
                     % (h, "/".join(client_blamed)))
    while time.monotonic() < end:
        time.sleep(0.2)
    # The heal.
    if step.kind == "loss" or step.drops:
        for host in ([h] if step.kind == "loss" else list(step.drops)):
            nft_clear(mesh, host)
    elif step.kind == "link-down":
        mesh.net.ip(h, "link", "set", mesh.net.dev, "up")
    elif step.kind == "kill":
        # The arguments of its first start: h1 founded the mesh and has no --join.
        mesh.launch(h, None if h == mesh.names[0] else mesh.names[0])
    elif step.kind == "wipe":
        run.wiped_ids.add(mesh.agents[h].node_id())
        empty_dir(mesh.data_dir(h))
        mesh.launch(h, next(x for x in mesh.up_hosts() if x != h))
    elif step.kind == "pause":
        mesh.agents[h].signal(signal.SIGCONT)
    elif step.kind == "disk-full":
        os.unlink(filler)
        # What the clients' variable writes through that agent answered meanwhile.
        t_start = run.t0 + step.started
        with run.history_lock:
            answers = {}
            for e in run.history:
                if e["op"] == "w" and e["host"] == h and e["invoke"] >= t_start:
                    k = e["outcome"] if e["outcome"] == "ok" else e["detail"][:90]
                    answers[k] = answers.get(k, 0) + 1
        run.disk_checks[-1] += "; variable writes through it meanwhile: %s" % (
            "; ".join("%s x%d" % (k, n) for k, n in sorted(answers.items())) or "none")
        t_free = time.monotonic()
        while True:
            try:
                status, body = api(mesh.net.ns[h], "POST", "/v1/events", {"kind": "chaos.disk", "attributes": {}},
                                   timeout=DISK_PROBE_TIMEOUT_S)
            except (NotSent, OSError, http.client.HTTPException) as e:
                status, body = None, "%s: %s" % (type(e).__name__, e)
            if status == 201:
                run.disk_checks[-1] += "; a write succeeded %.1f s after the space was freed" % (time.monotonic() - t_free)
                break
            if time.monotonic() > t_free + DISK_RECOVER_BOUND_S:
                run.fail("disk-full on %s: no write succeeded within %.0f s of freeing the space; last answer %s %s"
                         % (h, DISK_RECOVER_BOUND_S, status, body))
                break
            time.sleep(POLL_S)


# --------------------------------------------------------------------------- checks

def to_op(entry, t0):
    """The checker's op, its times in seconds since the schedule began (as the run prints them)."""
    complete = entry["complete"] - t0 if entry["outcome"] == "ok" else math.inf
    return Op(entry["op"], entry["value"], entry["invoke"] - t0, complete, entry["client"])


def check_linearizable(run, final_reads):
    """(a): every key's history, final reads included."""
    for key in run.keys:
        entries = [e for e in run.history + final_reads if e["key"] == key
                   and (e["outcome"] == "ok" or (e["op"] == "w" and e["outcome"] == "unknown"))]
        t = time.monotonic()
        verdict = check_register([to_op(e, run.t0) for e in entries])
        log("  %s: %d ops (%d writes acknowledged, %d unknown), %s in %d steps, %.2f s"
            % (key, len(entries), sum(e["op"] == "w" and e["outcome"] == "ok" for e in entries),
               sum(e["outcome"] == "unknown" for e in entries), "linearizable" if verdict.ok else "NOT linearizable",
               verdict.steps, time.monotonic() - t))
        if not verdict.ok:
            lines = ["%s %s %s(%r) on %s [t+%.3f, %s] %s" % (e["client"], e["outcome"], e["op"], e["value"], e["host"],
                                                            run.rel(e["invoke"]), "t+%.3f" % run.rel(e["complete"]),
                                                            e.get("detail", "")[:80])
                     for e in sorted(entries, key=lambda e: e["invoke"])]
            run.fail("(a) key %s is not linearizable: %s; its history (first %d of %d ops):\n    %s"
                     % (key, verdict.reason, min(HISTORY_LINES_ON_FAILURE, len(lines)), len(lines),
                        "\n    ".join(lines[:HISTORY_LINES_ON_FAILURE])))


def final_reads(run):
    """A linearizable read of every key on every host after settling, as history entries."""
    mesh = run.mesh
    out = []
    for h in mesh.names:
        deadline = time.monotonic() + FINAL_READ_BOUND_S
        for key in run.keys:
            while True:
                invoke = time.monotonic()
                try:
                    status, body = api(mesh.net.ns[h], "GET", var_path(key))
                except (NotSent, OSError, http.client.HTTPException) as e:
                    status, body = None, "%s: %s" % (type(e).__name__, e)
                if status in (200, 404):
                    value = None if status == 404 else next(v["value"] for v in body["vars"] if v["key"] == key)
                    out.append(dict(client="final-" + h, host=h, op="r", key=key, value=value, invoke=invoke,
                                    complete=time.monotonic(), outcome="ok", detail=""))
                    break
                if time.monotonic() > deadline:
                    run.fail("(b) %s answered no linearizable read of %s within %.0f s of settling: %s %s"
                             % (h, key, FINAL_READ_BOUND_S, status, body))
                    break
                time.sleep(POLL_S)
    return out


def check_final_reads(run, reads):
    """(b): each final read answers a value whose write did not complete before an
    acknowledged write of that key was invoked (absent only when none was acknowledged)."""
    writes = {(e["key"], e["value"]): e for e in run.history if e["op"] == "w"}
    for read in reads:
        key = read["key"]
        writer = writes.get((key, read["value"]))
        writer_done = writer["complete"] if writer and writer["outcome"] == "ok" else math.inf
        acked = [e for e in run.history if e["op"] == "w" and e["key"] == key and e["outcome"] == "ok"]
        newer = [a for a in acked if writer is None or writer_done < a["invoke"]]
        if newer:
            a = max(newer, key=lambda e: e["complete"])
            run.fail("(b) %s reads %s = %r after the heal, but the write of %r acknowledged at t+%.1fs (by %s) is "
                     "newer: an acknowledged write was lost" % (read["host"], key, read["value"], a["value"],
                                                                 run.rel(a["complete"]), a["host"]))


def check_leaders(run):
    """(c): every `raft: elected leader` line of every incarnation, grouped by term."""
    by_term = {}
    for h, incs in run.mesh.incarnations.items():
        for a in incs:
            for t, text in a.snapshot_lines():
                if ELECTED in text:
                    meta = dict(lib.META.findall(text.split(" [", 1)[0]))
                    by_term.setdefault(meta.get("term"), set()).add(meta.get("leader", h))
    double = {t: sorted(ls) for t, ls in by_term.items() if len(ls) > 1}
    log("  leaders elected in %d terms: %s" % (len(by_term), ", ".join(
        "%s:%s" % (t, run.mesh.resolve(next(iter(ls)))) for t, ls in sorted(by_term.items(), key=lambda x: int(x[0] or 0)))))
    for t, ls in double.items():
        run.fail("(c) term %s has %d leaders: %s" % (t, len(ls), ", ".join(ls)))


def event_ids(run, host):
    status, body = api(run.mesh.net.ns[host], "GET", "/v1/events?limit=%d" % EVENTS_LIMIT)
    if status != 200 or not isinstance(body, list):
        raise OSError("GET /v1/events: %s %s" % (status, str(body)[:200]))
    return {(e["origin"], e["seq"]): "%s %s by %s" % (e["time"], e["kind"], e["node"]) for e in body}


def check_events(run):
    """(d) and the events half of (b)."""
    t0 = time.monotonic()
    last = {}
    while True:
        for h in run.mesh.names:
            try:
                last[h] = event_ids(run, h)
            except (NotSent, OSError, http.client.HTTPException) as e:
                last[h] = None
        sets = [set(s) for s in last.values() if s is not None]
        if len(sets) == len(run.mesh.names) and all(s == sets[0] for s in sets):
            log("  event logs identical on every agent (%d events) %.1f s after settling"
                % (len(sets[0]), time.monotonic() - t0))
            break
        if time.monotonic() > t0 + EVENTS_BOUND_S:
            union = {}
            for s in last.values():
                union.update(s or {})
            run.fail("(d) event logs differ %.0f s after settling: %s" % (EVENTS_BOUND_S, "; ".join(
                "%s %s" % (h, "no answer" if s is None else "%d events, missing %d%s" % (
                    len(s), len(set(union) - set(s)), "".join(
                        "\n    %s/%d %s" % (o[:16], q, union[(o, q)]) for o, q in sorted(set(union) - set(s))[:EVENTS_SHOWN])))
                for h, s in last.items())))
            break
        time.sleep(1.0)
    if any(s is not None and len(s) >= EVENTS_LIMIT for s in last.values()):
        run.fail("(d) an agent answered %d events, the limit: the comparison is incomplete" % EVENTS_LIMIT)
    for h, s in last.items():
        if s is None:
            continue
        # An event is durable on its origin's disk and replicated after the answer: one
        # acknowledged by an identity whose data directory was then emptied may be gone.
        lost = [(o[:16], q, v, by) for o, q, v, by in run.acked_events
                if (o, q) not in s and o[:16] not in run.wiped_ids]
        if lost:
            run.fail("(b) %d acknowledged events are missing on %s, e.g. %s" % (len(lost), h, lost[:3]))
    voided = [(o[:16], q, v, by) for o, q, v, by in run.acked_events if o[:16] in run.wiped_ids
              and any(s is not None and (o, q) not in s for s in last.values())]
    log("  %d acknowledged events checked on every agent%s" % (len(run.acked_events), "" if not voided else
        "; %d acknowledged by an identity whose data directory was wiped before it replicated them (not "
        "counted as lost): %s" % (len(voided), voided[:5])))


def check_kills_seen(run):
    """(e): each killed identity logged `member dead` by every other agent within DEAD_BOUND_S."""
    for t_kill, victim, vid in run.kills:
        if vid is None:
            run.fail("(e) the %s killed at t+%.1fs had not logged its id" % (victim, run.rel(t_kill)))
            continue
        late, times = [], []
        for h, incs in run.mesh.incarnations.items():
            if h == victim:
                continue
            lines = [(t, text) for a in incs for t, text in a.snapshot_lines()]
            seen = [t for t, text in lines if t >= t_kill and MEMBER_DEAD.search(text)
                    and dict(lib.META.findall(text.split(" [", 1)[0])).get("id", "")[:16] == vid]
            first = min(seen) - t_kill if seen else None
            if first is not None:
                times.append(first)
            if first is None or first > DEAD_BOUND_S:
                late.append("%s %s" % (h, "never" if first is None else "after %.1f s" % first))
        if late:
            run.fail("(e) %s (%s) SIGKILLed at t+%.1fs was not logged dead within %.0f s by: %s"
                     % (victim, vid, run.rel(t_kill), DEAD_BOUND_S, ", ".join(late)))
        else:
            log("  kill of %s at t+%.1fs: logged dead by every other agent %.1f-%.1f s after the kill"
                % (victim, run.rel(t_kill), min(times), max(times)))


def forge_history(run, reads):
    """--self-check: what a mesh that lost a write would show. The first key with two
    acknowledged writes gets a read, after both, of the older value; host h1's final read
    of that key answers the older value too (as a replica that lost the newer one would)."""
    for key in run.keys:
        acked = sorted((e for e in run.history if e["key"] == key and e["op"] == "w" and e["outcome"] == "ok"),
                       key=lambda e: e["complete"])
        if len(acked) >= 2 and acked[0]["complete"] < acked[-1]["invoke"]:
            t = acked[-1]["complete"] + 0.001
            run.history.append(dict(client="forged", host="-", op="r", key=key, value=acked[0]["value"], invoke=t,
                                    complete=t + 0.001, outcome="ok", detail="forged by --self-check"))
            read = next(r for r in reads if r["key"] == key)
            read["value"] = acked[0]["value"]
            log("self-check: forged a stale read of %s = %r and the same value in %s's final read"
                % (key, acked[0]["value"], read["host"]))
            return
    raise lib.CheckFailed("self-check: no key has two acknowledged writes one after the other")


# --------------------------------------------------------------------------- main

def summary(run, history):
    ops = {}
    for e in history:
        k = (e["op"], e["outcome"])
        ops[k] = ops.get(k, 0) + 1
    return ", ".join("%s %s %d" % ("writes" if o == "w" else "reads", out, n) for (o, out), n in sorted(ops.items()))


def main():
    parser = argparse.ArgumentParser(description="meshd chaos run on network namespaces (issue 21).")
    parser.add_argument("--seed", type=int, default=None, help="the schedule's seed (default: random, printed)")
    parser.add_argument("--hosts", type=int, default=HOSTS_DEFAULT, help="namespaces, one agent each (3-9)")
    parser.add_argument("--duration", type=float, default=DURATION_DEFAULT_S,
                        help="seconds during which faults start (default %.0f); every kind runs once at least"
                             % DURATION_DEFAULT_S)
    parser.add_argument("--faults", default=",".join(FAULT_KINDS),
                        help="comma-separated fault kinds (default all): " + ",".join(FAULT_KINDS))
    parser.add_argument("--keep-logs", action="store_true", help="keep the logs and the history (path printed)")
    parser.add_argument("--self-check", action="store_true",
                        help="forge a stale read and a lost write into the run's history before the checks, "
                             "and exit 0 only if checks (a) and (b) both fail")
    opts = parser.parse_args()
    kinds = [k for k in opts.faults.split(",") if k]
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown or not kinds:
        parser.error("unknown fault kinds %s; choose from %s" % (unknown, ",".join(FAULT_KINDS)))
    if not 3 <= opts.hosts <= 9:
        parser.error("--hosts must be 3-9")
    for b in (lib.MESHD, lib.MESHCTL):
        if not os.access(b, os.X_OK):
            log("chaos.py: %s not found or not executable (build first, or set MESHD_BIN_DIR)" % b)
            return 2
    if os.geteuid() != 0:
        log("chaos.py: must run as root (it makes network namespaces and mounts)")
        return 2
    seed = opts.seed if opts.seed is not None else random.SystemRandom().randrange(1, 1 << 31)
    rng = random.Random(seed)

    lib.STALLS = lib.StallWatch()
    signal.signal(signal.SIGINT, lib.on_signal)
    signal.signal(signal.SIGTERM, lib.on_signal)
    atexit.register(lib.RESOURCES.release)
    workdir = tempfile.mkdtemp(prefix="meshd-chaos-", dir=lib.DATA_PARENT)
    names = ["h%d" % i for i in range(1, opts.hosts + 1)]
    disk_host = rng.choice(names[1:]) if "disk-full" in kinds else None
    log("meshd chaos: seed %d, %d hosts, faults %s for %.0f s, binaries %s, work dir %s, load %s"
        % (seed, opts.hosts, ",".join(kinds), opts.duration, lib.BIN_DIR, workdir,
           " ".join(open("/proc/loadavg").read().split()[:3])))

    mesh = ChaosMesh(opts.hosts, workdir, disk_host)
    run = Run(mesh, seed, ["chaos.k%d" % i for i in range(KEYS)])
    clients = []
    status = 1
    try:
        try:
            mesh.start()
            log("settled %.1f s after the start" % mesh.wait_settled(lib.START_BOUND_S))
            run.t0 = time.monotonic()
            clients = [Client(run, i) for i in range(1, CLIENTS + 1)]
            for c in clients:
                c.start()
            steps = schedule(rng, kinds, names, disk_host)
            # Every kind at least once (the first cycle), then until the duration is spent.
            while run.rel(time.monotonic()) < opts.duration or len(run.steps) < len(kinds):
                step = next(steps)
                run.steps.append(step)
                run_step(run, step)
                for h in mesh.exited():
                    run.fail("%s exited (code %s) during fault %d, not by the schedule; restarted"
                             % (h, mesh.agents[h].proc.returncode, len(run.steps)))
                    mesh.take_down(h)
                    mesh.launch(h, None if h == names[0] else names[0])
                step.settled_in = mesh.wait_settled(SETTLE_BOUND_S)
                log("  healed; settled %.1f s later" % step.settled_in)
                time.sleep(step.gap_s)
            run.stop_clients.set()
            for c in clients:
                c.join(timeout=CLIENT_TIMEOUT_S + 5)
            log("schedule done at t+%.1fs: %d faults; %s" % (run.rel(time.monotonic()), len(run.steps),
                                                             summary(run, run.history)))
            mesh.wait_settled(SETTLE_BOUND_S)
            log("checks:")
            reads = final_reads(run)
            if opts.self_check:
                forge_history(run, reads)
            check_final_reads(run, reads)
            check_linearizable(run, reads)
            check_leaders(run)
            check_events(run)
            check_kills_seen(run)
            for text in run.disk_checks:
                log("  disk-full %s" % text)
            for h in mesh.exited():
                run.fail("%s exited (code %s), not by the schedule" % (h, mesh.agents[h].proc.returncode))
        except lib.CheckFailed as e:
            run.fail(str(e))
        except RuntimeError as e:
            run.fail("harness: %s" % e)
        finally:
            run.stop_clients.set()
        if opts.keep_logs:
            with open(os.path.join(workdir, "history.json"), "w") as f:
                json.dump({"seed": seed, "t0": run.t0, "history": run.history, "acked_events": run.acked_events}, f)
        elapsed = time.monotonic() - run.t0
        for f in sorted(run.findings):
            log("finding (not a failure): %s" % f)
        if opts.self_check:
            caught = {c for c in ("(a)", "(b)") if any(f.startswith(c) for f in run.failures)}
            log("self-check %s: the checks %s the forged history (%s failed)"
                % ("OK" if len(caught) == 2 else "FAILED", "refused" if len(caught) == 2 else "did not refuse",
                   ", ".join(sorted(caught)) or "none"))
            status = 0 if len(caught) == 2 else 1
        elif run.failures:
            log("")
            log("FAIL: chaos seed %d (%d hosts, faults %s, duration %.0f s) after %.0f s"
                % (seed, opts.hosts, ",".join(kinds), opts.duration, elapsed))
            log("schedule as it ran:")
            for i, s in enumerate(run.steps):
                log("  %d. %s" % (i, s))
            for f in run.failures:
                log("check failed: %s" % f)
            for n in mesh.stall_notes(run.t0):
                log(n)
            log(mesh.log_tails())
            log("rerun: scripts/faults.sh --seed %d --hosts %d --duration %.0f --faults %s"
                % (seed, opts.hosts, opts.duration, ",".join(kinds)))
        else:
            log("PASS: chaos seed %d, %d hosts, %d faults, %.0f s" % (seed, opts.hosts, len(run.steps), elapsed))
            status = 0
    except lib.Interrupted as e:
        log("interrupted (%s): cleaning up; seed %d, schedule so far:" % (e, seed))
        for i, s in enumerate(run.steps):
            log("  %d. %s" % (i, s))
        status = 130
    finally:
        run.stop_clients.set()
        lib.RESOURCES.release()
        if opts.keep_logs:
            log("logs kept in %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
