"""The dashboard at `/`, in a real browser (headless Chromium, driven over the DevTools
protocol by cdp.py): against a three-agent mesh the page loads with no failed request and
fills itself from the API — every member, the leader, a running workload, its instances
and the events; a click on an instance follows that instance's log live; at a phone's
width (390 px) nothing but the tables' own boxes scrolls sideways; a SIGKILLed agent shows
as dead within the membership bound; with two of the three voters killed the page says
"read-only: no leader reachable". An agent that requires tokens serves the page but no data
until the page is given a token.

Screenshots (desktop, phone width, no leader) are written to the folder the test prints:
`MESHD_TEST_ARTIFACTS`, else .build/test-artifacts/dashboard."""

import math
import os
import re
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

from cdp import Browser, chromium
from meshharness import ROOT, LocalMesh, binary, get_json, wait_for

# How long the browser's virtual clock may run the page's script (its fetches are waited for).
PAGE_BUDGET_MS = 8000
BROWSER_TIMEOUT_SECONDS = 90
ARTIFACTS = os.environ.get("MESHD_TEST_ARTIFACTS") or os.path.join(ROOT, ".build", "test-artifacts", "dashboard")

# The membership bound for 3 agents on the `local` profile (MembershipSettings.local): the
# dead agent is probed within 2 probe intervals (round robin over the 2 others, 1 s each),
# the probe times out (0.3 s), an unconfirmed suspicion lasts its longest (3 × max(1,
# log10 3) × 1 s × 3 = 9 s), and the last call (0.5 s) passes.
MEMBERSHIP_BOUND_SECONDS = 2 * 1.0 + 0.3 + 3 * max(1.0, math.log10(3)) * 1.0 * 3 + 0.5
# The page reads /v1/status every 2 s (DashboardPage.statusSeconds) and refreshes the
# members table when the counts change: its lag behind the agent, one fetch included.
PAGE_LAG_SECONDS = 2 + 1
PHONE_WIDTH, PHONE_HEIGHT = 390, 844

# A workload whose every instance prints a numbered line a second; the mark names this
# run's processes for the clean-up.
MARK = f"dash-test-{os.getpid()}-{int(time.time())}"
TICKER = ["sh", "-c", f': {MARK}; i=0; while :; do echo "dash line $i"; i=$((i+1)); sleep 1; done']


def rendered(url):
    """The page's DOM after its script ran in headless Chromium."""
    out = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--virtual-time-budget={PAGE_BUDGET_MS}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=BROWSER_TIMEOUT_SECONDS)
    if out.returncode != 0:
        raise AssertionError(f"chromium exited {out.returncode}: {out.stderr[-2000:]}")
    return out.stdout


def table_column(table, column):
    """A script expression: the text of one column of a page table, row by row."""
    return f"[...document.querySelectorAll('#{table} tr')].slice(1).map(tr => tr.children[{column}].textContent)"


def member_status(name):
    return f"(() => {{ const r = [...document.querySelectorAll('#members tr')].find(tr => tr.children[0].textContent.replace(' *', '') === '{name}'); return r ? r.children[1].textContent : null; }})()"


def kill_instances():
    """Instances outlive a SIGKILLed agent (their own process groups, adopted by the next
    agent), and the scheduler may have started more of them elsewhere: every process of
    this run's ticker is killed with its group."""
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if MARK.encode() not in f.read():
                    continue
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except OSError:
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass


