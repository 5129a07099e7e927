// Supervisor console: emergency flip, health, live calls and queues, backfill.
"use strict";

(() => {
  const { el, clear, fmtTime, fmtDuration, fmtClock, t, api, connectLive, showEmergency, flash, onShortcut } = Hotline;
  const YES_NO = (v) => (v ? t("yes") : t("no"));
  const MODE_STATE = (s) => ({ normal: t("normal"), emergency: t("emergency"), recovering: t("recovering (backfill open)") }[s] || s || "");
  const OUTCOME = (o) => ({ switched: t("switched"), unchanged: t("unchanged"), failed: t("failed") }[o] || o);
  const $ = (id) => document.getElementById(id);
  let emergency = null;
  const STATE_NAME = (s) => ({ ok: t("ok"), up: t("up"), down: t("down"), degraded: t("degraded"), failed: t("failed"), disabled: t("disabled"), not_configured: t("not configured"), in_process: t("in this process"), unknown: t("unknown"), inconclusive: t("inconclusive") }[s] || s);
  const COMPONENT_NAME = (n) => ({ ami: t("PBX link (AMI)"), database: t("database"), redis: "Redis", consoles: t("consoles"), agents: t("agents"), bus: t("message bus"), lease: t("controller lease") }[n] || n);
  const ROLE_NAME = (r) => ({ agent: t("agent"), supervisor: t("supervisor"), admin: t("admin") }[r] || r);
  const AGENT_STATE = (s) => ({ ready: t("Ready"), paused: t("Paused"), logged_out: t("Not in queue") }[s] || s);
  const RECONCILIATION = {
    calls_without_ticket: t("calls without a ticket"), awaiting_paper: t("paper not yet typed in"),
    paper_without_call: t("paper numbers without a call"), waived: t("waived"),
    total: t("emergency calls"), ticketed: t("with a ticket"), done: t("nothing blocks closing"),
  };

  // --- emergency mode ------------------------------------------------------------------
  function showMode(status) {
    emergency = status;
    showEmergency(status);
    $("em-mode").textContent = status.active ? t("EMERGENCY") : t("normal");
    $("em-mode").dataset.active = String(status.active);
    $("emergency").dataset.active = String(status.active);
    $("em-detail").textContent = status.since
      ? t("since %(since)s by %(by)s: %(reason)s [%(state)s]", { since: fmtTime(status.since), by: status.by || t("system"), reason: status.reason || "", state: MODE_STATE(status.state) })
      : `[${MODE_STATE(status.state)}]`;
    $("em-flip").textContent = status.active ? t("Return to normal mode…") : t("Switch to emergency mode…");
    tickTimer();
  }
  async function loadMode() {
    try { showMode(await api("GET", "/api/emergency")); } catch (err) { flash($("em-msg"), err.message, false); }
  }
  // How long emergency mode has been on, ticking every second.
  function tickTimer() {
    const on = emergency && emergency.active && emergency.since;
    $("em-timer").textContent = on ? t("running for %(duration)s", { duration: fmtDuration((Date.now() - new Date(emergency.since).getTime()) / 1000) }) : "";
  }
  window.setInterval(tickTimer, 1000);
  onShortcut("Alt+e", () => $("em-flip").click());
  $("em-flip").addEventListener("click", () => {
    if (!emergency) return;
    $("em-question").textContent = emergency.active
      ? t("Return the hotline to the main agent queue?")
      : t("Switch the hotline to the EMERGENCY agent pool? New and waiting calls will go to the emergency queue.");
    $("em-reason").value = "";
    $("em-dialog-msg").textContent = "";
    $("em-dialog").showModal();
    $("em-reason").focus();
  });
  $("em-form").addEventListener("submit", async (event) => {
    if (event.submitter && event.submitter.value === "cancel") return;
    event.preventDefault();
    const reason = $("em-reason").value.trim();
    if (reason.length < 3) { flash($("em-dialog-msg"), t("Give a reason (at least 3 characters)."), false); return; }
    if (/[\r\n]/.test(reason)) { flash($("em-dialog-msg"), t("The reason must be one line."), false); return; }
    $("em-confirm").disabled = true;
    try {
      const status = await api("POST", "/api/emergency", { active: !emergency.active, reason });
      showMode(status);
      $("em-dialog").close();
      flash($("em-msg"), status.active ? t("Emergency mode is ON.") : t("Back to normal mode."), true);
    } catch (err) {
      flash($("em-dialog-msg"), err.message, false);
    } finally {
      $("em-confirm").disabled = false;
    }
  });

  // --- health --------------------------------------------------------------------------
  async function loadHealth() {
    try {
      const response = await fetch("/healthz", { headers: { Accept: "application/json" } });
      const data = await response.json();
      $("health-overall").textContent = STATE_NAME(data.status);
      $("health-overall").dataset.status = data.status;
      $("health-at").textContent = t("checked %(time)s", { time: fmtClock(new Date()) });
      const body = clear($("health-table").tBodies[0]);
      for (const [name, state] of Object.entries(data.components || {})) {
        const status = typeof state === "string" ? state : (state && state.status) || "unknown";
        const detail = typeof state === "object" && state
          ? Object.entries(state).filter(([k]) => k !== "status").map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ")
          : "";
        body.append(el("tr", { dataset: { check: name, status } },
          el("td", { text: COMPONENT_NAME(name) }), el("td", { text: STATE_NAME(status), class: `state-${status}` }), el("td", { text: detail })));
      }
    } catch (err) {
      $("health-overall").textContent = t("unreachable (%(reason)s)", { reason: err.message });
    }
  }

  function renderChecks(checks) {
    const body = clear($("checks-table").tBodies[0]);
    for (const c of checks) {
      body.append(el("tr", { dataset: { check: c.name, state: c.state } },
        el("td", { text: c.critical ? COMPONENT_NAME(c.name) : t("%(name)s (advisory)", { name: COMPONENT_NAME(c.name) }) }),
        el("td", { text: STATE_NAME(c.state), class: `state-${c.state}` }),
        el("td", { text: c.detail }), el("td", { text: fmtTime(c.checked_at) }),
        el("td", { text: c.duration_ms })));
    }
  }
  async function loadChecks() {
    try {
      const data = await api("GET", "/api/emergency/checks");
      renderChecks(data.items);
      $("checks-msg").textContent = data.items.length ? "" : t("No check has run yet.");
      const audit = await api("GET", "/api/emergency/audit?limit=20");
      const body = clear($("audit-table").tBodies[0]);
      for (const a of audit.items) {
        const lasted = a.duration_seconds === null || a.duration_seconds === undefined ? "" : fmtDuration(a.duration_seconds);
        const action = { enter: t("enter emergency mode"), exit: t("leave emergency mode"), auto_enter: t("enter emergency mode"), auto_exit: t("leave emergency mode"), close_backfill: t("close the backfill") }[a.action] || a.action;
        body.append(el("tr", {}, [fmtTime(a.at), a.automatic ? t("%(action)s (automatic)", { action }) : action, OUTCOME(a.outcome),
          `${MODE_STATE(a.from_state)} → ${MODE_STATE(a.to_state)}`, a.by, a.reason, lasted].map((v) => el("td", { text: v }))));
      }
    } catch (err) {
      flash($("checks-msg"), err.message, false);
    }
  }

  async function loadCallbacks() {
    try {
      const data = await api("GET", "/api/callbacks");
      const body = clear($("cb-table").tBodies[0]);
      for (const cb of data.items) {
        const button = el("button", { type: "button", text: t("Call back"), class: "cb-call" });
        button.addEventListener("click", async () => {
          button.disabled = true;
          try {
            await api("POST", "/api/callbacks", { caller_number: cb.caller_number });
            flash($("cb-msg"), t("Your phone rings first, then %(caller)s.", { caller: cb.caller_number }), true);
            loadCallbacks();
          } catch (err) {
            flash($("cb-msg"), err.message, false);
            button.disabled = false;
          }
        });
        body.append(el("tr", { dataset: { caller: cb.caller_number } },
          el("td", { text: cb.caller_number }), el("td", { text: cb.call_ids.join(", ") }),
          el("td", { text: cb.paper_numbers.join(", ") }), el("td", { text: cb.ticket_numbers.join(", ") || "—" }),
          el("td", { text: cb.last_called_at ? t("%(time)s by %(by)s", { time: fmtTime(cb.last_called_at), by: cb.last_called_by }) : t("never") }),
          el("td", {}, button)));
      }
      $("cb-msg").textContent = data.items.length ? "" : t("Nobody to call back.");
    } catch (err) {
      flash($("cb-msg"), err.message, false);
    }
  }

  $("bf-close").addEventListener("click", async () => {
    if (!window.confirm(t("Close the backfill? Every emergency call must have a ticket or a waiver."))) return;
    try {
      const status = await api("POST", "/api/emergency/close-backfill");
      showMode(status);
      flash($("bf-close-msg"), t("Backfill closed: back to normal."), true);
      loadCallbacks();
    } catch (err) {
      flash($("bf-close-msg"), err.message, false);
    }
  });

  // --- live calls and queues -----------------------------------------------------------
  // The colour of a wait: the duty lead's eye goes to the red first (answered: no colour).
  const waitBand = (seconds) => (seconds === null || seconds < 20 ? "wait-ok" : seconds < 60 ? "wait-warn" : "wait-late");
  let onCall = 0;  // answered calls with an agent, counted by loadLive for the glance
  function showWaiting(count, longest) {
    $("glance-waiting").textContent = String(count);
    $("tile-waiting").dataset.wait = count ? waitBand(longest) : "wait-ok";
    $("glance-longest").textContent = longest === null ? "—" : fmtDuration(longest);
    $("tile-longest").dataset.wait = waitBand(longest);
  }
  async function loadLive() {
    try {
      const data = await api("GET", "/api/calls?active=true&limit=200");
      const body = clear($("live-calls").tBodies[0]);
      let waiting = 0;
      let longest = null;
      onCall = 0;
      // Callers still waiting first, the longest wait on top; answered calls after them.
      const waitedSince = (c) => new Date(c.queued_at || c.started_at || 0).getTime();
      const rows = [...data.items].sort((a, b) => (Boolean(a.answered_at) - Boolean(b.answered_at)) || (waitedSince(a) - waitedSince(b)));
      for (const c of rows) {
        // Coloured by how long the caller has waited (until answered): the duty lead's eye
        // goes to the red rows first.
        const since = c.queued_at || c.started_at;
        const waited = since ? ((c.answered_at ? new Date(c.answered_at).getTime() : Date.now()) - new Date(since).getTime()) / 1000 : null;
        const band = waitBand(c.answered_at ? null : waited);
        if (c.answered_at) { if (c.agent) onCall += 1; } else if (since) {
          waiting += 1;
          longest = Math.max(longest ?? 0, waited);
        }
        body.append(el("tr", { class: band, dataset: { call: c.call_id, wait: band } },
          [fmtDuration(waited), `${c.caller_number} ${c.caller_name || ""}`, c.site_code || "—", c.level ?? "—", c.queue || "—",
           c.agent || "—", fmtTime(c.started_at), fmtTime(c.answered_at), c.ticket_number || "—", c.paper_number || "—", c.call_id]
            .map((v) => el("td", { text: v }))));
      }
      showWaiting(waiting, longest);
    } catch (err) {
      flash($("queue-msg"), err.message, false);
    }
    try {
      const open = await api("GET", "/api/consoles");
      const body = clear($("console-list").tBodies[0]);
      const agents = open.items.filter((c) => c.role === "agent");
      const count = (state) => agents.filter((c) => c.agent_state === state).length;
      $("glance-agents").textContent = `${count("ready")} / ${count("paused")} / ${onCall}`;
      for (const c of open.items) {
        body.append(el("tr", { dataset: { user: c.username } },
          [c.username, ROLE_NAME(c.role), AGENT_STATE(c.agent_state), c.connections, fmtTime(c.last_seen)].map((v) => el("td", { text: v }))));
      }
    } catch (err) {
      flash($("queue-msg"), err.message, false);
    }
    try {
      const q = await api("GET", "/api/queues");
      const members = clear($("queue-members").tBodies[0]);
      for (const m of q.members) {
        members.append(el("tr", {}, [m.queue, m.name, m.interface, YES_NO(m.paused), YES_NO(m.in_call)].map((v) => el("td", { text: v }))));
      }
      const entries = clear($("queue-entries").tBodies[0]);
      // The PBX's own queue is the truth about who is waiting (the call records lag).
      showWaiting(q.entries.length, q.entries.length ? Math.max(...q.entries.map((e) => e.wait_seconds)) : null);
      for (const e of q.entries) {
        entries.append(el("tr", {}, [e.queue, e.position, `${e.caller_number} ${e.caller_name || ""}`, fmtDuration(e.wait_seconds), e.priority].map((v) => el("td", { text: v }))));
      }
      $("queue-msg").textContent = "";
    } catch (err) {
      flash($("queue-msg"), t("PBX queues: %(reason)s", { reason: err.message }), false);
    }
  }

  // --- backfill ------------------------------------------------------------------------
  let selected = null;
  function openForm(item) {
    selected = item.paper_number;
    $("bf-waive").classList.add("hidden");
    $("bf-form").classList.remove("hidden");
    $("bf-paper").textContent = item.paper_number;
    $("bf-caller").value = item.caller_number || "";
    $("bf-site").value = "";
    $("bf-description").value = "";
    $("bf-form-msg").textContent = "";
    $("bf-description").focus();
  }
  function openWaive(item) {
    selected = item.paper_number;
    $("bf-form").classList.add("hidden");
    $("bf-waive").classList.remove("hidden");
    $("bf-waive-paper").textContent = item.paper_number;
    $("bf-waive-reason").value = "";
    $("bf-waive-msg").textContent = "";
  }
  async function loadBackfill() {
    try {
      const data = await api("GET", "/api/backfill");
      const body = clear($("bf-items").tBodies[0]);
      for (const item of data.items) {
        const shown = {
          entered: t("%(ticket)s · entered (%(by)s)", { ticket: item.ticket_number, by: item.entered_by || "" }),
          ticket_only: t("%(ticket)s · ticket opened automatically, paper content not yet entered", { ticket: item.ticket_number }),
          waived: t("waived: %(reason)s", { reason: item.waive_reason || "" }),
          missing: t("missing"),
        }[item.state] || item.state;
        const actions = el("td", {});
        if (item.state === "missing" || item.state === "ticket_only") {
          actions.append(el("button", { type: "button", text: t("Type in"), class: "bf-enter", onclick: () => openForm(item) }));
        }
        if (!item.accounted_for && !item.waived) {
          actions.append(" ",
            el("button", { type: "button", text: t("Waive"), class: "bf-waive", onclick: () => openWaive(item) }));
        }
        body.append(el("tr", { dataset: { paper: item.paper_number, state: item.state } },
          el("td", { text: item.paper_number }), el("td", { text: item.call_id || "—" }),
          el("td", { text: item.caller_number || "—" }), el("td", { text: fmtTime(item.started_at) }),
          el("td", { text: item.agent || "—" }),
          el("td", { text: shown, class: item.accounted_for ? "" : "state-down" }),
          actions));
      }
      const total = data.items.length;
      const open = data.items.filter((i) => !i.accounted_for).length;
      flash($("bf-msg"), t("%(done)d of %(total)d accounted for", { done: total - open, total }), open === 0);
      $("glance-backfill").textContent = total ? t("%(done)d of %(total)d", { done: total - open, total }) : "—";
      $("bf-progress").max = Math.max(total, 1);
      $("bf-progress").value = total - open;
    } catch (err) {
      flash($("bf-msg"), err.message, false);
    }
    try {
      const rec = await api("GET", "/api/backfill/reconciliation");
      const box = clear($("bf-reconciliation"));
      const list = el("dl", { class: "meta" });
      for (const [key, value] of Object.entries(rec)) {
        const item = (v) => (v && typeof v === "object"
          ? (v.paper_number ? `${v.paper_number}${v.call_id ? ` (${t("call")} ${v.call_id})` : ""}` : JSON.stringify(v))
          : v);
        const shown = Array.isArray(value) ? (value.length ? value.map(item).join(", ") : t("none"))
          : (typeof value === "object" && value !== null ? JSON.stringify(value) : String(value));
        list.append(el("dt", { text: RECONCILIATION[key] || key.replaceAll("_", " ") }), el("dd", { text: typeof value === "boolean" ? YES_NO(value) : shown }));
      }
      box.append(list);
    } catch (err) {
      flash($("bf-msg"), err.message, false);
    }
  }
  $("bf-refresh").addEventListener("click", loadBackfill);
  $("bf-cancel").addEventListener("click", () => $("bf-form").classList.add("hidden"));
  $("bf-waive-cancel").addEventListener("click", () => $("bf-waive").classList.add("hidden"));
  $("bf-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const description = $("bf-description").value.trim();
    const site = $("bf-site").value.trim();
    if (!description) { flash($("bf-form-msg"), t("Type what the paper says."), false); $("bf-description").focus(); return; }
    if (site && !/^[0-9]{1,32}$/.test(site)) { flash($("bf-form-msg"), t("Site code: digits only."), false); $("bf-site").focus(); return; }
    try {
      const result = await api("POST", `/api/backfill/${encodeURIComponent(selected)}`, {
        site_code: site || null, level: Number($("bf-level").value), description,
        caller_number: $("bf-caller").value.trim() || null,
      });
      flash($("bf-result"), t("Paper %(paper)s is ticket %(ticket)s.", { paper: selected, ticket: result.ticket_number }), true);
      $("bf-form").classList.add("hidden");
      loadBackfill();
    } catch (err) {
      flash($("bf-form-msg"), err.message, false);
    }
  });
  $("bf-waive").addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = $("bf-waive-reason").value.trim();
    if (reason.length < 3) { flash($("bf-waive-msg"), t("Give a reason (at least 3 characters)."), false); return; }
    try {
      await api("POST", `/api/backfill/${encodeURIComponent(selected)}/waive`, { reason });
      flash($("bf-result"), t("Paper %(paper)s waived: %(reason)s", { paper: selected, reason }), true);
      $("bf-waive").classList.add("hidden");
      loadBackfill();
    } catch (err) {
      flash($("bf-waive-msg"), err.message, false);
    }
  });

  connectLive((msg) => {
    switch (msg.type) {
      case "hello": showEmergency(msg.emergency); return;
      case "mode": showMode(msg); loadBackfill(); loadChecks(); return;
      case "journal": Hotline.showJournal(msg); return;
      case "health": renderChecks(msg.checks || []); $("checks-verdict").textContent = msg.verdict || ""; return;
      case "backfill": case "paper_number": loadBackfill(); loadLive(); return;
      default: if (msg.call_id) loadLive();
    }
  });
  loadMode();
  loadHealth();
  loadChecks();
  loadLive();
  loadBackfill();
  loadCallbacks();
  window.setInterval(loadHealth, 5000);
  window.setInterval(loadLive, 5000);
})();
