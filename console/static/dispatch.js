// Engineer dispatch on the agent console: who is sent, where they are, the next clock;
// send an engineer (the site's assigned engineers are offered first) or record an
// arrival the engineer phoned in. Follows the ticket shown in the editor.
"use strict";

(() => {
  const { el, clear, fmtTime, timeLeft, t, api, flash } = Hotline;
  const $ = (id) => document.getElementById(id);
  let ticket = null;

  const STATE = {
    none: t("not dispatched"), dispatched: t("dispatched"), on_the_way: t("on the way"),
    on_site: t("on site"), fixed: t("fixed on site"), part_needed: t("waiting for a spare part"),
    superseded: t("re-dispatched"),
  };
  const CLOCK = {
    response: t("first response"), onsite: t("arrival on site"), part_decision: t("part decision"),
    part_shipment: t("part shipment"), part_arrival: t("part arrival"),
  };
  const CLOCK_STATE = { running: t("running"), met: t("met"), breached: t("breached"), paused: t("paused") };
  const NOTICE = {
    pending: t("notice being sent"), retrying: t("notice not delivered yet, retrying"),
    delivered: t("notice delivered"), failed: t("notice failed: phone the engineer"),
    none: t("no notice sent: read the link out"),
  };

  function clockText(c) {
    const when = c.state === "met" ? `${t("met")} ${fmtTime(c.met_at)}` : `${fmtTime(c.due)} · ${CLOCK_STATE[c.state] || c.state}`;
    return `${CLOCK[c.kind] || c.kind}: ${when}${c.state === "running" ? `（${timeLeft(c.due)}）` : ""}`;
  }

  function nextClock(clocks) {
    const live = clocks.filter((c) => c.state === "running" || c.state === "breached" || c.state === "paused");
    live.sort((a, b) => new Date(a.due) - new Date(b.due));
    return live[0] || null;
  }

  function render(answer) {
    const active = answer.items.filter((d) => d.state !== "superseded").pop() || null;
    const state = active ? active.state : "none";
    $("dispatch-state").dataset.state = state;
    $("dispatch-state").textContent = active
      ? `${STATE[state] || state} · ${active.engineer} · ${t("sent")} ${fmtTime(active.dispatched_at)}`
      : STATE.none;
    const notice = $("dispatch-notice");
    notice.dataset.state = active ? active.notice : "";
    notice.textContent = active ? NOTICE[active.notice] || active.notice : "";
    const next = nextClock(answer.clocks);
    $("dispatch-next").textContent = next ? `${t("Next:")} ${clockText(next)}` : "";
    const clocks = clear($("dispatch-clocks"));
    for (const c of answer.clocks) {
      clocks.append(el("li", { text: clockText(c), "data-kind": c.kind, "data-state": c.state }));
    }
    const where = $("dispatch-location");
    if (active && active.location) {
      where.textContent = t("Checked in at %(lat)s, %(lon)s (site address: %(address)s)", {
        lat: active.location.latitude.toFixed(5), lon: active.location.longitude.toFixed(5),
        address: answer.site_address || "—",
      });
      where.classList.remove("hidden");
    } else where.classList.add("hidden");
    const names = clear($("dp-engineers"));
    for (const e of answer.engineers) {
      names.append(el("option", {
        value: e.name, "data-phone": e.phone, label: e.assigned ? `${e.name} · ${t("assigned to the site")}` : e.name,
      }));
    }
    const pop = $("pop-summary");
    if (pop && !$("pop").classList.contains("hidden")) {
      const line = $("pop-dispatch") || pop.appendChild(el("p", { id: "pop-dispatch" }));
      line.textContent = `${t("Engineer dispatch")}: ${$("dispatch-state").textContent}${next ? ` · ${t("Next:")} ${clockText(next)}` : ""}`;
    }
  }

  async function load() {
    if (!ticket) return;
    try {
      const answer = await api("GET", `/api/tickets/${encodeURIComponent(ticket.number)}/dispatches`);
      render(answer);
    } catch (err) {
      flash($("dp-msg"), err.message, false);
    }
  }

  document.addEventListener("hotline:ticket", (event) => {
    const changed = !ticket || ticket.number !== event.detail.number;
    ticket = event.detail;
    if (changed) {
      $("dp-link").classList.add("hidden");
      $("dp-engineer").value = "";
    }
    load();
  });

  $("dp-engineer").addEventListener("change", () => {
    const chosen = [...$("dp-engineers").options].find((o) => o.value === $("dp-engineer").value);
    if (chosen && !$("dp-phone").value) {
      const known = chosen.dataset.phone;
      if (known) $("dp-phone").value = known;
    }
  });

  $("dispatch-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!ticket) return;
    const body = { engineer: $("dp-engineer").value.trim() };
    if (!body.engineer) {
      flash($("dp-msg"), t("Choose the engineer to send."), false);
      return;
    }
    if ($("dp-phone").value.trim()) body.phone = $("dp-phone").value.trim();
    if ($("dp-channel").value) body.channel = $("dp-channel").value;
    if ($("dp-address").value.trim()) body.address = $("dp-address").value.trim();
    try {
      const answer = await api("POST", `/api/tickets/${encodeURIComponent(ticket.number)}/dispatch`, body);
      flash($("dp-msg"), t("Dispatched: %(engineer)s", { engineer: answer.engineer }), true);
      const link = clear($("dp-link"));
      link.append(t("Check-in link:"), " ", el("code", { id: "dp-checkin-url", text: answer.checkin_url }));
      link.classList.remove("hidden");
      const fresh = await api("GET", `/api/tickets/${encodeURIComponent(ticket.number)}`);
      document.dispatchEvent(new CustomEvent("hotline:ticket-updated", { detail: fresh }));
    } catch (err) {
      flash($("dp-msg"), err.message, false);
    }
  });

  $("dp-arrived").addEventListener("click", async () => {
    if (!ticket) return;
    try {
      const answer = await api("PATCH", `/api/tickets/${encodeURIComponent(ticket.number)}`, {
        onsite_at: new Date().toISOString(), note: t("arrival reported by phone"),
      });
      flash($("dp-msg"), t("Arrival recorded."), true);
      document.dispatchEvent(new CustomEvent("hotline:ticket-updated", { detail: answer }));
    } catch (err) {
      flash($("dp-msg"), err.message, false);
    }
  });
})();
