"""Real `meshd` agents on 127.0.0.1 for the Python tests (the OpenAPI contract test and the
Python client's tests): each agent has its own temp data directory and OS-chosen ports, all
share one cluster key, and `stop()` kills what still runs and removes every directory.

The binaries are `.build/debug/` unless `MESHD_TEST_BIN_DIR` names another folder (as for
the Swift end-to-end tests). Waits poll with a deadline and say what they last saw.
"""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# How long an agent may take to print its API banner, and a mesh to form (3 agents on a
# loaded two-core machine), in seconds.
START_TIMEOUT_SECONDS = 60
MESH_TIMEOUT_SECONDS = 60
POLL_INTERVAL_SECONDS = 0.1


def binary(name):
    folder = os.environ.get("MESHD_TEST_BIN_DIR") or os.path.join(ROOT, ".build", "debug")
    path = os.path.join(folder, name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is missing: run `swift build --product {name}` first")
    return path


def wait_for(what, probe, timeout=MESH_TIMEOUT_SECONDS):
    """Polls `probe()` until it returns something true, and returns that; raises with the
    last value seen (or the last error) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Exception as error:  # noqa: BLE001 - the last error is what the failure shows
            last = f"{type(error).__name__}: {error}"
        if time.monotonic() >= deadline:
            raise AssertionError(f"after {timeout} s still waiting for {what}; last seen: {last!r}")
        time.sleep(POLL_INTERVAL_SECONDS)


class Agent:
    """One `meshd` process; its stdout and stderr are kept for banners and failure reports."""

    def __init__(self, name, data_dir, arguments):
        self.name = name
        self.data_dir = data_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith("MESHD_")}
        self.process = subprocess.Popen(
            [binary("meshd"), "--data-dir", data_dir, "--name", name] + arguments,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
        self._out = []
        self._err = []
        self._lock = threading.Lock()
        self._drains = []
        for stream, sink in ((self.process.stdout, self._out), (self.process.stderr, self._err)):
            drain = threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
            drain.start()
            self._drains.append(drain)

    def _drain(self, stream, sink):
        with stream:
            for line in iter(stream.readline, b""):
                with self._lock:
                    sink.append(line.decode("utf-8", "replace"))

    @property
    def stdout(self):
        with self._lock:
            return "".join(self._out)

    @property
    def stderr(self):
        with self._lock:
            return "".join(self._err)

    def _banner_port(self, prefix):
        m = re.search(re.escape(prefix) + r"[\w.\[\]:]*?:(\d+)\s", self.stdout)
        return int(m.group(1)) if m else None

    @property
    def mesh_port(self):
        return self._banner_port("meshd: mesh listening on udp+tcp ")

    @property
    def api_port(self):
        return self._banner_port("meshd: api listening on http://")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.api_port}"

    def wait_serving(self):
        def serving():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.stderr[-3000:]}")
            return self.api_port is not None and self.mesh_port is not None
        wait_for(f"{self.name}'s API banner", serving, timeout=START_TIMEOUT_SECONDS)

    def running(self):
        return self.process.poll() is None

    def kill(self):
        if self.running():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._join_drains()

    def _join_drains(self):
        """The output pipes reach their end once the process is gone (its instances run in
        process groups of their own and do not hold them)."""
        for drain in self._drains:
            drain.join(timeout=5)

    def terminate(self, timeout=30):
        """SIGTERM (the agent stops its instances and leaves), SIGKILL if it takes too long."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        else:
            self.process.wait(timeout=timeout)
        self._join_drains()


class LocalMesh:
    """`count` agents named `prefix0`, `prefix1`, ... joining the first, `local` profile.
    `arguments` maps an agent's index to flags for it alone."""

    def __init__(self, count, prefix="n", arguments=None):
        self.root = tempfile.mkdtemp(prefix="meshd-py-")
        self.key_file = os.path.join(self.root, "cluster.key")
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        self.agents = []
        try:
            for i in range(count):
                flags = ["--bind", "127.0.0.1:0", "--api", "127.0.0.1:0", "--profile", "local",
                         "--cluster-key-file", self.key_file] + list((arguments or {}).get(i, []))
                if self.agents:
                    flags += ["--join", f"127.0.0.1:{self.agents[0].mesh_port}"]
                agent = Agent(f"{prefix}{i}", os.path.join(self.root, f"{prefix}{i}"), flags)
                self.agents.append(agent)
                agent.wait_serving()
        except BaseException:
            self.stop()
            raise

    def __getitem__(self, i):
        return self.agents[i]

    def wait_formed(self, via=0, token=None):
        """Waits until agent `via` sees every agent alive and a leader with a quorum."""
        names = {a.name for a in self.agents}

        def formed():
            members = get_json(self.agents[via].url + "/v1/members", token=token)
            alive = {m["name"] for m in members if m["status"] == "alive"}
            status = get_json(self.agents[via].url + "/v1/status", token=token)
            if alive == names and status["leader"] is not None and status["quorum_reachable"] \
                    and len(status["voters"] or []) == len(self.agents):
                return True
            raise AssertionError(f"alive {sorted(alive)}, leader {status['leader']}, voters {status['voters']}")
        wait_for("every agent alive, a leader and every agent a voter", formed)

    def logs(self):
        return "\n".join(f"--- {a.name} stderr (last lines):\n" + "\n".join(a.stderr.splitlines()[-25:]) for a in self.agents)

    def stop(self):
        for agent in self.agents:
            try:
                agent.terminate(timeout=15)
            except Exception:  # noqa: BLE001 - go on cleaning up the others
                agent.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def get_json(url, token=None, timeout=10):
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())
