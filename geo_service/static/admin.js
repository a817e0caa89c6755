/* The /admin page: upload with review (report + preview), publish/discard, rollback/remove/restore.
   Every text from the server or the upload is put in the page with textContent, never as HTML. */
(function () {
  "use strict";
  var T = JSON.parse(document.getElementById("admin-texts").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var root = document.querySelector('link[href$="/admin/static/admin.css"]').getAttribute("href")
    .replace(/\/admin\/static\/admin\.css$/, "");
  var current = null;  // the staged upload under review
  var map = null, previewLayer = null;
  window.GeoAdmin = { state: { report: null, published: null, error: null } };

  function call(method, path, body) {
    var options = { method: method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body instanceof FormData) { options.body = body; }
    else if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    return fetch(root + path, options).then(function (r) {
      if (r.status === 204) { return {}; }
      return r.json().then(function (data) {
        if (!r.ok) { var e = new Error(data.description || r.statusText); e.data = data; throw e; }
        return data;
      });
    });
  }

  function status(text, isError) {
    var el = document.getElementById("status");
    if (!el) { return; }
    el.textContent = text;
    el.className = isError ? "problem" : "";
  }

  function row(tbody, label, value) {
    var tr = document.createElement("tr");
    var th = document.createElement("th"); th.textContent = label;
    var td = document.createElement("td"); td.textContent = value;
    tr.appendChild(th); tr.appendChild(td); tbody.appendChild(tr);
  }

  function showReport(report, problems) {
    var n = report.normalised, c = report.checks;
    var tbody = document.querySelector("#report-table tbody");
    tbody.textContent = "";
    row(tbody, T.features_read, String(n.features_in));
    row(tbody, T.features_kept, String(n.features_out));
    row(tbody, T.repaired, String(n.repaired));
    row(tbody, T.dropped, String(n.dropped_empty + n.dropped_collapsed));
    row(tbody, T.geometry_types, Object.keys(n.geometry_types).map(function (k) { return n.geometry_types[k] + " " + k; }).join(", "));
    row(tbody, T.crs, n.crs_in + " → " + n.crs_out);
    row(tbody, T.bbox, report.bbox.map(function (v) { return v.toFixed(0); }).join(", "));
    row(tbody, T.outside, c.features_outside_region + " (" + Math.round(c.share_outside_region * 100) + " %)");
    row(tbody, T.fields, report.sourceFields.join(", ") + (Object.keys(n.field_map).length ? " — " +
      Object.keys(n.field_map).map(function (k) { return k + " ← " + n.field_map[k]; }).join(", ") : ""));
    var needs = (c.needs.fields || {});
    row(tbody, T.needs, Object.keys(needs).map(function (k) { return k + ": " + (needs[k].ok ? T.present : T.missing); }).join(", ") || "–");
    var warnings = document.getElementById("report-warnings");
    warnings.textContent = "";
    n.warnings.concat(c.warnings).forEach(function (w) {
      var li = document.createElement("li"); li.textContent = w; warnings.appendChild(li);
    });
    var box = document.getElementById("report-problems");
    box.hidden = !problems;
    box.textContent = problems ? T.problems + ": " + problems : "";
    document.getElementById("report").hidden = false;
    window.GeoAdmin.state.report = report;
  }

  function showPreview(geojson) {
    if (!window.L) { return; }
    if (!map) {
      map = L.map("preview-map", { attributionControl: false });
    }
    if (previewLayer) { map.removeLayer(previewLayer); }
    previewLayer = L.geoJSON(geojson, { style: { color: "#b3261e", weight: 2, fillOpacity: 0.2 } }).addTo(map);
    var bounds = previewLayer.getBounds();
    if (bounds.isValid()) { map.fitBounds(bounds, { maxZoom: 16 }); }
  }

  function setButtons(enabled) {
    document.getElementById("publish").disabled = !enabled;
    document.getElementById("discard").disabled = !enabled;
  }

  var form = document.getElementById("upload-form");
  if (form) {
    var drop = document.getElementById("drop"), input = document.getElementById("file");
    input.addEventListener("change", function () {
      document.getElementById("file-name").textContent = input.files.length ? input.files[0].name : "";
    });
    drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (e) {
      e.preventDefault(); drop.classList.remove("over");
      if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; input.dispatchEvent(new Event("change")); }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      current = null; setButtons(false); status(T.working);
      call("POST", "/layers/uploads", new FormData(form)).then(function (doc) {
        current = doc; showReport(doc.report, null); status(""); setButtons(true);
        return call("GET", "/layers/uploads/" + doc.id + "/preview").then(showPreview);
      }).catch(function (err) {
        window.GeoAdmin.state.error = err.message;
        if (err.data && err.data.report) { showReport(err.data.report, err.message); }
        status(T.error + ": " + err.message, true);
      });
    });
    document.getElementById("publish").addEventListener("click", function () {
      if (!current) { return; }
      setButtons(false); status(T.working);
      call("POST", "/layers/uploads/" + current.id + "/publish").then(function (done) {
        window.GeoAdmin.state.published = done;
        status(T.published + " " + done.version);
        window.location.reload();
      }).catch(function (err) { status(T.error + ": " + err.message, true); });
    });
    document.getElementById("discard").addEventListener("click", function () {
      if (!current) { return; }
      call("DELETE", "/layers/uploads/" + current.id).then(function () {
        current = null; setButtons(false); document.getElementById("report").hidden = true; status(T.discarded);
      }).catch(function (err) { status(T.error + ": " + err.message, true); });
    });
  }

  document.addEventListener("click", function (e) {
    var b = e.target;
    if (!(b instanceof HTMLButtonElement) || !b.dataset.layer) { return; }
    var layer = encodeURIComponent(b.dataset.layer), action = null;
    if (b.classList.contains("rollback")) {
      action = call("POST", "/admin/layers/" + layer + "/rollback", { version: Number(b.dataset.version) });
    } else if (b.classList.contains("remove")) {
      if (!window.confirm(T.confirm_remove)) { return; }
      action = call("DELETE", "/admin/layers/" + layer);
    } else if (b.classList.contains("restore")) {
      action = call("POST", "/admin/layers/" + layer + "/restore");
    }
    if (action) {
      action.then(function () { window.location.reload(); })
        .catch(function (err) { window.alert(T.error + ": " + err.message); });
    }
  });
})();
