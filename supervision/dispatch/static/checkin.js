// The engineer's check-in page: one POST per step to this page's own URL (the token in
// the URL is the credential). "Arrived" adds the phone's position when allowed.
"use strict";

(function () {
  const result = document.getElementById("result");
  const shareLocation = document.getElementById("share-location");
  const section = document.getElementById("ticket");

  function enable(state) {
    section.dataset.state = state;
    const arrived = ["on_site", "fixed", "part_needed"].includes(state);
    const done = state === "fixed" || state === "closed";
    for (const button of document.querySelectorAll("button.step")) {
      const step = button.dataset.step;
      if (done) button.disabled = true;
      else if (step === "on_the_way") button.disabled = arrived || state === "on_the_way";
      else if (step === "arrived") button.disabled = arrived;
      else button.disabled = !arrived || (step === "part_needed" && state === "part_needed");
    }
  }

  function position() {
    if (!shareLocation || !shareLocation.checked || !navigator.geolocation) {
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      navigator.geolocation.getCurrentPosition(
        (p) => resolve(p.coords),
        () => resolve(null),
        { enableHighAccuracy: true, timeout: 8000, maximumAge: 60000 },
      );
    });
  }

  async function send(step) {
    const body = { status: step };
    if (step === "arrived") {
      const coords = await position();
      if (coords) {
        body.latitude = coords.latitude;
        body.longitude = coords.longitude;
        body.accuracy = coords.accuracy;
      }
    }
    const response = await fetch(window.location.pathname, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept-Language": document.documentElement.lang },
      body: JSON.stringify(body),
      credentials: "omit",
    });
    const answer = await response.json();
    result.textContent = answer.message || "";
    if (response.ok) {
      enable(answer.state);
      if (answer.onsite_at) document.getElementById("arrived-at").textContent = answer.onsite_local;
    }
  }

  for (const button of document.querySelectorAll("button.step")) {
    button.addEventListener("click", () => {
      button.disabled = true;
      send(button.dataset.step).catch(() => {
        button.disabled = false;
        result.textContent = "\u2014";
      });
    });
  }
  enable(section.dataset.state);
})();
