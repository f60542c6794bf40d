/// The dashboard every agent serves at `/`: one static page (no data in it) whose script
/// reads the same HTTP API `meshctl` uses, from the browser. An API that needs a token gets
/// it from the page's token field (kept in the browser's local storage, sent as a bearer
/// header); the page itself needs none. Everything the API returns is put on the page as
/// text, never as markup (names, tags, log lines and event attributes are whatever members
/// and users wrote).
///
/// What keeps it live, and what each costs the agent (docs/DESIGN.md, "Dashboard"):
/// - the event log, followed (`GET /v1/events?follow=1`, pushed as events are stored);
/// - `GET /v1/status` every `statusSeconds` (local, no mesh traffic): the header, the
///   no-leader banner, and a table refresh when the member counts or the leader change;
/// - the tables (members, workloads, instances) after an event that changes them, at most
///   once per `eventRefreshGapMilliseconds`, and every `tablesSeconds` for what no event
///   announces (instances' CPU and memory, sampled every stats interval, and round-trip
///   times);
/// - the chosen node's charts every `chartsSeconds` (a sample is taken every 10 s);
/// - the chosen instance's log, followed (`GET /v1/logs/:id?follow=1`) while it is open.
enum DashboardPage {
    /// How often the page reads `/v1/status` (local to the agent: no member is asked).
    static let statusSeconds = 2
    /// How often the tables are read again when no event asked for it sooner.
    static let tablesSeconds = 10
    /// The least time between two table refreshes that events asked for, in ms: a burst
    /// of events (a workload of a thousand instances starting) costs one refresh a second.
    static let eventRefreshGapMilliseconds = 1000
    /// How often the chosen node's charts are read again (the stats sample interval).
    static let chartsSeconds = 10
    /// How many events the page keeps on screen, newest first.
    static let eventsShown = 100
    /// An event attribute longer than this is cut on the page (an encoded command runs to
    /// hundreds of characters; `meshctl events` and the API give it whole).
    static let attributeCharactersShown = 60
    /// Rows drawn per table at most (the rest are a filter away): a table of a thousand
    /// instances costs a phone's browser most of a second to lay out, and nobody reads it.
    static let rowsShown = 100
    /// How far back the charts reach (`GET /v1/stats/:node?since=`; the raw samples of
    /// stats.db are kept an hour, so the charts draw those).
    static let chartWindowSeconds = 3600
    /// How far back the first event listing reaches (`GET /v1/events?since=`).
    static let eventWindow = "15m"
    /// Lines of an instance's log shown when it is opened (`tail=`), and the characters of
    /// log text the page keeps (older text is cut from the top).
    static let logTailLines = 200
    static let logCharactersKept = 200_000
    /// How long the page waits before following a log or the events again after their
    /// stream ended (the node went away, the agent restarted).
    static let reconnectSeconds = 2

