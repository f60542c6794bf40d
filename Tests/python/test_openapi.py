"""docs/openapi.json against the agent: the routes it documents are exactly the routes the
code registers, each schema has the keys of the MeshAPI type of its name (required and
nullable as that type encodes them), and real agents (3 on 127.0.0.1) answer every
documented route with a status the document lists and a body its schema accepts. Each route's `x-meshd-role` is
checked against the access control of an agent that requires tokens: a token one role
below is refused with 403, one of that role passes.

Run by scripts/python-test.sh (from scripts/test.sh); needs `jsonschema` and the built
meshd (`MESHD_TEST_BIN_DIR`, default .build/debug).
"""

import base64
import glob
import http.client
import json
import os
import re
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

import jsonschema

from meshharness import ROOT, LocalMesh, wait_for

DOCUMENT = os.path.join(ROOT, "docs", "openapi.json")
METHODS = ("get", "put", "post", "delete", "patch", "head")
ROLES = ("none", "read", "operate", "admin")
# How long a streamed answer (events or logs with follow) may take to send its first line.
STREAM_READ_TIMEOUT_SECONDS = 20


def load_document():
    with open(DOCUMENT, encoding="utf-8") as f:
        return json.load(f)


def registered_routes():
    """Every route the agent registers, as scripts/check-docs.sh finds them: `router.get("/v1/x/:p")`
    in Sources/MeshAgent, written ("GET", "/v1/x/{p}")."""
    routes = set()
    for path in glob.glob(os.path.join(ROOT, "Sources", "MeshAgent", "**", "*.swift"), recursive=True):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in re.finditer(r'\brouter\.(get|post|put|delete|patch|head)\(\s*"([^"]+)"', text):
            routes.add((m.group(1).upper(), re.sub(r":(\w+)", r"{\1}", m.group(2))))
    return routes


