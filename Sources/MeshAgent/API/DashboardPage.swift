/// The dashboard every agent serves at `/`: one static page (no data in it) whose script
/// reads the same HTTP API `meshctl` uses, from the browser, every `refreshSeconds`, and
/// follows the event log as it is stored. An API that needs a token gets it from the page's
/// token field (kept in the browser's local storage, sent as a bearer header); the page
/// itself needs none. Everything the API returns is put on the page as text, never as
/// markup (names, tags and event attributes are whatever members and users wrote).
enum DashboardPage {
    static let refreshSeconds = 2
    /// How many events the page keeps on screen, newest first.
    static let eventsShown = 100
    /// How far back the charts reach (`GET /v1/stats/:node?since=`).
    static let chartWindow = "15m"

    static let html: String = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>meshd</title>
    <style>
    body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d232a; background: #f5f6f8; }
    header { background: #1d232a; color: #fff; padding: 10px 16px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
    header h1 { font-size: 18px; margin: 0; }
    header .meta { color: #b8c1cc; }
    header input { font: inherit; padding: 2px 6px; width: 18em; }
    main { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 12px; padding: 12px; }
    section { background: #fff; border-radius: 6px; padding: 10px 12px; box-shadow: 0 1px 2px #0002; overflow: auto; }
    section h2 { font-size: 15px; margin: 0 0 8px; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eceef1; white-space: nowrap; }
    th { font-weight: 600; color: #56606b; }
    .alive, .running { color: #18794e; } .suspect, .pending, .starting { color: #a35200; }
    .dead, .failed, .unreachable, .exited { color: #c4262e; } .left, .stopped { color: #6b7480; }
    #error { color: #c4262e; }
    #events li { font-family: ui-monospace, monospace; font-size: 12px; list-style: none; border-bottom: 1px solid #eceef1; padding: 2px 0; }
    #events { padding: 0; margin: 0; max-height: 420px; overflow: auto; }
    svg { background: #fafbfc; border: 1px solid #eceef1; }
    .chart { display: inline-block; margin: 0 8px 8px 0; }
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
    <main>
      <section><h2>Members</h2><table id="members"></table></section>
      <section><h2>Workloads</h2><table id="workloads"></table></section>
      <section><h2>Instances</h2><table id="instances"></table></section>
      <section><h2>Node <select id="node"></select></h2><div id="charts"></div></section>
      <section><h2>Events</h2><ul id="events"></ul></section>
    </main>
    <script>
    "use strict";
    const REFRESH_MS = \(refreshSeconds * 1000), EVENTS_SHOWN = \(eventsShown), WINDOW = "\(chartWindow)";
    const tokenField = document.getElementById("token");
    tokenField.value = localStorage.getItem("meshd-token") || "";
    tokenField.addEventListener("change", () => { localStorage.setItem("meshd-token", tokenField.value); followEvents(); refresh(); });
    function headers() { return tokenField.value ? { Authorization: "Bearer " + tokenField.value } : {}; }
    async function api(path) {
      const r = await fetch(path, { headers: headers() });
      if (!r.ok) {
        let why = String(r.status);
        try { const e = await r.json(); why += " " + e.error + (e.detail ? ": " + e.detail : ""); } catch (_) {}
        throw new Error(path + ": " + why);
      }
      return r.json();
    }
    function cell(text, cls) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); if (cls) td.className = cls; return td; }
    function fill(table, columns, rows) {
      table.replaceChildren();
      const head = document.createElement("tr");
      for (const c of columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
      table.appendChild(head);
      for (const r of rows) { const tr = document.createElement("tr"); for (const td of r) tr.appendChild(td); table.appendChild(tr); }
    }
    function mib(bytes) { return bytes == null ? "" : (bytes / 1048576).toFixed(0) + " MiB"; }
    function tags(t) { return Object.entries(t || {}).map(([k, v]) => k + "=" + v).join(" "); }

    async function refresh() {
      try {
        const status = await api("/v1/status");
        document.getElementById("who").textContent = status.name + " · " + (status.members ? Object.entries(status.members).map(([k, v]) => v + " " + k).join(", ") : "");
        document.getElementById("raft").textContent = "leader " + (status.leader || "none") + " · voters " + (status.voters || []).join(", ");
        const members = await api("/v1/members");
        fill(document.getElementById("members"), ["name", "status", "role", "address", "rtt", "tags"],
          members.map(m => [cell(m.name + (m.self ? " *" : "")), cell(m.status, m.status), cell(m.role), cell(m.address),
                            cell(m.rtt_ms == null ? "" : m.rtt_ms.toFixed(1) + " ms"), cell(tags(m.tags))]));
        const select = document.getElementById("node"), chosen = select.value;
        select.replaceChildren(...members.filter(m => m.status === "alive").map(m => { const o = document.createElement("option"); o.textContent = m.name; return o; }));
        if (chosen && [...select.options].some(o => o.textContent === chosen)) select.value = chosen;
        const workloads = await api("/v1/workloads?stale=1");
        fill(document.getElementById("workloads"), ["name", "count", "placed", "pending", "command"],
          workloads.map(w => [cell(w.name), cell(w.count), cell((w.placements || []).length),
                              cell((w.pending || []).map(p => p.instance + ": " + p.reason).join("; "), (w.pending || []).length ? "pending" : ""),
                              cell((w.command || []).join(" "))]));
        const instances = await api("/v1/instances");
        fill(document.getElementById("instances"), ["instance", "node", "state", "restarts", "cpu", "rss"],
          instances.map(i => [cell(i.workload + "." + i.instance), cell(i.node), cell(i.state, i.state), cell(i.restarts),
                              cell(i.cpu == null ? "" : i.cpu.toFixed(1) + " %"), cell(mib(i.rss))]));
        if (select.value) await charts(select.value);
        document.getElementById("error").textContent = "";
      } catch (e) {
        document.getElementById("error").textContent = String(e.message || e);
      }
    }

    function chart(title, points, max, unit) {
      const w = 280, h = 90, div = document.createElement("div"), label = document.createElement("div");
      div.className = "chart";
      const last = points.length ? points[points.length - 1] : null;
      label.textContent = title + (last == null ? "" : " · " + last.toFixed(1) + unit);
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("width", w); svg.setAttribute("height", h);
      const top = Math.max(max || 0, ...points, 1e-9);
      const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      line.setAttribute("fill", "none"); line.setAttribute("stroke", "#2b6cb0"); line.setAttribute("stroke-width", "1.5");
      line.setAttribute("points", points.map((v, i) => (points.length < 2 ? 0 : i * w / (points.length - 1)).toFixed(1) + "," + (h - 2 - v / top * (h - 4)).toFixed(1)).join(" "));
      svg.appendChild(line);
      div.append(label, svg);
      return div;
    }
    async function charts(node) {
      const s = await api("/v1/stats/" + encodeURIComponent(node) + "?since=" + WINDOW);
      const h = s.history || [];
      const used = p => s.memory_total_bytes && p.memory_available_bytes != null ? 100 * (1 - p.memory_available_bytes / s.memory_total_bytes) : 0;
      const out = document.getElementById("charts");
      out.replaceChildren(
        chart("cpu %", h.map(p => 100 * (p.cpu_utilisation || 0)), 100, " %"),
        chart("memory used %", h.map(used), 100, " %"),
        chart("receive KiB/s", h.map(p => (p.receive_bytes_per_second || 0) / 1024), 0, " KiB/s"),
        chart("transmit KiB/s", h.map(p => (p.transmit_bytes_per_second || 0) / 1024), 0, " KiB/s"));
      if (s.temperature_celsius != null) out.appendChild(chart("temperature °C", h.map(p => p.temperature_celsius || 0), 0, " °C"));
    }

    let following = null, shown = new Set();
    function showEvent(e) {
      const key = e.origin + "/" + e.seq, list = document.getElementById("events");
      if (shown.has(key)) return;
      shown.add(key);
      const li = document.createElement("li");
      li.textContent = (e.time || "") + "  " + (e.node || e.origin || "") + "  " + e.kind + "  " + tags(e.attributes);
      list.prepend(li);
      while (list.children.length > EVENTS_SHOWN) list.lastChild.remove();
    }
    // The latest events first, then each new one as it is stored (a key set drops the ones
    // both answers hold).
    async function followEvents() {
      if (following) following.abort();
      const controller = new AbortController();
      following = controller;
      document.getElementById("events").replaceChildren();
      shown = new Set();
      try {
        for (const e of (await api("/v1/events?since=" + WINDOW)).slice(-EVENTS_SHOWN)) showEvent(e);
        const r = await fetch("/v1/events?follow=1", { headers: headers(), signal: controller.signal });
        if (!r.ok) throw new Error("/v1/events: " + r.status);
        const reader = r.body.getReader(), decoder = new TextDecoder();
        let buffered = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += decoder.decode(value, { stream: true });
          let nl;
          while ((nl = buffered.indexOf("\\n")) >= 0) {
            const line = buffered.slice(0, nl); buffered = buffered.slice(nl + 1);
            if (line.trim()) showEvent(JSON.parse(line));
          }
        }
      } catch (e) {
        if (controller.signal.aborted) return;
        document.getElementById("error").textContent = String(e.message || e);
      }
      if (following === controller) setTimeout(followEvents, REFRESH_MS);   // the stream ended: follow again
    }

    document.getElementById("node").addEventListener("change", refresh);
    refresh();
    followEvents();
    setInterval(refresh, REFRESH_MS);
    </script>
    </body>
    </html>
    """
}
