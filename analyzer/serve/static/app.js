// Small progressive enhancements; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Copy buttons beside DNs.
  document.querySelectorAll("[data-copy]").forEach(function (el) {
    if (!navigator.clipboard) return;
    var b = document.createElement("button");
    b.type = "button"; b.className = "copy"; b.textContent = "copy";
    b.addEventListener("click", function () { navigator.clipboard.writeText(el.textContent); b.textContent = "copied"; });
    el.after(b);
  });
  // Drag and drop onto the upload area, and upload progress.
  var form = document.getElementById("upload");
  if (!form) return;
  var input = document.getElementById("files");
  var drop = form.querySelector(".drop");
  ["dragenter", "dragover"].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) { input.files = e.dataTransfer.files; });
  form.addEventListener("submit", function (e) {
    if (!window.XMLHttpRequest || !window.FormData) return;
    e.preventDefault();
    var bar = document.getElementById("progress");
    bar.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (p) {
      if (p.lengthComputable) bar.value = Math.round(100 * p.loaded / p.total);
    });
    xhr.addEventListener("load", function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = {error: "unexpected answer"}; }
      if (xhr.status === 202 && answer.url) { window.location = answer.url; return; }
      var p = document.createElement("p");
      p.className = "error"; p.setAttribute("role", "alert"); p.textContent = answer.error || ("upload failed: " + xhr.status);
      form.before(p);
      bar.hidden = true;
    });
    xhr.send(new FormData(form));
  });
});
