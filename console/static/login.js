// Log-in page: ask for desktop notifications while the person is here (a click on the
// log-in button is the gesture browsers want), so a ringing call can raise one later.
"use strict";

(() => {
  const form = document.getElementById("login-form");
  if (!form || !("Notification" in window)) return;
  form.addEventListener("submit", () => {
    if (Notification.permission === "default") Notification.requestPermission().catch(() => {});
  });
})();
