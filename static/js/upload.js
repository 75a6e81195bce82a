// Drag-and-drop upload: each file goes to the API at once and shows its live status.
(function () {
  "use strict";
  var ACCEPTED = /\.(jpe?g|png)$/i;
  // DICOM files often have no extension at all: the server decides by content.
  var DICOM = /(\.(dcm|dicom)|^[^.]+)$/i;

  function csrfToken(form) {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

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
    status.className = "result result-queued";
    status.textContent = "Uploading…";
    li.append(img, name, status);
    list.prepend(li);
    return status;
  }

  function fail(status, message) {
    status.className = "result result-failed";
    status.textContent = "Rejected";
    var why = document.createElement("span");
    why.className = "error";
    why.textContent = message;
    status.after(why);
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

  function cell(row, content) {
    var td = document.createElement("td");
    if (content !== undefined) td.append(content);
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
    var fileCell = cell(row, name);
    fileCell.append(document.createElement("br"), meta);
    cell(row, when(radiograph.uploaded_at));
    cell(row, badge);
    var threshold = cell(row), model = cell(row), finished = cell(row);
    badge.addEventListener("prediction:update", function (e) {
      var p = e.detail;
      if (p.status !== "succeeded") return;
      threshold.textContent = p.threshold.toFixed(2);
      model.textContent = p.model_version;
      finished.textContent = when(p.finished_at);
    });
    body.prepend(row);
  }

  function upload(form, list, table, file) {
    var status = item(list, file);
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
    if (!ACCEPTED.test(file.name) && !DICOM.test(file.name)) {
      return fail(status, "Only JPG, JPEG, PNG or DICOM images can be uploaded.");
    }
    if (maxBytes && file.size > maxBytes) return fail(status, "The file is larger than the upload limit.");
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
        if (res.r.status !== 202) return fail(status, errorText(res.body, res.r.status));
        var p = res.body.prediction;
        status.closest("li").remove();
        status.setAttribute("data-poll", p.url);
        status.setAttribute("data-prediction", p.id);
        addRow(table, res.body, status);
        window.fractureLive.render(status, { status: p.status });
        window.fractureLive.watch(status);
      })
      .catch(function () { fail(status, "The server could not be reached. Nothing was uploaded."); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("upload-form");
    if (!form) return;
    document.documentElement.classList.add("js");
    var list = document.getElementById("upload-list");
    var table = document.getElementById("radiographs");
    var input = document.getElementById("id_image");
    function send(files) { Array.prototype.forEach.call(files, function (f) { upload(form, list, table, f); }); }
    input.addEventListener("change", function () { send(input.files); input.value = ""; });
    form.addEventListener("submit", function (e) { e.preventDefault(); send(input.files); });
    ["dragenter", "dragover"].forEach(function (t) {
      form.addEventListener(t, function (e) { e.preventDefault(); form.classList.add("dragover"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      form.addEventListener(t, function (e) { e.preventDefault(); form.classList.remove("dragover"); });
    });
    form.addEventListener("drop", function (e) { send(e.dataTransfer.files); });
  });
})();
