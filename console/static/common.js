// Shared by the console pages. Data from the server is only ever put in the page with
// textContent / attributes (never innerHTML), so HTML in a ticket shows as text.
"use strict";

const Hotline = (() => {
  // The page's language, its catalogue (the server's gettext catalogue as JSON: English
  // ids, translations) and the desk's time zone, all set by the page template.
  const LANG = document.documentElement.lang || "zh-CN";
  const ZONE = document.documentElement.dataset.timezone || "Asia/Shanghai";
  const CATALOGUE = (() => {
    const node = document.getElementById("hotline-catalogue");
    try { return node ? JSON.parse(node.textContent) : {}; } catch { return {}; }
  })();

  // gettext for the scripts: `t("Saved %(number)s.", { number })`, same ids as the server.
  function t(message, params) {
    const text = CATALOGUE[message] || message;
    if (!params) return text;
    return text.replace(/%\((\w+)\)[sd]/g, (whole, name) => (name in params ? String(params[name]) : whole));
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  // Times as Chinese offices write them: 2026-12-05 09:10, 24-hour, in the desk's zone.
  const PARTS = new Intl.DateTimeFormat("en-CA", {
    timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  function localParts(d) {
    const p = {};
    for (const part of PARTS.formatToParts(d)) p[part.type] = part.value;
    return p;
  }
  // A field named in an error, by its label on the page when it has one.
  function FIELD_LABEL(name) {
    if (!name) return t("input");
    const input = document.querySelector(`[name="${CSS.escape(name)}"]`);
    const label = input && input.closest("label");
    return label && label.firstChild ? label.firstChild.textContent.trim() : name;
  }

  function fmtTime(iso) {
    if (!iso) return "—";
    const d = iso instanceof Date ? iso : new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const p = localParts(d);
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  }
  // "YYYY-MM-DD HH:MM" (or a date alone: midnight) read in the desk's zone, whatever the
  // browser's own zone; null when it is not such a time.
  function zonedIso(text) {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?$/.exec(String(text).trim());
    if (!m) return null;
    const wanted = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0));
    let at = wanted;
    for (let i = 0; i < 3; i += 1) {  // shift by the zone's offset until the wall time matches
      const p = localParts(new Date(at));
      at += wanted - Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute);
    }
    const d = new Date(at);
    return Number.isNaN(d.getTime()) || fmtTime(d) !== `${m[1]}-${m[2]}-${m[3]} ${m[4] || "00"}:${m[5] || "00"}` ? null : d.toISOString();
  }
  function fmtClock(d) {
    const p = localParts(d);
    return `${p.hour}:${p.minute}:${p.second}`;
  }
  // Durations as mm:ss (h:mm:ss from an hour on).
  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
    const sign = seconds < 0 ? "-" : "";
    let s = Math.round(Math.abs(seconds));
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const pad = (n) => String(n).padStart(2, "0");
    return sign + (h ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`);
  }
  // An SLA clock as time left ("还剩 1 小时 50 分") or overdue.
  function timeLeft(iso) {
    const ms = new Date(iso).getTime() - Date.now();
    const minutes = Math.trunc(ms / 60000);
    const span = Math.abs(minutes);
    const amount = span >= 60
      ? t("%(hours)d h %(minutes)d min", { hours: Math.floor(span / 60), minutes: span % 60 })
      : t("%(minutes)d min", { minutes: span });
    return ms < 0 ? t("overdue by %(amount)s", { amount }) : t("%(amount)s left", { amount });
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(ApiError.describe(status, detail));
      this.status = status;
      this.detail = detail;
    }
    static describe(status, detail) {
      if (Array.isArray(detail)) {
        return detail.map((e) => `${FIELD_LABEL((e.loc || []).slice(1).join("."))}: ${e.msg}`).join("; ");
      }
      if (typeof detail === "string") return detail;
      return t("Request failed (%(status)s).", { status });
    }
    fieldErrors() {
      const out = {};
      if (Array.isArray(this.detail)) {
        for (const e of this.detail) {
          const loc = e.loc || [];
          const name = loc[loc.length - 1];
          if (typeof name === "string") out[name] = e.msg;
        }
      }
      return out;
    }
  }

  async function api(method, path, body) {
    // The answer's messages in the page's language.
    const init = { method, headers: { "X-Hotline-Console": "1", Accept: "application/json", "Accept-Language": LANG },
                   credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      window.location.assign("/login");
      throw new ApiError(401, t("Logged out."));
    }
    let data = null;
    const type = response.headers.get("content-type") || "";
    if (type.includes("application/json")) data = await response.json();
    // No JSON detail (a proxy's page, a missing route): the status, worded by ApiError.
    if (!response.ok) throw new ApiError(response.status, data ? data.detail : null);
    return data;
  }

  // Live messages with automatic reconnection: 1 s, 2 s, 4 s ... up to 30 s, plus jitter.
  function connectLive(onMessage) {
    const state = document.getElementById("link-state");
    let attempt = 0;
    let socket = null;
    let heartbeat = null;
    function show(text, cls) {
      if (!state) return;
      state.textContent = text;
      state.className = "link-state " + cls;
    }
    function open() {
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(`${scheme}//${window.location.host}/ws/console`);
      show(t("connecting"), "pending");
      socket.addEventListener("open", () => {
        attempt = 0;
        show(t("live"), "ok");
        heartbeat = window.setInterval(() => {
          if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "heartbeat" }));
        }, 15000);
      });
      socket.addEventListener("message", (event) => {
        let message;
        try { message = JSON.parse(event.data); } catch { return; }
        if (message && typeof message.type === "string") onMessage(message);
      });
      socket.addEventListener("close", async () => {
        window.clearInterval(heartbeat);
        // Refused or expired session: api() sends the person to the log-in form on 401.
        try { await api("GET", "/api/me"); } catch (err) { if (err.status === 401) return; }
        const delay = Math.min(30000, 1000 * 2 ** attempt) + Math.floor(Math.random() * 500);
        attempt = Math.min(attempt + 1, 5);
        show(t("offline, retry in %(seconds)d s", { seconds: Math.round(delay / 1000) }), "down");
        window.setTimeout(open, delay);
      });
    }
    open();
  }

  function showEmergency(status) {
    const banner = document.getElementById("emergency-banner");
    if (!banner || !status) return;
    if (status.active) {
      banner.textContent = t("EMERGENCY MODE since %(since)s — %(reason)s (by %(by)s). Record every call on a paper ticket.", {
        since: fmtTime(status.since), reason: status.reason || "", by: status.by || t("system"),
      });
      banner.classList.remove("hidden");
    } else {
      banner.textContent = "";
      banner.classList.add("hidden");
    }
  }

  // The emergency journal's copy on the replicas: while it lags, no paper number is given.
  function showJournal(state) {
    const banner = document.getElementById("journal-banner");
    if (!banner || !state) return;
    if (state.replication === "degraded") {
      banner.textContent = t("The emergency journal is not reaching its second host: no paper numbers are given out meanwhile. Write each call on a blank sheet with the caller's number and the time; the backfill lists these calls once the journal is replicated again.");
      banner.classList.remove("hidden");
    } else {
      banner.textContent = "";
      banner.classList.add("hidden");
    }
  }

  function flash(node, text, ok) {
    node.textContent = text;
    node.className = ok ? "msg ok" : "msg error";
  }

  // --- keyboard ---------------------------------------------------------------------
  // Page shortcuts: {"Alt+r": fn, ...}. Keys are matched on event.code so they work
  // whatever the input method (a Chinese IME changes event.key, not the physical key).
  const shortcuts = new Map();
  function onShortcut(combo, action) { shortcuts.set(combo, action); }
  function comboOf(event) {
    let key = event.code.startsWith("Key") ? event.code.slice(3).toLowerCase() : event.code;
    if (key === "Slash") key = "/";
    return `${event.ctrlKey ? "Ctrl+" : ""}${event.altKey ? "Alt+" : ""}${key}`;
  }
  function typing(target) {
    return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }
  // Field groups: each fieldset / card in order; Alt+↓ / Alt+↑ moves to the next's first field.
  function moveGroup(step) {
    const groups = [...document.querySelectorAll("main > section.card, fieldset.group")]
      .filter((g) => g.offsetParent !== null);
    const firstField = (g) => [...g.querySelectorAll("input, select, textarea, button, summary, a[href]")]
      .find((f) => !f.disabled && f.offsetParent !== null && !groups.some((o) => o !== g && g.contains(o) && o.contains(f)));
    // Document order puts a card before its fieldsets: the last group holding the focus is
    // the innermost one.
    let here = -1;
    groups.forEach((g, i) => { if (g.contains(document.activeElement)) here = i; });
    for (let i = here + step; i >= 0 && i < groups.length; i += step) {
      const field = firstField(groups[i]);
      if (field) { field.focus(); field.scrollIntoView({ block: "nearest" }); return; }
    }
  }
  onShortcut("Alt+ArrowDown", () => moveGroup(1));
  onShortcut("Alt+ArrowUp", () => moveGroup(-1));
  onShortcut("Alt+/", () => {
    const search = document.querySelector("[role=search] input");
    if (search) { search.focus(); search.select(); }
  });
  const help = document.getElementById("shortcuts");
  function showHelp() { if (help && !help.open) help.showModal(); }
  const helpButton = document.getElementById("shortcuts-open");
  if (helpButton) helpButton.addEventListener("click", showHelp);
  document.addEventListener("keydown", (event) => {
    if (event.key === "?" && !typing(event.target) && !event.ctrlKey && !event.altKey) {
      event.preventDefault();
      showHelp();
      return;
    }
    const action = shortcuts.get(comboOf(event));
    if (action && (event.altKey || event.ctrlKey)) {
      event.preventDefault();
      action(event);
    }
  });

  return {
    el, clear, fmtTime, fmtClock, zonedIso, fmtDuration, timeLeft, t, api, ApiError, connectLive,
    showEmergency, showJournal, flash, onShortcut, LANG,
  };
})();