def split_top(text):
    """`text` split at commas outside brackets (`a: [String: Int], b: Int?`)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[(<"
        depth -= ch in "])>"
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [p for p in parts + [current.strip()] if p]


def swift_api_types():
    """The Codable structs of Sources/MeshAPI: name -> (JSON key -> optional?, custom encoder?).
    A key is the CodingKeys raw value when there is one, else the property's name; a
    synthesized encoder leaves out nil values, a custom one (`encode(to:)`) writes null."""
    types = {}
    for path in glob.glob(os.path.join(ROOT, "Sources", "MeshAPI", "*.swift")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in re.finditer(r"^public struct (\w+): ([^{]*)\{(.*?)^\}", text, re.S | re.M):
            name, conformances, body = m.groups()
            if "Codable" not in conformances:
                continue
            properties = {}
            for line in re.findall(r"^    public var (.+)$", body, re.M):
                if "{" in line:
                    continue   # a computed property
                for declaration in split_top(line.split("=")[0]):
                    prop, kind = (x.strip() for x in declaration.split(":", 1))
                    properties[prop] = kind.endswith("?")
            keys = {}
            coding = re.search(r"enum CodingKeys: String, CodingKey \{(.*?)\}", body, re.S)
            if coding:
                for case in split_top(",".join(re.findall(r"case (.+)", coding.group(1)))):
                    prop, _, raw = case.partition("=")
                    keys[prop.strip()] = raw.strip().strip('"') or prop.strip()
            fields = {keys.get(p, p): optional for p, optional in properties.items()}
            types[name] = (fields, "func encode(to encoder" in body)
    return types


def documented_routes(doc):
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item if method in METHODS}


def sorted_object(what):
    """A `json.loads` hook that refuses an object whose keys are not sorted (docs/INTERFACES.md:
    the API's keys are sorted, so the same state prints the same bytes)."""
    def hook(pairs):
        keys = [k for k, _ in pairs]
        if keys != sorted(keys):
            raise AssertionError(f"{what}: keys not sorted: {keys}")
        return dict(pairs)
    return hook


class Contract:
    """Calls routes of real agents and checks each answer against the document; remembers
    which statuses each route answered."""

    def __init__(self, doc):
        self.doc = doc
        self.seen = {}          # ("GET", "/v1/x/{p}") -> set of statuses

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            target = self.doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def validate(self, schema, value, what):
        rooted = dict(schema, components=self.doc["components"])
        errors = sorted(jsonschema.Draft202012Validator(rooted).iter_errors(value), key=lambda e: list(e.path))
        if errors:
            details = "; ".join(f"at {'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])
            raise AssertionError(f"{what}: does not match docs/openapi.json: {details}\nbody: {json.dumps(value)[:2000]}")

    def operation(self, method, template):
        item = self.doc["paths"].get(template)
        if item is None or method.lower() not in item:
            raise AssertionError(f"{method} {template} is not in docs/openapi.json")
        return item[method.lower()]

    def parameters(self, template, method):
        """The operation's parameters (the path's and its own) by (in, name)."""
        item = self.doc["paths"][template]
        found = {}
        for p in item.get("parameters", []) + item[method.lower()].get("parameters", []):
            p = self.resolve(p)
            found[(p["in"], p["name"])] = p
        return found

    def call(self, agent, method, template, params=None, query=None, body=None, token=None, expect=None,
             stream=False, raw_body=None):
        """Sends one request and checks the answer; returns (status, body) with the body parsed
        by its content type (a streamed answer: its first line or chunk)."""
        what = f"{method} {template}"
        op = self.operation(method, template)
        path = template
        for name, value in (params or {}).items():
            path = path.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
        if query:
            undocumented = sorted(set(query) - {n for (where, n) in self.parameters(template, method) if where == "query"})
            if undocumented:
                raise AssertionError(f"{what}: query parameters {undocumented} are not in docs/openapi.json")
            path += "?" + urllib.parse.urlencode(query)
        data = None
        if body is not None:
            request_schema = self.resolve(op.get("requestBody", {})).get("content", {}).get("application/json", {}).get("schema")
            if request_schema is None:
                raise AssertionError(f"{what}: sends a body the document does not describe")
            self.validate(request_schema, body, f"{what} request body")
            data = json.dumps(body).encode()
        elif raw_body is not None:
            data = raw_body
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection = http.client.HTTPConnection("127.0.0.1", agent.api_port, timeout=STREAM_READ_TIMEOUT_SECONDS if stream else 30)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            status = response.status
            content_type = (response.getheader("Content-Type") or "").split(";")[0].strip()
            if stream and status == 200:
                payload = response.readline() if content_type == "application/x-ndjson" else response.read1(65536)
            else:
                payload = response.read()
        finally:
            connection.close()
        self.seen.setdefault((method, template), set()).add(status)

        responses = op["responses"]
        if str(status) not in responses:
            raise AssertionError(f"{what} ({path}) answered {status}, which docs/openapi.json does not list "
                                 f"({', '.join(sorted(responses))}): {payload[:500]!r}")
        content = self.resolve(responses[str(status)]).get("content", {})
        if content_type not in content:
            raise AssertionError(f"{what} answered {status} as {content_type!r}; the document has {sorted(content)}")
        schema = content[content_type]["schema"]
        if content_type == "application/json":
            parsed = json.loads(payload, object_pairs_hook=sorted_object(what))
        elif content_type == "application/x-ndjson":
            parsed = [json.loads(line, object_pairs_hook=sorted_object(what)) for line in payload.splitlines() if line.strip()]
            for i, line in enumerate(parsed):
                self.validate(schema, line, f"{what} ({status}) line {i + 1}")
            schema = None
        else:
            parsed = payload.decode("utf-8", "replace")
        if schema is not None:
            self.validate(schema, parsed, f"{what} ({path}) {status}")
        if expect is not None and status not in (expect if isinstance(expect, tuple) else (expect,)):
            raise AssertionError(f"{what} ({path}) answered {status}, expected {expect}: {parsed!r:.800}")
        return status, parsed


class OpenAPIDocument(unittest.TestCase):
    def test_document_routes_are_the_registered_routes(self):
        doc = load_document()
        code, documented = registered_routes(), documented_routes(doc)
        self.assertTrue(code, "no router registrations found in Sources/MeshAgent (the test's pattern needs a fix)")
        self.assertEqual(sorted(code - documented), [], "routes the agent registers that docs/openapi.json lacks")
        self.assertEqual(sorted(documented - code), [], "routes in docs/openapi.json that the agent does not register")

    def test_every_operation_names_its_role_and_schemas_are_valid(self):
        doc = load_document()
        for path, item in doc["paths"].items():
            for method, op in item.items():
                if method not in METHODS:
                    continue
                self.assertIn(op.get("x-meshd-role"), ROLES, f"{method.upper()} {path}: x-meshd-role")
                in_path = {n for (where, n) in Contract(doc).parameters(path, method) if where == "path"}
                self.assertEqual(in_path, set(re.findall(r"{(\w+)}", path)), f"{method.upper()} {path}: path parameters")
                self.assertTrue(any(s.startswith("2") for s in op["responses"]), f"{method.upper()} {path}: no success answer")
        for name, schema in doc["components"]["schemas"].items():
            jsonschema.Draft202012Validator.check_schema(schema)


    def test_schemas_are_the_codable_types_of_meshapi(self):
        """Each schema has the keys of the Swift type of its name: a non-optional property is
        required; an optional one is required and nullable when the type's own encoder writes
        null, else neither (the synthesized encoder leaves it out)."""
        schemas, types = load_document()["components"]["schemas"], swift_api_types()
        self.assertEqual(sorted(set(types) - set(schemas)), [], "MeshAPI types without a schema")
        self.assertEqual(sorted(set(schemas) - set(types)), [], "schemas without a MeshAPI type")
        for name, (fields, writes_null) in types.items():
            schema = schemas[name]
            self.assertEqual(sorted(schema["properties"]), sorted(fields), f"{name}: keys")
            for key, optional in fields.items():
                required = key in schema.get("required", [])
                types_allowed = schema["properties"][key].get("type")
                nullable = (isinstance(types_allowed, list) and "null" in types_allowed) or \
                    {"type": "null"} in schema["properties"][key].get("oneOf", [])
                if not optional:
                    self.assertTrue(required and not nullable, f"{name}.{key}: always present, never null")
                elif writes_null:
                    self.assertTrue(required and nullable, f"{name}.{key}: always present, null when unknown")
                else:
                    self.assertTrue(not required and not nullable, f"{name}.{key}: left out when unknown")


class OpenAPIAgainstAgents(unittest.TestCase):
    """One ordered walk over every route of three agents; `n2` requires tokens."""

    def setUp(self):
        self.doc = load_document()
        self.contract = Contract(self.doc)
        self.mesh = LocalMesh(3, arguments={2: ["--api-require-token", "true"]})
        self.addCleanup(self.mesh.stop)

    def fail_with_logs(self, error):
        raise AssertionError(f"{error}\n{self.mesh.logs()}") from error

    def test_every_route_answers_as_documented(self):
        try:
            self.walk()
        except AssertionError as error:
            self.fail_with_logs(error)
        missing = sorted(f"{m} {p}" for m, p in documented_routes(self.doc)
                         if not any(200 <= s < 300 for s in self.contract.seen.get((m, p), ())))
        self.assertEqual(missing, [], "documented routes the walk never saw succeed")

    def walk(self):
        c, mesh = self.contract, self.mesh
        a, b, locked = mesh[0], mesh[1], mesh[2]
        mesh.wait_formed()

        # Membership and status.
        _, members = c.call(a, "GET", "/v1/members", expect=200)
        self.assertEqual(sorted(m["name"] for m in members), ["n0", "n1", "n2"])
        c.call(a, "GET", "/v1/status", expect=200)
        wait_for("an RTT estimate between n0 and n1",
                 lambda: c.call(a, "GET", "/v1/rtt", query={"a": "n1"}, expect=(200, 409))[0] == 200)
        c.call(a, "GET", "/v1/rtt", query={"a": "nosuch"}, expect=404)
        c.call(a, "GET", "/v1/rtt", expect=400)
        _, joined = c.call(a, "POST", "/v1/join", body={"addresses": [f"127.0.0.1:{b.mesh_port}"]}, expect=202)
        self.assertEqual(joined["contacting"], [f"127.0.0.1:{b.mesh_port}"])
        c.call(a, "POST", "/v1/join", body={"addresses": ["nope"]}, expect=400)
        _, metrics = c.call(a, "GET", "/metrics", expect=200)
        self.assertIn("meshd_members", metrics)
        _, page = c.call(a, "GET", "/", expect=200)
        self.assertIn("/v1/members", page)

        # Cluster keys: install a second key everywhere, then remove it.
        _, keyring = c.call(a, "GET", "/v1/keys", expect=200)
        self.assertEqual(keyring["total"], 3)
        new_key = base64.b64encode(os.urandom(32)).decode()
        _, installed = c.call(a, "POST", "/v1/keys/{operation}", params={"operation": "install"}, body={"key": new_key}, expect=200)
        self.assertEqual([m["result"] for m in installed["members"]], ["ok"] * 3)
        c.call(a, "POST", "/v1/keys/{operation}", params={"operation": "remove"}, body={"key": new_key}, expect=200)
        c.call(a, "POST", "/v1/keys/{operation}", params={"operation": "remove"}, body={"key": keyring["local"][0]}, expect=409)
        c.call(a, "POST", "/v1/keys/{operation}", params={"operation": "bogus"}, body={"key": new_key}, expect=404)

        # Events: append, list, follow.
        _, event = c.call(a, "POST", "/v1/events", body={"kind": "test.hello", "attributes": {"x": "1"}}, expect=201)
        self.assertEqual(event["attributes"], {"x": "1", "by": "local"})
        c.call(a, "POST", "/v1/events", body={"kind": "member.fake", "attributes": {}}, expect=400)
        _, events = c.call(a, "GET", "/v1/events", query={"kind": "test.", "since": "1h"}, expect=200)
        self.assertEqual([e["kind"] for e in events], ["test.hello"])
        # A follower sees events stored after it asked: append until its first line arrives.
        followed = {}

        def follow():
            try:
                followed["answer"] = c.call(a, "GET", "/v1/events", query={"kind": "test.follow", "follow": "1"},
                                            stream=True, expect=200)[1]
            except BaseException as error:  # noqa: BLE001 - raised again below, in the test's thread
                followed["error"] = error
        follower = threading.Thread(target=follow, daemon=True)
        follower.start()

        def delivered():
            c.call(a, "POST", "/v1/events", body={"kind": "test.follow", "attributes": {}}, expect=201)
            follower.join(0.5)
            return not follower.is_alive()
        wait_for("a followed event", delivered, timeout=STREAM_READ_TIMEOUT_SECONDS)
        if "error" in followed:
            raise followed["error"]
        self.assertEqual([e["kind"] for e in followed["answer"]], ["test.follow"])
        c.call(a, "GET", "/v1/events", query={"since": "soon"}, expect=400)
        c.call(a, "GET", "/v1/events", query={"node": "nosuch"}, expect=404)

        # Variables (a key with a `/`, escaped in the path as clients do).
        c.call(a, "PUT", "/v1/vars/{key}", params={"key": "app/colour"}, body={"value": "blue"}, expect=200)
        _, listed = c.call(b, "GET", "/v1/vars", query={"prefix": "app/"}, expect=200)
        self.assertEqual([(v["key"], v["value"]) for v in listed["vars"]], [("app/colour", "blue")])
        c.call(b, "GET", "/v1/vars", query={"stale": "1"}, expect=200)
        c.call(b, "GET", "/v1/vars/{key}", params={"key": "app/colour"}, expect=200)
        c.call(b, "GET", "/v1/vars/{key}", params={"key": "nosuch"}, expect=404)
        c.call(a, "PUT", "/v1/vars/{key}", params={"key": "app/colour"}, raw_body=b"{}", expect=400)
        c.call(a, "DELETE", "/v1/vars/{key}", params={"key": "app/colour"}, expect=200)
        c.call(b, "GET", "/v1/vars/{key}", params={"key": "app/colour"}, expect=404)

        # Local instances and their logs.
        _, row = c.call(a, "POST", "/v1/local/instances", expect=201,
                        body={"name": "hello", "command": "sh", "args": ["-c", "echo hi; exec sleep 1000"], "grace_seconds": 2})
        self.assertEqual(row["state"], "running")
        c.call(a, "POST", "/v1/local/instances", body={"name": "hello", "command": "sh"}, expect=409)
        c.call(a, "POST", "/v1/local/instances", body={"name": "bad.name", "command": "sh"}, expect=400)
        _, rows = c.call(a, "GET", "/v1/local/instances", expect=200)
        self.assertEqual([r["workload"] for r in rows], ["hello"])
        wait_for("hello.0's output", lambda: c.call(b, "GET", "/v1/logs/{id}", params={"id": "hello.0"},
                                                     query={"format": "json"}, expect=200)[1]["text"] == "hi\n")
        _, text = c.call(b, "GET", "/v1/logs/{id}", params={"id": "hello"}, query={"tail": "5"}, expect=200)
        self.assertEqual(text, "hi\n")
        _, first = c.call(b, "GET", "/v1/logs/{id}", params={"id": "hello.0"}, query={"follow": "1"}, stream=True, expect=200)
        self.assertEqual(first, "hi\n")
        c.call(b, "GET", "/v1/logs/{id}", params={"id": "hello.0"}, query={"stream": "bogus"}, expect=400)
        c.call(b, "GET", "/v1/logs/{id}", params={"id": "nosuch.0"}, expect=404)

        # exec: a command on n1 asked of n0, its output read by cursor to the end.
        _, started = c.call(a, "POST", "/v1/exec", body={"target": "n1", "command": ["sh", "-c", "echo out; exit 3"]}, expect=201)
        self.assertEqual(started["node"], "n1")
        state = {"stdout": "0", "stderr": "0", "text": "", "last": None}

        def ended():
            _, out = c.call(a, "GET", "/v1/exec/{session}", params={"session": started["session"]},
                            query={"node": started["node"], "stdout": state["stdout"], "stderr": state["stderr"]}, expect=200)
            state.update(stdout=out["stdout_cursor"], stderr=out["stderr_cursor"], text=state["text"] + out["stdout"], last=out)
            return out["done"]
        wait_for("the command's end", ended)
        self.assertEqual((state["text"], state["last"]["status"], state["last"]["exit_code"]), ("out\n", "exited", 3))
        c.call(a, "POST", "/v1/exec", raw_body=b'{"target": "n1", "command": []}', expect=400)
        c.call(a, "POST", "/v1/exec", body={"target": "nosuch", "command": ["true"]}, expect=404)
        c.call(a, "GET", "/v1/exec/{session}", params={"session": "0" * 32}, expect=404)
        _, long_running = c.call(a, "POST", "/v1/exec", body={"target": "n0", "command": ["sleep", "300"]}, expect=201)
        _, cancelled = c.call(a, "DELETE", "/v1/exec/{session}", params={"session": long_running["session"]},
                              query={"node": "n0"}, expect=200)
        self.assertIn(cancelled["status"], ("running", "cancelled"))
        c.call(a, "DELETE", "/v1/exec/{session}", params={"session": "0" * 32}, expect=404)
        _, rows = c.call(b, "POST", "/v1/exec/fanout", body={"command": ["echo", "hi"], "timeout_seconds": 5}, expect=200)
        self.assertEqual([(r["node"], r["status"], r["stdout"]) for r in rows],
                         [("n0", "exited", "hi\n"), ("n1", "exited", "hi\n"), ("n2", "exited", "hi\n")])
        c.call(b, "POST", "/v1/exec/fanout", body={"command": ["true"], "tag": "nokey"}, expect=400)
        # attach: where hello.0 runs; its stdin is /dev/null, an instance with --stdin takes input.
        _, attached = c.call(b, "POST", "/v1/attach/{id}", params={"id": "hello.0"}, expect=200)
        self.assertEqual(attached["node"], "n0")
        c.call(b, "POST", "/v1/attach/{id}", params={"id": "nosuch.0"}, expect=404)
        c.call(b, "POST", "/v1/attach/{id}/stdin", params={"id": "hello.0"}, body={"text": "x\n"}, expect=409)
        c.call(a, "POST", "/v1/local/instances", body={"name": "reader", "command": "cat", "stdin": True, "grace_seconds": 1}, expect=201)
        _, written = c.call(b, "POST", "/v1/attach/{id}/stdin", params={"id": "reader.0"}, body={"text": "x\n"}, expect=200)
        self.assertEqual((written["node"], written["bytes"]), ("n0", 2))
        c.call(a, "DELETE", "/v1/local/instances/{id}", params={"id": "reader.0"}, expect=200)

        _, stopped = c.call(a, "DELETE", "/v1/local/instances/{id}", params={"id": "hello.0"}, expect=200)
        self.assertEqual(stopped["instance"], "hello.0")
        c.call(a, "DELETE", "/v1/local/instances/{id}", params={"id": "nosuch.0"}, expect=404)

        # Workloads through the scheduler.
        spec = {"name": "web", "command": ["sh", "-c", "echo {{name}} on {{node}}; exec sleep 1000"], "count": 2,
                "restart": "always", "reschedule_after": 10}
        c.call(b, "POST", "/v1/workloads", body=spec, expect=201)
        c.call(b, "POST", "/v1/workloads", body=spec, expect=409)
        c.call(b, "POST", "/v1/workloads", body={"name": "bad", "command": ["echo", "{{nope}}"]}, expect=400)
        c.call(a, "GET", "/v1/workloads", expect=200)
        c.call(a, "GET", "/v1/workloads/{name}", params={"name": "web"}, expect=200)
        c.call(a, "GET", "/v1/workloads/{name}", params={"name": "nosuch"}, query={"stale": "1"}, expect=404)
        c.call(a, "GET", "/v1/workloads/{name}/why", params={"name": "web"}, query={"instance": "0"}, expect=200)
        c.call(a, "GET", "/v1/workloads/{name}/why", params={"name": "web"}, expect=200)

        def running(count):
            _, rows = c.call(a, "GET", "/v1/instances", query={"name": "web"}, expect=200)
            states = sorted((r["instance"], r["state"]) for r in rows)
            if [s for _, s in states] != ["running"] * count:
                raise AssertionError(f"web instances: {states}")
            return True
        wait_for("2 instances of web running", lambda: running(2))
        c.call(a, "GET", "/v1/instances", expect=200)
        c.call(a, "POST", "/v1/workloads/{name}/scale", params={"name": "web"}, body={"count": 3}, expect=200)
        c.call(a, "POST", "/v1/workloads/{name}/scale", params={"name": "web"}, raw_body=b'{"count": -1}', expect=400)
        c.call(a, "POST", "/v1/workloads/{name}/scale", params={"name": "nosuch"}, body={"count": 1}, expect=404)
        wait_for("3 instances of web running", lambda: running(3))
        c.call(a, "POST", "/v1/workloads/{name}/restart", params={"name": "web"}, expect=200)
        c.call(a, "POST", "/v1/workloads/{name}/stop", params={"name": "web"}, expect=200)
        c.call(a, "DELETE", "/v1/workloads/{name}", params={"name": "web"}, expect=200)
        c.call(a, "DELETE", "/v1/workloads/{name}", params={"name": "web"}, expect=404)

        # Statistics, here and over the mesh.
        c.call(a, "GET", "/v1/stats", query={"since": "5m"}, expect=200)
        c.call(a, "GET", "/v1/stats", query={"since": "later"}, expect=400)
        c.call(a, "GET", "/v1/stats/{node}", params={"node": "n1"}, expect=200)
        c.call(a, "GET", "/v1/stats/{node}", params={"node": "n0"}, expect=200)
        c.call(a, "GET", "/v1/stats/{node}", params={"node": "nosuch"}, expect=404)

        # Tokens, then every route's role on the agent that requires them.
        _, admin = c.call(a, "POST", "/v1/tokens/bootstrap", body={"name": "root"}, expect=201)
        c.call(a, "POST", "/v1/tokens/bootstrap", expect=409)
        secrets = {"admin": admin["secret"]}
        for role in ("read", "operate"):
            _, made = c.call(a, "POST", "/v1/tokens", body={"name": f"t-{role}", "role": role}, expect=201)
            secrets[role] = made["secret"]
        c.call(a, "POST", "/v1/tokens", raw_body=b'{"name": "t-bad", "role": "root"}', expect=400)
        _, tokens = c.call(a, "GET", "/v1/tokens", expect=200)
        self.assertEqual([t["name"] for t in tokens], ["root", "t-operate", "t-read"])
        # Replicas apply in log order: once n2 knows the operate token it knows the read one.
        wait_for("n2 knowing the tokens",
                 lambda: c.call(locked, "GET", "/v1/members", token=secrets["operate"], expect=(200, 401))[0] == 200)
        self.check_roles(locked, secrets)
        c.call(a, "DELETE", "/v1/tokens/{name}", params={"name": "t-read"}, expect=200)
        c.call(a, "DELETE", "/v1/tokens/{name}", params={"name": "t-read"}, expect=409)

        # The end of the mesh: ban n2, n1 leaves, n0 recovers Raft alone.
        c.call(a, "POST", "/v1/members/{node}/ban", params={"node": "n0"}, expect=400)
        c.call(a, "POST", "/v1/members/{node}/ban", params={"node": "nosuch"}, expect=404)
        c.call(a, "POST", "/v1/members/{node}/ban", params={"node": "n2"}, expect=200)
        c.call(a, "POST", "/v1/raft/recover", body={"force": True}, expect=409)
        _, left = c.call(b, "POST", "/v1/leave", expect=200)
        self.assertIn(left["result"], ("left", "timeout"))
        # n1 served a log follower that went away during a quiet spell: it must not hold
        # up the agent's shutdown.
        wait_for("n1 to stop after leaving", lambda: not b.running())
        c.call(a, "POST", "/v1/raft/recover", body={"force": False}, expect=(409,))
        wait_for("raft recover on n0 once its quorum is lost",
                 lambda: c.call(a, "POST", "/v1/raft/recover", body={"force": True}, expect=(200, 409))[0] == 200)

    def check_roles(self, agent, secrets):
        """For every documented route on an agent that requires tokens: no token is 401 (but
        for role `none`), a token one role below the route's is 403, a token of its role
        passes the access check. Requests that pass carry names that do not exist or bodies
        that do not decode, so no handler changes anything."""
        c = self.contract
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                if method not in METHODS:
                    continue
                method = method.upper()
                role = op["x-meshd-role"]
                params = {p: ("nosuch.0" if p == "id" else "install" if p == "operation" else "nosuch")
                          for p in re.findall(r"{(\w+)}", path)}
                raw = b"{\"unknown\": 1" if method in ("POST", "PUT") else None
                if role == "none":
                    status, _ = c.call(agent, method, path, params=params, raw_body=raw)
                    self.assertNotIn(status, (401, 403), f"{method} {path} is open to all")
                    continue
                status, _ = c.call(agent, method, path, params=params, raw_body=raw)
                self.assertEqual(status, 401, f"{method} {path} without a token")
                below = ROLES[ROLES.index(role) - 1]
                if below != "none":
                    status, _ = c.call(agent, method, path, params=params, raw_body=raw, token=secrets[below])
                    self.assertEqual(status, 403, f"{method} {path} with a {below} token (the route needs {role})")
                if (method, path) != ("POST", "/v1/leave"):   # leaving would stop the agent
                    status, _ = c.call(agent, method, path, params=params, raw_body=raw, token=secrets[role])
                    self.assertNotIn(status, (401, 403), f"{method} {path} with a {role} token")


if __name__ == "__main__":
    unittest.main()