@unittest.skipUnless(chromium(), "chromium is not installed (scripts/python-test.sh installs it as root)")
class Dashboard(unittest.TestCase):
    def test_the_page_follows_the_mesh_a_log_and_the_loss_of_its_leader(self):
        os.makedirs(ARTIFACTS, exist_ok=True)
        print(f"\ndashboard screenshots: {ARTIFACTS}", file=sys.stderr)
        mesh = LocalMesh(3, prefix="d")
        browser = None
        try:
            mesh.wait_formed()
            url = mesh[0].url
            run = subprocess.run([binary("meshctl"), "--addr", url.removeprefix("http://"), "run", "dash",
                                  "--count", "2", "--"] + TICKER, capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            wait_for("both instances running", lambda: sum(
                1 for r in get_json(url + "/v1/instances?name=dash") if r["state"] == "running") == 2)
            leader = get_json(url + "/v1/status")["leader"]

            browser = Browser(width=1280, height=1000)
            page = browser.open(url + "/")
            page.wait_for("3 members", f"{table_column('members', 0)}.length === 3")
            names = page.evaluate(table_column("members", 0))
            self.assertEqual(sorted(n.replace(" *", "") for n in names), ["d0", "d1", "d2"])
            page.wait_for("3 members alive", f"{table_column('members', 1)}.every(s => s === 'alive')")
            page.wait_for(f"leader {leader}", f"document.getElementById('raft').textContent.startsWith('leader {leader} ')")
            page.wait_for("the workload", f"{table_column('workloads', 0)}.includes('dash')")
            page.wait_for("two running instances", f"{table_column('instances', 2)}.filter(s => s === 'running').length === 2")
            page.wait_for("the event stream", "document.getElementById('events').textContent.includes('workload.started')")
            page.wait_for("the node's charts", "document.querySelectorAll('#charts svg polyline').length >= 4")
            self.assertTrue(page.evaluate("document.getElementById('banner').hidden"), "the no-leader banner with a leader")
            self.assertEqual(page.evaluate("document.getElementById('error').textContent"), "", "the page reported an error")
            self.assertEqual(page.failures, [], "failed requests or script errors while loading")

            # Click an instance: its log, followed.
            instance = page.evaluate("document.querySelector('#instances button.link').textContent")
            page.click("#instances button.link")
            page.wait_for("the log panel", "!document.getElementById('log-panel').hidden")
            first = page.wait_for(f"{instance}'s output", "(t => t.includes('dash line') && t)(document.getElementById('log').textContent)")
            seen = max(int(n) for n in re.findall(r"dash line (\d+)", first))
            page.wait_for(f"a line of {instance} written after the log was opened",
                          f"[...document.getElementById('log').textContent.matchAll(/dash line (\\d+)/g)].some(m => +m[1] > {seen + 1})")
            self.assertIn(instance, page.evaluate("document.getElementById('log-title').textContent"))
            self.assertEqual(page.failures, [], "failed requests or script errors while following the log")
            page.screenshot(os.path.join(ARTIFACTS, "dashboard-desktop.png"))

            # A phone's width: the page itself never scrolls sideways; a table wider than
            # the screen scrolls inside its own box.
            page.resize(PHONE_WIDTH, PHONE_HEIGHT, mobile=True)
            page.wait_for("the phone's width", f"innerWidth === {PHONE_WIDTH}")
            layout = page.evaluate("""(() => ({
                page: document.documentElement.scrollWidth,
                overflowing: [...document.querySelectorAll('section')].filter(s => s.getBoundingClientRect().right > innerWidth + 1).length,
                boxes: [...document.querySelectorAll('.scroll')].map(d => ({
                    wide: d.scrollWidth > d.clientWidth, scrolls: getComputedStyle(d).overflowX === 'auto',
                    right: d.getBoundingClientRect().right }))
            }))()""")
            self.assertLessEqual(layout["page"], PHONE_WIDTH, f"the page scrolls sideways at {PHONE_WIDTH} px: {layout}")
            self.assertEqual(layout["overflowing"], 0, layout)
            self.assertTrue(any(b["wide"] for b in layout["boxes"]), f"no table is wider than a phone: {layout}")
            self.assertTrue(all(b["scrolls"] and b["right"] <= PHONE_WIDTH for b in layout["boxes"]), layout)
            page.screenshot(os.path.join(ARTIFACTS, "dashboard-390px.png"))
            page.resize(1280, 1000)

            # A SIGKILLed agent, dead on the page within the membership bound (the agent's
            # own verdict timed too, to tell the page's lag from membership's).
            killed_at = time.monotonic()
            mesh[2].kill()
            agent_saw = page_saw = None
            while page_saw is None:
                now = time.monotonic() - killed_at
                if agent_saw is None and any(m["name"] == "d2" and m["status"] == "dead" for m in get_json(url + "/v1/members")):
                    agent_saw = now
                if page.evaluate(member_status("d2")) == "dead":
                    page_saw = now
                if now > MEMBERSHIP_BOUND_SECONDS + PAGE_LAG_SECONDS:
                    self.fail(f"d2 not dead on the page {now:.1f} s after SIGKILL (agent said dead after {agent_saw} s); "
                              f"its row: {page.evaluate(member_status('d2'))}")
                time.sleep(0.1)
            print(f"d2 SIGKILLed: dead in the agent's API after {agent_saw} s, on the page after {page_saw:.1f} s "
                  f"(bound {MEMBERSHIP_BOUND_SECONDS:.1f} s + page lag {PAGE_LAG_SECONDS} s)", file=sys.stderr)

            # Two of the three voters gone: no leader, and the page says so.
            killed_at = time.monotonic()
            mesh[1].kill()
            banner = page.wait_for("the no-leader banner", "!document.getElementById('banner').hidden && document.getElementById('banner').textContent",
                                   timeout=MEMBERSHIP_BOUND_SECONDS + PAGE_LAG_SECONDS + 10)
            print(f"d1 SIGKILLed too: the banner after {time.monotonic() - killed_at:.1f} s: {banner!r}", file=sys.stderr)
            self.assertTrue(banner.startswith("read-only: no leader reachable"), banner)
            # The leader may be gone before the dead voter is even suspected: the count
            # follows membership's verdict.
            page.wait_for("1 of 3 voters reachable in the banner",
                          "document.getElementById('banner-detail').textContent.includes('1 of 3 voters reachable')",
                          timeout=MEMBERSHIP_BOUND_SECONDS + PAGE_LAG_SECONDS)
            page.screenshot(os.path.join(ARTIFACTS, "dashboard-no-leader.png"))
        finally:
            if browser:
                browser.close()
            mesh.stop()
            kill_instances()

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
