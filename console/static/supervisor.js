// Supervisor console: emergency flip, health, live calls and queues, backfill.
"use strict";

(() => {
  const { el, clear, fmtTime, api, connectLive, showEmergency, flash } = Hotline;
  const $ = (id) => document.getElementById(id);
  let emergency = null;

  // --- emergency mode ------------------------------------------------------------------
  function showMode(status) {
    emergency = status;
    showEmergency(status);
    $("em-mode").textContent = status.active ? "EMERGENCY" : "normal";
    $("em-mode").dataset.active = String(status.active);
    $("em-detail").textContent = status.since
      ? `since ${fmtTime(status.since)} by ${status.by || "system"}: ${status.reason || ""} [${status.state || ""}]`
      : `[${status.state || ""}]`;
    $("em-flip").textContent = status.active ? "Return to normal mode…" : "Switch to emergency mode…";
  }
  async function loadMode() {
    try { showMode(await api("GET", "/api/emergency")); } catch (err) { flash($("em-msg"), err.message, false); }
  }
  $("em-flip").addEventListener("click", () => {
    if (!emergency) return;
    $("em-question").textContent = emergency.active
      ? "Return the hotline to the main agent queue?"
      : "Switch the hotline to the EMERGENCY agent pool? New and waiting calls will go to the emergency queue.";
    $("em-reason").value = "";
    $("em-dialog-msg").textContent = "";
    $("em-dialog").showModal();
  });
  $("em-form").addEventListener("submit", async (event) => {
    if (event.submitter && event.submitter.value === "cancel") return;
    event.preventDefault();
    const reason = $("em-reason").value.trim();
    if (reason.length < 3) { flash($("em-dialog-msg"), "Give a reason (at least 3 characters).", false); return; }
    if (/[\r\n]/.test(reason)) { flash($("em-dialog-msg"), "The reason must be one line.", false); return; }
    $("em-confirm").disabled = true;
    try {
      const status = await api("POST", "/api/emergency", { active: !emergency.active, reason });
      showMode(status);
      $("em-dialog").close();
      flash($("em-msg"), status.active ? "Emergency mode is ON." : "Back to normal mode.", true);
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
      $("health-overall").textContent = data.status;
      $("health-overall").dataset.status = data.status;
      $("health-at").textContent = `checked ${new Date().toLocaleTimeString()}`;
      const body = clear($("health-table").tBodies[0]);
      for (const [name, state] of Object.entries(data.components || {})) {
        const status = typeof state === "string" ? state : (state && state.status) || "unknown";
        const detail = typeof state === "object" && state
          ? Object.entries(state).filter(([k]) => k !== "status").map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ")
          : "";
        body.append(el("tr", { dataset: { check: name, status } },
          el("td", { text: name }), el("td", { text: status, class: `state-${status}` }), el("td", { text: detail })));
      }
    } catch (err) {
      $("health-overall").textContent = `unreachable (${err.message})`;
    }
  }

  function renderChecks(checks) {
    const body = clear($("checks-table").tBodies[0]);
    for (const c of checks) {
      body.append(el("tr", { dataset: { check: c.name, state: c.state } },
        el("td", { text: c.critical ? c.name : `${c.name} (advisory)` }),
        el("td", { text: c.state, class: `state-${c.state}` }),
        el("td", { text: c.detail }), el("td", { text: fmtTime(c.checked_at) }),
        el("td", { text: c.duration_ms })));
    }
  }
  async function loadChecks() {
    try {
      const data = await api("GET", "/api/emergency/checks");
      renderChecks(data.items);
      $("checks-msg").textContent = data.items.length ? "" : "No check has run yet.";
      const audit = await api("GET", "/api/emergency/audit?limit=20");
      const body = clear($("audit-table").tBodies[0]);
      for (const a of audit.items) {
        const lasted = a.duration_seconds === null || a.duration_seconds === undefined ? "" : `${Math.round(a.duration_seconds / 60)} min`;
        body.append(el("tr", {}, [fmtTime(a.at), a.automatic ? `${a.action} (auto)` : a.action, a.outcome,
          `${a.from_state} → ${a.to_state}`, a.by, a.reason, lasted].map((v) => el("td", { text: v }))));
      }
    } catch (err) {
      flash($("checks-msg"), err.message, false);
    }
  }

  async function loadCallbacks() {
    try {
      const data = await api("GET", "/api/callbacks");
      const body = clear($("cb-table").tBodies[0]);
      for (const t of data.items) {
        const button = el("button", { type: "button", text: "Call back", class: "cb-call" });
        button.addEventListener("click", async () => {
          button.disabled = true;
          try {
            await api("POST", "/api/callbacks", { caller_number: t.caller_number });
            flash($("cb-msg"), `Your phone rings first, then ${t.caller_number}.`, true);
            loadCallbacks();
          } catch (err) {
            flash($("cb-msg"), err.message, false);
            button.disabled = false;
          }
        });
        body.append(el("tr", { dataset: { caller: t.caller_number } },
          el("td", { text: t.caller_number }), el("td", { text: t.call_ids.join(", ") }),
          el("td", { text: t.paper_numbers.join(", ") }), el("td", { text: t.ticket_numbers.join(", ") || "—" }),
          el("td", { text: t.last_called_at ? `${fmtTime(t.last_called_at)} by ${t.last_called_by}` : "never" }),
          el("td", {}, button)));
      }
      $("cb-msg").textContent = data.items.length ? "" : "Nobody to call back.";
    } catch (err) {
      flash($("cb-msg"), err.message, false);
    }
  }

  $("bf-close").addEventListener("click", async () => {
    if (!window.confirm("Close the backfill? Every emergency call must have a ticket or a waiver.")) return;
    try {
      const status = await api("POST", "/api/emergency/close-backfill");
      showMode(status);
      flash($("bf-close-msg"), "Backfill closed: back to normal.", true);
      loadCallbacks();
    } catch (err) {
      flash($("bf-close-msg"), err.message, false);
    }
  });

  // --- live calls and queues -----------------------------------------------------------
  async function loadLive() {
    try {
      const data = await api("GET", "/api/calls?active=true&limit=200");
      const body = clear($("live-calls").tBodies[0]);
      for (const c of data.items) {
        body.append(el("tr", { dataset: { call: c.call_id } },
          [c.call_id, `${c.caller_number} ${c.caller_name || ""}`, c.site_code || "—", c.level ?? "—", c.queue || "—",
           c.agent || "—", fmtTime(c.started_at), fmtTime(c.answered_at), c.ticket_number || "—", c.paper_number || "—"]
            .map((v) => el("td", { text: v }))));
      }
    } catch (err) {
      flash($("queue-msg"), err.message, false);
    }
    try {
      const open = await api("GET", "/api/consoles");
      const body = clear($("console-list").tBodies[0]);
      for (const c of open.items) {
        body.append(el("tr", { dataset: { user: c.username } },
          [c.username, c.role, c.agent_state, c.connections, fmtTime(c.last_seen)].map((v) => el("td", { text: v }))));
      }
    } catch (err) {
      flash($("queue-msg"), err.message, false);
    }
    try {
      const q = await api("GET", "/api/queues");
      const members = clear($("queue-members").tBodies[0]);
      for (const m of q.members) {
        members.append(el("tr", {}, [m.queue, m.name, m.interface, m.paused ? "yes" : "no", m.in_call ? "yes" : "no"].map((v) => el("td", { text: v }))));
      }
      const entries = clear($("queue-entries").tBodies[0]);
      for (const e of q.entries) {
        entries.append(el("tr", {}, [e.queue, e.position, `${e.caller_number} ${e.caller_name || ""}`, e.wait_seconds, e.priority].map((v) => el("td", { text: v }))));
      }
      $("queue-msg").textContent = "";
    } catch (err) {
      flash($("queue-msg"), `PBX queues: ${err.message}`, false);
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
          entered: `${item.ticket_number} · 已录入 entered (${item.entered_by || ""})`,
          ticket_only: `${item.ticket_number} · 已自动开单，纸质内容未录入 ticket opened automatically — paper content not yet entered`,
          waived: `已免录 waived: ${item.waive_reason || ""}`,
          missing: "缺工单 missing",
        }[item.state] || item.state;
        const actions = el("td", {});
        if (item.state === "missing" || item.state === "ticket_only") {
          actions.append(el("button", { type: "button", text: "Type in", class: "bf-enter", onclick: () => openForm(item) }));
        }
        if (!item.accounted_for && !item.waived) {
          actions.append(" ",
            el("button", { type: "button", text: "Waive", class: "bf-waive", onclick: () => openWaive(item) }));
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
      flash($("bf-msg"), `${total - open} of ${total} accounted for`, open === 0);
    } catch (err) {
      flash($("bf-msg"), err.message, false);
    }
    try {
      const rec = await api("GET", "/api/backfill/reconciliation");
      const box = clear($("bf-reconciliation"));
      const list = el("dl", { class: "meta" });
      for (const [key, value] of Object.entries(rec)) {
        const item = (v) => (v && typeof v === "object"
          ? (v.paper_number ? `${v.paper_number}${v.call_id ? ` (call ${v.call_id})` : ""}` : JSON.stringify(v))
          : v);
        const shown = Array.isArray(value) ? (value.length ? value.map(item).join(", ") : "none")
          : (typeof value === "object" && value !== null ? JSON.stringify(value) : String(value));
        list.append(el("dt", { text: key.replaceAll("_", " ") }), el("dd", { text: shown }));
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
    if (!description) { flash($("bf-form-msg"), "Type what the paper says.", false); return; }
    if (site && !/^[0-9]{1,32}$/.test(site)) { flash($("bf-form-msg"), "Site code: digits only.", false); return; }
    try {
      const result = await api("POST", `/api/backfill/${encodeURIComponent(selected)}`, {
        site_code: site || null, level: Number($("bf-level").value), description,
        caller_number: $("bf-caller").value.trim() || null,
      });
      flash($("bf-result"), `Paper ${selected} is ticket ${result.ticket_number}.`, true);
      $("bf-form").classList.add("hidden");
      loadBackfill();
    } catch (err) {
      flash($("bf-form-msg"), err.message, false);
    }
  });
  $("bf-waive").addEventListener("submit", async (event) => {
    event.preventDefault();
    const reason = $("bf-waive-reason").value.trim();
    if (reason.length < 3) { flash($("bf-waive-msg"), "Give a reason (at least 3 characters).", false); return; }
    try {
      await api("POST", `/api/backfill/${encodeURIComponent(selected)}/waive`, { reason });
      flash($("bf-result"), `Paper ${selected} waived: ${reason}`, true);
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