    static let html: String = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link rel="icon" href="data:,">
    <title>meshd</title>
    <style>
    body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d232a; background: #f5f6f8; }
    header { background: #1d232a; color: #fff; padding: 10px 16px; display: flex; gap: 8px 24px; align-items: baseline; flex-wrap: wrap; }
    header h1 { font-size: 18px; margin: 0; }
    header .meta { color: #b8c1cc; overflow-wrap: anywhere; }
    header input { font: inherit; padding: 2px 6px; width: 14em; max-width: 60vw; }
    #banner { background: #fde8e8; color: #8f1d22; border-bottom: 1px solid #f3b9bb; padding: 8px 16px; font-weight: 600; }
    #banner span { font-weight: normal; }
    main { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(460px, 100%), 1fr)); gap: 12px; padding: 12px; }
    section { background: #fff; border-radius: 6px; padding: 10px 12px; box-shadow: 0 1px 2px #0002; min-width: 0; }
    section h2 { font-size: 15px; margin: 0 0 8px; display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
    section.wide { grid-column: 1 / -1; }
    .scroll { overflow: auto; max-height: 420px; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eceef1; white-space: nowrap; }
    th { font-weight: 600; color: #56606b; }
    tr.chosen td { background: #eef4fb; }
    button.link { font: inherit; color: #2b6cb0; background: none; border: 0; padding: 0; cursor: pointer; text-decoration: underline; }
    .alive, .running { color: #18794e; } .suspect, .pending, .starting, .placed, .backing-off { color: #a35200; }
    .dead, .failed, .unreachable, .exited { color: #c4262e; } .left, .stopped { color: #6b7480; }
    #error { color: #ff9ea2; }
    input.filter { font: inherit; font-size: 12px; font-weight: normal; padding: 1px 4px; width: 9em; }
    .note { color: #56606b; font-size: 12px; font-weight: normal; }
    #events li { font-family: ui-monospace, monospace; font-size: 12px; list-style: none; border-bottom: 1px solid #eceef1; padding: 2px 0; overflow-wrap: anywhere; }
    #events { padding: 0; margin: 0; max-height: 420px; overflow: auto; }
    #log { font: 12px/1.35 ui-monospace, monospace; background: #1d232a; color: #e6e9ed; margin: 0; padding: 8px; max-height: 420px; min-height: 4em; overflow: auto; white-space: pre; }
    svg { background: #fafbfc; border: 1px solid #eceef1; max-width: 100%; height: auto; }
    .chart { display: inline-block; margin: 0 8px 8px 0; max-width: 100%; }
    .chart div { color: #56606b; font-size: 12px; }
    select { font: inherit; }
    </style>
    </head>
    <body>
    <header>
      <h1>meshd</h1>
      <span class="meta" id="who">connecting…</span>
      <span class="meta" id="raft"></span>
      <label class="meta">token <input id="token" type="password" placeholder="only if the API asks for one"></label>
      <span id="error"></span>
    </header>
    <div id="banner" role="alert" hidden>read-only: no leader reachable <span id="banner-detail"></span></div>
    <main>
      <section><h2>Members <input class="filter" id="members-filter" type="search" placeholder="filter"> <span class="note" id="members-count"></span></h2>
        <div class="scroll"><table id="members"></table></div></section>
      <section><h2>Workloads <input class="filter" id="workloads-filter" type="search" placeholder="filter"> <span class="note" id="workloads-count"></span></h2>
        <div class="scroll"><table id="workloads"></table></div></section>
      <section><h2>Instances <input class="filter" id="instances-filter" type="search" placeholder="filter"> <span class="note" id="instances-count"></span>
        <span class="note">click one for its log</span></h2>
        <div class="scroll"><table id="instances"></table></div></section>
      <section id="log-panel" class="wide" hidden>
        <h2>Log <span id="log-title"></span>
          <select id="log-stream"><option>stdout</option><option>stderr</option></select>
          <button id="log-close" type="button">close</button>
          <span class="note" id="log-state"></span></h2>
        <pre id="log"></pre>
      </section>
      <section><h2>Node <select id="node"></select> <span class="note">last hour</span></h2><div id="charts"></div></section>
      <section><h2>Events</h2><ul id="events"></ul></section>
    </main>
    <script>
    "use strict";
    const STATUS_MS = \(statusSeconds * 1000), TABLES_MS = \(tablesSeconds * 1000), EVENT_GAP_MS = \(eventRefreshGapMilliseconds),
          CHARTS_MS = \(chartsSeconds * 1000), RECONNECT_MS = \(reconnectSeconds * 1000), EVENTS_SHOWN = \(eventsShown),
          CHART_WINDOW_S = \(chartWindowSeconds), EVENT_WINDOW = "\(eventWindow)",
          LOG_TAIL = \(logTailLines), LOG_KEPT = \(logCharactersKept), ROWS_SHOWN = \(rowsShown),
          ATTRIBUTE_SHOWN = \(attributeCharactersShown);
    const $ = id => document.getElementById(id);
    const tokenField = $("token");
    tokenField.value = localStorage.getItem("meshd-token") || "";
    tokenField.addEventListener("change", () => {
      localStorage.setItem("meshd-token", tokenField.value);
      followEvents(); pollStatus(); refreshTables(); if (openLog) followLog();
    });
    function headers() { return tokenField.value ? { Authorization: "Bearer " + tokenField.value } : {}; }
    async function failure(path, r) {
      let why = String(r.status);
      try { const e = await r.json(); why += " " + e.error + (e.detail ? ": " + e.detail : ""); } catch (_) {}
      const error = new Error(path + ": " + why);
      error.status = r.status;
      return error;
    }
    async function api(path, signal) {
      const r = await fetch(path, { headers: headers(), signal });
      if (!r.ok) throw await failure(path, r);
      return r.json();
    }
    // Reads a streamed answer chunk by chunk until it ends or `signal` aborts it.
    async function stream(path, signal, onChunk) {
      const r = await fetch(path, { headers: headers(), signal });
      if (!r.ok) throw await failure(path, r);
      const reader = r.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        onChunk(value);
      }
    }
    const errors = new Map();   // what failed last, by source, until it works again
    function report(source, e) {
      if (e) errors.set(source, String(e.message || e)); else errors.delete(source);
      $("error").textContent = [...errors.values()].join(" · ");
    }
    const sleep = ms => new Promise(done => setTimeout(done, ms));
    function cell(text, cls) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); if (cls) td.className = cls; return td; }
    // Each table: its columns, the API's last answer, a row of cells per item and the text
    // its filter searches. At most ROWS_SHOWN rows are drawn, the count says how many match.
    const tables = {};
    function table(id, columns, list, row, text) {
      tables[id] = { columns, list, row, text };
      draw(id);
    }
    function draw(id) {
      const t = tables[id];
      if (!t) return;
      const q = $(id + "-filter").value.trim().toLowerCase();
      const matching = q ? t.list.filter(x => t.text(x).toLowerCase().includes(q)) : t.list;
      const head = document.createElement("tr");
      for (const c of t.columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
      const body = [head];
      for (const x of matching.slice(0, ROWS_SHOWN)) {
        const tr = document.createElement("tr"), cells = t.row(x);
        if (cells.chosen) tr.className = "chosen";
        tr.append(...cells);
        body.push(tr);
      }
      $(id).replaceChildren(...body);
      $(id + "-count").textContent = matching.length > ROWS_SHOWN ? ROWS_SHOWN + " of " + matching.length + " shown"
        : q ? matching.length + " of " + t.list.length : "";
    }
    for (const id of ["members", "workloads", "instances"]) $(id + "-filter").addEventListener("input", () => draw(id));
    function mib(bytes) { return bytes == null ? "" : (bytes / 1048576).toFixed(0) + " MiB"; }
    function tags(t) { return Object.entries(t || {}).map(([k, v]) => k + "=" + v).join(" "); }
    function attributes(a) {
      return Object.entries(a || {}).map(([k, v]) => { v = String(v); return k + "=" + (v.length > ATTRIBUTE_SHOWN ? v.slice(0, ATTRIBUTE_SHOWN - 1) + "…" : v); }).join(" ");
    }

    // --- status: header, banner, and a table refresh when the mesh changed -------------
    let lastShape = null;
    async function pollStatus() {
      try {
        const s = await api("/v1/status");
        $("who").textContent = s.name + " · " + Object.entries(s.members || {}).map(([k, v]) => v + " " + k).join(", ");
        $("raft").textContent = "leader " + (s.leader || "none") + " · voters " + (s.voters || []).join(", ");
        const leaderless = !s.leader || s.quorum_reachable === false;
        $("banner").hidden = !leaderless;
        if (leaderless) {
          const alive = (s.voter_health || []).filter(v => v.status === "alive").length;
          $("banner-detail").textContent = "— " + alive + " of " + (s.voters || []).length +
            " voters reachable; the page shows what this agent knows, and changes (run, scale, variables, tokens) are refused until a leader is elected";
        }
        report("status", null);
        const shape = JSON.stringify([s.members, s.leader, s.voters]);
        if (lastShape !== null && shape !== lastShape) tablesSoon();
        lastShape = shape;
      } catch (e) {
        report("status", e);
      }
    }

    // --- tables: members, workloads, instances -----------------------------------------
    let tablesRunning = false, tablesAgain = false, tablesTimer = null, lastTables = 0, firstTables = true;
    // A refresh that events ask for: at most one per EVENT_GAP_MS, the last ask never lost.
    function tablesSoon() {
      if (tablesTimer) return;
      tablesTimer = setTimeout(() => { tablesTimer = null; refreshTables(); }, Math.max(0, lastTables + EVENT_GAP_MS - Date.now()));
    }
    async function refreshTables() {
      if (tablesRunning) { tablesAgain = true; return; }
      tablesRunning = true; lastTables = Date.now();
      try {
        await Promise.all([members(), workloads(), instances()]);
        if (firstTables) {
          firstTables = false;
          // The frame after the first one that holds the tables (benchmarks/dashboard-bench.py);
          // the charts (an hour of samples) only then.
          requestAnimationFrame(() => requestAnimationFrame(() => { performance.mark("dashboard-data-painted"); charts(); }));
        }
      } finally {
        tablesRunning = false;
        if (tablesAgain) { tablesAgain = false; tablesSoon(); }
      }
    }
    async function members() {
      try {
        const list = await api("/v1/members");
        table("members", ["name", "status", "role", "address", "rtt", "tags"], list,
          m => [cell(m.name + (m.self ? " *" : "")), cell(m.status, m.status), cell(m.role), cell(m.address),
                cell(m.rtt_ms == null ? "" : m.rtt_ms.toFixed(1) + " ms"), cell(tags(m.tags))],
          m => [m.name, m.status, m.role, m.address, tags(m.tags)].join(" "));
        const select = $("node"), chosen = select.value;
        const names = list.filter(m => m.status === "alive").map(m => m.name);
        if (names.join("\\n") !== [...select.options].map(o => o.textContent).join("\\n")) {
          select.replaceChildren(...names.map(n => { const o = document.createElement("option"); o.textContent = n; return o; }));
          if (names.includes(chosen)) select.value = chosen;
        }
        report("members", null);
      } catch (e) { report("members", e); }
    }
    async function workloads() {
      try {
        const list = await api("/v1/workloads?stale=1");
        table("workloads", ["name", "count", "placed", "pending", "command"], list,
          w => [cell(w.name), cell(w.count), cell((w.placements || []).length),
                cell((w.pending || []).map(p => p.instance + ": " + p.reason).join("; "), (w.pending || []).length ? "pending" : ""),
                cell((w.command || []).join(" "))],
          w => [w.name, (w.command || []).join(" "), (w.pending || []).length ? "pending" : ""].join(" "));
        report("workloads", null);
      } catch (e) { report("workloads", e); }
    }
    async function instances() {
      try {
        const list = await api("/v1/instances");
        table("instances", ["instance", "node", "state", "restarts", "cpu", "rss"], list, i => {
          const id = i.workload + "." + i.instance, td = cell("");
          if (i.workload && i.node && i.state !== "pending" && i.state !== "unreachable") {
            const b = document.createElement("button");
            b.type = "button"; b.className = "link"; b.textContent = id; b.title = "follow its log";
            b.dataset.id = id; b.dataset.node = i.node;
            td.appendChild(b);
          } else td.textContent = i.workload ? id : "";
          const row = [td, cell(i.node), cell(i.state, i.state), cell(i.restarts),
                       cell(i.cpu == null ? "" : i.cpu.toFixed(1) + " %"), cell(mib(i.rss))];
          row.chosen = openLog != null && openLog.id === id && openLog.node === i.node;
          return row;
        }, i => [i.workload + "." + i.instance, i.node, i.state].join(" "));
        report("instances", null);
      } catch (e) { report("instances", e); }
    }

    // --- a node's charts over the last hour ---------------------------------------------
    function chart(title, points, start, max, unit) {
      const w = 280, h = 90, div = document.createElement("div"), label = document.createElement("div");
      div.className = "chart";
      const last = points.length ? points[points.length - 1].v : null;
      label.textContent = title + (last == null ? "" : " · " + last.toFixed(1) + unit);
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("width", w); svg.setAttribute("height", h); svg.setAttribute("viewBox", "0 0 " + w + " " + h);
      const top = Math.max(max || 0, ...points.map(p => p.v), 1e-9);
      const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      line.setAttribute("fill", "none"); line.setAttribute("stroke", "#2b6cb0"); line.setAttribute("stroke-width", "1.5");
      // x: time across the window (now at the right edge), so a gap in the samples shows.
      line.setAttribute("points", points.map(p => (Math.max(0, p.t - start) / (CHART_WINDOW_S * 1000) * w).toFixed(1) + "," +
                                                  (h - 2 - p.v / top * (h - 4)).toFixed(1)).join(" "));
      svg.appendChild(line);
      if (points.length) {   // the latest sample as a dot: one sample draws no line
        const dot = document.createElementNS("http://www.w3.org/2000/svg", "circle"), xy = line.getAttribute("points").split(" ").pop().split(",");
        dot.setAttribute("cx", xy[0]); dot.setAttribute("cy", xy[1]); dot.setAttribute("r", "2.5"); dot.setAttribute("fill", "#2b6cb0");
        svg.appendChild(dot);
      }
      div.append(label, svg);
      return div;
    }
    let chartsRunning = false;
    async function charts() {
      const node = $("node").value;
      if (!node || chartsRunning) return;
      chartsRunning = true;
      try {
        const s = await api("/v1/stats/" + encodeURIComponent(node) + "?since=" + CHART_WINDOW_S + "s");
        // Both resolutions cover the last hour: draw the raw samples, the minute averages
        // only when there are no raw ones.
        const all = s.history || [], raw = all.filter(p => p.resolution === "raw"), h = raw.length ? raw : all;
        const start = Date.now() - CHART_WINDOW_S * 1000;
        const series = f => h.map(p => ({ t: Date.parse(p.time), v: f(p) }));
        const used = p => s.memory_total_bytes && p.memory_available_bytes != null ? 100 * (1 - p.memory_available_bytes / s.memory_total_bytes) : 0;
        const out = $("charts");
        out.replaceChildren(
          chart("cpu %", series(p => 100 * (p.cpu_utilisation || 0)), start, 100, " %"),
          chart("memory used %", series(used), start, 100, " %"),
          chart("receive KiB/s", series(p => (p.receive_bytes_per_second || 0) / 1024), start, 0, " KiB/s"),
          chart("transmit KiB/s", series(p => (p.transmit_bytes_per_second || 0) / 1024), start, 0, " KiB/s"));
        if (s.temperature_celsius != null) out.appendChild(chart("temperature °C", series(p => p.temperature_celsius || 0), start, 0, " °C"));
        report("charts", null);
      } catch (e) {
        report("charts", e);
      } finally {
        chartsRunning = false;
      }
    }

    // --- the event log, followed ----------------------------------------------------------
    let following = null, shown = new Set();
    function showEvent(e) {
      const key = e.origin + "/" + e.seq, list = $("events");
      if (shown.has(key)) return;
      shown.add(key);
      const li = document.createElement("li");
      li.textContent = (e.time || "") + "  " + (e.node || e.origin || "") + "  " + e.kind + "  " + attributes(e.attributes);
      list.prepend(li);
      while (list.children.length > EVENTS_SHOWN) list.lastChild.remove();
    }
    const CHANGES_TABLES = /^(member\\.|workload\\.|control\\.workload\\.|control\\.member\\.)/;
    // The latest events first, then each new one as it is stored (a key set drops the ones
    // both answers hold); an event that changes a table refreshes the tables.
    async function followEvents() {
      if (following) following.abort();
      const controller = new AbortController();
      following = controller;
      $("events").replaceChildren();
      shown = new Set();
      try {
        for (const e of (await api("/v1/events?since=" + EVENT_WINDOW, controller.signal)).slice(-EVENTS_SHOWN)) showEvent(e);
        const decoder = new TextDecoder();
        let buffered = "";
        report("events", null);
        await stream("/v1/events?follow=1", controller.signal, value => {
          buffered += decoder.decode(value, { stream: true });
          let nl;
          while ((nl = buffered.indexOf("\\n")) >= 0) {
            const line = buffered.slice(0, nl); buffered = buffered.slice(nl + 1);
            if (!line.trim()) continue;
            const e = JSON.parse(line);
            showEvent(e);
            if (CHANGES_TABLES.test(e.kind)) tablesSoon();
          }
        });
      } catch (e) {
        if (controller.signal.aborted) return;
        report("events", e);
      }
      if (following === controller) setTimeout(followEvents, RECONNECT_MS);   // the stream ended: follow again
    }

    // --- an instance's log, followed ------------------------------------------------------
    // The last LOG_TAIL lines with the stream's cursor (format=json), then the stream from
    // that cursor (follow=1); the cursor grows by each byte received, so following again
    // after the stream ended repeats and skips nothing.
    let openLog = null;
    function chooseLog(id, node) {
      if (openLog && openLog.controller) openLog.controller.abort();
      openLog = { id, node };
      $("log-panel").hidden = false;
      $("log-title").textContent = id + " on " + node;
      followLog();
      draw("instances");
    }
    function closeLog() {
      if (openLog && openLog.controller) openLog.controller.abort();
      openLog = null;
      $("log-panel").hidden = true;
      draw("instances");
    }
    function appendLog(pre, text) {
      if (!text) return;
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      if (!pre.firstChild) pre.appendChild(document.createTextNode(""));
      const node = pre.firstChild;
      node.appendData(text);
      if (node.length > LOG_KEPT) {
        const cut = node.data.indexOf("\\n", node.length - LOG_KEPT);
        node.deleteData(0, cut < 0 ? node.length - LOG_KEPT : cut + 1);
      }
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }
    async function followLog() {
      if (!openLog) return;
      if (openLog.controller) openLog.controller.abort();
      const controller = new AbortController(), mine = openLog, pre = $("log"), streamName = $("log-stream").value;
      mine.controller = controller;
      pre.replaceChildren();
      const where = "/v1/logs/" + encodeURIComponent(mine.id) + "?node=" + encodeURIComponent(mine.node) + "&stream=" + streamName;
      let cursor = null;
      while (openLog === mine && !controller.signal.aborted) {
        try {
          if (cursor == null) {
            const first = await api(where + "&tail=" + LOG_TAIL + "&format=json", controller.signal);
            appendLog(pre, first.text);
            cursor = BigInt(first.cursor);
          }
          $("log-state").textContent = "following";
          report("log", null);
          const decoder = new TextDecoder();
          await stream(where + "&cursor=" + cursor + "&follow=1", controller.signal, value => {
            cursor += BigInt(value.length);
            appendLog(pre, decoder.decode(value, { stream: true }));
          });
          $("log-state").textContent = "the stream ended; following again";
        } catch (e) {
          if (controller.signal.aborted) return;
          if (e.status === 404) { $("log-state").textContent = "no such instance any more"; return; }
          $("log-state").textContent = String(e.message || e) + "; trying again";
        }
        await sleep(RECONNECT_MS);
      }
    }
    $("instances").addEventListener("click", e => {
      const b = e.target.closest("button.link");
      if (b) chooseLog(b.dataset.id, b.dataset.node);
    });
    $("log-close").addEventListener("click", closeLog);
    $("log-stream").addEventListener("change", followLog);

    $("node").addEventListener("change", charts);
    pollStatus();
    refreshTables();
    followEvents();
    setInterval(pollStatus, STATUS_MS);
    setInterval(refreshTables, TABLES_MS);
    setInterval(charts, CHARTS_MS);
    </script>
    </body>
    </html>
    """
}
