// Agent and supervisor pages: the person changes their own password. The answer carries
// the new session (cookie); every other session of theirs ends.
"use strict";

(() => {
  const { api, flash, t } = Hotline;
  const $ = (id) => document.getElementById(id);
  const form = $("own-password-form");
  if (!form) return;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const current = $("own-current").value;
    const fresh = $("own-new").value;
    if (!current || !fresh) {
      flash($("own-password-msg"), t("Give your current password and a new one."), false);
      return;
    }
    if (fresh !== $("own-repeat").value) {
      flash($("own-password-msg"), t("The two new passwords differ."), false);
      $("own-repeat").focus();
      return;
    }
    $("own-password-submit").disabled = true;
    try {
      await api("POST", "/api/me/password", { current, new: fresh });
      form.reset();
      flash($("own-password-msg"), t("Password changed. Your other sessions have ended."), true);
    } catch (err) {
      flash($("own-password-msg"), err.message, false);
    } finally {
      $("own-password-submit").disabled = false;
    }
  });
})();
