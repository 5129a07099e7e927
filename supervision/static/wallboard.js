// Live wallboard: renders the snapshots pushed on /ws/wallboard. No external code.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let snapshot = null;
  let receivedAt = 0; // performance.now() when the snapshot arrived: waits keep ticking
  let retry = 1000;
  const CLOCK_NAMES = {
    response: "首次响应 response", onsite: "到场 arrival", part_decision: "备件决定 part decision",
    part_shipment: "备件发出 part shipment", part_arrival: "备件到货 part arrival",
  };

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const neg = seconds < 0;
    let s = Math.abs(Math.round(seconds));
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const body = h ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`
                   : `${m}:${String(s).padStart(2, "0")}`;
    return (neg ? "-" : "") + body;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function elapsed() { return (performance.now() - receivedAt) / 1000; }

  function render() {
    const s = snapshot;
    if (!s) return;
    const drift = elapsed();
    let waiting = 0, longest = 0;
    const queues = $("queues");
    queues.replaceChildren();
    for (const q of s.queues) {
      waiting += q.waiting;
      const box = el("div", { class: "queue", "data-queue": q.queue });
      box.appendChild(el("h3", {}, `${q.queue} — ${q.waiting} waiting`));
      if (q.calls.length === 0) {
        box.appendChild(el("div", { class: "none" }, "no caller waiting"));
      } else {
        const table = el("table");
        const head = el("tr");
        for (const h of ["Caller", "Site", "Level", "Wait"]) head.appendChild(el("th", {}, h));
        table.appendChild(head);
        for (const c of q.calls) {
          const wait = c.wait_s + drift;
          longest = Math.max(longest, wait);
          const row = el("tr", { class: "waiting-call", "data-call-id": c.call_id });
          row.appendChild(el("td", {}, c.caller_number || "unknown"));
          row.appendChild(el("td", {}, c.site_code || "?"));
          row.appendChild(el("td", {}, c.level ? `P${c.level}` : "–"));
          row.appendChild(el("td", { class: wait > s.service_level_target_s ? "late" : "" },
                             fmtDuration(wait)));
          table.appendChild(row);
        }
        box.appendChild(table);
      }
      queues.appendChild(box);
    }
    $("waiting-total").textContent = String(waiting);
    $("longest-wait").textContent = waiting ? fmtDuration(longest) : "0:00";
    $("longest-wait").className = "value " + (longest > s.service_level_target_s ? "bad" : "ok");
    $("answered-today").textContent = String(s.answered_today);
    $("abandoned-today").textContent = String(s.abandoned_today);
    $("sl-target").textContent = `(≤${s.service_level_target_s}s)`;
    const sl = $("service-level");
    if (s.service_level === null) { sl.textContent = "–"; sl.className = "value"; }
    else {
      const pct = Math.round(s.service_level * 1000) / 10;
      sl.textContent = `${pct}%`;
      sl.className = "value " + (pct >= 80 ? "ok" : pct >= 60 ? "warn" : "bad");
    }
    $("breaches").textContent = String(s.breaches);
    $("breaches").className = "value " + (s.breaches ? "bad" : "ok");
    $("agents-ready").textContent = String(s.agents.ready);
    $("agents-busy").textContent = String(s.agents.busy);
    $("agents-paused").textContent = String(s.agents.paused);
    const agents = $("agent-list");
    agents.replaceChildren();
    for (const a of s.agent_list) {
      agents.appendChild(el("li", { class: a.state, title: a.interface }, `${a.name} · ${a.state}`));
    }
    const tickets = $("tickets");
    tickets.replaceChildren();
    for (const t of s.tickets) {
      const row = el("tr", { class: `level-${t.level}`, "data-level": String(t.level) });
      row.appendChild(el("td", {}, `P${t.level}`));
      row.appendChild(el("td", {}, String(t.open)));
      row.appendChild(el("td", { class: t.breached ? "late" : "" }, String(t.breached)));
      row.appendChild(el("td", {}, String(t.paused)));
      const next = t.next_breach_in_s === null ? "–"
        : `${fmtDuration(t.next_breach_in_s - drift)} (${t.next_breach_ticket})`;
      row.appendChild(el("td", {}, next));
      tickets.appendChild(row);
    }
    const field = s.field || { breaches_by_clock: {} };
    $("field-dispatched").textContent = String(field.dispatched ?? 0);
    $("field-on-the-way").textContent = String(field.on_the_way ?? 0);
    $("field-on-site").textContent = String(field.on_site ?? 0);
    $("field-waiting-part").textContent = String(field.waiting_for_part ?? 0);
    const clockRows = $("clock-breaches");
    clockRows.replaceChildren();
    for (const [kind, count] of Object.entries(field.breaches_by_clock)) {
      const row = el("tr", { "data-clock": kind });
      row.appendChild(el("td", {}, CLOCK_NAMES[kind] || kind));
      row.appendChild(el("td", { class: count ? "late" : "" }, String(count)));
      clockRows.appendChild(row);
    }
    const banner = $("emergency");
    banner.hidden = !s.emergency.active;
    $("emergency-detail").textContent = s.emergency.active
      ? ` — ${s.emergency.reason || ""} ${s.emergency.since ? "since " + new Date(s.emergency.since).toLocaleTimeString() : ""}`
      : "";
    $("updated").textContent = new Date(s.at).toLocaleString();
  }

  function setStatus(online) {
    const st = $("status");
    st.textContent = online ? "live" : "reconnecting…";
    st.className = "status " + (online ? "online" : "offline");
    st.dataset.state = online ? "online" : "offline";
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const token = new URLSearchParams(location.search).get("token");
    const url = `${scheme}://${location.host}/ws/wallboard` + (token ? `?token=${encodeURIComponent(token)}` : "");
    const ws = new WebSocket(url);
    ws.onopen = () => { retry = 1000; setStatus(true); };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type !== "wallboard") return;
      snapshot = msg;
      receivedAt = performance.now();
      render();
    };
    ws.onclose = () => {
      setStatus(false);
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    };
  }

  function tick() {
    $("clock").textContent = new Date().toLocaleTimeString();
    render();
  }
  setInterval(tick, 1000);
  tick();
  connect();
})();
