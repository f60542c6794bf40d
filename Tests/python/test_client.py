"""The Python client (clients/python, package `meshd`) against a real local mesh: three
agents on 127.0.0.1, the third requiring tokens. Run by scripts/python-test.sh with the
package installed by pip."""

import dataclasses
import json
import os
import socket
import threading
import unittest

import meshd
from meshd import Mesh

from meshharness import ROOT, LocalMesh
from meshharness import wait_for

# Lines a following reader must see from a workload that prints one every 0.2 s.
FOLLOWED_LINES = 3


class ClientTypes(unittest.TestCase):
    def test_dataclasses_have_every_key_of_their_schema(self):
        """A key the API adds shows up here until the client's dataclass has it too."""
        with open(os.path.join(ROOT, "docs", "openapi.json"), encoding="utf-8") as f:
            schemas = json.load(f)["components"]["schemas"]
        pairs = {meshd.Member: "MemberInfo", meshd.Coordinate: "CoordinateInfo", meshd.Status: "StatusInfo",
                 meshd.VoterHealth: "VoterHealth", meshd.Workload: "WorkloadInfo", meshd.Placement: "PlacementInfo",
                 meshd.Pending: "PendingInfo", meshd.Why: "WhyInfo", meshd.Candidate: "CandidateInfo",
                 meshd.Instance: "InstanceRow", meshd.Event: "EventInfo", meshd.Var: "VarInfo",
                 meshd.NodeStats: "NodeStatsInfo", meshd.StatsPoint: "StatsPoint", meshd.Committed: "CommandResult"}
        for cls, schema in pairs.items():
            names = {"is_self" if k == "self" else k for k in schemas[schema]["properties"]}
            self.assertEqual(sorted(f.name for f in dataclasses.fields(cls)), sorted(names), f"{cls.__name__} and {schema}")


class ClientAgainstMesh(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.local = LocalMesh(3, arguments={2: ["--api-require-token", "true"]})
        try:
            cls.local.wait_formed()
        except BaseException:
            cls.local.stop()
            raise
        cls.m = Mesh(cls.local[0].url)

    @classmethod
    def tearDownClass(cls):
        cls.local.stop()

    def test_members_and_status_are_dataclasses(self):
        members = self.m.members()
        self.assertEqual(sorted(x.name for x in members), ["n0", "n1", "n2"])
        self.assertTrue(all(dataclasses.is_dataclass(x) and x.status == "alive" for x in members))
        self.assertEqual([x.name for x in members if x.is_self], ["n0"])
        status = self.m.status()
        self.assertIsInstance(status, meshd.Status)
        self.assertEqual(status.name, "n0")
        self.assertIn(status.leader, ("n0", "n1", "n2"))
        self.assertEqual(sorted(status.voters), ["n0", "n1", "n2"])
        self.assertEqual(sorted(v.name for v in status.voter_health), ["n0", "n1", "n2"])

    def test_workload_lifecycle_and_logs(self):
        m = self.m
        result = m.run("ticker", ["sh", "-c", "i=0; while true; do echo {{name}} line $i; i=$((i+1)); sleep 0.2; done"],
                       count=2, restart="always")
        self.assertGreater(result.index, 0)
        self.assertEqual([w.name for w in m.workloads()], ["ticker"])
        self.assertEqual(m.workload("ticker").count, 2)

        def running(count):
            rows = m.instances("ticker")
            if sorted(r.state for r in rows) != ["running"] * count:
                raise AssertionError(f"ticker: {[(r.id, r.node, r.state) for r in rows]}")
            return rows
        rows = wait_for("2 ticker instances running", lambda: running(2))
        self.assertEqual(sorted(r.id for r in rows), ["ticker.0", "ticker.1"])
        self.assertEqual(len(m.why("ticker").candidates), 3)

        wait_for("ticker.1's first lines", lambda: len(list(m.logs("ticker.1", tail=10))) >= 2)
        self.assertEqual(next(iter(m.logs("ticker.1", tail=1))).split(" line ")[0], "ticker.1")

        # Following: consecutive lines as they are written, until we stop reading.
        lines = []
        for line in m.logs("ticker.0", follow=True, tail=1):
            lines.append(line)
            if len(lines) == FOLLOWED_LINES + 1:
                break
        numbers = [int(line.split(" line ")[1]) for line in lines[1:]]
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + FOLLOWED_LINES)), lines)

        m.scale("ticker", 3)
        wait_for("3 ticker instances running", lambda: running(3))
        m.stop("ticker")
        self.assertEqual(m.workload("ticker").count, 0)
        wait_for("no ticker instance running", lambda: not any(r.state == "running" for r in m.instances("ticker")))
        m.rm("ticker")
        with self.assertRaises(meshd.NotFound) as refused:
            m.workload("ticker")
        self.assertEqual((refused.exception.status, refused.exception.error), (404, "not_found"))
        self.assertIn("no workload ticker", str(refused.exception))

    def test_events(self):
        m = self.m
        sent = m.send_event("demo.hello", colour="blue")
        self.assertEqual(sent.attributes, {"colour": "blue", "by": "local"})
        self.assertEqual([e.kind for e in m.events(kind="demo.hello")], ["demo.hello"])
        self.assertEqual(m.events(kind="demo.", since="1h")[0].node, "n0")

        # A follower sees what is stored after it asked: send until its first event arrives.
        got = {}

        def follow():
            for event in Mesh(self.local[1].url).events(kind="demo.follow", follow=True):
                got["event"] = event
                return
        reader = threading.Thread(target=follow, daemon=True)
        reader.start()

        def delivered():
            m.send_event("demo.follow", n="1")
            reader.join(0.5)
            return not reader.is_alive()
        wait_for("a followed event", delivered)
        self.assertEqual(got["event"].kind, "demo.follow")
        self.assertEqual(got["event"].node, "n0")

    def test_vars(self):
        m = self.m
        m.set_var("py/colour", "green")
        self.assertEqual(Mesh(self.local[1].url).var("py/colour"), "green")
        self.assertEqual({k: v.value for k, v in m.vars(prefix="py/").items()}, {"py/colour": "green"})
        m.remove_var("py/colour")
        with self.assertRaises(meshd.NotFound):
            m.var("py/colour")

    def test_stats(self):
        here = self.m.stats()
        self.assertEqual(here.node, "n0")
        self.assertIsInstance(here.history, list)
        self.assertEqual(self.m.stats("n1", since="5m").node, "n1")

    def test_errors_carry_the_reason_and_status(self):
        with self.assertRaises(meshd.BadRequest) as bad:
            self.m.run("bad", ["echo", "{{nope}}"])
        self.assertEqual(bad.exception.status, 400)
        self.assertIn("nope", bad.exception.detail)
        with self.assertRaises(meshd.Unauthorized) as locked:
            Mesh(self.local[2].url).members()
        self.assertEqual(locked.exception.status, 401)
        self.assertIn("needs a token", str(locked.exception))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free = s.getsockname()[1]
        with self.assertRaises(meshd.MeshUnreachable):
            Mesh(f"127.0.0.1:{free}").status()


if __name__ == "__main__":
    unittest.main()
