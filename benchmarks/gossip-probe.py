#!/usr/bin/env python3
"""What every agent of a mesh sees, for meshd and for Serf, asked the same way.

Run by benchmarks/serf-compare.sh; not meant to be run alone. One client per agent, kept
open for the whole measurement, asks in sweeps (no process spawned per question, so a
sweep of 50 agents takes milliseconds, not seconds):

  meshd  GET /v1/members (HTTP/1.1 keep-alive); POST /v1/events; GET /v1/events?follow=1
  serf   its RPC protocol (msgpack over TCP, as `serf members` / `serf event` speak it):
         handshake, members, event (Coalesce false: delivered at once), stream "user"

Commands (times in seconds; T0 is a `date +%s.%N` taken by the caller):

  ready KIND ADDR                      wait (up to 60 s) until the agent answers
  join KIND N T0FILE TIMEOUT ADDR...   writes the time into T0FILE (the caller then starts the
                                       agents), until every agent sees N alive -> "first last"
  dead KIND VICTIM T0 TIMEOUT ADDR...  until every agent shows VICTIM dead (meshd `dead`,
                                       serf `failed`)                    -> "first last"
  event KIND TIMEOUT ADDR...           every agent follows user events; one is sent through
                                       the first; until every agent has it -> "first last"

"first last" is the time to the first and to the last agent, or "timeout timeout".
"""
import http.client, json, os, socket, struct, sys, threading, time, uuid
from concurrent.futures import ThreadPoolExecutor

SWEEP_PAUSE_S = 0.02      # between sweeps, so that polling stays a small load
SWEEP_WORKERS = 8         # agents asked at once: one slow agent holds up no other's answer
REQUEST_TIMEOUT_S = 10    # a busy agent on a loaded machine can take seconds to answer


# --- msgpack, the subset Serf's RPC uses -------------------------------------------------

def pack(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if 0 <= v < 2 ** 64:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        return b"\xdb" + struct.pack(">I", len(b)) + b
    if isinstance(v, bytes):
        return b"\xc6" + struct.pack(">I", len(v)) + v
    if isinstance(v, dict):
        out = b"\xdf" + struct.pack(">I", len(v))
        for k, x in v.items():
            out += pack(k) + pack(x)
        return out
    raise TypeError(type(v))


def unpack(read):
    """One value from `read(n)`, a blocking reader of exactly n bytes."""
    t = read(1)[0]
    if t <= 0x7f: return t
    if t >= 0xe0: return t - 0x100
    if 0x80 <= t <= 0x8f: return _map(read, t & 0x0f)
    if 0x90 <= t <= 0x9f: return [unpack(read) for _ in range(t & 0x0f)]
    if 0xa0 <= t <= 0xbf: return read(t & 0x1f).decode(errors="replace")
    fixed = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h", 0xd2: ">i",
             0xd3: ">q", 0xca: ">f", 0xcb: ">d"}
    if t in fixed:
        fmt = fixed[t]
        return struct.unpack(fmt, read(struct.calcsize(fmt)))[0]
    if t == 0xc0: return None
    if t == 0xc2: return False
    if t == 0xc3: return True
    lengths = {0xd9: ">B", 0xda: ">H", 0xdb: ">I", 0xc4: ">B", 0xc5: ">H", 0xc6: ">I"}
    if t in lengths:
        fmt = lengths[t]
        data = read(struct.unpack(fmt, read(struct.calcsize(fmt)))[0])
        return data.decode(errors="replace") if t in (0xd9, 0xda, 0xdb) else data
    if t in (0xdc, 0xdd):
        fmt = ">H" if t == 0xdc else ">I"
        return [unpack(read) for _ in range(struct.unpack(fmt, read(struct.calcsize(fmt)))[0])]
    if t in (0xde, 0xdf):
        fmt = ">H" if t == 0xde else ">I"
        return _map(read, struct.unpack(fmt, read(struct.calcsize(fmt)))[0])
    raise ValueError("msgpack type 0x%02x not handled" % t)


def _map(read, n):
    return {unpack(read): unpack(read) for _ in range(n)}


