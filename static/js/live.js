// Live results: every badge with data-poll is refreshed from the JSON API until it is final.
(function () {
  "use strict";
  var INTERVAL_MS = 1000;
  var TEXT = { queued: "Queued", running: "Analysing…", failed: "Analysis failed" };

  function percent(p) {
    return (p * 100).toFixed(p >= 0.995 || p <= 0.005 ? 1 : 0) + "%";
  }

  function render(badge, data) {
    // The badge follows the team's operating point when the API gives it (label_at_operating_point).
    if (data.label_at_operating_point) data = Object.assign({}, data, { label: data.label_at_operating_point });
    badge.className = "result result-" + data.status + (data.label ? " label-" + data.label : "");
    badge.textContent = "";
    if (data.status === "succeeded") {
      badge.append(data.label === "fractured" ? "Suspected fracture " : "No fracture seen ");
      var prob = document.createElement("span");
      prob.className = "prob";
      prob.textContent = percent(data.probability);
      badge.append(prob);
      var threshold = data.operating_threshold === undefined ? data.threshold : data.operating_threshold;
      badge.title = "threshold " + threshold.toFixed(2) + ", model " + data.model_version;
      var row = badge.closest("tr");
      if (row && data.label === "fractured") row.classList.add("row-flag");
    } else {
      badge.textContent = TEXT[data.status] || data.status;
      if (data.status === "failed" && data.error) badge.title = data.error;
    }
    badge.dispatchEvent(new CustomEvent("prediction:update", { bubbles: true, detail: data }));
  }

  // A result that arrives while the page is open is read out by screen readers (base.html).
  function announce(badge, data) {
    var region = document.getElementById("live-announcer");
    if (!region) return;
    var name = badge.getAttribute("data-name");
    var text = data.status === "succeeded"
      ? (data.label === "fractured" ? "Suspected fracture, " : "No fracture seen, ") + percent(data.probability)
      : TEXT[data.status] || data.status;
    region.textContent = (name ? name + ": " : "") + "AI opinion ready: " + text + ".";
  }

  function poll(badge) {
    // A badge taken off the page (a refreshed worklist, another image in the viewer) stops here;
    // its replacement, if still pending, is watched in its turn.
    if (!badge.isConnected) return;
    var url = badge.getAttribute("data-poll");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        render(badge, data);
        if (data.status === "queued" || data.status === "running") {
          setTimeout(function () { poll(badge); }, INTERVAL_MS);
        } else {
          badge.removeAttribute("data-poll");
          announce(badge, data);
        }
      })
      .catch(function () { setTimeout(function () { poll(badge); }, INTERVAL_MS * 5); });
  }

  window.fractureLive = { watch: poll, render: render };
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
  });
})();
