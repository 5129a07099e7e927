// Renders a site record (routing.records.SiteRecord as JSON) as DOM, text only: the pop's
// first screen (summary) and the full record below it (render).
"use strict";

const SiteRecordView = (() => {
  const { el, fmtTime, t } = Hotline;

  const TIERS = { province: t("province"), city: t("city"), county: t("county"), township: t("township") };
  const STATUS = {
    open: t("open"), callback_due: t("callback due"), in_progress: t("in progress"),
    resolved: t("resolved"), closed: t("closed"),
  };
  const LEVEL = { 1: t("1 critical"), 2: t("2 major"), 3: t("3 minor"), 4: t("4 consultation") };
  function tierName(tier) { return tier ? TIERS[tier] || tier : "—"; }

  function row(label, value) {
    return [el("dt", { text: label }), el("dd", { text: value === null || value === undefined || value === "" ? "—" : value })];
  }

  function table(headers, rows, id) {
    return el("table", { class: "grid", id },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", { text: c ?? "—" }))))));
  }

  function warranty(end, inWarranty) {
    if (!end) return inWarranty ? t("in warranty") : t("no warranty");
    return inWarranty ? t("in warranty (until %(date)s)", { date: end }) : t("OUT of warranty (ended %(date)s)", { date: end });
  }

  // In warranty when every piece of equipment is; without equipment, by the contract's date.
  function inWarranty(site) {
    const equipment = site.equipment || [];
    if (equipment.length) return equipment.every((e) => e.in_warranty);
    const end = site.contract && site.contract.warranty_end;
    return Boolean(end) && end >= new Date().toISOString().slice(0, 10);
  }

  function ticketButton(number, onTicket) {
    return onTicket
      ? el("button", { type: "button", class: "link-button", text: number, onclick: () => onTicket(number) })
      : number;
  }

  // What the agent needs in the first three seconds of the call.
  function summary(site, level, onTicket) {
    const covered = inWarranty(site);
    const engineers = (site.engineers || []).map((e) => `${e.name}${e.phone ? ` ${e.phone}` : ""}`).join("、") || t("none assigned");
    const open = site.open_tickets || [];
    return el("div", { class: "summary", dataset: { site: site.site_code } },
      el("p", { class: "badges" },
        level ? el("span", { class: `badge level-${level}`, id: "pop-level", text: LEVEL[level] || String(level) }) : null,
        el("span", { class: `badge ${covered ? "ok" : "bad"}`, id: "pop-warranty", text: covered ? t("in warranty") : t("out of warranty") }),
        el("span", { class: "badge tier", id: "pop-contract", text: site.contract ? t("contract: %(tier)s", { tier: site.contract.tier }) : t("no contract") })),
      el("dl", { class: "meta" },
        row(t("Organisation"), site.organisation),
        row(t("Site"), `${site.site_name} (${site.site_code}) · ${tierName(site.tier)}`),
        row(t("Assigned engineer"), engineers)),
      el("h4", { text: t("Open tickets of this site (%(count)d)", { count: open.length }) }),
      open.length
        ? el("ul", { class: "open-tickets", id: "pop-open-tickets" }, open.map((tk) => el("li", {},
            ticketButton(tk.number, onTicket), ` · ${LEVEL[tk.level] || tk.level} · ${STATUS[tk.status] || tk.status} · ${tk.symptom || ""}`)))
        : el("p", { id: "pop-open-tickets", text: t("No open ticket.") }));
  }

  function render(site, onTicket) {
    const distance = site.distance_km === null || site.distance_km === undefined ? "" : ` · ${site.distance_km} km`;
    const contract = site.contract
      ? t("%(tier)s · warranty until %(date)s", { tier: site.contract.tier, date: site.contract.warranty_end || "—" })
      : t("none");
    const heads = [t("Number"), t("Opened"), t("Level"), t("Status"), t("Symptom"), t("Resolution")];
    const ticketRows = (list) => (list || []).map((tk) => [tk.number, fmtTime(tk.created_at), LEVEL[tk.level] || String(tk.level), STATUS[tk.status] || tk.status, tk.symptom, tk.resolution]);
    const box = el("div", { class: "site-record", dataset: { site: site.site_code } },
      el("dl", { class: "meta" },
        row(t("Organisation"), site.organisation),
        row(t("Site"), `${site.site_name} (${site.site_code})`),
        row(t("Customer"), site.customer_id),
        row(t("Tier"), tierName(site.tier)),
        row(t("Address"), `${site.address || "—"}${distance}`),
        row(t("Contract"), contract),
        row(t("Network notes"), site.network_notes)),
      el("h4", { text: t("Contacts") }),
      table([t("Name"), t("Phone")], (site.contacts || []).map((c) => [c.name, c.phone]), "site-contacts"),
      el("h4", { text: t("Equipment") }),
      table([t("Kind"), t("Model"), t("Serial"), t("Warranty")],
        (site.equipment || []).map((e) => [e.kind, e.model, e.serial, warranty(e.warranty_end, e.in_warranty)]), "site-equipment"),
      el("h4", { text: t("Engineers") }),
      table([t("Name"), t("Phone")], (site.engineers || []).map((e) => [e.name, e.phone]), "site-engineers"),
      el("h4", { text: t("Open tickets") }),
      table(heads, ticketRows(site.open_tickets), "site-open-tickets"),
      el("h4", { text: t("Last tickets") }),
      table(heads, ticketRows(site.recent_tickets), "site-recent-tickets"));
    if (onTicket) {
      for (const cell of box.querySelectorAll("#site-open-tickets tbody tr td:first-child, #site-recent-tickets tbody tr td:first-child")) {
        const number = cell.textContent;
        cell.textContent = "";
        cell.append(ticketButton(number, onTicket));
      }
    }
    return box;
  }

  return { render, summary, tierName };
})();
