// Agent console: state toggle, live call card with screen-pop, ticket form, searches.
"use strict";

(() => {
  const { el, clear, fmtTime, timeLeft, t, api, ApiError, connectLive, showEmergency, flash, onShortcut } = Hotline;
  const $ = (id) => document.getElementById(id);

  const FIELDS = [
    "level", "status", "site_code", "caller_number", "caller_name", "description", "cause",
    "resolution", "duty_agent", "support_engineer", "onsite_engineer", "organisation",
    "contact_name", "contact_phone", "contact_email", "problem_type", "urgency", "department",
    "expected_resolution", "measures", "owner", "rma_number", "rma_model", "rma_serial",
    "rma_quantity", "rma_symptom", "rma_analysis", "spare_model", "spare_serial",
    "spare_sent_on", "spare_received_on", "onsite_at", "part_needed_at", "part_sent_at",
    "part_received_at",
  ];
  // Times typed as local date and time (datetime-local), sent as ISO 8601.
  const TIME_FIELDS = new Set(["expected_resolution", "onsite_at", "part_needed_at", "part_sent_at", "part_received_at"]);
  const INT_FIELDS = new Set(["level", "rma_quantity"]);
  let current = null; // the ticket in the editor, as the server last sent it
  let currentCall = null;

  // --- agent state ---------------------------------------------------------------------
  function showState(state) {
    const label = { ready: t("Ready"), paused: t("Paused"), logged_out: t("Not in queue") }[state] || state;
    $("agent-state").textContent = label;
    $("agent-state").dataset.state = state;
  }
  // Reads of the state (the page's first /api/me, each socket's hello) race with the
  // agent's own changes: an answer arriving after a change it did not see would show the
  // old state again. So every change is counted; a read shows its answer only when no
  // change was made since it was asked, and a change only when it is the latest. While a
  // change is on its way no read is asked at all: the server may answer it before it
  // applied the change, and the change's own answer shows the state anyway.
  let changes = 0;
  let pending = 0;
  function readState() {
    if (pending > 0) return;
    const asked = changes;
    api("GET", "/api/me").then((me) => { if (asked === changes) showState(me.agent_state); }).catch(() => {});
  }
  async function setState(state) {
    changes += 1;
    pending += 1;
    const mine = changes;
    let failed = false;
    try {
      const result = await api("POST", "/api/agent/state", { state });
      if (mine === changes) showState(result.state);
      flash($("agent-msg"), state === "ready" ? t("You take calls now.") : t("Paused: no calls."), true);
    } catch (err) {
      failed = true;
      flash($("agent-msg"), err.message, false);
    } finally {
      pending -= 1;
    }
    // A refused change leaves the state as the server has it: show that.
    if (failed && mine === changes) readState();
  }
  $("btn-ready").addEventListener("click", () => setState("ready"));
  $("btn-paused").addEventListener("click", () => setState("paused"));
  $("btn-ready").disabled = false; // the page renders them disabled until they work
  $("btn-paused").disabled = false;
  $("pop-split").addEventListener("click", splitCall);
  onShortcut("Alt+r", () => setState("ready"));
  onShortcut("Alt+p", () => setState("paused"));

  // --- ticket editor -------------------------------------------------------------------
  function toInputValue(name, value) {
    if (value === null || value === undefined) return "";
    if (TIME_FIELDS.has(name)) {
      const d = new Date(value);
      if (Number.isNaN(d.getTime())) return "";
      const pad = (n) => String(n).padStart(2, "0");
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    }
    return String(value);
  }
  function fromInputValue(name, text) {
    if (TIME_FIELDS.has(name)) return text ? new Date(text).toISOString() : null;
    if (INT_FIELDS.has(name)) return text === "" ? null : Number(text);
    if (["problem_type", "urgency", "spare_sent_on", "spare_received_on", "site_code"].includes(name)) {
      return text === "" ? null : text;
    }
    return text;
  }

  const STATUS = {
    open: t("open"), callback_due: t("callback due"), in_progress: t("in progress"),
    resolved: t("resolved"), closed: t("closed"),
  };
  const SOURCE = { call: t("call"), backfill: t("backfill"), manual: t("by hand") };
  const OUTCOME = { answered: t("answered"), abandoned: t("abandoned"), ivr_hangup: t("hung up in the menu"), no_agent: t("no agent"), transferred: t("transferred") };
  const LEVEL = { 1: t("1 critical"), 2: t("2 major"), 3: t("3 minor"), 4: t("4 consultation") };
  const FIELD_NAMES = Object.fromEntries([...document.querySelectorAll("#ticket-form [name]")]
    .map((input) => [input.name, input.closest("label") ? input.closest("label").firstChild.textContent.trim() : input.name]));

  function fillTicket(ticket) {
    const shownBefore = current;
    current = ticket;
    $("ticket-editor").classList.remove("hidden");
    $("ticket-number").textContent = ticket.number;
    const meta = clear($("ticket-meta"));
    const open = ["open", "callback_due", "in_progress"].includes(ticket.status);
    const satisfaction = ticket.satisfaction
      ? `${ticket.satisfaction} (${["", t("very satisfied"), t("satisfied"), t("neutral"), t("dissatisfied"), t("very dissatisfied")][ticket.satisfaction]})`
      : (ticket.satisfaction_at ? t("not applicable") : "—");
    for (const [label, value] of [
      [t("Status"), STATUS[ticket.status] || ticket.status], [t("Source"), SOURCE[ticket.source] || ticket.source],
      [t("Call"), ticket.call_id], [t("Opened"), fmtTime(ticket.created_at)],
      [t("Respond by"), `${fmtTime(ticket.response_due)}${open ? `（${ticket.responded_at ? t("responded") : timeLeft(ticket.response_due)}）` : ""}`],
      [t("On site by"), `${fmtTime(ticket.onsite_due)}${open && ticket.onsite_due ? `（${timeLeft(ticket.onsite_due)}）` : ""}`],
      [t("Paper ticket"), ticket.paper_number], [t("Satisfaction"), satisfaction],
    ]) {
      meta.append(el("dt", { text: label }), el("dd", { text: value ?? "—" }));
    }
    for (const name of FIELDS) {
      const input = $(`f-${name}`);
      if (input) input.value = toInputValue(name, ticket[name]);
    }
    for (const name of ["entry_symptom", "entry_action", "entry_result", "progress_note", "note"]) {
      $(`f-${name}`).value = "";
    }
    for (const small of document.querySelectorAll("#ticket-form .field-error")) small.textContent = "";
    const history = clear($("ticket-history").tBodies[0]);
    for (const h of ticket.history || []) {
      history.append(el("tr", {}, [fmtTime(h.at), h.by, FIELD_NAMES[h.field] || h.field, h.old ?? "—", h.new ?? "—", h.note || ""].map((v) => el("td", { text: v }))));
    }
    const log = clear($("ticket-service-log").tBodies[0]);
    for (const s of ticket.service_log || []) {
      log.append(el("tr", {}, [fmtTime(s.at), s.by, s.symptom, s.action, s.result].map((v) => el("td", { text: v }))));
    }
    const progress = clear($("ticket-progress"));
    for (const p of ticket.progress_log || []) {
      progress.append(el("li", { text: `${fmtTime(p.at)} · ${p.by}: ${p.text}` }));
    }
    // A ticket shown without its calls (a pop, another panel's answer) keeps the rows of
    // the same ticket; another ticket starts empty.
    if (ticket.calls) fillCalls(ticket.calls);
    else if (!shownBefore || shownBefore.number !== ticket.number) fillCalls([]);
    // The dispatch panel (dispatch.js) follows the ticket on screen.
    document.dispatchEvent(new CustomEvent("hotline:ticket", { detail: ticket }));
  }

  // Every call on the ticket; a recorded one plays here (the browser asks for byte
  // ranges with the session cookie; the server checks who may hear it).
  function fillCalls(calls) {
    const rows = clear($("ticket-calls").tBodies[0]);
    for (const c of calls) {
      const player = c.recording_url
        ? el("audio", { controls: true, preload: "metadata", src: c.recording_url, "aria-label": t("Recording of call %(call)s", { call: c.call_id }) })
        : t("no recording");
      rows.append(el("tr", {}, [
        el("td", { text: fmtTime(c.started_at) }), el("td", { text: c.call_id }),
        el("td", { text: OUTCOME[c.outcome] || c.outcome || "—" }), el("td", {}, player),
      ]));
    }
  }

  // Another panel changed the ticket on the server (dispatch, arrival): show it as it is now.
  document.addEventListener("hotline:ticket-updated", (event) => {
    if (current && current.number === event.detail.number) fillTicket(event.detail);
  });

  async function openTicket(number) {
    try {
      fillTicket(await api("GET", `/api/tickets/${encodeURIComponent(number)}`));
      $("ticket-editor").scrollIntoView({ block: "start" });
    } catch (err) {
      flash($("ts-msg"), err.message, false);
    }
  }

  function collectChanges() {
    const body = {};
    for (const name of FIELDS) {
      const input = $(`f-${name}`);
      if (!input) continue;
      const before = toInputValue(name, current[name]);
      if (input.value === before) continue;
      body[name] = fromInputValue(name, input.value);
    }
    const entry = { symptom: $("f-entry_symptom").value, action: $("f-entry_action").value, result: $("f-entry_result").value };
    if (entry.symptom || entry.action || entry.result) body.service_entry = entry;
    if ($("f-progress_note").value.trim()) body.progress_note = $("f-progress_note").value;
    if ($("f-note").value.trim()) body.note = $("f-note").value;
    return body;
  }

  function checkLocally(body) {
    const errors = {};
    if ("site_code" in body && body.site_code !== null && !/^[0-9]{1,32}$/.test(body.site_code)) errors.site_code = t("Digits only.");
    if ("contact_email" in body && body.contact_email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(body.contact_email)) errors.contact_email = t("Not an e-mail address.");
    if ("rma_quantity" in body && body.rma_quantity !== null && !(Number.isInteger(body.rma_quantity) && body.rma_quantity >= 0)) errors.rma_quantity = t("A whole number.");
    for (const name of ["caller_number", "contact_phone", "caller_name"]) {
      if (typeof body[name] === "string" && /[\r\n]/.test(body[name])) errors[name] = t("One line only.");
    }
    return errors;
  }

  $("ticket-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current) return;
    for (const small of document.querySelectorAll("#ticket-form .field-error")) small.textContent = "";
    const body = collectChanges();
    const keys = Object.keys(body).filter((k) => k !== "note");
    if (keys.length === 0) { flash($("ticket-msg"), t("Nothing changed."), false); return; }
    const local = checkLocally(body);
    if (Object.keys(local).length) {
      for (const [name, msg] of Object.entries(local)) {
        const small = document.querySelector(`#ticket-form .field-error[data-for="${name}"]`);
        if (small) small.textContent = msg;
      }
      flash($("ticket-msg"), t("Please correct the marked fields."), false);
      const first = Object.keys(local).map((name) => $(`f-${name}`)).find(Boolean);
      if (first) first.focus();
      return;
    }
    $("ticket-save").disabled = true;
    try {
      const saved = await api("PATCH", `/api/tickets/${encodeURIComponent(current.number)}`, body);
      fillTicket(saved);
      flash($("ticket-msg"), t("Saved %(number)s.", { number: saved.number }), true);
      refreshPopSite();
    } catch (err) {
      if (err instanceof ApiError) {
        for (const [name, msg] of Object.entries(err.fieldErrors())) {
          const small = document.querySelector(`#ticket-form .field-error[data-for="${name}"]`);
          if (small) small.textContent = msg;
        }
      }
      flash($("ticket-msg"), t("Not saved: %(reason)s", { reason: err.message }), false);
    } finally {
      $("ticket-save").disabled = false;
    }
  });

  // --- live call card ------------------------------------------------------------------
  async function refreshPopSite() {
    // The pop's open/last ticket lists include the ticket just saved: show it as saved.
    const record = document.querySelector("#pop-site .site-record");
    if (!record || $("pop").classList.contains("hidden")) return;
    try {
      const site = await api("GET", `/api/sites/${encodeURIComponent(record.dataset.site)}`);
      showPopSite(site);
    } catch (err) {
      flash($("ticket-msg"), t("Saved, but the site record could not be refreshed: %(reason)s", { reason: err.message }), false);
    }
  }

  // "Repeat call: HL-… opened 09:10": the call joined its site's open ticket.
  function repeatText(msg) {
    if (!msg.repeat_of) return "";
    return t("Repeat call: %(number)s opened %(time)s", { number: msg.repeat_of, time: fmtTime(msg.repeat_opened_at) });
  }

  function showRepeat(msg) {
    $("pop-repeat-text").textContent = repeatText(msg);
    $("pop-repeat").classList.toggle("hidden", !msg.repeat_of);
    $("pop-split").disabled = !msg.repeat_of;
    $("pop-split").dataset.ticket = msg.repeat_of || "";
    $("pop-split-msg").textContent = "";
  }

  async function splitCall() {
    const button = $("pop-split");
    const number = button.dataset.ticket;
    const call = $("pop").dataset.call;
    if (!number || !call) return;
    button.disabled = true;
    try {
      const ticket = await api("POST", `/api/tickets/${encodeURIComponent(number)}/split`, { call_id: call });
      fillTicket(ticket);
      $("pop-repeat-text").textContent = t("Split off: this call now has ticket %(number)s.", { number: ticket.number });
      flash($("pop-split-msg"), "", true);
    } catch (err) {
      flash($("pop-split-msg"), err.message, false);
      button.disabled = false;
    }
  }

  function onRinging(msg) {
    currentCall = msg.call_id;
    $("call-empty").classList.add("hidden");
    $("call-ended").classList.add("hidden");
    $("pop").classList.add("hidden");
    $("call-ringing").classList.remove("hidden");
    $("ring-caller").textContent = [msg.caller_number || t("unknown number"), msg.caller_name || ""].join(" ").trim();
    $("ring-site").textContent = msg.site_code || t("unidentified");
    $("ring-repeat").textContent = repeatText(msg);
    $("ring-repeat").classList.toggle("hidden", !msg.repeat_of);
    Alerting.ring(msg);
    $("ring-call").textContent = msg.call_id;
    // No queue: the dialplan rang this engineer directly (preferred routing) before the queue.
    $("ring-direct").classList.toggle("hidden", msg.queue !== null);
  }

  function onScreenPop(msg) {
    currentCall = msg.call_id;
    Alerting.stop();
    $("call-empty").classList.add("hidden");
    $("call-ringing").classList.add("hidden");
    $("call-ended").classList.add("hidden");
    const pop = $("pop");
    pop.classList.remove("hidden");
    pop.dataset.call = msg.call_id;
    showRepeat(msg);
    const site = msg.site;
    $("pop-site-name").textContent = site ? `${site.organisation} · ${site.site_name}` : t("Unidentified site");
    if (site) showPopSite(site, msg.ticket);
    else {
      clear($("pop-summary")).append(el("p", { text: t("The caller's site is not known: ask for the site code and put it in the ticket.") }));
      clear($("pop-site"));
    }
    if (msg.ticket) fillTicket(msg.ticket);
    else if (msg.ticket_number) openTicket(msg.ticket_number);
    else {
      // No ticket yet (e.g. the database is struggling): never leave an older one on screen.
      current = null;
      $("ticket-editor").classList.add("hidden");
      $("call-ended").textContent = t("No ticket for this call yet: use “Open a ticket by hand” or a paper ticket.");
      $("call-ended").classList.remove("hidden");
    }
  }

  function onRingCancelled(msg) {
    if (msg.call_id !== currentCall || !$("pop").classList.contains("hidden")) return;
    Alerting.stop();
    $("call-ringing").classList.add("hidden");
    const ended = $("call-ended");
    const why = { answered_elsewhere: t("answered by another agent"), no_answer: t("not answered in time") }[msg.reason] || msg.reason || t("stopped");
    ended.textContent = t("Call %(call)s stopped ringing here (%(why)s).", { call: msg.call_id, why });
    ended.classList.remove("hidden");
    currentCall = null;
  }

  function onCallEnded(msg) {
    if (currentCall && msg.call_id !== currentCall) return;
    Alerting.stop();
    $("call-ringing").classList.add("hidden");
    const ended = $("call-ended");
    const outcome = OUTCOME[msg.outcome] || msg.outcome || t("ended");
    ended.textContent = t("Call %(call)s ended (%(outcome)s). The ticket stays open below.", { call: msg.call_id, outcome });
    ended.classList.remove("hidden");
    currentCall = null;
  }

  // The pop went out with the site's profile; its full record (last tickets) follows.
  function onPopSite(msg) {
    if (!msg.site || msg.call_id !== currentCall) return;
    $("pop-site-name").textContent = `${msg.site.organisation} · ${msg.site.site_name}`;
    showPopSite(msg.site, current);
  }

  function showPopSite(site, ticket) {
    const level = ticket ? ticket.level : (current && current.site_code === site.site_code ? current.level : null);
    clear($("pop-summary")).append(SiteRecordView.summary(site, level, openTicket));
    clear($("pop-site")).append(SiteRecordView.render(site, openTicket));
  }

  // --- a call you cannot miss: sound, desktop notification, flashing title ---------------
  const Alerting = (() => {
    const title = document.title;
    let flasher = null;
    let notice = null;
    function stop() {
      const sound = $("ring-sound");
      sound.pause();
      sound.currentTime = 0;
      window.clearInterval(flasher);
      flasher = null;
      document.title = title;
      if (notice) { notice.close(); notice = null; }
    }
    function ring(msg) {
      stop();
      const site = msg.site_code || t("unidentified");
      const caller = msg.caller_number || t("unknown number");
      $("ring-sound").play().then(
        () => { $("ring-sound").dataset.played = "1"; },
        () => { $("notify-state").textContent = t("The browser blocked the ring tone: click anywhere on the page once to allow sounds."); });
      const alert = t("Call from site %(site)s", { site });
      let on = false;
      flasher = window.setInterval(() => { on = !on; document.title = on ? `☎ ${alert}` : title; }, 800);
      document.title = `☎ ${alert}`;
      if ("Notification" in window && Notification.permission === "granted") {
        notice = new Notification(alert, { body: t("Caller %(caller)s · call %(call)s", { caller, call: msg.call_id }), tag: "hotline-ringing", requireInteraction: true });
        notice.addEventListener("show", () => { $("call-ringing").dataset.notified = "1"; });
        // Clicking the notification brings the console forward with the ringing call
        // under the keyboard focus, so the agent's next key acts on it.
        notice.addEventListener("click", () => {
          window.focus();
          $("call-card").scrollIntoView({ block: "start" });
          $("call-ringing").focus();
          if (notice) notice.close();
        });
      }
    }
    return { ring, stop };
  })();
  function notificationState() {
    const state = "Notification" in window ? Notification.permission : "unsupported";
    $("notify-state").textContent = {
      granted: t("Desktop notifications are on."),
      denied: t("Desktop notifications are blocked in this browser: a ringing call only sounds and flashes the tab."),
      default: t("Desktop notifications are not allowed yet."),
      unsupported: t("This browser has no desktop notifications."),
    }[state];
    $("notify-state").dataset.permission = state;
  }
  notificationState();

  // --- keyboard ------------------------------------------------------------------------
  function saveTicket() {
    if (!current || $("ticket-editor").classList.contains("hidden")) return;
    $("ticket-form").requestSubmit();
  }
  onShortcut("Alt+s", saveTicket);
  onShortcut("Ctrl+Enter", saveTicket);
  onShortcut("Alt+t", () => {
    if (!current || $("ticket-editor").classList.contains("hidden")) return;
    $("f-description").focus();
    $("ticket-editor").scrollIntoView({ block: "start" });
  });

  connectLive((msg) => {
    switch (msg.type) {
      case "hello":
        // The hello's state was read when the socket opened: after a change, ask again.
        if (changes === 0) showState(msg.agent_state);
        else readState();
        showEmergency(msg.emergency);
        break;
      case "ringing": onRinging(msg); break;
      case "screen_pop": onScreenPop(msg); break;
      case "screen_pop_site": onPopSite(msg); break;
      case "call_ended": onCallEnded(msg); break;
      case "ring_cancelled": onRingCancelled(msg); break;
      case "emergency": case "mode": showEmergency(msg); break;
      case "journal": Hotline.showJournal(msg); break;
      case "paper_number":
        // Emergency mode: the paper-ticket number the agent writes on the pad for this call.
        if (currentCall && msg.call_id === currentCall) {
          $("call-empty").classList.add("hidden");
          $("call-ended").classList.remove("hidden");
          $("call-ended").textContent = t("Paper ticket %(paper)s for call %(call)s (%(caller)s).", { paper: msg.paper_number, call: msg.call_id, caller: msg.caller_number || t("unknown number") });
        }
        break;
      default: break;
    }
  });

  // --- ticket list and search ----------------------------------------------------------
  let nextBefore = null;
  let listParams = ""; // the search on screen, which "more" continues
  function searchParams() {
    const params = new URLSearchParams();
    for (const [key, id] of [["q", "ts-q"], ["status", "ts-status"], ["level", "ts-level"], ["site", "ts-site"]]) {
      const value = $(id).value.trim();
      if (value) params.set(key, value);
    }
    params.set("limit", "25");
    return params;
  }
  // Answers can arrive out of order. A search (or a reload of the list) replaces what any
  // earlier request would show; "more" adds to the search on screen, only while that
  // search is still the latest, and once at a time (the next page starts where the
  // previous one ended).
  let searches = 0; // fresh lists asked for
  let shown = 0; // the one whose rows are on screen
  let moreLoading = false;
  async function loadTickets(append) {
    if (append && (moreLoading || shown !== searches)) return;
    const mine = append ? searches : ++searches;
    const params = append ? new URLSearchParams(listParams) : searchParams();
    if (append) {
      moreLoading = true;
      params.set("before", nextBefore);
    }
    try {
      const data = await api("GET", `/api/tickets?${params}`);
      if (mine !== searches) return;
      const body = $("ticket-list").tBodies[0];
      if (!append) clear(body);
      for (const tk of data.items) {
        // The number is a button: the list works from the keyboard as well as the mouse.
        const open = el("button", { type: "button", class: "link-button", text: tk.number, onclick: () => openTicket(tk.number) });
        const tr = el("tr", { dataset: { number: tk.number } }, el("td", {}, open),
          [fmtTime(tk.created_at), LEVEL[tk.level] || String(tk.level), STATUS[tk.status] || tk.status, tk.site_code || "—", tk.caller_number, tk.description].map((v) => el("td", { text: v })));
        body.append(tr);
      }
      if (!append) listParams = params.toString();
      shown = mine;
      nextBefore = data.next_before;
      $("ts-more").classList.toggle("hidden", !nextBefore);
      flash($("ts-msg"), t("%(count)d shown", { count: body.rows.length }), true);
    } catch (err) {
      if (mine === searches) flash($("ts-msg"), err.message, false);
    } finally {
      if (append) moreLoading = false;
    }
  }
  $("ticket-search").addEventListener("submit", (e) => { e.preventDefault(); loadTickets(false); });
  $("ts-more").addEventListener("click", () => loadTickets(true));

  $("new-ticket-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const description = $("nt-description").value.trim();
    const site = $("nt-site").value.trim();
    if (!description) { flash($("nt-msg"), t("Describe the fault."), false); $("nt-description").focus(); return; }
    if (site && !/^[0-9]{1,32}$/.test(site)) { flash($("nt-msg"), t("Site code: digits only."), false); $("nt-site").focus(); return; }
    try {
      const ticket = await api("POST", "/api/tickets", {
        level: Number($("nt-level").value), description, site_code: site || null,
        caller_number: $("nt-caller").value.trim(), caller_name: $("nt-name").value.trim(),
      });
      flash($("nt-msg"), t("Opened %(number)s.", { number: ticket.number }), true);
      $("new-ticket-form").reset();
      fillTicket(ticket);
      loadTickets(false);
    } catch (err) {
      flash($("nt-msg"), err.message, false);
    }
  });

  // --- site search ---------------------------------------------------------------------
  $("site-search").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = $("ss-q").value.trim();
    if (!q) return;
    try {
      const data = await api("GET", `/api/sites?q=${encodeURIComponent(q)}`);
      const list = clear($("site-results"));
      for (const s of data.items) {
        const show = el("button", { type: "button", class: "link-button", text: `${s.site_code} · ${s.site_name} · ${s.organisation} (${SiteRecordView.tierName(s.tier)})` });
        const item = el("li", {}, show);
        show.addEventListener("click", async () => {
          try {
            const record = await api("GET", `/api/sites/${encodeURIComponent(s.site_code)}`);
            clear($("site-view")).append(SiteRecordView.render(record, openTicket));
          } catch (err) { flash($("ss-msg"), err.message, false); }
        });
        list.append(item);
      }
      flash($("ss-msg"), t("%(count)d found", { count: data.items.length }), true);
    } catch (err) {
      flash($("ss-msg"), err.message, false);
    }
  });

  readState();
  api("GET", "/api/emergency").then(showEmergency).catch(() => {});
  loadTickets(false);
})();
