// Drag-and-drop upload: each file goes to the API at once and shows its live status.
(function () {
  "use strict";
  var ACCEPTED = /\.(jpe?g|png)$/i;
  // DICOM files often have no extension at all: the server decides by content.
  var DICOM = /(\.(dcm|dicom)|^[^.]+)$/i;

  function csrfToken(form) {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  function button(label, text, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "small";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  // One row of the upload list: thumbnail, name, status, and (when it went wrong) why and what to do.
  function item(list, file) {
    var li = document.createElement("li");
    var img = document.createElement("img");
    img.className = "thumb";
    img.alt = "";
    if (ACCEPTED.test(file.name)) img.src = URL.createObjectURL(file);
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    var status = document.createElement("span");
    var why = document.createElement("span");
    why.className = "why";
    var actions = document.createElement("span");
    actions.className = "actions";
    li.append(img, name, status, why, actions);
    list.prepend(li);
    var entry = { li: li, file: file, status: status, why: why, actions: actions };
    sending(entry);
    return entry;
  }

  function sending(entry) {
    entry.li.className = "";
    entry.status.className = "result result-queued";
    entry.status.textContent = "Uploading…";
    entry.why.textContent = "";
    entry.actions.textContent = "";
  }

  // A refused or failed upload stays in the list until dismissed; ``retry`` re-sends the same file.
  function fail(entry, message, retry, extra) {
    entry.li.className = "upload-failed";
    entry.status.className = "result result-failed";
    entry.status.textContent = "Rejected";
    entry.why.className = "why error";
    entry.why.textContent = message;
    entry.actions.textContent = "";
    if (extra) entry.actions.append(extra);
    if (retry) entry.actions.append(button("Retry " + entry.file.name, "Retry", retry));
    entry.actions.append(button("Dismiss " + entry.file.name, "Dismiss", function () { entry.li.remove(); }));
  }

  function duplicate(entry, body, table) {
    var link = document.createElement("a");
    link.textContent = "Open it";
    link.href = table.getAttribute("data-detail-url").replace("/0/", "/" + body.radiograph.id + "/");
    fail(entry, body.detail, null, link);
    entry.li.className = "upload-duplicate";
    entry.status.className = "result result-duplicate";
    entry.status.textContent = "Already in this case";
    entry.why.className = "why";
  }

  function errorText(body, code) {
    if (!body) return "Upload failed (HTTP " + code + ").";
    if (typeof body.detail === "string") return body.detail;
    var parts = [];
    Object.keys(body).forEach(function (k) { parts.push([].concat(body[k]).join(" ")); });
    return parts.join(" ") || "Upload failed (HTTP " + code + ").";
  }

  function when(iso) {
    return new Date(iso).toLocaleString("en-GB", {
      day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
    });
  }

  // ``label`` is what a narrow screen shows before the value (site.css, .stack).
  function cell(row, content, label) {
    var td = document.createElement("td");
    if (content !== undefined) td.append(content);
    if (label) td.setAttribute("data-label", label);
    row.append(td);
    return td;
  }

  // A new row in the case's X-ray table; its result cells fill in when the prediction finishes.
  function addRow(table, radiograph, badge) {
    var body = table.tBodies[0];
    var empty = body.querySelector(".empty-row");
    if (empty) empty.remove();
    var detail = table.getAttribute("data-detail-url").replace("/0/", "/" + radiograph.id + "/");
    var row = document.createElement("tr");
    var link = document.createElement("a");
    link.href = detail;
    var img = document.createElement("img");
    img.className = "thumb";
    img.alt = "X-ray thumbnail";
    img.src = radiograph.image_url + "?thumb=1";
    link.append(img);
    cell(row, link).className = "thumbcell";
    var name = document.createElement("a");
    name.href = detail;
    name.textContent = radiograph.original_filename;
    var meta = document.createElement("small");
    meta.className = "muted";
    meta.textContent = radiograph.width + "×" + radiograph.height + " " + radiograph.format;
    var fileCell = cell(row, name, "File");
    fileCell.className = "lead";
    fileCell.append(document.createElement("br"), meta);
    cell(row, when(radiograph.uploaded_at), "Uploaded");
    cell(row, badge, "AI opinion").className = "ai";
    badge.setAttribute("data-name", radiograph.original_filename);
    var threshold = cell(row, undefined, "Threshold"), model = cell(row, undefined, "Model");
    var finished = cell(row, undefined, "Finished");
    cell(row, "Not read yet", "Clinician's read").className = "muted";
    badge.addEventListener("prediction:update", function (e) {
      var p = e.detail;
      if (p.status !== "succeeded") return;
      threshold.textContent = (p.operating_threshold === undefined ? p.threshold : p.operating_threshold).toFixed(2);
      model.textContent = p.model_version;
      finished.textContent = when(p.finished_at);
    });
    body.prepend(row);
  }

  function upload(form, list, table, file) {
    send(form, table, item(list, file));
  }

  function send(form, table, entry) {
    var file = entry.file;
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
    if (!ACCEPTED.test(file.name) && !DICOM.test(file.name)) {
      return fail(entry, "Only JPG, JPEG, PNG or DICOM images can be uploaded.");
    }
    if (maxBytes && file.size > maxBytes) {
      return fail(entry, form.getAttribute("data-too-large") || "The file is larger than the upload limit.");
    }
    var again = function () { sending(entry); send(form, table, entry); };
    var data = new FormData();
    data.append("image", file);
    fetch(form.getAttribute("data-api"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(form), Accept: "application/json" },
    })
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (body) { return { r: r, body: body }; });
      })
      .then(function (res) {
        if (res.r.status === 409 && res.body && res.body.radiograph) return duplicate(entry, res.body, table);
        if (res.r.status !== 202) return fail(entry, errorText(res.body, res.r.status), again);
        var p = res.body.prediction;
        var status = entry.status;
        entry.li.remove();
        status.setAttribute("data-poll", p.url);
        status.setAttribute("data-prediction", p.id);
        addRow(table, res.body, status);
        window.fractureLive.render(status, { status: p.status });
        window.fractureLive.watch(status);
      })
      .catch(function () { fail(entry, "The server could not be reached. Nothing was uploaded.", again); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("upload-form");
    if (!form) return;
    document.documentElement.classList.add("js");
    var list = document.getElementById("upload-list");
    var table = document.getElementById("radiographs");
    var input = document.getElementById("id_image");
    function sendAll(files) { Array.prototype.forEach.call(files, function (f) { upload(form, list, table, f); }); }
    input.addEventListener("change", function () { sendAll(input.files); input.value = ""; });
    form.addEventListener("submit", function (e) { e.preventDefault(); sendAll(input.files); });
    ["dragenter", "dragover"].forEach(function (t) {
      form.addEventListener(t, function (e) { e.preventDefault(); form.classList.add("dragover"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      form.addEventListener(t, function (e) { e.preventDefault(); form.classList.remove("dragover"); });
    });
    form.addEventListener("drop", function (e) { sendAll(e.dataTransfer.files); });
  });
})();
