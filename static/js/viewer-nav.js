// Next/previous image of the case without leaving the viewer. The links work on their own (each
// loads the neighbouring radiograph's page); with this script, the server renders that page's
// content (?fragment=1: same view, same team scoping, same audit event) and the per-image parts
// ([data-swap], the image and its heat map) replace the current ones in place. The viewer itself
// is not replaced, so its display settings and full screen stay; viewer.js hears "viewer:image".
(function () {
  "use strict";
  var LINKS = "#viewer-previous, #viewer-next";
  var latest = 0; // a newer request wins: an older answer is dropped
  var loading = null; // the page being fetched for a click; another click waits for it

  function fragmentUrl(href) {
    var url = new URL(href, window.location.href);
    url.hash = "";
    url.searchParams.set("fragment", "1");
    return url.toString();
  }

  // The new image (and heat map) decoded before anything is swapped: no flash of the old picture
  // under the new caption. The <img> then takes it from the browser's cache.
  function preload(doc) {
    var sources = ["viewer-image", "viewer-overlay"].map(function (id) { return doc.getElementById(id); })
      .filter(Boolean).map(function (el) { return el.getAttribute("src"); });
    return Promise.all(sources.map(function (src) {
      var image = new Image();
      image.src = src;
      return image.decode().catch(function () { /* the <img> shows its own broken state */ });
    }));
  }

  function swapImages(doc) {
    var img = document.getElementById("viewer-image");
    var fresh = doc.getElementById("viewer-image");
    ["alt", "data-natural-width", "data-natural-height", "src"].forEach(function (name) {
      img.setAttribute(name, fresh.getAttribute(name));
    });
    var old = document.getElementById("viewer-overlay");
    var overlay = doc.getElementById("viewer-overlay");
    if (old) old.remove();
    if (overlay) img.after(document.importNode(overlay, true));
  }

  function swap(doc) {
    var root = document.getElementById("radiograph-page");
    var fresh = doc.getElementById("radiograph-page");
    var focused = document.activeElement;
    var focusedPart = focused && focused.closest("[data-swap]");
    var focusedId = focused && focused.id;
    root.querySelectorAll("[data-swap]").forEach(function (part) {
      var replacement = fresh.querySelector('[data-swap="' + part.getAttribute("data-swap") + '"]');
      if (replacement) part.replaceWith(document.importNode(replacement, true));
    });
    swapImages(doc);
    // "Your read is recorded" and the like were about the page as loaded, not the image now shown.
    document.querySelectorAll("main .messages").forEach(function (list) { list.parentNode.remove(); });
    ["data-url", "data-title", "data-announce"].forEach(function (name) {
      root.setAttribute(name, fresh.getAttribute(name));
    });
    document.title = root.getAttribute("data-title");
    document.getElementById("viewer").dispatchEvent(new CustomEvent("viewer:image"));
    if (window.fractureLive) root.querySelectorAll("[data-poll]").forEach(window.fractureLive.watch);
    // The focus was on something now replaced (the link just followed): give it to the same link
    // of the new image, or to the image itself when there is no such link (the last image).
    if (focusedPart) (focusedId && document.getElementById(focusedId) || document.getElementById("viewer-stage")).focus();
    document.getElementById("viewer-announcer").textContent = root.getAttribute("data-announce");
  }

  function show(href, push) {
    var ticket = ++latest;
    var viewer = document.getElementById("viewer");
    viewer.setAttribute("aria-busy", "true");
    return fetch(fragmentUrl(href), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        // A redirect here is the log-in page (the session ended): let the browser go there.
        if (!r.ok || r.redirected) throw new Error(r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        if (!doc.getElementById("radiograph-page")) throw new Error("not a radiograph page");
        return preload(doc).then(function () { return doc; });
      })
      .then(function (doc) {
        if (ticket !== latest) return;
        swap(doc);
        if (push) window.history.pushState({ radiograph: true }, "", href);
        viewer.removeAttribute("aria-busy");
      })
      .catch(function () {
        if (ticket !== latest) return;
        if (push) window.location.assign(href);
        else window.location.reload();
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("radiograph-page");
    if (!root || !window.fetch || !window.history.pushState || !document.getElementById("viewer")) return;
    window.history.replaceState({ radiograph: true }, "");
    document.addEventListener("click", function (e) {
      var link = e.target.closest && e.target.closest(LINKS);
      // A new tab or window (modifier keys, middle button) is the browser's business.
      if (!link || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      if (loading) return;
      loading = show(link.href, true).then(function () { loading = null; });
    });
    // Back and forward: the address already names the image; show it if it is not the one shown
    // (a fragment-only change such as the skip link's "#main" keeps the same image).
    window.addEventListener("popstate", function () {
      if (window.location.pathname !== root.getAttribute("data-url")) show(window.location.href, false);
    });
  });
})();
