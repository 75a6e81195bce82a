// Live worklist: the counts and the order change as predictions finish and cases arrive, without a
// reload. The server renders the fragment (same template as the page); badges still pending in it
// are handed to live.js, which polls each prediction.
(function () {
  "use strict";
  var REFRESH_MS = 15000;
  var AFTER_RESULT_MS = 300;

  function refresh(region, watched) {
    // Never pull the rows from under the keyboard focus (or a half-read screen reader list).
    if (region.contains(document.activeElement) && document.activeElement !== document.body) return;
    fetch(region.getAttribute("data-fragment-url"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        if (region.contains(document.activeElement) && document.activeElement !== document.body) return;
        region.innerHTML = html;
        region.querySelectorAll("[data-poll]").forEach(function (badge) {
          var id = badge.getAttribute("data-prediction");
          if (watched[id]) return;
          watched[id] = true;
          window.fractureLive.watch(badge);
        });
      })
      .catch(function () { /* the next tick tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var region = document.getElementById("worklist-live");
    if (!region || !window.fractureLive) return;
    var watched = {};
    region.querySelectorAll("[data-poll]").forEach(function (b) { watched[b.getAttribute("data-prediction")] = true; });
    var pending = null;
    region.addEventListener("prediction:update", function (e) {
      if (e.detail.status === "queued" || e.detail.status === "running" || pending) return;
      pending = setTimeout(function () { pending = null; refresh(region, watched); }, AFTER_RESULT_MS);
    });
    setInterval(function () { if (!document.hidden) refresh(region, watched); }, REFRESH_MS);
  });
})();
