// Shared by the console pages. Data from the server is only ever put in the page with
// textContent / attributes (never innerHTML), so HTML in a ticket shows as text.
"use strict";

const Hotline = (() => {
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

  function fmtTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toLocaleString();
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(ApiError.describe(status, detail));
      this.status = status;
      this.detail = detail;
    }
    static describe(status, detail) {
      if (Array.isArray(detail)) {
        return detail.map((e) => `${(e.loc || []).slice(1).join(".") || "input"}: ${e.msg}`).join("; ");
      }
      if (typeof detail === "string") return detail;
      return `request failed (${status})`;
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
    const init = { method, headers: { "X-Hotline-Console": "1", Accept: "application/json" },
                   credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      window.location.assign("/login");
      throw new ApiError(401, "logged out");
    }
    let data = null;
    const type = response.headers.get("content-type") || "";
    if (type.includes("application/json")) data = await response.json();
    if (!response.ok) throw new ApiError(response.status, data ? data.detail : response.statusText);
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
      show("connecting", "pending");
      socket.addEventListener("open", () => {
        attempt = 0;
        show("live", "ok");
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
        show(`offline, retry in ${Math.round(delay / 1000)} s`, "down");
        window.setTimeout(open, delay);
      });
    }
    open();
  }

  function showEmergency(status) {
    const banner = document.getElementById("emergency-banner");
    if (!banner || !status) return;
    if (status.active) {
      banner.textContent = `EMERGENCY MODE since ${fmtTime(status.since)} — ${status.reason || ""}` +
        ` (by ${status.by || "system"}). Record every call on a paper ticket.`;
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

  return { el, clear, fmtTime, api, ApiError, connectLive, showEmergency, flash };
})();
