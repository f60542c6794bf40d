"""scripts/demo.sh: one command starts five agents with the sample workload and prints the
API's URL; `stop` ends every agent it started and removes its folder."""

import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from meshharness import ROOT, binary, get_json, wait_for

DEMO = os.path.join(ROOT, "scripts", "demo.sh")
NODES = 5
# Bound of one demo.sh run: its own waits are 60 s each at most.
DEMO_TIMEOUT_SECONDS = 240


def port_free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_base():
    """A first mesh port whose 5 mesh and 5 API ports are free now."""
    for _ in range(50):
        base = random.randrange(20000, 30000, 100)
        if all(port_free(base + 10 * i + k) for i in range(NODES) for k in (0, 1)):
            return base
    raise AssertionError("no free port range for the demo")


class Demo(unittest.TestCase):
    def test_start_then_stop(self):
        parent = tempfile.mkdtemp(prefix="meshd-demo-test-")
        self.addCleanup(shutil.rmtree, parent, True)
        folder = os.path.join(parent, "demo")
        base = free_base()
        env = dict(os.environ, MESH_DEMO_DIR=folder, MESH_DEMO_PORT=str(base),
                   MESH_BIN_DIR=os.path.dirname(binary("meshctl")))

        def demo(*args):
            return subprocess.run([DEMO, *args], env=env, capture_output=True, text=True, timeout=DEMO_TIMEOUT_SECONDS)

        started = demo()
        try:
            self.assertEqual(started.returncode, 0, started.stdout + started.stderr)
            url = f"http://127.0.0.1:{base + 1}/"
            self.assertIn(f"API of node0: {url}", started.stdout)
            pids = [int(open(os.path.join(folder, f"node{i}.pid")).read()) for i in range(NODES)]
            members = get_json(url + "v1/members")
            self.assertEqual(sorted((m["name"], m["status"]) for m in members),
                             [(f"node{i}", "alive") for i in range(NODES)])
            rows = get_json(url + "v1/instances?name=hello")
            self.assertEqual(sorted((r["instance"], r["state"]) for r in rows),
                             [(str(i), "running") for i in range(NODES)])
            self.assertNotEqual(demo().returncode, 0, "a second start while the demo runs")
        finally:
            stopped = demo("stop")
        self.assertEqual(stopped.returncode, 0, stopped.stdout + stopped.stderr)
        self.assertRegex(stopped.stdout, re.escape(f"stopped {NODES} agents and removed {folder}"))
        self.assertFalse(os.path.exists(folder))
        wait_for("every demo agent gone", lambda: not any(os.path.exists(f"/proc/{pid}") for pid in pids))


if __name__ == "__main__":
    unittest.main()
