"""Headless Chromium driven over the DevTools protocol (`--remote-debugging-pipe`: JSON
messages separated by NUL bytes on file descriptors 3 and 4), with nothing but the
standard library: the dashboard's test and benchmark open the page, click it, read it,
resize it and take screenshots as a person's browser would show it.

One `Browser` is one Chromium process with its own temporary profile; `open()` makes a
tab (`Tab`). Every wait has a deadline and says what it last saw; `close()` ends the
process and removes the profile."""

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

# How long one protocol command may take to answer (a page's first load on a loaded
# two-core machine included).
COMMAND_TIMEOUT_SECONDS = 60
POLL_INTERVAL_SECONDS = 0.1


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


class ProtocolError(Exception):
    pass


def _above(fd, lowest):
    """`fd` moved to a descriptor number of at least `lowest` (the old one closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)
    os.close(fd)
    return moved


class Browser:
    def __init__(self, width=1280, height=900):
        self.profile = tempfile.mkdtemp(prefix="meshd-chromium-")
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # Above 4, so that putting one end on 3 or 4 never closes the other.
        to_browser_read, from_browser_write = (_above(fd, 10) for fd in (to_browser_read, from_browser_write))
        # bash (dash reads only one-digit descriptors) puts the two pipe ends on 3 and 4, where Chromium looks for them.
        script = f'exec "$0" "$@" 3<&{to_browser_read} 4>&{from_browser_write} {to_browser_read}<&- {from_browser_write}>&-'
        self.process = subprocess.Popen(
            ["bash", "-c", script, chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             # Every tab runs its timers as a tab in front does (the benchmark's five tabs).
             "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             "--disable-backgrounding-occluded-windows",
             f"--window-size={width},{height}", f"--user-data-dir={self.profile}",
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(to_browser_read, from_browser_write), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._next_id = 0
        self._lock = threading.Lock()
        self._waiting = {}          # command id -> queue of its answer
        self._listeners = {}        # session id -> callback(method, params)
        self._stderr = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.width, self.height = width, height

    def _drain_stderr(self):
        for line in iter(self.process.stderr.readline, b""):
            self._stderr.append(line.decode("utf-8", "replace"))
            del self._stderr[:-200]

    def _read(self):
        buffered = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    waiting = list(self._waiting.values())
                for q in waiting:
                    q.put({"error": {"message": "the browser closed its pipe"}})
                return
            buffered += chunk
            while b"\0" in buffered:
                raw, buffered = buffered.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        q = self._waiting.pop(message["id"], None)
                    if q:
                        q.put(message)
                else:
                    listener = self._listeners.get(message.get("sessionId"))
                    if listener:
                        listener(message["method"], message.get("params", {}))

    def send(self, method, params=None, session=None, timeout=COMMAND_TIMEOUT_SECONDS):
        """One protocol command; its result, or ProtocolError."""
        q = queue.Queue()
        with self._lock:
            self._next_id += 1
            command = {"id": self._next_id, "method": method, "params": params or {}}
            if session:
                command["sessionId"] = session
            self._waiting[self._next_id] = q
        data = json.dumps(command).encode() + b"\0"
        while data:
            data = data[os.write(self._to_browser, data):]
        try:
            answer = q.get(timeout=timeout)
        except queue.Empty:
            raise ProtocolError(f"{method}: no answer in {timeout} s; chromium said:\n{''.join(self._stderr[-20:])}")
        if "error" in answer:
            raise ProtocolError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def open(self, url, width=None, height=None, document=None):
        """A new window showing `url` (not waited for: see `Tab.wait_for`). Each in a window
        of its own, so that every page is visible (`document.visibilityState`) and draws
        frames, as five browsers on five screens would. `document` (HTML text) is served
        for `url` itself in place of what its server answers (a page tried against an
        agent built before it); every other request goes to the server."""
        target = self.send("Target.createTarget", {"url": "about:blank", "newWindow": True})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, target, session)
        self._listeners[session] = tab._event
        for domain in ("Page", "Network", "Runtime"):
            tab.send(domain + ".enable")
        tab.resize(width or self.width, height or self.height)
        if document is not None:
            tab._document = base64.b64encode(document.encode()).decode()
            tab.send("Fetch.enable", {"patterns": [{"urlPattern": url, "requestStage": "Request"}]})
        tab.send("Page.navigate", {"url": url})
        return tab

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 - it is killed below either way
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=30)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


class Tab:
    """One page. `failures` collects every request that failed (a network error, or an
    HTTP status of 400 or more) and every uncaught script error, as text."""

    def __init__(self, browser, target, session):
        self.browser, self.target, self.session = browser, target, session
        self.failures = []
        self._urls = {}
        self._document = None

    def _fulfil(self, request_id):
        self.send("Fetch.fulfillRequest", {
            "requestId": request_id, "responseCode": 200, "body": self._document,
            "responseHeaders": [{"name": "Content-Type", "value": "text/html; charset=utf-8"},
                                {"name": "Cache-Control", "value": "no-cache"}]})

    def _event(self, method, params):
        if method == "Fetch.requestPaused":
            # Answered from another thread: this one must go on reading the answer.
            threading.Thread(target=self._fulfil, args=(params["requestId"],), daemon=True).start()
        elif method == "Network.requestWillBeSent":
            self._urls[params["requestId"]] = params["request"]["url"]
        elif method == "Network.responseReceived":
            status = params["response"]["status"]
            if status >= 400:
                self.failures.append(f"{status} {params['response']['url']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            self.failures.append(f"{params.get('errorText')} {self._urls.get(params['requestId'], '?')}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.failures.append("script: " + (details.get("exception", {}).get("description") or details.get("text", "")))

    def send(self, method, params=None, timeout=COMMAND_TIMEOUT_SECONDS):
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def evaluate(self, expression):
        """The value of a script expression in the page (promises are waited for)."""
        answer = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in answer:
            raise ProtocolError(f"{expression[:80]}: {answer['exceptionDetails'].get('exception', {}).get('description')}")
        return answer["result"].get("value")

    def wait_for(self, what, expression, timeout=60):
        """Polls a script expression until it is truthy, and returns its value; raises with
        the last value seen after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = self.evaluate(expression)
                if last:
                    return last
            except ProtocolError as error:
                last = str(error)
            if time.monotonic() >= deadline:
                raise AssertionError(f"after {timeout} s the page still lacks {what}; last seen: {last!r}")
            time.sleep(POLL_INTERVAL_SECONDS)

    def resize(self, width, height, mobile=False):
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def click(self, selector):
        """A left click in the middle of the first element `selector` finds, as a mouse
        does it (scrolled into view first)."""
        box = self.evaluate(f"""(() => {{
            const e = document.querySelector({json.dumps(selector)});
            if (!e) return null;
            e.scrollIntoView({{block: "center"}});
            const r = e.getBoundingClientRect();
            return {{x: r.left + r.width / 2, y: r.top + r.height / 2}};
        }})()""")
        if not box:
            raise AssertionError(f"nothing on the page matches {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent",
                      {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1})

    def screenshot(self, path):
        """The whole page (not only the viewport) as a PNG at `path`."""
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def close(self):
        self.browser.send("Target.closeTarget", {"targetId": self.target})
