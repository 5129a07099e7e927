// Renders a site record (routing.records.SiteRecord as JSON) as DOM, text only.
"use strict";

const SiteRecordView = (() => {
  const { el, fmtTime } = Hotline;

  function row(label, value) {
    return [el("dt", { text: label }), el("dd", { text: value === null || value === undefined || value === "" ? "—" : value })];
  }

  function table(headers, rows, id) {
    return el("table", { class: "grid", id },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", { text: c ?? "—" }))))));
  }

  function warranty(end, inWarranty) {
    if (!end) return inWarranty ? "in warranty" : "no warranty";
    return `${inWarranty ? "in warranty" : "OUT of warranty"} (until ${end})`;
  }

  function render(site, onTicket) {
    const distance = site.distance_km === null || site.distance_km === undefined ? "" : ` · ${site.distance_km} km`;
    const contract = site.contract ? `${site.contract.tier} · warranty until ${site.contract.warranty_end || "—"}` : "none";
    const ticketRows = (list) => (list || []).map((t) => [t.number, fmtTime(t.created_at), String(t.level), t.status, t.symptom, t.resolution]);
    const box = el("div", { class: "site-record", dataset: { site: site.site_code } },
      el("dl", { class: "meta" },
        row("Organisation", site.organisation),
        row("Site", `${site.site_name} (${site.site_code})`),
        row("Customer", site.customer_id),
        row("Tier", site.tier),
        row("Address", `${site.address || "—"}${distance}`),
        row("Contract", contract),
        row("Network notes", site.network_notes)),
      el("h4", { text: "Contacts" }),
      table(["Name", "Phone"], (site.contacts || []).map((c) => [c.name, c.phone]), "site-contacts"),
      el("h4", { text: "Equipment" }),
      table(["Kind", "Model", "Serial", "Warranty"],
        (site.equipment || []).map((e) => [e.kind, e.model, e.serial, warranty(e.warranty_end, e.in_warranty)]), "site-equipment"),
      el("h4", { text: "Engineers" }),
      table(["Name", "Phone"], (site.engineers || []).map((e) => [e.name, e.phone]), "site-engineers"),
      el("h4", { text: "Open tickets" }),
      table(["Number", "Opened", "Level", "Status", "Symptom", "Resolution"], ticketRows(site.open_tickets), "site-open-tickets"),
      el("h4", { text: "Last tickets" }),
      table(["Number", "Opened", "Level", "Status", "Symptom", "Resolution"], ticketRows(site.recent_tickets), "site-recent-tickets"));
    if (onTicket) {
      for (const cell of box.querySelectorAll("#site-open-tickets tbody tr td:first-child, #site-recent-tickets tbody tr td:first-child")) {
        cell.classList.add("link");
        cell.addEventListener("click", () => onTicket(cell.textContent));
      }
    }
    return box;
  }

  return { render };
})();
