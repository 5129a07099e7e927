// On-call page (supervisor and admin): today's duty with a swap per shift, and the pages
// sent with their acknowledgement state.
"use strict";

(() => {
  const { api, el, clear, fmtTime, flash, t } = Hotline;
  const $ = (id) => document.getElementById(id);
  const CHANNELS = { dingtalk: t("DingTalk"), wecom: t("WeCom"), sms: t("SMS"), email: t("e-mail"), webhook: t("webhook") };
  const STATES = {
    requested: t("waiting"), sending: t("sending"), delivered: t("delivered"),
    failed: t("not delivered"), no_one: t("nobody on the rota"),
  };

  function swapForm(shift) {
    const input = el("input", { name: "engineer", maxlength: 100, autocomplete: "off" });
    input.setAttribute("list", "engineers");
    input.setAttribute("aria-label", t("Engineer taking this shift"));
    const form = el("form", { class: "row", dataset: { shift: String(shift.id) } },
      input, el("button", { type: "submit", text: t("Swap") }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const engineer = input.value.trim();
      if (!engineer) return;
      try {
        await api("POST", `/api/oncall/shifts/${shift.id}`, { engineer });
        flash($("duty-msg"), t("%(name)s now has this shift.", { name: engineer }), true);
        load();
      } catch (err) {
        flash($("duty-msg"), err.message, false);
      }
    });
    return form;
  }

  function ackButton(page) {
    const button = el("button", { type: "button", text: t("Acknowledge") });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api("POST", `/api/oncall/pages/${page.id}/ack`);
        load();
      } catch (err) {
        flash($("pages-msg"), err.message, false);
        button.disabled = false;
      }
    });
    return button;
  }

  async function load() {
    let data;
    try {
      data = await api("GET", "/api/oncall?days=2");
    } catch (err) {
      flash($("duty-msg"), err.message, false);
      return;
    }
    $("on-duty").textContent = data.on_duty.length ? data.on_duty.join(", ") : t("nobody");
    const names = clear($("engineers"));
    for (const e of data.engineers) names.append(el("option", { value: e.engineer }));
    const shifts = clear($("shifts").tBodies[0]);
    for (const shift of data.items) {
      shifts.append(el("tr", { class: shift.on_duty ? "current" : "", dataset: { shift: String(shift.id) } },
        el("td", { text: fmtTime(shift.start) }),
        el("td", { text: fmtTime(shift.end) }),
        el("td", { text: shift.engineer }),
        el("td", { text: shift.phone }),
        el("td", { text: CHANNELS[shift.channel] || shift.channel }),
        el("td", {}, swapForm(shift)),
      ));
    }
    const pages = clear($("page-list").tBodies[0]);
    for (const page of data.pages) {
      pages.append(el("tr", { dataset: { page: String(page.id) } },
        el("td", { text: fmtTime(page.requested_at) }),
        el("td", { text: page.ticket_number }),
        el("td", { text: page.site_code || "—" }),
        el("td", { text: page.caller_number || "—" }),
        el("td", { text: page.engineer || "—" }),
        el("td", { text: STATES[page.state] || page.state, title: page.last_error || null }),
        el("td", {}, page.acknowledged
          ? el("span", { text: t("%(name)s at %(time)s", { name: page.acked_by, time: fmtTime(page.acked_at) }) })
          : ackButton(page)),
      ));
    }
    flash($("pages-msg"), t("%(count)d pages.", { count: data.pages.length }), true);
  }

  load();
  setInterval(load, 30000);
})();
