// Audit page (supervisor and admin): the access audit trail, newest first, with filters.
"use strict";

(() => {
  const { api, el, clear, fmtTime, flash, t, zonedIso } = Hotline;
  const $ = (id) => document.getElementById(id);
  const LIMIT = 200;

  // An action's name as the filter's options word it (the page's language).
  function actionLabel(action) {
    const option = $("f-action").querySelector(`option[value="${CSS.escape(action)}"]`);
    return option ? option.textContent : action;
  }

  function detailText(detail) {
    return Object.entries(detail || {})
      .filter(([key]) => key !== "user_agent")
      .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
      .join(", ");
  }

  // Answers can arrive out of order (a filter changed while the last one was loading):
  // only the answer to the latest request is shown.
  let asked = 0;
  async function load() {
    const mine = ++asked;
    const params = new URLSearchParams({ limit: String(LIMIT) });
    const actor = $("f-actor").value.trim();
    const action = $("f-action").value;
    const sinceText = $("f-since").value.trim();
    if (actor) params.set("actor", actor);
    if (action) params.set("action", action);
    if (sinceText) {
      const since = zonedIso(sinceText);
      if (!since) {
        flash($("audit-msg"), t("Write the time as YYYY-MM-DD HH:MM."), false);
        $("f-since").setAttribute("aria-invalid", "true");
        $("f-since").focus();
        return;
      }
      params.set("since", since);
    }
    $("f-since").removeAttribute("aria-invalid");
    let data;
    try {
      data = await api("GET", `/api/audit?${params}`);
    } catch (err) {
      if (mine === asked) flash($("audit-msg"), err.message, false);
      return;
    }
    if (mine !== asked) return;
    const body = clear($("audit-items").tBodies[0]);
    for (const item of data.items) {
      const agent = item.detail && item.detail.user_agent;
      body.append(el("tr", { dataset: { action: item.action } },
        el("td", { text: fmtTime(item.at) }),
        el("td", { text: item.actor }),
        el("td", { text: actionLabel(item.action) }),
        el("td", { text: item.client || "—", title: agent || null }),
        el("td", { text: detailText(item.detail) }),
      ));
    }
    flash($("audit-msg"), data.items.length >= LIMIT
      ? t("The newest %(count)d entries; narrow the filters to see older ones.", { count: data.items.length })
      : t("%(count)d entries.", { count: data.items.length }), true);
  }

  $("audit-filter").addEventListener("submit", (event) => { event.preventDefault(); load(); });
  $("f-clear").addEventListener("click", () => { $("audit-filter").reset(); load(); });
  load();
})();
