/* The import page (templates/transfer/import.html): a dry run of the file (POST …/import?dry_run=true)
 * shows the counts, a map preview, the refused rows with reasons and the column mapping; changing the
 * mapping or the coordinate system checks again; the import sends the same options, and a big file's
 * job is followed (GET /api/v1/imports/<id>) with a progress bar. window.WuweiImport.state: for tests. */
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) { return; }
  var T = JSON.parse(document.getElementById("import-texts").textContent);
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var status = document.getElementById("import-status");
  var result = document.getElementById("import-result");
  var importBtn = document.getElementById("import-btn");
  var state = window.WuweiImport = {report: null, mapping: {}, done: null};
  var map = null, drawn = null;

  function esc(v) {
    return String(v === null || v === undefined ? "" : v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function fmt(t, v) { return String(t).replace(/\{(\w+)\}/g, function (_, k) { return v[k] === undefined ? "" : v[k]; }); }

  function show(html, cls) {
    status.hidden = false;
    status.className = "import-status " + (cls || "");
    status.innerHTML = html;
  }

  form.crs_choice.addEventListener("change", function () {
    form.querySelector("label.epsg").hidden = form.crs_choice.value !== "epsg";
  });

  function crs() {
    var c = form.crs_choice.value;
    return c === "epsg" ? (form.epsg.value ? "EPSG:" + form.epsg.value.trim() : "") : c;
  }

  function send(dry) {
    var file = form.file.files[0];
    if (!file) { form.file.reportValidity(); return Promise.reject(null); }
    var fd = new FormData();
    fd.append("file", file, file.name);
    if (crs()) { fd.append("crs", crs()); }
    if (form.encoding.value) { fd.append("encoding", form.encoding.value); }
    if (Object.keys(state.mapping).length) { fd.append("mapping", JSON.stringify(state.mapping)); }
    var url = form.getAttribute("data-api") + (dry ? "?dry_run=true" : "");
    return fetch(url, {method: "POST", body: fd, credentials: "same-origin",
                       headers: {"X-CSRFToken": CSRF, "Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (b) { return {status: r.status, body: b}; }); });
  }

  function errorText(body) {
    var e = body && body.error;
    return e ? e.message : "";
  }

  function check() {
    show(esc(T.checking));
    result.hidden = true;
    return send(true).then(function (r) {
      if (r.status !== 200) { show(esc(fmt(T.failed, {message: errorText(r.body)})), "error"); return; }
      status.hidden = true;
      render(r.body);
    }).catch(function (e) { if (e) { show(esc(T.network), "error"); } });
  }

  function render(report) {
    state.report = report;
    result.hidden = false;
    var summary = result.querySelector(".summary");
    var parts = ['<span>' + esc(fmt(T.rows, {n: report.rows})) + "</span>",
                 '<span class="ok">' + esc(fmt(T.valid, {n: report.valid})) + "</span>"];
    if (report.refused) { parts.push('<span class="bad">' + esc(fmt(T.refused, {n: report.refused})) + "</span>"); }
    if (report.source_crs) { parts.push("<span>" + esc(fmt(T.crs_found, {crs: report.source_crs})) + "</span>"); }
    if (report.encoding) { parts.push("<span>" + esc(fmt(T.encoding_found, {encoding: report.encoding})) + "</span>"); }
    summary.innerHTML = parts.join("");
    renderMapping(report);
    renderErrors(report);
    renderMap(report);
    importBtn.textContent = fmt(T.import_n, {n: report.valid});
    importBtn.disabled = report.refused > 0 || report.valid === 0;
    result.querySelector(".hint").textContent = report.refused ? T.fix_first : "";
  }

  function renderMapping(report) {
    var body = result.querySelector(".mapping tbody");
    body.innerHTML = "";
    report.columns.forEach(function (c) {
      var tr = document.createElement("tr");
      var options = '<option value="">' + esc(T.ignore) + "</option>" + report.fields.map(function (f) {
        return '<option value="' + esc(f.name) + '"' + (c.field === f.name ? " selected" : "") + ">" +
          esc(f.label) + (f.required ? " *" : "") + "</option>";
      }).join("");
      tr.innerHTML = "<td>" + esc(c.name) + '</td><td class="sample" title="' + esc(c.sample) + '">' + esc(c.sample) +
        '</td><td><select data-column="' + esc(c.name) + '">' + options + "</select></td>";
      body.appendChild(tr);
    });
    Array.prototype.forEach.call(body.querySelectorAll("select"), function (s) {
      s.addEventListener("change", function () {
        state.mapping = {};
        Array.prototype.forEach.call(body.querySelectorAll("select"), function (x) {
          state.mapping[x.getAttribute("data-column")] = x.value;
        });
        check();
      });
    });
  }

  function renderErrors(report) {
    var box = result.querySelector(".errors");
    var body = box.querySelector("tbody");
    body.innerHTML = report.errors.map(function (e) {
      return "<tr><td>" + esc(e.row) + "</td><td>" + esc(e.said || e.message) + "</td></tr>";
    }).join("");
    box.hidden = !report.errors.length;
  }

  function renderMap(report) {
    if (!map) {
      map = L.map("import-map", {attributionControl: false}).setView([36.06, 103.84], 12);
      L.control.scale({imperial: false}).addTo(map);
    }
    if (drawn) { map.removeLayer(drawn); }
    var features = report.preview.features.filter(function (f) { return f.geometry; });
    drawn = L.geoJSON({type: "FeatureCollection", features: features}, {
      style: function (f) {
        var bad = f.properties._error;
        return {color: bad ? "#dc2626" : "#0e7490", weight: 2, fillOpacity: 0.3, dashArray: bad ? "4 3" : null};
      },
      pointToLayer: function (f, ll) {
        var bad = f.properties._error;
        return L.circleMarker(ll, {radius: 6, color: "#fff", weight: 1.5, fillColor: bad ? "#dc2626" : "#0e7490",
                                   fillOpacity: 0.9});
      },
      onEachFeature: function (f, l) {
        l.bindPopup("<strong>" + esc(T.row) + " " + esc(f.properties._row) + "</strong>" +
          (f.properties._error ? '<p class="bad">' + esc(f.properties._error) + "</p>" : "") +
          "<br>" + Object.keys(f.properties).filter(function (k) { return k[0] !== "_"; }).map(function (k) {
            return esc(k) + ": " + esc(f.properties[k]);
          }).join("<br>"));
      }
    }).addTo(map);
    var b = drawn.getBounds();
    if (b.isValid()) {
      map.fitBounds(b, {padding: [20, 20], maxZoom: 17});
      context(b.pad(0.5));
    }
    setTimeout(function () { map.invalidateSize(); }, 0);
  }

  /* The grids around the features, for a sense of place (the page has no base map tiles of its own). */
  var around = null;
  function context(b) {
    var bbox = [Math.max(b.getWest(), -180), Math.max(b.getSouth(), -90), Math.min(b.getEast(), 180),
                Math.min(b.getNorth(), 90)].map(function (v) { return v.toFixed(6); }).join(",");
    fetch(form.getAttribute("data-grids") + "?limit=500&bbox=" + bbox, {credentials: "same-origin",
                                                                      headers: {"Accept": "application/geo+json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) {
        if (!fc) { return; }
        if (around) { map.removeLayer(around); }
        around = L.geoJSON(fc, {style: {color: "#b42318", weight: 1, fillOpacity: 0, dashArray: "3 3"}, interactive: false,
                                onEachFeature: function (f, l) {
                                  l.bindTooltip(esc(f.properties.name), {direction: "center", className: "grid-label"});
                                }}).addTo(map);
        around.bringToBack();
      });
  }

  function finished(report) {
    state.done = report;
    result.querySelector(".progress").hidden = true;
    show(esc(fmt(T.done, {n: report.imported})) + ' <a href="' + esc(form.getAttribute("data-map")) + '">' +
         esc(T.to_map) + '</a> <a href="' + esc(form.getAttribute("data-list")) + '">' + esc(T.to_list) + "</a>", "ok");
    importBtn.disabled = true;
  }

  function follow(job) {
    var bar = result.querySelector(".progress");
    bar.hidden = false;
    var step = function () {
      fetch(job.status_url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (j) {
          var total = j.progress.total || 1, done = j.progress.done || 0;
          bar.querySelector(".bar").style.width = Math.round(100 * done / total) + "%";
          bar.querySelector("span").textContent = (T.phases[j.phase] || "") + " " + done + " / " + total;
          if (j.state === "done") { finished(j.report); }
          else if (j.state === "failed") { bar.hidden = true; show(esc(fmt(T.failed, {message: j.error.message})), "error"); }
          else { setTimeout(step, 1000); }
        });
    };
    show(esc(fmt(T.queued, {done: 0, total: job.progress.total})));
    step();
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); check(); });  // the mapping is kept: a corrected file has the same columns

  importBtn.addEventListener("click", function () {
    importBtn.disabled = true;
    show(esc(T.importing));
    send(false).then(function (r) {
      if (r.status === 201) { finished(r.body); }
      else if (r.status === 202) { follow(r.body); }
      else { show(esc(fmt(T.failed, {message: errorText(r.body)})), "error"); importBtn.disabled = false; }
    }).catch(function () { show(esc(T.network), "error"); importBtn.disabled = false; });
  });
})();
