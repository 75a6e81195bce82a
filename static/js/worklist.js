// Live worklist: the counts and the order change as predictions finish and cases arrive, without a
// reload. The server renders the fragment (same template as the page); badges still pending in it
// are handed to live.js, which polls each prediction.
(function () {
  "use strict";
  var REFRESH_MS = 15000;
  var AFTER_RESULT_MS = 300;

  function refresh(region) {
    // Never pull the rows from under the keyboard focus (or a half-read screen reader list).
    if (region.contains(document.activeElement) && document.activeElement !== document.body) return;
    fetch(region.getAttribute("data-fragment-url"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        if (region.contains(document.activeElement) && document.activeElement !== document.body) return;
        region.innerHTML = html;
        // The old badges stopped polling when they left the page (live.js): watch the new ones.
        region.querySelectorAll("[data-poll]").forEach(window.fractureLive.watch);
      })
      .catch(function () { /* the next tick tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var region = document.getElementById("worklist-live");
    if (!region || !window.fractureLive) return;
    var pending = null;
    region.addEventListener("prediction:update", function (e) {
      if (e.detail.status === "queued" || e.detail.status === "running" || pending) return;
      pending = setTimeout(function () { pending = null; refresh(region); }, AFTER_RESULT_MS);
    });
    setInterval(function () { if (!document.hidden) refresh(region); }, REFRESH_MS);
  });
})();