# --- one client per agent ----------------------------------------------------------------

class Meshd:
    dead = "dead"

    def __init__(self, addr):
        self.addr, self.conn = addr, None

    def _call(self, method, path, body=None):
        if self.conn is None:
            host, port = self.addr.split(":")
            self.conn = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT_S)
        try:
            self.conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            r = self.conn.getresponse()
            data = r.read()
            if r.status >= 300:
                raise OSError(f"{method} {path}: HTTP {r.status}")
            return json.loads(data)
        except (OSError, http.client.HTTPException, ValueError):
            self.conn.close(); self.conn = None
            raise

    def members(self):
        """{name: status} as this agent sees it."""
        return {m["name"]: m["status"] for m in self._call("GET", "/v1/members")}

    def send_event(self, token):
        self._call("POST", "/v1/events", json.dumps({"kind": "user.compare", "attributes": {"id": token}}))

    def follow(self, token, on_seen):
        host, port = self.addr.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT_S)
        conn.request("GET", "/v1/events?follow=1&kind=user.compare")
        r = conn.getresponse()
        if r.status != 200:
            raise OSError(f"GET /v1/events?follow=1: HTTP {r.status}")
        conn.sock.settimeout(None)      # the stream is quiet until the event
        return r, lambda: self._read_follow(r, token, on_seen)

    @staticmethod
    def _read_follow(r, token, on_seen):
        for line in iter(r.readline, b""):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("attributes", {}).get("id") == token:
                on_seen()
                return


class Serf:
    dead = "failed"

    def __init__(self, addr):
        self.addr, self.sock, self.seq = addr, None, 0

    def _open(self, timeout):
        host, port = self.addr.split(":")
        s = socket.create_connection((host, int(port)), timeout=REQUEST_TIMEOUT_S)
        s.settimeout(timeout)
        f = s.makefile("rb")

        def read(n):
            data = f.read(n)
            if len(data) < n:
                raise OSError("serf RPC closed")
            return data
        s.sendall(pack({"Command": "handshake", "Seq": 0}) + pack({"Version": 1}))
        self._check(unpack(read))
        return s, read

    @staticmethod
    def _check(header):
        if header.get("Error"):
            raise OSError("serf RPC: " + header["Error"])

    def _call(self, command, body=None, answer=True):
        try:
            if self.sock is None:
                self.sock, self.read = self._open(REQUEST_TIMEOUT_S)
            self.seq += 1
            self.sock.sendall(pack({"Command": command, "Seq": self.seq}) + (pack(body) if body is not None else b""))
            self._check(unpack(self.read))
            return unpack(self.read) if answer else None
        except (OSError, ValueError, IndexError):
            if self.sock is not None:
                self.sock.close()
            self.sock = None
            raise

    def members(self):
        return {m["Name"]: m["Status"] for m in self._call("members")["Members"]}

    def send_event(self, token):
        self._call("event", {"Name": "compare", "Payload": token.encode(), "Coalesce": False}, answer=False)

    def follow(self, token, on_seen):
        s, read = self._open(REQUEST_TIMEOUT_S)
        s.sendall(pack({"Command": "stream", "Seq": 1}) + pack({"Type": "user"}))
        self._check(unpack(read))       # the stream's acknowledgement
        s.settimeout(None)              # the stream is quiet until the event
        return s, lambda: self._read_stream(read, token, on_seen)

    def _read_stream(self, read, token, on_seen):
        while True:
            self._check(unpack(read))
            record = unpack(read)
            if record.get("Name") == "compare" and bytes(record.get("Payload") or b"") == token.encode():
                on_seen()
                return


CLIENTS = {"meshd": Meshd, "serf": Serf}


