// Admin page: console users (list, add, password, disable/enable, role) over /api/users.
// The API refuses to disable or demote the last enabled admin; its message is shown.
"use strict";

(() => {
  const { api, el, clear, flash, t } = Hotline;
  const $ = (id) => document.getElementById(id);
  const ROLE_OPTIONS = $("role-options").content;

  function roleName(role) {
    const option = ROLE_OPTIONS.querySelector(`option[value="${CSS.escape(role)}"]`);
    return option ? option.textContent : role;
  }

  async function act(path, body, done) {
    try {
      const user = await api("POST", path, body);
      flash($("users-msg"), done(user), true);
    } catch (err) {
      flash($("users-msg"), err.message, false);
    }
    await load();
  }

  function row(user) {
    const name = user.username;
    const select = el("select", { "aria-label": t("Role of %(user)s", { user: name }), dataset: { user: name } });
    select.append(ROLE_OPTIONS.cloneNode(true));
    select.value = user.role;
    // Each button's accessible name starts with its visible text, then says whose row it is.
    const change = el("button", {
      type: "button", class: "role-change", "aria-label": `${t("Change role")}: ${name}`,
      onclick: () => act(`/api/users/${encodeURIComponent(name)}/role`, { role: select.value },
        (u) => t("%(user)s is now %(role)s; their sessions have ended.", { user: u.username, role: roleName(u.role) })),
    }, t("Change role"));
    const toggle = el("button", {
      type: "button", class: "enable-toggle",
      "aria-label": `${user.enabled ? t("Disable") : t("Enable")}: ${name}`,
      onclick: () => act(`/api/users/${encodeURIComponent(name)}/${user.enabled ? "disable" : "enable"}`, undefined,
        (u) => (u.enabled ? t("%(user)s is enabled.", { user: u.username })
          : t("%(user)s is disabled; their sessions have ended.", { user: u.username }))),
    }, user.enabled ? t("Disable") : t("Enable"));
    return el("tr", { dataset: { user: name } },
      el("th", { scope: "row", text: name }),
      el("td", { text: roleName(user.role) }),
      el("td", { text: user.interface || "—" }),
      el("td", { text: user.enabled ? t("yes") : t("no"), class: user.enabled ? "state-ok" : "state-down" }),
      el("td", {}, select, " ", change, " ", toggle),
    );
  }

  async function load() {
    let data;
    try {
      data = await api("GET", "/api/users");
    } catch (err) {
      flash($("users-msg"), err.message, false);
      return;
    }
    const body = clear($("users-table").tBodies[0]);
    for (const user of data.items) body.append(row(user));
    const picker = $("pw-user");
    const chosen = picker.value;
    clear(picker);
    for (const user of data.items) picker.append(el("option", { value: user.username, text: user.username }));
    if (chosen) picker.value = chosen;
  }

  $("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      username: $("add-name").value.trim(),
      role: $("add-role").value,
      password: $("add-password").value,
    };
    const iface = $("add-interface").value.trim();
    if (iface) body.interface = iface;
    if (!body.username || !body.password) {
      flash($("add-msg"), t("Give a user name and a password."), false);
      return;
    }
    try {
      const user = await api("POST", "/api/users", body);
      $("add-form").reset();
      flash($("add-msg"), t("User %(user)s added.", { user: user.username }), true);
    } catch (err) {
      flash($("add-msg"), err.message, false);
    }
    await load();
  });

  $("pw-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("pw-user").value;
    const password = $("pw-new").value;
    if (!name || !password) {
      flash($("pw-msg"), t("Choose a user and give the new password."), false);
      return;
    }
    try {
      await api("POST", `/api/users/${encodeURIComponent(name)}/password`, { password });
      $("pw-new").value = "";
      flash($("pw-msg"), t("New password set for %(user)s; their sessions have ended.", { user: name }), true);
    } catch (err) {
      flash($("pw-msg"), err.message, false);
    }
  });

  load();
})();
