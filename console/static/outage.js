// Supervisor console: the outage announcement callers hear before the level menu.
"use strict";

(() => {
  const { api, fmtTime, flash, t } = Hotline;
  const $ = (id) => document.getElementById(id);

  function show(state) {
    $("out-state").textContent = state.active ? t("ON for %(incident)s", { incident: state.incident }) : t("off");
    $("out-state").dataset.active = String(Boolean(state.active));
    $("out-detail").textContent = state.active
      ? t("since %(since)s by %(by)s: %(text)s", { since: fmtTime(state.since), by: state.by || "?", text: state.text || "" }) : "";
    $("out-off").disabled = !state.active;
  }

  async function load() {
    try { show(await api("GET", "/api/outage")); } catch (err) { flash($("out-msg"), err.message, false); }
  }

  $("out-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const incident = $("out-incident").value.trim();
    const texts = { zh: $("out-zh").value.trim(), en: $("out-en").value.trim() };
    if (!incident || !texts.zh || !texts.en) {
      flash($("out-msg"), t("Give the incident ticket and both texts."), false);
      return;
    }
    $("out-on").disabled = true;
    flash($("out-msg"), t("Recording the announcement…"), true);
    try {
      show(await api("POST", "/api/outage", { incident, texts }));
      flash($("out-msg"), t("Callers now hear the announcement."), true);
    } catch (err) {
      flash($("out-msg"), err.message, false);
    } finally {
      $("out-on").disabled = false;
    }
  });

  $("out-off").addEventListener("click", async () => {
    try {
      show(await api("DELETE", "/api/outage"));
      flash($("out-msg"), t("Announcement stopped."), true);
    } catch (err) {
      flash($("out-msg"), err.message, false);
    }
  });

  load();
  window.setInterval(load, 15000);
})();
