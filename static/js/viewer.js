// The radiograph viewer: zoom, pan and pinch come from Panzoom (static/vendor/panzoom-4.6.2);
// this file adds the reading controls around it. Everything is display-only: CSS transforms and
// filters on the <img>, the stored original is never touched. viewer-nav.js swaps the image of the
// case shown here and says so with a "viewer:image" event; the display settings stay.
(function () {
  "use strict";
  var LEVELS = { brightness: [20, 300], contrast: [20, 400] };
  var KEY_PAN_PX = 60;
  var STEP = 0.25; // zoom step of the buttons, keys and wheel
  var PANZOOM_PINCH_PX = 80; // Panzoom's pinch: scale = start + step * (distance - start distance) / 80
  var LEVEL_PER_PX = 0.5; // percent of brightness/contrast per pixel dragged

  function clamp(value, range) { return Math.min(range[1], Math.max(range[0], value)); }

  function isTyping(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function setUp(viewer) {
    var stage = viewer.querySelector("#viewer-stage");
    var pan = viewer.querySelector("#viewer-pan");
    var img = viewer.querySelector("#viewer-image");
    var overlay, opacity, declared; // the AI heat map and its slider, when there is one; see bind()
    var sliders = {
      brightness: viewer.querySelector("#viewer-brightness"),
      contrast: viewer.querySelector("#viewer-contrast"),
    };
    var zoomLabel = viewer.querySelector("#viewer-zoom-value");
    var state = { rotation: 0, invert: false, levelTool: false, overlay: false, opacity: null };
    var panzoom = window.Panzoom(pan, {
      canvas: true, // drag anywhere on the stage, not only on the image
      maxScale: 32,
      minScale: 0.1,
      step: STEP,
      cursor: "grab",
      animate: false,
    });

    // The parts that belong to one image; called again when another image of the case is shown.
    function bind() {
      overlay = viewer.querySelector("#viewer-overlay");
      opacity = viewer.querySelector("#viewer-overlay-opacity");
      if (opacity && state.opacity !== null) opacity.value = state.opacity;
      declared = [parseInt(img.getAttribute("data-natural-width"), 10), parseInt(img.getAttribute("data-natural-height"), 10)];
    }

    function natural() {
      return img.naturalWidth ? [img.naturalWidth, img.naturalHeight] : declared;
    }

    // The fitted view fills the stage, small images included (upscaled for display only).
    function layout() {
      var size = natural();
      if (!size[0] || !size[1] || !stage.clientWidth) return;
      var k = Math.min(stage.clientWidth / size[0], stage.clientHeight / size[1]);
      img.style.width = Math.round(size[0] * k) + "px";
      img.style.height = Math.round(size[1] * k) + "px";
      if (overlay) { overlay.style.width = img.style.width; overlay.style.height = img.style.height; }
    }

    function button(action) { return viewer.querySelector('[data-action="' + action + '"]'); }

    // A quarter turn swaps width and height: shrink the image so the fitted view still fits.
    function rotationFit() {
      if (state.rotation % 180 === 0 || !img.clientWidth || !img.clientHeight) return 1;
      var w = img.clientWidth, h = img.clientHeight;
      return Math.min(stage.clientWidth / h, stage.clientHeight / w);
    }

    function paint() {
      var fit = rotationFit();
      img.style.transform = "rotate(" + state.rotation + "deg)" + (fit !== 1 ? " scale(" + fit.toFixed(4) + ")" : "");
      if (overlay) {
        // Follows zoom and pan (same Panzoom layer) and rotation; never the grey-level filters.
        overlay.style.transform = img.style.transform;
        overlay.hidden = !state.overlay;
        overlay.style.opacity = String(opacity.value / 100);
        opacity.disabled = !state.overlay;
        viewer.querySelector("#viewer-overlay-opacity-value").textContent = opacity.value + "%";
        button("overlay").setAttribute("aria-pressed", String(state.overlay));
      }
      img.style.filter = "brightness(" + sliders.brightness.value + "%) contrast(" + sliders.contrast.value + "%)" +
        (state.invert ? " invert(1)" : "");
      viewer.querySelector("#viewer-brightness-value").textContent = sliders.brightness.value + "%";
      viewer.querySelector("#viewer-contrast-value").textContent = sliders.contrast.value + "%";
      button("invert").setAttribute("aria-pressed", String(state.invert));
      button("tool").setAttribute("aria-pressed", String(state.levelTool));
      stage.classList.toggle("level-tool", state.levelTool);
    }

    // Zoom as image pixels per screen pixel (100% = 1:1), which is what a reader means by zoom.
    function showZoom() {
      var shown = img.clientWidth * rotationFit() * panzoom.getScale();
      zoomLabel.textContent = natural()[0] ? Math.round(shown / natural()[0] * 100) + "%" : "";
      stage.setAttribute("data-scale", panzoom.getScale().toFixed(4));
    }

    function setLevel(name, value) {
      sliders[name].value = String(Math.round(clamp(value, LEVELS[name])));
      paint();
    }

    var actions = {
      "zoom-in": function () { panzoom.zoomIn({ animate: false }); },
      "zoom-out": function () { panzoom.zoomOut({ animate: false }); },
      fit: function () { panzoom.reset({ animate: false }); },
      actual: function () {
        var shown = img.clientWidth * rotationFit();
        if (shown) panzoom.zoom(natural()[0] / shown, { animate: false, force: true });
      },
      rotate: function () { state.rotation = (state.rotation + 90) % 360; paint(); panzoom.reset({ animate: false }); },
      invert: function () { state.invert = !state.invert; paint(); },
      overlay: function () { if (overlay) { state.overlay = !state.overlay; paint(); } },
      tool: function () { state.levelTool = !state.levelTool; panzoom.setOptions({ disablePan: state.levelTool }); paint(); },
      reset: function () {
        state.rotation = 0; state.invert = false; state.levelTool = false;
        sliders.brightness.value = "100"; sliders.contrast.value = "100";
        panzoom.setOptions({ disablePan: false });
        paint();
        panzoom.reset({ animate: false });
      },
      fullscreen: function () {
        if (document.fullscreenElement) document.exitFullscreen();
        else if (viewer.requestFullscreen) viewer.requestFullscreen();
      },
    };

    // Delegated: the heat-map button and slider are replaced with each image.
    viewer.addEventListener("click", function (e) {
      var el = e.target.closest("[data-action]");
      if (el) { actions[el.getAttribute("data-action")](); showZoom(); }
    });
    viewer.addEventListener("input", function (e) {
      if (e.target === opacity) state.opacity = opacity.value;
      paint();
    });
    stage.addEventListener("wheel", panzoom.zoomWithWheel);

    // Panzoom's pinch adds scale per pixel the fingers move, so doubling the gap from 1x gives
    // 1.25x and zooming far in takes many gestures. For the pinch only, its step is chosen so that
    // the scale follows the fingers: twice the gap, twice the zoom.
    var touches = {};
    function gap() {
      var p = Object.keys(touches).map(function (id) { return touches[id]; });
      return Math.hypot(p[0].x - p[1].x, p[0].y - p[1].y);
    }
    stage.addEventListener("pointerdown", function (e) {
      if (e.pointerType !== "touch") return;
      touches[e.pointerId] = { x: e.clientX, y: e.clientY };
      if (Object.keys(touches).length === 2 && gap() > 0) {
        panzoom.setOptions({ step: PANZOOM_PINCH_PX * panzoom.getScale() / gap() });
      }
    }, true);
    function lift(e) {
      if (!touches[e.pointerId]) return;
      delete touches[e.pointerId];
      panzoom.setOptions({ step: STEP });
    }
    document.addEventListener("pointerup", lift, true);
    document.addEventListener("pointercancel", lift, true);
    pan.addEventListener("panzoomchange", showZoom);
    function refresh() { layout(); paint(); showZoom(); }
    img.addEventListener("load", refresh);
    // Another image of the case: levels, invert, drag tool and heat-map setting carry over (the
    // reader compares views with the same settings); zoom and rotation start again at fit.
    viewer.addEventListener("viewer:image", function () {
      bind();
      state.rotation = 0;
      refresh();
      panzoom.reset({ animate: false });
      showZoom();
    });
    window.addEventListener("resize", refresh);
    document.addEventListener("fullscreenchange", function () {
      button("fullscreen").textContent = document.fullscreenElement ? "Exit full screen" : "Full screen";
      setTimeout(refresh, 50);
    });

    // Window/level by dragging: up/down brightness, left/right contrast. Runs in the capture phase,
    // before Panzoom's own handler on the stage, so Shift+drag never pans.
    var drag = null;
    stage.addEventListener("pointerdown", function (e) {
      if (!state.levelTool && !e.shiftKey) return;
      if (!state.levelTool) panzoom.setOptions({ disablePan: true });
      drag = { x: e.clientX, y: e.clientY, b: +sliders.brightness.value, c: +sliders.contrast.value, temporary: !state.levelTool };
      stage.setPointerCapture(e.pointerId);
      e.preventDefault();
    }, true);
    stage.addEventListener("pointermove", function (e) {
      if (!drag) return;
      sliders.contrast.value = String(Math.round(clamp(drag.c + (e.clientX - drag.x) * LEVEL_PER_PX, LEVELS.contrast)));
      sliders.brightness.value = String(Math.round(clamp(drag.b - (e.clientY - drag.y) * LEVEL_PER_PX, LEVELS.brightness)));
      paint();
    });
    function endDrag() {
      if (drag && drag.temporary) panzoom.setOptions({ disablePan: false });
      drag = null;
    }
    stage.addEventListener("pointerup", endDrag);
    stage.addEventListener("pointercancel", endDrag);

    var keys = {
      "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "_": "zoom-out", "0": "fit", "1": "actual",
      r: "rotate", R: "rotate", i: "invert", I: "invert", h: "overlay", H: "overlay", w: "tool", W: "tool", f: "fullscreen", F: "fullscreen",
      Escape: "reset",
    };
    var arrows = { ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      if (e.key === "Escape" && document.fullscreenElement) return; // the browser leaves full screen
      if (keys[e.key]) {
        actions[keys[e.key]]();
      } else if (arrows[e.key] && e.target === stage) {
        var scale = panzoom.getScale();
        panzoom.pan(arrows[e.key][0] * KEY_PAN_PX / scale, arrows[e.key][1] * KEY_PAN_PX / scale, { relative: true, force: true });
      } else if (e.key === "b" || e.key === "B") {
        setLevel("brightness", +sliders.brightness.value + (e.shiftKey ? -10 : 10));
      } else if (e.key === "c" || e.key === "C") {
        setLevel("contrast", +sliders.contrast.value + (e.shiftKey ? -10 : 10));
      } else if (e.key === "PageUp" || e.key === "PageDown") {
        var link = document.getElementById(e.key === "PageUp" ? "viewer-previous" : "viewer-next");
        if (link) link.click(); // viewer-nav.js swaps the image in place; without it, the link loads the page
        else return;
      } else {
        return;
      }
      e.preventDefault();
      showZoom();
    });

    bind();
    refresh();
    viewer.classList.add("viewer-ready");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var viewer = document.getElementById("viewer");
    if (viewer && window.Panzoom) setUp(viewer);
  });
})();
