"""The dashboard at `/`: a real browser (headless Chromium) loads it from an agent of a
three-agent mesh and its script fills the page from the API — every member, the leader, a
running workload's instances and the events — and an agent that requires tokens serves the
page but no data until the page is given a token."""

import shutil
import subprocess
import unittest
import urllib.request

from meshharness import LocalMesh, binary, get_json, wait_for

# How long the browser's virtual clock may run the page's script (its fetches are waited for).
PAGE_BUDGET_MS = 8000
BROWSER_TIMEOUT_SECONDS = 90


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def rendered(url):
    """The page's DOM after its script ran in headless Chromium."""
    out = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--virtual-time-budget={PAGE_BUDGET_MS}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=BROWSER_TIMEOUT_SECONDS)
    if out.returncode != 0:
        raise AssertionError(f"chromium exited {out.returncode}: {out.stderr[-2000:]}")
    return out.stdout


@unittest.skipUnless(chromium(), "chromium is not installed (scripts/python-test.sh installs it as root)")
class Dashboard(unittest.TestCase):
    def test_the_page_shows_the_mesh_its_workloads_and_events(self):
        mesh = LocalMesh(3, prefix="d")
        try:
            mesh.wait_formed()
            url = mesh[1].url
            run = subprocess.run([binary("meshctl"), "--addr", url.removeprefix("http://"), "run", "dash",
                                  "--count", "2", "--", "sleep", "1000"], capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            wait_for("both instances running", lambda: sum(
                1 for r in get_json(url + "/v1/instances?name=dash") if r["state"] == "running") == 2)
            leader = get_json(url + "/v1/status")["leader"]
            dom = rendered(mesh[0].url + "/")
            for name in ("d0", "d1", "d2"):
                self.assertIn(f"<td>{name}", dom, f"member {name} not on the page")
            self.assertIn(f"leader {leader}", dom)
            self.assertIn("<td>dash</td>", dom)
            self.assertEqual(dom.count('<td class="running">running</td>'), 2, "the two running instances")
            self.assertIn("workload.started", dom, "the event stream")
            self.assertIn("<svg", dom, "the node's charts")
            self.assertIn('<span id="error"></span>', dom, "the page reported an error")
        finally:
            mesh.stop()

    def test_a_page_without_a_token_shows_the_refusal_and_no_data(self):
        mesh = LocalMesh(1, prefix="t", arguments={0: ["--api-require-token", "true"]})
        try:
            request = urllib.request.Request(mesh[0].url + "/")
            with urllib.request.urlopen(request, timeout=10) as response:
                self.assertEqual(response.status, 200)
            dom = rendered(mesh[0].url + "/")
            self.assertIn("401 unauthorized", dom.split('id="error">', 1)[1][:300])
            self.assertNotIn("<td>t0", dom)
        finally:
            mesh.stop()


if __name__ == "__main__":
    unittest.main()