def sweep_until(clients, done, t0, timeout, describe=None):
    """Sweep `clients` until done(client) holds for each; returns {addr: seconds since t0},
    the time of the answer that showed it. On a timeout, prints describe(client) of each
    agent still short of it to stderr."""
    seen = {}

    def ask(c):
        try:
            return time.time() - t0 if done(c) else None
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            return None
    with ThreadPoolExecutor(max_workers=SWEEP_WORKERS) as pool:
        while len(seen) < len(clients) and time.time() - t0 < timeout:
            pending = [c for c in clients if c.addr not in seen]
            for c, at in zip(pending, pool.map(ask, pending)):
                if at is not None:
                    seen[c.addr] = at
            time.sleep(SWEEP_PAUSE_S)
    if describe and len(seen) < len(clients):
        late = [c for c in clients if c.addr not in seen]
        print(f"{len(late)} of {len(clients)} agents short after {timeout:.0f} s: "
              + ", ".join(f"{c.addr} {_safely(describe, c)}" for c in late[:10]), file=sys.stderr)
    return seen


def _safely(f, c):
    try:
        return f(c)
    except (OSError, ValueError, KeyError, http.client.HTTPException) as e:
        return f"({e.__class__.__name__})"


def report(seen, count):
    if len(seen) < count:
        print("timeout timeout")
    else:
        print("%.3f %.3f" % (min(seen.values()), max(seen.values())))


def main():
    cmd, kind = sys.argv[1], sys.argv[2]
    make = CLIENTS[kind]
    if cmd == "ready":
        c = make(sys.argv[3])
        seen = sweep_until([c], lambda c: bool(c.members()), time.time(), 60)
        sys.exit(0 if seen else f"{kind} agent at {sys.argv[3]} did not answer within 60 s")
    if cmd == "join":
        n, t0file, timeout = int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
        clients = [make(a) for a in sys.argv[6:]]
        t0 = time.time()
        with open(t0file + ".tmp", "w") as f:
            f.write("%.6f\n" % t0)
        os.rename(t0file + ".tmp", t0file)
        alive = lambda c: sum(1 for s in c.members().values() if s == "alive") == n
        count = lambda c: "sees %d alive" % sum(1 for s in c.members().values() if s == "alive")
        report(sweep_until(clients, alive, t0, timeout, count), len(clients))
    elif cmd == "dead":
        victim, t0, timeout = sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
        clients = [make(a) for a in sys.argv[6:]]
        status = lambda c: "shows it " + str(c.members().get(victim))
        report(sweep_until(clients, lambda c: c.members().get(victim) == c.dead, t0, timeout, status), len(clients))
    elif cmd == "event":
        timeout, addrs = float(sys.argv[3]), sys.argv[4:]
        token, seen, lock, t0 = uuid.uuid4().hex[:12], {}, threading.Lock(), [0.0]

        def follow(a):
            def on_seen():
                with lock:
                    seen[a] = time.time() - t0[0]
            try:
                handle, reader = make(a).follow(token, on_seen)
            except (OSError, ValueError, http.client.HTTPException) as e:
                print(f"{a}: cannot follow its events ({e})", file=sys.stderr)
                return None
            threading.Thread(target=lambda: _quietly(reader), daemon=True).start()
            return handle
        with ThreadPoolExecutor(max_workers=SWEEP_WORKERS) as pool:
            streams = [h for h in pool.map(follow, addrs) if h is not None]
        time.sleep(0.5)               # every follower registered before the event exists
        t0[0] = time.time()
        try:
            make(addrs[0]).send_event(token)
        except (OSError, ValueError, http.client.HTTPException) as e:
            print(f"{addrs[0]}: the event was not sent ({e})", file=sys.stderr)
            timeout = 0
        while time.time() < t0[0] + timeout:
            with lock:
                if len(seen) == len(addrs):
                    break
            time.sleep(0.005)
        with lock:
            if 0 < len(seen) < len(addrs):
                late = [a for a in addrs if a not in seen]
                print(f"{len(late)} of {len(addrs)} agents without the event after {timeout:.0f} s: "
                      + ", ".join(late[:10]), file=sys.stderr)
            report(dict(seen), len(addrs))
        for h in streams:
            try:
                h.close()
            except OSError:
                pass
    else:
        sys.exit(f"gossip-probe: unknown command {cmd}")


def _quietly(reader):
    try:
        reader()
    except Exception:       # the stream closed under it at the end: nothing more to see
        pass


if __name__ == "__main__":
    main()
