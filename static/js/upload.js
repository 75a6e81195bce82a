// Drag-and-drop upload: each file goes to the API at once and shows its live status.
(function () {
  "use strict";
  var ACCEPTED = /\.(jpe?g|png)$/i;

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

  function upload(form, list, file) {
    var status = item(list, file);
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
    if (!ACCEPTED.test(file.name)) return fail(status, "Only JPG, JPEG or PNG images can be uploaded.");
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
        status.setAttribute("data-poll", p.url);
        status.setAttribute("data-prediction", p.id);
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
    var input = document.getElementById("id_image");
    function send(files) { Array.prototype.forEach.call(files, function (f) { upload(form, list, f); }); }
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
