"""`Mesh`: one agent's HTTP API (docs/openapi.json) as Python calls. Standard library only."""

import json
import os
import shlex
import urllib.error
import urllib.parse
import urllib.request

from .errors import BY_STATUS, MeshError, MeshUnreachable
from .types import Committed, Event, Instance, Member, NodeStats, Status, Var, Why, Workload

DEFAULT_ADDRESS = "127.0.0.1:7601"
# Seconds a request may take; a write answers after its commit, a `ps` after every member
# answered or 3 s passed. Streams (`follow=True`) wait without a bound.
DEFAULT_TIMEOUT_SECONDS = 30


class Mesh:
    """A meshd agent's API, and through it the whole mesh.

    `address` is a URL or `HOST:PORT` (default `$MESH_ADDR`, then 127.0.0.1:7601, as for
    meshctl); `token` a token's secret (default `$MESH_TOKEN`; an API on loopback needs
    none unless the agent runs with `--api-require-token true`); `user` is sent as
    `X-Mesh-User` (recorded in `workload.*` events). Every refusal raises a `MeshError`
    subclass carrying the API's reason and the HTTP status.

    >>> m = Mesh("http://127.0.0.1:7601")
    >>> [x.name for x in m.members()]
    """

    def __init__(self, address=None, token=None, user=None, timeout=DEFAULT_TIMEOUT_SECONDS):
        address = address or os.environ.get("MESH_ADDR") or DEFAULT_ADDRESS
        self.url = (address if "://" in address else "http://" + address).rstrip("/")
        self.token = token if token is not None else os.environ.get("MESH_TOKEN")
        self.user = user if user is not None else os.environ.get("MESH_USER")
        self.timeout = timeout

    def __repr__(self):
        return f"Mesh({self.url!r})"

    # -- membership and status -----------------------------------------------------------

    def members(self):
        """Every member as this agent sees it: a list of `Member`."""
        return [Member.from_json(m) for m in self._json("GET", "/v1/members")]

    def status(self):
        """This agent and the mesh (leader, term, voters, quorum): a `Status`."""
        return Status.from_json(self._json("GET", "/v1/status"))

    # -- workloads -----------------------------------------------------------------------

    def workloads(self, stale=False):
        """Every workload in submission order: a list of `Workload`."""
        return [Workload.from_json(w) for w in self._json("GET", "/v1/workloads", query=_stale(stale))]

    def workload(self, name, stale=False):
        """One workload's spec, placements and pending instances."""
        return Workload.from_json(self._json("GET", "/v1/workloads/" + _segment(name), query=_stale(stale)))

    def why(self, name, instance=None):
        """Every node's verdict for a workload (`meshctl why`): a `Why`."""
        query = {"instance": str(instance)} if instance is not None else None
        return Why.from_json(self._json("GET", f"/v1/workloads/{_segment(name)}/why", query=query))

    def run(self, name, command, count=None, env=None, dir=None, cpu=None, mem=None, constraints=None,
            strategy=None, restart=None, reschedule_after=None, on_heal=None, restart_on_peer_change=None,
            stop_after_disconnect=None, git=None, ref=None):
        """Submits a workload for the scheduler to place and keep running (`meshctl run`).
        `command` is a list (program and arguments) or a string split as a shell would; the
        templates `{{instance}}`, `{{node}}`, `{{name}}`, `{{peers}}` are expanded per
        instance. `git` (and `ref`) name a repository each node fetches into the instance's
        checkout before starting it; `stop_after_disconnect` (seconds) has a node cut off
        from the voters' majority stop the instances. Answers once committed: a `Committed`."""
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        body = {"name": name, "command": argv, "count": count, "env": env, "dir": dir, "cpu": cpu, "mem": mem,
                "constraints": constraints, "strategy": strategy, "restart": restart,
                "reschedule_after": reschedule_after, "on_heal": on_heal, "restart_on_peer_change": restart_on_peer_change,
                "stop_after_disconnect": stop_after_disconnect, "git": git, "ref": ref}
        return Committed.from_json(self._json("POST", "/v1/workloads", body={k: v for k, v in body.items() if v is not None}))

    def scale(self, name, count):
        """A new instance count (0 keeps the spec)."""
        return Committed.from_json(self._json("POST", f"/v1/workloads/{_segment(name)}/scale", body={"count": count}))

    def stop(self, name):
        """Count 0, the spec kept (`scale` brings it back)."""
        return Committed.from_json(self._json("POST", f"/v1/workloads/{_segment(name)}/stop"))

    def restart(self, name):
        """A rolling restart, one instance at a time."""
        return Committed.from_json(self._json("POST", f"/v1/workloads/{_segment(name)}/restart"))

    def rm(self, name):
        """Removes the workload: its instances stop, its spec goes."""
        return Committed.from_json(self._json("DELETE", "/v1/workloads/" + _segment(name)))

    def instances(self, name=None):
        """Instances on every live member (`meshctl ps`), optionally of one workload or
        `NAME.INSTANCE`: a list of `Instance`. A member that did not answer in 3 s is a row
        with `state` "unreachable"."""
        query = {"name": name} if name else None
        return [Instance.from_json(r) for r in self._json("GET", "/v1/instances", query=query)]

    # -- logs, events, variables, statistics -----------------------------------------------

    def logs(self, instance, follow=False, tail=None, stream="stdout", node=None):
        """An instance's output (`NAME` or `NAME.INSTANCE`) from whichever node runs it, as
        an iterator of lines (each with its newline, the last one possibly without). With
        `follow=True` it goes on yielding lines as they are written until you stop
        iterating (`break`, or Ctrl-C in a shell) or the agent goes away."""
        query = {"stream": stream}
        if tail is not None:
            query["tail"] = str(tail)
        if node:
            query["node"] = node
        if follow:
            query["follow"] = "1"
        response = self._open("GET", "/v1/logs/" + _segment(instance), query=query, stream=follow)
        return _lines(response, lambda line: line.decode("utf-8", "replace"))

    def events(self, kind=None, since=None, node=None, limit=None, follow=False):
        """The replicated event log from this agent's copy, oldest first: a list of `Event`
        (`kind` a prefix, `since` a duration such as "90s", "30m", "1h"). With
        `follow=True`, an iterator of the events stored from now on, without end."""
        query = {k: str(v) for k, v in (("kind", kind), ("since", since), ("node", node), ("limit", limit)) if v is not None}
        if follow:
            query["follow"] = "1"
            response = self._open("GET", "/v1/events", query=query, stream=True)
            return _lines(response, lambda line: Event.from_json(json.loads(line)) if line.strip() else None)
        return [Event.from_json(e) for e in self._json("GET", "/v1/events", query=query)]

    def send_event(self, kind, **attributes):
        """Appends a user event (`meshctl event send`); the agent adds `by`. Returns the `Event`."""
        body = {"kind": kind, "attributes": {k: str(v) for k, v in attributes.items()}}
        return Event.from_json(self._json("POST", "/v1/events", body=body))

    def vars(self, prefix="", stale=False):
        """Mesh-wide variables (linearizable unless `stale`): a dict key -> `Var`."""
        query = dict(_stale(stale) or {}, **({"prefix": prefix} if prefix else {}))
        return {v["key"]: Var.from_json(v) for v in self._json("GET", "/v1/vars", query=query)["vars"]}

    def var(self, key, stale=False):
        """One variable's value (a str); raises `NotFound` when it is not set."""
        return self._json("GET", "/v1/vars/" + _segment(key), query=_stale(stale))["vars"][0]["value"]

    def set_var(self, key, value):
        """Sets a variable; answers after commit and apply."""
        return Committed.from_json(self._json("PUT", "/v1/vars/" + _segment(key), body={"value": str(value)}))

    def remove_var(self, key):
        return Committed.from_json(self._json("DELETE", "/v1/vars/" + _segment(key)))

    def stats(self, node=None, since=None):
        """A node's latest statistics sample and recent history (this agent's node unless
        `node` names another member): a `NodeStats`."""
        path = "/v1/stats" + ("/" + _segment(node) if node else "")
        return NodeStats.from_json(self._json("GET", path, query={"since": since} if since else None))

    # -- HTTP ----------------------------------------------------------------------------

    def _json(self, method, path, query=None, body=None):
        with self._open(method, path, query=query, body=body) as response:
            return json.loads(response.read())

    def _open(self, method, path, query=None, body=None, stream=False):
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        if self.user:
            request.add_header("X-Mesh-User", self.user)
        try:
            return urllib.request.urlopen(request, timeout=None if stream else self.timeout)
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                answer = json.loads(raw)
                reason, detail = answer.get("error", "error"), answer.get("detail")
            except ValueError:
                reason, detail = "error", raw.decode("utf-8", "replace").strip() or error.reason
            raise BY_STATUS.get(error.code, MeshError)(error.code, reason, detail, method, path) from None
        except urllib.error.URLError as error:
            raise MeshUnreachable(self.url, error.reason) from None
        except (ConnectionError, TimeoutError) as error:
            raise MeshUnreachable(self.url, error) from None


def _segment(text):
    return urllib.parse.quote(str(text), safe="")


def _stale(stale):
    return {"stale": "1"} if stale else None


def _lines(response, convert):
    """Yields `convert(line)` for each line of a response (skipping None), and closes the
    response when the consumer stops."""
    try:
        for line in iter(response.readline, b""):
            value = convert(line)
            if value is not None:
                yield value
    finally:
        response.close()
